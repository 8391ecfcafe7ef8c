/*
 * test_progress.c - the progress view fed with made-up events and
 * results: LINES mode byte for byte as qhil run always printed it, no
 * escape without colour; LIVE mode redraws in place, at most ten times a
 * second, never wider than the terminal, never left on the screen at
 * the end, with a clock that moves; text from the guest or the suite
 * cannot move the cursor; a reader gone stops the view.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/progress.h>

#include "testutil.h"

typedef struct fixture {
    FILE *f;
    char *text;
    size_t len;
    int64_t t; /* the view's clock */
    qhil_progress *p;
} fixture;

static int64_t fake_now(void *data)
{
    return ((fixture *)data)->t;
}

static void open_view(fixture *fx, qhil_progress_mode mode, bool color,
                      unsigned width, size_t total, size_t jobs)
{
    qhil_progress_opts o = {
        .mode = mode,
        .color = color,
        .total = total,
        .jobs = jobs,
        .width = width,
        .header = "qhil: suite s (s.yaml), board b, 3 tests",
        .now = fake_now,
        .now_data = fx,
    };
    qhil_error e;

    memset(fx, 0, sizeof(*fx));
    fx->f = open_memstream(&fx->text, &fx->len);
    assert_non_null(fx->f);
    o.out = fx->f;
    o.now_data = fx;
    qhil_error_init(&e);
    assert_int_equal(qhil_progress_new(&o, &fx->p, &e), QHIL_EOK);
    qhil_error_release(&e);
}

/* What was written so far (NUL-terminated, owned by the fixture). */
static const char *written(fixture *fx)
{
    fflush(fx->f);
    return fx->text;
}

static void close_view(fixture *fx)
{
    qhil_progress_free(fx->p);
    fclose(fx->f);
    free(fx->text);
}

static void start(fixture *fx, const char *name)
{
    qhil_event ev = {.kind = QHIL_EVENT_TEST_START,
                     .test = name,
                     .text = name,
                     .len = strlen(name)};

    qhil_progress_event(fx->p, &ev);
}

static void finish(fixture *fx, qhil_test_result *r)
{
    qhil_event ev = {.kind = QHIL_EVENT_TEST_END,
                     .test = r->name,
                     .verdict = r->verdict,
                     .duration_ns = r->duration_ns};

    qhil_progress_event(fx->p, &ev);
    qhil_progress_test_done(fx->p, NULL, r);
}

static qhil_test_result failed_result(void)
{
    qhil_test_result r = {
        .name = "echo",
        .verdict = QHIL_FAIL,
        .duration_ns = 1250 * QHIL_MSEC,
        .step = 2,
        .step_line = 14,
        .step_desc = "expect \"echo: hi\"",
        .message = "timed out after 1.00s waiting for \"echo: hi\"",
        .console_tail = "Hello, QEMU!\r\nhi\r\n",
        .console_log = "OUT/r/echo/console.log",
        .qemu_log = "OUT/r/echo/qemu.log",
    };

    return r;
}

/*
 * A terminal, just enough of one: printable bytes, CR, LF, ESC[K, SGR
 * codes ignored.  Returns the screen's lines joined with LF and the
 * widest line's columns (bytes: the test texts are ASCII).
 */
static char *screen(const char *s, size_t *widest)
{
    size_t cap = strlen(s) + 2;
    char *out = calloc(1, cap);
    char *line = calloc(1, cap);
    size_t col = 0;
    size_t n = 0; /* length of line */
    size_t o = 0;

    assert_non_null(out);
    assert_non_null(line);
    *widest = 0;
    for (; *s; s++) {
        if (*s == '\r') {
            col = 0;
        } else if (*s == '\n') {
            memcpy(out + o, line, n);
            o += n;
            out[o++] = '\n';
            n = col = 0;
        } else if (*s == '\033' && s[1] == '[') {
            const char *e = s + 2;

            while (*e && (*e < 0x40 || *e > 0x7e)) {
                e++;
            }
            assert_true(*e == 'K' || *e == 'm');
            if (*e == 'K') {
                n = col;
            }
            s = e;
        } else {
            line[col++] = *s;
            n = col > n ? col : n;
            *widest = n > *widest ? n : *widest;
        }
    }
    memcpy(out + o, line, n);
    out[o + n] = '\0';
    free(line);
    return out;
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0;

    for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle)) {
        k++;
    }
    return k;
}

