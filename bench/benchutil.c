/*
 * benchutil.c - what the benchmarks share (benchutil.h): medians, the
 * process's CPU clock, QEMU's argv from a job (qhil/job.h), and the
 * temporary run directory with its removal.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"

int64_t bench_cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * QHIL_SEC + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

int64_t bench_median(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_per_op_us(int64_t *v, int rounds, int n)
{
    return (double)bench_median(v, rounds) / n / 1e3;
}

int bench_job_argv(const char *const *board_dirs,
                   const char *const *qemu_dirs, const char *name,
                   const qhil_board_job *values, char ***argv,
                   qhil_error *err)
{
    qhil_job_opts jo = {
        .device_type = name,
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .values = values,
    };
    qhil_job *job = NULL;
    int rc;

    *argv = NULL;
    rc = qhil_job_new(&jo, &job, err);
    if (rc >= 0) {
        rc = qhil_job_argv_dup(job, argv, err);
    }
    qhil_job_free(job);
    return rc < 0 ? rc : QHIL_EOK;
}

char *bench_make_dir(const char *prog, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;

    if (asprintf(&dir, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name) < 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return NULL;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "%s: cannot make a run directory %s: %s\n", prog, dir,
                strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bench_remove_dir(const char *dir)
{
    if (dir) {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}
