/*
 * qmp.c - QMP client: framing, routing by key, replies matched by id, an
 * output queue for callers with their own poll loop, transports, and an
 * index of the server's schema.
 *
 * Connection states (qmp->state):
 *
 *   NEW --greeting read (qmp_route)--> GREETED --qmp_capabilities ok,
 *   with "oob" enabled when the greeting offers it
 *   (qhil_qmp_handshake)--> READY
 *   any --EOF, read/write/poll error, garbage, oversized message, half a
 *   command left on the wire at a deadline (qmp_fail)--> FAILED
 *
 * FAILED is final and keeps the first error, which every later call
 * returns (the way libvirt's monitor keeps its first error).
 *
 * Incoming bytes go to qmp->in.  qmp_scan() walks them once, tracking
 * only JSON nesting depth, string and escape state, to find where each
 * top-level object ends; the complete object is parsed by jansson and
 * routed by its keys: "QMP" (greeting), "event" (offered to the caller's
 * callback, then queued unless the callback consumed it), "return" or
 * "error" (stored under its id until a waiter takes it).  Nothing is
 * matched by string comparison on the raw text.
 *
 * Outgoing: every command, blocking or not, is serialised by qmp_queue()
 * into the capped output queue qmp->out and registered in the pending
 * table before its first byte leaves, so a fast reply finds its waiter.
 * qmp_flush() writes what the socket takes without blocking.
 * qhil_qmp_submit flushes once and returns; qhil_qmp_send waits (POLLOUT,
 * reading meanwhile so neither side can stall the other) until its own
 * bytes are out; qhil_qmp_dispatch and every wait flush the rest.  An fd
 * to pass travels in one SCM_RIGHTS message with the first byte of its
 * command: the flush stops before that byte and sends from it with
 * sendmsg.  QEMU keeps only the last fds it received, so one fd-carrying
 * command is in flight at a time.
 *
 * Trace (qhil_qmp_set_trace): every object jansson parsed is shown
 * (IN) before it is routed, so events the bounded queue drops later, or
 * the event callback consumes, are seen too, and bytes that do not parse
 * never are.  A command queued while a trace is set keeps a copy of its
 * message in its pending entry; qmp_flush() shows it (OUT) once its first
 * byte has left, so a command taken back before it was written is never
 * shown, and a command always shows before its reply.
 *
 * Schema index (qhil_qmp_schema_load): query-qmp-schema's entity list
 * is resolved once into {COMMAND: {"args": {NAME: TYPE}, "oob": BOOL}}.
 * A command's "arg-type" names an object type (QEMU mangles most type
 * names to numbers); its "members", and those of its "variants" for
 * union arguments, are the arguments.
 */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/qmp.h>

#include "internal.h"

#define QMP_DEFAULT_MAX_MESSAGE ((size_t)64 << 20)
#define QMP_DEFAULT_MAX_EVENTS 1024
#define QMP_READ_CHUNK 65536
#define QMP_MAX_DEPTH 2048  /* as jansson's own limit */
#define QMP_READ_BURST 64   /* reads per dispatch, at most (4 MiB) */
#define QMP_SCHEMA_DEPTH 16 /* nesting of variant argument types */
#define QMP_SHOWN_MAX 200   /* bytes of JSON or name lists in messages */

enum qmp_state { QMP_NEW, QMP_GREETED, QMP_READY, QMP_FAILED };

typedef struct qmp_pending {
    uint64_t id;
    bool forgotten; /* drop the reply when it comes */
    json_t *reply;  /* the whole reply once it came, else NULL */
    json_t *trace;  /* the command, for the trace once it leaves, or NULL */
    uint64_t start; /* stream offset of its first byte */
} qmp_pending;

struct qhil_qmp {
    int fd;
    bool unix_socket; /* AF_UNIX: fds can be passed */
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

    qhil_buf out;      /* command text queued, not yet written */
    uint64_t out_base; /* stream offset of out.data[0]: bytes written */
    int out_fd;        /* fd to pass with the byte at out_fd_at, or -1 */
    size_t out_fd_at;  /* offset in out of that command's first byte */
    uint64_t fd_cmd;   /* id of the last command that passed an fd */

    json_t *greeting;
    bool oob; /* "oob" capability enabled */
    uint64_t next_id;
    qmp_pending *pending;
    size_t n_pending;
    size_t cap_pending;

    json_t *events; /* JSON array used as a FIFO */
    size_t max_events;
    size_t dropped_events;
    qhil_qmp_event_fn event_fn;
    void *event_data;
    bool in_callback; /* event_fn is running: no reads, no waits */
    qhil_qmp_trace_fn trace_fn;
    void *trace_data;
    size_t untraced; /* pending commands with a trace copy not shown */
    int cancel_fd;    /* readable: every wait ends (borrowed), or -1 */

    json_t *schema; /* command index (see the top), NULL until loaded */
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

/* Reads and waits from inside the event callback would re-enter the
 * framing that called it. */
static int qmp_busy(qhil_error *err)
{
    return qhil_error_set(err, QHIL_EBUSY,
                          "QMP call from inside the event callback: it may "
                          "only queue commands (qhil_qmp_submit) and take "
                          "replies that came (qhil_qmp_take_reply)");
}

/* Compact JSON of v for a message, cut to QMP_SHOWN_MAX bytes; caller
 * frees; NULL only when out of memory. */
static char *qmp_show_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s && strlen(s) > QMP_SHOWN_MAX) {
        memcpy(s + QMP_SHOWN_MAX - 3, "...", 4);
    }
    return s;
}

int qhil_qmp_new(int fd, qhil_qmp **out, qhil_error *err)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    qhil_qmp *qmp;
    int rc;

    *out = NULL;
    memset(&sa, 0, sizeof(sa));
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
    qmp->unix_socket = getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 &&
                       sa.ss_family == AF_UNIX;
    qmp->state = QMP_NEW;
    qmp->max_message = QMP_DEFAULT_MAX_MESSAGE;
    qmp->max_events = QMP_DEFAULT_MAX_EVENTS;
    qmp->next_id = 1;
    qmp->out_fd = -1;
    qmp->cancel_fd = -1;
    qhil_buf_init(&qmp->in, qmp->max_message + QMP_READ_CHUNK);
    qhil_buf_init(&qmp->out, qmp->max_message);
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
    if (qmp->out_fd >= 0) {
        close(qmp->out_fd);
    }
    for (i = 0; i < qmp->n_pending; i++) {
        json_decref(qmp->pending[i].reply);
        json_decref(qmp->pending[i].trace);
    }
    free(qmp->pending);
    json_decref(qmp->greeting);
    json_decref(qmp->events);
    json_decref(qmp->schema);
    qhil_buf_release(&qmp->in);
    qhil_buf_release(&qmp->out);
    qhil_error_release(&qmp->failure);
    free(qmp);
}

