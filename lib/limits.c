/*
 * limits.c - the run's caps: read from the site, lowered by options,
 * checked before anything runs, and measured while the run goes on.
 *
 * Where each cap is enforced:
 *
 *   jobs        runner.c: a larger -j is cut to it, with a note
 *   memory      before the run: the command line's -m (guest RAM) over it
 *               is refused here (qhil_limits_check); while QEMU runs:
 *               proc.c's guard reads QEMU's resident size every
 *               QHIL_PROC_MEM_TICK and kills its group over it, and the
 *               runner turns that into the test's failure
 *   console,    before the run: a test's own limit over the cap is
 *   qemu_log    refused here; a test without one gets the cap when the
 *               cap is below the default (qhil_limits_console)
 *   run_folder  runner.c: the bytes under each finished test's folder
 *               (qhil_tree_bytes, as du -sb counts them) are added up; a
 *               test starts only while the sum is under the cap, and
 *               each of its two logs capped at half of what is left
 *
 * A site's value is the lab's and a run's option can only lower it: the
 * smaller of the two wins, whoever runs qhil and however the job is
 * trusted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qhil/limits.h>
#include <qhil/site.h>

#include "internal.h"
#include "logcap.h"
#include "policy_impl.h"
#include "runlimits.h"

static const char *const limit_keys[] = {
    "jobs", "memory", "console", "qemu_log", "run_folder", NULL,
};

/* The largest -j a site may allow: more than enough for any host. */
#define LIMITS_JOBS_MAX 4096

/* How deep qhil_tree_bytes looks: a test folder is flat in practice. */
#define TREE_DEPTH_MAX 16

static const struct {
    const char *suffix;
    unsigned shift;
} size_units[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}};

/* 0, or -1 when text is not a size in range. */
static int size_parse(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;
    size_t i;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno) {
        return -1;
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(size_units); i++) {
        if (strcmp(end, size_units[i].suffix) == 0) {
            if (v > (QHIL_LIMIT_MAX >> size_units[i].shift)) {
                return -1;
            }
            v <<= size_units[i].shift;
            if (v < QHIL_LIMIT_MIN) {
                return -1;
            }
            *out = v;
            return 0;
        }
    }
    return -1;
}

int qhil_size_parse(const char *text, const char *what, uint64_t *out,
                    qhil_error *err)
{
    if (text && size_parse(text, out) == 0) {
        return QHIL_EOK;
    }
    return qhil_error_set(err, QHIL_EINVAL,
                          "%s: expected a size from 4KiB to 64GiB such as "
                          "64MiB (units: B, KiB, MiB, GiB), got '%s'",
                          what, text ? text : "");
}

const char *qhil_size_format(uint64_t bytes, char *buf, size_t size)
{
    if (bytes >= ((uint64_t)1 << 30) && !(bytes & (((uint64_t)1 << 30) - 1))) {
        snprintf(buf, size, "%llu GiB", (unsigned long long)(bytes >> 30));
    } else if (bytes >= ((uint64_t)1 << 20) &&
               !(bytes & (((uint64_t)1 << 20) - 1))) {
        snprintf(buf, size, "%llu MiB", (unsigned long long)(bytes >> 20));
    } else if (bytes >= 1024 && !(bytes & 1023)) {
        snprintf(buf, size, "%llu KiB", (unsigned long long)(bytes >> 10));
    } else {
        snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
    }
    return buf;
}

int qhil_yaml_size(qhil_yaml *y, const yaml_node_t *node, const char *field,
                   uint64_t *out, qhil_error *err)
{
    if (!node || node->type != YAML_SCALAR_NODE || qhil_yaml_is_null(node)) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "expected a size such as 64MiB or 512KiB, "
                              "got %s",
                              qhil_yaml_kind(node));
    }
    if (size_parse(qhil_yaml_scalar(node, NULL), out) == 0) {
        return QHIL_EOK;
    }
    return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                          "expected a size from 4KiB to 64GiB such as "
                          "64MiB (units: B, KiB, MiB, GiB), got '%s'",
                          qhil_yaml_scalar(node, NULL));
}

void qhil_limits_origins_release(qhil_limits_origins *o)
{
    free(o->jobs);
    free(o->memory);
    free(o->console);
    free(o->qemu_log);
    free(o->run_folder);
    memset(o, 0, sizeof(*o));
}

