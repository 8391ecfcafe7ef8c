/*
 * cmd_qmp.c - `qhil qmp`: talk QMP to a QEMU by hand or from a script.
 *
 * The peer is either a QMP socket someone else's QEMU listens on
 * (ADDRESS), or a QEMU this command starts from a board template
 * (--board); its guest console then goes to console.log in the run
 * folder, out of the way of the shell.
 *
 * Two modes share everything but the input side:
 *
 *   shell  stdin is a terminal and no -c: libedit reads lines with
 *          history and completion from the live schema; replies are
 *          indented JSON, events are shown as they arrive.
 *   batch  -c LINE..., or lines on stdin: one reply per line as compact
 *          JSON, events only with --events; the exit status says whether
 *          every command succeeded.
 *
 * One poll() loop (pump) serves both: the QMP socket (replies, events),
 * a signalfd (Ctrl-C, SIGTERM, SIGHUP, SIGWINCH), the guest console of a
 * machine we started (drained into console.log) and, when reading input,
 * stdin.  libedit's el_gets() would block, so the shell uses its
 * readline-compatible callback interface: rl_callback_read_char() is
 * called only when poll() says stdin is readable, and an event printed
 * at the prompt erases the line being edited and redraws it afterwards.
 *
 * A line is one of (see parse_line):
 *
 *   cmd key=value a.b=1        shorthand; a value that parses as JSON is
 *                              that JSON, anything else a string
 *   {"execute": "cmd", ...}    a QMP command object
 *   hmp info registers         a human monitor command
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <editline/readline.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

#define QMP_PROMPT "(qmp) "
#define QMP_HISTORY_MAX 1000            /* lines kept in the history file */
#define QMP_LINE_MAX ((size_t)16 << 20) /* longest input line, bytes */
#define QMP_READ_CHUNK 65536
#define QMP_TICK_MS 1000 /* idle poll period: re-checks stop requests */
#define QMP_SUGGEST_MAX 3
/* libedit's rl_line_buffer points into a conversion buffer that moves
 * when a line outgrows about 1 KiB; completion does not look at longer
 * lines rather than read through a stale pointer. */
#define QMP_COMPLETE_MAX_LINE 1000

/* What running one line came to; also the worst-of exit status. */
enum outcome {
    OUT_OK = QHIL_EXIT_OK,
    OUT_FAILED = QHIL_EXIT_FAILED, /* error reply, refused, no reply */
    OUT_BROKEN = QHIL_EXIT_USAGE,  /* connection gone */
};

/* pump() results besides a negative QMP error.  After a hang-up a pipe
 * may still hold data; a terminal is gone. */
#define PUMP_INPUT (1 << 0) /* the input fd is readable */
#define PUMP_HUP (1 << 1)   /* the input fd hung up */

/* wait_reply() result besides take_reply's: Ctrl-C while waiting. */
#define WAIT_INTERRUPTED 2

typedef struct qmp_cli {
    qhil_qmp *qmp;         /* the connection (borrowed from machine, or
                              own_qmp) */
    qhil_qmp *own_qmp;     /* connected by address */
    qhil_machine *machine; /* started by --board */
    qhil_console *console; /* its console, borrowed; NULL once at EOF */
    char *run_dir;         /* the machine's logs */
    bool run_dir_temp;     /* made by us: removed unless QEMU died */
    int sig_fd;            /* signalfd, -1 until the loop starts */
    sigset_t old_mask;
    int64_t timeout;          /* per command, ns */
    const char *timeout_text; /* as given, for messages */
    bool pretty;              /* indented replies */
    bool events;              /* print events */
    bool interactive;         /* shell mode */
    bool schema;              /* schema loaded: checks and completion */
    bool at_prompt;           /* the line editor shows a prompt */
    bool line_cleared;        /* an event erased the edited line */
    bool quit_done;           /* "quit" succeeded: EOF is expected */
    bool interrupted;         /* Ctrl-C seen, not handled yet */
    bool stop;                /* leave the loop */
    int term_signal;          /* SIGTERM/SIGHUP/(batch) SIGINT to re-raise */
    int status;               /* worst outcome so far */
    char *history_path;
    char *last_line; /* last history entry, for de-duplication */
    char **comp;     /* completion candidates, while completing */
    size_t comp_next;
} qmp_cli;

/* One parsed input line. */
typedef struct qmp_request {
    char *command; /* QMP command name; NULL for HMP */
    json_t *args;  /* arguments object or NULL */
    unsigned flags;
    char *hmp; /* HMP command line */
} qmp_request;

/*
 * readline's callbacks (line handler, completion generator) take no
 * user-data argument, so the shell's context has to be reachable from a
 * file-scope pointer while the shell runs.  It is set and cleared by
 * shell() and used by nothing else.
 */
static qmp_cli *shell_cli;

static void qmp_usage(FILE *f)
{
    static const char *const text[] = {
        "usage: qhil qmp [options] ADDRESS",
        "       qhil qmp [options] --board DEVICE_TYPE [--kernel ELF]",
        "",
        "Talk QMP to QEMU: a shell when stdin is a terminal; else run the -c",
        "lines, or the lines on stdin, and print one reply per line.",
        "",
        "ADDRESS is a Unix socket path, unix:PATH or tcp:HOST:PORT, as",
        "given to QEMU's -qmp ...,server=on,wait=off.  With --board, qhil",
        "starts the board's QEMU itself, sends the guest console to",
        "console.log in its run folder, and stops QEMU when it ends.",
        "",
        "Lines:",
        "  query-status               a command",
        "  cmd key=value key2=value2  arguments: a value that parses as JSON",
        "                             (1, true, null, \"a b\", [...], {...})",
        "                             is that JSON, anything else a string;",
        "                             'text' is always a string",
        "  cmd a.b=1 a.c=x            dotted keys make objects: {\"a\": {...}}",
        "  {\"execute\": \"cmd\", ...}    a QMP command object",
        "  hmp info registers         a human monitor command; prints its text",
        "  # comment                  skipped, as are blank lines",
        "Commands and arguments QEMU's schema does not know are refused before",
        "anything is sent, with the closest names when there are some.",
        "",
        "Options:",
        "  -c, --command LINE  run LINE (repeatable, in order), then exit;",
        "                      stdin is not read",
        "      --pretty        indent replies (the shell always does)",
        "      --events        print events (the shell always does)",
        "      --timeout DUR   wait DUR for each reply, and to connect or",
        "                      start QEMU (default 10s; 500ms, 1.5s, 2m)",
        "      --board TYPE    start QEMU for board TYPE (TYPE.yaml)",
        "      --kernel ELF    the image for the board's kernel slot",
        "      --accel qtest   start QEMU with -accel qtest (qhil's QEMU)",
        "  -o, --output DIR    keep QEMU's logs in DIR (default: a temporary",
        "                      folder, removed at exit unless QEMU died)",
        "  -B, --boards DIR    look for board templates in DIR first",
        "                      (repeatable)",
        "  -Q, --qemu-dir DIR  look for QEMU binaries in DIR before PATH",
        "                      (repeatable)",
        "  -h, --help          show this help",
        "",
        "Shell: Tab completes command names, then KEY= argument names.",
        "History is kept in $XDG_STATE_HOME/qhil/qmp_history, else in",
        "~/.qhil_qmp_history.  Ctrl-C drops the line being typed, or stops",
        "waiting for a reply; Ctrl-D leaves.  (The QMP command quit stops",
        "QEMU.)",
        "",
        "Output: a reply is its \"return\" value as JSON, compact in batch",
        "mode; an error is \"error: CLASS: description\" on stderr; an",
        "event is \"event NAME at SECONDS.MICROSECONDS: DATA\", one line.",
        "",
        "Exit status: 0 every command succeeded; 1 a command got an error",
        "reply, was refused or got no reply in time; 2 wrong command line,",
        "cannot connect or start QEMU, or the connection was lost.",
    };
    size_t i;

    for (i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        fprintf(f, "%s\n", text[i]);
    }
}

