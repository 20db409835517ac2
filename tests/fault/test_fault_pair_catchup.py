"""test_fault_pair_catchup.py -- a backup that joins late is caught up on the history before the primary dies.

Real processes: a primary started alone (the gateways' control pings vote
it active), two gateways given both endpoints, 200 clients (one user each)
and a producer pushing throughout (half the events to one user, half to
ten). Once the primary holds a few seconds of history:

1. memory only: the backup is started late. The active's
   herald_broker_pair_catchup_state says when the backup has the history
   (catch-up done, acknowledged) and its lag is 0; then the primary is
   killed with SIGKILL and the backup takes over;
2. both on data directories: the backup is started late and caught up,
   then killed with SIGKILL and started again with its data directory
   gone (an empty one), caught up again, and then the primary is killed.

Each time, on the survivor: no client gets a second welcome (same epoch,
every gateway repair found its history); each client got every accepted
event meant for it exactly once, in order; a resume from offset 0 answers
recovered:true with every event the client got -- including those
accepted before the backup existed, which only the catch-up can have
carried; and new connections resuming from 0 through a gateway get a
welcome with recovered:true and those events replayed. Channel events
pushed before the backup joined (streams keyed 0x01+channel, not users)
are on the survivor too: a channel resume from 0 answers recovered:true
with every one the primary held. Confirmed publishes (control publish with
an idempotency_key) accepted before the backup joined are retried with the
same key on the survivor after the takeover: answered duplicate with their
first offset (the catch-up carried the idempotency window), and each
reaches its client once.
"""
import asyncio
import json
import shutil
import tempfile
import types
import unittest

import msgpack
import websockets

from harness import (Control, Gateway, PacedProducer, Pair, Producer, RecordingClient,
                     make_token, metric, wait_until)
from test_fault_pair_kill import ticks
from test_fault_pair_partition import PairChecks

USERS = 200
RATE = 200           # events per second
RESUMERS = 10        # fresh connections resuming from 0 after the takeover
CHANNELS = ["order:17", "room/2"]
CONFIRMED = 5        # confirmed publishes with a key, before the backup joins


