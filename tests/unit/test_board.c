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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include <qhil/board.h>

#include "boardargs.h"

#define BOARDS QHIL_TEST_SRCDIR "/../../boards"
#define DATA QHIL_TEST_SRCDIR "/data"

#define EM_ARM_ 40
#define EM_RISCV_ 243
#define EM_AARCH64_ 183

/* CLOCK_MONOTONIC in seconds. */
static double qhil_now_for_test(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A folder of image files made for this run; the group state. */
typedef struct images {
    char *dir;
} images;

/* dir/name, malloc'ed. */
static char *in_dir(const images *im, const char *name)
{
    char *path = NULL;

    assert_true(asprintf(&path, "%s/%s", im->dir, name) > 0);
    return path;
}

/* Write bytes to dir/name; returns the path (caller frees). */
static char *write_file(const images *im, const char *name,
                        const void *bytes, size_t n)
{
    char *path = in_dir(im, name);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
    return path;
}

/*
 * An ELF header: class 32 or 64 bits, little-endian unless big, of type
 * and machine, padded with zeros to size bytes.
 */
static char *write_elf(const images *im, const char *name, int bits,
                       int big, unsigned type, unsigned machine, size_t size)
{
    unsigned char b[256];
    char *path;

    assert_true(size <= sizeof(b));
    memset(b, 0, sizeof(b));
    memcpy(b, "\x7f" "ELF", 4);
    b[4] = bits == 64 ? 2 : 1;
    b[5] = big ? 2 : 1;
    b[6] = 1;
    b[16 + big] = (unsigned char)(type & 0xff);
    b[16 + !big] = (unsigned char)(type >> 8);
    b[18 + big] = (unsigned char)(machine & 0xff);
    b[18 + !big] = (unsigned char)(machine >> 8);
    path = write_file(im, name, b, size);
    return path;
}

static int make_images(void **state)
{
    images *im = calloc(1, sizeof(*im));
    const char *base = getenv("TMPDIR");
    char *sub;

    assert_non_null(im);
    assert_true(asprintf(&im->dir, "%s/qhil-board-XXXXXX",
                         base ? base : "/tmp") > 0);
    assert_non_null(mkdtemp(im->dir));
    sub = in_dir(im, "fw dir");
    assert_int_equal(mkdir(sub, 0755), 0);
    free(sub);
    free(write_elf(im, "fw dir/hello world.elf", 32, 0, 2, EM_ARM_, 52));
    free(write_elf(im, "arm.elf", 32, 0, 2, EM_ARM_, 64));
    free(write_elf(im, "k,1.elf", 32, 0, 2, EM_ARM_, 64));
    free(write_elf(im, "riscv.elf", 64, 0, 2, EM_RISCV_, 64));
    free(write_elf(im, "aarch64.elf", 64, 0, 2, EM_AARCH64_, 64));
    free(write_file(im, "a,b.img", "disk", 4));
    *state = im;
    return 0;
}

static const char *const image_names[] = {
    "fw dir/hello world.elf", "fw dir", "arm.elf", "k,1.elf", "riscv.elf",
    "aarch64.elf", "a,b.img", NULL,
};

static int remove_images(void **state)
{
    images *im = *state;
    char *path;
    size_t i;

    for (i = 0; image_names[i]; i++) {
        path = in_dir(im, image_names[i]);
        remove(path);
        free(path);
    }
    rmdir(im->dir);
    free(im->dir);
    free(im);
    return 0;
}

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
    char *fw = in_dir(*state, "fw dir/hello world.elf");
    qhil_board_value img = {"kernel", fw, "suite.yaml:4"};
    const char *extra[] = {"-icount", "shift=0"};
    qhil_board_job job = {0};
    char **argv = NULL;

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
                "-kernel", fw, "-icount", "shift=0", NULL);
    qhil_argv_free(argv);
    free(fw);

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
    char *fw = in_dir(*state, "riscv.elf");
    qhil_board_value img = {"kernel", fw, NULL};
    const char *extra[] = {"-d", "guest_errors"};
    qhil_board_job job = {0};
    char **argv = NULL;

    assert_string_equal(qhil_board_arch(b), "riscv64");
    job.images = &img;
    job.n_images = 1;
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-riscv64", "-machine", "virt", "-cpu",
                "rv64", "-m", "128M", "-nographic", "-monitor", "none",
                "-bios", "none", "-kernel", fw, NULL);
    qhil_argv_free(argv);

    job.cpu = "rv64,v=true";
    job.extra_options = extra;
    job.n_extra_options = 2;
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-riscv64", "-machine", "virt", "-cpu",
                "rv64,v=true", "-m", "128M", "-nographic", "-monitor", "none",
                "-bios", "none", "-kernel", fw, "-d", "guest_errors", NULL);
    qhil_argv_free(argv);
    qhil_board_free(b);
    free(fw);
}

