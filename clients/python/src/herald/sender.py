"""herald.sender -- the bounded send queue and the thread that owns the PUSH socket to ingest.

notify() never blocks: it appends the packed envelope to a queue bounded
in events (send_hwm) and bytes (send_queue_bytes) and returns. One thread
per process, started on first use, hands the queue to a ZeroMQ PUSH socket
that only it touches (ZeroMQ sockets are not thread-safe), so events from
any number of threads need no socket each, and each thread's events leave
in the order it queued them.

While no broker is connected the events wait in this queue, not in
ZeroMQ: the socket has ZMQ_IMMEDIATE, so ZeroMQ takes a message only
when a connection to a broker is up, and at most HWM_ZMQ of them in
flight. So send_hwm and send_queue_bytes are the whole bound while the
broker is away, and what was queued during a broker restart is sent when
it is back. With a pair "EP1,EP2" the socket connects to both; only the
active broker binds ingest, so everything goes to it (as herald-push).
"""
import collections
import threading
import time

import zmq

from . import curve
from .errors import QueueFull, SocketError

class Closed(Exception):
    """offer() on a sender that flush/close retired: take a new one."""


HWM_ZMQ = 1000        # messages ZeroMQ itself may hold: the rest waits here
SEND_POLL_MS = 100    # how often a blocked send looks at the close deadline


class Sender:
    """One process's send queue and PUSH thread. Not reused after close()
    or a fork: the owner makes a new one."""

    def __init__(self, config):
        self._cfg = config
        self._cond = threading.Condition(threading.Lock())
        self._queue = collections.deque()
        self._bytes = 0            # bytes in the queue plus the one being sent
        self._busy = 0             # 1 while the thread holds an event it has not handed over
        self._thread = None
        self._deadline = None      # monotonic time close() gives up at
        self._error = None         # why the thread could not open its socket
        self._flushed = False      # ZeroMQ wrote out its pipe before close's deadline
        self.queued = 0
        self.sent = 0
        self.dropped = 0

    def offer(self, raw):
        """Queues one envelope. True when queued; False when full and
        on_full is "drop" (counted); raises QueueFull when full otherwise."""
        cfg = self._cfg
        with self._cond:
            if self._error is not None:
                raise SocketError("herald: the ingest socket failed: %s" % self._error)
            if self._deadline is not None:
                raise Closed()
            if (len(self._queue) + self._busy >= cfg.send_hwm
                    or self._bytes + len(raw) > cfg.send_queue_bytes):
                if cfg.on_full == "drop":
                    self.dropped += 1
                    return False
                raise QueueFull("herald: %d events (%d bytes) already queued for %s; "
                                "is the broker running?" % (len(self._queue) + self._busy,
                                                            self._bytes, cfg.ingest))
            self._queue.append(raw)
            self._bytes += len(raw)
            self.queued += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="herald-sender", daemon=True)
                self._thread.start()
            self._cond.notify()
        return True

    def pending(self):
        with self._cond:
            return len(self._queue) + self._busy

    def close(self, timeout):
        """Stops queuing, hands what is queued to ZeroMQ and lets it flush,
        all within timeout seconds, then closes the socket. Returns True
        when nothing was left behind; what was is counted in dropped."""
        with self._cond:
            self._deadline = time.monotonic() + timeout
            thread = self._thread
            self._cond.notify_all()
        if thread is None:
            return True
        thread.join(timeout + 1.0)
        with self._cond:
            left = len(self._queue) + self._busy
            return not thread.is_alive() and left == 0 and self._flushed

    def _open(self):
        cfg = self._cfg
        ctx = zmq.Context(io_threads=1)
        sock = ctx.socket(zmq.PUSH)
        try:
            sock.setsockopt(zmq.SNDHWM, min(HWM_ZMQ, cfg.send_hwm))
            sock.setsockopt(zmq.SNDTIMEO, SEND_POLL_MS)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)
            if cfg.curve_keys:
                curve.apply(sock, cfg.curve_keys)
            for ep in cfg.ingest_endpoints:
                sock.connect(ep)
        except Exception:
            sock.close(0)
            ctx.term()
            raise
        return ctx, sock

    def _run(self):
        try:
            ctx, sock = self._open()
        except Exception as e:    # reported by the next offer, never lost in this thread
            with self._cond:
                self._error = e
                self.dropped += len(self._queue)
                self._queue.clear()
                self._bytes = 0
                self._cond.notify_all()
            return
        while True:
            with self._cond:
                while not self._queue and self._deadline is None:
                    self._cond.wait()
                if not self._queue:
                    break
                raw = self._queue.popleft()
                self._busy = 1
            handed = False
            while True:
                try:
                    sock.send(raw, copy=len(raw) < 4096)
                    handed = True
                    break
                except zmq.Again:
                    # no broker (or its pipe is full): keep trying until close's deadline
                    if self._deadline is not None and time.monotonic() >= self._deadline:
                        break
            with self._cond:
                self._busy = 0
                self._bytes -= len(raw)
                if handed:
                    self.sent += 1
                else:
                    self.dropped += 1 + len(self._queue)
                    self._queue.clear()
                    self._bytes = 0
                self._cond.notify_all()
        # the queue is empty and close() was called: let ZeroMQ flush its
        # pipe for what is left of the time, then terminate the context
        # (term() returns before the linger ends only once all was written)
        left_ms = max(0, int((self._deadline - time.monotonic()) * 1000))
        sock.close(linger=left_ms)
        started = time.monotonic()
        ctx.term()
        with self._cond:
            self._flushed = (time.monotonic() - started) * 1000 < left_ms
            self._cond.notify_all()
