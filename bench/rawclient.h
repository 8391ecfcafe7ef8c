/*
 * rawclient.h - the floor of qhil's benchmarks: the example test run by a
 * client that does nothing but the protocol (libc only, no libqhil).
 *
 * The test: QEMU started with its QMP monitor and serial port on fds 3
 * and 4 (the caller's argv carries that wiring), the QMP handshake,
 * expect "Hello, QEMU!", QMP system_reset, expect the banner and the
 * prompt, send "echo bench", expect the echo, QMP quit, and QEMU's exit
 * status 0.  strstr on the bytes read; one 10 s deadline for the test.
 */
#ifndef QHIL_BENCH_RAWCLIENT_H
#define QHIL_BENCH_RAWCLIENT_H

#include <stddef.h>

#define RAW_BUF (1 << 16)

/* What one side (QMP or console) sent so far; the caller owns it (it is
 * large: keep it static) and the client reuses it for each test. */
typedef struct raw_stream {
    int fd;
    char buf[RAW_BUF];
    size_t len;
} raw_stream;

/* Run the test once; 0 when it passed, -1 otherwise.  Blocks for the
 * test, at most 10 s, then reaps QEMU (killed when the test failed). */
int raw_test(char *const *argv, raw_stream *qmp, raw_stream *con);

#endif
