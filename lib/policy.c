/*
 * policy.c - the allowlist of what an untrusted job may ask of QEMU: the
 * checks.
 *
 * A policy is data: a table of QEMU options, a machine and a cpu rule, a
 * memory cap, a table of QMP commands and a table of HMP commands.  Each
 * entry says what is allowed; a name that has no entry, or whose entry is
 * "deny", is refused.  This file reads those tables; policy_load.c builds
 * them from YAML (a site's file or the built-in strict policy) and frees
 * them; policy_impl.h has the types both share.
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
 * Patterns are PCRE2, compiled by the loader with PCRE2_ANCHORED |
 * PCRE2_ENDANCHORED (they match the whole value), never in UTF mode, and
 * run with the policy's match limit so a site's pattern cannot make a
 * check run away.
 *
 * Refusals go through refuse(), which writes the one message format of
 * policy.h with control bytes escaped, so a hostile word cannot break the
 * line.  Lists of allowed names stop after NAMES_SHOWN with "...".
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "policy_impl.h"

#define NAMES_SHOWN 12   /* allowed names listed in a refusal */
#define WORD_SHOWN 120   /* bytes of a hostile word quoted */
#define MESSAGE_MAX 8192 /* cap of a refusal message */
#define PATTERN_SHOWN 80 /* bytes of a pattern quoted */

const char *qhil_policy_name(const qhil_policy *p)
{
    return p ? p->name : "no policy";
}

/* ------------------------------------------------------------------ */
/* Lookups                                                            */

const prule *qhil_policy_rule_find(const ruleset *s, const char *name)
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
        if (!qhil_policy_rule_find(a, c->v[i].name)) {
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
        rule = qhil_policy_rule_find(own, key);
        if (!rule && common) {
            rule = qhil_policy_rule_find(common, key);
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
int qhil_policy_parse_size(const char *s, unsigned long long *mib,
                           const char **why)
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
    if (qhil_policy_parse_size(value, &mib, &why) < 0) {
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
        const prule *rule = qhil_policy_rule_find(&q->args, k);
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
