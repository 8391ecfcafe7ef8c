/*
 * pool.c - tests in worker processes, up to N at a time (runner.h: jobs).
 *
 * The runner (the parent) keeps the whole run: the order, the folders,
 * the results, the callbacks, the reports.  For each test it makes the
 * test's folder, then forks a worker that runs just that test
 * (qhil_run_one, the same code as a serial run) and tells the parent
 * what happens over a pipe, one JSON object a line:
 *
 *   worker                                  parent
 *   each event: its JSON (event.c), plus    decoded back into a
 *     "bytes_hex" when the text was not     qhil_event, folded into the
 *     exact UTF-8                           test's result (result.h),
 *                                           for the caller's callback,
 *                                           kept for --json
 *   at the end: {"kind": "_result", ...}    what no event carries: the
 *                                           log paths and console tail
 *   _exit(0)                                waitpid, next test
 *
 * The verdict, the failing step, every failure and every step's time
 * are the fold of the events, exactly as in a serial run; the _result
 * line only adds console_log, qemu_log and console_tail.  A worker whose
 * pipe ends before its _result gives the test one more failure, a cause
 * with verdict error (qhil_test_result_abort), which says how it died.
 *
 * Isolation: a worker has its own address space, so a crash, a hang or
 * a flood in one test cannot touch another's result; its output reaches
 * the caller only as whole events and one result, and the progress
 * callbacks run in the parent, one test at a time (and the caller's
 * tick, at least every QHIL_RUN_TICK_NS, so that a live status line
 * moves while every test waits).  A worker that dies
 * without its result (a crash, a kill) gives the test verdict error
 * with how it died; one that outlives its test's budget (the test's
 * timeout, else the sum of its steps' timeouts, plus POOL_GRACE_NS for
 * QEMU's start and stop) is killed as a backstop.
 *
 * Processes: a worker sets PR_SET_PDEATHSIG(SIGKILL) (it forks from the
 * runner's only thread, the one PDEATHSIG follows) and checks that its
 * parent did not die before that.  Its QEMU runs under proc.c's guard,
 * whose control socket closes when the worker dies: so a kill -9 of the
 * runner takes the workers with it, and each guard its QEMU.  Ctrl-C and
 * SIGTERM reach the workers through the cancel fd they inherit (the
 * runner's signal self-pipe: readable in all of them at once), and each
 * shuts its QEMU down in order; the parent starts no more tests.
 *
 * fork() without exec: the calling process must be single-threaded (the
 * qhil command is).  The worker never returns into the caller's code and
 * leaves with _exit, so no stdio buffer of the parent is flushed twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/event.h>
#include <qhil/result.h>

#include "eventlog.h"
#include "internal.h"
#include "jsonbytes.h"
#include "pool.h"
#include "proc.h"
#include "step.h"

/* QEMU's start and stop, on top of a test's own budget. */
#define POOL_GRACE_NS (60 * QHIL_SEC)
/* A line from a worker: an event, up to a QMP message of qmp.c's
 * 64 MiB cap written as ASCII JSON.  A longer one is skipped, counted
 * as a dropped event. */
#define POOL_LINE_MAX ((size_t)256 << 20)
/* How long a worker whose pipe ended may take to be reaped. */
#define POOL_REAP_NS (5 * QHIL_SEC)

typedef struct worker {
    pid_t pid;
    int fd;           /* the pipe's read end; -1 once at EOF */
    size_t slot;      /* into the run's list */
    qhil_buf in;      /* bytes of an unfinished line */
    size_t scanned;   /* of in, known to hold no LF */
    bool skipping;    /* in a line over POOL_LINE_MAX */
    bool done;        /* the result came */
    int64_t deadline; /* the backstop */
    qhil_eventlog log; /* with keep_events: the result's events_log */
} worker;

/* --- worker side -------------------------------------------------------- */

typedef struct wire {
    int fd;
    bool broken;
} wire;

