"""test_broker_history.py -- resume from the broker's per-user history.

Events go in through a PUSH producer; resume requests go to the control
socket exactly as a gateway would send them.
"""
import json
import unittest


from harness import Broker, Control, Producer, metric, wait_until


class BrokerHistoryTest(unittest.TestCase):
    def start(self, **flags):
        self.broker = Broker(**flags)
        self.producer = Producer(self.broker)
        self.control = Control(self.broker)
        self.epoch = self.resume("nobody")["epoch"]

    def tearDown(self):
        self.control.close()
        self.producer.close()
        code = self.broker.stop()
        # proves: the broker shut down cleanly on SIGTERM (status 0; under
        # AddressSanitizer a leak or error would make it non-zero)
        with open(self.broker.log_path, errors="replace") as log:
            self.assertEqual(code, 0, log.read()[-2000:])

    def resume(self, user, epoch=None, offset=None, rid=None):
        req = {"op": "resume", "user": user}
        if epoch is not None:
            req["epoch"] = epoch
            req["offset"] = offset
        if rid is not None:
            req["rid"] = rid
        return self.control.request(req)

    def wait_offset(self, offset):
        wait_until(lambda: metric(self.broker.metrics(), "herald_broker_offset") >= offset,
                   what="offset %d" % offset)

    def test_resume_returns_missed_events_in_order(self):
        self.start()
        for i in range(10):
            self.producer.send("alice" if i % 2 == 0 else "bob", "bid", {"n": i}, id="id%d" % i)
        self.wait_offset(10)
        reply = self.resume("alice", self.epoch, 3, rid=42)
        # proves: the reply echoes rid and user, carries the current epoch and
        # latest offset, says recovered, and lists alice's events after
        # offset 3 in order, each with its exact JSON frame
        self.assertEqual(reply["rid"], 42)
        self.assertEqual(reply["user"], "alice")
        self.assertEqual(reply["epoch"], self.epoch)
        self.assertEqual(reply["offset"], 10)
        self.assertTrue(reply["recovered"])
        offsets = [o for o, _ in reply["events"]]
        self.assertEqual(offsets, [5, 7, 9])
        frames = [json.loads(f) for _, f in reply["events"]]
        self.assertEqual([f["data"]["n"] for f in frames], [4, 6, 8])
        self.assertEqual(frames[0], {"type": "event", "event": "bid", "data": {"n": 4},
                                     "offset": 5, "id": "id4"})
        # proves: resuming from the latest offset gives nothing and is complete
        reply = self.resume("alice", self.epoch, 10)
        self.assertEqual((reply["events"], reply["recovered"]), ([], True))

    def test_per_user_count_bound_makes_recovered_false(self):
        self.start(history_events=5)
        for i in range(8):
            self.producer.send("alice", "bid", i)
        self.wait_offset(8)
        reply = self.resume("alice", self.epoch, 0)
        # proves: only the newest 5 are kept, and a resume from before the
        # dropped ones says recovered false
        self.assertEqual([o for o, _ in reply["events"]], [4, 5, 6, 7, 8])
        self.assertFalse(reply["recovered"])
        # proves: a resume from after the dropped ones is complete
        reply = self.resume("alice", self.epoch, 3)
        self.assertTrue(reply["recovered"])
        self.assertEqual([o for o, _ in reply["events"]], [4, 5, 6, 7, 8])
        self.assertEqual(metric(self.broker.metrics(),
                                'herald_broker_history_evicted_total{reason="count"}'), 3)

    def test_total_byte_bound_makes_recovered_false(self):
        self.start(history_bytes=20000)
        for i in range(200):
            self.producer.send("user%d" % (i % 7), "bid", {"pad": "x" * 200, "i": i})
        self.wait_offset(200)
        text = self.broker.metrics()
        # proves: history holds at most the byte bound, having evicted by bytes
        self.assertLessEqual(metric(text, "herald_broker_history_bytes"), 20000)
        self.assertGreater(metric(text, 'herald_broker_history_evicted_total{reason="bytes"}'), 0)
        reply = self.resume("user0", self.epoch, 0)
        # proves: user0 lost its oldest events, so recovered is false, while
        # the newest ones are still returned
        self.assertFalse(reply["recovered"])
        self.assertTrue(reply["events"])
        self.assertEqual(reply["events"][-1][0], 197)   # i = 196 -> offset 197

    def test_ttl_zero_is_not_stored(self):
        self.start()
        self.producer.send("alice", "typing", None, ttl=0)
        self.producer.send("alice", "bid", 1)
        self.wait_offset(2)
        reply = self.resume("alice", self.epoch, 0)
        # proves: the ttl-0 event is not replayed, and does not count as lost
        self.assertEqual([o for o, _ in reply["events"]], [2])
        self.assertTrue(reply["recovered"])

    def test_ttl_expiry_makes_recovered_false(self):
        self.start()
        self.producer.send("alice", "bid", 1, ttl=1)
        self.wait_offset(1)
        # proves: once the ttl ran out (polled, no fixed sleep) the event is
        # gone and the resume says so
        reply = wait_until(lambda: (lambda r: r if not r["recovered"] else None)(
            self.resume("alice", self.epoch, 0)), timeout=10, what="ttl expiry")
        self.assertEqual(reply["events"], [])
        wait_until(lambda: metric(self.broker.metrics(),
                                  'herald_broker_history_evicted_total{reason="ttl"}') == 1,
                   what="ttl sweep counted")

    def test_wrong_epoch_is_not_recovered(self):
        self.start()
        self.producer.send("alice", "bid", 1)
        self.wait_offset(1)
        other = "%016x" % (int(self.epoch, 16) ^ 1)
        reply = self.resume("alice", other, 0)
        # proves: offsets from another broker's epoch are meaningless: nothing
        # replayed, recovered false, and the reply tells the current epoch
        self.assertEqual(reply["events"], [])
        self.assertFalse(reply["recovered"])
        self.assertEqual(reply["epoch"], self.epoch)

    def test_no_position_gives_no_events(self):
        self.start()
        self.producer.send("alice", "bid", 1)
        self.wait_offset(1)
        reply = self.resume("alice")
        # proves: a fresh connection (no epoch/offset) gets no events,
        # recovered false, the latest offset and rid 0
        self.assertEqual(reply["events"], [])
        self.assertFalse(reply["recovered"])
        self.assertEqual(reply["offset"], 1)
        self.assertEqual(reply["rid"], 0)
        text = self.broker.metrics()
        self.assertGreaterEqual(metric(text, 'herald_broker_resumes_total{recovered="false"}'), 1)


if __name__ == "__main__":
    unittest.main()
