"""support.py -- what the Python client's tests share: paths, a broker+gateway stack, a websocket client.

Processes come from tests/integration/harness.py (real herald-broker and
herald-gateway on free loopback ports, binaries from $HERALD_BIN). The
websocket client runs python3-websockets in a thread of its own, so tests
stay synchronous like the applications the client serves (and can fork).
"""
import asyncio
import json
import os
import queue
import sys
import threading
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
for path in (os.path.join(ROOT, "tests", "integration"), os.path.join(HERE, "..", "src")):
    if path not in sys.path:
        sys.path.insert(0, path)

import harness  # noqa: E402
import herald   # noqa: E402

SECRET = harness.SECRET


def fresh_user(prefix="u"):
    """A unique user id, so tests sharing a stack never see each other's events."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class Stack:
    """A broker and a gateway (extra flags per process), stopped by stop()."""

    def __init__(self, broker_flags=None, gateway_flags=None):
        self.broker = harness.Broker(**(broker_flags or {}))
        try:
            self.gateway = harness.Gateway(self.broker, **(gateway_flags or {}))
        except Exception:
            self.broker.stop()
            raise

    def client(self, **settings):
        """A Herald client of this stack with the test secret."""
        settings.setdefault("secret", SECRET)
        return herald.Herald(ingest=self.broker.ingest, control=self.broker.control, **settings)

    def stop(self):
        self.gateway.stop()
        self.broker.stop()


class WsClient:
    """One authenticated websocket connection to a gateway. Frames arrive
    as dicts in a queue; a close arrives as {"type": "closed", "code": N}."""

    def __init__(self, url, token):
        self.frames = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self._thread = threading.Thread(target=self._run, args=(url, token), daemon=True)
        self._thread.start()

    def _run(self, url, token):
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main(url, token))
        finally:
            self._loop.close()

    async def _main(self, url, token):
        import websockets
        try:
            self._ws = await websockets.connect(url, open_timeout=5, ping_interval=None,
                                                max_size=2 ** 22)
            await self._ws.send(json.dumps({"type": "auth", "token": token}))
            async for msg in self._ws:
                self.frames.put(json.loads(msg))
        except websockets.ConnectionClosed:
            pass
        except OSError as e:
            self.frames.put({"type": "closed", "code": 0, "error": str(e)})
            return
        self.frames.put({"type": "closed", "code": self._ws.close_code})

    def next_frame(self, timeout=10.0):
        try:
            return self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no frame from the gateway within %.0f s" % timeout) from None

    def welcome(self):
        frame = self.next_frame()
        if frame.get("type") != "welcome":
            raise AssertionError("expected a welcome, got %r" % (frame,))
        return frame

    def events(self, count, timeout=10.0):
        """The next count event frames (other frames are skipped)."""
        out = []
        while len(out) < count:
            frame = self.next_frame(timeout)
            if frame.get("type") == "closed":
                raise AssertionError("closed after %d of %d events: %r" % (len(out), count, frame))
            if frame.get("type") == "event":
                out.append(frame)
        return out

    def send(self, frame):
        """Sends one frame (a dict, as JSON) on the connection."""
        asyncio.run_coroutine_threadsafe(self._ws.send(json.dumps(frame)), self._loop).result(5)

    def close(self):
        """Drops the connection (no closing handshake: the gateway sees the
        peer gone, as when a browser tab dies)."""
        ws = self._ws
        if ws is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(ws.transport.abort)
            except RuntimeError:
                pass    # the loop ended meanwhile
        self._thread.join(5)


class StackCase:
    """Mixin for unittest.TestCase: one Stack per test class (setUpClass),
    a client per test, websocket clients closed after each test."""

    broker_flags = None
    gateway_flags = None

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(cls.broker_flags, cls.gateway_flags)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def setUp(self):
        self.h = self.stack.client()
        self.ws_clients = []

    def tearDown(self):
        for ws in self.ws_clients:
            ws.close()
        self.h.close(timeout=1)

    def ws_for(self, user, client=None, token=None):
        """A websocket of user (with token, or a fresh one), welcomed, and
        once the broker has them online."""
        h = client or self.h
        ws = WsClient(self.stack.gateway.url, token or h.token(user, ttl=300))
        self.ws_clients.append(ws)
        self.assertEqual(ws.welcome()["user"], str(user), "the gateway welcomed the token's subject")
        harness.wait_until(lambda: h.online(user), what="%s online" % user)
        return ws
