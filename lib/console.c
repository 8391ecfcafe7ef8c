/*
 * console.c - serial console: logging, streaming PCRE2 matching, input.
 *
 * The received stream is addressed by absolute byte offsets.  con->win
 * holds the bytes from offset con->base on; older bytes are dropped once
 * no matcher needs them (the log file keeps them).
 *
 *   base     scan - CON_CONTEXT   scan                  base + win.len
 *    |            |  context       |  not yet matched        |
 *
 * The rule: a match is reported only when no later byte could change it,
 * so the result is what PCRE2 gives when run once on the whole log from
 * the previous match end.  While the stream is open every attempt uses
 * PCRE2_PARTIAL_HARD: a path that reaches the end of the bytes received
 * so far (a $, \z, \b, lookahead or greedy repeat there) makes the
 * attempt partial, even if a complete match was also possible.  Once the
 * stream has ended (EOF) one last attempt runs without partial flags, as
 * the end of the data is then a true end.
 *
 * Each attempt gives PCRE2 the window from CON_CONTEXT bytes before the
 * scan position, with the start offset at the scan position: lookbehinds,
 * \b and ^ see the bytes before it, and the subject start (where ^ and \A
 * would match) is never reachable from a match that starts at the scan
 * position.  Patterns whose lookbehind needs more context are refused.
 *
 *   attempt result   next scan position
 *   complete match   (the caller moves it to the match end)
 *   partial          the start of the partial match
 *   no match         the end of the window (no start before it can match)
 *   error            kept; the error is reported (QHIL_EPATTERN)
 *
 * Fail patterns each keep their own scan position and are run on every
 * read.  The first hit (or match-time error) is recorded with its end
 * offset; an expect whose match ends at or before that offset still
 * succeeds (the stream showed it first), anything after fails.  While a
 * fail pattern holds a partial match that starts before an expect's
 * match end (or the expect a partial match that starts before the fail
 * match end), the expect waits for it to resolve: up to the caller's
 * deadline, and at most CON_SETTLE of silence.
 *
 * Observers (qhil_console_set_line_fn): right after each read appends
 * bytes, con_lines() hands out the lines complete in [line_pos, top),
 * top being the end of what arrived, or the output cap when that is
 * lower.  line_pos is always a line start or the end of a piece cut at
 * QHIL_CONSOLE_LINE_MAX, and less than that many bytes behind the end of
 * the window, which con_needed_from() keeps (so the window drop cannot
 * lose them).  At EOF, or at the cap, the rest goes out at once.  The
 * last expect match and the first fail match are copied when they are
 * found, as the window may drop their bytes later.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
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
#include "logcap.h"

#define CON_READ_CHUNK 65536
#define CON_WINDOW_MAX ((size_t)8 << 20) /* unmatched output kept */
#define CON_TAIL_KEEP ((size_t)16 << 10) /* kept for qhil_console_tail */
#define CON_CONTEXT 4096u                /* bytes kept before a scan */
#define CON_LOOKBEHIND_MAX 255u          /* characters, see con_refuse */
#define CON_KICK_QUIET (100 * QHIL_MSEC)
#define CON_KICK_SPAN (2 * QHIL_SEC)
#define CON_SETTLE (50 * QHIL_MSEC) /* rest of a failing line */
#define CON_READ_BURST 16           /* reads per call, at most */

typedef struct con_pattern {
    char *source;
    pcre2_code *code;
    pcre2_match_data *md;
    uint64_t scan; /* next offset where a match may start */
    int error;     /* PCRE2's code of a match-time error, or 0 */
    bool utf;      /* compiled with PCRE2_MATCH_INVALID_UTF */
} con_pattern;

struct qhil_console {
    int fd;
    int cancel_fd;
    bool log_open;
    qhil_logcap log;    /* console.log, head and tail past its limit */
    uint64_t log_limit; /* output allowed, bytes */

    qhil_buf win; /* bytes from offset base on */
    uint64_t base;
    uint64_t expect_pos; /* where the next expect starts */
    uint64_t dropped;    /* unmatched bytes dropped at the window cap */

    con_pattern *fails;
    size_t n_fails;

    bool failed;         /* a fail pattern matched, or could not be run */
    size_t fail_index;   /* which one */
    uint64_t fail_start; /* offsets of that match */
    uint64_t fail_end;
    bool eof;
    int read_errno;
    bool over; /* more than log_limit bytes received */

    qhil_console_kick_fn kick;
    void *kick_data;
    int64_t last_send;
    int64_t last_activity; /* last byte received or kick */
    int64_t last_rx;       /* last byte received */

