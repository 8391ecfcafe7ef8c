/*
 * fakepeer.c - scripted QMP server for the protocol tests.
 *
 * A scenario is a text file with one directive per line; blank lines and
 * lines starting with '#' are ignored.  The first word is the directive,
 * the rest of the line its argument:
 *
 *   send JSON      write JSON exactly as written, then "\r\n"
 *   reply JSON     like send, after replacing the tokens $ID (the id of
 *                  the last expected command) and $IDn (the id of the
 *                  n-th expected command of the scenario, counting from 1,
 *                  the qmp_capabilities of the handshake included)
 *   sendraw BYTES  write BYTES, a C-escaped string (\n \r \t \0 \\ \" \'
 *                  \xHH), exactly, with no line end added; $ID tokens are
 *                  replaced as in reply (so garbage, half objects and
 *                  several messages in one write can be scripted)
 *   expect JSON    read one JSON object from the client; with the
 *                  top-level "id" key removed it must equal JSON, and its
 *                  id must be present and not used before; no fd may
 *                  come with it
 *   expectfd JSON  like expect, but exactly one fd must come with the
 *                  object's first byte (SCM_RIGHTS); the peer writes
 *                  "fakepeer\n" (PEER_FD_TEXT) to that fd and closes it
 *   big N          write {"return": "S", "id": $ID} and "\r\n", where S
 *                  is N bytes, byte i being FAKEPEER_BIG_BYTE(i)
 *   split N        write what follows N bytes per write, pausing
 *                  PEER_SPLIT_PAUSE_US between writes; "split 0" ends it
 *   sleep MS       pause for MS milliseconds
 *   close          shut down the sending side (the client sees EOF) and
 *                  end the scenario
 *
 * Each send, reply, sendraw and big is one write unless split is on.
 * The peer reads the client one byte per recvmsg(), so each fd passed is
 * known to have come with the exact byte the client sent it with (the
 * kernel glues bytes sent before an fd into the read that brings it).
 * JSON arguments are checked when the file is loaded (with 1 for $ID), so
 * a typo in a scenario fails fakepeer_start with "FILE:LINE: ...".
 *
 * After the last line (or close) the peer reads until the client closes
 * its end: anything but whitespace read then is a command the scenario
 * does not expect, and fails the run.  Without close the client sees no
 * EOF, so it can still check that nothing more arrives.  Writes to a client
 * that already closed are skipped, not failed (a client may rightly give
 * up in the middle of an oversized message); an expect after that fails.
 *
 * Every read and write has a deadline of SCN_STEP_TIMEOUT_MS, so a
 * client that stops talking fails the run instead of hanging it.
 *
 * The peer runs in a forked child (scenario.c).  The parent parses the
 * scenario; the child runs it, and on the first difference writes one
 * line ("FILE:LINE: expected ..., client sent ...") to a report pipe and
 * exits 1.  This file holds what is QMP's: the directives, the $ID
 * tokens, reading JSON objects and the fds that come with them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "fakepeer.h"

#define PEER_SPLIT_PAUSE_US 500
#define PEER_MAX_FDS 16           /* fds received and not yet claimed */
#define PEER_FD_TEXT "fakepeer\n" /* written to each fd of an expectfd */

enum step_op {
    STEP_SEND,
    STEP_REPLY,
    STEP_SENDRAW,
    STEP_EXPECT,
    STEP_EXPECTFD,
    STEP_BIG,
    STEP_SPLIT,
    STEP_SLEEP,
    STEP_CLOSE,
    N_STEPS
};

/* The directive words, by op. */
static const char *const step_names[N_STEPS] = {
    [STEP_SEND] = "send",         [STEP_REPLY] = "reply",
    [STEP_SENDRAW] = "sendraw",   [STEP_EXPECT] = "expect",
    [STEP_EXPECTFD] = "expectfd", [STEP_BIG] = "big",
    [STEP_SPLIT] = "split",       [STEP_SLEEP] = "sleep",
    [STEP_CLOSE] = "close",
};

struct step {
    enum step_op op;
    int line;
    char *text; /* send, reply, sendraw: the bytes to write */
    size_t len;
    json_t *json;      /* expect: the message, without "id" */
    unsigned long num; /* big, split, sleep */
};

struct script {
    const char *path;
    struct step *steps;
    size_t n;
    size_t cap;
};

/* An fd the client passed, and the offset in io->in of the byte that
 * brought it. */
