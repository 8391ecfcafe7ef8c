#!/usr/bin/env bash
# Time `qhil validate` and `qhil render` on N generated suites.
#
# usage: bench/suites.sh [-r ROUNDS] [N]
#   N       suites to generate (default 1000)
#   -r R    rounds of the three timings, medians printed (default 3)
#   QHIL    the qhil binary to time (default build/src/qhil)
#   KEEP=1  keep the folder of suites (it is removed otherwise)
#   SEED    seed of the generator (default 1): the same seed gives the
#           same files, so two builds can be timed on the same suites
#
# The suites go to a new folder (mktemp -d), with copies of the example
# firmware beside them, and vary: the board (mps2-an385 and riscv-virt on
# Debian's QEMU, qhil-mps2-an385 and qhil-riscv-virt on qhil's), console,
# QMP and QTest suites (qtest: true, accel: qtest), 1 to 20 tests of 1 to
# 8 steps of every kind, context values, fail_on, timeouts, trace
# patterns and limits.  Then, each round:
#   (a) one `qhil validate` call on all N files;
#   (b) N `qhil render` calls, one per suite;
#   (c) N `qhil validate` calls, one per suite.
# Every suite must be valid and render, or the script fails (exit 1) and
# keeps the folder.  Exit 2 for a usage error or a missing binary or
# firmware.
set -euo pipefail
export LC_ALL=C

usage() {
    echo "usage: bench/suites.sh [-r ROUNDS] [N]" >&2
    exit 2
}

rounds=3
while getopts r: opt; do
    case $opt in
    r) rounds=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
n=${1:-1000}
case $n in '' | *[!0-9]*) usage ;; esac
case $rounds in '' | *[!0-9]*) usage ;; esac
if [ "$n" -lt 1 ] || [ "$n" -gt 100000 ] || [ "$rounds" -lt 1 ] ||
    [ "$rounds" -gt 100 ]; then
    echo "suites: N must be 1 to 100000 and ROUNDS 1 to 100" >&2
    exit 2
fi
seed=${SEED:-1}
case $seed in
'' | *[!0-9]*)
    echo "suites: SEED must be a number" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
