#!/usr/bin/env python3
"""The shared library exports exactly the public API.

usage: check_exports.py NM LIBQHIL_SO INCLUDE_DIR

The public API is every function (and extern object) declared in
INCLUDE_DIR/qhil/*.h, read from the headers themselves, so a new header or
declaration needs no change here.  Fails when libqhil.so exports a symbol
that no public header declares (an internal helper of lib/*.h leaking out),
or when a declared function is not exported (a header without its
"#pragma GCC visibility push(default)", or a declaration nothing defines).
Names that start with "_" are the toolchain's (C reserves them), not ours.
"""
import glob
import os
import re
import subprocess
import sys


def strip(text):
    """The header as C sees it: no comments, no C++-only lines, no
    preprocessor directives (a header's macros declare no symbols)."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    text = re.sub(r'#ifdef __cplusplus\b.*?#endif', ' ', text, flags=re.S)
    text = re.sub(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', ' ', text, flags=re.M)
    return text


def statements(text):
    """Top-level declarations, each with what is inside braces removed
    (struct members, enum constants)."""
    depth = 0
    cur = []
    for ch in text:
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
        elif depth == 0:
            if ch == ';':
                yield ' '.join(''.join(cur).split())
                cur = []
            else:
                cur.append(ch)
    if depth != 0:
        raise ValueError('unbalanced braces')


def declared(header):
    names = set()
    with open(header, encoding='utf-8') as f:
        text = strip(f.read())
    for st in statements(text):
        words = st.split()
        if not words or words[0] in ('typedef', 'static'):
            continue
        m = re.search(r'\b(qhil_\w+)\s*\(', st)
        if m:
            names.add(m.group(1))
            continue
        m = re.search(r'\bextern\b.*\b(qhil_\w+)\s*(?:\[[^\]]*\]\s*)*$', st)
        if m:
            names.add(m.group(1))
    return names


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    nm, lib, incdir = sys.argv[1:]
    public = {}
    headers = sorted(glob.glob(os.path.join(incdir, 'qhil', '*.h')))
    for h in headers:
        for name in declared(h):
            public[name] = os.path.relpath(h, os.path.dirname(incdir))
    if not public:
        sys.exit(f'no public declarations found in {incdir}/qhil/*.h')

    out = subprocess.run([nm, '-D', '--defined-only', lib],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f'{nm} -D --defined-only {lib} failed: {out.stderr}')
    exported = set()
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[-1].startswith('_'):
            exported.add(fields[-1].split('@')[0])

    bad = 0
    for name in sorted(exported - public.keys()):
        print(f'{os.path.basename(lib)} exports {name}, which no '
              f'public header declares (internal: keep it hidden)')
        bad += 1
    for name in sorted(public.keys() - exported):
        print(f'{public[name]} declares {name}, which '
              f'{os.path.basename(lib)} does not export (outside the '
              f'header\'s visibility push(default), or not defined?)')
        bad += 1
    if bad:
        sys.exit(f'{bad} symbol(s) wrong; {len(public)} declared in '
                 f'{len(headers)} headers, {len(exported)} exported')
    print(f'{len(exported)} symbols exported, each declared in one of '
          f'{len(headers)} public headers')


if __name__ == '__main__':
    main()
