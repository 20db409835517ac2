"""test_broker_idempotency.py -- idempotent and confirmed publishing at the broker.

A real herald-broker driven by a PUSH producer, HTTP POST /message, the
control op publish and a raw SUB socket standing in for a gateway:

- an envelope whose idempotency_key was accepted within --idempotency-window
  is not routed again (counted in herald_broker_duplicates_total), on any
  path (ingest, HTTP Idempotency-Key, control publish), and the window ends;
- --idempotency-bytes bounds the keys: the oldest leave first, counted;
- {"op":"publish"} answers offset and epoch, duplicate:true with the first
  offset, {"error":"invalid","reason":R} for a bad envelope;
- a pair's passive learns the keys of the events it copies: after a
  takeover a retry of a replicated event is answered duplicate, never
  routed twice, and a passive refuses publish with {"error":"passive"};
- with --data-dir the window survives a restart (SIGTERM or kill -9): a
  retry inside the window is answered duplicate with the first offset by
  the restarted broker, a key whose window ended meanwhile is new again, a
  smaller --idempotency-bytes keeps only the newest keys, a new epoch (the
  event store damaged) forgets the keys (their offsets named the old
  epoch's events), and a damaged idempotency store is moved aside.
"""
import glob
import json
import os
import shutil
import tempfile
import time
import unittest

import msgpack
import zmq

from harness import (Broker, Control, Pair, Producer, http_post, metric, parse_published,
                     recv_published, subscribe, wait_until)


def events(sub, idle_ms=300):
    """(offset, body) of every event for a user the SUB gets until it stays
    quiet for idle_ms (the broker has routed what it was sent by then: each
    check below first waits for its counter)."""
    out = []
    sub.setsockopt(zmq.RCVTIMEO, idle_ms)
    try:
        while True:
            kind, _, offset, _, body = parse_published(recv_published(sub))
            if kind == b"E":
                out.append((offset, json.loads(body)))
    except zmq.Again:
        pass
    finally:
        sub.setsockopt(zmq.RCVTIMEO, 5000)
    return out


def counter(broker, name):
    return metric(broker.metrics(), name)


