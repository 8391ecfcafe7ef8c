/*
 * test_site.c - the site config: every key of a site file read back
 * exactly, the built-in site's strict defaults, folders made absolute
 * against the site file's own folder (not the working folder), QEMU's
 * environment kept byte for byte, the device dictionary with the
 * file:line of each value, and FILE:LINE:COLUMN errors for everything a
 * site file can get wrong, including a site that tries to pass for
 * something it is not (a bad name smuggled in as a key, a trusted flag
 * that is not a boolean).
 */
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

#include "testutil.h"

#include <qhil/site.h>

#include "internal.h"
#include "policy.h"

#define SITES QHIL_TEST_SRCDIR "/data/sites"
#define FULL SITES "/full.yaml"

/* A temporary folder the site files of a test are written to. */
typedef struct fixture {
    char *dir; /* realpath'ed */
    char *old_cwd;
} fixture;

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

static int setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    fixture *f = calloc(1, sizeof(*f));
    char *dir = NULL;

    assert_non_null(f);
    assert_true(asprintf(&dir, "%s/qhil-test-site.XXXXXX",
                         tmp && *tmp ? tmp : "/tmp") > 0);
    assert_non_null(mkdtemp(dir));
    f->dir = realpath(dir, NULL);
    assert_non_null(f->dir);
    free(dir);
    f->old_cwd = get_current_dir_name();
    assert_non_null(f->old_cwd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    const char *names[] = {"site.yaml", "sub/site.yaml", NULL};
    size_t i;

    assert_int_equal(chdir(f->old_cwd), 0);
    for (i = 0; names[i]; i++) {
        char *p = join(f->dir, names[i]);

        (void)unlink(p);
        free(p);
    }
    {
        char *p = join(f->dir, "sub");

        (void)rmdir(p);
        free(p);
    }
    (void)rmdir(f->dir);
    free(f->old_cwd);
    free(f->dir);
    free(f);
    return 0;
}

static size_t count(const char *const *v)
{
    size_t n = 0;

    while (v && v[n]) {
        n++;
    }
    return n;
}

/* The built-in site is the strict one, field by field. */
static void test_builtin_defaults(void **state)
{
    fixture *f = *state;
    qhil_site *s = NULL;
    const char *const *dirs;
    qhil_error err;

    assert_int_equal(chdir(f->dir), 0);
    qhil_error_init(&err);
    assert_int_equal(qhil_site_builtin(&s, &err), 0);
    assert_non_null(s);
    assert_string_equal(qhil_site_name(s), "the built-in site");
    assert_null(qhil_site_trusted(s));
    assert_true(qhil_site_sandbox(s));
    assert_false(qhil_site_kvm(s));
    assert_null(qhil_site_device_type_dirs(s));
    dirs = qhil_site_image_dirs(s);
    assert_int_equal(count(dirs), 1);
    assert_string_equal(dirs[0], f->dir);
    assert_non_null(qhil_site_environment(s));
    assert_int_equal(count(qhil_site_environment(s)), 0);
    assert_null(qhil_site_device_var(s, "job-board", "memory", NULL));
    assert_string_equal(qhil_policy_name(qhil_site_policy(s)),
                        "the strict policy");
    /* The operator's --trusted: the reason is copied. */
    {
        char why[] = "--trusted";

        assert_int_equal(qhil_site_trust(s, why, &err), 0);
        why[0] = 'X';
        assert_string_equal(qhil_site_trusted(s), "--trusted");
        assert_int_equal(qhil_site_trust(s, NULL, &err), 0);
        assert_non_null(qhil_site_trusted(s));
    }
    qhil_site_free(s);
    qhil_site_free(NULL);
    qhil_error_release(&err);
}

/* Every key of a site file, read back as written. */
static void test_every_key(void **state)
{
    fixture *f = *state;
    qhil_site *s = NULL;
    const char *const *v;
    const char *origin = NULL;
    qhil_error err;

    /* From elsewhere: the folders are the site file's, not the cwd's. */
    assert_int_equal(chdir(f->dir), 0);
    qhil_error_init(&err);
    if (qhil_site_load(FULL, &s, &err) != 0) {
        fail_msg("%s", err.message);
    }
    assert_string_equal(qhil_site_name(s), FULL);
    assert_string_equal(qhil_site_trusted(s), FULL ":3");
    assert_false(qhil_site_sandbox(s));
    assert_true(qhil_site_kvm(s));

    v = qhil_site_device_type_dirs(s);
    assert_int_equal(count(v), 2);
    assert_string_equal(v[0], SITES "/boards");
    assert_string_equal(v[1], "/opt/qhil/boards");
    v = qhil_site_image_dirs(s);
    assert_int_equal(count(v), 2);
    assert_string_equal(v[0], SITES "/images");
    assert_string_equal(v[1], SITES "/../shared");

    v = qhil_site_environment(s);
    assert_int_equal(count(v), 4);
    assert_string_equal(v[0], "QEMU_AUDIO_DRV=none");
    assert_string_equal(v[1], "A=b=c");
    assert_string_equal(v[2], "SPACES= x  y ");
    assert_string_equal(v[3], "NULLED=");

    assert_string_equal(qhil_site_device_var(s, "job-board", "memory",
                                             &origin),
                        "32M");
    assert_string_equal(origin, FULL ":20");
    assert_string_equal(qhil_site_device_var(s, "job-board", "mac_addr",
                                             &origin),
                        "52:54:00:12:34:56");
    assert_string_equal(origin, FULL ":21");
    assert_string_equal(qhil_site_device_var(s, "Other-Type_1.x", "machine",
                                             NULL),
                        "virt");
    /* A value belongs to its own device type only, names are exact. */
    assert_null(qhil_site_device_var(s, "Other-Type_1.x", "memory", NULL));
    assert_null(qhil_site_device_var(s, "job-board", "machine", NULL));
    assert_null(qhil_site_device_var(s, "job-boar", "memory", NULL));
    assert_null(qhil_site_device_var(s, "job-board", "Memory", NULL));
    assert_contains(qhil_policy_name(qhil_site_policy(s)), "full.yaml");
    qhil_site_free(s);
    qhil_error_release(&err);
}

