/*
 * main.c - the qhil command: dispatch to one subcommand per verb.
 *
 * The command is only a client of libqhil's public headers, like curl's
 * tool is of libcurl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/board.h>

#include "qhil-cli.h"
#include "qhil-config.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"health", cmd_health, "run the health check of each device type"},
    {"lava", cmd_lava, "export a suite as LAVA jobs (qemu device type)"},
    {"qmp", cmd_qmp, "QMP shell: talk to a running or new QEMU"},
    {"render", cmd_render, "print a suite's QEMU command line, labelled"},
    {"report", cmd_report, "merge JUnit reports; a run as an HTML page"},
    {"run", cmd_run, "run a test suite on QEMU"},
    {"validate", cmd_validate,
     "check suites and device types without running QEMU"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: qhil <command> [options]\n\ncommands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\n'qhil <command> --help' describes a command.\n");
}

/* extra dirs, then the colon-separated env_name, then the fixed ones. */
static char **dir_list(char *const *extra, size_t n_extra,
                       const char *env_name, const char *const *fixed,
                       size_t n_fixed)
{
    const char *env = getenv(env_name);
    size_t n = n_extra + n_fixed + 1;
    char **dirs;
    size_t k = 0;
    size_t i;

    if (env) {
        for (i = 0; env[i]; i++) {
            n += env[i] == ':';
        }
        n++;
    }
    dirs = calloc(n + 1, sizeof(*dirs));
    if (!dirs) {
        return NULL;
    }
    for (i = 0; i < n_extra; i++) {
        dirs[k++] = strdup(extra[i]);
    }
    if (env && *env) {
        const char *p = env;

        for (;;) {
            const char *end = strchr(p, ':');
            size_t len = end ? (size_t)(end - p) : strlen(p);

            if (len) {
                dirs[k++] = strndup(p, len);
            }
            if (!end) {
                break;
            }
            p = end + 1;
        }
    }
    for (i = 0; i < n_fixed; i++) {
        dirs[k++] = strdup(fixed[i]);
    }
    for (i = 0; i < k; i++) {
        if (!dirs[i]) {
            qhil_argv_free(dirs);
            return NULL;
        }
    }
    return dirs;
}

int cli_list_add(char ***list, size_t *n, char *item)
{
    char **v = realloc(*list, (*n + 2) * sizeof(*v));

    if (!v) {
        return -1;
    }
    v[(*n)++] = item;
    v[*n] = NULL;
    *list = v;
    return 0;
}

char **cli_board_dirs(char *const *extra, size_t n_extra,
                      const char *const *site_dirs)
{
    static const char *const fixed[] = {
        QHIL_BOARDS_DIR,
        QHIL_SOURCE_BOARDS_DIR,
    };
    size_t n = 0;

    if (!site_dirs) {
        return dir_list(extra, n_extra, "QHIL_BOARDS_PATH", fixed, 2);
    }
    while (site_dirs[n]) {
        n++;
    }
    return dir_list(extra, n_extra, "QHIL_BOARDS_PATH", site_dirs, n);
}

char **cli_qemu_dirs(char *const *extra, size_t n_extra)
{
    static const char *const fixed[] = {
        QHIL_QEMU_DIR,
        QHIL_SOURCE_QEMU_DIR,
    };

    return dir_list(extra, n_extra, "QHIL_QEMU_PATH", fixed, 2);
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return QHIL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return QHIL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        return cmd_version(argc - 1, argv + 1);
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "qhil: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return QHIL_EXIT_USAGE;
}
