/*
 * fuzz_console.c - libFuzzer target: the streaming console matcher.
 *
 * Input: an expect pattern, a NUL, a fail pattern (empty for none), a
 * NUL, one byte that seeds the read sizes, then the console stream.  The
 * stream is written to a socketpair in pieces of varying size (1 to 64
 * bytes), with the expect tried after each piece at a deadline of "now"
 * (the console always reads what is there before it times out; with a
 * fail pattern a wait at "now" comes first), then EOF.  Each match moves
 * on to the next expect, as a suite's steps do.  When the two top bits
 * of the seed byte are set, the console output is capped at 64 to 575
 * bytes.
 *
 * Without a fail pattern the results are also checked against PCRE2 run
 * once on the whole stream from the previous match end (the matcher's
 * promise); a difference aborts, so the fuzzer reports it.  Patterns get
 * a small (*LIMIT_MATCH) so that backtracking bombs end fast (and the
 * match-error path is fuzzed too).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qhil/clock.h>
#include <qhil/console.h>

#define MAX_EXPECTS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The end of the next match from off on the whole stream, or -1 (no
 * match) or -2 (a match-time error, not compared). */
static long long ref_next(const char *pattern, const uint8_t *s, size_t len,
                          size_t off)
{
    uint32_t opts = 0;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_MULTILINE, &ec, &eo, NULL);
    pcre2_match_data *md;
    long long r = -2;
    int rc;

    if (!code) {
        return -2;
    }
    pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &opts);
    if (opts & PCRE2_UTF) {
        pcre2_code_free(code);
        code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_MULTILINE | PCRE2_MATCH_INVALID_UTF, &ec,
                             &eo, NULL);
        if (!code) {
            return -2;
        }
    }
    md = pcre2_match_data_create_from_pattern(code, NULL);
    rc = pcre2_match(code, s, len, off, 0, md, NULL);
    if (rc >= 0) {
        r = (long long)pcre2_get_ovector_pointer(md)[1];
    } else if (rc == PCRE2_ERROR_NOMATCH) {
        r = -1;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul1 = memchr(data, 0, size);
    const uint8_t *nul2;
    const uint8_t *stream;
    size_t stream_len;
    qhil_console *con = NULL;
    char *pattern = NULL;
    char *fail = NULL;
    int rcs[MAX_EXPECTS];
    size_t n_done = 0;
    size_t off;
    uint32_t step;
    int sv[2] = {-1, -1};
    bool capped;
    int rc_new;
    size_t i;

    if (!nul1 || size > 16 * 1024) {
        return 0;
    }
    nul2 = memchr(nul1 + 1, 0, size - (size_t)(nul1 + 1 - data));
    if (!nul2 || nul2 + 1 >= data + size) {
        return 0;
    }
    step = nul2[1];
    stream = nul2 + 2;
    stream_len = size - (size_t)(stream - data);
    if (asprintf(&pattern, "(*LIMIT_MATCH=20000)%.*s", (int)(nul1 - data),
                 (const char *)data) < 0) {
        return 0;
    }
    if (nul2 > nul1 + 1 &&
        asprintf(&fail, "(*LIMIT_MATCH=20000)%.*s", (int)(nul2 - nul1 - 1),
                 (const char *)nul1 + 1) < 0) {
        fail = NULL;
    }
    if (qhil_console_pattern_check(pattern, NULL) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        goto done;
    }
    rc_new = qhil_console_new(sv[0], NULL, &con, NULL);
    sv[0] = -1; /* the console owns it now, or closed it */
    if (rc_new < 0) {
        goto done;
    }
    capped = (step & 0xc0) == 0xc0;
    if (capped) {
        qhil_console_set_log_limit(con, 64 + step % 512);
    }
    if (fail && qhil_console_add_fail_pattern(con, fail, NULL) < 0) {
        free(fail);
        fail = NULL;
    }
    off = 0;
    for (;;) {
        bool at_end = off >= stream_len;

        if (!at_end) {
            size_t n = 1 + step % 64;

            if (n > stream_len - off) {
                n = stream_len - off;
            }
            if (write(sv[1], stream + off, n) != (ssize_t)n) {
                break;
            }
            off += n;
            step = step * 1103515245u + 12345u;
            step ^= step >> 16;
        } else {
            close(sv[1]);
            sv[1] = -1;
        }
        if (fail) {
            qhil_console_wait(con, qhil_now(), NULL); /* fail patterns */
        }
        while (n_done < MAX_EXPECTS) {
            char *m = NULL;
            int rc = qhil_console_expect(con, pattern, qhil_now(), &m, NULL);

            if (rc == QHIL_ETIMEDOUT) {
                break;
            }
            rcs[n_done] = rc;
            free(m);
            n_done++;
            if (rc < 0) {
                n_done = MAX_EXPECTS; /* errors are sticky enough */
            }
        }
        if (at_end || n_done >= MAX_EXPECTS) {
            break;
        }
    }
    free(qhil_console_tail(con, 5));
    qhil_console_dispatch(con, NULL);

    /* Same successes, in the same number, as PCRE2 on the whole stream
     * (the stream was complete when the loop ended at EOF). */
    if (!fail && !capped && off >= stream_len && n_done < MAX_EXPECTS) {
        size_t pos = 0;

        for (i = 0; i < n_done; i++) {
            long long e = ref_next(pattern, stream, stream_len, pos);

            if (e == -2 || rcs[i] == QHIL_EPATTERN) {
                break;
            }
            if ((rcs[i] == 0) != (e >= 0)) {
                fprintf(stderr, "expect %zu: streamed %d, whole log %lld\n", i,
                        rcs[i], e);
                abort();
            }
            if (e < 0) {
                break;
            }
            pos = (size_t)e;
        }
    }
done:
    if (sv[1] >= 0) {
        close(sv[1]);
    }
    if (sv[0] >= 0) {
        close(sv[0]);
    }
    qhil_console_free(con);
    free(pattern);
    free(fail);
    return 0;
}
