/*
 * cmd_validate.c - `qhil validate FILE...`: check suites, device types
 * (board templates) and site configs without running QEMU.
 *
 * Each file goes through the same steps, and a bad file does not stop
 * the others:
 *
 *   open   a regular file, opened without blocking (a FIFO or a device
 *          is refused here, before any loader could wait on it)
 *   kind   --kind, or told from the file's top-level keys: the first of
 *          the keys in kinds[] found there decides ("tests" for a suite,
 *          "qemu" for a device type, "site", "policy", "devices"... for a
 *          site config).  Only libyaml's event stream is
 *          read, at most MAX_SNIFF bytes and SNIFF_DEPTH levels, so a
 *          deep or huge file costs little here; the loader then makes
 *          its own full checks
 *   check  the kind's entry: the library's own loader and checks, which
 *          print as "FILE:LINE:COLUMN: field: reason"
 *
 * A new file kind is one entry in kinds[] and its check function.  Exit
 * status: 0 every file is valid, 2 any is not or the command line is
 * wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

/* Read to tell the kind: the library's own cap on a YAML file.  A bigger
 * file is still told by its first MAX_SNIFF bytes; its loader refuses it
 * with its own message. */
#define MAX_SNIFF ((size_t)4 << 20)
/* The library's nesting limit: past it, libyaml gets slow. */
#define SNIFF_DEPTH 64

typedef struct validate_cli {
    const char *const *board_dirs;
    const char *const *qemu_dirs;
    const qhil_site *site;
    bool quiet;
} validate_cli;

/*
 * Check one file of a known kind.  On success *summary (malloc'ed) is
 * what follows "ok" ("suite, 3 tests, board mps2-an385"); on failure err
 * says why.
 */
typedef int (*check_fn)(const validate_cli *c, const char *path, char **summary,
                        qhil_error *err);

static int check_suite(const validate_cli *c, const char *path, char **summary,
                       qhil_error *err);
static int check_device_type(const validate_cli *c, const char *path,
                             char **summary, qhil_error *err);

static int check_site(const validate_cli *c, const char *path,
                      char **summary, qhil_error *err);

/* Top-level keys only a site config has, besides "site:". */
static const char *const site_keys[] = {
    "trusted", "sandbox", "kvm", "device_types", "image_dirs",
    "environment", "policy", "devices", NULL,
};

static const struct file_kind {
    const char *name; /* for --kind and in messages */
    const char *key;  /* a top-level key only this kind has */
    const char *const *more; /* other such keys, NULL-terminated, or NULL */
    check_fn check;
} kinds[] = {
    {"suite", "tests", NULL, check_suite},
    {"device-type", "qemu", NULL, check_device_type},
    {"site", "site", site_keys, check_site},
};

static bool kind_has_key(const struct file_kind *k, const char *key)
{
    size_t i;

    if (strcmp(key, k->key) == 0) {
        return true;
    }
    for (i = 0; k->more && k->more[i]; i++) {
        if (strcmp(key, k->more[i]) == 0) {
            return true;
        }
    }
    return false;
}

#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static void validate_usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: qhil validate [options] FILE...\n"
               "\n"
               "Check suites, device types (board templates) and site "
               "configs without\n"
               "running QEMU.\n"
               "A suite gets every check `qhil run` makes before it starts "
               "QEMU: the\n"
               "suite itself, its board (found like `qhil run` finds it), "
               "the board's\n"
               "QEMU binary, its images against the board's slots and its "
               "job context.\n"
               "A device type is loaded and checked as a suite's board "
               "would be.\n"
               "\n"
               "The kind of a file is told by its top-level keys, the first "
               "that\n"
               "names a kind:");
    for (i = 0; i < N_KINDS; i++) {
        fprintf(f, "%s '%s:' %s", i ? "," : "", kinds[i].key, kinds[i].name);
    }
    fprintf(f, ".\n"
               "\n"
               "  -k, --kind KIND    check every FILE as KIND (");
    for (i = 0; i < N_KINDS; i++) {
        fprintf(f, "%s%s", i ? ", " : "", kinds[i].name);
    }
    fprintf(f, ")\n"
               CLI_JOB_HELP
               "  -q, --quiet        print only errors\n"
               "  -h, --help         show this help\n"
               "\n"
               "Prints \"FILE: ok (KIND, ...)\" on stdout for each valid "
               "file and the\n"
               "first error of each bad one on stderr, as "
               "FILE:LINE:COLUMN: field: reason,\n"
               "then goes on to the next file.\n"
               "\n"
               "Exit status: 0 every file is valid, 2 a file is not, or the "
               "command line\n"
               "is wrong.\n");
}

