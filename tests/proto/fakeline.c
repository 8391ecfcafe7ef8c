/*
 * fakeline.c - scripted line-protocol server for the QTest tests.
 *
 * A scenario is a text file with one directive per line; blank lines and
 * lines starting with '#' are ignored.  The first word is the directive,
 * the rest of the line (up to the line end, blanks kept) its argument:
 *
 *   expect TEXT    read one line from the client; without its "\n" it
 *                  must be exactly TEXT
 *   send TEXT      write TEXT and "\n"
 *   sendraw BYTES  write BYTES, a C-escaped string (\n \r \t \0 \\ \"
 *                  \xHH), exactly, with no line end added (so several
 *                  lines, half lines and garbage can be one write)
 *   split N        write what follows N bytes per write, pausing
 *                  LINE_SPLIT_PAUSE_US between writes; "split 0" ends it
 *   sleep MS       pause for MS milliseconds
 *   repeat N       the directives up to "end" are run N times; in them
 *   end            $I is replaced by the round (0, 1, ...) in decimal
 *                  and $X by the round in hex (no "0x")
 *   ram ADDR SIZE  give the peer SIZE zeroed bytes of memory at ADDR
 *   serve          answer QTest memory requests (readb..q, writeb..q,
 *                  read, write, b64read, b64write, memset) from that
 *                  memory, as QEMU would, until the client closes its
 *                  end; a request outside it or malformed fails the run.
 *                  Nothing may follow serve.
 *   close          shut down the sending side (the client sees EOF) and
 *                  end the scenario
 *
 * Each send and sendraw is one write unless split is on.
 *
 * After the last directive (or close) the peer reads until the client
 * closes its end: anything the client sends then fails the run.  Writes
 * to a client that already closed are skipped, not failed.  Every read
 * and write has a deadline of FAKELINE_STEP_TIMEOUT_MS.
 *
 * The peer runs in a forked child.  The parent parses the scenario; the
 * child runs it, and on the first difference writes one line ("FILE:LINE:
 * expected ..., client sent ...") to a report pipe and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fakeline.h"

#define LINE_SPLIT_PAUSE_US 300
#define LINE_SHOW_MAX 200          /* bytes quoted in a report */
#define LINE_INPUT_MAX (16u << 20) /* longest line the client may send */
#define LINE_RAM_MAX (64u << 20)
#define LINE_EOF 0
#define LINE_TIMEOUT (-2)

enum op {
    OP_EXPECT,
    OP_SEND,
    OP_SENDRAW,
    OP_SPLIT,
    OP_SLEEP,
    OP_RAM,
    OP_SERVE,
    OP_CLOSE,
};

struct step {
    enum op op;
    int line;
    char *text; /* expect, send, sendraw */
    size_t len;
    unsigned long num; /* split, sleep, ram size */
    uint64_t addr;     /* ram */
};

struct script {
    const char *path;
    struct step *steps;
    size_t n;
    size_t cap;
};

struct fakeline {
    pid_t pid;
    int report_fd;
};

/* Growable bytes; running out of memory ends the test program. */
struct bytes {
    char *data;
    size_t len;
    size_t cap;
};

struct peer {
    const struct script *sc;
    const struct step *step; /* for the FILE:LINE of reports */
    int fd;
    size_t split;
    bool client_gone;
    struct bytes in;
    unsigned char *ram;
    uint64_t ram_addr;
    size_t ram_size;
    char *why;
};

