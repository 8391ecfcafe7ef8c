/*
 * policy.c - the allowlist of what an untrusted job may ask of QEMU.
 *
 * A policy is data: a table of QEMU options, a machine and a cpu rule, a
 * memory cap, a table of QMP commands and a table of HMP commands.  Each
 * entry says what is allowed; a name that has no entry, or whose entry is
 * "deny", is refused.  The strict policy is the YAML text at the end of
 * this file, read by the same loader as a site's file, so the shipped
 * site/strict-policy.yaml and the built-in policy are one schema (a unit
 * test checks they behave the same).
 *
 * Option entries, by kind (what the argument of the option is):
 *   flag     no argument (-no-reboot)
 *   value    one argument matched whole by a pattern (-d, -watchdog-action)
 *   list     a QemuOpts option list, each key with its pattern (-smp)
 *   device   an option list whose driver picks the allowed keys (-device)
 *   global   -global's two forms, DRIVER.PROP=VALUE and driver=,property=,
 *            value=, each part with its pattern
 *   deny     refused (to take an entry of the base away)
 *
 * Option lists are split the way QEMU 7.2's util/qemu-option.c splits
 * them: ",," is a comma inside a value; a first item without "=" is the
 * implied key when the entry has one, a later one is KEY=on, or KEY=off
 * when written noKEY (machine and cpu values, which QEMU reads with its
 * keyval and cpu feature parsers, take KEY=VALUE items only); the value
 * checked is the unescaped one, so a pattern without "," refuses every
 * comma trick.  Where QEMU is looser or different (empty items, a key
 * given twice, a trailing comma, cpu's plain comma split), the check
 * refuses rather than guess.
 *
 * A QMP command object may hold only "execute" and "arguments" (an
 * "exec-oob" names a command too).  Its entry is the exact one, else the
 * longest prefix ("query-*"); device_add is checked with the -device
 * entry, human-monitor-command's command-line with the HMP table, whose
 * names match the first word of the line as QEMU's monitor cuts it (at
 * blank space or "/").
 *
 * Patterns are PCRE2, compiled with PCRE2_ANCHORED | PCRE2_ENDANCHORED
 * (they match the whole value), never in UTF mode, with a match limit so
 * a site's pattern cannot make a check run away.
 *
 * Refusals go through refuse(), which writes the one message format of
 * policy.h with control bytes escaped, so a hostile word cannot break the
 * line.  Lists of allowed names stop after NAMES_SHOWN with "...".
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "policy.h"

#define NAMES_SHOWN 12     /* allowed names listed in a refusal */
#define WORD_SHOWN 120     /* bytes of a hostile word quoted */
#define MESSAGE_MAX 8192   /* cap of a refusal message */
#define MATCH_LIMIT 100000 /* PCRE2 match limit per check */
#define PATTERN_SHOWN 80   /* bytes of a pattern quoted */

/* How a key (or QMP argument) is checked. */
enum rule_kind {
    RULE_PATTERN, /* the value (JSON text unless a string) matches re */
    RULE_SCALAR,  /* QMP only: a JSON number or boolean */
    RULE_ANY,     /* QMP only: anything */
};

typedef struct prule {
    char *name;
    int kind;
    char *src; /* the pattern as written, for messages */
    pcre2_code *re;
} prule;

typedef struct ruleset {
    prule *v;
    size_t n;
} ruleset;

typedef struct pmodel {
    char *name;
    ruleset keys;
} pmodel;

enum opt_kind {
    OPT_DENY,
    OPT_FLAG,
    OPT_VALUE,
    OPT_LIST,
    OPT_DEVICE,
    OPT_GLOBAL
};

typedef struct popt {
    char *name; /* "-smp"; "machine" and "cpu" for those rules */
    int kind;
    prule value;    /* OPT_VALUE */
    char *implied;  /* OPT_LIST, OPT_DEVICE: key of a bare first item */
    ruleset keys;   /* LIST: keys; DEVICE: common keys; GLOBAL: parts */
    pmodel *models; /* OPT_DEVICE */
    size_t n_models;
    bool json;   /* a value starting with "{" is QEMU's JSON form */
    bool keyval; /* machine, cpu: no bare KEY items (KEY=VALUE only) */
} popt;

enum qmp_kind { QMP_DENY, QMP_ANY, QMP_DEVICE, QMP_HMP, QMP_ARGS };

