/*
 * progress.c - the run as a person watching it sees it (progress.h).
 *
 * A view of the event stream, written to the caller's FILE.  Its state:
 * the counts (done, passed, failed, errors), the tests running now, each
 * with the time its TEST_START event came, the sum of the finished
 * tests' durations (for the estimate), and in LIVE mode whether the
 * status line is on the screen and what it says.
 *
 *   event TEST_START     add to the running ones; status (if due)
 *   test_done(result)    remove it, count it; wipe the status line,
 *                        write the test's lines whole; status (if due)
 *   tick                 status (if due)
 *   end                  wipe the status line; flush
 *
 * "If due": the status line's text changed (the clock moved on) and at
 * least PROGRESS_REDRAW_NS went by since the last redraw, so a run of
 * quick tests does not redraw faster than a terminal can show it.  The
 * line is cut to the width less one column (a terminal wraps a line that
 * fills its last column on some terminals, not on others): the counts
 * first, then the elapsed time and the estimate, then as many running
 * tests as fit, a long name shortened with "..", the rest as "+N".
 *
 * Text from the suite or the guest (test names, console lines) reaches a
 * terminal only in LIVE mode with its control characters (ESC, CR, C1
 * controls) shown as '?': a guest that prints "\rPASS" cannot overwrite
 * a FAIL line, nor a test name move the cursor.  LINES mode writes the
 * bytes as they are, as qhil always did, for the logs of CI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/progress.h>

#include "internal.h"

/* At most 10 redraws a second. */
#define PROGRESS_REDRAW_NS (100 * QHIL_MSEC)
/* A finished test's lines, console tail included. */
#define PROGRESS_BLOCK_MAX ((size_t)16 << 20)
/* The status line, escapes included. */
#define PROGRESS_LINE_MAX ((size_t)64 << 10)
/* Running tests tracked; more than any terminal line shows. */
#define PROGRESS_RUNNING_MAX 4096
/* Under this many columns the counts are short and the estimate left
 * out, for room for the running tests. */
#define PROGRESS_NARROW 60
/* Columns when the stream cannot tell. */
#define PROGRESS_WIDTH_DEFAULT 80

#define SGR_GREEN "\033[32m"
#define SGR_RED "\033[31m"
#define SGR_RED_BOLD "\033[31;1m"
#define SGR_YELLOW "\033[33m"
#define SGR_RESET "\033[0m"
#define WIPE "\r\033[K"

typedef struct running {
    char *name;
    int64_t since;
} running;

struct qhil_progress {
    qhil_progress_opts o;
    char *header;   /* NULL once written, or when there is none */
    qhil_buf notes; /* "  NOTE\n" lines not yet written */
    running *run;
    size_t n_run;
    size_t cap_run;
    size_t done;
    size_t passed;
    size_t failed;
    size_t errors;
    int64_t start;
    int64_t sum_ns; /* of the finished tests that ran */
    size_t n_timed;
    bool drawn; /* the status line is on the screen */
    bool ever_drawn;
    int64_t last_draw;
    char *shown; /* its text, when drawn */
    int error;   /* first failed write, -errno */
};

static int64_t now(const qhil_progress *p)
{
    return p->o.now ? p->o.now(p->o.now_data) : qhil_now();
}

/* --- writing ---------------------------------------------------------- */

static void put(qhil_progress *p, const char *s, size_t n)
{
    if (p->error || !n) {
        return;
    }
    if (fwrite(s, 1, n, p->o.out) != n) {
        p->error = errno ? -errno : QHIL_EIO;
    }
}

static void flush(qhil_progress *p)
{
    if (!p->error && fflush(p->o.out) != 0) {
        p->error = errno ? -errno : QHIL_EIO;
    }
}

static void wipe(qhil_progress *p)
{
    if (p->drawn) {
        put(p, WIPE, strlen(WIPE));
        p->drawn = false;
        free(p->shown);
        p->shown = NULL;
    }
}

static void put_text(const qhil_progress *p, qhil_buf *b, const char *s);

/* The header and the notes not yet written (the suite's name and path
 * are input too: made safe for a terminal as test names are). */
