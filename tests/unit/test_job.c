/*
 * test_job.c - a job's QEMU command line: the exact argv built from a
 * board template and a job, the label and source of every argument, the
 * binary found where it should be, and the errors a user gets for a
 * missing binary, a missing or bad template and a job that tries to make
 * the command line lie.
 */
#include <setjmp.h>
#include <stdbool.h>
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

#include <qhil/clock.h>
#include <qhil/job.h>
#include <qhil/machine.h>
#include <qhil/site.h>
#include <qhil/suite.h>

#define DATA QHIL_TEST_SRCDIR "/data"
#define BOARDS DATA "/boards"
#define BOARD_FILE BOARDS "/job-board.yaml"

/* A temporary folder: a fake QEMU in bin/, another in path/ (PATH is
 * set to it), and the job's images. */
typedef struct fixture {
    char *dir;
    char *bin;     /* dir/bin: the job's qemu dir */
    char *pathdir; /* dir/path: all of PATH */
    char *kernel;  /* dir/fw.elf */
    char *disk;    /* dir/a,b.img: a comma to escape */
    char *old_path;
} fixture;

static char *join(const char *a, const char *b)
{
    char *s = NULL;

    assert_true(asprintf(&s, "%s/%s", a, b) > 0);
    return s;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void remove_file(char *path)
{
    if (path) {
        (void)unlink(path);
    }
    free(path);
}

static int setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    fixture *f = calloc(1, sizeof(*f));
    char *p;

    assert_non_null(f);
    assert_true(asprintf(&f->dir, "%s/qhil-test-job.XXXXXX",
                         tmp && *tmp ? tmp : "/tmp") > 0);
    assert_non_null(mkdtemp(f->dir));
    f->bin = join(f->dir, "bin");
    f->pathdir = join(f->dir, "path");
    assert_int_equal(mkdir(f->bin, 0755), 0);
    assert_int_equal(mkdir(f->pathdir, 0755), 0);
    p = join(f->bin, "qemu-system-jobtest");
    write_file(p, "#!/bin/false\n", 0755);
    free(p);
    p = join(f->pathdir, "qemu-system-jobtest");
    write_file(p, "#!/bin/false\n", 0755);
    free(p);
    f->kernel = join(f->dir, "fw.elf");
    write_file(f->kernel, "firmware", 0644);
    f->disk = join(f->dir, "a,b.img");
    write_file(f->disk, "disk", 0644);
    p = getenv("PATH");
    f->old_path = p ? strdup(p) : NULL;
    assert_int_equal(setenv("PATH", f->pathdir, 1), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f->old_path) {
        setenv("PATH", f->old_path, 1);
    }
    free(f->old_path);
    remove_file(join(f->bin, "qemu-system-jobtest"));
    remove_file(join(f->pathdir, "qemu-system-jobtest"));
    remove_file(join(f->bin, "qhil-system-jobtest-missing"));
    remove_file(f->kernel);
    remove_file(f->disk);
    remove_file(join(f->dir, "site.yaml"));
    (void)rmdir(f->bin);
    (void)rmdir(f->pathdir);
    (void)rmdir(f->dir);
    free(f->bin);
    free(f->pathdir);
    free(f->dir);
    free(f);
    return 0;
}

/* One expected argument: text, label, source. */
typedef struct want_arg {
    const char *arg;
    int kind;
    const char *source;
} want_arg;

static void check_args(const qhil_job *job, const want_arg *want, size_t n)
{
    size_t i;

    assert_int_equal(qhil_job_nargs(job), n);
    for (i = 0; i < n; i++) {
        if (!qhil_job_arg(job, i) ||
            strcmp(qhil_job_arg(job, i), want[i].arg) != 0 ||
            qhil_job_arg_kind(job, i) != want[i].kind ||
            strcmp(qhil_job_arg_source(job, i), want[i].source) != 0) {
            fail_msg("argument %zu: got '%s' %s from '%s', expected '%s' %s "
                     "from '%s'",
                     i, qhil_job_arg(job, i),
                     qhil_arg_kind_name(qhil_job_arg_kind(job, i)),
                     qhil_job_arg_source(job, i), want[i].arg,
                     qhil_arg_kind_name(want[i].kind), want[i].source);
        }
    }
    assert_null(qhil_job_arg(job, n));
    assert_int_equal(qhil_job_arg_kind(job, n), -1);
    assert_null(qhil_job_arg_source(job, n));
}

/* Every kind of argument, in order, with where it came from. */
static void test_labelled_argv(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    const char *extra[] = {"-smp", "2", NULL};
    qhil_board_value images[] = {
        {"disk", f->disk, "suite.yaml:9"},
        {"kernel", f->kernel, "suite.yaml:8"},
    };
    qhil_board_job values = {
        .images = images,
        .n_images = 2,
        .cpu = "cortex-a7",
        .cpu_origin = "suite.yaml:5",
        .extra_options = extra,
        .n_extra_options = 2,
        .extra_origin = "suite.yaml:6",
    };
    qhil_job_opts jo = {
        .device_type = "job-board",
        .origin = "suite.yaml:2",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .values = &values,
        .job_dir = f->dir,
    };
    char *exe = join(f->bin, "qemu-system-jobtest");
    char *kernel_drive = NULL;
    qhil_job *job = NULL;
    const char *const *argv;
    char **copy = NULL;
    qhil_error err;
    size_t i;

    assert_true(asprintf(&kernel_drive, "if=sd,format=raw,file=%s/a,,b.img",
                         f->dir) > 0);
    {
        const want_arg want[] = {
            {exe, QHIL_ARG_MANDATORY, BOARD_FILE},
            {"-machine", QHIL_ARG_MANDATORY, BOARD_FILE},
            {"virt,secure=off", QHIL_ARG_MANDATORY, BOARD_FILE},
            {"-cpu", QHIL_ARG_MANDATORY, BOARD_FILE},
            {"cortex-a7", QHIL_ARG_SUBSTITUTED, "suite.yaml:5"},
            {"-m", QHIL_ARG_MANDATORY, BOARD_FILE},
            {"64M", QHIL_ARG_MANDATORY, BOARD_FILE},
            {"-nographic", QHIL_ARG_MANDATORY, BOARD_FILE ":10"},
            {"-device", QHIL_ARG_MANDATORY, BOARD_FILE ":11"},
            {"loader,addr=0x1000,data=0,data-len=4", QHIL_ARG_MANDATORY,
             BOARD_FILE ":11"},
            {"-kernel", QHIL_ARG_SUBSTITUTED, "suite.yaml:8"},
            {f->kernel, QHIL_ARG_SUBSTITUTED, "suite.yaml:8"},
            {"-drive", QHIL_ARG_SUBSTITUTED, "suite.yaml:9"},
            {kernel_drive, QHIL_ARG_SUBSTITUTED, "suite.yaml:9"},
            {"-smp", QHIL_ARG_SPECIFIC, "suite.yaml:6"},
            {"2", QHIL_ARG_SPECIFIC, "suite.yaml:6"},
            {"-chardev", QHIL_ARG_HARNESS, "qhil"},
            {"socket,id=qhil-qmp,fd=3", QHIL_ARG_HARNESS, "qhil"},
            {"-mon", QHIL_ARG_HARNESS, "qhil"},
            {"chardev=qhil-qmp,mode=control", QHIL_ARG_HARNESS, "qhil"},
            {"-chardev", QHIL_ARG_HARNESS, "qhil"},
            {"socket,id=qhil-console,fd=4", QHIL_ARG_HARNESS, "qhil"},
            {"-serial", QHIL_ARG_HARNESS, "qhil"},
            {"chardev:qhil-console", QHIL_ARG_HARNESS, "qhil"},
        };

        qhil_error_init(&err);
        assert_int_equal(qhil_job_new(&jo, &job, &err), 0);
        check_args(job, want, sizeof(want) / sizeof(want[0]));
        /* What the machine gets: the job's part, the binary resolved in
         * the qemu dir (not PATH's), and no wiring of its own. */
        argv = qhil_job_argv(job);
        for (i = 0; i < 16; i++) {
            assert_string_equal(argv[i], want[i].arg);
        }
        assert_null(argv[16]);
        assert_int_equal(qhil_job_argv_dup(job, &copy, &err), 0);
        for (i = 0; i < 16; i++) {
            assert_string_equal(copy[i], want[i].arg);
            assert_ptr_not_equal(copy[i], argv[i]);
        }
        assert_null(copy[16]);
        assert_string_equal(qhil_board_device_type(qhil_job_board(job)),
                            "job-board");
    }
    qhil_argv_free(copy);
    qhil_job_free(job);
    qhil_error_release(&err);
    free(kernel_drive);
    free(exe);
}

