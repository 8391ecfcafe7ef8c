/*
 * test_report.c - JUnit and TAP reports: exact TAP text, XML escaping of
 * names, messages and console bytes XML cannot carry, the 1 MiB log cut,
 * missing logs, the atomic save, and every failure and step time of a
 * result folded from events.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "eventlog.h"
#include "testutil.h"

#include <qhil/clock.h>
#include <qhil/report.h>
#include <qhil/result.h>
#include <qhil/suite.h>

static char *tmp_dir;

static int setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    if (asprintf(&tmp_dir, "%s/qhil-report-XXXXXX", base ? base : "/tmp") <
            0 ||
        !mkdtemp(tmp_dir)) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char *path = NULL;

    (void)state;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (asprintf(&path, "%s/%s", tmp_dir, e->d_name) > 0) {
            unlink(path);
            free(path);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(tmp_dir);
    free(tmp_dir);
    return 0;
}

/* Write len bytes to tmp_dir/name; returns the malloc'ed path. */
static char *write_file(const char *name, const void *data, size_t len)
{
    char *path = NULL;
    FILE *fp;

    assert_true(asprintf(&path, "%s/%s", tmp_dir, name) > 0);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    return path;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A result with n tests, all passing; the caller fills in the rest. */
static qhil_suite_result *new_result(const char *name, size_t n)
{
    qhil_suite_result *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->name = dup_or_null(name);
    r->file = strdup("suites/hello.yaml");
    r->started_unix = 1700000000;
    r->duration_ns = 1500 * QHIL_MSEC;
    r->tests = calloc(n, sizeof(*r->tests));
    r->n_tests = n;
    return r;
}

static void set_test(qhil_test_result *t, const char *name, qhil_verdict v,
                     int64_t ns)
{
    t->name = dup_or_null(name);
    t->verdict = v;
    t->duration_ns = ns;
}

/* Render r into a malloc'ed string. */
static char *render(const qhil_suite_result *r, qhil_report_format fmt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    qhil_error err;
    int rc;

    assert_non_null(fp);
    qhil_error_init(&err);
    rc = qhil_report_write(r, fmt, fp, &err);
    if (rc != 0) {
        fail_msg("%s", qhil_error_message(&err, rc));
    }
    fclose(fp);
    qhil_error_release(&err);
    return text;
}

static void test_names_and_counts(void **state)
{
    qhil_suite_result *r = new_result("s", 5);

    (void)state;
    assert_string_equal(qhil_verdict_name(QHIL_PASS), "pass");
    assert_string_equal(qhil_verdict_name(QHIL_FAIL), "fail");
    assert_string_equal(qhil_verdict_name(QHIL_ERROR), "error");
    assert_string_equal(qhil_verdict_name(QHIL_SKIP), "skip");
    r->tests[0].verdict = QHIL_PASS;
    r->tests[1].verdict = QHIL_FAIL;
    r->tests[2].verdict = QHIL_FAIL;
    r->tests[3].verdict = QHIL_SKIP;
    r->tests[4].verdict = QHIL_ERROR;
    assert_int_equal(qhil_suite_result_count(r, QHIL_PASS), 1);
    assert_int_equal(qhil_suite_result_count(r, QHIL_FAIL), 2);
    assert_int_equal(qhil_suite_result_count(r, QHIL_SKIP), 1);
    assert_int_equal(qhil_suite_result_count(r, QHIL_ERROR), 1);
    assert_int_equal(qhil_suite_result_count(NULL, QHIL_PASS), 0);
    qhil_suite_result_free(r);
    qhil_suite_result_free(NULL);
    qhil_test_result_release(NULL);
}

static void test_tap_exact(void **state)
{
    qhil_suite_result *r = new_result("hello", 4);
    qhil_test_result *t;
    char *text;

    (void)state;
    set_test(&r->tests[0], "boots", QHIL_PASS, QHIL_SEC);
    t = &r->tests[1];
    set_test(t, "prints # count", QHIL_FAIL, 2 * QHIL_SEC);
    t->step = 2;
    t->step_line = 14;
    t->step_desc = strdup("expect \"count=\\d+\"");
    t->message = strdup("no match within 2s");
    t->console_log = strdup("out/prints.log");
    t->console_tail = strdup("Hello\n\x01\xff tail\ttab");
    set_test(&r->tests[2], "later", QHIL_SKIP, 0);
    r->tests[2].message = strdup("earlier test\nfailed");
    t = &r->tests[3];
    set_test(t, "qemu", QHIL_ERROR, 0);
    t->message = strdup("QEMU exited with status 1");

    text = render(r, QHIL_REPORT_TAP);
    assert_string_equal(text,
                        "TAP version 13\n"
                        "1..4\n"
                        "ok 1 - boots\n"
                        "not ok 2 - prints \\# count\n"
                        "  ---\n"
                        "  message: \"no match within 2s\"\n"
                        "  severity: fail\n"
                        "  step: 2\n"
                        "  step_desc: \"expect \\\"count=\\\\d+\\\"\"\n"
                        "  line: 14\n"
                        "  console_log: \"out/prints.log\"\n"
                        "  console_tail: \"Hello\\n\\x01\\uFFFD tail\\ttab\"\n"
                        "  ...\n"
                        "ok 3 - later # SKIP earlier test failed\n"
                        "not ok 4 - qemu\n"
                        "  ---\n"
                        "  message: \"QEMU exited with status 1\"\n"
                        "  severity: error\n"
                        "  ...\n");
    free(text);
    qhil_suite_result_free(r);
}

static void test_tap_empty(void **state)
{
    qhil_suite_result *r = new_result("none", 0);
    char *text;

    (void)state;
    text = render(r, QHIL_REPORT_TAP);
    assert_string_equal(text, "TAP version 13\n1..0\n");
    free(text);
    qhil_suite_result_free(r);
}

static void test_junit_structure(void **state)
{
    qhil_suite_result *r = new_result("hello", 4);
    qhil_test_result *t;
    char *log = write_file("boots.log", "Hello, QEMU!\r\n", 14);
    char *text;

    (void)state;
    set_test(&r->tests[0], "boots", QHIL_PASS, 1234 * QHIL_MSEC);
    r->tests[0].console_log = log;
    t = &r->tests[1];
    set_test(t, "prints", QHIL_FAIL, 2 * QHIL_SEC);
    t->step = 2;
    t->step_line = 14;
    t->step_desc = strdup("expect \"count\"");
    t->message = strdup("no match within 2s");
    t->console_tail = strdup("last line");
    set_test(&r->tests[2], "later", QHIL_SKIP, 0);
    set_test(&r->tests[3], "qemu", QHIL_ERROR, 0);

    text = render(r, QHIL_REPORT_JUNIT);
    assert_true(strncmp(text,
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<testsuites>\n"
                        "  <testsuite name=\"hello\" tests=\"4\" "
                        "failures=\"1\" errors=\"1\" skipped=\"1\" "
                        "time=\"1.500\" "
                        "timestamp=\"2023-11-14T22:13:20Z\">\n",
                        strlen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<testsuites>\n"
                               "  <testsuite name=\"hello\" tests=\"4\" "
                               "failures=\"1\" errors=\"1\" skipped=\"1\" "
                               "time=\"1.500\" "
                               "timestamp=\"2023-11-14T22:13:20Z\">\n")) ==
                0);
    assert_contains(text, "    <testcase classname=\"hello\" name=\"boots\" "
                          "time=\"1.234\">\n"
                          "      <properties>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "      <system-out>Hello, QEMU!\n"
                          "</system-out>\n"
                          "    </testcase>\n");
    assert_contains(text, "    <testcase classname=\"hello\" name=\"prints\" "
                          "time=\"2.000\">\n"
                          "      <properties>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "      <failure message=\"no match within 2s\" "
                          "type=\"fail\">step 2 (line 14): expect "
                          "&quot;count&quot;\n"
                          "no match within 2s\n"
                          "\n"
                          "console tail:\n"
                          "last line\n"
                          "</failure>\n"
                          "    </testcase>\n");
    assert_contains(text, "    <testcase classname=\"hello\" name=\"later\" "
                          "time=\"0.000\">\n"
                          "      <properties>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "      <skipped/>\n"
                          "    </testcase>\n");
    assert_contains(text, "      <error message=\"test could not run\" "
                          "type=\"error\">");
    assert_string_equal(text + strlen(text) - 29,
                        "  </testsuite>\n</testsuites>\n");
    free(text);
    qhil_suite_result_free(r);
}

