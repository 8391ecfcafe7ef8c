/*
 * console.c - serial console: logging, streaming PCRE2 matching, input.
 *
 * The received stream is addressed by absolute byte offsets.  con->win
 * holds the bytes from offset con->base on; older bytes are dropped once
 * no matcher needs them (the log file keeps everything).
 *
 *   base          expect_pos                    base + win.len
 *    |  context     |  not yet matched by expect     |
 *
 * A match attempt passes PCRE2 the window from a little before its scan
 * position (so lookbehinds and ^ see the bytes before it) and uses
 * PCRE2_PARTIAL_SOFT: a complete match wins; otherwise PCRE2 reports the
 * earliest place where a match is still possible once more bytes come,
 * and the next attempt starts there instead of rescanning.
 *
 * Fail patterns each keep their own scan position and are run on every
 * read.  The first hit is recorded with its end offset; an expect whose
 * match ends at or before that offset still succeeds (the stream showed
 * it first), anything after fails with QHIL_EMATCH.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <fcntl.h>
#include <pcre2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/console.h>

#include "internal.h"

#define CON_READ_CHUNK 65536
#define CON_WINDOW_MAX ((size_t)8 << 20) /* unmatched output kept */
#define CON_TAIL_KEEP ((size_t)16 << 10) /* kept for qhil_console_tail */
#define CON_KICK_QUIET (100 * QHIL_MSEC)
#define CON_KICK_SPAN (2 * QHIL_SEC)
#define CON_SETTLE (50 * QHIL_MSEC) /* rest of a failing line */
#define CON_READ_BURST 16                /* reads per call, at most */

typedef struct con_pattern {
    char *source;
    pcre2_code *code;
    pcre2_match_data *md;
    uint32_t lookbehind;
    uint64_t scan; /* next offset where a match may start */
} con_pattern;

struct qhil_console {
    int fd;
    int log_fd;
    char *log_path;

    qhil_buf win;  /* bytes from offset base on */
    uint64_t base;
    uint64_t expect_pos; /* where the next expect starts */
    uint64_t dropped;    /* unmatched bytes dropped at the window cap */

    con_pattern *fails;
    size_t n_fails;

    bool failed;        /* a fail pattern matched */
    size_t fail_index;  /* which one */
    uint64_t fail_start; /* offsets of that match */
    uint64_t fail_end;
    bool eof;
    int read_errno;

    qhil_console_kick_fn kick;
    void *kick_data;
    int64_t last_send;
    int64_t last_activity; /* last byte received or kick */
};

static void con_pattern_release(con_pattern *p)
{
    free(p->source);
    pcre2_match_data_free(p->md);
    pcre2_code_free(p->code);
    memset(p, 0, sizeof(*p));
}

