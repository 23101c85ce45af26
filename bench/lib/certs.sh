# bench/lib/certs.sh — mesh certificates for the benches that need mTLS (sourced after
# lib/common.sh), bench/chain.sh and bench/idle-memory.sh: `causeway certs
# root|intermediate|issue` when the binary has that subcommand (--certs auto|causeway),
# otherwise the openssl CLI with CausewayTLS's profiles; then the same checks either way.
#
# mesh_certs: the caller sets CERTS (auto|causeway|openssl), CAUSEWAY_BIN (may be empty for
# openssl) and TMP; sets CERT_DIR, SIDECAR_ID, GATEWAY_ID, GATEWAY_DNS, ROOT_PEM,
# SIDECAR_CHAIN/KEY (cluster1 sidecar: the client certificate), GATEWAY_CHAIN/KEY (cluster2
# gateway: URI SAN, IP:127.0.0.1, DNS gateway.cluster2), CERTS_USED and KEY_TYPE; dies on failure.
# shellcheck shell=bash

CERT_DIR=""
SIDECAR_ID=spiffe://mesh.local/ns/default/sa/cluster1-sidecar
GATEWAY_ID=spiffe://mesh.local/ns/mesh-system/sa/cluster2-gateway
GATEWAY_DNS=gateway.cluster2

causeway_has_certs() {
  [[ -n "$CAUSEWAY_BIN" && -x "$CAUSEWAY_BIN" ]] || return 1
  "$CAUSEWAY_BIN" --help 2>&1 | grep -qE '^[[:space:]]+certs[[:space:]]'
}

certs_with_causeway() {
  local d=$CERT_DIR
  "$CAUSEWAY_BIN" certs root --key-type ec --out "$d" \
    && "$CAUSEWAY_BIN" certs intermediate --cluster cluster1 --key-type ec --out "$d" \
    && "$CAUSEWAY_BIN" certs intermediate --cluster cluster2 --key-type ec --out "$d" \
    && "$CAUSEWAY_BIN" certs issue --cluster cluster1 --name sidecar --spiffe-id "$SIDECAR_ID" --key-type ec --out "$d" \
    && "$CAUSEWAY_BIN" certs issue --cluster cluster2 --name gateway --spiffe-id "$GATEWAY_ID" \
         --ip 127.0.0.1 --dns "$GATEWAY_DNS" --key-type ec --out "$d"
}

certs_with_openssl() {              # the same layout and profiles as CausewayTLS's CertificateAuthority
  local d=$CERT_DIR ext="$TMP/x509.ext" c
  mkdir -p "$d"
  newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null && chmod 600 "$1"; }
  serial() { echo "0x$(openssl rand -hex 16)"; }
  newkey "$d/root-key.pem" || return 1
  printf '[v]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$ext"
  openssl req -new -x509 -key "$d/root-key.pem" -subj "/O=Causeway mesh/CN=Causeway mesh root CA" \
    -days 30 -sha256 -set_serial "$(serial)" -config "$ext" -extensions v -out "$d/root.pem" 2>/dev/null || return 1
  for c in cluster1 cluster2; do
    mkdir -p "$d/$c"
    newkey "$d/$c/ca-key.pem" || return 1
    printf '[v]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext"
    openssl req -new -key "$d/$c/ca-key.pem" -subj "/O=Causeway mesh/OU=$c/CN=$c intermediate CA" 2>/dev/null \
      | openssl x509 -req -CA "$d/root.pem" -CAkey "$d/root-key.pem" -set_serial "$(serial)" -days 29 -sha256 \
          -extfile "$ext" -extensions v -out "$d/$c/ca.pem" 2>/dev/null || return 1
  done
  leaf() {                          # leaf CLUSTER NAME SAN
    local c=$1 n=$2 san=$3
    newkey "$d/$c/$n-key.pem" || return 1
    printf '[v]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$san" >"$ext"
    openssl req -new -key "$d/$c/$n-key.pem" -subj "/O=Causeway mesh/OU=$c/CN=$n" 2>/dev/null \
      | openssl x509 -req -CA "$d/$c/ca.pem" -CAkey "$d/$c/ca-key.pem" -set_serial "$(serial)" -days 28 -sha256 \
          -extfile "$ext" -extensions v -out "$d/$c/$n.pem" 2>/dev/null || return 1
    cat "$d/$c/$n.pem" "$d/$c/ca.pem" >"$d/$c/$n-chain.pem" && rm -f "$d/$c/$n.pem"
  }
  leaf cluster1 sidecar "URI:$SIDECAR_ID" || return 1
  leaf cluster2 gateway "URI:$GATEWAY_ID,IP:127.0.0.1,DNS:$GATEWAY_DNS" || return 1
}

mesh_certs() {
  CERT_DIR="$TMP/certs"
  CERTS_USED=""
  if [[ "$CERTS" == causeway ]] || { [[ "$CERTS" == auto ]] && causeway_has_certs; }; then
    causeway_has_certs || die "--certs causeway: this Causeway build has no 'certs' subcommand ($CAUSEWAY_BIN --help)"
    certs_with_causeway >"$TMP/certs.log" 2>&1 || { cat "$TMP/certs.log" >&2; die "causeway certs failed"; }
    CERTS_USED="causeway certs ($CAUSEWAY_BIN)"
  else
    certs_with_openssl || die "generating certificates with openssl failed"
    CERTS_USED="openssl CLI ($(openssl version | cut -d' ' -f1-2)); causeway certs not in this build"
    [[ "$CERTS" == auto ]] || CERTS_USED="openssl CLI ($(openssl version | cut -d' ' -f1-2)), by --certs openssl"
    say "certificates: $CERTS_USED"
  fi
  ROOT_PEM=$CERT_DIR/root.pem
  SIDECAR_CHAIN=$CERT_DIR/cluster1/sidecar-chain.pem; SIDECAR_KEY=$CERT_DIR/cluster1/sidecar-key.pem
  GATEWAY_CHAIN=$CERT_DIR/cluster2/gateway-chain.pem; GATEWAY_KEY=$CERT_DIR/cluster2/gateway-key.pem
  for f in "$ROOT_PEM" "$SIDECAR_CHAIN" "$SIDECAR_KEY" "$GATEWAY_CHAIN" "$GATEWAY_KEY"; do
    [[ -s "$f" ]] || die "certificate file missing after generation: $f"
  done
  # Same key type for every proxy: check that both leaf keys are ECDSA P-256.
  for k in "$SIDECAR_KEY" "$GATEWAY_KEY"; do
    openssl pkey -in "$k" -noout -text 2>/dev/null | grep -qE 'prime256v1|P-256' || die "$k is not an ECDSA P-256 key"
  done
  openssl verify -CAfile "$ROOT_PEM" -untrusted "$CERT_DIR/cluster2/ca.pem" "$GATEWAY_CHAIN" >/dev/null \
    || die "the gateway chain does not verify against root.pem"
  openssl verify -CAfile "$ROOT_PEM" -untrusted "$CERT_DIR/cluster1/ca.pem" "$SIDECAR_CHAIN" >/dev/null \
    || die "the sidecar chain does not verify against root.pem"
  KEY_TYPE="ECDSA P-256 (root, intermediates, sidecar and gateway leaves)"
}
