"""test_gateway_tokens.py -- the gateway's optional token checks (nbf, aud,
iss, lifetime, crit) end to end: each refusal is a 4001 close counted under
its own reason, each good token is welcomed, and herald-token mints tokens
that pass them."""
import hashlib
import hmac
import json
import os
import subprocess
import time
import unittest

from harness import (BIN, Broker, Gateway, SECRET, b64url, make_token, run_async, wait_until,
                     ws_close_code, ws_connect)


def sample(metrics_text, key):
    for line in metrics_text.decode().splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def signed(header, payload, secret=SECRET):
    """An HS256 token with exactly this header and payload."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


@run_async
class TokenPolicy(unittest.TestCase):
    """One gateway with every optional check on and no clock leeway."""

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        cls.gateway = Gateway(cls.broker, token_aud="herald", token_iss="https://app.example",
                              token_max_ttl=600, token_leeway=0)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()

    def count(self, key):
        return sample(self.gateway.metrics(), key)

    async def refused(self, token, reason, what, code=4001):
        counter = 'herald_gateway_auth_failures_total{reason="%s"}' % reason
        closes = 'herald_gateway_closes_total{code="%d"}' % code
        before = self.count(counter), self.count(closes)
        ws, _ = await ws_connect(self.gateway.url)
        await ws.send(json.dumps({"type": "auth", "token": token}))
        self.assertEqual(await ws_close_code(ws), code, what)
        wait_until(lambda: self.count(counter) > before[0] and self.count(closes) > before[1],
                   what="%s counted as %s" % (what, reason))

    async def welcomed(self, token, user, what):
        ws, welcome = await ws_connect(self.gateway.url, token)
        self.assertEqual(welcome["user"], user, what)
        await ws.close()

    def good(self, **extra):
        claims = {"aud": "herald", "iss": "https://app.example"}
        claims.update(extra)
        return claims

    async def test_good_tokens_pass(self):
        now = int(time.time())
        await self.welcomed(make_token("ok1", claims=self.good()), "ok1", "a token meeting every check is welcomed")
        await self.welcomed(make_token("ok2", claims=self.good(aud=["other", "herald"])), "ok2",
                            "aud may be an array listing the gateway's audience")
        await self.welcomed(make_token("ok3", claims=self.good(nbf=now - 5, iat=now)), "ok3",
                            "an nbf in the past passes")

    async def test_nbf_in_the_future(self):
        await self.refused(make_token("early", claims=self.good(nbf=int(time.time()) + 120)), "not_yet",
                           "a token not yet valid (nbf in 2 minutes) closes with 4001")
        await self.refused(make_token("early", claims=self.good(nbf="later")), "bad_claim",
                           "a non-numeric nbf closes with 4001")

    async def test_audience(self):
        await self.refused(make_token("a1", claims={"iss": "https://app.example"}), "bad_aud",
                           "a token without aud closes with 4001 under --token-aud")
        await self.refused(make_token("a2", claims=self.good(aud="herald-staging")), "bad_aud",
                           "another audience closes with 4001")
        await self.refused(make_token("a3", claims=self.good(aud=["x", "y"])), "bad_aud",
                           "an aud array without ours closes with 4001")

    async def test_issuer(self):
        await self.refused(make_token("i1", claims={"aud": "herald"}), "bad_iss",
                           "a token without iss closes with 4001 under --token-iss")
        await self.refused(make_token("i2", claims=self.good(iss="https://evil.example")), "bad_iss",
                           "another issuer closes with 4001")

    async def test_max_ttl(self):
        now = int(time.time())
        await self.refused(make_token("t1", ttl=3600, claims=self.good(iat=now)), "too_long",
                           "exp - iat over --token-max-ttl 600 closes with 4001")
        await self.refused(make_token("t2", ttl=3600, claims=self.good()), "too_long",
                           "without iat, exp - now over the bound closes with 4001")
        await self.welcomed(make_token("t3", ttl=590, claims=self.good(iat=now)), "t3",
                            "a lifetime within the bound passes")

    async def test_crit_header(self):
        token = signed({"alg": "HS256", "typ": "JWT", "crit": ["exp"]},
                       dict(self.good(), sub="c1", exp=int(time.time()) + 60))
        await self.refused(token, "crit", "a crit header closes with 4001 (no extension is understood)")

    async def test_leeway_zero_expired(self):
        await self.refused(make_token("late", exp=int(time.time()) - 1, claims=self.good()), "expired",
                           "with --token-leeway 0 a token a second past exp closes with 4002", code=4002)

    async def test_herald_token_mints_passing_tokens(self):
        env = {"HERALD_SECRET": SECRET, "PATH": os.environ.get("PATH", "")}
        run = lambda *a: subprocess.run([os.path.join(BIN, "herald-token"), "--user", "minted"] + list(a),
                                        env=env, capture_output=True, text=True, timeout=10)
        r = run("--ttl", "300", "--aud", "herald", "--iss", "https://app.example")
        self.assertEqual(r.returncode, 0, r.stderr)
        await self.welcomed(r.stdout.strip(), "minted", "herald-token --aud --iss mints a token the gateway accepts")
        r = run("--ttl", "300", "--aud", "herald", "--iss", "https://app.example", "--nbf", "120")
        self.assertEqual(r.returncode, 0, r.stderr)
        await self.refused(r.stdout.strip(), "not_yet", "herald-token --nbf 120 mints a token not yet valid")
        self.assertEqual(run("--ttl", "60", "--nbf", "61").returncode, 2, "--nbf after expiry is a usage error")


@run_async
class DefaultLeeway(unittest.TestCase):
    """Without flags: 5 s of leeway both ways, and a token with any aud refused."""

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        cls.gateway = Gateway(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.broker.stop()

    async def test_skew_within_leeway(self):
        now = int(time.time())
        ws, welcome = await ws_connect(self.gateway.url, make_token("skew", claims={"nbf": now + 2}))
        self.assertEqual(welcome["user"], "skew", "an nbf 2 s ahead passes the default 5 s leeway")
        await ws.close()
        ws, _ = await ws_connect(self.gateway.url)
        await ws.send(json.dumps({"type": "auth", "token": make_token("skew", claims={"nbf": now + 60})}))
        self.assertEqual(await ws_close_code(ws), 4001, "an nbf a minute ahead is refused")

    async def test_aud_without_token_aud(self):
        ws, _ = await ws_connect(self.gateway.url)
        await ws.send(json.dumps({"type": "auth", "token": make_token("aud", claims={"aud": "someone"})}))
        self.assertEqual(await ws_close_code(ws), 4001,
                         "a gateway without --token-aud refuses a token naming an audience (RFC 7519 4.1.3)")


if __name__ == "__main__":
    unittest.main()
