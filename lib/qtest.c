/*
 * qtest.c - QTest client: line framing, replies in request order, IRQs.
 *
 * Connection states (qt->failed):
 *
 *   OPEN --EOF, read error, garbage line, oversized line, reply deadline
 *   passed, write stalled mid-line (qtest_fail)--> FAILED
 *
 * FAILED is final and keeps the first error, which every later call
 * returns.  A FAIL reply is not a failure of the connection: it answers
 * one request and the stream stays in step.
 *
 * Every request gets one slot in qt->slots, in the order it was written.
 * QEMU answers in that order, so each reply line fills the oldest slot
 * still empty (slots[n_done]); the filled slots are always a prefix of
 * the array.  A slot is "internal" when a blocking helper (readl, memread,
 * ...) owns it and "user" when it came from qhil_qtest_submit; collect
 * takes the oldest user slot, a helper takes its own slot by sequence
 * number, so both can be mixed freely.
 *
 * Incoming bytes go to qt->in; qtest_scan() cuts complete lines (after
 * "\n", a "\r" before it is dropped) and routes them on their first word:
 * "IRQ raise N" / "IRQ lower N" update the line table, "OK", "FAIL" (and
 * QEMU's rare "ERR") fill a slot, anything else is a protocol error.
 *
 * QEMU's QTest server asserts (and so aborts the whole machine) on most
 * malformed requests, so qtest_check_request() validates every line
 * against the command's argument list before it is written; unknown
 * commands pass through, QEMU answers them with FAIL.
 *
 * Large memory transfers are cut into QTEST_CHUNK-byte requests, with at
 * most QTEST_WINDOW of them in flight: one round trip per window instead
 * of one per chunk, and neither side ever holds a huge line.
 */
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/qtest.h>

#include "internal.h"

#define QTEST_MAX_LINE ((size_t)64 << 20) /* longest line either way */
#define QTEST_READ_CHUNK 65536
#define QTEST_MAX_READS 256           /* reads per dispatch, so one returns */
#define QTEST_MAX_IRQ_LINES 65536     /* highest IRQ number accepted + 1 */
#define QTEST_CHUNK ((size_t)1 << 20) /* bytes per memory request */
#define QTEST_WINDOW 4                /* memory requests in flight */
#define QTEST_BATCH 16384             /* queued request bytes per write */
#define QTEST_SHOW_MAX 60             /* bytes of a line quoted in errors */

typedef struct qtest_slot {
    uint64_t seq;
    bool internal; /* owned by a blocking helper, not by collect */
    bool done;     /* the reply is in */
    bool ok;       /* "OK" (else "FAIL"/"ERR") */
    char *text;    /* text after the status word, malloc'ed */
    char *req;     /* the request, cut short, for messages */
} qtest_slot;

typedef struct qtest_irq {
    bool level;
    uint64_t raised;  /* low -> high changes */
    uint64_t lowered; /* high -> low changes */
} qtest_irq;

struct qhil_qtest {
    int fd;
    bool failed;
    qhil_error failure; /* first error once failed */
    bool clock_allowed;

    qhil_buf in;     /* bytes read, not yet cut into lines */
    qhil_buf out;    /* submitted requests not yet written (batched) */
    size_t scan_pos; /* no '\n' in in.data before this */

    qtest_slot *slots; /* requests written, oldest first */
    size_t n_slots;
    size_t cap_slots;
    size_t n_done; /* slots[0..n_done) have their reply */
    uint64_t next_seq;

    qtest_irq *irqs; /* indexed by line number */
    size_t n_irqs;

    int cancel_fd; /* readable: every wait ends (borrowed), or -1 */
};

static int qtest_fail(qhil_qtest *qt, qhil_error *err, int code,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int qtest_fail(qhil_qtest *qt, qhil_error *err, int code,
                      const char *fmt, ...)
{
    va_list ap;

    if (!qt->failed) {
        va_start(ap, fmt);
        qhil_error_setv(&qt->failure, code, fmt, ap);
        va_end(ap);
        qt->failed = true;
    }
    return qhil_error_copy(err, &qt->failure);
}

static int qtest_check(const qhil_qtest *qt, qhil_error *err)
{
    if (qt->failed) {
        return qhil_error_copy(err, &qt->failure);
    }
    return QHIL_EOK;
}

/* Printable copy of at most QTEST_SHOW_MAX bytes of s, for messages:
 * control bytes become '?', a cut ends in "...".  Caller frees. */
static char *qtest_show(const char *s, size_t n)
{
    size_t show = n > QTEST_SHOW_MAX ? QTEST_SHOW_MAX : n;
    char *out = malloc(show + 4);
    size_t i;

    if (!out) {
        return NULL;
    }
    for (i = 0; i < show; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    strcpy(out + show, n > show ? "..." : "");
    return out;
}

/* ---- base64 (RFC 4648, with padding, as GLib writes it) ---------- */

static const char qtest_b64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t qtest_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Write the qtest_b64_len(n) characters encoding src[0..n) to dst. */
static void qtest_b64_encode(const unsigned char *src, size_t n, char *dst)
{
    size_t i;

    for (i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)src[i] << 16;

        if (left > 1) {
            v |= (uint32_t)src[i + 1] << 8;
        }
        if (left > 2) {
            v |= src[i + 2];
        }
        *dst++ = qtest_b64_digits[v >> 18];
        *dst++ = qtest_b64_digits[(v >> 12) & 63];
        *dst++ = left > 1 ? qtest_b64_digits[(v >> 6) & 63] : '=';
        *dst++ = left > 2 ? qtest_b64_digits[v & 63] : '=';
    }
}

static int qtest_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    return c == '/' ? 63 : -1;
}

/*
 * Check that s[0..n) is base64 in whole 4-character groups, '=' only as
 * padding at the very end; *out_len receives the decoded size.  When dst
 * is not NULL, also decode into it (out_len bytes).  Returns true if well
 * formed.  Stray bits in the last group are ignored, as GLib does.
 */
static bool qtest_b64_decode(const char *s, size_t n, unsigned char *dst,
                             size_t *out_len)
{
    size_t pad = 0;
    size_t i;

    if (n % 4 != 0) {
        return false;
    }
    if (n > 0 && s[n - 1] == '=') {
        pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
    }
    for (i = 0; i < n - pad; i++) {
        if (qtest_b64_value(s[i]) < 0) {
            return false;
        }
    }
    *out_len = n / 4 * 3 - pad;
    if (!dst) {
        return true;
    }
    for (i = 0; i < n; i += 4) {
        uint32_t v = 0;
        size_t k;

        for (k = 0; k < 4; k++) {
            int d = s[i + k] == '=' ? 0 : qtest_b64_value(s[i + k]);

            v = v << 6 | (uint32_t)d;
        }
        *dst++ = (unsigned char)(v >> 16);
        if (i + 4 < n || pad < 2) {
            *dst++ = (unsigned char)(v >> 8);
        }
        if (i + 4 < n || pad < 1) {
            *dst++ = (unsigned char)v;
        }
    }
    return true;
}

/* ---- request checks ---------------------------------------------- */

