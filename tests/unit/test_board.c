/*
 * test_board.c - board templates: the shipped boards load and build the
 * exact QEMU command lines, bad templates are refused with file, line and
 * field, and a job cannot sneak in options the board or qhil owns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include <qhil/board.h>

#define BOARDS QHIL_TEST_SRCDIR "/../../boards"
#define DATA QHIL_TEST_SRCDIR "/data"

static qhil_board *load_ok(const char *path)
{
    qhil_board *b = NULL;
    qhil_error err;
    int rc;

    qhil_error_init(&err);
    rc = qhil_board_load(path, &b, &err);
    if (rc != 0) {
        fail_msg("%s", qhil_error_message(&err, rc));
    }
    qhil_error_release(&err);
    return b;
}

/* Compare a NULL-terminated argv with the expected words. */
static void assert_argv(char **argv, ...)
{
    const char *want;
    size_t i = 0;
    va_list ap;

    assert_non_null(argv);
    va_start(ap, argv);
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (!argv[i]) {
            fail_msg("argv ends at %zu, expected \"%s\"", i, want);
        }
        assert_string_equal(argv[i], want);
        i++;
    }
    va_end(ap);
    if (argv[i]) {
        fail_msg("unexpected extra argument \"%s\" at %zu", argv[i], i);
    }
}

static void test_mps2_argv(void **state)
{
    qhil_board *b = load_ok(BOARDS "/mps2-an385.yaml");
    qhil_board_value img = {"kernel", "/fw dir/hello world.elf",
                            "suite.yaml:4"};
    const char *extra[] = {"-icount", "shift=0"};
    qhil_board_job job = {0};
    char **argv = NULL;

    (void)state;
    assert_string_equal(qhil_board_device_type(b), "mps2-an385");
    assert_string_equal(qhil_board_arch(b), "arm");
    assert_string_equal(qhil_board_binary(b), "qemu-system-arm");
    assert_string_equal(qhil_board_path(b), BOARDS "/mps2-an385.yaml");

    job.images = &img;
    job.n_images = 1;
    job.extra_options = extra;
    job.n_extra_options = 2;
    job.extra_origin = "suite.yaml:9";
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-arm", "-machine", "mps2-an385", "-cpu",
                "cortex-m3", "-m", "16M", "-nographic", "-monitor", "none",
                "-kernel", "/fw dir/hello world.elf", "-icount", "shift=0",
                NULL);
    qhil_argv_free(argv);

    /* No job at all: the template alone, unfilled slots left out. */
    assert_int_equal(qhil_board_argv(b, NULL, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-arm", "-machine", "mps2-an385", "-cpu",
                "cortex-m3", "-m", "16M", "-nographic", "-monitor", "none",
                NULL);
    qhil_argv_free(argv);
    qhil_board_free(b);
}

static void test_riscv_argv(void **state)
{
    qhil_board *b = load_ok(BOARDS "/riscv-virt.yaml");
    qhil_board_value img = {"kernel", "fw.elf", NULL};
    const char *extra[] = {"-d", "guest_errors"};
    qhil_board_job job = {0};
    char **argv = NULL;

    (void)state;
    assert_string_equal(qhil_board_arch(b), "riscv64");
    job.images = &img;
    job.n_images = 1;
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-riscv64", "-machine", "virt", "-m",
                "128M", "-nographic", "-monitor", "none", "-bios", "none",
                "-kernel", "fw.elf", NULL);
    qhil_argv_free(argv);

    job.cpu = "rv64,v=true";
    job.extra_options = extra;
    job.n_extra_options = 2;
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-riscv64", "-machine", "virt", "-cpu",
                "rv64,v=true", "-m", "128M", "-nographic", "-monitor", "none",
                "-bios", "none", "-kernel", "fw.elf", "-d", "guest_errors",
                NULL);
    qhil_argv_free(argv);
    qhil_board_free(b);
}

