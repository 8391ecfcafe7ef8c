/*
 * yamlout.h - writing YAML with libyaml's emitter into a buffer, for
 * files other programs read (LAVA's jobs and device configurations);
 * not installed.
 *
 * The calls emit one event each and never fail on their own: the first
 * error (text not UTF-8, out of memory, the buffer's cap) is kept and
 * the rest of the events are dropped, so a writer checks once, at
 * qhil_yamlout_end.
 */
#ifndef QHIL_YAMLOUT_H
#define QHIL_YAMLOUT_H

#include <stdbool.h>
#include <stdint.h>

#include <yaml.h>

#include "internal.h"

typedef struct qhil_yamlout {
    yaml_emitter_t em;
    qhil_buf out;
    bool failed;
} qhil_yamlout;

/* Start a one-document stream into a buffer of at most cap bytes;
 * header (may be NULL) goes first, as it is (comment lines). */
int qhil_yamlout_begin(qhil_yamlout *y, size_t cap, const char *header);

/* End the document and the stream.  On success the text moves to *out
 * (caller releases it); on failure *out is untouched and the reason is
 * returned in *why (static or the emitter's, valid until the next
 * call).  The emitter is released either way. */
int qhil_yamlout_end(qhil_yamlout *y, qhil_buf *out, const char **why);

/* A string: plain when that reads back as the same string under YAML 1.1
 * (what LAVA's loader resolves), quoted otherwise. */
void qhil_yamlout_str(qhil_yamlout *y, const char *s);
/* A plain scalar as it is: null, true, false, a number. */
void qhil_yamlout_plain(qhil_yamlout *y, const char *s);
void qhil_yamlout_int(qhil_yamlout *y, int64_t v);
void qhil_yamlout_kv(qhil_yamlout *y, const char *key, const char *value);
void qhil_yamlout_map(qhil_yamlout *y, bool flow);
void qhil_yamlout_map_end(qhil_yamlout *y);
void qhil_yamlout_seq(qhil_yamlout *y, bool flow);
void qhil_yamlout_seq_end(qhil_yamlout *y);

#endif /* QHIL_YAMLOUT_H */
