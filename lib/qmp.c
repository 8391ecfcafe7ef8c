/*
 * qmp.c - QMP client: framing, routing by key, replies matched by id.
 *
 * Connection states (qmp->state):
 *
 *   NEW --greeting read (qmp_route)--> GREETED --qmp_capabilities ok
 *   (qhil_qmp_handshake)--> READY
 *   any --EOF, read error, garbage, oversized message (qmp_fail)--> FAILED
 *
 * FAILED is final and keeps the first error, which every later call
 * returns (the way libvirt's monitor keeps its first error).
 *
 * Incoming bytes go to qmp->in.  qmp_scan() walks them once, tracking
 * only JSON nesting depth, string and escape state, to find where each
 * top-level object ends; the complete object is parsed by jansson and
 * routed by its keys: "QMP" (greeting), "event" (queued), "return" or
 * "error" (stored under its id until a waiter takes it).  Nothing is
 * matched by string comparison on the raw text.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/qmp.h>

#include "internal.h"

#define QMP_DEFAULT_MAX_MESSAGE ((size_t)64 << 20)
#define QMP_DEFAULT_MAX_EVENTS 1024
#define QMP_READ_CHUNK 65536
#define QMP_MAX_DEPTH 2048 /* as jansson's own limit */
#define QMP_READ_BURST 64  /* reads per dispatch, at most (4 MiB) */

enum qmp_state { QMP_NEW, QMP_GREETED, QMP_READY, QMP_FAILED };

typedef struct qmp_pending {
    uint64_t id;
    bool forgotten; /* drop the reply when it comes */
    json_t *reply;  /* the whole reply once it came, else NULL */
} qmp_pending;

struct qhil_qmp {
    int fd;
    enum qmp_state state;
    qhil_error failure; /* first error once FAILED */

    qhil_buf in;        /* bytes read, not yet framed */
    size_t scan_pos;    /* next byte of in to scan */
    size_t frame_start; /* where the current object starts in in */
    unsigned depth;     /* nesting depth at scan_pos */
    char nest[QMP_MAX_DEPTH]; /* open brackets, '{' or '[' */
    bool in_string;
    bool escape;
    size_t max_message;

    json_t *greeting;
    uint64_t next_id;
    qmp_pending *pending;
    size_t n_pending;
    size_t cap_pending;

    json_t *events; /* JSON array used as a FIFO */
    size_t max_events;
    size_t dropped_events;
};

