/*
 * report.c - suite results and their JUnit XML and TAP 13 reports.
 *
 * Console output is firmware output: any bytes at all.  XML 1.0 cannot
 * carry most control characters even as character references, and a
 * report that does not parse is worse than none, so the JUnit writer
 * passes text through one filter (xmltext.c, which the JUnit merger
 * shares): valid UTF-8 that XML allows is kept
 * (with & < > " ' escaped), anything else becomes U+FFFD.  TAP's YAML
 * blocks use double-quoted scalars with YAML escapes for the same reason.
 *
 * Numbers are formatted with integer arithmetic, so the report does not
 * depend on the process locale's decimal point.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <qhil/report.h>

#include "eventlog.h"
#include "internal.h"
#include "report_json.h"
#include "xmltext.h"

/* Largest part of a console or QEMU log embedded in a JUnit report. */
#define LOG_TAIL_MAX ((size_t)1 << 20)

const char *qhil_verdict_name(qhil_verdict v)
{
    switch (v) {
    case QHIL_PASS:
        return "pass";
    case QHIL_FAIL:
        return "fail";
    case QHIL_ERROR:
        return "error";
    case QHIL_SKIP:
        return "skip";
    }
    return "unknown";
}

static void free_failures(qhil_failure *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++) {
        free(f[i].message);
    }
    free(f);
}

static void free_steps(qhil_step_time *st, size_t n)
{
    for (size_t i = 0; st && i < n; i++) {
        free(st[i].desc);
    }
    free(st);
}

void qhil_test_result_release(qhil_test_result *r)
{
    size_t i;

    if (!r) {
        return;
    }
    free(r->name);
    free(r->step_desc);
    free(r->message);
    free(r->console_tail);
    free(r->console_log);
    free(r->qemu_log);
    free(r->qemu_version);
    free(r->pattern);
    json_decref(r->events);
    free(r->events_log);
    free_failures(r->failures, r->n_failures);
    free_steps(r->steps, r->n_steps);
    for (i = 0; r->tags && i < r->n_tags; i++) {
        free(r->tags[i]);
    }
    free(r->tags);
    for (i = 0; i < r->n_tries; i++) {
        qhil_test_try *t = &r->tries[i];

        free(t->step_desc);
        free(t->message);
        free(t->console_tail);
        free(t->console_log);
        free(t->qemu_log);
        json_decref(t->events);
        free(t->events_log);
        free_failures(t->failures, t->n_failures);
        free_steps(t->steps, t->n_steps);
    }
    free(r->tries);
    memset(r, 0, sizeof(*r));
}

const qhil_test_result *qhil_suite_result_test(const qhil_suite_result *r,
                                               size_t i)
{
    return r && i < r->n_tests ? &r->tests[i] : NULL;
}

void qhil_suite_result_free(qhil_suite_result *r)
{
    size_t i;

    if (!r) {
        return;
    }
    for (i = 0; i < r->n_tests; i++) {
        qhil_test_result_release(&r->tests[i]);
    }
    free(r->tests);
    free(r->name);
    free(r->file);
    free(r->run_dir);
    free(r->device_type);
    free(r);
}

size_t qhil_suite_result_count(const qhil_suite_result *r, qhil_verdict v)
{
    size_t i;
    size_t n = 0;

    for (i = 0; r && i < r->n_tests; i++) {
        if (r->tests[i].verdict == v) {
            n++;
        }
    }
    return n;
}

/* ---- what a result cannot know by itself ---- */

/* The QEMU version of the first machine_start among the kept events. */
static const char *events_qemu_version(const json_t *events)
{
    const json_t *ev;
    const char *kind;
    const char *v;
    size_t i;

    json_array_foreach(events, i, ev) {
        kind = json_string_value(json_object_get(ev, "kind"));
        if (kind && strcmp(kind, "machine_start") == 0) {
            v = json_string_value(json_object_get(ev, "qemu_version"));
            return v && *v ? v : NULL;
        }
    }
    return NULL;
}

