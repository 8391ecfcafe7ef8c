/*
 * test_proc.c - programs under their guard: exit codes and signals come
 * back as they were, the whole process group ends with the program (and
 * what left the group), when we let go of it, and when we die by
 * SIGKILL; an exec failure is reported and leaves no process behind; the
 * guard holds none of the program's fds.
 *
 * Each test finds its processes by a unique argument ("sleep 6NN.PID"):
 * /proc/PID/cmdline of a live process holds it, a zombie's is empty.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "proc.h"
#include "testutil.h"

/* "6NN.PID": a sleep duration no other test process uses. */
static const char *mark(int n)
{
    static char buf[8][32];

    snprintf(buf[n % 8], sizeof(buf[0]), "%d.%d", 600 + n, (int)getpid());
    return buf[n % 8];
}

/* Live processes whose argv is "sleep DURATION". */
static int procs_with(const char *duration)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    char want[64];
    int count = 0;

    snprintf(want, sizeof(want), "sleep %s", duration);
    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[300];
        char cmd[4096];
        ssize_t n;
        int fd;

        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        n = read(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        if (n > 0 && cmd[n - 1] == '\0') {
            n--;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (cmd[i] == '\0') {
                cmd[i] = ' ';
            }
        }
        if (n > 0) {
            cmd[n] = '\0';
            if (strcmp(cmd, want) == 0) {
                count++;
            }
        }
    }
    closedir(d);
    return count;
}

/* Wait up to ms for procs_with(duration) to reach want; the count. */
static int wait_count(const char *duration, int want, int ms)
{
    int n = procs_with(duration);

    for (; n != want && ms > 0; ms -= 10) {
        poll(NULL, 0, 10);
        n = procs_with(duration);
    }
    return n;
}

static int spawn_sh(const char *script, qhil_child *c, qhil_error *err)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    qhil_spawn sp = {
        .argv = argv,
        .stdin_fd = -1,
        .stdout_fd = -1,
        .stderr_fd = 2,
    };

    return qhil_proc_spawn(&sp, c, err);
}

/* Wait for the guard (bounded) and release the child. */
static int reap(qhil_child *c, int ms)
{
    int status = -1;

    assert_int_equal(
        qhil_proc_wait(c->guard, qhil_deadline_in(ms * QHIL_MSEC), &status),
        QHIL_EOK);
    qhil_proc_release(c);
    return status;
}

static void test_exit_code_mirrored(void **state)
{
    qhil_child c;
    int status;

    (void)state;
    assert_int_equal(spawn_sh("exit 7", &c, NULL), QHIL_EOK);
    assert_true(c.guard > 0);
    assert_true(c.program > 0);
    assert_int_not_equal(c.guard, c.program);
    status = reap(&c, 5000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
}

static void test_signal_mirrored(void **state)
{
    qhil_child c;
    int status;

    (void)state;
    assert_int_equal(spawn_sh("kill -SEGV $$", &c, NULL), QHIL_EOK);
    status = reap(&c, 5000);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_false(WCOREDUMP(status)); /* the guard dumps no core */
}

/* SIGTERM goes to the program and everything in its group. */
static void test_signal_reaches_group(void **state)
{
    char script[512];
    qhil_child c;
    int status;

    (void)state;
    snprintf(script, sizeof(script), "sleep %s & sleep %s & wait", mark(1),
             mark(2));
    assert_int_equal(spawn_sh(script, &c, NULL), QHIL_EOK);
    assert_int_equal(wait_count(mark(1), 1, 3000), 1);
    assert_int_equal(wait_count(mark(2), 1, 3000), 1);
    assert_int_equal(qhil_proc_signal(&c, SIGTERM), QHIL_EOK);
    status = reap(&c, 5000);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    /* Reaped guard: nothing below it is left, not even for a moment. */
    assert_int_equal(procs_with(mark(1)), 0);
    assert_int_equal(procs_with(mark(2)), 0);
    assert_int_equal(qhil_proc_signal(&c, SIGTERM), QHIL_EINVAL);
}

/* The program exits on its own and leaves a child: it goes too. */
static void test_leftover_killed(void **state)
{
    char script[512];
    qhil_child c;
    int status;

    (void)state;
    snprintf(script, sizeof(script), "sleep %s & exit 3", mark(3));
    assert_int_equal(spawn_sh(script, &c, NULL), QHIL_EOK);
    status = reap(&c, 5000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_int_equal(procs_with(mark(3)), 0);
}

/* A child that left the group (setsid) still ends: it is the guard's. */
static void test_escaped_child_killed(void **state)
{
    char script[512];
    qhil_child c;
    int status;

    (void)state;
    snprintf(script, sizeof(script), "setsid sleep %s & sleep 0.5; exit 0",
             mark(4));
    assert_int_equal(spawn_sh(script, &c, NULL), QHIL_EOK);
    status = reap(&c, 5000);
    assert_true(WIFEXITED(status));
    assert_int_equal(procs_with(mark(4)), 0);
}

/* Letting go of the control socket kills the group with SIGKILL. */
static void test_release_kills(void **state)
{
    char script[512];
    qhil_child c;
    int status = -1;

    (void)state;
    snprintf(script, sizeof(script), "trap '' TERM; sleep %s & wait", mark(5));
    assert_int_equal(spawn_sh(script, &c, NULL), QHIL_EOK);
    assert_int_equal(wait_count(mark(5), 1, 3000), 1);
    qhil_proc_release(&c);
    qhil_proc_release(&c); /* idempotent */
    assert_int_equal(
        qhil_proc_wait(c.guard, qhil_deadline_in(5 * QHIL_SEC), &status),
        QHIL_EOK);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(procs_with(mark(5)), 0);
}

/* Signals that would end the guard before it cleaned up (a terminal's
 * ^C, a SIGTERM to every process) leave it and the program running. */
static void test_guard_ignores_signals(void **state)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    char script[512];
    qhil_child c;
    int status;

    (void)state;
    snprintf(script, sizeof(script), "exec sleep %s", mark(10));
    assert_int_equal(spawn_sh(script, &c, NULL), QHIL_EOK);
    assert_int_equal(wait_count(mark(10), 1, 3000), 1);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        assert_int_equal(kill(c.guard, sigs[i]), 0);
    }
    poll(NULL, 0, 100);
    assert_int_equal(waitpid(c.guard, &status, WNOHANG), 0);
    assert_int_equal(procs_with(mark(10)), 1);
    qhil_proc_release(&c);
    status = reap(&c, 5000);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(procs_with(mark(10)), 0);
}

