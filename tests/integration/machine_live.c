/*
 * machine_live.c - the machine's process model on a real QEMU (Debian's
 * qemu-system-arm, mps2-an385, the example firmware), with libqhil used
 * directly:
 *
 *   - what QEMU starts (an exec: migration's sleep) ends with the
 *     machine, on shutdown and on free, and is gone when either returns;
 *     the status of a QEMU killed from outside is its own signal;
 *   - a FIFO as image blocks QEMU at start: launch ends by opts.deadline
 *     (1 s), not by the 10 s start timeout;
 *   - QEMU's output over opts.log_limit: qhil_machine_log_check says so,
 *     qemu.log keeps its head, the dropped-bytes line and its tail;
 *   - opts.envp: QEMU's /proc/PID/environ is exactly it, nothing of
 *     ours (not HOME, not a variable set for the occasion);
 *   - a file or a symlink already in the run folder as qemu.log,
 *     qemu.pid or console.log: launch refuses, the target is untouched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "itutil.h"

static qhil_error err;

static int64_t later(void)
{
    return qhil_deadline_in(10 * QHIL_SEC);
}

/* QEMU's argv for mps2-an385 with kernel and up to 4 more arguments. */
static const char **qemu_argv(const char **v, const char *kernel, const char *a,
                              const char *b)
{
    size_t n = 0;

    v[n++] = "qemu-system-arm";
    v[n++] = "-machine";
    v[n++] = "mps2-an385";
    v[n++] = "-cpu";
    v[n++] = "cortex-m3";
    v[n++] = "-m";
    v[n++] = "16M";
    v[n++] = "-nographic";
    v[n++] = "-monitor";
    v[n++] = "none";
    v[n++] = "-kernel";
    v[n++] = kernel;
    if (a) {
        v[n++] = a;
    }
    if (b) {
        v[n++] = b;
    }
    v[n] = NULL;
    return v;
}

/* Live processes whose argv is exactly "sleep DURATION" (from /proc; a
 * zombie has an empty command line). */
static int sleeps(const char *duration)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    char want[64];
    int count = 0;

    CHECK(d != NULL);
    snprintf(want, sizeof(want), "sleep %s", duration);
    while ((e = readdir(d))) {
        char path[300];
        char cmd[256];
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
        if (n <= 0) {
            continue;
        }
        cmd[n] = '\0';
        if (cmd[n - 1] == '\0') {
            n--;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (cmd[i] == '\0') {
                cmd[i] = ' ';
            }
        }
        if (strcmp(cmd, want) == 0) {
            count++;
        }
    }
    closedir(d);
    return count;
}

static int wait_sleeps(const char *duration, int want)
{
    int n = sleeps(duration);

    for (int i = 0; i < 100 && n != want; i++) {
        poll(NULL, 0, 50);
        n = sleeps(duration);
    }
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *s;
    long n;

    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = malloc((size_t)n + 1);
    CHECK(s != NULL);
    CHECK(fread(s, 1, (size_t)n, f) == (size_t)n);
    s[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return s;
}

/* Start a migration to "exec:PREFIXsleep DURATION": QEMU runs sh and
 * sleep. */
static void start_child_as(qhil_machine *m, const char *prefix,
                           const char *duration)
{
    char uri[128];
    json_t *args;

    snprintf(uri, sizeof(uri), "exec:%ssleep %s", prefix, duration);
    args = json_pack("{ss}", "uri", uri);
    CHECK_RC(qhil_qmp_execute(qhil_machine_qmp(m), "migrate", args, NULL,
                              later(), &err),
             QHIL_EOK);
    json_decref(args);
    CHECK_EQ(wait_sleeps(duration, 1), 1);
}

static void start_child(qhil_machine *m, const char *duration)
{
    start_child_as(m, "", duration);
}

static void test_children_end(const char *kernel)
{
    char *dir = it_run_dir("qhil-machine");
    const char *v[16];
    qhil_machine_opts opts = {.argv = qemu_argv(v, kernel, NULL, NULL),
                              .run_dir = dir};
    qhil_machine *m = NULL;
    char cmd[64];
    char path[64];
    size_t len;
    char *s;
    int fd;

    /* Shutdown: quit, and the child is gone when it returns. */
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)qhil_machine_pid(m));
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(read(fd, cmd, sizeof(cmd) - 1) > 0);
    close(fd);
    cmd[sizeof(cmd) - 1] = '\0';
    CHECK(strstr(cmd, "qemu-system-arm") != NULL);
    CHECK_EQ(getpgid(qhil_machine_pid(m)), qhil_machine_pid(m));
    s = slurp(qhil_machine_console_log(m), &len);
    free(s);
    start_child(m, "303.5");
    CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
    CHECK_EQ(qhil_machine_end_how(m), QHIL_END_QUIT);
    CHECK_EQ(sleeps("303.5"), 0);
    CHECK_RC(qhil_machine_log_check(m, &err), QHIL_EOK);
    qhil_machine_free(m);
    it_remove_run_dir(dir);
    free(dir);

    /* Free without shutdown: SIGKILL to the whole group. */
    dir = it_run_dir("qhil-machine");
    opts.run_dir = dir;
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    start_child(m, "303.6");
    qhil_machine_free(m);
    CHECK_EQ(sleeps("303.6"), 0);
    it_remove_run_dir(dir);
    free(dir);

    /* QEMU killed from outside: its own status, its child gone too. */
    dir = it_run_dir("qhil-machine");
    opts.run_dir = dir;
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    start_child(m, "303.7");
    CHECK(kill(qhil_machine_pid(m), SIGKILL) == 0);
    CHECK_RC(qhil_machine_wait_exit(m, later(), &err), QHIL_EOK);
    CHECK(WIFSIGNALED(qhil_machine_status(m)));
    CHECK_EQ(WTERMSIG(qhil_machine_status(m)), SIGKILL);
    CHECK_EQ(sleeps("303.7"), 0);
    CHECK_RC(qhil_machine_check(m, &err), QHIL_EEXITED);
    CHECK(strstr(err.message, "killed by signal 9") != NULL);
    qhil_machine_free(m);
    it_remove_run_dir(dir);
    free(dir);
    /* A child that left QEMU's session, ignores SIGTERM and holds
     * QEMU's stderr (the qemu.log pipe): shutdown still ends it, and
     * does not wait on the pipe. */
    dir = it_run_dir("qhil-machine");
    opts.run_dir = dir;
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    start_child_as(m, "trap '' TERM; exec setsid ", "303.8");
    {
        int64_t start = qhil_now();

        CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
        CHECK(qhil_now() - start < 3 * QHIL_SEC);
    }
    CHECK_EQ(sleeps("303.8"), 0);
    qhil_machine_free(m);
    it_remove_run_dir(dir);
    free(dir);
    printf("machine_live: QEMU's children end on shutdown, free and its "
           "death\n");
}

