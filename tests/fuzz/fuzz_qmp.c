/*
 * fuzz_qmp.c - libFuzzer target: QMP framing and reply/event routing.
 *
 * The input is what a hostile QMP server sends after the client has
 * commands in flight (one sent, one submitted to the output queue) and
 * an event callback installed.  Whatever it is, the client must not
 * crash, leak or read out of bounds, and must end in a clean state or a
 * sticky error.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/qmp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Consume every other event; the rest are queued. */
static int on_event(void *data, const json_t *event)
{
    unsigned *n = data;

    (void)event;
    return (*n)++ % 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qhil_qmp *qmp = NULL;
    json_t *ret = NULL;
    json_t *match = NULL;
    uint64_t id = 0;
    uint64_t queued = 0;
    unsigned events = 0;
    int sv[2];
    int bufsize = 1 << 20;

    if (size > 512 * 1024 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return 0;
    }
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    if (qhil_qmp_new(sv[0], &qmp, NULL) < 0) {
        close(sv[1]);
        return 0;
    }
    qhil_qmp_set_limits(qmp, 64 * 1024, 8);
    qhil_qmp_set_event_callback(qmp, on_event, &events);
    qhil_qmp_send(qmp, "query-status", NULL, &id, qhil_deadline_in(0), NULL);
    qhil_qmp_submit(qmp, "query-name", NULL, -1, 0, &queued, NULL);
    if (write(sv[1], data, size) < 0) {
        /* a short socket buffer just means less input */
    }
    close(sv[1]);
    qhil_qmp_dispatch(qmp, NULL);
    qhil_qmp_wait_reply(qmp, id, &ret, qhil_deadline_in(0), NULL);
    json_decref(ret);
    ret = NULL;
    qhil_qmp_take_reply(qmp, queued, &ret, NULL);
    json_decref(ret);
    ret = NULL;
    match = json_pack("{s:s}", "device", "drive0");
    qhil_qmp_wait_event_match(qmp, NULL, match, &ret, qhil_deadline_in(0),
                              NULL);
    qhil_qmp_event_time(ret);
    json_decref(ret);
    json_decref(match);
    ret = NULL;
    qhil_qmp_wait_event(qmp, NULL, &ret, qhil_deadline_in(0), NULL);
    json_decref(ret);
    qhil_qmp_version(qmp, NULL, NULL, NULL);
    qhil_qmp_free(qmp);
    return 0;
}
