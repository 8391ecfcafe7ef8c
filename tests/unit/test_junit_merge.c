/*
 * test_junit_merge.c - joining JUnit reports: a report qhil wrote comes
 * back byte for byte (hostile console bytes, CR, CR LF, tabs and quotes
 * in messages), shards join into what one run would have written, and
 * every bad input is refused with the file named and the merge and the
 * output left as they were.
 */
#include <dirent.h>
#include <fcntl.h>
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

#include "testutil.h"

#include <qhil/junit.h>
#include <qhil/report.h>

static char *tmp_dir;

static int setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    if (asprintf(&tmp_dir, "%s/qhil-merge-XXXXXX", base ? base : "/tmp") < 0 ||
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
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
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

static char *path_of(const char *name)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s", tmp_dir, name) > 0);
    return p;
}

static char *write_file(const char *name, const char *data)
{
    char *path = path_of(name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    int c;

    assert_non_null(f);
    assert_non_null(mem);
    while ((c = fgetc(f)) != EOF) {
        fputc(c, mem);
    }
    fclose(f);
    fclose(mem);
    return data;
}

static size_t count_entries(void)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

static void set_test(qhil_test_result *t, const char *name, qhil_verdict v,
                     int64_t ns, const char *msg, const char *log)
{
    memset(t, 0, sizeof(*t));
    t->name = strdup(name);
    t->verdict = v;
    t->duration_ns = ns;
    t->message = msg ? strdup(msg) : NULL;
    t->console_log = log ? strdup(log) : NULL;
}

/* The console bytes a firmware may print that XML cannot carry as they
 * are: lone CR, CR LF, CR CR LF, NUL, ESC, invalid UTF-8, markup. */
static const char hostile[] =
    "boot\r\nline\rover\r\r\nesc\x1b[0m nul\x01 bad\xff\xfe "
    "<tag a=\"1\" b='2'> & ]]> \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\t|"
    "\r";

/*
 * A suite result of the tests[] named, with every verdict and hostile
 * messages and logs.  Only the tests whose bit is in mask are kept, in
 * order.
 */
static qhil_suite_result *make_result(const char *suite, unsigned mask,
                                      int64_t suite_ns)
{
    qhil_suite_result *r = calloc(1, sizeof(*r));
    char *log = path_of("console.log");
    FILE *f = fopen(log, "w");
    size_t n = 0;

    assert_non_null(f);
    fwrite(hostile, 1, sizeof(hostile) - 1, f);
    fclose(f);
    r->name = strdup(suite);
    r->started_unix = 1700000000;
    r->duration_ns = suite_ns;
    r->tests = calloc(5, sizeof(*r->tests));
    if (mask & 1) {
        set_test(&r->tests[n++], "passes", QHIL_PASS, 1234567, NULL, log);
    }
    if (mask & 2) {
        set_test(&r->tests[n], "fails \"quoted\" <x>", QHIL_FAIL, 2000000,
                 "expected \"Hello\"\tgot\r\nnothing & more", log);
        r->tests[n].step = 2;
        r->tests[n].step_line = 12;
        r->tests[n].step_desc = strdup("expect \"Hello\"");
        r->tests[n++].console_tail = strdup("tail\r\nend\r");
    }
    if (mask & 4) {
        set_test(&r->tests[n++], "errors", QHIL_ERROR, 3000000,
                 "QEMU died\x01 early", NULL);
    }
    if (mask & 8) {
        set_test(&r->tests[n++], "skips", QHIL_SKIP, 0, "not run: SIGINT",
                 NULL);
    }
    if (mask & 16) {
        set_test(&r->tests[n++], "bare", QHIL_PASS, 5, NULL, NULL);
    }
    r->n_tests = n;
    free(log);
    return r;
}

static char *save_result(const char *name, const char *suite, unsigned mask,
                         int64_t ns)
{
    qhil_suite_result *r = make_result(suite, mask, ns);
    char *path = path_of(name);

    assert_int_equal(qhil_report_save(r, QHIL_REPORT_JUNIT, path, NULL), 0);
    qhil_suite_result_free(r);
    return path;
}

static char *merged_text(qhil_junit_merge *m)
{
    char *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);

    assert_non_null(mem);
    assert_int_equal(qhil_junit_merge_write(m, mem, NULL), 0);
    fclose(mem);
    return data;
}

