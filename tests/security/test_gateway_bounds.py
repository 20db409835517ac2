"""test_gateway_bounds.py -- connections that never authenticate cannot lock
everyone else out: --max-connections-per-ip caps one address (playing
several client addresses with 127.0.0.x sources) with a counted 503;
--max-unauthenticated caps them all, a full pool closing its oldest
connection (4008, counted) to take a new one, so a legitimate client still
gets its welcome; and the gateway's memory is flat after rounds of the
attack."""
import socket
import time
import unittest

from gateway_case import GatewayCase
from harness import make_token, metric, wait_until
from wsraw import RawWS

PER_IP = 8
UNAUTH = 20


class GatewayBounds(GatewayCase):
    gateway_flags = {"max_connections": 200, "max_unauthenticated": UNAUTH,
                     "max_connections_per_ip": PER_IP, "auth_timeout": 60}

    def evicted(self):
        return metric(self.gateway.metrics(), "herald_gateway_unauthenticated_evicted_total",
                      exact=True)

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

    def test_full_pool_evicts_the_oldest(self):
        """A full --max-unauthenticated pool takes a new connection by
        closing its oldest one with 4008, so connections that never
        authenticate (a slow loris) cannot lock real users out."""
        unauth, evicted = self.refused("unauthenticated"), self.evicted()
        # a legitimate client that authenticated before the attack keeps working,
        # and authenticated connections do not count against the bound
        keeper = RawWS(self.gateway.port, source="127.0.0.9")
        keeper.auth(make_token("keeper"))
        held = []
        for i in range(4):       # 4 addresses x PER_IP = 32 > UNAUTH
            h, statuses = self.attack("127.0.1.%d" % (i + 1), PER_IP)
            self.assertEqual(statuses, [], "no upgrade refused: the oldest make room")
            held += h
        over = 4 * PER_IP - UNAUTH
        # proves: the first `over` connections were closed with 4008, the
        # rest are held; counted as evictions, not refusals
        for ws in held[:over]:
            self.assertEqual(ws.close_code(), 4008)
        self.assertEqual(self.evicted(), evicted + over)
        self.assertEqual(self.refused("unauthenticated"), unauth)
        self.assertEqual(metric(self.gateway.metrics(), "herald_gateway_unauthenticated"), UNAUTH)
        # proves: a real user arriving while the pool is full gets in and
        # authenticates (evicting the oldest attacker)
        late = RawWS(self.gateway.port, source="127.0.0.10")
        self.assertEqual(late.status, 101)
        self.assertEqual(late.auth(make_token("late"))["user"], "late")
        self.assertEqual(held[over].close_code(), 4008)
        self.assertEqual(self.evicted(), evicted + over + 1)
        keeper.send_json({"type": "ping"})
        self.assertEqual(keeper.recv_json()["type"], "pong")
        # once they authenticate or leave, the bound frees up
        for ws in held[:over + 1]:
            ws.close()
        self.release(held[over + 2:], remaining=3)
        ws = held[over + 1]
        ws.auth(make_token("later"))
        self.assertEqual(metric(self.gateway.metrics(), "herald_gateway_unauthenticated"), 0)
        for ws in (ws, late, keeper):
            ws.close()

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
