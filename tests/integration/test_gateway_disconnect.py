"""test_gateway_disconnect.py -- control {"op":"disconnect","user":U} closes
every connection of U on every gateway with 4003 and nobody else's; the
reply says whether U was online and whether the request was published."""
import json
import unittest

from harness import (Control, Producer, make_token, metric, recv_json, run_async, start_broker_and_gateways,
                     wait_until, ws_close_code, ws_connect, ws_recv_events)


@run_async
class Disconnect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker, cls.gateways = start_broker_and_gateways(gateways=2)
        cls.control = Control(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.control.close()
        for g in cls.gateways:
            g.stop()
        cls.broker.stop()

    async def test_disconnect_alice_on_both_gateways(self):
        g0, g1 = self.gateways
        alice0, _ = await ws_connect(g0.url, make_token("alice"))
        alice1, _ = await ws_connect(g1.url, make_token("alice"))
        bob, _ = await ws_connect(g0.url, make_token("bob"))
        wait_until(lambda: self.control.presence(["alice", "bob"]) == {"alice": True, "bob": True},
                   what="alice and bob online")
        gw_before = [(metric(g.metrics(), 'herald_gateway_closes_total{code="4003"}', exact=True),
                      metric(g.metrics(), "herald_gateway_disconnects_total", exact=True)) for g in (g0, g1)]
        broker_before = metric(self.broker.metrics(), "herald_broker_disconnects_total", exact=True)
        reply = self.control.request({"op": "disconnect", "user": "alice"})
        self.assertEqual(reply, {"user": "alice", "online": True, "sent": True},
                         "the reply names the user, says they were online and that the request went out")
        self.assertEqual(await ws_close_code(alice0), 4003, "alice's connection on gateway 0 is closed with 4003")
        self.assertEqual(await ws_close_code(alice1), 4003, "alice's connection on gateway 1 is closed with 4003")
        wait_until(lambda: self.control.presence(["alice"]) == {"alice": False}, what="alice offline")
        producer = Producer(self.broker)
        try:
            producer.send("bob", "still-here", {"n": 1})
            events = await ws_recv_events(bob, 1)
        finally:
            producer.close()
        self.assertEqual(events[0]["event"], "still-here", "bob's connection on the same gateway is untouched")
        await bob.send('{"type":"ping"}')
        self.assertEqual(await recv_json(bob), {"type": "pong"}, "and still answers")
        for g, (closes, disconnects) in zip((g0, g1), gw_before):
            wait_until(lambda: metric(g.metrics(), 'herald_gateway_closes_total{code="4003"}', exact=True) == closes + 1,
                       what="each gateway counts one 4003 close")
            self.assertEqual(metric(g.metrics(), "herald_gateway_disconnects_total", exact=True), disconnects + 1,
                             "and one backend disconnect")
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_disconnects_total", exact=True), broker_before + 1,
                         "the broker counts the published disconnect")
        await bob.close()

    async def test_disconnect_offline_and_bad_requests(self):
        self.assertEqual(self.control.request({"op": "disconnect", "user": "nobody-here"}),
                         {"user": "nobody-here", "online": False, "sent": True},
                         "an offline user: the reply says so")
        self.assertIn("error", self.control.request({"op": "disconnect"}), "no user is an error")
        self.assertIn("error", self.control.request({"op": "disconnect", "user": ""}), "an empty user is an error")
        self.assertIn("error", self.control.request({"op": "disconnect", "user": 7}), "a numeric user is an error")


if __name__ == "__main__":
    unittest.main()