/* A site that sets nothing keeps the strict defaults, except that its
 * images come from the job's folder only (no working folder). */
static void test_minimal_site(void **state)
{
    qhil_site *s = NULL;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_site_load(SITES "/minimal.yaml", &s, &err), 0);
    assert_null(qhil_site_trusted(s));
    assert_true(qhil_site_sandbox(s));
    assert_false(qhil_site_kvm(s));
    assert_null(qhil_site_device_type_dirs(s));
    assert_int_equal(count(qhil_site_image_dirs(s)), 0);
    assert_int_equal(count(qhil_site_environment(s)), 0);
    assert_string_equal(qhil_policy_name(qhil_site_policy(s)),
                        "the strict policy");
    qhil_site_free(s);

    /* trusted: false is not trusted. */
    qhil_error_init(&err);
    {
        fixture *f = *state;
        char *path = join(f->dir, "site.yaml");

        write_file(path, "trusted: false\nsandbox: true\n");
        assert_int_equal(qhil_site_load(path, &s, &err), 0);
        assert_null(qhil_site_trusted(s));
        assert_true(qhil_site_sandbox(s));
        qhil_site_free(s);
        free(path);
    }
    qhil_error_release(&err);
}

/* A relative site path: folders against its folder, made absolute with
 * the working folder, never left relative. */
static void test_relative_site_path(void **state)
{
    fixture *f = *state;
    char *sub = join(f->dir, "sub");
    char *path = join(sub, "site.yaml");
    char *want = NULL;
    qhil_site *s = NULL;
    qhil_error err;

    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(path, "device_types: [dt]\nimage_dirs: [img, /abs]\n");
    assert_int_equal(chdir(f->dir), 0);
    qhil_error_init(&err);
    assert_int_equal(qhil_site_load("sub/site.yaml", &s, &err), 0);
    want = join(sub, "dt");
    assert_string_equal(qhil_site_device_type_dirs(s)[0], want);
    free(want);
    want = join(sub, "img");
    assert_string_equal(qhil_site_image_dirs(s)[0], want);
    free(want);
    assert_string_equal(qhil_site_image_dirs(s)[1], "/abs");
    qhil_site_free(s);

    /* No slash at all: the working folder is the site's folder. */
    assert_int_equal(chdir(sub), 0);
    assert_int_equal(qhil_site_load("site.yaml", &s, &err), 0);
    want = join(sub, "dt");
    assert_string_equal(qhil_site_device_type_dirs(s)[0], want);
    free(want);
    qhil_site_free(s);
    /* An empty list names no folder, and still replaces the defaults. */
    write_file(path, "device_types: []\n");
    assert_int_equal(qhil_site_load("site.yaml", &s, &err), 0);
    assert_non_null(qhil_site_device_type_dirs(s));
    assert_int_equal(count(qhil_site_device_type_dirs(s)), 0);
    qhil_site_free(s);
    qhil_error_release(&err);
    free(path);
    free(sub);
}

/* One bad site file and the exact start of its error. */
typedef struct bad_case {
    const char *text;
    const char *want; /* after "DIR/site.yaml:" */
    const char *also; /* another part of the message, or NULL */
} bad_case;

