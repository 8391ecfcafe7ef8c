/*
 * test_disk.c - test disks: size parsing (LAVA's MiB, K/M/G, the 64G cap,
 * everything else refused), the -drive value (commas doubled, a relative
 * name that looks like a protocol, interface and id allowlisted), and
 * qemu-img driven through fakes (its message on failure, a hang killed,
 * the reserved file removed again).
 *
 * Run with the argument "qemu-img" (meson test disk-qemu-img), it uses the
 * real qemu-img instead: a disk made in a temp folder is a qcow2 of the
 * asked virtual size by "qemu-img info --output=json", and a file or a
 * symlink already at the path is refused and left untouched.  Exit code
 * 77 (skipped) when there is no qemu-img.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk.h"
#include "internal.h"
#include "proc.h"
#include "testutil.h"

static char tmpdir[256];
static char *qemu_img; /* the real one, for the "qemu-img" group */

static const char *at(const char *rel)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];

    snprintf(p, 512, "%s/%s", tmpdir, rel);
    return p;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/qhil-disk-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    (void)state;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            unlink(at(e->d_name));
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static char *read_file(const char *path)
{
    char *s = calloc(1, 4096);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_non_null(s);
    assert_true(fd >= 0);
    n = read(fd, s, 4095);
    assert_true(n >= 0);
    close(fd);
    return s;
}

static void test_parse_size(void **state)
{
    static const struct {
        const char *text;
        unsigned long long bytes;
    } good[] = {
        {"512", 512ULL << 20},    {"1", 1ULL << 20},
        {"512M", 512ULL << 20},   {"512m", 512ULL << 20},
        {"4096K", 4096ULL << 10}, {"1k", 1024},
        {"2G", 2ULL << 30},       {"64G", 64ULL << 30},
        {"65536", 64ULL << 30},   {"67108864K", 64ULL << 30},
        {"0010", 10ULL << 20},
    };
    static const char *const bad[] = {
        "",
        "0",
        "0M",
        "0G",
        "-1",
        "+5",
        " 5",
        "5 ",
        "5X",
        "5MB",
        "5MiB",
        "1.5G",
        "0x10",
        "65G",
        "65537",
        "67108865K",
        "M",
        "18446744073709551616",
        "99999999999999999999999G",
        "5\n",
        "5,G",
    };
    unsigned long long bytes;
    qhil_error err;
    size_t i;

    (void)state;
    qhil_error_init(&err);
    for (i = 0; i < QHIL_ARRAY_SIZE(good); i++) {
        assert_int_equal(qhil_disk_parse_size(good[i].text, &bytes, &err),
                         QHIL_EOK);
        assert_true(bytes == good[i].bytes);
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(bad); i++) {
        bytes = 1;
        if (qhil_disk_parse_size(bad[i], &bytes, &err) != QHIL_EINVAL) {
            fail_msg("disk size '%s' accepted", bad[i]);
        }
        assert_true(bytes == 0);
        assert_contains(err.message, "disk size");
    }
    assert_int_equal(qhil_disk_parse_size(NULL, &bytes, &err), QHIL_EINVAL);
    qhil_disk_parse_size("65G", &bytes, &err);
    assert_string_equal(err.message,
                        "disk size '65G' is over the limit of 64G");
    qhil_disk_parse_size("5MB", &bytes, &err);
    assert_contains(err.message, "unexpected 'B' after the number");
    qhil_error_release(&err);
}

/* "want" for path on every interface. */
static void drive_is(const char *path, const char *iface, const char *id,
                     const char *want)
{
    char *out = NULL;

    assert_int_equal(qhil_disk_drive_arg(path, iface, id, &out, NULL),
                     QHIL_EOK);
    assert_string_equal(out, want);
    free(out);
}

