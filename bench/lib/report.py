#!/usr/bin/env python3
"""Reports for bench/h2c-single-hop.sh and bench/chain.sh (stdlib only).

usage: report.py META.tsv RUNS.tsv WARMUP.tsv CLK_TCK > report.txt          (single hop: h2c, HTTP/1.1)
       report.py chain META.tsv RUNS.tsv WARMUP.tsv MEMORY.tsv CLK_TCK SUMMARY.md > report.txt

Parses h2load's output of each run, computes proxy CPU per request from the
/proc tick counts the script recorded, latency percentiles from h2load's
--log-file, medians per system and the ratios against nghttpx (and Envoy); for the
chain's causeway-policy, the ratio to causeway and the route split it measured.
Exit status: 0 ok, 1 a request failed (or a run broke, or causeway-policy's route did not
split as configured), 3 CPU ratio above the limit.
"""
import re
import statistics
import sys

DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def add_key_values(m, fields):
    """The key=value fields of an idle client's result line (idle_tls.py, idle_conns.py) into m."""
    for kv in fields:
        k, _, v = kv.partition("=")
        if k:
            m[k] = v


def print_with_summary(out, md, md_path):
    """Write the Markdown lines md to md_path (if any), append them to the text report out
    under a heading, and print the report."""
    if md_path:
        with open(md_path, "w", encoding="utf-8") as f:
            f.write("\n".join(md) + "\n")
    out.append("")
    out.append("Markdown summary (also in the raw outputs as summary.md)")
    for line in md:
        out.append("  " + line if line else "")
    print("\n".join(out))


def parse_h2load(path):
    """The figures of one h2load output; missing lines give None."""
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        text = ""
    progress = re.findall(r"^progress: (\d+)% done", text, re.M)
    r = {"progress": int(progress[-1]) if progress else 0,"total": None, "succeeded": None, "failed": None, "errored": None, "timeout": None,
         "done": None, "rps": None, "seconds": None, "s2xx": None, "s3xx": None, "s4xx": None,
         "s5xx": None, "data_bytes": None}
    m = re.search(r"^finished in ([\d.]+)(us|ms|s|m|h), ([\d.]+) req/s", text, re.M)
    if m:
        r["seconds"] = float(m.group(1)) * DURATION_UNITS[m.group(2)]
        r["rps"] = float(m.group(3))
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    if m:
        (r["total"], _, r["done"], r["succeeded"], r["failed"], r["errored"],
         r["timeout"]) = map(int, m.groups())
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    if m:
        r["s2xx"], r["s3xx"], r["s4xx"], r["s5xx"] = map(int, m.groups())
    m = re.search(r"^traffic: .*\((\d+)\) data$", text, re.M)
    if m:
        r["data_bytes"] = int(m.group(1))
    return r


def latency_percentiles(path, qs=(0.5, 0.99, 0.999)):
    """Percentiles (µs) of successful requests from h2load --log-file (start, status, µs)."""
    values = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3 and parts[1] != "-1":
                    try:
                        values.append(int(parts[2]))
                    except ValueError:
                        pass
    except OSError:
        return [None] * len(qs)
    if not values:
        return [None] * len(qs)
    values.sort()
    return [values[min(len(values) - 1, int(q * len(values)))] for q in qs]


def bad_requests(r, expected):
    """Requests that did not end in a 2xx response (None if the output was unreadable).

    Covers h2load's failed (4xx/5xx), errored and timed-out requests, 3xx (which h2load
    counts as succeeded) and requests never started."""
    if r["total"] is None or r["s2xx"] is None:
        return None
    return expected - r["s2xx"]


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def machine_lines(meta, w):
    """The "Machine" block shared by both reports."""
    w("Machine")
    w(f"  date        {meta['date']}")
    w(f"  cpu         {meta['nproc']} x {meta['cpu']}  (cgroup cpu.max: {meta['cgroup_cpu_max']})")
    w(f"  memory      {meta['memory']}")
    w(f"  kernel      {meta['kernel']}")
    w(f"  nghttp2     {meta['nghttp2']}")
    if meta.get("openssl"):
        w(f"  openssl     {meta['openssl']}")
    if meta.get("envoy"):
        w(f"  envoy       {meta['envoy']}")
    w(f"  swift       {meta['swift']}")
    if "causeway" in meta:
        w(f"  causeway    {meta['causeway']}")
    if no_other_load(meta):
        w("  other load  none seen (no other process used >= 10% of a CPU in the 2 s before the "
          "warm-up, the 1 s before each run, or the 2 s at the end)")
    else:
        w(f"  other load  FIGURES SUSPECT: before warm-up: {meta['busy_before']}; "
          f"before runs: {meta['busy_runs']}; at the end: {meta['busy_after']}")


def report_start(title, meta):
    """A report's first lines (TITLE, the Machine block, the "Parameters" heading), and the
    function that adds a line."""
    out = []
    w = out.append
    w(title)
    w("")
    machine_lines(meta, w)
    w("")
    w("Parameters")
    return out, w


def read_meta(path):
    meta = {}
    for line in open(path, encoding="utf-8"):
        k, _, v = line.rstrip("\n").partition("\t")
        meta[k] = v
    return meta


