/*
 * junit_merge.c - join the JUnit reports of several shards (junit.h).
 *
 * Each file goes once through junit_read.c, which owns the rules on
 * opening and reading it (regular file, size cap, no DOCTYPE, the root,
 * <testcase> only in a <testsuite>) and calls back here:
 *
 *   opened     the file is not one already merged (same device, inode)
 *   other      any element but <testsuite> in <testsuites> and
 *              <testcase> in <testsuite>: refused, like a nested suite
 *   suite      <testsuite name=...>: its declared totals are kept to be
 *              checked at its end tag against the cases it held, its time
 *              added to the suite's, its timestamp kept if earliest
 *   case       <testcase name=...>: from its start tag to its end tag,
 *              every event is written back to a memory stream exactly as
 *              report.c wrote it: attributes in their order, text through
 *              the same filter (xmltext.c) with every CR kept as "&#13;"
 *              (after parsing, a CR can only have come from one), an
 *              element with no content as "<x/>" when the file had it so
 *              (expat reports no bytes for the end of an empty-element
 *              tag) and as "<x></x>" otherwise
 *
 * Text outside a test case must be white space.  A file's cases go
 * to a batch first; only when the whole file parsed and none of its
 * tests is already held is the batch moved into the merge (with room
 * reserved first, so that move cannot fail half-way).
 *
 * A duplicate test is found by a linear search over the tests held: a
 * few thousand tests cost a few million string compares, well under the
 * time to read their console logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qhil/junit.h>

#include "internal.h"
#include "junit_read.h"
#include "xmltext.h"

/* A suite's time="...": what ten of them sum to still fits an int64_t. */
#define SUITE_TIME_MAX_NS (INT64_MAX / 10)

/* Verdict of a test case, from the elements it holds. */
#define CASE_FAILURE (1u << 0)
#define CASE_ERROR (1u << 1)
#define CASE_SKIPPED (1u << 2)

typedef struct jcase {
    size_t suite; /* index in the suites of its merge or batch */
    char *name;
    char *xml; /* the whole <testcase> element, as written */
    size_t xml_len;
    size_t file; /* index in the merge's files */
    int line;
    unsigned kind; /* CASE_... */
} jcase;

typedef struct jsuite {
    char *name;
    int64_t time_ns;
    char *timestamp; /* earliest seen, or NULL */
} jsuite;

typedef struct jfile {
    char *path;
    dev_t dev;
    ino_t ino;
} jfile;

typedef struct jset {
    jsuite *suites;
    size_t n_suites;
    jcase *cases;
    size_t n_cases;
} jset;

struct qhil_junit_merge {
    jfile *files;
    size_t n_files;
    jset set;
};

/* Counters of one <testsuite> element: tests, failures, errors, skipped. */
enum { TOT_TESTS, TOT_FAILURES, TOT_ERRORS, TOT_SKIPPED, TOT_N };
static const char *const tot_names[TOT_N] = {
    "tests",
    "failures",
    "errors",
    "skipped",
};

typedef struct parse {
    const qhil_junit_merge *m;
    const char *path;
    size_t file;     /* index this file will have in m->files */
    bool suite_open; /* a <testsuite> is open */
    size_t suite;    /* its index in batch */
    int suite_line;
    long declared[TOT_N]; /* -1 when the attribute is absent */
    long counted[TOT_N];
    FILE *mem; /* the open <testcase>, written back; NULL outside */
    char *mem_buf;
    size_t mem_len;
    bool tag_open; /* a start tag written without its '>' yet */
    jcase cur;
    jset batch;
    struct stat st; /* of the file, once open */
} parse;

static void jset_release(jset *s)
{
    size_t i;

    for (i = 0; i < s->n_suites; i++) {
        free(s->suites[i].name);
        free(s->suites[i].timestamp);
    }
    for (i = 0; i < s->n_cases; i++) {
        free(s->cases[i].name);
        free(s->cases[i].xml);
    }
    free(s->suites);
    free(s->cases);
    memset(s, 0, sizeof(*s));
}