void qhil_qmp_set_limits(qhil_qmp *qmp, size_t max_message,
                         size_t max_events)
{
    if (max_message) {
        qmp->max_message = max_message;
        /* Never below what is buffered already, or reserve underflows. */
        qmp->in.max = max_message + QMP_READ_CHUNK > qmp->in.len
                          ? max_message + QMP_READ_CHUNK
                          : qmp->in.len;
        /* Never below what is queued already. */
        qmp->out.max = max_message > qmp->out.len ? max_message
                                                  : qmp->out.len;
    }
    if (max_events) {
        qmp->max_events = max_events;
    }
}

void qhil_qmp_set_cancel_fd(qhil_qmp *qmp, int fd)
{
    qmp->cancel_fd = fd < 0 ? -1 : fd;
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

int qhil_qmp_has_oob(const qhil_qmp *qmp)
{
    return qmp->oob;
}

size_t qhil_qmp_dropped_events(const qhil_qmp *qmp)
{
    return qmp->dropped_events;
}

void qhil_qmp_clear_events(qhil_qmp *qmp)
{
    json_array_clear(qmp->events);
}

void qhil_qmp_set_event_callback(qhil_qmp *qmp, qhil_qmp_event_fn fn,
                                 void *data)
{
    qmp->event_fn = fn;
    qmp->event_data = fn ? data : NULL;
}

void qhil_qmp_set_trace(qhil_qmp *qmp, qhil_qmp_trace_fn fn, void *data)
{
    qmp->trace_fn = fn;
    qmp->trace_data = fn ? data : NULL;
}

/* Show msg to the trace; no reads or waits from inside it. */
static void qmp_trace(qhil_qmp *qmp, qhil_qmp_dir dir, const json_t *msg)
{
    bool was = qmp->in_callback;

    if (!qmp->trace_fn) {
        return;
    }
    qmp->in_callback = true;
    qmp->trace_fn(qmp->trace_data, dir, msg);
    qmp->in_callback = was;
}

/* ---- incoming: framing and routing --------------------------------------- */

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
    if (p->trace) {
        json_decref(p->trace);
        qmp->untraced--;
    }
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
    if (qmp->event_fn) {
        int consumed;

        qmp->in_callback = true;
        consumed = qmp->event_fn(qmp->event_data, msg);
        qmp->in_callback = false;
        if (consumed) {
            return;
        }
    }
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
                qmp_trace(qmp, QHIL_QMP_IN, msg);
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

/* Read what the socket has (a bounded burst) and route it. */
static int qmp_read(qhil_qmp *qmp, qhil_error *err)
{
    int rc = QHIL_EOK;
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
        if ((size_t)n < QMP_READ_CHUNK) {
            break; /* drained: spare the read that would say EAGAIN */
        }
    }
    return rc;
}

/* ---- outgoing: the output queue ------------------------------------------ */

/* Show the trace the commands whose first byte has left, in the order
 * they were queued (the pending table's).  By index: the trace may not
 * queue, but a table that moved must not be read freed. */
static void qmp_trace_sent(qhil_qmp *qmp)
{
    size_t i;

    for (i = 0; qmp->untraced > 0 && i < qmp->n_pending; i++) {
        json_t *msg = qmp->pending[i].trace;

        if (!msg) {
            continue;
        }
        if (qmp->pending[i].start >= qmp->out_base) {
            break; /* this one and all later ones are still queued */
        }
        qmp->pending[i].trace = NULL;
        qmp->untraced--;
        qmp_trace(qmp, QHIL_QMP_OUT, msg);
        json_decref(msg);
    }
}

/* Write queued output without blocking, as far as the socket takes it. */
static int qmp_flush(qhil_qmp *qmp, qhil_error *err)
{
    int rc = qmp_check(qmp, err);

    if (rc < 0) {
        return rc; /* e.g. failed by a submit from the event callback */
    }
    while (qmp->out.len > 0) {
        size_t n = qmp->out.len;
        bool with_fd = false;
        ssize_t w;

        if (qmp->out_fd >= 0 && qmp->out_fd_at > 0) {
            n = qmp->out_fd_at; /* the fd goes with the byte after these */
        } else if (qmp->out_fd >= 0) {
            with_fd = true;
        }
        if (with_fd) {
            union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
            } control;
            struct iovec iov = {.iov_base = qmp->out.data, .iov_len = n};
            struct msghdr mh = {.msg_iov = &iov,
                                .msg_iovlen = 1,
                                .msg_control = control.buf,
                                .msg_controllen = sizeof(control.buf)};
            struct cmsghdr *cm;

            memset(&control, 0, sizeof(control));
            cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &qmp->out_fd, sizeof(int));
            w = sendmsg(qmp->fd, &mh, MSG_NOSIGNAL);
        } else {
            w = send(qmp->fd, qmp->out.data, n, MSG_NOSIGNAL);
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return QHIL_EOK;
        }
        if (w < 0) {
            return qmp_fail(qmp, err, errno == EPIPE ? QHIL_EEOF : -errno,
                            "QMP write: %s", strerror(errno));
        }
        if (with_fd) {
            /* Any byte sent took the fd with it: ours can go. */
            close(qmp->out_fd);
            qmp->out_fd = -1;
        } else if (qmp->out_fd >= 0) {
            qmp->out_fd_at -= (size_t)w;
        }
        qhil_buf_consume(&qmp->out, (size_t)w);
        qmp->out_base += (uint64_t)w;
        if (qmp->untraced > 0) {
            qmp_trace_sent(qmp);
        }
    }
    return QHIL_EOK;
}

/* Take the never-sent text at stream offsets [start, end) out of the
 * queue. */
static void qmp_unqueue(qhil_qmp *qmp, uint64_t start, uint64_t end)
{
    size_t s = (size_t)(start - qmp->out_base);
    size_t e = (size_t)(end - qmp->out_base);

    memmove(qmp->out.data + s, qmp->out.data + e, qmp->out.len - e);
    qmp->out.len -= e - s;
    qmp->out.data[qmp->out.len] = '\0';
    if (qmp->out_fd >= 0 && qmp->out_fd_at >= e) {
        qmp->out_fd_at -= e - s;
    }
}

