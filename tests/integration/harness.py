"""harness.py -- start real Herald processes on free loopback ports for tests.

Used by tests/integration and tests/fault (via PYTHONPATH). Every process a
test starts is stopped by the context manager, also when the test fails.
Waits poll a condition with a deadline; nothing sleeps a fixed time.
"""
import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request

import msgpack
import zmq

BIN = os.environ.get("HERALD_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SECRET = "test-secret-not-for-production"


_handed_out = set()


def free_port():
    """A loopback TCP port nobody listens on right now, taken below the
    kernel's ephemeral range (32768+): a port the kernel picks for port 0 can
    be taken by some outgoing connection before our process binds it."""
    import random
    while True:
        port = random.randint(20000, 32000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def wait_until(cond, timeout=10.0, what="condition", interval=0.02):
    """Polls cond() until it returns a truthy value; raises on deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def http_get(url, timeout=2.0):
    """(status, body bytes) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def http_post(url, body=b"", content_type="application/json", timeout=5.0, headers=None):
    h = {"Content-Type": content_type} if content_type else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=body, method="POST", headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_token(user, secret=SECRET, ttl=300, alg="HS256", exp=None, claims=None):
    """A JWT minted independently of herald-token (hmac from the stdlib)."""
    header = {"alg": alg, "typ": "JWT"}
    payload = {"sub": user}
    if exp is not None:
        payload["exp"] = exp
    elif ttl is not None:
        payload["exp"] = int(time.time()) + ttl
    if claims:
        payload.update(claims)
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    if alg == "none":
        return signing_input + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(sig)


def metric(text, name, exact=False):
    """Sum of every sample of a metric (all label sets) in Prometheus text,
    None when there is none. exact=True: the one sample whose whole key is
    name (labels included, e.g. 'x_total{reason="a"}'; a bare name then
    means the unlabelled sample only), 0.0 when it is not there."""
    total = 0.0
    found = False
    for line in text.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, value = line.rpartition(" ")
        base = key.split("{", 1)[0]
        if key == name or (base == name and not exact):
            total += float(value)
            found = True
    return total if found else (0.0 if exact else None)


class Process:
    """A child process with its log captured to a file; stop() is idempotent."""

    def __init__(self, argv, env=None, name="proc", preexec=None):
        self.argv = argv
        self.name = name
        self.log_path = "/tmp/herald-test-%s-%d-%d.log" % (name, os.getpid(), free_port())
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=full_env, preexec_fn=preexec)

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    # Broker and Gateway set this: under the sanitizers (HERALD_SANITIZED,
    # tests/CMakeLists.txt) stop() fails the test on a sanitizer report in the
    # log, or a non-zero exit after SIGTERM (a leak found at exit is one).
    sanitizer_checked = False

    def stop(self, timeout=5.0):
        terminated = self.alive()
        if terminated:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        if self.sanitizer_checked and os.environ.get("HERALD_SANITIZED"):
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
            for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if mark in text:
                    raise AssertionError("%s reported %r:\n%s" % (self.name, mark, text[-4000:]))
            if terminated and self.proc.returncode != 0:
                raise AssertionError("%s exited %s after SIGTERM:\n%s"
                                     % (self.name, self.proc.returncode, text[-4000:]))
        return self.proc.returncode

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def rss_bytes(self):
        """Resident set size, from /proc/<pid>/status."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for %s (pid %d)" % (self.name, self.proc.pid))

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Broker(Process):
    """herald-broker on free ports. Extra flags as keyword args (history_events=5;
    a bare flag as True). With metrics="127.0.0.1:PORT", /metrics and /healthz
    are read from that listener (self.metrics_http). preexec runs in the child
    before exec (e.g. to lower its descriptor limit)."""
    sanitizer_checked = True

    def __init__(self, ports=None, preexec=None, env=None, **flags):
        self.ports = ports or {k: free_port() for k in ("ingest", "publish", "control",
                                                         "undelivered", "http", "upstream")}
        p = self.ports
        p.setdefault("upstream", free_port())
        self.ingest = "tcp://127.0.0.1:%d" % p["ingest"]
        self.publish = "tcp://127.0.0.1:%d" % p["publish"]
        self.control = "tcp://127.0.0.1:%d" % p["control"]
        self.undelivered = "tcp://127.0.0.1:%d" % p["undelivered"]
        self.upstream = "tcp://127.0.0.1:%d" % p["upstream"]
        self.http = "http://127.0.0.1:%d" % p["http"]
        argv = [os.path.join(BIN, "herald-broker"),
                "--ingest", self.ingest, "--publish", self.publish,
                "--control", self.control, "--undelivered", self.undelivered,
                "--upstream", self.upstream, "--http", "127.0.0.1:%d" % p["http"]]
        for k, v in flags.items():
            argv += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
        self.metrics_http = "http://" + flags["metrics"] if "metrics" in flags else self.http
        super().__init__(argv, env=env, name="broker", preexec=preexec)
        wait_until(lambda: not self.alive() or http_get(self.metrics_http + "/healthz")[0] == 200,
                   what="broker /healthz")
        if not self.alive():
            raise AssertionError("broker exited at start:\n" + self.output())

    def restart(self, **flags):
        """A new broker process on the same ports (a new epoch)."""
        self.stop()
        return Broker(ports=self.ports, **flags)

    def cpu_seconds(self, thread=None):
        """User + system CPU time of the process, or of its one thread whose
        comm is `thread` and is not the main thread (e.g. "herald-broker" for
        the HTTP thread, "ZMQbg/IO/0"), from /proc."""
        tck = os.sysconf("SC_CLK_TCK")
        pid = self.proc.pid
        tasks = [str(pid)] if thread is None else os.listdir("/proc/%d/task" % pid)
        total = 0
        for t in tasks:
            path = "/proc/%d/stat" % pid if thread is None else "/proc/%d/task/%s/stat" % (pid, t)
            try:
                with open(path) as f:
                    raw = f.read()
            except FileNotFoundError:
                continue    # a short-lived thread ended (the broker's sockmon.c sheds in one)
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            if thread is not None and (comm != thread or t == str(pid)):
                continue
            fields = raw[raw.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        return total / tck

    def metrics(self):
        return http_get(self.metrics_http + "/metrics")[1]


class Gateway(Process):
    """herald-gateway on a free port, wired to a broker."""
    sanitizer_checked = True

    def __init__(self, broker, secret=SECRET, port=None, env=None, **flags):
        self.port = port or free_port()
        self.url = "ws://127.0.0.1:%d/ws" % self.port
        self.http = "http://127.0.0.1:%d" % self.port
        argv = [os.path.join(BIN, "herald-gateway"),
                "--listen", "127.0.0.1:%d" % self.port,
                "--broker", broker.publish, "--control", broker.control]
        for k, v in flags.items():
            argv += ["--" + k.replace("_", "-"), str(v)]
        e = {"HERALD_SECRET": secret}
        e.update(env or {})
        super().__init__(argv, env=e, name="gateway")
        # /healthz answers 503 until the broker link is live: wait for the
        # gateway to serve HTTP, not for the link (tests start gateways
        # before or without their broker)
        wait_until(lambda: not self.alive() or http_get(self.http + "/healthz")[0] in (200, 503),
                   what="gateway /healthz")
        if not self.alive():
            raise AssertionError("gateway exited at start:\n" + self.output())

    def metrics(self):
        return http_get(self.http + "/metrics")[1]

    def wait_linked(self, timeout=10.0):
        """Until /healthz says the broker link is live (200)."""
        wait_until(lambda: http_get(self.http + "/healthz")[0] == 200, timeout=timeout,
                   what="gateway linked to its broker")


class Pair:
    """A hot standby pair: a primary and a backup herald-broker, each binding
    its pair endpoint and connecting to the other's. ingest, publish and
    control are "primary,backup" lists, as gateways and producers take them.
    A broker that is not active binds only control (no HTTP), so start()
    waits for the primary's /healthz only. Extra flags go to both;
    per_broker=[{...}, {...}] adds flags to one (e.g. its data_dir)."""

    def __init__(self, pair_timeout_ms=1000, proxy=None, per_broker=None, **flags):
        self.per_broker = per_broker or [{}, {}]
        self.flags = dict(flags)
        self.flags["pair_timeout_ms"] = pair_timeout_ms
        self.ports = [{k: free_port() for k in ("ingest", "publish", "control", "undelivered",
                                                "upstream", "http", "pair")} for _ in range(2)]
        # connect[i]: where broker i reaches its partner (a proxy may sit between)
        self.connect = [self.ports[1]["pair"], self.ports[0]["pair"]]
        if proxy:
            self.connect = proxy(self.ports[1]["pair"], self.ports[0]["pair"])
        self.procs = [None, None]
        ep = lambda i, k: "tcp://127.0.0.1:%d" % self.ports[i][k]
        self.ingest = ep(0, "ingest") + "," + ep(1, "ingest")
        self.publish = ep(0, "publish") + "," + ep(1, "publish")
        self.control = ep(0, "control") + "," + ep(1, "control")
        self.http = ["http://127.0.0.1:%d" % self.ports[i]["http"] for i in range(2)]

    def start(self, i, preexec=None):
        """Starts broker i; preexec runs in the child before exec (e.g. to
        lower its descriptor limit)."""
        p = self.ports[i]
        argv = [os.path.join(BIN, "herald-broker"), "--role", ("primary", "backup")[i],
                "--pair-bind", "tcp://127.0.0.1:%d" % p["pair"],
                "--pair-connect", "tcp://127.0.0.1:%d" % self.connect[i]]
        for k in ("ingest", "publish", "control", "undelivered", "upstream"):
            argv += ["--" + k, "tcp://127.0.0.1:%d" % p[k]]
        argv += ["--http", "127.0.0.1:%d" % p["http"]]
        for k, v in list(self.flags.items()) + list(self.per_broker[i].items()):
            argv += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
        self.procs[i] = Process(argv, name=("primary", "backup")[i], preexec=preexec)
        return self.procs[i]

    def start_both(self, timeout=20):
        """Starts the primary and the backup and waits until the primary
        serves and sees the backup passive."""
        self.start(0)
        self.start(1)
        wait_until(lambda: self.serving(0), timeout=timeout, what="the primary to serve")
        wait_until(lambda: metric(self.metrics(0), "herald_broker_pair_peer_state") == 4,
                   timeout=timeout, what="the backup to be passive")

    def serving(self, i):
        """True when broker i answers /healthz (it binds HTTP only when active)."""
        try:
            return http_get(self.http[i] + "/healthz", timeout=0.5)[0] == 200
        except OSError:
            return False

    def metrics(self, i):
        return http_get(self.http[i] + "/metrics")[1]

    def stop(self):
        for p in self.procs:
            if p:
                p.stop()


def keygen(directory, name, role=None):
    """herald-keygen NAME [--role ROLE] in directory; returns the path of
    NAME.cert (NAME.cert_secret lies beside it)."""
    argv = [os.path.join(BIN, "herald-keygen"), os.path.join(directory, name)]
    if role:
        argv += ["--role", role]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(directory, name + ".cert")


def curve_client(sock, cert, server_cert):
    """Makes a pyzmq socket a CURVE client (before connect): cert is a
    herald-keygen NAME.cert (its _secret is read), server_cert the broker's."""
    import zmq.auth
    public, secret = zmq.auth.load_certificate(cert + "_secret")
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = zmq.auth.load_certificate(server_cert)[0]
    return sock


class Producer:
    """A backend's PUSH socket (pyzmq + msgpack); curve=(cert, server_cert)
    makes it a CURVE client."""

    def __init__(self, broker_or_endpoint, hwm=100000, curve=None):
        ep = broker_or_endpoint if isinstance(broker_or_endpoint, str) else broker_or_endpoint.ingest
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.PUSH)
        self.sock.setsockopt(zmq.SNDHWM, hwm)
        self.sock.setsockopt(zmq.LINGER, 2000)
        if curve:
            curve_client(self.sock, *curve)
        if "," in ep:
            # a pair: only the active broker binds ingest; nothing may
            # queue towards the other
            self.sock.setsockopt(zmq.IMMEDIATE, 1)
        for one in ep.split(","):
            self.sock.connect(one)

    def send(self, to, event, data=None, **extra):
        env = {"event": event, "to": to}
        if data is not None:
            env["data"] = data
        env.update(extra)
        self.sock.send(msgpack.packb(env, use_bin_type=True))

    def send_raw(self, raw):
        self.sock.send(raw)

    def publish(self, channel, event, data=None, **extra):
        """A channel event: every connection subscribed to channel."""
        env = {"event": event, "channel": channel}
        if data is not None:
            env["data"] = data
        env.update(extra)
        self.sock.send(msgpack.packb(env, use_bin_type=True))

    def broadcast(self, event, data=None, **extra):
        """A broadcast: every connection."""
        env = {"event": event, "broadcast": True}
        if data is not None:
            env["data"] = data
        env.update(extra)
        self.sock.send(msgpack.packb(env, use_bin_type=True))

    def close(self):
        self.sock.close()


