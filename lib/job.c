/*
 * job.c - one job's QEMU command line, built in one place (job.h).
 *
 * qhil_job_new: find DEVICE_TYPE.yaml in the board dirs -> load it ->
 *               resolve its binary (qemu dirs, then PATH) -> build the
 *               labelled argv from the template and the job's values
 *               (board.c checks the values) -> argv[0] = the resolved
 *               binary -> append the harness wiring the machine adds,
 *               labelled too.
 *
 * The whole command line is one array (args, kinds, sources) of nargs
 * entries; the first argc of them are what QEMU is given by the caller,
 * the rest are qhil_machine_wiring()'s, which qhil_machine_launch adds.
 * args[argc] is NULL so that args doubles as the caller's argv: the
 * harness entries live in a separate array after it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/job.h>
#include <qhil/machine.h>

#include "boardargs.h"
#include "internal.h"
#include "proc.h"

struct qhil_job {
    qhil_board *board;
    char **argv;    /* NULL-terminated, argc entries, argv[0] resolved */
    int *kinds;     /* argc entries */
    char **sources; /* NULL-terminated, argc entries */
    size_t argc;
    const char *const *wiring; /* static, n_wiring entries */
    size_t n_wiring;
};

void qhil_job_free(qhil_job *job)
{
    if (!job) {
        return;
    }
    qhil_board_free(job->board);
    qhil_argv_free(job->argv);
    qhil_argv_free(job->sources);
    free(job->kinds);
    free(job);
}

/* The QEMU binary: in one of dirs first, else in PATH.  *path malloc'ed. */
static int find_qemu(const char *name, const char *const *dirs, char **path)
{
    size_t i;

    for (i = 0; dirs && dirs[i] && !strchr(name, '/'); i++) {
        char *cand = NULL;

        if (asprintf(&cand, "%s/%s", dirs[i], name) < 0) {
            return QHIL_ENOMEM;
        }
        if (access(cand, X_OK) == 0) {
            *path = cand;
            return QHIL_EOK;
        }
        free(cand);
    }
    return qhil_proc_find(name, path);
}

int qhil_job_new(const qhil_job_opts *opts, qhil_job **out, qhil_error *err)
{
    static const char *const no_dirs[] = {NULL};
    const char *origin = opts->origin;
    qhil_job *job = NULL;
    char *board_path = NULL;
    char *exe = NULL;
    const char *bin;
    int rc;

    *out = NULL;
    job = calloc(1, sizeof(*job));
    if (!job) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = qhil_board_find(opts->device_type,
                         opts->board_dirs ? opts->board_dirs : no_dirs,
                         &board_path, err);
    if (rc < 0) {
        if (origin) {
            qhil_error_prefix(err, "%s: device_type", origin);
        }
        goto cleanup;
    }
    rc = qhil_board_load(board_path, &job->board, err);
    if (rc < 0) {
        goto cleanup;
    }
    bin = qhil_board_binary(job->board);
    rc = find_qemu(bin, opts->qemu_dirs, &exe);
    if (rc < 0) {
        rc = qhil_error_set(err, QHIL_ENOENT,
                            "%s%s%s%s%sQEMU binary '%s' (named in %s) is not "
                            "installed or not in PATH%s",
                            origin ? origin : "", origin ? ": " : "",
                            origin ? "device_type " : "",
                            origin ? opts->device_type : "", origin ? ": " : "",
                            bin, board_path,
                            strncmp(bin, "qhil-", 5) == 0
                                ? "; it is qhil's own QEMU build: run "
                                  "scripts/qemu-build.sh"
                                : "");
        goto cleanup;
    }
    rc = qhil_board_argv_labelled(job->board, opts->values, &job->argv,
                                  &job->kinds, &job->sources, err);
    if (rc < 0) {
        goto cleanup;
    }
    /* Run exactly the binary found above. */
    free(job->argv[0]);
    job->argv[0] = exe;
    exe = NULL;
    while (job->argv[job->argc]) {
        job->argc++;
    }
    job->wiring = qhil_machine_wiring(opts->qtest, opts->qtest_accel);
    while (job->wiring[job->n_wiring]) {
        job->n_wiring++;
    }
    *out = job;
    job = NULL;

cleanup:
    free(exe);
    free(board_path);
    qhil_job_free(job);
    return rc;
}

