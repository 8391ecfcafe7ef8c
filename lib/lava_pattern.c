/*
 * lava_pattern.c - a qhil console pattern as LAVA's pexpect must see it.
 *
 * pattern: a qhil console pattern (PCRE2, compiled with PCRE2_MULTILINE).
 * *out: the Python 3 re pattern (malloc'ed, caller frees) that, searched
 * with re.DOTALL in a pexpect buffer fed the same bytes with every LF
 * turned into CR LF, matches where qhil's matches, starting with "(?m)".
 * QHIL_EUNSUPPORTED with *why (a static string naming the construct and
 * why) when it cannot be translated exactly; QHIL_ENOMEM.
 *
 * The stream LAVA sees is qhil's with every LF written as CR LF (the pty
 * keeps ONLCR).  In it a CR followed by LF is always the added one, and a
 * position between that CR and its LF is no position of qhil's stream.
 * So every item that matches characters becomes a set of bytes, emitted
 * (emit_set) as up to three alternatives: "\r\n" when LF is in the set,
 * "\r(?=[^\n])" (a CR of the guest's own: one that is followed, and by
 * something else than LF) when CR is, and a class without CR and LF for
 * the rest.  Literal letters under (?i) become [Aa] sets too, so the
 * options i and s are applied here and never reach Python, except (?i:)
 * around a caseless back reference.  Everything is inside (?a:) so that
 * \b stays ASCII, as in PCRE2 without UCP.
 *
 * pexpect searches a buffer that ends where a read ended and starts
 * where the previous match ended.  qhil sees neither boundary: its $ only
 * matches before a newline while the stream is open and its ^ sees the
 * bytes before the scan position.  Every assertion is therefore written
 * so that a boundary can only make it fail, never succeed where qhil's
 * does not: ^ is (?<=\n)(?=[\s\S]) (PCRE2's ^ does not match after the
 * newline that ends the data), $ is (?=\r\n), \b and \B need a
 * character on both sides, a negative lookahead needs as many characters
 * after it as its longest branch and a negative lookbehind as many
 * before it.
 * Greedy repeats that end at the end of a read can still stop earlier
 * than qhil's; that changes the matched text, not whether it matches.
 * Possessive repeats are written as atomic groups (see parse_quant).
 *
 * Widths (in Python characters) are tracked for every branch: Python's
 * lookbehinds need a fixed width, so a lookbehind's top-level branches
 * become one lookbehind each and a branch whose width varies is refused.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/error.h>

#include "internal.h"
#include "lava_pattern.h"

#define LP_INF SIZE_MAX
#define LP_DEPTH_MAX 64 /* nested groups */
#define LP_CAPS_MAX 99  /* Python's \NN goes to 99 */
#define LP_NAMES_MAX 32
#define LP_NAME_LEN 32 /* PCRE2's limit */
#define LP_OUT_MAX ((size_t)1 << 20)

enum lp_kind {
    LP_TOP,
    LP_GROUP,
    LP_AHEAD,
    LP_AHEAD_NOT,
    LP_BEHIND,
    LP_BEHIND_NOT
};

/* What the last item was, for a quantifier that follows it. */
enum lp_last { LP_LAST_NONE, LP_LAST_ATOM, LP_LAST_MB, LP_LAST_ASSERT };

typedef struct lp_frame {
    enum lp_kind kind;
    bool caseless, dotall; /* options now; restored at the group's end */
    int cap;               /* capture number, 0 for none */
    size_t at;             /* where the group's text starts */
    size_t bmin, bmax;     /* width of the current branch */
    size_t gmin, gmax;     /* over the finished branches */
    bool branches;         /* a branch has finished */
} lp_frame;

typedef struct lp_set {
    uint8_t b[32];
} lp_set;

typedef struct lp_state {
    const unsigned char *p; /* next pattern byte */
    qhil_buf out;
    const char *why;
    int oom;
    lp_frame fr[LP_DEPTH_MAX];
    int depth; /* index of the current frame */
    enum lp_last last;
    size_t pre_min, pre_max; /* branch width before the last atom */
    size_t last_at;          /* where the last atom's text starts */
    size_t last_min, last_max;
    int behind; /* lookbehinds open */
    int ncap;
    bool closed[LP_CAPS_MAX + 1];
    struct {
        char name[LP_NAME_LEN + 1];
        int cap;
    } names[LP_NAMES_MAX];
    int nnames;
} lp_state;

static int refuse(lp_state *st, const char *why)
{
    if (!st->why) {
        st->why = why;
    }
    return QHIL_EUNSUPPORTED;
}

static int put(lp_state *st, const char *s)
{
    int rc = qhil_buf_puts(&st->out, s);

    if (rc == QHIL_ETOOBIG) {
        return refuse(st, "the translation is over its 1 MiB limit");
    }
    if (rc < 0) {
        st->oom = 1;
        return QHIL_ENOMEM;
    }
    return 0;
}

