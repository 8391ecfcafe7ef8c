/*
 * uart.c - driver for the CMSDK APB UART0 of the mps2-an385, used as the
 * console. QEMU connects it to the first -serial (stdio with -nographic).
 * Output is polled; while waiting for input the CPU sleeps in wfi until
 * UART0's receive interrupt (NVIC IRQ 0) wakes it.
 */
#include <stdint.h>

#include "board.h"

#define UART0_BASE      0x40004000u

#define UART_DATA       (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE      (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL       (*(volatile uint32_t *)(UART0_BASE + 0x08u))
/* INTSTATUS reads the interrupt status; writing 1s clears (INTCLEAR). */
#define UART_INTSTATUS  (*(volatile uint32_t *)(UART0_BASE + 0x0Cu))
#define UART_BAUDDIV    (*(volatile uint32_t *)(UART0_BASE + 0x10u))

#define STATE_TXFULL    (1u << 0)
#define STATE_RXFULL    (1u << 1)
#define CTRL_TXEN       (1u << 0)
#define CTRL_RXEN       (1u << 1)
#define CTRL_RXIRQEN    (1u << 3)
#define INT_RX          (1u << 1)

/*
 * On the AN385, UART0's receive interrupt is NVIC line 0 (transmit is 1,
 * the ORed overrun interrupts of UARTs 0-2 are 12; neither is enabled).
 */
#define UART0_RX_IRQ    0u
#define NVIC_ISER0      (*(volatile uint32_t *)0xE000E100u)

/* Entered from the vector table in startup.S. */
void UART0_RX_Handler(void);

void board_init(void)
{
    UART_CTRL = 0u;
    /* The divider must be at least 16; QEMU ignores the actual baud rate. */
    UART_BAUDDIV = 16u;
    /* Enable the receiver too, so input is accepted from the first moment. */
    UART_CTRL = CTRL_TXEN | CTRL_RXEN | CTRL_RXIRQEN;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

/*
 * A byte arrived. The interrupt only has to wake board_getc(), which
 * reads the byte, so just clear it (the line stays up until cleared).
 */
void UART0_RX_Handler(void)
{
    UART_INTSTATUS = INT_RX;
    /* Let the write reach the UART before the exception returns. */
    __asm__ volatile("dsb" : : : "memory");
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
    /*
     * Sleep until a byte arrives. PRIMASK is set while STATE is tested,
     * so the interrupt cannot be taken between the test and wfi and leave
     * wfi asleep: it stays pending, and a pending interrupt wakes wfi even
     * while PRIMASK masks it. The short unmasked window after wfi lets
     * UART0_RX_Handler() run.
     */
    __asm__ volatile("cpsid i" : : : "memory");
    while ((UART_STATE & STATE_RXFULL) == 0u) {
        __asm__ volatile("wfi\n\t"
                         "cpsie i\n\t"
                         "isb\n\t"
                         "cpsid i" : : : "memory");
    }
    __asm__ volatile("cpsie i" : : : "memory");
    return (int)(UART_DATA & 0xffu);
}
