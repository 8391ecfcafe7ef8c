/*
 * cmd_lava.c - `qhil lava export SUITE.yaml -o DIR`: the suite as LAVA
 * job definitions for LAVA's qemu device type (docs/lava.md).
 *
 * The job comes from the job layer (qhil_job_from_suite), with the same
 * checks as qhil run: a suite qhil would refuse to run is not exported.
 * qhil_lava_export then refuses what LAVA cannot express, with the
 * step's file and line, before it writes anything.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

#define OPT_PER_TEST 0x200
#define OPT_DEVICE_CONFIG 0x201

static void lava_usage(FILE *f)
{
    fprintf(f,
            "usage: qhil lava export [options] -o DIR SUITE.yaml\n"
            "\n"
            "Write the suite as LAVA job definitions for LAVA's qemu device "
            "type:\n"
            "one job per suite, or one per test with --per-test.  Steps LAVA "
            "cannot\n"
            "express (QTest, QMP other than system_reset and quit) are "
            "refused.\n"
            "Never replaces a file; writes nothing when it refuses.\n"
            "\n"
            "  -o, --output DIR   write the jobs into DIR (made when "
            "missing)\n"
            "      --per-test     one job per test\n"
            "      --device-config\n"
            "                     also write SUITE.device.yaml, the device "
            "configuration\n"
            "                     lava-run needs to run the jobs on this "
            "machine\n" CLI_JOB_HELP
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 written, 2 the command line or the suite is "
            "wrong, or\n"
            "LAVA cannot express it.\n");
}

static int lava_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"per-test", no_argument, NULL, OPT_PER_TEST},
        {"device-config", no_argument, NULL, OPT_DEVICE_CONFIG},
        CLI_JOB_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_job cj = {0};
    qhil_lava_opts lo = {0};
    qhil_suite *suite = NULL;
    qhil_job *job = NULL;
    char **written = NULL;
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    int opt;
    int rc;
    size_t i;

    qhil_error_init(&e);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:B:Q:h", longopts, NULL)) != -1) {
        int mine = cli_job_option(&cj, opt, optarg);

        if (mine < 0) {
            goto cleanup;
        }
        if (mine) {
            continue;
        }
        switch (opt) {
        case 'o':
            lo.dir = optarg;
            break;
        case OPT_PER_TEST:
            lo.per_test = true;
            break;
        case OPT_DEVICE_CONFIG:
            lo.device_config = true;
            break;
        case 'h':
            lava_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            lava_usage(stderr);
            goto cleanup;
        }
    }
    if (optind != argc - 1 || !lo.dir) {
        fprintf(stderr, !lo.dir ? "qhil lava export: no -o DIR given\n"
                        : optind >= argc
                            ? "qhil lava export: no suite file given\n"
                            : "qhil lava export: give exactly one suite "
                              "file\n");
        lava_usage(stderr);
        goto cleanup;
    }
    if (cli_job_ready(&cj, "lava export") < 0) {
        goto cleanup;
    }
    rc = cli_job_suite(&cj, argv[optind], false, &suite, &job, &e);
    if (rc == QHIL_EOK) {
        rc = qhil_lava_export(suite, job, &lo, &written, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil lava export: %s\n", qhil_error_message(&e, rc));
        goto cleanup;
    }
    for (i = 0; written[i]; i++) {
        printf("%s\n", written[i]);
    }
    status = QHIL_EXIT_OK;

cleanup:
    qhil_argv_free(written);
    qhil_job_free(job);
    qhil_suite_free(suite);
    cli_job_release(&cj);
    qhil_error_release(&e);
    return status;
}

int cmd_lava(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "export") == 0) {
        return lava_export(argc - 1, argv + 1);
    }
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        lava_usage(stdout);
        return QHIL_EXIT_OK;
    }
    fprintf(stderr,
            argc < 2 ? "qhil lava: no subcommand given\n"
                     : "qhil lava: unknown subcommand '%s'\n",
            argc < 2 ? "" : argv[1]);
    lava_usage(stderr);
    return QHIL_EXIT_USAGE;
}
