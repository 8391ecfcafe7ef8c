/*
 * hostcaps.h - what this host and a QEMU binary can do (internal).
 *
 * The facts the job layer needs to pick a binary and an accelerator, each
 * found out once per job and said in the run log:
 *
 *   qhil_arch_canonical  LAVA's and Debian's arch spellings ("arm64",
 *                        "amd64", "armhf") to QEMU's target names
 *   qhil_arch_binary     "qemu-system-<target>" for an arch
 *   qhil_arch_host       the target name of this host (uname)
 *   qhil_kvm_usable      /dev/kvm there, openable, and answering
 *   qhil_kvm_decide      LAVA's rule: KVM or TCG, and why
 *   qhil_qemu_probe_sandbox  does a binary take qhil's -sandbox value
 *
 * Nothing here keeps state: every call looks again.  Strings returned
 * const are static and never freed.
 */
#ifndef QHIL_HOSTCAPS_H
#define QHIL_HOSTCAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qhil/clock.h>
#include <qhil/error.h>

/* The -sandbox value QEMU runs with where the binary supports it: the
 * seccomp filter on, and no obsolete syscalls, no setuid/setgid, no
 * fork/exec, no scheduler or affinity changes. */
#define QHIL_SANDBOX_VALUE                                                     \
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

/*
 * QEMU's target name for an arch as LAVA, Debian or uname spell it
 * ("arm64" and "aarch64" give "aarch64"; "amd64" gives "x86_64"; "armhf",
 * "armel" and "armv7l" give "arm"; "ppc64el" and "ppc64le" give
 * "ppc64"), or NULL when qhil does not know the name.  Exact, lower-case
 * names only.  Static result.
 */
const char *qhil_arch_canonical(const char *name);

/* Every arch name qhil_arch_canonical knows, ", "-separated, for an error
 * message that lists them.  Static. */
const char *qhil_arch_names(void);

/*
 * "qemu-system-<target>" for arch (any spelling qhil_arch_canonical
 * knows) in *out, malloc'ed, caller frees.  QHIL_EINVAL with a message
 * that lists the known names when arch is unknown; QHIL_ENOMEM.
 */
int qhil_arch_binary(const char *arch, char **out, qhil_error *err);

/* The target name of this host's machine (uname -m), or NULL when qhil
 * does not know it.  Static. */
const char *qhil_arch_host(void);

/*
 * 1 when the KVM device at path (qhil_kvm_usable: /dev/kvm) is a
 * character device that opens O_RDWR and answers KVM_GET_API_VERSION
 * with 12; else 0 with the reason in why ("/dev/kvm: No such file or
 * directory", "/dev/kvm: Permission denied", "/dev/null: not a KVM device
 * (KVM_GET_API_VERSION: Inappropriate ioctl for device)").  why may be
 * NULL; it is "" when usable.  Never blocks (the open is O_NONBLOCK and
 * nothing but a character device is opened).
 */
int qhil_kvm_usable(char *why, size_t n);
int qhil_kvm_usable_at(const char *path, char *why, size_t n);

/* What a job and its site say about KVM, for qhil_kvm_decide. */
typedef struct qhil_kvm_wish {
    const char *guest_arch; /* the job's arch, any known spelling */
    bool allowed;           /* device type and site allow KVM */
    bool no_kvm;            /* the job's no_kvm */
    bool cpu_set;           /* the job sets cpu: LAVA then drops KVM */
    const char *kvm_path;   /* NULL: /dev/kvm */
} qhil_kvm_wish;

/*
 * LAVA's resolution rule: KVM when the site and device type allow it, the
 * job neither sets no_kvm nor cpu, the guest's arch is the host's (an
 * i386 guest on an x86_64 host counts) and the KVM device is usable.
 * Returns 1 for KVM, 0 for TCG; why gets the reason either way, one line
 * for the run log ("KVM: host and guest are x86_64, /dev/kvm usable",
 * "TCG: the job sets cpu, which turns KVM off", "TCG: guest arch arm is
 * not the host's (x86_64)").  Never blocks.
 */
int qhil_kvm_decide(const qhil_kvm_wish *wish, char *why, size_t n);

/*
 * The two arguments to add to a QEMU argv for the sandbox: "-sandbox",
 * QHIL_SANDBOX_VALUE, then NULL.  Static.
 */
const char *const *qhil_sandbox_args(void);

/*
 * Does the QEMU binary accept -sandbox QHIL_SANDBOX_VALUE?  Runs
 * "BINARY -sandbox VALUE -cpu help" under the proc.h guard, with an
 * environment of LC_ALL=C alone, stdin /dev/null, its output captured
 * (64 KiB at most) and no shell.  QEMU takes the sandbox options before
 * it answers a help option, so this checks the option group is built in,
 * that every sub-option and value is known, and that the filter is
 * applied, and then exits without starting a machine.
 *
 * 1 when it does (why ""), 0 when it does not, with QEMU's own last line
 * in why ("qemu-system-arm: -sandbox on,...: -sandbox support is not
 * enabled in this QEMU binary"); negative with err set when the binary
 * cannot be run (QHIL_ESPAWN) or did not finish by deadline
 * (QHIL_ETIMEDOUT: killed and reaped).  why may be NULL.  Blocks until
 * the binary exits, at most until deadline (a few ms past it to reap).
 */
int qhil_qemu_probe_sandbox(const char *binary, int64_t deadline, char *why,
                            size_t n, qhil_error *err);

/*
 * Whether the ELF binary's dynamic section needs libseccomp, as QEMU's
 * does when it is built with -sandbox: 1 yes, 0 no (static, or built
 * without it: then qhil_qemu_probe_sandbox says), negative when it is
 * not an ELF file or cannot be read.  Reads the file's headers and
 * dynamic section only (O_NONBLOCK, so a FIFO does not block); never
 * runs it.
 */
int qhil_qemu_links_seccomp(const char *binary);

#endif /* QHIL_HOSTCAPS_H */
