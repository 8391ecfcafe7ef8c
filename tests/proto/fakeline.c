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
 * and write has a deadline of SCN_STEP_TIMEOUT_MS.
 *
 * The peer runs in a forked child (scenario.c).  The parent parses the
 * scenario; the child runs it, and on the first difference writes one
 * line ("FILE:LINE: expected ..., client sent ...") to a report pipe and
 * exits 1.  This file holds what is QTest's: the directives, reading the
 * client's lines and the fake RAM that serve answers from.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fakeline.h"

#define LINE_SPLIT_PAUSE_US 300
#define LINE_RAM_MAX (64u << 20)

enum op {
    OP_EXPECT,
    OP_SEND,
    OP_SENDRAW,
    OP_SPLIT,
    OP_SLEEP,
    OP_RAM,
    OP_SERVE,
    OP_CLOSE,
    N_OPS
};

/* The directive words, by op. */
static const char *const op_names[N_OPS] = {
    [OP_EXPECT] = "expect", [OP_SEND] = "send",   [OP_SENDRAW] = "sendraw",
    [OP_SPLIT] = "split",   [OP_SLEEP] = "sleep", [OP_RAM] = "ram",
    [OP_SERVE] = "serve",   [OP_CLOSE] = "close",
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

/* The running peer, in the child. */
struct peer {
    scn_peer *io;
    unsigned char *ram;
    uint64_t ram_addr;
    size_t ram_size;
};

/* A whole word as strtoull with base 0 reads it. */
static bool parse_u64(const char *s, uint64_t *v)
{
    const char *end = scn_parse_u64(s, 0, v);

    return end && *end == '\0';
}

/* ---- base64, written independently of the client's ---------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const unsigned char *src, size_t n, scn_buf *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t chars = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        acc = acc << 8 | src[i];
        bits += 8;
        while (bits >= 6) {
            scn_buf_add(out, &b64_alphabet[(acc >> (bits - 6)) & 63], 1);
            bits -= 6;
            chars++;
        }
    }
    if (bits > 0) {
        scn_buf_add(out, &b64_alphabet[(acc << (6 - bits)) & 63], 1);
        chars++;
    }
    while (chars % 4 != 0) {
        scn_buf_add(out, "=", 1);
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

static void script_release(void *script)
{
    struct script *sc = script;
    size_t i;

    for (i = 0; i < sc->n; i++) {
        free(sc->steps[i].text);
    }
    free(sc->steps);
    sc->steps = NULL;
    sc->n = 0;
    sc->cap = 0;
}

/* Parse one directive (word, then arg) into a new step of sc. */
static int script_add(struct script *sc, int lineno, const char *text)
{
    scn_buf tmp = {0};
    const char *bad = NULL;
    const char *arg = NULL;
    struct step *st;
    char addr_text[32];
    char size_text[32];
    char extra;
    uint64_t size = 0;
    int op = scn_directive(sc->path, lineno, text, op_names, N_OPS,
                           "expect, send, sendraw, split, sleep, repeat, "
                           "end, ram, serve or close",
                           &arg);

    if (op < 0) {
        return -1;
    }
    if (sc->n > 0 && (sc->steps[sc->n - 1].op == OP_SERVE ||
                      sc->steps[sc->n - 1].op == OP_CLOSE)) {
        fprintf(stderr, "%s:%d: nothing may follow serve or close\n", sc->path,
                lineno);
        return -1;
    }
    sc->steps = scn_grow(sc->steps, sc->n, &sc->cap, sizeof(*sc->steps));
    st = &sc->steps[sc->n];
    memset(st, 0, sizeof(*st));
    st->op = (enum op)op;
    st->line = lineno;
    switch (st->op) {
    case OP_EXPECT:
    case OP_SEND:
        scn_buf_puts(&tmp, arg);
        if (st->op == OP_SEND) {
            scn_buf_add(&tmp, "\n", 1);
        }
        break;
    case OP_SENDRAW:
        if (scn_unescape(arg, "\\\"", &tmp, &bad) < 0) {
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
                    sc->path, lineno, op_names[op], arg);
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
                    op_names[op]);
            return -1;
        }
        break;
    case N_OPS:
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
    scn_buf out = {0};
    char num[32];

    while (*text) {
        if (text[0] == '$' && (text[1] == 'I' || text[1] == 'X')) {
            snprintf(num, sizeof(num), text[1] == 'I' ? "%lu" : "%lx", round);
            scn_buf_puts(&out, num);
            text += 2;
        } else {
            scn_buf_add(&out, text, 1);
            text++;
        }
    }
    scn_buf_reserve(&out, 0);
    return out.data;
}

struct raw_line {
    int lineno;
    char *text;
};

