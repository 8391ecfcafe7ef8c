/*
 * bench_shard.c - how even `qhil run --shard K/N --durations FILE` makes
 * the shards.
 *
 * A generated suite of 200 tests, durations drawn from a log-normal
 * distribution (median 5 s, sigma 1: most tests short, a few ten times
 * the median), seeded so every run prints the same figures, written as a
 * JUnit report the way `qhil run --junit` writes one and loaded back with
 * qhil_durations_load.  For N = 2, 3, 4, 8 it prints the largest shard's
 * total time over the mean shard, balanced by the durations and, for
 * comparison, without them (by name), and the bound no split can beat
 * (the longest test over the mean, or 1).  Last, the time one runner
 * takes to compute its shard of 10000 tests over 10000 shards.
 *
 * usage: bench_shard [SEED]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qhil/qhil.h>

#define TESTS 200

static uint64_t next(uint64_t *s)
{
    /* xorshift64*: the same numbers on every machine. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static double uniform(uint64_t *s)
{
    return ((double)(next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static qhil_suite *suite_make(size_t n)
{
    qhil_suite *s = calloc(1, sizeof(*s));
    size_t i;

    if (!s || !(s->tests = calloc(n, sizeof(*s->tests)))) {
        exit(1);
    }
    if (!(s->path = strdup("generated.yaml"))) {
        exit(1);
    }
    for (i = 0; i < n; i++) {
        if (asprintf(&s->tests[i].name, "test-%05zu", i) < 0) {
            exit(1);
        }
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

/* Largest shard total over the mean, with d's times as the truth. */
static double ratio(const qhil_suite *s, unsigned n,
                    const qhil_durations *truth, const qhil_durations *by)
{
    double max = 0, sum = 0;
    unsigned k;

    for (k = 1; k <= n; k++) {
        const char **names = NULL;
        double total = 0;
        size_t i;

        if (qhil_shard_select(s, NULL, k, n, by, &names, NULL, NULL) < 0) {
            exit(1);
        }
        for (i = 0; names[i]; i++) {
            int64_t ns = 0;

            qhil_durations_get(truth, names[i], &ns);
            total += (double)ns;
        }
        free(names);
        sum += total;
        max = total > max ? total : max;
    }
    return max / (sum / n);
}

int main(int argc, char **argv)
{
    static const unsigned ns[] = {2, 3, 4, 8};
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 20261201;
    char dir[] = "/tmp/qhil-bench-shard-XXXXXX";
    char path[64];
    qhil_suite *s = suite_make(TESTS);
    qhil_durations *d = NULL;
    qhil_error e;
    double longest = 0, sum = 0;
    struct timespec t0, t1;
    FILE *f;
    size_t i;
    int rc;

    if (!seed || !mkdtemp(dir)) {
        return 1;
    }
    snprintf(path, sizeof(path), "%s/junit.xml", dir);
    f = fopen(path, "w");
    if (!f) {
        return 1;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
          "  <testsuite name=\"generated\">\n",
          f);
    for (i = 0; i < TESTS; i++) {
        /* Box-Muller normal, then e^(mu + sigma z), median 5 s. */
        double z =
            sqrt(-2 * log(uniform(&seed))) * cos(2 * M_PI * uniform(&seed));
        double sec = 5.0 * exp(z);

        longest = sec > longest ? sec : longest;
        sum += sec;
        fprintf(f,
                "    <testcase classname=\"generated\" name=\"%s\" "
                "time=\"%.3f\"/>\n",
                s->tests[i].name, sec);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    fclose(f);

    qhil_error_init(&e);
    rc = qhil_durations_load(path, &d, &e);
    unlink(path);
    rmdir(dir);
    if (rc < 0) {
        fprintf(stderr, "bench_shard: %s\n", qhil_error_message(&e, rc));
        return 1;
    }
    printf("%d tests, log-normal durations (median 5 s, sigma 1): "
           "total %.0f s, longest %.1f s\n",
           TESTS, sum, longest);
    printf("largest shard / mean:   N   by durations   by name   bound\n");
    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        double bound = longest / (sum / ns[i]);

        printf("                      %3u   %12.3f   %7.3f   %5.3f\n", ns[i],
               ratio(s, ns[i], d, d), ratio(s, ns[i], d, NULL),
               bound > 1 ? bound : 1.0);
    }
    qhil_durations_free(d);
    suite_drop(s);

    /* One runner's share of 10000 tests over 10000 shards. */
    s = suite_make(10000);
    {
        const char **names = NULL;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (qhil_shard_select(s, NULL, 5000, 10000, NULL, &names, NULL, NULL) <
            0) {
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        free(names);
    }
    printf("shard 5000/10000 of 10000 tests: %.1f ms\n",
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    suite_drop(s);
    qhil_error_release(&e);
    return 0;
}
