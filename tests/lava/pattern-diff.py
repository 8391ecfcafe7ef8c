#!/usr/bin/python3
# The LAVA pattern translation against the real engines.  For each case
# (qhil pattern, bytes the guest sends, where the search starts) qhil's
# answer comes from PCRE2 (pattern-tool match: MULTILINE, PARTIAL_HARD,
# the way lib/console.c matches while the stream is open) and LAVA's from
# Python's re on the same bytes with every LF as CR LF (the pty's ONLCR),
# searched with re.DOTALL as pexpect does, from where the search starts
# (pexpect's buffer begins after the previous match):
#   - on the whole buffer: the same answer, and the same text (CR LF for
#     LF) when both match;
#   - on every prefix of it (a read may end anywhere): no match where qhil
#     has none, and a match only where qhil's starts;
#   - through pexpect itself on a real pty, for the cases that start at 0.
# Cases marked old=True must come out wrong with the old wrapper
# "(?m)(?-s:P)", so the test shows it catches that bug.
#
# usage: pattern-diff.py PATTERN-TOOL   (exit 77 without /usr/bin/python3)
import os
import re
import subprocess
import sys
import tempfile

LAVA_PYTHON = "/usr/bin/python3"

if os.path.realpath(sys.executable) != os.path.realpath(LAVA_PYTHON):
    if not os.path.exists(LAVA_PYTHON):
        print("skip: no", LAVA_PYTHON)
        sys.exit(77)
    os.execv(LAVA_PYTHON, [LAVA_PYTHON] + sys.argv)

UBOOT = (b"\r\nU-Boot 2023.01 (Jan 01 2023 - 00:00:00 +0000)\r\n\r\n"
         b"DRAM:  128 MiB\r\nIn:    serial\r\nHit any key to stop autoboot:"
         b"  0 \r\n=> ")
BARE = b"boot\nlogin: root\nabort\n# "

# How LAVA's answer must compare with qhil's:
ANY = "same"  # the same answer (the old wrapper may be right or wrong)
OLD = "old"  # the same answer, and the old wrapper gets it wrong
LIMIT = "limit"  # qhil matches; LAVA does not, by design (see
#                  docs/lava-patterns.md): a ^, \b, \B or lookbehind at
#                  the start of the stream or of pexpect's buffer, a
#                  negative lookahead or a CR at the very end of the output

