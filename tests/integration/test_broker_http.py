"""test_broker_http.py -- the broker's HTTP side: POST /message, /channel, /broadcast, /healthz, /metrics, SIGTERM.

urllib plays the seed-era backend; raw SUB/PULL sockets play a gateway and a
fallback worker; for channels and broadcasts, real gateways and websocket
clients.
"""
import asyncio
import json
import os
import signal
import unittest
import urllib.parse

import msgpack
import zmq

from harness import (Broker, Control, http_get, http_post, make_token, metric, parse_published,
                     recv_published, run_async, start_broker_and_gateways, subscribe, wait_until,
                     ws_connect, ws_recv_events, ws_subscribe)


def next_event(sub):
    while True:
        kind, _, _, users, body = parse_published(recv_published(sub))
        if kind == b"E":
            return b"u:" + users[0].encode() + b"\x00", json.loads(body)


class BrokerHttpTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(max_event_bytes=4096)
        self.url = self.broker.http + "/message/"

    def tearDown(self):
        code = self.broker.stop()
        # proves: the broker shut down cleanly on SIGTERM (status 0; under
        # AddressSanitizer a leak or error would make it non-zero)
        with open(self.broker.log_path, errors="replace") as log:
            self.assertEqual(code, 0, log.read()[-2000:])

    def post(self, event, user, body=b"", content_type="application/json", headers=None):
        path = urllib.parse.quote(event, safe="") + "/" + urllib.parse.quote(user, safe="")
        status, raw = http_post(self.url + path, body, content_type, headers=headers)
        return status, json.loads(raw)

    def keyed_broker(self):
        """Replaces the broker with one that needs a Bearer key (form bodies
        are accepted only then); returns the Authorization header."""
        key = "k" * 32
        path = "/tmp/herald-test-http-key-%d" % os.getpid()
        with open(path, "w") as f:
            f.write(key + "\n")
        self.addCleanup(os.unlink, path)
        self.broker.stop()
        self.broker = Broker(max_event_bytes=4096, http_key_file=path)
        self.url = self.broker.http + "/message/"
        return {"Authorization": "Bearer " + key}

    def test_json_post_to_online_user_is_200_and_published(self):
        sub, _ = subscribe(self.broker, "alice")
        status, reply = self.post("bid", "alice", b'{"amount":120,"vendor":"v7"}')
        # proves: an online recipient answers 200 with online true and the
        # event's offset, and the event is published with the body as data
        self.assertEqual((status, reply), (200, {"online": True, "offset": 1}))
        topic, event = next_event(sub)
        self.assertEqual(topic, b"u:alice\x00")
        self.assertEqual(event, {"type": "event", "event": "bid",
                                 "data": {"amount": 120, "vendor": "v7"}, "offset": 1})
        sub.close()

    def test_form_post_and_encoded_user(self):
        auth = self.keyed_broker()
        user = "jos\u00e9 / 7+1"
        sub, _ = subscribe(self.broker, user)
        status, reply = self.post("negotiate", user, b"order=9&note=hello+there%21",
                                  "application/x-www-form-urlencoded", headers=auth)
        # proves: a form body becomes an object of strings, and a URL-encoded
        # user id (non-ASCII, '/', '+', space) reaches the right topic
        self.assertEqual(status, 200, reply)
        topic, event = next_event(sub)
        self.assertEqual(topic, b"u:" + user.encode() + b"\x00")
        self.assertEqual(event["data"], {"order": "9", "note": "hello there!"})
        sub.close()
        # proves: with the key, a malformed form is still a 400 with its reason
        status, reply = self.post("bid", "alice", b"a=%zz", "application/x-www-form-urlencoded",
                                  headers=auth)
        self.assertEqual((status, reply), (400, {"error": "body is not a valid form"}))

    def test_offline_user_is_404_but_stored_and_undelivered(self):
        ctx = zmq.Context.instance()
        worker = ctx.socket(zmq.PULL)
        worker.setsockopt(zmq.LINGER, 0)
        worker.setsockopt(zmq.RCVTIMEO, 200)
        worker.connect(self.broker.undelivered)
        # Wait until the worker is attached (a probe notice arrives).
        def probe():
            self.post("probe", "probe")
            try:
                return msgpack.unpackb(worker.recv(), raw=False)
            except zmq.Again:
                return None
        wait_until(probe, what="worker attached")
        worker.setsockopt(zmq.RCVTIMEO, 5000)
        status, reply = self.post("confirm", "bob", b'[1,"two",null]')
        # proves: an offline recipient answers 404 with online false...
        self.assertEqual(status, 404)
        self.assertFalse(reply["online"])
        offset = reply["offset"]
        # ...the event still goes to the undelivered stream...
        notice = msgpack.unpackb(worker.recv(), raw=False)
        self.assertEqual(notice, {"event": "confirm", "to": "bob", "data": [1, "two", None],
                                  "id": None, "offset": offset, "reason": "offline"})
        # ...and is kept in history for a later resume
        control = Control(self.broker)
        epoch = control.request({"op": "resume", "user": "bob"})["epoch"]
        resumed = control.request({"op": "resume", "user": "bob", "epoch": epoch, "offset": 0})
        self.assertEqual([o for o, _ in resumed["events"]], [offset])
        self.assertTrue(resumed["recovered"])
        control.close()
        worker.close()

    def test_empty_body_is_null(self):
        sub, _ = subscribe(self.broker, "alice")
        status, _ = self.post("ping", "alice", b"")
        _, event = next_event(sub)
        # proves: an empty body publishes data null
        self.assertEqual(status, 200)
        self.assertIsNone(event["data"])
        sub.close()

    def test_keep_alive_requests_one_at_a_time(self):
        import http.client
        port = int(self.broker.http.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        statuses = []
        for i in range(20):
            conn.request("POST", "/message/bid/u%d" % (i % 3), body=b'{"i":%d}' % i,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            statuses.append((response.status, json.loads(response.read()).get("offset")))
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            statuses.append((response.status, response.read()))
        conn.close()
        # proves: one keep-alive connection serves many requests in turn, each
        # answered correctly (the way backends and the bench use it)
        posts = statuses[0::2]
        self.assertEqual(posts, [(404, i + 1) for i in range(20)])
        self.assertEqual(statuses[1::2], [(200, b"ok\n")] * 20)

    def test_pipelined_requests_never_misanswered(self):
        import socket
        port = int(self.broker.http.rsplit(":", 1)[1])
        def post(i):
            body = b'{"i":%d}' % i
            return (b"POST /message/bid/alice HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"".join(post(i) for i in range(10)))
            out = b""
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except socket.timeout:
                pass
        codes = [line.split(b" ")[1] for line in out.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
        accepted = metric(self.broker.metrics(), "herald_broker_events_accepted_total")
        # proves: pipelined POSTs (which lws 4.1 cannot parse) are never
        # answered wrongly: every answer is a 404 for a routed event, the
        # rest are refused by closing, and only answered ones were routed
        self.assertTrue(codes, out[:200])
        self.assertEqual(set(codes), {b"404"})
        self.assertEqual(accepted, len(codes))
        # proves: the HTTP thread is not stuck: a new connection is served
        self.assertEqual(http_get(self.broker.http + "/healthz"), (200, b"ok\n"))

    def test_chunked_body_is_refused_not_hung(self):
        import socket
        port = int(self.broker.http.rsplit(":", 1)[1])
        request = (b"POST /message/bid/alice HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"7\r\n{\"a\":1}\r\n0\r\n\r\n")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
        # proves: a chunked body (which lws cannot decode) gets a prompt 400
        # with a reason instead of a hung request
        self.assertTrue(head.startswith(b"HTTP/1.1 400"), head[:100])
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_events_accepted_total"), 0)

    def test_deepest_allowed_body_is_accepted(self):
        status, reply = self.post("bid", "alice", b"[" * 31 + b"]" * 31)
        # proves: data nesting 31 containers (the documented limit) passes the
        # HTTP side and the router, and one more level is a 400
        self.assertEqual(status, 404, reply)
        self.assertEqual(self.post("bid", "alice", b"[" * 32 + b"]" * 32)[0], 400)

    def test_bad_requests_are_400_and_counted(self):
        cases = [
            ("bad event name", "bid now", "alice", b"{}", "application/json"),
            ("event too long", "e" * 65, "alice", b"{}", "application/json"),
            ("user too long", "bid", "u" * 129, b"{}", "application/json"),
            ("user with control char", "bid", "a\x01b", b"{}", "application/json"),
            ("bad JSON", "bid", "alice", b'{"a":', "application/json"),
            ("form without the key", "bid", "alice", b"a=1", "application/x-www-form-urlencoded"),
            ("no content type without the key", "bid", "alice", b"{}", None),
            ("unknown content type", "bid", "alice", b"hi", "text/plain"),
            ("body too large", "bid", "alice", b'"' + b"x" * 5000 + b'"', "application/json"),
            ("too deep", "bid", "alice", b"[" * 100 + b"]" * 100, "application/json"),
        ]
        for what, event, user, body, ctype in cases:
            status, reply = self.post(event, user, body, ctype)
            # proves: each bad request is a 400 with an error reason
            self.assertEqual(status, 400, what)
            self.assertIn("error", reply, what)
        text = self.broker.metrics()
        # proves: the 400s are counted by code, and none of them became an event
        self.assertEqual(metric(text, 'herald_broker_http_requests_total{code="400"}'), len(cases))
        self.assertEqual(metric(text, "herald_broker_events_accepted_total"), 0)
        # proves: the server still works afterwards
        self.assertEqual(self.post("bid", "alice", b"1")[0], 404)

    def test_channel_and_broadcast_paths_refuse_bad_input_and_need_the_key(self):
        url = self.broker.http
        cases = [
            ("channel name with a space", "/channel/bid/a%20b"),
            ("channel name outside the set", "/channel/bid/caf%C3%A9"),
            ("channel name of 129 bytes", "/channel/bid/" + "c" * 129),
            ("empty channel name", "/channel/bid/"),
            ("bad event name on a channel", "/channel/bid%20now/board"),
            ("bad event name on a broadcast", "/broadcast/bid%20now"),
        ]
        for what, path in cases:
            status, raw = http_post(url + path, b"{}")
            # proves: each bad channel or event name is a 400 with its reason
            self.assertEqual(status, 400, what)
            self.assertIn(json.loads(raw)["error"], ("bad channel name", "bad event name"), what)
        # proves: a missing segment is a 404 (no such route), as for /message
        self.assertEqual(http_post(url + "/channel/bid", b"{}")[0], 404)
        self.assertEqual(http_post(url + "/broadcast/a/b", b"{}")[0], 404)
        text = self.broker.metrics()
        # proves: the 400s are counted by code, and none of them became an event
        self.assertEqual(metric(text, 'herald_broker_http_requests_total{code="400"}'), len(cases))
        self.assertEqual(metric(text, "herald_broker_events_accepted_total"), 0)
        # proves: the longest channel name (128 bytes) is accepted (404: nobody subscribes)
        status, raw = http_post(url + "/channel/bid/" + "c" * 128, b"{}")
        self.assertEqual((status, json.loads(raw)), (404, {"online": False, "offset": 1}))

        auth = self.keyed_broker()
        url = self.broker.http
        for path in ("/channel/bid/board", "/broadcast/banner"):
            # proves: with --http-key-file, /channel and /broadcast need the
            # Bearer key like /message (401, nothing routed), and pass with it
            self.assertEqual(http_post(url + path, b"{}")[0], 401, path)
            self.assertEqual(http_post(url + path, b"{}", headers={"Authorization": "Bearer " + "x" * 32})[0],
                             401, path)
            self.assertEqual(http_post(url + path, b"a=1", "application/x-www-form-urlencoded",
                                       headers=auth)[0], 404, path)
        text = self.broker.metrics()
        self.assertEqual(metric(text, 'herald_broker_http_requests_total{code="401"}'), 4)
        self.assertEqual(metric(text, "herald_broker_events_accepted_total"), 2)

    def test_healthz_metrics_and_unknown_paths(self):
        # proves: /healthz answers 200 ok
        self.assertEqual(http_get(self.broker.http + "/healthz"), (200, b"ok\n"))
        # proves: an unknown path is a 404
        self.assertEqual(http_get(self.broker.http + "/nope")[0], 404)
        status, text = http_get(self.broker.http + "/metrics")
        # proves: /metrics is Prometheus text with every documented family
        self.assertEqual(status, 200)
        for name in ["herald_broker_events_received_total", "herald_broker_events_accepted_total",
                     "herald_broker_events_rejected_total", "herald_broker_messages_published_total",
                     "herald_broker_undelivered_sent_total", "herald_broker_undelivered_dropped_total",
                     "herald_broker_users_online", "herald_broker_history_events",
                     "herald_broker_history_bytes", "herald_broker_history_evicted_total",
                     "herald_broker_resumes_total", "herald_broker_control_requests_total",
                     "herald_broker_control_errors_total", "herald_broker_http_requests_total",
                     "herald_broker_offset"]:
            self.assertIn(b"# TYPE " + name.encode() + b" ", text, name)
            self.assertIsNotNone(metric(text, name), name)
        self.assertIn(b'herald_broker_history_evicted_total{reason="ttl"} 0', text)
        self.assertIn(b'herald_broker_resumes_total{recovered="true"} 0', text)
        self.assertGreaterEqual(metric(text, 'herald_broker_http_requests_total{code="200"}'), 1)

    def test_sigterm_exits_zero_promptly(self):
        sub, _ = subscribe(self.broker, "alice")
        self.broker.signal(signal.SIGTERM)
        # proves: SIGTERM stops the broker with exit status 0, even with a
        # subscriber connected (the bound is generous: no timing asserted)
        self.assertEqual(self.broker.wait(timeout=10), 0)
        sub.close()


@run_async
class BrokerHttpChannelsTest(unittest.TestCase):
    """POST /channel and /broadcast through a real broker, two gateways and
    websocket clients."""

    @classmethod
    def setUpClass(cls):
        cls.broker, cls.gateways = start_broker_and_gateways(2, history_events=100)
        cls.control = Control(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.control.close()
        for gateway in cls.gateways:
            gateway.stop()
        cls.broker.stop()

    def post(self, path, body=b"{}", content_type="application/json", headers=None):
        status, raw = http_post(self.broker.http + path, body, content_type, headers=headers)
        return status, json.loads(raw)

    async def connect(self, gateway, user, channels=("order:*", "board")):
        ws, welcome = await ws_connect(gateway.url, make_token(user, claims={"channels": list(channels)}))
        self.sockets.append(ws)
        return ws, welcome

    async def until_event(self, ws, name):
        """Events up to and including the first named name."""
        out = []
        while not out or out[-1]["event"] != name:
            out += await ws_recv_events(ws, 1)
        return out

    async def test_channel_post_reaches_its_subscribers_on_every_gateway(self):
        a, _ = await self.connect(self.gateways[0], "alice")
        b, _ = await self.connect(self.gateways[1], "bob")
        other, _ = await self.connect(self.gateways[1], "carol")
        for ws in (a, b):
            self.assertEqual((await ws_subscribe(ws, "order:17"))["type"], "subscribed")
        self.assertEqual((await ws_subscribe(other, "board"))["type"], "subscribed")
        status, reply = self.post("/channel/bid/order:17", b'{"amount":120}',
                                  headers={"Idempotency-Key": "bid-17-1"})
        # proves: a channel with subscribers answers 200 online true and the offset
        self.assertEqual(status, 200, reply)
        self.assertEqual(set(reply), {"online", "offset"})
        self.assertTrue(reply["online"])
        offset = reply["offset"]
        for ws in (a, b):
            (event,) = await ws_recv_events(ws, 1)
            # proves: each subscriber, on either gateway, gets the event once
            # with its channel, the body as data and the offset answered
            self.assertEqual(event, {"type": "event", "event": "bid", "channel": "order:17",
                                     "data": {"amount": 120}, "offset": offset})
        status, reply = self.post("/channel/bid/order:17", b'{"amount":120}',
                                  headers={"Idempotency-Key": "bid-17-1"})
        # proves: the same Idempotency-Key is answered with the first offset
        # and duplicate true, and is not routed again (below: the next event
        # each subscriber gets is the board's marker, not a second bid)
        self.assertEqual((status, reply), (200, {"online": True, "offset": offset, "duplicate": True}))
        status, reply = self.post("/channel/posted/board", b"order=17",
                                  "application/x-www-form-urlencoded")
        # proves: without the HTTP key a form body is refused on /channel as on /message
        self.assertEqual(status, 400, reply)
        status, reply = self.post("/channel/posted/board", b'{"order":17}')
        self.assertEqual(status, 200, reply)
        got = await self.until_event(other, "posted")
        # proves: a connection gets only the channels it subscribed to
        self.assertEqual([(e["event"], e["channel"]) for e in got], [("posted", "board")])
        for ws in (a, b):
            self.assertEqual((await ws_subscribe(ws, "board"))["type"], "subscribed")
        self.post("/channel/marker/board")
        for ws in (a, b):
            got = await self.until_event(ws, "marker")
            self.assertEqual([e["event"] for e in got], ["marker"])

    async def test_channel_nobody_follows_is_404_and_kept_in_history(self):
        status, reply = self.post("/channel/bid/order:99", b'[1,"two"]')
        # proves: a channel no gateway holds a subscriber of answers 404
        # online false with the offset the event got...
        self.assertEqual(status, 404, reply)
        self.assertFalse(reply["online"])
        offset = reply["offset"]
        # ...and the event is still in the channel's history for a resume
        epoch = self.control.request({"op": "resume", "user": "nobody"})["epoch"]
        resumed = self.control.request({"op": "resume", "channel": "order:99",
                                        "epoch": epoch, "offset": 0})
        self.assertEqual([o for o, _ in resumed["events"]], [offset])
        # proves: a browser that subscribes later with a resume gets it
        ws, _ = await self.connect(self.gateways[1], "dave")
        answer = await ws_subscribe(ws, "order:99", resume={"epoch": epoch, "offset": 0})
        self.assertEqual((answer["type"], answer["recovered"]), ("subscribed", True))
        (event,) = await ws_recv_events(ws, 1)
        self.assertEqual((event["channel"], event["data"], event["offset"]), ("order:99", [1, "two"], offset))

    async def test_broadcast_reaches_every_connection_once(self):
        wait_until(lambda: metric(self.broker.metrics(), "herald_broker_users_online", exact=True) == 0,
                   what="no user online (other tests' connections closed)")
        status, reply = self.post("/broadcast/banner", b'{"text":"early"}')
        # proves: a broadcast with no connection anywhere answers 404 online false
        self.assertEqual(status, 404, reply)
        self.assertFalse(reply["online"])
        conns = []
        for i, user in enumerate(["alice", "alice", "bob", "erin"]):
            ws, _ = await self.connect(self.gateways[i % 2], user, channels=())
            conns.append(ws)
        status, reply = self.post("/broadcast/banner", b'{"text":"sale"}')
        # proves: with anyone online a broadcast answers 200 online true
        self.assertEqual(status, 200, reply)
        self.assertTrue(reply["online"])
        self.post("/broadcast/marker")
        for ws in conns:
            got = await self.until_event(ws, "marker")
            # proves: every connection (two of one user, on both gateways),
            # none subscribed to anything, gets the broadcast exactly once
            # with broadcast true, and nothing before it
            self.assertEqual([(e["event"], e.get("broadcast"), e["data"]) for e in got],
                             [("banner", True, {"text": "sale"}), ("marker", True, {})])
            self.assertEqual(got[0]["offset"], reply["offset"])


if __name__ == "__main__":
    unittest.main()
