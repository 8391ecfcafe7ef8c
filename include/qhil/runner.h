/*
 * qhil/runner.h - run a suite: one fresh machine per test, steps in order.
 *
 * Each run makes its own folder OUT_DIR/<run-id>/ and points
 * OUT_DIR/latest at it (see runpath.h).  For each test the runner makes a
 * fresh OUT_DIR/<run-id>/<test>/ (console.log, qemu.log, qemu.pid; the
 * test name made safe by qhil_runpath_name), launches the suite's board
 * with the suite's images, installs the fail patterns, runs the steps,
 * stops QEMU in order and records a verdict:
 *
 *   pass   every step did what it said, within the test's timeout
 *   fail   the firmware misbehaved: a pattern did not come in time, a
 *          fail_on pattern matched, a QMP reply did not match, the
 *          test's timeout came during a step ("test timeout after 1s,
 *          in step 3: wait 5s")
 *   error  the test could not run: its folder could not be made, QEMU
 *          did not start or died
 *
 * Canceling (opts.has_cancel): once opts.cancel_fd is readable, e.g. the
 * read end of a signal handler's self-pipe, the runner starts no more
 * tests.  The running test's current wait ends at once (the fd is handed
 * to its QMP and QTest clients), its QEMU is still shut down in order
 * (quit, SIGTERM, SIGKILL: the shutdown does not watch the fd), and it
 * gets verdict error with .interrupted set and the message
 * "interrupted" (or cancel_reason's).  A test whose QEMU died while the
 * fd was readable counts as interrupted too (a Ctrl-C in a terminal
 * reaches QEMU as well).  The tests that did not start are in the
 * results with verdict skip, .not_run set and the message "not run: "
 * and the reason.  qhil_run_suite then returns QHIL_EOK as usual, so
 * the caller writes complete reports.  The runner never reads the fd.
 *
 * Problems that would hit every test (unknown board, bad template, QEMU
 * binary not installed, forbidden job options, unknown test names in
 * "only") end the run before any QEMU starts or any directory is made,
 * with an error naming the file and line at fault: the suite's, or the
 * board template's.
 */
