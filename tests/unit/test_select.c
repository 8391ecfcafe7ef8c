/*
 * test_select.c - which tests a run runs and in what order: -k globs,
 * --tag, -t and their intersection; selections that match nothing and
 * filters that must be refused; the shuffle pinned to fixed orders (so
 * another machine or release that orders differently fails here), a
 * true permutation for every size, and unbiased; repeats and their
 * names; a repeated name that would be another test's; N shards x
 * shuffle still cover each test once; --seed and --repeat parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include <qhil/select.h>
#include <qhil/suite.h>

#define YAML_TAGGED                                                            \
    "device_type: mps2-an385\n"                                                \
    "tags: [all]\n"                                                            \
    "tests:\n"                                                                 \
    "  - {name: boot, tags: [smoke], steps: [reset]}\n"                        \
    "  - {name: boot-slow, tags: [slow], steps: [reset]}\n"                    \
    "  - {name: net1, tags: [net, smoke], steps: [reset]}\n"                   \
    "  - {name: net2, tags: [net, slow], steps: [reset]}\n"                    \
    "  - {name: \"odd [x]\", steps: [reset]}\n"

static qhil_suite *load(const char *text)
{
    qhil_suite *s = NULL;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_suite_load_buffer("sel.yaml", text, strlen(text), &s, &e);
    if (rc < 0) {
        fail_msg("%s", qhil_error_message(&e, rc));
    }
    qhil_error_release(&e);
    return s;
}

/* A suite of n tests named t0000..; only names (and lines). */
static qhil_suite *suite_make(size_t n)
{
    qhil_suite *s = calloc(1, sizeof(*s));
    size_t i;

    assert_non_null(s);
    s->path = strdup("mem.yaml");
    s->tests = calloc(n + 1, sizeof(*s->tests));
    assert_non_null(s->tests);
    for (i = 0; i < n; i++) {
        assert_true(asprintf(&s->tests[i].name, "t%04zu", i) > 0);
        s->tests[i].line = (int)i + 1;
    }
    s->n_tests = n;
    return s;
}

/* Select, must succeed; the order as "name,name,...". */
static char *order_text(const qhil_suite *s, const qhil_select_opts *o)
{
    size_t *order = NULL;
    size_t n = 0;
    char **names = NULL;
    char *text = calloc(1, 1);
    qhil_error e;
    size_t i;
    int rc;

    qhil_error_init(&e);
    rc = qhil_select(s, o, &order, &n, &e);
    if (rc < 0) {
        fail_msg("%s", qhil_error_message(&e, rc));
    }
    assert_non_null(order);
    assert_int_equal(qhil_select_names(s, order, n, &names, &e), 0);
    for (i = 0; i < n; i++) {
        char *grown = NULL;

        assert_true(asprintf(&grown, "%s%s%s", text, i ? "," : "", names[i]) >
                    0);
        free(text);
        text = grown;
    }
    assert_null(names[n]);
    qhil_select_names_free(names);
    free(order);
    qhil_error_release(&e);
    return text;
}

static void expect_order(const qhil_suite *s, const qhil_select_opts *o,
                         const char *want)
{
    char *got = order_text(s, o);

    assert_string_equal(got, want);
    free(got);
}

/* Select, must fail with EINVAL and a message with every needle. */
static void select_bad(const qhil_suite *s, const qhil_select_opts *o, ...)
{
    size_t *order = (size_t *)1;
    size_t n = 99;
    const char *needle;
    qhil_error e;
    va_list ap;

    qhil_error_init(&e);
    assert_int_equal(qhil_select(s, o, &order, &n, &e), QHIL_EINVAL);
    assert_null(order);
    assert_int_equal(n, 0);
    assert_non_null(e.message);
    va_start(ap, o);
    while ((needle = va_arg(ap, const char *)) != NULL) {
        assert_contains(e.message, needle);
    }
    va_end(ap);
    qhil_error_release(&e);
}

