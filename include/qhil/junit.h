/*
 * qhil/junit.h - join the JUnit reports of several runs into one.
 *
 * CI runs a suite in shards (`qhil run --shard K/N --junit FILE` on N
 * runners); qhil_junit_merge joins their files into one report with one
 * <testsuite> per suite name: the shards' test cases of that suite one
 * after the other, in the order the files were added, and the totals
 * (tests, failures, errors, skipped, time) recomputed from them.  Each
 * <testcase> element is written back exactly as qhil's JUnit writer
 * wrote it (same escaping, same bytes), so a failure message or a
 * console log reads the same in the merged report as in the shard's.
 *
 * Input is read with expat and must be JUnit as qhil writes it:
 * <testsuites> (or a lone <testsuite>) holding <testsuite name=...>
 * elements that hold <testcase name=...> elements; a DOCTYPE is refused
 * (no entity is ever expanded).  A test (suite name + test name) may
 * appear once over all the files: a second one is an error naming both
 * files, since two shards that both ran a test disagree on which shard
 * owned it.
 */
#ifndef QHIL_JUNIT_H
#define QHIL_JUNIT_H

#include <stddef.h>
#include <stdio.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Largest JUnit file qhil_junit_merge_add reads (bytes). */
#define QHIL_JUNIT_FILE_MAX ((size_t)512 << 20)

typedef struct qhil_junit_merge qhil_junit_merge;

/* An empty merge.  *out: free with qhil_junit_merge_free. */
int qhil_junit_merge_new(qhil_junit_merge **out, qhil_error *err);

/* Free m and everything it holds; NULL is fine. */
void qhil_junit_merge_free(qhil_junit_merge *m);

/*
 * Read the JUnit file at path and add its test cases.  Only a regular
 * file is read, opened without blocking (a FIFO or a device is refused,
 * never waited on); at most QHIL_JUNIT_FILE_MAX bytes.  Fails with the
 * file (and line and column for XML errors) in err when the file cannot
 * be read, is not XML, is not JUnit, says totals its test cases do not
 * add up to, or holds a test already added (from this file or an
 * earlier one: the message names both).  On failure m is as it was
 * before the call.  Blocks only on the file system.
 */
int qhil_junit_merge_add(qhil_junit_merge *m, const char *path,
                         qhil_error *err);

typedef enum qhil_junit_count {
    QHIL_JUNIT_FILES,
    QHIL_JUNIT_SUITES,
    QHIL_JUNIT_TESTS,
    QHIL_JUNIT_FAILURES,
    QHIL_JUNIT_ERRORS,
    QHIL_JUNIT_SKIPPED,
} qhil_junit_count;

/* How many files, suites, tests... m holds so far. */
size_t qhil_junit_merge_count(const qhil_junit_merge *m, qhil_junit_count what);

/* Write the merged report to an open stream.  QHIL_EIO when writing
 * fails. */
int qhil_junit_merge_write(const qhil_junit_merge *m, FILE *out,
                           qhil_error *err);

/* qhil_junit_merge_save: replace a file already at path. */
#define QHIL_JUNIT_FORCE (1u << 0)

/*
 * Write the merged report to path atomically: a temporary file beside
 * it, synced, then renamed into place, so nothing half-written is ever
 * at path.  A file already at path is refused unless flags has
 * QHIL_JUNIT_FORCE (then it is replaced; a symlink there is replaced,
 * never followed), and path is refused in any case when it is one of
 * the files added (the same file, by device and inode), so a merge
 * never destroys its own input.  Blocks only on the file system.
 */
int qhil_junit_merge_save(const qhil_junit_merge *m, const char *path,
                          unsigned flags, qhil_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_JUNIT_H */