int qhil_junit_merge_new(qhil_junit_merge **out, qhil_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (!*out) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    return QHIL_EOK;
}

void qhil_junit_merge_free(qhil_junit_merge *m)
{
    size_t i;

    if (!m) {
        return;
    }
    for (i = 0; i < m->n_files; i++) {
        free(m->files[i].path);
    }
    free(m->files);
    jset_release(&m->set);
    free(m);
}

/* ---- parsing ---- */

/* A count attribute: digits only.  -1 when absent, -2 when malformed. */
static long parse_count(const char *s)
{
    long v = 0;

    if (!s) {
        return -1;
    }
    if (!*s) {
        return -2;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000) {
            return -2;
        }
        v = v * 10 + (*s - '0');
    }
    return v;
}

static long find_suite(const jset *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->n_suites; i++) {
        if (strcmp(s->suites[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static const jcase *find_case(const jset *s, const char *suite,
                              const char *name)
{
    size_t i;

    for (i = 0; i < s->n_cases; i++) {
        if (strcmp(s->cases[i].name, name) == 0 &&
            strcmp(s->suites[s->cases[i].suite].name, suite) == 0) {
            return &s->cases[i];
        }
    }
    return NULL;
}

/* The same file given twice would merge every test with itself. */
static int on_opened(void *ud, const struct stat *st, qhil_error *err)
{
    parse *c = ud;
    size_t i;

    for (i = 0; i < c->m->n_files; i++) {
        if (c->m->files[i].dev == st->st_dev &&
            c->m->files[i].ino == st->st_ino) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "%s: the same file as %s, given twice",
                                  c->path, c->m->files[i].path);
        }
    }
    c->st = *st;
    return QHIL_EOK;
}

/* Any element but a <testsuite> in <testsuites> or a <testcase> in a
 * <testsuite>: a merge keeps test cases only. */
static void on_other(qhil_junit_reader *r, void *ud, const char *name,
                     bool in_suite)
{
    parse *c = ud;

    if (!in_suite) {
        qhil_junit_read_fail(
            r, QHIL_EINVAL, "<%s> in <testsuites>, expected <testsuite>", name);
        return;
    }
    qhil_junit_read_fail(r, QHIL_EINVAL,
                         "<%s> in testsuite \"%s\", expected <testcase> (a "
                         "merge keeps test cases only)",
                         name, c->batch.suites[c->suite].name);
}

static void begin_suite(qhil_junit_reader *r, void *ud, const char **attrs)
{
    parse *c = ud;
    const char *name = qhil_junit_attr(attrs, "name");
    const char *time = qhil_junit_attr(attrs, "time");
    const char *stamp = qhil_junit_attr(attrs, "timestamp");
    int64_t ns = 0;
    jsuite *s;
    long at;
    int i;

    if (c->suite_open) {
        on_other(r, ud, "testsuite", true);
        return;
    }
    if (!name) {
        qhil_junit_read_fail(r, QHIL_EINVAL,
                             "<testsuite> has no name attribute: not a "
                             "JUnit report of qhil run");
        return;
    }
    if (time && !qhil_junit_seconds(time, SUITE_TIME_MAX_NS, &ns)) {
        qhil_junit_read_fail(r, QHIL_EINVAL,
                             "testsuite \"%s\": time=\"%s\" is not a "
                             "number of seconds",
                             name, time);
        return;
    }
    for (i = 0; i < TOT_N; i++) {
        c->declared[i] = parse_count(qhil_junit_attr(attrs, tot_names[i]));
        c->counted[i] = 0;
        if (c->declared[i] == -2) {
            qhil_junit_read_fail(r, QHIL_EINVAL,
                                 "testsuite \"%s\": %s=\"%s\" is not a "
                                 "count",
                                 name, tot_names[i],
                                 qhil_junit_attr(attrs, tot_names[i]));
            return;
        }
    }
    at = find_suite(&c->batch, name);
    if (at < 0) {
        s = realloc(c->batch.suites, (c->batch.n_suites + 1) * sizeof(*s));
        if (!s) {
            qhil_junit_read_fail(r, QHIL_ENOMEM, "out of memory");
            return;
        }
        c->batch.suites = s;
        s = &c->batch.suites[c->batch.n_suites];
        memset(s, 0, sizeof(*s));
        if (!(s->name = strdup(name))) {
            qhil_junit_read_fail(r, QHIL_ENOMEM, "out of memory");
            return;
        }
        at = (long)c->batch.n_suites++;
    }
    s = &c->batch.suites[at];
    s->time_ns += ns;
    if (stamp && (!s->timestamp || strcmp(stamp, s->timestamp) < 0)) {
        free(s->timestamp);
        if (!(s->timestamp = strdup(stamp))) {
            qhil_junit_read_fail(r, QHIL_ENOMEM, "out of memory");
            return;
        }
    }
    c->suite = (size_t)at;
    c->suite_open = true;
    c->suite_line = qhil_junit_read_line(r);
}

static void end_suite(qhil_junit_reader *r, void *ud)
{
    parse *c = ud;
    int i;

    for (i = 0; i < TOT_N; i++) {
        if (c->declared[i] >= 0 && c->declared[i] != c->counted[i]) {
            qhil_junit_read_fail(r, QHIL_EINVAL,
                                 "testsuite \"%s\" (line %d) says "
                                 "%s=\"%ld\" but holds %ld: the file was "
                                 "changed or cut",
                                 c->batch.suites[c->suite].name, c->suite_line,
                                 tot_names[i], c->declared[i], c->counted[i]);
            return;
        }
    }
    c->suite_open = false;
}

/* Write a start tag to the case's stream, without its closing '>'. */
static void write_start(parse *c, const char *name, const char **attrs)
{
    size_t i;

    fputc('<', c->mem);
    fputs(name, c->mem);
    for (i = 0; attrs[i]; i += 2) {
        fprintf(c->mem, " %s=\"", attrs[i]);
        qhil_xml_write(c->mem, attrs[i + 1], strlen(attrs[i + 1]),
                       QHIL_XML_ATTR);
        fputc('"', c->mem);
    }
    c->tag_open = true;
}

static void close_tag(parse *c)
{
    if (c->tag_open) {
        fputc('>', c->mem);
        c->tag_open = false;
    }
}

/* The end tag of an element of the case, as the file wrote it. */
static void write_end(parse *c, const char *name, bool empty)
{
    if (c->tag_open && empty) {
        fputs("/>", c->mem);
        c->tag_open = false;
    } else {
        close_tag(c);
        fprintf(c->mem, "</%s>", name);
    }
}

static void begin_case(qhil_junit_reader *r, void *ud, const char *name,
                       const char **attrs)
{
    parse *c = ud;
    const char *suite;
    const jcase *dup;

    suite = c->batch.suites[c->suite].name;
    dup = find_case(&c->batch, suite, name);
    if (dup) {
        qhil_junit_read_fail(r, QHIL_EINVAL,
                             "test \"%s\" of suite \"%s\" appears twice "
                             "in this file (first on line %d)",
                             name, suite, dup->line);
        return;
    }
    dup = find_case(&c->m->set, suite, name);
    if (dup) {
        qhil_junit_read_fail(r, QHIL_EINVAL,
                             "this file and %s:%d disagree on test \"%s\" "
                             "of suite \"%s\": both ran it, so the shards "
                             "did not split the suite",
                             c->m->files[dup->file].path, dup->line, name,
                             suite);
        return;
    }
    memset(&c->cur, 0, sizeof(c->cur));
    c->cur.suite = c->suite;
    c->cur.file = c->file;
    c->cur.line = qhil_junit_read_line(r);
    c->cur.name = strdup(name);
    c->mem = open_memstream(&c->mem_buf, &c->mem_len);
    if (!c->cur.name || !c->mem) {
        qhil_junit_read_fail(r, QHIL_ENOMEM, "out of memory");
        return;
    }
    write_start(c, "testcase", attrs);
}

static void end_case(qhil_junit_reader *r, void *ud, bool empty)
{
    parse *c = ud;
    jcase *v;
    int failed;

    write_end(c, "testcase", empty);
    failed = fclose(c->mem);
    c->mem = NULL;
    c->cur.xml = c->mem_buf;
    c->cur.xml_len = c->mem_len;
    c->mem_buf = NULL;
    v = failed ? NULL
               : realloc(c->batch.cases, (c->batch.n_cases + 1) * sizeof(*v));
    if (!v) {
        free(c->cur.name);
        free(c->cur.xml);
        memset(&c->cur, 0, sizeof(c->cur));
        qhil_junit_read_fail(r, QHIL_ENOMEM, "out of memory");
        return;
    }
    c->batch.cases = v;
    c->counted[TOT_TESTS]++;
    c->counted[TOT_FAILURES] += (c->cur.kind & CASE_FAILURE) != 0;
    c->counted[TOT_ERRORS] += (c->cur.kind & CASE_ERROR) != 0;
    c->counted[TOT_SKIPPED] += (c->cur.kind & CASE_SKIPPED) != 0;
    v[c->batch.n_cases++] = c->cur;
    memset(&c->cur, 0, sizeof(c->cur));
}

static void on_inner_begin(qhil_junit_reader *r, void *ud, const char *name,
                           const char **attrs, unsigned level)
{
    parse *c = ud;

    (void)r;
    close_tag(c);
    write_start(c, name, attrs);
    if (level == 1) {
        if (strcmp(name, "failure") == 0) {
            c->cur.kind |= CASE_FAILURE;
        } else if (strcmp(name, "error") == 0) {
            c->cur.kind |= CASE_ERROR;
        } else if (strcmp(name, "skipped") == 0) {
            c->cur.kind |= CASE_SKIPPED;
        }
    }
}

static void on_inner_end(qhil_junit_reader *r, void *ud, const char *name,
                         bool empty)
{
    (void)r;
    write_end(ud, name, empty);
}

static void on_text(qhil_junit_reader *r, void *ud, const char *s, size_t len,
                    bool in_case)
{
    parse *c = ud;
    size_t i;

    if (in_case) {
        close_tag(c);
        qhil_xml_write(c->mem, s, len, QHIL_XML_KEEP_CR);
        return;
    }
    for (i = 0; i < len; i++) {
        if (!strchr(" \t\r\n", s[i])) {
            qhil_junit_read_fail(r, QHIL_EINVAL,
                                 "text outside a <testcase>: not a JUnit "
                                 "report of qhil run");
            return;
        }
    }
}

static const qhil_junit_read_ops merge_ops = {
    .opened = on_opened,
    .suite_begin = begin_suite,
    .suite_end = end_suite,
    .case_begin = begin_case,
    .case_end = end_case,
    .inner_begin = on_inner_begin,
    .inner_end = on_inner_end,
    .text = on_text,
    .other = on_other,
};

/* Move the batch into m; room is reserved first so this cannot fail
 * half-way.  Returns 0 or QHIL_ENOMEM (m unchanged). */
static int commit_batch(qhil_junit_merge *m, jset *b, jfile *file)
{
    size_t *map;
    jsuite *suites;
    jcase *cases;
    jfile *files;
    jsuite *into;
    size_t i;
    long at;

    map = calloc(b->n_suites + 1, sizeof(*map));
    suites = realloc(m->set.suites,
                     (m->set.n_suites + b->n_suites + 1) * sizeof(*suites));
    if (suites) {
        m->set.suites = suites;
    }
    cases = realloc(m->set.cases,
                    (m->set.n_cases + b->n_cases + 1) * sizeof(*cases));
    if (cases) {
        m->set.cases = cases;
    }
    files = realloc(m->files, (m->n_files + 1) * sizeof(*files));
    if (files) {
        m->files = files;
    }
    if (!map || !suites || !cases || !files) {
        free(map);
        return QHIL_ENOMEM;
    }
    for (i = 0; i < b->n_suites; i++) {
        at = find_suite(&m->set, b->suites[i].name);
        if (at < 0) {
            map[i] = m->set.n_suites;
            m->set.suites[m->set.n_suites++] = b->suites[i];
            memset(&b->suites[i], 0, sizeof(b->suites[i]));
            continue;
        }
        map[i] = (size_t)at;
        into = &m->set.suites[at];
        into->time_ns += b->suites[i].time_ns;
        if (b->suites[i].timestamp &&
            (!into->timestamp ||
             strcmp(b->suites[i].timestamp, into->timestamp) < 0)) {
            free(into->timestamp);
            into->timestamp = b->suites[i].timestamp;
            b->suites[i].timestamp = NULL;
        }
    }
    for (i = 0; i < b->n_cases; i++) {
        b->cases[i].suite = map[b->cases[i].suite];
        m->set.cases[m->set.n_cases++] = b->cases[i];
    }
    b->n_cases = 0;
    m->files[m->n_files++] = *file;
    free(map);
    return QHIL_EOK;
}

int qhil_junit_merge_add(qhil_junit_merge *m, const char *path, qhil_error *err)
{
    parse c;
    jfile file = {0};
    int rc;

    memset(&c, 0, sizeof(c));
    if (!m || !path) {
        return qhil_error_set(err, QHIL_EINVAL, "no merge or no file name");
    }
    c.m = m;
    c.path = path;
    c.file = m->n_files;
    if (!(file.path = strdup(path))) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = qhil_junit_read(path, QHIL_JUNIT_FILE_MAX, &merge_ops, &c, err);
    if (rc == 0) {
        file.dev = c.st.st_dev;
        file.ino = c.st.st_ino;
        rc = commit_batch(m, &c.batch, &file);
        if (rc < 0) {
            qhil_error_set(err, rc, "out of memory");
        } else {
            file.path = NULL;
        }
    }
    if (c.mem) {
        fclose(c.mem);
    }
    free(c.mem_buf);
    free(c.cur.name);
    jset_release(&c.batch);
    free(file.path);
    return rc;
}

size_t qhil_junit_merge_count(const qhil_junit_merge *m, qhil_junit_count what)
{
    unsigned want = 0;
    size_t n = 0;
    size_t i;

    if (!m) {
        return 0;
    }
    switch (what) {
    case QHIL_JUNIT_FILES:
        return m->n_files;
    case QHIL_JUNIT_SUITES:
        return m->set.n_suites;
    case QHIL_JUNIT_TESTS:
        return m->set.n_cases;
    case QHIL_JUNIT_FAILURES:
        want = CASE_FAILURE;
        break;
    case QHIL_JUNIT_ERRORS:
        want = CASE_ERROR;
        break;
    case QHIL_JUNIT_SKIPPED:
        want = CASE_SKIPPED;
        break;
    }
    for (i = 0; i < m->set.n_cases; i++) {
        n += (m->set.cases[i].kind & want) != 0;
    }
    return n;
}

/* ---- writing ---- */

/* Seconds with three decimals, without going through the locale, as
 * report.c writes them. */
static void write_seconds(FILE *out, int64_t ns)
{
    int64_t ms = (ns + 500000) / 1000000;

    fprintf(out, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
}

int qhil_junit_merge_write(const qhil_junit_merge *m, FILE *out,
                           qhil_error *err)
{
    size_t tot[TOT_N];
    const jsuite *s;
    const jcase *k;
    size_t i;
    size_t j;

    if (!m || !out) {
        return qhil_error_set(err, QHIL_EINVAL, "no merge or no stream");
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", out);
    for (i = 0; i < m->set.n_suites; i++) {
        s = &m->set.suites[i];
        memset(tot, 0, sizeof(tot));
        for (j = 0; j < m->set.n_cases; j++) {
            k = &m->set.cases[j];
            if (k->suite == i) {
                tot[TOT_TESTS]++;
                tot[TOT_FAILURES] += (k->kind & CASE_FAILURE) != 0;
                tot[TOT_ERRORS] += (k->kind & CASE_ERROR) != 0;
                tot[TOT_SKIPPED] += (k->kind & CASE_SKIPPED) != 0;
            }
        }
        fputs("  <testsuite name=\"", out);
        qhil_xml_write(out, s->name, strlen(s->name), QHIL_XML_ATTR);
        fprintf(out,
                "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                "skipped=\"%zu\" time=\"",
                tot[TOT_TESTS], tot[TOT_FAILURES], tot[TOT_ERRORS],
                tot[TOT_SKIPPED]);
        write_seconds(out, s->time_ns);
        fputc('"', out);
        if (s->timestamp) {
            fputs(" timestamp=\"", out);
            qhil_xml_write(out, s->timestamp, strlen(s->timestamp),
                           QHIL_XML_ATTR);
            fputc('"', out);
        }
        fputs(">\n", out);
        for (j = 0; j < m->set.n_cases; j++) {
            k = &m->set.cases[j];
            if (k->suite == i) {
                fputs("    ", out);
                fwrite(k->xml, 1, k->xml_len, out);
                fputc('\n', out);
            }
        }
        fputs("  </testsuite>\n", out);
    }
    fputs("</testsuites>\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        return qhil_error_set(err, QHIL_EIO, "cannot write the report: %s",
                              strerror(errno));
    }
    return QHIL_EOK;
}

int qhil_junit_merge_save(const qhil_junit_merge *m, const char *path,
                          unsigned flags, qhil_error *err)
{
    const char *slash;
    struct stat st;
    char *tmp = NULL;
    FILE *fp = NULL;
    size_t i;
    int fd = -1;
    int rc;

    if (!m || !path || !*path) {
        return qhil_error_set(err, QHIL_EINVAL, "no merge or no file name");
    }
    if (path[strlen(path) - 1] == '/' ||
        (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "%s: is a folder, expected a file name", path);
    }
    if (stat(path, &st) == 0) {
        for (i = 0; i < m->n_files; i++) {
            if (m->files[i].dev == st.st_dev && m->files[i].ino == st.st_ino) {
                return qhil_error_set(err, QHIL_EINVAL,
                                      "%s: is the input %s; the merged "
                                      "report must go to another file",
                                      path, m->files[i].path);
            }
        }
    }
    if (!(flags & QHIL_JUNIT_FORCE) && lstat(path, &st) == 0) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "%s: exists; give --force to replace it", path);
    }
    slash = strrchr(path, '/');
    if (asprintf(&tmp, "%.*s.%s.tmpXXXXXX", slash ? (int)(slash - path + 1) : 0,
                 path, slash ? slash + 1 : path) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = qhil_error_set(err, -errno,
                            "%s: cannot create a temporary file beside "
                            "it: %s",
                            path, strerror(errno));
        free(tmp);
        return rc;
    }
    if (fchmod(fd, 0644) < 0 || !(fp = fdopen(fd, "w"))) {
        rc = qhil_error_set(err, -errno, "%s: %s", tmp, strerror(errno));
        close(fd);
        goto cleanup;
    }
    rc = qhil_junit_merge_write(m, fp, err);
    if (rc < 0) {
        qhil_error_prefix(err, "%s", path);
        goto cleanup;
    }
    if (fsync(fileno(fp)) < 0 && errno != EINVAL) {
        rc = qhil_error_set(err, QHIL_EIO, "%s: cannot write: %s", path,
                            strerror(errno));
        goto cleanup;
    }
    rc = fclose(fp);
    fp = NULL;
    if (rc != 0) {
        rc = qhil_error_set(err, QHIL_EIO, "%s: cannot write: %s", path,
                            strerror(errno));
        goto cleanup;
    }
    if (flags & QHIL_JUNIT_FORCE) {
        rc = rename(tmp, path);
    } else {
        /* Never replace a file that appeared since the check above. */
        rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
        if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
            rc = link(tmp, path);
        }
    }
    if (rc < 0) {
        rc = qhil_error_set(err, -errno,
                            "%s: cannot put the report in place: %s", path,
                            errno == EEXIST ? "it exists now; give --force "
                                              "to replace it"
                                            : strerror(errno));
        goto cleanup;
    }
    rc = QHIL_EOK;

cleanup:
    if (fp) {
        fclose(fp);
    }
    unlink(tmp); /* gone after rename; after link, the spare name */
    free(tmp);
    return rc;
}
