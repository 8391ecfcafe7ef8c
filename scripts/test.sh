#!/usr/bin/env bash
# Run every test: install what is missing, build twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer), run the whole suite in
# both builds, and end with one summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh || exit 1
scripts/build.sh build || exit 1
scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for dir in build build-asan; do
    echo "== tests in $dir"
    meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
done

passed=0
failed=0
skipped=0
for dir in build build-asan; do
    log="$dir/meson-logs/testlog.json"
    [ -f "$log" ] || { failed=$((failed + 1)); continue; }
    p=$(grep -c '"result": "\(OK\|EXPECTEDFAIL\)"' "$log")
    f=$(grep -c '"result": "\(FAIL\|TIMEOUT\|ERROR\|UNEXPECTEDPASS\)"' "$log")
    s=$(grep -c '"result": "SKIP"' "$log")
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
done
if [ $failed -gt 0 ] && [ $status -eq 0 ]; then
    status=1
fi
if [ $skipped -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
exit $status