/* LINES: exactly what qhil run printed before the view existed. */
static void test_lines_exact(void **state)
{
    fixture fx;
    qhil_test_result pass = {
        .name = "boots", .verdict = QHIL_PASS, .duration_ns = 410 * QHIL_MSEC};
    qhil_test_result fail = failed_result();
    qhil_test_result intr = {.name = "slow",
                             .verdict = QHIL_ERROR,
                             .interrupted = true,
                             .duration_ns = 3 * QHIL_SEC,
                             .message = "interrupted by SIGINT"};

    (void)state;
    open_view(&fx, QHIL_PROGRESS_LINES, false, 0, 3, 2);
    qhil_progress_note(fx.p, "accelerator: TCG");
    qhil_progress_test_started(fx.p, NULL);
    start(&fx, "boots");
    start(&fx, "echo");
    fx.t = 5 * QHIL_SEC;
    qhil_progress_tick(fx.p);
    finish(&fx, &pass);
    finish(&fx, &fail);
    qhil_progress_test_started(fx.p, NULL);
    start(&fx, "slow");
    finish(&fx, &intr);
    assert_int_equal(qhil_progress_end(fx.p), QHIL_EOK);
    assert_string_equal(
        written(&fx),
        "qhil: suite s (s.yaml), board b, 3 tests\n"
        "  accelerator: TCG\n"
        "PASS   boots (0.41s)\n"
        "FAIL   echo (1.25s)\n"
        "       step 2 (line 14): expect \"echo: hi\"\n"
        "       timed out after 1.00s waiting for \"echo: hi\"\n"
        "       last console lines:\n"
        "       | Hello, QEMU!\r\n"
        "       | hi\r\n"
        "       logs: OUT/r/echo/console.log, OUT/r/echo/qemu.log\n"
        "INTR   slow (3.00s)\n"
        "       interrupted by SIGINT\n");
    close_view(&fx);
}

/* LINES with colour: the labels coloured, nothing else changed. */
static void test_lines_color(void **state)
{
    fixture fx;
    qhil_test_result pass = {.name = "boots", .verdict = QHIL_PASS};
    qhil_test_result fail = failed_result();

    (void)state;
    open_view(&fx, QHIL_PROGRESS_LINES, true, 0, 2, 1);
    finish(&fx, &pass);
    finish(&fx, &fail);
    qhil_progress_end(fx.p);
    assert_contains(written(&fx), "\033[32mPASS \033[0m  boots (0.00s)\n");
    assert_contains(written(&fx), "\033[31mFAIL \033[0m  echo (1.25s)\n");
    assert_int_equal(count(written(&fx), "\r\033[K"), 0);
    close_view(&fx);
}

/* --quiet: passes are not written, nor the header. */
static void test_lines_quiet(void **state)
{
    fixture fx;
    qhil_test_result pass = {.name = "boots", .verdict = QHIL_PASS};
    qhil_test_result fail = failed_result();
    qhil_progress_opts o = {.quiet = true, .total = 2};
    qhil_progress *p;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.f = open_memstream(&fx.text, &fx.len);
    o.out = fx.f;
    o.header = "qhil: suite s";
    assert_int_equal(qhil_progress_new(&o, &p, NULL), QHIL_EOK);
    fx.p = p;
    qhil_progress_note(p, "accelerator: TCG");
    qhil_progress_test_started(p, NULL);
    finish(&fx, &pass);
    finish(&fx, &fail);
    qhil_progress_end(p);
    assert_true(strncmp(written(&fx), "FAIL   echo (1.25s)\n", 20) == 0);
    assert_not_contains(written(&fx), "boots");
    assert_not_contains(written(&fx), "qhil: suite");
    close_view(&fx);
}

/* LINES never draws a status line, whatever the events and ticks. */
static void test_lines_no_escape(void **state)
{
    fixture fx;
    qhil_test_result fail = failed_result();
    int i;

    (void)state;
    open_view(&fx, QHIL_PROGRESS_LINES, false, 0, 3, 2);
    qhil_progress_test_started(fx.p, NULL);
    start(&fx, "echo");
    for (i = 0; i < 50; i++) {
        fx.t += 300 * QHIL_MSEC;
        qhil_progress_tick(fx.p);
    }
    finish(&fx, &fail);
    qhil_progress_end(fx.p);
    assert_not_contains(written(&fx), "\033");
    assert_int_equal(count(written(&fx), "\n"), 8);
    /* The only CRs are the guest's own, in the console tail. */
    assert_int_equal(count(written(&fx), "\r"), 2);
    close_view(&fx);
}

