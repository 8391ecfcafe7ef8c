/*
 * runner.c - run a parsed suite on fresh machines and collect verdicts.
 *
 * run_suite: run_prepare (the job, once: device type + site + the
 *            suite's context and steps checked, argv built, job.c; then
 *            "only"; also all of qhil_run_check) -> the names of
 *            opts->order's entries (select.c) -> make the run folder
 *            (runpath.c) -> job.log (the job's notes and labelled command
 *            line) -> for each entry of the order (each test without
 *            one): make its folder -> run_test -> callbacks.  A test
 *            whose folder cannot be made gets an ERROR verdict and the
 *            run goes on; with fail_fast, a failed test ends the run and
 *            the rest are "not run", as in a canceled run.
 * run_test:  its scratch disk if the job asks (guestfs_*, removed after
 *            unless kept) -> launch with the job's argv and the site's
 *            environment -> fail patterns -> steps -> shutdown -> verdict
 *            (pass / fail / error, see runner.h).
 * run_step:  the step's entry in the step table (step.c) runs it with a
 *            qhil_step_ctx: the machine, the deadlines, and callbacks
 *            that record a failure at the running step; the runner only
 *            decides what a timeout was (the step's or the test's).
 *
 * Each step's deadline is its own timeout from when it starts, cut short
 * by the test's overall timeout when the test has one.  A step that ends
 * because the test's deadline came (a wait cut short, an expect, QMP or
 * QTest call that timed out at it, or any step that finishes after it)
 * fails the test: "test timeout after 1s, in step 3: wait 5s".
 *
 * Results are events: run_test and its steps only emit (emit()), and
 * emit folds every event into the test's result (result.h) before it
 * keeps it or hands it on, also when nobody listens.  So the verdict,
 * the failing step, every failure and every step's time come from the
 * stream a worker sends too (pool.c); what no event carries is set here
 * beside it: the log paths, the console tail at the failure, the tags,
 * and not run.
 *
 * Canceling (runner.h): the cancel fd is polled, without reading it,
 * before each test and each step, and handed to the machine's clients
 * so that the running step's wait ends with QHIL_ECANCELED; it is taken
 * off them again before the shutdown, which must run to its end.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <qhil/board.h>
#include <qhil/clock.h>
#include <qhil/job.h>
#include <qhil/machine.h>
#include <qhil/qmp.h>
#include <qhil/result.h>
#include <qhil/runner.h>
#include <qhil/runpath.h>
#include <qhil/select.h>
#include <qhil/site.h>

#include "disk.h"
#include "eventlog.h"
#include "internal.h"
#include "pool.h"
#include "proc.h"
#include "runlimits.h"
#include "step.h"

/* The step as a failure names it, through its table entry. */
static char *step_describe(const qhil_step *st)
{
    const qhil_step_entry *e = qhil_step_entry_of(st);

    return e ? e->describe(st) : NULL;
}

typedef struct test_run {
    const qhil_run_opts *opts;
    const qhil_suite *suite;
    const qhil_test *test;
    qhil_test_result *res;
    qhil_machine *m;
    int64_t start; /* when the test began: events' wall_ns count from it */
    int64_t test_deadline;
    size_t step;           /* the running step, 1-based; 0 before the steps */
    qhil_step_ctx sc;      /* what the step table's run functions get */
    bool fail_match_told;  /* the fail_match event went out */
    qhil_eventlog log;     /* with keep_events: res->events_log */
    uint64_t qemu_log_off; /* qemu.log read up to here (qemu_warning) */
    size_t qemu_log_read;  /* bytes of it read, up to QEMU_WARN_BYTES */
} test_run;

/* --- events (qhil/event.h) ---------------------------------------------
 *
 * The runner fills in what every event has (the time since the test
 * began, the test, the running step and its line) and hands it to the
 * caller's callback.  Console lines and QMP messages come from the
 * console's and the QMP client's hooks while a step runs, so they carry
 * that step; the rest is sent from here, where it happens. */

static bool events_on(const test_run *tr)
{
    return tr->opts->event || tr->opts->keep_events;
}

/* Into the attempt's events.jsonl (eventlog.c), up to its cap; the
 * result holds only the path and the count. */
static void keep_event(test_run *tr, const qhil_event *ev)
{
    json_t *j = NULL;

    if (qhil_event_to_json(ev, &j, NULL) < 0 ||
        qhil_eventlog_put(&tr->log, j) < 0) {
        tr->res->events_dropped++;
    } else {
        tr->res->events_kept++;
    }
    json_decref(j);
}

/* Every event is folded into the test's result (result.h), whether or
 * not anyone listens; kept and handed to the callback when asked. */
static void emit(test_run *tr, qhil_event *ev)
{
    ev->wall_ns = qhil_now() - tr->start;
    ev->virtual_ns = -1;
    ev->test = tr->res->name ? tr->res->name : tr->test->name;
    ev->attempt = tr->res->attempts;
    if (!ev->step && tr->step) {
        ev->step = tr->step;
    }
    if (ev->step && !ev->line) {
        ev->line = tr->test->steps[ev->step - 1].line;
    }
    qhil_test_result_apply(tr->res, ev, NULL);
    if (!events_on(tr)) {
        return;
    }
    if (tr->opts->keep_events) {
        keep_event(tr, ev);
    }
    if (tr->opts->event) {
        tr->opts->event(tr->opts->event_data, ev);
    }
}

static void emit_text(test_run *tr, qhil_event_kind kind, const char *text)
{
    qhil_event ev = {
        .kind = kind, .text = text, .len = text ? strlen(text) : 0};

    emit(tr, &ev);
}

static void on_console_line(void *data, uint64_t offset, const char *bytes,
                            size_t len, int cut)
{
    qhil_event ev = {
        .kind = QHIL_EVENT_CONSOLE_LINE,
        .port = "console",
        .offset = offset,
        .text = bytes,
        .len = len,
        .cut = cut,
    };

    emit(data, &ev);
}