static void bytes_reserve(struct bytes *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    if (b->len + n + 1 <= b->cap) {
        return;
    }
    while (cap < b->len + n + 1) {
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (!p) {
        fputs("fakeline: out of memory\n", stderr);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

static void bytes_add(struct bytes *b, const void *data, size_t n)
{
    bytes_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void bytes_puts(struct bytes *b, const char *s)
{
    bytes_add(b, s, strlen(s));
}

static void bytes_consume(struct bytes *b, size_t n)
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

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline)
{
    int64_t left = deadline - mono_ms();

    return left < 0 ? 0 : (int)left;
}

static void pause_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000,
                          .tv_nsec = (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- base64, written independently of the client's ---------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const unsigned char *src, size_t n, struct bytes *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t chars = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        acc = acc << 8 | src[i];
        bits += 8;
        while (bits >= 6) {
            bytes_add(out, &b64_alphabet[(acc >> (bits - 6)) & 63], 1);
            bits -= 6;
            chars++;
        }
    }
    if (bits > 0) {
        bytes_add(out, &b64_alphabet[(acc << (6 - bits)) & 63], 1);
        chars++;
    }
    while (chars % 4 != 0) {
        bytes_add(out, "=", 1);
        chars++;
    }
}

/* Decode s; returns the byte count, or -1 when s is not padded base64. */
static long b64_decode(const char *s, unsigned char *dst, size_t room)
{
    size_t n = strlen(s);
    size_t data = n;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t out = 0;
    size_t i;

    if (n % 4 != 0) {
        return -1;
    }
    while (data > 0 && n - data < 2 && s[data - 1] == '=') {
        data--;
    }
    for (i = 0; i < data; i++) {
        const char *at = strchr(b64_alphabet, s[i]);

        if (!s[i] || !at) {
            return -1;
        }
        acc = acc << 6 | (uint32_t)(at - b64_alphabet);
        bits += 6;
        if (bits >= 8) {
            if (out == room) {
                return -1;
            }
            dst[out++] = (unsigned char)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return (long)out;
}

/* ---- scenario files ----------------------------------------------- */

static int hexval(char c)
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

/* Decode a C-escaped string; -1 with *bad at a faulty backslash. */
static int unescape(const char *s, struct bytes *out, const char **bad)
{
    while (*s) {
        char c = *s;

        if (c != '\\') {
            bytes_add(out, &c, 1);
            s++;
            continue;
        }
        switch (s[1]) {
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case '0':
            c = '\0';
            break;
        case '\\':
        case '"':
            c = s[1];
            break;
        case 'x':
            if (hexval(s[2]) < 0 || hexval(s[3]) < 0) {
                *bad = s;
                return -1;
            }
            c = (char)(hexval(s[2]) * 16 + hexval(s[3]));
            bytes_add(out, &c, 1);
            s += 4;
            continue;
        default:
            *bad = s;
            return -1;
        }
        bytes_add(out, &c, 1);
        s += 2;
    }
    bytes_reserve(out, 0);
    return 0;
}

/* A whole word as strtoull with base 0 reads it. */
static bool parse_u64(const char *s, uint64_t *v)
{
    char *end = NULL;

    if (*s < '0' || *s > '9') {
        return false;
    }
    errno = 0;
    *v = strtoull(s, &end, 0);
    return !errno && *end == '\0';
}

static void script_release(struct script *sc)
{
    size_t i;

    for (i = 0; i < sc->n; i++) {
        free(sc->steps[i].text);
    }
    free(sc->steps);
    sc->steps = NULL;
    sc->n = 0;
    sc->cap = 0;
}

static const struct {
    const char *name;
    enum op op;
} directives[] = {
    {"expect", OP_EXPECT}, {"send", OP_SEND},   {"sendraw", OP_SENDRAW},
    {"split", OP_SPLIT},   {"sleep", OP_SLEEP}, {"ram", OP_RAM},
    {"serve", OP_SERVE},   {"close", OP_CLOSE},
};

/* Parse one directive (word, then arg) into a new step of sc. */
static int script_add(struct script *sc, int lineno, const char *text)
{
    const char *word = text;
    size_t wlen = strcspn(word, " \t");
    const char *arg = word + wlen + strspn(word + wlen, " \t");
    struct bytes tmp = {0};
    const char *bad = NULL;
    struct step *st;
    char addr_text[32];
    char size_text[32];
    char extra;
    uint64_t size = 0;
    size_t i;

    for (i = 0; i < sizeof(directives) / sizeof(directives[0]); i++) {
        if (strlen(directives[i].name) == wlen &&
            memcmp(directives[i].name, word, wlen) == 0) {
            break;
        }
    }
    if (i == sizeof(directives) / sizeof(directives[0])) {
        fprintf(stderr,
                "%s:%d: unknown directive '%.*s' (expect, send, sendraw, "
                "split, sleep, repeat, end, ram, serve or close)\n",
                sc->path, lineno, (int)wlen, word);
        return -1;
    }
    if (sc->n > 0 && (sc->steps[sc->n - 1].op == OP_SERVE ||
                      sc->steps[sc->n - 1].op == OP_CLOSE)) {
        fprintf(stderr, "%s:%d: nothing may follow serve or close\n", sc->path,
                lineno);
        return -1;
    }
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        struct step *grown = realloc(sc->steps, cap * sizeof(*grown));

        if (!grown) {
            fprintf(stderr, "%s: out of memory\n", sc->path);
            return -1;
        }
        sc->steps = grown;
        sc->cap = cap;
    }
    st = &sc->steps[sc->n];
    memset(st, 0, sizeof(*st));
    st->op = directives[i].op;
    st->line = lineno;
    switch (st->op) {
    case OP_EXPECT:
    case OP_SEND:
        bytes_puts(&tmp, arg);
        if (st->op == OP_SEND) {
            bytes_add(&tmp, "\n", 1);
        }
        break;
    case OP_SENDRAW:
        if (unescape(arg, &tmp, &bad) < 0) {
            fprintf(stderr, "%s:%d: sendraw: bad escape at column %d\n",
                    sc->path, lineno, (int)(bad - text) + 1);
            free(tmp.data);
            return -1;
        }
        break;
    case OP_SPLIT:
    case OP_SLEEP:
        if (!parse_u64(arg, &size)) {
            fprintf(stderr, "%s:%d: %s: expected a number, got '%s'\n",
                    sc->path, lineno, directives[i].name, arg);
            return -1;
        }
        st->num = (unsigned long)size;
        break;
    case OP_RAM:
        if (sscanf(arg, "%31s %31s %c", addr_text, size_text, &extra) != 2 ||
            !parse_u64(addr_text, &st->addr) || !parse_u64(size_text, &size) ||
            size == 0 || size > LINE_RAM_MAX) {
            fprintf(stderr, "%s:%d: ram ADDR SIZE, SIZE from 1 to %u\n",
                    sc->path, lineno, LINE_RAM_MAX);
            return -1;
        }
        st->num = (unsigned long)size;
        break;
    case OP_SERVE:
    case OP_CLOSE:
        if (*arg) {
            fprintf(stderr, "%s:%d: %s takes no argument\n", sc->path, lineno,
                    directives[i].name);
            return -1;
        }
        break;
    }
    st->text = tmp.data;
    st->len = tmp.len;
    sc->n++;
    return 0;
}

/* Copy text with $I / $X replaced by round. */
static char *subst_round(const char *text, unsigned long round)
{
    struct bytes out = {0};
    char num[32];

    while (*text) {
        if (text[0] == '$' && (text[1] == 'I' || text[1] == 'X')) {
            snprintf(num, sizeof(num), text[1] == 'I' ? "%lu" : "%lx", round);
            bytes_puts(&out, num);
            text += 2;
        } else {
            bytes_add(&out, text, 1);
            text++;
        }
    }
    bytes_reserve(&out, 0);
    return out.data;
}

struct raw_line {
    int lineno;
    char *text;
};

static int script_load(const char *path, struct script *sc)
{
    FILE *f = fopen(path, "re");
    struct raw_line *block = NULL;
    size_t n_block = 0;
    unsigned long rounds = 0;
    bool in_repeat = false;
    int repeat_line = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0;
    int rc = -1;
    size_t i;

    sc->path = path;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        char *text = line;
        uint64_t count;

        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) {
            line[--got] = '\0';
        }
        text += strspn(text, " \t");
        if (!*text || *text == '#') {
            continue;
        }
        if (strncmp(text, "repeat ", 7) == 0) {
            if (in_repeat || !parse_u64(text + 7, &count)) {
                fprintf(stderr, "%s:%d: repeat N, not nested\n", path, lineno);
                goto cleanup;
            }
            in_repeat = true;
            repeat_line = lineno;
            rounds = (unsigned long)count;
            continue;
        }
        if (strcmp(text, "end") == 0) {
            unsigned long r;

            if (!in_repeat) {
                fprintf(stderr, "%s:%d: end without repeat\n", path, lineno);
                goto cleanup;
            }
            for (r = 0; r < rounds; r++) {
                for (i = 0; i < n_block; i++) {
                    char *expanded = subst_round(block[i].text, r);
                    int bad = script_add(sc, block[i].lineno, expanded);

                    free(expanded);
                    if (bad < 0) {
                        goto cleanup;
                    }
                }
            }
            for (i = 0; i < n_block; i++) {
                free(block[i].text);
            }
            n_block = 0;
            in_repeat = false;
            continue;
        }
        if (in_repeat) {
            struct raw_line *grown =
                realloc(block, (n_block + 1) * sizeof(*block));

            if (!grown || !(grown[n_block].text = strdup(text))) {
                block = grown ? grown : block;
                fprintf(stderr, "%s: out of memory\n", path);
                goto cleanup;
            }
            block = grown;
            block[n_block++].lineno = lineno;
            continue;
        }
        if (script_add(sc, lineno, text) < 0) {
            goto cleanup;
        }
    }
    if (in_repeat) {
        fprintf(stderr, "%s:%d: repeat without end\n", path, repeat_line);
        goto cleanup;
    }
    rc = 0;

cleanup:
    for (i = 0; i < n_block; i++) {
        free(block[i].text);
    }
    free(block);
    if (rc < 0) {
        script_release(sc);
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- the running peer ---------------------------------------------- */

static int peer_fail(struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int peer_fail(struct peer *p, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    int n;

    if (p->why) {
        return -1;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }
    va_end(ap);
    if (p->step) {
        n = asprintf(&p->why, "%s:%d: %s", p->sc->path, p->step->line,
                     msg ? msg : "failed");
    } else {
        n = asprintf(&p->why, "%s: %s", p->sc->path, msg ? msg : "failed");
    }
    if (n < 0) {
        p->why = NULL;
    }
    free(msg);
    return -1;
}

static int peer_write_all(struct peer *p, const char *data, size_t n)
{
    int64_t deadline = mono_ms() + FAKELINE_STEP_TIMEOUT_MS;
    size_t off = 0;

    while (off < n && !p->client_gone) {
        struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
        ssize_t w = send(p->fd, data + off, n - off, MSG_NOSIGNAL);

        if (w >= 0) {
            off += (size_t)w;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            p->client_gone = true;
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return peer_fail(p, "write: %s", strerror(errno));
        }
        if (poll(&pfd, 1, ms_left(deadline)) == 0 && mono_ms() >= deadline) {
            return peer_fail(p, "the client read nothing for %d ms",
                             FAKELINE_STEP_TIMEOUT_MS);
        }
    }
    return 0;
}

static int peer_write(struct peer *p, const char *data, size_t n)
{
    size_t piece = p->split ? p->split : n;
    size_t off = 0;

    while (off < n && !p->client_gone) {
        size_t k = n - off < piece ? n - off : piece;

        if (off > 0) {
            pause_us(LINE_SPLIT_PAUSE_US);
        }
        if (peer_write_all(p, data + off, k) < 0) {
            return -1;
        }
        off += k;
    }
    return 0;
}

/* Read more from the client until deadline: byte count, LINE_EOF,
 * LINE_TIMEOUT or -1 (reported). */
static int peer_read_more(struct peer *p, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        ssize_t r;

        if (p->in.len >= LINE_INPUT_MAX) {
            return peer_fail(p, "the client sent a line over %u bytes",
                             LINE_INPUT_MAX);
        }
        bytes_reserve(&p->in, 65536);
        r = read(p->fd, p->in.data + p->in.len, 65536);
        if (r > 0) {
            p->in.len += (size_t)r;
            p->in.data[p->in.len] = '\0';
            return (int)r;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            return LINE_EOF;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return peer_fail(p, "read: %s", strerror(errno));
        }
        if (poll(&pfd, 1, ms_left(deadline)) == 0 && mono_ms() >= deadline) {
            return LINE_TIMEOUT;
        }
    }
}

/*
 * Take one line from the client into *line (malloc'ed, no "\n").
 * Returns 1, 0 at a clean EOF when eof_ok, or -1 (reported).
 */
static int peer_read_line(struct peer *p, const char *want, bool eof_ok,
                          char **line)
{
    int64_t deadline = mono_ms() + FAKELINE_STEP_TIMEOUT_MS;

    for (;;) {
        char *nl = p->in.data ? memchr(p->in.data, '\n', p->in.len) : NULL;
        int n;

        if (nl) {
            size_t len = (size_t)(nl - p->in.data);

            *line = strndup(p->in.data, len);
            if (!*line || memchr(p->in.data, '\0', len)) {
                free(*line);
                *line = NULL;
                return peer_fail(p, "the client sent a NUL byte");
            }
            bytes_consume(&p->in, len + 1);
            return 1;
        }
        n = peer_read_more(p, deadline);
        if (n == LINE_EOF && eof_ok && p->in.len == 0) {
            return 0;
        }
        if (n == LINE_EOF) {
            return peer_fail(p,
                             "the client closed the connection%s; "
                             "expected %s",
                             p->in.len ? " in the middle of a line" : "", want);
        }
        if (n == LINE_TIMEOUT) {
            return peer_fail(
                p,
                "no complete line from the client within %d "
                "ms; expected %s, have '%.*s'",
                FAKELINE_STEP_TIMEOUT_MS, want,
                (int)(p->in.len > LINE_SHOW_MAX ? LINE_SHOW_MAX : p->in.len),
                p->in.data ? p->in.data : "");
        }
        if (n < 0) {
            return -1;
        }
    }
}

static int peer_expect(struct peer *p, const struct step *st)
{
    char *got = NULL;
    char *want = NULL;
    int rc;

    if (asprintf(&want, "'%.*s'", LINE_SHOW_MAX, st->text) < 0) {
        return peer_fail(p, "out of memory");
    }
    if (p->client_gone) {
        rc =
            peer_fail(p, "the client closed the connection; expected %s", want);
    } else if (peer_read_line(p, want, false, &got) != 1 || !got) {
        rc = -1;
    } else if (strcmp(got, st->text) != 0) {
        rc = peer_fail(p, "expected %s, the client sent '%.*s'", want,
                       LINE_SHOW_MAX, got);
    } else {
        rc = 0;
    }
    free(want);
    free(got);
    return rc;
}

/* ---- serve: a tiny QEMU memory ------------------------------------- */

/* Check [addr, addr + n) lies in the fake RAM; its offset to *off. */
static bool ram_range(const struct peer *p, uint64_t addr, uint64_t n,
                      size_t *off)
{
    if (!p->ram || addr < p->ram_addr || n > p->ram_size ||
        addr - p->ram_addr > p->ram_size - n) {
        return false;
    }
    *off = (size_t)(addr - p->ram_addr);
    return true;
}

/* Answer one request line into out; -1 (reported) if it is not one the
 * fake RAM can answer. */
static int serve_one(struct peer *p, char *req, struct bytes *out)
{
    char *words[5] = {0};
    size_t n_words = 0;
    char *save = NULL;
    char *w;
    uint64_t addr = 0;
    uint64_t size = 0;
    uint64_t value = 0;
    size_t off = 0;
    size_t i;
    unsigned width = 0;
    char text[64];
    char *copy = strdup(req);

    if (!copy) {
        return peer_fail(p, "out of memory");
    }
    for (w = strtok_r(copy, " ", &save); w && n_words < 5;
         w = strtok_r(NULL, " ", &save)) {
        words[n_words++] = w;
    }
    if (n_words < 2 || !parse_u64(words[1], &addr)) {
        goto bad;
    }
    if (!strcmp(words[0], "readb") || !strcmp(words[0], "readw") ||
        !strcmp(words[0], "readl") || !strcmp(words[0], "readq") ||
        !strcmp(words[0], "writeb") || !strcmp(words[0], "writew") ||
        !strcmp(words[0], "writel") || !strcmp(words[0], "writeq")) {
        bool write = words[0][0] == 'w';
        char wc = words[0][write ? 5 : 4];

        width = wc == 'b' ? 1 : wc == 'w' ? 2 : wc == 'l' ? 4 : 8;
        if (n_words != (write ? 3u : 2u) ||
            (write && !parse_u64(words[2], &value)) ||
            !ram_range(p, addr, width, &off)) {
            goto bad;
        }
        if (write) {
            for (i = 0; i < width; i++) {
                p->ram[off + i] = (unsigned char)(value >> (8 * i));
            }
            bytes_puts(out, "OK\n");
        } else {
            for (i = width; i-- > 0;) {
                value = value << 8 | p->ram[off + i];
            }
            snprintf(text, sizeof(text), "OK 0x%016" PRIx64 "\n", value);
            bytes_puts(out, text);
        }
    } else if (!strcmp(words[0], "read") || !strcmp(words[0], "b64read")) {
        if (n_words != 3 || !parse_u64(words[2], &size) || size == 0 ||
            !ram_range(p, addr, size, &off)) {
            goto bad;
        }
        if (words[0][0] == 'r') {
            bytes_puts(out, "OK 0x");
            for (i = 0; i < size; i++) {
                snprintf(text, sizeof(text), "%02x", p->ram[off + i]);
                bytes_puts(out, text);
            }
        } else {
            bytes_puts(out, "OK ");
            b64_encode(p->ram + off, (size_t)size, out);
        }
        bytes_puts(out, "\n");
    } else if (!strcmp(words[0], "write")) {
        if (n_words != 4 || !parse_u64(words[2], &size) || size == 0 ||
            !ram_range(p, addr, size, &off) ||
            strlen(words[3]) != 2 + 2 * size ||
            strncmp(words[3], "0x", 2) != 0) {
            goto bad;
        }
        for (i = 0; i < size; i++) {
            int hi = hexval(words[3][2 + 2 * i]);
            int lo = hexval(words[3][3 + 2 * i]);

            if (hi < 0 || lo < 0) {
                goto bad;
            }
            p->ram[off + i] = (unsigned char)(hi << 4 | lo);
        }
        bytes_puts(out, "OK\n");
    } else if (!strcmp(words[0], "b64write")) {
        if (n_words != 4 || !parse_u64(words[2], &size) || size == 0 ||
            !ram_range(p, addr, size, &off) ||
            b64_decode(words[3], p->ram + off, (size_t)size) != (long)size) {
            goto bad;
        }
        bytes_puts(out, "OK\n");
    } else if (!strcmp(words[0], "memset")) {
        if (n_words != 4 || !parse_u64(words[2], &size) ||
            !parse_u64(words[3], &value) || value > 0xff ||
            (size && !ram_range(p, addr, size, &off))) {
            goto bad;
        }
        memset(p->ram + off, (int)value, (size_t)size);
        bytes_puts(out, "OK\n");
    } else {
        goto bad;
    }
    free(copy);
    return 0;

bad:
    free(copy);
    return peer_fail(p,
                     "serve: the fake RAM (0x%" PRIx64 ", %zu bytes) cannot "
                     "answer '%.*s'",
                     p->ram_addr, p->ram_size, LINE_SHOW_MAX, req);
}

static int peer_serve(struct peer *p)
{
    struct bytes out = {0};
    char *req = NULL;
    int rc;

    for (;;) {
        rc = peer_read_line(p, "a memory request", true, &req);
        if (rc <= 0) {
            break;
        }
        out.len = 0;
        rc = serve_one(p, req, &out);
        free(req);
        req = NULL;
        if (rc < 0 || (rc = peer_write(p, out.data, out.len)) < 0) {
            break;
        }
    }
    free(out.data);
    return rc < 0 ? -1 : 0;
}

/* End of the scenario: read until the client closes; it must not have
 * sent anything more. */
static int peer_drain(struct peer *p)
{
    int64_t deadline = mono_ms() + FAKELINE_STEP_TIMEOUT_MS;
    int n;

    do {
        n = peer_read_more(p, deadline);
    } while (n > 0);
    if (n == -1) {
        return -1;
    }
    if (p->in.len > 0) {
        return peer_fail(
            p,
            "the client sent what the scenario does not "
            "expect: '%.*s'",
            (int)(p->in.len > LINE_SHOW_MAX ? LINE_SHOW_MAX : p->in.len),
            p->in.data);
    }
    if (n == LINE_TIMEOUT) {
        return peer_fail(p,
                         "the client did not close its end within %d ms "
                         "of the end of the scenario",
                         FAKELINE_STEP_TIMEOUT_MS);
    }
    return 0;
}

static int peer_run(struct peer *p)
{
    size_t i;

    for (i = 0; i < p->sc->n; i++) {
        const struct step *st = &p->sc->steps[i];
        int rc = 0;

        p->step = st;
        switch (st->op) {
        case OP_EXPECT:
            rc = peer_expect(p, st);
            break;
        case OP_SEND:
        case OP_SENDRAW:
            rc = peer_write(p, st->text, st->len);
            break;
        case OP_SPLIT:
            p->split = st->num;
            break;
        case OP_SLEEP:
            pause_us((long)st->num * 1000);
            break;
        case OP_RAM:
            free(p->ram);
            p->ram = calloc(1, st->num);
            if (!p->ram) {
                return peer_fail(p, "out of memory");
            }
            p->ram_addr = st->addr;
            p->ram_size = st->num;
            break;
        case OP_SERVE:
            return peer_serve(p);
        case OP_CLOSE:
            shutdown(p->fd, SHUT_WR);
            return peer_drain(p);
        }
        if (rc < 0) {
            return rc;
        }
    }
    p->step = NULL;
    return peer_drain(p);
}

static void close_other_fds(int a, int b)
{
    int lo = a < b ? a : b;
    int hi = a < b ? b : a;

    if (lo > 3) {
        close_range(3, (unsigned)lo - 1, 0);
    }
    if (hi > lo + 1) {
        close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    }
    close_range((unsigned)hi + 1, ~0u, 0);
}

static void peer_child(struct script *sc, int fd, int report_fd, pid_t parent)
{
    struct peer p = {.sc = sc, .fd = fd};
    int status = 2;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        goto cleanup;
    }
    close_other_fds(fd, report_fd);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        goto cleanup;
    }
    status = 0;
    if (peer_run(&p) < 0) {
        const char *why = p.why ? p.why : "failed";
        size_t len = strlen(why);

        while (len > 0) {
            ssize_t w = write(report_fd, why, len);

            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                break;
            }
            why += w;
            len -= (size_t)w;
        }
        status = 1;
    }

cleanup:
    free(p.why);
    free(p.in.data);
    free(p.ram);
    script_release(sc);
    _exit(status);
}