static int qmp_schema_check(const qhil_qmp *qmp, const char *command,
                            const json_t *args, bool oob, qhil_error *err);

/*
 * Serialise a command into the output queue and register its id.
 * *start and *end receive the stream offsets of its text.  Nothing is
 * written; pass_fd (>= 0) is duplicated, to go with the first byte.
 */
static int qmp_queue(qhil_qmp *qmp, const char *command, const json_t *args,
                     int pass_fd, unsigned flags, uint64_t *id_out,
                     uint64_t *start, uint64_t *end, qhil_error *err)
{
    bool oob = (flags & QHIL_QMP_OOB) != 0;
    json_t *msg = NULL;
    char *text = NULL;
    int dup_fd = -1;
    size_t len;
    size_t at;
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
    if (oob && !qmp->oob) {
        return qhil_error_set(err, QHIL_EUNSUPPORTED,
                              "cannot run '%s' out-of-band: the QMP server "
                              "did not offer the \"oob\" capability, or the "
                              "handshake has not run yet",
                              command);
    }
    if (flags & QHIL_QMP_CHECK) {
        rc = qmp_schema_check(qmp, command, args, oob, err);
        if (rc < 0) {
            return rc;
        }
    }
    if (pass_fd >= 0) {
        qmp_pending *p = qmp->fd_cmd ? qmp_find_pending(qmp, qmp->fd_cmd)
                                     : NULL;

        if (!qmp->unix_socket) {
            return qhil_error_set(err, QHIL_EUNSUPPORTED,
                                  "cannot pass an fd with '%s': the QMP "
                                  "connection is not a Unix socket",
                                  command);
        }
        if (qmp->out_fd >= 0 || (p && !p->reply)) {
            return qhil_error_set(err, QHIL_EBUSY,
                                  "cannot pass an fd with '%s' yet: QMP "
                                  "command id %llu passed one and has no "
                                  "reply; QEMU keeps only the latest fd "
                                  "it received, so wait for that reply "
                                  "first",
                                  command, (unsigned long long)qmp->fd_cmd);
        }
        dup_fd = fcntl(pass_fd, F_DUPFD_CLOEXEC, 0);
        if (dup_fd < 0) {
            rc = -errno;
            return qhil_error_set(err, rc, "cannot pass fd %d with '%s': %s",
                                  pass_fd, command, strerror(-rc));
        }
    }
    if (qmp->n_pending == qmp->cap_pending) {
        size_t cap = qmp->cap_pending ? qmp->cap_pending * 2 : 8;
        qmp_pending *p = realloc(qmp->pending, cap * sizeof(*p));

        if (!p) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        qmp->pending = p;
        qmp->cap_pending = cap;
    }
    id = qmp->next_id;
    msg = json_pack("{s:s, s:I}", oob ? "exec-oob" : "execute", command,
                    "id", (json_int_t)id);
    if (!msg || (args && json_object_set(msg, "arguments",
                                         (json_t *)args) < 0)) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    text = json_dumps(msg, JSON_COMPACT);
    if (!text) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    len = strlen(text);
    /* Text and newline go in whole or not at all. */
    rc = qhil_buf_reserve(&qmp->out, len + 1);
    if (rc == QHIL_ETOOBIG) {
        rc = qhil_error_set(err, rc,
                            "QMP command '%s' (%zu bytes) does not fit in "
                            "the output queue (%zu of %zu bytes used); let "
                            "queued commands go out first, or raise the "
                            "limit with qhil_qmp_set_limits",
                            command, len + 1, qmp->out.len, qmp->out.max);
        goto cleanup;
    }
    if (rc < 0) {
        rc = qhil_error_set(err, rc, "out of memory");
        goto cleanup;
    }
    at = qmp->out.len;
    qhil_buf_append(&qmp->out, text, len);
    qhil_buf_append(&qmp->out, "\n", 1);
    if (dup_fd >= 0) {
        qmp->out_fd = dup_fd;
        qmp->out_fd_at = at;
        qmp->fd_cmd = id;
        dup_fd = -1;
    }
    qmp->pending[qmp->n_pending++] = (qmp_pending){
        .id = id, .forgotten = false, .reply = NULL, .trace = NULL,
        .start = qmp->out_base + at};
    if (qmp->trace_fn) {
        /* A copy: the caller may change args once this returns. */
        qmp->pending[qmp->n_pending - 1].trace = json_deep_copy(msg);
        if (qmp->pending[qmp->n_pending - 1].trace) {
            qmp->untraced++;
        }
    }
    qmp->next_id++;
    *id_out = id;
    *start = qmp->out_base + at;
    *end = qmp->out_base + qmp->out.len;

cleanup:
    if (dup_fd >= 0) {
        close(dup_fd);
    }
    free(text);
    json_decref(msg);
    return rc;
}

int qhil_qmp_dispatch(qhil_qmp *qmp, qhil_error *err)
{
    int rc = qmp_check(qmp, err);

    if (rc < 0) {
        return rc;
    }
    if (qmp->in_callback) {
        return qmp_busy(err);
    }
    /* Replies already in the socket are routed before a write can fail
     * on a server that went away. */
    rc = qmp_read(qmp, err);
    if (rc < 0) {
        return rc;
    }
    return qmp_flush(qmp, err);
}

short qhil_qmp_poll_events(const qhil_qmp *qmp)
{
    return (short)(POLLIN | (qmp->out.len ? POLLOUT : 0));
}

/*
 * One round of a wait: poll the socket (POLLOUT too while output is
 * queued) and the cancel fd until deadline, then dispatch.
 *
 * *first is true on a wait's first round: that round always dispatches,
 * without blocking when the deadline has passed already, so what is in
 * the socket is routed before any timeout is reported (a wait with
 * deadline qhil_now() still returns a reply that has come).  Later
 * rounds return QHIL_ETIMEDOUT once the deadline passed, before reading,
 * so a server that never stops sending (events) cannot hold a caller
 * past its deadline.  A readable cancel fd ends the wait with
 * QHIL_ECANCELED (nothing recorded: the caller words the message).
 */
