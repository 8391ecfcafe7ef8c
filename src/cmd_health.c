/*
 * cmd_health.c - `qhil health [DEVICE_TYPE...]`: is each device type
 * fit to run jobs?  Runs the health-check suite its template names
 * ("health_check:") and prints one line per device type:
 *
 *   PASS  mps2-an385 (1 test, 0.41 s)
 *   FAIL  my-board (1 test, 2.00 s)
 *   SKIP  arm64-virt (QEMU binary 'qemu-system-aarch64' ... not installed)
 *
 * Order of work: every name is looked up and its template loaded before
 * anything runs, so a typo or a broken template is a usage error (exit
 * 2) with nothing started.  Then each device type in turn: no health
 * check or no QEMU binary is SKIP; a health suite that does not load, is
 * written for another device type or cannot be run is FAIL (a device
 * type whose check cannot run is not healthy); otherwise the suite runs
 * with qhil_run_suite and any failed or errored test is FAIL.
 *
 * The health suite is run against the very template that named it: the
 * board search for the run is that template's folder alone, so a
 * same-named template earlier in the search list cannot stand in.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

/* One device type to check. */
typedef struct health_item {
    char *name;
    char *path; /* its template */
    qhil_board *board;
} health_item;

static void health_usage(FILE *f)
{
    fprintf(f,
            "usage: qhil health [options] [DEVICE_TYPE...]\n"
            "\n"
            "Run the health-check suite of each device type (the "
            "'health_check:' of\n"
            "its board template); with no DEVICE_TYPE, of every template "
            "in the board\n"
            "search dirs.  Prints PASS, FAIL or SKIP (no health check, or "
            "its QEMU\n"
            "binary is not installed) per device type.\n"
            "\n"
            "  -o, --output DIR   logs of device type D go to "
            "DIR/D/<run-id>/ (default\n"
            "                     qhil-results/health/D)\n"
            CLI_JOB_HELP
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 every health check that ran passed, 1 one "
            "failed,\n"
            "2 the command line is wrong, a device type is unknown or its "
            "template\n"
            "does not load.\n");
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every DEVICE_TYPE.yaml directly in the dirs (not in subfolders, where
 * the health suites live), each name once, sorted.  Missing dirs are
 * skipped.  Returns a malloc'ed list of malloc'ed names, or -1.
 */
static int list_device_types(char *const *dirs, char ***out, size_t *n_out)
{
    char **names = NULL;
    size_t n = 0;
    size_t i;
    size_t k;

    for (i = 0; dirs[i]; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *ent;

        if (!d) {
            continue;
        }
        while ((ent = readdir(d))) {
            size_t len = strlen(ent->d_name);
            char *full = NULL;
            char *name;
            struct stat st;
            bool seen = false;

            if (ent->d_name[0] == '.' || len <= 5 ||
                strcmp(ent->d_name + len - 5, ".yaml") != 0) {
                continue;
            }
            if (asprintf(&full, "%s/%s", dirs[i], ent->d_name) < 0) {
                closedir(d);
                goto fail;
            }
            if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
                free(full);
                continue;
            }
            free(full);
            for (k = 0; k < n && !seen; k++) {
                seen = strncmp(names[k], ent->d_name, len - 5) == 0 &&
                       names[k][len - 5] == '\0';
            }
            if (seen) {
                continue;
            }
            name = strndup(ent->d_name, len - 5);
            if (!name || cli_list_add(&names, &n, name) < 0) {
                free(name);
                closedir(d);
                goto fail;
            }
        }
        closedir(d);
    }
    if (n) {
        qsort(names, n, sizeof(*names), name_cmp);
    }
    *out = names;
    *n_out = n;
    return 0;

fail:
    qhil_argv_free(names);
    return -1;
}

/* The folder part of path ("." when it has none); malloc'ed. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        return strdup(".");
    }
    if (slash == path) {
        return strdup("/");
    }
    return strndup(path, (size_t)(slash - path));
}

static void print_line(const char *verdict, const char *name,
                       const char *why)
{
    printf("%s  %s (%s)\n", verdict, name, why);
    fflush(stdout);
}

/* The first failed test of res: its name, why, and where the logs are. */
static void print_failure(const qhil_suite_result *res)
{
    size_t i;

    for (i = 0; i < res->n_tests; i++) {
        const qhil_test_result *t = &res->tests[i];

        if (t->verdict != QHIL_FAIL && t->verdict != QHIL_ERROR) {
            continue;
        }
        printf("      test %s", t->name);
        if (t->step) {
            printf(", step %zu (line %d) %s", t->step, t->step_line,
                   t->step_desc ? t->step_desc : "");
        }
        printf(": %s\n", t->message ? t->message : "failed");
        break;
    }
    if (res->run_dir) {
        printf("      logs in %s\n", res->run_dir);
    }
}

/*
 * Check one device type; prints its line.  Returns 1 when it passed or
 * was skipped, 0 when it failed, -1 out of memory.
 */
