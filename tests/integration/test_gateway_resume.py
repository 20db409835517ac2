"""test_gateway_resume.py -- a client that reconnects with resume gets exactly
the events it missed, on the same or another gateway, then live ones; a
wrong epoch starts over; a broker restart sends a new welcome."""
import asyncio
import socket
import json
import threading
import time
import types
import unittest

from harness import (start_broker_and_gateways, run_async, recv_json, Broker, Control, Gateway, Producer, free_port, make_token, wait_until, ws_connect,
                     ws_recv_events, metric)


def unbounded_client_queue(ws):
    """Lets the client's reader take frames past its default 32-message queue.
    Without it, a close() with more unread events queued than that stalls in
    python-websockets (the reader stops before the server's close reply) until
    its 10 s close timeout, which says nothing about the gateway."""
    ws.max_queue = 1 << 30


@run_async
class GatewayResume(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # history deep enough for the whole stream test, so a reconnect
        # never outruns it (that case is "recovered": false, tested apart)
        cls.broker, (cls.gateway, cls.other) = start_broker_and_gateways(2, history_events=5000)
        cls.producer = Producer(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.producer.close()
        cls.other.stop()
        cls.gateway.stop()
        cls.broker.stop()

    def wait_offline(self, gateway, before_users):
        wait_until(lambda: b"herald_gateway_users %d\n" % before_users in gateway.metrics(),
                   what="the gateway dropped the closed connection's user")

    async def away_and_back(self, user, back_gateway):
        first, welcome = await ws_connect(self.gateway.url, make_token(user))
        for i in range(3):
            self.producer.send(user, "bid", {"i": i})
        seen = await ws_recv_events(first, 3)
        await first.close()
        self.wait_offline(self.gateway, 0)
        for i in range(3, 8):
            self.producer.send(user, "bid", {"i": i})
        # the broker has stored them once its offset passed the last one
        wait_until(lambda: b"herald_broker_history_events" in self.broker.metrics(), what="broker metrics")
        time.sleep(0)   # (no fixed wait: the resume request reaches the broker after these sends)
        resume = {"epoch": welcome["epoch"], "offset": seen[-1]["offset"]}
        again, welcome2 = await ws_connect(back_gateway.url, make_token(user), resume=resume)
        self.assertTrue(welcome2["recovered"], "history covered the gap, so recovered is true")
        self.assertEqual(welcome2["epoch"], welcome["epoch"], "same broker, same epoch")
        missed = await ws_recv_events(again, 5)
        self.assertEqual([e["data"]["i"] for e in missed], [3, 4, 5, 6, 7],
                         "exactly the five missed events are replayed, in order")
        self.assertEqual(missed[0]["offset"], seen[-1]["offset"] + 1, "the replay starts right after the resume offset")
        self.producer.send(user, "bid", {"i": 8})
        live = await ws_recv_events(again, 1)
        self.assertEqual(live[0]["data"]["i"], 8, "then live events follow")
        self.assertGreater(live[0]["offset"], missed[-1]["offset"], "live offsets continue after the replay")
        await again.close()

    async def test_resume_same_gateway(self):
        await self.away_and_back("resume-same", self.gateway)

    async def test_resume_other_gateway(self):
        await self.away_and_back("resume-other", self.other)

    async def test_replay_larger_than_queue_bound(self):
        small = Gateway(self.broker, max_queue_bytes=64 * 1024)
        try:
            user = "resume-big-replay"
            ws, welcome = await ws_connect(small.url, make_token(user))
            self.producer.send(user, "first", {})
            first = (await ws_recv_events(ws, 1))[0]
            await ws.close()
            self.wait_offline(small, 0)
            for i in range(50):     # 50 x 4 KB: three times the connection's queue bound
                self.producer.send(user, "bulky", {"i": i, "pad": "p" * 4000})
            # All 50 in history first: any still in flight would arrive live,
            # be held behind the replay and count against the small bound.
            wait_until(lambda: metric(self.broker.metrics(), "herald_broker_offset")
                       >= first["offset"] + 50, what="the broker accepted the 50 events")
            ws, again = await ws_connect(small.url, make_token(user),
                                         resume={"epoch": welcome["epoch"], "offset": first["offset"]})
            unbounded_client_queue(ws)
            self.assertTrue(again["recovered"], "a full replay is recovered")
            missed = await ws_recv_events(ws, 50)
            self.assertEqual([e["data"]["i"] for e in missed], list(range(50)),
                             "a replay bigger than --max-queue-bytes is delivered whole, not cut with 1013")
            await ws.close()
        finally:
            small.stop()

    async def test_fresh_connections_need_no_broker_round_trip(self):
        user = "fresh-twice"
        # events before any connection: a fresh connection must not get them
        self.producer.send(user, "before", {})
        wait_until(lambda: metric(self.broker.metrics(), "herald_broker_offset") >= 1,
                   what="the broker accepted the first event")
        first, w1 = await ws_connect(self.gateway.url, make_token(user))
        requests = metric(self.broker.metrics(), "herald_broker_control_requests_total")
        fresh = metric(self.gateway.metrics(), "herald_gateway_welcomes_without_resume_total")
        second, w2 = await ws_connect(self.gateway.url, make_token(user))
        # proves: a second connection with no resume, on a stream this
        # gateway already follows, is welcomed (recovered false, the same
        # epoch) without a control request to the broker...
        self.assertEqual((w2["recovered"], w2["epoch"]), (False, w1["epoch"]))
        self.assertEqual(metric(self.gateway.metrics(), "herald_gateway_welcomes_without_resume_total"),
                         fresh + 1)
        self.assertEqual(metric(self.broker.metrics(), "herald_broker_control_requests_total"), requests)
        # ...at an offset the client can resume from, with every later event
        # live on both, and nothing from before it
        self.assertGreaterEqual(w2["offset"], w1["offset"])
        for i in range(3):
            self.producer.send(user, "after", {"i": i})
        for ws, welcome in ((first, w1), (second, w2)):
            got = await ws_recv_events(ws, 3)
            self.assertEqual([(e["event"], e["data"]["i"]) for e in got],
                             [("after", 0), ("after", 1), ("after", 2)])
            self.assertGreater(got[0]["offset"], welcome["offset"])
        await second.close()
        # proves: the welcome's offset is a position: resuming from it gets
        # exactly what was missed, recovered
        last = got[-1]["offset"]
        self.producer.send(user, "missed", {})
        wait_until(lambda: metric(self.broker.metrics(), "herald_broker_offset") > last,
                   what="the broker accepted the missed event")
        again, w3 = await ws_connect(self.other.url, make_token(user),
                                     resume={"epoch": w2["epoch"], "offset": last})
        self.assertTrue(w3["recovered"])
        self.assertEqual([e["event"] for e in await ws_recv_events(again, 1)], ["missed"])
        await again.close()
        await first.close()

    async def test_wrong_epoch_is_not_recovered(self):
        user = "resume-wrong-epoch"
        self.producer.send(user, "old", {})
        ws, welcome = await ws_connect(self.gateway.url, make_token(user),
                                       resume={"epoch": "0123456789abcdef", "offset": 0})
        self.assertFalse(welcome["recovered"], "a resume naming another epoch is not recovered")
        self.assertNotEqual(welcome["epoch"], "0123456789abcdef", "the welcome carries the broker's epoch")
        self.producer.send(user, "new", {})
        first = (await ws_recv_events(ws, 1))[0]
        self.assertEqual(first["event"], "new", "nothing from before the welcome is replayed")
        self.assertGreater(first["offset"], welcome["offset"], "events follow the welcome's offset")
        await ws.close()

    async def test_continuous_stream_across_reconnects(self):
        user = "resume-stream"
        total = 1500
        sent = threading.Event()

        def produce():
            producer = Producer(self.broker)
            try:
                for i in range(total):
                    producer.send(user, "tick", {"i": i})
                    if i % 50 == 0:
                        time.sleep(0.005)   # pacing only, so reconnects happen mid-stream
            finally:
                producer.close()
                sent.set()

        ws, welcome = await ws_connect(self.gateway.url, make_token(user))
        unbounded_client_queue(ws)
        thread = threading.Thread(target=produce)
        thread.start()
        got = []
        try:
            gateways = [self.other, self.gateway, self.other, self.gateway]
            for gw in gateways:
                got += await ws_recv_events(ws, 150, timeout=30)
                await ws.close()
                ws, again = await ws_connect(gw.url, make_token(user),
                                             resume={"epoch": welcome["epoch"], "offset": got[-1]["offset"]})
                unbounded_client_queue(ws)
                self.assertTrue(again["recovered"], "each reconnect is recovered")
            got += await ws_recv_events(ws, total - len(got), timeout=60)
        finally:
            thread.join()
            await ws.close()
        offsets = [e["offset"] for e in got]
        self.assertTrue(all(b > a for a, b in zip(offsets, offsets[1:])),
                        "offsets strictly increase across four reconnects: no duplicate, no reordering")
        self.assertEqual(len(got), total, "the count matches what was sent: no gap")
        self.assertEqual([e["data"]["i"] for e in got], list(range(total)), "and they are the events sent, in order")


@run_async
class GatewayBrokerRestart(unittest.TestCase):
    async def test_broker_restart_sends_new_welcome(self):
        broker = Broker()
        gateway = None
        try:
            gateway = Gateway(broker)
            ws, welcome = await ws_connect(gateway.url, make_token("restart-user"))
            producer = Producer(broker)
            producer.send("restart-user", "before", {})
            await ws_recv_events(ws, 1)
            producer.close()
            broker = broker.restart()
            again = await recv_json(ws, timeout=15)
            self.assertEqual(again["type"], "welcome", "a broker restart reaches the open connection as a new welcome")
            self.assertFalse(again["recovered"], "with recovered false")
            self.assertNotEqual(again["epoch"], welcome["epoch"], "and the new broker's epoch")
            producer = Producer(broker)
            producer.send("restart-user", "after", {})
            after = (await ws_recv_events(ws, 1))[0]
            producer.close()
            self.assertEqual(after["event"], "after", "events of the new broker flow on the same connection")
            self.assertGreater(after["offset"], again["offset"], "after the new welcome's offset")
            await ws.close()
        finally:
            if gateway:
                gateway.stop()
            broker.stop()

    async def test_broker_down_at_connect(self):
        ports = {k: free_port() for k in ("ingest", "publish", "control", "undelivered", "http")}
        endpoints = types.SimpleNamespace(publish="tcp://127.0.0.1:%d" % ports["publish"],
                                          control="tcp://127.0.0.1:%d" % ports["control"])
        gateway = Gateway(endpoints)
        broker = None
        try:
            ws, _ = await ws_connect(gateway.url)
            await ws.send(json.dumps({"type": "auth", "token": make_token("early-bird")}))
            with self.assertRaises(asyncio.TimeoutError, msg="no welcome while no broker answers"):
                await asyncio.wait_for(ws.recv(), 0.5)
            broker = Broker(ports=ports)
            welcome = await recv_json(ws, timeout=15)
            self.assertEqual((welcome["type"], welcome["user"]), ("welcome", "early-bird"),
                             "the waiting client is welcomed once the broker comes up")
            producer = Producer(broker)
            producer.send("early-bird", "hello", {})
            event = (await ws_recv_events(ws, 1))[0]
            producer.close()
            self.assertEqual(event["event"], "hello", "and then receives events")
            await ws.close()
        finally:
            gateway.stop()
            if broker:
                broker.stop()


class LinkProxy:
    """A TCP relay between the gateway's SUB and the broker's XPUB that the
    test can cut, to drop the broker link without restarting the broker."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.paused = False
        self.sockets = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.paused:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Drops every relayed connection and refuses new ones until resume()."""
        self.paused = True
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets = []

    def resume(self):
        self.paused = False

    def close(self):
        self.cut()
        self.listener.close()


@run_async
class GatewayBrokerLink(unittest.TestCase):
    async def test_link_drop_gap_is_filled(self):
        broker = Broker(history_events=1000)
        proxy = LinkProxy(broker.ports["publish"])
        gateway = None
        control = Control(broker)
        try:
            gateway = Gateway(types.SimpleNamespace(publish="tcp://127.0.0.1:%d" % proxy.port,
                                                    control=broker.control))
            ws, welcome = await ws_connect(gateway.url, make_token("linked"))
            unbounded_client_queue(ws)
            producer = Producer(broker)
            for i in range(5):
                producer.send("linked", "tick", {"i": i})
            got = await ws_recv_events(ws, 5)
            proxy.cut()
            wait_until(lambda: control.presence(["linked"]) == {"linked": False},
                       what="the broker sees the gateway's subscription go with the link")
            for i in range(5, 25):
                producer.send("linked", "tick", {"i": i})   # published while the link is down
            proxy.resume()
            wait_until(lambda: control.presence(["linked"]) == {"linked": True},
                       what="the gateway's SUB reconnects and subscribes again")
            for i in range(25, 30):
                producer.send("linked", "tick", {"i": i})
            frames = []
            while len([f for f in frames if f.get("type") == "event"]) < 25:
                frames.append(await recv_json(ws, timeout=15))
            producer.close()
            self.assertEqual([f["type"] for f in frames], ["event"] * 25,
                             "the same broker (same epoch) means no new welcome, only events")
            got += frames
            self.assertEqual([e["data"]["i"] for e in got], list(range(30)),
                             "events published while the broker link was down are filled in, in order, once")
            offsets = [e["offset"] for e in got]
            self.assertTrue(all(b > a for a, b in zip(offsets, offsets[1:])), "offsets strictly increase")
            await ws.close()
        finally:
            control.close()
            if gateway:
                gateway.stop()
            proxy.close()
            broker.stop()


if __name__ == "__main__":
    unittest.main()
