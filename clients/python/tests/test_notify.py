"""test_notify.py -- notify reaches a browser; publish and broadcast reach a gateway's subscription.

A real herald-broker and herald-gateway; a websocket client stands in for
the browser, a raw SUB socket on the broker's publish socket for a
gateway holding a channel (proto/PROTOCOL.md topics c:<name> and b:).
"""
import json
import struct
import unittest

import msgpack
import zmq

from support import StackCase, fresh_user, harness


def channel_sub(broker, topic):
    """A raw SUB on the broker's publish socket subscribed to one topic
    (b"c:<name>\\0" or b"b:\\0"), as a gateway is."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVTIMEO, 5000)
    sub.connect(broker.publish)
    sub.setsockopt(zmq.SUBSCRIBE, topic)
    return sub


def next_event(sub, topic):
    """(offset, JSON frame) of the next event ('E') published on topic
    (messages on the SUB's other topics are skipped)."""
    while True:
        head, body = sub.recv_multipart()
        if not head.startswith(topic):
            continue
        kind, _, offset, _ = struct.unpack(">cQQQ", head[len(topic):len(topic) + 25])
        if kind == b"E":
            return offset, json.loads(body)


class Notify(StackCase, unittest.TestCase):
    def test_notify_reaches_the_websocket(self):
        user = fresh_user("carol")
        ws = self.ws_for(user)
        self.assertTrue(self.h.notify(user, "bid", {"amount": 120, "vendor": "v1"}, id="bid-7"),
                        "notify says the event was queued")
        ev = ws.events(1)[0]
        self.assertEqual((ev["event"], ev["data"], ev["id"]),
                         ("bid", {"amount": 120, "vendor": "v1"}, "bid-7"),
                         "the browser gets the event name, data and id the backend sent")
        harness.wait_until(lambda: self.h.stats()["sent"] == 1, what="sent counted")
        self.assertEqual(self.h.stats(), {"queued": 1, "sent": 1, "dropped": 0, "pending": 0})

    def test_many_recipients_and_order(self):
        users = [fresh_user("v") for _ in range(3)]
        sockets = [self.ws_for(u) for u in users]
        for n in range(20):
            self.h.notify(users + [users[0]], "negotiate", {"n": n}, ttl=600)
        for u, ws in zip(users, sockets):
            got = [e["data"]["n"] for e in ws.events(20)]
            self.assertEqual(got, list(range(20)), "%s got every event once, in order" % u)

    def test_int_user_ids_match_tokens(self):
        user = int(fresh_user("0")[2:], 16)
        ws = self.ws_for(user)
        self.h.notify(user, "bid", None)
        self.assertEqual(ws.events(1)[0]["data"], None, "an int user id (a primary key) works "
                         "for token() and notify() alike")

    def test_confirmed_notify_returns_the_offset(self):
        user = fresh_user("conf")
        ws = self.ws_for(user)
        first = self.h.notify(user, "bid", {"n": 1}, confirm=True, idempotency_key="k-" + user)
        self.assertEqual(set(first), {"offset", "epoch", "duplicate"})
        self.assertFalse(first["duplicate"])
        again = self.h.notify(user, "bid", {"n": 1}, confirm=True, idempotency_key="k-" + user)
        self.assertEqual(again, dict(first, duplicate=True),
                         "a retry with the same key gets the first offset back")
        self.h.notify(user, "bid", {"n": 2})
        got = ws.events(2)
        self.assertEqual([(e["offset"], e["data"]["n"]) for e in got],
                         [(first["offset"], 1), (got[1]["offset"], 2)],
                         "the confirmed event arrived once, at the offset the broker confirmed")

    def test_publish_and_broadcast_reach_a_gateways_subscription(self):
        channel = "order:" + fresh_user("o")
        topic = b"c:" + channel.encode() + b"\x00"
        # one SUB for both topics: the channel's sync then proves the broker
        # also has the broadcast subscription, sent before it on the same pipe
        sub = channel_sub(self.stack.broker, b"b:\x00")
        sub.setsockopt(zmq.SUBSCRIBE, topic)
        try:
            self.assertTrue(self.channel_synced(sub, topic), "the broker synced the channel")
            confirmed = self.h.publish(channel, "bid", {"amount": 5}, confirm=True)
            self.assertEqual(next_event(sub, topic), (confirmed["offset"], {
                "type": "event", "event": "bid", "channel": channel, "data": {"amount": 5},
                "offset": confirmed["offset"]}), "the confirmed offset is the published one")
            self.assertTrue(self.h.publish(channel, "bid", {"amount": 6}, id="c-1"))
            _, frame = next_event(sub, topic)
            self.assertEqual((frame["event"], frame["channel"], frame["data"], frame["id"]),
                             ("bid", channel, {"amount": 6}, "c-1"))
            done = self.h.broadcast("banner", {"text": "hi"}, confirm=True)
            self.assertEqual(next_event(sub, b"b:\x00")[0], done["offset"])
            self.assertTrue(self.h.broadcast("banner", {"text": "again"}))
            _, frame = next_event(sub, b"b:\x00")
            self.assertEqual((frame["event"], frame.get("broadcast"), frame["data"]),
                             ("banner", True, {"text": "again"}))
        finally:
            sub.close()

    @staticmethod
    def channel_synced(sub, topic):
        # the broker answers a channel subscription with a sync ('S')
        head, _ = sub.recv_multipart()
        return head.startswith(topic) and head[len(topic):len(topic) + 1] == b"S"

    def test_bad_input_raises_before_sending(self):
        user = fresh_user("bad")
        ws = self.ws_for(user)
        with self.assertRaises(ValueError):
            self.h.notify(user, "no spaces", None)
        with self.assertRaises(TypeError):
            self.h.notify(user, "bid", {"at": object()})
        self.h.notify(user, "bid", "after")
        self.assertEqual(ws.events(1)[0]["data"], "after", "nothing bad was queued before it")
        self.assertEqual(self.h.stats()["queued"], 1)
        self.assertEqual(harness.metric(self.stack.broker.metrics(),
                                        "herald_broker_events_rejected_total"), 0,
                         "the broker never saw a bad envelope")


if __name__ == "__main__":
    unittest.main()
