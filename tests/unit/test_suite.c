/*
 * test_suite.c - suite parsing: the happy path with every step kind,
 * every default, image path resolution, and one test per refusal, each
 * checking that the message names the file, the line and the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

#include <qhil/clock.h>
#include <qhil/qmp.h>
#include <qhil/suite.h>

#define DATA QHIL_TEST_SRCDIR "/data"
#define INLINE DATA "/suites/inline.yaml"

/* Parse text as if it were DATA/suites/inline.yaml; must succeed. */
static qhil_suite *load_ok(const char *text)
{
    qhil_suite *s = NULL;
    qhil_error err;
    int rc;

    qhil_error_init(&err);
    rc = qhil_suite_load_buffer(INLINE, text, strlen(text), &s, &err);
    if (rc != 0) {
        fail_msg("unexpected error: %s", qhil_error_message(&err, rc));
    }
    qhil_error_release(&err);
    return s;
}

/*
 * Parse text, which must fail with code; the message must contain
 * "inline.yaml:LINE:" (when line > 0) and every needle.
 */
static void load_bad(const char *text, int code, int line, ...)
{
    qhil_suite *s = (qhil_suite *)1;
    qhil_error err;
    const char *needle;
    char where[64];
    va_list ap;
    int rc;

    qhil_error_init(&err);
    rc = qhil_suite_load_buffer(INLINE, text, strlen(text), &s, &err);
    assert_int_equal(rc, code);
    assert_null(s);
    assert_int_equal(err.code, code);
    assert_non_null(err.message);
    if (line > 0) {
        snprintf(where, sizeof(where), "inline.yaml:%d:", line);
        assert_contains(err.message, where);
        assert_int_equal(err.line, line);
        assert_string_equal(err.file, INLINE);
    }
    va_start(ap, line);
    while ((needle = va_arg(ap, const char *)) != NULL) {
        assert_contains(err.message, needle);
    }
    va_end(ap);
    qhil_error_release(&err);
}

#define HEAD "device_type: mps2-an385\n"

static void test_basic_file(void **state)
{
    qhil_suite *s = NULL;
    qhil_error err;
    const qhil_test *t;
    const qhil_step *st;
    int rc;

    (void)state;
    qhil_error_init(&err);
    rc = qhil_suite_load(DATA "/suites/basic.yaml", &s, &err);
    if (rc != 0) {
        fail_msg("%s", qhil_error_message(&err, rc));
    }
    assert_string_equal(s->path, DATA "/suites/basic.yaml");
    assert_string_equal(s->name, "basic");
    assert_string_equal(s->device_type, "mps2-an385");
    assert_int_equal(s->device_type_line, 3);
    assert_int_equal(s->timeout_ns, 10 * QHIL_SEC);

    assert_int_equal(s->n_images, 1);
    assert_string_equal(s->images[0].name, "kernel");
    assert_int_equal(s->images[0].line, 5);
    assert_true(s->images[0].path[0] == '/');
    assert_contains(s->images[0].path, "/data/suites/../fw/hello.elf");
    assert_true(access(s->images[0].path, R_OK) == 0);

    assert_int_equal(s->n_context, 0);
    assert_int_equal(s->n_extra_options, 2);
    assert_string_equal(s->extra_options[0], "-icount");
    assert_string_equal(s->extra_options[1], "shift=0");
    assert_int_equal(s->extra_options_line, 8);

    assert_int_equal(s->n_tests, 2);
    t = &s->tests[0];
    assert_string_equal(t->name, "boots");
    assert_int_equal(t->line, 10);
    assert_int_equal(t->timeout_ns, 30 * QHIL_SEC);
    assert_int_equal(t->n_fail_on, 3);
    assert_string_equal(t->fail_on[0], "HardFault");
    assert_string_equal(t->fail_on[1], "Kernel panic");
    assert_string_equal(t->fail_on[2], "ASSERT.*failed");
    assert_int_equal(t->n_steps, 9);

    st = &t->steps[0];
    assert_int_equal(st->kind, QHIL_STEP_EXPECT);
    assert_string_equal(st->keyword, "expect");
    assert_string_equal(st->pattern, "Hello, QEMU!");
    assert_int_equal(st->timeout_ns, 10 * QHIL_SEC);
    assert_int_equal(st->line, 14);

    st = &t->steps[1];
    assert_int_equal(st->kind, QHIL_STEP_EXPECT);
    assert_string_equal(st->pattern, "count=\\d+");
    assert_int_equal(st->timeout_ns, 2 * QHIL_SEC);

    st = &t->steps[2];
    assert_int_equal(st->kind, QHIL_STEP_SEND);
    assert_string_equal(st->keyword, "send");
    assert_int_equal(st->text_len, 4);
    assert_memory_equal(st->text, "a\0b\n", 4);

    st = &t->steps[3];
    assert_int_equal(st->kind, QHIL_STEP_SEND);
    assert_string_equal(st->keyword, "sendline");
    assert_string_equal(st->text, "echo hi\n");
    assert_int_equal(st->text_len, 8);

    st = &t->steps[4];
    assert_int_equal(st->kind, QHIL_STEP_QMP);
    assert_string_equal(st->keyword, "qmp");
    assert_string_equal(st->command, "system_reset");
    assert_null(st->arguments);
    assert_null(st->expect);
    assert_null(st->expect_error);

    st = &t->steps[5];
    assert_string_equal(st->command, "query-status");
    assert_true(json_is_object(st->arguments));
    assert_int_equal(json_object_size(st->arguments), 0);
    assert_string_equal(
        json_string_value(json_object_get(st->expect, "status")), "running");

    st = &t->steps[6];
    assert_string_equal(st->command, "bogus");
    assert_string_equal(st->expect_error, "CommandNotFound");
    assert_null(st->expect);
    assert_int_equal(st->timeout_ns, 500 * QHIL_MSEC);

    st = &t->steps[7];
    assert_int_equal(st->kind, QHIL_STEP_QMP);
    assert_string_equal(st->keyword, "reset");
    assert_string_equal(st->command, "system_reset");
    assert_null(st->arguments);
    assert_int_equal(st->line, 21);

    st = &t->steps[8];
    assert_int_equal(st->kind, QHIL_STEP_WAIT);
    assert_string_equal(st->keyword, "wait");
    assert_int_equal(st->duration_ns, 200 * QHIL_MSEC);

    t = &s->tests[1];
    assert_string_equal(t->name, "second");
    assert_int_equal(t->timeout_ns, 0);
    assert_int_equal(t->n_fail_on, 2);

    qhil_suite_free(s);
    qhil_error_release(&err);
}

