/*
 * test_console_diff.c - the streaming console matcher against PCRE2 run
 * once on the whole log.
 *
 * For each case (a sequence of expect patterns, maybe a fail pattern)
 * random logs are made from tokens chosen to hit the interesting places
 * (line ends, CRLF, multibyte and invalid UTF-8, digits, words), and each
 * log is fed over a socketpair in random pieces (splits anywhere, inside
 * a CRLF or a UTF-8 character too), with the expects tried after every
 * piece at a deadline of "now", and EOF at the end.  The reference runs
 * each expect once on the whole log from the previous match end; an
 * expect whose match ends after the first fail match fails.  The results
 * (code and matched text of every expect) must be identical.  The PRNG is
 * seeded, so a failure repeats.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <qhil/clock.h>
#include <qhil/console.h>

#define N_LOGS 24   /* logs per case */
#define N_SPLITS 10 /* splits per log */
#define N_EXPECTS 6 /* expects per run, cycling through the case's */

typedef struct diff_case {
    const char *expects[4]; /* NULL-terminated, cycled */
    const char *fail;       /* or NULL */
} diff_case;

static const diff_case cases[] = {
    {{"echo 1234$", NULL}, NULL},
    {{"echo \\d+\\r?$", NULL}, NULL},
    {{"^> ", NULL}, NULL},
    {{"^\\d+$", NULL}, NULL},
    {{"^$", NULL}, NULL},
    {{"$", "^", NULL}, NULL},
    {{"\\Aab", "b", NULL}, NULL},
    {{"ab\\z", NULL}, NULL},
    {{"ab\\Z", NULL}, NULL},
    {{"\\bab\\b", NULL}, NULL},
    {{"\\Bb\\B", NULL}, NULL},
    {{"a(?=b)", NULL}, NULL},
    {{"a(?!b)", NULL}, NULL},
    {{"(?<=a)b", NULL}, NULL},
    {{"(?<!a)b+", NULL}, NULL},
    {{"(?<=\\n)> ", NULL}, NULL},
    {{"a+", NULL}, NULL},
    {{"a+?b", NULL}, NULL},
    {{"a.*b", NULL}, NULL},
    {{"a.*?b", NULL}, NULL},
    {{"a*", "b", NULL}, NULL},
    {{"ab|a|abc", NULL}, NULL},
    {{"(a|ab)(c|bcd)", NULL}, NULL},
    {{"x=\\K\\d+", NULL}, NULL},
    {{"\\d+", "[ab]+", "\\r\\n", NULL}, NULL},
    {{"(*UTF)\\x{e9}+", NULL}, NULL},
    {{"(*UTF).\\b", NULL}, NULL},
    {{"(*UTF)(?<=\\x{e9}).", NULL}, NULL},
    {{"(*UTF)[^a]{2}", NULL}, NULL},
    {{"\\xc3", NULL}, NULL},
    {{"(*UTF)caf.", "(*UTF).$", NULL}, NULL},
    {{"(*UTF)\\x{e9}\\b", "(*UTF)^.", NULL}, NULL},
    {{"(*UTF)\\w+", NULL}, "(*UTF)\\x{e9}\\x{e9}"},
    {{"(*UTF)(*UCP)\\w+\\b", NULL}, NULL},
    {{"\\r$", NULL}, NULL},
    {{"ok\\r?$", "^x=\\d", NULL}, NULL},
    {{"(?s)a.{0,3}b", NULL}, NULL},
    {{"a", "b", "\\d+$", NULL}, "FATAL"},
    {{"echo 1234$", "> ", NULL}, "FATAL"},
    {{"b+", NULL}, "^c+$"},
    {{"x=\\d+", NULL}, "a b"},
    {{"\\w+\\b", NULL}, "x=\\d+\\b"},
    {{"a.*", "\\d+\\z", NULL}, "ab(?=c)"},
};

