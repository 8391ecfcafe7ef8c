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
 *   reset, quit     Ctrl-A c, the monitor command, Ctrl-A c back
 *   wait D          a delay item of D rounded up to whole seconds
 *   fail_on F       the entry's prompts: a prompt matched while a
 *                   success is expected fails the test
 * Patterns are prefixed "(?m)(?-s:...)": qhil compiles them with
 * PCRE2_MULTILINE, pexpect compiles them with re.DOTALL.
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

#include <yaml.h>

#include <qhil/board.h>
#include <qhil/lava.h>

#include "internal.h"

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

static int check_step(const qhil_suite *s, size_t ti, size_t si,
                      qhil_error *err)
{
    const qhil_step *st = &s->tests[ti].steps[si];
    char field[64];

    snprintf(field, sizeof(field), "tests[%zu].steps[%zu]", ti, si);
    switch (st->kind) {
    case QHIL_STEP_EXPECT:
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
    }
    base = base ? base + 1 : bin;
    if (strncmp(base, "qemu-system-", 12) != 0 || !plain_word(base + 12)) {
        return refuse(err, s, s->device_type_line,
                      "device_type %s: its QEMU binary '%s' is not one of "
                      "QEMU's qemu-system-ARCH: LAVA's qemu device type has "
                      "no equivalent",
                      s->device_type, base);
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
    const char *arch;
    const char *machine;
    const char *cpu;
    const char *memory;
    char **image_arg; /* per suite image, malloc'ed */
    char **extra;     /* NULL-terminated, malloc'ed */
    size_t n_extra;
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
    qhil_argv_free(sp->extra);
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

static int split_argv(const qhil_suite *s, const qhil_job *job, lava_split *sp,
                      qhil_error *err)
{
    const char *const *argv = qhil_job_argv(job);
    size_t i;
    size_t k;

    memset(sp, 0, sizeof(*sp));
    sp->arch =
        strstr(qhil_board_binary(qhil_job_board(job)), "qemu-system-") + 12;
    sp->image_arg = calloc(s->n_images + 1, sizeof(char *));
    if (!sp->image_arg) {
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
        if (val && strcmp(opt, "-machine") == 0) {
            sp->machine = val;
            continue;
        }
        if (val && strcmp(opt, "-cpu") == 0) {
            sp->cpu = val;
            continue;
        }
        if (val && strcmp(opt, "-m") == 0) {
            sp->memory = val;
            continue;
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
        if (val ? asprintf(&word, "%s %s", opt, val) < 0
                : !(word = strdup(opt))) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        if (list_add(&sp->extra, &sp->n_extra, word) < 0) {
            free(word);
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
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
    return QHIL_EOK;
}

/* --- build ------------------------------------------------------------ */

typedef struct lava_emit {
    yaml_emitter_t em;
    qhil_buf out;
    bool failed;
} lava_emit;

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
    lava_emit *e = data;

    return qhil_buf_append(&e->out, buffer, size) == 0;
}

static void emit_event(lava_emit *e, yaml_event_t *ev, int made)
{
    if (!made) {
        e->failed = true; /* not UTF-8, or out of memory */
        return;
    }
    if (e->failed) {
        yaml_event_delete(ev);
        return;
    }
    if (!yaml_emitter_emit(&e->em, ev)) {
        e->failed = true;
    }
}

/*
 * Whether a plain s could read back as something other than a string
 * under YAML 1.1 (what LAVA's loader resolves): empty, a number or date
 * (only digits and "+-._:eExXoObB"), a bool or null word, or "<<", "=".
 * Erring towards quotes is harmless.
 */
static bool looks_typed(const char *s)
{
    static const char *const words[] = {
        "y",   "n",    "yes", "no", "true", "false", "on",
        "off", "null", "~",   "<<", "=",    ".inf",  ".nan",
    };
    size_t i;

    if (!*s || !s[strspn(s, "0123456789+-._:eExXoObB")]) {
        return true;
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(words); i++) {
        if (strcasecmp(s, words[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* A string: plain when the emitter finds that safe and it cannot read
 * back as a number, bool or null; quoted otherwise. */
static void e_str(lava_emit *e, const char *s)
{
    yaml_event_t ev;
    int plain = !looks_typed(s);

    emit_event(e, &ev,
               yaml_scalar_event_initialize(
                   &ev, NULL, (yaml_char_t *)YAML_STR_TAG, (yaml_char_t *)s, -1,
                   plain, 1, YAML_ANY_SCALAR_STYLE));
}

static void e_plain(lava_emit *e, const char *s)
{
    yaml_event_t ev;

    emit_event(e, &ev,
               yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
                                            -1, 1, 0, YAML_PLAIN_SCALAR_STYLE));
}

static void e_int(lava_emit *e, int64_t v)
{
    char num[24];

    snprintf(num, sizeof(num), "%lld", (long long)v);
    e_plain(e, num);
}

static void e_map(lava_emit *e, bool flow)
{
    yaml_event_t ev;

    emit_event(e, &ev,
               yaml_mapping_start_event_initialize(
                   &ev, NULL, NULL, 1,
                   flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static void e_map_end(lava_emit *e)
{
    yaml_event_t ev;

    emit_event(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void e_seq(lava_emit *e)
{
    yaml_event_t ev;

    emit_event(e, &ev,
               yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                    YAML_BLOCK_SEQUENCE_STYLE));
}

static void e_seq_end(lava_emit *e)
{
    yaml_event_t ev;

    emit_event(e, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void e_kv(lava_emit *e, const char *k, const char *v)
{
    e_str(e, k);
    e_str(e, v);
}

/* {minutes: N} when N seconds are whole minutes, else {seconds: N}. */
static void e_timeout(lava_emit *e, const char *key, int64_t secs)
{
    e_str(e, key);
    e_map(e, true);
    if (secs % 60 == 0) {
        e_str(e, "minutes");
        e_int(e, secs / 60);
    } else {
        e_str(e, "seconds");
        e_int(e, secs);
    }
    e_map_end(e);
}

/* A pattern as pexpect must compile it to mean what it means in qhil. */
static void e_pattern(lava_emit *e, const char *p)
{
    char *w = NULL;

    if (asprintf(&w, "(?m)(?-s:%s)", p) < 0) {
        e->failed = true;
        return;
    }
    e_str(e, w);
    free(w);
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

static void e_item_success(lava_emit *e, const char *pattern)
{
    e_str(e, "successes");
    e_seq(e);
    e_map(e, false);
    e_str(e, "message");
    if (pattern) {
        e_pattern(e, pattern);
    } else {
        e_str(e, LAVA_AT_ONCE);
    }
    e_map_end(e);
    e_seq_end(e);
    e_str(e, "wait_for_prompt");
    e_plain(e, "false");
}

static void e_script(lava_emit *e, const qhil_test *t)
{
    size_t i;

    e_seq(e);
    for (i = 0; i < t->n_steps; i++) {
        const qhil_step *st = &t->steps[i];
        const qhil_step *next = i + 1 < t->n_steps ? &t->steps[i + 1] : NULL;
        char *cmd = NULL;

        e_map(e, false);
        switch (st->kind) {
        case QHIL_STEP_EXPECT:
            e_str(e, "command");
            e_plain(e, "null");
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
            e_kv(e, "command", cmd);
            if (next && next->kind == QHIL_STEP_EXPECT) {
                e_item_success(e, next->pattern);
                i++;
            } else {
                e_item_success(e, NULL);
            }
            break;
        case QHIL_STEP_QMP:
            /* Ctrl-A c: to the monitor; Ctrl-A c: back; Ctrl-A eats
             * LAVA's newline. */
            e_kv(e, "command",
                 strcmp(st->command, "quit") == 0 ? "\x01"
                                                    "cquit\n"
                                                  : "\x01"
                                                    "csystem_reset\n\x01"
                                                    "c\x01");
            e_item_success(e, NULL);
            break;
        case QHIL_STEP_WAIT:
            e_str(e, "delay");
            e_int(e, secs_up(st->duration_ns));
            break;
        default:
            e->failed = true;
            break;
        }
        free(cmd);
        e_map_end(e);
    }
    e_seq_end(e);
}

static void e_test_actions(lava_emit *e, const qhil_suite *s,
                           const qhil_test *t)
{
    char *name = lava_name(t->name);
    size_t i;

    if (!name) {
        e->failed = true;
        return;
    }
    e_map(e, false);
    e_str(e, "boot");
    e_map(e, false);
    e_kv(e, "method", "qemu");
    e_kv(e, "media", "tmpfs");
    e_timeout(e, "timeout", LAVA_BOOT_S);
    e_map_end(e);
    e_map_end(e);

    e_map(e, false);
    e_str(e, "test");
    e_map(e, false);
    e_timeout(e, "timeout", test_secs(t));
    e_str(e, "interactive");
    e_seq(e);
    e_map(e, false);
    e_kv(e, "name", name);
    e_str(e, "prompts");
    e_seq(e);
    for (i = 0; i < t->n_fail_on; i++) {
        e_pattern(e, t->fail_on[i]);
    }
    if (!t->n_fail_on) {
        e_str(e, LAVA_NEVER);
    }
    e_seq_end(e);
    e_str(e, "script");
    e_script(e, t);
    e_map_end(e);
    e_seq_end(e);
    e_map_end(e);
    e_map_end(e);
    (void)s;
    free(name);
}

/* One job of tests[first .. first + n) into *out. */
static int emit_job(const qhil_suite *s, const lava_split *sp, size_t first,
                    size_t n, bool per_test, qhil_buf *out, qhil_error *err)
{
    lava_emit e;
    yaml_event_t ev;
    int64_t job_s = LAVA_DEPLOY_S;
    int64_t action_s = LAVA_BOOT_S;
    int64_t conn_s = 1;
    char *job_name = NULL;
    size_t i;
    size_t j;
    int rc = QHIL_EOK;

    memset(&e, 0, sizeof(e));
    qhil_buf_init(&e.out, LAVA_MAX_JOB);
    if (!yaml_emitter_initialize(&e.em)) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    yaml_emitter_set_output(&e.em, emit_write, &e);
    yaml_emitter_set_unicode(&e.em, 1);
    yaml_emitter_set_width(&e.em, 78);
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

    emit_event(&e, &ev,
               yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    emit_event(&e, &ev,
               yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    e_map(&e, false);
    e_kv(&e, "device_type", "qemu");
    e_kv(&e, "job_name", job_name ? job_name : "");
    e_str(&e, "timeouts");
    e_map(&e, false);
    e_timeout(&e, "job", job_s);
    e_timeout(&e, "action", action_s);
    e_timeout(&e, "connection", conn_s);
    e_map_end(&e);
    e_kv(&e, "visibility", "public");
    e_kv(&e, "priority", "medium");
    e_str(&e, "context");
    e_map(&e, false);
    e_kv(&e, "arch", sp->arch);
    if (sp->machine) {
        e_kv(&e, "machine", sp->machine);
    }
    if (sp->cpu) {
        e_kv(&e, "cpu", sp->cpu);
    }
    if (sp->memory) {
        e_kv(&e, "memory", sp->memory);
    }
    if (sp->n_extra) {
        e_str(&e, "extra_options");
        e_seq(&e);
        for (i = 0; i < sp->n_extra; i++) {
            e_str(&e, sp->extra[i]);
        }
        e_seq_end(&e);
    }
    e_map_end(&e);
    e_str(&e, "actions");
    e_seq(&e);

    e_map(&e, false);
    e_str(&e, "deploy");
    e_map(&e, false);
    e_kv(&e, "to", "tmpfs");
    e_timeout(&e, "timeout", LAVA_DEPLOY_S);
    e_str(&e, "images");
    e_map(&e, false);
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
        e_str(&e, s->images[i].name);
        e_map(&e, false);
        e_kv(&e, "image_arg", sp->image_arg[i]);
        e_kv(&e, "url", url ? url : "");
        e_map_end(&e);
        free(url);
        free(abs);
    }
    e_map_end(&e);
    e_map_end(&e);
    e_map_end(&e);

    for (i = first; i < first + n; i++) {
        e_test_actions(&e, s, &s->tests[i]);
    }
    e_seq_end(&e);
    e_map_end(&e);
    emit_event(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
    emit_event(&e, &ev, yaml_stream_end_event_initialize(&ev));
    yaml_emitter_flush(&e.em);

    if (e.failed && rc == QHIL_EOK) {
        rc = qhil_error_set(
            err, QHIL_EINVAL, "%s: cannot write the LAVA job%s%s: %s", s->path,
            per_test ? " of test " : "", per_test ? s->tests[first].name : "",
            e.em.problem ? e.em.problem
                         : "a text is not UTF-8, or the "
                           "job is over 4 MiB");
    }
    yaml_emitter_delete(&e.em);
    free(job_name);
    if (rc < 0) {
        qhil_buf_release(&e.out);
        return rc;
    }
    *out = e.out;
    return QHIL_EOK;
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
    bufs = calloc(n_jobs, sizeof(*bufs));
    names = calloc(n_jobs + 1, sizeof(*names));
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
    if (rc < 0) {
        goto cleanup;
    }

    if (mkdir(opts->dir, 0755) < 0 && errno != EEXIST) {
        rc = qhil_error_set(err, -errno, "%s: cannot make the folder: %s",
                            opts->dir, strerror(errno));
        goto cleanup;
    }
    dfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = qhil_error_set(err, -errno, "%s: %s", opts->dir, strerror(errno));
        goto cleanup;
    }
    for (i = 0; i < n_jobs; i++) {
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
    paths = calloc(n_jobs + 1, sizeof(*paths));
    if (!paths) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n_jobs; i++) {
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
    for (i = 0; bufs && i < n_jobs; i++) {
        qhil_buf_release(&bufs[i]);
    }
    free(bufs);
    split_release(&sp, suite->n_images);
    return rc;
}
