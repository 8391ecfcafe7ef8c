/*
 * image.c - firmware image files: what they are, before QEMU sees them.
 *
 * QEMU treats a bad -kernel badly: a directory or an empty file makes it
 * abort with a terse message, a FIFO blocks its start for good, /dev/zero
 * is read until memory runs out, and an ELF for another CPU loads and then
 * runs garbage.  Every image is therefore checked here, in three steps,
 * none of which can block:
 *
 *   stat(path)  -> exists? a regular file?   (symlinks followed; a loop is
 *                                            ELOOP, said as such)
 *   open(path, O_RDONLY | O_NONBLOCK)        (readable? a FIFO swapped in
 *                                            after the stat cannot hang
 *                                            the open; fstat confirms)
 *   pread(fd, 64 bytes at 0)                 (kind, from the first bytes)
 *
 * Symlinks are followed on purpose (O_NOFOLLOW would refuse the common
 * "firmware.elf -> build/xyz.elf"); what matters is the file at the end.
 *
 * ELF headers are read by hand rather than with libelf: the check needs
 * e_ident, e_type and e_machine (the first 20 bytes) and the header size
 * of the file's class, and libelf would add a dependency to read more of
 * an untrusted file than that.
 *
 * The kinds a slot may accept are named in board templates; their names
 * and checks are the one table below, so adding a kind (a zImage, an arm64
 * Image) is one function and one row.
 *
 * Confinement (qhil_image_confine) is the other question, for jobs that
 * are not trusted: not "is it usable" but "may this job make QEMU read
 * it".  There symlinks are resolved first (realpath), the resolved path
 * must lie below the job's folder or one of the site's image folders
 * (both resolved too, compared as a prefix followed by '/'), and only
 * then is its type looked at, with lstat on the resolved path, so a FIFO
 * or device there is never opened.  The caller passes the resolved path
 * on, so QEMU does not follow the symlinks again.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "internal.h"

#define HEAD_BYTES 64

/* What the first bytes of one file showed. */
typedef struct image_head {
    unsigned char b[HEAD_BYTES];
    size_t n;       /* bytes read */
    long long size; /* file size */
} image_head;

/* A kind's check: 0 when the file is of the kind, 1 when it is not, or a
 * negative code with a reason when it is of the kind but cannot be
 * used. */
typedef int (*kind_check)(const image_head *h, const char *arch,
                          qhil_error *err);

typedef struct image_kind {
    const char *name; /* in templates */
    unsigned bit;
    const char *what; /* "an ELF file", for messages */
    kind_check check;
} image_kind;

/* A board arch qhil knows the ELF machine of. */
typedef struct elf_arch {
    const char *arch; /* as in "arch:" */
    unsigned machine; /* EM_... */
    int bits;         /* 32 or 64 */
} elf_arch;

static const elf_arch elf_arches[] = {
    {"arm", EM_ARM, 32},         {"aarch64", EM_AARCH64, 64},
    {"riscv32", EM_RISCV, 32},   {"riscv64", EM_RISCV, 64},
    {"i386", EM_386, 32},        {"x86_64", EM_X86_64, 64},
};

static const struct {
    unsigned machine;
    const char *name;
} elf_machines[] = {
    {EM_ARM, "Arm"},         {EM_AARCH64, "AArch64"}, {EM_RISCV, "RISC-V"},
    {EM_386, "x86"},         {EM_X86_64, "x86-64"},   {EM_MIPS, "MIPS"},
    {EM_PPC, "PowerPC"},     {EM_PPC64, "PowerPC"},   {EM_S390, "s390"},
    {EM_SPARC, "SPARC"},     {EM_SPARCV9, "SPARC"},   {EM_68K, "m68k"},
    {EM_SH, "SuperH"},       {EM_LOONGARCH, "LoongArch"},
};

static const char *machine_name(unsigned machine, char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(elf_machines) / sizeof(elf_machines[0]); i++) {
        if (elf_machines[i].machine == machine) {
            return elf_machines[i].name;
        }
    }
    snprintf(buf, len, "machine %u", machine);
    return buf;
}

