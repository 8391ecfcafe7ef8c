/*
 * test_qmp.c - protocol tests of the QMP client against scripted peers.
 *
 * Each test starts a fake QMP server (fakepeer.c) on a scenario from
 * qmp/, runs the real client on the other end of the socketpair and
 * checks what the API returns: codes, JSON values, error messages and
 * kinds.  The peer checks what the client sends; finish() frees the
 * client and fails the test with the peer's report if the scenario did not
 * run to its end.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <qhil/clock.h>
#include <qhil/qmp.h>

#include "fakepeer.h"

#define SCENARIO(name) QHIL_PROTO_DIR "/qmp/" name

/* Generous: only reached when the client is broken. */
#define LONG_WAIT (5 * QHIL_SEC)

typedef struct fixture {
    fakepeer *peer;
    qhil_qmp *qmp;
    qhil_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (!f) {
        return -1;
    }
    qhil_error_init(&f->err);
    *state = f;
    return 0;
}

/* Also the cleanup of a failed test: do not wait for the peer then. */
static int teardown(void **state)
{
    fixture *f = *state;

    qhil_qmp_free(f->qmp);
    fakepeer_finish(f->peer, 0, NULL);
    qhil_error_release(&f->err);
    free(f);
    return 0;
}

static void check_rc_at(const fixture *f, int rc, int want, const char *file,
                        int line)
{
    if (rc != want) {
        print_error("got %s (%s), want %s\n", qhil_errname(rc),
                    qhil_error_message(&f->err, rc), qhil_errname(want));
        _fail(file, line);
    }
}
#define check_rc(f, rc, want) check_rc_at(f, rc, want, __FILE__, __LINE__)

/* got must equal the JSON text want; got is not consumed. */
static void check_json_at(const json_t *got, const char *want_text,
                          const char *file, int line)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, &jerr);

    if (!want) {
        print_error("bad JSON in the test: %s\n", jerr.text);
        _fail(file, line);
    }
    if (!got || !json_equal(got, want)) {
        char *text =
            got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

        print_error("got %s, want %s\n", text ? text : "NULL", want_text);
        free(text);
        json_decref(want);
        _fail(file, line);
    }
    json_decref(want);
}
#define check_json(got, want) check_json_at(got, want, __FILE__, __LINE__)

static void start(fixture *f, const char *path)
{
    int fd = -1;

    assert_int_equal(fakepeer_start(path, &f->peer, &fd), 0);
    check_rc(f, qhil_qmp_new(fd, &f->qmp, &f->err), QHIL_EOK);
}

static void start_ready(fixture *f, const char *path)
{
    start(f, path);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
}

/* Close the client, then the peer must report a complete scenario. */
static void finish(fixture *f)
{
    char *why = NULL;
    int rc;

    qhil_qmp_free(f->qmp);
    f->qmp = NULL;
    rc = fakepeer_finish(f->peer, 2 * FAKEPEER_STEP_TIMEOUT_MS, &why);
    f->peer = NULL;
    if (rc != 0) {
        print_error("fake peer: %s\n", why ? why : "failed");
    }
    free(why);
    if (rc != 0) {
        fail();
    }
}

/* Run command, which must succeed, and compare its return value. */
static void execute_ok_at(fixture *f, const char *command,
                          const char *args_text, const char *want,
                          const char *file, int line)
{
    json_t *args = args_text ? json_loads(args_text, 0, NULL) : NULL;
    json_t *ret = NULL;
    int rc;

    rc = qhil_qmp_execute(f->qmp, command, args, &ret,
                          qhil_deadline_in(LONG_WAIT), &f->err);
    json_decref(args);
    check_rc_at(f, rc, QHIL_EOK, file, line);
    check_json_at(ret, want, file, line);
    json_decref(ret);
}
#define execute_ok(f, cmd, args, want)                                         \
    execute_ok_at(f, cmd, args, want, __FILE__, __LINE__)

/* The next event (of any name) must be name with data n == want_n. */
static void next_event_n(fixture *f, const char *name, json_int_t want_n)
{
    json_t *ev = NULL;

    check_rc(f, qhil_qmp_wait_event(f->qmp, NULL, &ev, qhil_now(), &f->err),
             QHIL_EOK);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), name);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(ev, "data"), "n")),
        want_n);
    json_decref(ev);
}

