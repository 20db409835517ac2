"""test_fault_producer_buffer.py -- a producer keeps pushing while the broker is down.

A backend's ZeroMQ PUSH socket (default high-water mark, 1000) queues what it
cannot send while the broker is stopped, and hands it over once a broker is
back on the same endpoint. Every event that queue held must reach alice on
the connection she kept open: the gateway sends the new epoch's welcome
(recovered:false, offset 0) and then every event of the new epoch from its
start (issue 9, item 3: the new broker routes the queued events before the
gateway has subscribed again, so they are only in its history), then the
events pushed after the restart: all N exactly once, in the order pushed.
"""
import asyncio
import json
import unittest

import msgpack
import websockets
import zmq
import zmq.utils.monitor

from harness import Broker, Gateway, make_token, wait_until, ws_connect, ws_recv_events

BEFORE = 50     # pushed while the broker is up
QUEUED = 450    # pushed while the broker is down, queued in the producer (under its HWM of 1000)
N = 600         # in all; the rest are pushed once the new broker is up


async def close_draining(ws):
    """Closes ws while reading what still arrives. The client library stops
    reading once 32 frames wait unread, so a plain close() during a stream
    would never see the gateway's close frame and time out after 10 s."""
    closer = asyncio.ensure_future(ws.close())
    try:
        while True:
            await ws.recv()
    except websockets.ConnectionClosed:
        pass
    await closer


class ProducerBuffer(unittest.TestCase):

    def setUp(self):
        self.broker = Broker(history_events=2 * N)
        self.addCleanup(lambda: self.broker.stop())
        self.gw = Gateway(self.broker)
        self.addCleanup(self.gw.stop)
        self.ctx = zmq.Context.instance()
        self.push = self.ctx.socket(zmq.PUSH)       # default SNDHWM, as a backend has
        self.push.setsockopt(zmq.LINGER, 0)
        self.monitor = self.push.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        self.addCleanup(self.push.close)
        self.addCleanup(self.monitor.close)
        self.addCleanup(self.push.disable_monitor)
        self.push.connect(self.broker.ingest)

    def wait_monitor(self, event, what):
        """Waits (10 s) for the producer's socket to report event."""
        def seen():
            while self.monitor.poll(50):
                if zmq.utils.monitor.recv_monitor_message(self.monitor)["event"] == event:
                    return True
            return False
        wait_until(seen, timeout=10, what=what)

    def send(self, seq):
        # Never blocks: with N - BEFORE under the HWM, the queue always has room.
        self.push.send(msgpack.packb({"event": "seq", "to": "alice", "data": {"seq": seq},
                                      "id": "p-%d" % seq}), zmq.DONTWAIT)

    def test_queued_events_all_arrive_after_restart(self):
        async def body():
            token = make_token("alice")
            ws, w1 = await ws_connect(self.gw.url, token)
            self.wait_monitor(zmq.EVENT_CONNECTED, "producer connected to the broker")
            for seq in range(BEFORE):
                self.send(seq)
            first = await ws_recv_events(ws, BEFORE)
            self.assertEqual([e["data"]["seq"] for e in first], list(range(BEFORE)),
                             "events before the outage arrive")

            self.broker.stop()
            # Only once the producer knows the connection is gone is every
            # further event certain to sit in its queue (not in a dying socket).
            self.wait_monitor(zmq.EVENT_DISCONNECTED, "producer to see the broker go")
            for seq in range(BEFORE, BEFORE + QUEUED):
                self.send(seq)

            self.broker = self.broker.restart(history_events=2 * N)
            self.wait_monitor(zmq.EVENT_CONNECTED, "producer reconnected to the new broker")
            for seq in range(BEFORE + QUEUED, N):
                self.send(seq)

            # The open connection is told of the new epoch, then gets every
            # event of it, the queued ones first.
            frames = []
            while len([m for m in frames if m["type"] == "event"]) < N - BEFORE:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                self.assertIn(msg["type"], ("event", "welcome"), "only events or a welcome arrive")
                frames.append(msg)
            welcome = frames[0]
            self.assertEqual(welcome["type"], "welcome", "the new welcome comes first")
            self.assertNotEqual(welcome["epoch"], w1["epoch"], "the restarted broker has a new epoch")
            self.assertFalse(welcome["recovered"], "and the client is told history was lost")
            self.assertEqual(welcome["offset"], 0, "its replay starts at the new epoch's start")
            rest = frames[1:]
            self.assertEqual([m["type"] for m in rest], ["event"] * (N - BEFORE),
                             "one welcome, then events only")
            seqs = [e["data"]["seq"] for e in first + rest]
            self.assertEqual(seqs, list(range(N)),
                             "every queued event arrived once, in the order pushed, "
                             "then the live ones")
            self.assertEqual([e["id"] for e in rest], ["p-%d" % s for s in range(BEFORE, N)],
                             "with their producer ids")
            offsets = [e["offset"] for e in rest]
            self.assertEqual(offsets, sorted(set(offsets)), "offsets increase without repeats")
            self.assertEqual(offsets[0], 1, "the replay starts at the new epoch's first offset")
            await close_draining(ws)
        asyncio.run(body())


if __name__ == "__main__":
    unittest.main()