static void test_slots_in_lists(void **state)
{
    qhil_board *b = load_ok(DATA "/boards/test-board.yaml");
    char *disk = in_dir(*state, "a,b.img");
    char *kernel = in_dir(*state, "k,1.elf");
    char *drive = NULL;
    qhil_board_value imgs[] = {
        {"disk", disk, NULL},
        {"kernel", kernel, NULL},
    };
    qhil_board_job job = {0};
    char **argv = NULL;

    job.images = imgs;
    job.n_images = 2;
    assert_int_equal(qhil_board_argv(b, &job, &argv, NULL), 0);
    /* Template order, not job order; commas doubled only inside an
     * option list, where QEMU would otherwise split the path. */
    /* The folder is mkdtemp's: no commas of its own. */
    assert_true(asprintf(&drive, "if=sd,format=raw,file=%s/a,,b.img",
                         ((images *)*state)->dir) > 0);
    assert_argv(argv, "qemu-system-arm", "-machine", "virt,secure=off",
                "-nographic", "-device", "loader,addr=0x1000,data=0,data-len=4",
                "-kernel", kernel, "-drive", drive, NULL);
    qhil_argv_free(argv);
    qhil_board_free(b);
    free(drive);
    free(disk);
    free(kernel);
}

/* Build argv for board with a bios and (unless NULL) a kernel image;
 * returns what qhil_board_argv returned, the message in err. */
static int firmware_argv(const qhil_board *b, const char *bios,
                         const char *kernel, char ***argv, qhil_error *err)
{
    qhil_board_value img[2] = {{"bios", bios, "s.yaml:3"},
                               {"kernel", kernel, "s.yaml:4"}};
    qhil_board_job job = {0};

    job.images = img;
    job.n_images = kernel ? 2 : 1;
    return qhil_board_argv(b, &job, argv, err);
}

/* The virt boards for firmware written by others: a raw bios (U-Boot's
 * or OpenSBI's .bin) and an optional kernel, in the slots' order. */