class PacedProducer(threading.Thread):
    """Pushes `rate` envelopes a second from its own thread until stop():
    envelope(rng, n) makes the n-th (msgpack bytes; rng is seeded with
    `seed`). A send ZeroMQ does not take (no broker bound for a moment) is
    tried again, so `sent` counts what ZeroMQ took."""

    def __init__(self, endpoint, rate, envelope, seed=7, **producer_args):
        super().__init__(daemon=True)
        import random
        self.producer = Producer(endpoint, **producer_args)
        self.rate = rate
        self.envelope = envelope
        self.rng = random.Random(seed)
        self.stop_flag = threading.Event()
        self.sent = 0

    def run(self):
        start = time.monotonic()
        raw = None
        while not self.stop_flag.is_set():
            left = start + self.sent / self.rate - time.monotonic()
            if left > 0:
                time.sleep(min(0.005, left))
                continue
            if raw is None:
                raw = self.envelope(self.rng, self.sent)
            try:
                self.producer.sock.send(raw, zmq.NOBLOCK)
                self.sent += 1
                raw = None
            except zmq.Again:
                time.sleep(0.01)

    def stop(self):
        self.stop_flag.set()
        self.join()
        self.producer.close()


class Control:
    """A REQ client of the broker's control socket; curve=(cert, server_cert)
    makes it a CURVE client. broker.control may be "EP1,EP2" (a Pair): a
    request unanswered within timeout_ms, or refused by a passive broker, is
    sent again to the other endpoint (at most `tries` sends in all)."""

    def __init__(self, broker, curve=None, timeout_ms=3000, tries=None):
        self.ctx = zmq.Context.instance()
        self.endpoints = broker.control.split(",")
        self.at = 0
        self.curve = curve
        self.timeout_ms = timeout_ms
        self.tries = tries or (1 if len(self.endpoints) == 1 else 8)
        self._open()

    def _open(self):
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        if self.curve:
            curve_client(self.sock, *self.curve)
        self.sock.connect(self.endpoints[self.at])

    def _switch(self):
        self.sock.close()
        self.at = (self.at + 1) % len(self.endpoints)
        self._open()

    def request(self, req):
        for _ in range(self.tries):
            try:
                self.sock.send(msgpack.packb(req, use_bin_type=True))
                reply = msgpack.unpackb(self.sock.recv(), raw=False, strict_map_key=False)
            except zmq.Again:
                self._switch()
                continue
            if isinstance(reply, dict) and reply.get("error") == "passive":
                self._switch()
                continue
            return reply
        raise AssertionError("control request timed out: %r" % (req,))

    def presence(self, users):
        return self.request({"op": "presence", "users": users})["online"]

    def close(self):
        self.sock.close()


