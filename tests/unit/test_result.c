/*
 * test_result.c - a result as the fold of its events: events in, result
 * out.  Each step timed, every failure kept in order, the reason chosen
 * as the runner means it (the first failure, or a later cause), a crash
 * before test_end an error, nothing after test_end believed, and lists
 * that grow to their caps without losing count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <qhil/result.h>

static void apply(qhil_test_result *r, qhil_event ev)
{
    qhil_error err;

    qhil_error_init(&err);
    assert_int_equal(qhil_test_result_apply(r, &ev, &err), QHIL_EOK);
    qhil_error_release(&err);
}

static qhil_event text_ev(qhil_event_kind kind, const char *text)
{
    qhil_event ev = {
        .kind = kind, .text = text, .len = text ? strlen(text) : 0};

    return ev;
}

static void step_start(qhil_test_result *r, size_t step, int line,
                       const char *desc, int64_t wall)
{
    qhil_event ev = text_ev(QHIL_EVENT_STEP_START, desc);

    ev.step = step;
    ev.line = line;
    ev.wall_ns = wall;
    apply(r, ev);
}

static void step_end(qhil_test_result *r, size_t step, qhil_verdict v,
                     int64_t wall, int64_t dur)
{
    qhil_event ev = {.kind = QHIL_EVENT_STEP_END,
                     .step = step,
                     .verdict = v,
                     .wall_ns = wall,
                     .duration_ns = dur};

    apply(r, ev);
}

static void failure(qhil_test_result *r, size_t step, int line, qhil_verdict v,
                    const char *msg, int how)
{
    qhil_event ev = text_ev(QHIL_EVENT_FAILURE, msg);

    ev.step = step;
    ev.line = line;
    ev.verdict = v;
    ev.how = how;
    apply(r, ev);
}

static void test_end(qhil_test_result *r, qhil_verdict v, int64_t dur)
{
    qhil_event ev = {
        .kind = QHIL_EVENT_TEST_END, .verdict = v, .duration_ns = dur};

    apply(r, ev);
}

static void test_pass(void **state)
{
    qhil_test_result r = {0};
    qhil_event ms = text_ev(QHIL_EVENT_MACHINE_START, "7.2.17");
    qhil_event line = text_ev(QHIL_EVENT_CONSOLE_LINE, "Hello, QEMU!");

    (void)state;
    apply(&r, text_ev(QHIL_EVENT_TEST_START, "boots"));
    apply(&r, ms);
    step_start(&r, 1, 9, "expect \"Hello\"", 100);
    apply(&r, line);
    step_end(&r, 1, QHIL_PASS, 600, 500);
    step_start(&r, 2, 10, "sendline \"help\"", 700);
    step_end(&r, 2, QHIL_PASS, 800, 100);
    test_end(&r, QHIL_PASS, 1000);
    assert_int_equal(r.version, QHIL_RESULT_VERSION);
    assert_string_equal(r.name, "boots");
    assert_string_equal(r.qemu_version, "7.2.17");
    assert_int_equal(r.verdict, QHIL_PASS);
    assert_int_equal(r.duration_ns, 1000);
    assert_null(r.message);
    assert_int_equal(r.step, 0);
    assert_int_equal(r.n_failures, 0);
    assert_int_equal(r.n_steps, 2);
    assert_int_equal(r.steps[0].step, 1);
    assert_int_equal(r.steps[0].line, 9);
    assert_string_equal(r.steps[0].desc, "expect \"Hello\"");
    assert_int_equal(r.steps[0].start_ns, 100);
    assert_int_equal(r.steps[0].duration_ns, 500);
    assert_int_equal(r.steps[1].duration_ns, 100);
    assert_true(qhil_test_result_ended(&r));
    qhil_test_result_release(&r);
}

/* Two failures: both kept, the first is the reason; the step that
 * failed says so; a test_end that claims a pass does not undo it. */
