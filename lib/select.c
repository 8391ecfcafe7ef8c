/*
 * select.c - a run's tests and their order (qhil/select.h).
 *
 *   suite, opts -> check the globs and tags (empty, not a tag: refused)
 *               -> filters: keep[i] for each test (-t, -k, --tag; every
 *                  kind given must agree); none kept: refused, naming
 *                  the filters
 *               -> shard (shard.c) over the kept names; its answer, in
 *                  suite order, back to indices
 *               -> shuffle (splitmix64 + Fisher-Yates)
 *               -> repeat, each index r times in a row; every repeated
 *                  name checked against the suite's names
 *
 * Everything is a pure function of the suite's names and opts: no
 * clock, no rand(), no floating point, no state between calls.  The
 * random seed of a --shuffle without --seed is the caller's business.
 *
 * The bounded draw for a swap with j in [0, m) rejects the few draws
 * below 2^64 mod m (they would favour the small j) and takes the rest
 * mod m, so every permutation is equally likely and the sequence of
 * draws, hence the order, is fixed by the seed.
 */
#include <fnmatch.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/select.h>

#include "internal.h"

/* ---- the order's random source ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, m), m >= 1: draws below 2^64 mod m are thrown away,
 * so what is left is a whole number of runs of m values. */
static uint64_t draw_below(uint64_t *state, uint64_t m)
{
    uint64_t floor = -m % m;
    uint64_t x;

    do {
        x = splitmix64(state);
    } while (x < floor);
    return x % m;
}

