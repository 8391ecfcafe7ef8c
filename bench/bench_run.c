/*
 * bench_run.c - what one example test costs with qhil, beside the floor.
 *
 * The test: boot the mps2-an385 example firmware, expect the banner, QMP
 * system_reset, expect the banner again, send "echo bench" and expect the
 * echo, quit QEMU.  It runs N times (default 20) through libqhil's suite
 * runner, and N times through a minimal raw client (rawclient.c) that uses
 * only libc (socketpairs, fork/exec, strstr on the bytes read), the
 * floor.  Runs alternate so drift hits both alike.  Printed: median wall
 * time per test, and CPU time this process spent per test (QEMU's own
 * CPU is the same for both and not counted), each with the ratio.
 *
 * usage: bench_run [-n N] [--firmware ELF] [--boards DIR]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "benchutil.h"
#include "rawclient.h"

/* ---- the floor: a raw client (rawclient.c) ------------------------ */

static int raw_once(char *const *argv)
{
    static raw_stream qmp;
    static raw_stream con;

    return raw_test(argv, &qmp, &con);
}

/* ---- qhil: the same test as a suite ------------------------------ */

static const char suite_text[] =
    "device_type: mps2-an385\n"
    "images:\n"
    "  kernel: %s\n"
    "timeout: 10s\n"
    "tests:\n"
    "  - name: bench\n"
    "    steps:\n"
    "      - expect: \"Hello, QEMU!\"\n"
    "      - qmp: system_reset\n"
    "      - expect: \"Hello, QEMU!\"\n"
    "      - expect: \"> \"\n"
    "      - sendline: echo bench\n"
    "      - expect: \"\\r\\nbench\\r\\n\"\n";

