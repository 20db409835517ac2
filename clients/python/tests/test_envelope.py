"""test_envelope.py -- the envelope the client builds, and that its checks are the broker's.

The unit half checks what build/pack make of Python values. The
conformance half sends the same envelopes, built by hand so the client's
checks are bypassed, to a real broker's control op publish, which answers
each with the broker's own verdict ({"error":"invalid","reason":R} or an
offset): every envelope the client refuses the broker refuses too, and
every edge case the client accepts the broker accepts.
"""
import datetime
import decimal
import enum
import unittest
import uuid

import msgpack

from support import harness, herald

env_build = herald.envelope.build
env_pack = herald.envelope.pack


def packed(*args, **kwargs):
    return msgpack.unpackb(env_pack(env_build(*args, **kwargs)), raw=False, strict_map_key=False)


class Colour(enum.Enum):
    RED = "red"


class Unit(unittest.TestCase):
    def test_fields_and_optional_keys(self):
        self.assertEqual(packed("bid", to="carol", data={"amount": 120}, event_id="b-1", ttl=30,
                                idempotency_key="k"),
                         {"event": "bid", "to": "carol", "data": {"amount": 120}, "id": "b-1",
                          "ttl": 30, "idempotency_key": "k"})
        self.assertEqual(packed("x", to=["a", "b", "a"]), {"event": "x", "to": ["a", "b"]},
                         "no data/id/ttl keys unless given; a recipient listed twice is sent once")
        self.assertEqual(packed("x", channel="order:17"), {"event": "x", "channel": "order:17"})
        self.assertEqual(packed("x", broadcast=True), {"event": "x", "broadcast": True})
        self.assertEqual(packed("x", to=7), {"event": "x", "to": "7"}, "int ids become their text")

    def test_data_conversions(self):
        when = datetime.datetime(2026, 12, 2, 15, 0, tzinfo=datetime.timezone.utc)
        u = uuid.UUID(int=1)
        data = {"at": when, "day": when.date(), "price": decimal.Decimal("1.10"), "id": u,
                "colour": Colour.RED, "tags": ("a", "b"), "set": {1}, "raw": b"\x00\xff", 1: None}
        self.assertEqual(packed("x", to="a", data=data)["data"],
                         {"at": "2026-12-02T15:00:00+00:00", "day": "2026-12-02", "price": "1.10",
                          "id": str(u), "colour": "red", "tags": ["a", "b"], "set": [1],
                          "raw": b"\x00\xff", 1: None})

        class Model:
            def __init__(self, pk):
                self.pk = pk
        self.assertEqual(packed("x", to="a", data={"m": Model(3)},
                                default=lambda o: {"pk": o.pk})["data"], {"m": {"pk": 3}},
                         "default= converts what the client does not know (a Django model)")

    def test_bad_types_raise_type_error(self):
        cases = [lambda: env_build(7, to="a"),
                 lambda: env_build("x", to=b"bytes"),
                 lambda: env_build("x", to=[None]),
                 lambda: env_build("x", to={"a": 1}),
                 lambda: env_build("x", to="a", data=object()),
                 lambda: env_build("x", to="a", data={("t",): 1}),
                 lambda: env_build("x", to="a", ttl="10"),
                 lambda: env_build("x", to="a", ttl=True),
                 lambda: env_build("x", to="a", event_id=1.5),
                 lambda: env_build("x", channel=17)]
        for i, case in enumerate(cases):
            with self.assertRaises(TypeError, msg="case %d" % i):
                case()

    def test_addressing_needs_exactly_one(self):
        for kwargs in ({}, {"to": "a", "channel": "c"}, {"to": "a", "broadcast": True}):
            with self.assertRaises(ValueError, msg=repr(kwargs)):
                env_build("x", **kwargs)

    def test_nesting_and_cycles(self):
        deep = []
        for _ in range(herald.envelope.DATA_DEPTH_MAX - 1):
            deep = [deep]
        env_build("x", to="a", data=deep)    # 31 containers: the broker's limit
        with self.assertRaises(ValueError):
            env_build("x", to="a", data=[deep])
        loop = []
        loop.append(loop)
        with self.assertRaises(ValueError, msg="a cycle is refused, not a RecursionError"):
            env_build("x", to="a", data=loop)


def raw_too_deep():
    deep = "leaf"
    for _ in range(herald.envelope.DATA_DEPTH_MAX + 1):
        deep = [deep]
    return deep


