/*
 * lava.c - export a suite as LAVA jobs for LAVA's qemu device type.
 *
 * Three passes, so that a refusal writes nothing:
 *
 *   check   every test and step against what a LAVA qemu job can say
 *           (check_suite, check_step); the first that cannot is
 *           refused with its file:line
 *   build   each job's YAML in memory with libyaml's emitter
 *           (emit_job): context and images split from the job layer's
 *           command line (split_argv), one boot and one interactive
 *           test per qhil test
 *   write   each buffer to a temporary file made with O_EXCL in the
 *           output folder, then renameat2(RENAME_NOREPLACE) to its name
 *
 * Step mapping (LAVA's interactive test, lava-dispatcher 2023.01):
 *   expect P        script item with no command and successes [P]
 *   send/sendline   the item's command (merged with the expect after
 *                   it); LAVA always sends a newline after a command,
 *                   so input without one ends in Ctrl-A, which makes
 *                   QEMU's console multiplexer swallow that newline
 *   reset, quit     Ctrl-A c, the monitor command (a reset between
 *                   stop and cont), Ctrl-A c back
 *   wait D          a delay item of D rounded up to whole seconds
 *   fail_on F       the entry's prompts: a prompt matched while a
 *                   success is expected fails the test
 * Patterns go through lava_pattern.c: LAVA's pexpect runs Python's re
 * on a pty that turns every LF into CR LF.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qhil/board.h>
#include <qhil/lava.h>

#include "boardargs.h"
#include "internal.h"
#include "lava_device.h"
#include "lava_pattern.h"
#include "yamlout.h"

#define LAVA_MAX_JOB (4u << 20) /* bytes of YAML per job */
#define LAVA_DEPLOY_S 60        /* deploy and boot actions' timeouts */
#define LAVA_BOOT_S 60
#define LAVA_NEVER "(?!)"   /* a prompt that never matches */
#define LAVA_AT_ONCE "(?:)" /* a success that matches at once */

/* Characters LAVA's command line and file:// urls take unquoted. */
static bool plain_word(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_-+=/.,:@%",
                    *s)) {
            return false;
        }
    }
    return true;
}

static int64_t secs_up(int64_t ns)
{
    int64_t s = (ns + 999999999) / 1000000000;

    return s < 1 ? 1 : s;
}

/* --- check ------------------------------------------------------------ */