static void test_all_failures(void **state)
{
    qhil_test_result r = {.name = strdup("t")};

    (void)state;
    apply(&r, text_ev(QHIL_EVENT_TEST_START, "other name"));
    step_start(&r, 1, 5, "expect \"x\"", 0);
    step_end(&r, 1, QHIL_PASS, 10, 10);
    step_start(&r, 2, 6, "expect \"never\"", 20);
    failure(&r, 2, 6, QHIL_FAIL, "pattern not seen within 1s",
            QHIL_FAILURE_PLAIN);
    step_end(&r, 2, QHIL_FAIL, 30, 10);
    failure(&r, 0, 0, QHIL_ERROR, "QEMU exited with status 3",
            QHIL_FAILURE_PLAIN);
    test_end(&r, QHIL_PASS, 50);
    assert_string_equal(r.name, "t");
    assert_int_equal(r.verdict, QHIL_FAIL);
    assert_string_equal(r.message, "pattern not seen within 1s");
    assert_int_equal(r.step, 2);
    assert_int_equal(r.step_line, 6);
    assert_string_equal(r.step_desc, "expect \"never\"");
    assert_int_equal(r.n_failures, 2);
    assert_int_equal(r.failures[0].step, 2);
    assert_int_equal(r.failures[0].verdict, QHIL_FAIL);
    assert_int_equal(r.failures[1].step, 0);
    assert_int_equal(r.failures[1].verdict, QHIL_ERROR);
    assert_string_equal(r.failures[1].message, "QEMU exited with status 3");
    assert_int_equal(r.steps[0].verdict, QHIL_PASS);
    assert_int_equal(r.steps[1].verdict, QHIL_FAIL);
    assert_false(r.interrupted);
    qhil_test_result_release(&r);
}

/* A later cause takes over (the test's deadline), an interrupt marks
 * the test; a failure after step_end still marks its step. */
static void test_cause(void **state)
{
    qhil_test_result r = {0};

    (void)state;
    step_start(&r, 1, 3, "expect \"never\"", 0);
    failure(&r, 1, 3, QHIL_FAIL, "pattern not seen within 10s", 0);
    step_end(&r, 1, QHIL_FAIL, 1500, 1500);
    failure(&r, 1, 3, QHIL_FAIL, "test timeout after 1.5s, in step 1",
            QHIL_FAILURE_CAUSE);
    assert_string_equal(r.message, "test timeout after 1.5s, in step 1");
    assert_int_equal(r.n_failures, 2);
    step_start(&r, 2, 4, "wait 5s", 1600);
    step_end(&r, 2, QHIL_PASS, 1700, 100);
    failure(&r, 2, 4, QHIL_ERROR, "interrupted by SIGINT",
            QHIL_FAILURE_INTERRUPTED);
    assert_true(r.interrupted);
    assert_int_equal(r.verdict, QHIL_ERROR);
    assert_int_equal(r.step, 2);
    assert_string_equal(r.step_desc, "wait 5s");
    assert_int_equal(r.steps[1].verdict, QHIL_ERROR);
    test_end(&r, QHIL_ERROR, 1800);
    assert_int_equal(r.n_failures, 3);
    qhil_test_result_release(&r);
}

/* The stream stops before test_end (a worker that crashed): the result
 * is an error that says why, the unfinished step has no duration, and
 * an end that comes after changes nothing. */
static void test_missing_end(void **state)
{
    qhil_test_result r = {0};

    (void)state;
    apply(&r, text_ev(QHIL_EVENT_TEST_START, "t"));
    step_start(&r, 1, 3, "wait 5s", 10);
    assert_false(qhil_test_result_ended(&r));
    assert_int_equal(r.verdict, QHIL_PASS);
    assert_int_equal(
        qhil_test_result_abort(&r,
                               "the test's worker process died: killed by "
                               "signal 9 (Killed)",
                               NULL),
        QHIL_EOK);
    assert_true(qhil_test_result_ended(&r));
    assert_int_equal(r.verdict, QHIL_ERROR);
    assert_string_equal(r.message, "the test's worker process died: killed "
                                   "by signal 9 (Killed)");
    assert_int_equal(r.n_failures, 1);
    assert_int_equal(r.steps[0].duration_ns, -1);
    /* In the step it was in. */
    assert_int_equal(r.step, 1);
    assert_int_equal(r.step_line, 3);
    assert_string_equal(r.step_desc, "wait 5s");
    test_end(&r, QHIL_PASS, 99);
    assert_int_equal(r.verdict, QHIL_ERROR);
    assert_int_equal(r.duration_ns, 0);
    qhil_test_result_release(&r);
}

