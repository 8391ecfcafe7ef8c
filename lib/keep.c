/*
 * keep.c - remove the folders of the tests a run does not keep (keep.h).
 *
 * For each test whose verdict is not kept: its folder is the console
 * log's folder, and must be a plain name directly under the run folder
 * (no "..", no deeper path), else the test is left alone.  The removal
 * works on file descriptors only, from an O_NOFOLLOW descriptor of the
 * run folder down:
 *
 *   remove_tree(parent, name):
 *     openat(parent, name, O_DIRECTORY | O_NOFOLLOW)
 *       -> for each entry: fstatat(AT_SYMLINK_NOFOLLOW)
 *            a folder -> remove_tree(it), at most KEEP_DEPTH_MAX deep
 *            a spared file (same device and inode) -> left
 *            anything else (files, symlinks, fifos) -> unlinkat(entry, 0)
 *       -> unlinkat(parent, name, AT_REMOVEDIR) (fails, and is left,
 *          when something stayed)
 *
 * A symlink is never opened as a folder (O_NOFOLLOW makes openat fail
 * with ELOOP or ENOTDIR), so unlinkat removes the link and never what it
 * points at: a worker, or a guest's files, cannot make this remove
 * anything outside the run folder, even by swapping a folder for a link
 * while it runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qhil/keep.h>

#include "internal.h"

#define KEEP_DEPTH_MAX 16

typedef struct spared {
    dev_t dev;
    ino_t ino;
} spared;

typedef struct keep_ctx {
    spared *spare;
    size_t n_spare;
    qhil_error *err;
    int rc; /* the first error */
    const char *test_dir;
} keep_ctx;

int qhil_keep_parse(const char *text, qhil_keep *out, qhil_error *err)
{
    if (text && !strcmp(text, "all")) {
        *out = QHIL_KEEP_ALL;
    } else if (text && !strcmp(text, "failed")) {
        *out = QHIL_KEEP_FAILED;
    } else if (text && !strcmp(text, "passed")) {
        *out = QHIL_KEEP_PASSED;
    } else {
        return qhil_error_set(err, QHIL_EINVAL,
                              "--keep: expected passed, failed or all, got "
                              "'%s'",
                              text ? text : "");
    }
    return QHIL_EOK;
}

static bool kept(qhil_keep keep, const qhil_test_result *r)
{
    switch (keep) {
    case QHIL_KEEP_ALL:
        return true;
    case QHIL_KEEP_FAILED:
        /* A flaky test failed too: its failed attempts' logs are in its
         * folder (attempt 1's and attempt-K/). */
        return r->verdict == QHIL_FAIL || r->verdict == QHIL_ERROR ||
               r->flaky;
    case QHIL_KEEP_PASSED:
        return r->verdict == QHIL_PASS;
    }
    return true;
}

static bool is_spared(const keep_ctx *k, const struct stat *st)
{
    size_t i;

    for (i = 0; i < k->n_spare; i++) {
        if (k->spare[i].dev == st->st_dev && k->spare[i].ino == st->st_ino) {
            return true;
        }
    }
    return false;
}

static void keep_fail(keep_ctx *k, const char *what, int e)
{
    if (k->rc == 0) {
        k->rc = qhil_error_set(k->err, -e, "--keep: cannot remove %s in %s: %s",
                               what, k->test_dir, strerror(e));
    }
}

static void remove_tree(keep_ctx *k, int parent, const char *name,
                        unsigned depth)
{
    struct dirent *de;
    DIR *d;
    int fd;

    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* Not a folder (any more): a link or a file goes as itself. */
        if ((errno == ELOOP || errno == ENOTDIR) &&
            unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
            keep_fail(k, name, errno);
        }
        return;
    }
    d = fdopendir(fd);
    if (!d) {
        keep_fail(k, name, errno);
        close(fd);
        return;
    }
    while ((de = readdir(d))) {
        struct stat st;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (is_spared(k, &st)) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth < KEEP_DEPTH_MAX) {
                remove_tree(k, dirfd(d), de->d_name, depth + 1);
            }
        } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
            keep_fail(k, de->d_name, errno);
        }
    }
    closedir(d);
    /* ENOTEMPTY: a spared file, or something too deep, stays. */
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOTEMPTY &&
        errno != EEXIST && errno != ENOENT) {
        keep_fail(k, name, errno);
    }
}

/* The test folder's name under run_dir, or NULL: "RUN/NAME/console.log"
 * gives "NAME" (malloc'ed) when NAME is a plain name. */
static char *test_folder(const char *run_dir, const char *console_log)
{
    size_t n = strlen(run_dir);
    const char *rest;
    const char *slash;

    while (n > 1 && run_dir[n - 1] == '/') {
        n--;
    }
    if (!console_log || strncmp(console_log, run_dir, n) != 0 ||
        console_log[n] != '/') {
        return NULL;
    }
    rest = console_log + n + 1;
    slash = strchr(rest, '/');
    if (!slash || slash == rest || strchr(slash + 1, '/') ||
        (slash - rest == 1 && rest[0] == '.') ||
        (slash - rest == 2 && rest[0] == '.' && rest[1] == '.')) {
        return NULL;
    }
    return strndup(rest, (size_t)(slash - rest));
}

int qhil_run_keep(const qhil_suite_result *sr, qhil_keep keep,
                  const char *const *spare, size_t *removed, qhil_error *err)
{
    keep_ctx k = {.err = err};
    size_t n = 0;
    size_t i;
    int run_fd;

    if (removed) {
        *removed = 0;
    }
    if (keep == QHIL_KEEP_ALL || !sr->run_dir) {
        return QHIL_EOK;
    }
    for (i = 0; spare && spare[i]; i++) {
        n++;
    }
    k.spare = calloc(n + 1, sizeof(*k.spare));
    if (!k.spare) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        struct stat st;

        if (stat(spare[i], &st) == 0) {
            k.spare[k.n_spare].dev = st.st_dev;
            k.spare[k.n_spare++].ino = st.st_ino;
        }
    }
    run_fd = open(sr->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (run_fd < 0) {
        int e = errno;

        free(k.spare);
        return qhil_error_set(err, -e,
                              "--keep: cannot open the run folder "
                              "%s: %s",
                              sr->run_dir, strerror(e));
    }
    for (i = 0; i < sr->n_tests; i++) {
        const qhil_test_result *r = &sr->tests[i];
        char *name;
        struct stat st;

        if (kept(keep, r)) {
            continue;
        }
        name = test_folder(sr->run_dir, r->console_log);
        if (!name) {
            continue;
        }
        /* Only a real folder of the run: never a link planted in its
         * place, never the run folder's own files. */
        if (fstatat(run_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
            k.test_dir = r->console_log;
            remove_tree(&k, run_fd, name, 0);
            if (removed &&
                fstatat(run_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                (*removed)++;
            }
        }
        free(name);
    }
    close(run_fd);
    free(k.spare);
    return k.rc < 0 ? k.rc : QHIL_EOK;
}
