"""test_presence.py -- online/presence and disconnect ask the real broker, and fail clearly when none answers."""
import unittest

import zmq

from support import StackCase, fresh_user, harness, herald


class Presence(StackCase, unittest.TestCase):
    def test_online_and_presence(self):
        here, away = fresh_user("here"), fresh_user("away")
        self.ws_for(here)
        self.assertIs(self.h.online(here), True, "a user with an open websocket is online")
        self.assertIs(self.h.online(away), False, "a user without one is not")
        self.assertEqual(self.h.presence([here, away, here]), {here: True, away: False},
                         "presence answers once for every user asked")
        self.assertEqual(self.h.online([here]), {here: True}, "online() of a list is presence()")
        self.assertEqual(self.h.presence([]), {}, "an empty list needs no request")

    def test_user_goes_offline_when_the_socket_closes(self):
        user = fresh_user("leaving")
        ws = self.ws_for(user)
        ws.close()
        harness.wait_until(lambda: not self.h.online(user), what="%s offline" % user)

    def test_disconnect_closes_with_4003(self):
        user = fresh_user("kicked")
        ws = self.ws_for(user)
        self.assertEqual(self.h.disconnect(user), {"online": True, "sent": True})
        frame = ws.next_frame()
        while frame["type"] != "closed":
            frame = ws.next_frame()
        self.assertEqual(frame["code"], 4003, "the gateway closed the connection for the backend")
        self.assertEqual(self.h.disconnect(fresh_user("nobody"))["online"], False)

    def test_channel_presence(self):
        channel = "order:" + fresh_user("p")
        self.assertEqual(self.h.channel_presence(channel),
                         {"users": [], "connections": 0, "exact": True, "truncated": False})
        # a gateway holding two connections of carol on the channel subscribes
        # one presence topic per connection (PROTOCOL.md, "Presence topics")
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(self.stack.broker.publish)
        for conn in ("0" * 15 + "1", "0" * 15 + "2"):
            sub.setsockopt(zmq.SUBSCRIBE, ("p:%s\0carol\0%s%s" % (channel, "a" * 16, conn)).encode())
        try:
            answer = harness.wait_until(
                lambda: (lambda a: a if a["connections"] == 2 else None)(self.h.channel_presence(channel)),
                what="two connections counted")
            self.assertEqual(answer, {"users": ["carol"], "connections": 2, "exact": True,
                                      "truncated": False})
        finally:
            sub.close()
        harness.wait_until(lambda: self.h.channel_presence(channel)["connections"] == 0,
                           what="the channel empty once the gateway is gone")
        with self.assertRaises(ValueError):
            self.h.channel_presence("bad channel")

    def test_broker_errors_raise_control_error(self):
        with self.assertRaises(herald.ControlError) as caught:
            self.h.control_request({"op": "no-such-op"})
        self.assertEqual(caught.exception.reply, {"error": "unknown op"},
                         "the broker's answer is kept on the error")
        with self.assertRaises(ValueError):
            self.h.online("bad\nuser")


class NoBroker(unittest.TestCase):
    def test_timeout_names_the_endpoint(self):
        silent = "tcp://127.0.0.1:%d" % harness.free_port()
        h = herald.Herald(control=silent, control_timeout_ms=200)
        try:
            with self.assertRaises(herald.Timeout) as caught:
                h.online("anyone")
            self.assertIn(silent, str(caught.exception), "the error names the endpoint asked")
            self.assertIsInstance(caught.exception, TimeoutError)
            with self.assertRaises(herald.Timeout, msg="the next request times out the same way"):
                h.presence(["anyone"])
        finally:
            h.close(0)

    def test_broker_arriving_late_answers(self):
        # a request that timed out leaves nothing behind for the next one
        port = harness.free_port()
        h = herald.Herald(control="tcp://127.0.0.1:%d" % port, control_timeout_ms=300)
        try:
            with self.assertRaises(herald.Timeout):
                h.online("early")
            ports = {k: harness.free_port() for k in ("ingest", "publish", "undelivered", "http")}
            ports["control"] = port
            broker = harness.Broker(ports=ports)
            try:
                h.config.control_timeout_ms = 3000
                self.assertEqual(h.presence(["late"]), {"late": False})
            finally:
                broker.stop()
        finally:
            h.close(0)


if __name__ == "__main__":
    unittest.main()