# --- WebSocket clients (python3-websockets, asyncio) -----------------------

async def ws_connect(url, token=None, resume=None, max_size=2 ** 22):
    """Opens a connection and, if token is given, authenticates it.
    Returns (ws, welcome dict or None)."""
    import websockets
    ws = await websockets.connect(url, max_size=max_size, open_timeout=5,
                                  ping_interval=None)
    if token is None:
        return ws, None
    auth = {"type": "auth", "token": token}
    if resume:
        auth["resume"] = resume
    await ws.send(json.dumps(auth))
    welcome = json.loads(await asyncio_wait(ws.recv(), 5))
    if welcome.get("type") != "welcome":
        raise AssertionError("expected welcome, got %r" % (welcome,))
    return ws, welcome


async def asyncio_wait(aw, timeout):
    import asyncio
    return await asyncio.wait_for(aw, timeout)


async def ws_recv_events(ws, count, timeout=10.0):
    """The next `count` frames of type event, as dicts, within timeout."""
    import asyncio
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("got %d of %d events before the deadline" % (len(out), count))
        msg = json.loads(await asyncio.wait_for(ws.recv(), left))
        if msg.get("type") == "event":
            out.append(msg)
    return out


async def ws_close_code(ws, timeout=5.0):
    """Waits for the server to close the connection; returns its close code."""
    import asyncio
    import websockets
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("server did not close within %.1fs" % timeout)
            await asyncio.wait_for(ws.recv(), left)
    except websockets.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None