    qhil_console_line_fn line_fn;
    void *line_data;
    uint64_t line_pos; /* first byte not handed out as a line yet */

    bool have_match;   /* an expect matched */
    uint64_t match_at; /* offset of its first byte */
    qhil_buf match;    /* its bytes, raw */
    bool have_fail;    /* the fail hit was a match (not an error) */
    qhil_buf fail;     /* the bytes of that match, raw */
};

static void con_pattern_release(con_pattern *p)
{
    free(p->source);
    pcre2_match_data_free(p->md);
    pcre2_code_free(p->code);
    memset(p, 0, sizeof(*p));
}

/*
 * Constructs the streaming matcher cannot give exactly, found in the
 * source: \G (it would match wherever the scan resumes), (*COMMIT) (its
 * "no further start positions" cannot be kept across reads) and
 * (*NOTEMPTY_ATSTART) (the start offset moves).  A static reason, or
 * NULL.  \Q...\E, character classes and escapes are skipped, so
 * "\\G" or "[G]" are fine.
 */
static const char *con_refused_construct(const char *s)
{
    bool quoted = false;
    bool cls = false;
    size_t i = 0;

    /* Leading (*NAME) and (*NAME=n) items: match options. */
    while (s[i] == '(' && s[i + 1] == '*') {
        const char *close = strchr(s + i, ')');

        if (!close) {
            break;
        }
        if (strncmp(s + i, "(*NOTEMPTY_ATSTART)", 19) == 0) {
            return "(*NOTEMPTY_ATSTART) is not supported on a stream (the "
                   "matcher's start offset moves as output arrives)";
        }
        i = (size_t)(close - s) + 1;
    }
    for (i = 0; s[i]; i++) {
        if (quoted) {
            if (s[i] == '\\' && s[i + 1] == 'E') {
                quoted = false;
                i++;
            }
            continue;
        }
        if (s[i] == '\\') {
            if (!s[i + 1]) {
                break;
            }
            if (s[i + 1] == 'Q') {
                quoted = true;
            } else if (s[i + 1] == 'G' && !cls) {
                return "\\G is not supported on a stream (it would match "
                       "wherever the matcher resumes after a read)";
            }
            i++;
            continue;
        }
        if (cls) {
            if (s[i] == '[' && s[i + 1] == ':') {
                const char *close = strstr(s + i + 2, ":]");

                if (close) {
                    i = (size_t)(close - s) + 1;
                }
            } else if (s[i] == ']') {
                cls = false;
            }
            continue;
        }
        if (s[i] == '[') {
            cls = true;
            if (s[i + 1] == '^') {
                i++;
            }
            if (s[i + 1] == ']') {
                i++; /* a leading ] is a literal */
            }
            continue;
        }
        if (strncmp(s + i, "(*COMMIT", 8) == 0) {
            return "(*COMMIT) is not supported on a stream (a failure "
                   "after it cannot stop matches in output not received "
                   "yet)";
        }
    }
    return NULL;
}

/*
 * Compile with the options every console pattern uses: PCRE2_MULTILINE,
 * plus PCRE2_MATCH_INVALID_UTF for (*UTF) patterns (invalid UTF-8 from
 * the guest then never matches instead of failing the match).  Then the
 * refusals: see con_refused_construct, two-byte newline conventions
 * (PCRE2 skips the middle of a CRLF as a start position, which a read
 * boundary there would not), and lookbehinds longer than the context.
 * *out: the compiled code, caller frees with pcre2_code_free.
 */
