/*
 * cmd_render.c - `qhil render SUITE.yaml`: the QEMU command line a suite
 * runs with, every argument labelled with why it is there and where its
 * value came from.  Nothing is started.
 *
 * The command line comes from the job layer (qhil_job_from_suite), the
 * same call qhil run makes, so what is printed is what runs.  Labels:
 * mandatory (the device type), substituted (an image slot or variable
 * filled in), specific (the suite's own context) and harness (qhil's
 * wiring for QMP, the console and QTest).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

static void render_usage(FILE *f)
{
    fprintf(f,
            "usage: qhil render [options] SUITE.yaml\n"
            "\n"
            "Print the QEMU command line of the suite's board with the suite's\n"
            "values, each argument labelled mandatory, substituted, specific or\n"
            "harness, with the file and line it came from.  Starts nothing.\n"
            "\n"
            "  -c, --command      print only the command line, shell-quoted\n"
            "  -B, --boards DIR   look for board templates in DIR first "
            "(repeatable)\n"
            "  -Q, --qemu-dir DIR look for QEMU binaries in DIR before PATH "
            "(repeatable)\n"
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 printed, 2 the command line, the suite or the "
            "board is wrong.\n");
}

/* arg as a shell word: bare when it is plainly safe, else in single
 * quotes with ' written as '\''. */
static void put_shell_word(FILE *f, const char *arg)
{
    const char *p;
    bool plain = *arg != '\0';

    for (p = arg; *p && plain; p++) {
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_-+=/.,:@%",
                       *p) != NULL;
    }
    if (plain) {
        fputs(arg, f);
        return;
    }
    fputc('\'', f);
    for (p = arg; *p; p++) {
        if (*p == '\'') {
            fputs("'\\''", f);
        } else {
            fputc(*p, f);
        }
    }
    fputc('\'', f);
}

static void put_command(FILE *f, const qhil_job *job)
{
    size_t i;

    for (i = 0; i < qhil_job_nargs(job); i++) {
        if (i) {
            fputc(' ', f);
        }
        put_shell_word(f, qhil_job_arg(job, i));
    }
    fputc('\n', f);
}

/* Per-test -trace patterns are added to the command line of that test
 * only (qhil run's test argv): list them, so nothing runs unseen. */
static void put_test_traces(FILE *f, const qhil_suite *suite)
{
    size_t i;
    size_t j;

    for (i = 0; i < suite->n_tests; i++) {
        const qhil_test *t = &suite->tests[i];

        for (j = 0; j < t->n_trace; j++) {
            fprintf(f, "test %s adds: -trace ", t->name);
            put_shell_word(f, t->trace[j]);
            fputc('\n', f);
        }
    }
}

int cmd_render(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"command", no_argument, NULL, 'c'},
        {"boards", required_argument, NULL, 'B'},
        {"qemu-dir", required_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char **extra_boards = NULL;
    size_t n_extra = 0;
    char **extra_qemu = NULL;
    size_t n_qemu = 0;
    char **board_dirs = NULL;
    char **qemu_dirs = NULL;
    bool command_only = false;
    qhil_suite *suite = NULL;
    qhil_job *job = NULL;
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    int opt;
    int rc;

    qhil_error_init(&e);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "cB:Q:h", longopts, NULL)) != -1) {
        char ***list = NULL;
        size_t *n = NULL;

        switch (opt) {
        case 'c':
            command_only = true;
            break;
        case 'B':
            list = &extra_boards;
            n = &n_extra;
            break;
        case 'Q':
            list = &extra_qemu;
            n = &n_qemu;
            break;
        case 'h':
            render_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            render_usage(stderr);
            goto cleanup;
        }
        if (list && cli_list_add(list, n, optarg) < 0) {
            fprintf(stderr, "qhil: out of memory\n");
            goto cleanup;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc
                            ? "qhil render: no suite file given\n"
                            : "qhil render: give exactly one suite file\n");
        render_usage(stderr);
        goto cleanup;
    }
    board_dirs = cli_board_dirs(extra_boards, n_extra);
    qemu_dirs = cli_qemu_dirs(extra_qemu, n_qemu);
    if (!board_dirs || !qemu_dirs) {
        fprintf(stderr, "qhil: out of memory\n");
        goto cleanup;
    }
    rc = qhil_suite_load(argv[optind], &suite, &e);
    if (rc == QHIL_EOK) {
        rc = qhil_job_from_suite(suite, (const char *const *)board_dirs,
                                 (const char *const *)qemu_dirs, &job, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
        goto cleanup;
    }
    if (command_only) {
        put_command(stdout, job);
    } else {
        size_t i;

        printf("suite %s (%s), board %s\n", suite->name, suite->path,
               suite->device_type);
        printf("%3s  %-11s  %-40s  %s\n", "#", "kind", "from", "argument");
        for (i = 0; i < qhil_job_nargs(job); i++) {
            printf("%3zu  %-11s  %-40s  ", i,
                   qhil_arg_kind_name(qhil_job_arg_kind(job, i)),
                   qhil_job_arg_source(job, i));
            put_shell_word(stdout, qhil_job_arg(job, i));
            putchar('\n');
        }
        put_test_traces(stdout, suite);
        printf("command line:\n");
        put_command(stdout, job);
    }
    status = QHIL_EXIT_OK;

cleanup:
    qhil_job_free(job);
    qhil_suite_free(suite);
    qhil_argv_free(board_dirs);
    qhil_argv_free(qemu_dirs);
    free(extra_boards);
    free(extra_qemu);
    qhil_error_release(&e);
    return status;
}
