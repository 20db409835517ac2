"""test_fault_channel_stall.py -- a gateway stopped under a flood of channel events and broadcasts loses nothing silently.

60 clients on one gateway, each subscribed to one of 6 channels. The gateway
is SIGSTOPped while a producer floods those channels (events numbered per
channel) and sends broadcasts (numbered too); the broker's publish socket
towards the stopped gateway holds ~1 MiB, so most of it is dropped on the
link, each channel's last events and the last broadcasts included, which
only the audit (of channel keys and the broadcast key) can find. Each
client must end with every event of its channel in order, or a
`subscribed` recovered:false before the hole, and every broadcast, or a
`welcome` recovered:false before the hole (PROTOCOL.md, "No silent gap on
the link", channels repaired like users, broadcasts through the user's
resume).
"""
import asyncio
import json
import time
import unittest

import msgpack
import websockets
import zmq

from harness import Broker, Gateway, make_token, metric, poll_until, run_async, stall_gateway
from test_fault_gateway_stall import silent_gaps

CLIENTS, CHANNELS, STALL_S, RATE = 60, 6, 4.0, 10000
BROADCAST_EVERY = 50


async def client(url, user, channel, log, stop):
    async with websockets.connect(url, max_queue=None, ping_interval=None,
                                  max_size=2 ** 22) as ws:
        await ws.send(json.dumps({"type": "auth", "token": make_token(user, claims={"channels": ["*"]})}))
        await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        while not stop.is_set():
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
            except asyncio.TimeoutError:
                continue
            if msg.get("type") in ("welcome", "subscribed", "event"):
                log.append(msg)


def flood(ingest, channels, seconds, counts):
    """Round-robin over the channels at up to RATE/s, each event numbered per
    channel from 0; a broadcast (numbered under the key None) every
    BROADCAST_EVERY events."""
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.setsockopt(zmq.SNDHWM, 1000000)
    sock.connect(ingest)
    t0 = time.monotonic()
    end = t0 + seconds
    i = 0
    while time.monotonic() < end:
        for _ in range(100):
            if i % BROADCAST_EVERY == 0:
                sock.send(msgpack.packb({"event": "b", "broadcast": True, "data": {"n": counts[None]}}))
                counts[None] += 1
            channel = channels[i % len(channels)]
            sock.send(msgpack.packb({"event": "f", "channel": channel, "data": {"n": counts[channel]}}))
            counts[channel] += 1
            i += 1
        delay = t0 + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sock.close(linger=5000)


def streams(log):
    """One client's log split into its user stream (welcomes, broadcasts)
    and its channel's (subscribed, channel events)."""
    user = [m for m in log if m["type"] == "welcome" or (m["type"] == "event" and m.get("broadcast"))]
    channel = [m for m in log if m["type"] == "subscribed" or (m["type"] == "event" and "channel" in m)]
    return user, channel


@run_async
class ChannelStall(unittest.TestCase):

    async def test_stall_under_channel_flood(self):
        text = await self.stall(history_events=1000000)
        # proves: with history deep enough every repair replayed
        self.assertEqual(metric(text, 'herald_gateway_gaps_total{outcome="unrepaired"}'), 0)

    async def test_stall_past_channel_history(self):
        text = await self.stall(history_events=20)
        # proves: when a channel's history no longer reaches back, the repair
        # says so (subscribed or welcome recovered:false, counted) instead of
        # leaving a silent hole
        self.assertGreater(metric(text, 'herald_gateway_gaps_total{outcome="unrepaired"}'), 0)

    async def stall(self, history_events):
        broker = Broker(history_events=history_events, history_bytes=1 << 30,
                        publish_hwm_bytes=1 << 20)
        self.addCleanup(broker.stop)
        gw = Gateway(broker, max_queue_bytes=256 << 20)
        self.addCleanup(gw.stop)
        channels = ["stall:%d" % i for i in range(CHANNELS)]
        users = ["cs-%03d" % i for i in range(CLIENTS)]
        mine = {u: channels[i % CHANNELS] for i, u in enumerate(users)}
        logs = {u: [] for u in users}
        counts = {c: 0 for c in channels}
        counts[None] = 0
        stop = asyncio.Event()
        tasks = [asyncio.create_task(client(gw.url, u, mine[u], logs[u], stop)) for u in users]
        try:
            deadline = time.monotonic() + 20
            while not all(any(m["type"] == "subscribed" for m in log) for log in logs.values()):
                self.assertLess(time.monotonic(), deadline, "every client is subscribed")
                await asyncio.sleep(0.05)
            await stall_gateway(gw, flood, (broker.ingest, channels, STALL_S - 0.5, counts))

            def settled(u):
                user, channel = streams(logs[u])
                def done(log, opening, want):
                    events = [m for m in log if m["type"] == "event"]
                    told = any(not m["recovered"] for m in log[1:] if m["type"] == opening)
                    return told or (events and events[-1]["data"]["n"] == want - 1)
                return (done(user, "welcome", counts[None])
                        and done(channel, "subscribed", counts[mine[u]]))
            await poll_until(lambda: all(settled(u) for u in users), 60)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        problems = {}
        for u in users:
            user, channel = streams(logs[u])
            p = (["broadcasts: " + x for x in silent_gaps(user, counts[None])]
                 + ["channel: " + x for x in silent_gaps(channel, counts[mine[u]], opening="subscribed")])
            if p:
                problems[u] = p
        # proves: every client got every event of its channel and every
        # broadcast, in order, or was told before the hole; none silently lost
        self.assertEqual(problems, {})
        text = gw.metrics()
        self.assertGreater(sum(counts.values()), 20000 * STALL_S / 5, "the flood outran the link's bound")
        # proves: the stall dropped messages on the link and the gateway
        # found and repaired them
        self.assertGreater(metric(text, "herald_gateway_gaps_total"), 0)
        self.assertEqual(metric(text, 'herald_gateway_audits_total{reason="link"}'), 0,
                         "the broker link never dropped")
        return text


if __name__ == "__main__":
    unittest.main()
