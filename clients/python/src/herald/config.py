"""herald.config -- settings, from keyword arguments or the HERALD_* variables the Ruby gem reads.

Every setting has a default taken from the environment, so a 12-factor
app needs no set-up code at all; keyword arguments win over variables.
"""
import os
import re

from . import curve
from .errors import ConfigError

# name: (environment variable or None, default, kind)
SETTINGS = {
    "ingest": ("HERALD_INGEST", "tcp://127.0.0.1:7401", "endpoints"),
    "control": ("HERALD_CONTROL", "tcp://127.0.0.1:7403", "endpoints"),
    "secret": ("HERALD_SECRET", None, "str"),
    "secret_file": ("HERALD_SECRET_FILE", None, "str"),
    "send_hwm": ("HERALD_SEND_HWM", 10_000, "int"),
    "send_queue_bytes": (None, 16 * 1024 * 1024, "int"),
    "on_full": ("HERALD_ON_FULL", "raise", "str"),
    "control_timeout_ms": ("HERALD_CONTROL_TIMEOUT_MS", 1000, "int"),
    "control_tries": (None, None, "int"),
    "linger_ms": ("HERALD_LINGER_MS", 1000, "int"),
    "max_event_bytes": ("HERALD_MAX_EVENT_BYTES", 65_536, "int"),
    "token_ttl": (None, 3600, "int"),
    "curve_cert": ("HERALD_CURVE_CERT", None, "str"),
    "curve_server": ("HERALD_CURVE_SERVER", None, "str"),
    "default": (None, None, "callable"),
}

# a ZeroMQ endpoint: caught here, not by the sender thread after notify returned
ENDPOINT_RE = re.compile(r"(tcp|ipc|inproc|pgm|epgm|vmci|ws|wss)://\S+\Z")

# lower bounds of the integer settings
_MINIMUM = {"send_hwm": 1, "send_queue_bytes": 1024, "control_timeout_ms": 1, "control_tries": 1,
            "linger_ms": 0, "max_event_bytes": 64, "token_ttl": 1}


class Config:
    """The settings of one Herald client (attributes named as SETTINGS).
    Raises ConfigError for a value that cannot work, so a typo shows at
    start-up rather than at the first notify."""

    def __init__(self, env=None, **kwargs):
        env = os.environ if env is None else env
        unknown = set(kwargs) - set(SETTINGS)
        if unknown:
            raise TypeError("herald: unknown setting(s) %s (known: %s)"
                            % (", ".join(sorted(unknown)), ", ".join(SETTINGS)))
        for name, (var, default, kind) in SETTINGS.items():
            if kwargs.get(name) is not None:
                value = kwargs[name]
                source = name
            elif var and env.get(var, "") != "":
                value = env[var]
                source = var
            else:
                value = default
                source = name
            setattr(self, name, self._parse(name, source, kind, value))
        if self.on_full not in ("raise", "drop"):
            raise ConfigError("herald: on_full must be 'raise' or 'drop', not %r" % (self.on_full,))
        # lists of one endpoint, or two (a hot standby pair, primary first)
        self.ingest_endpoints, self.ingest = self.ingest, ",".join(self.ingest)
        self.control_endpoints, self.control = self.control, ",".join(self.control)
        if self.control_tries is None:
            # a pair: unanswered or refused by a passive, try the other one
            # until the backup has taken over (PROTOCOL.md, Hot standby pair)
            self.control_tries = 1 if len(self.control_endpoints) == 1 else 8
        if self.secret is None and self.secret_file:
            self.secret = self._read_secret(self.secret_file)
        self.curve_keys = None
        if self.curve_cert or self.curve_server:
            if not (self.curve_cert and self.curve_server):
                raise ConfigError("herald: curve_cert and curve_server go together "
                                  "(this backend's key and the broker's public key)")
            self.curve_keys = curve.load(self.curve_cert, self.curve_server)

    @staticmethod
    def _parse(name, source, kind, value):
        if value is None:
            return None
        if kind == "int":
            if isinstance(value, bool):
                raise ConfigError("herald: %s must be an integer, not %r" % (source, value))
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ConfigError("herald: %s must be an integer, not %r" % (source, value)) from None
            if number < _MINIMUM.get(name, 0):
                raise ConfigError("herald: %s must be at least %d, not %d"
                                  % (source, _MINIMUM.get(name, 0), number))
            return number
        if kind == "endpoints":
            if not isinstance(value, str):
                raise ConfigError("herald: %s must be a str of endpoints" % source)
            eps = [e.strip() for e in value.split(",")]
            if not 1 <= len(eps) <= 2 or not all(ENDPOINT_RE.match(e) for e in eps):
                raise ConfigError("herald: %s must be one ZeroMQ endpoint (tcp://HOST:PORT) or a "
                                  "pair \"EP1,EP2\" (primary first), not %r" % (source, value))
            return eps
        if kind == "callable":
            if not callable(value):
                raise ConfigError("herald: %s must be callable" % source)
            return value
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, (str, bytes)):
            raise ConfigError("herald: %s must be a str" % source)
        return value

    @staticmethod
    def _read_secret(path):
        try:
            with open(path, "rb") as f:
                raw = f.read(4097)
        except OSError as e:
            raise ConfigError("herald: cannot read the secret file %s: %s" % (path, e)) from None
        if len(raw) > 4096:
            raise ConfigError("herald: secret file %s is over 4096 bytes" % path)
        # one trailing newline is dropped, as the gateway and herald-token do
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw
