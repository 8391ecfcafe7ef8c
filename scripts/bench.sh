#!/usr/bin/env bash
# Build everything and run the benchmarks, printing their figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
build/bench/bench_run "$@"
