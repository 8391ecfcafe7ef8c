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
 * Every read and write has a deadline of FAKEPEER_STEP_TIMEOUT_MS, so a
 * client that stops talking fails the run instead of hanging it.
 *
 * The peer runs in a forked child.  The parent parses the scenario; the
 * child runs it, and on the first difference writes one line ("FILE:LINE:
 * expected ..., client sent ...") to a report pipe and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
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

#include <jansson.h>

#include "fakepeer.h"

#define PEER_SPLIT_PAUSE_US 500
#define PEER_SHOW_MAX 300          /* bytes quoted in a report */
#define PEER_INPUT_MAX (16u << 20) /* what the client may send us */
#define PEER_MAX_FDS 16            /* fds received and not yet claimed */
#define PEER_FD_TEXT "fakepeer\n"  /* written to each fd of an expectfd */
#define PEER_EOF 0
#define PEER_TIMEOUT (-2)

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

struct fakepeer {
    pid_t pid;
    int report_fd; /* read end of the child's report pipe */
};

/* A growable byte string; allocation failure ends the program, which is
 * the right outcome for a test helper. */
struct sbuf {
    char *data;
    size_t len;
    size_t cap;
};

/* An fd the client passed, and the offset in peer.in of the byte that
 * brought it. */
struct peer_fd {
    size_t at;
    int fd;
};

/* The running peer, in the child. */
struct peer {
    const struct script *sc;
    const struct step *step; /* for the FILE:LINE of reports */
    int fd;
    size_t split;
    bool client_gone;
    struct sbuf in; /* bytes read from the client, not yet consumed */
    json_t *ids;    /* ids of the expected commands, in order */
    char *why;      /* the failure report */
    struct peer_fd fds[PEER_MAX_FDS];
    size_t n_fds;
};

static void sb_reserve(struct sbuf *b, size_t n)
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
        fputs("fakepeer: out of memory\n", stderr);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

static void sb_add(struct sbuf *b, const void *data, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_consume(struct sbuf *b, size_t n)
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

static bool all_space(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return false;
        }
    }
    return true;
}

/* The unconsumed client bytes without surrounding whitespace, cut to
 * PEER_SHOW_MAX: sets *start, returns the length for "%.*s". */
static int shown_input(const struct peer *p, const char **start)
{
    const char *s = p->in.data ? p->in.data : "";
    size_t n = p->in.len;

    while (n > 0 && all_space(s, 1)) {
        s++;
        n--;
    }
    while (n > 0 && all_space(s + n - 1, 1)) {
        n--;
    }
    *start = s;
    return n > PEER_SHOW_MAX ? PEER_SHOW_MAX : (int)n;
}

/* Compact JSON text of v cut to PEER_SHOW_MAX bytes; caller frees. */
static char *show_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (!s) {
        return strdup("(unprintable)");
    }
    if (strlen(s) > PEER_SHOW_MAX) {
        memcpy(s + PEER_SHOW_MAX - 3, "...", 4);
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
                        struct sbuf *out)
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
            sb_add(out, text + i, len - i);
            break;
        }
        sb_add(out, text + i, at - i);
        end = at + 3;
        while (end < len && text[end] >= '0' && text[end] <= '9') {
            nth = nth * 10 + (size_t)(text[end] - '0');
            end++;
        }
        if (!ids) {
            sb_puts(out, "1");
        } else {
            size_t have = json_array_size(ids);

            if (end == at + 3) {
                nth = have;
            }
            if (nth == 0 || nth > have) {
                return nth ? nth : have + 1;
            }
            idtext = show_json(json_array_get(ids, nth - 1));
            sb_puts(out, idtext);
            free(idtext);
        }
        i = end;
    }
    sb_reserve(out, 0);
    return 0;
}

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

/* Decode a C-escaped string.  Returns 0, or -1 with *bad at the faulty
 * backslash. */
static int unescape(const char *s, struct sbuf *out, const char **bad)
{
    while (*s) {
        char c = *s;

        if (c != '\\') {
            sb_add(out, &c, 1);
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
        case '\'':
            c = s[1];
            break;
        case 'x':
            if (hexval(s[2]) < 0 || hexval(s[3]) < 0) {
                *bad = s;
                return -1;
            }
            c = (char)(hexval(s[2]) * 16 + hexval(s[3]));
            sb_add(out, &c, 1);
            s += 4;
            continue;
        default:
            *bad = s;
            return -1;
        }
        sb_add(out, &c, 1);
        s += 2;
    }
    sb_reserve(out, 0);
    return 0;
}

