/*
 * bench_raw.c - the floor of the peer benchmark: N example tests by a
 * client that does nothing but the protocol, P at a time.
 *
 * The test is bench_run's (boot, expect the banner, QMP system_reset,
 * expect the banner and the prompt, send "echo bench", expect the echo,
 * quit).  This program is libc only: it does not link libqhil, so its
 * memory and CPU are what any harness needs at least.  QEMU's command
 * line is given after "--" (bench/peers.py passes the one qhil's own run
 * recorded); the QMP and serial wiring on fds 3 and 4 is added here.
 * With -P 2 it forks two processes, each running its share of the N
 * tests one after the other, and waits for both.
 *
 * usage: bench_raw [-n N] [-P P] -- QEMU ARGS...
 * Exit status 0 when every test passed, 1 when one failed, 2 for usage.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One test's whole budget, ms. */
#define RAW_DEADLINE_MS 10000
#define RAW_BUF (1 << 16)

typedef struct raw_stream {
    int fd;
    char buf[RAW_BUF];
    size_t len;
} raw_stream;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read until needle appears after *from; *from moves past it. */
static int raw_expect(raw_stream *s, const char *needle, size_t *from,
                      int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        char *hit;
        ssize_t n;

        s->buf[s->len] = '\0';
        hit = strstr(s->buf + *from, needle);
        if (hit) {
            *from = (size_t)(hit - s->buf) + strlen(needle);
            return 0;
        }
        if (left <= 0 || s->len >= RAW_BUF - 1 ||
            poll(&pfd, 1, (int)left) <= 0) {
            return -1;
        }
        n = read(s->fd, s->buf + s->len, RAW_BUF - 1 - s->len);
        if (n <= 0) {
            return -1;
        }
        s->len += (size_t)n;
    }
}

static int raw_write(int fd, const char *text)
{
    size_t len = strlen(text);

    return write(fd, text, len) == (ssize_t)len ? 0 : -1;
}

static int raw_once(char *const *argv, raw_stream *qmp, raw_stream *con)
{
    int64_t deadline = now_ms() + RAW_DEADLINE_MS;
    size_t qpos = 0;
    size_t cpos = 0;
    int status;
    int rc = -1;
    int q[2];
    int c[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, q) < 0) {
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) < 0) {
        close(q[0]);
        close(q[1]);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        dup2(q[1], 3);
        dup2(c[1], 4);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(q[1]);
    close(c[1]);
    qmp->fd = q[0];
    qmp->len = 0;
    con->fd = c[0];
    con->len = 0;
    if (pid > 0 &&
        raw_expect(qmp, "\"QMP\"", &qpos, deadline) == 0 &&
        raw_write(qmp->fd, "{\"execute\":\"qmp_capabilities\",\"id\":1}\n")
            == 0 &&
        raw_expect(qmp, "\"id\": 1}", &qpos, deadline) == 0 &&
        raw_expect(con, "Hello, QEMU!", &cpos, deadline) == 0 &&
        raw_write(qmp->fd, "{\"execute\":\"system_reset\",\"id\":2}\n") == 0 &&
        raw_expect(qmp, "\"id\": 2}", &qpos, deadline) == 0 &&
        raw_expect(con, "Hello, QEMU!", &cpos, deadline) == 0 &&
        raw_expect(con, "> ", &cpos, deadline) == 0 &&
        raw_write(con->fd, "echo bench\n") == 0 &&
        /* Same wake-up as qhil's send: QEMU 7.2's UART needs it. */
        raw_write(qmp->fd, "{\"execute\":\"query-status\",\"id\":3}\n") == 0 &&
        raw_expect(con, "\r\nbench\r\n", &cpos, deadline) == 0 &&
        raw_write(qmp->fd, "{\"execute\":\"quit\",\"id\":4}\n") == 0) {
        rc = 0;
    } else if (pid > 0) {
        kill(pid, SIGKILL);
    }
    if (pid > 0 && (waitpid(pid, &status, 0) < 0 ||
                    (rc == 0 && !(WIFEXITED(status) &&
                                  WEXITSTATUS(status) == 0)))) {
        rc = -1;
    }
    close(qmp->fd);
    close(con->fd);
    return rc;
}

/* Run n tests one after the other; 0 when all passed. */
static int run_share(char *const *argv, int n, int who)
{
    static raw_stream qmp;
    static raw_stream con;
    int i;

    for (i = 0; i < n; i++) {
        if (raw_once(argv, &qmp, &con) < 0) {
            fprintf(stderr, "bench_raw: process %d, test %d failed\n", who,
                    i + 1);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const wiring[] = {
        "-chardev", "socket,id=q,fd=3", "-mon", "chardev=q,mode=control",
        "-chardev", "socket,id=c,fd=4", "-serial", "chardev:c"};
    const size_t n_wiring = sizeof(wiring) / sizeof(wiring[0]);
    char **qemu_argv;
    int n = 20;
    int par = 1;
    int failed = 0;
    int first;
    int k;
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            break;
        } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "-P") && i + 1 < argc) {
            par = atoi(argv[++i]);
        } else {
            break;
        }
    }
    if (i >= argc - 1 || strcmp(argv[i], "--") || n < 1 || par < 1 ||
        par > 64) {
        fprintf(stderr, "usage: bench_raw [-n N] [-P P] -- QEMU ARGS...\n");
        return 2;
    }
    first = i + 1;
    qemu_argv = calloc((size_t)(argc - first) + n_wiring + 1,
                       sizeof(*qemu_argv));
    if (!qemu_argv) {
        return 2;
    }
    for (k = 0; first + k < argc; k++) {
        qemu_argv[k] = argv[first + k];
    }
    for (i = 0; i < (int)n_wiring; i++) {
        qemu_argv[k + i] = (char *)wiring[i];
    }
    if (par == 1) {
        failed = run_share(qemu_argv, n, 0);
    } else {
        pid_t pids[64];

        for (i = 0; i < par; i++) {
            /* Shares as even as they go: the first n % par get one more. */
            int share = n / par + (i < n % par);

            pids[i] = fork();
            if (pids[i] == 0) {
                _exit(run_share(qemu_argv, share, i));
            }
            if (pids[i] < 0) {
                failed = 1;
            }
        }
        for (i = 0; i < par; i++) {
            int status;

            if (pids[i] > 0 && (waitpid(pids[i], &status, 0) < 0 ||
                                !WIFEXITED(status) ||
                                WEXITSTATUS(status) != 0)) {
                failed = 1;
            }
        }
    }
    free(qemu_argv);
    return failed;
}