/*
 * Argument kinds, one letter each, for QEMU 7.2's parser of that argument
 * (strtoul-like with base 0 and no trailing text, g_assert on failure):
 *   u  unsigned 64-bit number     s  like u, but not 0 (a size)
 *   p  port number, <= 0xffff     t  signed 64-bit number
 *   n  int >= 0 (a GPIO index)    i  int
 *   h  "0x" and hex digit pairs   b  base64
 *   w  any word (QOM path, GPIO list name, ...)
 */
typedef struct qtest_cmd {
    const char *name;
    const char *args;
    size_t min_args; /* trailing arguments past this are optional */
} qtest_cmd;

static const qtest_cmd qtest_cmds[] = {
    {"readb", "u", 1},
    {"readw", "u", 1},
    {"readl", "u", 1},
    {"readq", "u", 1},
    {"writeb", "uu", 2},
    {"writew", "uu", 2},
    {"writel", "uu", 2},
    {"writeq", "uu", 2},
    {"inb", "p", 1},
    {"inw", "p", 1},
    {"inl", "p", 1},
    {"outb", "pu", 2},
    {"outw", "pu", 2},
    {"outl", "pu", 2},
    {"read", "us", 2},
    {"b64read", "us", 2},
    {"write", "ush", 3},
    {"b64write", "usb", 3},
    {"memset", "uuu", 3},
    {"clock_step", "t", 0},
    {"clock_set", "t", 1},
    {"irq_intercept_in", "w", 1},
    {"irq_intercept_out", "w", 1},
    {"set_irq_in", "wwni", 4},
    {"endianness", "", 0},
    {"module_load", "ww", 2},
};

/* Parse a number the way strtoull with base 0 reads a whole word:
 * "0x" hex, leading-0 octal or decimal, with an optional '-' when
 * sign_ok.  Returns false when the word is not exactly that or the
 * magnitude does not fit 64 bits. */
static bool qtest_parse_num(const char *s, size_t n, bool sign_ok, bool *neg,
                            uint64_t *mag)
{
    unsigned base = 10;
    uint64_t v = 0;
    size_t i = 0;

    *neg = false;
    if (sign_ok && n > 0 && s[0] == '-') {
        *neg = true;
        i = 1;
    }
    if (n - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    } else if (n - i >= 2 && s[i] == '0') {
        base = 8;
        i += 1;
    }
    if (i == n) {
        return false;
    }
    for (; i < n; i++) {
        int d;
        char c = s[i];

        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return false;
        }
        if ((unsigned)d >= base || v > (UINT64_MAX - (unsigned)d) / base) {
            return false;
        }
        v = v * base + (unsigned)d;
    }
    *mag = v;
    return true;
}

/* Check one argument word of kind k; *value gets a number's magnitude
 * (unsigned kinds).  Returns NULL or what is wrong. */
static const char *qtest_check_arg(char k, const char *s, size_t n,
                                   uint64_t *value)
{
    bool neg = false;
    uint64_t v = 0;
    size_t i;
    size_t len;

    *value = 0;
    switch (k) {
    case 'u':
    case 's':
    case 'p':
        if (!qtest_parse_num(s, n, false, &neg, &v)) {
            return "is not an unsigned 64-bit number";
        }
        if (k == 's' && v == 0) {
            return "is a size of 0";
        }
        if (k == 'p' && v > 0xffff) {
            return "is not a port number (0 to 0xffff)";
        }
        *value = v;
        return NULL;
    case 't':
        if (!qtest_parse_num(s, n, true, &neg, &v) ||
            v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
            return "is not a signed 64-bit number";
        }
        return NULL;
    case 'n':
    case 'i':
        if (!qtest_parse_num(s, n, k == 'i', &neg, &v) ||
            v > (neg ? (uint64_t)INT_MAX + 1 : (uint64_t)INT_MAX)) {
            return k == 'n' ? "is not a number from 0 to INT_MAX"
                            : "is not an int";
        }
        return NULL;
    case 'h':
        if (n < 4 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') ||
            n % 2 != 0) {
            return "is not 0x and pairs of hex digits";
        }
        for (i = 2; i < n; i++) {
            if (!strchr("0123456789abcdefABCDEF", s[i])) {
                return "is not 0x and pairs of hex digits";
            }
        }
        *value = (n - 2) / 2;
        return NULL;
    case 'b':
        if (!qtest_b64_decode(s, n, NULL, &len) || len == 0) {
            return "is not base64";
        }
        *value = len;
        return NULL;
    default:
        return NULL;
    }
}

/*
 * Check a request line (no newline) before it is sent: printable
 * characters, words separated by single blanks, and for the commands
 * QEMU knows, the right number and kind of arguments; sizes that match
 * the data; a reply that fits QTEST_MAX_LINE; clock commands only when
 * allowed.
 */
static int qtest_check_request(const qhil_qtest *qt, const char *line,
                               size_t len, qhil_error *err)
{
    const char *words[8];
    size_t wlen[8];
    uint64_t vals[8] = {0};
    size_t n_words = 0;
    size_t n_args;
    const qtest_cmd *cmd = NULL;
    const char *why = NULL;
    char *shown = NULL;
    size_t start = 0;
    size_t i;
    int rc = QHIL_EOK;

    if (len == 0) {
        return qhil_error_set(err, QHIL_EINVAL, "QTest request is empty");
    }
    if (len > QTEST_MAX_LINE) {
        return qhil_error_set(err, QHIL_ETOOBIG,
                              "QTest request of %zu bytes is over the %zu "
                              "byte limit",
                              len, QTEST_MAX_LINE);
    }
    shown = qtest_show(line, len);
    if (!shown) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i <= len && !why; i++) {
        unsigned char c = i < len ? (unsigned char)line[i] : ' ';

        if (c < 0x20 || c == 0x7f) {
            why = "has a control character (newline, tab, ...)";
        } else if (c == ' ' && i == start) {
            why = "has an empty word (a leading, trailing or double blank)";
        } else if (c == ' ' && n_words == QHIL_ARRAY_SIZE(words)) {
            why = "has too many words";
        } else if (c == ' ') {
            words[n_words] = line + start;
            wlen[n_words++] = i - start;
            start = i + 1;
        }
    }
    if (why) {
        rc = qhil_error_set(err, QHIL_EINVAL, "QTest request '%s' %s", shown,
                            why);
        goto cleanup;
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(qtest_cmds) && !cmd; i++) {
        if (strlen(qtest_cmds[i].name) == wlen[0] &&
            memcmp(qtest_cmds[i].name, words[0], wlen[0]) == 0) {
            cmd = &qtest_cmds[i];
        }
    }
    if (!cmd) {
        goto cleanup; /* QEMU answers "FAIL Unknown command" */
    }
    if ((!strcmp(cmd->name, "clock_step") || !strcmp(cmd->name, "clock_set")) &&
        !qt->clock_allowed) {
        rc = qhil_error_set(err, QHIL_EUNSUPPORTED,
                            "QTest %s refused: QEMU runs without the qtest "
                            "accelerator, so the CPU moves virtual time "
                            "itself (start QEMU with -accel qtest: "
                            "qhil_machine_opts.qtest_accel)",
                            cmd->name);
        goto cleanup;
    }
    n_args = n_words - 1;
    if (n_args < cmd->min_args || n_args > strlen(cmd->args)) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "QTest request '%s': %s takes %zu%s%s "
                            "argument(s), not %zu",
                            shown, cmd->name, cmd->min_args,
                            cmd->min_args < strlen(cmd->args) ? " or " : "",
                            cmd->min_args < strlen(cmd->args) ? "more" : "",
                            n_args);
        goto cleanup;
    }
    for (i = 1; i < n_words; i++) {
        why = qtest_check_arg(cmd->args[i - 1], words[i], wlen[i], &vals[i]);
        if (why) {
            rc = qhil_error_set(err, QHIL_EINVAL,
                                "QTest request '%s': argument %zu %s", shown, i,
                                why);
            goto cleanup;
        }
    }
    /* QEMU pads short hex data with zeros, and writes past the end of
     * short base64 data: the data must be exactly the size. */
    if ((!strcmp(cmd->name, "write") || !strcmp(cmd->name, "b64write")) &&
        vals[3] != vals[2]) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "QTest request '%s': the data is %" PRIu64
                            " bytes, the size says %" PRIu64,
                            shown, vals[3], vals[2]);
        goto cleanup;
    }
    if ((!strcmp(cmd->name, "read") && vals[2] > (QTEST_MAX_LINE - 8) / 2) ||
        (!strcmp(cmd->name, "b64read") &&
         vals[2] > (QTEST_MAX_LINE - 8) / 4 * 3)) {
        rc = qhil_error_set(err, QHIL_ETOOBIG,
                            "QTest %s of %" PRIu64 " bytes: the reply would "
                            "be over the %zu byte line limit (the memread "
                            "and bufread calls split large transfers)",
                            cmd->name, vals[2], QTEST_MAX_LINE);
    } else if (!strcmp(cmd->name, "memset") && vals[2] > QTEST_MAX_LINE) {
        /* QEMU allocates the whole size at once for memset. */
        rc = qhil_error_set(err, QHIL_ETOOBIG,
                            "QTest memset of %" PRIu64 " bytes: over the %zu "
                            "byte limit for one request (qhil_qtest_memset "
                            "splits large fills)",
                            vals[2], QTEST_MAX_LINE);
    }

