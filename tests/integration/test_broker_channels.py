"""test_broker_channels.py -- the broker's side of channels and broadcast (issue 11).

Raw XSUB sockets stand in for gateways (they subscribe topics and send audit
requests exactly as a gateway does on its link); a catch-all XSUB "spy"
sees everything the broker publishes, so what it does NOT see was not
published. Events go in through a PUSH producer, resumes and presence
through the control socket.
"""
import json
import os
import shutil
import struct
import tempfile
import unittest

import msgpack
import zmq

from harness import (Broker, Control, Pair, Producer, metric, parse_head, wait_until)

GATEWAY_ID = 0x1234abcd5678ef01
LONG = "L" * 128          # the longest channel name


def counter(broker, name):
    return metric(broker.metrics(), name, exact=True)


class ChannelsCase(unittest.TestCase):
    def setUp(self):
        self.sockets = []
        self.brokers = []
        self.tmp = tempfile.mkdtemp(prefix="herald-channels-")

    def tearDown(self):
        for s in self.sockets:
            s.close()
        for b in self.brokers:
            code = b.stop()
            # proves: the broker shut down cleanly (under the sanitizers a
            # leak or an error would make the status non-zero)
            with open(b.log_path, errors="replace") as log:
                self.assertEqual(code, 0, log.read()[-2000:])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **flags):
        b = Broker(**flags)
        self.brokers.append(b)
        self.producer = Producer(b)
        self.sockets.append(self.producer)
        self.control = Control(b)
        self.sockets.append(self.control)
        return b

    def xsub(self, broker):
        s = zmq.Context.instance().socket(zmq.XSUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 5000)
        s.connect(broker.publish)
        self.sockets.append(s)
        return s

    def spy(self, broker):
        """A catch-all subscriber: receives whatever the broker publishes.
        (Its empty topic is no known one: counted as invalid.)"""
        before = counter(broker, "herald_broker_subscriptions_invalid_total")
        s = self.xsub(broker)
        s.send(b"\x01")
        wait_until(lambda: counter(broker, "herald_broker_subscriptions_invalid_total") == before + 1,
                   what="the catch-all subscription seen")
        return s

    def subscribe_broadcast(self, gw):
        """Subscribes b: and returns once the broker has read it: b: gets no
        sync, so a channel subscribe behind it on the same pipe is waited for."""
        gw.send(b"\x01b:\x00")
        gw.send(b"\x01c:probe\x00")
        self.assertEqual(self.next(gw)[:2], (b"c:probe\x00", b"S"))

    def next(self, sock):
        """The next message that is not a tick, parsed (parse_head)."""
        while True:
            head = parse_head(sock.recv_multipart())
            if head[1] != b"T":
                return head

    def channel(self, name, event="bid", data=None, **extra):
        env = {"event": event, "channel": name, "data": data}
        env.update(extra)
        self.producer.send_raw(msgpack.packb(env, use_bin_type=True))

    def broadcast(self, event="banner", data=None, **extra):
        env = {"event": event, "broadcast": True, "data": data}
        env.update(extra)
        self.producer.send_raw(msgpack.packb(env, use_bin_type=True))

    def wait_offset(self, broker, offset):
        wait_until(lambda: counter(broker, "herald_broker_offset") >= offset,
                   what="offset %d" % offset)

    def resume(self, epoch=None, offset=None, **stream):
        req = {"op": "resume"}
        req.update(stream)
        if epoch is not None:
            req["epoch"], req["offset"] = epoch, offset
        return self.control.request(req)

    def epoch(self):
        return self.resume(user="nobody")["epoch"]


