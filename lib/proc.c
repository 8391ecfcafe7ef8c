/*
 * proc.c - programs started under a guard: fd passing, one process
 * group, deadline waits.
 *
 * Process tree and the pipes between them:
 *
 *   qhil ──fork──> guard ──_Fork+exec──> program (QEMU) ──> its children
 *     │  ctl socket (only qhil's end    │ pgid = program's pid; the whole
 *     │  writes; EOF = qhil is gone)    │ group is signalled, never a pid
 *     └──────────<── status pipe <──────┘ (program pid, exec errno)
 *
 * Why a guard.  QEMU gets PR_SET_PDEATHSIG(SIGKILL), but what QEMU starts
 * (a -netdev tap script, the shell of an exec: migration and its sleep)
 * does not, and would outlive a test or a kill -9 of qhil.  So a small
 * process forked from ours, and never exec'ed, sits between: it puts the
 * program in a new process group, is the subreaper of everything below,
 * and ends all of it when the program exits, when qhil asks, or when
 * qhil dies.  It is a fork of a possibly multi-threaded qhil, so from the
 * fork to its _exit it makes async-signal-safe calls only (no malloc, no
 * stdio; _Fork, not fork, which would take malloc's locks).
 *
 * Guard, between fork and _exit:
 *   1. a process group of its own: a terminal's ^C or a kill of qhil's
 *      group does not end it before it has cleaned up;
 *   2. every signal to its default, then the ones that would end it
 *      (HUP, INT, QUIT, TERM, PIPE, USR1/2, ALRM, TSTP, TTIN, TTOU)
 *      ignored: only SIGKILL, the program's end or the control socket
 *      end the guard;
 *   3. PR_SET_CHILD_SUBREAPER: orphans below the program come to it;
 *   4. stdio set up, passed fds moved to 3, 4, ... (via high numbers so
 *      sources and targets cannot collide), all other fds closed but the
 *      status pipe and the control socket;
 *   5. _Fork the program and setpgid it (it does so too: whichever runs
 *      first, the group exists before the guard signals it); close the
 *      program's fds, send its pid up the status pipe, close that;
 *   6. watch, in poll(): a pidfd of the program, and the control socket.
 *      A byte on the socket is a signal number to send to the group
 *      (-pid); EOF (qhil closed it, or died) means SIGKILL to the group.
 *      With a memory cap (rss_max) the poll also wakes every
 *      QHIL_PROC_MEM_TICK_MS to read the program's resident size from
 *      /proc/PID/statm; over the cap the guard writes one proc_mem_rec
 *      back on the control socket (the only thing it ever writes there)
 *      and SIGKILLs the group;
 *   7. once waitid(WEXITED|WNOWAIT) says the program exited, it is still
 *      an unreaped zombie, so its pid and group id cannot be reused:
 *      SIGKILL the group, then reap the program;
 *   8. SIGKILL and reap whatever else is its child (from
 *      /proc/thread-self/children: processes that left the group), for
 *      at most PROC_GUARD_REAP_NS;
 *   9. exit with the program's status: the same exit code, or the same
 *      signal raised again (with RLIMIT_CORE 0, so a program's core dump
 *      shows as a plain kill and the guard writes no core).
 *
 * Program, between _Fork and exec:
 *   1. close the control socket; a new process group (setpgid(0, 0));
 *   2. PR_SET_PDEATHSIG(SIGKILL), then check the guard did not already
 *      die before that (getppid() changed): if the guard is killed, the
 *      program goes with it;
 *   3. every signal to its default (ignored ones would survive exec),
 *      empty mask;
 *   4. execve with the caller's envp (ours when it gave none); on
 *      failure the errno goes up the CLOEXEC status pipe.
 *
 * qhil reads the status pipe until EOF, up to the spawn deadline: EOF
 * comes once the guard closed its end and the exec closed the program's.
 * The guard pid is ours to wait for; it stays unreaped, so pinned, until
 * we reap it.  qhil never signals the program's pid itself: only the
 * guard, which has not reaped it yet, does.  Cost per start: one more
 * fork of qhil (copy-on-write page tables) and a pidfd; see proc.md.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <qhil/clock.h>

#include "internal.h"
#include "proc.h"

#define PROC_HIGH_FD 64
/* How long the guard reaps the program's leftovers after it exited. */
#define PROC_GUARD_REAP_NS (1 * QHIL_SEC)
/* A failed spawn: wait for the guard, then SIGKILL it and wait again. */
#define PROC_FAIL_WAIT_NS (1 * QHIL_SEC)

