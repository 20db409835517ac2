"""herald.token -- HS256 JSON Web Tokens for herald.js, minted with the standard library.

The gateway (proto/PROTOCOL.md, "Client protocol") accepts an HS256 token
signed with the shared secret, with `sub` a valid user id and a numeric
`exp`; `iat`, `nbf`, `aud`, `iss` are checked when present, and a token
with `aud` is refused unless the gateway runs with --token-aud. Channel
subscriptions are allowed by a `channels` claim (exact names, or prefixes
ending in `*`) or by a subscription token (`sub` and `channel`).
"""
import base64
import hashlib
import hmac
import json
import re
import time

from . import envelope
from .errors import ConfigError

# An exact channel name, or a prefix of one followed by "*" ("*" alone: all)
CHANNEL_PATTERN_RE = re.compile(r"(?:[A-Za-z0-9_.:@/=\-]{1,128}|[A-Za-z0-9_.:@/=\-]{0,128}\*)\Z")
TTL_MAX = 10 * 365 * 24 * 3600   # as herald-token: a typo guard


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def encode(claims, secret):
    """An HS256 JWT of the claims (a dict that json can write)."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise ConfigError("herald: no secret (set HERALD_SECRET, HERALD_SECRET_FILE or secret=)")
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    signing_input = header + b"." + body
    sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64url(sig)).decode("ascii")


def check_ttl(ttl):
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise TypeError("herald: ttl must be an int (seconds), not %s" % type(ttl).__name__)
    if ttl > TTL_MAX:
        raise ValueError("herald: ttl %d is over ten years" % ttl)
    return ttl


def check_channel_patterns(channels):
    """The `channels` claim: a list of exact channel names or prefixes
    ending in `*`."""
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__iter__"):
        raise TypeError("herald: channels must be a list of channel names")
    out = []
    for c in channels:
        if not isinstance(c, str):
            raise TypeError("herald: a channel in channels must be a str, not %s" % type(c).__name__)
        if not CHANNEL_PATTERN_RE.match(c):
            raise ValueError("herald: %r is neither a channel name nor a prefix ending in '*'" % (c,))
        out.append(c)
    return out


def claims_for(user, ttl, now=None, channels=None, channel=None, aud=None, iss=None, extra=None):
    """The claim set: extra claims first, then sub, iat, exp (always ours),
    channels/channel, aud, iss when given."""
    now = int(time.time()) if now is None else now
    claims = dict(extra or {})
    claims.update({"sub": envelope.check_user(user), "iat": now, "exp": now + check_ttl(ttl)})
    if channels is not None:
        claims["channels"] = check_channel_patterns(channels)
    if channel is not None:
        claims["channel"] = envelope.check_channel(channel)
    if aud is not None:
        ok = isinstance(aud, str) or (isinstance(aud, (list, tuple)) and all(isinstance(a, str) for a in aud))
        if not ok:
            raise TypeError("herald: aud must be a str or a list of str")
        claims["aud"] = aud if isinstance(aud, str) else list(aud)
    if iss is not None:
        if not isinstance(iss, str):
            raise TypeError("herald: iss must be a str")
        claims["iss"] = iss
    return claims
