/*
 * test_console.c - the console matcher over a real socketpair.
 *
 * The "guest" end is written by the test itself, in pieces, between
 * expect calls, so read boundaries fall where each case wants them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <qhil/clock.h>
#include <qhil/console.h>
#include <qhil/suite.h>

#include "testutil.h"

typedef struct fixture {
    qhil_console *con;
    int guest; /* the other end: what the guest writes/reads */
    char dir[64];
    char log[96];
    int kicks;
    int64_t kick_deadline; /* the deadline the last kick was given */
} fixture;

static void kick(void *data, int64_t deadline)
{
    ((fixture *)data)->kicks++;
    ((fixture *)data)->kick_deadline = deadline;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    int sv[2];

    assert_non_null(f);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    strcpy(f->dir, "/tmp/qhil-con-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log, sizeof(f->log), "%s/console.log", f->dir);
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
    rmdir(f->dir);
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

    /* Nothing received yet: "x*" could still match x's, so it waits;
     * the first other byte makes it an empty match. */
    assert_int_equal(expect(f, "x*", 30 * QHIL_MSEC, &m, NULL), QHIL_ETIMEDOUT);
    guest_says(f, "y");
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
    assert_int_equal(expect(f, "^> ", QHIL_SEC, &m, NULL), 0);
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
    assert_int_equal(
        qhil_console_add_fail_pattern(f->con, "Kernel panic", NULL), 0);
    /* The expected text comes first in the stream: it still passes. */
    guest_says(f, "ready\r\nKernel panic - not syncing\r\n");
    assert_int_equal(expect(f, "ready", QHIL_SEC, NULL, NULL), 0);
    assert_int_equal(expect(f, "never", 5 * QHIL_SEC, NULL, &e), QHIL_EMATCH);
    assert_non_null(strstr(e.message, "\"Kernel panic\""));
    assert_non_null(strstr(e.message, "Kernel panic - not syncing"));
    /* Sticky: waits fail too. */
    assert_int_equal(
        qhil_console_wait(f->con, qhil_deadline_in(QHIL_SEC), NULL),
        QHIL_EMATCH);
    qhil_error_release(&e);
}

static void test_fail_pattern_before_expect(void **state)
{
    fixture *f = *state;
    int64_t t0 = qhil_now();

    assert_int_equal(qhil_console_add_fail_pattern(f->con, "HardFault", NULL),
                     0);
    guest_says(f, "HardFault!\r\nready\r\n");
    assert_int_equal(expect(f, "ready", 5 * QHIL_SEC, NULL, NULL), QHIL_EMATCH);
    /* At once, not at the deadline. */
    assert_true(qhil_now() - t0 < QHIL_SEC);
}

static void test_bad_pattern(void **state)
{
    fixture *f = *state;
    qhil_error e;

    qhil_error_init(&e);
    assert_int_equal(expect(f, "Hello (QEMU", QHIL_SEC, NULL, &e), QHIL_EINVAL);
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

/* ---- a match only when no later byte could change it ---- */

static void test_dollar_waits_for_line_end(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    /* The echo of "echo 12345678" arriving in two reads. */
    guest_says(f, "echo 1234");
    assert_int_equal(expect(f, "echo 1234$", 50 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "5678\n");
    assert_int_equal(expect(f, "echo 1234$", 50 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    assert_int_equal(expect(f, "echo \\d+$", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "echo 12345678");
    free(m);
}

/* A prompt without a line end never satisfies "$": the timeout says
 * what was still open, so the user sees why. */
static void test_timeout_names_open_match(void **state)
{
    fixture *f = *state;
    qhil_error e;

    qhil_error_init(&e);
    guest_says(f, "Hello\r\nlogin:\r\n> ");
    assert_int_equal(expect(f, "> $", 30 * QHIL_MSEC, NULL, &e),
                     QHIL_ETIMEDOUT);
    assert_contains(e.message, "not seen before the deadline (a match was "
                               "still open at the end of the output, \"> \"");
    qhil_error_release(&e);
    /* Nothing open: the plain message. */
    qhil_error_init(&e);
    assert_int_equal(expect(f, "Goodbye", 30 * QHIL_MSEC, NULL, &e),
                     QHIL_ETIMEDOUT);
    assert_not_contains(e.message, "still open");
    qhil_error_release(&e);
}

static void test_greedy_waits_for_next_byte(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    guest_says(f, "count=12");
    assert_int_equal(expect(f, "count=\\d+", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "3\r\n");
    assert_int_equal(expect(f, "count=\\d+", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "count=123");
    free(m);
}

static void test_word_boundary_and_lookahead_wait(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    guest_says(f, "id 42");
    assert_int_equal(expect(f, "\\d+\\b", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    assert_int_equal(expect(f, "id(?! 4)", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "1 ok");
    assert_int_equal(expect(f, "\\d+\\b", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "421");
    free(m);
    /* Lookahead past the end of what arrived: wait for it. */
    assert_int_equal(expect(f, "ok(?!ay)", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "a");
    assert_int_equal(expect(f, "ok(?!ay)", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "!");
    assert_int_equal(expect(f, "ok(?!ay)", QHIL_SEC, &m, NULL), 0);
    free(m);
}

static void test_end_of_stream_is_a_true_end(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    guest_says(f, "abc");
    assert_int_equal(expect(f, "abc\\z", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    close(f->guest);
    f->guest = -1;
    assert_int_equal(expect(f, "b\\w*\\z", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "bc");
    free(m);
}

static void test_fail_pattern_at_end_of_stream(void **state)
{
    fixture *f = *state;
    qhil_error e;

    qhil_error_init(&e);
    assert_int_equal(qhil_console_add_fail_pattern(f->con, "the end$", NULL),
                     0);
    guest_says(f, "the end");
    assert_int_equal(qhil_console_dispatch(f->con, NULL), 0);
    close(f->guest);
    f->guest = -1;
    assert_int_equal(expect(f, "never", QHIL_SEC, NULL, &e), QHIL_EMATCH);
    assert_non_null(strstr(e.message, "the end"));
    qhil_error_release(&e);
}

static void test_keep_out_text_split(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    guest_says(f, "id=4");
    assert_int_equal(expect(f, "id=\\K\\d+", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "2\n");
    assert_int_equal(expect(f, "id=\\K\\d+", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "42");
    free(m);
    /* The next expect starts after the match, not after \K. */
    guest_says(f, "id=7\n");
    assert_int_equal(expect(f, "id=\\K\\d+", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "7");
    free(m);
}

static void test_utf_invalid_bytes_and_split_character(void **state)
{
    fixture *f = *state;
    char *m = NULL;

    /* Invalid UTF-8 first, then an e-acute split across two reads. */
    guest_says(f, "\xff\xfe caf\xc3");
    assert_int_equal(expect(f, "(*UTF)caf\\x{e9}!", 30 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    guest_says(f, "\xa9!\n");
    assert_int_equal(expect(f, "(*UTF)caf.!", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "caf\xc3\xa9!");
    free(m);
}

static void test_refused_constructs(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "\\Gfoo",    "a|x\\G",       "a(*COMMIT)b", "(*NOTEMPTY_ATSTART)x*",
        "(*CRLF)x$", "(*ANYCRLF)^x", "(*ANY)x",     "(?<=A{300})B",
    };
    static const char *const good[] = {
        "\\\\G",   "[G]",       "\\Q\\G\\E",     "(*LIMIT_MATCH=100)x",
        "(*UTF)x", "(*UCP)\\w", "(*NOTEMPTY)x*", "(?<=A{255})B",
        "(*LF)x$",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qhil_error e;

        qhil_error_init(&e);
        assert_int_equal(qhil_console_pattern_check(bad[i], &e), QHIL_EINVAL);
        assert_non_null(strstr(e.message, bad[i]));
        qhil_error_release(&e);
        qhil_error_init(&e);
        assert_int_equal(expect(f, bad[i], QHIL_SEC, NULL, &e), QHIL_EINVAL);
        assert_non_null(strstr(e.message, "invalid pattern"));
        qhil_error_release(&e);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(qhil_console_pattern_check(good[i], NULL), 0);
    }
}

/* ---- match-time errors ---- */

static void test_expect_match_error(void **state)
{
    fixture *f = *state;
    qhil_error e;

    qhil_error_init(&e);
    guest_says(f, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n");
    assert_int_equal(expect(f, "(a+)+c", 5 * QHIL_SEC, NULL, &e),
                     QHIL_EPATTERN);
    assert_non_null(strstr(e.message, "\"(a+)+c\""));
    assert_non_null(strstr(e.message, "match limit"));
    qhil_error_release(&e);
    /* A limit set in the pattern is honoured and reported the same way. */
    qhil_error_init(&e);
    guest_says(f, "aaaaaaaaaaaaaaab\n");
    assert_int_equal(
        expect(f, "(*LIMIT_MATCH=1000)(a+)+c", 5 * QHIL_SEC, NULL, &e),
        QHIL_EPATTERN);
    assert_non_null(strstr(e.message, "match limit"));
    qhil_error_release(&e);
}

static void test_fail_pattern_match_error_is_sticky(void **state)
{
    fixture *f = *state;
    qhil_error e;

    assert_int_equal(
        qhil_console_add_fail_pattern(f->con, "(a+)+c|FATAL", NULL), 0);
    guest_says(f, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\r\n");
    guest_says(f, "FATAL\r\nFATAL\r\nready\r\n");
    qhil_error_init(&e);
    assert_int_equal(expect(f, "ready", 5 * QHIL_SEC, NULL, &e), QHIL_EPATTERN);
    assert_non_null(strstr(e.message, "\"(a+)+c|FATAL\""));
    assert_non_null(strstr(e.message, "match limit"));
    qhil_error_release(&e);
    qhil_error_init(&e);
    assert_int_equal(qhil_console_wait(f->con, qhil_deadline_in(QHIL_SEC), &e),
                     QHIL_EPATTERN);
    assert_non_null(strstr(e.message, "(a+)+c|FATAL"));
    qhil_error_release(&e);
    assert_int_equal(qhil_console_dispatch(f->con, NULL), QHIL_EPATTERN);
}

static void test_fail_pattern_pending_decides(void **state)
{
    fixture *f = *state;
    qhil_error e;
    pid_t pid;

    /* "pani" could still become "panicked"; once "X" comes, "pan" is the
     * fail match and it ends before the expected "ani". */
    assert_int_equal(
        qhil_console_add_fail_pattern(f->con, "panicked|pan", NULL), 0);
    guest_says(f, "pani");
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        usleep(10000);
        _exit(write(f->guest, "X\n", 2) == 2 ? 0 : 1);
    }
    qhil_error_init(&e);
    assert_int_equal(expect(f, "ani", 5 * QHIL_SEC, NULL, &e), QHIL_EMATCH);
    assert_non_null(strstr(e.message, "panicked|pan"));
    qhil_error_release(&e);
    waitpid(pid, NULL, 0);
}

static void test_fail_pattern_pending_is_bounded(void **state)
{
    fixture *f = *state;
    int64_t t0;

    assert_int_equal(
        qhil_console_add_fail_pattern(f->con, "panicked|pan", NULL), 0);
    guest_says(f, "pani");
    t0 = qhil_now();
    /* Nothing more comes: the expect does not wait for its deadline. */
    assert_int_equal(expect(f, "ani", 5 * QHIL_SEC, NULL, NULL), 0);
    assert_true(qhil_now() - t0 < QHIL_SEC);
}

/* ---- deadlines ---- */

static void test_deadline_now_still_reads(void **state)
{
    fixture *f = *state;

    guest_says(f, "ready\n");
    assert_int_equal(
        qhil_console_expect(f->con, "ready", qhil_now(), NULL, NULL), 0);
    assert_int_equal(qhil_console_add_fail_pattern(f->con, "PANIC", NULL), 0);
    guest_says(f, "PANIC\n");
    assert_int_equal(qhil_console_wait(f->con, qhil_now(), NULL), QHIL_EMATCH);
}

static void test_settle_bounded_by_deadline(void **state)
{
    fixture *f = *state;
    int64_t t0;

    assert_int_equal(qhil_console_add_fail_pattern(f->con, "PANIC", NULL), 0);
    guest_says(f, "PANIC at the disco"); /* no line end: settle waits */
    t0 = qhil_now();
    assert_int_equal(expect(f, "never", 2 * QHIL_MSEC, NULL, NULL),
                     QHIL_EMATCH);
    assert_true(qhil_now() - t0 < 30 * QHIL_MSEC);
    t0 = qhil_now();
    assert_int_equal(qhil_console_dispatch(f->con, NULL), QHIL_EMATCH);
    assert_true(qhil_now() - t0 < 30 * QHIL_MSEC);
}

static void test_kick_gets_caller_deadline(void **state)
{
    fixture *f = *state;
    int64_t d = qhil_deadline_in(QHIL_SEC);
    char buf[8];

    assert_int_equal(qhil_console_send(f->con, "x\n", 2, d, NULL), 0);
    assert_int_equal(f->kicks, 1);
    assert_true(f->kick_deadline == d);
    assert_int_equal(read(f->guest, buf, sizeof(buf)), 2);
    d = qhil_deadline_in(250 * QHIL_MSEC);
    assert_int_equal(qhil_console_expect(f->con, "pong", d, NULL, NULL),
                     QHIL_ETIMEDOUT);
    assert_true(f->kicks >= 2);
    assert_true(f->kick_deadline == d);
}

/* ---- cancellation ---- */

static void test_cancel_fd(void **state)
{
    fixture *f = *state;
    qhil_error e;
    int64_t t0;
    int p[2];
    char c;
    char *big;
    size_t big_len = (size_t)8 << 20;

    assert_int_equal(pipe(p), 0);
    qhil_console_set_cancel_fd(f->con, p[0]);
    /* Nothing pending: waits work as usual. */
    assert_int_equal(
        qhil_console_wait(f->con, qhil_deadline_in(10 * QHIL_MSEC), NULL), 0);
    assert_int_equal(write(p[1], "!", 1), 1);
    t0 = qhil_now();
    qhil_error_init(&e);
    assert_int_equal(expect(f, "never", 5 * QHIL_SEC, NULL, &e),
                     QHIL_ECANCELED);
    assert_non_null(strstr(e.message, "interrupted"));
    qhil_error_release(&e);
    assert_int_equal(
        qhil_console_wait(f->con, qhil_deadline_in(5 * QHIL_SEC), NULL),
        QHIL_ECANCELED);
    /* A send the guest does not take. */
    big = calloc(1, big_len);
    assert_non_null(big);
    assert_int_equal(qhil_console_send(f->con, big, big_len,
                                       qhil_deadline_in(5 * QHIL_SEC), NULL),
                     QHIL_ECANCELED);
    free(big);
    /* The settle before a fail message. */
    assert_int_equal(qhil_console_add_fail_pattern(f->con, "PANIC", NULL), 0);
    guest_says(f, "PANIC no line end");
    assert_int_equal(expect(f, "never", 5 * QHIL_SEC, NULL, NULL),
                     QHIL_ECANCELED);
    assert_true(qhil_now() - t0 < QHIL_SEC);
    /* The console did not take the byte. */
    assert_int_equal(read(p[0], &c, 1), 1);
    qhil_console_set_cancel_fd(f->con, -1);
    close(p[0]);
    close(p[1]);
}

/* ---- the log file ---- */

static void test_log_never_follows_or_truncates(void **state)
{
    fixture *f = *state;
    char path[160];
    char target[160];
    char buf[16] = {0};
    qhil_console *con = NULL;
    qhil_error e;
    int sv[2];
    int fd;

    snprintf(target, sizeof(target), "%s/target", f->dir);
    snprintf(path, sizeof(path), "%s/planted.log", f->dir);
    fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    assert_int_equal(symlink(target, path), 0);
    qhil_error_init(&e);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_true(qhil_console_new(sv[0], path, &con, &e) < 0);
    assert_null(con);
    assert_non_null(strstr(e.message, "planted.log"));
    qhil_error_release(&e);
    /* An existing regular file is not reused either. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv + 0), 0);
    assert_true(qhil_console_new(sv[0], target, &con, NULL) < 0);
    close(sv[1]);
    fd = open(target, O_RDONLY);
    assert_int_equal(read(fd, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "keep");
    close(fd);
    unlink(path);
    unlink(target);
}

static void test_log_cap(void **state)
{
    fixture *f = *state;
    char chunk[4096];
    char *buf;
    qhil_error e;
    ssize_t n;
    size_t total = 0;
    int fd;
    int i;

    qhil_console_set_log_limit(f->con, 64 << 10);
    guest_says(f, "MARK\n");
    memset(chunk, 'x', sizeof(chunk));
    chunk[sizeof(chunk) - 1] = '\n';
    for (i = 0; i < 50; i++) {
        assert_int_equal(qhil_console_dispatch(f->con, NULL),
                         total + 5 > (64 << 10) ? QHIL_ELIMIT : 0);
        assert_int_equal(write(f->guest, chunk, sizeof(chunk)),
                         (ssize_t)sizeof(chunk));
        total += sizeof(chunk);
    }
    guest_says(f, "END\n");
    /* Before the cap: still matched.  After it: the limit error. */
    assert_int_equal(expect(f, "MARK", QHIL_SEC, NULL, NULL), 0);
    qhil_error_init(&e);
    assert_int_equal(expect(f, "END", QHIL_SEC, NULL, &e), QHIL_ELIMIT);
    assert_non_null(strstr(e.message, "console output over 65536 bytes"));
    qhil_error_release(&e);
    assert_int_equal(
        qhil_console_wait(f->con, qhil_deadline_in(QHIL_SEC), NULL),
        QHIL_ELIMIT);
    assert_int_equal(qhil_console_dispatch(f->con, NULL), QHIL_ELIMIT);
    qhil_console_free(f->con);
    f->con = NULL;
    buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    fd = open(f->log, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, (1 << 20) - 1);
    close(fd);
    /* Head, a line saying what was dropped, and the last bytes. */
    assert_true(n > 0 && n < (64 << 10) + 100);
    assert_memory_equal(buf, "MARK\n", 5);
    assert_non_null(strstr(buf, "bytes of console output dropped here]"));
    assert_memory_equal(buf + n - 4, "END\n", 4);
    free(buf);
}

static void test_suite_refuses_stream_constructs(void **state)
{
    static const struct {
        const char *text;
        const char *where;
        const char *why;
    } cases[] = {
        {"device_type: mps2-an385\n"
         "tests:\n"
         "  - name: t\n"
         "    steps:\n"
         "      - expect: \"\\\\Gready\"\n",
         "s.yaml:5:", "\\G is not supported on a stream"},
        {"device_type: mps2-an385\n"
         "fail_on: [\"panic(*COMMIT)!\"]\n"
         "tests:\n"
         "  - name: t\n"
         "    steps:\n"
         "      - expect: ready\n",
         "s.yaml:2:", "(*COMMIT) is not supported"},
        {"device_type: mps2-an385\n"
         "tests:\n"
         "  - name: t\n"
         "    steps:\n"
         "      - expect: \"(?<=x{256})y\"\n",
         "s.yaml:5:", "lookbehind of 256 characters"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qhil_suite *suite = NULL;
        qhil_error e;

        qhil_error_init(&e);
        assert_int_equal(qhil_suite_load_buffer("s.yaml", cases[i].text,
                                                strlen(cases[i].text), &suite,
                                                &e),
                         QHIL_EINVAL);
        assert_null(suite);
        assert_non_null(strstr(e.message, cases[i].where));
        assert_non_null(strstr(e.message, cases[i].why));
        qhil_error_release(&e);
    }
}

/* ---- observers: lines, the last match, the fail match ------------------ */

/*
 * A line observer that checks what it is handed against the stream the
 * test wrote (want, or gen() when want is NULL): each piece starts where
 * the previous one ended (after its LF unless it was cut), has no LF,
 * holds the stream's bytes, is followed by an LF when it is not cut, and
 * a cut piece is QHIL_CONSOLE_LINE_MAX bytes long (unless the stream
 * ended or the cap came).  Pieces are also kept, the first few.
 */
#define REC_KEEP 64

typedef struct rec_piece {
    uint64_t off;
    size_t len;
    int cut;
    char bytes[QHIL_CONSOLE_LINE_MAX];
} rec_piece;

typedef struct rec {
    const char *want; /* the stream written, or NULL for gen() */
    size_t want_len;  /* its length (what follows it counts as an LF) */
    uint64_t next;    /* where the next piece must start */
    uint64_t covered; /* bytes in pieces, LFs included */
    size_t n;         /* pieces seen */
    size_t bad;       /* pieces that broke a rule */
    char why[200];    /* the first broken rule */
    rec_piece keep[REC_KEEP];
} rec;

/* Byte i of the generated stream: lines of random length (some longer
 * than a piece), every byte value but LF inside them. */
static char gen(uint64_t i)
{
    uint32_t h = (uint32_t)(i * 2654435761u) >> 8;
    char c = (char)(i * 7 + 3);

    if (h % 2000 == 0) {
        return '\n';
    }
    return c == '\n' ? '\0' : c;
}

static char rec_byte(const rec *r, uint64_t i)
{
    if (i >= r->want_len) {
        return '\n';
    }
    return r->want ? r->want[i] : gen(i);
}

/* Note a broken rule: what, about the piece at off, and a number. */
static void rec_bad(rec *r, const char *what, uint64_t off, uint64_t n)
{
    if (r->bad++ == 0) {
        snprintf(r->why, sizeof(r->why), "piece at %llu: %s (%llu)",
                 (unsigned long long)off, what, (unsigned long long)n);
    }
}

static void on_line(void *data, uint64_t off, const char *bytes, size_t len,
                    int cut)
{
    rec *r = data;
    size_t i;

    if (off != r->next) {
        rec_bad(r, "does not start where the last ended", off, r->next);
    }
    if (len > QHIL_CONSOLE_LINE_MAX) {
        rec_bad(r, "longer than a piece", off, len);
    }
    for (i = 0; i < len; i++) {
        if (bytes[i] != rec_byte(r, off + i) || bytes[i] == '\n') {
            rec_bad(r, "wrong byte at", off, off + i);
            break;
        }
    }
    if (!cut && off + len < r->want_len && rec_byte(r, off + len) != '\n') {
        rec_bad(r, "not cut, but no LF after it", off, off + len);
    }
    if (r->n < REC_KEEP) {
        rec_piece *p = &r->keep[r->n];

        p->off = off;
        p->len = len;
        p->cut = cut;
        memcpy(p->bytes, bytes, len);
    }
    r->n++;
    r->next = off + len + (cut ? 0 : 1);
    r->covered += len + (cut ? 0 : 1);
}

#define assert_rec_ok(r)                                                       \
    do {                                                                       \
        if ((r)->bad) {                                                        \
            fail_msg("%zu bad pieces, first: %s", (r)->bad, (r)->why);         \
        }                                                                      \
    } while (0)

static void piece_is(const rec *r, size_t i, uint64_t off, const void *bytes,
                     size_t len, int cut)
{
    assert_true(i < r->n);
    assert_int_equal(r->keep[i].off, off);
    assert_int_equal(r->keep[i].len, len);
    assert_memory_equal(r->keep[i].bytes, bytes, len);
    assert_int_equal(r->keep[i].cut, cut);
}

/* Write all of text to fd (non-blocking), reading the console whenever
 * the socket is full. */
static void guest_writes(qhil_console *con, int fd, const char *text,
                         size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);

        if (n < 0) {
            assert_true(errno == EAGAIN);
            qhil_console_dispatch(con, NULL); /* may be over its cap */
            continue;
        }
        text += n;
        len -= (size_t)n;
    }
}

/* Lines with CR LF, an empty line, NUL and 0xff bytes, invalid UTF-8 and
 * a last line without LF; cut in two reads at every position, and one
 * byte per read: the same pieces each time. */
static const char lines_text[] = "one\r\ntwo\n\nthree\r\n"
                                 "a\0b\xff\xc3(\r\n"
                                 "tail";

static void test_lines_split_everywhere(void **state)
{
    size_t len = sizeof(lines_text) - 1;
    size_t k;

    (void)state;
    for (k = 0; k <= len + 1; k++) {
        qhil_console *con = NULL;
        rec *r = calloc(1, sizeof(*r));
        int sv[2];
        size_t i;

        assert_non_null(r);
        r->want = lines_text;
        r->want_len = len;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(qhil_console_new(sv[0], NULL, &con, NULL), 0);
        qhil_console_set_line_fn(con, on_line, r);
        if (k <= len) {
            /* Two reads, split at k. */
            assert_int_equal(write(sv[1], lines_text, k), (ssize_t)k);
            assert_int_equal(qhil_console_dispatch(con, NULL), 0);
            assert_int_equal(write(sv[1], lines_text + k, len - k),
                             (ssize_t)(len - k));
            assert_int_equal(qhil_console_dispatch(con, NULL), 0);
        } else {
            /* One byte per read. */
            for (i = 0; i < len; i++) {
                assert_int_equal(write(sv[1], lines_text + i, 1), 1);
                assert_int_equal(qhil_console_dispatch(con, NULL), 0);
            }
        }
        /* "tail" has no LF yet: not delivered before the end. */
        assert_int_equal(r->n, 5);
        close(sv[1]);
        assert_int_equal(qhil_console_dispatch(con, NULL), QHIL_EEOF);
        assert_int_equal(qhil_console_dispatch(con, NULL), QHIL_EEOF);
        assert_rec_ok(r);
        assert_int_equal(r->n, 6);
        piece_is(r, 0, 0, "one\r", 4, 0);
        piece_is(r, 1, 5, "two", 3, 0);
        piece_is(r, 2, 9, "", 0, 0);
        piece_is(r, 3, 10, "three\r", 6, 0);
        piece_is(r, 4, 17, "a\0b\xff\xc3(\r", 7, 0);
        piece_is(r, 5, 25, "tail", 4, 0);
        qhil_console_free(con);
        free(r);
    }
}

/* Long lines: 10 kB in three pieces, 4096 bytes whole, 4097 in two;
 * written in reads of 1000 bytes, and all offsets are those of
 * console.log. */
static void test_lines_long_and_log_offsets(void **state)
{
    fixture *f = *state;
    size_t len = 10000 + 1 + 4096 + 1 + 4097 + 1 + 3;
    char *text = malloc(len);
    char *log = malloc(len + 1);
    rec *r = calloc(1, sizeof(*r));
    size_t i;
    size_t at;
    int fd;

    assert_non_null(text);
    assert_non_null(log);
    assert_non_null(r);
    for (i = 0; i < len; i++) {
        text[i] = (char)('a' + i % 26);
    }
    text[10000] = '\n';
    text[10000 + 1 + 4096] = '\n';
    text[10000 + 1 + 4096 + 1 + 4097] = '\n';
    text[len - 2] = '\r'; /* "xy\r" at EOF, no LF */
    r->want = text;
    r->want_len = len;
    qhil_console_set_line_fn(f->con, on_line, r);
    for (at = 0; at < len; at += 1000) {
        size_t n = len - at < 1000 ? len - at : 1000;

        assert_int_equal(write(f->guest, text + at, n), (ssize_t)n);
        assert_int_equal(qhil_console_dispatch(f->con, NULL), 0);
    }
    close(f->guest);
    f->guest = -1;
    assert_int_equal(qhil_console_dispatch(f->con, NULL), QHIL_EEOF);
    assert_rec_ok(r);
    assert_int_equal(r->n, 3 + 1 + 2 + 1);
    piece_is(r, 0, 0, text, 4096, 1);
    piece_is(r, 1, 4096, text + 4096, 4096, 1);
    piece_is(r, 2, 8192, text + 8192, 1808, 0);
    piece_is(r, 3, 10001, text + 10001, 4096, 0);
    piece_is(r, 4, 14098, text + 14098, 4096, 1);
    piece_is(r, 5, 18194, text + 18194, 1, 0);
    piece_is(r, 6, 18196, text + 18196, 3, 0);
    assert_int_equal(r->covered, len + 1); /* + the LF the last lacks */
    /* The offsets are those of console.log. */
    qhil_console_free(f->con);
    f->con = NULL;
    fd = open(f->log, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, log, len + 1), (ssize_t)len);
    close(fd);
    for (i = 0; i < r->n; i++) {
        assert_memory_equal(log + r->keep[i].off, r->keep[i].bytes,
                            r->keep[i].len);
    }
    free(r);
    free(log);
    free(text);
}

/* More than the 8 MiB window with nothing matched, so the window drops
 * output: every byte is still in exactly one piece, and the last match
 * (before the flood) is still there, raw. */
static void test_lines_across_window_drop(void **state)
{
    fixture *f = *state;
    size_t total = (size_t)9 << 20;
    size_t chunk = 65536 - 17;
    char *buf = malloc(chunk);
    rec *r = calloc(1, sizeof(*r));
    const char *bytes = NULL;
    uint64_t off = 0;
    size_t len = 0;
    size_t at;
    size_t i;
    int rc;

    assert_non_null(buf);
    assert_non_null(r);
    assert_int_equal(fcntl(f->guest, F_SETFL, O_NONBLOCK), 0);
    r->want_len = total;
    qhil_console_set_line_fn(f->con, on_line, r);
    for (at = 0; at < total; at += chunk) {
        size_t n = total - at < chunk ? total - at : chunk;

        for (i = 0; i < n; i++) {
            buf[i] = gen(at + i);
        }
        guest_writes(f->con, f->guest, buf, n);
        assert_true(qhil_console_dispatch(f->con, NULL) >= 0);
        if (at == 0) {
            /* A match in the first bytes: byte 1 is gen(1). */
            char pat[8];

            snprintf(pat, sizeof(pat), "\\x%02x", (unsigned char)gen(1));
            assert_int_equal(expect(f, pat, QHIL_SEC, NULL, NULL), 0);
        }
    }
    close(f->guest);
    f->guest = -1;
    do {
        rc = qhil_console_dispatch(f->con, NULL);
    } while (rc == 0);
    assert_int_equal(rc, QHIL_EEOF);
    assert_true(qhil_console_dropped(f->con) > 0);
    assert_rec_ok(r);
    assert_int_equal(r->covered, total + (gen(total - 1) == '\n' ? 0 : 1));
    assert_int_equal(qhil_console_last_match(f->con, &off, &bytes, &len), 0);
    assert_int_equal(off, 1);
    assert_int_equal(len, 1);
    assert_int_equal(bytes[0], gen(1));
    free(r);
    free(buf);
}

/* Past the output cap nothing is delivered: a guest that floods with
 * empty lines gets as many calls as fit in the cap, not one per line. */
static void test_lines_stop_at_cap(void **state)
{
    fixture *f = *state;
    char *flood = malloc(200000);
    char text[128];
    rec *r = calloc(1, sizeof(*r));
    int rc;

    assert_non_null(flood);
    assert_non_null(r);
    memset(flood, '\n', 200000);
    memset(text, 'x', sizeof(text));
    text[40] = '\n';
    r->want = text;
    r->want_len = 100;
    qhil_console_set_log_limit(f->con, 100);
    qhil_console_set_line_fn(f->con, on_line, r);
    /* A 40-byte line, then one the cap cuts at byte 100. */
    assert_int_equal(write(f->guest, text, sizeof(text)),
                     (ssize_t)sizeof(text));
    assert_int_equal(fcntl(f->guest, F_SETFL, O_NONBLOCK), 0);
    guest_writes(f->con, f->guest, flood, 200000);
    close(f->guest);
    f->guest = -1;
    do {
        rc = qhil_console_dispatch(f->con, NULL);
    } while (rc == QHIL_ELIMIT && qhil_console_received(f->con) < 200128);
    assert_int_equal(rc, QHIL_ELIMIT);
    assert_rec_ok(r);
    assert_int_equal(qhil_console_received(f->con), 200128);
    assert_int_equal(r->n, 2);
    piece_is(r, 0, 0, text, 40, 0);
    piece_is(r, 1, 41, text + 41, 59, 1);
    assert_int_equal(r->covered, 100);
    free(r);
    free(flood);
}

/* A line whose LF is the first byte past the cap is whole. */
static void test_lines_cap_at_line_end(void **state)
{
    fixture *f = *state;
    rec *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->want = "abcdefghi\nj";
    r->want_len = 10;
    qhil_console_set_log_limit(f->con, 9);
    qhil_console_set_line_fn(f->con, on_line, r);
    guest_says(f, "abcdefghi");
    assert_int_equal(qhil_console_dispatch(f->con, NULL), 0);
    assert_int_equal(r->n, 0);
    guest_says(f, "\nj");
    assert_int_equal(qhil_console_dispatch(f->con, NULL), QHIL_ELIMIT);
    assert_rec_ok(r);
    assert_int_equal(r->n, 1);
    piece_is(r, 0, 0, "abcdefghi", 9, 0);
    free(r);
}

static void test_last_match(void **state)
{
    fixture *f = *state;
    const char *bytes = NULL;
    uint64_t off = 0;
    size_t len = 0;
    char *m = NULL;

    assert_int_equal(qhil_console_last_match(f->con, &off, &bytes, &len),
                     QHIL_ENOENT);
    guest_says(f, "boot\r\nHello, QEMU!\r\nA\r\nB\x01\n");
    assert_int_equal(expect(f, "Hello, \\K\\w+", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "QEMU");
    free(m);
    assert_int_equal(qhil_console_last_match(f->con, &off, &bytes, &len), 0);
    assert_int_equal(off, 13);
    assert_int_equal(len, 4);
    assert_memory_equal(bytes, "QEMU", 4);
    /* Raw: the CR and the control byte *matched leaves out or escapes. */
    assert_int_equal(expect(f, "A\\r\\nB.", QHIL_SEC, &m, NULL), 0);
    assert_string_equal(m, "A\nB\\x01");
    free(m);
    assert_int_equal(qhil_console_last_match(f->con, &off, &bytes, &len), 0);
    assert_int_equal(off, 20);
    assert_int_equal(len, 5);
    assert_memory_equal(bytes, "A\r\nB\x01", 5);
    /* A timeout is not a match: the last one stays. */
    assert_int_equal(expect(f, "never", 20 * QHIL_MSEC, NULL, NULL),
                     QHIL_ETIMEDOUT);
    assert_int_equal(qhil_console_last_match(f->con, &off, NULL, &len), 0);
    assert_int_equal(off, 20);
    /* An empty match has a place too. */
    assert_int_equal(expect(f, "(?=\\n)", QHIL_SEC, NULL, NULL), 0);
    assert_int_equal(qhil_console_last_match(f->con, &off, &bytes, &len), 0);
    assert_int_equal(off, 25);
    assert_int_equal(len, 0);
    assert_non_null(bytes);
    assert_int_equal(
        qhil_console_fail_match(f->con, NULL, NULL, NULL, NULL, NULL),
        QHIL_ENOENT);
}

/* Two fail patterns: the one added second matches first in the stream;
 * one read brings both hits. */
static void test_fail_match(void **state)
{
    fixture *f = *state;
    const char *pattern = NULL;
    const char *bytes = NULL;
    uint64_t off = 0;
    size_t index = 99;
    size_t len = 0;

    assert_int_equal(qhil_console_add_fail_pattern(f->con, "panic", NULL), 0);
    assert_int_equal(
        qhil_console_add_fail_pattern(f->con, "Oops: \\K\\d+", NULL), 0);
    assert_int_equal(
        qhil_console_fail_match(f->con, &index, &pattern, &off, &bytes, &len),
        QHIL_ENOENT);
    guest_says(f, "ok\nOops: 42 here\npanic\n");
    assert_int_equal(expect(f, "never", QHIL_SEC, NULL, NULL), QHIL_EMATCH);
    assert_int_equal(
        qhil_console_fail_match(f->con, &index, &pattern, &off, &bytes, &len),
        0);
    assert_int_equal(index, 1);
    assert_string_equal(pattern, "Oops: \\K\\d+");
    assert_int_equal(off, 9);
    assert_int_equal(len, 2);
    assert_memory_equal(bytes, "42", 2);
    assert_int_equal(qhil_console_last_match(f->con, NULL, NULL, NULL),
                     QHIL_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_match_split_across_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_match_before_output, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_byte_matched_twice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_byte_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_then_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_anchor_and_lookbehind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern_before_expect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_has_every_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_and_kick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dollar_waits_for_line_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_names_open_match, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_greedy_waits_for_next_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_word_boundary_and_lookahead_wait,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_of_stream_is_a_true_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern_at_end_of_stream,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_out_text_split, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_utf_invalid_bytes_and_split_character, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_constructs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expect_match_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern_match_error_is_sticky,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern_pending_decides,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_pattern_pending_is_bounded,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_now_still_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_settle_bounded_by_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kick_gets_caller_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_never_follows_or_truncates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_cap, setup, teardown),
        cmocka_unit_test(test_suite_refuses_stream_constructs),
        cmocka_unit_test(test_lines_split_everywhere),
        cmocka_unit_test_setup_teardown(test_lines_long_and_log_offsets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lines_across_window_drop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lines_stop_at_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lines_cap_at_line_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_last_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_match, setup, teardown),
    };

    return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
