/*
 * board.c - board templates and the QEMU command lines built from them.
 *
 * A template (boards/DEVICE_TYPE.yaml) is loaded once and checked
 * strictly: unknown keys, missing fields, image slots whose {{NAME}} does
 * not match their own image, and options that qhil itself owns are all
 * refused with the file and line.  qhil_board_argv() then combines the
 * template with one job's values.  The job is untrusted: it may only fill
 * the template's image slots and the context values the template lists,
 * and its extra options may not repeat or override anything the template
 * or the harness controls.
 *
 * Option words are split on blank space before {{NAME}} is replaced, so a
 * path with spaces stays one argument.  When a slot sits inside a larger
 * word ("file={{DISK}},format=raw"), QEMU reads that word as a
 * comma-separated option list, so commas in the path are doubled, which
 * is QEMU's escape for a literal comma there.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <qhil/board.h>
#include <qhil/job.h>

#include "boardargs.h"
#include "image.h"
#include "internal.h"
#include "yamlutil.h"

/* One mandatory entry or image slot: the words it expands to. */
typedef struct board_opt {
    char *name;   /* image name for a slot, NULL for a mandatory entry */
    char *text;   /* as written, for messages */
    char **words; /* NULL-terminated */
    size_t n_words;
    int line;
    unsigned accept; /* slot: QHIL_IMAGE_... kinds, 0 for any file */
} board_opt;

/* A template variable: "{{name}}" in a mandatory option. */
typedef struct board_var {
    char *name;
    char *def;     /* default value, or NULL: the site must set it */
    char *pattern; /* PCRE2, matched against the whole value */
    int set_by_job;
    int line;
} board_var;

struct qhil_board {
    char *path;
    char *device_type;
    char *arch;
    char *description;
    char *health_check; /* the health suite's path, or NULL */
    char *lava[3];      /* lava.context values by lava_names, or NULL */
    char *binary;
    char *machine;
    char *cpu;
    char *memory;
    board_opt *mandatory;
    size_t n_mandatory;
    board_opt *images;
    size_t n_images;
    unsigned allow; /* CTX_... bits: what a job may set */
    int kvm;        /* the board may run under KVM */
    board_var *vars;
    size_t n_vars;
};

/* Context values a template can let jobs set, as bits of allow, in the
 * order of context_names. */
#define CTX_CPU 1u
#define CTX_EXTRA 2u
static const char *const context_names[] = {
    "cpu", "extra_options", "machine", "memory", "arch", "guestfs", NULL,
};

/*
 * Options the harness wires itself: never in a template or a job.
 * -readconfig is here because a config file can define monitors and
 * serial ports behind our back; -object because it can start a second
 * QTest server; -accel because the suite's "accel:" decides it.
 */
static const char *const harness_options[] = {
    "-qmp", "-qmp-pretty", "-mon", "-serial", "-daemonize",
    "-pidfile", "-readconfig", "-qtest", "-qtest-log", "-object", "-accel",
    NULL,
};

/* Options that carry firmware images: only through image slots. */
static const char *const image_options[] = {
    "-kernel", "-initrd", "-dtb", "-bios", "-pflash", NULL,
};

static const char *const top_keys[] = {
    "device_type", "arch", "description", "health_check", "lava", "qemu",
    NULL,
};

/* What lava.context may hold: LAVA's qemu device type's names for what
 * it adds to every job's command line and a board may need changed (the
 * NIC: -net nic,MODEL,macaddr=MAC_ADDR -net NETDEVICE). */
static const char *const lava_names[] = {
    "model", "netdevice", "mac_addr", NULL,
};

static const char *const lava_keys[] = {
    "context", NULL,
};

static const char *const qemu_keys[] = {
    "binary", "machine", "cpu", "memory", "mandatory", "images", "context",
    "variables", "kvm", NULL,
};

static const char *const var_keys[] = {
    "default", "pattern", "set_by", NULL,
};

/* What a variable may hold unless the template says: one plain word. */
#define DEFAULT_VAR_PATTERN "[A-Za-z0-9][A-Za-z0-9._:+-]*"

static void opt_release(board_opt *o)
{
    free(o->name);
    free(o->text);
    qhil_words_free(o->words);
    memset(o, 0, sizeof(*o));
}

void qhil_board_free(qhil_board *board)
{
    size_t i;

    if (!board) {
        return;
    }
    for (i = 0; i < board->n_mandatory; i++) {
        opt_release(&board->mandatory[i]);
    }
    for (i = 0; i < board->n_images; i++) {
        opt_release(&board->images[i]);
    }
    for (i = 0; i < board->n_vars; i++) {
        free(board->vars[i].name);
        free(board->vars[i].def);
        free(board->vars[i].pattern);
    }
    free(board->vars);
    free(board->mandatory);
    free(board->images);
    free(board->path);
    free(board->device_type);
    free(board->arch);
    free(board->description);
    free(board->health_check);
    for (i = 0; i < QHIL_ARRAY_SIZE(board->lava); i++) {
        free(board->lava[i]);
    }
    free(board->binary);
    free(board->machine);
    free(board->cpu);
    free(board->memory);
    free(board);
}

const char *qhil_board_device_type(const qhil_board *board)
{
    return board->device_type;
}

const char *qhil_board_arch(const qhil_board *board)
{
    return board->arch;
}

const char *qhil_board_health_check(const qhil_board *board)
{
    return board->health_check;
}

const char *qhil_board_lava(const qhil_board *board, const char *name)
{
    size_t i;

    for (i = 0; lava_names[i]; i++) {
        if (strcmp(lava_names[i], name) == 0) {
            return board->lava[i];
        }
    }
    return NULL;
}

const char *qhil_board_binary(const qhil_board *board)
{
    return board->binary;
}

int qhil_board_allows(const qhil_board *board, const char *name)
{
    size_t k;

    for (k = 0; context_names[k]; k++) {
        if (!strcmp(context_names[k], name)) {
            return (board->allow & (1u << k)) != 0;
        }
    }
    return 0;
}

int qhil_board_kvm(const qhil_board *board)
{
    return board->kvm;
}

const char *qhil_board_machine(const qhil_board *board)
{
    return board->machine;
}

size_t qhil_board_n_vars(const qhil_board *board)
{
    return board->n_vars;
}

const char *qhil_board_var_name(const qhil_board *board, size_t i)
{
    return i < board->n_vars ? board->vars[i].name : NULL;
}

int qhil_board_var_by_job(const qhil_board *board, size_t i)
{
    return i < board->n_vars && board->vars[i].set_by_job;
}

const char *qhil_board_path(const qhil_board *board)
{
    return board->path;
}

