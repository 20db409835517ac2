"""bench_client.py -- rough costs of the Python client against a real broker (not a test; see README, Performance).

Usage: HERALD_BIN=build/bin /usr/bin/python3 clients/python/tests/bench_client.py
"""
import os
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import sys, time
sys.path[:0] = [os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "clients", "python", "src")]
import harness, herald
b = harness.Broker()
try:
    h = herald.Herald(ingest=b.ingest, control=b.control, send_hwm=200000, send_queue_bytes=64 << 20)
    N = 100000
    t0 = time.monotonic()
    for i in range(N):
        h.notify("bench-user", "bid", {"amount": i, "vendor": "v7"}, ttl=0)
    t1 = time.monotonic()
    harness.wait_until(lambda: harness.metric(b.metrics(), "herald_broker_events_accepted_total") >= N, timeout=120, interval=0.05)
    t2 = time.monotonic()
    print("notify x%d: %.2f s in notify (%.1f us each), all accepted after %.2f s (%.0f/s)" % (N, t1-t0, (t1-t0)/N*1e6, t2-t0, N/(t2-t0)))
    t0 = time.monotonic()
    for i in range(2000):
        h.online("bench-user")
    t1 = time.monotonic()
    print("online x2000: %.1f us each" % ((t1-t0)/2000*1e6))
    t0 = time.monotonic()
    for i in range(1000):
        h.notify("bench-user", "bid", i, confirm=True, ttl=0)
    t1 = time.monotonic()
    print("confirm x1000: %.0f us each" % ((t1-t0)/1000*1e6))
    h.close()
finally:
    b.stop()
