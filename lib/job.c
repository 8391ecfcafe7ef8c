/*
 * job.c - one job's QEMU command line, built in one place (job.h).
 *
 * qhil_job_new resolves a job the way LAVA documents it for its qemu
 * device type, in one pass and in this order:
 *
 *   site       the caller's, or the built-in strict one
 *   template   DEVICE_TYPE.yaml from the board dirs (the operator's and
 *              the site's folders: never the job's)
 *   arch       the job's arch must be the template's; it picks the
 *              binary (qemu-system-ARCH) unless the template names one
 *   context    each job value is checked in turn: known to LAVA, let
 *              through by the template, not one the site set, and (for
 *              untrusted jobs) allowed by the site's policy
 *   dictionary the site's values for this device type, which no job
 *              value can replace
 *   images     confined to the job's folder and the site's image folders
 *   accel      KVM only when template and site allow it, the job sets no
 *              cpu and no no_kvm, host and guest arch match and /dev/kvm
 *              opens; otherwise TCG; the reason is kept for the log
 *   sandbox    -sandbox on,...,spawn=deny when the site wants it and the
 *              binary has it (probed once per job)
 *   argv       board.c builds the labelled argv; argv[0] = the binary
 *              found; the harness wiring qhil_machine_launch adds is
 *              listed after it, labelled too
 *
 * The whole command line is one array (args, kinds, sources) of nargs
 * entries; the first argc of them are what QEMU is given by the caller,
 * the rest are qhil_machine_wiring()'s.  args[argc] is NULL so that args
 * doubles as the caller's argv.  Decisions a user should see (trusted or
 * not, which accelerator and why, the sandbox) are kept as notes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/job.h>
#include <qhil/machine.h>
#include <qhil/site.h>

#include "boardargs.h"
#include "disk.h"
#include "hostcaps.h"
#include "image.h"
#include "internal.h"
#include "policy.h"
#include "proc.h"

/* The scratch disk's path in the argv until the runner has one. */
#define DISK_SLOT "{{GUESTFS}}"

/* How long the sandbox probe of a binary may take: a real QEMU answers
 * in tens of ms.  A binary that does not answer keeps the sandbox. */
#define SANDBOX_PROBE_NS (1 * QHIL_SEC)

struct qhil_job {
    qhil_site *own_site; /* the built-in site when the caller gave none */
    const qhil_site *site;
    qhil_board *board;
    char **argv;    /* NULL-terminated, argc entries, argv[0] resolved */
    int *kinds;     /* argc entries */
    char **sources; /* NULL-terminated, argc entries */
    size_t argc;
    const char *const *wiring; /* static, n_wiring entries */
    size_t n_wiring;
    char **notes; /* NULL-terminated */
    size_t n_notes;
    bool kvm;
    bool sandbox;
    unsigned long long disk_bytes; /* 0: no scratch disk */
    char *disk_if;                 /* its interface and drive id */
    char *disk_id;
};

void qhil_job_free(qhil_job *job)
{
    if (!job) {
        return;
    }
    qhil_board_free(job->board);
    qhil_argv_free(job->argv);
    qhil_argv_free(job->sources);
    qhil_argv_free(job->notes);
    free(job->disk_if);
    free(job->disk_id);
    free(job->kinds);
    qhil_site_free(job->own_site);
    free(job);
}