/* Records on the status pipe, each written in one write (atomic). */
enum { PROC_REC_PID = 1, PROC_REC_ERRNO = 2 };
typedef struct proc_rec {
    int kind;
    int value;
} proc_rec;

/* The guard's word on the control socket: the program went over its
 * memory cap with this many bytes resident. */
#define PROC_MEM_MAGIC 0x716d656dU /* "qmem" */
typedef struct proc_mem_rec {
    uint32_t magic;
    uint64_t rss;
} proc_mem_rec;

int qhil_proc_find(const char *name, char **path_out)
{
    const char *path = getenv("PATH");
    const char *p;

    *path_out = NULL;
    if (!name || !*name) {
        return QHIL_ENOENT;
    }
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0) {
            return -errno;
        }
        *path_out = strdup(name);
        return *path_out ? QHIL_EOK : QHIL_ENOMEM;
    }
    if (!path || !*path) {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    for (p = path; p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *cand = NULL;

        if (asprintf(&cand, "%.*s/%s", (int)len, len ? p : ".", name) < 0) {
            return QHIL_ENOMEM;
        }
        if (access(cand, X_OK) == 0) {
            *path_out = cand;
            return QHIL_EOK;
        }
        free(cand);
    }
    return QHIL_ENOENT;
}

/* ---- guard and program side: async-signal-safe calls only ---------- */

static void child_put(int status_fd, int kind, int value)
{
    proc_rec r = {kind, value};
    ssize_t n = write(status_fd, &r, sizeof(r));

    (void)n;
}

static _Noreturn void child_fail(int status_fd, int code)
{
    child_put(status_fd, PROC_REC_ERRNO, code);
    _exit(127);
}

static void child_dup(int from, int to, int status_fd)
{
    if (from == to) {
        int fl = fcntl(to, F_GETFD);

        if (fl < 0 || fcntl(to, F_SETFD, fl & ~FD_CLOEXEC) < 0) {
            child_fail(status_fd, errno);
        }
        return;
    }
    if (dup2(from, to) < 0) {
        child_fail(status_fd, errno);
    }
}

/* Close fds [lo, hi] (hi may be ~0u). */
static void child_close_range(unsigned lo, unsigned hi)
{
    long max = sysconf(_SC_OPEN_MAX);
    unsigned fd;

    if (lo > hi) {
        return;
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lo, hi, 0) == 0) {
        return;
    }
#endif
    if (max < 0 || max > 65536) {
        max = 65536;
    }
    for (fd = lo; fd <= hi && fd < (unsigned)max; fd++) {
        close((int)fd);
    }
}

/* Close every fd from lowest up, except keep_a and keep_b (> lowest). */
static void child_close_from(int lowest, int keep_a, int keep_b)
{
    unsigned a = (unsigned)(keep_a < keep_b ? keep_a : keep_b);
    unsigned b = (unsigned)(keep_a < keep_b ? keep_b : keep_a);

    child_close_range((unsigned)lowest, a - 1);
    child_close_range(a + 1, b - 1);
    child_close_range(b + 1, ~0u);
}

static void child_signals_default(void)
{
    struct sigaction sa;
    sigset_t none;
    int sig;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++) {
        sigaction(sig, &sa, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The program: after _Fork in the guard, until exec. */
static _Noreturn void program_run(const qhil_spawn *sp, const char *path,
                                  pid_t guard, int status_fd, int ctl_fd)
{
    close(ctl_fd);
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != guard) {
        _exit(126);
    }
    child_signals_default();
    execve(path, sp->argv, sp->envp ? sp->envp : environ);
    child_fail(status_fd, errno);
}

static int64_t guard_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * QHIL_SEC + ts.tv_nsec;
}

/* SIGKILL every child of ours; they are unreaped, so their pids are
 * still theirs.  /proc/thread-self/children lists them (we have one
 * thread); false when it cannot be read. */
