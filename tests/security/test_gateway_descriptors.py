"""test_gateway_descriptors.py -- descriptor exhaustion: a gateway started
with a low descriptor limit (prlimit --nofile) and flooded with connections
keeps its CPU and its log bounded (no accept loop, at most a rate-limited
line per refusal), keeps descriptors in reserve (refusals counted), and
serves a legitimate client again once the flood is gone, with flat memory."""
import os
import socket
import time
import unittest

from harness import (BIN, SECRET, Broker, Process, free_port, http_get, make_token, metric,
                     wait_until)
from wsraw import RawWS

LIMIT = 128          # RLIMIT_NOFILE of the gateway
FLOOD = 400          # connections opened and held
WINDOW = 2.0         # seconds of flood measured
LINES_PER_SECOND = 21  # the gateway's budget (20) plus its summary line


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class GatewayDescriptors(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.port = free_port()
        self.metrics_port = free_port()
        argv = ["prlimit", "--nofile=%d:%d" % (LIMIT, LIMIT),
                os.path.join(BIN, "herald-gateway"), "--listen", "127.0.0.1:%d" % self.port,
                "--metrics", "127.0.0.1:%d" % self.metrics_port,
                "--broker", self.broker.publish, "--control", self.broker.control]
        self.gateway = Process(argv, env={"HERALD_SECRET": SECRET}, name="gateway-nofile")
        self.metrics_url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        wait_until(lambda: not self.gateway.alive()
                   or http_get("http://127.0.0.1:%d/healthz" % self.metrics_port)[0] == 200,
                   what="gateway up")
        self.assertTrue(self.gateway.alive(), self.gateway.output())
        self.flood = []

    def tearDown(self):
        for s in self.flood:
            s.close()
        self.gateway.stop()
        self.broker.stop()

    def log_lines(self):
        return self.gateway.output().count("\n")

    def welcome(self):
        try:
            ws = RawWS(self.port, timeout=2)
            if ws.status != 101:
                ws.close()
                return None
            w = ws.auth(make_token("after"))
            ws.close()
            return w
        except (OSError, EOFError, AssertionError):
            return None

    def test_flood_at_the_descriptor_limit(self):
        self.assertTrue(self.welcome(), "served before the flood")
        rss_before = self.gateway.rss_bytes()
        for _ in range(FLOOD):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.flood.append(s)
        # the gateway reached its reserve: it says so (rate-limited)
        wait_until(lambda: "pausing accepts" in self.gateway.output(), timeout=20,
                   what="the gateway to reach its descriptor reserve")
        lines0, cpu0, t0 = self.log_lines(), cpu_seconds(self.gateway.proc.pid), time.monotonic()
        while time.monotonic() - t0 < WINDOW:      # the measurement window
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        lines = self.log_lines() - lines0
        cpu = cpu_seconds(self.gateway.proc.pid) - cpu0
        print("flood: %d log lines and %.2f s CPU in %.1f s" % (lines, cpu, elapsed))
        self.assertLessEqual(lines, LINES_PER_SECOND * (elapsed + 1))
        self.assertLess(cpu, 0.5 * elapsed, "the gateway spins at its descriptor limit")
        self.assertTrue(self.gateway.alive())
        for s in self.flood:
            s.close()
        self.flood = []
        wait_until(self.welcome, timeout=30, interval=0.2, what="a welcome after the flood")
        text = http_get(self.metrics_url)[1]
        self.assertGreater((metric(text, "herald_gateway_accept_errors_total") or 0)
                           + float(text.decode().split('herald_gateway_refused_total{reason="descriptors"} ')[1].split()[0]),
                           0, "the refusals are counted")
        grown = self.gateway.rss_bytes() - rss_before
        self.assertLess(grown, 8 << 20, "gateway RSS grew %d bytes" % grown)


if __name__ == "__main__":
    unittest.main()
