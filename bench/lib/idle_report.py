#!/usr/bin/env python3
"""Report of bench/idle-memory.sh (stdlib only; the machine block and table helpers are
report.py's).

usage: idle_report.py META.tsv IDLE.tsv SUMMARY.md > report.txt

IDLE.tsv: mode, system, client exit status, proxy threads, open-file limits, and the
key=value line of lib/idle_conns.py. Per mode and system: the proxy's VmRSS before, after the
first batch and after all connections, bytes per idle connection ((after - before) / N, and the
marginal slope over the second batch), the same from RssAnon, and the ratios Causeway/nghttpx
and Causeway/Envoy. Exit status 0 when every measurement held all its connections, 1 otherwise.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import add_key_values, fmt, machine_lines, print_with_summary, read_meta, text_table  # noqa: E402

MODE_TITLE = {
    "h2c": "idle h2c connections to a sidecar listener (one worker)",
    "mtls": "idle mTLS HTTP/2 connections to a gateway listener (one worker, client certificate required)",
}
NAMES = {"causeway": "Causeway", "nghttpx": "nghttpx", "envoy": "Envoy"}


def read_rows(path):
    rows = []
    lines = open(path, encoding="utf-8").read().splitlines()
    for line in lines[1:]:
        mode, system, rc, threads, nofile, *rest = line.split("\t")
        m = {"mode": mode, "system": system, "rc": int(rc or 1), "threads": threads, "nofile": nofile}
        add_key_values(m, rest)
        try:
            count, opened, mid_count = int(m["count"]), int(m["opened"]), int(m["mid_count"])
            before, mid, after = int(m["rss_before"]), int(m["rss_mid"]), int(m["rss_after"])
            abefore, amid, aafter = int(m["anon_before"]), int(m["anon_mid"]), int(m["anon_after"])
            m["b_conn"] = (after - before) * 1024 / count
            m["anon_b_conn"] = (aafter - abefore) * 1024 / count
            rest_n = opened - mid_count
            m["b_marginal"] = (after - mid) * 1024 / rest_n if rest_n > 0 else None
            m["anon_marginal"] = (aafter - amid) * 1024 / rest_n if rest_n > 0 else None
            m["b_first"] = (mid - before) * 1024 / mid_count if mid_count > 0 else None
        except (KeyError, ValueError):
            m["b_conn"] = m["anon_b_conn"] = m["b_marginal"] = m["anon_marginal"] = m["b_first"] = None
        rows.append(m)
    return rows


def ratio(a, b):
    return a / b if a is not None and b else None


def main(argv):
    meta_path, idle_path, md_path = argv
    meta = read_meta(meta_path)
    rows = read_rows(idle_path)
    modes = meta["modes"].split()
    conns = int(meta["conns"])

    out = []
    w = out.append
    w("Causeway idle-connection memory benchmark — bench/idle-memory.sh")
    w("")
    machine = []
    machine_lines(meta, machine.append)
    for line in machine:
        if line.startswith("  other load"):
            # Memory per connection does not depend on CPU load; setup times do.
            busy = "; ".join(f"{k}: {meta[k]}" for k in ("busy_before", "busy_runs", "busy_after")
                             if meta.get(k) not in (None, "", "none"))
            line = ("  other load  " + (busy + " (memory figures do not depend on it; setup times do)"
                                        if busy else "none seen"))
        w(line)
    w(f"  python      {meta.get('python', '-')}")
    w("")
    w("Parameters")
    w(f"  command     {meta['command']}")
    w(f"  connections {conns} per system and mode, all to 127.0.0.1; client lib/idle_conns.py "
      f"(one python3 asyncio loop, raw HTTP/2 frames), {meta['concurrency']} being set up at a time")
    w("  each        [mtls: TLS handshake with the cluster1 sidecar's certificate, ALPN h2, server "
      "verified against the root and IP 127.0.0.1] preface + empty SETTINGS; ACK of the proxy's "
      f"SETTINGS; then {meta['request']}; then idle (PINGs answered)")
    w(f"  readings    proxy VmRSS (and RssAnon) summed over its processes: before the first "
      f"connection, after the first {meta['first']} and after all {conns}, each after "
      f"{meta['settle']} s idle; B/conn = (after - before) x 1024 / {conns}; marginal = "
      f"(after - mid) / (conns - first); a fresh proxy process per measurement, after one smoke "
      f"connection")
    w(f"  fd limits   script {meta['fd_limit']}; proxies inherit it (nghttpx also gets "
      f"--rlimit-nofile); Causeway's per-worker cap at this limit: {meta['causeway_cap']} "
      f"connections")
    w(f"  backend     {meta['backend']}")
    w(f"  windows     {meta['windows']}")
    if "mtls" in modes:
        w(f"  certs       {meta['certs']}; {meta['key_type']}")
    for k in sorted(k for k in meta if k.startswith("cmd_")):
        w(f"  {k[4:]:<14}{meta[k]}")
    if meta.get("envoy_note"):
        w(f"  envoy       NOT RUN: {meta['envoy_note']}")
    w("")

    problems = []
    by = {(r["mode"], r["system"]): r for r in rows}
    md = []
    md.append(f"Measured {meta['date']}, Causeway {meta.get('causeway', '-')}, on {meta['nproc']} x "
              f"{meta['cpu']}, {meta['memory']}, {meta['kernel']}; {meta['nghttp2']}; "
              f"{meta.get('envoy') or 'no Envoy'}; {meta['openssl']}; {meta.get('python', '')}.")
    md.append(f"Command: `{meta['command']}`. {conns} connections per system and mode, "
              f"{meta['concurrency']} set up at a time, each: preface + SETTINGS exchange, "
              f"{meta['request']}, then idle; RSS read after {meta['settle']} s idle; "
              f"windows: {meta['windows']}; open files: {meta['fd_limit']}"
              + (f"; certificates: {meta['certs']}, {meta['key_type']}" if "mtls" in modes else "")
              + ".")
    md.append("")
    md.append("| mode | system | RSS before KiB | RSS after KiB | bytes per idle connection "
              "(after − before) / N | marginal B/conn | opened / still open | proxy CPU ms per "
              "connection set up |")
    md.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    verdict = []
    for mode in modes:
        w(f"{mode}: {MODE_TITLE[mode]}")
        trows = []
        for r in rows:
            if r["mode"] != mode:
                continue
            neg = (f"{r.get('tls', '-')} {r.get('cipher', '-')} {r.get('alpn', '-')}"
                   if mode == "mtls" else "-")
            trows.append([
                r["system"], r.get("opened", "-"), r.get("alive", "-"), r.get("proxy_fds", "-"),
                r.get("rss_before", "-"), f"{r.get('rss_mid', '-')} ({r.get('mid_count', '-')})",
                r.get("rss_after", "-"), fmt(r["b_conn"], ",.0f"), fmt(r["b_marginal"], ",.0f"),
                fmt(r["b_first"], ",.0f"), fmt(r["anon_b_conn"], ",.0f"), r.get("setup_s", "-"),
                f"{r.get('setup_p50_ms', '-')}/{r.get('setup_p99_ms', '-')}",
                r.get("proxy_cpu_ms_per_conn", "-"), r.get("proxy_idle_cpu_pct", "-"), r["threads"],
                r["nofile"], r.get("client_rss_max_kib", "-"), r.get("client_cpu_ms_per_conn", "-"), neg])
            md.append(f"| {mode} | {NAMES.get(r['system'], r['system'])} | {r.get('rss_before', '-')} | "
                      f"{r.get('rss_after', '-')} | **{fmt(r['b_conn'], ',.0f')}** | "
                      f"{fmt(r['b_marginal'], ',.0f')} | "
                      f"{r.get('opened', '-')} / {r.get('alive', '-')} | "
                      f"{r.get('proxy_cpu_ms_per_conn', '-')} |")
            if r["rc"] != 0:
                problems.append(f"{mode} {r['system']}: client exit status {r['rc']}: opened "
                                f"{r.get('opened', '?')}, still open {r.get('alive', '?')} of {conns}"
                                f"{', the proxy exited' if r.get('died') else ''} (see idle-{mode}-"
                                f"{r['system']}.err in the raw outputs)")
        text_table(["system", "opened", "open at end", "proxy fds", "RSS before KiB",
                    "RSS mid KiB (conns)", "RSS after KiB", "B/conn", "marginal B/conn",
                    "first-batch B/conn", "anon B/conn", "setup s", "setup p50/p99 ms",
                    "proxy CPU ms/conn", "idle CPU %", "threads", "nofile", "client max RSS KiB",
                    "client CPU ms/conn", "negotiated"], trows, w)
        w("")
        cw = by.get((mode, "causeway"))
        for other in ("nghttpx", "envoy"):
            o = by.get((mode, other))
            if not (cw and o):
                continue
            r1, r2 = ratio(cw["b_conn"], o["b_conn"]), ratio(cw["b_marginal"], o["b_marginal"])
            r3 = ratio(cw["anon_b_conn"], o["anon_b_conn"])
            verdict.append((mode, f"Causeway/{NAMES[other]}", r1, r2, r3))

    w("Ratios (same run)")
    vrows = [[mode, label, fmt(a, ".2f") + "x", fmt(b, ".2f") + "x", fmt(c, ".2f") + "x"]
             for mode, label, a, b, c in verdict]
    text_table(["mode", "", "B/conn", "marginal B/conn", "anon B/conn"], vrows, w)
    w("")
    w("  B/conn = (VmRSS after - VmRSS before) / connections: the figure to quote. marginal = over the")
    w("  second batch only; first-batch = over the first (may reuse memory the allocator kept). anon =")
    w("  the same from RssAnon (heap and mmap'd memory, no file pages). Kernel socket memory (TCP")
    w("  buffers) is in no process's RSS and is not counted. proxy CPU ms/conn: the proxy's utime +")
    w("  stime from the first connection until the last one is set up (the settle after the first batch")
    w("  included), per connection: mostly handshakes; idle CPU %: of one CPU while all connections sat")
    w("  idle. client: the python client's peak RSS, and its whole CPU time per connection.")
    w("")
    md.append("")
    for mode, label, a, b, c in verdict:
        md.append(f"- {mode}: {label} **{fmt(a, '.2f')}×** bytes per idle connection "
                  f"(marginal {fmt(b, '.2f')}×, anonymous memory {fmt(c, '.2f')}×)")
    if meta.get("envoy_note"):
        md.append(f"- Envoy not run: {meta['envoy_note']}")

    w("Verdict")
    if problems:
        for p in problems:
            w(f"  PROBLEM     {p}")
    else:
        w(f"  connections every measurement set up all {conns} and all were still open at the end")
    print_with_summary(out, md, md_path)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
