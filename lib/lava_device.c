/*
 * lava_device.c - LAVA's qemu device type, as data (lava_device.h).
 *
 * lava-server renders a device's configuration from its device type
 * template (qemu.jinja2) with the device dictionary's variables and the
 * job's context; lava-run then starts QEMU with
 *
 *   command  options...  extra...  image_args...
 *
 * joined with spaces.  For the qemu device type of lava-server 2023.01
 * (Debian 12) that is, in this order:
 *
 *   per arch      -machine M / -cpu C from the context, with a default
 *                 (arch_table: which arches get which; arm's -cpu comes
 *                 before its -machine)
 *   not arm       -cpu host -enable-kvm, unless context.no_kvm
 *   always        -nographic
 *                 -net nic,MODEL,macaddr=MAC -net NETDEV
 *                 -m MEMORY (512 by default)
 *                 -monitor none
 *   extra         the context's extra_options
 *
 * The device configuration written here is that rendering for one
 * context, without what these jobs never read: the template's other boot
 * methods and options for installers, and of its constants only those
 * lava-run looks up for a qemu boot and an interactive test.  The
 * integration tests render LAVA's own template from the lava-server
 * package and compare the command line (scenario lava-run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lava_device.h"
#include "yamlout.h"

#define DEVICE_MAX (1u << 20)

/*
 * The template's architectures, with what it adds for each.  Those from
 * Debian's qemu-system-misc all run qemu-system-NAME; only m68k and
 * xtensa get a machine from it.
 */
static const qhil_lava_arch arch_table[] = {
    {"arm64", "qemu-system-aarch64", "virt", "cortex-a57", false},
    {"arm", "qemu-system-arm", "virt", "cortex-a57", false},
    {"aarch64", "qemu-system-aarch64", "virt", "cortex-a57", false},
    {"amd64", "qemu-system-x86_64", NULL, NULL, true},
    {"x86_64", "qemu-system-x86_64", NULL, NULL, true},
    {"hppa", "qemu-system-hppa", "hppa", NULL, true},
    {"i386", "qemu-system-i386", NULL, NULL, true},
    {"mips", "qemu-system-mips", "malta", NULL, true},
    {"mipsel", "qemu-system-mipsel", NULL, NULL, true},
    {"mips64", "qemu-system-mips64", "malta", NULL, true},
    {"nios2", "qemu-system-nios2", "10m50-ghrd", NULL, true},
    {"ppc", "qemu-system-ppc", "g3beige", NULL, true},
    {"ppc64", "qemu-system-ppc64", "pseries", NULL, true},
    {"riscv64", "qemu-system-riscv64", "virt", "rv64", true},
    {"sparc", "qemu-system-sparc", "SS-5", NULL, true},
    {"sparc64", "qemu-system-sparc64", "sun4u", NULL, true},
    {"alpha", "qemu-system-alpha", NULL, NULL, true},
    {"cris", "qemu-system-cris", NULL, NULL, true},
    {"lm32", "qemu-system-lm32", NULL, NULL, true},
    {"m68k", "qemu-system-m68k", "mcf5208evb", NULL, true},
    {"microblaze", "qemu-system-microblaze", NULL, NULL, true},
    {"microblazeel", "qemu-system-microblazeel", NULL, NULL, true},
    {"moxie", "qemu-system-moxie", NULL, NULL, true},
    {"or32", "qemu-system-or32", NULL, NULL, true},
    {"s390x", "qemu-system-s390x", NULL, NULL, true},
    {"sh4", "qemu-system-sh4", NULL, NULL, true},
    {"sh4eb", "qemu-system-sh4eb", NULL, NULL, true},
    {"tricore", "qemu-system-tricore", NULL, NULL, true},
    {"unicore32", "qemu-system-unicore32", NULL, NULL, true},
    {"xtensa", "qemu-system-xtensa", "sim", NULL, true},
    {"xtensaeb", "qemu-system-xtensaeb", NULL, NULL, true},
};