/* kill -9 of the process that spawned: the whole group still ends. */
static void test_parent_killed(void **state)
{
    char script[512];
    char a[64];
    char b[64];
    int sync[2];
    pid_t parent;
    char ok = 0;
    int status;

    (void)state;
    /* Our pid names them, not the one of the child that spawns. */
    snprintf(a, sizeof(a), "%s", mark(6));
    snprintf(b, sizeof(b), "%s", mark(7));
    snprintf(script, sizeof(script), "sleep %s & sleep %s & wait", a, b);
    assert_int_equal(pipe(sync), 0);
    parent = fork();
    assert_true(parent >= 0);
    if (parent == 0) {
        qhil_child c;

        close(sync[0]);
        if (spawn_sh(script, &c, NULL) == QHIL_EOK &&
            wait_count(a, 1, 3000) == 1 && wait_count(b, 1, 3000) == 1) {
            ok = 1;
        }
        if (write(sync[1], &ok, 1) != 1) {
            _exit(1);
        }
        raise(SIGKILL);
        _exit(1);
    }
    close(sync[1]);
    assert_int_equal(read(sync[0], &ok, 1), 1);
    close(sync[0]);
    assert_int_equal(ok, 1);
    assert_int_equal(waitpid(parent, &status, 0), parent);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(wait_count(a, 0, 3000), 0);
    assert_int_equal(wait_count(b, 0, 3000), 0);
}

/* An exec failure is reported as such, and nothing is left to reap. */
static void test_exec_failure(void **state)
{
    char path[] = "/tmp/qhil-test-proc.XXXXXX";
    int fd = mkstemp(path);
    char *argv[] = {path, NULL};
    qhil_spawn sp = {
        .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    qhil_child c;
    qhil_error err;
    int status;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd,
                           "\x7f"
                           "ELFnot\n",
                           8),
                     8);
    close(fd);
    assert_int_equal(chmod(path, 0700), 0);
    qhil_error_init(&err);
    assert_int_equal(qhil_proc_spawn(&sp, &c, &err), QHIL_ESPAWN);
    assert_contains(err.message, "Exec format error");
    assert_int_equal(c.guard, -1);
    assert_int_equal(c.ctl_fd, -1);
    errno = 0;
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    qhil_error_release(&err);
    unlink(path);
}

/* The exec status is read by the deadline: one already past fails at
 * once, and the half-started program and its guard are gone. */