static int parse_count(const char *arg, unsigned long *v)
{
    char *end = NULL;

    if (*arg < '0' || *arg > '9') {
        return -1;
    }
    errno = 0;
    *v = strtoul(arg, &end, 10);
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    return errno || *end ? -1 : 0;
}

static void script_release(struct script *sc)
{
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

static const struct {
    const char *name;
    enum step_op op;
} directives[] = {
    {"send", STEP_SEND},         {"reply", STEP_REPLY},
    {"sendraw", STEP_SENDRAW},   {"expect", STEP_EXPECT},
    {"expectfd", STEP_EXPECTFD}, {"big", STEP_BIG},
    {"split", STEP_SPLIT},       {"sleep", STEP_SLEEP},
    {"close", STEP_CLOSE},
};

/* Fill st from one directive; prints the reason and returns -1 if the
 * line is wrong. */
static int script_parse_line(const char *path, int lineno, const char *word,
                             size_t wlen, const char *arg, struct step *st)
{
    struct sbuf tmp = {0};
    json_error_t jerr;
    json_t *check;
    const char *bad = NULL;
    size_t i;
    int rc = -1;

    for (i = 0; i < sizeof(directives) / sizeof(directives[0]); i++) {
        if (strlen(directives[i].name) == wlen &&
            memcmp(directives[i].name, word, wlen) == 0) {
            break;
        }
    }
    if (i == sizeof(directives) / sizeof(directives[0])) {
        fprintf(stderr,
                "%s:%d: unknown directive '%.*s' (send, reply, sendraw, "
                "expect, expectfd, big, split, sleep or close)\n",
                path, lineno, (int)wlen, word);
        return -1;
    }
    st->op = directives[i].op;
    st->line = lineno;

    switch (st->op) {
    case STEP_SEND:
    case STEP_REPLY:
        subst_ids(arg, strlen(arg), NULL, &tmp);
        check = json_loads(tmp.data, JSON_DECODE_ANY, &jerr);
        if (!check) {
            fprintf(stderr, "%s:%d: %s: invalid JSON at column %d: %s\n", path,
                    lineno, directives[i].name, jerr.column, jerr.text);
            goto cleanup;
        }
        json_decref(check);
        if (st->op == STEP_SEND && strstr(arg, "$ID")) {
            fprintf(stderr, "%s:%d: send does not replace $ID; use reply\n",
                    path, lineno);
            goto cleanup;
        }
        tmp.len = 0;
        sb_puts(&tmp, arg);
        sb_puts(&tmp, "\r\n");
        break;
    case STEP_SENDRAW:
        if (unescape(arg, &tmp, &bad) < 0) {
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
                    lineno, directives[i].name,
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
                    lineno, directives[i].name, arg);
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
    }
    sb_reserve(&tmp, 0);
    st->text = tmp.data;
    st->len = tmp.len;
    tmp.data = NULL;
    rc = 0;

cleanup:
    free(tmp.data);
    return rc;
}

static int script_load(const char *path, struct script *sc)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t linecap = 0;
    ssize_t n;
    int lineno = 0;
    int rc = -1;
    bool closed = false;

    sc->path = path;
    if (!f) {
        fprintf(stderr, "%s: cannot open the scenario: %s\n", path,
                strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &linecap, f)) >= 0) {
        const char *word = line;
        const char *arg;
        size_t wlen;
        struct step *st;

        lineno++;
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        if (n > 0 && line[n - 1] == '\r') {
            line[--n] = '\0';
        }
        while (*word == ' ' || *word == '\t') {
            word++;
        }
        if (!*word || *word == '#') {
            continue;
        }
        if (closed) {
            fprintf(stderr, "%s:%d: nothing may follow close\n", path, lineno);
            goto cleanup;
        }
        wlen = strcspn(word, " \t");
        arg = word + wlen;
        arg += strspn(arg, " \t");
        if (sc->n == sc->cap) {
            size_t cap = sc->cap ? sc->cap * 2 : 32;
            struct step *grown = realloc(sc->steps, cap * sizeof(*grown));

            if (!grown) {
                fprintf(stderr, "%s: out of memory\n", path);
                goto cleanup;
            }
            sc->steps = grown;
            sc->cap = cap;
        }
        st = &sc->steps[sc->n];
        memset(st, 0, sizeof(*st));
        if (script_parse_line(path, lineno, word, wlen, arg, st) < 0) {
            goto cleanup;
        }
        sc->n++;
        closed = st->op == STEP_CLOSE;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: read error: %s\n", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;

cleanup:
    if (rc < 0) {
        script_release(sc);
    }
    free(line);
    fclose(f);
    return rc;
}