static int con_compile(const char *source, pcre2_code **out, qhil_error *err)
{
    pcre2_code *code;
    const char *why;
    uint32_t opts = 0;
    uint32_t nl = 0;
    uint32_t lb = 0;
    int errcode;
    PCRE2_SIZE erroff;

    *out = NULL;
    code = pcre2_compile((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED,
                         PCRE2_MULTILINE, &errcode, &erroff, NULL);
    if (code && pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &opts) == 0 &&
        (opts & PCRE2_UTF)) {
        pcre2_code_free(code);
        code = pcre2_compile((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED,
                             PCRE2_MULTILINE | PCRE2_MATCH_INVALID_UTF,
                             &errcode, &erroff, NULL);
    }
    if (!code) {
        PCRE2_UCHAR msg[256];

        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0) {
            msg[sizeof(msg) - 1] = '\0';
        }
        return qhil_error_set(err, QHIL_EINVAL,
                              "invalid pattern \"%s\": %s at offset %zu",
                              source, (const char *)msg, (size_t)erroff);
    }
    why = con_refused_construct(source);
    if (!why && pcre2_pattern_info(code, PCRE2_INFO_NEWLINE, &nl) == 0 &&
        (nl == PCRE2_NEWLINE_CRLF || nl == PCRE2_NEWLINE_ANY ||
         nl == PCRE2_NEWLINE_ANYCRLF)) {
        why = "the (*CRLF), (*ANY) and (*ANYCRLF) newline conventions are "
              "not supported on a stream (use the default, \\n; \\r\\n "
              "lines still end at the \\n)";
    }
    if (why) {
        pcre2_code_free(code);
        return qhil_error_set(err, QHIL_EINVAL, "invalid pattern \"%s\": %s",
                              source, why);
    }
    if (pcre2_pattern_info(code, PCRE2_INFO_MAXLOOKBEHIND, &lb) != 0 ||
        lb > CON_LOOKBEHIND_MAX) {
        pcre2_code_free(code);
        return qhil_error_set(err, QHIL_EINVAL,
                              "invalid pattern \"%s\": a lookbehind of %u "
                              "characters is longer than the %u the console "
                              "keeps before its scan position",
                              source, (unsigned)lb,
                              (unsigned)CON_LOOKBEHIND_MAX);
    }
    *out = code;
    return QHIL_EOK;
}

int qhil_console_pattern_check(const char *pattern, qhil_error *err)
{
    pcre2_code *code;
    int rc = con_compile(pattern, &code, err);

    pcre2_code_free(code);
    return rc;
}

