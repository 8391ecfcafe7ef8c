/*
 * shard.c - one runner's share of a suite, and the durations it is
 * balanced by (qhil/shard.h).
 *
 * Everything here is a pure function of its input, so that N runners
 * that never talk to each other agree on the split:
 *
 *   spec "K/N"  -> qhil_shard_parse: digits only, no sign, no space, no
 *                  leading zero, 1 <= K <= N <= 10000
 *   JUnit file  -> qhil_durations_load: read by junit_read.c (at most
 *                  64 MiB); <testcase name time> of a <testsuite>;
 *                  sorted by name, a name seen twice keeps its longest
 *                  time
 *   suite, only -> qhil_shard_select: the selected tests, each weighted
 *                  (recorded time, else the file's median, else 1 s),
 *                  heaviest first (ties by name) onto the least loaded
 *                  shard (ties: fewer tests, then lower number), a
 *                  binary heap of the N shards; shard K's tests back in
 *                  suite order
 *
 * No floating point: times are integer ns from the decimal text, loads
 * are saturating uint64_t sums, so an i386 runner and an aarch64 runner
 * take the same decisions.  The order of the durations file cannot
 * matter: its entries are sorted by name before anything reads them,
 * and a duplicate keeps the maximum, which does not depend on order.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/shard.h>

#include "junit_read.h"

#define DURATIONS_FILE_MAX (64u << 20) /* bytes */
#define DEFAULT_WEIGHT_NS 1000000000LL

/* ---- the spec ---- */

/* One number of the spec: [1-9][0-9]* up to QHIL_SHARD_MAX; *end after
 * it.  0 and the reason in *why on failure. */
static int spec_number(const char *s, const char **end, unsigned *v, bool is_k,
                       const char **why)
{
    unsigned long x = 0;
    const char *p = s;

    if (*p < '0' || *p > '9') {
        *why = is_k ? "K is not a decimal number" : "N is not a decimal number";
        return 0;
    }
    if (*p == '0' && p[1] >= '0' && p[1] <= '9') {
        *why = is_k ? "K starts with 0" : "N starts with 0";
        return 0;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x <= QHIL_SHARD_MAX) {
            x = x * 10 + (unsigned long)(*p - '0');
        }
    }
    *end = p;
    *v = x > QHIL_SHARD_MAX ? QHIL_SHARD_MAX + 1 : (unsigned)x;
    return 1;
}

int qhil_shard_parse(const char *spec, unsigned *k, unsigned *n,
                     qhil_error *err)
{
    const char *why = NULL;
    const char *p = spec;
    unsigned kk = 0;
    unsigned nn = 0;

    if (!spec) {
        return qhil_error_set(err, QHIL_EINVAL, "no shard spec given");
    }
    if (!spec_number(p, &p, &kk, true, &why)) {
        goto bad;
    }
    if (*p != '/') {
        why = "no '/' after K";
        goto bad;
    }
    p++;
    if (!spec_number(p, &p, &nn, false, &why)) {
        goto bad;
    }
    if (*p) {
        why = "unexpected text after N";
        goto bad;
    }
    if (nn == 0) {
        why = "N must be at least 1";
        goto bad;
    }
    if (nn > QHIL_SHARD_MAX) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "'%s': N is over the limit of %u shards", spec,
                              QHIL_SHARD_MAX);
    }
    if (kk == 0 || kk > nn) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "'%s': K must be 1 to N (1 to %u)", spec, nn);
    }
    *k = kk;
    *n = nn;
    return QHIL_EOK;

bad:
    return qhil_error_set(err, QHIL_EINVAL,
                          "'%s': %s (expected K/N, two decimal numbers "
                          "with 1 <= K <= N, such as 2/4)",
                          spec, why);
}

/* ---- durations ---- */

typedef struct duration {
    char *name;
    int64_t ns;
} duration;

struct qhil_durations {
    duration *items; /* sorted by name, names distinct */
    size_t n;
    int64_t median_ns;
};

/* What the walk collects; the first error stops the read and stays. */
typedef struct load_ctx {
    duration *items;
    size_t n, cap;
} load_ctx;