static int qhil_once(const qhil_suite *suite, const qhil_run_opts *ro)
{
    qhil_suite_result *res = NULL;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_run_suite(suite, ro, &res, &e);
    if (rc < 0 || res->tests[0].verdict != QHIL_PASS) {
        fprintf(stderr, "bench: qhil run failed: %s\n",
                rc < 0 ? qhil_error_message(&e, rc) : res->tests[0].message);
        rc = -1;
    }
    qhil_suite_result_free(res);
    qhil_error_release(&e);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"firmware", required_argument, NULL, 'f'},
        {"boards", required_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    const char *firmware = "firmware/build/mps2-an385/hello.elf";
    const char *boards = "boards";
    const char *board_dirs[2];
    char *out_dir = NULL;
    char *text = NULL;
    char **qemu_argv = NULL;
    qhil_suite *suite = NULL;
    qhil_site *site = NULL;
    qhil_error e;
    int64_t *raw_wall;
    int64_t *raw_cpu;
    int64_t *q_wall;
    int64_t *q_cpu;
    int n = 20;
    int failed = 0;
    int opt;
    int i;

    while ((opt = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
        if (opt == 'n') {
            n = atoi(optarg);
        } else if (opt == 'f') {
            firmware = optarg;
        } else if (opt == 'B') {
            boards = optarg;
        } else {
            fprintf(stderr, "usage: bench_run [-n N] [--firmware ELF] "
                            "[--boards DIR]\n");
            return 2;
        }
    }
    if (n < 1) {
        n = 1;
    }
    qhil_error_init(&e);
    board_dirs[0] = boards;
    board_dirs[1] = NULL;
    if (asprintf(&text, suite_text, firmware) < 0 ||
        qhil_suite_load_buffer("bench.yaml", text, strlen(text), &suite,
                               &e) < 0) {
        fprintf(stderr, "bench: %s\n", qhil_error_message(&e, QHIL_EINVAL));
        return 2;
    }
    {
        qhil_board_value img = {"kernel", suite->images[0].path, NULL};
        qhil_board_job job = {.images = &img, .n_images = 1};
        static const char *const wiring[] = {
            "-chardev", "socket,id=q,fd=3", "-mon",
            "chardev=q,mode=control", "-chardev", "socket,id=c,fd=4",
            "-serial", "chardev:c", NULL};
        size_t k = 0;
        size_t w;
        char **v;

        if (bench_job_argv(board_dirs, NULL, "mps2-an385", &job,
                           &qemu_argv, &e) < 0) {
            fprintf(stderr, "bench: %s\n", qhil_error_message(&e, -1));
            return 2;
        }
        while (qemu_argv[k]) {
            k++;
        }
        v = realloc(qemu_argv, (k + 9) * sizeof(*v));
        if (!v) {
            return 2;
        }
        qemu_argv = v;
        for (w = 0; w < 9; w++) {
            qemu_argv[k + w] = wiring[w] ? strdup(wiring[w]) : NULL;
        }
    }
    out_dir = bench_make_dir("bench", "qhil-bench");
    if (!out_dir) {
        return 2;
    }
    raw_wall = calloc((size_t)n, sizeof(int64_t));
    raw_cpu = calloc((size_t)n, sizeof(int64_t));
    q_wall = calloc((size_t)n, sizeof(int64_t));
    q_cpu = calloc((size_t)n, sizeof(int64_t));
    /* The site is configuration, read once like the suite above (a
     * qhil run reads both once); suites.sh times reading them. */
    if (qhil_site_builtin(&site, &e) < 0) {
        fprintf(stderr, "bench: %s\n", qhil_error_message(&e, -1));
        return 2;
    }
    {
        qhil_run_opts ro = {
            .board_dirs = board_dirs,
            .site = site,
            .out_dir = out_dir,
        };

        for (i = 0; i < n; i++) {
            int64_t t0 = qhil_now();
            int64_t c0 = bench_cpu_now();

            if (raw_once(qemu_argv) < 0) {
                fprintf(stderr, "bench: raw client run %d failed\n", i);
                failed = 1;
                break;
            }
            raw_wall[i] = qhil_now() - t0;
            raw_cpu[i] = bench_cpu_now() - c0;
            /* A fresh results folder per run: a machine never writes
             * into files that are already there. */
            bench_remove_dir(out_dir);
            if (mkdir(out_dir, 0700) < 0) {
                fprintf(stderr, "bench: cannot make %s: %s\n", out_dir,
                        strerror(errno));
                failed = 1;
                break;
            }
            t0 = qhil_now();
            c0 = bench_cpu_now();
            if (qhil_once(suite, &ro) < 0) {
                failed = 1;
                break;
            }
            q_wall[i] = qhil_now() - t0;
            q_cpu[i] = bench_cpu_now() - c0;
        }
    }
    if (!failed) {
        double rw = (double)bench_median(raw_wall, n) / 1e6;
        double qw = (double)bench_median(q_wall, n) / 1e6;
        double rc = (double)bench_median(raw_cpu, n) / 1e6;
        double qc = (double)bench_median(q_cpu, n) / 1e6;

        printf("example test (boot, expect, reset, expect, echo, quit), "
               "%d runs each, medians:\n", n);
        printf("  %-12s %10s %14s\n", "", "wall ms", "own CPU ms");
        printf("  %-12s %10.1f %14.2f\n", "raw client", rw, rc);
        printf("  %-12s %10.1f %14.2f\n", "qhil", qw, qc);
        printf("  qhil/raw wall ratio: %.3f (target <= 1.2)\n", qw / rw);
        printf("  qhil/raw own-CPU ratio: %.2f\n", rc > 0 ? qc / rc : 0.0);
    }
    /* Leave no logs behind. */
    bench_remove_dir(out_dir);
    free(out_dir);
    qhil_argv_free(qemu_argv);
    qhil_suite_free(suite);
    qhil_site_free(site);
    free(text);
    free(raw_wall);
    free(raw_cpu);
    free(q_wall);
    free(q_cpu);
    return failed;
}
