/*
 * itutil.h - checks and QEMU set-up shared by the C integration tests.
 *
 * qmp_live.c, qtest_stock.c and machine_live.c are plain programs on a
 * real QEMU.  The
 * first failed check prints "FILE:LINE: what" on stderr and exits 1
 * (QEMU dies with the program: its guard process sees it go); at
 * the end a program prints it_checks() with its name.  The source tree
 * comes from the environment variable SRC.
 */
#ifndef QHIL_TESTS_ITUTIL_H
#define QHIL_TESTS_ITUTIL_H

#include <stdbool.h>

#include <qhil/qhil.h>

/* Print "file:line: message" on stderr and exit 1. */
_Noreturn void it_die(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Count one check, and die at file:line naming what unless ok. */
void it_check(bool ok, const char *what, const char *file, int line);
/* rc must be want; else die naming call, both codes and err's message. */
void it_check_rc(const qhil_error *err, int rc, int want, const char *call,
                 const char *file, int line);
/* got must be the string want (NULL never is). */
void it_check_str(const char *got, const char *want, const char *what,
                  const char *file, int line);
/* got must equal want. */
void it_check_eq(unsigned long long got, unsigned long long want,
                 const char *what, const char *file, int line);

/* How many checks ran (all passed, or the program would have ended). */
int it_checks(void);

#define CHECK(cond) it_check((cond), #cond, __FILE__, __LINE__)
/* Reports the message of the qhil_error that the calling file names err. */
#define CHECK_RC(call, want)                                                   \
    it_check_rc(&err, (call), (want), #call, __FILE__, __LINE__)
#define CHECK_STR(got, want)                                                   \
    it_check_str((got), (want), #got, __FILE__, __LINE__)
#define CHECK_EQ(got, want) it_check_eq((got), (want), #got, __FILE__, __LINE__)

/* SRC/rel, caller frees.  Dies when SRC is not set. */
char *it_src_path(const char *rel);

/*
 * QEMU's argv for the board template name in SRC/boards with job.  Caller frees
 * with qhil_argv_free.  Dies when it cannot be built; its three calls count as
 * checks.
 */
char **it_board_argv(const char *name, const qhil_board_job *job);

/*
 * Make an empty run directory PREFIX.XXXXXX under TMPDIR (or /tmp);
 * caller frees the path.  Dies when it cannot.
 */
char *it_run_dir(const char *prefix);

/* Remove what the machines left in the run directory dir (logs, pid
 * file, QMP socket), then dir itself. */
void it_remove_run_dir(const char *dir);

#endif /* QHIL_TESTS_ITUTIL_H */