static void test_filters(void **state)
{
    qhil_suite *s = load(YAML_TAGGED);
    const char *k_boot[] = {"boot*", NULL};
    const char *k_two[] = {"net?", "*slow", NULL};
    const char *k_lit[] = {"odd [[]x]", NULL};
    const char *k_all[] = {"*", NULL};
    const char *t_smoke[] = {"smoke", NULL};
    const char *t_two[] = {"slow", "smoke", NULL};
    const char *t_all[] = {"all", NULL};
    const char *only[] = {"net2", "boot", NULL};
    qhil_select_opts o = {0};

    (void)state;
    expect_order(s, NULL, "boot,boot-slow,net1,net2,odd [x]");
    expect_order(s, &o, "boot,boot-slow,net1,net2,odd [x]");
    o.globs = k_boot;
    expect_order(s, &o, "boot,boot-slow");
    /* Any glob of several; the suite's order, not the globs'. */
    o.globs = k_two;
    expect_order(s, &o, "boot-slow,net1,net2");
    /* fnmatch, not a substring: "boot" alone is one name. */
    {
        const char *k_exact[] = {"boot", NULL};

        o.globs = k_exact;
        expect_order(s, &o, "boot");
    }
    o.globs = k_lit;
    expect_order(s, &o, "odd [x]");
    o.globs = NULL;
    o.tags = t_smoke;
    expect_order(s, &o, "boot,net1");
    o.tags = t_two;
    expect_order(s, &o, "boot,boot-slow,net1,net2");
    /* The suite's tag is every test's. */
    o.tags = t_all;
    expect_order(s, &o, "boot,boot-slow,net1,net2,odd [x]");
    /* Both: a test must pass both. */
    o.tags = t_smoke;
    o.globs = k_two;
    expect_order(s, &o, "net1");
    o.globs = k_all;
    expect_order(s, &o, "boot,net1");
    /* And -t too. */
    o.only = only;
    expect_order(s, &o, "boot");
    o.tags = NULL;
    expect_order(s, &o, "boot,net2");
    /* An empty list is no filter of that kind. */
    {
        const char *none[] = {NULL};

        o.only = NULL;
        o.globs = none;
        o.tags = none;
        expect_order(s, &o, "boot,boot-slow,net1,net2,odd [x]");
    }
    qhil_suite_free(s);
}

static void test_empty_and_bad(void **state)
{
    qhil_suite *s = load(YAML_TAGGED);
    const char *k_none[] = {"x*", NULL};
    const char *k_boot[] = {"boot*", NULL};
    const char *k_empty[] = {"boot*", "", NULL};
    const char *t_none[] = {"nightly", NULL};
    const char *t_net[] = {"net", NULL};
    const char *t_space[] = {"a b", NULL};
    const char *t_glob[] = {"sm*", NULL};
    const char *t_empty[] = {"", NULL};
    const char *only_bad[] = {"boot", "nope", NULL};
    qhil_select_opts o = {0};

    (void)state;
    o.globs = k_none;
    select_bad(s, &o, "-k 'x*'", "no test of sel.yaml matches",
               "nothing was run", NULL);
    o.globs = NULL;
    o.tags = t_none;
    select_bad(s, &o, "--tag 'nightly'", "no test", NULL);
    /* Each matches something, together nothing: named both. */
    o.globs = k_boot;
    o.tags = t_net;
    select_bad(s, &o, "-k 'boot*' --tag 'net'", "no test", NULL);
    o.tags = NULL;
    o.globs = k_empty;
    select_bad(s, &o, "-k ''", "empty pattern", NULL);
    o.globs = NULL;
    o.tags = t_space;
    select_bad(s, &o, "--tag 'a b'", "one word", NULL);
    /* Tags are words, not globs: refused rather than matching none. */
    o.tags = t_glob;
    select_bad(s, &o, "--tag 'sm*'", "one word", NULL);
    o.tags = t_empty;
    select_bad(s, &o, "--tag ''", "empty", NULL);
    o.tags = NULL;
    o.only = only_bad;
    select_bad(s, &o, "no test named 'nope'", NULL);
    o.only = NULL;
    o.shard_k = 3;
    o.shard_n = 2;
    select_bad(s, &o, "shard 3/2", NULL);
    o.shard_k = 0;
    o.shard_n = 0;
    o.repeat = QHIL_REPEAT_MAX + 1;
    select_bad(s, &o, "--repeat", NULL);
    qhil_suite_free(s);
}

