/*
 * qhil/keep.h - which test folders a run keeps (qhil run --keep).
 *
 * After the reports are written (JUnit embeds the console logs, read at
 * the end), the folders of the tests whose verdict is not kept are
 * removed from the run folder: "failed" keeps fail and error, "passed"
 * keeps pass, "all" (the default) keeps everything.  A skipped test has
 * no folder, or one that neither keeps.  The run folder itself, its
 * job.log, anything else at its top and the files the caller names
 * (reports written inside a test's folder) always stay.
 */
#ifndef QHIL_KEEP_H
#define QHIL_KEEP_H

#include <stddef.h>

#include <qhil/error.h>
#include <qhil/report.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum qhil_keep {
    QHIL_KEEP_ALL,
    QHIL_KEEP_FAILED,
    QHIL_KEEP_PASSED,
} qhil_keep;

/* "all", "failed" or "passed" into *out; QHIL_EINVAL naming the three
 * otherwise.  No blocking. */
int qhil_keep_parse(const char *text, qhil_keep *out, qhil_error *err);

/*
 * Remove the folders of sr's tests that keep does not keep.  A test's
 * folder is the one its console log is in, and only when that is a
 * folder directly inside sr->run_dir; it is removed through file
 * descriptors (openat, unlinkat) opened with O_NOFOLLOW, so a symlink
 * in it is removed as a link and what it points at is never touched,
 * and nothing outside the run folder is.  spare: paths (NULL-terminated,
 * may be NULL) never to remove, e.g. the run's reports; a folder that
 * holds one stays with it.  *removed, when not NULL, gets the number of
 * folders removed.  Returns QHIL_EOK, or the first error (naming the
 * path) after going on with the other folders.  Blocks for the file
 * system calls only.
 */
int qhil_run_keep(const qhil_suite_result *sr, qhil_keep keep,
                  const char *const *spare, size_t *removed, qhil_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_KEEP_H */
