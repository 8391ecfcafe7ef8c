#!/usr/bin/env bash
# Integration scenarios: run the real qhil command on real QEMU with the
# example firmware and check exit status, output, reports and processes.
#
# usage: check.sh SCENARIO   (environment: QHIL = the qhil binary,
#                             SRC = the source tree)
# Each scenario is a function below; meson runs one test per scenario.
set -uo pipefail

: "${QHIL:?set QHIL to the qhil binary}"
: "${SRC:?set SRC to the source tree}"
suites="$SRC/tests/integration/suites"
work=$(mktemp -d "${TMPDIR:-/tmp}/qhil-it.XXXXXX")
# A QEMU the script started itself (start_qmp_qemu) goes with it, even
# when a check fails half-way.
cleanup() {
    local pid
    pid=$(cat "$work/qemu.pid" 2>/dev/null) && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$SRC"

fail() {
    echo "FAILED: $*" >&2
    if [ -f "$work/out" ]; then
        echo "--- qhil output:" >&2
        cat "$work/out" >&2
    fi
    exit 1
}

# run EXPECTED_STATUS qhil-args...: run qhil, keep output in $work/out
run() {
    local want=$1
    shift
    "$QHIL" "$@" >"$work/out" 2>&1
    local got=$?
    [ "$got" -eq "$want" ] || fail "qhil $* exited $got, expected $want"
}

has() {
    grep -qE -- "$1" "$work/out" || fail "output lacks /$1/"
}

lacks() {
    ! grep -qE -- "$1" "$work/out" || fail "output has /$1/"
}

# The folder of test NAME in the results of a run made with -o "$work/r"
# (a run folder of its own behind r/latest, or r/NAME directly).
test_dir() {
    if [ -d "$work/r/latest" ]; then
        echo "$work/r/latest/$1"
    else
        echo "$work/r/$1"
    fi
}

# No QEMU started by this scenario may still be running: every machine
# leaves its pid in qemu.pid in its run directory.
no_qemu_left() {
    local f pid alive
    for _ in $(seq 50); do
        alive=""
        for f in "$work"/r/*/qemu.pid "$work"/r/*/*/qemu.pid \
                "$work"/r/*/*/attempt-*/qemu.pid; do
            [ -f "$f" ] || continue
            pid=$(cat "$f")
            if grep -qa qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
                alive="$alive $pid"
            fi
        done
        [ -z "$alive" ] && return 0
        sleep 0.1
    done
    fail "QEMU left running:$alive"
}

# Wait until a QEMU started by PID exists; print its pid.  QEMU runs
# under a guard process, a child of PID: QEMU is a grandchild.
qemu_child_of() {
    local parent=$1 child guard worker
    for _ in $(seq 100); do
        # qhil -> guard -> QEMU, or with -j: qhil -> worker -> guard -> QEMU.
        for guard in $(pgrep -P "$parent") $(for worker in $(pgrep -P "$parent"); do
                pgrep -P "$worker"; done); do
            # The machine, not the sandbox probe: it has qhil's wiring.
            child=$(pgrep -P "$guard" -f 'qemu-system.*qhil-qmp' || true)
            [ -n "$child" ] && { echo "$child"; return 0; }
        done
        sleep 0.05
    done
    return 1
}

scenario_example_mps2() {
    run 0 run -o "$work/r" --junit "$work/junit.xml" --tap="$work/out.tap" \
        examples/hello-mps2.yaml
    has '^PASS +boots '
    has '^PASS +reset-restarts '
    has '^PASS +counter-survives-no-reset '
    has '^6 passed, 0 failed$'
    grep -q '<testsuite name="hello-mps2" tests="6" failures="0" errors="0"' \
        "$work/junit.xml" || fail "JUnit header wrong"
    grep -q 'Hello, QEMU!' "$work/junit.xml" || fail "JUnit lacks console log"
    grep -q '^1\.\.6$' "$work/out.tap" || fail "TAP plan wrong"
    [ "$(grep -c '^ok ' "$work/out.tap")" -eq 6 ] || fail "TAP oks wrong"
    [ -s "$(test_dir boots)/console.log" ] || fail "console log missing"
    no_qemu_left
}

scenario_example_riscv() {
    run 0 run -o "$work/r" examples/hello-riscv.yaml
    has '^4 passed, 0 failed$'
    no_qemu_left
}

scenario_example_fault() {
    run 0 run -o "$work/r" examples/fault-mps2.yaml
    has '^2 passed, 0 failed$'
    no_qemu_left
}

# Firmware written by others, from Debian's archive (u-boot-qemu,
# opensbi): the example suites in examples/firmware/ pass as shipped.
need_firmware() {
    local f
    for f in /usr/lib/u-boot/qemu_arm64/u-boot.bin \
             /usr/lib/u-boot/qemu_arm/u-boot.bin \
             /usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin \
             /usr/lib/u-boot/qemu-riscv64_smode/uboot.elf \
             /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin; do
        [ -f "$f" ] ||
            fail "$f is missing: install u-boot-qemu and opensbi" \
                "(scripts/deps.sh)"
    done
}

# firmware_suite SUITE N: the example suite passes all its N tests and
# leaves no QEMU.
# The site of the firmware examples: Debian's firmware folders are image
# folders there.
fw_site=examples/firmware/site.yaml

firmware_suite() {
    local stops late
    need_firmware
    run 0 run --site "$fw_site" -o "$work/r" "$1"
    has "^$2 passed, 0 failed$"
    lacks '^(FAIL|ERROR) '
    no_qemu_left
    # Every boot stopped the autoboot in its first second: U-Boot erased
    # the "2" of its countdown and wrote " 0" without counting down.
    stops=$(cat "$work"/r/latest/*/console.log |
        grep -ac 'Hit any key to stop autoboot')
    [ "$stops" -ge "$2" ] || fail "$stops autoboot prompts in $2 tests"
    late=$(cat "$work"/r/latest/*/console.log |
        grep -a 'Hit any key to stop autoboot' |
        grep -av $'autoboot:  2 \b\b\b 0')
    [ -z "$late" ] || fail "an autoboot countdown ran on: $late"
}

scenario_firmware_uboot_arm64() {
    firmware_suite examples/firmware/uboot-arm64.yaml 7
    grep -q '^=> version' "$(test_dir version)/console.log" ||
        fail "the version test did not type at the U-Boot prompt"
}

scenario_firmware_uboot_arm() {
    firmware_suite examples/firmware/uboot-arm.yaml 7
}

scenario_firmware_opensbi_riscv() {
    firmware_suite examples/firmware/opensbi-uboot-riscv64.yaml 8
    # Both resets went through OpenSBI again.
    [ "$(grep -c '^OpenSBI v' "$(test_dir reset-from-shell)/console.log")" \
        -eq 2 ] || fail "reset from the U-Boot shell did not restart OpenSBI"
    [ "$(grep -c '^OpenSBI v' "$(test_dir qmp-system-reset)/console.log")" \
        -eq 2 ] || fail "system_reset did not restart OpenSBI"
}

# fw_variant SUITE NAME STEPS...: the example SUITE's header (board,
# images, fail_on) with one test NAME of the given steps, in $work/v.yaml.
fw_variant() {
    local suite=$1 name=$2 step
    shift 2
    sed '/^tests:/,$d' "$suite" >"$work/v.yaml"
    printf 'tests:\n  - name: %s\n    steps:\n' "$name" >>"$work/v.yaml"
    for step in "$@"; do
        printf '      - %s\n' "$step" >>"$work/v.yaml"
    done
}

# The example suites cannot pass on a firmware that crashed or booted
# past the shell: U-Boot resets after an exception and comes back to a
# prompt, and a missed key runs the autoboot, which ends at a prompt too.
scenario_firmware_must_fail() {
    local stop='expect: "Hit any key to stop autoboot"' key='send: " "'
    local prompt='expect: "\n=> "' suite
    need_firmware
    fw_variant examples/firmware/uboot-arm64.yaml crash "$stop" "$key" \
        "$prompt" 'sendline: md.l 0xffff000000000000 1' "$prompt"
    run 1 run --site "$fw_site" -o "$work/r" "$work/v.yaml"
    has '^FAIL +crash '
    has 'fail pattern .*Synchronous Abort.* matched'
    fw_variant examples/firmware/uboot-arm.yaml crash "$stop" "$key" \
        "$prompt" 'sendline: md.l 0xfffffff1 1' "$prompt"
    run 1 run --site "$fw_site" -o "$work/r" "$work/v.yaml"
    has 'fail pattern .*abort.* matched console line "data abort"'
    fw_variant examples/firmware/opensbi-uboot-riscv64.yaml crash "$stop" \
        "$key" "$prompt" 'sendline: md.l 0x1 1' "$prompt"
    run 1 run --site "$fw_site" -o "$work/r" "$work/v.yaml"
    has 'fail pattern "Unhandled exception" matched'
    for suite in examples/firmware/*.yaml; do
        [ "$suite" = "$fw_site" ] && continue
        fw_variant "$suite" no-key "$stop" "$prompt"
        run 1 run --site "$fw_site" -o "$work/r" "$work/v.yaml"
        has '^FAIL +no-key '
        has 'fail pattern .*scanning bus.* matched console line'
    done
    no_qemu_left
}

# fw_refused BOARD IMAGES REASON: a suite on BOARD with the YAML lines
# IMAGES is refused (exit 2) with REASON before any QEMU starts.
fw_refused() {
    local b
    mkdir -p "$work/qemu"
    for b in qemu-system-aarch64 qemu-system-arm qemu-system-riscv64; do
        printf '#!/bin/sh\ntouch "%s/qemu-ran"\nexit 1\n' "$work" \
            >"$work/qemu/$b"
        chmod +x "$work/qemu/$b"
    done
    printf 'device_type: %s\n%s\ntests: [{name: a, steps: [reset]}]\n' \
        "$1" "$2" >"$work/suite.yaml"
    # Trusted: the refusal under test is the slot's, not the folder's.
    run 2 run --trusted -Q "$work/qemu" -o "$work/r" "$work/suite.yaml"
    has "$3"
    [ ! -e "$work/qemu-ran" ] || fail "QEMU was started for: $2"
}

# The new boards' image slots: Debian's raw binaries go where they
# belong, everything else is refused with the slot that refused it.
scenario_firmware_images() {
    local uboot=/usr/lib/u-boot sbi=/usr/lib/riscv64-linux-gnu/opensbi
    need_firmware
    # The bare-metal board keeps taking ELF only: a U-Boot .bin is no ELF.
    fw_refused riscv-virt \
        "images: {kernel: $uboot/qemu-riscv64_smode/u-boot.bin}" \
        "images\\.kernel: image file .*u-boot\\.bin is not an ELF file"
    # raw does not let an ELF for another machine through.
    fw_refused arm64-virt \
        "images: {kernel: $uboot/qemu-riscv64_smode/uboot.elf}" \
        "is an ELF for RISC-V \\(64-bit\\), but the board's arch 'aarch64'"
    fw_refused arm-virt \
        "images: {kernel: $uboot/qemu-riscv64_smode/uboot.elf}" \
        "is an ELF for RISC-V \\(64-bit\\), but the board's arch 'arm'"
    fw_refused riscv-virt-opensbi "images: {bios: $sbi/generic/fw_jump.bin,
  kernel: $SRC/firmware/build/mps2-an385/hello.elf}" \
        "images\\.kernel: image file .*hello\\.elf is an ELF for Arm"
    fw_refused arm64-virt "images: {bios: $uboot/qemu_arm64}" \
        "images\\.bios: image file .* is a directory, not a regular file"
    mkfifo "$work/fifo"
    fw_refused riscv-virt-opensbi "images: {bios: $work/fifo}" \
        "images\\.bios: image file .*fifo is a FIFO"
    fw_refused arm64-virt "images: {rootfs: $uboot/qemu_arm64/u-boot.bin}" \
        "board 'arm64-virt' has no image slot 'rootfs' \\(slots: bios, \
kernel\\)"
    # Firmware comes through the slots, never through extra options.
    fw_refused arm64-virt \
        "context: {extra_options: [-bios, $uboot/qemu_arm64/u-boot.bin]}" \
        "'-bios' is not allowed: give firmware under images: instead"
    fw_refused arm-virt \
        "context: {extra_options: ['-pflash', /etc/passwd]}" \
        "'-pflash' is not allowed: give firmware under images: instead"
    # The Arm boards' -nic none is the board's, not the job's.
    fw_refused arm64-virt "context: {extra_options: [-nic, user]}" \
        "'-nic' is not allowed: it repeats the board's mandatory option \
'-nic none'"
}

scenario_input_after_reset() {
    run 0 run -o "$work/r" "$suites/input-after-reset.yaml"
    has '^PASS +typed-after-reset '
    no_qemu_left
}

scenario_wrong_pattern_fails() {
    run 1 run -o "$work/r" "$suites/fail-wrong-pattern.yaml"
    has '^FAIL +wrong-banner '
    has 'step 2 \(line 10\): expect "Goodbye, QEMU!"'
    has 'pattern not seen within 1s'
    has '\| Hello, QEMU!'
    has '^PASS +passes-afterwards '
    has '^1 passed, 1 failed$'
    grep -q 'Hello, QEMU!' "$(test_dir wrong-banner)/console.log" ||
        fail "console log of the failed test not kept"
    no_qemu_left
}

scenario_fail_on_is_immediate() {
    local start=$SECONDS
    run 1 run -o "$work/r" "$suites/fail-on-fault.yaml"
    has '^FAIL +fault-ends-test '
    has 'fail pattern "Exception!" matched'
    [ $((SECONDS - start)) -lt 10 ] || fail "fail_on did not end the test early"
    no_qemu_left
}

# "$" is a line end, not the end of a read: the echo of "echo 12345678"
# comes a character at a time, and "echo 1234$" must never match it.
scenario_dollar_waits_for_line_end() {
    run 1 run -o "$work/r" "$suites/dollar-at-read-boundary.yaml"
    local i
    for i in 1 2 3 4 5; do
        has "^FAIL +boundary-$i "
    done
    has 'expect "echo 1234\$"'
    has 'pattern not seen within 1s'
    has '^PASS +whole-line '
    has '^1 passed, 5 failed$'
    no_qemu_left
}

# A match-time error of a fail pattern is an error verdict that names the
# pattern and PCRE2's message, not a pass that stopped watching.
scenario_fail_on_match_error() {
    run 1 run -o "$work/r" "$suites/fail-on-match-error.yaml"
    has '^ERROR +backtracking '
    has 'fail pattern "\(a\+\)\+c\|FATAL" could not be matched: match limit exceeded'
    lacks '^PASS'
    no_qemu_left
}

scenario_log_limits() {
    run 1 run -o "$work/r" "$suites/log-limits.yaml"
    has '^FAIL +console-flood '
    has 'console output over 4096 bytes'
    has '^FAIL +qemu-log-flood '
    has 'QEMU output over 4096 bytes'
    has '^PASS +within-limits '
    has '^1 passed, 2 failed$'
    local con qlog
    con="$(test_dir console-flood)/console.log"
    qlog="$(test_dir qemu-log-flood)/qemu.log"
    # Head, marker, tail: the banner from the start, the drop line, and
    # bounded sizes (limit plus the marker line).
    head -c 200 "$con" | grep -q 'Hello, QEMU!' || fail "console head lost"
    grep -aq '^\[qhil: [0-9]* bytes of console output dropped here\]$' "$con" ||
        fail "console.log has no drop marker"
    [ "$(stat -c %s "$con")" -le 4200 ] || fail "console.log over its cap"
    grep -aq '^\[qhil: [0-9]* bytes of QEMU output dropped here\]$' "$qlog" ||
        fail "qemu.log has no drop marker"
    [ "$(stat -c %s "$qlog")" -le 4200 ] || fail "qemu.log over its cap"
    [ "$(stat -c %s "$(test_dir within-limits)/qemu.log")" -gt 4200 ] ||
        fail "the roomy test's qemu.log was cut"
    lacks 'dropped here' # the summary itself stays short
    no_qemu_left
}

scenario_fail_on_qmp_only() {
    run 1 run -o "$work/r" "$suites/fail-on-qmp-only.yaml"
    has '^FAIL +fault-during-qmp-steps '
    has 'fail pattern "HardFault!" matched console line "HardFault!"'
    lacks '^PASS'
    no_qemu_left
}

# qhil render: every argument labelled with its source, and exactly the
# command line qhil run starts (compared with the running QEMU's own
# /proc/PID/cmdline).
scenario_render() {
    run 0 render examples/hello-mps2.yaml
    has '^suite hello-mps2 \(examples/hello-mps2\.yaml\), board mps2-an385$'
    has '^ +0 +mandatory +.*boards/mps2-an385\.yaml +.*qemu-system-arm$'
    has '^ +[0-9]+ +mandatory +.*boards/mps2-an385\.yaml:[0-9]+ +-nographic$'
    has '^ +[0-9]+ +substituted +examples/hello-mps2\.yaml:5 +-kernel$'
    has '^ +[0-9]+ +harness +qhil +socket,id=qhil-qmp,fd=3$'
    lacks ' specific '
    run 0 render --command "$suites/long-wait.yaml"
    local want got qhil qemu
    want=$(cat "$work/out")
    "$QHIL" run -o "$work/r" "$suites/long-wait.yaml" >/dev/null 2>&1 &
    qhil=$!
    qemu=$(qemu_child_of $qhil) || { kill $qhil; fail "QEMU never started"; }
    got=$(tr '\0' ' ' <"/proc/$qemu/cmdline" | sed 's/ $//')
    kill -TERM $qhil
    wait $qhil 2>/dev/null
    [ "$got" = "$want" ] ||
        fail "render says '$want' but qhil run started '$got'"
    # Errors as qhil run gives them, exit 2.
    printf 'device_type: no-such-board\ntests: [{name: a, steps: [reset]}]\n' \
        >"$work/bad.yaml"
    run 2 render "$work/bad.yaml"
    has 'bad\.yaml:1: device_type'
    run 2 render
    has 'no suite file given'
    no_qemu_left
}

# LAVA's own schema code, from Debian's python3 (lava-common).
lava_check() {
    /usr/bin/python3 "$SRC/tests/lava/check-jobs.py" "$@" >"$work/check" 2>&1 ||
        { cat "$work/check" >&2; fail "LAVA's schema refused a job"; }
}

# scenario events: every test as a stream of events, live (--events) and
# in the JSON report (--json), checked against the console logs, the
# JUnit report and the suite.
scenario_events() {
    run 0 run -o "$work/r" --events "$work/ev.jsonl" --json "$work/run.json" \
        --junit "$work/junit.xml" examples/hello-mps2.yaml
    run 1 run -o "$work/r2" --events "$work/ev2.jsonl" --json "$work/run2.json" \
        --junit "$work/junit2.xml" "$suites/events-mixed.yaml"
    python3 - "$work" <<'PY' || fail "events do not tell what happened"
import json, os, sys
import xml.etree.ElementTree as ET
work = sys.argv[1]

def check(jsonl, report, junit, want_kinds):
    lines = open(os.path.join(work, jsonl), "rb").read().split(b"\n")
    assert lines[-1] == b"", "the last event line is not complete"
    events = [json.loads(l) for l in lines[:-1]]
    assert all(l.isascii() for l in lines), "a line is not ASCII"
    run = json.load(open(os.path.join(work, report)))
    assert run["qhil_run"] == 2
    verdicts = {}
    for tc in ET.parse(os.path.join(work, junit)).iter("testcase"):
        verdicts[tc.get("name")] = ("fail" if tc.find("failure") is not None
                                    else "error" if tc.find("error") is not None
                                    else "pass")
    seen = set()
    for t in run["tests"]:
        evs = [e for e in events if e["test"] == t["name"]]
        # The report keeps exactly what the live stream showed.
        assert evs == t["events"], t["name"] + ": report and stream differ"
        assert t["events_dropped"] == 0
        kinds = [e["kind"] for e in evs]
        seen |= set(kinds)
        assert kinds[0] == "test_start" and kinds[-1] == "test_end", kinds
        assert all(e["v"] == 2 and e["virtual_ns"] is None for e in evs)
        walls = [e["wall_ns"] for e in evs]
        assert walls == sorted(walls), t["name"] + ": time goes back"
        end = evs[-1]
        assert end["verdict"] == t["verdict"] == verdicts[t["name"]], t["name"]
        # Steps start and end in order, each once.
        starts = [e["step"] for e in evs if e["kind"] == "step_start"]
        ends = [e["step"] for e in evs if e["kind"] == "step_end"]
        assert starts == ends == list(range(1, len(starts) + 1)), (starts, ends)
        ms = [e for e in evs if e["kind"] == "machine_start"]
        assert len(ms) == 1 and ms[0]["pid"] > 0
        assert ms[0]["qemu_version"].startswith("7.2."), ms[0]
        assert ms[0]["argv"][0].endswith("qemu-system-arm"), ms[0]["argv"]
        assert [e["kind"] for e in evs].count("machine_end") == 1
        # Console lines put together are the console log, byte for byte.
        log = open(t["console_log"], "rb").read()
        text = b""
        for e in evs:
            if e["kind"] != "console_line":
                continue
            b = e["text"].encode("utf-8")
            assert e["len"] == len(b) and "text_exact" not in e
            assert e["offset"] == len(text), (e["offset"], len(text))
            text += b + (b"" if e.get("cut") else b"\n")
        assert log.startswith(text.rstrip(b"\n")), t["name"] + ": lines lost"
        assert len(text.rstrip(b"\n")) >= len(log.rstrip(b"\n")), \
            (t["name"] + ": console lines missing at the end", text, log)
        # Each match is where the log says.
        for e in evs:
            if e["kind"] in ("match", "fail_match"):
                b = e["text"].encode("utf-8")
                assert log[e["offset"]:e["offset"] + e["len"]] == b, e
        if t["verdict"] != "pass":
            # The test's reason: its last cause, else its first failure;
            # the report lists them all.
            fails = [e for e in evs if e["kind"] == "failure"]
            causes = [e for e in fails if e["cause"]]
            assert fails, t["name"]
            assert (causes or fails)[-1 if causes else 0]["message"] == \
                t["message"], fails
            assert [f["message"] for f in t["failures"]] == \
                [e["message"] for e in fails], t["failures"]
    missing = want_kinds - seen
    assert not missing, "kinds never seen: %s" % sorted(missing)
    return run, events

run, events = check("ev.jsonl", "run.json", "junit.xml",
                    {"test_start", "machine_start", "step_start", "input",
                     "console_line", "match", "qmp_command", "qmp_reply",
                     "qmp_event", "step_end", "machine_end", "test_end"})
assert run["counts"] == {"pass": 6, "fail": 0, "error": 0, "skip": 0,
                         "flaky": 0}, run["counts"]
# The reset test: system_reset sent, answered, and QEMU's RESET event.
ev = [e for e in events if e["test"] == "reset-restarts"]
cmds = [e["message"]["execute"] for e in ev if e["kind"] == "qmp_command"]
assert "system_reset" in cmds, cmds
assert any(e["kind"] == "qmp_event" and e["message"]["event"] == "RESET"
           for e in ev)
inputs = [e["text"] for e in events if e["kind"] == "input"]
assert "echo hi there\n" in inputs or "echo hi there\r" in inputs, inputs

run, events = check("ev2.jsonl", "run2.json", "junit2.xml",
                    {"fail_match", "failure", "match", "input"})
by = {t["name"]: t for t in run["tests"]}
assert by["echo-bytes"]["verdict"] == "pass"
# UTF-8 input as it was sent (the firmware itself drops bytes >= 0x80).
assert any(e["kind"] == "input" and e["text"] == "echo caf\u00e9 ok\n" and
           e["len"] == 14 for e in by["echo-bytes"]["events"])
fm = [e for e in by["fault-fails"]["events"] if e["kind"] == "fail_match"]
assert len(fm) == 1 and fm[0]["pattern"] == "HardFault!" and \
    fm[0]["text"] == "HardFault!", fm
assert by["times-out"]["verdict"] == "fail"
assert "test timeout" in by["times-out"]["message"]
PY
    # --events -: the events alone on stdout, the progress on stderr.
    "$QHIL" run -o "$work/r3" --events - examples/hello-mps2.yaml \
        >"$work/stdout" 2>"$work/stderr" || fail "--events - run failed"
    python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' \
        "$work/stdout" || fail "stdout holds more than events"
    grep -q '6 passed, 0 failed' "$work/stderr" || fail "progress not on stderr"
    # An existing file is not replaced, and nothing runs.
    echo keep >"$work/exists.jsonl"
    run 2 run -o "$work/r4" --events "$work/exists.jsonl" examples/hello-mps2.yaml
    has 'exists\.jsonl: cannot create: File exists \(not replaced\); nothing was run'
    [ "$(cat "$work/exists.jsonl")" = keep ] || fail "the file was replaced"
    [ ! -e "$work/r4" ] || fail "tests ran"
    run 2 run -o "$work/r5" --events - --tap examples/hello-mps2.yaml
    has 'cannot both write to the standard output'
    # A sink that cannot be written: the run and its reports go on, exit 2.
    if [ -w /dev/full ]; then
        run 2 run -o "$work/r6" --events /dev/full --junit "$work/j6.xml" \
            examples/hello-mps2.yaml
        has 'events /dev/full: write: No space left on device'
        grep -q 'tests="6"' "$work/j6.xml" || fail "no report after a full sink"
    fi
    # A real run's report as the HTML page, read back through Chromium.
    command -v chromium >/dev/null ||
        fail "chromium is not installed: apt-get install -y chromium"
    run 0 report html "$work/run2.json" -o "$work/run2.html"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom \
        "file://$work/run2.html" >"$work/dom.html" 2>/dev/null ||
        fail "chromium --dump-dom failed"
    grep -q '<body data-ready="1">' "$work/dom.html" ||
        fail "the page's script did not run to its end"
    python3 - "$work/dom.html" <<'PY' || fail "the page does not show the run"
import re, sys
dom = open(sys.argv[1]).read()
def by_id(i):
    m = re.search(r'id="%s"[^>]*>([^<]*)' % re.escape(i), dom)
    return m.group(1) if m else None
assert by_id("count-pass") == "1" and by_id("count-fail") == "2", \
    (by_id("count-pass"), by_id("count-fail"))
# The fail pattern may fire during the send or the expect after it: the
# failing step varies with timing, the pattern does not.
assert "HardFault!" in dom and "test timeout after 2s" in dom
assert 'data-kind="fail_match"' in dom and 'data-kind="qmp_reply"' in dom
PY
}

# --timeout-multiplier: every step and test timeout scaled, waits not;
# the messages say the time waited.
scenario_timeout_multiplier() {
    run 1 run --timeout-multiplier 2.5 -o "$work/r" --json "$work/run.json" \
        "$suites/timeout-multiplier.yaml"
    has 'pattern not seen within 2\.5s'
    has 'test timeout after 2\.5s, in step 1'
    python3 - "$work/run.json" <<'PY' || fail "the timeouts were not scaled"
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["tests"]}
ms = lambda n: t[n]["duration_ns"] / 1e6
assert ms("step-timeout") >= 2400, ms("step-timeout")
assert ms("test-timeout") >= 2400, ms("test-timeout")
assert t["wait-not-scaled"]["verdict"] == "pass"
# The wait step took its 1 s, not 2.5 s.
w = [e for e in t["wait-not-scaled"]["events"]
     if e["kind"] == "step_end" and e["step"] == 2][0]
assert 0.9e9 <= w["duration_ns"] < 2.0e9, w["duration_ns"]
PY
    run 1 run -o "$work/r" "$suites/timeout-multiplier.yaml"
    has 'pattern not seen within 1s'
    for bad in 0.5 x 101 -1 1e2 ''; do
        run 2 run --timeout-multiplier "$bad" -o "$work/bad" \
            "$suites/timeout-multiplier.yaml"
        has "^qhil run: --timeout-multiplier '$bad': expected a number from 1 to 100"
    done
    [ ! -e "$work/bad" ] || fail "a refused multiplier ran tests"
}

# ---- -j: tests in worker processes ----

# The verdicts of a pool run, in the suite's order in JUnit whatever the
# order they finished in; two 2 s tests overlap; bad -j values refused.
scenario_pool_basics() {
    local qhil a b both=""
    "$QHIL" run -j 2 -o "$work/r" --junit "$work/junit.xml" \
        --json "$work/run.json" "$suites/pool.yaml" >"$work/out" 2>&1 &
    qhil=$!
    # The two 2 s tests run at the same time: both QEMUs alive at once.
    for _ in $(seq 100); do
        a=$(cat "$(test_dir slow-a)/qemu.pid" 2>/dev/null)
        b=$(cat "$(test_dir slow-b)/qemu.pid" 2>/dev/null)
        if [ -n "$a" ] && [ -n "$b" ] && kill -0 "$a" 2>/dev/null &&
                kill -0 "$b" 2>/dev/null; then
            both=yes
            break
        fi
        sleep 0.05
    done
    wait_bounded $qhil 30
    [ -n "$both" ] || fail "-j 2: slow-a and slow-b never ran at once"
    [ "$waited" -eq 1 ] || fail "qhil exited $waited, expected 1"
    has '^3 passed, 1 failed$'
    # The table after the run: every test in the suite's order.
    [ "$(grep -E '^  (PASS|FAIL) +[0-9]+\.[0-9]{2}s  ' "$work/out" |
        awk '{print $1 " " $3}' | tr '\n' ' ')" = \
        "PASS slow-a PASS slow-b FAIL fails PASS quick " ] ||
        fail "no summary table in the run's order"

    python3 - "$work" <<'PY' || fail "pool results wrong"
import json, os, sys
import xml.etree.ElementTree as ET
work = sys.argv[1]
names = [tc.get("name") for tc in ET.parse(os.path.join(work, "junit.xml")).iter("testcase")]
assert names == ["slow-a", "slow-b", "fails", "quick"], names
run = json.load(open(os.path.join(work, "run.json")))
v = {t["name"]: t["verdict"] for t in run["tests"]}
assert v == {"slow-a": "pass", "slow-b": "pass", "fails": "fail", "quick": "pass"}, v
for t in run["tests"]:
    kinds = [e["kind"] for e in t["events"]]
    assert kinds[0] == "test_start" and kinds[-1] == "test_end", (t["name"], kinds)
    assert all(e["test"] == t["name"] for e in t["events"])
fails = next(t for t in run["tests"] if t["name"] == "fails")
assert fails["step"] == 2 and "never printed" in fails["step_desc"], fails
PY
    no_qemu_left
    for bad in 0 65 x -1 ''; do
        run 2 run -j "$bad" -o "$work/bad" "$suites/pool.yaml"
        has "^qhil run: -j '$bad': expected a number of tests at once, 1 to 64"
    done
    [ ! -e "$work/bad" ] || fail "a refused -j ran tests"
}

# A worker killed mid-test: that test is an error saying so, the others
# are untouched, and its QEMU goes too.
scenario_pool_worker_killed() {
    local qhil worker
    "$QHIL" run -j 2 -o "$work/r" --junit "$work/junit.xml" \
        --json "$work/run.json" "$suites/pool.yaml" >"$work/out" 2>&1 &
    qhil=$!
    console_has slow-a '> ' || { kill -9 $qhil; fail "slow-a never started"; }
    # slow-a's worker: qhil -> worker -> guard -> QEMU, from the QEMU
    # pid in slow-a's folder.
    local qemu guard
    for _ in $(seq 50); do
        qemu=$(cat "$(test_dir slow-a)/qemu.pid" 2>/dev/null) && break
        sleep 0.1
    done
    guard=$(awk '{print $4}' "/proc/$qemu/stat" 2>/dev/null)
    worker=$(awk '{print $4}' "/proc/$guard/stat" 2>/dev/null)
    [ "$(awk '{print $4}' "/proc/$worker/stat" 2>/dev/null)" = "$qhil" ] ||
        worker=""
    [ -n "$worker" ] || { kill -9 $qhil; fail "no worker runs slow-a"; }
    kill -9 "$worker"
    wait_bounded $qhil 20
    [ "$waited" -eq 1 ] || fail "qhil exited $waited, expected 1"
    grep -q 'worker process died: killed by signal 9' "$work/junit.xml" ||
        fail "the killed test does not say how its worker ended"
    python3 - "$work/junit.xml" <<'PY' || fail "other tests were touched"
import sys
import xml.etree.ElementTree as ET
v = {}
for tc in ET.parse(sys.argv[1]).iter("testcase"):
    v[tc.get("name")] = ("error" if tc.find("error") is not None else
                         "fail" if tc.find("failure") is not None else "pass")
assert v == {"slow-a": "error", "slow-b": "pass", "fails": "fail", "quick": "pass"}, v
PY
    # Its result is the fold of what the worker sent, ended by its death:
    # the step it was in has no end, the death is the last failure.
    python3 - "$work/run.json" <<'PY' || fail "the killed test's result lies"
import json, sys
t = [t for t in json.load(open(sys.argv[1]))["tests"] if t["name"] == "slow-a"][0]
assert t["verdict"] == "error", t["verdict"]
assert "worker process died: killed by signal 9" in t["failures"][-1]["message"]
assert t["message"] == t["failures"][-1]["message"]
assert t["steps"] and t["steps"][-1]["duration_ns"] is None, t["steps"]
assert t["step"] == t["steps"][-1]["step"], (t["step"], t["steps"])
assert all(s["duration_ns"] is not None for s in t["steps"][:-1]), t["steps"]
PY
    no_qemu_left
}

# kill -9 of the runner: no worker and no QEMU outlive it.
scenario_pool_kill_runner() {
    local qhil
    "$QHIL" run -j 2 -o "$work/r" "$suites/pool.yaml" >"$work/out" 2>&1 &
    qhil=$!
    console_has slow-b '> ' || { kill -9 $qhil; fail "slow-b never started"; }
    local workers
    workers=$(pgrep -P $qhil | tr '\n' ' ')
    [ -n "$workers" ] || fail "no workers"
    kill -9 $qhil
    wait $qhil 2>/dev/null
    for _ in $(seq 50); do
        alive=""
        for w in $workers; do
            kill -0 "$w" 2>/dev/null && alive="$alive $w"
        done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    [ -z "$alive" ] || fail "workers outlived the runner:$alive"
    no_qemu_left
}

# --fail-fast with workers: after the first failure no test starts; the
# one still running ends as it would.
scenario_pool_fail_fast() {
    run 1 run -j 2 --fail-fast -o "$work/r" --junit "$work/junit.xml" \
        "$suites/pool-fail-fast.yaml"
    python3 - "$work/junit.xml" <<'PY' || fail "--fail-fast with -j 2"
import sys
import xml.etree.ElementTree as ET
v = {}
for tc in ET.parse(sys.argv[1]).iter("testcase"):
    s = tc.find("skipped")
    v[tc.get("name")] = ("fail" if tc.find("failure") is not None else
                         "notrun:" + s.get("message") if s is not None else
                         "error" if tc.find("error") is not None else "pass")
assert v == {"fails-first": "fail", "slow": "pass",
             "later-a": "notrun:not run: --fail-fast",
             "later-b": "notrun:not run: --fail-fast"}, v
PY
    [ ! -e "$(test_dir later-a)" ] || fail "a test after the failure started"
    no_qemu_left
}

# SIGTERM with workers: as Ctrl-C, exit 143.
scenario_pool_sigterm() {
    local qhil
    "$QHIL" run -j 2 -o "$work/r" --junit "$work/junit.xml" \
        "$suites/pool.yaml" >"$work/out" 2>&1 &
    qhil=$!
    console_has slow-b '> ' || { kill -9 $qhil; fail "slow-b never started"; }
    kill -TERM $qhil
    wait_bounded $qhil 10
    [ "$waited" -eq 143 ] || fail "qhil exited $waited, expected 143"
    grep -q 'message="interrupted by SIGTERM"' "$work/junit.xml" ||
        fail "JUnit lacks the interrupted tests"
    grep -q 'not run: interrupted by SIGTERM' "$work/junit.xml" ||
        fail "JUnit lacks the tests not run"
    [ "$(tail -1 "$work/junit.xml")" = "</testsuites>" ] ||
        fail "JUnit report is cut short"
    no_qemu_left
}

# Progress on a terminal (a pseudo-terminal of the width asked): a
# status line redrawn in place that moves while a test waits (-j 2, and
# -j 1, which then runs its test in a worker), the finished lines and
# the summary left on the screen and no status line, never wider than
# the terminal; NO_COLOR=1 takes the colours away, not the status line
# (an empty NO_COLOR does not, as no-color.org says).  Not a terminal:
# one line per test, no CR, no escape at all.
scenario_progress_tty() {
    local pty="$SRC/tests/integration/progress_pty.py" got
    TERM=xterm NO_COLOR= python3 "$pty" 80 "$work/tty80" 60 -- \
        "$QHIL" run -j 2 -o "$work/r" "$suites/progress.yaml"
    got=$?
    [ "$got" -eq 1 ] || fail "-j 2 on a terminal exited $got, expected 1"
    TERM=xterm NO_COLOR=1 python3 "$pty" 20 "$work/tty20" 60 -- \
        "$QHIL" run -j 2 -o "$work/r" "$suites/progress.yaml"
    got=$?
    [ "$got" -eq 1 ] || fail "-j 2 on 20 columns exited $got, expected 1"
    TERM=xterm NO_COLOR=1 python3 "$pty" 80 "$work/tty1" 60 -- \
        "$QHIL" run -j 1 -t slow -o "$work/r" "$suites/progress.yaml"
    got=$?
    [ "$got" -eq 0 ] || fail "-j 1 on a terminal exited $got, expected 0"
    # TERM=dumb cannot erase a line: lines only, on a terminal too.
    TERM=dumb NO_COLOR=1 python3 "$pty" 80 "$work/ttydumb" 60 -- \
        "$QHIL" run -t quick -o "$work/r" "$suites/progress.yaml"
    got=$?
    [ "$got" -eq 0 ] || fail "TERM=dumb exited $got, expected 0"
    # Ctrl-C while slow waits alone (the other tests ended by 2 s): the
    # screen ends with its INTR line and the summary, no status line.
    TERM=xterm NO_COLOR=1 python3 "$pty" 80 "$work/ttyint" 60 \
        --ctrl-c-on "slow 2." -- "$QHIL" run -j 2 -o "$work/r" "$suites/progress.yaml"
    got=$?
    [ "$got" -eq 130 ] || fail "Ctrl-C on a terminal exited $got, expected 130"
    run 1 run -j 2 -o "$work/r" "$suites/progress.yaml"
    cp "$work/out" "$work/file"
    run 0 run --color always -t quick -o "$work/r" "$suites/progress.yaml"
    cp "$work/out" "$work/always"
    run 2 run --color sometimes -o "$work/r" "$suites/progress.yaml"
    has "^qhil run: --color 'sometimes': expected auto, always or never$"
    run 1 run -j 2 --color never -o "$work/r" "$suites/progress.yaml" \
        </dev/null
    python3 - "$work" <<'PY' || fail "the progress is not what a user sees"
import os, re, sys
work = sys.argv[1]
names = ["slow", "fails", "quick",
         "a-test-whose-name-is-far-too-long-for-a-narrow-terminal"]
SGR = re.compile(rb"\x1b\[[0-9;]*m")

def screen(data, cols):
    """The final screen of a terminal cols wide (wrapping at the
    margin): CR, LF, ESC[K, SGR codes; any other escape is an error."""
    rows, row, col = [[]], 0, 0
    i = 0
    while i < len(data):
        c = data[i:i + 1]
        if c == b"\x1b":
            m = re.match(rb"\x1b\[([0-9;]*)([A-Za-z])", data[i:])
            assert m and m.group(2) in (b"K", b"m"), data[i:i + 10]
            if m.group(2) == b"K":
                del rows[row][col:]
            i += m.end()
            continue
        if c == b"\r":
            col = 0
        elif c == b"\n":
            row += 1
            if row == len(rows):
                rows.append([])
        else:
            if col == cols:  # the margin: wrap
                row, col = row + 1, 0
                if row == len(rows):
                    rows.append([])
            line = rows[row]
            line.extend(b" " * (col - len(line)))
            if col < len(line):
                line[col] = c[0]
            else:
                line.append(c[0])
            col += 1
        i += 1
    return [bytes(r).decode() for r in rows]

def statuses(data):
    """Each status line drawn: a redraw (CR, erase) not followed by a
    line break before the next redraw."""
    return [p.decode() for p in
            (SGR.sub(b"", q) for q in data.split(b"\r\x1b[K")[1:])
            if b"\n" not in p and p]

def check_tty(name, cols, color):
    data = open(os.path.join(work, name), "rb").read()
    sts = statuses(data)
    assert sts, (name, "no status line", data[:2000])
    for s in sts:
        assert len(s) <= cols - 1, (name, "status wider than the terminal", s)
    has_sgr = SGR.search(data) is not None
    assert has_sgr == color, (name, "colour codes" if has_sgr else "no colour")
    scr = [l for l in screen(data, cols) if l.strip()]
    text = "\n".join(scr)
    # No status line is left on the screen.
    assert " left" not in text and not re.search(r"^\[\d+/\d+\]", text, re.M), \
        (name, text)
    assert re.search(r"^\d+ passed, \d+ failed(, .*)?$", scr[-1]), (name, scr[-1])
    return data, sts, scr

data, sts, scr = check_tty("tty80", 80, True)
# The status line names the running tests and ticks during slow's 3 s
# wait, once the other tests are done and no event comes: several times
# for it between 1.5 s and 2.9 s.
def ticks(sts):
    return sorted({float(m.group(1)) for s in sts
                   for m in re.finditer(r"slow (\d+\.\d)s", s)
                   if 1.5 <= float(m.group(1)) <= 2.9})
assert len(ticks(sts)) >= 2, ("-j 2 does not tick", ticks(sts))
assert any(re.match(r"\[\d/4\] \d passed, \d failed \| ", s) for s in sts), sts
assert any(re.search(r"\| \d:\d\d, ~\d:\d\d left$", s) for s in sts), sts
assert any(s.endswith("? left") for s in sts), sts
for n in names:
    assert any(re.match(r"(PASS|FAIL)   %s \(\d+\.\d\ds\)$" % re.escape(n), l)
               for l in scr), (n, scr)
assert "3 passed, 1 failed" == scr[-1], scr[-1]

data, sts, scr = check_tty("tty20", 20, False)
# Narrow: the lines wrap as text does, the status line never does.
assert any(n.startswith("PASS   a-test-whose") for n in scr), scr

data, sts, scr = check_tty("tty1", 80, False)
assert len(ticks(sts)) >= 2, ("-j 1 does not tick", ticks(sts))

data, sts, scr = check_tty("ttyint", 80, False)
assert any(l.startswith("INTR   slow (") for l in scr), scr
assert any(l.startswith("qhil: interrupted by SIGINT while test slow ran")
           for l in scr), scr

data = open(os.path.join(work, "ttydumb"), "rb").read()
assert b"\x1b" not in data and b"PASS   quick (" in data, data

# --color always: colour to a file too, still no status line.
data = open(os.path.join(work, "always"), "rb").read()
assert b"\x1b[32mPASS \x1b[0m  quick (" in data and b"\r" not in data, data

# Not a terminal: one line per test, no CR, no escape, no status.
for f in ("file", "out"):
    data = open(os.path.join(work, f), "rb").read()
    assert b"\r" not in data and b"\x1b" not in data, (f, data[:500])
    lines = data.decode().split("\n")
    for n in names:
        got = [l for l in lines if re.match(r"(PASS|FAIL)   %s \(" % re.escape(n), l)]
        assert len(got) == 1, (f, n, got)
    assert not any(" left" in l for l in lines), f
PY
}

# Ctrl-C with workers: the running tests are interrupted and shut down in
# order, the rest not run, the reports complete, exit 130.
scenario_pool_interrupt() {
    local qhil
    set -m
    "$QHIL" run -j 2 -o "$work/r" --junit "$work/junit.xml" \
        "$suites/pool.yaml" >"$work/out" 2>&1 &
    qhil=$!
    console_has slow-b '> ' || { kill -9 $qhil; fail "slow-b never started"; }
    kill -INT $qhil
    wait_bounded $qhil 10
    [ "$waited" -eq 130 ] || fail "qhil exited $waited, expected 130"
    has 'interrupted'
    python3 - "$work/junit.xml" <<'PY' || fail "JUnit after an interrupt"
import sys
import xml.etree.ElementTree as ET
v = {}
for tc in ET.parse(sys.argv[1]).iter("testcase"):
    e = tc.find("error")
    s = tc.find("skipped")
    v[tc.get("name")] = ("intr" if e is not None and "interrupted" in e.get("message", "")
                         else "notrun" if s is not None else "other")
# slow-b was running when the signal came; slow-a started with it (on a
# loaded machine it may have just ended); quick, last, never started.
assert v["slow-b"] == "intr", v
assert v["slow-a"] in ("intr", "other"), v
assert v["quick"] == "notrun", v
assert list(v.values()).count("intr") >= 1
PY
    no_qemu_left
}

# scenario lava-run: exported jobs run end to end under LAVA's own
# standalone dispatcher (lava-run, Debian's lava-dispatcher), with the
# device configuration qhil writes, and their verdicts are qhil's.
lava_run_jobs() {
    local device=$1 job name n=0
    shift
    for job in "$@"; do
        n=$((n + 1))
        name=$(basename "$job" .yaml)
        mkdir -p "$work/lava/$name"
        timeout 240 lava-run --job-id "qhil-$$-$n" --output-dir "$work/lava/$name" \
            --device "$device" "$job" >"$work/lava/$name.log" 2>&1
        [ $? -le 1 ] || { tail -n 5 "$work/lava/$name.log" >&2
            fail "lava-run $job did not finish"; }
    done
}

scenario_lava_run() {
    local f t site templates
    command -v lava-run >/dev/null ||
        fail "lava-dispatcher is not installed (scripts/deps.sh)"
    templates=$("$SRC/scripts/lava-templates.sh" "$SRC/build-lava") ||
        fail "cannot fetch LAVA's device type templates"
    mkdir -p "$work/jobs"
    # qhil's example firmware (mps2-an385 with its LAN9118 NIC for LAVA,
    # riscv-virt), firmware by others, and tests that must fail.
    for f in examples/fault-mps2.yaml examples/hello-riscv.yaml \
            examples/firmware/uboot-arm.yaml \
            examples/firmware/uboot-arm64.yaml \
            examples/firmware/opensbi-uboot-riscv64.yaml \
            tests/lava/uboot-arm-fails.yaml \
            tests/lava/uboot-arm-monitor.yaml; do
        t=$(basename "$f" .yaml)
        site=()
        [[ $f == examples/firmware/* || $f == tests/lava/* ]] &&
            site=(--site examples/firmware/site.yaml)
        run 0 lava export "${site[@]}" --per-test --device-config \
            -o "$work/jobs/$t" "$f"
        has "/$t\.device\.yaml$"
        # The device configuration passes LAVA's device schema, and its
        # QEMU command line is what LAVA's own qemu.jinja2 renders for
        # each job.
        /usr/bin/python3 "$SRC/tests/lava/check-device.py" "$templates" \
            "$work/jobs/$t/$t.device.yaml" "$work/jobs/$t/$t"-*.yaml \
            >"$work/check" 2>&1 || { cat "$work/check" >&2
            fail "$t: device configuration is not LAVA's"; }
        lava_run_jobs "$work/jobs/$t/$t.device.yaml" "$work/jobs/$t/$t"-*.yaml
        # qhil's own verdicts on the same suite, to compare.
        "$QHIL" run "${site[@]}" -o "$work/r" --junit "$work/$t.xml" "$f" \
            >"$work/out" 2>&1
    done
    /usr/bin/python3 - "$work" <<'PY' || fail "LAVA and qhil disagree"
import glob, json, os, sys
import xml.etree.ElementTree as ET
work = sys.argv[1]
qhil = {}
for x in glob.glob(os.path.join(work, "*.xml")):
    suite = os.path.basename(x)[:-4]
    for tc in ET.parse(x).iter("testcase"):
        bad = tc.find("failure") is not None or tc.find("error") is not None
        qhil["%s-%s" % (suite, tc.get("name"))] = "fail" if bad else "pass"
lava = {}
for log in glob.glob(os.path.join(work, "lava", "*.log")):
    job = os.path.basename(log)[:-4]
    for line in open(log):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        m = e.get("msg")
        if e.get("lvl") == "results" and isinstance(m, dict) and \
                m.get("case", "").startswith("0_"):
            lava[job] = m["result"]
want_fail = {"uboot-arm-fails-fail-pattern-printed",
             "uboot-arm-fails-never-printed",
             "uboot-arm-monitor-quit-then-prompt"}
bad = 0
for job in sorted(set(qhil) | set(lava)):
    print("%-60s qhil %-4s LAVA %s" % (job, qhil.get(job), lava.get(job)))
    if qhil.get(job) != lava.get(job) or \
            qhil.get(job) != ("fail" if job in want_fail else "pass"):
        bad += 1
print("%d jobs, %d passed, %d disagree" % (
    len(lava), sum(v == "pass" for v in lava.values()), bad))
sys.exit(1 if bad or len(lava) != 32 else 0)
PY
    # LAVA's own rendering of its device type runs the jobs too: the
    # monitor on the console (reset through Ctrl-A c) included.
    /usr/bin/python3 "$SRC/tests/lava/check-device.py" --render "$templates" \
        "$work/jobs/uboot-arm/uboot-arm-qmp-system-reset.yaml" \
        >"$work/lava-device.yaml" || fail "cannot render LAVA's template"
    rm -rf "$work/lava"
    lava_run_jobs "$work/lava-device.yaml" \
        "$work/jobs/uboot-arm/uboot-arm-qmp-system-reset.yaml"
    grep -q '"case": "0_qmp-system-reset".*"result": "pass"' \
        "$work/lava/uboot-arm-qmp-system-reset.log" ||
        fail "the reset job failed on LAVA's rendered device"
    grep -q 'cstop.*system_reset.*cont' "$work/lava/uboot-arm-qmp-system-reset.log" ||
        fail "the reset did not go through the monitor"
}

scenario_lava_export() {
    local f n site
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import lava_common' ||
        fail "lava-common is not installed (scripts/deps.sh)"
    # Every example suite LAVA can run, one job per suite and per test.
    for f in examples/hello-riscv.yaml examples/firmware/uboot-arm.yaml \
            examples/firmware/uboot-arm64.yaml \
            examples/firmware/opensbi-uboot-riscv64.yaml; do
        site=()
        [[ $f == examples/firmware/* ]] &&
            site=(--site examples/firmware/site.yaml)
        run 0 lava export "${site[@]}" -o "$work/suite" "$f"
        run 0 lava export "${site[@]}" --per-test -o "$work/test" "$f"
        n=$(grep -c '^  - name:' "$f")
        [ "$(wc -l <"$work/out")" -eq "$n" ] ||
            fail "$f: $n tests but $(wc -l <"$work/out") jobs written"
    done
    [ "$(ls "$work/suite" | wc -l)" -eq 4 ] || fail "not 4 suite jobs"
    lava_check "$work"/suite/*.yaml "$work"/test/*.yaml
    [ "$(grep -c '^ok ' "$work/check")" -eq "$(ls "$work"/suite "$work"/test |
        grep -c 'yaml$')" ] || fail "a job was not checked"
    # The checker can fail: a job without its visibility.
    grep -v '^visibility:' "$work/suite/uboot-arm.yaml" >"$work/broken.yaml"
    ! /usr/bin/python3 "$SRC/tests/lava/check-jobs.py" "$work/broken.yaml" \
        >/dev/null 2>&1 || fail "LAVA's schema took a job without visibility"
    # What the job says, as a LAVA user would write it.
    cp "$work/suite/uboot-arm.yaml" "$work/out"
    has '^device_type: qemu$'
    has '^job_name: uboot-arm$'
    has '^  arch: arm$'
    has '^  machine: virt$'
    has '^  cpu: cortex-a15$'
    has '^  memory: 128M$'
    has '^  - -nic none$'
    has '^        image_arg: -bios \{bios\}$'
    has '^        url: file:///usr/lib/u-boot/qemu_arm/u-boot.bin$'
    has '^    method: qemu$'
    has '^    - name: qmp-system-reset$'
    # fail_on patterns are the prompts; a reset goes through the monitor;
    # a send without a newline ends in Ctrl-A.
    has 'prompts:'
    has "'\(\?m\)\(\?a:### ERROR ### Please RESET the board ###\)'"
    # The monitor on the console, TCG as qhil ran it.
    has '^  extra_options:$'
    has '^  - -serial mon:stdio$'
    has '^  no_kvm: true$'
    # Patterns for the CR LF LAVA's terminal gives every LF.
    has 'message: \(\?m\)\(\?a:\(\?:\\r\\n\)=> \)$'
    has 'command: "\\x01cstop\\nsystem_reset\\ncont\\n\\x01c\\x01"'
    has 'command: " \\x01"'
    lacks '-monitor'
    cp "$work/test/uboot-arm-version.yaml" "$work/out"
    has '^job_name: "uboot-arm: version"$|^job_name: .uboot-arm: version.$'
    [ "$(grep -c '^- boot:' "$work/out")" -eq 1 ] || fail "not one boot"

    # Never replaces a file, leaves no temporary one.
    cp "$work/suite/uboot-arm.yaml" "$work/before"
    run 2 lava export --site examples/firmware/site.yaml -o "$work/suite" \
        examples/firmware/uboot-arm.yaml
    has 'uboot-arm\.yaml: exists already, not replaced'
    cmp -s "$work/before" "$work/suite/uboot-arm.yaml" || fail "job replaced"
    ls -A "$work/suite" | grep -q '^\.' && fail "a temporary file was left"
    # ...not even through a symlink planted at its name.
    mkdir "$work/planted"
    echo keep >"$work/victim"
    ln -s "$work/victim" "$work/planted/hello-riscv.yaml"
    run 2 lava export -o "$work/planted" examples/hello-riscv.yaml
    [ "$(cat "$work/victim")" = keep ] || fail "wrote through a symlink"

    # --device-config writes SUITE.device.yaml beside the jobs, and only
    # then; one already there leaves everything unwritten.
    ls "$work/suite" | grep -q 'device' && fail "a device file without asking"
    mkdir "$work/dev"
    echo keep >"$work/dev/uboot-arm.device.yaml"
    run 2 lava export --site examples/firmware/site.yaml --device-config \
        -o "$work/dev" examples/firmware/uboot-arm.yaml
    has 'uboot-arm\.device\.yaml: exists already, not replaced'
    [ "$(ls -A "$work/dev")" = uboot-arm.device.yaml ] ||
        fail "a refused export wrote $(ls -A "$work/dev")"
    [ "$(cat "$work/dev/uboot-arm.device.yaml")" = keep ] ||
        fail "the device file was replaced"

    # What LAVA cannot express is refused, with its line, nothing written.
    run 2 lava export -o "$work/none" examples/devices/cmsdk-stock.yaml
    has 'cmsdk-stock\.yaml:[0-9]+: tests\[0\]\.steps\[[0-9]+\]\.[a-z_]+: a QTest step'
    run 2 lava export -o "$work/none" examples/hello-mps2.yaml
    has "hello-mps2\.yaml:46: tests\[5\]\.steps\[1\]\.qmp: 'query-status'"
    cp firmware/build/riscv-virt/hello.elf "$work/"
    printf '%s\n' 'device_type: riscv-virt' 'images:' \
        "  kernel: hello.elf" 'tests:' \
        '  - name: a' '    steps: [expect: x, qmp: stop]' >"$work/stop.yaml"
    run 2 lava export -o "$work/none" "$work/stop.yaml"
    has "stop\.yaml:6: tests\[0\]\.steps\[1\]\.qmp: 'stop'"
    # Two tests, one file name: refused before anything is written.
    printf '%s\n' 'device_type: riscv-virt' 'images:' \
        "  kernel: hello.elf" 'tests:' \
        '  - {name: "a b", steps: [expect: x]}' \
        '  - {name: "a_b", steps: [expect: x]}' >"$work/twins.yaml"
    run 2 lava export --per-test -o "$work/none" "$work/twins.yaml"
    has 'twins-a_b\.yaml is that of tests\[0\] too'
    # Patterns that cannot be given to LAVA exactly, in a step and in
    # fail_on.
    printf '%s\n' 'device_type: riscv-virt' 'images:' \
        "  kernel: hello.elf" 'tests:' \
        '  - name: a' '    steps: [expect: "\\Aboot"]' >"$work/anchor.yaml"
    run 2 lava export -o "$work/none" "$work/anchor.yaml"
    has 'anchor\.yaml:6: tests\[0\]\.steps\[0\]\.expect: pattern "\\Aboot": .*\\A'
    printf '%s\n' 'device_type: riscv-virt' 'images:' \
        "  kernel: hello.elf" 'fail_on: ["\\h+panic"]' 'tests:' \
        '  - name: a' '    steps: [expect: x]' >"$work/failon.yaml"
    run 2 lava export -o "$work/none" "$work/failon.yaml"
    has 'failon\.yaml:6: tests\[0\] \(test a\)\.fail_on: pattern "\\h\+panic"'
    # Boards with no LAVA equivalent: an arch LAVA's qemu device type does
    # not have, an option it would fill with its own default.
    mkdir -p "$work/boards"
    printf '%s\n' 'device_type: rv32' 'arch: riscv32' 'qemu:' \
        '  binary: qemu-system-riscv32' '  machine: virt' '  cpu: rv32' \
        '  memory: 64M' '  mandatory: [-nographic]' \
        >"$work/boards/rv32.yaml"
    printf '%s\n' 'device_type: armnocpu' 'arch: arm' 'qemu:' \
        '  binary: qemu-system-arm' '  machine: virt' '  memory: 64M' \
        '  mandatory: [-nographic]' >"$work/boards/armnocpu.yaml"
    printf '%s\n' 'device_type: armnomem' 'arch: arm' 'qemu:' \
        '  binary: qemu-system-arm' '  machine: virt' '  cpu: cortex-a15' \
        '  mandatory: [-nographic]' >"$work/boards/armnomem.yaml"
    for b in rv32 armnocpu armnomem; do
        printf '%s\n' "device_type: $b" 'tests:' '  - name: a' \
            '    steps: [expect: x]' >"$work/$b.yaml"
    done
    run 2 lava export -B "$work/boards" -o "$work/none" "$work/rv32.yaml"
    has "rv32\.yaml:1: device_type rv32: its QEMU binary is qemu-system-riscv32, and LAVA's qemu device type has no arch 'riscv32'"
    run 2 lava export -B "$work/boards" -o "$work/none" "$work/armnocpu.yaml"
    has 'armnocpu\.yaml:1: .*has no -cpu, and LAVA.s qemu device type then adds -cpu cortex-a57 for arch arm'
    run 2 lava export -B "$work/boards" -o "$work/none" "$work/armnomem.yaml"
    has 'armnomem\.yaml:1: .*has no -m, .* adds -m 512 for arch arm'
    [ ! -e "$work/none" ] || fail "a refused export wrote $(ls -A "$work/none")"
    run 2 lava export examples/hello-riscv.yaml
    has 'no -o DIR given'
}

scenario_qmp_rejected() {
    # The policy refuses a command it does not know before QEMU starts...
    run 2 run -o "$work/r" "$suites/fail-qmp-rejected.yaml"
    has "fail-qmp-rejected.yaml:9: tests\[0\]\.steps\[0\]\.qmp: 'no-such-command' is not allowed by the strict policy"
    # ...so QEMU's own rejection is seen in a trusted run.
    run 1 run --trusted -o "$work/r" "$suites/fail-qmp-rejected.yaml"
    has '^FAIL +rejected '
    has 'QEMU rejected the command: CommandNotFound: '
    has '^PASS +rejection-expected '
    has '^FAIL +reply-mismatch '
    has 'does not contain \{"status": ?"paused"\}'
    has '^1 passed, 2 failed$'
    no_qemu_left
}

scenario_test_timeout() {
    local start=$SECONDS
    run 1 run -o "$work/r" "$suites/test-timeout.yaml"
    has 'test timeout after 1.5s, in step 3: expect "never printed"'
    [ $((SECONDS - start)) -lt 10 ] || fail "test timeout not honoured"
    no_qemu_left
}

# A result is the fold of its test's events, the same in a worker as in
# one process: every failure (a test with two), every step timed, tags,
# QEMU's own output and how it ended, in JSON, JUnit and TAP alike.
# Kept events are on disk, one file per attempt, as they come: each
# attempt's folder has its events.jsonl, and the report's events are its
# lines, serial and with workers; --keep removes folders only after the
# report read them; without --json nothing is kept.
scenario_events_on_disk() {
    local j
    for j in 1 2; do
        rm -rf "$work/r" "$work/run.json" "$work/ev.jsonl"
        run 1 run -j "$j" --retry 1 -o "$work/r" -t always -t passes \
            --json "$work/run.json" --events "$work/ev.jsonl" \
            "$suites/retry.yaml"
        python3 - "$work" <<'PY' || fail "-j $j: events.jsonl is not the report's events"
import json, os, sys
work = sys.argv[1]
run = json.load(open(os.path.join(work, "run.json")))
stream = [json.loads(l) for l in open(os.path.join(work, "ev.jsonl"))]

def on_disk(attempt):
    folder = os.path.dirname(attempt["console_log"])
    raw = open(os.path.join(folder, "events.jsonl"), "rb").read()
    assert raw.endswith(b"\n") and raw.isascii(), folder
    lines = raw.split(b"\n")[:-1]
    # One compact object a line.
    assert all(l.startswith(b"{") and b"\n" not in l for l in lines)
    return folder, [json.loads(l) for l in lines]

names = [t["name"] for t in run["tests"]]
assert names == ["always", "passes"], names
for t in run["tests"]:
    attempts = t["previous_attempts"] + [t]
    assert len(attempts) == (2 if t["name"] == "always" else 1), t["name"]
    for k, a in enumerate(attempts, 1):
        folder, evs = on_disk(a)
        want = t["name"] if k == 1 else os.path.join(t["name"], "attempt-%d" % k)
        assert folder.endswith("/" + want), (folder, want)
        assert evs, folder
        assert evs == a["events"], folder + ": report and file differ"
        assert a["events_dropped"] == 0, folder
        assert all(e.get("attempt", 1) == k for e in evs), folder
        # What the live stream showed of this attempt, no more, no less.
        live = [e for e in stream
                if e["test"] == t["name"] and e.get("attempt", 1) == k]
        assert live == evs, folder + ": file and stream differ"
PY
        no_qemu_left
    done
    # Nobody keeps events without --json.
    run 0 run -o "$work/r2" -t passes "$suites/retry.yaml"
    [ -z "$(find "$work/r2" -name events.jsonl)" ] ||
        fail "events.jsonl written without --json"
    # --keep failed: the passing test's folder goes, after the report
    # read its events.
    run 1 run -j 2 -o "$work/r3" --keep failed --json "$work/k.json" \
        -t always -t passes "$suites/retry.yaml"
    python3 - "$work" <<'PY' || fail "--keep removed events before the report"
import json, os, sys
run = json.load(open(os.path.join(sys.argv[1], "k.json")))
by = {t["name"]: t for t in run["tests"]}
p = by["passes"]
assert not os.path.exists(os.path.dirname(p["console_log"])), "folder kept"
kinds = [e["kind"] for e in p["events"]]
assert kinds[0] == "test_start" and kinds[-1] == "test_end", kinds
assert p["events_dropped"] == 0
a = by["always"]
assert os.path.exists(os.path.join(os.path.dirname(a["console_log"]),
                                   "events.jsonl"))
PY
}

scenario_results_events() {
    local j
    for j in 1 2; do
        run 1 run -j "$j" -o "$work/r$j" --json "$work/j$j.json" \
            --junit "$work/j$j.xml" --tap="$work/j$j.tap" \
            "$suites/results-events.yaml"
    done
    # No --json and no --events: nobody listens, the fold still happens.
    run 1 run -j 1 -o "$work/r3" --junit "$work/j3.xml" --tap="$work/j3.tap" \
        "$suites/results-events.yaml"
    python3 - "$work" <<'PY' || fail "results do not match their events"
import json, sys
import xml.etree.ElementTree as ET
work = sys.argv[1]
runs = [json.load(open("%s/j%d.json" % (work, j))) for j in (1, 2)]

def shape(t):
    """What must not depend on -j: no times, no paths."""
    return (t["name"], t["verdict"], t["step"], t["tags"],
            [(f["step"], f["line"], f["verdict"], f["message"].split(" (see ")[0])
             for f in t["failures"]],
            [(s["step"], s["line"], s["step_desc"], s["verdict"])
             for s in t["steps"]])

for run in runs:
    assert run["qhil_run"] == 2
    by = {t["name"]: t for t in run["tests"]}
    for t in run["tests"]:
        fails = [e for e in t["events"] if e["kind"] == "failure"]
        assert [f["message"] for f in t["failures"]] == \
            [e["message"] for e in fails], t["name"]
        assert all(s["duration_ns"] is not None and s["duration_ns"] >= 0
                   for s in t["steps"]), t["steps"]
        total = sum(s["duration_ns"] for s in t["steps"])
        assert total <= t["duration_ns"], (t["name"], total, t["duration_ns"])
        ends = [e for e in t["events"] if e["kind"] == "step_end"]
        assert [s["duration_ns"] for s in t["steps"]] == \
            [e["duration_ns"] for e in ends], t["name"]
    two = by["two-failures"]
    assert two["verdict"] == "fail"
    assert [f["message"].split(" within")[0] for f in two["failures"]] == \
        ["pattern not seen",
         'test timeout after 1.5s, in step 3: expect "never printed"'], \
        two["failures"]
    assert two["message"] == two["failures"][1]["message"]
    assert two["step"] == 3 and two["step_desc"] == 'expect "never printed"'
    assert [s["verdict"] for s in two["steps"]] == ["pass", "pass", "fail"]
    assert two["steps"][1]["duration_ns"] >= 200000000, two["steps"]
    assert two["tags"] == ["results", "slow"], two["tags"]
    ok = by["passes"]
    assert ok["verdict"] == "pass" and ok["failures"] == []
    assert len(ok["steps"]) == 5 and ok["tags"] == ["results", "smoke"]
    warns = [e for e in ok["events"] if e["kind"] == "qemu_warning"]
    assert warns and all(e["text"].startswith("serial_write") for e in warns)
    log = open(ok["qemu_log"], encoding="utf-8").read().splitlines()
    assert [e["text"] for e in warns] == [l for l in log if l], \
        "qemu_warning events are not qemu.log's lines"
    faults = [e for e in ok["events"] if e["kind"] == "fault"]
    assert [(e["fault"], e["step"]) for e in faults] == [("system_reset", 4)]
    me = [e for e in ok["events"] if e["kind"] == "machine_end"][0]
    assert me["how"] == "quit" and me["exit_status"] == 0
    assert me["stderr_tail"] and me["stderr_tail"].splitlines()[-1] == log[-1]
    ex = by["qemu-exits"]
    me = [e for e in ex["events"] if e["kind"] == "machine_end"][0]
    assert me["exit_status"] == 3 and me["signal"] is None, me
    assert ex["verdict"] == "error" and len(ex["failures"]) == 1
    assert "status 3" in ex["message"]
a, b = [[shape(t) for t in r["tests"]] for r in runs]
assert a == b, "-j 1 and -j 2 differ:\n%s\n%s" % (a, b)

for j in (1, 2, 3):
    cases = {tc.get("name"): tc for tc in
             ET.parse("%s/j%d.xml" % (work, j)).iter("testcase")}
    body = cases["two-failures"].find("failure").text
    assert "all 2 failures:" in body, body
    assert "1. step 3 (line 17), fail: pattern not seen" in body, body
    assert ('2. step 3 (line 17), fail: test timeout after 1.5s, in step 3'
            in body), body
    props = {p.get("name"): p.get("value") for p in
             cases["passes"].find("properties")}
    assert props["step 4"].endswith("pass: reset"), props
    assert all("step %d" % k in props for k in range(1, 6)), props
    tap = open("%s/j%d.tap" % (work, j)).read()
    part = tap.split(" - two-failures\n")[1].split("\n  ...\n")[0]
    assert part.count("    - message: ") == 2, part
    assert "pattern not seen" in part and "test timeout after 1.5s" in part
PY
    xmllint --noout --schema "$SRC/tests/junit/junit.xsd" "$work/j1.xml" \
        "$work/j2.xml" "$work/j3.xml" 2>"$work/xmllint" ||
        fail "not valid JUnit: $(cat "$work/xmllint")"
    no_qemu_left
}

# ---- results folders and reports ------------------------------------

# The run folder a run printed ("logs in DIR") in $work/out.
run_folder() {
    sed -n 's/^logs in //p' "$work/out"
}

# The suite name "../../../x" as the default results folder: everything
# stays inside ./qhil-results.
scenario_path_escape() {
    local cwd="$work/d1/d2/d3"
    mkdir -p "$cwd"
    # Trusted: its image is outside the suite's folder on purpose.
    (cd "$cwd" && "$QHIL" run --trusted "$suites/escape-name.yaml") \
        >"$work/out" 2>&1 ||
        fail "the run failed"
    has '^PASS +boots '
    [ ! -e "$work/d1/x" ] || fail "logs written outside qhil-results"
    local stray
    stray=$(find "$work" -path "$cwd/qhil-results" -prune -o -newer "$cwd" \
        ! -path "$work/out" -print)
    [ -z "$stray" ] || fail "files made outside qhil-results: $stray"
    local dir
    dir=$(run_folder)
    case "$dir" in
    qhil-results/%2e.%2f..%2f..%2fx/*) ;;
    *) fail "run folder '$dir' is not inside qhil-results/<safe name>" ;;
    esac
    [ -s "$cwd/$dir/boots/console.log" ] || fail "console.log not in $dir"
    [ -L "$cwd/qhil-results/%2e.%2f..%2f..%2fx/latest" ] ||
        fail "no latest link"
}

# Names that collide as folder names (with the mapped form of another
# name, or only in case), 300-byte names, ".", "..", "/": the run
# finishes, each test has its own folder inside the run folder, the
# JUnit report lists every test.
scenario_tricky_names() {
    local n
    n=$(grep -c '^  - name:' "$suites/tricky-names.yaml")
    run 0 run -o "$work/r" --junit "$work/junit.xml" \
        "$suites/tricky-names.yaml"
    has "^$n passed, 0 failed$"
    local dir folders logs
    dir=$(run_folder)
    [ "$(readlink -f "$dir")" = "$(readlink -f "$work/r/latest")" ] ||
        fail "latest does not point at the run folder $dir"
    folders=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | wc -l)
    [ "$folders" -eq "$n" ] || fail "$folders test folders for $n tests"
    logs=$(find "$dir" -mindepth 2 -maxdepth 2 -name console.log -size +0 |
        wc -l)
    [ "$logs" -eq "$n" ] || fail "$logs console logs for $n tests"
    # Nothing outside the run folder but the latest link.
    [ "$(find "$work/r" -mindepth 1 -maxdepth 1 | wc -l)" -eq 2 ] ||
        fail "extra entries in the results folder: $(ls -A "$work/r")"
    [ ! -e "$work/up" ] && [ ! -e "$work/r/up" ] || fail "'../up' escaped"
    python3 - "$work/junit.xml" "$n" <<'PY' || fail "JUnit report incomplete"
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot().find("testsuite")
cases = suite.findall("testcase")
names = {c.get("name") for c in cases}
sys.exit(0 if len(cases) == int(sys.argv[2]) == len(names) and
         suite.get("tests") == sys.argv[2] else 1)
PY
    grep -q "name=\"$(printf 'L%.0s' $(seq 300))\"" "$work/junit.xml" ||
        fail "the 300-character name is not in the report"
    no_qemu_left
}

# A test whose folder cannot be made (OUT so long that only the long
# name's folder passes PATH_MAX) is an error; the run goes on and
# reports every test.
scenario_test_folder_fails() {
    local out="$work/long" part
    part=$(printf 'd%.0s' $(seq 200))
    while [ ${#out} -lt 3800 ]; do
        out="$out/$part"
    done
    out="$out/${part:0:$((4000 - ${#out} - 1))}"
    [ ${#out} -eq 4000 ] || fail "OUT is ${#out} bytes, expected 4000"
    run 1 run -o "$out" --junit "$work/junit.xml" "$suites/long-name.yaml"
    has '^PASS +before '
    has '^ERROR +L{300} '
    has 'cannot create the test folder .*File name too long'
    has '^PASS +after '
    has '^2 passed, 1 failed$'
    grep -q '<testsuite name="long-name" tests="3" failures="0" errors="1"' \
        "$work/junit.xml" || fail "JUnit report incomplete"
}

# Two runs of one suite at once into one OUT: two run folders, each
# console.log holds one boot only, both reports are complete.
scenario_concurrent_runs() {
    "$QHIL" run -o "$work/r" --junit "$work/a.xml" \
        "$suites/concurrent.yaml" >"$work/out.a" 2>&1 &
    local a=$!
    "$QHIL" run -o "$work/r" --junit "$work/b.xml" \
        "$suites/concurrent.yaml" >"$work/out.b" 2>&1 &
    local b=$!
    wait $a || { cp "$work/out.a" "$work/out"; fail "first run failed"; }
    wait $b || { cp "$work/out.b" "$work/out"; fail "second run failed"; }
    local da db t
    da=$(sed -n 's/^logs in //p' "$work/out.a")
    db=$(sed -n 's/^logs in //p' "$work/out.b")
    [ -n "$da" ] && [ -n "$db" ] || fail "a run did not say where its logs are"
    [ "$da" != "$db" ] || fail "both runs wrote to $da"
    for t in first second; do
        for d in "$da" "$db"; do
            [ "$(grep -c 'Hello, QEMU!' "$d/$t/console.log")" -eq 1 ] ||
                fail "$d/$t/console.log does not hold exactly one boot"
            [ "$(grep -c 'count=1' "$d/$t/console.log")" -eq 1 ] ||
                fail "$d/$t/console.log mixes runs"
        done
        [ "$(cat "$da/$t/qemu.pid")" != "$(cat "$db/$t/qemu.pid")" ] ||
            fail "the two runs share $t/qemu.pid"
    done
    for x in a b; do
        python3 - "$work/$x.xml" <<'PY' || fail "report $x.xml incomplete"
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot().find("testsuite")
sys.exit(0 if s.get("tests") == "2" and s.get("failures") == "0" and
         len(s.findall("testcase")) == 2 else 1)
PY
    done
    local latest
    latest=$(readlink "$work/r/latest")
    [ "$work/r/$latest" = "$da" ] || [ "$work/r/$latest" = "$db" ] ||
        fail "latest points at $latest, not at one of the runs"
    no_qemu_left
}

# Symlinks planted in OUT (the old layout's log names, and latest) are
# never followed: their targets stay as they were.
scenario_planted_symlinks() {
    mkdir -p "$work/r/boots" "$work/victim"
    local f
    for f in console.log qemu.log qemu.pid; do
        echo precious >"$work/victim.$f"
        ln -s "$work/victim.$f" "$work/r/boots/$f"
    done
    ln -s "$work/victim" "$work/r/latest"
    run 0 run -o "$work/r" "$suites/escape-name.yaml"
    has '^PASS +boots '
    for f in console.log qemu.log qemu.pid; do
        [ "$(cat "$work/victim.$f")" = precious ] ||
            fail "the target of the planted $f was changed"
    done
    [ -z "$(ls -A "$work/victim")" ] || fail "written through the latest link"
    [ -L "$work/r/latest" ] && [ -s "$work/r/latest/boots/console.log" ] ||
        fail "latest does not point at the new run"
    [ ! -L "$(run_folder)/boots/console.log" ] || fail "console.log is a link"
}

# A report path that cannot be written is refused before any QEMU starts.
scenario_report_bad_path() {
    run 2 run -o "$work/r" --junit /nonexistent/r.xml \
        "$suites/escape-name.yaml"
    has '^qhil: --junit: /nonexistent/r\.xml: .*No such file or directory'
    lacks '^qhil: suite '
    lacks 'PASS|FAIL'
    [ ! -e "$work/r" ] || fail "the run started before the report was checked"
    run 2 run -o "$work/r" --tap=/nonexistent/t.tap "$suites/escape-name.yaml"
    has '^qhil: --tap: /nonexistent/t\.tap: '
    mkdir "$work/dir"
    run 2 run -o "$work/r" --junit "$work/dir" "$suites/escape-name.yaml"
    has "^qhil: --junit: $work/dir: is a folder"
    [ ! -e "$work/r" ] || fail "the run started before the report was checked"
    # A good path: no temporary file left beside the report.
    run 0 run -o "$work/r" --junit "$work/dir/r.xml" \
        "$suites/escape-name.yaml"
    [ "$(ls -A "$work/dir")" = r.xml ] ||
        fail "left beside the report: $(ls -A "$work/dir")"
}

# The test's 1 s timeout during a 5 s wait: FAIL after about 1 s.
scenario_timeout_wait() {
    local start end
    start=$(date +%s%N)
    run 1 run -o "$work/r" "$suites/timeout-wait.yaml"
    end=$(date +%s%N)
    has '^FAIL +wait-past-timeout '
    has 'test timeout after 1s, in step 2: wait 5s'
    has '^PASS +passes-afterwards '
    has '^1 passed, 1 failed$'
    [ $(((end - start) / 1000000)) -lt 4000 ] ||
        fail "took $(((end - start) / 1000000)) ms: the wait was not cut short"
    no_qemu_left
}

scenario_bad_yaml() {
    run 2 run -o "$work/r" "$suites/bad-yaml.yaml"
    has 'bad-yaml\.yaml:[0-9]+:[0-9]+: .*YAML'
    [ ! -d "$work/r" ] || fail "a run directory was made for a bad suite"
}

scenario_bad_step() {
    run 2 run -o "$work/r" "$suites/bad-step.yaml"
    has "bad-step\\.yaml:8:.*unknown step 'expekt'"
}

scenario_bad_image() {
    run 2 run -o "$work/r" "$suites/bad-image.yaml"
    has 'bad-image\.yaml:3:.*no/such/firmware\.elf'
}

# bad_kernel PATH REASON: a suite for mps2-an385 whose kernel is PATH is
# refused (exit 2) in under a second with "suite.yaml:3: images.kernel:
# image file ... REASON", and no QEMU is started: the only QEMU qhil can
# find is a stand-in that leaves a mark.
bad_kernel() {
    local path=$1 reason=$2 t0 t1
    mkdir -p "$work/qemu"
    printf '#!/bin/sh\ntouch "%s/qemu-ran"\nexit 1\n' "$work" \
        >"$work/qemu/qemu-system-arm"
    chmod +x "$work/qemu/qemu-system-arm"
    printf 'device_type: mps2-an385\nimages:\n  kernel: "%s"\n' "$path" \
        >"$work/suite.yaml"
    printf 'tests:\n  - name: boots\n    steps:\n      - expect: Hello\n' \
        >>"$work/suite.yaml"
    t0=$(date +%s%N)
    run 2 run -Q "$work/qemu" -o "$work/r" "$work/suite.yaml"
    t1=$(date +%s%N)
    has "suite\\.yaml:3:([0-9]+:)? images\\.kernel: image file .*$reason"
    [ ! -e "$work/qemu-ran" ] || fail "QEMU was started for $path"
    [ ! -d "$work/r" ] || fail "a run directory was made for $path"
    [ $(((t1 - t0) / 1000000)) -lt 1000 ] ||
        fail "refusing $path took $(((t1 - t0) / 1000000)) ms"
}

# A QEMU that never answers QMP (a stand-in that only sleeps): the test's
# own timeout ends the start, not the fixed 10 s start timeout, and the
# stand-in is gone afterwards.
scenario_start_within_test_timeout() {
    local t0 t1
    mkdir -p "$work/qemu"
    printf '#!/bin/sh\nexec sleep 30.25\n' >"$work/qemu/qemu-system-arm"
    chmod +x "$work/qemu/qemu-system-arm"
    printf 'device_type: mps2-an385\nimages:\n  kernel: "%s"\n' \
        "$SRC/firmware/build/mps2-an385/hello.elf" >"$work/suite.yaml"
    printf 'tests:\n  - name: boots\n    timeout: 1s\n' >>"$work/suite.yaml"
    printf '    steps:\n      - expect: Hello\n' >>"$work/suite.yaml"
    t0=$(date +%s%N)
    run 1 run -Q "$work/qemu" -o "$work/r" "$work/suite.yaml"
    t1=$(date +%s%N)
    has '^FAIL +boots '
    has 'test timeout after 1s, while QEMU started'
    [ $(((t1 - t0) / 1000000)) -lt 3000 ] ||
        fail "the start took $(((t1 - t0) / 1000000)) ms, past the 1s test timeout"
    for _ in $(seq 20); do
        pgrep -f 'sleep 30.25' >/dev/null || return 0
        sleep 0.1
    done
    pkill -f 'sleep 30.25'
    fail "the stand-in QEMU outlived its test"
}

scenario_bad_image_kinds() {
    local st
    mkdir "$work/fw"
    bad_kernel "$work/fw" "is a directory, not a regular file"
    ln -s "$work/loop-b" "$work/loop-a"
    ln -s "$work/loop-a" "$work/loop-b"
    bad_kernel "$work/loop-a" "is a symlink loop"
    mkfifo "$work/fifo"
    bad_kernel "$work/fifo" "is a FIFO \\(named pipe\\), not a regular file"
    bad_kernel /dev/zero "is a character device, not a regular file"
    : >"$work/empty.elf"
    bad_kernel "$work/empty.elf" "is empty \\(0 bytes\\)"
    echo "Hello, QEMU!" >"$work/text.elf"
    bad_kernel "$work/text.elf" \
        "is not an ELF file: it starts with 48 65 6c 6c .*slot kernel"
    bad_kernel "$SRC/firmware/build/riscv-virt/hello.elf" \
        "is an ELF for RISC-V \\(64-bit\\), but the board's arch 'arm'"
    ln -s "$work/none.elf" "$work/dangling.elf"
    bad_kernel "$work/dangling.elf" \
        "is a symlink to '.*none\\.elf', which does not exist"
    # Root reads anything: try an unreadable image as nobody (when nobody
    # can run this qhil at all: a build inside a private folder, such as
    # a clone in a mode-0700 temporary folder, is out of its reach).
    if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
        ! setpriv --reuid=65534 --regid=65534 --clear-groups \
            "$QHIL" version >/dev/null 2>&1; then
        echo "note: nobody cannot run $QHIL; unreadable-image case skipped"
    elif [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        chmod 0711 "$work"
        cp "$SRC/firmware/build/mps2-an385/hello.elf" "$work/secret.elf"
        chmod 0 "$work/secret.elf"
        printf 'device_type: mps2-an385\nimages:\n  kernel: %s\n%s\n' \
            "$work/secret.elf" 'tests: [{name: a, steps: [reset]}]' \
            >"$work/secret.yaml"
        chmod 0644 "$work/secret.yaml"
        setpriv --reuid=65534 --regid=65534 --clear-groups \
            "$QHIL" run -o "$work/r" "$work/secret.yaml" >"$work/out" 2>&1
        st=$?
        [ $st -eq 2 ] || fail "an unreadable image: exit $st, expected 2"
        has "secret\\.yaml:3:11: images\\.kernel: image file .*secret\\.elf \
is not readable: Permission denied"
    fi
}

# deep_refused FILE WHERE: qhil refuses FILE (exit 2) in under a second
# with "WHERE: YAML nested deeper than 64 levels".
deep_refused() {
    local t0 t1
    t0=$(date +%s%N)
    run 2 run -B "$work/boards" -o "$work/r" "$1"
    t1=$(date +%s%N)
    has "$2: YAML nested deeper than 64 levels"
    [ $(((t1 - t0) / 1000000)) -lt 1000 ] ||
        fail "refusing $1 took $(((t1 - t0) / 1000000)) ms"
    [ ! -d "$work/r" ] || fail "a run directory was made for $1"
}

# N copies of the text $2.
repeat() {
    head -c "$1" /dev/zero | tr '\0' "$2"
}

# Two million levels fit in the 4 MiB size cap and took libyaml hours to
# build; each is refused at the first level past the limit.
scenario_deep_yaml() {
    local two_m=2000000
    mkdir "$work/boards"
    {
        printf 'device_type: mps2-an385\ntests:\n  - name: a\n    steps:\n'
        printf '      - qmp: {execute: x, arguments: {a: '
        repeat $two_m '['
        repeat $two_m ']'
        printf '}}\n'
    } >"$work/flow.yaml"
    deep_refused "$work/flow.yaml" 'flow\.yaml:5:99'
    {
        printf 'device_type: mps2-an385\ntests:\n  - name: a\n    steps:\n'
        printf '      - qmp:\n          execute: x\n          arguments:\n'
        printf '            a:\n              '
        head -c $two_m /dev/zero | sed 's/\x0/- /g'
        printf 'x\n'
    } >"$work/block.yaml"
    deep_refused "$work/block.yaml" 'block\.yaml:9:129'
    # Board templates are read the same way.
    {
        printf 'device_type: deep-board\narch: arm\ndescription: '
        repeat $two_m '['
        printf '\n'
    } >"$work/boards/deep-board.yaml"
    printf 'device_type: deep-board\ntests: [{name: a, steps: [reset]}]\n' \
        >"$work/uses-deep-board.yaml"
    deep_refused "$work/uses-deep-board.yaml" 'deep-board\.yaml:3:77'
    # At the limit a suite still loads: 57 levels of lists under 7 of
    # suite; it is refused only later, for its board's missing QEMU.
    {
        printf 'device_type: no-qemu-board\ntests:\n  - name: a\n'
        printf '    steps:\n      - qmp:\n          execute: x\n'
        printf '          arguments:\n            a: '
        repeat 57 '['
        repeat 57 ']'
        printf '\n'
    } >"$work/limit.yaml"
    run 2 run -B "$SRC/tests/integration/boards" -o "$work/r" \
        "$work/limit.yaml"
    has "limit\\.yaml:1: device_type no-qemu-board: QEMU binary"
}

scenario_bad_pattern() {
    run 2 run -o "$work/r" "$suites/bad-pattern.yaml"
    has 'bad-pattern\.yaml:7:.*invalid pattern "Hello \(QEMU".*missing closing parenthesis'
}

scenario_missing_qemu() {
    run 2 run -B "$SRC/tests/integration/boards" -o "$work/r" \
        "$suites/bad-qemu.yaml"
    has "bad-qemu\\.yaml:2: device_type no-qemu-board: QEMU binary 'qemu-system-does-not-exist'"
}

scenario_forbidden_option() {
    run 2 run -o "$work/r" "$suites/bad-board-option.yaml"
    has 'bad-board-option\.yaml:[0-9]+: context\.extra_options.*-monitor'
}

scenario_qemu_dies_at_start() {
    # Trusted: the policy would refuse the unknown device before QEMU.
    run 1 run --trusted -o "$work/r" "$suites/qemu-dies-at-start.yaml"
    has '^ERROR +boots '
    has "QEMU exited with status 1 before QMP was ready: .*no-such-device"
    has 'could not run properly \(error\), counted as failed'
    has '^0 passed, 1 failed$'
    [ -s "$(test_dir boots)/qemu.log" ] || fail "qemu.log not kept"
    no_qemu_left
}

scenario_qemu_killed_mid_test() {
    "$QHIL" run -o "$work/r" "$suites/long-wait.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    local qemu
    qemu=$(qemu_child_of $qhil) || fail "QEMU never started"
    # Let it boot and print its banner, then kill it hard.
    for _ in $(seq 100); do
        grep -q 'Hello' "$(test_dir waits)/console.log" 2>/dev/null && break
        sleep 0.05
    done
    kill -9 "$qemu"
    local start=$SECONDS
    wait $qhil
    local st=$?
    [ $st -eq 1 ] || fail "qhil exited $st after QEMU was killed, expected 1"
    [ $((SECONDS - start)) -lt 10 ] || fail "qhil noticed the death late"
    has '^ERROR +waits '
    has 'QEMU killed by signal 9'
    grep -q 'Hello, QEMU!' "$(test_dir waits)/console.log" ||
        fail "console log lost"
    no_qemu_left
}

scenario_harness_killed() {
    "$QHIL" run -o "$work/r" "$suites/long-wait.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    local qemu
    qemu=$(qemu_child_of $qhil) || fail "QEMU never started"
    kill -9 $qhil
    wait $qhil 2>/dev/null
    # Dead means gone or a zombie waiting for init to reap it.
    for _ in $(seq 50); do
        kill -0 "$qemu" 2>/dev/null || return 0
        grep -q '^State:.*Z' "/proc/$qemu/status" 2>/dev/null && return 0
        sleep 0.1
    done
    kill -9 "$qemu"
    fail "QEMU (pid $qemu) outlived a kill -9 of qhil"
}

# The pids of live processes whose command line has /$1/ (pgrep -f,
# never qhil itself nor this script).
procs_matching() {
    pgrep -f -- "$1" | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
}

# What QEMU starts (here an exec: migration's shell and sleep) ends with
# the test, passed or failed, before qhil goes on: nothing is left even
# for a moment after qhil exits.  Only a trusted job with no sandbox can
# make QEMU start anything (the hostile scenario shows the refusals).
scenario_qemu_children_end() {
    run 1 run --site "$SRC/tests/integration/sites/spawn-allowed.yaml" \
        -o "$work/r" "$suites/qemu-children.yaml"
    has '^PASS +child-then-pass '
    has '^FAIL +child-then-fail '
    has 'does not contain \{"status": ?"paused"\}'
    local left
    left=$(procs_matching 'sleep 301\.[56]')
    if [ -n "$left" ]; then
        # shellcheck disable=SC2086 # a list of pids
        kill -9 $left 2>/dev/null
        fail "QEMU's children outlived their test: pids $left"
    fi
    no_qemu_left
}

# kill -9 of qhil: QEMU and what it started all end.
scenario_harness_killed_children() {
    "$QHIL" run --site "$SRC/tests/integration/sites/spawn-allowed.yaml" \
        -o "$work/r" "$suites/qemu-child-waits.yaml" >"$work/out" 2>&1 &
    local qhil=$! left=""
    for _ in $(seq 200); do
        left=$(procs_matching 'sleep 302\.5')
        [ -n "$left" ] && break
        sleep 0.05
    done
    [ -n "$left" ] || { kill -9 $qhil; fail "QEMU's child never started"; }
    local qemu
    qemu=$(cat "$(test_dir waits)/qemu.pid")
    kill -9 $qhil
    wait $qhil 2>/dev/null
    for _ in $(seq 50); do
        left=$(procs_matching 'sleep 302\.5')
        if [ -z "$left" ] && ! grep -qa qemu-system "/proc/$qemu/cmdline" \
            2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    # shellcheck disable=SC2086 # a list of pids
    kill -9 $left "$qemu" 2>/dev/null
    fail "after kill -9 of qhil, still running: QEMU $qemu, children $left"
}

# ---- interrupted runs ------------------------------------------------

# Wait until test NAME's console log has text REGEX (up to 20 s).
console_has() {
    local f
    for _ in $(seq 400); do
        f="$(test_dir "$1")/console.log"
        grep -qE -- "$2" "$f" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# Wait for pid $1 (a background job) at most $2 s; its status in $waited.
# A qhil that does not end in time is killed and the scenario fails.
wait_bounded() {
    local pid=$1 limit=$2
    for _ in $(seq $((limit * 20))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
        fail "qhil still ran $limit s after the signal"
    fi
    wait "$pid"
    waited=$?
}

# The reports of an interrupted run of interrupt.yaml: complete, with the
# interrupted test as an error and the other two not run.
check_interrupted_reports() {
    local sig=$1
    grep -q 'name="interrupt" tests="4" failures="0" errors="1" skipped="2"' \
        "$work/junit.xml" || fail "JUnit counts wrong"
    grep -q "<error message=\"interrupted by $sig\" type=\"error\">step 3" \
        "$work/junit.xml" || fail "JUnit lacks the interrupted test"
    [ "$(grep -c "<skipped message=\"not run: interrupted by $sig\"/>" \
        "$work/junit.xml")" -eq 2 ] || fail "JUnit lacks the not-run tests"
    [ "$(tail -1 "$work/junit.xml")" = "</testsuites>" ] ||
        fail "JUnit report is cut short"
    grep -q '^1\.\.4$' "$work/out.tap" || fail "TAP plan wrong"
    grep -q '^ok 1 - boots$' "$work/out.tap" || fail "TAP lacks test 1"
    grep -q '^not ok 2 - blocks # interrupted$' "$work/out.tap" ||
        fail "TAP lacks the interrupted test"
    grep -q "^ok 3 - later-a # SKIP not run: interrupted by $sig\$" \
        "$work/out.tap" || fail "TAP lacks not-run test 3"
    grep -q "^ok 4 - later-b # SKIP not run: interrupted by $sig\$" \
        "$work/out.tap" || fail "TAP lacks not-run test 4"
    grep -q '> ' "$(test_dir blocks)/console.log" ||
        fail "console log of the interrupted test lost"
    [ -f "$(test_dir blocks)/qemu.log" ] || fail "qemu.log not kept"
    [ ! -e "$(test_dir later-a)" ] ||
        fail "a test that did not run has a folder"
}

# kill -SIG qhil while its second test waits 60 s for an IRQ.  Job
# control (set -m) keeps bash from starting background jobs with SIGINT
# ignored, which qhil would rightly keep ignoring.
interrupt_with() {
    local sig=$1 want=$2 start
    set -m
    "$QHIL" run -j 1 -o "$work/r" --junit "$work/junit.xml" --tap="$work/out.tap" \
        "$suites/interrupt.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    console_has blocks '> ' || { kill -9 $qhil; fail "test 2 never started"; }
    sleep 1 # into the IRQ wait
    start=$SECONDS
    kill -"$sig" $qhil
    wait_bounded $qhil 10
    [ "$waited" -eq "$want" ] ||
        fail "qhil exited $waited on $sig, expected $want"
    [ $((SECONDS - start)) -le 5 ] ||
        fail "qhil took $((SECONDS - start)) s to stop"
    has '^PASS +boots '
    has '^INTR +blocks '
    has 'step 3 \(line 16\): expect_irq line 31 high'
    has "^       interrupted by SIG$sig\$"
    has "^qhil: interrupted by SIG$sig while test blocks ran; 2 tests not run\$"
    has '^1 passed, 0 failed, 1 interrupted, 2 not run$'
    check_interrupted_reports "SIG$sig"
    no_qemu_left
}

scenario_interrupt_sigint() {
    interrupt_with INT 130
}

scenario_interrupt_sigterm() {
    interrupt_with TERM 143
}

scenario_interrupt_sighup() {
    interrupt_with HUP 129
}

# Ctrl-C twice, the second during the shutdown: still complete reports
# and no QEMU left.
scenario_interrupt_twice() {
    set -m
    "$QHIL" run -j 1 -o "$work/r" --junit "$work/junit.xml" --tap="$work/out.tap" \
        "$suites/interrupt.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    console_has blocks '> ' || { kill -9 $qhil; fail "test 2 never started"; }
    sleep 1
    kill -INT $qhil
    sleep 0.05
    kill -INT $qhil 2>/dev/null
    kill -TERM $qhil 2>/dev/null
    wait_bounded $qhil 10
    [ "$waited" -eq 130 ] ||
        fail "qhil exited $waited, expected 130 (the first signal)"
    has '^1 passed, 0 failed, 1 interrupted, 2 not run$'
    check_interrupted_reports SIGINT
    no_qemu_left
}

# Ctrl-C in a terminal: SIGINT to qhil's whole process group.
scenario_interrupt_process_group() {
    set -m
    "$QHIL" run -j 1 -o "$work/r" --junit "$work/junit.xml" --tap="$work/out.tap" \
        "$suites/interrupt.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    console_has blocks '> ' || { kill -9 $qhil; fail "test 2 never started"; }
    sleep 1
    kill -INT -- -$qhil
    wait_bounded $qhil 10
    [ "$waited" -eq 130 ] || fail "qhil exited $waited, expected 130"
    has '^INTR +blocks '
    lacks '^ERROR'
    has '^1 passed, 0 failed, 1 interrupted, 2 not run$'
    check_interrupted_reports SIGINT
    no_qemu_left
}

# A CI job canceled: SIGTERM to every process at once, QEMU included.  A
# test that sees its QEMU die then is interrupted, not an error.
scenario_interrupt_all_processes() {
    local qemu
    set -m
    "$QHIL" run -j 1 -o "$work/r" "$suites/interrupt-wait.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    console_has blocks '> ' || { kill -9 $qhil; fail "test 2 never started"; }
    qemu=$(qemu_child_of $qhil) || fail "no QEMU"
    sleep 0.5
    kill -TERM $qhil "$qemu"
    wait_bounded $qhil 10
    [ "$waited" -eq 143 ] || fail "qhil exited $waited, expected 143"
    has '^INTR +blocks '
    lacks '^ERROR'
    has '^1 passed, 0 failed, 1 interrupted, 1 not run$'
    no_qemu_left
}

# A signal between steps: the next step does not start.
scenario_interrupt_between_steps() {
    local start
    set -m
    "$QHIL" run -j 1 -o "$work/r" --junit "$work/junit.xml" \
        "$suites/interrupt-steps.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    console_has steps '> ' || { kill -9 $qhil; fail "the test never started"; }
    sleep 1.2
    start=$SECONDS
    kill -TERM $qhil
    wait_bounded $qhil 10
    [ "$waited" -eq 143 ] || fail "qhil exited $waited, expected 143"
    [ $((SECONDS - start)) -le 3 ] ||
        fail "qhil took $((SECONDS - start)) s to stop"
    has '^INTR +steps '
    has '^       step [0-9]+ \(line [0-9]+\): (wait 500ms|qmp query-status)$'
    has '^0 passed, 0 failed, 1 interrupted, 1 not run$'
    grep -q '<error message="interrupted by SIGTERM"' "$work/junit.xml" ||
        fail "JUnit lacks the interrupted test"
    no_qemu_left
}

# SIGHUP ignored when qhil starts (nohup): the run goes on.
scenario_interrupt_ignored() {
    set -m
    nohup "$QHIL" run -j 1 -o "$work/r" "$suites/interrupt.yaml" \
        >"$work/out" 2>&1 &
    local qhil=$!
    console_has blocks '> ' || { kill -9 $qhil; fail "test 2 never started"; }
    kill -HUP $qhil
    sleep 1
    kill -0 $qhil 2>/dev/null ||
        fail "qhil ended on a SIGHUP it was told to ignore"
    kill -TERM $qhil
    wait_bounded $qhil 10
    [ "$waited" -eq 143 ] || fail "qhil exited $waited, expected 143"
    has '^qhil: interrupted by SIGTERM while test blocks ran; 2 tests not run$'
    no_qemu_left
}

# `qhil run ... | head -1`: the reader goes away after the first line.
# Progress stops, the run is interrupted as by SIGPIPE (exit 141), the
# reports are still written and the summary goes to stderr.
scenario_interrupt_stdout_closed() {
    "$QHIL" run -j 1 -o "$work/r" --junit "$work/junit.xml" \
        "$suites/interrupt.yaml" 2>"$work/err" | head -1 >"$work/out"
    local st=${PIPESTATUS[0]}
    [ "$st" -eq 141 ] ||
        { cat "$work/err" >&2; fail "qhil exited $st, expected 141"; }
    has '^qhil: suite interrupt '
    grep -q '^qhil: interrupted by SIGPIPE (stdout closed); 3 tests not run$' \
        "$work/err" || { cat "$work/err" >&2; fail "no summary on stderr"; }
    grep -q '^1 passed, 0 failed, 3 not run$' "$work/err" ||
        fail "summary counts wrong"
    grep -q 'name="interrupt" tests="4" failures="0" errors="0" skipped="3"' \
        "$work/junit.xml" || fail "JUnit counts wrong"
    [ "$(tail -1 "$work/junit.xml")" = "</testsuites>" ] ||
        fail "JUnit report is cut short"
    grep -q '> ' "$(test_dir boots)/console.log" || fail "console log lost"
    no_qemu_left
}

# A console `wait: 60s` ends at once on SIGINT (needs the console's
# cancel fd).
scenario_interrupt_wait() {
    local start
    set -m
    "$QHIL" run -j 1 -o "$work/r" --junit "$work/junit.xml" \
        "$suites/interrupt-wait.yaml" >"$work/out" 2>&1 &
    local qhil=$!
    console_has blocks '> ' || { kill -9 $qhil; fail "test 2 never started"; }
    sleep 1 # into the wait
    start=$SECONDS
    kill -INT $qhil
    wait_bounded $qhil 10
    [ "$waited" -eq 130 ] || fail "qhil exited $waited, expected 130"
    [ $((SECONDS - start)) -le 5 ] ||
        fail "qhil took $((SECONDS - start)) s to stop"
    has '^INTR +blocks '
    has 'step 2 \(line 13\): wait 60s'
    has '^1 passed, 0 failed, 1 interrupted, 1 not run$'
    grep -q '<error message="interrupted by SIGINT"' "$work/junit.xml" ||
        fail "JUnit lacks the interrupted test"
    grep -q '<skipped message="not run: interrupted by SIGINT"/>' \
        "$work/junit.xml" || fail "JUnit lacks the not-run test"
    no_qemu_left
}

scenario_usage() {
    run 2 run
    has 'no suite file given'
    run 2 frobnicate
    has "unknown command 'frobnicate'"
    run 0 version
    has '^qhil [0-9]+\.[0-9]+\.[0-9]+$'
}

# qhil validate: every shipped suite and board template is valid, each
# reported once as "FILE: ok (...)"; -q prints nothing for them.  No QEMU
# is started: the only one qhil can find for mps2-an385 leaves a mark.
scenario_validate_shipped() {
    local f n=0
    mkdir -p "$work/qemu"
    printf '#!/bin/sh\ntouch "%s/qemu-ran"\nexit 1\n' "$work" \
        >"$work/qemu/qemu-system-arm"
    chmod +x "$work/qemu/qemu-system-arm"
    run 0 validate -Q "$work/qemu" examples/*.yaml examples/devices/*.yaml \
        boards/*.yaml tests/integration/boards/*.yaml
    for f in examples/*.yaml examples/devices/*.yaml; do
        has "^$f: ok \\(suite, [0-9]+ tests?, board [a-z0-9-]+\\)$"
        n=$((n + 1))
    done
    for f in boards/*.yaml tests/integration/boards/*.yaml; do
        has "^$f: ok \\(device-type, board $(basename "$f" .yaml), binary .+\\)$"
        n=$((n + 1))
    done
    [ "$(wc -l <"$work/out")" -eq "$n" ] || fail "expected $n lines"
    has '^examples/hello-mps2\.yaml: ok \(suite, 6 tests, board mps2-an385\)$'
    [ ! -e "$work/qemu-ran" ] || fail "validate started QEMU"
    # Nothing is written: not a results folder, not anything else.
    mkdir "$work/cwd"
    printf 'device_type: mps2-an385\nimages: {kernel: %s}\n%s\n' \
        "$SRC/firmware/build/mps2-an385/hello.elf" \
        'tests: [{name: a, steps: [reset]}]' >"$work/abs.yaml"
    (cd "$work/cwd" && "$QHIL" validate --trusted "$work/abs.yaml") \
        >"$work/out" 2>&1 || fail "validate from another folder failed"
    [ -z "$(ls -A "$work/cwd")" ] || fail "validate wrote into its folder"
    run 0 validate -q examples/hello-mps2.yaml boards/mps2-an385.yaml
    [ ! -s "$work/out" ] || fail "-q printed something for valid files"
}

# same_refusal [OPTION...] SUITE: `qhil run` refuses SUITE with exit 2
# before any run folder is made, and `qhil validate` refuses it with the
# same message (run's without its "qhil: ").
same_refusal() {
    local want got
    run 2 run -o "$work/r" "$@"
    want=$(sed -n 's/^qhil: //p' "$work/out")
    [ -n "$want" ] || fail "qhil run $* printed no message"
    [ ! -d "$work/r" ] || fail "qhil run $* made a run folder"
    run 2 validate "$@"
    got=$(cat "$work/out")
    [ "$got" = "$want" ] ||
        fail "validate $*: '$got'; qhil run said '$want'"
}

# Every suite `qhil run` refuses, validate refuses alike: the suite's own
# errors, and those only its board shows (no slot for an image, an image
# of the wrong kind, a context value or option the board refuses, a QEMU
# binary that is not there): a validate that only parsed the suite would
# call these valid.
scenario_validate_refused() {
    local k=0 f
    for f in bad-yaml bad-step bad-image bad-pattern bad-board-option \
        bad-clock-without-accel; do
        same_refusal "$suites/$f.yaml"
    done
    same_refusal -B "$SRC/tests/integration/boards" "$suites/bad-qemu.yaml"
    # suite_for BOARD LINES...: a suite for BOARD with these lines.
    suite_for() {
        k=$((k + 1))
        {
            printf 'device_type: %s\n' "$1"
            shift
            printf '%s\n' "$@"
            printf 'tests: [{name: a, steps: [reset]}]\n'
        } >"$work/s$k.yaml"
        echo "$work/s$k.yaml"
    }
    local elf="$SRC/firmware/build/mps2-an385/hello.elf"
    local rv="$SRC/firmware/build/riscv-virt/hello.elf"
    mkfifo "$work/fifo"
    echo "Hello" >"$work/text.elf"
    same_refusal "$(suite_for mps2-an385 images: "  kernel: $elf" \
        "  dtb: $elf")"
    has "board 'mps2-an385' has no image slot 'dtb'"
    same_refusal "$(suite_for mps2-an385 images: "  kernel: $rv")"
    has "is an ELF for RISC-V"
    same_refusal "$(suite_for mps2-an385 images: "  kernel: $work/text.elf")"
    same_refusal "$(suite_for mps2-an385 images: "  kernel: $work/fifo")"
    has "FIFO"
    same_refusal "$(suite_for mps2-an385 images: "  kernel: $elf" context: \
        "  cpu: cortex-m4")"
    same_refusal "$(suite_for mps2-an385 images: "  kernel: $elf" context: \
        "  extra_options: [-kernel, $elf]")"
    same_refusal "$(suite_for mps2-an385 images: "  kernel: $elf" context: \
        "  extra_options: [-qmp, 'unix:/tmp/x,server=on']")"
    has "'-qmp' is not allowed"
    same_refusal "$(suite_for no-such-board images: "  kernel: $elf")"
    has "no-such-board"
    same_refusal "$(suite_for ../boards/mps2-an385 images: "  kernel: $elf")"
    # The run's own check of --test names, made by the same code.
    run 2 run -o "$work/r" -t no-such-test examples/hello-mps2.yaml
    has "hello-mps2\\.yaml: no test named 'no-such-test'"
    [ ! -d "$work/r" ] || fail "a run folder was made for an unknown test"
}

# Several files at once: a bad one in the middle is reported and the
# others still are, in order, and the exit status is 2.  A missing file, a
# FIFO (which must not block), a directory and a file of no known kind are
# each one error line.
scenario_validate_several() {
    local t0 t1
    mkfifo "$work/fifo"
    printf 'name: neither\n' >"$work/nokind.yaml"
    t0=$(date +%s%N)
    "$QHIL" validate examples/hello-mps2.yaml "$suites/bad-step.yaml" \
        boards/riscv-virt.yaml "$work/none.yaml" "$work/fifo" "$work" \
        "$work/nokind.yaml" examples/hello-riscv.yaml \
        >"$work/stdout" 2>"$work/stderr"
    [ $? -eq 2 ] || fail "a bad file among good ones: exit $?, expected 2"
    t1=$(date +%s%N)
    cat "$work/stdout" "$work/stderr" >"$work/out"
    [ $(((t1 - t0) / 1000000)) -lt 2000 ] ||
        fail "took $(((t1 - t0) / 1000000)) ms (blocked on the FIFO?)"
    printf '%s\n' 'examples/hello-mps2.yaml: ok (suite, 6 tests, board mps2-an385)' \
        'boards/riscv-virt.yaml: ok (device-type, board riscv-virt, binary qemu-system-riscv64)' \
        'examples/hello-riscv.yaml: ok (suite, 4 tests, board riscv-virt)' |
        diff - "$work/stdout" >&2 || fail "valid files not all reported"
    [ "$(wc -l <"$work/stderr")" -eq 5 ] || fail "expected 5 error lines"
    has "bad-step\\.yaml:8:9: tests\\[0\\]\\.steps\\[1\\]: unknown step 'expekt'"
    has "^$work/none\\.yaml: cannot open: No such file or directory$"
    has "^$work/fifo: not a regular file \\(it is a FIFO\\)$"
    has "^$work: not a regular file \\(it is a directory\\)$"
    has "^$work/nokind\\.yaml: unknown file kind: .*'tests:' \\(suite\\), 'qemu:' \\(device-type\\) or 'site:' \\(site\\); give --kind$"
    # Only the good ones: 0.
    run 0 validate examples/hello-mps2.yaml boards/riscv-virt.yaml
    # A forced kind goes to the loader at once: the FIFO is refused first.
    t0=$(date +%s%N)
    run 2 validate --kind suite "$work/fifo"
    t1=$(date +%s%N)
    has "^$work/fifo: not a regular file \\(it is a FIFO\\)$"
    [ $(((t1 - t0) / 1000000)) -lt 2000 ] ||
        fail "--kind suite on a FIFO took $(((t1 - t0) / 1000000)) ms"
}

# The kind: told by the first top-level key that names one (not by a key
# deeper down, nor by the file's name), or forced with --kind.
scenario_validate_kinds() {
    printf '{x: {tests: []}, "qemu": {}}\n' >"$work/flow.yaml"
    run 2 validate "$work/flow.yaml"
    has "flow\\.yaml:1:2: unknown key 'x' \\(known: device_type, arch"
    printf 'name: a\nsteps: {tests: 1}\n' >"$work/tests.yaml"
    run 2 validate "$work/tests.yaml"
    has 'unknown file kind'
    run 2 validate --kind suite "$work/tests.yaml"
    has "tests\\.yaml:2:1: unknown key 'steps'"
    run 2 validate --kind device-type examples/hello-mps2.yaml
    has "hello-mps2\\.yaml:[0-9]+:[0-9]+: unknown key"
    run 2 validate --kind board boards/mps2-an385.yaml
    has "--kind: unknown kind 'board' \\(known: suite, device-type, site\\)"
    run 2 validate
    has 'no file given'
    run 0 validate --help
    has '^usage: qhil validate '
    # A template found by no suite: the board search wants DEVICE_TYPE.yaml.
    cp boards/mps2-an385.yaml "$work/mps2.yaml"
    run 2 validate "$work/mps2.yaml"
    has "mps2\\.yaml: device_type: 'mps2-an385', but the file is named 'mps2\\.yaml'"
    # Syntax errors and deep nesting before any key that tells the kind.
    printf 'a: [\n' >"$work/broken.yaml"
    run 2 validate "$work/broken.yaml"
    has 'broken\.yaml:2:1: YAML syntax error'
    { printf 'a: '; head -c 2000000 /dev/zero | tr '\0' '['; } \
        >"$work/deep.yaml"
    run 2 validate "$work/deep.yaml"
    has 'deep\.yaml:1:67: YAML nested deeper than 64 levels'
    : >"$work/empty.yaml"
    run 2 validate "$work/empty.yaml"
    has 'empty\.yaml: unknown file kind: it is empty'
}

# 1,000 suites in one call: how long validate takes (printed, not
# asserted).
scenario_validate_many() {
    local i t0 t1
    mkdir "$work/many"
    for i in $(seq -w 1000); do
        printf 'device_type: mps2-an385\nimages:\n  kernel: %s\n%s\n' \
            "$SRC/firmware/build/mps2-an385/hello.elf" \
            "tests: [{name: t$i, steps: [{expect: 'Hello'}, reset]}]" \
            >"$work/many/s$i.yaml"
    done
    t0=$(date +%s%N)
    run 0 validate "$work"/many/*.yaml
    t1=$(date +%s%N)
    [ "$(grep -c ': ok (suite, 1 test, board mps2-an385)$' "$work/out")" \
        -eq 1000 ] || fail "not 1000 ok lines"
    echo "qhil validate: 1000 suites in $(((t1 - t0) / 1000000)) ms"
}

scenario_library_example() {
    : "${BOOT:?set BOOT to the examples/c/boot binary}"
    "$BOOT" "$SRC/boards" firmware/build/mps2-an385/hello.elf \
        >"$work/out" 2>&1 || fail "examples/c/boot failed"
    has '^firmware said: count=1$'
    has '^QEMU status: running$'
    has '^logs: /tmp/qhil-boot\.[A-Za-z0-9]+/console\.log$'
    rm -rf "$(sed -n 's|^logs: \(.*\)/console.log$|\1|p' "$work/out")"
}

# The QMP example on a QEMU started by hand with -qmp unix:PATH: connect,
# schema, pipelined commands, an event matched by its data, HMP; QEMU
# still runs afterwards.  A bad address is refused with a clear message.
scenario_qmp_example() {
    : "${QMP_EVENTS:?set QMP_EVENTS to the examples/c/qmp_events binary}"
    local sock="$work/qmp.sock"
    qemu-system-riscv64 -M virt -m 128M -bios none -display none \
        -monitor none -serial none \
        -kernel firmware/build/riscv-virt/hello.elf \
        -qmp "unix:$sock,server=on,wait=off" \
        </dev/null >"$work/qemu.log" 2>&1 &
    example_qemu=$!
    # Global, for the EXIT trap: QEMU goes whatever way this ends.
    trap 'kill "$example_qemu" 2>/dev/null; rm -rf "$work"' EXIT
    for _ in $(seq 100); do
        [ -S "$sock" ] && break
        sleep 0.05
    done
    [ -S "$sock" ] || fail "QEMU did not create $sock: $(cat "$work/qemu.log")"
    "$QMP_EVENTS" "unix:$sock" >"$work/out" 2>&1 ||
        fail "examples/c/qmp_events failed"
    has '^connected: QEMU [0-9]+\.[0-9]+\.[0-9]+, out-of-band execution on$'
    has "^schema: query-status yes, system_reset with 'x' no$"
    has "^refused: QEMU [0-9.]+ has no QMP command 'x-no-such-command' .*nothing was sent$"
    has '^replies: status=running name=\(none\) version=[0-9]+\.[0-9]+\.[0-9]+$'
    has '^event: RESET \(reason host-qmp-system-reset\) at [0-9]{10}\.[0-9]{6}$'
    has '^hmp: VM status: running$'
    kill -0 "$example_qemu" 2>/dev/null || fail "QEMU did not survive the example"
    "$QMP_EVENTS" "tcp:127.0.0.1" >"$work/out" 2>&1 &&
        fail "a bad address was accepted"
    has "^qmp_events: QMP TCP address '127\.0\.0\.1' has no port"
    "$QMP_EVENTS" "$work/none.sock" >"$work/out" 2>&1 &&
        fail "a missing socket was accepted"
    has "^qmp_events: cannot connect to the QMP socket unix:.*/none\.sock: No such file or directory"
    kill "$example_qemu"
    wait "$example_qemu" 2>/dev/null
}

# Install into a scratch root, build the C examples against the installed
# headers and library with pkg-config only (so they use nothing but the
# public API, and every header qhil/qhil.h pulls in is installed), and run
# one.
scenario_installed_library() {
    : "${BUILD:?set BUILD to the build folder}"
    local root="$work/root" pcdir libdir x
    meson install -C "$BUILD" --no-rebuild --destdir "$root" \
        >"$work/out" 2>&1 || fail "meson install failed"
    pcdir=$(dirname "$(find "$root" -name libqhil.pc | head -n 1)")
    [ -f "$pcdir/libqhil.pc" ] || fail "libqhil.pc not installed"
    [ -f "$(find "$root" -path '*/share/qhil/boards/mps2-an385.yaml')" ] ||
        fail "board templates not installed"
    export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root"
    # shellcheck disable=SC2046 # pkg-config output is a list of words
    cc -Wall -Werror -o "$work/boot" examples/c/boot.c \
        $(pkg-config --cflags --libs libqhil) $SAN_FLAGS \
        >"$work/out" 2>&1 || fail "examples/c/boot.c does not build from the install"
    for x in timer_test qmp_events; do
        # shellcheck disable=SC2046 # pkg-config output is a list of words
        cc -Wall -Werror -o "$work/$x" "examples/c/$x.c" \
            $(pkg-config --cflags --libs libqhil) $SAN_FLAGS \
            >"$work/out" 2>&1 ||
            fail "examples/c/$x.c does not build from the install"
    done
    libdir=$(dirname "$(find "$root" -name 'libqhil.so' | head -n 1)")
    # The installed command runs on the installed library alone.
    LD_LIBRARY_PATH="$libdir" "$(find "$root" -path '*/bin/qhil')" version \
        >"$work/out" 2>&1 || fail "installed qhil failed"
    has '^qhil [0-9]+\.[0-9]+\.[0-9]+$'
    LD_LIBRARY_PATH="$libdir" \
        "$work/boot" "$SRC/boards" firmware/build/mps2-an385/hello.elf \
        >"$work/out" 2>&1 || fail "installed example failed"
    has '^firmware said: count=1$'
    rm -rf "$(sed -n 's|^logs: \(.*\)/console.log$|\1|p' "$work/out")"
}

# ---- device tests over QTest ------------------------------------------

scenario_device_banana_rom() {
    run 0 run -o "$work/r" examples/devices/banana-rom.yaml
    has '^5 passed, 0 failed$'
    grep -q 'banana_rom_read offset 0x00 size 4 -> 0xba000001' \
        "$(test_dir chip-id)/qemu.log" || fail "trace events not in qemu.log"
    no_qemu_left
}

scenario_device_qhil_timer() {
    run 0 run -o "$work/r" examples/devices/qhil-timer.yaml
    has '^PASS +irq-after-exactly-load-ns '
    has '^7 passed, 0 failed$'
    no_qemu_left
}

scenario_device_cmsdk_stock() {
    run 0 run -o "$work/r" examples/devices/cmsdk-stock.yaml
    has '^4 passed, 0 failed$'
    no_qemu_left
}

scenario_device_cmsdk_exact() {
    run 0 run -o "$work/r" examples/devices/cmsdk-timer-exact.yaml
    has '^1 passed, 0 failed$'
    no_qemu_left
}

scenario_device_guest() {
    run 0 run -o "$work/r" examples/devices/guest-riscv.yaml
    has '^3 passed, 0 failed$'
    grep -q 'qhil_timer_irq irq level 1' \
        "$(test_dir timer-interrupt)/qemu.log" ||
        fail "the timer's trace events are not in qemu.log"
    run 0 run -o "$work/r2" "$suites/guest-on-debian-qemu.yaml"
    has '^1 passed, 0 failed$'
    no_qemu_left
}

scenario_device_c_test() {
    : "${TIMER_TEST:?set TIMER_TEST to the examples/c/timer_test binary}"
    "$TIMER_TEST" "$SRC/boards" "$SRC/build-qemu/bin" >"$work/out" 2>&1 ||
        fail "examples/c/timer_test failed"
    has '^timer_test: qhil-timer fired at 1000 ns, as programmed$'
}

# The QEMU build when the source package cannot be had: one clear line,
# exit 1, and nothing half-built left to be used.
scenario_qemu_build_unreachable() {
    QHIL_QEMU_BUILD_DIR="$work/qb" QHIL_QEMU_SOURCE_VERSION=0.0-not-in-debian \
        "$SRC/scripts/qemu-build.sh" >"$work/out" 2>&1
    local st=$?
    [ $st -eq 1 ] || fail "qemu-build.sh exited $st, expected 1"
    has "^qemu-build: error: cannot fetch Debian's QEMU source package: .*0\\.0-not-in-debian"
    [ ! -e "$work/qb/src" ] || fail "a source tree was left behind"
    [ -z "$(ls "$work/qb/bin" 2>/dev/null)" ] || fail "binaries were installed"
    [ -z "$(ls -d "$work"/qb/.fetch.* 2>/dev/null)" ] ||
        fail "the temporary fetch folder was left behind"
}

scenario_qtest_must_fail() {
    run 1 run -o "$work/r" "$suites/fail-qtest.yaml"
    has '^FAIL +wrong-chip-id '
    has 'read 0xba000001, expected 0xba000002 \(mask 0xffffffff\)'
    has '^FAIL +outside-every-region '
    has 'address 0x4002000 \(4 bytes\) is outside every memory region'
    has '^FAIL +irq-one-ns-early '
    has 'IRQ line 12 is low, expected high'
    has '^FAIL +unknown-device '
    has 'Unknown device'
    has '^PASS +passes '
    has '^1 passed, 4 failed$'
    no_qemu_left
}

scenario_qtest_bad_input() {
    run 2 run -o "$work/r" "$suites/bad-clock-without-accel.yaml"
    has "bad-clock-without-accel\\.yaml:9:.*clock_step needs 'accel: qtest'"
    run 1 run -o "$work/r" "$suites/accel-on-debian-qemu.yaml"
    has '^ERROR +reads '
    has 'invalid accelerator qtest'
    no_qemu_left
}

# ---- qhil qmp ------------------------------------------------------

riscv_hello=firmware/build/riscv-virt/hello.elf

# QEMU of our own with a QMP socket at $1; its pid in $work/qemu.pid.
start_qmp_qemu() {
    qemu-system-riscv64 -machine virt -bios none -display none \
        -monitor none -serial none -kernel "$riscv_hello" \
        -qmp "unix:$1,server=on,wait=off" \
        </dev/null >"$work/qemu.out" 2>&1 &
    echo $! >"$work/qemu.pid"
    for _ in $(seq 100); do
        [ -S "$1" ] && return 0
        sleep 0.05
    done
    fail "QEMU did not make its QMP socket $1"
}

stop_qmp_qemu() {
    local pid
    pid=$(cat "$work/qemu.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$work/qemu.pid"
}

scenario_qmp_board() {
    run 0 qmp --board riscv-virt --kernel "$riscv_hello" -o "$work/r/m" \
        -c query-status -c stop -c query-status
    has '^\{"status":"running","singlestep":false,"running":true\}$'
    has '^\{\}$'
    has '^\{"status":"paused","singlestep":false,"running":false\}$'
    has "^qhil qmp: started riscv-virt \\(QEMU pid [0-9]+\\); guest console: \
$work/r/m/console.log$"
    lacks '^event '
    [ "$(grep -c '^{' "$work/out")" -eq 3 ] || fail "not one line per reply"
    no_qemu_left
    # The guest's console goes to console.log while qhil qmp waits for its
    # next command (given the guest time to print: the commands above may
    # stop it before its first byte).
    { echo query-status; sleep 1; echo query-status; } |
        "$QHIL" qmp --board riscv-virt --kernel "$riscv_hello" \
            -o "$work/r/c" >"$work/out" 2>&1 ||
        fail "qhil qmp with a pause between commands failed"
    grep -q 'Hello, QEMU!' "$work/r/c/console.log" ||
        fail "guest console not in console.log"
    no_qemu_left
    # --pretty indents; a temporary run folder goes away with QEMU.
    mkdir "$work/tmp"
    TMPDIR="$work/tmp" run 0 qmp --board riscv-virt \
        --kernel "$riscv_hello" --pretty -c query-status
    has '^  "status": "running",$'
    [ -z "$(ls "$work/tmp")" ] || fail "the temporary run folder was left"
}

scenario_qmp_refused() {
    run 1 qmp --board riscv-virt --kernel "$riscv_hello" -o "$work/r/m" \
        -c no-such-cmd -c query-status
    has "^error: .*no QMP command 'no-such-cmd'.*nothing was sent"
    lacks '^hint:'
    has '^\{"status":"running"'
    run 1 qmp --board riscv-virt --kernel "$riscv_hello" -o "$work/r/m" \
        -c query-statu
    has '^hint: did you mean query-status( |,|\?)'
    run 1 qmp --board riscv-virt --kernel "$riscv_hello" -o "$work/r/m" \
        -c 'human-monitor-command comand-line=x'
    has "^error: .*'human-monitor-command' has no argument 'comand-line'"
    has '^hint: did you mean command-line\?$'
    # An error reply from QEMU itself, and bad input lines.
    run 1 qmp --board riscv-virt --kernel "$riscv_hello" -o "$work/r/m" \
        -c 'qom-get path=/no/such property=type' \
        -c 'query-status a=1 a=2' -c '{"execute": ' -c 'stop x' \
        -c 'query-status'
    has '^error: DeviceNotFound: '
    has "^error: argument 'a' given twice$"
    has '^error: not valid JSON: '
    has "^error: expected KEY=VALUE, got 'x'$"
    has '^\{"status":"running"'
    # device_add passes device properties the schema does not list:
    # QEMU, not the schema check, has the last word.
    run 1 qmp --board riscv-virt --kernel "$riscv_hello" -o "$work/r/m" \
        -c 'device_add driver=no-such-device addr=0x5'
    has "^error: GenericError: 'no-such-device' is not a valid device model"
    no_qemu_left
}

scenario_qmp_input_forms() {
    run 0 qmp --board riscv-virt --kernel "$riscv_hello" -o "$work/r/m" \
        -c 'human-monitor-command command-line="info status"' \
        -c "human-monitor-command command-line='info status'" \
        -c 'blockdev-add driver=raw node-name=r0 file.driver=null-co
            file.size=1048576' \
        -c 'query-named-block-nodes flat=true' \
        -c '{"execute": "qom-get",
             "arguments": {"path": "/machine", "property": "type"}}' \
        -c '  {"execute":"query-status", "id": "mine"}' \
        -c 'hmp info status' \
        -c '# a comment' -c ''
    [ "$(grep -c '^"VM status: running\\r\\n"$' "$work/out")" -eq 2 ] ||
        fail "human-monitor-command reply wrong"
    has '"node-name":"r0"'
    # file.driver and file.size became one object:
    has '\\"file\\": \{\\"driver\\": \\"null-co\\", \\"size\\": 1048576\}'
    has '^"virt-machine"$'
    has '^\{"status":"running"'
    has '^VM status: running$'
    lacks $'\r'
    no_qemu_left
}

scenario_qmp_stdin() {
    { printf '# set-up\n\nquery-status\nstop\n  # indented comment\n'
      printf 'cont\nquery-status'; } |
        "$QHIL" qmp --board riscv-virt --kernel "$riscv_hello" \
            -o "$work/r/m" --events >"$work/out" 2>&1
    local st=$?
    [ $st -eq 0 ] || fail "qhil qmp with stdin exited $st"
    has '^event STOP at [0-9]+\.[0-9]{6}: \{\}$'
    has '^event RESUME at [0-9]+\.[0-9]{6}: \{\}$'
    [ "$(grep -c '^{"status":"running"' "$work/out")" -eq 2 ] ||
        fail "the last line (no newline) did not run"
    # In arrival order: the STOP event comes before stop's reply.
    grep -v '^qhil qmp:' "$work/out" | sed -n 2,3p >"$work/order"
    grep -q '^event STOP' <(sed -n 1p "$work/order") &&
        grep -q '^{}$' <(sed -n 2p "$work/order") ||
        fail "the STOP event is not printed before stop's reply"
    printf 'stop\ncont\n' | "$QHIL" qmp --board riscv-virt \
        --kernel "$riscv_hello" -o "$work/r/m" >"$work/out" 2>&1 ||
        fail "qhil qmp without --events failed"
    lacks '^event '
    printf 'stop\nno-such-cmd\ncont\n' | "$QHIL" qmp --board riscv-virt \
        --kernel "$riscv_hello" -o "$work/r/m" >"$work/out" 2>&1
    st=$?
    [ $st -eq 1 ] || fail "a refused line on stdin: exit $st, expected 1"
    [ "$(grep -c '^{}$' "$work/out")" -eq 2 ] ||
        fail "lines after a refused one did not run"
    no_qemu_left
}

scenario_qmp_socket() {
    local sock="$work/q.sock"
    start_qmp_qemu "$sock"
    run 0 qmp "unix:$sock" -c query-status
    has '^\{"status":"running","singlestep":false,"running":true\}$'
    run 0 qmp "$sock" -c 'hmp info status'
    has '^VM status: running$'
    # quit ends QEMU; the connection closing after it is no error.
    run 0 qmp "$sock" -c stop -c quit
    local pid
    pid=$(cat "$work/qemu.pid")
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        stop_qmp_qemu
        fail "quit left QEMU running"
    fi
    wait "$pid" 2>/dev/null
    rm -f "$work/qemu.pid"
    run 2 qmp "unix:$sock" -c query-status
    has "^qhil qmp: .*$sock"
    stop_qmp_qemu
}

scenario_qmp_usage() {
    run 0 qmp --help
    has '^usage: qhil qmp '
    has -- '--board'
    has -- '--events'
    run 2 qmp
    has 'give a socket address or --board'
    run 2 qmp "$work/none.sock" --board riscv-virt
    has 'not both'
    run 2 qmp "$work/none.sock" --kernel "$riscv_hello"
    has 'go with --board'
    run 2 qmp "$work/none.sock" --timeout 3x -c query-status
    has -- '--timeout: '
    run 2 qmp --board riscv-virt --accel kvm
    has -- "--accel kvm: only 'qtest'"
    run 2 qmp --board no-such-board -c query-status
    has 'no-such-board'
    run 2 qmp --board riscv-virt --kernel "$work/none.elf" -c query-status
    has "none\\.elf"
    run 2 qmp "$work/none.sock" -c query-status
    has "none\\.sock"
    run 2 qmp -x
    run 0 help
    has '^  qmp '
}

# --accel qtest: on qhil's QEMU build it runs; on Debian's QEMU the start
# fails with QEMU's own message, and the logs are kept.
scenario_qmp_accel() {
    run 0 qmp --board qhil-riscv-virt --accel qtest -o "$work/r/m" \
        -c query-status
    has '^\{"status":"running"'
    mkdir "$work/tmp"
    TMPDIR="$work/tmp" run 2 qmp --board riscv-virt --accel qtest \
        -c query-status
    has '^qhil qmp: cannot start riscv-virt: .*invalid accelerator qtest'
    has "^qhil qmp: logs kept in $work/tmp/qhil-qmp\\."
    [ -f "$(ls -d "$work"/tmp/qhil-qmp.*)/qemu.log" ] ||
        fail "qemu.log not kept"
    no_qemu_left
}

# QEMU dies under qhil qmp: exit 2, logs kept.  SIGTERM to qhil qmp:
# it dies of it, and stops QEMU and removes its temporary folder first.
scenario_qmp_qemu_dies() {
    mkfifo "$work/in"
    "$QHIL" qmp --board riscv-virt --kernel "$riscv_hello" \
        <"$work/in" >"$work/out" 2>&1 &
    local qhil=$! qemu=""
    exec 3>"$work/in"
    for _ in $(seq 100); do
        qemu=$(sed -n 's/.*(QEMU pid \([0-9]*\)).*/\1/p' "$work/out")
        [ -n "$qemu" ] && break
        sleep 0.05
    done
    [ -n "$qemu" ] || { exec 3>&-; fail "QEMU did not start"; }
    echo query-status >&3
    sleep 0.5
    kill -9 "$qemu"
    wait $qhil
    local st=$?
    exec 3>&-
    [ $st -eq 2 ] || fail "qhil qmp exited $st when QEMU died, expected 2"
    has '^\{"status":"running"'
    has '^qhil qmp: connection lost: '
    has 'killed by signal 9'
    has '^qhil qmp: logs kept in /'
    local dir
    dir=$(sed -n 's/^qhil qmp: logs kept in //p' "$work/out")
    [ -s "$dir/console.log" ] || fail "console.log not kept in $dir"
    rm -rf "$dir"

    mkdir "$work/tmp"
    TMPDIR="$work/tmp" "$QHIL" qmp --board riscv-virt \
        --kernel "$riscv_hello" <"$work/in" >"$work/out" 2>&1 &
    qhil=$!
    exec 3>"$work/in"
    qemu=$(qemu_child_of $qhil) || { exec 3>&-; fail "QEMU never started"; }
    for _ in $(seq 100); do
        grep -q 'guest console' "$work/out" && break
        sleep 0.05
    done
    kill -TERM $qhil
    wait $qhil
    st=$?
    exec 3>&-
    [ $st -eq 143 ] || fail "qhil qmp exited $st on SIGTERM, expected 143"
    kill -0 "$qemu" 2>/dev/null && fail "QEMU outlived qhil qmp"
    [ -z "$(ls "$work/tmp")" ] || fail "the temporary run folder was left"
}

# ---- qhil health ----

# No QEMU of the health runs in folders DIR... may still be running.
no_qemu_left_in() {
    local d f
    for d in "$@"; do
        for f in "$d"/latest/*/qemu.pid; do
            [ -f "$f" ] || continue
            ! grep -qa qemu-system "/proc/$(cat "$f")/cmdline" \
                2>/dev/null || fail "QEMU left running: $f"
        done
    done
    return 0
}

scenario_health() {
    run 0 health -o "$work/r" mps2-an385 riscv-virt qhil-riscv-virt
    has '^PASS  mps2-an385 \(1 test, [0-9.]+ s\)$'
    has '^PASS  riscv-virt \(1 test, [0-9.]+ s\)$'
    has '^PASS  qhil-riscv-virt \(1 test, [0-9.]+ s\)$'
    [ "$(wc -l <"$work/out")" -eq 3 ] || fail "expected 3 lines"
    # Each device type's logs in a folder of its own; the round trip
    # really went through the firmware's shell.
    grep -q '^> echo health' \
        "$work/r/mps2-an385/latest/boots-to-shell/console.log" ||
        fail "the health check did not type at the mps2-an385 shell"
    [ -s "$work/r/qhil-riscv-virt/latest/boots-to-shell/console.log" ] ||
        fail "no console.log for qhil-riscv-virt"
    no_qemu_left_in "$work/r"/*
    # With no names: every shipped template, each once (boards/ is in
    # the search twice here), sorted, and never a health suite.
    run 0 health -o "$work/r"
    [ "$(cut -c7- "$work/out" | cut -d' ' -f1 | tr '\n' ' ')" = \
        "$(ls boards/*.yaml | xargs -n1 basename | sed 's/\.yaml$//' |
            LC_ALL=C sort | tr '\n' ' ')" ] || fail "not one line per template"
    lacks '^FAIL'
    no_qemu_left_in "$work/r"/*
}

# sick_board NAME SUITE_DEVICE_TYPE PATTERN: a template NAME in $work/b
# (mps2-an385's, renamed) whose health suite is for SUITE_DEVICE_TYPE
# and waits at most 2 s for PATTERN.
sick_board() {
    local name=$1 dt=$2 pattern=$3
    mkdir -p "$work/b/health"
    sed -e "s/^device_type: .*/device_type: $name/" \
        -e "s|^health_check: .*|health_check: health/$name.yaml|" \
        boards/mps2-an385.yaml >"$work/b/$name.yaml"
    printf '%s\n' "device_type: $dt" "images:" \
        "  kernel: $SRC/firmware/build/mps2-an385/hello.elf" \
        "timeout: 2s" "tests:" "  - name: boots" "    steps:" \
        "      - expect: \"$pattern\"" >"$work/b/health/$name.yaml"
}

# A health check whose banner never comes fails within its timeout, and
# the run goes on to the next device type; a suite written for another
# device type cannot make a board pass; a board without a health check
# or without its QEMU is SKIP, not PASS.
scenario_health_fail() {
    local t0 t1
    sick_board sick sick "this banner never comes"
    sick_board impostor mps2-an385 "Hello, QEMU!"
    t0=$(date +%s)
    run 1 health -B "$work/b" -o "$work/r" sick mps2-an385 impostor
    t1=$(date +%s)
    [ $((t1 - t0)) -lt 15 ] || fail "health took $((t1 - t0)) s"
    has '^FAIL  sick \(1 test, [0-9.]+ s\)$'
    has '^      test boots, step 1 \(line 8\) .*this banner never comes.*: pattern not seen within 2s$'
    has "^      logs in $work/r/sick/"
    has '^PASS  mps2-an385 \(1 test'
    has "^FAIL  impostor \(health check .*impostor\.yaml is for device type 'mps2-an385'\)$"
    [ ! -e "$work/r/impostor" ] || fail "the impostor's suite was run"
    # A -B template shadows the shipped one, and its check is the one
    # that runs.
    sick_board mps2-an385 mps2-an385 "this banner never comes"
    run 1 health -B "$work/b" -o "$work/r" mps2-an385
    has '^FAIL  mps2-an385 \(1 test'

    mkdir "$work/b2"
    sed -e '/^health_check:/d' -e 's/^device_type: .*/device_type: plain/' \
        boards/riscv-virt.yaml >"$work/b2/plain.yaml"
    sick_board noqemu noqemu "Hello, QEMU!"
    sed -i 's/^  binary: .*/  binary: qemu-system-does-not-exist/' \
        "$work/b/noqemu.yaml"
    run 0 health -B "$work/b2" -B "$work/b" -o "$work/r" plain noqemu
    has '^SKIP  plain \(no health check in its template\)$'
    has "^SKIP  noqemu \(.*QEMU binary 'qemu-system-does-not-exist'.*not installed"
    [ ! -e "$work/r/noqemu" ] || fail "a results folder for noqemu"
    [ ! -e "$work/r/plain" ] || fail "a results folder for plain"
    no_qemu_left_in "$work/r"/*
}

# Unknown names are usage errors found before anything runs: a health
# suite's path is not a device type.
scenario_health_usage() {
    run 2 health -o "$work/r" mps2-an385 no-such-board
    has "no board template for device type 'no-such-board'"
    lacks '^PASS'
    [ ! -e "$work/r" ] || fail "something ran before the unknown name"
    run 2 health -o "$work/r" health/mps2-an385
    has "invalid device type 'health/mps2-an385'"
    run 2 health -o "$work/r" ../boards/mps2-an385
    run 2 health --no-such-option
    has '^usage: qhil health'
    run 0 health --help
    has '^usage: qhil health \[options\] \[DEVICE_TYPE\.\.\.\]'
    [ ! -e "$work/r" ] || fail "a results folder was made"
}

# ---- the hostile corpus ----------------------------------------------

# Processes of session SID, or with TEXT in their command line: "pid
# args" lines.  Both must be given: an empty one would match every
# process on the machine.
hostile_procs() {
    [ -n "$1" ] && [ -n "$2" ] || return 1
    ps -eo pid=,sid=,args= | S=$1 T=$2 awk '
        ENVIRON["S"] != "" && ENVIRON["T"] != "" &&
        ($2 == ENVIRON["S"] || index($0, ENVIRON["T"])) {
            $2 = ""; print
        }'
}

# hostile_setup JOB ACTION ARGS...: one "# setup:" line of a hostile job,
# done in the job's folder JOB.
hostile_setup() {
    local job=$1 what=$2
    shift 2
    case "$what" in
    symlink) ln -s "$2" "$job/$1" ;;
    fifo) mkfifo "$job/$1" ;;
    dir) mkdir "$job/$1" ;;
    firmware) cp "$SRC/firmware/build/$1/hello.elf" "$job/hello.elf" ;;
    copy-board)
        mkdir -p "$job/boards"
        sed "s|^  binary: .*|  binary: $1|" "$SRC/boards/mps2-an385.yaml" \
            >"$job/boards/mps2-an385.yaml" ;;
    copy-board-as)
        sed -e "s|^  binary: .*|  binary: $2|" \
            -e "s|^device_type: .*|device_type: ${1%.yaml}|" \
            "$SRC/boards/mps2-an385.yaml" >"$job/$1" ;;
    *) return 1 ;;
    esac
}

# hostile_job FILE: run one job of tests/hostile/ in a scratch folder of
# its own; print "ok NAME: ..." or "FAIL NAME: why: ...".  Status 0 when
# the job was refused as it says and left nothing behind.
hostile_job() {
    local f=$1 name base job canary outside want expect line why=""
    local st sid left first
    name=$(basename "$f" .yaml)
    base="$work/hostile/$name"
    job="$base/job" canary="$base/canary" outside="$base/outside"
    mkdir -p "$job" "$canary" "$outside"
    cp "$SRC/firmware/build/mps2-an385/hello.elf" "$job/hello.elf"
    cp "$SRC/firmware/build/mps2-an385/hello.elf" "$outside/hello.elf"
    want=$(sed -n 's/^# refused: //p' "$f")
    expect=$(sed -n 's/^# expect: //p' "$f")
    # "# site: NAME": the lab of tests/hostile/sites/NAME.yaml, with the
    # device types of tests/hostile/boards (the operator's, not the job's).
    local site
    local -a opts=()
    site=$(sed -n 's/^# site: //p' "$f")
    if [ -n "$site" ]; then
        opts=(--site "$SRC/tests/hostile/sites/$site.yaml"
            -B "$SRC/tests/hostile/boards")
    fi
    if [ -z "$want" ] && [ "$expect" != lab-template ]; then
        echo "FAIL $name: no '# refused:' or '# expect: lab-template' line"
        return 1
    fi
    subst() {
        sed -e "s|@CANARY@|$canary|g" -e "s|@OUTSIDE@|$outside|g" \
            -e "s|@JOB@|$job|g"
    }
    subst <"$f" >"$job/job.yaml"
    while read -r line; do
        # shellcheck disable=SC2086 # the words of the setup line
        hostile_setup "$job" $line ||
            { echo "FAIL $name: bad setup line '$line'"; return 1; }
    done < <(sed -n 's/^# setup: //p' "$f" | subst)
    find "$job" -mindepth 1 | sort >"$base/before"

    # The qhil under test, in a session of its own (its id is the pid of
    # the shell that execs timeout), from the job's folder.
    # shellcheck disable=SC2016 # $$ is the inner shell's
    (cd "$job" && exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' \
        sh "$base/sid" timeout -k 5 30 "$QHIL" run "${opts[@]}" -o OUT job.yaml) \
        >"$base/stdout" 2>"$base/stderr" </dev/null
    st=$?
    sid=$(cat "$base/sid" 2>/dev/null)
    case "$sid" in
    '' | *[!0-9]* | 0 | 1 | "$(ps -o sid= -p $$ | tr -d ' ')")
        echo "FAIL $name: no session of its own for qhil (sid '$sid')"
        return 1 ;;
    esac
    first=$(head -n 1 "$base/stderr")
    if [ "$expect" = lab-template ]; then
        (cd "$job" && timeout 30 "$QHIL" render "${opts[@]}" -c job.yaml) \
            >"$base/render" 2>&1
        local argv0
        argv0=$(head -n 1 "$base/render" | cut -d' ' -f1)
        case "$argv0" in
        */qemu-system-*) ;;
        *) why="the lab's template was not used: argv[0] is '$argv0'" ;;
        esac
        first="argv[0] $argv0"
    elif [ "$st" -ne 2 ]; then
        why="exit status $st, expected 2"
    elif ! grep -qF -- "$want" "$base/stderr"; then
        why="stderr lacks \"$want\""
    fi
    # Nothing may be left running: wait a little, then kill what is.
    for _ in $(seq 20); do
        left=$(hostile_procs "$sid" "$base")
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -n "$left" ]; then
        why="${why:+$why; }left running: $(echo "$left" | head -n 3 |
            tr '\n' ' ')"
        # shellcheck disable=SC2046 # a list of pids
        kill -9 $(echo "$left" | awk '{ print $1 }') 2>/dev/null
    fi
    if [ ! -d "$canary" ] || [ -n "$(find "$canary" -mindepth 1)" ]; then
        why="${why:+$why; }written on the host: $(find "$canary" \
            -mindepth 1 -printf '%P ')"
    fi
    find "$job" -mindepth 1 -path "$job/OUT" -prune -o -print | sort \
        >"$base/after"
    if ! cmp -s "$base/before" "$base/after"; then
        why="${why:+$why; }new in the job's folder: $(comm -13 \
            "$base/before" "$base/after" | sed "s|^$job/||" | tr '\n' ' ')"
    fi
    # qhil validate refuses it the same way (the lab template's job is
    # valid).
    (cd "$job" && timeout 30 "$QHIL" validate "${opts[@]}" job.yaml) \
        >"$base/vstdout" 2>"$base/vstderr" </dev/null
    st=$?
    if [ "$expect" = lab-template ]; then
        [ "$st" -eq 0 ] || why="${why:+$why; }validate exited $st"
    elif [ "$st" -ne 2 ]; then
        why="${why:+$why; }validate exited $st, expected 2"
    elif ! grep -qF -- "$want" "$base/vstderr"; then
        why="${why:+$why; }validate's stderr lacks \"$want\""
    fi
    if [ -n "$why" ]; then
        echo "FAIL $name: $why: $first"
        return 1
    fi
    echo "ok $name: $first"
}

