/*
 * disk.h - scratch test disks, as LAVA attaches them (internal).
 *
 * A job that sets guestfs_size gets an empty qcow2 disk made for its run
 * with qemu-img and attached with
 *   -drive format=qcow2,file=PATH,media=disk,if=INTERFACE,id=DRIVEID
 * (guestfs_interface: ide, scsi, virtio, or none, for which the job names
 * its own "-device ...,drive=DRIVEID"; guestfs_driveid, "lavatest" by
 * default).  The caller chooses PATH inside the run folder it just made
 * and deletes the disk after the run unless asked to keep it.
 */
#ifndef QHIL_DISK_H
#define QHIL_DISK_H

#include <stdint.h>

#include <qhil/clock.h>
#include <qhil/error.h>

/* The largest disk a job may ask for: 64 GiB. */
#define QHIL_DISK_MAX_BYTES (64ULL << 30)

/* LAVA's drive id when the job names none. */
#define QHIL_DISK_DRIVEID "lavatest"

/* How long qemu-img may take when the caller has no better deadline. */
#define QHIL_DISK_CREATE_WAIT (30 * QHIL_SEC)

/*
 * Parse a disk size as LAVA's guestfs_size has it: a plain number is MiB
 * ("512"); with a K, M or G suffix (either case) it is KiB, MiB or GiB
 * ("4096K", "512M", "2G").  Digits only before the suffix: no sign, no
 * space, no fraction, no hex.  0, over QHIL_DISK_MAX_BYTES and overflow
 * are refused.  QHIL_EINVAL with a message quoting text and saying what
 * is accepted.  Does not block.
 */
int qhil_disk_parse_size(const char *text, unsigned long long *bytes,
                         qhil_error *err);

/*
 * Find qemu-img: in each of dirs (NULL-terminated, may be NULL; qhil's own
 * QEMU folders) first, then in PATH (Debian: package qemu-utils).
 * *out malloc'ed, caller frees.  QHIL_ENOENT when there is none.
 */
int qhil_disk_find_img(const char *const *dirs, char **out);

/*
 * Create an empty qcow2 disk of bytes at path with "qemu_img create -q -f
 * qcow2 PATH BYTES", run under the proc.h guard with an environment of
 * LC_ALL=C alone, stdin /dev/null, its output captured (16 KiB) and no
 * shell.  Nothing at path may exist yet: the file is first created by us
 * with O_EXCL|O_NOFOLLOW (a file or a symlink there is refused with
 * -EEXIST and left as it was), then qemu-img writes into it.  A relative
 * path is given to qemu-img as "./PATH", so a name like "nbd:host:10809"
 * is a file, not a protocol.  On failure (QHIL_EIO with qemu-img's own
 * last line, QHIL_ETIMEDOUT past deadline, QHIL_ESPAWN) the file made is
 * removed again.  Blocks until qemu-img exits, at most until deadline
 * (then it is killed and reaped).
 */
int qhil_disk_create(const char *qemu_img, const char *path,
                     unsigned long long bytes, int64_t deadline,
                     qhil_error *err);

/*
 * The -drive value for the disk at path in *out (malloc'ed, caller
 * frees): "format=qcow2,file=PATH,media=disk,if=INTERFACE,id=DRIVEID",
 * with every comma of PATH doubled (QEMU's option-list escape) and "./"
 * before a relative PATH.  interface is one of ide, scsi, virtio, none;
 * driveid (NULL: QHIL_DISK_DRIVEID) a QEMU id: a letter, then letters,
 * digits, '-', '.' or '_', at most 64 of them.  QHIL_EINVAL naming the
 * value and what is accepted.  Does not block.
 */
int qhil_disk_drive_arg(const char *path, const char *interface,
                        const char *driveid, char **out, qhil_error *err);

#endif /* QHIL_DISK_H */
