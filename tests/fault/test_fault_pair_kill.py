"""test_fault_pair_kill.py -- kill -9 the primary of a hot standby pair under load.

A primary and a backup broker (harness.Pair), two gateways given both
endpoints ("--broker A,B --control A,B"), 1,000 clients (one user each, 500
per gateway) and a producer pushing to "A,B" throughout: half the events to
one user, half to ten (the multicast path). The primary is killed with
SIGKILL; the backup must take over by itself (the gateways' control pings
are the vote it needs) with the same epoch. Then:

- no client gets a second welcome (same epoch: each gateway repairs its
  connections from the new active's history, no recovered:false);
- per client, offsets strictly increase, with no duplicate;
- each client got exactly the events the new active's history holds for its
  user: everything accepted, by either broker, is delivered exactly once;
- offsets after the takeover are above every offset before it;
- the old primary, started again, comes back passive (the active keeps
  serving and sees its peer passive).

It prints how many envelopes the producer handed to ZeroMQ, how many the
brokers accepted and how many deliveries the clients counted.
"""
import asyncio
import time
import unittest

import msgpack

from harness import (Control, Gateway, PacedProducer, Pair, RecordingClient, metric, wait_until)

USERS = 1000
RATE = 200           # events per second


def ticks(users):
    """The producer's n-th envelope: to one user or (every other one) ten."""
    def envelope(rng, n):
        to = rng.sample(users, 1 if n % 2 else 10)
        return msgpack.packb({"event": "tick", "to": to, "data": {"n": n, "to": to}})
    return envelope


class PairKill(unittest.TestCase):

    def test_kill9_primary_takeover_exactly_once(self):
        pair = Pair(pair_timeout_ms=1000, history_events=1000)
        self.addCleanup(pair.stop)
        pair.start_both()
        self.assertFalse(pair.serving(1), "the passive backup binds no HTTP")
        gateways = [Gateway(pair), Gateway(pair)]
        for g in gateways:
            self.addCleanup(g.stop)
        users = ["user-%04d" % i for i in range(USERS)]
        result = {}

        async def body():
            clients = [RecordingClient(u, gateways[i % 2]) for i, u in enumerate(users)]
            for i in range(0, USERS, 100):
                await asyncio.gather(*(c.connect() for c in clients[i:i + 100]))
            epoch = clients[0].welcomes[0]["epoch"]
            pusher = PacedProducer(pair.ingest, RATE, ticks(users), seed=11)
            pusher.start()
            try:
                await asyncio.sleep(3)
                before = int(metric(pair.metrics(0), "herald_broker_offset"))
                pair.procs[0].kill()
                killed_at = time.monotonic()
                deadline = time.monotonic() + 30
                while not pair.serving(1):
                    self.assertLess(time.monotonic(), deadline, "the backup took over")
                    await asyncio.sleep(0.1)
                result["takeover_s"] = time.monotonic() - killed_at
                await asyncio.sleep(3)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, pusher.stop)
            control = Control(pair)
            stats = control.request({"op": "stats"})
            final = stats["herald_broker_offset"]
            expected = {}
            total = [0]

            def fetch():
                total[0] = 0
                for u in users:
                    r = control.request({"op": "resume", "user": u, "epoch": epoch, "offset": 0})
                    assert r["recovered"], r
                    expected[u] = [e[0] for e in r["events"]]
                    total[0] += len(expected[u])
                return True

            fetch()

            def delivered():
                return sum(len(c.offsets) for c in clients)
            deadline = time.monotonic() + 60
            while delivered() < total[0] and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)   # a duplicate would arrive too
            result.update(epoch=epoch, before=before, final=final, stats=stats,
                          expected=expected, clients=clients, sent=pusher.sent,
                          deliveries=delivered(), accepted=total[0])
            # the old primary returns: passive, the backup stays active
            pair.start(0)
            wait_until(lambda: metric(pair.metrics(1), "herald_broker_pair_peer_state") == 4,
                       timeout=20, what="the returning primary to be passive")
            result["primary_serving"] = pair.serving(0)
            result["backup_state"] = metric(pair.metrics(1), "herald_broker_pair_state")
            control.close()
            for c in clients:
                await c.close()

        asyncio.run(body())
        stats = result["stats"]
        accepted_events = len({o for offs in result["expected"].values() for o in offs})
        print("pushed %d envelopes, %d events accepted (%d deliveries expected), %d delivered; "
              "takeover %.1f s after the kill; primary had given offsets up to %d"
              % (result["sent"], accepted_events, result["accepted"], result["deliveries"],
                 result["takeover_s"], result["before"]))
        self.assertEqual(stats["herald_broker_pair_state"], 3, "the backup is active")
        self.assertEqual(stats["herald_broker_pair_takeovers_total"], 1)
        self.assertGreater(result["before"], 0, "events flowed before the kill")
        self.assertGreater(stats["herald_broker_events_accepted_total"], 0,
                           "the new active accepted events after the takeover")
        for c in result["clients"]:
            self.assertEqual(c.wrong_user, [], "events reach their recipients only")
            self.assertEqual(len(c.welcomes), 1, "%s: no second welcome (same epoch): %r"
                             % (c.user, c.welcomes[1:]))
            self.assertEqual(c.offsets, sorted(set(c.offsets)),
                             "%s: offsets strictly increase (no duplicate)" % c.user)
            self.assertEqual(c.offsets, result["expected"][c.user],
                             "%s got exactly the events history holds for it" % c.user)
        after = [o for offs in result["expected"].values() for o in offs if o > result["before"]]
        self.assertTrue(any(o > result["before"] + (1 << 24) for o in after),
                        "offsets after the takeover skip past everything given before")
        self.assertEqual(result["deliveries"], result["accepted"])
        self.assertFalse(result["primary_serving"], "the returning primary does not serve")
        self.assertEqual(result["backup_state"], 3, "the backup stays active")


if __name__ == "__main__":
    unittest.main()
