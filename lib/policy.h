/*
 * policy.h - what an untrusted job may ask of QEMU; internal, not
 * installed.
 *
 * A policy is an allowlist: the QEMU options a job may pass (and, per
 * option, which sub-options and values), the machine and cpu values, the
 * memory cap, the QMP commands (and arguments) and the HMP commands.
 * Anything it does not name is refused.  The site owns the policy: the
 * site loader hands the "policy:" node of its file to qhil_policy_load();
 * the job layer and the runner call the checks.  docs/policy.md has the
 * YAML schema and the strict defaults.
 *
 * Every refusal is QHIL_EINVAL with one message format:
 *   "ORIGIN: FIELD: 'WORD' is not allowed by POLICY: REASON"
 * ORIGIN and FIELD are the caller's (either may be NULL and is then left
 * out), WORD the offending option, value or command, POLICY the policy's
 * name and REASON what is allowed instead.  The message is one line.
 *
 * A policy is immutable once built; checks only read it, so one policy
 * may serve several threads.  Nothing here blocks.
 */
#ifndef QHIL_POLICY_H
#define QHIL_POLICY_H

#include <stddef.h>

#include <jansson.h>

#include <qhil/error.h>

#include "yamlutil.h"

typedef struct qhil_policy qhil_policy;

/*
 * The shipped strict policy (built-in data, the same as the file
 * site/strict-policy.yaml); its name in messages is "the strict policy".
 * *out: caller frees with qhil_policy_free.  QHIL_ENOMEM.
 */
int qhil_policy_strict(qhil_policy **out, qhil_error *err);

/*
 * Build a policy from node, the value of a site file's "policy:" key in
 * y (borrowed for the call).  "base: strict" (the default) starts from
 * the strict policy and the entries given add to it or replace its
 * entries of the same name whole; "base: none" starts empty.  field
 * ("policy") prefixes the FILE:LINE:COLUMN messages of load errors
 * (unknown keys, wrong node kinds, patterns that do not compile), src
 * ("site.yaml") is the policy's name in refusals.  *out: caller frees
 * with qhil_policy_free.  QHIL_EINVAL, QHIL_ENOMEM.
 */
int qhil_policy_load(qhil_yaml *y, yaml_node_t *node, const char *field,
                     const char *src, qhil_policy **out, qhil_error *err);

/* Free p; NULL is fine. */
void qhil_policy_free(qhil_policy *p);

/* The name refusals carry ("the strict policy", "site.yaml"); borrowed,
 * valid while p lives. */
const char *qhil_policy_name(const qhil_policy *p);

/*
 * Check the n words a job adds to QEMU's command line (extra_options),
 * read as QEMU reads them: "-name" and "--name" are the same option, a
 * word in option position that is not an option is refused (QEMU takes
 * it as a disk image), the policy entry says whether the option takes
 * an argument, and that argument is checked too.  0 or QHIL_EINVAL.
 */
int qhil_policy_check_options(const qhil_policy *p, const char *const *words,
                              size_t n, const char *origin, const char *field,
                              qhil_error *err);

/*
 * Check a machine or cpu value (what: "machine" or "cpu"), a QEMU option
 * list whose first item is the type or model ("virt,gic-version=3").
 */
int qhil_policy_check_value(const qhil_policy *p, const char *what,
                            const char *value, const char *origin,
                            const char *field, qhil_error *err);

/*
 * Check a memory size as QEMU's -m takes it: a decimal number of MiB
 * ("8192") or a decimal number with one of the suffixes K, M, G, T (any
 * case).  Refused: anything else (hex, fractions, "size=", ",maxmem=",
 * bytes), zero, and sizes above the policy's cap.  *mib_out (may be
 * NULL) gets the size in MiB, rounded up.
 */
int qhil_policy_check_memory(const qhil_policy *p, const char *value,
                             const char *origin, const char *field,
                             unsigned long long *mib_out, qhil_error *err);

/*
 * Check a QMP command object {"execute": NAME, "arguments": {...}}
 * (borrowed).  Any other top-level key ("exec-oob", "control") is
 * refused.
 */
int qhil_policy_check_qmp(const qhil_policy *p, const json_t *cmd,
                          const char *origin, const char *field,
                          qhil_error *err);

/*
 * Check one HMP command line, as given to human-monitor-command: its
 * first word (up to blank space or "/", as QEMU's monitor reads it) must
 * be allowed; a line with a control character (a newline) is refused.
 */
int qhil_policy_check_hmp(const qhil_policy *p, const char *line,
                          const char *origin, const char *field,
                          qhil_error *err);

#endif /* QHIL_POLICY_H */
