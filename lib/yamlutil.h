/*
 * yamlutil.h - small helpers on libyaml's document API; not installed.
 *
 * The board and suite parsers load a whole file into a yaml_document_t and
 * walk its nodes.  Every node keeps the position it started at, so every
 * message these helpers produce reads "FILE:LINE:COL: FIELD: TEXT", with
 * LINE and COL 1-based (libyaml counts from 0).
 *
 * FIELD is the dotted path of the value being checked ("tests[0].steps[1]",
 * "qemu.images.kernel"); an empty or NULL field means the top level and no
 * prefix is written.
 *
 * Node pointers returned here are borrowed from the document: valid until
 * qhil_yaml_release().  Nothing here blocks except reading the input file.
 */
#ifndef QHIL_YAMLUTIL_H
#define QHIL_YAMLUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <yaml.h>

#include <qhil/error.h>

/* Largest YAML file the library reads (a suite or a board template). */
#define QHIL_YAML_MAX_FILE ((size_t)4 << 20)

/*
 * Deepest nesting of mappings and lists a file may have (the root mapping
 * is level 1), and the most values (scalars, mappings and lists) it may
 * hold once aliases are expanded.  Both are checked on the event stream
 * before the document is built: libyaml takes time quadratic in the depth
 * to build deep documents, and aliases repeat values without bound.
 */
#define QHIL_YAML_MAX_DEPTH 64
#define QHIL_YAML_MAX_NODES ((size_t)1 << 20)

/* A loaded document and the name its messages carry. */
typedef struct qhil_yaml {
    yaml_document_t doc;
    char *file;   /* name used in messages; owned */
    int have_doc; /* doc must be deleted on release */
} qhil_yaml;

/*
 * Read path (at most QHIL_YAML_MAX_FILE bytes) and parse its one YAML
 * document into y.  A syntax error becomes
 * "FILE:LINE:COL: YAML syntax error: PROBLEM CONTEXT" with QHIL_ESYNTAX; an
 * empty file or a second document in the stream is an error too, so on
 * success qhil_yaml_root() is never NULL.  Nesting past
 * QHIL_YAML_MAX_DEPTH, more than QHIL_YAML_MAX_NODES values with aliases
 * expanded, and an alias used inside the value it names are refused with
 * QHIL_EINVAL at the offending line and column, before the document is
 * built.  y needs no initialisation and must be released with
 * qhil_yaml_release() whatever the result.
 */
int qhil_yaml_load_file(qhil_yaml *y, const char *path, qhil_error *err);

/* The same from memory; name is used in messages.  data is borrowed for
 * the duration of the call. */
int qhil_yaml_load_buffer(qhil_yaml *y, const char *name, const char *data,
                          size_t len, qhil_error *err);

/* Free the document and the name; y may be half-loaded or NULL. */
void qhil_yaml_release(qhil_yaml *y);

/* The document's root node, or NULL when nothing is loaded. */
yaml_node_t *qhil_yaml_root(qhil_yaml *y);

/* 1-based line and column where node starts; 0 for NULL. */
int qhil_yaml_line(const yaml_node_t *node);
int qhil_yaml_column(const yaml_node_t *node);

/*
 * Record an error located at node (or at the top of the file when node is
 * NULL): "FILE:LINE:COL: FIELD: TEXT".  Returns code.
 */
