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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <qhil/clock.h>
#include <qhil/qmp.h>

#include "fakepeer.h"
#include "protoutil.h"

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
    return proto_setup(state, sizeof(fixture), offsetof(fixture, err));
}

/* Also the cleanup of a failed test: do not wait for the peer then. */
static int teardown(void **state)
{
    fixture *f = *state;

    qhil_qmp_free(f->qmp);
    return proto_teardown(f, f->peer, &f->err);
}

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
    qhil_qmp_free(f->qmp);
    f->qmp = NULL;
    proto_finish_peer(&f->peer);
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
    proto_check_rc_at(&f->err, rc, QHIL_EOK, file, line);
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

/* ---- non-blocking use, out-of-band, events, schema, HMP, fds -------- */

#define RB_COUNT 24 /* ringbuf-write commands of submit.scn */
#define RB_DATA_LEN 600

/* Arguments of the k-th ringbuf-write of submit.scn and fd.scn. */
static json_t *ringbuf_args(int k)
{
    char data[RB_DATA_LEN + 1];
    int n = snprintf(data, sizeof(data), "k=%02d;", k);

    memset(data + n, 'a' + k % 26, RB_DATA_LEN - (size_t)n);
    data[RB_DATA_LEN] = '\0';
    return json_pack("{s:s, s:s, s:s}", "device", "rb0", "data", data, "format",
                     "utf8");
}

/* Like start_ready, with a small socket send buffer so that the output
 * queue has to hold what the peer does not read. */
static void start_small_sndbuf(fixture *f, const char *path)
{
    int fd = -1;
    int size = 4096;

    assert_int_equal(fakepeer_start(path, &f->peer, &fd), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)),
                     0);
    check_rc(f, qhil_qmp_new(fd, &f->qmp, &f->err), QHIL_EOK);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
}

/* The caller's own poll loop: poll as the client asks, dispatch, and
 * take every reply of ids[0..n) that came; until all came. */
static void poll_loop_take(fixture *f, const uint64_t *ids, json_t **rets,
                           size_t n)
{
    int64_t deadline = qhil_deadline_in(LONG_WAIT);
    size_t left = n;
    size_t i;

    while (left) {
        struct pollfd pfd = {.fd = qhil_qmp_fd(f->qmp),
                             .events = qhil_qmp_poll_events(f->qmp)};

        assert_true(qhil_now() < deadline);
        assert_true(poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) >= 0);
        check_rc(f, qhil_qmp_dispatch(f->qmp, &f->err), QHIL_EOK);
        for (i = 0; i < n; i++) {
            int rc;

            if (rets[i]) {
                continue;
            }
            rc = qhil_qmp_take_reply(f->qmp, ids[i], &rets[i], &f->err);
            if (rc == 1) {
                assert_non_null(rets[i]);
                left--;
            } else {
                check_rc(f, rc, 0);
                assert_null(rets[i]);
            }
        }
    }
}

static void test_submit_slow_peer(void **state)
{
    fixture *f = *state;
    uint64_t ids[RB_COUNT];
    json_t *rets[RB_COUNT] = {NULL};
    json_t *ret = json_true(); /* must be reset */
    json_t *ev = NULL;
    size_t i;

    start_small_sndbuf(f, SCENARIO("submit.scn"));
    for (i = 0; i < RB_COUNT; i++) {
        json_t *args = ringbuf_args((int)i + 1);

        check_rc(f,
                 qhil_qmp_submit(f->qmp, "ringbuf-write", args, -1, 0, &ids[i],
                                 &f->err),
                 QHIL_EOK);
        json_decref(args);
        if (i > 0) {
            assert_int_equal(ids[i], ids[i - 1] + 1);
        }
    }
    /* The peer sleeps: the rest waits in the queue, and the client asks
     * for POLLOUT until it is out. */
    assert_true(qhil_qmp_poll_events(f->qmp) & POLLOUT);
    assert_true(qhil_qmp_poll_events(f->qmp) & POLLIN);
    assert_int_equal(qhil_qmp_take_reply(f->qmp, ids[0], &ret, &f->err), 0);
    assert_null(ret);

    poll_loop_take(f, ids, rets, RB_COUNT);
    for (i = 0; i < RB_COUNT; i++) {
        assert_int_equal(json_integer_value(json_object_get(rets[i], "n")),
                         i + 1);
        json_decref(rets[i]);
    }
    assert_int_equal(qhil_qmp_poll_events(f->qmp), POLLIN);
    /* A reply is handed out once; an id never used is not pending. */
    check_rc(f, qhil_qmp_take_reply(f->qmp, ids[0], NULL, &f->err),
             QHIL_EINVAL);
    check_rc(f, qhil_qmp_take_reply(f->qmp, 4242, NULL, &f->err), QHIL_EINVAL);
    check_rc(f, qhil_qmp_wait_event(f->qmp, "TICK", &ev, qhil_now(), &f->err),
             QHIL_EOK);
    json_decref(ev);
    no_event(f);
    finish(f);
}

/* Blocking send and submit on a socket nobody reads: the queue's cap,
 * and a send that times out before any of it left. */