typedef struct pqmp {
    char *name; /* without the trailing "*" of a prefix entry */
    bool prefix;
    int kind;
    ruleset args; /* QMP_ARGS */
} pqmp;

typedef struct phmp {
    char *name;
    bool allow;
} phmp;

struct qhil_policy {
    char *name;
    popt *opts;
    size_t n_opts;
    popt machine; /* OPT_LIST (implied "type") or OPT_DENY */
    popt cpu;     /* OPT_LIST (implied "model") or OPT_DENY */
    bool have_mem;
    unsigned long long mem_max; /* MiB */
    pqmp *qmp;
    size_t n_qmp;
    phmp *hmp;
    size_t n_hmp;
    pcre2_match_context *mctx;
};

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

const char *qhil_policy_name(const qhil_policy *p)
{
    return p ? p->name : "no policy";
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
/* Lookups                                                            */

static const prule *rule_find(const ruleset *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].name, name) == 0) {
            return &s->v[i];
        }
    }
    return NULL;
}

static const popt *opt_find(const qhil_policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_opts; i++) {
        if (strcmp(p->opts[i].name, name) == 0) {
            return &p->opts[i];
        }
    }
    return NULL;
}

static const pmodel *model_find(const popt *o, const char *name)
{
    for (size_t i = 0; i < o->n_models; i++) {
        if (strcmp(o->models[i].name, name) == 0) {
            return &o->models[i];
        }
    }
    return NULL;
}

/* The entry for a QMP command: an exact entry, else the longest prefix. */
static const pqmp *qmp_find(const qhil_policy *p, const char *name)
{
    const pqmp *best = NULL;

    for (size_t i = 0; i < p->n_qmp; i++) {
        const pqmp *q = &p->qmp[i];

        if (!q->prefix && strcmp(q->name, name) == 0) {
            return q;
        }
        if (q->prefix && strncmp(q->name, name, strlen(q->name)) == 0 &&
            (!best || strlen(q->name) > strlen(best->name))) {
            best = q;
        }
    }
    return best;
}

