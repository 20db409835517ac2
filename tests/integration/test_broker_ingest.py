"""test_broker_ingest.py -- the broker routes valid events and drops bad ones.

Drives a real herald-broker with a PUSH producer and raw SUB sockets that
speak the publish protocol directly ([topic + 17-byte header][JSON frame],
or one multicast message listing the recipients).
"""
import json
import unittest

import msgpack
import zmq

from harness import Broker, Producer, metric, parse_published, recv_published, subscribe

_pending = {}


def recv_event(sub):
    """(user, epoch, offset, body bytes) of the next event for one user: a
    multicast message yields one per listed user, in order."""
    queue = _pending.setdefault(id(sub), [])
    while not queue:
        kind, epoch, offset, users, body = parse_published(recv_published(sub))
        if kind == b"E":
            queue.extend((user, epoch, offset, body) for user in users)
    return queue.pop(0)


def raw_map(*pairs):
    """A msgpack map built by hand, so str values may hold any bytes."""
    out = bytes([0x80 | len(pairs)])
    for key, value in pairs:
        out += msgpack.packb(key)
        if isinstance(value, bytes):
            out += bytes([0xd9, len(value)]) + value   # str 8, raw bytes
        else:
            out += msgpack.packb(value)
    return out


BAD_INPUTS = [
    # (what, raw frame, reason counted)
    ("truncated msgpack", msgpack.packb({"event": "bid", "to": "alice"})[:-3], "not_msgpack"),
    ("random bytes", bytes([0xc1, 0x13, 0x37, 0xfe, 0x00, 0xc1]), "not_msgpack"),
    ("empty frame", b"", "not_msgpack"),
    ("not a map", msgpack.packb(["bid", "alice"]), "not_map"),
    ("missing event", msgpack.packb({"to": "alice"}), "bad_event"),
    ("event not a str", msgpack.packb({"event": 7, "to": "alice"}), "bad_event"),
    ("bad chars in event", msgpack.packb({"event": "bid now", "to": "alice"}), "bad_event"),
    ("event too long", msgpack.packb({"event": "e" * 65, "to": "alice"}), "bad_event"),
    ("missing to", msgpack.packb({"event": "bid"}), "bad_to"),
    ("to empty array", msgpack.packb({"event": "bid", "to": []}), "bad_to"),
    ("to not str/array", msgpack.packb({"event": "bid", "to": 5}), "bad_to"),
    ("too many recipients", msgpack.packb({"event": "bid", "to": ["u%d" % i for i in range(10001)]}), "bad_to"),
    ("empty user id", msgpack.packb({"event": "bid", "to": ""}), "bad_user"),
    ("user id with NUL", msgpack.packb({"event": "bid", "to": "ali\x00ce"}), "bad_user"),
    ("user id with control char", msgpack.packb({"event": "bid", "to": ["ok", "a\nb"]}), "bad_user"),
    ("user id invalid UTF-8", raw_map(("event", "bid"), ("to", b"al\xffice")), "bad_user"),
    ("user id of 129 bytes", msgpack.packb({"event": "bid", "to": "u" * 129}), "bad_user"),
    ("user id not a str", msgpack.packb({"event": "bid", "to": ["ok", 3]}), "bad_user"),
    ("id too long", msgpack.packb({"event": "bid", "to": "alice", "id": "i" * 129}), "bad_id"),
    ("id not a str", msgpack.packb({"event": "bid", "to": "alice", "id": 12}), "bad_id"),
    ("negative ttl", msgpack.packb({"event": "bid", "to": "alice", "ttl": -1}), "bad_ttl"),
    ("ttl not an int", msgpack.packb({"event": "bid", "to": "alice", "ttl": "60"}), "bad_ttl"),
    ("oversized frame", msgpack.packb({"event": "bid", "to": "alice", "data": "x" * 70000}), "too_large"),
]


class BrokerIngestTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.producer = Producer(self.broker)
        self.subs = []

    def tearDown(self):
        for sub in self.subs:
            sub.close()
        self.producer.close()
        code = self.broker.stop()
        # proves: the broker shut down cleanly on SIGTERM (status 0; under
        # AddressSanitizer a leak or error would make it non-zero)
        with open(self.broker.log_path, errors="replace") as log:
            self.assertEqual(code, 0, log.read()[-2000:])

    def sub(self, *users):
        sub, epoch = subscribe(self.broker, *users)
        self.subs.append(sub)
        return sub, epoch

    def test_valid_event_published_on_user_topic(self):
        sub, epoch = self.sub("alice")
        self.producer.send("alice", "bid", {"amount": 120, "vendor": "v7"}, id="b-991")
        user, ev_epoch, offset, body = recv_event(sub)
        # proves: the event goes out on alice's topic, with the epoch of the
        # sync, offset 1 (the first event), and the exact browser frame
        self.assertEqual(user, "alice")
        self.assertEqual(ev_epoch, epoch)
        self.assertEqual(offset, 1)
        self.assertEqual(body, b'{"type":"event","event":"bid","data":{"amount":120,'
                               b'"vendor":"v7"},"offset":1,"id":"b-991"}')

    def test_prefix_user_gets_nothing_of_longer_id(self):
        sub, _ = self.sub("alice")
        self.producer.send("alice2", "bid", 1)
        self.producer.send(["alice22", "alic"], "bid", 2)
        self.producer.send("alice", "bid", 3)
        user, _, offset, body = recv_event(sub)
        # proves: events for alice2/alice22/alic, sent earlier on the same
        # pipe, never reached alice's subscription (they would come first)
        self.assertEqual((user, offset), ("alice", 3))
        self.assertEqual(json.loads(body)["data"], 3)

    def test_multi_recipient_event_has_one_offset(self):
        sub_a, _ = self.sub("alice")
        sub_b, _ = self.sub("bob")
        self.producer.send(["alice", "bob", "carol"], "negotiate", {"order": 9})
        a = recv_event(sub_a)
        b = recv_event(sub_b)
        # proves: each recipient gets the event once, with the same offset and
        # the same frame bytes
        self.assertEqual(a[0], "alice")
        self.assertEqual(b[0], "bob")
        self.assertEqual(a[2], b[2])
        self.assertEqual(a[3], b[3])
        self.assertEqual(json.loads(a[3])["offset"], a[2])

    def test_many_online_recipients_share_one_multicast_message(self):
        online = ["mc%d" % i for i in range(10)]
        sub, _ = self.sub(*online)
        offline = ["gone%d" % i for i in range(5)]
        self.producer.send(offline[:2] + online + offline[2:], "sale", {"pct": 20})
        self.producer.send(online[:3], "few", 1)
        kind, _, offset, users, body = parse_published(recv_published(sub))
        # proves: an event for 10 online users is ONE message on the multicast
        # topic listing exactly the online ones, in the envelope's order (the
        # offline ones have no gateway), carrying the shared frame
        self.assertEqual((kind, offset, users), (b"E", 1, online))
        self.assertEqual(json.loads(body)["data"], {"pct": 20})
        few = [parse_published(recv_published(sub)) for _ in range(3)]
        # proves: an event for fewer online users than the multicast threshold
        # goes on each user's own topic, one message each, same offset
        self.assertEqual([(f[2], f[3]) for f in few], [(2, [u]) for u in online[:3]])

    def test_multicast_reaches_only_subscribers_of_the_multicast_topic(self):
        online = ["mo%d" % i for i in range(8)]
        plain, _ = subscribe(self.broker, *online, multicast=False)
        self.subs.append(plain)
        self.producer.send(online, "sale", 1)
        self.producer.send(online[0], "marker", 2)
        # proves: a SUB that did not join multicast never sees the 8-user
        # event (it would come first on the pipe); the next event it gets
        # is the unicast marker
        self.assertEqual(recv_event(plain)[2], 2)

    def test_duplicate_recipient_delivered_once(self):
        sub, _ = self.sub("alice")
        self.producer.send(["alice", "alice"], "bid", 1)
        self.producer.send("alice", "bid", 2)
        first = recv_event(sub)
        second = recv_event(sub)
        # proves: "to" listing alice twice still delivers one copy
        self.assertEqual(json.loads(first[3])["data"], 1)
        self.assertEqual(json.loads(second[3])["data"], 2)

    def test_offsets_strictly_increase(self):
        sub, _ = self.sub("alice", "bob")
        for i in range(300):
            self.producer.send("alice" if i % 3 else ["alice", "bob"], "tick", i)
        seen = [recv_event(sub) for _ in range(300 + 100)]
        alice = [offset for user, _, offset, _ in seen if user == "alice"]
        # proves: alice sees all 300 events in order with offsets 1..300
        # (bob's copies share offsets with alice's, not new ones)
        self.assertEqual(alice, list(range(1, 301)))
        bob = [offset for user, _, offset, _ in seen if user == "bob"]
        self.assertEqual(bob, [o for o in range(1, 301) if (o - 1) % 3 == 0])

    def test_bad_inputs_are_dropped_counted_and_routing_continues(self):
        sub, _ = self.sub("alice")
        flood = 20
        for what, raw, reason in BAD_INPUTS:
            before = self._rejected(reason)
            for _ in range(flood):
                self.producer.send_raw(raw)
            self.producer.send("alice", "after", what)
            user, _, _, body = recv_event(sub)
            # proves: after a flood of this bad input, a good event still
            # arrives, and it is the next thing alice receives
            self.assertEqual(json.loads(body)["data"], what, what)
            # proves: every copy was counted under its reason
            self.assertEqual(self._rejected(reason) - before, flood, what)
        text = self.broker.metrics()
        # proves: nothing bad was accepted: only the good events got offsets
        self.assertEqual(metric(text, "herald_broker_events_accepted_total"), len(BAD_INPUTS))
        self.assertEqual(metric(text, "herald_broker_events_rejected_total"), flood * len(BAD_INPUTS))
        self.assertTrue(self.broker.alive())

    def _rejected(self, reason):
        key = 'herald_broker_events_rejected_total{reason="%s"}' % reason
        return metric(self.broker.metrics(), key) or 0


if __name__ == "__main__":
    unittest.main()
