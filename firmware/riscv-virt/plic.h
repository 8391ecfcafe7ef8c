/*
 * plic.h - the registers of the virt board's PLIC that the firmware uses:
 * the source priorities and, for context 0 (hart 0, machine mode), the
 * enable word of sources 0-31, the priority threshold and claim/complete.
 * The sources used are UART0 (10, uart.c) and qhil-timer (12, devices.c).
 */
#ifndef QHIL_RISCV_PLIC_H
#define QHIL_RISCV_PLIC_H

#include <stdint.h>

#define PLIC_BASE           0x0C000000u
#define PLIC_REG(off)   (*(volatile uint32_t *)(uintptr_t)(PLIC_BASE + (off)))
#define PLIC_PRIORITY(src)  PLIC_REG(4u * (src))
#define PLIC_ENABLE0        PLIC_REG(0x2000u)      /* sources 0-31 */
#define PLIC_THRESHOLD0     PLIC_REG(0x200000u)
#define PLIC_CLAIM0         PLIC_REG(0x200004u)    /* also complete */

#endif /* QHIL_RISCV_PLIC_H */