/* The harness part follows qtest and qtest_accel, exactly as the machine
 * adds it; the template's cpu is mandatory when the job sets none. */
static void test_harness_wiring(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    qhil_job_opts jo = {
        .device_type = "job-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    const char *const *wiring;
    qhil_job *job = NULL;
    qhil_error err;
    size_t argc = 0;
    size_t n = 0;
    size_t i;
    int mode;

    qhil_error_init(&err);
    for (mode = 0; mode < 3; mode++) {
        jo.qtest = mode == 1;
        jo.qtest_accel = mode == 2;
        wiring = qhil_machine_wiring(jo.qtest, jo.qtest_accel);
        for (n = 0; wiring[n]; n++) {
        }
        assert_int_equal(n, mode == 0 ? 8 : mode == 1 ? 12 : 14);
        assert_int_equal(qhil_job_new(&jo, &job, &err), 0);
        for (argc = 0; qhil_job_argv(job)[argc]; argc++) {
        }
        assert_int_equal(argc, 10);
        assert_string_equal(qhil_job_arg(job, 4), "cortex-a15");
        assert_int_equal(qhil_job_arg_kind(job, 4), QHIL_ARG_MANDATORY);
        assert_int_equal(qhil_job_nargs(job), argc + n);
        for (i = 0; i < n; i++) {
            assert_string_equal(qhil_job_arg(job, argc + i), wiring[i]);
            assert_int_equal(qhil_job_arg_kind(job, argc + i),
                             QHIL_ARG_HARNESS);
        }
        if (mode == 2) {
            assert_string_equal(qhil_job_arg(job, argc + n - 1), "qtest");
        }
        qhil_job_free(job);
        job = NULL;
    }
    qhil_error_release(&err);
}

/* Without a qemu dir holding it, the binary comes from PATH; a file
 * there that is not executable is passed over. */
static void test_binary_search(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->dir, NULL};
    qhil_job_opts jo = {
        .device_type = "job-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    char *in_path = join(f->pathdir, "qemu-system-jobtest");
    char *plain = join(f->dir, "qemu-system-jobtest");
    qhil_job *job = NULL;
    qhil_error err;

    qhil_error_init(&err);
    write_file(plain, "not a program\n", 0644);
    assert_int_equal(qhil_job_new(&jo, &job, &err), 0);
    assert_string_equal(qhil_job_argv(job)[0], in_path);
    qhil_job_free(job);
    job = NULL;
    jo.qemu_dirs = NULL;
    assert_int_equal(qhil_job_new(&jo, &job, &err), 0);
    assert_string_equal(qhil_job_argv(job)[0], in_path);
    qhil_job_free(job);
    qhil_error_release(&err);
    remove_file(plain);
    free(in_path);
}

/* Missing binaries, with and without an origin, and the hint for qhil's
 * own QEMU build. */
static void test_missing_binary(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->dir, NULL};
    qhil_job_opts jo = {
        .device_type = "qhil-job-missing",
        .origin = "suite.yaml:3",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    qhil_job *job = NULL;
    qhil_error err;

    qhil_error_init(&err);
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_ENOENT);
    assert_null(job);
    assert_string_equal(
        err.message,
        "suite.yaml:3: device_type qhil-job-missing: QEMU binary "
        "'qhil-system-jobtest-missing' (named in " BOARDS
        "/qhil-job-missing.yaml) is not installed or not in PATH; it is "
        "qhil's own QEMU build: run scripts/qemu-build.sh");
    qhil_error_release(&err);

    /* No origin, no PATH hit, no hint for a distribution binary. */
    qhil_error_init(&err);
    assert_int_equal(setenv("PATH", f->dir, 1), 0);
    jo.device_type = "job-board";
    jo.origin = NULL;
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_ENOENT);
    assert_null(job);
    assert_string_equal(err.message,
                        "QEMU binary 'qemu-system-jobtest' (named in " BOARDS
                        "/job-board.yaml) is not installed or not in PATH");
    assert_int_equal(setenv("PATH", f->pathdir, 1), 0);
    qhil_error_release(&err);
}

/* A template that is not there, a name that would leave the board
 * dirs, and a template that does not load. */
static void test_bad_board(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    qhil_job_opts jo = {
        .device_type = "no-such-board",
        .origin = "suite.yaml:2",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    qhil_job *job = NULL;
    qhil_error err;

    qhil_error_init(&err);
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_ENOENT);
    assert_null(job);
    assert_string_equal(err.message,
                        "suite.yaml:2: device_type: no board template for "
                        "device type 'no-such-board' (looked for "
                        "no-such-board.yaml in: " BOARDS ")");
    qhil_error_release(&err);

    qhil_error_init(&err);
    jo.device_type = "../boards/job-board";
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_EINVAL);
    assert_null(job);
    assert_contains(err.message, "suite.yaml:2: device_type: invalid device "
                                 "type '../boards/job-board'");
    qhil_error_release(&err);

    qhil_error_init(&err);
    jo.device_type = "job-bad";
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_EINVAL);
    assert_null(job);
    assert_contains(err.message, BOARDS "/job-bad.yaml:6");
    assert_contains(err.message, "machin");
    qhil_error_release(&err);

    /* No board dirs at all. */
    qhil_error_init(&err);
    jo.device_type = "job-board";
    jo.board_dirs = NULL;
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_ENOENT);
    assert_null(job);
    assert_contains(err.message, "in: no directories");
    qhil_error_release(&err);
}

/* A job cannot make the command line lie: a slot name in its own extra
 * options stays literal and specific, a value that is refused builds no
 * job, and the errors name the value's origin. */