static int in_list(const char *const *list, const char *s)
{
    size_t i;

    for (i = 0; list[i]; i++) {
        if (strcmp(list[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* QEMU reads "--opt" as "-opt"; compare options in the one-dash form. */
static const char *option_name(const char *word)
{
    if (word[0] == '-' && word[1] == '-' && word[2]) {
        return word + 1;
    }
    return word;
}

static int valid_device_type(const char *s)
{
    if (!*s || *s == '.') {
        return 0;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
            *s != '-') {
            return 0;
        }
    }
    return 1;
}

static int valid_image_name(const char *s)
{
    if (!islower((unsigned char)*s)) {
        return 0;
    }
    for (; *s; s++) {
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
            *s != '_') {
            return 0;
        }
    }
    return 1;
}

/* QEMU size: digits, optional fraction, optional unit letter. */
static int valid_memory(const char *s)
{
    if (!isdigit((unsigned char)*s)) {
        return 0;
    }
    while (isdigit((unsigned char)*s)) {
        s++;
    }
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s)) {
            return 0;
        }
        while (isdigit((unsigned char)*s)) {
            s++;
        }
    }
    if (*s && strchr("BKMGTPEbkmgtpe", *s)) {
        s++;
    }
    return *s == '\0';
}

/*
 * Does any comma-separated item of word name an id or chardev starting
 * with "qhil" ("id=qhil-x", "chardev=qhil-x", "chardev:qhil-x")?  Those
 * names belong to the harness's own chardevs.
 */
static int names_reserved_id(const char *word)
{
    const char *p = word;

    while (p) {
        if (strncmp(p, "id=qhil", 7) == 0 ||
            strncmp(p, "chardev=qhil", 12) == 0 ||
            strncmp(p, "chardev:qhil", 12) == 0) {
            return 1;
        }
        p = strchr(p, ',');
        if (p) {
            p++;
        }
    }
    return 0;
}

/*
 * A value that becomes one argument: no leading dash, no slots, and no
 * blank space unless allow_blank (a program path may contain spaces).
 */
static int load_word(qhil_yaml *y, yaml_node_t *node, const char *field,
                     const char *what, int allow_blank, char **out,
                     qhil_error *err)
{
    const char *p;
    int rc;

    rc = qhil_yaml_string(y, node, field, what, out, err);
    if (rc < 0) {
        return rc;
    }
    for (p = *out; !allow_blank && *p; p++) {
        if (isspace((unsigned char)*p)) {
            return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                  "'%s' contains blank space; expected %s",
                                  *out, what);
        }
    }
    if ((*out)[0] == '-') {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "'%s' starts with '-'; expected %s", *out,
                              what);
    }
    if (strstr(*out, "{{")) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "'%s': image slots ({{NAME}}) are only "
                              "allowed under qemu.images",
                              *out);
    }
    return QHIL_EOK;
}

/*
 * Read one option entry: a string split on blanks, or a list of words
 * taken verbatim.  The first word must be an option, and must not be one
 * the harness owns.
 */
static int load_opt(qhil_yaml *y, yaml_node_t *node, const char *field,
                    board_opt *o, qhil_error *err)
{
    qhil_buf text;
    yaml_node_t *item;
    const char *first;
    char *sub = NULL;
    size_t i;
    size_t n;
    int rc = QHIL_EOK;

    qhil_buf_init(&text, 1 << 16);
    o->line = qhil_yaml_line(node);
    if (node && node->type == YAML_SEQUENCE_NODE) {
        n = qhil_yaml_count(node);
        o->words = calloc(n + 1, sizeof(*o->words));
        if (!o->words) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        for (i = 0; i < n; i++) {
            free(sub);
            sub = qhil_field(field, "[%zu]", i);
            if (!sub) {
                rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
                goto cleanup;
            }
            item = qhil_yaml_item(y, node, i);
            rc = qhil_yaml_string(y, item, sub, "a QEMU argument",
                                  &o->words[i], err);
            if (rc < 0) {
                goto cleanup;
            }
            o->n_words++;
            if (qhil_buf_printf(&text, "%s%s", i ? " " : "", o->words[i]) <
                0) {
                rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
                goto cleanup;
            }
        }
        o->text = qhil_buf_steal(&text);
    } else {
        rc = qhil_yaml_string(y, node, field,
                              "an option string or a list of arguments",
                              &o->text, err);
        if (rc < 0) {
            goto cleanup;
        }
        rc = qhil_split_words(o->text, &o->words, &o->n_words);
        if (rc < 0) {
            rc = qhil_error_set(err, rc, "out of memory");
            goto cleanup;
        }
    }
    if (!o->text) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (o->n_words == 0) {
        rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                            "expected an option, got blank text");
        goto cleanup;
    }
    first = option_name(o->words[0]);
    if (first[0] != '-' || !first[1]) {
        rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                            "'%s' does not start with an option "
                            "(e.g. -nographic)",
                            o->text);
        goto cleanup;
    }
    for (i = 0; i < o->n_words; i++) {
        first = option_name(o->words[i]);
        if (in_list(harness_options, first)) {
            rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                "'%s' is owned by qhil, which wires QMP and "
                                "the console itself",
                                o->words[i]);
            goto cleanup;
        }
        if (!strcmp(first, "-machine") || !strcmp(first, "-M") ||
            !strcmp(first, "-cpu") || !strcmp(first, "-m")) {
            rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                "'%s' is set by qemu.machine, qemu.cpu or "
                                "qemu.memory, not as an option",
                                o->words[i]);
            goto cleanup;
        }
        if (names_reserved_id(o->words[i])) {
            rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                "'%s': ids starting with 'qhil' are "
                                "reserved for the harness",
                                o->words[i]);
            goto cleanup;
        }
    }

cleanup:
    free(sub);
    qhil_buf_release(&text);
    return rc;
}

/* Upper-cased copy of an image name: the text inside its {{...}} slot. */
static char *slot_name(const char *name)
{
    char *up = strdup(name);
    char *p;

    if (up) {
        for (p = up; *p; p++) {
            *p = (char)toupper((unsigned char)*p);
        }
    }
    return up;
}

/*
 * Check the {{...}} slots of an image entry: every one must be {{NAME}}
 * for this image's upper-cased name, and there must be at least one.
 */
static int check_slots(qhil_yaml *y, yaml_node_t *node, const char *field,
                       const board_opt *o, qhil_error *err)
{
    char *want = slot_name(o->name);
    const char *p;
    const char *end;
    size_t found = 0;
    size_t i;
    int rc = QHIL_EOK;

    if (!want) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < o->n_words; i++) {
        p = o->words[i];
        while ((p = strstr(p, "{{")) != NULL) {
            end = strstr(p + 2, "}}");
            if (!end) {
                rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                    "'%s': '{{' without a closing '}}' "
                                    "(write {{%s}})",
                                    o->text, want);
                goto cleanup;
            }
            if ((size_t)(end - p - 2) != strlen(want) ||
                strncmp(p + 2, want, strlen(want)) != 0) {
                rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                    "slot '%.*s' does not match the image "
                                    "name '%s' (write {{%s}})",
                                    (int)(end - p + 2), p, o->name, want);
                goto cleanup;
            }
            found++;
            p = end + 2;
        }
    }
    if (!found) {
        rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                            "'%s' has no slot for the image path (write "
                            "{{%s}} where the path goes)",
                            o->text, want);
    }

