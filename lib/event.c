/*
 * event.c - events as JSON (qhil/event.h, docs/events.md).
 *
 * One encoder for every consumer: the JSON Lines of `--events`, the
 * per-test event lists of the JSON report, and later the pipe from a
 * worker process to the runner.  Every key is always written for its
 * kind, so a reader needs no defaults: "v", "kind", "wall_ns",
 * "virtual_ns" (null when unknown) and "test" on every event, "attempt"
 * on the events of a retry (2, 3, ...: absent means 1), then the kind's
 * own fields.  Byte strings (console lines, matches, input) go
 * into JSON strings, which must be Unicode: valid UTF-8 is kept as it
 * is, every byte that is not part of a valid sequence becomes U+FFFD
 * and the event says "text_exact": false; "len" is always the length in
 * bytes, and "offset" says where the exact bytes are in console.log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qhil/event.h>

#include "internal.h"
#include "jsonbytes.h"
#include "xmltext.h"

static const char *const kind_names[] = {
    [QHIL_EVENT_TEST_START] = "test_start",
    [QHIL_EVENT_TEST_END] = "test_end",
    [QHIL_EVENT_STEP_START] = "step_start",
    [QHIL_EVENT_STEP_END] = "step_end",
    [QHIL_EVENT_MACHINE_START] = "machine_start",
    [QHIL_EVENT_MACHINE_END] = "machine_end",
    [QHIL_EVENT_CONSOLE_LINE] = "console_line",
    [QHIL_EVENT_MATCH] = "match",
    [QHIL_EVENT_FAIL_MATCH] = "fail_match",
    [QHIL_EVENT_INPUT] = "input",
    [QHIL_EVENT_QMP_COMMAND] = "qmp_command",
    [QHIL_EVENT_QMP_REPLY] = "qmp_reply",
    [QHIL_EVENT_QMP_EVENT] = "qmp_event",
    [QHIL_EVENT_FAILURE] = "failure",
    [QHIL_EVENT_QEMU_WARNING] = "qemu_warning",
    [QHIL_EVENT_FAULT] = "fault",
};

/* How a machine ended, by qhil_machine_end's values. */
static const char *const end_names[] = {
    "running", "quit", "term", "kill", "self",
};

const char *qhil_event_kind_name(qhil_event_kind kind)
{
    if ((size_t)kind >= QHIL_ARRAY_SIZE(kind_names) || !kind_names[kind]) {
        return "?";
    }
    return kind_names[kind];
}

json_t *qhil_json_bytes(const char *text, size_t len, bool *exact)
{
    const unsigned char *s = (const unsigned char *)text;
    qhil_buf b;
    json_t *j;
    size_t i = 0;

    *exact = true;
    if (!text) {
        return json_null();
    }
    qhil_buf_init(&b, 4 * len + 16);
    while (i < len) {
        uint32_t cp;
        size_t n = qhil_utf8_decode(s + i, len - i, &cp);

        if (n && s[i]) {
            qhil_buf_append(&b, text + i, n);
            i += n;
            continue;
        }
        if (!s[i]) {
            qhil_buf_append(&b, "", 1); /* NUL is valid: jansson takes it */
            i++;
            continue;
        }
        qhil_buf_append(&b, "\xef\xbf\xbd", 3);
        *exact = false;
        i++;
    }
    j = json_stringn(b.data ? b.data : "", b.len);
    qhil_buf_release(&b);
    return j;
}

/* A C string (a name, a pattern) the same way; NULL as null. */
static json_t *str_json(const char *s)
{
    bool exact;

    return s ? qhil_json_bytes(s, strlen(s), &exact) : json_null();
}

/* obj[key] = v (taken); false when v is NULL or the set fails. */
static bool put(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}

static bool put_text(json_t *o, const qhil_event *ev)
{
    bool exact = true;
    bool ok = put(o, "len", json_integer((json_int_t)ev->len)) &&
              put(o, "text", qhil_json_bytes(ev->text, ev->len, &exact));

    return ok && (exact || put(o, "text_exact", json_false()));
}