static int refuse(qhil_error *err, const qhil_suite *s, int line,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* QHIL_EUNSUPPORTED with "SUITE:LINE: " and the reason. */
static int refuse(qhil_error *err, const qhil_suite *s, int line,
                  const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qhil_error_set(err, QHIL_EUNSUPPORTED, "%s:%d: %s", s->path, line, msg);
    free(msg);
    return QHIL_EUNSUPPORTED;
}

/* A pattern LAVA's pexpect cannot be given exactly is refused. */
static int check_pattern(const qhil_suite *s, int line, const char *field,
                         const char *key, const char *pattern, qhil_error *err)
{
    const char *why = NULL;
    char *py = NULL;
    int rc = qhil_lava_pattern(pattern, &py, &why);

    free(py);
    if (rc == QHIL_EUNSUPPORTED) {
        return refuse(err, s, line,
                      "%s.%s: pattern \"%s\": %s (LAVA matches with "
                      "Python's re on a terminal, see docs/lava-patterns.md)",
                      field, key, pattern, why);
    }
    if (rc < 0) {
        return qhil_error_set(err, rc, "out of memory");
    }
    return QHIL_EOK;
}

static int check_step(const qhil_suite *s, size_t ti, size_t si,
                      qhil_error *err)
{
    const qhil_step *st = &s->tests[ti].steps[si];
    char field[64];

    snprintf(field, sizeof(field), "tests[%zu].steps[%zu]", ti, si);
    switch (st->kind) {
    case QHIL_STEP_EXPECT:
        return check_pattern(s, st->line, field, "expect", st->pattern, err);
    case QHIL_STEP_WAIT:
        return QHIL_EOK;
    case QHIL_STEP_SEND:
        if (memchr(st->text, '\0', st->text_len) ||
            memchr(st->text, '\x01', st->text_len)) {
            return refuse(err, s, st->line,
                          "%s.%s: input with a NUL or Ctrl-A byte: LAVA "
                          "sends text, and Ctrl-A is the console "
                          "multiplexer's escape",
                          field, st->keyword);
        }
        return QHIL_EOK;
    case QHIL_STEP_QMP:
        if ((strcmp(st->command, "system_reset") == 0 ||
             strcmp(st->command, "quit") == 0) &&
            !st->arguments && !st->expect && !st->expect_error) {
            return QHIL_EOK;
        }
        return refuse(err, s, st->line,
                      "%s.qmp: '%s' with its arguments or expected reply: "
                      "a LAVA job reaches QEMU only through the monitor on "
                      "the console, where qhil exports a bare system_reset "
                      "or quit",
                      field, st->command);
    default:
        return refuse(err, s, st->line,
                      "%s.%s: a QTest step: LAVA's qemu device type has no "
                      "QTest socket",
                      field, st->keyword);
    }
}

static int check_suite(const qhil_suite *s, const qhil_job *job,
                       qhil_error *err)
{
    const char *bin = qhil_board_binary(qhil_job_board(job));
    const char *base = strrchr(bin, '/');
    size_t i;
    size_t j;
    int rc;

    /* Steps first: a QTest suite is refused at its first QTest step. */
    for (i = 0; i < s->n_tests; i++) {
        const qhil_test *t = &s->tests[i];

        if (t->n_trace) {
            return refuse(err, s, t->line,
                          "tests[%zu].trace (test %s): trace events are not "
                          "exported",
                          i, t->name);
        }
        for (j = 0; j < t->n_steps; j++) {
            rc = check_step(s, i, j, err);
            if (rc < 0) {
                return rc;
            }
        }
        for (j = 0; j < t->n_fail_on; j++) {
            char field[64];

            snprintf(field, sizeof(field), "tests[%zu] (test %s)", i, t->name);
            rc =
                check_pattern(s, t->line, field, "fail_on", t->fail_on[j], err);
            if (rc < 0) {
                return rc;
            }
        }
    }
    base = base ? base + 1 : bin;
    if (strncmp(base, "qemu-system-", 12) != 0 || !plain_word(base + 12)) {
        return refuse(err, s, s->device_type_line,
                      "device_type %s: its QEMU binary '%s' is not one of "
                      "QEMU's qemu-system-ARCH: LAVA's qemu device type has "
                      "no equivalent",
                      s->device_type, base);
    }
    if (!qhil_lava_arch_find(base + 12)) {
        return refuse(err, s, s->device_type_line,
                      "device_type %s: its QEMU binary is %s, and LAVA's "
                      "qemu device type has no arch '%s': no equivalent",
                      s->device_type, base, base + 12);
    }
    if (s->qtest != QHIL_QTEST_OFF) {
        return refuse(err, s, 1,
                      "qtest/accel: a QTest suite: LAVA's qemu device type "
                      "has no QTest socket");
    }
    if (qhil_job_disk_size(job) > 0) {
        return refuse(err, s, 1,
                      "context guestfs_*: scratch disks are not exported");
    }
    return QHIL_EOK;
}

/* Append item (taken) to the NULL-terminated *list. */
static int list_add(char ***list, size_t *n, char *item)
{
    char **v = realloc(*list, (*n + 2) * sizeof(*v));

    if (!v) {
        return -1;
    }
    v[(*n)++] = item;
    v[*n] = NULL;
    *list = v;
    return 0;
}

/* --- command line -> context, images, extra_options ------------------- */

typedef struct lava_split {
    qhil_lava_context ctx; /* its extra is ours, malloc'ed */
    char **image_arg;      /* per suite image, malloc'ed */
    size_t n_extra;
    bool kvm; /* the job runs under KVM */
} lava_split;

static void split_release(lava_split *sp, size_t n_images)
{
    size_t i;

    if (sp->image_arg) {
        for (i = 0; i < n_images; i++) {
            free(sp->image_arg[i]);
        }
    }
    free(sp->image_arg);
    qhil_argv_free(sp->ctx.extra);
}

/* s with every "path" replaced by "{name}"; NULL when out of memory. */
static char *subst_image(const char *s, const char *path, const char *name)
{
    qhil_buf b;
    size_t n = strlen(path);
    const char *p;

    qhil_buf_init(&b, 1u << 16);
    while ((p = strstr(s, path))) {
        if (qhil_buf_append(&b, s, (size_t)(p - s)) < 0 ||
            qhil_buf_printf(&b, "{%s}", name) < 0) {
            qhil_buf_release(&b);
            return NULL;
        }
        s = p + n;
    }
    if (qhil_buf_puts(&b, s) < 0) {
        qhil_buf_release(&b);
        return NULL;
    }
    return qhil_buf_steal(&b);
}

/*
 * What LAVA's template adds by itself when the context leaves it out
 * must not change the machine: the board names it, or it is refused.
 */
static int check_defaults(const qhil_suite *s, const qhil_lava_context *c,
                          qhil_error *err)
{
    const qhil_lava_arch *a = c->arch;
    const char *key = NULL;
    const char *opt = NULL;
    const char *def = NULL;

    if (a->machine && !c->machine) {
        key = "machine";
        opt = "-machine";
        def = a->machine;
    } else if (a->cpu && !c->cpu) {
        key = "cpu";
        opt = "-cpu";
        def = a->cpu;
    } else if (!c->memory) {
        key = "memory";
        opt = "-m";
        def = "512";
    }
    if (!key) {
        return QHIL_EOK;
    }
    return refuse(err, s, s->device_type_line,
                  "device_type %s: its command line has no %s, and LAVA's "
                  "qemu device type then adds %s %s for arch %s: name it in "
                  "the board (qemu.%s)",
                  s->device_type, opt, opt, def, a->name, key);
}

/* Append "opt" or "opt val" to the job's extra_options. */
static int add_extra(lava_split *sp, const char *opt, const char *val)
{
    char *word = NULL;

    if (val ? asprintf(&word, "%s %s", opt, val) < 0 : !(word = strdup(opt))) {
        return QHIL_ENOMEM;
    }
    if (list_add(&sp->ctx.extra, &sp->n_extra, word) < 0) {
        free(word);
        return QHIL_ENOMEM;
    }
    return QHIL_EOK;
}

static int split_argv(const qhil_suite *s, const qhil_job *job, lava_split *sp,
                      qhil_error *err)
{
    const char *const *argv = qhil_job_argv(job);
    size_t i;
    size_t k;
    const char *bin = qhil_board_binary(qhil_job_board(job));

    memset(sp, 0, sizeof(*sp));
    bin = strrchr(bin, '/') ? strrchr(bin, '/') + 1 : bin;
    sp->ctx.arch = qhil_lava_arch_find(bin + 12); /* check_suite: found */
    sp->image_arg = calloc(s->n_images + 1, sizeof(char *));
    if (!sp->image_arg || add_extra(sp, "-serial", "mon:stdio") < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 1; argv[i]; i++) {
        const char *opt = argv[i];
        const char *val = NULL;
        char *word = NULL;
        bool image = false;

        if (opt[0] == '-' && argv[i + 1] && argv[i + 1][0] != '-') {
            val = argv[++i];
        }
        if (val && strcmp(opt, "-machine") == 0 && sp->ctx.arch->machine) {
            sp->ctx.machine = val;
            continue;
        }
        if (val && strcmp(opt, "-cpu") == 0 && sp->ctx.arch->cpu) {
            sp->ctx.cpu = val;
            continue;
        }
        if (val && strcmp(opt, "-m") == 0) {
            sp->ctx.memory = val;
            continue;
        }
        if (val && strcmp(opt, "-accel") == 0 && strcmp(val, "kvm") == 0) {
            sp->kvm = true;
            if (sp->ctx.arch->kvm) {
                continue; /* the template adds -enable-kvm */
            }
        }
        if (!val && strcmp(opt, "-nographic") == 0) {
            continue; /* LAVA's qemu device type adds it */
        }
        if (val && strcmp(opt, "-monitor") == 0 && strcmp(val, "none") == 0) {
            continue; /* the monitor stays on the console for resets */
        }
        for (k = 0; k < s->n_images && !image; k++) {
            const char *path = s->images[k].path;
            const char *name = s->images[k].name;
            const char *in = val && strstr(val, path) ? val : opt;

            if (!strstr(in, path)) {
                continue;
            }
            if (sp->image_arg[k]) {
                return refuse(err, s, s->images[k].line,
                              "images.%s: %s: used twice on the command "
                              "line, LAVA takes one image_arg",
                              name, path);
            }
            word = subst_image(in, path, name);
            if (word && in == val) {
                char *both = NULL;

                if (asprintf(&both, "%s %s", opt, word) < 0) {
                    both = NULL;
                }
                free(word);
                word = both;
            }
            if (!word) {
                return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            }
            sp->image_arg[k] = word;
            image = true;
        }
        if (image) {
            continue;
        }
        if (!plain_word(opt) || (val && !plain_word(val))) {
            return refuse(err, s, s->device_type_line,
                          "option '%s%s': LAVA joins extra_options into one "
                          "command line: only [A-Za-z0-9_+=/.,:@%%-] are "
                          "exported",
                          opt, val ? " ..." : "");
        }
        if (add_extra(sp, opt, val) < 0) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    sp->ctx.no_kvm = !sp->kvm;
    sp->ctx.model = qhil_board_lava(qhil_job_board(job), "model");
    sp->ctx.netdevice = qhil_board_lava(qhil_job_board(job), "netdevice");
    sp->ctx.mac_addr = qhil_board_lava(qhil_job_board(job), "mac_addr");
    for (k = 0; k < s->n_images; k++) {
        if (!sp->image_arg[k]) {
            return refuse(err, s, s->images[k].line,
                          "images.%s: %s: not on the board's command line",
                          s->images[k].name, s->images[k].path);
        }
        if (!plain_word(s->images[k].path)) {
            return refuse(err, s, s->images[k].line,
                          "images.%s: %s: only [A-Za-z0-9_+=/.,:@%%-] are "
                          "exported in a file:// url",
                          s->images[k].name, s->images[k].path);
        }
    }
    return check_defaults(s, &sp->ctx, err);
}

/* --- build ------------------------------------------------------------ */

/* {minutes: N} when N seconds are whole minutes, else {seconds: N}. */
static void e_timeout(qhil_yamlout *e, const char *key, int64_t secs)
{
    qhil_yamlout_str(e, key);
    qhil_yamlout_map(e, true);
    if (secs % 60 == 0) {
        qhil_yamlout_str(e, "minutes");
        qhil_yamlout_int(e, secs / 60);
    } else {
        qhil_yamlout_str(e, "seconds");
        qhil_yamlout_int(e, secs);
    }
    qhil_yamlout_map_end(e);
}

/* A pattern as pexpect must be given it to mean what it means in qhil
 * (check_pattern refused those it cannot). */
static void e_pattern(qhil_yamlout *e, const char *p)
{
    const char *why = NULL;
    char *py = NULL;

    if (qhil_lava_pattern(p, &py, &why) < 0) {
        e->failed = true;
        return;
    }
    qhil_yamlout_str(e, py);
    free(py);
}

/* The step's whole budget: what qhil would wait at most. */
static int64_t step_ns(const qhil_step *st)
{
    switch (st->kind) {
    case QHIL_STEP_EXPECT:
    case QHIL_STEP_QMP:
        return st->timeout_ns;
    case QHIL_STEP_WAIT:
        return st->duration_ns;
    default:
        return 0;
    }
}

static int64_t test_secs(const qhil_test *t)
{
    int64_t ns = 0;
    size_t i;

    if (t->timeout_ns > 0) {
        return secs_up(t->timeout_ns);
    }
    for (i = 0; i < t->n_steps; i++) {
        ns += step_ns(&t->steps[i]);
    }
    return secs_up(ns);
}

/* The interactive name of a test: [-_a-zA-Z0-9.] only. */
static char *lava_name(const char *s)
{
    char *n = strdup(*s ? s : "test");
    char *p;

    if (!n) {
        return NULL;
    }
    for (p = n; *p; p++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_-.",
                    *p)) {
            *p = '_';
        }
    }
    return n;
}