struct peer_fd {
    size_t at;
    int fd;
};

/* The running peer, in the child. */
struct peer {
    scn_peer *io;
    json_t *ids; /* ids of the expected commands, in order */
    struct peer_fd fds[PEER_MAX_FDS];
    size_t n_fds;
};

/* Compact JSON text of v cut to SCN_SHOW_MAX bytes; caller frees. */
static char *show_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (!s) {
        return strdup("(unprintable)");
    }
    if (strlen(s) > SCN_SHOW_MAX) {
        memcpy(s + SCN_SHOW_MAX - 3, "...", 4);
    }
    return s;
}

/*
 * Copy text to out, replacing $ID and $IDn by the JSON of the matching id
 * in ids (ids NULL: by 1, to check a scenario line).  Returns 0, or the
 * 1-based number of the missing id (last-id: ids size + 1) when there is
 * no such id yet.
 */
static size_t subst_ids(const char *text, size_t len, const json_t *ids,
                        scn_buf *out)
{
    size_t i = 0;

    while (i < len) {
        const char *tok = NULL;
        size_t at = i;
        size_t nth = 0;
        size_t end;
        char *idtext;

        while (at + 3 <= len) {
            if (memcmp(text + at, "$ID", 3) == 0) {
                tok = text + at;
                break;
            }
            at++;
        }
        if (!tok) {
            scn_buf_add(out, text + i, len - i);
            break;
        }
        scn_buf_add(out, text + i, at - i);
        end = at + 3;
        while (end < len && text[end] >= '0' && text[end] <= '9') {
            nth = nth * 10 + (size_t)(text[end] - '0');
            end++;
        }
        if (!ids) {
            scn_buf_puts(out, "1");
        } else {
            size_t have = json_array_size(ids);

            if (end == at + 3) {
                nth = have;
            }
            if (nth == 0 || nth > have) {
                return nth ? nth : have + 1;
            }
            idtext = show_json(json_array_get(ids, nth - 1));
            scn_buf_puts(out, idtext);
            free(idtext);
        }
        i = end;
    }
    scn_buf_reserve(out, 0);
    return 0;
}

/* A decimal count, blanks allowed after it. */
static int parse_count(const char *arg, unsigned long *v)
{
    uint64_t n = 0;
    const char *end = scn_parse_u64(arg, 10, &n);

    if (!end || end[strspn(end, " \t")] != '\0') {
        return -1;
    }
    *v = (unsigned long)n;
    return 0;
}

static void script_release(void *script)
{
    struct script *sc = script;
    size_t i;

    for (i = 0; i < sc->n; i++) {
        free(sc->steps[i].text);
        json_decref(sc->steps[i].json);
    }
    free(sc->steps);
    sc->steps = NULL;
    sc->n = 0;
    sc->cap = 0;
}

/* Fill st from one directive; prints the reason and returns -1 if the
 * line is wrong. */
static int script_parse_line(const char *path, int lineno, const char *text,
                             struct step *st)
{
    scn_buf tmp = {0};
    json_error_t jerr;
    json_t *check;
    const char *bad = NULL;
    const char *arg = NULL;
    int rc = -1;
    int op = scn_directive(path, lineno, text, step_names, N_STEPS,
                           "send, reply, sendraw, expect, expectfd, big, "
                           "split, sleep or close",
                           &arg);

    if (op < 0) {
        return -1;
    }
    st->op = (enum step_op)op;
    st->line = lineno;

