"""test_fault_gateway_stall.py -- a gateway stopped for 5 s under a flood loses nothing silently.

100 clients (one user each) on one gateway; the gateway is SIGSTOPped for 5 s
while a producer pushes to those users as fast as the broker takes them, and
nothing is sent after it resumes. The broker's publish socket towards the
stopped gateway holds only ~1,000 messages (--publish-hwm-bytes at its
minimum), so most of the flood is dropped on the link, the last events of
every user included: only the audit (PROTOCOL.md, gap repair) can find those.
Each client must end with every event meant for it, in order, or be told
with a welcome recovered:false before any hole: never a silent gap. Run
twice: with history deep enough (all repaired) and with 20 events per user
(repairs cannot reach back: recovered:false).
"""
import asyncio
import json
import time
import unittest

import msgpack
import websockets
import zmq

from harness import Broker, Gateway, make_token, metric, poll_until, run_async, stall_gateway

# The flood is capped so that the python clients can read it all back in a
# few seconds; 20,000/s for 4.5 s is still ~60 times what the link holds.
CLIENTS, STALL_S, RATE = 100, 5.0, 20000


async def client(url, user, log, stop):
    async with websockets.connect(url, max_queue=None, ping_interval=None,
                                  max_size=2 ** 22) as ws:
        await ws.send(json.dumps({"type": "auth", "token": make_token(user)}))
        while not stop.is_set():
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
            except asyncio.TimeoutError:
                continue
            if msg.get("type") in ("welcome", "event"):
                log.append(msg)


def flood(ingest, users, seconds, counts):
    """Round-robin over users at up to RATE/s, each event numbered per user
    from 0."""
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.setsockopt(zmq.SNDHWM, 1000000)
    sock.connect(ingest)
    t0 = time.monotonic()
    end = t0 + seconds
    i = 0
    while time.monotonic() < end:
        for _ in range(100):
            user = users[i % len(users)]
            sock.send(msgpack.packb({"event": "f", "to": user, "data": {"n": counts[user]}}))
            counts[user] += 1
            i += 1
        delay = t0 + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sock.close(linger=5000)


def silent_gaps(log, sent, opening="welcome"):
    """What breaks the promise in one client's log of one stream (its first
    frame the stream's opening: a welcome, or a channel's subscribed):
    offsets not strictly increasing, or a hole in its numbered events (the
    tail included) with no opening recovered:false since the event before it."""
    problems = []
    last_offset, expect, told = 0, 0, False
    for msg in log[1:]:
        if msg["type"] == opening:
            told = told or not msg["recovered"]
            continue
        if msg["offset"] <= last_offset:
            problems.append("offset %d after %d" % (msg["offset"], last_offset))
        last_offset = msg["offset"]
        n = msg["data"]["n"]
        if n != expect and not told:
            problems.append("events %d..%d missing without a word" % (expect, n - 1))
        expect, told = n + 1, False
    if expect != sent and not told:
        problems.append("last events %d..%d missing without a word" % (expect, sent - 1))
    return problems


@run_async
class GatewayStall(unittest.TestCase):

    async def test_stall_under_flood(self):
        text = await self.stall(history_events=1000000)
        # proves: with history deep enough, every repair replayed (none told
        # the client it lost something)
        self.assertEqual(metric(text, 'herald_gateway_gaps_total{outcome="unrepaired"}'), 0)

    async def test_stall_past_history(self):
        text = await self.stall(history_events=20)
        # proves: when history no longer reaches back, the repair says so
        # (welcome recovered:false, counted) instead of leaving a silent hole
        self.assertGreater(metric(text, 'herald_gateway_gaps_total{outcome="unrepaired"}'), 0)

    async def stall(self, history_events):
        """The scenario; returns the gateway's metrics once the checks passed."""
        broker = Broker(history_events=history_events, history_bytes=1 << 30,
                        publish_hwm_bytes=1 << 20)
        self.addCleanup(broker.stop)
        gw = Gateway(broker, max_queue_bytes=256 << 20)
        self.addCleanup(gw.stop)
        # ids of 40 bytes: the audit must split its 100 users over several
        # requests (each at most 1 KiB, what the broker's XPUB reads)
        users = ["stall-%03d-%s" % (i, "x" * 30) for i in range(CLIENTS)]
        logs = {u: [] for u in users}
        counts = {u: 0 for u in users}
        stop = asyncio.Event()
        tasks = [asyncio.create_task(client(gw.url, u, logs[u], stop)) for u in users]
        try:
            deadline = time.monotonic() + 20
            while not all(logs.values()):
                self.assertLess(time.monotonic(), deadline, "every client is welcomed")
                await asyncio.sleep(0.05)
            await stall_gateway(gw, flood, (broker.ingest, users, STALL_S - 0.5, counts))
            total = sum(counts.values())
            # poll until every client has its last event or was told it lost some
            def settled(u):
                events = [m for m in logs[u] if m["type"] == "event"]
                unrecovered = any(not m["recovered"] for m in logs[u][1:] if m["type"] == "welcome")
                return unrecovered or (events and events[-1]["data"]["n"] == counts[u] - 1)
            await poll_until(lambda: all(settled(u) for u in users), 60)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        problems = {u: silent_gaps(logs[u], counts[u]) for u in users}
        # proves: every client got every event meant for it, in order, or a
        # welcome recovered:false before the hole; none lost any silently
        self.assertEqual({u: p for u, p in problems.items() if p}, {})
        text = gw.metrics()
        gaps = metric(text, "herald_gateway_gaps_total")
        # proves: the stall did drop messages on the link (far more were
        # sent than the link holds) and the gateway found and repaired them
        self.assertGreater(total, 20000, "the flood outran the link's bound")
        self.assertGreater(gaps, 0, "the gateway detected gaps and repaired connections")
        self.assertGreater(metric(text, "herald_gateway_audits_total"), 0,
                           "the gateway audited its users after the stall")
        # proves: the audit's requests fit what the broker reads (a request
        # over its limit would cut the link, and the gateway would see that)
        self.assertEqual(metric(text, 'herald_gateway_audits_total{reason="link"}'), 0,
                         "the broker link never dropped")
        return text


if __name__ == "__main__":
    unittest.main()