static void test_job_cannot_lie(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    const char *sneaky[] = {"-append", "{{KERNEL}}", NULL};
    const char *qmp[] = {"-qmp", "unix:/tmp/x,server=on", NULL};
    qhil_board_value kernel = {"kernel", f->kernel, "suite.yaml:8"};
    qhil_board_value rom = {"rom", f->kernel, "suite.yaml:9"};
    qhil_board_job values = {
        .images = &kernel,
        .n_images = 1,
        .extra_options = sneaky,
        .n_extra_options = 2,
        .extra_origin = "suite.yaml:6",
    };
    qhil_job_opts jo = {
        .device_type = "job-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .values = &values,
        .job_dir = f->dir,
    };
    qhil_job *job = NULL;
    qhil_site *trusted = NULL;
    qhil_error err;
    size_t n;

    /* Untrusted (the built-in site), -append is not in the policy. */
    qhil_error_init(&err);
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_EINVAL);
    assert_null(job);
    assert_contains(err.message, "suite.yaml:6: context.extra_options: "
                                 "'-append' is not allowed by the strict "
                                 "policy");
    qhil_error_release(&err);

    /* Trusted, it passes, and still cannot lie. */
    qhil_error_init(&err);
    assert_int_equal(qhil_site_builtin(&trusted, &err), 0);
    assert_int_equal(qhil_site_trust(trusted, "test", &err), 0);
    jo.site = trusted;
    assert_int_equal(qhil_job_new(&jo, &job, &err), 0);
    for (n = 0; qhil_job_argv(job)[n]; n++) {
    }
    assert_string_equal(qhil_job_arg(job, n - 1), "{{KERNEL}}");
    assert_int_equal(qhil_job_arg_kind(job, n - 1), QHIL_ARG_SPECIFIC);
    assert_string_equal(qhil_job_arg_source(job, n - 1), "suite.yaml:6");
    assert_string_equal(qhil_job_arg(job, n - 3), f->kernel);
    assert_int_equal(qhil_job_arg_kind(job, n - 3), QHIL_ARG_SUBSTITUTED);
    qhil_job_free(job);
    job = NULL;

    /* qhil's own wiring cannot come from the job. */
    values.extra_options = qmp;
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_EINVAL);
    assert_null(job);
    assert_contains(err.message, "suite.yaml:6: context.extra_options: "
                                 "'-qmp' is not allowed");
    qhil_error_release(&err);

    /* Nor an image for a slot the board does not have. */
    qhil_error_init(&err);
    values.n_extra_options = 0;
    values.images = &rom;
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_EINVAL);
    assert_null(job);
    assert_contains(err.message, "suite.yaml:9: images: board 'job-board' "
                                 "has no image slot 'rom'");
    qhil_error_release(&err);
    qhil_site_free(trusted);
}

/* ---------------------------------------------------------------- */
/* Site, device dictionary and resolution                           */

#define SANDBOX_VALUE                                                         \
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

/* A site file written as f->dir/site.yaml, loaded. */
static qhil_site *load_site(const fixture *f, const char *text)
{
    char *path = join(f->dir, "site.yaml");
    qhil_site *site = NULL;
    qhil_error err;

    write_file(path, text, 0644);
    qhil_error_init(&err);
    if (qhil_site_load(path, &site, &err) != 0) {
        fail_msg("%s", err.message);
    }
    qhil_error_release(&err);
    free(path);
    return site;
}

/* "SITE:LINE" for the site f->dir/site.yaml; caller frees. */
static char *site_at(const fixture *f, int line)
{
    char *s = NULL;

    assert_true(asprintf(&s, "%s/site.yaml:%d", f->dir, line) > 0);
    return s;
}

/* The job's own argv (no wiring) is exactly want[0..n). */
static void check_argv(const qhil_job *job, const want_arg *want, size_t n)
{
    const char *const *argv = qhil_job_argv(job);
    size_t i;

    for (i = 0; i < n; i++) {
        if (!argv[i] || strcmp(argv[i], want[i].arg) != 0 ||
            qhil_job_arg_kind(job, i) != want[i].kind ||
            strcmp(qhil_job_arg_source(job, i), want[i].source) != 0) {
            fail_msg("argument %zu: got '%s' %s from '%s', expected '%s' %s "
                     "from '%s'",
                     i, argv[i], qhil_arg_kind_name(qhil_job_arg_kind(job, i)),
                     qhil_job_arg_source(job, i), want[i].arg,
                     qhil_arg_kind_name(want[i].kind), want[i].source);
        }
    }
    if (argv[n]) {
        fail_msg("argument %zu: got '%s', expected the end", n, argv[n]);
    }
}

/* Whether the job's own argv holds word. */
static bool argv_has(const qhil_job *job, const char *word)
{
    const char *const *argv = qhil_job_argv(job);
    size_t i;

    for (i = 0; argv[i]; i++) {
        if (!strcmp(argv[i], word)) {
            return true;
        }
    }
    return false;
}

/* The note starting with prefix, or a failure. */
static const char *find_note(const qhil_job *job, const char *prefix)
{
    const char *const *notes = qhil_job_notes(job);
    size_t i;

    for (i = 0; notes[i]; i++) {
        if (!strncmp(notes[i], prefix, strlen(prefix))) {
            return notes[i];
        }
    }
    fail_msg("no note starting with '%s'", prefix);
    return NULL;
}

/* qhil_job_new that must fail; the message must hold each of want. */
static void job_refused(const qhil_job_opts *jo, int code, const char *want,
                        const char *also)
{
    qhil_job *job = (qhil_job *)jo; /* must come back NULL */
    qhil_error err;
    int rc;

    qhil_error_init(&err);
    rc = qhil_job_new(jo, &job, &err);
    if (rc >= 0) {
        fail_msg("expected an error with '%s', got a job", want);
    }
    assert_int_equal(rc, code);
    assert_null(job);
    assert_contains(err.message, want);
    if (also) {
        assert_contains(err.message, also);
    }
    qhil_error_release(&err);
}

/* qhil_job_new that must succeed. */
static qhil_job *job_ok(const qhil_job_opts *jo)
{
    qhil_job *job = NULL;
    qhil_error err;

    qhil_error_init(&err);
    if (qhil_job_new(jo, &job, &err) != 0) {
        fail_msg("%s", err.message);
    }
    qhil_error_release(&err);
    return job;
}

/* A fake QEMU in the qemu dir: name, script. */
static char *fake_qemu(const fixture *f, const char *name, const char *text)
{
    char *p = join(f->bin, name);

    write_file(p, text, 0755);
    return p;
}

/* The device dictionary fills machine, memory and the template's
 * variables, each labelled substituted with the site file's line; the
 * binary comes from the arch (qemu-system-aarch64, in the qemu dir
 * rather than PATH). */
