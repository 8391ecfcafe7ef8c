/*
 * devices.c - qhil's own devices on the RISC-V virt board, which exist
 * only in qhil's QEMU build: banana-rom (chip id) and qhil-timer, whose
 * interrupt is taken through the PLIC. The CLINT timer bounds the wait.
 * Also the PLIC interrupt handler, which serves the console UART too.
 */
#include <stdint.h>

#include "board.h"
#include "plic.h"
#include "trap.h"

#define MMIO32(addr)        (*(volatile uint32_t *)(uintptr_t)(addr))
#define MMIO64(addr)        (*(volatile uint64_t *)(uintptr_t)(addr))

/* banana-rom: the chip id is the first word. */
#define BANANA_ROM_BASE     0x04000000u

/* qhil-timer: nanosecond countdown, level interrupt on PLIC source 12. */
#define QTIMER_BASE         0x04001000u
#define QTIMER_ID           MMIO32(QTIMER_BASE + 0x00u)
#define QTIMER_CTRL         MMIO32(QTIMER_BASE + 0x04u)
#define QTIMER_STATUS       MMIO32(QTIMER_BASE + 0x08u)
#define QTIMER_LOAD         MMIO32(QTIMER_BASE + 0x0Cu)
#define QTIMER_ID_VALUE     0x51A7E001u
#define CTRL_EN             (1u << 0)
#define CTRL_IRQ_EN         (1u << 1)
#define STATUS_EXPIRED      (1u << 0)   /* write 1 to clear */
#define QTIMER_IRQ          12u

/* CLINT: mtime counts at 10 MHz of QEMU's virtual clock, as the timer does. */
#define CLINT_MTIMECMP0     MMIO64(0x02004000u)
#define CLINT_MTIME         MMIO64(0x0200BFF8u)
#define MTIME_HZ            10000000u
#define NS_PER_MTIME_TICK   100u
#define MTIMECMP_NEVER      UINT64_MAX

/* Set by irq_external() when the timer expired; counts since boot. */
static volatile uint32_t timer_expired;
static volatile unsigned long timer_irqs;

int board_chip_id(uint32_t *id)
{
    return (probe_read32(BANANA_ROM_BASE, id) == 0) ? BOARD_OK
                                                     : BOARD_NO_DEVICE;
}

/*
 * Every claimed source is completed here, so none is left claimed. The
 * console UART (source 10, enabled only while board_getc() waits) needs
 * nothing else: its line stays up until the byte is read, and the
 * interrupt only has to end the wait.
 */
void irq_external(void)
{
    const uint32_t source = PLIC_CLAIM0;

    if (source == 0u) {
        return; /* already claimed: nothing to do */
    }
    /* Count an expiry only once, even if the PLIC reports a stale claim. */
    if (source == QTIMER_IRQ && (QTIMER_STATUS & STATUS_EXPIRED) != 0u) {
        QTIMER_STATUS = STATUS_EXPIRED;     /* lowers the line */
        timer_irqs = timer_irqs + 1u;
        timer_expired = 1u;
    }
    PLIC_CLAIM0 = source;                   /* complete */
}

void irq_mtimer(void)
{
    /* The deadline passed: stop the CLINT interrupt; the wait loop ends. */
    CLINT_MTIMECMP0 = MTIMECMP_NEVER;
}

int board_timer_wait(uint32_t ns, unsigned long *irqs)
{
    uint32_t id = 0;
    uint64_t deadline;

    /* Debian's QEMU has nothing here: the probe faults or reads another id. */
    if (probe_read32(QTIMER_BASE, &id) != 0 || id != QTIMER_ID_VALUE) {
        *irqs = timer_irqs;
        return BOARD_NO_DEVICE;
    }

    /* Start from a stopped timer with no expiry pending. */
    QTIMER_CTRL = 0u;
    QTIMER_STATUS = STATUS_EXPIRED;
    timer_expired = 0u;

    PLIC_PRIORITY(QTIMER_IRQ) = 1u;
    PLIC_THRESHOLD0 = 0u;
    PLIC_ENABLE0 = PLIC_ENABLE0 | (1u << QTIMER_IRQ);

    /* Give up 1 s (virtual time) after the requested expiry. */
    deadline = CLINT_MTIME + ns / NS_PER_MTIME_TICK + MTIME_HZ;
    CLINT_MTIMECMP0 = deadline;
    CSR_SET(mie, MIE_MEIE | MIE_MTIE);

    QTIMER_LOAD = ns;
    QTIMER_CTRL = CTRL_EN | CTRL_IRQ_EN;

    /*
     * mstatus.MIE stays clear while the flag is tested, so the interrupt
     * cannot arrive between the test and wfi and leave wfi asleep (see
     * irq_wait()). The CLINT interrupt at the deadline wakes wfi even if
     * the timer never fires.
     */
    while (timer_expired == 0u && CLINT_MTIME < deadline) {
        irq_wait();
    }

    CSR_CLEAR(mie, MIE_MEIE | MIE_MTIE);
    CLINT_MTIMECMP0 = MTIMECMP_NEVER;
    QTIMER_CTRL = 0u;
    QTIMER_STATUS = STATUS_EXPIRED;
    PLIC_ENABLE0 = PLIC_ENABLE0 & ~(1u << QTIMER_IRQ);

    *irqs = timer_irqs;
    return (timer_expired != 0u) ? BOARD_OK : BOARD_TIMEOUT;
}
