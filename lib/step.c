/*
 * step.c - the step table: one entry per step kind of a suite.
 *
 * A suite's step is one YAML key and its value ("expect: Hello").  Each
 * key has one entry in steps[] at the bottom of this file, with its
 * functions just above it:
 *
 *   name      the key; steps[]'s order is the order of the "unknown step
 *             'expekt' (known: ...)" message
 *   kind      the qhil_step_kind the parsed step carries
 *   needs     QHIL_STEP_NEEDS_*: suite.c refuses a QTest step in a suite
 *             without QTest before calling parse
 *   alone     the key may be written by itself, with no value ("- reset")
 *   parse     YAML value -> qhil_step, every check a suite load makes,
 *             errors "FILE:LINE:COL: FIELD: reason" (suite.c)
 *   run       the step on the test's machine, through a qhil_step_ctx the
 *             runner fills: the machine, the test's and the step's
 *             deadlines, and callbacks that record a failure (runner.c)
 *   describe  the step as a failure names it: expect "Hello", wait 5s
 *   timeout   how long it may take, when not its timeout_ns (wait)
 *
 * Life of a step: suite.c reads the key, qhil_step_find -> needs ->
 * parse; runner.c, for each step: deadline from qhil_step_timeout ->
 * run -> (failure) describe.  A run function records its own failures;
 * it returns QHIL_ETIMEDOUT only to say its wait ran out, so that the
 * runner can tell a step timeout from the test's deadline.
 *
 * Adding a step kind: a qhil_step_kind value (and the fields it needs) in
 * include/qhil/suite.h, one entry in steps[] with its parse, run and
 * describe beside it, one test (tests/unit/test_step.c checks the table;
 * a scenario shows it on a machine), one row in docs/suites.md's steps
 * table.  Nothing else in suite.c or runner.c changes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/clock.h>
#include <qhil/console.h>
#include <qhil/qmp.h>
#include <qhil/qtest.h>

#include "internal.h"
#include "step.h"

static int nomem(qhil_step_parser *p)
{
    return qhil_error_set(p->err, QHIL_ENOMEM, "out of memory");
}

static const char *const expect_keys[] = {"pattern", "timeout", NULL};
static const char *const qmp_keys[] = {
    "execute", "arguments", "expect", "expect_error", "timeout", NULL,
};
static const char *const read_keys[] = {
    "addr", "size", "expect", "mask", NULL,
};
static const char *const write_keys[] = {"addr", "size", "value", NULL};
static const char *const intercept_keys[] = {"in", "out", NULL};
static const char *const expect_irq_keys[] = {
    "line",
    "level",
    "timeout",
    NULL,
};

/* ---- parsing ---- */

static int check_pattern(qhil_step_parser *p, const yaml_node_t *node,
                         const char *field, const char *pattern)
{
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_console_pattern_check(pattern, &e);
    if (rc < 0) {
        rc = qhil_yaml_fail(p->y, node, field, p->err, rc, "%s",
                            e.message ? e.message : "invalid pattern");
    }
    qhil_error_release(&e);
    return rc;
}

static int load_pattern(qhil_step_parser *p, const yaml_node_t *node,
                        const char *field, char **out)
{
    int rc = qhil_yaml_string(p->y, node, field, "a pattern", out, p->err);

    if (rc < 0) {
        return rc;
    }
    return check_pattern(p, node, field, *out);
}

/* A timeout: a duration above zero. */
static int load_timeout(qhil_step_parser *p, const yaml_node_t *node,
                        const char *field, int64_t *ns)
{
    int rc = qhil_yaml_duration(p->y, node, field, ns, p->err);

    if (rc < 0) {
        return rc;
    }
    if (*ns <= 0) {
        return qhil_yaml_fail(p->y, node, field, p->err, QHIL_EINVAL,
                              "a timeout must be longer than 0");
    }
    return QHIL_EOK;
}

static int parse_expect(qhil_step_parser *p, const yaml_node_t *value,
                        const char *field, qhil_step *st)
{
    const yaml_node_t *node;
    char *sub = NULL;
    int rc;

    if (!value || value->type != YAML_MAPPING_NODE) {
        return load_pattern(p, value, field, &st->pattern);
    }
    rc = qhil_yaml_check_keys(p->y, value, field, expect_keys, p->err);
    if (rc < 0) {
        return rc;
    }
    node = qhil_yaml_get(p->y, value, "pattern");
    if (!node) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "missing 'pattern'");
    }
    sub = qhil_field(field, ".pattern");
    if (!sub) {
        return nomem(p);
    }
    rc = load_pattern(p, node, sub, &st->pattern);
    free(sub);
    if (rc < 0) {
        return rc;
    }
    node = qhil_yaml_get(p->y, value, "timeout");
    if (node) {
        sub = qhil_field(field, ".timeout");
        if (!sub) {
            return nomem(p);
        }
        rc = load_timeout(p, node, sub, &st->timeout_ns);
        free(sub);
    }
    return rc;
}

static int load_text(qhil_step_parser *p, const yaml_node_t *value,
                     const char *field, qhil_step *st, int line_end)
{
    const char *text;
    size_t len;

    text = qhil_yaml_scalar(value, &len);
    if (!text || qhil_yaml_is_null(value)) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "expected text to send, got %s",
                              qhil_yaml_kind(value));
    }
    if (len == 0 && !line_end) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "nothing to send (use sendline: \"\" to send "
                              "just a newline)");
    }
    st->text = malloc(len + 2);
    if (!st->text) {
        return nomem(p);
    }
    memcpy(st->text, text, len);
    if (line_end) {
        st->text[len++] = '\n';
    }
    st->text[len] = '\0';
    st->text_len = len;
    return QHIL_EOK;
}

