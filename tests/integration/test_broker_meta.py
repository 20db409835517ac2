"""test_broker_meta.py -- an envelope's receipt and key travel everywhere its event goes.

An envelope may carry `receipt` (seconds, 1-3600) and `key` (a conflation
key, 1-128 bytes). Real broker processes; a raw SUB socket stands in for a
gateway and the control socket's resume for a gateway's replay:

1. ingest and HTTP (Herald-Receipt / Herald-Key headers): the published
   header's flags byte says receipt and key, and a keyed event has a third
   frame holding its key; an envelope without them has flags 0 and two
   frames; bad values are refused with reason bad_receipt / bad_key
   (counted) or, over HTTP, a 400;
2. the resume reply carries each event's flags and key ("meta"), and
   still does after the broker restarts on its --data-dir (the store's
   records hold them);
3. through a gateway, from herald-push --receipt/--key and a keyed
   ingest: a browser receives keyed events live and in a resume replay
   (the gateway reads the three-frame message and the reply's meta);
4. a hot standby pair: events accepted before the backup joined (its
   catch-up) and after (live replication) keep their flags and keys on the
   backup once it took over.
"""
import asyncio
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import (BIN, FLAG_KEY, FLAG_RECEIPT, Broker, Control, Gateway, Pair, Producer,
                     http_post, make_token, metric, parse_flags, parse_published,
                     recv_published, subscribe, wait_until, ws_connect, ws_recv_events)


def meta_of(reply):
    """{offset: (flags, key or None)} of a resume reply."""
    return {o: (f, k or None) for (o, _), (f, k) in zip(reply["events"], reply["meta"])}