/* The command LAVA sends (it adds "\n") for a send step's bytes. */
static char *send_command(const qhil_step *st)
{
    if (st->text_len && st->text[st->text_len - 1] == '\n') {
        return strndup(st->text, st->text_len - 1);
    }
    return strndup(st->text, st->text_len);
}

static void e_item_success(qhil_yamlout *e, const char *pattern)
{
    qhil_yamlout_str(e, "successes");
    qhil_yamlout_seq(e, false);
    qhil_yamlout_map(e, false);
    qhil_yamlout_str(e, "message");
    if (pattern) {
        e_pattern(e, pattern);
    } else {
        qhil_yamlout_str(e, LAVA_AT_ONCE);
    }
    qhil_yamlout_map_end(e);
    qhil_yamlout_seq_end(e);
    qhil_yamlout_str(e, "wait_for_prompt");
    qhil_yamlout_plain(e, "false");
}

static void e_script(qhil_yamlout *e, const qhil_test *t)
{
    size_t i;

    qhil_yamlout_seq(e, false);
    for (i = 0; i < t->n_steps; i++) {
        const qhil_step *st = &t->steps[i];
        const qhil_step *next = i + 1 < t->n_steps ? &t->steps[i + 1] : NULL;
        char *cmd = NULL;

        qhil_yamlout_map(e, false);
        switch (st->kind) {
        case QHIL_STEP_EXPECT:
            qhil_yamlout_str(e, "command");
            qhil_yamlout_plain(e, "null");
            e_item_success(e, st->pattern);
            break;
        case QHIL_STEP_SEND:
            cmd = send_command(st);
            if (cmd &&
                (st->text_len == 0 || st->text[st->text_len - 1] != '\n')) {
                char *esc = NULL;

                /* Ctrl-A then LAVA's newline: the multiplexer eats it. */
                if (asprintf(&esc, "%s\x01", cmd) < 0) {
                    esc = NULL;
                }
                free(cmd);
                cmd = esc;
            }
            if (!cmd) {
                e->failed = true;
                break;
            }
            qhil_yamlout_kv(e, "command", cmd);
            if (next && next->kind == QHIL_STEP_EXPECT) {
                e_item_success(e, next->pattern);
                i++;
            } else {
                e_item_success(e, NULL);
            }
            break;
        case QHIL_STEP_QMP:
            /* Ctrl-A c: to the monitor; Ctrl-A c: back; Ctrl-A eats
             * LAVA's newline.  The reset is made with the guest
             * stopped: a guest that printed while the monitor still
             * echoed the command had its banner cut by the monitor's
             * line editing, and LAVA's pattern missed it.  cont runs
             * it again once the monitor has printed its prompt. */
            qhil_yamlout_kv(e, "command",
                            strcmp(st->command, "quit") == 0
                                ? "\x01"
                                  "cquit\n"
                                : "\x01"
                                  "cstop\nsystem_reset\ncont\n\x01"
                                  "c\x01");
            e_item_success(e, NULL);
            break;
        case QHIL_STEP_WAIT:
            qhil_yamlout_str(e, "delay");
            qhil_yamlout_int(e, secs_up(st->duration_ns));
            break;
        default:
            e->failed = true;
            break;
        }
        free(cmd);
        qhil_yamlout_map_end(e);
    }
    qhil_yamlout_seq_end(e);
}

