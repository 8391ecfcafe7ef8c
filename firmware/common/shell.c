/*
 * shell.c - the interactive command shell shared by all boards.
 *
 * Reads bytes from the console, echoes them like a terminal, edits the line
 * (backspace), and runs the command on Enter. The output strings here are
 * relied on by tests, so change them only together with the tests.
 */
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "print.h"
#include "shell.h"

/* A command: its name, a one-line help text and the function that runs it. */
struct command {
    const char *name;
    const char *usage;
    const char *help;
    void (*run)(const char *args);
};

/* Number of `count` calls since boot; zeroed by the startup code on reset. */
static volatile unsigned long count_calls;

/* Print "qhil example firmware <board> <version>" (no line ending). */
static void put_version(void)
{
    put_str("qhil example firmware ");
    put_str(board_name);
    put_str(" " QHIL_FW_VERSION);
}

static void cmd_echo(const char *args)
{
    put_line(args);
}

static void cmd_version(const char *args)
{
    (void)args;
    put_version();
    put_newline();
}

static void cmd_count(const char *args)
{
    (void)args;
    count_calls = count_calls + 1u;
    put_str("count=");
    put_udec(count_calls);
    put_newline();
}

static void cmd_fault(const char *args)
{
    (void)args;
    board_fault();
    /* Only reached if the hardware did not fault. */
    put_line("error: fault did not trigger");
}

/* Parse a decimal exit code in 0..255; returns -1 when `s` is not one. */
static int parse_exit_code(const char *s)
{
    int value = 0;

    if (*s == '\0') {
        return 0; /* plain "exit" means success */
    }
    while (*s >= '0' && *s <= '9') {
        value = value * 10 + (*s - '0');
        if (value > 255) {
            return -1;
        }
        s++;
    }
    while (*s == ' ') {
        s++;
    }
    return (*s == '\0') ? value : -1;
}

static void cmd_exit(const char *args)
{
    int code = parse_exit_code(args);

    if (code < 0) {
        put_line("error: usage: exit <0-255>");
        return;
    }
    if (board_exit((unsigned int)code) < 0) {
        put_line("error: exit not supported");
    }
}

/* Print the message for a board_status that is not BOARD_OK. */
static void put_device_error(int status, const char *missing)
{
    if (status == BOARD_NOT_HERE) {
        put_line("error: not on this board");
    } else if (status == BOARD_TIMEOUT) {
        put_line("error: no timer interrupt");
    } else {
        put_str("error: no ");
        put_line(missing);
    }
}

/*
 * chipid and timer use qhil's own devices, which only riscv-virt has (at
 * the addresses named in the messages), and only in qhil's QEMU build.
 */
static void cmd_chipid(const char *args)
{
    uint32_t id = 0;
    int status = board_chip_id(&id);

    (void)args;
    if (status != BOARD_OK) {
        put_device_error(status, "banana-rom at 0x4000000");
        return;
    }
    put_str("chip id ");
    put_hex_upper(id, 8u);
    put_newline();
}

/*
 * Parse a decimal number in 0..0xFFFFFFFF, at least one digit, trailing
 * spaces allowed. Returns 0 and sets *value, or -1 when `s` is not one.
 */
static int parse_u32(const char *s, uint32_t *value)
{
    uint64_t n = 0;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    while (*s >= '0' && *s <= '9') {
        n = n * 10u + (uint64_t)(*s - '0');
        if (n > 0xFFFFFFFFu) {
            return -1;
        }
        s++;
    }
    while (*s == ' ') {
        s++;
    }
    if (*s != '\0') {
        return -1;
    }
    *value = (uint32_t)n;
    return 0;
}

