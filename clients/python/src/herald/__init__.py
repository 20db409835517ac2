"""herald -- Herald's Python producer client: notify users, publish to channels, ask presence, mint tokens.

    import herald

    herald.notify("carol", "bid", {"amount": 120, "vendor": "v1"}, id="bid-7")
    herald.publish("order:17", "bid", {"amount": 120})
    herald.broadcast("maintenance", {"at": "22:00"})
    herald.online("carol")                  # True / False
    herald.presence(["v1", "v2"])           # {"v1": True, "v2": False}
    herald.token("carol", ttl=3600)         # "eyJ..." for herald.js

The module-level functions use one client configured from the HERALD_*
environment variables on first use, or by herald.configure(...). A Herald
object of your own works the same: Herald(ingest=..., control=..., secret=...).
Everything is safe to call from any thread and after fork (README.md).
"""
import threading

from .client import Herald
from .errors import ConfigError, ControlError, HeraldError, QueueFull, SocketError, Timeout

__version__ = "0.1.0"
__all__ = ["Herald", "HeraldError", "QueueFull", "Timeout", "ControlError", "ConfigError",
           "SocketError", "configure", "client", "reset", "notify", "publish", "broadcast",
           "publish_confirmed", "online", "presence", "channel_presence", "disconnect",
           "token", "subscription_token", "control_request", "stats", "flush", "close"]

_default = None
_default_lock = threading.Lock()


def configure(**settings):
    """Replaces the module's client with Herald(**settings) (the old one is
    closed, flushing for up to its linger_ms). Call it at start-up; the
    environment still supplies what settings leaves out."""
    global _default
    new = Herald(**settings)
    with _default_lock:
        old, _default = _default, new
    if old is not None:
        old.close()
    return new


def client():
    """The module's client, made from the environment on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Herald()
        return _default


def reset():
    """Closes the module's client and forgets it (the next call reads the
    environment again)."""
    global _default
    with _default_lock:
        old, _default = _default, None
    if old is not None:
        old.close()


def notify(users, event, data=None, **options):
    return client().notify(users, event, data, **options)


def publish(channel, event, data=None, **options):
    return client().publish(channel, event, data, **options)


def broadcast(event, data=None, **options):
    return client().broadcast(event, data, **options)


def publish_confirmed(channel, event, data=None, **options):
    return client().publish_confirmed(channel, event, data, **options)


def online(users):
    return client().online(users)


def presence(users):
    return client().presence(users)


def channel_presence(channel):
    return client().channel_presence(channel)


def disconnect(user):
    return client().disconnect(user)


def token(user, ttl=None, channels=None, **options):
    return client().token(user, ttl, channels, **options)


def subscription_token(user, channel, ttl=None):
    return client().subscription_token(user, channel, ttl)


def control_request(request):
    return client().control_request(request)


def stats():
    return client().stats()


def flush(timeout=None):
    return client().flush(timeout)


def close(timeout=None):
    return client().close(timeout)


for _name in ("notify", "publish", "broadcast", "publish_confirmed", "online", "presence",
              "channel_presence", "disconnect", "token", "subscription_token",
              "control_request", "stats", "flush", "close"):
    globals()[_name].__doc__ = getattr(Herald, _name).__doc__
del _name
