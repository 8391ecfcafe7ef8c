/*
 * qmp_live.c - the QMP client against a real QEMU (Debian's, riscv-virt,
 * with the example firmware).
 *
 * What fake peers cannot show: that QEMU 7.2 accepts what the client
 * sends and answers the way the client expects.  Pipelined commands
 * (more than the 8 QEMU queues with "oob" on), events from stop/cont/
 * system_reset with their timestamps, fds passed by SCM_RIGHTS to add-fd
 * and getfd, the schema index built from QEMU's own query-qmp-schema,
 * out-of-band execution of a command QEMU allows out of band, HMP, and a
 * second monitor reached through qhil_qmp_connect on a Unix socket.
 *
 * usage: qmp_live   (environment: SRC = the source tree, for boards/ and
 *                    firmware/build/riscv-virt/hello.elf)
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "itutil.h"

#define WAIT (10 * QHIL_SEC)
#define PIPELINED 100

static qhil_error err;

static int64_t later(void)
{
    return qhil_deadline_in(WAIT);
}

/* QEMU's argv for riscv-virt with the example firmware, plus a second
 * QMP monitor on a Unix socket at qmp_path (a test may add what a suite
 * may not). */
static char **board_argv(const char *qmp_path)
{
    char *kernel = it_src_path("firmware/build/riscv-virt/hello.elf");
    char *qmp = NULL;
    qhil_board_value image = {.name = "kernel", .value = kernel};
    qhil_board_job job = {.images = &image, .n_images = 1};
    char **argv;
    char **grown;
    size_t n = 0;

    if (asprintf(&qmp, "unix:%s,server=on,wait=off", qmp_path) < 0) {
        it_die(__FILE__, __LINE__, "out of memory");
    }
    argv = it_board_argv("riscv-virt", &job);
    while (argv[n]) {
        n++;
    }
    grown = realloc(argv, (n + 3) * sizeof(*argv));
    CHECK(grown);
    argv = grown;
    argv[n] = strdup("-qmp");
    argv[n + 1] = qmp;
    argv[n + 2] = NULL;
    CHECK(argv[n]);
    free(kernel);
    return argv;
}

/* 100 commands in flight, replies taken by id from our own poll loop;
 * every tenth is query-version, so a reply given to the wrong command
 * shows. */
static void test_pipeline(qhil_qmp *qmp)
{
    uint64_t ids[PIPELINED];
    json_t *rets[PIPELINED] = {NULL};
    int64_t deadline = later();
    size_t left = PIPELINED;
    size_t i;

    for (i = 0; i < PIPELINED; i++) {
        CHECK_RC(qhil_qmp_submit(qmp,
                                 i % 10 == 9 ? "query-version" : "query-status",
                                 NULL, -1, 0, &ids[i], &err),
                 QHIL_EOK);
    }
    while (left) {
        struct pollfd pfd = {.fd = qhil_qmp_fd(qmp),
                             .events = qhil_qmp_poll_events(qmp)};

        CHECK(qhil_now() < deadline);
        CHECK(poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) >= 0);
        CHECK_RC(qhil_qmp_dispatch(qmp, &err), QHIL_EOK);
        /* Newest first: the order of taking does not matter. */
        for (i = PIPELINED; i-- > 0;) {
            int rc;

            if (rets[i]) {
                continue;
            }
            rc = qhil_qmp_take_reply(qmp, ids[i], &rets[i], &err);
            CHECK(rc == 0 || rc == 1);
            left -= (size_t)rc;
        }
    }
    for (i = 0; i < PIPELINED; i++) {
        if (i % 10 == 9) {
            CHECK(json_is_object(json_object_get(rets[i], "qemu")));
        } else {
            CHECK_STR(json_string_value(json_object_get(rets[i], "status")),
                      "running");
        }
        json_decref(rets[i]);
    }
    CHECK(qhil_qmp_poll_events(qmp) == POLLIN);
    printf("qmp_live: %d pipelined commands, replies matched by id\n",
           PIPELINED);
}