static void on_qmp_message(void *data, qhil_qmp_dir dir, const json_t *msg)
{
    qhil_event ev = {.json = msg};

    if (dir == QHIL_QMP_OUT) {
        ev.kind = QHIL_EVENT_QMP_COMMAND;
    } else if (json_object_get(msg, "event")) {
        ev.kind = QHIL_EVENT_QMP_EVENT;
    } else if (json_object_get(msg, "QMP")) {
        return; /* the greeting is machine_start's */
    } else {
        ev.kind = QHIL_EVENT_QMP_REPLY;
    }
    emit(data, &ev);
}

/* QEMU is up: its pid, version and greeting; from now on its console
 * lines and QMP messages are events too. */
static void machine_started(test_run *tr, const char *const *argv)
{
    qhil_qmp *qmp = qhil_machine_qmp(tr->m);
    int major = 0;
    int minor = 0;
    int micro = 0;
    char version[48] = "";
    qhil_event ev = {
        .kind = QHIL_EVENT_MACHINE_START,
        .pid = (long)qhil_machine_pid(tr->m),
        .json = qhil_qmp_greeting(qmp),
        .argv = argv,
    };

    if (qhil_qmp_version(qmp, &major, &minor, &micro) == QHIL_EOK) {
        snprintf(version, sizeof(version), "%d.%d.%d", major, minor, micro);
    }
    ev.text = version;
    ev.len = strlen(version);
    emit(tr, &ev);
    if (!events_on(tr)) {
        return;
    }
    qhil_console_set_line_fn(qhil_machine_console(tr->m), on_console_line, tr);
    qhil_qmp_set_trace(qmp, on_qmp_message, tr);
}

/* How QEMU ended, with the last lines of its stderr. */
static void machine_ended(test_run *tr)
{
    char *tail = events_on(tr) ? qhil_machine_stderr_tail(tr->m, 5) : NULL;
    qhil_event ev = {
        .kind = QHIL_EVENT_MACHINE_END,
        .how = (int)qhil_machine_end_how(tr->m),
        .status = qhil_machine_status(tr->m),
        .text = tail,
        .len = tail ? strlen(tail) : 0,
    };

    emit(tr, &ev);
    free(tail);
}

/* What QEMU's own log (its stdout and stderr) may turn into qemu_warning
 * events per test, at most: a "-d" log can weigh hundreds of MB. */
#define QEMU_WARN_BYTES ((size_t)1 << 20)

/*
 * The lines QEMU wrote to qemu.log since the last look, as qemu_warning
 * events: after each step and once QEMU is gone (at_end: an unfinished
 * last line counts too).  The log's drain thread writes the file as the
 * bytes come (machine.c), so reading it needs no thread of our own; only
 * whole lines are taken before the end.  Reads with pread from where it
 * stopped, QEMU_WARN_BYTES per test at most.  Only when events are on.
 */
