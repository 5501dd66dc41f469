#!/usr/bin/env bash
# Raft at scale: what thousands of idle partition replicas cost a broker.
#
#   bench/raft_scale.sh [BUILD_DIR] [--partitions N] [--topics T] [--sample-s S]
#                       [--tick-ms MS] [--no-restart] [--verbose] [-- extra heraldd flags...]
#
# Starts 3 static-cluster brokers (--peer, every node holds every partition)
# on a bounded tmpfs, creates T topics of N/T partitions each (R3: N replicas
# per broker), waits until every partition has a leader on every broker,
# lets it settle, then samples each broker's CPU (utime+stime from
# /proc/PID/stat) over S seconds and prints % of one core per broker, RSS and
# thread count. Then it SIGKILLs broker 3, restarts it, and reports the time
# from the restart to "every partition on broker 3 led or following" (its
# describe shows a leader for each), and the CPU of all three over S seconds
# afterwards.
#
# Topics use 64 KiB segments: every founder writes its bootstrap entry, and a
# segment holding data is preallocated up to min(4 MiB, segment size), which
# on tmpfs is memory (5,000 x 4 MiB would be 20 GB per broker).
# Needs root (mount) and many threads: partition actors are detached, so each
# broker runs one thread per replica.
set -euo pipefail

build=build
if [[ $# -gt 0 && $1 != --* ]]; then build=$1; shift; fi
partitions=5000 topics=5 sample_s=30 tick_ms=50 restart=1 settle_s=10 verbose=0
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --partitions) partitions=$2; shift 2 ;;
    --topics) topics=$2; shift 2 ;;
    --sample-s) sample_s=$2; shift 2 ;;
    --settle-s) settle_s=$2; shift 2 ;;
    --tick-ms) tick_ms=$2; shift 2 ;;
    --no-restart) restart=0; shift ;;
    --verbose) verbose=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
per_topic=$(( partitions / topics ))
partitions=$(( per_topic * topics ))
hz=$(getconf CLK_TCK)

