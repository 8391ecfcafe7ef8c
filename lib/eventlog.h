/*
 * eventlog.h - a test's kept events in a file, one JSON object a line
 * (eventlog.c); not installed.
 */
#ifndef QHIL_EVENTLOG_H
#define QHIL_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include <qhil/error.h>

/* What one attempt keeps of its events at most, in JSON text. */
#define QHIL_EVENTLOG_MAX ((size_t)32 << 20)

/* The file's name in the attempt's folder. */
#define QHIL_EVENTLOG_NAME "events.jsonl"

/* One attempt's file being written; zeroed is closed.  Not shared. */
typedef struct qhil_eventlog {
    FILE *fp;
    size_t bytes; /* written so far, up to QHIL_EVENTLOG_MAX */
} qhil_eventlog;

/*
 * Create dir/events.jsonl (qhil_file_create: never an existing file or
 * a symlink) and start it; *path gets its path (malloc'ed, caller
 * frees; NULL on failure).  -errno with the path in err.
 */
int qhil_eventlog_open(qhil_eventlog *l, const char *dir, char **path,
                       qhil_error *err);

/*
 * Append one event (its JSON, an object) as one compact line.  0 when
 * it went out, negative when it did not (the log is not open, the cap
 * is reached, a write failed): the caller counts it as dropped.  Blocks
 * only on the file system.
 */
int qhil_eventlog_put(qhil_eventlog *l, const json_t *ev);

/* Flush and close; a closed log is fine.  Returns 0 or QHIL_EIO. */
int qhil_eventlog_close(qhil_eventlog *l);

/*
 * Read back the first `expect` lines of path into a new array (*out,
 * caller decrefs).  Lines that are not there, or not a JSON object (the
 * run was killed, the disk was full, the file is gone or is not a
 * regular file), are counted in *missing; never more than expect lines
 * or QHIL_EVENTLOG_MAX bytes are read.  Returns QHIL_EOK, or
 * QHIL_ENOMEM (*out NULL).  Blocks only on the file system.
 */
int qhil_eventlog_load(const char *path, size_t expect, json_t **out,
                       size_t *missing);

/*
 * The first event of that kind in the first `expect` lines of path: a
 * new reference, or NULL when there is none or it cannot be read.
 */
json_t *qhil_eventlog_find(const char *path, size_t expect,
                           const char *kind);

#endif /* QHIL_EVENTLOG_H */
