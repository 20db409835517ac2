"""test_e2e_shell.py -- the README's "try it from a shell" walk-through, as a test.

herald-token mints a token, a WebSocket client authenticates with it, and
herald-push (flags form and stdin form) delivers events that arrive with the
right event, data and id. Bad flags and bad lines are refused with a clear
message and a non-zero exit status.
"""
import asyncio
import json
import os
import selectors
import subprocess
import tempfile
import time
import unittest

import msgpack
import zmq

from harness import (BIN, SECRET, Broker, Gateway, free_port, make_token, ws_close_code,
                     ws_connect, ws_recv_events, ws_subscribe)


def tool(name):
    return os.path.join(BIN, name)


def run(argv, stdin=None, env=None, timeout=30):
    """Runs a tool to completion; returns the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.pop("HERALD_SECRET", None)
    full_env.pop("HERALD_SECRET_FILE", None)
    full_env.update(env or {})
    return subprocess.run(argv, input=stdin, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def mint(user, secret=SECRET, extra=()):
    r = run([tool("herald-token"), "--user", user] + list(extra), env={"HERALD_SECRET": secret})
    assert r.returncode == 0, "herald-token failed: %s" % r.stderr
    return r.stdout.strip()


class ShellWalkThrough(unittest.TestCase):

    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.stop)
        self.gateway = Gateway(self.broker)
        self.addCleanup(self.gateway.stop)

    def push(self, *args, stdin=None):
        return run([tool("herald-push"), "--ingest", self.broker.ingest] + list(args), stdin=stdin)

    def test_token_then_push_flags(self):
        async def body():
            token = mint("alice")
            self.assertEqual(token.count("."), 2, "herald-token prints a three-part JWT")
            ws, welcome = await ws_connect(self.gateway.url, token)
            self.assertEqual(welcome["user"], "alice",
                             "the gateway accepted herald-token's token as alice")
            r = self.push("--to", "alice,bob", "--event", "bid",
                          "--data", '{"amount":120,"vendor":"v7","ratio":0.5,"tags":["a",null,true]}',
                          "--id", "b-991", "--ttl", "60")
            self.assertEqual(r.returncode, 0, "herald-push with good flags succeeds: " + r.stderr)
            [ev] = await ws_recv_events(ws, 1)
            self.assertEqual(ev["event"], "bid", "the event name arrives as given")
            self.assertEqual(ev["data"], {"amount": 120, "vendor": "v7", "ratio": 0.5,
                                          "tags": ["a", None, True]},
                             "the JSON data arrives intact")
            self.assertIsInstance(ev["data"]["amount"], int, "integers stay integers")
            self.assertEqual(ev["id"], "b-991", "the producer's id is passed through")
            self.assertGreater(ev["offset"], welcome["offset"],
                               "the event's offset follows the welcome's")
            await ws.close()
        asyncio.run(body())

    def test_push_stdin_with_a_bad_line(self):
        lines = [
            json.dumps({"to": "alice", "event": "bid", "data": {"amount": 1}, "id": "s-1"}),
            json.dumps({"to": ["alice", "carol"], "event": "bad name", "data": 2}),
            json.dumps({"to": "alice", "event": "negotiate", "data": "please", "id": "s-2"}),
            "this is not json",
            "",
            json.dumps({"to": ["alice"], "event": "confirm", "data": [1, 2.5, None], "ttl": 0}),
        ]
        async def body():
            ws, _ = await ws_connect(self.gateway.url, mint("alice"))
            r = self.push("-", stdin="\n".join(lines) + "\n")
            self.assertNotEqual(r.returncode, 0, "a bad line makes the exit status non-zero")
            self.assertIn("line 2", r.stderr, "the bad event name is reported with its line number")
            self.assertIn("line 4", r.stderr, "the non-JSON line is reported with its line number")
            self.assertNotIn("line 5", r.stderr, "a blank line is not an error")
            evs = await ws_recv_events(ws, 3)
            self.assertEqual([(e["event"], e["data"], e.get("id")) for e in evs],
                             [("bid", {"amount": 1}, "s-1"),
                              ("negotiate", "please", "s-2"),
                              ("confirm", [1, 2.5, None], None)],
                             "every good line arrives, in order, with its data and id")
            # Nothing else was sent: the next event alice sees is a fresh sentinel.
            self.assertEqual(self.push("--to", "alice", "--event", "sentinel").returncode, 0)
            [ev] = await ws_recv_events(ws, 1)
            self.assertEqual(ev["event"], "sentinel", "the bad lines produced no event")
            await ws.close()
        asyncio.run(body())

    def test_push_channel_and_broadcast_delivered(self):
        async def body():
            sub, _ = await ws_connect(self.gateway.url,
                                      make_token("vendor", claims={"channels": ["order:*"]}))
            other, _ = await ws_connect(self.gateway.url, make_token("bystander"))
            answer = await ws_subscribe(sub, "order:17")
            self.assertEqual(answer["type"], "subscribed", answer)
            r = self.push("--channel", "order:17", "--event", "bid", "--data", '{"n":1}')
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run([tool("herald-push"), "--confirm", "--control", self.broker.control,
                     "--channel", "order:17", "--event", "bid", "--data", '{"n":2}'])
            self.assertEqual(r.returncode, 0, r.stderr)
            confirmed = json.loads(r.stdout)
            # ingest and control are two sockets: either event may be routed first
            got = sorted(await ws_recv_events(sub, 2), key=lambda e: e["data"]["n"])
            self.assertEqual([(e["channel"], e["data"]["n"]) for e in got],
                             [("order:17", 1), ("order:17", 2)], "the channel's events")
            self.assertEqual(got[1]["offset"], confirmed["offset"], "at the confirmed offset")
            r = self.push("--broadcast", "--event", "banner")
            self.assertEqual(r.returncode, 0, r.stderr)
            for ws in (sub, other):
                [ev] = await ws_recv_events(ws, 1)
                self.assertEqual((ev["event"], ev.get("broadcast")), ("banner", True),
                                 "a broadcast reaches every connection, once")
            await sub.close()
            await other.close()
        asyncio.run(body())

    def test_push_refuses_bad_flags(self):
        bad = [
            (["--to", "alice", "--event", "bad name"], "event"),
            (["--to", "alice,,bob", "--event", "x"], "user id"),
            (["--to", "alice"], "--event"),
            (["--event", "x"], "--to"),
            (["--to", "alice", "--event", "x", "--data", "{nope"], "JSON"),
            (["--to", "alice", "--event", "x", "--ttl", "-1"], "ttl"),
            (["--to", "alice", "--event", "x", "--ttl", "soon"], "ttl"),
            (["--to", "alice", "--event", "x", "--id", "i" * 129], "id"),
            (["--to", "alice", "--event", "e" * 65], "event"),
            (["--to", "alice", "--event", "x", "--data", "[" * 32 + "]" * 32], "nests"),
            (["--channel", "no spaces", "--event", "x"], "channel"),
            (["--to", "alice", "--channel", "c", "--event", "x"], "one of"),
            (["--broadcast", "--channel", "c", "--event", "x"], "one of"),
            (["--to", "alice", "--event", "x", "--idempotency-key", ""], "idempotency"),
            (["--to", "alice", "--event", "x", "--idempotency-key", "k" * 129], "idempotency"),
            (["--bogus"], "--bogus"),
            (["-", "--to", "alice"], "stdin"),
            ([], "Usage"),
        ]
        async def body():
            ws, _ = await ws_connect(self.gateway.url, mint("alice"))
            for argv, hint in bad:
                r = self.push(*argv)
                self.assertNotEqual(r.returncode, 0, "herald-push %r exits non-zero" % (argv,))
                self.assertIn(hint, r.stderr, "herald-push %r says what is wrong" % (argv,))
            self.assertEqual(self.push("--to", "alice", "--event", "sentinel").returncode, 0)
            [ev] = await ws_recv_events(ws, 1)
            self.assertEqual(ev["event"], "sentinel", "refused commands sent nothing")
            await ws.close()
        asyncio.run(body())

    def test_push_deepest_data_the_broker_takes(self):
        async def body():
            ws, _ = await ws_connect(self.gateway.url, mint("alice"))
            deep = "[" * 31 + "]" * 31
            r = self.push("--to", "alice", "--event", "deep", "--data", deep)
            self.assertEqual(r.returncode, 0, "data nesting 31 arrays is accepted: " + r.stderr)
            [ev] = await ws_recv_events(ws, 1)
            self.assertEqual(json.dumps(ev["data"], separators=(",", ":")), deep,
                             "the deepest data PROTOCOL.md allows arrives whole")
            await ws.close()
        asyncio.run(body())

    def test_push_envelope_is_typed_msgpack(self):
        """The bytes herald-push sends, read by a bare PULL socket in the broker's place."""
        pull = zmq.Context.instance().socket(zmq.PULL)
        self.addCleanup(pull.close, 0)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        pull.setsockopt(zmq.RCVTIMEO, 10000)
        r = run([tool("herald-push"), "--ingest", "tcp://127.0.0.1:%d" % port,
                 "--to", "alice,bob", "--event", "bid", "--id", "b-1", "--ttl", "0",
                 "--data", '{"n":9007199254740993,"neg":-3,"f":1.0,"s":"\\u00e9\\n","l":[false,null]}'])
        self.assertEqual(r.returncode, 0, r.stderr)
        env = msgpack.unpackb(pull.recv(), raw=False)
        self.assertEqual(env, {"event": "bid", "to": ["alice", "bob"], "id": "b-1", "ttl": 0,
                               "data": {"n": 9007199254740993, "neg": -3, "f": 1.0,
                                        "s": "\u00e9\n", "l": [False, None]}},
                         "the envelope holds exactly the fields given")
        self.assertIsInstance(env["data"]["n"], int, "a JSON integer is a msgpack integer, exactly")
        self.assertIsInstance(env["data"]["f"], float, "a JSON real stays a float, even 1.0")

    def test_push_channel_broadcast_and_keys(self):
        """--channel, --broadcast and idempotency keys as herald-push sends them (a bare PULL)."""
        pull = zmq.Context.instance().socket(zmq.PULL)
        self.addCleanup(pull.close, 0)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        pull.setsockopt(zmq.RCVTIMEO, 10000)
        ingest = "tcp://127.0.0.1:%d" % port
        r = run([tool("herald-push"), "--ingest", ingest, "--channel", "order:17", "--event", "bid",
                 "--idempotency-key", "k-1"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(msgpack.unpackb(pull.recv(), raw=False),
                         {"event": "bid", "channel": "order:17", "idempotency_key": "k-1"})
        r = run([tool("herald-push"), "--ingest", ingest, "--broadcast", "--event", "banner",
                 "--data", '"hi"'])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(msgpack.unpackb(pull.recv(), raw=False),
                         {"event": "banner", "broadcast": True, "data": "hi"})
        lines = "\n".join([
            '{"channel":"order:18","event":"bid","idempotency_key":"k-2"}',
            '{"broadcast":true,"event":"banner"}',
            '{"broadcast":false,"event":"banner"}',
            '{"to":"alice","channel":"order:1","event":"bid"}',
            '{"channel":"bad name","event":"bid"}',
            '{"to":"alice","event":"bid","idempotency_key":""}',
        ]) + "\n"
        r = run([tool("herald-push"), "--ingest", ingest, "-"], stdin=lines)
        self.assertEqual(r.returncode, 1, "bad lines make the exit status 1")
        for n, hint in ((3, "broadcast must be true"), (4, "give exactly one of"), (5, "channel must be"),
                        (6, "idempotency_key must be")):
            self.assertIn("line %d: %s" % (n, hint), r.stderr)
        self.assertEqual([msgpack.unpackb(pull.recv(), raw=False) for _ in range(2)],
                         [{"event": "bid", "channel": "order:18", "idempotency_key": "k-2"},
                          {"event": "banner", "broadcast": True}], "the good lines, in order")

    def test_push_gives_up_without_broker(self):
        r = run([tool("herald-push"), "--ingest", "tcp://127.0.0.1:%d" % free_port(),
                 "--timeout", "1", "--to", "alice", "--event", "x"])
        self.assertEqual(r.returncode, 1, "with no broker herald-push fails instead of hanging")
        self.assertIn("no broker", r.stderr, "and says why")

    def test_token_secret_sources(self):
        r = run([tool("herald-token"), "--user", "alice"])
        self.assertNotEqual(r.returncode, 0, "herald-token without a secret fails")
        self.assertIn("HERALD_SECRET", r.stderr, "and says where a secret comes from")
        self.assertEqual(r.stdout, "", "and prints no token")
        r = run([tool("herald-token"), "--user", ""], env={"HERALD_SECRET": SECRET})
        self.assertNotEqual(r.returncode, 0, "an empty user id is refused")
        with tempfile.NamedTemporaryFile("w", suffix=".secret") as f:
            f.write(SECRET + "\n")
            f.flush()
            from_file = mint("alice", secret="ignored-when-a-file-is-given",
                             extra=["--secret-file", f.name])
        self.assertNotIn(SECRET, from_file, "the secret never appears in the output")

        async def body():
            ws, welcome = await ws_connect(self.gateway.url, from_file)
            self.assertEqual(welcome["user"], "alice",
                             "a token signed from --secret-file (trailing newline ignored) is valid")
            await ws.close()
            ws, _ = await ws_connect(self.gateway.url)
            await ws.send(json.dumps({"type": "auth", "token": mint("alice", secret="wrong")}))
            self.assertEqual(await ws_close_code(ws), 4001,
                             "a token signed with another secret is refused with 4001")
        asyncio.run(body())

    def test_herald_listen_walkthrough(self):
        """The README's three shell steps, each a real program."""
        token = mint("dave")
        listen = subprocess.Popen([tool("herald-listen"), "--url", self.gateway.url,
                                   "--token", token, "--count", "1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: listen.poll() is None and listen.kill())
        sel = selectors.DefaultSelector()
        sel.register(listen.stdout, selectors.EVENT_READ)
        lines = []
        deadline = time.monotonic() + 10
        while not lines and time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                lines.append(listen.stdout.readline())
        self.assertTrue(lines, "herald-listen printed the welcome")
        welcome = json.loads(lines[0])
        self.assertEqual((welcome["type"], welcome["user"]), ("welcome", "dave"),
                         "herald-listen authenticated with herald-token's token")
        r = self.push("--to", "dave", "--event", "bid", "--data", '{"amount":5}')
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = listen.communicate(timeout=10)
        self.assertEqual(listen.returncode, 0, "herald-listen exits 0 after --count events: " + err.decode())
        event = json.loads(out.decode().strip().splitlines()[-1])
        self.assertEqual((event["type"], event["event"], event["data"]),
                         ("event", "bid", {"amount": 5}),
                         "herald-listen printed the pushed event")


if __name__ == "__main__":
    unittest.main()
