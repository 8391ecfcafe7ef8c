/*
 * test_report_html.c - the HTML report: what the run check refuses (with
 * the key), that guest text cannot leave the page's data element, that
 * nothing is written for a refused run, and the atomic save.
 */
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

#include <qhil/report_html.h>

/* A run of one test named name, with one console line holding text. */
static json_t *make_run(const char *name, const char *text)
{
    json_t *run = json_pack(
        "{s:i, s:{s:s, s:s}, s:{s:i, s:i, s:i, s:i}, s:[{s:s, s:s, s:I, "
        "s:[{s:i, s:s, s:i, s:s, s:i, s:i, s:s}]}]}",
        "qhil_run", 1, "suite", "name", "s", "file", "s.yaml", "counts",
        "pass", 0, "fail", 1, "error", 0, "skip", 0, "tests", "name", name,
        "verdict", "fail", "duration_ns", (json_int_t)5, "events", "v", 1,
        "kind", "console_line", "wall_ns", 3, "port", "console", "offset",
        0, "len", (int)strlen(text), "text", text);
    assert_non_null(run);
    return run;
}

static json_t *test0(json_t *run)
{
    return json_array_get(json_object_get(run, "tests"), 0);
}

/* Check run, expect a refusal whose message holds want. */
static void refused(json_t *run, const char *want)
{
    qhil_error err;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    qhil_error_init(&err);
    assert_int_equal(qhil_report_html(run, out, &err), QHIL_EINVAL);
    fclose(out);
    assert_int_equal(len, 0);
    if (!strstr(err.message, want)) {
        fail_msg("message '%s' lacks '%s'", err.message, want);
    }
    qhil_error_release(&err);
    free(buf);
    json_decref(run);
}

static void test_check(void **state)
{
    json_t *run;

    (void)state;
    run = make_run("t", "x");
    assert_int_equal(qhil_report_html_check(run, NULL), QHIL_EOK);
    json_decref(run);

    run = make_run("t", "x");
    json_object_set_new(run, "qhil_run", json_integer(3));
    refused(run, "qhil_run: version 3 is not known, expected 1 or 2");
    run = make_run("t", "x");
    json_object_del(run, "qhil_run");
    refused(run, "qhil_run: missing");
    run = make_run("t", "x");
    json_object_set_new(run, "tests", json_string("many"));
    refused(run, "tests: expected an array, got a string");
    run = make_run("t", "x");
    json_object_set_new(json_object_get(run, "suite"), "name", json_null());
    refused(run, "suite.name: expected a string, got null");
    run = make_run("t", "x");
    json_object_set_new(test0(run), "verdict", json_string("ok"));
    refused(run, "tests[0].verdict: expected pass, fail, error or skip, "
                 "got \"ok\"");
    run = make_run("t", "x");
    json_object_del(test0(run), "name");
    refused(run, "tests[0].name: missing, expected a string");
    run = make_run("t", "x");
    json_object_set_new(
        json_array_get(json_object_get(test0(run), "events"), 0), "wall_ns",
        json_integer(-1));
    refused(run, "tests[0].events[0].wall_ns: expected an integer >= 0");
    /* Counts that say all passed while a test failed. */
    run = make_run("t", "x");
    json_object_set_new(json_object_get(run, "counts"), "fail",
                        json_integer(0));
    refused(run, "counts.fail: 0, but tests holds 1 test with verdict fail");
    run = make_run("t", "x");
    json_object_del(run, "counts");
    refused(run, "counts: missing, expected an object");
}

/* The data element of the page: between its start tag and "</script>". */
static void test_escape(void **state)
{
    static const char start[] =
        "<script id=\"qhil-run\" type=\"application/json\">";
    const char *text = "</script><script>alert(1)</script><!-- a\xe2\x80\xa8"
                       "b\xe2\x80\xa9 & >";
    json_t *run = make_run("<img src=x onerror=alert(1)>", text);
    json_t *back;
    json_error_t jerr;
    qhil_error err;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char *data;
    char *end;
    char *p;
    int n;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_report_html(run, out, &err), QHIL_EOK);
    fclose(out);
    data = strstr(buf, start);
    assert_non_null(data);
    data += strlen(start);
    end = strstr(data, "</script>");
    assert_non_null(end);
    for (p = data; p < end; p++) {
        assert_true(*p != '<' && *p != '>' && *p != '&');
        assert_true((unsigned char)*p < 0x80);
    }
    /* The data is the same run. */
    back = json_loadb(data, (size_t)(end - data), 0, &jerr);
    assert_non_null(back);
    assert_true(json_equal(back, run));
    /* Exactly the page's own two scripts, nothing from the data. */
    n = 0;
    for (p = buf; (p = strstr(p, "<script")); p++) {
        n++;
    }
    assert_int_equal(n, 2);
    assert_null(strstr(buf, "<img"));
    json_decref(back);
    json_decref(run);
    qhil_error_release(&err);
    free(buf);
}

static void test_save(void **state)
{
    char dir[] = "/tmp/qhil-html-XXXXXX";
    char path[64];
    char victim[64];
    char json_path[64];
    json_t *run = make_run("t", "x");
    json_t *loaded = NULL;
    qhil_error err;
    struct stat st;
    FILE *f;

    (void)state;
    qhil_error_init(&err);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.html", dir);
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    snprintf(json_path, sizeof(json_path), "%s/run.json", dir);
    f = fopen(victim, "w");
    fputs("secret", f);
    fclose(f);
    assert_int_equal(symlink(victim, path), 0);
    assert_int_equal(qhil_report_html_save(run, path, &err), QHIL_EOK);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 6);

    /* A refused run leaves the page as it was. */
    json_object_set_new(run, "qhil_run", json_integer(7));
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(qhil_report_html_save(run, path, &err), QHIL_EINVAL);
    {
        struct stat st2;
        assert_int_equal(lstat(path, &st2), 0);
        assert_int_equal(st2.st_ino, st.st_ino);
    }

    /* load: a file that is not JSON names the line and column. */
    f = fopen(json_path, "w");
    fputs("{\n  \"qhil_run\": 1,\n  oops\n}\n", f);
    fclose(f);
    assert_int_equal(qhil_report_html_load(json_path, &loaded, &err),
                     QHIL_ESYNTAX);
    assert_null(loaded);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.message, "run.json:3:"));
    unlink(json_path);
    unlink(path);
    unlink(victim);
    rmdir(dir);
    json_decref(run);
    qhil_error_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_save),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
