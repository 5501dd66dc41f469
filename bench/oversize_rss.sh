#!/usr/bin/env bash
# bench/oversize_rss.sh BUILD_DIR LABEL
# heraldd RSS around one oversized produce request (bench/oversize_probe),
# each case on a fresh broker whose data directory is a 256 MiB tmpfs (root
# needed for the mount). Figures and what they mean: bench/README.md.
set -u
build=$1; label=$2
root=$(mktemp -d /tmp/herald-oversize-XXXXXX)/$label
mkdir -p $root
extra=$($build/apps/heraldd --help 2>&1 | grep -q disk-reserve && echo "--disk-reserve-bytes 0")
run_case() {  # name, topic flags, probe args
  local name=$1 flags=$2 mb=$3 kind=$4
  local d=$root/$name; mkdir -p $d
  mountpoint -q $d || mount -t tmpfs -o size=256m tmpfs $d
  rm -rf $d/data $d/port
  $build/apps/heraldd --data-dir $d/data --listen 127.0.0.1:0 --port-file $d/port $extra > $d/log 2>&1 &
  local pid=$!
  for i in $(seq 200); do [ -s $d/port ] && break; sleep 0.05; done
  local addr=$(cat $d/port)
  $build/apps/herald --broker $addr topic create t $flags > /dev/null 2>&1 || $build/apps/herald --broker $addr topic create t $flags
  sleep 1
  local before=$(grep VmRSS /proc/$pid/status | awk '{print $2}')
  local answer=$($build/bench/oversize_probe $addr t $mb $kind 2>/dev/null)
  sleep 1
  local after=$(grep VmRSS /proc/$pid/status | awk '{print $2}')
  local peak=$(grep VmHWM /proc/$pid/status | awk '{print $2}')
  printf "%-8s %-10s %-28s rss_before=%6d KiB peak=%7d KiB rss_after=%6d KiB  answer: %s\n" "$label" "$name" "$mb MiB $kind $flags" $before $peak $after "$answer"
  kill $pid; wait $pid 2>/dev/null
  umount $d
}
run_case plain50 "" 50 plain
run_case zstd300 "" 300 zstd
run_case bomb60 "--max-batch-bytes 1048576" 60 bomb
rm -rf "$(dirname "$root")"
