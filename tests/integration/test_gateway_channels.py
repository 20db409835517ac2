"""test_gateway_channels.py -- channels and broadcast through real gateways (issue 11).

A broker and two gateways; browsers are python-websockets clients. Covers
the subscribe frame's authorization (claim exact and prefix, subscription
token) and every refusal with its counter, resume per channel on the same
and another gateway, fan-out (one frame per subscribed connection, one
broker message per gateway), broadcast (every connection once, resumed
with the user), presence per channel through control, and unsubscribe and
close ending delivery and presence.
"""
import asyncio
import json
import os
import subprocess
import unittest

from harness import (BIN, SECRET, Broker, Control, Gateway, Producer, make_token, metric, recv_json,
                     run_async, start_broker_and_gateways, wait_until, ws_connect,
                     ws_recv_events, ws_subscribe)

CLAIM = ["board", "order:*"]


def token(user, channels=None, **claims):
    if channels is not None:
        claims["channels"] = channels
    return make_token(user, claims=claims)


def counter(gateway, name):
    return metric(gateway.metrics(), name, exact=True)


def routed(broker, offset):
    """Waits until the broker has accepted every event up to offset (what
    the producer sent is stored before a resume is asked for)."""
    wait_until(lambda: metric(broker.metrics(), "herald_broker_offset", exact=True) >= offset,
               what="the broker at offset %d" % offset)


