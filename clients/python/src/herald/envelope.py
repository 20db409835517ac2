"""herald.envelope -- builds and checks the producer envelope (proto/PROTOCOL.md).

The broker drops a bad envelope silently (it only counts it in
herald_broker_events_rejected_total), so the client checks the same rules
first and raises at the caller, where the mistake can be fixed: TypeError
for a value of the wrong type, ValueError for one the protocol refuses.
"""
import datetime
import decimal
import enum
import re
import uuid
from collections.abc import Mapping

import msgpack

EVENT_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}\Z")
CHANNEL_RE = re.compile(r"[A-Za-z0-9_.:@/=\-]{1,128}\Z")
# C0 controls, DEL and C1 controls are refused in user ids
CONTROL_RE = re.compile("[\u0000-\u001f\u007f-\u009f]")
USER_MAX = 128
ID_MAX = 128
IDEMPOTENCY_KEY_MAX = 128
MAX_RECIPIENTS = 10_000
# The broker refuses more than 32 nested containers, the envelope map
# itself included, so data may nest 31.
DATA_DEPTH_MAX = 31
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 64 - 1
MAX_EVENT_BYTES = 65_536


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_event(event):
    """The event name, 1-64 characters of [A-Za-z0-9_.:-]."""
    if not isinstance(event, str):
        raise TypeError("herald: event name must be a str, not %s" % type(event).__name__)
    if not EVENT_RE.match(event):
        raise ValueError("herald: event name %r must be 1-64 characters of [A-Za-z0-9_.:-]" % (event,))
    return event


def check_user(user):
    """One user id as the broker takes it: 1-128 bytes of UTF-8 without
    control characters. An int (a database primary key) is sent as its
    decimal text, so notify(user.pk, ...) and token(user.pk) agree."""
    if _is_int(user):
        return str(user)
    if not isinstance(user, str):
        raise TypeError("herald: user id must be a str or an int, not %s" % type(user).__name__)
    try:
        size = len(user.encode("utf-8"))
    except UnicodeEncodeError:
        size = -1    # a lone surrogate: not UTF-8
    if size < 1 or size > USER_MAX or CONTROL_RE.search(user):
        raise ValueError("herald: user id %r must be 1-128 bytes of UTF-8 without control characters"
                         % (user,))
    return user


def check_users(users):
    """`to` of the envelope: one user id (sent as a str) or an iterable of
    1-10,000 (sent as a list, duplicates removed in order)."""
    if isinstance(users, (str, int)) and not isinstance(users, bool):
        return check_user(users)
    if isinstance(users, (bytes, bytearray, Mapping)) or not hasattr(users, "__iter__"):
        raise TypeError("herald: users must be a user id or a list of them, not %s"
                        % type(users).__name__)
    seen = {}
    for u in users:
        seen.setdefault(check_user(u), None)
        if len(seen) > MAX_RECIPIENTS:
            break
    if not seen or len(seen) > MAX_RECIPIENTS:
        raise ValueError("herald: an event needs 1-%d recipients, got %s"
                         % (MAX_RECIPIENTS, len(seen) if seen else 0))
    return list(seen)


def check_channel(channel):
    """A channel name, 1-128 characters of [A-Za-z0-9_.:@/=-]."""
    if not isinstance(channel, str):
        raise TypeError("herald: channel must be a str, not %s" % type(channel).__name__)
    if not CHANNEL_RE.match(channel):
        raise ValueError("herald: channel %r must be 1-128 characters of [A-Za-z0-9_.:@/=-]" % (channel,))
    return channel


def _check_str(value, what, low, high):
    if _is_int(value):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError("herald: %s must be a str, not %s" % (what, type(value).__name__))
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("herald: %s is not valid UTF-8" % what) from None
    if size < low or size > high:
        raise ValueError("herald: %s must be %d-%d bytes, not %d" % (what, low, high, size))
    return value


def check_id(event_id):
    """The producer's own event id: a str of at most 128 bytes."""
    return _check_str(event_id, "id", 0, ID_MAX)


def check_idempotency_key(key):
    """An idempotency key: 1-128 bytes (the broker routes an envelope whose
    key it accepted within its --idempotency-window only once)."""
    return _check_str(key, "idempotency_key", 1, IDEMPOTENCY_KEY_MAX)