static int qmp_fail(qhil_qmp *qmp, qhil_error *err, int code,
                    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int qmp_fail(qhil_qmp *qmp, qhil_error *err, int code,
                    const char *fmt, ...)
{
    va_list ap;

    if (qmp->state != QMP_FAILED) {
        va_start(ap, fmt);
        qhil_error_setv(&qmp->failure, code, fmt, ap);
        va_end(ap);
        qmp->state = QMP_FAILED;
    }
    return qhil_error_copy(err, &qmp->failure);
}

static int qmp_check(const qhil_qmp *qmp, qhil_error *err)
{
    if (qmp->state == QMP_FAILED) {
        return qhil_error_copy(err, &qmp->failure);
    }
    return QHIL_EOK;
}

int qhil_qmp_new(int fd, qhil_qmp **out, qhil_error *err)
{
    qhil_qmp *qmp;
    int rc;

    *out = NULL;
    rc = qhil_fd_prepare(fd);
    if (rc < 0) {
        close(fd);
        return qhil_error_set(err, rc, "QMP socket: %s", qhil_strerror(rc));
    }
    qmp = calloc(1, sizeof(*qmp));
    if (!qmp || !(qmp->events = json_array())) {
        free(qmp);
        close(fd);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qmp->fd = fd;
    qmp->state = QMP_NEW;
    qmp->max_message = QMP_DEFAULT_MAX_MESSAGE;
    qmp->max_events = QMP_DEFAULT_MAX_EVENTS;
    qmp->next_id = 1;
    qhil_buf_init(&qmp->in, qmp->max_message + QMP_READ_CHUNK);
    *out = qmp;
    return QHIL_EOK;
}

void qhil_qmp_free(qhil_qmp *qmp)
{
    size_t i;

    if (!qmp) {
        return;
    }
    if (qmp->fd >= 0) {
        close(qmp->fd);
    }
    for (i = 0; i < qmp->n_pending; i++) {
        json_decref(qmp->pending[i].reply);
    }
    free(qmp->pending);
    json_decref(qmp->greeting);
    json_decref(qmp->events);
    qhil_buf_release(&qmp->in);
    qhil_error_release(&qmp->failure);
    free(qmp);
}

void qhil_qmp_set_limits(qhil_qmp *qmp, size_t max_message,
                         size_t max_events)
{
    if (max_message) {
        qmp->max_message = max_message;
        qmp->in.max = max_message + QMP_READ_CHUNK;
    }
    if (max_events) {
        qmp->max_events = max_events;
    }
}

int qhil_qmp_fd(const qhil_qmp *qmp)
{
    return qmp->fd;
}

int qhil_qmp_status(const qhil_qmp *qmp, qhil_error *err)
{
    return qmp_check(qmp, err);
}

const json_t *qhil_qmp_greeting(const qhil_qmp *qmp)
{
    return qmp->greeting;
}

int qhil_qmp_version(const qhil_qmp *qmp, int *major, int *minor,
                     int *micro)
{
    json_t *v;

    if (!qmp->greeting) {
        return QHIL_EPROTO;
    }
    v = json_object_get(json_object_get(json_object_get(qmp->greeting,
                                                        "QMP"),
                                        "version"),
                        "qemu");
    if (!json_is_object(v)) {
        return QHIL_EPROTO;
    }
    if (major) {
        *major = (int)json_integer_value(json_object_get(v, "major"));
    }
    if (minor) {
        *minor = (int)json_integer_value(json_object_get(v, "minor"));
    }
    if (micro) {
        *micro = (int)json_integer_value(json_object_get(v, "micro"));
    }
    return QHIL_EOK;
}

size_t qhil_qmp_dropped_events(const qhil_qmp *qmp)
{
    return qmp->dropped_events;
}

void qhil_qmp_clear_events(qhil_qmp *qmp)
{
    json_array_clear(qmp->events);
}

static qmp_pending *qmp_find_pending(qhil_qmp *qmp, uint64_t id)
{
    size_t i;

    for (i = 0; i < qmp->n_pending; i++) {
        if (qmp->pending[i].id == id) {
            return &qmp->pending[i];
        }
    }
    return NULL;
}

static void qmp_remove_pending(qhil_qmp *qmp, qmp_pending *p)
{
    size_t i = (size_t)(p - qmp->pending);

    json_decref(p->reply);
    memmove(&qmp->pending[i], &qmp->pending[i + 1],
            (qmp->n_pending - i - 1) * sizeof(*p));
    qmp->n_pending--;
}

/* Store a reply with its waiter.  Replies nobody waits for are dropped:
 * they belong to a forgotten command or to a peer that invents ids. */
static void qmp_route_reply(qhil_qmp *qmp, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    qmp_pending *p = NULL;
    size_t i;

    if (json_is_integer(id) && json_integer_value(id) > 0) {
        p = qmp_find_pending(qmp, (uint64_t)json_integer_value(id));
    } else if (!id) {
        /* QEMU omits the id only when it could not parse the request;
         * that request is the oldest one still waiting. */
        for (i = 0; i < qmp->n_pending && !p; i++) {
            if (!qmp->pending[i].reply) {
                p = &qmp->pending[i];
            }
        }
    }
    if (!p || p->reply) {
        return;
    }
    if (p->forgotten) {
        qmp_remove_pending(qmp, p);
        return;
    }
    p->reply = json_incref(msg);
}

static void qmp_route_event(qhil_qmp *qmp, json_t *msg)
{
    while (json_array_size(qmp->events) >= qmp->max_events) {
        json_array_remove(qmp->events, 0);
        qmp->dropped_events++;
    }
    json_array_append(qmp->events, msg);
}

static int qmp_route(qhil_qmp *qmp, json_t *msg, qhil_error *err)
{
    if (!json_is_object(msg)) {
        return qmp_fail(qmp, err, QHIL_EPROTO,
                        "QMP server sent a JSON value that is not an "
                        "object");
    }
    if (json_object_get(msg, "QMP")) {
        if (qmp->greeting) {
            return qmp_fail(qmp, err, QHIL_EPROTO,
                            "QMP server sent a second greeting");
        }
        qmp->greeting = json_incref(msg);
        if (qmp->state == QMP_NEW) {
            qmp->state = QMP_GREETED;
        }
    } else if (json_is_string(json_object_get(msg, "event"))) {
        qmp_route_event(qmp, msg);
    } else if (json_object_get(msg, "return") ||
               json_is_object(json_object_get(msg, "error"))) {
        qmp_route_reply(qmp, msg);
    }
    /* Anything else is a message kind newer than us: ignored. */
    return QHIL_EOK;
}

/* Cut complete top-level objects out of qmp->in and route them. */
static int qmp_scan(qhil_qmp *qmp, qhil_error *err)
{
    char *data = qmp->in.data;
    size_t len = qmp->in.len;
    size_t i;
    int rc;

    for (i = qmp->scan_pos; i < len; i++) {
        unsigned char c = (unsigned char)data[i];

        if (qmp->in_string) {
            if (qmp->escape) {
                qmp->escape = false;
            } else if (c == '\\') {
                qmp->escape = true;
            } else if (c == '"') {
                qmp->in_string = false;
            }
            continue;
        }
        if (qmp->depth == 0) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                continue;
            }
            if (c != '{') {
                return qmp_fail(qmp, err, QHIL_EPROTO,
                                "QMP server sent byte 0x%02x outside a "
                                "JSON object",
                                c);
            }
            qmp->frame_start = i;
            qmp->nest[0] = '{';
            qmp->depth = 1;
            continue;
        }
        if (c == '"') {
            qmp->in_string = true;
        } else if (c == '{' || c == '[') {
            if (qmp->depth == QMP_MAX_DEPTH) {
                return qmp_fail(qmp, err, QHIL_EPROTO,
                                "QMP message nested deeper than %d levels",
                                QMP_MAX_DEPTH);
            }
            qmp->nest[qmp->depth++] = (char)c;
        } else if (c == '}' || c == ']') {
            if (qmp->nest[qmp->depth - 1] != (c == '}' ? '{' : '[')) {
                return qmp_fail(qmp, err, QHIL_EPROTO,
                                "QMP server sent mismatched '%c' in a "
                                "JSON message",
                                c);
            }
            if (--qmp->depth == 0) {
                json_error_t jerr;
                json_t *msg;

                if (i + 1 - qmp->frame_start > qmp->max_message) {
                    return qmp_fail(qmp, err, QHIL_ETOOBIG,
                                    "QMP message larger than the %zu byte "
                                    "limit",
                                    qmp->max_message);
                }
                msg = json_loadb(data + qmp->frame_start,
                                 i + 1 - qmp->frame_start, 0, &jerr);
                if (!msg) {
                    return qmp_fail(qmp, err, QHIL_EPROTO,
                                    "QMP server sent malformed JSON: %s",
                                    jerr.text);
                }
                rc = qmp_route(qmp, msg, err);
                json_decref(msg);
                if (rc < 0) {
                    return rc;
                }
            }
        }
    }
    /* Keep only the unfinished object, if any. */
    if (qmp->depth == 0) {
        qhil_buf_consume(&qmp->in, len);
        qmp->scan_pos = 0;
    } else {
        if (len - qmp->frame_start > qmp->max_message) {
            return qmp_fail(qmp, err, QHIL_ETOOBIG,
                            "QMP message larger than the %zu byte limit",
                            qmp->max_message);
        }
        qhil_buf_consume(&qmp->in, qmp->frame_start);
        qmp->scan_pos = len - qmp->frame_start;
        qmp->frame_start = 0;
    }
    return QHIL_EOK;
}