static int con_pattern_init(con_pattern *p, const char *source, uint64_t scan,
                            qhil_error *err)
{
    int rc;

    memset(p, 0, sizeof(*p));
    rc = con_compile(source, &p->code, err);
    if (rc < 0) {
        return rc;
    }
    p->md = pcre2_match_data_create_from_pattern(p->code, NULL);
    p->source = strdup(source);
    if (!p->md || !p->source) {
        con_pattern_release(p);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    p->scan = scan;
    {
        uint32_t opts = 0;

        pcre2_pattern_info(p->code, PCRE2_INFO_ALLOPTIONS, &opts);
        p->utf = (opts & PCRE2_MATCH_INVALID_UTF) != 0;
    }
    return QHIL_EOK;
}

/* PCRE2's own words for a match-time error code. */
static void con_pcre2_message(int code, char *buf, size_t size)
{
    if (pcre2_get_error_message(code, (PCRE2_UCHAR *)buf, size) < 0) {
        snprintf(buf, size, "PCRE2 error %d", code);
    }
}

enum con_match { CON_NOMATCH, CON_PARTIAL, CON_MATCH, CON_ERROR };

/*
 * Length of the UTF-8 sequence at s[0..n): > 0 a valid character, < 0
 * minus the length of an invalid sequence (RFC 3629: no overlongs,
 * surrogates or code points over U+10FFFF), 0 a valid start cut short by
 * the end of the bytes.
 */
static int con_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    int len;
    int i;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return -1;
    }
    for (i = 1; i < len; i++) {
        if ((size_t)i >= n) {
            return 0;
        }
        if (s[i] < lo || s[i] > hi) {
            return -i;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return len;
}

/*
 * Where the last stretch of valid UTF-8 in [from, top) begins: just after
 * the last invalid sequence, or from.  A sequence cut short at top is not
 * invalid yet: *cut is where it starts (top if there is none).
 * Continuation bytes at from belong to a character that began before it
 * and are skipped.
 */
static uint64_t con_utf8_last_fragment(const qhil_console *con, uint64_t from,
                                       uint64_t top, uint64_t *cut)
{
    const unsigned char *w = (const unsigned char *)con->win.data;
    uint64_t at = from;
    uint64_t last = from;
    int k;

    for (k = 0; k < 3 && at < top && (w[at - con->base] & 0xc0) == 0x80; k++) {
        at++;
    }
    last = at;
    while (at < top) {
        int n = con_utf8_seq(w + (at - con->base), (size_t)(top - at));

        if (n == 0) {
            break;
        }
        if (n < 0) {
            at += (uint64_t)-n;
            last = at;
        } else {
            at += (uint64_t)n;
        }
    }
    *cut = at < top ? at : top;
    return last;
}

/*
 * Try p on the window from p->scan.  On CON_MATCH, *start and *end are
 * absolute offsets; p->scan is left for the caller to move.  On a
 * partial or no match p->scan moves to where a later match could still
 * begin.  On CON_ERROR p->error holds PCRE2's code.
 */
static enum con_match con_try(qhil_console *con, con_pattern *p,
                              uint64_t *start, uint64_t *end)
{
    uint64_t top = con->base + con->win.len;
    uint64_t from = p->scan;
    uint32_t opts = con->eof ? 0 : PCRE2_PARTIAL_HARD;
    uint64_t cut = top; /* end of the subject */
    uint64_t subj;
    PCRE2_SIZE *ov;
    int rc;

    /* Only after the window cap dropped bytes: keep the context. */
    if (con->base > 0 && from < con->base + CON_CONTEXT) {
        from = con->base + CON_CONTEXT;
    }
    if (from > top) {
        from = top;
    }
    /*
     * Invalid UTF-8 is a barrier no match crosses, so a match before the
     * last one is final and a plain attempt finds it; the partial attempt
     * runs on the last stretch only.  (PCRE2 10.42 with PARTIAL_HARD
     * gives up a whole stretch whose end a path reaches, losing matches
     * a plain attempt finds.)  A character cut short by the end of
     * what arrived is left out of the subject: PCRE2 would take it for
     * invalid UTF-8, not for the start of a match still to come.
     */
    if (p->utf && !con->eof) {
        uint64_t last = con_utf8_last_fragment(con, from, top, &cut);

        if (last > from) {
            subj = from - con->base >= CON_CONTEXT ? from - CON_CONTEXT
                                                   : con->base;
            rc = pcre2_match(p->code,
                             (PCRE2_SPTR)(con->win.data + (subj - con->base)),
                             (size_t)(cut - subj), (PCRE2_SIZE)(from - subj),
                             subj > 0 ? PCRE2_NOTBOL : 0, p->md, NULL);
            ov = pcre2_get_ovector_pointer(p->md);
            if (rc >= 0 && subj + ov[0] < last) {
                *start = subj + ov[0];
                *end = subj + ov[1];
                return CON_MATCH;
            }
            if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
                p->scan = from;
                p->error = rc;
                return CON_ERROR;
            }
            from = last;
        }
    }
    subj = from - con->base >= CON_CONTEXT ? from - CON_CONTEXT : con->base;
    if (subj > 0) {
        opts |= PCRE2_NOTBOL; /* the subject start is not a line start */
    }
    /* An empty window still has a subject: "" rather than NULL. */
    rc = pcre2_match(
        p->code,
        (PCRE2_SPTR)(con->win.data ? con->win.data + (subj - con->base) : ""),
        (size_t)(cut - subj), (PCRE2_SIZE)(from - subj), opts, p->md, NULL);
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
        p->scan = cut;
        return CON_NOMATCH;
    }
    p->scan = from;
    p->error = rc;
    return CON_ERROR;
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
        return qhil_error_set(err, rc, "console socket: %s", qhil_strerror(rc));
    }
    con = calloc(1, sizeof(*con));
    if (!con) {
        close(fd);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    con->fd = fd;
    con->cancel_fd = -1;
    con->log_limit = QHIL_LOGCAP_DEFAULT;
    qhil_buf_init(&con->win, CON_WINDOW_MAX + CON_READ_CHUNK);
    qhil_buf_init(&con->match, CON_WINDOW_MAX + CON_READ_CHUNK);
    qhil_buf_init(&con->fail, CON_WINDOW_MAX + CON_READ_CHUNK);
    if (log_path) {
        /* A new file only: never follow or truncate one planted there. */
        rc = qhil_logcap_init(&con->log, log_path, con->log_limit, err);
        if (rc < 0) {
            qhil_console_free(con);
            return rc;
        }
        con->log_open = true;
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
    if (con->log_open) {
        qhil_logcap_release(&con->log, "console output");
    }
    for (i = 0; i < con->n_fails; i++) {
        con_pattern_release(&con->fails[i]);
    }
    free(con->fails);
    qhil_buf_release(&con->win);
    qhil_buf_release(&con->match);
    qhil_buf_release(&con->fail);
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

void qhil_console_set_cancel_fd(qhil_console *con, int fd)
{
    con->cancel_fd = fd;
}

void qhil_console_set_line_fn(qhil_console *con, qhil_console_line_fn fn,
                              void *data)
{
    con->line_fn = fn;
    con->line_data = fn ? data : NULL;
}


/* Borrowed bytes of a copy; "" rather than NULL for an empty one. */
static const char *con_copy_bytes(const qhil_buf *b)
{
    return b->data ? b->data : "";
}

int qhil_console_last_match(const qhil_console *con, uint64_t *offset,
                            const char **bytes, size_t *len)
{
    if (!con->have_match) {
        return QHIL_ENOENT;
    }
    if (offset) {
        *offset = con->match_at;
    }
    if (bytes) {
        *bytes = con_copy_bytes(&con->match);
    }
    if (len) {
        *len = con->match.len;
    }
    return QHIL_EOK;
}

int qhil_console_fail_match(const qhil_console *con, size_t *index,
                            const char **pattern, uint64_t *offset,
                            const char **bytes, size_t *len)
{
    if (!con->have_fail) {
        return QHIL_ENOENT;
    }
    if (index) {
        *index = con->fail_index;
    }
    if (pattern) {
        *pattern = con->fails[con->fail_index].source;
    }
    if (offset) {
        *offset = con->fail_start;
    }
    if (bytes) {
        *bytes = con_copy_bytes(&con->fail);
    }
    if (len) {
        *len = con->fail.len;
    }
    return QHIL_EOK;
}

/*
 * Keep a raw copy of [start, end) of the window in b.  A copy that does
 * not fit in memory is empty and the result false: the caller then has
 * no match to show rather than a wrong one.
 */
static bool con_copy(const qhil_console *con, qhil_buf *b, uint64_t start,
                     uint64_t end)
{
    qhil_buf_consume(b, b->len);
    if (start < con->base || end < start || end > con->base + con->win.len) {
        return false;
    }
    return qhil_buf_append(b, con->win.data + (start - con->base),
                           (size_t)(end - start)) == QHIL_EOK;
}

void qhil_console_set_log_limit(qhil_console *con, uint64_t max_bytes)
{
    con->log_limit = max_bytes ? max_bytes : QHIL_LOGCAP_DEFAULT;
    con->over = con->base + con->win.len > con->log_limit;
    /* The file takes the new limit while nothing is in it yet: the same
     * split of head and tail as qhil_logcap_init makes. */
    if (con->log_open && con->log.total == 0 && !con->log.ring) {
        con->log.limit = con->log_limit;
        con->log.ring_size = con->log.limit / 2 < QHIL_LOGCAP_TAIL
                                 ? (size_t)(con->log.limit / 2)
                                 : QHIL_LOGCAP_TAIL;
        con->log.head_max = con->log.limit - con->log.ring_size;
    }
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
static char *con_excerpt(const qhil_console *con, uint64_t start, uint64_t end,
                         size_t max)
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
    if (end < start) {
        end = start;
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

/*
 * Run the fail patterns over new output; record the hit that ends first
 * in the stream.  A match-time error is a hit at the place the failing
 * attempt started.
 */
static void con_check_fails(qhil_console *con)
{
    size_t i;

    if (con->failed) {
        return;
    }
    for (i = 0; i < con->n_fails; i++) {
        con_pattern *p = &con->fails[i];
        uint64_t start = 0;
        uint64_t end = 0;
        enum con_match r = con_try(con, p, &start, &end);

        if (r == CON_ERROR) {
            start = end = p->scan;
        } else if (r != CON_MATCH) {
            continue;
        }
        if (!con->failed || end < con->fail_end) {
            con->failed = true;
            con->fail_index = i;
            con->fail_start = start;
            con->fail_end = end;
        }
    }
    if (con->failed && !con->fails[con->fail_index].error) {
        con->have_fail =
            con_copy(con, &con->fail, con->fail_start, con->fail_end);
    }
}

/* A fail pattern's partial match starts before end: it might still end
 * there. */
static bool con_fails_pending(const qhil_console *con, uint64_t end)
{
    size_t i;

    for (i = 0; i < con->n_fails; i++) {
        if (con->fails[i].scan < end) {
            return true;
        }
    }
    return false;
}

/* Lowest offset any matcher or the tail still needs. */
static uint64_t con_needed_from(const qhil_console *con)
{
    uint64_t end = con->base + con->win.len;
    uint64_t need = con->expect_pos;
    size_t i;

    for (i = 0; i < con->n_fails; i++) {
        if (con->fails[i].scan < need) {
            need = con->fails[i].scan;
        }
    }
    /* Context for lookbehinds, \b and ^, of the next expect too. */
    need = need > CON_CONTEXT ? need - CON_CONTEXT : 0;
    /* The line being received, not handed out yet. */
    if (con->line_pos < need && con->line_pos < con->log_limit && !con->eof) {
        need = con->line_pos;
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
        uint64_t keep_from;

        drop += over;
        keep_from = con->base + drop + CON_CONTEXT;
        if (keep_from > con->expect_pos) {
            con->dropped += keep_from - con->expect_pos;
            con->expect_pos = keep_from;
        }
    }
    if (drop) {
        qhil_buf_consume(&con->win, drop);
        con->base += drop;
    }
    return qhil_buf_reserve(&con->win, CON_READ_CHUNK);
}

/* Hand one line or piece to the observer. */
static void con_line_out(qhil_console *con, uint64_t at, size_t len, int cut)
{
    if (con->line_fn) {
        con->line_fn(con->line_data, at, con->win.data + (at - con->base), len,
                     cut);
    }
    con->line_pos = at + len;
}

/*
 * Hand out the lines complete in the window from line_pos on: up to each
 * LF (which is skipped), or QHIL_CONSOLE_LINE_MAX bytes with cut set
 * when a line is longer.  Nothing from the output cap on: the piece up
 * to it goes out, cut, as no more of the line will.  At EOF the last
 * line goes out even without its LF.  Runs while there is no observer
 * too, so one set later starts on a line boundary.
 */
static void con_lines(qhil_console *con)
{
    uint64_t top = con->base + con->win.len;
    bool capped = false;

    if (top > con->log_limit) {
        top = con->log_limit;
        capped = true;
    }
    if (con->line_pos < con->base) {
        con->line_pos = con->base; /* the cap moved up: cannot happen else */
    }
    while (con->line_pos < top) {
        uint64_t at = con->line_pos;
        size_t avail = (size_t)(top - at);
        size_t look =
            avail > QHIL_CONSOLE_LINE_MAX ? QHIL_CONSOLE_LINE_MAX + 1 : avail;
        const char *p = con->win.data + (at - con->base);
        const char *lf = memchr(p, '\n', look);

        if (lf) {
            con_line_out(con, at, (size_t)(lf - p), 0);
            con->line_pos++; /* the LF */
        } else if (avail > QHIL_CONSOLE_LINE_MAX) {
            con_line_out(con, at, QHIL_CONSOLE_LINE_MAX, 1);
        } else if (capped) {
            /* Whole only when the byte after the cap is its LF. */
            con_line_out(con, at, avail, p[avail] != '\n');
            con->line_pos = top;
        } else if (con->eof) {
            con_line_out(con, at, avail, 0);
        } else {
            break;
        }
    }
}

void qhil_console_end_lines(qhil_console *con)
{
    bool eof = con->eof;

    con->eof = true; /* con_lines' rule for the last line */
    con_lines(con);
    con->eof = eof;
}

/* Log new bytes (a full disk must not stop the test) and check the
 * output cap. */
static void con_log(qhil_console *con, const char *p, size_t n)
{
    if (con->log_open) {
        qhil_logcap_write(&con->log, p, n);
    }
    if (con->base + con->win.len + n > con->log_limit) {
        con->over = true;
    }
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
            con_lines(con);
            con_check_fails(con); /* the end is now a true end */
            return QHIL_EOK;
        }
        con_log(con, con->win.data + con->win.len, (size_t)n);
        con->win.len += (size_t)n;
        con->win.data[con->win.len] = '\0';
        con->last_activity = con->last_rx = qhil_now();
        con_lines(con);
        con_check_fails(con);
        if ((size_t)n < CON_READ_CHUNK) {
            break; /* drained: spare the read that would say EAGAIN */
        }
    }
    return QHIL_EOK;
}

/*
 * Wait until until for events on the socket or the cancel fd.  Returns
 * the socket's revents (0 at until), QHIL_ECANCELED when the cancel fd
 * is readable (it is not read), or a poll error.
 */
static int con_poll(qhil_console *con, short events, int64_t until,
                    qhil_error *err)
{
    struct pollfd pfd[2] = {
        {.fd = con->fd, .events = events},
        {.fd = con->cancel_fd, .events = POLLIN},
    };
    nfds_t n = con->cancel_fd >= 0 ? 2 : 1;
    int rc = poll(pfd, n, qhil_deadline_poll_ms(until));

    if (rc < 0) {
        if (errno == EINTR) {
            return 0;
        }
        return qhil_error_set(err, -errno, "console poll: %s", strerror(errno));
    }
    if (n == 2 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        return qhil_error_set(err, QHIL_ECANCELED, "interrupted");
    }
    return pfd[0].revents;
}

/* Give the guest a moment to finish the line a fail pattern hit, so the
 * message and the tail show all of it; never past deadline. */
static int con_settle_fail(qhil_console *con, int64_t deadline, qhil_error *err)
{
    int64_t until = qhil_deadline_in(CON_SETTLE);

    if (until > deadline) {
        until = deadline;
    }
    while (!con->eof && con->fail_end >= con->base && qhil_now() < until &&
           !memchr(con->win.data + (con->fail_end - con->base), '\n',
                   con->base + con->win.len - con->fail_end)) {
        int rc = con_poll(con, POLLIN, until, err);

        if (rc == QHIL_ECANCELED) {
            return rc;
        }
        if (rc <= 0 || con_read(con, NULL) < 0) {
            break;
        }
    }
    return QHIL_EOK;
}

static int con_failed_error(qhil_console *con, int64_t deadline,
                            qhil_error *err)
{
    const con_pattern *p = &con->fails[con->fail_index];
    uint64_t start = con->fail_start;
    uint64_t end = con->fail_end;
    uint64_t ls = start < con->base ? con->base : start;
    uint64_t le = end;
    char *text;
    int rc;

    if (p->error) {
        char msg[256];

        con_pcre2_message(p->error, msg, sizeof(msg));
        return qhil_error_set(err, QHIL_EPATTERN,
                              "fail pattern \"%s\" could not be matched: %s",
                              p->source, msg);
    }
    rc = con_settle_fail(con, deadline, err);
    if (rc < 0) {
        return rc;
    }
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
                        p->source, text ? text : "");
    free(text);
    return rc;
}

static int con_over_error(const qhil_console *con, qhil_error *err)
{
    return qhil_error_set(err, QHIL_ELIMIT,
                          "console output over %llu bytes (the log keeps "
                          "its head and its last bytes)",
                          (unsigned long long)con->log_limit);
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
        return con_failed_error(con, qhil_now(), err);
    }
    if (con->over) {
        return con_over_error(con, err);
    }
    if (con->eof) {
        return con_eof_error(con, err);
    }
    return QHIL_EOK;
}

