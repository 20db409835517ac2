"""test_threads.py -- many threads share one client: every event arrives in its thread's order, presence answers each."""
import threading
import unittest

from support import StackCase, fresh_user


class Threads(StackCase, unittest.TestCase):
    THREADS = 6
    PER_THREAD = 40

    def test_many_threads_notify_concurrently(self):
        user = fresh_user("busy")
        ws = self.ws_for(user)
        go = threading.Barrier(self.THREADS)

        def work(t):
            go.wait()
            for i in range(self.PER_THREAD):
                self.h.notify(user, "t", {"t": t, "i": i})
        threads = [threading.Thread(target=work, args=(t,)) for t in range(self.THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = [e["data"] for e in ws.events(self.THREADS * self.PER_THREAD)]
        for t in range(self.THREADS):
            self.assertEqual([d["i"] for d in got if d["t"] == t], list(range(self.PER_THREAD)),
                             "thread %d's events all arrive, in its own order" % t)
        self.assertEqual(self.h.stats()["queued"], self.THREADS * self.PER_THREAD)

    def test_concurrent_presence(self):
        here = fresh_user("here")
        self.ws_for(here)
        answers, errors = [], []
        go = threading.Barrier(8)

        def ask(n):
            go.wait()
            try:
                for _ in range(25):
                    answers.append(self.h.presence([here, "away-%d" % n]))
            except Exception as e:   # reported below, not lost in the thread
                errors.append(e)
        threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(answers), 200)
        self.assertTrue(all(a[here] is True and list(a.values()).count(False) == 1 for a in answers),
                        "every thread got its own answer, never another's")
        self.assertLessEqual(len(self.h._control._idle), 16, "idle control sockets are bounded")


if __name__ == "__main__":
    unittest.main()
