"""herald.errors -- every error the client raises, under one base class.

Bad arguments are not here: they raise the built-in ValueError (a value
the protocol refuses) or TypeError (a value of the wrong type), before
anything is sent.
"""


class HeraldError(Exception):
    """Base class: ``except herald.HeraldError`` catches everything below."""


class QueueFull(HeraldError):
    """notify() found the send queue full (send_hwm events or
    send_queue_bytes bytes waiting): the broker has been unreachable or too
    slow for that long. Not raised with on_full="drop" (counted instead)."""


class Timeout(HeraldError, TimeoutError):
    """The broker's control socket did not answer in time (broker down,
    wrong endpoint, a CURVE key it does not allow)."""


class ControlError(HeraldError):
    """The broker answered a control request with {"error": ...}; .reply
    holds the whole answer."""

    def __init__(self, message, reply=None):
        super().__init__(message)
        self.reply = reply


class ConfigError(HeraldError, ValueError):
    """A setting that cannot work (bad number, missing secret, unreadable
    CURVE certificate), raised at construction or configure() time."""


class SocketError(HeraldError):
    """ZeroMQ itself failed (bad endpoint syntax, out of descriptors)."""
