"""test_gateway_bounds.py -- connections that never authenticate cannot lock
everyone else out: --max-connections-per-ip caps one address (playing
several client addresses with 127.0.0.x sources), --max-unauthenticated caps
them all, each refusal is a counted 503, a legitimate client from another
address still gets its welcome, and the gateway's memory is flat after
rounds of the attack."""
import socket
import time
import unittest

from harness import Broker, Gateway, make_token, metric, wait_until
from wsraw import RawWS

PER_IP = 8
UNAUTH = 20


def sample(text, key):
    for line in text.decode().splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class GatewayBounds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        cls.gateway = Gateway(cls.broker, max_connections=200, max_unauthenticated=UNAUTH,
                              max_connections_per_ip=PER_IP, auth_timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()

    def refused(self, reason):
        return sample(self.gateway.metrics(), 'herald_gateway_refused_total{reason="%s"}' % reason)

    def attack(self, source, count):
        """count upgrades from source that never authenticate: (held, refused statuses)."""
        held, statuses = [], []
        for _ in range(count):
            ws = RawWS(self.gateway.port, source=source)
            if ws.status == 101:
                held.append(ws)
            else:
                statuses.append(ws.status)
                ws.close()
        return held, statuses

    def release(self, held, remaining=0):
        for ws in held:
            ws.close()
        wait_until(lambda: metric(self.gateway.metrics(), "herald_gateway_connections") == remaining,
                   what="attackers gone")

    def test_one_address_is_capped(self):
        per_ip = self.refused("per_ip")
        held, statuses = self.attack("127.0.0.2", PER_IP + 5)
        self.assertEqual(len(held), PER_IP)
        self.assertEqual(statuses, [503] * 5)
        self.assertEqual(self.refused("per_ip"), per_ip + 5)
        # everyone else is still served
        ws = RawWS(self.gateway.port, source="127.0.0.1")
        self.assertEqual(ws.auth(make_token("legit"))["user"], "legit")
        self.assertEqual(metric(self.gateway.metrics(), "herald_gateway_unauthenticated"), PER_IP)
        ws.close()
        self.release(held)

    def test_unauthenticated_are_capped_in_all(self):
        unauth = self.refused("unauthenticated")
        # a legitimate client that authenticated before the attack keeps working,
        # and authenticated connections do not count against the bound
        keeper = RawWS(self.gateway.port, source="127.0.0.9")
        keeper.auth(make_token("keeper"))
        held = []
        refused = []
        for i in range(4):       # 4 addresses x PER_IP = 32 > UNAUTH
            h, s = self.attack("127.0.1.%d" % (i + 1), PER_IP)
            held += h
            refused += s
        self.assertEqual(len(held), UNAUTH)
        self.assertEqual(refused, [503] * (4 * PER_IP - UNAUTH))
        self.assertEqual(self.refused("unauthenticated"), unauth + 4 * PER_IP - UNAUTH)
        self.assertEqual(metric(self.gateway.metrics(), "herald_gateway_unauthenticated"), UNAUTH)
        keeper.send_json({"type": "ping"})
        self.assertEqual(keeper.recv_json()["type"], "pong")
        # once they authenticate or leave, the bound frees up
        self.release(held[1:], remaining=2)
        ws = held[0]
        ws.auth(make_token("late"))
        self.assertEqual(metric(self.gateway.metrics(), "herald_gateway_unauthenticated"), 0)
        ws.close()
        keeper.close()

    def test_slow_headers_are_cut(self):
        """A request whose headers trickle in (slow loris) is closed by the
        gateway (libwebsockets' 10 s header timeout), freeing its descriptor."""
        s = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=30)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + 30
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                s.sendall(b"X")                 # one byte of a header line
                s.settimeout(0.5)
                closed = s.recv(1) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        s.close()
        self.assertTrue(closed, "a trickled request stayed open for 30 s")

    def test_memory_flat_after_rounds(self):
        def round_():
            held = []
            for i in range(5):
                held += self.attack("127.0.2.%d" % (i + 1), PER_IP + 2)[0]
            self.release(held)
        round_()
        before = self.gateway.rss_bytes()
        for _ in range(4):
            round_()
        grown = self.gateway.rss_bytes() - before
        self.assertLess(grown, 2 << 20, "gateway RSS grew %d bytes over 4 rounds" % grown)


if __name__ == "__main__":
    unittest.main()
