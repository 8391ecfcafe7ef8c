#!/usr/bin/env python3
"""Run a command on a pseudo-terminal of a given width; keep what it wrote.

usage: progress_pty.py COLS OUTFILE TIMEOUT [--ctrl-c-on TEXT] -- COMMAND ARGS...

The terminal is COLS columns wide (TIOCSWINSZ before the command
starts), stdin, stdout and stderr are all the terminal, as in a shell.
Every byte the command writes goes to OUTFILE, raw (the terminal's
line discipline turns LF into CR LF).  Exits with the command's status;
126 when it outlived TIMEOUT seconds (then its process group is killed
and reaped).  With --ctrl-c-on, once TEXT has been written, SIGINT goes
to the command's process group, as Ctrl-C on a terminal sends it.
"""
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def main():
    cols = int(sys.argv[1])
    outfile = sys.argv[2]
    timeout = float(sys.argv[3])
    rest = sys.argv[4:]
    ctrl_c_on = None
    if rest[0] == "--ctrl-c-on":
        ctrl_c_on = rest[1].encode()
        rest = rest[2:]
    assert rest[0] == "--"
    argv = rest[1:]

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    data = bytearray()
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([master], [], [], min(left, 0.5))
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last holder of the terminal closed it
            break
        if not chunk:
            break
        data += chunk
        if ctrl_c_on and ctrl_c_on in data:
            os.killpg(proc.pid, signal.SIGINT)
            ctrl_c_on = None
    if timed_out:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    status = proc.wait()
    os.close(master)
    with open(outfile, "wb") as f:
        f.write(data)
    if timed_out:
        return 126
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