# (client call arguments to build(), the same envelope by hand, broker's reason or None)
CASES = [
    (("e" * 64, {"to": "u"}), {"event": "e" * 64, "to": "u"}, None),
    (("e" * 65, {"to": "u"}), {"event": "e" * 65, "to": "u"}, "bad_event"),
    (("", {"to": "u"}), {"event": "", "to": "u"}, "bad_event"),
    (("a b", {"to": "u"}), {"event": "a b", "to": "u"}, "bad_event"),
    (("é", {"to": "u"}), {"event": "é", "to": "u"}, "bad_event"),
    (("x", {"to": "u" * 128}), {"event": "x", "to": "u" * 128}, None),
    (("x", {"to": "é" * 64}), {"event": "x", "to": "é" * 64}, None),
    (("x", {"to": "u" * 129}), {"event": "x", "to": "u" * 129}, "bad_user"),
    (("x", {"to": "é" * 65}), {"event": "x", "to": "é" * 65}, "bad_user"),
    (("x", {"to": ""}), {"event": "x", "to": ""}, "bad_user"),
    (("x", {"to": "a\nb"}), {"event": "x", "to": "a\nb"}, "bad_user"),
    (("x", {"to": "a\x7fb"}), {"event": "x", "to": "a\x7fb"}, "bad_user"),
    (("x", {"to": "a\u0085b"}), {"event": "x", "to": "a\u0085b"}, "bad_user"),
    (("x", {"to": "a\u00a0b"}), {"event": "x", "to": "a\u00a0b"}, None),
    (("x", {"to": []}), {"event": "x", "to": []}, "bad_to"),
    (("x", {"to": ["u%d" % i for i in range(10000)]}),
     {"event": "x", "to": ["u%d" % i for i in range(10000)]}, None),
    (("x", {"to": ["u%d" % i for i in range(10001)]}),
     {"event": "x", "to": ["u%d" % i for i in range(10001)]}, "bad_to"),
    (("x", {"channel": "a-Z_0.9:@/="}), {"event": "x", "channel": "a-Z_0.9:@/="}, None),
    (("x", {"channel": "c" * 128}), {"event": "x", "channel": "c" * 128}, None),
    (("x", {"channel": "c" * 129}), {"event": "x", "channel": "c" * 129}, "bad_channel"),
    (("x", {"channel": "a b"}), {"event": "x", "channel": "a b"}, "bad_channel"),
    (("x", {"channel": "a*"}), {"event": "x", "channel": "a*"}, "bad_channel"),
    (("x", {"channel": ""}), {"event": "x", "channel": ""}, "bad_channel"),
    (("x", {"to": "u", "channel": "c"}), {"event": "x", "to": "u", "channel": "c"}, "addressing"),
    (("x", {"to": "u", "broadcast": True}), {"event": "x", "to": "u", "broadcast": True},
     "addressing"),
    (("x", {}), {"event": "x"}, "bad_to"),
    (("x", {"to": "u", "event_id": "i" * 128}), {"event": "x", "to": "u", "id": "i" * 128}, None),
    (("x", {"to": "u", "event_id": ""}), {"event": "x", "to": "u", "id": ""}, None),
    (("x", {"to": "u", "event_id": "i" * 129}), {"event": "x", "to": "u", "id": "i" * 129}, "bad_id"),
    (("x", {"to": "u", "ttl": 0}), {"event": "x", "to": "u", "ttl": 0}, None),
    (("x", {"to": "u", "ttl": 2 ** 64 - 1}), {"event": "x", "to": "u", "ttl": 2 ** 64 - 1}, None),
    (("x", {"to": "u", "ttl": -1}), {"event": "x", "to": "u", "ttl": -1}, "bad_ttl"),
    (("x", {"to": "u", "idempotency_key": "k" * 128}),
     {"event": "x", "to": "u", "idempotency_key": "k" * 128}, None),
    (("x", {"to": "u", "idempotency_key": ""}),
     {"event": "x", "to": "u", "idempotency_key": ""}, "bad_idempotency_key"),
    (("x", {"to": "u", "idempotency_key": "k" * 129}),
     {"event": "x", "to": "u", "idempotency_key": "k" * 129}, "bad_idempotency_key"),
    (("x", {"to": "u", "data": raw_too_deep()[0]}), {"event": "x", "to": "u", "data": raw_too_deep()[0]},
     None),
    (("x", {"to": "u", "data": raw_too_deep()}), {"event": "x", "to": "u", "data": raw_too_deep()},
     "not_msgpack"),
    (("x", {"to": "u", "data": "d" * 70000}), {"event": "x", "to": "u", "data": "d" * 70000},
     "too_large"),
]


class Conformance(unittest.TestCase):
    """The client's verdict and the broker's agree on every case."""

    @classmethod
    def setUpClass(cls):
        cls.broker = harness.Broker(idempotency_window=0)
        cls.control = harness.Control(cls.broker)

    def ingest_verdict(self, env):
        """The reason the broker's ingest refused env with, from its counters."""
        rejected = 'herald_broker_events_rejected_total{reason="not_msgpack"}'
        metrics = self.broker.metrics()
        before = harness.metric(metrics, rejected, exact=True)
        received = harness.metric(metrics, "herald_broker_events_received_total")
        producer = harness.Producer(self.broker)
        producer.send_raw(msgpack.packb(env, use_bin_type=True))
        producer.close()
        harness.wait_until(lambda: harness.metric(self.broker.metrics(),
                                                  "herald_broker_events_received_total") > received,
                           what="the pushed envelope received")
        return "not_msgpack" if harness.metric(self.broker.metrics(), rejected, exact=True) > before else None

    @classmethod
    def tearDownClass(cls):
        cls.control.close()
        cls.broker.stop()

    def test_client_and_broker_agree(self):
        for (event, kwargs), by_hand, reason in CASES:
            name = repr(by_hand)[:90]
            try:
                raw = env_pack(env_build(event, **kwargs))
                client_ok = True
                self.assertEqual(msgpack.unpackb(raw, raw=False), by_hand, name)
            except (TypeError, ValueError):
                client_ok = False
            if reason == "not_msgpack":
                # the control socket refuses such nesting before its envelope
                # check ({"error":"not msgpack"}): ask ingest, and its counter
                self.assertEqual(self.ingest_verdict(by_hand), reason, name)
                self.assertFalse(client_ok, name)
                continue
            answer = self.control.request(dict(by_hand, op="publish"))
            if reason is None:
                self.assertIn("offset", answer, "the broker takes %s" % name)
            else:
                self.assertEqual(answer, {"error": "invalid", "reason": reason}, name)
            self.assertEqual(client_ok, reason is None,
                             "the client %s %s as the broker does" % (
                                 "accepts" if client_ok else "refuses", name))


if __name__ == "__main__":
    unittest.main()
