#!/usr/bin/env bash
# bench/h2c-single-hop.sh — Causeway vs nghttpx, single hop, one worker each.
#
#   h2load ──h2c──▶ proxy (Causeway | nghttpx) ──h2c──▶ nghttpd (static file)
#   with --h1 (bench/h1-single-hop.sh, issue 7):
#   h2load --h1 ──HTTP/1.1 keep-alive──▶ proxy (Causeway sidecar | nghttpx plaintext
#   frontend) ──h2c──▶ nghttpd
#
# Runs the systems alternately (A B A B …), reads each proxy's CPU time from /proc,
# and prints req/s, failures, proxy CPU µs per request, medians and the ratio
# Causeway/nghttpx, with the machine and parameters beside the figures.
# See bench/README.md. Run `bash bench/h2c-single-hop.sh --help` for options.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
# The clients' protocol: h2c, or HTTP/1.1 with --h1 as the first argument.
PROTO=h2c
if [[ "${1:-}" == --h1 ]]; then PROTO=h1; shift; fi
export BENCH_NAME=$PROTO-single-hop  # messages of lib/common.sh's say/die
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"

# ---------------------------------------------------------------- parameters
# Every flag has an environment-variable twin (flags win).
ROUNDS=${ROUNDS:-3}
REGIME=${REGIME:-saturated}          # saturated | single | rate
REQUESTS=${REQUESTS:-}               # default depends on the regime
CLIENTS=${CLIENTS:-}
STREAMS=${STREAMS:-}                 # with --h1: requests pipelined per connection (1: none)
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
MAX_CPU_RATIO=${MAX_CPU_RATIO:-}     # if set, exit 3 when Causeway/nghttpx CPU/req exceeds it (issue 7, --h1: 1.0)
RUN_TIMEOUT=${RUN_TIMEOUT:-300}      # seconds; an h2load run that takes longer is killed and fails
CAUSEWAY_BIN=${CAUSEWAY_BIN:-}       # skip the build and use this binary
CAUSEWAY_SCRATCH=${CAUSEWAY_SCRATCH:-} # --scratch-path for `swift build` (default: .build)
NGHTTPX_EXTRA_ARGS=${NGHTTPX_EXTRA_ARGS:-} # appended to nghttpx's command line (word-split)
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
KEEP_TMP=${KEEP_TMP:-0}

usage() {
  cat <<'EOF'
Usage: bash bench/h2c-single-hop.sh [--h1] [options]    (bench/h1-single-hop.sh = --h1)

Topology: h2load -> proxy (one worker) -> nghttpd, all h2c on 127.0.0.1.
--h1 (first argument): h2load --h1 (HTTP/1.1 keep-alive) -> proxy -> nghttpd (h2c).
Causeway: a sidecar listener (HTTP/1.1 sniffed per connection); nghttpx: its plaintext
frontend, which takes HTTP/1.1 too; the streams default to 1 (no pipelining), and -m is
requests pipelined per connection.

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

# HTTP/1.1 clients do not pipeline unless asked: one request in flight per connection.
if [[ "$PROTO" == h1 ]]; then : "${STREAMS:=1}"; fi
case "$REGIME" in
  saturated) : "${REQUESTS:=200000}" "${CLIENTS:=10}" "${STREAMS:=10}" "${WARMUP:=20000}" ;;
  single)    : "${REQUESTS:=100000}" "${CLIENTS:=1}" "${STREAMS:=1}" "${WARMUP:=5000}" ;;
  rate)      : "${RPS:=1000}" "${CLIENTS:=10}" "${STREAMS:=10}" "${WARMUP:=5000}"
             [[ "$RPS" =~ ^[1-9][0-9]*$ ]] || die "--rps must be a positive integer (got '$RPS')"
             : "${REQUESTS:=$((RPS * 20))}" ;;
  *) die "--regime must be saturated, single or rate (got '$REGIME')" ;;
esac

check_load_params ROUNDS REQUESTS CLIENTS STREAMS WARMUP BODY_SIZE STREAM_WINDOW CONN_WINDOW MAX_STREAMS RUN_TIMEOUT
check_http2_params
RPS_PER_CLIENT=""
if [[ "$REGIME" == rate ]]; then
  RPS_PER_CLIENT=$(per_client "$RPS")
fi

parse_systems causeway nghttpx direct

# ---------------------------------------------------------------- prerequisites
require_tools "  install them with: apt-get update && apt-get install -y nghttp2-client nghttp2-server nghttp2-proxy
  (h2load: nghttp2-client, nghttpd: nghttp2-server, nghttpx: nghttp2-proxy)" \
  h2load nghttpd nghttpx python3 getconf timeout
if ((PIN)); then
  command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)"
  (($(nproc) >= 2)) || die "--pin needs at least 2 CPUs"
  PIN_PROXY=(taskset -c 1); PIN_LOAD=(taskset -c 0)
else
  PIN_PROXY=(); PIN_LOAD=()
fi
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- Causeway binary
if has_sys causeway; then causeway_binary; fi

