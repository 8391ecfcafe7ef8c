#!/usr/bin/env bash
# Build the example firmware and qhil into DIR (default build).
# Extra arguments go to `meson setup` on the first configure.
# Warnings are errors when CI is set.
#
# usage: scripts/build.sh [DIR [meson-setup-args...]]
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-build}
shift || true
make -s -C firmware
werror=false
[ -n "${CI:-}" ] && werror=true
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=$werror "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