# qcow2_size FILE: the virtual size qemu-img reads from the qcow2 FILE
# (and nothing when it is not a qcow2 image).
qcow2_size() {
    qemu-img info --output=json "$1" 2>/dev/null | python3 -c '
import json, sys
i = json.load(sys.stdin)
if i.get("format") == "qcow2":
    print(i["virtual-size"])'
}

# A scratch qcow2 disk per test (guestfs_*), on Debian's QEMU: QEMU sees
# the drive lavatest with a 64 MiB qcow2 image in the test's own folder,
# each test gets a disk of its own, it goes when the test ends unless
# --keep-disks, a wrong expectation about it fails, guestfs_interface:
# none takes the job's -device, and qhil render shows the slot.  Then
# arm64-virt, where Debian's U-Boot finds the disk on virtio.
scenario_test_disk() {
    local t d f real ids=""
    command -v qemu-img >/dev/null ||
        fail "qemu-img is missing: install qemu-utils"
    [ -f firmware/build/riscv-virt/hello.elf ] ||
        fail "firmware/build/riscv-virt/hello.elf is missing: make -C firmware"
    run 0 run -o "$work/r" "$suites/disk-virtio.yaml"
    has '^PASS +first '
    has '^PASS +second '
    has '^2 passed, 0 failed$'
    [ -z "$(find "$work/r" -name '*.qcow2')" ] ||
        fail "disks left without --keep-disks: $(find "$work/r" -name '*.qcow2')"
    no_qemu_left
    rm -rf "$work/r"

    run 0 run --keep-disks -o "$work/r" "$suites/disk-virtio.yaml"
    has '^2 passed, 0 failed$'
    for t in first second; do
        f=$(test_dir $t)/guestfs.qcow2
        [ -f "$f" ] && [ ! -L "$f" ] || fail "--keep-disks did not keep $f"
        [ "$(qcow2_size "$f")" = 67108864 ] ||
            fail "$f is not a 64 MiB qcow2: $(qemu-img info "$f" 2>&1)"
        ids="$ids $(stat -c %d:%i "$f")"
    done
    [ "$(echo $ids | tr ' ' '\n' | sort -u | wc -l)" -eq 2 ] ||
        fail "the two tests shared one disk:$ids"
    [ "$(find "$work/r" -name '*.qcow2' | wc -l)" -eq 2 ] ||
        fail "not one disk per test: $(find "$work/r" -name '*.qcow2')"
    no_qemu_left
    rm -rf "$work/r"

    # Wrong file, wrong size, a list of the wrong length: each FAILs, the
    # reply shows the disk in the test's own folder, and the disks still
    # go.
    run 1 run -o "$work/r" "$suites/disk-must-fail.yaml"
    has '^0 passed, 3 failed$'
    lacks '^PASS '
    for t in wrong-file wrong-size wrong-length; do
        has "^FAIL +$t "
        real=$(readlink -f "$(test_dir $t)")
        grep -qF "\"filename\":\"$real/guestfs.qcow2\"" "$work/out" ||
            fail "QEMU's drive of $t is not $real/guestfs.qcow2"
    done
    [ -z "$(find "$work/r" -name '*.qcow2')" ] ||
        fail "a failed test kept its disk"
    no_qemu_left
    rm -rf "$work/r"

    # guestfs_interface: none: a drive alone, the job's -device attaches
    # it, untrusted.
    run 0 run -o "$work/r" "$suites/disk-none.yaml"
    has 'job: untrusted'
    has '^1 passed, 0 failed$'
    [ -z "$(find "$work/r" -name '*.qcow2')" ] || fail "disk left behind"
    no_qemu_left

    run 0 render "$suites/disk-virtio.yaml"
    has "^ +[0-9]+ +substituted +.*disk-virtio\.yaml:[0-9]+ +-drive$"
    has "^ +[0-9]+ +substituted +.*'format=qcow2,file=\{\{GUESTFS\}\},media=disk,if=virtio,id=lavatest'$"
    run 0 render --command "$suites/disk-none.yaml"
    has "-drive 'format=qcow2,file=\{\{GUESTFS\}\},media=disk,if=none,id=scratch0'"
    has '-device virtio-blk-device,drive=scratch0,id=vd0'
    [ -z "$(find "$suites" -name '*.qcow2')" ] || fail "render made a disk"

    if ! command -v qemu-system-aarch64 >/dev/null ||
        [ ! -f /usr/lib/u-boot/qemu_arm64/u-boot.bin ]; then
        echo "arm64-virt skipped: qemu-system-aarch64 or u-boot-qemu" \
            "is not installed"
        return 0
    fi
    rm -rf "$work/r"
    run 0 run --site "$fw_site" -o "$work/r" "$suites/disk-arm64.yaml"
    has '^PASS +uboot-sees-disk '
    has '^1 passed, 0 failed$'
    grep -qa 'Capacity: 64.0 MB' "$(test_dir uboot-sees-disk)/console.log" ||
        fail "U-Boot did not see the 64 MiB disk"
    [ -z "$(find "$work/r" -name '*.qcow2')" ] || fail "disk left behind"
    no_qemu_left
}

