#!/usr/bin/env bash
# deploy/local-cluster.sh for real: up --nodes 3 (ZooKeeper + 3 brokers),
# a topic at R3 produced and consumed back whole, status, then down stops
# every process it started. Exit 77 (CTest: skipped) when this heraldd has
# no --zookeeper or no Java/ZooKeeper server is installed.
#   tests/deploy/local_cluster_test.sh BIN_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:?BIN_DIR}" && pwd)
script="$root/deploy/local-cluster.sh"

grep -q -- --zookeeper <<<"$("$bin/heraldd" --help)" || { echo "heraldd has no --zookeeper: skipped"; exit 77; }
command -v java >/dev/null && [ -r /usr/share/java/zookeeper.jar ] || { echo "no ZooKeeper server: skipped"; exit 77; }

dir=$(mktemp -d /tmp/herald-local-test-XXXXXX)
cleanup() {
  "$script" down --dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for log in "$dir"/node-*/heraldd.log; do echo "--- $log" >&2; tail -n 15 "$log" >&2; done
  exit 1
}
# Polls a command until it succeeds, for at most $1 seconds.
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

"$script" up --nodes 3 --dir "$dir" --bin "$bin" >"$dir/up.out" 2>&1 || { cat "$dir/up.out" >&2; fail "up"; }
cat "$dir/up.out"
grep -q "herald --broker 127.0.0.1:" "$dir/up.out" || fail "up printed no usage"
[ "$(ls -d "$dir"/node-* | wc -l)" -eq 3 ] || fail "not 3 node directories"
pids=$(cat "$dir"/node-*/pid "$dir"/zookeeper/pid)
broker=$(sed -n 's/^export HERALD_BROKER=//p' "$dir/env")
[ -n "$broker" ] || fail "no broker address in $dir/env"

# Registered is not yet ready for metadata changes: a broker may still be
# reading the cluster (clusterUnavailable), as the C++ system tests allow for.
# A create whose answer was lost but that took effect says "already exists".
create() {
  "$bin/herald" --broker "$broker" topic create orders --partitions 1 --replication-factor 3 >"$dir/create.out" 2>&1 ||
    grep -q "topic orders already exists" "$dir/create.out"
}
eventually 30 create || { cat "$dir/create.out" >&2; fail "create"; }
led() { "$script" status --dir "$dir" >"$dir/status.out" 2>&1 &&
  grep -q "partitions: 1 in 1 topic(s); 0 without leader, 0 under-replicated" "$dir/status.out"; }
eventually 60 led || { cat "$dir/status.out" >&2; fail "the partition is not led and in sync"; }
cat "$dir/status.out"
grep -q "^brokers: 3 (3 answering)" "$dir/status.out" || fail "status does not show 3 brokers"

# Produced at the partition's leader (as status names it), consumed back at
# a follower: what the leader acknowledged (acks=all) was replicated.
leader=$(awk '$1 == "orders" && $2 == "0" { print $3 }' "$dir/status.out")
follower=$(awk '$1 == "orders" && $2 == "0" { split($4, r, ","); for (i in r) if (r[i] != $3) { print r[i]; exit } }' "$dir/status.out")
address_of() { awk -v id="$1" '$1 == id && $2 ~ /^127\.0\.0\.1:/ { print $2; exit }' "$dir/status.out"; }
[ -n "$leader" ] && [ -n "$follower" ] || fail "no leader/follower in status"
seq 1 1000 | sed 's/^/record-/' >"$dir/input"
"$bin/herald" --broker "$(address_of "$leader")" produce orders --acks all <"$dir/input" || fail "produce"
"$bin/herald" --broker "$(address_of "$follower")" consume orders --from-beginning --max-messages 1000 \
  --timeout-ms 20000 >"$dir/output" || fail "consume"
cmp -s "$dir/input" "$dir/output" || fail "consumed records differ from those produced"

"$script" down --dir "$dir" || fail "down"
for pid in $pids; do
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/"; then fail "pid $pid survived down"; fi
done
[ -z "$(ls "$dir"/node-*/pid "$dir"/zookeeper/pid 2>/dev/null)" ] || fail "pid files left after down"
echo "local-cluster up/produce/consume/down: ok"
