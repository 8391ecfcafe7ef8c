#!/usr/bin/env python3
"""QMP query-status round trips with QEMU's own Python client, qemu.qmp.

bench_qmp runs this with PYTHONPATH set to the python/ folder of QEMU's
source tree (build-qemu/src/python after scripts/qemu-build.sh), so the
library is exactly the one Debian's QEMU source package ships.  Nothing of
it is kept in this repository.

It connects to a listening QMP socket (QMPClient.connect reads the
greeting and negotiates capabilities), runs N query-status commands, and
prints what those N took, in nanoseconds, as two integers on one line:
the elapsed CLOCK_MONOTONIC time and this process's CPU time
(CLOCK_PROCESS_CPUTIME_ID).  Interpreter start-up, imports and the
connection are not counted.

  seq   await client.execute() N times, one after the other
  pipe  keep up to WINDOW execute() calls in flight: once WINDOW are
        outstanding, await the oldest before issuing the next

Every reply is checked for a "status" field.  Exit status 0 on success,
1 with a message on stderr otherwise.

usage: qmp_python.py --socket PATH -n N --mode seq|pipe [--window W]
                     [--timeout SECONDS]
"""

import argparse
import asyncio
import collections
import sys
import time

try:
    from qemu.qmp import QMPClient
except ImportError as exc:
    print(f"qmp_python: cannot import qemu.qmp ({exc}); "
          "set PYTHONPATH to QEMU's python/ folder", file=sys.stderr)
    sys.exit(1)


def check(reply):
    if not isinstance(reply, dict) or "status" not in reply:
        raise RuntimeError(f"unexpected query-status reply: {reply!r}")


async def sequential(client, n):
    for _ in range(n):
        check(await client.execute("query-status"))


async def pipelined(client, n, window):
    pending = collections.deque()
    for _ in range(n):
        if len(pending) == window:
            check(await pending.popleft())
        pending.append(asyncio.ensure_future(client.execute("query-status")))
    while pending:
        check(await pending.popleft())


async def run(args):
    client = QMPClient("qhil-bench")
    await client.connect(args.socket)
    try:
        start = time.monotonic_ns()
        cpu_start = time.process_time_ns()
        if args.mode == "seq":
            await sequential(client, args.n)
        else:
            await pipelined(client, args.n, args.window)
        return (time.monotonic_ns() - start,
                time.process_time_ns() - cpu_start)
    finally:
        await client.disconnect()


def main():
    parser = argparse.ArgumentParser(
        description="query-status round trips with qemu.qmp")
    parser.add_argument("--socket", required=True,
                        help="path of a listening QMP Unix socket")
    parser.add_argument("-n", type=int, required=True,
                        help="commands to run")
    parser.add_argument("--mode", choices=("seq", "pipe"), required=True)
    parser.add_argument("--window", type=int, default=64,
                        help="commands in flight at most in pipe mode")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds for the whole run")
    args = parser.parse_args()
    if args.n < 1 or args.window < 1:
        parser.error("-n and --window must be at least 1")
    try:
        elapsed, cpu = asyncio.run(
            asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        print(f"qmp_python: {args.n} commands took longer than "
              f"{args.timeout:g} s", file=sys.stderr)
        return 1
    except Exception as exc:  # report any failure as one line
        print(f"qmp_python: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(elapsed, cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