def text_table(cols, rows, w, indent="  "):
    """Aligned columns: first left-aligned, the rest right-aligned."""
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    for row in [cols] + rows:
        w(indent + "  ".join(v.ljust(widths[i]) if i == 0 else v.rjust(widths[i])
                             for i, v in enumerate(row)))


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def no_other_load(meta):
    return meta["busy_before"] == meta["busy_runs"] == meta["busy_after"] == "none"


def read_rows(path):
    """The rows of a TSV file with a header line, as dicts."""
    lines = open(path, encoding="utf-8").read().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def parse_run(row, requests, body_size):
    """What both scripts record of a measured run (a RUNS.tsv row): h2load's figures, its exit
    status, latency percentiles, the requests that got no 2xx and whether every body was whole."""
    r = parse_h2load(row["output"])
    r["system"], r["round"], r["rc"] = row["system"], int(row["round"]), int(row["rc"])
    r["p50"], r["p99"], r["p999"] = latency_percentiles(row["latency_log"])
    r["bad"] = bad_requests(r, requests)
    r["body_ok"] = (r["data_bytes"] is not None and r["succeeded"]
                    and r["data_bytes"] == r["succeeded"] * body_size)
    return r


def outcome_cells(r):
    """The first columns of a run's row: system, round, req/s and what failed."""
    non2xx = None if r["succeeded"] is None else (r["done"] or 0) - (r["s2xx"] or 0)
    return [r["system"], str(r["round"]), fmt(r["rps"], ".0f"), fmt(r["failed"], "d"),
            fmt(r["errored"], "d"), fmt(r["timeout"], "d"), fmt(non2xx, "d")]


def latency_cells(r):
    return [fmt(r["p50"], "d"), fmt(r["p99"], "d"), fmt(r["p999"], "d")]


def run_problems(r, label, requests, body_size):
    """What broke in one run (LABEL names it): no summary from h2load, its exit status, short bodies."""
    problems = []
    if r["bad"] is None:
        # No summary: h2load was killed (a stall) or crashed; the caller counts the whole run as bad.
        problems.append(f"{label}: no summary from h2load (exit status {r['rc']}"
                        f"{', killed by --run-timeout' if r['rc'] in (124, 137) else ''}); "
                        f"it had reported {r['progress']}% of {requests} requests done")
    elif r["rc"] != 0:
        problems.append(f"{label}: h2load exit status {r['rc']}")
    if r["bad"] == 0 and not r["body_ok"]:
        problems.append(f"{label}: received {r['data_bytes']} body bytes, "
                        f"expected {r['succeeded']} x {body_size}")
    return problems


def warmup_notes(warmup_path):
    """A note per system whose warm-up had failed requests (or no readable output)."""
    notes = []
    for line in open(warmup_path, encoding="utf-8").read().splitlines():
        s, _rc, path = line.split("\t")
        wr = parse_h2load(path)
        wb = None if wr["total"] is None else wr["failed"] + wr["errored"] + wr["timeout"]
        if wb is None or wb > 0:
            notes.append(f"{s}: {'unreadable' if wb is None else wb} failed in warm-up")
    return notes


def per_round_ratios(runs, other, base="causeway"):
    """BASE's CPU µs/req over OTHER's, round by round, as text (RUNS: one phase)."""
    by_round = {}
    for r in runs:
        by_round.setdefault(r["round"], {})[r["system"]] = r
    return [f"{rr[base]['cpu_us'] / rr[other]['cpu_us']:.2f}"
            for _, rr in sorted(by_round.items())
            if base in rr and other in rr
            and rr[base]["cpu_us"] and rr[other]["cpu_us"]]


def verdict_end(w, meta, cpu_ratio, total_bad, measured, broken, notes):
    """The end of both verdicts: the --max-cpu-ratio check (CPU_RATIO None: not compared), the
    failed requests, broken runs and notes. Returns the exit status: 1 if a request failed or a
    run broke, else 3 if the CPU ratio is above --max-cpu-ratio, else 0."""
    status = 0
    limit = meta.get("max_cpu_ratio")
    if cpu_ratio is not None and limit and cpu_ratio > float(limit):
        w(f"  FAIL: CPU ratio {cpu_ratio:.2f} above --max-cpu-ratio {limit}")
        status = 3
    if total_bad == 0:
        w(f"  requests          0 failed, errored, timed out or non-2xx of {measured} measured")
    else:
        w(f"  FAIL: {total_bad} of {measured} measured requests failed, errored, timed out "
          f"or were not 2xx")
        status = 1
    for b in broken:
        w(f"  FAIL: {b}")
        status = 1
    for n in notes:
        w(f"  note: {n}")
    w(f"  raw outputs       {meta['raw']}")
    return status