static void test_drive_arg(void **state)
{
    static const char *const bad_ifaces[] = {
        "",   "floppy",    "virtio,file=/etc/passwd", "IDE", "virtio ",
        "sd", "none,id=x",
    };
    static const char *const bad_ids[] = {
        "",
        "1abc",
        "a,b",
        "lava test",
        "x,if=none",
        "a=b",
        "a/b",
        "a\nb",
        "a12345678901234567890123456789012345678901234567890123456789012345",
    };
    qhil_error err;
    char *out = NULL;
    size_t i;

    (void)state;
    drive_is("/run/t/disk.qcow2", "virtio", NULL,
             "format=qcow2,file=/run/t/disk.qcow2,media=disk,if=virtio,"
             "id=lavatest");
    drive_is("/run/t/disk.qcow2", "ide", "hd0",
             "format=qcow2,file=/run/t/disk.qcow2,media=disk,if=ide,id=hd0");
    drive_is("/run/t/disk.qcow2", "scsi", "a-b.c_d",
             "format=qcow2,file=/run/t/disk.qcow2,media=disk,if=scsi,"
             "id=a-b.c_d");
    drive_is("/run/t/disk.qcow2", "none", NULL,
             "format=qcow2,file=/run/t/disk.qcow2,media=disk,if=none,"
             "id=lavatest");
    /* A comma in the name cannot start a new option. */
    drive_is("/run/t/x,file=/etc/passwd", "ide", NULL,
             "format=qcow2,file=/run/t/x,,file=/etc/passwd,media=disk,"
             "if=ide,id=lavatest");
    drive_is("/a,,b,", "ide", NULL,
             "format=qcow2,file=/a,,,,b,,,media=disk,if=ide,id=lavatest");
    /* A relative name that reads as a protocol is a file. */
    drive_is("nbd:evil.example:10809", "virtio", NULL,
             "format=qcow2,file=./nbd:evil.example:10809,media=disk,"
             "if=virtio,id=lavatest");
    drive_is("disk.qcow2", "virtio", NULL,
             "format=qcow2,file=./disk.qcow2,media=disk,if=virtio,"
             "id=lavatest");
    qhil_error_init(&err);
    for (i = 0; i < QHIL_ARRAY_SIZE(bad_ifaces); i++) {
        assert_int_equal(
            qhil_disk_drive_arg("/d", bad_ifaces[i], NULL, &out, &err),
            QHIL_EINVAL);
        assert_null(out);
        assert_contains(err.message, "is not one of ide, scsi, virtio, none");
    }
    assert_int_equal(qhil_disk_drive_arg("/d", NULL, NULL, &out, &err),
                     QHIL_EINVAL);
    for (i = 0; i < QHIL_ARRAY_SIZE(bad_ids); i++) {
        if (qhil_disk_drive_arg("/d", "ide", bad_ids[i], &out, &err) !=
            QHIL_EINVAL) {
            fail_msg("drive id '%s' accepted", bad_ids[i]);
        }
        assert_null(out);
        assert_contains(err.message, "is not a QEMU id");
    }
    assert_int_equal(qhil_disk_drive_arg("", "ide", NULL, &out, &err),
                     QHIL_EINVAL);
    qhil_error_release(&err);
}

static void test_find_img(void **state)
{
    const char *const dirs[] = {"/nonexistent/qhil", tmpdir, NULL};
    char *out = NULL;

    (void)state;
    write_file(at("qemu-img"), "#!/bin/sh\nexit 0\n", 0755);
    assert_int_equal(qhil_disk_find_img(dirs, &out), QHIL_EOK);
    assert_string_equal(out, at("qemu-img"));
    free(out);
    unlink(at("qemu-img"));
    /* Not in the folders: PATH's, or none. */
    if (qhil_proc_find("qemu-img", &out) == QHIL_EOK) {
        char *found = NULL;

        assert_int_equal(qhil_disk_find_img(dirs, &found), QHIL_EOK);
        assert_string_equal(found, out);
        free(found);
        free(out);
    } else {
        assert_int_equal(qhil_disk_find_img(dirs, &out), QHIL_ENOENT);
        assert_null(out);
    }
}

/* A fake qemu-img that fails: its message, and no file left behind. */
static void test_create_fails(void **state)
{
    qhil_error err;
    struct stat st;

    (void)state;
    write_file(at("fake-img"),
               "#!/bin/sh\necho \"qemu-img: $5: Could not create: boom\" "
               ">&2\nexit 1\n",
               0755);
    qhil_error_init(&err);
    assert_int_equal(qhil_disk_create(at("fake-img"), at("d.qcow2"), 1 << 20,
                                      qhil_deadline_in(5 * QHIL_SEC), &err),
                     QHIL_EIO);
    assert_contains(err.message, "exited with status 1): qemu-img: ");
    assert_contains(err.message, "Could not create: boom");
    assert_true(lstat(at("d.qcow2"), &st) < 0 && errno == ENOENT);
    qhil_error_release(&err);
}

/* The argv qemu-img gets, its environment, and "./" for a relative name
 * that looks like a protocol. */
static void test_create_argv(void **state)
{
    char body[1024];
    char *cwd = get_current_dir_name();
    char *seen;

    (void)state;
    snprintf(body, sizeof(body),
             "#!/bin/sh\n"
             "printf '%%s|' \"$@\" > %s\n"
             "[ -z \"${HOME+set}\" ] && [ -z \"${QHIL_LEAK+set}\" ] && "
             "[ \"$LC_ALL\" = C ] && [ -f \"$5\" ]\n",
             at("argv.txt"));
    write_file(at("fake-img"), body, 0755);
    assert_int_equal(setenv("QHIL_LEAK", "1", 1), 0);
    assert_int_equal(chdir(tmpdir), 0);
    assert_int_equal(qhil_disk_create(at("fake-img"), "nbd:evil:10809",
                                      3ULL << 30,
                                      qhil_deadline_in(5 * QHIL_SEC), NULL),
                     QHIL_EOK);
    assert_int_equal(chdir(cwd), 0);
    unsetenv("QHIL_LEAK");
    seen = read_file(at("argv.txt"));
    assert_string_equal(seen, "create|-q|-f|qcow2|./nbd:evil:10809|"
                              "3221225472|");
    free(seen);
    unlink(at("nbd:evil:10809"));
    free(cwd);
}

