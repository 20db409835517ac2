"""test_broker_down.py -- with no broker, notify never blocks: a bounded queue, then QueueFull or a counted drop."""
import unittest

from support import fresh_user, harness, herald


def down():
    return "tcp://127.0.0.1:%d" % harness.free_port()   # nothing listens there


class BrokerDown(unittest.TestCase):
    HWM = 50

    def fill(self, h, limit):
        """Queues until notify stops taking events: (count, what stopped it)."""
        for n in range(limit):
            try:
                if not h.notify("nobody", "x", "y" * 100):
                    return n, False
            except herald.QueueFull as e:
                return n, e
        return limit, None

    def test_full_queue_raises_queue_full(self):
        h = herald.Herald(ingest=down(), send_hwm=self.HWM)
        try:
            queued, stop = self.fill(h, self.HWM * 40)
            self.assertIsInstance(stop, herald.QueueFull, "a full queue raises QueueFull")
            self.assertEqual(queued, self.HWM, "exactly send_hwm events were queued (ZeroMQ takes "
                             "none while no broker is connected)")
            self.assertIn("is the broker running?", str(stop))
            self.assertFalse(h.close(0.2), "close reports events it could not deliver")
            self.assertEqual(h.stats()["dropped"] + h.stats()["sent"], self.HWM,
                             "what was queued was either handed to ZeroMQ or counted as dropped")
        finally:
            h.close(0)

    def test_full_queue_drops_with_on_full_drop(self):
        h = herald.Herald(ingest=down(), send_hwm=self.HWM, on_full="drop")
        try:
            queued, stop = self.fill(h, self.HWM * 40)
            self.assertIs(stop, False, "on_full='drop' returns False instead of raising")
            self.assertEqual(queued, self.HWM)
            for _ in range(9):
                h.notify("nobody", "x", None)
            self.assertEqual(h.stats()["dropped"], 10, "every refused event is counted")
        finally:
            h.close(0)

    def test_byte_bound(self):
        h = herald.Herald(ingest=down(), send_queue_bytes=64 * 1024, max_event_bytes=65536)
        try:
            queued, stop = self.fill_big(h)
            self.assertIsInstance(stop, herald.QueueFull)
            self.assertEqual(queued, 2, "the queue's byte bound counts envelope bytes")
        finally:
            h.close(0)

    def fill_big(self, h):
        for n in range(100):
            try:
                h.notify("nobody", "x", "z" * 30000)
            except herald.QueueFull as e:
                return n, e
        return 100, None

    def test_events_queued_while_down_are_delivered(self):
        ports = {k: harness.free_port() for k in ("ingest", "publish", "control", "undelivered", "http")}
        h = herald.Herald(ingest="tcp://127.0.0.1:%d" % ports["ingest"])
        try:
            user = fresh_user("later")
            for n in range(5):
                self.assertTrue(h.notify(user, "x", n))
            broker = harness.Broker(ports=ports)
            try:
                harness.wait_until(
                    lambda: harness.metric(broker.metrics(), "herald_broker_events_accepted_total") == 5,
                    what="the 5 queued events accepted once the broker is up")
                self.assertTrue(h.flush(5))
            finally:
                broker.stop()
        finally:
            h.close(0)

    def test_close_returns_promptly_with_no_broker(self):
        # bounded by linger: exit never hangs on a dead broker
        h = herald.Herald(ingest=down(), linger_ms=100)
        h.notify("nobody", "x", None)
        self.assertFalse(h.close(), "the event could not be delivered, and close says so")
        self.assertTrue(h.notify("nobody", "x", None), "a closed client reopens on the next call")
        h.close(0)


if __name__ == "__main__":
    unittest.main()
