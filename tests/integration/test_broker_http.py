"""test_broker_http.py -- the broker's HTTP side: POST /message, /healthz, /metrics, SIGTERM.

urllib plays the seed-era backend; raw SUB/PULL sockets play a gateway and a
fallback worker.
"""
import json
import os
import signal
import unittest
import urllib.parse

import msgpack
import zmq

from harness import Broker, Control, http_get, http_post, metric, parse_published, recv_published, subscribe, wait_until


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


if __name__ == "__main__":
    unittest.main()
