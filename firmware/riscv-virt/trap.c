/*
 * trap.c - machine-mode trap handling for the RISC-V virt firmware.
 * Interrupts go to the handlers in devices.c, an access fault during
 * probe_read32() is noted and skipped, and every other trap prints
 * "Exception! mcause=0x... mepc=0x... mtval=0x..." and halts.
 */
#include <stdint.h>

#include "print.h"
#include "trap.h"

/* mcause: the top bit marks an interrupt, the rest is the cause code. */
#define MCAUSE_INTERRUPT    (1ul << (sizeof(unsigned long) * 8u - 1u))
#define IRQ_M_TIMER         7ul
#define IRQ_M_EXTERNAL      11ul
#define EXC_LOAD_ACCESS     5ul

/*
 * Non-zero while probe_read32() runs; trap_entry in startup.S reads it
 * to send the exception to trap_handle() instead of trap_report().
 */
volatile uint32_t trap_probe_armed;

/* Set by trap_handle() when the armed probe faulted. */
static volatile uint32_t probe_faulted;

/* Called from trap_entry in startup.S with the trap CSRs. */
void trap_report(unsigned long mcause, unsigned long mepc, unsigned long mtval)
    __attribute__((noreturn));
unsigned long trap_handle(unsigned long mcause, unsigned long mepc,
                          unsigned long mtval);

int probe_read32(uintptr_t addr, uint32_t *value)
{
    uint32_t word = 0;

    probe_faulted = 0u;
    trap_probe_armed = 1u;
    /* On a fault the load is skipped and `word` keeps its 0. */
    __asm__ volatile("lw %0, 0(%1)" : "+r"(word) : "r"(addr) : "memory");
    trap_probe_armed = 0u;

    if (probe_faulted != 0u) {
        return -1;
    }
    *value = word;
    return 0;
}

/*
 * Handle a trap that can return; the result is the address to resume at.
 * Anything not expected here is reported like any other trap.
 */
unsigned long trap_handle(unsigned long mcause, unsigned long mepc,
                          unsigned long mtval)
{
    if (mcause == (MCAUSE_INTERRUPT | IRQ_M_EXTERNAL)) {
        irq_external();
        return mepc;
    }
    if (mcause == (MCAUSE_INTERRUPT | IRQ_M_TIMER)) {
        irq_mtimer();
        return mepc;
    }
    if (mcause == EXC_LOAD_ACCESS && trap_probe_armed != 0u) {
        /* Skip the load: 2 bytes if compressed, else 4 (low bits 11). */
        const uint16_t insn = *(const volatile uint16_t *)mepc;

        probe_faulted = 1u;
        return mepc + (((insn & 3u) == 3u) ? 4u : 2u);
    }
    trap_report(mcause, mepc, mtval);
}

void trap_report(unsigned long mcause, unsigned long mepc, unsigned long mtval)
{
    const unsigned int digits = (unsigned int)(sizeof(unsigned long) * 2u);

    /* Stop interrupts too: the hart stays parked in the loop below. */
    CSR_CLEAR(mstatus, MSTATUS_MIE);
    CSR_CLEAR(mie, MIE_MTIE | MIE_MEIE);

    put_fresh_line();
    put_str("Exception! mcause=");
    put_hex(mcause, digits);
    put_str(" mepc=");
    put_hex(mepc, digits);
    put_str(" mtval=");
    put_hex(mtval, digits);
    put_newline();

    /* Halt: no interrupts are enabled, so wfi just parks the hart. */
    for (;;) {
        __asm__ volatile("wfi");
    }
}
