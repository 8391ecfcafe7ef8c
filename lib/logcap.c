/*
 * logcap.c - a capped log file that keeps its head and its tail.
 *
 *   offered:  |<----- head_max ----->|<-- dropped -->|<- ring ->|
 *   file:     |<----- head_max ----->|[marker line]  |<- ring ->|  (at release)
 *
 * The head is written through at once; once it is full, bytes go into a
 * ring of ring_size bytes that always holds the newest ones.  Nothing is
 * dropped until more than limit = head_max + ring_size bytes came, so a
 * log within its limit ends up byte for byte what was offered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "logcap.h"

/* Write all of data, retrying short writes; errors end it quietly. */
static void logcap_put(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, data, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* a full disk must not stop the test */
        }
        data += w;
        n -= (size_t)w;
    }
}

int qhil_logcap_init(qhil_logcap *lc, const char *path, uint64_t limit,
                     qhil_error *err)
{
    int rc;

    memset(lc, 0, sizeof(*lc));
    lc->fd = -1;
    lc->limit = limit ? limit : QHIL_LOGCAP_DEFAULT;
    lc->ring_size = lc->limit / 2 < QHIL_LOGCAP_TAIL
                        ? (size_t)(lc->limit / 2)
                        : QHIL_LOGCAP_TAIL;
    lc->head_max = lc->limit - lc->ring_size;
    rc = qhil_file_create(path, O_RDWR, &lc->fd, err);
    if (rc < 0) {
        lc->fd = -1;
        return rc;
    }
    return QHIL_EOK;
}

bool qhil_logcap_write(qhil_logcap *lc, const void *data, size_t n)
{
    const char *p = data;
    uint64_t written = lc->total < lc->head_max ? lc->total : lc->head_max;

    if (lc->fd < 0) {
        return qhil_logcap_over(lc);
    }
    lc->total += n;
    if (written < lc->head_max) {
        size_t now = lc->head_max - written < n
                         ? (size_t)(lc->head_max - written)
                         : n;

        logcap_put(lc->fd, p, now);
        p += now;
        n -= now;
    }
    if (n > 0 && lc->ring_size > 0) {
        if (!lc->ring) {
            lc->ring = malloc(lc->ring_size);
        }
        if (lc->ring) {
            if (n >= lc->ring_size) {
                /* Only the newest ring_size bytes survive. */
                memcpy(lc->ring, p + (n - lc->ring_size), lc->ring_size);
                lc->ring_start = 0;
                lc->ring_len = lc->ring_size;
            } else {
                size_t end = (lc->ring_start + lc->ring_len) % lc->ring_size;
                size_t first = lc->ring_size - end < n ? lc->ring_size - end
                                                       : n;

                memcpy(lc->ring + end, p, first);
                memcpy(lc->ring, p + first, n - first);
                lc->ring_len += n;
                if (lc->ring_len > lc->ring_size) {
                    lc->ring_start = (lc->ring_start +
                                      (lc->ring_len - lc->ring_size)) %
                                     lc->ring_size;
                    lc->ring_len = lc->ring_size;
                }
            }
        }
    }
    return qhil_logcap_over(lc);
}

bool qhil_logcap_over(const qhil_logcap *lc)
{
    return lc->total > lc->limit;
}

uint64_t qhil_logcap_total(const qhil_logcap *lc)
{
    return lc->total;
}

uint64_t qhil_logcap_limit(const qhil_logcap *lc)
{
    return lc->limit;
}

char *qhil_logcap_tail(const qhil_logcap *lc, size_t max, size_t *len)
{
    size_t n = 0;
    char *out;

    if (lc->ring_len > 0) {
        size_t skip;
        size_t i;

        n = lc->ring_len < max ? lc->ring_len : max;
        out = malloc(n + 1);
        if (!out) {
            return NULL;
        }
        skip = lc->ring_len - n;
        for (i = 0; i < n; i++) {
            out[i] = lc->ring[(lc->ring_start + skip + i) % lc->ring_size];
        }
    } else {
        uint64_t size = lc->total < lc->head_max ? lc->total : lc->head_max;
        off_t from;

        n = size < max ? (size_t)size : max;
        from = (off_t)(size - n);
        out = malloc(n + 1);
        if (!out) {
            return NULL;
        }
        if (lc->fd >= 0 && n > 0) {
            size_t got = 0;

            while (got < n) {
                ssize_t r = pread(lc->fd, out + got, n - got,
                                  from + (off_t)got);

                if (r < 0 && errno == EINTR) {
                    continue;
                }
                if (r <= 0) {
                    break;
                }
                got += (size_t)r;
            }
            n = got;
        } else {
            n = 0;
        }
    }
    out[n] = '\0';
    if (len) {
        *len = n;
    }
    return out;
}

void qhil_logcap_release(qhil_logcap *lc, const char *what)
{
    if (lc->fd >= 0 && lc->ring_len > 0) {
        uint64_t dropped = lc->total - lc->head_max - lc->ring_len;
        size_t first = lc->ring_size - lc->ring_start < lc->ring_len
                           ? lc->ring_size - lc->ring_start
                           : lc->ring_len;

        if (dropped > 0) {
            char line[128];
            int k = snprintf(line, sizeof(line),
                             "\n[qhil: %llu bytes of %s dropped here]\n",
                             (unsigned long long)dropped,
                             what ? what : "output");

            if (k > 0) {
                logcap_put(lc->fd, line,
                           (size_t)k < sizeof(line) ? (size_t)k
                                                    : sizeof(line) - 1);
            }
        }
        logcap_put(lc->fd, lc->ring + lc->ring_start, first);
        logcap_put(lc->fd, lc->ring, lc->ring_len - first);
    }
    if (lc->fd >= 0) {
        close(lc->fd);
    }
    free(lc->ring);
    lc->fd = -1;
    lc->ring = NULL;
    lc->ring_len = 0;
    lc->ring_start = 0;
}
