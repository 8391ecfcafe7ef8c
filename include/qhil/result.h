/*
 * qhil/result.h - a test's result as the fold of its events.
 *
 * A qhil_test_result (report.h) is built by applying the test's events
 * to it one by one, in the order they happened: the serial runner does
 * it with each event it emits, the worker pool in the parent with each
 * event a worker sends, a reader of an --events file can do it too.  So
 * every report (JUnit, TAP, JSON, HTML) is a view of the one stream.
 *
 *   test_start     names the result (when it has no name), verdict pass
 *   step_start     appends a step (index, line, description, start)
 *   step_end       sets that step's verdict and duration
 *   machine_start  the QEMU version, when the event has one
 *   failure        appends to the failures; the first (or a later one
 *                  that is a cause, event.h: QHIL_FAILURE_*) sets the
 *                  verdict, step, step_line, step_desc and message;
 *                  QHIL_FAILURE_INTERRUPTED sets interrupted; a failure
 *                  in a step marks that step's verdict too
 *   test_end       the verdict and the duration; later events are
 *                  ignored (one result per attempt: a retry folds into a
 *                  fresh result)
 *
 * Other kinds (console lines, matches, QMP, warnings) leave the result
 * alone and cost nothing.  What no event carries stays the caller's to
 * set: the log paths, the console tail, not_run, tags, repeat and
 * attempts.  Lists grow by doubling up to their caps; past a cap the
 * entry is counted as dropped, never an error.
 */
#ifndef QHIL_RESULT_H
#define QHIL_RESULT_H

#include <qhil/error.h>
#include <qhil/event.h>
#include <qhil/report.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Steps and failures kept per result at most. */
#define QHIL_RESULT_STEPS_MAX 100000
#define QHIL_RESULT_FAILURES_MAX 1000
/* A failure's message or a step's description is kept up to this many
 * bytes. */
#define QHIL_RESULT_TEXT_MAX 65536

/*
 * Apply ev to r.  r starts zeroed (or with only its name set).  The
 * event is only read; r keeps copies.  Returns QHIL_EOK, QHIL_ENOMEM
 * (r is then still consistent, the entry is counted as dropped).  Never
 * blocks.
 */
int qhil_test_result_apply(qhil_test_result *r, const qhil_event *ev,
                           qhil_error *err);

/*
 * The test's events stopped before its test_end (its worker crashed or
 * was killed): record message as a failure that is the test's cause,
 * with verdict error, in the step that started and never ended if
 * there is one, and end the result (a test_end that comes after is
 * ignored).  Also for a result that had its test_end: the error
 * after it (a worker that died before its last line) wins.  Returns as
 * qhil_test_result_apply.
 */
int qhil_test_result_abort(qhil_test_result *r, const char *message,
                           qhil_error *err);

/* Did r see its test_end (or an abort)? */
bool qhil_test_result_ended(const qhil_test_result *r);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_RESULT_H */
