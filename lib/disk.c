/*
 * disk.c - scratch qcow2 test disks: size, qemu-img, the -drive value.
 *
 * Making a disk:
 *
 *   qhil_file_create(PATH, O_EXCL|O_NOFOLLOW)   the name is ours, or an
 *        |                                      error: nothing existing is
 *        v                                      ever overwritten
 *   qemu-img create -q -f qcow2 PATH BYTES      under the proc.h guard,
 *        |                                      clean environment, output
 *        |                                      capped, deadline
 *        +-- fails --> unlink PATH if it is still the file we made
 *        v
 *   done: the caller attaches qhil_disk_drive_arg(PATH, ...)
 *
 * qemu-img writes into the file it finds (the file protocol opens with
 * O_CREAT and truncates), so reserving the name first is what makes "no
 * overwrite" hold without a window between a check and qemu-img's open.
 *
 * Names reach qemu-img and QEMU in two forms that parse them: qemu-img's
 * positional filename and -drive's file= take "PROTOCOL:..." when a ':'
 * comes before any '/', so a relative name gets "./" in front; -drive is
 * an option list, so every ',' in the name is doubled.  The interface and
 * drive id are allowlisted, never escaped: they come from a job.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "internal.h"
#include "proc.h"

/* What a qemu-img run keeps of its output. */
#define DISK_IMG_OUTPUT_CAP (16 * 1024)
/* The longest drive id accepted. */
#define DISK_ID_MAX 64

static const char *const interfaces[] = {"ide", "scsi", "virtio", "none"};

int qhil_disk_parse_size(const char *text, unsigned long long *bytes,
                         qhil_error *err)
{
    unsigned long long value = 0;
    unsigned shift = 20; /* plain numbers are MiB */
    const char *p = text;

    *bytes = 0;
    if (!text || !*text) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "disk size is empty: give a number of MiB "
                              "(\"512\") or one with K, M or G (\"2G\")");
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (value > (~0ULL - 9) / 10) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "disk size '%s' is too large: at most "
                                  "64G",
                                  text);
        }
        value = value * 10 + (unsigned)(*p - '0');
    }
    if (p == text) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "disk size '%s' is not a number: give a "
                              "number of MiB (\"512\") or one with K, M "
                              "or G (\"2G\")",
                              text);
    }
    if (*p == 'K' || *p == 'k') {
        shift = 10;
        p++;
    } else if (*p == 'M' || *p == 'm') {
        shift = 20;
        p++;
    } else if (*p == 'G' || *p == 'g') {
        shift = 30;
        p++;
    }
    if (*p) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "disk size '%s': unexpected '%s' after the "
                              "number; only K, M or G may follow it",
                              text, p);
    }
    if (value == 0) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "disk size '%s' is zero; a test disk needs "
                              "at least 1K",
                              text);
    }
    if (value > (QHIL_DISK_MAX_BYTES >> shift)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "disk size '%s' is over the limit of 64G", text);
    }
    *bytes = value << shift;
    return QHIL_EOK;
}

int qhil_disk_find_img(const char *const *dirs, char **out)
{
    *out = NULL;
    for (size_t i = 0; dirs && dirs[i]; i++) {
        char *cand = NULL;

        if (asprintf(&cand, "%s/qemu-img", dirs[i]) < 0) {
            return QHIL_ENOMEM;
        }
        if (access(cand, X_OK) == 0) {
            *out = cand;
            return QHIL_EOK;
        }
        free(cand);
    }
    return qhil_proc_find("qemu-img", out) == QHIL_EOK ? QHIL_EOK : QHIL_ENOENT;
}

/* path as qemu-img and QEMU must see it: "./" before a relative name. */
static char *disk_safe_path(const char *path)
{
    char *s = NULL;

    if (path[0] == '/') {
        return strdup(path);
    }
    return asprintf(&s, "./%s", path) < 0 ? NULL : s;
}

/* The last non-empty line of text (or all of it when short). */
static int last_line_len(const char *text, const char **start)
{
    const char *end = text + strlen(text);
    const char *s;

    while (end > text && (end[-1] == '\n' || end[-1] == '\r')) {
        end--;
    }
    s = end;
    while (s > text && s[-1] != '\n') {
        s--;
    }
    *start = s;
    return (int)(end - s);
}