async def next_of(ws, want, timeout=5.0):
    """The next frame whose type is want (events of other streams may come
    in between: they are returned by ws_recv_events elsewhere)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError("no %s frame in time" % want)
        msg = await recv_json(ws, left)
        if msg.get("type") == want:
            return msg


async def quiet(ws, timeout=0.3):
    """Frames that arrive within timeout (used only to show that nothing
    more came after a marker event proved everything before it arrived)."""
    out = []
    try:
        while True:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except asyncio.TimeoutError:
        return out


@run_async
class GatewayChannels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker, (cls.gateway, cls.other) = start_broker_and_gateways(2, history_events=1000)
        cls.producer = Producer(cls.broker)
        cls.control = Control(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.control.close()
        cls.producer.close()
        cls.other.stop()
        cls.gateway.stop()
        cls.broker.stop()

    async def connect(self, gateway, user, channels=CLAIM, resume=None):
        ws, welcome = await ws_connect(gateway.url, token(user, channels), resume=resume)
        ws.max_queue = 1 << 20
        self.sockets.append(ws)
        return ws, welcome

    async def subscribed(self, ws, channel, **kw):
        msg = await ws_subscribe(ws, channel, **kw)
        self.assertEqual(msg["type"], "subscribed", msg)
        return msg

    async def marker(self, ws, user):
        """Sends alice's own event and waits for it: every channel event
        published before it has arrived by then (one broker, one pipe)."""
        self.producer.send(user, "marker")
        events = []
        while True:
            (e,) = await ws_recv_events(ws, 1)
            if e["event"] == "marker":
                return events
            events.append(e)

    async def test_subscribe_by_exact_name_and_prefix(self):
        ws, welcome = await self.connect(self.gateway, "alice")
        board = await self.subscribed(ws, "board")
        order = await self.subscribed(ws, "order:17")
        # proves: subscribed names the channel, the broker's epoch, and is not
        # recovered without a resume
        self.assertEqual((board["channel"], board["epoch"], board["recovered"]),
                         ("board", welcome["epoch"], False))
        self.assertEqual(order["channel"], "order:17")
        self.producer.publish("order:17", "bid", {"amount": 5}, id="b-1")
        self.producer.publish("order:18", "bid", {"amount": 6})     # not subscribed
        self.producer.publish("board", "posted", {"order": 17})
        got = await self.marker(ws, "alice")
        # proves: channel events carry their channel; an unsubscribed channel
        # (matched by the claim but not subscribed) delivers nothing
        self.assertEqual([(e["event"], e["channel"], e["data"]) for e in got],
                         [("bid", "order:17", {"amount": 5}), ("posted", "board", {"order": 17})])
        self.assertEqual(got[0]["id"], "b-1")
        self.assertGreater(got[1]["offset"], got[0]["offset"])

    async def test_subscription_token(self):
        ws, _ = await self.connect(self.gateway, "tess", channels=None)
        before = counter(self.gateway, 'herald_gateway_subscribe_refused_total{reason="bad_token"}')
        grant = make_token("tess", claims={"channel": "deal:9"})
        # proves: a subscription token for this user and channel authorizes it
        await self.subscribed(ws, "deal:9", token=grant)
        for bad in (make_token("bob", claims={"channel": "deal:10"}),    # another user
                    make_token("tess", claims={"channel": "deal:11"}),   # another channel
                    make_token("tess", claims={"channel": "deal:10"}, ttl=-60),   # expired
                    make_token("tess", secret="wrong", claims={"channel": "deal:10"})):
            msg = await ws_subscribe(ws, "deal:10", token=bad)
            # proves: a token that does not grant exactly this is bad_token
            self.assertEqual(msg, {"type": "error", "channel": "deal:10", "reason": "bad_token"})
        self.assertEqual(counter(self.gateway, 'herald_gateway_subscribe_refused_total{reason="bad_token"}'),
                         before + 4)
        self.producer.publish("deal:9", "offer", 1)
        got = await self.marker(ws, "tess")
        self.assertEqual([e["channel"] for e in got], ["deal:9"])

    async def test_every_refusal_is_answered_and_counted(self):
        limited = Gateway(self.broker, max_channels_per_connection=2)
        try:
            ws, _ = await ws_connect(limited.url, token("rita", ["a", "b", "c", "board"]))
            self.sockets.append(ws)
            name = 'herald_gateway_subscribe_refused_total{reason="%s"}'
            before = {r: counter(limited, name % r)
                      for r in ("forbidden", "bad_channel", "limit", "bad_token", "not_subscribed")}
            replies = [await ws_subscribe(ws, "secret")]
            replies.append(await ws_subscribe(ws, "has space"))
            replies.append(await ws_subscribe(ws, "x" * 129))
            await self.subscribed(ws, "a")
            await self.subscribed(ws, "b")
            replies.append(await ws_subscribe(ws, "c"))
            replies.append(await ws_subscribe(ws, "secret", token="not.a.token"))
            await ws.send(json.dumps({"type": "unsubscribe", "channel": "board"}))
            replies.append(await next_of(ws, "error"))
            await ws.send(json.dumps({"type": "subscribe"}))
            replies.append(await next_of(ws, "error"))
            # proves: each refusal is an error frame naming the channel and
            # the reason, and the connection stays open
            self.assertEqual(replies, [
                {"type": "error", "channel": "secret", "reason": "forbidden"},
                {"type": "error", "channel": "has space", "reason": "bad_channel"},
                {"type": "error", "channel": "x" * 129, "reason": "bad_channel"},
                {"type": "error", "channel": "c", "reason": "limit"},
                {"type": "error", "channel": "secret", "reason": "bad_token"},
                {"type": "error", "channel": "board", "reason": "not_subscribed"},
                {"type": "error", "reason": "bad_channel"},
            ])
            # proves: each is counted under its reason
            after = {r: counter(limited, name % r) for r in before}
            self.assertEqual({r: after[r] - before[r] for r in before},
                             {"forbidden": 1, "bad_channel": 3, "limit": 1, "bad_token": 1,
                              "not_subscribed": 1})
            # proves: leaving one frees a place under the limit
            await ws.send(json.dumps({"type": "unsubscribe", "channel": "a"}))
            self.assertEqual(await next_of(ws, "unsubscribed"), {"type": "unsubscribed", "channel": "a"})
            await self.subscribed(ws, "c")
            self.assertEqual(counter(limited, "herald_gateway_channel_subscriptions"), 2)
        finally:
            limited.stop()

    async def test_second_subscribe_is_answered_without_a_second_subscription(self):
        ws, _ = await self.connect(self.gateway, "dora")
        first = await self.subscribed(ws, "order:2")
        subs = counter(self.gateway, "herald_gateway_channel_subscriptions")
        again = await self.subscribed(ws, "order:2")
        self.assertEqual((again["epoch"], again["channel"]), (first["epoch"], "order:2"))
        self.assertEqual(counter(self.gateway, "herald_gateway_channel_subscriptions"), subs)
        self.producer.publish("order:2", "bid", 1)
        got = await self.marker(ws, "dora")
        # proves: one subscription, so each event comes once
        self.assertEqual([e["channel"] for e in got], ["order:2"])

    async def test_subscribe_before_the_welcome_is_answered_after_it(self):
        import websockets
        ws = await websockets.connect(self.gateway.url, ping_interval=None)
        self.sockets.append(ws)
        await ws.send(json.dumps({"type": "auth", "token": token("earl", CLAIM)}))
        await ws.send(json.dumps({"type": "subscribe", "channel": "board"}))
        first = await recv_json(ws)
        second = await recv_json(ws)
        # proves: the welcome goes first, the subscribed after it
        self.assertEqual((first["type"], second["type"], second["channel"]),
                         ("welcome", "subscribed", "board"))

    async def resume_case(self, back_gateway, channel):
        ws, _ = await self.connect(self.gateway, "vera")
        sub = await self.subscribed(ws, channel)
        for i in range(3):
            self.producer.publish(channel, "bid", i)
        seen = await ws_recv_events(ws, 3)
        await ws.close()
        for i in range(3, 6):
            self.producer.publish(channel, "bid", i)
        # another channel's events in between are not this channel's replay
        self.producer.publish(channel + "x", "noise", 0)
        routed(self.broker, seen[-1]["offset"] + 4)
        again, _ = await self.connect(back_gateway, "vera")
        resume = {"epoch": sub["epoch"], "offset": seen[-1]["offset"]}
        back = await self.subscribed(again, channel, resume=resume)
        # proves: history covered everything after the position: recovered
        self.assertTrue(back["recovered"], back)
        missed = await ws_recv_events(again, 3)
        self.assertEqual([e["data"] for e in missed], [3, 4, 5])
        self.assertTrue(all(e["channel"] == channel for e in missed))
        self.producer.publish(channel, "bid", 6)
        (live,) = await ws_recv_events(again, 1)
        # proves: live events follow the replay with nothing twice
        self.assertEqual(live["data"], 6)

    async def test_resume_on_the_same_gateway(self):
        await self.resume_case(self.gateway, "order:31")

    async def test_resume_on_another_gateway(self):
        await self.resume_case(self.other, "order:32")

    async def test_resume_naming_another_epoch_starts_over(self):
        ws, _ = await self.connect(self.other, "ursa")
        self.producer.publish("order:33", "bid", 0)
        back = await self.subscribed(ws, "order:33", resume={"epoch": "0123456789abcdef", "offset": 1})
        # proves: a foreign epoch is not recovered and replays nothing
        self.assertFalse(back["recovered"])
        self.producer.publish("order:33", "bid", 1)
        got = await self.marker(ws, "ursa")
        self.assertEqual([e["data"] for e in got], [1])

    async def test_one_frame_per_connection_one_message_per_gateway(self):
        a1, _ = await self.connect(self.gateway, "fan1")
        a2, _ = await self.connect(self.gateway, "fan2")
        b1, _ = await self.connect(self.other, "fan3")
        for ws in (a1, a2, b1):
            await self.subscribed(ws, "board")
        gw_in = counter(self.gateway, "herald_gateway_events_in_total")
        gw_frames = counter(self.gateway, "herald_gateway_channel_frames_total")
        other_frames = counter(self.other, "herald_gateway_channel_frames_total")
        for i in range(5):
            self.producer.publish("board", "posted", i)
        for ws, user in ((a1, "fan1"), (a2, "fan2"), (b1, "fan3")):
            got = await self.marker(ws, user)
            # proves: every subscribed connection gets every event once, in order
            self.assertEqual([e["data"] for e in got if e["event"] == "posted"], [0, 1, 2, 3, 4])
        # proves: the gateway got each event once (plus the two markers),
        # however many of its connections follow the channel
        self.assertEqual(counter(self.gateway, "herald_gateway_events_in_total") - gw_in, 5 + 2)
        self.assertGreaterEqual(counter(self.gateway, "herald_gateway_channel_frames_total") - gw_frames, 10)
        self.assertGreaterEqual(counter(self.other, "herald_gateway_channel_frames_total") - other_frames, 5)

    async def test_broadcast_reaches_every_connection_once(self):
        c1, _ = await self.connect(self.gateway, "bea")
        c2, _ = await self.connect(self.gateway, "bea")       # the same user twice
        c3, _ = await self.connect(self.other, "cal")
        await self.subscribed(c1, "board")                    # channels do not double it
        self.producer.broadcast("banner", {"text": "hi"})
        for ws, user in ((c1, "bea"), (c2, "bea"), (c3, "cal")):
            got = await self.marker(ws, user)
            banners = [e for e in got if e["event"] == "banner"]
            # proves: each connection gets the broadcast exactly once, marked so
            self.assertEqual(len(banners), 1, got)
            self.assertTrue(banners[0]["broadcast"])
            self.assertNotIn("channel", banners[0])

    async def test_broadcast_missed_is_resumed_with_the_user(self):
        ws, welcome = await self.connect(self.gateway, "max")
        self.producer.send("max", "own", 1)
        (own,) = await ws_recv_events(ws, 1)
        await ws.close()
        self.producer.broadcast("banner", 2)
        self.producer.send("max", "own", 3)
        routed(self.broker, own["offset"] + 2)
        again, back = await self.connect(self.other, "max",
                                         resume={"epoch": welcome["epoch"], "offset": own["offset"]})
        # proves: the user's resume covers the broadcasts it missed, in order
        self.assertTrue(back["recovered"])
        missed = await ws_recv_events(again, 2)
        self.assertEqual([(e["event"], e["data"]) for e in missed], [("banner", 2), ("own", 3)])

    async def test_herald_token_channel_flags(self):
        def herald_token(*args):
            env = dict(os.environ, HERALD_SECRET=SECRET)
            env.pop("HERALD_SECRET_FILE", None)
            return subprocess.run([os.path.join(BIN, "herald-token")] + list(args), env=env,
                                  capture_output=True, text=True, timeout=10)
        minted = herald_token("--user", "tom", "--channel", "board", "--channel", "order:*")
        self.assertEqual(minted.returncode, 0, minted.stderr)
        ws, _ = await ws_connect(self.gateway.url, minted.stdout.strip())
        self.sockets.append(ws)
        # proves: --channel fills the channels claim, exact names and prefixes
        await self.subscribed(ws, "board")
        await self.subscribed(ws, "order:5")
        self.assertEqual((await ws_subscribe(ws, "deal:1"))["reason"], "forbidden")
        grant = herald_token("--user", "tom", "--subscription", "deal:1")
        self.assertEqual(grant.returncode, 0, grant.stderr)
        # proves: --subscription mints a subscription token for the user
        await self.subscribed(ws, "deal:1", token=grant.stdout.strip())
        other = herald_token("--user", "ann", "--subscription", "deal:2").stdout.strip()
        self.assertEqual((await ws_subscribe(ws, "deal:2", token=other))["reason"], "bad_token")
        # proves: bad channel flags are refused with a usage error and no token
        for args in (["--channel", "has space"], ["--channel", "a*b"], ["--subscription", "order:*"],
                     ["--subscription", "x", "--channel", "y"], ["--channel", "c" * 129]):
            r = herald_token("--user", "tom", *args)
            self.assertEqual((r.returncode, r.stdout), (2, ""), args)
            self.assertIn("herald-token:", r.stderr)

    def presence(self, channel):
        return self.control.request({"op": "presence", "channel": channel})

    async def test_presence_unsubscribe_and_close(self):
        p1, _ = await self.connect(self.gateway, "pia")
        p2, _ = await self.connect(self.other, "pia")
        p3, _ = await self.connect(self.other, "paul")
        for ws in (p1, p2, p3):
            await self.subscribed(ws, "order:77")
        # proves: the broker counts each connection's presence in the channel
        wait_until(lambda: self.presence("order:77")["connections"] == 3, what="3 connections present")
        self.assertEqual(sorted(self.presence("order:77")["users"]), ["paul", "pia"])
        await p3.send(json.dumps({"type": "unsubscribe", "channel": "order:77"}))
        await next_of(p3, "unsubscribed")
        self.producer.publish("order:77", "bid", 1)
        # proves: unsubscribe stops delivery on that connection (the marker
        # came after the event, and the event did not)
        self.assertEqual(await self.marker(p3, "paul"), [])
        (e,) = await ws_recv_events(p2, 1)
        self.assertEqual(e["channel"], "order:77")
        # proves: and ends its presence
        wait_until(lambda: self.presence("order:77")["users"] == ["pia"], what="paul left")
        await p2.close()
        wait_until(lambda: self.presence("order:77")["connections"] == 1, what="the closed one left")
        await p1.close()
        wait_until(lambda: self.presence("order:77")["connections"] == 0, what="nobody left")
        self.assertEqual(self.presence("order:77")["users"], [])


@run_async
class GatewayChannelsShortHistory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker, (cls.gateway,) = start_broker_and_gateways(1, history_events=3)
        cls.producer = Producer(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.producer.close()
        cls.gateway.stop()
        cls.broker.stop()

    async def test_resume_past_history_is_not_recovered(self):
        ws, _ = await ws_connect(self.gateway.url, token("hal", ["room"]))
        self.sockets.append(ws)
        sub = await ws_subscribe(ws, "room")
        self.producer.publish("room", "m", 0)
        (first,) = await ws_recv_events(ws, 1)
        await ws.close()
        for i in range(1, 7):
            self.producer.publish("room", "m", i)
        routed(self.broker, first["offset"] + 6)
        again, _ = await ws_connect(self.gateway.url, token("hal", ["room"]))
        self.sockets.append(again)
        back = await ws_subscribe(again, "room", resume={"epoch": sub["epoch"], "offset": first["offset"]})
        # proves: a channel history trimmed past the position says recovered:false
        self.assertFalse(back["recovered"], back)
        self.producer.publish("room", "m", 7)
        got = await ws_recv_events(again, 4)
        # proves: what history still holds (the last 3) is replayed, as for
        # a user's welcome, then live events follow
        self.assertEqual([e["data"] for e in got], [4, 5, 6, 7])


if __name__ == "__main__":
    unittest.main()