static unsigned read16(const unsigned char *p, int big)
{
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static int check_elf(const image_head *h, const char *arch, qhil_error *err)
{
    const elf_arch *want = NULL;
    char mbuf[32];
    char wbuf[32];
    unsigned type;
    unsigned machine;
    int bits;
    int big;
    int need;
    size_t i;

    if (h->n < SELFMAG || memcmp(h->b, ELFMAG, SELFMAG) != 0) {
        return 1;
    }
    if (h->n < EI_NIDENT + 4 ||
        (h->b[EI_CLASS] != ELFCLASS32 && h->b[EI_CLASS] != ELFCLASS64) ||
        (h->b[EI_DATA] != ELFDATA2LSB && h->b[EI_DATA] != ELFDATA2MSB) ||
        h->b[EI_VERSION] != EV_CURRENT) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "starts like an ELF file but its header is "
                              "broken or cut short (%lld bytes)",
                              h->size);
    }
    bits = h->b[EI_CLASS] == ELFCLASS64 ? 64 : 32;
    need = bits == 64 ? (int)sizeof(Elf64_Ehdr) : (int)sizeof(Elf32_Ehdr);
    if (h->size < need) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "is a truncated ELF file: %lld bytes, where "
                              "the header alone takes %d",
                              h->size, need);
    }
    big = h->b[EI_DATA] == ELFDATA2MSB;
    type = read16(h->b + 16, big);
    machine = read16(h->b + 18, big);
    if (type == ET_REL) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "is an ELF relocatable object (a .o file), "
                              "not an executable: link it first");
    }
    if (type == ET_CORE) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "is an ELF core dump, not an executable");
    }
    if (type != ET_EXEC && type != ET_DYN) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "is an ELF file of type %u, not an "
                              "executable",
                              type);
    }
    for (i = 0; arch && i < sizeof(elf_arches) / sizeof(elf_arches[0]);
         i++) {
        if (!strcmp(elf_arches[i].arch, arch)) {
            want = &elf_arches[i];
        }
    }
    if (want && (want->machine != machine || want->bits != bits)) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "is an ELF for %s (%d-bit), but the board's "
                              "arch '%s' runs %s (%d-bit) code",
                              machine_name(machine, mbuf, sizeof(mbuf)),
                              bits, arch,
                              machine_name(want->machine, wbuf,
                                           sizeof(wbuf)),
                              want->bits);
    }
    return 0;
}

/* A kind known by a 4-byte big-endian magic and a least size. */
static int check_magic(const image_head *h, const unsigned char *magic,
                       long long least, const char *what, qhil_error *err)
{
    if (h->n < 4 || memcmp(h->b, magic, 4) != 0) {
        return 1;
    }
    if (h->size < least) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "is a truncated %s: %lld bytes, where the "
                              "header alone takes %lld",
                              what, h->size, least);
    }
    return 0;
}

static int check_uimage(const image_head *h, const char *arch,
                        qhil_error *err)
{
    static const unsigned char magic[4] = {0x27, 0x05, 0x19, 0x56};

    (void)arch;
    return check_magic(h, magic, 64, "U-Boot image", err);
}

static int check_dtb(const image_head *h, const char *arch, qhil_error *err)
{
    static const unsigned char magic[4] = {0xd0, 0x0d, 0xfe, 0xed};

    (void)arch;
    return check_magic(h, magic, 40, "device tree blob", err);
}

static int check_raw(const image_head *h, const char *arch, qhil_error *err)
{
    (void)h;
    (void)arch;
    (void)err;
    return 0;
}

static const image_kind kinds_table[] = {
    {"elf", QHIL_IMAGE_ELF, "an ELF file", check_elf},
    {"uimage", QHIL_IMAGE_UIMAGE, "a U-Boot image", check_uimage},
    {"dtb", QHIL_IMAGE_DTB, "a device tree blob", check_dtb},
    {"raw", QHIL_IMAGE_RAW, "a raw image", check_raw},
};

#define N_KINDS (sizeof(kinds_table) / sizeof(kinds_table[0]))

unsigned qhil_image_kind(const char *name)
{
    size_t i;

    for (i = 0; name && i < N_KINDS; i++) {
        if (!strcmp(kinds_table[i].name, name)) {
            return kinds_table[i].bit;
        }
    }
    return 0;
}

const char *qhil_image_kind_names(void)
{
    return "elf, uimage, dtb, raw";
}

int qhil_image_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

/* Why stat(path) failed, worded to follow the file's name. */
static int stat_failed(const char *path, int e, qhil_error *err)
{
    struct stat st;
    char target[256];
    ssize_t n;

    switch (e) {
    case ENOENT:
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            n = readlink(path, target, sizeof(target) - 1);
            target[n > 0 ? n : 0] = '\0';
            return qhil_error_set(err, QHIL_ENOENT,
                                  "is a symlink to '%s', which does not "
                                  "exist",
                                  target);
        }
        return qhil_error_set(err, QHIL_ENOENT, "not found");
    case ENOTDIR:
        return qhil_error_set(err, QHIL_ENOENT,
                              "not found (a part of the path before the "
                              "name is a file, not a folder)");
    case ELOOP:
        return qhil_error_set(err, QHIL_EINVAL,
                              "is a symlink loop (too many levels of "
                              "symbolic links)");
    case EACCES:
        return qhil_error_set(err, QHIL_EINVAL,
                              "cannot be reached: a folder on the way is "
                              "not searchable (%s)",
                              strerror(e));
    default:
        return qhil_error_set(err, QHIL_EINVAL, "cannot be checked: %s",
                              strerror(e));
    }
}

