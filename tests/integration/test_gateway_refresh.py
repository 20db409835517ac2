"""test_gateway_refresh.py -- a connection outlives its token only by
refreshing it: at exp the gateway closes with 4002, a valid later token for
the same user moves the deadline ({"type":"refreshed","exp":N}), and any
other refresh is answered with an error and changes nothing."""
import asyncio
import json
import time
import unittest

from harness import Broker, Gateway, make_token, metric, recv_json, run_async, wait_until, ws_close_code, ws_connect


@run_async
class Refresh(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        cls.gateway = Gateway(cls.broker, token_leeway=0)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()

    def count(self, key):
        return metric(self.gateway.metrics(), key, exact=True)

    async def test_closed_with_4002_at_exp(self):
        before = self.count("herald_gateway_token_expiries_total")
        exp = int(time.time()) + 2
        ws, welcome = await ws_connect(self.gateway.url, make_token("short", exp=exp))
        self.assertEqual(welcome["type"], "welcome")
        self.assertEqual(await ws_close_code(ws, timeout=10), 4002,
                         "a connection whose token runs out without a refresh is closed with 4002")
        self.assertGreaterEqual(time.time(), exp - 0.5, "not before the token's exp")
        wait_until(lambda: self.count("herald_gateway_token_expiries_total") == before + 1,
                   what="the expiry close is counted")

    async def test_refresh_moves_the_deadline(self):
        before = self.count('herald_gateway_refreshes_total{result="ok"}')
        exp = int(time.time()) + 2
        ws, _ = await ws_connect(self.gateway.url, make_token("renew", exp=exp))
        later = exp + 3
        await ws.send(json.dumps({"type": "refresh", "token": make_token("renew", exp=later)}))
        self.assertEqual(await recv_json(ws), {"type": "refreshed", "exp": later},
                         "a valid later token for the same user is acknowledged with its exp")
        wait_until(lambda: time.time() > exp + 1, timeout=10, what="the first token's exp to pass")
        await ws.send('{"type":"ping"}')
        self.assertEqual(await recv_json(ws), {"type": "pong"},
                         "the refreshed connection is still open after the first token's exp")
        self.assertEqual(await ws_close_code(ws, timeout=10), 4002,
                         "and is closed with 4002 at the refreshed token's exp")
        self.assertGreaterEqual(time.time(), later - 0.5, "not before the new exp")
        self.assertEqual(self.count('herald_gateway_refreshes_total{result="ok"}'), before + 1,
                         "the refresh is counted")

    async def test_refused_refreshes_change_nothing(self):
        before = self.count('herald_gateway_refreshes_total{result="refused"}')
        exp = int(time.time()) + 4
        ws, _ = await ws_connect(self.gateway.url, make_token("keep", exp=exp))
        cases = [
            (make_token("mallory", exp=exp + 60), "other_user", "a token for another user"),
            (make_token("keep", exp=exp + 60, secret="wrong-secret"), "bad_token", "a badly signed token"),
            (make_token("keep", exp=exp - 1), "not_later", "a token expiring sooner"),
            (make_token("keep", exp=int(time.time()) - 10), "expired", "an expired token"),
            (17, "bad_token", "a token that is not a string"),
        ]
        for token, detail, what in cases:
            await ws.send(json.dumps({"type": "refresh", "token": token}))
            self.assertEqual(await recv_json(ws), {"type": "error", "reason": "refresh", "detail": detail},
                             "%s is refused with an error frame" % what)
        await ws.send('{"type":"ping"}')
        self.assertEqual(await recv_json(ws), {"type": "pong"}, "the connection stays open after refusals")
        self.assertEqual(await ws_close_code(ws, timeout=10), 4002,
                         "refused refreshes leave the original deadline: closed with 4002 at its exp")
        self.assertEqual(self.count('herald_gateway_refreshes_total{result="refused"}'), before + len(cases),
                         "each refusal is counted")

    async def test_refresh_before_auth_is_4000(self):
        ws, _ = await ws_connect(self.gateway.url)
        await ws.send(json.dumps({"type": "refresh", "token": make_token("early")}))
        self.assertEqual(await ws_close_code(ws), 4000, "a refresh as the first frame is malformed (4000)")


if __name__ == "__main__":
    unittest.main()
