"""test_curve_broker.py -- with CURVE on, the broker's ZeroMQ sockets admit only
the allowed keys, each to the sockets its role may use (README, Security).

Every attack from issue 10's "Open boundaries" is run against a broker
started with --curve-cert/--curve-allow: a client with no key, with a key
the broker does not know, and with a known key of the wrong role. Each must
get nothing, and each refusal must be counted in
herald_broker_auth_refused_total{socket,reason}."""
import os
import shutil
import signal
import tempfile
import time
import unittest

import msgpack
import zmq

from harness import (Broker, Control, Producer, curve_client, keygen, metric,
                     subscribe, wait_until)


def refused(broker, socket, reason):
    text = broker.metrics().decode()
    key = 'herald_broker_auth_refused_total{socket="%s",reason="%s"} ' % (socket, reason)
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[-1])
    raise AssertionError("no sample %s in /metrics" % key)


def gauge(broker, name):
    return metric(broker.metrics(), name)


class CurveBroker(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="herald-curve-")
        cls.allow = os.path.join(cls.dir, "allow")
        os.mkdir(cls.allow)
        cls.server = keygen(cls.dir, "broker")
        cls.certs = {}
        for name, role in (("gw", "gateway"), ("prod", "producer"), ("work", "worker")):
            cls.certs[name] = keygen(cls.dir, name, role)
            shutil.copy(cls.certs[name], cls.allow)
        cls.certs["stranger"] = keygen(cls.dir, "stranger", "gateway,producer,worker")
        # under AddressSanitizer (scripts/test --sanitize) freed memory waits
        # in a quarantine, 256 MiB by default: keep it small so RSS means something
        os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                            "quarantine_size_mb=1"]))
        cls.broker = Broker(curve_cert=cls.server, curve_allow=cls.allow)
        cls.ctx = zmq.Context.instance()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.opened = []

    def tearDown(self):
        for s in self.opened:
            s.close(linger=0)

    def curve(self, name):
        return (self.certs[name], self.server)

    def socket(self, kind, endpoint, cert=None, **opts):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        for k, v in opts.items():
            s.setsockopt(getattr(zmq, k), v)
        if cert:
            curve_client(s, self.certs[cert], self.server)
        s.connect(endpoint)
        self.opened.append(s)
        return s

    def assert_silent(self, sock, what, ms=300):
        self.assertEqual(sock.poll(ms), 0, "%s received something" % what)

    def test_publish_admits_gateways_only(self):
        """A SUB with no key, an unknown key or a producer's key sees nothing
        on publish, cannot make a user online, and is counted; a gateway's key
        gets the event."""
        b = self.broker
        before = {r: refused(b, "publish", r) for r in ("handshake", "unknown_key", "role")}
        spies = {}
        for who in (None, "stranger", "prod"):
            s = self.socket(zmq.SUB, b.publish, who)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            s.setsockopt(zmq.SUBSCRIBE, b"u:victim\x00")
            spies[who] = s
        wait_until(lambda: all(refused(b, "publish", r) > before[r]
                               for r in ("handshake", "unknown_key", "role")),
                   what="the three publish refusals counted")
        prod = Control(b, curve=self.curve("prod"))
        self.assertEqual(prod.presence(["victim"]), {"victim": False},
                         "a refused subscription does not make the user online")
        gw, _ = subscribe(b, "alice", curve=self.curve("gw"))
        self.opened.append(gw)
        p = Producer(b, curve=self.curve("prod"))
        p.send("alice", "bid", {"n": 1})
        p.send("victim", "bid", {"n": 2})
        frames = gw.recv_multipart()
        self.assertIn(b'"bid"', frames[1], "the gateway's key receives the event")
        for who, s in spies.items():
            self.assert_silent(s, "a SUB with key %r" % who)
        p.close()
        prod.close()

    def test_ingest_admits_producers_only(self):
        """No key, an unknown key and a gateway's key cannot push an event; a
        producer's key can."""
        b = self.broker
        accepted = gauge(b, "herald_broker_events_accepted_total")
        before = {r: refused(b, "ingest", r) for r in ("handshake", "unknown_key", "role")}
        for who in (None, "stranger", "gw"):
            s = self.socket(zmq.PUSH, b.ingest, who, SNDHWM=10)
            s.send(msgpack.packb({"event": "forged", "to": "alice"}), zmq.NOBLOCK)
        wait_until(lambda: all(refused(b, "ingest", r) > before[r]
                               for r in ("handshake", "unknown_key", "role")),
                   what="the three ingest refusals counted")
        self.assertEqual(gauge(b, "herald_broker_events_accepted_total"), accepted,
                         "no forged event was accepted")
        p = Producer(b, curve=self.curve("prod"))
        p.send("alice", "real")
        wait_until(lambda: gauge(b, "herald_broker_events_accepted_total") == accepted + 1,
                   what="the producer's event accepted")
        p.close()

    def test_control_roles(self):
        """Unknown keys get no answer at all; a producer may ask presence but
        not resume (forbidden, counted); a gateway may resume."""
        b = self.broker
        before = refused(b, "control", "unknown_key")
        for who in (None, "stranger", "work"):
            c = Control(b, curve=self.curve(who) if who else None, timeout_ms=500)
            with self.assertRaises(AssertionError, msg="no reply to key %r" % who):
                c.request({"op": "resume", "user": "alice", "epoch": "0" * 16, "offset": 0})
            c.close()
        self.assertGreater(refused(b, "control", "unknown_key"), before)
        self.assertGreater(refused(b, "control", "role"), 0, "the worker's key is refused")
        forbidden = gauge(b, "herald_broker_control_forbidden_total")
        prod = Control(b, curve=self.curve("prod"))
        self.assertEqual(prod.presence(["alice"]), {"alice": False})
        self.assertEqual(prod.request({"op": "resume", "user": "alice"}), {"error": "forbidden"})
        self.assertEqual(gauge(b, "herald_broker_control_forbidden_total"), forbidden + 1)
        gw = Control(b, curve=self.curve("gw"))
        reply = gw.request({"op": "resume", "user": "alice"})
        self.assertEqual(reply["user"], "alice", "a gateway's resume is answered")
        prod.close()
        gw.close()

    def test_undelivered_admits_workers_only(self):
        """A PULL with no key, an unknown key or a producer's key gets no
        undelivered notice; the worker's key gets every one."""
        b = self.broker
        spies = [self.socket(zmq.PULL, b.undelivered, who) for who in (None, "stranger", "prod")]
        wait_until(lambda: refused(b, "undelivered", "role") > 0
                   and refused(b, "undelivered", "unknown_key") > 0
                   and refused(b, "undelivered", "handshake") > 0,
                   what="the three undelivered refusals counted")
        worker = self.socket(zmq.PULL, b.undelivered, "work")
        p = Producer(b, curve=self.curve("prod"))
        # PUSH deals only to connected peers: probe until the worker's link is up
        def probe():
            p.send("offline-probe", "probe")
            return worker.poll(200)
        wait_until(probe, what="the worker's link up")
        for i in range(4):
            p.send("offline-%d" % i, "missed")
        got = []
        while len(got) < 4:
            self.assertTrue(worker.poll(5000), "the worker got %d of 4 notices" % len(got))
            m = msgpack.unpackb(worker.recv(), raw=False)
            if m["event"] == "missed":
                got.append(m)
        self.assertEqual(sorted(m["to"] for m in got), ["offline-%d" % i for i in range(4)])
        for s in spies:
            self.assert_silent(s, "a refused PULL")
        p.close()

    def test_allow_dir_changes_without_restart(self):
        """A certificate copied into the allow directory admits its key within
        seconds; removed, new connections are refused again; SIGHUP reloads."""
        b = self.broker
        extra = keygen(self.dir, "late", "producer")
        self.certs["late"] = extra
        count = gauge(b, "herald_broker_curve_certificates")
        shutil.copy(extra, self.allow)
        wait_until(lambda: gauge(b, "herald_broker_curve_certificates") == count + 1,
                   what="the new certificate loaded")
        c = Control(b, curve=self.curve("late"))
        self.assertEqual(c.presence(["x"]), {"x": False}, "the new key is admitted")
        c.close()
        os.unlink(os.path.join(self.allow, "late.cert"))
        b.signal(signal.SIGHUP)
        wait_until(lambda: gauge(b, "herald_broker_curve_certificates") == count,
                   what="the removed certificate unloaded")
        before = refused(b, "control", "unknown_key")
        c = Control(b, curve=self.curve("late"), timeout_ms=500)
        with self.assertRaises(AssertionError):
            c.presence(["x"])
        c.close()
        self.assertGreater(refused(b, "control", "unknown_key"), before)

    def test_rss_flat_across_refused_connections(self):
        """A few hundred refused connections (unknown key, no key) leave the
        broker's memory where it was."""
        b = self.broker

        def storm(n):
            start = refused(b, "control", "unknown_key") + refused(b, "control", "handshake")
            batch = []
            for i in range(n):
                s = self.ctx.socket(zmq.DEALER)
                s.setsockopt(zmq.LINGER, 0)
                if i % 2:
                    curve_client(s, self.certs["stranger"], self.server)
                s.connect(b.control)
                batch.append(s)
            wait_until(lambda: refused(b, "control", "unknown_key")
                       + refused(b, "control", "handshake") >= start + n,
                       timeout=30, what="%d refusals" % n)
            for s in batch:
                s.close(linger=0)

        storm(100)                   # warm-up: allocator pools, log buffers
        before = b.rss_bytes()
        lines_before = b.output().count("refused a connection")
        started = time.monotonic()
        for _ in range(3):
            storm(100)
        after = b.rss_bytes()
        self.assertLess(after - before, 4 << 20,
                        "RSS grew from %d to %d across 300 refusals" % (before, after))
        # at most one line a second per socket and reason (two reasons here)
        lines = b.output().count("refused a connection") - lines_before
        self.assertLessEqual(lines, 2 * (int(time.monotonic() - started) + 2),
                             "refusal log lines are rate-limited")