cleanup:
    free(shown);
    return rc;
}

/* A QOM path or GPIO list name that will be one word of a request. */
static int qtest_check_word(const char *what, const char *s, qhil_error *err)
{
    size_t i;

    if (!s || !*s) {
        return qhil_error_set(err, QHIL_EINVAL, "QTest %s is empty", what);
    }
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c == 0x7f) {
            char *shown = qtest_show(s, strlen(s));

            qhil_error_set(err, QHIL_EINVAL,
                           "QTest %s '%s' has a blank or control "
                           "character, which the protocol cannot carry",
                           what, shown ? shown : "");
            free(shown);
            return QHIL_EINVAL;
        }
    }
    return QHIL_EOK;
}

/* ---- lifecycle ---------------------------------------------------- */

int qhil_qtest_new(int fd, qhil_qtest **out, qhil_error *err)
{
    qhil_qtest *qt;
    int rc;

    *out = NULL;
    rc = qhil_fd_prepare(fd);
    if (rc < 0) {
        close(fd);
        return qhil_error_set(err, rc, "QTest socket: %s", qhil_strerror(rc));
    }
    qt = calloc(1, sizeof(*qt));
    if (!qt) {
        close(fd);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qt->fd = fd;
    qt->clock_allowed = true;
    qt->next_seq = 1;
    qt->cancel_fd = -1;
    qhil_error_init(&qt->failure);
    qhil_buf_init(&qt->in, QTEST_MAX_LINE + QTEST_READ_CHUNK);
    qhil_buf_init(&qt->out, QTEST_MAX_LINE + 1);
    *out = qt;
    return QHIL_EOK;
}

void qhil_qtest_free(qhil_qtest *qt)
{
    size_t i;

    if (!qt) {
        return;
    }
    if (qt->fd >= 0) {
        close(qt->fd);
    }
    for (i = 0; i < qt->n_slots; i++) {
        free(qt->slots[i].text);
        free(qt->slots[i].req);
    }
    free(qt->slots);
    free(qt->irqs);
    qhil_buf_release(&qt->in);
    qhil_buf_release(&qt->out);
    qhil_error_release(&qt->failure);
    free(qt);
}

void qhil_qtest_set_clock_allowed(qhil_qtest *qt, bool allowed)
{
    qt->clock_allowed = allowed;
}

void qhil_qtest_set_cancel_fd(qhil_qtest *qt, int fd)
{
    qt->cancel_fd = fd < 0 ? -1 : fd;
}

int qhil_qtest_fd(const qhil_qtest *qt)
{
    return qt->fd;
}

size_t qhil_qtest_pending(const qhil_qtest *qt)
{
    size_t n = 0;
    size_t i;

    for (i = 0; i < qt->n_slots; i++) {
        n += !qt->slots[i].internal;
    }
    return n;
}

/* ---- incoming lines ----------------------------------------------- */

/* Parse a decimal number as QEMU prints it ("%d", "%" PRIi64): an
 * optional '-' when sign_ok, digits without leading zeros. */
static bool qtest_parse_dec(const char *s, size_t n, bool sign_ok, int64_t *out)
{
    bool neg = sign_ok && n > 0 && s[0] == '-';
    uint64_t v = 0;
    size_t i = neg ? 1 : 0;

    if (i == n || (s[i] == '0' && n - i > 1)) {
        return false;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' ||
            v > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static int qtest_irq_line(qhil_qtest *qt, bool level, const char *num, size_t n,
                          qhil_error *err)
{
    int64_t v = -1;
    size_t line;

    if (!qtest_parse_dec(num, n, false, &v) || v >= QTEST_MAX_IRQ_LINES) {
        char *shown = qtest_show(num, n);
        int rc = qtest_fail(qt, err, QHIL_EPROTO,
                            "QTest server sent an IRQ line number that is "
                            "not one from 0 to %d: '%s'",
                            QTEST_MAX_IRQ_LINES - 1, shown ? shown : "");

        free(shown);
        return rc;
    }
    line = (size_t)v;
    if (line >= qt->n_irqs) {
        size_t cap = qt->n_irqs ? qt->n_irqs : 32;
        qtest_irq *p;

        while (cap <= line) {
            cap *= 2;
        }
        p = realloc(qt->irqs, cap * sizeof(*p));
        if (!p) {
            return qtest_fail(qt, err, QHIL_ENOMEM, "out of memory");
        }
        memset(p + qt->n_irqs, 0, (cap - qt->n_irqs) * sizeof(*p));
        qt->irqs = p;
        qt->n_irqs = cap;
    }
    /* QEMU reports a change of the int level, so "raise" can repeat
     * (level 1, then 5); only a change of high/low is counted. */
    if (level && !qt->irqs[line].level) {
        qt->irqs[line].raised++;
    } else if (!level && qt->irqs[line].level) {
        qt->irqs[line].lowered++;
    }
    qt->irqs[line].level = level;
    return QHIL_EOK;
}

static int qtest_reply_line(qhil_qtest *qt, bool ok, const char *text, size_t n,
                            qhil_error *err)
{
    qtest_slot *s;

    if (qt->n_done == qt->n_slots) {
        char *shown = qtest_show(text, n);
        int rc = qtest_fail(qt, err, QHIL_EPROTO,
                            "QTest server sent a reply to no request: "
                            "'%s %s'",
                            ok ? "OK" : "FAIL", shown ? shown : "");

        free(shown);
        return rc;
    }
    s = &qt->slots[qt->n_done];
    s->text = malloc(n + 1);
    if (!s->text) {
        return qtest_fail(qt, err, QHIL_ENOMEM, "out of memory");
    }
    memcpy(s->text, text, n);
    s->text[n] = '\0';
    s->ok = ok;
    s->done = true;
    qt->n_done++;
    return QHIL_EOK;
}

/* Does line[0..n) start with word, followed by the end or a blank?
 * Sets *rest to what follows the blank. */
static bool qtest_word(const char *line, size_t n, const char *word,
                       const char **rest)
{
    size_t w = strlen(word);

    if (n < w || memcmp(line, word, w) != 0 || (n > w && line[w] != ' ')) {
        return false;
    }
    *rest = n > w ? line + w + 1 : line + w;
    return true;
}

static int qtest_route(qhil_qtest *qt, const char *line, size_t n,
                       qhil_error *err)
{
    const char *rest;
    char *shown;
    int rc;

    if (!memchr(line, '\0', n)) {
        if (qtest_word(line, n, "OK", &rest)) {
            return qtest_reply_line(qt, true, rest, n - (size_t)(rest - line),
                                    err);
        }
        if (qtest_word(line, n, "FAIL", &rest) ||
            qtest_word(line, n, "ERR", &rest)) {
            return qtest_reply_line(qt, false, rest, n - (size_t)(rest - line),
                                    err);
        }
        if (n > 10 && memcmp(line, "IRQ raise ", 10) == 0) {
            return qtest_irq_line(qt, true, line + 10, n - 10, err);
        }
        if (n > 10 && memcmp(line, "IRQ lower ", 10) == 0) {
            return qtest_irq_line(qt, false, line + 10, n - 10, err);
        }
    }
    shown = qtest_show(line, n);
    rc = qtest_fail(qt, err, QHIL_EPROTO,
                    "QTest server sent a line that is neither a reply nor "
                    "an IRQ report: '%s'",
                    shown ? shown : "");
    free(shown);
    return rc;
}

/* Route every complete line in qt->in; keep the unfinished one. */
static int qtest_scan(qhil_qtest *qt, qhil_error *err)
{
    char *data = qt->in.data;
    size_t len = qt->in.len;
    size_t start = 0;
    size_t from = qt->scan_pos;
    int rc = QHIL_EOK;

    for (;;) {
        char *nl = memchr(data + from, '\n', len - from);
        size_t end;

        if (!nl) {
            break;
        }
        end = (size_t)(nl - data);
        from = end + 1;
        if (end > start && data[end - 1] == '\r') {
            end--;
        }
        if (end - start > QTEST_MAX_LINE) {
            return qtest_fail(qt, err, QHIL_ETOOBIG,
                              "QTest line larger than the %zu byte limit",
                              QTEST_MAX_LINE);
        }
        rc = qtest_route(qt, data + start, end - start, err);
        if (rc < 0) {
            return rc;
        }
        start = from;
    }
    if (len - start > QTEST_MAX_LINE) {
        return qtest_fail(qt, err, QHIL_ETOOBIG,
                          "QTest line larger than the %zu byte limit",
                          QTEST_MAX_LINE);
    }
    qhil_buf_consume(&qt->in, start);
    qt->scan_pos = qt->in.len;
    return QHIL_EOK;
}

int qhil_qtest_dispatch(qhil_qtest *qt, qhil_error *err)
{
    int rc = qtest_check(qt, err);
    int reads = 0;

    /* Bounded: a peer that never stops talking cannot keep us here. */
    while (rc == QHIL_EOK && reads++ < QTEST_MAX_READS) {
        ssize_t n;

        rc = qhil_buf_reserve(&qt->in, QTEST_READ_CHUNK);
        if (rc < 0) {
            return qtest_fail(qt, err, rc, "QTest receive buffer: %s",
                              qhil_strerror(rc));
        }
        n = read(qt->fd, qt->in.data + qt->in.len, QTEST_READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return QHIL_EOK;
        }
        if (n < 0) {
            return qtest_fail(qt, err, -errno, "QTest read: %s",
                              strerror(errno));
        }
        if (n == 0) {
            return qtest_fail(qt, err, QHIL_EEOF,
                              qt->in.len ? "QTest connection closed in the "
                                           "middle of a line"
                                         : "QTest connection closed by "
                                           "QEMU");
        }
        qt->in.len += (size_t)n;
        qt->in.data[qt->in.len] = '\0';
        rc = qtest_scan(qt, err);
        if ((size_t)n < QTEST_READ_CHUNK) {
            break; /* drained: spare the read that would say EAGAIN */
        }
    }
    return rc;
}

/*
 * poll() the socket for events and the cancel fd, if one is set, for at
 * most timeout ms.  Returns the number of ready fds, QHIL_ECANCELED
 * (nothing recorded) when the cancel fd is readable, QHIL_EINVAL when it
 * is not open, or the sticky poll error.  *revents: the socket's.
 */
static int qtest_poll(qhil_qtest *qt, short events, int timeout, short *revents,
                      qhil_error *err)
{
    struct pollfd pfd[2] = {
        {.fd = qt->fd, .events = events},
        {.fd = qt->cancel_fd, .events = POLLIN},
    };
    nfds_t nfds = qt->cancel_fd >= 0 ? 2 : 1;
    int n = poll(pfd, nfds, timeout);

    *revents = 0;
    if (n < 0 && errno == EINTR) {
        return 0;
    }
    if (n < 0) {
        return qtest_fail(qt, err, -errno, "QTest poll: %s", strerror(errno));
    }
    if (n > 0 && nfds == 2 && (pfd[1].revents & POLLNVAL)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QTest: the cancel fd %d is not open",
                              qt->cancel_fd);
    }
    if (n > 0 && nfds == 2 && pfd[1].revents) {
        return QHIL_ECANCELED;
    }
    *revents = pfd[0].revents;
    return n;
}

/*
 * One round of a wait: poll until the socket is readable, the cancel fd
 * is readable (QHIL_ECANCELED) or deadline, then dispatch.  A wait's
 * first round (*first) always dispatches, without blocking when the
 * deadline has passed already, so replies and IRQ reports already in
 * the socket count before a timeout does.  Later rounds return
 * QHIL_ETIMEDOUT (not recorded) once the deadline passed, before
 * reading, so a peer that never stops sending (IRQ reports) cannot hold
 * a caller past its deadline.
 */
static int qtest_pump(qhil_qtest *qt, int64_t deadline, bool *first,
                      qhil_error *err)
{
    bool late = qhil_now() >= deadline;
    short revents;
    int n;

    if (late && !*first) {
        return QHIL_ETIMEDOUT;
    }
    *first = false;
    n = qtest_poll(qt, POLLIN, late ? 0 : qhil_deadline_poll_ms(deadline),
                   &revents, err);
    if (n < 0) {
        return n;
    }
    if (!late && n == 0 && qhil_now() >= deadline) {
        return QHIL_ETIMEDOUT;
    }
    return qhil_qtest_dispatch(qt, err);
}

/* ---- outgoing requests -------------------------------------------- */

/* Write all of data, reading whatever arrives meanwhile (QEMU stops
 * reading while its replies to us back up). */
static int qtest_write_all(qhil_qtest *qt, const char *data, size_t len,
                           int64_t deadline, qhil_error *err)
{
    size_t off = 0;
    int rc;

    while (off < len) {
        ssize_t n = send(qt->fd, data + off, len - off, MSG_NOSIGNAL);
        short revents;
        int p;

        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return qtest_fail(qt, err, errno == EPIPE ? QHIL_EEOF : -errno,
                              "QTest write: %s", strerror(errno));
        }
        p = qtest_poll(qt, POLLOUT | POLLIN, qhil_deadline_poll_ms(deadline),
                       &revents, err);
        if (p == QHIL_ECANCELED && off == 0) {
            return qhil_error_set(err, QHIL_ECANCELED,
                                  "interrupted before QEMU accepted a QTest "
                                  "request");
        }
        if (p == QHIL_ECANCELED) {
            return qtest_fail(qt, err, QHIL_ECANCELED,
                              "interrupted in the middle of writing a "
                              "QTest request");
        }
        if (p < 0) {
            return p;
        }
        if (qhil_now() >= deadline) {
            if (off == 0) {
                return qhil_error_set(err, QHIL_ETIMEDOUT,
                                      "QEMU did not accept a QTest request "
                                      "before the deadline");
            }
            /* Half a line is on the wire: the stream is unusable. */
            return qtest_fail(qt, err, QHIL_ETIMEDOUT,
                              "QTest write stalled in the middle of a "
                              "request");
        }
        if (p > 0 && (revents & (POLLIN | POLLHUP | POLLERR))) {
            rc = qhil_qtest_dispatch(qt, err);
            if (rc < 0) {
                return rc;
            }
        }
    }
    return QHIL_EOK;
}

static void qtest_slot_release(qtest_slot *s)
{
    free(s->text);
    free(s->req);
}

static void qtest_remove_slot(qhil_qtest *qt, size_t i)
{
    qtest_slot_release(&qt->slots[i]);
    if (qt->slots[i].done) {
        qt->n_done--;
    }
    memmove(&qt->slots[i], &qt->slots[i + 1],
            (qt->n_slots - i - 1) * sizeof(qt->slots[0]));
    qt->n_slots--;
}

static qtest_slot *qtest_find_slot(qhil_qtest *qt, uint64_t seq, size_t *at)
{
    size_t i;

    for (i = 0; i < qt->n_slots; i++) {
        if (qt->slots[i].seq == seq) {
            *at = i;
            return &qt->slots[i];
        }
    }
    return NULL;
}

/*
 * Check and write one request; req (the line plus room for the newline,
 * which this adds) is consumed.  *seq_out: the slot's sequence number.
 */
/*
 * Write the queued (pipelined) requests.  Their slots are registered
 * already, so any failure here is sticky: a request that was never sent
 * would otherwise wait for a reply forever.
 */
static int qtest_flush(qhil_qtest *qt, int64_t deadline, qhil_error *err)
{
    int rc;

    if (!qt->out.len) {
        return QHIL_EOK;
    }
    rc = qtest_write_all(qt, qt->out.data, qt->out.len, deadline, err);
    qhil_buf_consume(&qt->out, qt->out.len);
    if (rc < 0 && !qt->failed) {
        return qtest_fail(qt, err, rc, "QTest: queued requests not sent: %s",
                          qhil_error_message(err, rc));
    }
    return rc;
}

static int qtest_send(qhil_qtest *qt, qhil_buf *req, bool internal,
                      uint64_t *seq_out, int64_t deadline, qhil_error *err)
{
    qtest_slot *s;
    size_t at;
    uint64_t seq = 0;
    int rc;

    rc = qtest_check(qt, err);
    if (rc < 0) {
        return rc;
    }
    if (!req->data) {
        return qhil_error_set(err, QHIL_EINVAL, "QTest request is empty");
    }
    rc = qtest_check_request(qt, req->data, req->len, err);
    if (rc < 0) {
        return rc;
    }
    if (qt->n_slots == qt->cap_slots) {
        size_t cap = qt->cap_slots ? qt->cap_slots * 2 : 16;
        qtest_slot *p = realloc(qt->slots, cap * sizeof(*p));

        if (!p) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        qt->slots = p;
        qt->cap_slots = cap;
    }
    seq = qt->next_seq++;
    s = &qt->slots[qt->n_slots];
    *s = (qtest_slot){.seq = seq, .internal = internal};
    s->req = qtest_show(req->data, req->len);
    if (!s->req || qhil_buf_append(req, "\n", 1) < 0) {
        free(s->req);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (qt->out.len) {
        /* Batched requests go first, and with this one in one write. */
        rc = qhil_buf_append(&qt->out, req->data, req->len);
        if (rc < 0) {
            free(s->req);
            return qhil_error_set(err, rc, "QTest request queue: %s",
                                  qhil_strerror(rc));
        }
        qt->n_slots++;
        *seq_out = seq;
        if (!internal && qt->out.len < QTEST_BATCH) {
            return QHIL_EOK;
        }
        return qtest_flush(qt, deadline, err);
    }
    if (!internal) {
        /* Pipelined: queue it; written when the queue fills or a reply
         * is waited for (one write for many requests). */
        rc = qhil_buf_append(&qt->out, req->data, req->len);
        if (rc < 0) {
            free(s->req);
            return qhil_error_set(err, rc, "QTest request queue: %s",
                                  qhil_strerror(rc));
        }
        qt->n_slots++;
        *seq_out = seq;
        return QHIL_EOK;
    }
    /* Register before writing: replies are read while writing. */
    qt->n_slots++;
    rc = qtest_write_all(qt, req->data, req->len, deadline, err);
    if (rc < 0) {
        if (!qt->failed && qtest_find_slot(qt, seq, &at)) {
            qtest_remove_slot(qt, at);
        }
        return rc;
    }
    *seq_out = seq;
    return QHIL_EOK;
}

/* Turn a FAIL reply to req into an error. */
static int qtest_fail_reply(const char *req, const char *text, qhil_error *err)
{
    if (!strcmp(text, "Unknown command 'clock_step'") ||
        !strcmp(text, "Unknown command 'clock_set'")) {
        return qhil_error_set(err, QHIL_EUNSUPPORTED,
                              "QEMU has no QTest %s: it runs without the "
                              "qtest accelerator, so the CPU moves virtual "
                              "time itself (start it with -accel qtest, "
                              "qhil_machine_opts.qtest_accel)",
                              strstr(text, "clock_set") ? "clock_set"
                                                        : "clock_step");
    }
    return qhil_error_set(err, QHIL_ECMD, "QTest request '%s' failed: %s", req,
                          *text ? text : "(QEMU gave no reason)");
}

/* Wait for the slot with sequence number seq and take it out: its text
 * (OK) goes to *text (may be NULL), a FAIL becomes an error. */
static int qtest_wait_slot(qhil_qtest *qt, uint64_t seq, char **text,
                           int64_t deadline, qhil_error *err)
{
    int frc = qtest_flush(qt, deadline, err);
    bool first = true;

    if (frc < 0) {
        return frc;
    }
    for (;;) {
        size_t at = 0;
        qtest_slot *s = qtest_find_slot(qt, seq, &at);
        int rc;

        if (!s) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "no QTest request is waiting for a "
                                  "reply");
        }
        if (s->done) {
            rc = s->ok ? QHIL_EOK : qtest_fail_reply(s->req, s->text, err);
            if (rc == QHIL_EOK && text) {
                *text = s->text;
                s->text = NULL;
            }
            qtest_remove_slot(qt, at);
            return rc;
        }
        rc = qtest_check(qt, err);
        if (rc < 0) {
            return rc;
        }
        rc = qtest_pump(qt, deadline, &first, err);
        if (rc == QHIL_ETIMEDOUT || rc == QHIL_ECANCELED) {
            /* A late reply would land in the next request's place. */
            s = qtest_find_slot(qt, seq, &at);
            return qtest_fail(qt, err, rc,
                              rc == QHIL_ETIMEDOUT
                                  ? "no reply to QTest request '%s' before "
                                    "the deadline"
                                  : "interrupted while waiting for the "
                                    "reply to QTest request '%s'",
                              s && s->req ? s->req : "");
        }
        if (rc < 0 && !qt->failed) {
            return rc;
        }
        /* After a failure, a reply routed before it is still good. */
    }
}