int qhil_qmp_dispatch(qhil_qmp *qmp, qhil_error *err)
{
    int rc = qmp_check(qmp, err);
    int burst;

    /* Bounded, so a server that never stops sending cannot hold a caller
     * past its deadline; the rest is read on the next call. */
    for (burst = 0; rc == QHIL_EOK && burst < QMP_READ_BURST; burst++) {
        ssize_t n;

        rc = qhil_buf_reserve(&qmp->in, QMP_READ_CHUNK);
        if (rc < 0) {
            return qmp_fail(qmp, err, rc, "QMP receive buffer: %s",
                            qhil_strerror(rc));
        }
        n = read(qmp->fd, qmp->in.data + qmp->in.len, QMP_READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return QHIL_EOK;
        }
        if (n < 0) {
            return qmp_fail(qmp, err, -errno, "QMP read: %s",
                            strerror(errno));
        }
        if (n == 0) {
            return qmp_fail(qmp, err, QHIL_EEOF,
                            qmp->depth ? "QMP connection closed in the "
                                         "middle of a message"
                                       : "QMP connection closed by the "
                                         "server");
        }
        qmp->in.len += (size_t)n;
        qmp->in.data[qmp->in.len] = '\0';
        rc = qmp_scan(qmp, err);
    }
    return rc;
}

