/*
 * policy_impl.h - the inside of a policy, shared by policy.c (the checks)
 * and policy_load.c (building, freeing and the strict policy); internal
 * to the policy module, not installed, not for other modules.
 *
 * A policy is built once by the loader and only read afterwards; every
 * pointer below is owned by the policy and freed by qhil_policy_free.
 */
#ifndef QHIL_POLICY_IMPL_H
#define QHIL_POLICY_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

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

/* The rule named name in s, or NULL; borrowed from s. */
const prule *qhil_policy_rule_find(const ruleset *s, const char *name);

/*
 * A -m size (as qhil_policy_check_memory takes it) in MiB, rounded up,
 * for the checks and for memory_max.  0, or -1 with *why (static text).
 */
int qhil_policy_parse_size(const char *s, unsigned long long *mib,
                           const char **why);

#endif /* QHIL_POLICY_IMPL_H */
