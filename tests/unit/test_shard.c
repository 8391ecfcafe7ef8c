/*
 * test_shard.c - the split of a suite over N runners and the durations
 * it is balanced by: every test in exactly one shard for many suites and
 * N, with and without durations and -t; the same split whatever the
 * order of the suite or of the durations file; balance on a skewed
 * 200-test suite; shard specs that must be refused; durations files that
 * must be refused (missing, FIFO without blocking, folder, too big, not
 * XML, a DTD, XML that is not JUnit, bad times), and the median.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include <qhil/shard.h>

static char *tmp_dir;

/* A suite with only what the split reads: names (and a path). */
/* Tests named PREFIX followed by 0..n-1, zero-padded to width. */
static qhil_suite *suite_make(size_t n, const char *prefix, int width)
{
    qhil_suite *s = calloc(1, sizeof(*s));
    size_t i;

    assert_non_null(s);
    s->path = strdup("mem.yaml");
    s->tests = calloc(n + 1, sizeof(*s->tests));
    assert_non_null(s->tests);
    for (i = 0; i < n; i++) {
        assert_true(asprintf(&s->tests[i].name, "%s%0*zu", prefix, width, i) >
                    0);
        s->tests[i].line = (int)i + 1;
    }
    s->n_tests = n;
    return s;
}

static void suite_drop(qhil_suite *s)
{
    size_t i;

    for (i = 0; i < s->n_tests; i++) {
        free(s->tests[i].name);
    }
    free(s->tests);
    free(s->path);
    free(s);
}

/* Reverse the order of the suite's tests (names keep their lines). */
static void suite_reverse(qhil_suite *s)
{
    size_t i;

    for (i = 0; i < s->n_tests / 2; i++) {
        qhil_test t = s->tests[i];

        s->tests[i] = s->tests[s->n_tests - 1 - i];
        s->tests[s->n_tests - 1 - i] = t;
    }
}

