/*
 * policy_load.c - building a policy from YAML, freeing it, and the
 * built-in strict policy.
 *
 * qhil_policy_load reads a site file's "policy:" mapping into the tables
 * of policy_impl.h: "base: strict" starts from the strict policy and each
 * entry given replaces the base's entry of the same name whole, "base:
 * none" starts empty.  Every key is checked and every pattern compiled
 * here, once, with PCRE2_ANCHORED | PCRE2_ENDANCHORED, never UTF and
 * without \C; the policy gets a match context with MATCH_LIMIT so no
 * check can run away.  Load errors are FILE:LINE:COLUMN: FIELD: REASON.
 *
 * The strict policy is the YAML text at the end of this file, read by the
 * same loader as a site's file, so the shipped site/strict-policy.yaml
 * and the built-in policy are one schema (a unit test checks they behave
 * the same).  The checks are in policy.c.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "policy_impl.h"

#define MATCH_LIMIT 100000 /* PCRE2 match limit per check */

/* ------------------------------------------------------------------ */
/* Freeing                                                            */

static void rule_release(prule *r)
{
    free(r->name);
    free(r->src);
    pcre2_code_free(r->re);
    memset(r, 0, sizeof(*r));
}

static void ruleset_release(ruleset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rule_release(&s->v[i]);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void opt_release(popt *o)
{
    free(o->name);
    rule_release(&o->value);
    free(o->implied);
    ruleset_release(&o->keys);
    for (size_t i = 0; i < o->n_models; i++) {
        free(o->models[i].name);
        ruleset_release(&o->models[i].keys);
    }
    free(o->models);
    memset(o, 0, sizeof(*o));
}

void qhil_policy_free(qhil_policy *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n_opts; i++) {
        opt_release(&p->opts[i]);
    }
    free(p->opts);
    opt_release(&p->machine);
    opt_release(&p->cpu);
    for (size_t i = 0; i < p->n_qmp; i++) {
        free(p->qmp[i].name);
        ruleset_release(&p->qmp[i].args);
    }
    free(p->qmp);
    for (size_t i = 0; i < p->n_hmp; i++) {
        free(p->hmp[i].name);
    }
    free(p->hmp);
    pcre2_match_context_free(p->mctx);
    free(p->name);
    free(p);
}

static qhil_policy *policy_new(const char *name)
{
    qhil_policy *p = calloc(1, sizeof(*p));

    if (!p) {
        return NULL;
    }
    p->name = strdup(name);
    p->mctx = pcre2_match_context_create(NULL);
    if (!p->name || !p->mctx) {
        qhil_policy_free(p);
        return NULL;
    }
    pcre2_set_match_limit(p->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(p->mctx, MATCH_LIMIT);
    return p;
}

/* ------------------------------------------------------------------ */
/* Loading                                                            */

typedef struct loader {
    qhil_yaml *y;
    qhil_error *err;
    qhil_policy *p;
} loader;

/* The field path "base.name" in a fresh string; NULL when out of memory. */
static char *sub(const char *base, const char *name)
{
    return qhil_field(base, ".%s", name);
}

static int nomem(loader *L)
{
    return qhil_error_set(L->err, QHIL_ENOMEM, "out of memory");
}

/* The text of a scalar node, or NULL (after an error) when not one. */
static const char *want_scalar(loader *L, const yaml_node_t *node,
                               const char *field, const char *what)
{
    const char *s;
    size_t len;

    if (!node || node->type != YAML_SCALAR_NODE || qhil_yaml_is_null(node)) {
        qhil_yaml_fail(L->y, node, field, L->err, QHIL_EINVAL,
                       "expected %s, got %s", what, qhil_yaml_kind(node));
        return NULL;
    }
    s = qhil_yaml_scalar(node, &len);
    if (strlen(s) != len || len == 0) {
        qhil_yaml_fail(L->y, node, field, L->err, QHIL_EINVAL,
                       "expected %s, got %s", what,
                       len ? "text with a NUL byte" : "an empty string");
        return NULL;
    }
    return s;
}

/* Compile src into r (named name). */
static int rule_compile(loader *L, const yaml_node_t *node, const char *field,
                        const char *name, const char *src, prule *r)
{
    int code;
    PCRE2_SIZE off;

    memset(r, 0, sizeof(*r));
    r->kind = RULE_PATTERN;
    r->name = strdup(name);
    r->src = strdup(src);
    if (!r->name || !r->src) {
        rule_release(r);
        return nomem(L);
    }
    r->re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                          PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_UTF |
                              PCRE2_NEVER_BACKSLASH_C,
                          &code, &off, NULL);
    if (!r->re) {
        PCRE2_UCHAR msg[256];

        pcre2_get_error_message(code, msg, sizeof(msg));
        rule_release(r);
        return qhil_yaml_fail(L->y, node, field, L->err, QHIL_EINVAL,
                              "pattern '%s' does not compile: %s at "
                              "offset %zu",
                              src, (const char *)msg, (size_t)off);
    }
    return 0;
}

