/*
 * cmd_report.c - `qhil report VERB`: work on reports already written.
 *
 *   merge -o OUT IN...   join the JUnit files of the shards of a run
 *                        (`qhil run --shard K/N --junit IN`) into OUT
 *   html RUN.json -o OUT one self-contained HTML page of a run
 *                        (`qhil run --json RUN.json`)
 *
 * A verb is one entry in verbs[].  merge reads every input before it
 * writes anything, then writes OUT through a temporary file and a
 * rename: on any bad input (a file that is missing, not a regular file,
 * not XML, not JUnit, or that runs a test another input ran too) it
 * exits 2 and OUT is as it was.  OUT must not exist unless --force is
 * given, and it may never be one of the inputs.  html reads and checks
 * the whole run before it writes, and writes the same way (an existing
 * OUT is replaced, a symlink there never followed; OUT is never the
 * input); a bad run exits 2 with the file and the key that is wrong.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

static void merge_usage(FILE *f)
{
    fprintf(f, "usage: qhil report merge [options] -o OUT IN...\n"
               "\n"
               "Join the JUnit reports of the shards of a run (qhil run "
               "--shard K/N\n"
               "--junit IN) into one: one testsuite per suite name, its "
               "tests from every\n"
               "IN in the order given, totals recomputed, each testcase "
               "kept as it was.\n"
               "A test that two inputs both ran is an error.\n"
               "\n"
               "options:\n"
               "  -o, --output FILE  write the merged report to FILE "
               "(required)\n"
               "  -f, --force        replace FILE if it exists (never an "
               "input)\n"
               "  -q, --quiet        print nothing on success\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status: 0 written, 2 bad command line or input (FILE "
               "untouched).\n");
}

static int report_merge(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    qhil_junit_merge *m = NULL;
    qhil_error err;
    const char *out = NULL;
    unsigned flags = 0;
    int quiet = 0;
    int status = QHIL_EXIT_USAGE;
    int opt;
    int i;

    qhil_error_init(&err);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+o:fqh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 'f':
            flags |= QHIL_JUNIT_FORCE;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            merge_usage(stdout);
            return QHIL_EXIT_OK;
        default:
            merge_usage(stderr);
            return QHIL_EXIT_USAGE;
        }
    }
    if (!out) {
        fprintf(stderr, "qhil report merge: -o OUT is required: where "
                        "the merged report goes\n");
        return QHIL_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "qhil report merge: no JUnit file to merge: give "
                        "one or more after the options\n");
        return QHIL_EXIT_USAGE;
    }
    if (qhil_junit_merge_new(&m, &err) < 0) {
        goto cleanup;
    }
    for (i = optind; i < argc; i++) {
        if (qhil_junit_merge_add(m, argv[i], &err) < 0) {
            goto cleanup;
        }
    }
    if (qhil_junit_merge_save(m, out, flags, &err) < 0) {
        goto cleanup;
    }
    if (!quiet) {
        printf("qhil: merged %zu files into %s: %zu suites, %zu tests, "
               "%zu failures, %zu errors, %zu skipped\n",
               qhil_junit_merge_count(m, QHIL_JUNIT_FILES), out,
               qhil_junit_merge_count(m, QHIL_JUNIT_SUITES),
               qhil_junit_merge_count(m, QHIL_JUNIT_TESTS),
               qhil_junit_merge_count(m, QHIL_JUNIT_FAILURES),
               qhil_junit_merge_count(m, QHIL_JUNIT_ERRORS),
               qhil_junit_merge_count(m, QHIL_JUNIT_SKIPPED));
    }
    status = QHIL_EXIT_OK;

cleanup:
    if (status != QHIL_EXIT_OK) {
        fprintf(stderr, "qhil report merge: %s\n",
                qhil_error_message(&err, err.code));
    }
    qhil_junit_merge_free(m);
    qhil_error_release(&err);
    return status;
}

static void html_usage(FILE *f)
{
    fprintf(f, "usage: qhil report html [options] RUN.json -o OUT.html\n"
               "\n"
               "Write one self-contained HTML page of a run (qhil run "
               "--json RUN.json):\n"
               "a summary, the tests with filters, and for each test its "
               "failure, a\n"
               "timeline of its events and its console log.  The page "
               "loads nothing\n"
               "else and works from file://.\n"
               "\n"
               "options:\n"
               "  -o, --output FILE  write the page to FILE (required; "
               "replaced if it exists)\n"
               "  -q, --quiet        print nothing on success\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status: 0 written, 2 bad command line or input (FILE "
               "untouched).\n");
}

/* out names the same file as in (both exist). */
static int same_file(const char *in, const char *out)
{
    struct stat a;
    struct stat b;

    return stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int report_html(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    qhil_error err;
    json_t *run = NULL;
    const char *in = NULL;
    const char *out = NULL;
    int quiet = 0;
    int status = QHIL_EXIT_USAGE;
    int opt;

    qhil_error_init(&err);
    optind = 1;
    /* Options before and after RUN.json: `html RUN.json -o OUT`. */
    while (optind < argc) {
        opt = getopt_long(argc, argv, "+o:qh", longopts, NULL);
        if (opt == -1) {
            if (in) {
                fprintf(stderr, "qhil report html: one run file only, "
                                "got '%s' and '%s'\n", in, argv[optind]);
                return QHIL_EXIT_USAGE;
            }
            in = argv[optind++];
            continue;
        }
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            html_usage(stdout);
            return QHIL_EXIT_OK;
        default:
            html_usage(stderr);
            return QHIL_EXIT_USAGE;
        }
    }
    if (!in) {
        fprintf(stderr, "qhil report html: no run file: give the JSON "
                        "file of a run (qhil run --json FILE)\n");
        return QHIL_EXIT_USAGE;
    }
    if (!out) {
        fprintf(stderr, "qhil report html: -o OUT is required: where the "
                        "page goes\n");
        return QHIL_EXIT_USAGE;
    }
    if (same_file(in, out)) {
        fprintf(stderr, "qhil report html: %s: is the input, give another "
                        "file to -o\n", out);
        return QHIL_EXIT_USAGE;
    }
    if (qhil_report_html_load(in, &run, &err) < 0 ||
        qhil_report_html_save(run, out, &err) < 0) {
        goto cleanup;
    }
    if (!quiet) {
        printf("qhil: wrote %s: %zu tests\n", out,
               json_array_size(json_object_get(run, "tests")));
    }
    status = QHIL_EXIT_OK;

cleanup:
    if (status != QHIL_EXIT_OK) {
        fprintf(stderr, "qhil report html: %s\n",
                qhil_error_message(&err, err.code));
    }
    json_decref(run);
    qhil_error_release(&err);
    return status;
}

static const struct report_verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} verbs[] = {
    {"merge", report_merge, "join the JUnit files of a run's shards"},
    {"html", report_html, "one self-contained HTML page of a run"},
};

static void report_usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: qhil report <verb> [options]\n\nverbs:\n");
    for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
    }
}

int cmd_report(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        report_usage(stderr);
        return QHIL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        report_usage(stdout);
        return QHIL_EXIT_OK;
    }
    for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(argv[1], verbs[i].name) == 0) {
            return verbs[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "qhil report: unknown verb '%s'\n", argv[1]);
    report_usage(stderr);
    return QHIL_EXIT_USAGE;
}