static void test_json_arguments(void **state)
{
    qhil_suite *s = NULL;
    qhil_error err;
    json_t *args;
    json_t *list;
    json_t *want;
    json_error_t jerr;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_suite_load(DATA "/suites/basic.yaml", &s, &err), 0);
    args = s->tests[1].steps[0].arguments;
    assert_string_equal(
        json_string_value(json_object_get(args, "command-line")),
        "info mtree");
    assert_true(json_is_true(json_object_get(args, "flag")));
    assert_true(json_is_false(json_object_get(args, "off")));
    assert_true(json_is_null(json_object_get(args, "none")));
    assert_int_equal(json_integer_value(json_object_get(args, "count")), 42);
    assert_int_equal(json_integer_value(json_object_get(args, "neg")), -7);
    assert_int_equal(json_integer_value(json_object_get(args, "hex")),
                     0x20000000);
    assert_int_equal(json_integer_value(json_object_get(args, "oct")), 15);
    assert_true(json_is_real(json_object_get(args, "ratio")));
    assert_true(json_real_value(json_object_get(args, "ratio")) == 1.5);
    assert_true(json_real_value(json_object_get(args, "exp")) == 2000.0);
    assert_string_equal(json_string_value(json_object_get(args, "quoted")),
                        "42");
    assert_string_equal(json_string_value(json_object_get(args, "single")),
                        "true");
    list = json_object_get(args, "list");
    want = json_loads("[1, \"two\", {\"three\": 3}]", 0, &jerr);
    assert_non_null(want);
    assert_true(json_equal(want, list));
    json_decref(want);
    qhil_suite_free(s);
    qhil_error_release(&err);
}

static void test_defaults(void **state)
{
    qhil_suite *s;

    (void)state;
    s = load_ok(HEAD "tests:\n"
                     "  - name: a\n"
                     "    steps: [reset, {expect: x}, {send: y}]\n");
    assert_string_equal(s->name, "inline");
    assert_int_equal(s->timeout_ns, 10 * QHIL_SEC);
    assert_int_equal(s->n_images, 0);
    assert_int_equal(s->n_context, 0);
    assert_int_equal(s->n_extra_options, 0);
    assert_int_equal(s->tests[0].timeout_ns, 0);
    assert_int_equal(s->tests[0].n_fail_on, 0);
    assert_int_equal(s->tests[0].steps[1].timeout_ns, 10 * QHIL_SEC);
    qhil_suite_free(s);

    s = load_ok("name: my suite\n" HEAD "timeout: 1.5s\n"
                "context: {cpu: rv64, extra_options: \"-icount  shift=0\"}\n"
                "tests:\n"
                "  - name: a\n"
                "    steps:\n"
                "      - expect: x\n"
                "      - qmp: {execute: stop, timeout: 3s}\n"
                "      - sendline: \"\"\n");
    assert_string_equal(s->name, "my suite");
    assert_int_equal(s->timeout_ns, 1500 * QHIL_MSEC);
    assert_int_equal(s->tests[0].steps[0].timeout_ns, 1500 * QHIL_MSEC);
    assert_int_equal(s->tests[0].steps[1].timeout_ns, 3 * QHIL_SEC);
    assert_string_equal(s->tests[0].steps[2].text, "\n");
    assert_int_equal(s->n_context, 1);
    assert_string_equal(s->context[0].name, "cpu");
    assert_string_equal(s->context[0].value, "rv64");
    assert_int_equal(s->context[0].line, 4);
    assert_int_equal(s->n_extra_options, 2);
    assert_string_equal(s->extra_options[0], "-icount");
    assert_string_equal(s->extra_options[1], "shift=0");
    qhil_suite_free(s);
}

static void test_default_name_yml(void **state)
{
    qhil_suite *s = NULL;
    const char *text = HEAD "tests: [{name: a, steps: [reset]}]\n";

    (void)state;
    assert_int_equal(qhil_suite_load_buffer("dir/other.yml", text,
                                            strlen(text), &s, NULL),
                     0);
    assert_string_equal(s->name, "other");
    qhil_suite_free(s);
    assert_int_equal(
        qhil_suite_load_buffer("plain", text, strlen(text), &s, NULL), 0);
    assert_string_equal(s->name, "plain");
    qhil_suite_free(s);
}

