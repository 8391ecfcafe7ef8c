/*
 * scenario.c - the machinery of the scripted fake peers (scenario.h).
 *
 * A fake peer's life, and who runs each part:
 *
 *   scn_start     (test)   proto->load parses the file (scn_read_file
 *                          hands it the directive lines), then a
 *                          socketpair, a report pipe and fork()
 *   child_main    (child)  PR_SET_PDEATHSIG, every fd but its two
 *                          closed, the socket non-blocking, then
 *                          proto->play; its scn_fail report goes down
 *                          the pipe and the child exits 1 (0 when all
 *                          of the scenario ran, 2 if it could not start)
 *   scn_finish    (test)   read the report until the child closes the
 *                          pipe by exiting (or kill it at the
 *                          deadline), reap it, hand the report back
 *
 * While playing, every write and every wait for the client has the
 * deadline SCN_STEP_TIMEOUT_MS, so a client that stops talking fails the
 * run instead of hanging it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"

#define SCN_READ_CHUNK 65536

struct scn_proc {
    pid_t pid;
    int report_fd; /* read end of the child's report pipe */
};

/* ---- growable bytes ------------------------------------------------- */

static _Noreturn void out_of_memory(void)
{
    fputs("fake peer: out of memory\n", stderr);
    abort();
}

void scn_buf_reserve(scn_buf *b, size_t n)
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
        out_of_memory();
    }
    b->data = p;
    b->cap = cap;
}

void scn_buf_add(scn_buf *b, const void *data, size_t n)
{
    scn_buf_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void scn_buf_puts(scn_buf *b, const char *s)
{
    scn_buf_add(b, s, strlen(s));
}

void scn_buf_consume(scn_buf *b, size_t n)
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

void *scn_grow(void *items, size_t n, size_t *cap, size_t size)
{
    size_t more = *cap ? *cap * 2 : 32;
    void *grown;

    if (n < *cap) {
        return items;
    }
    grown = realloc(items, more * size);
    if (!grown) {
        out_of_memory();
    }
    *cap = more;
    return grown;
}

/* ---- time ------------------------------------------------------------- */

int64_t scn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int scn_ms_left(int64_t deadline)
{
    int64_t left = deadline - scn_now_ms();

    return left < 0 ? 0 : (int)left;
}

void scn_pause_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000,
                          .tv_nsec = (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- scenario text ---------------------------------------------------- */

int scn_hexval(char c)
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

bool scn_all_blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return false;
        }
    }
    return true;
}

int scn_unescape(const char *s, const char *literal, scn_buf *out,
                 const char **bad)
{
    while (*s) {
        char c = *s;

        if (c != '\\') {
            scn_buf_add(out, &c, 1);
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
        case 'x':
            if (scn_hexval(s[2]) < 0 || scn_hexval(s[3]) < 0) {
                *bad = s;
                return -1;
            }
            c = (char)(scn_hexval(s[2]) * 16 + scn_hexval(s[3]));
            scn_buf_add(out, &c, 1);
            s += 4;
            continue;
        default:
            if (!s[1] || !strchr(literal, s[1])) {
                *bad = s;
                return -1;
            }
            c = s[1];
            break;
        }
        scn_buf_add(out, &c, 1);
        s += 2;
    }
    scn_buf_reserve(out, 0);
    return 0;
}

const char *scn_parse_u64(const char *s, int base, uint64_t *v)
{
    char *end = NULL;

    if (*s < '0' || *s > '9') {
        return NULL;
    }
    errno = 0;
    *v = strtoull(s, &end, base);
    return errno ? NULL : end;
}

int scn_directive(const char *path, int lineno, const char *text,
                  const char *const *names, size_t n, const char *known,
                  const char **arg)
{
    size_t wlen = strcspn(text, " \t");
    size_t i;

    for (i = 0; i < n; i++) {
        if (strlen(names[i]) == wlen && memcmp(names[i], text, wlen) == 0) {
            *arg = text + wlen + strspn(text + wlen, " \t");
            return (int)i;
        }
    }
    fprintf(stderr, "%s:%d: unknown directive '%.*s' (%s)\n", path, lineno,
            (int)wlen, text, known);
    return -1;
}