static bool is_permutation(const size_t *v, size_t n)
{
    bool *seen = calloc(n + 1, sizeof(*seen));
    size_t i;
    bool ok = true;

    assert_non_null(seen);
    for (i = 0; i < n && ok; i++) {
        ok = v[i] < n && !seen[v[i]];
        if (ok) {
            seen[v[i]] = true;
        }
    }
    free(seen);
    return ok;
}

/* Computed apart from qhil, from the algorithm as select.h states it. */
#define SEED42_ORDER "t0003,t0001,t0006,t0002,t0004,t0000,t0007,t0005"
#define SEED0_ORDER "t0002,t0005,t0000,t0003,t0004,t0006,t0001,t0007"
#define SEEDMAX_ORDER "t0007,t0003,t0005,t0004,t0002,t0006,t0001,t0000"

/*
 * The orders of a few seeds, fixed: they are what splitmix64 and the
 * Fisher-Yates walk documented in select.h give.  A change here breaks
 * every "--seed S" a user wrote down.
 */
static void test_shuffle_pinned(void **state)
{
    qhil_suite *s = suite_make(8);
    qhil_select_opts o = {.shuffle = true, .seed = 42};
    char *a;
    char *b;

    (void)state;
    expect_order(s, &o, SEED42_ORDER);
    o.seed = 0;
    expect_order(s, &o, SEED0_ORDER);
    o.seed = UINT64_MAX;
    expect_order(s, &o, SEEDMAX_ORDER);
    /* The same seed twice, the same order; another seed, another. */
    o.seed = 7;
    a = order_text(s, &o);
    b = order_text(s, &o);
    assert_string_equal(a, b);
    free(b);
    o.seed = 8;
    b = order_text(s, &o);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    /* Not shuffled: the seed is not read. */
    o.shuffle = false;
    expect_order(s, &o, "t0000,t0001,t0002,t0003,t0004,t0005,t0006,t0007");
    qhil_suite_free(s);
}

/* Every size, many seeds: each index exactly once, and not the
 * identity for long orders (a shuffle that does nothing). */
static void test_shuffle_permutation(void **state)
{
    size_t v[300];
    size_t n, i;
    uint64_t seed;

    (void)state;
    qhil_select_shuffle(NULL, 0, 1);
    v[0] = 0;
    qhil_select_shuffle(v, 1, 1);
    assert_int_equal(v[0], 0);
    for (n = 2; n <= 300; n += (n < 20 ? 1 : 37)) {
        for (seed = 0; seed < 50; seed++) {
            bool identity = true;

            for (i = 0; i < n; i++) {
                v[i] = i;
            }
            qhil_select_shuffle(v, n, seed * 0x100000001u);
            assert_true(is_permutation(v, n));
            for (i = 0; i < n; i++) {
                identity = identity && v[i] == i;
            }
            if (n >= 20) {
                assert_false(identity);
            }
        }
    }
}

/* Unbiased: the 6 orders of 3 tests come equally often (a shuffle that
 * swaps with any position, or takes draw % m without the rejection
 * cut on a small m, is caught by the spread of the first item too). */
static void test_shuffle_uniform(void **state)
{
    unsigned count[3][3] = {{0}};
    unsigned perms[27] = {0};
    const unsigned rounds = 60000;
    unsigned r;
    size_t i;

    (void)state;
    for (r = 0; r < rounds; r++) {
        size_t v[3] = {0, 1, 2};

        qhil_select_shuffle(v, 3, r);
        for (i = 0; i < 3; i++) {
            count[i][v[i]]++;
        }
        perms[v[0] * 9 + v[1] * 3 + v[2]]++;
    }
    for (i = 0; i < 27; i++) {
        if (perms[i]) {
            /* 10000 expected; 5 sigma is about 450 */
            assert_in_range(perms[i], 9400, 10600);
        }
    }
    for (i = 0; i < 3; i++) {
        size_t j;

        for (j = 0; j < 3; j++) {
            assert_in_range(count[i][j], 19200, 20800);
        }
    }
}

