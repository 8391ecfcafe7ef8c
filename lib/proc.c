/*
 * proc.c - fork/exec with fd passing, death signal, deadline waits.
 *
 * Child side, between fork and exec (async-signal-safe calls only):
 *   1. new process group, so a terminal's ^C reaches qhil, which then
 *      shuts QEMU down in order, rather than QEMU directly;
 *   2. PR_SET_PDEATHSIG(SIGKILL), then check the parent did not already
 *      die before that (getppid() changed);
 *   3. default dispositions for all signals, empty mask;
 *   4. stdio set up, passed fds moved to 3, 4, ... (via high numbers so
 *      sources and targets cannot collide), all other fds closed;
 *   5. execv; on failure the errno goes up the CLOEXEC status pipe.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qhil/clock.h>

#include "internal.h"
#include "proc.h"

#define PROC_HIGH_FD 64

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

static void child_fail(int status_fd, int code)
{
    ssize_t n = write(status_fd, &code, sizeof(code));

    (void)n;
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

/* Close every fd from lowest up, except keep (>= lowest). */
static void child_close_from(int lowest, int keep)
{
    long max = sysconf(_SC_OPEN_MAX);
    int fd;

#ifdef SYS_close_range
    if (keep >= lowest &&
        (keep == lowest ||
         syscall(SYS_close_range, (unsigned)lowest, (unsigned)keep - 1, 0)
             == 0) &&
        syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0) == 0) {
        return;
    }
#endif
    if (max < 0 || max > 65536) {
        max = 65536;
    }
    for (fd = lowest; fd < max; fd++) {
        if (fd != keep) {
            close(fd);
        }
    }
}

static void child_run(const qhil_spawn *sp, const char *path, pid_t parent,
                      int status_fd)
{
    int moved[16];
    struct sigaction sa;
    sigset_t none;
    int devnull = -1;
    size_t i;
    int sig;

    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) {
        _exit(126);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++) {
        sigaction(sig, &sa, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* status_fd must survive the shuffling below. */
    if (status_fd < PROC_HIGH_FD + 16) {
        int hi = fcntl(status_fd, F_DUPFD_CLOEXEC, PROC_HIGH_FD + 16);

        if (hi < 0) {
            child_fail(status_fd, errno);
        }
        status_fd = hi;
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
    child_close_from(3 + (int)sp->n_pass_fds, status_fd);
    execv(path, sp->argv);
    child_fail(status_fd, errno);
}

int qhil_proc_spawn(const qhil_spawn *sp, pid_t *pid_out, qhil_error *err)
{
    char *path = NULL;
    int pipefd[2] = {-1, -1};
    pid_t parent = getpid();
    pid_t pid;
    int code = 0;
    ssize_t n;
    int rc;

    *pid_out = -1;
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
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        rc = qhil_error_set(err, -errno, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    pid = fork();
    if (pid < 0) {
        rc = qhil_error_set(err, -errno, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        close(pipefd[0]);
        child_run(sp, path, parent, pipefd[1]);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    do {
        n = read(pipefd[0], &code, sizeof(code));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(code)) {
        int status;

        waitpid(pid, &status, 0);
        rc = qhil_error_set(err, QHIL_ESPAWN, "cannot run '%s': %s", path,
                            strerror(code));
        goto cleanup;
    }
    *pid_out = pid;
    rc = QHIL_EOK;

cleanup:
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
    }
    if (pipefd[1] >= 0) {
        close(pipefd[1]);
    }
    free(path);
    return rc;
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
