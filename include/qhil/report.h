/*
 * qhil/report.h - results of a suite run, and their reports for CI.
 *
 * The runner fills a qhil_suite_result, each test's result folded from
 * the test's events (result.h); the report writers turn it into
 * JUnit XML (console log of each test in <system-out>), TAP version 13,
 * or JSON: the whole run with each test's events (docs/events.md).
 * An interrupted test is an error (JUnit <error message="interrupted by
 * SIGINT">, TAP "not ok N - name # interrupted" with its diagnostics);
 * a test the interrupted run did not start is skipped (JUnit <skipped
 * message="not run: ...">, TAP "ok N - name # SKIP not run: ...").
 * The writers read the console logs named in the results; they never
 * print on their own, they write to the FILE or path given.
 */
#ifndef QHIL_REPORT_H
#define QHIL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <qhil/error.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum qhil_verdict {
    QHIL_PASS,
    QHIL_FAIL,  /* the firmware did not behave: pattern, check, fail_on */
    QHIL_ERROR, /* the test could not run properly: QEMU died, bad board */
    QHIL_SKIP,
} qhil_verdict;

/* Static "pass", "fail", "error", "skip". */
const char *qhil_verdict_name(qhil_verdict v);

/* One failure a test recorded (a failure event, result.h).  message is
 * malloc'ed and owned by the result. */
typedef struct qhil_failure {
    size_t step;          /* 1-based step it happened in, 0 outside them */
    int line;             /* the suite line of that step, 0 if none */
    qhil_verdict verdict; /* QHIL_FAIL or QHIL_ERROR */
    char *message;
    int64_t wall_ns;      /* since the test started */
} qhil_failure;

/* One step as it ran (step_start .. step_end events, result.h).  desc is
 * malloc'ed and owned by the result, NULL when not known. */
typedef struct qhil_step_time {
    size_t step;          /* 1-based index in the test */
    int line;             /* its suite line */
    char *desc;           /* expect "Hello, QEMU!" */
    qhil_verdict verdict; /* pass, or the failure's verdict */
    int64_t start_ns;     /* since the test started */
    int64_t duration_ns;  /* -1 when the step never ended (a crash) */
} qhil_step_time;

/* One attempt of a retried test that is not its last; all owned, any
 * string may be NULL.  Its folder is the test's (attempt 1) or the
 * test's attempt-K/ (runpath.h), as console_log says. */
typedef struct qhil_test_try {
    qhil_verdict verdict; /* fail or error */
    int64_t duration_ns;
    size_t step; /* 1-based failing step, 0 for none */
    int step_line;
    char *step_desc;
    char *message;
    char *console_tail;
    char *console_log;
    char *qemu_log;
    json_t *events; /* this attempt's events as an array, owned, or NULL:
                       the runner leaves it NULL and keeps them in
                       events_log */
    size_t events_dropped;
    qhil_failure *failures; /* this attempt's, as in qhil_test_result */
    size_t n_failures;
    qhil_step_time *steps;
    size_t n_steps;
    char *events_log;   /* as in qhil_test_result, for this attempt */
    size_t events_kept;
} qhil_test_try;

/* The layout of qhil_test_result: fields are only ever added at the end
 * of the struct, and this grows when they are.  A result built by this
 * library has .version set to it; index the results of a suite with
 * qhil_suite_result_test rather than with the size of the struct. */
#define QHIL_RESULT_VERSION 3

/* One test's outcome, the fold of its events (result.h).  All strings
 * malloc'ed and owned; any may be NULL. */
typedef struct qhil_test_result {
    char *name;
    qhil_verdict verdict;
    int64_t duration_ns;
    size_t step;          /* 1-based failing step, 0 for none */
    int step_line;        /* suite line of that step, 0 if none */
    char *step_desc;      /* e.g. expect "Hello, QEMU!" */
    char *message;        /* one line: why it failed */
    char *console_tail;   /* last console lines at the failure */
    char *console_log;    /* path of the full console log */
    char *qemu_log;       /* path of QEMU's stderr log */
    bool interrupted;     /* verdict error: the run was canceled while
                             this test ran (see runner.h) */
    bool not_run;         /* verdict skip: the run was canceled before
                             this test started */
    json_t *events;       /* the test's events (qhil_event_to_json) as an
                             array, owned, or NULL; the runner leaves it
                             NULL and keeps them in events_log */
    size_t events_dropped; /* events not kept: over the cap per test, or
                              not written */
    /* For the JUnit <properties> and failure body; 0 or NULL when not
     * known.  qhil_suite_result_annotate fills them after a run. */
    char *qemu_version;  /* "7.2.0", of the QEMU that ran the test */
    char *pattern;       /* the failing step's expect pattern, if the
                            failing step is an expect */
    unsigned repeat;     /* with --repeat: k of the k-th of m runs */
    unsigned repeats;    /* m; 0 when the test was not repeated */
    unsigned attempts;   /* times the test ran (a retry adds one); 0 is
                            written as 1 */
    /* QHIL_RESULT_VERSION 2: */
    /* Retries (qhil_run_opts.retry): the fields above are the last
     * attempt's; tries holds each attempt before it, in order (n_tries
     * is attempts - 1), owned.  flaky: an attempt failed and the last
     * one passed (verdict pass): it passed, but no report shows it as
     * a clean pass.  max_attempts: how many it was allowed (1 + its
     * retries), 0 when not known. */
    bool flaky;
    struct qhil_test_try *tries;
    size_t n_tries;
    unsigned max_attempts;
    unsigned version;        /* QHIL_RESULT_VERSION of who built it */
    qhil_failure *failures;  /* every failure, in order; n_failures; the
                                one that names the test's reason is
                                copied into step/message above */
    size_t n_failures;
    size_t failures_dropped; /* over QHIL_RESULT_FAILURES_MAX */
    qhil_step_time *steps;   /* every step that started, in order */
    size_t n_steps;
    size_t steps_dropped;    /* over QHIL_RESULT_STEPS_MAX */
    char **tags;             /* the test's tags (suite.h), n_tags */
    size_t n_tags;
    unsigned fold;           /* the fold's own state (result.h) */
    /* QHIL_RESULT_VERSION 3: */
    /* With qhil_run_opts.keep_events: the file the attempt's events went
     * to as they came, one JSON object a line (qhil_event_to_json):
     * events.jsonl in its folder, owned, NULL when not kept.
     * events_kept: how many lines were written to it; a report that
     * reads fewer back counts the rest in its events_dropped. */
    char *events_log;
    size_t events_kept;
} qhil_test_result;

