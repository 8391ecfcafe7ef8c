/*
 * error.c - error codes and the qhil_error detail record.
 *
 * The code table lives in include/qhil/error.h as an X-macro so that the
 * enum, the descriptions and the names cannot drift apart.  Messages are
 * heap strings; when memory runs out while formatting one, the record
 * keeps its code and falls back to the static description.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/error.h>

#include "internal.h"

void qhil_error_init(qhil_error *err)
{
    if (err) {
        memset(err, 0, sizeof(*err));
    }
}

void qhil_error_release(qhil_error *err)
{
    if (!err) {
        return;
    }
    free(err->message);
    free(err->file);
    free(err->kind);
    memset(err, 0, sizeof(*err));
}

int qhil_error_setv(qhil_error *err, int code, const char *fmt, va_list ap)
{
    char *msg = NULL;

    if (!err) {
        return code;
    }
    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }
    qhil_error_release(err);
    err->code = code;
    err->message = msg;
    return code;
}

int qhil_error_set(qhil_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qhil_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int qhil_error_set_at(qhil_error *err, int code, const char *file, int line,
                      int column, const char *fmt, ...)
{
    char *text = NULL;
    char *msg = NULL;
    va_list ap;
    int n;

    if (!err) {
        return code;
    }
    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        text = NULL;
    }
    if (line > 0 && column > 0) {
        n = asprintf(&msg, "%s:%d:%d: %s", file ? file : "<input>", line,
                     column, text ? text : qhil_strerror(code));
    } else if (line > 0) {
        n = asprintf(&msg, "%s:%d: %s", file ? file : "<input>", line,
                     text ? text : qhil_strerror(code));
    } else {
        n = asprintf(&msg, "%s: %s", file ? file : "<input>",
                     text ? text : qhil_strerror(code));
    }
    if (n < 0) {
        msg = NULL;
    }
    free(text);
    qhil_error_release(err);
    err->code = code;
    err->message = msg;
    err->file = file ? strdup(file) : NULL;
    err->line = line;
    err->column = column;
    return code;
}

int qhil_error_prefix(qhil_error *err, const char *fmt, ...)
{
    char *prefix = NULL;
    char *msg = NULL;
    va_list ap;
    int n;

    if (!err) {
        return QHIL_EOK;
    }
    va_start(ap, fmt);
    n = vasprintf(&prefix, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return err->code;
    }
    if (asprintf(&msg, "%s: %s", prefix,
                 qhil_error_message(err, err->code)) >= 0) {
        free(err->message);
        err->message = msg;
    }
    free(prefix);
    return err->code;
}

void qhil_error_set_kind(qhil_error *err, const char *kind)
{
    if (!err) {
        return;
    }
    free(err->kind);
    err->kind = kind ? strdup(kind) : NULL;
}

int qhil_error_copy(qhil_error *dst, const qhil_error *src)
{
    if (!dst) {
        return src ? src->code : QHIL_EOK;
    }
    qhil_error_release(dst);
    if (!src) {
        return QHIL_EOK;
    }
    dst->code = src->code;
    dst->message = src->message ? strdup(src->message) : NULL;
    dst->file = src->file ? strdup(src->file) : NULL;
    dst->kind = src->kind ? strdup(src->kind) : NULL;
    dst->line = src->line;
    dst->column = src->column;
    return dst->code;
}

const char *qhil_error_message(const qhil_error *err, int code)
{
    if (err && err->message) {
        return err->message;
    }
    return qhil_strerror(err && err->code ? err->code : code);
}

const char *qhil_strerror(int code)
{
    switch (code) {
#define QHIL_X_DESC(name, value, desc)                                        \
    case (value):                                                             \
        return (desc);
        QHIL_ERROR_TABLE(QHIL_X_DESC)
#undef QHIL_X_DESC
    }
    if (code < 0 && code > -1000) {
        return strerror(-code);
    }
    return "unknown error";
}

const char *qhil_errname(int code)
{
    switch (code) {
#define QHIL_X_NAME(name, value, desc)                                        \
    case (value):                                                             \
        return "QHIL_E" #name;
        QHIL_ERROR_TABLE(QHIL_X_NAME)
#undef QHIL_X_NAME
    }
    return "QHIL_E?";
}

int qhil_error_vfield(qhil_error *err, int code, const char *origin,
                      const char *field, const char *fmt, va_list ap)
{
    char *text = NULL;

    if (vasprintf(&text, fmt, ap) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qhil_error_set(err, code, "%s%s%s: %s", origin && *origin ? origin : "",
                   origin && *origin ? ": " : "", field, text);
    free(text);
    return code;
}

int qhil_error_field(qhil_error *err, int code, const char *origin,
                     const char *field, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = qhil_error_vfield(err, code, origin, field, fmt, ap);
    va_end(ap);
    return rc;
}