/* t's QEMU version from its kept events, in memory or in its file;
 * -1 when out of memory. */
static int qemu_version_of(qhil_test_result *t)
{
    json_t *ev = NULL;
    const char *v;
    int rc = 0;

    v = events_qemu_version(t->events);
    if (!v && !t->events && t->events_log) {
        ev = qhil_eventlog_find(t->events_log, t->events_kept,
                                "machine_start");
        v = json_string_value(json_object_get(ev, "qemu_version"));
        v = v && *v ? v : NULL;
    }
    if (v && !(t->qemu_version = strdup(v))) {
        rc = -1;
    }
    json_decref(ev);
    return rc;
}

/* name is test's name, alone or followed by " [k/m]" for a repeat. */
static int result_is_test(const char *name, const char *test, unsigned k,
                          unsigned m)
{
    size_t n = strlen(test);
    char *want = NULL;
    int same;

    if (!name || strncmp(name, test, n) != 0) {
        return 0;
    }
    if (m < 2) {
        return name[n] == '\0';
    }
    if (asprintf(&want, " [%u/%u]", k, m) < 0) {
        return 0;
    }
    same = strcmp(name + n, want) == 0;
    free(want);
    return same;
}

int qhil_suite_result_annotate(qhil_suite_result *r, const qhil_suite *suite,
                               const size_t *order, size_t n_order)
{
    unsigned *total = NULL;
    unsigned *seen = NULL;
    const qhil_test *test;
    const qhil_step *st;
    qhil_test_result *t;
    size_t n;
    size_t i;
    size_t j;
    int matched;
    int rc = QHIL_ENOMEM;

    if (!r) {
        return QHIL_EOK;
    }
    n = order ? n_order : (suite ? suite->n_tests : 0);
    matched = suite && r->n_tests == n;
    for (i = 0; matched && order && i < n; i++) {
        matched = order[i] < suite->n_tests;
    }
    if (matched && suite->n_tests > 0) {
        total = calloc(suite->n_tests, sizeof(*total));
        seen = calloc(suite->n_tests, sizeof(*seen));
        if (!total || !seen) {
            goto cleanup;
        }
        for (i = 0; i < n; i++) {
            total[order ? order[i] : i]++;
        }
    }
    for (i = 0; i < r->n_tests; i++) {
        t = &r->tests[i];
        if (t->attempts == 0) {
            t->attempts = 1;
        }
        if (!t->qemu_version && qemu_version_of(t) < 0) {
            goto cleanup;
        }
        if (!matched) {
            continue;
        }
        j = order ? order[i] : i;
        test = &suite->tests[j];
        seen[j]++;
        if (!result_is_test(t->name, test->name, seen[j], total[j])) {
            continue;
        }
        if (total[j] > 1 && t->repeats == 0) {
            t->repeat = seen[j];
            t->repeats = total[j];
        }
        if (t->step > 0 && t->step <= test->n_steps && !t->pattern) {
            st = &test->steps[t->step - 1];
            if (st->kind == QHIL_STEP_EXPECT && st->pattern &&
                !(t->pattern = strdup(st->pattern))) {
                goto cleanup;
            }
        }
    }
    rc = QHIL_EOK;

cleanup:
    free(total);
    free(seen);
    return rc;
}

/* ---- text filters ---- */

static void xml_puts(FILE *out, const char *s, int attr)
{
    if (s) {
        qhil_xml_write(out, s, strlen(s), attr ? QHIL_XML_ATTR : 0);
    }
}

