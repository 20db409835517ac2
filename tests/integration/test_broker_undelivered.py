"""test_broker_undelivered.py -- offline recipients reach fallback workers.

A PULL socket plays the fallback worker; raw SUB sockets play gateways.
"""
import unittest

import msgpack
import zmq

from harness import Broker, Producer, metric, recv_published, subscribe, wait_until


class BrokerUndeliveredTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.producer = Producer(self.broker)
        self.ctx = zmq.Context.instance()

    def tearDown(self):
        self.producer.close()
        code = self.broker.stop()
        # proves: the broker shut down cleanly on SIGTERM (status 0; under
        # AddressSanitizer a leak or error would make it non-zero)
        with open(self.broker.log_path, errors="replace") as log:
            self.assertEqual(code, 0, log.read()[-2000:])

    def worker(self):
        w = self.ctx.socket(zmq.PULL)
        w.setsockopt(zmq.LINGER, 0)
        w.setsockopt(zmq.RCVTIMEO, 5000)
        w.connect(self.broker.undelivered)
        return w

    def wait_worker_attached(self, w):
        """Probe events until the PUSH socket has the worker as a peer: the
        first notice the worker sees marks the point after which none drop.
        Returns how many probes were sent."""
        n = 0
        while True:
            n += 1
            self.producer.send("probe", "probe", n)
            try:
                w.setsockopt(zmq.RCVTIMEO, 200)
                msgpack.unpackb(w.recv(), raw=False)
                w.setsockopt(zmq.RCVTIMEO, 5000)
                return n
            except zmq.Again:
                if n > 100:
                    raise AssertionError("worker never attached")

    def test_offline_recipient_gets_one_notice_online_none(self):
        w = self.worker()
        self.wait_worker_attached(w)
        sub, _ = subscribe(self.broker, "alice")
        self.producer.send(["alice", "bob"], "bid", {"amount": 5, "blob": b"\x00\x01"}, id="b-1")
        self.producer.send("alice", "bid", 2)            # online only: no notice
        self.producer.send("carol", "confirm", None)     # offline, no id, no data
        first = msgpack.unpackb(w.recv(), raw=False)
        second = msgpack.unpackb(w.recv(), raw=False)
        # proves: the offline recipient bob gets exactly the documented map,
        # data re-packed as sent (bin stays bin), id passed through
        offset = first["offset"]
        self.assertEqual(first, {"event": "bid", "to": "bob",
                                 "data": {"amount": 5, "blob": b"\x00\x01"},
                                 "id": "b-1", "offset": offset, "reason": "offline"})
        # proves: online alice got no notice (the next one is carol's), and
        # absent id/data are nil
        self.assertEqual(second, {"event": "confirm", "to": "carol", "data": None,
                                  "id": None, "offset": offset + 2, "reason": "offline"})
        self.assertEqual(recv_published(sub)[1].count(b'"offset":%d' % offset), 1)
        sub.close()
        w.close()

    def test_no_worker_routing_continues_and_drops_are_counted(self):
        sub, _ = subscribe(self.broker, "alice")
        for i in range(50):
            self.producer.send(["ghost%d" % i, "alice"], "bid", i)
        got = [recv_published(sub) for _ in range(50)]
        # proves: with no worker attached, all 50 events still reach the
        # online recipient
        self.assertEqual(len(got), 50)
        text = self.broker.metrics()
        # proves: the 50 notices for the offline recipients were dropped and
        # counted, none sent
        self.assertEqual(metric(text, "herald_broker_undelivered_dropped_total"), 50)
        self.assertEqual(metric(text, "herald_broker_undelivered_sent_total"), 0)
        sub.close()

    def test_stalled_worker_is_bounded(self):
        w = self.worker()
        w.setsockopt(zmq.RCVHWM, 10)
        probes = self.wait_worker_attached(w)
        total = 30000
        pad = "x" * 1000   # so the notices overflow kernel buffers too
        for i in range(total):
            self.producer.send("offline-user", "bid", [i, pad])
        wait_until(lambda: metric(self.broker.metrics(), "herald_broker_offset") >= total + probes,
                   what="all events routed")
        text = self.broker.metrics()
        sent = metric(text, "herald_broker_undelivered_sent_total")
        dropped = metric(text, "herald_broker_undelivered_dropped_total")
        # proves: a worker that reads nothing does not block routing; what
        # does not fit its queues is dropped and counted, every notice is
        # accounted for
        self.assertGreater(dropped, 0)
        self.assertEqual(sent + dropped, total + probes)
        w.close()


if __name__ == "__main__":
    unittest.main()