/* LIVE: the status line comes, ticks with the clock, is wiped for a
 * finished test's line and at the end; no colour when color is off. */
static void test_live_redraws(void **state)
{
    fixture fx;
    qhil_test_result pass = {
        .name = "boots", .verdict = QHIL_PASS, .duration_ns = 2 * QHIL_SEC};
    qhil_test_result fail = failed_result();
    const char *s;
    char *scr;
    size_t widest;

    (void)state;
    open_view(&fx, QHIL_PROGRESS_LIVE, false, 100, 3, 1);
    qhil_progress_test_started(fx.p, NULL);
    start(&fx, "boots");
    fx.t = 1200 * QHIL_MSEC;
    qhil_progress_tick(fx.p);
    s = written(&fx);
    assert_contains(s, "\r\033[K[0/3] 0 passed, 0 failed | 0:00, ? left");
    assert_contains(s, "\r\033[K[0/3] 0 passed, 0 failed | boots 1.2s | "
                       "0:01, ? left");
    fx.t = 2 * QHIL_SEC;
    finish(&fx, &pass);
    start(&fx, "echo");
    fx.t = 2500 * QHIL_MSEC;
    qhil_progress_tick(fx.p);
    /* mean 2 s: 1.5 s left of echo, 2 s for the one not started,
     * rounded up. */
    assert_contains(written(&fx), "[1/3] 1 passed, 0 failed | echo 0.5s | "
                                  "0:02, ~0:04 left");
    fx.t = 4 * QHIL_SEC;
    finish(&fx, &fail);
    fx.t += 200 * QHIL_MSEC;
    qhil_progress_tick(fx.p);
    assert_contains(written(&fx), "[2/3] 1 passed, 1 failed | 0:04, ~0:02 "
                                  "left");
    assert_int_equal(qhil_progress_end(fx.p), QHIL_EOK);
    s = written(&fx);
    /* No colour: the only escape is the erase. */
    assert_int_equal(count(s, "\033"), count(s, "\r\033[K"));
    /* The finished lines are whole, each after a wipe. */
    assert_contains(s, "\r\033[KPASS   boots (2.00s)\n");
    assert_contains(s, "\r\033[KFAIL   echo (1.25s)\n       step 2");
    /* Ends wiped: the screen is the lines, no status line left. */
    if (strlen(s) < 4 || strcmp(s + strlen(s) - 4, "\r\033[K") != 0) {
        fail_msg("not wiped at the end: %s", s);
    }
    scr = screen(s, &widest);
    assert_string_equal(
        scr, "qhil: suite s (s.yaml), board b, 3 tests\n"
             "PASS   boots (2.00s)\n"
             "FAIL   echo (1.25s)\n"
             "       step 2 (line 14): expect \"echo: hi\"\n"
             "       timed out after 1.00s waiting for \"echo: hi\"\n"
             "       last console lines:\n"
             "       | Hello, QEMU!\n"
             "       | hi\n"
             "       logs: OUT/r/echo/console.log, OUT/r/echo/qemu.log\n");
    free(scr);
    close_view(&fx);
}

/* At most one redraw per 100 ms, however many ticks and events. */
static void test_live_rate(void **state)
{
    fixture fx;
    int i;

    (void)state;
    open_view(&fx, QHIL_PROGRESS_LIVE, false, 80, 3, 1);
    start(&fx, "boots");
    for (i = 0; i < 100; i++) {
        fx.t += 10 * QHIL_MSEC; /* 1 s in all */
        qhil_progress_tick(fx.p);
        start(&fx, "x"); /* an event, as a console line would be */
    }
    qhil_progress_end(fx.p);
    /* The first draw, ten more in the second, the final wipe. */
    assert_in_range(count(written(&fx), "\r\033[K"), 2, 12);
    close_view(&fx);
}

/* Names are cut to the width: no line wraps, at 20 columns or 40, with
 * one long name or many running tests. */