int qhil_qtest_submit(qhil_qtest *qt, const char *line, int64_t deadline,
                      qhil_error *err)
{
    qhil_buf req;
    uint64_t seq = 0;
    int rc;

    if (!line) {
        return qhil_error_set(err, QHIL_EINVAL, "QTest request is NULL");
    }
    qhil_buf_init(&req, QTEST_MAX_LINE + 1);
    rc = qhil_buf_puts(&req, line);
    if (rc < 0) {
        rc = qhil_error_set(err, rc, "QTest request: %s", qhil_strerror(rc));
        goto cleanup;
    }
    rc = qtest_send(qt, &req, false, &seq, deadline, err);

cleanup:
    qhil_buf_release(&req);
    return rc;
}

int qhil_qtest_flush(qhil_qtest *qt, int64_t deadline, qhil_error *err)
{
    int rc = qtest_check(qt, err);

    return rc < 0 ? rc : qtest_flush(qt, deadline, err);
}

int qhil_qtest_collect(qhil_qtest *qt, char **reply, int64_t deadline,
                       qhil_error *err)
{
    size_t i;

    if (reply) {
        *reply = NULL;
    }
    for (i = 0; i < qt->n_slots; i++) {
        if (!qt->slots[i].internal) {
            return qtest_wait_slot(qt, qt->slots[i].seq, reply, deadline, err);
        }
    }
    if (qt->failed) {
        return qtest_check(qt, err);
    }
    return qhil_error_set(err, QHIL_EINVAL,
                          "no QTest request is waiting to be collected");
}