static bool guard_kill_children(void)
{
    char buf[512];
    long pid = -1;
    ssize_t n;
    int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return false;
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                pid = (pid < 0 ? 0 : pid * 10) + (buf[i] - '0');
            } else if (pid > 0) {
                kill((pid_t)pid, SIGKILL);
                pid = -1;
            }
        }
    }
    if (pid > 0) {
        kill((pid_t)pid, SIGKILL);
    }
    close(fd);
    return true;
}

/* The program's resident bytes from /proc/PID/statm (its second field,
 * in pages), or 0 when it cannot be read.  Async-signal-safe: no stdio,
 * no malloc. */
static uint64_t guard_rss(pid_t pid, long page)
{
    char path[40] = "/proc/";
    char digits[16];
    char buf[128];
    size_t n = 0;
    size_t at = 6;
    uint64_t pages = 0;
    ssize_t got;
    ssize_t i;
    int fd;

    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0 && n < sizeof(digits));
    while (n > 0) {
        path[at++] = digits[--n];
    }
    memcpy(path + at, "/statm", 7);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    for (i = 0; i < got && buf[i] != ' '; i++) {
    }
    for (i++; i < got && buf[i] >= '0' && buf[i] <= '9'; i++) {
        pages = pages * 10 + (uint64_t)(buf[i] - '0');
    }
    return pages * (uint64_t)page;
}

/* Steps 6 and 7: until the program exits; returns its wait status. */
static int guard_watch(pid_t pid, int ctl_fd, uint64_t rss_max, long page)
{
    int pidfd = -1;
    bool ctl_open = true;
    bool mem_killed = false;
    int status = 0;

#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    for (;;) {
        struct pollfd fds[2];
        siginfo_t si;
        nfds_t n = 0;

        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
                0 &&
            si.si_pid == pid) {
            break;
        }
        if (ctl_open) {
            fds[n].fd = ctl_fd;
            fds[n++].events = POLLIN;
        }
        if (pidfd >= 0) {
            fds[n].fd = pidfd;
            fds[n++].events = POLLIN;
        }
        if (rss_max && !mem_killed) {
            uint64_t rss = guard_rss(pid, page);

            if (rss > rss_max) {
                proc_mem_rec rec = {.magic = PROC_MEM_MAGIC, .rss = rss};

                if (ctl_open) {
                    send(ctl_fd, &rec, sizeof(rec),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
                }
                kill(-pid, SIGKILL);
                mem_killed = true;
            }
        }
        if (poll(fds, n,
                 rss_max && !mem_killed ? QHIL_PROC_MEM_TICK_MS
                 : pidfd >= 0           ? -1
                                        : 50) <= 0 ||
            !ctl_open || !fds[0].revents) {
            continue;
        }
        {
            unsigned char sig;
            ssize_t r = read(ctl_fd, &sig, 1);

            if (r == 1) {
                if (sig > 0 && sig < NSIG) {
                    kill(-pid, sig);
                }
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                /* qhil let go of us, or is dead: end everything. */
                kill(-pid, SIGKILL);
                close(ctl_fd);
                ctl_open = false;
            }
        }
    }
    /* A zombie still owns its pid and its group id. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (ctl_open) {
        close(ctl_fd);
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    return status;
}

/* Step 8: reap what is left below us, killing it first. */
static void guard_reap_rest(void)
{
    int64_t end = guard_now() + PROC_GUARD_REAP_NS;

    for (;;) {
        int st;
        pid_t r;

        guard_kill_children();
        r = waitpid(-1, &st, WNOHANG);
        if (r > 0 || (r < 0 && errno == EINTR)) {
            continue;
        }
        if (r < 0 || guard_now() >= end) {
            return; /* ECHILD: nothing left */
        }
        poll(NULL, 0, 2);
    }
}

/* Step 9: end the way the program ended. */
static _Noreturn void guard_mirror(int status)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit none = {0, 0};
        struct sigaction sa;
        sigset_t set;

        setrlimit(RLIMIT_CORE, &none);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        kill(getpid(), sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
}

