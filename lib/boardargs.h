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

#endif /* QHIL_BOARDARGS_H */