/* One request, one reply: the text after "OK" into *text (may be NULL;
 * caller frees). */
static int qtest_call(qhil_qtest *qt, qhil_buf *req, char **text,
                      int64_t deadline, qhil_error *err)
{
    uint64_t seq = 0;
    int rc;

    if (text) {
        *text = NULL;
    }
    rc = qtest_send(qt, req, true, &seq, deadline, err);
    if (rc < 0) {
        return rc;
    }
    return qtest_wait_slot(qt, seq, text, deadline, err);
}

/* A garbled reply to a request that is ours: the peer is not QEMU, or
 * out of step.  Sticky. */
static int qtest_bad_reply(qhil_qtest *qt, const char *what, const char *text,
                           qhil_error *err)
{
    char *shown = qtest_show(text, strlen(text));
    int rc = qtest_fail(qt, err, QHIL_EPROTO,
                        "QTest reply to %s is malformed: 'OK %s'", what,
                        shown ? shown : "");

    free(shown);
    return rc;
}

/* ---- registers ---------------------------------------------------- */

static int qtest_read_value(qhil_qtest *qt, char width, uint64_t addr,
                            uint64_t *value, int64_t deadline, qhil_error *err)
{
    qhil_buf req;
    char *text = NULL;
    uint64_t max = width == 'b'   ? 0xff
                   : width == 'w' ? 0xffff
                   : width == 'l' ? 0xffffffff
                                  : UINT64_MAX;
    bool neg;
    int rc;

    *value = 0;
    qhil_buf_init(&req, 128);
    if (qhil_buf_printf(&req, "read%c 0x%" PRIx64, width, addr) < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = qtest_call(qt, &req, &text, deadline, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (strncmp(text, "0x", 2) != 0 || strlen(text) > 18 ||
        !qtest_parse_num(text, strlen(text), false, &neg, value) ||
        *value > max) {
        char what[32];

        snprintf(what, sizeof(what), "read%c", width);
        rc = qtest_bad_reply(qt, what, text, err);
        *value = 0;
    }

cleanup:
    free(text);
    qhil_buf_release(&req);
    return rc;
}

static int qtest_write_value(qhil_qtest *qt, char width, uint64_t addr,
                             uint64_t value, int64_t deadline, qhil_error *err)
{
    qhil_buf req;
    int rc;

    qhil_buf_init(&req, 128);
    if (qhil_buf_printf(&req, "write%c 0x%" PRIx64 " 0x%" PRIx64, width, addr,
                        value) < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    } else {
        rc = qtest_call(qt, &req, NULL, deadline, err);
    }
    qhil_buf_release(&req);
    return rc;
}

int qhil_qtest_readb(qhil_qtest *qt, uint64_t addr, uint8_t *value,
                     int64_t deadline, qhil_error *err)
{
    uint64_t v;
    int rc = qtest_read_value(qt, 'b', addr, &v, deadline, err);

    *value = (uint8_t)v;
    return rc;
}

int qhil_qtest_readw(qhil_qtest *qt, uint64_t addr, uint16_t *value,
                     int64_t deadline, qhil_error *err)
{
    uint64_t v;
    int rc = qtest_read_value(qt, 'w', addr, &v, deadline, err);

    *value = (uint16_t)v;
    return rc;
}

int qhil_qtest_readl(qhil_qtest *qt, uint64_t addr, uint32_t *value,
                     int64_t deadline, qhil_error *err)
{
    uint64_t v;
    int rc = qtest_read_value(qt, 'l', addr, &v, deadline, err);

    *value = (uint32_t)v;
    return rc;
}

int qhil_qtest_readq(qhil_qtest *qt, uint64_t addr, uint64_t *value,
                     int64_t deadline, qhil_error *err)
{
    return qtest_read_value(qt, 'q', addr, value, deadline, err);
}

int qhil_qtest_writeb(qhil_qtest *qt, uint64_t addr, uint8_t value,
                      int64_t deadline, qhil_error *err)
{
    return qtest_write_value(qt, 'b', addr, value, deadline, err);
}

int qhil_qtest_writew(qhil_qtest *qt, uint64_t addr, uint16_t value,
                      int64_t deadline, qhil_error *err)
{
    return qtest_write_value(qt, 'w', addr, value, deadline, err);
}

int qhil_qtest_writel(qhil_qtest *qt, uint64_t addr, uint32_t value,
                      int64_t deadline, qhil_error *err)
{
    return qtest_write_value(qt, 'l', addr, value, deadline, err);
}

int qhil_qtest_writeq(qhil_qtest *qt, uint64_t addr, uint64_t value,
                      int64_t deadline, qhil_error *err)
{
    return qtest_write_value(qt, 'q', addr, value, deadline, err);
}

/* ---- memory ------------------------------------------------------- */

enum qtest_xfer {
    QTEST_HEX_READ,
    QTEST_HEX_WRITE,
    QTEST_B64_READ,
    QTEST_B64_WRITE,
    QTEST_MEMSET,
};

static const char *const qtest_xfer_cmd[] = {
    "read", "write", "b64read", "b64write", "memset",
};

/* The request for bytes [off, off + n) of a transfer into req. */
static int qtest_xfer_request(qhil_buf *req, enum qtest_xfer kind,
                              uint64_t addr, const unsigned char *data,
                              size_t n, uint8_t byte)
{
    static const char hex[] = "0123456789abcdef";
    size_t extra;
    char *p;
    size_t i;
    int rc;

    req->len = 0;
    rc = qhil_buf_printf(req, "%s 0x%" PRIx64 " %zu", qtest_xfer_cmd[kind],
                         addr, n);
    if (rc < 0) {
        return rc;
    }
    switch (kind) {
    case QTEST_HEX_WRITE:
        extra = 3 + 2 * n;
        break;
    case QTEST_B64_WRITE:
        extra = 1 + qtest_b64_len(n);
        break;
    case QTEST_MEMSET:
        return qhil_buf_printf(req, " 0x%02x", byte);
    default:
        return QHIL_EOK;
    }
    rc = qhil_buf_reserve(req, extra + 1); /* + the newline */
    if (rc < 0) {
        return rc;
    }
    p = req->data + req->len;
    *p++ = ' ';
    if (kind == QTEST_HEX_WRITE) {
        *p++ = '0';
        *p++ = 'x';
        for (i = 0; i < n; i++) {
            *p++ = hex[data[i] >> 4];
            *p++ = hex[data[i] & 15];
        }
    } else {
        qtest_b64_encode(data, n, p);
    }
    req->len += extra;
    req->data[req->len] = '\0';
    return QHIL_EOK;
}

static int qtest_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode the reply to a read of n bytes into dst. */
static int qtest_xfer_reply(qhil_qtest *qt, enum qtest_xfer kind,
                            const char *text, unsigned char *dst, size_t n,
                            qhil_error *err)
{
    size_t len = strlen(text);
    size_t got = 0;
    size_t i;

    if (kind == QTEST_HEX_READ) {
        if (len != 2 + 2 * n || text[0] != '0' || text[1] != 'x') {
            return qtest_bad_reply(qt, "read", text, err);
        }
        for (i = 0; i < n; i++) {
            int hi = qtest_hexval(text[2 + 2 * i]);
            int lo = qtest_hexval(text[3 + 2 * i]);

            if (hi < 0 || lo < 0) {
                return qtest_bad_reply(qt, "read", text, err);
            }
            dst[i] = (unsigned char)(hi << 4 | lo);
        }
    } else if (kind == QTEST_B64_READ) {
        if (!qtest_b64_decode(text, len, NULL, &got) || got != n) {
            return qtest_bad_reply(qt, "b64read", text, err);
        }
        qtest_b64_decode(text, len, dst, &got);
    }
    return QHIL_EOK;
}

/*
 * Move len bytes at addr, from src (writes) or to dst (reads), in
 * QTEST_CHUNK pieces with QTEST_WINDOW requests in flight.  On a FAIL the
 * requests already sent are still answered and their replies dropped, so
 * the stream stays in step.
 */
static int qtest_xfer(qhil_qtest *qt, enum qtest_xfer kind, uint64_t addr,
                      const unsigned char *src, unsigned char *dst, size_t len,
                      uint8_t byte, int64_t deadline, qhil_error *err)
{
    uint64_t seq[QTEST_WINDOW] = {0};
    size_t first = 0; /* oldest request in flight, index into seq */
    size_t n_flight = 0;
    size_t sent = 0; /* bytes requested */
    size_t done = 0; /* bytes answered */
    qhil_buf req;
    char *text = NULL;
    int rc;

    rc = qtest_check(qt, err);
    if (rc < 0 || len == 0) {
        return rc;
    }
    if (((kind == QTEST_HEX_WRITE || kind == QTEST_B64_WRITE) && !src) ||
        ((kind == QTEST_HEX_READ || kind == QTEST_B64_READ) && !dst)) {
        return qhil_error_set(err, QHIL_EINVAL, "QTest %s: buffer is NULL",
                              qtest_xfer_cmd[kind]);
    }
    if (len - 1 > UINT64_MAX - addr) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QTest %s of %zu bytes at 0x%" PRIx64
                              " runs past the end of the address space",
                              qtest_xfer_cmd[kind], len, addr);
    }
    qhil_buf_init(&req, QTEST_MAX_LINE + 1);
    while (done < len) {
        size_t n;

        while (sent < len && n_flight < QTEST_WINDOW) {
            n = len - sent > QTEST_CHUNK ? QTEST_CHUNK : len - sent;
            rc = qtest_xfer_request(&req, kind, addr + sent,
                                    src ? src + sent : NULL, n, byte);
            if (rc < 0) {
                rc = qhil_error_set(err, rc, "QTest %s request: %s",
                                    qtest_xfer_cmd[kind], qhil_strerror(rc));
                goto cleanup;
            }
            rc = qtest_send(qt, &req, true,
                            &seq[(first + n_flight) % QTEST_WINDOW], deadline,
                            err);
            if (rc < 0) {
                goto cleanup;
            }
            n_flight++;
            sent += n;
        }
        rc = qtest_wait_slot(qt, seq[first], &text, deadline, err);
        first = (first + 1) % QTEST_WINDOW;
        n_flight--;
        if (rc < 0) {
            goto cleanup;
        }
        n = len - done > QTEST_CHUNK ? QTEST_CHUNK : len - done;
        rc = qtest_xfer_reply(qt, kind, text, dst ? dst + done : NULL, n, err);
        if (rc < 0) {
            goto cleanup;
        }
        done += n;
        free(text);
        text = NULL;
    }

cleanup:
    /* Take the answers to what is still in flight (errors are kept in
     * the connection state if they matter). */
    while (n_flight > 0 && !qt->failed) {
        qtest_wait_slot(qt, seq[first], NULL, deadline, NULL);
        first = (first + 1) % QTEST_WINDOW;
        n_flight--;
    }
    free(text);
    qhil_buf_release(&req);
    return rc;
}

