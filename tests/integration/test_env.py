"""test_env.py -- HERALD_* variables: one meaning per name, clear errors, no silent failure.

A malformed variable stops the program with its name in the message (exit
2, never a silent start failure); an unknown HERALD_* variable is logged
with the closest real name and ignored; the gateway's old HERALD_BROKER
still works, with a deprecation line, and HERALD_PUBLISH (the name the
broker binds) is read by the gateway too; every variable the broker's and
gateway's configs read is in proto/envcheck.c's list, so none of them is
reported unknown.
"""
import os
import re
import subprocess
import types
import unittest

import harness
from harness import Broker, Gateway, free_port

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


class EnvTest(unittest.TestCase):
    def run_program(self, program, env, *args):
        full = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        full.update(env)
        return subprocess.run([os.path.join(harness.BIN, program)] + list(args), env=full,
                              capture_output=True, text=True, timeout=10)

    def test_malformed_is_named(self):
        out = self.run_program("herald-broker", {"HERALD_HTTP": "0"})
        self.assertEqual(out.returncode, 2)
        self.assertIn("environment variable HERALD_HTTP", out.stderr)
        self.assertIn("'0'", out.stderr)
        out = self.run_program("herald-broker", {"HERALD_HISTORY_EVENTS": "many"})
        self.assertEqual(out.returncode, 2)
        self.assertIn("environment variable HERALD_HISTORY_EVENTS", out.stderr)
        out = self.run_program("herald-gateway", {"HERALD_SECRET": "s", "HERALD_MAX_CONNECTIONS": "-1"})
        self.assertEqual(out.returncode, 2)
        self.assertIn("environment variable HERALD_MAX_CONNECTIONS", out.stderr)

    def test_flag_makes_a_stray_variable_moot(self):
        # scripts/run passes every endpoint as a flag: a stray HERALD_HTTP=0
        # in the caller's environment must not stop the broker
        broker = Broker(env={"HERALD_HTTP": "0"})
        try:
            self.assertTrue(broker.alive())
        finally:
            broker.stop()

    def test_unknown_is_logged_and_ignored(self):
        broker = Broker(env={"HERALD_HISTORY_EVENT": "5", "HERALD_WHATEVER_THIS_IS": "1"})
        try:
            log = broker.output()
            self.assertIn("unknown environment variable HERALD_HISTORY_EVENT ignored "
                          "(did you mean HERALD_HISTORY_EVENTS?)", log)
            self.assertIn("unknown environment variable HERALD_WHATEVER_THIS_IS ignored\n", log)
        finally:
            broker.stop()

    def test_gateway_reads_publish_and_the_old_broker_name(self):
        broker = Broker()
        try:
            for name in ("HERALD_PUBLISH", "HERALD_BROKER"):
                port = free_port()
                argv = [os.path.join(harness.BIN, "herald-gateway"), "--listen", "127.0.0.1:%d" % port,
                        "--control", broker.control]
                gw = harness.Process(argv, env={"HERALD_SECRET": harness.SECRET, name: broker.publish},
                                     name="gateway-env")
                try:
                    gw.http = "http://127.0.0.1:%d" % port
                    Gateway.wait_linked(gw)
                    deprecated = "HERALD_BROKER is deprecated: it is now HERALD_PUBLISH" in gw.output()
                    self.assertEqual(deprecated, name == "HERALD_BROKER", gw.output())
                finally:
                    gw.stop()
        finally:
            broker.stop()

    def test_every_config_variable_is_known(self):
        known = set(re.findall(r'"(HERALD_[A-Z0-9_]+)"', read("proto/envcheck.c")))
        broker_flags = re.findall(r'\{ "([a-z-]+)",\s+S_[A-Z]+', read("broker/config.c"))
        self.assertGreater(len(broker_flags), 20)
        names = {"HERALD_" + f.upper().replace("-", "_") for f in broker_flags}
        gateway = read("gateway/config.c")
        table = gateway[gateway.index("s_env_names[OPT_COUNT]"):]
        names |= set(re.findall(r'"(HERALD_[A-Z0-9_]+)"', table[:table.index("};")]))
        self.assertGreater(len(names), 40)
        self.assertEqual(names - known, set())


if __name__ == "__main__":
    unittest.main()