/* Wait until the socket is readable or deadline; then dispatch. */
static int qmp_pump(qhil_qmp *qmp, int64_t deadline, qhil_error *err)
{
    struct pollfd pfd = {.fd = qmp->fd, .events = POLLIN};
    int n;

    n = poll(&pfd, 1, qhil_deadline_poll_ms(deadline));
    if (n < 0 && errno != EINTR) {
        return qmp_fail(qmp, err, -errno, "QMP poll: %s", strerror(errno));
    }
    if (n == 0 && qhil_now() >= deadline) {
        return QHIL_ETIMEDOUT;
    }
    return qhil_qmp_dispatch(qmp, err);
}

static int qmp_write_all(qhil_qmp *qmp, const char *data, size_t len,
                         int64_t deadline, qhil_error *err)
{
    size_t off = 0;

    while (off < len) {
        struct pollfd pfd = {.fd = qmp->fd, .events = POLLOUT};
        ssize_t n = send(qmp->fd, data + off, len - off, MSG_NOSIGNAL);

        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return qmp_fail(qmp, err,
                            errno == EPIPE ? QHIL_EEOF : -errno,
                            "QMP write: %s", strerror(errno));
        }
        if (poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) == 0 &&
            qhil_now() >= deadline) {
            if (off == 0) {
                return qhil_error_set(err, QHIL_ETIMEDOUT,
                                      "QMP server did not accept the "
                                      "command before the deadline");
            }
            /* Half a command is on the wire: the stream is unusable. */
            return qmp_fail(qmp, err, QHIL_ETIMEDOUT,
                            "QMP write stalled in the middle of a "
                            "command");
        }
    }
    return QHIL_EOK;
}

int qhil_qmp_send(qhil_qmp *qmp, const char *command, const json_t *args,
                  uint64_t *id_out, int64_t deadline, qhil_error *err)
{
    json_t *msg = NULL;
    char *text = NULL;
    uint64_t id;
    int rc;

    rc = qmp_check(qmp, err);
    if (rc < 0) {
        return rc;
    }
    if (!command || !*command) {
        return qhil_error_set(err, QHIL_EINVAL, "QMP command name is empty");
    }
    if (args && !json_is_object(args)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP arguments of '%s' must be an object",
                              command);
    }
    if (qmp->n_pending == qmp->cap_pending) {
        size_t cap = qmp->cap_pending ? qmp->cap_pending * 2 : 8;
        qmp_pending *p = realloc(qmp->pending, cap * sizeof(*p));

        if (!p) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        qmp->pending = p;
        qmp->cap_pending = cap;
    }
    id = qmp->next_id++;
    msg = json_pack("{s:s, s:I}", "execute", command, "id", (json_int_t)id);
    if (!msg || (args && json_object_set(msg, "arguments",
                                         (json_t *)args) < 0)) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    text = json_dumps(msg, JSON_COMPACT);
    if (text) {
        /* One write per command: the text and its newline together. */
        size_t len = strlen(text);
        char *line = realloc(text, len + 2);

        if (!line) {
            free(text);
            text = NULL;
        } else {
            line[len] = '\n';
            line[len + 1] = '\0';
            text = line;
        }
    }
    if (!text) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* Register before writing: a fast reply must find its waiter. */
    qmp->pending[qmp->n_pending++] =
        (qmp_pending){.id = id, .forgotten = false, .reply = NULL};
    rc = qmp_write_all(qmp, text, strlen(text), deadline, err);
    if (rc < 0) {
        qmp_pending *p = qmp_find_pending(qmp, id);

        if (p) {
            qmp_remove_pending(qmp, p);
        }
        goto cleanup;
    }
    if (id_out) {
        *id_out = id;
    }

cleanup:
    free(text);
    json_decref(msg);
    return rc;
}

void qhil_qmp_forget(qhil_qmp *qmp, uint64_t id)
{
    qmp_pending *p = qmp_find_pending(qmp, id);

    if (!p) {
        return;
    }
    if (p->reply) {
        qmp_remove_pending(qmp, p);
    } else {
        p->forgotten = true;
    }
}

/* Turn a stored reply into the caller's result. */
static int qmp_take_reply(qhil_qmp *qmp, qmp_pending *p, json_t **ret,
                          qhil_error *err)
{
    json_t *reply = p->reply;
    json_t *error = json_object_get(reply, "error");
    int rc = QHIL_EOK;

    if (error) {
        const char *cls = json_string_value(json_object_get(error, "class"));
        const char *desc = json_string_value(json_object_get(error, "desc"));

        rc = qhil_error_set(err, QHIL_ECMD, "%s: %s",
                            cls ? cls : "UnknownError",
                            desc ? desc : "(no description)");
        qhil_error_set_kind(err, cls ? cls : "UnknownError");
    } else if (ret) {
        *ret = json_incref(json_object_get(reply, "return"));
    }
    qmp_remove_pending(qmp, p);
    return rc;
}