int scn_read_file(const char *path, scn_line_fn *fn, void *ctx)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0;
    int rc = -1;

    if (!f) {
        fprintf(stderr, "%s: cannot open the scenario: %s\n", path,
                strerror(errno));
        return -1;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        const char *text;

        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) {
            line[--got] = '\0';
        }
        text = line + strspn(line, " \t");
        if (!*text || *text == '#') {
            continue;
        }
        if (fn(ctx, lineno, text) < 0) {
            goto cleanup;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: read error: %s\n", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;

cleanup:
    free(line);
    fclose(f);
    return rc;
}

/* ---- the running peer ------------------------------------------------- */

int scn_fail(scn_peer *io, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    int n;

    if (io->why) {
        return -1;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }
    va_end(ap);
    if (io->line) {
        n = asprintf(&io->why, "%s:%d: %s", io->path, io->line,
                     msg ? msg : "failed");
    } else {
        n = asprintf(&io->why, "%s: %s", io->path, msg ? msg : "failed");
    }
    if (n < 0) {
        io->why = NULL;
    }
    free(msg);
    return -1;
}

/* Write n bytes in one or more send() calls within the step deadline. */
static int write_all(scn_peer *io, const char *data, size_t n)
{
    int64_t deadline = scn_now_ms() + SCN_STEP_TIMEOUT_MS;
    size_t off = 0;

    while (off < n && !io->client_gone) {
        struct pollfd pfd = {.fd = io->fd, .events = POLLOUT};
        ssize_t w = send(io->fd, data + off, n - off, MSG_NOSIGNAL);

        if (w >= 0) {
            off += (size_t)w;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            io->client_gone = true;
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return scn_fail(io, "write: %s", strerror(errno));
        }
        if (poll(&pfd, 1, scn_ms_left(deadline)) == 0 &&
            scn_now_ms() >= deadline) {
            return scn_fail(io,
                            "the client read nothing for %d ms (%zu of "
                            "%zu bytes written)",
                            SCN_STEP_TIMEOUT_MS, off, n);
        }
    }
    return 0;
}

int scn_write(scn_peer *io, const char *data, size_t n)
{
    size_t piece = io->split ? io->split : n;
    size_t off = 0;

    while (off < n && !io->client_gone) {
        size_t k = n - off < piece ? n - off : piece;

        if (off > 0) {
            scn_pause_us(io->proto->split_pause_us);
        }
        if (write_all(io, data + off, k) < 0) {
            return -1;
        }
        off += k;
    }
    return 0;
}

int scn_read_more(scn_peer *io, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = io->fd, .events = POLLIN};
        char *at;
        ssize_t r;

        if (io->in.len >= SCN_INPUT_MAX) {
            return scn_fail(io,
                            "the client sent more than %u bytes the "
                            "scenario did not take",
                            SCN_INPUT_MAX);
        }
        scn_buf_reserve(&io->in, SCN_READ_CHUNK);
        at = io->in.data + io->in.len;
        if (io->proto->recv) {
            r = io->proto->recv(io, at, SCN_READ_CHUNK);
        } else {
            r = read(io->fd, at, SCN_READ_CHUNK);
        }
        if (r > 0) {
            io->in.len += (size_t)r;
            io->in.data[io->in.len] = '\0';
            return (int)r;
        }
        if (r < 0 && io->why) {
            return -1;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            return SCN_EOF;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return scn_fail(io, "read: %s", strerror(errno));
        }
        if (poll(&pfd, 1, scn_ms_left(deadline)) == 0 &&
            scn_now_ms() >= deadline) {
            return SCN_TIMEOUT;
        }
    }
}

int scn_shown_input(const scn_peer *io, const char **start)
{
    const char *s = io->in.data ? io->in.data : "";
    size_t n = io->in.len;

    while (n > 0 && scn_all_blank(s, 1)) {
        s++;
        n--;
    }
    while (n > 0 && scn_all_blank(s + n - 1, 1)) {
        n--;
    }
    *start = s;
    return n > SCN_SHOW_MAX ? SCN_SHOW_MAX : (int)n;
}