/* Refuse anything but a regular file, by its type. */
static int want_regular(const struct stat *st, qhil_error *err)
{
    const char *what;

    if (S_ISREG(st->st_mode)) {
        return QHIL_EOK;
    }
    if (S_ISDIR(st->st_mode)) {
        what = "a directory";
    } else if (S_ISFIFO(st->st_mode)) {
        what = "a FIFO (named pipe)";
    } else if (S_ISCHR(st->st_mode)) {
        what = "a character device";
    } else if (S_ISBLK(st->st_mode)) {
        what = "a block device";
    } else if (S_ISSOCK(st->st_mode)) {
        what = "a socket";
    } else {
        what = "not a file";
    }
    return qhil_error_set(err, QHIL_EINVAL, "is %s, not a regular file",
                          what);
}

/* "it starts with 48 65 6c 6c ("Hell")" for a wrong kind. */
static void describe_start(const image_head *h, char *buf, size_t len)
{
    size_t n = h->n < 4 ? h->n : 4;
    size_t used = 0;
    size_t i;
    int text = 1;

    used += (size_t)snprintf(buf, len, "it starts with");
    for (i = 0; i < n && used < len; i++) {
        used += (size_t)snprintf(buf + used, len - used, " %02x", h->b[i]);
        if (h->b[i] < 0x20 || h->b[i] > 0x7e) {
            text = 0;
        }
    }
    if (text && used < len) {
        snprintf(buf + used, len - used, " (\"%.*s\")", (int)n,
                 (const char *)h->b);
    }
}

/* Match the head against the accepted kinds. */
static int check_kinds(const image_head *h, unsigned kinds, const char *arch,
                       qhil_error *err)
{
    char start[64];
    qhil_buf list;
    size_t i;
    int n = 0;
    int rc;

    for (i = 0; i < N_KINDS; i++) {
        if (!(kinds & kinds_table[i].bit)) {
            continue;
        }
        rc = kinds_table[i].check(h, arch, err);
        if (rc <= 0) {
            return rc; /* this kind, usable or not */
        }
    }
    qhil_buf_init(&list, 4096);
    for (i = 0; i < N_KINDS; i++) {
        if (kinds & kinds_table[i].bit) {
            qhil_buf_printf(&list, "%s%s", n++ ? " or " : "",
                            kinds_table[i].what);
        }
    }
    describe_start(h, start, sizeof(start));
    rc = qhil_error_set(err, QHIL_EINVAL, "is not %s: %s",
                        list.data ? list.data : "of an accepted kind",
                        start);
    qhil_buf_release(&list);
    return rc;
}

int qhil_image_check(const char *path, unsigned kinds, const char *arch,
                     qhil_error *err)
{
    image_head h;
    struct stat st;
    struct stat fst;
    ssize_t n;
    int fd = -1;
    int rc;

    memset(&h, 0, sizeof(h));
    if (stat(path, &st) < 0) {
        return stat_failed(path, errno, err);
    }
    rc = want_regular(&st, err);
    if (rc < 0) {
        return rc;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return qhil_error_set(err, errno == ENOENT ? QHIL_ENOENT : QHIL_EINVAL,
                              "is not readable: %s", strerror(errno));
    }
    if (fstat(fd, &fst) < 0) {
        rc = qhil_error_set(err, QHIL_EINVAL, "cannot be checked: %s",
                            strerror(errno));
        goto cleanup;
    }
    /* Replaced between stat and open: check what was opened. */
    rc = want_regular(&fst, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (fst.st_size == 0) {
        rc = qhil_error_set(err, QHIL_EINVAL, "is empty (0 bytes)");
        goto cleanup;
    }
    h.size = (long long)fst.st_size;
    n = pread(fd, h.b, sizeof(h.b), 0);
    if (n < 0) {
        rc = qhil_error_set(err, QHIL_EINVAL, "is not readable: %s",
                            strerror(errno));
        goto cleanup;
    }
    h.n = (size_t)n;
    rc = kinds == QHIL_IMAGE_ANY ? QHIL_EOK
                                 : check_kinds(&h, kinds, arch, err);

cleanup:
    close(fd);
    return rc;
}

/* "a FIFO (named pipe)": what a non-regular file is. */
static const char *file_type(mode_t mode)
{
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISFIFO(mode)) {
        return "a FIFO (named pipe)";
    }
    if (S_ISCHR(mode)) {
        return "a character device";
    }
    if (S_ISBLK(mode)) {
        return "a block device";
    }
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    if (S_ISLNK(mode)) {
        return "a symlink";
    }
    return "not a file";
}