static void test_junit_escaping(void **state)
{
    static const char console[] = "ok <tag> & \"q\" 'a'\r\n"
                                  "progress\r50%\r\n"
                                  "bell\x07 nul\x00 esc\x1b[0m\n"
                                  "bad \xff\xfe utf8 \xc3\xa9 \xe2\x82\xac\n"
                                  "overlong \xc0\xaf surrogate \xed\xa0\x80\n"
                                  "fffe \xef\xbf\xbe cut \xe2\x82";
    qhil_suite_result *r = new_result("suite <&\">", 1);
    qhil_test_result *t = &r->tests[0];
    char *text;

    (void)state;
    set_test(t, "a<b&c\"d'e", QHIL_FAIL, 0);
    t->message = strdup("got \x01\x02 and\nnew line\ttab");
    t->console_tail = strdup("tail \x1b[1m<b>");
    t->console_log = write_file("esc.log", console, sizeof(console) - 1);

    text = render(r, QHIL_REPORT_JUNIT);
    assert_contains(text, "<testsuite name=\"suite &lt;&amp;&quot;&gt;\"");
    assert_contains(text, "<testcase classname=\"suite &lt;&amp;&quot;&gt;\" "
                          "name=\"a&lt;b&amp;c&quot;d&apos;e\"");
    /* In attributes, line breaks and tabs survive as references. */
    assert_contains(text, "message=\"got \xEF\xBF\xBD\xEF\xBF\xBD and&#10;"
                          "new line&#9;tab\"");
    assert_contains(text, "tail \xEF\xBF\xBD[1m&lt;b&gt;");
    assert_contains(text, "<system-out>ok &lt;tag&gt; &amp; &quot;q&quot; "
                          "&apos;a&apos;\n"
                          "progress&#13;50%\n"
                          "bell\xEF\xBF\xBD nul\xEF\xBF\xBD "
                          "esc\xEF\xBF\xBD[0m\n"
                          "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xc3\xa9 "
                          "\xe2\x82\xac\n"
                          "overlong \xEF\xBF\xBD\xEF\xBF\xBD surrogate "
                          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\n"
                          "fffe \xEF\xBF\xBD cut \xEF\xBF\xBD\xEF\xBF\xBD"
                          "</system-out>");
    /* Nothing XML 1.0 forbids is left anywhere in the document. */
    assert_not_contains(text, "\x01");
    assert_not_contains(text, "\x07");
    assert_not_contains(text, "\x1b");
    assert_not_contains(text, "\xff");
    assert_not_contains(text, "\xef\xbf\xbe");
    free(text);
    qhil_suite_result_free(r);
}

static void test_junit_log_cut(void **state)
{
    const size_t mib = (size_t)1 << 20;
    const size_t total = mib + 100;
    qhil_suite_result *r = new_result("big", 1);
    char *data = malloc(total);
    char *text;
    char *out;
    char *end;

    (void)state;
    assert_non_null(data);
    memset(data, 'x', total);
    memcpy(data, "HEAD-MARKER", 11);
    memcpy(data + 100, "KEPT-START", 10);
    memcpy(data + total - 9, "TAIL-END\n", 9);
    set_test(&r->tests[0], "t", QHIL_PASS, 0);
    r->tests[0].console_log = write_file("big.log", data, total);

    text = render(r, QHIL_REPORT_JUNIT);
    assert_contains(text, "<system-out>[qhil: console log cut: showing the "
                          "last 1048576 of 1048676 bytes]\nKEPT-START");
    assert_not_contains(text, "HEAD-MARKER");
    assert_contains(text, "TAIL-END\n</system-out>");
    out = strstr(text, "KEPT-START");
    end = strstr(text, "</system-out>");
    assert_int_equal((size_t)(end - out), mib);
    free(text);
    free(data);
    qhil_suite_result_free(r);
}