/* retry: the suite's is every test's, a test's own wins; 0 to 100. */
static void test_retry_key(void **state)
{
    qhil_suite *s;

    (void)state;
    s = load_ok(HEAD "retry: 2\n"
                     "tests:\n"
                     "  - {name: a, steps: [{expect: x}]}\n"
                     "  - {name: b, retry: 0, steps: [{expect: x}]}\n"
                     "  - {name: c, retry: 100, steps: [{expect: x}]}\n");
    assert_int_equal(s->tests[0].retry, 2);
    assert_int_equal(s->tests[1].retry, 0);
    assert_int_equal(s->tests[2].retry, 100);
    qhil_suite_free(s);
    s = load_ok(HEAD "tests: [{name: a, steps: [{expect: x}]}]\n");
    assert_int_equal(s->tests[0].retry, 0);
    qhil_suite_free(s);
    load_bad(HEAD "retry: 101\ntests: []\n", QHIL_EINVAL, 2,
             "inline.yaml:2:8: retry: expected a number of retries, 0 to "
             "100, got '101'",
             NULL);
    load_bad(HEAD "retry: -1\ntests: []\n", QHIL_EINVAL, 2, "got '-1'", NULL);
    load_bad(HEAD "retry: 99999999999999999999\ntests: []\n", QHIL_EINVAL, 2,
             "0 to 100", NULL);
    load_bad(HEAD "retry: 1.5\ntests: []\n", QHIL_EINVAL, 2, "got '1.5'", NULL);
    load_bad(HEAD "retry: [1]\ntests: []\n", QHIL_EINVAL, 2,
             "expected a number of retries", NULL);
    load_bad(HEAD "tests:\n  - {name: a, retry: two, steps: []}\n", QHIL_EINVAL,
             3, "tests[0].retry: expected a number of retries", NULL);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    load_bad(HEAD "tests: []\nbogus: 1\n", QHIL_EINVAL, 3,
             "inline.yaml:3:1: unknown key 'bogus' (known: name, "
             "device_type, images, timeout, fail_on, context, qtest, accel, "
             "trace, limits, tags, retry, tests)",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    stpes: []\n",
             QHIL_EINVAL, 4,
             "inline.yaml:4:5: tests[0]: unknown key 'stpes' (known: name, "
             "timeout, fail_on, trace, limits, tags, retry, steps)",
             NULL);
    /* Any variable name loads (the job layer knows the board's); a name
     * that cannot be a variable does not. */
    load_bad(HEAD "context: {cpu: a, Memory: 1G}\ntests: []\n", QHIL_EINVAL,
             2, "context: 'Memory' is not a context name (at most 64 lower "
                "case letters, digits and '_')",
             NULL);
    load_bad(HEAD "context: {cpu: a, cpu: b}\ntests: []\n", QHIL_EINVAL, 2,
             "duplicate key 'cpu'", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: {pattern: x, timeot: 1s}\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].expect: unknown key 'timeot' (known: "
             "pattern, timeout)",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {execute: x, args: {}}\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].qmp: unknown key 'args' (known: execute, "
             "arguments, expect, expect_error, timeout)",
             NULL);
    load_bad(HEAD HEAD "tests: []\n", QHIL_EINVAL, 2,
             "duplicate key 'device_type' (first at line 1)", NULL);
}

static void test_bad_steps(void **state)
{
    (void)state;
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: ok\n"
                  "      - expekt: x\n",
             QHIL_EINVAL, 6,
             "inline.yaml:6:9: tests[0].steps[1]: unknown step 'expekt' "
             "(known: expect, send, sendline, qmp, reset, wait, read, write, "
             "clock_step, irq_intercept, expect_irq)",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - rest\n",
             QHIL_EINVAL, 5, "tests[0].steps[0]: unknown step 'rest'", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0]: step 'expect' needs a value", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: x\n"
                  "        timeout: 2s\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0]: a step has exactly one key, found 2 "
             "(expect, timeout)",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - [expect, x]\n",
             QHIL_EINVAL, 5, "tests[0].steps[0]: expected a step", "a list",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - reset: now\n",
             QHIL_EINVAL, 5, "tests[0].steps[0].reset: reset takes no value",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - send: \"\"\n",
             QHIL_EINVAL, 5, "tests[0].steps[0].send: nothing to send",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - send:\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].send: expected text to send, got nothing",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: {timeout: 2s}\n",
             QHIL_EINVAL, 5, "tests[0].steps[0].expect: missing 'pattern'",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: \"\"\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].expect: expected a pattern, got an empty "
             "string",
             NULL);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: ok\n"
                  "      - expect: \"(\"\n",
             QHIL_EINVAL, 6,
             "inline.yaml:6:17: tests[0].steps[1].expect: invalid pattern "
             "\"(\": missing closing parenthesis at offset 1",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: {pattern: \"a[\", timeout: 1s}\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].expect.pattern: invalid pattern \"a[\": "
             "missing terminating ] for character class",
             NULL);
    load_bad(HEAD "fail_on: [ok, \"x(\"]\ntests: []\n", QHIL_EINVAL, 2,
             "inline.yaml:2:15: fail_on[1]: invalid pattern \"x(\"", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    fail_on: \"*oops\"\n"
                  "    steps: [reset]\n",
             QHIL_EINVAL, 4,
             "tests[0].fail_on: invalid pattern \"*oops\": quantifier does "
             "not follow a repeatable item at offset 0",
             NULL);
}

static void test_bad_durations(void **state)
{
    (void)state;
    load_bad(HEAD "timeout: 10 parsecs\ntests: []\n", QHIL_EINVAL, 2,
             "inline.yaml:2:10: timeout: invalid duration '10 parsecs'",
             NULL);
    load_bad(HEAD "timeout: 0s\ntests: []\n", QHIL_EINVAL, 2,
             "timeout: a timeout must be longer than 0", NULL);
    load_bad(HEAD "timeout: [1]\ntests: []\n", QHIL_EINVAL, 2,
             "timeout: expected a duration such as 10s or 500ms, got a list",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    timeout: -3s\n"
                  "    steps: [reset]\n",
             QHIL_EINVAL, 4, "tests[0].timeout: invalid duration '-3s'",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - wait: soon\n",
             QHIL_EINVAL, 5, "tests[0].steps[0].wait: invalid duration",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - expect: {pattern: x, timeout: 2 days}\n",
             QHIL_EINVAL, 5, "tests[0].steps[0].expect.timeout:",
             "unknown unit", NULL);
}

/* limits: sizes in binary units, suite-wide with a per-test override;
 * anything else is refused where it stands. */
