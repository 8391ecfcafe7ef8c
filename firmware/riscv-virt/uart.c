/*
 * uart.c - driver for the NS16550A UART0 of the RISC-V virt board, used
 * as the console. QEMU connects it to the first -serial (stdio with
 * -nographic). Output is polled; while waiting for input the hart sleeps
 * in wfi until the UART's receive interrupt (PLIC source 10) wakes it.
 */
#include <stdint.h>

#include "board.h"
#include "plic.h"
#include "trap.h"

#define UART0_BASE      0x10000000u

#define UART_REG(off)   (*(volatile uint8_t *)(uintptr_t)(UART0_BASE + (off)))
#define UART_RBR        UART_REG(0u)    /* receive buffer (read, DLAB=0) */
#define UART_THR        UART_REG(0u)    /* transmit holding (write, DLAB=0) */
#define UART_DLL        UART_REG(0u)    /* divisor low byte (DLAB=1) */
#define UART_IER        UART_REG(1u)    /* interrupt enable (DLAB=0) */
#define UART_DLM        UART_REG(1u)    /* divisor high byte (DLAB=1) */
#define UART_FCR        UART_REG(2u)    /* FIFO control (write) */
#define UART_LCR        UART_REG(3u)    /* line control */
#define UART_MCR        UART_REG(4u)    /* modem control */
#define UART_LSR        UART_REG(5u)    /* line status */

#define LCR_8N1         0x03u
#define LCR_DLAB        0x80u
#define FCR_ENABLE      0x01u
#define FCR_CLEAR_RX    0x02u
#define FCR_CLEAR_TX    0x04u
#define MCR_DTR_RTS     0x03u
#define LSR_DR          0x01u           /* a received byte is waiting */
#define LSR_THRE        0x20u           /* the transmitter can take a byte */
#define IER_RDI         0x01u           /* interrupt: received data available */

/* UART0's PLIC source; its line is up while a received byte waits. */
#define UART0_IRQ       10u

void board_init(void)
{
    UART_IER = 0x00u;                   /* no interrupts while set up */
    UART_LCR = LCR_DLAB;
    UART_DLL = 0x01u;                   /* QEMU ignores the baud rate */
    UART_DLM = 0x00u;
    UART_LCR = LCR_8N1;
    UART_FCR = FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX;
    UART_MCR = MCR_DTR_RTS;
    /* FIFO trigger level 1 (FCR bits 7:6 = 0): a single byte interrupts. */
    UART_IER = IER_RDI;

    /* Ready in the PLIC; board_getc() enables the source while it waits. */
    PLIC_PRIORITY(UART0_IRQ) = 1u;
    PLIC_THRESHOLD0 = 0u;
}

void board_putc(char c)
{
    while ((UART_LSR & LSR_THRE) == 0u) {
        /* wait for room in the transmitter */
    }
    UART_THR = (uint8_t)c;
}

int board_getc(void)
{
    if ((UART_LSR & LSR_DR) == 0u) {
        /*
         * Sleep until a byte arrives. mstatus.MIE is clear while LSR is
         * tested, so the interrupt cannot slip in between the test and
         * wfi (see irq_wait()); irq_external() claims and completes it.
         */
        PLIC_ENABLE0 = PLIC_ENABLE0 | (1u << UART0_IRQ);
        CSR_SET(mie, MIE_MEIE);
        while ((UART_LSR & LSR_DR) == 0u) {
            irq_wait();
        }
        CSR_CLEAR(mie, MIE_MEIE);
        PLIC_ENABLE0 = PLIC_ENABLE0 & ~(1u << UART0_IRQ);
    }
    return (int)UART_RBR;
}
