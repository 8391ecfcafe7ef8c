/*
 * suite.c - loading and checking test suites (the YAML format is shown in
 * include/qhil/suite.h).
 *
 * Everything that can be checked without QEMU is checked here, so a typo
 * costs a second rather than a boot: unknown keys and steps, durations,
 * PCRE2 patterns (compiled once and thrown away; the console module
 * compiles its own), QMP arguments (turned into JSON now) and image paths
 * (which must name regular, readable, non-empty files: image.c).  Every
 * message names the file, line, column and the field path
 * ("tests[0].steps[1].expect").  Steps are parsed by their entry in the
 * step table (step.c): this file looks the key up, checks what the kind
 * needs against the suite's QTest mode and calls the entry's parse.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <qhil/clock.h>
#include <qhil/console.h>
#include <qhil/suite.h>

#include "image.h"
#include "internal.h"
#include "runlimits.h"
#include "step.h"
#include "yamlutil.h"

#define DEFAULT_TIMEOUT (10 * QHIL_SEC)

static const char *const top_keys[] = {
    "name", "device_type", "images", "timeout", "fail_on", "context",
    "qtest", "accel", "trace", "limits", "tags", "retry", "tests", NULL,
};
static const char *const test_keys[] = {
    "name", "timeout", "fail_on", "trace", "limits", "tags", "retry", "steps",
    NULL,
};
static const char *const limits_keys[] = {"console", "qemu_log", NULL};
/* State of one load. */
typedef struct parser {
    qhil_yaml y;
    qhil_suite *suite;
    char *dir;       /* folder of the suite file, NULL when it has none */
    char **fail_on;  /* suite-level fail_on, copied into every test */
    size_t n_fail_on;
    char **trace;    /* suite-level trace patterns, likewise */
    size_t n_trace;
    char **tags;     /* suite-level tags, likewise */
    size_t n_tags;
    uint64_t console_limit;  /* suite-level limits, 0 = the default */
    uint64_t qemu_log_limit;
    unsigned retry;  /* suite-level retry:, the tests' default */
    json_t *names;   /* test name -> line, for the uniqueness check */
    qhil_error *err;
} parser;

static int nomem(parser *p)
{
    return qhil_error_set(p->err, QHIL_ENOMEM, "out of memory");
}

/* A size in bytes (limits.h: qhil_size_parse's spellings and range). */
static int load_size(parser *p, const yaml_node_t *node, const char *field,
                     uint64_t *out)
{
    return qhil_yaml_size(&p->y, node, field, out, p->err);
}

/* limits: {console: SIZE, qemu_log: SIZE}; either may be left out. */
static int load_limits(parser *p, const yaml_node_t *node, const char *field,
                       uint64_t *console, uint64_t *qemu_log)
{
    const yaml_node_t *v;
    char *sub;
    int rc;

    rc = qhil_yaml_want_mapping(&p->y, node, field,
                                "a mapping with console and/or qemu_log "
                                "sizes",
                                p->err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_yaml_check_keys(&p->y, node, field, limits_keys, p->err);
    if (rc < 0) {
        return rc;
    }
    v = qhil_yaml_get(&p->y, node, "console");
    if (v) {
        sub = qhil_field(field, ".console");
        rc = sub ? load_size(p, v, sub, console) : nomem(p);
        free(sub);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, node, "qemu_log");
    if (v) {
        sub = qhil_field(field, ".qemu_log");
        rc = sub ? load_size(p, v, sub, qemu_log) : nomem(p);
        free(sub);
        if (rc < 0) {
            return rc;
        }
    }
    return QHIL_EOK;
}

/* ---- freeing ---- */

static void step_release(qhil_step *st)
{
    free(st->keyword);
    free(st->pattern);
    free(st->text);
    free(st->command);
    json_decref(st->arguments);
    json_decref(st->expect);
    free(st->expect_error);
    free(st->qom_path);
    memset(st, 0, sizeof(*st));
}

static void strv_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static void test_release(qhil_test *t)
{
    size_t i;

    free(t->name);
    strv_free(t->fail_on, t->n_fail_on);
    strv_free(t->trace, t->n_trace);
    strv_free(t->tags, t->n_tags);
    for (i = 0; i < t->n_steps; i++) {
        step_release(&t->steps[i]);
    }
    free(t->steps);
    memset(t, 0, sizeof(*t));
}

void qhil_suite_free(qhil_suite *suite)
{
    size_t i;

    if (!suite) {
        return;
    }
    free(suite->path);
    free(suite->name);
    free(suite->device_type);
    for (i = 0; i < suite->n_images; i++) {
        free(suite->images[i].name);
        free(suite->images[i].path);
    }
    free(suite->images);
    for (i = 0; i < suite->n_context; i++) {
        free(suite->context[i].name);
        free(suite->context[i].value);
    }
    free(suite->context);
    strv_free(suite->extra_options, suite->n_extra_options);
    for (i = 0; i < suite->n_tests; i++) {
        test_release(&suite->tests[i]);
    }
    free(suite->tests);
    free(suite);
}

/* ---- values ---- */

/* A pattern and a timeout are checked as the steps check theirs. */
static int load_pattern(parser *p, const yaml_node_t *node,
                        const char *field, char **out)
{
    qhil_step_parser sp = {.y = &p->y, .err = p->err};

    return qhil_step_parse_pattern(&sp, node, field, out);
}

/* retry: a whole number of retries, 0 to QHIL_RETRY_MAX. */
static int load_retry(parser *p, const yaml_node_t *node, const char *field,
                      unsigned *out)
{
    char *s = NULL;
    char *end = NULL;
    unsigned long n;
    int rc =
        qhil_yaml_string(&p->y, node, field, "a number of retries", &s, p->err);

    if (rc < 0) {
        return rc;
    }
    errno = 0;
    n = strtoul(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end || errno || n > QHIL_RETRY_MAX) {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                            "expected a number of retries, 0 to %d, got "
                            "'%s'",
                            QHIL_RETRY_MAX, s);
    } else {
        *out = (unsigned)n;
    }
    free(s);
    return rc;
}

