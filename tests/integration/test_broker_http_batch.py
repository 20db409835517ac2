"""test_broker_http_batch.py -- POST /batch: many envelopes (JSON lines) in one request.

A real broker and gateway; urllib plays the backend, websocket clients the
browsers, a raw PULL socket the fallback worker.
"""
import json
import os
import unittest

import msgpack
import zmq

from harness import (Broker, http_post, make_token, metric, run_async,
                     start_broker_and_gateways, wait_until, ws_connect, ws_recv_events,
                     ws_subscribe)

NDJSON = "application/x-ndjson"


def lines(*objs):
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


@run_async
class BrokerHttpBatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker, cls.gateways = start_broker_and_gateways(1, history_events=100)

    @classmethod
    def tearDownClass(cls):
        for gateway in cls.gateways:
            gateway.stop()
        cls.broker.stop()

    def post(self, body, content_type=NDJSON, headers=None, broker=None):
        status, raw = http_post((broker or self.broker).http + "/batch", body, content_type,
                                headers=headers)
        return status, json.loads(raw)

    async def test_one_post_routes_every_line_in_order(self):
        gw = self.gateways[0]
        alice, _ = await ws_connect(gw.url, make_token("alice", claims={"channels": ["order:*"]}))
        bob, _ = await ws_connect(gw.url, make_token("bob"))
        self.sockets += [alice, bob]
        self.assertEqual((await ws_subscribe(alice, "order:17"))["type"], "subscribed")
        body = lines({"event": "bid", "to": "alice", "data": {"amount": 5}, "id": "b-1"},
                     {"event": "bid", "to": ["alice", "bob"], "data": 2},
                     {"event": "price", "channel": "order:17", "data": 1.5},
                     {"event": "banner", "broadcast": True},
                     {"event": "bid", "to": "nobody-online", "data": None})
        status, reply = self.post(body)
        # proves: a batch answers 200 with one result per line, in order, each
        # with its own offset (increasing: routed in the order sent) and
        # whether a recipient was online
        self.assertEqual(status, 200, reply)
        self.assertEqual((reply["accepted"], reply["refused"]), (5, 0))
        results = reply["results"]
        self.assertEqual([r["online"] for r in results], [True, True, True, True, False])
        offsets = [r["offset"] for r in results]
        self.assertEqual(offsets, sorted(offsets))
        self.assertEqual(len(set(offsets)), 5)
        got = await ws_recv_events(alice, 4)
        # proves: each line reached its recipients as if posted alone: user,
        # multi-user, channel and broadcast events, with their data and id
        self.assertEqual([(e["event"], e["offset"]) for e in got],
                         list(zip(["bid", "bid", "price", "banner"], offsets[:4])))
        self.assertEqual(got[0]["data"], {"amount": 5})
        self.assertEqual(got[0]["id"], "b-1")
        self.assertEqual(got[2]["channel"], "order:17")
        self.assertTrue(got[3]["broadcast"])
        got = await ws_recv_events(bob, 2)
        self.assertEqual([e["offset"] for e in got], [offsets[1], offsets[3]])

    async def test_bad_lines_are_refused_alone_and_counted(self):
        gw = self.gateways[0]
        carol, _ = await ws_connect(gw.url, make_token("carol"))
        self.sockets.append(carol)
        before = self.broker.metrics()
        body = (lines({"event": "ok1", "to": "carol"}) + b"not json\n" + b"[1,2]\n"
                + lines({"event": "bad name!", "to": "carol"}, {"event": "x"},
                        {"event": "ok2", "to": "carol", "idempotency_key": "k-1"},
                        {"event": "ok2", "to": "carol", "idempotency_key": "k-1"}))
        status, reply = self.post(body)
        # proves: bad lines do not spoil the batch: each gets its own reason
        # (the envelope's names from PROTOCOL.md, or the batch's own), the good
        # ones are routed, and an idempotency key repeated within the batch is
        # answered duplicate with the first offset
        self.assertEqual(status, 200, reply)
        r = reply["results"]
        self.assertEqual((reply["accepted"], reply["refused"]), (3, 4), reply)
        self.assertEqual([x.get("error") for x in r],
                         [None, "not_json", "not_object", "bad_event", "bad_to", None, None])
        self.assertEqual(r[6], {"offset": r[5]["offset"], "online": True, "duplicate": True})
        got = await ws_recv_events(carol, 2)
        self.assertEqual([e["event"] for e in got], ["ok1", "ok2"])
        after = self.broker.metrics()
        # proves: every line is counted: two refused before routing, the
        # rest handed to the router, which counts its own refusals by reason
        def delta(name):
            return metric(after, name, exact=True) - metric(before, name, exact=True)
        self.assertEqual(delta('herald_broker_http_batch_lines_total{outcome="unparsed"}'), 2)
        self.assertEqual(delta('herald_broker_http_batch_lines_total{outcome="routed"}'), 5)
        self.assertEqual(delta('herald_broker_events_rejected_total{reason="bad_event"}'), 1)

    async def test_whole_body_refusals(self):
        # proves: a body that is not JSON lines, an empty one, more than 1000
        # lines or an Idempotency-Key header (keys are per line) is 400 with a
        # reason, and nothing of it is routed
        for body, ctype, headers, needle in [
                (lines({"event": "a", "to": "x"}), "application/json", None, "x-ndjson"),
                (b"", NDJSON, None, "no events"),
                (b"\n\n", NDJSON, None, "no events"),
                (lines(*[{"event": "a", "to": "x"}] * 1001), NDJSON, None, "1000"),
                (lines({"event": "a", "to": "x"}), NDJSON, {"Idempotency-Key": "k"}, "idempotency_key")]:
            status, reply = self.post(body, ctype, headers)
            self.assertEqual(status, 400, (needle, reply))
            self.assertIn(needle, reply["error"])

    async def test_the_http_key_guards_batch_too(self):
        key = "k" * 32
        path = "/tmp/herald-test-batch-key-%d" % os.getpid()
        with open(path, "w") as f:
            f.write(key + "\n")
        self.addCleanup(os.unlink, path)
        broker = Broker(http_key_file=path)
        self.addCleanup(broker.stop)
        body = lines({"event": "a", "to": "x"})
        status, reply = self.post(body, broker=broker)
        # proves: with --http-key-file a batch without the Bearer key is 401
        self.assertEqual(status, 401, reply)
        status, reply = self.post(body, headers={"Authorization": "Bearer " + key}, broker=broker)
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply["results"][0]["online"], False)

    async def test_offline_lines_go_to_the_undelivered_stream(self):
        worker = zmq.Context.instance().socket(zmq.PULL)
        worker.setsockopt(zmq.LINGER, 0)
        worker.setsockopt(zmq.RCVTIMEO, 200)
        worker.connect(self.broker.undelivered)
        self.addCleanup(worker.close)

        def probe():
            self.post(lines({"event": "probe", "to": "probe"}))
            try:
                return msgpack.unpackb(worker.recv(), raw=False)
            except zmq.Again:
                return None
        wait_until(probe, what="worker attached")
        while True:   # drain the probes
            try:
                worker.recv()
            except zmq.Again:
                break
        worker.setsockopt(zmq.RCVTIMEO, 5000)
        status, reply = self.post(lines({"event": "sms", "to": "dan", "data": 1},
                                        {"event": "sms", "to": "erin", "data": 2}))
        self.assertEqual(status, 200, reply)
        notices = [msgpack.unpackb(worker.recv(), raw=False) for _ in range(2)]
        # proves: offline recipients of batch lines get undelivered notices as
        # single posts do, with each line's offset
        self.assertEqual([(n["to"], n["offset"], n["reason"]) for n in notices],
                         [("dan", reply["results"][0]["offset"], "offline"),
                          ("erin", reply["results"][1]["offset"], "offline")])


if __name__ == "__main__":
    unittest.main()