def main():
    meta_path, runs_path, warmup_path, clk_tck = sys.argv[1:5]
    clk_tck = int(clk_tck)
    meta = read_meta(meta_path)
    requests = int(meta["requests"])
    body_size = int(meta["body_size"])
    systems = meta["systems"].split()

    runs = []
    for row in read_rows(runs_path):
        r = parse_run(row, requests, body_size)
        done = r["done"] or 0
        proxied = row["system"] != "direct"
        cpu_ticks = int(row["cpu1"]) - int(row["cpu0"])
        r["cpu_us"] = cpu_ticks * 1e6 / clk_tck / done if (proxied and done) else None
        r["cpu_ticks"] = cpu_ticks if proxied else None
        sched_ns = int(row["sched1"]) - int(row["sched0"])
        r["sched_us"] = sched_ns / 1e3 / done if (proxied and done) else None
        r["backend_us"] = ((int(row["bcpu1"]) - int(row["bcpu0"])) * 1e6 / clk_tck / done
                           if done else None)
        r["log_bytes"] = ((int(row["log1"]) - int(row["log0"])) / done
                          if (proxied and done) else None)
        runs.append(r)

    # bench/h1-single-hop.sh names itself and its target in the metadata.
    out, w = report_start(meta.get("title", "Causeway h2c single-hop benchmark — bench/h2c-single-hop.sh"), meta)
    w(f"  regime      {meta['regime']}" + (f" ({meta['rps']} req/s total = {meta['rps_per_client']} per client)"
                                         if meta["regime"] == "rate" else ""))
    w(f"  load        {meta['h2load']}")
    w(f"  rounds      {meta['rounds']} (systems alternate: {' '.join(systems)} ...), "
      f"warm-up {meta['warmup']} requests per system")
    w(f"  body        {body_size} bytes")
    w(f"  backend     {meta['backend']}")
    w(f"  windows     {meta['windows']}")
    w(f"  pinning     {meta['pin']}")
    for s in systems:
        w(f"  {s:<11} {meta['cmd_' + s]}")
    w(f"  CPU         utime+stime of the proxy's process tree from /proc/PID/stat, "
      f"{clk_tck} ticks/s, before and after each h2load run")
    w("")

    cols = ["system", "round", "req/s", "failed", "errored", "timeout", "non-2xx",
            "CPU µs/req", "sched µs/req", "backend µs/req", "p50 µs", "p99 µs", "p99.9 µs", "log B/req"]
    table = [outcome_cells(r) + [fmt(r["cpu_us"], ".2f"), fmt(r["sched_us"], ".2f"),
                                 fmt(r["backend_us"], ".2f")]
             + latency_cells(r) + [fmt(r["log_bytes"], ".1f")] for r in runs]
    w(f"Runs ({requests} requests each)")
    text_table(cols, table, w)
    w("")

    med = {}
    w("Medians per system")
    mcols = ["system", "runs", "req/s", "CPU µs/req", "(min-max)", "p50 µs", "p99 µs"]
    mrows = []
    for s in systems:
        rs = [r for r in runs if r["system"] == s]
        cpu = [r["cpu_us"] for r in rs if r["cpu_us"] is not None]
        med[s] = {"rps": median_or_none([r["rps"] for r in rs]), "cpu": median_or_none(cpu)}
        mrows.append([s, str(len(rs)), fmt(med[s]["rps"], ".0f"), fmt(med[s]["cpu"], ".2f"),
                      f"{min(cpu):.2f}-{max(cpu):.2f}" if cpu else "-",
                      fmt(median_or_none([r["p50"] for r in rs]), ".0f"),
                      fmt(median_or_none([r["p99"] for r in rs]), ".0f")])
    text_table(mcols, mrows, w)
    w("")

    total_bad = 0
    broken = []
    for r in runs:
        # No summary (h2load was killed by a stall, or crashed): the whole run counts as bad.
        total_bad += requests if r["bad"] is None else r["bad"]
        broken += run_problems(r, f"{r['system']} round {r['round']}", requests, body_size)

    rounds = int(meta["rounds"])
    for s_ in systems:
        done_rounds = {r["round"] for r in runs if r["system"] == s_}
        skipped = [str(n) for n in range(1, rounds + 1) if n not in done_rounds]
        if skipped:
            broken.append(f"{s_}: round(s) {', '.join(skipped)} skipped after a stalled run")
    measured = sum(1 for _ in runs) * requests
    w("Verdict")
    cpu_ratio = None
    if "causeway" in med and "nghttpx" in med and med["nghttpx"]["cpu"] and med["causeway"]["cpu"]:
        cpu_ratio = med["causeway"]["cpu"] / med["nghttpx"]["cpu"]
        rps_ratio = (med["causeway"]["rps"] / med["nghttpx"]["rps"]
                     if med["nghttpx"]["rps"] and med["causeway"]["rps"] else None)
        w(f"  Causeway/nghttpx  CPU µs/req {cpu_ratio:.2f}x   req/s {fmt(rps_ratio, '.2f')}x   "
          f"(ratios of medians)")
        w(f"  per round         CPU µs/req ratio {' '.join(per_round_ratios(runs, 'nghttpx'))}")
        target = float(meta.get("target", "1.5"))
        w(f"  {meta.get('target_label', 'issue 2 target'):<17} CPU/req <= {target}x nghttpx: "
          + ("met" if cpu_ratio <= target else "NOT met"))
    else:
        w("  Causeway/nghttpx  - (needs both systems)")
    status = verdict_end(w, meta, cpu_ratio, total_bad, measured, broken, warmup_notes(warmup_path))
    print("\n".join(out))
    return status


# ---------------------------------------------------------------------------- two-hop chain
# bench/chain.sh: h2load -h2c-> sidecar -mTLS h2-> gateway -h2c-> nghttpd, per system two proxy
# processes. CPU per request is the sum over both proxies' process trees.

