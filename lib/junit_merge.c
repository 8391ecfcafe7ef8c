/*
 * junit_merge.c - join the JUnit reports of several shards (junit.h).
 *
 * Each file goes through expat once, as a stream of 64 KiB reads, with a
 * small state machine on the element depth:
 *
 *   root       <testsuites> or a lone <testsuite>; anything else is not
 *              JUnit
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
 * Text outside a test case must be white space; a DOCTYPE stops the
 * parse, so no entity is ever declared or expanded.  A file's cases go
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <expat.h>

#include <qhil/junit.h>

#include "internal.h"
#include "xmltext.h"

#define READ_CHUNK 65536

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
    XML_Parser p;
    const qhil_junit_merge *m;
    const char *path;
    size_t file; /* index this file will have in m->files */
    qhil_error *err;
    int rc;
    int depth;       /* of the element being read, root is 1 */
    int suite_depth; /* depth of the open <testsuite>, 0 for none */
    size_t suite;    /* its index in batch */
    int suite_line;
    long declared[TOT_N]; /* -1 when the attribute is absent */
    long counted[TOT_N];
    int case_depth; /* depth of the open <testcase>, 0 for none */
    FILE *mem;
    char *mem_buf;
    size_t mem_len;
    bool tag_open; /* a start tag written without its '>' yet */
    jcase cur;
    jset batch;
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

