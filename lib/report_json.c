/*
 * report_json.c - the run as one JSON document (docs/events.md).
 *
 *   {"qhil_run": 2, "suite": {"name", "file", "device_type"}, "run_dir",
 *    "started_unix",
 *    "duration_ns", "counts": {"pass", "fail", "error", "skip", "flaky"},
 *    "tests": [{"name", "verdict", "duration_ns", "message", "step",
 *               "step_line", "step_desc", "console_log", "qemu_log",
 *               "interrupted", "not_run", "events": [...],
 *               "events_dropped", "tags": [...],
 *               "failures": [{"step", "line", "verdict", "message",
 *                             "wall_ns"}], "failures_dropped",
 *               "steps": [{"step", "line", "step_desc", "verdict",
 *                          "start_ns", "duration_ns"}], "steps_dropped",
 *               "attempts", "flaky",
 *               "previous_attempts": [{"attempt", "verdict",
 *                 "duration_ns", "message", "step", "step_line",
 *                 "step_desc", "console_log", "qemu_log", "events",
 *                 "events_dropped", "failures", "steps"}]}]}
 *
 * A retried test's own keys are its last attempt's; previous_attempts
 * has the ones before, in order (empty for a test that ran once).
 *
 * "qhil_run" is the schema's version, QHIL_EVENT_VERSION: 2 added tags,
 * failures, steps (the fold of the events, result.h) and the attempts.
 *
 * Every key is always there (null when unknown), so readers need no
 * defaults.  Names and messages go through the events' text rule
 * (jsonbytes.h: bad UTF-8 bytes as U+FFFD); the events are those the runner
 * kept (qhil_run_opts.keep_events), already in their JSON form.  Written with
 * JSON_ENSURE_ASCII, two-space indentation, one key order.
 *
 * Streamed: the document's outer structure is written here, and each
 * test is built, written and freed in turn, so that at most one test's
 * events are in memory.  A test's events are its result's array when it
 * has one, else its events_log read back (eventlog.c); what was written
 * there but cannot be read back is added to its events_dropped.  Each
 * value goes through jansson's own writer with every line it makes
 * indented by the value's depth, so the text is what one json_dumpf of
 * the whole document would write.
 */
#include <stdbool.h>
#include <string.h>

#include <qhil/event.h>

#include "eventlog.h"
#include "jsonbytes.h"
#include "report_json.h"

/* A C string as JSON, bad UTF-8 bytes as U+FFFD; NULL as null. */
static json_t *text(const char *s)
{
    bool exact;

    return s ? qhil_json_bytes(s, strlen(s), &exact) : json_null();
}

