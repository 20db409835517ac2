"""test_control.py -- the control client against a scripted ROUTER: framing, pair failover, errors.

A real broker pair is exercised in test_failover.py; here each broker is a
ROUTER in a thread answering as the test says, so every path (silence,
{"error":"passive"}, refusals, garbage) is taken on purpose.
"""
import threading
import unittest

import msgpack
import zmq

from support import harness, herald


class FakeBroker(threading.Thread):
    """A ROUTER on a free port; answer(request dict) returns the reply
    (a dict, raw bytes, or None for silence). Requests are kept."""

    def __init__(self, answer):
        super().__init__(daemon=True)
        self.endpoint = "tcp://127.0.0.1:%d" % harness.free_port()
        self.answer = answer
        self.requests = []
        self.frames = []
        self.stop_flag = threading.Event()
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.endpoint)
        self.start()

    def run(self):
        while not self.stop_flag.is_set():
            if not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            self.frames.append(frames[1:])
            req = msgpack.unpackb(frames[-1], raw=False)
            self.requests.append(req)
            reply = self.answer(req)
            if reply is None:
                continue
            if not isinstance(reply, bytes):
                reply = msgpack.packb(reply)
            self.sock.send_multipart(frames[:-1] + [reply])
        self.sock.close()

    def stop(self):
        self.stop_flag.set()
        self.join()


class ControlClient(unittest.TestCase):
    def setUp(self):
        self.brokers = []

    def tearDown(self):
        for b in self.brokers:
            b.stop()

    def broker(self, answer):
        b = FakeBroker(answer)
        self.brokers.append(b)
        return b

    def test_framing_and_channel_presence(self):
        b = self.broker(lambda req: {"channel": req["channel"], "connections": 3, "exact": True,
                                     "truncated": False, "users": ["a", "b"]})
        h = herald.Herald(control=b.endpoint)
        try:
            self.assertEqual(h.channel_presence("order:17"),
                             {"users": ["a", "b"], "connections": 3, "exact": True, "truncated": False})
            self.assertEqual(b.frames[0][0], b"", "a DEALER request starts with the empty delimiter")
            self.assertEqual(b.requests, [{"op": "presence", "channel": "order:17"}])
            with self.assertRaises(ValueError):
                h.channel_presence("no spaces")
        finally:
            h.close(0)

    def test_refusals_and_garbage(self):
        replies = iter([{"error": "invalid", "reason": "bad_event"}, b"\xc1", msgpack.packb([1]),
                        {"error": "forbidden"}])
        b = self.broker(lambda req: next(replies))
        h = herald.Herald(control=b.endpoint)
        try:
            with self.assertRaises(herald.ControlError) as caught:
                h.control_request({"op": "publish"})
            self.assertIn("invalid (bad_event)", str(caught.exception))
            with self.assertRaises(herald.ControlError, msg="not msgpack"):
                h.presence(["a"])
            with self.assertRaises(herald.ControlError, msg="not a map"):
                h.presence(["a"])
            with self.assertRaises(herald.ControlError) as caught:
                h.publish_confirmed("c", "x", None)
            self.assertEqual(caught.exception.reply, {"error": "forbidden"})
        finally:
            h.close(0)

    def test_failover_on_silence_and_on_passive(self):
        silent = self.broker(lambda req: None)
        live = self.broker(lambda req: {"online": {u: True for u in req["users"]}})
        h = herald.Herald(control=silent.endpoint + "," + live.endpoint, control_timeout_ms=200)
        try:
            self.assertEqual(h.presence(["a"]), {"a": True}, "the unanswered request moved on")
            self.assertEqual(len(silent.requests), 1)
            self.assertEqual(h.presence(["b"]), {"b": True})
            self.assertEqual(len(silent.requests), 1, "the broker that answered is asked first")
        finally:
            h.close(0)

        passive = self.broker(lambda req: {"error": "passive", "state": "passive"})
        live2 = self.broker(lambda req: {"online": {u: False for u in req["users"]}})
        h = herald.Herald(control=passive.endpoint + "," + live2.endpoint)
        try:
            self.assertEqual(h.presence(["a"]), {"a": False}, "a passive answer moves on at once")
            self.assertEqual(len(passive.requests), 1)
        finally:
            h.close(0)

    def test_both_silent_times_out_after_the_tries(self):
        one, two = self.broker(lambda req: None), self.broker(lambda req: None)
        h = herald.Herald(control=one.endpoint + "," + two.endpoint, control_timeout_ms=100,
                          control_tries=4)
        try:
            with self.assertRaises(herald.Timeout) as caught:
                h.online("a")
            harness.wait_until(lambda: len(one.requests) + len(two.requests) == 4,
                               what="four sends in all")
            self.assertEqual((len(one.requests), len(two.requests)), (2, 2), "alternating")
            self.assertIn(one.endpoint, str(caught.exception))
            self.assertIn(two.endpoint, str(caught.exception))
        finally:
            h.close(0)

    def test_confirm_adds_an_idempotency_key_with_a_pair(self):
        passive = self.broker(lambda req: {"error": "passive", "state": "passive"})
        live = self.broker(lambda req: {"offset": 9, "epoch": "00000000000000aa"})
        h = herald.Herald(control=passive.endpoint + "," + live.endpoint)
        try:
            self.assertEqual(h.notify("a", "x", {"n": 1}, confirm=True),
                             {"offset": 9, "epoch": "00000000000000aa", "duplicate": False})
            sent = passive.requests + live.requests
            self.assertEqual(len(sent), 2)
            self.assertEqual(sent[0], sent[1], "the retry is the same request")
            self.assertEqual(sent[0]["op"], "publish")
            self.assertTrue(sent[0]["idempotency_key"].startswith("herald-py:"),
                            "so a retry cannot route the event twice")
        finally:
            h.close(0)


if __name__ == "__main__":
    unittest.main()
