"""test_broker_descriptors.py -- descriptor exhaustion on the broker's
ZeroMQ listeners: a broker started with a low descriptor limit and flooded
with TCP connections to its control endpoint does not spin (libzmq 4.3's
listener retried a failed accept() in a tight loop: a whole core for as long
as descriptors stayed exhausted), logs a rate-limited line, counts what it
shed, keeps serving the connections it already had on that same endpoint,
and serves new ones once the flood is gone. The same for the pair link's
listener (--pair-bind) of an active broker of a hot standby pair: the flood
is shed, and its passive peer, linked before the flood, stays heard."""
import os
import resource
import socket
import time
import unittest

import types

from harness import Broker, Control, Pair, metric, wait_until

LIMIT = 64           # RLIMIT_NOFILE of the broker (soft = hard, so it cannot raise it)
FLOOD = 2 * LIMIT    # connections opened and held
WINDOW = 3.0         # seconds of flood measured


def runnable_seconds(pid):
    """Time the process's threads spent on a CPU or waiting for one
    (/proc/PID/task/*/schedstat). A spinning thread is runnable for the
    whole window however busy the machine is, where its CPU time shrinks
    when other processes compete for the cores."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                on_cpu, waiting = f.read().split()[:2]
        except OSError:
            continue
        total += int(on_cpu) + int(waiting)
    return total / 1e9


def shed(stats, socket_name="control"):
    return stats.get('herald_broker_zmq_connections_shed_total{socket="%s"}' % socket_name, 0)


def low_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


class BrokerDescriptors(unittest.TestCase):
    def setUp(self):
        self.broker = None
        self.pair = None
        self.flood = []
        self.controls = []

    def tearDown(self):
        for s in self.flood:
            s.close()
        for c in self.controls:
            c.close()
        if self.broker:
            code = self.broker.stop()
            # proves: the broker survived and stopped cleanly (under the
            # sanitizers a leak or memory error makes this non-zero)
            self.assertEqual(code, 0, self.broker.output()[-2000:])
        if self.pair:
            procs = self.pair.procs
            self.assertTrue(procs[0].alive(), procs[0].output()[-2000:])
            codes = [p.stop() for p in procs]
            # proves: the flooded primary survived and stopped cleanly
            self.assertEqual(codes[0], 0, procs[0].output()[-2000:])

    def control(self, broker):
        c = Control(broker)
        self.controls.append(c)
        return c

    def open_flood(self, endpoint):
        host, port = endpoint[len("tcp://"):].rsplit(":", 1)
        for _ in range(FLOOD):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((host, int(port)))
            except BlockingIOError:
                pass
            self.flood.append(s)

    def close_flood(self):
        for s in self.flood:
            s.close()
        self.flood = []

    def measure(self, pid, output, socket_name):
        """Waits for the descriptors to run out, then watches the process
        for WINDOW seconds and checks it did not spin and logged at most a
        line a second naming the socket."""
        fds = "/proc/%d/fd" % pid
        wait_until(lambda: len(os.listdir(fds)) >= LIMIT, timeout=20,
                   what="the broker's descriptors all taken")
        lines0 = output().count("\n")
        cpu0, run0, t0 = cpu_seconds(pid), runnable_seconds(pid), time.monotonic()
        while time.monotonic() - t0 < WINDOW:      # the measurement window
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(pid) - cpu0
        runnable = runnable_seconds(pid) - run0
        lines = output().count("\n") - lines0
        print("flood on %s: %.2f s CPU, %.2f s runnable, %d log lines in %.1f s"
              % (socket_name, cpu, runnable, lines, elapsed))
        # proves: no busy loop at EMFILE. Before the fix the I/O thread was
        # runnable for the whole window (and took ~0.9 of a core when the
        # machine was idle).
        self.assertLess(cpu, 0.5 * elapsed, "the broker spins at its descriptor limit")
        self.assertLess(runnable, 0.5 * elapsed, "the broker spins at its descriptor limit")
        # proves: it says so, and the log is rate-limited (at most a line a second)
        self.assertIn("out of descriptors on the %s socket" % socket_name, output())
        self.assertLessEqual(lines, elapsed + 2)

    def test_flood_at_the_descriptor_limit(self):
        self.broker = Broker(preexec=low_limit)
        held = self.control(self.broker)
        self.assertIn("herald_broker_offset", held.request({"op": "stats"}))
        self.open_flood(self.broker.control)
        self.measure(self.broker.proc.pid, self.broker.output, "control")
        # proves: a connection established before the flood, on the same
        # endpoint, is still served (shedding touches only waiting
        # connections; zmq_unbind would have left it open but dead), and
        # the shed connections are counted
        stats = held.request({"op": "stats"})
        self.assertGreaterEqual(shed(stats), 1, stats)
        self.assertGreaterEqual(
            stats.get('herald_broker_zmq_accept_failures_total{socket="control"}', 0), 1)
        self.close_flood()
        # proves: once descriptors are back, new connections are served
        wait_until(lambda: "herald_broker_offset" in
                   self.control(self.broker).request({"op": "stats"}),
                   timeout=30, what="a new control client answered after the flood")
        text = self.broker.metrics()
        self.assertGreaterEqual(metric(text, "herald_broker_zmq_connections_shed_total"), 1)

    def test_flood_on_the_pair_listener(self):
        self.pair = Pair(pair_timeout_ms=1000)
        self.pair.start(0, preexec=low_limit)
        self.pair.start(1)
        wait_until(lambda: self.pair.serving(0), timeout=20, what="the primary to serve")
        wait_until(lambda: metric(self.pair.metrics(0), "herald_broker_pair_peer_state") == 4,
                   timeout=20, what="the backup to be passive")
        primary = types.SimpleNamespace(control=self.pair.control.split(",")[0])
        held = self.control(primary)
        self.assertEqual(held.request({"op": "stats"}).get("herald_broker_pair_state"), 3)
        self.open_flood("tcp://127.0.0.1:%d" % self.pair.ports[0]["pair"])
        proc = self.pair.procs[0]
        self.measure(proc.proc.pid, proc.output, "pair")
        stats = held.request({"op": "stats"})
        # proves: the pair listener's backlog was shed and counted
        self.assertGreaterEqual(shed(stats, "pair"), 1, stats)
        self.assertGreaterEqual(
            stats.get('herald_broker_zmq_accept_failures_total{socket="pair"}', 0), 1)
        # proves: the link from the passive, established before the flood on
        # that same listener, still carries its heartbeats: the primary
        # still hears a passive peer and stays active (a dead link would
        # show peer state 0 within the 1 s pair timeout)
        self.assertEqual(stats.get("herald_broker_pair_peer_state"), 4, stats)
        self.assertEqual(stats.get("herald_broker_pair_state"), 3, stats)
        self.close_flood()
        # proves: once descriptors are back, new connections are served
        wait_until(lambda: self.pair.serving(0), timeout=30,
                   what="the primary's HTTP answered after the flood")
        self.assertEqual(metric(self.pair.metrics(0), "herald_broker_pair_peer_state"), 4)


def cpu_seconds(pid):
    """User + system CPU time of the process, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        raw = f.read()
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    unittest.main()
