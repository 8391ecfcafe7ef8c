/*
 * timer_test.c - a device test in C: qhil-timer over QTest, no firmware.
 *
 * The same checks as examples/devices/qhil-timer.yaml's
 * "irq-after-exactly-load-ns", written against libqhil for device
 * authors who keep their tests in C.  Exit status 0 when the device
 * behaves, 1 with a message when it does not.
 *
 * usage: timer_test BOARDS_DIR QEMU_DIR
 * Builds: cc timer_test.c $(pkg-config --cflags --libs libqhil)
 */
#define _GNU_SOURCE 1 /* nftw() and FTW_*, asprintf() */

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include <qhil/qhil.h>

#define TIMER 0x4001000u
#define T_ID (TIMER + 0x00)
#define T_CTRL (TIMER + 0x04)
#define T_STATUS (TIMER + 0x08)
#define T_LOAD (TIMER + 0x0C)
#define CTRL_EN 0x1u
#define CTRL_IRQ_EN 0x2u
#define TIMER_IRQ 12 /* PLIC source */

/* Stop at the first failed check, saying which. */
#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "timer_test: check failed: %s\n", #cond);         \
            goto out;                                                         \
        }                                                                     \
    } while (0)

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    qhil_machine_opts opts = {.qtest_accel = true}; /* no CPU: our clock */
    int64_t dl = qhil_deadline_in(10 * QHIL_SEC);
    const char *dirs[2] = {NULL, NULL};
    const char *qemu_dirs[2] = {NULL, NULL};
    char run_dir[] = "/tmp/qhil-timer-test.XXXXXX";
    qhil_job *job = NULL;
    qhil_machine *m = NULL;
    qhil_qtest *qt;
    qhil_error err;
    int64_t now = 0;
    uint32_t v = 0;
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: timer_test BOARDS_DIR QEMU_DIR\n");
        return 2;
    }
    qhil_error_init(&err);
    dirs[0] = argv[1];
    qemu_dirs[0] = argv[2];

    /* QEMU command line from the board template, no image slot filled;
     * qhil's QEMU build is looked for in QEMU_DIR first. */
    qhil_job_opts jo = {
        .device_type = "qhil-riscv-virt",
        .board_dirs = dirs,
        .qemu_dirs = qemu_dirs,
    };

    if (qhil_job_new(&jo, &job, &err) < 0) {
        goto out;
    }
    opts.argv = qhil_job_argv(job);
    opts.envp = qhil_job_envp(job); /* the site's environment only */
    opts.run_dir = mkdtemp(run_dir);
    if (!opts.run_dir || qhil_machine_launch(&opts, &m, &err) < 0) {
        goto out;
    }
    qt = qhil_machine_qtest(m);

    CHECK(qhil_qtest_readl(qt, T_ID, &v, dl, &err) == 0 && v == 0x51A7E001);
    CHECK(qhil_qtest_irq_intercept_in(qt, "/machine/qhil-irqchip", dl,
                                      &err) == 0);
    CHECK(qhil_qtest_writel(qt, T_LOAD, 1000, dl, &err) == 0);
    CHECK(qhil_qtest_writel(qt, T_CTRL, CTRL_EN | CTRL_IRQ_EN, dl, &err) ==
          0);

    /* 999 ns: nothing yet. */
    CHECK(qhil_qtest_clock_step(qt, 999, &now, dl, &err) == 0);
    CHECK(now == 999);
    CHECK(!qhil_qtest_get_irq(qt, TIMER_IRQ));
    CHECK(qhil_qtest_readl(qt, T_STATUS, &v, dl, &err) == 0 && !(v & 1));

    /* 1000 ns: expired, line high, raised exactly once. */
    CHECK(qhil_qtest_clock_step(qt, 1, &now, dl, &err) == 0);
    CHECK(qhil_qtest_get_irq(qt, TIMER_IRQ));
    CHECK(qhil_qtest_irq_raised(qt, TIMER_IRQ) == 1);
    CHECK(qhil_qtest_readl(qt, T_STATUS, &v, dl, &err) == 0 && (v & 1));

    /* Write-one-to-clear lowers it. */
    CHECK(qhil_qtest_writel(qt, T_STATUS, 1, dl, &err) == 0);
    CHECK(!qhil_qtest_get_irq(qt, TIMER_IRQ));

    CHECK(qhil_machine_shutdown(m, &err) == 0);
    printf("timer_test: qhil-timer fired at %lld ns, as programmed\n",
           (long long)now);
    rc = 0;

out:
    if (rc && err.message) {
        fprintf(stderr, "timer_test: %s\n", err.message);
    }
    qhil_machine_free(m);
    nftw(run_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    qhil_job_free(job);
    qhil_error_release(&err);
    return rc;
}