static char *write_file(const char *name, const char *text)
{
    char *path = NULL;
    FILE *f;

    assert_true(asprintf(&path, "%s/%s", tmp_dir, name) > 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* JUnit text for tests name_fmt % idx[i] with times ms[i]. */
static char *junit_text(const qhil_suite *s, const size_t *order,
                        const int64_t *ms, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    size_t i;

    assert_non_null(f);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
          "  <testsuite name=\"gen\" tests=\"1\">\n",
          f);
    for (i = 0; i < n; i++) {
        size_t t = order ? order[i] : i;

        fprintf(f,
                "    <testcase classname=\"gen\" name=\"%s\" "
                "time=\"%lld.%03lld\"/>\n",
                s->tests[t].name, (long long)(ms[t] / 1000),
                (long long)(ms[t] % 1000));
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    assert_int_equal(fclose(f), 0);
    return text;
}

static qhil_durations *load_ok(const char *path)
{
    qhil_durations *d = NULL;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_durations_load(path, &d, &e);
    if (rc < 0) {
        fail_msg("%s: %s", path, qhil_error_message(&e, rc));
    }
    qhil_error_release(&e);
    return d;
}

/* Load must fail with code and a message containing want. */
static void load_bad(const char *path, int code, const char *want)
{
    qhil_durations *d = (qhil_durations *)&d;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_durations_load(path, &d, &e);
    assert_int_equal(rc, code);
    assert_null(d);
    assert_contains(e.message, want);
    assert_contains(e.message, path);
    qhil_error_release(&e);
}

/* shard_of[i] for every test of s, over all n shards; checks each shard
 * comes out in suite order. */
static void split(const qhil_suite *s, const char *const *only, unsigned n,
                  const qhil_durations *d, int *shard_of)
{
    unsigned k;
    size_t i;

    for (i = 0; i < s->n_tests; i++) {
        shard_of[i] = -1;
    }
    for (k = 1; k <= n; k++) {
        const char **names = NULL;
        size_t count = 99;
        size_t last = 0;
        size_t j;

        assert_int_equal(
            qhil_shard_select(s, only, k, n, d, &names, &count, NULL), 0);
        assert_non_null(names);
        for (j = 0; names[j]; j++) {
            for (i = 0; i < s->n_tests; i++) {
                if (s->tests[i].name == names[j]) {
                    break;
                }
            }
            assert_true(i < s->n_tests);
            if (shard_of[i] != -1) {
                fail_msg("%s in shard %d and %u of %u", names[j], shard_of[i],
                         k, n);
            }
            shard_of[i] = (int)k;
            if (j > 0) {
                assert_true(i > last); /* suite order */
            }
            last = i;
        }
        assert_int_equal(j, count);
        free(names);
    }
}

/* ---- specs ---- */

static void test_parse_good(void **state)
{
    static const struct {
        const char *spec;
        unsigned k, n;
    } good[] = {
        {"1/1", 1, 1},         {"1/2", 1, 2},
        {"2/2", 2, 2},         {"7/13", 7, 13},
        {"1/10000", 1, 10000}, {"10000/10000", 10000, 10000},
        {"10/100", 10, 100},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        unsigned k = 0, n = 0;

        assert_int_equal(qhil_shard_parse(good[i].spec, &k, &n, NULL), 0);
        assert_int_equal(k, good[i].k);
        assert_int_equal(n, good[i].n);
    }
}

static void test_parse_bad(void **state)
{
    static const struct {
        const char *spec;
        const char *why;
    } bad[] = {
        {"3/2", "K must be 1 to N"},
        {"0/2", "K must be 1 to N"},
        {"0/0", "N must be at least 1"},
        {"1/0", "N must be at least 1"},
        {"a/b", "K is not a decimal number"},
        {"1/b", "N is not a decimal number"},
        {"/2", "K is not a decimal number"},
        {"1/", "N is not a decimal number"},
        {"1", "no '/' after K"},
        {"", "K is not a decimal number"},
        {"1/2/3", "unexpected text after N"},
        {" 1/2", "K is not a decimal number"},
        {"1/2 ", "unexpected text after N"},
        {"1 /2", "no '/' after K"},
        {"+1/2", "K is not a decimal number"},
        {"-1/2", "K is not a decimal number"},
        {"1/+2", "N is not a decimal number"},
        {"01/2", "K starts with 0"},
        {"1/02", "N starts with 0"},
        {"1/10001", "over the limit of 10000"},
        {"1/4294967297", "over the limit of 10000"}, /* 2^32 + 1 */
        {"1/99999999999999999999999", "over the limit of 10000"},
        {"4294967297/2", "K must be 1 to N"},
        {"0x1/2", "no '/' after K"},
        {"1.0/2", "no '/' after K"},
        {"1/2\n", "unexpected text after N"},
        {"\xd9\xa1/2", "K is not a decimal number"}, /* Arabic-Indic 1 */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned k = 77, n = 77;
        qhil_error e;

        qhil_error_init(&e);
        assert_int_equal(qhil_shard_parse(bad[i].spec, &k, &n, &e),
                         QHIL_EINVAL);
        assert_contains(e.message, bad[i].why);
        assert_int_equal(k, 77);
        assert_int_equal(n, 77);
        qhil_error_release(&e);
    }
    assert_int_equal(qhil_shard_parse(NULL, NULL, NULL, NULL), QHIL_EINVAL);
}

/* ---- the split ---- */

/* Every test exactly once over all K, for many suites and N, with and
 * without durations. */
static void test_partition(void **state)
{
    static const size_t sizes[] = {0, 1, 2, 3, 5, 17, 64, 257};
    static const unsigned ns[] = {1, 2, 3, 4, 5, 7, 8, 16, 33, 100, 300};
    size_t si, ni, i;

    (void)state;
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        qhil_suite *s = suite_make(sizes[si], "t-", 0);
        int64_t *ms = calloc(sizes[si] + 1, sizeof(*ms));
        int *shard_of = calloc(sizes[si] + 1, sizeof(*shard_of));
        qhil_durations *d;
        char *text, *path;

        for (i = 0; i < sizes[si]; i++) {
            ms[i] = (int64_t)((i * 7919) % 5000); /* 0 included */
        }
        /* Only half of them recorded: the others get the median. */
        text = junit_text(s, NULL, ms, sizes[si] / 2);
        path = write_file("part.xml", text);
        d = load_ok(path);
        for (ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++) {
            int pass;

            for (pass = 0; pass < 2; pass++) {
                split(s, NULL, ns[ni], pass ? d : NULL, shard_of);
                for (i = 0; i < sizes[si]; i++) {
                    if (shard_of[i] < 1) {
                        fail_msg("%s in no shard of %u", s->tests[i].name,
                                 ns[ni]);
                    }
                }
            }
        }
        qhil_durations_free(d);
        free(text);
        free(path);
        free(ms);
        free(shard_of);
        suite_drop(s);
    }
}

/* No durations: the names in strcmp order, dealt round-robin. */
static void test_no_durations_round_robin(void **state)
{
    qhil_suite *s = suite_make(7, "n", 0);
    /* strcmp order n0 n1 n2 n3 n4 n5 n6; suite order reversed below. */
    int shard_of[7];
    size_t i;

    (void)state;
    suite_reverse(s);
    split(s, NULL, 3, NULL, shard_of);
    for (i = 0; i < 7; i++) {
        int idx = atoi(s->tests[i].name + 1);

        assert_int_equal(shard_of[i], idx % 3 + 1);
    }
    suite_drop(s);
}

/* The split depends on the names, not on where they are in the suite. */
static void test_suite_order_does_not_matter(void **state)
{
    qhil_suite *a = suite_make(50, "case-", 0);
    qhil_suite *b = suite_make(50, "case-", 0);
    int64_t ms[50];
    int sa[50], sb[50];
    qhil_durations *d;
    char *text, *path;
    size_t i;

    (void)state;
    for (i = 0; i < 50; i++) {
        ms[i] = (int64_t)(1 + (i * i * 37) % 900);
    }
    text = junit_text(a, NULL, ms, 40);
    path = write_file("order.xml", text);
    d = load_ok(path);
    suite_reverse(b);
    split(a, NULL, 4, d, sa);
    split(b, NULL, 4, d, sb);
    for (i = 0; i < 50; i++) {
        assert_int_equal(sa[i], sb[49 - i]);
    }
    qhil_durations_free(d);
    free(text);
    free(path);
    suite_drop(a);
    suite_drop(b);
}

/* Reordering the durations file (and duplicating a line with a shorter
 * time) changes nothing. */
static void test_durations_order_does_not_matter(void **state)
{
    enum { T = 120 };
    qhil_suite *s = suite_make(T, "x", 0);
    size_t order[T + 1];
    int64_t ms[T + 1];
    int first[T], again[T];
    unsigned seed = 12345;
    unsigned n;
    size_t i;
    char *t1, *t2, *p1, *p2;
    qhil_durations *d1, *d2;

    (void)state;
    for (i = 0; i < T; i++) {
        order[i] = i;
        seed = seed * 1103515245u + 12345u;
        ms[i] = (int64_t)(seed >> 16) % 20000;
    }
    t1 = junit_text(s, order, ms, T);
    for (i = T - 1; i > 0; i--) { /* Fisher-Yates, fixed seed */
        size_t j, t;

        seed = seed * 1103515245u + 12345u;
        j = (seed >> 16) % (i + 1);
        t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    t2 = junit_text(s, order, ms, T);
    p1 = write_file("d1.xml", t1);
    p2 = write_file("d2.xml", t2);
    d1 = load_ok(p1);
    d2 = load_ok(p2);
    assert_int_equal(qhil_durations_count(d1), T);
    assert_int_equal(qhil_durations_median(d1), qhil_durations_median(d2));
    for (n = 2; n <= 9; n++) {
        split(s, NULL, n, d1, first);
        split(s, NULL, n, d2, again);
        assert_memory_equal(first, again, sizeof(first));
    }
    qhil_durations_free(d1);
    qhil_durations_free(d2);
    free(t1);
    free(t2);
    free(p1);
    free(p2);
    suite_drop(s);
}

/* Largest shard over the mean, totals from the recorded times. */
static double imbalance(const qhil_suite *s, unsigned n,
                        const qhil_durations *d)
{
    int shard_of[200];
    int64_t total[16] = {0};
    int64_t sum = 0, max = 0;
    size_t i;
    unsigned k;

    split(s, NULL, n, d, shard_of);
    for (i = 0; i < s->n_tests; i++) {
        int64_t ns = 0;

        assert_true(qhil_durations_get(d, s->tests[i].name, &ns));
        total[shard_of[i] - 1] += ns;
        sum += ns;
    }
    for (k = 0; k < n; k++) {
        max = total[k] > max ? total[k] : max;
    }
    return (double)max / ((double)sum / n);
}

/* 200 tests, durations skewed (Pareto-like, seeded): largest shard at
 * most 1.1 times the mean for N = 2, 3, 4, 8. */
static void test_balance(void **state)
{
    qhil_suite *s = suite_make(200, "bal-", 3);
    int64_t ms[200];
    unsigned seed = 42;
    unsigned ns[] = {2, 3, 4, 8};
    qhil_durations *d;
    char *text, *path;
    size_t i;

    (void)state;
    for (i = 0; i < 200; i++) {
        int64_t r;

        seed = seed * 1103515245u + 12345u;
        r = (int64_t)((seed >> 8) % 1000);
        /* The cube of a uniform draw: most tests short, a few 20 s. */
        ms[i] = 100 + r * r * r / 50000;
    }
    text = junit_text(s, NULL, ms, 200);
    path = write_file("bal.xml", text);
    d = load_ok(path);
    for (i = 0; i < 4; i++) {
        double r = imbalance(s, ns[i], d);

        if (r > 1.1) {
            fail_msg("N=%u: largest shard %.3f x the mean", ns[i], r);
        }
    }
    qhil_durations_free(d);
    free(text);
    free(path);
    suite_drop(s);
}

/* The shard is taken of the tests -t selected; a name twice counts
 * once; a name the suite lacks is refused. */
static void test_only(void **state)
{
    qhil_suite *s = suite_make(10, "o", 0);
    const char *only[] = {"o9", "o3", "o5", "o3", "o0", NULL};
    const char *missing[] = {"o1", "nope", NULL};
    const char *none[] = {NULL};
    int shard_of[10];
    const char **names = NULL;
    size_t count = 0;
    qhil_error e;
    size_t i;
    int in = 0;

    (void)state;
    split(s, only, 2, NULL, shard_of);
    for (i = 0; i < 10; i++) {
        bool wanted = i == 0 || i == 3 || i == 5 || i == 9;

        assert_int_equal(shard_of[i] != -1, wanted);
        in += shard_of[i] != -1;
    }
    assert_int_equal(in, 4);
    /* Round robin by name over o0 o3 o5 o9. */
    assert_int_equal(shard_of[0], 1);
    assert_int_equal(shard_of[3], 2);
    assert_int_equal(shard_of[5], 1);
    assert_int_equal(shard_of[9], 2);

    qhil_error_init(&e);
    names = (const char **)&e;
    assert_int_equal(
        qhil_shard_select(s, missing, 1, 2, NULL, &names, &count, &e),
        QHIL_EINVAL);
    assert_null(names);
    assert_contains(e.message, "no test named 'nope'");
    assert_contains(e.message, "mem.yaml");
    qhil_error_release(&e);

    /* An empty selection: every shard empty, not "everything". */
    assert_int_equal(
        qhil_shard_select(s, none, 1, 1, NULL, &names, &count, NULL), 0);
    assert_null(names[0]);
    assert_int_equal(count, 0);
    free(names);
    suite_drop(s);
}

/* More shards than tests: the extra shards are empty, the others one
 * test each; K or N out of range is refused. */
static void test_more_shards_than_tests(void **state)
{
    qhil_suite *s = suite_make(3, "m", 0);
    const char **names = NULL;
    size_t count = 0;
    unsigned k;

    (void)state;
    for (k = 1; k <= 10000; k++) {
        assert_int_equal(
            qhil_shard_select(s, NULL, k, 10000, NULL, &names, &count, NULL),
            0);
        assert_int_equal(count, k <= 3 ? 1 : 0);
        free(names);
    }
    assert_int_equal(
        qhil_shard_select(s, NULL, 0, 2, NULL, &names, &count, NULL),
        QHIL_EINVAL);
    assert_int_equal(
        qhil_shard_select(s, NULL, 3, 2, NULL, &names, &count, NULL),
        QHIL_EINVAL);
    assert_int_equal(
        qhil_shard_select(s, NULL, 1, 10001, NULL, &names, &count, NULL),
        QHIL_EINVAL);
    suite_drop(s);
}

/* Every recorded time 0: the shards still get equal counts, not every
 * test on shard 1 (loads tie, the shard with fewer tests wins). */
static void test_zero_times_still_spread(void **state)
{
    qhil_suite *s = suite_make(12, "z", 2);
    int64_t ms[12] = {0};
    int shard_of[12];
    int per[4] = {0};
    qhil_durations *d;
    char *text, *path;
    size_t i;

    (void)state;
    text = junit_text(s, NULL, ms, 12);
    path = write_file("zero.xml", text);
    d = load_ok(path);
    split(s, NULL, 4, d, shard_of);
    for (i = 0; i < 12; i++) {
        per[shard_of[i] - 1]++;
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(per[i], 3);
    }
    qhil_durations_free(d);
    free(text);
    free(path);
    suite_drop(s);
}

/* Times at the limit add up past 2^64 ns without wrapping into "least
 * loaded" and still split every test once. */
static void test_huge_times_saturate(void **state)
{
    enum { T = 40000 };
    qhil_suite *s = suite_make(T, "h", 5);
    int *shard_of = calloc(T, sizeof(*shard_of));
    int per[2] = {0};
    FILE *f;
    char *path = NULL;
    qhil_durations *d;
    size_t i;

    (void)state;
    assert_true(asprintf(&path, "%s/huge.xml", tmp_dir) > 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("<testsuites><testsuite>\n", f);
    for (i = 0; i < T; i++) {
        fprintf(f, "<testcase name=\"%s\" time=\"1000000\"/>\n",
                s->tests[i].name);
    }
    fputs("</testsuite></testsuites>\n", f);
    assert_int_equal(fclose(f), 0);
    d = load_ok(path);
    split(s, NULL, 2, d, shard_of);
    for (i = 0; i < T; i++) {
        assert_true(shard_of[i] == 1 || shard_of[i] == 2);
        per[shard_of[i] - 1]++;
    }
    assert_int_equal(per[0], T / 2);
    assert_int_equal(per[1], T / 2);
    qhil_durations_free(d);
    free(path);
    free(shard_of);
    suite_drop(s);
}

/* ---- durations files ---- */

static void test_durations_good(void **state)
{
    qhil_durations *d;
    int64_t ns = 0;
    char *path;

    (void)state;
    /* qhil's own shape, nested suites, children, other tools' extra
     * attributes, a name twice (the longer time stays, either order). */
    path = write_file(
        "good.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites>\n"
        "  <testsuite name=\"a\" tests=\"3\">\n"
        "    <properties><property name=\"x\" value=\"1\"/></properties>\n"
        "    <testcase classname=\"a\" name=\"boots\" time=\"1.500\"/>\n"
        "    <testcase classname=\"a\" name=\"fails\" time=\"2\">\n"
        "      <failure message=\"m\">text &amp; more</failure>\n"
        "      <system-out><![CDATA[<testcase name=\"fake\" "
        "time=\"9\"/>]]></system-out>\n"
        "    </testcase>\n"
        "    <testsuite name=\"inner\">\n"
        "      <testcase name=\"tw&#105;ce\" time=\"3.25\" file=\"f\"/>\n"
        "    </testsuite>\n"
        "    <testcase name=\"twice\" time=\"0.125\"/>\n"
        "    <testcase name=\"tiny\" time=\"0.0000000019\"/>\n"
        "  </testsuite>\n"
        "</testsuites>\n");
    d = load_ok(path);
    assert_int_equal(qhil_durations_count(d), 4);
    assert_int_equal(qhil_durations_get(d, "boots", &ns), 1);
    assert_int_equal(ns, 1500000000);
    assert_int_equal(qhil_durations_get(d, "fails", &ns), 1);
    assert_int_equal(ns, 2000000000);
    assert_int_equal(qhil_durations_get(d, "twice", &ns), 1);
    assert_int_equal(ns, 3250000000);
    assert_int_equal(qhil_durations_get(d, "tiny", &ns), 1);
    assert_int_equal(ns, 1);
    assert_int_equal(qhil_durations_get(d, "fake", &ns), 0);
    assert_int_equal(qhil_durations_get(NULL, "boots", &ns), 0);
    /* 1 ns, 1.5 s, 2 s, 3.25 s: the mean of the middle two. */
    assert_int_equal(qhil_durations_median(d), 1750000000);
    qhil_durations_free(d);
    free(path);

    /* A lone <testsuite> root, odd count. */
    path = write_file("single.xml",
                      "<testsuite><testcase name=\"a\" time=\"1\"/>"
                      "<testcase name=\"b\" time=\"5\"/>"
                      "<testcase name=\"c\" time=\"100\"/></testsuite>");
    d = load_ok(path);
    assert_int_equal(qhil_durations_median(d), 5000000000);
    qhil_durations_free(d);
    free(path);

    /* No testcase at all: the 1 s default. */
    path = write_file("none.xml", "<testsuites/>");
    d = load_ok(path);
    assert_int_equal(qhil_durations_count(d), 0);
    assert_int_equal(qhil_durations_median(d), 1000000000);
    assert_int_equal(qhil_durations_median(NULL), 1000000000);
    qhil_durations_free(d);
    qhil_durations_free(NULL);
    free(path);
}

/* A test missing from the file weighs the median, not 0 and not 1 s. */
static void test_missing_gets_median(void **state)
{
    qhil_suite *s = suite_make(4, "w", 0);
    int shard_of[4];
    qhil_durations *d;
    char *path;

    (void)state;
    /* w0 10 s, w1 10 s, w2 and w3 not recorded: 10 s each, so two
     * shards get two tests each.  With 0 or 1 s for the unknown ones,
     * w2 and w3 would share a shard. */
    path = write_file("med.xml", "<testsuites><testsuite>"
                                 "<testcase name=\"w0\" time=\"10\"/>"
                                 "<testcase name=\"w1\" time=\"10\"/>"
                                 "</testsuite></testsuites>");
    d = load_ok(path);
    split(s, NULL, 2, d, shard_of);
    assert_int_not_equal(shard_of[2], shard_of[3]);
    qhil_durations_free(d);
    free(path);
    suite_drop(s);
}

static void on_alarm(int sig)
{
    (void)sig;
    _exit(99); /* the FIFO blocked */
}

static void test_durations_bad_files(void **state)
{
    char *path = NULL;
    int fd;

    (void)state;
    assert_true(asprintf(&path, "%s/absent.xml", tmp_dir) > 0);
    load_bad(path, QHIL_ENOENT, "cannot open");
    free(path);

    /* A FIFO nobody writes to: refused at once, never read. */
    assert_true(asprintf(&path, "%s/fifo", tmp_dir) > 0);
    assert_int_equal(mkfifo(path, 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(5);
    load_bad(path, QHIL_EINVAL, "not a regular file");
    alarm(0);
    free(path);

    load_bad(tmp_dir, QHIL_EINVAL, "not a regular file");

    /* Over 64 MiB (sparse): refused before it is read. */
    assert_true(asprintf(&path, "%s/big.xml", tmp_dir) > 0);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (64 << 20) + 1), 0);
    close(fd);
    load_bad(path, QHIL_ETOOBIG, "over the limit of 64 MiB");
    free(path);
}

static void test_durations_bad_text(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"", ":1:1: not well-formed XML: no element found"},
        {"not xml at all\n", ":1:1: not well-formed XML: syntax error"},
        {"{\"testcase\": 1}", "not well-formed XML"},
        {"<testsuites><testsuite>\n<testcase name=\"a\" time=\"1\">\n",
         ":3:1: not well-formed XML: no element found"},
        {"<testsuites></testsuite>", "mismatched tag"},
        {"<testsuites/><testsuites/>", "junk after document element"},
        {"<?xml version=\"1.0\"?>\n<html><body/></html>",
         ":2:1: not a JUnit report: the root element is <html>"},
        {"<testcase name=\"a\" time=\"1\"/>", "the root element is <testcase>"},
        {"<testsuites>\n<testcase name=\"a\" time=\"1\"/></testsuites>",
         ":2:1: not a JUnit report: <testcase> outside a <testsuite>"},
        {"<testsuites><testsuite><testcase name=\"a\" time=\"1\">"
         "<testcase name=\"b\" time=\"1\"/></testcase></testsuite>"
         "</testsuites>",
         "<testcase> inside a <testcase>"},
        {"<testsuites><testsuite><testcase name=\"a\" time=\"1\">"
         "<testsuite/></testcase></testsuite></testsuites>",
         "<testsuite> inside a <testcase>"},
        {"<testsuite><testcase time=\"1\"/></testsuite>",
         "<testcase> without a name"},
        {"<testsuite><testcase name=\"\" time=\"1\"/></testsuite>",
         "<testcase> without a name"},
        {"<testsuite><testcase name=\"a\"/></testsuite>",
         "<testcase name=\"a\"> has no time attribute"},
        {"<testsuite><testcase name=\"a\" time=\"-1\"/></testsuite>",
         "time=\"-1\": expected seconds"},
        {"<testsuite><testcase name=\"a\" time=\"1e3\"/></testsuite>",
         "time=\"1e3\""},
        {"<testsuite><testcase name=\"a\" time=\" 1\"/></testsuite>",
         "time=\" 1\""},
        {"<testsuite><testcase name=\"a\" time=\"1.\"/></testsuite>",
         "time=\"1.\""},
        {"<testsuite><testcase name=\"a\" time=\".5\"/></testsuite>",
         "time=\".5\""},
        {"<testsuite><testcase name=\"a\" time=\"nan\"/></testsuite>",
         "time=\"nan\""},
        {"<testsuite><testcase name=\"a\" time=\"1,5\"/></testsuite>",
         "time=\"1,5\""},
        {"<testsuite><testcase name=\"a\" time=\"1000000.1\"/>"
         "</testsuite>",
         "from 0 to 1000000"},
        {"<testsuite><testcase name=\"a\" "
         "time=\"99999999999999999999999\"/></testsuite>",
         "from 0 to 1000000"},
        /* Entities: a billion laughs, an external file. */
        {"<?xml version=\"1.0\"?>\n<!DOCTYPE t [\n"
         "<!ENTITY a \"aaaaaaaaaa\">\n"
         "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
         "]>\n<testsuites>&b;</testsuites>",
         ":2:13: DOCTYPE t: a JUnit report has no DTD"},
        {"<!DOCTYPE t SYSTEM \"/etc/passwd\">\n<testsuites/>",
         "a JUnit report has no DTD"},
        {"<testsuite><testcase name=\"&x;\" time=\"1\"/></testsuite>",
         "undefined entity"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *path = write_file("bad.xml", bad[i].text);

        load_bad(path, QHIL_ESYNTAX, bad[i].want);
        free(path);
    }
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/qhil-shard-XXXXXX";

    (void)state;
    if (!mkdtemp(tmpl)) {
        return -1;
    }
    tmp_dir = strdup(tmpl);
    return tmp_dir ? 0 : -1;
}

static int teardown(void **state)
{
    static const char *const files[] = {
        "part.xml", "order.xml", "d1.xml",   "d2.xml",     "bal.xml",
        "zero.xml", "huge.xml",  "good.xml", "single.xml", "none.xml",
        "med.xml",  "fifo",      "big.xml",  "bad.xml",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = NULL;

        if (asprintf(&path, "%s/%s", tmp_dir, files[i]) > 0) {
            unlink(path);
            free(path);
        }
    }
    rmdir(tmp_dir);
    free(tmp_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_partition),
        cmocka_unit_test(test_no_durations_round_robin),
        cmocka_unit_test(test_suite_order_does_not_matter),
        cmocka_unit_test(test_durations_order_does_not_matter),
        cmocka_unit_test(test_balance),
        cmocka_unit_test(test_only),
        cmocka_unit_test(test_more_shards_than_tests),
        cmocka_unit_test(test_zero_times_still_spread),
        cmocka_unit_test(test_huge_times_saturate),
        cmocka_unit_test(test_durations_good),
        cmocka_unit_test(test_missing_gets_median),
        cmocka_unit_test(test_durations_bad_files),
        cmocka_unit_test(test_durations_bad_text),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
