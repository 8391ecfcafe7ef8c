/*
 * main.c - C entry point called by each board's startup code once the
 * stack, .data and .bss are ready: bring up the console, then run the shell.
 */
#include "board.h"
#include "shell.h"

int main(void);

int main(void)
{
    /* The UART receiver is enabled here, before anything is printed. */
    board_init();
    shell_run();
}
