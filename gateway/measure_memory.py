#!/usr/bin/python3
"""measure_memory.py -- herald-gateway RSS per idle authenticated connection.

Usage: /usr/bin/python3 gateway/measure_memory.py [N] [BIN_DIR]
Starts a broker and a gateway from BIN_DIR (default build/bin), opens N
(default 2000) authenticated WebSocket connections, one user each, and prints
(RSS after - RSS before) / N. Needs `ulimit -n` above N + 100.
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
harness.BIN = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin")


async def main():
    broker = harness.Broker()
    gateway = harness.Gateway(broker, max_connections=N + 100)
    try:
        # one connection first, so one-time allocations land in the baseline
        ws, _ = await harness.ws_connect(gateway.url, harness.make_token("warm-up"))
        await ws.close()
        harness.wait_until(lambda: harness.metric(gateway.metrics(), "herald_gateway_connections") == 0)
        before = gateway.rss_bytes() // 1024
        conns = []
        for start in range(0, N, 100):
            batch = await asyncio.gather(*[harness.ws_connect(gateway.url, harness.make_token("user-%d" % i))
                                           for i in range(start, min(N, start + 100))])
            conns += [ws for ws, _ in batch]
        harness.wait_until(lambda: harness.metric(gateway.metrics(), "herald_gateway_users") == N)
        after = gateway.rss_bytes() // 1024
        print("%d connections: RSS %d KiB -> %d KiB, %.0f bytes per connection"
              % (N, before, after, (after - before) * 1024.0 / N))
        for ws in conns:
            await ws.close()
    finally:
        gateway.stop()
        broker.stop()


asyncio.run(main())