static void test_limits(void **state)
{
    qhil_suite *s;

    (void)state;
    s = load_ok(HEAD "limits: {console: 512KiB, qemu_log: 1GiB}\n"
                     "tests:\n"
                     "  - name: a\n"
                     "    steps: [reset]\n"
                     "  - name: b\n"
                     "    limits: {console: 65536}\n"
                     "    steps: [reset]\n");
    assert_int_equal(s->tests[0].console_limit, 512u << 10);
    assert_int_equal(s->tests[0].qemu_log_limit, (uint64_t)1 << 30);
    assert_int_equal(s->tests[1].console_limit, 65536);
    assert_int_equal(s->tests[1].qemu_log_limit, (uint64_t)1 << 30);
    qhil_suite_free(s);
    s = load_ok(HEAD "tests:\n  - name: a\n    steps: [reset]\n");
    assert_int_equal(s->tests[0].console_limit, 0); /* the default */
    assert_int_equal(s->tests[0].qemu_log_limit, 0);
    qhil_suite_free(s);

    load_bad(HEAD "limits: {console: 1MB}\ntests: []\n", QHIL_EINVAL, 2,
             "inline.yaml:2:19: limits.console: expected a size from 4KiB "
             "to 64GiB", "got '1MB'", NULL);
    load_bad(HEAD "limits: {console: 1KiB}\ntests: []\n", QHIL_EINVAL, 2,
             "limits.console:", "got '1KiB'", NULL);
    load_bad(HEAD "limits: {qemu_log: 65GiB}\ntests: []\n", QHIL_EINVAL, 2,
             "limits.qemu_log:", "got '65GiB'", NULL);
    load_bad(HEAD "limits: {qemu_log: 18446744073709551617}\ntests: []\n",
             QHIL_EINVAL, 2, "limits.qemu_log:", NULL);
    load_bad(HEAD "limits: {console: -4KiB}\ntests: []\n", QHIL_EINVAL, 2,
             "limits.console:", NULL);
    load_bad(HEAD "limits: {console: [1]}\ntests: []\n", QHIL_EINVAL, 2,
             "limits.console: expected a size", "got a list", NULL);
    load_bad(HEAD "limits: {serial: 1MiB}\ntests: []\n", QHIL_EINVAL, 2,
             "serial", NULL);
    load_bad(HEAD "limits: 1MiB\ntests: []\n", QHIL_EINVAL, 2, "limits:",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    limits: {console: 4 KiB}\n"
                  "    steps: [reset]\n",
             QHIL_EINVAL, 4, "tests[0].limits.console:", NULL);
}

/* Tags: the suite's inherited, the test's added, each once; words only,
 * errors at file:line with the field. */
static void test_tags(void **state)
{
    qhil_suite *s;

    (void)state;
    s = load_ok(HEAD "tags: [smoke, hw.v2]\n"
                     "tests:\n"
                     "  - name: a\n"
                     "    steps: [reset]\n"
                     "  - name: b\n"
                     "    tags: [slow, smoke, net_2-x]\n"
                     "    steps: [reset]\n"
                     "  - name: c\n"
                     "    tags: boot\n"
                     "    steps: [reset]\n");
    assert_int_equal(s->tests[0].n_tags, 2);
    assert_string_equal(s->tests[0].tags[0], "smoke");
    assert_string_equal(s->tests[0].tags[1], "hw.v2");
    assert_int_equal(s->tests[1].n_tags, 4);
    assert_string_equal(s->tests[1].tags[2], "slow");
    assert_string_equal(s->tests[1].tags[3], "net_2-x");
    assert_true(qhil_test_has_tag(&s->tests[1], "smoke"));
    assert_true(qhil_test_has_tag(&s->tests[1], "net_2-x"));
    assert_false(qhil_test_has_tag(&s->tests[0], "slow"));
    assert_false(qhil_test_has_tag(&s->tests[0], "smok"));
    assert_false(qhil_test_has_tag(&s->tests[0], "SMOKE"));
    assert_int_equal(s->tests[2].n_tags, 3);
    assert_string_equal(s->tests[2].tags[2], "boot");
    qhil_suite_free(s);
    /* No tags at all: an empty list. */
    s = load_ok(HEAD "tests:\n  - name: a\n    steps: [reset]\n");
    assert_int_equal(s->tests[0].n_tags, 0);
    assert_false(qhil_test_has_tag(&s->tests[0], "a"));
    qhil_suite_free(s);

    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    tags: [ok, \"two words\"]\n"
                  "    steps: [reset]\n",
             QHIL_EINVAL, 4, "tests[0].tags[1]", "'two words' is not a tag",
             NULL);
    load_bad(HEAD "tags: [\"\"]\ntests: []\n", QHIL_EINVAL, 2, "tags[0]",
             "empty", NULL);
    load_bad(HEAD "tags: [a/b]\ntests: []\n", QHIL_EINVAL, 2, "tags[0]",
             "'a/b' is not a tag", NULL);
    load_bad(HEAD "tags: [\"a\\nb\"]\ntests: []\n", QHIL_EINVAL, 2,
             "tags[0]", "not a tag", NULL);
    load_bad(HEAD "tags: [[a]]\ntests: []\n", QHIL_EINVAL, 2, "tags[0]",
             "expected a tag", NULL);
    load_bad(HEAD "tags: {a: 1}\ntests: []\n", QHIL_EINVAL, 2, "tags",
             NULL);
    load_bad(HEAD "tags: [\"\xc3\xa9t\xc3\xa9\"]\ntests: []\n",
             QHIL_EINVAL, 2, "tags[0]", "not a tag", NULL);
    load_bad(HEAD "tags: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaaa]\ntests: []\n",
             QHIL_EINVAL, 2, "tags[0]", "at most 64", NULL);

    assert_true(qhil_tag_valid("a", NULL));
    assert_false(qhil_tag_valid("", NULL));
    assert_false(qhil_tag_valid(NULL, NULL));
    assert_false(qhil_tag_valid("a b", NULL));
    assert_false(qhil_tag_valid("*", NULL));
}