/* ---- output ------------------------------------------------------- */

/* Before printing at the prompt: erase the line being edited (once). */
static void prompt_clear(qmp_cli *c)
{
    if (c->interactive && c->at_prompt && !c->line_cleared) {
        fputs("\r\033[K", stdout);
        c->line_cleared = true;
    }
}

/* After printing at the prompt: draw prompt and line again. */
static void prompt_redraw(qmp_cli *c)
{
    if (c->line_cleared) {
        fflush(stdout);
        rl_forced_update_display();
        c->line_cleared = false;
    }
}

static void say_error(qmp_cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "error: ..." on stderr, after whatever stdout holds. */
static void say_error(qmp_cli *c, const char *fmt, ...)
{
    va_list ap;

    prompt_clear(c);
    fflush(stdout);
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void print_json(qmp_cli *c, const json_t *v)
{
    size_t flags = JSON_ENCODE_ANY;
    char *text;

    flags |= c->interactive || c->pretty ? JSON_INDENT(2) : JSON_COMPACT;
    text = json_dumps(v, flags);
    if (!text) {
        say_error(c, "cannot print the reply (out of memory)");
        return;
    }
    printf("%s\n", text);
    fflush(stdout);
    free(text);
}

/* HMP text as is, but with QEMU's \r\n line ends made \n. */
static void print_hmp(const char *text)
{
    const char *p;

    for (p = text; *p; p++) {
        if (p[0] == '\r' && p[1] == '\n') {
            continue;
        }
        putchar(*p);
    }
    if (p > text && p[-1] != '\n') {
        putchar('\n');
    }
    fflush(stdout);
}

/* "event NAME at SECONDS.MICROSECONDS: DATA" */
static void print_event(qmp_cli *c, const json_t *event)
{
    const char *name = json_string_value(json_object_get(event, "event"));
    const json_t *data = json_object_get(event, "data");
    const json_t *ts = json_object_get(event, "timestamp");
    char *text = NULL;

    if (data) {
        text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    prompt_clear(c);
    printf("event %s", name ? name : "?");
    if (json_is_object(ts)) {
        printf(" at %" JSON_INTEGER_FORMAT ".%06" JSON_INTEGER_FORMAT,
               json_integer_value(json_object_get(ts, "seconds")),
               json_integer_value(json_object_get(ts, "microseconds")));
    }
    printf(": %s\n", text ? text : "{}");
    fflush(stdout);
    free(text);
}

static int on_event(void *data, const json_t *event)
{
    qmp_cli *c = data;

    if (c->interactive || c->events) {
        print_event(c, event);
    }
    return 1; /* consumed: nothing waits for events here */
}

/* ---- suggestions -------------------------------------------------- */

/* Levenshtein distance, one row of memory; SIZE_MAX when out of it. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t *row = malloc((lb + 1) * sizeof(*row));
    size_t i;
    size_t j;
    size_t d;

    if (!row) {
        return SIZE_MAX;
    }
    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    d = row[lb];
    free(row);
    return d;
}

/*
 * The names closest to word, as "a, b or c" (malloc'ed), or NULL when
 * none is close: few edits away (one per five characters, plus one), or
 * containing the word.  Ties go to names that start with the word, then
 * to shorter names; only names at most one edit worse than the best are
 * kept.
 */
static char *suggest(const char *word, char *const *names)
{
    const char *best[QMP_SUGGEST_MAX];
    size_t best_d[QMP_SUGGEST_MAX];
    size_t n = 0;
    size_t wlen = strlen(word);
    size_t limit = 1 + wlen / 5;
    char *out = NULL;
    size_t len = 0;
    size_t i;

    for (i = 0; names && names[i]; i++) {
        size_t d = edit_distance(word, names[i]);
        size_t k;

        if (d > limit && !(wlen >= 4 && strstr(names[i], word))) {
            continue;
        }
        if (d > limit) {
            d = limit + 1; /* substring hits rank after close edits */
        }
        /* Rank: twice the distance, less one for a name the word
         * begins, then the shorter name first. */
        d = (2 * d + (strncmp(names[i], word, wlen) != 0)) * 256;
        d += strlen(names[i]) < 255 ? strlen(names[i]) : 255;
        if (n == QMP_SUGGEST_MAX && d >= best_d[n - 1]) {
            continue;
        }
        if (n < QMP_SUGGEST_MAX) {
            n++;
        }
        for (k = n - 1; k > 0 && best_d[k - 1] > d; k--) {
            best[k] = best[k - 1];
            best_d[k] = best_d[k - 1];
        }
        best[k] = names[i];
        best_d[k] = d;
    }
    while (n > 1 && best_d[n - 1] / 256 > best_d[0] / 256 + 2) {
        n--;
    }
    for (i = 0; i < n; i++) {
        len += strlen(best[i]) + 4;
    }
    if (n && (out = malloc(len + 1))) {
        out[0] = '\0';
        for (i = 0; i < n; i++) {
            if (i) {
                strcat(out, i == n - 1 ? " or " : ", ");
            }
            strcat(out, best[i]);
        }
    }
    return out;
}

/* "did you mean ...?" on stderr when a name is close to word. */
static void say_suggestion(const char *word, char *const *names)
{
    char *s = suggest(word, names);

    if (s) {
        fprintf(stderr, "hint: did you mean %s?\n", s);
        free(s);
    }
}

/* ---- parsing ------------------------------------------------------ */

static void request_release(qmp_request *req)
{
    free(req->command);
    json_decref(req->args);
    free(req->hmp);
    memset(req, 0, sizeof(*req));
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * Cut the next blank-separated word of a shorthand line at *pos.
 * Blanks inside "...", '...', {...} and [...] do not cut.  Returns 1 and
 * *out (malloc'ed, the raw text), 0 at the end, or QHIL_ESYNTAX.
 */
static int next_word(const char **pos, char **out, qhil_error *err)
{
    const char *p = *pos;
    const char *start;
    char quote = 0;
    bool esc = false;
    int depth = 0;

    *out = NULL;
    while (is_blank(*p)) {
        p++;
    }
    if (!*p) {
        *pos = p;
        return 0;
    }
    for (start = p; *p; p++) {
        if (quote) {
            if (esc) {
                esc = false;
            } else if (*p == '\\' && quote == '"') {
                esc = true;
            } else if (*p == quote) {
                quote = 0;
            }
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if ((*p == '}' || *p == ']') && depth > 0) {
            depth--;
        } else if (is_blank(*p) && depth == 0) {
            break;
        }
    }
    if (quote || depth) {
        qhil_error_set(err, QHIL_ESYNTAX, "unclosed %s in '%s'",
                       quote == '"'    ? "\" quote"
                       : quote == '\'' ? "' quote"
                                       : "bracket",
                       start);
        return QHIL_ESYNTAX;
    }
    *out = strndup(start, (size_t)(p - start));
    if (!*out) {
        qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        return QHIL_ENOMEM;
    }
    *pos = p;
    return 1;
}

/* A shorthand value: 'text' is a string, JSON is JSON, else a string. */
static json_t *word_value(const char *raw)
{
    size_t n = strlen(raw);
    json_t *v;

    if (n >= 2 && raw[0] == '\'' && raw[n - 1] == '\'') {
        return json_stringn(raw + 1, n - 2);
    }
    v = json_loads(raw, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    return v ? v : json_string(raw);
}

/*
 * Put value (stolen) at key in args; "a.b.c" makes nested objects.
 */
static int set_arg(json_t *args, const char *key, json_t *value,
                   qhil_error *err)
{
    json_t *obj = args;
    const char *p = key;
    int rc = QHIL_EOK;

    for (;;) {
        const char *dot = strchr(p, '.');
        char *name;
        json_t *child;

        if (dot == p || !*p) {
            rc = qhil_error_set(err, QHIL_ESYNTAX,
                                "argument name '%s' has an empty part", key);
            break;
        }
        if (!dot) {
            if (json_object_get(obj, p)) {
                rc = qhil_error_set(err, QHIL_ESYNTAX,
                                    "argument '%s' given twice", key);
            } else if (json_object_set(obj, p, value) < 0) {
                rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            }
            break;
        }
        name = strndup(p, (size_t)(dot - p));
        if (!name) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
        child = json_object_get(obj, name);
        if (!child) {
            child = json_object();
            if (!child || json_object_set_new(obj, name, child) < 0) {
                free(name);
                rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
                break;
            }
        } else if (!json_is_object(child)) {
            rc = qhil_error_set(err, QHIL_ESYNTAX,
                                "argument '%.*s' is both a value and an "
                                "object (in '%s')",
                                (int)(dot - key), key, key);
            free(name);
            break;
        }
        free(name);
        obj = child;
        p = dot + 1;
    }
    json_decref(value);
    return rc;
}

/* {"execute": ..., "arguments": ...} */
static int parse_json_line(const char *line, qmp_request *req, qhil_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    const char *key;
    json_t *v;
    int rc = QHIL_EOK;

    if (!obj) {
        return qhil_error_set(err, QHIL_ESYNTAX,
                              "not valid JSON: %s (column %d)", jerr.text,
                              jerr.column);
    }
    if (!json_is_object(obj)) {
        rc = qhil_error_set(err, QHIL_ESYNTAX,
                            "a QMP command must be a JSON object");
        goto cleanup;
    }
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "execute") == 0 || strcmp(key, "exec-oob") == 0) {
            if (!json_is_string(v) || req->command) {
                rc = qhil_error_set(err, QHIL_ESYNTAX,
                                    "give one of \"execute\" or "
                                    "\"exec-oob\", with a string");
                goto cleanup;
            }
            req->command = strdup(json_string_value(v));
            if (!req->command) {
                rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
                goto cleanup;
            }
            if (key[4] == '-') {
                req->flags |= QHIL_QMP_OOB;
            }
        } else if (strcmp(key, "arguments") == 0) {
            if (!json_is_object(v)) {
                rc = qhil_error_set(err, QHIL_ESYNTAX,
                                    "\"arguments\" must be an object");
                goto cleanup;
            }
            req->args = json_incref(v);
        } else if (strcmp(key, "id") != 0) {
            /* "id" is ignored: qhil tags every command with its own. */
            rc = qhil_error_set(err, QHIL_ESYNTAX,
                                "unknown key \"%s\" (expected \"execute\","
                                " \"exec-oob\", \"arguments\")",
                                key);
            goto cleanup;
        }
    }
    if (!req->command) {
        rc = qhil_error_set(err, QHIL_ESYNTAX,
                            "no \"execute\" in the command object");
    }

cleanup:
    json_decref(obj);
    return rc;
}

/*
 * Parse one line into req.  Returns 1 when there is a request, 0 for a
 * blank or comment line, or QHIL_ESYNTAX/QHIL_ENOMEM with err saying why.
 * req is empty on anything but 1.
 */
static int parse_line(const char *line, qmp_request *req, qhil_error *err)
{
    const char *p = line;
    char *word = NULL;
    int rc;

    memset(req, 0, sizeof(*req));
    while (is_blank(*p)) {
        p++;
    }
    if (!*p || *p == '#') {
        return 0;
    }
    if (*p == '{') {
        rc = parse_json_line(p, req, err);
        goto done;
    }
    if (strncmp(p, "hmp", 3) == 0 && (!p[3] || is_blank(p[3]))) {
        size_t n;

        for (p += 3; is_blank(*p); p++) {
        }
        n = strlen(p);
        while (n && is_blank(p[n - 1])) {
            n--;
        }
        if (!n) {
            rc = qhil_error_set(err, QHIL_ESYNTAX,
                                "hmp needs a monitor command, e.g. "
                                "'hmp info status'");
            goto done;
        }
        req->hmp = strndup(p, n);
        rc = req->hmp ? QHIL_EOK
                      : qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto done;
    }
    rc = next_word(&p, &req->command, err);
    if (rc <= 0) {
        goto done; /* 0 cannot be: p is at a word */
    }
    if (strchr(req->command, '=')) {
        rc = qhil_error_set(err, QHIL_ESYNTAX,
                            "a line starts with the command name, not "
                            "'%s'",
                            req->command);
        goto done;
    }
    while ((rc = next_word(&p, &word, err)) > 0) {
        char *eq = strchr(word, '=');
        json_t *value;

        if (!eq || eq == word) {
            rc = qhil_error_set(err, QHIL_ESYNTAX,
                                "expected KEY=VALUE, got '%s'", word);
            break;
        }
        *eq = '\0';
        value = word_value(eq + 1);
        if (!req->args) {
            req->args = json_object();
        }
        if (!value || !req->args) {
            json_decref(value);
            rc = qhil_error_set(err, QHIL_ESYNTAX,
                                "argument %s: value is not valid UTF-8", word);
            break;
        }
        rc = set_arg(req->args, word, value, err);
        if (rc < 0) {
            break;
        }
        free(word);
        word = NULL;
    }

done:
    free(word);
    if (rc < 0 || (!req->command && !req->hmp)) {
        request_release(req);
        return rc < 0 ? rc : 0;
    }
    return 1;
}

/* ---- the poll loop ------------------------------------------------ */

/* Read the signals that came; set the flags they stand for. */
static void take_signals(qmp_cli *c)
{
    struct signalfd_siginfo si;

    while (read(c->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;

        if (sig == SIGWINCH) {
            if (c->interactive) {
                rl_resize_terminal();
            }
        } else if (sig == SIGINT && c->interactive) {
            c->interrupted = true;
        } else {
            c->term_signal = sig;
            c->stop = true;
        }
    }
}

/*
 * Wait up to timeout_ms for something to do and do it: QMP traffic
 * (replies are stored, events printed through on_event), console output
 * (to console.log), signals.  in_fd >= 0 is also watched, but not read.
 * Returns PUMP_* flags about in_fd, or the QMP connection's error.
 */
static int pump(qmp_cli *c, int in_fd, int timeout_ms, qhil_error *err)
{
    struct pollfd pfd[4];
    int n_qmp;
    int n_sig = -1;
    int n_con = -1;
    int n_in = -1;
    int n = 0;
    int ret = 0;
    int rc;

    n_qmp = n;
    pfd[n].fd = qhil_qmp_fd(c->qmp);
    pfd[n++].events = qhil_qmp_poll_events(c->qmp);
    if (c->sig_fd >= 0) {
        n_sig = n;
        pfd[n].fd = c->sig_fd;
        pfd[n++].events = POLLIN;
    }
    if (c->console) {
        n_con = n;
        pfd[n].fd = qhil_console_fd(c->console);
        pfd[n++].events = POLLIN;
    }
    if (in_fd >= 0) {
        n_in = n;
        pfd[n].fd = in_fd;
        pfd[n++].events = POLLIN;
    }
    rc = poll(pfd, (nfds_t)n, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR) {
            return 0;
        }
        return qhil_error_set(err, QHIL_EIO, "poll: %s", strerror(errno));
    }
    if (n_sig >= 0 && pfd[n_sig].revents) {
        take_signals(c);
    }
    if (n_con >= 0 && pfd[n_con].revents) {
        if (qhil_console_dispatch(c->console, NULL) == QHIL_EEOF) {
            c->console = NULL; /* stop polling it; QMP will say why */
        }
    }
    if (pfd[n_qmp].revents) {
        rc = qhil_qmp_dispatch(c->qmp, err);
        prompt_redraw(c);
        if (rc < 0) {
            return rc;
        }
    }
    if (n_in >= 0) {
        if (pfd[n_in].revents & POLLIN) {
            ret |= PUMP_INPUT;
        }
        if (pfd[n_in].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            ret |= PUMP_HUP;
        }
    }
    return ret;
}

/*
 * Wait for the reply to id until the timeout.  Returns 1 with *ret, an
 * error as qhil_qmp_take_reply (QHIL_ECMD for an error reply), or
 * WAIT_INTERRUPTED on Ctrl-C; on timeout and Ctrl-C the late reply will
 * be dropped.
 */
static int wait_reply(qmp_cli *c, uint64_t id, json_t **ret, qhil_error *err)
{
    int64_t deadline = qhil_deadline_in(c->timeout);
    int broken = QHIL_EOK;

    for (;;) {
        int rc = qhil_qmp_take_reply(c->qmp, id, ret, err);

        if (rc != 0) {
            return rc;
        }
        if (broken < 0) {
            return broken;
        }
        if (c->interrupted || c->stop) {
            c->interrupted = false;
            qhil_qmp_forget(c->qmp, id);
            return WAIT_INTERRUPTED;
        }
        if (qhil_now() >= deadline) {
            qhil_qmp_forget(c->qmp, id);
            return qhil_error_set(err, QHIL_ETIMEDOUT, "no reply");
        }
        rc = pump(c, -1, qhil_deadline_poll_ms(deadline), err);
        if (rc < 0) {
            broken = rc; /* the reply may have come before the end */
        }
    }
}

/* The connection failed: say so unless it was the expected end. */
static enum outcome connection_lost(qmp_cli *c, const qhil_error *err, int rc)
{
    prompt_clear(c);
    fflush(stdout);
    if (c->quit_done && rc == QHIL_EEOF) {
        if (c->interactive) {
            fprintf(stderr, "qhil qmp: QEMU has quit\n");
        }
        c->stop = true;
        return OUT_OK;
    }
    fprintf(stderr, "qhil qmp: connection lost: %s\n",
            qhil_error_message(err, rc));
    c->stop = true;
    return OUT_BROKEN;
}

/* ---- running a line ----------------------------------------------- */

/*
 * Refused by the schema check: print the library's message, then the
 * names closest to the unknown command, or to the first unknown
 * argument.
 */
static void explain_refusal(qmp_cli *c, const qmp_request *req,
                            const qhil_error *err, int rc)
{
    char **names = NULL;
    const char *key;
    json_t *v;

    say_error(c, "%s", qhil_error_message(err, rc));
    if (qhil_qmp_has_command(c->qmp, req->command) == 0) {
        names = qhil_qmp_schema_names(c->qmp, NULL);
        say_suggestion(req->command, names);
    } else if (req->args) {
        json_object_foreach(req->args, key, v)
        {
            if (qhil_qmp_has_argument(c->qmp, req->command, key) == 0) {
                names = qhil_qmp_schema_names(c->qmp, req->command);
                say_suggestion(key, names);
                break;
            }
        }
    }
    qhil_strv_free(names);
}

static enum outcome run_hmp(qmp_cli *c, const char *line)
{
    enum outcome out = OUT_OK;
    char *text = NULL;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    if (strcmp(line, "quit") == 0 || strcmp(line, "q") == 0) {
        c->quit_done = true; /* the end of the connection is expected */
    }
    rc = qhil_qmp_hmp(c->qmp, line, &text, qhil_deadline_in(c->timeout), &e);
    if (rc >= 0) {
        print_hmp(text ? text : "");
    } else if (qhil_qmp_status(c->qmp, NULL) != QHIL_EOK) {
        out = connection_lost(c, &e, rc);
    } else {
        say_error(c, "%s", qhil_error_message(&e, rc));
        out = OUT_FAILED;
    }
    free(text);
    qhil_error_release(&e);
    return out;
}

static enum outcome run_request(qmp_cli *c, const qmp_request *req)
{
    json_t *ret = NULL;
    enum outcome out = OUT_FAILED;
    uint64_t id = 0;
    qhil_error e;
    int rc;

    if (req->hmp || !req->command) {
        return req->hmp ? run_hmp(c, req->hmp) : OUT_OK;
    }
    qhil_error_init(&e);
    rc =
        qhil_qmp_submit(c->qmp, req->command, req->args, -1,
                        req->flags | (c->schema ? QHIL_QMP_CHECK : 0), &id, &e);
    if (rc == QHIL_EUNSUPPORTED) {
        explain_refusal(c, req, &e, rc);
        goto cleanup;
    }
    if (rc >= 0) {
        rc = wait_reply(c, id, &ret, &e);
    }
    if (rc == 1 && e.code == QHIL_ECMD) {
        rc = QHIL_ECMD; /* an error reply reported as "it came" */
    }
    if (rc == 1) {
        print_json(c, ret ? ret : json_null());
        if (strcmp(req->command, "quit") == 0) {
            c->quit_done = true;
        }
        out = OUT_OK;
    } else if (rc == WAIT_INTERRUPTED) {
        if (!c->stop) {
            say_error(c, "interrupted: the reply to %s will be ignored",
                      req->command);
        }
    } else if (rc == QHIL_ECMD) {
        say_error(c, "%s", qhil_error_message(&e, rc));
    } else if (rc == QHIL_ETIMEDOUT) {
        say_error(c, "no reply to %s within %s (--timeout)", req->command,
                  c->timeout_text);
    } else if (qhil_qmp_status(c->qmp, NULL) != QHIL_EOK) {
        out = connection_lost(c, &e, rc);
    } else {
        say_error(c, "%s: %s", req->command, qhil_error_message(&e, rc));
    }

cleanup:
    json_decref(ret);
    qhil_error_release(&e);
    return out;
}

/* Parse and run one input line; records the outcome in c->status. */
static enum outcome run_line(qmp_cli *c, const char *line)
{
    qmp_request req;
    enum outcome out;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = parse_line(line, &req, &e);
    if (rc == 0) {
        out = OUT_OK;
    } else if (rc < 0) {
        say_error(c, "%s", qhil_error_message(&e, rc));
        out = OUT_FAILED;
    } else {
        out = run_request(c, &req);
        request_release(&req);
    }
    qhil_error_release(&e);
    if ((int)out > c->status) {
        c->status = (int)out;
    }
    return out;
}

/* ---- batch mode --------------------------------------------------- */

/* Run the complete lines in buf[0..*len), keep the rest. */
static void run_buffered_lines(qmp_cli *c, char *buf, size_t *len, bool at_eof)
{
    size_t start = 0;
    size_t i;

    for (i = 0; i < *len && !c->stop; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        buf[i] = '\0';
        if (run_line(c, buf + start) == OUT_BROKEN) {
            c->stop = true;
        }
        start = i + 1;
    }
    if (at_eof && start < *len && !c->stop) {
        buf[*len] = '\0';
        if (run_line(c, buf + start) == OUT_BROKEN) {
            c->stop = true;
        }
        start = *len;
    }
    memmove(buf, buf + start, *len - start);
    *len -= start;
}

/* Lines from stdin, run as they come; events meanwhile are printed. */
static void batch_stdin(qmp_cli *c)
{
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    qhil_error e;

    qhil_error_init(&e);
    while (!c->stop) {
        int rc = pump(c, STDIN_FILENO, QMP_TICK_MS, &e);
        ssize_t n;

        if (rc < 0) {
            if (connection_lost(c, &e, rc) == OUT_BROKEN) {
                c->status = OUT_BROKEN;
            }
            break;
        }
        if (!(rc & (PUMP_INPUT | PUMP_HUP))) {
            continue;
        }
        if (cap - len < QMP_READ_CHUNK + 1) {
            char *nb;

            if (cap >= QMP_LINE_MAX) {
                say_error(c, "input line longer than %zu bytes", QMP_LINE_MAX);
                c->status = OUT_BROKEN;
                break;
            }
            nb = realloc(buf, cap + QMP_READ_CHUNK + 1);
            if (!nb) {
                say_error(c, "out of memory");
                c->status = OUT_BROKEN;
                break;
            }
            buf = nb;
            cap += QMP_READ_CHUNK + 1;
        }
        n = read(STDIN_FILENO, buf + len, cap - len - 1);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0) {
            say_error(c, "reading stdin: %s", strerror(errno));
            c->status = OUT_BROKEN;
            break;
        }
        len += (size_t)n;
        run_buffered_lines(c, buf, &len, n == 0);
        if (n == 0) {
            break;
        }
    }
    free(buf);
    qhil_error_release(&e);
}

static void batch(qmp_cli *c, char *const *lines, size_t n_lines)
{
    size_t i;

    if (!n_lines) {
        batch_stdin(c);
        return;
    }
    for (i = 0; i < n_lines && !c->stop; i++) {
        if (run_line(c, lines[i]) == OUT_BROKEN) {
            c->stop = true;
        }
    }
}

/* ---- the shell ---------------------------------------------------- */

/* Completion generator over c->comp (prefix matches, in order). */
static char *complete_next(const char *text, int state)
{
    qmp_cli *c = shell_cli;
    size_t len = strlen(text);

    if (state == 0) {
        c->comp_next = 0;
    }
    while (c->comp && c->comp[c->comp_next]) {
        const char *s = c->comp[c->comp_next++];

        if (strncmp(s, text, len) == 0) {
            return strdup(s);
        }
    }
    return NULL;
}

/* Whether the words of line (after the first) name key already. */
static bool key_on_line(const char *line, const char *key)
{
    const char *p = line;
    char *word = NULL;
    size_t klen = strlen(key);
    bool found = false;
    bool first = true;

    while (!found && next_word(&p, &word, NULL) > 0) {
        if (!first && strncmp(word, key, klen) == 0 &&
            (word[klen] == '=' || word[klen] == '.')) {
            found = true;
        }
        first = false;
        free(word);
    }
    return found;
}

/*
 * Candidates for the word at start: command names (and "hmp") for the
 * first word, else the command's argument names as "name=", minus those
 * already given.  malloc'ed list, NULL for none.
 */
static char **complete_candidates(qmp_cli *c, const char *line, int start)
{
    const char *p = line;
    const char *cmd_end;
    char *cmd = NULL;
    char *before = NULL;
    char **names = NULL;
    char **out = NULL;
    size_t n = 0;
    size_t i;

    while (is_blank(*p)) {
        p++;
    }
    if (*p == '{') {
        return NULL;
    }
    for (cmd_end = p; *cmd_end && !is_blank(*cmd_end); cmd_end++) {
    }
    if (cmd_end - line >= start) {
        names = qhil_qmp_schema_names(c->qmp, NULL);
        for (n = 0; names && names[n]; n++) {
        }
        out = calloc(n + 2, sizeof(*out));
        if (!out) {
            goto cleanup;
        }
        for (i = 0; i < n; i++) {
            out[i] = names[i];
            names[i] = NULL;
        }
        out[n] = strdup("hmp");
        rl_completion_append_character = ' ';
        goto cleanup;
    }
    cmd = strndup(p, (size_t)(cmd_end - p));
    before = strndup(line, (size_t)start);
    if (!cmd || !before || strcmp(cmd, "hmp") == 0) {
        goto cleanup;
    }
    names = qhil_qmp_schema_names(c->qmp, cmd);
    for (i = 0; names && names[i]; i++) {
    }
    out = calloc(i + 1, sizeof(*out));
    for (i = 0; out && names && names[i]; i++) {
        char *cand = NULL;

        if (!key_on_line(before, names[i]) &&
            asprintf(&cand, "%s=", names[i]) >= 0) {
            out[n++] = cand;
        }
    }
    rl_completion_append_character = '\0';

cleanup:
    qhil_strv_free(names);
    free(cmd);
    free(before);
    return out;
}

static char **shell_complete(const char *text, int start, int end)
{
    qmp_cli *c = shell_cli;
    char **matches;

    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    if (!c || !c->schema || rl_end > QMP_COMPLETE_MAX_LINE || !rl_line_buffer) {
        return NULL;
    }
    c->comp = complete_candidates(c, rl_line_buffer, start);
    if (!c->comp) {
        return NULL;
    }
    matches = rl_completion_matches(text, complete_next);
    qhil_strv_free(c->comp);
    c->comp = NULL;
    return matches;
}

static void history_add(qmp_cli *c, const char *line)
{
    const char *p = line;

    while (is_blank(*p)) {
        p++;
    }
    if (!*p || (c->last_line && strcmp(c->last_line, line) == 0)) {
        return;
    }
    add_history(line);
    free(c->last_line);
    c->last_line = strdup(line);
}

/*
 * readline's line handler (NULL at end of input).  The handler is
 * removed while the line runs and installed again after it: that puts
 * the terminal back in cooked mode meanwhile, and draws the next prompt
 * the same way whichever libedit version decides what happens after a
 * line (older ones re-arm by themselves, newer ones do not).
 */
static void shell_on_line(char *line)
{
    qmp_cli *c = shell_cli;

    rl_callback_handler_remove();
    c->at_prompt = false;
    if (!line) {
        fputs("\n", stdout); /* end the prompt's line */
        c->stop = true;
        return;
    }
    history_add(c, line);
    run_line(c, line);
    free(line);
    if (!c->stop) {
        rl_callback_handler_install(QMP_PROMPT, shell_on_line);
        c->at_prompt = true;
    }
}

/* $XDG_STATE_HOME/qhil/qmp_history, else ~/.qhil_qmp_history; NULL when
 * neither is known.  Makes the folder. */
static char *history_file(void)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *path = NULL;

    if (state && state[0] == '/') {
        char *dir = NULL;

        if (asprintf(&dir, "%s/qhil", state) < 0) {
            return NULL;
        }
        (void)mkdir(state, 0700);
        (void)mkdir(dir, 0700);
        if (asprintf(&path, "%s/qmp_history", dir) < 0) {
            path = NULL;
        }
        free(dir);
    } else if (home && *home) {
        if (asprintf(&path, "%s/.qhil_qmp_history", home) < 0) {
            path = NULL;
        }
    }
    return path;
}

static void shell_banner(qmp_cli *c)
{
    int major;
    int minor;
    int micro;
    char **names = c->schema ? qhil_qmp_schema_names(c->qmp, NULL) : NULL;
    size_t n = 0;

    while (names && names[n]) {
        n++;
    }
    qhil_strv_free(names);
    if (qhil_qmp_version(c->qmp, &major, &minor, &micro) == QHIL_EOK) {
        printf("QEMU %d.%d.%d", major, minor, micro);
    } else {
        printf("QEMU");
    }
    if (n) {
        printf(", %zu QMP commands", n);
    }
    printf(".  Tab completes, 'hmp CMD' runs a monitor command, "
           "Ctrl-D leaves.\n");
    fflush(stdout);
}

/* Ctrl-C at the prompt: drop the line, show a fresh prompt. */
static void shell_drop_line(qmp_cli *c)
{
    if (!c->at_prompt) {
        return;
    }
    rl_callback_handler_remove();
    fputs("^C\n", stdout);
    fflush(stdout);
    rl_callback_handler_install(QMP_PROMPT, shell_on_line);
}

static void shell(qmp_cli *c)
{
    qhil_error e;

    qhil_error_init(&e);
    shell_cli = c;
    rl_readline_name = "qhil";
    rl_catch_signals = 0; /* ours come through the signalfd */
    rl_attempted_completion_function = shell_complete;
    rl_basic_word_break_characters = " \t\n";
    using_history();
    stifle_history(QMP_HISTORY_MAX);
    c->history_path = history_file();
    if (c->history_path) {
        read_history(c->history_path);
    }
    shell_banner(c);
    rl_callback_handler_install(QMP_PROMPT, shell_on_line);
    c->at_prompt = true;
    while (!c->stop) {
        int rc = pump(c, STDIN_FILENO, QMP_TICK_MS, &e);

        if (rc < 0) {
            c->status = connection_lost(c, &e, rc);
            break;
        }
        if (c->interrupted) {
            c->interrupted = false;
            shell_drop_line(c);
        }
        if (c->stop) {
            break;
        }
        if (rc & PUMP_HUP) {
            c->stop = true; /* the terminal is gone */
        } else if (rc & PUMP_INPUT) {
            rl_callback_read_char();
        }
    }
    if (c->at_prompt) {
        rl_callback_handler_remove();
        c->at_prompt = false;
        if (!c->line_cleared) {
            fputs("\n", stdout); /* end the prompt's line */
        }
    }
    /* At the shell, a failed command was seen and dealt with; only a
     * lost connection makes the session itself fail. */
    if (c->status == OUT_FAILED) {
        c->status = OUT_OK;
    }
    fflush(stdout);
    if (c->history_path && write_history(c->history_path) == 0) {
        (void)chmod(c->history_path, 0600);
    }
    shell_cli = NULL;
    qhil_error_release(&e);
}

/* ---- set-up and tear-down ----------------------------------------- */

/* mkdir -p; 0 or -1 with errno. */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    char *s;
    char saved;
    int rc = 0;

    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    for (s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0') {
            continue;
        }
        saved = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            rc = -1;
        }
        *s = saved;
        if (!saved) {
            break;
        }
    }
    free(p);
    return rc;
}

