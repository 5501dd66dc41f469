#!/bin/bash
# The storage power-loss suite on a real ext4 file system with real syncs
# (issue 9 item 7): a 64 MiB image, loop-mounted, so that the fault layer's
# model runs over ext4's own fsync, rename and directory paths rather than
# tmpfs. Needs root and a loop device; exits 77 (skipped) without them.
# Bounded: 8 seeds per crash mode by default, well under 60 s (counts the
# modelled runs check, such as tails cut, scale down to nothing at 8).
#   run_power_loss_on_ext4.sh STORAGE_TESTS_BINARY [ITERATIONS=8]
set -euo pipefail
tests_bin=$1
iterations=${2:-8}

if [ "$(id -u)" -ne 0 ] || ! command -v losetup >/dev/null || ! command -v mkfs.ext4 >/dev/null; then
  echo "skipped: needs root, losetup and mkfs.ext4"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/herald-ext4-XXXXXX")
img="$work/disk.img"
mnt="$work/mnt"
loopdev=""
mounted=0
cleanup() {
  local rc=$?
  if [ "$mounted" = 1 ]; then umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; fi
  if [ -n "$loopdev" ]; then losetup -d "$loopdev" 2>/dev/null || true; fi
  # Only our own mkdtemp directory, and only once nothing is mounted in it.
  if ! mountpoint -q "$mnt" 2>/dev/null; then rm -rf -- "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

truncate -s 64M "$img"
mkfs.ext4 -q -F "$img"
mkdir "$mnt"
if ! loopdev=$(losetup --find --show "$img" 2>/dev/null); then
  loopdev=""
  echo "skipped: no loop device available"
  exit 77
fi
mount -t ext4 "$loopdev" "$mnt"
mounted=1
echo "ext4 on $loopdev at $mnt"

HERALD_TEST_SCRATCH="$mnt" HERALD_TEST_REAL_SYNCS=1 HERALD_TEST_ITERATIONS="$iterations" \
  "$tests_bin" --test-case="no synced batch is lost when*,no synced batch is lost and nothing corrupt served*" --duration=true