int qhil_disk_create(const char *qemu_img, const char *path,
                     unsigned long long bytes, int64_t deadline,
                     qhil_error *err)
{
    char size[32];
    char *safe = NULL;
    char *out = NULL;
    char *argv[] = {(char *)qemu_img, "create", "-q", "-f",
                    "qcow2",          NULL,     size, NULL};
    char *envp[] = {"LC_ALL=C", NULL};
    qhil_spawn sp = {.argv = argv, .envp = envp, .stdin_fd = -1};
    struct stat made;
    struct stat now;
    char desc[64];
    int status = 0;
    int made_it = 0;
    int fd = -1;
    int rc;

    if (!qemu_img || !*qemu_img || !path || !*path) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "a disk needs a qemu-img and a path");
    }
    if (bytes == 0 || bytes > QHIL_DISK_MAX_BYTES) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "disk size %llu bytes is not between 1 and "
                              "64G",
                              bytes);
    }
    snprintf(size, sizeof(size), "%llu", bytes);
    safe = disk_safe_path(path);
    if (!safe) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    argv[5] = safe;
    rc = qhil_file_create(path, O_WRONLY, &fd, err);
    if (rc < 0) {
        goto cleanup;
    }
    /* Held open until the end: while it is, its inode number cannot be
     * reused, so a file put in its place is never taken for ours. */
    made_it = fstat(fd, &made) == 0;
    rc = qhil_proc_run(&sp, deadline, DISK_IMG_OUTPUT_CAP, &status, &out, NULL,
                       err);
    if (rc == QHIL_ETIMEDOUT) {
        rc = qhil_error_set(err, QHIL_ETIMEDOUT,
                            "qemu-img create %s did not finish before its "
                            "deadline; killed",
                            path);
    } else if (rc == QHIL_EOK &&
               !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        const char *line = NULL;
        int n = last_line_len(out, &line);

        rc = qhil_error_set(err, QHIL_EIO,
                            "qemu-img create %s failed (%s)%s%.*s", path,
                            qhil_proc_describe(status, desc, sizeof(desc)),
                            n ? ": " : "", n, line);
    }
    if (rc < 0 && made_it && lstat(path, &now) == 0 &&
        now.st_dev == made.st_dev && now.st_ino == made.st_ino) {
        unlink(path);
    }

cleanup:
    if (fd >= 0) {
        close(fd);
    }
    free(out);
    free(safe);
    return rc;
}

int qhil_disk_drive_arg(const char *path, const char *interface,
                        const char *driveid, char **out, qhil_error *err)
{
    const char *id = driveid ? driveid : QHIL_DISK_DRIVEID;
    char *safe = NULL;
    qhil_buf b;
    size_t i;
    int known = 0;
    int rc;

    *out = NULL;
    if (!path || !*path) {
        return qhil_error_set(err, QHIL_EINVAL, "the test disk has no path");
    }
    for (i = 0; interface && i < QHIL_ARRAY_SIZE(interfaces); i++) {
        known |= !strcmp(interface, interfaces[i]);
    }
    if (!known) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "guestfs_interface '%s' is not one of ide, "
                              "scsi, virtio, none",
                              interface ? interface : "");
    }
    rc = (id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z');
    for (i = 1; rc && id[i]; i++) {
        char c = id[i];

        rc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    }
    if (!rc || strlen(id) > DISK_ID_MAX) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "guestfs_driveid '%s' is not a QEMU id: a "
                              "letter, then up to 63 letters, digits, '-', "
                              "'.' or '_'",
                              id);
    }
    safe = disk_safe_path(path);
    if (!safe) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qhil_buf_init(&b, 2 * strlen(safe) + 256);
    rc = qhil_buf_puts(&b, "format=qcow2,file=");
    for (const char *p = safe; rc == QHIL_EOK && *p; p++) {
        rc = qhil_buf_append(&b, *p == ',' ? ",," : p, *p == ',' ? 2 : 1);
    }
    if (rc == QHIL_EOK) {
        rc = qhil_buf_printf(&b, ",media=disk,if=%s,id=%s", interface, id);
    }
    if (rc == QHIL_EOK) {
        *out = qhil_buf_steal(&b);
        rc = *out ? QHIL_EOK : QHIL_ENOMEM;
    }
    qhil_buf_release(&b);
    free(safe);
    return rc < 0 ? qhil_error_set(err, rc, "out of memory") : QHIL_EOK;
}
