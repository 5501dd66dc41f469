#!/usr/bin/env bash
# Configures and builds Herald into a build directory (default: build/).
#   deploy/build.sh [BUILD_DIR] [extra cmake -D flags...]
# Installs missing Debian packages first. Incremental and ccache-backed, so a
# second run is fast. Progress (what it does, [done/total]) goes to stderr
# through deploy/progress.awk; compiler errors pass through unchanged.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-"$root/build"}
shift || true
tty=0
[ -t 2 ] && tty=1

"$root/deploy/install-deps.sh"
if [ ! -f "$build_dir/build.ninja" ]; then
  echo "cmake: configuring $build_dir (first time)" >&2
fi
cmake -S "$root" -B "$build_dir" -G Ninja -DHERALD_WERROR=ON "$@" >/dev/null
[ -f "$build_dir/.ninja_log" ] || echo "ninja: first build, a few minutes (later ones are incremental, ccache-backed)" >&2
cmake --build "$build_dir" -j "$(nproc)" 2>&1 | awk -v phase=ninja -v tty="$tty" -f "$root/deploy/progress.awk" >&2