static void test_deadline_fifo(void)
{
    char *dir = it_run_dir("qhil-machine");
    char *fifo_dir = it_run_dir("qhil-machine-fifo");
    char fifo[512];
    const char *v[16];
    qhil_machine_opts opts = {.run_dir = dir};
    qhil_machine *m = NULL;
    int64_t start;
    int64_t took;
    int rc;

    snprintf(fifo, sizeof(fifo), "%s/image.elf", fifo_dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    opts.argv = qemu_argv(v, fifo, NULL, NULL);
    start = qhil_now();
    opts.deadline = start + QHIL_SEC;
    rc = qhil_machine_launch(&opts, &m, &err);
    took = qhil_now() - start;
    CHECK(rc < 0);
    CHECK(m == NULL);
    CHECK(took >= QHIL_SEC);
    CHECK(took < 2500 * QHIL_MSEC);
    printf("machine_live: FIFO image, deadline 1 s: launch failed after "
           "%lld ms: %s\n",
           (long long)(took / QHIL_MSEC), err.message);
    unlink(fifo);
    rmdir(fifo_dir);
    free(fifo_dir);
    it_remove_run_dir(dir);
    free(dir);
}

/* A launch blocked the same way ends at once when its cancel fd becomes
 * readable (a signal in qhil run), with QHIL_ECANCELED, and leaves no
 * QEMU. */
static void test_cancel_launch(void)
{
    char *dir = it_run_dir("qhil-machine");
    char *fifo_dir = it_run_dir("qhil-machine-fifo");
    char fifo[512];
    const char *v[16];
    qhil_machine_opts opts = {.run_dir = dir};
    qhil_machine *m = NULL;
    int64_t start;
    int64_t took;
    int pipefd[2];
    pid_t writer;
    int rc;

    snprintf(fifo, sizeof(fifo), "%s/image.elf", fifo_dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(pipe(pipefd) == 0);
    writer = fork();
    CHECK(writer >= 0);
    if (writer == 0) {
        /* The "signal handler": 300 ms into the launch. */
        usleep(300 * 1000);
        if (write(pipefd[1], "x", 1) != 1) {
            _exit(1);
        }
        _exit(0);
    }
    opts.argv = qemu_argv(v, fifo, NULL, NULL);
    opts.has_cancel = true;
    opts.cancel_fd = pipefd[0];
    start = qhil_now();
    opts.deadline = start + 10 * QHIL_SEC;
    rc = qhil_machine_launch(&opts, &m, &err);
    took = qhil_now() - start;
    CHECK(rc == QHIL_ECANCELED);
    CHECK(m == NULL);
    CHECK(took < 2 * QHIL_SEC);
    CHECK(waitpid(writer, NULL, 0) == writer);
    printf("machine_live: launch canceled after %lld ms: %s\n",
           (long long)(took / QHIL_MSEC), err.message);
    close(pipefd[0]);
    close(pipefd[1]);
    unlink(fifo);
    rmdir(fifo_dir);
    free(fifo_dir);
    it_remove_run_dir(dir);
    free(dir);
}

static void test_log_cap(const char *kernel)
{
    char *dir = it_run_dir("qhil-machine");
    const char *v[16];
    qhil_machine_opts opts = {
        .argv = qemu_argv(v, kernel, "-d", "in_asm,op,out_asm"),
        .run_dir = dir,
        .log_limit = 16384,
    };
    qhil_machine *m = NULL;
    struct stat st;
    char *tail;
    char *s;
    size_t len;
    int rc = QHIL_EOK;

    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    for (int i = 0; i < 200 && rc == QHIL_EOK; i++) {
        rc = qhil_machine_log_check(m, &err);
        poll(NULL, 0, 20);
    }
    CHECK_RC(rc, QHIL_ELIMIT);
    CHECK(strstr(err.message, "QEMU output over 16384 bytes") != NULL);
    /* While it runs, only the head is on disk. */
    CHECK(stat(qhil_machine_qemu_log(m), &st) == 0);
    CHECK(st.st_size <= 16384);
    tail = qhil_machine_stderr_tail(m, 3);
    CHECK(tail && *tail);
    free(tail);
    CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
    CHECK_RC(qhil_machine_log_check(m, &err), QHIL_ELIMIT);
    s = slurp(qhil_machine_qemu_log(m), &len);
    CHECK(len <= 16384 + 100);
    CHECK(strstr(s, "bytes of QEMU output dropped here]\n") != NULL);
    CHECK(strstr(s, "IN:") != NULL); /* the head: -d in_asm's first block */
    tail = qhil_machine_stderr_tail(m, 2);
    CHECK(tail && *tail);
    printf("machine_live: QEMU output capped at 16384 bytes: qemu.log %zu "
           "bytes, tail \"%.40s\"\n",
           len, tail);
    free(tail);
    free(s);
    qhil_machine_free(m);
    it_remove_run_dir(dir);
    free(dir);
}

/* With opts.envp, QEMU's environment is that and nothing else. */
static void test_envp(const char *kernel)
{
    char *dir = it_run_dir("qhil-machine");
    const char *v[16];
    const char *const envp[] = {"QHIL_MARK=envp-only", "LC_ALL=C", NULL};
    qhil_machine_opts opts = {.argv = qemu_argv(v, kernel, NULL, NULL),
                              .run_dir = dir,
                              .envp = envp};
    static const char want[] = "QHIL_MARK=envp-only\0LC_ALL=C\0";
    qhil_machine *m = NULL;
    char path[64];
    char *s;
    size_t len;

    CHECK(setenv("QHIL_LEAK", "from-the-harness", 1) == 0);
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    snprintf(path, sizeof(path), "/proc/%d/environ",
             (int)qhil_machine_pid(m));
    {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        CHECK(fd >= 0);
        s = calloc(1, 65536);
        CHECK(s != NULL);
        len = 0;
        while ((n = read(fd, s + len, 65535 - len)) > 0) {
            len += (size_t)n;
        }
        close(fd);
    }
    CHECK_EQ((int)len, (int)sizeof(want) - 1);
    CHECK(s && memcmp(s, want, sizeof(want) - 1) == 0);
    free(s);
    CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
    qhil_machine_free(m);
    unsetenv("QHIL_LEAK");
    printf("machine_live: QEMU's environment is exactly opts.envp\n");
    it_remove_run_dir(dir);
    free(dir);
}

/* A file already in the run folder: launch refuses and touches nothing. */
static void test_planted(const char *kernel, const char *name, bool link)
{
    char *dir = it_run_dir("qhil-machine");
    char *outside = it_run_dir("qhil-machine-outside");
    char target[512];
    char planted[512];
    const char *v[16];
    qhil_machine_opts opts = {.argv = qemu_argv(v, kernel, NULL, NULL),
                              .run_dir = dir};
    qhil_machine *m = NULL;
    char *s;
    size_t len;
    FILE *f;

    snprintf(target, sizeof(target), "%s/precious", outside);
    snprintf(planted, sizeof(planted), "%s/%s", dir, name);
    f = fopen(link ? target : planted, "w");
    CHECK(f != NULL);
    fputs("precious\n", f);
    fclose(f);
    if (link) {
        CHECK(symlink(target, planted) == 0);
    }
    CHECK(qhil_machine_launch(&opts, &m, &err) < 0);
    CHECK(m == NULL);
    CHECK(strstr(err.message, planted) != NULL);
    CHECK(strstr(err.message, "fresh folder") != NULL);
    s = slurp(link ? target : planted, &len);
    CHECK_STR(s, "precious\n");
    free(s);
    unlink(planted);
    unlink(target);
    rmdir(outside);
    free(outside);
    it_remove_run_dir(dir);
    free(dir);
}

int main(void)
{
    char *kernel;
    static const char *const names[] = {"qemu.log", "qemu.pid", "console.log"};

    qhil_error_init(&err);
    kernel = it_src_path("firmware/build/mps2-an385/hello.elf");
    test_children_end(kernel);
    test_deadline_fifo();
    test_cancel_launch();
    test_log_cap(kernel);
    test_envp(kernel);
    for (size_t i = 0; i < 3; i++) {
        test_planted(kernel, names[i], true);
        test_planted(kernel, names[i], false);
    }
    printf("machine_live: symlinks and files planted in the run folder "
           "refused\n");
    free(kernel);
    qhil_error_release(&err);
    printf("machine_live: %d checks passed\n", it_checks());
    return 0;
}