static const phmp *hmp_find(const qhil_policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_hmp; i++) {
        if (strcmp(p->hmp[i].name, name) == 0) {
            return &p->hmp[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Messages                                                           */

/* Append s with control bytes escaped, at most max bytes of it. */
static void put_shown(qhil_buf *b, const char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f) {
            qhil_buf_printf(b, "\\x%02x", c);
        } else {
            qhil_buf_append(b, &s[i], 1);
        }
    }
    if (s[i]) {
        qhil_buf_puts(b, "...");
    }
}

/* Comma-separated names, NAMES_SHOWN at most, then "...". */
typedef struct namelist {
    qhil_buf *b;
    size_t n;
} namelist;

static void nl_add(namelist *nl, const char *name, const char *suffix)
{
    if (nl->n == NAMES_SHOWN) {
        qhil_buf_puts(nl->b, ", ...");
    }
    if (nl->n++ >= NAMES_SHOWN) {
        return;
    }
    if (nl->n > 1) {
        qhil_buf_puts(nl->b, ", ");
    }
    qhil_buf_printf(nl->b, "%s%s", name, suffix);
}

static void nl_end(namelist *nl)
{
    if (nl->n == 0) {
        qhil_buf_puts(nl->b, "none");
    }
}

static void list_opts(qhil_buf *b, const qhil_policy *p)
{
    namelist nl = {b, 0};

    qhil_buf_puts(b, "allowed options: ");
    for (size_t i = 0; i < p->n_opts; i++) {
        if (p->opts[i].kind != OPT_DENY) {
            nl_add(&nl, p->opts[i].name, "");
        }
    }
    nl_end(&nl);
}

/* The names of a, then those of c that a does not have (c may be NULL). */
static void list_rules(qhil_buf *b, const ruleset *a, const ruleset *c)
{
    namelist nl = {b, 0};

    for (size_t i = 0; i < a->n; i++) {
        nl_add(&nl, a->v[i].name, "");
    }
    for (size_t i = 0; c && i < c->n; i++) {
        if (!rule_find(a, c->v[i].name)) {
            nl_add(&nl, c->v[i].name, "");
        }
    }
    nl_end(&nl);
}

static void list_models(qhil_buf *b, const popt *o)
{
    namelist nl = {b, 0};

    for (size_t i = 0; o && i < o->n_models; i++) {
        nl_add(&nl, o->models[i].name, "");
    }
    nl_end(&nl);
}

static void list_qmp(qhil_buf *b, const qhil_policy *p)
{
    namelist nl = {b, 0};

    qhil_buf_puts(b, "allowed QMP commands: ");
    for (size_t i = 0; i < p->n_qmp; i++) {
        if (p->qmp[i].kind != QMP_DENY) {
            nl_add(&nl, p->qmp[i].name, p->qmp[i].prefix ? "*" : "");
        }
    }
    nl_end(&nl);
}

static void list_hmp(qhil_buf *b, const qhil_policy *p)
{
    namelist nl = {b, 0};

    qhil_buf_puts(b, "allowed HMP commands: ");
    for (size_t i = 0; i < p->n_hmp; i++) {
        if (p->hmp[i].allow) {
            nl_add(&nl, p->hmp[i].name, "");
        }
    }
    nl_end(&nl);
}

/*
 * Record the refusal "ORIGIN: FIELD: 'WORD' is not allowed by POLICY:
 * REASON", REASON being the text of reason (released here).  Returns
 * QHIL_EINVAL.
 */
static int refuse(const qhil_policy *p, const char *origin, const char *field,
                  qhil_error *err, const char *word, qhil_buf *reason)
{
    qhil_buf b;

    qhil_buf_init(&b, MESSAGE_MAX);
    if (origin && *origin) {
        put_shown(&b, origin, WORD_SHOWN);
        qhil_buf_puts(&b, ": ");
    }
    if (field && *field) {
        put_shown(&b, field, WORD_SHOWN);
        qhil_buf_puts(&b, ": ");
    }
    qhil_buf_puts(&b, "'");
    put_shown(&b, word, WORD_SHOWN);
    qhil_buf_puts(&b, "' is not allowed by ");
    qhil_buf_puts(&b, p->name);
    qhil_buf_puts(&b, ": ");
    put_shown(&b, reason->data ? reason->data : "", MESSAGE_MAX);
    qhil_buf_release(reason);
    qhil_error_set(err, QHIL_EINVAL, "%s", b.data ? b.data : "refused");
    qhil_buf_release(&b);
    return QHIL_EINVAL;
}

/* refuse() with a reason given as a format. */
static int refusef(const qhil_policy *p, const char *origin, const char *field,
                   qhil_error *err, const char *word, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int refusef(const qhil_policy *p, const char *origin, const char *field,
                   qhil_error *err, const char *word, const char *fmt, ...)
{
    qhil_buf r;
    char *text = NULL;
    va_list ap;

    qhil_buf_init(&r, MESSAGE_MAX);
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0) {
        text = NULL;
    }
    va_end(ap);
    qhil_buf_puts(&r, text ? text : "refused");
    free(text);
    return refuse(p, origin, field, err, word, &r);
}

/* ------------------------------------------------------------------ */
/* Matching                                                           */

/* 1 when value matches r whole, 0 when not (or the match gave up). */
static int rule_match(const qhil_policy *p, const prule *r, const char *value)
{
    pcre2_match_data *md;
    int rc;

    if (r->kind == RULE_ANY) {
        return 1;
    }
    if (!r->re) {
        return 0;
    }
    md = pcre2_match_data_create_from_pattern(r->re, NULL);
    if (!md) {
        return 0;
    }
    rc =
        pcre2_match(r->re, (PCRE2_SPTR)value, strlen(value), 0, 0, md, p->mctx);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* "value 'V' of sub-option 'K' does not match 'PATTERN'" */
static void put_mismatch(qhil_buf *b, const char *what, const char *key,
                         const char *value, const prule *r)
{
    qhil_buf_puts(b, "value '");
    put_shown(b, value, WORD_SHOWN);
    qhil_buf_printf(b, "' of %s '%s' does not match '", what, key);
    put_shown(b, r->src ? r->src : "", PATTERN_SHOWN);
    qhil_buf_puts(b, "'");
}

/* ------------------------------------------------------------------ */
/* Option lists                                                       */

typedef struct kv {
    char *key;
    char *val;
} kv;

typedef struct kvlist {
    kv *v;
    size_t n;
} kvlist;

static void kvlist_release(kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].val);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Take key and val (both malloc'ed, may be NULL on allocation failure). */
static int kvlist_add(kvlist *l, char *key, char *val)
{
    kv *v;

    if (!key || !val) {
        goto fail;
    }
    v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v) {
        goto fail;
    }
    l->v = v;
    l->v[l->n].key = key;
    l->v[l->n].val = val;
    l->n++;
    return 0;
fail:
    free(key);
    free(val);
    return QHIL_ENOMEM;
}

/* QEMU's get_opt_value: up to a lone ",", with ",," read as ",". */
static const char *get_value(const char *p, char **out)
{
    qhil_buf b;

    qhil_buf_init(&b, strlen(p)); /* never longer than its input */
    qhil_buf_puts(&b, "");
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                break;
            }
            p++;
        }
        qhil_buf_append(&b, p, 1);
        p++;
    }
    *out = qhil_buf_steal(&b);
    return p;
}