# disk_refused BOARD CONTEXT MESSAGE: a suite on BOARD with that context
# is refused with exit status 2 and MESSAGE (a fixed string), before any
# run folder or qemu-img.
disk_refused() {
    printf 'device_type: %s\nimages: {kernel: hello.elf}\ncontext: %s\n%s\n' \
        "$1" "$2" 'tests: [{name: a, steps: [{expect: Hello}]}]' \
        >"$work/job/job.yaml"
    run 2 run -o "$work/r" "$work/job/job.yaml"
    grep -F -- "$3" "$work/out" | grep -q '^qhil: .*/job\.yaml:3: context' ||
        fail "context $2 on $1: no \"$3\""
    [ ! -e "$work/r" ] || fail "context $2 on $1: a run folder was made"
    [ ! -e "$work/img-ran" ] || fail "context $2 on $1: qemu-img ran"
    [ -z "$(find "$work/job" -name '*.qcow2')" ] || fail "a disk was made"
    run 2 validate "$work/job/job.yaml"
    grep -qF -- "$3" "$work/out" || fail "validate: context $2: no \"$3\""
}

# Test disks a job may not have: refused before anything is made.  Then
# a host without qemu-img: the test is an ERROR naming qemu-utils, and
# nothing is left behind.
scenario_test_disk_refused() {
    local real_img
    real_img=$(command -v qemu-img) ||
        fail "qemu-img is missing: install qemu-utils"
    mkdir -p "$work/job" "$work/bin" "$work/noimg"
    cp firmware/build/riscv-virt/hello.elf "$work/job/"
    cp firmware/build/mps2-an385/hello.elf "$work/job/hello-mps2.elf"
    # A qemu-img that leaves a mark (it runs in a clean environment).
    printf '#!/bin/sh\n/usr/bin/touch %s\nexec %s "$@"\n' \
        "$work/img-ran" "$real_img" >"$work/bin/qemu-img"
    chmod +x "$work/bin/qemu-img"
    export PATH="$work/bin:$PATH"
    unset QHIL_QEMU_PATH
    # The mark works: an accepted job runs that qemu-img.
    printf '%s\n' 'device_type: riscv-virt' 'images: {kernel: hello.elf}' \
        'context: {guestfs_interface: virtio, guestfs_size: 1M}' \
        'tests: [{name: a, steps: [{expect: Hello}]}]' >"$work/job/job.yaml"
    run 0 run -o "$work/ok" "$work/job/job.yaml"
    [ -e "$work/img-ran" ] || fail "the marking qemu-img was not used"
    rm -f "$work/img-ran"

    disk_refused mps2-an385 '{guestfs_size: 64M}' \
        "guestfs_size: '64M' cannot be set by a job: device type 'mps2-an385' has no test disk (its context has no 'guestfs')"
    disk_refused mps2-an385 '{guestfs_interface: virtio}' \
        "guestfs_interface: 'virtio' cannot be set by a job: device type 'mps2-an385' has no test disk"
    disk_refused riscv-virt '{guestfs_interface: floppy}' \
        "guestfs_interface: 'floppy' is not a disk interface (ide, scsi, virtio, none)"
    disk_refused riscv-virt '{guestfs_size: 0}' \
        "guestfs_size: disk size '0' is zero; a test disk needs at least 1K"
    disk_refused riscv-virt '{guestfs_size: 65G}' \
        "guestfs_size: disk size '65G' is over the limit of 64G"
    disk_refused riscv-virt '{guestfs_size: 65537M}' \
        "guestfs_size: disk size '65537M' is over the limit of 64G"
    disk_refused riscv-virt '{guestfs_driveid: "a,b"}' \
        "guestfs: guestfs_driveid 'a,b' is not a QEMU id"
    disk_refused riscv-virt '{guestfs_driveid: qhil-x}' \
        "guestfs_driveid: 'qhil-x': ids starting with 'qhil' are reserved for the harness"
    disk_refused riscv-virt '{guestfs_interface: none, extra_options: [-device, "virtio-blk-device,drive=lavatest,file=/etc/passwd"]}' \
        "sub-option 'file' is not allowed"

    # No qemu-img anywhere qhil looks: QEMU alone in the PATH.
    ln -s "$(command -v qemu-system-riscv64)" "$work/noimg/"
    printf '%s\n' 'device_type: riscv-virt' 'images: {kernel: hello.elf}' \
        'context: {guestfs_interface: virtio}' \
        'tests: [{name: a, steps: [{expect: Hello}]}]' >"$work/job/job.yaml"
    PATH="$work/noimg" run 1 run -o "$work/r" "$work/job/job.yaml"
    has '^ERROR +a '
    has 'the job asks for a test disk \(guestfs_\*\) and qemu-img is not installed \(Debian package qemu-utils\)'
    has '^0 passed, 1 failed$'
    [ ! -e "$work/img-ran" ] || fail "qemu-img ran"
    [ -z "$(find "$work/r" \( -name '*.qcow2' -o -name qemu.pid \))" ] ||
        fail "left behind: $(find "$work/r" -name '*.qcow2' -o -name qemu.pid)"
    no_qemu_left
}

