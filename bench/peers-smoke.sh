#!/bin/bash
# bench-peers-smoke: bench/peers.py with tiny counts, so the benchmark
# cannot rot unseen.  It checks the output's shape, never a time: a table
# row for every way that ran, every row with as many QEMUs through the
# meter's wrapper as tests (a harness that went around the wrapper would
# have its QEMU's CPU counted as its own), the checks as PASS/MISS lines,
# and a peer that is not installed reported as skipped, not a crash.
#
# usage: bench/peers-smoke.sh BUILD-DIR   (from the repository root)
set -uo pipefail

build=${1:?usage: peers-smoke.sh BUILD-DIR}
py=/usr/bin/python3
[ -x "$py" ] || { echo "no /usr/bin/python3: skipped"; exit 77; }
[ -f firmware/build/mps2-an385/hello.elf ] ||
    { echo "no example firmware: skipped"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "bench-peers-smoke: $*" >&2; cat "$out" >&2; exit 1; }

# 1. qhil, the floor, qemu.machine and labgrid (those that are there),
#    2 tests, 4 in the big suite, 8 for the flat check.
"$py" bench/peers.py --build "$build" --quick \
    --only qhil,raw,machine,labgrid,flat >"$out" 2>&1 ||
    fail "peers.py --quick failed"
grep -q '^2-test suite (W20):$' "$out" || fail "no W20 table"
grep -q '^4-test suite (big):$' "$out" || fail "no big-suite table"
for way in qhil-j1 qhil-j2 raw-1 raw-2; do
    [ "$(grep -Ec "^  $way +[0-9]" "$out")" = 2 ] || fail "$way: not two rows"
done
for peer in machine labgrid; do
    grep -q "^  $peer: skipped: " "$out" ||
        [ "$(grep -Ec "^  $peer-[12] +[0-9]" "$out")" -ge 2 ] ||
        fail "$peer: neither rows nor skipped"
done
# Every row: 11 columns, qemus (column 9) = the suite's size.
awk '/^[0-9]+-test suite/ { n = $1 + 0 }
     /^  (qhil|raw|machine|labgrid|lava)-[j0-9]+ +[0-9]/ {
         rows++
         if (NF != 11 || $9 != n) { bad = bad $0 "\n" } }
     END { if (rows < 8 || bad != "") { printf "%s", bad; exit 1 } }' \
    "$out" || fail "a row without one QEMU through the wrapper per test"
grep -Eq '^  (PASS|MISS) qhil -j 2 is .*x faster than -j 1' "$out" ||
    fail "no -j 2 check"
grep -Eq '^  (PASS|MISS) qhil -j 2 W2 .* vs raw' "$out" ||
    fail "no check against the floor"
grep -Eq '^  (PASS|MISS) qhil harness memory .* per running test' "$out" ||
    fail "no memory check"
grep -Eq "^  (PASS|MISS) flat cost: 8 tests" "$out" &&
    grep -Eq "^  (PASS|MISS) flat run memory" "$out" ||
    fail "no flat-cost check"
grep -q 'FAILED' "$out" && fail "a way failed"

# 2. A peer that is missing is skipped, and the rest still runs.
"$py" bench/peers.py --build "$build" --quick --only machine,qhil \
    --qemu-python /nonexistent >"$out" 2>&1 ||
    fail "a missing qemu.machine made peers.py fail"
grep -q '^  machine: skipped: qemu.machine not found in /nonexistent' \
    "$out" || fail "missing qemu.machine not reported as skipped"
grep -Eq "^  qhil-j2 +[0-9]" "$out" || fail "qhil did not run beside a skipped peer"

# 3. A firmware that does not pass fails the run, with qhil's message.
"$py" bench/peers.py --build "$build" --quick --only raw \
    --firmware bench/peers-smoke.sh >"$out" 2>&1 &&
    fail "a failing way exited 0"
grep -q "^peers: qhil.s first run (warm-up) failed" "$out" ||
    fail "a failing first run not reported"
echo "bench-peers-smoke: ok"
