"""bench_report.py -- tables, target verdicts and the chart for scripts/bench.

Reads the results document scripts/bench writes (results.json) and renders
the generated section of BENCHMARKS.md and docs/bench/bench.png.
"""
import os
import shutil
import subprocess

SYSTEMS = ["herald", "socketio", "nchan"]


def get(results, scen, system):
    for r in results:
        if r["scenario"] == scen and r["system"] == system and "error" not in r:
            return r
    return None


def fmt(v, digits=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return ("{:,.%df}" % digits).format(v)
    return "{:,}".format(v)


def ratio(a, b):
    return fmt(a / b, 2) + "×" if a is not None and b else "n/a"


DURABLE_SYSTEMS = ["herald", "herald-durable-none", "herald-durable-batch", "herald-durable-always"]


def durable_label(sname):
    return "memory only" if sname == "herald" else "--data-dir --fsync " + sname.rsplit("-", 1)[1]


def durable_table(res, scenario, title, columns, rate, cells, systems=DURABLE_SYSTEMS,
                  label=durable_label):
    """Markdown lines of one scenario's table: memory only, then --data-dir
    at each --fsync, one row each (or the given systems, label(system)
    naming each row); [] when the scenario did not run. columns: the
    header cells after "broker"; rate: the key the "÷ ..." cell divides by
    the first system's; cells(r, vs): a row's cells after its label, vs
    being that ratio."""
    rows = [(sname, get(res, scenario, sname)) for sname in systems]
    if not any(r for _, r in rows):
        return []
    out = [title, "", "| broker | " + " | ".join(columns) + " |",
           "|" + "---|" * (len(columns) + 1)]
    base = rows[0][1]
    for sname, r in rows:
        if not r:
            continue
        out.append("| " + " | ".join([label(sname)] + cells(r, ratio(r[rate], base and base[rate])))
                   + " |")
    out.append("")
    return out


def report(doc):
    """The generated section of BENCHMARKS.md (markdown). "Herald ÷ this"
    columns: above 1 means Herald is larger (better for rates, worse for
    latency, memory and CPU)."""
    res = doc["results"]
    out = []
    m = doc["machine"]
    out.append("Run of %s (%s mode), %s UTC." % (doc["commit"], "quick" if doc["quick"] else "full", doc["started"]))
    out.append("")
    out.append("Machine: %s cores (`nproc`), %s, kernel %s, %s GB RAM, fd hard limit %s; %s, node %s, socket.io %s." % (
        m["nproc"], m["cpu"], m["kernel"], m["mem_gb"], m["fd_hard_limit"], m["nginx"], m["node"], m["socket.io"]))
    out.append("Command: `%s`" % doc["command"])
    out.append("")
    out.append("### Idle connections (memory, connect time, then one event to every user)")
    out.append("")
    out.append("| scenario | system | gateways | clients | connected | failed | connect s | connect p99 ms | server RSS growth MB | bytes / connection | Herald ÷ this | events received |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res:
        if r["scenario"].startswith("idle"):
            if "error" in r:
                out.append("| %s | %s | | | | | | | | | error: %s |" % (r["scenario"], r["system"], r["error"][:80]))
                continue
            hr = get(res, r["scenario"], "herald")
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["scenario"], r["system"], r["gateways"], fmt(r["clients"]), fmt(r["connected"]), fmt(r["failed"]),
                fmt(r["connect_s"], 2), fmt(r["connect_ms"]["p99"], 1),
                fmt((r["rss_after_kb"] - r["rss_before_kb"]) / 1024.0, 1), fmt(r["bytes_per_conn"], 0),
                ratio(hr and hr["bytes_per_conn"], r["bytes_per_conn"]), fmt(r["received"])))
    out.append("")
    out.append("### Unicast to random users, closed loop (at most %s events in flight), delivered/s" % fmt((get(res, "unicast", "herald") or get(res, "unicast", "nchan") or {}).get("window")))
    out.append("")
    out.append("| system | clients | s | delivered | delivered / s | Herald ÷ this | server CPU s | CPU µs / event | Herald CPU ÷ this | p50 ms | p99 ms | max ms |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    h = get(res, "unicast", "herald")
    for s in SYSTEMS + ["herald-http", "herald-batch"]:
        r = get(res, "unicast", s)
        if r:
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                s, fmt(r["clients"]), r["seconds"], fmt(r["delivered"]), fmt(r["delivered_per_s"], 0),
                ratio(h and h["delivered_per_s"], r["delivered_per_s"]), fmt(r["server_cpu_s"], 2),
                fmt(r["cpu_us_per_event"], 1), ratio(h and h["cpu_us_per_event"], r["cpu_us_per_event"]),
                fmt(r["latency_us"]["p50"] / 1e3, 2), fmt(r["latency_us"]["p99"] / 1e3, 2),
                fmt(r["latency_us"]["max"] / 1e3, 2)))
    out.append("")
    roles = [(r["clients"], r["cpu_us_per_event_by_role"]) for r in res
             if r.get("scenario") == "unicast" and r.get("system") == "herald" and r.get("cpu_us_per_event_by_role")]
    for clients, by_role in roles:
        out.append("Herald's CPU per delivered event by process (%s clients): %s." % (
            fmt(clients), ", ".join("%s %s µs" % (k, fmt(v, 1)) for k, v in sorted(by_role.items()))))
        out.append("")
    out.append("### Fixed rate: 2,000 events/s to random users")
    out.append("")
    out.append("| system | clients | sent | delivered | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | Herald p99 ÷ this | CPU µs / event |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in SYSTEMS:
        r = get(res, "fixed2000", s)
        if r:
            l = r["latency_us"]
            hf = get(res, "fixed2000", "herald")
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                s, fmt(r["clients"]), fmt(r["sent"]), fmt(r["delivered"]), fmt(l["p50"] / 1e3, 2),
                fmt(l["p90"] / 1e3, 2), fmt(l["p99"] / 1e3, 2), fmt(l["p999"] / 1e3, 2),
                fmt(l["max"] / 1e3, 2), ratio(hf and hf["latency_us"]["p99"], l["p99"]),
                fmt(r["cpu_us_per_event"], 1)))
    out.append("")
    out.append("### Fan-out: one event to many recipients (time from send until each has it)")
    out.append("")
    out.append("| system | recipients | rounds | delivered / expected | p50 ms | p99 ms | last one (max) ms | Herald ÷ this |")
    out.append("|---|---|---|---|---|---|---|---|")
    for scen in ("fanout1000", "fanout10000"):
        for s in SYSTEMS:
            r = get(res, scen, s)
            if r:
                l = r["latency_us"]
                hf = get(res, scen, "herald")
                out.append("| %s | %s | %s | %s / %s | %s | %s | %s | %s |" % (
                    s, fmt(r["recipients"]), r["rounds"], fmt(r["delivered"]), fmt(r["expected"]),
                    fmt(l["p50"] / 1e3, 2), fmt(l["p99"] / 1e3, 2), fmt(r["last_ms"], 2),
                    ratio(hf and hf["last_ms"], r["last_ms"])))
    out.append("")
    out.append("### Broker alone (PULL -> XPUB, one SUB subscribed to every user)")
    out.append("")
    out.append("| users | sent | accepted / s | routed | routed / s | broker CPU µs / event | p50 ms | p99 ms |")
    out.append("|---|---|---|---|---|---|---|---|")
    r = get(res, "broker", "herald")
    if r:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            fmt(r["users"]), fmt(r["sent"]), fmt(r["accepted_per_s"], 0), fmt(r["routed"]),
            fmt(r["routed_per_s"], 0), fmt(r["cpu_us_per_event"], 2),
            fmt(r["latency_us"]["p50"] / 1e3, 2), fmt(r["latency_us"]["p99"] / 1e3, 2)))
    r = get(res, "broker-fanout", "herald")
    if r:
        out.append("")
        out.append("Broker alone, one event to %s subscribed users (%d rounds): %s / %s routed, "
                   "p50 %s ms, last one %s ms." % (
                       fmt(r["recipients"]), r["rounds"], fmt(r["routed"]), fmt(r["expected"]),
                       fmt(r["latency_us"]["p50"] / 1e3, 2), fmt(r["last_ms"], 2)))
    r = get(res, "floor", "machine")
    if r:
        out.append("")
        out.append("### The floor: one small write to a loopback TCP socket, no server code")
        out.append("")
        out.append("`herald-bench-floor --conns %d --rounds %d`: one process writes %d bytes to each "
                   "connection per round; a forked reader drains them with epoll. On loopback the "
                   "writer's system time includes the receiving half of TCP and the reader's wake-up." % (
                       r["conns"], r["rounds"], r["bytes"]))
        out.append("")
        out.append("| connections | writer CPU µs / write | writes / CPU-s | round wall ms p50 (max) | "
                   "last read ms p50 (max) | reader CPU µs / message |")
        out.append("|---|---|---|---|---|---|")
        out.append("| %s | %s | %s | %s (%s) | %s (%s) | %s |" % (
            fmt(r["conns"]), fmt(r["writer_cpu_us_per_write"], 1), fmt(r["writes_per_cpu_s"], 0),
            fmt(r["round_wall_ms_p50"], 1), fmt(r["round_wall_ms_max"], 1),
            fmt(r["reader_last_conn_ms_p50"], 1), fmt(r["reader_last_conn_ms_max"], 1),
            fmt(r["reader_cpu_us_per_message"], 1)))
        out.append("")
        out.append("So 10,000 deliveries from one process need at least %s ms of one core before the "
                   "last write is issued." % fmt(r["writer_cpu_us_per_write"] * 10, 0))
    out += durable_table(
        res, "durable",
        "### What durability costs: unicast closed loop, --data-dir at each --fsync next to memory only",
        ["clients", "delivered / s", "÷ memory only", "CPU µs / event (all)",
         "broker CPU µs / event", "p50 ms", "p99 ms"], "delivered_per_s",
        lambda r, vs: [fmt(r["clients"]), fmt(r["delivered_per_s"], 0), vs,
                       fmt(r["cpu_us_per_event"], 1),
                       fmt(r.get("cpu_us_per_event_by_role", {}).get("broker", 0), 1),
                       fmt(r["latency_us"]["p50"] / 1e3, 2), fmt(r["latency_us"]["p99"] / 1e3, 2)])
    out += durable_table(
        res, "durable-broker",
        "The broker alone (PULL -> XPUB, one SUB for every user), as fast as it routes:",
        ["users", "routed", "routed / s", "÷ memory only", "broker CPU µs / event"], "routed_per_s",
        lambda r, vs: [fmt(r["users"]), fmt(r["routed"]), fmt(r["routed_per_s"], 0), vs,
                       fmt(r["cpu_us_per_event"], 2)])
    out += durable_table(
        res, "pair",
        "### What a hot standby pair costs: unicast closed loop, one broker next to a pair",
        ["clients", "delivered / s", "÷ one broker", "CPU µs / event (all)",
         "primary CPU µs / event", "backup CPU µs / event", "p50 ms", "p99 ms"],
        "delivered_per_s",
        lambda r, vs: [fmt(r["clients"]), fmt(r["delivered_per_s"], 0), vs,
                       fmt(r["cpu_us_per_event"], 1),
                       fmt(r.get("cpu_us_per_event_by_role", {}).get("broker", 0), 1),
                       fmt(r.get("cpu_us_per_event_by_role", {}).get("backup"), 1),
                       fmt(r["latency_us"]["p50"] / 1e3, 2), fmt(r["latency_us"]["p99"] / 1e3, 2)],
        systems=["herald", "herald-pair"],
        label=lambda sname: "one broker" if sname == "herald" else "primary + backup")
    errors = [r for r in res if "error" in r]
    if errors:
        out.append("")
        out.append("Failed runs: " + "; ".join("%s/%s: %s" % (r["scenario"], r["system"], r["error"][:120]) for r in errors))
    out.append("")
    out.append("### Targets of issue 5, as computed from this run")
    out.append("")
    out.append("| target | this run | verdict |")
    out.append("|---|---|---|")
    for row in targets(res):
        out.append("| %s | %s | %s |" % row)
    return "\n".join(out) + "\n"