# (pattern, stream bytes, offset the search starts at, how)
CASES = [
    # U-Boot output: the guest's CR LF arrives as CR CR LF.
    (r"\nU-Boot [^\r\n]*\r\n", UBOOT, 0, OLD),
    (r"U-Boot \d+\.\d+", UBOOT, 0, ANY),
    (r"DRAM:\s+(\d+) MiB", UBOOT, 0, ANY),
    (r"^=> ", UBOOT, 0, ANY),
    (r"=> $", UBOOT, 0, ANY),
    (r"^In:\s+serial\r?$", UBOOT, 0, OLD),
    (r"autoboot:\s+\d\s*$", UBOOT, 0, OLD),
    (r"MiB\r\nIn", UBOOT, 0, OLD),
    (r"MiB\r\n", UBOOT, 0, OLD),
    (r"MiB\r", b"MiB\nIn", 0, OLD),
    (r"MiB\r", b"MiB\r\nIn", 0, ANY),
    (r"MiB.", b"MiB\nIn", 0, OLD),
    (r"MiB.", b"MiB\r\nIn", 0, ANY),
    (r"(?s)MiB.In", b"MiB\nIn", 0, OLD),
    (r"(?s)MiB..In", b"MiB\r\nIn", 0, OLD),
    (r"(?s)MiB..In", b"MiB\nIn", 0, ANY),
    # fail patterns that must fire (or not) on bare LF output
    (r"^abort\r?$", BARE, 0, OLD),
    (r"^abort$", BARE, 0, ANY),
    (r"^abort\r$", BARE, 0, ANY),
    (r"^login: root$", BARE, 0, ANY),
    (r"^root", BARE, 0, ANY),
    (r"^# $", BARE, 0, ANY),
    (r"# $", BARE, 0, ANY),
    (r"abort\n#", BARE, 0, OLD),
    (r"abort\n+#", BARE, 0, OLD),
    (r"abort\n{2}", b"abort\n\nx", 0, OLD),
    (r"abort\n{2}", b"abort\nx\n", 0, ANY),
    (r"boot\n\n", BARE, 0, ANY),
    (r"[^\r\n]+\n", BARE, 0, ANY),
    (r"login:[^\n]*\n", BARE, 0, ANY),
    (r"login:[^\r]*\n", BARE, 0, ANY),
    (r"login:[\s\S]*?abort", BARE, 0, ANY),
    (r"root[\s]+abort", BARE, 0, ANY),
    (r"root\s+abort", BARE, 0, ANY),
    (r"root\Sabort", BARE, 0, ANY),
    (r"t\Wl", BARE, 0, OLD),
    (r"t\Dl", BARE, 0, OLD),
    (r"t[^x]l", BARE, 0, OLD),
    (r"t[\x0a]l", BARE, 0, OLD),
    (r"t\012l", BARE, 0, OLD),
    (r"t\x{a}l", BARE, 0, OLD),
    (r"t\x0Al", BARE, 0, OLD),
    (r"t" + "\n" + "l", BARE, 0, OLD),
    (r"\Qabort" + "\n" + r"#\E", BARE, 0, OLD),
    (r"\Q# \E", BARE, 0, ANY),
    # the search starts after a previous match: ^ and \b there
    (r"^root", b"login: root\n", 7, OLD),
    (r"^login", b"login: root\n", 0, LIMIT),
    (r"\broot", b"xroot root\n", 1, OLD),
    (r"\Broot", b"xroot\n", 1, LIMIT),
    (r"\Bxroot", b" xroot\n", 1, ANY),
    (r"(?<!x)root", b"xroot\n", 1, OLD),
    (r"(?<!x)root", b"xroot root\n", 1, OLD),
    (r"(?<=x)root", b"xroot\n", 1, LIMIT),
    (r"(?<=\n)root", b"a\nroot", 0, ANY),
    (r"(?<=a\n)root", b"a\nroot", 0, OLD),
    (r"(?<=b|a\n)root", b"a\nroot", 0, OLD),
    (r"(?<!\n)root", b"a\nroot xroot", 0, ANY),
    (r"(?<!\r)\n", b"a\r\nb\nc", 0, OLD),
    (r"(?<=\r)\n", b"a\nb\r\nc", 0, OLD),
    # $ and lookaheads; a read may end before the LF
    (r"done$", b"done\n", 0, ANY),
    (r"done$", b"done.\n", 0, ANY),
    (r"done(?!\n)", b"done\ndone.", 0, LIMIT),
    (r"done(?!\n)", b"done\ndone..", 0, OLD),
    (r"done(?!\r\n)", b"done\nxy", 0, OLD),
    (r"done(?=\n)", b"done\n", 0, OLD),
    (r"done(?=\r\n)", b"done\n", 0, ANY),
    (r"done(?!ing)", b"doneing done!", 0, LIMIT),
    (r"done(?!ing)", b"doneing done!!!", 0, ANY),
    (r"\d+ passed\b", b"12 passed\n", 0, ANY),
    # a CR is the guest's only once the next character is not LF
    (r"a\r", b"a\r", 0, LIMIT),
    (r"a\r", b"a\rb", 0, ANY),
    (r"a\s", b"a\r", 0, LIMIT),
    # options: PCRE2's (?i) runs to the end of its group, across |
    (r"(?i)u-boot", UBOOT, 0, ANY),
    (r"abc(?i)x|Y", b"abcX", 0, ANY),
    (r"abc(?i)x|Y", b"y", 0, ANY),
    (r"(abc(?i)x|Y)", b"y", 0, ANY),
    (r"(a(?i)b|c)d", b"aBd Cd", 0, ANY),
    (r"(a(?i)b|c)d", b"CD", 0, ANY),
    (r"((?i)a)A", b"Aa AA", 0, ANY),
    (r"(?i:x)X", b"xx xX", 0, ANY),
    (r"x(?i)(?-i)X", b"xx xX", 0, ANY),
    (r"(?s).abort", b"\nabort", 0, OLD),
    (r"(?s:.)abort(?-s).", b"\nabort\n", 0, OLD),
    (r"(?i)[a-c]+z", b"xBCz", 0, ANY),
    (r"(?i)[^a]", b"A", 0, ANY),
    (r"(?i)(ab)\1", b"abAB", 0, ANY),
    # named groups and back references
    (r"(?<num>\d+)-(?P=num)", b"12-13 7-7", 0, ANY),
    (r"(?'num'\d+)-\k<num>", b"12-13 7-7", 0, ANY),
    (r"(?<num>\d+)-\k{num}", b"12-13 7-7", 0, ANY),
    (r"(?<num>\d+)-\g{num}", b"12-13 7-7", 0, ANY),
    (r"(\d+)-\g{-1}", b"12-13 7-7", 0, ANY),
    (r"(\d+)-\g1", b"12-13 7-7", 0, ANY),
    (r"(\w+)\n\1", b"ab\nab", 0, OLD),
    # quantifiers, atomic groups, possessive
    (r"x{2,3}", b"xxxx", 0, ANY),
    (r"x{,3}y", b"x{,3}y", 0, ANY),
    (r"a{x}", b"a{x}", 0, ANY),
    (r"(?>a+)b", b"aaab", 0, ANY),
    (r"a++b", b"aaab", 0, ANY),
    (r".++", b"bb\r\r\n", 0, ANY),
    (r"\r++\n", b"\r\r\n", 0, ANY),
    (r"^", b"ab\n", 0, LIMIT),
    (r"^c", b"ab\ncd", 0, ANY),
    (r"(?#comment)a+?", b"aaa", 0, ANY),
    (r"[]x]+", b"a]x]!", 0, ANY),
    (r"[a-]+", b"x-a-!", 0, ANY),
    (r"\x41\cA\0101", b"A\x01\x081", 0, ANY),
    (r"\e\[0m", b"x\x1b[0m", 0, ANY),
    (r"caf\u00e9".encode().decode("unicode_escape"), "caf\u00e9".encode(),
     0, ANY),
    (r"caf\b", "caf\u00e9!".encode(), 0, ANY),
    (r"\w+\b", "caf\u00e9!".encode(), 0, ANY),
]