/* No event is queued or arriving. */
static void no_event(fixture *f)
{
    check_rc(f, qhil_qmp_wait_event(f->qmp, NULL, NULL, qhil_now(), &f->err),
             QHIL_ETIMEDOUT);
}

static void test_handshake(void **state)
{
    fixture *f = *state;
    const json_t *greeting;
    int major = -1;

    start(f, SCENARIO("handshake.scn"));
    assert_null(qhil_qmp_greeting(f->qmp));
    assert_int_equal(qhil_qmp_version(f->qmp, &major, NULL, NULL), QHIL_EPROTO);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    greeting = qhil_qmp_greeting(f->qmp);
    check_json(
        json_object_get(json_object_get(greeting, "QMP"), "capabilities"),
        "[\"oob\"]");
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    finish(f);
}

static void test_handshake_late(void **state)
{
    fixture *f = *state;
    int64_t t0;

    start(f, SCENARIO("handshake_late.scn"));
    t0 = qhil_now();
    check_rc(f, qhil_qmp_handshake(f->qmp, t0 + 100 * QHIL_MSEC, &f->err),
             QHIL_ETIMEDOUT);
    assert_true(qhil_now() - t0 >= 100 * QHIL_MSEC);
    assert_string_equal(f->err.message, "no QMP greeting before the deadline");
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    finish(f);
}

static void test_greeting_without_capabilities(void **state)
{
    fixture *f = *state;

    start(f, SCENARIO("greeting_nocaps.scn"));
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    assert_string_equal(f->err.message,
                        "QMP greeting has no capabilities list");
    finish(f);
}

static void test_version(void **state)
{
    fixture *f = *state;
    int major = -1;
    int minor = -1;
    int micro = -1;

    start_ready(f, SCENARIO("version.scn"));
    assert_int_equal(qhil_qmp_version(f->qmp, &major, &minor, &micro),
                     QHIL_EOK);
    assert_int_equal(major, 8);
    assert_int_equal(minor, 1);
    assert_int_equal(micro, 93);
    /* Each output is optional. */
    micro = -1;
    assert_int_equal(qhil_qmp_version(f->qmp, NULL, NULL, &micro), QHIL_EOK);
    assert_int_equal(micro, 93);
    finish(f);
}

static void test_version_missing(void **state)
{
    fixture *f = *state;
    int major = -1;

    start_ready(f, SCENARIO("version_missing.scn"));
    assert_non_null(qhil_qmp_greeting(f->qmp));
    assert_int_equal(qhil_qmp_version(f->qmp, &major, NULL, NULL), QHIL_EPROTO);
    finish(f);
}