static void test_junit_missing_log(void **state)
{
    qhil_suite_result *r = new_result("s", 2);
    char *text;

    (void)state;
    set_test(&r->tests[0], "gone", QHIL_FAIL, 0);
    r->tests[0].console_log = strdup("/nonexistent/dir/<x>.log");
    r->tests[0].qemu_log = strdup("/nonexistent/dir/qemu.log");
    set_test(&r->tests[1], "nolog", QHIL_PASS, 0);
    text = render(r, QHIL_REPORT_JUNIT);
    assert_contains(text, "<system-out>[qhil: console log "
                          "/nonexistent/dir/&lt;x&gt;.log could not be read: "
                          "No such file or directory]\n</system-out>");
    assert_contains(text, "<system-err>[qhil: QEMU log "
                          "/nonexistent/dir/qemu.log could not be read: ");
    /* A passing test without logs has its properties only. */
    assert_contains(text, "<testcase classname=\"s\" name=\"nolog\" "
                          "time=\"0.000\">\n"
                          "      <properties>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "    </testcase>\n");
    free(text);
    qhil_suite_result_free(r);
}

static void test_junit_qemu_log(void **state)
{
    qhil_suite_result *r = new_result("s", 2);
    char *text;

    (void)state;
    set_test(&r->tests[0], "quiet", QHIL_PASS, 0);
    r->tests[0].console_log = write_file("quiet.log", "", 0);
    r->tests[0].qemu_log = write_file("quiet-qemu.log", "", 0);
    set_test(&r->tests[1], "noisy", QHIL_ERROR, 0);
    r->tests[1].qemu_log = write_file("noisy-qemu.log",
                                      "qemu: could not load kernel\n", 28);
    text = render(r, QHIL_REPORT_JUNIT);
    /* An empty console log is still shown; an empty QEMU log is not. */
    assert_contains(text, "name=\"quiet\" time=\"0.000\">\n"
                          "      <properties>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "      <system-out></system-out>\n"
                          "    </testcase>\n");
    assert_contains(text, "<system-err>qemu: could not load kernel\n"
                          "</system-err>\n");
    free(text);
    qhil_suite_result_free(r);
}

static void test_save(void **state)
{
    qhil_suite_result *r = new_result("saved", 1);
    char *path = NULL;
    char *bad = NULL;
    char *want;
    char *got;
    struct stat st;
    FILE *fp;
    DIR *d;
    struct dirent *e;
    size_t n_files = 0;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    set_test(&r->tests[0], "t", QHIL_PASS, 0);
    assert_true(asprintf(&path, "%s/report.tap", tmp_dir) > 0);
    assert_int_equal(qhil_report_save(r, QHIL_REPORT_TAP, path, &err), 0);
    /* A second save replaces the first. */
    assert_int_equal(qhil_report_save(r, QHIL_REPORT_TAP, path, &err), 0);
    want = render(r, QHIL_REPORT_TAP);
    got = calloc(1, strlen(want) + 16);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fread(got, 1, strlen(want) + 15, fp), strlen(want));
    fclose(fp);
    assert_string_equal(got, want);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* No temporary file is left beside the report. */
    d = opendir(tmp_dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, "report.tap")) {
            assert_string_equal(e->d_name, "report.tap");
            n_files++;
        }
    }
    closedir(d);
    assert_int_equal(n_files, 1);

    assert_true(asprintf(&bad, "%s/missing-dir/report.xml", tmp_dir) > 0);
    assert_int_equal(qhil_report_save(r, QHIL_REPORT_JUNIT, bad, &err),
                     -ENOENT);
    assert_contains(err.message, "missing-dir/report.xml: cannot create a "
                                 "temporary file");
    free(bad);
    free(want);
    free(got);
    free(path);
    qhil_error_release(&err);
    qhil_suite_result_free(r);
}

/* Does tmp_dir hold a file whose name contains part? */
static size_t count_files(const char *part)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, part)) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/*
 * A report file is checked when opened (before any test runs), keeps its
 * temporary file until the commit, leaves nothing behind when dropped,
 * and replaces a symlink planted at its path instead of writing through
 * it.
 */
