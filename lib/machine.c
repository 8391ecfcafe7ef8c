/*
 * machine.c - QEMU lifecycle: spawn with socketpairs, handshake, stop.
 *
 * launch:   socketpair x2 (x3 with QTest) -> spawn (fds 3 = QMP,
 *           4 = console, 5 = QTest) -> close our copies of QEMU's ends
 *           -> QMP handshake -> RUNNING.
 *           Any failure: SIGKILL, reap, error with QEMU's stderr tail.
 * shutdown: QMP quit -> wait stop_timeout -> SIGTERM -> wait ->
 *           SIGKILL -> reap.  Each outcome is recorded in m->end.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/machine.h>

#include "internal.h"
#include "proc.h"

#define MACHINE_QMP_FD 3
#define MACHINE_CONSOLE_FD 4
#define MACHINE_QTEST_FD 5

struct qhil_machine {
    pid_t pid;
    bool reaped;
    int status;
    qhil_machine_end end;
    int64_t stop_timeout;
    qhil_qmp *qmp;
    qhil_console *console;
    qhil_qtest *qtest; /* NULL unless asked for */
    char *console_log;
    char *qemu_log;
};

static const char *const machine_wiring[] = {
    "-chardev", "socket,id=qhil-qmp,fd=3",
    "-mon", "chardev=qhil-qmp,mode=control",
    "-chardev", "socket,id=qhil-console,fd=4",
    "-serial", "chardev:qhil-console",
};

static const char *const machine_qtest_wiring[] = {
    "-chardev", "socket,id=qhil-qtest,fd=5",
    "-object", "qtest,id=qhil-qtest-server,chardev=qhil-qtest,log=none",
};

static const char *const machine_qtest_accel[] = {
    "-accel", "qtest",
};

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

int qhil_machine_status(const qhil_machine *m)
{
    return m->status;
}

char *qhil_machine_stderr_tail(const qhil_machine *m, size_t max_lines)
{
    qhil_buf b;
    char *s;
    int fd;
    off_t size;
    size_t start;
    size_t lines = 0;
    size_t i;

    qhil_buf_init(&b, 1 << 16);
    fd = open(m->qemu_log, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return strdup("");
    }
    size = lseek(fd, 0, SEEK_END);
    if (size > (off_t)b.max) {
        lseek(fd, size - (off_t)b.max, SEEK_SET);
    } else {
        lseek(fd, 0, SEEK_SET);
    }
    for (;;) {
        ssize_t n;

        if (qhil_buf_reserve(&b, 4096) < 0) {
            break;
        }
        n = read(fd, b.data + b.len, 4096);
        if (n <= 0) {
            break;
        }
        b.len += (size_t)n;
        b.data[b.len] = '\0';
    }
    close(fd);
    while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
                         b.data[b.len - 1] == '\r')) {
        b.data[--b.len] = '\0';
    }
    start = b.len;
    while (start > 0) {
        if (b.data[start - 1] == '\n' && ++lines >= max_lines) {
            break;
        }
        start--;
    }
    qhil_buf_consume(&b, start);
    s = qhil_buf_steal(&b);
    for (i = 0; s && s[i]; i++) {
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n') {
            s[i] = ' ';
        }
    }
    return s;
}

/* Record an exit seen by waitpid. */
static void machine_reaped(qhil_machine *m, int status,
                           qhil_machine_end how)
{
    m->reaped = true;
    m->status = status;
    if (m->end == QHIL_END_RUNNING) {
        m->end = how;
    }
}

/* "QEMU exited with status 1: <stderr>" into err. */
static int machine_exit_error(qhil_machine *m, qhil_error *err,
                              const char *when)
{
    char how[96];
    char *tail = qhil_machine_stderr_tail(m, 3);
    int rc;

    qhil_proc_describe(m->status, how, sizeof(how));
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
            r = waitpid(m->pid, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
            return QHIL_EOK;
        }
        machine_reaped(m, r == m->pid ? status : 0, QHIL_END_SELF);
    }
    return machine_exit_error(m, err, "");
}

int qhil_machine_wait_exit(qhil_machine *m, int64_t deadline,
                           qhil_error *err)
{
    int status;

    if (!m->reaped) {
        if (qhil_proc_wait(m->pid, deadline, &status) == QHIL_ETIMEDOUT) {
            return qhil_error_set(err, QHIL_ETIMEDOUT,
                                  "QEMU still running at the deadline");
        }
        machine_reaped(m, status, QHIL_END_SELF);
    }
    return QHIL_EOK;
}