/* QMP command names: letters, digits, '-', '_' and '.' (downstream). */
static int valid_command(const char *s)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr("-_.", *s)) {
            return 0;
        }
    }
    return 1;
}

static int load_command(qhil_step_parser *p, const yaml_node_t *node,
                        const char *field, qhil_step *st)
{
    int rc = qhil_yaml_string(p->y, node, field, "a QMP command name",
                              &st->command, p->err);

    if (rc < 0) {
        return rc;
    }
    if (!valid_command(st->command)) {
        return qhil_yaml_fail(p->y, node, field, p->err, QHIL_EINVAL,
                              "'%s' is not a QMP command name (letters, "
                              "digits, '-', '_' and '.')",
                              st->command);
    }
    return QHIL_EOK;
}

static int parse_qmp(qhil_step_parser *p, const yaml_node_t *value,
                     const char *field, qhil_step *st)
{
    const yaml_node_t *node;
    const yaml_node_t *expect;
    char *sub = NULL;
    int rc;

    if (!value || value->type != YAML_MAPPING_NODE) {
        return load_command(p, value, field, st);
    }
    rc = qhil_yaml_check_keys(p->y, value, field, qmp_keys, p->err);
    if (rc < 0) {
        return rc;
    }
    node = qhil_yaml_get(p->y, value, "execute");
    if (!node) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "missing 'execute' (the QMP command name)");
    }
    sub = qhil_field(field, ".execute");
    rc = sub ? load_command(p, node, sub, st) : nomem(p);
    if (rc < 0) {
        goto cleanup;
    }
    node = qhil_yaml_get(p->y, value, "arguments");
    if (node && !qhil_yaml_is_null(node)) {
        free(sub);
        sub = qhil_field(field, ".arguments");
        if (!sub) {
            rc = nomem(p);
            goto cleanup;
        }
        rc = qhil_yaml_want_mapping(
            p->y, node, sub, "a mapping of argument names to values", p->err);
        if (rc < 0) {
            goto cleanup;
        }
        rc = qhil_yaml_to_json(p->y, node, sub, &st->arguments, p->err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    expect = qhil_yaml_get(p->y, value, "expect");
    node = qhil_yaml_get(p->y, value, "expect_error");
    if (expect && node) {
        rc = qhil_yaml_fail(p->y, node, field, p->err, QHIL_EINVAL,
                            "give either 'expect' or 'expect_error', not "
                            "both");
        goto cleanup;
    }
    if (expect) {
        free(sub);
        sub = qhil_field(field, ".expect");
        if (!sub) {
            rc = nomem(p);
            goto cleanup;
        }
        rc = qhil_yaml_to_json(p->y, expect, sub, &st->expect, p->err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    if (node) {
        free(sub);
        sub = qhil_field(field, ".expect_error");
        if (!sub) {
            rc = nomem(p);
            goto cleanup;
        }
        rc = qhil_yaml_string(p->y, node, sub,
                              "a QMP error class such as GenericError",
                              &st->expect_error, p->err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    node = qhil_yaml_get(p->y, value, "timeout");
    if (node) {
        free(sub);
        sub = qhil_field(field, ".timeout");
        if (!sub) {
            rc = nomem(p);
            goto cleanup;
        }
        rc = load_timeout(p, node, sub, &st->timeout_ns);
    }

cleanup:
    free(sub);
    return rc;
}

static int parse_reset(qhil_step_parser *p, const yaml_node_t *value,
                       const char *field, qhil_step *st)
{
    if (value && !qhil_yaml_is_null(value)) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "reset takes no value, got %s",
                              qhil_yaml_kind(value));
    }
    st->command = strdup("system_reset");
    return st->command ? QHIL_EOK : nomem(p);
}

static int parse_wait(qhil_step_parser *p, const yaml_node_t *value,
                      const char *field, qhil_step *st)
{
    return qhil_yaml_duration(p->y, value, field, &st->duration_ns, p->err);
}

static int load_u64(qhil_step_parser *p, const yaml_node_t *node,
                    const char *field, const char *what, uint64_t *out)
{
    const char *text = qhil_yaml_scalar(node, NULL);
    const char *digits;
    char *end = NULL;
    int base = 10;

    if (!text || qhil_yaml_is_null(node) || !qhil_yaml_is_plain(node)) {
        return qhil_yaml_fail(
            p->y, node, field, p->err, QHIL_EINVAL,
            "expected %s (a number such as 0x4000000), "
            "got %s",
            what, node && text ? "a quoted string" : qhil_yaml_kind(node));
    }
    digits = text;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        digits = text + 2;
    } else if (text[0] == '0' && (text[1] == 'o' || text[1] == 'O')) {
        base = 8;
        digits = text + 2;
    } else if (text[0] == '0' && (text[1] == 'b' || text[1] == 'B')) {
        base = 2;
        digits = text + 2;
    }
    errno = 0;
    *out = strtoull(digits, &end, base);
    if (!*digits || !isxdigit((unsigned char)*digits) || *end ||
        errno == ERANGE) {
        return qhil_yaml_fail(p->y, node, field, p->err, QHIL_EINVAL,
                              "'%s' is not %s (an unsigned 64-bit number)",
                              text, what);
    }
    return QHIL_EOK;
}

/* Get key of map as an unsigned number; required or not. */
static int load_key_u64(qhil_step_parser *p, const yaml_node_t *map,
                        const char *key, const char *field, const char *what,
                        int required, uint64_t *out, int *found)
{
    const yaml_node_t *node = qhil_yaml_get(p->y, map, key);
    char *sub;
    int rc;

    if (found) {
        *found = node != NULL;
    }
    if (!node) {
        if (!required) {
            return QHIL_EOK;
        }
        return qhil_yaml_fail(p->y, map, field, p->err, QHIL_EINVAL,
                              "missing '%s' (%s)", key, what);
    }
    sub = qhil_field(field, ".%s", key);
    if (!sub) {
        return nomem(p);
    }
    rc = load_u64(p, node, sub, what, out);
    free(sub);
    return rc;
}

/* addr and size shared by read and write. */
static int load_access(qhil_step_parser *p, const yaml_node_t *value,
                       const char *field, qhil_step *st)
{
    uint64_t size = 4;
    int rc;

    rc = load_key_u64(p, value, "addr", field, "a guest physical address", 1,
                      &st->addr, NULL);
    if (rc == QHIL_EOK) {
        rc = load_key_u64(p, value, "size", field, "an access size", 0, &size,
                          NULL);
    }
    if (rc < 0) {
        return rc;
    }
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return qhil_yaml_fail(p->y, qhil_yaml_get(p->y, value, "size"), field,
                              p->err, QHIL_EINVAL,
                              "size %llu is not an access size (1, 2, 4 "
                              "or 8 bytes)",
                              (unsigned long long)size);
    }
    if (st->addr + (size - 1) < st->addr) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "a %u-byte access at 0x%llx wraps around",
                              (unsigned)size, (unsigned long long)st->addr);
    }
    st->size = (unsigned)size;
    return QHIL_EOK;
}

