/*
 * runlimits.h - the run's limits (limits.c), for the site, the runner and
 * the keep pass; not installed.
 */
#ifndef QHIL_RUNLIMITS_H
#define QHIL_RUNLIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include <qhil/job.h>
#include <qhil/limits.h>
#include <qhil/runner.h>

#include "yamlutil.h"

/* Where a site's limits came from: "FILE:LINE" per key, owned. */
typedef struct qhil_limits_origins {
    char *jobs;
    char *memory;
    char *console;
    char *qemu_log;
    char *run_folder;
} qhil_limits_origins;

void qhil_limits_origins_release(qhil_limits_origins *o);

/*
 * The site file's "limits:" mapping into *out (its *_from pointing into
 * *o).  FILE:LINE:COLUMN errors for unknown keys, wrong types, sizes out
 * of range.
 */
int qhil_limits_load(qhil_yaml *y, const yaml_node_t *node, const char *path,
                     qhil_limits *out, qhil_limits_origins *o, qhil_error *err);

/* A size field of a YAML file (suite or site limits). */
int qhil_yaml_size(qhil_yaml *y, const yaml_node_t *node, const char *field,
                   uint64_t *out, qhil_error *err);

/* The run's limits: the site's (opts->site, or none for the built-in
 * site), each lowered by the run's option when that is smaller. */
void qhil_limits_of_run(const qhil_run_opts *opts, qhil_limits *out);

/*
 * Before anything runs: each test's own console and qemu_log limits
 * within the run's caps, and the QEMU command line's -m (guest RAM)
 * within the memory cap.  QHIL_EINVAL naming the suite's or the device
 * type's line and the cap's origin.  No blocking.
 */
int qhil_limits_check(const qhil_limits *l, const qhil_suite *suite,
                      const qhil_job *job, qhil_error *err);

/* A test's console and qemu.log limits after the run's caps (0 in the
 * test: the default, QHIL_LOGCAP_DEFAULT). */
uint64_t qhil_limits_console(const qhil_limits *l, const qhil_test *t);
uint64_t qhil_limits_qemu_log(const qhil_limits *l, const qhil_test *t);

/*
 * Bytes of the regular files under dir (apparent sizes, as du -sb
 * counts them), symlinks not followed, at most 16 folders deep.  0 when
 * dir cannot be opened.  Reads the folder's entries; no other blocking.
 */
uint64_t qhil_tree_bytes(const char *dir);

/*
 * The run folder's budget (limits.c's design comment): the bytes the
 * finished tests left in their folders, and what the running ones may
 * still write.  Owned by the runner, in its process only.
 */
typedef struct qhil_budget {
    uint64_t cap;      /* 0: no cap, the rest is unused */
    const char *from;  /* the cap's origin, borrowed */
    uint64_t written;  /* bytes of the finished tests' folders + job.log */
    bool *started;     /* per run: started and not done yet */
    qhil_test *capped; /* per run: the test with its caps lowered */
} qhil_budget;

/* For n_runs runs; run_dir's bytes so far (job.log) count.
 * QHIL_ENOMEM only. */
int qhil_budget_init(qhil_budget *b, const qhil_limits *l, size_t n_runs,
                     const char *run_dir, qhil_error *err);

/*
 * Before run i: false when the folder has no room left for it (*why
 * gets "not run: run folder at its cap of N (...)", malloc'ed); else
 * true and, with a cap, *test points at a copy whose console and
 * qemu_log limits are at most half of what is left each (valid until
 * release).
 */
bool qhil_budget_start(qhil_budget *b, size_t i, const qhil_test **test,
                       char **why);

/* Run i ended (dir: its folder, NULL when it had none): its bytes. */
void qhil_budget_done(qhil_budget *b, size_t i, const char *dir);

void qhil_budget_release(qhil_budget *b);

/* A line for the log naming the run's caps ("limits: memory 64 MiB per
 * QEMU (site.yaml:4), ..."), or NULL when there are none; malloc'ed. */
char *qhil_limits_note(const qhil_limits *l);

#endif /* QHIL_RUNLIMITS_H */