static int peer_fail(struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int peer_fail(struct peer *p, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;

    if (p->why) {
        return -1;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }
    va_end(ap);
    if (p->step) {
        if (asprintf(&p->why, "%s:%d: %s", p->sc->path, p->step->line,
                     msg ? msg : "failed") < 0) {
            p->why = NULL;
        }
    } else if (asprintf(&p->why, "%s: %s", p->sc->path, msg ? msg : "failed") <
               0) {
        p->why = NULL;
    }
    free(msg);
    return -1;
}

/* Write n bytes in one or more send() calls within the step deadline. */
static int peer_write_all(struct peer *p, const char *data, size_t n)
{
    int64_t deadline = mono_ms() + FAKEPEER_STEP_TIMEOUT_MS;
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
            return peer_fail(p,
                             "the client read nothing for %d ms (%zu of "
                             "%zu bytes written)",
                             FAKEPEER_STEP_TIMEOUT_MS, off, n);
        }
    }
    return 0;
}

/* Write data, in pieces if split is on. */
static int peer_write(struct peer *p, const char *data, size_t n)
{
    size_t piece = p->split ? p->split : n;
    size_t off = 0;

    while (off < n && !p->client_gone) {
        size_t k = n - off < piece ? n - off : piece;

        if (off > 0) {
            pause_us(PEER_SPLIT_PAUSE_US);
        }
        if (peer_write_all(p, data + off, k) < 0) {
            return -1;
        }
        off += k;
    }
    return 0;
}

/* Keep the fds of a control message, noting the byte they came with. */
static int peer_keep_fds(struct peer *p, struct msghdr *mh)
{
    struct cmsghdr *cm;

    if (mh->msg_flags & MSG_CTRUNC) {
        return peer_fail(p, "the client passed more fds in one message "
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
                return peer_fail(p,
                                 "the client passed more than %d fds "
                                 "the scenario did not take",
                                 PEER_MAX_FDS);
            }
            p->fds[p->n_fds].at = p->in.len;
            p->fds[p->n_fds].fd = fd;
            p->n_fds++;
        }
    }
    return 0;
}

/* Read what the client has sent, one byte (see the top), waiting until
 * deadline.  Returns the byte count, PEER_EOF, PEER_TIMEOUT, or -1
 * (reported). */
