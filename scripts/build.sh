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
# Quiet when it works; the whole output when it does not.
log=$(mktemp)
if [ ! -f "$dir/build.ninja" ]; then
    if ! meson setup "$dir" -Dwerror=$werror "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "build: meson setup $dir failed" >&2
        exit 1
    fi
fi
if ! ninja -C "$dir" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build: ninja -C $dir failed" >&2
    exit 1
fi
rm -f "$log"
