#!/usr/bin/env python3
"""Report for bench/h2c-single-hop.sh (stdlib only).

usage: report.py META.tsv RUNS.tsv WARMUP.tsv CLK_TCK > report.txt

Parses h2load's output of each run, computes proxy CPU per request from the
/proc tick counts the script recorded, latency percentiles from h2load's
--log-file, medians per system and the Causeway/nghttpx ratios.
Exit status: 0 ok, 1 a request failed (or a run broke), 3 CPU ratio above the limit.
"""
import re
import statistics
import sys

DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


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


def main():
    meta_path, runs_path, warmup_path, clk_tck = sys.argv[1:5]
    clk_tck = int(clk_tck)
    meta = {}
    for line in open(meta_path, encoding="utf-8"):
        k, _, v = line.rstrip("\n").partition("\t")
        meta[k] = v
    requests = int(meta["requests"])
    body_size = int(meta["body_size"])
    systems = meta["systems"].split()

    runs = []
    lines = open(runs_path, encoding="utf-8").read().splitlines()
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t")))
        r = parse_h2load(row["output"])
        r["system"] = row["system"]
        r["round"] = int(row["round"])
        r["rc"] = int(row["rc"])
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
        r["p50"], r["p99"], r["p999"] = latency_percentiles(row["latency_log"])
        r["bad"] = bad_requests(r, requests)
        r["body_ok"] = (r["data_bytes"] is not None and r["succeeded"]
                        and r["data_bytes"] == r["succeeded"] * body_size)
        runs.append(r)

    out = []
    w = out.append
    w("Causeway h2c single-hop benchmark — bench/h2c-single-hop.sh")
    w("")
    w("Machine")
    w(f"  date        {meta['date']}")
    w(f"  cpu         {meta['nproc']} x {meta['cpu']}  (cgroup cpu.max: {meta['cgroup_cpu_max']})")
    w(f"  memory      {meta['memory']}")
    w(f"  kernel      {meta['kernel']}")
    w(f"  nghttp2     {meta['nghttp2']}")
    w(f"  swift       {meta['swift']}")
    if "causeway" in meta:
        w(f"  causeway    {meta['causeway']}")
    if meta["busy_before"] == meta["busy_runs"] == meta["busy_after"] == "none":
        w("  other load  none seen (no other process used >= 10% of a CPU in the 2 s before the "
          "warm-up, the 1 s before each run, or the 2 s at the end)")
    else:
        w(f"  other load  FIGURES SUSPECT: before warm-up: {meta['busy_before']}; "
          f"before runs: {meta['busy_runs']}; at the end: {meta['busy_after']}")
    w("")
    w("Parameters")
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
    table = []
    for r in runs:
        non2xx = None if r["succeeded"] is None else (r["done"] or 0) - (r["s2xx"] or 0)
        table.append([r["system"], str(r["round"]), fmt(r["rps"], ".0f"),
                      fmt(r["failed"], "d"), fmt(r["errored"], "d"), fmt(r["timeout"], "d"),
                      fmt(non2xx, "d"), fmt(r["cpu_us"], ".2f"), fmt(r["sched_us"], ".2f"),
                      fmt(r["backend_us"], ".2f"),
                      fmt(r["p50"], "d"), fmt(r["p99"], "d"), fmt(r["p999"], "d"),
                      fmt(r["log_bytes"], ".1f")])
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(cols)]

    def line(row):
        return "  " + "  ".join(v.ljust(widths[i]) if i == 0 else v.rjust(widths[i])
                                for i, v in enumerate(row))
    w(f"Runs ({requests} requests each)")
    w(line(cols))
    for row in table:
        w(line(row))
    w("")

    med = {}
    w("Medians per system")
    mcols = ["system", "runs", "req/s", "CPU µs/req", "(min-max)", "p50 µs", "p99 µs"]
    mrows = []
    for s in systems:
        rs = [r for r in runs if r["system"] == s]
        rps = [r["rps"] for r in rs if r["rps"] is not None]
        cpu = [r["cpu_us"] for r in rs if r["cpu_us"] is not None]
        p50 = [r["p50"] for r in rs if r["p50"] is not None]
        p99 = [r["p99"] for r in rs if r["p99"] is not None]
        med[s] = {"rps": statistics.median(rps) if rps else None,
                  "cpu": statistics.median(cpu) if cpu else None}
        mrows.append([s, str(len(rs)), fmt(med[s]["rps"], ".0f"), fmt(med[s]["cpu"], ".2f"),
                      f"{min(cpu):.2f}-{max(cpu):.2f}" if cpu else "-",
                      fmt(statistics.median(p50) if p50 else None, ".0f"),
                      fmt(statistics.median(p99) if p99 else None, ".0f")])
    mw = [max(len(c), *(len(row[i]) for row in mrows)) for i, c in enumerate(mcols)]
    for row in [mcols] + mrows:
        w("  " + "  ".join(v.ljust(mw[i]) if i == 0 else v.rjust(mw[i]) for i, v in enumerate(row)))
    w("")

    status = 0
    total_bad = 0
    broken = []
    for r in runs:
        if r["bad"] is None:
            # No summary: h2load was killed (a stall) or crashed. Count the whole run as bad.
            total_bad += requests
            broken.append(f"{r['system']} round {r['round']}: no summary from h2load (exit status "
                          f"{r['rc']}{', killed by --run-timeout' if r['rc'] in (124, 137) else ''}); "
                          f"it had reported {r['progress']}% of {requests} requests done")
        else:
            total_bad += r["bad"]
            if r["rc"] != 0:
                broken.append(f"{r['system']} round {r['round']}: h2load exit status {r['rc']}")
        if r["bad"] == 0 and not r["body_ok"]:
            broken.append(f"{r['system']} round {r['round']}: received {r['data_bytes']} body bytes, "
                          f"expected {r['succeeded']} x {body_size}")
    warm_bad = []
    for line_ in open(warmup_path, encoding="utf-8").read().splitlines():
        s, rc, path = line_.split("\t")
        wr = parse_h2load(path)
        wb = None if wr["total"] is None else wr["failed"] + wr["errored"] + wr["timeout"]
        if wb is None or wb > 0:
            warm_bad.append(f"{s}: {'unreadable' if wb is None else wb} failed in warm-up")

    rounds = int(meta["rounds"])
    for s_ in systems:
        done_rounds = {r["round"] for r in runs if r["system"] == s_}
        skipped = [str(n) for n in range(1, rounds + 1) if n not in done_rounds]
        if skipped:
            broken.append(f"{s_}: round(s) {', '.join(skipped)} skipped after a stalled run")
    measured = sum(1 for _ in runs) * requests
    w("Verdict")
    if "causeway" in med and "nghttpx" in med and med["nghttpx"]["cpu"] and med["causeway"]["cpu"]:
        cpu_ratio = med["causeway"]["cpu"] / med["nghttpx"]["cpu"]
        rps_ratio = (med["causeway"]["rps"] / med["nghttpx"]["rps"]
                     if med["nghttpx"]["rps"] and med["causeway"]["rps"] else None)
        w(f"  Causeway/nghttpx  CPU µs/req {cpu_ratio:.2f}x   req/s {fmt(rps_ratio, '.2f')}x   "
          f"(ratios of medians)")
        by_round = {}
        for r in runs:
            by_round.setdefault(r["round"], {})[r["system"]] = r
        paired = [f"{rr['causeway']['cpu_us'] / rr['nghttpx']['cpu_us']:.2f}"
                  for _, rr in sorted(by_round.items())
                  if "causeway" in rr and "nghttpx" in rr
                  and rr["causeway"]["cpu_us"] and rr["nghttpx"]["cpu_us"]]
        w(f"  per round         CPU µs/req ratio {' '.join(paired)}")
        target = 1.5
        w(f"  issue 2 target    CPU/req <= {target}x nghttpx: "
          + ("met" if cpu_ratio <= target else "NOT met"))
        limit = meta.get("max_cpu_ratio")
        if limit and cpu_ratio > float(limit):
            w(f"  FAIL: CPU ratio {cpu_ratio:.2f} above --max-cpu-ratio {limit}")
            status = 3
    else:
        w("  Causeway/nghttpx  - (needs both systems)")
    if total_bad == 0 and not broken:
        w(f"  requests          0 failed, errored, timed out or non-2xx of {measured} measured")
    else:
        w(f"  FAIL: {total_bad} of {measured} measured requests failed, errored, timed out "
          f"or were not 2xx")
        status = 1
    for b in broken:
        w(f"  FAIL: {b}")
        status = 1
    for b in warm_bad:
        w(f"  note: {b}")
    w(f"  raw outputs       {meta['raw']}")
    print("\n".join(out))
    return status


if __name__ == "__main__":
    sys.exit(main())
