/*
 * benchutil.h - what the benchmarks share: the medians they print, the
 * process's own CPU clock, QEMU's argv from a job (qhil/job.h), and the
 * temporary directory that holds QEMU's logs and sockets.
 */
#ifndef QHIL_BENCH_BENCHUTIL_H
#define QHIL_BENCH_BENCHUTIL_H

#include <stdint.h>

#include <qhil/qhil.h>

/* CPU time of this process (user + system, all threads), ns. */
int64_t bench_cpu_now(void);

/* Median of v[0, n), n >= 1; sorts v in place. */
int64_t bench_median(int64_t *v, int n);

/* Median of v[0, rounds), each the ns of one run of n operations, as us
 * per operation; sorts v in place. */
double bench_per_op_us(int64_t *v, int rounds, int n);

/*
 * QEMU's argv for the board template name found in board_dirs, built for
 * values by qhil_job_new (binary resolved in qemu_dirs, then PATH):
 * *argv, caller frees with qhil_argv_free.  Returns 0, or a negative
 * QHIL_E... code with err set.  Reads files; does not block otherwise.
 */
int bench_job_argv(const char *const *board_dirs,
                   const char *const *qemu_dirs, const char *name,
                   const qhil_board_job *values, char ***argv,
                   qhil_error *err);

/*
 * Make an empty directory NAME.XXXXXX under TMPDIR (or /tmp).  Returns
 * its path, caller frees; or NULL after printing "PROG: ..." on stderr.
 */
char *bench_make_dir(const char *prog, const char *name);

/* Remove dir and all it holds (NULL is fine). */
void bench_remove_dir(const char *dir);

#endif /* QHIL_BENCH_BENCHUTIL_H */