static void test_report_file(void **state)
{
    qhil_suite_result *r = new_result("early", 1);
    qhil_report_file *f = NULL;
    char *path = NULL;
    char *outside = NULL;
    char buf[64] = "";
    struct stat st;
    FILE *fp;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    set_test(&r->tests[0], "t", QHIL_PASS, 0);

    /* A folder that does not exist: known at open, path in the message. */
    assert_int_equal(qhil_report_file_open("/nonexistent/r.xml", &f, &err),
                     -ENOENT);
    assert_null(f);
    assert_contains(err.message, "/nonexistent/r.xml: cannot create");
    /* A folder as the report's path. */
    assert_int_equal(qhil_report_file_open(tmp_dir, &f, &err), QHIL_EINVAL);
    assert_contains(err.message, "is a folder");

    /* Open, then drop without writing: nothing left. */
    assert_true(asprintf(&path, "%s/early.xml", tmp_dir) > 0);
    assert_int_equal(qhil_report_file_open(path, &f, &err), 0);
    assert_int_equal(count_files("early.xml"), 1); /* the temporary file */
    assert_int_equal(stat(path, &st), -1);
    qhil_report_file_free(f);
    f = NULL;
    assert_int_equal(count_files("early.xml"), 0);

    /* A symlink planted at the path: its target stays as it was. */
    assert_true(asprintf(&outside, "%s/outside.txt", tmp_dir) > 0);
    fp = fopen(outside, "w");
    assert_non_null(fp);
    fputs("precious\n", fp);
    fclose(fp);
    assert_int_equal(symlink(outside, path), 0);
    assert_int_equal(qhil_report_file_open(path, &f, &err), 0);
    assert_int_equal(qhil_report_file_commit(f, r, QHIL_REPORT_JUNIT, &err),
                     0);
    /* Once only. */
    assert_int_equal(qhil_report_file_commit(f, r, QHIL_REPORT_JUNIT, &err),
                     QHIL_EINVAL);
    qhil_report_file_free(f);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    fp = fopen(outside, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_string_equal(buf, "precious\n");
    assert_int_equal(count_files("early.xml"), 1);

    unlink(outside);
    free(outside);
    free(path);
    qhil_error_release(&err);
    qhil_suite_result_free(r);
}

/* A log planted as a symlink or a FIFO is not read into the report (no
 * leak of another file, no hang). */
static void test_junit_planted_log(void **state)
{
    qhil_suite_result *r = new_result("planted", 2);
    char *secret = NULL;
    char *link = NULL;
    char *fifo = NULL;
    char *text;
    FILE *fp;

    (void)state;
    assert_true(asprintf(&secret, "%s/secret.txt", tmp_dir) > 0);
    assert_true(asprintf(&link, "%s/link.log", tmp_dir) > 0);
    assert_true(asprintf(&fifo, "%s/fifo.log", tmp_dir) > 0);
    fp = fopen(secret, "w");
    assert_non_null(fp);
    fputs("top-secret-bytes\n", fp);
    fclose(fp);
    assert_int_equal(symlink(secret, link), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    set_test(&r->tests[0], "a", QHIL_FAIL, 0);
    set_test(&r->tests[1], "b", QHIL_FAIL, 0);
    r->tests[0].console_log = strdup(link);
    r->tests[1].console_log = strdup(fifo);
    text = render(r, QHIL_REPORT_JUNIT);
    assert_not_contains(text, "top-secret-bytes");
    assert_contains(text, "could not be read");
    free(text);
    unlink(secret);
    unlink(link);
    unlink(fifo);
    free(secret);
    free(link);
    free(fifo);
    qhil_suite_result_free(r);
}

static void test_write_failure(void **state)
{
    qhil_suite_result *r = new_result("s", 1);
    qhil_error err;
    FILE *full = fopen("/dev/full", "w");

    (void)state;
    if (!full) {
        skip();
    }
    qhil_error_init(&err);
    set_test(&r->tests[0], "t", QHIL_PASS, 0);
    assert_int_equal(qhil_report_write(r, QHIL_REPORT_JUNIT, full, &err),
                     QHIL_EIO);
    assert_contains(err.message, "cannot write the report");
    fclose(full);
    assert_int_equal(qhil_report_write(r, (qhil_report_format)42, stdout,
                                       &err),
                     QHIL_EINVAL);
    qhil_error_release(&err);
    qhil_suite_result_free(r);
}

/* An interrupted run: the running test is an error that says so, the
 * ones that did not start are skipped as not run, in both formats. */
static void test_interrupted(void **state)
{
    qhil_suite_result *r = new_result("hello", 3);
    char *text;

    (void)state;
    set_test(&r->tests[0], "boot", QHIL_PASS, 100 * QHIL_MSEC);
    set_test(&r->tests[1], "wait", QHIL_ERROR, 200 * QHIL_MSEC);
    r->tests[1].interrupted = true;
    r->tests[1].message = strdup("interrupted by SIGINT");
    r->tests[1].step = 2;
    r->tests[1].step_line = 9;
    r->tests[1].step_desc = strdup("wait 60s");
    set_test(&r->tests[2], "late", QHIL_SKIP, 0);
    r->tests[2].not_run = true;
    r->tests[2].message = strdup("not run: interrupted by SIGINT");

    text = render(r, QHIL_REPORT_TAP);
    assert_string_equal(text,
                        "TAP version 13\n"
                        "1..3\n"
                        "ok 1 - boot\n"
                        "not ok 2 - wait # interrupted\n"
                        "  ---\n"
                        "  message: \"interrupted by SIGINT\"\n"
                        "  severity: error\n"
                        "  step: 2\n"
                        "  step_desc: \"wait 60s\"\n"
                        "  line: 9\n"
                        "  ...\n"
                        "ok 3 - late # SKIP not run: interrupted by SIGINT\n");
    free(text);

    text = render(r, QHIL_REPORT_JUNIT);
    assert_non_null(strstr(text, "tests=\"3\" failures=\"0\" errors=\"1\" "
                                 "skipped=\"1\""));
    assert_non_null(strstr(text, "<error message=\"interrupted by SIGINT\" "
                                 "type=\"error\">step 2 (line 9): wait "
                                 "60s\n"));
    assert_non_null(strstr(text, "<testcase classname=\"hello\" "
                                 "name=\"late\" time=\"0.000\">\n"
                                 "      <properties>\n"
                                 "        <property name=\"attempts\" "
                                 "value=\"1\"/>\n"
                                 "      </properties>\n"
                                 "      <skipped message=\"not run: "
                                 "interrupted by SIGINT\"/>\n"
                                 "    </testcase>\n"));
    free(text);
    qhil_suite_result_free(r);
}

/* An earlier attempt of a retried test, with the given outcome. */
static void add_try(qhil_test_result *t, qhil_verdict v, const char *message,
                    const char *console_log)
{
    qhil_test_try *grown =
        realloc(t->tries, (t->n_tries + 1) * sizeof(*t->tries));

    assert_non_null(grown);
    t->tries = grown;
    memset(&grown[t->n_tries], 0, sizeof(*grown));
    grown[t->n_tries].verdict = v;
    grown[t->n_tries].duration_ns = 2 * QHIL_SEC;
    grown[t->n_tries].message = strdup(message);
    grown[t->n_tries].console_log = dup_or_null(console_log);
    t->n_tries++;
}

/* A flaky test (failed, then passed) is never written as a clean pass;
 * a test that never passed keeps each attempt; a test run once has no
 * trace of retries.  An attempt's hostile message stays escaped, and
 * its own log, not the last attempt's, is in its element. */
static void test_retried(void **state)
{
    qhil_suite_result *r = new_result("s", 3);
    char *log1 = write_file("a1.log", "first <try>\n", 12);
    char *log2 = write_file("a2.log", "second try\n", 11);
    qhil_test_result *t;
    json_error_t jerr;
    json_t *doc;
    json_t *tj;
    char *want = NULL;
    char *text;

    (void)state;
    t = &r->tests[0];
    set_test(t, "flaky", QHIL_PASS, QHIL_SEC);
    add_try(t, QHIL_FAIL, "no \"Hello\" <&> within 2s", log1);
    t->tries[0].step = 1;
    t->tries[0].step_line = 7;
    t->tries[0].step_desc = strdup("expect \"Hello\"");
    t->tries[0].console_tail = strdup("boot\x01\n");
    t->console_log = strdup(log2);
    t->attempts = 2;
    t->max_attempts = 3;
    t->flaky = true;
    t = &r->tests[1];
    set_test(t, "never", QHIL_FAIL, QHIL_SEC);
    t->message = strdup("still failing");
    add_try(t, QHIL_ERROR, "QEMU exited with status 1", NULL);
    add_try(t, QHIL_FAIL, "failing", NULL);
    t->attempts = 3;
    t->max_attempts = 3;
    set_test(&r->tests[2], "once", QHIL_PASS, QHIL_SEC);
    r->tests[2].attempts = 1;

    text = render(r, QHIL_REPORT_TAP);
    assert_true(asprintf(&want,
                         "TAP version 13\n"
                         "1..3\n"
                         "ok 1 - flaky # flaky: passed on attempt 2 of 3\n"
                         "  ---\n"
                         "  attempts: 2\n"
                         "  failed_attempts:\n"
                         "    - attempt: 1\n"
                         "      severity: fail\n"
                         "      message: \"no \\\"Hello\\\" <&> within "
                         "2s\"\n"
                         "      step: 1\n"
                         "      duration: 2.000\n"
                         "      console_log: \"%s\"\n"
                         "  ...\n"
                         "not ok 2 - never\n"
                         "  ---\n"
                         "  message: \"still failing\"\n"
                         "  severity: fail\n"
                         "  attempts: 3\n"
                         "  failed_attempts:\n"
                         "    - attempt: 1\n"
                         "      severity: error\n"
                         "      message: \"QEMU exited with status 1\"\n"
                         "      duration: 2.000\n"
                         "    - attempt: 2\n"
                         "      severity: fail\n"
                         "      message: \"failing\"\n"
                         "      duration: 2.000\n"
                         "  ...\n"
                         "ok 3 - once\n",
                         log1) > 0);
    assert_string_equal(text, want);
    free(want);
    free(text);

    text = render(r, QHIL_REPORT_JUNIT);
    /* A pass with no <failure>, but its failed attempt and the flag. */
    assert_non_null(strstr(text, "<property name=\"attempts\" value=\"2\"/>\n"
                                 "        <property name=\"flaky\" "
                                 "value=\"true\"/>\n"
                                 "      </properties>\n"
                                 "      <flakyFailure message=\"no "
                                 "&quot;Hello&quot; &lt;&amp;&gt; within "
                                 "2s\" type=\"fail\">\n"
                                 "        <stackTrace>attempt 1 of 2, step "
                                 "1 (line 7): expect &quot;Hello&quot;\n"));
    assert_non_null(strstr(text, "console tail:\nboot\xef\xbf\xbd\n"
                                 "</stackTrace>\n"
                                 "      <system-out>first &lt;try&gt;\n"
                                 "</system-out>\n"
                                 "      </flakyFailure>\n"
                                 "      <system-out>second try\n"));
    assert_int_equal(strstr(text, "<failure message=\"still failing\"") <
                         strstr(text, "<rerunError message=\"QEMU exited"),
                     1);
    assert_non_null(strstr(text, "<rerunFailure message=\"failing\" "
                                 "type=\"fail\">\n"
                                 "        <stackTrace>attempt 2 of 3\n"
                                 "failing\n</stackTrace>\n"
                                 "      </rerunFailure>\n"));
    assert_null(strstr(text, "flakyError"));
    /* The flag once, on the flaky test only. */
    assert_null(strstr(strstr(text, "value=\"true\"") + 1, "value=\"true\""));
    {
        const char *once = strstr(text, "name=\"once\"");

        assert_non_null(once);
        assert_null(strstr(once, "rerun"));
        assert_null(strstr(once, "flaky"));
    }
    free(text);

    text = render(r, QHIL_REPORT_JSON);
    doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(doc, "counts"), "flaky")),
                     1);
    tj = json_array_get(json_object_get(doc, "tests"), 0);
    assert_true(json_is_true(json_object_get(tj, "flaky")));
    assert_int_equal(json_integer_value(json_object_get(tj, "attempts")), 2);
    tj = json_array_get(json_object_get(tj, "previous_attempts"), 0);
    assert_string_equal(json_string_value(json_object_get(tj, "verdict")),
                        "fail");
    assert_string_equal(json_string_value(json_object_get(tj, "console_log")),
                        log1);
    assert_int_equal(json_integer_value(json_object_get(tj, "attempt")), 1);
    assert_true(json_is_array(json_object_get(tj, "events")));
    tj = json_array_get(json_object_get(doc, "tests"), 2);
    assert_int_equal(json_array_size(json_object_get(tj, "previous_attempts")),
                     0);
    assert_true(json_is_false(json_object_get(tj, "flaky")));
    json_decref(doc);
    free(text);
    free(log1);
    free(log2);
    qhil_suite_result_free(r); /* frees the tries: ASan checks */
}

