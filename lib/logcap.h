/*
 * logcap.h - a log file with a size limit that keeps its head and its
 * tail; internal to libqhil, used for console.log and qemu.log.
 *
 * Bytes are written to the file as they come until the head is full
 * (limit minus the tail size).  After that the newest bytes are kept in a
 * ring in memory; when the log is closed the ring is appended, behind a
 * line saying how many bytes were dropped in between when any were.  So
 * a log that stays within its limit is the plain byte stream, and one
 * that floods keeps both how it started and how it ended, never more
 * than limit bytes plus the marker line.
 *
 * A crash of the writing process loses only the ring (at most the tail
 * size); everything up to the head limit is already in the file.
 * Not thread-safe: a user that writes from one thread and reads the tail
 * from another holds its own lock.
 */
#ifndef QHIL_LOGCAP_H
#define QHIL_LOGCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>

#define QHIL_LOGCAP_DEFAULT ((uint64_t)64 << 20) /* 64 MiB */
#define QHIL_LOGCAP_TAIL ((size_t)1 << 20)       /* kept at most */

typedef struct qhil_logcap {
    int fd;
    uint64_t limit;    /* head + tail bytes, at most */
    uint64_t head_max; /* bytes that go straight to the file */
    uint64_t total;    /* bytes offered so far */
    char *ring;        /* the tail, once the head is full */
    size_t ring_size;
    size_t ring_start; /* oldest byte */
    size_t ring_len;
} qhil_logcap;

/*
 * Create path for writing (0644) with O_EXCL and O_NOFOLLOW: an existing
 * file or a symlink planted there is never followed, truncated or
 * appended to (QHIL_EEXIST-like error from errno, message names path).
 * limit: bytes kept at most, 0 for QHIL_LOGCAP_DEFAULT.  On failure lc is
 * left released (fd -1) and safe to release again.
 */
int qhil_logcap_init(qhil_logcap *lc, const char *path, uint64_t limit,
                     qhil_error *err);

/*
 * Log n bytes.  Returns true when the log is over its limit (some bytes
 * will be dropped from the middle), false while it is not.  Write errors
 * of the file (a full disk) are ignored: a log must not stop a test.
 */
bool qhil_logcap_write(qhil_logcap *lc, const void *data, size_t n);

/* True once more than limit bytes were offered. */
bool qhil_logcap_over(const qhil_logcap *lc);

/* Bytes offered so far, kept or not. */
uint64_t qhil_logcap_total(const qhil_logcap *lc);

/* The limit in force (after the 0 default). */
uint64_t qhil_logcap_limit(const qhil_logcap *lc);

/*
 * Copy the last max bytes of the log (from the ring when there is one,
 * else from the file) into a new malloc'ed NUL-terminated string, *len
 * its length (may be NULL).  NULL when out of memory.
 */
char *qhil_logcap_tail(const qhil_logcap *lc, size_t max, size_t *len);

/*
 * Append the ring (with "[qhil: N bytes of WHAT dropped here]" before it
 * when bytes were dropped) and close the file.  what names the stream
 * ("console output").  Safe on a released or failed lc.
 */
void qhil_logcap_release(qhil_logcap *lc, const char *what);

#endif /* QHIL_LOGCAP_H */