static void test_site_dictionary(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = fake_qemu(f, "qemu-system-aarch64", "#!/bin/false\n");
    char *in_path = join(f->pathdir, "qemu-system-aarch64");
    qhil_site *site = load_site(f, "devices:\n"
                                   "  site-vars:\n"
                                   "    memory: 32M\n"
                                   "    machine: virt,gic-version=3\n"
                                   "    mac_addr: \"52:54:00:12:34:56\"\n"
                                   "  job-board:\n"
                                   "    memory: 1G\n");
    qhil_job_opts jo = {
        .device_type = "site-vars",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .site = site,
        .job_dir = f->dir,
    };
    char *at3 = site_at(f, 3);
    char *at4 = site_at(f, 4);
    char *at5 = site_at(f, 5);
    const char *bf = BOARDS "/site-vars.yaml";
    qhil_job *job;

    write_file(in_path, "#!/bin/false\n", 0755);
    job = job_ok(&jo);
    {
        const want_arg want[] = {
            {exe, QHIL_ARG_MANDATORY, bf},
            {"-machine", QHIL_ARG_MANDATORY, bf},
            {"virt,gic-version=3", QHIL_ARG_SUBSTITUTED, at4},
            {"-m", QHIL_ARG_MANDATORY, bf},
            {"32M", QHIL_ARG_SUBSTITUTED, at3},
            {"-nic", QHIL_ARG_MANDATORY, BOARDS "/site-vars.yaml:15"},
            {"user,model=virtio-net-device,mac=52:54:00:12:34:56",
             QHIL_ARG_SUBSTITUTED, at5},
            {"-global", QHIL_ARG_MANDATORY, BOARDS "/site-vars.yaml:16"},
            {"pl011.speed=115200", QHIL_ARG_SUBSTITUTED,
             BOARDS "/site-vars.yaml:16"},
        };

        check_argv(job, want, sizeof(want) / sizeof(want[0]));
    }
    qhil_job_free(job);
    qhil_site_free(site);
    remove_file(in_path);
    remove_file(exe);
    free(at3);
    free(at4);
    free(at5);
}

/* What the site set, no job can set; what only the site may set, no job
 * can set either; set_by: job values land, if they match the pattern. */
static void test_site_owns_values(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = fake_qemu(f, "qemu-system-aarch64", "#!/bin/false\n");
    qhil_site *site = load_site(f, "site: lab\n"
                                   "devices:\n"
                                   "  site-vars:\n"
                                   "    memory: 32M\n"
                                   "    mac_addr: \"52:54:00:12:34:56\"\n");
    qhil_site *plain = load_site(f, "site: plain\n");
    qhil_board_value ctx[1];
    qhil_job_opts jo = {
        .device_type = "site-vars",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .context = ctx,
        .n_context = 1,
        .site = site,
        .job_dir = f->dir,
    };
    char *want = NULL;
    char *at4 = site_at(f, 4);
    qhil_job *job;

    /* memory: the site's. */
    ctx[0] = (qhil_board_value){"memory", "16M", "suite.yaml:5"};
    assert_true(asprintf(&want,
                         "memory: '16M' cannot be set "
                         "by a job: the site sets it for device type "
                         "'site-vars' (%s)",
                         at4) > 0);
    job_refused(&jo, QHIL_EINVAL, "suite.yaml:5: ", want);
    free(want);
    /* The same value as the site's is no excuse. */
    ctx[0].value = "32M";
    job_refused(&jo, QHIL_EINVAL, "the site sets it for device type", NULL);

    /* mac_addr: set_by site, and the site set it. */
    ctx[0] = (qhil_board_value){"mac_addr", "52:54:00:66:66:66",
                                "suite.yaml:6"};
    job_refused(&jo, QHIL_EINVAL,
                "suite.yaml:6: ",
                "mac_addr: '52:54:00:66:66:66' cannot be set by a job: the "
                "site sets it for device type 'site-vars' (");
    job_refused(&jo, QHIL_EINVAL, "mac_addr: '52:54:00:66:66:66'",
                "site.yaml:5)");
    /* set_by site and the site did not set it: still the site's. */
    jo.site = plain;
    assert_true(asprintf(&want,
                         "mac_addr: "
                         "'52:54:00:66:66:66' cannot be set by a job: device "
                         "type 'site-vars' (" BOARDS "/site-vars.yaml) lets "
                         "only the site set it (site: %s/site.yaml)",
                         f->dir) > 0);
    job_refused(&jo, QHIL_EINVAL, "suite.yaml:6: ", want);
    free(want);

    /* speed: set_by job. */
    jo.site = site;
    ctx[0] = (qhil_board_value){"speed", "9600", "suite.yaml:7"};
    job = job_ok(&jo);
    assert_true(argv_has(job, "pl011.speed=9600"));
    {
        size_t i;

        for (i = 0; strcmp(qhil_job_arg(job, i), "pl011.speed=9600"); i++) {
        }
        assert_int_equal(qhil_job_arg_kind(job, i), QHIL_ARG_SUBSTITUTED);
        assert_string_equal(qhil_job_arg_source(job, i),
                            "suite.yaml:7");
    }
    qhil_job_free(job);
    /* ... when it matches the whole pattern: no extra argument, no
     * option list, no short value. */
    ctx[0].value = "12";
    job_refused(&jo, QHIL_EINVAL,
                "suite.yaml:7: speed: '12' does not match the "
                "pattern '[0-9]{4,7}' of device type 'site-vars' (" BOARDS
                "/site-vars.yaml:10)",
                NULL);
    ctx[0].value = "9600 -daemonize";
    job_refused(&jo, QHIL_EINVAL, "does not match the pattern", NULL);
    ctx[0].value = "9600,chardev=x";
    job_refused(&jo, QHIL_EINVAL, "does not match the pattern", NULL);
    ctx[0].value = "9600\n";
    job_refused(&jo, QHIL_EINVAL, "does not match the pattern", NULL);

    /* A name no one knows lists the known ones. */
    ctx[0] = (qhil_board_value){"QEMU_AUDIO_DRV", "none",
                                "suite.yaml:8"};
    job_refused(&jo, QHIL_EINVAL,
                "unknown variable 'QEMU_AUDIO_DRV' (known: arch,",
                "device type 'site-vars': mac_addr, speed");

    qhil_site_free(site);
    qhil_site_free(plain);
    remove_file(exe);
    free(at4);
}

/* The site's values must pass the template's patterns too. */
static void test_site_value_pattern(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = fake_qemu(f, "qemu-system-aarch64", "#!/bin/false\n");
    qhil_site *site = load_site(f, "devices:\n"
                                   "  site-vars:\n"
                                   "    speed: fast\n");
    qhil_job_opts jo = {
        .device_type = "site-vars",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .site = site,
        .job_dir = f->dir,
    };

    job_refused(&jo, QHIL_EINVAL, "site.yaml:3: speed: 'fast' does not "
                                  "match the pattern '[0-9]{4,7}'",
                NULL);
    qhil_site_free(site);
    remove_file(exe);
}

/* A variable with no default needs a value from the site; a job cannot
 * give it one. */
