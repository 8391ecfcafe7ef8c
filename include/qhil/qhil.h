/*
 * qhil/qhil.h - everything in libqhil, for programs that want it all.
 *
 *   error.h    error codes and detail        clock.h   time and deadlines
 *   qmp.h      QMP client                    console.h serial console
 *   qtest.h    QTest client (MMIO, IRQs)
 *   machine.h  QEMU process lifecycle        board.h   board templates
 *   job.h      a job's labelled QEMU argv    lava.h    LAVA job export
 *   suite.h    suite files                   runner.h  running suites
 *   report.h   results, JUnit and TAP     runpath.h run and test folders
 *   report_html.h  a run as one HTML page
 *   shard.h    a runner's share of a suite (--shard K/N, durations)
 *   event.h    a test as a stream of events (the runner's callback)
 *   progress.h what a person watching a run sees (lines, status line)
 *
 * libqhil.so exports what these headers declare and nothing else: the
 * library is built with hidden visibility, and each header wraps its
 * declarations in "#pragma GCC visibility push(default)" ... "pop".
 * A new public header does the same (the exports test checks it).
 */
#ifndef QHIL_QHIL_H
#define QHIL_QHIL_H

#include <qhil/board.h>
#include <qhil/clock.h>
#include <qhil/console.h>
#include <qhil/error.h>
#include <qhil/event.h>
#include <qhil/job.h>
#include <qhil/junit.h>
#include <qhil/keep.h>
#include <qhil/lava.h>
#include <qhil/limits.h>
#include <qhil/machine.h>
#include <qhil/progress.h>
#include <qhil/qmp.h>
#include <qhil/qtest.h>
#include <qhil/report.h>
#include <qhil/report_html.h>
#include <qhil/result.h>
#include <qhil/runner.h>
#include <qhil/runpath.h>
#include <qhil/select.h>
#include <qhil/shard.h>
#include <qhil/site.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Library version as "MAJOR.MINOR.PATCH"; static string. */
const char *qhil_version(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_QHIL_H */