/* A suite file in tmp_dir: "a" (expect, then qmp), "b" (expect). */
static qhil_suite *load_suite(void)
{
    static const char yaml[] = "device_type: mps2-an385\n"
                               "tests:\n"
                               "  - name: a\n"
                               "    steps:\n"
                               "      - expect: \"<&]]>\\\\d\"\n"
                               "      - qmp: stop\n"
                               "  - name: b\n"
                               "    steps:\n"
                               "      - expect: \"b\"\n";
    char *path = write_file("suite.yaml", yaml, sizeof(yaml) - 1);
    qhil_suite *suite = NULL;
    qhil_error err;
    int rc;

    qhil_error_init(&err);
    rc = qhil_suite_load(path, &suite, &err);
    if (rc != 0) {
        fail_msg("%s", qhil_error_message(&err, rc));
    }
    qhil_error_release(&err);
    free(path);
    return suite;
}

/* Board, QEMU version (from the kept events), seed, repeat and attempts
 * in each test's <properties>; the failing expect's pattern in the
 * failure body, escaped; an error keeps <error>. */
static void test_junit_properties(void **state)
{
    static const size_t order[] = {1, 0, 0, 0};
    qhil_suite *suite = load_suite();
    qhil_suite_result *r = new_result("hello", 4);
    qhil_test_result *t;
    char *text;

    (void)state;
    r->device_type = strdup("mps2-an385");
    r->shuffled = true;
    r->seed = UINT64_MAX;
    set_test(&r->tests[0], "b", QHIL_PASS, 0);
    r->tests[0].events = json_pack(
        "[{s:s}, {s:s, s:s}]", "kind", "test_start", "kind", "machine_start",
        "qemu_version", "7.2.0");
    t = &r->tests[1];
    set_test(t, "a [1/3]", QHIL_FAIL, 0);
    t->step = 1;
    t->step_line = 5;
    t->step_desc = strdup("expect \"<&]]>\\d\"");
    t->message = strdup("no match within 10s");
    set_test(&r->tests[2], "a [2/3]", QHIL_FAIL, 0);
    r->tests[2].step = 2; /* the qmp step: no pattern */
    set_test(&r->tests[3], "a [3/3]", QHIL_ERROR, 0);
    r->tests[3].step = 1;
    r->tests[3].message = strdup("QEMU exited with status 1");
    assert_int_equal(qhil_suite_result_annotate(r, suite, order, 4), 0);

    text = render(r, QHIL_REPORT_JUNIT);
    assert_contains(text, "name=\"b\" time=\"0.000\">\n"
                          "      <properties>\n"
                          "        <property name=\"board\" "
                          "value=\"mps2-an385\"/>\n"
                          "        <property name=\"qemu_version\" "
                          "value=\"7.2.0\"/>\n"
                          "        <property name=\"shuffle_seed\" "
                          "value=\"18446744073709551615\"/>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "    </testcase>\n");
    assert_contains(text, "name=\"a [1/3]\" time=\"0.000\">\n"
                          "      <properties>\n"
                          "        <property name=\"board\" "
                          "value=\"mps2-an385\"/>\n"
                          "        <property name=\"shuffle_seed\" "
                          "value=\"18446744073709551615\"/>\n"
                          "        <property name=\"repeat\" "
                          "value=\"1/3\"/>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "      <failure message=\"no match within 10s\" "
                          "type=\"fail\">step 1 (line 5): expect "
                          "&quot;&lt;&amp;]]&gt;\\d&quot;\n"
                          "pattern: &lt;&amp;]]&gt;\\d\n"
                          "no match within 10s\n"
                          "</failure>\n");
    assert_contains(text, "value=\"2/3\"/>\n");
    assert_null(r->tests[2].pattern);
    assert_contains(text, "value=\"3/3\"/>\n"
                          "        <property name=\"attempts\" "
                          "value=\"1\"/>\n"
                          "      </properties>\n"
                          "      <error message=\"QEMU exited with status "
                          "1\" type=\"error\">step 1\n"
                          "pattern: &lt;&amp;]]&gt;\\d\n");
    free(text);
    qhil_suite_result_free(r);
    qhil_suite_free(suite);
}

/* Results that do not line up with the order (a caller's mistake, or a
 * run cut short) get no repeat and no pattern rather than wrong ones. */
static void test_annotate_mismatch(void **state)
{
    static const size_t order[] = {0, 0};
    static const size_t bad[] = {0, 7};
    qhil_suite *suite = load_suite();
    qhil_suite_result *r = new_result("hello", 2);

    (void)state;
    set_test(&r->tests[0], "b", QHIL_FAIL, 0); /* test "a" in the order */
    r->tests[0].step = 1;
    set_test(&r->tests[1], "a", QHIL_FAIL, 0); /* "a [2/2]" expected */
    r->tests[1].step = 1;
    assert_int_equal(qhil_suite_result_annotate(r, suite, order, 2), 0);
    assert_null(r->tests[0].pattern);
    assert_null(r->tests[1].pattern);
    assert_int_equal(r->tests[1].repeats, 0);
    assert_int_equal(r->tests[1].attempts, 1);
    /* An index out of range, or one entry too few: nothing matched. */
    assert_int_equal(qhil_suite_result_annotate(r, suite, bad, 2), 0);
    assert_int_equal(qhil_suite_result_annotate(r, suite, order, 1), 0);
    assert_null(r->tests[1].pattern);
    assert_int_equal(qhil_suite_result_annotate(NULL, suite, order, 2), 0);
    qhil_suite_result_free(r);
    qhil_suite_free(suite);
}

/* A test folded from events with two failures and three steps: every
 * report shows both failures, in order, and each step's time; a failure
 * message that tries to close the XML or the YAML stays text. */
static void test_all_failures(void **state)
{
    qhil_suite_result *r = new_result("s", 1);
    qhil_test_result *t = &r->tests[0];
    const char *const desc[] = {"expect \"> \"", "wait 200ms",
                                "expect \"never\""};
    qhil_event ev;
    char *junit;
    char *tap;
    char *json;
    size_t i;

    (void)state;
    t->name = strdup("two");
    memset(&ev, 0, sizeof(ev));
    ev.kind = QHIL_EVENT_TEST_START;
    assert_int_equal(qhil_test_result_apply(t, &ev, NULL), QHIL_EOK);
    for (i = 0; i < 3; i++) {
        memset(&ev, 0, sizeof(ev));
        ev.kind = QHIL_EVENT_STEP_START;
        ev.step = i + 1;
        ev.line = (int)(10 + i);
        ev.text = desc[i];
        ev.len = strlen(desc[i]);
        ev.wall_ns = (int64_t)i * QHIL_MSEC;
        assert_int_equal(qhil_test_result_apply(t, &ev, NULL), QHIL_EOK);
        if (i == 2) {
            ev.kind = QHIL_EVENT_FAILURE;
            ev.verdict = QHIL_FAIL;
            ev.text = "pattern ]]></failure> not seen\n  ...";
            ev.len = strlen(ev.text);
            assert_int_equal(qhil_test_result_apply(t, &ev, NULL), QHIL_EOK);
            ev.text = "test timeout after 1.5s, in step 3";
            ev.len = strlen(ev.text);
            ev.how = QHIL_FAILURE_CAUSE;
            assert_int_equal(qhil_test_result_apply(t, &ev, NULL), QHIL_EOK);
        }
        memset(&ev, 0, sizeof(ev));
        ev.kind = QHIL_EVENT_STEP_END;
        ev.step = i + 1;
        ev.verdict = i == 2 ? QHIL_FAIL : QHIL_PASS;
        ev.duration_ns = (int64_t)(i + 1) * 250 * QHIL_MSEC;
        assert_int_equal(qhil_test_result_apply(t, &ev, NULL), QHIL_EOK);
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = QHIL_EVENT_TEST_END;
    ev.verdict = QHIL_FAIL;
    ev.duration_ns = 2 * QHIL_SEC;
    assert_int_equal(qhil_test_result_apply(t, &ev, NULL), QHIL_EOK);
    t->tags = calloc(1, sizeof(*t->tags));
    t->tags[0] = strdup("slow");
    t->n_tags = 1;

    junit = render(r, QHIL_REPORT_JUNIT);
    assert_non_null(strstr(junit, "<failure message=\"test timeout after "
                                  "1.5s, in step 3\" type=\"fail\">"));
    assert_non_null(strstr(junit, "all 2 failures:\n1. step 3 (line 12), "
                                  "fail: pattern ]]&gt;&lt;/failure&gt; "
                                  "not seen\n  ...\n2. step 3 (line 12), "
                                  "fail: test timeout after 1.5s, in step "
                                  "3\n"));
    assert_non_null(strstr(junit, "<property name=\"step 2\" value=\"0.500s "
                                  "pass: wait 200ms\"/>"));
    assert_non_null(strstr(junit, "<property name=\"step 3\" value=\"0.750s "
                                  "fail: expect &quot;never&quot;\"/>"));
    tap = render(r, QHIL_REPORT_TAP);
    assert_non_null(strstr(tap, "  failures:\n"
                                "    - message: \"pattern ]]></failure> not "
                                "seen\\n  ...\"\n"
                                "      severity: fail\n"
                                "      step: 3\n"
                                "      line: 12\n"
                                "    - message: \"test timeout after 1.5s, "
                                "in step 3\"\n"));
    /* The YAML block ends once, after the list. */
    assert_non_null(strstr(tap, "      line: 12\n  ...\n"));
    json = render(r, QHIL_REPORT_JSON);
    {
        json_t *doc = json_loads(json, 0, NULL);
        json_t *jt = json_array_get(json_object_get(doc, "tests"), 0);
        json_t *f = json_object_get(jt, "failures");
        json_t *st = json_object_get(jt, "steps");

        assert_non_null(doc);
        assert_int_equal(json_integer_value(json_object_get(doc, "qhil_run")),
                         2);
        assert_int_equal(json_array_size(f), 2);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(f, 0), "message")),
                            "pattern ]]></failure> not seen\n  ...");
        assert_int_equal(json_array_size(st), 3);
        assert_int_equal(json_integer_value(json_object_get(
                             json_array_get(st, 2), "duration_ns")),
                         750 * QHIL_MSEC);
        assert_string_equal(json_string_value(json_array_get(
                                json_object_get(jt, "tags"), 0)),
                            "slow");
        assert_ptr_equal(qhil_suite_result_test(r, 0), t);
        assert_null(qhil_suite_result_test(r, 1));
        json_decref(doc);
    }
    free(junit);
    free(tap);
    free(json);
    qhil_suite_result_free(r);
}