/* Remove a run folder we made (its files are flat). */
static void remove_run_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;

    if (!d) {
        return;
    }
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            (void)unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
    (void)rmdir(path);
}

typedef struct board_opts {
    const char *device_type;
    const char *kernel;
    const char *output;
    bool qtest_accel;
    char **extra_boards;
    size_t n_boards;
    char **extra_qemu;
    size_t n_qemu;
} board_opts;

/* QEMU argv for the board (job.h), binary resolved; QHIL_EXIT_* on
 * failure. */
static int board_argv(const board_opts *bo, char ***argv_out)
{
    char **board_dirs = cli_board_dirs(bo->extra_boards, bo->n_boards, NULL);
    char **qemu_dirs = cli_qemu_dirs(bo->extra_qemu, bo->n_qemu);
    qhil_job *job = NULL;
    qhil_board_value image = {"kernel", bo->kernel, "--kernel"};
    qhil_board_job values = {.images = &image,
                             .n_images = bo->kernel ? 1 : 0};
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    int rc;

    qhil_site *site = NULL;

    qhil_error_init(&e);
    if (!board_dirs || !qemu_dirs) {
        fprintf(stderr, "qhil qmp: out of memory\n");
        goto cleanup;
    }
    /* Everything here is the operator's own command line: trusted. */
    rc = qhil_site_builtin(&site, &e);
    if (rc >= 0) {
        rc = qhil_site_trust(site, "qhil qmp: the operator's command line",
                             &e);
    }
    if (rc >= 0) {
        qhil_job_opts jo = {
            .device_type = bo->device_type,
            .board_dirs = (const char *const *)board_dirs,
            .qemu_dirs = (const char *const *)qemu_dirs,
            .values = &values,
            .site = site,
            .qtest_accel = bo->qtest_accel,
        };

        rc = qhil_job_new(&jo, &job, &e);
    }
    if (rc >= 0) {
        rc = qhil_job_argv_dup(job, argv_out, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil qmp: --board %s: %s\n", bo->device_type,
                qhil_error_message(&e, rc));
        goto cleanup;
    }
    status = QHIL_EXIT_OK;

cleanup:
    qhil_job_free(job);
    qhil_site_free(site);
    qhil_argv_free(board_dirs);
    qhil_argv_free(qemu_dirs);
    qhil_error_release(&e);
    return status;
}