CHAIN_TARGET = 1.0          # issue 3: Causeway's CPU per request <= nghttpx's in the same run
POLICY_TARGET = 1.10        # issue 8: causeway-policy's CPU per request <= 1.10 x causeway's
SPLIT_TOLERANCE = 1.0       # percentage points the measured route split may be off its weights
ROUTE_LINE = re.compile(r'^causeway_route_backend_requests_total\{(.*)\} (\d+)$')
ROUTE_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def route_counts(path):
    """(backend, code) -> requests from the causeway_route_backend_requests_total lines of a
    sidecar's /metrics; None if the file is missing or has none."""
    counts = {}
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except (OSError, TypeError):
        return None
    for line in lines:
        m = ROUTE_LINE.match(line)
        if not m:
            continue
        labels = dict(ROUTE_LABEL.findall(m.group(1)))
        key = (labels.get("backend", ""), labels.get("code", ""))
        counts[key] = counts.get(key, 0) + int(m.group(2))
    return counts or None


POLICY_COUNTERS = (("overflow", "causeway_upstream_rq_overflow_total"),
                   ("pending overflow", "causeway_upstream_rq_pending_overflow_total"),
                   ("cx overflow", "causeway_upstream_cx_overflow_total"),
                   ("retry overflow", "causeway_upstream_rq_retry_overflow_total"),
                   ("ejections", "causeway_outlier_ejections_total"))


def policy_limit_counters(path):
    """The DestinationRule's counters (breaker overflows, ejections) from a sidecar's /metrics,
    as {label: value}; None if the file is missing."""
    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, TypeError):
        return None
    values = {}
    for label, name in POLICY_COUNTERS:
        m = re.search(r"^" + name + r"\{[^}]*\} (\d+)$", text, re.M)
        values[label] = int(m.group(1)) if m else None
    return values


def route_split(meta):
    """causeway-policy's route split over the measured runs (the counters' growth between the
    snapshots before the first round and after the last), against the configured weights.
    Returns (rows, counted, canary share %, expected canary share %), or None if unreadable."""
    before = route_counts(meta.get("route_before")) or {}
    after = route_counts(meta.get("route_after"))
    if after is None:
        return None
    weights = {}
    for kv in meta.get("route_weights", "").split():
        name, _, wt = kv.partition("=")
        weights[name] = int(wt)
    by_backend = {}
    for (backend, code), n in after.items():
        d = n - before.get((backend, code), 0)
        b = by_backend.setdefault(backend, {"measured": 0, "total": 0, "codes": {}})
        b["measured"] += d
        b["total"] += n
        if d:
            b["codes"][code] = b["codes"].get(code, 0) + d
    counted = sum(b["measured"] for b in by_backend.values())
    total_weight = sum(weights.values())
    rows = []
    canary = expected = None
    for backend, b in sorted(by_backend.items()):
        # The counters name a backend as its Service (maybe with the namespace after a dot).
        name = next((n for n in weights if backend == n or backend.startswith(n + ".")), None)
        share = 100.0 * b["measured"] / counted if counted else None
        want = 100.0 * weights[name] / total_weight if name and total_weight else None
        if name and name.startswith("canary"):
            canary, expected = share, want
        rows.append([backend or "(none)", str(b["measured"]), fmt(share, ".2f"), fmt(want, ".1f"),
                     " ".join(f"{c}:{n}" for c, n in sorted(b["codes"].items())) or "-",
                     str(b["total"])])
    return rows, counted, canary, expected


def ratio(a, b):
    return a / b if (a is not None and b) else None


def chain_runs(runs_path, clk_tck, body_size):
    runs = []
    for row in read_rows(runs_path):
        r = parse_run(row, int(row["requests"]), body_size)
        r["phase"], r["requests"] = row["phase"], int(row["requests"])
        done = r["done"] or 0

        def delta(k):
            return int(row[k + "1"]) - int(row[k + "0"])

        def per_req(v, scale):
            return v * scale / done if done else None
        tick_us = 1e6 / clk_tck
        r["s_us"] = per_req(delta("scpu"), tick_us)
        r["g_us"] = per_req(delta("gcpu"), tick_us)
        r["cpu_us"] = per_req(delta("scpu") + delta("gcpu"), tick_us)
        r["sched_us"] = per_req(delta("ssched") + delta("gsched"), 1e-3)
        r["backend_us"] = per_req(delta("bcpu"), tick_us)
        r["log_bytes"] = per_req(delta("slog") + delta("glog"), 1.0)
        r["links"] = int(row["links"]) if row.get("links", "").isdigit() else None
        r["link_down"], r["link_up"], r["link_segs"] = link_per_request(
            row.get("link0"), row.get("link1"), done)
        runs.append(r)
    return runs


def link_per_request(before_path, after_path, done):
    """Sidecar -> gateway link, per request: ciphertext bytes gateway->sidecar, bytes
    sidecar->gateway, and data segments both ways, from two `link_sockets` snapshots
    (lport bytes_sent bytes_received data_segs_out data_segs_in). A socket that is new in
    the second snapshot counts from zero; one that closed in between is lost (rare)."""
    def load(path):
        d = {}
        try:
            for line in open(path, encoding="ascii"):
                f = line.split()
                if len(f) == 5:
                    d[f[0]] = [int(x) for x in f[1:]]
        except (OSError, TypeError, ValueError):
            return None
        return d
    a, b = load(before_path), load(after_path)
    if a is None or b is None or not done or not b:
        return None, None, None
    delta = [0, 0, 0, 0]
    for port, vals in b.items():
        base = a.get(port, [0, 0, 0, 0])
        for i in range(4):
            delta[i] += vals[i] - base[i]
    if min(delta) < 0:
        return None, None, None
    return delta[1] / done, delta[0] / done, (delta[2] + delta[3]) / done


