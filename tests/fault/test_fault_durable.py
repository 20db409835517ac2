"""test_fault_durable.py -- a broker restarted on its --data-dir keeps its epoch, offsets and history.

200 clients (one user each) on two gateways, 20 more that disconnect before
the restart and resume after it, and a producer pushing unicast events
throughout. The broker is stopped (SIGTERM, or kill -9 with --fsync none)
and started again on the same ports and the same data directory while the
producer keeps pushing. Then:

- the broker's epoch is the same and its offsets continue;
- no connected client gets a second welcome: each gateway resumes its
  connections from their last offsets (its link came back to the same
  epoch) with recovered:true, and no gateway resume answers false;
- every client that resumes across the restart gets recovered:true;
- every offset the broker gave (1 .. the last, over both processes) reaches
  its one recipient exactly once, in order: nothing accepted is lost and
  nothing is duplicated, including what the producer buffered while the
  broker was down.

Offsets, not producer ids, are what is checked: an envelope still in the
broker's socket queue when it stopped was never accepted (no offset).
"""
import asyncio
import os
import shutil
import signal
import tempfile
import time
import unittest

import msgpack

from harness import (Broker, Gateway, PacedProducer, RecordingClient, metric, wait_until)

USERS = 200          # connected throughout, 100 per gateway
RESUMERS = 20        # disconnect before the restart, resume after it
RATE = 300           # events per second


def unicast(users):
    """The producer's n-th envelope: one event to one random user."""
    def envelope(rng, n):
        user = rng.choice(users)
        return msgpack.packb({"event": "tick", "to": user, "data": {"u": user, "n": n},
                              "id": "p-%d" % n}, use_bin_type=True)
    return envelope


def gateway_resumes(gw, recovered):
    text = gw.metrics().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith('herald_gateway_resumes_total{recovered="%s"}' % recovered):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


class DurableRestart(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-fault-durable-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_restart(self, fsync, kill):
        broker = Broker(data_dir=self.dir, fsync=fsync)
        procs = [broker]
        self.addCleanup(lambda: [p.stop() for p in procs])
        gateways = [Gateway(broker), Gateway(broker)]
        procs += gateways
        users = ["user-%03d" % i for i in range(USERS + RESUMERS)]

        before = []
        pre = [0]

        async def body():
            clients = [RecordingClient(u, gateways[i % 2], recipients=lambda d: [d["u"]])
                       for i, u in enumerate(users)]
            await asyncio.gather(*(c.connect() for c in clients))
            epoch = clients[0].welcomes[0]["epoch"]
            # fresh connections count as recovered:false; only what follows matters
            before[:] = [(gateway_resumes(g, "false"), gateway_resumes(g, "true")) for g in gateways]
            pusher = PacedProducer(broker, RATE, unicast(users))
            pusher.start()
            try:
                await asyncio.sleep(1.5)
                resumers = clients[USERS:]
                for c in resumers:
                    await c.close()
                nonlocal_broker = procs[0]
                pre[0] = int(metric(nonlocal_broker.metrics(), "herald_broker_offset"))
                if kill:
                    nonlocal_broker.kill()
                    nonlocal_broker.stop()
                    restarted = Broker(ports=nonlocal_broker.ports, data_dir=self.dir, fsync=fsync)
                else:
                    restarted = nonlocal_broker.restart(data_dir=self.dir, fsync=fsync)
                procs[0] = restarted
                log = restarted.output()
                self.assertIn("same epoch", log, "the broker keeps its epoch: " + log)
                await asyncio.sleep(1.0)
                for c in resumers:
                    last = c.offsets[-1] if c.offsets else c.welcomes[0]["offset"]
                    w = await c.connect(resume={"epoch": epoch, "offset": last})
                    self.assertEqual(w["epoch"], epoch, "the restarted broker kept its epoch")
                    self.assertTrue(w["recovered"],
                                    "a client resuming across the restart gets recovered:true")
                await asyncio.sleep(1.5)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, pusher.stop)
            final = [0]

            def settled():
                final[0] = int(metric(procs[0].metrics(), "herald_broker_offset"))
                got = sum(len(c.offsets) for c in clients)
                return final[0] > 0 and got >= final[0]
            deadline = time.monotonic() + 40
            while not settled() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.3)   # anything extra (a duplicate) arrives too
            for c in clients:
                await c.close()
            return clients, final[0], pusher.sent

        clients, final, sent = asyncio.run(body())
        self.assertGreater(pre[0], 0, "events flowed before the restart")
        self.assertGreater(final, pre[0], "and after it (%d sent in all)" % sent)
        delivered = {}
        for c in clients:
            self.assertEqual(c.wrong_user, [], "events reach their own recipient only")
            self.assertEqual(c.offsets, sorted(c.offsets), "%s gets its events in order" % c.user)
            self.assertEqual(len(c.offsets), len(set(c.offsets)), "%s gets no duplicate" % c.user)
            for o in c.offsets:
                self.assertNotIn(o, delivered, "offset %d delivered to one recipient once" % o)
                delivered[o] = c.user
        for c in clients[:USERS]:
            self.assertEqual(len(c.welcomes), 1,
                             "%s stayed connected and got no second welcome: %r" % (c.user, c.welcomes[1:]))
        missing = sorted(set(range(1, final + 1)) - set(delivered))
        self.assertEqual(missing[:20], [], "every accepted event (offsets 1..%d) is delivered; "
                         "%d missing" % (final, len(missing)))
        self.assertEqual(max(delivered), final, "nothing past the broker's last offset")
        for gw, (false0, true0) in zip(procs[1:], before):
            self.assertEqual(gateway_resumes(gw, "false"), false0,
                             "no gateway resume came back recovered:false")
            self.assertGreaterEqual(gateway_resumes(gw, "true") - true0, USERS // 2,
                                    "each gateway resumed its connections with recovered:true")

    def test_sigterm_restart_fsync_batch(self):
        self.run_restart("batch", kill=False)

    def test_kill9_restart_fsync_none(self):
        self.run_restart("none", kill=True)


if __name__ == "__main__":
    unittest.main()
