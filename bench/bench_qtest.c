/*
 * bench_qtest.c - QTest readl round trips with libqhil, beside the floor.
 *
 * One QEMU (qhil's build, RISC-V virt, qtest accelerator), one QTest
 * socket.  Each round reads banana-rom's chip id N times (default 2000):
 *   qhil sequential   qhil_qtest_readl, one request at a time
 *   qhil pipelined    qhil_qtest_submit x N, then qhil_qtest_collect x N
 *   raw sequential    write a line, read a line, on the same socket
 *   raw pipelined     write N lines at once, then read N lines
 * The raw client (libc only, a fixed buffer, strtoull on the reply) is
 * the floor.  Rounds alternate (default 7); medians are printed with the
 * ratios qhil/raw.
 *
 * usage: bench_qtest [-n N] [-r ROUNDS] [--boards DIR] [--qemu-dir DIR]
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "benchutil.h"

#define CHIP_ID_ADDR 0x4000000u
#define CHIP_ID 0xBA000001u
#define RAW_WINDOW 2000 /* raw pipelined requests in flight, at most */

/* ---- the floor ---------------------------------------------------- */

typedef struct raw {
    int fd;
    char buf[1 << 16];
    size_t len;
} raw;

/* Next reply line's value; -1 on error.  Skips "IRQ" lines. */
static int raw_line(raw *r, uint64_t *value)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        ssize_t n;

        if (nl) {
            size_t used = (size_t)(nl - r->buf) + 1;
            int irq = !strncmp(r->buf, "IRQ", 3);
            int ok = r->buf[0] == 'O' && r->buf[1] == 'K';

            *nl = '\0';
            *value = ok ? strtoull(r->buf + 3, NULL, 16) : 0;
            memmove(r->buf, r->buf + used, r->len - used);
            r->len -= used;
            if (irq) {
                continue;
            }
            return ok ? 0 : -1;
        }
        if (poll(&pfd, 1, 5000) <= 0) {
            return -1;
        }
        n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
        if (n <= 0) {
            return -1;
        }
        r->len += (size_t)n;
    }
}

/* Write all of p; -1 when the socket stays full for 5 s or fails. */
static int raw_write(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};

            if (errno != EAGAIN || poll(&pfd, 1, 5000) <= 0) {
                return -1;
            }
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int raw_sequential(raw *r, int n)
{
    static const char req[] = "readl 0x4000000\n";
    uint64_t v;
    int i;

    for (i = 0; i < n; i++) {
        if (raw_write(r->fd, req, sizeof(req) - 1) < 0 ||
            raw_line(r, &v) < 0 || v != CHIP_ID) {
            return -1;
        }
    }
    return 0;
}

static int raw_pipelined(raw *r, int n)
{
    static const char req[] = "readl 0x4000000\n";
    size_t len = (sizeof(req) - 1) * (size_t)n;
    char *all = malloc(len);
    uint64_t v;
    int i;

    if (!all) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        memcpy(all + (size_t)i * (sizeof(req) - 1), req, sizeof(req) - 1);
    }
    /* In windows of RAW_WINDOW requests, so that neither side's socket
     * buffer can fill while the other waits. */
    for (i = 0; i < n; i += RAW_WINDOW) {
        int w = n - i < RAW_WINDOW ? n - i : RAW_WINDOW;
        int j;

        if (raw_write(r->fd, all, (sizeof(req) - 1) * (size_t)w) < 0) {
            free(all);
            return -1;
        }
        for (j = 0; j < w; j++) {
            if (raw_line(r, &v) < 0 || v != CHIP_ID) {
                free(all);
                return -1;
            }
        }
    }
    free(all);
    return 0;
}

/* ---- qhil ---------------------------------------------------------- */

static int qhil_sequential(qhil_qtest *qt, int n)
{
    int64_t dl = qhil_deadline_in(60 * QHIL_SEC);
    uint32_t v;
    int i;

    for (i = 0; i < n; i++) {
        if (qhil_qtest_readl(qt, CHIP_ID_ADDR, &v, dl, NULL) < 0 ||
            v != CHIP_ID) {
            return -1;
        }
    }
    return 0;
}