/*
 * Split s into keys and values as QEMU's opts_do_parse does.  flags: a
 * later item without "=" is KEY=on (QemuOpts); without it such an item is
 * refused, as QEMU's keyval parser (-machine) and cpu feature parser do.
 * On a form the check refuses, *why gets the reason (static) and
 * QHIL_EINVAL.
 */
static int kv_parse(const char *s, const char *implied, bool flags, kvlist *out,
                    const char **why)
{
    const char *p = s;
    bool first = true;
    int rc;

    if (!*p) {
        *why = "it is empty";
        return QHIL_EINVAL;
    }
    for (;;) {
        const char *start = p;
        size_t len = strcspn(p, "=,");
        char *key, *val;

        if (p[len] != '=') {
            if (first && implied) {
                key = strdup(implied);
                p = get_value(p, &val);
            } else if (!flags && len > 0) {
                *why = "an item after the first has no '=' (QEMU reads "
                       "KEY=VALUE items here)";
                return QHIL_EINVAL;
            } else {
                key = strndup(p, len);
                p += len;
                if (key && strncmp(key, "no", 2) == 0) {
                    memmove(key, key + 2, strlen(key + 2) + 1);
                    val = strdup("off");
                } else {
                    val = strdup("on");
                }
            }
        } else {
            key = strndup(p, len);
            p = get_value(p + len + 1, &val);
        }
        rc = kvlist_add(out, key, val);
        if (rc < 0) {
            *why = "out of memory";
            return rc;
        }
        if (p == start) {
            *why = "it has an empty item (a stray comma)";
            return QHIL_EINVAL;
        }
        if (!out->v[out->n - 1].key[0]) {
            *why = "it has an item without a sub-option name";
            return QHIL_EINVAL;
        }
        for (size_t i = 0; i + 1 < out->n; i++) {
            if (strcmp(out->v[i].key, out->v[out->n - 1].key) == 0) {
                *why = NULL; /* the caller names the key */
                return QHIL_EINVAL;
            }
        }
        first = false;
        if (!*p) {
            return 0;
        }
        p++; /* the "," */
        if (!*p) {
            *why = "it ends with a comma";
            return QHIL_EINVAL;
        }
    }
}

/* The keys and values of a JSON object, non-strings as their JSON text. */
static int kv_from_json(const json_t *obj, kvlist *out)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)obj, k, v)
    {
        char *text;

        if (json_is_string(v)) {
            text = strdup(json_string_value(v));
        } else {
            text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        }
        if (kvlist_add(out, strdup(k), text) < 0) {
            return QHIL_ENOMEM;
        }
    }
    return 0;
}

/* Who is asking: for refusals. */
typedef struct checker {
    const qhil_policy *p;
    const char *origin;
    const char *field;
    qhil_error *err;
    const char *word; /* the WORD of a refusal */
} checker;

/*
 * Check the keys and values of kvs against o, an OPT_LIST or OPT_DEVICE
 * entry.  label names the option in messages ("-smp", "machine",
 * "device_add"); what: "sub-option" or "argument".
 */
