#!/usr/bin/env bash
# bench/h2c-single-hop.sh — Causeway vs nghttpx, single-hop h2c, one worker each.
#
#   h2load ──h2c──▶ proxy (Causeway | nghttpx) ──h2c──▶ nghttpd (static file)
#
# Runs the systems alternately (A B A B …), reads each proxy's CPU time from /proc,
# and prints req/s, failures, proxy CPU µs per request, medians and the ratio
# Causeway/nghttpx, with the machine and parameters beside the figures.
# See bench/README.md. Run `bash bench/h2c-single-hop.sh --help` for options.
# shellcheck disable=SC2317  # cleanup() and what it calls run from traps
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

# ---------------------------------------------------------------- parameters
# Every flag has an environment-variable twin (flags win).
ROUNDS=${ROUNDS:-3}
REGIME=${REGIME:-saturated}          # saturated | single | rate
REQUESTS=${REQUESTS:-}               # default depends on the regime
CLIENTS=${CLIENTS:-}
STREAMS=${STREAMS:-}
RPS=${RPS:-}                         # total target req/s (rate regime)
WARMUP=${WARMUP:-}                   # warm-up requests per system (default depends on the regime)
BODY_SIZE=${BODY_SIZE:-100}          # response body bytes
# HTTP/2 settings given to both proxies (nghttpx flags on both its sides; Causeway's
# spec.http2). Defaults are Causeway's own (docs/configuration.md): 1 MiB per stream,
# 16 MiB per connection, 256 concurrent streams.
STREAM_WINDOW=${STREAM_WINDOW:-1048576}
CONN_WINDOW=${CONN_WINDOW:-16777216}
MAX_STREAMS=${MAX_STREAMS:-256}
SYSTEMS=${SYSTEMS:-causeway,nghttpx} # any of causeway, nghttpx, direct (h2load → nghttpd, no proxy)
PIN=${PIN:-0}                        # 1: proxy on CPU 1, h2load and nghttpd on CPU 0
MAX_CPU_RATIO=${MAX_CPU_RATIO:-}     # if set, exit 3 when Causeway/nghttpx CPU/req exceeds it
RUN_TIMEOUT=${RUN_TIMEOUT:-300}      # seconds; an h2load run that takes longer is killed and fails
CAUSEWAY_BIN=${CAUSEWAY_BIN:-}       # skip the build and use this binary
CAUSEWAY_SCRATCH=${CAUSEWAY_SCRATCH:-} # --scratch-path for `swift build` (default: .build)
NGHTTPX_EXTRA_ARGS=${NGHTTPX_EXTRA_ARGS:-} # appended to nghttpx's command line (word-split)
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
KEEP_TMP=${KEEP_TMP:-0}