def verdict(ok, missed):
    if ok is None:
        return "not measured"
    return "met" if ok else "missed: " + missed


def floor_note(res, writes):
    """The machine's floor for `writes` loopback writes from one process."""
    f = get(res, "floor", "machine")
    if not f:
        return ""
    return "; the floor for %s writes from one process is %s ms" % (
        fmt(writes), fmt(f["writer_cpu_us_per_write"] * writes / 1e3, 0))


def cpu_floor_note(res):
    f = get(res, "floor", "machine")
    if not f:
        return ""
    return "; one loopback write alone costs %s µs here (floor)" % fmt(f["writer_cpu_us_per_write"], 1)


def targets(res):
    rows = []
    hu, nu, su = get(res, "unicast", "herald"), get(res, "unicast", "nchan"), get(res, "unicast", "socketio")
    if hu and nu and su:
        a, b = hu["delivered_per_s"] / max(1, nu["delivered_per_s"]), hu["delivered_per_s"] / max(1, su["delivered_per_s"])
        rows.append(("unicast delivered/s ≥ 3× nchan, ≥ 25× socket.io", "%.2f× nchan, %.1f× socket.io" % (a, b),
                     verdict(a >= 3 and b >= 25, "%.2f× of 3× nchan, %.1f× of 25× socket.io" % (a, b))))
    else:
        rows.append(("unicast delivered/s ≥ 3× nchan, ≥ 25× socket.io", "n/a", "not measured"))
    n10 = get(res, "idle10k", "nchan")
    for scen in ("idle10k", "idle50k"):
        h = get(res, scen, "herald")
        if h and n10:
            lim = n10["bytes_per_conn"] / 3
            rows.append(("idle bytes/connection ≤ 1/3 of nchan's (%s; nchan at 10k)" % scen,
                         "%s B vs nchan %s B (limit %s B)" % (fmt(h["bytes_per_conn"], 0), fmt(n10["bytes_per_conn"], 0), fmt(lim, 0)),
                         verdict(h["bytes_per_conn"] <= lim, "%.2f× of the limit" % (h["bytes_per_conn"] / max(1, lim)))))
        else:
            rows.append(("idle bytes/connection ≤ 1/3 of nchan's (%s)" % scen, "n/a", "not measured"))
    h = get(res, "idle100k", "herald")
    rows.append(("100,000 connections across gateways, all receiving",
                 "%s connected, %s failed, %s events received" % (fmt(h["connected"]), fmt(h["failed"]), fmt(h["received"])) if h else "n/a",
                 verdict(h and h["connected"] == 100000 and h["received"] >= 100000, "see row") if h else "not measured"))
    h = get(res, "idle19900", "herald")
    rows.append(("one gateway to 19,900 connections, none failed",
                 "%s connected, %s failed, %s received" % (fmt(h["connected"]), fmt(h["failed"]), fmt(h["received"])) if h else "n/a",
                 verdict(h["failed"] == 0 and h["connected"] == 19900, "%d failed" % h["failed"]) if h else "not measured"))
    if hu and nu:
        lim = nu["cpu_us_per_event"] / 3
        rows.append(("server CPU per delivered event ≤ 1/3 of nchan's", "%.1f µs vs nchan %.1f µs (limit %.1f)" % (hu["cpu_us_per_event"], nu["cpu_us_per_event"], lim),
                     verdict(hu["cpu_us_per_event"] <= lim, "%.2f× of the limit" % (hu["cpu_us_per_event"] / max(1e-9, lim)))
                     + cpu_floor_note(res)))
    hf, nf = get(res, "fixed2000", "herald"), get(res, "fixed2000", "nchan")
    if hf and nf:
        a, b = hf["latency_us"]["p99"] / 1e3, nf["latency_us"]["p99"] / 1e3
        rows.append(("p99 at 2,000 ev/s, 10k clients ≤ nchan's", "%.2f ms vs nchan %.2f ms" % (a, b),
                     verdict(a <= b and hf["delivered"] >= hf["sent"], "%.2f× nchan's p99" % (a / max(1e-9, b)))))
    h = get(res, "fanout10000", "herald")
    if h:
        rows.append(("one event to %s recipients, last within 20 ms" % fmt(h["recipients"]),
                     "%.2f ms (worst of %d rounds), %s/%s delivered" % (h["last_ms"], h["rounds"], fmt(h["delivered"]), fmt(h["expected"])),
                     verdict(h["last_ms"] <= 20 and h["delivered"] == h["expected"], "%.1f× of 20 ms" % (h["last_ms"] / 20))
                     + floor_note(res, h["recipients"])))
    h = get(res, "broker", "herald")
    if h:
        rows.append(("broker alone ≥ 1,000,000 small events/s", "%s routed/s (%s accepted/s)" % (fmt(h["routed_per_s"], 0), fmt(h["accepted_per_s"], 0)),
                     verdict(h["routed_per_s"] >= 1e6, "%.2f× of 1,000,000/s" % (h["routed_per_s"] / 1e6))))
    return rows