static void test_firmware_boards_argv(void **state)
{
    images *im = *state;
    qhil_board *a64 = load_ok(BOARDS "/arm64-virt.yaml");
    qhil_board *a32 = load_ok(BOARDS "/arm-virt.yaml");
    qhil_board *rv = load_ok(BOARDS "/riscv-virt-opensbi.yaml");
    char *raw = in_dir(im, "a,b.img");
    char *arm_elf = in_dir(im, "arm.elf");
    char *a64_elf = in_dir(im, "aarch64.elf");
    char *rv_elf = in_dir(im, "riscv.elf");
    char **argv = NULL;
    qhil_error err;

    qhil_error_init(&err);
    assert_string_equal(qhil_board_arch(a64), "aarch64");
    assert_string_equal(qhil_board_binary(a64), "qemu-system-aarch64");
    assert_int_equal(firmware_argv(a64, raw, NULL, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-aarch64", "-machine", "virt", "-cpu",
                "cortex-a57", "-m", "128M", "-nographic", "-monitor", "none",
                "-nic", "none", "-bios", raw, NULL);
    qhil_argv_free(argv);
    assert_int_equal(firmware_argv(a64, raw, a64_elf, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-aarch64", "-machine", "virt", "-cpu",
                "cortex-a57", "-m", "128M", "-nographic", "-monitor", "none",
                "-nic", "none", "-bios", raw, "-kernel", a64_elf, NULL);
    qhil_argv_free(argv);
    /* The kernel slot takes raw files, but an ELF is checked as one. */
    argv = (char **)1;
    assert_int_equal(firmware_argv(a64, raw, rv_elf, &argv, &err),
                     QHIL_EINVAL);
    assert_null(argv);
    assert_contains(err.message, "s.yaml:4: images.kernel: image file");
    assert_contains(err.message, "but the board's arch 'aarch64'");
    qhil_error_release(&err);

    assert_string_equal(qhil_board_binary(a32), "qemu-system-arm");
    assert_int_equal(firmware_argv(a32, raw, arm_elf, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-arm", "-machine", "virt", "-cpu",
                "cortex-a15", "-m", "128M", "-nographic", "-monitor", "none",
                "-nic", "none", "-bios", raw, "-kernel", arm_elf, NULL);
    qhil_argv_free(argv);

    /* No -bios none: OpenSBI goes in the bios slot, ELF or raw. */
    assert_string_equal(qhil_board_binary(rv), "qemu-system-riscv64");
    assert_int_equal(firmware_argv(rv, rv_elf, raw, &argv, NULL), 0);
    assert_argv(argv, "qemu-system-riscv64", "-machine", "virt", "-cpu",
                "rv64", "-m", "128M", "-nographic", "-monitor", "none",
                "-bios", rv_elf, "-kernel", raw, NULL);
    qhil_argv_free(argv);
    argv = (char **)1;
    assert_int_equal(firmware_argv(rv, arm_elf, raw, &argv, &err),
                     QHIL_EINVAL);
    assert_null(argv);
    assert_contains(err.message, "s.yaml:3: images.bios: image file");
    assert_contains(err.message, "but the board's arch 'riscv64'");
    qhil_error_release(&err);

    free(raw);
    free(arm_elf);
    free(a64_elf);
    free(rv_elf);
    qhil_board_free(a64);
    qhil_board_free(a32);
    qhil_board_free(rv);
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
    char *fw = in_dir(*state, "arm.elf");
    qhil_board_value bad = {"kernal", "x.elf", "s.yaml:6"};
    qhil_board_value twice[] = {
        {"kernel", fw, "s.yaml:6"},
        {"kernel", fw, "s.yaml:7"},
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
    free(fw);
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
                 "description, health_check, lava, qemu)");
    bad_template(GOOD_TOP GOOD_QEMU "  machin: virt\n", QHIL_EINVAL, 6,
                 ":6:3: qemu: unknown key 'machin' (known: binary, machine, "
                 "cpu, memory, mandatory, images, context, variables, kvm)");
    bad_template(GOOD_TOP GOOD_QEMU "  kvm: maybe\n", QHIL_EINVAL, 6,
                 "qemu.kvm: expected true or false, got 'maybe'");
    /* Template variables: declared names only, plain words by default. */
    bad_template(GOOD_TOP GOOD_QEMU "  mandatory: [\"-name {{guest}}\"]\n",
                 QHIL_EINVAL, 6, "'{{guest}}' is not a variable of "
                                 "qemu.variables");
    bad_template(GOOD_TOP GOOD_QEMU "  variables: {Guest: x}\n", QHIL_EINVAL,
                 6, "'Guest' is not a variable name");
    bad_template(GOOD_TOP GOOD_QEMU "  variables: {memory: 1G}\n",
                 QHIL_EINVAL, 6, "'memory' is a context value of its own");
    bad_template(GOOD_TOP GOOD_QEMU
                 "  variables: {mac: {default: 'a b', set_by: job}}\n",
                 QHIL_EINVAL, 6, "default 'a b' does not match the pattern");
    bad_template(GOOD_TOP GOOD_QEMU "  variables: {mac: {pattern: '(', "
                                    "default: x}}\n",
                 QHIL_EINVAL, 6, "pattern '(' does not compile");
    bad_template(GOOD_TOP GOOD_QEMU
                 "  variables: {mac: {default: x, set_by: anyone}}\n",
                 QHIL_EINVAL, 6, "set_by is 'site' or 'job', not 'anyone'");
    bad_template(GOOD_TOP GOOD_QEMU "  context: [vga]\n", QHIL_EINVAL, 6,
                 "unknown context value 'vga'");
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
                 "qemu.mandatory[0]: '-drive file={{DISK}}': '{{DISK}}' is "
                 "not a variable of qemu.variables (image slots");
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
    bad_template(GOOD_TOP GOOD_QEMU "  context: [cpu, memroy]\n", QHIL_EINVAL,
                 6, "qemu.context[1]: unknown context value 'memroy' (known: "
                    "cpu, extra_options, machine, memory, arch, guestfs)");
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

/* Load a template from text; must succeed. */
static qhil_board *template_ok(const char *text)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    qhil_board *b;
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
    b = load_ok(path);
    unlink(path);
    free(path);
    return b;
}

/* Template variables: values and defaults fill {{name}} (the value's
 * origin becomes the argument's source), a value must match the
 * variable's pattern, a variable only the site can fill is an error
 * unless the template is checked alone, where it stays {{name}}. */
static void test_variables(void **state)
{
    qhil_board *b;
    qhil_board_value vals[] = {
        {"speed", "9600", "suite.yaml:4"},
    };
    qhil_board_job job = {.vars = vals, .n_vars = 1};
    char **argv = NULL;
    qhil_error err;
    size_t i;
    int found = 0;

    (void)state;
    b = template_ok("device_type: v\narch: arm\nqemu:\n"
                    "  machine: virt\n"
                    "  variables:\n"
                    "    mac: {}\n"
                    "    speed: {default: '115200', pattern: '[0-9]+', "
                    "set_by: job}\n"
                    "  mandatory:\n"
                    "    - \"-global pl011.speed={{speed}}\"\n"
                    "    - \"-name m={{mac}}\"\n");
    /* No binary: the job layer derives it; board.c puts a placeholder. */
    assert_null(qhil_board_binary(b));
    qhil_error_init(&err);
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_contains(err.message, "needs a value for 'mac' and no site or "
                                 "job sets it");
    qhil_error_release(&err);
    job.template_only = true;
    qhil_error_init(&err);
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), 0);
    for (i = 0; argv[i]; i++) {
        found |= !strcmp(argv[i], "pl011.speed=9600") ? 1 : 0;
        found |= !strcmp(argv[i], "m={{mac}}") ? 2 : 0;
    }
    assert_int_equal(found, 3);
    qhil_argv_free(argv);
    argv = NULL;
    vals[0].value = "9600,chardev=qhil-console";
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), QHIL_EINVAL);
    assert_contains(err.message, "suite.yaml:4: speed: '9600,chardev=qhil-"
                                 "console' does not match the pattern "
                                 "'[0-9]+'");
    qhil_error_release(&err);
    qhil_board_free(b);
}

