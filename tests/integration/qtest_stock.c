/*
 * qtest_stock.c - the QTest client on a stock QEMU (mps2-an385, TCG).
 *
 * No firmware: QEMU's own devices are driven over QTest the way a device
 * model test would: the CMSDK APB UART0 and timer0, guest RAM, the NVIC's
 * inputs through an IRQ intercept, and the clock commands that a QEMU
 * without the qtest accelerator does not have.  A second launch asks for
 * "-accel qtest", which Debian's QEMU lacks; launch must then fail with
 * QEMU's own words (or, on a QEMU that has it, the clock must move).
 *
 * usage: qtest_stock   (environment: SRC = the source tree, for boards/)
 *
 * The machine starts with -S: with no image the Cortex-M3 would fetch a
 * zero reset vector and QEMU 7.2 stops with "Lockup: can't escalate 3 to
 * HardFault".  For the timer test a 10-byte program ("b .") is written
 * through QTest, the CPU reset over QMP and let run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "itutil.h"

/* mps2-an385 (QEMU's hw/arm/mps2.c) */
#define UART0 0x40004000u
#define UART_DATA 0x0
#define UART_CTRL 0x8
#define UART_INTSTATUS 0xc
#define UART_BAUDDIV 0x10
#define UART_PID0 0xfe0
#define UART0_TX_IRQ 1
#define TIMER0 0x40000000u
#define TIMER_CTRL 0x0
#define TIMER_VALUE 0x4
#define TIMER_RELOAD 0x8
#define TIMER_INTSTATUS 0xc
#define TIMER_PID0 0xfe0
#define TIMER0_IRQ 8
#define SRAM 0x20000000u            /* 4 MiB at 0x20000000 */
#define NVIC_PATH "/machine/armv7m" /* holds the NVIC's inputs */

#define WAIT (5 * QHIL_SEC)

static qhil_error err;

static int64_t later(void)
{
    return qhil_deadline_in(WAIT);
}

/* QEMU's argv for the board, without an image, stopped at start. */
static char **board_argv(void)
{
    static const char *const extra[] = {"-S"};
    qhil_board_job job = {
        .extra_options = extra,
        .n_extra_options = 1,
        .extra_origin = "qtest_stock.c",
    };

    return it_board_argv("mps2-an385", &job);
}