static int load_timeout(parser *p, const yaml_node_t *node,
                        const char *field, int64_t *ns)
{
    qhil_step_parser sp = {.y = &p->y, .err = p->err};

    return qhil_step_parse_timeout(&sp, node, field, ns);
}

/*
 * A list of patterns, or one pattern.  Appends copies to *v (n items),
 * so a test's list can start with the suite's.
 */
static int load_patterns(parser *p, const yaml_node_t *node,
                         const char *field, char ***v, size_t *n)
{
    const yaml_node_t *item;
    char *sub = NULL;
    char **grown;
    size_t count;
    size_t i;
    int rc = QHIL_EOK;

    if (qhil_yaml_is_null(node)) {
        return QHIL_EOK;
    }
    count = node->type == YAML_SEQUENCE_NODE ? qhil_yaml_count(node) : 1;
    grown = realloc(*v, (*n + count + 1) * sizeof(**v));
    if (!grown) {
        return nomem(p);
    }
    *v = grown;
    for (i = 0; i < count; i++) {
        if (node->type == YAML_SEQUENCE_NODE) {
            item = qhil_yaml_item(&p->y, node, i);
            free(sub);
            sub = qhil_field(field, "[%zu]", i);
            if (!sub) {
                rc = nomem(p);
                goto cleanup;
            }
        } else {
            item = node;
        }
        rc = load_pattern(p, item, sub ? sub : field, &(*v)[*n]);
        if (rc < 0) {
            free((*v)[*n]);
            goto cleanup;
        }
        (*n)++;
    }

cleanup:
    free(sub);
    return rc;
}

static int valid_plain_name(const char *s)
{
    if (!*s || *s == '.') {
        return 0;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s)) {
            return 0;
        }
    }
    return 1;
}

/* ---- steps ---- */

/* The "unknown step" error, listing the step table's names. */
static int unknown_step(parser *p, const yaml_node_t *node,
                        const char *field, const char *name)
{
    char *known = qhil_step_names();
    int rc;

    if (!known) {
        return nomem(p);
    }
    rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                        "unknown step '%s' (known: %s)", name, known);
    free(known);
    return rc;
}

/* What a step kind needs that the suite must say: QTest, and for
 * clock_step the qtest accelerator. */
static int check_needs(parser *p, const yaml_node_t *node, const char *field,
                       const qhil_step_entry *e)
{
    if ((e->needs & QHIL_STEP_NEEDS_QTEST_ACCEL) &&
        p->suite->qtest != QHIL_QTEST_ACCEL) {
        return qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                              "%s needs 'accel: qtest' at the top of the "
                              "suite (virtual time moves by hand only "
                              "with the qtest accelerator)",
                              e->name);
    }
    if ((e->needs & (QHIL_STEP_NEEDS_QTEST | QHIL_STEP_NEEDS_QTEST_ACCEL)) &&
        p->suite->qtest == QHIL_QTEST_OFF) {
        return qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                              "%s needs QTest: add 'qtest: true' (beside "
                              "the firmware) or 'accel: qtest' (no CPU) at "
                              "the top of the suite",
                              e->name);
    }
    return QHIL_EOK;
}

/* Parse the step called name with value (NULL for a bare "reset")
 * through its entry in the step table. */
static int step_dispatch(parser *p, const yaml_node_t *key, const char *name,
                         const yaml_node_t *value, const char *field,
                         qhil_step *st)
{
    qhil_step_parser sp = {.y = &p->y, .err = p->err};
    const qhil_step_entry *e;
    char *sub;
    int rc;

    st->keyword = strdup(name);
    if (!st->keyword) {
        return nomem(p);
    }
    sub = qhil_field(field, ".%s", st->keyword);
    if (!sub) {
        return nomem(p);
    }
    e = qhil_step_find(name);
    if (!e) {
        rc = unknown_step(p, key, field, name);
    } else {
        st->kind = e->kind;
        rc = check_needs(p, key, field, e);
        rc = rc < 0 ? rc : e->parse(&sp, value, sub, st);
    }
    free(sub);
    return rc;
}