static void test_queue_limits(void **state)
{
    fixture *f = *state;
    int sv[2];
    int size = 4096;
    int64_t t0;
    int64_t took;
    uint64_t id = 0;
    uint64_t last = 0;
    json_t *args = ringbuf_args(1);
    char *got = NULL;
    size_t got_len = 0;
    FILE *mem;
    int rc;
    int i;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
    check_rc(f, qhil_qmp_new(sv[0], &f->qmp, &f->err), QHIL_EOK);
    qhil_qmp_set_limits(f->qmp, 16384, 0);
    for (i = 0; i < 1000; i++) {
        rc =
            qhil_qmp_submit(f->qmp, "ringbuf-write", args, -1, 0, &id, &f->err);
        if (rc < 0) {
            break;
        }
        last = id;
    }
    check_rc(f, rc, QHIL_ETOOBIG);
    assert_true(i > 4 && i < 1000);
    assert_non_null(strstr(f->err.message, "output queue"));
    assert_non_null(strstr(f->err.message, "qhil_qmp_set_limits"));
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);

    /* Room in the queue, but the socket takes nothing: the blocking send
     * gives up at its deadline, its command taken back, not sticky. */
    qhil_qmp_set_limits(f->qmp, 1 << 20, 0);
    t0 = qhil_now();
    check_rc(f,
             qhil_qmp_send(f->qmp, "never-sent", NULL, &id,
                           t0 + 100 * QHIL_MSEC, &f->err),
             QHIL_ETIMEDOUT);
    took = qhil_now() - t0;
    assert_true(took >= 100 * QHIL_MSEC && took < 800 * QHIL_MSEC);
    assert_string_equal(f->err.message, "QMP server did not accept the "
                                        "command before the deadline");
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, last + 1, NULL, qhil_now(), &f->err),
             QHIL_EINVAL);

    /* Reading the other end lets the queue drain: exactly the submitted
     * commands, in order, and nothing of the one taken back. */
    mem = open_memstream(&got, &got_len);
    assert_non_null(mem);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    t0 = qhil_deadline_in(LONG_WAIT);
    while (qhil_qmp_poll_events(f->qmp) & POLLOUT) {
        char buf[4096];
        ssize_t n;

        assert_true(qhil_now() < t0);
        check_rc(f, qhil_qmp_dispatch(f->qmp, &f->err), QHIL_EOK);
        while ((n = read(sv[1], buf, sizeof(buf))) > 0) {
            fwrite(buf, 1, (size_t)n, mem);
        }
    }
    for (;;) {
        char buf[4096];
        ssize_t n = read(sv[1], buf, sizeof(buf));

        if (n <= 0) {
            break;
        }
        fwrite(buf, 1, (size_t)n, mem);
    }
    fclose(mem);
    assert_null(strstr(got, "never-sent"));
    {
        char *line = got;
        uint64_t want = 1;

        while (line && *line) {
            char *nl = strchr(line, '\n');
            json_t *msg;

            assert_non_null(nl);
            msg = json_loadb(line, (size_t)(nl - line), 0, NULL);
            assert_non_null(msg);
            assert_int_equal(json_integer_value(json_object_get(msg, "id")),
                             want);
            assert_true(json_equal(json_object_get(msg, "arguments"), args));
            json_decref(msg);
            want++;
            line = nl + 1;
        }
        assert_int_equal(want, last + 1);
    }
    free(got);
    json_decref(args);
    close(sv[1]);
}

static void test_oob(void **state)
{
    fixture *f = *state;
    uint64_t status_id = 0;
    uint64_t yank_id = 0;
    json_t *ret = NULL;

    start_ready(f, SCENARIO("oob.scn"));
    assert_int_equal(qhil_qmp_has_oob(f->qmp), 1);
    check_rc(f,
             qhil_qmp_submit(f->qmp, "query-status", NULL, -1, 0, &status_id,
                             &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qmp_submit(f->qmp, "query-yank", NULL, -1, QHIL_QMP_OOB,
                             &yank_id, &f->err),
             QHIL_EOK);
    /* The out-of-band reply comes first; the other is kept meanwhile. */
    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, yank_id, &ret,
                                 qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    check_json(ret, "[{\"type\": \"chardev\", \"id\": \"qmp0\"}]");
    json_decref(ret);
    wait_reply_ok(f, status_id, "{\"status\": \"running\", \"running\": true}");
    finish(f);
}

static void test_no_oob(void **state)
{
    fixture *f = *state;
    uint64_t id = 0;

    start(f, SCENARIO("no_oob.scn"));
    /* Not before the handshake either. */
    check_rc(f,
             qhil_qmp_submit(f->qmp, "query-yank", NULL, -1, QHIL_QMP_OOB, &id,
                             &f->err),
             QHIL_EUNSUPPORTED);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    assert_int_equal(qhil_qmp_has_oob(f->qmp), 0);
    check_rc(f,
             qhil_qmp_submit(f->qmp, "query-yank", NULL, -1, QHIL_QMP_OOB, &id,
                             &f->err),
             QHIL_EUNSUPPORTED);
    assert_non_null(strstr(f->err.message, "\"oob\""));
    assert_int_equal(id, 0);
    /* The same command in band goes out. */
    execute_ok(f, "query-yank", NULL, "[]");
    finish(f);
}

typedef struct callback_seen {
    fixture *f;
    int ticks;      /* TICK events consumed */
    int calls;      /* callback calls */
    uint64_t cont;  /* id of the cont submitted on STOP */
    int busy_rc[2]; /* dispatch and execute from inside */
} callback_seen;

static int on_event(void *data, const json_t *event)
{
    callback_seen *seen = data;
    const char *name = json_string_value(json_object_get(event, "event"));

    seen->calls++;
    if (strcmp(name, "TICK") == 0) {
        seen->ticks++;
        /* In arrival order. */
        if (json_integer_value(json_object_get(json_object_get(event, "data"),
                                               "n")) != seen->ticks) {
            seen->ticks = -100;
        }
        return 1;
    }
    if (strcmp(name, "STOP") == 0) {
        seen->busy_rc[0] = qhil_qmp_dispatch(seen->f->qmp, NULL);
        seen->busy_rc[1] =
            qhil_qmp_execute(seen->f->qmp, "query-status", NULL, NULL,
                             qhil_deadline_in(LONG_WAIT), NULL);
        if (qhil_qmp_submit(seen->f->qmp, "cont", NULL, -1, 0, &seen->cont,
                            NULL) < 0) {
            seen->cont = 0;
        }
    }
    return 0;
}

static void test_event_callback(void **state)
{
    fixture *f = *state;
    callback_seen seen = {.f = f};
    json_t *ev = NULL;

    start_ready(f, SCENARIO("callback.scn"));
    qhil_qmp_set_event_callback(f->qmp, on_event, &seen);
    execute_ok(f, "query-status", NULL,
               "{\"status\": \"paused\", \"running\": false}");
    assert_int_equal(seen.calls, 3);
    assert_int_equal(seen.ticks, 2);
    /* Reads and waits are refused inside the callback; submit works. */
    assert_int_equal(seen.busy_rc[0], QHIL_EBUSY);
    assert_int_equal(seen.busy_rc[1], QHIL_EBUSY);
    assert_int_not_equal(seen.cont, 0);
    wait_reply_ok(f, seen.cont, "{}");
    /* STOP was left in the queue, the TICKs were not. */
    check_rc(f, qhil_qmp_wait_event(f->qmp, NULL, &ev, qhil_now(), &f->err),
             QHIL_EOK);
    assert_string_equal(json_string_value(json_object_get(ev, "event")),
                        "STOP");
    json_decref(ev);
    no_event(f);

    qhil_qmp_set_event_callback(f->qmp, NULL, NULL);
    execute_ok(f, "query-name", NULL, "{}");
    assert_int_equal(seen.calls, 3);
    next_event_n(f, "TICK", 3);
    finish(f);
}

static void test_wait_event_match(void **state)
{
    fixture *f = *state;
    json_t *match = json_pack("{s:s}", "device", "drive0");
    json_t *nested = json_pack("{s:s}", "path", "/machine/peripheral/net0");
    json_t *never = json_pack("{s:s}", "device", "drive9");
    json_t *empty = json_object();
    json_t *drive2 = json_pack("{s:s, s:i}", "device", "drive2", "len", 30);
    json_t *ev = NULL;

    start_ready(f, SCENARIO("match.scn"));
    execute_ok(f, "query-block-jobs", NULL, "[]");

    /* drive1's event comes first but does not match: it stays. */
    check_rc(f,
             qhil_qmp_wait_event_match(f->qmp, "BLOCK_JOB_COMPLETED", match,
                                       &ev, qhil_now(), &f->err),
             QHIL_EOK);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(ev, "data"), "len")),
        20);
    assert_int_equal(qhil_qmp_event_time(ev),
                     1700000002 * QHIL_SEC + 999999 * QHIL_USEC);
    json_decref(ev);
    /* Any name, matched by data. */
    check_rc(f,
             qhil_qmp_wait_event_match(f->qmp, NULL, nested, &ev, qhil_now(),
                                       &f->err),
             QHIL_EOK);
    assert_string_equal(json_string_value(json_object_get(ev, "event")),
                        "DEVICE_DELETED");
    /* QEMU always stamps events; this one was not. */
    assert_int_equal(qhil_qmp_event_time(ev), -1);
    json_decref(ev);
    /* {} matches an event without data. */
    check_rc(f,
             qhil_qmp_wait_event_match(f->qmp, "STOP", empty, &ev, qhil_now(),
                                       &f->err),
             QHIL_EOK);
    assert_int_equal(qhil_qmp_event_time(ev), 1700000003 * QHIL_SEC);
    json_decref(ev);

    /* Arrives while waiting, behind the queued drive1 event. */
    check_rc(f,
             qhil_qmp_wait_event_match(f->qmp, "BLOCK_JOB_COMPLETED", drive2,
                                       &ev, qhil_deadline_in(LONG_WAIT),
                                       &f->err),
             QHIL_EOK);
    assert_int_equal(qhil_qmp_event_time(ev),
                     1700000004 * QHIL_SEC + 1 * QHIL_USEC);
    json_decref(ev);

    /* Never: a timeout that shows the match, not sticky. */
    check_rc(f,
             qhil_qmp_wait_event_match(f->qmp, "BLOCK_JOB_COMPLETED", never,
                                       &ev, qhil_deadline_in(50 * QHIL_MSEC),
                                       &f->err),
             QHIL_ETIMEDOUT);
    assert_null(ev);
    assert_non_null(strstr(f->err.message, "BLOCK_JOB_COMPLETED"));
    assert_non_null(strstr(f->err.message, "{\"device\":\"drive9\"}"));
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);

    /* What was passed over is still there, in order. */
    check_rc(f, qhil_qmp_wait_event(f->qmp, NULL, &ev, qhil_now(), &f->err),
             QHIL_EOK);
    check_json(json_object_get(json_object_get(ev, "data"), "device"),
               "\"drive1\"");
    assert_int_equal(qhil_qmp_event_time(ev),
                     1700000001 * QHIL_SEC + 250 * QHIL_USEC);
    json_decref(ev);
    no_event(f);
    json_decref(match);
    json_decref(nested);
    json_decref(never);
    json_decref(empty);
    json_decref(drive2);
    finish(f);
}