static void test_slots_in_lists(void **state)
{
    qhil_board *b = load_ok(DATA "/boards/test-board.yaml");
    qhil_board_value imgs[] = {
        {"disk", "/img/a,b.img", NULL},
        {"kernel", "k,1.elf", NULL},
    };
    qhil_board_job job = {0};
    char **argv = NULL;

    (void)state;
    job.images = imgs;
    job.n_images = 2;
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    /* Template order, not job order; commas doubled only inside an
     * option list, where QEMU would otherwise split the path. */
    assert_argv(argv, "qemu-system-arm", "-machine", "virt,secure=off",
                "-nographic", "-device", "loader,addr=0x1000,data=0,data-len=4",
                "-kernel", "k,1.elf", "-drive",
                "if=sd,format=raw,file=/img/a,,b.img", NULL);
    qhil_argv_free(argv);
    qhil_board_free(b);
}

/* Build argv for board with one extra option list; expect a refusal. */
static void refuse_extra(const char *board, const char *const *extra,
                         size_t n, const char *needle)
{
    qhil_board *b = load_ok(board);
    qhil_board_job job = {0};
    char **argv = (char **)1;
    qhil_error err;

    qhil_error_init(&err);
    job.extra_options = extra;
    job.n_extra_options = n;
    job.extra_origin = "jobs/s.yaml:12";
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_null(argv);
    assert_contains(err.message, "jobs/s.yaml:12: context.extra_options: ");
    assert_contains(err.message, needle);
    qhil_error_release(&err);
    qhil_board_free(b);
}

static void test_forbidden_extra_options(void **state)
{
    static const struct {
        const char *opt;
        const char *why;
    } cases[] = {
        {"-qmp", "'-qmp' is not allowed: qhil owns"},
        {"-qmp-pretty", "qhil owns"},
        {"-mon", "'-mon' is not allowed: qhil owns"},
        {"-monitor", "qhil owns"},
        {"--monitor", "'--monitor' is not allowed"},
        {"-serial", "qhil owns"},
        {"-daemonize", "qhil owns"},
        {"-pidfile", "qhil owns"},
        {"-nographic", "qhil owns"},
        {"-machine", "sets the machine"},
        {"-M", "'-M' is not allowed: the board template"},
        {"--machine", "sets the machine"},
        {"-m", "sets the memory size"},
        {"-kernel", "give firmware under images: instead"},
        {"-initrd", "give firmware under images"},
        {"-dtb", "give firmware under images"},
        {"-bios", "give firmware under images"},
        {"-cpu", "board 'mps2-an385' does not let jobs choose the CPU"},
    };
    const char *extra[3];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        extra[0] = "-icount";
        extra[1] = "shift=0";
        extra[2] = cases[i].opt;
        refuse_extra(BOARDS "/mps2-an385.yaml", extra, 3, cases[i].why);
    }
    extra[0] = "-chardev";
    extra[1] = "socket,id=qhil-console,path=/tmp/x";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 2,
                 "ids starting with 'qhil' are reserved");
    extra[0] = "-device";
    extra[1] = "virtconsole,chardev=qhil-qmp";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 2,
                 "ids starting with 'qhil' are reserved");
    extra[0] = "-parallel";
    extra[1] = "chardev:qhil-console";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 2,
                 "ids starting with 'qhil' are reserved");
    extra[0] = "-readconfig";
    extra[1] = "lab.cfg";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 2,
                 "'-readconfig' is not allowed: qhil owns");
    /* A second QTest server, or another accelerator, behind our back. */
    extra[0] = "-object";
    extra[1] = "qtest,id=x,chardev=c";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 2,
                 "'-object' is not allowed: qhil owns");
    extra[0] = "-qtest";
    extra[1] = "unix:/tmp/q";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 2,
                 "'-qtest' is not allowed: qhil owns");
    extra[0] = "-accel";
    extra[1] = "qtest";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 2,
                 "'-accel' is not allowed: qhil owns");
    extra[0] = "";
    refuse_extra(BOARDS "/mps2-an385.yaml", extra, 1, "empty argument");
}