int qhil_qtest_memread(qhil_qtest *qt, uint64_t addr, void *buf, size_t len,
                       int64_t deadline, qhil_error *err)
{
    return qtest_xfer(qt, QTEST_HEX_READ, addr, NULL, buf, len, 0, deadline,
                      err);
}

int qhil_qtest_memwrite(qhil_qtest *qt, uint64_t addr, const void *buf,
                        size_t len, int64_t deadline, qhil_error *err)
{
    return qtest_xfer(qt, QTEST_HEX_WRITE, addr, buf, NULL, len, 0, deadline,
                      err);
}

int qhil_qtest_bufread(qhil_qtest *qt, uint64_t addr, void *buf, size_t len,
                       int64_t deadline, qhil_error *err)
{
    return qtest_xfer(qt, QTEST_B64_READ, addr, NULL, buf, len, 0, deadline,
                      err);
}

int qhil_qtest_bufwrite(qhil_qtest *qt, uint64_t addr, const void *buf,
                        size_t len, int64_t deadline, qhil_error *err)
{
    return qtest_xfer(qt, QTEST_B64_WRITE, addr, buf, NULL, len, 0, deadline,
                      err);
}

int qhil_qtest_memset(qhil_qtest *qt, uint64_t addr, uint8_t byte, size_t len,
                      int64_t deadline, qhil_error *err)
{
    return qtest_xfer(qt, QTEST_MEMSET, addr, NULL, NULL, len, byte, deadline,
                      err);
}

