/*
 * board.h - the small interface every board port provides to the shared code.
 *
 * Each board folder (mps2-an385/, riscv-virt/) implements these functions;
 * the shell in common/ uses nothing else from the hardware.
 */
#ifndef QHIL_BOARD_H
#define QHIL_BOARD_H

#include <stdint.h>

/* Short board name printed in the banner and by `version`, e.g. "riscv-virt". */
extern const char board_name[];

/* Set up the console UART (transmitter and receiver). Called once at boot. */
void board_init(void);

/* Send one byte on the console UART, waiting while the transmitter is busy. */
void board_putc(char c);

/* Wait for one byte from the console UART and return it (0..255). */
int board_getc(void);

/*
 * Make the CPU take a fault on purpose. The board's fault handler reports it
 * and halts, so this normally never returns.
 */
void board_fault(void);

/*
 * Ask the machine to end the emulator run with exit status `code`.
 * Returns only when the board cannot do that; the return value is then
 * negative.
 */
int board_exit(unsigned int code);

/*
 * Results of the device services below. Only riscv-virt has the devices,
 * and only in qhil's own QEMU build; other boards answer BOARD_NOT_HERE.
 */
enum board_status {
    BOARD_OK = 0,
    BOARD_NOT_HERE = -1,    /* the board has no such device at all */
    BOARD_NO_DEVICE = -2,   /* the device is missing (e.g. Debian's QEMU) */
    BOARD_TIMEOUT = -3,     /* the device did not interrupt in time */
};

/* Read the 32-bit chip id from qhil's banana-rom into *id. */
int board_chip_id(uint32_t *id);

/*
 * Run a one-shot countdown of `ns` nanoseconds on qhil's qhil-timer and
 * wait for its interrupt. *irqs is set to the number of timer interrupts
 * taken since boot (also on a timeout).
 */
int board_timer_wait(uint32_t ns, unsigned long *irqs);

#endif /* QHIL_BOARD_H */
