/*
 * print.c - console output helpers (string, decimal, hex) for the shell
 * and the fault handlers. Board-independent; uses only board_putc().
 */
#include "print.h"
#include "board.h"

/* Last character sent; the console starts out on a fresh line. */
static volatile char last_sent = '\n';

void put_char(char c)
{
    board_putc(c);
    last_sent = c;
}

void put_str(const char *s)
{
    while (*s != '\0') {
        put_char(*s++);
    }
}

void put_newline(void)
{
    put_char('\r');
    put_char('\n');
}

void put_fresh_line(void)
{
    if (last_sent != '\n') {
        put_newline();
    }
}

void put_line(const char *s)
{
    put_str(s);
    put_newline();
}

void put_udec(unsigned long value)
{
    /* Enough room for the decimal digits of a 64-bit value. */
    char digits[20];
    unsigned int n = 0;

    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);

    while (n > 0u) {
        put_char(digits[--n]);
    }
}

/* Print "0x" and the lowest `digits` digits of `value` from `hex`. */
static void put_hex_digits(unsigned long value, unsigned int digits,
                           const char *hex)
{
    const unsigned int max_digits = (unsigned int)(sizeof(value) * 2u);

    if (digits > max_digits) {
        digits = max_digits;
    }
    put_char('0');
    put_char('x');
    while (digits > 0u) {
        digits--;
        put_char(hex[(value >> (digits * 4u)) & 0xfu]);
    }
}

void put_hex(unsigned long value, unsigned int digits)
{
    put_hex_digits(value, digits, "0123456789abcdef");
}

void put_hex_upper(unsigned long value, unsigned int digits)
{
    put_hex_digits(value, digits, "0123456789ABCDEF");
}
