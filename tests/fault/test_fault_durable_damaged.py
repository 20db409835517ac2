"""test_fault_durable_damaged.py -- a damaged, foreign or busy --data-dir never crashes the broker or serves wrong history.

- data.mdb cut to half its size, or overwritten with garbage: the broker
  logs why, moves the file aside (data.mdb.damaged-<time>), starts a new
  epoch and serves no event from the old one (a resume with the old epoch
  answers recovered:false with no events);
- a directory holding another program's LMDB database, or one a running
  broker holds: the broker refuses with exit code 2 and says why, and the
  files are left as they were.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, Broker, Control, Process, Producer, free_port, metric, wait_until


def broker_argv(data_dir):
    ports = [free_port() for _ in range(5)]
    return [os.path.join(BIN, "herald-broker"),
            "--ingest", "tcp://127.0.0.1:%d" % ports[0], "--publish", "tcp://127.0.0.1:%d" % ports[1],
            "--control", "tcp://127.0.0.1:%d" % ports[2], "--undelivered", "tcp://127.0.0.1:%d" % ports[3],
            "--http", "127.0.0.1:%d" % ports[4], "--data-dir", data_dir]


class DamagedDataDir(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-fault-damaged-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.data = os.path.join(self.dir, "data.mdb")

    def fill(self, count=300):
        """A broker that stored `count` events for alice, stopped cleanly; its epoch."""
        broker = Broker(data_dir=self.dir)
        try:
            producer = Producer(broker)
            for i in range(count):
                producer.send("alice", "ev", {"i": i, "pad": "x" * 200})
            wait_until(lambda: metric(broker.metrics(), "herald_broker_offset") == count,
                       what="the events to be accepted")
            producer.close()
            control = Control(broker)
            epoch = control.request({"op": "resume", "user": "alice"})["epoch"]
            control.close()
        finally:
            self.assertEqual(broker.stop(), 0, "the broker stops cleanly")
        return epoch

    def assert_new_epoch(self, old_epoch, why):
        broker = Broker(data_dir=self.dir)
        try:
            log = broker.output()
            self.assertIn("damaged", log, "the broker says the store is damaged: " + log)
            self.assertIn(why, log, "and why")
            self.assertIn("new epoch", log)
            moved = [f for f in os.listdir(self.dir) if f.startswith("data.mdb.damaged-")]
            self.assertEqual(len(moved), 1, "the damaged file is kept aside: %r" % os.listdir(self.dir))
            control = Control(broker)
            reply = control.request({"op": "resume", "user": "alice", "epoch": old_epoch, "offset": 0})
            control.close()
            self.assertNotEqual(reply["epoch"], old_epoch, "a new epoch")
            self.assertEqual(reply["offset"], 0, "offsets start again")
            self.assertFalse(reply["recovered"])
            self.assertEqual(reply["events"], [], "no event of the damaged store is served")
            self.assertTrue(broker.alive())
        finally:
            self.assertEqual(broker.stop(), 0, "and keeps running until stopped")

    def test_truncated_data_file(self):
        epoch = self.fill()
        size = os.path.getsize(self.data)
        with open(self.data, "r+b") as f:
            f.truncate(size // 2)
        self.assert_new_epoch(epoch, "truncated")

    def test_garbage_data_file(self):
        epoch = self.fill(10)
        with open(self.data, "wb") as f:
            f.write(bytes((i * 7919) & 0xFF for i in range(65536)))
        self.assert_new_epoch(epoch, "not an LMDB file")

    def test_foreign_lmdb_refused(self):
        subprocess.run(["mdb_load", "-T", self.dir], input=b"somekey\nsomevalue\n", check=True)
        before = sorted(os.listdir(self.dir))
        proc = Process(broker_argv(self.dir), name="broker-foreign")
        code = proc.wait(timeout=10)
        out = proc.output()
        proc.stop()
        self.assertEqual(code, 2, "refused with exit code 2: " + out)
        self.assertIn("not Herald's", out, "and says why")
        self.assertEqual(sorted(f for f in os.listdir(self.dir) if f != "herald.lock"),
                         sorted(f for f in before if f != "herald.lock"),
                         "nothing moved or created beside the lock")

    def test_second_broker_refused(self):
        first = Broker(data_dir=self.dir)
        try:
            proc = Process(broker_argv(self.dir), name="broker-second")
            code = proc.wait(timeout=10)
            out = proc.output()
            proc.stop()
            self.assertEqual(code, 2, "a second broker on the same directory exits 2: " + out)
            self.assertIn("in use by another herald-broker", out)
            self.assertTrue(first.alive(), "the first broker is unaffected")
        finally:
            first.stop()


if __name__ == "__main__":
    unittest.main()