static void wire_put(wire *w, json_t *j)
{
    if (w->broken) {
        json_decref(j);
        return;
    }
    w->broken = qhil_json_line_write(w->fd, j) != 0;
}

static json_t *hex(const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    json_t *j;
    size_t i;

    if (!s) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        s[2 * i] = digits[(unsigned char)p[i] >> 4];
        s[2 * i + 1] = digits[(unsigned char)p[i] & 15];
    }
    s[2 * n] = '\0';
    j = json_string(s);
    free(s);
    return j;
}

/* The worker's event callback: the event's JSON down the pipe. */
static void wire_event(void *data, const qhil_event *ev)
{
    json_t *j = NULL;

    if (qhil_event_to_json(ev, &j, NULL) < 0) {
        ((wire *)data)->broken = true;
        return;
    }
    if (json_is_false(json_object_get(j, "text_exact"))) {
        json_object_set_new(j, "bytes_hex", hex(ev->text, ev->len));
    }
    wire_put(data, j);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The result, as the last line. */
static void wire_result(wire *w, const qhil_test_result *r)
{
    json_t *j = json_object();

    if (!j) {
        w->broken = true;
        return;
    }
    json_object_set_new(j, "kind", json_string("_result"));
    /* Hex: guest output in console_tail is any bytes. */
    json_object_set_new(j, "console_tail",
                        r->console_tail
                            ? hex(r->console_tail, strlen(r->console_tail))
                            : json_null());
    json_object_set_new(j, "console_log", str_or_null(r->console_log));
    json_object_set_new(j, "qemu_log", str_or_null(r->qemu_log));
    wire_put(w, j);
}

static void worker_main(const qhil_pool *p, size_t slot, int fd, pid_t parent)
{
    qhil_pool_item *run = &p->runs[slot];
    qhil_run_opts o = *p->opts;
    qhil_test_result r = {0};
    wire w = {.fd = fd};

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(127); /* the runner died before the line above */
    }
    o.event = wire_event;
    o.event_data = &w;
    o.keep_events = false;
    o.test_started = NULL;
    o.test_done = NULL;
    o.noted = NULL;
    r.name = run->result->name;         /* borrowed: never freed here */
    r.attempts = run->result->attempts; /* its events say which */
    qhil_run_one(p->suite, run->test, p->job,
                 run->attempt_dir ? run->attempt_dir : run->dir, p->tail, &r,
                 &o);
    r.name = NULL;
    wire_result(&w, &r);
    _exit(w.broken ? 3 : 0);
}

/* --- parent side -------------------------------------------------------- */

static int unhex(const char *s, char **out, size_t *len)
{
    size_t n = strlen(s) / 2;
    char *b = malloc(n + 1);
    size_t i;

    if (!b) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned hi =
            (unsigned)(s[2 * i] <= '9' ? s[2 * i] - '0' : s[2 * i] - 'a' + 10);
        unsigned lo = (unsigned)(s[2 * i + 1] <= '9' ? s[2 * i + 1] - '0'
                                                     : s[2 * i + 1] - 'a' + 10);

        b[i] = (char)((hi << 4) | lo);
    }
    b[n] = '\0';
    *out = b;
    if (len) {
        *len = n;
    }
    return 0;
}

static char *unhex_str(const json_t *j)
{
    char *s = NULL;

    if (!json_is_string(j) || unhex(json_string_value(j), &s, NULL) < 0) {
        return NULL;
    }
    return s;
}

static int kind_of(const char *name)
{
    int k;

    for (k = 0; k <= QHIL_EVENT_KIND_LAST; k++) {
        if (strcmp(qhil_event_kind_name((qhil_event_kind)k), name) == 0) {
            return k;
        }
    }
    return -1;
}

static qhil_verdict verdict_of(const char *name)
{
    static const qhil_verdict all[] = {QHIL_PASS, QHIL_FAIL, QHIL_ERROR,
                                       QHIL_SKIP};
    size_t i;

    for (i = 0; name && i < QHIL_ARRAY_SIZE(all); i++) {
        if (strcmp(qhil_verdict_name(all[i]), name) == 0) {
            return all[i];
        }
    }
    return QHIL_ERROR;
}