static void test_bad_tests(void **state)
{
    (void)state;
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps: [reset]\n"
                  "  - name: a\n"
                  "    steps: [reset]\n",
             QHIL_EINVAL, 5,
             "inline.yaml:5:11: tests[1].name: duplicate test name 'a' "
             "(first at line 3)",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: \"\"\n"
                  "    steps: [reset]\n",
             QHIL_EINVAL, 3,
             "tests[0].name: expected a test name, got an empty string",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - steps: [reset]\n",
             QHIL_EINVAL, 3, "tests[0]: missing 'name'", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n",
             QHIL_EINVAL, 3, "tests[0]: missing 'steps'", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps: []\n",
             QHIL_EINVAL, 4, "tests[0].steps: a test needs at least one step",
             NULL);
    load_bad(HEAD "tests: []\n", QHIL_EINVAL, 2,
             "tests: the suite has no tests", NULL);
    load_bad(HEAD "tests: {a: 1}\n", QHIL_EINVAL, 2,
             "tests: expected a list of tests, got a mapping", NULL);
    load_bad(HEAD "tests:\n  - just a string\n", QHIL_EINVAL, 3,
             "tests[0]: expected a test", NULL);
    load_bad("tests: []\n", QHIL_EINVAL, 1, "missing 'device_type'", NULL);
    load_bad(HEAD, QHIL_EINVAL, 1, "missing 'tests'", NULL);
    load_bad("device_type: ../x\ntests: []\n", QHIL_EINVAL, 1,
             "device_type: '../x' is not a board name", NULL);
}

static void test_bad_qmp(void **state)
{
    (void)state;
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {arguments: {}}\n",
             QHIL_EINVAL, 5, "tests[0].steps[0].qmp: missing 'execute'",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {execute: stop, arguments: [1]}\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].qmp.arguments: expected a mapping of "
             "argument names to values, got a list",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {execute: stop, expect: {}, "
                  "expect_error: GenericError}\n",
             QHIL_EINVAL, 5, "give either 'expect' or 'expect_error'", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: \"query status\"\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].qmp: 'query status' is not a QMP command",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {execute: x, arguments: {n: "
                  "99999999999999999999}}\n",
             QHIL_EINVAL, 5,
             "tests[0].steps[0].qmp.arguments.n: integer "
             "99999999999999999999 is out of the 64-bit range",
             NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {execute: x, arguments: {a: 1, a: 2}}\n",
             QHIL_EINVAL, 5, "duplicate key 'a'", NULL);
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {execute: x, arguments: {[1]: 2}}\n",
             QHIL_EINVAL, 5, "keys must be strings", NULL);
}

/* Aliases can make cycles and exponential trees; both must be refused. */
static void test_alias_abuse(void **state)
{
    (void)state;
    /* A cycle is refused by the scan, at the alias. */
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp: {execute: x, arguments: &a {k: [*a]}}\n",
             QHIL_EINVAL, 5, "alias *a is used inside the value it names",
             NULL);
    load_bad(HEAD "l0: &l0 [x, x, x, x, x, x, x, x]\n"
                  "tests: []\n",
             QHIL_EINVAL, 2, "unknown key 'l0'", NULL);
    /* 327680 values: within the file's budget, over one QMP value's. */
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp:\n"
                  "          execute: x\n"
                  "          arguments:\n"
                  "            a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                  "            b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                  "            c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
                  "            d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
                  "            e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\n"
                  "            g: [*e, *e, *e, *e, *e, *e, *e, *e]\n",
             QHIL_EINVAL, 0, "more than 65536 values", NULL);
    /* A billion laughs is refused before the document is built, at the
     * alias that goes over the budget. */
    load_bad(HEAD "tests:\n"
                  "  - name: a\n"
                  "    steps:\n"
                  "      - qmp:\n"
                  "          execute: x\n"
                  "          arguments:\n"
                  "            a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                  "            b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                  "            c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
                  "            d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
                  "            e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\n"
                  "            f: &f [*e, *e, *e, *e, *e, *e, *e, *e]\n"
                  "            g: &g [*f, *f, *f, *f, *f, *f, *f, *f]\n"
                  "            h: [*g, *g, *g, *g, *g, *g, *g, *g]\n",
             QHIL_EINVAL, 14, "more than 1048576 YAML values once aliases "
                              "are expanded",
             NULL);
}

/* text made of head, open n times, middle, close n times and tail;
 * caller frees. */
static char *nest(const char *head, const char *open, size_t n,
                  const char *middle, const char *close, const char *tail)
{
    size_t lo = strlen(open);
    size_t lc = strlen(close);
    size_t len = strlen(head) + n * (lo + lc) + strlen(middle) +
                 strlen(tail);
    char *text = malloc(len + 1);
    char *p = text;
    size_t i;

    assert_non_null(text);
    p = stpcpy(p, head);
    for (i = 0; i < n; i++) {
        memcpy(p, open, lo);
        p += lo;
    }
    p = stpcpy(p, middle);
    for (i = 0; i < n; i++) {
        memcpy(p, close, lc);
        p += lc;
    }
    strcpy(p, tail);
    return text;
}

/* Load text, which must fail with "LINE:COL:" and needle, in well under
 * a second of CPU. */
