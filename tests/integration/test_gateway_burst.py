"""A burst of new users on one gateway: every subscription reaches the broker
the first time (none lost at a ZeroMQ high-water mark and sent again later)."""
import asyncio
import json
import unittest

from harness import Broker, Control, Gateway, make_token, metric, run_async, wait_until

USERS = 3000


@run_async
class GatewayBurst(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.gateway = Gateway(self.broker, max_queue_bytes=1 << 20)

    def tearDown(self):
        self.gateway.stop()
        self.broker.stop()

    async def test_burst_of_users_subscribes_each_once(self):
        import websockets
        names = ["burst%d" % i for i in range(USERS)]
        # Open every connection first, then send every auth back to back, so
        # the gateway subscribes thousands of users within a few milliseconds.
        conns = await asyncio.gather(*[
            websockets.connect(self.gateway.url, open_timeout=30, ping_interval=None)
            for _ in names])
        self.sockets.extend(conns)
        await asyncio.gather(*[
            ws.send(json.dumps({"type": "auth", "token": make_token(name)}))
            for ws, name in zip(conns, names)])
        welcomes = await asyncio.gather(*[asyncio.wait_for(ws.recv(), 60) for ws in conns])
        self.assertTrue(all(json.loads(w)["type"] == "welcome" for w in welcomes),
                        "every one of %d new users is welcomed" % USERS)
        control = Control(self.broker)
        try:
            online = wait_until(lambda: all(control.presence(names).values()) and True,
                                timeout=10, what="broker presence for every user")
        finally:
            control.close()
        self.assertTrue(online, "the broker sees every user online")
        resubscribed = metric(self.gateway.metrics(), "herald_gateway_resubscribes_total")
        self.assertEqual(resubscribed, 0,
                         "no subscription was lost and sent again (got %r resubscribes)" % resubscribed)


if __name__ == "__main__":
    unittest.main()