def check_ttl(ttl):
    """Seconds in history: a non-negative int (0: never stored)."""
    if not _is_int(ttl):
        raise TypeError("herald: ttl must be an int (seconds), not %s" % type(ttl).__name__)
    if ttl < 0 or ttl > INT_MAX:
        raise ValueError("herald: ttl must be 0 or more seconds, not %d" % ttl)
    return ttl


def plain(value, default=None, _depth=0, _path="data"):
    """value as msgpack-ready data: dicts (any Mapping) with their keys,
    lists (also tuples and sets), str, bytes (base64 in the browser), int,
    float, bool, None. datetime/date/time become ISO 8601 strings, UUID and
    Decimal their text, an Enum its value. Anything else goes through
    default(obj) when given (e.g. Django's model_to_dict), else TypeError
    naming where it was. ValueError for an int outside 64 bits or nesting
    deeper than the broker takes."""
    if value is None or isinstance(value, (bool, str, float, bytes)):
        return value
    if isinstance(value, int):
        if value < INT_MIN or value > INT_MAX:
            raise ValueError("herald: %s is an int outside the 64-bit range msgpack carries" % _path)
        return value
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        if _depth >= DATA_DEPTH_MAX:
            raise ValueError("herald: data nests more than %d containers (the broker's bound)"
                             % DATA_DEPTH_MAX)
        if isinstance(value, Mapping):
            return {_key(k, _path): plain(v, default, _depth + 1, "%s[%r]" % (_path, k))
                    for k, v in value.items()}
        return [plain(v, default, _depth + 1, "%s[%d]" % (_path, i)) for i, v in enumerate(value)]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, enum.Enum):
        return plain(value.value, default, _depth, _path)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if default is not None and _depth < DATA_DEPTH_MAX:
        return plain(default(value), default, _depth + 1, _path)
    raise TypeError("herald: %s is a %s, which cannot be sent (give default= a function that "
                    "turns it into dicts, lists, str and numbers)" % (_path, type(value).__name__))


def _key(key, path):
    """A map key: a scalar (the broker stringifies keys that are not str)."""
    if isinstance(key, enum.Enum):
        key = key.value
    if key is None or isinstance(key, (str, int, float, bytes)):
        return plain(key, None, 0, "a key in " + path)
    if isinstance(key, (datetime.datetime, datetime.date, datetime.time, uuid.UUID, decimal.Decimal)):
        return plain(key, None, 0, "a key in " + path)
    raise TypeError("herald: a key in %s is a %s; keys must be str, numbers, bool or None"
                    % (path, type(key).__name__))


def build(event, to=None, channel=None, broadcast=False, data=None, event_id=None, ttl=None,
          idempotency_key=None, default=None):
    """The envelope as a dict with exactly one addressing key: `to` (users),
    `channel`, or `broadcast: true`. Raises TypeError/ValueError."""
    given = (to is not None) + (channel is not None) + bool(broadcast)
    if given != 1:
        raise ValueError("herald: an envelope is addressed to users, a channel or everyone: "
                         "exactly one of them")
    env = {"event": check_event(event)}
    if to is not None:
        env["to"] = check_users(to)
    elif channel is not None:
        env["channel"] = check_channel(channel)
    else:
        env["broadcast"] = True
    if data is not None:
        env["data"] = plain(data, default)
    if event_id is not None:
        env["id"] = check_id(event_id)
    if ttl is not None:
        env["ttl"] = check_ttl(ttl)
    if idempotency_key is not None:
        env["idempotency_key"] = check_idempotency_key(idempotency_key)
    return env


def pack(env, max_bytes=MAX_EVENT_BYTES):
    """The msgpack bytes of an envelope from build(); ValueError over
    max_bytes (the broker's --max-event-bytes), since the broker would drop it."""
    try:
        raw = msgpack.packb(env, use_bin_type=True)
    except UnicodeEncodeError as e:
        raise ValueError("herald: data holds a str that is not valid UTF-8 (%s)" % e) from None
    if len(raw) > max_bytes:
        raise ValueError("herald: the envelope is %d bytes, over the %d-byte limit (max_event_bytes)"
                         % (len(raw), max_bytes))
    return raw