static void pfail(parse *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first failure at the parser's position and stop it. */
static void pfail(parse *c, int code, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;

    if (c->rc < 0) {
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }
    va_end(ap);
    c->rc = qhil_error_set_at(c->err, msg ? code : QHIL_ENOMEM, c->path,
                              (int)XML_GetCurrentLineNumber(c->p),
                              (int)XML_GetCurrentColumnNumber(c->p) + 1, "%s",
                              msg ? msg : "out of memory");
    free(msg);
    XML_StopParser(c->p, XML_FALSE);
}

static const char *attr_get(const XML_Char **attrs, const char *name)
{
    size_t i;

    for (i = 0; attrs[i]; i += 2) {
        if (strcmp(attrs[i], name) == 0) {
            return attrs[i + 1];
        }
    }
    return NULL;
}

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

/* Seconds as JUnit writes them ("12", "12.345") into *ns; -1 if not. */
static int parse_seconds(const char *s, int64_t *ns)
{
    int64_t sec = 0;
    int64_t frac = 0;
    int64_t scale = 100000000;
    const char *p = s;

    if (!*p || *p == '.') {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (sec > INT64_MAX / 1000000000 / 10 - 1) {
            return -1;
        }
        sec = sec * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return -1;
        }
        for (; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p) {
        return -1;
    }
    *ns = sec * 1000000000 + frac;
    return 0;
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

static void begin_suite(parse *c, const XML_Char **attrs)
{
    const char *name = attr_get(attrs, "name");
    const char *time = attr_get(attrs, "time");
    const char *stamp = attr_get(attrs, "timestamp");
    int64_t ns = 0;
    jsuite *s;
    long at;
    int i;

    if (!name) {
        pfail(c, QHIL_EINVAL,
              "<testsuite> has no name attribute: not a "
              "JUnit report of qhil run");
        return;
    }
    if (time && parse_seconds(time, &ns) < 0) {
        pfail(c, QHIL_EINVAL,
              "testsuite \"%s\": time=\"%s\" is not a "
              "number of seconds",
              name, time);
        return;
    }
    for (i = 0; i < TOT_N; i++) {
        c->declared[i] = parse_count(attr_get(attrs, tot_names[i]));
        c->counted[i] = 0;
        if (c->declared[i] == -2) {
            pfail(c, QHIL_EINVAL,
                  "testsuite \"%s\": %s=\"%s\" is not a "
                  "count",
                  name, tot_names[i], attr_get(attrs, tot_names[i]));
            return;
        }
    }
    at = find_suite(&c->batch, name);
    if (at < 0) {
        s = realloc(c->batch.suites, (c->batch.n_suites + 1) * sizeof(*s));
        if (!s) {
            pfail(c, QHIL_ENOMEM, "out of memory");
            return;
        }
        c->batch.suites = s;
        s = &c->batch.suites[c->batch.n_suites];
        memset(s, 0, sizeof(*s));
        if (!(s->name = strdup(name))) {
            pfail(c, QHIL_ENOMEM, "out of memory");
            return;
        }
        at = (long)c->batch.n_suites++;
    }
    s = &c->batch.suites[at];
    s->time_ns += ns;
    if (stamp && (!s->timestamp || strcmp(stamp, s->timestamp) < 0)) {
        free(s->timestamp);
        if (!(s->timestamp = strdup(stamp))) {
            pfail(c, QHIL_ENOMEM, "out of memory");
            return;
        }
    }
    c->suite = (size_t)at;
    c->suite_depth = c->depth;
    c->suite_line = (int)XML_GetCurrentLineNumber(c->p);
}

/* Write a start tag to the case's stream, without its closing '>'. */
static void write_start(parse *c, const XML_Char *name, const XML_Char **attrs)
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

static void begin_case(parse *c, const XML_Char **attrs)
{
    const char *suite = c->batch.suites[c->suite].name;
    const char *name = attr_get(attrs, "name");
    const jcase *dup;

    if (!name) {
        pfail(c, QHIL_EINVAL,
              "testsuite \"%s\": a <testcase> has no name "
              "attribute",
              suite);
        return;
    }
    dup = find_case(&c->batch, suite, name);
    if (dup) {
        pfail(c, QHIL_EINVAL,
              "test \"%s\" of suite \"%s\" appears twice "
              "in this file (first on line %d)",
              name, suite, dup->line);
        return;
    }
    dup = find_case(&c->m->set, suite, name);
    if (dup) {
        pfail(c, QHIL_EINVAL,
              "this file and %s:%d disagree on test \"%s\" "
              "of suite \"%s\": both ran it, so the shards "
              "did not split the suite",
              c->m->files[dup->file].path, dup->line, name, suite);
        return;
    }
    memset(&c->cur, 0, sizeof(c->cur));
    c->cur.suite = c->suite;
    c->cur.file = c->file;
    c->cur.line = (int)XML_GetCurrentLineNumber(c->p);
    c->cur.name = strdup(name);
    c->mem = open_memstream(&c->mem_buf, &c->mem_len);
    if (!c->cur.name || !c->mem) {
        pfail(c, QHIL_ENOMEM, "out of memory");
        return;
    }
    c->case_depth = c->depth;
}

static void XMLCALL on_start(void *ud, const XML_Char *name,
                             const XML_Char **attrs)
{
    parse *c = ud;

    if (c->rc < 0) {
        return;
    }
    c->depth++;
    if (c->case_depth) {
        close_tag(c);
        write_start(c, name, attrs);
        if (c->depth == c->case_depth + 1) {
            if (strcmp(name, "failure") == 0) {
                c->cur.kind |= CASE_FAILURE;
            } else if (strcmp(name, "error") == 0) {
                c->cur.kind |= CASE_ERROR;
            } else if (strcmp(name, "skipped") == 0) {
                c->cur.kind |= CASE_SKIPPED;
            }
        }
        return;
    }
    if (c->depth == 1) {
        if (strcmp(name, "testsuite") == 0) {
            begin_suite(c, attrs);
        } else if (strcmp(name, "testsuites") != 0) {
            pfail(c, QHIL_EINVAL,
                  "the root element is <%s>, expected "
                  "<testsuites> or <testsuite>: not a "
                  "JUnit report",
                  name);
        }
    } else if (!c->suite_depth) {
        if (strcmp(name, "testsuite") == 0) {
            begin_suite(c, attrs);
        } else {
            pfail(c, QHIL_EINVAL,
                  "<%s> in <testsuites>, expected "
                  "<testsuite>",
                  name);
        }
    } else if (strcmp(name, "testcase") == 0) {
        begin_case(c, attrs);
        if (c->rc == 0) {
            write_start(c, name, attrs);
        }
    } else {
        pfail(c, QHIL_EINVAL,
              "<%s> in testsuite \"%s\", expected "
              "<testcase> (a merge keeps test cases "
              "only)",
              name, c->batch.suites[c->suite].name);
    }
}

static void end_case(parse *c)
{
    jcase *v;
    int failed = fclose(c->mem);

    c->mem = NULL;
    c->case_depth = 0;
    c->cur.xml = c->mem_buf;
    c->cur.xml_len = c->mem_len;
    c->mem_buf = NULL;
    v = failed ? NULL
               : realloc(c->batch.cases, (c->batch.n_cases + 1) * sizeof(*v));
    if (!v) {
        free(c->cur.name);
        free(c->cur.xml);
        memset(&c->cur, 0, sizeof(c->cur));
        pfail(c, QHIL_ENOMEM, "out of memory");
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

static void end_suite(parse *c)
{
    int i;

    for (i = 0; i < TOT_N; i++) {
        if (c->declared[i] >= 0 && c->declared[i] != c->counted[i]) {
            pfail(c, QHIL_EINVAL,
                  "testsuite \"%s\" (line %d) says %s=\"%ld\" "
                  "but holds %ld: the file was changed or "
                  "cut",
                  c->batch.suites[c->suite].name, c->suite_line, tot_names[i],
                  c->declared[i], c->counted[i]);
            return;
        }
    }
    c->suite_depth = 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    parse *c = ud;

    if (c->rc < 0) {
        return;
    }
    if (c->case_depth) {
        if (c->tag_open && XML_GetCurrentByteCount(c->p) == 0) {
            fputs("/>", c->mem);
            c->tag_open = false;
        } else {
            close_tag(c);
            fprintf(c->mem, "</%s>", name);
        }
        if (c->depth == c->case_depth) {
            end_case(c);
        }
    } else if (c->depth == c->suite_depth) {
        end_suite(c);
    }
    c->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    parse *c = ud;
    int i;

    if (c->rc < 0) {
        return;
    }
    if (c->case_depth) {
        close_tag(c);
        qhil_xml_write(c->mem, s, (size_t)len, QHIL_XML_KEEP_CR);
        return;
    }
    for (i = 0; i < len; i++) {
        if (!strchr(" \t\r\n", s[i])) {
            pfail(c, QHIL_EINVAL,
                  "text outside a <testcase>: not a JUnit "
                  "report of qhil run");
            return;
        }
    }
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    parse *c = ud;

    pfail(c, QHIL_EINVAL,
          "a DOCTYPE declaration: JUnit reports have "
          "none, and entities are never expanded here");
}

/* Read the file at fd into c->batch. */
static int parse_fd(parse *c, int fd)
{
    size_t total = 0;
    ssize_t n;
    void *buf;

    for (;;) {
        buf = XML_GetBuffer(c->p, READ_CHUNK);
        if (!buf) {
            return qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
        }
        n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return qhil_error_set(c->err, -errno, "%s: cannot read: %s",
                                  c->path, strerror(errno));
        }
        total += (size_t)n;
        if (total > QHIL_JUNIT_FILE_MAX) {
            return qhil_error_set(c->err, QHIL_ETOOBIG,
                                  "%s: over %zu MiB, the most a JUnit file "
                                  "may hold here",
                                  c->path, QHIL_JUNIT_FILE_MAX >> 20);
        }
        if (XML_ParseBuffer(c->p, (int)n, n == 0) != XML_STATUS_OK) {
            if (c->rc < 0) {
                return c->rc;
            }
            return qhil_error_set_at(c->err, QHIL_ESYNTAX, c->path,
                                     (int)XML_GetCurrentLineNumber(c->p),
                                     (int)XML_GetCurrentColumnNumber(c->p) + 1,
                                     "not well-formed XML: %s",
                                     XML_ErrorString(XML_GetErrorCode(c->p)));
        }
        if (n == 0) {
            return c->rc;
        }
    }
}

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
    struct stat st;
    jfile file = {0};
    size_t i;
    int fd = -1;
    int rc;

    memset(&c, 0, sizeof(c));
    if (!m || !path) {
        return qhil_error_set(err, QHIL_EINVAL, "no merge or no file name");
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        return qhil_error_set(err, rc, "%s: cannot open: %s", path,
                              strerror(-rc));
    }
    if (fstat(fd, &st) < 0) {
        rc = qhil_error_set(err, -errno, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "%s: not a regular file (a folder, FIFO or "
                            "device is never read)",
                            path);
        goto cleanup;
    }
    for (i = 0; i < m->n_files; i++) {
        if (m->files[i].dev == st.st_dev && m->files[i].ino == st.st_ino) {
            rc = qhil_error_set(err, QHIL_EINVAL,
                                "%s: the same file as %s, given twice", path,
                                m->files[i].path);
            goto cleanup;
        }
    }
    file.dev = st.st_dev;
    file.ino = st.st_ino;
    c.m = m;
    c.path = path;
    c.file = m->n_files;
    c.err = err;
    c.p = XML_ParserCreate(NULL);
    if (!c.p || !(file.path = strdup(path))) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    XML_SetUserData(c.p, &c);
    XML_SetElementHandler(c.p, on_start, on_end);
    XML_SetCharacterDataHandler(c.p, on_text);
    XML_SetStartDoctypeDeclHandler(c.p, on_doctype);
    rc = parse_fd(&c, fd);
    if (rc == 0) {
        rc = commit_batch(m, &c.batch, &file);
        if (rc < 0) {
            qhil_error_set(err, rc, "out of memory");
        } else {
            file.path = NULL;
        }
    }

cleanup:
    if (c.mem) {
        fclose(c.mem);
    }
    free(c.mem_buf);
    free(c.cur.name);
    jset_release(&c.batch);
    if (c.p) {
        XML_ParserFree(c.p);
    }
    free(file.path);
    close(fd);
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
