/*
 * test_runpath.c - names made safe as paths, run folders and test folders:
 * a generated set of hostile names (empty, ".", "..", "/", "a/b", "-x",
 * control bytes, UTF-8, 300 bytes, names equal to other names' mapped
 * forms, names differing only in case) each get their own folder directly
 * inside the run folder; two runs in one OUT get two run folders; planted
 * links and folders are not followed or reused; a folder that cannot be
 * made fails alone.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include <qhil/runpath.h>

static char *tmp_dir;

/* rm -r without following links. */
static void remove_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (lstat(path, &st) < 0) {
        return;
    }
    if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            char *sub = NULL;

            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
                continue;
            }
            if (asprintf(&sub, "%s/%s", path, e->d_name) > 0) {
                remove_tree(sub);
                free(sub);
            }
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    if (asprintf(&tmp_dir, "%s/qhil-runpath-XXXXXX", base ? base : "/tmp") <
            0 ||
        !mkdtemp(tmp_dir)) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(tmp_dir);
    free(tmp_dir);
    return 0;
}

static char *sub_path(const char *name)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s", tmp_dir, name) > 0);
    return p;
}

static char *name_of(const char *name)
{
    char *out = NULL;

    assert_int_equal(qhil_runpath_name(name, &out), QHIL_EOK);
    assert_non_null(out);
    return out;
}

/* The rules every component keeps. */
static void check_component(const char *name, const char *comp)
{
    const unsigned char *c;

    if (!*comp || !strcmp(comp, ".") || !strcmp(comp, "..") ||
        comp[0] == '.' || comp[0] == '-' ||
        strlen(comp) > QHIL_RUNPATH_NAME_MAX) {
        fail_msg("name \"%s\" mapped to bad component \"%s\"", name, comp);
    }
    for (c = (const unsigned char *)comp; *c; c++) {
        if (*c <= 0x20 || *c >= 0x7f || *c == '/' || *c == '\\') {
            fail_msg("name \"%s\": component \"%s\" has byte 0x%02x", name,
                     comp, *c);
        }
    }
}

