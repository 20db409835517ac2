"""test_gateway_rfc6455.py -- the handshake rules of RFC 6455 and
--allowed-origins: a Sec-WebSocket-Version other than 13 (8, 99, none) gets
426 with Sec-WebSocket-Version: 13; an Origin not in the list gets 403; an
upgrade without Origin (not a browser) and a listed one get 101; an upgrade
on another path gets 404. Each refusal counted by reason."""
import unittest

from gateway_case import GatewayCase
from harness import make_token
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


if __name__ == "__main__":
    unittest.main()
