"""test_fault_linkgap.py -- a gateway whose broker link is cut again and again loses nothing.

One broker, two gateways; gateway 0 reaches the broker's publish socket
through a TCP relay that is cut (both sides closed, reconnects refused for a
while) 20 times while a producer pushes events to 20 users at 1000/s. Each
user holds a connection on each gateway, so the broker keeps routing the
user's events while gateway 0's link is down, and libzmq starts routing them
to gateway 0 again before the broker has answered its resubscription (issue
9, item 2: that race used to let a connection skip what it missed). Every
gateway-0 connection must end with exactly the events its gateway-1 twin
got, in order, without duplicates and without a recovered:false welcome
(history is deep enough), and gateway 0 must have counted the repairs.

The second case does the same with broadcasts and a channel flowing beside
the users' events: a broadcast has its own prev chain but is part of each
user's stream, so a cut loses from two chains at once (three with the
channel). History still reaches back, so every connection must be
repaired in place: every event exactly once and in order, no
recovered:false welcome or subscribed (issue 11: 18-20 of 20 connections
used to get one after a cut).
"""
import asyncio
import json
import random
import threading
import time
import types
import unittest

import msgpack
import websockets
import zmq

from harness import Broker, Gateway, free_port, make_token, metric, run_async

USERS, RATE, CUTS, OUTAGE_MS, FLOW_MS = 20, 1000, 20, 300, 400
MIXED_CUTS = 8
CHANNEL = "board"


class Relay:
    """127.0.0.1:listen -> target; cut() closes every connection and refuses
    new ones for a while."""

    def __init__(self, target_port):
        self.listen = free_port()
        self.target = target_port
        self.refuse_until = 0.0
        self.conns = set()
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen)

    async def _handle(self, reader, writer):
        if time.monotonic() < self.refuse_until:
            writer.transport.abort()
            return
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, uw)
        self.conns.add(pair)

        async def pipe(r, w):
            try:
                while True:
                    data = await r.read(65536)
                    if not data:
                        break
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                w.transport.abort()

        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
        self.conns.discard(pair)

    def cut(self, refuse_ms):
        self.refuse_until = time.monotonic() + refuse_ms / 1000.0
        for a, b in list(self.conns):
            a.transport.abort()
            b.transport.abort()
        self.conns.clear()

    async def close(self):
        self.cut(0)
        self.server.close()
        await self.server.wait_closed()