class Idempotency(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(idempotency_window=300)
        self.sub, self.epoch = subscribe(self.broker, "alice")
        self.producer = Producer(self.broker)
        self.control = Control(self.broker)

    def tearDown(self):
        self.control.close()
        self.producer.close()
        self.sub.close()
        self.broker.stop()

    def test_ingest_duplicate_not_routed(self):
        for n in range(3):
            self.producer.send("alice", "bid", {"n": n}, idempotency_key="order-1:bid-1")
        self.producer.send("alice", "bid", {"n": 9}, idempotency_key="order-1:bid-2")
        wait_until(lambda: counter(self.broker, "herald_broker_duplicates_total") == 2,
                   what="two duplicates counted")
        got = events(self.sub)
        self.assertEqual([e["data"]["n"] for _, e in got], [0, 9],
                         "each key routed once: the first envelope of it, then the other key")
        self.assertEqual(counter(self.broker, "herald_broker_events_accepted_total"), 2)
        self.assertEqual(counter(self.broker, "herald_broker_idempotency_keys"), 2)

    def test_control_publish_confirms_and_dedupes(self):
        env = {"op": "publish", "event": "bid", "to": "alice", "data": {"n": 1},
               "idempotency_key": "k-1"}
        first = self.control.request(env)
        self.assertEqual(set(first), {"offset", "epoch"}, first)
        self.assertEqual(first["epoch"], "%016x" % self.epoch)
        again = self.control.request(env)
        self.assertEqual(again, {"offset": first["offset"], "epoch": first["epoch"],
                                 "duplicate": True}, "a retry gets the first offset back")
        # a key first seen on ingest is a duplicate on control too
        self.producer.send("alice", "bid", {"n": 2}, idempotency_key="k-2")
        wait_until(lambda: counter(self.broker, "herald_broker_events_accepted_total") == 2,
                   what="the pushed event accepted")
        dup = self.control.request(dict(env, idempotency_key="k-2"))
        self.assertTrue(dup.get("duplicate"), dup)
        self.assertEqual(dup["offset"], first["offset"] + 1)
        # without a key every publish is a new event
        plain = {k: v for k, v in env.items() if k != "idempotency_key"}
        a, b = self.control.request(plain), self.control.request(plain)
        self.assertEqual(b["offset"], a["offset"] + 1)
        got = events(self.sub)
        self.assertEqual([o for o, _ in got], [first["offset"], first["offset"] + 1,
                                               a["offset"], b["offset"]],
                         "the browser side sees each event once")
        self.assertEqual(counter(self.broker, "herald_broker_confirms_total"), 5)

    def test_control_publish_errors(self):
        cases = [({"op": "publish", "event": "bid"}, "bad_to"),
                 ({"op": "publish", "event": "no spaces", "to": "alice"}, "bad_event"),
                 ({"op": "publish", "event": "bid", "to": "alice", "idempotency_key": ""},
                  "bad_idempotency_key"),
                 ({"op": "publish", "event": "bid", "to": "alice", "idempotency_key": "k" * 129},
                  "bad_idempotency_key"),
                 ({"op": "publish", "event": "bid", "to": "alice", "data": "x" * 70000},
                  "too_large")]
        for req, reason in cases:
            self.assertEqual(self.control.request(req), {"error": "invalid", "reason": reason})
        self.assertEqual(metric(self.broker.metrics(),
                                'herald_broker_confirms_refused_total{reason="invalid"}'),
                         len(cases))
        self.assertEqual(events(self.sub), [], "nothing refused was routed")
        # the control socket still works, and publishes after the errors
        ok = self.control.request({"op": "publish", "event": "bid", "to": "alice"})
        self.assertIn("offset", ok)

    def test_http_idempotency_key(self):
        url = self.broker.http + "/message/bid/alice"
        hdr = {"Idempotency-Key": "http-1"}
        s1, b1 = http_post(url, b'{"n":1}', headers=hdr)
        s2, b2 = http_post(url, b'{"n":2}', headers=hdr)
        self.assertEqual(s1, 200, b1)
        self.assertEqual(s2, 200, b2)
        r1, r2 = json.loads(b1), json.loads(b2)
        self.assertNotIn("duplicate", r1)
        self.assertEqual(r2, {"online": True, "offset": r1["offset"], "duplicate": True})
        # the same key through the control op is the same event
        dup = self.control.request({"op": "publish", "event": "bid", "to": "alice",
                                    "idempotency_key": "http-1"})
        self.assertEqual(dup["offset"], r1["offset"])
        s3, b3 = http_post(url, b'{"n":3}', headers={"Idempotency-Key": "k" * 129})
        self.assertEqual(s3, 400, b3)
        self.assertIn(b"Idempotency-Key", b3)
        got = events(self.sub)
        self.assertEqual([e["data"] for _, e in got], [{"n": 1}], "one event reached the SUB")


class Window(unittest.TestCase):
    def test_window_ends_and_byte_bound(self):
        broker = Broker(idempotency_window=1, idempotency_bytes=4096)
        try:
            control = Control(broker)
            req = {"op": "publish", "event": "bid", "to": "alice", "idempotency_key": "w"}
            first = control.request(req)
            self.assertTrue(control.request(req).get("duplicate"))
            # the sweep empties the window once a second has passed
            wait_until(lambda: metric(broker.metrics(), "herald_broker_idempotency_keys") == 0,
                       timeout=10, what="the key's window to end")
            later = control.request(req)
            self.assertNotIn("duplicate", later, "after its window a key is new again")
            self.assertGreater(later["offset"], first["offset"])
            # 4096 bytes hold fewer than 30 keys: the oldest leave early, counted
            for n in range(60):
                control.request(dict(req, idempotency_key="b-%03d" % n))
            text = broker.metrics()
            self.assertGreater(metric(text, "herald_broker_idempotency_evicted_total"), 0)
            self.assertLessEqual(metric(text, "herald_broker_idempotency_bytes"), 4096)
            self.assertTrue(control.request(dict(req, idempotency_key="b-059")).get("duplicate"))
            self.assertNotIn("duplicate", control.request(dict(req, idempotency_key="b-000")),
                             "an evicted key no longer dedupes (the documented overflow rule)")
            control.close()
        finally:
            broker.stop()


class PairWindow(unittest.TestCase):
    def test_passive_learns_keys_and_refuses(self):
        pair = Pair(pair_timeout_ms=1000)
        try:
            pair.start(1)
            pair.start(0)
            ctl = Control(pair)
            wait_until(lambda: pair.serving(0), timeout=20, what="the primary to serve")
            wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_peer_state") == 4,
                       timeout=20, what="the backup to be passive")
            ctx = zmq.Context.instance()
            passive = ctx.socket(zmq.REQ)
            passive.setsockopt(zmq.LINGER, 0)
            passive.setsockopt(zmq.RCVTIMEO, 3000)
            passive.connect(pair.control.split(",")[1])
            passive.send(msgpack.packb({"op": "publish", "event": "bid", "to": "a"}))
            refused = msgpack.unpackb(passive.recv(), raw=False)
            passive.close()
            self.assertEqual(refused, {"error": "passive", "state": "passive"})
            req = {"op": "publish", "event": "bid", "to": "alice", "idempotency_key": "p-1"}
            first = ctl.request(req)
            wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_lag_events") == 0,
                       what="the passive to acknowledge")
            pair.procs[0].kill()
            # the retry moves to the backup (a passive answer or silence) and
            # is its vote; it holds the key: the same offset, not a new event
            again = ctl.request(req)
            self.assertEqual(again, {"offset": first["offset"], "epoch": first["epoch"],
                                     "duplicate": True})
            new = ctl.request(dict(req, idempotency_key="p-2"))
            self.assertGreater(new["offset"], first["offset"])
            self.assertEqual(metric(pair.metrics(1), "herald_broker_duplicates_total"), 1)
            ctl.close()
        finally:
            pair.stop()


