/*
 * test_buf.c - the capped buffer: growth up to the cap and not a byte
 * past it, NUL termination, consume and steal, plus the fd and string
 * helpers that live beside it.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

static void test_append_and_cap(void **state)
{
    qhil_buf b;
    char big[300];

    (void)state;
    qhil_buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(qhil_buf_append(&b, "hello", 5), 0);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    /* One byte too many: refused, nothing appended. */
    assert_int_equal(qhil_buf_append(&b, "worldX", 6), QHIL_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    /* Exactly up to the cap is fine, and stays NUL-terminated. */
    assert_int_equal(qhil_buf_puts(&b, "world"), 0);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    assert_true(b.cap <= b.max + 1);
    assert_int_equal(qhil_buf_append(&b, "!", 1), QHIL_ETOOBIG);
    assert_int_equal(qhil_buf_reserve(&b, 1), QHIL_ETOOBIG);
    assert_int_equal(qhil_buf_append(&b, "", 0), 0);
    qhil_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* Growth past the first allocation keeps the content. */
    memset(big, 'a', sizeof(big));
    qhil_buf_init(&b, 1000);
    assert_int_equal(qhil_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(qhil_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(qhil_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(b.len, 900);
    assert_int_equal(qhil_buf_append(&b, big, sizeof(big)), QHIL_ETOOBIG);
    assert_int_equal(b.len, 900);
    assert_int_equal(b.data[900], '\0');
    assert_int_equal(b.data[899], 'a');
    qhil_buf_release(&b);
}

static void test_printf(void **state)
{
    qhil_buf b;

    (void)state;
    qhil_buf_init(&b, 16);
    assert_int_equal(qhil_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "42-x");
    assert_int_equal(qhil_buf_printf(&b, "%s", "0123456789abcdef"),
                     QHIL_ETOOBIG);
    assert_string_equal(b.data, "42-x");
    qhil_buf_release(&b);
}

static void test_consume(void **state)
{
    qhil_buf b;

    (void)state;
    qhil_buf_init(&b, 64);
    qhil_buf_consume(&b, 3); /* empty buffer: harmless */
    assert_int_equal(qhil_buf_puts(&b, "line1\nline2\n"), 0);
    qhil_buf_consume(&b, 6);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "line2\n");
    /* Room freed by consume can be used again up to the cap. */
    assert_int_equal(qhil_buf_append(&b, "0123456789", 10), 0);
    assert_string_equal(b.data, "line2\n0123456789");
    qhil_buf_consume(&b, 1000);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    qhil_buf_release(&b);
}

static void test_steal(void **state)
{
    qhil_buf b;
    char *s;

    (void)state;
    qhil_buf_init(&b, 64);
    s = qhil_buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(qhil_buf_puts(&b, "mine"), 0);
    s = qhil_buf_steal(&b);
    assert_string_equal(s, "mine");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 64);
    /* The buffer is reusable after a steal. */
    assert_int_equal(qhil_buf_puts(&b, "again"), 0);
    assert_string_equal(b.data, "again");
    assert_string_equal(s, "mine");
    free(s);
    qhil_buf_release(&b);
}

static void test_reserve(void **state)
{
    qhil_buf b;

    (void)state;
    qhil_buf_init(&b, 100);
    assert_int_equal(qhil_buf_reserve(&b, 100), 0);
    assert_true(b.cap >= 101);
    assert_int_equal(b.len, 0);
    assert_int_equal(qhil_buf_reserve(&b, 101), QHIL_ETOOBIG);
    qhil_buf_release(&b);
}

static void test_helpers(void **state)
{
    int fds[2];
    char *s;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(qhil_fd_prepare(fds[0]), 0);
    assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    assert_false(fcntl(fds[1], F_GETFL) & O_NONBLOCK);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(qhil_fd_prepare(fds[0]), -EBADF);

    assert_null(qhil_strdup0(NULL));
    s = qhil_strdup0("x");
    assert_string_equal(s, "x");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cap),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_steal),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