static void test_repeat(void **state)
{
    qhil_suite *s = load(YAML_TAGGED);
    const char *k[] = {"net*", NULL};
    const size_t mixed[] = {1, 1, 0, 1};
    const size_t bad[] = {0, 5};
    qhil_select_opts o = {.globs = k, .repeat = 3};
    char **names = NULL;
    qhil_error e;

    (void)state;
    expect_order(s, &o,
                 "net1 [1/3],net1 [2/3],net1 [3/3],"
                 "net2 [1/3],net2 [2/3],net2 [3/3]");
    o.repeat = 1;
    expect_order(s, &o, "net1,net2");
    /* The shuffle orders the tests; each one's runs stay together. */
    o.repeat = 2;
    o.shuffle = true;
    o.globs = NULL;
    {
        char *got;
        size_t i;

        for (o.seed = 0; o.seed < 20; o.seed++) {
            got = order_text(s, &o);
            for (i = 0; i < 5; i++) {
                const char *names5[] = {"boot", "boot-slow", "net1", "net2",
                                        "odd [x]"};
                char *pair = NULL;

                assert_true(asprintf(&pair, "%s [1/2],%s [2/2]", names5[i],
                                     names5[i]) > 0);
                assert_contains(got, pair);
                free(pair);
            }
            free(got);
        }
    }
    /* Names from any order: by appearance. */
    qhil_error_init(&e);
    assert_int_equal(qhil_select_names(s, mixed, 4, &names, &e), 0);
    assert_string_equal(names[0], "boot-slow [1/3]");
    assert_string_equal(names[1], "boot-slow [2/3]");
    assert_string_equal(names[2], "boot");
    assert_string_equal(names[3], "boot-slow [3/3]");
    assert_null(names[4]);
    qhil_select_names_free(names);
    names = (char **)1;
    assert_int_equal(qhil_select_names(s, bad, 2, &names, &e), QHIL_EINVAL);
    assert_null(names);
    assert_contains(e.message, "test 5");
    qhil_error_release(&e);
    qhil_suite_free(s);
}

/* A run of a repeated test named like another test: two results with
 * one name would merge into one line of the reports.  Refused. */
static void test_repeat_name_clash(void **state)
{
    qhil_suite *s = load("device_type: mps2-an385\n"
                         "tests:\n"
                         "  - {name: a, steps: [reset]}\n"
                         "  - {name: \"a [2/2]\", steps: [reset]}\n");
    const char *only_b[] = {"a [2/2]", NULL};
    qhil_select_opts o = {.repeat = 2};

    (void)state;
    select_bad(s, &o, "'a [2/2]'", "sel.yaml:4", NULL);
    /* Repeated 3 times the names are free; or a alone not selected. */
    o.repeat = 3;
    expect_order(s, &o,
                 "a [1/3],a [2/3],a [3/3],"
                 "a [2/2] [1/3],a [2/2] [2/3],a [2/2] [3/3]");
    o.repeat = 2;
    o.only = only_b;
    expect_order(s, &o, "a [2/2] [1/2],a [2/2] [2/2]");
    qhil_suite_free(s);
}

/* Too many runs in all: refused before anything is allocated for them. */
static void test_repeat_cap(void **state)
{
    qhil_suite *s = suite_make(1000);
    qhil_select_opts o = {.repeat = QHIL_REPEAT_MAX};
    size_t *order = NULL;
    size_t n = 0;
    qhil_error e;

    (void)state;
    select_bad(s, &o, "over the limit", NULL);
    o.repeat = QHIL_ORDER_MAX / 1000;
    qhil_error_init(&e);
    assert_int_equal(qhil_select(s, &o, &order, &n, &e), 0);
    assert_int_equal(n, QHIL_ORDER_MAX);
    free(order);
    qhil_error_release(&e);
    qhil_suite_free(s);
}

/* N shards, each shuffled with its own seed and repeated, with a glob:
 * together they run each selected test exactly r times, and a shard's
 * set does not depend on the shuffle. */