static int check_kvs(const checker *c, const popt *o, const char *label,
                     const char *what, const kvlist *kvs)
{
    const pmodel *model = NULL;
    const ruleset *own = &o->keys, *common = NULL;
    qhil_buf r;

    qhil_buf_init(&r, MESSAGE_MAX);
    if (o->kind == OPT_DEVICE) {
        const char *driver = NULL;

        for (size_t i = 0; i < kvs->n; i++) {
            if (strcmp(kvs->v[i].key, "driver") == 0) {
                driver = kvs->v[i].val;
            }
        }
        if (!driver) {
            qhil_buf_printf(&r,
                            "no model given; allowed models of %s: ", label);
            list_models(&r, o);
            return refuse(c->p, c->origin, c->field, c->err, c->word, &r);
        }
        model = model_find(o, driver);
        if (!model) {
            qhil_buf_puts(&r, "model '");
            put_shown(&r, driver, WORD_SHOWN);
            qhil_buf_printf(&r,
                            "' is not allowed; allowed models of %s: ", label);
            list_models(&r, o);
            return refuse(c->p, c->origin, c->field, c->err, c->word, &r);
        }
        own = &model->keys;
        common = &o->keys;
    }
    for (size_t i = 0; i < kvs->n; i++) {
        const char *key = kvs->v[i].key, *val = kvs->v[i].val;
        const prule *rule;

        if (model && strcmp(key, "driver") == 0) {
            continue;
        }
        rule = rule_find(own, key);
        if (!rule && common) {
            rule = rule_find(common, key);
        }
        if (!rule) {
            qhil_buf_puts(&r, what);
            qhil_buf_puts(&r, " '");
            put_shown(&r, key, WORD_SHOWN);
            qhil_buf_printf(&r,
                            "' is not allowed; allowed %ss of %s%s%s: ", what,
                            label, model ? " " : "", model ? model->name : "");
            list_rules(&r, own, common);
            return refuse(c->p, c->origin, c->field, c->err, c->word, &r);
        }
        if (!rule_match(c->p, rule, val)) {
            put_mismatch(&r, what, key, val, rule);
            return refuse(c->p, c->origin, c->field, c->err, c->word, &r);
        }
    }
    qhil_buf_release(&r);
    return 0;
}

/* Check arg, the option list of o; label names it in messages. */
static int check_list(const checker *c, const popt *o, const char *label,
                      const char *arg)
{
    kvlist kvs = {NULL, 0};
    const char *why = NULL;
    int rc;

    if (arg[0] == '{') {
        json_t *obj;

        if (!o->json) {
            return refusef(c->p, c->origin, c->field, c->err, c->word,
                           "the JSON form of %s is not allowed; write it "
                           "as an option list",
                           label);
        }
        obj = json_loads(arg, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(obj)) {
            json_decref(obj);
            return refusef(c->p, c->origin, c->field, c->err, c->word,
                           "its JSON form is not one JSON object without "
                           "duplicate keys");
        }
        rc = kv_from_json(obj, &kvs);
        json_decref(obj);
    } else {
        rc = kv_parse(arg, o->implied, !o->keyval, &kvs, &why);
    }
    if (rc == QHIL_ENOMEM) {
        kvlist_release(&kvs);
        return qhil_error_set(c->err, rc, "out of memory");
    }
    if (rc < 0 && why) {
        rc = refusef(c->p, c->origin, c->field, c->err, c->word,
                     "%s (allowed: KEY=VALUE items separated by single "
                     "commas)",
                     why);
    } else if (rc < 0) {
        qhil_buf r;

        qhil_buf_init(&r, MESSAGE_MAX);
        qhil_buf_puts(&r, "sub-option '");
        put_shown(&r, kvs.v[kvs.n - 1].key, WORD_SHOWN);
        qhil_buf_puts(&r, "' is given twice (QEMU would keep only one); "
                          "give each sub-option once");
        rc = refuse(c->p, c->origin, c->field, c->err, c->word, &r);
    } else {
        rc = check_kvs(c, o, label, "sub-option", &kvs);
    }
    kvlist_release(&kvs);
    return rc;
}

/*
 * -global: "DRIVER.PROP=VALUE" (QEMU's sscanf "%63[^.=].%63[^=]" then
 * "=", value raw) or the option list "driver=D,property=P,value=V".
 */
