#!/bin/sh
# Production binaries carry no storage fault layer (issue 8 item 18): only
# the hooks it plugs into (storage/file_hooks.hpp). Usage: BINARY...
set -eu
command -v nm >/dev/null || { echo "nm not found (binutils)"; exit 1; }
for bin in "$@"; do
  syms=$(nm -C "$bin")
  # A check that passes on a stripped binary proves nothing: its own
  # symbols must be readable.
  if ! printf '%s\n' "$syms" | grep -q 'herald::'; then
    echo "$bin: no herald:: symbols: stripped, or not the binary meant"
    exit 1
  fi
  if printf '%s\n' "$syms" | grep -q 'fault_injection'; then
    echo "$bin contains the fault layer:"
    printf '%s\n' "$syms" | grep 'fault_injection' | head -5
    exit 1
  fi
  echo "$bin: no fault layer"
done