static void test_variable_without_value(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    qhil_board_value ctx = {"serial_no", "7", "suite.yaml:4"};
    qhil_site *site = load_site(f, "devices:\n"
                                   "  site-novalue:\n"
                                   "    serial_no: \"42\"\n");
    qhil_job_opts jo = {
        .device_type = "site-novalue",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    char *at3 = site_at(f, 3);
    qhil_job *job;
    size_t i;

    job_refused(&jo, QHIL_EINVAL,
                "serial_no: device type 'site-novalue' (" BOARDS
                "/site-novalue.yaml:9) needs a value for 'serial_no' and no "
                "site or job sets it",
                NULL);
    jo.context = &ctx;
    jo.n_context = 1;
    job_refused(&jo, QHIL_EINVAL, "serial_no: '7' cannot be set by a job",
                "lets only the site set it");
    jo.context = NULL;
    jo.n_context = 0;
    jo.site = site;
    job = job_ok(&jo);
    for (i = 0; qhil_job_argv(job)[i] &&
                strcmp(qhil_job_argv(job)[i], "board.serial=42");
         i++) {
    }
    assert_non_null(qhil_job_argv(job)[i]);
    assert_int_equal(qhil_job_arg_kind(job, i), QHIL_ARG_SUBSTITUTED);
    assert_string_equal(qhil_job_arg_source(job, i), at3);
    qhil_job_free(job);
    qhil_site_free(site);
    free(at3);
}

/* A site's cpu fills -cpu even on a device type that does not let jobs
 * choose it: the dictionary is the lab's, not the job's. */
static void test_site_sets_cpu(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = fake_qemu(f, "qemu-system-aarch64", "#!/bin/false\n");
    qhil_site *site = load_site(f, "devices:\n"
                                   "  site-vars:\n"
                                   "    cpu: cortex-a57\n");
    qhil_job_opts jo = {
        .device_type = "site-vars",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .site = site,
        .job_dir = f->dir,
    };
    char *at3 = site_at(f, 3);
    qhil_job *job = job_ok(&jo);

    assert_string_equal(qhil_job_arg(job, 3), "-cpu");
    assert_string_equal(qhil_job_arg(job, 4), "cortex-a57");
    assert_int_equal(qhil_job_arg_kind(job, 4), QHIL_ARG_SUBSTITUTED);
    assert_string_equal(qhil_job_arg_source(job, 4), at3);
    qhil_job_free(job);
    qhil_site_free(site);
    remove_file(exe);
    free(at3);
}

/* A dictionary value for a variable the device type does not have (a
 * typo in the lab's file) is an error, not silently dropped. */
static void test_site_unknown_variable(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = fake_qemu(f, "qemu-system-aarch64", "#!/bin/false\n");
    qhil_site *site = load_site(f, "devices:\n"
                                   "  site-vars:\n"
                                   "    mac_adr: \"52:54:00:12:34:56\"\n");
    qhil_job_opts jo = {
        .device_type = "site-vars",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .site = site,
        .job_dir = f->dir,
    };

    job_refused(&jo, QHIL_EINVAL, "site.yaml:3", "mac_adr");
    qhil_site_free(site);
    remove_file(exe);
}

/* arch: LAVA's spellings of the device type's arch pass, others do
 * not; with no binary named and none installed the error names the one
 * the arch picked. */
static void test_arch(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = fake_qemu(f, "qemu-system-aarch64", "#!/bin/false\n");
    qhil_board_value ctx = {"arch", "arm64", "suite.yaml:3"};
    qhil_job_opts jo = {
        .device_type = "site-vars",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .context = &ctx,
        .n_context = 1,
        .job_dir = f->dir,
    };
    qhil_job *job;

    job = job_ok(&jo);
    assert_string_equal(qhil_job_argv(job)[0], exe);
    qhil_job_free(job);
    ctx.value = "aarch64";
    qhil_job_free(job_ok(&jo));
    ctx.value = "x86_64";
    job_refused(&jo, QHIL_EINVAL,
                "arch: device type 'site-vars' is aarch64, not x86_64",
                "suite.yaml:3: ");
    ctx.value = "arm";
    job_refused(&jo, QHIL_EINVAL, "is aarch64, not arm", NULL);
    ctx.value = "banana";
    job_refused(&jo, QHIL_EINVAL, "arch: unknown architecture 'banana'",
                NULL);
    remove_file(exe);
    jo.n_context = 0;
    job_refused(&jo, QHIL_ENOENT,
                "QEMU binary 'qemu-system-aarch64' (named in " BOARDS
                "/site-vars.yaml) is not installed",
                NULL);
}

/* KVM or TCG, and why, in the notes and the argv. */
static void test_accel(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = fake_qemu(f, "qemu-system-x86_64", "#!/bin/false\n");
    char *exe64 = fake_qemu(f, "qemu-system-aarch64", "#!/bin/false\n");
    qhil_site *kvm = load_site(f, "kvm: true\n");
    qhil_board_value ctx = {"no_kvm", "true", "suite.yaml:3"};
    qhil_job_opts jo = {
        .device_type = "kvm-x86",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    const char *note;
    qhil_job *job;

    /* The built-in site allows no KVM. */
    job = job_ok(&jo);
    assert_string_equal(qhil_job_argv(job)[0], exe);
    assert_string_equal(find_note(job, "accelerator:"),
                        "accelerator: TCG (the built-in site does not allow "
                        "KVM)");
    assert_false(argv_has(job, "-accel"));
    qhil_job_free(job);

    /* Board and site allow it: KVM when /dev/kvm opens here. */
    jo.site = kvm;
    job = job_ok(&jo);
    note = find_note(job, "accelerator:");
    if (!strncmp(note, "accelerator: KVM", 16)) {
        size_t i;

        assert_string_equal(note, "accelerator: KVM: guest x86_64 on a "
                                  "x86_64 host, /dev/kvm usable");
        for (i = 0; strcmp(qhil_job_argv(job)[i], "-accel"); i++) {
        }
        assert_string_equal(qhil_job_argv(job)[i + 1], "kvm");
        assert_int_equal(qhil_job_arg_kind(job, i), QHIL_ARG_MANDATORY);
        assert_string_equal(qhil_job_arg_source(job, i),
                            BOARDS "/kvm-x86.yaml");
        print_message("(KVM usable here)\n");
    } else {
        assert_contains(note, "accelerator: TCG: ");
        assert_contains(note, "/dev/kvm");
        assert_false(argv_has(job, "-accel"));
        print_message("(KVM not usable here: %s)\n", note);
    }
    qhil_job_free(job);

    /* no_kvm. */
    jo.context = &ctx;
    jo.n_context = 1;
    job = job_ok(&jo);
    assert_string_equal(find_note(job, "accelerator:"),
                        "accelerator: TCG: the job sets no_kvm");
    assert_false(argv_has(job, "-accel"));
    qhil_job_free(job);
    ctx.value = "false";
    job = job_ok(&jo);
    assert_false(strstr(find_note(job, "accelerator:"), "no_kvm"));
    qhil_job_free(job);
    ctx.value = "yes";
    job_refused(&jo, QHIL_EINVAL,
                "no_kvm: expected true or false, got 'yes'", "suite.yaml:3: ");

    /* cpu. */
    ctx = (qhil_board_value){"cpu", "max", "suite.yaml:4"};
    job = job_ok(&jo);
    assert_string_equal(find_note(job, "accelerator:"),
                        "accelerator: TCG: the job sets cpu, which turns KVM "
                        "off");
    assert_false(argv_has(job, "-accel"));
    assert_true(argv_has(job, "max"));
    qhil_job_free(job);

    /* QTest as the accelerator. */
    jo.n_context = 0;
    jo.qtest = true;
    jo.qtest_accel = true;
    job = job_ok(&jo);
    assert_string_equal(find_note(job, "accelerator:"),
                        "accelerator: qtest (the suite asks for it)");
    assert_false(argv_has(job, "-accel"));
    qhil_job_free(job);
    jo.qtest = jo.qtest_accel = false;

    /* A device type that does not allow KVM, on a site that does. */
    jo.device_type = "site-vars";
    job = job_ok(&jo);
    assert_string_equal(find_note(job, "accelerator:"),
                        "accelerator: TCG (device type 'site-vars' does not "
                        "allow KVM)");
    assert_false(argv_has(job, "-accel"));
    qhil_job_free(job);

    qhil_site_free(kvm);
    remove_file(exe);
    remove_file(exe64);
}

/* The sandbox probe, with fakes for the three answers a binary can give
 * and for no probe at all. */
static void test_sandbox_probe(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *exe = join(f->bin, "qemu-system-jobtest");
    qhil_site *off = load_site(f, "sandbox: false\n");
    qhil_job_opts jo = {
        .device_type = "job-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    char *off_note = NULL;
    const char *note;
    int64_t t0;
    qhil_job *job;
    size_t argc;

    /* Has it: answers 0 to exactly the probe's arguments. */
    write_file(exe,
               "#!/bin/sh\n"
               "[ \"$1 $2 $3 $4\" = \"-sandbox " SANDBOX_VALUE
               " -cpu help\" ] && [ $# -eq 4 ] && exit 0\n"
               "exit 1\n",
               0755);
    job = job_ok(&jo);
    assert_string_equal(find_note(job, "sandbox:"),
                        "sandbox: -sandbox " SANDBOX_VALUE);
    for (argc = 0; qhil_job_argv(job)[argc]; argc++) {
    }
    assert_string_equal(qhil_job_arg(job, argc - 2), "-sandbox");
    assert_string_equal(qhil_job_arg(job, argc - 1), SANDBOX_VALUE);
    assert_int_equal(qhil_job_arg_kind(job, argc - 2), QHIL_ARG_HARNESS);
    assert_int_equal(qhil_job_arg_kind(job, argc - 1), QHIL_ARG_HARNESS);
    assert_string_equal(qhil_job_arg_source(job, argc - 1),
                        "the built-in site");
    qhil_job_free(job);

    /* The site turns it off: no probe, no arguments. */
    jo.site = off;
    job = job_ok(&jo);
    assert_true(asprintf(&off_note, "sandbox: off (%s/site.yaml)", f->dir) >
                0);
    assert_string_equal(find_note(job, "sandbox:"), off_note);
    assert_false(argv_has(job, "-sandbox"));
    qhil_job_free(job);
    jo.site = NULL;

    /* Says it has none: no arguments, and the note says why. */
    write_file(exe,
               "#!/bin/sh\n"
               "echo \"qemu-system-jobtest: -sandbox " SANDBOX_VALUE
               ": There is no option group 'sandbox'\" >&2\n"
               "exit 1\n",
               0755);
    job = job_ok(&jo);
    note = find_note(job, "sandbox:");
    assert_contains(note, "sandbox: not available in ");
    assert_contains(note, exe);
    assert_contains(note, "There is no option group 'sandbox'");
    assert_false(argv_has(job, "-sandbox"));
    qhil_job_free(job);

    /* Does not answer: killed at the deadline, the sandbox kept. */
    write_file(exe, "#!/bin/sh\nexec /bin/sleep 30\n", 0755);
    t0 = qhil_now();
    job = job_ok(&jo);
    assert_true(qhil_now() - t0 < 5 * QHIL_SEC);
    note = find_note(job, "sandbox:");
    assert_contains(note, "sandbox: -sandbox " SANDBOX_VALUE
                          " (the binary did not answer the probe: ");
    assert_true(argv_has(job, "-sandbox"));
    assert_true(argv_has(job, SANDBOX_VALUE));
    qhil_job_free(job);

    /* Not probed: listed as if the binary had it, and nothing runs. */
    jo.no_probe = true;
    t0 = qhil_now();
    job = job_ok(&jo);
    assert_true(qhil_now() - t0 < QHIL_SEC / 2);
    assert_string_equal(find_note(job, "sandbox:"),
                        "sandbox: -sandbox " SANDBOX_VALUE
                        " (where the binary has it; not probed)");
    assert_true(argv_has(job, "-sandbox"));
    qhil_job_free(job);

    write_file(exe, "#!/bin/false\n", 0755);
    qhil_site_free(off);
    free(off_note);
    free(exe);
}

/* QEMU's environment is the site's, exactly; nothing of the caller's
 * and nothing a job can name. */
static void test_envp(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    qhil_site *site = load_site(f, "environment:\n"
                                   "  QEMU_AUDIO_DRV: none\n"
                                   "  A: b=c\n"
                                   "  E:\n");
    qhil_board_value ctx = {"environment", "PATH=/evil",
                            "suite.yaml:3"};
    qhil_job_opts jo = {
        .device_type = "job-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .job_dir = f->dir,
    };
    const char *const *envp;
    qhil_job *job;

    assert_int_equal(setenv("QHIL_TEST_LEAK", "1", 1), 0);
    job = job_ok(&jo);
    assert_non_null(qhil_job_envp(job));
    assert_null(qhil_job_envp(job)[0]);
    qhil_job_free(job);
    jo.site = site;
    job = job_ok(&jo);
    envp = qhil_job_envp(job);
    assert_string_equal(envp[0], "QEMU_AUDIO_DRV=none");
    assert_string_equal(envp[1], "A=b=c");
    assert_string_equal(envp[2], "E=");
    assert_null(envp[3]);
    qhil_job_free(job);
    jo.context = &ctx;
    jo.n_context = 1;
    job_refused(&jo, QHIL_EINVAL,
                "unknown variable 'environment'", "suite.yaml:3: ");
    unsetenv("QHIL_TEST_LEAK");
    qhil_site_free(site);
}

/* A trusted site: the policy and the confinement are skipped, qhil's
 * wiring is not, and the note says so and why. */
static void test_trusted_site(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    const char *append[] = {"-append", "console=ttyAMA0", NULL};
    const char *qmp[] = {"-qmp", "unix:/tmp/x,server=on", NULL};
    const char *chardev[] = {"-chardev", "socket,id=qhil-qmp,path=/tmp/y",
                             NULL};
    qhil_board_value kernel = {"kernel", "/etc/hostname", "suite.yaml:8"};
    qhil_board_job values = {
        .images = &kernel,
        .n_images = 1,
        .extra_options = append,
        .n_extra_options = 2,
        .extra_origin = "suite.yaml:6",
    };
    qhil_site *site = load_site(f, "trusted: true\nimage_dirs: []\n");
    qhil_job_opts jo = {
        .device_type = "job-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .values = &values,
        .site = site,
        .job_dir = f->dir,
    };
    char *want = NULL;
    qhil_job *job;

    job = job_ok(&jo);
    assert_true(asprintf(&want,
                         "job: trusted (%s/site.yaml:1): its options and "
                         "commands pass unchecked",
                         f->dir) > 0);
    assert_string_equal(qhil_job_notes(job)[0], want);
    assert_true(argv_has(job, "/etc/hostname"));
    assert_true(argv_has(job, "-append"));
    qhil_job_free(job);
    values.extra_options = qmp;
    job_refused(&jo, QHIL_EINVAL,
                "suite.yaml:6: context.extra_options: '-qmp' is not allowed",
                NULL);
    values.extra_options = chardev;
    job_refused(&jo, QHIL_EINVAL, "suite.yaml:6: context.extra_options:",
                "qhil");
    /* Untrusted: the note names the policy and the site. */
    jo.site = NULL;
    values.n_extra_options = 0;
    values.n_images = 0;
    job = job_ok(&jo);
    assert_string_equal(qhil_job_notes(job)[0],
                        "job: untrusted, checked against the strict policy "
                        "(the built-in site)");
    qhil_job_free(job);
    qhil_site_free(site);
    free(want);
}

/* Untrusted images: inside the job's folder only (the site names no
 * other), resolved, so QEMU gets the file the check saw. */
static void test_image_confinement(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    char *jobdir = join(f->dir, "job");
    char *realdir = join(jobdir, "real");
    char *inside = join(realdir, "fw.elf");
    char *link = join(jobdir, "link.elf");
    char *out = join(jobdir, "out.elf");
    qhil_board_value kernel = {"kernel", NULL, "suite.yaml:8"};
    qhil_board_job values = {.images = &kernel, .n_images = 1};
    qhil_site *site = load_site(f, "site: closed\nimage_dirs: []\n");
    qhil_job_opts jo = {
        .device_type = "job-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .values = &values,
        .site = site,
        .job_dir = jobdir,
    };
    qhil_job *job;

    assert_int_equal(mkdir(jobdir, 0755), 0);
    assert_int_equal(mkdir(realdir, 0755), 0);
    write_file(inside, "firmware", 0644);
    assert_int_equal(symlink("real/fw.elf", link), 0);
    assert_int_equal(symlink(f->kernel, out), 0);

    /* Outside the job's folder. */
    kernel.value = f->kernel;
    job_refused(&jo, QHIL_EINVAL, "suite.yaml:8: images.kernel", NULL);
    /* ... through a symlink inside it. */
    kernel.value = out;
    job_refused(&jo, QHIL_EINVAL, "suite.yaml:8: images.kernel", NULL);
    /* ... through "..". */
    {
        char *dots = join(jobdir, "../fw.elf");

        kernel.value = dots;
        job_refused(&jo, QHIL_EINVAL, "suite.yaml:8: images.kernel", NULL);
        free(dots);
    }
    /* Inside. */
    kernel.value = inside;
    job = job_ok(&jo);
    assert_true(argv_has(job, inside));
    qhil_job_free(job);
    /* Through a symlink inside: QEMU gets the resolved path. */
    kernel.value = link;
    job = job_ok(&jo);
    assert_true(argv_has(job, inside));
    assert_false(argv_has(job, link));
    qhil_job_free(job);

    (void)unlink(out);
    (void)unlink(link);
    (void)unlink(inside);
    (void)rmdir(realdir);
    (void)rmdir(jobdir);
    qhil_site_free(site);
    free(out);
    free(link);
    free(inside);
    free(realdir);
    free(jobdir);
}

/* A test disk: its size, the slot in the argv, and the real path put in
 * with its commas doubled so that it cannot add drive options. */
/* The site's device dictionary says how a disk is attached on its
 * board; the job still decides whether there is one, and cannot change
 * what the site set. */
static void test_guestfs_site_defaults(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    qhil_board_value ctx[2] = {
        {"guestfs_size", "16M", "suite.yaml:5"},
        {"guestfs_interface", "ide", "suite.yaml:6"},
    };
    qhil_site *site = load_site(f, "devices:\n"
                                   "  guestfs-board:\n"
                                   "    guestfs_interface: virtio\n"
                                   "    guestfs_driveid: scratch\n");
    qhil_job_opts jo = {
        .device_type = "guestfs-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .site = site,
        .context = ctx,
        .n_context = 0,
        .job_dir = f->dir,
    };
    char *at = site_at(f, 3);
    qhil_error err;
    qhil_job *job;
    size_t i;

    /* No guestfs_* in the job: no disk, whatever the site says. */
    job = job_ok(&jo);
    assert_int_equal(qhil_job_disk_size(job), 0);
    qhil_job_free(job);
    jo.n_context = 1;
    job = job_ok(&jo);
    assert_int_equal(qhil_job_disk_size(job), 16ull << 20);
    for (i = 0; qhil_job_argv(job)[i] &&
                strcmp(qhil_job_argv(job)[i], "-drive");
         i++) {
    }
    assert_non_null(qhil_job_argv(job)[i]);
    assert_string_equal(qhil_job_argv(job)[i + 1],
                        "format=qcow2,file={{GUESTFS}},media=disk,"
                        "if=virtio,id=scratch");
    qhil_job_free(job);
    /* The job's own interface is the site's to set here. */
    jo.n_context = 2;
    qhil_error_init(&err);
    assert_int_equal(qhil_job_new(&jo, &job, &err), QHIL_EINVAL);
    assert_contains(err.message, "suite.yaml:6: context.guestfs_interface: "
                                 "'ide' cannot be set by a job: the site "
                                 "sets it for device type 'guestfs-board'");
    assert_contains(err.message, at);
    qhil_error_release(&err);
    free(at);
    qhil_site_free(site);
}

static void test_guestfs(void **state)
{
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    qhil_board_value ctx[2] = {
        {"guestfs_interface", "virtio", "suite.yaml:4"},
        {"guestfs_size", "64M", "suite.yaml:5"},
    };
    qhil_job_opts jo = {
        .device_type = "guestfs-board",
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
        .context = ctx,
        .n_context = 2,
        .job_dir = f->dir,
    };
    char **argv = NULL;
    qhil_error err;
    qhil_job *job;
    size_t i;

    job = job_ok(&jo);
    assert_int_equal(qhil_job_disk_size(job), 64ull << 20);
    for (i = 0; qhil_job_argv(job)[i] &&
                strcmp(qhil_job_argv(job)[i], "-drive");
         i++) {
    }
    assert_non_null(qhil_job_argv(job)[i]);
    assert_string_equal(qhil_job_argv(job)[i + 1],
                        "format=qcow2,file={{GUESTFS}},media=disk,"
                        "if=virtio,id=lavatest");
    assert_int_equal(qhil_job_arg_kind(job, i + 1), QHIL_ARG_SUBSTITUTED);
    assert_string_equal(qhil_job_arg_source(job, i + 1),
                        "suite.yaml:5");
    qhil_error_init(&err);
    assert_int_equal(qhil_job_argv_disk(job, "/r/a,if=none,b/g.qcow2",
                                        &argv, &err),
                     0);
    assert_string_equal(argv[i + 1], "format=qcow2,file=/r/a,,if=none,,b/"
                                     "g.qcow2,media=disk,if=virtio,"
                                     "id=lavatest");
    assert_string_equal(argv[0], qhil_job_argv(job)[0]);
    qhil_argv_free(argv);
    qhil_job_free(job);

    /* Defaults: 512M on ide. */
    ctx[0] = (qhil_board_value){"guestfs_driveid", "disk0",
                                "suite.yaml:4"};
    jo.n_context = 1;
    job = job_ok(&jo);
    assert_int_equal(qhil_job_disk_size(job), 512ull << 20);
    assert_true(argv_has(job, "format=qcow2,file={{GUESTFS}},media=disk,"
                              "if=ide,id=disk0"));
    qhil_job_free(job);

    /* No guestfs_*: no disk, and argv_disk is a plain copy. */
    jo.n_context = 0;
    job = job_ok(&jo);
    assert_int_equal(qhil_job_disk_size(job), 0);
    assert_int_equal(qhil_job_argv_disk(job, "/r/g.qcow2", &argv, &err), 0);
    for (i = 0; argv[i]; i++) {
        assert_string_equal(argv[i], qhil_job_argv(job)[i]);
    }
    assert_null(qhil_job_argv(job)[i]);
    qhil_argv_free(argv);
    qhil_job_free(job);
    qhil_error_release(&err);

    /* A job cannot make the drive say more than it should. */
    jo.n_context = 1;
    ctx[0] = (qhil_board_value){"guestfs_interface", "virtio,file=/etc/passwd",
                                "suite.yaml:4"};
    job_refused(&jo, QHIL_EINVAL, "guestfs_interface",
                "'virtio,file=/etc/passwd' is not a disk interface");
    ctx[0] = (qhil_board_value){"guestfs_driveid", "qhil-qmp",
                                "suite.yaml:4"};
    job_refused(&jo, QHIL_EINVAL, "guestfs_driveid",
                "'qhil-qmp': ids starting with 'qhil' are reserved for the "
                "harness");
    ctx[0].value = "x,file=/etc/passwd";
    job_refused(&jo, QHIL_EINVAL, "guestfs_driveid", NULL);
    ctx[0] = (qhil_board_value){"guestfs_size", "1E",
                                "suite.yaml:4"};
    job_refused(&jo, QHIL_EINVAL, "suite.yaml:4: ", "guestfs_size");
    /* Nor ask for one where the device type has none. */
    ctx[0] = (qhil_board_value){"guestfs_size", "64M",
                                "suite.yaml:4"};
    jo.device_type = "job-board";
    job_refused(&jo, QHIL_EINVAL,
                "guestfs_size: '64M' cannot be set by a job: device type "
                "'job-board' has no test disk",
                "suite.yaml:4: ");
}

/* A suite's qmp: steps against the policy, with the step's file:line
 * and field; a trusted site lets them through. */
static void test_suite_steps(void **state)
{
    static const char migrate[] =
        "device_type: job-board\n"
        "tests:\n"
        "  - name: a\n"
        "    steps:\n"
        "      - qmp: query-status\n"
        "      - reset\n"
        "  - name: b\n"
        "    steps:\n"
        "      - qmp: query-status\n"
        "      - qmp: {execute: migrate, arguments: {uri: \"exec:touch "
        "x\"}}\n";
    static const char hmp[] =
        "device_type: job-board\n"
        "tests:\n"
        "  - name: a\n"
        "    steps:\n"
        "      - qmp:\n"
        "          execute: human-monitor-command\n"
        "          arguments: {command-line: \"logfile x\"}\n";
    static const char fine[] =
        "device_type: job-board\n"
        "tests:\n"
        "  - name: a\n"
        "    steps:\n"
        "      - qmp: {execute: human-monitor-command,\n"
        "              arguments: {command-line: \"info status\"}}\n"
        "      - qmp: query-status\n";
    fixture *f = *state;
    const char *board_dirs[] = {BOARDS, NULL};
    const char *qemu_dirs[] = {f->bin, NULL};
    qhil_site *trusted = load_site(f, "trusted: true\n");
    qhil_job_opts base = {
        .board_dirs = board_dirs,
        .qemu_dirs = qemu_dirs,
    };
    const char *texts[] = {migrate, hmp, fine};
    const char *want[] = {
        "job.yaml:10: tests[1].steps[1].qmp: 'migrate' is not allowed",
        "job.yaml:5: tests[0].steps[0].qmp: ",
        NULL,
    };
    qhil_suite *suite = NULL;
    qhil_job *job = NULL;
    qhil_error err;
    size_t i;

    for (i = 0; i < 3; i++) {
        qhil_error_init(&err);
        if (qhil_suite_load_buffer("job.yaml", texts[i], strlen(texts[i]),
                                   &suite, &err) != 0) {
            fail_msg("suite %zu: %s", i, err.message);
        }
        base.site = NULL;
        job = (qhil_job *)&err;
        if (want[i]) {
            assert_int_equal(qhil_job_from_suite(suite, &base, &job, &err),
                             QHIL_EINVAL);
            assert_null(job);
            assert_contains(err.message, want[i]);
            if (i == 1) {
                assert_contains(err.message, "logfile");
            }
        } else {
            if (qhil_job_from_suite(suite, &base, &job, &err) != 0) {
                fail_msg("suite %zu: %s", i, err.message);
            }
            qhil_job_free(job);
        }
        qhil_error_release(&err);
        qhil_error_init(&err);
        base.site = trusted;
        if (qhil_job_from_suite(suite, &base, &job, &err) != 0) {
            fail_msg("trusted suite %zu: %s", i, err.message);
        }
        assert_contains(qhil_job_notes(job)[0], "job: trusted");
        qhil_job_free(job);
        qhil_suite_free(suite);
        suite = NULL;
        qhil_error_release(&err);
    }
    qhil_site_free(trusted);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(qhil_arg_kind_name(QHIL_ARG_MANDATORY), "mandatory");
    assert_string_equal(qhil_arg_kind_name(QHIL_ARG_SUBSTITUTED),
                        "substituted");
    assert_string_equal(qhil_arg_kind_name(QHIL_ARG_SPECIFIC), "specific");
    assert_string_equal(qhil_arg_kind_name(QHIL_ARG_HARNESS), "harness");
    assert_string_equal(qhil_arg_kind_name(-1), "?");
    qhil_job_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labelled_argv),
        cmocka_unit_test(test_harness_wiring),
        cmocka_unit_test(test_binary_search),
        cmocka_unit_test(test_missing_binary),
        cmocka_unit_test(test_bad_board),
        cmocka_unit_test(test_job_cannot_lie),
        cmocka_unit_test(test_site_dictionary),
        cmocka_unit_test(test_site_owns_values),
        cmocka_unit_test(test_site_value_pattern),
        cmocka_unit_test(test_variable_without_value),
        cmocka_unit_test(test_site_sets_cpu),
        cmocka_unit_test(test_site_unknown_variable),
        cmocka_unit_test(test_arch),
        cmocka_unit_test(test_accel),
        cmocka_unit_test(test_sandbox_probe),
        cmocka_unit_test(test_envp),
        cmocka_unit_test(test_trusted_site),
        cmocka_unit_test(test_image_confinement),
        cmocka_unit_test(test_guestfs),
        cmocka_unit_test(test_guestfs_site_defaults),
        cmocka_unit_test(test_suite_steps),
        cmocka_unit_test(test_kind_names),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