static void test_extra_cpu_and_mandatory(void **state)
{
    const char *cpu[] = {"-cpu", "rv64"};
    const char *bios[] = {"-bios", "fw.bin"};
    const char *dev[] = {"-device", "x"};
    qhil_board *b;
    qhil_board_job job = {0};
    char **argv = NULL;

    (void)state;
    refuse_extra(BOARDS "/riscv-virt.yaml", cpu, 2,
                 "'-cpu' is not allowed: set context.cpu instead");
    refuse_extra(BOARDS "/riscv-virt.yaml", bios, 2,
                 "it repeats the board's mandatory option '-bios none'");
    /* First word of a mandatory list entry counts too. */
    refuse_extra(DATA "/boards/test-board.yaml", dev, 2,
                 "repeats the board's mandatory option '-device loader");

    /* A legitimate chardev of the job's own is fine. */
    b = load_ok(BOARDS "/riscv-virt.yaml");
    cpu[0] = "-chardev";
    cpu[1] = "socket,id=mine,path=/tmp/s";
    job.extra_options = cpu;
    job.n_extra_options = 2;
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    qhil_argv_free(argv);
    qhil_board_free(b);
}

static void test_job_values_refused(void **state)
{
    qhil_board *b = load_ok(BOARDS "/mps2-an385.yaml");
    qhil_board_value bad = {"kernal", "x.elf", "s.yaml:6"};
    qhil_board_value twice[] = {
        {"kernel", "a.elf", "s.yaml:6"},
        {"kernel", "b.elf", "s.yaml:7"},
    };
    qhil_board_value empty = {"kernel", "", "s.yaml:6"};
    const char *extra[] = {"-icount", "auto"};
    qhil_board_job job = {0};
    char **argv = (char **)1;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    job.images = &bad;
    job.n_images = 1;
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_null(argv);
    assert_contains(err.message, "s.yaml:6: images: board 'mps2-an385' has "
                                 "no image slot 'kernal' (slots: kernel)");

    job.images = twice;
    job.n_images = 2;
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_contains(err.message, "s.yaml:7: images: image 'kernel' is "
                                 "given twice");

    job.images = &empty;
    job.n_images = 1;
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_contains(err.message, "image 'kernel' has an empty path");

    job.n_images = 0;
    job.cpu = "cortex-m4";
    job.cpu_origin = "s.yaml:10";
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_contains(err.message, "s.yaml:10: context.cpu: board "
                                 "'mps2-an385' does not let jobs choose the "
                                 "CPU");
    qhil_board_free(b);

    /* riscv-virt allows cpu, but not a crafted one. */
    b = load_ok(BOARDS "/riscv-virt.yaml");
    job.cpu = "-machine";
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_contains(err.message, "'-machine' is not a CPU model name");
    qhil_board_free(b);

    /* A board without context.extra_options refuses them all. */
    b = load_ok(DATA "/boards/no-context.yaml");
    job.cpu = NULL;
    job.extra_options = extra;
    job.n_extra_options = 2;
    job.extra_origin = "s.yaml:11";
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_contains(err.message, "s.yaml:11: context.extra_options: board "
                                 "'no-context' does not allow extra options");
    qhil_board_free(b);
    qhil_error_release(&err);
}

/* ---- bad templates, written to a temporary file ---- */

/*
 * Write text to a temporary board file and load it; it must fail with
 * code, and the message must contain ":LINE:" after the file name (when
 * line > 0) and needle.
 */
static void bad_template(const char *text, int code, int line,
                         const char *needle)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    char *where = NULL;
    qhil_board *b = (qhil_board *)1;
    qhil_error err;
    FILE *fp;
    int fd;

    assert_true(asprintf(&path, "%s/qhil-board-XXXXXX",
                         base ? base : "/tmp") > 0);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);

    qhil_error_init(&err);
    assert_int_equal(qhil_board_load(path, &b, &err), code);
    assert_null(b);
    if (line > 0) {
        assert_true(asprintf(&where, "%s:%d:", path, line) > 0);
        assert_contains(err.message, where);
        assert_int_equal(err.line, line);
    }
    assert_contains(err.message, needle);
    qhil_error_release(&err);
    unlink(path);
    free(where);
    free(path);
}