static int start_machine(qmp_cli *c, const board_opts *bo)
{
    char **argv = NULL;
    qhil_error e;
    int status;
    int rc;

    qhil_error_init(&e);
    status = board_argv(bo, &argv);
    if (status != QHIL_EXIT_OK) {
        goto cleanup;
    }
    status = QHIL_EXIT_USAGE;
    if (bo->kernel && access(bo->kernel, R_OK) != 0) {
        fprintf(stderr, "qhil qmp: --kernel %s: %s\n", bo->kernel,
                strerror(errno));
        goto cleanup;
    }
    if (bo->output) {
        if (make_dirs(bo->output) < 0) {
            fprintf(stderr, "qhil qmp: cannot make %s: %s\n", bo->output,
                    strerror(errno));
            goto cleanup;
        }
        c->run_dir = strdup(bo->output);
        /* --output names a folder of ours to reuse: our own logs of an
         * earlier start go (unlink never follows a symlink), so the
         * machine can create them anew; it refuses anything there. */
        for (size_t i = 0; c->run_dir && i < 3; i++) {
            static const char *const own[] = {"console.log", "qemu.log",
                                              "qemu.pid"};
            char *p = NULL;

            if (asprintf(&p, "%s/%s", c->run_dir, own[i]) >= 0) {
                if (unlink(p) < 0 && errno != ENOENT) {
                    fprintf(stderr, "qhil qmp: cannot remove %s: %s\n", p,
                            strerror(errno));
                }
                free(p);
            }
        }
    } else {
        const char *tmp = getenv("TMPDIR");

        if (asprintf(&c->run_dir, "%s/qhil-qmp.XXXXXX",
                     tmp && *tmp ? tmp : "/tmp") < 0) {
            c->run_dir = NULL;
        } else if (!mkdtemp(c->run_dir)) {
            fprintf(stderr, "qhil qmp: cannot make a run folder %s: %s\n",
                    c->run_dir, strerror(errno));
            goto cleanup;
        }
        c->run_dir_temp = true;
    }
    if (!c->run_dir) {
        fprintf(stderr, "qhil qmp: out of memory\n");
        goto cleanup;
    }
    {
        /* QEMU's environment is the site's: the built-in site's is
         * empty. */
        static const char *const no_env[] = {NULL};
        qhil_machine_opts mo = {
            .argv = (const char *const *)argv,
            .envp = no_env,
            .run_dir = c->run_dir,
            .start_timeout = c->timeout,
            .qtest_accel = bo->qtest_accel,
        };

        rc = qhil_machine_launch(&mo, &c->machine, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil qmp: cannot start %s: %s\n", bo->device_type,
                qhil_error_message(&e, rc));
        fprintf(stderr, "qhil qmp: logs kept in %s\n", c->run_dir);
        c->run_dir_temp = false; /* keep them */
        goto cleanup;
    }
    c->qmp = qhil_machine_qmp(c->machine);
    c->console = qhil_machine_console(c->machine);
    fprintf(stderr, "qhil qmp: started %s (QEMU pid %d); guest console: %s\n",
            bo->device_type, (int)qhil_machine_pid(c->machine),
            qhil_machine_console_log(c->machine));
    status = QHIL_EXIT_OK;

cleanup:
    qhil_argv_free(argv);
    qhil_error_release(&e);
    return status;
}

