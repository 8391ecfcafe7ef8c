/*
 * test_image.c - image confinement: a temp tree with a job folder, a site
 * folder reached through a symlink, and every way out an untrusted job
 * could try (a symlink to /etc/passwd, "..", a symlink to a folder
 * outside, a sibling folder sharing the prefix, a loop, a dangling link,
 * an over-long path) and every wrong kind of file inside (FIFO, socket,
 * device node, directory).  None of them may be accepted; a FIFO must not
 * block the check.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <qhil/clock.h>

#include "image.h"
#include "internal.h"
#include "testutil.h"

static char top[256];  /* the temp tree, resolved */
static char job[320];  /* TOP/job */
static char site[320]; /* TOP/site-link, a symlink to TOP/site */

static const char *at(const char *rel)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];

    snprintf(p, 512, "%s/%s", top, rel);
    return p;
}

static void put(const char *rel)
{
    FILE *f = fopen(at(rel), "w");

    assert_non_null(f);
    fputs("image\n", f);
    fclose(f);
}

static void link_to(const char *target, const char *rel)
{
    assert_int_equal(symlink(target, at(rel)), 0);
}

static int setup(void **state)
{
    char tmpl[256];
    char *real;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int s;

    (void)state;
    snprintf(tmpl, sizeof(tmpl), "%s/qhil-image-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpl) || !(real = realpath(tmpl, NULL))) {
        return -1;
    }
    snprintf(top, sizeof(top), "%s", real);
    free(real);
    snprintf(job, sizeof(job), "%s/job", top);
    snprintf(site, sizeof(site), "%s/site-link", top);
    mkdir(at("job"), 0755);
    mkdir(at("job/sub"), 0755);
    mkdir(at("job2"), 0755);
    mkdir(at("site"), 0755);
    mkdir(at("outside"), 0755);
    put("job/good.elf");
    put("job/sub/deep.bin");
    put("job2/evil.elf");
    put("site/fw.bin");
    put("outside/secret");
    link_to("site", "site-link");
    link_to("/etc/passwd", "job/passwd");
    link_to("../outside", "job/outside-dir");
    link_to("loop-b", "job/loop-a");
    link_to("loop-a", "job/loop-b");
    link_to("nowhere", "job/dangling");
    link_to("good.elf", "job/alias.elf");
    link_to("/dev/null", "job/null");
    link_to(at("site/fw.bin"), "job/site-fw");
    mkfifo(at("job/fifo"), 0644);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", at("job/sock"));
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return -1;
    }
    close(s);
    return 0;
}

static void remove_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (d = opendir(path))) {
        while ((e = readdir(d))) {
            char p[1024];

            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
                remove_tree(p);
            }
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(top);
    return 0;
}

/* Confine path to the job folder and the site folder; the code. */
static int confine(const char *path, char **out, qhil_error *err)
{
    const char *const sites[] = {site, NULL};

    return qhil_image_confine(path, job, sites, out, err);
}

/* path is refused with code and a message containing want. */
static void refused(const char *path, int code, const char *want)
{
    qhil_error err;
    char *out = (char *)"unset";

    qhil_error_init(&err);
    assert_int_equal(confine(path, &out, &err), code);
    assert_null(out);
    assert_contains(err.message, want);
    qhil_error_release(&err);
}

static void test_good_files(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(confine(at("job/good.elf"), &out, NULL), QHIL_EOK);
    assert_string_equal(out, at("job/good.elf"));
    free(out);
    assert_int_equal(confine(at("job/sub/deep.bin"), &out, NULL), QHIL_EOK);
    free(out);
    /* A symlink inside, to a file inside: the file at its end. */
    assert_int_equal(confine(at("job/alias.elf"), &out, NULL), QHIL_EOK);
    assert_string_equal(out, at("job/good.elf"));
    free(out);
    /* ".." that stays inside is fine. */
    assert_int_equal(confine(at("job/sub/../good.elf"), &out, NULL), QHIL_EOK);
    assert_string_equal(out, at("job/good.elf"));
    free(out);
    /* From the job's folder to a site folder: allowed. */
    assert_int_equal(confine(at("job/site-fw"), &out, NULL), QHIL_EOK);
    assert_string_equal(out, at("site/fw.bin"));
    free(out);
}

/* The site's folder is a symlink itself: it is resolved too, by either
 * spelling. */
static void test_root_is_symlink(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(confine(at("site/fw.bin"), &out, NULL), QHIL_EOK);
    assert_string_equal(out, at("site/fw.bin"));
    free(out);
    assert_int_equal(confine(at("site-link/fw.bin"), &out, NULL), QHIL_EOK);
    assert_string_equal(out, at("site/fw.bin"));
    free(out);
}

static void test_symlink_to_passwd(void **state)
{
    char want[1024];

    (void)state;
    snprintf(want, sizeof(want),
             "image file %s resolves to /etc/passwd, outside the job's "
             "folder %s and the site's image folders (%s)",
             at("job/passwd"), job, site);
    refused(at("job/passwd"), QHIL_EINVAL, want);
}

