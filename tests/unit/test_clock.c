/*
 * test_clock.c - durations and deadlines: every unit, the bare-number
 * default, refusals naming the text, and the saturating deadline maths.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <qhil/clock.h>

static int64_t parse_ok(const char *text)
{
    int64_t ns = -1;
    qhil_error err;
    int rc;

    qhil_error_init(&err);
    rc = qhil_duration_parse(text, &ns, &err);
    if (rc != 0) {
        fail_msg("'%s': %s", text, qhil_error_message(&err, rc));
    }
    qhil_error_release(&err);
    return ns;
}

static void parse_bad(const char *text, const char *needle)
{
    int64_t ns = 77;
    qhil_error err;

    qhil_error_init(&err);
    assert_int_equal(qhil_duration_parse(text, &ns, &err), QHIL_EINVAL);
    assert_int_equal(ns, 77);
    assert_non_null(err.message);
    if (!strstr(err.message, needle)) {
        fail_msg("expected \"%s\" in \"%s\"", needle, err.message);
    }
    qhil_error_release(&err);
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("40ns"), 40);
    assert_int_equal(parse_ok("100us"), 100 * QHIL_USEC);
    assert_int_equal(parse_ok("250ms"), 250 * QHIL_MSEC);
    assert_int_equal(parse_ok("10s"), 10 * QHIL_SEC);
    assert_int_equal(parse_ok("1.5s"), 1500 * QHIL_MSEC);
    assert_int_equal(parse_ok("2m"), 120 * QHIL_SEC);
    assert_int_equal(parse_ok("1h"), 3600 * QHIL_SEC);
    assert_int_equal(parse_ok(".5s"), 500 * QHIL_MSEC);
    assert_int_equal(parse_ok("0"), 0);
    /* A bare number is seconds. */
    assert_int_equal(parse_ok("3"), 3 * QHIL_SEC);
    assert_int_equal(parse_ok("0.25"), 250 * QHIL_MSEC);
    /* Blank space around the number and the unit is tolerated. */
    assert_int_equal(parse_ok(" 5 s "), 5 * QHIL_SEC);
}

static void test_bad_input(void **state)
{
    int64_t ns = 0;

    (void)state;
    parse_bad("", "empty duration");
    parse_bad("fast", "invalid duration 'fast'");
    parse_bad("-1s", "invalid duration '-1s'");
    parse_bad("10x", "unknown unit 'x'");
    parse_bad("10 sec", "unknown unit 'sec'");
    parse_bad("5ms5", "unknown unit 'ms5'");
    parse_bad("1e30s", "unknown unit 'e30s'");
    parse_bad("0x10s", "unknown unit 'x10s'");
    parse_bad("1..2s", "expected a decimal number");
    parse_bad("200000000h", "out of range");
    assert_int_equal(qhil_duration_parse(NULL, &ns, NULL), QHIL_EINVAL);
    assert_int_equal(qhil_duration_parse("nope", &ns, NULL), QHIL_EINVAL);
}

static void test_deadlines(void **state)
{
    int64_t a;
    int64_t b;

    (void)state;
    a = qhil_now();
    b = qhil_now();
    assert_true(a > 0);
    assert_true(b >= a);
    assert_int_equal(qhil_deadline_in(INT64_MAX), INT64_MAX);
    assert_int_equal(qhil_deadline_in(INT64_MAX - 1), INT64_MAX);
    a = qhil_deadline_in(QHIL_SEC);
    assert_true(a >= b + QHIL_SEC);
    assert_true(a < qhil_now() + 2 * QHIL_SEC);

    assert_int_equal(qhil_deadline_poll_ms(qhil_now() - QHIL_SEC), 0);
    assert_int_equal(qhil_deadline_poll_ms(0), 0);
    assert_int_equal(qhil_deadline_poll_ms(INT64_MAX), INT_MAX);
    /* Rounded up: a deadline 1.5 ms away is never reported as 1 ms. */
    a = qhil_deadline_poll_ms(qhil_now() + 1500 * QHIL_USEC);
    assert_true(a == 2 || a == 1);
    a = qhil_deadline_poll_ms(qhil_now() + 10 * QHIL_SEC);
    assert_true(a > 9900 && a <= 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_deadlines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
