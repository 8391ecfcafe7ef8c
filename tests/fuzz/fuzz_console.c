/*
 * fuzz_console.c - libFuzzer target: the streaming console matcher.
 *
 * Input: a pattern, a NUL byte, then the console stream.  The stream is
 * fed in pieces of varying size with an expect after each, so matches
 * cross read boundaries.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/console.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    qhil_console *con = NULL;
    char *pattern;
    size_t off;
    size_t step = 1;
    int sv[2];

    if (!nul || size > 64 * 1024 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return 0;
    }
    pattern = strndup((const char *)data, (size_t)(nul - data));
    if (!pattern || qhil_console_new(sv[0], NULL, &con, NULL) < 0) {
        free(pattern);
        close(sv[1]);
        return 0;
    }
    qhil_console_add_fail_pattern(con, "PANIC", NULL);
    off = (size_t)(nul - data) + 1;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        char *m = NULL;

        if (write(sv[1], data + off, n) < 0) {
            break;
        }
        off += n;
        step = step * 3 % 17 + 1;
        qhil_console_expect(con, pattern, qhil_deadline_in(0), &m, NULL);
        free(m);
    }
    free(qhil_console_tail(con, 5));
    close(sv[1]);
    qhil_console_free(con);
    free(pattern);
    return 0;
}
