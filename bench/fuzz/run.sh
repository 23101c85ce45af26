#!/usr/bin/env bash
# Fuzzes the HTTP/1.1 codec (request and response parsers, writer) with libFuzzer for
# SECONDS (default 600), starting from corpus/http1 plus whatever earlier runs found in
# .build-fuzz/corpus-http1 (pass --fresh to start from the seeds only). Not part of CI.
# Exit status: 0 when the run ended with no crash; a crash leaves its input in
# .build-fuzz/artifacts/ and the log in .build-fuzz/fuzz-http1.log.
#   usage: bench/fuzz/run.sh [--fresh] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
fresh=0
if [ "${1:-}" = "--fresh" ]; then fresh=1; shift; fi
seconds=${1:-600}

# AddressSanitizer and libFuzzer together; the codec's sources are instrumented too.
swift build -c release -Xswiftc -sanitize=fuzzer,address --build-path .build-fuzz

work=.build-fuzz/corpus-http1
[ $fresh = 1 ] && rm -rf "$work"
mkdir -p "$work" .build-fuzz/artifacts
log=.build-fuzz/fuzz-http1.log
set +e
# One job: the machine's cores are shared. -timeout: no input may take 10 s.
./.build-fuzz/release/fuzz-http1 "$work" corpus/http1 -dict=http1.dict -max_total_time="$seconds" \
  -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix=.build-fuzz/artifacts/ >"$log" 2>&1
status=$?
set -e
grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -2 || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
echo "corpus: $(ls "$work" | wc -l) inputs; log: bench/fuzz/$log"
if [ $status != 0 ]; then
  echo "fuzz-http1 FAILED (exit $status); crash inputs in bench/fuzz/.build-fuzz/artifacts/:" >&2
  ls .build-fuzz/artifacts/ >&2
  grep -E 'ERROR|invariant|Fatal|SUMMARY' "$log" | head -20 >&2
fi
exit $status
