/*
 * machine.c - QEMU lifecycle: spawn with socketpairs, handshake, stop.
 *
 * launch:   create qemu.log and qemu.pid in the run folder (O_EXCL|
 *           O_NOFOLLOW: never a file that is already there; the console
 *           creates console.log so too) ->
 *           socketpair x2 (x3 with QTest), a pipe for QEMU's stdout and
 *           stderr -> spawn under a guard (proc.c; fds 3 = QMP,
 *           4 = console, 5 = QTest) -> close our copies of QEMU's ends
 *           -> drain thread on the output pipe -> QMP handshake ->
 *           RUNNING.
 *           Any failure: the guard SIGKILLs QEMU's group, reap, error
 *           with QEMU's stderr tail.
 * shutdown: QMP quit -> wait stop_timeout -> SIGTERM to the group ->
 *           wait -> SIGKILL to the group -> reap.  Each outcome is
 *           recorded in m->end.
 *
 * Processes.  QEMU runs under a guard process (see proc.c) in a process
 * group of its own; every signal goes to the whole group, through the
 * guard, which is the one that reaps QEMU and so never signals a reused
 * pid.  Closing the guard's control socket (qhil_machine_free, or qhil
 * dying, even by kill -9) makes it SIGKILL the group.  We wait for and
 * reap the guard, whose wait status is QEMU's; qhil_machine_pid is
 * QEMU's own pid (also its process group id).  Once the guard is reaped
 * nothing QEMU started runs any more.
 *
 * Deadlines.  Every wait in launch ends by the earliest of start_timeout
 * from the call and opts->deadline: the exec, the QMP handshake, and the
 * up to 2 s spent collecting the status of a QEMU that died.  Shutdown
 * phases have stop_timeout each; the waits after SIGKILL are for the
 * kernel (10 s), and the drain of the output pipe after the reap is
 * bounded by MACHINE_DRAIN_NS.
 *
 * QEMU's output.  stdout and stderr go to a pipe, not to the file: a
 * "-d" log writes hundreds of MB.  A thread per machine drains it into
 * qemu.log through a logcap (logcap.h: the head as it comes, the last
 * 1 MiB in memory, written at the end behind a "[qhil: N bytes of QEMU
 * output dropped here]" line), at most opts->log_limit bytes (64 MiB by
 * default); qhil_machine_log_check reports a log over its cap.  A thread
 * and not our poll loop: the waits that would have to watch the pipe live
 * in the QMP, console and QTest clients (and in callers that wait on none
 * of them for a while), and a pipe nobody reads blocks QEMU's writes,
 * which stops the guest.  The thread only reads the pipe and writes the
 * file; a mutex guards the logcap against the reader of the tail.  The
 * pipe's EOF (every writer in QEMU's group gone, which the guard ensures
 * before it exits) ends the thread; so a reaped machine has its complete
 * log on disk.
 *
 * The console's kick hook sends a QMP query-status without waiting for
 * the answer: any QMP traffic wakes QEMU's main loop, which then notices
 * that a UART accepts input again (QEMU 7.2's CMSDK UART otherwise sits
 * on pending input for about a second after a guest reset).
 *
 * The QTest server is created as an object ("-object qtest,...") rather
 * than with "-qtest chardev:ID": QEMU 7.2's -qtest option only finds a
 * chardev whose id is literally "qtest" (any other id aborts QEMU), and
 * ours keep the "qhil-" prefix that jobs may not use.  log=none, or QEMU
 * logs every QTest line to stderr and buries its own messages in
 * qemu.log.  Only "-accel qtest" freezes the CPU and hands the clock to
 * QTest; alongside TCG the client refuses clock commands.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/limits.h>
#include <qhil/machine.h>

#include "internal.h"
#include "logcap.h"
#include "proc.h"

#define MACHINE_QMP_FD 3
#define MACHINE_CONSOLE_FD 4
#define MACHINE_QTEST_FD 5
/* After the reap, how long the drain may take to reach the pipe's EOF. */
#define MACHINE_DRAIN_NS (1 * QHIL_SEC)
#define MACHINE_DRAIN_CHUNK 65536
/* The waits after SIGKILL, which only the kernel can make longer. */
#define MACHINE_KILL_WAIT_NS (10 * QHIL_SEC)