static _Noreturn void guard_run(const qhil_spawn *sp, const char *path,
                                int status_fd, int ctl_fd, long page)
{
    static const int ignored[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                  SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM,
                                  SIGTSTP, SIGTTIN, SIGTTOU};
    int moved[16];
    struct sigaction sa;
    int devnull = -1;
    pid_t self;
    pid_t pid;
    size_t i;

    setpgid(0, 0);
    child_signals_default();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    for (i = 0; i < QHIL_ARRAY_SIZE(ignored); i++) {
        sigaction(ignored[i], &sa, NULL);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    /* status_fd and ctl_fd must survive the shuffling below. */
    if (status_fd < PROC_HIGH_FD + 16) {
        int hi = fcntl(status_fd, F_DUPFD_CLOEXEC, PROC_HIGH_FD + 16);

        if (hi < 0) {
            child_fail(status_fd, errno);
        }
        status_fd = hi;
    }
    if (ctl_fd < PROC_HIGH_FD + 16) {
        int hi = fcntl(ctl_fd, F_DUPFD_CLOEXEC, PROC_HIGH_FD + 16);

        if (hi < 0) {
            child_fail(status_fd, errno);
        }
        ctl_fd = hi;
    }
    for (i = 0; i < sp->n_pass_fds; i++) {
        moved[i] = fcntl(sp->pass_fds[i], F_DUPFD_CLOEXEC, PROC_HIGH_FD);
        if (moved[i] < 0) {
            child_fail(status_fd, errno);
        }
    }
    if (sp->stdin_fd < 0 || sp->stdout_fd < 0 || sp->stderr_fd < 0) {
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0) {
            child_fail(status_fd, errno);
        }
        devnull = fcntl(devnull, F_DUPFD_CLOEXEC, PROC_HIGH_FD + 20);
    }
    {
        int in = sp->stdin_fd >= 0 ? fcntl(sp->stdin_fd, F_DUPFD_CLOEXEC,
                                           PROC_HIGH_FD + 24)
                                   : devnull;
        int out = sp->stdout_fd >= 0 ? fcntl(sp->stdout_fd,
                                             F_DUPFD_CLOEXEC,
                                             PROC_HIGH_FD + 24)
                                     : devnull;
        int errfd = sp->stderr_fd >= 0 ? fcntl(sp->stderr_fd,
                                               F_DUPFD_CLOEXEC,
                                               PROC_HIGH_FD + 24)
                                       : devnull;

        child_dup(in, 0, status_fd);
        child_dup(out, 1, status_fd);
        child_dup(errfd, 2, status_fd);
    }
    for (i = 0; i < sp->n_pass_fds; i++) {
        child_dup(moved[i], 3 + (int)i, status_fd);
    }
    child_close_from(3 + (int)sp->n_pass_fds, status_fd, ctl_fd);

    self = getpid();
    pid = _Fork();
    if (pid < 0) {
        child_fail(status_fd, errno);
    }
    if (pid == 0) {
        program_run(sp, path, self, status_fd, ctl_fd);
    }
    /* The program makes its group too, but perhaps not yet: a signal to
     * the group must reach it from now on (as shells do, both call
     * setpgid; the loser gets EACCES or nothing to do). */
    setpgid(pid, pid);
    /* Hold none of the program's fds: their EOF must mean its end. */
    child_close_range(0, 2 + (unsigned)sp->n_pass_fds);
    child_put(status_fd, PROC_REC_PID, (int)pid);
    close(status_fd);
    {
        int status = guard_watch(pid, ctl_fd, sp->rss_max, page);

        guard_reap_rest();
        guard_mirror(status);
    }
}

/* ---- qhil's side ---------------------------------------------------- */

/* After a failed spawn: let the guard end the group, then reap it. */
static void proc_abandon(qhil_child *c)
{
    int status;

    qhil_proc_release(c);
    if (c->guard > 0 &&
        qhil_proc_wait(c->guard, qhil_deadline_in(PROC_FAIL_WAIT_NS),
                       &status) != QHIL_EOK) {
        kill(c->guard, SIGKILL); /* unreaped: still our child */
        qhil_proc_wait(c->guard, qhil_deadline_in(PROC_FAIL_WAIT_NS),
                       &status);
    }
    c->guard = c->program = -1;
}

