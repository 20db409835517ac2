"""test_curve_e2e.py -- with CURVE on every broker socket, the right keys still
work end to end: a gateway with its certificate welcomes and delivers to a
browser client, herald-push with a producer certificate publishes, and
herald-push with a key the broker does not know gets nothing through."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import (BIN, Broker, Gateway, keygen, make_token, metric, run_async,
                     ws_connect, ws_recv_events)


@run_async
class CurveEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="herald-curve-")
        allow = os.path.join(cls.dir, "allow")
        os.mkdir(allow)
        cls.server = keygen(cls.dir, "broker")
        cls.gw = keygen(cls.dir, "gw", "gateway")
        cls.prod = keygen(cls.dir, "prod", "producer")
        cls.stranger = keygen(cls.dir, "stranger", "producer")
        for c in (cls.gw, cls.prod):
            shutil.copy(c, allow)
        cls.broker = Broker(curve_cert=cls.server, curve_allow=allow)
        try:
            cls.gateway = Gateway(cls.broker, curve_cert=cls.gw, curve_server=cls.server)
        except Exception:
            cls.broker.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def push(self, cert, user, event, timeout=5):
        return subprocess.run(
            [os.path.join(BIN, "herald-push"), "--ingest", self.broker.ingest,
             "--curve-cert", cert, "--curve-server", self.server,
             "--to", user, "--event", event, "--timeout", str(timeout)],
            capture_output=True, text=True, timeout=30)

    async def test_gateway_and_push_with_their_keys(self):
        """Welcome (sync over the CURVE XSUB, resume over the CURVE DEALER),
        then an event pushed by herald-push with the producer's key."""
        ws, welcome = await ws_connect(self.gateway.url, make_token("carol"))
        self.sockets.append(ws)
        self.assertEqual(welcome["user"], "carol")
        r = self.push(self.prod, "carol", "bid")
        self.assertEqual(r.returncode, 0, r.stderr)
        events = await ws_recv_events(ws, 1)
        self.assertEqual(events[0]["event"], "bid")

    async def test_push_with_unknown_key_is_refused(self):
        """herald-push with a key not in --curve-allow cannot hand its event to
        the broker: exit 1 after its timeout, nothing accepted, refusal counted."""
        accepted = metric(self.broker.metrics(), "herald_broker_events_accepted_total")
        r = self.push(self.stranger, "carol", "forged", timeout=2)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no broker reachable", r.stderr)
        self.assertIn("refuses the key", r.stderr, "the hint names the CURVE cause")
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_events_accepted_total"),
                         accepted)
        text = self.broker.metrics().decode()
        self.assertRegex(text, r'herald_broker_auth_refused_total\{socket="ingest",'
                               r'reason="unknown_key"\} [1-9]')

    async def test_push_takes_curve_from_the_environment(self):
        """HERALD_CURVE_CERT / HERALD_CURVE_SERVER work as the flags do."""
        ws, _ = await ws_connect(self.gateway.url, make_token("dave"))
        self.sockets.append(ws)
        env = dict(os.environ, HERALD_CURVE_CERT=self.prod, HERALD_CURVE_SERVER=self.server,
                   HERALD_INGEST=self.broker.ingest)
        r = subprocess.run([os.path.join(BIN, "herald-push"), "--to", "dave", "--event", "env"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((await ws_recv_events(ws, 1))[0]["event"], "env")

    async def test_push_without_curve_is_refused(self):
        accepted = metric(self.broker.metrics(), "herald_broker_events_accepted_total")
        r = subprocess.run([os.path.join(BIN, "herald-push"), "--ingest", self.broker.ingest,
                            "--to", "carol", "--event", "plain", "--timeout", "1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_events_accepted_total"),
                         accepted)

    async def test_flags_must_pair(self):
        r = subprocess.run([os.path.join(BIN, "herald-push"), "--curve-cert", self.prod,
                            "--to", "a", "--event", "e"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("go together", r.stderr)
        r = subprocess.run([os.path.join(BIN, "herald-gateway"), "--curve-cert", self.gw],
                           capture_output=True, text=True, env={"HERALD_SECRET": "x"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("go together", r.stderr)


if __name__ == "__main__":
    unittest.main()