/* What script_load keeps between lines: the repeat block being read. */
struct loader {
    struct script *sc;
    struct raw_line *block;
    size_t n_block;
    size_t cap_block;
    unsigned long rounds;
    int repeat_line; /* of the open "repeat"; 0 outside one */
};

/* Run the block rounds times, then empty it. */
static int loader_end_block(struct loader *ld)
{
    unsigned long r;
    size_t i;

    for (r = 0; r < ld->rounds; r++) {
        for (i = 0; i < ld->n_block; i++) {
            char *expanded = subst_round(ld->block[i].text, r);
            int bad = script_add(ld->sc, ld->block[i].lineno, expanded);

            free(expanded);
            if (bad < 0) {
                return -1;
            }
        }
    }
    for (i = 0; i < ld->n_block; i++) {
        free(ld->block[i].text);
    }
    ld->n_block = 0;
    ld->repeat_line = 0;
    return 0;
}

static int loader_line(void *ctx, int lineno, const char *text)
{
    struct loader *ld = ctx;
    const char *path = ld->sc->path;
    uint64_t count;

    if (strncmp(text, "repeat ", 7) == 0) {
        if (ld->repeat_line || !parse_u64(text + 7, &count)) {
            fprintf(stderr, "%s:%d: repeat N, not nested\n", path, lineno);
            return -1;
        }
        ld->repeat_line = lineno;
        ld->rounds = (unsigned long)count;
        return 0;
    }
    if (strcmp(text, "end") == 0) {
        if (!ld->repeat_line) {
            fprintf(stderr, "%s:%d: end without repeat\n", path, lineno);
            return -1;
        }
        return loader_end_block(ld);
    }
    if (ld->repeat_line) {
        ld->block = scn_grow(ld->block, ld->n_block, &ld->cap_block,
                             sizeof(*ld->block));
        ld->block[ld->n_block].text = strdup(text);
        if (!ld->block[ld->n_block].text) {
            fprintf(stderr, "%s: out of memory\n", path);
            return -1;
        }
        ld->block[ld->n_block++].lineno = lineno;
        return 0;
    }
    return script_add(ld->sc, lineno, text);
}

static int script_load(void *script, const char *path)
{
    struct loader ld = {.sc = script};
    int rc;
    size_t i;

    ld.sc->path = path;
    rc = scn_read_file(path, loader_line, &ld);
    if (rc == 0 && ld.repeat_line) {
        fprintf(stderr, "%s:%d: repeat without end\n", path, ld.repeat_line);
        rc = -1;
    }
    for (i = 0; i < ld.n_block; i++) {
        free(ld.block[i].text);
    }
    free(ld.block);
    return rc;
}

/* ---- the running peer ---------------------------------------------- */

/*
 * Take one line from the client into *line (malloc'ed, no "\n").
 * Returns 1, 0 at a clean EOF when eof_ok, or -1 (reported).
 */