# Every job of tests/hostile/ (one attack on the host each) is refused
# before QEMU starts, with exit status 2 and its reason on stderr, by
# both qhil run and qhil validate; nothing is written outside the run
# folder and nothing outlives the run.
scenario_hostile() {
    local f n=0 bad=0
    for f in "$SRC/firmware/build/mps2-an385/hello.elf" \
        "$SRC/firmware/build/riscv-virt/hello.elf"; do
        [ -f "$f" ] || fail "$f is missing: make -C firmware"
    done
    for f in "$SRC"/tests/hostile/*.yaml; do
        n=$((n + 1))
        hostile_job "$f" || bad=$((bad + 1))
    done
    echo "hostile: $n jobs, $((n - bad)) refused, $bad failed"
    [ "$n" -ge 70 ] || fail "only $n hostile jobs"
    [ "$bad" -eq 0 ] || fail "$bad of $n hostile jobs were not refused"
}

# --- site-*: the site config on the real qhil binary -------------------
#
# Each scenario builds a lab ($work/lab: site.yaml and its device types)
# and a job ($work/job: the suite and its firmware, copied there so that
# the image is inside the job's folder), then runs qhil on it.

# site_lab: $work/lab/boards/site-only.yaml, a copy of mps2-an385 under a
# name no other folder has, and $work/job/hello.elf.
site_lab() {
    mkdir -p "$work/lab/boards" "$work/job"
    sed 's/^device_type: mps2-an385$/device_type: site-only/' \
        boards/mps2-an385.yaml >"$work/lab/boards/site-only.yaml"
    grep -q '^device_type: site-only$' "$work/lab/boards/site-only.yaml" ||
        fail "could not make the lab's device type"
    cp firmware/build/mps2-an385/hello.elf "$work/job/hello.elf"
}

# site_suite FILE DEVICE_TYPE [STEP...]: a one-test suite in $work/job.
site_suite() {
    local file=$1 dt=$2 step
    shift 2
    {
        printf 'device_type: %s\nimages:\n  kernel: hello.elf\n' "$dt"
        printf 'timeout: 60s\ntests:\n  - name: t\n    steps:\n'
        printf '      - expect: "Hello, QEMU!"\n'
        for step in "$@"; do
            printf '      - %s\n' "$step"
        done
    } >"$work/job/$file"
}

# The site's device_types folder is where templates come from: one only
# there is found, and a boards/ folder in the working folder is never
# looked at, even when it holds the very name (and a binary of its own).
scenario_site_device_types() {
    site_lab
    printf 'site: lab\ndevice_types: [boards]\n' >"$work/lab/site.yaml"
    site_suite suite.yaml site-only
    run 0 run --site "$work/lab/site.yaml" -o "$work/r" "$work/job/suite.yaml"
    has '^PASS +t '
    run 0 render --site "$work/lab/site.yaml" "$work/job/suite.yaml"
    has "^ +0 +mandatory +$work/lab/boards/site-only\\.yaml +.*qemu-system-arm$"
    # Without the site, the name is unknown.
    run 2 run -o "$work/r2" "$work/job/suite.yaml"
    has 'suite\.yaml:1: device_type: no board template for device type .site-only.'
    # A planted boards/ in the working folder, same name, own "QEMU".
    mkdir -p "$work/cwd/boards"
    printf '#!/bin/sh\ntouch "%s/pwned"\nexit 1\n' "$work" >"$work/cwd/fake"
    chmod +x "$work/cwd/fake"
    for dt in site-only mps2-an385; do
        printf 'device_type: %s\narch: arm\nqemu:\n  binary: %s\n  machine: mps2-an385\n  images:\n    kernel: -kernel {{KERNEL}}\n' \
            "$dt" "$work/cwd/fake" >"$work/cwd/boards/$dt.yaml"
    done
    (cd "$work/cwd" && "$QHIL" run --site "$work/lab/site.yaml" \
        -o "$work/r3" "$work/job/suite.yaml") >"$work/out" 2>&1 ||
        fail "the run from a folder with boards/ failed"
    has '^PASS +t '
    # The built-in site, from that folder: the shipped mps2-an385.
    site_suite shipped.yaml mps2-an385
    (cd "$work/cwd" && "$QHIL" run -o "$work/r4" "$work/job/shipped.yaml") \
        >"$work/out" 2>&1 || fail "the shipped board from a folder with boards/ failed"
    has '^PASS +t '
    (cd "$work/cwd" && "$QHIL" render "$work/job/shipped.yaml") \
        >"$work/out" 2>&1 || fail "render failed"
    lacks "$work/cwd"
    [ ! -e "$work/pwned" ] || fail "a template from the working folder ran"
    no_qemu_left
}

# QEMU's environment is the site's and nothing else: what qhil was
# started with does not reach it.
scenario_site_environment() {
    site_lab
    printf 'site: lab\nenvironment:\n  QEMU_AUDIO_DRV: none\n  QHIL_SITE_A: "b=c d"\n  QHIL_SITE_EMPTY:\n' \
        >"$work/lab/site.yaml"
    site_suite suite.yaml mps2-an385 'expect: "never printed"'
    QHIL_LEAK=1 "$QHIL" run --site "$work/lab/site.yaml" -o "$work/r" \
        "$work/job/suite.yaml" >"$work/out" 2>&1 &
    local qhil=$! qemu got want
    qemu=$(qemu_child_of $qhil) || { kill $qhil; fail "QEMU never started"; }
    got=$(tr '\0' '\n' <"/proc/$qemu/environ" | sort)
    kill -TERM $qhil
    wait $qhil 2>/dev/null
    want=$(printf 'QEMU_AUDIO_DRV=none\nQHIL_SITE_A=b=c d\nQHIL_SITE_EMPTY=\n' | sort)
    [ "$got" = "$want" ] ||
        fail "QEMU's environment is '$got', expected '$want'"
    # The built-in site: an empty environment.
    site_suite builtin.yaml mps2-an385 'expect: "never printed"'
    QHIL_LEAK=1 "$QHIL" run -o "$work/r2" "$work/job/builtin.yaml" \
        >"$work/out" 2>&1 &
    qhil=$!
    qemu=$(qemu_child_of $qhil) || { kill $qhil; fail "QEMU never started"; }
    got=$(tr '\0' '\n' <"/proc/$qemu/environ")
    kill -TERM $qhil
    wait $qhil 2>/dev/null
    [ -z "$got" ] || fail "QEMU's environment under the built-in site is '$got'"
    no_qemu_left
}

# The run's header and job.log say what was decided: untrusted or
# trusted and why, the accelerator and why, the sandbox; job.log has the
# labelled command line.
scenario_site_notes() {
    site_lab
    printf 'site: lab\n' >"$work/lab/site.yaml"
    site_suite suite.yaml mps2-an385
    local log w="$work" sandbox='-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny'
    # The sandbox note may say how qhil knows the binary has it.
    local sb_note="sandbox: $sandbox( \\(QEMU is built with seccomp\\))?"
    run 0 run --site "$w/lab/site.yaml" -o "$w/r" "$w/job/suite.yaml"
    has "^  job: untrusted, checked against the strict policy \\($w/lab/site\\.yaml\\)$"
    has "^  accelerator: TCG \\(device type 'mps2-an385' does not allow KVM\\)$"
    has "^  $sb_note$"
    log="$w/r/latest/job.log"
    grep -qx "job: untrusted, checked against the strict policy ($w/lab/site.yaml)" "$log" ||
        fail "job.log lacks the trust note"
    grep -qx "accelerator: TCG (device type 'mps2-an385' does not allow KVM)" "$log" ||
        fail "job.log lacks the accelerator note"
    grep -qxE "$sb_note" "$log" || fail "job.log lacks the sandbox note"
    grep -qx 'command line:' "$log" || fail "job.log lacks the command line"
    # "  KIND  SOURCE  ARG" (or ARG before SOURCE): one labelled line each.
    log_has() {
        grep -qE "^  $1 +($2 +$3|$3 +$2)$" "$log" || fail "job.log lacks: $4"
    }
    log_has mandatory '[^ ]*boards/mps2-an385\.yaml' '[^ ]*qemu-system-arm' \
        "the binary"
    log_has substituted "$w/job/suite\\.yaml:3" "$w/job/hello\\.elf" \
        "the image, resolved, with its origin"
    log_has harness "$w/lab/site\\.yaml" '-sandbox' "the sandbox arguments"
    log_has harness qhil 'socket,id=qhil-qmp,fd=3' "the QMP wiring"
    # Trusted on the command line; the sandbox still on.
    run 0 run --trusted --site "$w/lab/site.yaml" -o "$w/r2" "$w/job/suite.yaml"
    has '^  job: trusted \(--trusted\): its options and commands pass unchecked$'
    has "^  $sb_note$"
    # Trusted by the site, sandbox off by the site.
    printf 'site: lab\ntrusted: true\nsandbox: false\n' >"$w/lab/site.yaml"
    run 0 run --site "$w/lab/site.yaml" -o "$w/r3" "$w/job/suite.yaml"
    has "^  job: trusted \\($w/lab/site\\.yaml:2\\)"
    has "^  sandbox: off \\($w/lab/site\\.yaml\\)$"
    ! grep -q -- '-sandbox' "$w/r3/latest/job.log" ||
        fail "job.log has -sandbox with the sandbox off"
    no_qemu_left
}

# qhil validate on site files: ok with a summary, or FILE:LINE:COLUMN
# and exit 2; --site on a missing file or a folder: a clear error, exit
# 2, before anything runs.
scenario_site_validate() {
    site_lab
    printf 'site: lab\nkvm: true\ndevices:\n  mps2-an385:\n    memory: 16M\n' \
        >"$work/lab/site.yaml"
    run 0 validate "$work/lab/site.yaml"
    has "^$work/lab/site\\.yaml: ok \\(site, jobs untrusted, sandbox on, KVM allowed\\)$"
    printf 'site: lab\ntrusted: true\nsandbox: false\n' >"$work/lab/t.yaml"
    run 0 validate "$work/lab/t.yaml"
    has "t\\.yaml: ok \\(site, jobs trusted, sandbox off, KVM not allowed\\)$"
    printf 'site: lab\ndevices:\n  mps2-an385:\n    memroy: 16M\n    "bad name": 1\n' \
        >"$work/lab/bad.yaml"
    run 2 validate "$work/lab/bad.yaml"
    has "bad\\.yaml:5:5: devices\\.mps2-an385\\.bad name: 'bad name' is not a variable name"
    printf 'site: lab\nsandbox: maybe\n' >"$work/lab/bad2.yaml"
    run 2 validate "$work/lab/bad2.yaml"
    has "bad2\\.yaml:2:10: sandbox: expected true or false, got 'maybe'"
    printf 'site: lab\npolicy:\n  base: lenient\n' >"$work/lab/bad3.yaml"
    run 2 validate "$work/lab/bad3.yaml"
    has "bad3\\.yaml:3:[0-9]+: policy\\.base"
    # The same file as --site: the same error, exit 2, no run folder.
    site_suite suite.yaml mps2-an385
    run 2 run --site "$work/lab/bad2.yaml" -o "$work/r" "$work/job/suite.yaml"
    has "^qhil run: --site: .*bad2\\.yaml:2:10: sandbox: expected true or false"
    [ ! -e "$work/r" ] || fail "a run folder was made with a bad site"
    run 2 run --site "$work/lab/nope.yaml" -o "$work/r" "$work/job/suite.yaml"
    has "^qhil run: --site: .*$work/lab/nope\\.yaml"
    has 'No such file'
    run 2 run --site "$work/lab" -o "$work/r" "$work/job/suite.yaml"
    has "^qhil run: --site: .*$work/lab"
    run 2 render --site "$work/lab/nope.yaml" "$work/job/suite.yaml"
    has "^qhil render: --site: .*nope\\.yaml"
    [ ! -e "$work/r" ] || fail "a run folder was made with a missing site"
}

# The sandbox holds even when the policy is bypassed: the running QEMU
# has -sandbox ...spawn=deny, and a trusted job's exec: migration cannot
# start a process.  The control run (the same job, sandbox off) shows
# that the migration would have.
scenario_site_spawn_denied() {
    site_lab
    local sandbox='on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny'
    site_suite control.yaml mps2-an385 \
        "qmp: {execute: migrate, arguments: {uri: \"exec:touch $work/control\"}}" \
        'wait: 500ms'
    "$QHIL" run --site "$SRC/tests/integration/sites/spawn-allowed.yaml" \
        -o "$work/r0" "$work/job/control.yaml" >"$work/out" 2>&1
    for _ in $(seq 50); do
        [ -e "$work/control" ] && break
        sleep 0.1
    done
    [ -e "$work/control" ] ||
        fail "control: the exec: migration did not run without the sandbox"
    printf 'site: lab\ntrusted: true\n' >"$work/lab/site.yaml"
    site_suite suite.yaml mps2-an385 'wait: 1500ms' \
        "qmp: {execute: migrate, arguments: {uri: \"exec:touch $work/pwned; sleep 304.5\"}}" \
        'wait: 500ms'
    "$QHIL" run --site "$work/lab/site.yaml" -o "$work/r" \
        "$work/job/suite.yaml" >"$work/out" 2>&1 &
    local qhil=$! qemu cmdline status left
    qemu=$(qemu_child_of $qhil) || { kill $qhil; fail "QEMU never started"; }
    cmdline=$(tr '\0' ' ' <"/proc/$qemu/cmdline")
    wait $qhil
    status=$?
    case "$cmdline" in
    *" -sandbox $sandbox "*) ;;
    *) fail "QEMU runs without -sandbox $sandbox: $cmdline" ;;
    esac
    [ "$status" -le 1 ] || fail "qhil exited $status: the job was refused, not run"
    lacks "not allowed"
    # How it ended (QEMU 7.2 kills itself with SIGSYS at the fork).
    grep -E 'killed by signal|migrat|^(PASS|FAIL|ERROR) ' "$work/out" || true
    has 'job: trusted'
    sleep 0.5
    [ ! -e "$work/pwned" ] || fail "QEMU started a process under spawn=deny"
    left=$(procs_matching 'sleep 304\.5')
    if [ -n "$left" ]; then
        # shellcheck disable=SC2086 # a list of pids
        kill -9 $left 2>/dev/null
        fail "QEMU started a process under spawn=deny: pids $left"
    fi
    no_qemu_left
}

# --shard K/N --list for K = 1..3 of the example suite: together every
# test once, each shard in the suite's order, nothing made; then a real
# run of one shard runs exactly the tests its --list printed.
scenario_shard_list() {
    local k all
    run 0 run -j 1 --list -o "$work/r" --junit "$work/j.xml" examples/hello-mps2.yaml
    cp "$work/out" "$work/all"
    [ "$(wc -l <"$work/all")" -eq 6 ] || fail "--list printed $(wc -l <"$work/all") lines, expected 6"
    [ "$(head -1 "$work/all")" = boots ] || fail "--list is not in run order"
    for k in 1 2 3; do
        run 0 run -j 1 --shard "$k/3" --list -o "$work/r" examples/hello-mps2.yaml
        [ -s "$work/out" ] || fail "shard $k/3 is empty"
        cp "$work/out" "$work/s$k"
        # In the suite's order: the lines of all, filtered.
        grep -Fxf "$work/s$k" "$work/all" | cmp -s - "$work/s$k" ||
            fail "shard $k/3 not in suite order: $(cat "$work/s$k")"
    done
    all=$(cat "$work"/s1 "$work"/s2 "$work"/s3 | sort)
    [ "$all" = "$(sort "$work/all")" ] ||
        fail "shards 1..3 of 3 together: $all"
    [ -z "$(cat "$work"/s1 "$work"/s2 "$work"/s3 | sort | uniq -d)" ] ||
        fail "a test in two shards"
    [ ! -e "$work/r" ] && [ ! -e "$work/j.xml" ] ||
        fail "--list made a folder or a report"
    # -t first, then the shard of those: 3 tests over 2 shards.
    run 0 run -j 1 -t version -t boots -t shell-echo --shard 1/2 --list \
        examples/hello-mps2.yaml
    cp "$work/out" "$work/t1"
    run 0 run -j 1 -t version -t boots -t shell-echo --shard 2/2 --list \
        examples/hello-mps2.yaml
    [ "$(cat "$work/t1" "$work/out" | sort | tr '\n' ' ')" = \
        "boots shell-echo version " ] ||
        fail "-t then --shard: $(cat "$work/t1" "$work/out")"
    run 2 run -j 1 -t nope --shard 1/2 --list examples/hello-mps2.yaml
    has "no test named 'nope'"
    # A real run of shard 2/3: exactly its listed tests, in its JUnit.
    run 0 run -j 1 --shard 2/3 -o "$work/r" --junit "$work/j.xml" \
        examples/hello-mps2.yaml
    has "^qhil: suite hello-mps2 .*, $(wc -l <"$work/s2") tests? \(shard 2/3\)"
    grep -Eo '^PASS +[^ ]+' "$work/out" | awk '{print $2}' >"$work/ran"
    cmp -s "$work/ran" "$work/s2" || fail "ran $(cat "$work/ran"), listed $(cat "$work/s2")"
    grep -o '<testcase [^>]*name="[^"]*"' "$work/j.xml" |
        sed 's/.*name="//; s/"$//' >"$work/inj"
    cmp -s "$work/inj" "$work/s2" || fail "JUnit has $(cat "$work/inj")"
    no_qemu_left
    # That report, as durations: still a partition of the 6 tests.
    for k in 1 2 3; do
        run 0 run -j 1 --shard "$k/3" --durations "$work/j.xml" --list \
            examples/hello-mps2.yaml
        cat "$work/out"
    done | sort >"$work/dall"
    cmp -s "$work/dall" <(sort "$work/all") ||
        fail "with durations, shards 1..3: $(cat "$work/dall")"
    # More shards than tests: the extra ones are empty, not everything.
    run 0 run -j 1 --shard 7/8 --list examples/hello-mps2.yaml
    [ ! -s "$work/out" ] || fail "shard 7/8 of 6 tests lists $(cat "$work/out")"
    # A name with a line break would list as two tests: refused.
    cat >"$work/nl.yaml" <<'YAML'
device_type: mps2-an385
images:
  kernel: firmware/build/mps2-an385/hello.elf
tests:
  - name: plain
    steps: [{expect: "Hello"}]
  - name: "two\nlines"
    steps: [{expect: "Hello"}]
YAML
    run 2 run -j 1 --list "$work/nl.yaml"
    has "nl\.yaml:7: the name of this test has a control character \(0x0a\)"
    lacks '^plain$'
}

# Bad shard specs: status 2, the option named, nothing run or made.
scenario_shard_bad_spec() {
    local spec
    for spec in 3/2 0/2 a/b 1/0 /2 1/ 1/2/3 " 1/2" "1/2 " +1/2 -1/2 01/2 \
        1/10001 1/99999999999999999999 "" 1; do
        run 2 run --shard "$spec" -o "$work/r" --junit "$work/j.xml" \
            examples/hello-mps2.yaml
        grep -qF -- "qhil run: --shard '$spec': " "$work/out" ||
            fail "--shard '$spec' not named"
        lacks '^qhil: suite |PASS|FAIL'
        [ ! -e "$work/r" ] && [ ! -e "$work/j.xml" ] ||
            fail "--shard '$spec' made a folder or a report"
    done
    run 2 run --shard 1/2 --list nonexistent.yaml
    run 2 run --durations /dev/null --list examples/hello-mps2.yaml
    has '^qhil run: --durations balances shards: it needs --shard K/N'
}

# Durations files that are not JUnit reports: status 2 naming the file
# (and the line); a FIFO with no writer must not block; nothing made.
scenario_shard_durations() {
    local f
    mkfifo "$work/fifo"
    mkdir "$work/dir"
    printf 'plain text\n' >"$work/text.xml"
    printf '<?xml version="1.0"?>\n<html>\n<body/></html>\n' >"$work/html.xml"
    printf '<testsuites>\n<testsuite>\n<testcase name="boots" time="x"/>\n' \
        >"$work/time.xml"
    printf '<?xml version="1.0"?>\n<!DOCTYPE t SYSTEM "/etc/passwd">\n<testsuites/>\n' \
        >"$work/dtd.xml"
    printf '<testsuites><testsuite>\n<testcase name="boots" time="1.5"/>\n' \
        >"$work/cut.xml"
    : >"$work/empty.xml"
    for f in missing.xml fifo dir text.xml html.xml time.xml dtd.xml \
        cut.xml empty.xml; do
        timeout 10 "$QHIL" run --shard 1/2 --durations "$work/$f" \
            -o "$work/r" --junit "$work/j.xml" examples/hello-mps2.yaml \
            >"$work/out" 2>&1
        case $? in
        2) ;;
        124) fail "--durations $f blocked" ;;
        *) fail "--durations $f exited $?, expected 2" ;;
        esac
        has "^qhil run: --durations: $work/$f"
        lacks '^qhil: suite |PASS|FAIL'
        [ ! -e "$work/r" ] && [ ! -e "$work/j.xml" ] ||
            fail "--durations $f made a folder or a report"
    done
    run 2 run --shard 1/2 --durations "$work/html.xml" --list \
        examples/hello-mps2.yaml
    has "html\.xml:2:1: not a JUnit report: the root element is <html>"
    run 2 run --shard 1/2 --durations "$work/time.xml" --list \
        examples/hello-mps2.yaml
    has 'time\.xml:3:1: <testcase> time="x"'
    run 2 run --shard 1/2 --durations "$work/fifo" --list \
        examples/hello-mps2.yaml
    has 'fifo: not a regular file'
    # A good file names tests the suite lacks and misses some it has.
    printf '<testsuites><testsuite>\n<testcase name="gone" time="99"/>\n<testcase name="boots" time="30"/>\n</testsuite></testsuites>\n' \
        >"$work/good.xml"
    run 0 run --shard 1/2 --durations "$work/good.xml" --list \
        examples/hello-mps2.yaml
    # The others weigh the median, 64.5 s, boots 30 s: counter, reset
    # and version go to 1/2 (by name, without durations, boots would).
    [ "$(tr '\n' ' ' <"$work/out")" = \
        "reset-restarts version counter-survives-no-reset " ] ||
        fail "balanced by durations, 1/2 is $(cat "$work/out")"
}

# ---- qhil report merge ----

# The <testcase> elements of a JUnit file, one per line (their line breaks
# as \x01), sorted: qhil writes '<' only as markup, so lines tell them.
junit_cases() {
    awk '/^    <testcase /{rec=""; on=1}
         on{rec=rec $0 "\001"}
         on && (/^    <\/testcase>$/ || /^    <testcase .*\/>$/){on=0; print rec}' \
        "$@" | LC_ALL=C sort
}

# Two JUnit files hold the same suites with the same totals and the same
# tests, element by element, except times and console text (a console
# log ends wherever the test stopped reading it, which differs from one
# run to the next).
junit_same_tests() {
    python3 - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET

def view(path):
    suites = {}
    for s in ET.parse(path).getroot().iter("testsuite"):
        a = {k: v for k, v in s.attrib.items() if k not in ("time", "timestamp")}
        cases = {}
        for c in s.findall("testcase"):
            kids = []
            for k in c:
                text = None if k.tag in ("system-out", "system-err") else k.text
                kids.append((k.tag, sorted(k.attrib.items()), text))
            ca = {k: v for k, v in c.attrib.items() if k != "time"}
            assert c.get("name") not in cases, c.get("name")
            cases[c.get("name")] = (sorted(ca.items()), kids)
        suites[s.get("name")] = (sorted(a.items()), cases)
    return suites

a, b = view(sys.argv[1]), view(sys.argv[2])
if a != b:
    print("differ:\n%r\n%r" % (a, b), file=sys.stderr)
    sys.exit(1)
PY
}

# Three shard reports of a real run (disjoint -t selections standing in
# for --shard) merge into the report of one full run: the same tests and
# totals, each testcase byte for byte as its shard wrote it, the suite's
# time the sum of the shards'.
scenario_report_merge() {
    run 0 run -o "$work/r" --junit "$work/full.xml" examples/hello-mps2.yaml
    run 0 run -o "$work/r1" --junit "$work/s1.xml" -t boots -t shell-echo \
        examples/hello-mps2.yaml
    run 0 run -o "$work/r2" --junit "$work/s2.xml" -t reset-restarts \
        -t version examples/hello-mps2.yaml
    run 0 run -o "$work/r3" --junit "$work/s3.xml" \
        -t counter-survives-no-reset -t pause-and-resume \
        examples/hello-mps2.yaml
    run 0 report merge -o "$work/merged.xml" "$work/s1.xml" "$work/s2.xml" \
        "$work/s3.xml"
    has "^qhil: merged 3 files into .*merged.xml: 1 suites, 6 tests, 0 failures, 0 errors, 0 skipped$"
    junit_same_tests "$work/full.xml" "$work/merged.xml" ||
        fail "the merged report is not the full run's"
    [ "$(junit_cases "$work/merged.xml" | wc -l)" -eq 6 ] ||
        fail "merged report does not hold 6 test cases"
    junit_cases "$work/s1.xml" "$work/s2.xml" "$work/s3.xml" >"$work/want"
    junit_cases "$work/merged.xml" | cmp -s - "$work/want" ||
        fail "a test case changed on its way through the merge"
    python3 - "$work/merged.xml" "$work/s1.xml" "$work/s2.xml" \
        "$work/s3.xml" <<'PY' || fail "merged suite time is not the sum"
import sys, xml.etree.ElementTree as ET
t = lambda p: round(float(ET.parse(p).getroot().find("testsuite").get("time")) * 1000)
sys.exit(0 if t(sys.argv[1]) == sum(t(p) for p in sys.argv[2:]) else 1)
PY
    no_qemu_left
}

# With a failing test: its failure (message, step, console tail) comes
# through byte for byte and counts in the merged totals.
scenario_report_merge_failures() {
    run 1 run -o "$work/r" --junit "$work/full.xml" \
        "$suites/fail-wrong-pattern.yaml"
    run 1 run -o "$work/r1" --junit "$work/s1.xml" -t wrong-banner \
        "$suites/fail-wrong-pattern.yaml"
    run 0 run -o "$work/r2" --junit "$work/s2.xml" -t passes-afterwards \
        "$suites/fail-wrong-pattern.yaml"
    run 0 report merge -o "$work/merged.xml" "$work/s2.xml" "$work/s1.xml"
    has "2 tests, 1 failures, 0 errors, 0 skipped$"
    grep -q '<testsuite name="fail-wrong-pattern" tests="2" failures="1" errors="0" skipped="0"' \
        "$work/merged.xml" || fail "merged totals wrong"
    grep -q '<failure message=' "$work/merged.xml" || fail "failure lost"
    junit_same_tests "$work/full.xml" "$work/merged.xml" ||
        fail "the merged report is not the full run's"
    junit_cases "$work/s1.xml" "$work/s2.xml" >"$work/want"
    junit_cases "$work/merged.xml" | cmp -s - "$work/want" ||
        fail "a test case changed on its way through the merge"
    no_qemu_left
}

# merge_refused FILE-NAMED NEEDLE qhil-args...: exit 2, the message names
# the file and says NEEDLE, the output is untouched, no temporary file.
merge_refused() {
    local named=$1 needle=$2
    shift 2
    run 2 report merge -o "$work/m/out.xml" "$@"
    has "$needle"
    [ -z "$named" ] || grep -qF -- "$named" "$work/out" ||
        fail "the message does not name $named"
    [ "$(cat "$work/m/out.xml")" = "keep" ] || fail "the output was touched"
    [ "$(ls -A "$work/m")" = "out.xml" ] ||
        fail "left in the output folder: $(ls -A "$work/m")"
}

# Every bad input: exit 2, the file named, nothing half-written.
scenario_report_merge_bad() {
    run 0 run -o "$work/r1" --junit "$work/s1.xml" -t boots \
        examples/hello-mps2.yaml
    run 0 run -o "$work/r2" --junit "$work/s2.xml" -t version \
        examples/hello-mps2.yaml
    mkdir "$work/m"
    echo keep >"$work/m/out.xml"
    cp "$work/s1.xml" "$work/copy.xml"
    mkfifo "$work/fifo.xml"
    printf 'PASS\n' >"$work/text.xml"
    head -c 300 "$work/s1.xml" >"$work/cut.xml"
    printf '<html><body/></html>\n' >"$work/html.xml"

    merge_refused "" "no JUnit file to merge"
    merge_refused "$work/none.xml" "cannot open" "$work/s1.xml" \
        "$work/none.xml"
    # A FIFO with no writer: refused at once, never waited on.
    local t0=$SECONDS
    merge_refused "$work/fifo.xml" "not a regular file" "$work/fifo.xml"
    [ $((SECONDS - t0)) -lt 5 ] || fail "a FIFO input blocked the merge"
    merge_refused "$work/text.xml:1:" "not well-formed XML" "$work/text.xml"
    merge_refused "$work/cut.xml:" "not well-formed XML" "$work/s2.xml" \
        "$work/cut.xml"
    merge_refused "$work/html.xml:1:" "not a JUnit report" "$work/html.xml"
    merge_refused "$work/copy.xml" "disagree on test \"boots\"" \
        "$work/s1.xml" "$work/s2.xml" "$work/copy.xml"
    has "$work/s1.xml"
    merge_refused "$work/s1.xml" "given twice" "$work/s1.xml" "$work/s1.xml"
    merge_refused "$work/m/out.xml" "exists; give --force" "$work/s1.xml"
    # Usage errors.
    run 2 report merge "$work/s1.xml"
    has "-o OUT is required"
    run 2 report frobnicate
    has "unknown verb"

    # The output is never an input, even with --force.
    cp "$work/s1.xml" "$work/s1.keep"
    run 2 report merge --force -o "$work/s1.xml" "$work/s1.xml" \
        "$work/s2.xml"
    has "is the input"
    cmp -s "$work/s1.xml" "$work/s1.keep" || fail "an input was overwritten"
    # --force replaces a file, and a planted symlink is replaced, not
    # written through.
    echo secret >"$work/victim"
    ln -s "$work/victim" "$work/m/link.xml"
    run 0 report merge --force -o "$work/m/link.xml" "$work/s1.xml" \
        "$work/s2.xml"
    [ "$(cat "$work/victim")" = "secret" ] ||
        fail "the merge wrote through a symlink"
    [ -f "$work/m/link.xml" ] && [ ! -L "$work/m/link.xml" ] ||
        fail "the symlink was not replaced by the report"
    run 0 report merge --force -o "$work/m/out.xml" "$work/s1.xml" \
        "$work/s2.xml"
    has "2 tests"
    grep -q 'tests="2"' "$work/m/out.xml" || fail "--force did not write"
    no_qemu_left
}

# ---- selection and order: -k, --tag, --shuffle, --seed, --repeat,
# --fail-fast ----

# qhil run --list ARGS...: its stdout in $work/list, stderr in $work/err;
# must exit 0.
list() {
    "$QHIL" run --list "$@" >"$work/list" 2>"$work/err" ||
        { cat "$work/err" >&2; fail "qhil run --list $* failed"; }
}

# The lines of $work/list, joined by spaces.
listed() {
    tr '\n' ' ' <"$work/list" | sed 's/ $//'
}

scenario_select_list() {
    local h=examples/hello-mps2.yaml s="$suites/select.yaml" seed k
    list -o "$work/r" "$h"
    cp "$work/list" "$work/all"
    # -k: fnmatch globs, any of them, in the suite's order.
    list -o "$work/r" -k '*reset*' "$h"
    [ "$(listed)" = "reset-restarts counter-survives-no-reset" ] ||
        fail "-k '*reset*': $(listed)"
    list -k 'ver*' -k boots "$h"
    [ "$(listed)" = "boots version" ] || fail "-k ver* -k boots: $(listed)"
    # A glob matches the whole name, not a part of it.
    run 2 run --list -k boot "$h"
    has "-k 'boot': no test"
    # --tag: any of them; the suite's tags are every test's.
    list --tag smoke "$s"
    [ "$(listed)" = "first-passes second-fails" ] || fail "--tag smoke: $(listed)"
    list --tag slow --tag broken "$s"
    [ "$(listed)" = "second-fails fourth-passes" ] || fail "--tag slow --tag broken: $(listed)"
    list --tag mps2 "$s"
    [ "$(wc -l <"$work/list")" -eq 4 ] || fail "--tag mps2 (the suite's): $(listed)"
    # Both: a test must pass both filters; and -t as well.
    list --tag smoke -k '*passes' "$s"
    [ "$(listed)" = "first-passes" ] || fail "--tag smoke -k *passes: $(listed)"
    list --tag mps2 -k '*passes' -t third-passes "$s"
    [ "$(listed)" = "third-passes" ] || fail "--tag, -k and -t: $(listed)"
    # --shuffle --seed: a permutation, the same one every time, the seed
    # on stderr.
    list --seed 42 "$h"
    cp "$work/list" "$work/s42"
    grep -qx 'shuffle seed: 42' "$work/err" || fail "no seed on stderr: $(cat "$work/err")"
    cmp -s <(sort "$work/s42") <(sort "$work/all") || fail "--seed 42 is not a permutation: $(listed)"
    cmp -s "$work/s42" "$work/all" && fail "--seed 42 did not shuffle"
    list --shuffle --seed 42 "$h"
    cmp -s "$work/list" "$work/s42" || fail "--seed 42 twice, two orders"
    list --seed 43 "$h"
    cmp -s "$work/list" "$work/s42" && fail "--seed 43 gave 42's order"
    # --shuffle alone: the printed seed repeats the order.
    list --shuffle "$h"
    cp "$work/list" "$work/rand"
    seed=$(sed -n 's/^shuffle seed: \([0-9]*\)$/\1/p' "$work/err")
    [ -n "$seed" ] || fail "--shuffle printed no seed: $(cat "$work/err")"
    list --seed "$seed" "$h"
    cmp -s "$work/list" "$work/rand" || fail "--seed $seed did not repeat the order"
    # --repeat: each test N times in a row, told apart.
    list --repeat 2 -k boots -k version "$h"
    [ "$(listed)" = "boots [1/2] boots [2/2] version [1/2] version [2/2]" ] ||
        fail "--repeat 2: $(listed)"
    # Shard, then shuffle, then repeat: 3 runners still run each test
    # twice between them, each with its own seed.
    : >"$work/union"
    for k in 1 2 3; do
        list --shard "$k/3" --seed "$k" --repeat 2 "$h"
        cat "$work/list" >>"$work/union"
    done
    [ "$(wc -l <"$work/union")" -eq 12 ] || fail "3 shards x 2: $(cat "$work/union")"
    sed 's/ \[[12]\/2\]$//' "$work/union" | sort | uniq -c |
        awk '$1 != 2 {bad=1} END {exit bad}' || fail "a test not run twice: $(cat "$work/union")"
    cmp -s <(sed 's/ \[[12]\/2\]$//' "$work/union" | sort -u) <(sort "$work/all") ||
        fail "the shards miss a test: $(cat "$work/union")"
    [ ! -e "$work/r" ] || fail "--list made a folder"
}

scenario_select_bad() {
    local h=examples/hello-mps2.yaml
    run 2 run -o "$work/r" -k 'nomatch*' --tag smoke "$h"
    has "^qhil run: -k 'nomatch\*' --tag 'smoke': no test of examples/hello-mps2.yaml matches"
    run 2 run -o "$work/r" --tag nightly "$h"
    has "--tag 'nightly': no test"
    run 2 run -o "$work/r" -k '' "$h"
    has "-k '': an empty pattern"
    run 2 run -o "$work/r" --tag 'a b' "$h"
    has "--tag 'a b': a tag is one word"
    run 2 run -o "$work/r" --repeat 0 "$h"
    has "^qhil run: --repeat '0': 0 runs nothing"
    run 2 run -o "$work/r" --repeat x "$h"
    has "^qhil run: --repeat 'x': not a decimal number"
    run 2 run -o "$work/r" --repeat 10001 "$h"
    has "--repeat '10001': too large"
    run 2 run -o "$work/r" --seed -1 "$h"
    has "^qhil run: --seed '-1': a negative number"
    run 2 run -o "$work/r" --seed abc "$h"
    has "--seed 'abc': not a decimal number"
    run 2 run -o "$work/r" --seed 18446744073709551616 "$h"
    has "too large"
    run 2 run -o "$work/r" "$h" --seed
    has "requires an argument"
    run 2 run -o "$work/r" "$h" --repeat
    has "requires an argument"
    # A tag with a space in the suite: file:line and the field.
    printf 'device_type: mps2-an385\ntests:\n  - name: a\n    tags: [ok, "has space"]\n    steps: [reset]\n' \
        >"$work/tags.yaml"
    run 2 run -o "$work/r" "$work/tags.yaml"
    has "tags.yaml:4:[0-9]+: tests\[0\].tags\[1\]: 'has space' is not a tag"
    run 2 validate "$work/tags.yaml"
    has "tags.yaml:4:"
    [ ! -e "$work/r" ] || fail "a refused run made a folder"
}

# The second test fails: with --fail-fast the third and fourth do not
# start, and are in the reports as skipped.
scenario_select_fail_fast() {
    local s="$suites/select.yaml"
    run 1 run -j 1 --fail-fast -o "$work/r" --junit "$work/j.xml" "$s"
    has "^PASS +first-passes"
    has "^FAIL +second-fails"
    lacks "(PASS|FAIL|ERROR) +(third|fourth)-passes"
    has "^qhil: --fail-fast: stopped after test second-fails; 2 tests not run$"
    has "^1 passed, 1 failed, 2 not run$"
    [ ! -e "$(test_dir third-passes)" ] || fail "third-passes ran (its folder is there)"
    [ ! -e "$(test_dir fourth-passes)" ] || fail "fourth-passes ran"
    python3 - "$work/j.xml" <<'PY' || fail "JUnit: $(cat "$work/j.xml")"
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot().find("testsuite")
cases = {c.get("name"): c for c in s.iter("testcase")}
assert list(cases) == ["first-passes", "second-fails", "third-passes", "fourth-passes"], list(cases)
assert s.get("tests") == "4" and s.get("failures") == "1" and s.get("skipped") == "2", s.attrib
for n in ("third-passes", "fourth-passes"):
    sk = cases[n].find("skipped")
    assert sk is not None and sk.get("message") == "not run: --fail-fast", n
assert cases["first-passes"].find("skipped") is None
PY
    # Without it, every test runs: the skips above are --fail-fast's.
    run 1 run -j 1 -o "$work/r" "$s"
    has "^PASS +third-passes"
    has "^PASS +fourth-passes"
    has "^3 passed, 1 failed$"
    # Nothing fails: nothing is skipped.
    run 0 run -j 1 --fail-fast -o "$work/r" -k '*passes' "$s"
    has "^3 passed, 0 failed$"
    lacks "not run"
    no_qemu_left
}

# --repeat 2: each run its own result, folder and JUnit case; the JUnit
# merges with another run's.
scenario_select_repeat() {
    local s="$suites/select.yaml" d
    run 1 run -j 1 --repeat 2 -k 'first*' -k 'second*' -o "$work/r" \
        --junit "$work/j1.xml" "$s"
    has "^qhil: suite select .*, 4 tests$"
    has "^PASS +first-passes \[1/2\]"
    has "^PASS +first-passes \[2/2\]"
    has "^FAIL +second-fails \[1/2\]"
    has "^FAIL +second-fails \[2/2\]"
    has "^2 passed, 2 failed$"
    [ "$(find "$work/r/latest/" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 4 ] ||
        fail "4 runs, folders: $(ls "$work/r/latest/")"
    for d in "first-passes [1/2]" "first-passes [2/2]" "second-fails [2/2]"; do
        [ -s "$(test_dir "$(printf '%s' "$d" | sed 's/ /%20/; s/\[/%5b/; s/\//%2f/; s/\]/%5d/')")/console.log" ] ||
            fail "no console.log for $d: $(ls "$work/r/latest/")"
    done
    python3 - "$work/j1.xml" <<'PY' || fail "JUnit: $(cat "$work/j1.xml")"
import sys, xml.etree.ElementTree as ET
names = [c.get("name") for c in ET.parse(sys.argv[1]).getroot().iter("testcase")]
assert names == ["first-passes [1/2]", "first-passes [2/2]",
                 "second-fails [1/2]", "second-fails [2/2]"], names
PY
    run 0 run -j 1 -k 'third*' -o "$work/r2" --junit "$work/j2.xml" "$s"
    run 0 report merge -o "$work/m.xml" "$work/j1.xml" "$work/j2.xml"
    has "5 tests, 2 failures, 0 errors, 0 skipped$"
    # With --fail-fast, the second run of the failing test does not start.
    run 1 run -j 1 --repeat 2 --fail-fast -k 'second*' -o "$work/r" "$s"
    has "^FAIL +second-fails \[1/2\]"
    lacks "(PASS|FAIL) +second-fails \[2/2\]"
    has "0 passed, 1 failed, 1 not run$"
    no_qemu_left
}

# --seed S on real runs: the same order twice, the order --list gave,
# the seed in the run's job.log.
scenario_select_seed_run() {
    local s="$suites/select.yaml"
    list --seed 11 -k '*passes' "$s"
    run 0 run -j 1 --seed 11 -k '*passes' -o "$work/r" "$s"
    has "^shuffle seed: 11$"
    grep -qx 'shuffle seed: 11' "$work/r/latest/job.log" ||
        fail "job.log lacks the seed: $(cat "$work/r/latest/job.log")"
    grep -Eo '^PASS +[^ ]+' "$work/out" | awk '{print $2}' >"$work/ran1"
    cmp -s "$work/ran1" "$work/list" || fail "ran $(cat "$work/ran1"), listed $(listed)"
    run 0 run -j 1 --seed 11 -k '*passes' -o "$work/r" "$s"
    grep -Eo '^PASS +[^ ]+' "$work/out" | awk '{print $2}' >"$work/ran2"
    cmp -s "$work/ran1" "$work/ran2" || fail "--seed 11 twice: $(cat "$work/ran1") / $(cat "$work/ran2")"
    # Not shuffled: no seed anywhere.
    run 0 run -j 1 -k '*passes' -o "$work/r" "$s"
    lacks "shuffle seed"
    ! grep -q 'shuffle seed' "$work/r/latest/job.log" || fail "unshuffled job.log has a seed"
    no_qemu_left
}

# The HTML report in a real browser: the page is built from a run
# document written by hand (a pass, a fail with a fail_match and its
# failure, a test not run, a test name and a console line that try to be
# HTML), headless Chromium runs its script, and the DOM it built must
# show what a user sees; guest text must be text, never an element.
# The screenshot stays in the work folder (printed).
scenario_report_html() {
    local chromium page dom kind
    chromium=$(command -v chromium) ||
        fail "chromium is not installed: apt-get install -y chromium"
    page="$work/page/report.html"
    mkdir -p "$work/page"
    run 0 report html "$SRC/tests/integration/data/report-html-run.json" \
        -o "$page"
    has "^qhil: wrote .*report.html: 3 tests$"
    # One file that loads nothing: no src= or href= to anything but an
    # anchor of the page itself.
    ! grep -qiE '<[^>]*[[:space:]](src|href)=' "$page" ||
        fail "the page refers to another file or address"
    ! grep -qF '</script><script>alert' "$page" ||
        fail "a console line reached the page unescaped"
    dom="$work/page/dom.html"
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
        --enable-logging=stderr --v=0 --dump-dom "file://$page" \
        >"$dom" 2>"$work/page/chromium.log" ||
        fail "chromium --dump-dom failed: $(tail -3 "$work/page/chromium.log")"
    ! grep -qE 'CONSOLE.*(Uncaught|Refused)' "$work/page/chromium.log" ||
        fail "the page's script failed: $(grep -E 'CONSOLE' "$work/page/chromium.log")"
    grep -q '<body data-ready="1">' "$dom" ||
        fail "the page's script did not run to its end"
    python3 - "$dom" <<'PY' || fail "the DOM does not show the run"
import sys
from html.parser import HTMLParser

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.kinds, self.tags = [], {}, set(), []
        self.text = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag not in ("br", "meta", "input", "rect", "line"):
            self.stack.append([tag, a.get("id"), ""])
        if a.get("class") == "tl-mark":
            self.kinds.add(a.get("data-kind"))
    def handle_endtag(self, tag):
        while self.stack:
            t, i, txt = self.stack.pop()
            if i:
                self.ids[i] = txt
            if self.stack:
                self.stack[-1][2] += txt
            if t == tag:
                break
    def handle_data(self, d):
        if self.stack:
            self.stack[-1][2] += d
        self.text.append(d)

d = Dom()
d.feed(open(sys.argv[1]).read())
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)
for v, n in (("pass", "1"), ("fail", "1"), ("error", "0"), ("skip", "1")):
    want(d.ids.get("count-" + v) == n, "count-%s is %r, want %s"
         % (v, d.ids.get("count-" + v), n))
fail = d.ids.get("failure-1", "")
want("step 2, line 14: expect \"Ready\"" in fail, "failing step: %r" % fail)
want("/PANIC/" in fail, "fail pattern not shown: %r" % fail)
want("jump to failure" in fail, "no jump to failure")
want("failure-0" not in d.ids, "a passing test shows a failure")
for k in ("test_start", "machine_start", "step_start", "step_end", "input",
          "qmp_event", "qmp_command", "qmp_reply", "console_line", "match",
          "fail_match", "failure", "machine_end", "test_end", "fault",
          "qemu_warning"):
    want(k in d.kinds, "no timeline entry for %s" % k)
# Both failures of the failing test, in order, as text.
fl = d.ids.get("failures-1", "")
want("step 2, line 14: fail: fail_on /PANIC/ matched: PANIC" in fl and
     "error: QEMU exited with status 1: <i>qemu</i>: guest panic" in fl and
     fl.index("PANIC") < fl.index("QEMU exited"), "all failures: %r" % fl)
want("2 failures:" in fail, "the failure box does not count them")
want("failures-0" not in d.ids, "a passing test lists failures")
# Each step's time.
st = d.ids.get("steps-1", "")
want("expect \"Ready\"" in st and "19.5 ms" in st and "200.0 \u00b5s" in st,
     "step times: %r" % st)
want("480.1 \u00b5s" in d.ids.get("steps-0", ""), "steps of the passing test")
# The tag filter: every tag once, as text; all rows shown by default.
sel = d.ids.get("tag-filter", "")
want(sel == "all tagstag: <b>bold</b>tag: boottag: slowtag: smoke",
     "tag filter options: %r" % sel)
rows = {a.get("id"): a for t, a in d.tags if t == "tr" and a.get("id")}
want(not any("hidden" in a for a in rows.values()), "a row is hidden")
con = d.ids.get("console-1", "")
want("</script><script>alert(1)</script>" in con,
     "the console line is not shown as text: %r" % con)
want("PANIC: stack \u2028overflow \u00e9" in con, "U+2028 line changed")
row = d.ids.get("row-1", "")
want("<img src=x onerror=alert(1)>" in row, "the test name is not text")
want(d.ids.get("t1-L3", "").endswith("PANIC: stack \u2028overflow \u00e9"),
     "console line 3 is not the failing one")
# No element made from data: one img none, scripts only the page's two.
want(not any(t == "img" for t, a in d.tags), "an <img> was created")
want(not any(any(k.startswith("on") for k in a) for t, a in d.tags),
     "an element has an on* handler attribute")
scripts = [a for t, a in d.tags if t == "script"]
want(len(scripts) == 2, "%d script elements, want 2" % len(scripts))
for b in bad:
    print("DOM:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    # "#tag=slow" filters the table to the tests with that tag; an
    # unknown tag filters nothing.
    for tag in slow nosuchtag; do
        timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
            --dump-dom "file://$page#tag=$tag" >"$work/page/dom-$tag.html" \
            2>/dev/null || fail "chromium --dump-dom #tag=$tag failed"
    done
    python3 - "$work/page" <<'PY' || fail "the tag filter does not filter"
import sys
from html.parser import HTMLParser
class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and (a.get("id") or "").startswith("row-"):
            self.rows[a["id"]] = "hidden" in a
def hidden(name):
    r = Rows()
    r.feed(open(sys.argv[1] + "/dom-" + name + ".html").read())
    return r.rows
got = hidden("slow")
assert got == {"row-0": True, "row-1": False, "row-2": False}, got
got = hidden("nosuchtag")
assert got == {"row-0": False, "row-1": False, "row-2": False}, got
PY
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
        --screenshot="$work/page/report.png" --window-size=1280,900 \
        "file://$page" >/dev/null 2>&1 ||
        fail "chromium --screenshot failed"
    [ -s "$work/page/report.png" ] || fail "no screenshot"
    # The work folder stays, for the screenshot and the DOM.
    trap - EXIT
    echo "screenshot: $work/page/report.png"
}

# Bad run documents exit 2 naming the file and what is wrong, and write
# nothing; the page replaces a symlink and never writes through it.
scenario_report_html_bad() {
    local good="$SRC/tests/integration/data/report-html-run.json"
    mkdir -p "$work/h"
    echo 'not json' >"$work/h/bad.json"
    run 2 report html "$work/h/bad.json" -o "$work/h/out.html"
    has "bad.json:1:.*not JSON"
    python3 - "$good" "$work/h" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
def save(name, doc):
    json.dump(doc, open(sys.argv[2] + "/" + name, "w"))
save("v3.json", dict(run, qhil_run=3))
d = dict(run); del d["tests"]; save("notests.json", d)
save("lying.json", dict(run, counts={"pass": 2, "fail": 0, "error": 0,
                                     "skip": 1}))
t = json.loads(json.dumps(run)); t["tests"][1]["verdict"] = "maybe"
save("verdict.json", t)
PY
    run 2 report html "$work/h/v3.json" -o "$work/h/out.html"
    has "v3.json: qhil_run: version 3 is not known, expected 1 to 2"
    run 2 report html "$work/h/notests.json" -o "$work/h/out.html"
    has "notests.json: tests: missing, expected an array"
    run 2 report html "$work/h/lying.json" -o "$work/h/out.html"
    has "lying.json: counts.pass: 2, but tests holds 1 test with verdict pass"
    run 2 report html "$work/h/verdict.json" -o "$work/h/out.html"
    has 'tests\[1\].verdict: expected pass, fail, error or skip, got "maybe"'
    mkfifo "$work/h/fifo.json"
    run 2 report html "$work/h/fifo.json" -o "$work/h/out.html"
    has "fifo.json: not a regular file"
    ln -s "$good" "$work/h/link.json"
    run 2 report html "$work/h/link.json" -o "$work/h/out.html"
    has "link.json: is a symlink"
    [ ! -e "$work/h/out.html" ] || fail "a bad run wrote the page"
    [ -z "$(find "$work/h" -name '.*tmp*')" ] || fail "a temporary file left"
    run 2 report html "$work/h/bad.json"
    has "-o OUT is required"
    cp "$good" "$work/h/in.json"
    run 2 report html "$work/h/in.json" -o "$work/h/in.json"
    has "is the input"
    cmp -s "$good" "$work/h/in.json" || fail "the input was overwritten"
    echo secret >"$work/victim"
    ln -s "$work/victim" "$work/h/link.html"
    run 0 report html "$good" -o "$work/h/link.html"
    [ "$(cat "$work/victim")" = "secret" ] ||
        fail "the page was written through a symlink"
    [ -f "$work/h/link.html" ] && [ ! -L "$work/h/link.html" ] ||
        fail "the symlink was not replaced by the page"
}

# ---- JUnit as CI servers read it ----

# Check a JUnit file against the schema of what Jenkins and GitLab read.
junit_valid() {
    xmllint --noout --schema tests/junit/junit.xsd "$1" \
        >"$work/xmllint.out" 2>&1 ||
        fail "$1 is not valid JUnit: $(head -5 "$work/xmllint.out")"
}

# Every kind of report qhil writes validates against tests/junit/junit.xsd:
# passes, failures, an error (QEMU dies), tests not run (--fail-fast), a
# shuffled and repeated run, hostile names and console bytes, a suite
# name that is not UTF-8, and a merge of them all.  The schema itself
# must refuse reports that lie about their structure.
# scenario retry: --retry N runs a failed test again and every report
# says so.  A wrapper named like the board's QEMU, first on PATH, makes
# test "flaky" fail its first attempt (its UART goes to null: the banner
# never comes) and pass later; it counts each marked test's runs in a
# file of the scenario's.
retry_wrapper() {
    local real
    real=$(command -v qemu-system-arm) || fail "qemu-system-arm missing"
    mkdir -p "$work/bin"
    cat >"$work/bin/qemu-system-arm" <<EOF
#!/bin/bash
# A test's trace marker (qhilit_NAME) is taken out of the command line.
args=()
mark=
while [ \$# -gt 0 ]; do
    if [ "\$1" = -trace ] && [[ "\${2:-}" == qhilit_* ]]; then
        mark=\$2
        shift 2
        continue
    fi
    args+=("\$1")
    shift
done
if [ -n "\$mark" ]; then
    echo run >>"$work/count-\$mark"
    if [ "\$mark" = qhilit_flaky_once ] &&
        [ "\$(/usr/bin/wc -l <"$work/count-\$mark")" -eq 1 ]; then
        exec "$real" -serial null "\${args[@]}"
    fi
fi
exec "$real" "\${args[@]}"
EOF
    chmod +x "$work/bin/qemu-system-arm"
    export PATH="$work/bin:$PATH"
    unset QHIL_QEMU_PATH
}

# The reports of a run of retry.yaml with --retry 2 -t flaky -t always
# -t passes: flaky passed on attempt 2, always failed 3 times, passes
# ran once; and the folders of each attempt.
retry_check_run() {
    local d
    python3 - "$work" "$(dirname "$(test_dir flaky)")" <<'PY' ||
import json, os, sys
import xml.etree.ElementTree as ET
work, run = sys.argv[1], os.path.realpath(sys.argv[2])
def real(p):
    return os.path.realpath(p)
cases = {tc.get("name"): tc
         for tc in ET.parse(work + "/retry.xml").iter("testcase")}
def props(tc):
    return {p.get("name"): p.get("value") for p in tc.iter("property")}
f = cases["flaky"]
# Not a plain pass: the failed attempt is there, with its own log.
assert f.find("failure") is None and f.find("error") is None
ff = f.findall("flakyFailure")
assert len(ff) == 1, ET.tostring(f)
assert "pattern not seen" in ff[0].get("message"), ff[0].get("message")
assert ff[0].get("type") == "fail"
st = ff[0].find("stackTrace").text
assert "attempt 1 of 2, step 1 (line 13): expect" in st, st
assert "Hello, QEMU!" in st, st
assert props(f).get("flaky") == "true" and props(f)["attempts"] == "2", props(f)
assert "Hello, QEMU!" in f.find("system-out").text
assert "Hello, QEMU!" not in (ff[0].find("system-out").text or "")
a = cases["always"]
assert a.find("failure") is not None
assert len(a.findall("rerunFailure")) == 2 and not a.findall("flakyFailure")
assert props(a)["attempts"] == "3" and "flaky" not in props(a)
p = cases["passes"]
assert props(p)["attempts"] == "1" and "flaky" not in props(p)
assert not [e for e in p if e.tag.startswith(("rerun", "flaky"))]
# TAP: ok, flagged, the failed attempt in the YAML block.
tap = open(work + "/retry.tap").read()
assert "ok 1 - flaky # flaky: passed on attempt 2 of 3\n  ---\n" in tap, tap
blk = tap.split("ok 1 - flaky", 1)[1].split("  ...", 1)[0]
assert "attempts: 2" in blk and "attempt: 1" in blk, blk
assert "severity: fail" in blk, blk
assert "not ok 2 - always\n" in tap, tap
assert tap.count("    - attempt: ") == 3, tap
assert "ok 3 - passes\n" in tap
# JSON: attempts, flaky, every earlier attempt with its events.
doc = json.load(open(work + "/retry.json"))
assert doc["counts"]["flaky"] == 1 and doc["counts"]["pass"] == 2, doc["counts"]
t = {x["name"]: x for x in doc["tests"]}
assert t["flaky"]["flaky"] is True and t["flaky"]["attempts"] == 2
pa = t["flaky"]["previous_attempts"]
assert len(pa) == 1 and pa[0]["verdict"] == "fail" and pa[0]["attempt"] == 1
assert real(pa[0]["console_log"]) == run + "/flaky/console.log", pa[0]
assert real(t["flaky"]["console_log"]) == run + "/flaky/attempt-2/console.log"
assert [e for e in pa[0]["events"] if e["kind"] == "failure"]
assert all("attempt" not in e for e in pa[0]["events"])
assert t["flaky"]["events"]
assert all(e["attempt"] == 2 for e in t["flaky"]["events"])
assert t["always"]["attempts"] == 3
assert len(t["always"]["previous_attempts"]) == 2
assert t["always"]["flaky"] is False and t["always"]["verdict"] == "fail"
assert t["passes"]["attempts"] == 1 and t["passes"]["previous_attempts"] == []
# --events: every attempt's events, each retry's with its number.
seen = {}
for line in open(work + "/retry.events"):
    e = json.loads(line)
    assert e["v"] == 2
    if e["kind"] == "test_start":
        seen.setdefault(e["test"], []).append(e.get("attempt", 1))
assert sorted(seen["flaky"]) == [1, 2], seen
assert sorted(seen["always"]) == [1, 2, 3], seen
assert seen["passes"] == [1], seen
PY
        fail "the reports of a retried run"
    d=$(test_dir flaky)
    # Attempt 1 saw nothing (its UART went to null), attempt 2 the banner.
    [ -f "$d/console.log" ] && [ -f "$d/qemu.log" ] ||
        fail "attempt 1 of flaky has no logs of its own"
    ! grep -q 'Hello, QEMU!' "$d/console.log" ||
        fail "attempt 1's console log was overwritten"
    [ -s "$d/attempt-2/console.log" ] && [ -f "$d/attempt-2/qemu.log" ] ||
        fail "attempt 2 of flaky has no logs of its own"
    grep -q 'Hello, QEMU!' "$d/attempt-2/console.log" ||
        fail "attempt 2's console log is not attempt 2's"
    [ ! -e "$d/attempt-3" ] || fail "flaky ran a third time"
    d=$(test_dir always)
    [ -s "$d/attempt-2/console.log" ] && [ -s "$d/attempt-3/console.log" ] &&
        [ ! -e "$d/attempt-4" ] ||
        fail "always did not run exactly 3 times: $(ls "$d")"
    [ ! -e "$(test_dir passes)/attempt-2" ] || fail "passes ran again"
    [ "$(wc -l <"$work/count-qhilit_flaky_once")" -eq 2 ] ||
        fail "flaky's QEMU started $(wc -l <"$work/count-qhilit_flaky_once") times"
    xmllint -noout -schema tests/junit/junit.xsd "$work/retry.xml" \
        2>"$work/xmllint" || fail "retried JUnit invalid: $(cat "$work/xmllint")"
}

# The HTML page of the retried run: the flaky count, the badge, and
# each attempt, as headless Chromium builds them.
retry_html() {
    local chromium dom
    chromium=$(command -v chromium) ||
        fail "chromium is not installed: apt-get install -y chromium"
    run 0 report html "$work/retry.json" -o "$work/retry.html"
    dom="$work/retry-dom.html"
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
        --dump-dom "file://$work/retry.html" >"$dom" 2>/dev/null ||
        fail "chromium --dump-dom failed"
    grep -q '<body data-ready="1">' "$dom" ||
        fail "the page's script did not run to its end"
    grep -q '<b id="count-flaky">1</b>' "$dom" || fail "no flaky count"
    grep -q '<span class="badge flaky">flaky: attempt 2</span>' "$dom" ||
        fail "the flaky test has no badge"
    [ "$(grep -o 'class="badge flaky"' "$dom" | wc -l)" -eq 1 ] ||
        fail "a test that is not flaky has the badge"
    grep -q '<span class="badge retried">3 attempts</span>' "$dom" ||
        fail "the test that never passed does not say its attempts"
    grep -q 'id="filter-flaky"' "$dom" || fail "no flaky filter"
    grep -qE '<details class="attempt v-fail" id="attempt-0-1"><summary>attempt 1: fail in [0-9.]+ s: pattern not seen within 2s</summary>' \
        "$dom" || fail "the flaky test's first attempt is not shown"
    grep -q 'id="attempt-1-2"' "$dom" && ! grep -q 'id="attempt-1-3"' "$dom" ||
        fail "the attempts of the test that never passed are wrong"
}

scenario_retry() {
    local j qhil bad
    command -v xmllint >/dev/null || fail "xmllint missing (libxml2-utils)"
    retry_wrapper
    # Refused before anything runs, naming the option.
    for bad in -1 abc 1000000 '' 1x 101; do
        run 2 run --retry "$bad" -o "$work/r" "$suites/retry.yaml"
        has "^qhil run: --retry '$bad': expected a number of retries of a failed test, 0 to 100$"
        [ ! -e "$work/r" ] || fail "--retry '$bad' made a results folder"
    done
    for j in 1 2; do
        rm -rf "$work/r" "$work"/count-* "$work"/retry.*
        run 1 run -j $j --retry 2 -o "$work/r" -t flaky -t always -t passes \
            --junit "$work/retry.xml" --tap="$work/retry.tap" \
            --json "$work/retry.json" --events "$work/retry.events" \
            "$suites/retry.yaml"
        has '^2 passed, 1 failed, 1 flaky$'
        has '^FAIL +flaky .*attempt 1 of 3: .*retrying$'
        has '^FLAKY +flaky \([0-9.]+s\) \(attempt 2 of 3\)$'
        has '^FAIL +always \([0-9.]+s\) \(attempt 3 of 3\)$'
        retry_check_run
        no_qemu_left
    done
    has '^  FLAKY +[0-9.]+s  flaky \(attempt 2 of 3\)$' # the -j table
    retry_html
    # Merged with another report, the attempts stay, and flaky is no
    # failure.
    run 0 run -o "$work/r2" --junit "$work/other.xml" -t boots \
        examples/hello-mps2.yaml
    run 0 report merge -o "$work/merged.xml" "$work/retry.xml" "$work/other.xml"
    xmllint -noout -schema tests/junit/junit.xsd "$work/merged.xml" \
        2>"$work/xmllint" || fail "merged JUnit invalid: $(cat "$work/xmllint")"
    grep -q '<testsuite name="retry" tests="3" failures="1" errors="0"' \
        "$work/merged.xml" || fail "the merge counts a flaky test as failed"
    [ "$(grep -c '<flakyFailure ' "$work/merged.xml")" -eq 1 ] &&
        [ "$(grep -c '<rerunFailure ' "$work/merged.xml")" -eq 2 ] ||
        fail "the merge lost attempts"
    # A flaky test does not fail the run; without --retry it fails.
    rm -rf "$work/r" "$work"/count-*
    run 0 run --retry 1 -o "$work/r" -t flaky -t passes "$suites/retry.yaml"
    has '^2 passed, 0 failed, 1 flaky$'
    rm -rf "$work/r" "$work"/count-*
    run 1 run -o "$work/r" -t flaky "$suites/retry.yaml"
    has '^0 passed, 1 failed$'
    [ ! -e "$(test_dir flaky)/attempt-2" ] || fail "retried without --retry"
    # --fail-fast: a failure with retries left is retried first.
    rm -rf "$work/r" "$work"/count-*
    run 0 run --fail-fast --retry 1 -o "$work/r" -t flaky -t passes \
        "$suites/retry.yaml"
    has '^PASS +passes '
    # The suite's retry: and a test's own, under --retry.
    mkdir -p "$work/s"
    cp firmware/build/mps2-an385/hello.elf "$work/s/"
    sed -e 's|../../../firmware/build/mps2-an385/||' \
        -e 's|^timeout: 2s|timeout: 2s\nretry: 1|' \
        -e 's|^  - name: always|  - name: always\n    retry: 0|' \
        "$suites/retry.yaml" >"$work/s/retry.yaml"
    rm -rf "$work/r" "$work"/count-*
    run 1 run -o "$work/r" -t flaky -t always "$work/s/retry.yaml"
    has '^1 passed, 1 failed, 1 flaky$'
    [ ! -e "$(test_dir always)/attempt-2" ] || fail "retry: 0 retried"
    rm -rf "$work/r" "$work"/count-*
    run 1 run --retry 0 -o "$work/r" -t flaky "$work/s/retry.yaml"
    has '^0 passed, 1 failed$'
    # SIGINT during a retry: no further attempt, complete reports.
    for j in 1 2; do
        rm -rf "$work/r" "$work"/retry.*
        set -m
        "$QHIL" run -j $j --retry 5 -o "$work/r" --junit "$work/retry.xml" \
            --json "$work/retry.json" -t slow-fail "$suites/retry.yaml" \
            >"$work/out" 2>&1 &
        qhil=$!
        console_has slow-fail/attempt-2 '> ' ||
            { kill -9 $qhil; fail "attempt 2 never started"; }
        kill -INT $qhil
        wait_bounded $qhil 20
        set +m
        [ "$waited" -eq 130 ] || fail "-j $j: qhil exited $waited, expected 130"
        [ ! -e "$(test_dir slow-fail)/attempt-3" ] ||
            fail "-j $j: an attempt started after SIGINT"
        has '^0 passed, 0 failed, 1 interrupted'
        python3 - "$work" <<'PY' || fail "-j $j: reports after SIGINT"
import json, sys
import xml.etree.ElementTree as ET
work = sys.argv[1]
tc = next(ET.parse(work + "/retry.xml").iter("testcase"))
assert "interrupted" in tc.find("error").get("message"), ET.tostring(tc)
assert len(tc.findall("rerunFailure")) == 1, ET.tostring(tc)
t = json.load(open(work + "/retry.json"))["tests"][0]
assert t["interrupted"] and t["attempts"] == 2 and not t["flaky"], t
PY
        no_qemu_left
    done
}

scenario_junit_schema() {
    local f
    command -v xmllint >/dev/null || fail "xmllint missing (libxml2-utils)"
    run 0 run -j 1 -o "$work/r" --junit "$work/pass.xml" examples/hello-mps2.yaml
    run 1 run -j 1 -o "$work/r" --junit "$work/fail.xml" \
        "$suites/fail-wrong-pattern.yaml"
    grep -q '<property name="board" value="mps2-an385"/>' "$work/fail.xml" ||
        fail "JUnit lacks the board property"
    grep -q '^pattern: Goodbye, QEMU!$' "$work/fail.xml" ||
        fail "the failure body lacks the pattern"
    grep -q '<failure message="[^"]*" type="fail">step 2 (line 10): expect &quot;Goodbye, QEMU!&quot;$' \
        "$work/fail.xml" || fail "the failure body lacks its step"
    run 1 run -j 1 --trusted -o "$work/r" --junit "$work/error.xml" \
        "$suites/qemu-dies-at-start.yaml"
    grep -q '<error message="QEMU exited' "$work/error.xml" ||
        fail "QEMU dying is not an <error>"
    run 1 run -j 1 --fail-fast -o "$work/r" --junit "$work/ff.xml" \
        "$suites/fail-wrong-pattern.yaml"
    grep -q '<skipped message="not run: --fail-fast"/>' "$work/ff.xml" ||
        fail "the test not run is not <skipped>"
    run 0 run -j 1 --seed 7 --repeat 2 -o "$work/r" --junit "$work/shuf.xml" \
        --json "$work/shuf.json" examples/hello-mps2.yaml
    [ "$(grep -c '<property name="shuffle_seed" value="7"/>' \
        "$work/shuf.xml")" -eq 12 ] || fail "not every test has the seed"
    grep -q 'name="boots \[2/2\]"' "$work/shuf.xml" &&
        grep -q '<property name="repeat" value="2/2"/>' "$work/shuf.xml" ||
        fail "JUnit lacks the repeat"
    grep -qE '<property name="qemu_version" value="[0-9]+\.[0-9]+\.[0-9]+"/>' \
        "$work/shuf.xml" || fail "JUnit lacks the QEMU version"
    run 1 run -j 1 -o "$work/r" --junit "$work/hostile.xml" \
        "$suites/junit-hostile.yaml"
    grep -q ']]&gt; &lt;!\[CDATA\[ x]]&gt;&amp;amp;' "$work/hostile.xml" ||
        fail "the console's ]]> is not in the report"
    # A suite file name that is not UTF-8 becomes the suite's name.
    mkdir -p "$work/a/b/c"
    ln -s "$SRC/firmware" "$work/firmware"
    f="$work/a/b/c/bad"$'\xff\xfe'"name.yaml"
    cp "$suites/junit-hostile.yaml" "$f"
    run 1 run -j 1 -o "$work/r" --junit "$work/badname.xml" "$f"
    for f in pass fail error ff shuf hostile badname; do
        junit_valid "$work/$f.xml"
    done
    run 0 report merge -o "$work/merged.xml" "$work/pass.xml" \
        "$work/fail.xml" "$work/error.xml" "$work/hostile.xml"
    junit_valid "$work/merged.xml"
    grep -q '<property name="attempts" value="1"/>' "$work/merged.xml" ||
        fail "the merge lost the properties"
    # The schema is no rubber stamp: each lie must be refused.
    sed 's/ time="\([0-9]*\)\./ time="\1,/' "$work/pass.xml" >"$work/l1.xml"
    sed 's/<failure message="[^"]*" /<failure /' "$work/fail.xml" \
        >"$work/l2.xml"
    sed 's/<property name="board"/<property name="bored"/' \
        "$work/pass.xml" >"$work/l3.xml"
    sed '0,/<\/properties>/s//<\/properties><system-out\/>/;
         0,/<system-out>/s//<failure message="x" type="fail"\/><system-out>/' \
        "$work/pass.xml" >"$work/l4.xml"
    for f in l1 l2 l3 l4; do
        cmp -s "$work/$f.xml" "$work/pass.xml" "$work/fail.xml" &&
            fail "$f.xml: the lie was not made"
        ! xmllint --noout --schema tests/junit/junit.xsd "$work/$f.xml" \
            >/dev/null 2>&1 || fail "the schema accepts $f.xml"
    done
    no_qemu_left
}

# A site file with limits (and the firmware's images allowed), in $work.
limits_site() {
    {
        echo "site: limits"
        echo "image_dirs: [$SRC/firmware/build]"
        echo "limits:"
        printf '  %s\n' "$@"
    } >"$work/site.yaml"
}

# Memory per QEMU: a QEMU that fits passes; one whose resident memory
# goes over the cap, at its start or in the middle of a test, is killed
# by its guard and the test is an ERROR that says so, quickly and with no
# QEMU left; a board whose -m alone is over
# the cap is refused before any folder is made; an option cannot raise
# the site's cap.
scenario_limits_memory() {
    limits_site "memory: 256MiB"
    run 0 run -j 1 --site "$work/site.yaml" -o "$work/r" \
        "$suites/limits-memory.yaml"
    has '^  limits: memory 256 MiB per QEMU \(.*site\.yaml:4\)$'
    has '^PASS +boots '
    # QEMU on mps2-an385 keeps about 30 MiB resident.
    limits_site "memory: 20MiB"
    local start=$SECONDS
    run 1 run -j 1 --site "$work/site.yaml" --max-memory 1GiB -o "$work/r" \
        "$suites/limits-memory.yaml"
    [ $((SECONDS - start)) -lt 8 ] || fail "the kill took $((SECONDS - start))s"
    has '^ERROR +boots '
    has 'QEMU memory over 20 MiB.*: [0-9]+ KiB resident, killed'
    lacks '^PASS'
    no_qemu_left
    # Crossed in the middle of a test: the step that did it, or the next
    # one, names it.
    rm -rf "$work/r"
    run 1 run -j 1 --trusted --max-memory 64MiB -o "$work/r" \
        "$suites/limits-memory-grows.yaml"
    has '^ERROR +grows '
    # The QMP reply may come before the guard's next look (20 ms): then
    # the wait after it is where QEMU dies.
    has '^       step (2 \(line 12\): qmp object-add|3 \(line 16\): wait 2s)$'
    has '^       QEMU memory over 64 MiB: [0-9]+ KiB resident, killed'
    no_qemu_left
    run 0 run -j 1 --trusted --max-memory 256MiB -o "$work/r" \
        "$suites/limits-memory-grows.yaml"
    has '^PASS +grows '
    # The option lowers the cap; -m 16M is over 8 MiB: nothing runs.
    rm -rf "$work/r"
    run 2 run --max-memory 8MiB -o "$work/r" "$suites/limits-memory.yaml"
    has 'mps2-an385\.yaml: -m 16M gives the guest 16 MiB of RAM, over the memory limit of 8 MiB per QEMU \(--max-memory\)'
    [ ! -e "$work/r" ] || fail "a run folder was made for a refused run"
    run 2 run --max-memory 1MB "$suites/limits-memory.yaml"
    has "^qhil: --max-memory: expected a size .* got '1MB'"
}

# The site's caps on QEMUs at once and on the logs: -j above it is cut
# with a note; a suite's log limit over the site's is refused at check
# time with the suite's line and the site's; a wrong value in the site
# file is refused with its line.
scenario_limits_site_caps() {
    limits_site "jobs: 1"
    run 0 run -j 4 --site "$work/site.yaml" -o "$work/r" \
        "$suites/limits-memory.yaml"
    has '^  -j 4 cut to 1: the site allows 1 QEMU at once \(.*site\.yaml:4\)$'
    grep -q '^-j 4 cut to 1' "$work/r/latest/job.log" || fail "job.log lacks the cut"
    limits_site "console: 512KiB"
    run 2 run --site "$work/site.yaml" -o "$work/r2" "$suites/log-limits.yaml"
    has "log-limits\.yaml:[0-9]+: test 'within-limits': limits\.console: 1 MiB is over the site's cap of 512 KiB \(.*site\.yaml:4\)"
    [ ! -e "$work/r2" ] || fail "a run folder was made for a refused suite"
    run 2 validate --site "$work/site.yaml" "$suites/log-limits.yaml"
    has "limits\.console: 1 MiB is over the site's cap"
    limits_site "jobs: 0"
    run 2 run --site "$work/site.yaml" "$suites/limits-memory.yaml"
    has 'site\.yaml:4:9: limits\.jobs: expected a number of QEMUs at once'
    limits_site "run_folder: 1MB"
    run 2 run --site "$work/site.yaml" "$suites/limits-memory.yaml"
    has "site\.yaml:4:15: limits\.run_folder: expected a size"
}

# The run folder cap: tests that flood qemu.log with a small cap: the
# first ones run, the later ones are not run with the reason, and the
# folder stays within the cap (one test at a time) or the cap plus what
# was left when the last ones started (-j 2).
scenario_limits_run_folder() {
    limits_site "run_folder: 120KiB"
    run 1 run -j 1 --site "$work/site.yaml" -o "$work/r" --junit "$work/j.xml" \
        "$suites/limits-run-folder.yaml"
    has '^qhil: run folder at its cap of 120 KiB \([0-9]+ bytes written, .*site\.yaml:4\); [0-9]+ tests? not run$'
    has ', [1-9][0-9]* not run$'
    grep -q 'not run: run folder at its cap of 120 KiB' "$work/j.xml" ||
        fail "the report does not say why tests were not run"
    local size
    size=$(du -sb "$work/r/latest/" | cut -f1)
    [ "$size" -le $((120 * 1024)) ] || fail "run folder $size bytes, over its cap"
    no_qemu_left
    rm -rf "$work/r"
    run 1 run -j 2 --site "$work/site.yaml" --max-run-folder 1GiB \
        -o "$work/r" "$suites/limits-run-folder.yaml"
    has ', [1-9][0-9]* not run$'
    size=$(du -sb "$work/r/latest/" | cut -f1)
    [ "$size" -le $((180 * 1024)) ] || fail "run folder $size bytes with -j 2"
    no_qemu_left
    # Tests not run for the cap fail the run even when every test that
    # ran passed: a green run ran them all.
    rm -rf "$work/r"
    run 1 run -j 1 --max-run-folder 20KiB -t quick --repeat 20 -o "$work/r" \
        "$suites/progress.yaml"
    has '^[1-9][0-9]* passed, 0 failed, [1-9][0-9]* not run$'
    # Without a cap the same suite passes whole: the cap did the above.
    rm -rf "$work/r"
    run 0 run -j 2 -o "$work/r" "$suites/limits-run-folder.yaml"
    has '^8 passed, 0 failed$'
}

# --keep: after the reports, only the kept tests' folders stay; job.log,
# the run folder and the reports stay; a symlink planted in a removed
# folder is removed as a link, its targets outside stay; a bad value is
# refused before anything runs.
scenario_keep() {
    mkdir -p "$work/r"
    run 1 run --keep failed -o "$work/r" --junit "$work/r/j.xml" \
        "$suites/log-limits.yaml"
    local dir
    dir=$(run_folder)
    [ -d "$dir/console-flood" ] && [ -d "$dir/qemu-log-flood" ] ||
        fail "a failed test's folder was removed"
    [ ! -e "$dir/within-limits" ] || fail "the passed test's folder was kept"
    [ -s "$dir/job.log" ] && [ -s "$work/r/j.xml" ] || fail "job.log or the report went"
    # The report was written before: it has the passed test's console.
    python3 - "$work/r/j.xml" <<'PY' || fail "JUnit lost the removed test's log"
import sys, xml.etree.ElementTree as ET
for c in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if c.get("name") == "within-limits":
        out = c.find("system-out")
        sys.exit(0 if out is not None and "Hello, QEMU!" in (out.text or "") else 1)
sys.exit(1)
PY
    rm -rf "$work/r"
    run 1 run --keep passed -o "$work/r" "$suites/log-limits.yaml"
    dir=$(run_folder)
    [ -d "$dir/within-limits" ] && [ ! -e "$dir/console-flood" ] &&
        [ ! -e "$dir/qemu-log-flood" ] || fail "--keep passed kept the wrong folders"
    # Plant links while the test runs (its wait step gives the time).
    rm -rf "$work/r"
    mkdir -p "$work/outside/dir"
    echo precious >"$work/outside/file"
    echo precious >"$work/outside/dir/file"
    "$QHIL" run -j 1 --keep failed -o "$work/r" "$suites/limits-memory.yaml" \
        >"$work/out" 2>&1 &
    local pid=$! t=""
    for _ in $(seq 100); do
        t=$(ls -d "$work"/r/2*/boots 2>/dev/null) && [ -n "$t" ] && break
        sleep 0.05
    done
    [ -n "$t" ] || fail "the test folder did not appear"
    ln -s "$work/outside/file" "$t/link"
    ln -s "$work/outside/dir" "$t/linkdir"
    ln -s / "$t/root"
    wait "$pid" || fail "the run failed"
    has '^PASS +boots '
    [ ! -e "$t" ] && [ ! -L "$t" ] || fail "the passed test's folder stayed"
    [ "$(cat "$work/outside/file")" = precious ] &&
        [ "$(cat "$work/outside/dir/file")" = precious ] ||
        fail "a link's target was touched"
    [ -d "$(dirname "$t")" ] && [ -s "$(dirname "$t")/job.log" ] ||
        fail "the run folder or job.log went"
    run 2 run --keep bogus "$suites/limits-memory.yaml"
    has "^qhil: --keep: expected passed, failed or all, got 'bogus'$"
    run 2 run --keep "" "$suites/limits-memory.yaml"
}