int qhil_yaml_fail(const qhil_yaml *y, const yaml_node_t *node,
                   const char *field, qhil_error *err, int code,
                   const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* "a mapping", "a list", "a string" or "nothing" (for null); static. */
const char *qhil_yaml_kind(const yaml_node_t *node);

/* True for an empty value, "~" and plain null/Null/NULL. */
int qhil_yaml_is_null(const yaml_node_t *node);

/* True when node is a scalar written without quotes or block style. */
int qhil_yaml_is_plain(const yaml_node_t *node);

/*
 * Text of a scalar node (NUL-terminated; *len, when not NULL, gets the
 * length, which may include NUL bytes written as "\0").  NULL when node is
 * not a scalar.  Borrowed.
 */
const char *qhil_yaml_scalar(const yaml_node_t *node, size_t *len);

/* Number of items of a sequence or pairs of a mapping; 0 otherwise. */
size_t qhil_yaml_count(const yaml_node_t *node);

/* Item i of a sequence, or NULL.  Borrowed. */
yaml_node_t *qhil_yaml_item(qhil_yaml *y, const yaml_node_t *seq, size_t i);

/* Pair i of a mapping into *key and *value; returns 0, or -1 when out of
 * range or not a mapping.  Borrowed. */
int qhil_yaml_pair(qhil_yaml *y, const yaml_node_t *map, size_t i,
                   yaml_node_t **key, yaml_node_t **value);

/* Value of the first pair whose key is the scalar key, or NULL.  Borrowed. */
yaml_node_t *qhil_yaml_get(qhil_yaml *y, const yaml_node_t *map,
                           const char *key);

/*
 * Check that map is a mapping whose keys are all scalars from known
 * (NULL-terminated), with no key given twice.  Errors:
 *   "FIELD: unknown key 'stpes' (known: name, timeout, fail_on, steps)"
 *   "FIELD: duplicate key 'name' (first at line 3)"
 * located at the offending key.  QHIL_EINVAL.
 */
int qhil_yaml_check_keys(qhil_yaml *y, const yaml_node_t *map,
                         const char *field, const char *const *known,
                         qhil_error *err);

/*
 * Check that every key of map is a scalar and none repeats (for mappings
 * whose keys are names the user picks, like images).
 */
int qhil_yaml_check_unique(qhil_yaml *y, const yaml_node_t *map,
                           const char *field, qhil_error *err);

/*
 * Require node to be a mapping (what: the noun for the message, e.g.
 * "a mapping of image names to paths").  QHIL_EINVAL otherwise.
 */
int qhil_yaml_want_mapping(const qhil_yaml *y, const yaml_node_t *node,
                           const char *field, const char *what,
                           qhil_error *err);

/* Require node to be a sequence; see qhil_yaml_want_mapping. */
int qhil_yaml_want_sequence(const qhil_yaml *y, const yaml_node_t *node,
                            const char *field, const char *what,
                            qhil_error *err);

/*
 * Copy a scalar that must be present and non-empty into *out (caller
 * frees).  Null, non-scalars and text with NUL bytes are refused with
 * "FIELD: expected WHAT, got ...".
 */
int qhil_yaml_string(const qhil_yaml *y, const yaml_node_t *node,
                     const char *field, const char *what, char **out,
                     qhil_error *err);

/*
 * A plain true or false (YAML 1.2's spelling, also True/FALSE...) into
 * *out; anything else is "FIELD: expected true or false, got ...".
 */
int qhil_yaml_bool(const qhil_yaml *y, const yaml_node_t *node,
                   const char *field, bool *out, qhil_error *err);

/*
 * Parse a duration scalar ("10s", "250ms") with qhil_duration_parse.
 * Errors are located at node and prefixed with field.
 */
int qhil_yaml_duration(const qhil_yaml *y, const yaml_node_t *node,
                       const char *field, int64_t *ns, qhil_error *err);

/*
 * Convert node to JSON.  Plain scalars resolve as YAML 1.2's core schema:
 * true/false, null/~/empty, decimal, 0x and 0o integers and decimal floats
 * become JSON booleans, null and numbers; anything quoted stays a string.
 * Mappings become objects (keys must be scalars and unique), sequences
 * arrays.  Nesting deeper than 64 or more than 65536 values (alias bombs)
 * is refused, as are integers outside the 64-bit signed range.
 * *out is a new reference; caller frees with json_decref.
 */
int qhil_yaml_to_json(qhil_yaml *y, const yaml_node_t *node,
                      const char *field, json_t **out, qhil_error *err);

/*
 * Split s on blank space (spaces, tabs, newlines) into a NULL-terminated
 * array of words.  *words_out gets malloc'ed words and array (free with
 * qhil_words_free), *n_out the count.  QHIL_ENOMEM on allocation failure.
 */
int qhil_split_words(const char *s, char ***words_out, size_t *n_out);

/* Free a NULL-terminated array of malloc'ed strings; NULL is fine. */
void qhil_words_free(char **words);

/*
 * A variable's name, as board templates, site device dictionaries and
 * suite contexts all spell it: [a-z_][a-z0-9_]*, 1 to 64 long.
 */
bool qhil_name_is_variable(const char *s);

/*
 * Join a dotted field path: "tests[0]" + ".steps" or "[2]".  Returns a
 * malloc'ed string (caller frees) or NULL when out of memory.
 */
char *qhil_field(const char *base, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* QHIL_YAMLUTIL_H */