static void put_pending(qhil_progress *p)
{
    qhil_buf b;

    if (!p->header && !p->notes.len) {
        return;
    }
    qhil_buf_init(&b, 2 * PROGRESS_BLOCK_MAX);
    if (p->header) {
        put_text(p, &b, p->header);
        qhil_buf_puts(&b, "\n");
        free(p->header);
        p->header = NULL;
    }
    if (p->notes.len) {
        put_text(p, &b, p->notes.data);
        qhil_buf_consume(&p->notes, p->notes.len);
    }
    put(p, b.data, b.len);
    qhil_buf_release(&b);
}

/*
 * The length of the character at s (n > 0 bytes left) when it is
 * printable UTF-8, else 0: a control character (C0, DEL, C1 as UTF-8),
 * a byte that does not start a character, a sequence cut short.
 */
static size_t printable(const unsigned char *s, size_t n)
{
    size_t len;
    size_t i;

    if (s[0] < 0x20 || s[0] == 0x7f) {
        return 0;
    }
    if (s[0] < 0x80) {
        return 1;
    }
    len = s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
          : s[0] >= 0xe0 && s[0] <= 0xef ? 3
          : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                         : 0;
    if (!len || len > n || (s[0] == 0xc2 && s[1] < 0xa0)) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return len;
}

/* The bytes of one character printable says no to: a C1 control as
 * UTF-8 is two, anything else one. */
static size_t bad_length(const unsigned char *s, size_t n)
{
    return n >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0 ? 2 : 1;
}

/*
 * Columns a printable character of len bytes takes: 2 for the East Asian
 * wide and fullwidth ranges and the emoji blocks, else 1.  Counting a
 * combining mark as 1 only makes a line shorter than it could be; what
 * must never happen is a line wider than the terminal.
 */
