/*
 * cmd_run.c - `qhil run SUITE.yaml`: run a suite, print verdicts, write
 * JUnit/TAP, exit 0 (all passed), 1 (a test failed) or 2 (bad input).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

typedef struct run_cli {
    FILE *out;       /* human-readable progress (stdout, or stderr with
                        TAP on stdout) */
    bool color;
    bool quiet;
    bool header_done;
    const qhil_suite *suite;
    size_t n_selected;
} run_cli;

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: qhil run [options] SUITE.yaml\n"
            "\n"
            "Boot the suite's board in QEMU once per test and run its "
            "steps.\n"
            "\n"
            "  -o, --output DIR   logs go to DIR/<run-id>/<test>/, "
            "DIR/latest is the\n"
            "                     newest run (default "
            "qhil-results/<suite>)\n"
            "      --junit FILE   write a JUnit XML report\n"
            "      --tap[=FILE]   write a TAP report (to stdout when no "
            "FILE;\n"
            "                     progress then goes to stderr)\n"
            "  -t, --test NAME    run only this test (repeatable)\n"
            "  -B, --boards DIR   look for board templates in DIR first "
            "(repeatable)\n"
            "  -Q, --qemu-dir DIR look for QEMU binaries in DIR before "
            "PATH (repeatable)\n"
            "  -q, --quiet        print only failures and the summary\n"
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 all tests passed, 1 a test failed or had an "
            "error,\n"
            "2 the command line or the suite is wrong.\n");
}

static const char *verdict_label(const run_cli *c, qhil_verdict v)
{
    static const char *const plain[] = {"PASS ", "FAIL ", "ERROR", "SKIP "};
    static const char *const colored[] = {
        "\033[32mPASS \033[0m", "\033[31mFAIL \033[0m",
        "\033[31;1mERROR\033[0m", "\033[33mSKIP \033[0m"};

    return c->color ? colored[v] : plain[v];
}

/* The header goes out with the first test, once the run has really
 * started: a board problem is then reported alone. */
static void on_test_started(void *data, const qhil_test *test)
{
    run_cli *c = data;

    (void)test;
    if (c->header_done || c->quiet) {
        return;
    }
    c->header_done = true;
    fprintf(c->out, "qhil: suite %s (%s), board %s, %zu test%s\n",
            c->suite->name, c->suite->path, c->suite->device_type,
            c->n_selected, c->n_selected == 1 ? "" : "s");
    fflush(c->out);
}

static void on_test_done(void *data, const qhil_test *test,
                         const qhil_test_result *r)
{
    run_cli *c = data;
    const char *p;

    (void)test;
    if (c->quiet && r->verdict == QHIL_PASS) {
        return;
    }
    fprintf(c->out, "%s  %s (%.2fs)\n", verdict_label(c, r->verdict),
            r->name, (double)r->duration_ns / 1e9);
    if (r->verdict == QHIL_PASS || r->verdict == QHIL_SKIP) {
        fflush(c->out);
        return;
    }
    if (r->step) {
        fprintf(c->out, "       step %zu (line %d): %s\n", r->step,
                r->step_line, r->step_desc ? r->step_desc : "");
    }
    fprintf(c->out, "       %s\n", r->message ? r->message : "failed");
    if (r->console_tail && *r->console_tail) {
        fprintf(c->out, "       last console lines:\n       | ");
        for (p = r->console_tail; *p; p++) {
            fputc(*p, c->out);
            if (*p == '\n' && p[1]) {
                fputs("       | ", c->out);
            }
        }
        if (p[-1] != '\n') {
            fputc('\n', c->out);
        }
    }
    if (r->console_log && r->qemu_log) {
        fprintf(c->out, "       logs: %s, %s\n", r->console_log,
                r->qemu_log);
    }
    fflush(c->out);
}

/* Report files are opened before the run: a path that cannot be written
 * is refused before any QEMU starts. */
static int open_report(const char *option, const char *path,
                       qhil_report_file **f)
{
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_report_file_open(path, f, &e);
    if (rc < 0) {
        fprintf(stderr, "qhil: %s: %s; nothing was run\n", option,
                qhil_error_message(&e, rc));
    }
    qhil_error_release(&e);
    return rc;
}

