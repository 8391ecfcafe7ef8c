/*
 * internal.h - helpers shared by libqhil's modules; not installed.
 *
 * qhil_buf is the one growable byte buffer of the library (after curl's
 * dynbuf): it always has a hard size cap chosen by its user, so a peer
 * that never stops sending cannot make us eat all memory, and its data is
 * always NUL-terminated so text users can treat it as a string.
 */
#ifndef QHIL_INTERNAL_H
#define QHIL_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <qhil/error.h>
#include <qhil/report.h>

#define QHIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

typedef struct qhil_buf {
    char *data;  /* NUL-terminated; NULL until the first append */
    size_t len;  /* bytes held, not counting the NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard cap on len */
} qhil_buf;

/* Start an empty buffer that may hold at most max bytes. */
void qhil_buf_init(qhil_buf *b, size_t max);

/* Free the data; the buffer is empty and reusable afterwards. */
void qhil_buf_release(qhil_buf *b);

/* Append n bytes.  QHIL_ETOOBIG past the cap (nothing appended),
 * QHIL_ENOMEM when allocation fails. */
int qhil_buf_append(qhil_buf *b, const void *data, size_t n);

/* Append a C string. */
int qhil_buf_puts(qhil_buf *b, const char *s);

/* Append formatted text. */
int qhil_buf_printf(qhil_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Drop the first n bytes (all when n >= len). */
void qhil_buf_consume(qhil_buf *b, size_t n);

/* Make sure at least n more bytes fit without growing; for read(). */
int qhil_buf_reserve(qhil_buf *b, size_t n);

/* Give the data to the caller (never NULL: "" when empty; NULL only on
 * allocation failure) and leave the buffer empty.  Caller frees. */
char *qhil_buf_steal(qhil_buf *b);

/*
 * Create path (0644) for writing with O_CREAT | O_EXCL | O_NOFOLLOW |
 * O_CLOEXEC plus extra_flags (O_WRONLY or O_RDWR, ...): a file or symlink
 * already there is refused, never followed, truncated or appended to.
 * *fd_out gets the fd (caller closes).  -errno with a message naming path.
 */
int qhil_file_create(const char *path, int extra_flags, int *fd_out,
                     qhil_error *err);

/*
 * report.c: a report file opened with qhil_report_file_open, for writers
 * other than qhil_report_write.  qhil_report_file_stream gives the
 * temporary file's stream (borrowed; NULL once committed);
 * qhil_report_file_finish flushes, syncs and renames it over the path,
 * as qhil_report_file_commit does after writing a suite result.
 */
FILE *qhil_report_file_stream(qhil_report_file *f);
int qhil_report_file_finish(qhil_report_file *f, qhil_error *err);

/* Set fd non-blocking and close-on-exec.  Returns 0 or -errno. */
int qhil_fd_prepare(int fd);

/* Duplicate s (NULL gives NULL).  Returns NULL only for NULL input or on
 * allocation failure. */
char *qhil_strdup0(const char *s);

/*
 * A refused value: "ORIGIN: FIELD: TEXT" with code (the origin part left
 * out when origin is NULL or empty), as board.c, job.c and site values
 * word them.  Returns code, or QHIL_ENOMEM when TEXT cannot be made.
 */
int qhil_error_field(qhil_error *err, int code, const char *origin,
                     const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int qhil_error_vfield(qhil_error *err, int code, const char *origin,
                      const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* The site's policy (site.c), for the job layer.  Borrowed. */
struct qhil_policy;
struct qhil_site;
const struct qhil_policy *qhil_site_policy(const struct qhil_site *site);

/* The name of the i-th value the site's device dictionary sets for
 * device_type (NULL past the last); *origin gets its "FILE:LINE".
 * Borrowed. */
const char *qhil_site_device_var_at(const struct qhil_site *site,
                                    const char *device_type, size_t i,
                                    const char **origin);

#endif /* QHIL_INTERNAL_H */