static void test_name_examples(void **state)
{
    static const struct {
        const char *name;
        const char *want;
    } cases[] = {
        {"boots", "boots"},
        {"reset_restarts-2.x", "reset_restarts-2.x"},
        {"a b", "a%20b"},
        {"a%20b", "a%2520b"},
        {"", "%empty"},
        {".", "%2e"},
        {"..", "%2e."},
        {"../../../x", "%2e.%2f..%2f..%2fx"},
        {"/", "%2f"},
        {"a/b", "a%2fb"},
        {"-x", "%2dx"},
        {"x-", "x-"},
        {"~", "%7e"},
        {"\xc3\xa9t\xc3\xa9", "%c3%a9t%c3%a9"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = name_of(cases[i].name);

        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

static void test_name_long(void **state)
{
    char a[301];
    char b[301];
    char *ca;
    char *cb;
    char *again;
    size_t at;

    (void)state;
    memset(a, 'x', 300);
    a[300] = '\0';
    memcpy(b, a, sizeof(b));
    b[299] = 'y';
    ca = name_of(a);
    cb = name_of(b);
    again = name_of(a);
    check_component(a, ca);
    check_component(b, cb);
    assert_int_equal(strlen(ca), QHIL_RUNPATH_NAME_MAX);
    assert_non_null(strchr(ca, '~'));
    assert_string_not_equal(ca, cb);
    assert_string_equal(ca, again);
    free(ca);
    free(cb);
    free(again);

    /* An escape is never cut in half. */
    memset(a, ' ', 300);
    ca = name_of(a);
    check_component(a, ca);
    assert_true(strlen(ca) <= QHIL_RUNPATH_NAME_MAX);
    at = strcspn(ca, "~");
    assert_int_equal(ca[at], '~');
    assert_int_equal(strspn(ca, "%20"), at);
    assert_int_equal(at % 3, 0);
    free(ca);
}

/* Undo the escape: "%XX" back to the byte.  Returns NULL for text the
 * mapping never makes. */
static char *unescape(const char *comp)
{
    char *out = malloc(strlen(comp) + 1);
    size_t n = 0;
    const char *c;

    assert_non_null(out);
    if (!strcmp(comp, "%empty")) {
        out[0] = '\0';
        return out;
    }
    for (c = comp; *c; c++) {
        unsigned hi;
        unsigned lo;

        if (*c != '%') {
            out[n++] = *c;
            continue;
        }
        if (!c[1] || !c[2] || !strchr("0123456789abcdef", c[1]) ||
            !strchr("0123456789abcdef", c[2])) {
            free(out);
            return NULL;
        }
        hi = (unsigned)(c[1] <= '9' ? c[1] - '0' : c[1] - 'a' + 10);
        lo = (unsigned)(c[2] <= '9' ? c[2] - '0' : c[2] - 'a' + 10);
        out[n++] = (char)(hi << 4 | lo);
        c += 2;
    }
    out[n] = '\0';
    return out;
}

/* Random names of any bytes: every component is safe, and one that was
 * not shortened gives the name back, so no two such names share it. */
static void test_name_random(void **state)
{
    unsigned seed = 12345;
    char name[64];
    int round;

    (void)state;
    for (round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand_r(&seed) % 40);
        char *comp;
        size_t i;

        for (i = 0; i < len; i++) {
            int r = rand_r(&seed) % 4;

            /* Favour the bytes the rules are about. */
            name[i] = r == 0   ? "./-_%~ aA"[rand_r(&seed) % 9]
                      : r == 1 ? (char)('a' + rand_r(&seed) % 26)
                               : (char)(1 + rand_r(&seed) % 255);
        }
        name[len] = '\0';
        comp = name_of(name);
        check_component(name, comp);
        if (!strchr(comp, '~')) {
            char *back = unescape(comp);

            assert_non_null(back);
            assert_string_equal(back, name);
            free(back);
        } else {
            assert_int_equal(strlen(comp), QHIL_RUNPATH_NAME_MAX);
        }
        free(comp);
    }
}

typedef struct name_set {
    char **v;
    size_t n;
} name_set;

static void add_name(name_set *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (!strcmp(s->v[i], name)) {
            return;
        }
    }
    s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
    assert_non_null(s->v);
    s->v[s->n] = strdup(name);
    assert_non_null(s->v[s->n]);
    s->n++;
}

/* Hostile names, and for each the mapped form, the old mapping's form
 * ("a_b-<hash>") and a case variant, as names of their own. */
static name_set tricky_names(void)
{
    static const char *const base[] = {
        "", ".", "..", "...", "/", "//", "a/b", "../x", "-x", "--help",
        "a b", "a_b", "a%20b", "%empty", "%2e", "~", "x~2", "boots",
        "Boots", "BOOTS", "\t", "\x01\x02\x1f\x7f", "line\nbreak", "cr\r",
        "\xc3\xa9", "e\xcc\x81", "\xe6\x97\xa5\xe6\x9c\xac", "\xff\xfe",
        "\\", "a\\b", "*", "?", ":", "CON", "nul", "lpt1", " ", " lead",
        "trail ",
    };
    name_set s = {0};
    char buf[400];
    size_t i;
    size_t n;

    for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
        add_name(&s, base[i]);
    }
    for (i = 0; i < 8; i++) {
        /* 300+ bytes, differing late, early, or only in length. */
        memset(buf, 'n', 310);
        buf[300 + i] = '\0';
        add_name(&s, buf);
        buf[300 + i] = 'n';
        buf[310] = '\0';
        buf[i * 40] = 'A' + (char)i;
        add_name(&s, buf);
        memset(buf, '/', 300);
        buf[300 + i] = '\0';
        add_name(&s, buf);
    }
    n = s.n;
    for (i = 0; i < n; i++) {
        char *m = name_of(s.v[i]);
        char *p;

        add_name(&s, m);
        snprintf(buf, sizeof(buf), "%s-5c2d9e1a", m);
        add_name(&s, buf);
        snprintf(buf, sizeof(buf), "%s~2", m);
        add_name(&s, buf);
        for (p = m; *p; p++) {
            if (*p >= 'a' && *p <= 'z') {
                *p = (char)(*p - 'a' + 'A');
            }
        }
        add_name(&s, m);
        free(m);
    }
    return s;
}

static void free_names(name_set *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->v[i]);
    }
    free(s->v);
}

/* The mapping alone: every component is safe, and no two names that fit
 * share one. */