# Patterns that must be refused (the reason is checked by the unit test).
REFUSED = [
    r"\Aboot", r"boot\z", r"boot\Z", r"\Gboot", r"\h+", r"\v", r"\R",
    r"a\Kb", r"\101", r"\p{L}", r"[[:alpha:]]", r"[\h]", r"(*UTF)x", r"(*CRLF)x",
    r"(?|(a)|(b))", r"(a)(?1)", r"(?R)", r"(?x) a b", r"(?U)a+",
    r"\g<1>", r"(a\1)", r"\2(a)(b)", r"\10", r"(?<=a|bc\n?)x",
    r"(?<=\s)x", r"(?<=(?s).)x", r"x(?!.*y)", r"\xff", r"[\x80-\xff]",
    "\xe9+", "[\xe9]", r"(?-m)^x", r"(?n)(a)", r"^*",
]


def onlcr(b):
    return b.replace(b"\n", b"\r\n")


def to_lava(stream, off):
    """The offset in the CR LF stream of qhil's offset off."""
    return off + stream[:off].count(b"\n")


def tool(*args, may_fail=False):
    r = subprocess.run([TOOL] + list(args), capture_output=True, timeout=30)
    if may_fail and r.returncode == 2:
        return 2, None
    if r.returncode not in (0, 3):
        raise SystemExit("pattern-tool %r: %s" % (args, r.stderr.decode()))
    return r.returncode, r.stdout.decode("utf-8").rstrip("\n")


