/*
 * qhil/runpath.h - where a run's results go, and how names become paths.
 *
 * A run writes only inside folders it has just made:
 *
 *   OUT/                       the -o folder, made if missing
 *   OUT/<run-id>/              made by this run (mkdir fails if it exists)
 *   OUT/<run-id>/<test>/       console.log, qemu.log, qemu.pid of a test
 *                              (its first attempt)
 *   OUT/<run-id>/<test>/attempt-K/   the same of its K-th attempt, when
 *                              a failed test is retried (runner.h:
 *                              retry); made by the runner with mkdir,
 *                              which refuses a folder that exists
 *   OUT/latest                 symlink to the newest <run-id>
 *
 * <run-id> is the UTC start time to the millisecond and the process id,
 * YYYYMMDD-HHMMSS.mmm-PID, with "-2", "-3", ... added when that folder
 * exists already: run folders sort by start time, and two runs never
 * share one.  OUT/latest is
 * replaced atomically (a symlink under a temporary name renamed over it),
 * so a reader sees the old run or the new one, never no link.
 *
 * Every name that comes from input (a suite name, a test name) becomes a
 * path component through qhil_runpath_name() and nothing else.
 */
#ifndef QHIL_RUNPATH_H
#define QHIL_RUNPATH_H

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Longest component qhil_runpath_name() returns, in bytes. */
#define QHIL_RUNPATH_NAME_MAX 100

/*
 * The path component for name: one folder name, never "", "." or "..",
 * never with '/', never starting with '.' or '-', ASCII only.
 *
 * [A-Za-z0-9_.-] are kept (but a leading '.' or '-'); every other byte
 * becomes %XX (lower-case hex), so "a b" -> "a%20b" and the mapping can
 * be undone: two names never share a component.  Non-ASCII bytes are
 * escaped too, so file systems that normalise Unicode cannot merge two
 * names.  The empty name is "%empty" (no other name maps to that).
 * A component over QHIL_RUNPATH_NAME_MAX bytes keeps its first bytes and
 * ends with "~" and 16 hex digits of a hash of the whole name ('~' does
 * not occur otherwise).
 *
 * *out: malloc'ed, caller frees.  Returns QHIL_EOK or QHIL_ENOMEM.
 */
int qhil_runpath_name(const char *name, char **out);

/* The folders of one run; see above. */
typedef struct qhil_runpath qhil_runpath;

/*
 * Make OUT (and its parents) if missing, a fresh OUT/<run-id>/, and point
 * OUT/latest at it.  Fails (nothing of the run left behind) when a folder
 * cannot be made or OUT/latest exists and is not a symlink.
 * *out: free with qhil_runpath_free.  Does not block beyond file system
 * calls.
 */
int qhil_runpath_new(const char *out_dir, qhil_runpath **out,
                     qhil_error *err);

/* The run folder, "OUT/<run-id>"; borrowed, valid until the free. */
const char *qhil_runpath_dir(const qhil_runpath *rp);

/*
 * Make a fresh folder for name inside the run folder:
 * OUT/<run-id>/<qhil_runpath_name(name)>.  When that component (compared
 * without regard to case, for case-insensitive file systems and archives)
 * is taken already in this run, or the folder exists, "~2", "~3", ... is
 * added.  *path: malloc'ed, caller frees.  On failure (e.g. the path is
 * too long for the system) nothing is made and err names the path.
 */
int qhil_runpath_mkdir(qhil_runpath *rp, const char *name, char **path,
                       qhil_error *err);

/* Free rp (the folders stay); NULL is fine. */
void qhil_runpath_free(qhil_runpath *rp);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_RUNPATH_H */