static int qhil_pipelined(qhil_qtest *qt, int n)
{
    int64_t dl = qhil_deadline_in(60 * QHIL_SEC);
    char *reply = NULL;
    int i;

    for (i = 0; i < n; i++) {
        if (qhil_qtest_submit(qt, "readl 0x4000000", dl, NULL) < 0) {
            return -1;
        }
    }
    for (i = 0; i < n; i++) {
        if (qhil_qtest_collect(qt, &reply, dl, NULL) < 0 ||
            strtoull(reply, NULL, 16) != CHIP_ID) {
            free(reply);
            return -1;
        }
        free(reply);
        reply = NULL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"boards", required_argument, NULL, 'B'},
        {"qemu-dir", required_argument, NULL, 'Q'},
        {NULL, 0, NULL, 0},
    };
    const char *dirs[2] = {"boards", NULL};
    const char *qemu_dirs[2] = {"build-qemu/bin", NULL};
    char *run_dir = NULL;
    qhil_machine_opts mo = {.qtest_accel = true};
    qhil_board_job job = {.n_images = 0};
    qhil_machine *m = NULL;
    char **qargv = NULL;
    qhil_error e;
    int64_t *t[4] = {NULL, NULL, NULL, NULL};
    int n = 2000;
    int rounds = 7;
    int rc = 1;
    int opt;
    int i;
    int k;

    while ((opt = getopt_long(argc, argv, "n:r:", longopts, NULL)) != -1) {
        if (opt == 'n') {
            n = atoi(optarg);
        } else if (opt == 'r') {
            rounds = atoi(optarg);
        } else if (opt == 'B') {
            dirs[0] = optarg;
        } else if (opt == 'Q') {
            qemu_dirs[0] = optarg;
        } else {
            fprintf(stderr, "usage: bench_qtest [-n N] [-r ROUNDS] "
                            "[--boards DIR] [--qemu-dir DIR]\n");
            return 2;
        }
    }
    n = n < 1 ? 1 : n;
    rounds = rounds < 1 ? 1 : rounds;
    qhil_error_init(&e);
    if (bench_job_argv(dirs, qemu_dirs, "qhil-riscv-virt", &job, &qargv,
                       &e) < 0) {
        fprintf(stderr, "bench_qtest: %s\n", qhil_error_message(&e, -1));
        goto out;
    }
    mo.argv = (const char *const *)qargv;
    run_dir = bench_make_dir("bench_qtest", "qhil-bench-qtest");
    if (!run_dir) {
        goto out;
    }
    mo.run_dir = run_dir;
    if (qhil_machine_launch(&mo, &m, &e) < 0) {
        fprintf(stderr, "bench_qtest: %s (build it: scripts/qemu-build.sh)\n",
                qhil_error_message(&e, -1));
        goto out;
    }
    for (k = 0; k < 4; k++) {
        t[k] = calloc((size_t)rounds, sizeof(int64_t));
        if (!t[k]) {
            goto out;
        }
    }
    {
        qhil_qtest *qt = qhil_machine_qtest(m);
        static raw r;

        r.fd = qhil_qtest_fd(qt);
        for (i = 0; i < rounds; i++) {
            int64_t t0 = qhil_now();
            int bad = 0;

            bad |= qhil_sequential(qt, n);
            t[0][i] = qhil_now() - t0;
            t0 = qhil_now();
            bad |= raw_sequential(&r, n);
            t[1][i] = qhil_now() - t0;
            t0 = qhil_now();
            bad |= qhil_pipelined(qt, n);
            t[2][i] = qhil_now() - t0;
            t0 = qhil_now();
            bad |= raw_pipelined(&r, n);
            t[3][i] = qhil_now() - t0;
            if (bad) {
                fprintf(stderr, "bench_qtest: a run failed\n");
                goto out;
            }
        }
    }
    {
        double q_seq = bench_per_op_us(t[0], rounds, n);
        double r_seq = bench_per_op_us(t[1], rounds, n);
        double q_pipe = bench_per_op_us(t[2], rounds, n);
        double r_pipe = bench_per_op_us(t[3], rounds, n);

        printf("QTest readl, %d commands per run, median of %d runs, "
               "us per command:\n", n, rounds);
        printf("  %-11s %10s %10s %8s\n", "", "qhil", "raw", "ratio");
        printf("  %-11s %10.2f %10.2f %8.3f\n", "sequential", q_seq, r_seq,
               q_seq / r_seq);
        printf("  %-11s %10.2f %10.2f %8.3f\n", "pipelined", q_pipe, r_pipe,
               q_pipe / r_pipe);
        printf("  pipelining speed-up with qhil: %.1fx (target: both ratios "
               "<= 1.2)\n", q_seq / q_pipe);
    }
    qhil_machine_shutdown(m, NULL);
    rc = 0;

out:
    for (k = 0; k < 4; k++) {
        free(t[k]);
    }
    qhil_machine_free(m);
    bench_remove_dir(run_dir);
    free(run_dir);
    qhil_argv_free(qargv);
    qhil_error_release(&e);
    return rc;
}