    switch (st->op) {
    case STEP_SEND:
    case STEP_REPLY:
        subst_ids(arg, strlen(arg), NULL, &tmp);
        check = json_loads(tmp.data, JSON_DECODE_ANY, &jerr);
        if (!check) {
            fprintf(stderr, "%s:%d: %s: invalid JSON at column %d: %s\n", path,
                    lineno, step_names[op], jerr.column, jerr.text);
            goto cleanup;
        }
        json_decref(check);
        if (st->op == STEP_SEND && strstr(arg, "$ID")) {
            fprintf(stderr, "%s:%d: send does not replace $ID; use reply\n",
                    path, lineno);
            goto cleanup;
        }
        tmp.len = 0;
        scn_buf_puts(&tmp, arg);
        scn_buf_puts(&tmp, "\r\n");
        break;
    case STEP_SENDRAW:
        if (scn_unescape(arg, "\\\"'", &tmp, &bad) < 0) {
            fprintf(stderr,
                    "%s:%d: sendraw: bad escape at column %d (use \\n \\r "
                    "\\t \\0 \\\\ \\\" \\' or \\xHH)\n",
                    path, lineno, (int)(bad - arg) + 1);
            goto cleanup;
        }
        break;
    case STEP_EXPECT:
    case STEP_EXPECTFD:
        st->json = json_loads(arg, 0, &jerr);
        if (!json_is_object(st->json)) {
            fprintf(stderr, "%s:%d: %s: a JSON object is needed: %s\n", path,
                    lineno, step_names[op],
                    st->json ? "not an object" : jerr.text);
            json_decref(st->json);
            st->json = NULL;
            goto cleanup;
        }
        json_object_del(st->json, "id");
        rc = 0;
        goto cleanup;
    case STEP_BIG:
    case STEP_SPLIT:
    case STEP_SLEEP:
        if (parse_count(arg, &st->num) < 0) {
            fprintf(stderr, "%s:%d: %s: expected a number, got '%s'\n", path,
                    lineno, step_names[op], arg);
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    case STEP_CLOSE:
        if (*arg) {
            fprintf(stderr, "%s:%d: close takes no argument\n", path, lineno);
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    case N_STEPS:
        goto cleanup;
    }
    scn_buf_reserve(&tmp, 0);
    st->text = tmp.data;
    st->len = tmp.len;
    tmp.data = NULL;
    rc = 0;

cleanup:
    free(tmp.data);
    return rc;
}

static int script_line(void *ctx, int lineno, const char *text)
{
    struct script *sc = ctx;
    struct step *st;

    if (sc->n > 0 && sc->steps[sc->n - 1].op == STEP_CLOSE) {
        fprintf(stderr, "%s:%d: nothing may follow close\n", sc->path, lineno);
        return -1;
    }
    sc->steps = scn_grow(sc->steps, sc->n, &sc->cap, sizeof(*sc->steps));
    st = &sc->steps[sc->n];
    memset(st, 0, sizeof(*st));
    if (script_parse_line(sc->path, lineno, text, st) < 0) {
        return -1;
    }
    sc->n++;
    return 0;
}

static int script_load(void *script, const char *path)
{
    struct script *sc = script;

    sc->path = path;
    return scn_read_file(path, script_line, sc);
}

/* ---- the running peer ---------------------------------------------- */

/* Keep the fds of a control message, noting the byte they came with. */
static int peer_keep_fds(struct peer *p, struct msghdr *mh)
{
    struct cmsghdr *cm;

    if (mh->msg_flags & MSG_CTRUNC) {
        return scn_fail(p->io, "the client passed more fds in one message "
                               "than the peer takes (8)");
    }
    for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        size_t n;
        size_t i;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (p->n_fds == PEER_MAX_FDS) {
                close(fd);
                return scn_fail(p->io,
                                "the client passed more than %d fds "
                                "the scenario did not take",
                                PEER_MAX_FDS);
            }
            p->fds[p->n_fds].at = p->io->in.len;
            p->fds[p->n_fds].fd = fd;
            p->n_fds++;
        }
    }
    return 0;
}

/* Receive one byte (see the top) and the fds that came with it. */
static ssize_t peer_recv(scn_peer *io, char *buf, size_t room)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(8 * sizeof(int))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = room < 1 ? room : 1};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t r = recvmsg(io->fd, &mh, MSG_CMSG_CLOEXEC);

    if (r > 0 && mh.msg_controllen > 0 && peer_keep_fds(io->ctx, &mh) < 0) {
        return -1;
    }
    return r;
}

/*
 * Take the fds that came with the first used bytes of the input (which
 * the caller consumes): *n_fd of them, the first in *fd (-1 if none, the
 * others closed) at *fd_at bytes from start.
 */
static void peer_claim_fds(struct peer *p, size_t used, size_t start, int *fd,
                           long *fd_at, size_t *n_fd)
{
    size_t i;
    size_t kept = 0;

    *fd = -1;
    *fd_at = 0;
    *n_fd = 0;
    for (i = 0; i < p->n_fds; i++) {
        if (p->fds[i].at >= used) {
            p->fds[kept].at = p->fds[i].at - used;
            p->fds[kept].fd = p->fds[i].fd;
            kept++;
        } else if (*fd < 0) {
            *fd = p->fds[i].fd;
            *fd_at = (long)p->fds[i].at - (long)start;
            (*n_fd)++;
        } else {
            close(p->fds[i].fd);
            (*n_fd)++;
        }
    }
    p->n_fds = kept;
}