/* Stop our QEMU; keep its logs if it died, else drop a temp folder. */
static void finish_machine(qmp_cli *c)
{
    qhil_error e;
    bool died = false;

    qhil_error_init(&e);
    qhil_qmp_set_event_callback(c->qmp, NULL, NULL);
    if (c->quit_done || qhil_qmp_status(c->qmp, NULL) != QHIL_EOK) {
        /* QEMU closes the socket first and exits a moment later. */
        qhil_machine_wait_exit(c->machine, qhil_deadline_in(3 * QHIL_SEC),
                               NULL);
    }
    if (qhil_machine_check(c->machine, &e) == QHIL_EEXITED) {
        int st = qhil_machine_status(c->machine);

        died = !(c->quit_done && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (died) {
            fprintf(stderr, "qhil qmp: %s\n",
                    qhil_error_message(&e, QHIL_EEXITED));
        }
    } else {
        qhil_machine_shutdown(c->machine, NULL);
    }
    if (died || !c->run_dir_temp) {
        fprintf(stderr, "qhil qmp: logs kept in %s\n", c->run_dir);
    } else {
        qhil_machine_free(c->machine);
        c->machine = NULL;
        remove_run_dir(c->run_dir);
    }
    qhil_error_release(&e);
}

static int connect_address(qmp_cli *c, const char *address)
{
    int64_t deadline = qhil_deadline_in(c->timeout);
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = qhil_qmp_connect(address, deadline, &c->own_qmp, &e);
    if (rc < 0) {
        /* The message names the address already. */
        fprintf(stderr, "qhil qmp: %s\n", qhil_error_message(&e, rc));
    } else {
        rc = qhil_qmp_handshake(c->own_qmp, deadline, &e);
        if (rc < 0) {
            fprintf(stderr, "qhil qmp: %s: %s\n", address,
                    qhil_error_message(&e, rc));
        }
    }
    c->qmp = c->own_qmp;
    qhil_error_release(&e);
    return rc < 0 ? QHIL_EXIT_USAGE : QHIL_EXIT_OK;
}

/* Route signals to the signalfd: the loop handles them in order. */
static int signals_start(qmp_cli *c)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (c->interactive) {
        sigaddset(&set, SIGWINCH);
    }
    if (sigprocmask(SIG_BLOCK, &set, &c->old_mask) < 0) {
        return -1;
    }
    c->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (c->sig_fd < 0) {
        sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
        return -1;
    }
    return 0;
}

