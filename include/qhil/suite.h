/*
 * qhil/suite.h - test suites: the YAML a firmware engineer writes.
 *
 *   device_type: mps2-an385            # board template to use
 *   images:
 *     kernel: firmware/build/mps2-an385/hello.elf
 *   timeout: 10s                       # default per-step timeout
 *   fail_on: [HardFault, "Kernel panic"]   # ends a test at once
 *   limits: {console: 64MiB, qemu_log: 64MiB}  # per-test log caps
 *   tags: [smoke]                      # every test has these tags
 *   retry: 2                           # a failed test runs again, up
 *                                      # to 2 more times (runner.h)
 *   context:                           # job context (docs/site.md)
 *     extra_options: [-icount, shift=0]
 *   tests:
 *     - name: boots
 *       timeout: 30s                   # whole-test deadline (optional)
 *       fail_on: [...]                 # added to the suite's list
 *       limits: {console: 1GiB}        # overrides the suite's, per key
 *       tags: [boot, slow]             # added to the suite's (--tag)
 *       retry: 0                       # this test's, over the suite's
 *       steps:
 *         - expect: "Hello, QEMU!"     # PCRE2 pattern
 *         - expect: {pattern: "count=\\d+", timeout: 2s}
 *         - send: "echo hi\n"          # bytes, as written
 *         - sendline: "echo hi"        # text plus "\n"
 *         - qmp: system_reset          # command with no arguments
 *         - qmp: {execute: query-status, arguments: {},
 *                 expect: {status: running}}     # subset match on reply
 *         - qmp: {execute: bogus, expect_error: CommandNotFound}
 *         - reset                      # same as qmp: system_reset
 *         - wait: 200ms                # let time pass, console watched
 *
 * Device tests over QTest (see docs/suites.md):
 *
 *   accel: qtest        # no CPU; virtual time moves only by clock_step
 *   qtest: true         # or: a QTest socket beside the running firmware
 *   trace: [banana_rom_*]               # QEMU trace events, to qemu.log
 *   tests:
 *     - name: timer
 *       trace: [qhil_timer_*]           # added to the suite's list
 *       steps:
 *         - irq_intercept: /machine/qhil-irqchip      # or {out: PATH}
 *         - write: {addr: 0x4001010, value: 1000}  # size 4 by default
 *         - read: {addr: 0x4001000, expect: 0x51A7E001, mask: 0xffffffff}
 *         - clock_step: 999ns           # or "next": to the next timer
 *         - expect_irq: {line: 12, level: low}
 *
 * Relative image paths are resolved against the suite file's folder first,
 * then against the current working directory; a path found in neither is
 * an error naming the suite line and both places tried.  An image must be
 * a regular, readable, non-empty file (a directory, FIFO, device or
 * symlink loop is refused as such); the kinds a board slot accepts are
 * checked by qhil_board_argv.
 *
 * Parsing checks everything it can before any QEMU starts: unknown keys,
 * unknown steps, bad durations, patterns that do not compile as PCRE2,
 * missing or unusable images, nesting deeper than 64 levels and alias
 * bombs (see lib/yamlutil.h).  Every error carries file, line and the
 * field.
 */
#ifndef QHIL_SUITE_H
#define QHIL_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum qhil_step_kind {
    QHIL_STEP_EXPECT,
    QHIL_STEP_SEND,  /* send and sendline both; text holds the bytes */
    QHIL_STEP_QMP,   /* reset is parsed as qmp system_reset */
    QHIL_STEP_WAIT,
    /* QTest steps: need "qtest: true" or "accel: qtest" in the suite */
    QHIL_STEP_READ,          /* read addr (size), compare under mask */
    QHIL_STEP_WRITE,         /* write value to addr (size) */
    QHIL_STEP_CLOCK_STEP,    /* advance virtual time (accel: qtest) */
    QHIL_STEP_IRQ_INTERCEPT, /* watch a device's GPIO lines */
    QHIL_STEP_EXPECT_IRQ,    /* an intercepted line is at a level */
} qhil_step_kind;

/* How a suite uses QTest. */
typedef enum qhil_qtest_mode {
    QHIL_QTEST_OFF,   /* no QTest socket */
    QHIL_QTEST_TCG,   /* "qtest: true": QTest beside the running CPU */
    QHIL_QTEST_ACCEL, /* "accel: qtest": no CPU, time moves by clock_step */
} qhil_qtest_mode;

/* One step; all pointers owned by the suite.  Read-only for callers.
 * Each kind is parsed, run and described by its entry in the step
 * table (lib/step.c). */