static void test_uart(qhil_machine *m, qhil_qtest *qt)
{
    uint32_t v = 0;
    char *seen = NULL;

    /* Identification registers of QEMU's CMSDK models. */
    CHECK_RC(qhil_qtest_readl(qt, UART0 + UART_PID0, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x21);
    CHECK_RC(qhil_qtest_readl(qt, TIMER0 + TIMER_PID0, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x22);

    /* BAUDDIV keeps 20 bits, CTRL 7. */
    CHECK_RC(
        qhil_qtest_writel(qt, UART0 + UART_BAUDDIV, 0x1234567, later(), &err),
        QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, UART0 + UART_BAUDDIV, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x34567);
    CHECK_RC(qhil_qtest_writel(qt, UART0 + UART_BAUDDIV, 16, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, UART0 + UART_BAUDDIV, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 16);
    CHECK_RC(qhil_qtest_writel(qt, UART0 + UART_CTRL, 0xff, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, UART0 + UART_CTRL, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x7f);

    /* TX enabled with its interrupt: a byte written to DATA comes out on
     * the console and raises UART0's TX line at the NVIC. */
    CHECK_RC(qhil_qtest_writel(qt, UART0 + UART_CTRL, 0x5, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_writel(qt, UART0 + UART_DATA, 'Q', later(), &err),
             QHIL_EOK);
    CHECK_RC(
        qhil_console_expect(qhil_machine_console(m), "Q", later(), &seen, &err),
        QHIL_EOK);
    free(seen);
    CHECK_RC(qhil_qtest_wait_irq(qt, UART0_TX_IRQ, true, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, UART0 + UART_INTSTATUS, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x1);
    /* Write 1 to clear. */
    CHECK_RC(qhil_qtest_writel(qt, UART0 + UART_INTSTATUS, 0x1, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_wait_irq(qt, UART0_TX_IRQ, false, later(), &err),
             QHIL_EOK);
    CHECK_EQ(qhil_qtest_irq_raised(qt, UART0_TX_IRQ), 1);
    CHECK_RC(qhil_qtest_writel(qt, UART0 + UART_CTRL, 0, later(), &err),
             QHIL_EOK);
}

static void test_timer_registers(qhil_qtest *qt)
{
    uint32_t v = 0;

    /* Stopped machine: the counter stands where it is put. */
    CHECK_RC(
        qhil_qtest_writel(qt, TIMER0 + TIMER_RELOAD, 0x12345, later(), &err),
        QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, TIMER0 + TIMER_RELOAD, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x12345);
    /* Writing RELOAD also loads VALUE. */
    CHECK_RC(qhil_qtest_readl(qt, TIMER0 + TIMER_VALUE, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x12345);
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_VALUE, 0x777, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, TIMER0 + TIMER_VALUE, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x777);
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_CTRL, 0xff, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, TIMER0 + TIMER_CTRL, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0xf);
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_CTRL, 0, later(), &err),
             QHIL_EOK);
}

/* The bytes the first memwrite puts at SRAM + i. */
static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 8));
}

static void test_memory(qhil_qtest *qt)
{
    const size_t len = 64 * 1024;
    uint8_t *out = malloc(len);
    uint8_t *in = malloc(len);
    uint64_t q = 0;
    uint32_t v = 0;
    uint16_t w = 0;
    uint8_t b = 0;
    size_t i;

    CHECK(out && in);
    for (i = 0; i < len; i++) {
        out[i] = pattern(i);
    }
    CHECK_RC(qhil_qtest_memwrite(qt, SRAM, out, len, later(), &err), QHIL_EOK);
    CHECK_RC(qhil_qtest_memread(qt, SRAM, in, len, later(), &err), QHIL_EOK);
    CHECK(memcmp(in, out, len) == 0);
    for (i = 0; i < len; i++) {
        out[i] = (uint8_t)~out[i];
    }
    CHECK_RC(qhil_qtest_bufwrite(qt, SRAM + 0x10001, out, len, later(), &err),
             QHIL_EOK);
    memset(in, 0, len);
    CHECK_RC(qhil_qtest_bufread(qt, SRAM + 0x10001, in, len, later(), &err),
             QHIL_EOK);
    CHECK(memcmp(in, out, len) == 0);
    /* Hex and base64 see the same bytes. */
    CHECK_RC(qhil_qtest_memread(qt, SRAM + 0x10001, in, len, later(), &err),
             QHIL_EOK);
    CHECK(memcmp(in, out, len) == 0);

    CHECK_RC(qhil_qtest_memset(qt, SRAM + 0x100, 0x5a, 4096, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_memread(qt, SRAM + 0xff, in, 4098, later(), &err),
             QHIL_EOK);
    CHECK_EQ(in[0], pattern(0xff));
    for (i = 1; i <= 4096; i++) {
        CHECK_EQ(in[i], 0x5a);
    }
    CHECK_EQ(in[4097], pattern(0x1100));

    /* The guest is little-endian. */
    CHECK_RC(qhil_qtest_writeq(qt, SRAM, 0x0807060504030201ULL, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_readb(qt, SRAM + 1, &b, later(), &err), QHIL_EOK);
    CHECK_EQ(b, 0x02);
    CHECK_RC(qhil_qtest_readw(qt, SRAM + 2, &w, later(), &err), QHIL_EOK);
    CHECK_EQ(w, 0x0403);
    CHECK_RC(qhil_qtest_readl(qt, SRAM + 4, &v, later(), &err), QHIL_EOK);
    CHECK_EQ(v, 0x08070605);
    CHECK_RC(qhil_qtest_readq(qt, SRAM, &q, later(), &err), QHIL_EOK);
    CHECK_EQ(q, 0x0807060504030201ULL);

    /* Nothing is mapped at 0xf0000000: QEMU answers OK with zeros. */
    v = 1;
    CHECK_RC(qhil_qtest_readl(qt, 0xf0000000, &v, later(), &err), QHIL_EOK);
    CHECK_EQ(v, 0);
    free(out);
    free(in);
}

static void test_pipeline(qhil_qtest *qt)
{
    char line[64];
    char *reply = NULL;
    int i;

    for (i = 0; i < 64; i++) {
        snprintf(line, sizeof(line), "readl 0x%x", SRAM + 4 * (unsigned)i);
        CHECK_RC(qhil_qtest_writel(qt, SRAM + 4 * (unsigned)i,
                                   0xa0000000u + (unsigned)i, later(), &err),
                 QHIL_EOK);
        CHECK_RC(qhil_qtest_submit(qt, line, later(), &err), QHIL_EOK);
    }
    CHECK_EQ(qhil_qtest_pending(qt), 64);
    for (i = 0; i < 64; i++) {
        char want[32];

        snprintf(want, sizeof(want), "0x00000000%08x", 0xa0000000u + i);
        CHECK_RC(qhil_qtest_collect(qt, &reply, later(), &err), QHIL_EOK);
        if (strcmp(reply, want) != 0) {
            it_die(__FILE__, __LINE__, "reply %d is '%s', want '%s'", i, reply,
                   want);
        }
        free(reply);
    }
    CHECK_EQ(qhil_qtest_pending(qt), 0);
}

static void test_irq(qhil_qtest *qt)
{
    CHECK_RC(qhil_qtest_irq_intercept_in(qt, NVIC_PATH, later(), &err),
             QHIL_EOK);
    /* Once more on the same device is fine, another is refused. */
    CHECK_RC(qhil_qtest_irq_intercept_in(qt, NVIC_PATH, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_irq_intercept_out(qt, "/machine/timer0", later(), &err),
             QHIL_ECMD);
    CHECK(strstr(err.message, "IRQ intercept already enabled"));
    CHECK_RC(qhil_qtest_irq_intercept_in(qt, "/machine/no-such-device", later(),
                                         &err),
             QHIL_ECMD);
    CHECK(strstr(err.message, "Unknown device"));

    /* Driving an intercepted input reports it, before the reply. */
    CHECK(!qhil_qtest_get_irq(qt, 5));
    CHECK_RC(qhil_qtest_set_irq_in(qt, NVIC_PATH, NULL, 5, 1, later(), &err),
             QHIL_EOK);
    CHECK(qhil_qtest_get_irq(qt, 5));
    CHECK_RC(qhil_qtest_set_irq_in(qt, NVIC_PATH, "", 5, 0, later(), &err),
             QHIL_EOK);
    CHECK(!qhil_qtest_get_irq(qt, 5));
    CHECK_EQ(qhil_qtest_irq_raised(qt, 5), 1);
}

/* Let the CPU run "b ." and count with timer0 until its IRQ fires. */
static void test_timer_irq(qhil_machine *m, qhil_qtest *qt)
{
    qhil_qmp *qmp = qhil_machine_qmp(m);
    json_t *status = NULL;
    uint32_t v1 = 0;
    uint32_t v2 = 0;

    /* Vector table: initial SP, reset PC (Thumb), then "b ." at 8. */
    CHECK_RC(qhil_qtest_writel(qt, 0x0, SRAM + 0x1000, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_writel(qt, 0x4, 0x9, later(), &err), QHIL_EOK);
    CHECK_RC(qhil_qtest_writew(qt, 0x8, 0xe7fe, later(), &err), QHIL_EOK);
    CHECK_RC(qhil_qmp_execute(qmp, "system_reset", NULL, NULL, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qmp_execute(qmp, "cont", NULL, NULL, later(), &err),
             QHIL_EOK);
    CHECK_RC(
        qhil_qmp_execute(qmp, "query-status", NULL, &status, later(), &err),
        QHIL_EOK);
    CHECK(json_is_true(json_object_get(status, "running")));
    json_decref(status);

    /* A free-running count goes down while virtual time passes. */
    CHECK_RC(
        qhil_qtest_writel(qt, TIMER0 + TIMER_RELOAD, 0xffffffff, later(), &err),
        QHIL_EOK);
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_CTRL, 0x1, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_readl(qt, TIMER0 + TIMER_VALUE, &v1, later(), &err),
             QHIL_EOK);
    usleep(20000);
    CHECK_RC(qhil_qtest_readl(qt, TIMER0 + TIMER_VALUE, &v2, later(), &err),
             QHIL_EOK);
    CHECK(v2 < v1);

    /* 1 ms period at 25 MHz, interrupt enabled: timer0's NVIC line. */
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_RELOAD, 25000, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_CTRL, 0x9, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_wait_irq(qt, TIMER0_IRQ, true, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_CTRL, 0, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_writel(qt, TIMER0 + TIMER_INTSTATUS, 1, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qtest_wait_irq(qt, TIMER0_IRQ, false, later(), &err),
             QHIL_EOK);
}

static void test_clock_refused(qhil_qtest *qt)
{
    int64_t now = 1;
    uint32_t v = 0;

    /* The machine knows QEMU runs TCG: refused here, nothing sent. */
    CHECK_RC(qhil_qtest_clock_step(qt, 1000, &now, later(), &err),
             QHIL_EUNSUPPORTED);
    CHECK(strstr(err.message, "accel"));
    CHECK_RC(qhil_qtest_clock_set(qt, 1000, NULL, later(), &err),
             QHIL_EUNSUPPORTED);
    /* QEMU's own answer says the same. */
    qhil_qtest_set_clock_allowed(qt, true);
    CHECK_RC(qhil_qtest_clock_step(qt, 1000, &now, later(), &err),
             QHIL_EUNSUPPORTED);
    CHECK(strstr(err.message, "no QTest clock_step"));
    CHECK_RC(qhil_qtest_clock_step(qt, -1, &now, later(), &err),
             QHIL_EUNSUPPORTED);
    qhil_qtest_set_clock_allowed(qt, false);
    /* ... and the connection is still fine. */
    CHECK_RC(qhil_qtest_readl(qt, UART0 + UART_PID0, &v, later(), &err),
             QHIL_EOK);
    CHECK_EQ(v, 0x21);
}

/* "-accel qtest": Debian's QEMU has no such accelerator. */
static void test_accel(char **argv)
{
    char *run_dir = it_run_dir("qhil-qtest-accel");
    qhil_machine_opts opts = {
        .argv = (const char *const *)argv,
        .run_dir = run_dir,
        .qtest_accel = true,
    };
    qhil_machine *m = NULL;
    int64_t now = 0;
    int rc;

    rc = qhil_machine_launch(&opts, &m, &err);
    if (rc == QHIL_EEXITED) {
        /* "qemu-system-arm: -accel qtest: invalid accelerator qtest" */
        CHECK(strstr(err.message, "invalid accelerator qtest"));
        printf("qtest_stock: -accel qtest refused as expected: %s\n",
               err.message);
        it_remove_run_dir(run_dir);
        free(run_dir);
        return;
    }
    /* A QEMU with the qtest accelerator: time moves only on request. */
    CHECK_RC(rc, QHIL_EOK);
    CHECK(qhil_machine_qtest(m));
    CHECK_RC(
        qhil_qtest_clock_step(qhil_machine_qtest(m), 1000, &now, later(), &err),
        QHIL_EOK);
    CHECK(now >= 1000);
    CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
    qhil_machine_free(m);
    it_remove_run_dir(run_dir);
    free(run_dir);
}

int main(void)
{
    char *dir;
    char **argv;
    qhil_machine *m = NULL;
    qhil_qtest *qt;
    qhil_machine_opts opts = {0};

    qhil_error_init(&err);
    dir = it_run_dir("qhil-qtest");
    argv = board_argv();

    /* Without qtest, there is no QTest handle. */
    opts.argv = (const char *const *)argv;
    opts.run_dir = dir;
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    CHECK(qhil_machine_qtest(m) == NULL);
    CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
    qhil_machine_free(m);
    /* Each machine gets a fresh folder: launch never reuses files. */
    it_remove_run_dir(dir);
    free(dir);
    dir = it_run_dir("qhil-qtest");
    opts.run_dir = dir;

    opts.qtest = true;
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    qt = qhil_machine_qtest(m);
    CHECK(qt);
    test_irq(qt);
    test_uart(m, qt);
    test_timer_registers(qt);
    test_memory(qt);
    test_pipeline(qt);
    test_clock_refused(qt);
    test_timer_irq(m, qt);
    CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
    CHECK_EQ(qhil_machine_end_how(m), QHIL_END_QUIT);
    qhil_machine_free(m);

    test_accel(argv);

    qhil_argv_free(argv);
    it_remove_run_dir(dir);
    free(dir);
    qhil_error_release(&err);
    printf("qtest_stock: %d checks passed\n", it_checks());
    return 0;
}
