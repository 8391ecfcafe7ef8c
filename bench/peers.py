#!/usr/bin/env python3
"""qhil's runner next to its peers: one invocation, the same suites.

The test (W20 has 20 of them, the big suite 200, all alike): boot the
mps2-an385 example firmware, expect its banner, QMP system_reset, expect
the banner and the prompt, send "echo bench", expect the echo, quit.
Ways, each run through build/bench/bench_meter (bench_meter.c says how
it measures):

  qhil-j1, qhil-j2   `qhil run -j 1|2` on a generated suite YAML
  raw-1, raw-2       build/bench/bench_raw, the floor, 1 or 2 at once
  machine-1, -2      bench/machine_python.py, QEMU's qemu.machine; -2 is
                     two processes with half the tests each
  labgrid-1          pytest + labgrid's QEMUDriver, bench/labgrid_test.py
  lava-1, lava-2     `lava-run` once per job of `qhil lava export
                     --per-test`; -2 runs two lava-run at once

Every way starts QEMU through a copy of bench_meter named
qemu-system-arm, first in PATH (labgrid and qemu.machine get its path),
which logs each QEMU's CPU; harness CPU is the CPU of the whole tree
(RUSAGE_CHILDREN) minus that of the QEMUs that ran a test and minus the
wrappers' own.  Harness memory: the largest sum of VmHWM over the
harness processes alive at one sample, divided by the tests running at
once.  Then the checks against the targets, PASS or MISS.

usage: bench/peers.py [--build DIR] [-n N] [--big N] [--flat N] [--quick]
                      [--only WAYS] [--skip WAYS] [--lava-big] [--keep]
Run from the repository root after scripts/build.sh build.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PEERS = ("qhil", "raw", "machine", "labgrid", "lava", "flat")

STEPS = """    steps:
      - expect: "Hello, QEMU!"
      - qmp: system_reset
      - expect: "Hello, QEMU!"
      - expect: "> "
      - sendline: echo bench
      - expect: "\\r\\nbench\\r\\n"
