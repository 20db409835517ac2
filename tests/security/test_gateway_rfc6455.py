"""test_gateway_rfc6455.py -- the handshake rules of RFC 6455 and
--allowed-origins: a Sec-WebSocket-Version other than 13 (8, 99, none) gets
426 with Sec-WebSocket-Version: 13; an Origin not in the list gets 403; an
upgrade without Origin (not a browser) and a listed one get 101; an upgrade
on another path gets 404; a first line lws cannot parse gets a JSON 400;
what lws answers itself (a bad %-escape, %00) is counted as unanswered.
Each refusal counted by reason."""
import socket
import unittest

from gateway_case import GatewayCase
from harness import make_token, metric
from wsraw import RawWS

ALLOWED = "https://app.example.com,http://localhost:3000"


class GatewayRFC6455(GatewayCase):
    gateway_flags = {"allowed_origins": ALLOWED}

    def test_version_other_than_13_is_426(self):
        before = self.refused("version")
        for version in ("8", "99", "", None):
            ws = RawWS(self.gateway.port, version=version)
            self.assertEqual(ws.status, 426, "version %r" % version)
            self.assertEqual(ws.headers.get("sec-websocket-version"), "13")
            ws.close()
        self.assertEqual(self.refused("version"), before + 4)
        ws = RawWS(self.gateway.port, version="13")
        self.assertEqual(ws.status, 101)
        self.assertEqual(ws.auth(make_token("v13"))["user"], "v13")
        ws.close()

    def test_origins(self):
        before = self.refused("origin")
        for origin in ("https://evil.example.com", "null", "https://app.example.com.evil.org",
                       "http://app.example.com"):
            ws = RawWS(self.gateway.port, origin=origin)
            self.assertEqual(ws.status, 403, "origin %r" % origin)
            ws.close()
        self.assertEqual(self.refused("origin"), before + 4)
        for origin in ("https://app.example.com", "HTTPS://APP.EXAMPLE.COM", "http://localhost:3000", None):
            ws = RawWS(self.gateway.port, origin=origin)
            self.assertEqual(ws.status, 101, "origin %r" % origin)
            ws.close()

    def test_other_path_is_404(self):
        before = self.refused("path")
        ws = RawWS(self.gateway.port, path="/other")
        self.assertEqual(ws.status, 404)
        ws.close()
        self.assertEqual(self.refused("path"), before + 1)

    def test_requests_lws_cannot_parse_get_a_json_400(self):
        """Unknown methods (lws 4.1 answered its own 403 HTML page, CONNECT
        nothing until its timeout) get a counted JSON 400 and are closed."""
        before = self.refused("bad_request")
        for line in (b"FOO / HTTP/1.1", b"TRACE / HTTP/1.1", b"CONNECT x:80 HTTP/1.1"):
            s = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=5)
            s.sendall(line + b"\r\nHost: x\r\n\r\n")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break       # proves: closed after the answer
                reply += chunk
            s.close()
            self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), (line, reply[:60]))
            self.assertIn(b"application/json", reply)
            self.assertTrue(reply.endswith(b'{"error":"not an HTTP request we serve"}\n'), reply)
        self.assertEqual(self.refused("bad_request"), before + 3)

    def unanswered(self):
        return metric(self.gateway.metrics(), "herald_gateway_http_unanswered_total", exact=True)

    def test_paths_lws_answers_itself_are_counted(self):
        """A bad %-escape (lws's own 403) and %00 (closed unanswered) fail
        inside lws's URL decoding before any callback; each such connection
        is still counted, and an answered request or a 400 is not."""
        before = self.unanswered()
        for path in (b"/%zz", b"/ws%00"):
            s = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=5)
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = b""
            while True:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break       # proves: lws closed it
                reply += chunk
            s.close()
            self.assertFalse(reply.startswith(b"HTTP/1.1 200"), (path, reply[:60]))
        # answered requests are not counted: a 404 and a JSON 400
        RawWS(self.gateway.port, path="/other").close()
        s = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=5)
        s.sendall(b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n")
        while s.recv(4096):
            pass
        s.close()
        self.assertEqual(self.unanswered(), before + 2)


if __name__ == "__main__":
    unittest.main()
