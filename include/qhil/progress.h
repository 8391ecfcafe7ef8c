/*
 * qhil/progress.h - what a person watching a run sees (docs/reports.md).
 *
 * The progress view is one more consumer of the runner's event stream,
 * like the JSON Lines sink: the caller hands it every event
 * (qhil_progress_event is a qhil_event_fn), the run's progress
 * callbacks (test_started, test_done have qhil_run_opts' signatures)
 * and, with workers, the runner's tick.  It writes to the FILE it is
 * given and nowhere else, in one of two modes the caller picks:
 *
 *   LINES  one line per finished test ("PASS   boots (0.41s)"), and for
 *          a failure its step, message, last console lines and logs:
 *          for a file, a pipe, a CI log.  Nothing is ever redrawn.
 *   LIVE   the same lines, plus one status line under them redrawn in
 *          place ("\r\033[K"): done/total, passed, failed, the running
 *          tests and how long each has run, the elapsed time and an
 *          estimate of the time left.  The status line is wiped before
 *          anything else is written and by qhil_progress_end, so it is
 *          never left on the screen; it is cut to the terminal's width
 *          (never wraps) and redrawn at most every 100 ms.
 *
 * Colour (ANSI SGR codes on the verdicts) only when opts.color is set;
 * the caller decides (qhil run: a terminal and NO_COLOR unset).
 *
 * Writing: each finished test's lines go out whole, with one fflush.  The
 * first write that fails (EPIPE: nobody reads any more) stops the view:
 * nothing more is written, qhil_progress_error tells it.  Calls do not
 * block beyond the write to the stream.  Not thread-safe: one view per
 * run, called from the runner's thread (the callbacks all are).
 */
#ifndef QHIL_PROGRESS_H
#define QHIL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <qhil/error.h>
#include <qhil/event.h>
#include <qhil/report.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum qhil_progress_mode {
    QHIL_PROGRESS_LINES, /* not a terminal: one line per finished test */
    QHIL_PROGRESS_LIVE,  /* a terminal: plus a status line redrawn */
} qhil_progress_mode;

typedef struct qhil_progress_opts {
    FILE *out; /* borrowed; written only by the view until
                  qhil_progress_end */
    qhil_progress_mode mode;
    bool color;         /* ANSI colours on the verdicts */
    bool quiet;         /* a line only for the tests that did not
                           pass; no header */
    size_t total;       /* tests in the run, for "3/10" */
    size_t jobs;        /* tests at once, for the estimate; 0: 1 */
    unsigned width;     /* LIVE: columns; 0: the terminal's
                           (TIOCGWINSZ on out, read at each redraw),
                           80 when it cannot tell */
    const char *header; /* written once, when the first test starts,
                           followed by the notes; NULL: none; copied */
    /* The clock, for tests; NULL: qhil_now (CLOCK_MONOTONIC, ns). */
    int64_t (*now)(void *data);
    void *now_data;
} qhil_progress_opts;

typedef struct qhil_progress qhil_progress;

/* A new view; *out: caller frees with qhil_progress_free.  QHIL_EINVAL
 * without opts->out, QHIL_ENOMEM.  Writes nothing yet. */
int qhil_progress_new(const qhil_progress_opts *opts, qhil_progress **out,
                      qhil_error *err);

/* A line ("accelerator: TCG (...)") printed under the header, indented,
 * when the header is; after the header went out, above the next test's
 * line.  Copied.  QHIL_ENOMEM only. */
int qhil_progress_note(qhil_progress *p, const char *note);

/* qhil_run_opts.test_started: the header goes out with the first test
 * (a run that fails before any test starts prints none). */
void qhil_progress_test_started(void *data, const qhil_test *test);

/* A qhil_event_fn: data is the view.  TEST_START adds the test to the
 * running ones (its time counts from here), STEP_START says which step
 * it is in; the others are ignored.  Borrowed for the call. */
void qhil_progress_event(void *data, const qhil_event *ev);

/* qhil_run_opts.test_retry: an attempt failed and the test runs again:
 * one line ("FAIL  name (1.02s) attempt 1 of 3: MESSAGE; retrying"),
 * the test no longer among the running ones until it starts again.  A
 * test that passes on a retry is labelled FLAKY by test_done, never
 * PASS.  r borrowed for the call. */
void qhil_progress_test_retry(void *data, const qhil_test *test,
                              const qhil_test_result *r);

/* qhil_run_opts.test_done: the test's line (and failure details), then
 * the status line again.  r borrowed for the call. */
void qhil_progress_test_done(void *data, const qhil_test *test,
                             const qhil_test_result *r);

/* qhil_run_opts.tick: LIVE redraws the status line when its text
 * changed and 100 ms went by since the last redraw; LINES does
 * nothing. */
void qhil_progress_tick(void *data);

/* Wipe the status line (LIVE) and flush: call before writing anything
 * else to the stream (the run's summary).  Returns qhil_progress_error. */
int qhil_progress_end(qhil_progress *p);

/* QHIL_EOK, or -errno of the first write that failed (-EPIPE). */
int qhil_progress_error(const qhil_progress *p);

/* NULL is fine; does not write (call qhil_progress_end first). */
void qhil_progress_free(qhil_progress *p);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_PROGRESS_H */