static void test_spawn_deadline(void **state)
{
    char duration[256];
    char *argv[] = {"sleep", duration, NULL};
    qhil_spawn sp = {.argv = argv,
                     .stdin_fd = -1,
                     .stdout_fd = -1,
                     .stderr_fd = -1,
                     .deadline = qhil_now() - 1};
    qhil_child c;
    qhil_error err;
    int64_t start = qhil_now();
    int status;

    (void)state;
    snprintf(duration, sizeof(duration), "%s", mark(9));
    qhil_error_init(&err);
    assert_int_equal(qhil_proc_spawn(&sp, &c, &err), QHIL_ETIMEDOUT);
    assert_contains(err.message, "was not started within its deadline");
    assert_true(qhil_now() - start < 3 * QHIL_SEC);
    assert_int_equal(c.guard, -1);
    assert_int_equal(procs_with(duration), 0);
    errno = 0;
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    qhil_error_release(&err);
}

/* The guard keeps no copy of the program's fds: when the program closes
 * one, we see EOF at once, with the guard still running. */
static void test_guard_holds_no_fds(void **state)
{
    char script[512];
    int sv[2];
    char *argv[] = {"sh", "-c", script, NULL};
    qhil_spawn sp = {.argv = argv,
                     .pass_fds = &sv[1],
                     .n_pass_fds = 1,
                     .stdin_fd = -1,
                     .stdout_fd = -1,
                     .stderr_fd = -1};
    struct pollfd pfd;
    qhil_child c;
    char b;

    (void)state;
    snprintf(script, sizeof(script), "exec 3>&-; sleep %s", mark(8));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(qhil_proc_spawn(&sp, &c, NULL), QHIL_EOK);
    close(sv[1]);
    pfd.fd = sv[0];
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 3000), 1);
    assert_int_equal(read(sv[0], &b, 1), 0);
    assert_int_equal(wait_count(mark(8), 1, 3000), 1);
    close(sv[0]);
    assert_int_equal(qhil_proc_signal(&c, SIGKILL), QHIL_EOK);
    reap(&c, 5000);
    assert_int_equal(procs_with(mark(8)), 0);
}

/* With an envp the program sees exactly it: nothing of ours, not HOME,
 * not a variable we set for the occasion. */
static void test_envp_exact(void **state)
{
    char *argv[] = {"env", NULL};
    char *envp[] = {"QHIL_ONLY=1", "LC_ALL=C", NULL};
    qhil_spawn sp = {.argv = argv, .envp = envp, .stdin_fd = -1};
    char *out = NULL;
    bool cut = true;
    int status = -1;

    (void)state;
    assert_int_equal(setenv("QHIL_LEAK", "from-the-harness", 1), 0);
    assert_int_equal(qhil_proc_run(&sp, qhil_deadline_in(5 * QHIL_SEC), 4096,
                                   &status, &out, &cut, NULL),
                     QHIL_EOK);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(cut);
    assert_string_equal(out, "QHIL_ONLY=1\nLC_ALL=C\n");
    free(out);

    /* An empty envp is an empty environment, not an inherited one. */
    envp[0] = NULL;
    assert_int_equal(qhil_proc_run(&sp, qhil_deadline_in(5 * QHIL_SEC), 4096,
                                   &status, &out, NULL, NULL),
                     QHIL_EOK);
    assert_string_equal(out, "");
    free(out);
    unsetenv("QHIL_LEAK");
}

/* Without one it inherits ours, as before. */
static void test_envp_null_inherits(void **state)
{
    char *argv[] = {"env", NULL};
    qhil_spawn sp = {.argv = argv, .stdin_fd = -1};
    char *out = NULL;
    int status = -1;

    (void)state;
    assert_int_equal(setenv("QHIL_LEAK", "from-the-harness", 1), 0);
    assert_int_equal(qhil_proc_run(&sp, qhil_deadline_in(5 * QHIL_SEC),
                                   1 << 20, &status, &out, NULL, NULL),
                     QHIL_EOK);
    assert_contains(out, "QHIL_LEAK=from-the-harness\n");
    free(out);
    unsetenv("QHIL_LEAK");
}

/* Output over the cap is dropped, not waited on; the exit status is
 * reported, not judged. */
static void test_run_cap_and_status(void **state)
{
    char *argv[] = {"sh", "-c", "seq 1 200000; echo oops >&2; exit 4", NULL};
    qhil_spawn sp = {.argv = argv, .stdin_fd = -1};
    char *out = NULL;
    bool cut = false;
    int status = -1;

    (void)state;
    assert_int_equal(qhil_proc_run(&sp, qhil_deadline_in(10 * QHIL_SEC),
                                   100, &status, &out, &cut, NULL),
                     QHIL_EOK);
    assert_true(cut);
    assert_int_equal(strlen(out), 100);
    assert_true(!strncmp(out, "1\n2\n3\n", 6));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 4);
    free(out);
}

