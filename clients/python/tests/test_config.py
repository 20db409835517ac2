"""test_config.py -- settings come from HERALD_* variables as the gem reads them; keyword arguments win; bad values fail at start."""
import unittest

from support import herald
from herald.config import Config


class ConfigTest(unittest.TestCase):
    def test_environment_sets_the_defaults(self):
        cfg = Config(env={"HERALD_INGEST": "tcp://10.1.1.1:1", "HERALD_CONTROL": "tcp://10.1.1.1:2",
                          "HERALD_SECRET": "s", "HERALD_ON_FULL": "drop", "HERALD_SEND_HWM": "5",
                          "HERALD_CONTROL_TIMEOUT_MS": "250", "HERALD_LINGER_MS": "0",
                          "HERALD_MAX_EVENT_BYTES": "1024"})
        self.assertEqual((cfg.ingest, cfg.control, cfg.secret, cfg.on_full, cfg.send_hwm,
                          cfg.control_timeout_ms, cfg.linger_ms, cfg.max_event_bytes),
                         ("tcp://10.1.1.1:1", "tcp://10.1.1.1:2", "s", "drop", 5, 250, 0, 1024))
        cfg = Config(env={})
        self.assertEqual((cfg.ingest, cfg.control, cfg.send_hwm, cfg.on_full, cfg.control_tries),
                         ("tcp://127.0.0.1:7401", "tcp://127.0.0.1:7403", 10000, "raise", 1),
                         "the documented defaults (DESIGN.md's endpoints)")

    def test_keywords_win_and_empty_variables_are_unset(self):
        cfg = Config(env={"HERALD_INGEST": "tcp://a:1", "HERALD_SEND_HWM": ""}, ingest="tcp://b:2")
        self.assertEqual((cfg.ingest, cfg.send_hwm), ("tcp://b:2", 10000))

    def test_pairs(self):
        cfg = Config(env={"HERALD_CONTROL": "tcp://a:1, tcp://b:1"}, ingest="tcp://a:2,tcp://b:2")
        self.assertEqual(cfg.control_endpoints, ["tcp://a:1", "tcp://b:1"])
        self.assertEqual(cfg.ingest_endpoints, ["tcp://a:2", "tcp://b:2"])
        self.assertEqual(cfg.control_tries, 8, "a pair retries on the other broker")
        for bad in ("a,b,c", "tcp://a:1,", "", "127.0.0.1:7401", "tcp://a b:1"):
            with self.assertRaises(herald.ConfigError, msg=repr(bad)):
                Config(env={}, control=bad) if bad else Config(env={"HERALD_CONTROL": ","})

    def test_bad_values_name_the_variable(self):
        for env, name in (({"HERALD_SEND_HWM": "lots"}, "HERALD_SEND_HWM"),
                          ({"HERALD_SEND_HWM": "0"}, "HERALD_SEND_HWM"),
                          ({"HERALD_ON_FULL": "explode"}, "on_full"),
                          ({"HERALD_CONTROL_TIMEOUT_MS": "-1"}, "HERALD_CONTROL_TIMEOUT_MS"),
                          ({"HERALD_CURVE_CERT": "/x.cert"}, "curve_server"),
                          ({"HERALD_SECRET_FILE": "/nonexistent/secret"}, "/nonexistent/secret")):
            with self.assertRaises(herald.ConfigError) as caught:
                Config(env=env)
            self.assertIn(name, str(caught.exception))
        with self.assertRaises(TypeError):
            herald.Herald(env={}, sendhwm=5)

    def test_module_level_client(self):
        herald.reset()
        try:
            first = herald.client()
            self.assertIs(herald.client(), first, "one client per process until configure")
            new = herald.configure(secret="s2", env={})
            self.assertIsNot(new, first)
            self.assertEqual(herald.token("carol").count("."), 2)
        finally:
            herald.reset()


if __name__ == "__main__":
    unittest.main()
