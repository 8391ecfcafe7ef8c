/*
 * proc.h - child processes for libqhil (internal).
 *
 * Spawning follows git's run-command: an argv array, never a shell; all
 * our fds are close-on-exec and the child closes everything above the
 * ones it is given anyway; signals and the signal mask are reset; the
 * child asks the kernel to SIGKILL it when qhil dies (PR_SET_PDEATHSIG),
 * so no QEMU outlives the harness even on kill -9; and an exec failure
 * travels back over a close-on-exec pipe instead of looking like an
 * early exit.
 */
#ifndef QHIL_PROC_H
#define QHIL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <qhil/error.h>

typedef struct qhil_spawn {
    char *const *argv;   /* argv[0] searched in PATH when it has no '/' */
    const int *pass_fds; /* given to the child as fds 3, 4, ... in order */
    size_t n_pass_fds;
    int stdin_fd;        /* -1: /dev/null */
    int stdout_fd;       /* -1: /dev/null */
    int stderr_fd;       /* -1: /dev/null */
} qhil_spawn;

/*
 * Find an executable the way execvp would.  *path_out malloc'ed.
 * QHIL_ENOENT when it is not there.
 */
int qhil_proc_find(const char *name, char **path_out);

/* Start the child.  QHIL_ESPAWN with the exec errno in the message when
 * the program cannot be run.  Does not block beyond fork/exec. */
int qhil_proc_spawn(const qhil_spawn *sp, pid_t *pid_out, qhil_error *err);

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
