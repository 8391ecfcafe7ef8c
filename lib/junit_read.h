/*
 * junit_read.h - the one reader of JUnit XML reports (internal).
 *
 * qhil_junit_read opens a report, streams it through expat and walks its
 * <testsuite> and <testcase> elements, calling back the reader's user
 * for each; shard.c (durations) and junit_merge.c (merge) are its users.
 * Not installed: nothing here is part of the library's ABI.
 */
#ifndef QHIL_JUNIT_READ_H
#define QHIL_JUNIT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <qhil/error.h>

/* The reader's state, handed to every callback; lives on the stack of
 * qhil_junit_read. */
typedef struct qhil_junit_reader qhil_junit_reader;

/*
 * What the user of the reader is told; every callback may be NULL (the
 * event is then ignored) and may stop the read with qhil_junit_read_fail.
 * attrs is expat's NULL-terminated name, value list; every string is
 * borrowed, valid during the call only.
 */
typedef struct qhil_junit_read_ops {
    /* The file is open and a regular file, nothing read yet; a negative
     * return (with err set) refuses it. */
    int (*opened)(void *ud, const struct stat *st, qhil_error *err);
    /* <testsuite>, anywhere outside a <testcase>. */
    void (*suite_begin)(qhil_junit_reader *r, void *ud, const char **attrs);
    void (*suite_end)(qhil_junit_reader *r, void *ud);
    /* <testcase> in a <testsuite>, name never NULL nor empty. */
    void (*case_begin)(qhil_junit_reader *r, void *ud, const char *name,
                       const char **attrs);
    /* Its end tag; empty when the file wrote it as <testcase .../>. */
    void (*case_end)(qhil_junit_reader *r, void *ud, bool empty);
    /* An element inside a <testcase>, level 1 for its children. */
    void (*inner_begin)(qhil_junit_reader *r, void *ud, const char *name,
                        const char **attrs, unsigned level);
    void (*inner_end)(qhil_junit_reader *r, void *ud, const char *name,
                      bool empty);
    /* Character data, in_case when inside a <testcase>. */
    void (*text)(qhil_junit_reader *r, void *ud, const char *s, size_t len,
                 bool in_case);
    /* Any other element outside a <testcase>, below the root;
     * in_suite when inside a <testsuite>. */
    void (*other)(qhil_junit_reader *r, void *ud, const char *name,
                  bool in_suite);
} qhil_junit_read_ops;

/*
 * Read the report at path, at most max_bytes long, calling ops with ud.
 * Refused: a path that is not a regular file (never opened for a read
 * that could wait: a FIFO is refused at once), a file over max_bytes, a
 * DOCTYPE (no entity is ever declared or expanded), XML that is not
 * well-formed, a root other than <testsuites> or <testsuite>, a
 * <testcase> outside a <testsuite> or without a name, a <testcase> or
 * <testsuite> inside a <testcase>.  The error names path:line:column
 * where the file has one.  Blocks only on the reads of a regular file.
 * Returns 0, or the first failure (a callback's included).
 */
int qhil_junit_read(const char *path, size_t max_bytes,
                    const qhil_junit_read_ops *ops, void *ud, qhil_error *err);

/* From a callback: record a failure at the current position (the first
 * one only) and stop the read.  Returns the code recorded. */
int qhil_junit_read_fail(qhil_junit_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The line the parser is at (1-based). */
int qhil_junit_read_line(const qhil_junit_reader *r);

/* The value of attribute name in attrs, or NULL (borrowed). */
const char *qhil_junit_attr(const char **attrs, const char *name);

/* "12", "0.250", "3.1415926535": decimal seconds to ns in *ns (digits
 * past the ninth decimal are dropped).  0 when s is not that, or over
 * max_ns; 1 on success. */
int qhil_junit_seconds(const char *s, int64_t max_ns, int64_t *ns);

#endif