/* STOP, RESUME and RESET, their timestamps in order and near now. */
static void test_events(qhil_qmp *qmp)
{
    json_t *reset_match =
        json_pack("{s:b, s:s}", "guest", 0, "reason", "host-qmp-system-reset");
    json_t *ev = NULL;
    int64_t t_stop;
    int64_t t_resume;
    int64_t t_reset;
    struct timespec now;

    qhil_qmp_clear_events(qmp);
    CHECK_RC(qhil_qmp_execute(qmp, "stop", NULL, NULL, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qmp_wait_event(qmp, "STOP", &ev, later(), &err), QHIL_EOK);
    t_stop = qhil_qmp_event_time(ev);
    json_decref(ev);
    CHECK_RC(qhil_qmp_execute(qmp, "cont", NULL, NULL, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qmp_wait_event(qmp, "RESUME", &ev, later(), &err), QHIL_EOK);
    t_resume = qhil_qmp_event_time(ev);
    json_decref(ev);
    CHECK_RC(qhil_qmp_execute(qmp, "system_reset", NULL, NULL, later(), &err),
             QHIL_EOK);
    CHECK_RC(qhil_qmp_wait_event_match(qmp, "RESET", reset_match, &ev, later(),
                                       &err),
             QHIL_EOK);
    t_reset = qhil_qmp_event_time(ev);
    json_decref(ev);
    json_decref(reset_match);

    clock_gettime(CLOCK_REALTIME, &now);
    CHECK(t_stop > 0 && t_stop < t_resume && t_resume < t_reset);
    CHECK(t_reset - t_stop < WAIT);
    CHECK(llabs(((int64_t)now.tv_sec * QHIL_SEC + now.tv_nsec) - t_reset) <
          60 * QHIL_SEC);
    printf("qmp_live: STOP, RESUME, RESET at +0, +%lld, +%lld us\n",
           (long long)((t_resume - t_stop) / QHIL_USEC),
           (long long)((t_reset - t_stop) / QHIL_USEC));
}

/* Does rfd reach EOF (every write end closed) within wait? */
static int pipe_at_eof(int rfd, int64_t wait)
{
    int64_t deadline = qhil_deadline_in(wait);
    char buf[16];

    for (;;) {
        struct pollfd pfd = {.fd = rfd, .events = POLLIN};
        int n = poll(&pfd, 1, qhil_deadline_poll_ms(deadline));

        if (n > 0) {
            return read(rfd, buf, sizeof(buf)) == 0;
        }
        if (n == 0 && qhil_now() >= deadline) {
            return 0;
        }
    }
}

/* add-fd with a pipe's write end: QEMU holds it (no EOF on the read end
 * once ours is closed) until remove-fd.  getfd with a memfd, checked by
 * closefd. */
static void test_fd_passing(qhil_qmp *qmp)
{
    json_t *args = json_pack("{s:s}", "opaque", "qhil-pipe");
    json_t *ret = NULL;
    json_t *set;
    json_t *fds;
    uint64_t id = 0;
    json_int_t fdset;
    json_int_t qemu_fd;
    int p[2];
    int mfd;
    size_t i;

    CHECK(pipe2(p, O_CLOEXEC) == 0);
    CHECK_RC(
        qhil_qmp_submit(qmp, "add-fd", args, p[1], QHIL_QMP_CHECK, &id, &err),
        QHIL_EOK);
    json_decref(args);
    close(p[1]);
    CHECK_RC(qhil_qmp_wait_reply(qmp, id, &ret, later(), &err), QHIL_EOK);
    fdset = json_integer_value(json_object_get(ret, "fdset-id"));
    qemu_fd = json_integer_value(json_object_get(ret, "fd"));
    CHECK(json_is_integer(json_object_get(ret, "fd")) && qemu_fd > 2);
    json_decref(ret);
    CHECK(!pipe_at_eof(p[0], 200 * QHIL_MSEC));

    CHECK_RC(qhil_qmp_execute(qmp, "query-fdsets", NULL, &ret, later(), &err),
             QHIL_EOK);
    fds = NULL;
    json_array_foreach(ret, i, set) {
        if (json_integer_value(json_object_get(set, "fdset-id")) == fdset) {
            fds = json_object_get(set, "fds");
        }
    }
    CHECK(json_array_size(fds) == 1);
    CHECK(json_integer_value(json_object_get(json_array_get(fds, 0), "fd")) ==
          qemu_fd);
    CHECK_STR(
        json_string_value(json_object_get(json_array_get(fds, 0), "opaque")),
        "qhil-pipe");
    json_decref(ret);

    args = json_pack("{s:I}", "fdset-id", fdset);
    CHECK_RC(qhil_qmp_execute(qmp, "remove-fd", args, NULL, later(), &err),
             QHIL_EOK);
    json_decref(args);
    CHECK(pipe_at_eof(p[0], WAIT));
    close(p[0]);

    mfd = memfd_create("qhil-memfd", MFD_CLOEXEC);
    CHECK(mfd >= 0);
    args = json_pack("{s:s}", "fdname", "qhil-memfd");
    CHECK_RC(qhil_qmp_submit(qmp, "getfd", args, mfd, 0, &id, &err), QHIL_EOK);
    close(mfd);
    CHECK_RC(qhil_qmp_wait_reply(qmp, id, NULL, later(), &err), QHIL_EOK);
    CHECK_RC(qhil_qmp_execute(qmp, "closefd", args, NULL, later(), &err),
             QHIL_EOK);
    /* Only once: it was there, and now it is gone. */
    CHECK_RC(qhil_qmp_execute(qmp, "closefd", args, NULL, later(), &err),
             QHIL_ECMD);
    CHECK(strstr(err.message, "qhil-memfd"));
    json_decref(args);
    printf("qmp_live: add-fd (fdset %lld, QEMU fd %lld), query-fdsets, "
           "remove-fd, getfd, closefd\n",
           (long long)fdset, (long long)qemu_fd);
}

static void test_schema(qhil_qmp *qmp)
{
    json_t *args = json_pack("{s:b}", "x", 1);
    char **names;
    uint64_t before = 0;
    uint64_t after = 0;
    size_t n = 0;
    int found = 0;

    CHECK(qhil_qmp_has_command(qmp, "query-status") == QHIL_EINVAL);
    CHECK_RC(qhil_qmp_schema_load(qmp, later(), &err), QHIL_EOK);
    CHECK(qhil_qmp_has_command(qmp, "query-status") == 1);
    CHECK(qhil_qmp_has_command(qmp, "no-such") == 0);
    CHECK(qhil_qmp_has_command(qmp, "STOP") == 0); /* an event */
    CHECK(qhil_qmp_has_argument(qmp, "system_reset", "x") == 0);
    CHECK(qhil_qmp_has_argument(qmp, "device_del", "id") == 1);
    CHECK(qhil_qmp_has_argument(qmp, "human-monitor-command", "command-line") ==
          1);
    /* blockdev-add's arguments are a union: base and variant members. */
    CHECK(qhil_qmp_has_argument(qmp, "blockdev-add", "driver") == 1);
    CHECK(qhil_qmp_has_argument(qmp, "blockdev-add", "filename") == 1);
    names = qhil_qmp_schema_names(qmp, NULL);
    CHECK(names);
    for (n = 0; names[n]; n++) {
        found += strcmp(names[n], "query-status") == 0;
        CHECK(n == 0 || strcmp(names[n - 1], names[n]) < 0);
    }
    CHECK(found == 1 && n > 100);
    qhil_strv_free(names);

    /* Refused without sending: no id is used up. */
    CHECK_RC(qhil_qmp_submit(qmp, "query-status", NULL, -1, 0, &before, &err),
             QHIL_EOK);
    CHECK_RC(
        qhil_qmp_execute_checked(qmp, "no-such", NULL, NULL, later(), &err),
        QHIL_EUNSUPPORTED);
    CHECK(strstr(err.message, "has no QMP command 'no-such'"));
    CHECK_RC(qhil_qmp_execute_checked(qmp, "system_reset", args, NULL, later(),
                                      &err),
             QHIL_EUNSUPPORTED);
    CHECK(strstr(err.message, "takes no arguments"));
    CHECK_RC(qhil_qmp_submit(qmp, "query-status", NULL, -1, 0, &after, &err),
             QHIL_EOK);
    CHECK(after == before + 1);
    CHECK_RC(qhil_qmp_wait_reply(qmp, before, NULL, later(), &err), QHIL_EOK);
    CHECK_RC(qhil_qmp_wait_reply(qmp, after, NULL, later(), &err), QHIL_EOK);
    /* Without the check, QEMU says the same in its own words. */
    CHECK_RC(qhil_qmp_execute(qmp, "system_reset", args, NULL, later(), &err),
             QHIL_ECMD);
    CHECK(strstr(err.message, "'x'"));
    json_decref(args);
    printf("qmp_live: schema of %zu commands; unknown command and argument "
           "refused before sending\n",
           n);
}

/*
 * QEMU 7.2 allows out-of-band execution for migrate-recover,
 * migrate-pause, yank and query-yank only ('allow-oob': true in its qapi
 * schema).  query-yank only reads: it lists what can be yanked, among
 * them the socket chardev of our QMP monitor.
 */
static void test_oob(qhil_qmp *qmp)
{
    json_t *ret = NULL;
    json_t *item;
    uint64_t id = 0;
    size_t i;
    int found = 0;

    CHECK(qhil_qmp_has_oob(qmp) == 1);
    CHECK_RC(qhil_qmp_submit(qmp, "query-yank", NULL, -1,
                             QHIL_QMP_OOB | QHIL_QMP_CHECK, &id, &err),
             QHIL_EOK);
    CHECK_RC(qhil_qmp_wait_reply(qmp, id, &ret, later(), &err), QHIL_EOK);
    json_array_foreach(ret, i, item) {
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *name = json_string_value(json_object_get(item, "id"));

        found += type && name && strcmp(type, "chardev") == 0 &&
                 strcmp(name, "qhil-qmp") == 0;
    }
    CHECK(found == 1);
    json_decref(ret);
    /* A command QEMU runs only in band: the schema says so first, QEMU
     * says so when asked anyway. */
    CHECK_RC(qhil_qmp_submit(qmp, "query-status", NULL, -1,
                             QHIL_QMP_OOB | QHIL_QMP_CHECK, &id, &err),
             QHIL_EUNSUPPORTED);
    CHECK_RC(
        qhil_qmp_submit(qmp, "query-status", NULL, -1, QHIL_QMP_OOB, &id, &err),
        QHIL_EOK);
    CHECK_RC(qhil_qmp_wait_reply(qmp, id, NULL, later(), &err), QHIL_ECMD);
    CHECK(strstr(err.message, "does not support OOB"));
    printf("qmp_live: exec-oob query-yank lists chardev qhil-qmp\n");
}

static void test_hmp(qhil_qmp *qmp)
{
    char *out = NULL;

    CHECK_RC(qhil_qmp_hmp(qmp, "info status", &out, later(), &err), QHIL_EOK);
    CHECK(strncmp(out, "VM status: running", 18) == 0);
    printf("qmp_live: HMP info status: %.*s\n", (int)strcspn(out, "\r\n"), out);
    free(out);
}

/* The second monitor, through the Unix socket transport. */
static void test_connect(const char *path)
{
    qhil_qmp *qmp = NULL;
    char *address = NULL;
    json_t *ret = NULL;

    CHECK(asprintf(&address, "unix:%s", path) > 0);
    CHECK_RC(qhil_qmp_connect(address, later(), &qmp, &err), QHIL_EOK);
    CHECK_RC(qhil_qmp_handshake(qmp, later(), &err), QHIL_EOK);
    CHECK(qhil_qmp_has_oob(qmp) == 1);
    CHECK_RC(qhil_qmp_execute(qmp, "query-status", NULL, &ret, later(), &err),
             QHIL_EOK);
    CHECK_STR(json_string_value(json_object_get(ret, "status")), "running");
    json_decref(ret);
    qhil_qmp_free(qmp);
    printf("qmp_live: second monitor at %s answers\n", address);
    free(address);
}

int main(void)
{
    char *dir;
    char *sock = NULL;
    char **argv;
    qhil_machine *m = NULL;
    qhil_machine_opts opts = {0};
    qhil_qmp *qmp;
    char *seen = NULL;

    qhil_error_init(&err);
    dir = it_run_dir("qhil-qmp");
    if (asprintf(&sock, "%s/qmp.sock", dir) < 0) {
        perror("qmp_live: run directory");
        return 1;
    }
    argv = board_argv(sock);
    opts.argv = (const char *const *)argv;
    opts.run_dir = dir;
    CHECK_RC(qhil_machine_launch(&opts, &m, &err), QHIL_EOK);
    qmp = qhil_machine_qmp(m);
    /* The firmware runs: its banner is on the console. */
    CHECK_RC(qhil_console_expect(qhil_machine_console(m), "Hello", later(),
                                 &seen, &err),
             QHIL_EOK);
    free(seen);

    test_pipeline(qmp);
    test_events(qmp);
    test_fd_passing(qmp);
    test_schema(qmp);
    test_oob(qmp);
    test_hmp(qmp);
    test_connect(sock);

    CHECK_RC(qhil_machine_shutdown(m, &err), QHIL_EOK);
    CHECK(qhil_machine_end_how(m) == QHIL_END_QUIT);
    qhil_machine_free(m);
    qhil_argv_free(argv);
    it_remove_run_dir(dir);
    free(sock);
    free(dir);
    qhil_error_release(&err);
    printf("qmp_live: %d checks passed\n", it_checks());
    return 0;
}
