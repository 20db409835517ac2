"""test_gateway_delivery.py -- herald-gateway delivers each user's events to
every connection of that user, once, in order, and to nobody else."""
import unittest

from harness import (start_broker_and_gateways, run_async, Gateway, Producer, make_token, metric, wait_until,
                     ws_connect, ws_recv_events)


@run_async
class GatewayDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker, (cls.gateway,) = start_broker_and_gateways()
        cls.producer = Producer(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.producer.close()
        cls.gateway.stop()
        cls.broker.stop()

    async def connect(self, user, gateway=None):
        ws, welcome = await ws_connect((gateway or self.gateway).url, make_token(user))
        self.sockets.append(ws)
        self.assertEqual(welcome["user"], user, "the welcome names the token's user")
        self.assertFalse(welcome["recovered"], "a connection without resume is not 'recovered'")
        return ws

    async def test_three_tabs_each_get_every_event(self):
        tabs = [await self.connect("tabs-user") for _ in range(3)]
        for i in range(10):
            self.producer.send("tabs-user", "bid", {"i": i})
        for n, ws in enumerate(tabs):
            events = await ws_recv_events(ws, 10)
            self.assertEqual([e["data"]["i"] for e in events], list(range(10)),
                             "tab %d got all ten events of its user, in order" % n)

    async def test_multi_recipient_event_reaches_each_once(self):
        bob1, bob2 = await self.connect("mr-bob"), await self.connect("mr-bob")
        carol, dave = await self.connect("mr-carol"), await self.connect("mr-dave")
        self.producer.send(["mr-bob", "mr-carol", "mr-dave"], "negotiate", {"order": 7}, id="n-1")
        for user in ("mr-bob", "mr-carol", "mr-dave"):
            self.producer.send(user, "marker", {"to": user})
        for ws in (bob1, bob2, carol, dave):
            first, second = await ws_recv_events(ws, 2)
            self.assertEqual((first["event"], first["id"], first["data"]), ("negotiate", "n-1", {"order": 7}),
                             "each recipient connection gets the shared event")
            self.assertEqual(second["event"], "marker",
                             "and gets it exactly once (the next frame is the marker)")

    async def test_user_does_not_get_a_prefix_users_events(self):
        alice, alice2 = await self.connect("alice"), await self.connect("alice2")
        for i in range(5):
            self.producer.send("alice2", "secret", {"i": i})
        self.producer.send("alice", "mine", {})
        self.producer.send("alice2", "marker", {})
        first = (await ws_recv_events(alice, 1))[0]
        self.assertEqual(first["event"], "mine", "alice never sees alice2's events")
        events = await ws_recv_events(alice2, 6)
        self.assertEqual([e["event"] for e in events], ["secret"] * 5 + ["marker"],
                         "alice2 gets her own events")

    async def test_two_thousand_events_in_order(self):
        ws = await self.connect("bulk-user")
        total = 2000
        for i in range(total):
            self.producer.send("bulk-user", "tick", {"i": i})
        events = await ws_recv_events(ws, total, timeout=60)
        self.assertEqual([e["data"]["i"] for e in events], list(range(total)),
                         "all 2,000 events arrive in the order they were sent, none missing or repeated")
        offsets = [e["offset"] for e in events]
        self.assertTrue(all(b > a for a, b in zip(offsets, offsets[1:])),
                        "offsets strictly increase")

    async def test_two_gateways_same_user(self):
        other = Gateway(self.broker)
        try:
            here = await self.connect("two-gw-user")
            there = await self.connect("two-gw-user", gateway=other)
            for i in range(100):
                self.producer.send("two-gw-user", "bid", {"i": i})
            for name, ws in (("first gateway", here), ("second gateway", there)):
                events = await ws_recv_events(ws, 100)
                self.assertEqual([e["data"]["i"] for e in events], list(range(100)),
                                 "the connection on the %s got every event in order" % name)
            await there.close()
        finally:
            other.stop()

    async def test_event_to_many_users_over_two_gateways_arrives_once_each(self):
        other = Gateway(self.broker)
        try:
            users = ["many-%d" % i for i in range(12)]
            here = [await self.connect(u) for u in users[:6]]
            there = [await self.connect(u, gateway=other) for u in users[6:]]
            here.append(await self.connect(users[0]))                  # a second tab
            there.append(await self.connect(users[0], gateway=other))  # and one elsewhere
            in_before = [metric(g.metrics(), "herald_gateway_events_in_total")
                         for g in (self.gateway, other)]
            # 12 online users are past the broker's multicast threshold: the
            # event reaches each gateway once, listing every online user
            self.producer.send(users + ["many-offline"], "sale", {"pct": 20}, id="s-1")
            for user in users:
                self.producer.send(user, "marker", {})
            for ws in here + there:
                first, second = await ws_recv_events(ws, 2)
                self.assertEqual((first["event"], first["id"]), ("sale", "s-1"),
                                 "every connection of every listed user gets the event")
                self.assertEqual(second["event"], "marker",
                                 "exactly once: the next frame is its own marker")
            gained = [metric(g.metrics(), "herald_gateway_events_in_total") - before
                      for g, before in zip((self.gateway, other), in_before)]
            self.assertEqual(gained, [6 + 6, 7 + 7],
                             "each gateway took the event for the users it holds and no "
                             "other (plus one marker per user)")
            for ws in there:
                await ws.close()
        finally:
            other.stop()

    async def test_metrics_count_connections_and_frames(self):
        ws = await self.connect("metrics-user")
        self.producer.send("metrics-user", "bid", {})
        await ws_recv_events(ws, 1)
        text = self.gateway.metrics().decode()
        for name in ("herald_gateway_connections", "herald_gateway_users",
                     "herald_gateway_connections_total", "herald_gateway_closes_total",
                     "herald_gateway_auth_failures_total", "herald_gateway_events_in_total",
                     "herald_gateway_frames_out_total", "herald_gateway_events_dropped_total",
                     "herald_gateway_queue_bytes", "herald_gateway_resumes_total"):
            self.assertIn("\n" + name, "\n" + text, "/metrics exposes %s" % name)
        wait_until(lambda: b"herald_gateway_frames_out_total 0\n" not in self.gateway.metrics(),
                   what="frames_out_total counts written frames")


if __name__ == "__main__":
    unittest.main()
