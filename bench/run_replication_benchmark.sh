#!/usr/bin/env bash
# Produce throughput, one-at-a-time latency and broker CPU time per record:
# one node, then three nodes replicating with Raft (R3), in the same run, on
# the same disk and loopback. acks=all, fsync=always, 1 KiB records.
#
#   bench/run_replication_benchmark.sh [BUILD_DIR] [RECORDS] [-- produce_bench flags...]
#
# CPU time is utime+stime of every heraldd process over the whole benchmark
# (throughput and latency phases), divided by the records of both phases.
set -euo pipefail

build=${1:-build}
records=${2:-1000000}
shift $(( $# > 2 ? 2 : $# ))
[[ ${1:-} == -- ]] && shift
extra=("$@")
samples=2000
work=$(mktemp -d "${TMPDIR:-/tmp}/herald-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cpu_ticks() {  # utime + stime of the given pids, in clock ticks
  local total=0
  for p in "$@"; do
    local stat; stat=$(cut -d' ' -f14,15 "/proc/$p/stat")
    total=$(( total + ${stat% *} + ${stat#* } ))
  done
  echo "$total"
}

wait_for_file() {
  for _ in $(seq 1 200); do [[ -s $1 ]] && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2; return 1
}

# run_case NAME NODES: starts NODES brokers, creates the topic, runs the benchmark.
run_case() {
  local name=$1 nodes=$2 base=$(( 10000 + RANDOM % 20000 ))  # below the ephemeral ports
  local peers=() brokers=() case_pids=()
  if (( nodes > 1 )); then
    # Clients on base+i, brokers (the cluster listener) on base+100+i.
    for i in $(seq 1 "$nodes"); do peers+=("--peer=$i=127.0.0.1:$(( base + i ))/127.0.0.1:$(( base + 100 + i ))"); done
  fi
  for i in $(seq 1 "$nodes"); do
    local listen=(--listen=127.0.0.1:0)
    (( nodes > 1 )) && listen=(--listen="127.0.0.1:$(( base + i ))" --cluster-listen="127.0.0.1:$(( base + 100 + i ))")
    "$build/apps/heraldd" --data-dir="$work/$name/n$i" --node-id="$i" "${listen[@]}" \
      --port-file="$work/$name-n$i.port" --log-level=warn "${peers[@]}" >"$work/$name-n$i.log" 2>&1 &
    case_pids+=($!); pids+=($!)
  done
  for i in $(seq 1 "$nodes"); do
    wait_for_file "$work/$name-n$i.port"
    brokers+=(--broker "$(cat "$work/$name-n$i.port")")
  done
  "$build/apps/herald" --broker "${brokers[1]}" topic create bench >/dev/null
  local before; before=$(cpu_ticks "${case_pids[@]}")
  "$build/bench/produce_bench" "${brokers[@]}" --topic bench --records "$records" \
    --latency-samples "$samples" "${extra[@]}" >"$work/$name.out"
  local after; after=$(cpu_ticks "${case_pids[@]}")
  local hz; hz=$(getconf CLK_TCK)
  local per_record_us
  per_record_us=$(awk -v t=$(( after - before )) -v hz="$hz" -v n=$(( records + samples )) \
    'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
  echo "cpu_us_per_record=$per_record_us" >>"$work/$name.out"
  for p in "${case_pids[@]}"; do kill "$p"; done
  wait "${case_pids[@]}" 2>/dev/null || true
}

field() { grep "^$2=" "$work/$1.out" | cut -d= -f2; }

run_case single 1
run_case r3 3

printf '%-28s %14s %14s\n' "" "1 node" "3 nodes (R3)"
for f in records_per_s mb_per_s latency_p50_us latency_p99_us cpu_us_per_record; do
  printf '%-28s %14.1f %14.1f\n' "$f" "$(field single $f)" "$(field r3 $f)"
done
echo "(${records} records of 1 KiB at acks=all, fsync=always; latency: ${samples} one-at-a-time produces;"
echo " cpu: all brokers' user+system time per record; load at end: $(cut -d' ' -f1-3 /proc/loadavg))"
