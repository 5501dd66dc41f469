#!/usr/bin/env bash
# Runs every storage benchmark RUNS times (default 3) in turn and keeps each
# output, so the figures in bench/README.md can be redone: report the median
# and the range of the RUNS results. Extra arguments go to every program
# (e.g. --dir=/data/scratch).
#
#   bench/run_storage_benchmarks.sh [BUILD_DIR] [RUNS] [--flag=value ...]
set -euo pipefail

build=${1:-build}
runs=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
out="$build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

for prog in storage_append storage_append_latency storage_read storage_recovery; do
  for i in $(seq 1 "$runs"); do
    echo "== $prog run $i/$runs (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    "$build/bench/$prog" "$@" >"$out/$prog-$i.txt" 2>&1
  done
done
echo "results in $out" >&2