static int peer_read_line(struct peer *p, const char *want, bool eof_ok,
                          char **line)
{
    scn_peer *io = p->io;
    int64_t deadline = scn_now_ms() + SCN_STEP_TIMEOUT_MS;

    for (;;) {
        char *nl = io->in.data ? memchr(io->in.data, '\n', io->in.len) : NULL;
        const char *shown;
        int n;

        if (nl) {
            size_t len = (size_t)(nl - io->in.data);

            *line = strndup(io->in.data, len);
            if (!*line || memchr(io->in.data, '\0', len)) {
                free(*line);
                *line = NULL;
                return scn_fail(io, "the client sent a NUL byte");
            }
            scn_buf_consume(&io->in, len + 1);
            return 1;
        }
        n = scn_read_more(io, deadline);
        if (n == SCN_EOF && eof_ok && io->in.len == 0) {
            return 0;
        }
        if (n == SCN_EOF) {
            return scn_fail(io,
                            "the client closed the connection%s; "
                            "expected %s",
                            io->in.len ? " in the middle of a line" : "", want);
        }
        if (n == SCN_TIMEOUT) {
            int k = scn_shown_input(io, &shown);

            return scn_fail(io,
                            "no complete line from the client within %d "
                            "ms; expected %s, have '%.*s'",
                            SCN_STEP_TIMEOUT_MS, want, k, shown);
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

    if (asprintf(&want, "'%.*s'", SCN_SHOW_MAX, st->text) < 0) {
        return scn_fail(p->io, "out of memory");
    }
    if (p->io->client_gone) {
        rc = scn_fail(p->io, "the client closed the connection; expected %s",
                      want);
    } else if (peer_read_line(p, want, false, &got) != 1 || !got) {
        rc = -1;
    } else if (strcmp(got, st->text) != 0) {
        rc = scn_fail(p->io, "expected %s, the client sent '%.*s'", want,
                      SCN_SHOW_MAX, got);
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
static int serve_one(struct peer *p, char *req, scn_buf *out)
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
        return scn_fail(p->io, "out of memory");
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
            scn_buf_puts(out, "OK\n");
        } else {
            for (i = width; i-- > 0;) {
                value = value << 8 | p->ram[off + i];
            }
            snprintf(text, sizeof(text), "OK 0x%016" PRIx64 "\n", value);
            scn_buf_puts(out, text);
        }
    } else if (!strcmp(words[0], "read") || !strcmp(words[0], "b64read")) {
        if (n_words != 3 || !parse_u64(words[2], &size) || size == 0 ||
            !ram_range(p, addr, size, &off)) {
            goto bad;
        }
        if (words[0][0] == 'r') {
            scn_buf_puts(out, "OK 0x");
            for (i = 0; i < size; i++) {
                snprintf(text, sizeof(text), "%02x", p->ram[off + i]);
                scn_buf_puts(out, text);
            }
        } else {
            scn_buf_puts(out, "OK ");
            b64_encode(p->ram + off, (size_t)size, out);
        }
        scn_buf_puts(out, "\n");
    } else if (!strcmp(words[0], "write")) {
        if (n_words != 4 || !parse_u64(words[2], &size) || size == 0 ||
            !ram_range(p, addr, size, &off) ||
            strlen(words[3]) != 2 + 2 * size ||
            strncmp(words[3], "0x", 2) != 0) {
            goto bad;
        }
        for (i = 0; i < size; i++) {
            int hi = scn_hexval(words[3][2 + 2 * i]);
            int lo = scn_hexval(words[3][3 + 2 * i]);

            if (hi < 0 || lo < 0) {
                goto bad;
            }
            p->ram[off + i] = (unsigned char)(hi << 4 | lo);
        }
        scn_buf_puts(out, "OK\n");
    } else if (!strcmp(words[0], "b64write")) {
        if (n_words != 4 || !parse_u64(words[2], &size) || size == 0 ||
            !ram_range(p, addr, size, &off) ||
            b64_decode(words[3], p->ram + off, (size_t)size) != (long)size) {
            goto bad;
        }
        scn_buf_puts(out, "OK\n");
    } else if (!strcmp(words[0], "memset")) {
        if (n_words != 4 || !parse_u64(words[2], &size) ||
            !parse_u64(words[3], &value) || value > 0xff ||
            (size && !ram_range(p, addr, size, &off))) {
            goto bad;
        }
        memset(p->ram + off, (int)value, (size_t)size);
        scn_buf_puts(out, "OK\n");
    } else {
        goto bad;
    }
    free(copy);
    return 0;

bad:
    free(copy);
    return scn_fail(p->io,
                    "serve: the fake RAM (0x%" PRIx64 ", %zu bytes) cannot "
                    "answer '%.*s'",
                    p->ram_addr, p->ram_size, SCN_SHOW_MAX, req);
}

static int peer_serve(struct peer *p)
{
    scn_buf out = {0};
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
        if (rc < 0 || (rc = scn_write(p->io, out.data, out.len)) < 0) {
            break;
        }
    }
    free(out.data);
    return rc < 0 ? -1 : 0;
}

static int peer_run(struct peer *p, const struct script *sc)
{
    size_t i;

    for (i = 0; i < sc->n; i++) {
        const struct step *st = &sc->steps[i];
        int rc = 0;

        p->io->line = st->line;
        switch (st->op) {
        case OP_EXPECT:
            rc = peer_expect(p, st);
            break;
        case OP_SEND:
        case OP_SENDRAW:
            rc = scn_write(p->io, st->text, st->len);
            break;
        case OP_SPLIT:
            p->io->split = st->num;
            break;
        case OP_SLEEP:
            scn_pause_us((long)st->num * 1000);
            break;
        case OP_RAM:
            free(p->ram);
            p->ram = calloc(1, st->num);
            if (!p->ram) {
                return scn_fail(p->io, "out of memory");
            }
            p->ram_addr = st->addr;
            p->ram_size = st->num;
            break;
        case OP_SERVE:
            return peer_serve(p);
        case OP_CLOSE:
            shutdown(p->io->fd, SHUT_WR);
            return scn_drain(p->io, false);
        case N_OPS:
            break;
        }
        if (rc < 0) {
            return rc;
        }
    }
    p->io->line = 0;
    return scn_drain(p->io, false);
}

static int peer_play(scn_peer *io, void *script)
{
    struct peer p = {.io = io};
    int rc = peer_run(&p, script);

    free(p.ram);
    return rc;
}

static const scn_proto line_proto = {
    .script_size = sizeof(struct script),
    .load = script_load,
    .release = script_release,
    .play = peer_play,
    .split_pause_us = LINE_SPLIT_PAUSE_US,
};

int fakeline_start(const char *path, fakeline **out, int *client_fd)
{
    return scn_start(&line_proto, path, out, client_fd);
}