/* Compile with the options every console pattern uses. */
static int con_pattern_init(con_pattern *p, const char *source,
                            uint64_t scan, qhil_error *err)
{
    int errcode;
    PCRE2_SIZE erroff;

    memset(p, 0, sizeof(*p));
    p->code = pcre2_compile((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED,
                            PCRE2_MULTILINE, &errcode, &erroff, NULL);
    if (!p->code) {
        PCRE2_UCHAR msg[256];

        pcre2_get_error_message(errcode, msg, sizeof(msg));
        return qhil_error_set(err, QHIL_EINVAL,
                              "invalid pattern \"%s\": %s at offset %zu",
                              source, (const char *)msg, (size_t)erroff);
    }
    p->md = pcre2_match_data_create_from_pattern(p->code, NULL);
    p->source = strdup(source);
    if (!p->md || !p->source) {
        con_pattern_release(p);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (pcre2_pattern_info(p->code, PCRE2_INFO_MAXLOOKBEHIND,
                           &p->lookbehind) != 0) {
        p->lookbehind = 255;
    }
    p->scan = scan;
    return QHIL_EOK;
}

enum con_match { CON_NOMATCH, CON_PARTIAL, CON_MATCH };

/*
 * Try p on the window from p->scan.  On CON_MATCH, *start and *end are
 * absolute offsets; p->scan is left for the caller to move.  On no match
 * p->scan moves to where a later match could still begin.
 */
static enum con_match con_try(qhil_console *con, con_pattern *p,
                              uint64_t *start, uint64_t *end)
{
    uint64_t from = p->scan < con->base ? con->base : p->scan;
    uint64_t ctx = p->lookbehind + 1u;
    uint64_t subj;
    PCRE2_SIZE *ov;
    int rc;

    if (from > con->base + con->win.len) {
        from = con->base + con->win.len;
    }
    subj = from - con->base > ctx ? from - ctx : con->base;
    /* An empty window still has a subject: "" rather than NULL. */
    rc = pcre2_match(p->code,
                     (PCRE2_SPTR)(con->win.data ? con->win.data +
                                                      (subj - con->base)
                                                : ""),
                     con->win.len - (size_t)(subj - con->base),
                     (PCRE2_SIZE)(from - subj), PCRE2_PARTIAL_SOFT, p->md,
                     NULL);
    ov = pcre2_get_ovector_pointer(p->md);
    if (rc >= 0) {
        *start = subj + ov[0];
        *end = subj + ov[1];
        return CON_MATCH;
    }
    if (rc == PCRE2_ERROR_PARTIAL) {
        p->scan = subj + ov[0];
        return CON_PARTIAL;
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        p->scan = con->base + con->win.len;
    }
    /* Other failures (a pattern that hits PCRE2's backtracking limit)
     * keep the scan position: no byte is skipped, the wait times out. */
    return CON_NOMATCH;
}

int qhil_console_new(int fd, const char *log_path, qhil_console **out,
                     qhil_error *err)
{
    qhil_console *con;
    int rc;

    *out = NULL;
    rc = qhil_fd_prepare(fd);
    if (rc < 0) {
        close(fd);
        return qhil_error_set(err, rc, "console socket: %s",
                              qhil_strerror(rc));
    }
    con = calloc(1, sizeof(*con));
    if (!con) {
        close(fd);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    con->fd = fd;
    con->log_fd = -1;
    qhil_buf_init(&con->win, CON_WINDOW_MAX + CON_READ_CHUNK);
    if (log_path) {
        con->log_fd = open(log_path,
                           O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        con->log_path = strdup(log_path);
        if (con->log_fd < 0) {
            rc = -errno;
            qhil_console_free(con);
            return qhil_error_set(err, rc, "console log %s: %s", log_path,
                                  strerror(-rc));
        }
    }
    *out = con;
    return QHIL_EOK;
}

void qhil_console_free(qhil_console *con)
{
    size_t i;

    if (!con) {
        return;
    }
    if (con->fd >= 0) {
        close(con->fd);
    }
    if (con->log_fd >= 0) {
        close(con->log_fd);
    }
    for (i = 0; i < con->n_fails; i++) {
        con_pattern_release(&con->fails[i]);
    }
    free(con->fails);
    free(con->log_path);
    qhil_buf_release(&con->win);
    free(con);
}

int qhil_console_fd(const qhil_console *con)
{
    return con->fd;
}

uint64_t qhil_console_received(const qhil_console *con)
{
    return con->base + con->win.len;
}

uint64_t qhil_console_dropped(const qhil_console *con)
{
    return con->dropped;
}

void qhil_console_set_kick(qhil_console *con, qhil_console_kick_fn fn,
                           void *data)
{
    con->kick = fn;
    con->kick_data = data;
}

int qhil_console_add_fail_pattern(qhil_console *con, const char *pattern,
                                  qhil_error *err)
{
    con_pattern *v;
    int rc;

    v = realloc(con->fails, (con->n_fails + 1) * sizeof(*v));
    if (!v) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    con->fails = v;
    rc = con_pattern_init(&con->fails[con->n_fails], pattern,
                          con->base + con->win.len, err);
    if (rc < 0) {
        qhil_error_prefix(err, "fail_on");
        return rc;
    }
    con->n_fails++;
    return QHIL_EOK;
}

/* Text of [start, end) with unprintable bytes escaped; malloc'ed. */
static char *con_excerpt(const qhil_console *con, uint64_t start,
                         uint64_t end, size_t max)
{
    qhil_buf out;
    uint64_t i;

    qhil_buf_init(&out, max * 4 + 16);
    if (start < con->base) {
        start = con->base;
    }
    if (end > con->base + con->win.len) {
        end = con->base + con->win.len;
    }
    if (end - start > max) {
        start = end - max;
    }
    for (i = start; i < end; i++) {
        unsigned char c = (unsigned char)con->win.data[i - con->base];

        if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f) || c >= 0x80) {
            qhil_buf_append(&out, &c, 1);
        } else if (c != '\r') {
            qhil_buf_printf(&out, "\\x%02x", c);
        }
    }
    return qhil_buf_steal(&out);
}

/* Run the fail patterns over new output; record the first hit. */
static void con_check_fails(qhil_console *con)
{
    size_t i;

    for (i = 0; i < con->n_fails && !con->failed; i++) {
        con_pattern *p = &con->fails[i];
        uint64_t start;
        uint64_t end;

        if (con_try(con, p, &start, &end) == CON_MATCH) {
            con->failed = true;
            con->fail_index = i;
            con->fail_start = start;
            con->fail_end = end;
            p->scan = end;
        }
    }
}

/* Lowest offset any matcher or the tail still needs. */
static uint64_t con_needed_from(const qhil_console *con)
{
    uint64_t end = con->base + con->win.len;
    uint64_t need = con->expect_pos;
    size_t i;

    for (i = 0; i < con->n_fails; i++) {
        uint64_t s = con->fails[i].scan - (con->fails[i].lookbehind + 1u);

        if (con->fails[i].scan < con->fails[i].lookbehind + 1u) {
            s = 0;
        }
        if (s < need) {
            need = s;
        }
    }
    if (need > 256) {
        need -= 256; /* context for lookbehinds and ^ */
    } else {
        need = 0;
    }
    if (end - need < CON_TAIL_KEEP) {
        need = end > CON_TAIL_KEEP ? end - CON_TAIL_KEEP : 0;
    }
    return need;
}

/* Make room for one more read: drop what nobody needs, then, past the
 * cap, the oldest unmatched output. */
static int con_make_room(qhil_console *con)
{
    uint64_t need = con_needed_from(con);
    size_t drop = 0;

    if (need > con->base) {
        drop = (size_t)(need - con->base);
    }
    if (con->win.len - drop + CON_READ_CHUNK > con->win.max) {
        size_t over = con->win.len - drop + CON_READ_CHUNK - con->win.max;

        drop += over;
        if (con->base + drop > con->expect_pos) {
            con->dropped += con->base + drop - con->expect_pos;
            con->expect_pos = con->base + drop;
        }
    }
    if (drop) {
        qhil_buf_consume(&con->win, drop);
        con->base += drop;
    }
    return qhil_buf_reserve(&con->win, CON_READ_CHUNK);
}

/* Read what is available, at most CON_READ_BURST chunks so that a guest
 * that never stops talking cannot keep a caller past its deadline.  Sets
 * eof / read_errno. */
static int con_read(qhil_console *con, qhil_error *err)
{
    int burst;

    for (burst = 0; burst < CON_READ_BURST; burst++) {
        ssize_t n;
        int rc = con_make_room(con);

        if (rc < 0) {
            return qhil_error_set(err, rc, "console buffer: %s",
                                  qhil_strerror(rc));
        }
        n = read(con->fd, con->win.data + con->win.len, CON_READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return QHIL_EOK;
        }
        if (n <= 0) {
            con->eof = true;
            con->read_errno = n < 0 ? errno : 0;
            return QHIL_EOK;
        }
        if (con->log_fd >= 0) {
            const char *p = con->win.data + con->win.len;
            size_t left = (size_t)n;

            while (left > 0) {
                ssize_t w = write(con->log_fd, p, left);

                if (w < 0 && errno == EINTR) {
                    continue;
                }
                if (w <= 0) {
                    break; /* a full disk must not stop the test */
                }
                p += w;
                left -= (size_t)w;
            }
        }
        con->win.len += (size_t)n;
        con->win.data[con->win.len] = '\0';
        con->last_activity = qhil_now();
        con_check_fails(con);
        if ((size_t)n < CON_READ_CHUNK) {
            break; /* drained: spare the read that would say EAGAIN */
        }
    }
    return QHIL_EOK;
}

/* Give the guest a moment to finish the line a fail pattern hit, so the
 * message and the tail show all of it. */
static void con_settle_fail(qhil_console *con)
{
    int64_t deadline = qhil_deadline_in(CON_SETTLE);

    while (!con->eof && con->fail_end >= con->base && qhil_now() < deadline &&
           !memchr(con->win.data + (con->fail_end - con->base), '\n',
                   con->base + con->win.len - con->fail_end)) {
        struct pollfd pfd = {.fd = con->fd, .events = POLLIN};

        if (poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) <= 0 ||
            con_read(con, NULL) < 0) {
            break;
        }
    }
}

static int con_failed_error(qhil_console *con, qhil_error *err)
{
    uint64_t start = con->fail_start;
    uint64_t end = con->fail_end;
    uint64_t ls = start < con->base ? con->base : start;
    uint64_t le = end;
    char *text;
    int rc;

    con_settle_fail(con);
    /* Quote the whole line the match is on. */
    while (ls > con->base && start - ls < 200 &&
           con->win.data[ls - 1 - con->base] != '\n') {
        ls--;
    }
    while (le < con->base + con->win.len && le - end < 200 &&
           con->win.data[le - con->base] != '\n' &&
           con->win.data[le - con->base] != '\r') {
        le++;
    }
    text = con_excerpt(con, ls, le, 400);
    rc = qhil_error_set(err, QHIL_EMATCH,
                        "fail pattern \"%s\" matched console line \"%s\"",
                        con->fails[con->fail_index].source,
                        text ? text : "");
    free(text);
    return rc;
}

static int con_eof_error(const qhil_console *con, qhil_error *err)
{
    if (con->read_errno) {
        return qhil_error_set(err, QHIL_EEOF, "console read failed: %s",
                              strerror(con->read_errno));
    }
    return qhil_error_set(err, QHIL_EEOF,
                          "console closed by the other end (the machine "
                          "has gone)");
}

int qhil_console_dispatch(qhil_console *con, qhil_error *err)
{
    int rc;

    if (!con->eof) {
        rc = con_read(con, err);
        if (rc < 0) {
            return rc;
        }
    }
    if (con->failed) {
        return con_failed_error(con, err);
    }
    if (con->eof) {
        return con_eof_error(con, err);
    }
    return QHIL_EOK;
}

/* Kick the guest's input path if it has been quiet since a send. */
static void con_maybe_kick(qhil_console *con, int64_t now)
{
    if (!con->kick || !con->last_send || now - con->last_send > CON_KICK_SPAN)
    {
        return;
    }
    if (now - con->last_activity >= CON_KICK_QUIET) {
        con->last_activity = now;
        con->kick(con->kick_data);
    }
}

/* Wait for input until deadline (or the next kick time), then read. */
static int con_pump(qhil_console *con, int64_t deadline, qhil_error *err)
{
    struct pollfd pfd = {.fd = con->fd, .events = POLLIN};
    int64_t now = qhil_now();
    int64_t until = deadline;
    int n;

    if (con->kick && con->last_send && now - con->last_send <= CON_KICK_SPAN
        && con->last_activity + CON_KICK_QUIET < until) {
        until = con->last_activity + CON_KICK_QUIET;
    }
    n = poll(&pfd, 1, qhil_deadline_poll_ms(until));
    if (n < 0 && errno != EINTR) {
        return qhil_error_set(err, -errno, "console poll: %s",
                              strerror(errno));
    }
    if (n > 0) {
        return con_read(con, err);
    }
    con_maybe_kick(con, qhil_now());
    return QHIL_EOK;
}

int qhil_console_expect(qhil_console *con, const char *pattern,
                        int64_t deadline, char **matched, qhil_error *err)
{
    con_pattern pat;
    int rc;

    if (matched) {
        *matched = NULL;
    }
    rc = con_pattern_init(&pat, pattern, con->expect_pos, err);
    if (rc < 0) {
        return rc;
    }
    for (;;) {
        uint64_t start;
        uint64_t end;

        if (con->expect_pos > pat.scan) {
            pat.scan = con->expect_pos; /* window cap dropped bytes */
        }
        if (con_try(con, &pat, &start, &end) == CON_MATCH &&
            (!con->failed || end <= con->fail_end)) {
            con->expect_pos = end;
            if (matched) {
                *matched = con_excerpt(con, start, end, SIZE_MAX / 8);
            }
            rc = QHIL_EOK;
            break;
        }
        if (con->failed) {
            rc = con_failed_error(con, err);
            break;
        }
        if (con->eof) {
            rc = con_eof_error(con, err);
            break;
        }
        if (qhil_now() >= deadline) {
            if (con->dropped) {
                rc = qhil_error_set(err, QHIL_ETIMEDOUT,
                                    "pattern \"%s\" not seen before the "
                                    "deadline (%llu bytes of output were "
                                    "dropped unmatched: more than 8 MiB "
                                    "came between two matches)",
                                    pattern,
                                    (unsigned long long)con->dropped);
            } else {
                rc = qhil_error_set(err, QHIL_ETIMEDOUT,
                                    "pattern \"%s\" not seen before the "
                                    "deadline",
                                    pattern);
            }
            break;
        }
        rc = con_pump(con, deadline, err);
        if (rc < 0) {
            break;
        }
    }
    con_pattern_release(&pat);
    return rc;
}

int qhil_console_wait(qhil_console *con, int64_t deadline, qhil_error *err)
{
    for (;;) {
        int rc;

        if (con->failed) {
            return con_failed_error(con, err);
        }
        if (con->eof) {
            return con_eof_error(con, err);
        }
        if (qhil_now() >= deadline) {
            return QHIL_EOK;
        }
        rc = con_pump(con, deadline, err);
        if (rc < 0) {
            return rc;
        }
    }
}

int qhil_console_send(qhil_console *con, const void *data, size_t len,
                      int64_t deadline, qhil_error *err)
{
    const char *p = data;
    size_t off = 0;

    while (off < len) {
        struct pollfd pfd = {.fd = con->fd, .events = POLLOUT};
        ssize_t n = send(con->fd, p + off, len - off, MSG_NOSIGNAL);

        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            con->eof = true;
            return con_eof_error(con, err);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return qhil_error_set(err, -errno, "console write: %s",
                                  strerror(errno));
        }
        /* The guest is not reading: keep draining its output meanwhile
         * so neither side can block the other. */
        pfd.events = POLLOUT | POLLIN;
        if (poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) == 0 &&
            qhil_now() >= deadline) {
            return qhil_error_set(err, QHIL_ETIMEDOUT,
                                  "console input not taken before the "
                                  "deadline (%zu of %zu bytes sent)",
                                  off, len);
        }
        if (pfd.revents & POLLIN) {
            int rc = con_read(con, err);

            if (rc < 0) {
                return rc;
            }
        }
    }
    con->last_send = qhil_now();
    con->last_activity = con->last_send;
    if (con->kick) {
        con->kick(con->kick_data);
    }
    return QHIL_EOK;
}

char *qhil_console_tail(const qhil_console *con, size_t max_lines)
{
    uint64_t end = con->base + con->win.len;
    uint64_t start = end;
    size_t lines = 0;

    /* A trailing newline ends the last line; it does not start one. */
    if (start > con->base && con->win.data[start - 1 - con->base] == '\n') {
        start--;
    }
    while (start > con->base && end - start < CON_TAIL_KEEP) {
        if (con->win.data[start - 1 - con->base] == '\n' &&
            ++lines >= max_lines) {
            break;
        }
        start--;
    }
    return con_excerpt(con, start, end, CON_TAIL_KEEP);
}
