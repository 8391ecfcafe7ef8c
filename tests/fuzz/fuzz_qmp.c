/*
 * fuzz_qmp.c - libFuzzer target: QMP framing and reply/event routing.
 *
 * The input is what a hostile QMP server sends after the client has a
 * command in flight.  Whatever it is, the client must not crash, leak or
 * read out of bounds, and must end in a clean state or a sticky error.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/qmp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qhil_qmp *qmp = NULL;
    json_t *ret = NULL;
    uint64_t id = 0;
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
    qhil_qmp_send(qmp, "query-status", NULL, &id, qhil_deadline_in(0), NULL);
    if (write(sv[1], data, size) < 0) {
        /* a short socket buffer just means less input */
    }
    close(sv[1]);
    qhil_qmp_dispatch(qmp, NULL);
    qhil_qmp_wait_reply(qmp, id, &ret, qhil_deadline_in(0), NULL);
    json_decref(ret);
    ret = NULL;
    qhil_qmp_wait_event(qmp, NULL, &ret, qhil_deadline_in(0), NULL);
    json_decref(ret);
    qhil_qmp_version(qmp, NULL, NULL, NULL);
    qhil_qmp_free(qmp);
    return 0;
}