/* lava.context: the NIC values LAVA's qemu template takes, one plain
 * word each; anything else refused at its line. */
static void test_lava_context(void **state)
{
    qhil_board *b;

    (void)state;
    b = template_ok(GOOD_TOP "lava:\n  context:\n    model: model=lan9118\n"
                             "    netdevice: user\n" GOOD_QEMU);
    assert_string_equal(qhil_board_lava(b, "model"), "model=lan9118");
    assert_string_equal(qhil_board_lava(b, "netdevice"), "user");
    assert_null(qhil_board_lava(b, "mac_addr"));
    assert_null(qhil_board_lava(b, "cpu"));
    qhil_board_free(b);
    b = template_ok(GOOD_TOP GOOD_QEMU);
    assert_null(qhil_board_lava(b, "model"));
    qhil_board_free(b);
    bad_template(GOOD_TOP "lava:\n  context:\n    cpu: host\n" GOOD_QEMU,
                 QHIL_EINVAL, 5,
                 ":5:5: lava.context: unknown key 'cpu' (known: model, "
                 "netdevice, mac_addr)");
    bad_template(GOOD_TOP "lava:\n  contxt: {}\n" GOOD_QEMU, QHIL_EINVAL, 4,
                 "lava: unknown key 'contxt' (known: context)");
    bad_template(GOOD_TOP "lava:\n  context:\n    model: \"a;b\"\n" GOOD_QEMU,
                 QHIL_EINVAL, 5, "lava.context.model: 'a;b': only");
    bad_template(GOOD_TOP "lava:\n  context:\n    model: \"a b\"\n" GOOD_QEMU,
                 QHIL_EINVAL, 5, "lava.context.model: 'a b' contains blank");
    bad_template(GOOD_TOP "lava: [model]\n" GOOD_QEMU, QHIL_EINVAL, 3,
                 "lava: expected a mapping");
}