static void e_test_actions(qhil_yamlout *e, const qhil_suite *s,
                           const qhil_test *t)
{
    char *name = lava_name(t->name);
    size_t i;

    if (!name) {
        e->failed = true;
        return;
    }
    qhil_yamlout_map(e, false);
    qhil_yamlout_str(e, "boot");
    qhil_yamlout_map(e, false);
    qhil_yamlout_kv(e, "method", "qemu");
    qhil_yamlout_kv(e, "media", "tmpfs");
    e_timeout(e, "timeout", LAVA_BOOT_S);
    qhil_yamlout_map_end(e);
    qhil_yamlout_map_end(e);

    qhil_yamlout_map(e, false);
    qhil_yamlout_str(e, "test");
    qhil_yamlout_map(e, false);
    e_timeout(e, "timeout", test_secs(t));
    qhil_yamlout_str(e, "interactive");
    qhil_yamlout_seq(e, false);
    qhil_yamlout_map(e, false);
    qhil_yamlout_kv(e, "name", name);
    qhil_yamlout_str(e, "prompts");
    qhil_yamlout_seq(e, false);
    for (i = 0; i < t->n_fail_on; i++) {
        e_pattern(e, t->fail_on[i]);
    }
    if (!t->n_fail_on) {
        qhil_yamlout_str(e, LAVA_NEVER);
    }
    qhil_yamlout_seq_end(e);
    qhil_yamlout_str(e, "script");
    e_script(e, t);
    qhil_yamlout_map_end(e);
    qhil_yamlout_seq_end(e);
    qhil_yamlout_map_end(e);
    qhil_yamlout_map_end(e);
    (void)s;
    free(name);
}