static int load_step(parser *p, const yaml_node_t *node, const char *field,
                     qhil_step *st)
{
    const qhil_step_entry *e;
    qhil_buf keys;
    yaml_node_t *k;
    yaml_node_t *v;
    const char *name;
    size_t len;
    size_t i;
    size_t n;
    int rc = QHIL_EOK;

    qhil_buf_init(&keys, 1 << 12);
    st->line = qhil_yaml_line(node);
    st->timeout_ns = p->suite->timeout_ns;
    if (node && node->type == YAML_SCALAR_NODE && !qhil_yaml_is_null(node)) {
        name = qhil_yaml_scalar(node, &len);
        e = qhil_step_find(name);
        if (e && e->alone) {
            rc = step_dispatch(p, node, name, NULL, field, st);
        } else if (strlen(name) == len && e) {
            rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                                "step '%s' needs a value (write "
                                "'- %s: ...')",
                                name, name);
        } else {
            rc = unknown_step(p, node, field, name);
        }
        goto cleanup;
    }
    if (!node || node->type != YAML_MAPPING_NODE) {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                            "expected a step such as 'expect: ...' or "
                            "'reset', got %s",
                            qhil_yaml_kind(node));
        goto cleanup;
    }
    n = qhil_yaml_count(node);
    if (n != 1) {
        for (i = 0; i < n; i++) {
            if (qhil_yaml_pair(&p->y, node, i, &k, &v) == 0) {
                name = qhil_yaml_scalar(k, NULL);
                qhil_buf_printf(&keys, "%s%s", i ? ", " : "",
                                name ? name : "?");
            }
        }
        rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                            "a step has exactly one key, found %zu (%s); "
                            "start each step with '-' and put options "
                            "inside it, e.g. expect: {pattern: ..., "
                            "timeout: 2s}",
                            n, keys.data ? keys.data : "");
        goto cleanup;
    }
    if (qhil_yaml_pair(&p->y, node, 0, &k, &v) < 0) {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                            "malformed step");
        goto cleanup;
    }
    name = qhil_yaml_scalar(k, &len);
    if (!name || strlen(name) != len) {
        rc = qhil_yaml_fail(&p->y, k, field, p->err, QHIL_EINVAL,
                            "expected a step name, got %s",
                            qhil_yaml_kind(k));
        goto cleanup;
    }
    rc = step_dispatch(p, k, name, v, field, st);

cleanup:
    qhil_buf_release(&keys);
    return rc;
}

/* ---- tests ---- */

/* Copy a string list (the suite's trace list into a test). */
static int copy_strv(parser *p, char *const *src, size_t n, char ***dst,
                     size_t *n_dst)
{
    size_t i;

    *dst = calloc(n + 1, sizeof(**dst));
    if (!*dst) {
        return nomem(p);
    }
    for (i = 0; i < n; i++) {
        (*dst)[i] = strdup(src[i]);
        if (!(*dst)[i]) {
            return nomem(p);
        }
        (*n_dst)++;
    }
    return QHIL_EOK;
}

/* Trace event patterns: names with * and ? only, so that nothing but
 * "-trace PATTERN" can reach QEMU (no file=, no enable= options). */
static int load_traces(parser *p, const yaml_node_t *node, const char *field,
                       char ***v, size_t *n)
{
    size_t count = node->type == YAML_SEQUENCE_NODE ? qhil_yaml_count(node)
                                                    : 1;
    char **grown;
    size_t i;
    int rc = QHIL_EOK;

    if (qhil_yaml_is_null(node)) {
        return QHIL_EOK;
    }
    grown = realloc(*v, (*n + count + 1) * sizeof(**v));
    if (!grown) {
        return nomem(p);
    }
    *v = grown;
    for (i = 0; i < count && rc == QHIL_EOK; i++) {
        const yaml_node_t *item = node->type == YAML_SEQUENCE_NODE
                                      ? qhil_yaml_item(&p->y, node, i)
                                      : node;
        char *sub = node->type == YAML_SEQUENCE_NODE
                        ? qhil_field(field, "[%zu]", i)
                        : qhil_field(field, "%s", "");
        char *pat = NULL;
        const char *c;

        if (!sub) {
            return nomem(p);
        }
        rc = qhil_yaml_string(&p->y, item, sub, "a trace event pattern",
                              &pat, p->err);
        for (c = pat; rc == QHIL_EOK && *c; c++) {
            if (!isalnum((unsigned char)*c) && !strchr("_*?", *c)) {
                rc = qhil_yaml_fail(&p->y, item, sub, p->err, QHIL_EINVAL,
                                    "'%s' is not a trace event pattern "
                                    "(letters, digits, '_', '*' and '?')",
                                    pat);
            }
        }
        if (rc == QHIL_EOK && !*pat) {
            rc = qhil_yaml_fail(&p->y, item, sub, p->err, QHIL_EINVAL,
                                "empty trace event pattern");
        }
        if (rc == QHIL_EOK) {
            (*v)[(*n)++] = pat;
            (*v)[*n] = NULL;
        } else {
            free(pat);
        }
        free(sub);
    }
    return rc;
}