static int peer_read_more(struct peer *p, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(8 * sizeof(int))];
        } control;
        struct iovec iov;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t r;

        if (p->in.len >= PEER_INPUT_MAX) {
            return peer_fail(p, "the client sent more than %u bytes",
                             PEER_INPUT_MAX);
        }
        sb_reserve(&p->in, 1);
        iov.iov_base = p->in.data + p->in.len;
        iov.iov_len = 1;
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof(control.buf);
        r = recvmsg(p->fd, &mh, MSG_CMSG_CLOEXEC);
        if (r > 0 && mh.msg_controllen > 0 && peer_keep_fds(p, &mh) < 0) {
            return -1;
        }
        if (r > 0) {
            p->in.len += (size_t)r;
            p->in.data[p->in.len] = '\0';
            return (int)r;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            return PEER_EOF;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return peer_fail(p, "read: %s", strerror(errno));
        }
        if (poll(&pfd, 1, ms_left(deadline)) == 0 && mono_ms() >= deadline) {
            return PEER_TIMEOUT;
        }
    }
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
    int64_t deadline = mono_ms() + FAKEPEER_STEP_TIMEOUT_MS;
    const char *shown;
    bool parse = true; /* an object can only end with a '}' */

    for (;;) {
        size_t skip = 0;
        int n;

        while (skip < p->in.len && all_space(p->in.data + skip, 1)) {
            skip++;
        }
        if (parse && skip < p->in.len) {
            size_t avail = p->in.len - skip;
            json_error_t jerr;
            json_t *msg = json_loadb(p->in.data + skip, avail,
                                     JSON_DISABLE_EOF_CHECK, &jerr);

            if (msg) {
                size_t used = skip + (size_t)jerr.position;

                peer_claim_fds(p, used, skip, fd, fd_at, n_fd);
                sb_consume(&p->in, used);
                if (!json_is_object(msg)) {
                    json_decref(msg);
                    return peer_fail(p, "the client sent a JSON array, "
                                        "not an object");
                }
                *out = msg;
                return 0;
            }
            /* An error at the very end may only mean "not all there". */
            if (json_error_code(&jerr) != json_error_premature_end_of_input &&
                (size_t)jerr.position < avail) {
                int k = shown_input(p, &shown);

                return peer_fail(p,
                                 "the client sent malformed JSON (%s): "
                                 "'%.*s'",
                                 jerr.text, k, shown);
            }
        }
        n = peer_read_more(p, deadline);
        parse = p->in.len > 0 && p->in.data[p->in.len - 1] == '}';
        if (n == PEER_EOF) {
            return peer_fail(p,
                             "the client closed the connection; "
                             "expected %s",
                             want);
        }
        if (n == PEER_TIMEOUT) {
            int k = shown_input(p, &shown);

            return peer_fail(p,
                             "no complete message from the client within "
                             "%d ms; expected %s, have '%.*s'",
                             FAKEPEER_STEP_TIMEOUT_MS, want, k, shown);
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
    if (p->client_gone) {
        rc =
            peer_fail(p, "the client closed the connection; expected %s", want);
        goto cleanup;
    }
    if (peer_read_object(p, want, &msg, &fd, &fd_at, &n_fd) < 0) {
        goto cleanup;
    }
    if (st->op == STEP_EXPECT && n_fd) {
        rc = peer_fail(p,
                       "the client passed %zu fd(s) with %s, which the "
                       "scenario expects without one",
                       n_fd, want);
        goto cleanup;
    }
    if (st->op == STEP_EXPECTFD && n_fd != 1) {
        rc = peer_fail(p,
                       "the client passed %zu fds with %s, expected "
                       "exactly one",
                       n_fd, want);
        goto cleanup;
    }
    if (st->op == STEP_EXPECTFD && fd_at != 0) {
        rc = peer_fail(p,
                       "the fd came with byte %ld of %s, not with its "
                       "first byte",
                       fd_at, want);
        goto cleanup;
    }
    if (fd >= 0) {
        const char *text = PEER_FD_TEXT;

        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
            rc = peer_fail(p, "cannot write to the fd passed with %s: %s", want,
                           strerror(errno));
            goto cleanup;
        }
    }
    id = json_object_get(msg, "id");
    if (!id) {
        got = show_json(msg);
        rc = peer_fail(p, "the client sent a command without an id: %s", got);
        goto cleanup;
    }
    for (i = 0; i < json_array_size(p->ids); i++) {
        if (json_equal(json_array_get(p->ids, i), id)) {
            got = show_json(msg);
            rc = peer_fail(p, "the client reused the id of command %zu: %s",
                           i + 1, got);
            goto cleanup;
        }
    }
    json_array_append(p->ids, id);
    json_object_del(msg, "id");
    if (!json_equal(msg, st->json)) {
        got = show_json(msg);
        rc = peer_fail(p, "expected %s, the client sent %s", want, got);
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
    struct sbuf out = {0};
    size_t missing = subst_ids(st->text, st->len, p->ids, &out);
    int rc;

    if (missing) {
        free(out.data);
        return peer_fail(p,
                         "$ID%zu is used but the client sent only %zu "
                         "expected commands so far",
                         missing, json_array_size(p->ids));
    }
    rc = peer_write(p, out.data, out.len);
    free(out.data);
    return rc;
}

/* Write a reply of size bytes to the last expected command. */
static int peer_big(struct peer *p, size_t size)
{
    struct sbuf out = {0};
    char *id;
    size_t i;
    int rc;

    if (json_array_size(p->ids) == 0) {
        return peer_fail(p, "big needs an expected command to reply to");
    }
    sb_puts(&out, "{\"return\": \"");
    sb_reserve(&out, size);
    for (i = 0; i < size; i++) {
        out.data[out.len++] = FAKEPEER_BIG_BYTE(i);
    }
    id = show_json(json_array_get(p->ids, json_array_size(p->ids) - 1));
    sb_puts(&out, "\", \"id\": ");
    sb_puts(&out, id);
    sb_puts(&out, "}\r\n");
    free(id);
    rc = peer_write(p, out.data, out.len);
    free(out.data);
    return rc;
}

/* End of the scenario: read until the client closes; it must not have
 * sent anything more. */
static int peer_drain(struct peer *p)
{
    int64_t deadline = mono_ms() + FAKEPEER_STEP_TIMEOUT_MS;
    int n;

    do {
        n = peer_read_more(p, deadline);
    } while (n > 0);
    if (n == -1) {
        return -1;
    }
    if (p->n_fds) {
        return peer_fail(p, "the client passed an fd the scenario does not "
                            "expect");
    }
    if (!all_space(p->in.data, p->in.len)) {
        const char *shown;
        int k = shown_input(p, &shown);

        return peer_fail(p,
                         "the client sent what the scenario does not "
                         "expect: '%.*s'",
                         k, shown);
    }
    if (n == PEER_TIMEOUT) {
        return peer_fail(p,
                         "the client did not close its end within %d ms "
                         "of the end of the scenario",
                         FAKEPEER_STEP_TIMEOUT_MS);
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
        case STEP_SEND:
            rc = peer_write(p, st->text, st->len);
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
            p->split = st->num;
            break;
        case STEP_SLEEP:
            pause_us((long)st->num * 1000);
            break;
        case STEP_CLOSE:
            shutdown(p->fd, SHUT_WR);
            return peer_drain(p);
        }
        if (rc < 0) {
            return rc;
        }
    }
    p->step = NULL; /* reports then say "FILE: ..." */
    return peer_drain(p);
}

