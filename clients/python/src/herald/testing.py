"""herald.testing -- a recording stand-in for the client, for an application's own tests.

    from herald.testing import recording

    def test_bid_tells_the_customer(client):
        with recording(online=["carol"]) as sent:
            client.post("/orders/42/bids", {"amount": 120})
        sent.assert_notified("carol", "bid", data={"amount": 120, "vendor": "v1"})
        sent.assert_not_notified("dave")

A Recorder is a Herald that sends nothing: it checks every envelope with
the real rules (a bad event name still raises ValueError), keeps it, and
answers presence from the users it was told are online. Tokens are real,
signed with its secret. Works with unittest, pytest and Django's TestCase.
"""
import contextlib

from . import envelope
from .client import Herald

ANY = object()   # a field value that matches anything


class Recorder(Herald):
    """Herald's interface; `sent` holds each envelope (a dict with the
    protocol's keys, data already converted, plus "confirm")."""

    def __init__(self, online=(), secret="herald-test-secret", **settings):
        super().__init__(env={}, secret=secret, **settings)
        self.sent = []
        self.disconnected = []
        self.online_users = {envelope.check_user(u) for u in online}
        self._offset = 0

    def _send(self, env, confirm):
        envelope.pack(env, self.config.max_event_bytes)   # the size rule too
        self.sent.append(dict(env, confirm=confirm))
        self._offset += 1
        if confirm:
            return {"offset": self._offset, "epoch": "0000000000000000", "duplicate": False}
        return True

    def control_request(self, request):
        op = request.get("op")
        if op == "presence" and "channel" in request:
            return {"channel": request["channel"], "users": [], "connections": 0, "exact": True,
                    "truncated": False}
        if op == "presence":
            return {"online": {u: u in self.online_users for u in request["users"]}}
        if op == "disconnect":
            self.disconnected.append(request["user"])
            return {"user": request["user"], "online": request["user"] in self.online_users,
                    "sent": True}
        return {"error": "unknown op"} if op != "stats" else {}

    def flush(self, timeout=None):
        return True

    def close(self, timeout=None):
        return True

    def clear(self):
        self.sent.clear()
        self.disconnected.clear()

    # --- queries and assertions ----------------------------------------------

    @staticmethod
    def _recipients(env):
        to = env.get("to")
        return [] if to is None else [to] if isinstance(to, str) else to

    def notified(self, user=None, event=None):
        """The user events sent (to user, of event, when given)."""
        user = None if user is None else envelope.check_user(user)
        return [e for e in self.sent if "to" in e
                and (user is None or user in self._recipients(e))
                and (event is None or e["event"] == event)]

    def published(self, channel=None, event=None):
        return [e for e in self.sent if "channel" in e
                and (channel is None or e["channel"] == channel)
                and (event is None or e["event"] == event)]

    def broadcasts(self, event=None):
        return [e for e in self.sent if e.get("broadcast") and (event is None or e["event"] == event)]

    @staticmethod
    def _match(found, what, data, fields):
        want = dict(fields)
        if data is not ANY:
            want["data"] = envelope.plain(data)
        for env in found:
            if all(env.get(k) == v for k, v in want.items()):
                return env
        raise AssertionError("no %s%s; sent: %r" % (what, " with %r" % (want,) if want else "", found))

    def assert_notified(self, user, event=None, data=ANY, **fields):
        """The envelope sent to user (of event, with data and fields such as
        id=, ttl=, when given); AssertionError listing what was sent otherwise."""
        return self._match(self.notified(user, event), "%s for %s" % (event or "event", user),
                           data, fields)

    def assert_not_notified(self, user, event=None):
        found = self.notified(user, event)
        if found:
            raise AssertionError("%s was notified: %r" % (user, found))

    def assert_published(self, channel, event=None, data=ANY, **fields):
        return self._match(self.published(channel, event), "%s on %s" % (event or "event", channel),
                           data, fields)

    def assert_broadcast(self, event=None, data=ANY, **fields):
        return self._match(self.broadcasts(event), "broadcast %s" % (event or ""), data, fields)


@contextlib.contextmanager
def recording(**settings):
    """Makes a Recorder the module's client (herald.notify and friends)
    for the block, then puts the previous client back."""
    import herald
    rec = Recorder(**settings)
    with herald._default_lock:
        previous, herald._default = herald._default, rec
    try:
        yield rec
    finally:
        with herald._default_lock:
            herald._default = previous
