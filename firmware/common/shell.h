/*
 * shell.h - the line-oriented command shell shared by all boards.
 */
#ifndef QHIL_SHELL_H
#define QHIL_SHELL_H

/* Firmware version printed in the banner and by the `version` command. */
#define QHIL_FW_VERSION "1.0"

/* Longest command line accepted, in characters (without the Enter). */
#define SHELL_LINE_MAX 128u

/*
 * Print the boot banner and the first prompt, then read and run commands
 * from the console forever.
 */
void shell_run(void) __attribute__((noreturn));

#endif /* QHIL_SHELL_H */
