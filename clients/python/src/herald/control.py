"""herald.control -- requests to the broker's control socket (ROUTER), with a timeout and pair failover.

Each request takes a DEALER socket from a small pool (or opens one), sends
[empty delimiter, msgpack request], waits control_timeout_ms for the
answer and puts the socket back. So threads ask concurrently without
sharing a socket (ZeroMQ sockets may move between threads across a lock,
never be used by two at once). A socket whose request timed out is closed
(linger 0, so the unanswered request is dropped with it, never answered
into the next one).

With a pair "EP1,EP2" (primary first), a request unanswered in time or
answered {"error":"passive"} goes to the other broker, up to
control_tries sends in all; the endpoint that answered is asked first
next time. A request reaching a passive broker whose peer is silent is
its vote to take over (PROTOCOL.md, "Hot standby pair"), so retrying is
what makes a takeover happen when no gateway is asking.
"""
import threading
import time

import msgpack
import zmq

from . import curve
from .errors import ControlError, SocketError, Timeout

IDLE_MAX = 16          # sockets kept for reuse; more are closed when returned
PASSIVE_PAUSE_S = 0.1  # before asking again after a passive answer


class Control:
    """One process's control sockets. Not reused after a fork: the owner
    makes a new one."""

    def __init__(self, config):
        self._cfg = config
        self._lock = threading.Lock()
        self._ctx = None
        self._idle = []        # (endpoint index, socket)
        self._borrowed = 0
        self._at = 0           # the endpoint believed to serve
        self._closed = False

    def request(self, req):
        """Sends one request (a dict) and returns the broker's answer (a
        dict). Raises Timeout when no broker answered within the tries,
        ControlError when the answer is {"error": ...} or not a map."""
        cfg = self._cfg
        eps = cfg.control_endpoints
        body = msgpack.packb(req, use_bin_type=True)
        asked = []
        for attempt in range(cfg.control_tries):
            at, sock = self._borrow()
            asked.append(eps[at])
            reply = None
            try:
                sock.send_multipart([b"", body], copy=False)
                if sock.poll(cfg.control_timeout_ms, zmq.POLLIN):
                    reply = sock.recv_multipart()[-1]
            except zmq.Again:
                pass    # its queue is full: as good as unanswered
            except zmq.ZMQError as e:
                self._give_back(at, sock, ok=False)
                raise SocketError("herald: control request to %s failed: %s" % (eps[at], e)) from None
            if reply is None:
                self._give_back(at, sock, ok=False)
                self._switch(at)
                continue
            self._give_back(at, sock, ok=True)
            try:
                answer = msgpack.unpackb(reply, raw=False, strict_map_key=False)
            except (ValueError, msgpack.UnpackException) as e:
                raise ControlError("herald: control reply from %s is not msgpack: %s"
                                   % (eps[at], e)) from None
            if not isinstance(answer, dict):
                raise ControlError("herald: control reply from %s is not a map: %r"
                                   % (eps[at], answer), answer)
            if answer.get("error") == "passive" and len(eps) > 1:
                self._switch(at)
                time.sleep(PASSIVE_PAUSE_S)
                continue
            if "error" in answer:
                detail = answer["error"]
                if "reason" in answer:
                    detail = "%s (%s)" % (detail, answer["reason"])
                raise ControlError("herald: the broker refused %s: %s" % (req.get("op"), detail),
                                   answer)
            return answer
        raise Timeout("herald: no broker answered %s within %d ms (asked %s)"
                      % (req.get("op"), cfg.control_timeout_ms, ", ".join(asked)))

    def close(self):
        """Closes the idle sockets and, once no request is in flight, the context."""
        with self._lock:
            self._closed = True
            for _, sock in self._idle:
                sock.close(linger=0)
            self._idle = []
            self._term_if_done()

    def _term_if_done(self):
        # called under the lock
        if self._closed and self._borrowed == 0 and self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def _switch(self, failed):
        if len(self._cfg.control_endpoints) < 2:
            return
        with self._lock:
            if self._at == failed:
                self._at = 1 - failed
                # sockets to the failed broker would only time out again
                keep = []
                for at, sock in self._idle:
                    if at == failed:
                        sock.close(linger=0)
                    else:
                        keep.append((at, sock))
                self._idle = keep

    def _borrow(self):
        with self._lock:
            if self._closed:
                raise SocketError("herald: this client is closed")
            at = self._at
            for i, (sock_at, sock) in enumerate(self._idle):
                if sock_at == at:
                    del self._idle[i]
                    self._borrowed += 1
                    return at, sock
            if self._ctx is None:
                self._ctx = zmq.Context(io_threads=1)
            sock = self._ctx.socket(zmq.DEALER)
            self._borrowed += 1
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDTIMEO, self._cfg.control_timeout_ms)
            if self._cfg.curve_keys:
                curve.apply(sock, self._cfg.curve_keys)
            sock.connect(self._cfg.control_endpoints[at])
        except (zmq.ZMQError, SocketError) as e:
            self._give_back(at, sock, ok=False)
            raise SocketError("herald: cannot connect to %s: %s"
                              % (self._cfg.control_endpoints[at], e)) from None
        return at, sock

    def _give_back(self, at, sock, ok):
        with self._lock:
            self._borrowed -= 1
            if ok and not self._closed and at == self._at and len(self._idle) < IDLE_MAX:
                self._idle.append((at, sock))
            else:
                sock.close(linger=0)
            self._term_if_done()