void qhil_select_shuffle(size_t *v, size_t n, uint64_t seed)
{
    uint64_t state = seed;
    size_t i;

    for (i = n; i > 1; i--) {
        size_t j = (size_t)draw_below(&state, i);
        size_t t = v[i - 1];

        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* ---- numbers ---- */

/* Digits only, no leading zero but "0" itself, at most max. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *out,
                         const char **why)
{
    uint64_t x = 0;
    const char *p;

    if (!s || !*s) {
        *why = "no number given";
        return 0;
    }
    for (p = s; *p; p++) {
        unsigned d = (unsigned)(*p - '0');

        if (*p < '0' || *p > '9') {
            *why = *p == '-' && p == s ? "a negative number"
                                       : "not a decimal number";
            return 0;
        }
        if (x > (max - d) / 10) {
            *why = "too large";
            return 0;
        }
        x = x * 10 + d;
    }
    if (*s == '0' && s[1]) {
        *why = "starts with 0";
        return 0;
    }
    *out = x;
    return 1;
}

int qhil_select_parse_seed(const char *s, uint64_t *seed, qhil_error *err)
{
    const char *why = NULL;
    uint64_t v;

    if (!parse_decimal(s, UINT64_MAX, &v, &why)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "'%s': %s (expected a decimal number from 0 "
                              "to 18446744073709551615, as a shuffled run "
                              "prints it)",
                              s ? s : "", why);
    }
    *seed = v;
    return QHIL_EOK;
}

int qhil_select_parse_repeat(const char *s, unsigned *n, qhil_error *err)
{
    const char *why = NULL;
    uint64_t v = 0;

    if (!parse_decimal(s, QHIL_REPEAT_MAX, &v, &why) || v == 0) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "'%s': %s (expected how many times to run "
                              "each test, 1 to %u)",
                              s ? s : "", why ? why : "0 runs nothing",
                              QHIL_REPEAT_MAX);
    }
    *n = (unsigned)v;
    return QHIL_EOK;
}

/* ---- names ---- */

/* Test indices sorted by name, for lookups by name. */
typedef struct by_name_index {
    const qhil_suite *suite;
    size_t *idx;
} by_name_index;

static int cmp_index_name(const void *a, const void *b, void *suite)
{
    const qhil_suite *s = suite;

    return strcmp(s->tests[*(const size_t *)a].name,
                  s->tests[*(const size_t *)b].name);
}

static int index_build(by_name_index *ix, const qhil_suite *suite)
{
    size_t i;

    ix->suite = suite;
    ix->idx = malloc((suite->n_tests + 1) * sizeof(*ix->idx));
    if (!ix->idx) {
        return QHIL_ENOMEM;
    }
    for (i = 0; i < suite->n_tests; i++) {
        ix->idx[i] = i;
    }
    qsort_r(ix->idx, suite->n_tests, sizeof(*ix->idx), cmp_index_name,
            (void *)suite);
    return QHIL_EOK;
}

/* The index of the test named name, or (size_t)-1. */
static size_t index_find(const by_name_index *ix, const char *name)
{
    size_t lo = 0;
    size_t hi = ix->suite->n_tests;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix->suite->tests[ix->idx[mid]].name, name);

        if (c == 0) {
            return ix->idx[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (size_t)-1;
}

static char *run_name(const char *name, size_t k, size_t m)
{
    char *s = NULL;

    if (m <= 1) {
        return strdup(name);
    }
    if (asprintf(&s, "%s [%zu/%zu]", name, k, m) < 0) {
        return NULL;
    }
    return s;
}

void qhil_select_names_free(char **names)
{
    size_t i;

    for (i = 0; names && names[i]; i++) {
        free(names[i]);
    }
    free(names);
}

int qhil_select_names(const qhil_suite *suite, const size_t *order, size_t n,
                      char ***names, qhil_error *err)
{
    size_t *total = calloc(suite->n_tests + 1, sizeof(*total));
    size_t *seen = calloc(suite->n_tests + 1, sizeof(*seen));
    char **v = calloc(n + 1, sizeof(*v));
    size_t i;
    int rc;

    *names = NULL;
    if (!total || !seen || !v) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n; i++) {
        if (order[i] >= suite->n_tests) {
            rc = qhil_error_set(err, QHIL_EINVAL,
                                "%s: entry %zu of the order is test %zu, "
                                "the suite has %zu",
                                suite->path ? suite->path : "suite", i,
                                order[i], suite->n_tests);
            goto cleanup;
        }
        total[order[i]]++;
    }
    for (i = 0; i < n; i++) {
        size_t t = order[i];

        v[i] = run_name(suite->tests[t].name, ++seen[t], total[t]);
        if (!v[i]) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    *names = v;
    v = NULL;
    rc = QHIL_EOK;

cleanup:
    qhil_select_names_free(v);
    free(total);
    free(seen);
    return rc;
}

/* ---- the selection ---- */

static bool any_glob(const char *const *globs, const char *name)
{
    size_t i;

    for (i = 0; globs[i]; i++) {
        if (fnmatch(globs[i], name, 0) == 0) {
            return true;
        }
    }
    return false;
}

static bool any_tag(const char *const *tags, const qhil_test *t)
{
    size_t i;

    for (i = 0; tags[i]; i++) {
        if (qhil_test_has_tag(t, tags[i])) {
            return true;
        }
    }
    return false;
}

static int check_filters(const qhil_select_opts *o, qhil_error *err)
{
    const char *why = NULL;
    size_t i;

    for (i = 0; o->globs && o->globs[i]; i++) {
        if (!*o->globs[i]) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "-k '': an empty pattern matches no test "
                                  "name (use -k '*' for all)");
        }
    }
    for (i = 0; o->tags && o->tags[i]; i++) {
        if (!qhil_tag_valid(o->tags[i], &why)) {
            return qhil_error_set(err, QHIL_EINVAL, "--tag '%s': %s",
                                  o->tags[i], why);
        }
    }
    return QHIL_EOK;
}

/* "-k 'a*' --tag slow -t x", for the message of an empty selection. */
static char *filters_text(const qhil_select_opts *o)
{
    static const char *const flag[] = {"-k", "--tag", "-t"};
    const char *const *lists[] = {o->globs, o->tags, o->only};
    qhil_buf b;
    size_t i, j;

    qhil_buf_init(&b, 4096);
    for (i = 0; i < 3; i++) {
        for (j = 0; lists[i] && lists[i][j]; j++) {
            if (qhil_buf_printf(&b, "%s%s '%s'", b.len ? " " : "", flag[i],
                                lists[i][j]) < 0) {
                break;
            }
        }
    }
    return qhil_buf_steal(&b);
}

/* keep[i]: test i passes the filters.  The number kept in *n_kept. */
static int apply_filters(const qhil_suite *suite, const qhil_select_opts *o,
                         const by_name_index *ix, bool *keep, size_t *n_kept,
                         qhil_error *err)
{
    bool *named = NULL;
    size_t i;

    *n_kept = 0;
    if (o->only) {
        named = calloc(suite->n_tests + 1, sizeof(*named));
        if (!named) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        for (i = 0; o->only[i]; i++) {
            size_t t = index_find(ix, o->only[i]);

            if (t == (size_t)-1) {
                free(named);
                return qhil_error_set(
                    err, QHIL_EINVAL, "%s: no test named '%s'",
                    suite->path ? suite->path : "suite", o->only[i]);
            }
            named[t] = true;
        }
    }
    for (i = 0; i < suite->n_tests; i++) {
        const qhil_test *t = &suite->tests[i];

        keep[i] = (!named || named[i]) &&
                  (!o->globs || !o->globs[0] || any_glob(o->globs, t->name)) &&
                  (!o->tags || !o->tags[0] || any_tag(o->tags, t));
        *n_kept += keep[i];
    }
    free(named);
    return QHIL_EOK;
}

/* Shard K of N of the kept tests, as indices in suite order. */
static int apply_shard(const qhil_suite *suite, const qhil_select_opts *o,
                       const bool *keep, size_t n_kept, size_t *out,
                       size_t *n_out, qhil_error *err)
{
    const char **names = calloc(n_kept + 1, sizeof(*names));
    const char **mine = NULL;
    size_t n_mine = 0;
    size_t i, j;
    int rc;

    if (!names) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0, j = 0; i < suite->n_tests; i++) {
        if (keep[i]) {
            names[j++] = suite->tests[i].name;
        }
    }
    rc = qhil_shard_select(suite, names, o->shard_k, o->shard_n, o->durations,
                           &mine, &n_mine, err);
    if (rc < 0) {
        free(names);
        return rc;
    }
    /* Both in suite order, the strings the suite's own. */
    for (i = 0, j = 0; i < suite->n_tests && j < n_mine; i++) {
        if (suite->tests[i].name == mine[j]) {
            out[j++] = i;
        }
    }
    *n_out = j;
    free(names);
    free(mine);
    return QHIL_EOK;
}