static void test_live_width(void **state)
{
    static const unsigned widths[] = {20, 70, 40, 8, 1};
    size_t w;

    (void)state;
    for (w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        fixture fx;
        char *scr;
        size_t widest = 0;
        const char *s;
        const char *p;

        open_view(&fx, QHIL_PROGRESS_LIVE, true, widths[w], 9, 4);
        start(&fx, "a-test-with-a-name-far-longer-than-any-terminal-"
                   "line-is-wide");
        fx.t += QHIL_SEC;
        qhil_progress_tick(fx.p);
        start(&fx, "second");
        start(&fx, "third");
        fx.t += QHIL_SEC;
        qhil_progress_tick(fx.p);
        s = written(&fx);
        /* Every status line alone fits in width - 1. */
        for (p = strstr(s, "\r\033[K"); p; p = strstr(p + 1, "\r\033[K")) {
            const char *end = strstr(p + 1, "\r\033[K");
            size_t n = end ? (size_t)(end - p) : strlen(p);
            char *one = strndup(p, n);
            char *line = screen(one, &widest);

            assert_true(widest <= widths[w] - 1 || widths[w] == 1);
            free(line);
            free(one);
        }
        scr = screen(s, &widest);
        if (widths[w] == 70) {
            assert_contains(s, " | a-test-with-a-name-f.. 1.0s | 0:01, ? ");
            assert_contains(s, " | a-test-with-a-na.. 2.0s, +2 | 0:02, ? ");
        }
        if (widths[w] == 40) {
            /* Narrow: short counts, no estimate. */
            assert_contains(s, "[0/9] 0 ok 0 fail | a-tes.. 1.0s | 0:01");
        }
        free(scr);
        qhil_progress_end(fx.p);
        close_view(&fx);
    }
}

/* A wide character (CJK) takes two columns: a name of them is cut by
 * columns, not by characters, and never in the middle of one. */
static void test_live_wide_chars(void **state)
{
    fixture fx;
    char name[64] = "";
    char want[64] = " | ";
    int i;

    (void)state;
    for (i = 0; i < 15; i++) {
        strcat(name, "\xe6\x97\xa5"); /* U+65E5, 2 columns */
        if (i < 10) {
            strcat(want, "\xe6\x97\xa5");
        }
    }
    strcat(want, ".. 0.0s | 0:00, ? left");
    /* 69 columns: the counts and times take 39, 30 are left: " | " and
     * " 0.0s" and ".." leave 20 columns, ten characters. */
    open_view(&fx, QHIL_PROGRESS_LIVE, false, 70, 1, 1);
    start(&fx, name);
    assert_contains(written(&fx), want);
    qhil_progress_end(fx.p);
    close_view(&fx);
}

/* Without a width and not a terminal: 80 columns. */
static void test_live_default_width(void **state)
{
    fixture fx;
    char name[200];
    size_t widest;
    char *scr;

    (void)state;
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    open_view(&fx, QHIL_PROGRESS_LIVE, false, 0, 1, 1);
    start(&fx, name);
    scr = screen(written(&fx), &widest);
    assert_int_equal(widest, 79);
    free(scr);
    close_view(&fx);
}

/* A test name or a guest's console that holds escapes cannot move the
 * cursor or overwrite a line in LIVE mode. */
static void test_live_hostile_text(void **state)
{
    fixture fx;
    qhil_test_result fail = failed_result();
    const char *s;

    (void)state;
    fail.name = "\033[2Jevil\rPASS";
    fail.console_tail = "boot\r\nok\rPASS  echo\033[1A\r\n\302\233J\n"
                        "\xff\xbf\xbf|\xe6\x97|\xc3\xa9\n";
    open_view(&fx, QHIL_PROGRESS_LIVE, false, 80, 1, 1);
    start(&fx, fail.name);
    fx.t = QHIL_SEC;
    finish(&fx, &fail);
    qhil_progress_end(fx.p);
    s = written(&fx);
    assert_not_contains(s, "\033[2J");
    assert_not_contains(s, "\033[1A");
    assert_not_contains(s, "\302\233");
    assert_contains(s, "FAIL   ?[2Jevil?PASS (1.25s)\n");
    assert_contains(s, "       | boot\n       | ok?PASS  echo?[1A\n"
                       "       | ?J\n"
                       "       | ???|??|\xc3\xa9\n");
    /* The only CRs are the view's own. */
    assert_int_equal(count(s, "\r"), count(s, "\r\033[K"));
    close_view(&fx);
}

/* The header (the suite's name and path are input) and the notes too;
 * in LINES mode they are written as they are. */