/* Characters a YAML double-quoted scalar may hold unescaped. */
static int yaml_printable(uint32_t cp)
{
    return (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
           (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Write s as a YAML double-quoted scalar; invalid UTF-8 becomes U+FFFD. */
static void yaml_quote(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + strlen(s);
    uint32_t cp = 0;
    size_t n;

    fputc('"', out);
    while (p < end) {
        n = qhil_utf8_decode(p, (size_t)(end - p), &cp);
        if (n == 0) {
            fputs("\\uFFFD", out);
            p++;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            fputc('\\', out);
            fputc((int)cp, out);
        } else if (cp == '\n') {
            fputs("\\n", out);
        } else if (cp == '\t') {
            fputs("\\t", out);
        } else if (cp == '\r') {
            fputs("\\r", out);
        } else if (!yaml_printable(cp)) {
            if (cp < 0x100) {
                fprintf(out, "\\x%02X", (unsigned)cp);
            } else {
                fprintf(out, "\\u%04X", (unsigned)cp);
            }
        } else {
            fwrite(p, 1, n, out);
        }
        p += n;
    }
    fputc('"', out);
}

/* A test name or directive reason on a TAP line: one line, '#' escaped. */
static void tap_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '#' || *s == '\\') {
            fputc('\\', out);
            fputc(*s, out);
        } else if ((unsigned char)*s < 0x20 || *s == 0x7F) {
            fputc(' ', out);
        } else {
            fputc(*s, out);
        }
    }
}