static void deep_bad(const char *text, int line, int column,
                     const char *needle)
{
    qhil_suite *s = NULL;
    qhil_error err;
    char where[64];
    struct timespec t0;
    struct timespec t1;
    double cpu;
    int rc;

    qhil_error_init(&err);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    rc = qhil_suite_load_buffer(INLINE, text, strlen(text), &s, &err);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    cpu = (double)(t1.tv_sec - t0.tv_sec) +
          (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(rc, QHIL_EINVAL);
    assert_null(s);
    snprintf(where, sizeof(where), "inline.yaml:%d:%d: ", line, column);
    assert_contains(err.message, where);
    assert_contains(err.message, needle);
    if (cpu > 0.5) {
        fail_msg("refusing took %.2f s of CPU", cpu);
    }
    qhil_error_release(&err);
}

/* The arguments of a QMP step: the first '[' is at level 8, column 16. */
#define ARGS_HEAD                                                             \
    HEAD "tests:\n"                                                           \
         "  - name: a\n"                                                      \
         "    steps:\n"                                                       \
         "      - qmp:\n"                                                     \
         "          execute: x\n"                                             \
         "          arguments:\n"                                             \
         "            a: "

/* Deep nesting is refused at the first level past the limit, before
 * libyaml builds the document (which takes time quadratic in the depth:
 * minutes for the 2M levels that fit in the file size cap). */
static void test_deep_nesting(void **state)
{
    qhil_suite *s;
    char *text;

    (void)state;
    /* 57 levels of lists under 7 of suite: 64 in all, the limit. */
    text = nest(ARGS_HEAD, "[", 57, "1", "]", "\n");
    s = load_ok(text);
    assert_non_null(s->tests[0].steps[0].arguments);
    qhil_suite_free(s);
    free(text);
    /* One more is refused at the '[' that opens level 65. */
    text = nest(ARGS_HEAD, "[", 58, "1", "]", "\n");
    deep_bad(text, 8, 16 + 57, "YAML nested deeper than 64 levels");
    free(text);
    /* Two million levels, flow style: just under the 4 MiB cap. */
    text = nest(ARGS_HEAD, "[", 2000000, "", "]", "\n");
    deep_bad(text, 8, 16 + 57, "YAML nested deeper than 64 levels");
    free(text);
    /* Block style, compact lists: "- - - ... x". */
    text = nest(ARGS_HEAD "\n              ", "- ", 2000000, "x", "", "\n");
    deep_bad(text, 9, 15 + 2 * 57, "YAML nested deeper than 64 levels");
    free(text);
    /* Flow mappings. */
    text = nest(ARGS_HEAD, "{k: ", 1000000, "1", "}", "\n");
    deep_bad(text, 8, 16 + 4 * 57, "YAML nested deeper than 64 levels");
    free(text);
    /* Deep nesting in a second document is never built either. */
    text = nest(HEAD "tests: []\n---\n", "[", 2000000, "", "]", "\n");
    load_bad(text, QHIL_ESYNTAX, 4, "a second YAML document starts here",
             NULL);
    free(text);
    /* An alias counts as deep as the value it names. */
    text = nest(ARGS_HEAD "&deep ", "[", 50, "", "]",
                "\n            b: [[[[[[[[*deep]]]]]]]]\n");
    deep_bad(text, 9, 24, "alias *deep nests the YAML deeper than 64");
    free(text);
}

/* Aliases that repeat a list of steps in many tests: cheap to write,
 * millions of steps to parse and keep.  Refused before any is built. */
static void test_alias_step_bomb(void **state)
{
    qhil_buf text;
    size_t i;

    (void)state;
    qhil_buf_init(&text, 1 << 24);
    assert_int_equal(qhil_buf_printf(&text, "%s", HEAD "tests:\n"
                                     "  - name: t0\n"
                                     "    steps: &s [&w {wait: 1ms}"), 0);
    for (i = 1; i < 1000; i++) {
        assert_int_equal(qhil_buf_printf(&text, ", *w"), 0);
    }
    assert_int_equal(qhil_buf_printf(&text, "]\n"), 0);
    for (i = 1; i < 1100; i++) {
        assert_int_equal(qhil_buf_printf(&text, "  - {name: t%zu, steps: "
                                                "*s}\n", i), 0);
    }
    load_bad(text.data, QHIL_EINVAL, 0, "more than 1048576 YAML values",
             NULL);
    qhil_buf_release(&text);
}

static void test_bad_yaml(void **state)
{
    (void)state;
    load_bad(HEAD "tests: [\n", QHIL_ESYNTAX, 3, "YAML syntax error: ",
             NULL);
    load_bad(HEAD "tests:\n  - name: a\n bad: x\n", QHIL_ESYNTAX, 4,
             "YAML syntax error: ", NULL);
    load_bad("", QHIL_ESYNTAX, 0, "inline.yaml: empty document", NULL);
    load_bad("# only a comment\n", QHIL_ESYNTAX, 0, "empty document", NULL);
    load_bad(HEAD "tests: []\n---\nx: 1\n", QHIL_ESYNTAX, 4,
             "a second YAML document starts here", NULL);
    load_bad("- a\n- b\n", QHIL_EINVAL, 1,
             "expected a mapping with device_type and tests, got a list",
             NULL);
}

static void test_missing_file(void **state)
{
    qhil_suite *s = (qhil_suite *)1;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_suite_load(DATA "/suites/nope.yaml", &s, &err),
                     QHIL_ENOENT);
    assert_null(s);
    assert_contains(err.message, "nope.yaml: cannot open: ");
    qhil_error_release(&err);
}

static void test_context(void **state)
{
    qhil_suite *s;

    (void)state;
    s = load_ok(HEAD "context:\n"
                     "  extra_options:\n"
                     "    - -device\n"
                     "    - \"loader,file=/a b,addr=0x0\"\n"
                     "tests: [{name: a, steps: [reset]}]\n");
    assert_int_equal(s->n_extra_options, 2);
    assert_string_equal(s->extra_options[1], "loader,file=/a b,addr=0x0");
    assert_int_equal(s->extra_options_line, 4);
    qhil_suite_free(s);

    load_bad(HEAD "context: {extra_options: [\"-icount shift=0\"]}\n"
                  "tests: []\n",
             QHIL_EINVAL, 2,
             "context.extra_options[0]: '-icount shift=0' holds an option "
             "and its value",
             NULL);
    load_bad(HEAD "context: {extra_options: {a: b}}\ntests: []\n",
             QHIL_EINVAL, 2, "context.extra_options: expected a list", NULL);
    load_bad(HEAD "context: {cpu: [a]}\ntests: []\n", QHIL_EINVAL, 2,
             "context.cpu: expected a value, got a list", NULL);
    load_bad(HEAD "context: {cpu: \"-cpu max\"}\ntests: []\n", QHIL_EINVAL,
             2, "context.cpu: '-cpu max' is not a context value", NULL);
    load_bad(HEAD "context: {memory: \"64M\\n-kernel\"}\ntests: []\n",
             QHIL_EINVAL, 2, "context.memory: '64M", NULL);
}