int qhil_tag_valid(const char *tag, const char **why)
{
    const char *c;
    const char *dummy;

    why = why ? why : &dummy;
    if (!tag || !*tag) {
        *why = "a tag cannot be empty";
        return 0;
    }
    if (strlen(tag) > QHIL_TAG_MAX) {
        *why = "a tag is at most 64 bytes";
        return 0;
    }
    for (c = tag; *c; c++) {
        if (!isalnum((unsigned char)*c) && !strchr("._-", *c)) {
            *why = "a tag is one word of letters, digits, '.', '_' and '-'";
            return 0;
        }
    }
    return 1;
}

int qhil_test_has_tag(const qhil_test *test, const char *tag)
{
    size_t i;

    for (i = 0; i < test->n_tags; i++) {
        if (strcmp(test->tags[i], tag) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Tags: a list of words, or one word.  Appended to *v (n items) unless
 * there already, so a test's list starts with the suite's. */
static int load_tags(parser *p, const yaml_node_t *node, const char *field,
                     char ***v, size_t *n)
{
    size_t count = node->type == YAML_SEQUENCE_NODE ? qhil_yaml_count(node)
                                                    : 1;
    char **grown;
    size_t i, j;
    int rc = QHIL_EOK;

    if (qhil_yaml_is_null(node)) {
        return QHIL_EOK;
    }
    grown = realloc(*v, (*n + count + 1) * sizeof(**v));
    if (!grown) {
        return nomem(p);
    }
    *v = grown;
    (*v)[*n] = NULL;
    for (i = 0; i < count && rc == QHIL_EOK; i++) {
        const yaml_node_t *item = node->type == YAML_SEQUENCE_NODE
                                      ? qhil_yaml_item(&p->y, node, i)
                                      : node;
        char *sub = node->type == YAML_SEQUENCE_NODE
                        ? qhil_field(field, "[%zu]", i)
                        : qhil_field(field, "%s", "");
        const char *why = NULL;
        char *tag = NULL;

        if (!sub) {
            return nomem(p);
        }
        rc = qhil_yaml_string(&p->y, item, sub, "a tag (one word)", &tag,
                              p->err);
        if (rc == QHIL_EOK && !qhil_tag_valid(tag, &why)) {
            rc = qhil_yaml_fail(&p->y, item, sub, p->err, QHIL_EINVAL,
                                "'%s' is not a tag: %s", tag, why);
        }
        for (j = 0; rc == QHIL_EOK && j < *n; j++) {
            if (strcmp((*v)[j], tag) == 0) {
                break;
            }
        }
        if (rc == QHIL_EOK && j == *n) {
            (*v)[(*n)++] = tag;
            (*v)[*n] = NULL;
        } else {
            free(tag);
        }
        free(sub);
    }
    return rc;
}

static int load_test(parser *p, const yaml_node_t *node, const char *field,
                     qhil_test *t)
{
    const yaml_node_t *v;
    json_t *first;
    char *sub = NULL;
    size_t n;
    size_t i;
    int rc;

    t->line = qhil_yaml_line(node);
    rc = qhil_yaml_want_mapping(&p->y, node, field,
                                "a test (a mapping with name and steps)",
                                p->err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_yaml_check_keys(&p->y, node, field, test_keys, p->err);
    if (rc < 0) {
        return rc;
    }
    v = qhil_yaml_get(&p->y, node, "name");
    if (!v) {
        return qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                              "missing 'name'");
    }
    sub = qhil_field(field, ".name");
    if (!sub) {
        return nomem(p);
    }
    rc = qhil_yaml_string(&p->y, v, sub, "a test name", &t->name, p->err);
    if (rc < 0) {
        goto cleanup;
    }
    first = json_object_get(p->names, t->name);
    if (first) {
        rc = qhil_yaml_fail(&p->y, v, sub, p->err, QHIL_EINVAL,
                            "duplicate test name '%s' (first at line %d)",
                            t->name, (int)json_integer_value(first));
        goto cleanup;
    }
    if (json_object_set_new(p->names, t->name,
                            json_integer(qhil_yaml_line(v))) < 0) {
        rc = nomem(p);
        goto cleanup;
    }
    v = qhil_yaml_get(&p->y, node, "timeout");
    if (v) {
        free(sub);
        sub = qhil_field(field, ".timeout");
        rc = sub ? load_timeout(p, v, sub, &t->timeout_ns) : nomem(p);
        if (rc < 0) {
            goto cleanup;
        }
    }
    t->fail_on = calloc(p->n_fail_on + 1, sizeof(*t->fail_on));
    if (!t->fail_on) {
        rc = nomem(p);
        goto cleanup;
    }
    for (i = 0; i < p->n_fail_on; i++) {
        t->fail_on[i] = strdup(p->fail_on[i]);
        if (!t->fail_on[i]) {
            rc = nomem(p);
            goto cleanup;
        }
        t->n_fail_on++;
    }
    v = qhil_yaml_get(&p->y, node, "fail_on");
    if (v) {
        free(sub);
        sub = qhil_field(field, ".fail_on");
        rc = sub ? load_patterns(p, v, sub, &t->fail_on, &t->n_fail_on)
                 : nomem(p);
        if (rc < 0) {
            goto cleanup;
        }
    }
    t->console_limit = p->console_limit;
    t->qemu_log_limit = p->qemu_log_limit;
    v = qhil_yaml_get(&p->y, node, "limits");
    if (v) {
        free(sub);
        sub = qhil_field(field, ".limits");
        rc = sub ? load_limits(p, v, sub, &t->console_limit,
                               &t->qemu_log_limit)
                 : nomem(p);
        if (rc < 0) {
            goto cleanup;
        }
    }
    rc = copy_strv(p, p->trace, p->n_trace, &t->trace, &t->n_trace);
    if (rc < 0) {
        goto cleanup;
    }
    v = qhil_yaml_get(&p->y, node, "trace");
    if (v) {
        free(sub);
        sub = qhil_field(field, ".trace");
        rc = sub ? load_traces(p, v, sub, &t->trace, &t->n_trace)
                 : nomem(p);
        if (rc < 0) {
            goto cleanup;
        }
    }
    t->retry = p->retry;
    v = qhil_yaml_get(&p->y, node, "retry");
    if (v) {
        free(sub);
        sub = qhil_field(field, ".retry");
        rc = sub ? load_retry(p, v, sub, &t->retry) : nomem(p);
        if (rc < 0) {
            goto cleanup;
        }
    }
    rc = copy_strv(p, p->tags, p->n_tags, &t->tags, &t->n_tags);
    if (rc < 0) {
        goto cleanup;
    }
    v = qhil_yaml_get(&p->y, node, "tags");
    if (v) {
        free(sub);
        sub = qhil_field(field, ".tags");
        rc = sub ? load_tags(p, v, sub, &t->tags, &t->n_tags) : nomem(p);
        if (rc < 0) {
            goto cleanup;
        }
    }
    v = qhil_yaml_get(&p->y, node, "steps");
    if (!v) {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_EINVAL,
                            "missing 'steps'");
        goto cleanup;
    }
    free(sub);
    sub = qhil_field(field, ".steps");
    if (!sub) {
        rc = nomem(p);
        goto cleanup;
    }
    rc = qhil_yaml_want_sequence(&p->y, v, sub, "a list of steps", p->err);
    if (rc < 0) {
        goto cleanup;
    }
    n = qhil_yaml_count(v);
    if (n == 0) {
        rc = qhil_yaml_fail(&p->y, v, sub, p->err, QHIL_EINVAL,
                            "a test needs at least one step");
        goto cleanup;
    }
    t->steps = calloc(n, sizeof(*t->steps));
    if (!t->steps) {
        rc = nomem(p);
        goto cleanup;
    }
    for (i = 0; i < n; i++) {
        free(sub);
        sub = qhil_field(field, ".steps[%zu]", i);
        if (!sub) {
            rc = nomem(p);
            goto cleanup;
        }
        t->n_steps++;
        rc = load_step(p, qhil_yaml_item(&p->y, v, i), sub, &t->steps[i]);
        if (rc < 0) {
            goto cleanup;
        }
    }

cleanup:
    free(sub);
    return rc;
}

static int load_tests(parser *p, const yaml_node_t *node)
{
    char *sub = NULL;
    size_t n;
    size_t i;
    int rc;

    rc = qhil_yaml_want_sequence(&p->y, node, "tests", "a list of tests",
                                 p->err);
    if (rc < 0) {
        return rc;
    }
    n = qhil_yaml_count(node);
    if (n == 0) {
        return qhil_yaml_fail(&p->y, node, "tests", p->err, QHIL_EINVAL,
                              "the suite has no tests");
    }
    p->suite->tests = calloc(n, sizeof(*p->suite->tests));
    if (!p->suite->tests) {
        return nomem(p);
    }
    for (i = 0; i < n; i++) {
        free(sub);
        sub = qhil_field("tests", "[%zu]", i);
        if (!sub) {
            rc = nomem(p);
            break;
        }
        p->suite->n_tests++;
        rc = load_test(p, qhil_yaml_item(&p->y, node, i), sub,
                       &p->suite->tests[i]);
        if (rc < 0) {
            break;
        }
    }
    free(sub);
    return rc;
}

/* ---- images ---- */

/* path made absolute against the current directory (no symlinks
 * resolved); malloc'ed, NULL when out of memory. */
static char *absolute(const char *path)
{
    char *cwd;
    char *out = NULL;

    if (path[0] == '/') {
        return strdup(path);
    }
    cwd = get_current_dir_name();
    if (!cwd) {
        return strdup(path);
    }
    while (path[0] == '.' && path[1] == '/') {
        path += 2;
        while (*path == '/') {
            path++;
        }
    }
    if (asprintf(&out, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path) <
        0) {
        out = NULL;
    }
    free(cwd);
    return out;
}

/*
 * The image at found (path as written, found there) must be a regular,
 * readable, non-empty file; the kinds its slot accepts are the board's
 * business, checked when the command line is built.
 */
static int check_image(parser *p, const yaml_node_t *node, const char *field,
                       const char *path, const char *found)
{
    qhil_error local;
    int rc;

    qhil_error_init(&local);
    rc = qhil_image_check(found, QHIL_IMAGE_ANY, NULL, &local);
    if (rc < 0 && strcmp(path, found) != 0) {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, rc,
                            "image file '%s' (found as %s) %s", path, found,
                            qhil_error_message(&local, rc));
    } else if (rc < 0) {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, rc,
                            "image file %s %s", path,
                            qhil_error_message(&local, rc));
    }
    qhil_error_release(&local);
    return rc;
}

