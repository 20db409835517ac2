"""test_fault_pair_durable.py -- a hot standby pair whose brokers keep their history on --data-dir.

Real processes: primary and backup, each on its own data directory
(--fsync batch), two gateways given both endpoints, 200 clients and a
producer pushing throughout. In turn:

1. kill -9 the primary: the backup takes over (same epoch);
2. the primary is started again on its data directory: its stored copy is
   behind the active backup, so it starts its copy over (the rule in
   broker/README.md, "Hot standby pair"): it is caught up on the backup's
   whole history, written through to its data directory, and is in step
   again;
3. kill -9 the backup: the primary takes over, same epoch;
4. the primary, now serving alone, is stopped (SIGTERM) and started again
   on its data directory with no partner up: voted active by the gateways,
   it keeps its stored epoch and continues its offsets;
5. the backup is started again on its data directory: it joins as passive.

Then: one epoch throughout (no client gets a second welcome); each client
got every accepted event meant for it exactly once, in order; and the final
active's history, rebuilt from its data directory, holds every event each
client got, from the first: a resume from 0 answers recovered:true (the
catch-up carried what the primary missed while it was down).
"""
import asyncio
import shutil
import tempfile
import unittest

from harness import Control, metric, wait_until
from test_fault_pair_partition import PairChecks


class PairDurable(PairChecks, unittest.TestCase):

    def test_pair_on_data_dirs_kill_restart(self):
        dirs = [tempfile.mkdtemp(prefix="herald-pair-%s-" % n) for n in ("primary", "backup")]
        for d in dirs:
            self.addCleanup(shutil.rmtree, d, True)
        pair, gateways, users = self.start_pair(
            fsync="batch", per_broker=[{"data_dir": d} for d in dirs])
        result = {}

        def in_step(active):
            m = pair.metrics(active)
            return (metric(m, "herald_broker_pair_peer_state") == 4
                    and metric(m, "herald_broker_pair_lag_events") == 0)

        async def body():
            clients, epoch, pusher = await self.begin(pair, gateways, users, 19)
            try:
                pair.procs[0].kill()                                  # 1
                pair.procs[0].stop()                  # closes its log
                await self.await_until(lambda: pair.serving(1), 30, "the backup took over")
                await asyncio.sleep(2)
                rejoined = pair.start(0)                              # 2
                wait_until(lambda: in_step(1), timeout=20, what="the restarted primary in step")
                result["restart_floor"] = metric(pair.metrics(1), "herald_broker_offset")
                await asyncio.sleep(3)
                pair.procs[1].kill()                                  # 3
                pair.procs[1].stop()
                await self.await_until(lambda: pair.serving(0), 30, "the primary took over")
                await asyncio.sleep(2)
                result["before_stop"] = metric(pair.metrics(0), "herald_broker_offset")
                pair.procs[0].stop()                                  # 4
                pair.start(0)
                await self.await_until(lambda: pair.serving(0), 30,
                                       "the primary, alone on its data directory, serves")
                await asyncio.sleep(2)
                pair.start(1)                                         # 5
                wait_until(lambda: in_step(0), timeout=20, what="the restarted backup in step")
                await asyncio.sleep(1)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, pusher.stop)
            result["stats"], history = await self.survivor(pair, clients, users, epoch)
            result.update(epoch=epoch, clients=clients, history=history, sent=pusher.sent,
                          log=rejoined.output())
            control = Control(pair)
            self.addCleanup(control.close)
            floor = int(result["restart_floor"])
            result["after_floor"] = {u: control.request({"op": "resume", "user": u,
                                                         "epoch": epoch, "offset": floor})
                                     for u in users}
            for c in clients:
                await c.close()

        asyncio.run(body())
        stats, clients, history = result["stats"], result["clients"], result["history"]
        print("pushed %d envelopes; copy restarted at offset %d; %d before the SIGTERM, last %d; "
              "%d deliveries" % (result["sent"], result["restart_floor"], result["before_stop"],
                                 stats["herald_broker_offset"],
                                 sum(len(c.offsets) for c in clients)))
        self.assertIn("the stored copy is behind or of another epoch", result["log"])
        self.assertEqual(stats["herald_broker_pair_state"], 3, "the primary is active")
        self.assertGreater(stats["herald_broker_offset"], result["before_stop"],
                           "offsets continue after the restart on the data directory")
        self.assertGreater(stats["herald_broker_store_commits_total"], 0,
                           "the active keeps its history on disk")
        self.check_exactly_once(clients, history)
        for c in clients:
            self.assertTrue(history[c.user][0], "%s: a resume from 0 is complete (the restarted "
                            "primary was caught up on the whole history)" % c.user)
            self.assertEqual(history[c.user][1], c.offsets,
                             "%s: the history holds every event the client got" % c.user)
            r = result["after_floor"][c.user]
            self.assertTrue(r["recovered"], "%s: complete since the copy restarted" % c.user)
            self.assertEqual([e[0] for e in r["events"]],
                             [o for o in c.offsets if o > result["restart_floor"]],
                             "%s: the data directory holds everything since then" % c.user)


if __name__ == "__main__":
    unittest.main()
