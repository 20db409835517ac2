"""test_gateway_auth.py -- every client close code of herald-gateway, each
counted in /metrics, and bounded memory with a client that never reads."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import time
import unittest

import websockets

from harness import (start_broker_and_gateways, run_async, SECRET, Broker, Gateway, Producer, make_token, wait_until, ws_close_code,
                     ws_connect, ws_recv_events)


def sample(metrics_text, key):
    """The value of one labelled sample, e.g. 'x_total{code="4001"}' (0 when absent)."""
    for line in metrics_text.decode().splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def raw_token(payload, secret=SECRET):
    """An HS256 token with exactly this payload (no claims added)."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    sig = hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64url(sig)


@run_async
def sanitized(pid):
    """True when the process runs under AddressSanitizer (RSS means little then)."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


@run_async
class GatewayCloseCodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker, (cls.gateway,) = start_broker_and_gateways()

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()

    def count(self, key):
        return sample(self.gateway.metrics(), key)

    async def expect_close(self, first_frame, code, what, counter=None):
        """Sends first_frame on a fresh connection; the server must close with code."""
        closes_key = 'herald_gateway_closes_total{code="%d"}' % code
        before = self.count(closes_key), counter and self.count(counter)
        ws, _ = await ws_connect(self.gateway.url)
        await ws.send(first_frame)
        self.assertEqual(await ws_close_code(ws), code, what)
        wait_until(lambda: self.count(closes_key) > before[0],
                   what="closes_total{code=%d} counts it" % code)
        if counter:
            wait_until(lambda: self.count(counter) > before[1], what="%s counts it" % counter)

    async def test_4000_malformed_first_frames(self):
        bad = 'herald_gateway_auth_failures_total{reason="malformed"}'
        await self.expect_close("hello", 4000, "a non-JSON first frame closes with 4000", bad)
        await self.expect_close("[1,2]", 4000, "a JSON non-object closes with 4000", bad)
        await self.expect_close('{"type":"hello"}', 4000, "an unknown type closes with 4000", bad)
        await self.expect_close('{"type":"ping"}', 4000, "a ping before auth closes with 4000", bad)
        await self.expect_close(b'{"type":"auth"}', 4000, "a binary first frame closes with 4000", bad)
        await self.expect_close(json.dumps({"type": "auth", "token": make_token("u"), "resume": {"epoch": "xyz", "offset": 1}}),
                                4000, "a malformed resume position closes with 4000", bad)

    async def test_4000_second_auth_and_unknown_type_after_auth(self):
        for frame, what in ((json.dumps({"type": "auth", "token": make_token("twice")}), "a second auth"),
                            ('{"type":"publish"}', "an unknown type after auth"),
                            ("not json", "non-JSON after auth")):
            before = self.count('herald_gateway_closes_total{code="4000"}')
            ws, welcome = await ws_connect(self.gateway.url, make_token("twice"))
            await ws.send(frame)
            self.assertEqual(await ws_close_code(ws), 4000, "%s closes with 4000" % what)
            wait_until(lambda: self.count('herald_gateway_closes_total{code="4000"}') > before,
                       what="the 4000 close is counted")

    async def test_4001_invalid_tokens(self):
        now = int(time.time())
        cases = [
            (make_token("mallory", secret="another-secret"), "bad_token", "a bad signature"),
            (make_token("mallory", alg="none"), None, "alg none"),
            (make_token("mallory", alg="HS512"), "bad_alg", "an HS512 token signed with the right secret"),
            (raw_token({"exp": now + 300}), "bad_sub", "a token without sub"),
            (raw_token({"sub": "", "exp": now + 300}), "bad_sub", "an empty sub"),
            (raw_token({"sub": "a\u0001b", "exp": now + 300}), "bad_sub", "a sub with a control character"),
            (raw_token({"sub": "x" * 129, "exp": now + 300}), "bad_sub", "a sub over 128 bytes"),
            (raw_token({"sub": 42, "exp": now + 300}), "bad_sub", "a numeric sub"),
            (raw_token({"sub": "mallory"}), "bad_exp", "a token without exp"),
            (raw_token({"sub": "mallory", "exp": "soon"}), "bad_exp", "a string exp"),
            ("garbage", "bad_token", "a garbage token"),
            ("a.b.c", "bad_token", "three garbage segments"),
        ]
        for token, reason, what in cases:
            counter = reason and 'herald_gateway_auth_failures_total{reason="%s"}' % reason
            await self.expect_close(json.dumps({"type": "auth", "token": token}), 4001,
                                    "%s closes with 4001" % what, counter)
        await self.expect_close('{"type":"auth","token":17}', 4001, "a non-string token closes with 4001")
        await self.expect_close('{"type":"auth"}', 4001, "a missing token closes with 4001")

    async def test_4002_expired(self):
        await self.expect_close(json.dumps({"type": "auth", "token": make_token("late", exp=int(time.time()) - 10)}),
                                4002, "an expired token closes with 4002",
                                'herald_gateway_auth_failures_total{reason="expired"}')

    async def test_1009_frame_too_large(self):
        await self.expect_close("x" * 16384, 1009, "a 16 KiB first frame closes with 1009")
        before = self.count('herald_gateway_closes_total{code="1009"}')
        ws, _ = await ws_connect(self.gateway.url, make_token("big"))
        await ws.send(["y" * 4096, "y" * 4096, "y" * 4096])     # one message in three fragments
        self.assertEqual(await ws_close_code(ws), 1009,
                         "a 12 KiB message in 4 KiB fragments after auth closes with 1009")
        wait_until(lambda: self.count('herald_gateway_closes_total{code="1009"}') > before,
                   what="the 1009 close is counted")

    async def test_1008_ping_flood(self):
        before = self.count('herald_gateway_closes_total{code="1008"}')
        ws, _ = await ws_connect(self.gateway.url, make_token("flooder"))
        try:
            for _ in range(60):
                await ws.send('{"type":"ping"}')
        except websockets.ConnectionClosed:
            pass
        self.assertEqual(await ws_close_code(ws), 1008, "60 pings at once close with 1008")
        wait_until(lambda: self.count('herald_gateway_closes_total{code="1008"}') > before,
                   what="the 1008 close is counted")

    async def test_ping_gets_pong(self):
        ws, _ = await ws_connect(self.gateway.url, make_token("pinger"))
        for _ in range(3):
            await ws.send('{"type":"ping"}')
            self.assertEqual(json.loads(await asyncio.wait_for(ws.recv(), 5)), {"type": "pong"},
                             "each ping is answered with a pong")
        await ws.close()

    async def test_not_ws_path_and_http_endpoints(self):
        with self.assertRaises(Exception, msg="a WebSocket upgrade on another path is refused"):
            await ws_connect(self.gateway.url.replace("/ws", "/other"))
        from harness import http_get
        self.gateway.wait_linked()      # 503 until the broker's first tick (test_gateway_health)
        self.assertEqual(http_get(self.gateway.http + "/healthz"), (200, b"ok\n"), "/healthz answers ok")
        self.assertEqual(http_get(self.gateway.http + "/nothing-here")[0], 404, "unknown paths are 404")


@run_async
class GatewayOwnProcess(unittest.TestCase):
    """Cases that need their own gateway flags or kill it."""

    def setUp(self):
        self.broker = Broker()
        self.gateway = None

    def tearDown(self):
        if self.gateway:
            self.gateway.stop()
        self.broker.stop()

    async def test_4008_no_auth_in_time(self):
        self.gateway = Gateway(self.broker, auth_timeout=1)
        ws, _ = await ws_connect(self.gateway.url)
        self.assertEqual(await ws_close_code(ws, timeout=10), 4008,
                         "a client that never authenticates is closed with 4008")
        wait_until(lambda: sample(self.gateway.metrics(), 'herald_gateway_auth_failures_total{reason="timeout"}') == 1
                   and sample(self.gateway.metrics(), 'herald_gateway_closes_total{code="4008"}') == 1,
                   what="the timeout is counted")

    async def test_max_connections(self):
        self.gateway = Gateway(self.broker, max_connections=2)
        first, _ = await ws_connect(self.gateway.url, make_token("one"))
        second, _ = await ws_connect(self.gateway.url, make_token("two"))
        with self.assertRaises(Exception, msg="a third WebSocket is refused at --max-connections 2"):
            await ws_connect(self.gateway.url, make_token("three"))
        self.assertEqual(sample(self.gateway.metrics(), 'herald_gateway_refused_total{reason="limit"}'), 1,
                         "the refusal is counted")
        await first.close()
        wait_until(lambda: sample(self.gateway.metrics(), "herald_gateway_connections") == 1,
                   what="the first connection is gone")
        third, welcome = await ws_connect(self.gateway.url, make_token("three"))
        self.assertEqual(welcome["user"], "three", "a slot that frees up can be used again")
        await second.close()
        await third.close()

    async def test_1001_on_sigterm(self):
        self.gateway = Gateway(self.broker)
        clients = [(await ws_connect(self.gateway.url, make_token("stay-%d" % i)))[0] for i in range(3)]
        waiting, _ = await ws_connect(self.gateway.url)     # connected, not yet authenticated
        started = time.monotonic()
        self.gateway.signal(signal.SIGTERM)
        for ws in clients + [waiting]:
            self.assertEqual(await ws_close_code(ws), 1001, "SIGTERM closes every client with 1001")
        self.assertEqual(self.gateway.wait(timeout=5), 0, "the gateway exits cleanly after SIGTERM")
        print("gateway exited %.3f s after SIGTERM (design target: under 1 s)" % (time.monotonic() - started))

    async def test_1013_client_that_never_reads(self):
        queue_bound = 256 * 1024
        self.gateway = Gateway(self.broker, max_queue_bytes=queue_bound)
        fast, _ = await ws_connect(self.gateway.url, make_token("keeps-up"))
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", self.gateway.port))
        key = base64.b64encode(os.urandom(16)).decode()
        slow.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = slow.recv(1)        # read exactly the handshake, nothing after it
            self.assertTrue(chunk, "the raw client completes the WebSocket handshake")
            reply += chunk
        self.assertIn(b" 101 ", reply.split(b"\r\n")[0], "the upgrade is accepted")
        payload = json.dumps({"type": "auth", "token": make_token("never-reads")}).encode()
        mask = os.urandom(4)
        header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") if len(payload) > 125 \
            else bytes([0x81, 0x80 | len(payload)])
        slow.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        wait_until(lambda: sample(self.gateway.metrics(), "herald_gateway_users") == 2,
                   what="both users connected")
        baseline = self.gateway.rss_bytes() // 1024
        producer = Producer(self.broker)
        blob = "z" * 32000
        total, batch = 400, 4       # 12.8 MB in all, far beyond every buffer; a batch fits the bound
        received = []
        peak_queued = 0
        try:
            for start in range(0, total, batch):
                for i in range(start, start + batch):
                    producer.send(["keeps-up", "never-reads"], "big", {"i": i, "blob": blob})
                # pace by what the reading client got, so only the other one falls behind
                received += await ws_recv_events(fast, batch, timeout=20)
                peak_queued = max(peak_queued, sample(self.gateway.metrics(), "herald_gateway_queue_bytes"))
        finally:
            producer.close()
        self.assertLessEqual(peak_queued, 2 * queue_bound,
                             "queued bytes never pass the two connections' bounds")
        self.assertEqual([e["data"]["i"] for e in received], list(range(total)),
                         "the client that reads gets every event while the other one stalls")
        wait_until(lambda: sample(self.gateway.metrics(), 'herald_gateway_closes_total{code="1013"}') == 1,
                   timeout=15, what="the stalled client is closed with 1013")
        wait_until(lambda: sample(self.gateway.metrics(), "herald_gateway_connections") == 1,
                   what="the stalled connection is gone")
        self.assertGreater(sample(self.gateway.metrics(), 'herald_gateway_events_dropped_total{reason="slow_consumer"}'), 0,
                           "what the stalled client could not take is counted as dropped")
        growth = self.gateway.rss_bytes() // 1024 - baseline
        print("gateway RSS grew %d KiB while 12.8 MB went to a client that never reads" % growth)
        if not sanitized(self.gateway.proc.pid):    # ASan's quarantine holds freed memory
            self.assertLess(growth, 8 * 1024, "the gateway's memory stays bounded (under 8 MiB of growth)")
        slow.close()
        await fast.close()


if __name__ == "__main__":
    unittest.main()