qhil=${QHIL:-build/src/qhil}
case $qhil in /*) ;; *) qhil=$PWD/$qhil ;; esac
if [ ! -x "$qhil" ]; then
    echo "suites: no qhil binary at $qhil (build it: scripts/build.sh build," \
        "or set QHIL=PATH)" >&2
    exit 2
fi
fw_arm=firmware/build/mps2-an385/hello.elf
fw_rv=firmware/build/riscv-virt/hello.elf
for f in "$fw_arm" "$fw_rv"; do
    if [ ! -f "$f" ]; then
        echo "suites: $f not found (build it: make -C firmware)" >&2
        exit 2
    fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/qhil-suites.XXXXXX")
keep=${KEEP:-0}
trap '[ "$keep" = 1 ] || rm -rf "$dir"' EXIT
cp "$fw_arm" "$dir/mps2-an385.elf"
cp "$fw_rv" "$dir/riscv-virt.elf"

# The generator.  Its own random numbers (Park-Miller, exact in awk's
# doubles), not awk's rand(), so that every awk gives the same files for
# a seed.  Prints one line of counts.
summary=$(awk -v n="$n" -v seed="$seed" -v dir="$dir" '
function rnd(k) { x = (x * 16807) % 2147483647; return x % k }
function chance(pct) { return rnd(100) < pct }
function pick(list,   a, k) { k = split(list, a, "|"); return a[rnd(k) + 1] }
function out(s) { print s > file }
function step(s, kind) { out("      - " s); kinds[kind]++; nsteps++ }

function console_step(   k) {
    k = rnd(12)
    if (k <= 1) {
        step("expect: \"Hello, QEMU!\"", "expect")
    } else if (k == 2) {
        step("expect: \"> \"", "expect")
    } else if (k == 3) {
        step("expect: {pattern: \"qhil example firmware " fwname \
             " \\\\d+\\\\.\\\\d+\", timeout: " pick("2s|500ms|1.5s|3") "}",
             "expect")
    } else if (k == 4) {
        step("sendline: echo word " rnd(1000), "sendline")
    } else if (k == 5) {
        step("sendline: " pick("count|version|help"), "sendline")
    } else if (k == 6) {
        step("send: \"" pick("version|count|echo x") "\\r\"", "send")
    } else if (k == 7) {
        step("expect: \"count=\\\\d+\\\\b\"", "expect")
    } else if (k == 8) {
        qmp_step()
    } else if (k == 9) {
        qmp_long_step()
    } else if (k == 10) {
        step("reset", "reset")
    } else {
        step("wait: " pick("200ms|0.5s|50ms|1s|250000us"), "wait")
    }
}

function qmp_step() {
    step("qmp: " pick("query-status|stop|cont|system_reset|query-version|" \
                      "query-name|query-cpus-fast"), "qmp")
}

function qmp_long_step(   k) {
    k = rnd(6)
    if (k == 0) {
        step("qmp: {execute: query-status, expect: {status: running}}", "qmp")
    } else if (k == 1) {
        step("qmp: {execute: query-status, expect: {status: running, " \
             "running: true}, timeout: " pick("5s|2s|750ms") "}", "qmp")
    } else if (k == 2) {
        step("qmp: {execute: qom-get, arguments: {path: /machine, " \
             "property: type}}", "qmp")
    } else if (k == 3) {
        step("qmp: {execute: qom-get, arguments: {path: /machine/nowhere, " \
             "property: type}, expect_error: DeviceNotFound}", "qmp")
    } else if (k == 4) {
        step("qmp: {execute: human-monitor-command, arguments: " \
             "{command-line: \"info " pick("status|mtree -f|qtree") "\"}}",
             "qmp")
    } else {
        step("qmp: {execute: query-version, expect: {qemu: {major: 7}}}",
             "qmp")
    }
}

# QTest steps on the board of the suite; irq_intercept once per test.
function qtest_step(   k) {
    k = rnd(accel ? 7 : 6)
    if (k <= 1 && rv) {
        if (chance(50)) {
            step("read: {addr: 0x4000000, expect: " \
                 pick("0xBA000001|3120562177|0xba000001") "}", "read")
        } else {
            step("read: {addr: 0x4000003, size: 1, expect: 0xBA}", "read")
        }
    } else if (k <= 1) {
        step("read: {addr: " pick("0x20000000|0x40004004|0x40004008") \
             ", size: " pick("1|2|4|8") "}", "read")
    } else if (k == 2 && rv) {
        step("read: {addr: 0x4000000, expect: 0xBA000000, mask: " \
             pick("0xFF000000|0xff000000|0b11111111000000000000000000000000") \
             "}", "read")
    } else if (k == 2) {
        step("write: {addr: 0x2000" sprintf("%04x", rnd(4096) * 4) \
             ", value: " pick("0|1|0x55aa|0o17|0b101") "}", "write")
    } else if (k == 3 && rv) {
        step("write: {addr: 0x4001010, value: " pick("1000|0x3e8|500") "}",
             "write")
    } else if (k == 3) {
        step("write: {addr: 0x20000000, value: 0xff, size: 1}", "write")
    } else if (k == 4 && !intercepted) {
        intercept()
    } else if (k <= 5) {
        if (!intercepted) {
            intercept()
        }
        if (accel) {
            step("expect_irq: {line: " (rv ? 12 : rnd(32)) ", level: " \
                 pick("high|low") "}", "expect_irq")
        } else {
            step("expect_irq: {line: " (rv ? 10 : rnd(32)) ", level: " \
                 pick("low|lowered") ", timeout: " pick("1s|200ms") "}",
                 "expect_irq")
        }
    } else {
        step("clock_step: " pick("1000ns|1us|next|1ms|999ns|2.5us"),
             "clock_step")
    }
}

function intercept(   path) {
    path = rv ? "/machine/soc/plic" : "/machine/armv7m"
    if (chance(70)) {
        step("irq_intercept: " path, "irq_intercept")
    } else {
        step("irq_intercept: {in: " path "}", "irq_intercept")
    }
    intercepted = 1
}

function sizes() { return pick("8MiB|256MiB|1GiB|65536|512KiB|4KiB|64GiB") }

function suite(i,   p, t, nt, s, ns, ctx, opts, k) {
    file = sprintf("%s/suite-%06d.yaml", dir, i)
    p = rnd(100)
    accel = 0; qtest = 0
    if (p < 35) {
        board = "mps2-an385"
    } else if (p < 65) {
        board = "riscv-virt"
    } else if (p < 75) {
        board = "qhil-mps2-an385"; qtest = 1
    } else if (p < 90) {
        board = "qhil-riscv-virt"; accel = 1
    } else {
        board = "qhil-riscv-virt"; qtest = 1
    }
    boards[board]++
    rv = board ~ /riscv/
    fwname = rv ? "riscv-virt" : "mps2-an385"

    out("# Generated by bench/suites.sh, seed " seed ", suite " i ".")
    if (chance(60)) {
        out(sprintf("name: gen-%06d", i))
    }
    out("device_type: " board)
    if (!accel) {
        out("images:")
        out("  kernel: " fwname ".elf")
    }
    if (accel) {
        out("accel: qtest")
    } else if (qtest) {
        out("qtest: true")
    }
    if (chance(50)) {
        out("timeout: " pick("10s|5s|2.5s|30|1m|1500ms"))
    }
    if (chance(60)) {
        out("fail_on: [" (rv ? "\"Exception!\"" : \
            "\"HardFault!\", \"Exception \\\\d+!\"") \
            (chance(30) ? ", \"Kernel panic\"" : "") "]")
    }
    if ((accel || qtest) && chance(40)) {
        out("trace: [" pick("\"qhil_timer_*\"|\"banana_rom_*\"|" \
            "\"qhil_timer_*\", \"banana_rom_*\"|" \
            "\"memory_region_ops_?ead\"") "]")
    }
    if (chance(30)) {
        k = rnd(3)
        out("limits: {" (k != 1 ? "console: " sizes() : "") \
            (k == 2 ? ", " : "") (k != 0 ? "qemu_log: " sizes() : "") "}")
    }
    if (chance(50)) {
        opts = ""
        if (!accel && chance(50)) {
            opts = opts ", -icount, shift=" rnd(5)
        }
        if (chance(40)) {
            opts = opts ", -rtc, clock=vm"
        }
        if (rv && chance(40)) {
            opts = opts ", -smp, " (1 + rnd(4))
        }
        if (chance(20)) {
            opts = opts ", -d, guest_errors"
        }
        ctx = ""
        if (rv && chance(40)) {
            ctx = "  cpu: " pick("rv64|sifive-u54|thead-c906")
        }
        if (opts != "" || ctx != "") {
            out("context:")
            if (ctx != "") {
                out(ctx)
                contexts["cpu"]++
            }
            if (opts != "") {
                out("  extra_options: [" substr(opts, 3) "]")
                contexts["extra_options"]++
            }
        }
    }
    out("tests:")
    nt = 1 + rnd(20)
    ntests += nt
    for (t = 1; t <= nt; t++) {
        out(sprintf("  - name: t%02d-%s", t, \
            pick("boots|shell|qmp|reset|regs|irq|timer|pause")))
        if (chance(30)) {
            out("    timeout: " pick("30s|1m|45s|2m|20"))
        }
        if (chance(20)) {
            out("    fail_on: [" pick("\"assert\"|\"panic$\"|" \
                "\"(?i)assertion failed\"|\"error: \\\\w+\"") "]")
        }
        if ((accel || qtest) && chance(10)) {
            out("    trace: [\"qhil_timer_*\"]")
        }
        if (chance(10)) {
            out("    limits: {console: " sizes() "}")
        }
        out("    steps:")
        intercepted = 0
        ns = 1 + rnd(8)
        if (!accel) {
            step(pick("expect: \"Hello, QEMU!\"|expect: \"> \""), "expect")
            ns--
        }
        for (s = 1; s <= ns; s++) {
            if (accel) {
                if (chance(80)) {
                    qtest_step()
                } else if (chance(50)) {
                    qmp_step()
                } else {
                    step("wait: 10ms", "wait")
                }
            } else if (qtest && chance(50)) {
                qtest_step()
            } else {
                console_step()
            }
        }
    }
    close(file)
}

BEGIN {
    x = seed % 2147483646 + 1
    for (i = 1; i <= n; i++) {
        suite(i)
    }
    line = "boards:"
    for (b in boards) {
        line = line " " b " " boards[b]
    }
    line = line "; tests " ntests "; steps " nsteps ":"
    for (k in kinds) {
        line = line " " k " " kinds[k]
    }
    line = line "; context:"
    for (k in contexts) {
        line = line " " k " " contexts[k]
    }
    print line
}')

files=("$dir"/suite-*.yaml)
[ "${#files[@]}" = "$n" ] || {
    echo "suites: generated ${#files[@]} files, not $n" >&2
    keep=1
    exit 1
}

# Run from the suites' folder: no boards/ there, so qhil finds the boards
# of the tree it was built from (or its installed ones).
cd "$dir"

fail() {
    keep=1
    echo "suites: $1; suites and logs kept in $dir" >&2
    head -n 5 "$dir/errors.txt" >&2 || true
    exit 1
}

now_us() { us=${EPOCHREALTIME/./}; }

echo "qhil: $qhil ($("$qhil" version 2>/dev/null || echo "no version"))"
echo "suites: $n in $dir, seed $seed"
echo "  $summary"
echo "load before: $(cat /proc/loadavg 2>/dev/null || echo unknown)"

# Every call's output is kept in a file and checked after the timing: an
# exit status alone would let a qhil that checks nothing pass.
mkdir "$dir/render" "$dir/validate"
times_a=() times_b=() times_c=()
for ((r = 1; r <= rounds; r++)); do
    # (a) one call on every file
    now_us
    t0=$us
    rc=0
    "$qhil" validate "${files[@]}" >"$dir/validate.out" 2>"$dir/errors.txt" ||
        rc=$?
    now_us
    times_a+=($((us - t0)))
    ok=$(grep -F ': ok (suite, ' "$dir/validate.out" |
        sed 's/: ok (suite, .*//' | sort -u | wc -l)
    if [ "$rc" != 0 ] || [ "$ok" != "$n" ]; then
        fail "round $r: one validate call: $ok of $n valid (exit $rc)"
    fi

    # (b) one render call per suite: each prints the QEMU command line
    rm -f "$dir"/render/*
    rc=0
    now_us
    t0=$us
    for i in "${!files[@]}"; do
        "$qhil" render "${files[i]}" >"$dir/render/$i" \
            2>>"$dir/errors.txt" || rc=$?
    done
    now_us
    times_b+=($((us - t0)))
    ok=$(grep -rlF qemu-system- "$dir/render" | wc -l)
    if [ "$rc" != 0 ] || [ "$ok" != "$n" ]; then
        fail "round $r: render: $ok of $n rendered (last failure exit $rc)"
    fi

    # (c) one validate call per suite
    rm -f "$dir"/validate/*
    rc=0
    now_us
    t0=$us
    for i in "${!files[@]}"; do
        "$qhil" validate "${files[i]}" >"$dir/validate/$i" \
            2>>"$dir/errors.txt" || rc=$?
    done
    now_us
    times_c+=($((us - t0)))
    ok=$(grep -rlF ': ok (suite, ' "$dir/validate" | wc -l)
    if [ "$rc" != 0 ] || [ "$ok" != "$n" ]; then
        fail "round $r: validate per suite: $ok of $n valid (last failure" \
            "exit $rc)"
    fi
done
valid=$ok

echo "load after:  $(cat /proc/loadavg 2>/dev/null || echo unknown)"
awk -v n="$n" -v r="$rounds" -v a="${times_a[*]}" -v b="${times_b[*]}" \
    -v c="${times_c[*]}" -v valid="$valid" '
function median(s,   v, k, i, j, t) {
    k = split(s, v, " ")
    for (i = 2; i <= k; i++) {
        for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
            t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
        }
    }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
}
function row(label, s,   m, v, k, i, lo, hi) {
    m = median(s) / 1000
    k = split(s, v, " ")
    lo = hi = v[1]
    for (i = 2; i <= k; i++) {
        lo = v[i] + 0 < lo + 0 ? v[i] : lo
        hi = v[i] + 0 > hi + 0 ? v[i] : hi
    }
    printf "  %-28s %10.1f %12.3f   %.1f-%.1f\n", label, m, m / n,
        lo / 1000, hi / 1000
}
BEGIN {
    printf "median of %d round%s, ms:\n", r, r == 1 ? "" : "s"
    printf "  %-28s %10s %12s   %s\n", "", "total", "per suite",
        "range of totals"
    row("validate, 1 call, " n " files", a)
    row("render, " n " calls", b)
    row("validate, " n " calls", c)
    printf "valid: %d of %d (each way, every round)\n", valid, n
}'