/* QEMU's stdout and stderr, drained by a thread into qemu.log. */
typedef struct machine_log {
    pthread_mutex_t lock; /* guards lc while the thread runs */
    qhil_logcap lc;
    bool open;            /* lc holds the file */
    bool thread;          /* the thread was started, not yet joined */
    pthread_t tid;
    int pipe_fd;          /* read end; the thread's while it runs */
    int stop_fd;          /* eventfd: we ask the thread to stop */
    int done_fd;          /* eventfd: the thread says it ended */
} machine_log;

struct qhil_machine {
    pid_t pid;          /* QEMU's own pid (and process group) */
    qhil_child child;   /* the guard we wait for, and its control */
    bool reaped;
    int status;
    qhil_machine_end end;
    int64_t stop_timeout;
    qhil_qmp *qmp;
    qhil_console *console;
    qhil_qtest *qtest; /* NULL unless asked for */
    char *console_log;
    char *qemu_log;
    char *qemu_pid;
    machine_log log;
    uint64_t memory_limit; /* resident bytes, 0: not watched */
    uint64_t memory_rss;   /* what the guard saw when it killed QEMU for
                              going over memory_limit; 0: it did not */
};

/*
 * The wiring qhil owns, appended to every argv: QMP on fd 3, the first
 * serial port on fd 4, QTest on fd 5 when asked for, and the qtest
 * accelerator.  One list per mode, so the job layer can show exactly
 * what a launch adds (qhil_machine_wiring).
 */
#define MACHINE_WIRING                                                    \
    "-chardev", "socket,id=qhil-qmp,fd=3",                               \
    "-mon", "chardev=qhil-qmp,mode=control",                             \
    "-chardev", "socket,id=qhil-console,fd=4",                           \
    "-serial", "chardev:qhil-console"

#define MACHINE_QTEST_WIRING                                              \
    "-chardev", "socket,id=qhil-qtest,fd=5",                             \
    "-object", "qtest,id=qhil-qtest-server,chardev=qhil-qtest,log=none"

static const char *const machine_wiring[] = {MACHINE_WIRING, NULL};

static const char *const machine_qtest_wiring[] = {
    MACHINE_WIRING, MACHINE_QTEST_WIRING, NULL,
};

static const char *const machine_qtest_accel[] = {
    MACHINE_WIRING, MACHINE_QTEST_WIRING, "-accel", "qtest", NULL,
};

const char *const *qhil_machine_wiring(bool qtest, bool qtest_accel)
{
    if (qtest_accel) {
        return machine_qtest_accel;
    }
    return qtest ? machine_qtest_wiring : machine_wiring;
}

qhil_qmp *qhil_machine_qmp(qhil_machine *m)
{
    return m->qmp;
}

qhil_console *qhil_machine_console(qhil_machine *m)
{
    return m->console;
}

qhil_qtest *qhil_machine_qtest(qhil_machine *m)
{
    return m->qtest;
}

pid_t qhil_machine_pid(const qhil_machine *m)
{
    return m->pid;
}

const char *qhil_machine_console_log(const qhil_machine *m)
{
    return m->console_log;
}

const char *qhil_machine_qemu_log(const qhil_machine *m)
{
    return m->qemu_log;
}

qhil_machine_end qhil_machine_end_how(const qhil_machine *m)
{
    return m->end;
}

uint64_t qhil_machine_memory_killed(const qhil_machine *m)
{
    return m->memory_rss;
}

int qhil_machine_status(const qhil_machine *m)
{
    return m->status;
}

/* ---- qemu.log: the drain thread ------------------------------------ */

