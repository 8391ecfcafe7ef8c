#!/usr/bin/env bash
# Build everything and run the benchmarks, printing their figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/qemu-build.sh
scripts/build.sh build
echo "== bench_run: one example test, qhil vs a raw client"
build/bench/bench_run "$@"
echo
echo "== bench_qtest: QTest readl round trips, qhil vs a raw client"
build/bench/bench_qtest
echo
echo "== bench_qmp: QMP query-status round trips, qhil vs a raw client and qemu.qmp"
build/bench/bench_qmp
echo
echo "== bench_shard: --shard K/N balance on 200 tests with recorded durations"
build/bench/bench_shard
echo
echo "== suites: qhil validate and render on 1000 generated suites"
bench/suites.sh
echo
echo "== peers: W20, 200 and 1000 tests: qhil -j 1/-j 2 next to the raw floor, qemu.machine, labgrid and lava-run"
python3 bench/peers.py
