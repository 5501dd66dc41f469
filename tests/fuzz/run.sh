#!/usr/bin/env bash
# Fuzzes Herald's storage decoders with libFuzzer (clang, ASan + UBSan).
#
#   tests/fuzz/run.sh [-t SECONDS] [--merge] [TARGET...]
#
# TARGETs: batch (validate_batch, validate_batch_deep, for_each_record,
# for_each_batch, decompression) and segment (partition_log recovery of an
# arbitrary active segment); default both. Each runs for SECONDS (default 60)
# in one process on one core; -t 0 only builds (and merges, with --merge).
#
# What it does:
#  1. configures a clang build in build-fuzz/ (-DHERALD_FUZZ=ON
#     -DHERALD_SANITIZE=ON) and builds only the fuzz targets;
#  2. writes fresh seed inputs (fuzz_make_seeds) to build-fuzz/fuzz/seeds/;
#  3. runs build-fuzz/tests/fuzz/fuzz_<target> over a work copy of the
#     checked-in corpus (tests/fuzz/corpus/<target>/) plus the seeds; new
#     interesting inputs collect in build-fuzz/fuzz/work/<target>/, crashes,
#     leaks and timeouts in build-fuzz/fuzz/artifacts/<target>/, the log in
#     build-fuzz/fuzz/<target>.log;
#  4. with --merge, minimizes corpus + seeds + work (by edge coverage, to keep
#     it small: -use_counters=0) into
#     tests/fuzz/corpus/<target>/ (libFuzzer -merge=1), to be committed.
#
# A crash (or a slow unit): reproduce with `build-fuzz/tests/fuzz/fuzz_<target>
# FILE`, fix it, and copy FILE into tests/fuzz/regressions/<target>/ under a
# name that says what it was, so that every CTest run (fuzz_corpus_<target>,
# any compiler) replays it from then on.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz
seconds=60
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) seconds=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    batch|segment) targets+=("$1"); shift ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(batch segment)

"$root/deploy/install-deps.sh" clang-14 libclang-rt-14-dev  # clang and its libFuzzer runtime
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHERALD_FUZZ=ON -DHERALD_SANITIZE=ON -DHERALD_WERROR=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz_make_seeds $(printf 'fuzz_%s ' "${targets[@]}")

out=$build/fuzz
rm -rf "$out/seeds"
"$build/tests/fuzz/fuzz_make_seeds" "$out/seeds" >/dev/null

declare -A max_len=([batch]=8192 [segment]=16384)
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  work=$out/work/$t
  mkdir -p "$work" "$out/artifacts/$t"
  cp -n "$root/tests/fuzz/corpus/$t"/* "$out/seeds/$t"/* "$work"/ 2>/dev/null || true
  if [ -d "$root/tests/fuzz/regressions/$t" ]; then cp -n "$root/tests/fuzz/regressions/$t"/* "$work"/ || true; fi
  if [ "$seconds" -gt 0 ]; then
    echo "fuzzing $t for $seconds s (log: $out/$t.log)"
    status=0
    "$bin" "$work" -max_total_time="$seconds" -timeout=10 -max_len="${max_len[$t]}" -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$t/" >"$out/$t.log" 2>&1 || status=$?
    grep -E '^stat::number_of_executed_units|^stat::new_units_added|^stat::slowest' "$out/$t.log" || true
    if [ $status -ne 0 ]; then
      echo "fuzz_$t FAILED (exit $status): see $out/$t.log and $out/artifacts/$t/" >&2
      grep -m1 -A12 -E '^==[0-9]+==ERROR|invariant broken|runtime error' "$out/$t.log" >&2 || true
      exit 1
    fi
  fi
  if [ $merge -eq 1 ]; then
    merged=$out/merged/$t
    rm -rf "$merged"
    mkdir -p "$merged"
    "$bin" -merge=1 -use_counters=0 -max_len="${max_len[$t]}" "$merged" "$root/tests/fuzz/corpus/$t" "$out/seeds/$t" "$work" \
      >"$out/$t.merge.log" 2>&1
    rm -rf "$root/tests/fuzz/corpus/$t"
    mkdir -p "$root/tests/fuzz/corpus/$t"
    cp "$merged"/* "$root/tests/fuzz/corpus/$t"/
    echo "corpus/$t: $(ls "$root/tests/fuzz/corpus/$t" | wc -l) files, $(du -sh "$root/tests/fuzz/corpus/$t" | cut -f1)"
  fi
done
