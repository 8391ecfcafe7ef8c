/*
 * test_error.c - error codes and the qhil_error record: messages with and
 * without a location, prefixes, copies, and NULL records.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <qhil/error.h>

static void test_codes(void **state)
{
    (void)state;
    assert_int_equal(QHIL_EOK, 0);
    assert_int_equal(QHIL_ENOMEM, -ENOMEM);
    assert_int_equal(QHIL_ETIMEDOUT, -ETIMEDOUT);
    assert_true(QHIL_EEOF != QHIL_ETIMEDOUT && QHIL_EEOF != QHIL_EPROTO);
    assert_string_equal(qhil_strerror(QHIL_ETIMEDOUT), "deadline passed");
    assert_string_equal(qhil_strerror(QHIL_ESYNTAX), "syntax error");
    assert_string_equal(qhil_errname(QHIL_ETIMEDOUT), "QHIL_ETIMEDOUT");
    assert_string_equal(qhil_errname(QHIL_EOK), "QHIL_EOK");
    assert_string_equal(qhil_errname(QHIL_EUNSUPPORTED), "QHIL_EUNSUPPORTED");
    assert_string_equal(qhil_errname(12345), "QHIL_E?");
    /* errno values outside the table still get the system's text. */
    assert_string_equal(qhil_strerror(-EACCES), strerror(EACCES));
    assert_string_equal(qhil_strerror(-5000), "unknown error");
}

static void test_set_and_release(void **state)
{
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(err.code, 0);
    assert_null(err.message);
    assert_int_equal(qhil_error_set(&err, QHIL_EINVAL, "bad %s %d", "x", 3),
                     QHIL_EINVAL);
    assert_int_equal(err.code, QHIL_EINVAL);
    assert_string_equal(err.message, "bad x 3");
    assert_null(err.file);
    /* A second set replaces the first message. */
    qhil_error_set(&err, QHIL_EIO, "second");
    assert_string_equal(err.message, "second");
    assert_int_equal(err.code, QHIL_EIO);
    qhil_error_release(&err);
    assert_null(err.message);
    assert_int_equal(err.code, 0);
    qhil_error_release(&err);
    qhil_error_release(NULL);
}

static void test_set_at(void **state)
{
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    qhil_error_set_at(&err, QHIL_ESYNTAX, "s.yaml", 3, 7, "bad %s", "key");
    assert_string_equal(err.message, "s.yaml:3:7: bad key");
    assert_string_equal(err.file, "s.yaml");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 7);
    qhil_error_set_at(&err, QHIL_ESYNTAX, "s.yaml", 3, 0, "no column");
    assert_string_equal(err.message, "s.yaml:3: no column");
    qhil_error_set_at(&err, QHIL_ESYNTAX, "s.yaml", 0, 0, "no line");
    assert_string_equal(err.message, "s.yaml: no line");
    qhil_error_set_at(&err, QHIL_ESYNTAX, NULL, 2, 1, "anonymous");
    assert_string_equal(err.message, "<input>:2:1: anonymous");
    assert_null(err.file);
    qhil_error_release(&err);
}

static void test_prefix_kind_copy(void **state)
{
    qhil_error err;
    qhil_error copy;

    (void)state;
    qhil_error_init(&err);
    qhil_error_init(&copy);
    qhil_error_set_at(&err, QHIL_ECMD, "f", 1, 2, "failed");
    assert_int_equal(qhil_error_prefix(&err, "step %d", 4), QHIL_ECMD);
    assert_string_equal(err.message, "step 4: f:1:2: failed");
    qhil_error_set_kind(&err, "GenericError");
    assert_string_equal(err.kind, "GenericError");
    assert_int_equal(qhil_error_copy(&copy, &err), QHIL_ECMD);
    assert_string_equal(copy.message, err.message);
    assert_string_equal(copy.kind, "GenericError");
    assert_string_equal(copy.file, "f");
    assert_int_equal(copy.line, 1);
    assert_int_equal(copy.column, 2);
    assert_true(copy.message != err.message);
    qhil_error_release(&err);
    assert_string_equal(copy.message, "step 4: f:1:2: failed");
    assert_int_equal(qhil_error_copy(&copy, NULL), QHIL_EOK);
    assert_null(copy.message);
    qhil_error_release(&copy);
}

static void test_message_fallback(void **state)
{
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_string_equal(qhil_error_message(NULL, QHIL_EEOF),
                        "connection closed by peer");
    assert_string_equal(qhil_error_message(&err, QHIL_ETIMEDOUT),
                        "deadline passed");
    qhil_error_set(&err, QHIL_EPROTO, "garbage");
    assert_string_equal(qhil_error_message(&err, QHIL_ETIMEDOUT), "garbage");
    qhil_error_release(&err);
}

static void test_null_record(void **state)
{
    (void)state;
    assert_int_equal(qhil_error_set(NULL, QHIL_EIO, "x"), QHIL_EIO);
    assert_int_equal(qhil_error_set_at(NULL, QHIL_EINVAL, "f", 1, 1, "x"),
                     QHIL_EINVAL);
    assert_int_equal(qhil_error_prefix(NULL, "p"), QHIL_EOK);
    qhil_error_set_kind(NULL, "k");
    qhil_error_init(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_set_and_release),
        cmocka_unit_test(test_set_at),
        cmocka_unit_test(test_prefix_kind_copy),
        cmocka_unit_test(test_message_fallback),
        cmocka_unit_test(test_null_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
