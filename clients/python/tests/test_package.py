"""test_package.py -- clients/python builds into a wheel that installs and imports on its own (no PyPI needed).

The source is copied to a scratch folder (a build writes build/ and
*.egg-info beside it), built with Debian's pip and setuptools
(--no-build-isolation --no-index: nothing is fetched), installed into
another scratch folder, and imported from there alone.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from support import HERE

SOURCE = os.path.normpath(os.path.join(HERE, ".."))


class Package(unittest.TestCase):
    def test_wheel_installs_and_imports(self):
        scratch = tempfile.mkdtemp(prefix="herald-py-pkg-")
        try:
            src = os.path.join(scratch, "src")
            shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "build",
                                                                     "*.egg-info"))
            wheels = os.path.join(scratch, "wheels")
            pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"]
            built = subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "--no-index",
                                          "-w", wheels, src], capture_output=True, text=True, timeout=120)
            self.assertEqual(built.returncode, 0, built.stdout + built.stderr)
            (wheel,) = os.listdir(wheels)
            self.assertTrue(wheel.startswith("herald_producer-"), wheel)
            target = os.path.join(scratch, "site")
            installed = subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", target,
                                              os.path.join(wheels, wheel)],
                                       capture_output=True, text=True, timeout=120)
            self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
            env = dict(os.environ, PYTHONPATH=target)
            probe = subprocess.run([sys.executable, "-c",
                                    "import herald, herald.testing; print(herald.__version__); "
                                    "print(herald.__file__); print(herald.Herald(secret='s', env={}).token('u'))"],
                                   capture_output=True, text=True, env=env, timeout=60, cwd=scratch)
            self.assertEqual(probe.returncode, 0, probe.stderr)
            version, path, token = probe.stdout.split()
            with open(os.path.join(SOURCE, "pyproject.toml")) as f:
                declared = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
            self.assertEqual(version, declared, "herald.__version__ is the packaged version")
            self.assertTrue(path.startswith(target), "imported from the installed copy: " + path)
            self.assertEqual(token.count("."), 2)
        finally:
            shutil.rmtree(scratch)


if __name__ == "__main__":
    unittest.main()
