"""test_logs.py -- every log line has an RFC 3339 UTC time, a level and the process.

A broker and a gateway run with --log-format json (the gateway through
HERALD_LOG_FORMAT): each line they write parses as one JSON object with
time, level, process, pid and msg, and the lines an operator needs are
there (startup, shutdown). --log-level warn drops the info lines; the text
format carries the same fields in order.
"""
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
            gateway.stop()
            broker.stop()
            b = json_lines(broker.output(), "herald-broker")
            g = json_lines(gateway.output(), "herald-gateway")
            self.assertTrue(any(r["msg"].startswith("epoch ") for r in b), b)
            self.assertTrue(any(r["msg"] == "stopping" for r in b), b)
            self.assertTrue(any(r["msg"].startswith("listening on ws://") for r in g), g)
            self.assertTrue(any("closing connections" in r["msg"] for r in g), g)
        finally:
            if gateway:
                gateway.stop()
            broker.stop()

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
