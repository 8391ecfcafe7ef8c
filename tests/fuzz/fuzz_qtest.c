/*
 * fuzz_qtest.c - libFuzzer target: QTest reply lines and IRQ reports.
 *
 * The input is what a hostile QTest server sends while the client has a
 * few requests in flight: replies, IRQ lines, garbage, in any mix.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/qtest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qhil_qtest *qt = NULL;
    uint8_t buf[64];
    uint32_t l = 0;
    char *reply = NULL;
    int sv[2];
    int bufsize = 1 << 20;

    if (size > 256 * 1024 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return 0;
    }
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    if (qhil_qtest_new(sv[0], &qt, NULL) < 0) {
        close(sv[1]);
        return 0;
    }
    if (write(sv[1], data, size) < 0) {
        /* less input is still input */
    }
    /* EOF after the input, but keep the peer able to take requests. */
    shutdown(sv[1], SHUT_WR);
    qhil_qtest_submit(qt, "readl 0x1000", qhil_deadline_in(0), NULL);
    qhil_qtest_collect(qt, &reply, qhil_deadline_in(0), NULL);
    free(reply);
    qhil_qtest_readl(qt, 0x1000, &l, qhil_deadline_in(0), NULL);
    qhil_qtest_bufread(qt, 0x2000, buf, sizeof(buf), qhil_deadline_in(0),
                       NULL);
    qhil_qtest_memread(qt, 0x3000, buf, 16, qhil_deadline_in(0), NULL);
    qhil_qtest_dispatch(qt, NULL);
    qhil_qtest_get_irq(qt, 3);
    qhil_qtest_irq_raised(qt, 70000);
    qhil_qtest_free(qt);
    close(sv[1]);
    return 0;
}