static void test_hostile_header(void **state)
{
    static const qhil_progress_mode modes[] = {QHIL_PROGRESS_LIVE,
                                               QHIL_PROGRESS_LINES};
    size_t m;

    (void)state;
    for (m = 0; m < 2; m++) {
        qhil_progress_opts o = {.mode = modes[m], .width = 80};
        fixture fx;
        qhil_progress *p;

        memset(&fx, 0, sizeof(fx));
        fx.f = open_memstream(&fx.text, &fx.len);
        o.out = fx.f;
        o.header = "qhil: suite \033]0;owned\007x";
        assert_int_equal(qhil_progress_new(&o, &p, NULL), QHIL_EOK);
        fx.p = p;
        qhil_progress_note(p, "note\033[2J");
        qhil_progress_test_started(p, NULL);
        qhil_progress_end(p);
        if (modes[m] == QHIL_PROGRESS_LIVE) {
            assert_not_contains(written(&fx), "\033]");
            assert_not_contains(written(&fx), "\033[2J");
            assert_contains(written(&fx),
                            "qhil: suite ?]0;owned?x\n  note?[2J\n");
        } else {
            assert_string_equal(written(&fx), "qhil: suite \033]0;owned\007x\n"
                                              "  note\033[2J\n");
        }
        close_view(&fx);
    }
}

/* LIVE with colour: the counts coloured, the line still in place. */
static void test_live_color(void **state)
{
    fixture fx;
    qhil_test_result pass = {
        .name = "boots", .verdict = QHIL_PASS, .duration_ns = QHIL_SEC};

    (void)state;
    open_view(&fx, QHIL_PROGRESS_LIVE, true, 80, 2, 1);
    start(&fx, "boots");
    fx.t = QHIL_SEC;
    finish(&fx, &pass);
    start(&fx, "echo");
    fx.t += 200 * QHIL_MSEC;
    qhil_progress_tick(fx.p);
    qhil_progress_end(fx.p);
    assert_contains(written(&fx), "\033[32m1 passed\033[0m");
    assert_contains(written(&fx), "\r\033[K\033[32mPASS \033[0m  boots");
    close_view(&fx);
}

/* The reader is gone: the view stops at the first failed write. */
static void test_reader_gone(void **state)
{
    qhil_test_result pass = {.name = "boots", .verdict = QHIL_PASS};
    qhil_progress_opts o = {.total = 2};
    struct sigaction sa = {.sa_handler = SIG_IGN};
    struct sigaction old;
    qhil_progress *p;
    int fds[2];
    FILE *f;

    (void)state;
    sigaction(SIGPIPE, &sa, &old);
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    f = fdopen(fds[1], "w");
    assert_non_null(f);
    o.out = f;
    assert_int_equal(qhil_progress_new(&o, &p, NULL), QHIL_EOK);
    assert_int_equal(qhil_progress_error(p), QHIL_EOK);
    qhil_progress_test_done(p, NULL, &pass);
    assert_int_equal(qhil_progress_error(p), -EPIPE);
    qhil_progress_test_done(p, NULL, &pass);
    assert_int_equal(qhil_progress_end(p), -EPIPE);
    qhil_progress_free(p);
    fclose(f);
    sigaction(SIGPIPE, &old, NULL);
}

static void test_bad_opts(void **state)
{
    qhil_progress_opts o = {0};
    qhil_progress *p = (qhil_progress *)&o;
    qhil_error e;

    (void)state;
    qhil_error_init(&e);
    assert_int_equal(qhil_progress_new(&o, &p, &e), QHIL_EINVAL);
    assert_null(p);
    assert_contains(e.message, "no stream");
    qhil_error_release(&e);
    qhil_progress_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_exact),
        cmocka_unit_test(test_lines_color),
        cmocka_unit_test(test_lines_quiet),
        cmocka_unit_test(test_lines_no_escape),
        cmocka_unit_test(test_live_redraws),
        cmocka_unit_test(test_live_rate),
        cmocka_unit_test(test_live_width),
        cmocka_unit_test(test_live_wide_chars),
        cmocka_unit_test(test_live_default_width),
        cmocka_unit_test(test_live_hostile_text),
        cmocka_unit_test(test_hostile_header),
        cmocka_unit_test(test_live_color),
        cmocka_unit_test(test_reader_gone),
        cmocka_unit_test(test_bad_opts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