typedef struct qhil_step {
    qhil_step_kind kind;
    int line;            /* line in the suite file */
    char *keyword;       /* as written: "expect", "sendline", "reset"... */
    char *pattern;       /* EXPECT: PCRE2 pattern */
    char *text;          /* SEND: bytes to send (NUL-terminated) */
    size_t text_len;     /* SEND: length of text */
    char *command;       /* QMP: command name */
    json_t *arguments;   /* QMP: arguments object, or NULL */
    json_t *expect;      /* QMP: subset the "return" must contain, or NULL */
    char *expect_error;  /* QMP: error class the reply must carry, or NULL */
    int64_t timeout_ns;  /* EXPECT/QMP: this step's timeout (suite default
                            applied) */
    int64_t duration_ns; /* WAIT: how long; CLOCK_STEP: ns, or -1 for
                            "to the next timer deadline" */
    uint64_t addr;       /* READ/WRITE: guest physical address */
    unsigned size;       /* READ/WRITE: 1, 2, 4 or 8 bytes */
    uint64_t value;      /* READ: expected (if has_value); WRITE: value */
    uint64_t mask;       /* READ: bits compared (all ones by default) */
    int has_value;       /* READ: an expected value was given */
    char *qom_path;      /* IRQ_INTERCEPT: device */
    int intercept_out;   /* IRQ_INTERCEPT: outputs rather than inputs */
    int irq_line;        /* EXPECT_IRQ: line number */
    int irq_level;       /* EXPECT_IRQ: 1 raised, 0 lowered */
    /* Reserved for tests with several machines and serial ports: which
     * machine and which port the step acts on.  Always 0 (the test's one
     * machine, its first serial port) for now; not read by the runner. */
    unsigned machine;
    unsigned port;
} qhil_step;

typedef struct qhil_test {
    char *name;
    int line;
    int64_t timeout_ns; /* whole test, 0 = no test-level limit beyond the
                           steps' own */
    char **fail_on;     /* suite's list plus the test's; n_fail_on items */
    size_t n_fail_on;
    char **trace;       /* QEMU -trace patterns, suite's plus test's */
    size_t n_trace;
    qhil_step *steps;
    size_t n_steps;
    uint64_t console_limit;  /* console.log bytes allowed, 0 = 64 MiB */
    uint64_t qemu_log_limit; /* qemu.log bytes allowed, 0 = 64 MiB */
    char **tags;             /* the suite's tags, then the test's own, each
                                once, in file order; n_tags items, each a
                                word qhil_tag_valid accepts */
    size_t n_tags;
    unsigned retry; /* retries after a failure: the test's retry:, else
                       the suite's, else 0; at most QHIL_RETRY_MAX */
} qhil_test;

/* The most retries a test may have (retry:, qhil run --retry). */
#define QHIL_RETRY_MAX 100

typedef struct qhil_suite_image {
    char *name;   /* "kernel" */
    char *path;   /* resolved path of a regular, non-empty file */
    int line;
} qhil_suite_image;

/* One job context value ("memory: 64M"): one of LAVA's names or a board
 * template's variable.  Which names a job may set is the job layer's
 * decision (job.h): the suite checks only that the name can be one. */
typedef struct qhil_suite_var {
    char *name;
    char *value; /* as written; "true" for no_kvm: true */
    int line;
} qhil_suite_var;

typedef struct qhil_suite {
    char *path;        /* suite file as given */
    char *name;        /* "name:" or the file's base name without .yaml */
    char *device_type;
    int device_type_line;
    qhil_suite_image *images;
    size_t n_images;
    int64_t timeout_ns;  /* default step timeout; 10s when not given */
    qhil_suite_var *context; /* context's values but extra_options, in
                                file order (cpu, machine, memory, ...) */
    size_t n_context;
    char **extra_options; /* context.extra_options */
    size_t n_extra_options;
    int extra_options_line;
    qhil_qtest_mode qtest; /* from "qtest:" and "accel:" */
    qhil_test *tests;
    size_t n_tests;
} qhil_suite;

/*
 * Parse and validate a suite file.  On error *out is NULL and err carries
 * file, line, column and the field ("tests[1].steps[0]: unknown step
 * 'expekt' (known: expect, send, ...)").
 * Caller frees *out with qhil_suite_free.  Reads files; no other blocking.
 */
int qhil_suite_load(const char *path, qhil_suite **out, qhil_error *err);

/* Same from a buffer; name is used in messages and for relative paths. */
int qhil_suite_load_buffer(const char *name, const char *data, size_t len,
                           qhil_suite **out, qhil_error *err);

/* Free a suite; NULL is fine. */
void qhil_suite_free(qhil_suite *suite);

/* Largest tag, in bytes. */
#define QHIL_TAG_MAX 64

/*
 * 1 when tag can be a test's tag: 1 to QHIL_TAG_MAX bytes of
 * [A-Za-z0-9._-] (so it prints as one word, a shell needs no quotes for
 * it and a report can name it as written); 0 otherwise.  *why, when not
 * NULL, gets a static reason on 0.
 */
int qhil_tag_valid(const char *tag, const char **why);

/* 1 when test has tag (byte for byte), 0 when not. */
int qhil_test_has_tag(const qhil_test *test, const char *tag);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_SUITE_H */