/* Close every descriptor above stderr but a and b. */
static void close_other_fds(int a, int b)
{
    int keep[2] = {a < b ? a : b, a < b ? b : a};
    unsigned from = 3;
    int i;

    for (i = 0; i < 2; i++) {
        if (keep[i] < 3) {
            continue;
        }
        if ((unsigned)keep[i] > from) {
            close_range(from, (unsigned)keep[i] - 1, 0);
        }
        from = (unsigned)keep[i] + 1;
    }
    close_range(from, ~0u, 0);
}

/* Run the scenario in the child and exit: 0 when it all ran, 1 with a
 * report on report_fd, 2 when the child could not even start. */
static void peer_child(struct script *sc, int fd, int report_fd, pid_t parent)
{
    struct peer p = {.sc = sc, .fd = fd};
    int status = 2;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        goto cleanup;
    }
    close_other_fds(fd, report_fd);
    p.ids = json_array();
    if (!p.ids || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        goto cleanup;
    }
    status = 0;
    if (peer_run(&p) < 0) {
        const char *why = p.why ? p.why : "failed";
        size_t len = strlen(why);

        /* One short line: fits the pipe, the parent reads it at exit. */
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
    json_decref(p.ids);
    script_release(sc);
    _exit(status);
}

int fakepeer_start(const char *path, fakepeer **out, int *client_fd)
{
    struct script sc = {0};
    fakepeer *fp = NULL;
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
    fp = calloc(1, sizeof(*fp));
    if (!fp) {
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
    fp->pid = pid;
    fp->report_fd = rp[0];
    rp[0] = -1;
    *client_fd = sv[0];
    sv[0] = -1;
    *out = fp;
    fp = NULL;
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
    free(fp);
    script_release(&sc);
    return rc;
}

int fakepeer_finish(fakepeer *fp, int timeout_ms, char **why)
{
    struct sbuf report = {0};
    int64_t deadline;
    bool killed = false;
    int status = 0;
    int rc;

    if (why) {
        *why = NULL;
    }
    if (!fp) {
        return 0;
    }
    deadline = mono_ms() + timeout_ms;
    /* The child holds the pipe's write end until it exits. */
    for (;;) {
        struct pollfd pfd = {.fd = fp->report_fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, ms_left(deadline)) == 0 && mono_ms() >= deadline) {
            kill(fp->pid, SIGKILL);
            killed = true;
            break;
        }
        sb_reserve(&report, 4096);
        r = read(fp->report_fd, report.data + report.len, 4096);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        report.len += (size_t)r;
        report.data[report.len] = '\0';
    }
    while (waitpid(fp->pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(fp->report_fd);
    free(fp);

    if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        free(report.data);
        return 0;
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc == 0) {
        rc = 1;
    }
    if (killed) {
        sb_puts(&report, report.len ? " " : "");
        sb_puts(&report, "(the fake peer was still running when the test "
                         "stopped waiting, and was killed)");
    } else if (!report.len) {
        char text[64];

        snprintf(text, sizeof(text), "the fake peer ended with status %d", rc);
        sb_puts(&report, text);
    }
    if (why) {
        *why = report.data;
    } else {
        free(report.data);
    }
    return rc;
}