class RecordingClient:
    """One WebSocket connection that records every frame it gets: its
    welcomes, event offsets in arrival order, event ids (`ids`, in arrival
    order, None for an event without one), `to` (offset -> the recipients
    the event's data names, as recipients(data) reads them: data["to"]
    unless told otherwise) and `wrong_user` (events whose recipients do not
    include this user). For the fault tests' exactly-once checks."""

    def __init__(self, user, gateway, recipients=None, timeout=20):
        self.user = user
        self.gateway = gateway
        self.recipients = recipients or (lambda data: data["to"])
        self.timeout = timeout
        self.welcomes = []
        self.offsets = []
        self.ids = []
        self.to = {}
        self.wrong_user = []
        self.ws = None
        self.task = None

    async def connect(self, resume=None):
        """Authenticates (with resume when given); returns the welcome."""
        import websockets
        self.ws = await websockets.connect(self.gateway.url, open_timeout=self.timeout,
                                           ping_interval=None, max_size=2 ** 22)
        auth = {"type": "auth", "token": make_token(self.user)}
        if resume:
            auth["resume"] = resume
        await self.ws.send(json.dumps(auth))
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), self.timeout))
        assert welcome.get("type") == "welcome", welcome
        self.welcomes.append(welcome)
        self.task = asyncio.ensure_future(self._read())
        return welcome

    async def _read(self):
        import websockets
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg.get("type") == "welcome":
                    self.welcomes.append(msg)
                elif msg.get("type") == "event":
                    self.offsets.append(msg["offset"])
                    self.ids.append(msg.get("id"))
                    to = self.recipients(msg["data"])
                    self.to[msg["offset"]] = to
                    if self.user not in to:
                        self.wrong_user.append(msg)
        except websockets.ConnectionClosed:
            pass

    async def close(self):
        if self.ws:
            await self.ws.close()
        if self.task:
            await self.task


