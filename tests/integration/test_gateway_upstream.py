"""test_gateway_upstream.py -- messages from the browser (issue 12), through real processes.

A broker, a gateway with --upstream-events, python-websockets browsers and
a PULL consumer on the broker's --upstream socket. Covers: an allowed send
reaches the consumer as {user, event, data, gateway, at} with the token's
user (a "user" in the frame is ignored); a disallowed event, a data too
large and a send over the rate are answered with their error frame and
counted, and reach nobody; a connection far over the rate is closed 1008;
with no consumer the broker drops and counts; the feature off (no list)
answers every send "upstream".
"""
import asyncio
import json
import re
import time
import unittest

import msgpack
import zmq

from harness import (Broker, Gateway, make_token, metric, recv_json, run_async, wait_until,
                     ws_close_code, ws_connect)

EVENTS = "typing,seen"


def counter(proc, name):
    return metric(proc.metrics(), name, exact=True)


@run_async
class Upstream(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        # rate 0.5/s: within one test's few hundred ms the buckets refill by
        # a tenth of a token at most, so the counts below are exact
        cls.gateway = Gateway(cls.broker, upstream_events=EVENTS, upstream_rate=0.5,
                              upstream_burst=4)
        cls.gateway.wait_linked()
        cls.ctx = zmq.Context()

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()
        cls.ctx.destroy(linger=0)

    def consumer(self):
        pull = self.ctx.socket(zmq.PULL)
        pull.setsockopt(zmq.LINGER, 0)
        pull.connect(self.broker.upstream)
        self.addCleanup(pull.close)
        return pull

    async def connect(self, user):
        ws, _ = await ws_connect(self.gateway.url, make_token(user))
        self.sockets.append(ws)
        return ws

    async def ready(self, pull):
        """Until the broker's PUSH has the consumer's connection: a "seen"
        from a priming connection (a new one every 4 sends, its burst) is
        sent until one arrives; everything read is then drained."""
        deadline = time.monotonic() + 10
        ws = None
        for n in range(1000):
            if time.monotonic() > deadline:
                raise AssertionError("the consumer never got a record")
            if n % 4 == 0:
                ws = await self.connect("primer")
            await ws.send(json.dumps({"type": "send", "event": "seen", "data": n}))
            if pull.poll(200):
                break
        while pull.poll(300):
            pull.recv()

    def records(self, pull, count, timeout=5.0):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not pull.poll(int(left * 1000)):
                raise AssertionError("got %d of %d records" % (len(out), count))
            out.append(msgpack.unpackb(pull.recv(), raw=False))
        return out

    async def test_allowed_send_reaches_the_consumer_as_the_tokens_user(self):
        pull = self.consumer()
        await self.ready(pull)
        sent = counter(self.gateway, "herald_gateway_upstream_sent_total")
        pushed = counter(self.broker, "herald_broker_upstream_pushed_total")
        ws = await self.connect("alice")
        t0 = time.time()
        await ws.send(json.dumps({"type": "send", "event": "typing", "user": "mallory",
                                  "data": {"order": 17, "text": "caf\u00e9", "n": [1, 2.5, None]}}))
        await ws.send(json.dumps({"type": "send", "event": "seen"}))
        rec = self.records(pull, 2)
        t1 = time.time()
        # proves: the record is exactly the five keys, the user is the
        # token's (the frame's "user" was ignored), data arrives as sent
        self.assertEqual(set(rec[0]), {"user", "event", "data", "gateway", "at"})
        self.assertEqual(rec[0]["user"], "alice")
        self.assertEqual(rec[0]["event"], "typing")
        self.assertEqual(rec[0]["data"], {"order": 17, "text": "caf\u00e9", "n": [1, 2.5, None]})
        self.assertRegex(rec[0]["gateway"], r"^[0-9a-f]{16}$")
        self.assertTrue(t0 * 1000 - 1000 <= rec[0]["at"] <= t1 * 1000 + 1000, rec[0]["at"])
        # proves: a send without data carries null, from the same gateway
        self.assertEqual((rec[1]["event"], rec[1]["data"]), ("seen", None))
        self.assertEqual(rec[1]["gateway"], rec[0]["gateway"])
        # proves: both are counted on the way (gateway handed over, broker pushed)
        self.assertEqual(counter(self.gateway, "herald_gateway_upstream_sent_total"), sent + 2)
        wait_until(lambda: counter(self.broker, "herald_broker_upstream_pushed_total") >= pushed + 2,
                   what="the broker's pushed counter")
        # proves: success has no reply (the next frame is the pong to a ping)
        await ws.send(json.dumps({"type": "ping"}))
        self.assertEqual((await recv_json(ws))["type"], "pong")

    async def test_refusals_are_answered_counted_and_go_nowhere(self):
        pull = self.consumer()
        await self.ready(pull)
        refused = lambda r: counter(self.gateway,
                                    'herald_gateway_upstream_refused_total{reason="%s"}' % r)
        before = {r: refused(r) for r in ("upstream", "too_large")}
        ws = await self.connect("bob")
        await ws.send(json.dumps({"type": "send", "event": "chat", "data": "hi"}))
        # proves: an event not in --upstream-events is refused with its name
        self.assertEqual(await recv_json(ws), {"type": "error", "reason": "upstream", "event": "chat"})
        await ws.send(json.dumps({"type": "send", "event": "no spaces!"}))
        # proves: an invalid name is refused too, without being echoed
        self.assertEqual(await recv_json(ws), {"type": "error", "reason": "upstream"})
        await ws.send(json.dumps({"type": "send", "event": "typing", "data": "x" * 5000}))
        # proves: a data over --upstream-max-bytes (4096 by default) is too_large
        self.assertEqual(await recv_json(ws), {"type": "error", "reason": "too_large", "event": "typing"})
        await ws.send(json.dumps({"type": "send", "event": "typing", "data": "y" * 4000}))
        rec = self.records(pull, 1)
        # proves: the refused ones reached nobody; one under the bound did
        self.assertEqual((rec[0]["user"], rec[0]["data"]), ("bob", "y" * 4000))
        self.assertFalse(pull.poll(200), "nothing else was pushed")
        self.assertEqual(refused("upstream"), before["upstream"] + 2)
        self.assertEqual(refused("too_large"), before["too_large"] + 1)

    async def test_rate_then_flood_close(self):
        ws = await self.connect("carol")
        rate = lambda: counter(self.gateway, 'herald_gateway_upstream_refused_total{reason="rate"}')
        before_rate = rate()
        before_1008 = counter(self.gateway, 'herald_gateway_closes_total{code="1008"}')
        for i in range(4):      # the burst
            await ws.send(json.dumps({"type": "send", "event": "typing", "data": i}))
        await ws.send(json.dumps({"type": "ping"}))
        # proves: the burst passed without a word (the next frame is the pong)
        self.assertEqual((await recv_json(ws))["type"], "pong")
        for i in range(4):
            await ws.send(json.dumps({"type": "send", "event": "typing", "data": i}))
            # proves: over the rate each send is answered "rate", the connection stays
            self.assertEqual(await recv_json(ws), {"type": "error", "reason": "rate", "event": "typing"})
        self.assertEqual(rate(), before_rate + 4)
        await ws.send(json.dumps({"type": "send", "event": "typing"}))
        # proves: far over it (the flood bucket dry too) the connection is closed 1008
        self.assertEqual(await ws_close_code(ws), 1008)
        self.assertEqual(counter(self.gateway, 'herald_gateway_upstream_refused_total{reason="flood"}'), 1)
        wait_until(lambda: counter(self.gateway, 'herald_gateway_closes_total{code="1008"}')
                   == before_1008 + 1, what="the 1008 close counted")

    async def test_no_consumer_drops_and_counts(self):
        # no PULL is connected to this broker's --upstream in this test (the
        # others close theirs: wait until the broker's PUSH has none left)
        drops = lambda: counter(self.broker, 'herald_broker_upstream_dropped_total{reason="no_consumer"}')
        received = counter(self.broker, "herald_broker_upstream_received_total")
        ws = await self.connect("dave")
        before = drops()
        # a consumer another test just closed may still hold a pipe for a
        # moment: send (up to the burst) until the broker has none
        for i in range(4):
            await ws.send(json.dumps({"type": "send", "event": "typing", "data": i}))
            try:
                wait_until(lambda: drops() > before, timeout=1.0, what="a drop")
                break
            except AssertionError:
                continue
        # proves: the broker received it and, with nobody to take it, dropped and counted it
        self.assertGreater(counter(self.broker, "herald_broker_upstream_received_total"), received)
        self.assertGreater(drops(), before)

    async def test_feature_off_answers_upstream(self):
        gw = Gateway(self.broker)
        self.addCleanup(gw.stop)
        gw.wait_linked()
        ws, _ = await ws_connect(gw.url, make_token("erin"))
        self.sockets.append(ws)
        await ws.send(json.dumps({"type": "send", "event": "typing"}))
        # proves: without --upstream-events nothing may be sent
        self.assertEqual(await recv_json(ws), {"type": "error", "reason": "upstream", "event": "typing"})
        self.assertEqual(counter(gw, 'herald_gateway_upstream_refused_total{reason="upstream"}'), 1)


if __name__ == "__main__":
    unittest.main()