class ChannelRoutingTest(ChannelsCase):
    def test_channel_event_reaches_only_subscribed_topics_with_prev_and_sync(self):
        b = self.start()
        spy = self.spy(b)
        gw = self.xsub(b)
        gw.send(b"\x01c:room\x00")
        # proves: a channel subscribe is answered by a sync on that exact
        # topic: latest offset 0, the channel's prev 0
        topic, kind, epoch, offset, aux, rest, body = self.next(gw)
        self.assertEqual((topic, kind, offset, aux, body), (b"c:room\x00", b"S", 0, 0, b""))
        self.assertEqual(self.next(spy)[:2], (b"c:room\x00", b"S"))
        wait_until(lambda: counter(b, "herald_broker_channel_subscriptions") == 1,
                   what="the channel subscription gauge")

        self.channel("other", data={"n": 1})      # 1: nobody subscribes "other"
        self.channel("room", data={"n": 2})       # 2
        self.channel("room", data={"n": 3})       # 3
        self.producer.send("alice", "bid", 4)     # 4: alice offline
        self.broadcast(data={"n": 5})             # 5
        # proves: the spy (which sees everything published) gets room's two
        # events with the prev chain 0 -> 2 and the broadcast, but neither
        # the event of the unsubscribed channel nor the offline user's
        seen = [self.next(spy) for _ in range(3)]
        self.assertEqual([(t, k, o, a) for t, k, _, o, a, _, _ in seen],
                         [(b"c:room\x00", b"E", 2, 0), (b"c:room\x00", b"E", 3, 2),
                          (b"b:\x00", b"E", 5, 0)])
        frame = json.loads(seen[0][6])
        # proves: the frame carries the channel right after the event name
        self.assertEqual(frame, {"type": "event", "event": "bid", "channel": "room",
                                 "data": {"n": 2}, "offset": 2})
        self.assertEqual(json.loads(seen[2][6])["broadcast"], True)
        # proves: the subscribed gateway got exactly room's events (it does
        # not subscribe b:, so no broadcast)
        got = [self.next(gw) for _ in range(2)]
        self.assertEqual([(k, o, a) for _, k, _, o, a, _, _ in got], [(b"E", 2, 0), (b"E", 3, 2)])

        gw2 = self.xsub(b)
        gw2.send(b"\x01c:room\x00")
        # proves: a second gateway's subscribe gets a sync carrying the
        # channel's prev (3) and the latest offset (5); the first gateway,
        # subscribed to the same topic, sees it too
        for s in (gw2, gw):
            self.assertEqual(self.next(s)[1:5], (b"S", epoch, 5, 3))

        for s in (gw, gw2):
            s.send(b"\x00c:room\x00")
        wait_until(lambda: counter(b, "herald_broker_channel_subscriptions") == 0,
                   what="the last unsubscribe of room")
        self.channel("room", data={"n": 6})       # 6: stored, not published
        self.broadcast(data={"n": 7})             # 7
        # proves: once no gateway subscribes, a channel event is not
        # published (the spy's next message is the broadcast after it), and
        # the broadcast's aux is the previous broadcast's offset
        self.assertEqual(self.next(spy)[:5], (b"c:room\x00", b"S", epoch, 5, 3))
        self.assertEqual(self.next(spy)[:5], (b"b:\x00", b"E", epoch, 7, 5))
        # proves: subscribing again starts the channel's prev over (0)
        gw.send(b"\x01c:room\x00")
        self.assertEqual(self.next(gw)[1:5], (b"S", epoch, 7, 0))

        text = b.metrics()
        # proves: channel events and broadcasts are counted as routed
        self.assertEqual(metric(text, "herald_broker_channel_events_total", exact=True), 4)
        self.assertEqual(metric(text, "herald_broker_broadcasts_total", exact=True), 2)
        # proves: only the spy's catch-all was an invalid subscription
        self.assertEqual(metric(text, "herald_broker_subscriptions_invalid_total", exact=True), 1)
        # proves: a channel topic never makes anyone online
        self.assertEqual(metric(text, "herald_broker_users_online", exact=True), 0)
        # proves: no undelivered notice for channel events or broadcasts
        # (only alice's)
        self.assertEqual(metric(text, "herald_broker_undelivered_sent_total", exact=True)
                         + metric(text, "herald_broker_undelivered_dropped_total", exact=True), 1)
        # proves: the channel's history holds all its events, also the ones
        # published to nobody
        reply = self.resume("%016x" % epoch, 0, channel="room")
        self.assertEqual([o for o, _ in reply["events"]], [2, 3, 6])
        reply = self.resume("%016x" % epoch, 0, channel="other")
        self.assertEqual([o for o, _ in reply["events"]], [1])

    def test_broadcast_is_always_published_and_chained(self):
        b = self.start()
        self.broadcast(data=1)                    # 1: no gateway at all
        self.wait_offset(b, 1)
        gw = self.xsub(b)
        self.subscribe_broadcast(gw)
        self.producer.send("bob", "x", 2)         # 2
        self.broadcast(data=3)                    # 3
        # proves: b: subscribes quietly (no sync, not invalid); the broadcast
        # goes out with aux = the previous broadcast of the epoch (1, which
        # nobody received)
        topic, kind, _, offset, aux, _, body = self.next(gw)
        self.assertEqual((topic, kind, offset, aux), (b"b:\x00", b"E", 3, 1))
        self.assertEqual(json.loads(body), {"type": "event", "event": "banner",
                                            "broadcast": True, "data": 3, "offset": 3})
        self.assertEqual(counter(b, "herald_broker_subscriptions_invalid_total"), 0)

    def test_bad_channel_and_addressing_are_counted(self):
        b = self.start()
        self.channel("bad name")                  # space: outside the set
        self.channel("x" * 129)
        self.producer.send_raw(msgpack.packb({"event": "e", "channel": 7}))
        self.producer.send_raw(msgpack.packb({"event": "e", "channel": "ok", "to": "alice"}))
        self.producer.send_raw(msgpack.packb({"event": "e", "broadcast": False}))
        self.producer.send_raw(msgpack.packb({"event": "e", "broadcast": True, "channel": "ok"}))
        self.channel("ok")                        # the only one accepted
        self.wait_offset(b, 1)
        wait_until(lambda: counter(b, "herald_broker_events_received_total") == 7,
                   what="all seven envelopes read")
        text = b.metrics()
        # proves: bad names and mixed addressing are refused under their
        # reasons, and nothing else of them got an offset
        self.assertEqual(metric(text, 'herald_broker_events_rejected_total{reason="bad_channel"}',
                                exact=True), 3)
        self.assertEqual(metric(text, 'herald_broker_events_rejected_total{reason="addressing"}',
                                exact=True), 3)
        self.assertEqual(metric(text, "herald_broker_offset", exact=True), 1)
        self.assertEqual(metric(text, "herald_broker_channel_events_total", exact=True), 1)