/* The document as one json_dumpf of it writes it: streaming the report
 * must not change a byte. */
static void assert_one_dump(const char *text)
{
    json_t *doc = json_loads(text, 0, NULL);
    char *again;

    assert_non_null(doc);
    again = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII |
                                JSON_PRESERVE_ORDER);
    assert_non_null(again);
    assert_int_equal(strlen(text), strlen(again) + 1);
    assert_memory_equal(text, again, strlen(again));
    assert_int_equal(text[strlen(again)], '\n');
    free(again);
    json_decref(doc);
}

static json_t *sample_events(void)
{
    return json_pack(
        "[{s:s, s:I, s:s}, {s:s, s:s, s:{s:[i, s]}},"
        " {s:s, s:s, s:b}]",
        "kind", "test_start", "wall_ns", (json_int_t)12, "text",
        "caf\xc3\xa9 \"q\"\t", "kind", "qmp_command", "test", "t",
        "json", "arguments", 1, "x\n", "kind", "test_end", "verdict",
        "pass", "cut", 0);
}

/* Two tests, the second retried once, each attempt with its events in
 * memory (events) or in a file (events_log); file: the file's path. */
static qhil_suite_result *events_result(const char *file, size_t kept)
{
    qhil_suite_result *r = new_result("events", 2);

    set_test(&r->tests[0], "a", QHIL_PASS, 10);
    set_test(&r->tests[1], "b", QHIL_PASS, 20);
    r->tests[1].attempts = 2;
    r->tests[1].tries = calloc(1, sizeof(*r->tests[1].tries));
    r->tests[1].n_tries = 1;
    r->tests[1].tries[0].verdict = QHIL_FAIL;
    r->tests[0].events_dropped = 2;
    if (file) {
        r->tests[0].events_log = strdup(file);
        r->tests[0].events_kept = kept;
        r->tests[1].events_log = strdup(file);
        r->tests[1].events_kept = kept;
        r->tests[1].tries[0].events_log = strdup(file);
        r->tests[1].tries[0].events_kept = kept;
    } else {
        r->tests[0].events = sample_events();
        r->tests[1].events = sample_events();
        r->tests[1].tries[0].events = sample_events();
    }
    return r;
}

