"""test_push_confirm.py -- herald-push --confirm: what it sends, retries and prints.

A real herald-broker for the happy path (offsets printed, the same key
answered duplicate), and ROUTER sockets standing in for brokers where the
test must choose the answers: an attempt left unanswered is sent again
with the same bytes (so the same idempotency key); a pair's silent primary
is left for the backup, whose passive refusals are retried there until it
answers; busy is retried; answers are matched to their events whatever
their order; a refusal is reported with its reason (exit 1); an event never
answered within --timeout is named with its key (exit 3) and the lines
after it are not sent.
"""
import json
import os
import subprocess
import time
import unittest

import msgpack
import zmq

from harness import BIN, Broker, free_port, subscribe, recv_published, parse_published

PUSH = os.path.join(BIN, "herald-push")


def start_push(args):
    return subprocess.Popen([PUSH, "--confirm"] + args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc, stdin_text=None, timeout=30):
    out, err = proc.communicate(stdin_text.encode() if stdin_text else None, timeout=timeout)
    return proc.returncode, [json.loads(line) for line in out.decode().splitlines()], err.decode()


class FakeBroker:
    """A ROUTER on a free port that hands each request to the test:
    recv() -> (routing frames, request dict); answer(routing, dict)."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.endpoint)

    def recv(self, timeout_ms=10000):
        if not self.sock.poll(timeout_ms):
            raise AssertionError("no request within %d ms" % timeout_ms)
        frames = self.sock.recv_multipart()
        return frames[:-1], msgpack.unpackb(frames[-1], raw=False)

    def quiet(self, ms):
        """True when no request arrives for ms."""
        return not self.sock.poll(ms)

    def answer(self, routing, reply):
        self.sock.send_multipart(routing + [msgpack.packb(reply)])

    def close(self):
        self.sock.close()


EPOCH = "00000000000000ab"


class AgainstBroker(unittest.TestCase):
    def test_confirmed_offsets_and_duplicates(self):
        broker = Broker()
        self.addCleanup(broker.stop)
        sub, _ = subscribe(broker, "alice")
        self.addCleanup(sub.close)
        rc, out, err = finish(start_push(["--control", broker.control, "--to", "alice",
                                          "--event", "bid", "--idempotency-key", "k-1"]))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out), 1)
        first = out[0]
        self.assertEqual(set(first), {"offset", "epoch", "idempotency_key"}, first)
        self.assertEqual(first["idempotency_key"], "k-1")
        rc, again, err = finish(start_push(["--control", broker.control, "--to", "alice",
                                            "--event", "bid", "--idempotency-key", "k-1"]))
        self.assertEqual(rc, 0, err)
        self.assertEqual(again, [dict(first, duplicate=True)], "the same key: the first offset")
        lines = "".join(json.dumps({"to": "alice", "event": "n", "data": i}) + "\n"
                        for i in range(50))
        rc, out, err = finish(start_push(["--control", broker.control, "-"]), lines)
        self.assertEqual(rc, 0, err)
        self.assertEqual([a["line"] for a in out], list(range(1, 51)))
        self.assertEqual(len({a["idempotency_key"] for a in out}), 50, "a key per line")
        self.assertTrue(all(a["idempotency_key"].startswith("hp-") for a in out))
        offsets = [a["offset"] for a in out]
        self.assertEqual(offsets, list(range(first["offset"] + 1, first["offset"] + 51)))
        got = []
        sub.setsockopt(zmq.RCVTIMEO, 5000)
        while len(got) < 51:
            kind, _, offset, _, body = parse_published(recv_published(sub))
            if kind == b"E":
                got.append(offset)
        self.assertEqual(got, [first["offset"]] + offsets, "each event routed once")

    def test_refused_and_flag_errors(self):
        broker = Broker()
        self.addCleanup(broker.stop)
        # herald-push warns about the size but sends; the broker refuses it
        rc, out, err = finish(start_push(["--control", broker.control, "--to", "alice",
                                          "--event", "bid", "--data", json.dumps("x" * 70000)]))
        self.assertEqual((rc, out), (1, []))
        self.assertIn("refused by the broker: invalid (too_large)", err)
        r = subprocess.run([PUSH, "--confirm", "--ingest", broker.ingest, "--to", "a",
                            "--event", "e"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--control", r.stderr)
        r = subprocess.run([PUSH, "--control", broker.control, "--to", "a", "--event", "e"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--confirm", r.stderr)


class AgainstFakes(unittest.TestCase):
    def fake(self):
        f = FakeBroker()
        self.addCleanup(f.close)
        return f

    def test_unanswered_attempt_sent_again_with_the_same_key(self):
        b = self.fake()
        proc = start_push(["--control", b.endpoint, "--to", "alice", "--event", "bid",
                           "--id", "x-1"])
        routing, first = b.recv()
        self.assertEqual(first["op"], "publish")
        self.assertEqual(first["to"], ["alice"])
        self.assertTrue(first["idempotency_key"].startswith("hp-"), first)
        t0 = time.monotonic()
        routing2, second = b.recv()          # no answer: sent again
        self.assertGreater(time.monotonic() - t0, 1.0, "after the attempt timeout")
        self.assertEqual(second, first, "the same request, key and all")
        b.answer(routing2, {"offset": 7, "epoch": EPOCH, "duplicate": True})
        b.answer(routing, {"offset": 7, "epoch": EPOCH})   # a late answer is ignored
        rc, out, err = finish(proc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, [{"offset": 7, "epoch": EPOCH, "duplicate": True,
                                "idempotency_key": first["idempotency_key"]}])

    def test_pair_silent_primary_passive_backup(self):
        primary, backup = self.fake(), self.fake()
        proc = start_push(["--control", primary.endpoint + "," + backup.endpoint,
                           "--to", "alice", "--event", "bid", "--idempotency-key", "pk"])
        _, req = primary.recv()
        self.assertEqual(req["idempotency_key"], "pk")
        # the primary stays silent: the request moves to the backup, whose
        # passive refusals (it is about to take over) are retried there
        for _ in range(3):
            routing, again = backup.recv()
            self.assertEqual(again, req)
            backup.answer(routing, {"error": "passive", "state": "passive"})
        routing, again = backup.recv()
        backup.answer(routing, {"offset": 16777300, "epoch": EPOCH})
        rc, out, err = finish(proc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, [{"offset": 16777300, "epoch": EPOCH, "idempotency_key": "pk"}])
        self.assertTrue(primary.quiet(200), "nothing more went to the silent primary")

    def test_passive_first_endpoint_moves_on(self):
        backup, primary = self.fake(), self.fake()
        proc = start_push(["--control", backup.endpoint + "," + primary.endpoint,
                           "--to", "alice", "--event", "bid"])
        routing, req = backup.recv()
        backup.answer(routing, {"error": "passive", "state": "passive"})
        routing, again = primary.recv(timeout_ms=1000)   # at once, not after a timeout
        self.assertEqual(again, req)
        primary.answer(routing, {"offset": 1, "epoch": EPOCH})
        rc, out, err = finish(proc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out), 1)

    def test_window_busy_and_answers_out_of_order(self):
        b = self.fake()
        proc = start_push(["--control", b.endpoint, "-"])
        proc.stdin.write("".join(json.dumps({"to": "u", "event": "e", "data": i}) + "\n"
                                 for i in range(5)).encode())
        proc.stdin.close()
        reqs = [b.recv() for _ in range(5)]
        self.assertEqual([r["data"] for _, r in reqs], list(range(5)), "in order, all in flight")
        b.answer(reqs[2][0], {"error": "busy"})
        for i in (4, 3, 1, 0):
            b.answer(reqs[i][0], {"offset": 10 + i, "epoch": EPOCH})
        routing, retry = b.recv()
        self.assertEqual(retry, reqs[2][1], "busy: the same request again")
        b.answer(routing, {"offset": 12, "epoch": EPOCH})
        rc, out, err = proc.wait(timeout=10), proc.stdout.read().decode(), proc.stderr.read()
        self.assertEqual(rc, 0, err)
        answers = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(sorted((a["line"], a["offset"]) for a in answers),
                         [(i + 1, 10 + i) for i in range(5)], "each answer to its own line")

    def test_refusal_and_no_answer(self):
        b = self.fake()
        proc = start_push(["--control", b.endpoint, "--timeout", "2", "-"])
        lines = "".join(json.dumps({"to": "u", "event": "e", "data": i}) + "\n" for i in range(3))
        proc.stdin.write(lines.encode())
        proc.stdin.flush()
        reqs = [b.recv() for _ in range(3)]
        b.answer(reqs[0][0], {"offset": 1, "epoch": EPOCH})
        b.answer(reqs[1][0], {"error": "invalid", "reason": "bad_to"})
        # line 3 is never answered: herald-push gives up on it and stops
        # reading, without waiting for the end of its input
        rc, out, err = proc.wait(timeout=20), proc.stdout.read().decode(), proc.stderr.read().decode()
        proc.stdin.close()
        self.assertEqual(rc, 3, err)
        self.assertIn("stopped after line 3", err)
        self.assertEqual([json.loads(line)["line"] for line in out.splitlines()], [1])
        self.assertIn("line 2: refused by the broker: invalid (bad_to)", err)
        self.assertIn("line 3: not confirmed within 2 s (idempotency_key %s)"
                      % reqs[2][1]["idempotency_key"], err)


if __name__ == "__main__":
    unittest.main()