async def ws_subscribe(ws, channel, resume=None, token=None, timeout=5.0):
    """Sends a subscribe frame and returns the gateway's answer for that
    channel (subscribed, or error), skipping other frames before it."""
    import asyncio
    frame = {"type": "subscribe", "channel": channel}
    if resume:
        frame["resume"] = resume
    if token:
        frame["token"] = token
    await ws.send(json.dumps(frame))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no answer to the subscribe of %r" % (channel,))
        msg = json.loads(await asyncio.wait_for(ws.recv(), left))
        if msg.get("type") in ("subscribed", "error") and msg.get("channel") == channel:
            return msg


def run_async(cls):
    """Runs each `async def test_*` in its own event loop with asyncio's debug
    mode off (IsolatedAsyncioTestCase turns it on, which slows the websockets
    client a hundredfold under load), then closes the sockets it opened."""
    def wrap(fn):
        @functools.wraps(fn)
        def test(self):
            async def body():
                self.sockets = []
                try:
                    await fn(self)
                finally:
                    for ws in self.sockets:
                        await ws.close()
            asyncio.run(body())
        return test
    for name, fn in list(vars(cls).items()):
        if name.startswith("test_") and asyncio.iscoroutinefunction(fn):
            setattr(cls, name, wrap(fn))
    return cls


async def stall_gateway(gw, flood, args):
    """SIGSTOPs gw, runs flood(*args) in a thread until it returns, waits
    0.5 s more (what it sent is still in flight) and SIGCONTs gw, also when
    the flood failed: the scenario of the gateway stall fault tests."""
    gw.signal(signal.SIGSTOP)
    try:
        producer = threading.Thread(target=flood, args=args)
        producer.start()
        await asyncio.to_thread(producer.join)
        await asyncio.sleep(0.5)
    finally:
        gw.signal(signal.SIGCONT)


async def poll_until(cond, timeout, interval=0.2):
    """Awaits until cond() is true or timeout seconds passed; returns cond()."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        await asyncio.sleep(interval)
    return cond()


async def recv_json(ws, timeout=5.0):
    """The next frame as a dict, within timeout."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


# The broker -> gateway header after each topic: kind, epoch, offset, aux,
# at (the event's accept time, us since 1970), big-endian, then the flags
# byte (PROTOCOL.md). An event with FLAG_KEY has a third frame: its key.
WIRE_HEADER = ">cQQQQB"
WIRE_HEADER_LEN = 34
FLAG_RECEIPT = 0x01
FLAG_KEY = 0x02
MULTICAST_TOPIC = b"m:\x00"
BROADCAST_TOPIC = b"b:\x00"


def parse_published(frames):
    """A broker XPUB message [head][body] (PROTOCOL.md) as
    (kind, epoch, offset, users, body): users is the user of a user topic,
    the recipients a multicast event lists, [] for a tick ('T') or an audit
    answer ('A'). parse_published_prev also gives each user's prev."""
    kind, epoch, offset, users, body = parse_published_prev(frames)
    return kind, epoch, offset, [u for u, _ in users], body