def chart(doc, png, workdir, log):
    res = doc["results"]
    if not shutil.which("gnuplot"):
        log("gnuplot missing: no chart")
        return
    d = os.path.join(workdir, "chart")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "latency.dat"), "w") as f:
        f.write("system p50 p90 p99 p999 max\n")
        for s in SYSTEMS:
            r = get(res, "fixed2000", s)
            if r:
                l = r["latency_us"]
                f.write("%s %s\n" % (s, " ".join("%.3f" % (max(l[k], 1) / 1e3) for k in ("p50", "p90", "p99", "p999", "max"))))
    with open(os.path.join(d, "throughput.dat"), "w") as f:
        f.write("system delivered\n")
        for s in SYSTEMS + ["herald-http", "herald-batch"]:
            r = get(res, "unicast", s)
            if r:
                f.write("%s %.0f\n" % (s, r["delivered_per_s"]))
    gp = """set terminal pngcairo size 1100,480 font ",10"
set output '%s'
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set grid ytics
set key top left
set title 'Latency at 2,000 events/s (ms, log scale)'
plot for [i=2:6] '%s/latency.dat' using i:xtic(1) title columnheader(i)
set title 'Unicast delivered events/s (log scale)'
unset key
plot '%s/throughput.dat' using 2:xtic(1) lc rgb '#3070b0'
unset multiplot
""" % (png, d, d)
    if not get(res, "fixed2000", "herald") and not get(res, "unicast", "herald"):
        log("no latency/throughput figures: no chart")
        return
    with open(os.path.join(d, "bench.gp"), "w") as f:
        f.write(gp)
    subprocess.run(["gnuplot", os.path.join(d, "bench.gp")], check=False, timeout=60)


def write_benchmarks_md(path, section):
    """Replaces the generated section of BENCHMARKS.md, keeping the rest."""
    begin, end = "<!-- bench:begin (generated by scripts/bench) -->", "<!-- bench:end -->"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n%s\n%s\n" % (begin, end)
    if begin not in text:
        text += "\n%s\n%s\n" % (begin, end)
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(head + begin + "\n" + section + end + tail)
