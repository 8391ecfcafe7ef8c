/*
 * board.c - board-specific shell services for the mps2-an385 (Cortex-M3):
 * the board name, the deliberate fault and the exit command (semihosting).
 * qhil's devices (banana-rom, qhil-timer) are not wired on this board.
 */
#include <stdint.h>

#include "board.h"

const char board_name[] = "mps2-an385";

/* Nothing answers at this address: a store there is a bus error. */
#define NO_DEVICE_ADDR  0xF0000000u

/* Semihosting operation numbers and reason codes (Arm semihosting v2). */
#define SYS_EXIT_EXTENDED               0x20u
#define ADP_STOPPED_APPLICATION_EXIT    0x20026u

void board_fault(void)
{
    /*
     * BusFault is not enabled in SHCSR, so the bus error escalates to
     * HardFault, whose handler reports it and halts.
     */
    *(volatile uint32_t *)NO_DEVICE_ADDR = 0xDEADBEEFu;
}

/* Issue semihosting call `op` with parameter `arg`; returns the result r0. */
static uint32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int board_exit(unsigned int code)
{
    /*
     * SYS_EXIT_EXTENDED carries an exit status on 32-bit Arm; QEMU only
     * acts on it when started with
     * -semihosting-config enable=on,target=native.
     * Without that, the breakpoint is stepped over by the exception
     * handlers and we return.
     */
    const uint32_t block[2] = { ADP_STOPPED_APPLICATION_EXIT, code };

    (void)semihost_call(SYS_EXIT_EXTENDED, block);
    return -1;
}

int board_chip_id(uint32_t *id)
{
    (void)id;
    return BOARD_NOT_HERE;
}

int board_timer_wait(uint32_t ns, unsigned long *irqs)
{
    (void)ns;
    (void)irqs;
    return BOARD_NOT_HERE;
}