class Persisted(unittest.TestCase):
    """The window in --data-dir (broker/idem_store.c)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-idem-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.broker = None
        self.addCleanup(lambda: self.broker and self.broker.stop())

    def start(self, **flags):
        flags.setdefault("idempotency_window", 300)
        if self.broker:
            self.broker = self.broker.restart(data_dir=self.dir, **flags)
        else:
            self.broker = Broker(data_dir=self.dir, **flags)
        return Control(self.broker)

    def publish(self, control, key, n=0):
        return control.request({"op": "publish", "event": "bid", "to": "alice", "data": {"n": n},
                                "idempotency_key": key})

    def test_restart_keeps_the_window(self):
        control = self.start()
        first = self.publish(control, "k-1")
        producer = Producer(self.broker)
        producer.send("alice", "bid", {"n": 2}, idempotency_key="k-2")
        wait_until(lambda: counter(self.broker, "herald_broker_events_accepted_total") == 2,
                   what="the pushed event accepted")
        producer.close()
        control.close()
        for how in ("SIGTERM", "kill -9"):
            if how == "kill -9":
                self.broker.kill()
            control = self.start()
            self.assertEqual(counter(self.broker, "herald_broker_idempotency_keys"), 2,
                             "%s: both keys restored" % how)
            sub, epoch = subscribe(self.broker, "alice")
            self.assertEqual("%016x" % epoch, first["epoch"], "same epoch on the data dir")
            self.assertEqual(self.publish(control, "k-1"), dict(first, duplicate=True),
                             "%s: the retry of a confirmed event gets its first offset" % how)
            dup = self.publish(control, "k-2")
            self.assertEqual(dup, {"offset": first["offset"] + 1, "epoch": first["epoch"],
                                   "duplicate": True}, "a key first seen on ingest too")
            self.assertEqual(events(sub), [], "%s: nothing routed again" % how)
            sub.close()
            control.close()

    def test_window_ends_across_a_restart(self):
        control = self.start(idempotency_window=2)
        first = self.publish(control, "w-1")
        control.close()
        self.broker.stop()
        time.sleep(2.2)            # the key's 2 s window ends while the broker is down
        control = self.start(idempotency_window=2)
        self.assertEqual(counter(self.broker, "herald_broker_idempotency_keys"), 0)
        again = self.publish(control, "w-1")
        self.assertNotIn("duplicate", again, "a key past its window is new again")
        self.assertGreater(again["offset"], first["offset"])
        control.close()

    def test_smaller_bound_keeps_the_newest(self):
        control = self.start()
        for n in range(60):
            self.publish(control, "b-%03d" % n)
        control.close()
        control = self.start(idempotency_bytes=4096)
        self.assertLess(counter(self.broker, "herald_broker_idempotency_keys"), 30)
        self.assertTrue(self.publish(control, "b-059").get("duplicate"), "the newest key kept")
        self.assertNotIn("duplicate", self.publish(control, "b-000"), "the oldest left")
        control.close()
        control = self.start(idempotency_bytes=4096)
        self.assertNotIn("duplicate", self.publish(control, "b-001"),
                         "what the bound dropped left the disk too")
        control.close()

    def test_new_epoch_forgets_keys(self):
        control = self.start()
        first = self.publish(control, "e-1")
        control.close()
        self.broker.stop()
        with open(os.path.join(self.dir, "data.mdb"), "r+b") as f:
            f.write(b"garbage, not LMDB" * 64)
        control = self.start()
        again = self.publish(control, "e-1")
        self.assertNotEqual(again["epoch"], first["epoch"], "a damaged store starts a new epoch")
        self.assertNotIn("duplicate", again,
                         "the key named an event of the old epoch: it is new in the new one")
        control.close()

    def test_damaged_idempotency_store_moved_aside(self):
        control = self.start()
        self.publish(control, "d-1")
        control.close()
        self.broker.stop()
        with open(os.path.join(self.dir, "idempotency", "data.mdb"), "r+b") as f:
            f.write(b"garbage, not LMDB" * 64)
        control = self.start()
        self.assertIn("idempotency store", self.broker.output())
        self.assertEqual(len(glob.glob(os.path.join(self.dir, "idempotency",
                                                    "data.mdb.damaged-*"))), 1)
        first = self.publish(control, "d-1")
        self.assertNotIn("duplicate", first, "started with no keys")
        self.assertTrue(self.publish(control, "d-1").get("duplicate"), "and keeps new ones")
        control.close()


if __name__ == "__main__":
    unittest.main()