/*
 * Relative paths are looked for beside the suite, then in the current
 * directory; the first place where anything is (even a folder or a broken
 * link) is the one checked, so the message says what is wrong with it
 * rather than "not found".
 */
static int resolve_image(parser *p, const yaml_node_t *node,
                         const char *field, const char *path, char **out)
{
    char *beside = NULL;
    char *cwd = NULL;
    const char *found = NULL;
    int rc = QHIL_EOK;

    *out = NULL;
    if (path[0] == '/') {
        rc = check_image(p, node, field, path, path);
        if (rc < 0) {
            return rc;
        }
        *out = strdup(path);
        return *out ? QHIL_EOK : nomem(p);
    }
    if (p->dir) {
        if (asprintf(&beside, "%s%s%s", p->dir,
                     strcmp(p->dir, "/") ? "/" : "", path) < 0) {
            return nomem(p);
        }
        if (qhil_image_exists(beside)) {
            found = beside;
        }
    }
    if (!found && qhil_image_exists(path)) {
        found = path;
    }
    if (found) {
        rc = check_image(p, node, field, path, found);
        if (rc == QHIL_EOK) {
            *out = absolute(found);
            rc = *out ? QHIL_EOK : nomem(p);
        }
        goto cleanup;
    }
    cwd = get_current_dir_name();
    if (beside) {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_ENOENT,
                            "image file '%s' not found (tried %s beside "
                            "the suite, and %s in the current directory "
                            "%s)",
                            path, beside, path, cwd ? cwd : "?");
    } else {
        rc = qhil_yaml_fail(&p->y, node, field, p->err, QHIL_ENOENT,
                            "image file '%s' not found (tried beside the "
                            "suite and in the current directory %s)",
                            path, cwd ? cwd : "?");
    }