static bool put(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

static json_t *failures_json(const qhil_failure *fs, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < n; i++) {
        const qhil_failure *f = &fs[i];
        json_t *o = json_object();
        bool ok =
            o &&
            put(o, "step",
                f->step ? json_integer((json_int_t)f->step) : json_null()) &&
            put(o, "line", f->line ? json_integer(f->line) : json_null()) &&
            put(o, "verdict", json_string(qhil_verdict_name(f->verdict))) &&
            put(o, "message", text(f->message)) &&
            put(o, "wall_ns", json_integer(f->wall_ns));

        if (!ok || json_array_append_new(a, o) < 0) {
            json_decref(ok ? NULL : o);
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *steps_json(const qhil_step_time *sts, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < n; i++) {
        const qhil_step_time *st = &sts[i];
        json_t *o = json_object();
        bool ok =
            o && put(o, "step", json_integer((json_int_t)st->step)) &&
            put(o, "line", json_integer(st->line)) &&
            put(o, "step_desc", text(st->desc)) &&
            put(o, "verdict", json_string(qhil_verdict_name(st->verdict))) &&
            put(o, "start_ns", json_integer(st->start_ns)) &&
            put(o, "duration_ns",
                st->duration_ns < 0 ? json_null()
                                    : json_integer(st->duration_ns));

        if (!ok || json_array_append_new(a, o) < 0) {
            json_decref(ok ? NULL : o);
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *tags_json(const qhil_test_result *t)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < t->n_tags; i++) {
        if (json_array_append_new(a, text(t->tags[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* A test's or an attempt's events as a new array, and how many of them
 * were not kept (*dropped): in memory, or read back from events_log. */
static json_t *events_json(json_t *events, const char *log, size_t kept,
                           size_t *dropped)
{
    json_t *a = NULL;
    size_t missing = 0;

    if (events) {
        return json_incref(events);
    }
    if (!log) {
        return json_array();
    }
    if (qhil_eventlog_load(log, kept, &a, &missing) < 0) {
        return NULL;
    }
    *dropped += missing;
    return a;
}

/* An earlier attempt of a retried test: the keys of a test's own
 * outcome, for that attempt. */
static json_t *try_json(const qhil_test_try *a, size_t k)
{
    size_t dropped = a->events_dropped;
    json_t *evs = events_json(a->events, a->events_log, a->events_kept,
                              &dropped);
    json_t *o = json_object();
    bool ok =
        o && put(o, "attempt", json_integer((json_int_t)k)) &&
        put(o, "verdict", json_string(qhil_verdict_name(a->verdict))) &&
        put(o, "duration_ns", json_integer(a->duration_ns)) &&
        put(o, "message", text(a->message)) &&
        put(o, "step",
            a->step ? json_integer((json_int_t)a->step) : json_null()) &&
        put(o, "step_line",
            a->step_line ? json_integer(a->step_line) : json_null()) &&
        put(o, "step_desc", text(a->step_desc)) &&
        put(o, "console_log", text(a->console_log)) &&
        put(o, "qemu_log", text(a->qemu_log)) &&
        put(o, "events", json_incref(evs)) &&
        put(o, "events_dropped", json_integer((json_int_t)dropped)) &&
        put(o, "failures", failures_json(a->failures, a->n_failures)) &&
        put(o, "steps", steps_json(a->steps, a->n_steps));

    json_decref(evs);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *tries_json(const qhil_test_result *t)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < t->n_tries; i++) {
        json_t *o = try_json(&t->tries[i], i + 1);

        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *test_json(const qhil_test_result *t)
{
    size_t dropped = t->events_dropped;
    json_t *evs = events_json(t->events, t->events_log, t->events_kept,
                              &dropped);
    json_t *o = json_object();
    bool ok =
        o && put(o, "name", text(t->name)) &&
        put(o, "verdict", json_string(qhil_verdict_name(t->verdict))) &&
        put(o, "duration_ns", json_integer(t->duration_ns)) &&
        put(o, "message", text(t->message)) &&
        put(o, "step",
            t->step ? json_integer((json_int_t)t->step) : json_null()) &&
        put(o, "step_line",
            t->step_line ? json_integer(t->step_line) : json_null()) &&
        put(o, "step_desc", text(t->step_desc)) &&
        put(o, "console_log", text(t->console_log)) &&
        put(o, "qemu_log", text(t->qemu_log)) &&
        put(o, "interrupted", json_boolean(t->interrupted)) &&
        put(o, "not_run", json_boolean(t->not_run)) &&
        put(o, "events", json_incref(evs)) &&
        put(o, "events_dropped", json_integer((json_int_t)dropped)) &&
        put(o, "tags", tags_json(t)) && put(o, "failures", failures_json(t->failures, t->n_failures)) &&
        put(o, "failures_dropped",
            json_integer((json_int_t)t->failures_dropped)) &&
        put(o, "steps", steps_json(t->steps, t->n_steps)) &&
        put(o, "steps_dropped", json_integer((json_int_t)t->steps_dropped)) &&
        put(o, "attempts", json_integer(t->attempts ? t->attempts : 1)) &&
        put(o, "flaky", json_boolean(t->flaky)) &&
        put(o, "previous_attempts", tries_json(t));

    json_decref(evs);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Tests that passed on a retry. */
static size_t count_flaky(const qhil_suite_result *r)
{
    size_t n = 0;

    for (size_t i = 0; i < r->n_tests; i++) {
        n += r->tests[i].flaky;
    }
    return n;
}

/* Where a value goes: its stream, and the indentation of its depth. */
typedef struct sink {
    FILE *out;
    int depth;
} sink;

/* jansson's text, each new line indented by two spaces per depth. */
static int sink_write(const char *buf, size_t len, void *data)
{
    const sink *s = data;
    size_t start = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (fwrite(buf + start, 1, i + 1 - start, s->out) != i + 1 - start ||
            fprintf(s->out, "%*s", 2 * s->depth, "") < 0) {
            return -1;
        }
        start = i + 1;
    }
    if (len > start &&
        fwrite(buf + start, 1, len - start, s->out) != len - start) {
        return -1;
    }
    return 0;
}

/* v (taken; NULL is out of memory) at depth: *rc set on failure. */
static void write_value(FILE *out, int depth, json_t *v, int *rc)
{
    sink s = {.out = out, .depth = depth};

    if (*rc == QHIL_EOK && !v) {
        *rc = QHIL_ENOMEM;
    }
    if (*rc == QHIL_EOK &&
        json_dump_callback(v, sink_write, &s,
                           JSON_INDENT(2) | JSON_ENSURE_ASCII |
                               JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) < 0) {
        *rc = QHIL_EIO;
    }
    json_decref(v);
}

/* "key": v, a key of the document (depth 1), then "," unless last. */
static void write_member(FILE *out, const char *key, json_t *v, bool last,
                         int *rc)
{
    if (*rc == QHIL_EOK && fprintf(out, "  \"%s\": ", key) < 0) {
        *rc = QHIL_EIO;
    }
    write_value(out, 1, v, rc);
    if (*rc == QHIL_EOK && fputs(last ? "\n" : ",\n", out) == EOF) {
        *rc = QHIL_EIO;
    }
}

int qhil_report_json(const qhil_suite_result *r, FILE *out, qhil_error *err)
{
    json_t *suite = json_object();
    json_t *counts = json_object();
    bool ok = suite && counts;
    int rc = QHIL_EOK;
    size_t i;

    ok = ok && put(suite, "name", text(r->name)) &&
         put(suite, "file", text(r->file)) &&
         put(suite, "device_type", text(r->device_type));
    ok =
        ok &&
        put(counts, "pass",
            json_integer((json_int_t)qhil_suite_result_count(r, QHIL_PASS))) &&
        put(counts, "fail",
            json_integer((json_int_t)qhil_suite_result_count(r, QHIL_FAIL))) &&
        put(counts, "error",
            json_integer((json_int_t)qhil_suite_result_count(r, QHIL_ERROR))) &&
        put(counts, "skip",
            json_integer((json_int_t)qhil_suite_result_count(r, QHIL_SKIP))) &&
        put(counts, "flaky", json_integer((json_int_t)count_flaky(r)));
    if (!ok) {
        json_decref(suite);
        json_decref(counts);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (fputs("{\n", out) == EOF) {
        rc = QHIL_EIO;
    }
    write_member(out, "qhil_run", json_integer(QHIL_EVENT_VERSION), false,
                 &rc);
    write_member(out, "suite", suite, false, &rc);
    write_member(out, "run_dir", text(r->run_dir), false, &rc);
    write_member(out, "started_unix", json_integer(r->started_unix), false,
                 &rc);
    write_member(out, "duration_ns", json_integer(r->duration_ns), false,
                 &rc);
    write_member(out, "counts", counts, false, &rc);
    /* "tests": [...] as jansson writes an array at depth 1. */
    if (rc == QHIL_EOK &&
        fputs(r->n_tests ? "  \"tests\": [\n" : "  \"tests\": []", out) ==
            EOF) {
        rc = QHIL_EIO;
    }
    for (i = 0; rc == QHIL_EOK && i < r->n_tests; i++) {
        if (fputs("    ", out) == EOF) {
            rc = QHIL_EIO;
        }
        write_value(out, 2, test_json(&r->tests[i]), &rc);
        if (rc == QHIL_EOK &&
            fputs(i + 1 < r->n_tests ? ",\n" : "\n  ]", out) == EOF) {
            rc = QHIL_EIO;
        }
    }
    if (rc == QHIL_EOK && fputs("\n}\n", out) == EOF) {
        rc = QHIL_EIO;
    }
    if (rc == QHIL_ENOMEM) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (rc < 0) {
        return qhil_error_set(err, QHIL_EIO, "cannot write the report");
    }
    return QHIL_EOK;
}
