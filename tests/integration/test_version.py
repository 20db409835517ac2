"""test_version.py -- every program reports one version: --version and herald_build_info.

The version comes from CMakeLists.txt's project(VERSION); each of the five
programs prints "NAME VERSION" (and the git revision in parentheses when
built from a checkout) and exits 0, and both /metrics carry
herald_build_info{version=...,revision=...} 1 with the same values.
"""
import os
import re
import subprocess
import unittest

import harness

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PROGRAMS = ("herald-broker", "herald-gateway", "herald-push", "herald-token", "herald-keygen")


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(herald VERSION (\S+)", f.read()).group(1)


def version_line(program):
    out = subprocess.run([os.path.join(harness.BIN, program), "--version"],
                         capture_output=True, timeout=10, text=True)
    return out.returncode, out.stdout, out.stderr


class VersionTest(unittest.TestCase):
    def test_every_program_prints_its_version(self):
        version = project_version()
        revisions = set()
        for program in PROGRAMS:
            rc, out, err = version_line(program)
            self.assertEqual(rc, 0, "%s --version: %s" % (program, err))
            m = re.fullmatch(r"(\S+) (\S+)(?: \((\S+)\))?\n", out)
            self.assertIsNotNone(m, "%s --version printed %r" % (program, out))
            self.assertEqual(m.group(1), program)
            self.assertEqual(m.group(2), version)
            revisions.add(m.group(3))
        self.assertEqual(len(revisions), 1, "programs disagree on the revision: %s" % revisions)

    def test_build_info_metric(self):
        _, out, _ = version_line("herald-broker")
        m = re.fullmatch(r"\S+ (\S+)(?: \((\S+)\))?\n", out)
        sample = 'herald_build_info{version="%s",revision="%s"}' % (m.group(1), m.group(2) or "")
        broker, (gateway,) = harness.start_broker_and_gateways(1)
        try:
            for name, text in (("broker", broker.metrics()), ("gateway", gateway.metrics())):
                self.assertEqual(harness.metric(text, sample, exact=True), 1.0,
                                 "%s /metrics lacks %s" % (name, sample))
                self.assertIn(b"# TYPE herald_build_info gauge", text)
        finally:
            gateway.stop()
            broker.stop()


if __name__ == "__main__":
    unittest.main()