# ---------------------------------------------------------------- workspace and cleanup
if [[ "$PROTO" == h1 ]]; then
  workspace "h1-" causeway-bench-h1 # bench/results/h1-<stamp>.txt and <stamp>/; TMP; cleanup on exit
else
  workspace "" causeway-bench       # bench/results/<stamp>.txt and <stamp>/; TMP; cleanup on exit
fi

# ---------------------------------------------------------------- backend
read -r BACKEND_PORT NGHTTPX_PORT CAUSEWAY_PORT ADMIN_PORT <<<"$(free_ports 4)"
AUTHORITY=backend
start_backend "$BACKEND_PORT"

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
  start_bg "$TMP/nghttpx.log" "${PIN_PROXY[@]}" "${NGHTTPX_CMD[@]}"
  PID[nghttpx]=$BG_PID
  STOP_SIGNAL[$BG_PID]=QUIT         # nghttpx's master stops and reaps its worker on QUIT
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
EOF
  backend_endpoint_slice "$AUTHORITY" >>"$CAUSEWAY_CONFIG"
  cp "$CAUSEWAY_CONFIG" "$RAW/causeway.yaml"
  CAUSEWAY_CMD=("$CAUSEWAY_BIN" run --config "$CAUSEWAY_CONFIG")
  start_bg "$TMP/causeway.log" "${PIN_PROXY[@]}" "${CAUSEWAY_CMD[@]}"
  PID[causeway]=$BG_PID
  PORT[causeway]=$CAUSEWAY_PORT; LOG[causeway]=$TMP/causeway.log; CMD[causeway]="${CAUSEWAY_CMD[*]}"
  wait_listen causeway "${PID[causeway]}" "$CAUSEWAY_PORT" "$TMP/causeway.log" 30
fi

# ---------------------------------------------------------------- load
URL_FOR() { echo "http://127.0.0.1:${PORT[$1]}$URL_PATH"; }
# With --h1, HTTP/1.1 for every h2load run, the smoke test and the warm-up included (lib/common.sh).
if [[ "$PROTO" == h1 ]]; then H2LOAD_PROTO_ARGS=(--h1); fi
H2LOAD_ARGS=("${H2LOAD_PROTO_ARGS[@]}" -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1)
[[ "$REGIME" == rate ]] && H2LOAD_ARGS+=(--rps "$RPS_PER_CLIENT")
H2LOAD_ARGS+=("--header=:authority: $AUTHORITY")
H2LOAD_SHOWN="h2load $(show_cmd "${H2LOAD_ARGS[@]}")"

# Smoke test: one request must come back 2xx with the whole body, through every system.
# Retried for up to 5 s: a proxy may listen before its routes are loaded.
for s in "${SYS[@]}"; do
  if ! smoke "$s" 10; then
    if [[ -n "${LOG[$s]}" ]]; then echo "--- last lines of ${LOG[$s]}" >&2; tail -n 30 "${LOG[$s]}" >&2; fi
    die "smoke request through $s failed (h2load rc=$H2LOAD_RC): expected one 2xx response with $BODY_SIZE body bytes"
  fi
done

note_busy_before

# Warm-up (not measured; same clients and streams, no rate limit).
warm_up

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
    pause_before_run "round $r $s"    # the 1 s pause between runs
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
    if stalled; then
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
  meta_common
  if has_sys causeway; then
    printf 'causeway\t%s (%s)\n' "$CAUSEWAY_BIN" "$(tree_rev '^?? bench/')"
  fi
  printf 'regime\t%s\n' "$REGIME"
  printf 'rps\t%s\n' "${RPS:-}"
  printf 'rps_per_client\t%s\n' "${RPS_PER_CLIENT:-}"
  printf 'h2load\t%s http://127.0.0.1:PORT%s\n' "$H2LOAD_SHOWN" "$URL_PATH"
  printf 'pin\t%s\n' "$( ((PIN)) && echo "proxy on CPU 1; h2load and nghttpd on CPU 0" || echo "no (scheduler places everything)")"
  if [[ "$PROTO" == h1 ]]; then
    printf 'windows\tstream %s, connection %s, max concurrent streams %s (both proxies; HTTP/2 towards nghttpd)\n' "$STREAM_WINDOW" "$CONN_WINDOW" "$MAX_STREAMS"
    printf 'title\t%s\n' "Causeway HTTP/1.1 single-hop benchmark — bench/h1-single-hop.sh"
    printf 'target\t%s\n' "1.0"
    printf 'target_label\t%s\n' "issue 7 target"
  else
    printf 'windows\tstream %s, connection %s, max concurrent streams %s (both proxies, both sides)\n' "$STREAM_WINDOW" "$CONN_WINDOW" "$MAX_STREAMS"
  fi
  for s in "${SYS[@]}"; do printf 'cmd_%s\t%s\n' "$s" "${CMD[$s]}"; done
} >"$META"

write_report "raw outputs in $RAW" "$META" "$RUNS" "$WARMUP_RESULTS" "$CLK_TCK"
