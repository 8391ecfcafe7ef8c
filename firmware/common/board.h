/*
 * board.h - the small interface every board port provides to the shared code.
 *
 * Each board folder (mps2-an385/, riscv-virt/) implements these functions;
 * the shell in common/ uses nothing else from the hardware.
 */
#ifndef QHIL_BOARD_H
#define QHIL_BOARD_H

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

#endif /* QHIL_BOARD_H */