static int qmp_pump(qhil_qmp *qmp, int64_t deadline, bool *first,
                    qhil_error *err)
{
    struct pollfd pfd[2] = {
        {.fd = qmp->fd, .events = qhil_qmp_poll_events(qmp)},
        {.fd = qmp->cancel_fd, .events = POLLIN},
    };
    nfds_t nfds = qmp->cancel_fd >= 0 ? 2 : 1;
    bool late = qhil_now() >= deadline;
    int n;

    if (qmp->in_callback) {
        return qmp_busy(err);
    }
    if (late && !*first) {
        return QHIL_ETIMEDOUT;
    }
    *first = false;
    n = poll(pfd, nfds, late ? 0 : qhil_deadline_poll_ms(deadline));
    if (n < 0 && errno != EINTR) {
        return qmp_fail(qmp, err, -errno, "QMP poll: %s", strerror(errno));
    }
    if (n > 0 && nfds == 2 && (pfd[1].revents & POLLNVAL)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP: the cancel fd %d is not open",
                              qmp->cancel_fd);
    }
    if (n > 0 && nfds == 2 && pfd[1].revents) {
        return QHIL_ECANCELED;
    }
    if (!late && n == 0 && qhil_now() >= deadline) {
        return QHIL_ETIMEDOUT;
    }
    return qhil_qmp_dispatch(qmp, err);
}

int qhil_qmp_send(qhil_qmp *qmp, const char *command, const json_t *args,
                  uint64_t *id_out, int64_t deadline, qhil_error *err)
{
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t id = 0;
    bool first = false; /* the loop dispatches before it waits */
    int rc;

    if (qmp->in_callback) {
        return qmp_busy(err);
    }
    rc = qmp_queue(qmp, command, args, -1, 0, &id, &start, &end, err);
    if (rc < 0) {
        return rc;
    }
    /* Until our last byte is out; replies are read meanwhile. */
    for (;;) {
        rc = qhil_qmp_dispatch(qmp, err);
        if (rc < 0 || qmp->out_base >= end) {
            break;
        }
        if (qhil_now() >= deadline) {
            rc = QHIL_ETIMEDOUT;
            break;
        }
        rc = qmp_pump(qmp, deadline, &first, err);
        if (rc < 0 && rc != QHIL_ETIMEDOUT) {
            break;
        }
    }
    if (rc == QHIL_ECANCELED && qmp->out_base <= start) {
        qmp_unqueue(qmp, start, end);
        rc = qhil_error_set(err, QHIL_ECANCELED,
                            "interrupted before the QMP server accepted "
                            "the command");
    } else if (rc == QHIL_ECANCELED) {
        /* Half a command is on the wire: the stream is unusable. */
        rc = qmp_fail(qmp, err, QHIL_ECANCELED,
                      "interrupted in the middle of writing a QMP "
                      "command");
    } else if (rc == QHIL_ETIMEDOUT && qmp->out_base <= start) {
        qmp_unqueue(qmp, start, end);
        rc = qhil_error_set(err, QHIL_ETIMEDOUT,
                            "QMP server did not accept the command before "
                            "the deadline");
    } else if (rc == QHIL_ETIMEDOUT) {
        /* Half a command is on the wire: the stream is unusable. */
        rc = qmp_fail(qmp, err, QHIL_ETIMEDOUT,
                      "QMP write stalled in the middle of a command");
    }
    if (rc < 0) {
        qmp_pending *p = qmp_find_pending(qmp, id);

        if (p) {
            qmp_remove_pending(qmp, p);
        }
        return rc;
    }
    if (id_out) {
        *id_out = id;
    }
    return QHIL_EOK;
}

int qhil_qmp_submit(qhil_qmp *qmp, const char *command, const json_t *args,
                    int pass_fd, unsigned flags, uint64_t *id_out,
                    qhil_error *err)
{
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t id = 0;
    int rc;

    rc = qmp_queue(qmp, command, args, pass_fd, flags, &id, &start, &end,
                   err);
    if (rc < 0) {
        return rc;
    }
    if (id_out) {
        *id_out = id;
    }
    /* Whatever the socket takes now; the rest goes on dispatch. */
    return qmp_flush(qmp, err);
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

int qhil_qmp_take_reply(qhil_qmp *qmp, uint64_t id, json_t **ret,
                        qhil_error *err)
{
    qmp_pending *p = qmp_find_pending(qmp, id);
    int rc;

    if (ret) {
        *ret = NULL;
    }
    if (!p || p->forgotten) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "no QMP command with id %llu is waiting for a "
                              "reply",
                              (unsigned long long)id);
    }
    if (p->reply) {
        rc = qmp_take_reply(qmp, p, ret, err);
        return rc < 0 ? rc : 1;
    }
    rc = qmp_check(qmp, err);
    return rc < 0 ? rc : 0;
}