typedef struct qhil_suite_result {
    char *name;            /* suite name */
    char *file;            /* suite file */
    char *run_dir;         /* the run's folder, OUT/<run-id> (runpath.h) */
    int64_t started_unix;  /* wall clock start, seconds since the epoch */
    int64_t duration_ns;
    qhil_test_result *tests;
    size_t n_tests;
    char *device_type; /* the suite's board, NULL when unknown */
    bool shuffled;     /* the order was shuffled, from seed */
    uint64_t seed;
} qhil_suite_result;

/* Free the strings of one result and zero it; NULL is fine. */
void qhil_test_result_release(qhil_test_result *r);

/* Free a whole suite result allocated with malloc; NULL is fine. */
void qhil_suite_result_free(qhil_suite_result *r);

/*
 * Fill what a result cannot know by itself, once qhil_run_suite
 * returned r for suite and the order given as qhil_run_opts.order
 * (NULL and 0: every test once, in suite order): for each test, its
 * repeat k of m when its test is in the order more than once, the
 * pattern of its failing step when that step is an expect, the QEMU
 * version from its kept events (machine_start) when it has none yet,
 * and attempts 1 when 0.  Tests are matched to the order by position,
 * and only when r has one result per entry and each result's name is
 * its test's ("NAME" or "NAME [k/m]"); a result that does not match
 * gets only the QEMU version and attempts.  Fields already set are
 * kept.  Returns QHIL_EOK or QHIL_ENOMEM; never blocks.
 */
int qhil_suite_result_annotate(qhil_suite_result *r,
                               const qhil_suite *suite,
                               const size_t *order, size_t n_order);

/* The i-th test's result (0-based), NULL when i is out of range; valid
 * as long as r.  Never blocks. */
const qhil_test_result *qhil_suite_result_test(const qhil_suite_result *r,
                                               size_t i);

/* Count tests by verdict. */
size_t qhil_suite_result_count(const qhil_suite_result *r, qhil_verdict v);

typedef enum qhil_report_format {
    QHIL_REPORT_JUNIT,
    QHIL_REPORT_TAP,
    QHIL_REPORT_JSON, /* the whole run with each test's events
                         (docs/events.md) */
} qhil_report_format;

/*
 * Write the report to an open stream.  JUnit embeds each test's console
 * log (at most the last 1 MiB of it, said so when cut) in <system-out>,
 * escaped for XML, with bytes that XML 1.0 cannot carry replaced by
 * U+FFFD.  Returns QHIL_EIO when writing fails.
 */
int qhil_report_write(const qhil_suite_result *r, qhil_report_format fmt,
                      FILE *out, qhil_error *err);

/*
 * Write the report to path atomically (temporary file beside it, then
 * rename), so CI never reads half a report: qhil_report_file_open, then
 * qhil_report_file_commit.
 */
int qhil_report_save(const qhil_suite_result *r, qhil_report_format fmt,
                     const char *path, qhil_error *err);

/*
 * A report file opened before the run and written after it, so that a
 * path that cannot be written is known before any test starts.
 *
 * qhil_report_file_open creates the temporary file beside path now
 * (".<name>.tmpXXXXXXXX" in the same folder, O_CREAT|O_EXCL|O_NOFOLLOW,
 * mode 0644 less the umask); it fails with the path in err when the
 * folder does not exist or is not writable, or path is a folder.
 * qhil_report_file_commit writes the report to it, syncs it and renames
 * it over path (a symlink at path is replaced, never followed); once
 * only.  qhil_report_file_free removes the temporary file if it was not
 * committed; NULL is fine.  *out: free with qhil_report_file_free.
 * These block only on the file system.
 */
typedef struct qhil_report_file qhil_report_file;

int qhil_report_file_open(const char *path, qhil_report_file **out,
                          qhil_error *err);
int qhil_report_file_commit(qhil_report_file *f, const qhil_suite_result *r,
                            qhil_report_format fmt, qhil_error *err);
void qhil_report_file_free(qhil_report_file *f);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_REPORT_H */
