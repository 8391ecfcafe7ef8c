/*
 * itutil.c - checks and QEMU set-up shared by the C integration tests
 * (itutil.h): the CHECK family with its count, the board argv from the
 * source tree, and the run directory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itutil.h"

/* One test program, one count. */
static int n_checks;

_Noreturn void it_die(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }
    va_end(ap);
    fprintf(stderr, "%s:%d: %s\n", file, line, msg ? msg : fmt);
    free(msg);
    exit(1); /* QEMU dies with us (PR_SET_PDEATHSIG) */
}

void it_check(bool ok, const char *what, const char *file, int line)
{
    n_checks++;
    if (!ok) {
        it_die(file, line, "check failed: %s", what);
    }
}

void it_check_rc(const qhil_error *err, int rc, int want, const char *call,
                 const char *file, int line)
{
    n_checks++;
    if (rc != want) {
        it_die(file, line, "%s: got %s (%s), want %s", call, qhil_errname(rc),
               qhil_error_message(err, rc), qhil_errname(want));
    }
}

void it_check_str(const char *got, const char *want, const char *what,
                  const char *file, int line)
{
    n_checks++;
    if (!got || strcmp(got, want) != 0) {
        it_die(file, line, "%s is '%s', want '%s'", what, got ? got : "(null)",
               want);
    }
}

void it_check_eq(unsigned long long got, unsigned long long want,
                 const char *what, const char *file, int line)
{
    n_checks++;
    if (got != want) {
        it_die(file, line, "%s is 0x%llx, want 0x%llx", what, got, want);
    }
}

int it_checks(void)
{
    return n_checks;
}

char *it_src_path(const char *rel)
{
    const char *src = getenv("SRC");
    char *path = NULL;

    if (!src || asprintf(&path, "%s/%s", src, rel) < 0) {
        it_die(__FILE__, __LINE__, "set SRC to the source tree");
    }
    return path;
}

char **it_board_argv(const char *name, const qhil_board_job *job)
{
    char *dir = it_src_path("boards");
    const char *dirs[2] = {dir, NULL};
    char *path = NULL;
    qhil_board *board = NULL;
    char **argv = NULL;
    qhil_error err;

    qhil_error_init(&err);
    CHECK_RC(qhil_board_find(name, dirs, &path, &err), QHIL_EOK);
    CHECK_RC(qhil_board_load(path, &board, &err), QHIL_EOK);
    CHECK_RC(qhil_board_argv(board, job, &argv, &err), QHIL_EOK);
    qhil_board_free(board);
    qhil_error_release(&err);
    free(path);
    free(dir);
    return argv;
}

char *it_run_dir(const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;

    if (asprintf(&dir, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix) <
        0) {
        it_die(__FILE__, __LINE__, "out of memory");
    }
    if (!mkdtemp(dir)) {
        it_die(__FILE__, __LINE__, "cannot make the run directory %s: %s", dir,
               strerror(errno));
    }
    return dir;
}

void it_remove_run_dir(const char *dir)
{
    static const char *const files[] = {"console.log", "qemu.log", "qemu.pid",
                                        "qmp.sock"};
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *p = NULL;

        if (asprintf(&p, "%s/%s", dir, files[i]) >= 0) {
            unlink(p);
            free(p);
        }
    }
    rmdir(dir);
}
