"""smoke.py -- bench.smoke: the bench tools still work against real Herald.

Starts a broker and a gateway on free loopback ports, opens 50 herald clients
with herald-bench-loadgen, pushes 500 events (10 per user) with
herald-bench-producer over ZeroMQ, and checks that every client connected and
every event arrived, each carrying its timestamp. No timing is asserted.
"""
import json
import os
import select
import subprocess
import sys
import time
import unittest

import harness

CLIENTS = 50
EVENTS = 500


def read_json_line(proc, kind, timeout):
    """The next JSON line of the given kind on proc's stdout, within timeout."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            doc = json.loads(line)
            if doc.get("kind") == kind:
                return doc
    raise AssertionError("no %s line from %s within %.0fs" % (kind, proc.args[0], timeout))


class BenchSmoke(unittest.TestCase):
    def test_every_event_arrives(self):
        broker = harness.Broker()
        gateway = None
        loadgen = None
        try:
            gateway = harness.Gateway(broker)
            loadgen = subprocess.Popen(
                [os.path.join(harness.BIN, "herald-bench-loadgen"), "--mode", "herald",
                 "--target", "127.0.0.1:%d" % gateway.port, "--clients", str(CLIENTS),
                 "--secret", harness.SECRET, "--expect", str(EVENTS),
                 "--connect-timeout", "20", "--max-time", "60", "--label", "smoke"],
                stdout=subprocess.PIPE)
            ready = read_json_line(loadgen, "ready", 30)
            # Proves the load generator's handshake, JWT and welcome parsing work.
            self.assertEqual(ready["connected"], CLIENTS, ready)
            self.assertEqual(ready["failed"], 0, ready)
            out = subprocess.run(
                [os.path.join(harness.BIN, "herald-bench-producer"), "--mode", "zmq",
                 "--target", broker.ingest, "--users", str(CLIENTS), "--seq",
                 "--count", str(EVENTS)],
                stdout=subprocess.PIPE, timeout=60, check=True)
            sent = json.loads(out.stdout)
            # Proves the producer's msgpack envelopes were all handed to ZeroMQ.
            self.assertEqual(sent["events"], EVENTS, sent)
            result = read_json_line(loadgen, "result", 70)
            # Proves every event reached its user through broker and gateway,
            # with the producer's timestamp the latency figures rely on.
            self.assertEqual(result["events"], EVENTS, result)
            self.assertEqual(result["ts_missing"], 0, result)
            self.assertEqual(result["closed"], 0, result)
        finally:
            if loadgen and loadgen.poll() is None:
                loadgen.terminate()
                loadgen.wait(10)
            if gateway:
                gateway.stop()
            broker.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