#define GOOD_TOP "device_type: x\narch: arm\n"
#define GOOD_QEMU "qemu:\n  binary: qemu-system-arm\n  machine: virt\n"

static void test_bad_templates(void **state)
{
    (void)state;
    bad_template(GOOD_TOP GOOD_QEMU "extra: 1\n", QHIL_EINVAL, 6,
                 ":6:1: unknown key 'extra' (known: device_type, arch, "
                 "description, qemu)");
    bad_template(GOOD_TOP GOOD_QEMU "  machin: virt\n", QHIL_EINVAL, 6,
                 ":6:3: qemu: unknown key 'machin' (known: binary, machine, "
                 "cpu, memory, mandatory, images, context)");
    bad_template(GOOD_TOP "qemu:\n  machine: virt\n", QHIL_EINVAL, 4,
                 "qemu: missing 'binary'");
    bad_template(GOOD_TOP "qemu:\n  binary: q\n", QHIL_EINVAL, 4,
                 "qemu: missing 'machine'");
    bad_template("arch: arm\n" GOOD_QEMU, QHIL_EINVAL, 1,
                 "missing 'device_type'");
    bad_template("device_type: x\n" GOOD_QEMU, QHIL_EINVAL, 1,
                 "missing 'arch'");
    bad_template(GOOD_TOP, QHIL_EINVAL, 1, "missing 'qemu'");
    bad_template("device_type: ../etc\narch: arm\n" GOOD_QEMU, QHIL_EINVAL,
                 1, "device_type: '../etc' may only contain");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel: -kernel "
                                    "{{KERNL}}\n",
                 QHIL_EINVAL, 7,
                 "qemu.images.kernel: slot '{{KERNL}}' does not match the "
                 "image name 'kernel' (write {{KERNEL}})");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    dtb: -dtb {{KERNEL}}\n",
                 QHIL_EINVAL, 7,
                 "qemu.images.dtb: slot '{{KERNEL}}' does not match the "
                 "image name 'dtb' (write {{DTB}})");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel: -kernel x\n",
                 QHIL_EINVAL, 7,
                 "qemu.images.kernel: '-kernel x' has no slot for the image "
                 "path (write {{KERNEL}}");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel: -kernel "
                                    "{{KERNEL\n",
                 QHIL_EINVAL, 7, "'{{' without a closing '}}'");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    Kernel: -kernel "
                                    "{{KERNEL}}\n",
                 QHIL_EINVAL, 7, "image name 'Kernel' must be lower-case");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel: \"{{KERNEL}}\"\n",
                 QHIL_EINVAL, 7,
                 "'{{KERNEL}}' does not start with an option");
    bad_template(GOOD_TOP GOOD_QEMU "  mandatory:\n    - -drive "
                                    "file={{DISK}}\n",
                 QHIL_EINVAL, 7,
                 "qemu.mandatory[0]: '-drive file={{DISK}}': image slots");
    bad_template(GOOD_TOP GOOD_QEMU "  mandatory:\n    - -nographic\n"
                                    "    - -qmp unix:/tmp/q\n",
                 QHIL_EINVAL, 8,
                 "qemu.mandatory[1]: '-qmp' is owned by qhil");
    bad_template(GOOD_TOP GOOD_QEMU "  mandatory:\n    - -nographic "
                                    "-serial null\n",
                 QHIL_EINVAL, 7,
                 "qemu.mandatory[0]: '-serial' is owned by qhil");
    bad_template(GOOD_TOP GOOD_QEMU "  mandatory:\n    - [-M, virt]\n",
                 QHIL_EINVAL, 7,
                 "qemu.mandatory[0]: '-M' is set by qemu.machine");
    bad_template(GOOD_TOP GOOD_QEMU "  mandatory:\n    - -chardev "
                                    "null,id=qhil0\n",
                 QHIL_EINVAL, 7, "ids starting with 'qhil' are reserved");
    bad_template(GOOD_TOP GOOD_QEMU "  mandatory: -nographic\n", QHIL_EINVAL,
                 6, "qemu.mandatory: expected a list of options, got a string");
    bad_template(GOOD_TOP GOOD_QEMU "  memory: lots\n", QHIL_EINVAL, 6,
                 "qemu.memory: 'lots' is not a memory size");
    bad_template(GOOD_TOP GOOD_QEMU "  cpu: cortex m3\n", QHIL_EINVAL, 6,
                 "qemu.cpu: 'cortex m3' contains blank space");
    bad_template(GOOD_TOP GOOD_QEMU "  context: [cpu, memory]\n", QHIL_EINVAL,
                 6, "qemu.context[1]: unknown context value 'memory' (known: "
                    "cpu, extra_options)");
    bad_template(GOOD_TOP GOOD_QEMU "  context: [cpu, cpu]\n", QHIL_EINVAL,
                 6, "qemu.context[1]: 'cpu' is listed twice");
    bad_template(GOOD_TOP "qemu: [1]\n", QHIL_EINVAL, 3,
                 "qemu: expected a mapping, got a list");
    bad_template(GOOD_TOP "qemu:\n  binary: [q\n", QHIL_ESYNTAX, 0,
                 "YAML syntax error: ");
    bad_template("", QHIL_ESYNTAX, 0, "empty document");
}