/*
 * A rule from a scalar node.  qmp: the words "any" and "scalar" are the
 * QMP argument rules, not patterns.
 */
static int load_rule(loader *L, const yaml_node_t *node, const char *field,
                     const char *name, bool qmp, prule *r)
{
    const char *s = want_scalar(L, node, field, "a pattern");

    if (!s) {
        return QHIL_EINVAL;
    }
    if (qmp && (strcmp(s, "any") == 0 || strcmp(s, "scalar") == 0)) {
        memset(r, 0, sizeof(*r));
        r->kind = strcmp(s, "any") == 0 ? RULE_ANY : RULE_SCALAR;
        r->name = strdup(name);
        r->src = strdup(s);
        if (!r->name || !r->src) {
            rule_release(r);
            return nomem(L);
        }
        return 0;
    }
    return rule_compile(L, node, field, name, s, r);
}

static int ruleset_push(loader *L, ruleset *s, prule *r)
{
    prule *v = realloc(s->v, (s->n + 1) * sizeof(*v));

    if (!v) {
        rule_release(r);
        return nomem(L);
    }
    s->v = v;
    s->v[s->n++] = *r;
    return 0;
}

/* A mapping of names to rules into s (appended). */
static int load_ruleset(loader *L, const yaml_node_t *node, const char *field,
                        bool qmp, ruleset *s)
{
    int rc;

    rc = qhil_yaml_want_mapping(L->y, node, field,
                                qmp ? "a mapping of argument names to "
                                      "patterns, any or scalar"
                                    : "a mapping of sub-option names to "
                                      "patterns",
                                L->err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(L->y, node, field, L->err);
    }
    for (size_t i = 0; rc == 0 && i < qhil_yaml_count(node); i++) {
        yaml_node_t *k, *v;
        const char *name;
        char *f;
        prule r;

        qhil_yaml_pair(L->y, node, i, &k, &v);
        name = want_scalar(L, k, field, "a name");
        if (!name) {
            return QHIL_EINVAL;
        }
        if (qhil_policy_rule_find(s, name)) {
            return qhil_yaml_fail(L->y, k, field, L->err, QHIL_EINVAL,
                                  "'%s' is given twice", name);
        }
        f = sub(field, name);
        if (!f) {
            return nomem(L);
        }
        rc = load_rule(L, v, f, name, qmp, &r);
        free(f);
        if (rc == 0) {
            rc = ruleset_push(L, s, &r);
        }
    }
    return rc;
}

/* Load the mapping form of an option entry into o (o->name set). */
static int load_opt_map(loader *L, const yaml_node_t *node, const char *field,
                        popt *o)
{
    static const char *const known[] = {"value",  "implied", "keys",   "json",
                                        "common", "models",  "global", NULL};
    qhil_yaml *y = L->y;
    yaml_node_t *value = qhil_yaml_get(y, node, "value");
    yaml_node_t *implied = qhil_yaml_get(y, node, "implied");
    yaml_node_t *keys = qhil_yaml_get(y, node, "keys");
    yaml_node_t *json = qhil_yaml_get(y, node, "json");
    yaml_node_t *common = qhil_yaml_get(y, node, "common");
    yaml_node_t *models = qhil_yaml_get(y, node, "models");
    yaml_node_t *global = qhil_yaml_get(y, node, "global");
    int kinds = !!value + !!keys + !!models + !!global;
    char *f = NULL;
    int rc;

    rc = qhil_yaml_check_keys(y, node, field, known, L->err);
    if (rc < 0) {
        return rc;
    }
    if (kinds != 1 || (common && !models) || (implied && !keys) ||
        (json && !keys && !models)) {
        return qhil_yaml_fail(y, node, field, L->err, QHIL_EINVAL,
                              "give exactly one of value, keys (with "
                              "implied, json), models (with common, json) "
                              "or global");
    }
    if (json) {
        const char *s = want_scalar(L, json, field, "true or false");

        if (!s) {
            return QHIL_EINVAL;
        }
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
            return qhil_yaml_fail(y, json, field, L->err, QHIL_EINVAL,
                                  "json: expected true or false, got '%s'", s);
        }
        o->json = strcmp(s, "true") == 0;
    }
    if (value) {
        o->kind = OPT_VALUE;
        f = sub(field, "value");
        rc = f ? load_rule(L, value, f, "value", false, &o->value) : nomem(L);
    } else if (keys) {
        o->kind = OPT_LIST;
        f = sub(field, "keys");
        rc = f ? load_ruleset(L, keys, f, false, &o->keys) : nomem(L);
        if (rc == 0 && implied) {
            const char *s = want_scalar(L, implied, field, "a key name");

            if (!s) {
                rc = QHIL_EINVAL;
            } else if (!qhil_policy_rule_find(&o->keys, s)) {
                rc = qhil_yaml_fail(y, implied, field, L->err, QHIL_EINVAL,
                                    "implied key '%s' is not one of keys", s);
            } else if (!(o->implied = strdup(s))) {
                rc = nomem(L);
            }
        }
    } else if (models) {
        o->kind = OPT_DEVICE;
        o->implied = strdup("driver");
        if (!o->implied) {
            return nomem(L);
        }
        if (common) {
            f = sub(field, "common");
            rc = f ? load_ruleset(L, common, f, false, &o->keys) : nomem(L);
            free(f);
            f = NULL;
        }
        if (rc == 0) {
            f = sub(field, "models");
            rc = f ? qhil_yaml_want_mapping(y, models, f,
                                            "a mapping of model names to "
                                            "their sub-options",
                                            L->err)
                   : nomem(L);
        }
        if (rc == 0) {
            rc = qhil_yaml_check_unique(y, models, f, L->err);
        }
        for (size_t i = 0; rc == 0 && i < qhil_yaml_count(models); i++) {
            yaml_node_t *k, *v;
            const char *name;
            pmodel *m;
            char *mf;

            qhil_yaml_pair(y, models, i, &k, &v);
            name = want_scalar(L, k, f, "a model name");
            if (!name) {
                rc = QHIL_EINVAL;
                break;
            }
            m = realloc(o->models, (o->n_models + 1) * sizeof(*m));
            if (!m) {
                rc = nomem(L);
                break;
            }
            o->models = m;
            m = &o->models[o->n_models++];
            memset(m, 0, sizeof(*m));
            m->name = strdup(name);
            mf = sub(f, name);
            if (!m->name || !mf) {
                free(mf);
                rc = nomem(L);
                break;
            }
            if (!qhil_yaml_is_null(v)) {
                rc = load_ruleset(L, v, mf, false, &m->keys);
            }
            free(mf);
        }
    } else {
        static const char *const parts[] = {"driver", "property", "value",
                                            NULL};

        o->kind = OPT_GLOBAL;
        f = sub(field, "global");
        rc = f ? qhil_yaml_want_mapping(y, global, f,
                                        "a mapping of driver, property "
                                        "and value to patterns",
                                        L->err)
               : nomem(L);
        if (rc == 0) {
            rc = qhil_yaml_check_keys(y, global, f, parts, L->err);
        }
        for (size_t i = 0; rc == 0 && i < 3; i++) {
            if (!qhil_yaml_get(y, global, parts[i])) {
                rc = qhil_yaml_fail(y, global, f, L->err, QHIL_EINVAL,
                                    "missing '%s' (give driver, property "
                                    "and value)",
                                    parts[i]);
            }
        }
        if (rc == 0) {
            rc = load_ruleset(L, global, f, false, &o->keys);
        }
    }
    free(f);
    return rc;
}

/* Put o into the policy's options, replacing an entry of the same name. */
static int opt_store(loader *L, popt *o)
{
    qhil_policy *p = L->p;
    popt *v;

    for (size_t i = 0; i < p->n_opts; i++) {
        if (strcmp(p->opts[i].name, o->name) == 0) {
            opt_release(&p->opts[i]);
            p->opts[i] = *o;
            return 0;
        }
    }
    v = realloc(p->opts, (p->n_opts + 1) * sizeof(*v));
    if (!v) {
        opt_release(o);
        return nomem(L);
    }
    p->opts = v;
    p->opts[p->n_opts++] = *o;
    return 0;
}

