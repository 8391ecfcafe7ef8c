/*
 * qhil/event.h - a test as a stream of events (docs/events.md).
 *
 * While a test runs, the runner hands each thing that happens to the
 * caller's event callback (qhil_run_opts.event), in the order it
 * happened: the test and each step starting and ending, QEMU starting
 * and how it ended, every console line, every pattern match, every QMP
 * message sent and received, every input sent to the guest and fault
 * injected, every line QEMU writes to its stderr, every failure
 * recorded.  The test's result is the fold of these (result.h), and
 * reports are views of this stream; `qhil run --events FILE` writes it
 * as JSON Lines, `--json FILE` keeps it per test in the run's JSON
 * report.
 *
 * An event is borrowed for the duration of the callback: copy what you
 * keep (qhil_event_to_json makes a self-contained copy).  Fields that do
 * not apply to a kind are zero, NULL, or -1 where noted.  New kinds and
 * fields are only ever added (at the end), and QHIL_EVENT_VERSION grows
 * when they are; the JSON form carries it as "v".
 */
#ifndef QHIL_EVENT_H
#define QHIL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <qhil/error.h>
#include <qhil/report.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define QHIL_EVENT_VERSION 2

typedef enum qhil_event_kind {
    QHIL_EVENT_TEST_START,    /* text: the test's name */
    QHIL_EVENT_TEST_END,      /* verdict, duration_ns, text: the message
                                 of the first failure (NULL on a pass) */
    QHIL_EVENT_STEP_START,    /* step, line, text: the step described
                                 ("expect \"Hello\"") */
    QHIL_EVENT_STEP_END,      /* step, line, verdict, duration_ns */
    QHIL_EVENT_MACHINE_START, /* pid, argv, text: QEMU's version
                                 ("7.2.17"), json: QMP's greeting */
    QHIL_EVENT_MACHINE_END,   /* how (qhil_machine_end), status (the
                                 waitpid status, -1 unknown), text/len:
                                 the last lines QEMU wrote to its
                                 stderr (v2) */
    QHIL_EVENT_CONSOLE_LINE,  /* port, offset, text/len: one line as
                                 received, without its LF; a line over
                                 QHIL_EVENT_LINE_MAX bytes comes in
                                 pieces, each but the last with cut set */
    QHIL_EVENT_MATCH,         /* port, offset, text/len: what an expect
                                 matched, pattern */
    QHIL_EVENT_FAIL_MATCH,    /* port, offset, text/len, pattern: a
                                 fail_on pattern matched */
    QHIL_EVENT_INPUT,         /* port, text/len: bytes sent to the guest */
    QHIL_EVENT_QMP_COMMAND,   /* json: the command as sent */
    QHIL_EVENT_QMP_REPLY,     /* json: its reply ("return" or "error") */
    QHIL_EVENT_QMP_EVENT,     /* json: an asynchronous QMP event */
    QHIL_EVENT_FAILURE,       /* step, line, verdict, text: one failure;
                                 a test records every failure it sees;
                                 how: a QHIL_FAILURE_* (v2) */
    /* v2: */
    QHIL_EVENT_QEMU_WARNING, /* text/len: one line QEMU wrote to its
                                stdout or stderr (qemu.log), without its
                                LF; cut as for console lines */
    QHIL_EVENT_FAULT,        /* step, line, text/len: the fault the step
                                injects ("system_reset", "inject-nmi",
                                "write 0x1 to 0x10000000 (4 bytes)") */
} qhil_event_kind;

/* The last kind, for tables indexed by kind. */
#define QHIL_EVENT_KIND_LAST QHIL_EVENT_FAULT

/* FAILURE events' how.  The test's reason (its verdict, step and
 * message, result.h) is its first failure, unless a later one is
 * QHIL_FAILURE_CAUSE or _INTERRUPTED: that one explains the ones before
 * it (the test's deadline came during the step that timed out; the run
 * was interrupted and the signal also reached QEMU) and takes over. */
