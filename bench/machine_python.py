#!/usr/bin/env python3
"""The example test N times with QEMU's own Python qemu.machine.

bench/peers.py runs it as one peer: QEMUMachine (from the python/ folder
of QEMU's source tree, given as PYTHONPATH) launches QEMU with the
command line qhil's run recorded, minus -nographic (QEMUMachine adds
-display none, which QEMU refuses beside it) and plus -S: the console is
a socket QEMU listens on without waiting (wait=off), so QEMU is started
paused, the console connected, then QMP "cont" lets the firmware print
its banner.  The steps: expect the banner, QMP system_reset, expect the
banner and the prompt, send "echo bench" plus a newline, expect the
echo, then vm.shutdown() (QMP quit, wait).

usage: machine_python.py [-n N] -- QEMU ARGS...
Exit status 0 when every test passed, 1 when one failed, 2 for usage.
"""
import argparse
import socket
import sys
import time

from qemu.machine import QEMUMachine

DEADLINE = 10.0


def expect(sock, buf, pos, needle, deadline):
    """Read until needle appears in buf after pos; return the new pos."""
    while True:
        hit = buf.find(needle, pos)
        if hit >= 0:
            return hit + len(needle)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no %r within %.0f s" % (needle, DEADLINE))
        sock.settimeout(left)
        data = sock.recv(4096)
        if not data:
            raise EOFError("console closed before %r" % needle)
        buf.extend(data)


def one(argv, base_dir):
    deadline = time.monotonic() + DEADLINE
    vm = QEMUMachine(argv[0], args=argv[1:] + ["-S"], base_temp_dir=base_dir)
    vm.set_console()
    vm.launch()
    try:
        con = vm.console_socket
        vm.qmp("cont")
        buf = bytearray()
        pos = expect(con, buf, 0, b"Hello, QEMU!", deadline)
        vm.qmp("system_reset")
        pos = expect(con, buf, pos, b"Hello, QEMU!", deadline)
        pos = expect(con, buf, pos, b"> ", deadline)
        con.sendall(b"echo bench\n")
        # Same wake-up as qhil's send: QEMU 7.2's UART needs it.
        vm.qmp("query-status")
        expect(con, buf, pos, b"\r\nbench\r\n", deadline)
    finally:
        vm.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--tmp", default=None)
    ap.add_argument("qemu", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    argv = [x for x in a.qemu if x != "--"]
    if a.n < 1 or not argv:
        ap.print_usage(sys.stderr)
        return 2
    argv = [x for x in argv if x != "-nographic"]
    for i in range(a.n):
        try:
            one(argv, a.tmp)
        except (OSError, EOFError, TimeoutError, socket.timeout) as exc:
            print("machine_python: test %d failed: %s" % (i + 1, exc),
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