/* Read one JSON object from the client; want names it in reports.  The
 * fds that came with it are claimed as peer_claim_fds says. */
static int peer_read_object(struct peer *p, const char *want, json_t **out,
                            int *fd, long *fd_at, size_t *n_fd)
{
    int64_t deadline = scn_now_ms() + SCN_STEP_TIMEOUT_MS;
    const char *shown;
    bool parse = true; /* an object can only end with a '}' */

    for (;;) {
        size_t skip = 0;
        int n;

        while (skip < p->io->in.len &&
               scn_all_blank(p->io->in.data + skip, 1)) {
            skip++;
        }
        if (parse && skip < p->io->in.len) {
            size_t avail = p->io->in.len - skip;
            json_error_t jerr;
            json_t *msg = json_loadb(p->io->in.data + skip, avail,
                                     JSON_DISABLE_EOF_CHECK, &jerr);

            if (msg) {
                size_t used = skip + (size_t)jerr.position;

                peer_claim_fds(p, used, skip, fd, fd_at, n_fd);
                scn_buf_consume(&p->io->in, used);
                if (!json_is_object(msg)) {
                    json_decref(msg);
                    return scn_fail(p->io, "the client sent a JSON array, "
                                           "not an object");
                }
                *out = msg;
                return 0;
            }
            /* An error at the very end may only mean "not all there". */
            if (json_error_code(&jerr) != json_error_premature_end_of_input &&
                (size_t)jerr.position < avail) {
                int k = scn_shown_input(p->io, &shown);

                return scn_fail(p->io,
                                "the client sent malformed JSON (%s): "
                                "'%.*s'",
                                jerr.text, k, shown);
            }
        }
        n = scn_read_more(p->io, deadline);
        parse = p->io->in.len > 0 && p->io->in.data[p->io->in.len - 1] == '}';
        if (n == SCN_EOF) {
            return scn_fail(p->io,
                            "the client closed the connection; "
                            "expected %s",
                            want);
        }
        if (n == SCN_TIMEOUT) {
            int k = scn_shown_input(p->io, &shown);

            return scn_fail(p->io,
                            "no complete message from the client within "
                            "%d ms; expected %s, have '%.*s'",
                            SCN_STEP_TIMEOUT_MS, want, k, shown);
        }
        if (n < 0) {
            return -1;
        }
    }
}

static int peer_expect(struct peer *p, const struct step *st)
{
    json_t *msg = NULL;
    json_t *id;
    char *want = NULL;
    char *got = NULL;
    int fd = -1;
    long fd_at = 0;
    size_t n_fd = 0;
    size_t i;
    int rc = -1;

    want = show_json(st->json);
    if (p->io->client_gone) {
        rc = scn_fail(p->io, "the client closed the connection; expected %s",
                      want);
        goto cleanup;
    }
    if (peer_read_object(p, want, &msg, &fd, &fd_at, &n_fd) < 0) {
        goto cleanup;
    }
    if (st->op == STEP_EXPECT && n_fd) {
        rc = scn_fail(p->io,
                      "the client passed %zu fd(s) with %s, which the "
                      "scenario expects without one",
                      n_fd, want);
        goto cleanup;
    }
    if (st->op == STEP_EXPECTFD && n_fd != 1) {
        rc = scn_fail(p->io,
                      "the client passed %zu fds with %s, expected "
                      "exactly one",
                      n_fd, want);
        goto cleanup;
    }
    if (st->op == STEP_EXPECTFD && fd_at != 0) {
        rc = scn_fail(p->io,
                      "the fd came with byte %ld of %s, not with its "
                      "first byte",
                      fd_at, want);
        goto cleanup;
    }
    if (fd >= 0) {
        const char *text = PEER_FD_TEXT;

        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
            rc = scn_fail(p->io, "cannot write to the fd passed with %s: %s",
                          want, strerror(errno));
            goto cleanup;
        }
    }
    id = json_object_get(msg, "id");
    if (!id) {
        got = show_json(msg);
        rc =
            scn_fail(p->io, "the client sent a command without an id: %s", got);
        goto cleanup;
    }
    for (i = 0; i < json_array_size(p->ids); i++) {
        if (json_equal(json_array_get(p->ids, i), id)) {
            got = show_json(msg);
            rc = scn_fail(p->io, "the client reused the id of command %zu: %s",
                          i + 1, got);
            goto cleanup;
        }
    }
    json_array_append(p->ids, id);
    json_object_del(msg, "id");
    if (!json_equal(msg, st->json)) {
        got = show_json(msg);
        rc = scn_fail(p->io, "expected %s, the client sent %s", want, got);
        goto cleanup;
    }
    rc = 0;

