#!/usr/bin/env bash
# Runs Herald's whole test suite with CTest, installing and building what is
# missing first.
#   tests/run.sh            release build (build/) and its tests
#   tests/run.sh --sanitize the same under AddressSanitizer + UBSan (build-asan/)
#   tests/run.sh --all      both
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

run_suite() {
  local dir=$1; shift
  local start=$SECONDS
  "$root/deploy/build.sh" "$dir" "$@"
  echo "build of $dir took $((SECONDS - start)) s"
  start=$SECONDS
  (cd "$dir" && ctest --output-on-failure -j 2 --timeout 600)
  echo "tests in $dir took $((SECONDS - start)) s"
}

mode=${1:-}
case "$mode" in
  "") run_suite "$root/build" ;;
  --sanitize) run_suite "$root/build-asan" -DHERALD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug ;;
  --all)
    run_suite "$root/build"
    run_suite "$root/build-asan" -DHERALD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    ;;
  *) echo "usage: tests/run.sh [--sanitize|--all]" >&2; exit 2 ;;
esac