/* Nothing after test_end counts: not a failure, not a step. */
static void test_after_end(void **state)
{
    qhil_test_result r = {0};

    (void)state;
    apply(&r, text_ev(QHIL_EVENT_TEST_START, "t"));
    test_end(&r, QHIL_PASS, 10);
    failure(&r, 1, 2, QHIL_FAIL, "late", 0);
    step_start(&r, 1, 2, "late", 20);
    test_end(&r, QHIL_FAIL, 30);
    assert_int_equal(r.verdict, QHIL_PASS);
    assert_int_equal(r.duration_ns, 10);
    assert_int_equal(r.n_failures, 0);
    assert_int_equal(r.n_steps, 0);
    assert_null(r.message);
    qhil_test_result_release(&r);
}

/* More steps and failures than kept: capped, counted, and the reason
 * is still the first failure. */
static void test_caps(void **state)
{
    qhil_test_result r = {0};
    size_t i;

    (void)state;
    for (i = 1; i <= QHIL_RESULT_STEPS_MAX + 5; i++) {
        step_start(&r, i, (int)i, NULL, (int64_t)i);
        step_end(&r, i, QHIL_PASS, (int64_t)i + 1, 1);
    }
    assert_int_equal(r.n_steps, QHIL_RESULT_STEPS_MAX);
    assert_int_equal(r.steps_dropped, 10); /* 5 starts, 5 ends */
    assert_int_equal(r.steps[QHIL_RESULT_STEPS_MAX - 1].step,
                     QHIL_RESULT_STEPS_MAX);
    for (i = 0; i < QHIL_RESULT_FAILURES_MAX + 3; i++) {
        failure(&r, 0, 0, QHIL_FAIL, i ? "later" : "first", 0);
    }
    assert_int_equal(r.n_failures, QHIL_RESULT_FAILURES_MAX);
    assert_int_equal(r.failures_dropped, 3);
    assert_string_equal(r.message, "first");
    qhil_test_result_release(&r);
}

/* A message far over the cap is cut, not refused; a step_end with no
 * step_start (a stream cut at its head) still times the step. */
static void test_odd_streams(void **state)
{
    qhil_test_result r = {0};
    size_t n = QHIL_RESULT_TEXT_MAX * 4;
    char *big = malloc(n + 1);

    (void)state;
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    step_end(&r, 3, QHIL_PASS, 900, 400);
    assert_int_equal(r.n_steps, 1);
    assert_int_equal(r.steps[0].step, 3);
    assert_int_equal(r.steps[0].start_ns, 500);
    assert_int_equal(r.steps[0].duration_ns, 400);
    failure(&r, 0, 0, QHIL_ERROR, big, 0);
    assert_int_equal(strlen(r.failures[0].message), QHIL_RESULT_TEXT_MAX);
    /* A verdict that is not fail counts as error. */
    failure(&r, 0, 0, QHIL_PASS, "odd", 0);
    assert_int_equal(r.failures[1].verdict, QHIL_ERROR);
    free(big);
    qhil_test_result_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass),        cmocka_unit_test(test_all_failures),
        cmocka_unit_test(test_cause),       cmocka_unit_test(test_missing_end),
        cmocka_unit_test(test_after_end),   cmocka_unit_test(test_caps),
        cmocka_unit_test(test_odd_streams),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