static int note(qhil_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int note(qhil_job *job, const char *fmt, ...)
{
    char **v = realloc(job->notes, (job->n_notes + 2) * sizeof(*v));
    va_list ap;
    int n;

    if (!v) {
        return QHIL_ENOMEM;
    }
    job->notes = v;
    va_start(ap, fmt);
    n = vasprintf(&v[job->n_notes], fmt, ap);
    va_end(ap);
    if (n < 0) {
        v[job->n_notes] = NULL;
        return QHIL_ENOMEM;
    }
    v[++job->n_notes] = NULL;
    return QHIL_EOK;
}

/* The QEMU binary: in one of dirs first, else in PATH.  *path malloc'ed. */
static int find_qemu(const char *name, const char *const *dirs, char **path)
{
    size_t i;

    for (i = 0; dirs && dirs[i] && !strchr(name, '/'); i++) {
        char *cand = NULL;

        if (asprintf(&cand, "%s/%s", dirs[i], name) < 0) {
            return QHIL_ENOMEM;
        }
        if (access(cand, X_OK) == 0) {
            *path = cand;
            return QHIL_EOK;
        }
        free(cand);
    }
    return qhil_proc_find(name, path);
}

/* A refused job value: "ORIGIN: FIELD: TEXT" (error.c). */
#define fail(err, origin, field, ...)                                     \
    qhil_error_field(err, QHIL_EINVAL, origin, field, __VA_ARGS__)

/* The job's context values, sorted out for board.c and the rest. */
typedef struct context_values {
    qhil_board_value vars[64]; /* machine, memory, template variables */
    size_t n_vars;
    const char *cpu;
    const char *cpu_origin;
    bool cpu_by_site; /* the site's cpu, which the board need not allow */
    bool no_kvm;
    const qhil_board_value *guestfs_interface;
    const qhil_board_value *guestfs_size;
    const qhil_board_value *guestfs_driveid;
    qhil_board_value site_iface; /* the site's defaults for them, or */
    qhil_board_value site_driveid; /* value NULL */
} context_values;

/* The template variable name, or -1. */
static long board_var(const qhil_board *b, const char *name)
{
    size_t i;

    for (i = 0; i < qhil_board_n_vars(b); i++) {
        if (!strcmp(qhil_board_var_name(b, i), name)) {
            return (long)i;
        }
    }
    return -1;
}

static int add_var(context_values *r, const char *name, const char *value,
                   const char *origin, qhil_error *err)
{
    if (r->n_vars == sizeof(r->vars) / sizeof(r->vars[0])) {
        return fail(err, origin, name, "too many context values");
    }
    r->vars[r->n_vars].name = name;
    r->vars[r->n_vars].value = value;
    r->vars[r->n_vars].origin = origin;
    r->n_vars++;
    return QHIL_EOK;
}

/* The site's device dictionary for this device type: every value must
 * name something the template has. */
static int site_values(const qhil_job *job, const qhil_board *b,
                       context_values *r, qhil_error *err)
{
    static const char *const builtin[] = {
        "machine", "memory", "cpu", "guestfs_interface", "guestfs_driveid",
        NULL,
    };
    const char *dt = qhil_board_device_type(b);
    const char *origin = NULL;
    const char *name;
    const char *v;
    size_t i;
    int rc = QHIL_EOK;

    /* Every value of the dictionary names something the template has:
     * a typo ("mac_adr") is the lab's error, not a silent default. */
    for (i = 0; (name = qhil_site_device_var_at(job->site, dt, i, &origin));
         i++) {
        size_t k;

        for (k = 0; builtin[k] && strcmp(builtin[k], name); k++) {
        }
        if (!builtin[k] && board_var(b, name) < 0) {
            char *field = NULL;

            if (asprintf(&field, "devices.%s.%s", dt, name) < 0) {
                return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            }
            rc = fail(err, origin, field,
                      "device type '%s' (%s) has no variable '%s' "
                      "(the site can set machine, memory, cpu, "
                      "guestfs_interface, guestfs_driveid and the "
                      "template's qemu.variables)",
                      dt, qhil_board_path(b), name);
            free(field);
            return rc;
        }
    }
    for (i = 0; builtin[i] && rc == 0; i++) {
        v = qhil_site_device_var(job->site, dt, builtin[i], &origin);
        if (!v) {
            continue;
        }
        if (!strcmp(builtin[i], "cpu")) {
            r->cpu = v;
            r->cpu_origin = origin;
            r->cpu_by_site = true;
        } else if (!strncmp(builtin[i], "guestfs_", 8)) {
            /* The lab's defaults for a disk a job asks for. */
            qhil_board_value *d = builtin[i][8] == 'i' ? &r->site_iface
                                                       : &r->site_driveid;

            d->name = builtin[i];
            d->value = v;
            d->origin = origin;
        } else {
            rc = add_var(r, builtin[i], v, origin, err);
        }
    }
    for (i = 0; i < qhil_board_n_vars(b) && rc == 0; i++) {
        name = qhil_board_var_name(b, i);
        v = qhil_site_device_var(job->site, dt, name, &origin);
        if (v) {
            rc = add_var(r, name, v, origin, err);
        }
    }
    return rc;
}

/* Refuse a job value the site set for this device type. */
static int site_owns(const qhil_job *job, const qhil_board *b,
                     const qhil_board_value *v, qhil_error *err)
{
    const char *origin = NULL;
    const char *dt = qhil_board_device_type(b);
    char field[96];

    if (!qhil_site_device_var(job->site, dt, v->name, &origin)) {
        return QHIL_EOK;
    }
    snprintf(field, sizeof(field), "context.%s", v->name);
    return fail(err, v->origin, field,
                "'%s' cannot be set by a job: the site sets it for device "
                "type '%s' (%s)",
                v->value, dt, origin);
}

/* LAVA's names for a QEMU job's context, for the messages. */
static const char *const lava_names[] = {
    "arch", "boot_console", "cpu", "extra_options", "guestfs_driveid",
    "guestfs_interface", "guestfs_size", "mac_addr", "machine", "memory",
    "model", "netdevice", "no_kvm", "serial", "vga", NULL,
};

static bool is_lava_name(const char *name)
{
    size_t i;

    for (i = 0; lava_names[i]; i++) {
        if (!strcmp(lava_names[i], name)) {
            return true;
        }
    }
    return false;
}

/* "unknown variable 'x' (LAVA's names: ...; device type D's variables:
 * ...)". */
static int unknown_variable(const qhil_board *b, const qhil_board_value *v,
                            qhil_error *err)
{
    qhil_buf known;
    size_t i;
    int rc;

    qhil_buf_init(&known, 1 << 16);
    for (i = 0; lava_names[i]; i++) {
        qhil_buf_printf(&known, "%s%s", i ? ", " : "", lava_names[i]);
    }
    qhil_buf_printf(&known, "; device type '%s': ",
                    qhil_board_device_type(b));
    for (i = 0; i < qhil_board_n_vars(b); i++) {
        qhil_buf_printf(&known, "%s%s", i ? ", " : "",
                        qhil_board_var_name(b, i));
    }
    if (!qhil_board_n_vars(b)) {
        qhil_buf_puts(&known, "no variables");
    }
    rc = fail(err, v->origin, "context", "unknown variable '%s' (known: %s)",
              v->name, known.data ? known.data : "");
    qhil_buf_release(&known);
    return rc;
}

static int check_context(qhil_job *job, const qhil_board *b,
                         const qhil_board_value *ctx, size_t n,
                         context_values *r, qhil_error *err)
{
    const qhil_policy *policy = qhil_site_policy(job->site);
    bool trusted = qhil_site_trusted(job->site) != NULL;
    const char *dt = qhil_board_device_type(b);
    unsigned long long mib = 0;
    size_t i;
    long var;
    int rc = QHIL_EOK;

    for (i = 0; i < n && rc == 0; i++) {
        const qhil_board_value *v = &ctx[i];
        const char *name = v->name;
        char field[96];

        snprintf(field, sizeof(field), "context.%s", name);
        if (!strcmp(name, "arch")) {
            const char *want = qhil_arch_canonical(qhil_board_arch(b));
            const char *got = qhil_arch_canonical(v->value);

            if (!got) {
                rc = fail(err, v->origin, field,
                          "unknown architecture '%s' (e.g. arm, arm64, "
                          "riscv64, x86_64)",
                          v->value);
            } else if (!want || strcmp(want, got)) {
                rc = fail(err, v->origin, field,
                          "device type '%s' is %s, not %s", dt,
                          qhil_board_arch(b), v->value);
            }
            continue;
        }
        if (!strcmp(name, "no_kvm")) {
            if (strcmp(v->value, "true") && strcmp(v->value, "false")) {
                rc = fail(err, v->origin, field,
                          "expected true or false, got '%s'", v->value);
            }
            r->no_kvm = !strcmp(v->value, "true");
            continue;
        }
        rc = site_owns(job, b, v, err);
        if (rc < 0) {
            break;
        }
        if (!strcmp(name, "cpu") || !strcmp(name, "machine") ||
            !strcmp(name, "memory")) {
            if (!qhil_board_allows(b, name)) {
                rc = fail(err, v->origin, field,
                          "'%s' cannot be set by a job: device type '%s' "
                          "does not let jobs choose the %s",
                          v->value, dt, name);
                break;
            }
            if (!strcmp(name, "memory")) {
                rc = trusted ? QHIL_EOK
                             : qhil_policy_check_memory(policy, v->value,
                                                        v->origin, field, &mib,
                                                        err);
            } else if (!trusted) {
                rc = qhil_policy_check_value(policy, name, v->value,
                                             v->origin, field, err);
            }
            if (rc < 0) {
                break;
            }
            if (!strcmp(name, "cpu")) {
                r->cpu = v->value;
                r->cpu_origin = v->origin;
            } else {
                rc = add_var(r, name, v->value, v->origin, err);
            }
            continue;
        }
        if (!strncmp(name, "guestfs_", 8)) {
            if (!qhil_board_allows(b, "guestfs")) {
                rc = fail(err, v->origin, field,
                          "'%s' cannot be set by a job: device type '%s' "
                          "has no test disk (its context has no 'guestfs')",
                          v->value, dt);
            } else if (!strcmp(name, "guestfs_interface")) {
                r->guestfs_interface = v;
            } else if (!strcmp(name, "guestfs_size")) {
                r->guestfs_size = v;
            } else if (!strcmp(name, "guestfs_driveid")) {
                r->guestfs_driveid = v;
            } else {
                rc = fail(err, v->origin, field,
                          "unknown variable (known: guestfs_interface, "
                          "guestfs_size, guestfs_driveid)");
            }
            continue;
        }
        var = board_var(b, name);
        if (var < 0 && is_lava_name(name)) {
            rc = fail(err, v->origin, field,
                      "'%s' cannot be set by a job: device type '%s' has no "
                      "variable '%s'",
                      v->value, dt, name);
        } else if (var < 0) {
            rc = unknown_variable(b, v, err);
        } else if (!qhil_board_var_by_job(b, (size_t)var)) {
            rc = fail(err, v->origin, field,
                      "'%s' cannot be set by a job: device type '%s' (%s) "
                      "lets only the site set it (site: %s)",
                      v->value, dt, qhil_board_path(b),
                      qhil_site_name(job->site));
        } else {
            rc = add_var(r, name, v->value, v->origin, err);
        }
    }
    return rc;
}

/*
 * Every image inside the job's folder or one of the site's, resolved:
 * images[i] gets the resolved path (resolved[i], malloc'ed), which is
 * what QEMU is given, so no symlink is followed again later.
 */
static int confine_images(const qhil_job *job, const qhil_job_opts *opts,
                          qhil_board_value *images, char **resolved,
                          qhil_error *err)
{
    const qhil_board_job *values = opts->values;
    size_t i;
    int rc = QHIL_EOK;

    for (i = 0; values && i < values->n_images && rc == 0; i++) {
        const qhil_board_value *v = &values->images[i];

        images[i] = *v;
        if (!v->value || !*v->value) {
            continue; /* board.c says what is wrong with it */
        }
        rc = qhil_image_confine(v->value, opts->job_dir,
                                qhil_site_image_dirs(job->site),
                                &resolved[i], err);
        if (rc < 0) {
            if (v->origin) {
                qhil_error_prefix(err, "%s: images.%s", v->origin,
                                  v->name ? v->name : "");
            }
            break;
        }
        images[i].value = resolved[i];
    }
    return rc;
}

/* KVM or TCG, and why, as LAVA decides it (hostcaps.h). */
static int pick_accel(qhil_job *job, const qhil_job_opts *opts,
                      const context_values *r)
{
    const qhil_board *b = job->board;
    qhil_kvm_wish wish = {
        .guest_arch = qhil_board_arch(b),
        .allowed = true,
        .no_kvm = r->no_kvm,
        .cpu_set = r->cpu != NULL,
    };
    char why[192];

    if (!qhil_board_kvm(b)) {
        return note(job, "accelerator: TCG (device type '%s' does not allow "
                         "KVM)",
                    qhil_board_device_type(b));
    }
    if (!qhil_site_kvm(job->site)) {
        return note(job, "accelerator: TCG (%s does not allow KVM)",
                    qhil_site_name(job->site));
    }
    if (opts->qtest_accel) {
        return note(job, "accelerator: qtest (the suite asks for it)");
    }
    if (r->cpu_by_site) {
        return note(job, "accelerator: TCG (%s sets cpu, which turns KVM "
                         "off)",
                    qhil_site_name(job->site));
    }
    job->kvm = qhil_kvm_decide(&wish, why, sizeof(why)) == 1;
    return note(job, "accelerator: %s", why);
}

static int pick_sandbox(qhil_job *job, bool no_probe)
{
    const char *const *sandbox_args = qhil_sandbox_args();
    char why[256] = "";
    qhil_error e;
    int rc;

    if (!qhil_site_sandbox(job->site)) {
        return note(job, "sandbox: off (%s)", qhil_site_name(job->site));
    }
    if (no_probe) {
        job->sandbox = true;
        return note(job, "sandbox: %s %s (where the binary has it; not "
                         "probed)",
                    sandbox_args[0], sandbox_args[1]);
    }
    /* Built with seccomp: no need to run it to ask. */
    if (qhil_qemu_links_seccomp(job->argv[0]) == 1) {
        job->sandbox = true;
        return note(job, "sandbox: %s %s (QEMU is built with seccomp)",
                    sandbox_args[0], sandbox_args[1]);
    }
    qhil_error_init(&e);
    rc = qhil_qemu_probe_sandbox(job->argv[0],
                                 qhil_deadline_in(SANDBOX_PROBE_NS), why,
                                 sizeof(why), &e);
    if (rc == 1) {
        qhil_error_release(&e);
        job->sandbox = true;
        return note(job, "sandbox: %s %s", sandbox_args[0], sandbox_args[1]);
    }
    if (rc < 0) {
        /* Fail closed: only a binary that says it has no -sandbox runs
         * without one; one that would not say is started with it, and
         * fails to start if it truly has none. */
        job->sandbox = true;
        rc = note(job, "sandbox: %s %s (the binary did not answer the "
                       "probe: %s)",
                  sandbox_args[0], sandbox_args[1],
                  qhil_error_message(&e, rc));
    } else {
        rc = note(job, "sandbox: not available in %s (%s)", job->argv[0],
                  why);
    }
    qhil_error_release(&e);
    return rc;
}

/* Insert words at the end of the job's own argv, labelled. */
static int append(qhil_job *job, const char *const *words, size_t n,
                  int kind, const char *source)
{
    char **argv = realloc(job->argv, (job->argc + n + 1) * sizeof(*argv));
    char **sources;
    int *kinds;
    size_t i;

    if (!argv) {
        return QHIL_ENOMEM;
    }
    job->argv = argv;
    sources = realloc(job->sources, (job->argc + n + 1) * sizeof(*sources));
    if (!sources) {
        return QHIL_ENOMEM;
    }
    job->sources = sources;
    kinds = realloc(job->kinds, (job->argc + n) * sizeof(*kinds));
    if (!kinds) {
        return QHIL_ENOMEM;
    }
    job->kinds = kinds;
    for (i = 0; i < n; i++) {
        argv[job->argc] = strdup(words[i]);
        sources[job->argc] = strdup(source);
        kinds[job->argc] = kind;
        if (!argv[job->argc] || !sources[job->argc]) {
            free(argv[job->argc]);
            free(sources[job->argc]);
            argv[job->argc] = sources[job->argc] = NULL;
            return QHIL_ENOMEM;
        }
        job->argc++;
        argv[job->argc] = sources[job->argc] = NULL;
    }
    return QHIL_EOK;
}

/* The scratch disk LAVA attaches for guestfs_*: "-drive
 * format=qcow2,file={{GUESTFS}},media=disk,if=IFACE,id=DRIVEID". */
static int add_disk(qhil_job *job, const context_values *r, qhil_error *err)
{
    const char *iface = "ide";
    const char *id = "lavatest";
    const char *origin;
    char *drive = NULL;
    const char *words[2];
    int rc;

    const qhil_board_value *want_if = r->guestfs_interface;
    const qhil_board_value *want_id = r->guestfs_driveid;

    /* Only a job asks for a disk; the site may say how it is attached. */
    if (!r->guestfs_size && !r->guestfs_interface && !r->guestfs_driveid) {
        return QHIL_EOK;
    }
    origin = r->guestfs_size        ? r->guestfs_size->origin
             : r->guestfs_interface ? r->guestfs_interface->origin
                                    : r->guestfs_driveid->origin;
    if (!want_if && r->site_iface.value) {
        want_if = &r->site_iface;
    }
    if (!want_id && r->site_driveid.value) {
        want_id = &r->site_driveid;
    }
    if (want_if) {
        iface = want_if->value;
        if (strcmp(iface, "ide") && strcmp(iface, "scsi") &&
            strcmp(iface, "virtio") && strcmp(iface, "none")) {
            return fail(err, want_if->origin, "context.guestfs_interface",
                        "'%s' is not a disk interface (ide, scsi, virtio, "
                        "none)",
                        iface);
        }
    }
    if (want_id) {
        id = want_id->value;
        if (!strncasecmp(id, "qhil", 4)) {
            return fail(err, want_id->origin,
                        "context.guestfs_driveid",
                        "'%s': ids starting with 'qhil' are reserved for "
                        "the harness",
                        id);
        }
    }
    job->disk_bytes = 512ull << 20;
    if (r->guestfs_size) {
        rc = qhil_disk_parse_size(r->guestfs_size->value, &job->disk_bytes,
                                  err);
        if (rc < 0) {
            qhil_error_prefix(err, "%s: context.guestfs_size",
                              r->guestfs_size->origin);
            return rc;
        }
    }
    /* Checks interface and id; the path is the runner's, per test. */
    rc = qhil_disk_drive_arg("/disk", iface, id, &drive, err);
    if (rc < 0) {
        qhil_error_prefix(err, "%s: context.guestfs", origin);
        return rc;
    }
    free(drive);
    drive = NULL;
    job->disk_if = strdup(iface);
    job->disk_id = strdup(id);
    if (!job->disk_if || !job->disk_id ||
        asprintf(&drive, "format=qcow2,file=%s,media=disk,if=%s,id=%s",
                 DISK_SLOT, iface, id) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    words[0] = "-drive";
    words[1] = drive;
    rc = append(job, words, 2, QHIL_ARG_SUBSTITUTED, origin);
    free(drive);
    return rc < 0 ? qhil_error_set(err, QHIL_ENOMEM, "out of memory")
                  : QHIL_EOK;
}

int qhil_job_new(const qhil_job_opts *opts, qhil_job **out, qhil_error *err)
{
    static const char *const no_dirs[] = {NULL};
    static const qhil_board_job no_values;
    const char *origin = opts->origin;
    const qhil_board_job *in = opts->values ? opts->values : &no_values;
    qhil_board_job values;
    qhil_job *job = NULL;
    context_values r;
    qhil_board_value *images = NULL;
    char **resolved = NULL;
    char *board_path = NULL;
    char *bin_name = NULL;
    char *exe = NULL;
    const char *bin;
    const char *trusted;
    int rc;

    *out = NULL;
    memset(&r, 0, sizeof(r));
    job = calloc(1, sizeof(*job));
    if (!job) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    job->site = opts->site;
    if (!job->site) {
        rc = qhil_site_builtin(&job->own_site, err);
        if (rc < 0) {
            goto cleanup;
        }
        job->site = job->own_site;
    }
    trusted = qhil_site_trusted(job->site);
    if (trusted) {
        rc = note(job, "job: trusted (%s): its options and commands pass "
                       "unchecked",
                  trusted);
    } else {
        const char *policy = qhil_policy_name(qhil_site_policy(job->site));
        const char *site = qhil_site_name(job->site);

        rc = strcmp(policy, site)
                 ? note(job, "job: untrusted, checked against %s (%s)",
                        policy, site)
                 : note(job, "job: untrusted, checked against the policy of "
                             "%s",
                        site);
    }
    if (rc < 0) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = qhil_board_find(opts->device_type,
                         opts->board_dirs ? opts->board_dirs : no_dirs,
                         &board_path, err);
    if (rc < 0) {
        if (origin) {
            qhil_error_prefix(err, "%s: device_type", origin);
        }
        goto cleanup;
    }
    rc = qhil_board_load(board_path, &job->board, err);
    if (rc < 0) {
        goto cleanup;
    }
    rc = site_values(job, job->board, &r, err);
    if (rc == 0 && in->cpu) {
        qhil_board_value cpu = {"cpu", in->cpu, in->cpu_origin};

        rc = check_context(job, job->board, &cpu, 1, &r, err);
    }
    if (rc == 0) {
        rc = check_context(job, job->board, opts->context, opts->n_context,
                           &r, err);
    }
    if (rc == 0 && !trusted && in->n_extra_options) {
        rc = qhil_policy_check_options(qhil_site_policy(job->site),
                                       in->extra_options,
                                       in->n_extra_options, in->extra_origin,
                                       "context.extra_options", err);
    }
    if (rc == 0 && in->n_images) {
        images = calloc(in->n_images, sizeof(*images));
        resolved = calloc(in->n_images + 1, sizeof(*resolved));
        if (!images || !resolved) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        } else if (!trusted) {
            rc = confine_images(job, opts, images, resolved, err);
        } else {
            memcpy(images, in->images, in->n_images * sizeof(*images));
        }
    }
    if (rc < 0) {
        goto cleanup;
    }
    bin = qhil_board_binary(job->board);
    if (!bin) {
        const char *arch = qhil_arch_canonical(qhil_board_arch(job->board));

        if (!arch || asprintf(&bin_name, "qemu-system-%s", arch) < 0) {
            bin_name = NULL;
            rc = qhil_error_set(err, QHIL_EINVAL,
                                "%s: arch: no QEMU binary known for '%s'; "
                                "name one in qemu.binary",
                                board_path, qhil_board_arch(job->board));
            goto cleanup;
        }
        bin = bin_name;
    }
    rc = find_qemu(bin, opts->qemu_dirs, &exe);
    if (rc < 0) {
        rc = qhil_error_set(err, QHIL_ENOENT,
                            "%s%s%s%s%sQEMU binary '%s' (named in %s) is not "
                            "installed or not in PATH%s",
                            origin ? origin : "", origin ? ": " : "",
                            origin ? "device_type " : "",
                            origin ? opts->device_type : "", origin ? ": " : "",
                            bin, board_path,
                            strncmp(bin, "qhil-", 5) == 0
                                ? "; it is qhil's own QEMU build: run "
                                  "scripts/qemu-build.sh"
                                : "");
        goto cleanup;
    }
    values = *in;
    if (images) {
        values.images = images;
    }
    values.cpu = r.cpu;
    values.cpu_origin = r.cpu_origin;
    values.cpu_by_site = r.cpu_by_site;
    values.vars = r.vars;
    values.n_vars = r.n_vars;
    rc = qhil_board_argv_labelled(job->board, &values, &job->argv,
                                  &job->kinds, &job->sources, err);
    if (rc < 0) {
        goto cleanup;
    }
    /* Run exactly the binary found above. */
    free(job->argv[0]);
    job->argv[0] = exe;
    exe = NULL;
    while (job->argv[job->argc]) {
        job->argc++;
    }
    rc = add_disk(job, &r, err);
    if (rc == 0) {
        rc = pick_accel(job, opts, &r);
    }
    if (rc == 0 && job->kvm) {
        static const char *const kvm[] = {"-accel", "kvm"};

        rc = append(job, kvm, 2, QHIL_ARG_MANDATORY, board_path);
    }
    if (rc == 0) {
        rc = pick_sandbox(job, opts->no_probe);
    }
    if (rc == 0 && job->sandbox) {
        rc = append(job, qhil_sandbox_args(), 2, QHIL_ARG_HARNESS,
                    qhil_site_name(job->site));
    }
    if (rc < 0) {
        if (rc == QHIL_ENOMEM) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        goto cleanup;
    }
    job->wiring = qhil_machine_wiring(opts->qtest, opts->qtest_accel);
    while (job->wiring[job->n_wiring]) {
        job->n_wiring++;
    }
    *out = job;
    job = NULL;

cleanup:
    if (resolved) {
        for (size_t i = 0; i < in->n_images; i++) {
            free(resolved[i]);
        }
    }
    free(resolved);
    free(images);
    free(exe);
    free(bin_name);
    free(board_path);
    qhil_job_free(job);
    return rc;
}

const char *const *qhil_job_argv(const qhil_job *job)
{
    return (const char *const *)job->argv;
}

int qhil_job_argv_dup(const qhil_job *job, char ***out, qhil_error *err)
{
    char **v = calloc(job->argc + 1, sizeof(*v));
    size_t i;

    *out = NULL;
    if (!v) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < job->argc; i++) {
        v[i] = strdup(job->argv[i]);
        if (!v[i]) {
            qhil_argv_free(v);
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    *out = v;
    return QHIL_EOK;
}

size_t qhil_job_nargs(const qhil_job *job)
{
    return job->argc + job->n_wiring;
}

const char *qhil_job_arg(const qhil_job *job, size_t i)
{
    if (i < job->argc) {
        return job->argv[i];
    }
    i -= job->argc;
    return i < job->n_wiring ? job->wiring[i] : NULL;
}

int qhil_job_arg_kind(const qhil_job *job, size_t i)
{
    if (i < job->argc) {
        return job->kinds[i];
    }
    return i - job->argc < job->n_wiring ? QHIL_ARG_HARNESS : -1;
}

const char *qhil_job_arg_source(const qhil_job *job, size_t i)
{
    if (i < job->argc) {
        return job->sources[i];
    }
    return i - job->argc < job->n_wiring ? "qhil" : NULL;
}

const char *qhil_arg_kind_name(int kind)
{
    switch (kind) {
    case QHIL_ARG_MANDATORY:
        return "mandatory";
    case QHIL_ARG_SUBSTITUTED:
        return "substituted";
    case QHIL_ARG_SPECIFIC:
        return "specific";
    case QHIL_ARG_HARNESS:
        return "harness";
    default:
        return "?";
    }
}

const qhil_board *qhil_job_board(const qhil_job *job)
{
    return job->board;
}

/* Check each qmp: step of the suite against the site's policy. */
static int check_steps(const qhil_job *job, const qhil_suite *suite,
                       qhil_error *err)
{
    const qhil_policy *policy = qhil_site_policy(job->site);
    size_t i;
    size_t j;
    int rc = QHIL_EOK;

    if (qhil_site_trusted(job->site)) {
        return QHIL_EOK;
    }
    for (i = 0; i < suite->n_tests && rc == 0; i++) {
        const qhil_test *t = &suite->tests[i];

        for (j = 0; j < t->n_steps && rc == 0; j++) {
            const qhil_step *st = &t->steps[j];
            char *origin = NULL;
            char *field = NULL;
            json_t *cmd;

            if (st->kind != QHIL_STEP_QMP) {
                continue;
            }
            cmd = json_pack("{s:s}", "execute", st->command);
            if (!cmd ||
                (st->arguments &&
                 json_object_set(cmd, "arguments", st->arguments)) ||
                asprintf(&origin, "%s:%d", suite->path, st->line) < 0 ||
                asprintf(&field, "tests[%zu].steps[%zu].%s", i, j,
                         st->keyword) < 0) {
                json_decref(cmd);
                free(origin);
                return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            }
            rc = qhil_policy_check_qmp(policy, cmd, origin, field, err);
            json_decref(cmd);
            free(origin);
            free(field);
        }
    }
    return rc;
}

/* The folder of the suite file, absolute, or NULL. */
static char *suite_folder(const char *path)
{
    char *real = realpath(path, NULL);
    char *slash;

    if (!real) {
        return NULL;
    }
    slash = strrchr(real, '/');
    if (slash == real) {
        slash[1] = '\0';
    } else if (slash) {
        *slash = '\0';
    }
    return real;
}

int qhil_job_from_suite(const qhil_suite *suite, const qhil_job_opts *base,
                        qhil_job **out, qhil_error *err)
{
    qhil_board_value *images = NULL;
    qhil_board_value *context = NULL;
    char **origins = NULL;
    char *origin = NULL;
    char *extra_origin = NULL;
    char *job_dir = NULL;
    size_t n_origins = suite->n_images + suite->n_context;
    size_t i;
    int rc;

    *out = NULL;
    images = calloc(suite->n_images + 1, sizeof(*images));
    context = calloc(suite->n_context + 1, sizeof(*context));
    origins = calloc(n_origins + 1, sizeof(*origins));
    if (!images || !context || !origins ||
        asprintf(&origin, "%s:%d", suite->path,
                 suite->device_type_line) < 0) {
        origin = NULL;
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < suite->n_images; i++) {
        if (asprintf(&origins[i], "%s:%d", suite->path,
                     suite->images[i].line) < 0) {
            origins[i] = NULL;
        }
        images[i].name = suite->images[i].name;
        images[i].value = suite->images[i].path;
        images[i].origin = origins[i];
    }
    for (i = 0; i < suite->n_context; i++) {
        char **o = &origins[suite->n_images + i];

        if (asprintf(o, "%s:%d", suite->path, suite->context[i].line) < 0) {
            *o = NULL;
        }
        context[i].name = suite->context[i].name;
        context[i].value = suite->context[i].value;
        context[i].origin = *o;
    }
    if (asprintf(&extra_origin, "%s:%d", suite->path,
                 suite->extra_options_line) < 0) {
        extra_origin = NULL;
    }
    job_dir = suite_folder(suite->path);
    {
        qhil_board_job values = {
            .images = images,
            .n_images = suite->n_images,
            .extra_options = (const char *const *)suite->extra_options,
            .n_extra_options = suite->n_extra_options,
            .extra_origin = extra_origin,
        };
        qhil_job_opts jo = *base;

        jo.device_type = suite->device_type;
        jo.origin = origin;
        jo.values = &values;
        jo.context = context;
        jo.n_context = suite->n_context;
        jo.job_dir = job_dir;
        jo.qtest = suite->qtest != QHIL_QTEST_OFF;
        jo.qtest_accel = suite->qtest == QHIL_QTEST_ACCEL;
        rc = qhil_job_new(&jo, out, err);
    }
    if (rc == 0) {
        rc = check_steps(*out, suite, err);
        if (rc < 0) {
            qhil_job_free(*out);
            *out = NULL;
        }
    }

cleanup:
    if (origins) {
        for (i = 0; i < n_origins; i++) {
            free(origins[i]);
        }
    }
    free(origins);
    free(images);
    free(context);
    free(origin);
    free(extra_origin);
    free(job_dir);
    return rc;
}

const char *const *qhil_job_notes(const qhil_job *job)
{
    static const char *const none[] = {NULL};

    return job->notes ? (const char *const *)job->notes : none;
}

const char *const *qhil_job_envp(const qhil_job *job)
{
    return qhil_site_environment(job->site);
}

unsigned long long qhil_job_disk_size(const qhil_job *job)
{
    return job->disk_bytes;
}

int qhil_job_argv_disk(const qhil_job *job, const char *disk, char ***out,
                       qhil_error *err)
{
    char **v = NULL;
    size_t i;
    int rc;

    rc = qhil_job_argv_dup(job, &v, err);
    if (rc < 0 || !disk || !job->disk_bytes) {
        *out = rc < 0 ? NULL : v;
        return rc;
    }
    for (i = 0; v[i]; i++) {
        char *drive = NULL;

        if (!strstr(v[i], DISK_SLOT)) {
            continue;
        }
        rc = qhil_disk_drive_arg(disk, job->disk_if, job->disk_id, &drive,
                                 err);
        if (rc < 0) {
            qhil_argv_free(v);
            *out = NULL;
            return rc;
        }
        free(v[i]);
        v[i] = drive;
    }
    *out = v;
    return QHIL_EOK;
}
