"""test_curve_revoke.py -- revoking a CURVE key cuts the connections it
already has: after its certificate leaves --curve-allow and the broker gets
SIGHUP, a producer connected with it gets no more events in, a control
client connected with it is refused, a gateway connected with it stops
receiving events (and is refused when it reconnects), while the gateway and
producer still allowed keep working (the gateway repairs the moment its link
was re-made)."""
import asyncio
import os
import shutil
import signal
import tempfile
import unittest

import msgpack
import zmq

from harness import (Broker, Gateway, Producer, curve_client, keygen, make_token, metric,
                     run_async, wait_until, ws_connect, ws_recv_events)


def stat(broker, name):
    return metric(broker.metrics(), name) or 0


@run_async
class CurveRevoke(unittest.TestCase):
    def setUp(self):
        self.sockets = []
        self.dir = tempfile.mkdtemp(prefix="herald-revoke-")
        self.allow = os.path.join(self.dir, "allow")
        os.mkdir(self.allow)
        self.server = keygen(self.dir, "broker")
        self.certs = {}
        for name, role in (("gw_kept", "gateway"), ("gw_gone", "gateway"),
                           ("prod_kept", "producer"), ("prod_gone", "producer")):
            self.certs[name] = keygen(self.dir, name, role)
            shutil.copy(self.certs[name], self.allow)
        self.broker = Broker(curve_cert=self.server, curve_allow=self.allow)
        self.gateways = []
        self.producers = []
        self.ctx = zmq.Context.instance()
        self.controls = []

    def tearDown(self):
        for p in self.producers:
            p.close()
        for c in self.controls:
            c.close(0)
        for g in self.gateways:
            g.stop()
        code = self.broker.stop()
        self.assertEqual(code, 0, self.broker.output()[-2000:])
        shutil.rmtree(self.dir, ignore_errors=True)

    def gateway(self, name):
        g = Gateway(self.broker, curve_cert=self.certs[name], curve_server=self.server)
        self.gateways.append(g)
        return g

    def producer(self, name):
        p = Producer(self.broker, curve=(self.certs[name], self.server))
        self.producers.append(p)
        return p

    def control(self, name):
        c = self.ctx.socket(zmq.DEALER)
        c.setsockopt(zmq.LINGER, 0)
        curve_client(c, self.certs[name], self.server)
        c.connect(self.broker.control)
        self.controls.append(c)
        return c

    @staticmethod
    def ask(dealer, req, timeout_ms=5000):
        dealer.send_multipart([b"", msgpack.packb(req)])
        if not dealer.poll(timeout_ms):
            raise AssertionError("no control reply to %r" % (req,))
        return msgpack.unpackb(dealer.recv_multipart()[-1], raw=False)

    async def test_revoked_keys_are_cut_and_the_others_keep_working(self):
        kept, gone = self.gateway("gw_kept"), self.gateway("gw_gone")
        alice, _ = await ws_connect(kept.url, make_token("alice"))
        bob, _ = await ws_connect(gone.url, make_token("bob"))
        self.sockets += [alice, bob]
        p_kept, p_gone = self.producer("prod_kept"), self.producer("prod_gone")
        c_gone = self.control("prod_gone")
        # before: every key works
        p_kept.send("alice", "one")
        p_gone.send("bob", "one")
        self.assertEqual((await ws_recv_events(alice, 1))[0]["event"], "one")
        self.assertEqual((await ws_recv_events(bob, 1))[0]["event"], "one")
        self.assertIn("online", self.ask(c_gone, {"op": "presence", "users": ["alice"]}))

        for name in ("gw_gone", "prod_gone"):
            os.unlink(os.path.join(self.allow, name + ".cert"))
        self.broker.signal(signal.SIGHUP)
        wait_until(lambda: stat(self.broker, "herald_broker_curve_revocations_total") >= 2,
                   what="the broker to take both keys away")

        # proves: the revoked producer's still-open connection gets nothing in
        accepted = stat(self.broker, "herald_broker_events_accepted_total")
        p_gone.send("alice", "forged")
        wait_until(lambda: self.broker_revoked("ingest") >= 1,
                   what="the revoked producer's event dropped and counted")
        # proves: the revoked control client is refused on its open connection
        self.assertEqual(self.ask(c_gone, {"op": "presence", "users": ["alice"]}),
                         {"error": "revoked"})
        self.assertGreaterEqual(self.broker_revoked("control"), 1)
        # proves: the revoked gateway was cut and is refused when it comes back
        wait_until(lambda: self.refused("publish") >= 1, timeout=15,
                   what="the revoked gateway refused on reconnecting")
        # proves: the allowed gateway and producer keep working; the gateway
        # re-made its link by itself and alice gets what follows
        p_kept.send("bob", "never")
        deadline = asyncio.get_running_loop().time() + 20
        got = []
        while not got and asyncio.get_running_loop().time() < deadline:
            p_kept.send("alice", "two")
            try:
                got = [e for e in await ws_recv_events(alice, 1, timeout=1.0) if e["event"] == "two"]
            except (AssertionError, asyncio.TimeoutError):
                pass
        self.assertTrue(got, "the allowed gateway delivers after the revocation")
        self.assertEqual(stat(self.broker, "herald_broker_events_accepted_total") >= accepted + 2,
                         True)
        # proves: bob, behind the revoked gateway, gets nothing more
        try:
            extra = await ws_recv_events(bob, 1, timeout=2.0)
        except (AssertionError, asyncio.TimeoutError):
            extra = []
        self.assertEqual(extra, [], "the revoked gateway still receives events")

    def broker_revoked(self, socket):
        return metric(self.broker.metrics(),
                      'herald_broker_revoked_messages_total{socket="%s"}' % socket, exact=True)

    def refused(self, socket):
        return metric(self.broker.metrics(), 'herald_broker_auth_refused_total{socket="%s",'
                      'reason="unknown_key"}' % socket, exact=True)


if __name__ == "__main__":
    unittest.main()
