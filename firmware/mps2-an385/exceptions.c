/*
 * exceptions.c - exception handlers of the mps2-an385 (Cortex-M3) firmware.
 *
 * Faults print their name and the stacked PC and CFSR on the console, then
 * halt. The NMI handler prints a note and returns, so the shell keeps
 * running. A semihosting breakpoint taken while QEMU has semihosting
 * switched off is stepped over, so board_exit() can report "not supported".
 */
#include <stdint.h>

#include "print.h"

/* System Control Block fault status registers. */
#define SCB_CFSR        (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR        (*(volatile uint32_t *)0xE000ED2Cu)
#define HFSR_DEBUGEVT   (1u << 31)

/* Order of the registers in the frame the CPU stacks on exception entry. */
enum frame_slot { FRAME_R0 = 0, FRAME_PC = 6 };

/* Thumb encoding of "bkpt 0xab", the semihosting call instruction. */
#define SEMIHOST_BKPT   0xBEABu

/* The C parts of the fault entry stubs in startup.S. */
void hardfault_report(uint32_t *frame);
void memmanage_report(uint32_t *frame);
void busfault_report(uint32_t *frame);
void usagefault_report(uint32_t *frame);
void debugmon_report(uint32_t *frame);

/* Handlers entered straight from the vector table. */
void NMI_Handler(void);
void Default_Handler(void);

static void halt(void) __attribute__((noreturn));
static void halt(void)
{
    for (;;) {
        __asm__ volatile("wfi");
    }
}

/*
 * If the exception was raised by a semihosting "bkpt 0xab" (QEMU without
 * semihosting enabled), make the call return -1 and resume after it.
 */
static int skip_semihost_bkpt(uint32_t *frame)
{
    const volatile uint16_t *insn = (const volatile uint16_t *)frame[FRAME_PC];

    if (*insn != SEMIHOST_BKPT) {
        return 0;
    }
    frame[FRAME_R0] = 0xFFFFFFFFu;
    frame[FRAME_PC] += 2u;
    return 1;
}

/* Print "<name>!" and "PC=0x........ CFSR=0x........", then stop for good. */
static void report_and_halt(const char *name, const uint32_t *frame)
{
    put_fresh_line();
    put_str(name);
    put_line("!");
    put_str("PC=");
    put_hex(frame[FRAME_PC], 8u);
    put_str(" CFSR=");
    put_hex(SCB_CFSR, 8u);
    put_newline();
    halt();
}

void hardfault_report(uint32_t *frame)
{
    if (skip_semihost_bkpt(frame)) {
        SCB_HFSR = HFSR_DEBUGEVT; /* write one to clear */
        return;
    }
    report_and_halt("HardFault", frame);
}

void memmanage_report(uint32_t *frame)
{
    report_and_halt("MemManage", frame);
}

void busfault_report(uint32_t *frame)
{
    report_and_halt("BusFault", frame);
}

void usagefault_report(uint32_t *frame)
{
    report_and_halt("UsageFault", frame);
}

void debugmon_report(uint32_t *frame)
{
    if (skip_semihost_bkpt(frame)) {
        return;
    }
    report_and_halt("DebugMon", frame);
}

/*
 * The CPU saves r0-r3, r12, lr, pc and xPSR itself, so an ordinary C
 * function can be an exception handler and return normally.
 */
void NMI_Handler(void)
{
    put_fresh_line();
    put_line("NMI!");
}

/* Any exception the firmware does not expect: print its number and halt. */
void Default_Handler(void)
{
    uint32_t ipsr;

    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    put_fresh_line();
    put_str("Exception ");
    put_udec(ipsr & 0x1ffu);
    put_line("!");
    halt();
}
