/*
 * cli_job.c - the options every command that builds a job shares.
 *
 * -B/--boards and -Q/--qemu-dir add the operator's folders for device
 * types and QEMU binaries; --site FILE names the site config (else
 * /etc/qhil/site.yaml when it exists, else the built-in strict site);
 * --trusted says the operator vouches for the suites of this run.  All
 * of them come from whoever runs qhil, never from a suite.  Device types
 * are looked for in the -B folders, then $QHIL_BOARDS_PATH, then the
 * site's device_types folders, or when the site names none, the
 * installed ones and the source tree's: never in the working folder,
 * where a job's own files may be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/board.h>
#include <qhil/job.h>
#include <qhil/site.h>

#include "qhil-cli.h"

#define SYSTEM_SITE "/etc/qhil/site.yaml"

int cli_job_option(cli_job *j, int opt, char *arg)
{
    switch (opt) {
    case 'B':
    case 'Q':
        if (opt == 'B' ? cli_list_add(&j->extra_boards, &j->n_boards, arg)
                       : cli_list_add(&j->extra_qemu, &j->n_qemu, arg)) {
            fprintf(stderr, "qhil: out of memory\n");
            return -1;
        }
        return 1;
    case CLI_OPT_SITE:
        j->site_path = arg;
        return 1;
    case CLI_OPT_TRUSTED:
        j->trusted = true;
        return 1;
    default:
        return 0;
    }
}

int cli_job_ready(cli_job *j, const char *cmd)
{
    const char *path = j->site_path;
    const char *const *site_dirs;
    qhil_error e;
    int rc;

    qhil_error_init(&e);
    if (!path && access(SYSTEM_SITE, F_OK) == 0) {
        path = SYSTEM_SITE;
    }
    rc = path ? qhil_site_load(path, &j->site, &e)
              : qhil_site_builtin(&j->site, &e);
    if (rc == 0 && j->trusted) {
        rc = qhil_site_trust(j->site, "--trusted", &e);
    }
    if (rc < 0) {
        fprintf(stderr, "qhil %s: %s%s\n", cmd,
                j->site_path ? "--site: " : "", qhil_error_message(&e, rc));
        qhil_error_release(&e);
        return -1;
    }
    site_dirs = qhil_site_device_type_dirs(j->site);
    j->board_dirs = cli_board_dirs(j->extra_boards, j->n_boards, site_dirs);
    j->qemu_dirs = cli_qemu_dirs(j->extra_qemu, j->n_qemu);
    if (!j->board_dirs || !j->qemu_dirs) {
        fprintf(stderr, "qhil %s: out of memory\n", cmd);
        return -1;
    }
    return 0;
}

int cli_job_suite(const cli_job *j, const char *path, bool probe,
                  qhil_suite **suite, qhil_job **job, qhil_error *err)
{
    qhil_job_opts base = {
        .board_dirs = (const char *const *)j->board_dirs,
        .qemu_dirs = (const char *const *)j->qemu_dirs,
        .site = j->site,
        .no_probe = !probe,
    };
    int rc;

    *job = NULL;
    rc = qhil_suite_load(path, suite, err);
    if (rc == QHIL_EOK) {
        rc = qhil_job_from_suite(*suite, &base, job, err);
    }
    return rc;
}

void cli_job_release(cli_job *j)
{
    free(j->extra_boards);
    free(j->extra_qemu);
    qhil_argv_free(j->board_dirs);
    qhil_argv_free(j->qemu_dirs);
    qhil_site_free(j->site);
    memset(j, 0, sizeof(*j));
}