cleanup:
    free(want);
    return rc;
}

/* The variable named name, or NULL. */
static const board_var *find_var(const qhil_board *b, const char *name,
                                 size_t len)
{
    size_t i;

    for (i = 0; i < b->n_vars; i++) {
        if (strlen(b->vars[i].name) == len &&
            !strncmp(b->vars[i].name, name, len)) {
            return &b->vars[i];
        }
    }
    return NULL;
}

/* Outside image slots, {{...}} may only name a declared variable. */
static int check_var_slots(const qhil_board *b, qhil_yaml *y,
                           yaml_node_t *node, const char *field,
                           const board_opt *o, qhil_error *err)
{
    const char *p;
    const char *end;
    size_t i;

    for (i = 0; i < o->n_words; i++) {
        p = o->words[i];
        while ((p = strstr(p, "{{")) != NULL) {
            end = strstr(p + 2, "}}");
            if (!end) {
                return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                      "'%s': '{{' without a closing '}}'",
                                      o->text);
            }
            if (!find_var(b, p + 2, (size_t)(end - p - 2))) {
                return qhil_yaml_fail(
                    y, node, field, err, QHIL_EINVAL,
                    "'%s': '%.*s' is not a variable of qemu.variables "
                    "(image slots ({{NAME}}) go under qemu.images)",
                    o->text, (int)(end - p + 2), p);
            }
            p = end + 2;
        }
    }
    return QHIL_EOK;
}

static int load_mandatory(qhil_board *b, qhil_yaml *y, yaml_node_t *node,
                          qhil_error *err)
{
    char *sub = NULL;
    size_t n;
    size_t i;
    int rc;

    rc = qhil_yaml_want_sequence(y, node, "qemu.mandatory",
                                 "a list of options", err);
    if (rc < 0) {
        return rc;
    }
    n = qhil_yaml_count(node);
    b->mandatory = calloc(n ? n : 1, sizeof(*b->mandatory));
    if (!b->mandatory) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        yaml_node_t *item = qhil_yaml_item(y, node, i);

        free(sub);
        sub = qhil_field("qemu.mandatory", "[%zu]", i);
        if (!sub) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        b->n_mandatory++;
        rc = load_opt(y, item, sub, &b->mandatory[i], err);
        if (rc < 0) {
            goto cleanup;
        }
        rc = check_var_slots(b, y, item, sub, &b->mandatory[i], err);
        if (rc < 0) {
            goto cleanup;
        }
    }

cleanup:
    free(sub);
    return rc;
}

static const char *const slot_keys[] = {"option", "accept", NULL};

/* accept: one kind name or a list of them, into o->accept. */
static int load_accept(qhil_yaml *y, yaml_node_t *node, const char *field,
                       board_opt *o, qhil_error *err)
{
    yaml_node_t *item;
    const char *name;
    size_t n = 1;
    size_t i;
    unsigned bit;

    if (node && node->type == YAML_SEQUENCE_NODE) {
        n = qhil_yaml_count(node);
        if (n == 0) {
            return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                                  "expected at least one image kind (%s)",
                                  qhil_image_kind_names());
        }
    }
    for (i = 0; i < n; i++) {
        item = node && node->type == YAML_SEQUENCE_NODE
                   ? qhil_yaml_item(y, node, i)
                   : node;
        name = qhil_yaml_scalar(item, NULL);
        bit = qhil_yaml_is_null(item) ? 0 : qhil_image_kind(name);
        if (!bit) {
            return qhil_yaml_fail(y, item, field, err, QHIL_EINVAL,
                                  "'%s' is not an image kind (known: %s)",
                                  name && !qhil_yaml_is_null(item)
                                      ? name
                                      : qhil_yaml_kind(item),
                                  qhil_image_kind_names());
        }
        o->accept |= bit;
    }
    return QHIL_EOK;
}

/*
 * One slot: "-kernel {{KERNEL}}" (any file), or a mapping
 * {option: "-kernel {{KERNEL}}", accept: [elf]} that also names the
 * kinds of file the slot takes.
 */
static int load_slot(qhil_yaml *y, yaml_node_t *node, const char *field,
                     board_opt *o, qhil_error *err)
{
    yaml_node_t *option;
    yaml_node_t *accept;
    char *sub = NULL;
    int rc;

    if (!node || node->type != YAML_MAPPING_NODE) {
        rc = load_opt(y, node, field, o, err);
        return rc < 0 ? rc : check_slots(y, node, field, o, err);
    }
    rc = qhil_yaml_check_keys(y, node, field, slot_keys, err);
    if (rc < 0) {
        return rc;
    }
    option = qhil_yaml_get(y, node, "option");
    if (!option) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "missing 'option' (e.g. -kernel {{%s}})",
                              "KERNEL");
    }
    sub = qhil_field(field, ".option");
    if (!sub) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = load_opt(y, option, sub, o, err);
    if (rc == 0) {
        rc = check_slots(y, option, sub, o, err);
    }
    free(sub);
    accept = qhil_yaml_get(y, node, "accept");
    if (rc == 0 && accept) {
        sub = qhil_field(field, ".accept");
        if (!sub) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        rc = load_accept(y, accept, sub, o, err);
        free(sub);
    }
    return rc;
}

static int load_images(qhil_board *b, qhil_yaml *y, yaml_node_t *node,
                       qhil_error *err)
{
    board_opt *o;
    yaml_node_t *k;
    yaml_node_t *v;
    const char *name;
    char *sub = NULL;
    size_t n;
    size_t i;
    int rc;

    rc = qhil_yaml_want_mapping(y, node, "qemu.images",
                                "a mapping of image names to options", err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_yaml_check_unique(y, node, "qemu.images", err);
    if (rc < 0) {
        return rc;
    }
    n = qhil_yaml_count(node);
    b->images = calloc(n ? n : 1, sizeof(*b->images));
    if (!b->images) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        if (qhil_yaml_pair(y, node, i, &k, &v) < 0) {
            continue;
        }
        name = qhil_yaml_scalar(k, NULL);
        if (!valid_image_name(name)) {
            rc = qhil_yaml_fail(y, k, "qemu.images", err, QHIL_EINVAL,
                                "image name '%s' must be lower-case letters, "
                                "digits and '_', starting with a letter",
                                name);
            goto cleanup;
        }
        free(sub);
        sub = qhil_field("qemu.images", ".%s", name);
        if (!sub) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        o = &b->images[b->n_images++];
        o->name = strdup(name);
        if (!o->name) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        rc = load_slot(y, v, sub, o, err);
        if (rc < 0) {
            goto cleanup;
        }
    }

cleanup:
    free(sub);
    return rc;
}

