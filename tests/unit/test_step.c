/*
 * test_step.c - the step table: every entry complete, names unique, the
 * unknown-step message built from it in table order, every name parsed
 * into a step that runs and is described through that same entry, the
 * names that may stand alone, and what each kind needs refused in a
 * suite that cannot give it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "step.h"
#include "testutil.h"

#include <qhil/clock.h>
#include <qhil/suite.h>

#define INLINE QHIL_TEST_SRCDIR "/data/suites/inline.yaml"

/* One valid value per step name, and what a failure calls that step.  A
 * name of the table missing here fails test_every_name. */
static const struct {
    const char *name;
    const char *step; /* the YAML of the step, after "- " */
    const char *desc;
} samples[] = {
    {"expect", "expect: \"Hello\"", "expect \"Hello\""},
    {"send", "send: \"a\\tb\\r\"", "send \"a\\x09b\\r\""},
    {"sendline", "sendline: hi", "sendline \"hi\\n\""},
    {"qmp", "qmp: {execute: query-status, expect: {status: running}}",
     "qmp query-status"},
    {"reset", "reset", "reset"},
    {"wait", "wait: 250ms", "wait 250ms"},
    {"read", "read: {addr: 0x4001000, expect: 0x51A7E001}",
     "read 0x4001000 (4 bytes)"},
    {"write", "write: {addr: 0x4001010, value: 1000, size: 2}",
     "write 0x3e8 to 0x4001010 (2 bytes)"},
    {"clock_step", "clock_step: next", "clock_step next"},
    {"irq_intercept", "irq_intercept: {out: /machine/qhil-timer}",
     "irq_intercept out /machine/qhil-timer"},
    {"expect_irq", "expect_irq: {line: 12, level: low}",
     "expect_irq line 12 low"},
};

/* Load a one-test suite with the given top lines and one step. */
static int load_step_suite(const char *top, const char *step,
                           qhil_suite **s, qhil_error *err)
{
    char *text = NULL;
    int rc;

    assert_true(asprintf(&text,
                         "device_type: mps2-an385\n"
                         "%s"
                         "tests:\n"
                         "  - name: a\n"
                         "    steps:\n"
                         "      - %s\n",
                         top, step) > 0);
    rc = qhil_suite_load_buffer(INLINE, text, strlen(text), s, err);
    free(text);
    return rc;
}

static void test_table_complete(void **state)
{
    const qhil_step_entry *t;
    size_t n;
    size_t i;
    size_t j;

    (void)state;
    t = qhil_step_table(&n);
    assert_non_null(t);
    assert_true(n >= 11);
    for (i = 0; i < n; i++) {
        assert_non_null(t[i].name);
        assert_true(t[i].name[0] != '\0');
        assert_non_null(t[i].parse);
        assert_non_null(t[i].run);
        assert_non_null(t[i].describe);
        /* Every kind acts on something of the machine. */
        assert_true(t[i].needs != 0);
        assert_ptr_equal(qhil_step_find(t[i].name), &t[i]);
        for (j = 0; j < i; j++) {
            if (!strcmp(t[i].name, t[j].name)) {
                fail_msg("step name '%s' is in the table twice", t[i].name);
            }
        }
    }
    assert_null(qhil_step_find("expekt"));
    assert_null(qhil_step_find(""));
    assert_null(qhil_step_find(NULL));
}

/* The unknown-step messages list the table's names, in its order. */
static void test_unknown_lists_table(void **state)
{
    const qhil_step_entry *t;
    char *names = qhil_step_names();
    char *want = NULL;
    const char *steps[] = {"expekt: x", "rest"};
    qhil_buf b;
    size_t n;
    size_t i;

    (void)state;
    t = qhil_step_table(&n);
    qhil_buf_init(&b, 4096);
    for (i = 0; i < n; i++) {
        qhil_buf_printf(&b, "%s%s", i ? ", " : "", t[i].name);
    }
    assert_non_null(names);
    assert_string_equal(names, b.data);
    /* Today's list, word for word: a reordered table shows up here. */
    assert_string_equal(names, "expect, send, sendline, qmp, reset, wait, "
                               "read, write, clock_step, irq_intercept, "
                               "expect_irq");
    assert_true(asprintf(&want, "(known: %s)", names) > 0);
    for (i = 0; i < QHIL_ARRAY_SIZE(steps); i++) {
        qhil_suite *s = NULL;
        qhil_error err;

        qhil_error_init(&err);
        assert_int_equal(load_step_suite("", steps[i], &s, &err),
                         QHIL_EINVAL);
        assert_null(s);
        assert_contains(err.message, "inline.yaml:5:9: tests[0].steps[0]: "
                                     "unknown step '");
        assert_contains(err.message, want);
        qhil_error_release(&err);
    }
    free(want);
    free(names);
    qhil_buf_release(&b);
}

/* Every name of the table parses into a step that runs through that
 * entry, with the kind the entry gives and today's description. */