def chain_memory(mem_path):
    """system -> {rc, threads, sidecar_rss, rss_before, rss_after, opened, alive, tls, ...}"""
    mem = {}
    try:
        lines = open(mem_path, encoding="utf-8").read().splitlines()
    except OSError:
        return mem
    for line in lines[1:]:
        system, rc, threads, sidecar_rss, result = (line.split("\t", 4) + [""] * 5)[:5]
        m = {"rc": int(rc or 1), "threads": threads, "sidecar_rss": sidecar_rss}
        add_key_values(m, result.split("\t"))
        try:
            opened, mid_count = int(m["opened"]), int(m.get("mid_count", 0))
            before, after = int(m["rss_before"]), int(m["rss_after"])
            mid = int(m.get("rss_mid", before))
            # All connections over the whole RSS growth, and the marginal slope over the last
            # four fifths (the figure quoted: the first ones may reuse freed memory).
            m["kib_all"] = (after - before) / opened if opened else None
            m["kib_per_conn"] = ((after - mid) / (opened - mid_count) if opened > mid_count
                                 else m["kib_all"])
        except (KeyError, ValueError):
            m["kib_per_conn"] = m["kib_all"] = None
        mem[system] = m
    return mem


def chain_main(argv):
    meta_path, runs_path, warmup_path, mem_path, clk_tck, md_path = argv
    clk_tck = int(clk_tck)
    meta = read_meta(meta_path)
    body_size = int(meta["body_size"])
    systems = meta["systems"].split()
    rounds = int(meta["rounds"])
    runs = chain_runs(runs_path, clk_tck, body_size)
    mem = chain_memory(mem_path)
    rate = int(meta["rate"])

    out, w = report_start("Causeway two-hop chain benchmark — bench/chain.sh", meta)
    w("  chain       h2load -h2c-> sidecar (cluster1) -mTLS h2-> gateway (cluster2) -h2c-> nghttpd; "
      "one worker per proxy, all on 127.0.0.1")
    w(f"  command     {meta['command']}")
    w(f"  saturated   {meta['h2load_saturated']}")
    if rate:
        w(f"  fixed rate  {meta['h2load_rate']}  ({rate} req/s in total = "
          f"{meta['rate_per_client']} per client)")
    w(f"  rounds      {rounds}; each round: every system saturated, then every system at the fixed "
      f"rate, in the order {' '.join(systems)}; warm-up {meta['warmup']} requests per system")
    w(f"  body        {body_size} bytes")
    w(f"  backend     {meta['backend']}")
    w(f"  windows     {meta['windows']}")
    w(f"  certs       {meta['certs']}; {meta['key_type']}")
    if int(meta["idle_conns"]):
        w(f"  idle mTLS   {meta['idle_conns']} connections to each gateway (python ssl, sidecar's "
          f"client certificate, ALPN h2, preface + SETTINGS, then idle {meta['idle_settle']} s), "
          f"after the warm-up, in two batches (a fifth, then the rest); gateway VmRSS growth over "
          f"the second batch divided by its connections")
    for s in systems:
        w(f"  {s + ' sidecar':<16} {meta['cmd_' + s + '_sidecar']}")
        w(f"  {s + ' gateway':<16} {meta['cmd_' + s + '_gateway']}")
    if "causeway-policy" in systems:
        w(f"  policy      causeway-policy = the causeway chain (its own two processes) whose sidecar "
          f"also has an HTTPRoute on backend-cluster2 splitting {meta.get('route_weights', '?')} "
          f"between two mirrors of the same gateway (which exports backend and canary, both to "
          f"nghttpd), and a DestinationRule for each (connectionPool limits 100000, "
          f"outlierDetection); the split is read from the sidecar's "
          f"causeway_route_backend_requests_total before the first and after the last round")
    if meta.get("envoy_link_ciphers"):
        w(f"  envoy link  sidecar -> gateway connections negotiated (Envoy admin stats): "
          f"{meta['envoy_link_ciphers']}")
    if meta.get("envoy_note"):
        w(f"  envoy       NOT RUN: {meta['envoy_note']}")
    w(f"  CPU         utime+stime of both proxies' process trees from /proc/PID/stat "
      f"({clk_tck} ticks/s) before and after each h2load run, divided by the requests done; "
      f"sched = sum_exec_runtime cross-check")
    w("")

    def run_rows(phase):
        rows = []
        for r in runs:
            if r["phase"] != phase:
                continue
            row = (outcome_cells(r)
                   + [fmt(r["cpu_us"], ".2f"), fmt(r["s_us"], ".2f"), fmt(r["g_us"], ".2f"),
                      fmt(r["sched_us"], ".2f"), fmt(r["backend_us"], ".2f")]
                   + latency_cells(r))
            row += [fmt(r["link_down"], ".1f"), fmt(r["link_up"], ".1f"), fmt(r["link_segs"], ".3f")]
            if phase == "saturated":
                row += [fmt(r["links"], "d"), fmt(r["log_bytes"], ".1f")]
            rows.append(row)
        return rows

    cols = ["system", "round", "req/s", "failed", "errored", "timeout", "non-2xx", "CPU µs/req",
            "sidecar", "gateway", "sched µs/req", "backend µs/req", "p50 µs", "p99 µs", "p99.9 µs"]
    cols += ["link B/resp", "link B/req", "link segs/req"]
    w(f"Saturated runs ({meta['requests']} requests each; CPU µs/req = sidecar + gateway; "
      f"link = the sidecar -> gateway TCP connections)")
    text_table(cols + ["s->g conns", "log B/req"], run_rows("saturated"), w)
    w("")
    if rate:
        w(f"Fixed-rate runs ({rate} req/s, {meta['rate_requests']} requests each)")
        text_table(cols, run_rows("rate"), w)
        w("")
    w("  link B/resp, link B/req: bytes on the wire (TLS records) gateway -> sidecar and sidecar -> gateway, "
      "per request; link segs/req: TCP data segments both ways (kernel tcp_info via ss)")
    w("")

    if mem:
        w(f"Idle mTLS connections to the gateway ({meta['idle_conns']} each)")
        mrows = []
        for s in systems:
            m = mem.get(s)
            if not m:
                continue
            mrows.append([s, m.get("opened", "-"), m.get("alive", "-"), m.get("rss_before", "-"),
                          f"{m.get('rss_mid', '-')} ({m.get('mid_count', '-')})",
                          m.get("rss_after", "-"), fmt(m["kib_all"], ".1f"),
                          fmt(m["kib_per_conn"], ".1f"),
                          f"{m.get('tls', '-')} {m.get('cipher', '-')} {m.get('alpn', '-')}",
                          m.get("handshake_ms", "-"), m.get("threads", "-")])
        text_table(["system", "opened", "alive", "RSS before KiB", "RSS mid KiB (conns)",
                    "RSS after KiB", "KiB/conn all", "KiB/conn marginal", "negotiated (python client)",
                    "ms/conn setup", "gateway threads"], mrows, w)
        w("  KiB/conn marginal = (RSS after - RSS mid) / (opened - mid conns): the figure quoted "
          "as KiB per idle mTLS connection")
        w("")

    med = {}
    for s in systems:
        sat = [r for r in runs if r["system"] == s and r["phase"] == "saturated"]
        rt = [r for r in runs if r["system"] == s and r["phase"] == "rate"]
        cpu = [r["cpu_us"] for r in sat if r["cpu_us"] is not None]
        med[s] = {
            "runs": len(sat), "rps": median_or_none([r["rps"] for r in sat]),
            "cpu": median_or_none(cpu), "cpu_min": min(cpu) if cpu else None,
            "cpu_max": max(cpu) if cpu else None,
            "s_us": median_or_none([r["s_us"] for r in sat]),
            "g_us": median_or_none([r["g_us"] for r in sat]),
            "sat_p50": median_or_none([r["p50"] for r in sat]),
            "sat_p99": median_or_none([r["p99"] for r in sat]),
            "rate_cpu": median_or_none([r["cpu_us"] for r in rt]),
            "p50": median_or_none([r["p50"] for r in rt]),
            "p99": median_or_none([r["p99"] for r in rt]),
            "kib": mem.get(s, {}).get("kib_per_conn"),
            "link_down": median_or_none([r["link_down"] for r in sat]),
            "link_segs": median_or_none([r["link_segs"] for r in sat]),
            "bad": sum((r["bad"] if r["bad"] is not None else r["requests"]) for r in sat + rt),
            "measured": sum(r["requests"] for r in sat + rt),
        }
    w("Medians per system")
    srows = []
    for s in systems:
        m = med[s]
        srows.append([s, str(m["runs"]), fmt(m["rps"], ".0f"), fmt(m["cpu"], ".2f"),
                      f"{m['cpu_min']:.2f}-{m['cpu_max']:.2f}" if m["cpu"] is not None else "-",
                      fmt(m["s_us"], ".2f"), fmt(m["g_us"], ".2f"),
                      fmt(m["sat_p50"], ".0f"), fmt(m["sat_p99"], ".0f"),
                      fmt(m["rate_cpu"], ".1f"), fmt(m["p50"], ".0f"), fmt(m["p99"], ".0f"),
                      fmt(m["kib"], ".1f"), fmt(m["link_down"], ".1f"), fmt(m["link_segs"], ".3f"),
                      f"{m['bad']}/{m['measured']}"])
    text_table(["system", "rounds", "sat req/s", "CPU µs/req", "(min-max)", "sidecar", "gateway",
                "sat p50 µs", "sat p99 µs", f"CPU µs/req @{rate}", f"p50 µs @{rate}",
                f"p99 µs @{rate}", "KiB/idle TLS conn", "sat link B/resp", "sat link segs/req",
                "failed"], srows, w)
    w("")

    broken = []
    for r in runs:
        broken += run_problems(r, f"{r['system']} round {r['round']} {r['phase']}", r["requests"],
                               body_size)
    phases = ["saturated"] + (["rate"] if rate else [])
    for s in systems:
        for ph in phases:
            done_rounds = {r["round"] for r in runs if r["system"] == s and r["phase"] == ph}
            skipped = [str(n) for n in range(1, rounds + 1) if n not in done_rounds]
            if skipped:
                why = meta.get(f"dead_{s}") or (f"stalled in {meta.get(f'stalled_{s}')}"
                                                if meta.get(f"stalled_{s}") else "?")
                broken.append(f"{s} {ph}: round(s) {', '.join(skipped)} skipped ({why})")
    notes = warmup_notes(warmup_path)
    for s, m in mem.items():
        if m["rc"] != 0:
            notes.append(f"{s}: idle mTLS measurement incomplete (opened {m.get('opened', '?')}, "
                         f"still open {m.get('alive', '?')} of {meta['idle_conns']}; see "
                         f"idle-{s}.err in the raw outputs)")

    split = route_split(meta) if "causeway-policy" in systems else None
    if split is not None:
        rows, counted, _canary, _expected = split
        w("Route split of causeway-policy's sidecar (causeway_route_backend_requests_total; "
          "measured = growth over the measured runs)")
        text_table(["backend", "measured", "share %", "weight %", "codes (measured)",
                    "since start"], rows, w)
        w(f"  {counted} requests counted by the route over the measured runs; causeway-policy's "
          f"runs sent {med['causeway-policy']['measured']}")
        w("")

    total_bad = sum(m["bad"] for m in med.values())
    measured = sum(m["measured"] for m in med.values())
    w("Verdict")
    verdict_md = []
    cw = med.get("causeway")
    for other, label in (("nghttpx", "Causeway/nghttpx"), ("envoy", "Causeway/Envoy")):
        o = med.get(other)
        if not (cw and o):
            continue
        line = (f"CPU µs/req {fmt(ratio(cw['cpu'], o['cpu']), '.2f')}x, "
                f"req/s {fmt(ratio(cw['rps'], o['rps']), '.2f')}x, "
                f"p50 @{rate} {fmt(ratio(cw['p50'], o['p50']), '.2f')}x, "
                f"p99 @{rate} {fmt(ratio(cw['p99'], o['p99']), '.2f')}x, "
                f"KiB/idle conn {fmt(ratio(cw['kib'], o['kib']), '.2f')}x")
        w(f"  {label:<17} {line}  (ratios of medians)")
        verdict_md.append(f"- {label}: {line} (ratios of medians)")
        paired = per_round_ratios([r for r in runs if r["phase"] == "saturated"], other)
        w(f"  {'per round':<17} CPU µs/req ratio {' '.join(paired)}")
        verdict_md.append(f"  per round CPU µs/req ratio: {' '.join(paired)}")
    cpu_ratio = None
    if cw and med.get("nghttpx") and cw["cpu"] and med["nghttpx"]["cpu"]:
        cpu_ratio = cw["cpu"] / med["nghttpx"]["cpu"]
        met = cpu_ratio <= CHAIN_TARGET and total_bad == 0 and not broken
        target = (f"CPU/req <= nghttpx's ({cpu_ratio:.2f}x: "
                  f"{'yes' if cpu_ratio <= CHAIN_TARGET else 'NO'}) and 0 failed requests "
                  f"({total_bad} failed: {'yes' if total_bad == 0 and not broken else 'NO'}): "
                  + ("met" if met else "NOT met"))
        w(f"  issue 3 target    {target}")
        verdict_md.append(f"- issue 3 target: {target}")
    else:
        w("  issue 3 target    - (needs causeway and nghttpx)")

    # causeway-policy against causeway (issue 8), and the split its route made.
    cp = med.get("causeway-policy")
    policy_problems = []
    policy_ratio = None
    if cp:
        if split is None:
            policy_problems.append("causeway-policy: no route counters from its sidecar's /metrics "
                                   "(see causeway-policy-route-backends.*.txt in the raw outputs)")
        else:
            _rows, counted, canary, expected = split
            if canary is None or expected is None:
                policy_problems.append("causeway-policy: the route counters show no canary backend")
            elif abs(canary - expected) > SPLIT_TOLERANCE:
                policy_problems.append(f"causeway-policy: canary share {canary:.2f}% of the measured "
                                       f"requests, configured {expected:.1f}%")
            if counted != cp["measured"]:
                policy_problems.append(f"causeway-policy: its route counted {counted} requests, the "
                                       f"measured runs sent {cp['measured']}")
    if cp and cw:
        policy_ratio = ratio(cp["cpu"], cw["cpu"])
        line = (f"CPU µs/req {fmt(policy_ratio, '.2f')}x (sidecar "
                f"{fmt(ratio(cp['s_us'], cw['s_us']), '.2f')}x, gateway "
                f"{fmt(ratio(cp['g_us'], cw['g_us']), '.2f')}x), "
                f"req/s {fmt(ratio(cp['rps'], cw['rps']), '.2f')}x")
        if rate:
            line += (f", p50 @{rate} {fmt(ratio(cp['p50'], cw['p50']), '.2f')}x, "
                     f"p99 @{rate} {fmt(ratio(cp['p99'], cw['p99']), '.2f')}x, "
                     f"CPU µs/req @{rate} {fmt(ratio(cp['rate_cpu'], cw['rate_cpu']), '.2f')}x")
        w(f"  {'policy/causeway':<17} {line}  (causeway-policy / causeway, ratios of medians)")
        verdict_md.append(f"- causeway-policy/causeway: {line} (ratios of medians)")
        paired = per_round_ratios([r for r in runs if r["phase"] == "saturated"], "causeway",
                                  base="causeway-policy")
        w(f"  {'per round':<17} CPU µs/req ratio {' '.join(paired)}")
        verdict_md.append(f"  per round CPU µs/req ratio: {' '.join(paired)}")
        if policy_ratio is not None:
            bad2 = cp["bad"] + cw["bad"]
            ok_ratio = policy_ratio <= POLICY_TARGET
            ok_bad = bad2 == 0 and not broken and not policy_problems
            target = (f"CPU/req <= {POLICY_TARGET:.2f}x causeway's ({policy_ratio:.2f}x: "
                      f"{'yes' if ok_ratio else 'NO'}) and 0 failed requests ({bad2} failed"
                      f"{', route check failed' if policy_problems else ''}: "
                      f"{'yes' if ok_bad else 'NO'}): " + ("met" if ok_ratio and ok_bad else "NOT met"))
            w(f"  issue 8 target    {target}")
            verdict_md.append(f"- issue 8 target: {target}")
    elif cp:
        w("  policy/causeway   - (needs causeway in --systems too)")
        w("  issue 8 target    - (needs causeway and causeway-policy)")
    if cp and split is not None:
        rows, counted, canary, expected = split
        shares = ", ".join(f"{r[0]} {r[2]}%" for r in rows)
        w(f"  route split       canary {fmt(canary, '.2f')}% (configured {fmt(expected, '.1f')}%) of "
          f"{counted} measured requests: {shares}")
        verdict_md.append(f"- causeway-policy route split: canary {fmt(canary, '.2f')}% (configured "
                          f"{fmt(expected, '.1f')}%) of {counted:,} measured requests")
    if cp:
        limits = policy_limit_counters(meta.get("policy_metrics"))
        if limits is None:
            w("  policy limits     - (no /metrics from causeway-policy's sidecar)")
        else:
            text = ", ".join(f"{k} {v}" for k, v in limits.items())
            w(f"  policy limits     {text} (causeway-policy's sidecar, whole run: all 0 = no limit "
              f"tripped, no endpoint ejected)")
            if any(limits.values()):
                notes.append(f"causeway-policy: limits or ejections acted during the run ({text}): the "
                             f"DestinationRule was meant never to trip")
    limit = meta.get("max_policy_ratio")
    policy_over = policy_ratio is not None and bool(limit) and policy_ratio > float(limit)
    if policy_over:
        w(f"  FAIL: causeway-policy/causeway CPU ratio {policy_ratio:.2f} above --max-policy-ratio {limit}")
    status = verdict_end(w, meta, cpu_ratio, total_bad, measured, broken + policy_problems, notes)
    if status == 0 and policy_over:
        status = 3

    # Markdown summary, for bench/README.md.
    md = []
    md.append(f"Measured {meta['date']}, Causeway {meta.get('causeway', '-')}, on "
              f"{meta['nproc']} x {meta['cpu']}, {meta['memory']}, {meta['kernel']}; "
              f"{meta['nghttp2']}; {meta.get('envoy') or 'no Envoy'}; {meta['openssl']}.")
    md.append(f"Command: `{meta['command']}`. Saturated: `{meta['h2load_saturated']}`; fixed rate: "
              f"{rate} req/s (`--rps {meta['rate_per_client']}` per client, {meta['rate_requests']} "
              f"requests, `--log-file` for latency); {rounds} rounds, alternating "
              f"{' '.join(systems)}; body {body_size} B; windows: {meta['windows']}; "
              f"certificates: {meta['certs']}, {meta['key_type']}. "
              + ("Other load: none seen." if no_other_load(meta)
                 else f"Other load seen: {meta['busy_before']}; {meta['busy_runs']}; {meta['busy_after']}."))
    md.append("")
    md.append(f"| system | saturated req/s | CPU µs/req, both proxies (min–max) | sidecar / gateway µs/req "
              f"| p50 / p99 µs at {rate} req/s | CPU µs/req at {rate} req/s | KiB per idle mTLS conn "
              f"| failed |")
    md.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in systems:
        m = med[s]
        rng = f" ({m['cpu_min']:.2f}–{m['cpu_max']:.2f})" if m["cpu"] is not None else ""
        md.append(f"| {s} | {fmt(m['rps'], ',.0f')} | {fmt(m['cpu'], '.2f')}{rng} | "
                  f"{fmt(m['s_us'], '.2f')} / {fmt(m['g_us'], '.2f')} | "
                  f"{fmt(m['p50'], ',.0f')} / {fmt(m['p99'], ',.0f')} | {fmt(m['rate_cpu'], '.1f')} | "
                  f"{fmt(m['kib'], '.1f')} | {m['bad']} of {m['measured']:,} |")
    md.append("")
    md.extend(verdict_md)
    print_with_summary(out, md, md_path)
    return status


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "chain":
        sys.exit(chain_main(sys.argv[2:]))
    sys.exit(main())
