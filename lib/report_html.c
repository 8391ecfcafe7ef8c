/*
 * report_html.c - a run's JSON document as one self-contained HTML page.
 *
 * The page is a fixed shell plus the document as data:
 *
 *   <meta http-equiv="Content-Security-Policy" ...>  script-src and
 *       style-src are the SHA-256 of the page's own script and style
 *       (report_html/page.js, page.css, embedded at build time by
 *       report_html/embed.py); default-src 'none' means no request of
 *       any kind, so the page works from file:// and calls nowhere
 *   <style>page.css</style>
 *   <script id="qhil-run" type="application/json">THE RUN</script>
 *   <script>page.js</script>   builds the DOM from the data, as text
 *
 * Guest text (console lines, test names from a suite) is data only.  It
 * cannot end the data element: the JSON is written with every '<', '>'
 * and '&' as \u003c, \u003e, \u0026 (stricter than escaping "</" alone:
 * "<!--" cannot open an HTML comment inside the element either), and
 * with every character outside ASCII escaped, U+2028 and U+2029
 * included.  Those escapes are only possible inside JSON strings, so the
 * data stays the same JSON.  The script inserts text with textContent
 * and createTextNode, never innerHTML; and should that ever be broken,
 * the policy still refuses to run any script or handler that is not the
 * page's own.
 *
 * The document is checked before a byte is written: a run the page
 * cannot show (wrong version, missing keys, counts that disagree with
 * the tests) is refused with the key that is wrong, so a page never
 * shows counts its tests do not back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qhil/qhil.h>
#include <qhil/report_html.h>

#include "internal.h"
#include "report_html_page.h"

/* Largest run document read by qhil_report_html_load. */
#define RUN_JSON_MAX ((size_t)256 << 20)

static const char *const verdicts[] = {"pass", "fail", "error", "skip"};

