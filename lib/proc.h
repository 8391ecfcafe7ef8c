/*
 * proc.h - child processes for libqhil (internal).
 *
 * Spawning follows git's run-command: an argv array, never a shell; all
 * our fds are close-on-exec and the child closes everything above the
 * ones it is given anyway; signals and the signal mask are reset; and an
 * exec failure travels back over a close-on-exec pipe instead of looking
 * like an early exit.
 *
 * The program does not run as our child but under a guard: a small
 * process forked from ours (never exec'ed) that starts the program in a
 * process group of its own, is the subreaper of everything the program
 * starts, and ends that whole group when the program exits, when we ask,
 * and when we die (even by kill -9): it watches a pipe whose write end
 * only we hold.  The guard exits with the program's wait status (the
 * same exit code, or killed by the same signal), so waiting for the
 * guard is waiting for the program.  See proc.c for the details.
 */
#ifndef QHIL_PROC_H
#define QHIL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <qhil/clock.h>
#include <qhil/error.h>

typedef struct qhil_spawn {
    char *const *argv;   /* argv[0] searched in PATH when it has no '/'
                            (our PATH, not envp's) */
    char *const *envp;   /* the program's whole environment, NULL-ended
                            "NAME=VALUE" strings; NULL: ours, inherited.
                            Borrowed for the call.  The guard keeps ours
                            (it never execs); only the program gets envp */
    const int *pass_fds; /* given to the child as fds 3, 4, ... in order */
    size_t n_pass_fds;
    int stdin_fd;        /* -1: /dev/null */
    int stdout_fd;       /* -1: /dev/null */
    int stderr_fd;       /* -1: /dev/null */
    int64_t deadline;    /* absolute CLOCK_MONOTONIC ns by which the exec
                            must be known to have happened (or failed);
                            0: QHIL_PROC_SPAWN_WAIT from the call */
    uint64_t rss_max;    /* resident bytes the program may use, 0: not
                            watched; the guard reads /proc/PID/statm
                            every QHIL_PROC_MEM_TICK_MS and over it kills
                            the group (qhil_proc_memory_killed) */
} qhil_spawn;

/* How often the guard looks at the program's resident size. */
#define QHIL_PROC_MEM_TICK_MS 20

/* The exec wait when qhil_spawn.deadline is 0. */
#define QHIL_PROC_SPAWN_WAIT (5 * QHIL_SEC)

/* A started program and its guard.  Embedded; qhil_proc_release. */
typedef struct qhil_child {
    pid_t guard;   /* our child: wait for (and reap) this one */
    pid_t program; /* the program's own pid, also its process group */
    int ctl_fd;    /* write end of the guard's control pipe, or -1 */
} qhil_child;

/*
 * Find an executable the way execvp would.  *path_out malloc'ed.
 * QHIL_ENOENT when it is not there.
 */
int qhil_proc_find(const char *name, char **path_out);

/*
 * Start the program under its guard.  QHIL_ESPAWN with the exec errno in
 * the message when the program cannot be run; QHIL_ETIMEDOUT when the
 * exec was not done by sp->deadline.  On failure nothing is left running
 * or unreaped and *c is released.  Blocks until the exec happened or
 * failed, at most until the deadline (plus the bounded SIGKILL wait of a
 * failure).  The caller releases *c with qhil_proc_release after it
 * reaped c->guard.
 */
int qhil_proc_spawn(const qhil_spawn *sp, qhil_child *c, qhil_error *err);

/*
 * Run a program to its end: its stdout and stderr go to one pipe whose
 * first cap bytes are kept in *output (malloc'ed, NUL-terminated, caller
 * frees; what comes after cap is read and dropped, so the program never
 * blocks on a full pipe, and *truncated says so when not NULL).  The
 * stdout_fd and stderr_fd of sp are ignored; stdin_fd -1 is /dev/null.
 * *status gets the program's waitpid status.
 *
 * Blocks until the program exited and the pipe is at EOF, at most until
 * deadline (absolute CLOCK_MONOTONIC ns): then the program's whole group
 * is killed and reaped (a bounded wait more) and the call returns
 * QHIL_ETIMEDOUT, with what was captured still in *output.  QHIL_ESPAWN
 * when it cannot be run (as qhil_proc_spawn).  The exit status is not
 * judged: a program that exits 1 is QHIL_EOK with *status saying so.
 */
int qhil_proc_run(const qhil_spawn *sp, int64_t deadline, size_t cap,
                  int *status, char **output, bool *truncated,
                  qhil_error *err);

/*
 * Have the guard send sig to the program's whole process group.  Never
 * blocks.  QHIL_EINVAL when the control pipe is closed already.  Safe
 * from pid reuse: the guard signals the group only while the program is
 * not yet reaped, and it is the guard that reaps it.
 */
int qhil_proc_signal(qhil_child *c, int sig);

/*
 * Close the control pipe: the guard SIGKILLs the program's group, reaps
 * everything and exits.  Does not wait; the guard stays our child until
 * reaped with qhil_proc_wait.  Idempotent.
 */
void qhil_proc_release(qhil_child *c);

/*
 * Whether the guard killed the program for going over sp->rss_max, and
 * the resident size it saw (*rss, when not NULL).  Call it after the
 * guard was reaped and before qhil_proc_release (the guard's word is on
 * the control socket).  Never blocks.
 */
bool qhil_proc_memory_killed(qhil_child *c, uint64_t *rss);

/*
 * Wait for pid to exit until deadline; reaps it.  Returns QHIL_EOK with
 * *status (waitpid form) or QHIL_ETIMEDOUT.  Uses a pidfd, so it sleeps
 * in poll() rather than polling.
 */
int qhil_proc_wait(pid_t pid, int64_t deadline, int *status);

/* Describe a waitpid status: "exited with status 1", "killed by signal
 * 9 (Killed)".  Writes into buf of size n; returns buf. */
const char *qhil_proc_describe(int status, char *buf, size_t n);

#endif /* QHIL_PROC_H */