static void test_event_time(void **state)
{
    static const struct {
        const char *json;
        int64_t want;
    } cases[] = {
        {"{\"timestamp\": {\"seconds\": 0, \"microseconds\": 0}}", 0},
        {"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1}}",
         QHIL_SEC + QHIL_USEC},
        {"{\"timestamp\": {\"seconds\": -1, \"microseconds\": -1}}", -1},
        {"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1000000}}", -1},
        {"{\"timestamp\": {\"seconds\": 1.5, \"microseconds\": 0}}", -1},
        {"{\"timestamp\": {\"seconds\": 1}}", -1},
        {"{\"timestamp\": 17}", -1},
        {"{\"timestamp\": {\"seconds\": 9223372036854775807, "
         "\"microseconds\": 0}}",
         -1},
        {"{}", -1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ev = json_loads(cases[i].json, 0, NULL);

        assert_non_null(ev);
        if (qhil_qmp_event_time(ev) != cases[i].want) {
            fail_msg("%s: got %lld, want %lld", cases[i].json,
                     (long long)qhil_qmp_event_time(ev),
                     (long long)cases[i].want);
        }
        json_decref(ev);
    }
    assert_int_equal(qhil_qmp_event_time(NULL), -1);
}

/* A NULL-terminated list must be exactly the words of want. */
static void check_names(char **got, const char *want)
{
    size_t i;
    char *copy = strdup(want);
    char *save = NULL;
    char *w = strtok_r(copy, " ", &save);

    assert_non_null(got);
    for (i = 0; w; i++, w = strtok_r(NULL, " ", &save)) {
        if (!got[i] || strcmp(got[i], w) != 0) {
            fail_msg("name %zu is %s, want %s", i, got[i] ? got[i] : "NULL", w);
        }
    }
    if (got[i]) {
        fail_msg("extra name %s", got[i]);
    }
    free(copy);
    qhil_strv_free(got);
}

static void test_schema(void **state)
{
    fixture *f = *state;
    json_t *args = NULL;
    uint64_t id = 0;

    start_ready(f, SCENARIO("schema.scn"));
    assert_int_equal(qhil_qmp_has_command(f->qmp, "query-status"), QHIL_EINVAL);
    assert_int_equal(qhil_qmp_has_argument(f->qmp, "device_del", "id"),
                     QHIL_EINVAL);
    assert_null(qhil_qmp_schema_names(f->qmp, NULL));
    check_rc(f,
             qhil_qmp_execute_checked(f->qmp, "no-such-command", NULL, NULL,
                                      qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECMD);

    check_rc(f,
             qhil_qmp_schema_load(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    assert_non_null(strstr(f->err.message, "did not return a list"));
    check_rc(f,
             qhil_qmp_schema_load(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    assert_string_equal(f->err.message,
                        "loading the QMP schema: command 'query-status' has "
                        "argument type '99', which is not an object type "
                        "of query-qmp-schema");
    assert_int_equal(qhil_qmp_has_command(f->qmp, "query-status"), QHIL_EINVAL);
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);

    check_rc(f,
             qhil_qmp_schema_load(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    assert_int_equal(qhil_qmp_has_command(f->qmp, "query-status"), 1);
    assert_int_equal(qhil_qmp_has_command(f->qmp, "no-such"), 0);
    /* Events and types are not commands. */
    assert_int_equal(qhil_qmp_has_command(f->qmp, "STOP"), 0);
    assert_int_equal(qhil_qmp_has_command(f->qmp, "0"), 0);
    assert_int_equal(qhil_qmp_has_argument(f->qmp, "device_del", "id"), 1);
    assert_int_equal(qhil_qmp_has_argument(f->qmp, "device_del", "x"), 0);
    assert_int_equal(qhil_qmp_has_argument(f->qmp, "system_reset", "x"), 0);
    assert_int_equal(qhil_qmp_has_argument(f->qmp, "no-such", "id"), 0);
    /* Base members and those of the variants of a union. */
    assert_int_equal(qhil_qmp_has_argument(f->qmp, "blockdev-add", "driver"),
                     1);
    assert_int_equal(qhil_qmp_has_argument(f->qmp, "blockdev-add", "filename"),
                     1);
    check_names(qhil_qmp_schema_names(f->qmp, NULL),
                "blockdev-add device_del human-monitor-command query-status "
                "query-yank system_reset");
    check_names(qhil_qmp_schema_names(f->qmp, "blockdev-add"),
                "driver filename node-name x-check-cache-dropped");
    check_names(qhil_qmp_schema_names(f->qmp, "human-monitor-command"),
                "command-line cpu-index");
    check_names(qhil_qmp_schema_names(f->qmp, "system_reset"), "");
    check_names(qhil_qmp_schema_names(f->qmp, "no-such"), "");

    /* Refused before sending: the peer expects device_del next. */
    check_rc(f,
             qhil_qmp_execute_checked(f->qmp, "no-such", NULL, NULL,
                                      qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EUNSUPPORTED);
    assert_string_equal(f->err.message,
                        "QEMU 7.2.0 has no QMP command 'no-such' (it is not "
                        "in query-qmp-schema); nothing was sent");
    args = json_pack("{s:i}", "x", 1);
    check_rc(f,
             qhil_qmp_execute_checked(f->qmp, "system_reset", args, NULL,
                                      qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EUNSUPPORTED);
    assert_string_equal(f->err.message,
                        "QMP command 'system_reset' takes no arguments, but "
                        "'x' was given; nothing was sent");
    check_rc(f,
             qhil_qmp_execute_checked(f->qmp, "human-monitor-command", args,
                                      NULL, qhil_deadline_in(LONG_WAIT),
                                      &f->err),
             QHIL_EUNSUPPORTED);
    assert_string_equal(f->err.message,
                        "QMP command 'human-monitor-command' has no argument "
                        "'x' (its arguments: command-line, cpu-index); "
                        "nothing was sent");
    check_rc(f,
             qhil_qmp_submit(f->qmp, "device_del", args, -1, QHIL_QMP_CHECK,
                             &id, &f->err),
             QHIL_EUNSUPPORTED);
    json_decref(args);
    check_rc(f,
             qhil_qmp_submit(f->qmp, "no-such", NULL, -1, QHIL_QMP_CHECK, &id,
                             &f->err),
             QHIL_EUNSUPPORTED);
    check_rc(f,
             qhil_qmp_submit(f->qmp, "query-status", NULL, -1,
                             QHIL_QMP_CHECK | QHIL_QMP_OOB, &id, &f->err),
             QHIL_EUNSUPPORTED);
    assert_non_null(strstr(f->err.message, "cannot run out-of-band"));
    assert_int_equal(id, 0);
    assert_int_equal(qhil_qmp_poll_events(f->qmp), POLLIN);

    /* Known ones go out. */
    args = json_pack("{s:s}", "id", "nic0");
    check_rc(f,
             qhil_qmp_execute_checked(f->qmp, "device_del", args, NULL,
                                      qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    json_decref(args);
    args = json_pack("{s:s, s:s, s:s}", "driver", "file", "node-name", "disk0",
                     "filename", "disk.img");
    check_rc(f,
             qhil_qmp_execute_checked(f->qmp, "blockdev-add", args, NULL,
                                      qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    json_decref(args);
    check_rc(f,
             qhil_qmp_submit(f->qmp, "query-yank", NULL, -1,
                             QHIL_QMP_CHECK | QHIL_QMP_OOB, &id, &f->err),
             QHIL_EOK);
    wait_reply_ok(f, id, "[]");
    finish(f);
}

static void test_hmp(void **state)
{
    fixture *f = *state;
    char *out = NULL;

    start_ready(f, SCENARIO("hmp.scn"));
    check_rc(f,
             qhil_qmp_hmp(f->qmp, "info status", &out,
                          qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    assert_string_equal(out, "VM status: running\r\n");
    free(out);
    /* Refused before sending. */
    check_rc(
        f, qhil_qmp_hmp(f->qmp, "", &out, qhil_deadline_in(LONG_WAIT), &f->err),
        QHIL_EINVAL);
    assert_null(out);
    check_rc(f,
             qhil_qmp_hmp(f->qmp, "info cpus", &out,
                          qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECMD);
    assert_null(out);
    assert_string_equal(f->err.message, "GenericError: No CPU available");
    check_rc(f,
             qhil_qmp_hmp(f->qmp, "info version", NULL,
                          qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    assert_non_null(strstr(f->err.message, "returned no text"));
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    finish(f);
}

/* What the peer wrote to the fd it got, read from the pipe's other end
 * until EOF: every write end must be closed by then. */
static void check_pipe_text(int rfd)
{
    char buf[64];
    size_t len = 0;
    int64_t deadline = qhil_deadline_in(LONG_WAIT);

    assert_int_equal(fcntl(rfd, F_SETFL, O_NONBLOCK), 0);
    for (;;) {
        struct pollfd pfd = {.fd = rfd, .events = POLLIN};
        ssize_t n;

        assert_true(qhil_now() < deadline);
        poll(&pfd, 1, qhil_deadline_poll_ms(deadline));
        n = read(rfd, buf + len, sizeof(buf) - 1 - len);
        if (n == 0) {
            break;
        }
        if (n > 0) {
            len += (size_t)n;
        }
        assert_true(len < sizeof(buf) - 1);
    }
    buf[len] = '\0';
    assert_string_equal(buf, "fakepeer\n");
    close(rfd);
}

static void test_pass_fd(void **state)
{
    fixture *f = *state;
    uint64_t ids[9];
    json_t *rets[9] = {NULL};
    json_t *args;
    int a[2];
    int b[2];
    int c[2];
    uint64_t id = 0;
    uint64_t fdsets_id = 0;
    json_t *ret = NULL;
    int i;

    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    assert_int_equal(pipe2(c, O_CLOEXEC), 0);
    start_small_sndbuf(f, SCENARIO("fd.scn"));
    /* Not an fd at all: refused, nothing sent. */
    check_rc(f, qhil_qmp_submit(f->qmp, "getfd", NULL, 1000, 0, &id, &f->err),
             -EBADF);
    assert_non_null(strstr(f->err.message, "cannot pass fd 1000"));

    /* The client keeps its own copy: ours may close at once. */
    args = json_pack("{s:s}", "fdname", "fd0");
    check_rc(f, qhil_qmp_submit(f->qmp, "getfd", args, a[1], 0, &id, &f->err),
             QHIL_EOK);
    json_decref(args);
    close(a[1]);
    wait_reply_ok(f, id, "{}");
    check_pipe_text(a[0]);

    /* Behind eight commands the socket cannot take yet. */
    for (i = 0; i < 8; i++) {
        args = ringbuf_args(i + 1);
        check_rc(f,
                 qhil_qmp_submit(f->qmp, "ringbuf-write", args, -1, 0, &ids[i],
                                 &f->err),
                 QHIL_EOK);
        json_decref(args);
    }
    args = json_pack("{s:s}", "opaque", "pipe-b");
    check_rc(f,
             qhil_qmp_submit(f->qmp, "add-fd", args, b[1], 0, &ids[8], &f->err),
             QHIL_EOK);
    json_decref(args);
    close(b[1]);
    assert_true(qhil_qmp_poll_events(f->qmp) & POLLOUT);
    /* One fd-carrying command at a time: refused, nothing queued. */
    args = json_pack("{s:s}", "fdname", "fd1");
    check_rc(f, qhil_qmp_submit(f->qmp, "getfd", args, c[1], 0, &id, &f->err),
             QHIL_EBUSY);
    assert_non_null(strstr(f->err.message, "wait for that reply"));
    json_decref(args);
    poll_loop_take(f, ids, rets, 9);
    for (i = 0; i < 8; i++) {
        assert_int_equal(json_integer_value(json_object_get(rets[i], "n")),
                         i + 1);
        json_decref(rets[i]);
    }
    check_json(rets[8], "{\"fdset-id\": 0, \"fd\": 25}");
    json_decref(rets[8]);
    check_pipe_text(b[0]);

    /* With the reply in, the next fd may go, right behind a command
     * without one. */
    check_rc(f,
             qhil_qmp_submit(f->qmp, "query-fdsets", NULL, -1, 0, &fdsets_id,
                             &f->err),
             QHIL_EOK);
    args = json_pack("{s:s}", "fdname", "fd2");
    check_rc(f, qhil_qmp_submit(f->qmp, "getfd", args, c[1], 0, &id, &f->err),
             QHIL_EOK);
    json_decref(args);
    close(c[1]);
    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, fdsets_id, &ret,
                                 qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    check_json(ret, "[{\"fdset-id\": 0, \"fds\": [{\"fd\": 25, \"opaque\": "
                    "\"pipe-b\"}]}]");
    json_decref(ret);
    wait_reply_ok(f, id, "{}");
    check_pipe_text(c[0]);
    finish(f);
}

static void test_pass_fd_not_unix(void **state)
{
    fixture *f = *state;
    int p[2];
    uint64_t id = 0;

    (void)state;
    /* A pipe is no socket: nothing can ride with the text. */
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    check_rc(f, qhil_qmp_new(p[1], &f->qmp, &f->err), QHIL_EOK);
    check_rc(f, qhil_qmp_submit(f->qmp, "getfd", NULL, p[0], 0, &id, &f->err),
             QHIL_EUNSUPPORTED);
    assert_non_null(strstr(f->err.message, "not a Unix socket"));
    assert_int_equal(qhil_qmp_poll_events(f->qmp), POLLIN);
    close(p[0]);
}

/* ---- transports ------------------------------------------------------ */

/* A listening socket on a fresh path in dir; backlog as given. */
static int unix_listener(const char *path, int backlog)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

/* A listening TCP socket on a free port of addr (127.0.0.1 or ::1);
 * -1 when that family is not available here. */
static int tcp_listener(const char *addr, int backlog, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int fd;

    assert_int_equal(getaddrinfo(addr, "0", &hints, &res), 0);
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
        (backlog >= 0 && listen(fd, backlog) < 0)) {
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    memset(&ss, 0, sizeof(ss));
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(ss.ss_family == AF_INET
                      ? ((struct sockaddr_in *)&ss)->sin_port
                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* Accept the client on listener and talk to it both ways: a greeting
 * in, a command out, its reply in. */
static void serve_handshake(fixture *f, int listener)
{
    static const char greeting[] =
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
        "\"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}\r\n";
    static const char reply[] = "{\"return\": {}, \"id\": 1}\r\n";
    int64_t deadline = qhil_deadline_in(LONG_WAIT);
    char buf[256];
    uint64_t id = 0;
    ssize_t n;
    int s = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

    assert_true(s >= 0);
    assert_int_equal(write(s, greeting, strlen(greeting)), strlen(greeting));
    while (!qhil_qmp_greeting(f->qmp)) {
        struct pollfd pfd = {.fd = qhil_qmp_fd(f->qmp), .events = POLLIN};

        assert_true(qhil_now() < deadline);
        poll(&pfd, 1, qhil_deadline_poll_ms(deadline));
        check_rc(f, qhil_qmp_dispatch(f->qmp, &f->err), QHIL_EOK);
    }
    check_rc(
        f,
        qhil_qmp_submit(f->qmp, "qmp_capabilities", NULL, -1, 0, &id, &f->err),
        QHIL_EOK);
    n = read(s, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"execute\":\"qmp_capabilities\",\"id\":1}\n");
    assert_int_equal(write(s, reply, strlen(reply)), strlen(reply));
    wait_reply_ok(f, id, "{}");
    close(s);
    qhil_qmp_free(f->qmp);
    f->qmp = NULL;
}

static void connect_ok(fixture *f, const char *address, int listener)
{
    check_rc(f,
             qhil_qmp_connect(address, qhil_deadline_in(LONG_WAIT), &f->qmp,
                              &f->err),
             QHIL_EOK);
    serve_handshake(f, listener);
}

/* The address is refused with want and a message containing text. */
static void connect_bad(fixture *f, const char *address, int want,
                        const char *text)
{
    int rc = qhil_qmp_connect(address, qhil_deadline_in(LONG_WAIT), &f->qmp,
                              &f->err);

    if (rc != want || !f->err.message || !strstr(f->err.message, text)) {
        fail_msg("'%s': got %s (%s), want %s with '%s'", address,
                 qhil_errname(rc), qhil_error_message(&f->err, rc),
                 qhil_errname(want), text);
    }
    assert_null(f->qmp);
}

static void test_connect(void **state)
{
    fixture *f = *state;
    const char *tmp = getenv("TMPDIR");
    char dir[256];
    char path[300];
    char addr[400];
    char longpath[200];
    int lu;
    int lt;
    int l6;
    int port = 0;
    int port6 = 0;

    snprintf(dir, sizeof(dir), "%s/qhil-qmp.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/qmp.sock", dir);

    /* Unix, with and without the prefix. */
    lu = unix_listener(path, 4);
    snprintf(addr, sizeof(addr), "unix:%s", path);
    connect_ok(f, addr, lu);
    connect_ok(f, path, lu);
    check_rc(f,
             qhil_qmp_connect_unix(path, qhil_deadline_in(LONG_WAIT), &f->qmp,
                                   &f->err),
             QHIL_EOK);
    serve_handshake(f, lu);

    /* TCP: prefixed, bare, by name, IPv6 when the host has it. */
    lt = tcp_listener("127.0.0.1", 4, &port);
    assert_true(lt >= 0);
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", port);
    connect_ok(f, addr, lt);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    connect_ok(f, addr, lt);
    check_rc(f,
             qhil_qmp_connect_tcp(addr, qhil_deadline_in(LONG_WAIT), &f->qmp,
                                  &f->err),
             QHIL_EOK);
    serve_handshake(f, lt);
    snprintf(addr, sizeof(addr), "tcp:localhost:%d", port);
    connect_ok(f, addr, lt);
    l6 = tcp_listener("::1", 4, &port6);
    if (l6 >= 0) {
        snprintf(addr, sizeof(addr), "[::1]:%d", port6);
        connect_ok(f, addr, l6);
        snprintf(addr, sizeof(addr), "tcp:[::1]:%d", port6);
        connect_ok(f, addr, l6);
        close(l6);
    } else {
        print_message("no IPv6 loopback here: [::1] not tried\n");
    }

    /* Bad forms: QHIL_EINVAL with a message that says what is wrong. */
    connect_bad(f, "", QHIL_EINVAL, "expected unix:PATH, tcp:HOST:PORT");
    connect_bad(f, "unix:", QHIL_EINVAL, "socket path is empty");
    connect_bad(f, "tcp:", QHIL_EINVAL, "TCP address is empty");
    connect_bad(f, "tcp:127.0.0.1", QHIL_EINVAL, "has no port");
    connect_bad(f, "tcp:127.0.0.1:", QHIL_EINVAL,
                "port '' is not a number from 1 to 65535");
    connect_bad(f, "tcp:127.0.0.1:0", QHIL_EINVAL, "port '0'");
    connect_bad(f, "tcp:127.0.0.1:65536", QHIL_EINVAL, "port '65536'");
    connect_bad(f, "tcp:127.0.0.1:44x", QHIL_EINVAL, "port '44x'");
    connect_bad(f, "tcp:127.0.0.1:0004444", QHIL_EINVAL, "port '0004444'");
    connect_bad(f, "tcp::4444", QHIL_EINVAL, "has no host");
    connect_bad(f, "tcp:[::1:4444", QHIL_EINVAL, "no ']'");
    connect_bad(f, "tcp:[::1]4444", QHIL_EINVAL, "no ':PORT' after ']'");
    connect_bad(f, "tcp:::1:4444", QHIL_EINVAL, "in brackets");
    connect_bad(f, "[]:4444", QHIL_EINVAL, "has no host");
    connect_bad(f, "tcp:qemu.example:4444", QHIL_EINVAL,
                "'qemu.example' is not a numeric IPv4 or IPv6 address");
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    connect_bad(f, longpath, QHIL_EINVAL, "at most 107");

    /* Nobody there. */
    snprintf(addr, sizeof(addr), "%s/none.sock", dir);
    connect_bad(f, addr, -ENOENT, "no socket there");
    close(lu);
    connect_bad(f, path, -ECONNREFUSED, "socket file is stale");
    close(lt);
    lt = tcp_listener("127.0.0.1", -1, &port); /* bound, not listening */
    assert_true(lt >= 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    connect_bad(f, addr, -ECONNREFUSED, "Connection refused");
    assert_non_null(strstr(f->err.message, "-qmp tcp:"));
    close(lt);

    unlink(path);
    rmdir(dir);
}

/* A listener that accepts nothing, its backlog full: a connect waits,
 * until the deadline and no longer. */
static void connect_deadline(fixture *f, const char *address)
{
    int64_t t0 = qhil_now();
    int64_t took;

    check_rc(f,
             qhil_qmp_connect(address, t0 + 200 * QHIL_MSEC, &f->qmp, &f->err),
             QHIL_ETIMEDOUT);
    took = qhil_now() - t0;
    if (took < 200 * QHIL_MSEC || took > 900 * QHIL_MSEC) {
        fail_msg("%s: the 200 ms deadline took %lld ms", address,
                 (long long)(took / QHIL_MSEC));
    }
    assert_non_null(strstr(f->err.message, "before the deadline"));
    /* A deadline already past does not wait at all. */
    t0 = qhil_now();
    check_rc(f, qhil_qmp_connect(address, t0, &f->qmp, &f->err),
             QHIL_ETIMEDOUT);
    assert_true(qhil_now() - t0 < 100 * QHIL_MSEC);
    assert_null(f->qmp);
}

static void test_connect_deadline(void **state)
{
    fixture *f = *state;
    const char *tmp = getenv("TMPDIR");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char dir[256];
    char path[300];
    char addr[400];
    int fill[8];
    int n_fill = 0;
    bool waiting = false;
    int lu;
    int lt;
    int port = 0;
    int i;

    snprintf(dir, sizeof(dir), "%s/qhil-qmp.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/full.sock", dir);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    lu = unix_listener(path, 0);
    /* Fill the backlog: non-blocking connects until one would wait. */
    for (i = 0; i < 8; i++) {
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        assert_true(c >= 0);
        if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            assert_int_equal(errno, EAGAIN);
            close(c);
            break;
        }
        fill[n_fill++] = c;
    }
    assert_true(n_fill < 8);
    snprintf(addr, sizeof(addr), "unix:%s", path);
    connect_deadline(f, addr);

    /* TCP: with the accept queue full the kernel drops our SYN. */
    lt = tcp_listener("127.0.0.1", 0, &port);
    assert_true(lt >= 0);
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (!waiting && n_fill < 8) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct pollfd pfd = {.fd = c, .events = POLLOUT};

        assert_true(c >= 0);
        assert_true(connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
                    errno == EINPROGRESS);
        fill[n_fill++] = c;
        /* One that does not complete: the queue is full. */
        waiting = poll(&pfd, 1, 100) == 0;
    }
    assert_true(waiting);
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", port);
    connect_deadline(f, addr);

    for (i = 0; i < n_fill; i++) {
        close(fill[i]);
    }
    close(lu);
    close(lt);
    unlink(path);
    rmdir(dir);
}

/* ---- waits with a past deadline, and the cancel fd ---------------------- */

/* Block until fd has something to read (the peer wrote). */
static void wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    assert_int_equal(poll(&pfd, 1, (int)(LONG_WAIT / QHIL_MSEC)), 1);
}

static void test_ready_past_deadline(void **state)
{
    fixture *f = *state;
    json_t *ret = NULL;
    uint64_t id = 0;

    start(f, SCENARIO("ready.scn"));
    /* The greeting is in the socket: it is read, and the handshake then
     * times out on the (late) capabilities reply, not on the greeting. */
    wait_readable(qhil_qmp_fd(f->qmp));
    check_rc(f, qhil_qmp_handshake(f->qmp, qhil_now(), &f->err),
             QHIL_ETIMEDOUT);
    check_msg(f, "qmp_capabilities");
    assert_non_null(qhil_qmp_greeting(f->qmp));
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);

    /* A send with a past deadline still writes, and the reply already
     * in the socket is returned, not a timeout. */
    check_rc(
        f,
        qhil_qmp_send(f->qmp, "query-status", NULL, &id, qhil_now(), &f->err),
        QHIL_EOK);
    wait_readable(qhil_qmp_fd(f->qmp));
    check_rc(f, qhil_qmp_wait_reply(f->qmp, id, &ret, qhil_now(), &f->err),
             QHIL_EOK);
    check_json(ret, "{\"status\": \"running\", \"running\": true}");
    json_decref(ret);

    /* Likewise an event that came after the reply. */
    wait_readable(qhil_qmp_fd(f->qmp));
    check_rc(f, qhil_qmp_wait_event(f->qmp, "STOP", NULL, qhil_now(), &f->err),
             QHIL_EOK);
    no_event(f);
    finish(f);
}

/* A child that writes one byte to fd after ms; returns its pid. */
static pid_t write_later(int fd, int ms)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        usleep((useconds_t)ms * 1000);
        _exit(write(fd, "x", 1) == 1 ? 0 : 1);
    }
    return pid;
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    json_t *ret = NULL;
    int p[2] = {-1, -1};
    int q[2] = {-1, -1};
    int64_t t0;
    int64_t took;
    char c = 0;
    pid_t pid;
    int status = 0;

    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(q), 0);
    start_ready(f, SCENARIO("cancel.scn"));

    /* Readable before the call: the wait ends at once. */
    assert_int_equal(write(p[1], "x", 1), 1);
    qhil_qmp_set_cancel_fd(f->qmp, p[0]);
    t0 = qhil_now();
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, &ret,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECANCELED);
    assert_null(ret);
    assert_string_equal(f->err.message, "interrupted while waiting for the "
                                        "reply to QMP command "
                                        "'query-status'");
    check_rc(f,
             qhil_qmp_wait_event(f->qmp, NULL, NULL,
                                 qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECANCELED);
    check_msg(f, "interrupted while waiting for QMP event");
    took = qhil_now() - t0;
    if (took > 500 * QHIL_MSEC) {
        fail_msg("two cancelled waits took %lld ms",
                 (long long)(took / QHIL_MSEC));
    }
    /* The client never reads the fd: the byte is still there. */
    wait_readable(p[0]);

    /* Not sticky: the late reply is dropped, the next command works. */
    qhil_qmp_set_cancel_fd(f->qmp, -1);
    check_rc(f, qhil_qmp_status(f->qmp, &f->err), QHIL_EOK);
    execute_ok(f, "query-name", NULL, "{\"name\": \"second\"}");

    /* Readable in the middle of a wait: it ends then. */
    qhil_qmp_set_cancel_fd(f->qmp, q[0]);
    pid = write_later(q[1], 200);
    t0 = qhil_now();
    check_rc(f,
             qhil_qmp_execute(f->qmp, "stop", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_ECANCELED);
    took = qhil_now() - t0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (took < 150 * QHIL_MSEC || took > 1500 * QHIL_MSEC) {
        fail_msg("a wait cancelled after 200 ms took %lld ms",
                 (long long)(took / QHIL_MSEC));
    }
    assert_int_equal(read(q[0], &c, 1), 1);
    finish(f);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

/* ---- the trace ------------------------------------------------------- */

/* Every message the trace is shown, as [DIR, MESSAGE] pairs. */
static void on_trace(void *data, qhil_qmp_dir dir, const json_t *msg)
{
    json_array_append_new(
        data, json_pack("[s, O]", dir == QHIL_QMP_OUT ? "out" : "in", msg));
}

#define TRACE_TICK(n)                                                          \
    "[\"in\", {\"event\": \"TICK\", \"data\": {\"n\": " #n "}, "               \
    "\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": " #n "}}]"

/* Set before the handshake: the greeting, commands as sent with their
 * id (the arguments as they were then), replies, every event, also the
 * three the bounded queue dropped, and a reply nobody waits for. */
static void test_trace(void **state)
{
    fixture *f = *state;
    json_t *trace = json_array();
    json_t *args = json_pack("{s:i}", "a", 1);
    json_t *ret = NULL;
    uint64_t id = 0;

    start(f, SCENARIO("trace.scn"));
    qhil_qmp_set_trace(f->qmp, on_trace, trace);
    qhil_qmp_set_limits(f->qmp, 0, 2);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qmp_send(f->qmp, "x-probe", args, &id,
                           qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    /* Changed once sent: the trace shows what went. */
    json_object_set_new(args, "a", json_integer(2));
    check_rc(f,
             qhil_qmp_wait_reply(f->qmp, id, &ret, qhil_deadline_in(LONG_WAIT),
                                 &f->err),
             QHIL_EOK);
    check_json(ret, "{\"ok\": true}");
    assert_int_equal(qhil_qmp_dropped_events(f->qmp), 3);
    check_json(
        trace,
        "["
        "[\"in\", {\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, "
        "\"minor\": 2, \"major\": 8}, \"package\": \"Debian 1:8.2.0\"}, "
        "\"capabilities\": [\"oob\"]}}],"
        "[\"out\", {\"execute\": \"qmp_capabilities\", \"arguments\": "
        "{\"enable\": [\"oob\"]}, \"id\": 1}],"
        "[\"in\", {\"return\": {}, \"id\": 1}],"
        "[\"out\", {\"execute\": \"x-probe\", \"arguments\": "
        "{\"a\": 1}, \"id\": 2}]," TRACE_TICK(1) "," TRACE_TICK(
            2) "," TRACE_TICK(3) "," TRACE_TICK(4) "," TRACE_TICK(5) ","
                                                                     "[\"in\", "
                                                                     "{\"return"
                                                                     "\": {}, "
                                                                     "\"id\": "
                                                                     "999}],"
                                                                     "[\"in\", "
                                                                     "{\"return"
                                                                     "\": "
                                                                     "{\"ok\": "
                                                                     "true}, "
                                                                     "\"id\": "
                                                                     "2}]]");
    json_decref(ret);
    json_decref(args);
    finish(f);
    json_decref(trace);
}

/* Bytes that do not parse are never shown, nor what follows them; a
 * trace set after the handshake does not see the greeting. */
static void trace_refuses(fixture *f, const char *scenario)
{
    json_t *trace = json_array();

    start_ready(f, scenario);
    qhil_qmp_set_trace(f->qmp, on_trace, trace);
    check_rc(f,
             qhil_qmp_execute(f->qmp, "query-status", NULL, NULL,
                              qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EPROTO);
    check_json(trace, "[[\"out\", {\"execute\": \"query-status\", "
                      "\"id\": 2}]]");
    finish(f);
    json_decref(trace);
}

static void test_trace_garbage(void **state)
{
    trace_refuses(*state, SCENARIO("garbage.scn"));
}

static void test_trace_malformed(void **state)
{
    trace_refuses(*state, SCENARIO("malformed.scn"));
}

/* An event callback that consumes every event: the trace saw them all
 * the same, each before the callback. */
static int consume_after_trace(void *data, const json_t *event)
{
    json_t *trace = data;

    assert_true(json_equal(
        json_array_get(json_array_get(trace, json_array_size(trace) - 1), 1),
        event));
    return 1;
}

static void test_trace_consumed_events(void **state)
{
    fixture *f = *state;
    json_t *trace = json_array();

    start(f, SCENARIO("trace.scn"));
    qhil_qmp_set_trace(f->qmp, on_trace, trace);
    qhil_qmp_set_event_callback(f->qmp, consume_after_trace, trace);
    check_rc(f,
             qhil_qmp_handshake(f->qmp, qhil_deadline_in(LONG_WAIT), &f->err),
             QHIL_EOK);
    execute_ok(f, "x-probe", "{\"a\": 1}", "{\"ok\": true}");
    assert_int_equal(json_array_size(trace), 11);
    check_json(json_array_get(trace, 4), TRACE_TICK(1));
    check_json(json_array_get(trace, 8), TRACE_TICK(5));
    assert_int_equal(qhil_qmp_dropped_events(f->qmp), 0);
    finish(f);
    json_decref(trace);
}

/* Commands are shown once they leave, not when queued: with a peer that
 * sleeps and a small socket buffer, most of 24 commands wait in the
 * queue; in the end each is shown once, in order, before its reply. */
static void test_trace_when_written(void **state)
{
    fixture *f = *state;
    json_t *trace = json_array();
    uint64_t ids[RB_COUNT];
    json_t *rets[RB_COUNT] = {NULL};
    size_t outs = 0;
    size_t i;

    start_small_sndbuf(f, SCENARIO("submit.scn"));
    qhil_qmp_set_trace(f->qmp, on_trace, trace);
    for (i = 0; i < RB_COUNT; i++) {
        json_t *args = ringbuf_args((int)i + 1);

        check_rc(f,
                 qhil_qmp_submit(f->qmp, "ringbuf-write", args, -1, 0, &ids[i],
                                 &f->err),
                 QHIL_EOK);
        json_decref(args);
    }
    assert_true(qhil_qmp_poll_events(f->qmp) & POLLOUT);
    assert_true(json_array_size(trace) < RB_COUNT);
    poll_loop_take(f, ids, rets, RB_COUNT);
    for (i = 0; i < json_array_size(trace); i++) {
        json_t *entry = json_array_get(trace, i);
        json_t *msg = json_array_get(entry, 1);
        json_t *id = json_object_get(msg, "id");

        if (strcmp(json_string_value(json_array_get(entry, 0)), "out") != 0) {
            /* A reply comes after its command. */
            assert_true(!id ||
                        (uint64_t)json_integer_value(id) < ids[0] + outs);
            continue;
        }
        assert_true(outs < RB_COUNT);
        assert_int_equal(json_integer_value(id), ids[outs]);
        assert_string_equal(json_string_value(json_object_get(msg, "execute")),
                            "ringbuf-write");
        outs++;
    }
    assert_int_equal(outs, RB_COUNT);
    for (i = 0; i < RB_COUNT; i++) {
        json_decref(rets[i]);
    }
    finish(f);
    json_decref(trace);
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
        T(test_submit_slow_peer),
        T(test_queue_limits),
        T(test_oob),
        T(test_no_oob),
        T(test_event_callback),
        T(test_wait_event_match),
        T(test_event_time),
        T(test_schema),
        T(test_hmp),
        T(test_pass_fd),
        T(test_pass_fd_not_unix),
        T(test_connect),
        T(test_connect_deadline),
        T(test_ready_past_deadline),
        T(test_cancel),
        T(test_trace),
        T(test_trace_garbage),
        T(test_trace_malformed),
        T(test_trace_consumed_events),
        T(test_trace_when_written),
#undef T
    };

    return cmocka_run_group_tests_name("qmp protocol", tests, NULL, NULL);
}