/* Kick the guest's input path if it has been quiet since a send. */
static void con_maybe_kick(qhil_console *con, int64_t now, int64_t deadline)
{
    if (!con->kick || !con->last_send || now - con->last_send > CON_KICK_SPAN ||
        now >= deadline) {
        return;
    }
    if (now - con->last_activity >= CON_KICK_QUIET) {
        con->last_activity = now;
        con->kick(con->kick_data, deadline);
    }
}

/*
 * Wait for input until until (or the next kick time), then read.  An
 * until in the past makes it one non-blocking check.  deadline is the
 * caller's, for the kick.
 */
static int con_pump(qhil_console *con, int64_t until, int64_t deadline,
                    qhil_error *err)
{
    int64_t now = qhil_now();
    int rc;

    if (con->kick && con->last_send && now - con->last_send <= CON_KICK_SPAN &&
        con->last_activity + CON_KICK_QUIET < until) {
        until = con->last_activity + CON_KICK_QUIET;
    }
    rc = con_poll(con, POLLIN, until, err);
    if (rc < 0) {
        return rc;
    }
    if (rc > 0) {
        return con_read(con, err);
    }
    con_maybe_kick(con, qhil_now(), deadline);
    return QHIL_EOK;
}

/*
 * "pattern ... not seen before the deadline", plus what helps the reader:
 * the dropped bytes, or the text of a match still open at the end of the
 * output (a $, \z, \b, lookahead or greedy repeat that waits for the
 * next byte: the usual surprise when a prompt has no line end).
 */
