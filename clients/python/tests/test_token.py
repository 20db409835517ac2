"""test_token.py -- token() and subscription_token() mint HS256 JWTs that herald-token would, and the real gateway accepts.

The unit half decodes and verifies the tokens independently (hmac from
the standard library) and compares them with herald-token's; the
integration half presents them to a herald-gateway.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import unittest

from support import SECRET, StackCase, WsClient, fresh_user, harness, herald


def b64decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def decode(tok, secret=SECRET):
    """(header, claims) of a JWT whose HS256 signature checks out with secret."""
    head, body, sig = tok.split(".")
    want = hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, b64decode(sig)):
        raise AssertionError("bad signature")
    return json.loads(b64decode(head)), json.loads(b64decode(body))


class Unit(unittest.TestCase):
    def setUp(self):
        self.h = herald.Herald(secret=SECRET)

    def test_claims(self):
        before = int(time.time())
        header, claims = decode(self.h.token("carol", ttl=60))
        self.assertEqual(header, {"alg": "HS256", "typ": "JWT"})
        self.assertEqual(set(claims), {"sub", "iat", "exp"}, "no claim the gateway would not expect")
        self.assertEqual(claims["sub"], "carol")
        self.assertGreaterEqual(claims["iat"], before)
        self.assertEqual(claims["exp"], claims["iat"] + 60, "exp is iat + ttl")
        _, claims = decode(self.h.token("carol"))
        self.assertEqual(claims["exp"] - claims["iat"], 3600, "token_ttl is the default lifetime")

    def same_as_herald_token(self, flags, mint):
        """Mints with herald-token FLAGS and with mint() in the same second
        (tried again across a second boundary) and compares both whole."""
        env = dict(os.environ, HERALD_SECRET=SECRET)
        for _ in range(3):
            theirs = subprocess.run([os.path.join(harness.BIN, "herald-token"), "--user", "carol",
                                     "--ttl", "60"] + flags,
                                    capture_output=True, text=True, check=True, env=env).stdout.strip()
            ours = mint()
            if decode(theirs)[1]["iat"] == decode(ours)[1]["iat"]:
                break
        self.assertEqual(decode(ours), decode(theirs),
                         "the same header and claims as herald-token %s, both signatures verified"
                         % " ".join(flags))

    def test_same_tokens_as_herald_token(self):
        self.same_as_herald_token(["--aud", "herald", "--iss", "shop"],
                                  lambda: self.h.token("carol", 60, aud="herald", iss="shop"))
        self.same_as_herald_token(["--channel", "order:17", "--channel", "board:*"],
                                  lambda: self.h.token("carol", 60, channels=["order:17", "board:*"]))
        self.same_as_herald_token(["--subscription", "order:17"],
                                  lambda: self.h.subscription_token("carol", "order:17", ttl=60))

    def test_channels_claim_and_subscription_token(self):
        _, claims = decode(self.h.token("carol", 60, channels=["order:17", "board:*", "*"]))
        self.assertEqual(claims["channels"], ["order:17", "board:*", "*"],
                         "channels is an array of exact names and prefixes ending in *")
        _, claims = decode(self.h.subscription_token("carol", "order:17", ttl=30))
        self.assertEqual(set(claims), {"sub", "channel", "iat", "exp"})
        self.assertEqual((claims["sub"], claims["channel"], claims["exp"] - claims["iat"]),
                         ("carol", "order:17", 30))
        _, claims = decode(self.h.token("carol", channels=["c" * 128, "c" * 128 + "*"]))
        self.assertEqual(len(claims["channels"]), 2, "names and prefixes up to the gateway's 128 bytes")
        for bad in (["no spaces"], ["a*b"], "order:17", [7], ["c" * 129], ["**"]):
            with self.assertRaises((TypeError, ValueError), msg=repr(bad)):
                self.h.token("carol", channels=bad)
        with self.assertRaises(ValueError):
            self.h.subscription_token("carol", "order:*")

    def test_aud_iss_and_extra_claims(self):
        _, claims = decode(self.h.token("carol", aud=["a", "b"], claims={"role": "vendor",
                                                                          "sub": "mallory"}))
        self.assertEqual(claims["aud"], ["a", "b"])
        self.assertEqual(claims["role"], "vendor", "extra claims are carried")
        self.assertEqual(claims["sub"], "carol", "an extra claim cannot replace sub")
        with self.assertRaises(TypeError):
            self.h.token("carol", aud=7)

    def test_bad_user_and_missing_secret(self):
        with self.assertRaises(ValueError):
            self.h.token("a\x00b")
        with self.assertRaises(herald.ConfigError):
            herald.Herald(env={}).token("carol")

    def test_secret_from_file(self):
        path = "/tmp/herald-pytest-secret-%d" % os.getpid()
        with open(path, "w") as f:
            f.write(SECRET + "\n")
        try:
            h = herald.Herald(env={"HERALD_SECRET_FILE": path})
            decode(h.token("carol"))    # verified with SECRET: the newline was dropped
        finally:
            os.unlink(path)


class Gateway(StackCase, unittest.TestCase):
    def connect(self, tok):
        ws = WsClient(self.stack.gateway.url, tok)
        self.ws_clients.append(ws)
        return ws.next_frame()

    def test_gateway_accepts_tokens(self):
        user = fresh_user("tok")
        self.assertEqual(self.connect(self.h.token(user))["user"], user)
        frame = self.connect(self.h.token(user, channels=["order:*"]))
        self.assertEqual((frame["type"], frame["user"]), ("welcome", user),
                         "a token with a channels claim authenticates too")

    def test_gateway_refusals(self):
        self.assertEqual(self.connect(herald.Herald(secret="another").token("mallory"))["code"], 4001,
                         "a token signed with another secret is refused with 4001")
        self.assertEqual(self.connect(self.h.token("late", ttl=-10))["code"], 4002,
                         "an expired token is refused with 4002")
        self.assertEqual(self.connect(self.h.token("aud", aud="elsewhere"))["code"], 4001,
                         "a gateway without --token-aud refuses a token that names an audience")


if __name__ == "__main__":
    unittest.main()
