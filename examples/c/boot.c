/*
 * boot.c - libqhil from C: boot a board, talk to its shell, ask QMP.
 *
 * usage: boot BOARDS_DIR FIRMWARE.elf
 * Builds: cc boot.c $(pkg-config --cflags --libs libqhil)
 */
#include <stdio.h>
#include <stdlib.h>

#include <qhil/qhil.h>

int main(int argc, char **argv)
{
    const char *dirs[2] = {NULL, NULL};
    char run_dir[] = "/tmp/qhil-boot.XXXXXX";
    qhil_job *job = NULL;
    qhil_machine *m = NULL;
    json_t *status = NULL;
    char *line = NULL;
    qhil_error err;
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: boot BOARDS_DIR FIRMWARE.elf\n");
        return 2;
    }
    qhil_error_init(&err);
    dirs[0] = argv[1];

    /* 1. The QEMU command line, from a board template and our image;
     *    the binary is found in PATH. */
    qhil_board_value kernel = {.name = "kernel", .value = argv[2]};
    qhil_board_job values = {.images = &kernel, .n_images = 1};
    qhil_job_opts jo = {
        .device_type = "mps2-an385",
        .board_dirs = dirs,
        .values = &values,
    };

    if (qhil_job_new(&jo, &job, &err) < 0) {
        goto out;
    }

    /* 2. Start QEMU; returns once QMP is ready. */
    qhil_machine_opts opts = {
        .argv = qhil_job_argv(job),
        .envp = qhil_job_envp(job), /* the site's environment only */
        .run_dir = mkdtemp(run_dir),
    };
    if (!opts.run_dir || qhil_machine_launch(&opts, &m, &err) < 0) {
        goto out;
    }
    qhil_console *con = qhil_machine_console(m);
    qhil_qmp *qmp = qhil_machine_qmp(m);

    /* 3. Console: wait for the prompt, run a command, read its answer. */
    if (qhil_console_expect(con, "^> ", qhil_deadline_in(5 * QHIL_SEC),
                            NULL, &err) < 0 ||
        qhil_console_send(con, "count\n", 6, qhil_deadline_in(QHIL_SEC),
                          &err) < 0 ||
        qhil_console_expect(con, "count=\\d+", qhil_deadline_in(QHIL_SEC),
                            &line, &err) < 0) {
        goto out;
    }
    printf("firmware said: %s\n", line);

    /* 4. QMP: the reply is a jansson object we own. */
    if (qhil_qmp_execute(qmp, "query-status", NULL, &status,
                         qhil_deadline_in(QHIL_SEC), &err) < 0) {
        goto out;
    }
    printf("QEMU status: %s\n",
           json_string_value(json_object_get(status, "status")));

    /* 5. Stop QEMU politely (quit, then SIGTERM, then SIGKILL). */
    if (qhil_machine_shutdown(m, &err) < 0) {
        goto out;
    }
    printf("logs: %s\n", qhil_machine_console_log(m));
    rc = 0;

out:
    if (rc) {
        fprintf(stderr, "boot: %s\n", qhil_error_message(&err, -1));
    }
    json_decref(status);
    free(line);
    qhil_machine_free(m);
    qhil_job_free(job);
    qhil_error_release(&err);
    return rc;
}
