/*
 * cmd_run.c - `qhil run SUITE.yaml`: run a suite, print verdicts, write
 * JUnit/TAP, exit 0 (all passed), 1 (a test failed) or 2 (bad input).
 *
 * Interruption: SIGINT, SIGTERM and SIGHUP do not end the process.  Their
 * handler only records the first signal and writes a byte to a
 * non-blocking self-pipe (write() is async-signal-safe); the runner
 * watches the pipe's read end (qhil_run_opts.cancel_fd), ends the running
 * test, shuts its QEMU down and marks the rest not run, and then this
 * command writes the reports, prints the summary and exits 128 + the
 * signal.  More signals while that happens add bytes and change nothing:
 * the shutdown is bounded by its own deadlines.  A signal that was
 * ignored when qhil started (nohup, a script's background job) stays
 * ignored.
 *
 * SIGPIPE is ignored, so a closed stdout (`qhil run ... | head -1`)
 * cannot kill the process before the reports are written.  The first
 * EPIPE on the progress stream means nobody reads it any more: progress
 * stops there, the run is interrupted as if by SIGPIPE (the reader is
 * gone, so is the point of going on; exit 141), and the summary goes to
 * stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

/*
 * The only state a signal handler can reach is static: the write end of
 * the self-pipe and the first signal.  Set once in cmd_run, before the
 * handlers are installed.
 */
static int signal_pipe_wr = -1;
static volatile sig_atomic_t first_signal;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;

    if (!first_signal) {
        first_signal = sig;
    }
    if (signal_pipe_wr >= 0 && write(signal_pipe_wr, &b, 1) < 0) {
        /* Full pipe: the byte already there says it. */
    }
    errno = saved;
}

typedef struct run_cli {
    FILE *out;       /* human-readable progress (stdout, or stderr with
                        TAP on stdout) */
    bool out_gone;   /* out hit EPIPE: write nothing more there */
    char reason[64]; /* "interrupted by SIGINT", for cancel_reason */
    bool color;
    bool quiet;
    qhil_progress *view;   /* writes out while the suite runs */
    qhil_event_sink *sink; /* --events, or NULL */
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
            "      --timeout-multiplier F\n"
            "                     every step and test timeout times F "
            "(slow machines)\n"
            "  -j, --jobs N       run N tests at once, each in a worker "
            "process\n"
            "                     (default: the number of cores; -j 1: one "
            "after the\n"
            "                     other, in this process, or in a worker "
            "when the\n"
            "                     output is a terminal)\n"
            "      --events FILE  write every event of every test as it "
            "happens,\n"
            "                     one JSON object a line (docs/events.md); "
            "- for\n"
            "                     stdout (progress then goes to stderr)\n"
            "      --json FILE    write the whole run as JSON: every test "
            "with its\n"
            "                     verdict and events (docs/events.md)\n"
            "  -t, --test NAME    run only this test (repeatable)\n"
            "  -k GLOB            run only the tests whose name matches "
            "GLOB\n"
            "                     (fnmatch; repeatable: any of them)\n"
            "      --tag TAG      run only the tests tagged TAG "
            "(repeatable: any\n"
            "                     of them); with -k or -t, a test must "
            "pass each\n"
            "      --shard K/N    run shard K of N: N runners with the "
            "same suite,\n"
            "                     -t and --durations run each test "
            "once together\n"
            "      --durations FILE  balance the shards by the times in "
            "FILE, a\n"
            "                     JUnit report of an earlier run\n"
            "      --shuffle      run the tests in a random order; the "
            "seed is\n"
            "                     printed (\"shuffle seed: N\" on stderr "
            "and in\n"
            "                     job.log)\n"
            "      --seed S       shuffle with seed S: the same order "
            "again\n"
            "                     (implies --shuffle)\n"
            "      --repeat N     run each test N times in a row, as "
            "\"NAME [k/N]\"\n"
            "      --fail-fast    after the first failed test start no "
            "more; the\n"
            "                     rest are reported skipped (not run)\n"
            "      --retry N      run a failed test again, up to N more "
            "times\n"
            "                     (0 to 100; over the suite's retry:); one "
            "that\n"
            "                     passes on a retry is flaky: it passes, "
            "and every\n"
            "                     report says it is flaky\n"
            "      --list         print the tests that would run, one a "
            "line, in\n"
            "                     their order, and exit without running "
            "them\n"
            CLI_JOB_HELP);
    fprintf(f,
            "      --keep-disks   keep each test's scratch disk "
            "(guestfs_*)\n"
            "      --color WHEN   colour the verdicts: auto (default: when "
            "the\n"
            "                     output is a terminal and NO_COLOR is not "
            "set),\n"
            "                     always, never\n"
            "      --keep WHICH   after the reports, keep the folders of "
            "the tests\n"
            "                     that passed, failed (fail or error) or "
            "all (default)\n"
            "      --max-memory SIZE\n"
            "                     kill a QEMU whose resident memory goes "
            "over SIZE\n"
            "                     (64MiB, 1GiB...; never above the site's "
            "limit)\n"
            "      --max-run-folder SIZE\n"
            "                     start no more tests once their folders "
            "hold SIZE\n"
            "                     (never above the site's limit)\n"
            "  -q, --quiet        print only failures and the summary\n"
            "  -h, --help         show this help\n"
            "\n"
            "Tests are selected by -t, -k and --tag, then split by "
            "--shard, then\n"
            "shuffled, then repeated; --list shows the result.\n"
            "\n"
            "Exit status: 0 all tests ran and passed (flaky ones too), 1 "
            "a test\n"
            "failed or had an error (on its last attempt) or was not run "
            "(the run\n"
            "folder's cap), 2 the command line or the suite\n"
            "is wrong; 128 + N when signal N interrupted the run (130 "
            "SIGINT,\n"
            "129 SIGHUP, 143 SIGTERM, 141 stdout closed): the running "
            "test is\n"
            "interrupted, the rest not run, the reports are still "
            "written.\n");
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    case SIGPIPE:
        return "SIGPIPE";
    }
    return "a signal";
}