work=$(mktemp -d "${TMPDIR:-/tmp}/herald-raft-scale.XXXXXX")
mount -t tmpfs -o size=4g tmpfs "$work"
pids=(0 0 0 0)
cleanup() {
  for p in "${pids[@]}"; do [[ $p != 0 ]] && kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # RAFT_SCALE_LOGS=DIR keeps the brokers' logs.
  [[ -n ${RAFT_SCALE_LOGS:-} ]] && mkdir -p "$RAFT_SCALE_LOGS" && cp "$work"/n*.log "$RAFT_SCALE_LOGS"/ 2>/dev/null
  umount "$work" 2>/dev/null || umount -l "$work" || true
  rmdir "$work" 2>/dev/null || true
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "reproduce: $0 $build --partitions $partitions --topics $topics --sample-s $sample_s --settle-s $settle_s --tick-ms $tick_ms${extra:+ -- ${extra[*]}}"
echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cores: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "git: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')"

base=$(( 20000 + RANDOM % 20000 ))
peers=()
# Clients on base+i, brokers (the cluster listener) on base+10+i.
for i in 1 2 3; do peers+=("--peer=$i=127.0.0.1:$(( base + i ))/127.0.0.1:$(( base + 10 + i ))"); done

start_broker() {
  local i=$1
  rm -f "$work/n$i.port"
  "$build/apps/heraldd" --data-dir="$work/n$i" --node-id="$i" --listen="127.0.0.1:$(( base + i ))" \
    --cluster-listen="127.0.0.1:$(( base + 10 + i ))" --port-file="$work/n$i.port" --log-level=warn --max-partitions="$(( partitions + 16 ))" \
    --raft-tick-ms="$tick_ms" --disk-reserve-bytes=0 "${peers[@]}" "${extra[@]}" >>"$work/n$i.log" 2>&1 &
  pids[$i]=$!
}

wait_for_file() {
  for _ in $(seq 1 600); do [[ -s $1 ]] && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2; return 1
}

cpu_ticks() { local s; s=$(cut -d' ' -f14,15 "/proc/$1/stat"); echo $(( ${s% *} + ${s#* } )); }
rss_mib() { awk '/VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
threads() { awk '/Threads/ { print $2 }' "/proc/$1/status"; }

# Partitions of broker $1 without a known leader (describe's leader=-1 or 0).
leaderless() {
  local i=$1 n=0 t out
  for t in $(seq 1 "$topics"); do
    out=$("$build/apps/herald" --broker "127.0.0.1:$(( base + i ))" topic describe "t$t" 2>/dev/null) || { echo $partitions; return; }
    n=$(( n + $(grep -c -E 'leader=(-1|0)[[:space:]]' <<<"$out" || true) ))
  done
  echo "$n"
}

wait_all_led() {  # wait_all_led BROKER... ; prints seconds
  local start=$SECONDS deadline=$(( SECONDS + 600 )) i missing
  while :; do
    missing=0
    for i in "$@"; do missing=$(( missing + $(leaderless "$i") )); done
    (( verbose )) && echo "  ... $(( SECONDS - start )) s: $missing leaderless on broker(s) $*" >&2
    (( missing == 0 )) && break
    if (( SECONDS > deadline )); then echo "still $missing leaderless after 600 s" >&2; return 1; fi
    sleep 0.2
  done
}

# Per-thread CPU ticks of broker $1 as "comm ticks" lines (thread names:
# CAF's workers, clock and multiplexer, and the detached partition actors).
thread_ticks() {
  local f line comm rest
  for f in /proc/"$1"/task/*/stat; do
    line=$(cat "$f" 2>/dev/null) || continue
    comm=${line#*(}; comm=${comm%)*}; rest=${line##*) }
    # rest starts at field 3 (state): utime and stime are its 12th and 13th.
    awk -v c="${comm// /_}" '{ print c, $12 + $13 }' <<<"$rest"
  done
}

sample() {  # sample LABEL: CPU % of one core per broker over sample_s
  local before=() after=() i
  for i in 1 2 3; do before[$i]=$(cpu_ticks "${pids[$i]}"); done
  (( verbose )) && thread_ticks "${pids[1]}" >"$work/threads.before"
  local t0; t0=$(date +%s.%N)
  sleep "$sample_s"
  for i in 1 2 3; do after[$i]=$(cpu_ticks "${pids[$i]}"); done
  if (( verbose )); then
    thread_ticks "${pids[1]}" >"$work/threads.after"
    echo "  broker 1 CPU ticks by thread name over the sample (ticks of 1/$hz s):" >&2
    awk 'NR == FNR { b[$1] += $2; next } { a[$1] += $2 } END { for (k in a) if (a[k] - b[k] > 0) print "   ", k, a[k] - b[k] }' \
      "$work/threads.before" "$work/threads.after" | sort -k2 -n -r | head -6 >&2
  fi
  local t1; t1=$(date +%s.%N)
  for i in 1 2 3; do
    awk -v l="$1" -v b="$i" -v d=$(( after[i] - before[i] )) -v hz="$hz" -v t0="$t0" -v t1="$t1" \
        -v rss="$(rss_mib "${pids[$i]}")" -v th="$(threads "${pids[$i]}")" \
      'BEGIN { printf "%s broker %d: %.2f%% of one core over %.1f s, RSS %d MiB, %d threads\n", l, b, 100 * d / hz / (t1 - t0), t1 - t0, rss, th }'
  done
}

for i in 1 2 3; do start_broker "$i"; done
for i in 1 2 3; do wait_for_file "$work/n$i.port"; done
t0=$SECONDS
create_topic() {  # retried: a broker starting thousands of threads may not answer in time
  local out
  for _ in $(seq 1 30); do
    out=$("$build/apps/herald" --broker "127.0.0.1:$(( base + 1 ))" topic create "$1" --partitions "$per_topic" \
      --segment-bytes 65536 --max-batch-bytes 16384 2>&1) && return 0
    grep -q -i 'already exists' <<<"$out" && return 0
    sleep 1
  done
  echo "cannot create $1: $out" >&2; return 1
}
for t in $(seq 1 "$topics"); do create_topic "t$t"; done
echo "created $topics topics x $per_topic partitions (R3) in $(( SECONDS - t0 )) s"
t0=$(date +%s.%N)
wait_all_led 1 2 3
echo "every partition led on every broker $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the creates"
sleep "$settle_s"
sample "idle"

if (( restart )); then
  kill -9 "${pids[3]}"; wait "${pids[3]}" 2>/dev/null || true; pids[3]=0
  sleep 2
  t0=$(date +%s.%N)
  start_broker 3
  wait_for_file "$work/n3.port"
  t_port=$(date +%s.%N)
  wait_all_led 3
  t1=$(date +%s.%N)
  awk -v a="$t0" -v p="$t_port" -v b="$t1" \
    'BEGIN { printf "restart of broker 3 (after SIGKILL): listening after %.1f s, every partition led or following after %.1f s\n", p - a, b - a }'
  wait_all_led 1 2
  sleep "$settle_s"
  sample "after restart"
fi
echo "log error lines per broker: $(for i in 1 2 3; do grep -c -E 'error|critical' "$work/n$i.log" || true; done | paste -sd' ')"