static int load_options(loader *L, const yaml_node_t *node, const char *field)
{
    int rc;

    rc = qhil_yaml_want_mapping(
        L->y, node, field, "a mapping of QEMU options to their rules", L->err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(L->y, node, field, L->err);
    }
    for (size_t i = 0; rc == 0 && i < qhil_yaml_count(node); i++) {
        yaml_node_t *k, *v;
        const char *name;
        popt o;
        char *f;

        qhil_yaml_pair(L->y, node, i, &k, &v);
        name = want_scalar(L, k, field, "an option name");
        if (!name) {
            return QHIL_EINVAL;
        }
        if (name[0] != '-' || name[1] == '-' || !name[1]) {
            return qhil_yaml_fail(L->y, k, field, L->err, QHIL_EINVAL,
                                  "option '%s' must be written -NAME", name);
        }
        memset(&o, 0, sizeof(o));
        o.name = strdup(name);
        f = sub(field, name);
        if (!o.name || !f) {
            free(f);
            opt_release(&o);
            return nomem(L);
        }
        if (v->type == YAML_SCALAR_NODE) {
            const char *s = qhil_yaml_scalar(v, NULL);

            if (strcmp(s, "flag") == 0) {
                o.kind = OPT_FLAG;
            } else if (strcmp(s, "deny") == 0) {
                o.kind = OPT_DENY;
            } else {
                rc = qhil_yaml_fail(L->y, v, f, L->err, QHIL_EINVAL,
                                    "expected flag, deny or a mapping, "
                                    "got '%s'",
                                    s);
            }
        } else if (v->type == YAML_MAPPING_NODE) {
            rc = load_opt_map(L, v, f, &o);
        } else {
            rc = qhil_yaml_fail(L->y, v, f, L->err, QHIL_EINVAL,
                                "expected flag, deny or a mapping, got %s",
                                qhil_yaml_kind(v));
        }
        free(f);
        if (rc < 0) {
            opt_release(&o);
            return rc;
        }
        rc = opt_store(L, &o);
    }
    return rc;
}

/* machine: {type: P, keys: {...}} or cpu: {model: P, keys: {...}} */
static int load_value_rule(loader *L, const yaml_node_t *node,
                           const char *field, const char *implied, popt *out)
{
    const char *known[] = {implied, "keys", NULL};
    yaml_node_t *first, *keys;
    popt o;
    prule r;
    char *f;
    int rc;

    memset(&o, 0, sizeof(o));
    if (node->type == YAML_SCALAR_NODE &&
        strcmp(qhil_yaml_scalar(node, NULL), "deny") == 0) {
        opt_release(out);
        return 0;
    }
    rc = qhil_yaml_want_mapping(L->y, node, field, "a mapping", L->err);
    if (rc == 0) {
        rc = qhil_yaml_check_keys(L->y, node, field, known, L->err);
    }
    if (rc < 0) {
        return rc;
    }
    first = qhil_yaml_get(L->y, node, implied);
    keys = qhil_yaml_get(L->y, node, "keys");
    if (!first) {
        return qhil_yaml_fail(L->y, node, field, L->err, QHIL_EINVAL,
                              "missing '%s'", implied);
    }
    o.kind = OPT_LIST;
    o.keyval = true;
    o.name = strdup(field);
    o.implied = strdup(implied);
    f = sub(field, implied);
    if (!o.name || !o.implied || !f) {
        free(f);
        opt_release(&o);
        return nomem(L);
    }
    rc = load_rule(L, first, f, implied, false, &r);
    free(f);
    if (rc == 0) {
        rc = ruleset_push(L, &o.keys, &r);
    }
    if (rc == 0 && keys) {
        f = sub(field, "keys");
        rc = f ? load_ruleset(L, keys, f, false, &o.keys) : nomem(L);
        free(f);
    }
    if (rc < 0) {
        opt_release(&o);
        return rc;
    }
    opt_release(out);
    *out = o;
    return 0;
}

static int qmp_store(loader *L, pqmp *q)
{
    qhil_policy *p = L->p;
    pqmp *v;

    for (size_t i = 0; i < p->n_qmp; i++) {
        if (p->qmp[i].prefix == q->prefix &&
            strcmp(p->qmp[i].name, q->name) == 0) {
            free(p->qmp[i].name);
            ruleset_release(&p->qmp[i].args);
            p->qmp[i] = *q;
            return 0;
        }
    }
    v = realloc(p->qmp, (p->n_qmp + 1) * sizeof(*v));
    if (!v) {
        free(q->name);
        ruleset_release(&q->args);
        return nomem(L);
    }
    p->qmp = v;
    p->qmp[p->n_qmp++] = *q;
    return 0;
}