/* One report qhil wrote, merged alone, comes back byte for byte. */
static void test_round_trip(void **state)
{
    char *in = save_result("one.xml", "suite & <one>", 31, 9876543210);
    char *want = read_file(in);
    qhil_junit_merge *m = NULL;
    char *got;

    (void)state;
    assert_int_equal(qhil_junit_merge_new(&m, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, in, NULL), 0);
    got = merged_text(m);
    assert_string_equal(got, want);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_TESTS), 5);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_FAILURES), 1);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_ERRORS), 1);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_SKIPPED), 1);
    free(got);
    free(want);
    free(in);
    qhil_junit_merge_free(m);
}

/*
 * Three shards of a suite and a shard of another suite join into what
 * one run of each would have written: tests in shard order, totals and
 * times summed.
 */
static void test_shards_join(void **state)
{
    char *a = save_result("a.xml", "s", 1 | 8, 1000000000);
    char *b = save_result("b.xml", "s", 2 | 16, 2000000000);
    char *c = save_result("c.xml", "s", 4, 500000000);
    char *o = save_result("o.xml", "other", 1, 250000000);
    char *full_path = path_of("full.xml");
    char *other_path = path_of("full-other.xml");
    qhil_suite_result *full = make_result("s", 31, 3500000000);
    qhil_junit_merge *m = NULL;
    qhil_test_result t;
    char *want;
    char *other;
    char *got;
    char *end;

    (void)state;
    /* One run in the shards' order: passes, skips, fails, bare,
     * errors. */
    t = full->tests[1];
    full->tests[1] = full->tests[3];
    full->tests[3] = full->tests[4];
    full->tests[4] = full->tests[2];
    full->tests[2] = t;
    assert_int_equal(qhil_report_save(full, QHIL_REPORT_JUNIT, full_path, NULL),
                     0);
    qhil_suite_result_free(full);
    free(save_result("full-other.xml", "other", 1, 250000000));

    assert_int_equal(qhil_junit_merge_new(&m, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, a, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, o, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, b, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, c, NULL), 0);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_FILES), 4);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_SUITES), 2);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_TESTS), 6);
    got = merged_text(m);

    /* want: full.xml's suite, then full-other.xml's suite. */
    want = read_file(full_path);
    other = read_file(other_path);
    end = strstr(want, "</testsuites>\n");
    assert_non_null(end);
    *end = '\0';
    assert_true(strncmp(got, want, strlen(want)) == 0);
    assert_string_equal(got + strlen(want), strstr(other, "  <testsuite "));
    free(got);
    free(want);
    free(other);
    free(a);
    free(b);
    free(c);
    free(o);
    free(full_path);
    free(other_path);
    qhil_junit_merge_free(m);
}

/* An empty shard (a suite smaller than the shard count) still joins. */
static void test_empty_shard(void **state)
{
    char *a = save_result("a.xml", "s", 0, 100000000);
    char *b = save_result("b.xml", "s", 1, 100000000);
    qhil_junit_merge *m = NULL;
    char *got;

    (void)state;
    assert_int_equal(qhil_junit_merge_new(&m, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, a, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, b, NULL), 0);
    got = merged_text(m);
    assert_contains(got, "name=\"s\" tests=\"1\" failures=\"0\" errors=\"0\" "
                         "skipped=\"0\" time=\"0.200\"");
    free(got);
    free(a);
    free(b);
    qhil_junit_merge_free(m);
}