def parse_published_prev(frames):
    """As parse_published, but users are (user, prev) pairs: prev is the
    offset of the last event the broker routed to that user before."""
    head, body = frames[0], frames[1]
    nul = head.index(b"\x00")
    topic, rest = head[:nul + 1], head[nul + 1:]
    kind, epoch, offset, aux, _at, _flags = struct.unpack(WIRE_HEADER, rest[:WIRE_HEADER_LEN])
    rest = rest[WIRE_HEADER_LEN:]
    if topic == MULTICAST_TOPIC:
        users = []
        if kind == b"T":
            assert not rest, head
        else:
            assert kind == b"E" and rest, head
            while rest:
                end = rest.index(b"\x00")
                users.append((rest[:end].decode(), struct.unpack(">Q", rest[end + 1:end + 9])[0]))
                rest = rest[end + 9:]
    elif topic.startswith(b"g:"):
        assert kind == b"A" and not rest, head
        users = []
    elif topic.startswith(b"c:") or topic == BROADCAST_TOPIC:
        assert kind in (b"E", b"S") and not rest, head
        users = []      # a channel's or the broadcast stream: parse_head has its aux
    else:
        assert topic.startswith(b"u:") and not rest, head
        users = [(topic[2:-1].decode(), aux)]
    return kind, epoch, offset, users, body


def parse_head(frames):
    """Any broker XPUB message [head][body] as (topic, kind, epoch, offset,
    aux, rest, body): rest is what follows the 34-byte header (a multicast
    event's recipients, nothing elsewhere). For channel topics ("c:" + name +
    NUL) aux is the channel's prev, for the broadcast topic the previous
    broadcast's offset (PROTOCOL.md)."""
    head, body = frames[0], frames[1]
    nul = head.index(b"\x00")
    kind, epoch, offset, aux, _at, _flags = struct.unpack(WIRE_HEADER, head[nul + 1:nul + 1 + WIRE_HEADER_LEN])
    return head[:nul + 1], kind, epoch, offset, aux, head[nul + 1 + WIRE_HEADER_LEN:], body


def parse_at(frames):
    """The accept time a broker XPUB message's header carries: microseconds
    since 1970 for an event ('E'), 0 for the other kinds (PROTOCOL.md)."""
    head = frames[0]
    nul = head.index(b"\x00")
    return struct.unpack(WIRE_HEADER, head[nul + 1:nul + 1 + WIRE_HEADER_LEN])[4]


def parse_flags(frames):
    """(flags, key) of a broker XPUB message: the header's flags byte and,
    for an event with FLAG_KEY, its key (the third frame), else None."""
    head = frames[0]
    nul = head.index(b"\x00")
    flags = struct.unpack(WIRE_HEADER, head[nul + 1:nul + 1 + WIRE_HEADER_LEN])[5]
    if flags & FLAG_KEY:
        assert len(frames) == 3, frames
        return flags, frames[2]
    assert len(frames) == 2, frames
    return flags, None


def recv_published(sub):
    """The next broker message on a raw subscriber that is not a tick (the
    broker ticks on the multicast topic every second, PROTOCOL.md)."""
    while True:
        frames = sub.recv_multipart()
        if parse_published(frames)[0] != b"T":
            return frames


def subscribe(broker, *users, multicast=True, curve=None):
    """A raw SUB socket on the broker's publish socket, standing in for a
    gateway: subscribed to the users' topics (and, as every gateway is, to
    the multicast topic) and returned once every user's sync ('S') has
    arrived. curve=(cert, server_cert) makes it a CURVE client. Returns
    (socket, epoch the syncs carried)."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVTIMEO, 5000)
    if curve:
        curve_client(sub, *curve)
    sub.connect(broker.publish)
    if multicast:
        sub.setsockopt(zmq.SUBSCRIBE, MULTICAST_TOPIC)
    for user in users:
        sub.setsockopt(zmq.SUBSCRIBE, b"u:" + user.encode() + b"\x00")
    epoch = None
    pending = set(users)
    while pending:
        kind, epoch, _, synced, _ = parse_published(recv_published(sub))
        if kind == b"S":
            pending.discard(synced[0])
    return sub, epoch


def start_broker_and_gateways(gateways=1, **broker_flags):
    """A broker and `gateways` gateways wired to it; if a gateway fails to
    start, whatever did start is stopped before the error goes up."""
    broker = Broker(**broker_flags)
    started = []
    try:
        for _ in range(gateways):
            started.append(Gateway(broker))
    except Exception:
        for gateway in started:
            gateway.stop()
        broker.stop()
        raise
    return broker, started
