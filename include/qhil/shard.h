/*
 * qhil/shard.h - split a suite over N runners ("qhil run --shard K/N").
 *
 * N CI runners, each given the same suite, the same -t selection and the
 * same durations file (if any), compute the same split on their own, with
 * no coordination: runner K runs shard K, and together they run every
 * selected test exactly once.  The split depends only on the test names
 * and the recorded durations, never on the machine, the runner's order,
 * the order of the tests in the durations file, or the clock.
 *
 * The rule: every selected test gets a weight, its recorded duration, or
 * the median of the recorded durations when the file does not know it
 * (1 s when the file records none, and for every test when there is no
 * file).  Tests are taken heaviest first, ties by name (strcmp), and
 * each goes to the shard with the least total so far, ties to the lowest
 * shard number ("longest processing time first").  With equal weights
 * this deals the tests, sorted by name, round-robin into the shards.
 * Totals are exact integers (ns, saturating), so every runner on every
 * architecture takes the same decisions.
 *
 * A durations file is the JUnit XML report of an earlier run
 * (`qhil run --junit FILE`, or one merged from several runners): the
 * name and time attributes of its <testcase> elements.  It is parsed
 * with expat; see qhil_durations_load for what is refused.
 */
#ifndef QHIL_SHARD_H
#define QHIL_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Largest N of a shard spec. */
#define QHIL_SHARD_MAX 10000u

/* Largest time one testcase may record: 10^6 s (11.6 days). */
#define QHIL_DURATION_MAX_NS (1000000LL * 1000000000LL)

/*
 * Parse a shard spec "K/N": two decimal numbers without sign, spaces or
 * leading zeros, 1 <= K <= N <= QHIL_SHARD_MAX.  On success *k and *n
 * are set; on failure they are untouched and err says what is wrong
 * with the spec (QHIL_EINVAL).  Never blocks.
 */
int qhil_shard_parse(const char *spec, unsigned *k, unsigned *n,
                     qhil_error *err);

/* Recorded test durations, from a JUnit report.  Opaque. */
typedef struct qhil_durations qhil_durations;

/*
 * Load the durations recorded in the JUnit XML report at path.  The root
 * element must be <testsuites> or <testsuite>; each <testcase> must sit
 * in a <testsuite> and carry a name and a time (decimal seconds, at most
 * QHIL_DURATION_MAX_NS).  A name recorded twice keeps the longer time,
 * so the order of the file does not matter.  Refused, with the file and
 * the line: a path that is not a regular file (a FIFO is refused without
 * opening it for a read that could block), a file over 64 MiB, text that
 * is not well-formed XML, a DOCTYPE (no entities, no DTD), XML that is
 * not JUnit.  Reads one local file: blocks only as long as that read.
 * *out (caller frees with qhil_durations_free) on success only.
 */
int qhil_durations_load(const char *path, qhil_durations **out,
                        qhil_error *err);

/* Free d; NULL is fine. */
void qhil_durations_free(qhil_durations *d);

/* How many distinct test names d records. */
size_t qhil_durations_count(const qhil_durations *d);

/*
 * The time recorded for test name: 1 and *ns set when d has it, 0 when
 * it does not (*ns untouched).  d may be NULL (then 0).
 */
int qhil_durations_get(const qhil_durations *d, const char *name, int64_t *ns);

/*
 * The weight a test without a recorded time gets: the median of d's
 * times (the mean of the two middle ones for an even count), or 1 s
 * when d is NULL or empty.
 */
int64_t qhil_durations_median(const qhil_durations *d);

/*
 * The tests of shard k of n (1 <= k <= n <= QHIL_SHARD_MAX) among the
 * tests of suite named in only (NULL-terminated; NULL = every test),
 * weighted by d (may be NULL).  A name of only that the suite lacks is
 * an error (QHIL_EINVAL, naming it); a name given twice counts once.
 * *names_out: NULL-terminated array of the shard's test names in the
 * suite's order (the order they run in); the strings are borrowed from
 * the suite, only the array is new (free it alone, with free()).  It may
 * be empty (n larger than the number of tests).  *n_out, when not NULL,
 * gets its length.  Never blocks; O(T log T + T log N) for T tests.
 */
int qhil_shard_select(const qhil_suite *suite, const char *const *only,
                      unsigned k, unsigned n, const qhil_durations *d,
                      const char ***names_out, size_t *n_out, qhil_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_SHARD_H */