/* Add path to a merge that already holds good.xml; it must fail with
 * code, a message holding each of the NULL-terminated needles, and the
 * merge unchanged. */
static void expect_refused(const char *path, int code, ...)
{
    char *good = save_result("good.xml", "s", 1, 1000);
    qhil_junit_merge *m = NULL;
    qhil_error err;
    const char *needle;
    char *before;
    char *after;
    va_list ap;

    qhil_error_init(&err);
    assert_int_equal(qhil_junit_merge_new(&m, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, good, NULL), 0);
    before = merged_text(m);
    assert_int_equal(qhil_junit_merge_add(m, path, &err), code);
    assert_contains(err.message, path);
    va_start(ap, code);
    while ((needle = va_arg(ap, const char *)) != NULL) {
        assert_contains(err.message, needle);
    }
    va_end(ap);
    after = merged_text(m);
    assert_string_equal(after, before);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_FILES), 1);
    free(before);
    free(after);
    free(good);
    qhil_error_release(&err);
    qhil_junit_merge_free(m);
}

static void test_missing_file(void **state)
{
    char *p = path_of("nothing.xml");

    (void)state;
    expect_refused(p, QHIL_ENOENT, "cannot open", NULL);
    free(p);
}

/* A FIFO is refused at once, never opened for a read that would wait
 * for a writer (the test's timeout catches a hang). */
static void test_fifo(void **state)
{
    char *p = path_of("fifo.xml");

    (void)state;
    assert_int_equal(mkfifo(p, 0600), 0);
    expect_refused(p, QHIL_EINVAL, "not a regular file", NULL);
    free(p);
}

static void test_folder(void **state)
{
    (void)state;
    expect_refused(tmp_dir, QHIL_EINVAL, "not a regular file", NULL);
}

static void test_not_xml(void **state)
{
    char *empty = write_file("empty.xml", "");
    char *text = write_file("text.xml", "PASS\n");
    char *cut = write_file("cut.xml", "<?xml version=\"1.0\"?>\n<testsuites>\n"
                                      "  <testsuite name=\"s\" tests=\"1\">\n"
                                      "    <testcase name=\"t\">\n");
    char *amp =
        write_file("amp.xml", "<testsuites>\n\n <testsuite name=\"a&b\"/>");

    (void)state;
    expect_refused(empty, QHIL_ESYNTAX, ":1:", "not well-formed XML", NULL);
    expect_refused(text, QHIL_ESYNTAX, ":1:", NULL);
    expect_refused(cut, QHIL_ESYNTAX, ":5:", NULL);
    expect_refused(amp, QHIL_ESYNTAX, ":3:", NULL);
    free(empty);
    free(text);
    free(cut);
    free(amp);
}

static void test_not_junit(void **state)
{
    char *html = write_file("html.xml", "<html><body/></html>");
    char *noname =
        write_file("noname.xml", "<testsuites>\n<testsuite tests=\"0\"/>\n"
                                 "</testsuites>\n");
    char *casename =
        write_file("casename.xml", "<testsuite name=\"s\">\n"
                                   "<testcase classname=\"s\"/></testsuite>");
    char *stray =
        write_file("stray.xml", "<testsuites><testsuite name=\"s\">PASS"
                                "</testsuite></testsuites>");
    char *other =
        write_file("other.xml", "<testsuites><testsuite name=\"s\">\n"
                                "  <properties/></testsuite></testsuites>");
    char *badtime =
        write_file("badtime.xml", "<testsuite name=\"s\" time=\"1e3\"/>");

    (void)state;
    expect_refused(html, QHIL_ESYNTAX, ":1:", "root element is <html>", NULL);
    expect_refused(noname, QHIL_EINVAL, ":2:", "no name", NULL);
    expect_refused(casename, QHIL_ESYNTAX, ":2:", "<testcase> without a name",
                   NULL);
    expect_refused(stray, QHIL_EINVAL, "text outside", NULL);
    expect_refused(other, QHIL_EINVAL, ":2:", "<properties>", NULL);
    expect_refused(badtime, QHIL_EINVAL, "time=\"1e3\"", NULL);
    free(html);
    free(noname);
    free(casename);
    free(stray);
    free(other);
    free(badtime);
}