/* ---- clock -------------------------------------------------------- */

static int qtest_clock(qhil_qtest *qt, const char *cmd, bool with_ns,
                       int64_t ns, int64_t *now, int64_t deadline,
                       qhil_error *err)
{
    qhil_buf req;
    char *text = NULL;
    int64_t clock = 0;
    int rc;

    if (now) {
        *now = 0;
    }
    qhil_buf_init(&req, 128);
    rc = with_ns ? qhil_buf_printf(&req, "%s %" PRId64, cmd, ns)
                 : qhil_buf_puts(&req, cmd);
    if (rc < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = qtest_call(qt, &req, &text, deadline, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (!qtest_parse_dec(text, strlen(text), true, &clock)) {
        rc = qtest_bad_reply(qt, cmd, text, err);
        goto cleanup;
    }
    if (now) {
        *now = clock;
    }

cleanup:
    free(text);
    qhil_buf_release(&req);
    return rc;
}

int qhil_qtest_clock_step(qhil_qtest *qt, int64_t ns, int64_t *now,
                          int64_t deadline, qhil_error *err)
{
    return qtest_clock(qt, "clock_step", ns >= 0, ns, now, deadline, err);
}

int qhil_qtest_clock_set(qhil_qtest *qt, int64_t ns, int64_t *now,
                         int64_t deadline, qhil_error *err)
{
    if (ns < 0) {
        if (now) {
            *now = 0;
        }
        return qhil_error_set(err, QHIL_EINVAL,
                              "QTest clock_set: %" PRId64 " ns is before "
                              "the start of virtual time",
                              ns);
    }
    return qtest_clock(qt, "clock_set", true, ns, now, deadline, err);
}

/* ---- IRQs --------------------------------------------------------- */

static int qtest_intercept(qhil_qtest *qt, const char *cmd,
                           const char *qom_path, int64_t deadline,
                           qhil_error *err)
{
    qhil_buf req;
    int rc;

    rc = qtest_check_word("QOM path", qom_path, err);
    if (rc < 0) {
        return rc;
    }
    qhil_buf_init(&req, QTEST_MAX_LINE + 1);
    if (qhil_buf_printf(&req, "%s %s", cmd, qom_path) < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    } else {
        rc = qtest_call(qt, &req, NULL, deadline, err);
    }
    qhil_buf_release(&req);
    return rc;
}

int qhil_qtest_irq_intercept_in(qhil_qtest *qt, const char *qom_path,
                                int64_t deadline, qhil_error *err)
{
    return qtest_intercept(qt, "irq_intercept_in", qom_path, deadline, err);
}

int qhil_qtest_irq_intercept_out(qhil_qtest *qt, const char *qom_path,
                                 int64_t deadline, qhil_error *err)
{
    return qtest_intercept(qt, "irq_intercept_out", qom_path, deadline, err);
}

int qhil_qtest_set_irq_in(qhil_qtest *qt, const char *qom_path,
                          const char *name, int num, int level,
                          int64_t deadline, qhil_error *err)
{
    qhil_buf req;
    int rc;

    rc = qtest_check_word("QOM path", qom_path, err);
    if (rc < 0) {
        return rc;
    }
    /* QEMU's name for the unnamed list, as qdev_pass_gpios spells it. */
    if (!name || !*name) {
        name = "unnamed-gpio-in";
    }
    rc = qtest_check_word("GPIO list name", name, err);
    if (rc < 0) {
        return rc;
    }
    if (num < 0) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QTest set_irq_in: line %d is negative", num);
    }
    qhil_buf_init(&req, QTEST_MAX_LINE + 1);
    if (qhil_buf_printf(&req, "set_irq_in %s %s %d %d", qom_path, name, num,
                        level) < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    } else {
        rc = qtest_call(qt, &req, NULL, deadline, err);
    }
    qhil_buf_release(&req);
    return rc;
}

bool qhil_qtest_get_irq(qhil_qtest *qt, int num)
{
    return num >= 0 && (size_t)num < qt->n_irqs && qt->irqs[num].level;
}

uint64_t qhil_qtest_irq_raised(qhil_qtest *qt, int num)
{
    if (num < 0 || (size_t)num >= qt->n_irqs) {
        return 0;
    }
    return qt->irqs[num].raised;
}

void qhil_qtest_clear_irq_counts(qhil_qtest *qt)
{
    size_t i;

    for (i = 0; i < qt->n_irqs; i++) {
        qt->irqs[i].raised = 0;
        qt->irqs[i].lowered = 0;
    }
}

/* Changes of line num towards level so far. */
static uint64_t qtest_irq_changes(const qhil_qtest *qt, int num, bool level)
{
    if ((size_t)num >= qt->n_irqs) {
        return 0;
    }
    return level ? qt->irqs[num].raised : qt->irqs[num].lowered;
}

int qhil_qtest_wait_irq(qhil_qtest *qt, int num, bool level, int64_t deadline,
                        qhil_error *err)
{
    uint64_t before;
    bool first = false; /* dispatched below, before the loop */
    int rc;

    if (num < 0) {
        return qhil_error_set(err, QHIL_EINVAL, "QTest IRQ line %d is negative",
                              num);
    }
    /* Take what has arrived: it may already say so.  A pulse (raise
     * and lower) that was still unread counts as seen. */
    before = qtest_irq_changes(qt, num, level);
    rc = qhil_qtest_dispatch(qt, err);
    for (;;) {
        if (qhil_qtest_get_irq(qt, num) == level ||
            qtest_irq_changes(qt, num, level) != before) {
            return QHIL_EOK;
        }
        if (rc < 0) {
            return rc;
        }
        rc = qtest_pump(qt, deadline, &first, err);
        if (rc == QHIL_ETIMEDOUT) {
            return qhil_error_set(err, rc,
                                  "QTest IRQ line %d was not %s before the "
                                  "deadline",
                                  num, level ? "raised" : "lowered");
        }
        if (rc == QHIL_ECANCELED) {
            return qhil_error_set(err, rc,
                                  "interrupted while waiting for QTest IRQ "
                                  "line %d to be %s",
                                  num, level ? "raised" : "lowered");
        }
    }
}