static void machine_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void *machine_drain(void *data)
{
    machine_log *l = data;
    char *chunk = malloc(MACHINE_DRAIN_CHUNK);
    uint64_t one = 1;
    ssize_t w;

    for (;;) {
        struct pollfd fds[2] = {
            {.fd = l->pipe_fd, .events = POLLIN},
            {.fd = l->stop_fd, .events = POLLIN},
        };
        ssize_t n;

        if (!chunk) {
            break;
        }
        if (poll(fds, 2, -1) < 0 && errno != EINTR) {
            break;
        }
        /* Read what is there before looking at stop: no byte is lost
         * that QEMU wrote before it died.  Then stop when asked, even if
         * something that escaped the guard still floods the pipe. */
        n = read(l->pipe_fd, chunk, MACHINE_DRAIN_CHUNK);
        if (n > 0) {
            pthread_mutex_lock(&l->lock);
            qhil_logcap_write(&l->lc, chunk, (size_t)n);
            pthread_mutex_unlock(&l->lock);
        }
        if (fds[1].revents ||
            (n <= 0 && (n == 0 || (errno != EINTR && errno != EAGAIN)))) {
            break;
        }
    }
    free(chunk);
    w = write(l->done_fd, &one, sizeof(one));
    (void)w;
    return NULL;
}

static int machine_log_open(machine_log *l, const char *path,
                            uint64_t limit, int *write_fd, qhil_error *err)
{
    int p[2];
    int rc;

    rc = qhil_logcap_init(&l->lc, path, limit, err);
    if (rc < 0) {
        return rc;
    }
    l->open = true;
    if (pipe2(p, O_CLOEXEC) < 0) {
        return qhil_error_set(err, -errno, "pipe: %s", strerror(errno));
    }
    l->pipe_fd = p[0];
    *write_fd = p[1];
    if (fcntl(l->pipe_fd, F_SETFL, O_NONBLOCK) < 0) {
        return qhil_error_set(err, -errno, "pipe: %s", strerror(errno));
    }
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    l->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->stop_fd < 0 || l->done_fd < 0) {
        return qhil_error_set(err, -errno, "eventfd: %s", strerror(errno));
    }
    return QHIL_EOK;
}

static int machine_log_start(machine_log *l, qhil_error *err)
{
    sigset_t all;
    sigset_t old;
    int e;

    /* The caller's signals stay with the caller's threads: a handler
     * that interrupts its poll() must not land in ours. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&l->tid, NULL, machine_drain, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        return qhil_error_set(err, -e, "cannot start the qemu.log drain: %s",
                              strerror(e));
    }
    l->thread = true;
    return QHIL_EOK;
}

/*
 * End the drain: wait until deadline for the pipe's EOF (every writer
 * is gone once the guard is reaped), then stop the thread, join it, and
 * write the kept tail.  Idempotent.
 */
static void machine_log_finish(machine_log *l, int64_t deadline)
{
    uint64_t one = 1;
    ssize_t w;

    if (l->thread) {
        struct pollfd pfd = {.fd = l->done_fd, .events = POLLIN};

        while (poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) < 0 &&
               errno == EINTR) {
        }
        w = write(l->stop_fd, &one, sizeof(one));
        (void)w;
        pthread_join(l->tid, NULL);
        l->thread = false;
    }
    if (l->open) {
        qhil_logcap_release(&l->lc, "QEMU output");
        l->open = false;
    }
    machine_close(&l->pipe_fd);
    machine_close(&l->stop_fd);
    machine_close(&l->done_fd);
}

int qhil_machine_log_check(qhil_machine *m, qhil_error *err)
{
    bool over;
    uint64_t limit;

    pthread_mutex_lock(&m->log.lock);
    over = qhil_logcap_over(&m->log.lc);
    limit = qhil_logcap_limit(&m->log.lc);
    pthread_mutex_unlock(&m->log.lock);
    if (!over) {
        return QHIL_EOK;
    }
    return qhil_error_set(err, QHIL_ELIMIT,
                          "QEMU output over %llu bytes (%s keeps the first "
                          "and the last of it)",
                          (unsigned long long)limit, m->qemu_log);
}

/* The last 64 KiB of QEMU's output: from the logcap while it is open
 * (its ring once the head is full, else the file), else from the file. */
