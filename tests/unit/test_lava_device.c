/*
 * test_lava_device.c - LAVA's qemu device type as data: what its
 * template adds to the command line per arch (the integration scenario
 * lava-run compares that with LAVA's own template), and the device
 * configuration written from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lava_device.h"
#include "yamlutil.h"

/* argv equals the NULL-terminated list that follows. */
static void assert_words(char **argv, ...)
{
    va_list ap;
    const char *want;
    size_t i = 0;

    va_start(ap, argv);
    while ((want = va_arg(ap, const char *))) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want);
        i++;
    }
    va_end(ap);
    assert_null(argv[i]);
}

static void test_arch_table(void **state)
{
    (void)state;
    assert_string_equal(qhil_lava_arch_find("arm")->binary, "qemu-system-arm");
    assert_string_equal(qhil_lava_arch_find("arm64")->binary,
                        "qemu-system-aarch64");
    assert_string_equal(qhil_lava_arch_find("aarch64")->binary,
                        "qemu-system-aarch64");
    assert_string_equal(qhil_lava_arch_find("amd64")->binary,
                        "qemu-system-x86_64");
    assert_string_equal(qhil_lava_arch_find("riscv64")->cpu, "rv64");
    assert_null(qhil_lava_arch_find("x86_64")->machine);
    /* Arches LAVA's template has no entry for. */
    assert_null(qhil_lava_arch_find("riscv32"));
    assert_null(qhil_lava_arch_find("mips64el"));
    assert_null(qhil_lava_arch_find(""));
}

/* Arm: -cpu before -machine, never KVM options; the NIC, memory and
 * monitor always; extra last. */
static void test_arm_argv(void **state)
{
    char *extra[] = {"-serial mon:stdio", "-nic none", NULL};
    qhil_lava_context c = {
        .arch = qhil_lava_arch_find("arm"),
        .machine = "virt",
        .cpu = "cortex-a15",
        .memory = "128M",
        .extra = extra,
    };
    char **argv = NULL;

    (void)state;
    assert_int_equal(qhil_lava_device_argv(&c, &argv), QHIL_EOK);
    assert_words(argv, "qemu-system-arm", "-cpu cortex-a15", "-machine virt",
                 "-nographic",
                 "-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user",
                 "-m 128M", "-monitor none", "-serial mon:stdio", "-nic none",
                 NULL);
    qhil_argv_free(argv);
    /* The template's own defaults when the context says nothing. */
    c.machine = c.cpu = c.memory = NULL;
    c.extra = NULL;
    c.model = "model=lan9118";
    c.netdevice = "none";
    c.mac_addr = "52:54:00:00:00:01";
    assert_int_equal(qhil_lava_device_argv(&c, &argv), QHIL_EOK);
    assert_words(argv, "qemu-system-arm", "-cpu cortex-a57", "-machine virt",
                 "-nographic",
                 "-net nic,model=lan9118,macaddr=52:54:00:00:00:01 -net none",
                 "-m 512", "-monitor none", NULL);
    qhil_argv_free(argv);
}

/* Every other arch gets -cpu host -enable-kvm unless no_kvm, after its
 * own -machine and -cpu. */
static void test_kvm_argv(void **state)
{
    qhil_lava_context c = {
        .arch = qhil_lava_arch_find("riscv64"),
        .machine = "virt",
        .cpu = "rv64",
        .memory = "128M",
    };
    char **argv = NULL;

    (void)state;
    assert_int_equal(qhil_lava_device_argv(&c, &argv), QHIL_EOK);
    assert_words(argv, "qemu-system-riscv64", "-machine virt", "-cpu rv64",
                 "-cpu host", "-enable-kvm", "-nographic",
                 "-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user",
                 "-m 128M", "-monitor none", NULL);
    qhil_argv_free(argv);
    c.no_kvm = true;
    assert_int_equal(qhil_lava_device_argv(&c, &argv), QHIL_EOK);
    assert_words(argv, "qemu-system-riscv64", "-machine virt", "-cpu rv64",
                 "-nographic",
                 "-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user",
                 "-m 128M", "-monitor none", NULL);
    qhil_argv_free(argv);
    /* x86_64: no -machine, no -cpu of the template's own. */
    c.arch = qhil_lava_arch_find("x86_64");
    c.no_kvm = false;
    assert_int_equal(qhil_lava_device_argv(&c, &argv), QHIL_EOK);
    assert_words(argv, "qemu-system-x86_64", "-cpu host", "-enable-kvm",
                 "-nographic",
                 "-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user",
                 "-m 128M", "-monitor none", NULL);
    qhil_argv_free(argv);
}

/* The device configuration: the header first, then YAML that loads,
 * with the command, the options and the extra options. */
static void test_device_config(void **state)
{
    char *extra[] = {"-serial mon:stdio", "-sandbox on", NULL};
    qhil_lava_context c = {
        .arch = qhil_lava_arch_find("arm"),
        .machine = "virt",
        .cpu = "cortex-a15",
        .memory = "128M",
        .no_kvm = true,
        .extra = extra,
    };
    qhil_buf out;
    qhil_error err;
    qhil_yaml y;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_lava_device_config(&c, "# first\n# second\n", &out,
                                             &err),
                     QHIL_EOK);
    assert_memory_equal(out.data, "# first\n# second\n", 17);
    assert_non_null(strstr(out.data, "\n          command: qemu-system-arm\n"));
    assert_non_null(strstr(out.data, "\n          - -cpu cortex-a15\n"
                                     "          - -machine virt\n"));
    assert_non_null(strstr(out.data, "          extra:\n"
                                     "          - -serial mon:stdio\n"
                                     "          - -sandbox on\n"));
    assert_non_null(strstr(out.data, "\n  boot_retry: null\n"));
    /* "x86_64" reads back as a string, not a number. */
    assert_non_null(strstr(out.data, "'x86_64'"));
    assert_int_equal(qhil_yaml_load_buffer(&y, "device.yaml", out.data,
                                           out.len, &err),
                     QHIL_EOK);
    qhil_yaml_release(&y);
    qhil_buf_release(&out);
    /* Not UTF-8: refused, nothing returned. */
    extra[1] = "-name \xff";
    assert_int_equal(qhil_lava_device_config(&c, NULL, &out, &err),
                     QHIL_EINVAL);
    assert_non_null(strstr(qhil_error_message(&err, QHIL_EINVAL),
                           "cannot write the device configuration"));
    qhil_error_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_table),
        cmocka_unit_test(test_arm_argv),
        cmocka_unit_test(test_kvm_argv),
        cmocka_unit_test(test_device_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