cleanup:
    free(cwd);
    free(beside);
    return rc;
}

static int load_images(parser *p, const yaml_node_t *node)
{
    qhil_suite *s = p->suite;
    qhil_suite_image *img;
    yaml_node_t *k;
    yaml_node_t *v;
    char *sub = NULL;
    char *path = NULL;
    size_t n;
    size_t i;
    int rc;

    if (qhil_yaml_is_null(node)) {
        return QHIL_EOK;
    }
    rc = qhil_yaml_want_mapping(&p->y, node, "images",
                                "a mapping of image names to file paths",
                                p->err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_yaml_check_unique(&p->y, node, "images", p->err);
    if (rc < 0) {
        return rc;
    }
    n = qhil_yaml_count(node);
    s->images = calloc(n ? n : 1, sizeof(*s->images));
    if (!s->images) {
        return nomem(p);
    }
    for (i = 0; i < n; i++) {
        if (qhil_yaml_pair(&p->y, node, i, &k, &v) < 0) {
            continue;
        }
        img = &s->images[s->n_images++];
        img->line = qhil_yaml_line(v);
        img->name = strdup(qhil_yaml_scalar(k, NULL));
        free(sub);
        sub = qhil_field("images", ".%s", qhil_yaml_scalar(k, NULL));
        if (!img->name || !sub) {
            rc = nomem(p);
            goto cleanup;
        }
        free(path);
        rc = qhil_yaml_string(&p->y, v, sub, "the path of an image file",
                              &path, p->err);
        if (rc < 0) {
            goto cleanup;
        }
        rc = resolve_image(p, v, sub, path, &img->path);
        if (rc < 0) {
            goto cleanup;
        }
    }

cleanup:
    free(path);
    free(sub);
    return rc;
}

/* ---- context ---- */

static int load_extra_options(parser *p, const yaml_node_t *node)
{
    qhil_suite *s = p->suite;
    const yaml_node_t *item;
    const char *text;
    char *sub = NULL;
    size_t n;
    size_t i;
    int rc = QHIL_EOK;

    s->extra_options_line = qhil_yaml_line(node);
    if (qhil_yaml_is_null(node)) {
        return QHIL_EOK;
    }
    if (node->type == YAML_SCALAR_NODE) {
        text = qhil_yaml_scalar(node, &n);
        if (strlen(text) != n) {
            return qhil_yaml_fail(&p->y, node, "context.extra_options",
                                  p->err, QHIL_EINVAL,
                                  "text contains a NUL byte");
        }
        rc = qhil_split_words(text, &s->extra_options, &s->n_extra_options);
        return rc < 0 ? nomem(p) : QHIL_EOK;
    }
    rc = qhil_yaml_want_sequence(&p->y, node, "context.extra_options",
                                 "a list of QEMU arguments or one string",
                                 p->err);
    if (rc < 0) {
        return rc;
    }
    n = qhil_yaml_count(node);
    s->extra_options = calloc(n + 1, sizeof(*s->extra_options));
    if (!s->extra_options) {
        return nomem(p);
    }
    for (i = 0; i < n; i++) {
        item = qhil_yaml_item(&p->y, node, i);
        free(sub);
        sub = qhil_field("context.extra_options", "[%zu]", i);
        if (!sub) {
            rc = nomem(p);
            goto cleanup;
        }
        rc = qhil_yaml_string(&p->y, item, sub, "a QEMU argument",
                              &s->extra_options[i], p->err);
        if (rc < 0) {
            goto cleanup;
        }
        s->n_extra_options++;
        text = s->extra_options[i];
        if (text[0] == '-' && strpbrk(text, " \t\n")) {
            rc = qhil_yaml_fail(&p->y, item, sub, p->err, QHIL_EINVAL,
                                "'%s' holds an option and its value; give "
                                "them as two list items",
                                text);
            goto cleanup;
        }
    }

cleanup:
    free(sub);
    return rc;
}

static int load_context(parser *p, const yaml_node_t *node)
{
    qhil_suite *s = p->suite;
    yaml_node_t *key;
    yaml_node_t *v;
    qhil_suite_var *var;
    const char *name;
    char *sub = NULL;
    size_t n;
    size_t i;
    int rc;

    if (qhil_yaml_is_null(node)) {
        return QHIL_EOK;
    }
    rc = qhil_yaml_want_mapping(&p->y, node, "context",
                                "a mapping of context names to values",
                                p->err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(&p->y, node, "context", p->err);
    }
    if (rc < 0) {
        return rc;
    }
    n = qhil_yaml_count(node);
    s->context = calloc(n + 1, sizeof(*s->context));
    if (!s->context) {
        return nomem(p);
    }
    for (i = 0; i < n && rc == 0; i++) {
        qhil_yaml_pair(&p->y, node, i, &key, &v);
        name = qhil_yaml_scalar(key, NULL);
        /* LAVA's names or a template's variable: the job layer decides. */
        if (!qhil_name_is_variable(name)) {
            rc = qhil_yaml_fail(&p->y, key, "context", p->err, QHIL_EINVAL,
                                "'%s' is not a context name (at most 64 "
                                "lower case letters, digits and '_')",
                                name);
            break;
        }
        if (!strcmp(name, "extra_options")) {
            rc = load_extra_options(p, v);
            continue;
        }
        free(sub);
        sub = qhil_field("context.", "%s", name);
        if (!sub) {
            rc = nomem(p);
            break;
        }
        var = &s->context[s->n_context];
        var->line = qhil_yaml_line(v);
        rc = qhil_yaml_string(&p->y, v, sub, "a value", &var->value,
                              p->err);
        if (rc < 0) {
            break;
        }
        var->name = strdup(name);
        if (!var->name) {
            free(var->value);
            var->value = NULL;
            rc = nomem(p);
            break;
        }
        s->n_context++;
        if (var->value[0] == '-' || strpbrk(var->value, " \t\n\r")) {
            rc = qhil_yaml_fail(&p->y, v, sub, p->err, QHIL_EINVAL,
                                "'%s' is not a context value: no blank "
                                "space, and no leading '-'",
                                var->value);
        }
    }
    free(sub);
    return rc;
}

/* ---- the suite ---- */

/* Base name of path without its .yaml / .yml suffix. */
static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    size_t len;

    base = base ? base + 1 : path;
    len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".yaml")) {
        len -= 5;
    } else if (len > 4 && !strcmp(base + len - 4, ".yml")) {
        len -= 4;
    }
    return strndup(base, len);
}