/* The rules the durations reader applies hold for a merge too: what a
 * merge writes, qhil run --durations must be able to read. */
static void test_shared_rules(void **state)
{
    char *nested = write_file("nested.xml",
                              "<testsuite name=\"s\">\n<testcase name=\"a\">\n"
                              "<testcase name=\"b\"/></testcase></testsuite>");
    char *empty =
        write_file("emptyname.xml", "<testsuite name=\"s\">\n"
                                    "<testcase name=\"\"/></testsuite>");
    char *loose = write_file("loose.xml", "<testsuites>\n"
                                          "<testcase name=\"a\"/>"
                                          "</testsuites>");
    char *big = path_of("big.xml");
    int fd;

    (void)state;
    expect_refused(nested, QHIL_ESYNTAX,
                   ":3:", "<testcase> inside a <testcase>", NULL);
    expect_refused(empty, QHIL_ESYNTAX, ":2:", "<testcase> without a name",
                   NULL);
    expect_refused(loose, QHIL_ESYNTAX,
                   ":2:", "<testcase> outside a <testsuite>", NULL);
    /* Over the cap (sparse): refused from its size, before a read. */
    fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)QHIL_JUNIT_FILE_MAX + 1), 0);
    close(fd);
    expect_refused(big, QHIL_ETOOBIG, "bytes, over the limit of 512 MiB", NULL);
    free(nested);
    free(empty);
    free(loose);
    free(big);
}

/* Entities are never expanded: a billion-laughs file stops at its
 * DOCTYPE. */
static void test_doctype(void **state)
{
    char *p = write_file(
        "lol.xml", "<?xml version=\"1.0\"?>\n"
                   "<!DOCTYPE t [<!ENTITY a \"aaaaaaaaaa\">"
                   "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n"
                   "<testsuites><testsuite name=\"&b;\"/></testsuites>\n");

    (void)state;
    expect_refused(p, QHIL_ESYNTAX,
                   ":2:", "DOCTYPE t: a JUnit report has no DTD", NULL);
    free(p);
}

/* A file whose totals its cases do not add up to was edited or cut: a
 * merge must not turn its lie into a clean count. */
static void test_totals_lie(void **state)
{
    char *full = save_result("lie.xml", "s", 2 | 16, 1000);
    char *text = read_file(full);
    char *fail = strstr(text, "<failure");
    char *fail_end = strstr(text, "</failure>\n");
    char *edited;
    char *p;

    (void)state;
    /* Drop the <failure> element: the case now reads as a pass, but the
     * suite still says failures="1". */
    assert_non_null(fail);
    assert_non_null(fail_end);
    memmove(fail, fail_end + strlen("</failure>\n"),
            strlen(fail_end + strlen("</failure>\n")) + 1);
    edited = write_file("lie.xml", text);
    expect_refused(edited, QHIL_EINVAL, "failures=\"1\" but holds 0", NULL);
    free(edited);
    free(text);

    /* A suite that says tests="3" but holds 2. */
    text = read_file(full);
    p = strstr(text, "tests=\"2\"");
    assert_non_null(p);
    p[7] = '3';
    edited = write_file("lie.xml", text);
    expect_refused(edited, QHIL_EINVAL, "tests=\"3\" but holds 2", NULL);
    free(edited);
    free(text);
    free(full);
}

/* The same test in two files: an error naming both files. */
static void test_disagree(void **state)
{
    char *dup = save_result("dup.xml", "s", 16 | 1, 1000);
    char *good = path_of("good.xml");

    (void)state;
    expect_refused(dup, QHIL_EINVAL, "disagree on test \"passes\"", good,
                   "suite \"s\"", NULL);
    free(dup);
    free(good);
}

