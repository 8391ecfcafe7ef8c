/*
 * yamlout.c - YAML text from events, with libyaml's emitter (yamlout.h).
 *
 * libyaml quotes what needs quoting for YAML itself; what it cannot know
 * is how a reader resolves a plain scalar.  LAVA loads its files with
 * PyYAML's YAML 1.1 resolver, where "on", "no", "1e3" or "12:30" are not
 * strings, so every string that could read back as a bool, null, number
 * or date is written quoted (looks_typed; erring towards quotes is
 * harmless).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "yamlout.h"

static int out_write(void *data, unsigned char *buffer, size_t size)
{
    qhil_yamlout *y = data;

    return qhil_buf_append(&y->out, buffer, size) == 0;
}

static void emit(qhil_yamlout *y, yaml_event_t *ev, int made)
{
    if (!made) {
        y->failed = true; /* not UTF-8, or out of memory */
        return;
    }
    if (y->failed) {
        yaml_event_delete(ev);
        return;
    }
    if (!yaml_emitter_emit(&y->em, ev)) {
        y->failed = true;
    }
}

int qhil_yamlout_begin(qhil_yamlout *y, size_t cap, const char *header)
{
    yaml_event_t ev;

    memset(y, 0, sizeof(*y));
    qhil_buf_init(&y->out, cap);
    if (!yaml_emitter_initialize(&y->em)) {
        return QHIL_ENOMEM;
    }
    yaml_emitter_set_output(&y->em, out_write, y);
    yaml_emitter_set_unicode(&y->em, 1);
    yaml_emitter_set_width(&y->em, 78);
    /* Nothing reaches the buffer before the first flush: the header
     * comes first. */
    if (header && qhil_buf_puts(&y->out, header) < 0) {
        y->failed = true;
    }
    emit(y, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    emit(y, &ev,
         yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    return QHIL_EOK;
}

int qhil_yamlout_end(qhil_yamlout *y, qhil_buf *out, const char **why)
{
    yaml_event_t ev;

    emit(y, &ev, yaml_document_end_event_initialize(&ev, 1));
    emit(y, &ev, yaml_stream_end_event_initialize(&ev));
    if (!y->failed && !yaml_emitter_flush(&y->em)) {
        y->failed = true;
    }
    if (y->failed) {
        *why = y->em.problem ? y->em.problem
                             : "a text is not UTF-8, or the file is over "
                               "its size limit";
        yaml_emitter_delete(&y->em);
        qhil_buf_release(&y->out);
        return QHIL_EINVAL;
    }
    yaml_emitter_delete(&y->em);
    *out = y->out;
    memset(&y->out, 0, sizeof(y->out));
    return QHIL_EOK;
}

/*
 * Whether a plain s could read back as something other than a string
 * under YAML 1.1: empty, a number or date (only digits and
 * "+-._:eExXoObB"), a bool or null word, or "<<", "=".
 */
static bool looks_typed(const char *s)
{
    static const char *const words[] = {
        "y",   "n",    "yes", "no", "true", "false", "on",
        "off", "null", "~",   "<<", "=",    ".inf",  ".nan",
    };
    size_t i;

    if (!*s || !s[strspn(s, "0123456789+-._:eExXoObB")]) {
        return true;
    }
    for (i = 0; i < QHIL_ARRAY_SIZE(words); i++) {
        if (strcasecmp(s, words[i]) == 0) {
            return true;
        }
    }
    return false;
}

void qhil_yamlout_str(qhil_yamlout *y, const char *s)
{
    yaml_event_t ev;
    int plain = !looks_typed(s);

    emit(y, &ev,
         yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)YAML_STR_TAG,
                                      (yaml_char_t *)s, -1, plain, 1,
                                      YAML_ANY_SCALAR_STYLE));
}

void qhil_yamlout_plain(qhil_yamlout *y, const char *s)
{
    yaml_event_t ev;

    emit(y, &ev,
         yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, -1, 1,
                                      0, YAML_PLAIN_SCALAR_STYLE));
}

void qhil_yamlout_int(qhil_yamlout *y, int64_t v)
{
    char num[24];

    snprintf(num, sizeof(num), "%lld", (long long)v);
    qhil_yamlout_plain(y, num);
}

void qhil_yamlout_kv(qhil_yamlout *y, const char *key, const char *value)
{
    qhil_yamlout_str(y, key);
    qhil_yamlout_str(y, value);
}

void qhil_yamlout_map(qhil_yamlout *y, bool flow)
{
    yaml_event_t ev;

    emit(y, &ev,
         yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                             flow ? YAML_FLOW_MAPPING_STYLE
                                                  : YAML_BLOCK_MAPPING_STYLE));
}

void qhil_yamlout_map_end(qhil_yamlout *y)
{
    yaml_event_t ev;

    emit(y, &ev, yaml_mapping_end_event_initialize(&ev));
}

void qhil_yamlout_seq(qhil_yamlout *y, bool flow)
{
    yaml_event_t ev;

    emit(y, &ev,
         yaml_sequence_start_event_initialize(
             &ev, NULL, NULL, 1,
             flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

void qhil_yamlout_seq_end(qhil_yamlout *y)
{
    yaml_event_t ev;

    emit(y, &ev, yaml_sequence_end_event_initialize(&ev));
}
