"""herald.client -- the Herald class: notify, publish, presence and tokens, safe across threads and fork.

Sockets belong to the process that opened them: a ZeroMQ context must not
be used across fork() (its I/O threads exist only in the parent). A child
(a gunicorn or uWSGI worker, a multiprocessing or Celery prefork child)
drops the parent's sender and control sockets without touching them
(os.register_at_fork, and a PID check on every call for a fork that
bypassed os.fork) and opens its own on first use. The parent keeps working.
"""
import atexit
import os
import threading
import uuid
import weakref

from . import envelope, token as jwt
from .config import Config
from .control import Control
from .errors import ConfigError, ControlError
from .sender import Closed, Sender

_instances = weakref.WeakSet()
# What a forked child inherited: kept referenced so no destructor of the
# parent's ZeroMQ objects ever runs in the child.
_abandoned = []


class Herald:
    """A producer client of one Herald broker (or hot standby pair).

    Herald() reads HERALD_INGEST, HERALD_CONTROL, HERALD_SECRET, ... (see
    herald.config.SETTINGS and README.md); keyword arguments win. Every
    method may be called from any thread, before and after fork()."""

    def __init__(self, ingest=None, control=None, secret=None, curve_server=None, curve_cert=None,
                 *, env=None, **settings):
        self.config = Config(env=env, ingest=ingest, control=control, secret=secret,
                             curve_server=curve_server, curve_cert=curve_cert, **settings)
        self._reset_process()
        _instances.add(self)

    def _reset_process(self):
        # new locks too: another thread may have held the old one at fork time
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._sender = None
        self._control = None
        self._totals = {"queued": 0, "sent": 0, "dropped": 0}

    def _after_fork_child(self):
        _abandoned.append((self._sender, self._control))
        self._reset_process()

    def _check_pid(self):
        if self._pid != os.getpid():
            self._after_fork_child()

    def _get_sender(self):
        self._check_pid()
        with self._lock:
            if self._sender is None:
                self._sender = Sender(self.config)
            return self._sender

    def _get_control(self):
        self._check_pid()
        with self._lock:
            if self._control is None:
                self._control = Control(self.config)
            return self._control

    # --- events ------------------------------------------------------------

    def notify(self, users, event, data=None, *, id=None, ttl=None, idempotency_key=None,
               confirm=False):
        """Sends event to one user id or a list of them (1-10,000). Never
        blocks: True when queued; with on_full="drop", False when the queue
        is full (counted); else raises QueueFull. TypeError/ValueError for
        input the broker would refuse, before anything is sent.

        confirm=True sends through the control socket instead and returns
        {"offset", "epoch", "duplicate"} once the broker committed it
        (and its passive copied it); raises Timeout or ControlError."""
        env = envelope.build(event, to=users, data=data, event_id=id, ttl=ttl,
                             idempotency_key=idempotency_key, default=self.config.default)
        return self._send(env, confirm)

    def publish(self, channel, event, data=None, *, id=None, ttl=None, idempotency_key=None,
                confirm=False):
        """Sends event to every connection subscribed to channel (1-128
        characters of [A-Za-z0-9_.:@/=-]). As notify otherwise."""
        env = envelope.build(event, channel=channel, data=data, event_id=id, ttl=ttl,
                             idempotency_key=idempotency_key, default=self.config.default)
        return self._send(env, confirm)

    def broadcast(self, event, data=None, *, id=None, ttl=None, idempotency_key=None,
                  confirm=False):
        """Sends event to every connection on every gateway. As notify otherwise."""
        env = envelope.build(event, broadcast=True, data=data, event_id=id, ttl=ttl,
                             idempotency_key=idempotency_key, default=self.config.default)
        return self._send(env, confirm)

    def publish_confirmed(self, channel, event, data=None, **options):
        """publish(..., confirm=True)."""
        return self.publish(channel, event, data, confirm=True, **options)

    def _send(self, env, confirm):
        raw = envelope.pack(env, self.config.max_event_bytes)
        if not confirm:
            try:
                return self._get_sender().offer(raw)
            except Closed:
                # another thread's flush() retired that sender just now (it
                # takes it out of self._sender first): the next one is new
                return self._get_sender().offer(raw)
        if "idempotency_key" not in env and self.config.control_tries > 1:
            # a retry after a timeout or a failover must not route it twice
            env["idempotency_key"] = "herald-py:" + uuid.uuid4().hex
        reply = self.control_request(dict(env, op="publish"))
        if "offset" not in reply:
            raise ControlError("herald: publish reply without 'offset': %r" % (reply,), reply)
        return {"offset": reply["offset"], "epoch": reply.get("epoch"),
                "duplicate": reply.get("duplicate") is True}

    # --- control -------------------------------------------------------------

    def control_request(self, request):
        """Sends one control request (a dict) and returns the broker's answer."""
        return self._get_control().request(request)

    def presence(self, users):
        """{user: True/False} for each user id: True while the user holds a
        live connection on some gateway."""
        if isinstance(users, (str, int)) and not isinstance(users, bool):
            users = [users]
        asked = list(dict.fromkeys(envelope.check_user(u) for u in users))
        if not asked:
            return {}
        if len(asked) > envelope.MAX_RECIPIENTS:
            raise ValueError("herald: presence takes at most %d users" % envelope.MAX_RECIPIENTS)
        reply = self.control_request({"op": "presence", "users": asked})
        online = reply.get("online")
        if not isinstance(online, dict):
            raise ControlError("herald: presence reply without 'online': %r" % (reply,), reply)
        return {u: online.get(u) is True for u in asked}

    def online(self, users):
        """For one user id: True/False. For a list: presence(users)."""
        if isinstance(users, (str, int)) and not isinstance(users, bool):
            user = envelope.check_user(users)
            return self.presence([user])[user]
        return self.presence(users)

    def channel_presence(self, channel):
        """{"users": [...], "connections": N, "exact": B, "truncated": B}:
        who holds a connection subscribed to channel (at most 10,000 users
        listed; truncated says there are more)."""
        reply = self.control_request({"op": "presence", "channel": envelope.check_channel(channel)})
        if "connections" not in reply:
            raise ControlError("herald: channel presence reply without 'connections': %r"
                               % (reply,), reply)
        return {"users": list(reply.get("users") or []), "connections": reply["connections"],
                "exact": reply.get("exact") is not False, "truncated": reply.get("truncated") is True}

    def disconnect(self, user):
        """Closes every connection of user on every gateway with 4003
        (herald.js does not reconnect after it). {"online": B, "sent": B}.
        Not a ban: stop issuing the user tokens as well."""
        reply = self.control_request({"op": "disconnect", "user": envelope.check_user(user)})
        if "sent" not in reply:
            raise ControlError("herald: disconnect reply without 'sent': %r" % (reply,), reply)
        return {"online": reply.get("online") is True, "sent": reply["sent"] is True}

    # --- tokens --------------------------------------------------------------

    def _secret(self):
        secret = self.config.secret
        if not secret:
            raise ConfigError("herald: no secret (set HERALD_SECRET, HERALD_SECRET_FILE or secret=)")
        return secret

    def token(self, user, ttl=None, channels=None, *, aud=None, iss=None, claims=None):
        """An HS256 JWT for herald.js: sub = user, iat = now, exp = now +
        ttl (default token_ttl); channels = the channels (exact names or
        prefixes ending in "*") the connection may subscribe to; aud/iss
        for gateways run with --token-aud/--token-iss (a gateway without
        --token-aud refuses a token that has an aud). claims: more claims."""
        return jwt.encode(jwt.claims_for(user, self.config.token_ttl if ttl is None else ttl,
                                         channels=channels, aud=aud, iss=iss, extra=claims),
                          self._secret())

    def subscription_token(self, user, channel, ttl=None):
        """A JWT that lets user's connection subscribe to one channel (sent
        as "token" in its subscribe frame): sub, channel, iat, exp."""
        return jwt.encode(jwt.claims_for(user, self.config.token_ttl if ttl is None else ttl,
                                         channel=channel), self._secret())

    # --- lifecycle -----------------------------------------------------------

    def stats(self):
        """This process's counters: queued (taken by notify), sent (handed to
        ZeroMQ), dropped (refused on a full queue, or left unsent when
        flush/close ran out of time), pending (queued, not yet handed).
        A forked child starts from zero."""
        self._check_pid()
        with self._lock:
            out = dict(self._totals)
            sender = self._sender
        out["pending"] = 0
        if sender is not None:
            out["queued"] += sender.queued
            out["sent"] += sender.sent
            out["dropped"] += sender.dropped
            out["pending"] = sender.pending()
        return out

    def flush(self, timeout=None):
        """Waits until every queued event was written to the broker's
        connection (or timeout seconds, default linger_ms, passed), closing
        this process's PUSH socket; the next notify opens a new one. Call
        it before os._exit() (a forked job runner's child), which skips
        the flush at exit. True when nothing was left behind."""
        self._check_pid()
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is None:
            return True
        done = sender.close(self.config.linger_ms / 1000.0 if timeout is None else timeout)
        with self._lock:
            for k in self._totals:
                self._totals[k] += getattr(sender, k)
        return done

    def close(self, timeout=None):
        """flush(timeout), then closes the control sockets. The client may be
        used again (it reopens what it needs)."""
        done = self.flush(timeout)
        with self._lock:
            control, self._control = self._control, None
        if control is not None:
            control.close()
        return done

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<Herald ingest=%s control=%s>" % (self.config.ingest, self.config.control)


def _after_fork_in_child():
    for client in list(_instances):
        client._after_fork_child()


def _close_all_at_exit():
    # each within its linger_ms, so exit never hangs on a dead broker
    for client in list(_instances):
        try:
            if client._pid == os.getpid():
                client.close()
        except Exception:
            pass


if hasattr(os, "register_at_fork"):    # not on Windows: the PID check alone
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)
