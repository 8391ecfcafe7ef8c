/*
 * step.h - the step table: every step kind of a suite in one place;
 * internal, not installed.
 *
 * One entry per YAML key a step may start with ("expect", "sendline",
 * "reset"...): its name, what it needs, how it is parsed from the suite,
 * how it runs on a machine and how a failure names it.  suite.c looks a
 * step's key up here and calls the entry's parse; runner.c calls the
 * entry's run and describe through qhil_step_entry_of.  Neither knows the
 * kinds one by one.  How to add a kind is in step.c's opening comment.
 */
#ifndef QHIL_STEP_H
#define QHIL_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>
#include <qhil/machine.h>
#include <qhil/report.h>
#include <qhil/suite.h>

#include "yamlutil.h"

/* What a step kind needs; suite.c refuses a step whose suite cannot give
 * it (QTest ones), the others every machine has. */
enum {
    QHIL_STEP_NEEDS_CONSOLE = 1 << 0,     /* the serial console */
    QHIL_STEP_NEEDS_QMP = 1 << 1,         /* the QMP monitor */
    QHIL_STEP_NEEDS_QTEST = 1 << 2,       /* "qtest: true" or "accel: qtest" */
    QHIL_STEP_NEEDS_QTEST_ACCEL = 1 << 3, /* "accel: qtest" (no CPU) */
};

/* What a parse function works with; all borrowed from suite.c. */
typedef struct qhil_step_parser {
    qhil_yaml *y;    /* the suite's document, for positions in messages */
    qhil_error *err; /* where "FILE:LINE:COL: FIELD: reason" goes */
} qhil_step_parser;

/*
 * What a run function gets from the runner for one test; the runner fills
 * the public fields, sets deadline before each step and releases it with
 * qhil_step_ctx_release at the end of the test.
 */
typedef struct qhil_step_ctx {
    qhil_machine *m;       /* the test's machine; borrowed */
    bool qtest_accel;      /* the suite runs with "accel: qtest" */
    int64_t test_deadline; /* the test's deadline, 0 = none */
    int64_t deadline;      /* the running step's deadline (never past the
                              test's) */
    double timeout_multiplier; /* the run's (runner.h), for messages: the
                                  deadline above has it already; 0: 1 */
    /*
     * Record that the running step failed: verdict QHIL_FAIL or
     * QHIL_ERROR with message (borrowed; NULL: "failed").  lost: the
     * machine died or its link broke, cause says how.  interrupted: the
     * run was canceled.  data is handed back to each.
     */
    void (*fail)(void *data, qhil_verdict v, const char *message);
    void (*lost)(void *data, const qhil_error *cause);
    void (*interrupted)(void *data);
    void *data;
    /* Private to step.c: guest memory map (pairs of first/last address)
     * fetched on the first QTest access; NULL until fetched. */
    uint64_t *ranges;
    size_t n_ranges;
    bool ranges_known;
} qhil_step_ctx;

typedef struct qhil_step_entry {
    const char *name;     /* the YAML key */
    qhil_step_kind kind;  /* what parse stores in the step's kind */
    unsigned needs;       /* QHIL_STEP_NEEDS_* */
    bool alone;           /* may be written with no value: "- reset" */
    /*
     * Fill st from value (NULL for a bare "reset"; st->line, keyword and
     * the suite's default timeout_ns are already set).  field names the
     * value in messages ("tests[0].steps[1].expect").  Errors are
     * "FILE:LINE:COL: FIELD: reason", QHIL_EINVAL (QHIL_ENOMEM).  What it
     * stores in st is freed by the suite.
     */
    int (*parse)(qhil_step_parser *sp, const yaml_node_t *value,
                 const char *field, qhil_step *st);
    /*
     * Run st on c->m, waiting at most until c->deadline.  A step that
     * passes records nothing; a failure goes through c->fail, c->lost or
     * c->interrupted.  Returns QHIL_ETIMEDOUT when the step's wait ran
     * out (the runner then checks the test's deadline), else QHIL_EOK.
     */
    int (*run)(qhil_step_ctx *c, const qhil_step *st);
    /* The step as a failure names it ("expect \"Hello\"", "wait 5s");
     * caller frees; NULL only when out of memory. */
    char *(*describe)(const qhil_step *st);
    /* How long the step may take from its start; NULL: st->timeout_ns. */
    int64_t (*timeout)(const qhil_step *st);
} qhil_step_entry;

/* The table, in the order the unknown-step message lists it; *n gets the
 * number of entries.  Static. */
const qhil_step_entry *qhil_step_table(size_t *n);

/* The entry for the YAML key name, or NULL. */
const qhil_step_entry *qhil_step_find(const char *name);

/* The entry a parsed step runs through: the one its keyword names, else
 * the first of its kind; NULL when none. */
const qhil_step_entry *qhil_step_entry_of(const qhil_step *st);

/* "expect, send, sendline, ...": the table's names; caller frees; NULL
 * when out of memory. */
char *qhil_step_names(void);

/* Timeout of st from its start (its entry's timeout, else timeout_ns). */
int64_t qhil_step_timeout(const qhil_step *st);

/* Free what the run functions kept in c (not c itself). */
void qhil_step_ctx_release(qhil_step_ctx *c);

/*
 * Value checks the steps share with the suite's own keys (fail_on,
 * timeout): a PCRE2 pattern the console accepts (copied into *out,
 * caller frees), a timeout above zero.
 */
int qhil_step_parse_pattern(qhil_step_parser *sp, const yaml_node_t *node,
                            const char *field, char **out);
int qhil_step_parse_timeout(qhil_step_parser *sp, const yaml_node_t *node,
                            const char *field, int64_t *ns);

/* "10s", "250ms", "1.5s": short human form of a duration, into buf. */
void qhil_duration_format(int64_t ns, char *buf, size_t n);

#endif /* QHIL_STEP_H */