static int health_one(const health_item *it, const qhil_site *site,
                      char *const *qemu_dirs, const char *out_base)
{
    const char *check = qhil_board_health_check(it->board);
    char *board_dir = NULL;
    char *out_dir = NULL;
    char *safe = NULL;
    char *msg = NULL;
    const char *board_dirs[2] = {NULL, NULL};
    qhil_suite *suite = NULL;
    qhil_suite_result *res = NULL;
    qhil_job *job = NULL;
    qhil_error e;
    int64_t t0;
    int ok = -1;
    int rc;

    qhil_error_init(&e);
    if (!check) {
        print_line("SKIP", it->name, "no health check in its template");
        ok = 1;
        goto cleanup;
    }
    board_dir = dir_of(it->path);
    if (!board_dir) {
        goto cleanup;
    }
    board_dirs[0] = board_dir;
    {
        qhil_job_opts jo = {
            .device_type = it->name,
            .board_dirs = board_dirs,
            .qemu_dirs = (const char *const *)qemu_dirs,
            .site = site,
        };

        rc = qhil_job_new(&jo, &job, &e);
    }
    if (rc == QHIL_ENOENT) {
        /* The template was found and loaded: its binary is missing. */
        print_line("SKIP", it->name, qhil_error_message(&e, rc));
        ok = 1;
        goto cleanup;
    }
    if (rc < 0) {
        print_line("FAIL", it->name, qhil_error_message(&e, rc));
        ok = 0;
        goto cleanup;
    }
    rc = qhil_suite_load(check, &suite, &e);
    if (rc < 0) {
        print_line("FAIL", it->name, "its health check does not load");
        printf("      %s\n", qhil_error_message(&e, rc));
        ok = 0;
        goto cleanup;
    }
    if (strcmp(suite->device_type, it->name) != 0) {
        if (asprintf(&msg, "health check %s is for device type '%s'",
                     check, suite->device_type) < 0) {
            msg = NULL;
            goto cleanup;
        }
        print_line("FAIL", it->name, msg);
        ok = 0;
        goto cleanup;
    }
    if (qhil_runpath_name(it->name, &safe) < 0 ||
        asprintf(&out_dir, "%s/%s", out_base, safe) < 0) {
        out_dir = NULL;
        goto cleanup;
    }
    t0 = qhil_now();
    {
        qhil_run_opts ro = {
            .board_dirs = board_dirs,
            .qemu_dirs = (const char *const *)qemu_dirs,
            .site = site,
            .out_dir = out_dir,
        };

        rc = qhil_run_suite(suite, &ro, &res, &e);
    }
    if (rc < 0) {
        print_line("FAIL", it->name, "its health check could not run");
        printf("      %s\n", qhil_error_message(&e, rc));
        ok = 0;
        goto cleanup;
    }
    {
        size_t bad = qhil_suite_result_count(res, QHIL_FAIL) +
                     qhil_suite_result_count(res, QHIL_ERROR);
        size_t passed = qhil_suite_result_count(res, QHIL_PASS);

        /* A suite where nothing passed proves nothing: all skipped
         * is not healthy either. */
        ok = bad == 0 && passed > 0;
        printf("%s  %s (%zu test%s, %.2f s)\n", ok ? "PASS" : "FAIL",
               it->name, res->n_tests, res->n_tests == 1 ? "" : "s",
               (double)(qhil_now() - t0) / 1e9);
        if (!ok) {
            print_failure(res);
        }
        fflush(stdout);
    }

cleanup:
    if (ok < 0) {
        fprintf(stderr, "qhil: out of memory\n");
    }
    qhil_suite_result_free(res);
    qhil_suite_free(suite);
    qhil_job_free(job);
    free(msg);
    free(safe);
    free(out_dir);
    free(board_dir);
    qhil_error_release(&e);
    return ok;
}

int cmd_health(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        CLI_JOB_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_base = "qhil-results/health";
    cli_job cj = {0};
    char **board_dirs;
    char **names = NULL;
    size_t n_names = 0;
    health_item *items = NULL;
    size_t n_items = 0;
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    bool any_failed = false;
    size_t i;
    int opt;
    int rc;

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
            out_base = optarg;
            break;
        case 'h':
            health_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            health_usage(stderr);
            goto cleanup;
        }
    }
    if (cli_job_ready(&cj, "health") < 0) {
        goto cleanup;
    }
    /* A health check is the device type's own suite, from the site's
     * folders: the site vouches for it as it does for the template. */
    if (qhil_site_trust(cj.site, "health check: the device type's own suite",
                        &e) < 0) {
        goto oom;
    }
    board_dirs = cj.board_dirs;
    if (optind < argc) {
        names = calloc((size_t)(argc - optind) + 1, sizeof(*names));
        if (!names) {
            goto oom;
        }
        for (i = 0; optind + (int)i < argc; i++) {
            names[i] = strdup(argv[optind + (int)i]);
            if (!names[i]) {
                goto oom;
            }
        }
        n_names = i;
    } else if (list_device_types(board_dirs, &names, &n_names) < 0) {
        goto oom;
    }
    if (!n_names) {
        fprintf(stderr, "qhil health: no board templates found\n");
        goto cleanup;
    }
    items = calloc(n_names, sizeof(*items));
    if (!items) {
        goto oom;
    }
    /* Everything named must exist and load before anything runs. */
    for (i = 0; i < n_names; i++) {
        health_item *it = &items[n_items++];

        it->name = names[i];
        rc = qhil_board_find(it->name, (const char *const *)board_dirs,
                             &it->path, &e);
        if (rc >= 0) {
            rc = qhil_board_load(it->path, &it->board, &e);
        }
        if (rc < 0) {
            fprintf(stderr, "qhil health: %s\n",
                    qhil_error_message(&e, rc));
            goto cleanup;
        }
    }
    for (i = 0; i < n_items; i++) {
        rc = health_one(&items[i], cj.site, cj.qemu_dirs, out_base);
        if (rc < 0) {
            goto cleanup;
        }
        any_failed |= rc == 0;
    }
    status = any_failed ? QHIL_EXIT_FAILED : QHIL_EXIT_OK;
    goto cleanup;

oom:
    fprintf(stderr, "qhil: out of memory\n");
cleanup:
    for (i = 0; i < n_items; i++) {
        free(items[i].path);
        qhil_board_free(items[i].board);
    }
    free(items);
    qhil_argv_free(names);
    cli_job_release(&cj);
    qhil_error_release(&e);
    return status;
}