class BrokerMeta(unittest.TestCase):

    def resume(self, control, user, epoch):
        return control.request({"op": "resume", "user": user, "epoch": epoch, "offset": 0})

    def test_ingest_http_resume_and_store(self):
        data_dir = tempfile.mkdtemp(prefix="herald-meta-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        broker = Broker(data_dir=data_dir)
        self.addCleanup(lambda: broker.stop())
        sub, _ = subscribe(broker, "alice")
        control = Control(broker)
        epoch = control.request({"op": "resume", "user": "nobody"})["epoch"]
        producer = Producer(broker)
        self.addCleanup(producer.close)

        producer.send("alice", "price", {"v": 1}, receipt=30, key="price:EURUSD")
        producer.send("alice", "price", {"v": 2}, key="price:GBPUSD")
        producer.send("alice", "note", {"v": 3}, receipt=5)
        producer.send("alice", "note", {"v": 4})
        got = []
        while len(got) < 4:
            frames = recv_published(sub)
            kind, _, offset, _, _ = parse_published(frames)
            if kind == b"E":
                got.append((offset,) + parse_flags(frames))
        # proves: the header's flags say receipt and key exactly as the
        # envelope asked, and only a keyed event has the third (key) frame
        self.assertEqual([g[1:] for g in got], [
            (FLAG_RECEIPT | FLAG_KEY, b"price:EURUSD"), (FLAG_KEY, b"price:GBPUSD"),
            (FLAG_RECEIPT, None), (0, None)])

        status, _ = http_post(broker.http + "/message/price/alice", b'{"v":5}',
                              headers={"Herald-Receipt": "60", "Herald-Key": "price:JPY"})
        self.assertEqual(status, 200)
        frames = recv_published(sub)
        while parse_published(frames)[0] != b"E":
            frames = recv_published(sub)
        # proves: the HTTP publish path takes receipt and key from its headers
        self.assertEqual(parse_flags(frames), (FLAG_RECEIPT | FLAG_KEY, b"price:JPY"))
        for headers in ({"Herald-Receipt": "0"}, {"Herald-Receipt": "3601"},
                        {"Herald-Receipt": "soon"}, {"Herald-Key": "k" * 129}):
            status, body = http_post(broker.http + "/message/price/alice", b"{}", headers=headers)
            # proves: a bad header is refused with a 400 saying which
            self.assertEqual(status, 400, (headers, body))

        before = broker.metrics()
        for bad in ({"receipt": 0}, {"receipt": 3601}, {"receipt": "30"}):
            producer.send("alice", "price", {}, **bad)
        for bad in ({"key": ""}, {"key": "k" * 129}, {"key": "a\x00b"}, {"key": 7}):
            producer.send("alice", "price", {}, **bad)
        wait_until(lambda: metric(broker.metrics(),
                                  'herald_broker_events_rejected_total{reason="bad_key"}') == 4,
                   what="the bad keys counted")
        m = broker.metrics()
        # proves: bad receipts and keys are refused, each counted by its reason
        self.assertEqual(metric(m, 'herald_broker_events_rejected_total{reason="bad_receipt"}'), 3)
        self.assertEqual(metric(m, "herald_broker_offset"), metric(before, "herald_broker_offset"))

        reply = self.resume(control, "alice", epoch)
        want = {got[0][0]: (3, "price:EURUSD"), got[1][0]: (2, "price:GBPUSD"),
                got[2][0]: (1, None), got[3][0]: (0, None), got[3][0] + 1: (3, "price:JPY")}
        # proves: the resume reply (a gateway's replay) carries every
        # event's flags and key as the live event did
        self.assertEqual(meta_of(reply), want)
        control.close()
        sub.close()

        self.assertEqual(broker.stop(), 0)
        broker = Broker(ports=broker.ports, data_dir=data_dir)
        control = Control(broker)
        reply = self.resume(control, "alice", epoch)
        # proves: after a restart on the data directory (same epoch) the
        # store gave back every event with its flags and key
        self.assertTrue(reply["recovered"])
        self.assertEqual(meta_of(reply), want)
        control.close()

    def test_gateway_live_and_replay(self):
        broker = Broker()
        self.addCleanup(broker.stop)
        gateway = Gateway(broker)
        self.addCleanup(gateway.stop)
        producer = Producer(broker)
        self.addCleanup(producer.close)

        async def run():
            ws, welcome = await ws_connect(gateway.url, make_token("alice"))
            push = subprocess.run(
                [os.path.join(BIN, "herald-push"), "--ingest", broker.ingest, "--to", "alice",
                 "--event", "price", "--data", '{"v":1}', "--receipt", "30",
                 "--key", "price:EURUSD"], capture_output=True, timeout=10)
            self.assertEqual(push.returncode, 0, push.stderr)
            producer.send("alice", "price", {"v": 2}, key="price:EURUSD")
            producer.send("alice", "note", {"v": 3})
            live = await ws_recv_events(ws, 3)
            await ws.close()
            # proves: keyed events (three frames on the wire) and an
            # unkeyed one reach the browser live, in order, as sent
            self.assertEqual([e["data"]["v"] for e in live], [1, 2, 3])
            ws, welcome = await ws_connect(gateway.url, make_token("alice"),
                                           resume={"epoch": welcome["epoch"], "offset": 0})
            replay = await ws_recv_events(ws, 3)
            await ws.close()
            # proves: a resume replays them too (the reply's meta read)
            self.assertTrue(welcome["recovered"])
            self.assertEqual([e["offset"] for e in replay], [e["offset"] for e in live])
        asyncio.run(run())
        # proves: the gateway refused none of them as malformed
        self.assertEqual(metric(gateway.metrics(),
                                'herald_gateway_events_dropped_total{reason="malformed"}'), 0)

    def test_pair_catchup_and_replication(self):
        pair = Pair(pair_timeout_ms=1000)
        self.addCleanup(pair.stop)
        pair.start(0)
        gateway = Gateway(pair)          # its control pings vote the primary active
        self.addCleanup(gateway.stop)
        wait_until(lambda: pair.serving(0), timeout=20, what="the primary, alone, to serve")
        producer = Producer(pair)
        self.addCleanup(producer.close)
        for i in range(6):
            producer.send("alice", "price", {"v": i}, key="k%d" % (i % 2),
                          **({"receipt": 10 + i} if i % 3 == 0 else {}))
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_offset") == 6,
                   what="six events on the primary")
        pair.start(1)
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_catchup_completed_total") >= 1
                   and metric(pair.metrics(0), "herald_broker_pair_lag_events") == 0,
                   timeout=20, what="the backup caught up")
        for i in range(6, 9):
            producer.send("alice", "price", {"v": i}, key="k%d" % (i % 2),
                          **({"receipt": 10 + i} if i % 3 == 0 else {}))
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_offset") == 9
                   and metric(pair.metrics(0), "herald_broker_pair_lag_events") == 0,
                   what="three more events replicated")
        control = Control(pair)
        epoch = control.request({"op": "resume", "user": "nobody"})["epoch"]
        pair.procs[0].kill()
        wait_until(lambda: pair.serving(1), timeout=20, what="the backup to take over")
        reply = self.resume(control, "alice", epoch)
        control.close()
        want = {i + 1: ((FLAG_RECEIPT if i % 3 == 0 else 0) | FLAG_KEY, "k%d" % (i % 2))
                for i in range(9)}
        # proves: on the backup, after the takeover, events from the
        # catch-up (1-6) and from live replication (7-9) keep their flags
        # and keys, under the same epoch
        self.assertEqual(reply["epoch"], epoch)
        self.assertTrue(reply["recovered"])
        self.assertEqual(meta_of(reply), want)


if __name__ == "__main__":
    unittest.main()
