"""test_fault_broker_restart.py -- restart the broker under running gateways and clients.

The broker is stopped and started again on the same ports (a new process, so
a new epoch) while a gateway and its clients stay up. The gateway must
re-subscribe its users by itself, tell each open connection about the new
epoch with a new welcome carrying recovered:false (PROTOCOL.md, client
protocol item 4), keep delivering live events, and answer a client that
resumes with the old epoch with recovered:false.
"""
import asyncio
import json
import unittest

from harness import (Broker, Control, Gateway, Producer, make_token, wait_until,
                     ws_connect, ws_recv_events)


async def next_frame_of_type(ws, kind, timeout=15.0):
    """The next frame whose type is kind; frames of other types before it are
    returned too, as (frame, skipped)."""
    skipped = []
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg.get("type") == kind:
            return msg, skipped
        skipped.append(msg)


class BrokerRestart(unittest.TestCase):

    def setUp(self):
        self.broker = Broker()
        self.addCleanup(lambda: self.broker.stop())
        self.gw = Gateway(self.broker)
        self.addCleanup(self.gw.stop)

    def test_restart_new_epoch_resubscribe_live_delivery(self):
        async def body():
            alice, w1 = await ws_connect(self.gw.url, make_token("alice"))
            bob, wb1 = await ws_connect(self.gw.url, make_token("bob"))
            producer = Producer(self.broker)
            try:
                for i in range(5):
                    producer.send(["alice", "bob"], "before", {"i": i})
                before = await ws_recv_events(alice, 5)
                await ws_recv_events(bob, 5)
                self.assertEqual([e["data"]["i"] for e in before], list(range(5)),
                                 "events flow before the restart")
                old_epoch = w1["epoch"]
                last_old = before[-1]["offset"]

                self.broker = self.broker.restart()

                # The gateway re-subscribes alice and bob on its own: the new
                # broker sees them online without any client reconnecting.
                control = Control(self.broker)
                try:
                    wait_until(lambda: control.presence(["alice", "bob"]) == {"alice": True, "bob": True},
                               timeout=20, what="gateway to re-subscribe its users")
                finally:
                    control.close()

                for ws, user in ((alice, "alice"), (bob, "bob")):
                    w2, skipped = await next_frame_of_type(ws, "welcome")
                    self.assertEqual(skipped, [], "no stray frame before the new welcome")
                    self.assertEqual(w2["user"], user, "the new welcome names the user")
                    self.assertNotEqual(w2["epoch"], old_epoch,
                                        "the open connection is told the broker's new epoch")
                    self.assertFalse(w2["recovered"],
                                     "and that history from before the restart is gone")
                    if user == "alice":
                        new_welcome = w2

                # Live delivery continues to the connections that stayed open.
                for i in range(5):
                    producer.send(["alice", "bob"], "after", {"i": i}, id="a-%d" % i)
                after = await ws_recv_events(alice, 5)
                after_bob = await ws_recv_events(bob, 5)
                self.assertEqual([(e["event"], e["data"]["i"], e["id"]) for e in after],
                                 [("after", i, "a-%d" % i) for i in range(5)],
                                 "live events reach alice after the restart, in order")
                self.assertEqual([e["offset"] for e in after], [e["offset"] for e in after_bob],
                                 "and bob, with the same offsets")
                self.assertTrue(all(e["offset"] > new_welcome["offset"] for e in after),
                                "offsets continue from the new welcome's offset")

                # A client resuming with the old epoch learns it lost history.
                carol, wc = await ws_connect(self.gw.url, make_token("alice"),
                                             resume={"epoch": old_epoch, "offset": last_old})
                self.assertEqual(wc["epoch"], new_welcome["epoch"],
                                 "a resuming client gets the current epoch")
                self.assertFalse(wc["recovered"],
                                 "resume with the old epoch answers recovered:false")
                producer.send("alice", "later", {"n": 1})
                [ev] = await ws_recv_events(carol, 1)
                [ev_alice] = await ws_recv_events(alice, 1)
                self.assertEqual((ev["event"], ev["offset"]), ("later", ev_alice["offset"]),
                                 "the resumed client receives live events like the others")
                for ws in (alice, bob, carol):
                    await ws.close()
            finally:
                producer.close()
        asyncio.run(body())


if __name__ == "__main__":
    unittest.main()