static const char *run_cancel_reason(void *data)
{
    run_cli *c = data;
    int sig = first_signal;

    snprintf(c->reason, sizeof(c->reason), "interrupted by %s%s",
             signal_name(sig),
             sig == SIGPIPE ? " (stdout closed)" : "");
    return c->reason;
}

/*
 * Set up the self-pipe and the handlers; SIGPIPE is ignored.  Returns the
 * pipe's read end, or -1 (then signals keep their default effect).
 */
static int signals_catch(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    int fds[2];
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        return -1;
    }
    signal_pipe_wr = fds[1];
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(&sa.sa_mask, sigs[i]);
    }
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;

        /* Ignored when we started (nohup, a background job of a
         * script): the user asked for that, keep it. */
        if (sigaction(sigs[i], NULL, &old) == 0 &&
            old.sa_handler == SIG_IGN) {
            continue;
        }
        sigaction(sigs[i], &sa, NULL);
    }
    return fds[0];
}

/* After the view wrote: on EPIPE, nobody reads the progress any more. */
static void progress_check(run_cli *c)
{
    if (qhil_progress_error(c->view) != -EPIPE) {
        return;
    }
    c->out_gone = true;
    if (!first_signal) {
        first_signal = SIGPIPE;
        if (signal_pipe_wr >= 0 && write(signal_pipe_wr, "", 1) < 0) {
            /* Full: canceled already. */
        }
    }
}

static const char *verdict_label(const run_cli *c, qhil_verdict v)
{
    static const char *const plain[] = {"PASS ", "FAIL ", "ERROR", "SKIP "};
    static const char *const colored[] = {
        "\033[32mPASS \033[0m", "\033[31mFAIL \033[0m",
        "\033[31;1mERROR\033[0m", "\033[33mSKIP \033[0m"};

    return c->color ? colored[v] : plain[v];
}

/* A test's label: its verdict, INTR for an interrupted one, FLAKY for
 * one that passed on a retry. */
static const char *result_label(const run_cli *c, const qhil_test_result *r)
{
    if (r->interrupted) {
        return c->color ? "\033[33mINTR \033[0m" : "INTR ";
    }
    if (r->flaky) {
        return c->color ? "\033[33mFLAKY\033[0m" : "FLAKY";
    }
    return verdict_label(c, r->verdict);
}

/* " (attempt 2 of 3)" for a retried test, else "". */
static const char *attempt_note(const qhil_test_result *r, char *buf,
                                size_t size)
{
    buf[0] = '\0';
    if (r->attempts > 1) {
        snprintf(buf, size, " (attempt %u of %u)", r->attempts,
                 r->max_attempts > r->attempts ? r->max_attempts : r->attempts);
    }
    return buf;
}

