# bench/lib/common.sh — process, port and /proc helpers for the bench scripts (sourced).
#
# The same helpers as in h2c-single-hop.sh (which keeps its own copies), for bench/chain.sh.
# The sourcing script sets BENCH_NAME (for messages), TMP (scratch directory), CLK_TCK,
# and the arrays STARTED (pids it started) and, optionally, LOAD_PID (a running h2load).
# shellcheck shell=bash disable=SC2317

die() { echo "${BENCH_NAME:-bench}: error: $*" >&2; exit 2; }
say() { echo "${BENCH_NAME:-bench}: $*" >&2; }

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
  # sampled at each timer tick (CONFIG_TICK_CPU_ACCOUNTING).
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

# Other busy processes (a Swift build, someone else's test suite) spoil the figures: say so,
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