static size_t char_columns(const unsigned char *s, size_t len)
{
    static const struct {
        uint32_t lo, hi;
    } wide[] = {
        {0x1100, 0x115f},   {0x2e80, 0x303e},   {0x3041, 0x33ff},
        {0x3400, 0x4dbf},   {0x4e00, 0x9fff},   {0xa000, 0xa4cf},
        {0xac00, 0xd7a3},   {0xf900, 0xfaff},   {0xfe30, 0xfe4f},
        {0xff00, 0xff60},   {0xffe0, 0xffe6},   {0x1f300, 0x1f64f},
        {0x1f900, 0x1f9ff}, {0x20000, 0x3fffd},
    };
    uint32_t c;
    size_t i;

    if (len < 3) {
        return 1;
    }
    c = len == 3
            ? (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 |
                  (s[2] & 0x3f)
            : (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
                  (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    for (i = 0; i < QHIL_ARRAY_SIZE(wide); i++) {
        if (c >= wide[i].lo && c <= wide[i].hi) {
            return 2;
        }
    }
    return 1;
}

/*
 * Append s to b for a terminal: control characters as '?', except keep
 * (a line break, a tab) and a CR just before a line break or at the end
 * (a guest's CRLF), which is dropped.  Returns the columns appended, at
 * most max, never cutting a character.
 */
static size_t put_safe(qhil_buf *b, const char *s, size_t n, size_t max,
                       bool keep_lf)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t cols = 0;
    size_t i = 0;

    while (i < n && cols < max) {
        size_t len = printable(u + i, n - i);
        size_t w = len ? char_columns(u + i, len) : 1;

        if (cols + w > max) {
            break;
        }
        if (len) {
            qhil_buf_append(b, s + i, len);
            i += len;
        } else if (keep_lf && (u[i] == '\n' || u[i] == '\t')) {
            qhil_buf_append(b, s + i, 1);
            i++;
        } else if (keep_lf && u[i] == '\r' &&
                   (i + 1 == n || u[i + 1] == '\n')) {
            i++;
            continue;
        } else {
            qhil_buf_puts(b, "?");
            i += bad_length(u + i, n - i);
        }
        cols += w;
    }
    return cols;
}

/* Columns s takes on a terminal, as put_safe writes it. */
static size_t columns(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t cols = 0;
    size_t i = 0;

    while (i < n) {
        size_t len = printable(u + i, n - i);

        cols += len ? char_columns(u + i, len) : 1;
        i += len ? len : bad_length(u + i, n - i);
    }
    return cols;
}

/* Text from the suite or the guest: as it is in LINES mode, made safe
 * for a terminal in LIVE mode. */
static void put_text(const qhil_progress *p, qhil_buf *b, const char *s)
{
    if (p->o.mode == QHIL_PROGRESS_LIVE) {
        put_safe(b, s, strlen(s), (size_t)-1, true);
    } else {
        qhil_buf_puts(b, s);
    }
}

/* --- a finished test -------------------------------------------------- */

/*
 * The verdict as a fixed-width label.  The one place that says how a
 * result is named on the screen: a test that passed only on a retry
 * (flaky) is to be labelled here, from its result, never as a plain
 * PASS.
 */
static const char *label(const qhil_progress *p, const qhil_test_result *r)
{
    static const char *const plain[] = {"PASS ", "FAIL ", "ERROR", "SKIP "};
    static const char *const colored[] = {
        SGR_GREEN "PASS " SGR_RESET, SGR_RED "FAIL " SGR_RESET,
        SGR_RED_BOLD "ERROR" SGR_RESET, SGR_YELLOW "SKIP " SGR_RESET};

    if (r->interrupted) {
        return p->o.color ? SGR_YELLOW "INTR " SGR_RESET : "INTR ";
    }
    if (r->flaky) {
        return p->o.color ? SGR_YELLOW "FLAKY" SGR_RESET : "FLAKY";
    }
    if ((unsigned)r->verdict > QHIL_SKIP) {
        return "?    ";
    }
    return p->o.color ? colored[r->verdict] : plain[r->verdict];
}

/* The lines of one finished test, as qhil run always printed them. */
static void block(const qhil_progress *p, const qhil_test_result *r,
                  qhil_buf *b)
{
    const char *name = r->name ? r->name : "?";

    qhil_buf_printf(b, "%s  ", label(p, r));
    put_text(p, b, name);
    qhil_buf_printf(b, " (%.2fs)", (double)r->duration_ns / 1e9);
    if (r->attempts > 1) {
        qhil_buf_printf(b, " (attempt %u of %u)", r->attempts,
                        r->max_attempts > r->attempts ? r->max_attempts
                                                      : r->attempts);
    }
    qhil_buf_puts(b, "\n");
    if (r->verdict == QHIL_PASS || r->verdict == QHIL_SKIP) {
        return;
    }
    if (r->step) {
        qhil_buf_printf(b, "       step %zu (line %d): ", r->step,
                        r->step_line);
        put_text(p, b, r->step_desc ? r->step_desc : "");
        qhil_buf_puts(b, "\n");
    }
    qhil_buf_puts(b, "       ");
    put_text(p, b, r->message ? r->message : "failed");
    qhil_buf_puts(b, "\n");
    if (r->console_tail && *r->console_tail) {
        const char *line = r->console_tail;

        qhil_buf_puts(b, "       last console lines:\n");
        while (*line) {
            const char *lf = strchr(line, '\n');
            size_t n = lf ? (size_t)(lf - line) : strlen(line);

            qhil_buf_puts(b, "       | ");
            if (p->o.mode == QHIL_PROGRESS_LIVE) {
                put_safe(b, line, n, (size_t)-1, true);
            } else {
                qhil_buf_append(b, line, n);
            }
            qhil_buf_puts(b, "\n");
            line += n + (lf ? 1 : 0);
        }
    }
    if (r->console_log && r->qemu_log) {
        qhil_buf_puts(b, "       logs: ");
        put_text(p, b, r->console_log);
        qhil_buf_puts(b, ", ");
        put_text(p, b, r->qemu_log);
        qhil_buf_puts(b, "\n");
    }
}

/* --- the status line -------------------------------------------------- */

/* A line being built: text (escapes included) and the columns it takes. */
typedef struct status {
    qhil_buf b;
    size_t cols;
    size_t max;
    bool color;
} status;

/* Append text, at most n columns of it and of what the line has left,
 * in colour sgr (may be NULL). */
static void status_add(status *s, const char *text, const char *sgr, size_t n)
{
    size_t left = s->max > s->cols ? s->max - s->cols : 0;

    if (n < left) {
        left = n;
    }
    if (!left || !*text) {
        return;
    }
    if (sgr && s->color) {
        qhil_buf_puts(&s->b, sgr);
    }
    s->cols += put_safe(&s->b, text, strlen(text), left, false);
    if (sgr && s->color) {
        qhil_buf_puts(&s->b, SGR_RESET);
    }
}

#define ALL ((size_t)-1)

/* "0:07", "12:30", "1:02:03" */
static void clock_text(char *out, size_t size, int64_t ns)
{
    long long s = ns > 0 ? (long long)(ns / QHIL_SEC) : 0;

    if (s >= 3600) {
        snprintf(out, size, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60,
                 s % 60);
    } else {
        snprintf(out, size, "%lld:%02lld", s / 60, s % 60);
    }
}

/* How long a test has run: "3.2s", then "1:05". */
static void run_text(char *out, size_t size, int64_t ns)
{
    if (ns < 0) {
        ns = 0;
    }
    if (ns < 60 * QHIL_SEC) {
        snprintf(out, size, "%lld.%llds", (long long)(ns / QHIL_SEC),
                 (long long)(ns / (QHIL_SEC / 10) % 10));
    } else {
        clock_text(out, size, ns);
    }
}

/* The time left: the mean of the finished tests for each test not
 * started, what the mean leaves of each running one, over the jobs. */
static void left_text(const qhil_progress *p, int64_t t, char *out, size_t size)
{
    size_t jobs = p->o.jobs ? p->o.jobs : 1;
    size_t waiting;
    int64_t mean;
    int64_t work;
    size_t i;

    if (!p->n_timed) {
        snprintf(out, size, "?");
        return;
    }
    mean = p->sum_ns / (int64_t)p->n_timed;
    waiting =
        p->o.total > p->done + p->n_run ? p->o.total - p->done - p->n_run : 0;
    work = mean * (int64_t)waiting;
    for (i = 0; i < p->n_run; i++) {
        int64_t ran = t - p->run[i].since;

        work += ran < mean ? mean - ran : 0;
    }
    if (waiting + p->n_run < jobs) {
        jobs = waiting + p->n_run ? waiting + p->n_run : 1;
    }
    /* Rounded up: "~0:00" would say it is over. */
    out[0] = '~';
    clock_text(out + 1, size - 1,
               (work / (int64_t)jobs + QHIL_SEC - 1) / QHIL_SEC * QHIL_SEC);
}

static unsigned width(const qhil_progress *p)
{
    struct winsize ws;

    if (p->o.width) {
        return p->o.width;
    }
    if (ioctl(fileno(p->o.out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return PROGRESS_WIDTH_DEFAULT;
}

/*
 * "[3/10] 2 passed, 1 failed | boots 3.2s, echo 0.4s, +2 | 0:12, ~0:30
 * left", at most width - 1 columns.  Caller frees; NULL on ENOMEM.
 */
static char *status_text(const qhil_progress *p, int64_t t)
{
    status s = {.max = width(p) - 1, .color = p->o.color};
    char tail[96];
    char left[40];
    char el[32];
    char num[64];
    bool narrow = s.max < PROGRESS_NARROW;
    size_t budget;
    size_t i;

    qhil_buf_init(&s.b, PROGRESS_LINE_MAX);
    snprintf(num, sizeof(num), "[%zu/%zu] ", p->done, p->o.total);
    status_add(&s, num, NULL, ALL);
    snprintf(num, sizeof(num), narrow ? "%zu ok" : "%zu passed", p->passed);
    status_add(&s, num, p->passed ? SGR_GREEN : NULL, ALL);
    status_add(&s, narrow ? " " : ", ", NULL, ALL);
    snprintf(num, sizeof(num), narrow ? "%zu fail" : "%zu failed", p->failed);
    status_add(&s, num, p->failed ? SGR_RED : NULL, ALL);
    if (p->errors) {
        status_add(&s, narrow ? " " : ", ", NULL, ALL);
        snprintf(num, sizeof(num), narrow ? "%zu err" : "%zu error%s",
                 p->errors, p->errors == 1 ? "" : "s");
        status_add(&s, num, SGR_RED_BOLD, ALL);
    }
    clock_text(el, sizeof(el), t - p->start);
    left_text(p, t, left, sizeof(left));
    if (narrow) {
        snprintf(tail, sizeof(tail), " | %s", el);
    } else {
        snprintf(tail, sizeof(tail), " | %s, %s left", el, left);
    }

    /* The running tests get what the counts and the times leave. */
    budget = s.max > s.cols + strlen(tail) ? s.max - s.cols - strlen(tail) : 0;
    for (i = 0; i < p->n_run; i++) {
        const char *sep = i ? ", " : " | ";
        char took[32];
        size_t fixed;
        size_t more;

        run_text(took, sizeof(took), t - p->run[i].since);
        fixed = strlen(sep) + 1 + strlen(took);
        /* Room kept for ", +N" when others follow. */
        snprintf(num, sizeof(num), ", +%zu", p->n_run - i - 1);
        more = i + 1 < p->n_run ? strlen(num) : 0;
        if (fixed + columns(p->run[i].name) + more <= budget) {
            status_add(&s, sep, NULL, ALL);
            status_add(&s, p->run[i].name, NULL, ALL);
            status_add(&s, " ", NULL, ALL);
            status_add(&s, took, NULL, ALL);
            budget -= fixed + columns(p->run[i].name);
            continue;
        }
        if (i == 0 && budget >= fixed + 2 + 3 + more) {
            /* The first one shortened: some of its name and "..". */
            size_t room = budget - fixed - 2 - more;

            status_add(&s, sep, NULL, ALL);
            status_add(&s, p->run[i].name, NULL, room);
            status_add(&s, ".. ", NULL, ALL);
            status_add(&s, took, NULL, ALL);
            budget = more;
            i++;
        }
        break;
    }
    if (i < p->n_run && i > 0) {
        snprintf(num, sizeof(num), ", +%zu", p->n_run - i);
        status_add(&s, num, NULL, budget);
    }
    status_add(&s, tail, NULL, ALL);
    return qhil_buf_steal(&s.b);
}

/* Redraw the status line when it is due (the design comment). */
static void status_redraw(qhil_progress *p)
{
    int64_t t;
    char *text;

    if (p->o.mode != QHIL_PROGRESS_LIVE || p->error) {
        return;
    }
    t = now(p);
    if (p->ever_drawn && t - p->last_draw < PROGRESS_REDRAW_NS) {
        return;
    }
    text = status_text(p, t);
    if (!text || (p->drawn && p->shown && strcmp(text, p->shown) == 0)) {
        free(text);
        return;
    }
    put_pending(p);
    put(p, WIPE, strlen(WIPE));
    put(p, text, strlen(text));
    flush(p);
    free(p->shown);
    p->shown = text;
    p->drawn = true;
    p->ever_drawn = true;
    p->last_draw = t;
}

/* --- the calls -------------------------------------------------------- */

int qhil_progress_new(const qhil_progress_opts *opts, qhil_progress **out,
                      qhil_error *err)
{
    qhil_progress *p;

    *out = NULL;
    if (!opts || !opts->out) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "progress: no stream to write to");
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    p->o = *opts;
    p->o.header = NULL;
    qhil_buf_init(&p->notes, PROGRESS_BLOCK_MAX);
    if (opts->header && !opts->quiet && !(p->header = strdup(opts->header))) {
        free(p);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    p->start = now(p);
    *out = p;
    return QHIL_EOK;
}

int qhil_progress_note(qhil_progress *p, const char *note)
{
    if (p->o.quiet) {
        return QHIL_EOK;
    }
    return qhil_buf_printf(&p->notes, "  %s\n", note);
}

void qhil_progress_test_started(void *data, const qhil_test *test)
{
    qhil_progress *p = data;

    (void)test;
    if (p->header || p->notes.len) {
        wipe(p);
        put_pending(p);
        flush(p);
    }
    status_redraw(p);
}

void qhil_progress_event(void *data, const qhil_event *ev)
{
    qhil_progress *p = data;

    if (ev->kind == QHIL_EVENT_TEST_START) {
        const char *name = ev->test ? ev->test : "?";

        if (p->n_run == p->cap_run && p->n_run < PROGRESS_RUNNING_MAX) {
            size_t cap = p->cap_run ? 2 * p->cap_run : 8;
            running *grown = realloc(p->run, cap * sizeof(*grown));

            if (grown) {
                p->run = grown;
                p->cap_run = cap;
            }
        }
        if (p->n_run < p->cap_run) {
            p->run[p->n_run].name = strdup(name);
            if (p->run[p->n_run].name) {
                p->run[p->n_run++].since = now(p);
            }
        }
    }
    status_redraw(p);
}

/* A finished test's lines, whole (past the cap, the pieces that
 * fitted), above the status line; b is released. */
static void put_block(qhil_progress *p, qhil_buf *b)
{
    wipe(p);
    put_pending(p);
    put(p, b->data, b->len);
    flush(p);
    qhil_buf_release(b);
    status_redraw(p);
}

/* The running test named name ended (an attempt or the test). */
static void running_end(qhil_progress *p, const char *name)
{
    size_t i;

    for (i = 0; name && i < p->n_run; i++) {
        if (strcmp(p->run[i].name, name) == 0) {
            free(p->run[i].name);
            memmove(&p->run[i], &p->run[i + 1],
                    (p->n_run - i - 1) * sizeof(*p->run));
            p->n_run--;
            return;
        }
    }
}

void qhil_progress_test_retry(void *data, const qhil_test *test,
                              const qhil_test_result *r)
{
    qhil_progress *p = data;
    qhil_buf b;

    (void)test;
    running_end(p, r->name);
    qhil_buf_init(&b, PROGRESS_BLOCK_MAX);
    qhil_buf_printf(&b, "%s  ", label(p, &(qhil_test_result){
                                              .verdict = r->verdict}));
    put_text(p, &b, r->name ? r->name : "?");
    qhil_buf_printf(&b, " (%.2fs) attempt %u of %u: ",
                    (double)r->duration_ns / 1e9, r->attempts,
                    r->max_attempts > r->attempts ? r->max_attempts
                                                  : r->attempts);
    put_text(p, &b, r->message ? r->message : "failed");
    qhil_buf_puts(&b, "; retrying\n");
    put_block(p, &b);
}

void qhil_progress_test_done(void *data, const qhil_test *test,
                             const qhil_test_result *r)
{
    qhil_progress *p = data;
    qhil_buf b;

    (void)test;
    running_end(p, r->name);
    p->done++;
    if (r->interrupted) {
        /* Counted in done only: the summary says interrupted. */
    } else if (r->verdict == QHIL_PASS) {
        p->passed++;
    } else if (r->verdict == QHIL_FAIL) {
        p->failed++;
    } else if (r->verdict == QHIL_ERROR) {
        p->errors++;
    }
    if (!r->not_run && r->verdict != QHIL_SKIP && r->duration_ns > 0) {
        p->sum_ns += r->duration_ns;
        p->n_timed++;
    }
    if (p->o.quiet && r->verdict == QHIL_PASS && !r->interrupted &&
        !r->flaky) {
        status_redraw(p);
        return;
    }
    qhil_buf_init(&b, PROGRESS_BLOCK_MAX);
    block(p, r, &b);
    put_block(p, &b);
}

void qhil_progress_tick(void *data)
{
    status_redraw(data);
}

int qhil_progress_end(qhil_progress *p)
{
    wipe(p);
    flush(p);
    return p->error;
}

int qhil_progress_error(const qhil_progress *p)
{
    return p->error;
}

void qhil_progress_free(qhil_progress *p)
{
    size_t i;

    if (!p) {
        return;
    }
    for (i = 0; i < p->n_run; i++) {
        free(p->run[i].name);
    }
    free(p->run);
    free(p->shown);
    free(p->header);
    qhil_buf_release(&p->notes);
    free(p);
}
