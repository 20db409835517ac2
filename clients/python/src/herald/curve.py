"""herald.curve -- CURVE keys from czmq certificate files (herald-keygen), applied to sockets.

herald-keygen NAME writes NAME.cert (public key, metadata) and
NAME.cert_secret (both keys) in czmq's ZPL text format; pyzmq's
zmq.auth.load_certificate reads that format. libzmq takes the keys as
their 40-character Z85 text, so nothing is decoded here.
"""
import os
import re
from collections import namedtuple

import zmq
import zmq.auth

from .errors import ConfigError, SocketError

Keys = namedtuple("Keys", "public_key secret_key server_key")
Z85_RE = re.compile(rb"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}\Z")


def _read(path, need_secret):
    if not path:
        raise ConfigError("herald: a CURVE certificate path is empty")
    path = os.fspath(path)
    # NAME.cert_secret beside NAME.cert is read first (as czmq's zcert_load
    # does), so either file may be named
    secret_path = path + "_secret"
    name = secret_path if need_secret and os.path.exists(secret_path) else path
    try:
        public, secret = zmq.auth.load_certificate(name)
    except (OSError, ValueError) as e:
        raise ConfigError("herald: cannot read CURVE certificate %s: %s" % (name, e)) from None
    if not Z85_RE.match(public or b""):
        raise ConfigError("herald: %s has no valid public-key (a herald-keygen certificate?)" % name)
    if need_secret and not Z85_RE.match(secret or b""):
        raise ConfigError("herald: %s holds no secret key (is %s missing or unreadable?)"
                          % (name, secret_path))
    return public, secret


def load(cert, server):
    """This process's key pair (cert: NAME.cert or NAME.cert_secret) and
    the broker's public key (server: its NAME.cert). ConfigError naming
    the file on any problem."""
    public, secret = _read(cert, need_secret=True)
    server_key, _ = _read(server, need_secret=False)
    return Keys(public, secret, server_key)


def apply(sock, keys):
    """Makes sock a CURVE client of the broker (before connect)."""
    try:
        sock.curve_serverkey = keys.server_key
        sock.curve_publickey = keys.public_key
        sock.curve_secretkey = keys.secret_key
    except zmq.ZMQError as e:
        raise SocketError("herald: setting the CURVE keys failed: %s (is libzmq built with CURVE?)"
                          % e) from None
    return sock