static int load_qmp(loader *L, const yaml_node_t *node, const char *field)
{
    static const struct {
        const char *word;
        int kind;
    } words[] = {
        {"any", QMP_ANY},
        {"deny", QMP_DENY},
        {"device", QMP_DEVICE},
        {"hmp", QMP_HMP},
    };
    int rc;

    rc = qhil_yaml_want_mapping(
        L->y, node, field, "a mapping of QMP commands to their rules", L->err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(L->y, node, field, L->err);
    }
    for (size_t i = 0; rc == 0 && i < qhil_yaml_count(node); i++) {
        yaml_node_t *k, *v;
        const char *name;
        size_t len;
        pqmp q;
        char *f;

        qhil_yaml_pair(L->y, node, i, &k, &v);
        name = want_scalar(L, k, field, "a command name");
        if (!name) {
            return QHIL_EINVAL;
        }
        len = strlen(name);
        memset(&q, 0, sizeof(q));
        q.prefix = name[len - 1] == '*';
        q.name = strndup(name, len - (q.prefix ? 1 : 0));
        f = sub(field, name);
        if (!q.name || !f) {
            free(f);
            free(q.name);
            return nomem(L);
        }
        if (strchr(q.name, '*')) {
            rc = qhil_yaml_fail(L->y, k, field, L->err, QHIL_EINVAL,
                                "'%s': a '*' may only end a name", name);
        } else if (v->type == YAML_SCALAR_NODE) {
            const char *s = qhil_yaml_scalar(v, NULL);
            size_t j;

            for (j = 0; j < QHIL_ARRAY_SIZE(words); j++) {
                if (strcmp(s, words[j].word) == 0) {
                    q.kind = words[j].kind;
                    break;
                }
            }
            if (j == QHIL_ARRAY_SIZE(words)) {
                rc = qhil_yaml_fail(L->y, v, f, L->err, QHIL_EINVAL,
                                    "expected any, deny, device, hmp or a "
                                    "mapping of arguments, got '%s'",
                                    s);
            }
        } else {
            q.kind = QMP_ARGS;
            rc = load_ruleset(L, v, f, true, &q.args);
        }
        free(f);
        if (rc < 0) {
            free(q.name);
            ruleset_release(&q.args);
            return rc;
        }
        rc = qmp_store(L, &q);
    }
    return rc;
}

static int hmp_store(loader *L, const char *name, bool allow)
{
    qhil_policy *p = L->p;
    phmp *v;

    for (size_t i = 0; i < p->n_hmp; i++) {
        if (strcmp(p->hmp[i].name, name) == 0) {
            p->hmp[i].allow = allow;
            return 0;
        }
    }
    v = realloc(p->hmp, (p->n_hmp + 1) * sizeof(*v));
    if (!v) {
        return nomem(L);
    }
    p->hmp = v;
    p->hmp[p->n_hmp].name = strdup(name);
    p->hmp[p->n_hmp].allow = allow;
    if (!p->hmp[p->n_hmp].name) {
        return nomem(L);
    }
    p->n_hmp++;
    return 0;
}

static int load_hmp(loader *L, const yaml_node_t *node, const char *field)
{
    bool map = node->type == YAML_MAPPING_NODE;
    int rc = 0;

    if (!map && node->type != YAML_SEQUENCE_NODE) {
        return qhil_yaml_fail(L->y, node, field, L->err, QHIL_EINVAL,
                              "expected a list of HMP commands or a "
                              "mapping of them to allow or deny, got %s",
                              qhil_yaml_kind(node));
    }
    if (map) {
        rc = qhil_yaml_check_unique(L->y, node, field, L->err);
    }
    for (size_t i = 0; rc == 0 && i < qhil_yaml_count(node); i++) {
        yaml_node_t *k, *v = NULL;
        const char *name, *s = "allow";

        if (map) {
            qhil_yaml_pair(L->y, node, i, &k, &v);
        } else {
            k = qhil_yaml_item(L->y, node, i);
        }
        name = want_scalar(L, k, field, "an HMP command name");
        if (!name) {
            return QHIL_EINVAL;
        }
        if (name[strcspn(name, " \t/")]) {
            return qhil_yaml_fail(L->y, k, field, L->err, QHIL_EINVAL,
                                  "'%s' is not one word", name);
        }
        if (v) {
            s = want_scalar(L, v, field, "allow or deny");
            if (!s) {
                return QHIL_EINVAL;
            }
            if (strcmp(s, "allow") != 0 && strcmp(s, "deny") != 0) {
                return qhil_yaml_fail(L->y, v, field, L->err, QHIL_EINVAL,
                                      "expected allow or deny, got '%s'", s);
            }
        }
        rc = hmp_store(L, name, strcmp(s, "allow") == 0);
    }
    return rc;
}