static void cmd_timer(const char *args)
{
    uint32_t ns;
    unsigned long irqs = 0;
    int status;

    if (parse_u32(args, &ns) < 0) {
        put_line("error: usage: timer <0-4294967295>");
        return;
    }
    status = board_timer_wait(ns, &irqs);
    if (status != BOARD_OK) {
        put_device_error(status, "qhil-timer at 0x4001000");
        return;
    }
    put_str("timer irq after ");
    put_udec(ns);
    put_line(" ns");
    put_str("timer irqs=");
    put_udec(irqs);
    put_newline();
}

static void cmd_help(const char *args);

static const struct command commands[] = {
    { "echo", "echo <text>", "print <text>", cmd_echo },
    { "version", "version", "print the firmware name and version", cmd_version },
    { "count", "count", "print count=N, N counting calls from 1", cmd_count },
    { "fault", "fault", "make the CPU fault on purpose (halts)", cmd_fault },
    { "exit", "exit <code>", "end the emulator with exit status <code>", cmd_exit },
    { "chipid", "chipid", "print the banana-rom chip id (riscv-virt)", cmd_chipid },
    { "timer", "timer <ns>", "wait for a qhil-timer interrupt (riscv-virt)", cmd_timer },
    { "help", "help", "list the commands", cmd_help },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void cmd_help(const char *args)
{
    (void)args;
    put_line("commands:");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        /* Pad the usage column to 14 characters so the help texts line up. */
        const char *usage = commands[i].usage;
        size_t width = 0;

        put_str("  ");
        put_str(usage);
        while (usage[width] != '\0') {
            width++;
        }
        while (width++ < 14u) {
            put_char(' ');
        }
        put_line(commands[i].help);
    }
}

/* True when the first `len` characters of `word` are exactly `name`. */
static int word_is(const char *word, size_t len, const char *name)
{
    size_t i = 0;

    while (i < len && name[i] != '\0' && name[i] == word[i]) {
        i++;
    }
    return i == len && name[i] == '\0';
}

/* Split a complete, NUL-terminated line into command and arguments; run it. */
static void run_line(const char *line)
{
    const char *name;
    const char *args;
    size_t len = 0;

    while (*line == ' ') {
        line++;
    }
    if (*line == '\0') {
        return; /* empty line: just a new prompt */
    }

    name = line;
    while (name[len] != '\0' && name[len] != ' ') {
        len++;
    }
    args = name + len;
    while (*args == ' ') {
        args++;
    }

    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (word_is(name, len, commands[i].name)) {
            commands[i].run(args);
            return;
        }
    }

    put_str("error: unknown command '");
    for (size_t i = 0; i < len; i++) {
        put_char(name[i]);
    }
    put_line("'");
}

void shell_run(void)
{
    char line[SHELL_LINE_MAX + 1u];
    /*
     * Characters typed on the current line. It may grow past SHELL_LINE_MAX;
     * only the first SHELL_LINE_MAX are stored and such a line is rejected.
     */
    size_t typed = 0;
    int last_was_cr = 0;

    put_line("Hello, QEMU!");
    put_version();
    put_newline();
    put_str("> ");

    for (;;) {
        int c = board_getc();

        /* "\r\n" is one Enter: drop a '\n' that directly follows a '\r'. */
        if (c == '\n' && last_was_cr) {
            last_was_cr = 0;
            continue;
        }
        last_was_cr = (c == '\r');

        if (c == '\r' || c == '\n') {
            put_newline();
            if (typed > SHELL_LINE_MAX) {
                put_line("error: line too long");
            } else {
                line[typed] = '\0';
                run_line(line);
            }
            typed = 0;
            put_str("> ");
        } else if (c == 0x08 || c == 0x7f) {
            /* Backspace or DEL: erase the last character on screen too. */
            if (typed > 0u) {
                typed--;
                put_str("\b \b");
            }
        } else if (c >= 0x20 && c < 0x7f) {
            if (typed < SHELL_LINE_MAX) {
                line[typed] = (char)c;
            }
            if (typed < (size_t)-1) {
                typed++;
            }
            put_char((char)c);
        }
        /* Other control bytes are ignored. */
    }
}
