"""test_broker_presence.py -- presence follows XPUB subscriptions; control errors.

Raw SUB sockets stand in for gateways; a REQ socket asks the control socket.
"""
import struct
import unittest

import msgpack
import zmq

from harness import WIRE_HEADER, Broker, Control, metric, subscribe, wait_until


class BrokerPresenceTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.control = Control(self.broker)

    def tearDown(self):
        self.control.close()
        code = self.broker.stop()
        # proves: the broker shut down cleanly on SIGTERM (status 0; under
        # AddressSanitizer a leak or error would make it non-zero)
        with open(self.broker.log_path, errors="replace") as log:
            self.assertEqual(code, 0, log.read()[-2000:])

    def test_sync_carries_latest_offset(self):
        from harness import Producer
        producer = Producer(self.broker)
        for i in range(5):
            producer.send("nobody", "tick", i)
        wait_until(lambda: metric(self.broker.metrics(), "herald_broker_offset") == 5,
                   what="5 events accepted")
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.RCVTIMEO, 5000)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(self.broker.publish)
        sub.setsockopt(zmq.SUBSCRIBE, b"u:zoe\x00")
        head, body = sub.recv_multipart()
        # proves: a subscribe is answered on that exact topic by a sync with
        # the latest offset and an empty body
        self.assertEqual(head[:6], b"u:zoe\x00")
        kind, epoch, offset, prev, _at, _flags = struct.unpack(WIRE_HEADER, head[6:])
        self.assertEqual((kind, offset, body), (b"S", 5, b""))
        # proves: a second subscriber of the same topic (verbose XPUB) gets
        # its own sync too
        sub2, _ = subscribe(self.broker, "zoe")
        sub2.close()
        sub.close()
        producer.close()

    def test_subscribe_makes_online_last_unsubscribe_offline(self):
        # proves: nobody is online before any subscription
        self.assertEqual(self.control.presence(["alice", "bob"]), {"alice": False, "bob": False})
        first, _ = subscribe(self.broker, "alice")
        # proves: once the sync arrived, presence says alice is online (and
        # only alice)
        self.assertEqual(self.control.presence(["alice", "bob"]), {"alice": True, "bob": False})
        second, _ = subscribe(self.broker, "alice")
        first.close()
        # proves: with one of two gateways still subscribed, alice stays
        # online (checked after a later control round trip, so the
        # unsubscribe, if one were sent, would have been processed)
        subscribe(self.broker, "probe")[0].close()
        wait_until(lambda: not self.control.presence(["probe"])["probe"], what="probe offline")
        self.assertTrue(self.control.presence(["alice"])["alice"])
        second.close()
        # proves: when the last subscriber goes, alice is offline
        wait_until(lambda: not self.control.presence(["alice"])["alice"], what="alice offline")
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_users_online"), 0)

    def test_presence_for_ten_thousand_users(self):
        users = ["user-%05d" % i for i in range(10000)]
        sub, _ = subscribe(self.broker, *users[::100])
        online = self.control.presence(users)
        # proves: a 10,000-user request is answered for every user, true
        # exactly for the 100 subscribed ones
        self.assertEqual(len(online), 10000)
        self.assertEqual(sorted(u for u, v in online.items() if v), sorted(users[::100]))
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_users_online"), 100)
        sub.close()

    def test_non_user_subscriptions_are_ignored_and_counted(self):
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(self.broker.publish)
        sub.setsockopt(zmq.SUBSCRIBE, b"c:bad channel\x00")
        sub.setsockopt(zmq.SUBSCRIBE, b"u:noterminator")
        # proves: topics that are no known topic (a channel name outside the
        # set, a user topic without its NUL) are counted and not online
        wait_until(lambda: metric(self.broker.metrics(),
                                  "herald_broker_subscriptions_invalid_total") == 2,
                   what="two invalid subscriptions counted")
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_users_online"), 0)
        sub.close()

    def test_malformed_control_requests_answer_error_and_are_counted(self):
        bad = [
            b"\xc1",                                          # not msgpack
            msgpack.packb([1, 2]),                            # not a map
            msgpack.packb({"op": "dance"}),                   # unknown op
            msgpack.packb({"users": ["a"]}),                  # no op
            msgpack.packb({"op": "presence"}),                # no users
            msgpack.packb({"op": "presence", "users": []}),   # empty users
            msgpack.packb({"op": "presence", "users": ["u%d" % i for i in range(10001)]}),
            msgpack.packb({"op": "presence", "users": [7]}),
            msgpack.packb({"op": "resume"}),                  # no user
            msgpack.packb({"op": "resume", "user": "a", "epoch": "zz", "offset": 1}),
        ]
        sock = self.control.sock
        for raw in bad:
            sock.send(raw)
            reply = msgpack.unpackb(sock.recv(), raw=False)
            # proves: each malformed request gets {"error": reason}
            self.assertIsInstance(reply, dict, raw[:20])
            self.assertIn("error", reply, raw[:20])
            self.assertIsInstance(reply["error"], str)
        text = self.broker.metrics()
        # proves: each was counted as a control error, and the broker still
        # answers good requests afterwards
        self.assertEqual(metric(text, "herald_broker_control_errors_total"), len(bad))
        self.assertEqual(self.control.presence(["a"]), {"a": False})

    def test_dealer_with_delimiter_and_stats(self):
        dealer = zmq.Context.instance().socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.RCVTIMEO, 5000)
        dealer.connect(self.broker.control)
        dealer.send_multipart([b"", msgpack.packb({"op": "stats"})])
        empty, body = dealer.recv_multipart()
        stats = msgpack.unpackb(body, raw=False)
        # proves: a DEALER peer gets its reply after the delimiter it sent,
        # and stats names the same counters as /metrics
        self.assertEqual(empty, b"")
        self.assertIn("herald_broker_offset", stats)
        self.assertIn('herald_broker_events_rejected_total{reason="bad_user"}', stats)
        self.assertEqual(stats["herald_broker_control_requests_total"], 1)
        dealer.close()


if __name__ == "__main__":
    unittest.main()
