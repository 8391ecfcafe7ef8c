/*
 * hostcaps.c - host facts for the job layer: arch names, KVM, whether a
 * QEMU binary can run sandboxed.
 *
 * Arch names.  A LAVA job says "arm64" or "amd64" (Debian's names), a
 * device type may say "aarch64", uname says "armv7l" or "x86_64"; QEMU's
 * binaries are named after its targets.  One table maps every spelling to
 * the target; an unknown name is NULL, never a guess, so "arm46" is an
 * error that lists the names rather than a search for qemu-system-arm46.
 *
 * KVM.  Usable means: /dev/kvm is a character device (nothing else is
 * opened, so a FIFO put there cannot block us), it opens O_RDWR, and
 * KVM_GET_API_VERSION answers 12, the only version Linux has had.  Each
 * "no" keeps the errno text, which is what an admin acts on ("Permission
 * denied": add the user to group kvm).  The decision follows LAVA:
 *
 *   allowed by site and device type?  -- no --> TCG
 *   job sets no_kvm or cpu?           -- yes -> TCG
 *   guest arch == host arch?          -- no --> TCG  (i386 on x86_64 ok)
 *   /dev/kvm usable?                  -- no --> TCG
 *                                     -- yes -> KVM
 *
 * Sandbox probe.  QEMU reads its options in order and handles a help
 * option only after the early ones, of which -sandbox is one: in QEMU 7.2
 * "-sandbox VALUE -cpu help" fails with "There is no option group
 * 'sandbox'" on a binary built without seccomp, with "Invalid parameter"
 * or "invalid argument for spawn" on a sub-option or value it does not
 * know, and otherwise applies the filter, prints the CPU list and exits
 * 0 (so a kernel that refuses the filter fails the probe as well).
 * "-version" would be cheaper to print but is handled while the options
 * are still being read: the values are not checked and no filter is
 * applied (Debian's 7.2 answers "-sandbox on,spawn=what -version" with
 * its version).  A probe takes a few tens of ms; see hostcaps.md.
 *
 * That is a lot for every run of a one-test suite, so the job layer asks
 * the binary's ELF first (qhil_qemu_links_seccomp, libelf): a QEMU whose
 * dynamic section needs libseccomp was built with the sandbox.  Reading
 * the dynamic section costs well under a millisecond.  Only a binary that
 * does not say so (static, or built without it) is probed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "hostcaps.h"
#include "internal.h"
#include "proc.h"

/* What a probe keeps of the binary's output. */
#define PROBE_OUTPUT_CAP (64 * 1024)

typedef struct arch_name {
    const char *name;
    const char *target;
} arch_name;

static const arch_name arch_names[] = {
    {"aarch64", "aarch64"},
    {"arm64", "aarch64"},
    {"arm", "arm"},
    {"armhf", "arm"},
    {"armel", "arm"},
    {"armv6l", "arm"},
    {"armv7l", "arm"},
    {"armv8l", "arm"},
    {"x86_64", "x86_64"},
    {"amd64", "x86_64"},
    {"i386", "i386"},
    {"i486", "i386"},
    {"i586", "i386"},
    {"i686", "i386"},
    {"riscv64", "riscv64"},
    {"riscv32", "riscv32"},
    {"mips", "mips"},
    {"mipsel", "mipsel"},
    {"mips64", "mips64"},
    {"mips64el", "mips64el"},
    {"ppc", "ppc"},
    {"powerpc", "ppc"},
    {"ppc64", "ppc64"},
    {"ppc64le", "ppc64"},
    {"ppc64el", "ppc64"},
    {"s390x", "s390x"},
    {"sparc", "sparc"},
    {"sparc64", "sparc64"},
    {"loongarch64", "loongarch64"},
    {"m68k", "m68k"},
    {"alpha", "alpha"},
    {"hppa", "hppa"},
    {"sh4", "sh4"},
    {"microblaze", "microblaze"},
    {"or1k", "or1k"},
    {"xtensa", "xtensa"},
};

const char *qhil_arch_canonical(const char *name)
{
    size_t i;

    for (i = 0; name && i < QHIL_ARRAY_SIZE(arch_names); i++) {
        if (!strcmp(arch_names[i].name, name)) {
            return arch_names[i].target;
        }
    }
    return NULL;
}

const char *qhil_arch_names(void)
{
    return "aarch64, arm64, arm, armhf, armel, armv6l, armv7l, armv8l, "
           "x86_64, amd64, i386, i486, i586, i686, riscv64, riscv32, mips, "
           "mipsel, mips64, mips64el, ppc, powerpc, ppc64, ppc64le, "
           "ppc64el, s390x, sparc, sparc64, loongarch64, m68k, alpha, hppa, "
           "sh4, microblaze, or1k, xtensa";
}

int qhil_arch_binary(const char *arch, char **out, qhil_error *err)
{
    const char *target = qhil_arch_canonical(arch);

    *out = NULL;
    if (!target) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "arch '%s' is not one qhil knows; known: %s",
                              arch ? arch : "", qhil_arch_names());
    }
    if (asprintf(out, "qemu-system-%s", target) < 0) {
        *out = NULL;
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    return QHIL_EOK;
}

const char *qhil_arch_host(void)
{
    struct utsname u;

    if (uname(&u) < 0) {
        return NULL;
    }
    return qhil_arch_canonical(u.machine);
}

