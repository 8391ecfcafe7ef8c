/*
 * test_job.c - a job's QEMU command line: the exact argv built from a
 * board template and a job, the label and source of every argument, the
 * binary found where it should be, and the errors a user gets for a
 * missing binary, a missing or bad template and a job that tries to make
 * the command line lie.
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

#include "testutil.h"

#include <qhil/job.h>
#include <qhil/machine.h>

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
        cmocka_unit_test(test_kind_names),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
