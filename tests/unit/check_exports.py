#!/usr/bin/env python3
"""The shared library exports exactly the public API.

usage: check_exports.py NM LIBQHIL_SO INCLUDE_DIR
       check_exports.py --self-test

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
    (struct members, enum constants); a function body ends its own."""
    depth = 0
    cur = []
    body = False
    for ch in text:
        if ch == '{':
            if depth == 0:
                body = ''.join(cur).rstrip().endswith(')')
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0 and body:
                yield ' '.join(''.join(cur).split())
                cur = []
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


# What the header reader must see, and what it must not: a name in a
# comment, a macro, a C++-only line, a typedef or a struct member is not an
# export; were it counted, a helper of that name could leak out unseen.
SELF_TEST = r"""
/* qhil_buf_append(b, s) is internal;
 * int qhil_in_comment(void); */
// int qhil_line_comment(void);
#define qhil_macro(x) qhil_macro_body(x)
#define QHIL_LONG(x) \
    qhil_continued(x)
#ifdef __cplusplus
extern "C" {
int qhil_cplusplus_only(void);
#endif
typedef int (*qhil_fn)(void *data, int qhil_arg);
typedef struct qhil_thing qhil_thing;
typedef struct {
    int (*qhil_member)(void);
    const char *name;
} qhil_opts;
enum { QHIL_FLAG = 1 << 0 };
static inline int qhil_inline(void) { return qhil_called(); }
int qhil_plain(int a, const char *b);
const char *
qhil_split_lines(qhil_thing *t,
                 int n);
void qhil_takes_fn(int (*cb)(void *), void *data);
extern const char *const qhil_names[];
extern int qhil_count;
#ifdef __cplusplus
}
#endif
"""
SELF_WANT = {'qhil_plain', 'qhil_split_lines', 'qhil_takes_fn',
             'qhil_names', 'qhil_count'}


def self_test():
    import tempfile
    with tempfile.NamedTemporaryFile('w', suffix='.h') as f:
        f.write(SELF_TEST)
        f.flush()
        got = declared(f.name)
    if got != SELF_WANT:
        sys.exit(f'header reader: extra {sorted(got - SELF_WANT)}, '
                 f'missing {sorted(SELF_WANT - got)}')
    print(f'header reader: {len(got)} declarations, as expected')


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
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