/* One job of tests[first .. first + n) into *out. */
static int emit_job(const qhil_suite *s, const lava_split *sp, size_t first,
                    size_t n, bool per_test, qhil_buf *out, qhil_error *err)
{
    const struct {
        const char *name;
        const char *value;
    } keys[] = {
        {"machine", sp->ctx.machine},     {"cpu", sp->ctx.cpu},
        {"memory", sp->ctx.memory},       {"model", sp->ctx.model},
        {"netdevice", sp->ctx.netdevice}, {"mac_addr", sp->ctx.mac_addr},
    };
    qhil_yamlout e;
    const char *why = NULL;
    int64_t job_s = LAVA_DEPLOY_S;
    int64_t action_s = LAVA_BOOT_S;
    int64_t conn_s = 1;
    char *job_name = NULL;
    size_t i;
    size_t j;
    int rc = QHIL_EOK;

    if (qhil_yamlout_begin(&e, LAVA_MAX_JOB, NULL) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = first; i < first + n; i++) {
        const qhil_test *t = &s->tests[i];
        int64_t ts = test_secs(t);

        job_s += LAVA_BOOT_S + ts;
        action_s = ts > action_s ? ts : action_s;
        for (j = 0; j < t->n_steps; j++) {
            int64_t ss = secs_up(step_ns(&t->steps[j]));

            conn_s = ss > conn_s ? ss : conn_s;
        }
    }
    if (asprintf(&job_name, per_test ? "%s: %s" : "%s%s", s->name,
                 per_test ? s->tests[first].name : "") < 0) {
        job_name = NULL;
        e.failed = true;
    } else if (strlen(job_name) > 200) {
        size_t cut = 200;

        while (cut && ((unsigned char)job_name[cut] & 0xc0) == 0x80) {
            cut--; /* not inside a UTF-8 sequence */
        }
        job_name[cut] = '\0';
    }

    qhil_yamlout_map(&e, false);
    qhil_yamlout_kv(&e, "device_type", "qemu");
    qhil_yamlout_kv(&e, "job_name", job_name ? job_name : "");
    qhil_yamlout_str(&e, "timeouts");
    qhil_yamlout_map(&e, false);
    e_timeout(&e, "job", job_s);
    e_timeout(&e, "action", action_s);
    e_timeout(&e, "connection", conn_s);
    qhil_yamlout_map_end(&e);
    qhil_yamlout_kv(&e, "visibility", "public");
    qhil_yamlout_kv(&e, "priority", "medium");
    qhil_yamlout_str(&e, "context");
    qhil_yamlout_map(&e, false);
    qhil_yamlout_kv(&e, "arch", sp->ctx.arch->name);
    for (i = 0; i < QHIL_ARRAY_SIZE(keys); i++) {
        if (keys[i].value) {
            qhil_yamlout_kv(&e, keys[i].name, keys[i].value);
        }
    }
    if (sp->ctx.no_kvm) {
        qhil_yamlout_str(&e, "no_kvm");
        qhil_yamlout_plain(&e, "true");
    }
    qhil_yamlout_str(&e, "extra_options");
    qhil_yamlout_seq(&e, false);
    for (i = 0; i < sp->n_extra; i++) {
        qhil_yamlout_str(&e, sp->ctx.extra[i]);
    }
    qhil_yamlout_seq_end(&e);
    qhil_yamlout_map_end(&e);
    qhil_yamlout_str(&e, "actions");
    qhil_yamlout_seq(&e, false);

    qhil_yamlout_map(&e, false);
    qhil_yamlout_str(&e, "deploy");
    qhil_yamlout_map(&e, false);
    qhil_yamlout_kv(&e, "to", "tmpfs");
    e_timeout(&e, "timeout", LAVA_DEPLOY_S);
    qhil_yamlout_str(&e, "images");
    qhil_yamlout_map(&e, false);
    for (i = 0; i < s->n_images; i++) {
        char *abs = realpath(s->images[i].path, NULL);
        char *url = NULL;

        if (!abs || asprintf(&url, "file://%s", abs) < 0) {
            if (!abs) {
                rc = qhil_error_set(err, QHIL_ENOENT,
                                    "%s:%d: images.%s: %s: %s", s->path,
                                    s->images[i].line, s->images[i].name,
                                    s->images[i].path, strerror(errno));
            }
            url = NULL;
            e.failed = true;
        }
        qhil_yamlout_str(&e, s->images[i].name);
        qhil_yamlout_map(&e, false);
        qhil_yamlout_kv(&e, "image_arg", sp->image_arg[i]);
        qhil_yamlout_kv(&e, "url", url ? url : "");
        qhil_yamlout_map_end(&e);
        free(url);
        free(abs);
    }
    qhil_yamlout_map_end(&e);
    qhil_yamlout_map_end(&e);
    qhil_yamlout_map_end(&e);

    for (i = first; i < first + n; i++) {
        e_test_actions(&e, s, &s->tests[i]);
    }
    qhil_yamlout_seq_end(&e);
    qhil_yamlout_map_end(&e);
    if (qhil_yamlout_end(&e, out, &why) < 0 && rc == QHIL_EOK) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "%s: cannot write the LAVA job%s%s: %s", s->path,
                            per_test ? " of test " : "",
                            per_test ? s->tests[first].name : "", why);
    }
    free(job_name);
    return rc;
}