static int con_timeout_error(const qhil_console *con, const con_pattern *pat,
                             enum con_match last, qhil_error *err)
{
    uint64_t end = con->base + con->win.len;
    char *open_text = NULL;
    int rc;

    if (con->dropped) {
        return qhil_error_set(err, QHIL_ETIMEDOUT,
                              "pattern \"%s\" not seen before the deadline "
                              "(%llu bytes of output were dropped unmatched: "
                              "more than 8 MiB came between two matches)",
                              pat->source, (unsigned long long)con->dropped);
    }
    if (last == CON_PARTIAL && pat->scan < end) {
        char *raw = con_excerpt(con, pat->scan, end, 80);
        qhil_buf b;
        const char *c;

        /* One line of message: line breaks shown as \n. */
        qhil_buf_init(&b, 80 * 2 + 1);
        for (c = raw; c && *c; c++) {
            if (*c == '\n') {
                qhil_buf_puts(&b, "\\n");
            } else {
                qhil_buf_append(&b, c, 1);
            }
        }
        free(raw);
        open_text = qhil_buf_steal(&b);
    }
    if (open_text && *open_text) {
        rc = qhil_error_set(err, QHIL_ETIMEDOUT,
                            "pattern \"%s\" not seen before the deadline "
                            "(a match was still open at the end of the "
                            "output, \"%s\": $, \\z, \\b, lookaheads and "
                            "greedy repeats there wait for the next byte)",
                            pat->source, open_text);
    } else {
        rc = qhil_error_set(err, QHIL_ETIMEDOUT,
                            "pattern \"%s\" not seen before the deadline",
                            pat->source);
    }
    free(open_text);
    return rc;
}