/* Seconds with three decimals, without going through the locale. */
static void write_seconds(FILE *out, int64_t ns)
{
    int64_t ms;

    if (ns < 0) {
        ns = 0;
    }
    ms = (ns + 500000) / 1000000;
    fprintf(out, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
}

/* ---- logs ---- */

/*
 * Read at most LOG_TAIL_MAX bytes from the end of path into b.  *total
 * gets the file size.  Returns 0 or -errno.
 */
static int read_tail(const char *path, qhil_buf *b, off_t *total)
{
    struct stat st;
    size_t want;
    ssize_t n;
    int fd;
    int rc = 0;

    *total = 0;
    /* Only a regular file is read: a link or FIFO planted as a log
     * must neither leak another file into the report nor hang it. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        goto cleanup;
    }
    *total = st.st_size;
    if (S_ISREG(st.st_mode) && (size_t)st.st_size > LOG_TAIL_MAX &&
        lseek(fd, st.st_size - (off_t)LOG_TAIL_MAX, SEEK_SET) < 0) {
        rc = -errno;
        goto cleanup;
    }
    while (b->len < b->max) {
        want = b->max - b->len < 65536 ? b->max - b->len : 65536;
        rc = qhil_buf_reserve(b, want);
        if (rc < 0) {
            goto cleanup;
        }
        n = read(fd, b->data + b->len, want);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            goto cleanup;
        }
        if (n == 0) {
            break;
        }
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    rc = 0;

cleanup:
    close(fd);
    return rc;
}

/*
 * Write element (system-out or system-err) holding the tail of path.
 * With skip_empty, an empty log writes nothing at all.
 */
static void junit_log(FILE *out, const char *element, const char *what,
                      const char *path, int skip_empty)
{
    qhil_buf b;
    off_t total = 0;
    size_t skip = 0;
    int rc;

    qhil_buf_init(&b, LOG_TAIL_MAX);
    rc = read_tail(path, &b, &total);
    if (rc == 0 && b.len == 0 && skip_empty) {
        qhil_buf_release(&b);
        return;
    }
    fprintf(out, "      <%s>", element);
    if (rc < 0) {
        fprintf(out, "[qhil: %s ", what);
        xml_puts(out, path, 0);
        fprintf(out, " could not be read: %s]\n", strerror(-rc));
    } else {
        if ((uint64_t)total > (uint64_t)b.len) {
            /* Do not start inside a UTF-8 sequence cut in half. */
            while (skip < 3 && skip < b.len &&
                   ((unsigned char)b.data[skip] & 0xC0) == 0x80) {
                skip++;
            }
            fprintf(out,
                    "[qhil: %s cut: showing the last %zu of %" PRIu64
                    " bytes]\n",
                    what, b.len - skip, (uint64_t)total);
        }
        if (b.len > skip) {
            qhil_xml_write(out, b.data + skip, b.len - skip, 0);
        }
    }
    fprintf(out, "</%s>\n", element);
    qhil_buf_release(&b);
}

/* ---- JUnit ---- */

/* Every failure the test recorded, when there is more than the one in
 * message: in order, each with its step. */
static void junit_failures(FILE *out, const qhil_test_result *t)
{
    size_t i;

    if (t->n_failures < 2) {
        return;
    }
    fprintf(out, "\nall %zu failures:\n", t->n_failures + t->failures_dropped);
    for (i = 0; i < t->n_failures; i++) {
        const qhil_failure *f = &t->failures[i];

        fprintf(out, "%zu. ", i + 1);
        if (f->step) {
            fprintf(out, "step %zu", f->step);
            if (f->line > 0) {
                fprintf(out, " (line %d)", f->line);
            }
            fputs(", ", out);
        }
        fprintf(out, "%s: ", qhil_verdict_name(f->verdict));
        xml_puts(out, f->message ? f->message : "", 0);
        fputc('\n', out);
    }
    if (t->failures_dropped) {
        fprintf(out, "(%zu more not kept)\n", t->failures_dropped);
    }
}

static void junit_problem(FILE *out, const qhil_test_result *t)
{
    const char *element = t->verdict == QHIL_FAIL ? "failure" : "error";
    const char *fallback =
        t->verdict == QHIL_FAIL ? "test failed" : "test could not run";

    fprintf(out, "      <%s message=\"", element);
    xml_puts(out, t->message ? t->message : fallback, 1);
    fprintf(out, "\" type=\"%s\">", qhil_verdict_name(t->verdict));
    if (t->step) {
        fprintf(out, "step %zu", t->step);
        if (t->step_line > 0) {
            fprintf(out, " (line %d)", t->step_line);
        }
        if (t->step_desc) {
            fputs(": ", out);
            xml_puts(out, t->step_desc, 0);
        }
        fputc('\n', out);
    }
    if (t->pattern) {
        fputs("pattern: ", out);
        xml_puts(out, t->pattern, 0);
        fputc('\n', out);
    }
    xml_puts(out, t->message ? t->message : fallback, 0);
    fputc('\n', out);
    junit_failures(out, t);
    if (t->console_tail && *t->console_tail) {
        fputs("\nconsole tail:\n", out);
        xml_puts(out, t->console_tail, 0);
        if (t->console_tail[strlen(t->console_tail) - 1] != '\n') {
            fputc('\n', out);
        }
    }
    fprintf(out, "</%s>\n", element);
}

static void junit_property(FILE *out, const char *name, const char *value)
{
    fprintf(out, "        <property name=\"%s\" value=\"", name);
    xml_puts(out, value, 1);
    fputs("\"/>\n", out);
}

/* Steps timed as properties, at most this many per test. */
#define JUNIT_STEP_PROPS 200

/* "step 2" = "0.480080s pass: expect "Hello"", one per step. */
static void junit_step_times(FILE *out, const qhil_test_result *t)
{
    size_t i;

    for (i = 0; i < t->n_steps && i < JUNIT_STEP_PROPS; i++) {
        const qhil_step_time *st = &t->steps[i];

        fprintf(out, "        <property name=\"step %zu\" value=\"", st->step);
        if (st->duration_ns >= 0) {
            write_seconds(out, st->duration_ns);
            fputs("s ", out);
        } else {
            fputs("unfinished ", out);
        }
        fputs(qhil_verdict_name(st->verdict), out);
        if (st->desc) {
            fputs(": ", out);
            xml_puts(out, st->desc, 1);
        }
        fputs("\"/>\n", out);
    }
}

/*
 * The facts a CI server shows beside a test: its board, the QEMU that
 * ran it, the shuffle seed and repeat of the run, and its attempts.
 * <properties> comes first in <testcase>, where Jenkins' JUnit plugin
 * reads it; GitLab ignores it.
 */
static void junit_properties(FILE *out, const qhil_suite_result *r,
                             const qhil_test_result *t)
{
    char num[48];

    fputs("      <properties>\n", out);
    if (r->device_type) {
        junit_property(out, "board", r->device_type);
    }
    if (t->qemu_version) {
        junit_property(out, "qemu_version", t->qemu_version);
    }
    if (r->shuffled) {
        snprintf(num, sizeof(num), "%" PRIu64, r->seed);
        junit_property(out, "shuffle_seed", num);
    }
    if (t->repeats > 0) {
        snprintf(num, sizeof(num), "%u/%u", t->repeat, t->repeats);
        junit_property(out, "repeat", num);
    }
    snprintf(num, sizeof(num), "%u", t->attempts ? t->attempts : 1);
    junit_property(out, "attempts", num);
    if (t->flaky) {
        junit_property(out, "flaky", "true");
    }
    junit_step_times(out, t);
    fputs("      </properties>\n", out);
}

/*
 * An earlier attempt of a retried test, as Maven Surefire writes reruns
 * and Jenkins' JUnit plugin reads them: <flakyFailure> / <flakyError>
 * when the test passed in the end, <rerunFailure> / <rerunError> when it
 * never did, with the message and type of <failure>, the failure's
 * details in <stackTrace>, and the attempt's console and QEMU logs in
 * its own <system-out> and <system-err>.
 */
static void junit_try(FILE *out, const qhil_test_result *t,
                      const qhil_test_try *a, unsigned k)
{
    const char *element =
        t->verdict == QHIL_PASS
            ? (a->verdict == QHIL_FAIL ? "flakyFailure" : "flakyError")
            : (a->verdict == QHIL_FAIL ? "rerunFailure" : "rerunError");
    const char *msg =
        a->message
            ? a->message
            : (a->verdict == QHIL_FAIL ? "test failed" : "test could not run");

    fprintf(out, "      <%s message=\"", element);
    xml_puts(out, msg, 1);
    fprintf(out, "\" type=\"%s\">\n", qhil_verdict_name(a->verdict));
    fprintf(out, "        <stackTrace>attempt %u of %u", k,
            t->attempts ? t->attempts : k);
    if (a->step) {
        fprintf(out, ", step %zu", a->step);
        if (a->step_line > 0) {
            fprintf(out, " (line %d)", a->step_line);
        }
        if (a->step_desc) {
            fputs(": ", out);
            xml_puts(out, a->step_desc, 0);
        }
    }
    fputc('\n', out);
    xml_puts(out, msg, 0);
    fputc('\n', out);
    if (a->console_tail && *a->console_tail) {
        fputs("\nconsole tail:\n", out);
        xml_puts(out, a->console_tail, 0);
        if (a->console_tail[strlen(a->console_tail) - 1] != '\n') {
            fputc('\n', out);
        }
    }
    fputs("</stackTrace>\n", out);
    if (a->console_log) {
        junit_log(out, "system-out", "console log", a->console_log, 0);
    }
    if (a->qemu_log) {
        junit_log(out, "system-err", "QEMU log", a->qemu_log, 1);
    }
    fprintf(out, "      </%s>\n", element);
}

static void junit_test(FILE *out, const qhil_suite_result *r,
                       const qhil_test_result *t)
{

    fputs("    <testcase classname=\"", out);
    xml_puts(out, r->name ? r->name : "qhil", 1);
    fputs("\" name=\"", out);
    xml_puts(out, t->name ? t->name : "", 1);
    fputs("\" time=\"", out);
    write_seconds(out, t->duration_ns);
    fputs("\">\n", out);
    junit_properties(out, r, t);
    if (t->verdict == QHIL_FAIL || t->verdict == QHIL_ERROR) {
        junit_problem(out, t);
    } else if (t->verdict == QHIL_SKIP) {
        if (t->message) {
            fputs("      <skipped message=\"", out);
            xml_puts(out, t->message, 1);
            fputs("\"/>\n", out);
        } else {
            fputs("      <skipped/>\n", out);
        }
    }
    for (size_t i = 0; i < t->n_tries; i++) {
        junit_try(out, t, &t->tries[i], (unsigned)i + 1);
    }
    if (t->console_log) {
        junit_log(out, "system-out", "console log", t->console_log, 0);
    }
    if (t->qemu_log) {
        junit_log(out, "system-err", "QEMU log", t->qemu_log, 1);
    }
    fputs("    </testcase>\n", out);
}

static void write_junit(const qhil_suite_result *r, FILE *out)
{
    char stamp[32] = "1970-01-01T00:00:00Z";
    time_t when = (time_t)r->started_unix;
    struct tm tm;
    size_t i;

    if (gmtime_r(&when, &tm)) {
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", out);
    fputs("  <testsuite name=\"", out);
    xml_puts(out, r->name ? r->name : "qhil", 1);
    fprintf(out,
            "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"%zu\" time=\"",
            r->n_tests, qhil_suite_result_count(r, QHIL_FAIL),
            qhil_suite_result_count(r, QHIL_ERROR),
            qhil_suite_result_count(r, QHIL_SKIP));
    write_seconds(out, r->duration_ns);
    fprintf(out, "\" timestamp=\"%s\">\n", stamp);
    for (i = 0; i < r->n_tests; i++) {
        junit_test(out, r, &r->tests[i]);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
}

/* ---- TAP ---- */

/* A retried test's earlier attempts, in its YAML block. */
static void tap_tries(FILE *out, const qhil_test_result *t)
{
    if (!t->n_tries) {
        return;
    }
    fprintf(out, "  attempts: %u\n  failed_attempts:\n",
            t->attempts ? t->attempts : (unsigned)t->n_tries + 1);
    for (size_t i = 0; i < t->n_tries; i++) {
        const qhil_test_try *a = &t->tries[i];

        fprintf(out, "    - attempt: %zu\n      severity: %s\n", i + 1,
                qhil_verdict_name(a->verdict));
        fputs("      message: ", out);
        yaml_quote(out, a->message ? a->message : "failed");
        fputc('\n', out);
        if (a->step) {
            fprintf(out, "      step: %zu\n", a->step);
        }
        fputs("      duration: ", out);
        write_seconds(out, a->duration_ns);
        fputc('\n', out);
        if (a->console_log) {
            fputs("      console_log: ", out);
            yaml_quote(out, a->console_log);
            fputc('\n', out);
        }
    }
}

/* Every failure, in order, as a YAML list. */
static void tap_failures(FILE *out, const qhil_test_result *t)
{
    size_t i;

    if (!t->n_failures) {
        return;
    }
    fputs("  failures:\n", out);
    for (i = 0; i < t->n_failures; i++) {
        const qhil_failure *f = &t->failures[i];

        fputs("    - message: ", out);
        yaml_quote(out, f->message ? f->message : "");
        fprintf(out, "\n      severity: %s\n", qhil_verdict_name(f->verdict));
        if (f->step) {
            fprintf(out, "      step: %zu\n", f->step);
        }
        if (f->line > 0) {
            fprintf(out, "      line: %d\n", f->line);
        }
    }
    if (t->failures_dropped) {
        fprintf(out, "  failures_dropped: %zu\n", t->failures_dropped);
    }
}

static void tap_diag(FILE *out, const qhil_test_result *t)
{
    fputs("  ---\n", out);
    if (t->verdict == QHIL_PASS) {
        /* Flaky: only what failed before it passed. */
        tap_tries(out, t);
        fputs("  ...\n", out);
        return;
    }
    fputs("  message: ", out);
    yaml_quote(out, t->message ? t->message
                               : (t->verdict == QHIL_FAIL
                                      ? "test failed"
                                      : "test could not run"));
    fprintf(out, "\n  severity: %s\n", qhil_verdict_name(t->verdict));
    if (t->step) {
        fprintf(out, "  step: %zu\n", t->step);
    }
    if (t->step_desc) {
        fputs("  step_desc: ", out);
        yaml_quote(out, t->step_desc);
        fputc('\n', out);
    }
    if (t->step_line > 0) {
        fprintf(out, "  line: %d\n", t->step_line);
    }
    if (t->console_log) {
        fputs("  console_log: ", out);
        yaml_quote(out, t->console_log);
        fputc('\n', out);
    }
    if (t->console_tail) {
        fputs("  console_tail: ", out);
        yaml_quote(out, t->console_tail);
        fputc('\n', out);
    }
    tap_tries(out, t);
    tap_failures(out, t);
    fputs("  ...\n", out);
}

static void write_tap(const qhil_suite_result *r, FILE *out)
{
    const qhil_test_result *t;
    size_t i;

    fprintf(out, "TAP version 13\n1..%zu\n", r->n_tests);
    for (i = 0; i < r->n_tests; i++) {
        t = &r->tests[i];
        fprintf(out, "%s %zu - ",
                t->verdict == QHIL_PASS || t->verdict == QHIL_SKIP ? "ok"
                                                                   : "not ok",
                i + 1);
        tap_text(out, t->name);
        if (t->verdict == QHIL_ERROR && t->interrupted) {
            fputs(" # interrupted", out);
        }
        if (t->flaky) {
            fprintf(out, " # flaky: passed on attempt %u of %u", t->attempts,
                    t->max_attempts > t->attempts ? t->max_attempts
                                                  : t->attempts);
        }
        if (t->verdict == QHIL_SKIP) {
            fputs(" # SKIP", out);
            if (t->message) {
                fputc(' ', out);
                tap_text(out, t->message);
            }
        }
        fputc('\n', out);
        if (t->verdict == QHIL_FAIL || t->verdict == QHIL_ERROR || t->n_tries) {
            tap_diag(out, t);
        }
    }
}

int qhil_report_write(const qhil_suite_result *r, qhil_report_format fmt,
                      FILE *out, qhil_error *err)
{
    if (!r || !out) {
        return qhil_error_set(err, QHIL_EINVAL, "no result or no stream");
    }
    switch (fmt) {
    case QHIL_REPORT_JUNIT:
        write_junit(r, out);
        break;
    case QHIL_REPORT_TAP:
        write_tap(r, out);
        break;
    case QHIL_REPORT_JSON:
        if (qhil_report_json(r, out, err) < 0) {
            return QHIL_EIO;
        }
        break;
    default:
        return qhil_error_set(err, QHIL_EINVAL, "unknown report format %d",
                              (int)fmt);
    }
    if (fflush(out) != 0 || ferror(out)) {
        return qhil_error_set(err, QHIL_EIO, "cannot write the report: %s",
                              strerror(errno));
    }
    return QHIL_EOK;
}

struct qhil_report_file {
    char *path;
    char *tmp; /* NULL once renamed into place */
    FILE *fp;
};

void qhil_report_file_free(qhil_report_file *f)
{
    if (!f) {
        return;
    }
    if (f->fp) {
        fclose(f->fp);
    }
    if (f->tmp) {
        unlink(f->tmp);
    }
    free(f->tmp);
    free(f->path);
    free(f);
}

/* A temporary name beside path: "DIR/.NAME.tmpXXXXXXXX". */
static char *temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    uint32_t rnd;
    char *tmp = NULL;

    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        rnd = (uint32_t)getpid() ^ (uint32_t)time(NULL) ^
              (uint32_t)(uintptr_t)&rnd;
    }
    if (asprintf(&tmp, "%.*s.%s.tmp%08" PRIx32, dir_len, path,
                 slash ? slash + 1 : path, rnd) < 0) {
        return NULL;
    }
    return tmp;
}

int qhil_report_file_open(const char *path, qhil_report_file **out,
                          qhil_error *err)
{
    qhil_report_file *f;
    struct stat st;
    int fd = -1;
    int rc;
    int i;

    *out = NULL;
    if (!path || !*path) {
        return qhil_error_set(err, QHIL_EINVAL, "the report file name is "
                                                "empty");
    }
    if (path[strlen(path) - 1] == '/' ||
        (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "%s: is a folder, expected a file name",
                              path);
    }
    f = calloc(1, sizeof(*f));
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < 100 && fd < 0; i++) {
        free(f->tmp);
        f->tmp = temp_name(path);
        if (!f->tmp) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto fail;
        }
        fd = open(f->tmp,
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
        if (fd < 0 && errno != EEXIST) {
            rc = -errno;
            qhil_error_set(err, rc, "%s: cannot create a temporary file "
                           "beside it: %s", path, strerror(-rc));
            free(f->tmp);
            f->tmp = NULL;
            goto fail;
        }
    }
    if (fd < 0) {
        rc = qhil_error_set(err, QHIL_EBUSY,
                            "%s: no free temporary name beside it", path);
        free(f->tmp);
        f->tmp = NULL;
        goto fail;
    }
    f->fp = fdopen(fd, "w");
    if (!f->fp) {
        rc = -errno;
        qhil_error_set(err, rc, "%s: %s", f->tmp, strerror(-rc));
        close(fd);
        goto fail;
    }
    *out = f;
    return QHIL_EOK;

fail:
    qhil_report_file_free(f);
    return rc;
}

FILE *qhil_report_file_stream(qhil_report_file *f)
{
    return f && f->tmp ? f->fp : NULL;
}

int qhil_report_file_commit(qhil_report_file *f, const qhil_suite_result *r,
                            qhil_report_format fmt, qhil_error *err)
{
    int rc;

    if (!f || !f->fp || !f->tmp) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "report file not open or already written");
    }
    rc = qhil_report_write(r, fmt, f->fp, err);
    if (rc < 0) {
        qhil_error_prefix(err, "%s", f->path);
        return rc;
    }
    return qhil_report_file_finish(f, err);
}

