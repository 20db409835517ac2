"""test_curve.py -- with curve_cert/curve_server the client is a CURVE client of a broker run with --curve-allow."""
import os
import shutil
import subprocess
import tempfile
import unittest

from support import SECRET, Stack, WsClient, fresh_user, harness, herald


class Curve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="herald-py-curve-")
        allow = os.path.join(cls.dir, "allow")
        os.mkdir(allow)
        cls.certs = {name: harness.keygen(cls.dir, name, role)
                     for name, role in (("broker", None), ("gw", "gateway"), ("django", "producer"),
                                        ("stranger", "producer"))}
        for name in ("gw", "django"):
            shutil.copy(cls.certs[name], allow)
        try:
            cls.stack = Stack({"curve_cert": cls.certs["broker"], "curve_allow": allow},
                              {"curve_cert": cls.certs["gw"], "curve_server": cls.certs["broker"]})
        except Exception:
            shutil.rmtree(cls.dir)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        shutil.rmtree(cls.dir)

    def client(self, cert, **settings):
        return self.stack.client(curve_cert=self.certs[cert], curve_server=self.certs["broker"],
                                 **settings)

    def test_notify_and_presence_with_the_producer_key(self):
        h = self.client("django")
        try:
            user = fresh_user("curve")
            ws = WsClient(self.stack.gateway.url, h.token(user, ttl=300))
            try:
                self.assertEqual(ws.welcome()["user"], user, "the CURVE gateway welcomed the client")
                harness.wait_until(lambda: h.online(user), what="presence over CURVE")
                self.assertTrue(h.notify(user, "bid", {"amount": 7}))
                self.assertEqual(ws.events(1)[0]["data"], {"amount": 7},
                                 "the event went through ingest with the producer's key")
                self.assertIn("offset", h.notify(user, "bid", None, confirm=True),
                              "a producer key may publish on control")
            finally:
                ws.close()
        finally:
            h.close(1)

    def test_unknown_key_gets_no_answer(self):
        h = self.client("stranger", control_timeout_ms=300)
        try:
            with self.assertRaises(herald.Timeout, msg="the broker does not answer a key it does not allow"):
                h.online("anyone")
        finally:
            h.close(0)

    def test_producer_may_not_resume(self):
        h = self.client("django")
        try:
            with self.assertRaises(herald.ControlError) as caught:
                h.control_request({"op": "resume", "user": "x"})
            self.assertEqual(caught.exception.reply, {"error": "forbidden"}, "resume is for gateways")
        finally:
            h.close(0)

    def test_keys_are_read_as_czmq_writes_them(self):
        keys = herald.curve.load(self.certs["django"], self.certs["broker"])
        again = os.path.join(self.dir, "again")
        printed = subprocess.run([os.path.join(harness.BIN, "herald-keygen"), again, "--role", "producer"],
                                 capture_output=True, text=True, check=True).stdout
        mine = herald.curve.load(again + ".cert_secret", self.certs["broker"])
        self.assertIn(mine.public_key.decode(), printed, "the parsed public key is the one printed")
        self.assertEqual(len(keys.secret_key), 40, "the secret key comes from django.cert_secret")
        self.assertNotEqual(keys.public_key, keys.server_key)

    def test_bad_settings_fail_at_start(self):
        with self.assertRaises(herald.ConfigError, msg="curve_cert without curve_server"):
            herald.Herald(env={}, curve_cert=self.certs["django"])
        pub_only = os.path.join(self.dir, "pubonly.cert")
        shutil.copy(self.certs["django"], pub_only)
        with self.assertRaises(herald.ConfigError) as caught:
            herald.Herald(env={}, curve_cert=pub_only, curve_server=self.certs["broker"])
        self.assertIn("no secret key", str(caught.exception))
        with self.assertRaises(herald.ConfigError) as caught:
            herald.Herald(env={}, curve_cert="/nonexistent.cert", curve_server=self.certs["broker"])
        self.assertIn("/nonexistent.cert", str(caught.exception), "the missing file is named")
        env = {"HERALD_CURVE_CERT": self.certs["django"], "HERALD_CURVE_SERVER": self.certs["broker"],
               "HERALD_SECRET": SECRET}
        self.assertIsNotNone(herald.Herald(env=env).config.curve_keys, "HERALD_CURVE_* are read")


if __name__ == "__main__":
    unittest.main()