/* Signal, then wait up to the stop timeout; true once reaped. */
static bool machine_signal_wait(qhil_machine *m, int sig,
                                qhil_machine_end how)
{
    int status;

    if (m->reaped) {
        return true;
    }
    kill(m->pid, sig);
    if (qhil_proc_wait(m->pid, qhil_deadline_in(m->stop_timeout),
                       &status) == QHIL_EOK) {
        machine_reaped(m, status, how);
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
            if (qhil_proc_wait(m->pid, deadline, &status) == QHIL_EOK) {
                machine_reaped(m, status, QHIL_END_QUIT);
            }
        }
    }
    if (!machine_signal_wait(m, SIGTERM, QHIL_END_TERM)) {
        kill(m->pid, SIGKILL);
        /* SIGKILL cannot be ignored; this wait is for the kernel. */
        if (qhil_proc_wait(m->pid, qhil_deadline_in(10 * QHIL_SEC),
                           &status) == QHIL_EOK) {
            machine_reaped(m, status, QHIL_END_KILL);
        } else {
            return qhil_error_set(err, QHIL_EBUSY,
                                  "QEMU (pid %d) did not die after "
                                  "SIGKILL",
                                  (int)m->pid);
        }
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
    if (m->pid > 0 && !m->reaped) {
        kill(m->pid, SIGKILL);
        if (qhil_proc_wait(m->pid, qhil_deadline_in(10 * QHIL_SEC),
                           &status) == QHIL_EOK) {
            machine_reaped(m, status, QHIL_END_KILL);
        }
    }
    qhil_console_free(m->console);
    qhil_qtest_free(m->qtest);
    qhil_qmp_free(m->qmp);
    free(m->console_log);
    free(m->qemu_log);
    free(m);
}

/* run_dir/qemu.pid, for people and scripts that look after stray
 * processes; failing to write it is not fatal. */
static void machine_write_pid(const qhil_machine *m, const char *run_dir)
{
    char *path = NULL;
    FILE *f;

    if (asprintf(&path, "%s/qemu.pid", run_dir) < 0) {
        return;
    }
    f = fopen(path, "we");
    if (f) {
        fprintf(f, "%d\n", (int)m->pid);
        fclose(f);
    }
    free(path);
}

int qhil_machine_launch(const qhil_machine_opts *opts, qhil_machine **out,
                        qhil_error *err)
{
    qhil_machine *m = NULL;
    int qmp_sv[2] = {-1, -1};
    int con_sv[2] = {-1, -1};
    int qt_sv[2] = {-1, -1};
    int log_fd = -1;
    char **argv = NULL;
    size_t argc = 0;
    size_t n_wiring;
    size_t i;
    bool qtest;
    bool accel;
    int rc;

    *out = NULL;
    if (!opts || !opts->argv || !opts->argv[0] || !opts->run_dir) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "machine options need argv and run_dir");
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    m->pid = -1;
    m->stop_timeout = opts->stop_timeout > 0 ? opts->stop_timeout
                                             : 3 * QHIL_SEC;
    if (asprintf(&m->console_log, "%s/console.log", opts->run_dir) < 0 ||
        asprintf(&m->qemu_log, "%s/qemu.log", opts->run_dir) < 0) {
        m->console_log = m->qemu_log = NULL;
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto fail;
    }

    /* A rerun in the same directory starts a fresh console log. */
    if (unlink(m->console_log) < 0 && errno != ENOENT) {
        rc = qhil_error_set(err, -errno, "cannot remove old %s: %s",
                            m->console_log, strerror(errno));
        goto fail;
    }

    accel = opts->qtest_accel;
    qtest = opts->qtest || accel;
    while (opts->argv[argc]) {
        argc++;
    }
    n_wiring = QHIL_ARRAY_SIZE(machine_wiring) +
               (qtest ? QHIL_ARRAY_SIZE(machine_qtest_wiring) : 0) +
               (accel ? QHIL_ARRAY_SIZE(machine_qtest_accel) : 0);
    argv = calloc(argc + n_wiring + 1, sizeof(*argv));
    if (!argv) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < argc; i++) {
        argv[i] = (char *)opts->argv[i];
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(machine_wiring); i++) {
        argv[argc++] = (char *)machine_wiring[i];
    }
    for (i = 0; qtest && i < QHIL_ARRAY_SIZE(machine_qtest_wiring); i++) {
        argv[argc++] = (char *)machine_qtest_wiring[i];
    }
    for (i = 0; accel && i < QHIL_ARRAY_SIZE(machine_qtest_accel); i++) {
        argv[argc++] = (char *)machine_qtest_accel[i];
    }

    log_fd = open(m->qemu_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);
    if (log_fd < 0) {
        rc = qhil_error_set(err, -errno, "cannot create %s: %s",
                            m->qemu_log, strerror(errno));
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
        };

        rc = qhil_proc_spawn(&sp, &m->pid, err);
        if (rc < 0) {
            goto fail;
        }
    }
    machine_write_pid(m, opts->run_dir);
    close(qmp_sv[1]);
    close(con_sv[1]);
    qmp_sv[1] = con_sv[1] = -1;
    if (qt_sv[1] >= 0) {
        close(qt_sv[1]);
        qt_sv[1] = -1;
    }
    close(log_fd);
    log_fd = -1;

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

    rc = qhil_qmp_handshake(m->qmp,
                            qhil_deadline_in(opts->start_timeout > 0
                                                 ? opts->start_timeout
                                                 : 10 * QHIL_SEC),
                            err);
    if (rc < 0) {
        int status;

        /* If QEMU died, its own words say more than "EOF". */
        if (qhil_proc_wait(m->pid, qhil_deadline_in(2 * QHIL_SEC),
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