/* ---- images ---- */

static char *make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = NULL;

    if (asprintf(&dir, "%s/qhil-suite-XXXXXX", base ? base : "/tmp") < 0) {
        fail_msg("asprintf");
    }
    if (!mkdtemp(dir)) {
        fail_msg("mkdtemp");
    }
    return dir;
}

static void touch(const char *dir, const char *name)
{
    char *path = NULL;
    FILE *fp;

    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("image\n", fp);
    fclose(fp);
    free(path);
}

static void remove_in(const char *dir, const char *name)
{
    char *path = NULL;

    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    remove(path);
    free(path);
}

/* Layout: TMP/suites/{suite.yaml,both.bin}, TMP/{both.bin,cwd.bin}; the
 * current directory is TMP while loading. */
static void test_image_resolution(void **state)
{
    char *tmp = make_temp_dir();
    char *suites = NULL;
    char *old = get_current_dir_name();
    char *expect = NULL;
    qhil_suite *s = NULL;
    qhil_error err;
    const char *text = HEAD "images:\n"
                            "  both: both.bin\n"
                            "  cwd: cwd.bin\n"
                            "tests: [{name: a, steps: [reset]}]\n";
    const char *missing = HEAD "images:\n"
                               "  kernel: fw/none.elf\n"
                               "tests: [{name: a, steps: [reset]}]\n";
    int rc;

    (void)state;
    qhil_error_init(&err);
    assert_true(asprintf(&suites, "%s/suites", tmp) > 0);
    assert_int_equal(mkdir(suites, 0755), 0);
    touch(suites, "both.bin");
    touch(tmp, "both.bin");
    touch(tmp, "cwd.bin");
    assert_int_equal(chdir(tmp), 0);

    rc = qhil_suite_load_buffer("suites/suite.yaml", text, strlen(text), &s,
                                &err);
    if (rc != 0) {
        fail_msg("%s", qhil_error_message(&err, rc));
    }
    assert_int_equal(s->n_images, 2);
    /* The suite's folder wins over the current directory... */
    assert_true(asprintf(&expect, "%s/suites/both.bin", tmp) > 0);
    assert_string_equal(s->images[0].path, expect);
    assert_int_equal(s->images[0].line, 3);
    free(expect);
    /* ...which is still tried when the folder has no such file. */
    assert_true(asprintf(&expect, "%s/cwd.bin", tmp) > 0);
    assert_string_equal(s->images[1].path, expect);
    free(expect);
    qhil_suite_free(s);
    s = NULL;

    rc = qhil_suite_load_buffer("suites/suite.yaml", missing,
                                strlen(missing), &s, &err);
    assert_int_equal(rc, QHIL_ENOENT);
    assert_null(s);
    assert_contains(err.message, "suites/suite.yaml:3:11: images.kernel: "
                                 "image file 'fw/none.elf' not found");
    assert_contains(err.message, "tried suites/fw/none.elf beside the suite");
    assert_contains(err.message, "and fw/none.elf in the current directory");
    assert_contains(err.message, tmp);

    assert_int_equal(chdir(old), 0);
    remove_in(suites, "both.bin");
    remove_in(tmp, "both.bin");
    remove_in(tmp, "cwd.bin");
    rmdir(suites);
    rmdir(tmp);
    free(suites);
    free(tmp);
    free(old);
    qhil_error_release(&err);
}

static void test_image_errors(void **state)
{
    (void)state;
    load_bad(HEAD "images:\n  kernel: /no/such/file.elf\n"
                  "tests: [{name: a, steps: [reset]}]\n",
             QHIL_ENOENT, 3,
             "images.kernel: image file /no/such/file.elf not found", NULL);
    load_bad(HEAD "images:\n  kernel: ../fw\n"
                  "tests: [{name: a, steps: [reset]}]\n",
             QHIL_EINVAL, 3, "images.kernel: image file '../fw' (found as ",
             "/data/suites/../fw) is a directory, not a regular file", NULL);
    load_bad(HEAD "images: [a]\ntests: []\n", QHIL_EINVAL, 2,
             "images: expected a mapping of image names to file paths", NULL);
    load_bad(HEAD "images:\n  kernel: ../fw/hello.elf\n"
                  "  kernel: ../fw/hello.elf\n"
                  "tests: []\n",
             QHIL_EINVAL, 4, "images: duplicate key 'kernel' (first at line "
                             "3)",
             NULL);
    load_bad(HEAD "images:\n  kernel:\n"
                  "tests: []\n",
             QHIL_EINVAL, 3,
             "images.kernel: expected the path of an image file, got nothing",
             NULL);
}

/* Load a suite whose kernel is path; it must fail with code and say
 * "inline.yaml:3:11: images.kernel: image file PATH REASON". */
static void image_bad(const char *path, int code, const char *reason)
{
    char *text = NULL;
    char *want = NULL;

    assert_true(asprintf(&text, HEAD "images:\n  kernel: %s\n"
                                     "tests: [{name: a, steps: [reset]}]\n",
                         path) > 0);
    assert_true(asprintf(&want, "inline.yaml:3:11: images.kernel: image "
                                "file %s %s",
                         path, reason) > 0);
    load_bad(text, code, 3, want, NULL);
    free(want);
    free(text);
}

/* Every kind of file that is not a usable image is refused when the suite
 * is loaded, with what it is; none of them may block the load. */