static int check_global(const checker *c, const popt *o, const char *arg)
{
    kvlist kvs = {NULL, 0};
    size_t dlen = strcspn(arg, ".=");
    int rc = 0;

    if (arg[dlen] == '.' && dlen >= 1 && dlen <= 63) {
        const char *prop = arg + dlen + 1;
        size_t plen = strcspn(prop, "=");

        if (prop[plen] == '=' && plen >= 1 && plen <= 63) {
            rc = kvlist_add(&kvs, strdup("driver"), strndup(arg, dlen));
            if (rc == 0) {
                rc = kvlist_add(&kvs, strdup("property"), strndup(prop, plen));
            }
            if (rc == 0) {
                rc = kvlist_add(&kvs, strdup("value"), strdup(prop + plen + 1));
            }
            if (rc < 0) {
                kvlist_release(&kvs);
                return qhil_error_set(c->err, rc, "out of memory");
            }
            goto check;
        }
    }
    {
        const char *why = NULL;

        rc = kv_parse(arg, NULL, true, &kvs, &why);
        if (rc == QHIL_ENOMEM) {
            kvlist_release(&kvs);
            return qhil_error_set(c->err, rc, "out of memory");
        }
        if (rc < 0) {
            kvlist_release(&kvs);
            return refusef(c->p, c->origin, c->field, c->err, c->word,
                           "%s (allowed: DRIVER.PROPERTY=VALUE or "
                           "driver=D,property=P,value=V, each once)",
                           why ? why : "a sub-option is given twice");
        }
    }
check:
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        static const char *const parts[] = {"driver", "property", "value"};
        bool found = false;

        for (size_t j = 0; j < kvs.n; j++) {
            found = found || strcmp(kvs.v[j].key, parts[i]) == 0;
        }
        if (!found) {
            rc = refusef(c->p, c->origin, c->field, c->err, c->word,
                         "it has no %s (allowed: DRIVER.PROPERTY=VALUE or "
                         "driver=D,property=P,value=V)",
                         parts[i]);
        }
    }
    if (rc == 0) {
        rc = check_kvs(c, o, "-global", "sub-option", &kvs);
    }
    kvlist_release(&kvs);
    return rc;
}

int qhil_policy_check_options(const qhil_policy *p, const char *const *words,
                              size_t n, const char *origin, const char *field,
                              qhil_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i] ? words[i] : "";
        const char *name = w;
        const popt *o;
        checker c = {p, origin, field, err, w};
        qhil_buf r, word;
        int rc;

        qhil_buf_init(&r, MESSAGE_MAX);
        if (w[0] != '-') {
            qhil_buf_puts(&r, w[0] ? "a word in option position that is "
                                     "not an option is a disk image to "
                                     "QEMU; "
                                   : "an empty word is not an option; ");
            list_opts(&r, p);
            return refuse(p, origin, field, err, w, &r);
        }
        if (name[1] == '-') {
            name++; /* QEMU reads --name as -name */
        }
        o = opt_find(p, name);
        if (!o || o->kind == OPT_DENY) {
            list_opts(&r, p);
            return refuse(p, origin, field, err, w, &r);
        }
        qhil_buf_release(&r);
        if (o->kind == OPT_FLAG) {
            continue;
        }
        if (i + 1 >= n || !words[i + 1]) {
            return refusef(p, origin, field, err, w,
                           "%s takes an argument and none follows", name);
        }
        qhil_buf_init(&word, MESSAGE_MAX);
        qhil_buf_printf(&word, "%s %s", w, words[i + 1]);
        c.word = word.data ? word.data : w;
        i++;
        switch (o->kind) {
        case OPT_VALUE:
            if (rule_match(p, &o->value, words[i])) {
                rc = 0;
                break;
            }
            qhil_buf_init(&r, MESSAGE_MAX);
            qhil_buf_puts(&r, "value '");
            put_shown(&r, words[i], WORD_SHOWN);
            qhil_buf_printf(&r, "' of %s does not match '", name);
            put_shown(&r, o->value.src ? o->value.src : "", PATTERN_SHOWN);
            qhil_buf_puts(&r, "'");
            rc = refuse(p, origin, field, err, c.word, &r);
            break;
        case OPT_GLOBAL:
            rc = check_global(&c, o, words[i]);
            break;
        default:
            rc = check_list(&c, o, name, words[i]);
            break;
        }
        qhil_buf_release(&word);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int qhil_policy_check_value(const qhil_policy *p, const char *what,
                            const char *value, const char *origin,
                            const char *field, qhil_error *err)
{
    const popt *o;
    checker c = {p, origin, field, err, value ? value : ""};

    if (what && strcmp(what, "machine") == 0) {
        o = &p->machine;
    } else if (what && strcmp(what, "cpu") == 0) {
        o = &p->cpu;
    } else {
        return qhil_error_set(err, QHIL_EINVAL,
                              "policy: unknown value kind '%s' (known: "
                              "machine, cpu)",
                              what ? what : "(null)");
    }
    if (o->kind != OPT_LIST) {
        return refusef(p, origin, field, err, c.word,
                       "the policy allows no %s value", what);
    }
    return check_list(&c, o, what, c.word);
}