/* Folder part of path, or NULL when path has none. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        return NULL;
    }
    if (slash == path) {
        return strdup("/");
    }
    return strndup(path, (size_t)(slash - path));
}

/* "qtest: true|false" and "accel: tcg|qtest". */
static int load_qtest_mode(parser *p, const yaml_node_t *root)
{
    const yaml_node_t *q = qhil_yaml_get(&p->y, root, "qtest");
    const yaml_node_t *a = qhil_yaml_get(&p->y, root, "accel");
    const char *text;

    p->suite->qtest = QHIL_QTEST_OFF;
    if (q) {
        text = qhil_yaml_scalar(q, NULL);
        if (text && (!strcmp(text, "true") || !strcmp(text, "yes") ||
                     !strcmp(text, "on"))) {
            p->suite->qtest = QHIL_QTEST_TCG;
        } else if (!text || (strcmp(text, "false") && strcmp(text, "no") &&
                             strcmp(text, "off"))) {
            return qhil_yaml_fail(&p->y, q, "qtest", p->err, QHIL_EINVAL,
                                  "expected true or false, got '%s'",
                                  text ? text : qhil_yaml_kind(q));
        }
    }
    if (a) {
        text = qhil_yaml_scalar(a, NULL);
        if (text && !strcmp(text, "qtest")) {
            p->suite->qtest = QHIL_QTEST_ACCEL;
        } else if (!text || strcmp(text, "tcg")) {
            return qhil_yaml_fail(&p->y, a, "accel", p->err, QHIL_EINVAL,
                                  "accelerator must be tcg (the default) or "
                                  "qtest (no CPU; needs qhil's QEMU build), "
                                  "got '%s'",
                                  text ? text : qhil_yaml_kind(a));
        }
    }
    return QHIL_EOK;
}