static void test_every_name(void **state)
{
    const qhil_step_entry *t;
    size_t n;
    size_t i;
    size_t j;

    (void)state;
    t = qhil_step_table(&n);
    for (i = 0; i < n; i++) {
        qhil_suite *s = NULL;
        const qhil_step *st;
        qhil_error err;
        char *desc;
        int rc;

        for (j = 0; j < QHIL_ARRAY_SIZE(samples); j++) {
            if (!strcmp(samples[j].name, t[i].name)) {
                break;
            }
        }
        if (j == QHIL_ARRAY_SIZE(samples)) {
            fail_msg("no sample for step '%s': add one to samples[]",
                     t[i].name);
        }
        qhil_error_init(&err);
        rc = load_step_suite("accel: qtest\n", samples[j].step, &s, &err);
        if (rc != 0) {
            fail_msg("%s: %s", samples[j].step,
                     qhil_error_message(&err, rc));
        }
        st = &s->tests[0].steps[0];
        assert_int_equal(st->kind, t[i].kind);
        assert_string_equal(st->keyword, t[i].name);
        assert_ptr_equal(qhil_step_entry_of(st), &t[i]);
        assert_int_equal(st->machine, 0);
        assert_int_equal(st->port, 0);
        desc = t[i].describe(st);
        assert_non_null(desc);
        assert_string_equal(desc, samples[j].desc);
        free(desc);
        qhil_suite_free(s);
        qhil_error_release(&err);
    }
}

/* A wait lasts its duration; the others have their timeout. */
static void test_step_timeout(void **state)
{
    qhil_suite *s = NULL;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(load_step_suite("timeout: 3s\n", "wait: 5s", &s, &err),
                     0);
    assert_int_equal(qhil_step_timeout(&s->tests[0].steps[0]),
                     5 * QHIL_SEC);
    qhil_suite_free(s);
    s = NULL;
    assert_int_equal(load_step_suite("timeout: 3s\n", "expect: x", &s, &err),
                     0);
    assert_int_equal(qhil_step_timeout(&s->tests[0].steps[0]),
                     3 * QHIL_SEC);
    qhil_suite_free(s);
    qhil_error_release(&err);
}

/* A kind that needs QTest is refused by a suite without it, and one
 * that needs the accelerator by a suite with qtest: true, naming the
 * step; the others load in a plain suite. */
static void test_needs(void **state)
{
    const qhil_step_entry *t;
    size_t n;
    size_t i;
    size_t j;

    (void)state;
    t = qhil_step_table(&n);
    for (i = 0; i < n; i++) {
        static const char *const tops[] = {"", "qtest: true\n"};
        size_t k;

        for (j = 0; strcmp(samples[j].name, t[i].name); j++) {
        }
        for (k = 0; k < QHIL_ARRAY_SIZE(tops); k++) {
            bool refused =
                k == 0 ? (t[i].needs & (QHIL_STEP_NEEDS_QTEST |
                                        QHIL_STEP_NEEDS_QTEST_ACCEL)) != 0
                       : (t[i].needs & QHIL_STEP_NEEDS_QTEST_ACCEL) != 0;
            qhil_suite *s = NULL;
            qhil_error err;
            int rc;

            qhil_error_init(&err);
            rc = load_step_suite(tops[k], samples[j].step, &s, &err);
            if (!refused) {
                assert_int_equal(rc, 0);
                qhil_suite_free(s);
                qhil_error_release(&err);
                continue;
            }
            assert_int_equal(rc, QHIL_EINVAL);
            assert_null(s);
            assert_contains(err.message, "tests[0].steps[0]: ");
            assert_contains(err.message, t[i].name);
            assert_contains(err.message, k == 0 ? "needs" : "accel: qtest");
            qhil_error_release(&err);
        }
    }
}

/* A name written alone ("- reset") is a step only when its entry says
 * so; the others ask for a value. */
static void test_alone(void **state)
{
    const qhil_step_entry *t;
    size_t n;
    size_t i;

    (void)state;
    t = qhil_step_table(&n);
    for (i = 0; i < n; i++) {
        qhil_suite *s = NULL;
        qhil_error err;
        int rc;

        qhil_error_init(&err);
        rc = load_step_suite("accel: qtest\n", t[i].name, &s, &err);
        if (t[i].alone) {
            assert_int_equal(rc, 0);
            assert_ptr_equal(qhil_step_entry_of(&s->tests[0].steps[0]),
                             &t[i]);
        } else {
            assert_int_equal(rc, QHIL_EINVAL);
            assert_contains(err.message, "needs a value");
            assert_contains(err.message, t[i].name);
        }
        qhil_suite_free(s);
        qhil_error_release(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_unknown_lists_table),
        cmocka_unit_test(test_every_name),
        cmocka_unit_test(test_step_timeout),
        cmocka_unit_test(test_needs),
        cmocka_unit_test(test_alone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