class Exposure(unittest.TestCase):
    def run_broker(self, *extra):
        from harness import BIN, Process, free_port
        argv = [os.path.join(BIN, "herald-broker"),
                "--ingest", "tcp://0.0.0.0:%d" % free_port(),
                "--publish", "tcp://127.0.0.1:%d" % free_port(),
                "--control", "tcp://127.0.0.1:%d" % free_port(),
                "--undelivered", "tcp://127.0.0.1:%d" % free_port(),
                "--http", "127.0.0.1:%d" % free_port()] + list(extra)
        return Process(argv, name="broker-exposure")

    def test_non_loopback_needs_curve_or_insecure(self):
        """Without CURVE the broker refuses to bind 0.0.0.0 (exit 2, saying
        why); with --insecure it starts."""
        p = self.run_broker()
        self.assertEqual(p.wait(10), 2)
        self.assertIn("without CURVE", p.output())
        p.stop()
        p = self.run_broker("--insecure")
        try:
            wait_until(lambda: "no CURVE (--insecure)" in p.output() or not p.alive(),
                       what="the broker started with --insecure")
            self.assertTrue(p.alive(), p.output())
        finally:
            p.stop()

    def test_curve_flags_go_together(self):
        d = tempfile.mkdtemp(prefix="herald-curve-")
        try:
            p = self.run_broker("--curve-cert", keygen(d, "broker"))
            self.assertEqual(p.wait(10), 2)
            self.assertIn("go together", p.output())
            p.stop()
            pub = keygen(d, "nosecret")
            os.unlink(pub + "_secret")
            p = self.run_broker("--curve-cert", pub, "--curve-allow", d)
            self.assertEqual(p.wait(10), 1, "a certificate without its secret is refused")
            self.assertIn("no secret key", p.output())
            p.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
