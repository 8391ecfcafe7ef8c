/*
 * test_console.c - the console matcher over a real socketpair.
 *
 * The "guest" end is written by the test itself, in pieces, between
 * expect calls, so read boundaries fall where each case wants them.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <qhil/clock.h>
#include <qhil/console.h>

typedef struct fixture {
    qhil_console *con;
    int guest;       /* the other end: what the guest writes/reads */
    char log[64];
    int kicks;
} fixture;

static void kick(void *data)
{
    ((fixture *)data)->kicks++;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    int sv[2];
    int fd;

    assert_non_null(f);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    strcpy(f->log, "/tmp/qhil-con-XXXXXX");
    fd = mkstemp(f->log);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(qhil_console_new(sv[0], f->log, &f->con, NULL), 0);
    qhil_console_set_kick(f->con, kick, f);
    f->guest = sv[1];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    qhil_console_free(f->con);
    if (f->guest >= 0) {
        close(f->guest);
    }
    unlink(f->log);
    free(f);
    return 0;
}

static void guest_says(fixture *f, const char *text)
{
    size_t len = strlen(text);

    assert_int_equal(write(f->guest, text, len), (ssize_t)len);
}

static int expect(fixture *f, const char *pattern, int64_t timeout,
                  char **matched, qhil_error *err)
{
    return qhil_console_expect(f->con, pattern, qhil_deadline_in(timeout),
                               matched, err);
}