cleanup:
    if (fd >= 0) {
        close(fd);
    }
    free(want);
    free(got);
    json_decref(msg);
    return rc;
}

/* Write a step's text with its $ID tokens replaced. */
static int peer_send_subst(struct peer *p, const struct step *st)
{
    scn_buf out = {0};
    size_t missing = subst_ids(st->text, st->len, p->ids, &out);
    int rc;

    if (missing) {
        free(out.data);
        return scn_fail(p->io,
                        "$ID%zu is used but the client sent only %zu "
                        "expected commands so far",
                        missing, json_array_size(p->ids));
    }
    rc = scn_write(p->io, out.data, out.len);
    free(out.data);
    return rc;
}

/* Write a reply of size bytes to the last expected command. */
static int peer_big(struct peer *p, size_t size)
{
    scn_buf out = {0};
    char *id;
    size_t i;
    int rc;

    if (json_array_size(p->ids) == 0) {
        return scn_fail(p->io, "big needs an expected command to reply to");
    }
    scn_buf_puts(&out, "{\"return\": \"");
    scn_buf_reserve(&out, size);
    for (i = 0; i < size; i++) {
        out.data[out.len++] = FAKEPEER_BIG_BYTE(i);
    }
    id = show_json(json_array_get(p->ids, json_array_size(p->ids) - 1));
    scn_buf_puts(&out, "\", \"id\": ");
    scn_buf_puts(&out, id);
    scn_buf_puts(&out, "}\r\n");
    free(id);
    rc = scn_write(p->io, out.data, out.len);
    free(out.data);
    return rc;
}

/* End of the scenario: the client must close its end having sent nothing
 * more, whitespace aside, and no fd. */
static int peer_drain(struct peer *p)
{
    if (scn_drain(p->io, true) < 0) {
        return -1;
    }
    if (p->n_fds) {
        return scn_fail(p->io, "the client passed an fd the scenario does "
                               "not expect");
    }
    return 0;
}

static int peer_run(struct peer *p, const struct script *sc)
{
    size_t i;

    for (i = 0; i < sc->n; i++) {
        const struct step *st = &sc->steps[i];
        int rc = 0;

        p->io->line = st->line;
        switch (st->op) {
        case STEP_SEND:
            rc = scn_write(p->io, st->text, st->len);
            break;
        case STEP_REPLY:
        case STEP_SENDRAW:
            rc = peer_send_subst(p, st);
            break;
        case STEP_EXPECT:
        case STEP_EXPECTFD:
            rc = peer_expect(p, st);
            break;
        case STEP_BIG:
            rc = peer_big(p, (size_t)st->num);
            break;
        case STEP_SPLIT:
            p->io->split = st->num;
            break;
        case STEP_SLEEP:
            scn_pause_us((long)st->num * 1000);
            break;
        case STEP_CLOSE:
            shutdown(p->io->fd, SHUT_WR);
            return peer_drain(p);
        case N_STEPS:
            break;
        }
        if (rc < 0) {
            return rc;
        }
    }
    p->io->line = 0; /* reports then say "FILE: ..." */
    return peer_drain(p);
}

static int peer_play(scn_peer *io, void *script)
{
    struct peer p = {.io = io};
    int rc;

    io->ctx = &p;
    p.ids = json_array();
    rc = p.ids ? peer_run(&p, script) : scn_fail(io, "out of memory");
    json_decref(p.ids);
    io->ctx = NULL;
    return rc;
}

static const scn_proto qmp_proto = {
    .script_size = sizeof(struct script),
    .load = script_load,
    .release = script_release,
    .play = peer_play,
    .split_pause_us = PEER_SPLIT_PAUSE_US,
    .recv = peer_recv,
};

int fakepeer_start(const char *path, fakepeer **out, int *client_fd)
{
    return scn_start(&qmp_proto, path, out, client_fd);
}
