/*
 * qhil/report_html.h - a run as one self-contained HTML page.
 *
 * The input is the run's JSON document (`qhil run --json FILE`, schema
 * "qhil_run": 1 in docs/events.md).  The page is one file: the document
 * goes into it as data (<script type="application/json">), and the
 * page's own script and style build the summary, the table of tests, and
 * each test's failure, timeline and console log from it in the browser.
 * Nothing is loaded from anywhere else, so the page works from file://
 * and can be kept as a CI artifact.  Guest text reaches the page only as
 * data and is inserted as text, never as markup.
 *
 * None of these calls prints; they block only on the file system.
 */
#ifndef QHIL_REPORT_HTML_H
#define QHIL_REPORT_HTML_H

#include <stdio.h>

#include <jansson.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/*
 * Read a run's JSON document from path: a regular file (a FIFO, device
 * or symlink is refused, never opened for reading), at most 256 MiB,
 * checked with qhil_report_html_check.  *out: new reference, caller
 * json_decrefs.  On failure *out is NULL and err says the file, the line
 * and column (not JSON) or the key (not a run) and what was wrong.
 */
int qhil_report_html_load(const char *path, json_t **out, qhil_error *err);

/*
 * Check that run is a run document the page can show: "qhil_run" is 1;
 * "suite" an object with a string "name"; "counts" the number of tests
 * of each verdict, equal to what "tests" holds; "tests" an array of
 * objects with a string "name", a "verdict" of pass, fail, error or skip
 * and, when present, "events" an array of objects with a string "kind"
 * and an integer "wall_ns".  QHIL_EINVAL naming the first key that is
 * wrong ("tests[2].verdict: ...").  run is borrowed.
 */
int qhil_report_html_check(const json_t *run, qhil_error *err);

/*
 * Write the page for run to out.  run is checked first (as above) and
 * nothing is written when it is refused.  QHIL_EIO when writing fails.
 * run is borrowed.
 */
int qhil_report_html(const json_t *run, FILE *out, qhil_error *err);

/*
 * Write the page to path atomically: a temporary file beside it, then a
 * rename (an existing file or symlink at path is replaced, a symlink
 * never followed), as the JUnit and TAP reports are written.  path
 * untouched on any failure.
 */
int qhil_report_html_save(const json_t *run, const char *path,
                          qhil_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_REPORT_HTML_H */