/* health_check: joined to the template's folder; absolute kept; a list
 * or an empty value refused at its line; every shipped template names a
 * health suite that is there, outside the template search (a subfolder),
 * so it cannot be mistaken for a template. */
static void test_health_check(void **state)
{
    static const char *const shipped[] = {
        "mps2-an385", "riscv-virt", "qhil-mps2-an385", "qhil-riscv-virt",
        "arm64-virt", "arm-virt", "riscv-virt-opensbi",
    };
    qhil_board *b;
    char *want = NULL;
    const char *path;
    const char *slash;
    size_t i;

    (void)state;
    b = template_ok(GOOD_TOP "health_check: health/x.yaml\n" GOOD_QEMU);
    path = qhil_board_path(b);
    slash = strrchr(path, '/');
    assert_non_null(slash);
    assert_true(asprintf(&want, "%.*s/health/x.yaml", (int)(slash - path),
                         path) > 0);
    assert_string_equal(qhil_board_health_check(b), want);
    free(want);
    qhil_board_free(b);
    b = template_ok(GOOD_TOP "health_check: /srv/h.yaml\n" GOOD_QEMU);
    assert_string_equal(qhil_board_health_check(b), "/srv/h.yaml");
    qhil_board_free(b);
    b = template_ok(GOOD_TOP GOOD_QEMU);
    assert_null(qhil_board_health_check(b));
    qhil_board_free(b);
    bad_template(GOOD_TOP "health_check: [a.yaml]\n" GOOD_QEMU, QHIL_EINVAL,
                 3, ":3:15: health_check: expected a suite file");
    bad_template(GOOD_TOP "health_check:\n" GOOD_QEMU, QHIL_EINVAL, 3,
                 "health_check: expected a suite file");
    bad_template(GOOD_TOP "health_check: {a: 1}\n" GOOD_QEMU, QHIL_EINVAL,
                 3, "health_check: expected a suite file");
    for (i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
        struct stat st;

        assert_true(asprintf(&want, BOARDS "/%s.yaml", shipped[i]) > 0);
        b = load_ok(want);
        free(want);
        assert_true(asprintf(&want, BOARDS "/health/%s.yaml",
                             shipped[i]) > 0);
        assert_non_null(qhil_board_health_check(b));
        assert_string_equal(qhil_board_health_check(b), want);
        assert_int_equal(stat(want, &st), 0);
        free(want);
        qhil_board_free(b);
    }
}

/* The kernel of a job on b is path (origin s.yaml:4): refused with code
 * and "s.yaml:4: images.kernel: image file PATH REASON"; or accepted when
 * reason is NULL. */
static void kernel_is(const qhil_board *b, const char *path, int code,
                      const char *reason)
{
    qhil_board_value img = {"kernel", path, "s.yaml:4"};
    qhil_board_job job = {0};
    char **argv = (char **)1;
    char *want = NULL;
    qhil_error err;

    qhil_error_init(&err);
    job.images = &img;
    job.n_images = 1;
    if (!reason) {
        if (qhil_board_argv(b, &job, &argv, &err) != 0) {
            fail_msg("%s: %s", path, err.message);
        }
        qhil_argv_free(argv);
        qhil_error_release(&err);
        return;
    }
    assert_int_equal(qhil_board_argv(b, &job, &argv, &err), code);
    assert_null(argv);
    assert_true(asprintf(&want, "s.yaml:4: images.kernel: image file %s %s",
                         path, reason) > 0);
    assert_contains(err.message, want);
    free(want);
    qhil_error_release(&err);
}

/* Each bad image kind for the bare-metal boards, refused when the command
 * line is built, with the reason; none may block. */
