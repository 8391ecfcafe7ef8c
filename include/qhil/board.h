/*
 * qhil/board.h - board templates: how to start QEMU for one kind of board.
 *
 * A board template is data, not code: a YAML file in boards/ (one per
 * device type, named DEVICE_TYPE.yaml) that says which QEMU binary to run,
 * which machine, and the options every job on that board gets.  A job
 * (a suite) supplies values: image paths for the template's image slots
 * ("-kernel {{KERNEL}}") and a small set of context values.  Options the
 * template marks mandatory can be neither removed nor repeated by a job,
 * and the options qhil itself owns (QMP and console wiring) are refused
 * too: a job is untrusted input.
 *
 * Template format (see docs/boards.md):
 *
 *   device_type: mps2-an385
 *   arch: arm
 *   description: ARM MPS2 with AN385 image (Cortex-M3)
 *   health_check: health/mps2-an385.yaml  # optional, see qhil health
 *   qemu:
 *     binary: qemu-system-arm
 *     machine: mps2-an385
 *     cpu: cortex-m3                  # optional
 *     memory: 16M                     # optional
 *     mandatory:                      # each a string or a list of args
 *       - -nographic
 *       - -monitor none
 *     images:                         # image name -> option template
 *       kernel: -kernel {{KERNEL}}    # any regular file, or:
 *       dtb:
 *         option: -dtb {{DTB}}
 *         accept: [dtb]               # kinds: elf, uimage, dtb, raw
 *     context:                        # what jobs may set, default none
 *       - cpu
 *       - extra_options
 *
 * A string option is split on blank space before {{NAME}} slots are
 * substituted, so an image path with spaces stays one argument.  No shell
 * is ever involved.
 */
#ifndef QHIL_BOARD_H
#define QHIL_BOARD_H

#include <stdbool.h>
#include <stddef.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct qhil_board qhil_board;

/*
 * One value a job gives a board: an image (name "kernel", value a path).
 * origin ("suite.yaml:7") prefixes error messages about the value; it may
 * be NULL.  All strings are borrowed for the duration of the call.
 */
typedef struct qhil_board_value {
    const char *name;
    const char *value;
    const char *origin;
} qhil_board_value;

/* The values a job applies to a template.  Everything borrowed. */
typedef struct qhil_board_job {
    const qhil_board_value *images; /* image slots to fill */
    size_t n_images;
    const char *cpu; /* context cpu, or NULL for the template's */
    const char *cpu_origin;
    bool cpu_by_site; /* cpu is the site's (its device dictionary): the
                         template need not let jobs choose it */
    const char *const *extra_options; /* extra QEMU args, appended */
    size_t n_extra_options;
    const char *extra_origin;
    /* Values for "machine", "memory" and the template's variables
     * (qemu.variables), each with its origin (the site's or the job's);
     * who may set which is the job layer's decision (job.h). */
    const qhil_board_value *vars;
    size_t n_vars;
    /* Checking a template alone (qhil validate): a variable that only
     * the site can give a value stays "{{name}}" instead of an error. */
    bool template_only;
} qhil_board_job;

/*
 * Load and validate a template.  On error, err names the file, line and
 * field.  Caller frees *out with qhil_board_free.  Reads the file; does
 * not block otherwise.
 */
int qhil_board_load(const char *path, qhil_board **out, qhil_error *err);

/* Free a template; NULL is fine. */
void qhil_board_free(qhil_board *board);

/*
 * Find DEVICE_TYPE.yaml in dirs (tried in order; NULL-terminated list).
 * device_type must be a plain name ([A-Za-z0-9._-], no '/', not starting
 * with '.').  *path_out is malloc'ed, caller frees.  QHIL_ENOENT when no
 * dir has it, with a message that lists the dirs searched.
 */
int qhil_board_find(const char *device_type, const char *const *dirs,
                    char **path_out, qhil_error *err);

/* Accessors; borrowed strings valid while the board lives. */
const char *qhil_board_device_type(const qhil_board *board);
const char *qhil_board_arch(const qhil_board *board);
const char *qhil_board_binary(const qhil_board *board);
const char *qhil_board_path(const qhil_board *board);

/*
 * The template's health-check suite (its "health_check:" key), joined to
 * the template's folder when it was relative: "boards/health/x.yaml" for
 * "health/x.yaml" in "boards/x.yaml".  NULL when the template names none.
 * Only the path is checked at load time, not the file.  Borrowed.
 */
const char *qhil_board_health_check(const qhil_board *board);

/*
 * Build QEMU's argv (binary first, NULL-terminated) from the template and
 * the job values:
 *   binary -machine M [-cpu C] [-m MEM] mandatory... image slots...
 *   extra_options...
 * Fails with QHIL_EINVAL naming the value's origin when the job gives an
 * image the board has no slot for, sets a context value the template does
 * not allow, or passes an extra option that repeats a mandatory option or
 * one qhil owns (-qmp, -mon, -monitor, -serial, -chardev with an id
 * starting "qhil", -daemonize, -pidfile, -machine/-M, -m, -nographic,
 * -kernel and the other image options).
 * Each image value must name a regular, readable, non-empty file of a
 * kind its slot accepts (an ELF of the board's arch for "accept: [elf]");
 * otherwise QHIL_EINVAL (QHIL_ENOENT when it is gone) with
 * "ORIGIN: images.NAME: image file PATH REASON (board B, slot NAME: ...)".
 * This reads at most the first 64 bytes of each image and never waits on
 * a FIFO or device; nothing else blocks.
 * Caller frees *argv_out with qhil_argv_free.
 */
int qhil_board_argv(const qhil_board *board, const qhil_board_job *job,
                    char ***argv_out, qhil_error *err);

/* Free a NULL-terminated, malloc'ed argv; NULL is fine. */
void qhil_argv_free(char **argv);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_BOARD_H */