/* One line a test, in the run's order, with its verdict and time. */
static void summary_table(const run_cli *c, const qhil_suite_result *res)
{
    char note[48];
    size_t i;

    fprintf(c->out, "\n");
    for (i = 0; i < res->n_tests; i++) {
        const qhil_test_result *r = &res->tests[i];
        int64_t cs = r->duration_ns / 10000000;

        fprintf(c->out, "  %s %4lld.%02llds  %s%s\n", result_label(c, r),
                (long long)(cs / 100), (long long)(cs % 100), r->name,
                attempt_note(r, note, sizeof(note)));
    }
}

/*
 * The runner's callbacks hand everything to the progress view
 * (qhil/progress.h), which writes the lines and the status line; the
 * header goes out with the first test, once the run has really started:
 * a board problem is then reported alone.
 */
static void on_test_started(void *data, const qhil_test *test)
{
    run_cli *c = data;

    if (!c->out_gone) {
        qhil_progress_test_started(c->view, test);
        progress_check(c);
    }
}

/* Kept for the header: "  accelerator: TCG (...)". */
static void on_noted(void *data, const char *note)
{
    run_cli *c = data;

    qhil_progress_note(c->view, note);
}

/* An attempt failed, the test runs again: the view says so in one line. */
static void on_test_retry(void *data, const qhil_test *test,
                          const qhil_test_result *r)
{
    run_cli *c = data;

    if (!c->out_gone) {
        qhil_progress_test_retry(c->view, test, r);
        progress_check(c);
    }
}

static void on_test_done(void *data, const qhil_test *test,
                         const qhil_test_result *r)
{
    run_cli *c = data;

    if (!c->out_gone) {
        qhil_progress_test_done(c->view, test, r);
        progress_check(c);
    }
}

/* Every event: to --events and to the view's status line. */
static void on_event(void *data, const qhil_event *ev)
{
    run_cli *c = data;

    if (c->sink) {
        qhil_event_sink_write(c->sink, ev);
    }
    if (!c->out_gone) {
        qhil_progress_event(c->view, ev);
        progress_check(c);
    }
}

static void on_tick(void *data)
{
    run_cli *c = data;

    if (!c->out_gone) {
        qhil_progress_tick(c->view);
        progress_check(c);
    }
}

/* --color WHEN; auto: a terminal and NO_COLOR unset or empty
 * (no-color.org). */
static int parse_color(const char *arg, FILE *out, bool *color)
{
    const char *no_color = getenv("NO_COLOR");

    if (strcmp(arg, "always") == 0) {
        *color = true;
    } else if (strcmp(arg, "never") == 0) {
        *color = false;
    } else if (strcmp(arg, "auto") == 0) {
        *color = isatty(fileno(out)) && !(no_color && *no_color);
    } else {
        fprintf(stderr,
                "qhil run: --color '%s': expected auto, always or never\n",
                arg);
        return -1;
    }
    return 0;
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
    int saved;
    int rc;

    qhil_error_init(&e);
    if (!f) {
        rc = qhil_report_write(res, fmt, stdout, &e);
    } else {
        rc = qhil_report_file_commit(f, res, fmt, &e);
    }
    saved = errno; /* EPIPE: stdout is gone */
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
    }
    qhil_error_release(&e);
    errno = saved;
    return rc;
}

/*
 * --list: the names, one a line, in the order they would run.  A name
 * with a line break or another control character could not be read back
 * one a line: refused rather than printed so that it lies.
 */
static int list_tests(const qhil_suite *suite, const size_t *order,
                      size_t n_order)
{
    char **names = NULL;
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    size_t i;

    qhil_error_init(&e);
    if (qhil_select_names(suite, order, n_order, &names, &e) < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, QHIL_ENOMEM));
        goto cleanup;
    }
    for (i = 0; i < n_order; i++) {
        const unsigned char *p = (const unsigned char *)names[i];

        for (; *p; p++) {
            if (*p < 0x20 || *p == 0x7f) {
                break;
            }
        }
        if (!*p) {
            continue;
        }
        fprintf(stderr,
                "qhil run: --list: %s:%d: the name of this test has a "
                "control character (0x%02x), it cannot be printed one "
                "name a line; nothing was listed\n",
                suite->path, suite->tests[order[i]].line, *p);
        goto cleanup;
    }
    for (i = 0; i < n_order; i++) {
        fprintf(stdout, "%s\n", names[i]);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "qhil run: --list: stdout: %s\n", strerror(errno));
        goto cleanup;
    }
    status = QHIL_EXIT_OK;