static char *machine_log_tail(const qhil_machine *m, size_t max)
{
    qhil_machine *mm = (qhil_machine *)m; /* the lock only */
    char *s = NULL;
    int fd;
    off_t size;
    size_t got = 0;

    pthread_mutex_lock(&mm->log.lock);
    if (m->log.open) {
        s = qhil_logcap_tail(&m->log.lc, max, NULL);
    }
    pthread_mutex_unlock(&mm->log.lock);
    if (s) {
        return s;
    }
    fd = open(m->qemu_log, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    size = lseek(fd, 0, SEEK_END);
    if (size > (off_t)max) {
        lseek(fd, size - (off_t)max, SEEK_SET);
    } else {
        lseek(fd, 0, SEEK_SET);
    }
    s = malloc(max + 1);
    while (s && got < max) {
        ssize_t n = read(fd, s + got, max - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (s) {
        s[got] = '\0';
    }
    return s;
}

char *qhil_machine_stderr_tail(const qhil_machine *m, size_t max_lines)
{
    char *s = machine_log_tail(m, 1 << 16);
    size_t len;
    size_t start;
    size_t lines = 0;
    size_t i;

    if (!s) {
        return strdup("");
    }
    len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
        s[--len] = '\0';
    }
    start = len;
    while (start > 0) {
        if (s[start - 1] == '\n' && ++lines >= max_lines) {
            break;
        }
        start--;
    }
    memmove(s, s + start, len - start + 1);
    for (i = 0; s[i]; i++) {
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n') {
            s[i] = ' ';
        }
    }
    return s;
}

/* ---- the process --------------------------------------------------- */

/* Record an exit seen by waitpid on the guard: QEMU's status.  The
 * guard has ended everything QEMU started, so the log's writers are
 * gone: finish it. */
static void machine_reaped(qhil_machine *m, int status,
                           qhil_machine_end how)
{
    m->reaped = true;
    m->status = status;
    if (m->end == QHIL_END_RUNNING) {
        m->end = how;
    }
    /* The guard's word, before its socket goes. */
    if (m->memory_limit && !qhil_proc_memory_killed(&m->child,
                                                     &m->memory_rss)) {
        m->memory_rss = 0;
    }
    qhil_proc_release(&m->child);
    machine_log_finish(&m->log, qhil_deadline_in(MACHINE_DRAIN_NS));
}

/* "QEMU exited with status 1: <stderr>" into err. */
static int machine_exit_error(qhil_machine *m, qhil_error *err,
                              const char *when)
{
    char how[96];
    char *tail = qhil_machine_stderr_tail(m, 3);
    int rc;

    qhil_proc_describe(m->status, how, sizeof(how));
    if (m->memory_rss) {
        char cap[32];
        char rss[32];

        /* The cause first: the kill and the stderr it left say less. */
        rc = qhil_error_set(err, QHIL_EEXITED,
                            "QEMU memory over %s%s: %s resident, killed "
                            "(see %s)",
                            qhil_size_format(m->memory_limit, cap,
                                             sizeof(cap)),
                            when,
                            qhil_size_format(m->memory_rss & ~(uint64_t)1023,
                                             rss, sizeof(rss)),
                            m->qemu_log);
        free(tail);
        return rc;
    }
    if (tail && *tail) {
        for (char *p = tail; *p; p++) {
            if (*p == '\n') {
                *p = '|';
            }
        }
        rc = qhil_error_set(err, QHIL_EEXITED, "QEMU %s%s: %s", how, when,
                            tail);
    } else {
        rc = qhil_error_set(err, QHIL_EEXITED, "QEMU %s%s (see %s)", how,
                            when, m->qemu_log);
    }
    free(tail);
    return rc;
}

int qhil_machine_check(qhil_machine *m, qhil_error *err)
{
    int status;
    pid_t r;

    if (!m->reaped) {
        do {
            r = waitpid(m->child.guard, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
            return QHIL_EOK;
        }
        machine_reaped(m, r == m->child.guard ? status : 0, QHIL_END_SELF);
    }
    return machine_exit_error(m, err, "");
}

int qhil_machine_wait_exit(qhil_machine *m, int64_t deadline,
                           qhil_error *err)
{
    int status;

    if (!m->reaped) {
        if (qhil_proc_wait(m->child.guard, deadline, &status) ==
            QHIL_ETIMEDOUT) {
            return qhil_error_set(err, QHIL_ETIMEDOUT,
                                  "QEMU still running at the deadline");
        }
        machine_reaped(m, status, QHIL_END_SELF);
    }
    return QHIL_EOK;
}

/* Signal QEMU's group, then wait until deadline; true once reaped. */
static bool machine_signal_wait(qhil_machine *m, int sig,
                                qhil_machine_end how, int64_t deadline)
{
    int status;

    if (m->reaped) {
        return true;
    }
    qhil_proc_signal(&m->child, sig);
    if (qhil_proc_wait(m->child.guard, deadline, &status) == QHIL_EOK) {
        machine_reaped(m, status, how);
        return true;
    }
    return false;
}

/* The last resort: SIGKILL the guard itself (still our unreaped child;
 * QEMU has PR_SET_PDEATHSIG on it).  True once reaped. */
static bool machine_kill_guard(qhil_machine *m)
{
    int status;

    if (m->reaped) {
        return true;
    }
    kill(m->child.guard, SIGKILL);
    if (qhil_proc_wait(m->child.guard, qhil_deadline_in(QHIL_SEC),
                       &status) == QHIL_EOK) {
        machine_reaped(m, status, QHIL_END_KILL);
        return true;
    }
    return false;
}

int qhil_machine_shutdown(qhil_machine *m, qhil_error *err)
{
    int status;

    if (!m->reaped && qhil_machine_check(m, NULL) == QHIL_EOK) {
        int64_t deadline = qhil_deadline_in(m->stop_timeout);
        /* quit's reply may not come: QEMU can close the socket first. */
        int rc = qhil_qmp_execute(m->qmp, "quit", NULL, NULL, deadline,
                                  NULL);

        if (rc == QHIL_EOK || rc == QHIL_EEOF) {
            if (qhil_proc_wait(m->child.guard, deadline, &status) ==
                QHIL_EOK) {
                machine_reaped(m, status, QHIL_END_QUIT);
            }
        }
    }
    if (!machine_signal_wait(m, SIGTERM, QHIL_END_TERM,
                             qhil_deadline_in(m->stop_timeout)) &&
        /* SIGKILL cannot be ignored; this wait is for the kernel. */
        !machine_signal_wait(m, SIGKILL, QHIL_END_KILL,
                             qhil_deadline_in(MACHINE_KILL_WAIT_NS)) &&
        !machine_kill_guard(m)) {
        return qhil_error_set(err, QHIL_EBUSY,
                              "QEMU (pid %d) did not die after SIGKILL",
                              (int)m->pid);
    }
    return QHIL_EOK;
}

static void machine_kick(void *data, int64_t deadline)
{
    qhil_machine *m = data;
    int64_t until = qhil_deadline_in(100 * QHIL_MSEC);
    uint64_t id;

    /* Never past the console caller's deadline. */
    if (until > deadline) {
        until = deadline;
    }
    /* Drain replies of earlier kicks, then poke the main loop. */
    qhil_qmp_dispatch(m->qmp, NULL);
    if (qhil_qmp_send(m->qmp, "query-status", NULL, &id, until, NULL) ==
        QHIL_EOK) {
        qhil_qmp_forget(m->qmp, id);
    }
}

void qhil_machine_free(qhil_machine *m)
{
    int status;

    if (!m) {
        return;
    }
    if (m->child.guard > 0 && !m->reaped) {
        /* Closing the control socket: the guard SIGKILLs the group. */
        qhil_proc_release(&m->child);
        if (qhil_proc_wait(m->child.guard,
                           qhil_deadline_in(MACHINE_KILL_WAIT_NS),
                           &status) == QHIL_EOK) {
            machine_reaped(m, status, QHIL_END_KILL);
        } else {
            machine_kill_guard(m);
        }
    }
    qhil_proc_release(&m->child);
    machine_log_finish(&m->log, qhil_now());
    pthread_mutex_destroy(&m->log.lock);
    qhil_console_free(m->console);
    qhil_qtest_free(m->qtest);
    qhil_qmp_free(m->qmp);
    free(m->console_log);
    free(m->qemu_log);
    free(m->qemu_pid);
    free(m);
}

/* Create path for writing, never over something already there (a file
 * of an earlier run, a symlink planted to point elsewhere). */
static int machine_create(const char *path, int *fd_out, qhil_error *err)
{
    int fd;
    int rc = qhil_file_create(path, O_WRONLY, &fd, err);

    if (rc < 0) {
        return rc;
    }
    if (fd_out) {
        *fd_out = fd;
    } else {
        close(fd);
    }
    return QHIL_EOK;
}

/* QEMU's pid into the qemu.pid created at launch, for people and
 * scripts that look after stray processes (kill -- -PID ends its
 * group); failing to write it is not fatal. */
static void machine_write_pid(int fd, pid_t pid)
{
    char line[24];
    int n = snprintf(line, sizeof(line), "%d\n", (int)pid);
    ssize_t w = write(fd, line, (size_t)n);

    (void)w;
}

static int64_t machine_min_deadline(int64_t a, int64_t b)
{
    return b > 0 && b < a ? b : a;
}

int qhil_machine_launch(const qhil_machine_opts *opts, qhil_machine **out,
                        qhil_error *err)
{
    qhil_machine *m = NULL;
    int qmp_sv[2] = {-1, -1};
    int con_sv[2] = {-1, -1};
    int qt_sv[2] = {-1, -1};
    int log_fd = -1;
    int pid_fd = -1;
    char **argv = NULL;
    size_t argc = 0;
    const char *const *wiring;
    size_t n_wiring;
    size_t i;
    bool qtest;
    bool accel;
    int64_t start_deadline;
    int rc;

    *out = NULL;
    if (!opts || !opts->argv || !opts->argv[0] || !opts->run_dir) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "machine options need argv and run_dir");
    }
    start_deadline = machine_min_deadline(
        qhil_deadline_in(opts->start_timeout > 0 ? opts->start_timeout
                                                 : 10 * QHIL_SEC),
        opts->deadline);
    m = calloc(1, sizeof(*m));
    if (!m) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    m->pid = -1;
    m->child.guard = m->child.program = -1;
    m->child.ctl_fd = -1;
    m->log.pipe_fd = m->log.stop_fd = m->log.done_fd = -1;
    pthread_mutex_init(&m->log.lock, NULL);
    m->memory_limit = opts->memory_limit;
    m->stop_timeout = opts->stop_timeout > 0 ? opts->stop_timeout
                                             : 3 * QHIL_SEC;
    if (asprintf(&m->console_log, "%s/console.log", opts->run_dir) < 0 ||
        asprintf(&m->qemu_log, "%s/qemu.log", opts->run_dir) < 0 ||
        asprintf(&m->qemu_pid, "%s/qemu.pid", opts->run_dir) < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto fail;
    }

    accel = opts->qtest_accel;
    qtest = opts->qtest || accel;
    while (opts->argv[argc]) {
        argc++;
    }
    wiring = qhil_machine_wiring(qtest, accel);
    for (n_wiring = 0; wiring[n_wiring]; n_wiring++) {
    }
    argv = calloc(argc + n_wiring + 1, sizeof(*argv));
    if (!argv) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < argc; i++) {
        argv[i] = (char *)opts->argv[i];
    }
    for (i = 0; i < n_wiring; i++) {
        argv[argc++] = (char *)wiring[i];
    }

    /* Every file is new: the run folder is the caller's fresh one (the
     * console creates console.log the same way, with its own logcap). */
    rc = machine_log_open(&m->log, m->qemu_log, opts->log_limit, &log_fd,
                          err);
    if (rc < 0) {
        goto fail;
    }
    rc = machine_create(m->qemu_pid, &pid_fd, err);
    if (rc < 0) {
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_sv) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con_sv) < 0 ||
        (qtest &&
         socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qt_sv) < 0)) {
        rc = qhil_error_set(err, -errno, "socketpair: %s", strerror(errno));
        goto fail;
    }
    {
        /* In fd order: MACHINE_QMP_FD, _CONSOLE_FD, _QTEST_FD. */
        int pass[3] = {qmp_sv[1], con_sv[1], qt_sv[1]};
        qhil_spawn sp = {
            .argv = argv,
            .pass_fds = pass,
            .n_pass_fds = qtest ? 3 : 2,
            .stdin_fd = -1,
            .stdout_fd = log_fd,
            .stderr_fd = log_fd,
            .deadline = start_deadline,
            .envp = (char *const *)opts->envp,
            .rss_max = opts->memory_limit,
        };

        rc = qhil_proc_spawn(&sp, &m->child, err);
        if (rc < 0) {
            goto fail;
        }
        m->pid = m->child.program;
    }
    machine_write_pid(pid_fd, m->pid);
    close(pid_fd);
    pid_fd = -1;
    close(qmp_sv[1]);
    close(con_sv[1]);
    qmp_sv[1] = con_sv[1] = -1;
    if (qt_sv[1] >= 0) {
        close(qt_sv[1]);
        qt_sv[1] = -1;
    }
    close(log_fd);
    log_fd = -1;
    rc = machine_log_start(&m->log, err);
    if (rc < 0) {
        goto fail;
    }

    rc = qhil_qmp_new(qmp_sv[0], &m->qmp, err);
    qmp_sv[0] = -1;
    if (rc < 0) {
        goto fail;
    }
    rc = qhil_console_new(con_sv[0], m->console_log, &m->console, err);
    con_sv[0] = -1;
    if (rc < 0) {
        goto fail;
    }
    qhil_console_set_kick(m->console, machine_kick, m);
    if (qtest) {
        rc = qhil_qtest_new(qt_sv[0], &m->qtest, err);
        qt_sv[0] = -1;
        if (rc < 0) {
            goto fail;
        }
        qhil_qtest_set_clock_allowed(m->qtest, accel);
    }

    if (opts->has_cancel) {
        qhil_machine_set_cancel_fd(m, opts->cancel_fd);
    }
    rc = qhil_qmp_handshake(m->qmp, start_deadline, err);
    if (rc == QHIL_ECANCELED) {
        goto fail; /* the caller stops; QEMU is killed below */
    }
    if (rc < 0) {
        int status;

        /* If QEMU died, its own words say more than "EOF". */
        if (qhil_proc_wait(m->child.guard,
                           machine_min_deadline(
                               qhil_deadline_in(2 * QHIL_SEC),
                               opts->deadline),
                           &status) == QHIL_EOK) {
            machine_reaped(m, status, QHIL_END_SELF);
            rc = machine_exit_error(m, err, " before QMP was ready");
        } else {
            qhil_error_prefix(err, "QEMU started but QMP is not ready");
        }
        goto fail;
    }
    free(argv);
    *out = m;
    return QHIL_EOK;

fail:
    for (i = 0; i < 2; i++) {
        if (qmp_sv[i] >= 0) {
            close(qmp_sv[i]);
        }
        if (con_sv[i] >= 0) {
            close(con_sv[i]);
        }
        if (qt_sv[i] >= 0) {
            close(qt_sv[i]);
        }
    }
    if (log_fd >= 0) {
        close(log_fd);
    }
    if (pid_fd >= 0) {
        close(pid_fd);
    }
    free(argv);
    qhil_machine_free(m);
    return rc;
}

void qhil_machine_set_cancel_fd(qhil_machine *m, int fd)
{
    qhil_qmp_set_cancel_fd(m->qmp, fd);
    if (m->qtest) {
        qhil_qtest_set_cancel_fd(m->qtest, fd);
    }
    qhil_console_set_cancel_fd(m->console, fd);
}