static int check_suite(const validate_cli *c, const char *path, char **summary,
                       qhil_error *err)
{
    qhil_suite *suite = NULL;
    qhil_run_opts ro = {
        .board_dirs = c->board_dirs,
        .qemu_dirs = c->qemu_dirs,
        .site = c->site,
    };
    int rc;

    rc = qhil_suite_load(path, &suite, err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_run_check(suite, &ro, err);
    if (rc == QHIL_EOK &&
        asprintf(summary, "suite, %zu test%s, board %s", suite->n_tests,
                 suite->n_tests == 1 ? "" : "s", suite->device_type) < 0) {
        *summary = NULL;
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qhil_suite_free(suite);
    return rc;
}

/*
 * A template is loaded and given an empty job, as a suite with no
 * images or context would: the argv is built and thrown away.  The
 * QEMU binary is not looked for: a lab may check its templates on a
 * host with no QEMU; a suite's check looks for it.
 */
static int check_device_type(const validate_cli *c, const char *path,
                             char **summary, qhil_error *err)
{
    qhil_board *board = NULL;
    qhil_board_job job = {.template_only = true};
    char **argv = NULL;
    int rc;

    (void)c;
    rc = qhil_board_load(path, &board, err);
    if (rc < 0) {
        return rc;
    }
    rc = qhil_board_argv(board, &job, &argv, err);
    qhil_argv_free(argv);
    if (rc == QHIL_EOK) {
        const char *base = strrchr(path, '/');
        const char *dt = qhil_board_device_type(board);
        size_t n = strlen(dt);

        base = base ? base + 1 : path;
        /* The board search finds DEVICE_TYPE.yaml and nothing else. */
        if (strncmp(base, dt, n) != 0 || strcmp(base + n, ".yaml") != 0) {
            rc = qhil_error_set(err, QHIL_EINVAL,
                                "%s: device_type: '%s', but the file is "
                                "named '%s': suites find this template "
                                "only as %s.yaml",
                                path, dt, base, dt);
        } else if (asprintf(summary, "device-type, board %s, binary %s%s", dt,
                            qhil_board_binary(board) ? "" : "from arch ",
                            qhil_board_binary(board)
                                ? qhil_board_binary(board)
                                : qhil_board_arch(board)) < 0) {
            *summary = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    qhil_board_free(board);
    return rc;
}

/* A site config: loaded as `--site` would load it. */
static int check_site(const validate_cli *c, const char *path,
                      char **summary, qhil_error *err)
{
    qhil_site *site = NULL;
    int rc;

    (void)c;
    rc = qhil_site_load(path, &site, err);
    if (rc == QHIL_EOK &&
        asprintf(summary, "site, jobs %s, sandbox %s, KVM %s",
                 qhil_site_trusted(site) ? "trusted" : "untrusted",
                 qhil_site_sandbox(site) ? "on" : "off",
                 qhil_site_kvm(site) ? "allowed" : "not allowed") < 0) {
        *summary = NULL;
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    qhil_site_free(site);
    return rc;
}

/*
 * Open path without blocking and read at most MAX_SNIFF bytes of it.
 * Only a regular file is read: a FIFO would block and a device never
 * ends.  *data malloc'ed, NUL-terminated.
 */
static int read_head(const char *path, char **data, size_t *len,
                     qhil_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int fd;
    int rc = QHIL_EOK;

    *data = NULL;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        return qhil_error_set(err, rc, "%s: cannot open: %s", path,
                              strerror(-rc));
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        rc =
            qhil_error_set(err, rc, "%s: cannot open: %s", path, strerror(-rc));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = qhil_error_set(err, QHIL_EINVAL,
                            "%s: not a regular file (it is %s)", path,
                            S_ISDIR(st.st_mode)    ? "a directory"
                            : S_ISFIFO(st.st_mode) ? "a FIFO"
                            : S_ISCHR(st.st_mode)  ? "a character device"
                            : S_ISBLK(st.st_mode)  ? "a block device"
                            : S_ISSOCK(st.st_mode) ? "a socket"
                                                   : "not a file");
        goto cleanup;
    }
    buf = malloc(MAX_SNIFF + 1);
    if (!buf) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    while (n < MAX_SNIFF) {
        ssize_t r = read(fd, buf + n, MAX_SNIFF - n);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = -errno;
            rc = qhil_error_set(err, rc, "%s: cannot read: %s", path,
                                strerror(-rc));
            goto cleanup;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;

cleanup:
    free(buf);
    close(fd);
    return rc;
}

/*
 * The kind of the YAML text: the first top-level key that is some
 * kind's key.  *kind NULL when none is found; then err says what was
 * seen (no mapping, a syntax error, too deep) and rc is negative.
 */
static int sniff_kind(const char *path, const char *data, size_t len,
                      const struct file_kind **kind, qhil_error *err)
{
    yaml_parser_t parser;
    char keys[128] = "";
    int depth = 0;         /* open mappings and lists */
    bool top_map = false;  /* the top-level value is a mapping */
    bool want_key = false; /* the next value in it is a key */
    bool done = false;
    int rc = QHIL_EOK;
    size_t i;

    *kind = NULL;
    if (!yaml_parser_initialize(&parser)) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (!done && !*kind && rc == QHIL_EOK) {
        yaml_event_t ev;

        if (!yaml_parser_parse(&parser, &ev)) {
            rc = qhil_error_set_at(
                err, QHIL_ESYNTAX, path, (int)parser.problem_mark.line + 1,
                (int)parser.problem_mark.column + 1,
                "YAML syntax error: %s, before any top-level key that "
                "tells the file kind",
                parser.problem ? parser.problem : "unknown problem");
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth == 0) {
                top_map = ev.type == YAML_MAPPING_START_EVENT;
                want_key = true;
            } else if (depth == 1) {
                want_key = !want_key; /* a key or value of the top map */
            }
            if (++depth > SNIFF_DEPTH) {
                rc = qhil_error_set_at(
                    err, QHIL_EINVAL, path, (int)ev.start_mark.line + 1,
                    (int)ev.start_mark.column + 1,
                    "YAML nested deeper than %d levels before any "
                    "top-level key that tells the file kind",
                    SNIFF_DEPTH);
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            done = --depth == 0;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (depth == 0) {
                done = true; /* the whole document is one value */
                break;
            }
            if (depth == 1 && top_map && want_key &&
                ev.type == YAML_SCALAR_EVENT) {
                for (i = 0; i < N_KINDS; i++) {
                    if (kind_has_key(&kinds[i],
                                     (const char *)ev.data.scalar.value)) {
                        *kind = &kinds[i];
                        break;
                    }
                }
            }
            if (depth == 1) {
                want_key = !want_key;
            }
            break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (*kind) {
        return QHIL_EOK;
    }
    if (rc < 0) {
        return rc;
    }
    for (i = 0; i < N_KINDS; i++) {
        size_t used = strlen(keys);

        snprintf(keys + used, sizeof(keys) - used, "%s'%s:' (%s)",
                 i == 0             ? ""
                 : i + 1 == N_KINDS ? " or "
                                    : ", ",
                 kinds[i].key, kinds[i].name);
    }
    return qhil_error_set(err, QHIL_EINVAL,
                          "%s: unknown file kind: %s has no top-level key "
                          "%s; give --kind",
                          path,
                          top_map ? "its mapping"
                          : len   ? "it is not a mapping and"
                                  : "it is empty and",
                          keys);
}

/* Validate one file and print its line.  Returns true when valid. */
static bool validate_file(const validate_cli *c, const struct file_kind *forced,
                          const char *path)
{
    const struct file_kind *kind = forced;
    char *data = NULL;
    char *summary = NULL;
    size_t len = 0;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    rc = read_head(path, &data, &len, &e);
    if (rc == QHIL_EOK && !kind) {
        rc = sniff_kind(path, data, len, &kind, &e);
    }
    free(data);
    if (rc == QHIL_EOK) {
        rc = kind->check(c, path, &summary, &e);
    }
    if (rc < 0) {
        const char *msg = qhil_error_message(&e, rc);
        size_t n = strlen(path);

        fflush(stdout);
        /* Every line names its file. */
        if (strncmp(msg, path, n) == 0 && msg[n] == ':') {
            fprintf(stderr, "%s\n", msg);
        } else {
            fprintf(stderr, "%s: %s\n", path, msg);
        }
    } else if (!c->quiet) {
        printf("%s: ok (%s)\n", path, summary);
    }
    free(summary);
    qhil_error_release(&e);
    return rc == QHIL_EOK;
}

int cmd_validate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kind", required_argument, NULL, 'k'},
        CLI_JOB_LONGOPTS,
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    validate_cli cli = {0};
    const struct file_kind *forced = NULL;
    cli_job cj = {0};
    int status = QHIL_EXIT_USAGE;
    bool all_ok = true;
    size_t i;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "k:B:Q:qh", longopts, NULL)) != -1) {
        int mine = cli_job_option(&cj, opt, optarg);

        if (mine < 0) {
            goto cleanup;
        }
        if (mine) {
            continue;
        }
        switch (opt) {
        case 'k':
            for (i = 0; i < N_KINDS; i++) {
                if (strcmp(optarg, kinds[i].name) == 0) {
                    forced = &kinds[i];
                }
            }
            if (!forced) {
                fprintf(stderr,
                        "qhil validate: --kind: unknown kind '%s' "
                        "(known:",
                        optarg);
                for (i = 0; i < N_KINDS; i++) {
                    fprintf(stderr, "%s %s", i ? "," : "", kinds[i].name);
                }
                fprintf(stderr, ")\n");
                goto cleanup;
            }
            break;
        case 'q':
            cli.quiet = true;
            break;
        case 'h':
            validate_usage(stdout);
            status = QHIL_EXIT_OK;
            goto cleanup;
        default:
            validate_usage(stderr);
            goto cleanup;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "qhil validate: no file given\n");
        validate_usage(stderr);
        goto cleanup;
    }
    if (cli_job_ready(&cj, "validate") < 0) {
        goto cleanup;
    }
    cli.board_dirs = (const char *const *)cj.board_dirs;
    cli.qemu_dirs = (const char *const *)cj.qemu_dirs;
    cli.site = cj.site;
    for (i = (size_t)optind; i < (size_t)argc; i++) {
        if (!validate_file(&cli, forced, argv[i])) {
            all_ok = false;
        }
    }
    status = all_ok ? QHIL_EXIT_OK : QHIL_EXIT_USAGE;

cleanup:
    cli_job_release(&cj);
    return status;
}