static int load_context(qhil_board *b, qhil_yaml *y, yaml_node_t *node,
                        qhil_error *err)
{
    yaml_node_t *item;
    const char *name;
    char *sub = NULL;
    size_t i;
    size_t k;
    int rc;

    if (qhil_yaml_is_null(node)) {
        return QHIL_EOK;
    }
    rc = qhil_yaml_want_sequence(y, node, "qemu.context",
                                 "a list of context names (cpu, "
                                 "extra_options, machine, memory, arch, "
                                 "guestfs)",
                                 err);
    if (rc < 0) {
        return rc;
    }
    for (i = 0; i < qhil_yaml_count(node); i++) {
        item = qhil_yaml_item(y, node, i);
        name = qhil_yaml_scalar(item, NULL);
        free(sub);
        sub = qhil_field("qemu.context", "[%zu]", i);
        if (!sub) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        for (k = 0; name && context_names[k]; k++) {
            if (!strcmp(name, context_names[k])) {
                break;
            }
        }
        if (!name || !context_names[k]) {
            rc = qhil_yaml_fail(y, item, sub, err, QHIL_EINVAL,
                                "unknown context value '%s' (known: cpu, "
                                "extra_options, machine, memory, arch, "
                                "guestfs)",
                                name ? name : qhil_yaml_kind(item));
            goto cleanup;
        }
        if (b->allow & (1u << k)) {
            rc = qhil_yaml_fail(y, item, sub, err, QHIL_EINVAL,
                                "'%s' is listed twice", name);
            goto cleanup;
        }
        b->allow |= 1u << k;
    }

cleanup:
    free(sub);
    return rc;
}

/* Whether value matches pattern as a whole.  1, 0, or negative when the
 * pattern does not compile (*why gets PCRE2's message). */
static int whole_match(const char *pattern, const char *value, char *why,
                       size_t n)
{
    pcre2_code *code;
    pcre2_match_data *md;
    PCRE2_SIZE off;
    int errcode;
    int rc;

    code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                         PCRE2_ANCHORED | PCRE2_ENDANCHORED |
                             PCRE2_NEVER_BACKSLASH_C,
                         &errcode, &off, NULL);
    if (!code) {
        if (why) {
            pcre2_get_error_message(errcode, (PCRE2_UCHAR *)why, n);
        }
        return -1;
    }
    md = pcre2_match_data_create_from_pattern(code, NULL);
    if (!md) {
        pcre2_code_free(code);
        return QHIL_ENOMEM;
    }
    rc = pcre2_match(code, (PCRE2_SPTR)value, strlen(value), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return rc >= 0 ? 1 : 0;
}

static int load_var(qhil_yaml *y, yaml_node_t *node, const char *field,
                    board_var *v, qhil_error *err)
{
    yaml_node_t *n;
    char *set_by = NULL;
    char why[128];
    int rc;

    if (node->type == YAML_SCALAR_NODE && !qhil_yaml_is_null(node)) {
        /* name: DEFAULT, settable by the site only */
        rc = qhil_yaml_string(y, node, field, "a default value", &v->def,
                              err);
    } else {
        rc = qhil_yaml_is_null(node)
                 ? QHIL_EOK
                 : qhil_yaml_check_keys(y, node, field, var_keys, err);
        if (rc == 0 && (n = qhil_yaml_get(y, node, "default"))) {
            rc = qhil_yaml_string(y, n, field, "a default value", &v->def,
                                  err);
        }
        if (rc == 0 && (n = qhil_yaml_get(y, node, "pattern"))) {
            rc = qhil_yaml_string(y, n, field, "a PCRE2 pattern",
                                  &v->pattern, err);
            if (rc == 0 && whole_match(v->pattern, "", why, sizeof(why)) < 0) {
                rc = qhil_yaml_fail(y, n, field, err, QHIL_EINVAL,
                                    "pattern '%s' does not compile: %s",
                                    v->pattern, why);
            }
        }
        if (rc == 0 && (n = qhil_yaml_get(y, node, "set_by"))) {
            rc = qhil_yaml_string(y, n, field, "site or job", &set_by, err);
            if (rc == 0 && !strcmp(set_by, "job")) {
                v->set_by_job = 1;
            } else if (rc == 0 && strcmp(set_by, "site")) {
                rc = qhil_yaml_fail(y, n, field, err, QHIL_EINVAL,
                                    "set_by is 'site' or 'job', not '%s'",
                                    set_by);
            }
        }
    }
    free(set_by);
    if (rc == 0 && !v->pattern && !(v->pattern = strdup(DEFAULT_VAR_PATTERN))) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (rc == 0 && v->def && whole_match(v->pattern, v->def, NULL, 0) != 1) {
        rc = qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                            "default '%s' does not match the pattern '%s'",
                            v->def, v->pattern);
    }
    return rc;
}

/* Names the job layer gives its own meaning; no variable may take them. */
static const char *const reserved_vars[] = {
    "arch", "machine", "cpu", "memory", "extra_options", "no_kvm",
    "guestfs_interface", "guestfs_size", "guestfs_driveid", NULL,
};

static int load_variables(qhil_board *b, qhil_yaml *y, yaml_node_t *node,
                          qhil_error *err)
{
    size_t n = qhil_yaml_count(node);
    char *sub = NULL;
    size_t i;
    int rc;

    rc = qhil_yaml_want_mapping(y, node, "qemu.variables",
                                "a mapping of variable names to their "
                                "defaults",
                                err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(y, node, "qemu.variables", err);
    }
    if (rc < 0) {
        return rc;
    }
    b->vars = calloc(n + 1, sizeof(*b->vars));
    if (!b->vars) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < n && rc == 0; i++) {
        yaml_node_t *key;
        yaml_node_t *val;
        const char *name;
        board_var *v = &b->vars[b->n_vars];

        qhil_yaml_pair(y, node, i, &key, &val);
        name = qhil_yaml_scalar(key, NULL);
        free(sub);
        sub = qhil_field("qemu.variables.", "%s", name);
        if (!sub || !(v->name = strdup(name))) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
        v->line = qhil_yaml_line(key);
        b->n_vars++;
        if (!qhil_name_is_variable(name)) {
            rc = qhil_yaml_fail(y, key, sub, err, QHIL_EINVAL,
                                "'%s' is not a variable name (at most 64 "
                                "lower case letters, digits and '_')",
                                name);
            break;
        }
        if (in_list(reserved_vars, name)) {
            rc = qhil_yaml_fail(y, key, sub, err, QHIL_EINVAL,
                                "'%s' is a context value of its own, not a "
                                "template variable",
                                name);
            break;
        }
        rc = load_var(y, val, sub, v, err);
    }
    free(sub);
    return rc;
}

