/*
 * fuzz_suite.c - libFuzzer target: suite YAML parsing and validation.
 */
#include <stddef.h>
#include <stdint.h>

#include <qhil/suite.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qhil_suite *suite = NULL;
    qhil_error err;

    qhil_error_init(&err);
    qhil_suite_load_buffer("fuzz.yaml", (const char *)data, size, &suite,
                           &err);
    qhil_suite_free(suite);
    qhil_error_release(&err);
    return 0;
}