static int verdict_index(const json_t *v)
{
    size_t i;

    if (!json_is_string(v)) {
        return -1;
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(verdicts); i++) {
        if (strcmp(json_string_value(v), verdicts[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* What v is, for "expected X, got Y". */
static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static int refuse(qhil_error *err, const char *key, const json_t *v,
                  const char *expected)
{
    if (!v) {
        return qhil_error_set(err, QHIL_EINVAL, "%s: missing, expected %s",
                              key, expected);
    }
    return qhil_error_set(err, QHIL_EINVAL, "%s: expected %s, got %s", key,
                          expected, json_kind(v));
}

static int check_events(const json_t *events, size_t t, qhil_error *err)
{
    const json_t *ev;
    const json_t *v;
    char key[96];
    size_t i;

    json_array_foreach(events, i, ev)
    {
        snprintf(key, sizeof(key), "tests[%zu].events[%zu]", t, i);
        if (!json_is_object(ev)) {
            return refuse(err, key, ev, "an object");
        }
        v = json_object_get(ev, "kind");
        if (!json_is_string(v)) {
            snprintf(key, sizeof(key), "tests[%zu].events[%zu].kind", t, i);
            return refuse(err, key, v, "a string");
        }
        v = json_object_get(ev, "wall_ns");
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(key, sizeof(key), "tests[%zu].events[%zu].wall_ns", t,
                     i);
            return refuse(err, key, v, "an integer >= 0");
        }
    }
    return QHIL_EOK;
}

int qhil_report_html_check(const json_t *run, qhil_error *err)
{
    const json_t *tests;
    const json_t *counts;
    const json_t *t;
    const json_t *v;
    size_t seen[QHIL_ARRAY_SIZE(verdicts)] = {0};
    size_t flaky = 0;
    char key[64];
    size_t i;
    int rc;
    int k;

    if (!json_is_object(run)) {
        return refuse(err, "the document", run, "an object");
    }
    v = json_object_get(run, "qhil_run");
    if (!json_is_integer(v)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "qhil_run: %s, expected the version 1 or 2 of a "
                              "run document (qhil run --json)",
                              v ? "not an integer" : "missing");
    }
    if (json_integer_value(v) < 1 ||
        json_integer_value(v) > QHIL_EVENT_VERSION) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "qhil_run: version %" JSON_INTEGER_FORMAT
                              " is not known, expected 1 to %d",
                              json_integer_value(v), QHIL_EVENT_VERSION);
    }
    v = json_object_get(run, "suite");
    if (!json_is_object(v)) {
        return refuse(err, "suite", v, "an object");
    }
    if (!json_is_string(json_object_get(v, "name"))) {
        return refuse(err, "suite.name", json_object_get(v, "name"),
                      "a string");
    }
    tests = json_object_get(run, "tests");
    if (!json_is_array(tests)) {
        return refuse(err, "tests", tests, "an array");
    }
    json_array_foreach(tests, i, t)
    {
        snprintf(key, sizeof(key), "tests[%zu]", i);
        if (!json_is_object(t)) {
            return refuse(err, key, t, "an object");
        }
        v = json_object_get(t, "name");
        if (!json_is_string(v)) {
            snprintf(key, sizeof(key), "tests[%zu].name", i);
            return refuse(err, key, v, "a string");
        }
        v = json_object_get(t, "verdict");
        k = verdict_index(v);
        if (k < 0) {
            snprintf(key, sizeof(key), "tests[%zu].verdict", i);
            if (json_is_string(v)) {
                return qhil_error_set(err, QHIL_EINVAL,
                                      "%s: expected pass, fail, error or "
                                      "skip, got \"%s\"",
                                      key, json_string_value(v));
            }
            return refuse(err, key, v, "pass, fail, error or skip");
        }
        seen[k]++;
        flaky += json_is_true(json_object_get(t, "flaky"));
        v = json_object_get(t, "events");
        if (v && !json_is_array(v)) {
            snprintf(key, sizeof(key), "tests[%zu].events", i);
            return refuse(err, key, v, "an array");
        }
        if (v && (rc = check_events(v, i, err)) < 0) {
            return rc;
        }
    }
    counts = json_object_get(run, "counts");
    if (!json_is_object(counts)) {
        return refuse(err, "counts", counts, "an object");
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(verdicts); i++) {
        snprintf(key, sizeof(key), "counts.%s", verdicts[i]);
        v = json_object_get(counts, verdicts[i]);
        if (!json_is_integer(v)) {
            return refuse(err, key, v, "an integer");
        }
        if (json_integer_value(v) < 0 ||
            (size_t)json_integer_value(v) != seen[i]) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "%s: %" JSON_INTEGER_FORMAT
                                  ", but tests holds %zu test%s with "
                                  "verdict %s",
                                  key, json_integer_value(v), seen[i],
                                  seen[i] == 1 ? "" : "s", verdicts[i]);
        }
    }
    /* Version 2 counts the flaky tests too: the page shows that count. */
    v = json_object_get(counts, "flaky");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
              (size_t)json_integer_value(v) != flaky)) {
        if (!json_is_integer(v)) {
            return refuse(err, "counts.flaky", v, "an integer");
        }
        return qhil_error_set(err, QHIL_EINVAL,
                              "counts.flaky: %" JSON_INTEGER_FORMAT
                              ", but tests holds %zu flaky test%s",
                              json_integer_value(v), flaky,
                              flaky == 1 ? "" : "s");
    }
    return QHIL_EOK;
}