/* Insert s at offset at of the output. */
static int insert(lp_state *st, size_t at, const char *s)
{
    size_t n = strlen(s), tail = st->out.len - at;
    int rc = put(st, s);

    if (rc < 0) {
        return rc;
    }
    memmove(st->out.data + at + n, st->out.data + at, tail);
    memcpy(st->out.data + at, s, n);
    return 0;
}

/*
 * One byte as a class member (or a literal): as it is where it reads the
 * same inside and outside a class, \n \r \t, else \xHH.  Kept readable
 * for people who read the jobs: "[^\n\r]", "Hit any key".
 */
static int putc_hex(lp_state *st, unsigned c)
{
    char s[8];

    if (c && c < 0x7f &&
        (isalnum((int)c) || strchr("_ !\"#%',/:;<=>@`", (int)c))) {
        s[0] = (char)c;
        s[1] = '\0';
    } else if (c == '\n' || c == '\r' || c == '\t') {
        s[0] = '\\';
        s[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        s[2] = '\0';
    } else {
        snprintf(s, sizeof(s), "\\x%02x", c);
    }
    return put(st, s);
}

/* Saturating arithmetic on widths. */
static size_t w_add(size_t a, size_t b)
{
    if (a == LP_INF || b == LP_INF || a > LP_INF - b) {
        return LP_INF;
    }
    return a + b;
}

static size_t w_mul(size_t a, size_t n)
{
    if (a == 0 || n == 0) {
        return 0;
    }
    if (a == LP_INF || n == LP_INF || a > LP_INF / n) {
        return LP_INF;
    }
    return a * n;
}

static lp_frame *cur(lp_state *st)
{
    return &st->fr[st->depth];
}

/* The item whose text started at out.len == at is an atom of that width. */
static void atom_at(lp_state *st, size_t at, size_t min, size_t max,
                    enum lp_last kind)
{
    lp_frame *f = cur(st);

    st->last_at = at;
    st->pre_min = f->bmin;
    st->pre_max = f->bmax;
    st->last_min = min;
    st->last_max = max;
    f->bmin = w_add(f->bmin, min);
    f->bmax = w_add(f->bmax, max);
    st->last = kind;
}

static bool set_has(const lp_set *s, unsigned c)
{
    return (s->b[c >> 3] >> (c & 7)) & 1;
}

static void set_add(lp_set *s, unsigned c)
{
    s->b[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static void set_del(lp_set *s, unsigned c)
{
    s->b[c >> 3] &= (uint8_t) ~(1u << (c & 7));
}

static void set_range(lp_set *s, unsigned lo, unsigned hi)
{
    unsigned c;

    for (c = lo; c <= hi; c++) {
        set_add(s, c);
    }
}

static void set_not(lp_set *s)
{
    size_t i;

    for (i = 0; i < sizeof(s->b); i++) {
        s->b[i] = (uint8_t)~s->b[i];
    }
}

static void set_union(lp_set *s, const lp_set *o)
{
    size_t i;

    for (i = 0; i < sizeof(s->b); i++) {
        s->b[i] |= o->b[i];
    }
}

/* PCRE2's default tables: case exists for ASCII letters only. */
static void set_fold(lp_set *s)
{
    unsigned c;

    for (c = 'a'; c <= 'z'; c++) {
        if (set_has(s, c) || set_has(s, c - 32)) {
            set_add(s, c);
            set_add(s, c - 32);
        }
    }
}

/* \d \D \w \W \s \S as PCRE2 without UCP has them; false for others. */
static bool set_escape(unsigned letter, lp_set *s)
{
    memset(s, 0, sizeof(*s));
    switch (tolower((int)letter)) {
    case 'd':
        set_range(s, '0', '9');
        break;
    case 'w':
        set_range(s, '0', '9');
        set_range(s, 'a', 'z');
        set_range(s, 'A', 'Z');
        set_add(s, '_');
        break;
    case 's':
        set_range(s, '\t', '\r'); /* HT LF VT FF CR */
        set_add(s, ' ');
        break;
    default:
        return false;
    }
    if (isupper((int)letter)) {
        set_not(s);
    }
    return true;
}

/* Runs of three or more as ranges. */
static int put_members(lp_state *st, const lp_set *s)
{
    unsigned c = 0;
    int rc = 0;

    while (c < 128 && rc >= 0) {
        unsigned end = c;

        if (!set_has(s, c)) {
            c++;
            continue;
        }
        while (end + 1 < 128 && set_has(s, end + 1)) {
            end++;
        }
        if (end - c >= 2) {
            rc = putc_hex(st, c);
            if (rc >= 0) {
                rc = put(st, "-");
            }
            if (rc >= 0) {
                rc = putc_hex(st, end);
            }
        } else {
            for (; c <= end && rc >= 0; c++) {
                rc = putc_hex(st, c);
            }
        }
        c = end + 1;
    }
    return rc;
}

/*
 * One character of qhil's stream, any byte of set: "\r\n" for LF, a CR
 * not followed by LF for CR, a class for the rest.  Bytes above 0x7f are
 * all in or all out (Python sees characters there, not bytes).
 */
static int emit_set(lp_state *st, const lp_set *in)
{
    lp_set s = *in, comp;
    bool lf = set_has(&s, '\n'), cr = set_has(&s, '\r');
    unsigned c, high = 0, members = 0;
    size_t at = st->out.len;
    bool neg, rest;
    int n = 0, rc = 0;

    set_del(&s, '\n');
    set_del(&s, '\r');
    for (c = 0; c < 256; c++) {
        if (set_has(&s, c)) {
            if (c >= 128) {
                high++;
            } else {
                members++;
            }
        }
    }
    if (high && high < 128) {
        return refuse(st, "a class with only some bytes above 0x7f: qhil "
                          "matches bytes there, LAVA matches characters");
    }
    neg = high == 128;
    rest = neg || members;
    if (!lf && !cr && !rest) {
        return refuse(st, "a class that matches nothing");
    }
    if (lf + cr + rest > 1 || !rest) {
        rc = put(st, "(?:");
    }
    if (rc >= 0 && lf) {
        rc = put(st, "\\r\\n");
        n++;
    }
    if (rc >= 0 && cr) {
        rc = put(st, n++ ? "|\\r(?=[^\\n])" : "\\r(?=[^\\n])");
    }
    if (rc >= 0 && rest) {
        rc = put(st, n++ ? "|[" : "[");
        if (rc >= 0 && neg) {
            comp = s;
            set_not(&comp);
            rc = put(st, "^");
            if (rc >= 0) {
                rc = put_members(st, &comp);
            }
        } else if (rc >= 0) {
            rc = put_members(st, &s);
        }
        if (rc >= 0) {
            rc = put(st, "]");
        }
    }
    if (rc >= 0 && (lf + cr + rest > 1 || !rest)) {
        rc = put(st, ")");
    }
    if (rc < 0) {
        return rc;
    }
    atom_at(st, at, (cr || rest) ? 1 : 2, lf ? 2 : 1, LP_LAST_ATOM);
    return 0;
}

/* A literal byte of the pattern (c < 0x80). */
static int emit_char(lp_state *st, unsigned c)
{
    size_t at = st->out.len;
    char s[4];
    int rc;

    if (c == '\n' || c == '\r' || (cur(st)->caseless && isalpha((int)c))) {
        lp_set set;

        memset(&set, 0, sizeof(set));
        set_add(&set, c);
        if (cur(st)->caseless) {
            set_fold(&set);
        }
        return emit_set(st, &set);
    }
    if (c && strchr(".^$*+?{}[]\\|()", (int)c)) {
        s[0] = '\\';
        s[1] = (char)c;
        s[2] = '\0';
        rc = put(st, s);
    } else if (c >= 0x20 && c < 0x7f) {
        s[0] = (char)c; /* outside a class: itself */
        s[1] = '\0';
        rc = put(st, s);
    } else {
        rc = putc_hex(st, c);
    }
    if (rc < 0) {
        return rc;
    }
    atom_at(st, at, 1, 1, LP_LAST_ATOM);
    return 0;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n, i;
    uint32_t v;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        v = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        v = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        v = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff)) {
        return 0;
    }
    return n;
}

/* A character of UTF-8 written as is: qhil sees its bytes, LAVA the
 * character, which agree as long as no quantifier splits it. */
static int emit_utf8(lp_state *st)
{
    size_t n = utf8_len(st->p), at = st->out.len;
    char s[5];
    int rc;

    if (!n) {
        return refuse(st, "a byte that is not UTF-8");
    }
    memcpy(s, st->p, n);
    s[n] = '\0';
    rc = put(st, s);
    if (rc < 0) {
        return rc;
    }
    st->p += n;
    atom_at(st, at, 1, 1, LP_LAST_MB);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The escapes that stand for one character, st->p after the backslash.
 * 1 with *c (and st->p past it), 0 when it is another escape, or a
 * refusal.  Values above 0x7f are refused: qhil matches them as bytes.
 */
static int esc_char(lp_state *st, unsigned *c)
{
    const unsigned char *p = st->p;
    unsigned v = 0;
    int d, n;

    switch (*p) {
    case 'n':
        v = '\n';
        p++;
        break;
    case 'r':
        v = '\r';
        p++;
        break;
    case 't':
        v = '\t';
        p++;
        break;
    case 'f':
        v = '\f';
        p++;
        break;
    case 'a':
        v = 7;
        p++;
        break;
    case 'e':
        v = 0x1b;
        p++;
        break;
    case 'x':
        p++;
        if (*p == '{') {
            for (p++, n = 0; (d = hexval(*p)) >= 0; p++, n++) {
                v = v * 16 + (unsigned)d;
                if (v > 0xff) {
                    break;
                }
            }
            if (*p != '}' || !n) {
                return refuse(st, "\\x{...} that is not a character below "
                                  "0x80");
            }
            p++;
        } else {
            for (n = 0; n < 2 && (d = hexval(*p)) >= 0; p++, n++) {
                v = v * 16 + (unsigned)d;
            }
            if (!n) {
                return refuse(st, "\\x without hex digits");
            }
        }
        break;
    case 'o':
        p++;
        if (*p != '{') {
            return refuse(st, "\\o without {");
        }
        for (p++, n = 0; *p >= '0' && *p <= '7'; p++, n++) {
            v = v * 8 + (unsigned)(*p - '0');
            if (v > 0xff) {
                break;
            }
        }
        if (*p != '}' || !n) {
            return refuse(st, "\\o{...} that is not a character below 0x80");
        }
        p++;
        break;
    case '0':
        p++;
        for (n = 0; n < 2 && *p >= '0' && *p <= '7'; p++, n++) {
            v = v * 8 + (unsigned)(*p - '0');
        }
        break;
    case 'c':
        p++;
        if (*p < 0x20 || *p > 0x7e) {
            return refuse(st, "\\c not followed by a printable ASCII "
                              "character");
        }
        v = (unsigned)toupper(*p) ^ 0x40;
        p++;
        break;
    default:
        if (*p >= 0x80) {
            return refuse(st, "a backslash before a non-ASCII character");
        }
        if (*p && !isalnum(*p)) {
            v = *p++;
            break;
        }
        return 0;
    }
    if (v > 0x7f) {
        return refuse(st, "a character above 0x7f: qhil matches it as a "
                          "byte, LAVA as a character");
    }
    st->p = p;
    *c = v;
    return 1;
}

/* A class item: a character (1, *c) or a set escape (2, *set). */
static int class_item(lp_state *st, unsigned *c, lp_set *set)
{
    int rc;

    if (*st->p >= 0x80) {
        return refuse(st, "a non-ASCII character in a class: qhil sees its "
                          "bytes, LAVA one character");
    }
    if (*st->p != '\\') {
        *c = *st->p++;
        return 1;
    }
    st->p++;
    if (set_escape(*st->p, set)) {
        st->p++;
        return 2;
    }
    if (*st->p == 'b') {
        st->p++;
        *c = 8;
        return 1;
    }
    rc = esc_char(st, c);
    if (rc) {
        return rc;
    }
    if (*st->p >= '1' && *st->p <= '9') {
        return refuse(st, "an octal escape in a class: \\1 to \\9 read "
                          "differently in PCRE2 and Python");
    }
    if (*st->p == 'h' || *st->p == 'H' || *st->p == 'v' || *st->p == 'V') {
        return refuse(st, "\\h, \\H, \\v or \\V in a class: PCRE2-only "
                          "(\\v is VT in Python)");
    }
    if (*st->p == 'p' || *st->p == 'P') {
        return refuse(st, "\\p or \\P: Unicode properties are PCRE2-only");
    }
    return refuse(st, "an escape in a class that Python reads differently "
                      "or not at all");
}

static int parse_class(lp_state *st)
{
    lp_set set, item;
    bool neg = false, first = true;
    unsigned lo, hi;
    int rc;

    memset(&set, 0, sizeof(set));
    st->p++; /* [ */
    if (*st->p == '^') {
        neg = true;
        st->p++;
    }
    for (;;) {
        if (!*st->p) {
            return refuse(st, "a class without its ]");
        }
        if (*st->p == ']' && !first) {
            st->p++;
            break;
        }
        first = false;
        if (*st->p == '[' &&
            (st->p[1] == ':' || st->p[1] == '.' || st->p[1] == '=')) {
            return refuse(st, "a POSIX class [:name:]: PCRE2-only");
        }
        rc = class_item(st, &lo, &item);
        if (rc < 0) {
            return rc;
        }
        if (rc == 2) {
            if (*st->p == '-' && st->p[1] != ']') {
                return refuse(st, "a range from a class escape");
            }
            set_union(&set, &item);
            continue;
        }
        if (*st->p == '-' && st->p[1] && st->p[1] != ']') {
            st->p++;
            rc = class_item(st, &hi, &item);
            if (rc < 0) {
                return rc;
            }
            if (rc == 2 || hi < lo) {
                return refuse(st, "a range that PCRE2 refuses");
            }
            set_range(&set, lo, hi);
        } else {
            set_add(&set, lo);
        }
    }
    if (cur(st)->caseless) {
        set_fold(&set);
    }
    if (neg) {
        set_not(&set);
    }
    return emit_set(st, &set);
}

/* A group name: [A-Za-z_][A-Za-z0-9_]*, at most 32, then end. */
static int parse_name(lp_state *st, char end, char *name)
{
    size_t n = 0;

    if (!isalpha(*st->p) && *st->p != '_') {
        return refuse(st, "a group name that does not start with a letter "
                          "or _");
    }
    while (isalnum(*st->p) || *st->p == '_') {
        if (n == LP_NAME_LEN) {
            return refuse(st, "a group name over 32 characters");
        }
        name[n++] = (char)*st->p++;
    }
    name[n] = '\0';
    if (*st->p != (unsigned char)end) {
        return refuse(st, "a group name not closed where PCRE2 closes it");
    }
    st->p++;
    return 0;
}

/* A back reference to group n: Python wants it closed already. */
static int emit_backref(lp_state *st, int n, const char *name)
{
    char s[LP_NAME_LEN + 16];
    size_t at = st->out.len;
    int rc;

    if (n < 1 || n > st->ncap || !st->closed[n]) {
        return refuse(st, "a reference to a group that is not closed yet "
                          "(or missing): Python re refuses it");
    }
    if (st->behind) {
        return refuse(st, "a back reference in a lookbehind");
    }
    if (name) {
        snprintf(s, sizeof(s), "(?%s:(?P=%s))", cur(st)->caseless ? "i" : "",
                 name);
    } else {
        snprintf(s, sizeof(s), "(?%s:\\%d)", cur(st)->caseless ? "i" : "", n);
    }
    rc = put(st, s);
    if (rc < 0) {
        return rc;
    }
    atom_at(st, at, 0, LP_INF, LP_LAST_ATOM);
    return 0;
}

static int backref_name(lp_state *st, const char *name)
{
    int i;

    for (i = 0; i < st->nnames; i++) {
        if (!strcmp(st->names[i].name, name)) {
            return emit_backref(st, st->names[i].cap, name);
        }
    }
    return refuse(st, "a reference to a group name not defined before it");
}

/* \g and \k, st->p on the letter. */
static int parse_ref(lp_state *st)
{
    char name[LP_NAME_LEN + 1];
    unsigned char letter = *st->p++;
    char end = 0;
    bool minus = false;
    int n = 0, digits = 0, rc;

    if (letter == 'g' && (*st->p == '<' || *st->p == '\'')) {
        return refuse(st, "\\g<...> is a subroutine call: PCRE2-only");
    }
    if (*st->p == '{') {
        end = '}';
    } else if (letter == 'k' && *st->p == '<') {
        end = '>';
    } else if (letter == 'k' && *st->p == '\'') {
        end = '\'';
    } else if (letter == 'k') {
        return refuse(st, "\\k without a name");
    }
    if (end) {
        st->p++;
    }
    if (letter == 'g' && *st->p == '+') {
        return refuse(st, "\\g+N: a forward reference");
    }
    if (letter == 'g' && *st->p == '-') {
        minus = true;
        st->p++;
    }
    if (letter == 'g' && isdigit(*st->p)) {
        while (isdigit(*st->p) && digits < 4) {
            n = n * 10 + (*st->p++ - '0');
            digits++;
        }
        if (end && *st->p++ != (unsigned char)end) {
            return refuse(st, "\\g{N} not closed by }");
        }
        if (minus) {
            n = st->ncap - n + 1;
        }
        return emit_backref(st, n, NULL);
    }
    if (minus || !end) {
        return refuse(st, "\\g without a group number or name");
    }
    rc = parse_name(st, end, name);
    return rc < 0 ? rc : backref_name(st, name);
}

static int emit_assert(lp_state *st, const char *s)
{
    int rc = put(st, s);

    st->last = LP_LAST_ASSERT;
    return rc;
}

static int parse_escape(lp_state *st)
{
    lp_set set;
    unsigned c;
    int rc;

    st->p++; /* backslash */
    if (set_escape(*st->p, &set)) {
        st->p++;
        return emit_set(st, &set);
    }
    switch (*st->p) {
    case 'N':
        if (st->p[1] == '{') {
            return refuse(st, "\\N{...}: PCRE2-only");
        }
        st->p++;
        memset(&set, 0, sizeof(set));
        set_not(&set);
        set_del(&set, '\n');
        return emit_set(st, &set);
    case 'b':
        st->p++;
        return emit_assert(st, "(?<=[\\s\\S])\\b(?=[\\s\\S])");
    case 'B':
        st->p++;
        return emit_assert(st, "(?<=[\\s\\S])\\B(?=[^\\n])");
    case 'A':
    case 'z':
    case 'Z':
    case 'G':
        return refuse(st, "\\A, \\z, \\Z or \\G: LAVA's buffer starts and "
                          "ends where reads and matches do, qhil's not");
    case 'h':
    case 'H':
    case 'v':
    case 'V':
    case 'R':
        return refuse(st, "\\h, \\H, \\v, \\V or \\R: PCRE2-only (\\v is VT "
                          "in Python)");
    case 'K':
        return refuse(st, "\\K: PCRE2-only");
    case 'X':
    case 'C':
        return refuse(st, "\\X or \\C: PCRE2-only");
    case 'p':
    case 'P':
        return refuse(st, "\\p or \\P: Unicode properties are PCRE2-only");
    case 'g':
    case 'k':
        return parse_ref(st);
    case 'E':
        st->p++; /* a \E without \Q: PCRE2 ignores it */
        return 0;
    case 'Q':
        st->p++;
        while (*st->p && !(st->p[0] == '\\' && st->p[1] == 'E')) {
            rc = *st->p >= 0x80 ? emit_utf8(st) : emit_char(st, *st->p++);
            if (rc < 0) {
                return rc;
            }
        }
        if (*st->p) {
            st->p += 2;
        }
        return 0;
    default:
        break;
    }
    if (*st->p >= '1' && *st->p <= '9') {
        if (isdigit(st->p[1])) {
            return refuse(st, "\\NN: a back reference or an octal escape, "
                              "read differently in PCRE2 and Python");
        }
        return emit_backref(st, *st->p++ - '0', NULL);
    }
    rc = esc_char(st, &c);
    if (rc == 0) {
        return refuse(st, "an escape that Python reads differently or not "
                          "at all");
    }
    return rc < 0 ? rc : emit_char(st, c);
}

static int push(lp_state *st, enum lp_kind kind, const char *open)
{
    lp_frame *f;

    if (st->depth + 1 >= LP_DEPTH_MAX) {
        return refuse(st, "groups nested over 63 deep");
    }
    f = &st->fr[st->depth + 1];
    *f = *cur(st);
    f->kind = kind;
    f->at = st->out.len;
    f->cap = 0;
    f->bmin = f->bmax = 0;
    f->gmin = f->gmax = 0;
    f->branches = false;
    st->depth++;
    if (kind == LP_BEHIND || kind == LP_BEHIND_NOT) {
        st->behind++;
    }
    st->last = LP_LAST_NONE;
    return put(st, open);
}

/* Options (?ims-ims) and (?ims-ims:, st->p after "(?". */
static int parse_options(lp_state *st)
{
    bool on = true, caseless = cur(st)->caseless, dotall = cur(st)->dotall;
    int rc;

    for (;; st->p++) {
        switch (*st->p) {
        case 'i':
            caseless = on;
            continue;
        case 's':
            dotall = on;
            continue;
        case 'm':
            if (!on) {
                return refuse(st, "(?-m): qhil's patterns are multiline");
            }
            continue;
        case '-':
            if (!on) {
                return refuse(st, "two - in an option setting");
            }
            on = false;
            continue;
        case 'x':
            return refuse(st, "(?x) extended syntax: not translated");
        case ')':
        case ':':
            break;
        default:
            return refuse(st, "an option or group that Python re has not "
                              "(PCRE2-only: n, U, J, ^, |, R, digits, &, "
                              "(, C)");
        }
        break;
    }
    if (*st->p++ == ')') {
        /* To the end of the group, across its later branches. */
        cur(st)->caseless = caseless;
        cur(st)->dotall = dotall;
        st->last = LP_LAST_NONE;
        return 0;
    }
    rc = push(st, LP_GROUP, "(?:");
    cur(st)->caseless = caseless;
    cur(st)->dotall = dotall;
    return rc;
}

static int open_capture(lp_state *st, const char *name)
{
    char s[LP_NAME_LEN + 8];
    int i, rc;

    if (st->ncap == LP_CAPS_MAX) {
        return refuse(st, "over 99 capturing groups");
    }
    if (name) {
        for (i = 0; i < st->nnames; i++) {
            if (!strcmp(st->names[i].name, name)) {
                return refuse(st, "a group name used twice");
            }
        }
        if (st->nnames == LP_NAMES_MAX) {
            return refuse(st, "over 32 named groups");
        }
        snprintf(st->names[st->nnames].name, sizeof(st->names[0].name), "%s",
                 name);
        st->names[st->nnames++].cap = st->ncap + 1;
        snprintf(s, sizeof(s), "(?P<%s>", name);
    } else {
        snprintf(s, sizeof(s), "(");
    }
    rc = push(st, LP_GROUP, s);
    cur(st)->cap = ++st->ncap;
    return rc;
}

static int parse_open(lp_state *st)
{
    char name[LP_NAME_LEN + 1];
    const unsigned char *p;
    int rc;

    st->p++; /* ( */
    if (*st->p == '*') {
        return refuse(st, "(*VERB) and (*OPTION): PCRE2-only");
    }
    if (*st->p != '?') {
        return open_capture(st, NULL);
    }
    p = ++st->p;
    if (p[0] == ':' || p[0] == '>' || p[0] == '=' || p[0] == '!') {
        st->p++;
        return push(st,
                    p[0] == '='   ? LP_AHEAD
                    : p[0] == '!' ? LP_AHEAD_NOT
                                  : LP_GROUP,
                    p[0] == ':'   ? "(?:"
                    : p[0] == '>' ? "(?>"
                    : p[0] == '=' ? "(?="
                                  : "(?!");
    }
    if (p[0] == '<' && (p[1] == '=' || p[1] == '!')) {
        st->p += 2;
        return push(st, p[1] == '=' ? LP_BEHIND : LP_BEHIND_NOT,
                    p[1] == '=' ? "(?:(?<=" : "(?:(?<!");
    }
    if (p[0] == '#') {
        while (*st->p && *st->p != ')') {
            st->p++;
        }
        if (!*st->p) {
            return refuse(st, "a (?# comment without its )");
        }
        st->p++;
        return 0;
    }
    if (p[0] == '<' || p[0] == '\'' || (p[0] == 'P' && p[1] == '<')) {
        st->p += p[0] == 'P' ? 2 : 1;
        rc = parse_name(st, p[0] == '\'' ? '\'' : '>', name);
        return rc < 0 ? rc : open_capture(st, name);
    }
    if (p[0] == 'P' && p[1] == '=') {
        st->p += 2;
        rc = parse_name(st, ')', name);
        return rc < 0 ? rc : backref_name(st, name);
    }
    if (p[0] == 'P' && p[1] == '>') {
        return refuse(st, "(?P>name) recursion: PCRE2-only");
    }
    return parse_options(st);
}

/* The end of a branch: widths, and Python's fixed-width lookbehinds. */
static int end_branch(lp_state *st)
{
    lp_frame *f = cur(st);

    if ((f->kind == LP_BEHIND || f->kind == LP_BEHIND_NOT) &&
        f->bmin != f->bmax) {
        return refuse(st, "a lookbehind branch whose width varies once LF "
                          "is CR LF: Python needs a fixed width");
    }
    if (!f->branches || f->bmin < f->gmin) {
        f->gmin = f->bmin;
    }
    if (!f->branches || f->bmax > f->gmax) {
        f->gmax = f->bmax;
    }
    f->branches = true;
    f->bmin = f->bmax = 0;
    st->last = LP_LAST_NONE;
    return 0;
}

static int parse_bar(lp_state *st)
{
    enum lp_kind kind = cur(st)->kind;
    int rc;

    st->p++;
    rc = end_branch(st);
    if (rc < 0) {
        return rc;
    }
    return put(st, kind == LP_BEHIND       ? ")|(?<="
                   : kind == LP_BEHIND_NOT ? ")(?<!"
                                           : "|");
}

static int parse_close(lp_state *st)
{
    lp_frame f;
    char s[48];
    int rc;

    if (st->depth == 0) {
        return refuse(st, "a ) without its (");
    }
    st->p++;
    rc = end_branch(st);
    if (rc < 0) {
        return rc;
    }
    f = *cur(st);
    st->depth--;
    switch (f.kind) {
    case LP_AHEAD_NOT:
        /* Only decided once as many characters as it can match came. */
        if (f.gmax == LP_INF) {
            return refuse(st, "a negative lookahead of unbounded width: "
                              "LAVA cannot tell the end of a read from "
                              "the end of the line");
        }
        if (f.gmax) {
            snprintf(s, sizeof(s), ")(?=[\\s\\S]{%zu})", f.gmax);
        } else {
            snprintf(s, sizeof(s), ")");
        }
        break;
    case LP_BEHIND_NOT:
        /* Only where the buffer holds that much before. */
        st->behind--;
        if (f.gmax) {
            snprintf(s, sizeof(s), ")(?<=[\\s\\S]{%zu}))", f.gmax);
        } else {
            snprintf(s, sizeof(s), "))");
        }
        break;
    case LP_BEHIND:
        st->behind--;
        snprintf(s, sizeof(s), "))");
        break;
    default:
        snprintf(s, sizeof(s), ")");
        break;
    }
    rc = put(st, s);
    if (rc < 0) {
        return rc;
    }
    if (f.cap) {
        st->closed[f.cap] = true;
    }
    if (f.kind == LP_GROUP) {
        atom_at(st, f.at, f.gmin, f.gmax, LP_LAST_ATOM);
    } else {
        st->last = LP_LAST_ASSERT;
    }
    return 0;
}

/* *, +, ?, {n}, {n,}, {n,m}, then ? or +.  0 when { is a literal. */
static int parse_quant(lp_state *st)
{
    const unsigned char *p = st->p;
    size_t min = 0, max = LP_INF;
    char s[48];
    int rc;

    if (*p == '{') {
        int n = 0;

        for (p++; isdigit(*p) && n < 6; p++, n++) {
            min = min * 10 + (size_t)(*p - '0');
        }
        if (!n) {
            return 0; /* {,m} and {x} are literal in PCRE2 10.42 */
        }
        if (*p == '}') {
            max = min;
        } else if (*p == ',') {
            p++;
            if (isdigit(*p)) {
                for (max = 0, n = 0; isdigit(*p) && n < 6; p++, n++) {
                    max = max * 10 + (size_t)(*p - '0');
                }
            }
        }
        if (*p != '}') {
            return 0;
        }
        if (min > 65535 || (max != LP_INF && (max > 65535 || max < min))) {
            return refuse(st, "a repeat count that PCRE2 refuses");
        }
        p++;
    } else {
        min = *p == '+' ? 1 : 0;
        max = *p == '?' ? 1 : LP_INF;
        p++;
    }
    if (st->last == LP_LAST_MB) {
        return refuse(st, "a quantifier after a non-ASCII character: in qhil "
                          "it repeats the last byte only");
    }
    if (st->last != LP_LAST_ATOM) {
        return refuse(st, "a quantifier after an assertion or nothing");
    }
    if (*st->p == '{') {
        if (max == min) {
            snprintf(s, sizeof(s), "{%zu}", min);
        } else if (max == LP_INF) {
            snprintf(s, sizeof(s), "{%zu,}", min);
        } else {
            snprintf(s, sizeof(s), "{%zu,%zu}", min, max);
        }
    } else {
        snprintf(s, sizeof(s), "%c", *st->p);
    }
    if (*p == '?') {
        size_t len = strlen(s);

        s[len] = (char)*p++;
        s[len + 1] = '\0';
    }
    rc = put(st, s);
    if (rc >= 0 && *p == '+') {
        /* X*+ as (?>X*): Python 3.11.2's possessive repeat skips a
         * lookahead inside X after the first pass ((?:\r(?=[^\n]))++
         * takes "\r\r" of "\r\r\n"); its atomic group does not. */
        p++;
        rc = insert(st, st->last_at, "(?>");
        if (rc >= 0) {
            rc = put(st, ")");
        }
    }
    if (rc < 0) {
        return rc;
    }
    st->p = p;
    cur(st)->bmin = w_add(st->pre_min, w_mul(st->last_min, min));
    cur(st)->bmax = w_add(st->pre_max, w_mul(st->last_max, max));
    st->last = LP_LAST_NONE;
    return 1;
}

static int parse(lp_state *st)
{
    lp_set set;
    int rc = 0;

    while (rc >= 0 && *st->p) {
        switch (*st->p) {
        case '\\':
            rc = parse_escape(st);
            break;
        case '[':
            rc = parse_class(st);
            break;
        case '(':
            rc = parse_open(st);
            break;
        case ')':
            rc = parse_close(st);
            break;
        case '|':
            rc = parse_bar(st);
            break;
        case '^':
            st->p++;
            rc = emit_assert(st, "(?<=\\n)(?=[\\s\\S])");
            break;
        case '$':
            st->p++;
            rc = emit_assert(st, "(?=\\r\\n)");
            break;
        case '.':
            st->p++;
            memset(&set, 0, sizeof(set));
            set_not(&set);
            if (!cur(st)->dotall) {
                set_del(&set, '\n');
            }
            rc = emit_set(st, &set);
            break;
        case '*':
        case '+':
        case '?':
        case '{':
            rc = parse_quant(st);
            if (rc == 0) {
                rc = emit_char(st, *st->p++);
            }
            break;
        default:
            if (*st->p >= 0x80) {
                rc = emit_utf8(st);
            } else {
                rc = emit_char(st, *st->p++);
            }
            break;
        }
    }
    if (rc >= 0 && st->depth) {
        rc = refuse(st, "a ( without its )");
    }
    return rc;
}

int qhil_lava_pattern(const char *pattern, char **out, const char **why)
{
    lp_state *st;
    int rc;

    *out = NULL;
    *why = NULL;
    st = calloc(1, sizeof(*st));
    if (!st) {
        return QHIL_ENOMEM;
    }
    st->p = (const unsigned char *)pattern;
    qhil_buf_init(&st->out, LP_OUT_MAX);
    rc = put(st, "(?m)(?a:");
    if (rc >= 0) {
        rc = parse(st);
    }
    if (rc >= 0) {
        rc = put(st, ")");
    }
    if (rc >= 0) {
        *out = qhil_buf_steal(&st->out);
        rc = *out ? 0 : QHIL_ENOMEM;
    } else if (st->oom) {
        rc = QHIL_ENOMEM;
    } else {
        rc = QHIL_EUNSUPPORTED;
        *why = st->why;
    }
    qhil_buf_release(&st->out);
    free(st);
    return rc;
}