int qhil_qmp_wait_reply(qhil_qmp *qmp, uint64_t id, json_t **ret,
                        int64_t deadline, qhil_error *err)
{
    if (ret) {
        *ret = NULL;
    }
    for (;;) {
        qmp_pending *p = qmp_find_pending(qmp, id);
        int rc;

        if (!p) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "no QMP command with id %llu is waiting "
                                  "for a reply",
                                  (unsigned long long)id);
        }
        if (p->reply) {
            return qmp_take_reply(qmp, p, ret, err);
        }
        rc = qmp_check(qmp, err);
        if (rc < 0) {
            return rc;
        }
        rc = qmp_pump(qmp, deadline, err);
        if (rc == QHIL_ETIMEDOUT) {
            return qhil_error_set(err, rc,
                                  "no reply to QMP command id %llu before "
                                  "the deadline",
                                  (unsigned long long)id);
        }
        if (rc < 0) {
            /* A reply may have been routed before the failure. */
            p = qmp_find_pending(qmp, id);
            if (p && p->reply) {
                return qmp_take_reply(qmp, p, ret, err);
            }
            return rc;
        }
    }
}

int qhil_qmp_execute(qhil_qmp *qmp, const char *command, const json_t *args,
                     json_t **ret, int64_t deadline, qhil_error *err)
{
    uint64_t id;
    int rc;

    if (ret) {
        *ret = NULL;
    }
    rc = qhil_qmp_send(qmp, command, args, &id, deadline, err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_qmp_wait_reply(qmp, id, ret, deadline, err);
    if (rc == QHIL_ETIMEDOUT) {
        qhil_qmp_forget(qmp, id);
        qhil_error_set(err, rc, "no reply to QMP command '%s' before the "
                                "deadline", command);
    } else if (rc < 0 && rc != QHIL_ECMD) {
        qhil_qmp_forget(qmp, id);
    }
    return rc;
}

int qhil_qmp_wait_event(qhil_qmp *qmp, const char *name, json_t **event,
                        int64_t deadline, qhil_error *err)
{
    if (event) {
        *event = NULL;
    }
    for (;;) {
        size_t i;
        int rc;

        for (i = 0; i < json_array_size(qmp->events); i++) {
            json_t *ev = json_array_get(qmp->events, i);
            const char *evname =
                json_string_value(json_object_get(ev, "event"));

            if (!name || (evname && strcmp(evname, name) == 0)) {
                if (event) {
                    *event = json_incref(ev);
                }
                json_array_remove(qmp->events, i);
                return QHIL_EOK;
            }
        }
        rc = qmp_check(qmp, err);
        if (rc < 0) {
            return rc;
        }
        rc = qmp_pump(qmp, deadline, err);
        if (rc == QHIL_ETIMEDOUT) {
            return qhil_error_set(err, rc,
                                  "no QMP event %s before the deadline",
                                  name ? name : "(any)");
        }
        if (rc < 0 && json_array_size(qmp->events) == 0) {
            return rc;
        }
    }
}

int qhil_qmp_handshake(qhil_qmp *qmp, int64_t deadline, qhil_error *err)
{
    json_t *caps;
    int rc;

    while (!qmp->greeting) {
        rc = qmp_check(qmp, err);
        if (rc < 0) {
            qhil_error_prefix(err, "waiting for the QMP greeting");
            return rc;
        }
        rc = qmp_pump(qmp, deadline, err);
        if (rc == QHIL_ETIMEDOUT) {
            return qhil_error_set(err, rc,
                                  "no QMP greeting before the deadline");
        }
        if (rc < 0) {
            qhil_error_prefix(err, "waiting for the QMP greeting");
            return rc;
        }
    }
    caps = json_object_get(json_object_get(qmp->greeting, "QMP"),
                           "capabilities");
    if (!json_is_array(caps)) {
        return qmp_fail(qmp, err, QHIL_EPROTO,
                        "QMP greeting has no capabilities list");
    }
    rc = qhil_qmp_execute(qmp, "qmp_capabilities", NULL, NULL, deadline, err);
    if (rc < 0) {
        return rc;
    }
    qmp->state = QMP_READY;
    return QHIL_EOK;
}
