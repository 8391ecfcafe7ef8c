/*
 * qhil/site.h - the site config: what the lab decides, never the job.
 *
 * LAVA splits a board's settings in three: the device type (the board
 * template, board.h), the device dictionary (one lab's values for it) and
 * the job context (the suite's).  The site config holds the middle layer
 * plus what LAVA keeps in its dispatcher's env.yaml: one YAML file, read
 * with `qhil run --site FILE` (or /etc/qhil/site.yaml when it exists),
 * that a job can neither name nor override:
 *
 *   site: lab-7                      # a name for the logs
 *   trusted: false                   # true: jobs' options pass unchecked
 *   sandbox: true                    # QEMU under -sandbox on,...,spawn=deny
 *   kvm: false                       # may jobs use KVM where boards allow
 *   device_types: [boards]           # folders device types come from
 *   image_dirs: [/srv/images]        # besides the job's own folder
 *   environment:                     # QEMU's whole environment
 *     QEMU_AUDIO_DRV: none
 *   policy: {...}                    # what untrusted jobs may pass
 *   limits: {jobs: 2, memory: 256MiB} # caps a run cannot exceed
 *   devices:                         # device dictionaries
 *     mps2-an385:
 *       memory: 16M
 *       mac_addr: "52:54:00:12:34:56"
 *
 * Relative folders are relative to the site file's own folder.  With no
 * site file qhil uses the built-in site, the strict one: untrusted jobs,
 * sandbox on, no KVM, the installed device types, images from the job's
 * folder and the working folder, an empty environment and the strict
 * policy (docs/policy.md, spelled out in site/strict-policy.yaml).
 */
#ifndef QHIL_SITE_H
#define QHIL_SITE_H

#include <stdbool.h>
#include <stddef.h>

#include <qhil/error.h>
#include <qhil/limits.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct qhil_site qhil_site;

/*
 * Load and check a site file; errors are "FILE:LINE:COLUMN: FIELD:
 * reason" (QHIL_EINVAL, QHIL_ESYNTAX, or the file's errno code).  The
 * folders it names are made absolute but need not exist yet.  Caller
 * frees *out with qhil_site_free.  Reads the file; no other blocking.
 */
int qhil_site_load(const char *path, qhil_site **out, qhil_error *err);

/* The built-in strict site.  QHIL_ENOMEM only. */
int qhil_site_builtin(qhil_site **out, qhil_error *err);

/* Free a site; NULL is fine. */
void qhil_site_free(qhil_site *site);

/* The site file's path, or "the built-in site".  Borrowed. */
const char *qhil_site_name(const qhil_site *site);

/* Whether jobs are trusted, and why ("--trusted", "site.yaml:3"), or
 * NULL when they are not.  qhil_site_trust() marks them trusted for
 * the operator's own runs (`--trusted`); why is copied. */
const char *qhil_site_trusted(const qhil_site *site);
int qhil_site_trust(qhil_site *site, const char *why, qhil_error *err);

/* Whether QEMU runs sandboxed, and may use KVM. */
bool qhil_site_sandbox(const qhil_site *site);
bool qhil_site_kvm(const qhil_site *site);

/* The folders device types come from (absolute, NULL-terminated), or
 * NULL when the site names none: the caller's defaults apply.  The
 * folders images may come from besides the job's (absolute,
 * NULL-terminated, never NULL).  Borrowed. */
const char *const *qhil_site_device_type_dirs(const qhil_site *site);
const char *const *qhil_site_image_dirs(const qhil_site *site);

/* QEMU's whole environment as NAME=VALUE strings, NULL-terminated
 * (empty for the built-in site).  Borrowed. */
const char *const *qhil_site_environment(const qhil_site *site);

/* The lab's caps on a run (limits.h; all 0 for the built-in site).
 * Borrowed, valid while the site lives. */
const qhil_limits *qhil_site_limits(const qhil_site *site);

/*
 * The device dictionary's value of variable name for device_type, or
 * NULL when the site sets none; *origin, when not NULL, gets
 * "FILE:LINE".  Borrowed.
 */
const char *qhil_site_device_var(const qhil_site *site,
                                 const char *device_type, const char *name,
                                 const char **origin);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_SITE_H */