usage() {
  cat <<'EOF'
Usage: bash bench/h2c-single-hop.sh [options]

Topology: h2load -> proxy (one worker) -> nghttpd, all h2c on 127.0.0.1.

  --regime R            saturated (default: -n 200000 -c 10 -m 10)
                        single    (one request in flight: -n 100000 -c 1 -m 1)
                        rate      (fixed rate: --rps 1000 total, -c 10 -m 10, 20 s of requests)
  --rounds N            rounds of A B A B ... (default 3)
  -n, --requests N      requests per measured run
  -c, --clients N       h2load connections
  -m, --streams N       h2load max concurrent streams per connection
  --rps N               total target req/s (implies --regime rate); h2load gets N/clients per client
  --warmup N            warm-up requests per system before the rounds (0 = none)
  --body-size BYTES     response body size (default 100; 100 -> /hello, else /body-BYTES)
  --stream-window SIZE  per-stream receive window, bytes, both proxies (default 1048576)
  --conn-window SIZE    per-connection receive window, bytes, both proxies (default 16777216)
  --max-streams N       SETTINGS_MAX_CONCURRENT_STREAMS to clients, both proxies (default 256)
                        (defaults = Causeway's spec.http2 defaults)
  --systems LIST        comma list of causeway,nghttpx,direct (default causeway,nghttpx)
  --no-causeway         same as --systems nghttpx (harness check without Causeway)
  --with-direct         add the 'direct' system (h2load -> nghttpd, no proxy) for reference
  --pin                 pin the proxy to CPU 1, h2load and nghttpd to CPU 0
  --max-cpu-ratio X     exit 3 if median CPU/req Causeway/nghttpx > X (e.g. 1.5)
  --run-timeout SEC     kill an h2load run after SEC seconds (default 300); a system whose
                        run was killed is skipped in later rounds (it stalled)
  --keep-tmp            keep the temporary directory (configs, logs)
  -h, --help            this help

Environment: CAUSEWAY_BIN=path skips `swift build -c release --product causeway`;
CAUSEWAY_SCRATCH=dir passes --scratch-path to that build; NGHTTPX_EXTRA_ARGS adds nghttpx flags.
Every option also has an upper-case variable (ROUNDS, REQUESTS, CLIENTS, STREAMS, RPS, ...).
Exit status: 0 ok; 1 some request failed/errored/timed out/was not 2xx; 2 setup error;
3 CPU ratio above --max-cpu-ratio.
EOF
}

die() { echo "h2c-single-hop: error: $*" >&2; exit 2; }
say() { echo "h2c-single-hop: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --regime) REGIME=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -n|--requests) REQUESTS=$2; shift 2 ;;
    -c|--clients) CLIENTS=$2; shift 2 ;;
    -m|--streams) STREAMS=$2; shift 2 ;;
    --rps) RPS=$2; REGIME=rate; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --body-size) BODY_SIZE=$2; shift 2 ;;
    --stream-window) STREAM_WINDOW=$2; shift 2 ;;
    --conn-window) CONN_WINDOW=$2; shift 2 ;;
    --max-streams) MAX_STREAMS=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --no-causeway) SYSTEMS=nghttpx; shift ;;
    --with-direct) SYSTEMS="$SYSTEMS,direct"; shift ;;
    --pin) PIN=1; shift ;;
    --max-cpu-ratio) MAX_CPU_RATIO=$2; shift 2 ;;
    --run-timeout) RUN_TIMEOUT=$2; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

case "$REGIME" in
  saturated) : "${REQUESTS:=200000}" "${CLIENTS:=10}" "${STREAMS:=10}" "${WARMUP:=20000}" ;;
  single)    : "${REQUESTS:=100000}" "${CLIENTS:=1}" "${STREAMS:=1}" "${WARMUP:=5000}" ;;
  rate)      : "${RPS:=1000}" "${CLIENTS:=10}" "${STREAMS:=10}" "${WARMUP:=5000}"
             [[ "$RPS" =~ ^[1-9][0-9]*$ ]] || die "--rps must be a positive integer (got '$RPS')"
             : "${REQUESTS:=$((RPS * 20))}" ;;
  *) die "--regime must be saturated, single or rate (got '$REGIME')" ;;
esac

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
for v in ROUNDS REQUESTS CLIENTS STREAMS WARMUP BODY_SIZE STREAM_WINDOW CONN_WINDOW MAX_STREAMS RUN_TIMEOUT; do
  is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
done
((ROUNDS >= 1 && REQUESTS >= 1 && CLIENTS >= 1 && STREAMS >= 1)) || die "rounds, requests, clients, streams must be >= 1"
((REQUESTS >= CLIENTS)) || die "requests ($REQUESTS) must be >= clients ($CLIENTS)"
((STREAM_WINDOW >= 65535 && STREAM_WINDOW <= 2147483647 && CONN_WINDOW >= 65535 && CONN_WINDOW <= 2147483647)) \
  || die "windows must be 65535..2147483647 bytes"