static const char *const tokens[] = {
    "a",
    "b",
    "c",
    "ab",
    "abc",
    "bcd",
    " ",
    "\n",
    "\r\n",
    "\r",
    "> ",
    "x=",
    "1",
    "23",
    "ok",
    "echo 1234",
    "echo 12345678",
    "\xc3\xa9",
    "\xc3",
    "\xff",
    "caf\xc3\xa9",
    "FATAL",
    "\t",
};

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: small, fast, enough for picking tokens and splits. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng() % n);
}

typedef struct outcome {
    int rc;
    char *text;
} outcome;

/* As the console shows matched text: \r dropped, control bytes \xNN. */
static char *printable(const char *s, size_t len)
{
    char *out = malloc(len * 4 + 1);
    size_t o = 0;
    size_t i;

    assert_non_null(out);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f) || c >= 0x80) {
            out[o++] = (char)c;
        } else if (c != '\r') {
            o += (size_t)sprintf(out + o, "\\x%02x", c);
        }
    }
    out[o] = '\0';
    return out;
}

/* The console's compile options, written out independently. */
static pcre2_code *ref_compile(const char *pattern)
{
    uint32_t opts = 0;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_MULTILINE, &ec, &eo, NULL);

    assert_non_null(code);
    pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &opts);
    if (opts & PCRE2_UTF) {
        pcre2_code_free(code);
        code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_MULTILINE | PCRE2_MATCH_INVALID_UTF, &ec,
                             &eo, NULL);
        assert_non_null(code);
    }
    return code;
}

