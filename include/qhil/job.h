/*
 * qhil/job.h - one job's QEMU command line, every argument labelled.
 *
 * A job is LAVA's three layers: a device type (a board template,
 * board.h), the site config with its device dictionary (site.h), and the
 * job's own context and images, each value with the file:line it came
 * from.  qhil_job_new() finds and loads the template, applies the site,
 * checks the job's values (against the site's policy unless the site
 * trusts the job), resolves the QEMU binary, decides KVM or TCG and the
 * sandbox, and builds the command line once; the runner, `qhil qmp`, the
 * benchmarks and the examples all start QEMU from it.  Each argument
 * carries a label saying why it is there, in LAVA's terms:
 *
 *   QHIL_ARG_MANDATORY    the device type's: binary, -machine, -cpu and
 *                         -m, and the template's mandatory options
 *   QHIL_ARG_SUBSTITUTED  an image slot or template variable the job
 *                         filled in ("-kernel {{KERNEL}}", a job's cpu)
 *   QHIL_ARG_SPECIFIC     the job's own context (extra_options)
 *   QHIL_ARG_HARNESS      qhil's own wiring: the QMP monitor, the
 *                         console and the QTest socket
 *
 * and a source: the template's "FILE:LINE" (or its path), the job
 * value's origin, or "qhil" for the harness.
 *
 * The harness arguments are the ones qhil_machine_launch() adds itself
 * (qhil_machine_wiring()); the job lists them after its own so that the
 * whole command line can be shown in one place, but qhil_job_argv(),
 * which is what a machine is given, stops before them.
 */
#ifndef QHIL_JOB_H
#define QHIL_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include <qhil/board.h>
#include <qhil/error.h>
#include <qhil/site.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct qhil_job qhil_job;

/* Why an argument is on the command line. */
typedef enum qhil_arg_kind {
    QHIL_ARG_MANDATORY,
    QHIL_ARG_SUBSTITUTED,
    QHIL_ARG_SPECIFIC,
    QHIL_ARG_HARNESS,
} qhil_arg_kind;

/* What a job is made of.  Everything borrowed for the duration of
 * qhil_job_new(). */
typedef struct qhil_job_opts {
    const char *device_type;       /* board template name */
    const char *origin;            /* where device_type was given
                                      ("suite.yaml:3"), prefixes the
                                      errors about it; may be NULL */
    const char *const *board_dirs; /* NULL-terminated, tried in order;
                                      NULL: none */
    const char *const *qemu_dirs;  /* searched for the binary before
                                      PATH; NULL-terminated or NULL */
    const qhil_board_job *values;  /* the job's images and extra
                                      options; NULL: none */
    const qhil_board_value *context; /* the job's context values by
                                        LAVA's names (cpu, machine,
                                        memory, arch, no_kvm, guestfs_*,
                                        template variables) */
    size_t n_context;
    const qhil_site *site;         /* NULL: the built-in strict site;
                                      must outlive the job */
    const char *job_dir;           /* the job's folder: images may come
                                      from it; NULL: none */
    bool no_probe;                 /* do not run the binary to see
                                      whether it has -sandbox: list the
                                      sandbox as if it had (qhil
                                      validate starts no process) */
    bool qtest;                    /* harness wiring to list, as in */
    bool qtest_accel;              /* qhil_machine_opts */
} qhil_job_opts;

/*
 * Find opts->device_type in the board dirs, load it, resolve its QEMU
 * binary (the qemu dirs first, then PATH; a name with '/' is used as it
 * is) and build the labelled command line with the job's values.
 * Errors, in err:
 *   QHIL_EINVAL/QHIL_ENOENT "ORIGIN: device_type: no board template ..."
 *     when no dir has the template (or the name is not a plain name);
 *   the template's own "FILE:LINE: field: ..." when it does not load;
 *   QHIL_ENOENT "ORIGIN: device_type D: QEMU binary 'B' (named in FILE)
 *     is not installed or not in PATH" (with a hint to build qhil's own
 *     QEMU when B starts with "qhil-");
 *   the job value's "ORIGIN: field: ..." as qhil_board_argv() says.
 * Without an origin the prefix is left out.  Reads the template and the
 * first bytes of each image, stats the candidate binaries; nothing else
 * blocks.  Caller frees *out with qhil_job_free.
 */
int qhil_job_new(const qhil_job_opts *opts, qhil_job **out, qhil_error *err);

/*
 * The job of a loaded suite: its device_type, images, context and
 * extra_options with their file:line origins, its folder and its QTest
 * mode, on top of base's board_dirs, qemu_dirs and site (the rest of
 * base is ignored).  Each qmp: step is checked against the site's policy
 * too, unless the site trusts the job: "FILE:LINE: tests[0].steps[2].qmp:
 * 'migrate' is not allowed by ...".  The one path from a suite to a
 * command line: qhil_run_suite() and `qhil render` both use it.  Errors
 * and ownership as qhil_job_new().
 */
int qhil_job_from_suite(const qhil_suite *suite, const qhil_job_opts *base,
                        qhil_job **out, qhil_error *err);

/* Free a job; NULL is fine. */
void qhil_job_free(qhil_job *job);

/*
 * QEMU's argv without the harness wiring, NULL-terminated: argv[0] is
 * the resolved binary.  This is what qhil_machine_opts.argv takes.
 * Borrowed, valid while the job lives.
 */
const char *const *qhil_job_argv(const qhil_job *job);

/*
 * A malloc'ed copy of qhil_job_argv(), for callers that add their own
 * arguments; caller frees with qhil_argv_free.  QHIL_ENOMEM only.
 */
int qhil_job_argv_dup(const qhil_job *job, char ***out, qhil_error *err);

/* Number of arguments on the whole command line, harness included
 * (argv[0] counts). */
size_t qhil_job_nargs(const qhil_job *job);

/* Argument i (< qhil_job_nargs) of the whole command line, its label
 * and its source ("boards/x.yaml:12", "suite.yaml:7", "qhil").  Strings
 * borrowed, valid while the job lives; NULL / -1 past the end. */
const char *qhil_job_arg(const qhil_job *job, size_t i);
int qhil_job_arg_kind(const qhil_job *job, size_t i);
const char *qhil_job_arg_source(const qhil_job *job, size_t i);

/* "mandatory", "substituted", "specific", "harness"; "?" otherwise.
 * Static string. */
const char *qhil_arg_kind_name(int kind);

/*
 * What the job layer decided and a user should see in the run's log,
 * one line each: whether the job is trusted, the accelerator and why,
 * the sandbox.  NULL-terminated, borrowed, valid while the job lives.
 */
const char *const *qhil_job_notes(const qhil_job *job);

/* QEMU's whole environment (the site's), for qhil_machine_opts.envp.
 * NULL-terminated, borrowed. */
const char *const *qhil_job_envp(const qhil_job *job);

/*
 * The size in bytes of the scratch qcow2 disk the job asks for
 * (context guestfs_*), 0 when it asks for none.  The argv then holds
 * "{{GUESTFS}}" where the disk's path goes: qhil_job_argv_disk() gives a
 * malloc'ed argv with disk in its place (commas doubled, as QEMU's
 * option lists need); free it with qhil_argv_free.  QHIL_ENOMEM only.
 */
unsigned long long qhil_job_disk_size(const qhil_job *job);
int qhil_job_argv_disk(const qhil_job *job, const char *disk, char ***out,
                       qhil_error *err);

/* The loaded template.  Borrowed, valid while the job lives. */
const qhil_board *qhil_job_board(const qhil_job *job);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_JOB_H */