int fakeline_start(const char *path, fakeline **out, int *client_fd)
{
    struct script sc = {0};
    fakeline *fl = NULL;
    int sv[2] = {-1, -1};
    int rp[2] = {-1, -1};
    pid_t parent = getpid();
    pid_t pid;
    int rc = -1;

    *out = NULL;
    *client_fd = -1;
    if (script_load(path, &sc) < 0) {
        return -1;
    }
    fl = calloc(1, sizeof(*fl));
    if (!fl) {
        fprintf(stderr, "%s: out of memory\n", path);
        goto cleanup;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        pipe2(rp, O_CLOEXEC) < 0) {
        fprintf(stderr, "%s: socketpair/pipe: %s\n", path, strerror(errno));
        goto cleanup;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", path, strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        close(sv[0]);
        close(rp[0]);
        peer_child(&sc, sv[1], rp[1], parent);
    }
    fl->pid = pid;
    fl->report_fd = rp[0];
    rp[0] = -1;
    *client_fd = sv[0];
    sv[0] = -1;
    *out = fl;
    fl = NULL;
    rc = 0;

cleanup:
    if (sv[0] >= 0) {
        close(sv[0]);
    }
    if (sv[1] >= 0) {
        close(sv[1]);
    }
    if (rp[0] >= 0) {
        close(rp[0]);
    }
    if (rp[1] >= 0) {
        close(rp[1]);
    }
    free(fl);
    script_release(&sc);
    return rc;
}

