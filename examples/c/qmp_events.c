/*
 * qmp_events.c - libqhil's QMP client on a QEMU you started yourself.
 *
 * usage: qmp_events ADDRESS      (unix:PATH, tcp:HOST:PORT, or a path)
 * QEMU:  qemu-system-riscv64 ... -qmp unix:/tmp/qmp.sock,server=on,wait=off
 * Builds: cc qmp_events.c $(pkg-config --cflags --libs libqhil)
 *
 * Connects and negotiates, asks the schema what this QEMU has, sends
 * three commands at once and takes their replies by id, resets the guest
 * and waits for the RESET event that reset caused, and asks HMP for the
 * VM status.  QEMU keeps running afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/qhil.h>

int main(int argc, char **argv)
{
    static const char *const commands[] = {"query-status", "query-name",
                                           "query-version"};
    uint64_t ids[3];
    json_t *replies[3] = {NULL, NULL, NULL};
    json_t *match = NULL;
    json_t *event = NULL;
    json_t *version;
    const char *name;
    qhil_qmp *qmp = NULL;
    char *hmp = NULL;
    qhil_error err;
    int major = 0, minor = 0, micro = 0;
    int64_t t;
    int rc = 1;
    int i;

    if (argc != 2) {
        fprintf(stderr, "usage: qmp_events ADDRESS (unix:PATH, "
                        "tcp:HOST:PORT)\n");
        return 2;
    }
    qhil_error_init(&err);

    /* 1. Connect, then greeting and capabilities ("oob" when offered). */
    if (qhil_qmp_connect(argv[1], qhil_deadline_in(2 * QHIL_SEC), &qmp, &err) <
            0 ||
        qhil_qmp_handshake(qmp, qhil_deadline_in(2 * QHIL_SEC), &err) < 0) {
        goto out;
    }
    qhil_qmp_version(qmp, &major, &minor, &micro);
    printf("connected: QEMU %d.%d.%d, out-of-band execution %s\n", major, minor,
           micro, qhil_qmp_has_oob(qmp) ? "on" : "off");

    /* 2. The schema: what this QEMU knows, checked before sending. */
    if (qhil_qmp_schema_load(qmp, qhil_deadline_in(5 * QHIL_SEC), &err) < 0) {
        goto out;
    }
    printf("schema: query-status %s, system_reset with 'x' %s\n",
           qhil_qmp_has_command(qmp, "query-status") == 1 ? "yes" : "no",
           qhil_qmp_has_argument(qmp, "system_reset", "x") == 1 ? "yes" : "no");
    if (qhil_qmp_execute_checked(qmp, "x-no-such-command", NULL, NULL,
                                 qhil_deadline_in(QHIL_SEC),
                                 &err) == QHIL_EUNSUPPORTED) {
        printf("refused: %s\n", err.message);
    }

    /* 3. Three commands in flight; replies are matched by id, so the
     *    order we take them in does not matter. */
    for (i = 0; i < 3; i++) {
        if (qhil_qmp_submit(qmp, commands[i], NULL, -1, 0, &ids[i], &err) < 0) {
            goto out;
        }
    }
    for (i = 2; i >= 0; i--) {
        if (qhil_qmp_wait_reply(qmp, ids[i], &replies[i],
                                qhil_deadline_in(QHIL_SEC), &err) < 0) {
            goto out;
        }
    }
    version = json_object_get(replies[2], "qemu");
    name = json_string_value(json_object_get(replies[1], "name"));
    printf("replies: status=%s name=%s version=%lld.%lld.%lld\n",
           json_string_value(json_object_get(replies[0], "status")),
           name ? name : "(none)",
           json_integer_value(json_object_get(version, "major")),
           json_integer_value(json_object_get(version, "minor")),
           json_integer_value(json_object_get(version, "micro")));

    /* 4. Reset, and wait for the RESET event our reset caused (a guest
     *    reset would say "guest-reset"). */
    match = json_pack("{s:s}", "reason", "host-qmp-system-reset");
    if (qhil_qmp_execute(qmp, "system_reset", NULL, NULL,
                         qhil_deadline_in(QHIL_SEC), &err) < 0 ||
        qhil_qmp_wait_event_match(qmp, "RESET", match, &event,
                                  qhil_deadline_in(2 * QHIL_SEC), &err) < 0) {
        goto out;
    }
    t = qhil_qmp_event_time(event);
    printf("event: RESET (reason host-qmp-system-reset) at %lld.%06lld\n",
           (long long)(t / QHIL_SEC), (long long)(t % QHIL_SEC / QHIL_USEC));

    /* 5. HMP, for what QMP does not have. */
    if (qhil_qmp_hmp(qmp, "info status", &hmp, qhil_deadline_in(QHIL_SEC),
                     &err) < 0) {
        goto out;
    }
    printf("hmp: %.*s\n", (int)strcspn(hmp, "\r\n"), hmp);
    rc = 0;

out:
    if (rc) {
        fprintf(stderr, "qmp_events: %s\n", qhil_error_message(&err, -1));
    }
    free(hmp);
    json_decref(event);
    json_decref(match);
    for (i = 0; i < 3; i++) {
        json_decref(replies[i]);
    }
    qhil_qmp_free(qmp);
    qhil_error_release(&err);
    return rc;
}