static int how_of(const char *name)
{
    static const char *const names[] = {"running", "quit", "term", "kill",
                                        "self"};
    int i;

    for (i = 0; name && i < (int)QHIL_ARRAY_SIZE(names); i++) {
        if (strcmp(names[i], name) == 0) {
            return i;
        }
    }
    return 0;
}

static int64_t int_or(const json_t *o, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* The text of an event: its exact bytes when the worker sent them. */
static const char *event_text(const json_t *o, const char *key, char **owned,
                              size_t *len)
{
    const json_t *b = json_object_get(o, "bytes_hex");
    const json_t *t = json_object_get(o, key);

    if (json_is_string(b) && unhex(json_string_value(b), owned, len) == 0) {
        return *owned;
    }
    if (!json_is_string(t)) {
        *len = 0;
        return NULL;
    }
    *len = json_string_length(t);
    return json_string_value(t);
}

/* One event line back into a qhil_event for the caller's callback; its
 * strings are borrowed from o (and *owned, *argv: caller frees). */
static int decode_event(const json_t *o, qhil_event *ev, char **owned,
                        char ***argv)
{
    const json_t *a = json_object_get(o, "argv");
    int kind = kind_of(json_string_value(json_object_get(o, "kind"))
                           ? json_string_value(json_object_get(o, "kind"))
                           : "");
    const char *key = "text";

    if (kind < 0) {
        return -1;
    }
    memset(ev, 0, sizeof(*ev));
    ev->kind = (qhil_event_kind)kind;
    ev->wall_ns = int_or(o, "wall_ns", 0);
    ev->virtual_ns = int_or(o, "virtual_ns", -1);
    ev->test = json_string_value(json_object_get(o, "test"));
    ev->step = (size_t)int_or(o, "step", 0);
    ev->line = (int)int_or(o, "line", 0);
    ev->port = json_string_value(json_object_get(o, "port"));
    ev->cut = json_is_true(json_object_get(o, "cut"));
    ev->offset = (uint64_t)int_or(o, "offset", 0);
    ev->pattern = json_string_value(json_object_get(o, "pattern"));
    ev->verdict = verdict_of(json_string_value(json_object_get(o, "verdict")));
    ev->duration_ns = int_or(o, "duration_ns", 0);
    ev->pid = (long)int_or(o, "pid", 0);
    ev->how = how_of(json_string_value(json_object_get(o, "how")));
    ev->status = (int)int_or(o, "status", -1);
    ev->attempt = (unsigned)int_or(o, "attempt", 1);
    switch (ev->kind) {
    case QHIL_EVENT_TEST_END:
        key = "message";
        break;
    case QHIL_EVENT_FAILURE:
        key = "message";
        ev->how = json_is_true(json_object_get(o, "interrupted"))
                      ? QHIL_FAILURE_INTERRUPTED
                  : json_is_true(json_object_get(o, "cause"))
                      ? QHIL_FAILURE_CAUSE
                      : QHIL_FAILURE_PLAIN;
        break;
    case QHIL_EVENT_MACHINE_END:
        key = "stderr_tail";
        break;
    case QHIL_EVENT_FAULT:
        key = "fault";
        break;
    case QHIL_EVENT_STEP_START:
        key = "step_desc";
        break;
    case QHIL_EVENT_MACHINE_START:
        key = "qemu_version";
        ev->json = json_object_get(o, "greeting");
        break;
    case QHIL_EVENT_QMP_COMMAND:
    case QHIL_EVENT_QMP_REPLY:
    case QHIL_EVENT_QMP_EVENT:
        ev->json = json_object_get(o, "message");
        break;
    default:
        break;
    }
    ev->text = event_text(o, key, owned, &ev->len);
    if (json_is_array(a)) {
        size_t i;

        *argv = calloc(json_array_size(a) + 1, sizeof(**argv));
        for (i = 0; *argv && i < json_array_size(a); i++) {
            (*argv)[i] = (char *)json_string_value(json_array_get(a, i));
        }
        ev->argv = (const char *const *)*argv;
    }
    return 0;
}

static char *dup_string(const json_t *j)
{
    return json_is_string(j) ? strdup(json_string_value(j)) : NULL;
}

/* What the events do not carry; the rest of r is their fold. */
static void take_result(const json_t *o, qhil_test_result *r)
{
    free(r->console_tail);
    free(r->console_log);
    free(r->qemu_log);
    r->console_tail = unhex_str(json_object_get(o, "console_tail"));
    r->console_log = dup_string(json_object_get(o, "console_log"));
    r->qemu_log = dup_string(json_object_get(o, "qemu_log"));
}

/* One complete line from worker w. */
static void take_line(const qhil_pool *p, worker *w, const char *line,
                      size_t len)
{
    qhil_test_result *r = p->runs[w->slot].result;
    json_t *o = json_loadb(line, len, 0, NULL);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    qhil_event ev;
    char *owned = NULL;
    char **argv = NULL;

    if (!kind) {
        json_decref(o);
        return; /* not ours: ignored */
    }
    if (strcmp(kind, "_result") == 0) {
        take_result(o, r);
        if (r->interrupted && p->opts->cancel_reason) {
            /* The signal came to the runner, which says which it was;
             * the worker only saw the cancel fd. */
            const char *why = p->opts->cancel_reason(p->opts->data);

            if (why && *why) {
                char *was = r->message;
                size_t k;

                /* The failure that said so, too. */
                for (k = 0; was && k < r->n_failures; k++) {
                    if (r->failures[k].message &&
                        strcmp(r->failures[k].message, was) == 0) {
                        free(r->failures[k].message);
                        r->failures[k].message = strdup(why);
                    }
                }
                r->message = strdup(why);
                free(was);
            }
        }
        w->done = true;
        json_decref(o);
        return;
    }
    if (decode_event(o, &ev, &owned, &argv) == 0) {
        qhil_test_result_apply(r, &ev, NULL);
        if (p->opts->event) {
            p->opts->event(p->opts->event_data, &ev);
        }
    }
    if (p->opts->keep_events) {
        json_object_del(o, "bytes_hex");
        if (qhil_eventlog_put(&w->log, o) < 0) {
            r->events_dropped++;
        } else {
            r->events_kept++;
        }
    }
    free(owned);
    free(argv);
    json_decref(o);
}

/* Read what w's pipe has; false once it is at its end.  Each byte is
 * looked at once, however the lines are cut into reads. */
static bool take_input(const qhil_pool *p, worker *w)
{
    char chunk[65536];
    ssize_t n = read(w->fd, chunk, sizeof(chunk));
    size_t start = 0;
    size_t i;

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    if (w->skipping) {
        const char *lf = memchr(chunk, '\n', (size_t)n);

        if (!lf) {
            return true;
        }
        w->skipping = false;
        start = (size_t)(lf - chunk) + 1;
    }
    if (qhil_buf_append(&w->in, chunk + start, (size_t)n - start) < 0) {
        /* A line over the cap: the rest of it goes unread. */
        qhil_buf_consume(&w->in, w->in.len);
        w->scanned = 0;
        w->skipping = true;
        p->runs[w->slot].result->events_dropped++;
        return true;
    }
    start = 0;
    for (i = w->scanned; i < w->in.len; i++) {
        if (w->in.data[i] == '\n') {
            take_line(p, w, w->in.data + start, i - start);
            start = i + 1;
        }
    }
    qhil_buf_consume(&w->in, start);
    w->scanned = w->in.len;
    return true;
}

/* Reap pid within POOL_REAP_NS; false when it still runs. */
static bool reap(pid_t pid, int *status)
{
    /* On its pidfd: the worker is reaped the moment it exits (its pipe
     * ends just before), so the next test's worker starts at once. */
    return qhil_proc_wait(pid, qhil_deadline_in(POOL_REAP_NS), status) ==
           QHIL_EOK;
}

/* Runs to start again (retries), first in first out: a run is in it at
 * most once, so n_runs slots are enough. */
typedef struct again {
    size_t *slot;
    size_t head;
    size_t len;
    size_t cap;
} again;

static void again_push(again *a, size_t slot)
{
    a->slot[(a->head + a->len++) % a->cap] = slot;
}

static size_t again_pop(again *a)
{
    size_t slot = a->slot[a->head];

    a->head = (a->head + 1) % a->cap;
    a->len--;
    return slot;
}

/* Run slot is done: into the queue again when the runner says so. */
static void run_done(const qhil_pool *p, again *a, size_t slot)
{
    if (p->done(p->data, slot)) {
        again_push(a, slot);
    }
}

/* The worker is gone: reap it; without a result, say how it ended. */
static void worker_end(const qhil_pool *p, again *a, worker *w, bool killed)
{
    qhil_test_result *r = p->runs[w->slot].result;
    int status = 0;

    close(w->fd);
    w->fd = -1;
    qhil_eventlog_close(&w->log);
    if (!reap(w->pid, &status)) {
        kill(w->pid, SIGKILL); /* its pipe ended, it did not */
        while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (!w->done) {
        char msg[160];

        if (killed) {
            snprintf(msg, sizeof(msg),
                     "the test's worker process ran past its time and was "
                     "killed");
        } else if (WIFSIGNALED(status)) {
            snprintf(msg, sizeof(msg),
                     "the test's worker process died: killed by signal %d "
                     "(%s)",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        } else {
            snprintf(msg, sizeof(msg),
                     "the test's worker process ended with status %d "
                     "before its result",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        qhil_test_result_abort(r, msg, NULL);
    }
    qhil_buf_release(&w->in);
    run_done(p, a, w->slot);
}

/* The backstop for one test: its budget plus QEMU's start and stop. */
static int64_t test_budget(const qhil_test *t, double multiplier)
{
    int64_t ns = t->timeout_ns;
    size_t i;

    for (i = 0; !t->timeout_ns && i < t->n_steps; i++) {
        ns += qhil_step_timeout(&t->steps[i]);
    }
    if (multiplier > 1) {
        ns = (int64_t)((double)ns * multiplier);
    }
    return ns + POOL_GRACE_NS;
}

static int worker_start(const qhil_pool *p, size_t slot, worker *w,
                        qhil_error *err)
{
    pid_t parent = getpid();
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0) {
        return qhil_error_set(err, QHIL_EIO, "pipe: %s", strerror(errno));
    }
    fflush(NULL); /* nothing of the parent's stdio in the child */
    w->pid = fork();
    if (w->pid < 0) {
        int rc = qhil_error_set(err, QHIL_EIO, "fork: %s", strerror(errno));

        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if (w->pid == 0) {
        close(fds[0]);
        for (size_t i = 0; i < p->jobs; i++) {
            if (p->workers[i].fd >= 0 && &p->workers[i] != w) {
                close(p->workers[i].fd);
            }
        }
        worker_main(p, slot, fds[1], parent);
    }
    close(fds[1]);
    w->fd = fds[0];
    w->slot = slot;
    w->done = false;
    w->scanned = 0;
    w->skipping = false;
    memset(&w->log, 0, sizeof(w->log));
    if (p->opts->keep_events && !p->runs[slot].result->events_log) {
        /* Not made: each event counts as dropped, the test runs on. */
        qhil_eventlog_open(&w->log,
                           p->runs[slot].attempt_dir ? p->runs[slot].attempt_dir
                                                     : p->runs[slot].dir,
                           &p->runs[slot].result->events_log, NULL);
    }
    w->deadline = qhil_deadline_in(
        test_budget(p->runs[slot].test, p->opts->timeout_multiplier));
    qhil_buf_init(&w->in, POOL_LINE_MAX);
    return QHIL_EOK;
}

/* The next run to start, retries first (their test has waited
 * longest); start() says no for one not to run.  false: none left. */
static bool next_run(qhil_pool *p, again *a, size_t *next, size_t *slot)
{
    while (a->len) {
        *slot = again_pop(a);
        if (p->start(p->data, *slot)) {
            return true;
        }
    }
    while (*next < p->n_runs) {
        *slot = (*next)++;
        if (p->start(p->data, *slot)) {
            return true;
        }
    }
    return false;
}

int qhil_pool_run(qhil_pool *p, qhil_error *err)
{
    size_t next = 0;
    size_t running = 0;
    size_t i;
    int rc = QHIL_EOK;
    struct pollfd *pfd = calloc(p->jobs, sizeof(*pfd));
    worker **of = calloc(p->jobs, sizeof(*of));
    again a = {.slot = calloc(p->n_runs + 1, sizeof(size_t)),
               .cap = p->n_runs + 1};

    p->workers = calloc(p->jobs, sizeof(*p->workers));
    if (!p->workers || !pfd || !of || !a.slot) {
        free(p->workers);
        free(pfd);
        free(of);
        free(a.slot);
        p->workers = NULL;
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < p->jobs; i++) {
        p->workers[i].fd = -1;
    }
    while (next < p->n_runs || a.len || running) {
        size_t n = 0;
        int64_t soonest = 0;
        size_t slot;

        /* Fill the free slots, as long as the run goes on. */
        for (i = 0; i < p->jobs && (next < p->n_runs || a.len); i++) {
            if (p->workers[i].fd >= 0) {
                continue;
            }
            if (!next_run(p, &a, &next, &slot)) {
                break; /* the rest: not run, or their folders failed */
            }
            rc = worker_start(p, slot, &p->workers[i], err);
            if (rc < 0) {
                /* This test cannot run (no process to run it in); the
                 * run goes on, as for a folder that cannot be made. */
                qhil_test_result_abort(
                    p->runs[slot].result,
                    err && err->message ? err->message : "cannot start", NULL);
                run_done(p, &a, slot);
                rc = QHIL_EOK;
                continue;
            }
            running++;
        }
        for (i = 0; i < p->jobs; i++) {
            if (p->workers[i].fd < 0) {
                continue;
            }
            pfd[n].fd = p->workers[i].fd;
            pfd[n].events = POLLIN;
            of[n++] = &p->workers[i];
            if (!soonest || p->workers[i].deadline < soonest) {
                soonest = p->workers[i].deadline;
            }
        }
        if (!n) {
            continue;
        }
        if (p->opts->tick) {
            /* The caller's tick, at least every QHIL_RUN_TICK_NS. */
            int64_t tick = qhil_deadline_in(QHIL_RUN_TICK_NS);

            p->opts->tick(p->opts->data);
            soonest = soonest < tick ? soonest : tick;
        }
        if (poll(pfd, n, qhil_deadline_poll_ms(soonest)) < 0 &&
            errno != EINTR) {
            rc = qhil_error_set(err, QHIL_EIO, "poll: %s", strerror(errno));
            break;
        }
        for (i = 0; i < n; i++) {
            worker *w = of[i];

            if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                !take_input(p, w)) {
                worker_end(p, &a, w, false);
                running--;
            } else if (qhil_now() >= w->deadline) {
                kill(w->pid, SIGKILL);
                worker_end(p, &a, w, true);
                running--;
            }
        }
    }
    /* Only on a poll error: end what still runs. */
    for (i = 0; i < p->jobs; i++) {
        if (p->workers[i].fd >= 0) {
            kill(p->workers[i].pid, SIGKILL);
            worker_end(p, &a, &p->workers[i], true);
        }
    }
    free(p->workers);
    p->workers = NULL;
    free(pfd);
    free(of);
    free(a.slot);
    return rc;
}