cleanup:
    qhil_select_names_free(names);
    qhil_error_release(&e);
    return status;
}

/* The tests this runner runs and their order (qhil/select.h): -t, -k,
 * --tag, then shard K of N, then the shuffle, then the repeats. */
static int select_tests(const qhil_suite *suite, qhil_select_opts *so,
                        const char *shard, const char *durations_path,
                        size_t **order, size_t *n_order)
{
    qhil_durations *d = NULL;
    qhil_error e;
    int rc = 0;

    qhil_error_init(&e);
    if (shard) {
        rc = qhil_shard_parse(shard, &so->shard_k, &so->shard_n, &e);
        if (rc < 0) {
            fprintf(stderr, "qhil run: --shard %s\n",
                    qhil_error_message(&e, rc));
            goto cleanup;
        }
    }
    if (durations_path) {
        rc = qhil_durations_load(durations_path, &d, &e);
        if (rc < 0) {
            fprintf(stderr, "qhil run: --durations: %s; nothing was run\n",
                    qhil_error_message(&e, rc));
            goto cleanup;
        }
    }
    so->durations = d;
    rc = qhil_select(suite, so, order, n_order, &e);
    so->durations = NULL;
    if (rc < 0) {
        fprintf(stderr, "qhil run: %s\n", qhil_error_message(&e, rc));
    }

cleanup:
    qhil_durations_free(d);
    qhil_error_release(&e);
    return rc;
}

/* A seed nobody chose: the kernel's, else the clock and the pid. */
static uint64_t random_seed(void)
{
    struct timespec ts;
    uint64_t seed = 0;

    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) ==
        (ssize_t)sizeof(seed)) {
        return seed;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
           ((uint64_t)getpid() << 32);
}

/* A number option, parsed now: "qhil run: --seed 'x': why". */
static int parse_number_option(const char *option, const char *arg,
                               uint64_t *seed, unsigned *n)
{
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = seed ? qhil_select_parse_seed(arg, seed, &e)
              : qhil_select_parse_repeat(arg, n, &e);
    if (rc < 0) {
        fprintf(stderr, "qhil run: %s %s\n", option,
                qhil_error_message(&e, rc));
    }
    qhil_error_release(&e);
    return rc;
}

/* -j N: 1 to QHIL_JOBS_MAX tests at once. */
#define QHIL_JOBS_MAX 64

static int parse_jobs(const char *arg, size_t *jobs)
{
    char *end = NULL;
    unsigned long n;

    errno = 0;
    n = strtoul(arg, &end, 10);
    if (!*arg || *end || errno || arg[0] == '-' || n < 1 ||
        n > QHIL_JOBS_MAX) {
        fprintf(stderr,
                "qhil run: -j '%s': expected a number of tests at once, "
                "1 to %d\n",
                arg, QHIL_JOBS_MAX);
        return -1;
    }
    *jobs = (size_t)n;
    return 0;
}