/* The events of tests[i] (attempt 0: its own) and their events_dropped. */
static size_t report_events(const char *text, size_t i, int prev,
                            json_int_t *dropped)
{
    json_t *doc = json_loads(text, 0, NULL);
    json_t *t = json_array_get(json_object_get(doc, "tests"), i);
    size_t n;

    if (prev) {
        t = json_array_get(json_object_get(t, "previous_attempts"), 0);
    }
    assert_non_null(t);
    n = json_array_size(json_object_get(t, "events"));
    *dropped = json_integer_value(json_object_get(t, "events_dropped"));
    json_decref(doc);
    return n;
}

/* Kept events in events.jsonl: the report reads them back, test by
 * test, and writes the very bytes it writes for the same events in
 * memory. */
static void test_json_events_file(void **state)
{
    char dir[PATH_MAX];
    qhil_eventlog log;
    json_t *evs = sample_events();
    char *path = NULL;
    char *again = NULL;
    char *mem_text;
    char *file_text;
    qhil_suite_result *r;
    size_t i;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", tmp_dir);
    assert_int_equal(qhil_eventlog_open(&log, dir, &path, NULL), 0);
    for (i = 0; i < json_array_size(evs); i++) {
        assert_int_equal(qhil_eventlog_put(&log, json_array_get(evs, i)), 0);
    }
    assert_int_equal(qhil_eventlog_close(&log), 0);
    /* Never over a file that is there. */
    assert_true(qhil_eventlog_open(&log, dir, &again, NULL) < 0);
    assert_null(again);
    assert_null(log.fp);
    assert_non_null(path);

    r = events_result(NULL, 0);
    mem_text = render(r, QHIL_REPORT_JSON);
    qhil_suite_result_free(r);
    assert_one_dump(mem_text);
    r = events_result(path, 3);
    file_text = render(r, QHIL_REPORT_JSON);
    qhil_suite_result_free(r);
    assert_string_equal(file_text, mem_text);
    free(file_text);
    free(mem_text);

    /* No tests at all: the same document as one dump. */
    r = new_result("empty", 0);
    mem_text = render(r, QHIL_REPORT_JSON);
    assert_one_dump(mem_text);
    assert_contains(mem_text, "\"tests\": []\n}\n");
    free(mem_text);
    qhil_suite_result_free(r);
    json_decref(evs);
    free(path);
}

/* A file cut short, removed, replaced or grown: the events that are
 * there, the rest counted as dropped, never more than were written,
 * never a failed report and never a wait. */