static void testcase_seen(qhil_junit_reader *r, void *ud, const char *name,
                          const char **attrs)
{
    load_ctx *c = ud;
    const char *time = qhil_junit_attr(attrs, "time");
    int64_t ns = 0;

    if (!time) {
        qhil_junit_read_fail(r, QHIL_ESYNTAX,
                             "<testcase name=\"%s\"> has no time attribute",
                             name);
        return;
    }
    if (!qhil_junit_seconds(time, QHIL_DURATION_MAX_NS, &ns)) {
        qhil_junit_read_fail(r, QHIL_ESYNTAX,
                             "<testcase> time=\"%s\": expected seconds as a "
                             "decimal number from 0 to 1000000",
                             time);
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        duration *grown = realloc(c->items, cap * sizeof(*grown));

        if (!grown) {
            qhil_junit_read_fail(r, QHIL_ENOMEM, "out of memory");
            return;
        }
        c->items = grown;
        c->cap = cap;
    }
    c->items[c->n].name = strdup(name);
    if (!c->items[c->n].name) {
        qhil_junit_read_fail(r, QHIL_ENOMEM, "out of memory");
        return;
    }
    c->items[c->n++].ns = ns;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const duration *)a)->name, ((const duration *)b)->name);
}

static int by_ns(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Sort by name, keep each name's longest time, compute the median. */
static int durations_finish(qhil_durations *d)
{
    int64_t *times;
    size_t i, j;

    if (d->n == 0) {
        d->median_ns = DEFAULT_WEIGHT_NS;
        return QHIL_EOK;
    }
    qsort(d->items, d->n, sizeof(*d->items), by_name);
    for (i = 0, j = 0; i < d->n; i++) {
        if (j > 0 && strcmp(d->items[j - 1].name, d->items[i].name) == 0) {
            if (d->items[i].ns > d->items[j - 1].ns) {
                d->items[j - 1].ns = d->items[i].ns;
            }
            free(d->items[i].name);
            continue;
        }
        d->items[j++] = d->items[i];
    }
    d->n = j;
    times = malloc(d->n * sizeof(*times));
    if (!times) {
        return QHIL_ENOMEM;
    }
    for (i = 0; i < d->n; i++) {
        times[i] = d->items[i].ns;
    }
    qsort(times, d->n, sizeof(*times), by_ns);
    d->median_ns = d->n % 2 ? times[d->n / 2]
                            : times[d->n / 2 - 1] +
                                  (times[d->n / 2] - times[d->n / 2 - 1]) / 2;
    free(times);
    return QHIL_EOK;
}

int qhil_durations_load(const char *path, qhil_durations **out, qhil_error *err)
{
    static const qhil_junit_read_ops ops = {.case_begin = testcase_seen};
    load_ctx c = {0};
    qhil_durations *d = NULL;
    int rc;

    *out = NULL;
    rc = qhil_junit_read(path, DURATIONS_FILE_MAX, &ops, &c, err);
    if (rc < 0) {
        goto cleanup;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    d->items = c.items;
    d->n = c.n;
    c.items = NULL;
    c.n = 0;
    rc = durations_finish(d);
    if (rc < 0) {
        qhil_error_set(err, rc, "out of memory");
        qhil_durations_free(d);
        goto cleanup;
    }
    *out = d;
    rc = QHIL_EOK;

cleanup:
    while (c.n > 0) {
        free(c.items[--c.n].name);
    }
    free(c.items);
    return rc;
}

void qhil_durations_free(qhil_durations *d)
{
    size_t i;

    if (!d) {
        return;
    }
    for (i = 0; i < d->n; i++) {
        free(d->items[i].name);
    }
    free(d->items);
    free(d);
}

size_t qhil_durations_count(const qhil_durations *d)
{
    return d ? d->n : 0;
}

int qhil_durations_get(const qhil_durations *d, const char *name, int64_t *ns)
{
    duration key = {.name = (char *)name};
    const duration *hit;

    if (!d || !d->n || !name) {
        return 0;
    }
    hit = bsearch(&key, d->items, d->n, sizeof(*d->items), by_name);
    if (!hit) {
        return 0;
    }
    *ns = hit->ns;
    return 1;
}

int64_t qhil_durations_median(const qhil_durations *d)
{
    return d && d->n ? d->median_ns : DEFAULT_WEIGHT_NS;
}

/* ---- the split ---- */

typedef struct item {
    const char *name;
    size_t index; /* in suite->tests */
    int64_t weight;
} item;

typedef struct bin {
    uint64_t load;
    size_t count;
    unsigned id; /* 0-based */
} bin;

static int heaviest_first(const void *a, const void *b)
{
    const item *x = a;
    const item *y = b;

    if (x->weight != y->weight) {
        return x->weight > y->weight ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static int by_item_name(const void *a, const void *b)
{
    return strcmp(((const item *)a)->name, ((const item *)b)->name);
}

static int by_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a;
    size_t y = *(const size_t *)b;

    return (x > y) - (x < y);
}

/* The shard that takes the next test: least load, then fewest tests,
 * then lowest number. */
static bool bin_before(const bin *a, const bin *b)
{
    if (a->load != b->load) {
        return a->load < b->load;
    }
    if (a->count != b->count) {
        return a->count < b->count;
    }
    return a->id < b->id;
}

/* Restore the heap after heap[0] grew. */
static void bin_sift_down(bin *heap, size_t n)
{
    size_t i = 0;

    for (;;) {
        size_t l = 2 * i + 1;
        size_t r = l + 1;
        size_t m = i;
        bin t;

        if (l < n && bin_before(&heap[l], &heap[m])) {
            m = l;
        }
        if (r < n && bin_before(&heap[r], &heap[m])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

int qhil_shard_select(const qhil_suite *suite, const char *const *only,
                      unsigned k, unsigned n, const qhil_durations *d,
                      const char ***names_out, size_t *n_out, qhil_error *err)
{
    item *items = NULL;
    bool *chosen = NULL;
    bin *heap = NULL;
    size_t *mine = NULL;
    const char **names = NULL;
    size_t n_items = 0;
    size_t n_mine = 0;
    int64_t fallback = qhil_durations_median(d);
    size_t i;
    int rc;

    *names_out = NULL;
    if (n < 1 || n > QHIL_SHARD_MAX || k < 1 || k > n) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "shard %u/%u: K must be 1 to N and N 1 to %u", k,
                              n, QHIL_SHARD_MAX);
    }
    items = calloc(suite->n_tests + 1, sizeof(*items));
    chosen = calloc(suite->n_tests + 1, sizeof(*chosen));
    heap = calloc(n, sizeof(*heap));
    mine = calloc(suite->n_tests + 1, sizeof(*mine));
    if (!items || !chosen || !heap || !mine) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* The selection: every test, or the ones named in only (found by
     * name in a sorted copy, so a long -t list stays cheap). */
    for (i = 0; i < suite->n_tests; i++) {
        items[i].name = suite->tests[i].name;
        items[i].index = i;
    }
    qsort(items, suite->n_tests, sizeof(*items), by_item_name);
    for (i = 0; only && only[i]; i++) {
        item key = {.name = only[i]};
        const item *hit =
            bsearch(&key, items, suite->n_tests, sizeof(*items), by_item_name);

        if (!hit) {
            rc = qhil_error_set(err, QHIL_EINVAL, "%s: no test named '%s'",
                                suite->path ? suite->path : "suite", only[i]);
            goto cleanup;
        }
        chosen[hit->index] = true;
    }
    for (i = 0; i < suite->n_tests; i++) {
        size_t t = items[i].index;

        if (only && !chosen[t]) {
            continue;
        }
        items[n_items] = items[i];
        if (!qhil_durations_get(d, items[n_items].name,
                                &items[n_items].weight)) {
            items[n_items].weight = fallback;
        }
        n_items++;
    }
    qsort(items, n_items, sizeof(*items), heaviest_first);
    /* All shards empty: the heap order is the id order. */
    for (i = 0; i < n; i++) {
        heap[i].id = (unsigned)i;
    }
    for (i = 0; i < n_items; i++) {
        uint64_t w = (uint64_t)items[i].weight;

        heap[0].load =
            heap[0].load > UINT64_MAX - w ? UINT64_MAX : heap[0].load + w;
        heap[0].count++;
        if (heap[0].id == k - 1) {
            mine[n_mine++] = items[i].index;
        }
        bin_sift_down(heap, n);
    }
    qsort(mine, n_mine, sizeof(*mine), by_index);
    names = calloc(n_mine + 1, sizeof(*names));
    if (!names) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n_mine; i++) {
        names[i] = suite->tests[mine[i]].name;
    }
    *names_out = names;
    if (n_out) {
        *n_out = n_mine;
    }
    rc = QHIL_EOK;

cleanup:
    free(items);
    free(chosen);
    free(heap);
    free(mine);
    return rc;
}