static uint64_t size_mask(unsigned size)
{
    return size == 8 ? UINT64_MAX : ((uint64_t)1 << (size * 8)) - 1;
}

static int parse_read(qhil_step_parser *p, const yaml_node_t *value,
                      const char *field, qhil_step *st)
{
    int has_mask = 0;
    int rc;

    rc = qhil_yaml_want_mapping(p->y, value, field,
                                "{addr: ADDRESS, expect: VALUE}", p->err);
    if (rc == QHIL_EOK) {
        rc = qhil_yaml_check_keys(p->y, value, field, read_keys, p->err);
    }
    if (rc == QHIL_EOK) {
        rc = load_access(p, value, field, st);
    }
    if (rc == QHIL_EOK) {
        rc = load_key_u64(p, value, "expect", field, "the expected value", 0,
                          &st->value, &st->has_value);
    }
    if (rc == QHIL_EOK) {
        rc = load_key_u64(p, value, "mask", field, "a bit mask", 0, &st->mask,
                          &has_mask);
    }
    if (rc < 0) {
        return rc;
    }
    if (!has_mask) {
        st->mask = size_mask(st->size);
    }
    if (has_mask && !st->has_value) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "'mask' needs 'expect'");
    }
    if (st->has_value && (st->value & ~size_mask(st->size))) {
        return qhil_yaml_fail(p->y, qhil_yaml_get(p->y, value, "expect"), field,
                              p->err, QHIL_EINVAL,
                              "expected value 0x%llx does not fit in %u "
                              "byte%s",
                              (unsigned long long)st->value, st->size,
                              st->size == 1 ? "" : "s");
    }
    return QHIL_EOK;
}

static int parse_write(qhil_step_parser *p, const yaml_node_t *value,
                       const char *field, qhil_step *st)
{
    int rc;

    rc = qhil_yaml_want_mapping(p->y, value, field,
                                "{addr: ADDRESS, value: VALUE}", p->err);
    if (rc == QHIL_EOK) {
        rc = qhil_yaml_check_keys(p->y, value, field, write_keys, p->err);
    }
    if (rc == QHIL_EOK) {
        rc = load_access(p, value, field, st);
    }
    if (rc == QHIL_EOK) {
        rc = load_key_u64(p, value, "value", field, "the value to write", 1,
                          &st->value, NULL);
    }
    if (rc == QHIL_EOK && (st->value & ~size_mask(st->size))) {
        rc = qhil_yaml_fail(
            p->y, qhil_yaml_get(p->y, value, "value"), field, p->err,
            QHIL_EINVAL, "value 0x%llx does not fit in %u byte%s",
            (unsigned long long)st->value, st->size, st->size == 1 ? "" : "s");
    }
    return rc;
}

static int parse_clock_step(qhil_step_parser *p, const yaml_node_t *value,
                            const char *field, qhil_step *st)
{
    const char *text = qhil_yaml_scalar(value, NULL);

    if (text && !strcmp(text, "next")) {
        st->duration_ns = -1;
        return QHIL_EOK;
    }
    return qhil_yaml_duration(p->y, value, field, &st->duration_ns, p->err);
}