/* ------------------------------------------------------------------ */
/* Memory                                                             */

/*
 * A -m value in MiB, rounded up: decimal digits and an optional K, M, G
 * or T (any case), as QEMU 7.2's qemu_strtosz reads them (decimal even
 * with leading zeros); no suffix is MiB (vl.c's legacy form).  Returns 0,
 * or -1 with *why.
 */
static int parse_size(const char *s, unsigned long long *mib, const char **why)
{
    unsigned long long val = 0, unit = 1ULL << 20;
    const char *q = s;

    if (*q < '0' || *q > '9') {
        *why = "it is not a decimal number of MiB or a number with K, M, "
               "G or T";
        return -1;
    }
    while (*q >= '0' && *q <= '9') {
        if (val > (~0ULL - 9) / 10) {
            *why = "it is too large";
            return -1;
        }
        val = val * 10 + (unsigned long long)(*q - '0');
        q++;
    }
    switch (*q) {
    case '\0':
        break;
    case 'k':
    case 'K':
        unit = 1ULL << 10;
        q++;
        break;
    case 'm':
    case 'M':
        q++;
        break;
    case 'g':
    case 'G':
        unit = 1ULL << 30;
        q++;
        break;
    case 't':
    case 'T':
        unit = 1ULL << 40;
        q++;
        break;
    default:
        break;
    }
    if (*q) {
        *why = "it is not a decimal number of MiB or a number with K, M, "
               "G or T";
        return -1;
    }
    if (val > ~0ULL / unit) {
        *why = "it is too large";
        return -1;
    }
    if (val == 0) {
        *why = "it is zero";
        return -1;
    }
    val *= unit;
    *mib = (val >> 20) + ((val & ((1ULL << 20) - 1)) != 0);
    return 0;
}

