/*
 * trap.h - trap services shared by the RISC-V virt board files: probing
 * an address that may not answer, the interrupt handlers trap.c calls,
 * CSR access helpers and the sleep step of an interrupt wait loop.
 */
#ifndef QHIL_RISCV_TRAP_H
#define QHIL_RISCV_TRAP_H

#include <stdint.h>

/* Machine-mode CSR bits used by the firmware. */
#define MSTATUS_MIE     (1ul << 3)      /* global machine interrupt enable */
#define MIE_MTIE        (1ul << 7)      /* machine timer interrupt (CLINT) */
#define MIE_MEIE        (1ul << 11)     /* machine external interrupt (PLIC) */

/* Set / clear bits of a CSR named by its assembler name, e.g. mie. */
#define CSR_SET(csr, bits) \
    __asm__ volatile("csrs " #csr ", %0" : : "r"(bits) : "memory")
#define CSR_CLEAR(csr, bits) \
    __asm__ volatile("csrc " #csr ", %0" : : "r"(bits) : "memory")

/*
 * One step of a loop that waits for an interrupt. Call it with
 * mstatus.MIE clear, right after testing the condition the loop waits
 * for: an interrupt that arrives after that test stays pending, so wfi
 * returns at once instead of sleeping through it. wfi wakes for any
 * interrupt enabled in mie even while mstatus.MIE is clear; the short
 * window with MIE set then lets the trap handler take it.
 */
static inline void irq_wait(void)
{
    __asm__ volatile("wfi" : : : "memory");
    CSR_SET(mstatus, MSTATUS_MIE);
    CSR_CLEAR(mstatus, MSTATUS_MIE);
}

/*
 * Read the 32-bit word at `addr`. Returns 0 and sets *value, or -1 when
 * the read took an access fault (nothing mapped there); the fault is
 * caught and no "Exception!" is printed.
 */
int probe_read32(uintptr_t addr, uint32_t *value);

/*
 * Machine external interrupt (PLIC): claims and completes the source,
 * whichever it is; defined in devices.c.
 */
void irq_external(void);

/* Machine timer interrupt (CLINT mtimecmp); defined in devices.c. */
void irq_mtimer(void);

#endif /* QHIL_RISCV_TRAP_H */