static void test_image_kinds(void **state)
{
    images *im = *state;
    qhil_board *arm = load_ok(BOARDS "/mps2-an385.yaml");
    qhil_board *rv = load_ok(BOARDS "/riscv-virt.yaml");
    qhil_board *any = load_ok(DATA "/boards/test-board.yaml");
    char *text = write_file(im, "text.elf", "Hello, QEMU!\n", 13);
    char *empty = write_file(im, "empty.elf", "", 0);
    char *rel = write_elf(im, "rel.o", 32, 0, 1, EM_ARM_, 64);
    char *core = write_elf(im, "core", 64, 0, 4, EM_RISCV_, 64);
    char *cut = write_elf(im, "cut.elf", 32, 0, 2, EM_ARM_, 30);
    char *rv32 = write_elf(im, "rv32.elf", 32, 0, 2, EM_RISCV_, 64);
    char *rvbe = write_elf(im, "rvbe.elf", 64, 1, 2, EM_RISCV_, 64);
    char *arm_elf = in_dir(im, "arm.elf");
    char *rv_elf = in_dir(im, "riscv.elf");
    char *fifo = in_dir(im, "fifo");
    char *missing = in_dir(im, "missing.elf");
    double start;

    assert_int_equal(mkfifo(fifo, 0600), 0);

    kernel_is(arm, arm_elf, 0, NULL);
    kernel_is(rv, rv_elf, 0, NULL);
    kernel_is(arm, text, QHIL_EINVAL,
              "is not an ELF file: it starts with 48 65 6c 6c (\"Hell\") "
              "(board mps2-an385, slot kernel: -kernel {{KERNEL}})");
    kernel_is(arm, rv_elf, QHIL_EINVAL,
              "is an ELF for RISC-V (64-bit), but the board's arch 'arm' "
              "runs Arm (32-bit) code");
    kernel_is(rv, arm_elf, QHIL_EINVAL,
              "is an ELF for Arm (32-bit), but the board's arch 'riscv64' "
              "runs RISC-V (64-bit) code");
    kernel_is(rv, rv32, QHIL_EINVAL, "is an ELF for RISC-V (32-bit)");
    /* Big-endian headers are read as such. */
    kernel_is(arm, rvbe, QHIL_EINVAL, "is an ELF for RISC-V (64-bit)");
    kernel_is(arm, rel, QHIL_EINVAL,
              "is an ELF relocatable object (a .o file), not an executable");
    kernel_is(rv, core, QHIL_EINVAL, "is an ELF core dump");
    kernel_is(arm, cut, QHIL_EINVAL,
              "is a truncated ELF file: 30 bytes, where the header alone "
              "takes 52");
    kernel_is(arm, empty, QHIL_EINVAL, "is empty (0 bytes)");
    kernel_is(arm, im->dir, QHIL_EINVAL, "is a directory, not a regular "
                                         "file");
    kernel_is(arm, "/dev/zero", QHIL_EINVAL, "is a character device");
    kernel_is(arm, missing, QHIL_ENOENT, "not found");
    start = qhil_now_for_test();
    kernel_is(arm, fifo, QHIL_EINVAL, "is a FIFO (named pipe)");
    assert_true(qhil_now_for_test() - start < 0.5);

    /* A slot that names no kind takes any regular file, but only that. */
    kernel_is(any, text, 0, NULL);
    kernel_is(any, fifo, QHIL_EINVAL, "is a FIFO (named pipe)");
    kernel_is(any, empty, QHIL_EINVAL, "is empty");

    unlink(fifo);
    unlink(text);
    unlink(empty);
    unlink(rel);
    unlink(core);
    unlink(cut);
    unlink(rv32);
    unlink(rvbe);
    free(text);
    free(empty);
    free(rel);
    free(core);
    free(cut);
    free(rv32);
    free(rvbe);
    free(arm_elf);
    free(rv_elf);
    free(fifo);
    free(missing);
    qhil_board_free(arm);
    qhil_board_free(rv);
    qhil_board_free(any);
}

/* Kinds are data in the template: other kinds, lists, one name, and
 * arches qhil does not know take any ELF. */