async def client(url, user, log, stop):
    async with websockets.connect(url, max_queue=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": make_token(user)}))
        while not stop.is_set():
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
            except asyncio.TimeoutError:
                continue
            if msg.get("type") == "welcome":
                log["welcomes"].append(msg)
            elif msg.get("type") == "event":
                log["offsets"].append(msg["offset"])


async def mixed_client(url, user, log, stop):
    """A connection following its user's stream (events and broadcasts)
    and the channel: log["stream"] and log["channel"] get the offsets in
    the order they came, log["welcomes"] and log["subscribed"] the frames."""
    token = make_token(user, claims={"channels": [CHANNEL]})
    async with websockets.connect(url, max_queue=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
        while not stop.is_set():
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
            except asyncio.TimeoutError:
                continue
            kind = msg.get("type")
            if kind == "welcome":
                log["welcomes"].append(msg)
            elif kind == "subscribed":
                log["subscribed"].append(msg)
            elif kind == "event" and "channel" in msg:
                log["channel"].append(msg["offset"])
            elif kind == "event":
                log["stream"].append(msg["offset"])
                if msg.get("broadcast"):
                    log["broadcasts"].append(msg["offset"])


def produce_mixed(ingest, stop, users, sent):
    """Like produce, with one event in five a broadcast and one in five on
    the channel."""
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.connect(ingest)
    rng = random.Random(11)
    n = 0
    t0 = time.monotonic()
    while not stop.is_set():
        n += 1
        pick = rng.random()
        env = {"event": "n", "data": {"n": n}}
        if pick < 0.2:
            env["broadcast"] = True
        elif pick < 0.4:
            env["channel"] = CHANNEL
        else:
            env["to"] = rng.choice(users)
        sock.send(msgpack.packb(env))
        delay = t0 + n / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sent.append(n)
    sock.close(linger=2000)


def produce(ingest, stop, users, sent):
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.connect(ingest)
    n = 0
    t0 = time.monotonic()
    while not stop.is_set():
        n += 1
        sock.send(msgpack.packb({"event": "n", "to": random.choice(users), "data": {"n": n}}))
        delay = t0 + n / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sent.append(n)
    sock.close(linger=2000)


@run_async
class LinkGap(unittest.TestCase):

    async def test_link_cuts_lose_nothing(self):
        # history deep enough that no outage outgrows it: any loss is the gateway's
        broker = Broker(history_events=100000)
        self.addCleanup(broker.stop)
        relay = Relay(broker.ports["publish"])
        await relay.start()
        via_relay = types.SimpleNamespace(publish="tcp://127.0.0.1:%d" % relay.listen,
                                          control=broker.control)
        gw0 = Gateway(via_relay)
        self.addCleanup(gw0.stop)
        gw1 = Gateway(broker)
        self.addCleanup(gw1.stop)

        users = ["lg%d" % i for i in range(USERS)]
        logs = {(u, g): {"welcomes": [], "offsets": []} for u in users for g in (0, 1)}
        stop = asyncio.Event()
        tasks = [asyncio.create_task(client((gw0, gw1)[g].url, u, logs[(u, g)], stop))
                 for u in users for g in (0, 1)]
        pstop = threading.Event()
        try:
            deadline = time.monotonic() + 20
            while not all(log["welcomes"] for log in logs.values()):
                self.assertLess(time.monotonic(), deadline, "every connection is welcomed")
                await asyncio.sleep(0.05)
            sent = []
            producer = threading.Thread(target=produce, args=(broker.ingest, pstop, users, sent))
            producer.start()
            await asyncio.sleep(0.5)
            for _ in range(CUTS):
                relay.cut(OUTAGE_MS)
                await asyncio.sleep((OUTAGE_MS + FLOW_MS) / 1000.0)
            pstop.set()
            await asyncio.to_thread(producer.join)
            # every event the broker accepted reaches both sides (polling;
            # gateway 0 may still be filling its last gaps)
            total = sent[0]
            deadline = time.monotonic() + 30
            while sum(len(log["offsets"]) for log in logs.values()) < 2 * total:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
        finally:
            pstop.set()
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await relay.close()

        lost = []
        for u in users:
            a, b = logs[(u, 0)], logs[(u, 1)]
            # proves: per connection, offsets strictly increase (in order,
            # no duplicate across the repairs)
            for g, log in ((0, a), (1, b)):
                self.assertEqual(log["offsets"], sorted(set(log["offsets"])),
                                 "%s on gateway %d: offsets strictly increasing" % (u, g))
            # proves: no connection was told it lost something (history covered it all)
            self.assertEqual([w for w in a["welcomes"][1:] if not w["recovered"]], [],
                             "%s on gateway 0: no recovered:false welcome" % u)
            start = max(a["welcomes"][0]["offset"], b["welcomes"][0]["offset"])
            missing = sorted(set(o for o in b["offsets"] if o > start)
                             - set(a["offsets"]))
            if missing:
                lost.append((u, len(missing), missing[0], missing[-1]))
        # proves: no silent loss: each gateway-0 connection got every event
        # its gateway-1 twin got, over all 20 cuts
        self.assertEqual(lost, [], "events lost on gateway 0 (user, count, first, last)")
        self.assertEqual(sum(len(logs[(u, 1)]["offsets"]) for u in users), total,
                         "gateway 1's connections got every event the producer sent")
        text = gw0.metrics()
        # proves: the cuts did lose messages on the link and gateway 0 found
        # and repaired them (the test would pass vacuously otherwise)
        self.assertGreater(metric(text, 'herald_gateway_gaps_total{outcome="repaired"}'), 0)
        self.assertEqual(metric(text, 'herald_gateway_gaps_total{outcome="unrepaired"}'), 0)

    async def test_link_cuts_with_broadcasts_and_a_channel(self):
        broker = Broker(history_events=100000)
        self.addCleanup(broker.stop)
        relay = Relay(broker.ports["publish"])
        await relay.start()
        via_relay = types.SimpleNamespace(publish="tcp://127.0.0.1:%d" % relay.listen,
                                          control=broker.control)
        gw0 = Gateway(via_relay)
        self.addCleanup(gw0.stop)
        gw1 = Gateway(broker)
        self.addCleanup(gw1.stop)

        users = ["lb%d" % i for i in range(USERS)]
        logs = {(u, g): {"welcomes": [], "subscribed": [], "stream": [], "channel": [],
                         "broadcasts": []}
                for u in users for g in (0, 1)}
        stop = asyncio.Event()
        tasks = [asyncio.create_task(mixed_client((gw0, gw1)[g].url, u, logs[(u, g)], stop))
                 for u in users for g in (0, 1)]
        pstop = threading.Event()
        try:
            deadline = time.monotonic() + 20
            while not all(log["welcomes"] and log["subscribed"] for log in logs.values()):
                self.assertLess(time.monotonic(), deadline,
                                "every connection is welcomed and subscribed")
                await asyncio.sleep(0.05)
            sent = []
            producer = threading.Thread(target=produce_mixed,
                                        args=(broker.ingest, pstop, users, sent))
            producer.start()
            await asyncio.sleep(0.5)
            for _ in range(MIXED_CUTS):
                relay.cut(OUTAGE_MS)
                await asyncio.sleep((OUTAGE_MS + FLOW_MS) / 1000.0)
            pstop.set()
            await asyncio.to_thread(producer.join)
            # the last event's offset is the broker's latest: wait until
            # every gateway-0 connection's streams are as far as their twins'
            def settled():
                for u in users:
                    a, b = logs[(u, 0)], logs[(u, 1)]
                    for key in ("stream", "channel"):
                        if b[key] and (not a[key] or a[key][-1] < b[key][-1]):
                            return False
                return True
            deadline = time.monotonic() + 20
            while not settled() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)    # a duplicate, if any, would land now
        finally:
            pstop.set()
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await relay.close()

        lost, told = [], []
        for u in users:
            a, b = logs[(u, 0)], logs[(u, 1)]
            for g, log in ((0, a), (1, b)):
                # proves: the user's stream (its events and the broadcasts)
                # and the channel each came in order, without a duplicate
                for key in ("stream", "channel"):
                    self.assertEqual(log[key], sorted(set(log[key])),
                                     "%s on gateway %d: %s offsets strictly increasing"
                                     % (u, g, key))
            # proves: no gateway-0 connection was told it lost something
            # (history reached back over every cut)
            told += [(u, "welcome", w["offset"]) for w in a["welcomes"][1:] if not w["recovered"]]
            told += [(u, "subscribed", w["offset"]) for w in a["subscribed"][1:]
                     if not w["recovered"]]
            for key, first in (("stream", "welcomes"), ("channel", "subscribed")):
                start = max(a[first][0]["offset"], b[first][0]["offset"])
                missing = sorted(set(o for o in b[key] if o > start) - set(a[key]))
                extra = sorted(set(o for o in a[key] if o > start) - set(b[key]))
                if missing or extra:
                    lost.append((u, key, len(missing), len(extra), missing[:3]))
        self.assertEqual(told, [], "recovered:false on gateway 0 (user, frame, offset)")
        # proves: each gateway-0 connection got exactly the events (user,
        # broadcast, channel) its gateway-1 twin got, over all the cuts
        self.assertEqual(lost, [], "gateway 0 differs from its twins "
                                   "(user, stream, missing, extra, first missing)")
        broadcasts = set(logs[(users[0], 1)]["broadcasts"])
        # proves: broadcasts flowed (the case is not vacuous) and every
        # gateway-1 connection got the same ones
        self.assertGreater(len(broadcasts), 100)
        for u in users:
            self.assertEqual(set(logs[(u, 1)]["broadcasts"]), broadcasts,
                             "%s on gateway 1 got every broadcast" % u)
        text = gw0.metrics()
        # proves: the cuts lost messages on the link and gateway 0 repaired
        # them all from history
        self.assertGreater(metric(text, 'herald_gateway_gaps_total{outcome="repaired"}'), 0)
        self.assertEqual(metric(text, 'herald_gateway_gaps_total{outcome="unrepaired"}'), 0,
                         "no repair fell back to recovered:false")


if __name__ == "__main__":
    unittest.main()
