#!/usr/bin/env bash
# bench/h1-single-hop.sh — Causeway vs nghttpx with HTTP/1.1 clients, one worker each
# (issue 7: CPU/req <= 1.0x nghttpx, 0 failed):
#
#   h2load --h1 ──HTTP/1.1 keep-alive──▶ proxy (Causeway sidecar | nghttpx plaintext
#   frontend) ──h2c──▶ nghttpd (static file)
#
# The same harness as the h2c single hop, in its --h1 mode: see bench/h2c-single-hop.sh
# and bench/README.md ("HTTP/1.1 single hop"); `--help` lists the options.
exec bash "$(dirname "${BASH_SOURCE[0]}")/h2c-single-hop.sh" --h1 "$@"
