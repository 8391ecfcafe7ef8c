#!/usr/bin/env bash
# Run every test: install what is missing, build qhil's QEMU
# (scripts/qemu-build.sh: minutes the first time, seconds after), then
#   build       plain build: unit, protocol and integration tests
#   build-asan  AddressSanitizer + UndefinedBehaviorSanitizer: all of them
#   build-fuzz  clang + libFuzzer: each fuzz target for a bounded time
# and end with one summary line "N passed, N failed".
# Warnings are errors when CI is set (as in CI).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh clang libclang-rt-14-dev || exit 1
# qhil's own QEMU (qtest accelerator + our devices) for the device tests;
# a few seconds when it is already built.
scripts/qemu-build.sh || exit 1
scripts/build.sh build || exit 1
scripts/build.sh build-asan -Db_sanitize=address,undefined \
    -Db_lundef=false || exit 1
CC=clang scripts/build.sh build-fuzz -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
echo "== tests (plain build)"
meson test -C build --print-errorlogs --num-processes 2 || status=1
echo "== tests (ASan + UBSan build)"
meson test -C build-asan --print-errorlogs --num-processes 2 || status=1
echo "== fuzz targets (libFuzzer, bounded time)"
meson test -C build-fuzz --suite fuzz --print-errorlogs || status=1

passed=0
failed=0
skipped=0
for dir in build build-asan build-fuzz; do
    log="$dir/meson-logs/testlog.json"
    if [ ! -f "$log" ]; then
        failed=$((failed + 1))
        continue
    fi
    p=$(grep -c '"result": "\(OK\|EXPECTEDFAIL\)"' "$log")
    f=$(grep -c '"result": "\(FAIL\|TIMEOUT\|ERROR\|UNEXPECTEDPASS\)"' "$log")
    s=$(grep -c '"result": "SKIP"' "$log")
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
done
if [ $failed -gt 0 ]; then
    status=1
fi
if [ $skipped -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
exit $status