static void test_image_kinds(void **state)
{
    char *tmp = make_temp_dir();
    char *path = NULL;
    char *loop_a = NULL;
    char *loop_b = NULL;
    char *fifo = NULL;
    char *empty = NULL;
    char *dangling = NULL;
    char *link = NULL;
    int64_t start;
    FILE *fp;

    (void)state;
    assert_true(asprintf(&loop_a, "%s/loop-a", tmp) > 0);
    assert_true(asprintf(&loop_b, "%s/loop-b", tmp) > 0);
    assert_true(asprintf(&fifo, "%s/fifo", tmp) > 0);
    assert_true(asprintf(&empty, "%s/empty.elf", tmp) > 0);
    assert_true(asprintf(&dangling, "%s/dangling", tmp) > 0);
    assert_true(asprintf(&link, "%s/link", tmp) > 0);
    assert_int_equal(symlink(loop_b, loop_a), 0);
    assert_int_equal(symlink(loop_a, loop_b), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    fp = fopen(empty, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(symlink("no-such-target", dangling), 0);
    assert_int_equal(symlink(DATA "/fw/hello.elf", link), 0);

    image_bad(tmp, QHIL_EINVAL, "is a directory, not a regular file");
    image_bad(loop_a, QHIL_EINVAL, "is a symlink loop");
    start = qhil_now();
    image_bad(fifo, QHIL_EINVAL, "is a FIFO (named pipe), not a regular "
                                 "file");
    assert_true(qhil_now() - start < QHIL_SEC / 2);
    image_bad("/dev/zero", QHIL_EINVAL, "is a character device, not a "
                                        "regular file");
    image_bad("/dev/null", QHIL_EINVAL, "is a character device");
    image_bad(empty, QHIL_EINVAL, "is empty (0 bytes)");
    image_bad(dangling, QHIL_ENOENT,
              "is a symlink to 'no-such-target', which does not exist");
    assert_true(asprintf(&path, "%s/x", empty) > 0);
    image_bad(path, QHIL_ENOENT, "not found (a part of the path before the "
                                 "name is a file");
    free(path);

    /* A symlink to a good image is fine: the file at the end counts. */
    assert_true(asprintf(&path, HEAD "images:\n  kernel: %s\n"
                                     "tests: [{name: a, steps: [reset]}]\n",
                         link) > 0);
    qhil_suite_free(load_ok(path));
    free(path);

    unlink(loop_a);
    unlink(loop_b);
    unlink(fifo);
    unlink(empty);
    unlink(dangling);
    unlink(link);
    rmdir(tmp);
    free(loop_a);
    free(loop_b);
    free(fifo);
    free(empty);
    free(dangling);
    free(link);
    free(tmp);
}

/* Root reads anything, so this only runs for other users. */
static void test_image_unreadable(void **state)
{
    char *tmp;
    char *path = NULL;
    FILE *fp;

    (void)state;
    if (geteuid() == 0) {
        skip();
    }
    tmp = make_temp_dir();
    assert_true(asprintf(&path, "%s/secret.elf", tmp) > 0);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("x", fp);
    fclose(fp);
    assert_int_equal(chmod(path, 0), 0);
    image_bad(path, QHIL_EINVAL, "is not readable: Permission denied");
    unlink(path);
    rmdir(tmp);
    free(path);
    free(tmp);
}

static void test_json_subset(void **state)
{
    json_error_t jerr;
    json_t *have = json_loads("{\"status\": \"running\", \"singlestep\": "
                              "false, \"info\": {\"a\": 1, \"b\": [1, 2]}, "
                              "\"list\": [{\"d\": \"x\", \"n\": 1}, "
                              "{\"d\": \"y\", \"n\": {\"f\": \"q\"}}]}",
                              0, &jerr);
    json_t *w;

    (void)state;
    assert_non_null(have);
#define SUBSET(text, expected)                                                \
    do {                                                                      \
        w = json_loads(text, JSON_DECODE_ANY, &jerr);                         \
        assert_non_null(w);                                                   \
        assert_int_equal(qhil_json_subset(w, have), expected);                \
        json_decref(w);                                                       \
    } while (0)
    SUBSET("{}", 1);
    SUBSET("{\"status\": \"running\"}", 1);
    SUBSET("{\"status\": \"paused\"}", 0);
    SUBSET("{\"info\": {\"a\": 1}}", 1);
    SUBSET("{\"info\": {\"a\": 2}}", 0);
    SUBSET("{\"info\": {\"b\": [1]}}", 0);
    SUBSET("{\"info\": {\"b\": [1, 2]}}", 1);
    SUBSET("{\"missing\": null}", 0);
    SUBSET("{\"singlestep\": false}", 1);
    SUBSET("[1]", 0);
    SUBSET("{\"status\": {\"x\": 1}}", 0);
    /* Arrays: same length, element by element, in order. */
    SUBSET("{\"list\": [{\"d\": \"x\"}, {}]}", 1);
    SUBSET("{\"list\": [{}, {\"d\": \"y\", \"n\": {\"f\": \"q\"}}]}", 1);
    SUBSET("{\"list\": [{}, {\"n\": {\"f\": \"raw\"}}]}", 0);
    SUBSET("{\"list\": [{\"d\": \"y\"}, {\"d\": \"x\"}]}", 0);
    SUBSET("{\"list\": [{\"d\": \"x\"}]}", 0);
    SUBSET("{\"list\": [{}, {}, {}]}", 0);
    SUBSET("{\"list\": []}", 0);
    SUBSET("{\"info\": {\"b\": []}}", 0);
    SUBSET("{\"list\": {\"d\": \"x\"}}", 0);
#undef SUBSET
    assert_true(qhil_json_subset(NULL, NULL));
    assert_false(qhil_json_subset(have, NULL));
    json_decref(have);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_file),
        cmocka_unit_test(test_json_arguments),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_name_yml),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_retry_key),
        cmocka_unit_test(test_bad_steps),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_bad_durations),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_bad_tests),
        cmocka_unit_test(test_bad_qmp),
        cmocka_unit_test(test_alias_abuse),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_alias_step_bomb),
        cmocka_unit_test(test_bad_yaml),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_image_resolution),
        cmocka_unit_test(test_image_errors),
        cmocka_unit_test(test_image_kinds),
        cmocka_unit_test(test_image_unreadable),
        cmocka_unit_test(test_json_subset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
