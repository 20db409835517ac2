"""test_fault_gateway_kill.py -- kill -9 a gateway mid-stream; its client resumes on another.

alice holds one connection on each of two gateways while a producer streams
numbered events to her. The first gateway is killed with SIGKILL (no close
frame, no goodbye). Its client reconnects to the surviving gateway with the
epoch and offset it last saw, and must end with exactly the events the
untouched connection got: same offsets, same order, none lost or repeated.
"""
import asyncio
import threading
import unittest

import websockets

from harness import Broker, Gateway, Producer, make_token, ws_connect, ws_recv_events

N = 300                 # events streamed
KILL_AFTER = N // 3     # the kill happens once the doomed client has this many
HOLD_AT = 2 * N // 3    # the producer waits here for the kill, so it is mid-stream


class GatewayKill(unittest.TestCase):

    def setUp(self):
        self.broker = Broker(history_events=2 * N)
        self.addCleanup(self.broker.stop)
        self.gw1 = Gateway(self.broker)
        self.addCleanup(self.gw1.stop)
        self.gw2 = Gateway(self.broker)
        self.addCleanup(self.gw2.stop)

    def test_client_resumes_on_other_gateway_without_loss_or_duplicates(self):
        killed = threading.Event()
        stop = threading.Event()

        def produce():
            # Paced so the stream is still flowing when the kill happens; the
            # pacing shapes the load, it synchronises nothing.
            producer = Producer(self.broker)
            try:
                for seq in range(N):
                    if seq == HOLD_AT:
                        killed.wait(timeout=60)
                    if stop.is_set():
                        return
                    producer.send("alice", "tick", {"seq": seq}, id="t-%d" % seq)
                    stop.wait(0.003)
            finally:
                producer.close()

        async def body():
            token = make_token("alice")
            c1, w1 = await ws_connect(self.gw1.url, token)
            c2, w2 = await ws_connect(self.gw2.url, token)
            self.assertEqual(w1["epoch"], w2["epoch"], "both gateways serve the same broker epoch")

            thread = threading.Thread(target=produce, daemon=True)
            thread.start()
            try:
                survivor = asyncio.ensure_future(ws_recv_events(c2, N, timeout=60))

                # Read the doomed connection until it has KILL_AFTER events,
                # kill its gateway, then drain what was already in flight.
                got1 = await ws_recv_events(c1, KILL_AFTER, timeout=30)
                self.gw1.kill()
                killed.set()
                closed = False
                try:
                    while True:
                        got1 += await ws_recv_events(c1, 1, timeout=10)
                except websockets.ConnectionClosed:
                    closed = True
                self.assertTrue(closed, "the client saw its gateway's connection drop")

                last = got1[-1]["offset"]
                c1b, wb = await ws_connect(self.gw2.url, token,
                                           resume={"epoch": w1["epoch"], "offset": last})
                self.assertTrue(wb["recovered"],
                                "the surviving gateway could replay everything the client missed")
                self.assertEqual(wb["epoch"], w1["epoch"], "same broker, same epoch")
                rest = await ws_recv_events(c1b, N - len(got1), timeout=60)
                everything2 = await survivor
            finally:
                stop.set()
                killed.set()
                thread.join(timeout=10)

            got = got1 + rest
            offsets1 = [e["offset"] for e in got]
            offsets2 = [e["offset"] for e in everything2]
            self.assertEqual([e["data"]["seq"] for e in everything2], list(range(N)),
                             "the untouched connection got every event once, in order")
            self.assertEqual(offsets1, offsets2,
                             "the resumed client got exactly the same offsets: nothing lost, "
                             "nothing duplicated, same order")
            self.assertEqual([e["id"] for e in got], ["t-%d" % i for i in range(N)],
                             "the replayed events carry their producer ids")

            # Nothing more arrives on either: no duplicate trails the replay.
            for ws in (c1b, c2):
                await ws.send('{"type":"ping"}')
                while True:
                    msg = await asyncio.wait_for(ws.recv(), 10)
                    self.assertNotIn('"type":"event"', msg.replace(" ", ""),
                                     "no extra event after the N expected")
                    if '"pong"' in msg:
                        break
            await c1b.close()
            await c2.close()

        asyncio.run(body())


if __name__ == "__main__":
    unittest.main()
