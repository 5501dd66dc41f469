#!/usr/bin/env bash
# The deploy/config/heraldd-N.conf samples are what heraldd reads: each one
# starts a broker (its ZooKeeper and addresses overridden on the command line
# to stay on this machine), and a misspelt key is refused by name. Exit 77
# (CTest: skipped) while heraldd has no --zookeeper.
#   tests/deploy/config_samples_test.sh BIN_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:?BIN_DIR}" && pwd)
grep -q -- --zookeeper <<<"$("$bin/heraldd" --help)" || { echo "heraldd has no --zookeeper: skipped"; exit 77; }

dir=$(mktemp -d /tmp/herald-config-test-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# The samples name /etc/herald/tls/*: test certificates stand in for them.
"$root/deploy/make-test-ca.sh" "$dir/tls" 2>/dev/null
tls=(--cluster-tls-cert="$dir/tls/broker.crt" --cluster-tls-key="$dir/tls/broker.key" --cluster-tls-ca="$dir/tls/ca.crt")

for conf in "$root"/deploy/config/heraldd-*.conf; do
  name=$(basename "$conf" .conf)
  # Nobody listens on port 1: the broker starts and keeps retrying ZooKeeper.
  "$bin/heraldd" --config="$conf" --data-dir="$dir/$name" --listen=127.0.0.1:0 --port-file="$dir/$name.port" \
    --advertise=127.0.0.1:9092 --cluster-listen=0.0.0.0:0 --cluster-advertise=127.0.0.1:9093 "${tls[@]}" \
    --zookeeper=127.0.0.1:1/herald >"$dir/$name.out" 2>"$dir/$name.log" &
  pid=$!
  for _ in $(seq 1 200); do
    [ -s "$dir/$name.port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/$name.log" >&2; echo "FAIL: heraldd refused $conf" >&2; exit 1; }
    sleep 0.05
  done
  [ -s "$dir/$name.port" ] || { echo "FAIL: heraldd with $conf did not listen" >&2; exit 1; }
  grep -q "node ${name#heraldd-} listening" "$dir/$name.out" || { echo "FAIL: $conf: wrong node id" >&2; exit 1; }
  # Parsing is what is tested here: how a broker stops while ZooKeeper is
  # unreachable is the ZooKeeper tests' business.
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  echo "$conf: ok"
done

# Without its cluster-tls-* keys a sample's 0.0.0.0 cluster listener is
# refused, saying what to do; `cluster-insecure = true` allows it.
grep -v '^cluster-tls-' "$root/deploy/config/heraldd-1.conf" >"$dir/notls.conf"
if "$bin/heraldd" --config="$dir/notls.conf" --data-dir="$dir/notls" --listen=127.0.0.1:0 --cluster-listen=0.0.0.0:0 \
     --zookeeper=127.0.0.1:1/herald >"$dir/notls.out" 2>&1; then
  echo "FAIL: a 0.0.0.0 cluster listener without TLS was accepted" >&2
  exit 1
fi
grep -q -- "--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca" "$dir/notls.out" &&
  grep -q -- "--cluster-insecure" "$dir/notls.out" || { cat "$dir/notls.out" >&2; echo "FAIL: the refusal does not say what to do" >&2; exit 1; }
echo "cluster-insecure = true" >>"$dir/notls.conf"
"$bin/heraldd" --config="$dir/notls.conf" --data-dir="$dir/insecure" --listen=127.0.0.1:0 --port-file="$dir/insecure.port" \
  --advertise=127.0.0.1:9092 --cluster-listen=0.0.0.0:0 --cluster-advertise=127.0.0.1:9093 \
  --zookeeper=127.0.0.1:1/herald >"$dir/insecure.out" 2>"$dir/insecure.log" &
pid=$!
for _ in $(seq 1 200); do
  [ -s "$dir/insecure.port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/insecure.log" >&2; echo "FAIL: cluster-insecure = true was refused" >&2; exit 1; }
  sleep 0.05
done
[ -s "$dir/insecure.port" ] || { echo "FAIL: heraldd with cluster-insecure did not listen" >&2; exit 1; }
grep -q "runs plain BASP without TLS" "$dir/insecure.log" || { echo "FAIL: no warning for cluster-insecure" >&2; exit 1; }
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=""
echo "0.0.0.0 without TLS refused, cluster-insecure warned: ok"

sed 's/^replica-grace-ms/replica-grace-msec/' "$root/deploy/config/heraldd-1.conf" >"$dir/typo.conf"
if "$bin/heraldd" --config="$dir/typo.conf" --data-dir="$dir/typo" --listen=127.0.0.1:0 >"$dir/typo.out" 2>&1; then
  echo "FAIL: a misspelt key was accepted" >&2
  exit 1
fi
grep -q "replica-grace-msec" "$dir/typo.out" || { cat "$dir/typo.out" >&2; echo "FAIL: the error does not name the key" >&2; exit 1; }
echo "misspelt key refused: ok"
