"""test_curve_pair.py -- with CURVE on, a hot standby pair's link admits only the partner broker.

Both brokers of a pair run with --curve-cert (one key pair for both, as
clients given one --curve-server need) and --curve-allow, where that
certificate has role pair. Then:

- the brokers pair up and replicate over CURVE (the passive acknowledges
  every event; the pair socket counts its admitted handshake), and after
  kill -9 of the primary the backup serves the same history to a CURVE
  client that votes for it;
- a forged heartbeat sent to the pair endpoint without CURVE, with a known
  key of another role and with an unknown key is refused and counted in
  herald_broker_auth_refused_total{socket="pair",reason} (a forged "active"
  heartbeat would otherwise stop the primary);
- a partner whose certificate is removed from --curve-allow (SIGHUP) while
  its connection is up is refused from then on: every pair message it sends
  is dropped and counted in herald_broker_revoked_messages_total{socket=
  "pair"}, so the primary no longer hears it (peer state 0) and serves
  alone;
- a pair endpoint off loopback is refused without CURVE (exit 2) and taken
  with it; a CURVE pair whose --curve-allow has no certificate of role pair
  is refused (exit 2)."""
import os
import shutil
import signal
import struct
import tempfile
import time
import unittest

import zmq

from harness import (BIN, Control, Pair, Process, Producer, curve_client, free_port, keygen,
                     metric, wait_until)


def refused(text, reason):
    key = 'herald_broker_auth_refused_total{socket="pair",reason="%s"} ' % reason
    for line in text.decode().splitlines():
        if line.startswith(key):
            return int(line.split()[-1])
    raise AssertionError("no sample %s in /metrics" % key)


def forged_active_heartbeat():
    """['H' state=active(3) epoch last want]: what an active peer would say."""
    return b"H" + bytes([3]) + struct.pack(">QQI", 1, 1, 0)