static void test_match_split_across_reads(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    guest_says(f, "boot... Hel");
    /* Nothing to match yet: a short wait times out. */
    assert_int_equal(expect(f, "Hello, QEMU!", 50 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "lo, QE");
    guest_says(f, "MU!\r\n");
    assert_int_equal(expect(f, "Hello, QEMU!", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "Hello, QEMU!");
    free(m);
}

static void test_empty_match_before_output(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    /* Nothing received yet: a pattern that matches the empty string
     * matches at once. */
    assert_int_equal(expect(f, "x*", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "");
    free(m);
}

static void test_no_byte_matched_twice(void **state)
{
    fixture *f = *state;

    guest_says(f, "tick\r\ntick\r\n");
    assert_int_equal(expect(f, "tick", QHIL_SEC, NULL, NULL), 0);
    assert_int_equal(expect(f, "tick", QHIL_SEC, NULL, NULL), 0);
    /* Both ticks are used up: a third must not match old bytes. */
    assert_int_equal(expect(f, "tick", 50 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "tick\r\n");
    assert_int_equal(expect(f, "tick", QHIL_SEC, NULL, NULL), 0);
}

static void test_no_byte_skipped(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    /* Output that arrived long before the expect still counts. */
    guest_says(f, "count=1\r\ncount=2\r\n");
    assert_int_equal(expect(f, "count=\\d+", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "count=1");
    free(m);
    assert_int_equal(expect(f, "count=\\d+", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "count=2");
    free(m);
}

static void test_partial_then_restart(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    /* "abab" is a partial match of "abac" at 0 and 2; the real match
     * starts at 2 once "ac" arrives. */
    guest_says(f, "abab");
    assert_int_equal(expect(f, "abac", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "ac");
    assert_int_equal(expect(f, "(ab)+ac", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "ababac");
    free(m);
}

static void test_line_anchor_and_lookbehind(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    guest_says(f, "xx> prompt\r\n");
    guest_says(f, "> ");
    /* ^ is a line start: the first "> " is mid-line. */
    assert_int_equal(expect(f, "^> $", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "> ");
    free(m);
    guest_says(f, "id=");
    assert_int_equal(expect(f, "(?<=id=)\\d+\\b", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "42 ");
    assert_int_equal(expect(f, "(?<=id=)\\d+", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "42");
    free(m);
}

static void test_fail_pattern(void **state)
{
    fixture *f = *state;
    qhil_error e;

    qhil_error_init(&e);
    assert_int_equal(qhil_console_add_fail_pattern(f->con, "Kernel panic",
                                                   NULL),
                     0);
    /* The expected text comes first in the stream: it still passes. */
    guest_says(f, "ready\r\nKernel panic - not syncing\r\n");
    assert_int_equal(expect(f, "ready", QHIL_SEC, NULL, NULL), 0);
    assert_int_equal(expect(f, "never", 5 * QHIL_SEC, NULL, &e),
                     QHIL_EMATCH);
    assert_non_null(strstr(e.message, "\"Kernel panic\""));
    assert_non_null(strstr(e.message, "Kernel panic - not syncing"));
    /* Sticky: waits fail too. */
    assert_int_equal(qhil_console_wait(f->con, qhil_deadline_in(QHIL_SEC),
                                       NULL),
                     QHIL_EMATCH);
    qhil_error_release(&e);
}

static void test_fail_pattern_before_expect(void **state)
{
    fixture *f = *state;
    int64_t t0 = qhil_now();

    assert_int_equal(qhil_console_add_fail_pattern(f->con, "HardFault",
                                                   NULL),
                     0);
    guest_says(f, "HardFault!\r\nready\r\n");
    assert_int_equal(expect(f, "ready", 5 * QHIL_SEC, NULL, NULL),
                     QHIL_EMATCH);
    /* At once, not at the deadline. */
    assert_true(qhil_now() - t0 < QHIL_SEC);
}

static void test_bad_pattern(void **state)
{
    fixture *f = *state;
    qhil_error e;

    qhil_error_init(&e);
    assert_int_equal(expect(f, "Hello (QEMU", QHIL_SEC, NULL, &e),
                     QHIL_EINVAL);
    assert_non_null(strstr(e.message, "missing closing parenthesis"));
    assert_non_null(strstr(e.message, "Hello (QEMU"));
    assert_int_equal(qhil_console_add_fail_pattern(f->con, "[", &e),
                     QHIL_EINVAL);
    assert_non_null(strstr(e.message, "fail_on"));
    qhil_error_release(&e);
}

static void test_eof(void **state)
{
    fixture *f = *state;
    qhil_error e;

    qhil_error_init(&e);
    guest_says(f, "last words\r\n");
    close(f->guest);
    f->guest = -1;
    /* Buffered output still matches after the peer is gone. */
    assert_int_equal(expect(f, "last words", QHIL_SEC, NULL, NULL), 0);
    assert_int_equal(expect(f, "more", 5 * QHIL_SEC, NULL, &e), QHIL_EEOF);
    assert_non_null(strstr(e.message, "closed"));
    qhil_error_release(&e);
}

static void test_log_has_every_byte(void **state)
{
    fixture *f = *state;
    char buf[256] = {0};
    int fd;
    ssize_t n;

    guest_says(f, "one\r\n");
    guest_says(f, "two\x01\r\n");
    assert_int_equal(expect(f, "two", QHIL_SEC, NULL, NULL), 0);
    fd = open(f->log, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_int_equal(n, 11);
    assert_memory_equal(buf, "one\r\ntwo\x01\r\n", 11);
}

static void test_tail(void **state)
{
    fixture *f = *state;
    char *t;

    guest_says(f, "l1\r\nl2\r\nl3\r\nl4\x02\r\n");
    assert_int_equal(expect(f, "l4", QHIL_SEC, NULL, NULL), 0);
    qhil_console_dispatch(f->con, NULL);
    t = qhil_console_tail(f->con, 2);
    assert_string_equal(t, "l3\nl4\\x02\n");
    free(t);
}

static void test_send_and_kick(void **state)
{
    fixture *f = *state;
    char buf[32] = {0};

    assert_int_equal(qhil_console_send(f->con, "ping\n", 5,
                                       qhil_deadline_in(QHIL_SEC), NULL),
                     0);
    assert_int_equal(read(f->guest, buf, sizeof(buf)), 5);
    assert_string_equal(buf, "ping\n");
    assert_int_equal(f->kicks, 1);
    /* While an expect waits in silence after a send, kicks repeat. */
    assert_int_equal(expect(f, "pong", 350 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    assert_in_range(f->kicks, 3, 6);
}

static void test_large_output(void **state)
{
    fixture *f = *state;
    char chunk[4096];
    size_t total = 0;
    int i;

    /* 2 MiB of filler, then the marker: matched, and fast. */
    memset(chunk, 'x', sizeof(chunk));
    for (i = 0; i < 512; i++) {
        ssize_t n;

        qhil_console_dispatch(f->con, NULL);
        n = write(f->guest, chunk, sizeof(chunk));
        assert_int_equal(n, (ssize_t)sizeof(chunk));
        total += (size_t)n;
    }
    guest_says(f, "MARK");
    assert_int_equal(expect(f, "MARK", 5 * QHIL_SEC, NULL, NULL), 0);
    assert_true(qhil_console_received(f->con) == total + 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_match_split_across_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_match_before_output,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_byte_matched_twice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_byte_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partial_then_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_anchor_and_lookbehind,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern_before_expect,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_has_every_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_and_kick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_output, setup, teardown),
    };

    return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
