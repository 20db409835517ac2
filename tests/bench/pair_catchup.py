#!/usr/bin/python3
"""pair_catchup.py -- how fast a late backup is caught up on a primary's history, under load.

Starts a primary alone (harness.Pair; a control request is its vote),
fills its history with --events envelopes of about --bytes each (one user
of 1,000 each), starts a producer at --rate envelopes/s, then starts the
backup and times until the primary's herald_broker_pair_catchup_state is 2
(the backup acknowledged the last chunk). Prints one JSON line: the
history, the catch-up's events and bytes, seconds, restarts, and the lag
and ack timeouts once the producer stopped. --data-dir puts both brokers
on data directories (a temporary directory each, removed at the end).

  HERALD_BIN=build/bin /usr/bin/python3 tests/bench/pair_catchup.py [--events 100000]
      [--bytes 800] [--rate 2000] [--data-dir]

Not a test: no assertion beyond the catch-up finishing within --timeout.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import msgpack                                                          # noqa: E402
from harness import Control, PacedProducer, Pair, Producer, metric, wait_until   # noqa: E402

USERS = 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--bytes", type=int, default=800)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--data-dir", action="store_true")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    dirs = [tempfile.mkdtemp(prefix="herald-catchup-bench-") for _ in range(2)] if a.data_dir else []
    per_broker = [{"data_dir": d} for d in dirs] if dirs else None
    pair = Pair(pair_timeout_ms=1000, history_events=max(100, a.events // USERS + 1),
                history_bytes=max(64 << 20, a.events * (a.bytes + 600)), per_broker=per_broker)
    try:
        pair.start(0)
        control = Control(pair)
        wait_until(lambda: control.request({"op": "stats"}) and pair.serving(0), timeout=20,
                   what="the primary, alone, to serve")
        control.close()
        producer = Producer(pair.ingest)
        pad = "x" * a.bytes
        for i in range(a.events):
            producer.send(["u%d" % (i % USERS)], "tick", {"n": i, "pad": pad})
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_offset") >= a.events,
                   timeout=a.timeout, what="the history filled", interval=0.2)
        producer.close()
        m = pair.metrics(0)
        history = {"events": metric(m, "herald_broker_history_events"),
                   "bytes": metric(m, "herald_broker_history_bytes")}
        pusher = PacedProducer(pair.ingest, a.rate, lambda rng, n: msgpack.packb(
            {"event": "t", "to": ["u%d" % (n % USERS)], "data": {"n": n}}))
        pusher.start()
        started = time.monotonic()
        pair.start(1)
        wait_until(lambda: metric(pair.metrics(0), "herald_broker_pair_catchup_state") == 2,
                   timeout=a.timeout, what="the backup caught up", interval=0.05)
        seconds = time.monotonic() - started
        m = pair.metrics(0)
        pusher.stop()
        time.sleep(1)
        after = pair.metrics(0)
        print(json.dumps({
            "history": history, "rate": a.rate, "data_dir": a.data_dir,
            "catchup_s": round(seconds, 2),
            "catchup_events": metric(m, "herald_broker_pair_catchup_events_total"),
            "catchup_bytes": metric(m, "herald_broker_pair_catchup_bytes_total"),
            "aborted": metric(m, "herald_broker_pair_catchup_aborted_total"),
            "lag_after": metric(after, "herald_broker_pair_lag_events"),
            "ack_timeouts": metric(after, "herald_broker_pair_ack_timeouts_total"),
            "accepted_during": metric(after, "herald_broker_offset") - a.events}))
    finally:
        pair.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
