/*
 * print.h - tiny console output helpers built on board_putc().
 *
 * No printf: just strings, unsigned decimal and fixed-width hex, which is
 * all the shell and the fault handlers need.
 */
#ifndef QHIL_PRINT_H
#define QHIL_PRINT_H

/* Print one character. */
void put_char(char c);

/* Print a NUL-terminated string as is. */
void put_str(const char *s);

/* Print a line ending ("\r\n"). */
void put_newline(void);

/*
 * Print "\r\n" unless the last character printed already ended a line.
 * Exception handlers use it so their report starts on a line of its own.
 */
void put_fresh_line(void);

/* Print a string followed by "\r\n". */
void put_line(const char *s);

/* Print an unsigned number in decimal, without padding. */
void put_udec(unsigned long value);

/*
 * Print "0x" and the lowest `digits` hex digits of `value` (lower case,
 * zero-padded). `digits` is clamped to the width of unsigned long.
 */
void put_hex(unsigned long value, unsigned int digits);

/* Like put_hex(), with upper-case digits (the "0x" stays lower case). */
void put_hex_upper(unsigned long value, unsigned int digits);

#endif /* QHIL_PRINT_H */
