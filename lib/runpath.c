/*
 * runpath.c - run folders, test folders, and names made safe as paths.
 *
 * Names from a suite file are input: "../../../x", "a/b", 300 bytes, or a
 * name chosen to look like another name's mapped form.  They all go
 * through qhil_runpath_name(), a reversible escape (so it is injective)
 * with a length cap (so mkdir cannot fail with ENAMETOOLONG for a name).
 * Shortening gives up reversibility, so the folders of one run are also
 * checked against each other: qhil_runpath_mkdir() keeps the components
 * it handed out and never hands out one twice (ignoring case), and
 * mkdir() without -p refuses a folder that is there already.
 *
 * Each run makes its own folder with mkdir(), which fails if the folder
 * exists: two runs started in the same millisecond by the same pid (one
 * process running suites in a loop, pid reuse) or a folder planted in
 * advance get the next suffix instead.  Everything
 * a run writes is inside folders it made, so nothing planted can be
 * followed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <qhil/runpath.h>

#include "internal.h"

/* Attempts at a free run-id or test folder name before giving up. */
#define MAX_TRIES 10000

struct qhil_runpath {
    char *out_dir;
    char *run_dir;
    char **used; /* components handed out by qhil_runpath_mkdir */
    size_t n_used;
};

static bool keep_byte(unsigned char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '_') {
        return true;
    }
    return (c == '.' || c == '-') && !first;
}

int qhil_runpath_name(const char *name, char **out)
{
    static const char hex[] = "0123456789abcdef";
    /* Room for the "~" and 16 hex digits of a shortened name. */
    const size_t keep_max = QHIL_RUNPATH_NAME_MAX - 17;
    uint64_t hash = 14695981039346656037ull; /* FNV-1a, 64 bits */
    size_t len = 0;
    size_t cut = 0;
    const char *c;
    char *s;

    *out = NULL;
    if (!*name) {
        *out = strdup("%empty");
        return *out ? QHIL_EOK : QHIL_ENOMEM;
    }
    s = malloc(strlen(name) * 3 + 1);
    if (!s) {
        return QHIL_ENOMEM;
    }
    for (c = name; *c; c++) {
        unsigned char b = (unsigned char)*c;

        if (keep_byte(b, c == name)) {
            s[len++] = (char)b;
        } else {
            s[len++] = '%';
            s[len++] = hex[b >> 4];
            s[len++] = hex[b & 15];
        }
        /* The longest prefix that fits, never half an escape. */
        if (len <= keep_max) {
            cut = len;
        }
        hash = (hash ^ b) * 1099511628211ull;
    }
    s[len] = '\0';
    if (len > QHIL_RUNPATH_NAME_MAX) {
        snprintf(s + cut, len + 1 - cut, "~%016llx",
                 (unsigned long long)hash);
    }
    *out = s;
    return QHIL_EOK;
}

/* mkdir -p; every component that exists must be a folder (or a link to
 * one: OUT is the user's own choice). */
static int make_parents(const char *path, qhil_error *err)
{
    char *copy = strdup(path);
    char *p;
    int rc = QHIL_EOK;

    if (!copy) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (p = copy + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;

            *p = '\0';
            if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
                rc = qhil_error_set(err, -errno,
                                    "cannot create the output folder "
                                    "%s: %s",
                                    copy, strerror(errno));
                break;
            }
            *p = c;
            if (!c) {
                break;
            }
        }
    }
    free(copy);
    return rc;
}

/* Point OUT/latest at run_id: a new symlink under a temporary name,
 * renamed over the old one (rename never follows it). */
static int link_latest(const qhil_runpath *rp, const char *run_id,
                       qhil_error *err)
{
    char *latest = NULL;
    char *tmp = NULL;
    struct stat st;
    int rc = QHIL_EOK;
    int i;

    if (asprintf(&latest, "%s/latest", rp->out_dir) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (lstat(latest, &st) == 0 && !S_ISLNK(st.st_mode)) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "%s is not a symlink: it is where qhil points "
                            "to the newest run; move it away",
                            latest);
        goto cleanup;
    }
    for (i = 0; i < MAX_TRIES; i++) {
        free(tmp);
        if (asprintf(&tmp, "%s/.latest-%ld-%d", rp->out_dir, (long)getpid(),
                     i) < 0) {
            tmp = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (symlink(run_id, tmp) == 0) {
            break;
        }
        if (errno != EEXIST) {
            rc = qhil_error_set(err, -errno, "cannot create %s: %s", tmp,
                                strerror(errno));
            goto cleanup;
        }
    }
    if (i == MAX_TRIES) {
        rc = qhil_error_set(err, QHIL_EBUSY, "%s: no free temporary name",
                            latest);
        goto cleanup;
    }
    if (rename(tmp, latest) < 0) {
        rc = qhil_error_set(err, -errno, "cannot replace %s: %s", latest,
                            strerror(errno));
        unlink(tmp);
    }

cleanup:
    free(tmp);
    free(latest);
    return rc;
}