static void test_command(void **state)
{
    fixture *f = *state;
    json_t *bad_args = json_array();

    start_ready(f, SCENARIO("command.scn"));
    execute_ok(f, "query-status", NULL,
               "{\"status\": \"running\", \"singlestep\": false, "
               "\"running\": true}");
    execute_ok(f, "human-monitor-command",
               "{\"command-line\": \"info version\"}",
               "\"8.2.0Debian 1:8.2.0\\r\\n\"");
    execute_ok(f, "query-cpus-fast", NULL,
               "[{\"cpu-index\": 0, \"thread-id\": 4242}, "
               "{\"cpu-index\": 1, \"thread-id\": 4243}]");
    /* The return value is optional. */
    check_rc(f,
             qhil_qmp_execute(f->qmp, "stop", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    /* Refused before anything is sent (the peer expects nothing more). */
    check_rc(f,
             qhil_qmp_execute(f->qmp, "cont", bad_args, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EINVAL);
    check_rc(f,
             qhil_qmp_execute(f->qmp, "", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EINVAL);
    json_decref(bad_args);
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    finish(f);
}

static void test_events_interleaved(void **state)
{
    fixture *f = *state;
    json_t *ret = NULL;
    json_t *ev = NULL;
    uint64_t cont_id = 0;
    uint64_t status_id = 0;

    start_ready(f, SCENARIO("events.scn"));
    execute_ok(f, "stop", NULL, "{}");

    check_rc(f,
             qhil_qmp_send(f->qmp, "cont", NULL, &cont_id,
                           qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qmp_send(f->qmp, "query-status", NULL, &status_id,
                           qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    assert_int_not_equal(cont_id, status_id);
    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, cont_id, &ret,
                                 qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    check_json(ret, "{}");
    json_decref(ret);
    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, status_id, &ret,
                                 qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    check_json(ret, "{\"status\": \"running\", \"running\": true}");
    json_decref(ret);

    execute_ok(f, "query-name", NULL, "{\"name\": \"vm0\"}");

    /* Every event, whole and in arrival order; C came after the reply in
     * the same write and must be queued too. */
    check_rc(f, qhil_qmp_wait_event(f->qmp, NULL, &ev, qhil_now(), &f->err),
             QHIL_EOK);
    check_json(ev, "{\"event\": \"STOP\", \"data\": {}, \"timestamp\": "
                   "{\"seconds\": 1700000000, \"microseconds\": 1}}");
    json_decref(ev);
    check_rc(f, qhil_qmp_wait_event(f->qmp, NULL, &ev, qhil_now(), &f->err),
             QHIL_EOK);
    assert_string_equal(json_string_value(json_object_get(ev, "event")),
                        "RESUME");
    json_decref(ev);
    next_event_n(f, "A", 1);
    next_event_n(f, "B", 2);
    check_rc(f,
             qhil_qmp_wait_event(f->qmp, "C", &ev, qhil_deadline_in(LONG_WAIT),
                                 &f->err),
             QHIL_EOK);
    check_json(json_object_get(ev, "data"), "{\"n\": 3}");
    json_decref(ev);
    no_event(f);
    assert_int_equal(qhil_qmp_dropped_events(f->qmp), 0);
    finish(f);
}

static void test_error_reply(void **state)
{
    fixture *f = *state;
    json_t *ret = json_true(); /* must be reset to NULL */
    json_t *args = json_pack("{s:s}", "id", "nope");

    start_ready(f, SCENARIO("error.scn"));
    check_rc(f,
             qhil_qmp_execute(f->qmp, "no-such-command", NULL, &ret,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECMD);
    assert_null(ret);
    assert_string_equal(f->err.kind, "CommandNotFound");
    assert_string_equal(f->err.message,
                        "CommandNotFound: The command no-such-command has "
                        "not been found");

    /* Not sticky. */
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    execute_ok(f, "query-status", NULL,
               "{\"status\": \"running\", \"running\": true}");

    check_rc(f,
             qhil_qmp_execute(f->qmp, "device_del", args, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECMD);
    json_decref(args);
    assert_string_equal(f->err.kind, "DeviceNotFound");
    assert_string_equal(f->err.message,
                        "DeviceNotFound: Device 'nope' not found");

    /* An error without id belongs to the oldest command waiting. */
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-name", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECMD);
    assert_string_equal(f->err.kind, "GenericError");
    assert_string_equal(f->err.message,
                        "GenericError: JSON parse error, invalid keyword "
                        "'x'");
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    finish(f);
}

static uint64_t send_ok(fixture *f, const char *command)
{
    uint64_t id = 0;

    check_rc(f,
             qhil_qmp_send(f->qmp, command, NULL, &id,
                           qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    return id;
}

static void wait_reply_ok(fixture *f, uint64_t id, const char *want)
{
    json_t *ret = NULL;

    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, id, &ret, qhil_deadline_in(LONG_WAIT),
                                 &f->err),
             QHIL_EOK);
    check_json(ret, want);
    json_decref(ret);
}

static void test_out_of_order(void **state)
{
    fixture *f = *state;
    uint64_t status_id;
    uint64_t name_id;
    uint64_t kvm_id;
    uint64_t uuid_id;

    start_ready(f, SCENARIO("out_of_order.scn"));
    /* The peer answers name first: it must be kept while we wait for
     * status. */
    status_id = send_ok(f, "query-status");
    name_id = send_ok(f, "query-name");
    wait_reply_ok(f, status_id, "\"status\"");
    wait_reply_ok(f, name_id, "\"name\"");

    /* The peer answers in order; we wait in reverse order. */
    kvm_id = send_ok(f, "query-kvm");
    uuid_id = send_ok(f, "query-uuid");
    wait_reply_ok(f, uuid_id, "\"uuid\"");
    wait_reply_ok(f, kvm_id, "\"kvm\"");

    /* A reply is handed out once. */
    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, status_id, NULL, qhil_now(), &f->err),
             QHIL_EINVAL);
    no_event(f);
    finish(f);
}

static void test_split_reply(void **state)
{
    fixture *f = *state;

    start_ready(f, SCENARIO("split.scn"));
    check_json(json_object_get(qhil_qmp_greeting(f->qmp), "QMP"),
               "{\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
               "\"major\": 8}, \"package\": \"Debian 1:8.2.0\"}, "
               "\"capabilities\": [\"oob\"]}");
    execute_ok(f, "query-status", NULL,
               "{\"text\": \"a \\\"quoted\\\" } { [ brace \\\\\", "
               "\"odd\": \"\\\"}\", "
               "\"list\": [1, {\"x\": [2, 3]}, \"]\"], "
               "\"utf8\": \"caf\\u00e9 \\u2713\", \"n\": -1.5e3}");
    execute_ok(f, "stop", NULL, "{}");
    finish(f);
}

static void test_big_reply(void **state)
{
    fixture *f = *state;
    const size_t size = (size_t)5 << 20;
    json_t *args = json_pack("{s:s}", "command-line", "info mtree");
    json_t *ret = NULL;
    const char *s;
    size_t i;

    start_ready(f, SCENARIO("big.scn"));
    check_rc(f,
             qhil_qmp_execute(f->qmp, "human-monitor-command", args, &ret,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    json_decref(args);
    assert_true(json_is_string(ret));
    assert_int_equal(json_string_length(ret), size);
    s = json_string_value(ret);
    for (i = 0; i < size; i++) {
        if (s[i] != FAKEPEER_BIG_BYTE(i)) {
            fail_msg("byte %zu of the reply is '%c', want '%c'", i, s[i],
                     FAKEPEER_BIG_BYTE(i));
        }
    }
    json_decref(ret);
    execute_ok(f, "query-status", NULL, "{\"status\": \"running\"}");
    finish(f);
}

/* The connection failed with want; every later call must give the same
 * code and the very message qhil_qmp_status keeps, without sending. */
static void check_sticky(fixture *f, int want, const char *first_message)
{
    qhil_error again;
    char *kept;

    qhil_error_init(&again);
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), want);
    kept = strdup(f->err.message);
    assert_non_null(kept);
    /* The failing call may add context, but must carry the first error. */
    assert_non_null(strstr(first_message, kept));

    assert_int_equal(qhil_qmp_execute(f->qmp, "query-status", NULL, NULL,
                                      qhil_deadline_in(LONG_WAIT), &again),
                     want);
    assert_string_equal(again.message, kept);
    assert_int_equal(qhil_qmp_send(f->qmp, "cont", NULL, NULL,
                                   qhil_deadline_in(LONG_WAIT), &again),
                     want);
    assert_string_equal(again.message, kept);
    assert_int_equal(qhil_qmp_wait_event(f->qmp, NULL, NULL,
                                         qhil_deadline_in(LONG_WAIT), &again),
                     want);
    assert_string_equal(again.message, kept);
    assert_int_equal(qhil_qmp_dispatch(f->qmp, &again), want);
    assert_string_equal(again.message, kept);
    qhil_error_release(&again);
    free(kept);
}

static void test_garbage(void **state)
{
    fixture *f = *state;
    char *first;

    start_ready(f, SCENARIO("garbage.scn"));
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    /* 'h' of "hello" */
    assert_non_null(strstr(f->err.message, "0x68"));
    first = strdup(f->err.message);
    check_sticky(f, QHIL_EPROTO, first);
    free(first);
    finish(f);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    char *first;

    start_ready(f, SCENARIO("malformed.scn"));
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    assert_non_null(strstr(f->err.message, "malformed JSON"));
    first = strdup(f->err.message);
    check_sticky(f, QHIL_EPROTO, first);
    free(first);
    finish(f);
}

static void test_mismatched_bracket(void **state)
{
    fixture *f = *state;
    char *first;

    start_ready(f, SCENARIO("mismatched.scn"));
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    assert_non_null(strstr(f->err.message, "mismatched '}'"));
    first = strdup(f->err.message);
    check_sticky(f, QHIL_EPROTO, first);
    free(first);
    finish(f);
}

static void test_eof_mid_reply(void **state)
{
    fixture *f = *state;
    char *first;

    start_ready(f, SCENARIO("eof.scn"));
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EEOF);
    assert_non_null(strstr(f->err.message, "in the middle of a message"));
    first = strdup(f->err.message);
    check_sticky(f, QHIL_EEOF, first);
    free(first);
    finish(f);
}

static void test_eof_between_messages(void **state)
{
    fixture *f = *state;
    char *first;

    start_ready(f, SCENARIO("eof_clean.scn"));
    check_rc(f,
             qhil_qmp_execute(f->qmp, "quit", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EEOF);
    assert_non_null(strstr(f->err.message, "closed by the server"));
    first = strdup(f->err.message);
    check_sticky(f, QHIL_EEOF, first);
    free(first);
    finish(f);
}

static void test_unknown_id(void **state)
{
    fixture *f = *state;
    uint64_t stop_id;

    start_ready(f, SCENARIO("unknown_id.scn"));
    execute_ok(f, "query-status", NULL, "{\"status\": \"running\"}");

    /* A forgotten command's reply is dropped, not given to the next. */
    stop_id = send_ok(f, "stop");
    qhil_qmp_forget(f->qmp, stop_id);
    execute_ok(f, "cont", NULL, "\"cont\"");
    check_rc(f, qhil_qmp_wait_reply(f->qmp, stop_id, NULL, qhil_now(), &f->err),
             QHIL_EINVAL);
    /* Nothing was taken for an event. */
    no_event(f);
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    finish(f);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    json_t *ret = NULL;
    int64_t t0;
    int64_t took;

    start_ready(f, SCENARIO("timeout.scn"));
    t0 = qhil_now();
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, &ret,
                              t0 + 300 * QHIL_MSEC, &f->err),
             QHIL_ETIMEDOUT);
    took = qhil_now() - t0;
    assert_null(ret);
    assert_string_equal(f->err.message, "no reply to QMP command "
                                        "'query-status' before the "
                                        "deadline");
    if (took < 300 * QHIL_MSEC || took > 800 * QHIL_MSEC) {
        fail_msg("the 300 ms timeout took %lld ms",
                 (long long)(took / QHIL_MSEC));
    }
    /* Not sticky; the late reply ("late") is dropped on its way. */
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    execute_ok(f, "query-name", NULL, "{\"name\": \"second\"}");
    no_event(f);
    finish(f);
}

static void test_event_wait(void **state)
{
    fixture *f = *state;
    json_t *ev = NULL;
    int64_t deadline;

    start_ready(f, SCENARIO("event_wait.scn"));
    execute_ok(f, "system_reset", NULL, "{}");

    /* Queued before the call: found with a deadline already past, oldest
     * first, skipping other names. */
    check_rc(f, qhil_qmp_wait_event(f->qmp, "RESET", &ev, qhil_now(), &f->err),
             QHIL_EOK);
    check_json(json_object_get(ev, "data"), "{\"guest\": false, \"reason\": "
                                            "\"host-qmp-system-reset\"}");
    json_decref(ev);
    check_rc(f, qhil_qmp_wait_event(f->qmp, "RESET", &ev, qhil_now(), &f->err),
             QHIL_EOK);
    check_json(json_object_get(ev, "data"),
               "{\"guest\": true, \"reason\": \"guest-reset\"}");
    json_decref(ev);

    /* Arrives while waiting. */
    check_rc(f,
             qhil_qmp_wait_event(f->qmp, "SHUTDOWN", &ev,
                                 qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(ev, "data"), "reason")),
                        "guest-shutdown");
    json_decref(ev);

    /* A caller's own poll loop on qhil_qmp_fd feeds the queue too. */
    deadline = qhil_deadline_in(LONG_WAIT);
    for (;;) {
        struct pollfd pfd = {.fd = qhil_qmp_fd(f->qmp), .events = POLLIN};
        int rc;

        assert_true(qhil_now() < deadline);
        assert_true(poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) >= 0);
        check_rc(f, qhil_qmp_dispatch(f->qmp, &f->err), QHIL_EOK);
        rc =
            qhil_qmp_wait_event(f->qmp, "POWERDOWN", NULL, qhil_now(), &f->err);
        if (rc == QHIL_EOK) {
            break;
        }
        check_rc(f, rc, QHIL_ETIMEDOUT);
    }

    /* A name that never comes: a timeout that names it, not sticky. */
    check_rc(f,
             qhil_qmp_wait_event(f->qmp, "NEVER", &ev,
                                 qhil_deadline_in(50 * QHIL_MSEC), &f->err),
             QHIL_ETIMEDOUT);
    assert_null(ev);
    assert_non_null(strstr(f->err.message, "NEVER"));
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);

    /* STOP was passed over by every named wait. */
    check_rc(f, qhil_qmp_wait_event(f->qmp, NULL, &ev, qhil_now(), &f->err),
             QHIL_EOK);
    assert_string_equal(json_string_value(json_object_get(ev, "event")),
                        "STOP");
    json_decref(ev);
    no_event(f);
    finish(f);
}

static void test_event_bound(void **state)
{
    fixture *f = *state;
    json_int_t n;

    start(f, SCENARIO("event_bound.scn"));
    qhil_qmp_set_limits(f->qmp, 0, 4);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    execute_ok(f, "query-status", NULL, "{\"status\": \"running\"}");
    assert_int_equal(qhil_qmp_dropped_events(f->qmp), 6);
    for (n = 7; n <= 10; n++) {
        next_event_n(f, "TICK", n);
    }
    no_event(f);

    execute_ok(f, "stop", NULL, "{}");
    qhil_qmp_clear_events(f->qmp);
    no_event(f);
    /* Cleared events are not counted as dropped. */
    assert_int_equal(qhil_qmp_dropped_events(f->qmp), 6);
    finish(f);
}

static void test_message_too_big(void **state)
{
    fixture *f = *state;
    json_t *ev = NULL;
    char *first;

    start_ready(f, SCENARIO("toobig.scn"));
    qhil_qmp_set_limits(f->qmp, 64, 0);
    execute_ok(f, "query-status", NULL, "{}");
    check_rc(f, qhil_qmp_wait_event(f->qmp, "E", &ev, qhil_now(), &f->err),
             QHIL_EOK);
    assert_int_equal(json_string_length(json_object_get(ev, "data")), 41);
    json_decref(ev);

    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-name", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ETOOBIG);
    assert_non_null(strstr(f->err.message, "64 byte limit"));
    first = strdup(f->err.message);
    check_sticky(f, QHIL_ETOOBIG, first);
    free(first);
    finish(f);
}

static void test_message_too_big_split(void **state)
{
    fixture *f = *state;
    json_t *ret = NULL;
    char *first;

    start_ready(f, SCENARIO("toobig_split.scn"));
    qhil_qmp_set_limits(f->qmp, 4096, 0);
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, &ret,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ETOOBIG);
    assert_null(ret);
    assert_non_null(strstr(f->err.message, "4096 byte limit"));
    first = strdup(f->err.message);
    check_sticky(f, QHIL_ETOOBIG, first);
    free(first);
    finish(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_handshake),
        T(test_handshake_late),
        T(test_greeting_without_capabilities),
        T(test_version),
        T(test_version_missing),
        T(test_command),
        T(test_events_interleaved),
        T(test_error_reply),
        T(test_out_of_order),
        T(test_split_reply),
        T(test_big_reply),
        T(test_garbage),
        T(test_malformed),
        T(test_mismatched_bracket),
        T(test_eof_mid_reply),
        T(test_eof_between_messages),
        T(test_unknown_id),
        T(test_timeout),
        T(test_event_wait),
        T(test_event_bound),
        T(test_message_too_big),
        T(test_message_too_big_split),
#undef T
    };

    return cmocka_run_group_tests_name("qmp protocol", tests, NULL, NULL);
}