enum {
    QHIL_FAILURE_PLAIN = 0,
    QHIL_FAILURE_CAUSE = 1,
    QHIL_FAILURE_INTERRUPTED = 2, /* a cause, and the test is marked
                                     interrupted */
};

/* Console lines are delivered in pieces of at most this many bytes. */
#define QHIL_EVENT_LINE_MAX 4096

typedef struct qhil_event {
    qhil_event_kind kind;
    int64_t wall_ns;    /* since the test started */
    int64_t virtual_ns; /* the guest's clock; -1 when the machine cannot
                           tell (Debian's QEMU) */
    const char *test;   /* the test's name */
    size_t step;        /* 1-based step, 0 outside the steps */
    int line;           /* the suite line of that step, 0 if none */
    const char *port;   /* the console: "console" */
    const char *text;   /* bytes, not NUL-terminated: see len */
    size_t len;
    int cut;             /* CONSOLE_LINE: more of this line follows */
    uint64_t offset;     /* CONSOLE_LINE, MATCH, FAIL_MATCH: offset of
                            text's first byte in the console log */
    const char *pattern; /* MATCH, FAIL_MATCH */
    const json_t *json;  /* MACHINE_START, QMP_* */
    qhil_verdict verdict;
    int64_t duration_ns;
    long pid;
    int how; /* MACHINE_END: qhil_machine_end; FAILURE: QHIL_FAILURE_* */
    int status;
    const char *const *argv; /* MACHINE_START: QEMU's command line as
                                the job built it, NULL-terminated (the
                                harness wiring, qhil_machine_wiring,
                                follows it) */
    unsigned attempt;        /* of a retried test (runner.h: retry): 1
                                for the first run, 2 for the first
                                retry...; 0 is 1.  In JSON only when
                                over 1. */
} qhil_event;

typedef void (*qhil_event_fn)(void *data, const qhil_event *ev);

/* Static "test_start", "console_line", ...; "?" for an unknown kind. */
const char *qhil_event_kind_name(qhil_event_kind kind);

/*
 * The event as a JSON object, a self-contained copy (docs/events.md):
 * {"v": 1, "kind": "console_line", "wall_ns": 1200345, "virtual_ns":
 * null, "test": "boots", "step": 2, "port": "console", "offset": 812,
 * "len": 13, "text": "Hello, QEMU!\r"}.  Text that is not UTF-8 is
 * written with each bad byte as U+FFFD and "text_exact": false (the
 * console log has the bytes, at offset).  *out: new reference, caller
 * json_decref()s.  QHIL_ENOMEM only.
 */
int qhil_event_to_json(const qhil_event *ev, json_t **out, qhil_error *err);

/*
 * A sink that writes each event as one line of JSON (JSON Lines) to a
 * file, as it comes, so that a tool can follow a run live: path "-" is
 * the standard output (then nothing else may write there); an existing
 * FIFO or character device (a reader following the run: mkfifo) is
 * written as it is; anything else is a new file made with
 * O_EXCL|O_NOFOLLOW (an existing file or a symlink is refused, never
 * replaced or followed).  A FIFO with no reader fails at once (EPIPE).  Each line is written whole with one write(2) and never
 * buffered, so a crash of the writer loses no finished event.  A write
 * that fails (disk full, the reader gone: EPIPE) stops the sink; the
 * error is kept for qhil_event_sink_close.  *out: caller closes.
 */
typedef struct qhil_event_sink qhil_event_sink;

int qhil_event_sink_open(const char *path, qhil_event_sink **out,
                         qhil_error *err);
/* A qhil_event_fn: data is the sink. */
void qhil_event_sink_write(void *data, const qhil_event *ev);
/* Close the sink; returns the first write error, if any ("FILE: write:
 * No space left on device"), else QHIL_EOK.  NULL is fine. */
int qhil_event_sink_close(qhil_event_sink *s, qhil_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_EVENT_H */