static void test_name_injective(void **state)
{
    name_set s = tricky_names();
    char **comp = calloc(s.n, sizeof(*comp));
    size_t i;
    size_t j;

    (void)state;
    assert_non_null(comp);
    for (i = 0; i < s.n; i++) {
        comp[i] = name_of(s.v[i]);
        check_component(s.v[i], comp[i]);
    }
    for (i = 0; i < s.n; i++) {
        for (j = i + 1; j < s.n; j++) {
            if (!strcmp(comp[i], comp[j])) {
                fail_msg("\"%s\" and \"%s\" both map to \"%s\"", s.v[i],
                         s.v[j], comp[i]);
            }
        }
    }
    for (i = 0; i < s.n; i++) {
        free(comp[i]);
    }
    free(comp);
    free_names(&s);
}

/* Entries of dir, "." and ".." left out. */
static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* In a run: each name gets a fresh folder directly inside the run
 * folder, none shared, none differing from another only in case. */
static void test_run_folders(void **state)
{
    name_set s = tricky_names();
    char *out = sub_path("out");
    char **dirs = calloc(s.n, sizeof(*dirs));
    qhil_runpath *rp = NULL;
    const char *run;
    size_t run_len;
    char link[PATH_MAX];
    ssize_t n;
    qhil_error err;
    size_t i;
    size_t j;

    (void)state;
    qhil_error_init(&err);
    assert_non_null(dirs);
    assert_int_equal(qhil_runpath_new(out, &rp, &err), 0);
    run = qhil_runpath_dir(rp);
    run_len = strlen(run);
    assert_true(strncmp(run, out, strlen(out)) == 0);
    assert_int_equal(run[strlen(out)], '/');
    assert_null(strchr(run + strlen(out) + 1, '/'));

    for (i = 0; i < s.n; i++) {
        struct stat st;

        assert_int_equal(qhil_runpath_mkdir(rp, s.v[i], &dirs[i], &err), 0);
        /* Directly inside the run folder. */
        assert_true(strncmp(dirs[i], run, run_len) == 0);
        assert_int_equal(dirs[i][run_len], '/');
        assert_null(strchr(dirs[i] + run_len + 1, '/'));
        check_component(s.v[i], dirs[i] + run_len + 1);
        assert_int_equal(lstat(dirs[i], &st), 0);
        assert_true(S_ISDIR(st.st_mode));
    }
    for (i = 0; i < s.n; i++) {
        for (j = i + 1; j < s.n; j++) {
            if (!strcasecmp(dirs[i], dirs[j])) {
                fail_msg("\"%s\" and \"%s\" share %s", s.v[i], s.v[j],
                         dirs[i]);
            }
        }
    }
    assert_int_equal(count_entries(run), s.n);
    /* Nothing was made beside the run folder but the latest link. */
    assert_int_equal(count_entries(out), 2);
    n = readlink(strcat(strcpy(link, out), "/latest"), link,
                 sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, run + strlen(out) + 1);

    for (i = 0; i < s.n; i++) {
        free(dirs[i]);
    }
    free(dirs);
    qhil_runpath_free(rp);
    remove_tree(out);
    free(out);
    qhil_error_release(&err);
    free_names(&s);
}

/* Two runs at once in one OUT (same pid, same second): two folders, and
 * latest points at the second. */
static void test_two_runs(void **state)
{
    char *out = sub_path("two");
    char *latest = sub_path("two/latest");
    qhil_runpath *a = NULL;
    qhil_runpath *b = NULL;
    char *da = NULL;
    char *db = NULL;
    char link[PATH_MAX];
    ssize_t n;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_runpath_new(out, &a, &err), 0);
    assert_int_equal(qhil_runpath_new(out, &b, &err), 0);
    assert_string_not_equal(qhil_runpath_dir(a), qhil_runpath_dir(b));
    assert_int_equal(qhil_runpath_mkdir(a, "boots", &da, &err), 0);
    assert_int_equal(qhil_runpath_mkdir(b, "boots", &db, &err), 0);
    assert_string_not_equal(da, db);
    n = readlink(latest, link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, strrchr(qhil_runpath_dir(b), '/') + 1);
    /* Sortable: the second sorts after the first. */
    assert_true(strcmp(qhil_runpath_dir(a), qhil_runpath_dir(b)) < 0);
    free(da);
    free(db);
    qhil_runpath_free(a);
    qhil_runpath_free(b);
    remove_tree(out);
    free(out);
    free(latest);
    qhil_error_release(&err);
}

/* Planted in OUT: a folder and a symlink at the names the run would take,
 * a symlink as latest.  None is followed, reused or changed. */