static bool put_step(json_t *o, const qhil_event *ev)
{
    return put(o, "step", json_integer((json_int_t)ev->step)) &&
           put(o, "line", json_integer(ev->line));
}

static bool put_port(json_t *o, const qhil_event *ev)
{
    return put(o, "port", str_json(ev->port ? ev->port : "console")) &&
           put(o, "offset", json_integer((json_int_t)ev->offset));
}

static bool put_json(json_t *o, const char *key, const json_t *v)
{
    return put(o, key, v ? json_deep_copy(v) : json_null());
}

static json_t *argv_json(const char *const *argv)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && argv && argv[i]; i++) {
        if (json_array_append_new(a, str_json(argv[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static bool put_kind_fields(json_t *o, const qhil_event *ev)
{
    bool exact = true;

    switch (ev->kind) {
    case QHIL_EVENT_TEST_START:
        return true;
    case QHIL_EVENT_TEST_END:
        return put(o, "verdict", json_string(qhil_verdict_name(ev->verdict))) &&
               put(o, "duration_ns", json_integer(ev->duration_ns)) &&
               put(o, "message", qhil_json_bytes(ev->text, ev->len, &exact));
    case QHIL_EVENT_STEP_START:
        return put_step(o, ev) &&
               put(o, "step_desc", qhil_json_bytes(ev->text, ev->len, &exact));
    case QHIL_EVENT_STEP_END:
        return put_step(o, ev) &&
               put(o, "verdict", json_string(qhil_verdict_name(ev->verdict))) &&
               put(o, "duration_ns", json_integer(ev->duration_ns));
    case QHIL_EVENT_MACHINE_START:
        return put(o, "pid", json_integer(ev->pid)) &&
               put(o, "argv", argv_json(ev->argv)) &&
               put(o, "qemu_version",
                   qhil_json_bytes(ev->text, ev->len, &exact)) &&
               put_json(o, "greeting", ev->json);
    case QHIL_EVENT_MACHINE_END:
        return put(o, "how",
                   json_string((size_t)ev->how < QHIL_ARRAY_SIZE(end_names)
                                   ? end_names[ev->how]
                                   : "?")) &&
               put(o, "status",
                   ev->status < 0 ? json_null() : json_integer(ev->status)) &&
               put(o, "exit_status",
                   ev->status >= 0 && WIFEXITED(ev->status)
                       ? json_integer(WEXITSTATUS(ev->status))
                       : json_null()) &&
               put(o, "signal",
                   ev->status >= 0 && WIFSIGNALED(ev->status)
                       ? json_integer(WTERMSIG(ev->status))
                       : json_null()) &&
               put(o, "stderr_tail",
                   qhil_json_bytes(ev->text, ev->len, &exact));
    case QHIL_EVENT_CONSOLE_LINE:
        return put_step(o, ev) && put_port(o, ev) && put_text(o, ev) &&
               (!ev->cut || put(o, "cut", json_true()));
    case QHIL_EVENT_MATCH:
    case QHIL_EVENT_FAIL_MATCH:
        return put_step(o, ev) && put_port(o, ev) && put_text(o, ev) &&
               put(o, "pattern", str_json(ev->pattern));
    case QHIL_EVENT_INPUT:
        return put_step(o, ev) &&
               put(o, "port", str_json(ev->port ? ev->port : "console")) &&
               put_text(o, ev);
    case QHIL_EVENT_QMP_COMMAND:
    case QHIL_EVENT_QMP_REPLY:
    case QHIL_EVENT_QMP_EVENT:
        return put_step(o, ev) && put_json(o, "message", ev->json);
    case QHIL_EVENT_FAILURE:
        return put_step(o, ev) &&
               put(o, "verdict", json_string(qhil_verdict_name(ev->verdict))) &&
               put(o, "message", qhil_json_bytes(ev->text, ev->len, &exact)) &&
               put(o, "cause", json_boolean(ev->how != QHIL_FAILURE_PLAIN)) &&
               put(o, "interrupted",
                   json_boolean(ev->how == QHIL_FAILURE_INTERRUPTED));
    case QHIL_EVENT_QEMU_WARNING:
        return put_step(o, ev) && put_text(o, ev) &&
               (!ev->cut || put(o, "cut", json_true()));
    case QHIL_EVENT_FAULT:
        return put_step(o, ev) &&
               put(o, "fault", qhil_json_bytes(ev->text, ev->len, &exact));
    }
    return false;
}

int qhil_event_to_json(const qhil_event *ev, json_t **out, qhil_error *err)
{
    json_t *o = json_object();
    bool ok =
        o && put(o, "v", json_integer(QHIL_EVENT_VERSION)) &&
        put(o, "kind", json_string(qhil_event_kind_name(ev->kind))) &&
        put(o, "wall_ns", json_integer(ev->wall_ns)) &&
        put(o, "virtual_ns",
            ev->virtual_ns < 0 ? json_null() : json_integer(ev->virtual_ns)) &&
        put(o, "test", str_json(ev->test)) &&
        (ev->attempt <= 1 ||
         put(o, "attempt", json_integer((json_int_t)ev->attempt))) &&
        put_kind_fields(o, ev);

    *out = NULL;
    if (!ok) {
        json_decref(o);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    *out = o;
    return QHIL_EOK;
}

/* --- the JSON Lines sink ------------------------------------------------ */

struct qhil_event_sink {
    char *path;
    int fd;
    bool own_fd;
    int err; /* errno of the first failed write, 0 when none */
};

/*
 * A new file, or an existing pipe or terminal a reader waits on (mkfifo
 * events; qhil run --events events &), never an existing regular file
 * or a symlink.  -1 with errno (EEXIST for a file that is there).
 */
static int open_sink(const char *path)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd >= 0) {
        if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
            /* Blocking writes from now on: a slow reader slows the run,
             * it does not lose events. */
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            return fd;
        }
        close(fd);
        errno = EEXIST;
        return -1;
    }
    if (errno == ENXIO) {
        errno = EPIPE; /* a FIFO with no reader yet */
        return -1;
    }
    if (errno == ELOOP) {
        errno = EEXIST; /* a symlink: never followed */
        return -1;
    }
    if (errno != ENOENT) {
        return -1;
    }
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0644);
}

int qhil_event_sink_open(const char *path, qhil_event_sink **out,
                         qhil_error *err)
{
    qhil_event_sink *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (strcmp(path, "-") == 0) {
        s->fd = STDOUT_FILENO;
    } else {
        s->fd = open_sink(path);
        if (s->fd < 0) {
            int rc = qhil_error_set(err, -errno, "%s: cannot create: %s%s",
                                    path, strerror(errno),
                                    errno == EEXIST ? " (not replaced)" : "");

            free(s->path);
            free(s);
            return rc;
        }
        s->own_fd = true;
    }
    *out = s;
    return QHIL_EOK;
}

int qhil_json_line_write(int fd, json_t *j)
{
    char *line;
    size_t len;
    size_t off = 0;
    int rc = 0;

    if (!j) {
        return ENOMEM;
    }
    line = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!line) {
        return ENOMEM;
    }
    len = strlen(line);
    line[len++] = '\n'; /* json_dumps left room: the NUL's place */
    while (off < len) {
        ssize_t w = write(fd, line + off, len - off);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            rc = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    free(line);
    return rc;
}

void qhil_event_sink_write(void *data, const qhil_event *ev)
{
    qhil_event_sink *s = data;
    json_t *j = NULL;

    if (s->err) {
        return;
    }
    if (qhil_event_to_json(ev, &j, NULL) < 0) {
        s->err = ENOMEM;
        return;
    }
    s->err = qhil_json_line_write(s->fd, j);
}

int qhil_event_sink_close(qhil_event_sink *s, qhil_error *err)
{
    int rc = QHIL_EOK;

    if (!s) {
        return QHIL_EOK;
    }
    if (s->own_fd && close(s->fd) < 0 && !s->err) {
        s->err = errno;
    }
    if (s->err) {
        rc = qhil_error_set(err, QHIL_EIO, "%s: write: %s",
                            strcmp(s->path, "-") ? s->path : "standard output",
                            strerror(s->err));
    }
    free(s->path);
    free(s);
    return rc;
}