int qhil_qmp_wait_reply(qhil_qmp *qmp, uint64_t id, json_t **ret,
                        int64_t deadline, qhil_error *err)
{
    bool first = true;

    if (ret) {
        *ret = NULL;
    }
    for (;;) {
        qmp_pending *p = qmp_find_pending(qmp, id);
        int rc;

        if (!p || p->forgotten) {
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
        rc = qmp_pump(qmp, deadline, &first, err);
        if (rc == QHIL_ETIMEDOUT) {
            return qhil_error_set(err, rc,
                                  "no reply to QMP command id %llu before "
                                  "the deadline",
                                  (unsigned long long)id);
        }
        if (rc == QHIL_ECANCELED) {
            return qhil_error_set(err, rc,
                                  "interrupted while waiting for the reply "
                                  "to QMP command id %llu",
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
    uint64_t id = 0;
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
    } else if (rc == QHIL_ECANCELED) {
        qhil_qmp_forget(qmp, id);
        qhil_error_set(err, rc,
                       "interrupted while waiting for the reply to "
                       "QMP command '%s'",
                       command);
    } else if (rc < 0 && rc != QHIL_ECMD) {
        qhil_qmp_forget(qmp, id);
    }
    return rc;
}

/* ---- events -------------------------------------------------------------- */

int qhil_json_subset(const json_t *want, const json_t *have)
{
    const char *key;
    json_t *value;

    if (!want || !have) {
        return want == have;
    }
    if (json_is_array(want)) {
        /* Element by element: same length, so [] still means empty. */
        if (!json_is_array(have) ||
            json_array_size(want) != json_array_size(have)) {
            return 0;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            if (!qhil_json_subset(json_array_get(want, i),
                                  json_array_get(have, i))) {
                return 0;
            }
        }
        return 1;
    }
    if (!json_is_object(want)) {
        return json_equal(want, have);
    }
    if (!json_is_object(have)) {
        return 0;
    }
    /* jansson's iterator takes a non-const object; it does not modify it. */
    json_object_foreach((json_t *)want, key, value) {
        if (!qhil_json_subset(value, json_object_get(have, key))) {
            return 0;
        }
    }
    return 1;
}

int qhil_qmp_wait_event_match(qhil_qmp *qmp, const char *name,
                              const json_t *match, json_t **event,
                              int64_t deadline, qhil_error *err)
{
    json_t *empty = NULL; /* the "data" of events that have none */
    bool first = true;
    int rc;

    if (event) {
        *event = NULL;
    }
    for (;;) {
        size_t i;

        for (i = 0; i < json_array_size(qmp->events); i++) {
            json_t *ev = json_array_get(qmp->events, i);
            const char *evname =
                json_string_value(json_object_get(ev, "event"));
            json_t *data = json_object_get(ev, "data");

            if (name && (!evname || strcmp(evname, name) != 0)) {
                continue;
            }
            if (match && !data && !empty && !(empty = json_object())) {
                rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
                goto cleanup;
            }
            if (match && !qhil_json_subset(match, data ? data : empty)) {
                continue;
            }
            if (event) {
                *event = json_incref(ev);
            }
            json_array_remove(qmp->events, i);
            rc = QHIL_EOK;
            goto cleanup;
        }
        rc = qmp_check(qmp, err);
        if (rc < 0) {
            goto cleanup;
        }
        rc = qmp_pump(qmp, deadline, &first, err);
        if (rc == QHIL_ECANCELED) {
            rc = qhil_error_set(err, rc,
                                "interrupted while waiting for QMP event %s",
                                name ? name : "(any)");
            goto cleanup;
        }
        if (rc == QHIL_ETIMEDOUT) {
            char *shown = match ? qmp_show_json(match) : NULL;

            rc = qhil_error_set(err, rc,
                                "no QMP event %s%s%s before the deadline",
                                name ? name : "(any)",
                                shown ? " with data containing " : "",
                                shown ? shown : "");
            free(shown);
            goto cleanup;
        }
        if (rc < 0 && (json_array_size(qmp->events) == 0 ||
                       rc == QHIL_EBUSY)) {
            goto cleanup; /* EBUSY: called from the event callback */
        }
    }

cleanup:
    json_decref(empty);
    return rc;
}

int qhil_qmp_wait_event(qhil_qmp *qmp, const char *name, json_t **event,
                        int64_t deadline, qhil_error *err)
{
    return qhil_qmp_wait_event_match(qmp, name, NULL, event, deadline, err);
}

int64_t qhil_qmp_event_time(const json_t *event)
{
    json_t *ts = json_object_get(event, "timestamp");
    json_t *s = json_object_get(ts, "seconds");
    json_t *us = json_object_get(ts, "microseconds");
    json_int_t sec;
    json_int_t usec;

    if (!json_is_integer(s) || !json_is_integer(us)) {
        return -1;
    }
    sec = json_integer_value(s);
    usec = json_integer_value(us);
    if (sec < 0 || usec < 0 || usec >= 1000000 ||
        sec >= INT64_MAX / QHIL_SEC) {
        return -1;
    }
    return (int64_t)sec * QHIL_SEC + (int64_t)usec * QHIL_USEC;
}

/* ---- handshake ----------------------------------------------------------- */

int qhil_qmp_handshake(qhil_qmp *qmp, int64_t deadline, qhil_error *err)
{
    json_t *caps;
    json_t *args = NULL;
    bool offer_oob = false;
    bool first = true;
    size_t i;
    int rc;

    while (!qmp->greeting) {
        rc = qmp_check(qmp, err);
        if (rc < 0) {
            qhil_error_prefix(err, "waiting for the QMP greeting");
            return rc;
        }
        rc = qmp_pump(qmp, deadline, &first, err);
        if (rc == QHIL_ETIMEDOUT) {
            return qhil_error_set(err, rc,
                                  "no QMP greeting before the deadline");
        }
        if (rc == QHIL_ECANCELED) {
            return qhil_error_set(err, rc,
                                  "interrupted while waiting for the QMP "
                                  "greeting");
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
    for (i = 0; i < json_array_size(caps); i++) {
        const char *cap = json_string_value(json_array_get(caps, i));

        if (cap && strcmp(cap, "oob") == 0) {
            offer_oob = true;
        }
    }
    /* Out-of-band execution only works once enabled here. */
    if (offer_oob) {
        args = json_pack("{s:[s]}", "enable", "oob");
        if (!args) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    rc = qhil_qmp_execute(qmp, "qmp_capabilities", args, NULL, deadline, err);
    json_decref(args);
    if (rc < 0) {
        return rc;
    }
    /* The reply may have come just before the connection failed. */
    rc = qmp_check(qmp, err);
    if (rc < 0) {
        return rc;
    }
    qmp->oob = offer_oob;
    qmp->state = QMP_READY;
    return QHIL_EOK;
}

/* ---- schema index -------------------------------------------------------- */

/* "QEMU 7.2.9" from the greeting, or "the QMP server"; caller frees. */
static char *qmp_server_name(const qhil_qmp *qmp)
{
    int major = 0;
    int minor = 0;
    int micro = 0;
    char *s = NULL;

    if (qhil_qmp_version(qmp, &major, &minor, &micro) < 0 ||
        asprintf(&s, "QEMU %d.%d.%d", major, minor, micro) < 0) {
        return strdup("the QMP server");
    }
    return s;
}

static int qmp_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of obj, sorted, NULL-terminated; NULL when out of memory. */
static char **qmp_sorted_keys(const json_t *obj)
{
    size_t n = json_object_size(obj);
    char **v = calloc(n + 1, sizeof(*v));
    const char *key;
    json_t *value;
    size_t i = 0;

    if (!v) {
        return NULL;
    }
    /* jansson's iterator takes a non-const object; it does not modify
     * it. */
    json_object_foreach((json_t *)obj, key, value) {
        (void)value;
        v[i] = strdup(key);
        if (!v[i]) {
            qhil_strv_free(v);
            return NULL;
        }
        i++;
    }
    qsort(v, i, sizeof(*v), qmp_strcmp);
    return v;
}

void qhil_strv_free(char **v)
{
    size_t i;

    if (!v) {
        return;
    }
    for (i = 0; v[i]; i++) {
        free(v[i]);
    }
    free(v);
}

/*
 * Add the members of the object type called name, and of its variants,
 * to args ({NAME: TYPE}).  Returns 0, or -1 when name is not an object
 * type of the schema (types: {NAME: entity}).
 */
static int qmp_schema_members(const json_t *types, const char *name,
                              json_t *args, int depth)
{
    json_t *type = json_object_get(types, name);
    json_t *list;
    json_t *item;
    size_t i;

    if (!json_is_object(type) ||
        strcmp(json_string_value(json_object_get(type, "meta-type")),
               "object") != 0) {
        return -1;
    }
    if (depth >= QMP_SCHEMA_DEPTH) {
        return 0;
    }
    list = json_object_get(type, "members");
    json_array_foreach(list, i, item) {
        const char *member = json_string_value(json_object_get(item, "name"));
        json_t *mtype = json_object_get(item, "type");

        if (member && json_object_set(args, member,
                                      mtype ? mtype : json_null()) < 0) {
            return -1;
        }
    }
    list = json_object_get(type, "variants");
    json_array_foreach(list, i, item) {
        const char *vtype = json_string_value(json_object_get(item, "type"));

        if (vtype && qmp_schema_members(types, vtype, args, depth + 1) < 0) {
            return -1;
        }
    }
    return 0;
}

int qhil_qmp_schema_load(qhil_qmp *qmp, int64_t deadline, qhil_error *err)
{
    json_t *list = NULL;
    json_t *types = NULL;
    json_t *index = NULL;
    json_t *ent;
    size_t i;
    int rc;

    rc = qhil_qmp_execute(qmp, "query-qmp-schema", NULL, &list, deadline,
                          err);
    if (rc < 0) {
        qhil_error_prefix(err, "loading the QMP schema");
        goto cleanup;
    }
    if (!json_is_array(list)) {
        rc = qhil_error_set(err, QHIL_EPROTO,
                            "loading the QMP schema: query-qmp-schema did "
                            "not return a list");
        goto cleanup;
    }
    types = json_object();
    index = json_object();
    if (!types || !index) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* Pass 1: every entity by name. */
    json_array_foreach(list, i, ent) {
        const char *name = json_string_value(json_object_get(ent, "name"));

        if (!name || !json_is_string(json_object_get(ent, "meta-type"))) {
            rc = qhil_error_set(err, QHIL_EPROTO,
                                "loading the QMP schema: entry %zu of "
                                "query-qmp-schema has no name or meta-type",
                                i);
            goto cleanup;
        }
        if (json_object_set(types, name, ent) < 0) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    /* Pass 2: commands, with their argument types resolved. */
    json_array_foreach(list, i, ent) {
        const char *name = json_string_value(json_object_get(ent, "name"));
        const char *meta =
            json_string_value(json_object_get(ent, "meta-type"));
        const char *arg_type =
            json_string_value(json_object_get(ent, "arg-type"));
        json_t *args;
        json_t *entry;

        if (strcmp(meta, "command") != 0) {
            continue;
        }
        args = json_object();
        if (!args) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (!arg_type || qmp_schema_members(types, arg_type, args, 0) < 0) {
            json_decref(args);
            rc = qhil_error_set(err, QHIL_EPROTO,
                                "loading the QMP schema: command '%s' has "
                                "argument type '%s', which is not an "
                                "object type of query-qmp-schema",
                                name, arg_type ? arg_type : "(none)");
            goto cleanup;
        }
        entry = json_pack("{s:o, s:b}", "args", args, "oob",
                          json_is_true(json_object_get(ent, "allow-oob")));
        if (!entry || json_object_set_new(index, name, entry) < 0) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    json_decref(qmp->schema);
    qmp->schema = index;
    index = NULL;
    rc = QHIL_EOK;

cleanup:
    json_decref(index);
    json_decref(types);
    json_decref(list);
    return rc;
}

int qhil_qmp_has_command(const qhil_qmp *qmp, const char *command)
{
    if (!qmp->schema || !command) {
        return QHIL_EINVAL;
    }
    return json_object_get(qmp->schema, command) != NULL;
}

int qhil_qmp_has_argument(const qhil_qmp *qmp, const char *command,
                          const char *argument)
{
    json_t *args;

    if (!qmp->schema || !command || !argument) {
        return QHIL_EINVAL;
    }
    args = json_object_get(json_object_get(qmp->schema, command), "args");
    return json_object_get(args, argument) != NULL;
}

char **qhil_qmp_schema_names(const qhil_qmp *qmp, const char *command)
{
    json_t *obj;

    if (!qmp->schema) {
        return NULL;
    }
    obj = command ? json_object_get(json_object_get(qmp->schema, command),
                                    "args")
                  : qmp->schema;
    return qmp_sorted_keys(obj); /* an unknown command has no names */
}

/*
 * Commands that take arguments beyond their schema: device_add passes any
 * device property through (QEMU declares it "gen: false", which
 * query-qmp-schema does not show), so only its listed arguments can be
 * completed, not checked.
 */
static bool qmp_open_arguments(const char *command)
{
    return strcmp(command, "device_add") == 0;
}

/* Refuse command and args unless the loaded schema knows them (and, for
 * oob, allows out-of-band execution).  No schema: everything passes. */
static int qmp_schema_check(const qhil_qmp *qmp, const char *command,
                            const json_t *args, bool oob, qhil_error *err)
{
    json_t *cmd;
    json_t *known;
    const char *key;
    json_t *value;
    char *server = NULL;
    char **names = NULL;
    qhil_buf list;
    size_t i;
    int rc = QHIL_EOK;

    qhil_buf_init(&list, QMP_SHOWN_MAX + 8);
    if (!qmp->schema || !command || !*command) {
        return QHIL_EOK;
    }
    cmd = json_object_get(qmp->schema, command);
    if (!cmd) {
        server = qmp_server_name(qmp);
        rc = qhil_error_set(err, QHIL_EUNSUPPORTED,
                            "%s has no QMP command '%s' (it is not in "
                            "query-qmp-schema); nothing was sent",
                            server ? server : "the QMP server", command);
        goto cleanup;
    }
    known = json_object_get(cmd, "args");
    json_object_foreach((json_t *)args, key, value) {
        (void)value;
        if (json_object_get(known, key) || qmp_open_arguments(command)) {
            continue;
        }
        if (json_object_size(known) == 0) {
            rc = qhil_error_set(err, QHIL_EUNSUPPORTED,
                                "QMP command '%s' takes no arguments, but "
                                "'%s' was given; nothing was sent",
                                command, key);
            goto cleanup;
        }
        names = qmp_sorted_keys(known);
        for (i = 0; names && names[i]; i++) {
            if (list.len + strlen(names[i]) + 2 > QMP_SHOWN_MAX) {
                qhil_buf_puts(&list, i ? ", ..." : "...");
                break;
            }
            qhil_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
        }
        rc = qhil_error_set(err, QHIL_EUNSUPPORTED,
                            "QMP command '%s' has no argument '%s' (its "
                            "arguments: %s); nothing was sent",
                            command, key, list.data ? list.data : "?");
        goto cleanup;
    }
    if (oob && !json_is_true(json_object_get(cmd, "oob"))) {
        rc = qhil_error_set(err, QHIL_EUNSUPPORTED,
                            "QMP command '%s' cannot run out-of-band "
                            "(query-qmp-schema does not mark it "
                            "allow-oob); nothing was sent",
                            command);
    }

cleanup:
    qhil_strv_free(names);
    qhil_buf_release(&list);
    free(server);
    return rc;
}

int qhil_qmp_execute_checked(qhil_qmp *qmp, const char *command,
                             const json_t *args, json_t **ret,
                             int64_t deadline, qhil_error *err)
{
    int rc;

    if (ret) {
        *ret = NULL;
    }
    rc = qmp_check(qmp, err);
    if (rc < 0) {
        return rc;
    }
    if (args && !json_is_object(args)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP arguments of '%s' must be an object",
                              command ? command : "");
    }
    rc = qmp_schema_check(qmp, command, args, false, err);
    if (rc < 0) {
        return rc;
    }
    return qhil_qmp_execute(qmp, command, args, ret, deadline, err);
}

/* ---- HMP ----------------------------------------------------------------- */

int qhil_qmp_hmp(qhil_qmp *qmp, const char *command_line, char **output,
                 int64_t deadline, qhil_error *err)
{
    json_t *args = NULL;
    json_t *ret = NULL;
    int rc;

    if (output) {
        *output = NULL;
    }
    if (!command_line || !*command_line) {
        return qhil_error_set(err, QHIL_EINVAL, "HMP command line is empty");
    }
    args = json_string(command_line);
    if (!args) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "HMP command line is not valid UTF-8");
    }
    json_decref(args);
    args = json_pack("{s:s}", "command-line", command_line);
    if (!args) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = qhil_qmp_execute(qmp, "human-monitor-command", args, &ret, deadline,
                          err);
    if (rc < 0) {
        goto cleanup;
    }
    if (!json_is_string(ret)) {
        rc = qhil_error_set(err, QHIL_EPROTO,
                            "human-monitor-command for '%s' returned no "
                            "text",
                            command_line);
        goto cleanup;
    }
    if (output) {
        *output = strdup(json_string_value(ret));
        if (!*output) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }

cleanup:
    json_decref(ret);
    json_decref(args);
    return rc;
}

/* ---- transports ---------------------------------------------------------- */

/* What to check when a connect fails with errno e. */
static const char *qmp_connect_hint(int e, bool is_unix)
{
    if (e == ENOENT && is_unix) {
        return " (no socket there: is QEMU running with "
               "-qmp unix:PATH,server=on,wait=off?)";
    }
    if (e == ECONNREFUSED && is_unix) {
        return " (nothing listens on it: QEMU has exited, or the socket "
               "file is stale)";
    }
    if (e == ECONNREFUSED) {
        return " (nothing listens there: is QEMU running with "
               "-qmp tcp:HOST:PORT,server=on,wait=off?)";
    }
    return "";
}

int qhil_qmp_connect_unix(const char *path, int64_t deadline,
                          qhil_qmp **out, qhil_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {0};
    size_t len;
    int fd = -1;
    int rc;

    *out = NULL;
    if (!path || !*path) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP socket path is empty (expected "
                              "unix:PATH)");
    }
    len = strlen(path);
    if (len >= sizeof(sa.sun_path)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP socket path '%s' is %zu bytes; Unix "
                              "sockets allow at most %zu (use a shorter, "
                              "e.g. relative, path)",
                              path, len, sizeof(sa.sun_path) - 1);
    }
    memcpy(sa.sun_path, path, len);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        return qhil_error_set(err, rc, "QMP socket: %s", strerror(-rc));
    }
    /* A blocking connect waits for room in a full listen backlog for
     * SO_SNDTIMEO at most; that is our deadline.  A zero timeout would
     * mean forever, so with no time left the socket is non-blocking. */
    for (;;) {
        int64_t left = deadline - qhil_now();

        if (left <= 0) {
            rc = qhil_fd_prepare(fd);
        } else {
            left = (left + QHIL_USEC - 1) / QHIL_USEC;
            tv.tv_sec = (time_t)(left / 1000000);
            tv.tv_usec = (suseconds_t)(left % 1000000);
            rc = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0
                     ? -errno
                     : 0;
        }
        if (rc < 0) {
            close(fd);
            return qhil_error_set(err, rc, "QMP socket: %s", strerror(-rc));
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            break;
        }
        rc = -errno;
        if (rc == -EINTR ||
            ((rc == -EAGAIN || rc == -EINPROGRESS) && qhil_now() < deadline)) {
            continue;
        }
        close(fd);
        if (rc == -EAGAIN || rc == -EINPROGRESS) {
            return qhil_error_set(err, QHIL_ETIMEDOUT,
                                  "no connection to the QMP socket unix:%s "
                                  "before the deadline (its listen backlog "
                                  "is full: is QEMU stuck?)",
                                  path);
        }
        return qhil_error_set(err, rc,
                              "cannot connect to the QMP socket unix:%s: "
                              "%s%s",
                              path, strerror(-rc),
                              qmp_connect_hint(-rc, true));
    }
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return qhil_qmp_new(fd, out, err);
}

/*
 * Split "HOST:PORT" or "[HOST]:PORT" into *host (malloc'ed) and port
 * (digits only, 1 to 65535).
 */
static int qmp_split_host_port(const char *text, char **host, char *port,
                               size_t port_size, qhil_error *err)
{
    const char *h = text;
    const char *p;
    size_t hlen;
    size_t plen;
    unsigned long v = 0;
    size_t i;

    *host = NULL;
    if (!text || !*text) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP TCP address is empty (expected "
                              "HOST:PORT, e.g. 127.0.0.1:4444 or "
                              "[::1]:4444)");
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (!close) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "QMP TCP address '%s' has no ']' after "
                                  "the IPv6 address (expected [ADDRESS]:PORT)",
                                  text);
        }
        if (close[1] != ':') {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "QMP TCP address '%s' has no ':PORT' after "
                                  "']' (expected [ADDRESS]:PORT)",
                                  text);
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        p = close + 2;
    } else {
        const char *colon = strrchr(text, ':');

        if (!colon) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "QMP TCP address '%s' has no port "
                                  "(expected HOST:PORT)",
                                  text);
        }
        if (memchr(text, ':', (size_t)(colon - text))) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "QMP TCP address '%s': put an IPv6 "
                                  "address in brackets, e.g. [::1]:4444",
                                  text);
        }
        hlen = (size_t)(colon - text);
        p = colon + 1;
    }
    if (hlen == 0) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP TCP address '%s' has no host (expected "
                              "HOST:PORT)",
                              text);
    }
    plen = strlen(p);
    for (i = 0; i < plen && i < 6; i++) {
        if (p[i] < '0' || p[i] > '9') {
            break;
        }
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (plen == 0 || i != plen || v < 1 || v > 65535 ||
        plen + 1 > port_size) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP TCP address '%s': port '%s' is not a "
                              "number from 1 to 65535",
                              text, p);
    }
    memcpy(port, p, plen + 1);
    *host = strndup(h, hlen);
    if (!*host) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    return QHIL_EOK;
}