int qhil_policy_check_memory(const qhil_policy *p, const char *value,
                             const char *origin, const char *field,
                             unsigned long long *mib_out, qhil_error *err)
{
    unsigned long long mib = 0;
    const char *why = NULL;

    value = value ? value : "";
    if (!p->have_mem) {
        return refusef(p, origin, field, err, value,
                       "the policy allows no memory size");
    }
    if (parse_size(value, &mib, &why) < 0) {
        return refusef(p, origin, field, err, value,
                       "%s; the memory cap is %llu MiB", why, p->mem_max);
    }
    if (mib > p->mem_max) {
        return refusef(p, origin, field, err, value,
                       "it is %llu MiB; the memory cap is %llu MiB", mib,
                       p->mem_max);
    }
    if (mib_out) {
        *mib_out = mib;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* QMP and HMP                                                        */

int qhil_policy_check_hmp(const qhil_policy *p, const char *line,
                          const char *origin, const char *field,
                          qhil_error *err)
{
    const char *s;
    const phmp *h;
    char *name;
    size_t len;
    qhil_buf r;
    int rc;

    line = line ? line : "";
    for (s = line; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            return refusef(p, origin, field, err, line,
                           "an HMP command is one line without control "
                           "characters");
        }
    }
    s = line + strspn(line, " \t");
    len = strcspn(s, " \t/");
    name = strndup(s, len);
    if (!name) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    h = hmp_find(p, name);
    if (h && h->allow && len > 0) {
        free(name);
        return 0;
    }
    qhil_buf_init(&r, MESSAGE_MAX);
    if (len == 0) {
        qhil_buf_puts(&r, "it names no command; ");
    }
    list_hmp(&r, p);
    rc = refuse(p, origin, field, err, len ? name : line, &r);
    free(name);
    return rc;
}

int qhil_policy_check_qmp(const qhil_policy *p, const json_t *cmd,
                          const char *origin, const char *field,
                          qhil_error *err)
{
    const char *name, *k;
    const json_t *args;
    const pqmp *q;
    json_t *v;
    qhil_buf r;

    if (!json_is_object(cmd) ||
        !json_is_string(json_object_get(cmd, "execute"))) {
        return refusef(p, origin, field, err, "(command)",
                       "a QMP command is {\"execute\": NAME, "
                       "\"arguments\": {...}}");
    }
    name = json_string_value(json_object_get(cmd, "execute"));
    json_object_foreach((json_t *)cmd, k, v)
    {
        if (strcmp(k, "execute") != 0 && strcmp(k, "arguments") != 0) {
            return refusef(p, origin, field, err, k,
                           "a QMP command has only the keys execute and "
                           "arguments");
        }
    }
    args = json_object_get(cmd, "arguments");
    if (args && !json_is_object(args)) {
        return refusef(p, origin, field, err, name,
                       "its arguments are not a JSON object");
    }
    q = qmp_find(p, name);
    if (!q || q->kind == QMP_DENY) {
        qhil_buf_init(&r, MESSAGE_MAX);
        list_qmp(&r, p);
        return refuse(p, origin, field, err, name, &r);
    }
    switch (q->kind) {
    case QMP_ANY:
        return 0;
    case QMP_HMP: {
        const json_t *line =
            args ? json_object_get(args, "command-line") : NULL;

        json_object_foreach((json_t *)args, k, v)
        {
            if (strcmp(k, "command-line") != 0 &&
                !(strcmp(k, "cpu-index") == 0 && json_is_integer(v))) {
                return refusef(p, origin, field, err, name,
                               "argument '%s' is not allowed; allowed "
                               "arguments of %s: command-line, cpu-index "
                               "(an integer)",
                               k, name);
            }
        }
        if (!json_is_string(line)) {
            return refusef(p, origin, field, err, name,
                           "its argument command-line must be a string");
        }
        return qhil_policy_check_hmp(p, json_string_value(line), origin, field,
                                     err);
    }
    case QMP_DEVICE: {
        const popt *o = opt_find(p, "-device");
        checker c = {p, origin, field, err, name};
        kvlist kvs = {NULL, 0};
        int rc;

        if (!o || o->kind != OPT_DEVICE) {
            return refusef(p, origin, field, err, name,
                           "the policy allows no -device model");
        }
        rc = args ? kv_from_json(args, &kvs) : 0;
        if (rc < 0) {
            kvlist_release(&kvs);
            return qhil_error_set(err, rc, "out of memory");
        }
        rc = check_kvs(&c, o, name, "argument", &kvs);
        kvlist_release(&kvs);
        return rc;
    }
    default:
        break;
    }
    json_object_foreach((json_t *)args, k, v)
    {
        const prule *rule = rule_find(&q->args, k);
        char *text;
        int ok;

        if (!rule) {
            qhil_buf_init(&r, MESSAGE_MAX);
            qhil_buf_puts(&r, "argument '");
            put_shown(&r, k, WORD_SHOWN);
            qhil_buf_printf(&r,
                            "' is not allowed; allowed arguments of "
                            "%s: ",
                            name);
            list_rules(&r, &q->args, NULL);
            return refuse(p, origin, field, err, name, &r);
        }
        if (rule->kind == RULE_ANY) {
            continue;
        }
        if (rule->kind == RULE_SCALAR) {
            if (json_is_number(v) || json_is_boolean(v)) {
                continue;
            }
            return refusef(p, origin, field, err, name,
                           "argument '%s' must be a number or a boolean, "
                           "not %s",
                           k,
                           json_is_string(v) ? "a string"
                           : json_is_null(v) ? "null"
                                             : "a list or an object");
        }
        text = json_is_string(v)
                   ? strdup(json_string_value(v))
                   : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!text) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        ok = rule_match(p, rule, text);
        if (!ok) {
            qhil_buf_init(&r, MESSAGE_MAX);
            put_mismatch(&r, "argument", k, text, rule);
            free(text);
            return refuse(p, origin, field, err, name, &r);
        }
        free(text);
    }
    return 0;
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
        if (rule_find(s, name)) {
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
            } else if (!rule_find(&o->keys, s)) {
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
    if (parse_size(s, &L->p->mem_max, &why) < 0) {
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
