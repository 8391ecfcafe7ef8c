/*
 * fuzz_report.c - libFuzzer target: JUnit and TAP escaping.
 *
 * The input becomes a test name, a failure message and a console log;
 * the reports are written to /dev/null.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/report.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char log_path[] = "/tmp/qhil-fuzz-log.XXXXXX";
    qhil_test_result t;
    qhil_suite_result r;
    FILE *out;
    int fd;

    fd = mkstemp(log_path);
    if (fd < 0) {
        return 0;
    }
    if (write(fd, data, size) < 0) {
        /* an empty log is a case too */
    }
    close(fd);
    memset(&t, 0, sizeof(t));
    memset(&r, 0, sizeof(r));
    t.name = strndup((const char *)data, size < 64 ? size : 64);
    t.message = strndup((const char *)data, size);
    t.console_tail = strndup((const char *)data, size);
    t.console_log = log_path;
    t.verdict = size % 2 ? QHIL_FAIL : QHIL_ERROR;
    t.step = 1;
    r.name = "fuzz";
    r.file = "fuzz.yaml";
    r.tests = &t;
    r.n_tests = 1;
    out = fopen("/dev/null", "w");
    if (out) {
        qhil_report_write(&r, QHIL_REPORT_JUNIT, out, NULL);
        qhil_report_write(&r, QHIL_REPORT_TAP, out, NULL);
        fclose(out);
    }
    free(t.name);
    free(t.message);
    free(t.console_tail);
    unlink(log_path);
    return 0;
}
