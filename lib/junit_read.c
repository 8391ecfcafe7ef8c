/*
 * junit_read.c - the one reader of JUnit XML reports (junit_read.h).
 *
 * Everything that reads a JUnit file (the durations of qhil run
 * --durations, the shards of qhil report merge) comes through here, so
 * the rules on what is read are in one place:
 *
 *   open      O_NONBLOCK (a FIFO with no writer never blocks open()),
 *             fstat: a regular file of at most the caller's cap, else
 *             refused before a byte is read; the caller's opened()
 *             sees the stat (the merger refuses a file given twice)
 *   read      64 KiB at a time into expat's buffer, the cap checked
 *             again as it is read (a file that grows is cut off)
 *   DOCTYPE   refused at its start, parameter entities never parsed:
 *             no entity is declared, none is expanded
 *   errors    the first failure, the reader's or a callback's, stops
 *             expat and stays; it names path:line:column
 *
 * The walk keeps the element depth, how many <testsuite> are open and
 * the depth of the open <testcase>:
 *
 *   depth 0    the root must be <testsuites> or <testsuite>
 *   outside    <testsuite> -> suite_begin/suite_end (nesting is the
 *   a case     user's to refuse); <testcase> -> case_begin/case_end,
 *              only inside a <testsuite> and with a name; any other
 *              element -> other()
 *   inside     every element -> inner_begin/inner_end, except a
 *   a case     <testcase> or <testsuite>, which is not JUnit
 *
 * End callbacks say whether the element was written empty ("<x/>"):
 * expat reports no bytes for the end of an empty-element tag.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <expat.h>

#include "junit_read.h"

#define READ_CHUNK 65536

struct qhil_junit_reader {
    XML_Parser xp;
    const char *path;
    const qhil_junit_read_ops *ops;
    void *ud;
    qhil_error *err;
    int rc;
    unsigned depth;      /* elements open */
    unsigned suite_open; /* <testsuite> elements open */
    unsigned case_depth; /* depth of the open <testcase>, 0 = none */
};

int qhil_junit_read_fail(qhil_junit_reader *r, int code, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;

    if (r->rc < 0) {
        return r->rc;
    }
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0) {
        text = NULL;
    }
    va_end(ap);
    r->rc = qhil_error_set_at(r->err, text ? code : QHIL_ENOMEM, r->path,
                              (int)XML_GetCurrentLineNumber(r->xp),
                              (int)XML_GetCurrentColumnNumber(r->xp) + 1, "%s",
                              text ? text : "out of memory");
    free(text);
    XML_StopParser(r->xp, XML_FALSE);
    return r->rc;
}

int qhil_junit_read_line(const qhil_junit_reader *r)
{
    return (int)XML_GetCurrentLineNumber(r->xp);
}

const char *qhil_junit_attr(const char **attrs, const char *name)
{
    size_t i;

    for (i = 0; attrs[i]; i += 2) {
        if (strcmp(attrs[i], name) == 0) {
            return attrs[i + 1];
        }
    }
    return NULL;
}

int qhil_junit_seconds(const char *s, int64_t max_ns, int64_t *ns)
{
    int64_t whole = 0;
    int64_t frac = 0;
    int64_t scale = 100000000;
    const char *p = s;

    if (*p < '0' || *p > '9') {
        return 0;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > max_ns / 1000000000) {
            return 0;
        }
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return 0;
        }
        for (; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p) {
        return 0;
    }
    if (whole * 1000000000 > max_ns - frac) {
        return 0;
    }
    *ns = whole * 1000000000 + frac;
    return 1;
}

static void case_seen(qhil_junit_reader *r, const XML_Char **attrs)
{
    const char *name = qhil_junit_attr(attrs, "name");

    if (!r->suite_open) {
        qhil_junit_read_fail(r, QHIL_ESYNTAX,
                             "not a JUnit report: <testcase> outside a "
                             "<testsuite>");
        return;
    }
    if (!name || !*name) {
        qhil_junit_read_fail(r, QHIL_ESYNTAX, "<testcase> without a name");
        return;
    }
    r->case_depth = r->depth;
    if (r->ops->case_begin) {
        r->ops->case_begin(r, r->ud, name, attrs);
    }
}

static void XMLCALL on_start(void *data, const XML_Char *el,
                             const XML_Char **attrs)
{
    qhil_junit_reader *r = data;
    bool is_suite = strcmp(el, "testsuite") == 0;
    bool is_case = strcmp(el, "testcase") == 0;

    if (r->rc < 0) {
        return;
    }
    if (r->depth == 0 && !is_suite && strcmp(el, "testsuites") != 0) {
        qhil_junit_read_fail(r, QHIL_ESYNTAX,
                             "not a JUnit report: the root element is <%s>, "
                             "expected <testsuites> or <testsuite>",
                             el);
        return;
    }
    r->depth++;
    if (r->case_depth) {
        if (is_suite || is_case) {
            qhil_junit_read_fail(r, QHIL_ESYNTAX,
                                 "not a JUnit report: <%s> inside a "
                                 "<testcase>",
                                 el);
        } else if (r->ops->inner_begin) {
            r->ops->inner_begin(r, r->ud, el, attrs, r->depth - r->case_depth);
        }
    } else if (is_suite) {
        r->suite_open++;
        if (r->ops->suite_begin) {
            r->ops->suite_begin(r, r->ud, attrs);
        }
    } else if (is_case) {
        case_seen(r, attrs);
    } else if (r->depth > 1 && r->ops->other) {
        r->ops->other(r, r->ud, el, r->suite_open > 0);
    }
}

