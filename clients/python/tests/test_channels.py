"""test_channels.py -- publish and broadcast reach browsers; token(channels=) and subscription_token() open channels at the gateway."""
import unittest

from support import StackCase, fresh_user


class Channels(StackCase, unittest.TestCase):
    def subscribe(self, ws, channel, token=None):
        frame = {"type": "subscribe", "channel": channel}
        if token:
            frame["token"] = token
        ws.send(frame)
        while True:
            reply = ws.next_frame()
            if reply.get("type") in ("subscribed", "error", "closed"):
                return reply

    def test_channels_claim_lets_a_browser_subscribe(self):
        user = fresh_user("vendor")
        order = "order:" + fresh_user("o")
        ws = self.ws_for(user, token=self.h.token(user, ttl=300, channels=["order:*"]))
        reply = self.subscribe(ws, order)
        self.assertEqual((reply["type"], reply["channel"]), ("subscribed", order),
                         "a channel the token's prefix covers is subscribed")
        self.assertEqual(self.subscribe(ws, "board"),
                         {"type": "error", "channel": "board", "reason": "forbidden"},
                         "a channel outside the claim is refused")
        sent = self.h.publish(order, "bid", {"amount": 7}, confirm=True)
        ev = ws.events(1)[0]
        self.assertEqual((ev["event"], ev["channel"], ev["data"], ev["offset"]),
                         ("bid", order, {"amount": 7}, sent["offset"]),
                         "publish reaches the subscribed browser at the confirmed offset")

    def test_subscription_token(self):
        user = fresh_user("customer")
        order = "order:" + fresh_user("o")
        ws = self.ws_for(user)
        self.assertEqual(self.subscribe(ws, order)["reason"], "forbidden",
                         "no claim and no subscription token: refused")
        reply = self.subscribe(ws, order, token=self.h.subscription_token(user, order))
        self.assertEqual(reply["type"], "subscribed", "the subscription token opens that channel")
        other = self.h.subscription_token(fresh_user("someone-else"), order)
        self.assertEqual(self.subscribe(ws, order + "x", token=other)["reason"], "bad_token",
                         "a subscription token of another user or channel is refused")
        self.assertEqual(self.subscribe(ws, order + "y", token=self.h.subscription_token(
            user, order + "y", ttl=-10))["reason"], "bad_token", "an expired one too")
        self.h.publish(order, "negotiate", "100?")
        self.assertEqual(ws.events(1)[0]["data"], "100?")

    def test_broadcast_reaches_every_browser(self):
        users = [fresh_user("b") for _ in range(2)]
        sockets = [self.ws_for(u) for u in users]
        self.h.broadcast("banner", {"text": "maintenance at 22:00"})
        for ws in sockets:
            ev = ws.events(1)[0]
            self.assertEqual((ev["event"], ev.get("broadcast"), ev["data"]),
                             ("banner", True, {"text": "maintenance at 22:00"}))


if __name__ == "__main__":
    unittest.main()
