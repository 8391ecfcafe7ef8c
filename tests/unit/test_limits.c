/*
 * test_limits.c - the run's limits and the keep pass: sizes read as the
 * suites read them, a site's limits back with their file:line, every
 * wrong value refused at its line, a suite's log limits over the site's
 * refused, the run folder's budget (full means not run, caps lowered to
 * what is left), qhil_tree_bytes counting as du -sb does without
 * following links, and --keep removing only what it must: never the run
 * folder, job.log, a spared report, a folder outside the run, or what a
 * symlink planted in a test folder points at.
 */
#include <fcntl.h>
#include <ftw.h>
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

#include <qhil/job.h>
#include <qhil/keep.h>
#include <qhil/limits.h>
#include <qhil/report.h>
#include <qhil/site.h>

#include "runlimits.h"

static char *tmpdir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    char *real;

    assert_true(asprintf(&dir, "%s/qhil-test-limits.XXXXXX",
                         tmp && *tmp ? tmp : "/tmp") > 0);
    assert_non_null(mkdtemp(dir));
    real = realpath(dir, NULL);
    assert_non_null(real);
    free(dir);
    return real;
}

static char *join(const char *a, const char *b)
{
    char *s = NULL;

    assert_true(asprintf(&s, "%s/%s", a, b) > 0);
    return s;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

static void write_bytes(const char *path, size_t n)
{
    FILE *fp = fopen(path, "w");
    size_t i;

    assert_non_null(fp);
    for (i = 0; i < n; i++) {
        fputc('x', fp);
    }
    assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

/* Test clean-up, on our own mkdtemp folders: links removed, not
 * followed. */
static void rm_rf(const char *path)
{
    assert_int_equal(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void test_size_parse(void **state)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        {"4096", 4096},
        {"4KiB", 4096},
        {"64MiB", (uint64_t)64 << 20},
        {"1GiB", (uint64_t)1 << 30},
        {"64GiB", (uint64_t)64 << 30},
        {"5000B", 5000},
    };
    static const char *const bad[] = {
        "", "1MB", "64M", "0", "4095", "3KiB", "65GiB", "-1MiB", "1.5GiB",
        "99999999999999999999999", " 64MiB", "64MiB ",
    };
    qhil_error e;
    uint64_t v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = 0;
        assert_int_equal(qhil_size_parse(good[i].text, "--x", &v, NULL),
                         QHIL_EOK);
        assert_true(v == good[i].bytes);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qhil_error_init(&e);
        assert_int_equal(qhil_size_parse(bad[i], "--max-memory", &v, &e),
                         QHIL_EINVAL);
        assert_contains(e.message, "--max-memory");
        assert_contains(e.message, "64MiB");
        qhil_error_release(&e);
    }
}

static void test_size_format(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(qhil_size_format((uint64_t)64 << 20, buf, 32),
                        "64 MiB");
    assert_string_equal(qhil_size_format((uint64_t)2 << 30, buf, 32),
                        "2 GiB");
    assert_string_equal(qhil_size_format(300 << 10, buf, 32), "300 KiB");
    assert_string_equal(qhil_size_format(5000, buf, 32), "5000 bytes");
}

static void test_site_limits(void **state)
{
    char *dir = tmpdir();
    char *path = join(dir, "site.yaml");
    const qhil_limits *l;
    qhil_site *site = NULL;
    char *want = NULL;

    (void)state;
    write_file(path, "site: lab\n"
                     "limits:\n"
                     "  jobs: 3\n"
                     "  memory: 256MiB\n"
                     "  console: 16MiB\n"
                     "  qemu_log: 4MiB\n"
                     "  run_folder: 1GiB\n");
    assert_int_equal(qhil_site_load(path, &site, NULL), QHIL_EOK);
    l = qhil_site_limits(site);
    assert_int_equal(l->jobs, 3);
    assert_true(l->memory == (uint64_t)256 << 20);
    assert_true(l->console == (uint64_t)16 << 20);
    assert_true(l->qemu_log == (uint64_t)4 << 20);
    assert_true(l->run_folder == (uint64_t)1 << 30);
    assert_true(asprintf(&want, "%s:4", path) > 0);
    assert_string_equal(l->memory_from, want);
    free(want);
    assert_true(asprintf(&want, "%s:3", path) > 0);
    assert_string_equal(l->jobs_from, want);
    free(want);
    qhil_site_free(site);

    /* No limits: no caps. */
    write_file(path, "site: lab\n");
    assert_int_equal(qhil_site_load(path, &site, NULL), QHIL_EOK);
    l = qhil_site_limits(site);
    assert_true(!l->jobs && !l->memory && !l->console && !l->qemu_log &&
                !l->run_folder);
    qhil_site_free(site);
    assert_int_equal(qhil_site_builtin(&site, NULL), QHIL_EOK);
    assert_true(!qhil_site_limits(site)->memory);
    qhil_site_free(site);

    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

static void test_site_limits_errors(void **state)
{
    static const struct {
        const char *yaml;
        const char *want;
    } cases[] = {
        {"limits:\n  jobz: 2\n", ":2:3: limits: unknown key 'jobz'"},
        {"limits:\n  jobs: 0\n", ":2:9: limits.jobs: expected a number"},
        {"limits:\n  jobs: two\n", "got two"},
        {"limits:\n  jobs: 2x\n", "got 2x"},
        {"limits:\n  jobs: -1\n", "limits.jobs"},
        {"limits:\n  memory: 1MB\n", ":2:11: limits.memory: expected a size"},
        {"limits:\n  memory: [1]\n", "limits.memory: expected a size"},
        {"limits:\n  run_folder: 100\n", "limits.run_folder"},
        {"limits:\n  console: 65GiB\n", "limits.console"},
        {"limits: 64MiB\n", "limits: expected a mapping"},
        {"limits:\n  memory: 64MiB\n  memory: 1GiB\n", "duplicate key"},
    };
    char *dir = tmpdir();
    char *path = join(dir, "site.yaml");
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qhil_site *site = NULL;
        qhil_error e;

        qhil_error_init(&e);
        write_file(path, cases[i].yaml);
        assert_int_equal(qhil_site_load(path, &site, &e), QHIL_EINVAL);
        assert_null(site);
        assert_contains(e.message, cases[i].want);
        assert_contains(e.message, path);
        qhil_error_release(&e);
    }
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* A site's cap wins over a larger option; a smaller option wins. */
static void test_limits_of_run(void **state)
{
    char *dir = tmpdir();
    char *path = join(dir, "site.yaml");
    qhil_site *site = NULL;
    qhil_run_opts o = {0};
    qhil_limits l;

    (void)state;
    write_file(path, "limits: {memory: 128MiB, run_folder: 1MiB}\n");
    assert_int_equal(qhil_site_load(path, &site, NULL), QHIL_EOK);
    o.site = site;
    o.max_memory = (uint64_t)1 << 30; /* more than the site: ignored */
    o.max_run_folder = 64 << 10;      /* less: wins */
    qhil_limits_of_run(&o, &l);
    assert_true(l.memory == (uint64_t)128 << 20);
    assert_contains(l.memory_from, "site.yaml:1");
    assert_true(l.run_folder == 64 << 10);
    assert_string_equal(l.run_folder_from, "--max-run-folder");
    o.site = NULL;
    qhil_limits_of_run(&o, &l);
    assert_true(l.memory == (uint64_t)1 << 30);
    qhil_site_free(site);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

static void test_suite_over_site(void **state)
{
    qhil_test tests[2] = {
        {.name = "small", .line = 5, .console_limit = 1 << 20},
        {.name = "big", .line = 9, .console_limit = (uint64_t)1 << 30},
    };
    qhil_suite suite = {.path = "s.yaml", .tests = tests, .n_tests = 2};
    qhil_limits l = {.console = (uint64_t)16 << 20,
                     .console_from = "site.yaml:4"};
    qhil_error e;

    (void)state;
    qhil_error_init(&e);
    assert_int_equal(qhil_limits_check(&l, &suite, NULL, &e), QHIL_EINVAL);
    assert_string_equal(e.message,
                        "s.yaml:9: test 'big': limits.console: 1 GiB is over "
                        "the site's cap of 16 MiB (site.yaml:4)");
    qhil_error_release(&e);
    /* Within, and a test with no limit of its own gets the cap. */
    tests[1].console_limit = 0;
    tests[1].qemu_log_limit = 0;
    assert_int_equal(qhil_limits_check(&l, &suite, NULL, NULL), QHIL_EOK);
    assert_true(qhil_limits_console(&l, &tests[1]) == (uint64_t)16 << 20);
    assert_true(qhil_limits_console(&l, &tests[0]) == 1 << 20);
    /* No site cap: the 64 MiB default. */
    assert_true(qhil_limits_qemu_log(&l, &tests[1]) == (uint64_t)64 << 20);
    l.qemu_log = 8 << 10;
    l.qemu_log_from = "site.yaml:5";
    tests[0].qemu_log_limit = 16 << 10;
    qhil_error_init(&e);
    assert_int_equal(qhil_limits_check(&l, &suite, NULL, &e), QHIL_EINVAL);
    assert_contains(e.message, "test 'small': limits.qemu_log: 16 KiB");
    qhil_error_release(&e);
}

/* The guest RAM of a command line against the memory cap: the board's
 * -m, and a trusted job's, bare or as size=; a board with none. */
static void test_memory_of_argv(void **state)
{
    static const struct {
        const char *board;   /* the board's memory, NULL: none */
        const char *context; /* the job's, NULL: none */
        int rc;
        const char *want;
    } cases[] = {
        {"1G", NULL, QHIL_EINVAL,
         "mem-board.yaml: -m 1G gives the guest 1024 MiB of RAM, over the "
         "memory limit of 256 MiB per QEMU (--max-memory)"},
        {"256", NULL, QHIL_EOK, NULL}, /* MiB: exactly the cap fits */
        {"257M", NULL, QHIL_EINVAL, "257 MiB"},
        {NULL, NULL, QHIL_EOK, NULL},
        {"64M", "size=300M,slots=2,maxmem=1G", QHIL_EINVAL,
         "s.yaml:7: -m size=300M,slots=2,maxmem=1G gives the guest 300 MiB"},
        {"64M", "slots=2,size=512K", QHIL_EOK, NULL},
        {"64M", "300M,slots=2", QHIL_EINVAL, "300 MiB"},
    };
    qhil_limits l = {.memory = (uint64_t)256 << 20,
                     .memory_from = "--max-memory"};
    qhil_suite suite = {.path = "s.yaml"};
    char *dir = tmpdir();
    char *board = join(dir, "mem-board.yaml");
    const char *dirs[] = {dir, NULL};
    qhil_site *site = NULL;
    size_t i;

    (void)state;
    assert_int_equal(qhil_site_builtin(&site, NULL), QHIL_EOK);
    assert_int_equal(qhil_site_trust(site, "--trusted", NULL), QHIL_EOK);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qhil_board_value ctx = {"memory", cases[i].context, "s.yaml:7"};
        qhil_job_opts jo = {
            .device_type = "mem-board",
            .board_dirs = dirs,
            .site = site,
            .context = cases[i].context ? &ctx : NULL,
            .n_context = cases[i].context ? 1 : 0,
        };
        qhil_job *job = NULL;
        qhil_error e;
        char *text = NULL;

        assert_true(asprintf(&text,
                             "device_type: mem-board\n"
                             "arch: arm\n"
                             "qemu:\n"
                             "  binary: /bin/true\n"
                             "  machine: virt\n"
                             "  context: [memory]\n"
                             "%s%s%s",
                             cases[i].board ? "  memory: \"" : "",
                             cases[i].board ? cases[i].board : "",
                             cases[i].board ? "\"\n" : "") > 0);
        write_file(board, text);
        free(text);
        qhil_error_init(&e);
        if (qhil_job_new(&jo, &job, &e) != QHIL_EOK) {
            fail_msg("%s", e.message);
        }
        assert_int_equal(qhil_limits_check(&l, &suite, job, &e), cases[i].rc);
        if (cases[i].want) {
            assert_contains(e.message, cases[i].want);
        }
        qhil_error_release(&e);
        qhil_job_free(job);
    }
    qhil_site_free(site);
    unlink(board);
    rmdir(dir);
    free(board);
    free(dir);
}

static void test_tree_bytes(void **state)
{
    char *dir = tmpdir();
    char *sub = join(dir, "sub");
    char *outside = tmpdir();
    char *big = join(outside, "big");
    char *p;
    struct stat st;
    uint64_t dirs;

    (void)state;
    assert_int_equal(mkdir(sub, 0755), 0);
    p = join(dir, "a");
    write_bytes(p, 1000);
    free(p);
    p = join(sub, "b");
    write_bytes(p, 234);
    free(p);
    /* A link to a big file elsewhere counts as a link, not the file. */
    write_bytes(big, 100000);
    p = join(dir, "link");
    assert_int_equal(symlink(big, p), 0);
    free(p);
    p = join(dir, "linkdir");
    assert_int_equal(symlink(outside, p), 0);
    free(p);
    assert_int_equal(stat(dir, &st), 0);
    dirs = (uint64_t)st.st_size;
    assert_int_equal(stat(sub, &st), 0);
    dirs += (uint64_t)st.st_size;
    assert_true(qhil_tree_bytes(dir) ==
                dirs + 1000 + 234 + strlen(big) + strlen(outside));
    assert_true(qhil_tree_bytes("/nonexistent/qhil") == 0);
    rm_rf(dir);
    rm_rf(outside);
    free(sub);
    free(big);
    free(dir);
    free(outside);
}

static void test_budget(void **state)
{
    char *dir = tmpdir();
    char *t1 = join(dir, "t1");
    char *p = join(dir, "job.log");
    qhil_test test = {.name = "t", .console_limit = 0,
                      .qemu_log_limit = 1 << 20};
    qhil_limits l = {.run_folder = 100 << 10,
                     .run_folder_from = "site.yaml:2"};
    const qhil_test *tp = &test;
    qhil_budget b;
    uint64_t used;
    char *why = NULL;

    (void)state;
    write_bytes(p, 1000);
    assert_int_equal(qhil_budget_init(&b, &l, 3, dir, NULL), QHIL_EOK);
    used = b.written;
    assert_true(used >= 1000 && used < 10000);
    /* The first test's logs: half of what is left each. */
    assert_true(qhil_budget_start(&b, 0, &tp, &why));
    assert_ptr_not_equal(tp, &test);
    assert_true(tp->console_limit == ((100 << 10) - used) / 2);
    assert_true(tp->qemu_log_limit == ((100 << 10) - used) / 2);
    assert_true(test.qemu_log_limit == 1 << 20); /* the suite's untouched */
    assert_int_equal(mkdir(t1, 0755), 0);
    free(p);
    p = join(t1, "console.log");
    write_bytes(p, 97 << 10);
    qhil_budget_done(&b, 0, t1);
    assert_true(b.written > used + (97 << 10));
    /* Full: the next one is not run, and says why. */
    tp = &test;
    assert_false(qhil_budget_start(&b, 1, &tp, &why));
    assert_contains(why, "not run: run folder at its cap of 100 KiB");
    assert_contains(why, "site.yaml:2");
    free(why);
    qhil_budget_release(&b);
    /* No cap: the test as it is. */
    l.run_folder = 0;
    assert_int_equal(qhil_budget_init(&b, &l, 3, dir, NULL), QHIL_EOK);
    tp = &test;
    assert_true(qhil_budget_start(&b, 0, &tp, &why));
    assert_ptr_equal(tp, &test);
    qhil_budget_release(&b);
    rm_rf(dir);
    free(p);
    free(t1);
    free(dir);
}

static void test_keep_parse(void **state)
{
    qhil_keep k;
    qhil_error e;

    (void)state;
    assert_int_equal(qhil_keep_parse("all", &k, NULL), QHIL_EOK);
    assert_int_equal(k, QHIL_KEEP_ALL);
    assert_int_equal(qhil_keep_parse("failed", &k, NULL), QHIL_EOK);
    assert_int_equal(k, QHIL_KEEP_FAILED);
    assert_int_equal(qhil_keep_parse("passed", &k, NULL), QHIL_EOK);
    assert_int_equal(k, QHIL_KEEP_PASSED);
    qhil_error_init(&e);
    assert_int_equal(qhil_keep_parse("fail", &k, &e), QHIL_EINVAL);
    assert_string_equal(e.message,
                        "--keep: expected passed, failed or all, got 'fail'");
    qhil_error_release(&e);
}

/* A run folder as the runner leaves it, with a test folder per result. */
typedef struct fake_run {
    char *root; /* mkdtemp: run/ and outside/ in it */
    char *run;
    char *outside;
    qhil_test_result tests[6];
    qhil_suite_result sr;
} fake_run;

static void add_test(fake_run *f, size_t i, const char *name,
                     qhil_verdict v)
{
    char *dir = join(f->run, name);
    char *log = join(dir, "console.log");

    assert_int_equal(mkdir(dir, 0755), 0);
    write_file(log, "hello\n");
    f->tests[i].name = (char *)name;
    f->tests[i].verdict = v;
    f->tests[i].console_log = log;
    free(dir);
}

static void fake_run_make(fake_run *f)
{
    char *p;

    memset(f, 0, sizeof(*f));
    f->root = tmpdir();
    f->run = join(f->root, "run");
    f->outside = join(f->root, "outside");
    assert_int_equal(mkdir(f->run, 0755), 0);
    assert_int_equal(mkdir(f->outside, 0755), 0);
    p = join(f->outside, "precious");
    write_file(p, "keep me\n");
    free(p);
    p = join(f->run, "job.log");
    write_file(p, "job\n");
    free(p);
    add_test(f, 0, "passes", QHIL_PASS);
    add_test(f, 1, "fails", QHIL_FAIL);
    add_test(f, 2, "errs", QHIL_ERROR);
    add_test(f, 3, "skips", QHIL_SKIP);
    f->sr.run_dir = f->run;
    f->sr.tests = f->tests;
    f->sr.n_tests = 4;
}

static void fake_run_free(fake_run *f)
{
    size_t i;

    for (i = 0; i < 6; i++) {
        free(f->tests[i].console_log);
    }
    rm_rf(f->root);
    free(f->root);
    free(f->run);
    free(f->outside);
}

static bool in_run(const fake_run *f, const char *rel)
{
    char *p = join(f->run, rel);
    bool yes = exists(p);

    free(p);
    return yes;
}

static bool outside_intact(const fake_run *f)
{
    char *p = join(f->outside, "precious");
    FILE *fp = fopen(p, "r");
    char buf[16] = "";

    free(p);
    if (!fp) {
        return false;
    }
    if (!fgets(buf, sizeof(buf), fp)) {
        buf[0] = '\0';
    }
    fclose(fp);
    return strcmp(buf, "keep me\n") == 0;
}

static void test_keep_failed(void **state)
{
    fake_run f;
    size_t removed = 99;
    char *p;
    char *q;

    (void)state;
    fake_run_make(&f);
    /* Planted in a folder that goes: links to a file and a folder
     * outside, and a folder in it with one more. */
    p = join(f.run, "passes/link");
    q = join(f.outside, "precious");
    assert_int_equal(symlink(q, p), 0);
    free(p);
    free(q);
    p = join(f.run, "passes/linkdir");
    assert_int_equal(symlink(f.outside, p), 0);
    free(p);
    p = join(f.run, "passes/deep");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = join(f.run, "passes/deep/up");
    assert_int_equal(symlink("../../..", p), 0);
    free(p);
    assert_int_equal(qhil_run_keep(&f.sr, QHIL_KEEP_FAILED, NULL, &removed,
                                   NULL),
                     QHIL_EOK);
    assert_int_equal(removed, 2);
    assert_false(in_run(&f, "passes"));
    assert_false(in_run(&f, "skips"));
    assert_true(in_run(&f, "fails/console.log"));
    assert_true(in_run(&f, "errs/console.log"));
    assert_true(in_run(&f, "job.log"));
    assert_true(exists(f.run));
    assert_true(outside_intact(&f));
    fake_run_free(&f);
}

static void test_keep_passed_and_all(void **state)
{
    fake_run f;

    (void)state;
    fake_run_make(&f);
    assert_int_equal(qhil_run_keep(&f.sr, QHIL_KEEP_ALL, NULL, NULL, NULL),
                     QHIL_EOK);
    assert_true(in_run(&f, "passes") && in_run(&f, "fails") &&
                in_run(&f, "errs") && in_run(&f, "skips"));
    assert_int_equal(qhil_run_keep(&f.sr, QHIL_KEEP_PASSED, NULL, NULL,
                                   NULL),
                     QHIL_EOK);
    assert_true(in_run(&f, "passes/console.log"));
    assert_false(in_run(&f, "fails"));
    assert_false(in_run(&f, "errs"));
    assert_false(in_run(&f, "skips"));
    assert_true(in_run(&f, "job.log"));
    fake_run_free(&f);
}

/* A report written into a test's folder stays, and so does its folder;
 * results whose log is not directly in a folder of the run are left. */
static void test_keep_spares_and_stays_inside(void **state)
{
    fake_run f;
    char *report;
    char *victim;
    const char *spare[2];
    char *swapped;

    (void)state;
    fake_run_make(&f);
    report = join(f.run, "passes/junit.xml");
    write_file(report, "<testsuites/>\n");
    spare[0] = report;
    spare[1] = NULL;
    /* A result pointing outside the run, one pointing at the run folder
     * itself, and one "..": none is touched. */
    victim = join(f.outside, "console.log");
    write_file(victim, "not the run's\n");
    f.tests[4].verdict = QHIL_PASS;
    f.tests[4].console_log = victim;
    assert_true(asprintf(&f.tests[5].console_log, "%s/../outside/x", f.run) >
                0);
    f.tests[5].verdict = QHIL_PASS;
    f.sr.n_tests = 6;
    /* A test folder swapped for a link to a folder outside. */
    swapped = join(f.run, "errs");
    rm_rf(swapped);
    assert_int_equal(symlink(f.outside, swapped), 0);
    assert_int_equal(qhil_run_keep(&f.sr, QHIL_KEEP_FAILED, spare, NULL,
                                   NULL),
                     QHIL_EOK);
    assert_true(exists(report));
    assert_false(in_run(&f, "passes/console.log"));
    assert_true(outside_intact(&f));
    /* The link was not a folder of the run: left, and not followed. */
    assert_true(in_run(&f, "errs"));
    assert_true(exists(f.outside));
    assert_true(exists(f.run));
    assert_true(in_run(&f, "job.log"));
    assert_int_equal(qhil_run_keep(&f.sr, QHIL_KEEP_PASSED, spare, NULL,
                                   NULL),
                     QHIL_EOK);
    assert_true(outside_intact(&f));
    assert_true(exists(f.outside));
    assert_true(exists(victim));
    assert_true(in_run(&f, "errs"));
    free(report);
    free(swapped);
    fake_run_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_parse),
        cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_site_limits),
        cmocka_unit_test(test_site_limits_errors),
        cmocka_unit_test(test_limits_of_run),
        cmocka_unit_test(test_suite_over_site),
        cmocka_unit_test(test_memory_of_argv),
        cmocka_unit_test(test_tree_bytes),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_keep_parse),
        cmocka_unit_test(test_keep_failed),
        cmocka_unit_test(test_keep_passed_and_all),
        cmocka_unit_test(test_keep_spares_and_stays_inside),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
