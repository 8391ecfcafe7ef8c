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
    };

    return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