class ChannelHistoryTest(ChannelsCase):
    def test_resume_by_channel(self):
        b = self.start(history_events=3)
        epoch = self.epoch()
        for i in range(1, 7):
            if i % 2:
                self.channel("order:17", data=i)  # 1, 3, 5
            else:
                self.producer.send("alice", "x", i)   # 2, 4, 6
        self.channel("order:17", data=7)          # 7
        self.channel("order:17", data=8)          # 8: 1 and 3 leave (3 per stream)
        self.wait_offset(b, 8)
        reply = self.resume(epoch, 3, channel="order:17", rid=9)
        # proves: a channel's resume answers with the channel (no user), the
        # channel's events after the offset in order with their frames, and
        # recovered true when nothing after the offset left
        self.assertEqual(reply["rid"], 9)
        self.assertEqual(reply["channel"], "order:17")
        self.assertNotIn("user", reply)
        self.assertEqual((reply["epoch"], reply["offset"], reply["recovered"]), (epoch, 8, True))
        self.assertEqual([o for o, _ in reply["events"]], [5, 7, 8])
        self.assertEqual(json.loads(reply["events"][0][1])["channel"], "order:17")
        # proves: --history-events bounds a channel like a user; a resume
        # from before what left says recovered false
        reply = self.resume(epoch, 2, channel="order:17")
        self.assertFalse(reply["recovered"])
        self.assertEqual([o for o, _ in reply["events"]], [5, 7, 8])
        # proves: a user's resume does not see channel events
        reply = self.resume(epoch, 0, user="alice")
        self.assertEqual([o for o, _ in reply["events"]], [2, 4, 6])
        # proves: user and channel together, and a bad name, are refused
        self.assertEqual(self.resume(epoch, 0, channel="a", user="b"), {"error": "user or channel"})
        self.assertEqual(self.resume(epoch, 0, channel="a b"), {"error": "bad channel"})
        # proves: without a position a channel resume is empty, not recovered
        reply = self.resume(channel="order:17")
        self.assertEqual((reply["events"], reply["recovered"]), ([], False))

    def test_user_resume_merges_broadcasts_in_offset_order(self):
        b = self.start()
        epoch = self.epoch()
        self.producer.send("alice", "x", 1)       # 1
        self.broadcast(data=2)                    # 2
        self.producer.send("bob", "x", 3)         # 3
        self.producer.send("alice", "x", 4)       # 4
        self.broadcast(data=5)                    # 5
        self.channel("room", data=6)              # 6
        self.wait_offset(b, 6)
        reply = self.resume(epoch, 0, user="alice")
        # proves: a user's resume holds the user's events and the broadcasts,
        # merged in offset order, and is complete
        self.assertEqual([o for o, _ in reply["events"]], [1, 2, 4, 5])
        self.assertTrue(reply["recovered"])
        self.assertEqual(json.loads(reply["events"][1][1])["broadcast"], True)
        reply = self.resume(epoch, 2, user="bob")
        self.assertEqual(([o for o, _ in reply["events"]], reply["recovered"]), ([3, 5], True))

    def test_recovered_false_when_broadcast_history_was_trimmed(self):
        b = self.start(history_events=2)
        epoch = self.epoch()
        self.broadcast(data=1)                    # 1: leaves with 3
        self.producer.send("alice", "x", 2)       # 2
        self.broadcast(data=3)                    # 3
        self.broadcast(data=4)                    # 4
        self.wait_offset(b, 4)
        reply = self.resume(epoch, 0, user="alice")
        # proves: alice lost none of her own events, but a broadcast after her
        # offset left history: not recovered
        self.assertFalse(reply["recovered"])
        self.assertEqual([o for o, _ in reply["events"]], [2, 3, 4])
        # proves: from after the trimmed broadcast it is complete again
        reply = self.resume(epoch, 1, user="alice")
        self.assertTrue(reply["recovered"])
        self.assertEqual([o for o, _ in reply["events"]], [2, 3, 4])

    def test_audit_answers_channel_and_broadcast_keys(self):
        b = self.start()
        gw = self.xsub(b)
        own = b"g:%016x\x00" % GATEWAY_ID
        gw.send(b"\x01" + own)
        gw.send(b"\x01c:room\x00")
        self.assertEqual(self.next(gw)[1], b"S")
        self.broadcast(data=1)                    # 1
        self.channel("room", data=2)              # 2
        self.channel("room", data=3)              # 3
        self.channel("other", data=4)             # 4: not subscribed
        self.assertEqual(self.next(gw)[3], 2)
        self.assertEqual(self.next(gw)[3], 3)
        keys = [b"\x01room", b"\x02", b"alice", b"\x01other"]
        gw.send(b"A" + struct.pack(">QQ", GATEWAY_ID, 77) + b"".join(k + b"\x00" for k in keys))
        topic, kind, _, offset, rid, rest, body = self.next(gw)
        # proves: the answer on the gateway's topic repeats each key with the
        # stream's last routed offset: a subscribed channel's last event, the
        # epoch's last broadcast, 0 for an offline user and for a channel no
        # gateway subscribes
        self.assertEqual((topic, kind, offset, rid), (own, b"A", 4, 77))
        answer, pos = [], 0
        while pos < len(body):
            nul = body.index(b"\x00", pos)
            answer.append((body[pos:nul], struct.unpack(">Q", body[nul + 1:nul + 9])[0]))
            pos = nul + 9
        self.assertEqual(answer, [(b"\x01room", 3), (b"\x02", 1), (b"alice", 0), (b"\x01other", 0)])
        self.assertEqual(counter(b, "herald_broker_subscriptions_invalid_total"), 0)

    def test_data_dir_keeps_channels_and_broadcasts(self):
        data = os.path.join(self.tmp, "data")
        b = self.start(data_dir=data, history_events=4)
        epoch = self.epoch()
        self.channel("order:17", data=1)          # 1
        self.broadcast(data=2)                    # 2
        self.producer.send("alice", "x", 3)       # 3
        self.channel("order:17", data=4)          # 4
        self.broadcast(data=5)                    # 5
        self.channel(LONG, data=6)                # 6: a 129-byte stream key
        self.wait_offset(b, 6)
        self.sockets.remove(self.producer)
        self.producer.close()
        self.sockets.remove(self.control)
        self.control.close()
        self.brokers.remove(b)
        self.assertEqual(b.stop(), 0)
        b = self.start(data_dir=data, history_events=4)
        # proves: the restarted broker keeps the epoch, and the channel's and
        # the broadcasts' history came back from the store: a channel resume
        # and a user resume (with the broadcasts merged) are complete
        reply = self.resume(epoch, 0, channel="order:17")
        self.assertEqual(reply["epoch"], epoch)
        self.assertEqual(([o for o, _ in reply["events"]], reply["recovered"]), ([1, 4], True))
        self.assertEqual(json.loads(reply["events"][1][1])["data"], 4)
        reply = self.resume(epoch, 0, user="alice")
        self.assertEqual(([o for o, _ in reply["events"]], reply["recovered"]), ([2, 3, 5], True))
        reply = self.resume(epoch, 0, channel=LONG)
        self.assertEqual(([o for o, _ in reply["events"]], reply["recovered"]), ([6], True))
        gw = self.xsub(b)
        self.subscribe_broadcast(gw)
        self.broadcast(data=7)
        # proves: the broadcast chain goes on across the restart: the next
        # broadcast's aux is the last one stored before it
        self.assertEqual(self.next(gw)[1:5], (b"E", int(epoch, 16), 7, 5))


