#!/usr/bin/env bash
# Makes a test certificate authority and certificates for Herald's TLS
# listeners, with the openssl command line tool. FOR TESTS AND TRIALS ONLY:
# the keys are unencrypted and the CA's key sits next to the certificates.
#
#   deploy/make-test-ca.sh OUT_DIR [CLIENT_NAME...]
#
# Writes into OUT_DIR (created if missing), keys as NAME.key, certificates as
# NAME.crt (PEM, EC P-256, SHA-256):
#   ca.crt/.key              the test CA (10 years)
#   broker.crt/.key          CN=broker, SAN DNS:localhost, IP:127.0.0.1; serverAuth
#                            and clientAuth, so brokers also use it between
#                            themselves (mutual TLS on the cluster listener)
#   broker-renewed.crt/.key  the same names, a new key: for reload tests
#   client-NAME.crt/.key     CN=NAME, clientAuth, for each CLIENT_NAME
#                            (default: alice bob); its principal is User:NAME
#   expired.crt/.key         CN=expired, SAN localhost/127.0.0.1, valid only in
#                            2020 (refused as expired, as client or as server)
#   other-ca.crt/.key        a second CA nobody trusts
#   stranger.crt/.key        CN=stranger, SAN localhost/127.0.0.1, signed by
#                            other-ca (refused as "unknown CA" either way)
# Idempotent: a file that exists is kept (delete OUT_DIR to start again), so a
# second run changes nothing and certificates already handed out stay valid.
# One progress line per thing it makes or keeps, on stderr.
set -euo pipefail

out=${1:?usage: make-test-ca.sh OUT_DIR [CLIENT_NAME...]}
shift
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(alice bob)
for name in "${clients[@]}"; do
  [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || { echo "make-test-ca: client name '$name': letters, digits, . _ - only" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "make-test-ca: the openssl command is missing (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/.ca-work"
mkdir -p "$work"
umask 077

say() { echo "make-test-ca: $*" >&2; }

# make_key NAME: an EC P-256 key in NAME.key, unless it exists.
make_key() {
  [ -s "$out/$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/$1.key" 2>/dev/null
}

# make_ca NAME CN
make_ca() {
  local name=$1 cn=$2
  if [ -s "$out/$name.crt" ] && [ -s "$out/$name.key" ]; then
    say "$name.crt: kept"
    return
  fi
  rm -f "$out/$name.crt" "$out/$name.key"
  make_key "$name"
  openssl req -x509 -new -key "$out/$name.key" -sha256 -days 3650 -subj "/O=Herald test/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$out/$name.crt" 2>/dev/null
  say "$name.crt: made ($cn)"
}

# make_cert NAME CN ISSUER EXTENSIONS [START END]: a certificate signed by
# ISSUER (a CA made above); START/END (YYYYMMDDHHMMSSZ) for a fixed validity.
make_cert() {
  local name=$1 cn=$2 issuer=$3 ext=$4 start=${5:-} end=${6:-}
  if [ -s "$out/$name.crt" ] && [ -s "$out/$name.key" ]; then
    say "$name.crt: kept"
    return
  fi
  rm -f "$out/$name.crt" "$out/$name.key"
  make_key "$name"
  openssl req -new -key "$out/$name.key" -subj "/O=Herald test/CN=$cn" -out "$work/$name.csr" 2>/dev/null
  printf '%s\n' "[ext]" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "$ext" >"$work/$name.ext"
  # `openssl ca` is the tool that takes an explicit start and end date (the
  # expired certificate); it wants a small database of its own per issuer.
  local db="$work/$issuer"
  mkdir -p "$db/new"
  [ -f "$db/index.txt" ] || : >"$db/index.txt"
  [ -f "$db/serial" ] || openssl rand -hex 16 >"$db/serial"
  cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = $db/index.txt
new_certs_dir = $db/new
serial = $db/serial
certificate = $out/$issuer.crt
private_key = $out/$issuer.key
default_md = sha256
default_days = 825
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
EOF
  local dates=()
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  openssl ca -batch -config "$db/ca.cnf" -notext "${dates[@]}" -extfile "$work/$name.ext" -extensions ext \
    -in "$work/$name.csr" -out "$out/$name.crt" 2>"$work/$name.err" ||
    { cat "$work/$name.err" >&2; say "$name.crt: FAILED"; exit 1; }
  say "$name.crt: made (CN=$cn, by $issuer)"
}

server_ext="subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
client_ext="extendedKeyUsage=clientAuth"

make_ca ca "Herald test CA"
make_ca other-ca "Some other CA"
make_cert broker broker ca "$server_ext"
make_cert broker-renewed broker ca "$server_ext"
for name in "${clients[@]}"; do
  make_cert "client-$name" "$name" ca "$client_ext"
done
make_cert expired expired ca "$server_ext" 20200101000000Z 20201231000000Z
make_cert stranger stranger other-ca "$server_ext"
chmod 644 "$out"/*.crt
say "done: $out (trust ca.crt; keys are unencrypted, for tests only)"