static int load_memory(loader *L, const yaml_node_t *node, const char *field)
{
    const char *s, *why = NULL;

    s = want_scalar(L, node, field, "a size such as 1G or 1024 (MiB)");
    if (!s) {
        return QHIL_EINVAL;
    }
    if (qhil_policy_parse_size(s, &L->p->mem_max, &why) < 0) {
        return qhil_yaml_fail(L->y, node, field, L->err, QHIL_EINVAL,
                              "'%s': %s", s, why);
    }
    L->p->have_mem = true;
    return 0;
}

static int load_machine(loader *L, const yaml_node_t *node, const char *field)
{
    return load_value_rule(L, node, field, "type", &L->p->machine);
}

static int load_cpu(loader *L, const yaml_node_t *node, const char *field)
{
    return load_value_rule(L, node, field, "model", &L->p->cpu);
}

/* The keys of a "policy:" mapping besides "base", each with its loader. */
static const struct {
    const char *key;
    int (*load)(loader *L, const yaml_node_t *node, const char *field);
} sections[] = {
    {"memory_max", load_memory}, {"options", load_options},
    {"machine", load_machine},   {"cpu", load_cpu},
    {"qmp", load_qmp},           {"hmp", load_hmp},
};

static int load_into(loader *L, const yaml_node_t *node, const char *field)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < QHIL_ARRAY_SIZE(sections); i++) {
        yaml_node_t *v = qhil_yaml_get(L->y, node, sections[i].key);
        char *f;

        if (!v) {
            continue;
        }
        f = sub(field, sections[i].key);
        if (!f) {
            return nomem(L);
        }
        rc = sections[i].load(L, v, f);
        free(f);
    }
    return rc;
}

int qhil_policy_load(qhil_yaml *y, yaml_node_t *node, const char *field,
                     const char *src, qhil_policy **out, qhil_error *err)
{
    const char *known[QHIL_ARRAY_SIZE(sections) + 2] = {"base"};
    loader L = {y, err, NULL};
    yaml_node_t *base;
    bool strict = true;
    int rc;

    *out = NULL;
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(sections); i++) {
        known[i + 1] = sections[i].key;
    }
    rc = qhil_yaml_want_mapping(y, node, field, "a mapping", err);
    if (rc == 0) {
        rc = qhil_yaml_check_keys(y, node, field, known, err);
    }
    if (rc < 0) {
        return rc;
    }
    base = qhil_yaml_get(y, node, "base");
    if (base) {
        char *f = sub(field, "base");
        const char *s = f ? want_scalar(&L, base, f, "strict or none") : NULL;

        if (!f) {
            return nomem(&L);
        }
        if (s && strcmp(s, "none") == 0) {
            strict = false;
        } else if (s && strcmp(s, "strict") != 0) {
            qhil_yaml_fail(y, base, f, err, QHIL_EINVAL,
                           "expected strict or none, got '%s'", s);
            s = NULL;
        }
        free(f);
        if (!s) {
            return QHIL_EINVAL;
        }
    }
    if (strict) {
        rc = qhil_policy_strict(&L.p, err);
        if (rc < 0) {
            return rc;
        }
        free(L.p->name);
        L.p->name = strdup(src ? src : "the site policy");
        if (!L.p->name) {
            qhil_policy_free(L.p);
            return nomem(&L);
        }
    } else {
        L.p = policy_new(src ? src : "the site policy");
        if (!L.p) {
            return nomem(&L);
        }
    }
    rc = load_into(&L, node, field);
    if (rc < 0) {
        qhil_policy_free(L.p);
        return rc;
    }
    *out = L.p;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The strict policy                                                  */