/* A program past the deadline is killed with its group and reaped. */
static void test_run_deadline(void **state)
{
    char script[256];
    char *argv[] = {"sh", "-c", script, NULL};
    qhil_spawn sp = {.argv = argv, .stdin_fd = -1};
    qhil_error err;
    char *out = NULL;
    int64_t t0 = qhil_now();
    int status = -1;

    (void)state;
    qhil_error_init(&err);
    snprintf(script, sizeof(script), "echo started; sleep %s", mark(20));
    assert_int_equal(qhil_proc_run(&sp, qhil_deadline_in(300 * QHIL_MSEC),
                                   4096, &status, &out, NULL, &err),
                     QHIL_ETIMEDOUT);
    assert_true(qhil_now() - t0 < 3 * QHIL_SEC);
    assert_contains(err.message, "did not finish within its deadline");
    assert_string_equal(out, "started\n");
    assert_int_equal(wait_count(mark(20), 0, 3000), 0);
    free(out);
    qhil_error_release(&err);
}

/* A program that cannot be run says so and leaves nothing. */
static void test_run_not_found(void **state)
{
    char *argv[] = {"/nonexistent/qhil-no-such-program", NULL};
    qhil_spawn sp = {.argv = argv, .stdin_fd = -1};
    qhil_error err;
    char *out = NULL;
    int status = -1;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_proc_run(&sp, qhil_deadline_in(5 * QHIL_SEC), 64,
                                   &status, &out, NULL, &err),
                     QHIL_ESPAWN);
    assert_contains(err.message, "qhil-no-such-program");
    free(out);
    qhil_error_release(&err);
}

/* A program over its memory cap is killed by the guard, which says so;
 * one under it runs to its end. */
static void test_memory_cap(void **state)
{
    char *argv[] = {"python3", "-c",
                    "import time\n"
                    "b = bytearray(96 << 20)\n"
                    "time.sleep(20)\n",
                    NULL};
    qhil_spawn sp = {
        .argv = argv,
        .stdin_fd = -1,
        .stdout_fd = -1,
        .stderr_fd = 2,
        .rss_max = (uint64_t)48 << 20,
    };
    int64_t start = qhil_now();
    uint64_t rss = 0;
    qhil_child c;
    int status = -1;

    (void)state;
    assert_int_equal(qhil_proc_spawn(&sp, &c, NULL), QHIL_EOK);
    assert_int_equal(qhil_proc_wait(c.guard,
                                    qhil_deadline_in(10 * QHIL_SEC), &status),
                     QHIL_EOK);
    assert_true(qhil_now() - start < 10 * QHIL_SEC);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_true(qhil_proc_memory_killed(&c, &rss));
    assert_true(rss > (uint64_t)48 << 20);
    qhil_proc_release(&c);
}

static void test_memory_under_cap(void **state)
{
    char *argv[] = {"sh", "-c", "sleep 0.2; exit 5", NULL};
    qhil_spawn sp = {
        .argv = argv,
        .stdin_fd = -1,
        .stdout_fd = -1,
        .stderr_fd = 2,
        .rss_max = (uint64_t)64 << 20,
    };
    qhil_child c;
    int status = -1;

    (void)state;
    assert_int_equal(qhil_proc_spawn(&sp, &c, NULL), QHIL_EOK);
    assert_int_equal(qhil_proc_wait(c.guard,
                                    qhil_deadline_in(5 * QHIL_SEC), &status),
                     QHIL_EOK);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 5);
    assert_false(qhil_proc_memory_killed(&c, NULL));
    qhil_proc_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_code_mirrored),
        cmocka_unit_test(test_signal_mirrored),
        cmocka_unit_test(test_signal_reaches_group),
        cmocka_unit_test(test_leftover_killed),
        cmocka_unit_test(test_escaped_child_killed),
        cmocka_unit_test(test_release_kills),
        cmocka_unit_test(test_guard_ignores_signals),
        cmocka_unit_test(test_parent_killed),
        cmocka_unit_test(test_exec_failure),
        cmocka_unit_test(test_spawn_deadline),
        cmocka_unit_test(test_guard_holds_no_fds),
        cmocka_unit_test(test_envp_exact),
        cmocka_unit_test(test_envp_null_inherits),
        cmocka_unit_test(test_run_cap_and_status),
        cmocka_unit_test(test_run_deadline),
        cmocka_unit_test(test_run_not_found),
        cmocka_unit_test(test_memory_cap),
        cmocka_unit_test(test_memory_under_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
