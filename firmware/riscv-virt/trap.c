/*
 * trap.c - machine-mode trap reporting for the RISC-V virt firmware:
 * prints "Exception! mcause=0x... mepc=0x... mtval=0x..." and halts.
 */
#include "print.h"

/* Called from trap_entry in startup.S with the trap CSRs. */
void trap_report(unsigned long mcause, unsigned long mepc, unsigned long mtval)
    __attribute__((noreturn));

void trap_report(unsigned long mcause, unsigned long mepc, unsigned long mtval)
{
    const unsigned int digits = (unsigned int)(sizeof(unsigned long) * 2u);

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
