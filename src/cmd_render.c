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
            "Print what the job layer decided for the suite (trust, "
            "accelerator,\n"
            "sandbox) and the QEMU command line of its board with its "
            "values, each\n"
            "argument labelled mandatory, substituted, specific or harness, "
            "with\n"
            "the file and line it came from.  Starts no machine.\n"
            "\n"
            "  -c, --command      print only the command line, shell-quoted\n"
            CLI_JOB_HELP
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
        CLI_JOB_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_job cj = {0};
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
        int mine = cli_job_option(&cj, opt, optarg);

        if (mine < 0) {
            goto cleanup;
        }
        if (mine) {
            continue;
        }
        switch (opt) {
        case 'c':
            command_only = true;
            break;
        case 'h':
            render_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            render_usage(stderr);
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
    if (cli_job_ready(&cj, "render") < 0) {
        goto cleanup;
    }
    rc = cli_job_suite(&cj, argv[optind], true, &suite, &job, &e);
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
        goto cleanup;
    }
    if (command_only) {
        put_command(stdout, job);
    } else {
        const char *const *notes = qhil_job_notes(job);
        size_t i;

        printf("suite %s (%s), board %s\n", suite->name, suite->path,
               suite->device_type);
        for (i = 0; notes[i]; i++) {
            printf("  %s\n", notes[i]);
        }
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
    cli_job_release(&cj);
    qhil_error_release(&e);
    return status;
}
