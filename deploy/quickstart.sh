#!/usr/bin/env bash
# Herald's main job, shown: build if needed, start one node, create a topic,
# produce 100,000 records at acks=all, consume them all back, report, stop.
#   deploy/quickstart.sh [RECORDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
records=${1:-100000}

# Five steps; the first takes minutes on a fresh machine (packages, then a
# full build), so it shows what it is doing and how far along it is.
echo "== [1/5] installing what is missing and building (first time: a few minutes)"
"$root/deploy/build.sh" "$root/build" >/dev/null
bin="$root/build/apps"

work=$(mktemp -d /tmp/herald-quickstart-XXXXXX)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/heraldd" --data-dir "$work/data" --listen 127.0.0.1:0 --port-file "$work/port" \
  >"$work/heraldd.out" 2>"$work/heraldd.log" &
node_pid=$!
for _ in $(seq 1 200); do
  [ -s "$work/port" ] && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$work/heraldd.log" >&2; echo "heraldd failed to start" >&2; exit 1; }
  sleep 0.05
done
[ -s "$work/port" ] || { echo "heraldd did not report its port" >&2; exit 1; }
broker=$(cat "$work/port")
# heraldd prints this line before it writes the port file.
echo "== [2/5] started: $(cat "$work/heraldd.out")"

"$bin/herald" --broker "$broker" topic create quickstart --partitions 1
seq 1 "$records" | sed 's/^/record-/' >"$work/input"

echo "== [3/5] producing $records records with acks=all (acknowledged only once fsynced)"
"$bin/herald" --broker "$broker" produce quickstart --acks all <"$work/input"

echo "== [4/5] consuming them back"
start=$(date +%s.%N)
"$bin/herald" --broker "$broker" consume quickstart --from-beginning --max-messages "$records" \
  >"$work/output" 2>"$work/consume.err"
end=$(date +%s.%N)
consumed=$(wc -l <"$work/output")
awk -v n="$consumed" -v s="$start" -v e="$end" \
  'BEGIN { printf "consumed %d records in %.3f s (%.0f records/s)\n", n, e - s, n / (e - s) }'

if cmp -s "$work/input" "$work/output"; then
  echo "== every record came back, in order"
else
  echo "== MISMATCH between what was produced and what was consumed" >&2
  exit 1
fi
"$bin/herald" --broker "$broker" topic describe quickstart

kill "$node_pid"
wait "$node_pid" || true
node_pid=""
echo "== [5/5] node stopped"
