"""The example test under pytest with labgrid's QEMUDriver.

bench/peers.py runs pytest on this file with --lg-env ENV (a labgrid
environment it writes: one target, QEMUDriver with the board's machine,
CPU, memory and qhil's extra options, the firmware as its kernel) and
BENCH_N tests.  Each test powers QEMU on (labgrid starts it with -S and
sends QMP "cont"), expects the banner on the console with the driver's
own expect, QMP system_reset, expects the banner and the prompt, sends
"echo bench", expects the echo, and powers off (QMP quit).  The QMP
query-status after the input is the same wake-up the other ways send.
"""
import os
import re

import pytest

N = int(os.environ.get("BENCH_N", "20"))


@pytest.mark.parametrize("i", range(N))
def test_example(target, i):
    qemu = target.get_driver("QEMUDriver")
    qemu.on()
    try:
        qemu.expect(re.escape("Hello, QEMU!"), timeout=10)
        qemu.monitor_command("system_reset")
        qemu.expect(re.escape("Hello, QEMU!"), timeout=10)
        qemu.expect(re.escape("> "), timeout=10)
        qemu.sendline("echo bench")
        qemu.monitor_command("query-status")
        qemu.expect(re.escape("\r\nbench\r\n"), timeout=10)
    finally:
        qemu.off()