static void signals_stop(qmp_cli *c)
{
    if (c->sig_fd < 0) {
        return;
    }
    close(c->sig_fd);
    c->sig_fd = -1;
    sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
}

int cmd_qmp(int argc, char **argv)
{
    enum {
        OPT_PRETTY = 256,
        OPT_EVENTS,
        OPT_TIMEOUT,
        OPT_BOARD,
        OPT_KERNEL,
        OPT_ACCEL,
    };
    static const struct option longopts[] = {
        {"command", required_argument, NULL, 'c'},
        {"pretty", no_argument, NULL, OPT_PRETTY},
        {"events", no_argument, NULL, OPT_EVENTS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"board", required_argument, NULL, OPT_BOARD},
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"accel", required_argument, NULL, OPT_ACCEL},
        {"output", required_argument, NULL, 'o'},
        {"boards", required_argument, NULL, 'B'},
        {"qemu-dir", required_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    qmp_cli cli = {
        .sig_fd = -1,
        .timeout = 10 * QHIL_SEC,
        .timeout_text = "10s",
    };
    qmp_cli *c = &cli;
    board_opts bo = {0};
    char **lines = NULL;
    size_t n_lines = 0;
    const char *address = NULL;
    bool needs_board = false;
    qhil_error e;
    int status = QHIL_EXIT_USAGE;
    int opt;
    int rc;

    qhil_error_init(&e);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:o:B:Q:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if (cli_list_add(&lines, &n_lines, optarg) < 0) {
                fprintf(stderr, "qhil qmp: out of memory\n");
                goto cleanup;
            }
            break;
        case OPT_PRETTY:
            c->pretty = true;
            break;
        case OPT_EVENTS:
            c->events = true;
            break;
        case OPT_TIMEOUT:
            rc = qhil_duration_parse(optarg, &c->timeout, &e);
            if (rc < 0 || c->timeout <= 0) {
                fprintf(stderr, "qhil qmp: --timeout: %s\n",
                        rc < 0 ? qhil_error_message(&e, rc)
                               : "must be more than 0");
                goto cleanup;
            }
            c->timeout_text = optarg;
            break;
        case OPT_BOARD:
            bo.device_type = optarg;
            break;
        case OPT_KERNEL:
            bo.kernel = optarg;
            needs_board = true;
            break;
        case OPT_ACCEL:
            if (strcmp(optarg, "qtest") != 0) {
                fprintf(stderr,
                        "qhil qmp: --accel %s: only 'qtest' can be "
                        "chosen (the board's default is used "
                        "otherwise)\n",
                        optarg);
                goto cleanup;
            }
            bo.qtest_accel = true;
            needs_board = true;
            break;
        case 'o':
            bo.output = optarg;
            needs_board = true;
            break;
        case 'B':
            if (cli_list_add(&bo.extra_boards, &bo.n_boards, optarg) < 0) {
                fprintf(stderr, "qhil qmp: out of memory\n");
                goto cleanup;
            }
            needs_board = true;
            break;
        case 'Q':
            if (cli_list_add(&bo.extra_qemu, &bo.n_qemu, optarg) < 0) {
                fprintf(stderr, "qhil qmp: out of memory\n");
                goto cleanup;
            }
            needs_board = true;
            break;
        case 'h':
            qmp_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            qmp_usage(stderr);
            goto cleanup;
        }
    }
    if (optind < argc) {
        address = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "qhil qmp: unexpected argument '%s'\n", argv[optind]);
        goto cleanup;
    }
    if (!address == !bo.device_type) {
        fprintf(stderr, address ? "qhil qmp: give a socket address or "
                                  "--board, not both\n"
                                : "qhil qmp: give a socket address or "
                                  "--board (see qhil qmp --help)\n");
        goto cleanup;
    }
    if (needs_board && !bo.device_type) {
        fprintf(stderr, "qhil qmp: --kernel, --accel, -o, -B and -Q go "
                        "with --board\n");
        goto cleanup;
    }
    c->interactive = !n_lines && isatty(STDIN_FILENO);
    /* From here on a signal only ends the loop, so that QEMU is stopped
     * and the run folder cleaned up; the start-up waits are bounded by
     * --timeout. */
    if (signals_start(c) < 0) {
        fprintf(stderr, "qhil qmp: signalfd: %s\n", strerror(errno));
        goto cleanup;
    }

    status = address ? connect_address(c, address) : start_machine(c, &bo);
    if (status != QHIL_EXIT_OK) {
        goto cleanup;
    }
    qhil_qmp_set_event_callback(c->qmp, on_event, c);
    rc = qhil_qmp_schema_load(c->qmp, qhil_deadline_in(c->timeout), &e);
    if (rc < 0) {
        if (qhil_qmp_status(c->qmp, NULL) != QHIL_EOK) {
            c->status = connection_lost(c, &e, rc);
            goto finish;
        }
        fprintf(stderr,
                "qhil qmp: warning: cannot load the QMP schema (%s): no "
                "completion, commands are not checked before sending\n",
                qhil_error_message(&e, rc));
    } else {
        c->schema = true;
    }
    if (c->interactive) {
        shell(c);
    } else {
        batch(c, lines, n_lines);
    }

finish:
    status = c->status;
    if (c->machine) {
        finish_machine(c);
    }

cleanup:
    signals_stop(c);
    qhil_machine_free(c->machine);
    qhil_qmp_free(c->own_qmp);
    free(c->run_dir);
    free(c->history_path);
    free(c->last_line);
    free(lines);
    free(bo.extra_boards);
    free(bo.extra_qemu);
    qhil_error_release(&e);
    if (c->term_signal) {
        /* Die of the signal that stopped us, as the caller expects. */
        signal(c->term_signal, SIG_DFL);
        raise(c->term_signal);
    }
    return status;
}