/*
 * One string per line (a C string may not be that long); the same text as
 * site/strict-policy.yaml (a unit test holds them to the
 * same behaviour); docs/policy.md says why each entry touches nothing of
 * the host.  Patterns avoid backslashes ("[.]" for a dot) so the text
 * reads the same here and in the file.
 */
static const char *const strict_policy_lines[] = {
    "policy:",
    "  base: none",
    "  memory_max: 1G",
    "  options:",
    "    -smp:",
    "      implied: cpus",
    "      keys:",
    "        cpus: '[1-9]|1[0-6]'",
    "        sockets: '[1-9]|1[0-6]'",
    "        dies: '[1-9]|1[0-6]'",
    "        clusters: '[1-9]|1[0-6]'",
    "        cores: '[1-9]|1[0-6]'",
    "        threads: '[1-9]|1[0-6]'",
    "        maxcpus: '[1-9]|1[0-6]'",
    "    -icount:",
    "      implied: shift",
    "      keys:",
    "        shift: '[0-9]|10|auto'",
    "        align: 'on|off'",
    "        sleep: 'on|off'",
    "    -rtc:",
    "      keys:",
    "        base: 'utc|localtime|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:"
    "[0-9]{2}:[0-9]{2})?'",
    "        clock: 'host|rt|vm'",
    "        driftfix: 'none|slew'",
    "    -global:",
    "      global:",
    "        driver: '[A-Za-z0-9][A-Za-z0-9._-]{0,62}'",
    "        property: '(?!.*(file|path|fd|dev|drive|rng|backend|sock|d"
    "ir|script|host|iothread|display|audio|rom|bus|link))[a-z][a-z0-9_-"
    "]{0,62}'",
    "        value: '[A-Za-z0-9_.+-]{0,64}'",
    "    -device:",
    "      common:",
    "        id: '[A-Za-z][A-Za-z0-9_.-]{0,31}'",
    "        bus: '[A-Za-z0-9_.-]{1,64}'",
    "        addr: '[0-9a-fA-F]{1,2}([.][0-7])?'",
    "      models:",
    "        loader:",
    "          addr: '0x[0-9a-fA-F]{1,16}|[0-9]{1,20}'",
    "          data: '0x[0-9a-fA-F]{1,16}|[0-9]{1,20}'",
    "          data-len: '1|2|4|8'",
    "          data-be: 'on|off|true|false|yes|no'",
    "          cpu-num: '[0-9]{1,3}'",
    "        tmp105:",
    "          address: '0x[0-7][0-9a-fA-F]|[0-9]{1,3}'",
    "          temperature: '-?[0-9]{1,6}'",
    "        tmp421:",
    "          address: '0x[0-7][0-9a-fA-F]|[0-9]{1,3}'",
    "          temperature0: '-?[0-9]{1,6}'",
    "          temperature1: '-?[0-9]{1,6}'",
    "          temperature2: '-?[0-9]{1,6}'",
    "          temperature3: '-?[0-9]{1,6}'",
    "        emc1413:",
    "          address: '0x[0-7][0-9a-fA-F]|[0-9]{1,3}'",
    "          temperature0: '-?[0-9]{1,6}'",
    "          temperature1: '-?[0-9]{1,6}'",
    "          temperature2: '-?[0-9]{1,6}'",
    "        emc1414:",
    "          address: '0x[0-7][0-9a-fA-F]|[0-9]{1,3}'",
    "          temperature0: '-?[0-9]{1,6}'",
    "          temperature1: '-?[0-9]{1,6}'",
    "          temperature2: '-?[0-9]{1,6}'",
    "          temperature3: '-?[0-9]{1,6}'",
    "        ds1338:",
    "          address: '0x[0-7][0-9a-fA-F]|[0-9]{1,3}'",
    "        m41t80:",
    "          address: '0x[0-7][0-9a-fA-F]|[0-9]{1,3}'",
    "        pca9552:",
    "          address: '0x[0-7][0-9a-fA-F]|[0-9]{1,3}'",
    "        virtio-rng-device:",
    "          max-bytes: '[0-9]{1,19}'",
    "          period: '[0-9]{1,10}'",
    "        virtio-rng-pci:",
    "          max-bytes: '[0-9]{1,19}'",
    "          period: '[0-9]{1,10}'",
    "        virtio-balloon-device:",
    "          deflate-on-oom: 'on|off'",
    "          free-page-reporting: 'on|off'",
    "        virtio-balloon-pci:",
    "          deflate-on-oom: 'on|off'",
    "          free-page-reporting: 'on|off'",
    "        virtio-blk-device:",
    "          drive: '(?![Qq][Hh][Ii][Ll])[A-Za-z][A-Za-z0-9_.-]{0,63}'",
    "        virtio-blk-pci:",
    "          drive: '(?![Qq][Hh][Ii][Ll])[A-Za-z][A-Za-z0-9_.-]{0,63}'",
    "    -no-reboot: flag",
    "    -no-shutdown: flag",
    "    -d:",
    "      value: '(guest_errors|unimp|int|cpu_reset|mmu|pcall|page|noc"
    "hain|exec|cpu|fpu|in_asm|out_asm|op|op_opt|op_ind)(,(guest_errors|"
    "unimp|int|cpu_reset|mmu|pcall|page|nochain|exec|cpu|fpu|in_asm|out"
    "_asm|op|op_opt|op_ind))*'",
    "    -boot:",
    "      implied: order",
    "      keys:",
    "        order: '[a-p]{1,8}'",
    "        once: '[a-p]{1,8}'",
    "        menu: 'on|off'",
    "        strict: 'on|off'",
    "        reboot-timeout: '-1|[0-9]{1,5}'",
    "    -name:",
    "      implied: guest",
    "      keys:",
    "        guest: '[A-Za-z0-9_.-]{1,64}'",
    "        debug-threads: 'on|off'",
    "    -action:",
    "      keys:",
    "        reboot: 'reset|shutdown'",
    "        shutdown: 'poweroff|pause'",
    "        panic: 'pause|shutdown|exit-failure|none'",
    "        watchdog: 'reset|shutdown|poweroff|pause|debug|none|inject"
    "-nmi'",
    "    -watchdog-action:",
    "      value: 'reset|shutdown|poweroff|pause|debug|none|inject-nmi'",
    "  machine:",
    "    type: '[A-Za-z0-9][A-Za-z0-9._-]*'",
    "    keys:",
    "      gic-version: '2|3|4|max'",
    "      secure: 'on|off'",
    "      virtualization: 'on|off'",
    "      highmem: 'on|off'",
    "      its: 'on|off'",
    "      acpi: 'on|off|auto'",
    "  cpu:",
    "    model: '[A-Za-z0-9][A-Za-z0-9._-]*'",
    "    keys:",
    "      pmu: 'on|off'",
    "      sve: 'on|off'",
    "      aarch64: 'on|off'",
    "      pauth: 'on|off'",
    "  qmp:",
    "    query-*: any",
    "    qom-list: any",
    "    qom-get: any",
    "    qom-list-types: any",
    "    qom-list-properties: any",
    "    device-list-properties: any",
    "    system_reset: any",
    "    system_powerdown: any",
    "    system_wakeup: any",
    "    stop: any",
    "    cont: any",
    "    quit: any",
    "    inject-nmi: any",
    "    send-key: any",
    "    input-send-event: any",
    "    trace-event-get-state: any",
    "    trace-event-set-state: any",
    "    device_del: any",
    "    device_add: device",
    "    qom-set:",
    "      path: '[][A-Za-z0-9_/.:-]{1,256}'",
    "      property: '[A-Za-z0-9_.-]{1,64}'",
    "      value: scalar",
    "    human-monitor-command: hmp",
    "  hmp: [info, system_reset, system_powerdown, stop, cont, c, nmi, "
    "x, xp, print, p, sendkey, help, '?', gva2gpa, trace-event]",
};

int qhil_policy_strict(qhil_policy **out, qhil_error *err)
{
    qhil_buf text;
    qhil_yaml y;
    yaml_node_t *node;
    int rc;

    *out = NULL;
    qhil_buf_init(&text, QHIL_YAML_MAX_FILE);
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(strict_policy_lines); i++) {
        if (qhil_buf_puts(&text, strict_policy_lines[i]) < 0 ||
            qhil_buf_puts(&text, "\n") < 0) {
            qhil_buf_release(&text);
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    rc = qhil_yaml_load_buffer(&y, "the strict policy", text.data, text.len,
                               err);
    qhil_buf_release(&text);
    if (rc == 0) {
        node = qhil_yaml_get(&y, qhil_yaml_root(&y), "policy");
        rc =
            qhil_policy_load(&y, node, "policy", "the strict policy", out, err);
    }
    qhil_yaml_release(&y);
    return rc;
}