"""


class Skip(Exception):
    """A peer that is not installed: reported, not fatal."""


def write_suite(path, name, n):
    with open(path, "w") as f:
        f.write("# %d copies of the example test, for bench/peers.py\n" % n)
        f.write("device_type: mps2-an385\nimages:\n  kernel: hello.elf\n")
        f.write("timeout: 10s\ntests:\n")
        for i in range(n):
            f.write("  - name: %s-%04d\n" % (name, i + 1))
            f.write(STEPS)


class Bench:
    def __init__(self, a):
        self.a = a
        self.root = os.getcwd()
        self.build = os.path.abspath(a.build)
        self.qhil = os.path.join(self.build, "src", "qhil")
        self.meter = os.path.join(self.build, "bench", "bench_meter")
        self.raw = os.path.join(self.build, "bench", "bench_raw")
        self.py = shutil.which("python3", path="/usr/bin:/bin") or "python3"
        self.tmp = tempfile.mkdtemp(prefix="qhil-bench-peers.")
        self.bin = os.path.join(self.tmp, "bin")
        self.real = shutil.which("qemu-system-arm")
        if not self.real:
            sys.exit("peers: qemu-system-arm not found in PATH")
        self.real = os.path.realpath(self.real)
        os.mkdir(self.bin)
        self.wrap = os.path.join(self.bin, "qemu-system-arm")
        shutil.copy(self.meter, self.wrap)
        with open(self.wrap + ".real", "w") as f:
            f.write(self.real + "\n")
        self.env = dict(os.environ)
        self.env["PATH"] = self.bin + ":" + self.env.get("PATH", "")
        fw = os.path.join(self.root, a.firmware)
        shutil.copy(fw, os.path.join(self.tmp, "hello.elf"))
        self.rows = {}
        self.notes = []
        self.qemu_argv = None

    # ---- running one way under the meter ----------------------------

    def metered(self, way, cmds, par, stamp=False):
        """Run cmds (argv lists), par at once; return the figures."""
        cmdfile = os.path.join(self.tmp, "cmds-" + way)
        out = os.path.join(self.tmp, "meter-" + way)
        log = self.wrap + ".log"
        if os.path.exists(log):
            os.unlink(log)
        with open(cmdfile, "w") as f:
            for c in cmds:
                f.write("\t".join(c) + "\n")
        stdout = os.path.join(self.tmp, "stdout-" + way)
        argv = [self.meter, "run", "-o", out, "-P", str(par),
                "-i", str(self.a.interval), "-x", self.wrap, "-x", self.real,
                cmdfile]
        stamps = []
        with open(stdout, "w") as so:
            p = subprocess.Popen(argv, cwd=self.tmp, env=self.env,
                                 stdout=subprocess.PIPE, text=True)
            t0 = time.monotonic()
            for line in p.stdout:
                if stamp and line.startswith("PASS "):
                    stamps.append(time.monotonic() - t0)
                so.write(line)
            rc = p.wait()
        m = {"procs": [], "roots": []}
        if os.path.exists(out):
            for line in open(out):
                w = line.split()
                if w[0] == "proc":
                    m["procs"].append((int(w[1]), w[2], int(w[3])))
                elif w[0] == "root":
                    m["roots"].append(int(w[2]))
                elif w[0] != "status":
                    m[w[0]] = int(w[1])
        if rc != 0 or "wall_ns" not in m:
            tail = open(stdout).read()[-2000:]
            raise RuntimeError("%s failed (status %d); its output ends:\n%s"
                               % (way, rc, tail))
        qemu_cpu = wrap_cpu = 0
        tests = 0
        if os.path.exists(log):
            for line in open(log):
                w = line.split()
                wrap_cpu += int(w[6])
                if w[2] == "1":
                    tests += 1
                    qemu_cpu += int(w[3]) + int(w[4])
        m["qemu_tests"] = tests
        m["harness_cpu_ns"] = (m["user_ns"] + m["sys_ns"] - qemu_cpu -
                               wrap_cpu)
        m["qemu_cpu_ns"] = qemu_cpu
        m["stamps"] = stamps
        m["stdout"] = stdout
        return m

    def record(self, way, n, par, m):
        self.rows[(way, n)] = {
            "n": n, "par": par, "wall": m["wall_ns"] / 1e9,
            "cpu": m["harness_cpu_ns"] / 1e9, "qemu": m["qemu_tests"],
            "mem": m["peak_sum_kb"] / 1024.0 / par,
            "pss": m.get("peak_pss_kb", 0) / 1024.0 / par,
            "big": max([k for _, _, k in m["procs"]] or [0]) / 1024.0,
            "m": m,
        }

    # ---- the ways ----------------------------------------------------

    def suite(self, n):
        path = os.path.join(self.tmp, "w%d.yaml" % n)
        if not os.path.exists(path):
            write_suite(path, "w%d" % n, n)
        return path

    def warm(self):
        """One qhil test: warms the caches, records QEMU's argv."""
        s = os.path.join(self.tmp, "w1.yaml")
        write_suite(s, "w1", 1)
        j = os.path.join(self.tmp, "w1.json")
        r = subprocess.run([self.qhil, "run", "-q", "-o",
                            os.path.join(self.tmp, "out"), "--json", j, s],
                           cwd=self.tmp, env=self.env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("qhil's first run (warm-up) failed, status "
                               "%d:\n%s" % (r.returncode, r.stdout[-2000:]))
        for e in json.load(open(j))["tests"][0]["events"]:
            if e["kind"] == "machine_start":
                self.qemu_argv = e["argv"]
        if not self.qemu_argv or self.qemu_argv[0] != self.wrap:
            sys.exit("peers: qhil did not start QEMU through the meter's "
                     "wrapper (%s)" % (self.qemu_argv and self.qemu_argv[0]))

    def way_qhil(self, n, j):
        cmd = [self.qhil, "run", "-j", str(j), "-o",
               os.path.join(self.tmp, "out"), self.suite(n)]
        self.record("qhil-j%d" % j, n, j, self.metered("qhil-j%d" % j,
                                                        [cmd], 1))

    def way_raw(self, n, par):
        cmd = [self.raw, "-n", str(n), "-P", str(par), "--"] + self.qemu_argv
        self.record("raw-%d" % par, n, par,
                    self.metered("raw-%d" % par, [cmd], 1))

    def way_machine(self, n, par):
        qpy = os.path.join(self.root, self.a.qemu_python)
        if not os.path.isdir(os.path.join(qpy, "qemu", "machine")):
            raise Skip("qemu.machine not found in %s (scripts/qemu-build.sh "
                       "unpacks it)" % qpy)
        self.env["PYTHONPATH"] = qpy
        mt = os.path.join(self.tmp, "machine")
        os.makedirs(mt, exist_ok=True)
        cmds = []
        for i in range(par):
            share = n // par + (1 if i < n % par else 0)
            if share:
                cmds.append([self.py, os.path.join(self.root, "bench",
                                                   "machine_python.py"),
                             "-n", str(share), "--tmp", mt, "--"] +
                            self.qemu_argv)
        try:
            m = self.metered("machine-%d" % par, cmds, par)
        finally:
            del self.env["PYTHONPATH"]
        self.record("machine-%d" % par, n, par, m)

    def way_labgrid(self, n):
        if subprocess.run([self.py, "-c", "import labgrid, pytest"],
                          stderr=subprocess.DEVNULL).returncode != 0:
            raise Skip("labgrid or pytest not installed (Debian's "
                       "python3-labgrid, python3-pytest)")
        argv = self.qemu_argv
        k = argv.index("-kernel")
        extra = [x for i, x in enumerate(argv[1:], 1)
                 if x != "-nographic" and i not in (k, k + 1)]
        opts = {}
        for key, flag in (("machine", "-machine"), ("cpu", "-cpu"),
                          ("memory", "-m")):
            i = extra.index(flag)
            opts[key] = extra[i + 1]
            del extra[i:i + 2]
        env = os.path.join(self.tmp, "labgrid-env.yaml")
        with open(env, "w") as f:
            f.write("targets:\n  main:\n    drivers:\n      QEMUDriver:\n")
            f.write("        qemu_bin: qemu\n")
            for key in ("machine", "cpu", "memory"):
                f.write("        %s: %s\n" % (key, opts[key]))
            f.write("        extra_args: %s\n" % json.dumps(" ".join(extra)))
            f.write("        kernel: kernel\n")
            f.write("tools:\n  qemu: %s\n" % self.wrap)
            f.write("images:\n  kernel: %s\n" % argv[k + 1])
        self.env["BENCH_N"] = str(n)
        try:
            m = self.metered("labgrid-1", [[
                self.py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--lg-env", env,
                os.path.join(self.root, "bench", "labgrid_test.py")]], 1)
        finally:
            del self.env["BENCH_N"]
        self.record("labgrid-1", n, 1, m)

    def way_lava(self, n, par):
        lava = shutil.which("lava-run")
        if not lava:
            raise Skip("lava-run not installed (Debian's lava-dispatcher)")
        jobs = os.path.join(self.tmp, "lava-w%d" % n)
        if not os.path.isdir(jobs):
            subprocess.run([self.qhil, "lava", "export", "--per-test",
                            "--device-config", "-o", jobs, self.suite(n)],
                           cwd=self.tmp, env=self.env, check=True,
                           stdout=subprocess.DEVNULL)
        device = os.path.join(jobs, "w%d.device.yaml" % n)
        names = sorted(x for x in os.listdir(jobs)
                       if x.endswith(".yaml") and not
                       x.endswith(".device.yaml"))
        cmds = []
        logs = []
        for i, name in enumerate(names):
            od = os.path.join(self.tmp, "lava-out-%d-%d-%d" % (n, par, i))
            logs.append(od + ".log")
            cmds.append([">" + od + ".log", lava, "--job-id", "bench-%d" % i,
                         "--output-dir", od, "--device", device,
                         os.path.join(jobs, name)])
        m = self.metered("lava-%d" % par, cmds, par)
        for log in logs:
            if '"case": "0_' not in open(log).read() or \
                    '"result": "fail"' in open(log).read():
                raise RuntimeError("lava-run: a job did not pass: " + log)
        self.record("lava-%d" % par, n, par, m)

    def flat(self, n):
        j = os.path.join(self.tmp, "flat.json")
        cmd = [self.qhil, "run", "-j", "2", "-o",
               os.path.join(self.tmp, "out"), "--json", j, self.suite(n)]
        m = self.metered("flat", [cmd], 1, stamp=True)
        st = m["stamps"]
        k = min(100, len(st) // 2)
        tests = json.load(open(j))["tests"]
        d = [t["duration_ns"] for t in tests]
        self.flat_result = {
            "n": len(st), "k": k,
            "first": (st[k - 1] - 0.0) / k if k else 0,
            "last": (st[-1] - st[-k - 1]) / k if k else 0,
            "dfirst": sum(d[:k]) / k / 1e9 if k else 0,
            "dlast": sum(d[-k:]) / k / 1e9 if k else 0,
            "mem": m["peak_sum_kb"] / 1024.0 / 2,
            "pss": m.get("peak_pss_kb", 0) / 1024.0 / 2,
            "big": max([k for _, _, k in m["procs"]] or [0]) / 1024.0,
            "wall": m["wall_ns"] / 1e9,
        }

    # ---- output -------------------------------------------------------

    def table(self, n):
        rows = [(w, r) for (w, nn), r in self.rows.items() if nn == n]
        if not rows:
            return
        ref = self.rows.get(("qhil-j2", n))
        print("\n%d-test suite (%s):" % (n, "W20" if n == self.a.n
                                         else "big"))
        print("  %-10s %3s %8s %8s %9s %8s %8s %8s %6s %8s %8s" % (
            "way", "at", "wall s", "ms/test", "cpu ms/t", "HWM MB/t",
            "PSS MB/t", "big MB", "qemus", "wall x", "cpu x"))
        for w, r in rows:
            wx = "%.2f" % (r["wall"] / ref["wall"]) if ref else "-"
            cx = ("%.2f" % (r["cpu"] / ref["cpu"]) if ref and ref["cpu"] > 0
                  else "-")
            print("  %-10s %3d %8.2f %8.1f %9.2f %8.2f %8.2f %8.2f %6d %8s "
                  "%8s" % (w, r["par"], r["wall"], r["wall"] * 1e3 / r["n"],
                           r["cpu"] * 1e3 / r["n"], r["mem"], r["pss"],
                           r["big"], r["qemu"], wx, cx))
        if ("qhil-j2", n) in self.rows:
            m = self.rows[("qhil-j2", n)]["m"]
            root = m["roots"][0] if m["roots"] else 0
            par = [k for p, _, k in m["procs"] if p == root]
            work = [k for p, name, k in m["procs"]
                    if p != root and name == "qhil"]
            if par and work:
                print("  qhil-j2 processes: parent %.2f MB, largest other "
                      "qhil process (worker or QEMU guard) %.2f MB, %d of "
                      "them" % (par[0] / 1024.0, max(work) / 1024.0,
                                len(work)))

    def checks(self):
        print("\nchecks:")
        n = self.a.n
        res = []

        def check(ok, text):
            res.append(ok)
            print("  %s %s" % ("PASS" if ok else "MISS", text))

        for size in (n, self.a.big):
            j1 = self.rows.get(("qhil-j1", size))
            j2 = self.rows.get(("qhil-j2", size))
            if j1 and j2:
                s = j1["wall"] / j2["wall"]
                check(s >= 1.8, "qhil -j 2 is %.2fx faster than -j 1 on %d "
                      "tests (target >= 1.8x, %d cores)"
                      % (s, size, os.cpu_count()))
        j2 = self.rows.get(("qhil-j2", n))
        if j2:
            best = {}
            for (w, nn), r in self.rows.items():
                peer = w.split("-")[0]
                if nn == n and peer != "qhil":
                    if peer not in best or r["wall"] < best[peer][1]["wall"]:
                        best[peer] = (w, r)
            for peer, (w, r) in sorted(best.items()):
                check(j2["wall"] < r["wall"],
                      "qhil -j 2 W%d %.2f s vs %s's best (%s) %.2f s: %.2fx"
                      % (n, j2["wall"], peer, w, r["wall"],
                         r["wall"] / j2["wall"]))
        mem = [(w, nn, r["mem"], r["pss"]) for (w, nn), r in
               self.rows.items() if w.startswith("qhil")]
        if mem:
            w, nn, top, pss = max(mem, key=lambda x: x[2])
            check(top < 5.0, "qhil harness memory %.2f MB per running test "
                  "at most, VmHWM summed (%s, %d tests; target < 5 MB)"
                  % (top, w, nn))
            w, nn, pss, top = max([(x[0], x[1], x[3], x[2]) for x in mem],
                                  key=lambda x: x[2])
            check(pss < 5.0, "qhil harness memory %.2f MB per running test "
                  "at most, Pss summed (%s, %d tests; target < 5 MB)"
                  % (pss, w, nn))
        f = getattr(self, "flat_result", None)
        if f and f["k"]:
            ratio = f["last"] / f["first"] if f["first"] else 0
            check(ratio <= 1.1, "flat cost: %d tests with -j 2, mean time "
                  "per finished test %.1f ms over the first %d, %.1f ms over "
                  "the last %d: ratio %.2f (target <= 1.1); test durations "
                  "%.1f ms vs %.1f ms"
                  % (f["n"], f["first"] * 1e3, f["k"], f["last"] * 1e3,
                     f["k"], ratio, f["dfirst"] * 1e3, f["dlast"] * 1e3))
            check(f["pss"] < 5.0, "flat run memory: %.2f MB per running "
                  "test, Pss summed (VmHWM summed %.2f MB, largest process "
                  "%.2f MB; with --json; target < 5 MB)"
                  % (f["pss"], f["mem"], f["big"]))
        return res


def main():
    ap = argparse.ArgumentParser(
        description="qhil's runner next to its peers (bench/README.md)")
    ap.add_argument("--build", default="build")
    ap.add_argument("--firmware",
                    default="firmware/build/mps2-an385/hello.elf")
    ap.add_argument("--qemu-python", default="build-qemu/src/python")
    ap.add_argument("-n", type=int, default=20, help="W20's size")
    ap.add_argument("--big", type=int, default=200)
    ap.add_argument("--flat", type=int, default=1000)
    ap.add_argument("--interval", type=int, default=5,
                    help="memory sampling interval, ms")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 tests, big 4, flat 8, no LAVA")
    ap.add_argument("--only", default=",".join(PEERS))
    ap.add_argument("--skip", default="")
    ap.add_argument("--lava-big", action="store_true",
                    help="also the big suite under LAVA (minutes)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary folder")
    a = ap.parse_args()
    only = set(x for x in a.only.split(",") if x)
    only -= set(a.skip.split(","))
    bad = only - set(PEERS)
    if bad or a.n < 1 or a.big < 1 or a.flat < 1:
        ap.error("unknown way %s (known: %s)" % (",".join(sorted(bad)),
                                                 ",".join(PEERS)))
    if a.quick:
        a.n, a.big, a.flat = 2, 4, 8
        only.discard("lava")
    b = Bench(a)
    runs = []
    for size in (a.n, a.big):
        runs += [("qhil", b.way_qhil, (size, 1)), ("qhil", b.way_qhil,
                                                    (size, 2)),
                 ("raw", b.way_raw, (size, 1)), ("raw", b.way_raw, (size, 2)),
                 ("machine", b.way_machine, (size, 1)),
                 ("machine", b.way_machine, (size, 2)),
                 ("labgrid", b.way_labgrid, (size,))]
        if size == a.n or a.lava_big:
            runs += [("lava", b.way_lava, (size, 1)),
                     ("lava", b.way_lava, (size, 2))]
    runs.append(("flat", b.flat, (a.flat,)))
    failed = 0
    skipped = set()
    try:
        try:
            b.warm()
        except RuntimeError as exc:
            print("peers: %s" % exc)
            failed = 1
            return failed
        print("peers: QEMU %s, %d cores, load %s, folder %s" % (
            b.real, os.cpu_count(), open("/proc/loadavg").read().split()[0],
            b.tmp))
        for peer, fn, args in runs:
            if peer not in only or peer in skipped:
                continue
            try:
                fn(*args)
            except Skip as exc:
                print("  %s: skipped: %s" % (peer, exc))
                skipped.add(peer)
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                print("  %s %s: FAILED: %s" % (peer, args, exc))
                failed = 1
        if "lava" in only and "lava" not in skipped and not a.lava_big:
            print("  lava: the big suite not run (about 2 s a test: "
                  "--lava-big runs it)")
        b.table(a.n)
        b.table(a.big)
        b.checks()
        print("load after: %s" % open("/proc/loadavg").read().split()[0])
    finally:
        if a.keep or failed:
            print("peers: files kept in %s" % b.tmp)
        else:
            shutil.rmtree(b.tmp, ignore_errors=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