static int load_suite(parser *p)
{
    qhil_suite *s = p->suite;
    yaml_node_t *root = qhil_yaml_root(&p->y);
    yaml_node_t *v;
    int rc;

    rc = qhil_yaml_want_mapping(&p->y, root, NULL,
                                "a mapping with device_type and tests",
                                p->err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_yaml_check_keys(&p->y, root, NULL, top_keys, p->err);
    if (rc < 0) {
        return rc;
    }
    v = qhil_yaml_get(&p->y, root, "name");
    if (v) {
        rc = qhil_yaml_string(&p->y, v, "name", "a suite name", &s->name,
                              p->err);
    } else {
        s->name = default_name(s->path);
        rc = s->name ? QHIL_EOK : nomem(p);
    }
    if (rc < 0) {
        return rc;
    }
    v = qhil_yaml_get(&p->y, root, "device_type");
    if (!v) {
        return qhil_yaml_fail(&p->y, root, NULL, p->err, QHIL_EINVAL,
                              "missing 'device_type' (the board template "
                              "to use, e.g. mps2-an385)");
    }
    s->device_type_line = qhil_yaml_line(v);
    rc = qhil_yaml_string(&p->y, v, "device_type", "a board name",
                          &s->device_type, p->err);
    if (rc < 0) {
        return rc;
    }
    if (!valid_plain_name(s->device_type)) {
        return qhil_yaml_fail(&p->y, v, "device_type", p->err, QHIL_EINVAL,
                              "'%s' is not a board name (letters, digits, "
                              "'.', '_' and '-')",
                              s->device_type);
    }
    s->timeout_ns = DEFAULT_TIMEOUT;
    v = qhil_yaml_get(&p->y, root, "timeout");
    if (v) {
        rc = load_timeout(p, v, "timeout", &s->timeout_ns);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, root, "fail_on");
    if (v) {
        rc = load_patterns(p, v, "fail_on", &p->fail_on, &p->n_fail_on);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, root, "images");
    if (v) {
        rc = load_images(p, v);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, root, "context");
    if (v) {
        rc = load_context(p, v);
        if (rc < 0) {
            return rc;
        }
    }
    rc = load_qtest_mode(p, root);
    if (rc < 0) {
        return rc;
    }
    v = qhil_yaml_get(&p->y, root, "trace");
    if (v) {
        rc = load_traces(p, v, "trace", &p->trace, &p->n_trace);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, root, "limits");
    if (v) {
        rc = load_limits(p, v, "limits", &p->console_limit,
                         &p->qemu_log_limit);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, root, "tags");
    if (v) {
        rc = load_tags(p, v, "tags", &p->tags, &p->n_tags);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, root, "retry");
    if (v) {
        rc = load_retry(p, v, "retry", &p->retry);
        if (rc < 0) {
            return rc;
        }
    }
    v = qhil_yaml_get(&p->y, root, "tests");
    if (!v) {
        return qhil_yaml_fail(&p->y, root, NULL, p->err, QHIL_EINVAL,
                              "missing 'tests'");
    }
    return load_tests(p, v);
}

/* Parse the document already loaded in p->y; name is the suite's path. */
static int parse_loaded(parser *p, const char *name, qhil_suite **out)
{
    int rc;

    p->suite = calloc(1, sizeof(*p->suite));
    p->names = json_object();
    if (!p->suite || !p->names || !(p->suite->path = strdup(name))) {
        return nomem(p);
    }
    p->dir = folder_of(name);
    rc = load_suite(p);
    if (rc < 0) {
        return rc;
    }
    *out = p->suite;
    p->suite = NULL;
    return QHIL_EOK;
}

static void parser_release(parser *p)
{
    qhil_suite_free(p->suite);
    qhil_yaml_release(&p->y);
    strv_free(p->fail_on, p->n_fail_on);
    strv_free(p->trace, p->n_trace);
    strv_free(p->tags, p->n_tags);
    json_decref(p->names);
    free(p->dir);
}

int qhil_suite_load(const char *path, qhil_suite **out, qhil_error *err)
{
    parser p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.err = err;
    *out = NULL;
    rc = qhil_yaml_load_file(&p.y, path, err);
    if (rc == 0) {
        rc = parse_loaded(&p, path, out);
    }
    parser_release(&p);
    return rc;
}

int qhil_suite_load_buffer(const char *name, const char *data, size_t len,
                           qhil_suite **out, qhil_error *err)
{
    parser p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.err = err;
    *out = NULL;
    if (!name) {
        name = "<input>";
    }
    rc = qhil_yaml_load_buffer(&p.y, name, data, len, err);
    if (rc == 0) {
        rc = parse_loaded(&p, name, out);
    }
    parser_release(&p);
    return rc;
}