int qhil_report_file_finish(qhil_report_file *f, qhil_error *err)
{
    FILE *fp;
    int rc;

    if (!f || !f->fp || !f->tmp) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "report file not open or already written");
    }
    if (fflush(f->fp) != 0 || ferror(f->fp)) {
        return qhil_error_set(err, QHIL_EIO, "%s: cannot write: %s",
                              f->path, strerror(errno));
    }
    if (fsync(fileno(f->fp)) < 0 && errno != EINVAL) {
        return qhil_error_set(err, QHIL_EIO, "%s: cannot write: %s",
                              f->path, strerror(errno));
    }
    fp = f->fp;
    f->fp = NULL;
    if (fclose(fp) != 0) {
        return qhil_error_set(err, QHIL_EIO, "%s: cannot write: %s",
                              f->path, strerror(errno));
    }
    if (rename(f->tmp, f->path) < 0) {
        rc = -errno;
        return qhil_error_set(err, rc,
                              "%s: cannot rename the report into place: %s",
                              f->path, strerror(-rc));
    }
    free(f->tmp);
    f->tmp = NULL;
    return QHIL_EOK;
}

int qhil_report_save(const qhil_suite_result *r, qhil_report_format fmt,
                     const char *path, qhil_error *err)
{
    qhil_report_file *f = NULL;
    int rc;

    rc = qhil_report_file_open(path, &f, err);
    if (rc == QHIL_EOK) {
        rc = qhil_report_file_commit(f, r, fmt, err);
    }
    qhil_report_file_free(f);
    return rc;
}
