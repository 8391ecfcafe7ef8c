/*
 * board.c - board-specific shell services for the RISC-V virt board:
 * the board name, the deliberate fault and the exit command (sifive_test).
 */
#include <stdint.h>

#include "board.h"

const char board_name[] = "riscv-virt";

/* The sifive_test device: a write here ends QEMU. */
#define SIFIVE_TEST_ADDR    0x100000u
#define SIFIVE_TEST_PASS    0x5555u     /* exit status 0 */
#define SIFIVE_TEST_FAIL    0x3333u     /* exit status in bits 31:16 */

void board_fault(void)
{
    /*
     * Nothing is mapped at address 0 on virt, so this load takes a load
     * access fault (mcause 5). Written in assembly so the compiler cannot
     * treat it as a null-pointer dereference and drop or rewrite it.
     */
    __asm__ volatile("lw t0, 0(zero)" ::: "t0", "memory");
}

int board_exit(unsigned int code)
{
    volatile uint32_t *finisher = (volatile uint32_t *)(uintptr_t)SIFIVE_TEST_ADDR;

    *finisher = (code == 0u) ? SIFIVE_TEST_PASS
                             : (SIFIVE_TEST_FAIL | ((uint32_t)code << 16));
    /* QEMU has stopped by now; if not, say so. */
    return -1;
}