const char *const *qhil_job_argv(const qhil_job *job)
{
    return (const char *const *)job->argv;
}

int qhil_job_argv_dup(const qhil_job *job, char ***out, qhil_error *err)
{
    char **v = calloc(job->argc + 1, sizeof(*v));
    size_t i;

    *out = NULL;
    if (!v) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < job->argc; i++) {
        v[i] = strdup(job->argv[i]);
        if (!v[i]) {
            qhil_argv_free(v);
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    *out = v;
    return QHIL_EOK;
}

size_t qhil_job_nargs(const qhil_job *job)
{
    return job->argc + job->n_wiring;
}

const char *qhil_job_arg(const qhil_job *job, size_t i)
{
    if (i < job->argc) {
        return job->argv[i];
    }
    i -= job->argc;
    return i < job->n_wiring ? job->wiring[i] : NULL;
}

int qhil_job_arg_kind(const qhil_job *job, size_t i)
{
    if (i < job->argc) {
        return job->kinds[i];
    }
    return i - job->argc < job->n_wiring ? QHIL_ARG_HARNESS : -1;
}

const char *qhil_job_arg_source(const qhil_job *job, size_t i)
{
    if (i < job->argc) {
        return job->sources[i];
    }
    return i - job->argc < job->n_wiring ? "qhil" : NULL;
}

const char *qhil_arg_kind_name(int kind)
{
    switch (kind) {
    case QHIL_ARG_MANDATORY:
        return "mandatory";
    case QHIL_ARG_SUBSTITUTED:
        return "substituted";
    case QHIL_ARG_SPECIFIC:
        return "specific";
    case QHIL_ARG_HARNESS:
        return "harness";
    default:
        return "?";
    }
}

const qhil_board *qhil_job_board(const qhil_job *job)
{
    return job->board;
}

int qhil_job_from_suite(const qhil_suite *suite,
                        const char *const *board_dirs,
                        const char *const *qemu_dirs, qhil_job **out,
                        qhil_error *err)
{
    qhil_board_value *images = NULL;
    char **origins = NULL;
    char *origin = NULL;
    char *extra_origin = NULL;
    char *cpu_origin = NULL;
    size_t i;
    int rc;

    *out = NULL;
    images = calloc(suite->n_images + 1, sizeof(*images));
    origins = calloc(suite->n_images + 1, sizeof(*origins));
    if (!images || !origins ||
        asprintf(&origin, "%s:%d", suite->path,
                 suite->device_type_line) < 0) {
        origin = NULL;
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < suite->n_images; i++) {
        if (asprintf(&origins[i], "%s:%d", suite->path,
                     suite->images[i].line) < 0) {
            origins[i] = NULL;
        }
        images[i].name = suite->images[i].name;
        images[i].value = suite->images[i].path;
        images[i].origin = origins[i];
    }
    if (asprintf(&extra_origin, "%s:%d", suite->path,
                 suite->extra_options_line) < 0) {
        extra_origin = NULL;
    }
    if (asprintf(&cpu_origin, "%s:%d", suite->path,
                 suite->cpu_line) < 0) {
        cpu_origin = NULL;
    }
    {
        qhil_board_job values = {
            .images = images,
            .n_images = suite->n_images,
            .cpu = suite->cpu,
            .cpu_origin = cpu_origin,
            .extra_options = (const char *const *)suite->extra_options,
            .n_extra_options = suite->n_extra_options,
            .extra_origin = extra_origin,
        };
        qhil_job_opts jo = {
            .device_type = suite->device_type,
            .origin = origin,
            .board_dirs = board_dirs,
            .qemu_dirs = qemu_dirs,
            .values = &values,
            .qtest = suite->qtest != QHIL_QTEST_OFF,
            .qtest_accel = suite->qtest == QHIL_QTEST_ACCEL,
        };

        rc = qhil_job_new(&jo, out, err);
    }

cleanup:
    if (origins) {
        for (i = 0; i < suite->n_images; i++) {
            free(origins[i]);
        }
    }
    free(origins);
    free(images);
    free(origin);
    free(extra_origin);
    free(cpu_origin);
    return rc;
}
