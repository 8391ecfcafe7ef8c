/*
 * buf.c - the capped growable buffer and a few small fd/string helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void qhil_buf_init(qhil_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void qhil_buf_release(qhil_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int qhil_buf_reserve(qhil_buf *b, size_t n)
{
    size_t need;
    size_t cap;
    char *p;

    if (n > b->max - b->len) {
        return QHIL_ETOOBIG;
    }
    need = b->len + n + 1;
    if (need <= b->cap) {
        return QHIL_EOK;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    p = realloc(b->data, cap);
    if (!p) {
        return QHIL_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return QHIL_EOK;
}

int qhil_buf_append(qhil_buf *b, const void *data, size_t n)
{
    int rc = qhil_buf_reserve(b, n);

    if (rc < 0) {
        return rc;
    }
    if (n) {
        memcpy(b->data + b->len, data, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return QHIL_EOK;
}

int qhil_buf_puts(qhil_buf *b, const char *s)
{
    return qhil_buf_append(b, s, strlen(s));
}

int qhil_buf_printf(qhil_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;
    int rc;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return QHIL_ENOMEM;
    }
    rc = qhil_buf_append(b, s, (size_t)n);
    free(s);
    return rc;
}

void qhil_buf_consume(qhil_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) {
        b->data[b->len] = '\0';
    }
}

char *qhil_buf_steal(qhil_buf *b)
{
    char *p = b->data;

    if (!p) {
        return strdup("");
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

int qhil_fd_prepare(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -errno;
    }
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
        return -errno;
    }
    return 0;
}

char *qhil_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

int qhil_file_create(const char *path, int extra_flags, int *fd_out,
                     qhil_error *err)
{
    int fd = open(path,
                  extra_flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);

    *fd_out = fd;
    if (fd < 0) {
        int e = errno;

        return qhil_error_set(err, -e, "cannot create %s: %s%s", path,
                              strerror(e),
                              e == EEXIST || e == ELOOP
                                  ? " (qhil never writes into a file that "
                                    "is already there: use a fresh folder)"
                                  : "");
    }
    return QHIL_EOK;
}
