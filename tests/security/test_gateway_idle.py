"""test_gateway_idle.py -- dead connections are found: a client that
authenticates and then goes silent (stops reading, never answers the
gateway's WebSocket ping: a half-open TCP connection, a frozen process) is
closed after --idle-timeout, so the broker's presence and POST /message tell
the truth; a silent client that answers pings, and one that pings, stay."""
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

from harness import (Broker, Control, Gateway, http_post, make_token, metric, wait_until)
from wsraw import RawWS

IDLE = 1.5   # seconds; the default is 60


class Answerer(threading.Thread):
    """Reads a RawWS in the background, answering pings, recording closes."""

    def __init__(self, ws):
        super().__init__(daemon=True)
        self.ws = ws
        self.ended = None

    def run(self):
        self.ws.sock.settimeout(None)
        try:
            while True:
                op, payload = self.ws.recv_frame()
                if op == 9:
                    self.ws.send_frame(payload, opcode=10)
                elif op == 8:
                    self.ended = "close"
                    return
        except (EOFError, OSError) as e:
            self.ended = repr(e)


class GatewayIdle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        cls.gateway = Gateway(cls.broker, idle_timeout=IDLE)
        cls.control = Control(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.control.close()
        cls.gateway.stop()
        cls.broker.stop()

    def metric(self, name):
        return metric(self.gateway.metrics(), name) or 0

    def online(self, user):
        return self.control.presence([user])[user]

    def test_half_open_client_goes_offline(self):
        # one that answers pings and one that pings by itself, next to it
        keeper = RawWS(self.gateway.port)
        keeper.auth(make_token("keeper"))
        answerer = Answerer(keeper)
        answerer.start()
        ghost = RawWS(self.gateway.port)
        ghost.auth(make_token("ghost"))
        wait_until(lambda: self.online("ghost") and self.online("keeper"), what="both online")
        self.assertEqual(http_post(self.broker.http + "/message/n/ghost", b"1")[0], 200)
        closes = self.metric("herald_gateway_idle_closes_total")
        # ghost now neither reads nor answers: it is dead to the gateway
        wait_until(lambda: not self.online("ghost"), timeout=IDLE * 8 + 10,
                   what="ghost offline after the idle bound")
        self.assertEqual(http_post(self.broker.http + "/message/n/ghost", b"1")[0], 404)
        self.assertGreaterEqual(self.metric("herald_gateway_idle_closes_total"), closes + 1)
        # the keeper answered the pings that kept it alive meanwhile
        pings = self.metric("herald_gateway_pings_sent_total")
        wait_until(lambda: self.metric("herald_gateway_pings_sent_total") >= pings + 3,
                   timeout=IDLE * 8 + 10, what="three more pings to the keeper")
        self.assertIsNone(answerer.ended)
        self.assertTrue(self.online("keeper"))
        self.assertEqual(self.metric("herald_gateway_idle_closes_total"), closes + 1)
        ghost.close()
        keeper.close()

    def test_client_pings_keep_it_alive(self):
        """herald.js's way: {"type":"ping"} every quarter of the bound (the
        client's own interval, not a wait), for three bounds, and never a
        WebSocket pong: its frames alone keep it open."""
        ws = RawWS(self.gateway.port)
        ws.auth(make_token("pinger"))
        closes = self.metric("herald_gateway_idle_closes_total")
        for _ in range(12):
            ws.send_json({"type": "ping"})
            while ws.recv_frame()[0] != 1:     # its pong; a WebSocket ping is ignored
                pass
            time.sleep(IDLE / 4)
        self.assertTrue(self.online("pinger"))
        self.assertEqual(self.metric("herald_gateway_idle_closes_total"), closes)
        ws.close()

    def test_stopped_process_goes_offline(self):
        """A real client process frozen by SIGSTOP (the kernel still ACKs)."""
        script = ("import sys; sys.path.insert(0, %r); from wsraw import RawWS; "
                  "from harness import make_token; w = RawWS(%d); w.auth(make_token('frozen')); "
                  "print('ready', flush=True); import time; time.sleep(600)"
                  % (os.path.dirname(os.path.abspath(__file__)), self.gateway.port))
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 env=dict(os.environ))
        try:
            self.assertEqual(child.stdout.readline().strip(), b"ready")
            wait_until(lambda: self.online("frozen"), what="frozen online")
            child.send_signal(signal.SIGSTOP)
            wait_until(lambda: not self.online("frozen"), timeout=IDLE * 8 + 10,
                       what="stopped client offline")
        finally:
            child.send_signal(signal.SIGCONT)
            child.kill()
            child.wait()
            child.stdout.close()


if __name__ == "__main__":
    unittest.main()