def qhil_answer(pattern, stream, start, may_fail=False):
    with tempfile.NamedTemporaryFile() as f:
        f.write(stream)
        f.flush()
        rc, out = tool("match", pattern, f.name, str(start),
                       may_fail=may_fail)
    if rc == 2:
        return None
    words = out.split()
    if words[0] == "match":
        return ("match", int(words[1]), int(words[2]))
    if words[0] == "partial":
        return ("partial", int(words[1]), None)
    return ("none", None, None)


def lava_disagrees(python_pattern, stream, start, qhil):
    """Why LAVA's search disagrees with qhil's answer, or None."""
    try:
        rx = re.compile(python_pattern, re.DOTALL)
    except re.error as e:
        return "Python re refuses it: %s" % e
    lava = onlcr(stream)
    base = to_lava(stream, start)
    buf = lava[base:].decode("utf-8")
    kind, s, e = qhil
    want_start = None
    if kind != "none":
        want_start = len(lava[base:to_lava(stream, s)].decode("utf-8"))
    m = rx.search(buf)
    if kind == "match":
        want = onlcr(stream[s:e]).decode("utf-8")
        if not m:
            return "qhil matches %r, LAVA does not" % want
        if m.start() != want_start or m.group(0) != want:
            return "qhil matches %r at %d, LAVA %r at %d" % (
                want, want_start, m.group(0), m.start())
    elif m and (kind == "none" or m.start() != want_start):
        return "qhil does not match (%s), LAVA matches %r at %d" % (
            kind, m.group(0), m.start())
    # Every place a read may end.
    for k in range(len(buf) + 1):
        m = rx.search(buf[:k])
        if m:
            if kind == "none" or m.start() != want_start:
                return ("after a read ending at %d LAVA matches %r at %d, "
                        "qhil %s" % (k, m.group(0), m.start(), kind))
            break
    return None


def limit_disagrees(python_pattern, stream, start, qhil):
    """A limit case: qhil matches, LAVA must not match at all."""
    if qhil[0] != "match":
        return "qhil does not match: not a limit case"
    if lava_disagrees(python_pattern, stream, start, ("none", None, None)):
        return "LAVA matches where by design it does not"
    return None


def pexpect_disagrees(python_pattern, stream, qhil):
    """The same search by pexpect on a pty (ONLCR on), fed by cat."""
    import pexpect

    with tempfile.NamedTemporaryFile() as f:
        f.write(stream)
        f.flush()
        child = pexpect.spawn("/bin/cat", [f.name], encoding="utf-8",
                              timeout=10)
        i = child.expect([python_pattern, pexpect.EOF])
        got = child.after if i == 0 else None
        child.close()
    kind, s, e = qhil
    if kind == "match":
        want = onlcr(stream[s:e]).decode("utf-8")
        if got != want:
            return "pexpect got %r, qhil %r" % (got, want)
    elif kind == "none" and got is not None:
        return "pexpect matched %r, qhil does not" % got
    return None


# Random patterns from these pieces on random streams of these bytes:
# every one that PCRE2 compiles and the translator takes must agree.
PIECES = ["a", "b", "A", " ", "\\n", "\n", "\\r", ".", "[^\\r\\n]",
          "[^a]", "[\\s]", "\\s", "\\S", "\\w", "\\W", "^", "$",
          "\\b", "\\B", "(?i)", "(?s)", "(?-i)", "(", "(?:", "(?=",
          "(?!", "(?<=", "(?<!", ")", ")", "|", "*", "+", "?", "{2}", "*?",
          "++", "\\1", "(?>", "{0,2}", "\\d", "[a\\n]", "(?i:",
          "\\r\\n", "(?<n>", "(?P=n)", "[^\\n]", "\\N", "?+", "{1,}?"]
ALPHABET = [b"a", b"b", b"A", b" ", b"\n", b"\r", b"\r\n"]
RANDOM_CASES = 1000