const qhil_lava_arch *qhil_lava_arch_find(const char *name)
{
    size_t i;

    for (i = 0; i < QHIL_ARRAY_SIZE(arch_table); i++) {
        if (strcmp(arch_table[i].name, name) == 0) {
            return &arch_table[i];
        }
    }
    return NULL;
}

static bool is_arm(const qhil_lava_arch *a)
{
    return !a->kvm; /* only arm's entries add no KVM options */
}

/* Append "opt" or "opt val" to the NULL-terminated *v. */
static int add(char ***v, size_t *n, const char *opt, const char *val)
{
    char **grown = realloc(*v, (*n + 2) * sizeof(**v));
    char *s = NULL;

    if (!grown) {
        return QHIL_ENOMEM;
    }
    *v = grown;
    (*v)[*n] = NULL;
    if (val ? asprintf(&s, "%s %s", opt, val) < 0 : !(s = strdup(opt))) {
        return QHIL_ENOMEM;
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return QHIL_EOK;
}

/* The template's options for ctx, in its order (without extra). */
static int template_options(const qhil_lava_context *ctx, char ***v, size_t *n)
{
    const qhil_lava_arch *a = ctx->arch;
    const char *machine = ctx->machine ? ctx->machine : a->machine;
    const char *cpu = ctx->cpu ? ctx->cpu : a->cpu;
    char *nic = NULL;
    int rc = QHIL_EOK;

    if (is_arm(a)) {
        rc = add(v, n, "-cpu", cpu);
        if (rc == QHIL_EOK) {
            rc = add(v, n, "-machine", machine);
        }
    } else {
        if (a->machine) {
            rc = add(v, n, "-machine", machine);
        }
        if (rc == QHIL_EOK && a->cpu) {
            rc = add(v, n, "-cpu", cpu);
        }
        if (rc == QHIL_EOK && !ctx->no_kvm) {
            rc = add(v, n, "-cpu", "host");
            if (rc == QHIL_EOK) {
                rc = add(v, n, "-enable-kvm", NULL);
            }
        }
    }
    if (rc == QHIL_EOK) {
        rc = add(v, n, "-nographic", NULL);
    }
    if (rc == QHIL_EOK &&
        asprintf(&nic, "nic,%s,macaddr=%s -net %s",
                 ctx->model ? ctx->model : "model=virtio",
                 ctx->mac_addr ? ctx->mac_addr : "52:54:00:12:34:58",
                 ctx->netdevice ? ctx->netdevice : "user") < 0) {
        return QHIL_ENOMEM;
    }
    if (rc == QHIL_EOK) {
        rc = add(v, n, "-net", nic);
    }
    free(nic);
    if (rc == QHIL_EOK) {
        rc = add(v, n, "-m", ctx->memory ? ctx->memory : "512");
    }
    if (rc == QHIL_EOK) {
        rc = add(v, n, "-monitor", "none");
    }
    return rc;
}

int qhil_lava_device_argv(const qhil_lava_context *ctx, char ***out)
{
    char **v = NULL;
    size_t n = 0;
    size_t i;
    int rc;

    *out = NULL;
    rc = add(&v, &n, ctx->arch->binary, NULL);
    if (rc == QHIL_EOK) {
        rc = template_options(ctx, &v, &n);
    }
    for (i = 0; rc == QHIL_EOK && ctx->extra && ctx->extra[i]; i++) {
        rc = add(&v, &n, ctx->extra[i], NULL);
    }
    if (rc < 0) {
        qhil_argv_free(v);
        return rc;
    }
    *out = v;
    return QHIL_EOK;
}

static void kv_null(qhil_yamlout *y, const char *key)
{
    qhil_yamlout_str(y, key);
    qhil_yamlout_plain(y, "null");
}

/* The constants lava-run reads for a qemu boot and an interactive test,
 * with the template's values. */
static void constants(qhil_yamlout *y)
{
    qhil_yamlout_str(y, "constants");
    qhil_yamlout_map(y, false);
    qhil_yamlout_str(y, "posix");
    qhil_yamlout_map(y, false);
    qhil_yamlout_kv(y, "lava_test_sh_cmd", "/bin/sh");
    qhil_yamlout_kv(y, "lava_test_results_dir", "/lava-%s");
    qhil_yamlout_kv(y, "lava_test_shell_file", "~/.bashrc");
    qhil_yamlout_map_end(y);
    qhil_yamlout_kv(y, "shutdown-message",
                    "The system is going down for reboot NOW");
    qhil_yamlout_kv(y, "kernel-start-message", "Linux version [0-9]");
    qhil_yamlout_kv(y, "default-shell-prompt", "lava-test: # ");
    qhil_yamlout_kv(y, "spawn_maxread", "4092");
    qhil_yamlout_str(y, "failure_retry");
    qhil_yamlout_int(y, 1);
    kv_null(y, "boot_retry");
    qhil_yamlout_map_end(y);
}

int qhil_lava_device_config(const qhil_lava_context *ctx, const char *header,
                            qhil_buf *out, qhil_error *err)
{
    qhil_yamlout y;
    char **opts = NULL;
    size_t n = 0;
    const char *why = NULL;
    size_t i;
    int rc;

    rc = template_options(ctx, &opts, &n);
    if (rc < 0 || qhil_yamlout_begin(&y, DEVICE_MAX, header) < 0) {
        qhil_argv_free(opts);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "available_architectures");
    qhil_yamlout_seq(&y, true);
    for (i = 0; i < QHIL_ARRAY_SIZE(arch_table); i++) {
        qhil_yamlout_str(&y, arch_table[i].name);
    }
    qhil_yamlout_seq_end(&y);
    constants(&y);
    qhil_yamlout_str(&y, "parameters");
    qhil_yamlout_map(&y, true);
    qhil_yamlout_map_end(&y);

    qhil_yamlout_str(&y, "actions");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "deploy");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "connections");
    qhil_yamlout_map(&y, false);
    kv_null(&y, "serial");
    kv_null(&y, "lxc");
    qhil_yamlout_map_end(&y);
    qhil_yamlout_str(&y, "methods");
    qhil_yamlout_map(&y, false);
    kv_null(&y, "nfs");
    kv_null(&y, "lxc");
    qhil_yamlout_str(&y, "image");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "parameters");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "guest");
    qhil_yamlout_map(&y, true);
    qhil_yamlout_str(&y, "size");
    qhil_yamlout_int(&y, 512);
    qhil_yamlout_kv(&y, "interface", "ide");
    qhil_yamlout_kv(&y, "driveid", "lavatest");
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);

    qhil_yamlout_str(&y, "boot");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "connections");
    qhil_yamlout_map(&y, false);
    kv_null(&y, "serial");
    kv_null(&y, "ssh");
    kv_null(&y, "lxc");
    qhil_yamlout_map_end(&y);
    qhil_yamlout_str(&y, "methods");
    qhil_yamlout_map(&y, false);
    kv_null(&y, "minimal");
    qhil_yamlout_str(&y, "qemu");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "parameters");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_kv(&y, "command", ctx->arch->binary);
    qhil_yamlout_str(&y, "options");
    qhil_yamlout_seq(&y, false);
    for (i = 0; i < n; i++) {
        qhil_yamlout_str(&y, opts[i]);
    }
    qhil_yamlout_seq_end(&y);
    if (ctx->extra && ctx->extra[0]) {
        qhil_yamlout_str(&y, "extra");
        qhil_yamlout_seq(&y, false);
        for (i = 0; ctx->extra[i]; i++) {
            qhil_yamlout_str(&y, ctx->extra[i]);
        }
        qhil_yamlout_seq_end(&y);
    }
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);

    qhil_yamlout_str(&y, "timeouts");
    qhil_yamlout_map(&y, false);
    qhil_yamlout_str(&y, "actions");
    qhil_yamlout_map(&y, true);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_str(&y, "connections");
    qhil_yamlout_map(&y, true);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_yamlout_map_end(&y);
    qhil_argv_free(opts);

    rc = qhil_yamlout_end(&y, out, &why);
    if (rc < 0) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "cannot write the device configuration: %s", why);
    }
    return QHIL_EOK;
}