static void test_planted(void **state)
{
    char *out = sub_path("planted");
    char *victim = sub_path("victim");
    char *latest = sub_path("planted/latest");
    char stamp[32];
    char *p = NULL;
    qhil_runpath *rp = NULL;
    char *dir = NULL;
    struct timespec ts;
    struct tm tm;
    qhil_error err;
    int ms;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(mkdir(out, 0755), 0);
    assert_int_equal(mkdir(victim, 0755), 0);
    /* The names the run would take in the next 300 ms: folders and
     * symlinks to a folder outside. */
    clock_gettime(CLOCK_REALTIME, &ts);
    for (ms = 0; ms < 300; ms++) {
        long long t = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
        time_t sec = (time_t)(t / 1000);

        gmtime_r(&sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        assert_true(asprintf(&p, "%s/%s.%03lld-%ld", out, stamp, t % 1000,
                             (long)getpid()) > 0);
        assert_int_equal(ms % 2 ? symlink(victim, p) : mkdir(p, 0755), 0);
        free(p);
    }
    assert_int_equal(symlink(victim, latest), 0);

    assert_int_equal(qhil_runpath_new(out, &rp, &err), 0);
    /* The run's folder is new: OUT holds the 300 planted names, latest
     * and the run folder. */
    assert_int_equal(count_entries(out), 302);
    assert_int_equal(qhil_runpath_mkdir(rp, "t", &dir, &err), 0);
    assert_int_equal(count_entries(victim), 0);
    assert_int_equal(count_entries(qhil_runpath_dir(rp)), 1);
    {
        struct stat st;

        assert_int_equal(lstat(qhil_runpath_dir(rp), &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(lstat(latest, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
    }
    free(dir);
    qhil_runpath_free(rp);

    /* latest as a real folder: refused, the run leaves nothing. */
    remove_tree(out);
    assert_int_equal(mkdir(out, 0755), 0);
    assert_int_equal(mkdir(latest, 0755), 0);
    assert_int_equal(qhil_runpath_new(out, &rp, &err), QHIL_EINVAL);
    assert_null(rp);
    assert_contains(err.message, "latest is not a symlink");
    assert_int_equal(count_entries(out), 1);

    remove_tree(out);
    free(out);
    free(latest);
    remove_tree(victim);
    free(victim);
    qhil_error_release(&err);
}

/* A test folder that cannot be made (the path is too long for the
 * system) fails alone; the next one still works. */
static void test_mkdir_fails_alone(void **state)
{
    char *out = NULL;
    char part[201];
    qhil_runpath *rp = NULL;
    char *dir = NULL;
    char longname[QHIL_RUNPATH_NAME_MAX + 1];
    qhil_error err;
    size_t len;

    (void)state;
    qhil_error_init(&err);
    memset(part, 'd', 200);
    part[200] = '\0';
    out = strdup(tmp_dir);
    assert_non_null(out);
    /* OUT long enough that OUT/<run-id>/<short> fits under PATH_MAX and
     * OUT/<run-id>/<100 bytes> does not. */
    while (strlen(out) + 201 < PATH_MAX - 60) {
        char *next = NULL;

        assert_true(asprintf(&next, "%s/%s", out, part) > 0);
        free(out);
        out = next;
    }
    len = strlen(out);
    if (len < PATH_MAX - 60) {
        char *next = NULL;

        assert_true(asprintf(&next, "%s/%.*s", out,
                             (int)(PATH_MAX - 60 - len - 1), part) > 0);
        free(out);
        out = next;
    }
    assert_int_equal(qhil_runpath_new(out, &rp, &err), 0);
    assert_int_equal(qhil_runpath_mkdir(rp, "a", &dir, &err), 0);
    free(dir);
    memset(longname, 'L', QHIL_RUNPATH_NAME_MAX);
    longname[QHIL_RUNPATH_NAME_MAX] = '\0';
    assert_int_equal(qhil_runpath_mkdir(rp, longname, &dir, &err),
                     -ENAMETOOLONG);
    assert_null(dir);
    assert_contains(err.message, "cannot create the test folder");
    assert_int_equal(qhil_runpath_mkdir(rp, "b", &dir, &err), 0);
    free(dir);
    qhil_runpath_free(rp);
    free(out);
    qhil_error_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_examples),
        cmocka_unit_test(test_name_long),
        cmocka_unit_test(test_name_injective),
        cmocka_unit_test(test_name_random),
        cmocka_unit_test(test_run_folders),
        cmocka_unit_test(test_two_runs),
        cmocka_unit_test(test_planted),
        cmocka_unit_test(test_mkdir_fails_alone),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
