/*
 * uart.c - polled driver for the CMSDK APB UART0 of the mps2-an385, used as
 * the console. QEMU connects it to the first -serial (stdio with -nographic).
 */
#include <stdint.h>

#include "board.h"

#define UART0_BASE      0x40004000u

#define UART_DATA       (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE      (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL       (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV    (*(volatile uint32_t *)(UART0_BASE + 0x10u))

#define STATE_TXFULL    (1u << 0)
#define STATE_RXFULL    (1u << 1)
#define CTRL_TXEN       (1u << 0)
#define CTRL_RXEN       (1u << 1)

void board_init(void)
{
    UART_CTRL = 0u;
    /* The divider must be at least 16; QEMU ignores the actual baud rate. */
    UART_BAUDDIV = 16u;
    /* Enable the receiver too, so input is accepted from the first moment. */
    UART_CTRL = CTRL_TXEN | CTRL_RXEN;
}

void board_putc(char c)
{
    while ((UART_STATE & STATE_TXFULL) != 0u) {
        /* wait for room in the transmitter */
    }
    UART_DATA = (uint8_t)c;
}

int board_getc(void)
{
    while ((UART_STATE & STATE_RXFULL) == 0u) {
        /* wait for a received byte */
    }
    return (int)(UART_DATA & 0xffu);
}