/* The same test name in another suite is another test. */
static void test_same_name_other_suite(void **state)
{
    char *a = save_result("a.xml", "s", 1, 1000);
    char *b = save_result("b.xml", "t", 1, 1000);
    qhil_junit_merge *m = NULL;

    (void)state;
    assert_int_equal(qhil_junit_merge_new(&m, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, a, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, b, NULL), 0);
    assert_int_equal(qhil_junit_merge_count(m, QHIL_JUNIT_SUITES), 2);
    free(a);
    free(b);
    qhil_junit_merge_free(m);
}

static void test_twice_in_one_file(void **state)
{
    char *p = write_file("twice.xml",
                         "<testsuites>\n<testsuite name=\"s\">\n"
                         "<testcase name=\"x\"/>\n<testcase name=\"x\"/>\n"
                         "</testsuite></testsuites>");

    (void)state;
    expect_refused(p, QHIL_EINVAL, ":4:", "appears twice in this file",
                   "line 3", NULL);
    free(p);
}

/* The same file given twice (here through a link) is said so. */
static void test_same_file_twice(void **state)
{
    char *good = path_of("good.xml");
    char *link = path_of("link.xml");

    (void)state;
    assert_int_equal(symlink(good, link), 0);
    expect_refused(link, QHIL_EINVAL, "the same file as", good, NULL);
    free(good);
    free(link);
}

/* Saving: atomic, refuses an existing file without force and an input
 * always (even through a symlink), and leaves no temporary file. */
static void test_save(void **state)
{
    char *in = save_result("in.xml", "s", 31, 1000);
    char *out = path_of("out.xml");
    char *link = path_of("link.xml");
    char *want = read_file(in);
    qhil_junit_merge *m = NULL;
    qhil_error err;
    char *got;
    size_t n;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_junit_merge_new(&m, NULL), 0);
    assert_int_equal(qhil_junit_merge_add(m, in, NULL), 0);
    n = count_entries();

    /* The output is an input, with or without force. */
    assert_int_equal(qhil_junit_merge_save(m, in, QHIL_JUNIT_FORCE, &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "is the input");
    assert_int_equal(symlink(in, link), 0);
    assert_int_equal(qhil_junit_merge_save(m, link, QHIL_JUNIT_FORCE, &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "is the input");
    got = read_file(in);
    assert_string_equal(got, want);
    free(got);
    unlink(link);

    /* A new file, then the same name again without and with force. */
    assert_int_equal(qhil_junit_merge_save(m, out, 0, &err), 0);
    got = read_file(out);
    assert_string_equal(got, want);
    free(got);
    free(write_file("out.xml", "keep me"));
    assert_int_equal(qhil_junit_merge_save(m, out, 0, &err), QHIL_EINVAL);
    assert_contains(err.message, "--force");
    assert_contains(err.message, out);
    got = read_file(out);
    assert_string_equal(got, "keep me");
    free(got);
    assert_int_equal(qhil_junit_merge_save(m, out, QHIL_JUNIT_FORCE, &err), 0);
    got = read_file(out);
    assert_string_equal(got, want);
    free(got);

    /* A folder, and a folder that does not exist. */
    assert_int_equal(qhil_junit_merge_save(m, tmp_dir, QHIL_JUNIT_FORCE, &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "is a folder");
    free(link);
    link = path_of("no/such/out.xml");
    assert_int_equal(qhil_junit_merge_save(m, link, 0, &err), QHIL_ENOENT);
    assert_contains(err.message, link);

    /* in.xml, out.xml, console.log: no temporary file left. */
    assert_int_equal(count_entries(), n + 1);
    free(want);
    free(in);
    free(out);
    free(link);
    qhil_error_release(&err);
    qhil_junit_merge_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shards_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_junit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doctype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totals_lie, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disagree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_name_other_suite, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_twice_in_one_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_file_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
