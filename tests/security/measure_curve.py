"""measure_curve.py -- broker CPU per event with and without CURVE (not a ctest).

    HERALD_BIN=build/bin PYTHONPATH=tests/integration /usr/bin/python3 tests/security/measure_curve.py [N]

Starts a broker without CURVE, then one with CURVE on all sockets; a pyzmq
producer pushes N small events to one online user (a raw SUB standing in for
the gateway, with a gateway certificate under CURVE) and the broker's user +
system CPU time (/proc/PID/stat) over the run is divided by N. The producer
and the subscriber run in this process, so the figure is the broker's alone;
the machine's other load makes it noisy: run it a few times."""
import os
import shutil
import sys
import tempfile
import time

from harness import Broker, Producer, keygen, subscribe, wait_until

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(broker, producer_curve, sub_curve):
    sub, _ = subscribe(broker, "bench", curve=sub_curve)
    p = Producer(broker, curve=producer_curve)
    p.send("bench", "warm")
    sub.recv_multipart()
    start_cpu = cpu_seconds(broker.proc.pid)
    start = time.monotonic()
    for i in range(N):
        p.send("bench", "e", i)
    got = 0
    while got < N:
        sub.recv_multipart()
        got += 1
    wall = time.monotonic() - start
    cpu = cpu_seconds(broker.proc.pid) - start_cpu
    p.close()
    sub.close()
    return cpu / N * 1e6, N / wall


def main():
    d = tempfile.mkdtemp(prefix="herald-measure-")
    try:
        allow = os.path.join(d, "allow")
        os.mkdir(allow)
        server = keygen(d, "broker")
        gw = keygen(d, "gw", "gateway")
        prod = keygen(d, "prod", "producer")
        for c in (gw, prod):
            shutil.copy(c, allow)
        for label, flags, pc, sc in (
                ("plain", {}, None, None),
                ("curve", {"curve_cert": server, "curve_allow": allow}, (prod, server), (gw, server))):
            b = Broker(**flags)
            try:
                us, rate = run(b, pc, sc)
                print("%-6s broker CPU %.2f us/event, %.0f events/s end to end (N=%d)" % (label, us, rate, N))
            finally:
                b.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
