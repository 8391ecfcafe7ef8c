/*
 * boardargs.h - the labelled form of qhil_board_argv(), for job.c; not
 * installed.
 */
#ifndef QHIL_BOARDARGS_H
#define QHIL_BOARDARGS_H

#include <qhil/board.h>
#include <qhil/error.h>

/*
 * qhil_board_argv(), and with it, when kinds_out / sources_out are not
 * NULL, the label (QHIL_ARG_..., job.h) of each argument in a malloc'ed
 * array of the argv's length, and its source ("FILE:LINE" of the
 * template entry, the template's path, or the job value's origin) in a
 * NULL-terminated malloc'ed list (free with qhil_argv_free).  All three
 * are NULL on failure.
 */
int qhil_board_argv_labelled(const qhil_board *board, const qhil_board_job *job,
                             char ***argv_out, int **kinds_out,
                             char ***sources_out, qhil_error *err);

/*
 * What the job layer asks a template, beyond board.h: whether it lets a
 * job set a context value ("cpu", "extra_options", "machine", "memory",
 * "arch", "guestfs"), whether it may run under KVM, its machine, and its
 * template variables (name, and whether a job may set it: otherwise only
 * the site may).
 */
int qhil_board_allows(const qhil_board *board, const char *name);
int qhil_board_kvm(const qhil_board *board);
const char *qhil_board_machine(const qhil_board *board);
size_t qhil_board_n_vars(const qhil_board *board);
const char *qhil_board_var_name(const qhil_board *board, size_t i);
int qhil_board_var_by_job(const qhil_board *board, size_t i);

/* The template's lava.context value for name ("model", "netdevice",
 * "mac_addr"), NULL when it sets none.  Borrowed. */
const char *qhil_board_lava(const qhil_board *board, const char *name);

#endif /* QHIL_BOARDARGS_H */