/* snprintf into why when there is one. */
static int say(char *why, size_t n, int result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int say(char *why, size_t n, int result, const char *fmt, ...)
{
    va_list ap;

    if (why && n) {
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return result;
}

int qhil_kvm_usable_at(const char *path, char *why, size_t n)
{
    struct stat st;
    int version;
    int fd;

    if (stat(path, &st) < 0) {
        return say(why, n, 0, "%s: %s", path, strerror(errno));
    }
    if (!S_ISCHR(st.st_mode)) {
        return say(why, n, 0, "%s: not a character device", path);
    }
    fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return say(why, n, 0, "%s: %s", path, strerror(errno));
    }
    version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version < 0) {
        int e = errno;

        close(fd);
        return say(why, n, 0, "%s: not a KVM device (KVM_GET_API_VERSION: %s)",
                   path, strerror(e));
    }
    close(fd);
    if (version != KVM_API_VERSION) {
        return say(why, n, 0, "%s: KVM API version %d, qhil knows %d", path,
                   version, KVM_API_VERSION);
    }
    return say(why, n, 1, "%s", "");
}

int qhil_kvm_usable(char *why, size_t n)
{
    return qhil_kvm_usable_at("/dev/kvm", why, n);
}

int qhil_kvm_decide(const qhil_kvm_wish *wish, char *why, size_t n)
{
    const char *path = wish->kvm_path ? wish->kvm_path : "/dev/kvm";
    const char *guest = qhil_arch_canonical(wish->guest_arch);
    const char *host = qhil_arch_host();
    char kvm[256];

    if (!wish->allowed) {
        return say(why, n, 0,
                   "TCG: the site or the device type does not allow KVM");
    }
    if (wish->no_kvm) {
        return say(why, n, 0, "TCG: the job sets no_kvm");
    }
    if (wish->cpu_set) {
        return say(why, n, 0, "TCG: the job sets cpu, which turns KVM off");
    }
    if (!guest) {
        return say(why, n, 0, "TCG: guest arch '%s' is not one qhil knows",
                   wish->guest_arch ? wish->guest_arch : "");
    }
    if (!host) {
        return say(why, n, 0, "TCG: this host's arch is not one qhil knows");
    }
    if (strcmp(guest, host) != 0 &&
        !(!strcmp(guest, "i386") && !strcmp(host, "x86_64"))) {
        return say(why, n, 0, "TCG: guest arch %s is not the host's (%s)",
                   guest, host);
    }
    if (!qhil_kvm_usable_at(path, kvm, sizeof(kvm))) {
        return say(why, n, 0, "TCG: %s", kvm);
    }
    return say(why, n, 1, "KVM: guest %s on a %s host, %s usable", guest, host,
               path);
}

const char *const *qhil_sandbox_args(void)
{
    static const char *const args[] = {"-sandbox", QHIL_SANDBOX_VALUE, NULL};

    return args;
}

/* The last non-empty line of text, trimmed, into why. */
static void last_line(const char *text, char *why, size_t n)
{
    const char *end = text + strlen(text);
    const char *start;

    while (end > text && (end[-1] == '\n' || end[-1] == '\r' ||
                          end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    start = end;
    while (start > text && start[-1] != '\n') {
        start--;
    }
    say(why, n, 0, "%.*s", (int)(end - start), start);
}

int qhil_qemu_probe_sandbox(const char *binary, int64_t deadline, char *why,
                            size_t n, qhil_error *err)
{
    char *argv[] = {(char *)binary, "-sandbox", QHIL_SANDBOX_VALUE,
                    "-cpu",         "help",     NULL};
    char *envp[] = {"LC_ALL=C", NULL};
    qhil_spawn sp = {.argv = argv, .envp = envp, .stdin_fd = -1};
    char desc[64];
    char *out = NULL;
    int status = 0;
    int rc;

    say(why, n, 0, "%s", "");
    if (!binary || !*binary) {
        return qhil_error_set(err, QHIL_EINVAL, "no QEMU binary to probe");
    }
    rc = qhil_proc_run(&sp, deadline, PROBE_OUTPUT_CAP, &status, &out, NULL,
                       err);
    if (rc < 0) {
        if (rc == QHIL_ETIMEDOUT) {
            qhil_error_set(err, QHIL_ETIMEDOUT,
                           "probing '%s' for -sandbox: no answer before the "
                           "deadline; killed",
                           binary);
        }
        free(out);
        return rc;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        free(out);
        return 1;
    }
    last_line(out, why, n);
    if (why && n && !*why) {
        say(why, n, 0, "%s -sandbox %s: %s", binary, QHIL_SANDBOX_VALUE,
            qhil_proc_describe(status, desc, sizeof(desc)));
    }
    free(out);
    return 0;
}

int qhil_qemu_links_seccomp(const char *binary)
{
    Elf *elf = NULL;
    Elf_Scn *scn = NULL;
    int found = 0;
    int fd;

    if (elf_version(EV_CURRENT) == EV_NONE) {
        return QHIL_EIO;
    }
    fd = open(binary, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        return -errno;
    }
    elf = elf_begin(fd, ELF_C_READ, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        found = QHIL_EINVAL;
        goto cleanup;
    }
    while (!found && (scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr shdr;
        Elf_Data *data;
        size_t i;

        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC) {
            continue;
        }
        data = elf_getdata(scn, NULL);
        for (i = 0; data && shdr.sh_entsize &&
                    i < shdr.sh_size / shdr.sh_entsize;
             i++) {
            GElf_Dyn dyn;
            const char *name;

            if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag != DT_NEEDED) {
                continue;
            }
            name = elf_strptr(elf, shdr.sh_link, dyn.d_un.d_val);
            if (name && !strncmp(name, "libseccomp.so", 13)) {
                found = 1;
                break;
            }
        }
    }

cleanup:
    if (elf) {
        elf_end(elf);
    }
    close(fd);
    return found;
}
