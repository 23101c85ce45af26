#!/usr/bin/env bash
# Starts an h2c backend (nghttpd on 127.0.0.1:8080) and a Causeway sidecar in front of it
# (127.0.0.1:15001, admin 127.0.0.1:15000), sends one request through, then keeps both
# running until Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${CAUSEWAY_BIN:-$root/.build/release/causeway}"
[ -x "$bin" ] || (cd "$root" && swift build -c release --product causeway)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

nghttpd --no-tls --echo-upload -d "$here/www" 8080 &
pids+=($!)
"$bin" run --config "$here/causeway.yaml" &
pids+=($!)

for _ in $(seq 1 100); do
  if curl -s -o /dev/null http://127.0.0.1:15000/ready; then break; fi
  sleep 0.1
done
echo
echo "--- one request through the sidecar:"
echo "\$ curl --http2-prior-knowledge -H 'host: webapp' http://127.0.0.1:15001/index.html"
curl -sS --http2-prior-knowledge -H 'host: webapp' -D - http://127.0.0.1:15001/index.html
echo "--- an unknown service:"
curl -sS --http2-prior-knowledge -H 'host: nosuch' -D - http://127.0.0.1:15001/ || true
echo
echo "Running. Try: curl --http2-prior-knowledge -H 'host: webapp.default.svc.cluster.local' http://127.0.0.1:15001/index.html"
echo "Metrics:  curl http://127.0.0.1:15000/metrics      Ctrl-C stops."
wait
