/*
 * rawclient.c - the raw client of rawclient.h: the floor both bench_run
 * and bench_raw measure qhil against.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rawclient.h"

/* One test's whole budget, ms. */
#define RAW_DEADLINE_MS 10000

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

int raw_test(char *const *argv, raw_stream *qmp, raw_stream *con)
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