def presence_topic(channel, user, gateway, conn):
    return b"p:%s\x00%s\x00%016x%016x" % (channel.encode(), user.encode(), gateway, conn)


class ChannelPresenceTest(ChannelsCase):
    def settle(self, gw):
        """Returns once the broker has read everything gw sent before."""
        gw.send(b"\x01c:probe\x00")
        self.assertEqual(self.next(gw)[:2], (b"c:probe\x00", b"S"))
        gw.send(b"\x00c:probe\x00")

    def presence(self, channel):
        return self.control.request({"op": "presence", "channel": channel})

    def test_channel_presence_from_presence_topics(self):
        b = self.start()
        gw1, gw2 = self.xsub(b), self.xsub(b)
        for user, conn in (("alice", 1), ("alice", 2), ("bob", 3)):
            gw1.send(b"\x01" + presence_topic("room", user, 0xa1, conn))
        gw1.send(b"\x01" + presence_topic("lobby", "alice", 0xa1, 1))
        gw2.send(b"\x01" + presence_topic("room", "carol", 0xb2, 1))
        self.settle(gw1)
        self.settle(gw2)
        reply = self.presence("room")
        # proves: the distinct users holding a connection in the channel and
        # the connections, from the presence topics of both gateways
        self.assertEqual(sorted(reply.pop("users")), ["alice", "bob", "carol"])
        self.assertEqual(reply, {"channel": "room", "connections": 4, "exact": True,
                                 "truncated": False})
        self.assertEqual(self.presence("lobby")["users"], ["alice"])
        self.assertEqual(self.presence("empty"), {"channel": "empty", "connections": 0,
                                                  "exact": True, "truncated": False,
                                                  "users": []})
        text = b.metrics()
        # proves: a p: topic never makes a user online, and is no invalid topic
        self.assertEqual(metric(text, "herald_broker_users_online", exact=True), 0)
        self.assertFalse(self.control.presence(["alice"])["alice"])
        self.assertEqual(metric(text, "herald_broker_subscriptions_invalid_total", exact=True), 0)
        self.assertEqual(metric(text, "herald_broker_channel_presence_entries", exact=True), 5)

        # proves: a gateway that goes away loses its entries (its pipe's
        # topics are unsubscribed)
        self.sockets.remove(gw2)
        gw2.close()
        wait_until(lambda: self.presence("room")["connections"] == 3, what="carol's entry gone")
        self.assertEqual(sorted(self.presence("room")["users"]), ["alice", "bob"])
        # proves: one connection leaving keeps the user while another holds it
        gw1.send(b"\x00" + presence_topic("room", "alice", 0xa1, 1))
        self.settle(gw1)
        reply = self.presence("room")
        self.assertEqual((sorted(reply["users"]), reply["connections"]), (["alice", "bob"], 2))
        gw1.send(b"\x00" + presence_topic("room", "alice", 0xa1, 2))
        self.settle(gw1)
        self.assertEqual(self.presence("room")["users"], ["bob"])
        # proves: bad requests are answered with their error
        self.assertEqual(self.presence("a b"), {"error": "bad channel"})
        self.assertEqual(self.control.request({"op": "presence", "channel": "x", "users": ["a"]}),
                         {"error": "users or channel"})
        # proves: a malformed presence topic is counted as invalid
        gw1.send(b"\x01p:room\x00bob\x00nothex")
        self.settle(gw1)
        self.assertEqual(counter(b, "herald_broker_subscriptions_invalid_total"), 1)

    def test_presence_bound_refuses_and_says_not_exact(self):
        b = self.start(max_channel_presence=2)
        gw = self.xsub(b)
        for user in ("a", "b", "c"):
            gw.send(b"\x01" + presence_topic("room", user, 1, ord(user)))
        self.settle(gw)
        reply = self.presence("room")
        # proves: the bound holds, the refusal is counted, and answers say
        # not exact while the refused connection may still be there
        self.assertEqual((sorted(reply["users"]), reply["connections"], reply["exact"]),
                         (["a", "b"], 2, False))
        text = b.metrics()
        self.assertEqual(metric(text, "herald_broker_channel_presence_refused_total", exact=True), 1)
        self.assertEqual(metric(text, "herald_broker_channel_presence_overflow", exact=True), 1)
        gw.send(b"\x00" + presence_topic("room", "c", 1, ord("c")))
        self.settle(gw)
        # proves: exact again once the refused topic is unsubscribed
        self.assertTrue(self.presence("room")["exact"])


