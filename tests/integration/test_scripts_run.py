"""test_scripts_run.py -- scripts/run's arguments and its refusal of a taken port.

--help prints the options and exits 0; a bad --gateways exits 2; with a
port of its range already listening, scripts/run exits 1 at once, before
setup and build, naming the port and what it was for, and touches no logs.
(Starting a whole run is what the README's steps and test_e2e_shell do by
hand; this checks what must never happen: two runs sharing ports.)
"""
import os
import socket
import subprocess
import unittest

from harness import free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = os.path.join(ROOT, "scripts", "run")


def run(*args):
    return subprocess.run([RUN] + list(args), cwd=ROOT, capture_output=True, text=True, timeout=60)


class ScriptsRunTest(unittest.TestCase):
    def test_help(self):
        out = run("--help")
        self.assertEqual(out.returncode, 0, out.stderr)
        for text in ("--gateways N", "--base-port P", "build/logs/<UTC time>/"):
            self.assertIn(text, out.stdout)

    def test_bad_arguments(self):
        self.assertEqual(run("--gateways", "0").returncode, 2)
        self.assertEqual(run("--gateways", "x").returncode, 2)
        self.assertEqual(run("--base-port", "80").returncode, 2)
        self.assertEqual(run("--bogus").returncode, 2)

    def test_refuses_a_taken_port(self):
        # a base whose control port (base+3) someone already listens on
        while True:
            base = free_port()
            if base + 90 < 32768:
                break
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", base + 3))
            except OSError:
                self.skipTest("port %d taken meanwhile" % (base + 3))
            s.listen()
            out = run("--base-port", str(base), "--gateways", "1")
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("port %d (broker control) is already in use" % (base + 3), out.stderr)
        self.assertIn("--base-port", out.stderr)
        self.assertNotIn("setup:", out.stdout)     # refused before setup and build


if __name__ == "__main__":
    unittest.main()