static int load_jobs(qhil_yaml *y, const yaml_node_t *node, size_t *out,
                     qhil_error *err)
{
    const char *s = node && node->type == YAML_SCALAR_NODE
                        ? qhil_yaml_scalar(node, NULL)
                        : NULL;
    char *end = NULL;
    unsigned long v = 0;

    if (s && *s >= '1' && *s <= '9') {
        errno = 0;
        v = strtoul(s, &end, 10);
    }
    if (!end || *end || errno || v < 1 || v > LIMITS_JOBS_MAX) {
        return qhil_yaml_fail(y, node, "limits.jobs", err, QHIL_EINVAL,
                              "expected a number of QEMUs at once from 1 "
                              "to %d, got %s",
                              LIMITS_JOBS_MAX, s ? s : qhil_yaml_kind(node));
    }
    *out = (size_t)v;
    return QHIL_EOK;
}

int qhil_limits_load(qhil_yaml *y, const yaml_node_t *node, const char *path,
                     qhil_limits *out, qhil_limits_origins *o, qhil_error *err)
{
    static const char *const fields[] = {
        "limits.memory",
        "limits.console",
        "limits.qemu_log",
        "limits.run_folder",
    };
    uint64_t *sizes[] = {&out->memory, &out->console, &out->qemu_log,
                         &out->run_folder};
    char **origins[] = {&o->memory, &o->console, &o->qemu_log, &o->run_folder};
    const yaml_node_t *v;
    size_t i;
    int rc;

    rc = qhil_yaml_want_mapping(y, node, "limits",
                                "a mapping of jobs, memory, console, "
                                "qemu_log and run_folder",
                                err);
    if (rc == 0) {
        rc = qhil_yaml_check_keys(y, node, "limits", limit_keys, err);
    }
    if (rc < 0) {
        return rc;
    }
    if ((v = qhil_yaml_get(y, node, "jobs"))) {
        rc = load_jobs(y, v, &out->jobs, err);
        if (rc < 0) {
            return rc;
        }
        if (asprintf(&o->jobs, "%s:%d", path, qhil_yaml_line(v)) < 0) {
            o->jobs = NULL;
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        out->jobs_from = o->jobs;
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(fields); i++) {
        /* fields[i] + 7: the key after "limits." */
        v = qhil_yaml_get(y, node, fields[i] + 7);
        if (!v) {
            continue;
        }
        rc = qhil_yaml_size(y, v, fields[i], sizes[i], err);
        if (rc < 0) {
            return rc;
        }
        if (asprintf(origins[i], "%s:%d", path, qhil_yaml_line(v)) < 0) {
            *origins[i] = NULL;
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    out->memory_from = o->memory;
    out->console_from = o->console;
    out->qemu_log_from = o->qemu_log;
    out->run_folder_from = o->run_folder;
    return QHIL_EOK;
}

/* The smaller of a cap and an option, 0 being "none". */
static void lower(uint64_t *cap, const char **from, uint64_t opt,
                  const char *opt_name)
{
    if (opt && (!*cap || opt < *cap)) {
        *cap = opt;
        *from = opt_name;
    }
}

void qhil_limits_of_run(const qhil_run_opts *opts, qhil_limits *out)
{
    const qhil_limits *site = opts->site ? qhil_site_limits(opts->site) : NULL;

    memset(out, 0, sizeof(*out));
    if (site) {
        *out = *site;
    }
    lower(&out->memory, &out->memory_from, opts->max_memory, "--max-memory");
    lower(&out->run_folder, &out->run_folder_from, opts->max_run_folder,
          "--max-run-folder");
}

static uint64_t capped(uint64_t own, uint64_t cap)
{
    uint64_t v = own ? own : QHIL_LOGCAP_DEFAULT;

    return cap && cap < v ? cap : v;
}

uint64_t qhil_limits_console(const qhil_limits *l, const qhil_test *t)
{
    return capped(t->console_limit, l->console);
}

uint64_t qhil_limits_qemu_log(const qhil_limits *l, const qhil_test *t)
{
    return capped(t->qemu_log_limit, l->qemu_log);
}

static int over_cap(const qhil_suite *suite, const qhil_test *t,
                    const char *key, uint64_t own, uint64_t cap,
                    const char *from, qhil_error *err)
{
    char a[32];
    char b[32];

    return qhil_error_set(
        err, QHIL_EINVAL,
        "%s:%d: test '%s': limits.%s: %s is over the "
        "site's cap of %s (%s)",
        suite->path, t->line, t->name, key, qhil_size_format(own, a, sizeof(a)),
        qhil_size_format(cap, b, sizeof(b)), from ? from : "the site");
}

/* The guest RAM the command line gives QEMU, in MiB: "-m 16M",
 * "-m size=16M,slots=2,maxmem=1G"; 0 when there is no -m. */
static int argv_memory(const qhil_job *job, unsigned long long *mib, size_t *at)
{
    size_t n = qhil_job_nargs(job);
    size_t i;

    *mib = 0;
    for (i = 0; i + 1 < n; i++) {
        const char *v = qhil_job_arg(job, i + 1);
        const char *size = strstr(v, "size=");
        const char *why = NULL;
        unsigned long long one = 0;
        char *copy;
        char *comma;
        int rc;

        /* QEMU reads "--m" as "-m" too. */
        if (strcmp(qhil_job_arg(job, i), "-m") != 0 &&
            strcmp(qhil_job_arg(job, i), "--m") != 0) {
            continue;
        }
        /* size= as a sub-option, else the leading bare value. */
        if (size && (size == v || size[-1] == ',')) {
            v = size + 5;
        }
        copy = strdup(v);
        if (!copy) {
            return QHIL_ENOMEM;
        }
        comma = strchr(copy, ',');
        if (comma) {
            *comma = '\0';
        }
        /* One QEMU cannot read is left to QEMU to refuse; the last
         * readable one counts. */
        rc = qhil_policy_parse_size(copy, &one, &why);
        free(copy);
        if (rc == 0) {
            *mib = one;
            *at = i + 1;
        }
    }
    return QHIL_EOK;
}

int qhil_limits_check(const qhil_limits *l, const qhil_suite *suite,
                      const qhil_job *job, qhil_error *err)
{
    unsigned long long mib = 0;
    size_t at = 0;
    size_t i;

    for (i = 0; i < suite->n_tests; i++) {
        const qhil_test *t = &suite->tests[i];

        if (l->console && t->console_limit > l->console) {
            return over_cap(suite, t, "console", t->console_limit, l->console,
                            l->console_from, err);
        }
        if (l->qemu_log && t->qemu_log_limit > l->qemu_log) {
            return over_cap(suite, t, "qemu_log", t->qemu_log_limit,
                            l->qemu_log, l->qemu_log_from, err);
        }
    }
    if (!l->memory || !job) {
        return QHIL_EOK;
    }
    if (argv_memory(job, &mib, &at) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (mib && mib > (l->memory >> 20)) {
        char cap[32];

        return qhil_error_set(err, QHIL_EINVAL,
                              "%s: -m %s gives the guest %llu MiB of RAM, "
                              "over the memory limit of %s per QEMU (%s): "
                              "QEMU would not fit",
                              qhil_job_arg_source(job, at),
                              qhil_job_arg(job, at), mib,
                              qhil_size_format(l->memory, cap, sizeof(cap)),
                              l->memory_from ? l->memory_from : "the site");
    }
    return QHIL_EOK;
}

static uint64_t tree_bytes_at(int dfd, unsigned depth)
{
    uint64_t sum = 0;
    struct dirent *de;
    DIR *d = fdopendir(dfd);

    if (!d) {
        close(dfd);
        return 0;
    }
    while ((de = readdir(d))) {
        struct stat st;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        /* du -sb's apparent sizes: files, links and folders alike. */
        sum += (uint64_t)st.st_size;
        if (S_ISDIR(st.st_mode) && depth < TREE_DEPTH_MAX) {
            int sub = openat(dirfd(d), de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (sub >= 0) {
                sum += tree_bytes_at(sub, depth + 1);
            }
        }
    }
    closedir(d);
    return sum;
}

uint64_t qhil_tree_bytes(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    uint64_t self = 0;

    if (fd < 0) {
        return 0;
    }
    if (fstat(fd, &st) == 0) {
        self = (uint64_t)st.st_size;
    }
    return self + tree_bytes_at(fd, 0);
}

int qhil_budget_init(qhil_budget *b, const qhil_limits *l, size_t n_runs,
                     const char *run_dir, qhil_error *err)
{
    memset(b, 0, sizeof(*b));
    if (!l->run_folder) {
        return QHIL_EOK;
    }
    b->cap = l->run_folder;
    b->from = l->run_folder_from;
    b->started = calloc(n_runs + 1, sizeof(*b->started));
    b->capped = calloc(n_runs + 1, sizeof(*b->capped));
    if (!b->started || !b->capped) {
        qhil_budget_release(b);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    b->written = qhil_tree_bytes(run_dir);
    return QHIL_EOK;
}

static uint64_t at_most(uint64_t v, uint64_t cap)
{
    return v < cap ? v : cap;
}

bool qhil_budget_start(qhil_budget *b, size_t i, const qhil_test **test,
                       char **why)
{
    static const qhil_limits none;
    uint64_t left;
    qhil_test *t;

    if (!b->cap) {
        return true;
    }
    /* Room for the smallest console and qemu.log caps, or none. */
    if (b->written + 2 * QHIL_LIMIT_MIN > b->cap) {
        char cap[32];

        if (asprintf(why,
                     "not run: run folder at its cap of %s (%llu bytes "
                     "written, %s)",
                     qhil_size_format(b->cap, cap, sizeof(cap)),
                     (unsigned long long)b->written,
                     b->from ? b->from : "the site") < 0) {
            *why = NULL;
        }
        return false;
    }
    /* Each log gets at most half of what is left: one test at a time
     * stays within the cap; tests at once may each take that half. */
    left = b->cap - b->written;
    t = &b->capped[i];
    if (*test != t) { /* a retry's is the copy already */
        *t = **test;
    }
    t->console_limit = at_most(qhil_limits_console(&none, t), left / 2);
    t->qemu_log_limit = at_most(qhil_limits_qemu_log(&none, t), left / 2);
    *test = t;
    b->started[i] = true;
    return true;
}

void qhil_budget_done(qhil_budget *b, size_t i, const char *dir)
{
    if (!b->cap || !b->started[i]) {
        return;
    }
    b->started[i] = false;
    if (dir) {
        b->written += qhil_tree_bytes(dir);
    }
}

void qhil_budget_release(qhil_budget *b)
{
    free(b->started);
    free(b->capped);
    memset(b, 0, sizeof(*b));
}

char *qhil_limits_note(const qhil_limits *l)
{
    char *out = NULL;
    char a[32], b[32], c[32], d[32];
    FILE *fp;
    size_t len = 0;
    const char *sep = "limits: ";

    if (!l->jobs && !l->memory && !l->console && !l->qemu_log &&
        !l->run_folder) {
        return NULL;
    }
    fp = open_memstream(&out, &len);
    if (!fp) {
        return NULL;
    }
    if (l->jobs) {
        fprintf(fp, "%s%zu QEMU%s at once (%s)", sep, l->jobs,
                l->jobs == 1 ? "" : "s",
                l->jobs_from ? l->jobs_from : "the site");
        sep = ", ";
    }
    if (l->memory) {
        fprintf(fp, "%smemory %s per QEMU (%s)", sep,
                qhil_size_format(l->memory, a, sizeof(a)),
                l->memory_from ? l->memory_from : "the site");
        sep = ", ";
    }
    if (l->console) {
        fprintf(fp, "%sconsole %s per test (%s)", sep,
                qhil_size_format(l->console, b, sizeof(b)),
                l->console_from ? l->console_from : "the site");
        sep = ", ";
    }
    if (l->qemu_log) {
        fprintf(fp, "%sqemu.log %s per test (%s)", sep,
                qhil_size_format(l->qemu_log, c, sizeof(c)),
                l->qemu_log_from ? l->qemu_log_from : "the site");
        sep = ", ";
    }
    if (l->run_folder) {
        fprintf(fp, "%srun folder %s (%s)", sep,
                qhil_size_format(l->run_folder, d, sizeof(d)),
                l->run_folder_from ? l->run_folder_from : "the site");
    }
    if (fclose(fp) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