int qhil_report_html_load(const char *path, json_t **out, qhil_error *err)
{
    json_error_t jerr;
    struct stat st;
    json_t *run = NULL;
    FILE *fp = NULL;
    int fd;
    int rc;

    *out = NULL;
    if (!path || !*path) {
        return qhil_error_set(err, QHIL_EINVAL, "the run file name is empty");
    }
    /* Only a regular file: a FIFO would block the read, a symlink could
     * show another file in the report. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        if (rc == -ELOOP) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "%s: is a symlink, expected the run's "
                                  "JSON file itself", path);
        }
        return qhil_error_set(err, rc, "%s: %s", path, strerror(-rc));
    }
    if (fstat(fd, &st) < 0) {
        rc = qhil_error_set(err, -errno, "%s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qhil_error_set(err, QHIL_EINVAL,
                              "%s: not a regular file, expected the run's "
                              "JSON file (qhil run --json)", path);
    }
    if ((size_t)st.st_size > RUN_JSON_MAX) {
        close(fd);
        return qhil_error_set(err, QHIL_ETOOBIG,
                              "%s: %lld bytes, over the limit of %zu MiB",
                              path, (long long)st.st_size,
                              RUN_JSON_MAX >> 20);
    }
    fp = fdopen(fd, "r");
    if (!fp) {
        rc = qhil_error_set(err, -errno, "%s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    run = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
    fclose(fp);
    if (!run) {
        rc = qhil_error_set(err, QHIL_ESYNTAX, "%s:%d:%d: not JSON: %s",
                            path, jerr.line, jerr.column, jerr.text);
        if (err) {
            err->line = jerr.line;
            err->column = jerr.column;
        }
        return rc;
    }
    rc = qhil_report_html_check(run, err);
    if (rc < 0) {
        qhil_error_prefix(err, "%s", path);
        json_decref(run);
        return rc;
    }
    *out = run;
    return QHIL_EOK;
}

static void put_lines(const char *const *lines, FILE *out)
{
    for (; *lines; lines++) {
        fputs(*lines, out);
    }
}

/* json_dump_callback's sink: the data made safe inside <script>. */
static int put_safe(const char *buf, size_t size, void *data)
{
    FILE *out = data;
    size_t i;

    for (i = 0; i < size; i++) {
        switch (buf[i]) {
        case '<':
            fputs("\\u003c", out);
            break;
        case '>':
            fputs("\\u003e", out);
            break;
        case '&':
            fputs("\\u0026", out);
            break;
        default:
            fputc(buf[i], out);
        }
    }
    return ferror(out) ? -1 : 0;
}

int qhil_report_html(const json_t *run, FILE *out, qhil_error *err)
{
    int rc;

    if (!out) {
        return qhil_error_set(err, QHIL_EINVAL, "no stream");
    }
    rc = qhil_report_html_check(run, err);
    if (rc < 0) {
        return rc;
    }
    fprintf(out,
            "<!DOCTYPE html>\n"
            "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" "
            "content=\"default-src 'none'; script-src 'sha256-%s'; "
            "style-src 'sha256-%s'; base-uri 'none'; form-action 'none'\">\n"
            "<meta name=\"generator\" content=\"qhil %s\">\n"
            "<title>qhil report</title>\n<style>",
            page_js_sha256, page_css_sha256, qhil_version());
    put_lines(page_css, out);
    fputs("</style>\n</head>\n<body>\n"
          "<noscript>This report is built by its own script: open it in a "
          "browser with JavaScript on.</noscript>\n"
          "<header id=\"summary\"></header>\n<main id=\"tests\"></main>\n"
          "<script id=\"qhil-run\" type=\"application/json\">",
          out);
    if (json_dump_callback(run, put_safe, out,
                           JSON_COMPACT | JSON_ENSURE_ASCII |
                               JSON_PRESERVE_ORDER) < 0) {
        return qhil_error_set(err, QHIL_EIO, "cannot write the report: %s",
                              strerror(errno));
    }
    fputs("</script>\n<script>", out);
    put_lines(page_js, out);
    fputs("</script>\n</body>\n</html>\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        return qhil_error_set(err, QHIL_EIO, "cannot write the report: %s",
                              strerror(errno));
    }
    return QHIL_EOK;
}

int qhil_report_html_save(const json_t *run, const char *path,
                          qhil_error *err)
{
    qhil_report_file *f = NULL;
    int rc;

    rc = qhil_report_html_check(run, err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_report_file_open(path, &f, err);
    if (rc == QHIL_EOK) {
        rc = qhil_report_html(run, qhil_report_file_stream(f), err);
        if (rc < 0) {
            qhil_error_prefix(err, "%s", path);
        }
    }
    if (rc == QHIL_EOK) {
        rc = qhil_report_file_finish(f, err);
    }
    qhil_report_file_free(f);
    return rc;
}
