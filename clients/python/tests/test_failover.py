"""test_failover.py -- given a hot standby pair "EP1,EP2", the client follows a takeover by itself.

A real primary and backup (harness.Pair) and a gateway of both; the
primary is killed with SIGKILL while a browser is connected. The client's
next control request moves to the backup (and is part of the vote that
makes it active), and notify goes to the broker that now binds ingest.
"""
import unittest

from support import SECRET, WsClient, fresh_user, harness, herald


class Failover(unittest.TestCase):
    def test_presence_and_notify_across_a_takeover(self):
        pair = harness.Pair(pair_timeout_ms=1000)
        gateway = None
        ws = None
        h = herald.Herald(ingest=pair.ingest, control=pair.control, secret=SECRET,
                          control_timeout_ms=1000)
        try:
            pair.start_both()
            gateway = harness.Gateway(pair)
            user = fresh_user("pair")
            ws = WsClient(gateway.url, h.token(user, ttl=300))
            self.assertEqual(ws.welcome()["user"], user)
            harness.wait_until(lambda: h.online(user), what="online at the primary")
            self.assertTrue(h.notify(user, "bid", "before"))
            self.assertEqual(ws.events(1)[0]["data"], "before")
            before = h.notify(user, "bid", "confirmed-before", confirm=True)
            self.assertEqual(ws.events(1)[0]["data"], "confirmed-before")

            pair.procs[0].kill()
            # the first request after the kill must not fail: it moves to the backup
            self.assertIn(h.presence([user])[user], (True, False))
            harness.wait_until(lambda: pair.serving(1), timeout=20, what="the backup to serve")
            harness.wait_until(lambda: h.online(user), timeout=20,
                               what="the gateway's user online at the backup")
            after = h.notify(user, "bid", "confirmed-after", confirm=True)
            self.assertEqual(after["epoch"], before["epoch"], "a takeover keeps the epoch")
            self.assertGreater(after["offset"], before["offset"])
            self.assertTrue(h.notify(user, "bid", "after"))
            got = [e["data"] for e in ws.events(2, timeout=20)]
            self.assertEqual(got, ["confirmed-after", "after"],
                             "events after the takeover reach the browser through the backup")
        finally:
            h.close(1)
            if ws:
                ws.close()
            if gateway:
                gateway.stop()
            pair.stop()


if __name__ == "__main__":
    unittest.main()