static void test_json_events_damaged(void **state)
{
    const char *lines = "{\"kind\": \"test_start\"}\n"
                        "{\"kind\": \"console_line\"}\n"
                        "{\"kind\": \"test_end\"}\n";
    char *cut = write_file("cut.jsonl", lines, strlen(lines) - 5);
    char *bad = write_file("bad.jsonl", "{\"kind\": 1}\nnot json\n[1]\n", 25);
    char *grown = write_file("grown.jsonl", lines, strlen(lines));
    char *fifo = NULL;
    char *link = NULL;
    char *gone = NULL;
    qhil_suite_result *r;
    json_int_t dropped;
    char *text;

    (void)state;
    assert_true(asprintf(&fifo, "%s/fifo.jsonl", tmp_dir) > 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_true(asprintf(&link, "%s/link.jsonl", tmp_dir) > 0);
    assert_int_equal(symlink(grown, link), 0);
    assert_true(asprintf(&gone, "%s/gone.jsonl", tmp_dir) > 0);

    r = events_result(cut, 3);
    text = render(r, QHIL_REPORT_JSON);
    assert_int_equal(report_events(text, 0, 0, &dropped), 2);
    assert_int_equal(dropped, 2 + 1);
    assert_int_equal(report_events(text, 1, 1, &dropped), 2);
    assert_int_equal(dropped, 1);
    free(text);
    qhil_suite_result_free(r);

    r = events_result(bad, 3);
    text = render(r, QHIL_REPORT_JSON);
    assert_int_equal(report_events(text, 1, 0, &dropped), 1);
    assert_int_equal(dropped, 2);
    free(text);
    qhil_suite_result_free(r);

    r = events_result(grown, 2); /* lines past those written: not read */
    text = render(r, QHIL_REPORT_JSON);
    assert_int_equal(report_events(text, 1, 0, &dropped), 2);
    assert_int_equal(dropped, 0);
    free(text);
    qhil_suite_result_free(r);

    r = events_result(gone, 3);
    text = render(r, QHIL_REPORT_JSON);
    assert_int_equal(report_events(text, 1, 1, &dropped), 0);
    assert_int_equal(dropped, 3);
    free(text);
    qhil_suite_result_free(r);

    r = events_result(fifo, 3); /* nobody writes it: a read would block */
    text = render(r, QHIL_REPORT_JSON);
    assert_int_equal(report_events(text, 1, 0, &dropped), 0);
    assert_int_equal(dropped, 3);
    free(text);
    qhil_suite_result_free(r);

    r = events_result(link, 3); /* a symlink is not followed */
    text = render(r, QHIL_REPORT_JSON);
    assert_int_equal(report_events(text, 1, 0, &dropped), 0);
    assert_int_equal(dropped, 3);
    free(text);
    qhil_suite_result_free(r);

    unlink(fifo);
    unlink(link);
    free(cut);
    free(bad);
    free(grown);
    free(fifo);
    free(link);
    free(gone);
}

/* The QEMU version for JUnit comes from the events in the file too. */
static void test_annotate_events_file(void **state)
{
    const char *lines =
        "{\"kind\": \"test_start\"}\n"
        "{\"kind\": \"machine_start\", \"qemu_version\": \"7.2.9\"}\n";
    char *path = write_file("version.jsonl", lines, strlen(lines));
    qhil_suite_result *r = new_result("v", 2);

    (void)state;
    set_test(&r->tests[0], "a", QHIL_PASS, 1);
    set_test(&r->tests[1], "b", QHIL_PASS, 1);
    r->tests[0].events_log = strdup(path);
    r->tests[0].events_kept = 2;
    r->tests[1].events_log = strdup(path);
    r->tests[1].events_kept = 1; /* the machine_start line is not its */
    assert_int_equal(qhil_suite_result_annotate(r, NULL, NULL, 0), 0);
    assert_non_null(r->tests[0].qemu_version);
    assert_string_equal(r->tests[0].qemu_version, "7.2.9");
    assert_null(r->tests[1].qemu_version);
    qhil_suite_result_free(r);
    free(path);
}

/* An attempt's file stops at its cap: the rest is refused, for the
 * caller to count as dropped, and the file never grows past it. */
static void test_eventlog_cap(void **state)
{
    char dir[PATH_MAX];
    size_t big = (size_t)1 << 20;
    char *text = malloc(big);
    qhil_eventlog log;
    json_t *ev;
    char *path = NULL;
    struct stat st;
    size_t kept = 0;
    size_t i;

    (void)state;
    assert_non_null(text);
    memset(text, 'x', big - 1);
    text[big - 1] = '\0';
    ev = json_pack("{s:s, s:s}", "kind", "console_line", "text", text);
    assert_non_null(ev);
    snprintf(dir, sizeof(dir), "%s/cap", tmp_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(qhil_eventlog_open(&log, dir, &path, NULL), 0);
    for (i = 0; i < 40; i++) {
        kept += qhil_eventlog_put(&log, ev) == 0;
    }
    assert_int_equal(kept, 31);
    assert_int_equal(qhil_eventlog_put(&log, ev), QHIL_ELIMIT);
    assert_int_equal(qhil_eventlog_close(&log), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true((size_t)st.st_size <= QHIL_EVENTLOG_MAX);
    assert_int_equal(qhil_eventlog_put(&log, ev), QHIL_EINVAL); /* closed */
    unlink(path);
    rmdir(dir);
    free(path);
    json_decref(ev);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_counts),
        cmocka_unit_test(test_tap_exact),
        cmocka_unit_test(test_tap_empty),
        cmocka_unit_test(test_junit_structure),
        cmocka_unit_test(test_junit_escaping),
        cmocka_unit_test(test_junit_log_cut),
        cmocka_unit_test(test_junit_missing_log),
        cmocka_unit_test(test_junit_qemu_log),
        cmocka_unit_test(test_save),
        cmocka_unit_test(test_report_file),
        cmocka_unit_test(test_junit_planted_log),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_interrupted),
        cmocka_unit_test(test_junit_properties),
        cmocka_unit_test(test_annotate_mismatch),
        cmocka_unit_test(test_retried),
        cmocka_unit_test(test_all_failures),
        cmocka_unit_test(test_json_events_file),
        cmocka_unit_test(test_json_events_damaged),
        cmocka_unit_test(test_annotate_events_file),
        cmocka_unit_test(test_eventlog_cap),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