static void qemu_warnings(test_run *tr, bool at_end)
{
    char *buf = NULL;
    size_t want = QHIL_EVENT_LINE_MAX * 16;
    ssize_t n;
    int fd;

    if (!events_on(tr) || !tr->res->qemu_log ||
        tr->qemu_log_read >= QEMU_WARN_BYTES) {
        return;
    }
    /* O_NONBLOCK: should it ever not be the regular file machine.c
     * made, a FIFO there cannot stop the test. */
    fd =
        open(tr->res->qemu_log, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    buf = fd >= 0 ? malloc(want) : NULL;
    while (buf && tr->qemu_log_read < QEMU_WARN_BYTES) {
        size_t start = 0;
        size_t i;

        if (want > QEMU_WARN_BYTES - tr->qemu_log_read) {
            want = QEMU_WARN_BYTES - tr->qemu_log_read;
        }
        n = pread(fd, buf, want, (off_t)tr->qemu_log_off);
        if (n <= 0) {
            break;
        }
        for (i = 0; i <= (size_t)n; i++) {
            bool lf = i < (size_t)n && buf[i] == '\n';
            bool full = i - start >= QHIL_EVENT_LINE_MAX;
            bool last =
                i == (size_t)n && at_end && i > start && (size_t)n < want;
            qhil_event ev = {.kind = QHIL_EVENT_QEMU_WARNING};

            if (lf && i == start) {
                start = i + 1; /* an empty line says nothing */
                continue;
            }
            if (!lf && !full && !last) {
                continue;
            }
            ev.text = buf + start;
            ev.len = i - start;
            ev.cut = full && !lf;
            emit(tr, &ev);
            start = lf ? i + 1 : i;
        }
        if (start == 0) {
            /* No whole line (a partial one, or the few bytes left under
             * QEMU_WARN_BYTES): for the next look; never a loop that
             * reads the same bytes again. */
            break;
        }
        tr->qemu_log_off += start;
        tr->qemu_log_read += start;
        if ((size_t)n < want) {
            break;
        }
    }
    free(buf);
    if (fd >= 0) {
        close(fd);
    }
}

/* A fail pattern matched: which, and where, once per test. */
static void fail_matched(test_run *tr)
{
    qhil_event ev = {.kind = QHIL_EVENT_FAIL_MATCH, .port = "console"};
    size_t index;

    if (!events_on(tr) || tr->fail_match_told || !tr->m ||
        qhil_console_fail_match(qhil_machine_console(tr->m), &index,
                                &ev.pattern, &ev.offset, &ev.text,
                                &ev.len) < 0) {
        return;
    }
    tr->fail_match_told = true;
    emit(tr, &ev);
}

/* Has the run been canceled?  Polls the fd without reading it. */
static bool run_canceled(const qhil_run_opts *opts)
{
    struct pollfd pfd = {.fd = opts->cancel_fd, .events = POLLIN};

    if (!opts->has_cancel || opts->cancel_fd < 0) {
        return false;
    }
    return poll(&pfd, 1, 0) > 0 && pfd.revents != 0;
}

static const char *cancel_reason(const qhil_run_opts *opts)
{
    const char *why =
        opts->cancel_reason ? opts->cancel_reason(opts->data) : NULL;

    return why && *why ? why : "interrupted";
}

/* A failure, verdict FAIL or ERROR: its event, which the result folds
 * (the first failure, or a later cause, is the test's reason: how is a
 * QHIL_FAILURE_*). */
static void test_failed_how(test_run *tr, qhil_verdict v, size_t step_index,
                            const char *message, int how)
{
    qhil_event ev = {
        .kind = QHIL_EVENT_FAILURE,
        .verdict = v,
        .step = step_index,
        .text = message ? message : "failed",
        .how = how,
    };

    ev.len = strlen(ev.text);
    fail_matched(tr);
    emit(tr, &ev);
}

static void test_failed(test_run *tr, qhil_verdict v, size_t step_index,
                        const char *message)
{
    test_failed_how(tr, v, step_index, message, QHIL_FAILURE_PLAIN);
}

/* The machine is gone or the link broke: say how QEMU ended. */
static void test_machine_lost(test_run *tr, size_t step_index,
                              const qhil_error *cause)
{
    qhil_error e;

    qhil_error_init(&e);
    /* Give QEMU a moment to finish dying so its status is known. */
    if (qhil_machine_wait_exit(tr->m, qhil_deadline_in(2 * QHIL_SEC), NULL) ==
        QHIL_EOK) {
        qhil_machine_check(tr->m, &e);
        test_failed(tr, QHIL_ERROR, step_index, e.message);
    } else {
        test_failed(tr, QHIL_ERROR, step_index,
                    qhil_error_message(cause, QHIL_EEOF));
    }
    qhil_error_release(&e);
}

/* The run was canceled during step step_index (0: before the steps). */
static void test_interrupted(test_run *tr, size_t step_index)
{
    test_failed_how(tr, QHIL_ERROR, step_index, cancel_reason(tr->opts),
                    QHIL_FAILURE_INTERRUPTED);
}

/* A timeout under opts->timeout_multiplier: the test's (st NULL) or a
 * step's; a wait step's time is what it waits, not a timeout. */
static int64_t scaled(const qhil_run_opts *opts, const qhil_step *st,
                      int64_t ns)
{
    double m = opts->timeout_multiplier;

    if (m <= 0 || m == 1 || (st && st->kind == QHIL_STEP_WAIT)) {
        return ns;
    }
    return (double)ns * m >= (double)INT64_MAX / 2 ? INT64_MAX / 2
                                                   : (int64_t)((double)ns * m);
}

static int64_t step_deadline(const test_run *tr, int64_t timeout)
{
    int64_t d = qhil_deadline_in(timeout);

    return tr->test_deadline && tr->test_deadline < d ? tr->test_deadline : d;
}

/*
 * Did the step end because the test's deadline came?  deadline: the
 * step's, which is the test's when the test's came first; timed_out: the
 * step's wait ran out (a wait step always does).  A step that passed
 * after the test's deadline counts too: the test ran over its time.  A
 * step that failed for its own reason keeps it.
 */
static bool test_deadline_hit(const test_run *tr, int64_t deadline,
                              bool timed_out)
{
    if (!tr->test_deadline) {
        return false;
    }
    if (timed_out && deadline == tr->test_deadline) {
        return true;
    }
    return (timed_out || tr->res->verdict == QHIL_PASS) &&
           qhil_now() >= tr->test_deadline;
}

/* The test's deadline came during step idx: a failure, whatever the step
 * was doing, and the last step of the test. */
static void test_timed_out(test_run *tr, size_t idx)
{
    char *desc = step_describe(&tr->test->steps[idx - 1]);
    char *msg = NULL;
    char dur[32];

    qhil_duration_format(scaled(tr->opts, NULL, tr->test->timeout_ns), dur,
                         sizeof(dur));
    if (asprintf(&msg, "test timeout after %s, in step %zu: %s", dur, idx,
                 desc ? desc : "?") < 0) {
        msg = NULL;
    }
    test_failed_how(tr, QHIL_FAIL, idx, msg ? msg : "test timeout",
                    QHIL_FAILURE_CAUSE);
    free(msg);
    free(desc);
}

/* The step table's way to record a failure of the running step. */
static void step_fail(void *data, qhil_verdict v, const char *message)
{
    test_run *tr = data;

    test_failed(tr, v, tr->step, message);
}

static void step_lost(void *data, const qhil_error *cause)
{
    test_run *tr = data;

    test_machine_lost(tr, tr->step, cause);
}

static void step_interrupted(void *data)
{
    test_run *tr = data;

    test_interrupted(tr, tr->step);
}

/* QMP commands that do something to the machine a guest can see: they
 * come as fault events too. */
static bool qmp_is_fault(const char *command)
{
    static const char *const faults[] = {
        "system_reset",  "inject-nmi", "system_powerdown",
        "system_wakeup", "device_del", "set_link",
        "stop",          "cont",
    };
    size_t i;

    for (i = 0; command && i < QHIL_ARRAY_SIZE(faults); i++) {
        if (strcmp(command, faults[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* step_start (its description is the result's too), and the input a
 * send step is about to write or the fault it is about to inject. */
static void step_started(test_run *tr, const qhil_step *st)
{
    char *desc = step_describe(st);

    emit_text(tr, QHIL_EVENT_STEP_START, desc);
    if (events_on(tr) &&
        ((st->kind == QHIL_STEP_QMP && qmp_is_fault(st->command)) ||
         st->kind == QHIL_STEP_WRITE)) {
        qhil_event ev = {.kind = QHIL_EVENT_FAULT};

        ev.text = st->kind == QHIL_STEP_QMP ? st->command : desc;
        ev.len = ev.text ? strlen(ev.text) : 0;
        emit(tr, &ev);
    }
    free(desc);
    if (events_on(tr) && st->kind == QHIL_STEP_SEND) {
        qhil_event ev = {
            .kind = QHIL_EVENT_INPUT,
            .port = "console",
            .text = st->text,
            .len = st->text_len,
        };

        emit(tr, &ev);
    }
}

/* What an expect matched, then step_end with the step's verdict: its
 * failure's, or pass. */
static void step_ended(test_run *tr, const qhil_step *st, qhil_verdict before,
                       int64_t start)
{
    qhil_event ev = {.kind = QHIL_EVENT_STEP_END, .verdict = QHIL_PASS};

    if (events_on(tr) && st->kind == QHIL_STEP_EXPECT &&
        tr->res->verdict == before) {
        qhil_event m = {
            .kind = QHIL_EVENT_MATCH,
            .port = "console",
            .pattern = st->pattern,
        };

        if (qhil_console_last_match(qhil_machine_console(tr->m), &m.offset,
                                    &m.text, &m.len) == QHIL_EOK) {
            emit(tr, &m);
        }
    }
    if (tr->res->verdict != before) {
        ev.verdict = tr->res->verdict;
    }
    ev.duration_ns = qhil_now() - start;
    qemu_warnings(tr, false);
    emit(tr, &ev);
}

/* One step, through its entry in the step table; leaves the verdict
 * alone when it passes. */
static void run_step(test_run *tr, size_t idx)
{
    const qhil_step *st = &tr->test->steps[idx - 1];
    const qhil_step_entry *e = qhil_step_entry_of(st);
    int64_t deadline =
        step_deadline(tr, scaled(tr->opts, st, qhil_step_timeout(st)));
    qhil_verdict before = tr->res->verdict;
    int64_t start;
    bool timed_out;

    if (!e) {
        test_failed(tr, QHIL_ERROR, idx, "unknown step kind");
        return;
    }
    tr->step = idx;
    step_started(tr, st);
    start = qhil_now();
    tr->sc.deadline = deadline;
    timed_out = e->run(&tr->sc, st) == QHIL_ETIMEDOUT;
    step_ended(tr, st, before, start);
    tr->step = 0;
    /* QEMU died while the run was canceled: a signal sent to the whole
     * process group (Ctrl-C) reached it too. */
    if (tr->res->verdict == QHIL_ERROR && !tr->res->interrupted &&
        run_canceled(tr->opts)) {
        test_interrupted(tr, idx);
    } else if (!tr->res->interrupted &&
               test_deadline_hit(tr, deadline, timed_out)) {
        test_timed_out(tr, idx);
    }
}

/*
 * After every step, whatever it was (QMP and QTest steps do not read the
 * console): take what the guest printed meanwhile, so fail patterns and
 * the output cap watch all of the test, a QMP-only test included, and
 * the console socket never fills up behind the guest.  Non-blocking.  A
 * console that closed is left for the next step (or the end) to report.
 */
static void console_watch(test_run *tr, size_t idx)
{
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    tr->step = idx; /* what it reads came during or after step idx */
    rc = qhil_console_dispatch(qhil_machine_console(tr->m), &e);
    tr->step = 0;
    if (rc == QHIL_EPATTERN) {
        test_failed(tr, QHIL_ERROR, idx, e.message);
    } else if (rc == QHIL_EMATCH || rc == QHIL_ELIMIT) {
        test_failed(tr, QHIL_FAIL, idx, e.message);
    }
    qhil_error_release(&e);
}

/* The suite's argv plus the test's "-trace PATTERN" pairs; the strings
 * stay borrowed, only the array is new (free it alone). */
static char **test_argv(char *const *argv, const qhil_test *test)
{
    size_t n = 0;
    size_t i;
    char **v;

    while (argv[n]) {
        n++;
    }
    v = calloc(n + 2 * test->n_trace + 1, sizeof(*v));
    if (!v) {
        return NULL;
    }
    memcpy(v, argv, n * sizeof(*v));
    for (i = 0; i < test->n_trace; i++) {
        v[n++] = "-trace";
        v[n++] = test->trace[i];
    }
    return v;
}

/* How long qemu-img may take to make a test disk when the test has no
 * deadline of its own. */
#define DISK_NS (30 * QHIL_SEC)

/* The test's scratch disk (job.h), when its job asks for one: a fresh
 * qcow2 in the test's folder.  *path NULL when there is none. */
static int make_disk(const qhil_job *job, const char *test_dir,
                     const qhil_run_opts *opts, int64_t deadline, char **path,
                     qhil_error *err)
{
    char *img = NULL;
    int rc;

    *path = NULL;
    if (!qhil_job_disk_size(job)) {
        return QHIL_EOK;
    }
    rc = qhil_disk_find_img(opts->qemu_dirs, &img);
    if (rc < 0) {
        return qhil_error_set(err, QHIL_ENOENT,
                              "the job asks for a test disk (guestfs_*) and "
                              "qemu-img is not installed (Debian package "
                              "qemu-utils)");
    }
    if (asprintf(path, "%s/guestfs.qcow2", test_dir) < 0) {
        *path = NULL;
        free(img);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = qhil_disk_create(img, *path, qhil_job_disk_size(job),
                          deadline ? deadline : qhil_deadline_in(DISK_NS), err);
    free(img);
    if (rc < 0) {
        free(*path);
        *path = NULL;
    }
    return rc;
}

void qhil_run_one(const qhil_suite *suite, const qhil_test *test,
                  const qhil_job *job, const char *test_dir, size_t tail_lines,
                  qhil_test_result *res, const qhil_run_opts *opts)
{
    test_run tr = {
        .opts = opts,
        .suite = suite,
        .test = test,
        .res = res,
        .start = qhil_now(),
    };
    qhil_machine_opts mo = {
        .run_dir = test_dir,
        .qtest = suite->qtest != QHIL_QTEST_OFF,
        .qtest_accel = suite->qtest == QHIL_QTEST_ACCEL,
    };
    char **targv = NULL;
    char **argv = NULL;
    char *disk = NULL;
    int64_t start = qhil_now();
    qhil_limits lim;
    qhil_error e;
    size_t i;
    int rc;

    qhil_error_init(&e);
    qhil_limits_of_run(opts, &lim);
    if (opts->keep_events && !res->events_log) {
        /* Not made: each event counts as dropped, the test runs on. */
        qhil_eventlog_open(&tr.log, test_dir, &res->events_log, NULL);
    }
    emit_text(&tr, QHIL_EVENT_TEST_START, res->name ? res->name : test->name);
    if (asprintf(&res->console_log, "%s/console.log", test_dir) < 0 ||
        asprintf(&res->qemu_log, "%s/qemu.log", test_dir) < 0) {
        test_failed(&tr, QHIL_ERROR, 0, "out of memory");
        goto done;
    }
    if (test->timeout_ns) {
        tr.test_deadline =
            qhil_deadline_in(scaled(opts, NULL, test->timeout_ns));
    }
    if (make_disk(job, test_dir, opts, tr.test_deadline, &disk, &e) < 0) {
        test_failed(&tr, QHIL_ERROR, 0, e.message ? e.message : "test disk");
        goto done;
    }
    if (qhil_job_argv_disk(job, disk, &argv, &e) < 0) {
        test_failed(&tr, QHIL_ERROR, 0, "out of memory");
        goto done;
    }
    targv = test_argv(argv, test);
    if (!targv) {
        test_failed(&tr, QHIL_ERROR, 0, "out of memory");
        goto done;
    }
    mo.argv = (const char *const *)targv;
    mo.envp = qhil_job_envp(job);
    /* Starting QEMU is part of the test's time. */
    mo.deadline = tr.test_deadline;
    mo.log_limit = qhil_limits_qemu_log(&lim, test);
    mo.memory_limit = lim.memory;
    mo.has_cancel = opts->has_cancel;
    mo.cancel_fd = opts->cancel_fd;
    rc = qhil_machine_launch(&mo, &tr.m, &e);
    tr.sc.m = tr.m;
    tr.sc.qtest_accel = suite->qtest == QHIL_QTEST_ACCEL;
    tr.sc.test_deadline = tr.test_deadline;
    tr.sc.timeout_multiplier = opts->timeout_multiplier;
    tr.sc.fail = step_fail;
    tr.sc.lost = step_lost;
    tr.sc.interrupted = step_interrupted;
    tr.sc.data = &tr;
    if (rc < 0 && run_canceled(opts)) {
        test_interrupted(&tr, 0);
        goto done;
    }
    if (rc < 0 && tr.test_deadline && qhil_now() >= tr.test_deadline) {
        char dur[32];
        char *msg = NULL;

        qhil_duration_format(scaled(opts, NULL, test->timeout_ns), dur,
                             sizeof(dur));
        if (asprintf(&msg, "test timeout after %s, while QEMU started: %s", dur,
                     e.message ? e.message : "not ready") < 0) {
            msg = NULL;
        }
        test_failed(&tr, QHIL_FAIL, 0, msg ? msg : "test timeout");
        free(msg);
        goto done;
    }
    if (rc < 0) {
        test_failed(&tr, QHIL_ERROR, 0, e.message);
        goto done;
    }
    machine_started(&tr, mo.argv);
    qhil_console_set_log_limit(qhil_machine_console(tr.m),
                               qhil_limits_console(&lim, test));
    for (i = 0; i < test->n_fail_on; i++) {
        rc = qhil_console_add_fail_pattern(qhil_machine_console(tr.m),
                                           test->fail_on[i], &e);
        if (rc < 0) {
            test_failed(&tr, QHIL_ERROR, 0, e.message);
            goto done;
        }
    }
    for (i = 0; i < test->n_steps && res->verdict == QHIL_PASS; i++) {
        if (run_canceled(opts)) {
            test_interrupted(&tr, i + 1);
            break;
        }
        run_step(&tr, i + 1);
        if (res->verdict == QHIL_PASS) {
            console_watch(&tr, i + 1);
        }
        /* QEMU's own output over its cap fails the test where it
         * happened (the console's cap comes back from its calls). */
        if (res->verdict == QHIL_PASS &&
            qhil_machine_log_check(tr.m, &e) == QHIL_ELIMIT) {
            test_failed(&tr, QHIL_FAIL, i + 1, e.message);
        }
    }
    if (res->verdict != QHIL_PASS) {
        /* Catch what the guest printed up to the failure. */
        qhil_console_dispatch(qhil_machine_console(tr.m), NULL);
        res->console_tail =
            qhil_console_tail(qhil_machine_console(tr.m), tail_lines);
    }

done:
    if (tr.m) {
        /* The shutdown talks QMP too, and must not be cut short. */
        qhil_machine_set_cancel_fd(tr.m, -1);
        qhil_machine_shutdown(tr.m, NULL);
        if (events_on(&tr)) {
            /* The last lines, up to the end of the stream, as events. */
            qhil_console_dispatch(qhil_machine_console(tr.m), NULL);
            qhil_console_end_lines(qhil_machine_console(tr.m));
        }
        qemu_warnings(&tr, true);
        machine_ended(&tr);
        /* Killed for its memory after the last step: no pass. */
        if (res->verdict == QHIL_PASS && qhil_machine_memory_killed(tr.m)) {
            qhil_machine_check(tr.m, &e);
            test_failed(&tr, QHIL_ERROR, 0, e.message);
        }
        /* What QEMU wrote while it stopped counts too. */
        if (res->verdict == QHIL_PASS &&
            qhil_machine_log_check(tr.m, &e) == QHIL_ELIMIT) {
            test_failed(&tr, QHIL_FAIL, 0, e.message);
        }
        qhil_console_set_line_fn(qhil_machine_console(tr.m), NULL, NULL);
        qhil_qmp_set_trace(qhil_machine_qmp(tr.m), NULL, NULL);
        qhil_machine_free(tr.m);
        tr.m = NULL;
    }
    /* The scratch disk goes with the test unless it is to be kept. */
    if (disk && !opts->keep_disks) {
        unlink(disk);
    }
    free(disk);
    free(targv);
    qhil_argv_free(argv);
    qhil_step_ctx_release(&tr.sc);
    {
        qhil_event ev = {
            .kind = QHIL_EVENT_TEST_END,
            .verdict = res->verdict,
            .duration_ns = qhil_now() - start,
            .text = res->verdict == QHIL_PASS ? NULL : res->message,
        };

        ev.len = ev.text ? strlen(ev.text) : 0;
        emit(&tr, &ev);
    }
    qhil_eventlog_close(&tr.log);
    qhil_error_release(&e);
}

static bool test_selected(const qhil_run_opts *opts, const qhil_test *t)
{
    size_t i;

    if (!opts->only) {
        return true;
    }
    for (i = 0; opts->only[i]; i++) {
        if (strcmp(opts->only[i], t->name) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Everything checked before any folder is made or QEMU starts: the job
 * shared by all tests (job.h), and the test names of opts->only.  The
 * one path for qhil_run_suite and qhil_run_check.  *job_out on success
 * only.
 */
static int run_prepare(const qhil_suite *suite, const qhil_run_opts *opts,
                       bool probe, qhil_job **job_out, qhil_error *err)
{
    qhil_job_opts base = {
        .board_dirs = opts->board_dirs,
        .qemu_dirs = opts->qemu_dirs,
        .site = opts->site,
        .no_probe = !probe,
    };
    qhil_job *job = NULL;
    qhil_limits lim;
    size_t i;
    int rc;

    *job_out = NULL;
    rc = qhil_job_from_suite(suite, &base, &job, err);
    if (rc < 0) {
        return rc;
    }
    qhil_limits_of_run(opts, &lim);
    rc = qhil_limits_check(&lim, suite, job, err);
    if (rc < 0) {
        qhil_job_free(job);
        return rc;
    }
    for (i = 0; opts->only && opts->only[i]; i++) {
        size_t j;

        for (j = 0; j < suite->n_tests; j++) {
            if (strcmp(suite->tests[j].name, opts->only[i]) == 0) {
                break;
            }
        }
        if (j == suite->n_tests) {
            qhil_job_free(job);
            return qhil_error_set(err, QHIL_EINVAL, "%s: no test named '%s'",
                                  suite->path, opts->only[i]);
        }
    }
    *job_out = job;
    return QHIL_EOK;
}

/* RUN/job.log: what the job layer decided, and the labelled command
 * line, for whoever reads the results later. */
static void write_job_log(const qhil_job *job, const char *run_dir,
                          const qhil_run_opts *opts, const qhil_limits *lim,
                          size_t jobs)
{
    const char *const *notes = qhil_job_notes(job);
    char *limits = qhil_limits_note(lim);
    char *cut = NULL;
    char *path = NULL;
    FILE *fp = NULL;
    size_t i;
    int fd = -1;

    /* A -j above the site's cap is cut to it, and says so. */
    if (jobs < opts->jobs &&
        asprintf(&cut, "-j %zu cut to %zu: the site allows %zu QEMU%s at "
                       "once (%s)",
                 opts->jobs, jobs, jobs, jobs == 1 ? "" : "s",
                 lim->jobs_from ? lim->jobs_from : "the site") < 0) {
        cut = NULL;
    }
    for (i = 0; notes[i] && opts->noted; i++) {
        opts->noted(opts->data, notes[i]);
    }
    if (opts->noted && limits) {
        opts->noted(opts->data, limits);
    }
    if (opts->noted && cut) {
        opts->noted(opts->data, cut);
    }
    if (asprintf(&path, "%s/job.log", run_dir) < 0) {
        free(limits);
        free(cut);
        return;
    }
    fp = qhil_file_create(path, O_WRONLY, &fd, NULL) == 0 ? fdopen(fd, "w")
                                                          : NULL;
    if (fp) {
        for (i = 0; notes[i]; i++) {
            fprintf(fp, "%s\n", notes[i]);
        }
        if (limits) {
            fprintf(fp, "%s\n", limits);
        }
        if (cut) {
            fprintf(fp, "%s\n", cut);
        }
        for (i = 0; opts->log_notes && opts->log_notes[i]; i++) {
            fprintf(fp, "%s\n", opts->log_notes[i]);
        }
        fprintf(fp, "command line:\n");
        for (i = 0; i < qhil_job_nargs(job); i++) {
            fprintf(fp, "  %-12s %-40s %s\n",
                    qhil_arg_kind_name(qhil_job_arg_kind(job, i)),
                    qhil_job_arg_source(job, i), qhil_job_arg(job, i));
        }
        fclose(fp);
    } else if (fd >= 0) {
        close(fd);
    }
    free(limits);
    free(cut);
    free(path);
}

int qhil_run_check(const qhil_suite *suite, const qhil_run_opts *opts,
                   qhil_error *err)
{
    qhil_job *job = NULL;
    int rc;

    rc = run_prepare(suite, opts, false, &job, err);
    qhil_job_free(job);
    return rc;
}

/* The run's state shared by the serial loop and the pool's callbacks. */
typedef struct run_ctx {
    const qhil_suite *suite;
    const qhil_run_opts *opts;
    const qhil_job *job;
    qhil_runpath *rp;
    qhil_pool_item *runs;
    size_t tail;
    bool failed_fast;
    qhil_budget budget; /* the run folder's cap (runlimits.h) */
} run_ctx;

/* How many more times the test of run i may run after a failure. */
static unsigned retries_of(const run_ctx *c, size_t i)
{
    unsigned n = c->opts->has_retry ? c->opts->retry : c->runs[i].test->retry;

    return n > QHIL_RETRY_MAX ? QHIL_RETRY_MAX : n;
}

/* The last attempt's outcome moves into r->tries, and r is ready for
 * the next attempt (its name, attempts and QEMU version stay). */
static int result_push_try(qhil_test_result *r)
{
    qhil_test_try *grown =
        realloc(r->tries, (r->n_tries + 1) * sizeof(*r->tries));

    if (!grown) {
        return QHIL_ENOMEM;
    }
    r->tries = grown;
    grown[r->n_tries++] = (qhil_test_try){
        .verdict = r->verdict,
        .duration_ns = r->duration_ns,
        .step = r->step,
        .step_line = r->step_line,
        .step_desc = r->step_desc,
        .message = r->message,
        .console_tail = r->console_tail,
        .console_log = r->console_log,
        .qemu_log = r->qemu_log,
        .events = r->events,
        .events_dropped = r->events_dropped,
        .failures = r->failures,
        .n_failures = r->n_failures,
        .steps = r->steps,
        .n_steps = r->n_steps,
        .events_log = r->events_log,
        .events_kept = r->events_kept,
    };
    r->verdict = QHIL_PASS;
    r->duration_ns = 0;
    r->step = 0;
    r->step_line = 0;
    r->step_desc = NULL;
    r->message = NULL;
    r->console_tail = NULL;
    r->console_log = NULL;
    r->qemu_log = NULL;
    r->events = NULL;
    r->events_dropped = 0;
    r->events_log = NULL;
    r->events_kept = 0;
    /* The next attempt is a fold of its own events (result.h). */
    r->failures = NULL;
    r->n_failures = 0;
    r->failures_dropped = 0;
    r->steps = NULL;
    r->n_steps = 0;
    r->steps_dropped = 0;
    r->interrupted = false;
    r->fold = 0;
    return QHIL_EOK;
}

/* Run i has its last attempt: flaky or not, test_done, --fail-fast. */
static void run_final(run_ctx *c, size_t i)
{
    qhil_test_result *r = c->runs[i].result;

    r->flaky = r->verdict == QHIL_PASS && r->n_tries > 0;
    if (c->opts->test_done) {
        c->opts->test_done(c->opts->data, c->runs[i].test, r);
    }
    if (c->opts->fail_fast && !r->interrupted &&
        (r->verdict == QHIL_FAIL || r->verdict == QHIL_ERROR)) {
        c->failed_fast = true;
    }
}

/* Before attempt K > 1 of run i: its folder, TEST/attempt-K/, made now
 * (mkdir refuses one that exists: no attempt's logs are overwritten),
 * and the last attempt's outcome kept in tries.  When the run was
 * canceled or stopped meanwhile, or the folder cannot be made, the
 * last attempt stays the result.  false: no retry. */
static bool retry_start(run_ctx *c, size_t i)
{
    qhil_pool_item *pr = &c->runs[i];
    qhil_test_result *r = pr->result;
    char *dir = NULL;
    char *full = NULL;

    if (c->failed_fast || run_canceled(c->opts) ||
        asprintf(&dir, "%s/attempt-%u", pr->dir, r->attempts + 1) < 0) {
        run_final(c, i);
        return false;
    }
    if (!qhil_budget_start(&c->budget, i, &pr->test, &full)) {
        char *msg = NULL;

        /* The run folder is full: the last attempt stays the result. */
        if (asprintf(&msg, "%s (no retry: %s)",
                     r->message ? r->message : "failed",
                     full ? full + strlen("not run: ") : "run folder full") >=
            0) {
            free(r->message);
            r->message = msg;
        }
        free(full);
        free(dir);
        run_final(c, i);
        return false;
    }
    if (mkdir(dir, 0755) < 0) {
        char *msg = NULL;

        /* Said in the result: the test was to run again and did not. */
        if (asprintf(&msg, "%s (no retry: %s: %s)",
                     r->message ? r->message : "failed", dir,
                     strerror(errno)) >= 0) {
            free(r->message);
            r->message = msg;
        }
        free(dir);
        run_final(c, i);
        return false;
    }
    if (result_push_try(r) < 0) {
        free(dir);
        run_final(c, i);
        return false;
    }
    free(pr->attempt_dir);
    pr->attempt_dir = dir;
    r->attempts++;
    if (c->opts->test_started) {
        c->opts->test_started(c->opts->data, pr->test);
    }
    return true;
}

/* Before run i: not run (canceled, --fail-fast), or its folder and the
 * test_started callback; false when it is not to run.  A run that ran
 * already is a retry (retry_start). */
static bool run_start(void *data, size_t i)
{
    run_ctx *c = data;
    qhil_pool_item *pr = &c->runs[i];
    qhil_test_result *r = pr->result;
    char *full = NULL;
    qhil_error e;
    bool ok;

    if (r->attempts > 0) {
        return retry_start(c, i);
    }
    if (!c->failed_fast && !run_canceled(c->opts) &&
        !qhil_budget_start(&c->budget, i, &pr->test, &full)) {
        r->verdict = QHIL_SKIP;
        r->not_run = true;
        r->message = full ? full : strdup("not run: run folder over its cap");
        return false;
    }
    if (c->failed_fast || run_canceled(c->opts)) {
        const char *why =
            c->failed_fast ? "--fail-fast" : cancel_reason(c->opts);

        r->verdict = QHIL_SKIP;
        r->not_run = true;
        if (asprintf(&r->message, "not run: %s", why) < 0) {
            r->message = NULL;
        }
        return false;
    }
    if (c->opts->test_started) {
        c->opts->test_started(c->opts->data, pr->test);
    }
    qhil_error_init(&e);
    ok = qhil_runpath_mkdir(c->rp, r->name, &pr->dir, &e) == QHIL_EOK;
    if (!ok) {
        /* This test cannot run; the others may. */
        qhil_test_result_abort(
            r, e.message ? e.message : "cannot create the test folder", NULL);
        if (c->opts->test_done) {
            c->opts->test_done(c->opts->data, pr->test, r);
        }
        qhil_budget_done(&c->budget, i, NULL);
    } else {
        r->attempts = 1;
        r->max_attempts = 1 + retries_of(c, i);
    }
    qhil_error_release(&e);
    return ok;
}

/* Run i's attempt is in: true when the test is to run again (its
 * verdict fail or error, not interrupted, retries left, the run going
 * on); else it was the last attempt. */
static bool run_done(void *data, size_t i)
{
    run_ctx *c = data;
    qhil_test_result *r = c->runs[i].result;

    /* What this attempt wrote: its own folder (attempt 1's is the
     * test's, made before any attempt-K/ in it). */
    qhil_budget_done(&c->budget, i,
                     c->runs[i].attempt_dir ? c->runs[i].attempt_dir
                                            : c->runs[i].dir);
    if ((r->verdict == QHIL_FAIL || r->verdict == QHIL_ERROR) &&
        !r->interrupted && r->attempts < r->max_attempts && !c->failed_fast &&
        !run_canceled(c->opts)) {
        if (c->opts->test_retry) {
            c->opts->test_retry(c->opts->data, c->runs[i].test, r);
        }
        return true;
    }
    run_final(c, i);
    return false;
}

/* The test's tags, for the reports (no event carries them). */
static void result_tags(qhil_test_result *r, const qhil_test *t)
{
    size_t i;

    r->tags = t->n_tags ? calloc(t->n_tags, sizeof(*r->tags)) : NULL;
    for (i = 0; r->tags && i < t->n_tags; i++) {
        r->tags[r->n_tags] = strdup(t->tags[i]);
        if (r->tags[r->n_tags]) {
            r->n_tags++;
        }
    }
}

int qhil_run_suite(const qhil_suite *suite, const qhil_run_opts *opts,
                   qhil_suite_result **out, qhil_error *err)
{
    qhil_suite_result *sr = NULL;
    qhil_runpath *rp = NULL;
    qhil_job *job = NULL;
    char **names = NULL; /* the runs' names, with an order */
    size_t n_runs = opts->order ? opts->n_order : suite->n_tests;
    qhil_pool_item *runs = NULL;
    run_ctx ctx = {.suite = suite, .opts = opts};
    int64_t start = qhil_now();
    size_t jobs = opts->jobs;
    qhil_limits lim;
    size_t i;
    int rc;

    *out = NULL;
    rc = run_prepare(suite, opts, true, &job, err);
    if (rc < 0) {
        return rc;
    }
    if (opts->order) {
        rc = qhil_select_names(suite, opts->order, opts->n_order, &names, err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    rc = qhil_runpath_new(opts->out_dir, &rp, err);
    if (rc < 0) {
        goto cleanup;
    }
    qhil_limits_of_run(opts, &lim);
    if (lim.jobs && jobs > lim.jobs) {
        jobs = lim.jobs;
    }
    write_job_log(job, qhil_runpath_dir(rp), opts, &lim, jobs);
    sr = calloc(1, sizeof(*sr));
    runs = calloc(n_runs + 1, sizeof(*runs));
    if (!sr || !runs || !(sr->tests = calloc(n_runs + 1, sizeof(*sr->tests)))) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    sr->run_dir = strdup(qhil_runpath_dir(rp));
    sr->name = strdup(suite->name);
    sr->file = strdup(suite->path);
    sr->device_type = suite->device_type ? strdup(suite->device_type) : NULL;
    sr->started_unix = (int64_t)time(NULL);
    /* The runs, in order, each with its result and name. */
    for (i = 0; i < n_runs; i++) {
        const qhil_test *t = &suite->tests[opts->order ? opts->order[i] : i];
        qhil_test_result *r = &sr->tests[sr->n_tests];

        if (!test_selected(opts, t)) {
            continue;
        }
        r->name = strdup(names ? names[i] : t->name);
        result_tags(r, t);
        runs[sr->n_tests].test = t;
        runs[sr->n_tests].result = r;
        sr->n_tests++;
    }
    ctx.job = job;
    ctx.rp = rp;
    ctx.runs = runs;
    ctx.tail = opts->tail_lines ? opts->tail_lines : 10;
    rc = qhil_budget_init(&ctx.budget, &lim, sr->n_tests, sr->run_dir, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (jobs > 1 || opts->isolate) {
        qhil_pool pool = {
            .suite = suite,
            .job = job,
            .opts = opts,
            .tail = ctx.tail,
            .runs = runs,
            .n_runs = sr->n_tests,
            .jobs = jobs > 1 ? jobs : 1,
            .start = run_start,
            .done = run_done,
            .data = &ctx,
        };

        rc = qhil_pool_run(&pool, err);
        if (rc < 0) {
            goto cleanup;
        }
    } else {
        for (i = 0; i < sr->n_tests; i++) {
            while (run_start(&ctx, i)) {
                qhil_run_one(suite, runs[i].test, job,
                             runs[i].attempt_dir ? runs[i].attempt_dir
                                                 : runs[i].dir,
                             ctx.tail, runs[i].result, opts);
                if (!run_done(&ctx, i)) {
                    break;
                }
            }
        }
    }
    sr->duration_ns = qhil_now() - start;
    *out = sr;
    sr = NULL;
    rc = QHIL_EOK;

cleanup:
    qhil_budget_release(&ctx.budget);
    for (i = 0; runs && i < n_runs; i++) {
        free(runs[i].dir);
        free(runs[i].attempt_dir);
    }
    free(runs);
    qhil_select_names_free(names);
    qhil_suite_result_free(sr);
    qhil_runpath_free(rp);
    qhil_job_free(job);
    return rc;
}