/* No "NAME [k/r]" may be another test's name. */
static int check_repeat_names(const qhil_suite *suite, const by_name_index *ix,
                              const size_t *sel, size_t n, unsigned r,
                              qhil_error *err)
{
    size_t i;
    unsigned k;

    for (i = 0; i < n; i++) {
        for (k = 1; k <= r; k++) {
            char *name = run_name(suite->tests[sel[i]].name, k, r);
            size_t hit;

            if (!name) {
                return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            }
            hit = index_find(ix, name);
            if (hit != (size_t)-1) {
                int rc = qhil_error_set(
                    err, QHIL_EINVAL,
                    "--repeat %u: run %u of test '%s' would be named '%s', "
                    "the name of the test at %s:%d; rename that test",
                    r, k, suite->tests[sel[i]].name, name,
                    suite->path ? suite->path : "suite",
                    suite->tests[hit].line);

                free(name);
                return rc;
            }
            free(name);
        }
    }
    return QHIL_EOK;
}

int qhil_select(const qhil_suite *suite, const qhil_select_opts *opts,
                size_t **order, size_t *n_order, qhil_error *err)
{
    static const qhil_select_opts none = {0};
    const qhil_select_opts *o = opts ? opts : &none;
    by_name_index ix = {0};
    bool *keep = NULL;
    size_t *sel = NULL;
    size_t *out = NULL;
    size_t n_kept = 0;
    size_t n_sel = 0;
    unsigned r = o->repeat ? o->repeat : 1;
    size_t i, j;
    int rc;

    *order = NULL;
    *n_order = 0;
    if (r > QHIL_REPEAT_MAX) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "--repeat %u: at most %u runs of each test", r,
                              QHIL_REPEAT_MAX);
    }
    rc = check_filters(o, err);
    if (rc < 0) {
        return rc;
    }
    keep = calloc(suite->n_tests + 1, sizeof(*keep));
    sel = calloc(suite->n_tests + 1, sizeof(*sel));
    if (!keep || !sel || index_build(&ix, suite) < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = apply_filters(suite, o, &ix, keep, &n_kept, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (n_kept == 0) {
        char *what = filters_text(o);

        rc = qhil_error_set(err, QHIL_EINVAL,
                            "%s: no test of %s matches (%zu test%s in the "
                            "suite); nothing was run",
                            what && *what ? what : "the selection",
                            suite->path ? suite->path : "the suite",
                            suite->n_tests, suite->n_tests == 1 ? "" : "s");
        free(what);
        goto cleanup;
    }
    if (o->shard_n) {
        rc = apply_shard(suite, o, keep, n_kept, sel, &n_sel, err);
        if (rc < 0) {
            goto cleanup;
        }
    } else {
        for (i = 0; i < suite->n_tests; i++) {
            if (keep[i]) {
                sel[n_sel++] = i;
            }
        }
    }
    if (o->shuffle) {
        qhil_select_shuffle(sel, n_sel, o->seed);
    }
    if (n_sel > QHIL_ORDER_MAX / r) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "--repeat %u: %zu tests x %u runs is over the "
                            "limit of %u runs",
                            r, n_sel, r, QHIL_ORDER_MAX);
        goto cleanup;
    }
    if (r > 1) {
        rc = check_repeat_names(suite, &ix, sel, n_sel, r, err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    out = malloc((n_sel * r + 1) * sizeof(*out));
    if (!out) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n_sel; i++) {
        for (j = 0; j < r; j++) {
            out[i * r + j] = sel[i];
        }
    }
    *order = out;
    *n_order = n_sel * r;
    rc = QHIL_EOK;

cleanup:
    free(keep);
    free(sel);
    free(ix.idx);
    return rc;
}