int qhil_runpath_new(const char *out_dir, qhil_runpath **out,
                     qhil_error *err)
{
    qhil_runpath *rp = NULL;
    char stamp[32];
    char *run_id = NULL;
    struct timespec now;
    struct tm tm;
    int rc;
    int i;

    *out = NULL;
    if (!out_dir || !*out_dir) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "the output folder name is empty");
    }
    rc = make_parents(out_dir, err);
    if (rc < 0) {
        return rc;
    }
    rp = calloc(1, sizeof(*rp));
    if (!rp || !(rp->out_dir = strdup(out_dir))) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto fail;
    }
    /* Wall-clock time, for a name only: milliseconds keep runs one after
     * the other (a library caller's loop) from probing suffixes. */
    clock_gettime(CLOCK_REALTIME, &now);
    if (!gmtime_r(&now.tv_sec, &tm) ||
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0) {
        snprintf(stamp, sizeof(stamp), "%lld", (long long)now.tv_sec);
    }
    snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ld",
             now.tv_nsec / 1000000);
    for (i = 1; i <= MAX_TRIES; i++) {
        free(run_id);
        free(rp->run_dir);
        rp->run_dir = NULL;
        if ((i == 1 ? asprintf(&run_id, "%s-%ld", stamp, (long)getpid())
                    : asprintf(&run_id, "%s-%ld-%d", stamp, (long)getpid(),
                               i)) < 0) {
            run_id = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto fail;
        }
        if (asprintf(&rp->run_dir, "%s/%s", out_dir, run_id) < 0) {
            rp->run_dir = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto fail;
        }
        if (mkdir(rp->run_dir, 0755) == 0) {
            break;
        }
        if (errno != EEXIST) {
            rc = qhil_error_set(err, -errno, "cannot create the run folder "
                                "%s: %s", rp->run_dir, strerror(errno));
            goto fail;
        }
    }
    if (i > MAX_TRIES) {
        rc = qhil_error_set(err, QHIL_EBUSY,
                            "%s: no free run folder name after %d tries",
                            out_dir, MAX_TRIES);
        goto fail;
    }
    rc = link_latest(rp, run_id, err);
    if (rc < 0) {
        rmdir(rp->run_dir);
        goto fail;
    }
    free(run_id);
    *out = rp;
    return QHIL_EOK;

fail:
    free(run_id);
    qhil_runpath_free(rp);
    return rc;
}

const char *qhil_runpath_dir(const qhil_runpath *rp)
{
    return rp->run_dir;
}

static bool name_used(const qhil_runpath *rp, const char *comp)
{
    size_t i;

    for (i = 0; i < rp->n_used; i++) {
        if (strcasecmp(rp->used[i], comp) == 0) {
            return true;
        }
    }
    return false;
}

int qhil_runpath_mkdir(qhil_runpath *rp, const char *name, char **path,
                       qhil_error *err)
{
    char *base = NULL;
    char *comp = NULL;
    char *dir = NULL;
    char **grown;
    int rc;
    int i;

    *path = NULL;
    grown = realloc(rp->used, (rp->n_used + 1) * sizeof(*grown));
    if (!grown) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rp->used = grown;
    if (qhil_runpath_name(name, &base) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 1; i <= MAX_TRIES; i++) {
        free(comp);
        free(dir);
        dir = NULL;
        if ((i == 1 ? asprintf(&comp, "%s", base)
                    : asprintf(&comp, "%s~%d", base, i)) < 0) {
            comp = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (name_used(rp, comp)) {
            continue;
        }
        if (asprintf(&dir, "%s/%s", rp->run_dir, comp) < 0) {
            dir = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (mkdir(dir, 0755) == 0) {
            break;
        }
        if (errno != EEXIST) {
            rc = qhil_error_set(err, -errno,
                                "cannot create the test folder %s: %s",
                                dir, strerror(errno));
            goto cleanup;
        }
    }
    if (i > MAX_TRIES) {
        rc = qhil_error_set(err, QHIL_EBUSY,
                            "%s/%s: no free test folder name after %d "
                            "tries",
                            rp->run_dir, base, MAX_TRIES);
        goto cleanup;
    }
    rp->used[rp->n_used++] = comp;
    comp = NULL;
    *path = dir;
    dir = NULL;
    rc = QHIL_EOK;

cleanup:
    free(base);
    free(comp);
    free(dir);
    return rc;
}

void qhil_runpath_free(qhil_runpath *rp)
{
    size_t i;

    if (!rp) {
        return;
    }
    for (i = 0; i < rp->n_used; i++) {
        free(rp->used[i]);
    }
    free(rp->used);
    free(rp->out_dir);
    free(rp->run_dir);
    free(rp);
}