/* --retry N: 0 to QHIL_RETRY_MAX retries of a failed test. */
static int parse_retry(const char *arg, unsigned *out)
{
    char *end = NULL;
    unsigned long n;

    errno = 0;
    n = strtoul(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end || errno || n > QHIL_RETRY_MAX) {
        fprintf(stderr,
                "qhil run: --retry '%s': expected a number of retries of a "
                "failed test, 0 to %d\n",
                arg, QHIL_RETRY_MAX);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* --timeout-multiplier F: a plain decimal number from 1 to 100. */
static int parse_multiplier(const char *arg, double *out)
{
    char *end = NULL;
    double m;

    errno = 0;
    m = strtod(arg, &end);
    if (!*arg || *end || errno || !(m >= 1 && m <= 100) ||
        strspn(arg, "0123456789.") != strlen(arg)) {
        fprintf(stderr,
                "qhil run: --timeout-multiplier '%s': expected a number "
                "from 1 to 100 (e.g. 2.5)\n",
                arg);
        return -1;
    }
    *out = m;
    return 0;
}

/* Without -j: as many tests at once as there are cores, at most
 * QHIL_JOBS_MAX. */
static size_t default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > QHIL_JOBS_MAX ? QHIL_JOBS_MAX : (size_t)n;
}

/* Long options without a letter. */
#define OPT_EVENTS 0x300
#define OPT_JSON 0x301
#define OPT_TIMEOUT_MULTIPLIER 0x302
#define OPT_RETRY 0x303
#define OPT_COLOR 0x304
#define OPT_MAX_MEMORY 0x310
#define OPT_MAX_RUN_FOLDER 0x311
#define OPT_KEEP 0x312

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"junit", required_argument, NULL, 'J'},
        {"tap", optional_argument, NULL, 'T'},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"jobs", required_argument, NULL, 'j'},
        {"json", required_argument, NULL, OPT_JSON},
        {"timeout-multiplier", required_argument, NULL, OPT_TIMEOUT_MULTIPLIER},
        {"retry", required_argument, NULL, OPT_RETRY},
        {"test", required_argument, NULL, 't'},
        CLI_JOB_LONGOPTS,
        {"keep-disks", no_argument, NULL, 'K'},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
        {"max-run-folder", required_argument, NULL, OPT_MAX_RUN_FOLDER},
        {"shard", required_argument, NULL, 'S'},
        {"durations", required_argument, NULL, 'D'},
        {"list", no_argument, NULL, 'L'},
        {"tag", required_argument, NULL, 'g'},
        {"shuffle", no_argument, NULL, 'X'},
        {"seed", required_argument, NULL, 'E'},
        {"repeat", required_argument, NULL, 'R'},
        {"fail-fast", no_argument, NULL, 'F'},
        {"quiet", no_argument, NULL, 'q'},
        {"color", required_argument, NULL, OPT_COLOR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    run_cli cli = {.out = stdout};
    const char *out_dir = NULL;
    const char *junit = NULL;
    const char *tap = NULL;
    bool tap_stdout = false;
    const char *events = NULL;
    size_t jobs = default_jobs();
    double multiplier = 0;
    unsigned retry = 0;
    bool has_retry = false;
    const char *json = NULL;
    const char *color = "auto";
    char *header = NULL;
    bool live;
    qhil_report_file *json_file = NULL;
    qhil_event_sink *event_sink = NULL;
    char **only = NULL;
    size_t n_only = 0;
    const char *shard = NULL;
    const char *durations = NULL;
    bool list_only = false;
    char **globs = NULL;
    size_t n_globs = 0;
    char **tags = NULL;
    size_t n_tags = 0;
    bool fail_fast = false;
    bool seeded = false;
    char seed_note[48] = "";
    const char *log_notes[2] = {NULL, NULL};
    qhil_select_opts so = {0};
    size_t *order = NULL;
    size_t n_order = 0;
    cli_job job = {0};
    bool keep_disks = false;
    qhil_keep keep = QHIL_KEEP_ALL;
    uint64_t max_memory = 0;
    uint64_t max_run_folder = 0;
    char *default_out = NULL;
    char *suite_dir = NULL;
    qhil_report_file *junit_file = NULL;
    qhil_report_file *tap_file = NULL;
    int cancel_fd = -1;
    qhil_suite *suite = NULL;
    qhil_suite_result *res = NULL;
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    int opt;
    int rc;

    qhil_error_init(&e);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:t:k:j:B:Q:qh", longopts, NULL)) !=
           -1) {
        char ***list = NULL;
        size_t *n = NULL;
        int mine = cli_job_option(&job, opt, optarg);

        if (mine < 0) {
            goto cleanup;
        }
        if (mine) {
            continue;
        }
        switch (opt) {
        case 'o':
            out_dir = optarg;
            break;
        case OPT_EVENTS:
            events = optarg;
            break;
        case 'j':
            if (parse_jobs(optarg, &jobs) < 0) {
                goto cleanup;
            }
            break;
        case OPT_TIMEOUT_MULTIPLIER:
            if (parse_multiplier(optarg, &multiplier) < 0) {
                goto cleanup;
            }
            break;
        case OPT_RETRY:
            if (parse_retry(optarg, &retry) < 0) {
                goto cleanup;
            }
            has_retry = true;
            break;
        case OPT_JSON:
            json = optarg;
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
        case 'K':
            keep_disks = true;
            break;
        case OPT_KEEP:
            if (qhil_keep_parse(optarg, &keep, &e) < 0) {
                fprintf(stderr, "qhil: %s\n", e.message);
                goto cleanup;
            }
            break;
        case OPT_MAX_MEMORY:
            if (qhil_size_parse(optarg, "--max-memory", &max_memory, &e) < 0) {
                fprintf(stderr, "qhil: %s\n", e.message);
                goto cleanup;
            }
            break;
        case OPT_MAX_RUN_FOLDER:
            if (qhil_size_parse(optarg, "--max-run-folder", &max_run_folder,
                                &e) < 0) {
                fprintf(stderr, "qhil: %s\n", e.message);
                goto cleanup;
            }
            break;
        case 'S':
            shard = optarg;
            break;
        case 'D':
            durations = optarg;
            break;
        case 'L':
            list_only = true;
            break;
        case 'k':
            list = &globs;
            n = &n_globs;
            break;
        case 'g':
            list = &tags;
            n = &n_tags;
            break;
        case 'X':
            so.shuffle = true;
            break;
        case 'E':
            if (parse_number_option("--seed", optarg, &so.seed, NULL) < 0) {
                goto cleanup;
            }
            so.shuffle = true;
            seeded = true;
            break;
        case 'R':
            if (parse_number_option("--repeat", optarg, NULL, &so.repeat) <
                0) {
                goto cleanup;
            }
            break;
        case 'F':
            fail_fast = true;
            break;
        case 'q':
            cli.quiet = true;
            break;
        case OPT_COLOR:
            color = optarg;
            break;
        case 'h':
            run_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            run_usage(stderr);
            goto cleanup;
        }
        if (list && cli_list_add(list, n, optarg) < 0) {
            fprintf(stderr, "qhil: out of memory\n");
            goto cleanup;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc
                            ? "qhil run: no suite file given\n"
                            : "qhil run: give exactly one suite file\n");
        run_usage(stderr);
        goto cleanup;
    }
    if (durations && !shard) {
        fprintf(stderr, "qhil run: --durations balances shards: it needs "
                        "--shard K/N\n");
        goto cleanup;
    }
    if (shard) {
        /* The spec is checked before the suite is read. */
        unsigned k, n;

        rc = qhil_shard_parse(shard, &k, &n, &e);
        if (rc < 0) {
            fprintf(stderr, "qhil run: --shard %s\n",
                    qhil_error_message(&e, rc));
            goto cleanup;
        }
    }
    if (tap_stdout && events && strcmp(events, "-") == 0) {
        fprintf(stderr, "qhil run: --tap and --events cannot both write to "
                        "the standard output\n");
        goto cleanup;
    }
    if (tap_stdout || (events && strcmp(events, "-") == 0)) {
        cli.out = stderr;
    }
    if (parse_color(color, cli.out, &cli.color) < 0) {
        goto cleanup;
    }
    /* A terminal that cannot erase a line (TERM=dumb: an editor's
     * shell buffer) gets the lines only. */
    live = isatty(fileno(cli.out)) &&
           !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0);

    rc = qhil_suite_load(argv[optind], &suite, &e);
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
        goto cleanup;
    }
    if (cli_job_ready(&job, "run") < 0) {
        goto cleanup;
    }
    if (so.shuffle && !seeded) {
        so.seed = random_seed();
    }
    so.only = (const char *const *)only;
    so.globs = (const char *const *)globs;
    so.tags = (const char *const *)tags;
    if (select_tests(suite, &so, shard, durations, &order, &n_order) < 0) {
        goto cleanup;
    }
    if (so.shuffle) {
        /* Before anything runs: a run that hangs has told it already. */
        snprintf(seed_note, sizeof(seed_note), "shuffle seed: %llu",
                 (unsigned long long)so.seed);
        fprintf(stderr, "%s\n", seed_note);
        log_notes[0] = seed_note;
    }
    if (list_only) {
        /* Before any report file or folder is made. */
        status = list_tests(suite, order, n_order);
        goto cleanup;
    }
    if (shard && n_order == 0) {
        fprintf(stderr,
                "qhil run: shard %s has no tests (fewer tests than "
                "shards); its reports are empty\n",
                shard);
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
        (tap && open_report("--tap", tap, &tap_file) < 0) ||
        (json && open_report("--json", json, &json_file) < 0)) {
        goto cleanup;
    }
    if (events && qhil_event_sink_open(events, &event_sink, &e) < 0) {
        fprintf(stderr, "qhil: --events %s; nothing was run\n",
                qhil_error_message(&e, QHIL_EIO));
        goto cleanup;
    }
    if (asprintf(&header, "qhil: suite %s (%s), board %s, %zu test%s%s%s%s",
                 suite->name, suite->path, suite->device_type, n_order,
                 n_order == 1 ? "" : "s", shard ? " (shard " : "",
                 shard ? shard : "", shard ? ")" : "") < 0) {
        header = NULL;
        fprintf(stderr, "qhil: out of memory\n");
        goto cleanup;
    }
    {
        qhil_progress_opts po = {
            .out = cli.out,
            .mode = live ? QHIL_PROGRESS_LIVE : QHIL_PROGRESS_LINES,
            .color = cli.color,
            .quiet = cli.quiet,
            .total = n_order,
            .jobs = jobs,
            .header = header,
        };

        if (qhil_progress_new(&po, &cli.view, &e) < 0) {
            fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, QHIL_ENOMEM));
            goto cleanup;
        }
    }
    cli.sink = event_sink;
    cancel_fd = signals_catch();
    {
        qhil_run_opts ro = {
            .board_dirs = (const char *const *)job.board_dirs,
            .qemu_dirs = (const char *const *)job.qemu_dirs,
            .site = job.site,
            .keep_disks = keep_disks,
            .out_dir = out_dir,
            .test_started = on_test_started,
            .test_done = on_test_done,
            .noted = on_noted,
            .data = &cli,
            .event = event_sink || live ? on_event : NULL,
            .event_data = &cli,
            .tick = live ? on_tick : NULL,
            .isolate = live,
            .keep_events = json != NULL,
            .jobs = jobs,
            .timeout_multiplier = multiplier,
            .retry = retry,
            .has_retry = has_retry,
            .test_retry = on_test_retry,
            .has_cancel = cancel_fd >= 0,
            .cancel_fd = cancel_fd,
            .cancel_reason = run_cancel_reason,
            .order = order,
            .n_order = n_order,
            .fail_fast = fail_fast,
            .log_notes = log_notes,
            .max_memory = max_memory,
            .max_run_folder = max_run_folder,
        };

        rc = qhil_run_suite(suite, &ro, &res, &e);
    }
    /* The status line is gone before anything else is written. */
    if (!cli.out_gone) {
        qhil_progress_end(cli.view);
        progress_check(&cli);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil: %s\n", qhil_error_message(&e, rc));
        goto cleanup;
    }
    /* What the reports say of the run beside the verdicts. */
    res->shuffled = so.shuffle;
    res->seed = so.seed;
    if (qhil_suite_result_annotate(res, suite, order, n_order) < 0) {
        fprintf(stderr, "qhil: out of memory\n");
        goto cleanup;
    }
    {
        size_t passed = qhil_suite_result_count(res, QHIL_PASS);
        size_t failed = qhil_suite_result_count(res, QHIL_FAIL);
        size_t errors = qhil_suite_result_count(res, QHIL_ERROR);
        size_t skipped = qhil_suite_result_count(res, QHIL_SKIP);
        size_t interrupted = 0;
        size_t flaky = 0;
        size_t not_run = 0;
        const char *stopped = NULL;
        const char *first_failed = NULL;
        const char *why_not_run = NULL;
        char *text = NULL;
        size_t len = 0;
        FILE *sum;
        size_t i;

        for (i = 0; i < res->n_tests; i++) {
            if (res->tests[i].interrupted) {
                interrupted++;
                stopped = res->tests[i].name;
            }
            not_run += res->tests[i].not_run;
            flaky += res->tests[i].flaky;
            if (res->tests[i].not_run && !why_not_run &&
                res->tests[i].message &&
                !strncmp(res->tests[i].message, "not run: ", 9)) {
                why_not_run = res->tests[i].message + 9;
            }
            if (!first_failed && (res->tests[i].verdict == QHIL_FAIL ||
                                  res->tests[i].verdict == QHIL_ERROR)) {
                first_failed = res->tests[i].name;
            }
        }
        errors -= interrupted;
        skipped -= not_run;
        /* Tests that were to run and did not (the run folder filled,
         * --fail-fast) fail the run too: a green run ran them all. */
        status = failed + errors + not_run ? QHIL_EXIT_FAILED : QHIL_EXIT_OK;
        rc = qhil_event_sink_close(event_sink, &e);
        event_sink = NULL;
        cli.sink = NULL;
        if (rc < 0) {
            fprintf(stderr, "qhil: --events %s\n",
                    qhil_error_message(&e, rc));
            status = QHIL_EXIT_USAGE;
        }
        if (junit && write_report(res, QHIL_REPORT_JUNIT, junit_file) < 0) {
            status = QHIL_EXIT_USAGE;
        }
        if (json && write_report(res, QHIL_REPORT_JSON, json_file) < 0) {
            status = QHIL_EXIT_USAGE;
        }
        if ((tap || tap_stdout) &&
            write_report(res, QHIL_REPORT_TAP, tap_file) < 0) {
            if (tap_stdout && errno == EPIPE && !first_signal) {
                first_signal = SIGPIPE; /* nobody reads the report */
            }
            status = QHIL_EXIT_USAGE;
        }
        /* Only now: the JUnit report read the logs it embeds. */
        if (keep != QHIL_KEEP_ALL) {
            const char *spare[5] = {NULL};
            const char *files[] = {junit, json, tap, events};
            size_t k = 0;

            for (size_t f = 0; f < 4; f++) {
                if (files[f] && strcmp(files[f], "-") != 0) {
                    spare[k++] = files[f];
                }
            }
            if (qhil_run_keep(res, keep, spare, NULL, &e) < 0) {
                fprintf(stderr, "qhil: %s\n", e.message);
                status = QHIL_EXIT_USAGE;
            }
        }
        /* After -j, the tests in the run's order: the progress lines
         * came as they finished. */
        if (jobs > 1 && res->n_tests > 1 && !cli.quiet && !cli.out_gone) {
            summary_table(&cli, res);
        }
        /* The summary goes where someone still reads. */
        sum = open_memstream(&text, &len);
        if (!sum) {
            fprintf(stderr, "qhil: out of memory\n");
            goto cleanup;
        }
        if (first_signal) {
            fprintf(sum, "qhil: %s", run_cancel_reason(&cli));
            if (stopped) {
                fprintf(sum, " while test %s ran", stopped);
            }
            fprintf(sum, "; %zu test%s not run\n", not_run,
                    not_run == 1 ? "" : "s");
        } else if (not_run && fail_fast && first_failed) {
            fprintf(sum, "qhil: --fail-fast: stopped after test %s; %zu "
                         "test%s not run\n",
                    first_failed, not_run, not_run == 1 ? "" : "s");
        } else if (not_run && why_not_run) {
            fprintf(sum, "qhil: %s; %zu test%s not run\n", why_not_run,
                    not_run, not_run == 1 ? "" : "s");
        }
        if (errors) {
            fprintf(sum,
                    "%zu of the failed test%s could not run properly "
                    "(error), counted as failed\n",
                    errors, errors == 1 ? "" : "s");
        }
        fprintf(sum, "logs in %s\n",
                res->run_dir ? res->run_dir : out_dir);
        fprintf(sum, "%zu passed, %zu failed", passed, failed + errors);
        if (flaky) {
            /* Passed, on a retry: counted in passed too. */
            fprintf(sum, ", %zu flaky", flaky);
        }
        if (interrupted) {
            fprintf(sum, ", %zu interrupted", interrupted);
        }
        if (not_run || first_signal) {
            fprintf(sum, ", %zu not run", not_run);
        }
        if (skipped) {
            fprintf(sum, ", %zu skipped", skipped);
        }
        fputc('\n', sum);
        fclose(sum);
        if (!cli.out_gone) {
            fputs(text, cli.out);
            cli.out_gone = fflush(cli.out) != 0 && errno == EPIPE;
        }
        if (cli.out_gone) {
            fputs(text, stderr);
            fflush(stderr);
        }
        free(text);
        if (first_signal) {
            status = 128 + first_signal;
        }
    }

cleanup:
    /* A report not written (the run failed) leaves no temporary file.
     * cancel_fd and the write end stay open: a late signal's handler
     * may still write, and the process ends now anyway. */
    qhil_report_file_free(junit_file);
    qhil_report_file_free(tap_file);
    qhil_report_file_free(json_file);
    qhil_event_sink_close(event_sink, NULL);
    qhil_suite_result_free(res);
    qhil_suite_free(suite);
    cli_job_release(&job);
    qhil_progress_free(cli.view);
    free(header);
    free(default_out);
    free(suite_dir);
    free(only);
    free(globs);
    free(tags);
    free(order);
    qhil_error_release(&e);
    return status;
}