static int load_qemu(qhil_board *b, qhil_yaml *y, yaml_node_t *qemu,
                     qhil_error *err)
{
    yaml_node_t *node;
    int rc;

    rc = qhil_yaml_check_keys(y, qemu, "qemu", qemu_keys, err);
    if (rc < 0) {
        return rc;
    }
    /* No binary: the job layer picks qemu-system-ARCH from the arch. */
    node = qhil_yaml_get(y, qemu, "binary");
    if (node) {
        rc = load_word(y, node, "qemu.binary", "a QEMU program name or path",
                       1, &b->binary, err);
        if (rc < 0) {
            return rc;
        }
    }
    node = qhil_yaml_get(y, qemu, "kvm");
    if (node) {
        bool kvm = false;

        rc = qhil_yaml_bool(y, node, "qemu.kvm", &kvm, err);
        if (rc < 0) {
            return rc;
        }
        b->kvm = kvm;
    }
    node = qhil_yaml_get(y, qemu, "variables");
    if (node && !qhil_yaml_is_null(node)) {
        rc = load_variables(b, y, node, err);
        if (rc < 0) {
            return rc;
        }
    }
    node = qhil_yaml_get(y, qemu, "machine");
    if (!node) {
        return qhil_yaml_fail(y, qemu, "qemu", err, QHIL_EINVAL,
                              "missing 'machine' (e.g. mps2-an385)");
    }
    rc = load_word(y, node, "qemu.machine", "a QEMU machine name", 0,
                   &b->machine, err);
    if (rc < 0) {
        return rc;
    }
    node = qhil_yaml_get(y, qemu, "cpu");
    if (node) {
        rc = load_word(y, node, "qemu.cpu", "a QEMU CPU model", 0, &b->cpu,
                       err);
        if (rc < 0) {
            return rc;
        }
    }
    node = qhil_yaml_get(y, qemu, "memory");
    if (node) {
        rc = load_word(y, node, "qemu.memory", "a memory size such as 16M",
                       0, &b->memory, err);
        if (rc < 0) {
            return rc;
        }
        if (!valid_memory(b->memory)) {
            return qhil_yaml_fail(y, node, "qemu.memory", err, QHIL_EINVAL,
                                  "'%s' is not a memory size (e.g. 16M, "
                                  "1G)",
                                  b->memory);
        }
    }
    node = qhil_yaml_get(y, qemu, "mandatory");
    if (node && !qhil_yaml_is_null(node)) {
        rc = load_mandatory(b, y, node, err);
        if (rc < 0) {
            return rc;
        }
    }
    node = qhil_yaml_get(y, qemu, "images");
    if (node && !qhil_yaml_is_null(node)) {
        rc = load_images(b, y, node, err);
        if (rc < 0) {
            return rc;
        }
    }
    node = qhil_yaml_get(y, qemu, "context");
    if (node) {
        rc = load_context(b, y, node, err);
        if (rc < 0) {
            return rc;
        }
    }
    return QHIL_EOK;
}

/*
 * health_check: a suite file, relative to the template's folder (or
 * absolute).  Stored joined to that folder, so it names the same file
 * whatever the current directory.  Whether the file exists is the
 * caller's business: it is only read when the check runs.
 */
