/*
 * qhil/error.h - error codes and error detail shared by every libqhil module.
 *
 * Every libqhil function that can fail returns an int: >= 0 on success, a
 * negative QHIL_E... code on failure.  Codes that have an errno equivalent
 * are that errno, negated, so system failures pass through unchanged.
 *
 * A caller that wants more than the code passes a qhil_error as the last
 * argument.  The library fills it with a message a user can act on (which
 * file, line, option or step, what was expected and what was received).
 * Passing NULL is always allowed.
 */
#ifndef QHIL_ERROR_H
#define QHIL_ERROR_H

#include <errno.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/*
 * X(NAME, value, description): the one table that generates the enum,
 * qhil_strerror() and qhil_errname().
 */
#define QHIL_ERROR_TABLE(X)                                                   \
    X(OK, 0, "success")                                                       \
    X(NOMEM, -ENOMEM, "out of memory")                                        \
    X(INVAL, -EINVAL, "invalid argument")                                     \
    X(NOENT, -ENOENT, "no such file or directory")                            \
    X(IO, -EIO, "input/output error")                                         \
    X(TIMEDOUT, -ETIMEDOUT, "deadline passed")                                \
    X(PROTO, -EPROTO, "protocol error")                                       \
    X(TOOBIG, -E2BIG, "data exceeds the size limit")                          \
    X(BUSY, -EBUSY, "resource busy")                                          \
    X(EOF, -1000, "connection closed by peer")                                \
    X(CMD, -1001, "command failed")                                           \
    X(SYNTAX, -1002, "syntax error")                                          \
    X(SPAWN, -1003, "cannot start process")                                   \
    X(EXITED, -1004, "process exited")                                        \
    X(MATCH, -1005, "failure pattern matched")                                \
    X(CHECK, -1006, "check failed")                                           \
    X(UNSUPPORTED, -1007, "not supported")                                    \
    X(PATTERN, -1008, "pattern match error")                                  \
    X(LIMIT, -1009, "output over its limit")                                  \
    X(CANCELED, -ECANCELED, "interrupted")

enum qhil_errcode {
#define QHIL_X_ENUM(name, value, desc) QHIL_E##name = (value),
    QHIL_ERROR_TABLE(QHIL_X_ENUM)
#undef QHIL_X_ENUM
};

/*
 * Error detail.  Embed one (qhil_error_init / qhil_error_release) and pass
 * its address.  All strings are owned by the struct and freed by release.
 */
typedef struct qhil_error {
    int code;      /* QHIL_E... of the failure, QHIL_EOK if none */
    char *message; /* full one-line message, or NULL */
    char *file;    /* input file the error is about, or NULL */
    int line;      /* 1-based line in file, 0 if unknown */
    int column;    /* 1-based column in file, 0 if unknown */
    char *kind;    /* machine-readable class (e.g. QMP "GenericError") */
} qhil_error;

/* Initialise an embedded error to "no error".  Never fails. */
void qhil_error_init(qhil_error *err);

/* Free the strings held by err and reset it.  err may be NULL. */
void qhil_error_release(qhil_error *err);

/*
 * Record a failure.  Replaces any earlier message.  err may be NULL, in
 * which case only the code is returned.  Returns code, so callers can write
 * `return qhil_error_set(err, QHIL_EINVAL, "...")`.
 */
int qhil_error_set(qhil_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int qhil_error_setv(qhil_error *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Record a failure located in an input file.  The message becomes
 * "FILE:LINE:COLUMN: TEXT" (column omitted when 0, line when 0).
 */
int qhil_error_set_at(qhil_error *err, int code, const char *file, int line,
                      int column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * Put "PREFIX: " in front of the existing message (used when an error
 * travels up through a layer that knows more context).  Returns
 * err->code, or QHIL_EOK when err is NULL: callers return their own code.
 */
int qhil_error_prefix(qhil_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set the machine-readable class; kind is copied. */
void qhil_error_set_kind(qhil_error *err, const char *kind);

/* Copy src into dst (dst is released first).  Returns dst->code. */
int qhil_error_copy(qhil_error *dst, const qhil_error *src);

/*
 * The message of err, or the generic description of code when err carries
 * none.  Never returns NULL.  Borrowed: valid until err changes.
 */
const char *qhil_error_message(const qhil_error *err, int code);

/* Static description of a code ("deadline passed"); never NULL. */
const char *qhil_strerror(int code);

/* Static symbolic name of a code ("QHIL_ETIMEDOUT"); never NULL. */
const char *qhil_errname(int code);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_ERROR_H */