/* Connect a new TCP socket to ai before deadline; *fd_out on success.
 * Returns QHIL_EOK, QHIL_ETIMEDOUT or a negated errno. */
static int qmp_connect_inet(const struct addrinfo *ai, int64_t deadline,
                            int *fd_out)
{
    int fd = socket(ai->ai_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    int rc = QHIL_EOK;

    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            rc = -errno;
            goto cleanup;
        }
        for (;;) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int n = poll(&pfd, 1, qhil_deadline_poll_ms(deadline));
            int soerr = 0;
            socklen_t len = sizeof(soerr);

            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                rc = -errno;
                goto cleanup;
            }
            if (n == 0) {
                if (qhil_now() < deadline) {
                    continue;
                }
                rc = QHIL_ETIMEDOUT;
                goto cleanup;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
                rc = -errno;
            } else if (soerr) {
                rc = -soerr;
            }
            break;
        }
        if (rc < 0) {
            goto cleanup;
        }
    }
    /* Commands are small and answered one by one: no Nagle delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *fd_out = fd;
    fd = -1;

cleanup:
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

int qhil_qmp_connect_tcp(const char *host_port, int64_t deadline,
                         qhil_qmp **out, qhil_error *err)
{
    static const char *const localhost[] = {"127.0.0.1", "::1", NULL};
    const char *one[2] = {NULL, NULL};
    const char *const *hosts = one;
    struct addrinfo hints = {
        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *res = NULL;
    struct addrinfo *ai;
    char port[8];
    char *host = NULL;
    int fd = -1;
    int rc;
    size_t i;

    *out = NULL;
    rc = qmp_split_host_port(host_port, &host, port, sizeof(port), err);
    if (rc < 0 || !host) {
        return rc < 0 ? rc : QHIL_ENOMEM;
    }
    /* Host names are not looked up: a resolver cannot keep a deadline.
     * localhost is the one name everybody uses. */
    if (strcmp(host, "localhost") == 0) {
        hosts = localhost;
    } else {
        one[0] = host;
    }
    rc = QHIL_ETIMEDOUT;
    for (i = 0; hosts[i] && fd < 0; i++) {
        int gai = getaddrinfo(hosts[i], port, &hints, &res);

        if (gai != 0) {
            rc = qhil_error_set(err, QHIL_EINVAL,
                                "QMP TCP address '%s': '%s' is not a "
                                "numeric IPv4 or IPv6 address (names other "
                                "than localhost are not resolved, as a "
                                "lookup could not keep the deadline)",
                                host_port, host);
            goto cleanup;
        }
        for (ai = res; ai && fd < 0; ai = ai->ai_next) {
            rc = qmp_connect_inet(ai, deadline, &fd);
            if (rc == QHIL_ETIMEDOUT) {
                break;
            }
        }
        freeaddrinfo(res);
        res = NULL;
        if (rc == QHIL_ETIMEDOUT) {
            break;
        }
    }
    if (fd < 0 && rc == QHIL_ETIMEDOUT) {
        rc = qhil_error_set(err, rc,
                            "no connection to the QMP server at %s before "
                            "the deadline",
                            host_port);
        goto cleanup;
    }
    if (fd < 0) {
        rc = qhil_error_set(err, rc,
                            "cannot connect to the QMP server at %s: %s%s",
                            host_port, strerror(-rc),
                            qmp_connect_hint(-rc, false));
        goto cleanup;
    }
    rc = qhil_qmp_new(fd, out, err);

cleanup:
    free(host);
    return rc;
}

/* HOST:PORT rather than a path: "[" first, or no '/' and a ':' followed
 * by digits only at the end. */
static bool qmp_looks_tcp(const char *address)
{
    const char *colon = strrchr(address, ':');

    if (address[0] == '[') {
        return true;
    }
    if (strchr(address, '/') || !colon || !colon[1]) {
        return false;
    }
    return strspn(colon + 1, "0123456789") == strlen(colon + 1);
}

int qhil_qmp_connect(const char *address, int64_t deadline,
                     qhil_qmp **out, qhil_error *err)
{
    *out = NULL;
    if (!address || !*address) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "QMP address is empty (expected unix:PATH, "
                              "tcp:HOST:PORT, a socket path or HOST:PORT)");
    }
    if (strncmp(address, "unix:", 5) == 0) {
        return qhil_qmp_connect_unix(address + 5, deadline, out, err);
    }
    if (strncmp(address, "tcp:", 4) == 0) {
        return qhil_qmp_connect_tcp(address + 4, deadline, out, err);
    }
    if (qmp_looks_tcp(address)) {
        return qhil_qmp_connect_tcp(address, deadline, out, err);
    }
    return qhil_qmp_connect_unix(address, deadline, out, err);
}
