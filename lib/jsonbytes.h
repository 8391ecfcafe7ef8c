/*
 * jsonbytes.h - bytes (guest output, names from files) as JSON strings,
 * and JSON as lines on a file descriptor, for the event and report
 * encoders and the workers' pipes; not installed.
 */
#ifndef QHIL_JSONBYTES_H
#define QHIL_JSONBYTES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * text/len as a new JSON string: valid UTF-8 kept, a NUL kept (jansson
 * writes \u0000), every byte that is not part of a valid sequence (bad
 * lead or continuation, overlong, surrogate, past U+10FFFF, cut short)
 * as U+FFFD, and then *exact is false.  NULL text: JSON null.  NULL when
 * out of memory.
 */
json_t *qhil_json_bytes(const char *text, size_t len, bool *exact);

/*
 * j (taken, may be NULL: ENOMEM) as one line of compact ASCII JSON on
 * fd, written whole (a write(2) loop, never buffered): the JSON Lines
 * of --events and of the workers' pipes.  0, or the errno of the write
 * that failed.
 */
int qhil_json_line_write(int fd, json_t *j);

#endif /* QHIL_JSONBYTES_H */
