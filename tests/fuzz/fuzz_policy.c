/*
 * fuzz_policy.c - libFuzzer target: the policy checks on hostile input.
 *
 * The first byte picks the check (options, machine, cpu, memory, QMP,
 * HMP, or loading the rest as a site file's policy), the rest is its
 * input; for options, words are separated by NUL bytes.  Every refusal
 * of a check must be QHIL_EINVAL with the one message format on one line;
 * anything else aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "yamlutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(int rc, const qhil_error *err)
{
    if (rc == 0) {
        return;
    }
    if (rc == QHIL_ENOMEM) {
        return;
    }
    if (rc != QHIL_EINVAL || !err->message || strchr(err->message, '\n') ||
        !strstr(err->message, "' is not allowed by the strict policy: ")) {
        abort();
    }
}

static void load_site(const char *text, size_t len)
{
    qhil_policy *p = NULL;
    qhil_error err;
    qhil_yaml y;

    qhil_error_init(&err);
    if (qhil_yaml_load_buffer(&y, "site.yaml", text, len, &err) == 0) {
        qhil_policy_load(&y, qhil_yaml_get(&y, qhil_yaml_root(&y), "policy"),
                         "policy", "site.yaml", &p, &err);
    }
    qhil_yaml_release(&y);
    qhil_policy_free(p);
    qhil_error_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qhil_policy *p = NULL;
    unsigned long long mib;
    const char **words;
    qhil_error err;
    json_t *cmd;
    char *text;
    size_t n = 0;
    int rc = 0;

    if (size < 1 || size > 65536) {
        return 0;
    }
    text = malloc(size);
    if (!text) {
        return 0;
    }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] % 7 == 6) {
        load_site(text, size - 1);
        free(text);
        return 0;
    }
    qhil_error_init(&err);
    if (qhil_policy_strict(&p, &err) != 0) {
        abort();
    }
    switch (data[0] % 7) {
    case 0:
        words = calloc(size, sizeof(*words));
        if (!words) {
            break;
        }
        for (size_t i = 0; i < size - 1; i += strlen(text + i) + 1) {
            words[n++] = text + i;
        }
        rc = qhil_policy_check_options(p, words, n, "o", "f", &err);
        free(words);
        break;
    case 1:
        rc = qhil_policy_check_value(p, "machine", text, "o", "f", &err);
        break;
    case 2:
        rc = qhil_policy_check_value(p, "cpu", text, "o", "f", &err);
        break;
    case 3:
        rc = qhil_policy_check_memory(p, text, "o", "f", &mib, &err);
        if (rc == 0 && (mib == 0 || mib > 1024)) {
            abort();
        }
        break;
    case 4:
        cmd = json_loadb(text, size - 1, 0, NULL);
        if (cmd) {
            rc = qhil_policy_check_qmp(p, cmd, "o", "f", &err);
            json_decref(cmd);
        }
        break;
    default:
        rc = qhil_policy_check_hmp(p, text, "o", "f", &err);
        break;
    }
    check_refusal(rc, &err);
    qhil_policy_free(p);
    qhil_error_release(&err);
    free(text);
    return 0;
}
