#!/usr/bin/env bash
# Configures and builds Herald into a build directory (default: build/).
#   deploy/build.sh [BUILD_DIR] [extra cmake -D flags...]
# Installs missing Debian packages first. Incremental and ccache-backed, so a
# second run is fast.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-"$root/build"}
shift || true

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build_dir" -G Ninja -DHERALD_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