/* A qemu-img that hangs is killed at the deadline; the file goes. */
static void test_create_hangs(void **state)
{
    qhil_error err;
    struct stat st;
    int64_t t0 = qhil_now();

    (void)state;
    write_file(at("fake-img"), "#!/bin/sh\nsleep 30\n", 0755);
    qhil_error_init(&err);
    assert_int_equal(qhil_disk_create(at("fake-img"), at("h.qcow2"), 1 << 20,
                                      qhil_deadline_in(300 * QHIL_MSEC), &err),
                     QHIL_ETIMEDOUT);
    assert_true(qhil_now() - t0 < 3 * QHIL_SEC);
    assert_contains(err.message, "did not finish before its deadline");
    assert_true(lstat(at("h.qcow2"), &st) < 0 && errno == ENOENT);
    qhil_error_release(&err);
}

/* A fake that replaces the file with its own: not ours, not removed. */
static void test_create_fails_foreign_file(void **state)
{
    struct stat st;

    (void)state;
    write_file(at("fake-img"),
               "#!/bin/sh\nrm -f \"$5\"; echo theirs > \"$5\"; exit 1\n", 0755);
    assert_int_equal(qhil_disk_create(at("fake-img"), at("f.qcow2"), 1 << 20,
                                      qhil_deadline_in(5 * QHIL_SEC), NULL),
                     QHIL_EIO);
    assert_int_equal(lstat(at("f.qcow2"), &st), 0);
    unlink(at("f.qcow2"));
}

/* ---- with the real qemu-img ------------------------------------------ */

/* "qemu-img info --output=json" of path, parsed. */
static json_t *img_info(const char *path)
{
    char *argv[] = {qemu_img, "info", "--output=json", (char *)path, NULL};
    char *envp[] = {"LC_ALL=C", NULL};
    qhil_spawn sp = {.argv = argv, .envp = envp, .stdin_fd = -1};
    char *out = NULL;
    json_t *info;
    int status;

    assert_int_equal(qhil_proc_run(&sp, qhil_deadline_in(10 * QHIL_SEC),
                                   1 << 16, &status, &out, NULL, NULL),
                     QHIL_EOK);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    info = json_loads(out, 0, NULL);
    assert_non_null(info);
    free(out);
    return info;
}

static void test_real_create(void **state)
{
    static const char *const sizes[] = {"1", "512M", "4096K", "64G"};
    char name[64];
    int64_t t0;

    (void)state;
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(sizes); i++) {
        unsigned long long bytes;
        json_t *info;

        snprintf(name, sizeof(name), "disk%zu,with comma.qcow2", i);
        assert_int_equal(qhil_disk_parse_size(sizes[i], &bytes, NULL),
                         QHIL_EOK);
        t0 = qhil_now();
        assert_int_equal(qhil_disk_create(qemu_img, at(name), bytes,
                                          qhil_deadline_in(10 * QHIL_SEC),
                                          NULL),
                         QHIL_EOK);
        printf("disk: %s qcow2 made in %.1f ms\n", sizes[i],
               (double)(qhil_now() - t0) / QHIL_MSEC);
        info = img_info(at(name));
        assert_string_equal(json_string_value(json_object_get(info, "format")),
                            "qcow2");
        assert_true((unsigned long long)json_integer_value(
                        json_object_get(info, "virtual-size")) == bytes);
        json_decref(info);
        unlink(at(name));
    }
}

/* A file or a symlink already there: refused, left exactly as it was. */
static void test_real_no_overwrite(void **state)
{
    qhil_error err;
    char *s;

    (void)state;
    qhil_error_init(&err);
    write_file(at("precious"), "precious\n", 0644);
    assert_int_equal(qhil_disk_create(qemu_img, at("precious"), 1 << 20,
                                      qhil_deadline_in(10 * QHIL_SEC), &err),
                     -EEXIST);
    assert_contains(err.message, at("precious"));
    assert_contains(err.message, "never writes into a file");
    s = read_file(at("precious"));
    assert_string_equal(s, "precious\n");
    free(s);
    assert_int_equal(symlink(at("precious"), at("planted.qcow2")), 0);
    assert_true(qhil_disk_create(qemu_img, at("planted.qcow2"), 1 << 20,
                                 qhil_deadline_in(10 * QHIL_SEC), &err) < 0);
    s = read_file(at("precious"));
    assert_string_equal(s, "precious\n");
    free(s);
    qhil_error_release(&err);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_drive_arg),
        cmocka_unit_test(test_find_img),
        cmocka_unit_test(test_create_fails),
        cmocka_unit_test(test_create_argv),
        cmocka_unit_test(test_create_hangs),
        cmocka_unit_test(test_create_fails_foreign_file),
    };
    const struct CMUnitTest real[] = {
        cmocka_unit_test(test_real_create),
        cmocka_unit_test(test_real_no_overwrite),
    };
    int rc;

    if (argc > 1 && !strcmp(argv[1], "qemu-img")) {
        if (qhil_disk_find_img(NULL, &qemu_img) != QHIL_EOK) {
            printf("disk: no qemu-img (Debian: qemu-utils), skipped\n");
            return 77;
        }
        rc = cmocka_run_group_tests(real, setup, teardown);
        free(qemu_img);
        return rc;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