static void test_load_errors(void **state)
{
    static const bad_case cases[] = {
        {"site: a\nsandbx: false\n", "2:1: ", "unknown key 'sandbx'"},
        {"trusted: yes please\n", "1:10: trusted: ",
         "expected true or false, got 'yes please'"},
        {"trusted: \"true\"\n", "1:10: trusted: ", "expected true or false"},
        {"trusted: [true]\n", "1:10: trusted: ", "expected true or false"},
        {"sandbox: 0\n", "1:10: sandbox: ", "expected true or false"},
        {"kvm: on\n", "1:6: kvm: ", "expected true or false"},
        {"site: [a]\n", "1:7: site: ", "expected a name"},
        {"device_types: boards\n", "1:15: device_types: ",
         "a list of folders"},
        {"image_dirs: [ok, [x]]\n", "1:18: image_dirs[1]: ", "a folder"},
        {"image_dirs: [\"\"]\n", "1:14: image_dirs[0]: ", "empty string"},
        {"environment: [A=b]\n", "1:14: environment: ", "mapping"},
        {"environment:\n  A-B: x\n", "2:3: environment.A-B: ",
         "'A-B' is not an environment variable name"},
        {"environment:\n  1A: x\n", "2:3: environment.1A: ",
         "not an environment variable name"},
        {"environment:\n  \"A=B\": x\n", "2:3: environment.A=B: ",
         "not an environment variable name"},
        {"environment:\n  \"\": x\n", "2:3: environment.: ",
         "not an environment variable name"},
        {"environment:\n  A: [x]\n", "2:6: environment.A: ", "a value"},
        {"environment:\n  A: x\n  A: y\n", "3:3: environment: ",
         "duplicate key 'A'"},
        {"devices: [a]\n", "1:10: devices: ", "device types"},
        {"devices:\n  ../boards/x:\n    memory: 1M\n",
         "2:3: devices.../boards/x: ", "is not a device type name"},
        {"devices:\n  -x:\n    memory: 1M\n", "2:3: devices.-x: ",
         "is not a device type name"},
        {"devices:\n  x: 1M\n", "2:6: devices.x: ", "mapping"},
        {"devices:\n  x:\n    Memory: 1M\n", "3:5: devices.x.Memory: ",
         "'Memory' is not a variable name"},
        {"devices:\n  x:\n    \"a b\": 1M\n", "3:5: devices.x.a b: ",
         "not a variable name"},
        {"devices:\n  x:\n    memory: [1M]\n", "3:13: devices.x.memory: ",
         "a value"},
        {"devices:\n  x:\n    memory: 1M\n    memory: 2M\n",
         "4:5: devices.x: ", "duplicate key 'memory'"},
        {"policy:\n  bsae: strict\n", "2:3: policy: ", "unknown key 'bsae'"},
        {"policy: strict\n", "1:9: policy: ", "mapping"},
        {"site: a\n  b: c\n", "", NULL},
    };
    fixture *f = *state;
    char *path = join(f->dir, "site.yaml");
    qhil_site *s = NULL;
    qhil_error err;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *want = NULL;
        int rc;

        write_file(path, cases[i].text);
        qhil_error_init(&err);
        s = (qhil_site *)&err; /* must come back NULL */
        rc = qhil_site_load(path, &s, &err);
        if (rc >= 0) {
            fail_msg("case %zu: '%s' loaded", i, cases[i].text);
        }
        assert_null(s);
        assert_true(asprintf(&want, "%s:%s", path, cases[i].want) > 0);
        if (strncmp(err.message, want, strlen(want)) != 0) {
            fail_msg("case %zu: expected '%s...', got '%s'", i, want,
                     err.message);
        }
        if (cases[i].also) {
            assert_contains(err.message, cases[i].also);
        }
        free(want);
        qhil_error_release(&err);
    }
    free(path);
}

/* An empty value is a value: "X: ''" gives X= as "X:" does, and
 * neither is taken for a missing one. */
static void test_environment_empty_string(void **state)
{
    fixture *f = *state;
    char *path = join(f->dir, "site.yaml");
    qhil_site *s = NULL;
    qhil_error err;

    write_file(path, "environment:\n  EMPTY: \"\"\n  SINGLE: ''\n"
                     "  NULLED:\n");
    qhil_error_init(&err);
    if (qhil_site_load(path, &s, &err) != 0) {
        fail_msg("%s", err.message);
    }
    assert_int_equal(count(qhil_site_environment(s)), 3);
    assert_string_equal(qhil_site_environment(s)[0], "EMPTY=");
    assert_string_equal(qhil_site_environment(s)[1], "SINGLE=");
    assert_string_equal(qhil_site_environment(s)[2], "NULLED=");
    qhil_site_free(s);
    qhil_error_release(&err);
    free(path);
}

/* A missing file and a folder: the path and errno's message. */
static void test_not_a_file(void **state)
{
    fixture *f = *state;
    char *path = join(f->dir, "nope.yaml");
    qhil_site *s = NULL;
    qhil_error err;

    qhil_error_init(&err);
    assert_int_equal(qhil_site_load(path, &s, &err), QHIL_ENOENT);
    assert_null(s);
    assert_contains(err.message, path);
    qhil_error_release(&err);
    qhil_error_init(&err);
    assert_true(qhil_site_load(f->dir, &s, &err) < 0);
    assert_null(s);
    assert_contains(err.message, f->dir);
    qhil_error_release(&err);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_builtin_defaults, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minimal_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_site_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_empty_string, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_a_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