class CurvePair(unittest.TestCase):
    # name: role; all but the stranger are in --curve-allow
    CERTS = {"broker": "pair", "gw": "gateway", "prod": "producer", "ctl": "gateway,producer",
             "stranger": "pair"}

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="herald-curve-pair-")
        cls.certs = {n: keygen(cls.dir, n, role) for n, role in cls.CERTS.items()}
        cls.server = cls.certs["broker"]
        cls.allow = os.path.join(cls.dir, "allow")
        os.mkdir(cls.allow)
        for n, path in cls.certs.items():
            if n != "stranger":
                shutil.copy(path, cls.allow)
        cls.ctx = zmq.Context.instance()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def curve(self, name):
        return (self.certs[name], self.server)

    def test_pair_link_admits_only_the_partner(self):
        pair = Pair(pair_timeout_ms=1000, curve_cert=self.server, curve_allow=self.allow)
        self.addCleanup(pair.stop)
        pair.start_both()       # the backup passive: the link works over CURVE
        accepted = 'herald_broker_auth_accepted_total{socket="pair"}'
        self.assertGreaterEqual(metric(pair.metrics(0), accepted), 1,
                                "the partner's handshake passed ZAP on the pair socket")

        producer = Producer(pair.ingest, curve=self.curve("prod"))
        self.addCleanup(producer.close)
        for i in range(20):
            producer.send("u1", "tick", {"n": i})
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_events_sent_total") >= 20,
                   timeout=10, what="20 events replicated")
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_lag_events") == 0,
                   timeout=10, what="the passive to acknowledge them")

        # forged heartbeats to the primary's pair endpoint: none may pass
        endpoint = "tcp://127.0.0.1:%d" % pair.ports[0]["pair"]
        attacks = (("handshake", None), ("role", "gw"), ("unknown_key", "stranger"))
        before = {r: refused(pair.metrics(0), r) for r, _ in attacks}
        for reason, cert in attacks:
            s = self.ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.LINGER, 0)
            if cert:
                curve_client(s, self.certs[cert], self.server)
            s.connect(endpoint)
            try:
                s.send(forged_active_heartbeat(), zmq.NOBLOCK)
            except zmq.Again:
                pass
            wait_until(lambda: refused(pair.metrics(0), reason) > before[reason], timeout=10,
                       what="the pair socket to refuse a peer (%s)" % reason)
            s.close()
        time.sleep(0.5)
        self.assertTrue(pair.procs[0].alive(), "no forged heartbeat reached the primary")
        self.assertEqual(metric(pair.metrics(0), "herald_broker_pair_state"), 3)

        pair.procs[0].kill()
        control = Control(pair, curve=self.curve("ctl"))
        self.addCleanup(control.close)
        wait_until(lambda: control.request({"op": "stats"})["herald_broker_pair_state"] == 3,
                   timeout=30, what="the backup to take over on a CURVE client's vote")
        stats = control.request({"op": "stats"})
        welcome = control.request({"op": "resume", "user": "u1"})
        r = control.request({"op": "resume", "user": "u1", "epoch": welcome["epoch"], "offset": 0})
        self.assertEqual(stats["herald_broker_pair_takeovers_total"], 1)
        self.assertTrue(r["recovered"], "the backup's copy, made over CURVE, holds everything")
        self.assertEqual([e[0] for e in r["events"]], list(range(1, 21)))

    def test_revoked_partner_is_refused(self):
        # each broker its own key pair, both listed in each one's --curve-allow
        keys = [keygen(self.dir, "pair-" + n, "pair") for n in ("a", "b")]
        allows = []
        for n in ("a", "b"):
            d = os.path.join(self.dir, "allow-" + n)
            os.mkdir(d)
            for path in keys + [self.certs["prod"], self.certs["ctl"], self.certs["gw"]]:
                shutil.copy(path, d)
            allows.append(d)
        pair = Pair(pair_timeout_ms=1000, per_broker=[
            {"curve_cert": keys[i], "curve_allow": allows[i]} for i in range(2)])
        self.addCleanup(pair.stop)
        pair.start_both()
        producer = Producer(pair.ingest, curve=(self.certs["prod"], keys[0]))
        self.addCleanup(producer.close)
        for i in range(10):
            producer.send("u1", "tick", {"n": i})
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_events_sent_total") >= 10
                   and metric(pair.metrics(0), "herald_broker_pair_lag_events") == 0,
                   timeout=10, what="10 events replicated to the backup and acknowledged")
        revoked = 'herald_broker_revoked_messages_total{socket="pair"}'
        self.assertEqual(metric(pair.metrics(0), revoked), 0)

        os.remove(os.path.join(allows[0], "pair-b.cert"))   # the primary no longer trusts it
        pair.procs[0].signal(signal.SIGHUP)
        wait_until(lambda: metric(pair.metrics(0), revoked) > 0, timeout=10,
                   what="the revoked partner's messages refused and counted")
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_peer_state") == 0,
                   timeout=10, what="the primary to stop hearing its revoked partner")
        for i in range(10, 20):
            producer.send("u1", "tick", {"n": i})
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_offset") >= 20, timeout=10,
                   what="the primary to go on serving alone")
        m = pair.metrics(0)
        self.assertEqual(metric(m, "herald_broker_pair_state"), 3, "still active")
        self.assertGreaterEqual(metric(m, "herald_broker_curve_revocations_total"), 1)
        self.assertTrue(pair.procs[1].alive(), "the backup, still passive, keeps running")
        self.assertTrue(pair.procs[0].alive())

    @staticmethod
    def primary_argv(extra):
        """A primary on free loopback ports, its partner absent."""
        argv = [os.path.join(BIN, "herald-broker"), "--role", "primary",
                "--pair-connect", "tcp://127.0.0.1:%d" % free_port()] + extra
        for k in ("ingest", "publish", "control", "undelivered"):
            argv += ["--" + k, "tcp://127.0.0.1:%d" % free_port()]
        return argv + ["--http", "127.0.0.1:%d" % free_port()]

    def start_refused(self, extra):
        p = Process(self.primary_argv(extra), name="refused")
        self.addCleanup(p.stop)
        try:
            rc = p.wait(10)
        except Exception:
            rc = None
        return rc, p.output()

    def test_off_loopback_needs_curve(self):
        bind = ["--pair-bind", "tcp://0.0.0.0:%d" % free_port()]
        rc, out = self.start_refused(bind)
        self.assertEqual(rc, 2, out)
        self.assertIn("refusing a pair link off loopback without CURVE", out)
        # with CURVE the same endpoint is taken
        p = Process(self.primary_argv(bind + ["--curve-cert", self.server,
                                              "--curve-allow", self.allow]), name="primary")
        self.addCleanup(p.stop)
        wait_until(lambda: "pair: starting as primary" in p.output() or not p.alive(),
                   timeout=10, what="the CURVE primary to start")
        self.assertTrue(p.alive(), p.output())
        self.assertIn("CURVE)", p.output())

    def test_curve_pair_needs_a_pair_certificate(self):
        allow = os.path.join(self.dir, "allow-no-pair")
        os.mkdir(allow)
        shutil.copy(self.certs["gw"], allow)
        rc, out = self.start_refused(["--pair-bind", "tcp://127.0.0.1:%d" % free_port(),
                                      "--curve-cert", self.server, "--curve-allow", allow])
        self.assertEqual(rc, 2, out)
        self.assertIn("no certificate with role pair", out)


if __name__ == "__main__":
    unittest.main()