/*
 * SUITE.device.yaml: the device configuration for lava-run, with a
 * header that says what it is and how to use it (first_job: the name of
 * the first job file, for the example command).
 */
static int device_file(const qhil_suite *s, const qhil_job *job,
                       const lava_split *sp, const char *first_job, char **name,
                       qhil_buf *out, qhil_error *err)
{
    char *base = lava_name(s->name);
    char *header = NULL;
    int rc;

    *name = NULL;
    if (!base || asprintf(name, "%s.device.yaml", base) < 0) {
        *name = NULL;
        free(base);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (asprintf(&header,
                 "# lava-run's device configuration for the LAVA jobs of "
                 "suite %s\n"
                 "# (device type %s), written by qhil lava export "
                 "--device-config:\n"
                 "# what lava-server renders from its qemu device type "
                 "(lava-server 2023.01)\n"
                 "# with the device dictionary\n"
                 "#     {%% extends 'qemu.jinja2' %%}\n"
                 "# and these jobs' context, kept to what lava-run reads "
                 "for them.\n"
                 "# Check a job on this machine before submitting it:\n"
                 "#     lava-run --job-id 1 --output-dir OUT --device %s "
                 "%s\n",
                 base, qhil_board_device_type(qhil_job_board(job)), *name,
                 first_job) < 0) {
        free(base);
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    free(base);
    rc = qhil_lava_device_config(&sp->ctx, header, out, err);
    free(header);
    if (rc < 0) {
        qhil_error_prefix(err, "%s", s->path);
    }
    return rc;
}

/* --- write ------------------------------------------------------------ */

/* Write data to dir/name through a temporary name, never replacing. */
static int write_one(int dfd, const char *dir, const char *name,
                     const qhil_buf *data, qhil_error *err)
{
    char *tmp = NULL;
    size_t off = 0;
    int fd;
    int rc = QHIL_EOK;

    if (asprintf(&tmp, ".%s.%ld.tmp", name, (long)getpid()) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0644);
    if (fd < 0) {
        rc = qhil_error_set(err, -errno, "%s/%s: cannot create: %s", dir, tmp,
                            strerror(errno));
        free(tmp);
        return rc;
    }
    while (off < data->len) {
        ssize_t w = write(fd, data->data + off, data->len - off);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            rc = qhil_error_set(err, QHIL_EIO, "%s/%s: write: %s", dir, tmp,
                                strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0 && rc == QHIL_EOK) {
        rc = qhil_error_set(err, QHIL_EIO, "%s/%s: close: %s", dir, tmp,
                            strerror(errno));
    }
    if (rc == QHIL_EOK &&
        renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) < 0) {
        rc = qhil_error_set(err, errno == EEXIST ? QHIL_EINVAL : QHIL_EIO,
                            "%s/%s: %s", dir, name,
                            errno == EEXIST ? "exists already, not replaced"
                                            : strerror(errno));
    }
    if (rc < 0) {
        unlinkat(dfd, tmp, 0);
    }
    free(tmp);
    return rc;
}

int qhil_lava_export(const qhil_suite *suite, const qhil_job *job,
                     const qhil_lava_opts *opts, char ***written,
                     qhil_error *err)
{
    lava_split sp;
    size_t n_jobs = opts->per_test ? suite->n_tests : 1;
    size_t n_files = n_jobs + (opts->device_config ? 1 : 0);
    qhil_buf *bufs = NULL;
    char **names = NULL;
    char **paths = NULL;
    size_t n_paths = 0;
    size_t i;
    size_t k;
    int dfd = -1;
    int rc;

    if (written) {
        *written = NULL;
    }
    memset(&sp, 0, sizeof(sp));
    rc = check_suite(suite, job, err);
    if (rc == QHIL_EOK) {
        rc = split_argv(suite, job, &sp, err);
    }
    if (rc < 0) {
        goto cleanup;
    }
    bufs = calloc(n_files, sizeof(*bufs));
    names = calloc(n_files + 1, sizeof(*names));
    if (!bufs || !names) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n_jobs && rc == QHIL_EOK; i++) {
        char *base = lava_name(suite->name);
        char *test = opts->per_test ? lava_name(suite->tests[i].name) : NULL;

        if (!base || (opts->per_test && !test) ||
            asprintf(&names[i], "%s%s%s.yaml", base, test ? "-" : "",
                     test ? test : "") < 0) {
            names[i] = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        free(base);
        free(test);
        for (k = 0; rc == QHIL_EOK && k < i; k++) {
            if (strcmp(names[k], names[i]) == 0) {
                rc = qhil_error_set(err, QHIL_EINVAL,
                                    "%s:%d: tests[%zu] '%s': its job file "
                                    "%s is that of tests[%zu] too: rename "
                                    "one",
                                    suite->path, suite->tests[i].line, i,
                                    suite->tests[i].name, names[i], k);
            }
        }
        if (rc == QHIL_EOK) {
            rc = emit_job(suite, &sp, opts->per_test ? i : 0,
                          opts->per_test ? 1 : suite->n_tests, opts->per_test,
                          &bufs[i], err);
        }
    }
    if (rc == QHIL_EOK && opts->device_config) {
        rc = device_file(suite, job, &sp, names[0], &names[n_jobs],
                         &bufs[n_jobs], err);
    }
    if (rc < 0) {
        goto cleanup;
    }

    if (mkdir(opts->dir, 0755) < 0 && errno != EEXIST) {
        rc = qhil_error_set(err, -errno, "%s: cannot make the folder: %s%s",
                            opts->dir, strerror(errno),
                            errno == ENOENT ? " (its parent must exist)" : "");
        goto cleanup;
    }
    dfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = qhil_error_set(err, -errno, "%s: %s", opts->dir, strerror(errno));
        goto cleanup;
    }
    for (i = 0; i < n_files; i++) {
        struct stat st;

        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 ||
            errno != ENOENT) {
            rc = qhil_error_set(err, QHIL_EINVAL,
                                "%s/%s: exists already, not replaced: "
                                "nothing written",
                                opts->dir, names[i]);
            goto cleanup;
        }
    }
    paths = calloc(n_files + 1, sizeof(*paths));
    if (!paths) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n_files; i++) {
        rc = write_one(dfd, opts->dir, names[i], &bufs[i], err);
        if (rc == QHIL_EOK &&
            asprintf(&paths[n_paths], "%s/%s", opts->dir, names[i]) < 0) {
            paths[n_paths] = NULL;
            unlinkat(dfd, names[i], 0);
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        if (rc < 0) {
            for (k = 0; k < n_paths; k++) {
                unlinkat(dfd, names[k], 0); /* nothing half-written */
            }
            goto cleanup;
        }
        n_paths++;
    }
    if (written) {
        *written = paths;
        paths = NULL;
    }

cleanup:
    if (dfd >= 0) {
        close(dfd);
    }
    qhil_argv_free(paths);
    qhil_argv_free(names);
    for (i = 0; bufs && i < n_files; i++) {
        qhil_buf_release(&bufs[i]);
    }
    free(bufs);
    split_release(&sp, suite->n_images);
    return rc;
}
