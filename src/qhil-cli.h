/*
 * qhil-cli.h - the qhil command's subcommand table (after git's
 * builtin.h): each verb is one cmd_<verb>.c file with one entry point.
 *
 * Exit status convention for every verb: 0 success, 1 the thing tested
 * failed, 2 the command line or an input file is wrong.
 */
#ifndef QHIL_CLI_H
#define QHIL_CLI_H

#define QHIL_EXIT_OK 0
#define QHIL_EXIT_FAILED 1
#define QHIL_EXIT_USAGE 2

int cmd_health(int argc, char **argv);
int cmd_qmp(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* Append item (borrowed) to the NULL-terminated *list of *n items, for
 * repeatable options.  0, or -1 when out of memory (list unchanged). */
int cli_list_add(char ***list, size_t *n, char *item);

/* Board search list for the CLI: extra dirs first, then $QHIL_BOARDS_PATH,
 * ./boards, the installed boards and the source tree's.  NULL-terminated,
 * malloc'ed (strings too); free with qhil_argv_free. */
char **cli_board_dirs(char *const *extra, size_t n_extra);

/* Where qhil's own QEMU build is looked for, before PATH: extra dirs,
 * then $QHIL_QEMU_PATH, the installed libexec dir and the source tree's
 * build-qemu/bin.  Same ownership as cli_board_dirs. */
char **cli_qemu_dirs(char *const *extra, size_t n_extra);

#endif /* QHIL_CLI_H */