((MAX_STREAMS >= 1)) || die "--max-streams must be >= 1"
RPS_PER_CLIENT=""
if [[ "$REGIME" == rate ]]; then
  RPS_PER_CLIENT=$(python3 -c "print(f'{$RPS/$CLIENTS:g}')")
fi

IFS=',' read -r -a SYSTEM_LIST <<<"$SYSTEMS"
declare -A SEEN=()
SYS=()
for s in "${SYSTEM_LIST[@]}"; do
  case "$s" in causeway|nghttpx|direct) ;; "") continue ;; *) die "unknown system '$s' (causeway, nghttpx, direct)" ;; esac
  [[ -n "${SEEN[$s]:-}" ]] && continue
  SEEN[$s]=1; SYS+=("$s")
done
((${#SYS[@]} >= 1)) || die "no system to run"
has_sys() { [[ -n "${SEEN[$1]:-}" ]]; }

# ---------------------------------------------------------------- prerequisites
missing=()
for tool in h2load nghttpd nghttpx python3 getconf timeout; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "h2c-single-hop: missing: ${missing[*]}" >&2
  echo "  install them with: apt-get update && apt-get install -y nghttp2-client nghttp2-server nghttp2-proxy" >&2
  echo "  (h2load: nghttp2-client, nghttpd: nghttp2-server, nghttpx: nghttp2-proxy)" >&2
  exit 2
fi
if ((PIN)); then
  command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)"
  (($(nproc) >= 2)) || die "--pin needs at least 2 CPUs"
  PIN_PROXY=(taskset -c 1); PIN_LOAD=(taskset -c 0)
else
  PIN_PROXY=(); PIN_LOAD=()
fi
CLK_TCK=$(getconf CLK_TCK)

# Other busy processes (a Swift build, someone else's benchmark) spoil the figures: say so,
# and record it. busy_processes SECONDS prints the processes other than ours that used at
# least 10% of a CPU over SECONDS seconds ("name pct%, ..."), from two snapshots of /proc.
cpu_snapshot() {                    # "pid ticks comm" for every process
  local f st rest comm fields
  for f in /proc/[0-9]*/stat; do
    { read -r st <"$f"; } 2>/dev/null || continue
    rest=${st##*) }
    read -r -a fields <<<"$rest"
    comm=${st#*(}; comm=${comm%)*}
    echo "${st%% *} $((fields[11] + fields[12])) ${comm// /_}"
  done
}

busy_processes() {
  local secs=$1 p c
  local -A own=([$$]=1)
  for p in "${STARTED[@]}" ${LOAD_PID:-}; do
    for c in $(descendants "$p"); do own[$c]=1; done
  done
  cpu_snapshot >"$TMP/cpu.before"
  sleep "$secs"
  cpu_snapshot >"$TMP/cpu.after"
  python3 - "$secs" "$CLK_TCK" "$TMP/cpu.before" "$TMP/cpu.after" "${!own[*]}" <<'EOF'
import sys
secs, tck, own = float(sys.argv[1]), int(sys.argv[2]), set(sys.argv[5].split())
def load(path):
    d = {}
    for line in open(path):
        pid, ticks, comm = line.rstrip("\n").split(" ", 2)
        d[pid] = (int(ticks), comm)
    return d
a, b = load(sys.argv[3]), load(sys.argv[4])
busy = sorted(((t - a[p][0]) * 100.0 / tck / secs, comm) for p, (t, comm) in b.items()
              if p in a and p not in own)
print(", ".join(f"{comm} {pct:.0f}%" for pct, comm in reversed(busy) if pct >= 10))
EOF
}

# ---------------------------------------------------------------- Causeway binary
if has_sys causeway; then
  if [[ -z "$CAUSEWAY_BIN" ]]; then
    build=(swift build -c release --product causeway)
    [[ -n "$CAUSEWAY_SCRATCH" ]] && build+=(--scratch-path "$CAUSEWAY_SCRATCH")
    say "building Causeway: (cd $REPO_DIR && ${build[*]})"
    (cd "$REPO_DIR" && "${build[@]}") >&2 || die "Causeway failed to build (run with --no-causeway to check the harness alone)"
    CAUSEWAY_BIN="$(cd "$REPO_DIR" && "${build[@]}" --show-bin-path)/causeway"
  fi
  [[ -x "$CAUSEWAY_BIN" ]] || die "Causeway binary not found or not executable: $CAUSEWAY_BIN"
fi

# ---------------------------------------------------------------- workspace and cleanup
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS_DIR"
REPORT="$RESULTS_DIR/$STAMP.txt"
RAW="$RESULTS_DIR/$STAMP"          # raw h2load outputs, configs, log tails
mkdir -p "$RAW"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/causeway-bench.XXXXXX")

STARTED=()                          # pids this script started (process-tree roots)
declare -A STOP_SIGNAL=()           # pid -> signal that stops it cleanly (default TERM)

descendants() {                     # pid and all its descendants, parents first
  # (Never `$(<file)` on /proc here: under `set -e` bash exits when the file has vanished.)
  local p=$1 c f kids
  [[ -d /proc/$p ]] || return 0
  echo "$p"
  for f in /proc/"$p"/task/*/children; do
    kids=()
    { read -r -a kids <"$f"; } 2>/dev/null || true
    for c in "${kids[@]}"; do descendants "$c"; done
  done
}

alive() {                           # a process that exists and is not a zombie
  local st
  { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
  st=${st##*) }
  [[ "${st:0:1}" != Z ]]
}

stop_tree() {                       # stop_tree PID [SIGNAL]: signal the root, wait 5 s, KILL leftovers
  local root=$1 sig=${2:-TERM} pids p i left
  pids=$(descendants "$root" | tr '\n' ' ')
  [[ -n "$pids" ]] || return 0
  kill -"$sig" "$root" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=""
    for p in $pids; do alive "$p" && left+=" $p"; done
    [[ -z "$left" ]] && break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  [[ -n "$left" ]] && kill -KILL $left 2>/dev/null
  wait "$root" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  [[ -n "${LOAD_PID:-}" ]] && stop_tree "$LOAD_PID"
  # nghttpx's master stops and reaps its worker on QUIT (on TERM it leaves it to init).
  for p in "${STARTED[@]}"; do stop_tree "$p" "${STOP_SIGNAL[$p]:-TERM}"; done
  if ((KEEP_TMP)); then say "temporary files kept in $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# ---------------------------------------------------------------- helpers
free_ports() {                      # N distinct free loopback ports
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

is_listening() {                    # a TCP socket in LISTEN on 127.0.0.1:$1 (or any address)
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'NR > 1 { split($2, a, ":"); if (a[2] == h && $4 == "0A" && (a[1] == "0100007F" || a[1] == "00000000")) f = 1 } END { exit !f }' /proc/net/tcp
}

wait_listen() {                     # wait_listen NAME PID PORT LOG TIMEOUT_S
  local name=$1 pid=$2 port=$3 log=$4 t=$5 i
  for ((i = 0; i < t * 10; i++)); do
    is_listening "$port" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "--- last lines of $log" >&2; tail -n 30 "$log" >&2 || true
      die "$name exited before listening on 127.0.0.1:$port"
    fi
    sleep 0.1
  done
  echo "--- last lines of $log" >&2; tail -n 30 "$log" >&2 || true
  die "$name did not listen on 127.0.0.1:$port within ${t}s"
}

cpu_ticks() {                       # utime+stime (clock ticks) of a process tree
  # /proc/PID/stat of a process is the sum over its threads, including threads that
  # have exited (the sum over /proc/PID/task/*/stat misses those).
  local total=0 p s f
  for p in $(descendants "$1"); do
    { read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
    s=${s##*) }                     # drop "pid (comm) ": comm may hold spaces
    read -r -a f <<<"$s"            # f[0] = field 3 (state); utime = field 14, stime = 15
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

sched_ns() {                        # CPU time (ns) the scheduler ran a process tree's live threads
  # sum_exec_runtime, field 1 of /proc/PID/task/TID/schedstat: exact, where utime/stime are
  # sampled at each timer tick (CONFIG_TICK_CPU_ACCOUNTING) and have a statistical error.
  local total=0 p f v
  for p in $(descendants "$1"); do
    for f in /proc/"$p"/task/*/schedstat; do
      { read -r v _ <"$f"; } 2>/dev/null || continue
      total=$((total + v))
    done
  done
  echo "$total"
}

file_size() { if [[ -f "$1" ]]; then stat -c %s "$1"; else echo 0; fi; }

# ---------------------------------------------------------------- backend
read -r BACKEND_PORT NGHTTPX_PORT CAUSEWAY_PORT ADMIN_PORT <<<"$(free_ports 4)"
DOCROOT="$TMP/docroot"
mkdir -p "$DOCROOT"
python3 - "$DOCROOT" "$BODY_SIZE" <<'EOF'
import os, sys
root, size = sys.argv[1], int(sys.argv[2])
def body(n):  # printable, deterministic
    line = b"causeway bench " * (n // 15 + 1)
    return line[:n]
with open(os.path.join(root, "hello"), "wb") as f:
    f.write(body(100))
if size != 100:
    with open(os.path.join(root, f"body-{size}"), "wb") as f:
        f.write(body(size))
EOF
if ((BODY_SIZE == 100)); then URL_PATH=/hello; else URL_PATH=/body-$BODY_SIZE; fi
AUTHORITY=backend

NGHTTPD_CMD=(nghttpd --no-tls -d "$DOCROOT" "$BACKEND_PORT")
"${PIN_LOAD[@]}" "${NGHTTPD_CMD[@]}" >"$TMP/nghttpd.log" 2>&1 &
NGHTTPD_PID=$!
STARTED+=("$NGHTTPD_PID")
wait_listen nghttpd "$NGHTTPD_PID" "$BACKEND_PORT" "$TMP/nghttpd.log" 10

# ---------------------------------------------------------------- proxies
declare -A PORT=() PID=() LOG=() CMD=()
PORT[direct]=$BACKEND_PORT; PID[direct]=""; LOG[direct]=""; CMD[direct]="(none: h2load -> nghttpd)"

if has_sys nghttpx; then
  NGHTTPX_CMD=(nghttpx
    "--frontend=127.0.0.1,$NGHTTPX_PORT;no-tls"
    "--backend=127.0.0.1,$BACKEND_PORT;;proto=h2"
    --workers=1 --no-ocsp --conf=/dev/null
    "--frontend-http2-window-size=$STREAM_WINDOW"
    "--frontend-http2-connection-window-size=$CONN_WINDOW"
    "--backend-http2-window-size=$STREAM_WINDOW"
    "--backend-http2-connection-window-size=$CONN_WINDOW"
    "--frontend-http2-max-concurrent-streams=$MAX_STREAMS")
  # No --accesslog-file: nghttpx writes no access log unless one is configured
  # (--accesslog-file=/dev/null would turn logging on and format every line).
  # shellcheck disable=SC2206
  [[ -n "$NGHTTPX_EXTRA_ARGS" ]] && NGHTTPX_CMD+=($NGHTTPX_EXTRA_ARGS)
  "${PIN_PROXY[@]}" "${NGHTTPX_CMD[@]}" >"$TMP/nghttpx.log" 2>&1 &
  PID[nghttpx]=$!
  STARTED+=("${PID[nghttpx]}")
  STOP_SIGNAL[${PID[nghttpx]}]=QUIT
  PORT[nghttpx]=$NGHTTPX_PORT; LOG[nghttpx]=$TMP/nghttpx.log; CMD[nghttpx]="${NGHTTPX_CMD[*]}"
  wait_listen nghttpx "${PID[nghttpx]}" "$NGHTTPX_PORT" "$TMP/nghttpx.log" 10
fi

if has_sys causeway; then
  CAUSEWAY_CONFIG="$TMP/causeway.yaml"
  cat >"$CAUSEWAY_CONFIG" <<EOF
apiVersion: causeway.dev/v1alpha1
kind: Proxy
metadata: { name: bench }
spec:
  cluster: bench
  workers: 1
  listeners:
  - { name: outbound, role: sidecar, address: "127.0.0.1:$CAUSEWAY_PORT" }
  admin: { address: "127.0.0.1:$ADMIN_PORT" }
  http2: { maxConcurrentStreams: $MAX_STREAMS, initialStreamWindow: $STREAM_WINDOW, connectionWindow: $CONN_WINDOW }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: backend-1, namespace: default, labels: { kubernetes.io/service-name: $AUTHORITY } }
addressType: IPv4
ports: [ { name: http, port: $BACKEND_PORT, protocol: TCP, appProtocol: kubernetes.io/h2c } ]
endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]
EOF
  cp "$CAUSEWAY_CONFIG" "$RAW/causeway.yaml"
  CAUSEWAY_CMD=("$CAUSEWAY_BIN" run --config "$CAUSEWAY_CONFIG")
  "${PIN_PROXY[@]}" "${CAUSEWAY_CMD[@]}" >"$TMP/causeway.log" 2>&1 &
  PID[causeway]=$!
  STARTED+=("${PID[causeway]}")
  PORT[causeway]=$CAUSEWAY_PORT; LOG[causeway]=$TMP/causeway.log; CMD[causeway]="${CAUSEWAY_CMD[*]}"
  wait_listen causeway "${PID[causeway]}" "$CAUSEWAY_PORT" "$TMP/causeway.log" 30
fi

# ---------------------------------------------------------------- load
URL_FOR() { echo "http://127.0.0.1:${PORT[$1]}$URL_PATH"; }
H2LOAD_ARGS=(-n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1)
[[ "$REGIME" == rate ]] && H2LOAD_ARGS+=(--rps "$RPS_PER_CLIENT")
H2LOAD_ARGS+=("--header=:authority: $AUTHORITY")
H2LOAD_SHOWN=$(for a in "${H2LOAD_ARGS[@]}"; do [[ "$a" == *" "* ]] && printf "'%s' " "$a" || printf '%s ' "$a"; done)
H2LOAD_SHOWN="h2load ${H2LOAD_SHOWN% }"

H2LOAD_RC=0
LOAD_PID=""
run_h2load() {                      # run_h2load OUTFILE [h2load args...]; sets H2LOAD_RC, never fails
  local out=$1; shift
  H2LOAD_RC=0
  # In the background and `wait`ed for, so that a signal to this script is handled at once
  # (bash defers traps until a foreground command ends); cleanup() stops LOAD_PID.
  "${PIN_LOAD[@]}" timeout --signal=TERM --kill-after=10 "$RUN_TIMEOUT" h2load "$@" >"$out" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || H2LOAD_RC=$?
  LOAD_PID=""
}

summary_line() {                    # one-line summary of an h2load output for the progress log
  if grep -qE '^requests:' "$1"; then
    grep -E '^(finished in|requests:)' "$1" | tr '\n' ' ' | sed 's/  */ /g'
  else
    echo "no summary from h2load (exit status $H2LOAD_RC); last line: $(tail -n 1 "$1")"
  fi
}

# Smoke test: one request must come back 2xx with the whole body, through every system.
# Retried for up to 5 s: a proxy may listen before its routes are loaded.
smoke_ok() {
  grep -qE '^requests: 1 total, 1 started, 1 done, 1 succeeded' "$1" \
    && grep -qE '^status codes: 1 2xx' "$1" \
    && grep -qE "\\($BODY_SIZE\\) data\$" "$1"
}
for s in "${SYS[@]}"; do
  for ((i = 0; i < 10; i++)); do
    run_h2load "$RAW/smoke-$s.txt" -n 1 -c 1 -m 1 -t 1 "--header=:authority: $AUTHORITY" "$(URL_FOR "$s")"
    smoke_ok "$RAW/smoke-$s.txt" && break
    sleep 0.5
  done
  if ! smoke_ok "$RAW/smoke-$s.txt"; then
    cat "$RAW/smoke-$s.txt" >&2
    if [[ -n "${LOG[$s]}" ]]; then echo "--- last lines of ${LOG[$s]}" >&2; tail -n 30 "${LOG[$s]}" >&2; fi
    die "smoke request through $s failed (h2load rc=$H2LOAD_RC): expected one 2xx response with $BODY_SIZE body bytes"
  fi
done

BUSY_BEFORE=$(busy_processes 2)
[[ -n "$BUSY_BEFORE" ]] && say "warning: other processes that load the CPU are running: $BUSY_BEFORE"
BUSY_RUNS=""                        # what busy_processes saw just before each measured run

# Warm-up (not measured; same clients and streams, no rate limit).
WARMUP_RESULTS="$TMP/warmup.tsv"; : >"$WARMUP_RESULTS"
if ((WARMUP > 0)); then
  wc=$CLIENTS; ((WARMUP < wc)) && wc=$WARMUP
  for s in "${SYS[@]}"; do
    say "warm-up $s: $WARMUP requests"
    run_h2load "$RAW/warmup-$s.txt" -n "$WARMUP" -c "$wc" -m "$STREAMS" -t 1 "--header=:authority: $AUTHORITY" "$(URL_FOR "$s")"
    printf '%s\t%s\t%s\n' "$s" "$H2LOAD_RC" "$RAW/warmup-$s.txt" >>"$WARMUP_RESULTS"
    say "  $(summary_line "$RAW/warmup-$s.txt")"
  done
fi

# Measured rounds: A B A B ...
RUNS="$TMP/runs.tsv"
printf 'system\tround\trc\toutput\tlatency_log\tcpu0\tcpu1\tbcpu0\tbcpu1\tlog0\tlog1\twall_ns\tsched0\tsched1\n' >"$RUNS"
declare -A STALLED=()
for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${SYS[@]}"; do
    if [[ -n "${STALLED[$s]:-}" ]]; then
      say "round $r/$ROUNDS $s: skipped (its round ${STALLED[$s]} was killed after ${RUN_TIMEOUT}s)"
      continue
    fi
    out="$RAW/run-$r-$s.txt"
    lat="$TMP/latency-$r-$s.tsv"
    say "round $r/$ROUNDS $s: $H2LOAD_SHOWN $(URL_FOR "$s")"
    busy=$(busy_processes 1)          # doubles as the 1 s pause between runs
    if [[ -n "$busy" ]]; then
      say "  warning: other CPU-hungry processes: $busy"
      BUSY_RUNS+="${BUSY_RUNS:+; }round $r $s: $busy"
    fi
    c0=0; c1=0; l0=0; l1=0; n0=0; n1=0
    [[ -n "${PID[$s]}" ]] && c0=$(cpu_ticks "${PID[$s]}") && n0=$(sched_ns "${PID[$s]}") && l0=$(file_size "${LOG[$s]}")
    b0=$(cpu_ticks "$NGHTTPD_PID")
    t0=$(date +%s%N)
    run_h2load "$out" "${H2LOAD_ARGS[@]}" --log-file="$lat" "$(URL_FOR "$s")"
    t1=$(date +%s%N)
    [[ -n "${PID[$s]}" ]] && c1=$(cpu_ticks "${PID[$s]}") && n1=$(sched_ns "${PID[$s]}") && l1=$(file_size "${LOG[$s]}")
    b1=$(cpu_ticks "$NGHTTPD_PID")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
      "$s" "$r" "$H2LOAD_RC" "$out" "$lat" "$c0" "$c1" "$b0" "$b1" "$l0" "$l1" "$((t1 - t0))" "$n0" "$n1" >>"$RUNS"
    say "  $(summary_line "$out")"
    if ((H2LOAD_RC == 124 || H2LOAD_RC == 137)); then
      STALLED[$s]=$r
      say "  h2load was killed after ${RUN_TIMEOUT}s: $s stalled; its later rounds are skipped"
    fi
    for p in "${STARTED[@]}"; do
      kill -0 "$p" 2>/dev/null || die "process $p exited during the benchmark (see $RAW)"
    done
  done
done
BUSY_AFTER=$(busy_processes 2)

# Keep the tails of the proxies' logs beside the raw outputs.
for s in nghttpd nghttpx causeway; do
  [[ -f "$TMP/$s.log" ]] && tail -n 200 "$TMP/$s.log" >"$RAW/$s.log.tail"
done

# ---------------------------------------------------------------- report
META="$TMP/meta.tsv"
{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf 'kernel\t%s\n' "$(uname -srm)"
  printf 'memory\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  printf 'cgroup_cpu_max\t%s\n' "$(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo n/a)"
  printf 'clk_tck\t%s\n' "$CLK_TCK"
  printf 'nghttp2\t%s; %s; %s\n' "$(h2load --version 2>&1 | head -n 1)" "$(nghttpx --version 2>&1 | head -n 1)" "$(nghttpd --version 2>&1 | head -n 1)"
  printf 'swift\t%s\n' "$( (swift --version 2>&1 || echo n/a) | grep -m 1 -E 'Swift version|n/a')"
  if has_sys causeway; then
    rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "no commit")
    dirty=""
    if git -C "$REPO_DIR" status --porcelain 2>/dev/null | grep -qv '^?? bench/'; then dirty=" + uncommitted changes"; fi
    printf 'causeway\t%s (%s%s)\n' "$CAUSEWAY_BIN" "$rev" "$dirty"
  fi
  printf 'busy_before\t%s\n' "${BUSY_BEFORE:-none}"
  printf 'busy_runs\t%s\n' "${BUSY_RUNS:-none}"
  printf 'busy_after\t%s\n' "${BUSY_AFTER:-none}"
  printf 'regime\t%s\n' "$REGIME"
  printf 'rounds\t%s\n' "$ROUNDS"
  printf 'requests\t%s\n' "$REQUESTS"
  printf 'warmup\t%s\n' "$WARMUP"
  printf 'body_size\t%s\n' "$BODY_SIZE"
  printf 'rps\t%s\n' "${RPS:-}"
  printf 'rps_per_client\t%s\n' "${RPS_PER_CLIENT:-}"
  printf 'h2load\t%s http://127.0.0.1:PORT%s\n' "$H2LOAD_SHOWN" "$URL_PATH"
  printf 'backend\t%s\n' "${NGHTTPD_CMD[*]}"
  printf 'pin\t%s\n' "$( ((PIN)) && echo "proxy on CPU 1; h2load and nghttpd on CPU 0" || echo "no (scheduler places everything)")"
  printf 'windows\tstream %s, connection %s, max concurrent streams %s (both proxies, both sides)\n' "$STREAM_WINDOW" "$CONN_WINDOW" "$MAX_STREAMS"
  printf 'systems\t%s\n' "${SYS[*]}"
  for s in "${SYS[@]}"; do printf 'cmd_%s\t%s\n' "$s" "${CMD[$s]}"; done
  printf 'max_cpu_ratio\t%s\n' "$MAX_CPU_RATIO"
  printf 'raw\t%s\n' "$RAW"
} >"$META"

set +e
python3 "$BENCH_DIR/lib/report.py" "$META" "$RUNS" "$WARMUP_RESULTS" "$CLK_TCK" >"$REPORT"
status=$?
set -e
cat "$REPORT"
say "report written to $REPORT (raw outputs in $RAW)"
exit "$status"