int scn_drain(scn_peer *io, bool blanks_ok)
{
    int64_t deadline = scn_now_ms() + SCN_STEP_TIMEOUT_MS;
    int n;

    do {
        n = scn_read_more(io, deadline);
    } while (n > 0);
    if (n == -1) {
        return -1;
    }
    if (io->in.len > 0 &&
        !(blanks_ok && scn_all_blank(io->in.data, io->in.len))) {
        const char *shown;
        int k = scn_shown_input(io, &shown);

        return scn_fail(io,
                        "the client sent what the scenario does not "
                        "expect: '%.*s'",
                        k, shown);
    }
    if (n == SCN_TIMEOUT) {
        return scn_fail(io,
                        "the client did not close its end within %d ms "
                        "of the end of the scenario",
                        SCN_STEP_TIMEOUT_MS);
    }
    return 0;
}

/* ---- the child process ------------------------------------------------ */

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

static void write_report(int fd, const char *why)
{
    size_t len = strlen(why);

    /* One short line: fits the pipe, the test reads it at exit. */
    while (len > 0) {
        ssize_t w = write(fd, why, len);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        why += w;
        len -= (size_t)w;
    }
}

/* Play the scenario and exit: 0 when it all ran, 1 with a report on
 * report_fd, 2 when the child could not even start. */
static _Noreturn void child_main(const scn_proto *proto, void *script,
                                 const char *path, int fd, int report_fd,
                                 pid_t parent)
{
    scn_peer io = {.proto = proto, .path = path, .fd = fd};
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
    if (proto->play(&io, script) < 0) {
        write_report(report_fd, io.why ? io.why : "failed");
        status = 1;
    }

cleanup:
    free(io.why);
    free(io.in.data);
    proto->release(script);
    _exit(status);
}

int scn_start(const scn_proto *proto, const char *path, scn_proc **out,
              int *client_fd)
{
    void *script = calloc(1, proto->script_size);
    scn_proc *proc = calloc(1, sizeof(*proc));
    int sv[2] = {-1, -1};
    int rp[2] = {-1, -1};
    pid_t parent = getpid();
    pid_t pid;
    int rc = -1;

    *out = NULL;
    *client_fd = -1;
    if (!script || !proc) {
        fprintf(stderr, "%s: out of memory\n", path);
        goto cleanup;
    }
    if (proto->load(script, path) < 0) {
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
        child_main(proto, script, path, sv[1], rp[1], parent);
    }
    proc->pid = pid;
    proc->report_fd = rp[0];
    rp[0] = -1;
    *client_fd = sv[0];
    sv[0] = -1;
    *out = proc;
    proc = NULL;
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
    if (script) {
        proto->release(script);
    }
    free(script);
    free(proc);
    return rc;
}

int scn_finish(scn_proc *proc, int timeout_ms, char **why)
{
    scn_buf report = {0};
    int64_t deadline;
    bool killed = false;
    int status = 0;
    int rc;

    if (why) {
        *why = NULL;
    }
    if (!proc) {
        return 0;
    }
    deadline = scn_now_ms() + timeout_ms;
    /* The child holds the pipe's write end until it exits. */
    for (;;) {
        struct pollfd pfd = {.fd = proc->report_fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, scn_ms_left(deadline)) == 0 &&
            scn_now_ms() >= deadline) {
            kill(proc->pid, SIGKILL);
            killed = true;
            break;
        }
        scn_buf_reserve(&report, 4096);
        r = read(proc->report_fd, report.data + report.len, 4096);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        report.len += (size_t)r;
        report.data[report.len] = '\0';
    }
    while (waitpid(proc->pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(proc->report_fd);
    free(proc);

    if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        free(report.data);
        return 0;
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc == 0) {
        rc = 1;
    }
    if (killed) {
        scn_buf_puts(&report, report.len ? " " : "");
        scn_buf_puts(&report, "(the fake peer was still running when the "
                              "test stopped waiting, and was killed)");
    } else if (!report.len) {
        char text[64];

        snprintf(text, sizeof(text), "the fake peer ended with status %d", rc);
        scn_buf_puts(&report, text);
    }
    if (why) {
        *why = report.data;
    } else {
        free(report.data);
    }
    return rc;
}
