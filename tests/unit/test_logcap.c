/*
 * test_logcap.c - the capped log: within its limit the file is the exact
 * byte stream whatever the write sizes; past it the file keeps the head,
 * a marker with the dropped count and the newest bytes; files already
 * there (or symlinks planted in their place) are never written.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "logcap.h"
#include "testutil.h"

typedef struct fixture {
    char dir[64];
    char path[96];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");

    if (!f) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/logcap.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/x.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char victim[128];

    snprintf(victim, sizeof(victim), "%s/victim", f->dir);
    unlink(f->path);
    unlink(victim);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The whole file, malloc'ed; *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *data;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
    data[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return data;
}

/* Byte i of the generated stream: a counter, so any misplaced or lost
 * byte shows. */
static char stream_byte(uint64_t i)
{
    return (char)('a' + (i * 7 + i / 26) % 26);
}

static void write_stream(qhil_logcap *lc, uint64_t n, unsigned seed)
{
    char chunk[5000];
    uint64_t off = 0;

    srand(seed);
    while (off < n) {
        size_t k = (size_t)(rand() % (int)sizeof(chunk)) + 1;
        size_t i;

        if (k > n - off) {
            k = (size_t)(n - off);
        }
        for (i = 0; i < k; i++) {
            chunk[i] = stream_byte(off + i);
        }
        qhil_logcap_write(lc, chunk, k);
        off += k;
    }
}

static void test_within_limit_is_exact(void **state)
{
    fixture *f = *state;
    qhil_logcap lc;
    size_t len;
    char *data;
    size_t i;

    assert_int_equal(qhil_logcap_init(&lc, f->path, 100000, NULL), 0);
    write_stream(&lc, 100000, 1); /* exactly the limit: nothing dropped */
    assert_false(qhil_logcap_over(&lc));
    qhil_logcap_release(&lc, "test output");
    data = slurp(f->path, &len);
    assert_int_equal(len, 100000);
    for (i = 0; i < len; i++) {
        if (data[i] != stream_byte(i)) {
            fail_msg("byte %zu differs", i);
        }
    }
    assert_null(strstr(data, "[qhil:"));
    free(data);
}

static void test_over_limit_keeps_head_and_tail(void **state)
{
    fixture *f = *state;
    const uint64_t limit = 3 << 20; /* head 2 MiB, tail 1 MiB */
    const uint64_t total = 10 << 20;
    qhil_logcap lc;
    char marker[128];
    size_t mlen;
    size_t len;
    char *data;
    char *tail;
    size_t tlen;
    size_t i;

    assert_int_equal(qhil_logcap_init(&lc, f->path, limit, NULL), 0);
    write_stream(&lc, total, 2);
    assert_true(qhil_logcap_over(&lc));
    assert_int_equal(qhil_logcap_total(&lc), total);
    /* The tail is the newest bytes, before and after release. */
    tail = qhil_logcap_tail(&lc, 100, &tlen);
    assert_int_equal(tlen, 100);
    for (i = 0; i < tlen; i++) {
        assert_int_equal(tail[i], stream_byte(total - 100 + i));
    }
    free(tail);
    qhil_logcap_release(&lc, "test output");

    mlen = (size_t)snprintf(marker, sizeof(marker),
                            "\n[qhil: %llu bytes of test output dropped "
                            "here]\n",
                            (unsigned long long)(total - limit));
    data = slurp(f->path, &len);
    assert_int_equal(len, limit + mlen);
    for (i = 0; i < (2u << 20); i++) {
        if (data[i] != stream_byte(i)) {
            fail_msg("head byte %zu differs", i);
        }
    }
    assert_memory_equal(data + (2u << 20), marker, mlen);
    for (i = 0; i < (1u << 20); i++) {
        if (data[(2u << 20) + mlen + i] !=
            stream_byte(total - (1u << 20) + i)) {
            fail_msg("tail byte %zu differs", i);
        }
    }
    free(data);
}

static void test_tail_from_file(void **state)
{
    fixture *f = *state;
    qhil_logcap lc;
    size_t len;
    char *t;

    assert_int_equal(qhil_logcap_init(&lc, f->path, 0, NULL), 0);
    assert_int_equal(qhil_logcap_limit(&lc), QHIL_LOGCAP_DEFAULT);
    qhil_logcap_write(&lc, "one\ntwo\nthree\n", 14);
    t = qhil_logcap_tail(&lc, 6, &len);
    assert_int_equal(len, 6);
    assert_string_equal(t, "three\n");
    free(t);
    t = qhil_logcap_tail(&lc, 1000, &len);
    assert_string_equal(t, "one\ntwo\nthree\n");
    free(t);
    qhil_logcap_release(&lc, NULL);
    qhil_logcap_release(&lc, NULL); /* twice is harmless */
}

/* A symlink planted where the log goes: refused, its target untouched;
 * likewise a file that is already there. */
static void test_never_follows_or_reuses(void **state)
{
    fixture *f = *state;
    char victim[128];
    qhil_error e;
    qhil_logcap lc;
    size_t len;
    char *data;
    int fd;

    snprintf(victim, sizeof(victim), "%s/victim", f->dir);
    fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "precious", 8), 8);
    close(fd);
    assert_int_equal(symlink(victim, f->path), 0);

    qhil_error_init(&e);
    assert_true(qhil_logcap_init(&lc, f->path, 0, &e) < 0);
    assert_contains(e.message, f->path);
    qhil_error_release(&e);
    qhil_logcap_write(&lc, "x", 1); /* a failed log takes writes quietly */
    qhil_logcap_release(&lc, NULL);
    data = slurp(victim, &len);
    assert_string_equal(data, "precious");
    free(data);

    unlink(f->path);
    assert_int_equal(rename(victim, f->path), 0);
    assert_true(qhil_logcap_init(&lc, f->path, 0, NULL) < 0);
    data = slurp(f->path, &len);
    assert_string_equal(data, "precious");
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_within_limit_is_exact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_over_limit_keeps_head_and_tail,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_from_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_never_follows_or_reuses, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
