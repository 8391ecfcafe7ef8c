#!/usr/bin/env python3
"""The `qhil qmp` shell on a pseudo-terminal, against a real QEMU.

The script starts QEMU with two QMP sockets: the shell under test talks
on the first, and the script uses the second (through `qhil qmp -c`) to
make QEMU send an event while the shell sits idle at its prompt.  It
types like a user and reads the terminal output with deadlines:

  - Tab completes command names (query-st -> query-stat -> query-status);
  - Tab after a command without arguments inserts nothing;
  - Tab after human-monitor-command completes command-line=;
  - an event is shown while idle, and the half-typed line is redrawn;
  - Ctrl-C drops the line being typed, Ctrl-D leaves with status 0;
  - the history file is written under $XDG_STATE_HOME.

usage: qmp_pty.py   (environment: QHIL = the qhil binary)
Everything started here is killed and reaped at the end, pass or fail.
"""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

QHIL = os.environ["QHIL"]


class Failed(Exception):
    pass


class Screen:
    """Just enough of a terminal to know what a line shows after line
    editing: printable text, CR, LF, BS, and the CSI sequences libedit
    uses on one line (G, K, C, D, A, B, P, @, J)."""

    def __init__(self):
        self.lines = [[]]
        self.row = 0
        self.col = 0
        self.pending = ""

    def _put(self, ch):
        line = self.lines[self.row]
        while len(line) < self.col:
            line.append(" ")
        if self.col < len(line):
            line[self.col] = ch
        else:
            line.append(ch)
        self.col += 1

    def _csi(self, params, final):
        n = int(params) if params.isdigit() else None
        line = self.lines[self.row]
        if final == "G":
            self.col = (n or 1) - 1
        elif final == "K":
            if n in (None, 0):
                del line[self.col:]
            elif n == 2:
                line.clear()
            else:
                line[:self.col] = [" "] * min(self.col, len(line))
        elif final == "C":
            self.col += n or 1
        elif final == "D":
            self.col = max(0, self.col - (n or 1))
        elif final == "A":
            self.row = max(0, self.row - (n or 1))
        elif final == "B":
            self.down(n or 1)
        elif final == "P":
            del line[self.col:self.col + (n or 1)]
        elif final == "@":
            line[self.col:self.col] = [" "] * (n or 1)
        elif final == "J":
            del line[self.col:]
            del self.lines[self.row + 1:]

    def down(self, n=1):
        for _ in range(n):
            self.row += 1
            if self.row == len(self.lines):
                self.lines.append([])

    def feed(self, text):
        text = self.pending + text
        self.pending = ""
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[([0-9;?]*)([@-~])", text[i:])
                if not m:
                    if len(text) - i < 16:
                        self.pending = text[i:]  # finish on next read
                        return
                    i += 1
                    continue
                self._csi(m.group(1), m.group(2))
                i += m.end()
                continue
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self.down()
            elif ch == "\b":
                self.col = max(0, self.col - 1)
            elif ch >= " ":
                self._put(ch)
            i += 1

    def line(self):
        """The text of the cursor's line."""
        return "".join(self.lines[self.row])


class Term:
    """A child process on a pty; everything it printed is in self.out,
    and what the screen shows in self.screen."""

    def __init__(self, argv, env):
        self.out = ""
        self.screen = Screen()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)

    def read(self, seconds):
        """Collect output for up to seconds; stop early at EOF."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return
            try:
                data = os.read(self.fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            text = data.decode("utf-8", "replace")
            self.out += text
            self.screen.feed(text)

    def expect(self, pattern, seconds=10, start=0):
        """Wait until pattern matches the output after start."""
        end = time.monotonic() + seconds
        while True:
            m = re.search(pattern, self.out[start:])
            if m:
                return start + m.end()
            left = end - time.monotonic()
            if left <= 0:
                raise Failed("no /%s/ within %ss; screen since: %r"
                             % (pattern, seconds, self.out[start:]))
            self.read(min(left, 0.1))

    def expect_line(self, want, seconds=10):
        """Wait until the cursor's line reads exactly want."""
        end = time.monotonic() + seconds
        while self.screen.line() != want:
            left = end - time.monotonic()
            if left <= 0:
                raise Failed("the line shows %r, not %r"
                             % (self.screen.line(), want))
            self.read(min(left, 0.1))

    def type(self, keys):
        os.write(self.fd, keys.encode())

    def wait(self, seconds):
        """Exit status, or None if still running after seconds."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
        return None

    def kill(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
        os.close(self.fd)


def wait_for_socket(path, proc, seconds=10):
    end = time.monotonic() + seconds
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > end:
            raise Failed("QEMU did not create %s" % path)
        time.sleep(0.05)


def check(work):
    shell_sock = os.path.join(work, "shell.sock")
    side_sock = os.path.join(work, "side.sock")
    state = os.path.join(work, "state")
    qemu = subprocess.Popen(
        ["qemu-system-riscv64", "-machine", "virt", "-bios", "none",
         "-display", "none", "-monitor", "none", "-serial", "none",
         "-qmp", "unix:%s,server=on,wait=off" % shell_sock,
         "-qmp", "unix:%s,server=on,wait=off" % side_sock],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    term = None
    try:
        wait_for_socket(shell_sock, qemu)
        wait_for_socket(side_sock, qemu)
        env = dict(os.environ, TERM="xterm", XDG_STATE_HOME=state,
                   HOME=work)
        env.pop("EDITRC", None)  # libedit's own key bindings only
        term = Term([QHIL, "qmp", "unix:" + shell_sock], env)
        pos = term.expect(r"\(qmp\) ")

        # Command names: the common prefix first, then the one name.
        term.type("query-st\t")
        term.expect_line("(qmp) query-stat")
        term.type("u\t")
        term.expect_line("(qmp) query-status ")
        term.type("\r")
        pos = term.expect(r'\n  "status": "running",', start=pos)
        pos = term.expect(r"\(qmp\) ", start=pos)

        # A command without arguments: Tab adds nothing, the line runs.
        term.type("system_reset \t")
        term.read(0.5)
        term.expect_line("(qmp) system_reset ")
        term.type("\r")
        pos = term.expect(r"\n\{\}\r?\n", start=pos)
        pos = term.expect(r"\(qmp\) ", start=pos)

        # Argument names: com<Tab> -> command-line=
        term.type("human-monitor-command com\t")
        term.expect_line("(qmp) human-monitor-command command-line=")
        term.type('"info status"\r')
        pos = term.expect(r'"VM status: running\\r\\n"', start=pos)
        pos = term.expect(r"\(qmp\) ", start=pos)

        # An event while idle at the prompt, with a half-typed line.
        term.type("query-na")
        term.expect_line("(qmp) query-na")
        side = subprocess.run([QHIL, "qmp", side_sock, "-c", "stop"],
                              stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=20)
        if side.returncode != 0:
            raise Failed("qhil qmp -c stop on the second socket: %r"
                         % side.stderr)
        pos = term.expect(r"event STOP at [0-9]+\.[0-9]{6}: \{\}\r?\n",
                          start=pos)
        term.expect_line("(qmp) query-na")
        term.type("me\r")
        pos = term.expect(r"\n\{\}\r?\n", start=pos)
        pos = term.expect(r"\(qmp\) ", start=pos)

        # Ctrl-C drops the line; the shell goes on.
        term.type("frobnicate")
        term.expect_line("(qmp) frobnicate")
        term.type("\x03")
        pos = term.expect(r"\^C\r?\n", start=pos)
        term.expect_line("(qmp) ")
        dropped = pos
        term.type("cont\r")
        pos = term.expect(r"event RESUME at ", start=pos)
        pos = term.expect(r"\(qmp\) ", start=pos)
        if "frobnicate" in term.out[dropped:] or "error" in term.out[dropped:]:
            raise Failed("the dropped line ran: %r" % term.out[dropped:])

        # Ctrl-D leaves, status 0, history saved.
        term.type("\x04")
        status = term.wait(10)
        if status is None:
            raise Failed("Ctrl-D did not end the shell: %r" % term.out)
        if status != 0:
            raise Failed("the shell exited %d: %r" % (status, term.out))
        hist = os.path.join(state, "qhil", "qmp_history")
        try:
            with open(hist, encoding="utf-8", errors="replace") as f:
                saved = f.read()
        except OSError as e:
            raise Failed("no history file: %s" % e)
        for line in ("query-status", "human-monitor-command", "cont"):
            if line not in saved:
                raise Failed("%s missing from the history: %r"
                             % (line, saved))
        if "frobnicate" in saved:
            raise Failed("a dropped line went to the history")
        if os.stat(hist).st_mode & 0o077:
            raise Failed("the history file is readable by others")
    finally:
        if term:
            term.kill()
        qemu.kill()
        qemu.wait()


def main():
    work = tempfile.mkdtemp(prefix="qhil-pty.")
    try:
        check(work)
    except Failed as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("ok: qmp-pty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