/* To f, or to stdout when f is NULL. */
static int write_report(const qhil_suite_result *res, qhil_report_format fmt,
                        qhil_report_file *f)
{
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    if (!f) {
        rc = qhil_report_write(res, fmt, stdout, &e);
    } else {
        rc = qhil_report_file_commit(f, res, fmt, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
    }
    qhil_error_release(&e);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"junit", required_argument, NULL, 'J'},
        {"tap", optional_argument, NULL, 'T'},
        {"test", required_argument, NULL, 't'},
        {"boards", required_argument, NULL, 'B'},
        {"qemu-dir", required_argument, NULL, 'Q'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    run_cli cli = {.out = stdout};
    const char *out_dir = NULL;
    const char *junit = NULL;
    const char *tap = NULL;
    bool tap_stdout = false;
    char **only = NULL;
    size_t n_only = 0;
    char **extra_boards = NULL;
    size_t n_extra = 0;
    char **board_dirs = NULL;
    char **extra_qemu = NULL;
    size_t n_qemu = 0;
    char **qemu_dirs = NULL;
    char *default_out = NULL;
    char *suite_dir = NULL;
    qhil_report_file *junit_file = NULL;
    qhil_report_file *tap_file = NULL;
    qhil_suite *suite = NULL;
    qhil_suite_result *res = NULL;
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    int opt;
    int rc;

    qhil_error_init(&e);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:t:B:Q:qh", longopts, NULL)) !=
           -1) {
        char ***list = NULL;
        size_t *n = NULL;

        switch (opt) {
        case 'o':
            out_dir = optarg;
            break;
        case 'J':
            junit = optarg;
            break;
        case 'T':
            if (optarg) {
                tap = optarg;
            } else {
                tap_stdout = true;
            }
            break;
        case 't':
            list = &only;
            n = &n_only;
            break;
        case 'B':
            list = &extra_boards;
            n = &n_extra;
            break;
        case 'Q':
            list = &extra_qemu;
            n = &n_qemu;
            break;
        case 'q':
            cli.quiet = true;
            break;
        case 'h':
            run_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            run_usage(stderr);
            goto cleanup;
        }
        if (list) {
            char **v = realloc(*list, (*n + 2) * sizeof(*v));

            if (!v) {
                fprintf(stderr, "qhil: out of memory\n");
                goto cleanup;
            }
            v[(*n)++] = optarg;
            v[*n] = NULL;
            *list = v;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc
                            ? "qhil run: no suite file given\n"
                            : "qhil run: give exactly one suite file\n");
        run_usage(stderr);
        goto cleanup;
    }
    if (tap_stdout) {
        cli.out = stderr;
    }
    cli.color = isatty(fileno(cli.out)) && !getenv("NO_COLOR");

    rc = qhil_suite_load(argv[optind], &suite, &e);
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
        goto cleanup;
    }
    board_dirs = cli_board_dirs(extra_boards, n_extra);
    qemu_dirs = cli_qemu_dirs(extra_qemu, n_qemu);
    if (!board_dirs || !qemu_dirs) {
        fprintf(stderr, "qhil: out of memory\n");
        goto cleanup;
    }
    if (!out_dir) {
        /* The suite name is input: one safe folder name. */
        if (qhil_runpath_name(suite->name, &suite_dir) < 0 ||
            asprintf(&default_out, "qhil-results/%s", suite_dir) < 0) {
            default_out = NULL;
            fprintf(stderr, "qhil: out of memory\n");
            goto cleanup;
        }
        out_dir = default_out;
    }
    if ((junit && open_report("--junit", junit, &junit_file) < 0) ||
        (tap && open_report("--tap", tap, &tap_file) < 0)) {
        goto cleanup;
    }
    cli.suite = suite;
    cli.n_selected = only ? n_only : suite->n_tests;
    {
        qhil_run_opts ro = {
            .board_dirs = (const char *const *)board_dirs,
            .qemu_dirs = (const char *const *)qemu_dirs,
            .out_dir = out_dir,
            .only = (const char *const *)only,
            .test_started = on_test_started,
            .test_done = on_test_done,
            .data = &cli,
        };

        rc = qhil_run_suite(suite, &ro, &res, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
        goto cleanup;
    }
    {
        size_t passed = qhil_suite_result_count(res, QHIL_PASS);
        size_t failed = qhil_suite_result_count(res, QHIL_FAIL);
        size_t errors = qhil_suite_result_count(res, QHIL_ERROR);
        size_t skipped = qhil_suite_result_count(res, QHIL_SKIP);

        status = failed + errors ? QHIL_EXIT_FAILED : QHIL_EXIT_OK;
        if (junit && write_report(res, QHIL_REPORT_JUNIT, junit_file) < 0) {
            status = QHIL_EXIT_USAGE;
        }
        if ((tap || tap_stdout) &&
            write_report(res, QHIL_REPORT_TAP, tap_file) < 0) {
            status = QHIL_EXIT_USAGE;
        }
        if (errors) {
            fprintf(cli.out,
                    "%zu of the failed test%s could not run properly "
                    "(error), counted as failed\n",
                    errors, errors == 1 ? "" : "s");
        }
        fprintf(cli.out, "logs in %s\n",
                res->run_dir ? res->run_dir : out_dir);
        if (skipped) {
            fprintf(cli.out, "%zu passed, %zu failed, %zu skipped\n", passed,
                    failed + errors, skipped);
        } else {
            fprintf(cli.out, "%zu passed, %zu failed\n", passed,
                    failed + errors);
        }
    }

cleanup:
    /* A report not written (the run failed) leaves no temporary file. */
    qhil_report_file_free(junit_file);
    qhil_report_file_free(tap_file);
    qhil_suite_result_free(res);
    qhil_suite_free(suite);
    qhil_argv_free(board_dirs);
    qhil_argv_free(qemu_dirs);
    free(extra_qemu);
    free(default_out);
    free(suite_dir);
    free(only);
    free(extra_boards);
    qhil_error_release(&e);
    return status;
}