def random_cases():
    import random

    rnd = random.Random(9)
    for _ in range(RANDOM_CASES):
        pattern = "".join(rnd.choice(PIECES)
                          for _ in range(rnd.randint(1, 9)))
        stream = b"".join(rnd.choice(ALPHABET)
                          for _ in range(rnd.randint(0, 14)))
        # Never stop right after: the LIMIT cases show that end.
        stream += b"~" * 16
        start = rnd.randint(0, len(stream)) if rnd.random() < 0.3 else 0
        yield pattern, stream, start


def check_random():
    failures = tried = limits = 0
    for pattern, stream, start in random_cases():
        qhil = qhil_answer(pattern, stream, start, may_fail=True)
        if qhil is None:
            continue  # PCRE2 refuses the pattern
        rc, out = tool("translate", pattern)
        if rc:
            continue
        tried += 1
        why = lava_disagrees(out, stream, start, qhil)
        looks_back = any(a in pattern for a in ("^", "\\b", "\\B", "(?<"))
        if why and looks_back and qhil[0] != "none" and qhil[1] == start:
            # qhil's ^, \b, \B or lookbehind at the buffer start may
            # hold where LAVA's cannot: any of LAVA's answers is allowed
            # but a match where qhil has none.
            limits += 1
            why = None
        if why and qhil[0] == "match" and qhil[1] - start < 16:
            # The limit at the buffer start (assertions that look back
            # fail there): LAVA must then find what qhil finds from a
            # later byte on.
            for later in range(qhil[1] + 1, min(qhil[1] + 17, len(stream))):
                if not lava_disagrees(out, stream, start,
                                      qhil_answer(pattern, stream, later)):
                    limits += 1
                    why = None
                    break
        if why:
            print("FAIL random %r on %r from %d -> %s: %s" % (
                pattern, stream, start, out, why))
            failures += 1
    print("random: %d translated patterns checked (%d at the buffer-start "
          "limit), %d failures" % (tried, limits, failures))
    return failures


def main():
    failures = 0
    old_caught = 0
    for pattern, stream, start, how in CASES:
        old = how == OLD
        rc, out = tool("translate", pattern)
        if rc:
            print("FAIL %r: %s" % (pattern, out))
            failures += 1
            continue
        qhil = qhil_answer(pattern, stream, start)
        if how == LIMIT:
            why = limit_disagrees(out, stream, start, qhil)
        else:
            why = lava_disagrees(out, stream, start, qhil)
        if not why and start == 0 and how != LIMIT:
            why = pexpect_disagrees(out, stream, qhil)
        if why:
            print("FAIL %r on %r from %d -> %s: %s" % (
                pattern, stream, start, out, why))
            failures += 1
        old_why = lava_disagrees("(?m)(?-s:%s)" % pattern, stream, start,
                                 qhil)
        if old and not old_why:
            print("FAIL %r: the old wrapper agrees here, the case shows "
                  "nothing" % pattern)
            failures += 1
        if old_why:
            old_caught += 1
            if not old:
                print("note %r: the old wrapper is wrong here too: %s" % (
                    pattern, old_why))
        print("ok %r %s%s" % (pattern, qhil[0],
                              " (old wrapper: %s)" % old_why if old else ""))
    for pattern in REFUSED:
        rc, out = tool("translate", pattern)
        if rc != 3:
            print("FAIL %r: translated to %r, must be refused" % (
                pattern, out))
            failures += 1
        else:
            print("ok %r %s" % (pattern, out))
    failures += check_random()
    if old_caught < 3:
        print("FAIL: only %d cases catch the old wrapper" % old_caught)
        failures += 1
    print("%d cases, %d refusals, the old wrapper wrong on %d, %d failures"
          % (len(CASES), len(REFUSED), old_caught, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__ or "usage: pattern-diff.py PATTERN-TOOL",
              file=sys.stderr)
        sys.exit(2)
    TOOL = sys.argv[1]
    sys.exit(main())