static void test_slot_kinds(void **state)
{
    images *im = *state;
    static const unsigned char dtb_bytes[40] = {0xd0, 0x0d, 0xfe, 0xed};
    static const unsigned char uimage_bytes[64] = {0x27, 0x05, 0x19, 0x56};
    char *dtb = write_file(im, "board.dtb", dtb_bytes, sizeof(dtb_bytes));
    char *uimage = write_file(im, "u.img", uimage_bytes, 20);
    char *text = write_file(im, "Image", "raw kernel", 10);
    char *rv_elf = in_dir(im, "riscv.elf");
    qhil_board *b;

    b = template_ok(GOOD_TOP GOOD_QEMU
                    "  images:\n"
                    "    kernel:\n"
                    "      option: [-kernel, \"{{KERNEL}}\"]\n"
                    "      accept: [uimage, dtb]\n");
    kernel_is(b, dtb, 0, NULL);
    kernel_is(b, rv_elf, QHIL_EINVAL,
              "is not a U-Boot image or a device tree blob: it starts with "
              "7f 45 4c 46");
    kernel_is(b, uimage, QHIL_EINVAL,
              "is a truncated U-Boot image: 20 bytes, where the header "
              "alone takes 64");
    qhil_board_free(b);

    b = template_ok(GOOD_TOP GOOD_QEMU
                    "  images:\n"
                    "    kernel: {option: \"-kernel {{KERNEL}}\", "
                    "accept: raw}\n");
    kernel_is(b, text, 0, NULL);
    kernel_is(b, dtb, 0, NULL);
    qhil_board_free(b);

    b = template_ok("device_type: x\narch: m68k\n" GOOD_QEMU
                    "  images:\n"
                    "    kernel: {option: \"-kernel {{KERNEL}}\", "
                    "accept: elf}\n");
    kernel_is(b, rv_elf, 0, NULL);
    kernel_is(b, text, QHIL_EINVAL, "is not an ELF file");
    qhil_board_free(b);

    unlink(dtb);
    unlink(uimage);
    unlink(text);
    free(dtb);
    free(uimage);
    free(text);
    free(rv_elf);
}

static void test_bad_slot_kinds(void **state)
{
    (void)state;
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel:\n"
                                    "      option: -kernel {{KERNEL}}\n"
                                    "      accept: [elf, zimage]\n",
                 QHIL_EINVAL, 9,
                 "qemu.images.kernel.accept: 'zimage' is not an image kind "
                 "(known: elf, uimage, dtb, raw)");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel:\n"
                                    "      option: -kernel {{KERNEL}}\n"
                                    "      accept: []\n",
                 QHIL_EINVAL, 9,
                 "qemu.images.kernel.accept: expected at least one image "
                 "kind");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel:\n"
                                    "      option: -kernel {{KERNEL}}\n"
                                    "      accept: [[elf]]\n",
                 QHIL_EINVAL, 9, "'a list' is not an image kind");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel:\n"
                                    "      accept: [elf]\n",
                 QHIL_EINVAL, 8, "qemu.images.kernel: missing 'option'");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel:\n"
                                    "      option: -kernel {{KERNEL}}\n"
                                    "      kinds: [elf]\n",
                 QHIL_EINVAL, 9,
                 "qemu.images.kernel: unknown key 'kinds' (known: option, "
                 "accept)");
    bad_template(GOOD_TOP GOOD_QEMU "  images:\n    kernel:\n"
                                    "      option: -kernel {{KERNL}}\n",
                 QHIL_EINVAL, 8,
                 "qemu.images.kernel.option: slot '{{KERNL}}' does not "
                 "match");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mps2_argv),
        cmocka_unit_test(test_riscv_argv),
        cmocka_unit_test(test_firmware_boards_argv),
        cmocka_unit_test(test_slots_in_lists),
        cmocka_unit_test(test_forbidden_extra_options),
        cmocka_unit_test(test_extra_cpu_and_mandatory),
        cmocka_unit_test(test_job_values_refused),
        cmocka_unit_test(test_bad_templates),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_load_missing),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_health_check),
        cmocka_unit_test(test_lava_context),
        cmocka_unit_test(test_image_kinds),
        cmocka_unit_test(test_slot_kinds),
        cmocka_unit_test(test_bad_slot_kinds),
    };

    return cmocka_run_group_tests(tests, make_images, remove_images);
}
