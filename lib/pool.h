/*
 * pool.h - the runner's tests in worker processes (pool.c); not
 * installed.
 */
#ifndef QHIL_POOL_H
#define QHIL_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <qhil/job.h>
#include <qhil/runner.h>

/* One test of the run, in the order the run has them. */
typedef struct qhil_pool_item {
    const qhil_test *test;
    qhil_test_result *result; /* its name set; filled by the pool */
    char *dir;                /* its folder, made by start(); owned by
                                 the runner */
    char *attempt_dir;        /* a retry's folder, inside dir; NULL for
                                 the first attempt; the runner's */
} qhil_pool_item;

struct worker;

typedef struct qhil_pool {
    const qhil_suite *suite;
    const qhil_job *job;
    const qhil_run_opts *opts;
    size_t tail;
    qhil_pool_item *runs;
    size_t n_runs;
    size_t jobs; /* workers at once, >= 1 */
    /*
     * In the parent, before run i would start: false when it is not to
     * run (the run was canceled, --fail-fast, its folder could not be
     * made: its result then says so).  done: run i's result is in;
     * true when it is to run again (a retry: start is called for it
     * again, before the runs not started yet).
     */
    bool (*start)(void *data, size_t i);
    bool (*done)(void *data, size_t i);
    void *data;
    struct worker *workers; /* the pool's own */
} qhil_pool;

/*
 * Run every run, up to p->jobs at a time, each in a worker process
 * (pool.c's design comment).  Returns once all have ended: QHIL_EOK, or
 * QHIL_EIO when poll itself fails (the workers are killed then).
 */
int qhil_pool_run(qhil_pool *p, qhil_error *err);

/* One test in this process: what a serial run does per test, and what a
 * worker runs (runner.c). */
void qhil_run_one(const qhil_suite *suite, const qhil_test *test,
                  const qhil_job *job, const char *test_dir,
                  size_t tail_lines, qhil_test_result *res,
                  const qhil_run_opts *opts);

#endif /* QHIL_POOL_H */
