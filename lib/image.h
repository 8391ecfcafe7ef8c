/*
 * image.h - checking firmware image files before QEMU sees them; not
 * installed.
 *
 * A suite names image files; a board template says, per image slot, which
 * kinds of file the slot accepts.  qhil_image_check() looks at a file the
 * way QEMU would but without waiting on it: what it is (regular file,
 * directory, FIFO, device...), whether it can be read, whether it is
 * empty, and from its first bytes whether it is of an accepted kind.
 *
 * Kinds are named in templates ("accept: [elf]"); the names and their
 * checks are the table in image.c:
 *   elf     an ELF executable (ET_EXEC or ET_DYN) with a whole header; for a
 *           board whose arch is known, of that machine and word size
 *   uimage  a U-Boot image (magic 27 05 19 56, 64-byte header)
 *   dtb     a flattened device tree (magic d0 0d fe ed)
 *   raw     any non-empty regular file (a raw kernel, a ROM dump)
 * A slot that declares no kind accepts any non-empty regular file.
 */
#ifndef QHIL_IMAGE_H
#define QHIL_IMAGE_H

#include <qhil/error.h>

/* Image kinds, as bits of a slot's accepted set. */
enum {
    QHIL_IMAGE_ELF = 1 << 0,
    QHIL_IMAGE_UIMAGE = 1 << 1,
    QHIL_IMAGE_DTB = 1 << 2,
    QHIL_IMAGE_RAW = 1 << 3,
};

/* An accepted set of 0: no kind declared, any regular file. */
#define QHIL_IMAGE_ANY 0u

/* The bit of the kind called name ("elf"), or 0 when there is none. */
unsigned qhil_image_kind(const char *name);

/* "elf, uimage, dtb, raw": every kind name, for messages.  Static. */
const char *qhil_image_kind_names(void);

/* True when something (a file, a folder, a broken or looping symlink) is
 * at path: the place an image search stops to report what is wrong. */
int qhil_image_exists(const char *path);

/*
 * Check the file at path (symlinks followed): it must exist, be a regular
 * file, be readable and not empty, and, unless kinds is QHIL_IMAGE_ANY,
 * be of one of the kinds in kinds.  arch (the board's "arch:", may be NULL)
 * narrows elf to that machine when qhil knows it (arm, aarch64, riscv32,
 * riscv64, i386, x86_64); for another arch any machine is accepted.
 *
 * On failure err gets the reason alone, worded to follow the file's name
 * ("is a directory, not a regular file", "is empty", "is an ELF for
 * RISC-V 64-bit, but the board runs arm (Arm 32-bit)"); the caller adds
 * where the name came from.  QHIL_ENOENT when nothing is at path,
 * QHIL_EINVAL for everything else, QHIL_ENOMEM.
 *
 * Does not block: the type is known from stat() before the file is
 * opened, the open is O_NONBLOCK (a FIFO swapped in meanwhile does not
 * hang it) and at most the first 64 bytes are read.
 */
int qhil_image_check(const char *path, unsigned kinds, const char *arch,
                     qhil_error *err);

/*
 * Confine an image file to the folders a job may read from: the job's own
 * folder (job_dir, may be NULL) and the site's image folders (site_dirs,
 * NULL-terminated, may be NULL).  path is resolved with realpath(3),
 * every symlink on the way included (a relative path is relative to the
 * current directory, as for open); each folder is resolved the same way,
 * so a folder that is itself a symlink works.  The file is inside a
 * folder when its resolved path starts with the folder's followed by a
 * '/': /srv/img does not contain /srv/images2, nor is it inside itself.
 * Then what is there must be a regular file: a directory, FIFO, socket or
 * device node is refused by its type, from lstat, without opening it.
 *
 * On success *resolved gets the resolved path (malloc'ed, caller frees):
 * give that to QEMU, not path, so no symlink is followed again later.
 * On failure *resolved is NULL and err has a whole message, e.g.
 *   image file P resolves to R, outside the job's folder D and the site's
 *   image folders (A, B)
 *   image file P (R) is a FIFO (named pipe), not a regular file
 *   image file P is a symlink loop (too many levels of symbolic links)
 * QHIL_ENOENT when nothing is at path or a symlink on the way dangles,
 * QHIL_EINVAL for every other refusal, QHIL_ENOMEM.  Never blocks: no
 * file is opened.  What it cannot see is a change made after it returns
 * inside an allowed folder (a component of *resolved swapped for a
 * symlink); the allowed folders are the job's and the site's own.
 */
int qhil_image_confine(const char *path, const char *job_dir,
                       const char *const *site_dirs, char **resolved,
                       qhil_error *err);

#endif /* QHIL_IMAGE_H */