static int load_health_check(qhil_board *b, const qhil_yaml *y,
                             const yaml_node_t *node, qhil_error *err)
{
    const char *slash;
    char *value = NULL;
    int rc;

    rc = qhil_yaml_string(y, node, "health_check",
                          "a suite file (relative to the template's folder)",
                          &value, err);
    if (rc < 0) {
        return rc;
    }
    slash = strrchr(b->path, '/');
    if (value[0] == '/' || !slash) {
        b->health_check = value;
        return QHIL_EOK;
    }
    if (asprintf(&b->health_check, "%.*s/%s", (int)(slash - b->path),
                 b->path, value) < 0) {
        b->health_check = NULL;
        free(value);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    free(value);
    return QHIL_EOK;
}

/*
 * lava: {context: {model: ..., netdevice: ..., mac_addr: ...}}: values
 * `qhil lava export` puts into every job's context for this board, where
 * LAVA's qemu device type would otherwise add what the machine cannot
 * take (its default NIC is virtio, which needs PCI).  One word each, of
 * the characters LAVA's command line takes unquoted.
 */
static int load_lava(qhil_board *b, qhil_yaml *y, yaml_node_t *node,
                     qhil_error *err)
{
    yaml_node_t *ctx;
    size_t i;
    int rc;

    rc = qhil_yaml_check_keys(y, node, "lava", lava_keys, err);
    if (rc < 0) {
        return rc;
    }
    ctx = qhil_yaml_get(y, node, "context");
    if (!ctx) {
        return QHIL_EOK;
    }
    rc = qhil_yaml_check_keys(y, ctx, "lava.context", lava_names, err);
    for (i = 0; rc == QHIL_EOK && lava_names[i]; i++) {
        yaml_node_t *v = qhil_yaml_get(y, ctx, lava_names[i]);
        char field[64];
        const char *p;

        if (!v) {
            continue;
        }
        snprintf(field, sizeof(field), "lava.context.%s", lava_names[i]);
        rc = load_word(y, v, field, "one word, e.g. model=lan9118", 0,
                       &b->lava[i], err);
        for (p = b->lava[i]; rc == QHIL_EOK && *p; p++) {
            if (!isalnum((unsigned char)*p) && !strchr("_-+=/.,:@%", *p)) {
                rc = qhil_yaml_fail(y, v, field, err, QHIL_EINVAL,
                                    "'%s': only [A-Za-z0-9_+=/.,:@%%-] "
                                    "(LAVA joins the options into one "
                                    "command line)",
                                    b->lava[i]);
            }
        }
    }
    return rc;
}

int qhil_board_load(const char *path, qhil_board **out, qhil_error *err)
{
    qhil_board *b = NULL;
    qhil_yaml y;
    yaml_node_t *root;
    yaml_node_t *node;
    int rc;

    *out = NULL;
    rc = qhil_yaml_load_file(&y, path, err);
    if (rc < 0) {
        goto cleanup;
    }
    b = calloc(1, sizeof(*b));
    if (!b || !(b->path = strdup(path))) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    root = qhil_yaml_root(&y);
    rc = qhil_yaml_check_keys(&y, root, NULL, top_keys, err);
    if (rc < 0) {
        goto cleanup;
    }
    node = qhil_yaml_get(&y, root, "device_type");
    if (!node) {
        rc = qhil_yaml_fail(&y, root, NULL, err, QHIL_EINVAL,
                            "missing 'device_type'");
        goto cleanup;
    }
    rc = qhil_yaml_string(&y, node, "device_type", "a board name",
                          &b->device_type, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (!valid_device_type(b->device_type)) {
        rc = qhil_yaml_fail(&y, node, "device_type", err, QHIL_EINVAL,
                            "'%s' may only contain letters, digits, '.', "
                            "'_' and '-', and may not start with '.'",
                            b->device_type);
        goto cleanup;
    }
    node = qhil_yaml_get(&y, root, "arch");
    if (!node) {
        rc = qhil_yaml_fail(&y, root, NULL, err, QHIL_EINVAL,
                            "missing 'arch' (e.g. arm, riscv64)");
        goto cleanup;
    }
    rc = load_word(&y, node, "arch", "an architecture name", 0, &b->arch,
                   err);
    if (rc < 0) {
        goto cleanup;
    }
    node = qhil_yaml_get(&y, root, "description");
    if (node) {
        rc = qhil_yaml_string(&y, node, "description", "a description",
                              &b->description, err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    node = qhil_yaml_get(&y, root, "health_check");
    if (node) {
        rc = load_health_check(b, &y, node, err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    node = qhil_yaml_get(&y, root, "lava");
    if (node) {
        rc = load_lava(b, &y, node, err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    node = qhil_yaml_get(&y, root, "qemu");
    if (!node) {
        rc = qhil_yaml_fail(&y, root, NULL, err, QHIL_EINVAL,
                            "missing 'qemu' (binary, machine and options)");
        goto cleanup;
    }
    rc = load_qemu(b, &y, node, err);
    if (rc < 0) {
        goto cleanup;
    }
    *out = b;
    b = NULL;

cleanup:
    qhil_board_free(b);
    qhil_yaml_release(&y);
    return rc;
}

int qhil_board_find(const char *device_type, const char *const *dirs,
                    char **path_out, qhil_error *err)
{
    qhil_buf tried;
    struct stat st;
    char *path = NULL;
    size_t i;
    int rc = QHIL_EOK;

    *path_out = NULL;
    qhil_buf_init(&tried, 1 << 16);
    if (!device_type || !valid_device_type(device_type)) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "invalid device type '%s': use letters, digits, "
                            "'.', '_' and '-', not starting with '.'",
                            device_type ? device_type : "");
        goto cleanup;
    }
    for (i = 0; dirs && dirs[i]; i++) {
        free(path);
        if (asprintf(&path, "%s/%s.yaml", dirs[i], device_type) < 0) {
            path = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            *path_out = path;
            path = NULL;
            goto cleanup;
        }
        if (qhil_buf_printf(&tried, "%s%s", i ? ", " : "", dirs[i]) < 0) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    rc = qhil_error_set(err, QHIL_ENOENT,
                        "no board template for device type '%s' (looked "
                        "for %s.yaml in: %s)",
                        device_type, device_type,
                        tried.data ? tried.data : "no directories");

cleanup:
    free(path);
    qhil_buf_release(&tried);
    return rc;
}

void qhil_argv_free(char **argv)
{
    qhil_words_free(argv);
}

/* ---- argv building ---- */

typedef struct argv_builder {
    char **v;
    int *kind;     /* label of each argument (job.h) */
    char **source; /* where each came from, malloc'ed */
    size_t n;
    size_t cap;
} argv_builder;

static void argv_builder_release(argv_builder *a)
{
    qhil_words_free(a->v);
    if (a->source) {
        qhil_words_free(a->source);
    }
    free(a->kind);
    memset(a, 0, sizeof(*a));
}

/* Append s, taking ownership of it (freed on failure), with its label
 * and a copy of its source. */
static int argv_take(argv_builder *a, char *s, int kind, const char *source)
{
    char **grown;
    char **src;
    int *kinds;
    size_t cap;

    if (!s) {
        return QHIL_ENOMEM;
    }
    if (a->n + 2 > a->cap) {
        cap = a->cap ? a->cap * 2 : 16;
        grown = realloc(a->v, cap * sizeof(*a->v));
        if (grown) {
            a->v = grown;
        }
        src = realloc(a->source, cap * sizeof(*a->source));
        if (src) {
            a->source = src;
        }
        kinds = realloc(a->kind, cap * sizeof(*a->kind));
        if (kinds) {
            a->kind = kinds;
        }
        if (!grown || !src || !kinds) {
            free(s);
            return QHIL_ENOMEM;
        }
        a->cap = cap;
    }
    a->source[a->n] = strdup(source ? source : "");
    if (!a->source[a->n]) {
        free(s);
        return QHIL_ENOMEM;
    }
    a->kind[a->n] = kind;
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
    a->source[a->n] = NULL;
    return QHIL_EOK;
}

static int argv_add(argv_builder *a, const char *s, int kind,
                    const char *source)
{
    return argv_take(a, strdup(s), kind, source);
}

/* Replace each slot in word by value (commas doubled when the slot is
 * only part of the word).  Returns a malloc'ed string or NULL. */
static char *fill_slot(const char *word, const char *slot, const char *value)
{
    qhil_buf out;
    const char *p = word;
    const char *hit;
    const char *v;
    int whole = strcmp(word, slot) == 0;

    qhil_buf_init(&out, 1 << 20);
    while ((hit = strstr(p, slot)) != NULL) {
        if (qhil_buf_append(&out, p, (size_t)(hit - p)) < 0) {
            goto fail;
        }
        for (v = value; *v; v++) {
            if (qhil_buf_append(&out, v, 1) < 0 ||
                (!whole && *v == ',' && qhil_buf_append(&out, ",", 1) < 0)) {
                goto fail;
            }
        }
        p = hit + strlen(slot);
    }
    if (qhil_buf_puts(&out, p) < 0) {
        goto fail;
    }
    return qhil_buf_steal(&out);

fail:
    qhil_buf_release(&out);
    return NULL;
}

/* A refused job value: "ORIGIN: FIELD: TEXT" (error.c). */
#define job_fail(err, origin, field, ...)                                 \
    qhil_error_field(err, QHIL_EINVAL, origin, field, __VA_ARGS__)
#define job_fail_code qhil_error_field

/* The file for slot o must be a kind the slot accepts (any regular file
 * when it names none), checked from its first bytes. */
static int check_image_kind(const qhil_board *b, const board_opt *o,
                            const qhil_board_value *v, qhil_error *err)
{
    qhil_error local;
    char *field = NULL;
    int rc;

    qhil_error_init(&local);
    rc = qhil_image_check(v->value, o->accept, b->arch, &local);
    if (rc < 0) {
        field = qhil_field("images", ".%s", o->name);
        rc = job_fail_code(err, rc, v->origin, field ? field : "images",
                           "image file %s %s (board %s, slot %s: %s)",
                           v->value, qhil_error_message(&local, rc),
                           b->device_type, o->name, o->text);
    }
    free(field);
    qhil_error_release(&local);
    return rc;
}

#define EXTRA "context.extra_options"

/* Refuse one extra option word the job may not pass; 0 when it is fine. */
static int check_extra(const qhil_board *b, const qhil_board_job *job,
                       const char *word, qhil_error *err)
{
    const char *o = job->extra_origin;
    const char *name = option_name(word);
    size_t i;

    if (!*word) {
        return job_fail(err, o, EXTRA, "empty argument");
    }
    if (names_reserved_id(word)) {
        return job_fail(err, o, EXTRA,
                        "'%s': ids starting with 'qhil' are reserved for the "
                        "harness",
                        word);
    }
    if (name[0] != '-' || !name[1]) {
        return QHIL_EOK;
    }
    if (!strcmp(name, "-machine") || !strcmp(name, "-M")) {
        return job_fail(err, o, EXTRA,
                        "'%s' is not allowed: the board template %s sets the "
                        "machine",
                        word, b->path);
    }
    if (!strcmp(name, "-m")) {
        return job_fail(err, o, EXTRA,
                        "'%s' is not allowed: the board template %s sets the "
                        "memory size",
                        word, b->path);
    }
    if (!strcmp(name, "-cpu") && (b->allow & CTX_CPU)) {
        return job_fail(err, o, EXTRA,
                        "'%s' is not allowed: set context.cpu instead", word);
    }
    if (!strcmp(name, "-cpu")) {
        return job_fail(err, o, EXTRA,
                        "'%s' is not allowed: board '%s' does not let jobs "
                        "choose the CPU",
                        word, b->device_type);
    }
    if (in_list(harness_options, name) || !strcmp(name, "-monitor") ||
        !strcmp(name, "-nographic")) {
        return job_fail(err, o, EXTRA,
                        "'%s' is not allowed: qhil owns the monitor, QMP and "
                        "console wiring",
                        word);
    }
    for (i = 0; i < b->n_mandatory; i++) {
        if (!strcmp(option_name(b->mandatory[i].words[0]), name)) {
            return job_fail(err, o, EXTRA,
                            "'%s' is not allowed: it repeats the board's "
                            "mandatory option '%s'",
                            word, b->mandatory[i].text);
        }
    }
    for (i = 0; i < b->n_images; i++) {
        if (!strcmp(option_name(b->images[i].words[0]), name)) {
            break;
        }
    }
    if (in_list(image_options, name) || i < b->n_images) {
        return job_fail(err, o, EXTRA,
                        "'%s' is not allowed: give firmware under images: "
                        "instead",
                        word);
    }
    return QHIL_EOK;
}

/* Check the job's images against the slots; *which[i] gets the value
 * for slot i or NULL. */
static int match_images(const qhil_board *b, const qhil_board_job *job,
                        const qhil_board_value **which, qhil_error *err)
{
    qhil_buf names;
    const qhil_board_value *v;
    size_t i;
    size_t j;
    int rc = QHIL_EOK;

    qhil_buf_init(&names, 1 << 16);
    for (i = 0; i < job->n_images; i++) {
        v = &job->images[i];
        for (j = 0; j < b->n_images; j++) {
            if (v->name && !strcmp(b->images[j].name, v->name)) {
                break;
            }
        }
        if (j == b->n_images) {
            for (j = 0; j < b->n_images; j++) {
                qhil_buf_printf(&names, "%s%s", j ? ", " : "",
                                b->images[j].name);
            }
            rc = job_fail(err, v->origin, "images",
                          "board '%s' has no image slot '%s' (slots: %s)",
                          b->device_type, v->name ? v->name : "",
                          names.data ? names.data : "none");
            goto cleanup;
        }
        if (which[j]) {
            rc = job_fail(err, v->origin, "images",
                          "image '%s' is given twice", v->name);
            goto cleanup;
        }
        if (!v->value || !*v->value) {
            rc = job_fail(err, v->origin, "images",
                          "image '%s' has an empty path", v->name);
            goto cleanup;
        }
        rc = check_image_kind(b, &b->images[j], v, err);
        if (rc < 0) {
            goto cleanup;
        }
        which[j] = v;
    }

cleanup:
    qhil_buf_release(&names);
    return rc;
}

/* The value the job gives variable name (NULL: none), or its default. */
static const qhil_board_value *job_var(const qhil_board_job *job,
                                       const char *name)
{
    size_t i;

    for (i = 0; i < job->n_vars; i++) {
        if (job->vars[i].name && !strcmp(job->vars[i].name, name)) {
            return &job->vars[i];
        }
    }
    return NULL;
}

/*
 * Check the job's variable values: machine and memory, and the
 * template's variables.  Who may set which (site or job) is the job
 * layer's decision; here each value must be one the board has and must
 * match its pattern, and every variable must end up with a value.
 */
static int check_vars(const qhil_board *b, const qhil_board_job *job,
                      const qhil_board_value **machine,
                      const qhil_board_value **memory, qhil_error *err)
{
    const board_var *bv;
    const qhil_board_value *v;
    size_t i;
    size_t j;

    for (i = 0; i < job->n_vars; i++) {
        v = &job->vars[i];
        for (j = 0; j < i; j++) {
            if (!strcmp(job->vars[j].name, v->name)) {
                return job_fail(err, v->origin, "context",
                                "'%s' is given twice", v->name);
            }
        }
        if (!v->value || !*v->value) {
            return job_fail(err, v->origin, v->name, "empty value");
        }
        if (!strcmp(v->name, "machine") || !strcmp(v->name, "memory")) {
            if (v->value[0] == '-' || strpbrk(v->value, " \t\n\r")) {
                return job_fail(err, v->origin, v->name,
                                "'%s' is not a %s value", v->value, v->name);
            }
            if (!strcmp(v->name, "machine")) {
                *machine = v;
            } else {
                *memory = v;
            }
            continue;
        }
        bv = find_var(b, v->name, strlen(v->name));
        if (!bv) {
            return job_fail(err, v->origin, v->name,
                            "device type '%s' has no variable '%s'",
                            b->device_type, v->name);
        }
        if (whole_match(bv->pattern, v->value, NULL, 0) != 1) {
            return job_fail(err, v->origin, v->name,
                            "'%s' does not match the pattern '%s' of "
                            "device type '%s' (%s:%d)",
                            v->value, bv->pattern, b->device_type, b->path,
                            bv->line);
        }
    }
    for (i = 0; i < b->n_vars; i++) {
        if (!b->vars[i].def && !job_var(job, b->vars[i].name) &&
            !job->template_only) {
            return job_fail(err, NULL, b->vars[i].name,
                            "device type '%s' (%s:%d) needs a value for "
                            "'%s' and no site or job sets it",
                            b->device_type, b->path, b->vars[i].line,
                            b->vars[i].name);
        }
    }
    return QHIL_EOK;
}

/* word with each {{name}} replaced by its value; *src becomes the origin
 * of the (last) value when it is the job's or the site's. */
static char *fill_vars(const qhil_board *b, const qhil_board_job *job,
                       const char *word, const char **src)
{
    char *cur = strdup(word);
    size_t i;

    for (i = 0; cur && i < b->n_vars; i++) {
        const qhil_board_value *v = job_var(job, b->vars[i].name);
        char *slot = NULL;
        char *next;

        if (asprintf(&slot, "{{%s}}", b->vars[i].name) < 0) {
            free(cur);
            return NULL;
        }
        if (strstr(cur, slot) && (v || b->vars[i].def)) {
            next = fill_slot(cur, slot, v ? v->value : b->vars[i].def);
            if (v && v->origin) {
                *src = v->origin;
            }
            free(cur);
            cur = next;
        }
        free(slot);
    }
    return cur;
}

int qhil_board_argv_labelled(const qhil_board *board,
                             const qhil_board_job *job, char ***argv_out,
                             int **kinds_out, char ***sources_out,
                             qhil_error *err)
{
    static const qhil_board_job no_job;
    argv_builder a = {NULL, NULL, NULL, 0, 0};
    const qhil_board_value **which = NULL;
    const char *cpu = board->cpu;
    const char *cpu_source = board->path;
    const qhil_board_value *machine = NULL;
    const qhil_board_value *memory = NULL;
    char *filled = NULL;
    int cpu_kind = QHIL_ARG_MANDATORY;
    char *slot = NULL;
    char *where = NULL;
    size_t i;
    size_t j;
    int rc = QHIL_EOK;

    *argv_out = NULL;
    if (kinds_out) {
        *kinds_out = NULL;
    }
    if (sources_out) {
        *sources_out = NULL;
    }
    if (!job) {
        job = &no_job;
    }
    which = calloc(board->n_images + 1, sizeof(*which));
    if (!which) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = match_images(board, job, which, err);
    if (rc < 0) {
        goto cleanup;
    }
    rc = check_vars(board, job, &machine, &memory, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (job->cpu) {
        if (!(board->allow & CTX_CPU) && !job->cpu_by_site) {
            rc = job_fail(err, job->cpu_origin, "context.cpu",
                          "board '%s' does not let jobs choose the CPU",
                          board->device_type);
            goto cleanup;
        }
        if (!*job->cpu || job->cpu[0] == '-' || strpbrk(job->cpu, " \t\n")) {
            rc = job_fail(err, job->cpu_origin, "context.cpu",
                          "'%s' is not a CPU model name", job->cpu);
            goto cleanup;
        }
        cpu = job->cpu;
        cpu_source = job->cpu_origin;
        cpu_kind = QHIL_ARG_SUBSTITUTED;
    }
    if (job->n_extra_options && !(board->allow & CTX_EXTRA)) {
        rc = job_fail(err, job->extra_origin, EXTRA,
                      "board '%s' does not allow extra options",
                      board->device_type);
        goto cleanup;
    }
    for (i = 0; i < job->n_extra_options; i++) {
        rc = check_extra(board, job, job->extra_options[i], err);
        if (rc < 0) {
            goto cleanup;
        }
    }
    rc = argv_add(&a, board->binary ? board->binary : "qemu-system",
                  QHIL_ARG_MANDATORY, board->path);
    if (rc == 0) {
        rc = argv_add(&a, "-machine", QHIL_ARG_MANDATORY, board->path);
    }
    if (rc == 0) {
        rc = machine ? argv_add(&a, machine->value, QHIL_ARG_SUBSTITUTED,
                                machine->origin)
                     : argv_add(&a, board->machine, QHIL_ARG_MANDATORY,
                                board->path);
    }
    if (rc == 0 && cpu) {
        rc = argv_add(&a, "-cpu", QHIL_ARG_MANDATORY, board->path);
        if (rc == 0) {
            rc = argv_add(&a, cpu, cpu_kind, cpu_source);
        }
    }
    if (rc == 0 && (board->memory || memory)) {
        rc = argv_add(&a, "-m", QHIL_ARG_MANDATORY, board->path);
        if (rc == 0) {
            rc = memory ? argv_add(&a, memory->value, QHIL_ARG_SUBSTITUTED,
                                   memory->origin)
                        : argv_add(&a, board->memory, QHIL_ARG_MANDATORY,
                                   board->path);
        }
    }
    for (i = 0; rc == 0 && i < board->n_mandatory; i++) {
        free(where);
        if (asprintf(&where, "%s:%d", board->path,
                     board->mandatory[i].line) < 0) {
            where = NULL;
            rc = QHIL_ENOMEM;
            break;
        }
        for (j = 0; rc == 0 && j < board->mandatory[i].n_words; j++) {
            const char *w = board->mandatory[i].words[j];
            const char *src = where;
            int kind = QHIL_ARG_MANDATORY;

            if (strstr(w, "{{")) {
                free(filled);
                filled = fill_vars(board, job, w, &src);
                if (!filled) {
                    rc = QHIL_ENOMEM;
                    break;
                }
                w = filled;
                kind = QHIL_ARG_SUBSTITUTED;
            }
            rc = argv_add(&a, w, kind, src);
        }
    }
    for (i = 0; rc == 0 && i < board->n_images; i++) {
        if (!which[i]) {
            continue;
        }
        free(slot);
        slot = NULL;
        if (asprintf(&slot, "{{%s}}", board->images[i].name) < 0) {
            slot = NULL;
            rc = QHIL_ENOMEM;
            break;
        }
        for (j = 0; slot[j]; j++) {
            slot[j] = (char)toupper((unsigned char)slot[j]);
        }
        for (j = 0; rc == 0 && j < board->images[i].n_words; j++) {
            rc = argv_take(&a,
                           fill_slot(board->images[i].words[j], slot,
                                     which[i]->value),
                           QHIL_ARG_SUBSTITUTED, which[i]->origin);
        }
    }
    for (i = 0; rc == 0 && i < job->n_extra_options; i++) {
        rc = argv_add(&a, job->extra_options[i], QHIL_ARG_SPECIFIC,
                      job->extra_origin);
    }
    if (rc < 0) {
        rc = qhil_error_set(err, rc, "out of memory");
        goto cleanup;
    }
    *argv_out = a.v;
    a.v = NULL;
    if (kinds_out) {
        *kinds_out = a.kind;
        a.kind = NULL;
    }
    if (sources_out) {
        *sources_out = a.source;
        a.source = NULL;
    }

cleanup:
    free(filled);
    free(slot);
    free(where);
    free(which);
    argv_builder_release(&a);
    return rc;
}

int qhil_board_argv(const qhil_board *board, const qhil_board_job *job,
                    char ***argv_out, qhil_error *err)
{
    return qhil_board_argv_labelled(board, job, argv_out, NULL, NULL, err);
}