/* real is below root (both resolved): root's bytes, then a '/'. */
static int below(const char *real, const char *root)
{
    size_t n = strlen(root);

    if (n == 1 && root[0] == '/') {
        return real[0] == '/' && real[1] != '\0';
    }
    return strncmp(real, root, n) == 0 && real[n] == '/';
}

/* The folder dir, resolved (a folder that does not resolve holds
 * nothing), has real below it. */
static int root_contains(const char *dir, const char *real)
{
    char *root = realpath(dir, NULL);
    int in = root && below(real, root);

    free(root);
    return in;
}

/* Why realpath(path) failed, as a whole message. */
static int confine_unresolved(const char *path, int e, qhil_error *err)
{
    char target[256];
    struct stat st;
    ssize_t n;

    switch (e) {
    case ENOENT:
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            n = readlink(path, target, sizeof(target) - 1);
            target[n > 0 ? n : 0] = '\0';
            return qhil_error_set(err, QHIL_ENOENT,
                                  "image file %s is a dangling symlink (to "
                                  "'%s', which does not exist)",
                                  path, target);
        }
        if (lstat(path, &st) == 0) {
            return qhil_error_set(err, QHIL_ENOENT,
                                  "image file %s goes through a dangling "
                                  "symlink",
                                  path);
        }
        return qhil_error_set(err, QHIL_ENOENT, "image file %s not found",
                              path);
    case ELOOP:
        return qhil_error_set(err, QHIL_EINVAL,
                              "image file %s is a symlink loop (too many "
                              "levels of symbolic links)",
                              path);
    case ENAMETOOLONG:
        return qhil_error_set(err, QHIL_EINVAL,
                              "image file %.80s... has a path too long "
                              "(%zu bytes, or resolves to one)",
                              path, strlen(path));
    case ENOTDIR:
        return qhil_error_set(err, QHIL_ENOENT,
                              "image file %s not found (a part of the path "
                              "before the name is a file, not a folder)",
                              path);
    case EACCES:
        return qhil_error_set(err, QHIL_EINVAL,
                              "image file %s cannot be reached: a folder on "
                              "the way is not searchable",
                              path);
    default:
        return qhil_error_set(err, QHIL_EINVAL,
                              "image file %s cannot be resolved: %s", path,
                              strerror(e));
    }
}

/* "outside the job's folder D and the site's image folders (A, B)". */
static int confine_outside(const char *path, const char *real,
                           const char *job_dir,
                           const char *const *site_dirs, qhil_error *err)
{
    qhil_buf where;
    int rc;

    qhil_buf_init(&where, 64 * 1024);
    if (job_dir) {
        qhil_buf_printf(&where, "the job's folder %s", job_dir);
    }
    if (site_dirs && site_dirs[0]) {
        qhil_buf_printf(&where, "%sthe site's image folders (",
                        job_dir ? " and " : "");
        for (size_t i = 0; site_dirs[i]; i++) {
            qhil_buf_printf(&where, "%s%s", i ? ", " : "", site_dirs[i]);
        }
        qhil_buf_puts(&where, ")");
    }
    if (!where.len) {
        qhil_buf_puts(&where, "every allowed folder (none is set)");
    }
    rc = qhil_error_set(err, QHIL_EINVAL, "image file %s resolves to %s, "
                        "outside %s",
                        path, real, where.data ? where.data : "?");
    qhil_buf_release(&where);
    return rc;
}

int qhil_image_confine(const char *path, const char *job_dir,
                       const char *const *site_dirs, char **resolved,
                       qhil_error *err)
{
    char *real = NULL;
    struct stat st;
    int inside = 0;
    int rc;

    *resolved = NULL;
    if (!path || !*path) {
        return qhil_error_set(err, QHIL_EINVAL, "image file name is empty");
    }
    if (strlen(path) >= PATH_MAX) {
        return confine_unresolved(path, ENAMETOOLONG, err);
    }
    real = realpath(path, NULL);
    if (!real) {
        return confine_unresolved(path, errno, err);
    }
    inside = job_dir && root_contains(job_dir, real);
    for (size_t i = 0; !inside && site_dirs && site_dirs[i]; i++) {
        inside = root_contains(site_dirs[i], real);
    }
    if (!inside) {
        rc = confine_outside(path, real, job_dir, site_dirs, err);
        goto cleanup;
    }
    if (lstat(real, &st) < 0) {
        rc = confine_unresolved(path, errno, err);
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "image file %s%s%s%s is %s, not a regular file",
                            path, strcmp(path, real) ? " (" : "",
                            strcmp(path, real) ? real : "",
                            strcmp(path, real) ? ")" : "",
                            file_type(st.st_mode));
        goto cleanup;
    }
    *resolved = real;
    real = NULL;
    rc = QHIL_EOK;

cleanup:
    free(real);
    return rc;
}