int qhil_console_expect(qhil_console *con, const char *pattern,
                        int64_t deadline, char **matched, qhil_error *err)
{
    con_pattern pat;
    enum con_match r = CON_NOMATCH;
    bool last = false;
    int rc;

    if (matched) {
        *matched = NULL;
    }
    rc = con_pattern_init(&pat, pattern, con->expect_pos, err);
    if (rc < 0) {
        return rc;
    }
    /* Bytes already in the socket count, whatever the deadline. */
    rc = con->eof ? QHIL_EOK : con_read(con, err);
    while (rc == QHIL_EOK) {
        uint64_t start = 0;
        uint64_t end = 0;
        int64_t until = deadline;

        if (con->expect_pos > pat.scan) {
            pat.scan = con->expect_pos; /* window cap dropped bytes */
        }
        r = con_try(con, &pat, &start, &end);
        if (r == CON_ERROR) {
            char msg[256];

            con_pcre2_message(pat.error, msg, sizeof(msg));
            rc = qhil_error_set(err, QHIL_EPATTERN,
                                "pattern \"%s\" could not be matched: %s",
                                pattern, msg);
            break;
        }
        if (r == CON_MATCH && (!con->failed || end <= con->fail_end) &&
            end <= con->log_limit) {
            int64_t now = qhil_now();

            /* A fail pattern that might still end first in the stream
             * is given its chance: the stream decides, not the reads. */
            if (!con->failed && !con->eof && !last &&
                con_fails_pending(con, end) &&
                now - con->last_rx < CON_SETTLE) {
                until = con->last_rx + CON_SETTLE;
                if (until > deadline) {
                    until = deadline;
                }
            } else {
                con->expect_pos = end;
                con->match_at = start;
                con->have_match = con_copy(con, &con->match, start, end);
                if (matched) {
                    *matched = con_excerpt(con, start, end, SIZE_MAX / 8);
                }
                break;
            }
        }
        /* Likewise a partial match of ours that might still end before
         * the fail match. */
        if (con->failed && r == CON_PARTIAL && pat.scan <= con->fail_end &&
            !last && qhil_now() - con->last_rx < CON_SETTLE) {
            until = con->last_rx + CON_SETTLE;
            if (until > deadline) {
                until = deadline;
            }
        } else if (con->failed) {
            rc = con_failed_error(con, deadline, err);
            break;
        }
        if (con->over) {
            rc = con_over_error(con, err);
            break;
        }
        if (con->eof) {
            rc = con_eof_error(con, err);
            break;
        }
        if (last) {
            rc = con_timeout_error(con, &pat, r, err);
            break;
        }
        /* Past the deadline: one more non-blocking read and try. */
        last = qhil_now() >= deadline;
        rc = con_pump(con, until, deadline, err);
    }
    con_pattern_release(&pat);
    return rc;
}