/* QOM paths: absolute, no blanks (QTest splits its lines on them). */
static int load_qom_path(qhil_step_parser *p, const yaml_node_t *node,
                         const char *field, char **out)
{
    int rc = qhil_yaml_string(p->y, node, field,
                              "a QOM path such as /machine/qhil-irqchip", out,
                              p->err);
    const char *c;

    if (rc < 0) {
        return rc;
    }
    for (c = *out; *c; c++) {
        if (isspace((unsigned char)*c) || !isprint((unsigned char)*c)) {
            break;
        }
    }
    if ((*out)[0] != '/' || *c) {
        return qhil_yaml_fail(p->y, node, field, p->err, QHIL_EINVAL,
                              "'%s' is not a QOM path (absolute, no blanks, "
                              "e.g. /machine/qhil-irqchip)",
                              *out);
    }
    return QHIL_EOK;
}

static int parse_irq_intercept(qhil_step_parser *p, const yaml_node_t *value,
                               const char *field, qhil_step *st)
{
    const yaml_node_t *in;
    const yaml_node_t *out;
    char *sub;
    int rc;

    if (!value || value->type != YAML_MAPPING_NODE) {
        return load_qom_path(p, value, field, &st->qom_path);
    }
    rc = qhil_yaml_check_keys(p->y, value, field, intercept_keys, p->err);
    if (rc < 0) {
        return rc;
    }
    in = qhil_yaml_get(p->y, value, "in");
    out = qhil_yaml_get(p->y, value, "out");
    if (!in == !out) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "give exactly one of 'in' (a device's input "
                              "lines) or 'out' (its output lines)");
    }
    st->intercept_out = out != NULL;
    sub = qhil_field(field, out ? ".out" : ".in");
    if (!sub) {
        return nomem(p);
    }
    rc = load_qom_path(p, out ? out : in, sub, &st->qom_path);
    free(sub);
    return rc;
}

static int parse_expect_irq(qhil_step_parser *p, const yaml_node_t *value,
                            const char *field, qhil_step *st)
{
    const yaml_node_t *node;
    uint64_t line;
    const char *level;
    char *sub;
    int rc;

    rc = qhil_yaml_want_mapping(p->y, value, field, "{line: N, level: high}",
                                p->err);
    if (rc == QHIL_EOK) {
        rc = qhil_yaml_check_keys(p->y, value, field, expect_irq_keys, p->err);
    }
    if (rc == QHIL_EOK) {
        rc = load_key_u64(p, value, "line", field, "an IRQ line number", 1,
                          &line, NULL);
    }
    if (rc < 0) {
        return rc;
    }
    if (line > 65535) {
        return qhil_yaml_fail(p->y, qhil_yaml_get(p->y, value, "line"), field,
                              p->err, QHIL_EINVAL,
                              "IRQ line %llu is out of range (0 to 65535)",
                              (unsigned long long)line);
    }
    st->irq_line = (int)line;
    node = qhil_yaml_get(p->y, value, "level");
    level = node ? qhil_yaml_scalar(node, NULL) : NULL;
    if (!node) {
        return qhil_yaml_fail(p->y, value, field, p->err, QHIL_EINVAL,
                              "missing 'level' (high or low)");
    }
    if (level && (!strcmp(level, "high") || !strcmp(level, "raised"))) {
        st->irq_level = 1;
    } else if (level && (!strcmp(level, "low") || !strcmp(level, "lowered"))) {
        st->irq_level = 0;
    } else {
        return qhil_yaml_fail(p->y, node, field, p->err, QHIL_EINVAL,
                              "level must be high or low, got '%s'",
                              level ? level : qhil_yaml_kind(node));
    }
    node = qhil_yaml_get(p->y, value, "timeout");
    if (!node) {
        return QHIL_EOK;
    }
    sub = qhil_field(field, ".timeout");
    if (!sub) {
        return nomem(p);
    }
    rc = load_timeout(p, node, sub, &st->timeout_ns);
    free(sub);
    return rc;
}
static int parse_send(qhil_step_parser *p, const yaml_node_t *value,
                      const char *field, qhil_step *st)
{
    return load_text(p, value, field, st, 0);
}

static int parse_sendline(qhil_step_parser *p, const yaml_node_t *value,
                          const char *field, qhil_step *st)
{
    return load_text(p, value, field, st, 1);
}

int qhil_step_parse_pattern(qhil_step_parser *sp, const yaml_node_t *node,
                            const char *field, char **out)
{
    return load_pattern(sp, node, field, out);
}

int qhil_step_parse_timeout(qhil_step_parser *sp, const yaml_node_t *node,
                            const char *field, int64_t *ns)
{
    return load_timeout(sp, node, field, ns);
}

/* ---- describing ---- */

void qhil_duration_format(int64_t ns, char *buf, size_t n)
{
    if (ns % QHIL_SEC == 0) {
        snprintf(buf, n, "%llds", (long long)(ns / QHIL_SEC));
    } else if (ns < QHIL_SEC && ns % QHIL_MSEC == 0) {
        snprintf(buf, n, "%lldms", (long long)(ns / QHIL_MSEC));
    } else if (ns < QHIL_MSEC && ns % QHIL_USEC == 0) {
        snprintf(buf, n, "%lldus", (long long)(ns / QHIL_USEC));
    } else if (ns < QHIL_USEC) {
        snprintf(buf, n, "%lldns", (long long)ns);
    } else {
        snprintf(buf, n, "%.3gs", (double)ns / (double)QHIL_SEC);
    }
}

static char *describe_expect(const qhil_step *st)
{
    char *s = NULL;

    return asprintf(&s, "expect \"%s\"", st->pattern) < 0 ? NULL : s;
}