#ifndef QHIL_RUNNER_H
#define QHIL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>
#include <qhil/event.h>
#include <qhil/report.h>
#include <qhil/site.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct qhil_run_opts {
    const char *const *board_dirs; /* NULL-terminated search list */
    const char *const *qemu_dirs;  /* searched for the board's QEMU binary
                                      before PATH (NULL-terminated, may
                                      be NULL): where qhil's own QEMU
                                      build lives */
    const qhil_site *site;         /* the site config (site.h); NULL:
                                      the built-in strict site */
    bool keep_disks;               /* keep each test's scratch disk
                                      (guestfs_*) in its folder */
    const char *out_dir;           /* OUT: created if missing; the run
                                      writes in a new OUT/<run-id>/ */
    const char *const *only;       /* test names to run (NULL-terminated),
                                      NULL for all */
    size_t tail_lines;             /* console lines kept in a failure;
                                      0: 10 */
    /* Progress callbacks, may be NULL; results borrowed for the call. */
    void (*test_started)(void *data, const qhil_test *test);
    void (*test_done)(void *data, const qhil_test *test,
                      const qhil_test_result *result);
    /* Each decision of the job layer worth a line in the log (trusted,
     * accelerator, sandbox: qhil_job_notes), once per run; may be NULL.
     * The run folder's job.log has them too. */
    void (*noted)(void *data, const char *note);
    void *data;
    /* Every event of every test as it happens (qhil/event.h), may be
     * NULL; the event is borrowed for the call, which must not call
     * back into the runner.  E.g. qhil_event_sink_write with its sink
     * as event_data. */
    qhil_event_fn event;
    void *event_data;
    /* Keep each test's events for the JSON report: each attempt's go
     * to events.jsonl in its folder as they come, and its result names
     * the file (qhil_test_result.events_log, events_kept; events stays
     * NULL); at most 32 MiB of them per attempt, the rest counted in
     * events_dropped. */
    bool keep_events;
    /* Cancel: watched only when has_cancel (so a zeroed opts has none;
     * fd 0 is a valid fd).  Borrowed, never read. */
    bool has_cancel;
    int cancel_fd;
    /* Why the run was canceled, for the messages ("interrupted by
     * SIGINT"); called once the fd is readable, may be NULL (then
     * "interrupted").  The string is borrowed until the next call. */
    const char *(*cancel_reason)(void *data);
    /* The order to run in (qhil/select.h makes one): n_order indices
     * into suite->tests, a test given k times runs k times, its results
     * named "NAME [1/k]" ... "NAME [k/k]" (qhil_select_names), so are its
     * folders.  NULL: every test once, in suite order.  With only as
     * well, the entries whose test only does not name are left out.
     * Borrowed for the call; an index out of range is an error before
     * any folder is made. */
    const size_t *order;
    size_t n_order;
    /* Once a test's verdict is fail or error, start no more tests: the
     * rest are in the results with verdict skip, .not_run set and the
     * message "not run: --fail-fast" (as for a canceled run). */
    bool fail_fast;
    /* Lines added to the run folder's job.log after the job's notes
     * ("shuffle seed: 42"), NULL-terminated, may be NULL; borrowed. */
    const char *const *log_notes;
    /* Tests at once, each in a worker process of its own (a crash or a
     * hang of one cannot touch another's result; progress callbacks and
     * events still come in this process, whole).  0 or 1: one after
     * the other in this process.  The process must be single-threaded
     * when jobs > 1 (the workers are forks). */
    size_t jobs;
    /* Every step's and test's timeout times this, for slow machines
     * (a wait step still waits what it says); 0: 1. */
    double timeout_multiplier;
    /* Retries: a test whose verdict is fail or error runs again, up to
     * retry more times, until an attempt passes (0: never; at most
     * QHIL_RETRY_MAX).  Not an interrupted test, not once the run is
     * canceled, not a skipped one, not once --fail-fast fired.  Each
     * attempt gets a fresh folder (runpath.h: attempt 1 is the test's,
     * attempt K its attempt-K/), and its own events, which carry the
     * attempt's number (qhil_event.attempt).  The result is the last
     * attempt's, with attempts, tries (the earlier ones) and flaky set
     * (report.h).  With fail_fast, a test with retries left is retried
     * first: only its last attempt's failure stops the run.  With jobs
     * > 1, a retry is queued again before the tests not started yet and
     * runs in a new worker; the other tests go on meanwhile.
     * A test's own `retry:` key (or its suite's) is used when
     * has_retry is false; has_retry: retry applies to every test. */
    unsigned retry;
    bool has_retry;
    /* An attempt failed and the test is about to run again; result
     * borrowed for the call: that attempt's (attempts says which).
     * test_done comes once, for the last attempt.  May be NULL. */
    void (*test_retry)(void *data, const qhil_test *test,
                       const qhil_test_result *result);
    /* Called with data at least every QHIL_RUN_TICK_NS while tests run in
     * workers (jobs > 1, or isolate), from the runner's poll loop, even
     * when no event comes: for a live progress view that shows how long
     * each test has run (qhil_progress_tick).  May be NULL; must return
     * at once and not call back into the runner. */
    void (*tick)(void *data);
    /* With jobs 0 or 1: still run each test in a worker process, one at
     * a time, so that the runner's loop (and tick) keeps going while a
     * test waits.  Verdicts and events are the same either way. */
    bool isolate;
    /* Caps for this run (qhil/limits.h), bytes, 0: none; each can only
     * lower the site's: resident memory per QEMU (--max-memory), and
     * the bytes of the run folder's test folders (--max-run-folder).
     * The site's jobs cap also cuts jobs above. */
    uint64_t max_memory;
    uint64_t max_run_folder;
} qhil_run_opts;

/* The longest time between two calls of qhil_run_opts.tick. */
#define QHIL_RUN_TICK_NS (250 * 1000000LL)

/*
 * Run the suite.  Returns QHIL_EOK when every test ran (whatever the
 * verdicts: see *out), or an error when the suite could not be run at
 * all.  *out: malloc'ed results, free with qhil_suite_result_free.
 * Blocks for as long as the tests take; every wait has the suite's
 * deadlines.
 */
int qhil_run_suite(const qhil_suite *suite, const qhil_run_opts *opts,
                   qhil_suite_result **out, qhil_error *err);

/*
 * Check that the suite can be run, without running it: resolve its board
 * through opts->board_dirs, load the template, find the QEMU binary
 * (opts->qemu_dirs, then PATH), check the images against the board's
 * slots and the job context against the template, build the QEMU argv
 * and throw it away, and check the names in opts->only.  These are
 * exactly the checks qhil_run_suite makes before it makes a folder or
 * starts QEMU (it calls the same code), with the same messages.  Only
 * board_dirs, qemu_dirs, site and only are read from opts; out_dir may
 * be NULL.  Returns QHIL_EOK, or the error qhil_run_suite would return.
 * Reads the board file and the first 64 bytes of each image; starts no
 * process, creates no file and does not block otherwise.
 */
int qhil_run_check(const qhil_suite *suite, const qhil_run_opts *opts,
                   qhil_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_RUNNER_H */