/* Match once on the whole log from off: 1 and *s, *e, or 0. */
static int ref_match(const char *pattern, const char *log, size_t len,
                     size_t off, size_t *s, size_t *e)
{
    pcre2_code *code = ref_compile(pattern);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    int rc = pcre2_match(code, (PCRE2_SPTR)log, len, off, 0, md, NULL);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

    assert_true(rc >= 0 || rc == PCRE2_ERROR_NOMATCH);
    if (rc >= 0) {
        *s = ov[0];
        *e = ov[1];
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return rc >= 0;
}

static void reference(const diff_case *c, size_t n_exp, const char *log,
                      size_t len, outcome *out)
{
    size_t fs = 0;
    size_t fe = 0;
    int failed = c->fail && ref_match(c->fail, log, len, 0, &fs, &fe);
    size_t pos = 0;
    size_t i;

    for (i = 0; i < N_EXPECTS; i++) {
        size_t s = 0;
        size_t e = 0;
        int hit = ref_match(c->expects[i % n_exp], log, len, pos, &s, &e);

        out[i].text = NULL;
        if (hit && (!failed || e <= fe)) {
            out[i].rc = 0;
            out[i].text = printable(log + s, e - s);
            pos = e;
        } else {
            out[i].rc = failed ? QHIL_EMATCH : QHIL_EEOF;
        }
    }
}

/* Expects at "now" until one is not there yet; *next: the next to try. */
static void stream_try(qhil_console *con, const diff_case *c, size_t n_exp,
                       outcome *out, size_t *next)
{
    while (*next < N_EXPECTS) {
        char *m = NULL;
        int rc = qhil_console_expect(con, c->expects[*next % n_exp], qhil_now(),
                                     &m, NULL);

        if (rc == QHIL_ETIMEDOUT) {
            free(m);
            return;
        }
        out[*next].rc = rc;
        out[*next].text = m;
        (*next)++;
    }
}

static void streamed(const diff_case *c, size_t n_exp, const char *log,
                     size_t len, const size_t *cuts, size_t n_cuts,
                     outcome *out)
{
    qhil_console *con = NULL;
    size_t next = 0;
    size_t at = 0;
    size_t i;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(qhil_console_new(sv[0], NULL, &con, NULL), 0);
    if (c->fail) {
        assert_int_equal(qhil_console_add_fail_pattern(con, c->fail, NULL), 0);
    }
    for (i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;

        if (to > at) {
            assert_int_equal(write(sv[1], log + at, to - at),
                             (ssize_t)(to - at));
        }
        at = to;
        stream_try(con, c, n_exp, out, &next);
    }
    close(sv[1]);
    stream_try(con, c, n_exp, out, &next);
    assert_int_equal(next, N_EXPECTS);
    qhil_console_free(con);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a;
    size_t y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

static void report_mismatch(const diff_case *c, const char *log, size_t len,
                            const size_t *cuts, size_t n_cuts, size_t i,
                            const outcome *ref, const outcome *got)
{
    size_t k;

    print_message("mismatch: expect %zu \"%s\" fail \"%s\": reference %d "
                  "\"%s\", streamed %d \"%s\"\n",
                  i, c->expects[0], c->fail ? c->fail : "", ref->rc,
                  ref->text ? ref->text : "", got->rc,
                  got->text ? got->text : "");
    print_message("  log:");
    for (k = 0; k < len; k++) {
        print_message(" %02x", (unsigned char)log[k]);
    }
    print_message("\n  cuts:");
    for (k = 0; k < n_cuts; k++) {
        print_message(" %zu", cuts[k]);
    }
    print_message("\n");
}

static void test_streaming_equals_whole_log(void **state)
{
    size_t n_cases = sizeof(cases) / sizeof(cases[0]);
    size_t runs = 0;
    size_t compared = 0;
    size_t mismatches = 0;
    size_t ci;

    (void)state;
    rng_state = 0x9e3779b97f4a7c15ull;
    for (ci = 0; ci < n_cases; ci++) {
        const diff_case *c = &cases[ci];
        size_t n_exp = 0;
        size_t li;

        while (c->expects[n_exp]) {
            assert_int_equal(
                qhil_console_pattern_check(c->expects[n_exp], NULL), 0);
            n_exp++;
        }
        for (li = 0; li < N_LOGS; li++) {
            char log[2048];
            size_t len = 0;
            size_t n_tok = 4 + rng_below(60);
            outcome ref[N_EXPECTS];
            size_t t;
            size_t si;

            for (t = 0; t < n_tok; t++) {
                const char *tok =
                    tokens[rng_below(sizeof(tokens) / sizeof(tokens[0]))];
                size_t tl = strlen(tok);

                if (len + tl >= sizeof(log)) {
                    break;
                }
                memcpy(log + len, tok, tl);
                len += tl;
            }
            reference(c, n_exp, log, len, ref);
            for (si = 0; si < N_SPLITS; si++) {
                size_t cuts[32];
                size_t n_cuts = si == 0 ? 0 : 1 + rng_below(31);
                outcome got[N_EXPECTS];
                size_t k;

                if (si == 1) {
                    /* One byte at a time, as far as cuts go. */
                    n_cuts = len < 32 ? len : 32;
                    for (k = 0; k < n_cuts; k++) {
                        cuts[k] = k;
                    }
                } else {
                    for (k = 0; k < n_cuts; k++) {
                        cuts[k] = rng_below(len + 1);
                    }
                    qsort(cuts, n_cuts, sizeof(cuts[0]), cmp_size);
                }
                streamed(c, n_exp, log, len, cuts, n_cuts, got);
                runs++;
                for (k = 0; k < N_EXPECTS; k++) {
                    compared++;
                    if (got[k].rc != ref[k].rc ||
                        (got[k].text == NULL) != (ref[k].text == NULL) ||
                        (got[k].text && strcmp(got[k].text, ref[k].text))) {
                        if (mismatches < 5) {
                            report_mismatch(c, log, len, cuts, n_cuts, k,
                                            &ref[k], &got[k]);
                        }
                        mismatches++;
                        break;
                    }
                }
                for (k = 0; k < N_EXPECTS; k++) {
                    free(got[k].text);
                }
            }
            for (t = 0; t < N_EXPECTS; t++) {
                free(ref[t].text);
            }
        }
    }
    print_message("console diff: %zu cases x %d logs x %d splits = %zu runs, "
                  "%zu expects compared, %zu mismatches\n",
                  n_cases, N_LOGS, N_SPLITS, runs, compared, mismatches);
    assert_int_equal(mismatches, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streaming_equals_whole_log),
    };

    return cmocka_run_group_tests_name("console_diff", tests, NULL, NULL);
}
