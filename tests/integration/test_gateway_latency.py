"""test_gateway_latency.py -- the broker's accept time travels with each
event (publish header, history, resume replies) and every gateway counts
accept -> written to the socket in herald_gateway_delivery_seconds, live and
replayed events apart; the broker's herald_broker_route_seconds counts
accept -> published."""
import re
import time
import unittest

from harness import (Control, Producer, make_token, metric, parse_at, parse_published, recv_published,
                     run_async, start_broker_and_gateways, subscribe, wait_until, ws_connect,
                     ws_recv_events)

BOUNDS = ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
          "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


def histogram(text, name, labels=""):
    """(buckets as [(le, count)] in the order exposed, sum, count) of one
    histogram series in Prometheus text; labels is the label text before le
    ('kind="live"') or ''."""
    text = text.decode()
    sep = labels + "," if labels else ""
    buckets = re.findall(r'^%s_bucket\{%sle="([^"]+)"\} (\d+)$' % (name, re.escape(sep)), text, re.M)
    suffix = r"\{%s\}" % re.escape(labels) if labels else ""
    total = re.search(r"^%s_sum%s (\S+)$" % (name, suffix), text, re.M)
    count = re.search(r"^%s_count%s (\d+)$" % (name, suffix), text, re.M)
    assert total and count, "no %s{%s} in /metrics" % (name, labels)
    return [(le, int(n)) for le, n in buckets], float(total.group(1)), int(count.group(1))


def now_us():
    return int(time.time() * 1e6)


@run_async
class GatewayLatency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker, (cls.gateway,) = start_broker_and_gateways(1)
        cls.producer = Producer(cls.broker)

    @classmethod
    def tearDownClass(cls):
        cls.producer.close()
        cls.gateway.stop()
        cls.broker.stop()

    def delivery(self, kind):
        return histogram(self.gateway.metrics(), "herald_gateway_delivery_seconds",
                         'kind="%s"' % kind)

    def check_shape(self, buckets, total, count):
        self.assertEqual([le for le, _ in buckets], BOUNDS,
                         "the buckets resolve 0.1 ms to 10 s, then +Inf, in order")
        values = [n for _, n in buckets]
        self.assertEqual(values, sorted(values), "buckets are cumulative: never decreasing")
        self.assertEqual(values[-1], count, "+Inf holds every observation: the count")

    def test_header_and_resume_carry_accept_time(self):
        sub, _ = subscribe(self.broker, "lat-raw")
        before = now_us()
        self.producer.send("lat-raw", "ping", {"n": 1})
        frames = recv_published(sub)
        after = now_us()
        self.assertEqual(parse_published(frames)[0], b"E")
        at = parse_at(frames)
        # proves: the header's at is the broker's wall clock when it accepted
        # the event (same host: within the send -> receive window)
        self.assertTrue(before - 1000 <= at <= after + 1000, (before, at, after))
        sub.close()
        control = Control(self.broker)
        reply = control.request({"op": "resume", "user": "lat-raw", "epoch": "%016x" % parse_published(frames)[1],
                                 "offset": 0, "rid": 1})
        control.close()
        # proves: a resume reply carries each event's original accept time in
        # "at", parallel to "events" (still [offset, json] pairs)
        self.assertEqual([len(e) for e in reply["events"]], [2])
        self.assertEqual(reply["at"], [at])

    async def test_live_and_replayed_deliveries_are_counted(self):
        n = 20
        live_before = self.delivery("live")[2]
        ws, welcome = await ws_connect(self.gateway.url, make_token("lat-a"))
        for i in range(n):
            self.producer.send("lat-a", "tick", {"i": i})
        got = await ws_recv_events(ws, n)
        wait_until(lambda: self.delivery("live")[2] == live_before + n,
                   what="the gateway counted %d live deliveries" % n)
        buckets, total, count = self.delivery("live")
        # proves: each of the N events written to the socket is one
        # observation, with a positive sum (accept -> write takes time)
        self.assertEqual(count, live_before + n)
        self.assertGreater(total, 0)
        self.check_shape(buckets, total, count)
        # on one host the latency is well under 10 s: nothing lands in +Inf alone
        self.assertEqual(dict(buckets)["10"], count)

        route, rtotal, rcount = histogram(self.broker.metrics(), "herald_broker_route_seconds")
        # proves: the broker counts accept -> published for each of them
        self.assertGreaterEqual(rcount, n)
        self.check_shape(route, rtotal, rcount)

        # away: three events stored while the user is offline, then a resume
        await ws.close()
        wait_until(lambda: b"herald_gateway_users 0\n" in self.gateway.metrics(),
                   what="the gateway dropped the closed connection's user")
        replay_before = self.delivery("replay")[2]
        for i in range(3):
            self.producer.send("lat-a", "missed", {"i": i})
        last = got[-1]["offset"] + 3
        wait_until(lambda: metric(self.broker.metrics(), "herald_broker_offset") >= last,
                   what="the broker accepted the three missed events")
        ws, welcome2 = await ws_connect(self.gateway.url, make_token("lat-a"),
                                        resume={"epoch": welcome["epoch"], "offset": got[-1]["offset"]})
        self.assertTrue(welcome2["recovered"])
        missed = await ws_recv_events(ws, 3)
        self.assertEqual([e["data"]["i"] for e in missed], [0, 1, 2])
        wait_until(lambda: self.delivery("replay")[2] == replay_before + 3,
                   what="the gateway counted the 3 replayed deliveries")
        buckets, total, count = self.delivery("replay")
        # proves: replayed (resumed) events are counted too, apart from live
        # ones, from their original accept time
        self.check_shape(buckets, total, count)
        self.assertGreater(total, 0)
        self.assertEqual(self.delivery("live")[2], live_before + n,
                         "the replay did not count as live deliveries")
        # a broadcast reaches the connection live, from its own accept time
        self.producer.broadcast("hello", {"all": True})
        await ws_recv_events(ws, 1)
        wait_until(lambda: self.delivery("live")[2] == live_before + n + 1,
                   what="the broadcast counted as a live delivery")
        await ws.close()
        # the clocks are one: nothing was stamped in the gateway's future
        self.assertIn(b"herald_gateway_delivery_clock_skew_total 0\n", self.gateway.metrics())


if __name__ == "__main__":
    unittest.main()
