"""test_fork.py -- a forked child (gunicorn/uWSGI worker, Celery/RQ job) gets its own sockets and keeps the parent's working."""
import json
import os
import subprocess
import sys
import threading
import unittest

from support import HERE, StackCase, fresh_user, harness, herald


def in_child(fn, timeout=20):
    """Runs fn() in a forked child; returns what it wrote (a JSON value)
    and its exit code. The child always ends with os._exit, as a job
    runner's child does, so only what fn flushed itself is sent."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.write(w, json.dumps(fn()).encode())
        except BaseException as e:
            os.write(w, json.dumps({"error": repr(e)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    return json.loads(out), os.waitstatus_to_exitcode(status)


class Fork(StackCase, unittest.TestCase):
    def test_child_notifies_asks_presence_and_flushes_before_os_exit(self):
        user = fresh_user("forky")
        ws = self.ws_for(user)
        self.h.notify(user, "from", "parent-before")    # the parent's sockets exist before the fork
        self.assertEqual(ws.events(1)[0]["data"], "parent-before")

        def child():
            ok = [self.h.notify(user, "from", {"child": n}) for n in range(20)]
            online = self.h.online(user)
            before = self.h.stats()
            flushed = self.h.flush(5)
            return {"ok": all(ok), "online": online, "queued": before["queued"], "flushed": flushed}

        report, code = in_child(child)
        self.assertEqual(code, 0, report)
        self.assertEqual(report, {"ok": True, "online": True, "queued": 20, "flushed": True},
                         "in the child notify queues, presence answers, stats start from zero, "
                         "and flush() writes the queue out before os._exit")
        self.assertEqual([e["data"] for e in ws.events(20)], [{"child": n} for n in range(20)],
                         "all 20 of the child's events reached the websocket")
        self.h.notify(user, "from", "parent-after")
        self.assertEqual(ws.events(1)[0]["data"], "parent-after",
                         "the parent's sockets still work after the fork")
        self.assertEqual(self.h.stats()["queued"], 2, "the child's events are not the parent's")

    def test_child_exit_flushes_at_exit(self):
        user = fresh_user("exiting")
        ws = self.ws_for(user)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        out = subprocess.run([sys.executable, os.path.join(HERE, "fork_exit_child.py"),
                              self.stack.broker.ingest, self.stack.broker.control, user, "10"],
                             capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = {d["who"]: d for d in map(json.loads, out.stdout.splitlines())}
        self.assertEqual(lines["child"]["stats"]["queued"], 10, "the child counted its own events")
        self.assertEqual(lines["parent"], {"who": "parent", "child_status": 0, "after": True})
        got = sorted((e["data"] for e in ws.events(12)), key=json.dumps)
        self.assertEqual(got, sorted(["parent", "parent-after"] + [{"child": n} for n in range(10)],
                                     key=json.dumps),
                         "a child that exits normally flushes its queue at exit")

    def test_fork_while_another_thread_sends(self):
        # another thread is inside notify (holding the client's locks) at
        # fork time: the child must not inherit a held lock and hang
        user = fresh_user("busy")
        ws = self.ws_for(user)
        stop = threading.Event()

        def spam():
            while not stop.is_set():
                try:
                    self.h.notify(user, "spam", None)
                except herald.QueueFull:
                    stop.wait(0.01)    # the websocket client reads slower than this loop sends
        t = threading.Thread(target=spam)
        t.start()
        try:
            for i in range(5):
                report, code = in_child(lambda: {"ok": self.h.notify(user, "child", i),
                                                 "flushed": self.h.flush(5),
                                                 "online": self.h.online(user)})
                self.assertEqual((code, report), (0, {"ok": True, "flushed": True, "online": True}))
        finally:
            stop.set()
            t.join()
        children = set()
        while len(children) < 5:
            ev = ws.next_frame()
            if ev.get("event") == "child":
                children.add(ev["data"])
        self.assertEqual(children, set(range(5)), "every child's event arrived")


if __name__ == "__main__":
    unittest.main()