/* Read the status records until EOF or deadline. */
static int proc_read_status(int fd, int64_t deadline, pid_t *program,
                            int *code)
{
    char raw[64];
    size_t have = 0;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;
        int pr;

        pr = poll(&pfd, 1, qhil_deadline_poll_ms(deadline));
        if (pr < 0 && errno != EINTR) {
            return -errno;
        }
        if (pr <= 0) {
            if (qhil_now() >= deadline) {
                return QHIL_ETIMEDOUT;
            }
            continue;
        }
        n = read(fd, raw + have, sizeof(raw) - have);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : QHIL_EOK;
        }
        have += (size_t)n;
        while (have >= sizeof(proc_rec)) {
            proc_rec r;

            memcpy(&r, raw, sizeof(r));
            if (r.kind == PROC_REC_PID) {
                *program = (pid_t)r.value;
            } else if (r.kind == PROC_REC_ERRNO && !*code) {
                *code = r.value ? r.value : EIO;
            }
            have -= sizeof(r);
            memmove(raw, raw + sizeof(r), have);
        }
    }
}

int qhil_proc_spawn(const qhil_spawn *sp, qhil_child *c, qhil_error *err)
{
    char *path = NULL;
    int status_fd[2] = {-1, -1};
    int ctl[2] = {-1, -1};
    int64_t deadline = sp->deadline ? sp->deadline
                                    : qhil_deadline_in(QHIL_PROC_SPAWN_WAIT);
    long page = sysconf(_SC_PAGESIZE); /* not async-signal-safe: here */
    pid_t guard;
    int code = 0;
    int rc;

    c->guard = c->program = -1;
    c->ctl_fd = -1;
    if (sp->n_pass_fds > 16) {
        return qhil_error_set(err, QHIL_EINVAL, "too many fds to pass");
    }
    rc = qhil_proc_find(sp->argv[0], &path);
    if (rc < 0) {
        return qhil_error_set(err, QHIL_ESPAWN,
                              "cannot run '%s': %s%s", sp->argv[0],
                              rc == QHIL_ENOENT ? "not found"
                                                : qhil_strerror(rc),
                              strchr(sp->argv[0], '/') ? "" : " in PATH");
    }
    /* A socket, not a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE. */
    if (pipe2(status_fd, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0) {
        rc = qhil_error_set(err, -errno, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    guard = fork();
    if (guard < 0) {
        rc = qhil_error_set(err, -errno, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (guard == 0) {
        close(status_fd[0]);
        close(ctl[0]);
        guard_run(sp, path, status_fd[1], ctl[1], page > 0 ? page : 4096);
    }
    c->guard = guard;
    c->ctl_fd = ctl[0];
    ctl[0] = -1;
    close(status_fd[1]);
    status_fd[1] = -1;
    rc = proc_read_status(status_fd[0], deadline, &c->program, &code);
    if (rc == QHIL_ETIMEDOUT) {
        rc = qhil_error_set(err, QHIL_ETIMEDOUT,
                            "'%s' was not started within its deadline",
                            path);
    } else if (rc < 0) {
        rc = qhil_error_set(err, rc, "reading the start status of '%s': %s",
                            path, qhil_strerror(rc));
    } else if (code) {
        rc = qhil_error_set(err, QHIL_ESPAWN, "cannot run '%s': %s", path,
                            strerror(code));
    } else if (c->program <= 0) {
        rc = qhil_error_set(err, QHIL_ESPAWN,
                            "cannot run '%s': its guard process died",
                            path);
    }
    if (rc < 0) {
        proc_abandon(c);
    }

cleanup:
    for (int i = 0; i < 2; i++) {
        if (status_fd[i] >= 0) {
            close(status_fd[i]);
        }
        if (ctl[i] >= 0) {
            close(ctl[i]);
        }
    }
    free(path);
    return rc;
}

/* Read what is in fd into out (up to its cap; the rest dropped).  0 at
 * EOF, 1 when nothing more is there for now, or a negative code. */
static int proc_drain(int fd, qhil_buf *out, bool *over)
{
    char chunk[4096];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno == EAGAIN ? 1 : -errno;
        }
        if (n == 0) {
            return 0;
        }
        if (out->len < out->max) {
            size_t room = out->max - out->len;
            size_t take = (size_t)n < room ? (size_t)n : room;

            if (qhil_buf_append(out, chunk, take) < 0) {
                return QHIL_ENOMEM;
            }
            if (take < (size_t)n) {
                *over = true;
            }
        } else {
            *over = true;
        }
    }
}

int qhil_proc_run(const qhil_spawn *sp, int64_t deadline, size_t cap,
                  int *status, char **output, bool *truncated,
                  qhil_error *err)
{
    qhil_spawn run = *sp;
    qhil_child c = {-1, -1, -1};
    qhil_buf out;
    int pipefd[2] = {-1, -1};
    bool over = false;
    int rc;

    *output = NULL;
    *status = 0;
    qhil_buf_init(&out, cap);
    if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = qhil_error_set(err, -errno, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    run.stdout_fd = pipefd[1];
    run.stderr_fd = pipefd[1];
    if (!run.deadline || run.deadline > deadline) {
        run.deadline = deadline;
    }
    rc = qhil_proc_spawn(&run, &c, err);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (rc < 0) {
        goto cleanup;
    }
    for (;;) {
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int pr = poll(&pfd, 1, qhil_deadline_poll_ms(deadline));

        if (pr < 0 && errno != EINTR) {
            rc = qhil_error_set(err, -errno, "poll: %s", strerror(errno));
            break;
        }
        if (pr > 0) {
            rc = proc_drain(pipefd[0], &out, &over);
            if (rc == 0) {
                break; /* EOF: the program and its group are done */
            }
            if (rc < 0) {
                rc = qhil_error_set(err, rc,
                                    "reading the output of '%s': %s",
                                    sp->argv[0], qhil_strerror(rc));
                break;
            }
            rc = QHIL_EOK;
        }
        if (qhil_now() >= deadline) {
            rc = QHIL_ETIMEDOUT;
            break;
        }
    }
    if (rc == QHIL_EOK &&
        qhil_proc_wait(c.guard, deadline, status) != QHIL_EOK) {
        rc = QHIL_ETIMEDOUT;
    }
    if (rc == QHIL_ETIMEDOUT) {
        qhil_error_set(err, QHIL_ETIMEDOUT,
                       "'%s' did not finish within its deadline; killed",
                       sp->argv[0]);
    }
    if (rc < 0) {
        proc_abandon(&c);
    } else {
        qhil_proc_release(&c);
    }

cleanup:
    for (int i = 0; i < 2; i++) {
        if (pipefd[i] >= 0) {
            close(pipefd[i]);
        }
    }
    if (truncated) {
        *truncated = over;
    }
    *output = qhil_buf_steal(&out);
    qhil_buf_release(&out);
    if (!*output && rc >= 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    return rc;
}

bool qhil_proc_memory_killed(qhil_child *c, uint64_t *rss)
{
    proc_mem_rec rec;
    ssize_t n;

    if (c->ctl_fd < 0) {
        return false;
    }
    do {
        n = recv(c->ctl_fd, &rec, sizeof(rec), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(rec) || rec.magic != PROC_MEM_MAGIC) {
        return false;
    }
    if (rss) {
        *rss = rec.rss;
    }
    return true;
}

int qhil_proc_signal(qhil_child *c, int sig)
{
    unsigned char b = (unsigned char)sig;
    ssize_t n;

    if (c->ctl_fd < 0 || sig <= 0 || sig >= NSIG) {
        return QHIL_EINVAL;
    }
    do {
        n = send(c->ctl_fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? QHIL_EOK : -errno;
}

void qhil_proc_release(qhil_child *c)
{
    if (c->ctl_fd >= 0) {
        close(c->ctl_fd);
        c->ctl_fd = -1;
    }
}

int qhil_proc_wait(pid_t pid, int64_t deadline, int *status)
{
    int pidfd = -1;
    pid_t r;

#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    for (;;) {
        struct pollfd pfd;
        int wait_ms;

        do {
            r = waitpid(pid, status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            if (r < 0) {
                *status = 0;
            }
            if (pidfd >= 0) {
                close(pidfd);
            }
            return QHIL_EOK;
        }
        if (qhil_now() >= deadline) {
            if (pidfd >= 0) {
                close(pidfd);
            }
            return QHIL_ETIMEDOUT;
        }
        wait_ms = qhil_deadline_poll_ms(deadline);
        if (pidfd >= 0) {
            pfd.fd = pidfd;
            pfd.events = POLLIN;
            poll(&pfd, 1, wait_ms);
        } else {
            /* No pidfd (old kernel): short naps bounded by deadline. */
            poll(NULL, 0, wait_ms < 10 ? wait_ms : 10);
        }
    }
}

const char *qhil_proc_describe(int status, char *buf, size_t n)
{
    if (WIFEXITED(status)) {
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, n, "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        snprintf(buf, n, "ended with wait status 0x%x", status);
    }
    return buf;
}
