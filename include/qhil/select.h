/*
 * qhil/select.h - which tests a run runs, and in what order
 * ("qhil run -t/-k/--tag/--shard/--shuffle/--seed/--repeat/--list").
 *
 * The selection is made in this order, always:
 *
 *   1. filters   -t NAME (only), -k GLOB, --tag TAG; a test must pass
 *                every kind of filter given, and within one kind any
 *                entry will do (-k 'boot*' -k 'net*' is "boot* or net*")
 *   2. shard     K of N over what the filters kept, by the suite's order
 *                and names only (qhil/shard.h), so N runners with the
 *                same filters still run each test once between them
 *   3. shuffle   the shard's tests in a random order drawn from the
 *                seed: splitmix64 feeding a Fisher-Yates shuffle,
 *                64-bit integer arithmetic only, so one seed gives one
 *                order on every machine and in every qhil release that
 *                keeps this comment
 *   4. repeat    each test N times in a row ("boots [1/3]", "boots
 *                [2/3]", "boots [3/3]": qhil_select_names)
 *
 * The result is an order: indices into suite->tests, a test appearing
 * as many times as it is repeated.  qhil_run_opts.order takes it as is.
 */
#ifndef QHIL_SELECT_H
#define QHIL_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>
#include <qhil/shard.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Largest --repeat. */
#define QHIL_REPEAT_MAX 10000u

/* Largest number of entries an order may have (tests x repeat). */
#define QHIL_ORDER_MAX 1000000u

/* What to select; a zeroed struct selects every test in suite order. */
typedef struct qhil_select_opts {
    const char *const *only;  /* test names (NULL-terminated), NULL: no
                                 name filter; an unknown name is an
                                 error */
    const char *const *globs; /* fnmatch(3) patterns on the test name
                                 (NULL-terminated, flags 0), NULL: none */
    const char *const *tags;  /* tags (NULL-terminated), NULL: none */
    unsigned shard_k;         /* shard K of N; 0: no sharding */
    unsigned shard_n;
    const qhil_durations *durations; /* balances the shards, may be NULL */
    bool shuffle;
    uint64_t seed;   /* the shuffle's seed (when shuffle) */
    unsigned repeat; /* runs of each test; 0 means 1 */
} qhil_select_opts;

/*
 * Select and order suite's tests as opts says (see above).  *order:
 * malloc'ed array of *n_order indices into suite->tests (caller frees
 * with free()), on success only; it is empty (non-NULL, *n_order 0)
 * when the shard has no test.  Refused with QHIL_EINVAL and a message
 * naming the option: an empty or unusable glob or tag, an unknown -t
 * name, filters that select no test at all ("-k 'x*' --tag slow: no
 * test of suite.yaml matches"), a bad shard, repeat over
 * QHIL_REPEAT_MAX or an order over QHIL_ORDER_MAX entries, and a
 * repeated run's name ("boots [2/3]") that is the name of another test
 * of the suite (two results would share a name).  Never blocks.
 */
int qhil_select(const qhil_suite *suite, const qhil_select_opts *opts,
                size_t **order, size_t *n_order, qhil_error *err);

/*
 * Shuffle v[0..n-1] in place, from seed alone: splitmix64 draws, an
 * unbiased bounded draw (rejection) for each Fisher-Yates swap.  The
 * same seed and n always give the same permutation.  Never fails.
 */
void qhil_select_shuffle(size_t *v, size_t n, uint64_t seed);

/*
 * The name of each entry of an order, as results and reports give it:
 * the test's name when the test appears once in the order, "NAME [k/m]"
 * for its k-th of m appearances.  *names: malloc'ed NULL-terminated
 * array of n malloc'ed strings, free with qhil_select_names_free.  Every
 * index must be below suite->n_tests (QHIL_EINVAL otherwise).  Returns
 * QHIL_EOK, QHIL_EINVAL or QHIL_ENOMEM.
 */
int qhil_select_names(const qhil_suite *suite, const size_t *order, size_t n,
                      char ***names, qhil_error *err);

/* Free what qhil_select_names made; NULL is fine. */
void qhil_select_names_free(char **names);

/*
 * Parse a --seed: a decimal number from 0 to 2^64 - 1, digits only (no
 * sign, no space; "-1" is refused rather than wrapped).  QHIL_EINVAL
 * with the reason otherwise; *seed set on success only.
 */
int qhil_select_parse_seed(const char *s, uint64_t *seed, qhil_error *err);

/*
 * Parse a --repeat: a decimal number from 1 to QHIL_REPEAT_MAX, digits
 * only.  QHIL_EINVAL with the reason otherwise; *n set on success only.
 */
int qhil_select_parse_repeat(const char *s, unsigned *n, qhil_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_SELECT_H */