static void XMLCALL on_end(void *data, const XML_Char *el)
{
    qhil_junit_reader *r = data;
    bool empty;

    /* expat may still report the end of an empty element it stopped
     * in. */
    if (r->rc < 0) {
        return;
    }
    empty = XML_GetCurrentByteCount(r->xp) == 0;
    if (r->case_depth == r->depth) {
        r->case_depth = 0;
        if (r->ops->case_end) {
            r->ops->case_end(r, r->ud, empty);
        }
    } else if (r->case_depth) {
        if (r->ops->inner_end) {
            r->ops->inner_end(r, r->ud, el, empty);
        }
    } else if (strcmp(el, "testsuite") == 0) {
        r->suite_open--;
        if (r->ops->suite_end) {
            r->ops->suite_end(r, r->ud);
        }
    }
    r->depth--;
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
    qhil_junit_reader *r = data;

    if (r->rc < 0 || !r->ops->text) {
        return;
    }
    r->ops->text(r, r->ud, s, (size_t)len, r->case_depth != 0);
}

/* A DTD could declare entities; a test report has no use for one. */
static void XMLCALL on_doctype(void *data, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    qhil_junit_read_fail(data, QHIL_ESYNTAX,
                         "DOCTYPE %s: a JUnit report has no DTD (refused: "
                         "no entity is ever expanded)",
                         name);
}

/* Open path for reading without ever blocking in open() (a FIFO with no
 * writer), and only when it is a regular file of at most max bytes. */
static int open_report(const char *path, size_t max,
                       const qhil_junit_read_ops *ops, void *ud,
                       qhil_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int e = errno;
    int rc;

    if (fd < 0) {
        return qhil_error_set(err, -e, "%s: cannot open: %s", path,
                              strerror(e));
    }
    if (fstat(fd, &st) < 0) {
        e = errno;
        close(fd);
        return qhil_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qhil_error_set(err, QHIL_EINVAL,
                              "%s: not a regular file (a folder, FIFO or "
                              "device is never read)",
                              path);
    }
    if ((uintmax_t)st.st_size > (uintmax_t)max) {
        close(fd);
        return qhil_error_set(err, QHIL_ETOOBIG,
                              "%s: %lld bytes, over the limit of %zu MiB "
                              "for a JUnit report",
                              path, (long long)st.st_size, max >> 20);
    }
    if (ops->opened) {
        rc = ops->opened(ud, &st, err);
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    return fd;
}

/* Stream fd through r->xp. */
static int read_all(qhil_junit_reader *r, int fd, size_t max)
{
    size_t total = 0;

    for (;;) {
        void *buf = XML_GetBuffer(r->xp, READ_CHUNK);
        ssize_t got;

        if (!buf) {
            return qhil_error_set(r->err, QHIL_ENOMEM, "out of memory");
        }
        got = read(fd, buf, READ_CHUNK);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return qhil_error_set(r->err, -errno, "%s: cannot read: %s",
                                  r->path, strerror(errno));
        }
        total += (size_t)got;
        if (total > max) {
            return qhil_error_set(r->err, QHIL_ETOOBIG,
                                  "%s: grew over the limit of %zu MiB for a "
                                  "JUnit report while read",
                                  r->path, max >> 20);
        }
        if (XML_ParseBuffer(r->xp, (int)got, got == 0) != XML_STATUS_OK) {
            if (r->rc < 0) {
                return r->rc;
            }
            return qhil_error_set_at(r->err, QHIL_ESYNTAX, r->path,
                                     (int)XML_GetCurrentLineNumber(r->xp),
                                     (int)XML_GetCurrentColumnNumber(r->xp) + 1,
                                     "not well-formed XML: %s",
                                     XML_ErrorString(XML_GetErrorCode(r->xp)));
        }
        if (r->rc < 0 || got == 0) {
            return r->rc;
        }
    }
}

int qhil_junit_read(const char *path, size_t max_bytes,
                    const qhil_junit_read_ops *ops, void *ud, qhil_error *err)
{
    qhil_junit_reader r = {.path = path, .ops = ops, .ud = ud, .err = err};
    int fd;
    int rc;

    fd = open_report(path, max_bytes, ops, ud, err);
    if (fd < 0) {
        return fd;
    }
    r.xp = XML_ParserCreate(NULL);
    if (!r.xp) {
        close(fd);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    XML_SetUserData(r.xp, &r);
    XML_SetElementHandler(r.xp, on_start, on_end);
    XML_SetCharacterDataHandler(r.xp, on_text);
    XML_SetStartDoctypeDeclHandler(r.xp, on_doctype);
    XML_SetParamEntityParsing(r.xp, XML_PARAM_ENTITY_PARSING_NEVER);
    rc = read_all(&r, fd, max_bytes);
    XML_ParserFree(r.xp);
    close(fd);
    return rc;
}
