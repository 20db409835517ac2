"""test_fault_pair_partition.py -- both sides of a network partition of a hot standby pair.

Real processes: a primary and a backup broker (harness.Pair), two gateways
given both endpoints, 200 clients (one user each, 100 per gateway) and a
producer pushing to "A,B" throughout (half the events to one user, half to
ten).

1. The pair link alone is cut (LinkProxy below sits between the brokers'
   pair endpoints; a cut stops forwarding, as lost packets would, and the
   heal resets the connections, as TCP would after them). For the whole
   cut the backup never becomes active: it binds no ingest and no HTTP, and
   the active's metrics show it alone (state active, peer not heard). After
   the heal the active sees its peer passive and in step again (lag 0).
   Then the primary is killed with SIGKILL: the backup takes over with the
   same epoch; no client gets a second welcome; each client gets every
   event meant for it exactly once, in order; and a resume from offset 0
   answers recovered:true exactly when the new active holds every event
   the client got (the truth, whichever it is).
2. The primary is cut off from clients and backup alike (SIGSTOP). The
   gateways' control requests move to the backup and are its vote: it takes
   over. On SIGCONT the old primary must not serve beside it: it hears its
   peer active before it acts and exits with status 3 (broker/README.md,
   "Hot standby pair"), having published nothing more; every client got
   exactly what the survivor's history holds for it. Started again it
   comes back passive.

Events the producer handed to a broker that never accepted them (queued in
the stopped primary's socket) are lost by design (PUSH cannot tell);
"accepted" below means given an offset that some client saw or that the
survivor holds.
"""
import asyncio
import selectors
import signal
import socket
import struct
import threading
import time
import unittest

from harness import (Control, Gateway, PacedProducer, Pair, RecordingClient, metric, wait_until)
from test_fault_pair_kill import ticks

USERS = 200
RATE = 200           # events per second
CUT_S = 4


class LinkProxy(threading.Thread):
    """A TCP proxy on loopback for each direction of the pair link: one
    listening port per upstream port. cut() stops forwarding (bytes stay in
    the kernel's buffers, new connections are held unanswered); heal()
    resets every connection (RST) and forwards again, so both brokers
    reconnect through it."""

    def __init__(self, upstreams):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.ports = []
        self.listeners = []
        for up in upstreams:
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", 0))
            ls.listen(16)
            ls.setblocking(False)
            self.sel.register(ls, selectors.EVENT_READ, ("listen", up))
            self.listeners.append(ls)
            self.ports.append(ls.getsockname()[1])
        self.links = []          # [client side, upstream side]
        self.held = []           # accepted while cut
        self.cut_flag = False
        self.request = None      # "cut" / "heal", done in the thread
        self.done = threading.Event()
        self.stop_flag = False

    def _ask(self, what):
        self.done.clear()
        self.request = what
        assert self.done.wait(5), "the proxy did not %s" % what

    def cut(self):
        self._ask("cut")

    def heal(self):
        self._ask("heal")

    def stop(self):
        self.stop_flag = True
        self.join(5)

    @staticmethod
    def _reset(sock):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sock.close()

    def _drop(self, link):
        for s in link:
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            self._reset(s)
        if link in self.links:
            self.links.remove(link)

    def _apply(self):
        if self.request == "cut":
            self.cut_flag = True
            for link in self.links:
                for s in link:
                    self.sel.unregister(s)
        elif self.request == "heal":
            for link in list(self.links):
                for s in link:
                    self._reset(s)
            self.links = []
            for s in self.held:
                self._reset(s)
            self.held = []
            self.cut_flag = False
        self.request = None
        self.done.set()

    def _accept(self, ls, up):
        conn, _ = ls.accept()
        if self.cut_flag:
            self.held.append(conn)
            return
        upstream = socket.socket()
        try:
            upstream.connect(("127.0.0.1", up))
        except OSError:
            upstream.close()
            self._reset(conn)
            return
        link = [conn, upstream]
        self.links.append(link)
        self.sel.register(conn, selectors.EVENT_READ, ("data", link, upstream))
        self.sel.register(upstream, selectors.EVENT_READ, ("data", link, conn))

    def run(self):
        while not self.stop_flag:
            if self.request:
                self._apply()
            for key, _ in self.sel.select(0.02):
                kind = key.data[0]
                if kind == "listen":
                    self._accept(key.fileobj, key.data[1])
                    continue
                _, link, other = key.data
                if link not in self.links:
                    continue
                try:
                    data = key.fileobj.recv(65536)
                    if data:
                        other.sendall(data)
                        continue
                except OSError:
                    pass
                self._drop(link)
        for link in list(self.links):
            self._drop(link)
        for s in self.held + self.listeners:
            s.close()