static void test_load_missing(void **state)
{
    qhil_board *b = (qhil_board *)1;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_board_load(DATA "/boards/none.yaml", &b, &err),
                     QHIL_ENOENT);
    assert_null(b);
    assert_contains(err.message, "none.yaml: cannot open: ");
    qhil_error_release(&err);
    qhil_board_free(NULL);
    qhil_argv_free(NULL);
}

static void test_find(void **state)
{
    const char *dirs[] = {DATA "/nowhere", DATA "/boards", BOARDS, NULL};
    const char *only[] = {DATA "/nowhere", NULL};
    const char *none[] = {NULL};
    char *path = NULL;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_board_find("test-board", dirs, &path, &err), 0);
    assert_string_equal(path, DATA "/boards/test-board.yaml");
    free(path);
    assert_int_equal(qhil_board_find("mps2-an385", dirs, &path, &err), 0);
    assert_string_equal(path, BOARDS "/mps2-an385.yaml");
    free(path);

    path = (char *)1;
    assert_int_equal(qhil_board_find("mps2-an385", only, &path, &err),
                     QHIL_ENOENT);
    assert_null(path);
    assert_contains(err.message, "no board template for device type "
                                 "'mps2-an385' (looked for mps2-an385.yaml "
                                 "in: ");
    assert_contains(err.message, "/data/nowhere)");
    assert_int_equal(qhil_board_find("x", none, &path, &err), QHIL_ENOENT);
    assert_contains(err.message, "in: no directories");

    assert_int_equal(qhil_board_find("../boards/mps2-an385", dirs, &path,
                                     &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "invalid device type '../boards/mps2-an385'");
    assert_int_equal(qhil_board_find(".hidden", dirs, &path, &err),
                     QHIL_EINVAL);
    assert_int_equal(qhil_board_find("a/b", dirs, &path, &err), QHIL_EINVAL);
    assert_int_equal(qhil_board_find("", dirs, &path, &err), QHIL_EINVAL);
    qhil_error_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mps2_argv),
        cmocka_unit_test(test_riscv_argv),
        cmocka_unit_test(test_slots_in_lists),
        cmocka_unit_test(test_forbidden_extra_options),
        cmocka_unit_test(test_extra_cpu_and_mandatory),
        cmocka_unit_test(test_job_values_refused),
        cmocka_unit_test(test_bad_templates),
        cmocka_unit_test(test_load_missing),
        cmocka_unit_test(test_find),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