class ChannelPairTest(unittest.TestCase):
    def test_pair_copy_carries_channels_and_broadcasts(self):
        pair = Pair()
        try:
            pair.start_both()
            producer = Producer(pair)
            control = Control(pair)
            epoch = control.request({"op": "resume", "user": "nobody"})["epoch"]
            for i in range(1, 4):
                producer.send_raw(msgpack.packb({"event": "bid", "channel": "room", "data": i}))
            producer.send_raw(msgpack.packb({"event": "banner", "broadcast": True}))   # 4
            wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_lag_events",
                                      exact=True) == 0
                       and metric(pair.metrics(0), "herald_broker_offset", exact=True) == 4,
                       what="the passive holding all four")
            pair.procs[0].kill()
            # the control client votes on the backup until it takes over
            reply = control.request({"op": "resume", "channel": "room", "epoch": epoch,
                                     "offset": 0})
            # proves: after a takeover the new active answers the channel's
            # resume from its copy: same epoch, every event, complete
            self.assertEqual(reply["epoch"], epoch)
            self.assertEqual(([o for o, _ in reply["events"]], reply["recovered"]),
                             ([1, 2, 3], True))
            reply = control.request({"op": "resume", "user": "bob", "epoch": epoch,
                                     "offset": 0})
            self.assertEqual(([o for o, _ in reply["events"]], reply["recovered"]), ([4], True))
            gw = zmq.Context.instance().socket(zmq.XSUB)
            gw.setsockopt(zmq.LINGER, 0)
            gw.setsockopt(zmq.RCVTIMEO, 5000)
            gw.connect(pair.publish.split(",")[1])
            try:
                gw.send(b"\x01b:\x00")
                gw.send(b"\x01c:probe\x00")
                head = parse_head(gw.recv_multipart())
                self.assertEqual(head[:2], (b"c:probe\x00", b"S"))
                producer.send_raw(msgpack.packb({"event": "banner", "broadcast": True}))
                while True:
                    head = parse_head(gw.recv_multipart())
                    if head[1] != b"T":
                        break
                # proves: the new active continues the broadcast chain from its
                # copy: the next broadcast's aux is offset 4, replicated before
                self.assertEqual((head[0], head[1], head[4]), (b"b:\x00", b"E", 4))
                self.assertGreater(head[3], 1 << 24)   # offsets jumped at the takeover
            finally:
                gw.close()
            producer.close()
            control.close()
        finally:
            pair.stop()


if __name__ == "__main__":
    unittest.main()
