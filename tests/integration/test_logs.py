"""test_logs.py -- every log line has an RFC 3339 UTC time, a level and the process.

A broker and a gateway run with --log-format json (the gateway through
HERALD_LOG_FORMAT): each line they write parses as one JSON object with
time, level, process, pid and msg, and the lines an operator needs are
there: startup, the broker link coming up, failed authentications (summed
up, not one line each), shutdown with what was open. --log-level warn drops
the info lines; the text format carries the same fields in order.
"""
import asyncio
import json
import os
import re
import unittest

import harness

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LEVELS = {"debug", "info", "warn", "error"}


def json_lines(text, process):
    """Every non-empty line as a dict, checked for the common fields."""
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)          # raises on a line that is not JSON
        assert RFC3339.fullmatch(rec["time"]), line
        assert rec["level"] in LEVELS, line
        assert rec["process"] == process, line
        assert isinstance(rec["pid"], int), line
        assert isinstance(rec["msg"], str), line
        records.append(rec)
    return records


class LogFormatTest(unittest.TestCase):
    def test_json_lines(self):
        broker = harness.Broker(log_format="json")
        gateway = None
        try:
            gateway = harness.Gateway(broker, env={"HERALD_LOG_FORMAT": "json"})
            gateway.wait_linked()
            asyncio.run(self.fail_auth(gateway, 30))
            harness.wait_until(lambda: "failed authentications" in gateway.output(),
                               what="the failed-auth summary")
            gateway.stop()
            broker.stop()
            b = json_lines(broker.output(), "herald-broker")
            g = json_lines(gateway.output(), "herald-gateway")
            self.assertTrue(any(r["msg"].startswith("epoch ") for r in b), b)
            self.assertTrue(any(re.match(r"stopping \(exit 0\): \d+ users online", r["msg"])
                                for r in b), b)
            self.assertTrue(any(r["msg"].startswith("listening on ws://") for r in g), g)
            self.assertTrue(any(r["msg"].startswith("broker link up") for r in g), g)
            self.assertTrue(any(re.match(r"signal 15: closing \d+ connections of \d+ users", r["msg"])
                                for r in g), g)
            # 30 failures, a line or two (rate-limited), all counted
            auth = [r for r in g if "failed authentications" in r["msg"]]
            self.assertTrue(1 <= len(auth) <= 2, auth)
            self.assertEqual(auth[0]["level"], "warn")
            told = sum(int(re.search(r"bad_token (\d+)", r["msg"]).group(1)) for r in auth)
            self.assertEqual(told, 30, auth)
        finally:
            if gateway:
                gateway.stop()
            broker.stop()

    async def fail_auth(self, gateway, count):
        import websockets
        for _ in range(count):
            async with websockets.connect(gateway.url) as ws:
                await ws.send('{"type":"auth","token":"not.a.token"}')
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except websockets.ConnectionClosed:
                    pass

    def test_level_and_text(self):
        broker = harness.Broker(log_level="warn")
        broker.stop()
        self.assertNotIn(" info ", broker.output())
        broker = harness.Broker()
        broker.stop()
        line = broker.output().splitlines()[0]
        m = re.fullmatch(r"(\S+) (\w+) herald-broker\[(\d+)\]: (.*)", line)
        self.assertIsNotNone(m, line)
        self.assertTrue(RFC3339.fullmatch(m.group(1)), line)
        self.assertEqual(m.group(2), "info")

    def test_bad_values_are_named(self):
        import subprocess
        out = subprocess.run([os.path.join(harness.BIN, "herald-broker"), "--log-format", "yaml"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--log-format", out.stderr)
        out = subprocess.run([os.path.join(harness.BIN, "herald-gateway")],
                             env=dict(os.environ, HERALD_LOG_LEVEL="loud", HERALD_SECRET="s"),
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("HERALD_LOG_LEVEL", out.stderr)


if __name__ == "__main__":
    unittest.main()