class PairCatchup(PairChecks, unittest.TestCase):

    def start_primary_alone(self, **flags):
        pair = Pair(pair_timeout_ms=1000, history_events=1000, **flags)
        self.addCleanup(pair.stop)
        pair.start(0)
        gateways = [Gateway(pair), Gateway(pair)]   # their pings are its vote
        for g in gateways:
            self.addCleanup(g.stop)
        wait_until(lambda: pair.serving(0), timeout=20, what="the primary, alone, to serve")
        return pair, gateways, ["user-%04d" % i for i in range(USERS)]

    def caught_up(self, pair, completed):
        m = pair.metrics(0)
        return (metric(m, "herald_broker_pair_peer_state") == 4
                and metric(m, "herald_broker_pair_catchup_state") == 2
                and metric(m, "herald_broker_pair_catchup_completed_total") == completed
                and metric(m, "herald_broker_pair_lag_events") == 0)

    async def resume_fresh(self, gateway, user, epoch, count):
        """A new connection for user resuming from 0: (welcome, offsets replayed)."""
        ws = await websockets.connect(gateway.url, open_timeout=20, ping_interval=None,
                                      max_size=2 ** 22)
        try:
            await ws.send(json.dumps({"type": "auth", "token": make_token(user),
                                      "resume": {"epoch": epoch, "offset": 0}}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 20))
            offsets = []
            while len(offsets) < count:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if msg.get("type") == "event":
                    offsets.append(msg["offset"])
            return welcome, offsets
        finally:
            await ws.close()

    def channel_history(self, control, epoch):
        """Per channel: (recovered, offsets) of a resume from 0 on the active."""
        out = {}
        for ch in CHANNELS:
            r = control.request({"op": "resume", "channel": ch, "epoch": epoch, "offset": 0})
            out[ch] = (r["recovered"], [e[0] for e in r["events"]])
        return out

    def keyed(self, users, i):
        """Confirmed publish i: to users[i], id and idempotency_key its own."""
        return {"op": "publish", "to": users[i], "event": "once", "id": "once-%d" % i,
                "data": {"to": [users[i]]}, "idempotency_key": "catchup-key-%d" % i}

    def run_case(self, seed, restart_backup_empty, dirs=None):
        flags = {}
        if dirs:
            flags = {"fsync": "batch", "per_broker": [{"data_dir": d} for d in dirs]}
        pair, gateways, users = self.start_primary_alone(**flags)
        result = {}

        async def body():
            clients = [RecordingClient(u, gateways[i % 2]) for i, u in enumerate(users)]
            for i in range(0, len(clients), 100):
                await asyncio.gather(*(c.connect() for c in clients[i:i + 100]))
            epoch = clients[0].welcomes[0]["epoch"]
            pusher = PacedProducer(pair.ingest, RATE, ticks(users), seed=seed)
            pusher.start()
            control = Control(pair)
            self.addCleanup(control.close)
            try:
                channels = Producer(pair.ingest)
                for i in range(40):
                    channels.send_raw(msgpack.packb({"event": "news", "channel": CHANNELS[i % 2],
                                                     "data": {"n": i}}))
                channels.close()
                # keyed and confirmed, before the backup exists
                result["confirmed"] = [control.request(self.keyed(users, i))
                                       for i in range(CONFIRMED)]
                await asyncio.sleep(4)                 # history the backup has no copy of
                result["channels_before"] = self.channel_history(control, epoch)
                result["before_join"] = metric(pair.metrics(0), "herald_broker_offset")
                pair.start(1)
                wait_until(lambda: self.caught_up(pair, 1), timeout=30,
                           what="the late backup caught up")
                result["catchup_events"] = metric(pair.metrics(0),
                                                  "herald_broker_pair_catchup_events_total")
                await asyncio.sleep(2)
                if restart_backup_empty:
                    pair.procs[1].kill()
                    pair.procs[1].stop()
                    shutil.rmtree(dirs[1])
                    await asyncio.sleep(2)             # more history it will not have
                    result["before_rejoin"] = metric(pair.metrics(0), "herald_broker_offset")
                    pair.start(1)
                    wait_until(lambda: self.caught_up(pair, 2), timeout=30,
                               what="the backup, on an empty data directory, caught up again")
                    await asyncio.sleep(2)
                result["killed_at"] = metric(pair.metrics(0), "herald_broker_offset")
                pair.procs[0].kill()
                pair.procs[0].stop()
                await self.await_until(lambda: pair.serving(1), 30, "the backup took over")
                # the producer never heard back (say) and retries, same keys
                survivor = Control(types.SimpleNamespace(control=pair.control.split(",")[1]))
                self.addCleanup(survivor.close)
                result["retried"] = [survivor.request(self.keyed(users, i))
                                     for i in range(CONFIRMED)]
                await asyncio.sleep(2)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, pusher.stop)
            result["stats"], history = await self.survivor(pair, clients, users, epoch)
            result["channels_after"] = self.channel_history(control, epoch)
            result.update(epoch=epoch, clients=clients, history=history, sent=pusher.sent,
                          log=pair.procs[1].output())
            fresh = {}
            for i, c in enumerate(clients[:RESUMERS]):
                fresh[c.user] = await self.resume_fresh(gateways[i % 2], c.user, epoch,
                                                        len(c.offsets))
            result["fresh"] = fresh
            for c in clients:
                await c.close()

        asyncio.run(body())
        stats, clients, history = result["stats"], result["clients"], result["history"]
        print("pushed %d envelopes; backup joined at offset %d; catch-up carried %d events; "
              "primary killed at %d; last %d; %d deliveries"
              % (result["sent"], result["before_join"], result["catchup_events"],
                 result["killed_at"], stats["herald_broker_offset"],
                 sum(len(c.offsets) for c in clients)))
        self.assertGreater(result["before_join"], 0, "the primary held history before the join")
        self.assertGreaterEqual(result["catchup_events"], result["before_join"],
                                "every event of the history went in the catch-up")
        self.assertIn("catch-up", result["log"])
        self.assertEqual(stats["herald_broker_pair_state"], 3, "the backup is active")
        self.assertEqual(stats["herald_broker_pair_takeovers_total"], 1)
        self.assertGreaterEqual(stats["herald_broker_pair_catchup_completed_total"], 1)
        self.assertEqual(stats["herald_broker_pair_catchup_refused_total"], 0)
        if dirs:
            self.assertGreater(stats["herald_broker_store_commits_total"], 0,
                               "the backup wrote its copy through to its data directory")
        self.check_exactly_once(clients, history)
        for c in clients:
            recovered, offsets = history[c.user]
            self.assertTrue(recovered, "%s: a resume from 0 on the survivor is complete" % c.user)
            self.assertEqual(offsets, c.offsets, "%s: the survivor holds every event the client "
                             "got, from before the backup joined on" % c.user)
        early = sum(1 for c in clients for o in c.offsets if o <= result["before_join"])
        self.assertGreater(early, 0, "clients got events before the backup joined")
        for ch in CHANNELS:
            recovered, offsets = result["channels_before"][ch]
            self.assertTrue(recovered)
            self.assertEqual(len(offsets), 20, "%s: the primary held its events" % ch)
            self.assertEqual(result["channels_after"][ch], (True, offsets),
                             "%s: the survivor holds the channel's history, complete" % ch)
        for i, (first, again) in enumerate(zip(result["confirmed"], result["retried"])):
            self.assertIn("offset", first, first)
            self.assertFalse(first.get("duplicate"), first)
            # proves: the survivor knew the key of an event accepted before
            # it joined: a duplicate, answered with the first offset
            self.assertEqual(again, dict(first, duplicate=True),
                             "retry %d on the survivor: %r then %r" % (i, first, again))
            c = clients[i]                             # users[i]'s
            # proves: not delivered twice
            self.assertEqual(c.ids.count("once-%d" % i), 1, "%s got once-%d once" % (c.user, i))
        self.assertGreaterEqual(stats["herald_broker_pair_catchup_keys_total"], CONFIRMED,
                                "the survivor learned the keys from its catch-up")
        for user, (welcome, offsets) in result["fresh"].items():
            c = next(c for c in clients if c.user == user)
            self.assertTrue(welcome.get("recovered"), "%s: resuming from 0 through a gateway: "
                            "recovered:true (%r)" % (user, welcome))
            self.assertEqual(welcome.get("epoch"), result["epoch"])
            self.assertEqual(offsets, c.offsets, "%s: the replay is every event, once" % user)

    def test_late_backup_caught_up_then_kill9_primary(self):
        self.run_case(seed=23, restart_backup_empty=False)

    def test_backup_restarted_without_its_data_dir(self):
        dirs = [tempfile.mkdtemp(prefix="herald-catchup-%s-" % n) for n in ("primary", "backup")]
        for d in dirs:
            self.addCleanup(shutil.rmtree, d, True)
        self.run_case(seed=29, restart_backup_empty=True, dirs=dirs)


if __name__ == "__main__":
    unittest.main()
