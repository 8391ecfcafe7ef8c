/*
 * qhil-cli.h - the qhil command's subcommand table (after git's
 * builtin.h): each verb is one cmd_<verb>.c file with one entry point.
 *
 * Exit status convention for every verb: 0 success, 1 the thing tested
 * failed, 2 the command line or an input file is wrong.
 */
#ifndef QHIL_CLI_H
#define QHIL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <qhil/job.h>

#define QHIL_EXIT_OK 0
#define QHIL_EXIT_FAILED 1
#define QHIL_EXIT_USAGE 2

int cmd_health(int argc, char **argv);
int cmd_lava(int argc, char **argv);
int cmd_qmp(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* Append item (borrowed) to the NULL-terminated *list of *n items, for
 * repeatable options.  0, or -1 when out of memory (list unchanged). */
int cli_list_add(char ***list, size_t *n, char *item);

/* Board search list for the CLI: extra dirs first, then $QHIL_BOARDS_PATH,
 * then site_dirs, or when that is NULL the installed boards and the
 * source tree's.  Never the working folder.  NULL-terminated, malloc'ed
 * (strings too); free with qhil_argv_free. */
char **cli_board_dirs(char *const *extra, size_t n_extra,
                      const char *const *site_dirs);

/* Where qhil's own QEMU build is looked for, before PATH: extra dirs,
 * then $QHIL_QEMU_PATH, the installed libexec dir and the source tree's
 * build-qemu/bin.  Same ownership as cli_board_dirs. */
char **cli_qemu_dirs(char *const *extra, size_t n_extra);

/*
 * The options of every command that builds a job (cli_job.c): -B DIR,
 * -Q DIR, --site FILE, --trusted.  Zero-initialise, hand each getopt
 * result to cli_job_option (1: it was one of these, 0: not, -1: out of
 * memory; it says so on stderr), then cli_job_ready once (loads the site and builds the
 * folder lists; prints the error itself and returns -1 on failure).
 */
#define CLI_OPT_SITE 0x100
#define CLI_OPT_TRUSTED 0x101
#define CLI_JOB_LONGOPTS                                                  \
    {"boards", required_argument, NULL, 'B'},                             \
        {"qemu-dir", required_argument, NULL, 'Q'},                       \
        {"site", required_argument, NULL, CLI_OPT_SITE},                  \
        {"trusted", no_argument, NULL, CLI_OPT_TRUSTED}
#define CLI_JOB_HELP                                                      \
    "  -B, --boards DIR   look for device types in DIR first "            \
    "(repeatable)\n"                                                      \
    "  -Q, --qemu-dir DIR look for QEMU binaries in DIR before PATH "     \
    "(repeatable)\n"                                                      \
    "      --site FILE    the site config (default /etc/qhil/site.yaml "  \
    "if it\n"                                                             \
    "                     exists, else the built-in strict site)\n"       \
    "      --trusted      trust the suites: their options and QMP "       \
    "commands\n"                                                          \
    "                     pass unchecked (qhil still owns its wiring)\n"

typedef struct qhil_site qhil_site;

typedef struct cli_job {
    char **extra_boards;
    size_t n_boards;
    char **extra_qemu;
    size_t n_qemu;
    const char *site_path;
    bool trusted;
    qhil_site *site;
    char **board_dirs;
    char **qemu_dirs;
} cli_job;

int cli_job_option(cli_job *j, int opt, char *arg);
int cli_job_ready(cli_job *j, const char *cmd);

/*
 * Load the suite at path and its job with the options' folders and site
 * (after cli_job_ready), as qhil run does; probe: let the job run the
 * QEMU binary once to ask for -sandbox when its ELF does not say.  The
 * caller frees *suite (set whenever it loaded) and *job; errors in err.
 */
int cli_job_suite(const cli_job *j, const char *path, bool probe,
                  qhil_suite **suite, qhil_job **job, qhil_error *err);
void cli_job_release(cli_job *j);

#endif /* QHIL_CLI_H */
