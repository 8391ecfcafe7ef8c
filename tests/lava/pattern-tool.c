/*
 * pattern-tool.c - both sides of the LAVA pattern differential test
 * (pattern-diff.py): the translation, and qhil's own answer.
 *
 *   pattern-tool translate PATTERN
 *       prints the Python pattern; exit 3 and "refused: WHY" when refused.
 *   pattern-tool match PATTERN FILE START
 *       matches FILE's bytes from offset START the way lib/console.c does
 *       while the stream is open: PCRE2_MULTILINE, PCRE2_PARTIAL_HARD,
 *       the bytes before START as context (the subject starts at 0).  Prints
 * "match S E", "partial S" (qhil still waits) or "none".  Exit 2 on errors.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qhil/error.h>

#include "lava_pattern.h"

#define TOOL_STREAM_MAX (1 << 20)

static int translate(const char *pattern)
{
    const char *why = NULL;
    char *out = NULL;
    int rc = qhil_lava_pattern(pattern, &out, &why);

    if (rc == QHIL_EUNSUPPORTED) {
        printf("refused: %s\n", why);
        return 3;
    }
    if (rc < 0) {
        fprintf(stderr, "pattern-tool: %s\n", qhil_strerror(rc));
        return 2;
    }
    printf("%s\n", out);
    free(out);
    return 0;
}

static int match(const char *pattern, const char *path, const char *start_s)
{
    unsigned char *data = malloc(TOOL_STREAM_MAX);
    size_t len, start = strtoul(start_s, NULL, 10);
    pcre2_match_data *md = NULL;
    pcre2_code *code;
    PCRE2_SIZE erroff, *ov;
    int errcode, rc;
    FILE *f = fopen(path, "rb");

    if (!f || !data) {
        perror(path);
        free(data);
        if (f) {
            fclose(f);
        }
        return 2;
    }
    len = fread(data, 1, TOOL_STREAM_MAX, f);
    fclose(f);
    if (start > len) {
        fprintf(stderr, "pattern-tool: start past the end\n");
        free(data);
        return 2;
    }
    code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                         PCRE2_MULTILINE, &errcode, &erroff, NULL);
    if (!code) {
        fprintf(stderr, "pattern-tool: PCRE2 error %d at %zu\n", errcode,
                (size_t)erroff);
        free(data);
        return 2;
    }
    md = pcre2_match_data_create_from_pattern(code, NULL);
    rc = pcre2_match(code, data, len, start, PCRE2_PARTIAL_HARD, md, NULL);
    ov = pcre2_get_ovector_pointer(md);
    if (rc >= 0) {
        printf("match %zu %zu\n", (size_t)ov[0], (size_t)ov[1]);
    } else if (rc == PCRE2_ERROR_PARTIAL) {
        printf("partial %zu\n", (size_t)ov[0]);
    } else if (rc == PCRE2_ERROR_NOMATCH) {
        printf("none\n");
    } else {
        fprintf(stderr, "pattern-tool: match error %d\n", rc);
        rc = -1000;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    free(data);
    return rc == -1000 ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "translate")) {
        return translate(argv[2]);
    }
    if (argc == 5 && !strcmp(argv[1], "match")) {
        return match(argv[2], argv[3], argv[4]);
    }
    fprintf(stderr, "usage: pattern-tool translate PATTERN\n"
                    "       pattern-tool match PATTERN FILE START\n");
    return 2;
}