static void test_dotdot_escape(void **state)
{
    (void)state;
    refused(at("job/../outside/secret"), QHIL_EINVAL, "outside the job's");
    refused(at("job/sub/../../outside/secret"), QHIL_EINVAL, "resolves to ");
    /* Escape by "..", then back in through a folder of the same name. */
    refused(at("job/../job2/evil.elf"), QHIL_EINVAL, "job2/evil.elf, outside");
}

static void test_symlink_to_folder_outside(void **state)
{
    char want[600];

    (void)state;
    snprintf(want, sizeof(want), "resolves to %s, outside",
             at("outside/secret"));
    refused(at("job/outside-dir/secret"), QHIL_EINVAL, want);
}

/* TOP/job does not contain TOP/job2, nor is TOP/job inside itself. */
static void test_prefix_trick(void **state)
{
    (void)state;
    refused(at("job2/evil.elf"), QHIL_EINVAL, "outside the job's folder");
    refused(job, QHIL_EINVAL, "outside the job's folder");
    refused(at("site"), QHIL_EINVAL, "outside");
}

static void test_loop_and_dangling(void **state)
{
    (void)state;
    refused(at("job/loop-a"), QHIL_EINVAL, "is a symlink loop");
    refused(at("job/loop-a/x"), QHIL_EINVAL, "is a symlink loop");
    refused(at("job/dangling"), QHIL_ENOENT,
            "is a dangling symlink (to 'nowhere'");
    refused(at("job/missing.elf"), QHIL_ENOENT, "not found");
    refused(at("job/good.elf/x"), QHIL_ENOENT, "is a file, not a folder");
    refused("", QHIL_EINVAL, "empty");
}

static void test_too_long(void **state)
{
    char *p = malloc(PATH_MAX + 100);
    size_t n;

    (void)state;
    assert_non_null(p);
    n = (size_t)snprintf(p, PATH_MAX + 100, "%s/", job);
    while (n < PATH_MAX + 50) {
        p[n++] = 'a';
    }
    p[n] = '\0';
    refused(p, QHIL_EINVAL, "path too long");
    /* Short enough for the check, one component over NAME_MAX. */
    n = (size_t)snprintf(p, PATH_MAX + 100, "%s/", job);
    while (n < strlen(job) + 300) {
        p[n++] = 'b';
    }
    p[n] = '\0';
    refused(p, QHIL_EINVAL, "path too long");
    free(p);
}

/* Inside, but not a regular file: by type, without opening it. */
static void test_wrong_types(void **state)
{
    const char *const dev[] = {"/dev", NULL};
    qhil_error err;
    char *out = NULL;
    int64_t t0 = qhil_now();

    (void)state;
    refused(at("job/fifo"), QHIL_EINVAL, "is a FIFO (named pipe)");
    assert_true(qhil_now() - t0 < QHIL_SEC); /* did not block */
    refused(at("job/sock"), QHIL_EINVAL, "is a socket, not a regular file");
    refused(at("job/sub"), QHIL_EINVAL, "is a directory, not a regular file");
    /* A device node through a symlink: outside first. */
    refused(at("job/null"), QHIL_EINVAL, "resolves to /dev/null, outside");
    /* Even in an allowed folder, a device node is refused. */
    qhil_error_init(&err);
    assert_int_equal(qhil_image_confine("/dev/null", NULL, dev, &out, &err),
                     QHIL_EINVAL);
    assert_null(out);
    assert_string_equal(err.message, "image file /dev/null is a character "
                                     "device, not a regular file");
    qhil_error_release(&err);
}

/* No folder at all: nothing is allowed; "/" allows everything. */
static void test_no_roots_and_slash(void **state)
{
    const char *const slash[] = {"/", NULL};
    const char *const missing[] = {"/nonexistent/qhil-images", NULL};
    qhil_error err;
    char *out = NULL;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(
        qhil_image_confine(at("job/good.elf"), NULL, NULL, &out, &err),
        QHIL_EINVAL);
    assert_contains(err.message, "outside every allowed folder");
    assert_int_equal(
        qhil_image_confine(at("job/good.elf"), NULL, missing, &out, &err),
        QHIL_EINVAL);
    assert_contains(err.message, "outside the site's image folders "
                                 "(/nonexistent/qhil-images)");
    assert_int_equal(
        qhil_image_confine(at("job/good.elf"), NULL, slash, &out, &err),
        QHIL_EOK);
    free(out);
    assert_int_equal(qhil_image_confine("/", NULL, slash, &out, &err),
                     QHIL_EINVAL);
    assert_null(out);
    qhil_error_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_files),
        cmocka_unit_test(test_root_is_symlink),
        cmocka_unit_test(test_symlink_to_passwd),
        cmocka_unit_test(test_dotdot_escape),
        cmocka_unit_test(test_symlink_to_folder_outside),
        cmocka_unit_test(test_prefix_trick),
        cmocka_unit_test(test_loop_and_dangling),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_no_roots_and_slash),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