# Workers (-j 4) each write only in their own test's folder: names that
# collide or escape as folder names get one folder each, each folder
# holds exactly one QEMU's files (its own pid), and nothing is written
# outside the run folder.
scenario_workers_own_folders() {
    local n
    n=$(grep -c '^  - name:' "$suites/tricky-names.yaml")
    touch "$work/start"
    sleep 0.01
    run 0 run -j 4 -o "$work/r" "$suites/tricky-names.yaml"
    has "^$n passed, 0 failed$"
    local dir pids files stray
    dir=$(run_folder)
    pids=$(cat "$dir"/*/qemu.pid | sort -u | wc -l)
    [ "$pids" -eq "$n" ] || fail "$pids QEMU pids in $n test folders"
    files=$(find "$dir" -mindepth 2 -type f | wc -l)
    [ "$files" -eq $((3 * n)) ] || fail "$files files in $n test folders"
    find "$dir" -mindepth 2 -type f ! -name console.log ! -name qemu.log \
        ! -name qemu.pid | grep -q . && fail "a test folder has a stranger"
    [ -z "$(find "$dir" -mindepth 3 -print -quit)" ] || fail "a folder in a test folder"
    stray=$(find "$work" -mindepth 1 -newer "$work/start" ! -path "$work/r" \
        ! -path "$work/r/*" ! -path "$work/out" -print)
    [ -z "$stray" ] || fail "written outside the run folder: $stray"
    no_qemu_left
}

# QEMU's own lines past the 1 MiB per test that become qemu_warning
# events: a wrapper named like the board's QEMU writes 2 MB of warning
# lines to its stderr (qemu.log) before it starts QEMU.  The tests end
# as usual, serial and in workers, with the first MiB of lines as events,
# each line whole.
scenario_qemu_warnings_cap() {
    local real line j
    real=$(command -v qemu-system-arm) || fail "qemu-system-arm missing"
    line="qemu-system-arm: warning: $(printf 'x%.0s' $(seq 170))"
    mkdir -p "$work/bin"
    {
        echo '#!/bin/sh'
        echo "/usr/bin/yes '$line' | /usr/bin/head -c 2000000 >&2"
        echo "exec '$real' \"\$@\""
    } >"$work/bin/qemu-system-arm"
    chmod +x "$work/bin/qemu-system-arm"
    export PATH="$work/bin:$PATH"
    unset QHIL_QEMU_PATH
    for j in 1 2; do
        rm -rf "$work/r" "$work/r.json"
        run 1 run -j "$j" -t quick -t fails --json "$work/r.json" \
            -o "$work/r" "$suites/progress.yaml"
        has '^1 passed, 1 failed$'
        python3 - "$work/r.json" "$line" <<'PY' || fail "-j $j: qemu_warning events"
import json, sys
doc = json.load(open(sys.argv[1]))
for t in doc["tests"]:
    w = [e for e in t["events"] if e["kind"] == "qemu_warning"]
    got = sum(e["len"] + 1 for e in w)
    assert (1 << 20) - 200 <= got <= 1 << 20, (t["name"], got)
    assert all(e["text"] == sys.argv[2] for e in w), t["name"]
PY
    done
    no_qemu_left
}

name=${1:?usage: check.sh SCENARIO}
fn="scenario_${name//-/_}"
declare -F "$fn" >/dev/null || { echo "unknown scenario $name" >&2; exit 2; }
"$fn"
echo "ok: $name"
