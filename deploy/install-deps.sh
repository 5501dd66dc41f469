#!/usr/bin/env bash
# Installs Herald's build and test dependencies from Debian 12 packages, plus
# any extra packages named as arguments (tests/fuzz/run.sh asks for clang).
# Idempotent: when every package is already present it returns without touching apt.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config ccache
  libcaf-dev capnproto libcapnp-dev
  libspdlog-dev doctest-dev libcli11-dev
  libisal-dev libxxhash-dev liblz4-dev libzstd-dev
  libssl-dev  # security/: TLS and SCRAM (OpenSSL 3)
  libbenchmark-dev  # bench/: Google Benchmark
  openssl  # deploy/make-test-ca.sh
  # ZooKeeper C client, and a server (jar + headless JRE) for the tests;
  # not zookeeperd/zookeeper, which pull default-jre with X11.
  libzookeeper-mt-dev libzookeeper-java openjdk-17-jre-headless
  procps
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "apt: ${#missing[@]} missing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
tty=0
[ -t 2 ] && tty=1
echo "apt: updating package lists" >&2
$SUDO apt-get update -qq
# What apt and dpkg are doing, one package at a time ([done/total]).
$SUDO apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" 2>&1 |
  awk -v phase=apt -v tty="$tty" -f "$(dirname "$0")/progress.awk" >&2