static void test_shard_shuffle_cover(void **state)
{
    qhil_suite *s = suite_make(97);
    const char *k[] = {"t00[0-7]*", NULL}; /* t0000..t0079 */
    unsigned n_shards;

    (void)state;
    for (n_shards = 1; n_shards <= 9; n_shards += 4) {
        unsigned seen[97] = {0};
        unsigned k_shard;

        for (k_shard = 1; k_shard <= n_shards; k_shard++) {
            qhil_select_opts o = {.globs = k,
                                  .shard_k = k_shard,
                                  .shard_n = n_shards,
                                  .shuffle = true,
                                  .seed = k_shard * 1000003u,
                                  .repeat = 2};
            qhil_select_opts plain = o;
            size_t *order = NULL;
            size_t *unshuffled = NULL;
            size_t n = 0;
            size_t n_plain = 0;
            qhil_error e;
            size_t i;

            qhil_error_init(&e);
            assert_int_equal(qhil_select(s, &o, &order, &n, &e), 0);
            plain.shuffle = false;
            plain.repeat = 1;
            assert_int_equal(qhil_select(s, &plain, &unshuffled, &n_plain, &e),
                             0);
            assert_int_equal(n, 2 * n_plain);
            for (i = 0; i < n; i++) {
                size_t j;
                bool in_plain = false;

                seen[order[i]]++;
                for (j = 0; j < n_plain; j++) {
                    in_plain = in_plain || unshuffled[j] == order[i];
                }
                assert_true(in_plain);
            }
            free(order);
            free(unshuffled);
            qhil_error_release(&e);
        }
        for (k_shard = 0; k_shard < 97; k_shard++) {
            assert_int_equal(seen[k_shard], k_shard < 80 ? 2 : 0);
        }
    }
    qhil_suite_free(s);
}

/* More shards than tests: an empty shard is fine (not "matches
 * nothing": the filters did match). */
static void test_empty_shard(void **state)
{
    qhil_suite *s = suite_make(2);
    qhil_select_opts o = {.shard_k = 3, .shard_n = 3};
    size_t *order = NULL;
    size_t n = 9;
    qhil_error e;

    (void)state;
    qhil_error_init(&e);
    assert_int_equal(qhil_select(s, &o, &order, &n, &e), 0);
    assert_non_null(order);
    assert_int_equal(n, 0);
    free(order);
    qhil_error_release(&e);
    qhil_suite_free(s);
}

static void test_parse(void **state)
{
    uint64_t seed = 5;
    unsigned n = 5;
    qhil_error e;

    (void)state;
    qhil_error_init(&e);
    assert_int_equal(qhil_select_parse_seed("0", &seed, &e), 0);
    assert_int_equal(seed, 0);
    assert_int_equal(qhil_select_parse_seed("18446744073709551615", &seed, &e),
                     0);
    assert_true(seed == UINT64_MAX);
    assert_int_equal(qhil_select_parse_seed("42", &seed, &e), 0);
    assert_int_equal(seed, 42);
    {
        static const char *const bad[] = {"-1",
                                          "abc",
                                          "",
                                          "18446744073709551616",
                                          "99999999999999999999",
                                          " 1",
                                          "1 ",
                                          "+1",
                                          "0x10",
                                          "1e3",
                                          "01",
                                          NULL};
        size_t i;

        for (i = 0; bad[i]; i++) {
            seed = 5;
            assert_int_equal(qhil_select_parse_seed(bad[i], &seed, &e),
                             QHIL_EINVAL);
            assert_int_equal(seed, 5);
            assert_contains(e.message, "0 to 18446744073709551615");
        }
        assert_int_equal(qhil_select_parse_seed(NULL, &seed, &e), QHIL_EINVAL);
    }
    assert_int_equal(qhil_select_parse_repeat("1", &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(qhil_select_parse_repeat("10000", &n, &e), 0);
    assert_int_equal(n, 10000);
    {
        static const char *const bad[] = {
            "0", "x", "", "-2", "10001", "4294967297", "2.5", "02", NULL};
        size_t i;

        for (i = 0; bad[i]; i++) {
            n = 5;
            assert_int_equal(qhil_select_parse_repeat(bad[i], &n, &e),
                             QHIL_EINVAL);
            assert_int_equal(n, 5);
            assert_contains(e.message, "1 to 10000");
        }
    }
    qhil_error_release(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_empty_and_bad),
        cmocka_unit_test(test_shuffle_pinned),
        cmocka_unit_test(test_shuffle_permutation),
        cmocka_unit_test(test_shuffle_uniform),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_repeat_name_clash),
        cmocka_unit_test(test_repeat_cap),
        cmocka_unit_test(test_shard_shuffle_cover),
        cmocka_unit_test(test_empty_shard),
        cmocka_unit_test(test_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
