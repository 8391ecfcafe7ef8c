/*
 * fuzz_junit.c - libFuzzer target: the JUnit merger's reader.
 *
 * The input is a JUnit file.  When the merger takes it, its merged
 * output must itself merge, and merging that must give the same bytes
 * again: what the merger writes, it reads back unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/junit.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Merge the file at path alone; the merged text (caller frees) or NULL
 * when the merger refused it. */
static char *merge_one(const char *path, size_t *len)
{
    qhil_junit_merge *m = NULL;
    char *text = NULL;
    FILE *mem;

    *len = 0;
    if (qhil_junit_merge_new(&m, NULL) < 0) {
        return NULL;
    }
    if (qhil_junit_merge_add(m, path, NULL) == 0) {
        mem = open_memstream(&text, len);
        if (mem) {
            qhil_junit_merge_write(m, mem, NULL);
            fclose(mem);
        }
    }
    qhil_junit_merge_free(m);
    return text;
}

static int write_all(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (!f) {
        return -1;
    }
    ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/qhil-fuzz-junit.XXXXXX";
    char *first;
    char *second;
    size_t n1;
    size_t n2;
    int fd;

    fd = mkstemp(path);
    if (fd < 0) {
        return 0;
    }
    close(fd);
    if (write_all(path, data, size) < 0) {
        unlink(path);
        return 0;
    }
    first = merge_one(path, &n1);
    if (first && write_all(path, first, n1) == 0) {
        second = merge_one(path, &n2);
        if (!second || n1 != n2 || memcmp(first, second, n1) != 0) {
            abort(); /* the merger does not read back what it wrote */
        }
        free(second);
    }
    free(first);
    unlink(path);
    return 0;
}