def port_open(port):
    """True when something listens on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pair_metric(pair, i, name):
    return metric(pair.metrics(i), name)


class PairChecks:
    """What the pair fault tests share (mixed into a unittest.TestCase)."""

    def start_pair(self, proxy=None, **flags):
        pair = Pair(pair_timeout_ms=1000, history_events=1000, proxy=proxy, **flags)
        self.addCleanup(pair.stop)
        pair.start_both()
        gateways = [Gateway(pair), Gateway(pair)]
        for g in gateways:
            self.addCleanup(g.stop)
        users = ["user-%04d" % i for i in range(USERS)]
        return pair, gateways, users

    async def begin(self, pair, gateways, users, seed):
        """Connects the clients, starts the producer and lets it run 2 s.
        Returns (clients, their epoch, the producer)."""
        clients = [RecordingClient(u, gateways[i % 2]) for i, u in enumerate(users)]
        for i in range(0, len(clients), 100):
            await asyncio.gather(*(c.connect() for c in clients[i:i + 100]))
        pusher = PacedProducer(pair.ingest, RATE, ticks(users), seed=seed)
        pusher.start()
        await asyncio.sleep(2)
        return clients, clients[0].welcomes[0]["epoch"], pusher

    def survivor_history(self, control, users, epoch):
        """Per user: (recovered, offsets) of a resume from 0 on the active."""
        out = {}
        for u in users:
            r = control.request({"op": "resume", "user": u, "epoch": epoch, "offset": 0})
            out[u] = (r["recovered"], [e[0] for e in r["events"]])
        return out

    async def settle(self, clients, history):
        """Waits until every client holds every offset the survivor holds
        for it (or 60 s), then a moment more: a duplicate would arrive too."""
        def missing():
            return sum(len(set(history[c.user][1]) - set(c.offsets)) for c in clients)
        deadline = time.monotonic() + 60
        while missing() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)

    async def await_until(self, cond, seconds, what):
        deadline = time.monotonic() + seconds
        while not cond():
            self.assertLess(time.monotonic(), deadline, what)
            await asyncio.sleep(0.1)

    async def survivor(self, pair, clients, users, epoch):
        """The active's stats and, once the clients have settled, its
        history per user (survivor_history)."""
        control = Control(pair)
        self.addCleanup(control.close)
        stats = control.request({"op": "stats"})
        await self.settle(clients, self.survivor_history(control, users, epoch))
        return stats, self.survivor_history(control, users, epoch)

    def check_exactly_once(self, clients, history):
        """Each client got, in order and once, every accepted event meant
        for it: each offset any client saw with this user among its
        recipients, and each the survivor holds for it."""
        to = {}
        for c in clients:
            to.update(c.to)
        for c in clients:
            self.assertEqual(c.wrong_user, [], "events reach their recipients only")
            self.assertEqual(len(c.welcomes), 1, "%s: no second welcome (same epoch): %r"
                             % (c.user, c.welcomes[1:]))
            self.assertEqual(c.offsets, sorted(set(c.offsets)),
                             "%s: offsets strictly increase (no duplicate)" % c.user)
            expected = {o for o, rcpt in to.items() if c.user in rcpt} | set(history[c.user][1])
            self.assertEqual(c.offsets, sorted(expected),
                             "%s got every accepted event meant for it, once" % c.user)



class PairPartition(PairChecks, unittest.TestCase):

    def test_pair_link_cut_no_split_brain_then_kill9(self):
        proxy_box = []

        def proxy(backup_pair, primary_pair):
            p = LinkProxy([backup_pair, primary_pair])
            p.start()
            proxy_box.append(p)
            return p.ports
        pair, gateways, users = self.start_pair(proxy)
        link = proxy_box[0]
        self.addCleanup(link.stop)
        backup_ingest = pair.ports[1]["ingest"]
        result = {}

        async def body():
            clients, epoch, pusher = await self.begin(pair, gateways, users, 13)
            try:
                link.cut()
                cut_at = time.monotonic()
                seen_alone = False
                while time.monotonic() < cut_at + CUT_S:
                    self.assertFalse(pair.serving(1), "the cut-off backup serves no HTTP")
                    self.assertFalse(port_open(backup_ingest), "the cut-off backup binds no ingest")
                    m = pair.metrics(0)
                    self.assertEqual(metric(m, "herald_broker_pair_state"), 3,
                                     "the primary stays active")
                    seen_alone |= metric(m, "herald_broker_pair_peer_state") == 0
                    await asyncio.sleep(0.2)
                result["seen_alone"] = seen_alone
                result["cut_offset"] = pair_metric(pair, 0, "herald_broker_offset")
                link.heal()

                def in_step():
                    m = pair.metrics(0)
                    return (metric(m, "herald_broker_pair_peer_state") == 4
                            and metric(m, "herald_broker_pair_lag_events") == 0)
                wait_until(in_step, timeout=20, what="the backup to copy in step again")
                self.assertFalse(pair.serving(1), "the healed backup is passive")
                await asyncio.sleep(3)
                result["before"] = pair_metric(pair, 0, "herald_broker_offset")
                pair.procs[0].kill()
                await self.await_until(lambda: pair.serving(1), 30, "the backup took over")
                await asyncio.sleep(3)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, pusher.stop)
            result["stats"], history = await self.survivor(pair, clients, users, epoch)
            result.update(epoch=epoch, clients=clients, history=history, sent=pusher.sent)
            for c in clients:
                await c.close()

        asyncio.run(body())
        stats, clients, history = result["stats"], result["clients"], result["history"]
        recovered = sum(1 for r, _ in history.values() if r)
        print("pushed %d envelopes; cut at offset %d, killed at %d, last %d; %d deliveries; "
              "resume from 0 after the takeover: %d/%d users recovered:true; backup's copy "
              "restarts %d" % (result["sent"], result["cut_offset"], result["before"],
                                stats["herald_broker_offset"], sum(len(c.offsets) for c in clients),
                                recovered, len(history),
                                stats["herald_broker_pair_copy_restarts_total"]))
        self.assertTrue(result["seen_alone"], "the active's metrics showed its peer gone")
        self.assertEqual(stats["herald_broker_pair_state"], 3, "the backup is active")
        self.assertEqual(stats["herald_broker_pair_takeovers_total"], 1)
        self.assertGreater(stats["herald_broker_events_accepted_total"], 0,
                           "the new active accepted events after the takeover")
        self.check_exactly_once(clients, history)
        for c in clients:
            got, held = set(c.offsets), history[c.user]
            self.assertEqual(held[0], got <= set(held[1]),
                             "%s: recovered:%s is the truth (holds %d of the %d it got)"
                             % (c.user, held[0], len(got & set(held[1])), len(got)))
            if held[0]:
                self.assertEqual(held[1], c.offsets, "%s: a true resume holds all" % c.user)

    def test_primary_stopped_backup_takes_over_old_primary_yields(self):
        pair, gateways, users = self.start_pair()
        result = {}

        async def body():
            primary = pair.procs[0]
            result["log_path"] = primary.log_path
            clients, epoch, pusher = await self.begin(pair, gateways, users, 17)
            try:
                primary.signal(signal.SIGSTOP)
                self.addCleanup(primary.signal, signal.SIGCONT)
                await self.await_until(lambda: pair.serving(1), 30,
                                       "the backup took over on the gateways' vote")
                await asyncio.sleep(3)
                primary.signal(signal.SIGCONT)
                await self.await_until(lambda: not primary.alive(), 20, "the old primary stopped")
                result["primary_rc"] = primary.proc.returncode
                primary.stop()        # closes its log (and checks it under the sanitizers)
                await asyncio.sleep(2)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, pusher.stop)
            result["stats"], history = await self.survivor(pair, clients, users, epoch)
            result.update(clients=clients, history=history, sent=pusher.sent)
            pair.start(0)
            wait_until(lambda: pair_metric(pair, 1, "herald_broker_pair_peer_state") == 4,
                       timeout=20, what="the returning primary to be passive")
            result["primary_serving"] = pair.serving(0)
            for c in clients:
                await c.close()

        asyncio.run(body())
        with open(result["log_path"], errors="replace") as f:
            result["log"] = f.read()
        stats, clients, history = result["stats"], result["clients"], result["history"]
        print("pushed %d envelopes; survivor's last offset %d; %d deliveries; old primary "
              "exited %s" % (result["sent"], stats["herald_broker_offset"],
                             sum(len(c.offsets) for c in clients), result["primary_rc"]))
        self.assertEqual(result["primary_rc"], 3,
                         "the old primary exits with status 3:\n" + result["log"][-3000:])
        self.assertIn("took over while this broker was stopped", result["log"])
        self.assertEqual(stats["herald_broker_pair_state"], 3, "the backup stays active")
        self.assertEqual(stats["herald_broker_pair_takeovers_total"], 1)
        for c in clients:
            self.assertTrue(history[c.user][0], "%s: the survivor's copy was in step" % c.user)
            self.assertEqual(c.offsets, history[c.user][1],
                             "%s got exactly what the survivor holds: nothing from the old "
                             "primary after its stop" % c.user)
        self.check_exactly_once(clients, history)
        self.assertFalse(result["primary_serving"], "the returning primary does not serve")


if __name__ == "__main__":
    unittest.main()