int fakeline_finish(fakeline *fl, int timeout_ms, char **why)
{
    struct bytes report = {0};
    int64_t deadline;
    bool killed = false;
    int status = 0;
    int rc;

    if (why) {
        *why = NULL;
    }
    if (!fl) {
        return 0;
    }
    deadline = mono_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = {.fd = fl->report_fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, ms_left(deadline)) == 0 && mono_ms() >= deadline) {
            kill(fl->pid, SIGKILL);
            killed = true;
            break;
        }
        bytes_reserve(&report, 4096);
        r = read(fl->report_fd, report.data + report.len, 4096);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        report.len += (size_t)r;
        report.data[report.len] = '\0';
    }
    while (waitpid(fl->pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(fl->report_fd);
    free(fl);

    if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        free(report.data);
        return 0;
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc == 0) {
        rc = 1;
    }
    if (killed) {
        bytes_puts(&report, report.len ? " " : "");
        bytes_puts(&report, "(the fake peer was still running when the test "
                            "stopped waiting, and was killed)");
    } else if (!report.len) {
        char text[64];

        snprintf(text, sizeof(text), "the fake peer ended with status %d", rc);
        bytes_puts(&report, text);
    }
    if (why) {
        *why = report.data;
    } else {
        free(report.data);
    }
    return rc;
}