/* send "..." / sendline "...\n": the first 200 bytes, escaped. */
static char *describe_send(const qhil_step *st)
{
    qhil_buf b;
    size_t i;

    qhil_buf_init(&b, 4096);
    qhil_buf_printf(&b, "%s \"", st->keyword);
    for (i = 0; i < st->text_len && i < 200; i++) {
        unsigned char c = (unsigned char)st->text[i];

        if (c == '\n') {
            qhil_buf_puts(&b, "\\n");
        } else if (c == '\r') {
            qhil_buf_puts(&b, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            qhil_buf_printf(&b, "\\x%02x", c);
        } else {
            qhil_buf_append(&b, &c, 1);
        }
    }
    qhil_buf_puts(&b, "\"");
    return qhil_buf_steal(&b);
}

static char *describe_qmp(const qhil_step *st)
{
    char *s = NULL;

    return asprintf(&s, "qmp %s", st->command) < 0 ? NULL : s;
}

static char *describe_reset(const qhil_step *st)
{
    return strdup(st->keyword ? st->keyword : "reset");
}

static char *describe_wait(const qhil_step *st)
{
    char dur[32];
    char *s = NULL;

    qhil_duration_format(st->duration_ns, dur, sizeof(dur));
    return asprintf(&s, "wait %s", dur) < 0 ? NULL : s;
}

static char *describe_read(const qhil_step *st)
{
    char *s = NULL;

    return asprintf(&s, "read 0x%llx (%u bytes)", (unsigned long long)st->addr,
                    st->size) < 0
               ? NULL
               : s;
}

static char *describe_write(const qhil_step *st)
{
    char *s = NULL;

    return asprintf(&s, "write 0x%llx to 0x%llx (%u bytes)",
                    (unsigned long long)st->value, (unsigned long long)st->addr,
                    st->size) < 0
               ? NULL
               : s;
}

static char *describe_clock_step(const qhil_step *st)
{
    char dur[32];
    char *s = NULL;

    if (st->duration_ns < 0) {
        return strdup("clock_step next");
    }
    qhil_duration_format(st->duration_ns, dur, sizeof(dur));
    return asprintf(&s, "clock_step %s", dur) < 0 ? NULL : s;
}

static char *describe_irq_intercept(const qhil_step *st)
{
    char *s = NULL;

    return asprintf(&s, "irq_intercept %s %s", st->intercept_out ? "out" : "in",
                    st->qom_path) < 0
               ? NULL
               : s;
}

static char *describe_expect_irq(const qhil_step *st)
{
    char *s = NULL;

    return asprintf(&s, "expect_irq line %d %s", st->irq_line,
                    st->irq_level ? "high" : "low") < 0
               ? NULL
               : s;
}

static int64_t timeout_wait(const qhil_step *st)
{
    return st->duration_ns;
}

/* ---- running ---- */

/* Message for a step's own deadline that passed ("pattern not seen
 * within 5s"); the test's deadline is the runner's. */
static void timeout_message(const qhil_step_ctx *c, int64_t step_timeout,
                            const char *what, char **msg)
{
    char dur[32];

    if (c->timeout_multiplier > 1) {
        step_timeout = (int64_t)((double)step_timeout * c->timeout_multiplier);
    }
    qhil_duration_format(step_timeout, dur, sizeof(dur));
    if (asprintf(msg, "%s within %s", what, dur) < 0) {
        *msg = NULL;
    }
}

/* JSON text for a message, cut to max bytes. */
static char *json_short(const json_t *j, size_t max)
{
    char *s =
        j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");

    if (s && strlen(s) > max) {
        strcpy(s + max - 3, "...");
    }
    return s;
}

/*
 * How a console call ended, as a verdict: canceled, the machine gone,
 * a pattern PCRE2 could not run (ERROR: no verdict on the guest), any
 * other failure (FAIL, with msg when the step has a better one than
 * e's).  Returns QHIL_ETIMEDOUT when the call ran out of time.
 */
static int console_outcome(qhil_step_ctx *c, int rc, const qhil_error *e,
                           const char *msg)
{
    if (rc == QHIL_ECANCELED) {
        c->interrupted(c->data);
    } else if (rc == QHIL_EEOF) {
        c->lost(c->data, e);
    } else if (rc == QHIL_EPATTERN) {
        c->fail(c->data, QHIL_ERROR, e->message);
    } else if (rc < 0) {
        c->fail(c->data, QHIL_FAIL, msg ? msg : e->message);
    }
    return rc == QHIL_ETIMEDOUT ? QHIL_ETIMEDOUT : QHIL_EOK;
}

static int run_expect(qhil_step_ctx *c, const qhil_step *st)
{
    qhil_console *con = qhil_machine_console(c->m);
    char *msg = NULL;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_console_expect(con, st->pattern, c->deadline, NULL, &e);
    if (rc == QHIL_ETIMEDOUT) {
        /* The console's detail (what was still open, what was
         * dropped) follows its "before the deadline". */
        const char *tail =
            e.message ? strstr(e.message, "before the deadline") : NULL;
        char *base = NULL;

        timeout_message(c, st->timeout_ns, "pattern not seen", &base);
        if (base && tail &&
            asprintf(&msg, "%s%s", base,
                     tail + strlen("before the deadline")) >= 0) {
            free(base);
        } else {
            msg = base;
        }
    }
    rc = console_outcome(c, rc, &e, msg);
    free(msg);
    qhil_error_release(&e);
    return rc;
}

static int run_send(qhil_step_ctx *c, const qhil_step *st)
{
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_console_send(qhil_machine_console(c->m), st->text, st->text_len,
                           c->deadline, &e);
    rc = console_outcome(c, rc, &e, NULL);
    qhil_error_release(&e);
    return rc;
}

static int run_wait(qhil_step_ctx *c, const qhil_step *st)
{
    qhil_error e;
    int out;
    int rc;

    (void)st;
    qhil_error_init(&e);
    rc = qhil_console_wait(qhil_machine_console(c->m), c->deadline, &e);
    /* A wait always runs to its deadline. */
    out = rc == QHIL_EOK ? QHIL_ETIMEDOUT : console_outcome(c, rc, &e, NULL);
    qhil_error_release(&e);
    return out;
}

/* qmp and reset. */
static int run_qmp(qhil_step_ctx *c, const qhil_step *st)
{
    qhil_qmp *qmp = qhil_machine_qmp(c->m);
    json_t *ret = NULL;
    char *msg = NULL;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_qmp_execute(qmp, st->command, st->arguments, &ret, c->deadline,
                          &e);
    if (rc == QHIL_ECMD) {
        if (st->expect_error && e.kind &&
            strcmp(st->expect_error, e.kind) == 0) {
            goto cleanup;
        }
        if (st->expect_error) {
            if (asprintf(&msg, "QMP error %s, expected error class %s",
                         e.message, st->expect_error) < 0) {
                msg = NULL;
            }
        } else if (asprintf(&msg, "QEMU rejected the command: %s", e.message) <
                   0) {
            msg = NULL;
        }
        c->fail(c->data, QHIL_FAIL, msg ? msg : e.message);
    } else if (rc == QHIL_ECANCELED) {
        c->interrupted(c->data);
    } else if (rc == QHIL_ETIMEDOUT) {
        timeout_message(c, st->timeout_ns, "no QMP reply", &msg);
        c->fail(c->data, QHIL_FAIL, msg);
    } else if (rc < 0) {
        c->lost(c->data, &e);
    } else if (st->expect_error) {
        if (asprintf(&msg, "QMP command succeeded, expected error class %s",
                     st->expect_error) < 0) {
            msg = NULL;
        }
        c->fail(c->data, QHIL_FAIL, msg);
    } else if (st->expect && !qhil_json_subset(st->expect, ret)) {
        char *want = json_short(st->expect, 300);
        char *got = json_short(ret, 300);

        if (asprintf(&msg, "QMP reply %s does not contain %s", got ? got : "?",
                     want ? want : "?") < 0) {
            msg = NULL;
        }
        free(want);
        free(got);
        c->fail(c->data, QHIL_FAIL, msg);
    }

cleanup:
    free(msg);
    json_decref(ret);
    qhil_error_release(&e);
    return rc == QHIL_ETIMEDOUT ? QHIL_ETIMEDOUT : QHIL_EOK;
}

/*
 * Read the flat memory map of address space "memory" from HMP's
 * "info mtree -f": lines "  0000000004000000-00000000040000ff (prio 0,
 * i/o): banana-rom" after the FlatView header that lists AS "memory".
 * When anything is off the map stays unknown and accesses are not
 * checked.
 */
static void load_memory_map(qhil_step_ctx *c)
{
    json_t *args = json_pack("{s:s}", "command-line", "info mtree -f");
    json_t *ret = NULL;
    const char *text;
    const char *line;
    bool in_memory = false;
    int64_t deadline = qhil_deadline_in(5 * QHIL_SEC);

    if (c->test_deadline && c->test_deadline < deadline) {
        deadline = c->test_deadline;
    }
    c->ranges_known = true;
    if (!args ||
        qhil_qmp_execute(qhil_machine_qmp(c->m), "human-monitor-command", args,
                         &ret, deadline, NULL) < 0 ||
        !(text = json_string_value(ret))) {
        goto out;
    }
    for (line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        unsigned long long first;
        unsigned long long last;
        uint64_t *grown;

        if (!strncmp(line, "FlatView", 8)) {
            if (in_memory && c->n_ranges) {
                break;
            }
            in_memory = false;
        } else if (!strncmp(line, " AS \"memory\"", 12)) {
            in_memory = true;
        } else if (in_memory &&
                   sscanf(line, " %llx-%llx (", &first, &last) == 2) {
            /* Adjacent regions form one span (an access may cross). */
            if (c->n_ranges && first == c->ranges[c->n_ranges * 2 - 1] + 1) {
                c->ranges[c->n_ranges * 2 - 1] = last;
                continue;
            }
            grown = realloc(c->ranges, (c->n_ranges + 1) * 2 * sizeof(*grown));
            if (!grown) {
                break;
            }
            c->ranges = grown;
            c->ranges[c->n_ranges * 2] = first;
            c->ranges[c->n_ranges * 2 + 1] = last;
            c->n_ranges++;
        }
    }
out:
    json_decref(args);
    json_decref(ret);
}

/* Is [addr, addr + size) inside mapped memory or MMIO?  true when the
 * map could not be read. */
static bool access_mapped(qhil_step_ctx *c, uint64_t addr, unsigned size)
{
    uint64_t last = addr + size - 1;
    size_t i;

    if (!c->ranges_known) {
        load_memory_map(c);
    }
    if (!c->n_ranges) {
        return true;
    }
    for (i = 0; i < c->n_ranges; i++) {
        if (addr >= c->ranges[i * 2] && last <= c->ranges[i * 2 + 1]) {
            return true;
        }
    }
    return false;
}

static int qtest_read_sized(qhil_qtest *qt, uint64_t addr, unsigned size,
                            uint64_t *value, int64_t deadline, qhil_error *err)
{
    uint8_t b;
    uint16_t w;
    uint32_t l;
    int rc;

    switch (size) {
    case 1:
        rc = qhil_qtest_readb(qt, addr, &b, deadline, err);
        *value = b;
        return rc;
    case 2:
        rc = qhil_qtest_readw(qt, addr, &w, deadline, err);
        *value = w;
        return rc;
    case 4:
        rc = qhil_qtest_readl(qt, addr, &l, deadline, err);
        *value = l;
        return rc;
    default:
        return qhil_qtest_readq(qt, addr, value, deadline, err);
    }
}

static int qtest_write_sized(qhil_qtest *qt, uint64_t addr, unsigned size,
                             uint64_t value, int64_t deadline, qhil_error *err)
{
    switch (size) {
    case 1:
        return qhil_qtest_writeb(qt, addr, (uint8_t)value, deadline, err);
    case 2:
        return qhil_qtest_writew(qt, addr, (uint16_t)value, deadline, err);
    case 4:
        return qhil_qtest_writel(qt, addr, (uint32_t)value, deadline, err);
    default:
        return qhil_qtest_writeq(qt, addr, value, deadline, err);
    }
}

/*
 * How a QTest call ended: canceled, the machine gone (EOF, or a reply
 * QTest should never send), else FAIL with the call's message.  Returns
 * QHIL_ETIMEDOUT when the call ran out of time.
 */
static int qtest_outcome(qhil_step_ctx *c, int rc, const qhil_error *e)
{
    if (rc == QHIL_ECANCELED) {
        c->interrupted(c->data);
    } else if (rc == QHIL_EEOF || rc == QHIL_EPROTO) {
        c->lost(c->data, e);
    } else if (rc < 0) {
        c->fail(c->data, QHIL_FAIL, qhil_error_message(e, rc));
        return rc == QHIL_ETIMEDOUT ? QHIL_ETIMEDOUT : QHIL_EOK;
    }
    return QHIL_EOK;
}

/* read and write: refuse an address no region of the machine holds
 * (QEMU would ignore it quietly).  false when the step failed. */
static bool check_mapped(qhil_step_ctx *c, const qhil_step *st)
{
    char *msg = NULL;

    if (access_mapped(c, st->addr, st->size)) {
        return true;
    }
    if (asprintf(&msg,
                 "address 0x%llx (%u bytes) is outside every "
                 "memory region of the machine (see HMP 'info "
                 "mtree -f')",
                 (unsigned long long)st->addr, st->size) < 0) {
        msg = NULL;
    }
    c->fail(c->data, QHIL_FAIL, msg);
    free(msg);
    return false;
}

static int run_read(qhil_step_ctx *c, const qhil_step *st)
{
    uint64_t value = 0;
    char *msg = NULL;
    qhil_error e;
    int rc;

    if (!check_mapped(c, st)) {
        return QHIL_EOK;
    }
    qhil_error_init(&e);
    rc = qtest_read_sized(qhil_machine_qtest(c->m), st->addr, st->size, &value,
                          c->deadline, &e);
    if (rc == QHIL_EOK && st->has_value &&
        (value & st->mask) != (st->value & st->mask)) {
        if (asprintf(&msg, "read 0x%llx, expected 0x%llx (mask 0x%llx)",
                     (unsigned long long)value, (unsigned long long)st->value,
                     (unsigned long long)st->mask) < 0) {
            msg = NULL;
        }
        c->fail(c->data, QHIL_FAIL, msg);
    }
    rc = qtest_outcome(c, rc, &e);
    free(msg);
    qhil_error_release(&e);
    return rc;
}

static int run_write(qhil_step_ctx *c, const qhil_step *st)
{
    qhil_error e;
    int rc;

    if (!check_mapped(c, st)) {
        return QHIL_EOK;
    }
    qhil_error_init(&e);
    rc = qtest_write_sized(qhil_machine_qtest(c->m), st->addr, st->size,
                           st->value, c->deadline, &e);
    rc = qtest_outcome(c, rc, &e);
    qhil_error_release(&e);
    return rc;
}

static int run_clock_step(qhil_step_ctx *c, const qhil_step *st)
{
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_qtest_clock_step(qhil_machine_qtest(c->m), st->duration_ns, NULL,
                               c->deadline, &e);
    rc = qtest_outcome(c, rc, &e);
    qhil_error_release(&e);
    return rc;
}

static int run_irq_intercept(qhil_step_ctx *c, const qhil_step *st)
{
    qhil_qtest *qt = qhil_machine_qtest(c->m);
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = st->intercept_out
             ? qhil_qtest_irq_intercept_out(qt, st->qom_path, c->deadline, &e)
             : qhil_qtest_irq_intercept_in(qt, st->qom_path, c->deadline, &e);
    rc = qtest_outcome(c, rc, &e);
    qhil_error_release(&e);
    return rc;
}

static int run_expect_irq(qhil_step_ctx *c, const qhil_step *st)
{
    char *msg = NULL;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    /* Without a CPU nothing changes between clock steps: look at what
     * QEMU has reported, do not wait. */
    rc = qhil_qtest_wait_irq(qhil_machine_qtest(c->m), st->irq_line,
                             st->irq_level != 0,
                             c->qtest_accel ? qhil_now() : c->deadline, &e);
    if (rc == QHIL_ETIMEDOUT) {
        if (asprintf(&msg, "IRQ line %d is %s, expected %s", st->irq_line,
                     st->irq_level ? "low" : "high",
                     st->irq_level ? "high" : "low") < 0) {
            msg = NULL;
        }
        c->fail(c->data, QHIL_FAIL, msg);
        free(msg);
        qhil_error_release(&e);
        /* In accel mode nothing was waited for. */
        return c->qtest_accel ? QHIL_EOK : QHIL_ETIMEDOUT;
    }
    rc = qtest_outcome(c, rc, &e);
    qhil_error_release(&e);
    return rc;
}

/* ---- the table ---- */

#define NEEDS_QTEST (QHIL_STEP_NEEDS_QTEST | QHIL_STEP_NEEDS_QMP)

static const qhil_step_entry steps[] = {
    {
        .name = "expect",
        .kind = QHIL_STEP_EXPECT,
        .needs = QHIL_STEP_NEEDS_CONSOLE,
        .parse = parse_expect,
        .run = run_expect,
        .describe = describe_expect,
    },
    {
        .name = "send",
        .kind = QHIL_STEP_SEND,
        .needs = QHIL_STEP_NEEDS_CONSOLE,
        .parse = parse_send,
        .run = run_send,
        .describe = describe_send,
    },
    {
        .name = "sendline",
        .kind = QHIL_STEP_SEND,
        .needs = QHIL_STEP_NEEDS_CONSOLE,
        .parse = parse_sendline,
        .run = run_send,
        .describe = describe_send,
    },
    {
        .name = "qmp",
        .kind = QHIL_STEP_QMP,
        .needs = QHIL_STEP_NEEDS_QMP,
        .parse = parse_qmp,
        .run = run_qmp,
        .describe = describe_qmp,
    },
    {
        .name = "reset",
        .kind = QHIL_STEP_QMP,
        .needs = QHIL_STEP_NEEDS_QMP,
        .alone = true,
        .parse = parse_reset,
        .run = run_qmp,
        .describe = describe_reset,
    },
    {
        .name = "wait",
        .kind = QHIL_STEP_WAIT,
        .needs = QHIL_STEP_NEEDS_CONSOLE,
        .parse = parse_wait,
        .run = run_wait,
        .describe = describe_wait,
        .timeout = timeout_wait,
    },
    {
        .name = "read",
        .kind = QHIL_STEP_READ,
        .needs = NEEDS_QTEST,
        .parse = parse_read,
        .run = run_read,
        .describe = describe_read,
    },
    {
        .name = "write",
        .kind = QHIL_STEP_WRITE,
        .needs = NEEDS_QTEST,
        .parse = parse_write,
        .run = run_write,
        .describe = describe_write,
    },
    {
        .name = "clock_step",
        .kind = QHIL_STEP_CLOCK_STEP,
        .needs = NEEDS_QTEST | QHIL_STEP_NEEDS_QTEST_ACCEL,
        .parse = parse_clock_step,
        .run = run_clock_step,
        .describe = describe_clock_step,
    },
    {
        .name = "irq_intercept",
        .kind = QHIL_STEP_IRQ_INTERCEPT,
        .needs = NEEDS_QTEST,
        .parse = parse_irq_intercept,
        .run = run_irq_intercept,
        .describe = describe_irq_intercept,
    },
    {
        .name = "expect_irq",
        .kind = QHIL_STEP_EXPECT_IRQ,
        .needs = NEEDS_QTEST,
        .parse = parse_expect_irq,
        .run = run_expect_irq,
        .describe = describe_expect_irq,
    },
};

const qhil_step_entry *qhil_step_table(size_t *n)
{
    *n = QHIL_ARRAY_SIZE(steps);
    return steps;
}

const qhil_step_entry *qhil_step_find(const char *name)
{
    size_t i;

    for (i = 0; name && i < QHIL_ARRAY_SIZE(steps); i++) {
        if (!strcmp(steps[i].name, name)) {
            return &steps[i];
        }
    }
    return NULL;
}

const qhil_step_entry *qhil_step_entry_of(const qhil_step *st)
{
    const qhil_step_entry *e = qhil_step_find(st->keyword);
    size_t i;

    if (e && e->kind == st->kind) {
        return e;
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(steps); i++) {
        if (steps[i].kind == st->kind) {
            return &steps[i];
        }
    }
    return NULL;
}

char *qhil_step_names(void)
{
    qhil_buf b;
    size_t i;

    qhil_buf_init(&b, 4096);
    for (i = 0; i < QHIL_ARRAY_SIZE(steps); i++) {
        if (qhil_buf_printf(&b, "%s%s", i ? ", " : "", steps[i].name) < 0) {
            qhil_buf_release(&b);
            return NULL;
        }
    }
    return qhil_buf_steal(&b);
}

int64_t qhil_step_timeout(const qhil_step *st)
{
    const qhil_step_entry *e = qhil_step_entry_of(st);

    return e && e->timeout ? e->timeout(st) : st->timeout_ns;
}

void qhil_step_ctx_release(qhil_step_ctx *c)
{
    free(c->ranges);
    c->ranges = NULL;
    c->n_ranges = 0;
    c->ranges_known = false;
}
