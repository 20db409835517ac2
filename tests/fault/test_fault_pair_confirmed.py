"""test_fault_pair_confirmed.py -- kill -9 the primary of a pair while herald-push --confirm publishes.

A primary and a backup broker (harness.Pair), two gateways given both
endpoints, 100 clients (one user each) and one `herald-push --confirm
--control A,B -` fed a paced line a time on stdin (half the events to one
user, half to ten, each with its own id; herald-push makes the idempotency
keys). The primary is killed with SIGKILL while events are in flight; the
backup takes over (herald-push's retries and the gateways' pings are its
vote). Then:

- herald-push exits 0: every line was confirmed (an answer with an offset
  and the pair's epoch), each exactly once on its stdout;
- every confirmed event reaches each of its recipients exactly once (counted
  per event id), with the offset herald-push was told: a retry of an event
  the dead primary had committed and replicated is answered duplicate with
  its first offset, never routed again;
- no client gets an event it was not meant for, or a second welcome;
- some events were confirmed by the new active (offsets past the takeover
  jump of 2^24).

It prints how many lines were sent and confirmed, how many confirmations
were duplicates, and how long the takeover took.
"""
import asyncio
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import unittest
from collections import Counter

from harness import BIN, Gateway, Pair, RecordingClient, metric

USERS = 100
RATE = 200           # lines a second


class PacedLines(threading.Thread):
    """Writes `rate` JSON lines a second to a process's stdin until stop(),
    then closes it: line n (from 1) is event "tick" with id "e-n" to one
    user (odd n) or ten, its data naming them."""

    def __init__(self, proc, users, rate, seed=5):
        super().__init__(daemon=True)
        self.proc = proc
        self.users = users
        self.rate = rate
        self.rng = random.Random(seed)
        self.stop_flag = threading.Event()
        self.to = {}              # id -> recipients

    def run(self):
        start = time.monotonic()
        n = 0
        while not self.stop_flag.is_set():
            left = start + n / self.rate - time.monotonic()
            if left > 0:
                time.sleep(min(0.005, left))
                continue
            n += 1
            to = self.rng.sample(self.users, 1 if n % 2 else 10)
            eid = "e-%d" % n
            self.to[eid] = to
            line = json.dumps({"to": to, "event": "tick", "id": eid, "data": {"n": n, "to": to}})
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        self.proc.stdin.close()

    def stop(self):
        self.stop_flag.set()
        self.join()


class PairConfirmed(unittest.TestCase):

    def test_kill9_primary_confirmed_events_exactly_once(self):
        pair = Pair(pair_timeout_ms=1000, history_events=1000)
        self.addCleanup(pair.stop)
        pair.start_both()
        gateways = [Gateway(pair), Gateway(pair)]
        for g in gateways:
            self.addCleanup(g.stop)
        users = ["user-%03d" % i for i in range(USERS)]
        result = {}

        async def body():
            clients = [RecordingClient(u, gateways[i % 2]) for i, u in enumerate(users)]
            await asyncio.gather(*(c.connect() for c in clients))
            epoch = clients[0].welcomes[0]["epoch"]
            # its answers go to files: a pipe nobody reads until the end
            # would fill and stop herald-push
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
            self.addCleanup(out.close)
            self.addCleanup(err.close)
            push = subprocess.Popen([os.path.join(BIN, "herald-push"), "--confirm",
                                     "--control", pair.control, "--timeout", "30", "-"],
                                    stdin=subprocess.PIPE, stdout=out, stderr=err)
            self.addCleanup(lambda: push.poll() is None and push.kill())
            writer = PacedLines(push, users, RATE)
            writer.start()
            loop = asyncio.get_running_loop()
            try:
                await asyncio.sleep(2.5)
                result["before"] = int(metric(pair.metrics(0), "herald_broker_offset"))
                pair.procs[0].kill()
                killed = time.monotonic()
                deadline = killed + 30
                while not pair.serving(1):
                    self.assertLess(time.monotonic(), deadline, "the backup took over")
                    await asyncio.sleep(0.1)
                result["takeover_s"] = time.monotonic() - killed
                await asyncio.sleep(3)
            finally:
                await loop.run_in_executor(None, writer.stop)
            await loop.run_in_executor(None, lambda: push.wait(timeout=60))
            out.seek(0)
            err.seek(0)
            result.update(rc=push.returncode, stderr=err.read().decode(), to=writer.to,
                          epoch=epoch, answers=[json.loads(line) for line in out])
            confirmed = {"e-%d" % a["line"]: a["offset"] for a in result["answers"]}

            def missing():
                return sum(1 for c in clients for eid, to in writer.to.items()
                           if c.user in to and eid in confirmed and eid not in c.ids)
            deadline = time.monotonic() + 60
            while missing() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)     # a duplicate would arrive too
            result["clients"] = clients
            for c in clients:
                await c.close()

        asyncio.run(body())
        answers, to = result["answers"], result["to"]
        duplicates = sum(1 for a in answers if a.get("duplicate"))
        print("%d lines sent, %d confirmed (%d as duplicates), takeover %.1f s after the kill; "
              "the primary had given offsets up to %d"
              % (len(to), len(answers), duplicates, result["takeover_s"], result["before"]))
        self.assertEqual(result["rc"], 0, "every line confirmed: " + result["stderr"])
        lines = Counter(a["line"] for a in answers)
        self.assertEqual(sorted(lines), list(range(1, len(to) + 1)), "each line answered")
        self.assertEqual(max(lines.values()), 1, "each line answered once")
        self.assertTrue(all(a["epoch"] == result["epoch"] for a in answers), "one epoch")
        confirmed = {"e-%d" % a["line"]: a["offset"] for a in answers}
        self.assertTrue(any(o > result["before"] + (1 << 24) for o in confirmed.values()),
                        "the new active confirmed events after the takeover")
        self.assertGreater(result["before"], 0, "events flowed before the kill")
        for c in result["clients"]:
            self.assertEqual(c.wrong_user, [], "events reach their recipients only")
            self.assertEqual(len(c.welcomes), 1, "%s: no second welcome (same epoch): %r"
                             % (c.user, c.welcomes[1:]))
            got = Counter(c.ids)
            meant = {eid for eid, rcpt in to.items() if c.user in rcpt}
            self.assertEqual(set(got), meant, "%s got every event meant for it" % c.user)
            self.assertEqual([eid for eid, n in got.items() if n > 1], [],
                             "%s got each event once" % c.user)
            for offset, eid in zip(c.offsets, c.ids):
                self.assertEqual(offset, confirmed[eid],
                                 "%s: %s delivered at the offset herald-push was told"
                                 % (c.user, eid))


if __name__ == "__main__":
    unittest.main()