int qhil_console_wait(qhil_console *con, int64_t deadline, qhil_error *err)
{
    bool last = false;

    for (;;) {
        int rc;

        if (con->failed) {
            return con_failed_error(con, deadline, err);
        }
        if (con->over) {
            return con_over_error(con, err);
        }
        if (con->eof) {
            return con_eof_error(con, err);
        }
        if (last) {
            return QHIL_EOK;
        }
        last = qhil_now() >= deadline;
        rc = con_pump(con, deadline, deadline, err);
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
        ssize_t n = send(con->fd, p + off, len - off, MSG_NOSIGNAL);
        int rc;

        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            con->eof = true;
            con_lines(con);
            return con_eof_error(con, err);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return qhil_error_set(err, -errno, "console write: %s",
                                  strerror(errno));
        }
        /* The guest is not reading: keep draining its output meanwhile
         * so neither side can block the other. */
        rc = con_poll(con, POLLOUT | POLLIN, deadline, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0 && qhil_now() >= deadline) {
            return qhil_error_set(err, QHIL_ETIMEDOUT,
                                  "console input not taken before the "
                                  "deadline (%zu of %zu bytes sent)",
                                  off, len);
        }
        if (rc & POLLIN) {
            rc = con_read(con, err);
            if (rc < 0) {
                return rc;
            }
        }
    }
    con->last_send = qhil_now();
    con->last_activity = con->last_send;
    if (con->kick) {
        con->kick(con->kick_data, deadline);
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
