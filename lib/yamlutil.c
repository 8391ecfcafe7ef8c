/*
 * yamlutil.c - loading YAML documents and checking their nodes.
 *
 * A load is two passes over the text.  The first reads only libyaml's
 * event stream (yaml_parser_parse) and keeps a stack of the open mappings
 * and lists, at most QHIL_YAML_MAX_DEPTH deep: it stops at the first
 * event past the limit, before anything is built, because libyaml needs
 * time quadratic in the depth to build a deep document (its scanner
 * walks every open level for each token).  The same pass records, for
 * each anchor, how many values and levels the anchored value holds with
 * its own aliases expanded, so an alias is charged for what it stands
 * for: a "billion laughs" file is refused at the alias that goes past
 * QHIL_YAML_MAX_NODES, and an alias inside the value it names (a cycle)
 * at once.  Only then does yaml_parser_load build the document.
 *
 * libyaml's loader builds the whole document as an array of nodes; a
 * node's children are indexes into that array.  Aliases are resolved by
 * pointing at the same node again, so values repeat without being copied;
 * the budget above bounds any walk of the expanded tree, and the one
 * recursive walk here (JSON conversion) has its own tighter budget.
 *
 * Duplicate-key checks use a jansson object as a hash set so that a
 * mapping with many keys costs linear time.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <qhil/clock.h>

#include "internal.h"
#include "yamlutil.h"

/* The load already refuses documents nested deeper than this, so the
 * depth check of the JSON walk is a second line of defence only. */
#define TO_JSON_MAX_DEPTH QHIL_YAML_MAX_DEPTH
#define TO_JSON_MAX_NODES 65536

void qhil_yaml_release(qhil_yaml *y)
{
    if (!y) {
        return;
    }
    if (y->have_doc) {
        yaml_document_delete(&y->doc);
    }
    free(y->file);
    memset(y, 0, sizeof(*y));
}

yaml_node_t *qhil_yaml_root(qhil_yaml *y)
{
    if (!y || !y->have_doc) {
        return NULL;
    }
    return yaml_document_get_root_node(&y->doc);
}

int qhil_yaml_line(const yaml_node_t *node)
{
    return node ? (int)node->start_mark.line + 1 : 0;
}

int qhil_yaml_column(const yaml_node_t *node)
{
    return node ? (int)node->start_mark.column + 1 : 0;
}

int qhil_yaml_fail(const qhil_yaml *y, const yaml_node_t *node,
                   const char *field, qhil_error *err, int code,
                   const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    int n;

    if (!err) {
        return code;
    }
    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        text = NULL;
    }
    qhil_error_set_at(err, code, y ? y->file : NULL, qhil_yaml_line(node),
                      qhil_yaml_column(node), "%s%s%s",
                      field && *field ? field : "",
                      field && *field ? ": " : "",
                      text ? text : qhil_strerror(code));
    free(text);
    return code;
}

/* Turn the parser's error state into a located message. */
static int syntax_error(qhil_yaml *y, const yaml_parser_t *parser,
                        qhil_error *err)
{
    const char *problem = parser->problem ? parser->problem : "unknown error";
    const char *context = parser->context;
    const yaml_mark_t *pm = &parser->problem_mark;
    const yaml_mark_t *cm = &parser->context_mark;

    if (parser->error == YAML_MEMORY_ERROR) {
        return qhil_error_set_at(err, QHIL_ENOMEM, y->file, 0, 0,
                                 "out of memory while parsing YAML");
    }
    if (parser->error == YAML_READER_ERROR) {
        if (parser->problem_value != -1) {
            return qhil_error_set_at(err, QHIL_ESYNTAX, y->file, 0, 0,
                                     "YAML syntax error: %s (#%X) at byte "
                                     "%zu",
                                     problem, (unsigned)parser->problem_value,
                                     parser->problem_offset);
        }
        return qhil_error_set_at(err, QHIL_ESYNTAX, y->file, 0, 0,
                                 "YAML syntax error: %s at byte %zu", problem,
                                 parser->problem_offset);
    }
    if (context && cm->line != pm->line) {
        return qhil_error_set_at(err, QHIL_ESYNTAX, y->file,
                                 (int)pm->line + 1, (int)pm->column + 1,
                                 "YAML syntax error: %s %s (started at line "
                                 "%d)",
                                 problem, context, (int)cm->line + 1);
    }
    return qhil_error_set_at(err, QHIL_ESYNTAX, y->file, (int)pm->line + 1,
                             (int)pm->column + 1, "YAML syntax error: %s%s%s",
                             problem, context ? " " : "",
                             context ? context : "");
}

/* ---- the stream scan before loading ---- */

/*
 * One open collection in the scan: its anchor (owned, NULL when it has
 * none), the values it holds so far with aliases expanded, and the most
 * levels any of its children has.
 */
typedef struct scan_frame {
    char *anchor;
    size_t nodes;
    int levels;
} scan_frame;

typedef struct scan_ctx {
    qhil_yaml *y;
    qhil_error *err;
    scan_frame stack[QHIL_YAML_MAX_DEPTH];
    int depth;     /* open collections */
    size_t total;  /* values so far, aliases expanded */
    json_t *sizes; /* anchor -> [nodes, levels] of finished anchored nodes */
} scan_ctx;

static int scan_fail(scan_ctx *c, const yaml_mark_t *mark, int code,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int scan_fail(scan_ctx *c, const yaml_mark_t *mark, int code,
                     const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        text = NULL;
    }
    qhil_error_set_at(c->err, code, c->y->file, (int)mark->line + 1,
                      (int)mark->column + 1, "%s",
                      text ? text : qhil_strerror(code));
    free(text);
    return code;
}

/* A finished value of nodes values and levels levels joins its parent. */
static int scan_add(scan_ctx *c, size_t nodes, int levels,
                    const char *anchor)
{
    scan_frame *parent = c->depth ? &c->stack[c->depth - 1] : NULL;
    json_t *size;

    if (parent) {
        parent->nodes += nodes;
        if (levels > parent->levels) {
            parent->levels = levels;
        }
    }
    if (anchor) {
        size = json_pack("[I,i]", (json_int_t)nodes, levels);
        if (!size || json_object_set_new(c->sizes, anchor, size) < 0) {
            return qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
        }
    }
    return QHIL_EOK;
}

/* Count n more values in the document, aliases expanded. */
static int scan_count(scan_ctx *c, const yaml_mark_t *mark, size_t n)
{
    if (n > QHIL_YAML_MAX_NODES - c->total) {
        return scan_fail(c, mark, QHIL_EINVAL,
                         "more than %zu YAML values once aliases are "
                         "expanded (the limit for one file)",
                         QHIL_YAML_MAX_NODES);
    }
    c->total += n;
    return QHIL_EOK;
}

static int scan_open(scan_ctx *c, const yaml_event_t *ev,
                     const yaml_char_t *anchor)
{
    scan_frame *f;

    if (c->depth == QHIL_YAML_MAX_DEPTH) {
        return scan_fail(c, &ev->start_mark, QHIL_EINVAL,
                         "YAML nested deeper than %d levels (the limit for "
                         "qhil's files)",
                         QHIL_YAML_MAX_DEPTH);
    }
    f = &c->stack[c->depth];
    memset(f, 0, sizeof(*f));
    if (anchor) {
        f->anchor = strdup((const char *)anchor);
        if (!f->anchor) {
            return qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
        }
    }
    f->nodes = 1;
    c->depth++;
    return scan_count(c, &ev->start_mark, 1);
}

static int scan_close(scan_ctx *c)
{
    scan_frame f;
    int rc;

    if (!c->depth) {
        return QHIL_EOK; /* the parser never sends an unmatched end */
    }
    f = c->stack[--c->depth];
    rc = scan_add(c, f.nodes, f.levels + 1, f.anchor);
    free(f.anchor);
    return rc;
}

static int scan_alias(scan_ctx *c, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    json_t *size = json_object_get(c->sizes, name);
    size_t nodes;
    int levels;
    int rc;
    int i;

    if (!size) {
        for (i = 0; i < c->depth; i++) {
            if (c->stack[i].anchor && !strcmp(c->stack[i].anchor, name)) {
                return scan_fail(c, &ev->start_mark, QHIL_EINVAL,
                                 "alias *%s is used inside the value it "
                                 "names (a cycle)",
                                 name);
            }
        }
        /* Undefined: the loader reports it. */
        return scan_count(c, &ev->start_mark, 1);
    }
    nodes = (size_t)json_integer_value(json_array_get(size, 0));
    levels = (int)json_integer_value(json_array_get(size, 1));
    if (c->depth + levels > QHIL_YAML_MAX_DEPTH) {
        return scan_fail(c, &ev->start_mark, QHIL_EINVAL,
                         "alias *%s nests the YAML deeper than %d levels "
                         "(the limit for qhil's files)",
                         name, QHIL_YAML_MAX_DEPTH);
    }
    rc = scan_count(c, &ev->start_mark, nodes);
    if (rc < 0) {
        return rc;
    }
    return scan_add(c, nodes, levels, NULL);
}

/*
 * Walk the event stream of data once, before anything is built: refuse
 * nesting deeper than QHIL_YAML_MAX_DEPTH at the first event past it,
 * more than QHIL_YAML_MAX_NODES values with aliases expanded, an alias
 * inside the value it names, and a second document.  Syntax errors come
 * out here too, located as the loader would locate them.
 */
static int scan_stream(qhil_yaml *y, const char *data, size_t len,
                       qhil_error *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    scan_ctx c;
    int parser_ready = 0;
    int documents = 0;
    int done = 0;
    int rc = QHIL_EOK;

    memset(&c, 0, sizeof(c));
    c.y = y;
    c.err = err;
    c.sizes = json_object();
    if (!c.sizes || !yaml_parser_initialize(&parser)) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    parser_ready = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (rc == QHIL_EOK && !done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(y, &parser, err);
            break;
        }
        if (documents > 1 && ev.type != YAML_DOCUMENT_START_EVENT) {
            rc = scan_fail(&c, &ev.start_mark, QHIL_ESYNTAX,
                           "a second YAML document starts here; put "
                           "everything in one document");
            yaml_event_delete(&ev);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            documents++;
            break;
        case YAML_SCALAR_EVENT:
            rc = scan_count(&c, &ev.start_mark, 1);
            if (rc == QHIL_EOK) {
                rc = scan_add(&c, 1, 0, (const char *)ev.data.scalar.anchor);
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = scan_open(&c, &ev, ev.data.sequence_start.anchor);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = scan_open(&c, &ev, ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = scan_close(&c);
            break;
        case YAML_ALIAS_EVENT:
            rc = scan_alias(&c, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }

cleanup:
    while (c.depth > 0) {
        free(c.stack[--c.depth].anchor);
    }
    json_decref(c.sizes);
    if (parser_ready) {
        yaml_parser_delete(&parser);
    }
    return rc;
}

int qhil_yaml_load_buffer(qhil_yaml *y, const char *name, const char *data,
                          size_t len, qhil_error *err)
{
    yaml_parser_t parser;
    int parser_ready = 0;
    int rc = QHIL_EOK;

    memset(y, 0, sizeof(*y));
    y->file = strdup(name ? name : "<input>");
    if (!y->file) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    if (!data) {
        data = "";
        len = 0;
    }
    rc = scan_stream(y, data, len, err);
    if (rc < 0) {
        goto cleanup;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    parser_ready = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &y->doc)) {
        rc = syntax_error(y, &parser, err);
        goto cleanup;
    }
    y->have_doc = 1;
    if (!yaml_document_get_root_node(&y->doc)) {
        rc = qhil_error_set_at(err, QHIL_ESYNTAX, y->file, 0, 0,
                               "empty document, expected a mapping");
        goto cleanup;
    }

cleanup:
    if (parser_ready) {
        yaml_parser_delete(&parser);
    }
    return rc;
}

int qhil_yaml_load_file(qhil_yaml *y, const char *path, qhil_error *err)
{
    qhil_buf buf;
    FILE *fp = NULL;
    size_t want;
    size_t n;
    int rc = QHIL_EOK;

    memset(y, 0, sizeof(*y));
    qhil_buf_init(&buf, QHIL_YAML_MAX_FILE);
    fp = fopen(path, "rbe");
    if (!fp) {
        rc = -errno;
        rc = qhil_error_set(err, rc, "%s: cannot open: %s", path,
                            strerror(-rc));
        goto cleanup;
    }
    for (;;) {
        if (buf.len == buf.max) {
            if (fgetc(fp) != EOF) {
                rc = qhil_error_set(err, QHIL_ETOOBIG,
                                    "%s: file is larger than %zu MiB", path,
                                    QHIL_YAML_MAX_FILE >> 20);
                goto cleanup;
            }
            break;
        }
        want = buf.max - buf.len < 65536 ? buf.max - buf.len : 65536;
        rc = qhil_buf_reserve(&buf, want);
        if (rc < 0) {
            rc = qhil_error_set(err, rc, "out of memory");
            goto cleanup;
        }
        n = fread(buf.data + buf.len, 1, want, fp);
        buf.len += n;
        buf.data[buf.len] = '\0';
        if (n < want) {
            break;
        }
    }
    if (ferror(fp)) {
        rc = qhil_error_set(err, QHIL_EIO, "%s: cannot read: %s", path,
                            strerror(errno));
        goto cleanup;
    }
    rc = qhil_yaml_load_buffer(y, path, buf.data ? buf.data : "", buf.len,
                               err);

cleanup:
    if (fp) {
        fclose(fp);
    }
    qhil_buf_release(&buf);
    return rc;
}

const char *qhil_yaml_kind(const yaml_node_t *node)
{
    if (!node || qhil_yaml_is_null(node)) {
        return "nothing";
    }
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        return "a string";
    default:
        return "nothing";
    }
}

int qhil_yaml_is_plain(const yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE &&
           (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
            node->data.scalar.style == YAML_ANY_SCALAR_STYLE);
}

int qhil_yaml_is_null(const yaml_node_t *node)
{
    const char *s;

    if (!qhil_yaml_is_plain(node)) {
        return 0;
    }
    s = (const char *)node->data.scalar.value;
    return node->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
           strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

const char *qhil_yaml_scalar(const yaml_node_t *node, size_t *len)
{
    if (!node || node->type != YAML_SCALAR_NODE) {
        return NULL;
    }
    if (len) {
        *len = node->data.scalar.length;
    }
    return (const char *)node->data.scalar.value;
}

size_t qhil_yaml_count(const yaml_node_t *node)
{
    if (!node) {
        return 0;
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        return (size_t)(node->data.sequence.items.top -
                        node->data.sequence.items.start);
    }
    if (node->type == YAML_MAPPING_NODE) {
        return (size_t)(node->data.mapping.pairs.top -
                        node->data.mapping.pairs.start);
    }
    return 0;
}

yaml_node_t *qhil_yaml_item(qhil_yaml *y, const yaml_node_t *seq, size_t i)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE ||
        i >= qhil_yaml_count(seq)) {
        return NULL;
    }
    return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

int qhil_yaml_pair(qhil_yaml *y, const yaml_node_t *map, size_t i,
                   yaml_node_t **key, yaml_node_t **value)
{
    const yaml_node_pair_t *p;

    if (!map || map->type != YAML_MAPPING_NODE || i >= qhil_yaml_count(map)) {
        return -1;
    }
    p = &map->data.mapping.pairs.start[i];
    *key = yaml_document_get_node(&y->doc, p->key);
    *value = yaml_document_get_node(&y->doc, p->value);
    return (*key && *value) ? 0 : -1;
}

yaml_node_t *qhil_yaml_get(qhil_yaml *y, const yaml_node_t *map,
                           const char *key)
{
    size_t i;
    size_t n = qhil_yaml_count(map);
    yaml_node_t *k;
    yaml_node_t *v;

    if (!map || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (qhil_yaml_pair(y, map, i, &k, &v) < 0) {
            continue;
        }
        if (k->type == YAML_SCALAR_NODE &&
            strlen((const char *)k->data.scalar.value) ==
                k->data.scalar.length &&
            strcmp((const char *)k->data.scalar.value, key) == 0) {
            return v;
        }
    }
    return NULL;
}

int qhil_yaml_want_mapping(const qhil_yaml *y, const yaml_node_t *node,
                           const char *field, const char *what,
                           qhil_error *err)
{
    if (node && node->type == YAML_MAPPING_NODE) {
        return QHIL_EOK;
    }
    return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                          "expected %s, got %s", what, qhil_yaml_kind(node));
}

int qhil_yaml_want_sequence(const qhil_yaml *y, const yaml_node_t *node,
                            const char *field, const char *what,
                            qhil_error *err)
{
    if (node && node->type == YAML_SEQUENCE_NODE) {
        return QHIL_EOK;
    }
    return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                          "expected %s, got %s", what, qhil_yaml_kind(node));
}

/*
 * Shared walk of check_keys and check_unique: every key a scalar without
 * NUL bytes, none repeated, and (when known is not NULL) each one listed.
 */
static int check_keys(qhil_yaml *y, const yaml_node_t *map,
                      const char *field, const char *const *known,
                      qhil_error *err)
{
    json_t *seen = NULL;
    qhil_buf list;
    size_t i;
    size_t j;
    size_t n = qhil_yaml_count(map);
    yaml_node_t *k;
    yaml_node_t *v;
    const char *name;
    size_t len;
    json_t *first;
    int rc = QHIL_EOK;

    qhil_buf_init(&list, 4096);
    rc = qhil_yaml_want_mapping(y, map, field, "a mapping", err);
    if (rc < 0) {
        goto cleanup;
    }
    seen = json_object();
    if (!seen) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n; i++) {
        if (qhil_yaml_pair(y, map, i, &k, &v) < 0) {
            continue;
        }
        name = qhil_yaml_scalar(k, &len);
        if (!name || qhil_yaml_is_null(k) || strlen(name) != len) {
            rc = qhil_yaml_fail(y, k, field, err, QHIL_EINVAL,
                                "keys must be names, got %s",
                                qhil_yaml_kind(k));
            goto cleanup;
        }
        if (known) {
            for (j = 0; known[j]; j++) {
                if (strcmp(known[j], name) == 0) {
                    break;
                }
            }
            if (!known[j]) {
                for (j = 0; known[j]; j++) {
                    if (qhil_buf_printf(&list, "%s%s", j ? ", " : "",
                                        known[j]) < 0) {
                        break;
                    }
                }
                rc = qhil_yaml_fail(y, k, field, err, QHIL_EINVAL,
                                    "unknown key '%s' (known: %s)", name,
                                    list.data ? list.data : "");
                goto cleanup;
            }
        }
        first = json_object_get(seen, name);
        if (first) {
            rc = qhil_yaml_fail(y, k, field, err, QHIL_EINVAL,
                                "duplicate key '%s' (first at line %d)", name,
                                (int)json_integer_value(first));
            goto cleanup;
        }
        if (json_object_set_new(seen, name,
                                json_integer(qhil_yaml_line(k))) < 0) {
            /* Invalid UTF-8 cannot reach here (libyaml checks input);
             * the remaining cause is memory. */
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
    }

cleanup:
    json_decref(seen);
    qhil_buf_release(&list);
    return rc;
}

int qhil_yaml_check_keys(qhil_yaml *y, const yaml_node_t *map,
                         const char *field, const char *const *known,
                         qhil_error *err)
{
    return check_keys(y, map, field, known, err);
}

int qhil_yaml_check_unique(qhil_yaml *y, const yaml_node_t *map,
                           const char *field, qhil_error *err)
{
    return check_keys(y, map, field, NULL, err);
}

int qhil_yaml_string(const qhil_yaml *y, const yaml_node_t *node,
                     const char *field, const char *what, char **out,
                     qhil_error *err)
{
    const char *s;
    size_t len;

    *out = NULL;
    if (!node || node->type != YAML_SCALAR_NODE || qhil_yaml_is_null(node)) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "expected %s, got %s", what,
                              qhil_yaml_kind(node));
    }
    s = qhil_yaml_scalar(node, &len);
    if (len == 0) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "expected %s, got an empty string", what);
    }
    if (strlen(s) != len) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "expected %s, got text with a NUL byte", what);
    }
    *out = strdup(s);
    if (!*out) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    return QHIL_EOK;
}

int qhil_yaml_duration(const qhil_yaml *y, const yaml_node_t *node,
                       const char *field, int64_t *ns, qhil_error *err)
{
    qhil_error local;
    const char *s;
    size_t len;
    int rc;

    if (!node || node->type != YAML_SCALAR_NODE || qhil_yaml_is_null(node)) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "expected a duration such as 10s or 500ms, "
                              "got %s",
                              qhil_yaml_kind(node));
    }
    s = qhil_yaml_scalar(node, &len);
    if (strlen(s) != len) {
        return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                              "expected a duration, got text with a NUL "
                              "byte");
    }
    qhil_error_init(&local);
    rc = qhil_duration_parse(s, ns, &local);
    if (rc < 0) {
        rc = qhil_yaml_fail(y, node, field, err, rc, "%s",
                            qhil_error_message(&local, rc));
    }
    qhil_error_release(&local);
    return rc;
}

/* ---- YAML to JSON ---- */

typedef struct to_json_ctx {
    qhil_yaml *y;
    qhil_error *err;
    size_t nodes;
} to_json_ctx;

static int all_chars(const char *s, const char *set)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!strchr(set, *s)) {
            return 0;
        }
    }
    return 1;
}

/* YAML 1.2 core float: [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? )
 *                      ( [eE] [-+]? [0-9]+ )? */
static int looks_float(const char *s)
{
    int digits = 0;

    if (*s == '-' || *s == '+') {
        s++;
    }
    while (isdigit((unsigned char)*s)) {
        s++;
        digits++;
    }
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            s++;
            digits++;
        }
    }
    if (!digits) {
        return 0;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') {
            s++;
        }
        if (!isdigit((unsigned char)*s)) {
            return 0;
        }
        while (isdigit((unsigned char)*s)) {
            s++;
        }
    }
    return *s == '\0';
}

/* Resolve a plain scalar; *out NULL with rc 0 means "keep as string". */
static int plain_to_json(to_json_ctx *c, const yaml_node_t *node,
                         const char *field, const char *s, json_t **out)
{
    const char *digits = s;
    unsigned long long u;
    long long v;
    double d;
    char *end = NULL;

    *out = NULL;
    if (qhil_yaml_is_null(node)) {
        *out = json_null();
        return QHIL_EOK;
    }
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = json_true();
        return QHIL_EOK;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = json_false();
        return QHIL_EOK;
    }
    if (*digits == '-' || *digits == '+') {
        digits++;
    }
    if (all_chars(digits, "0123456789")) {
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE) {
            return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                                  "integer %s is out of the 64-bit range "
                                  "(quote it to send a string)",
                                  s);
        }
        *out = json_integer(v);
        return *out ? QHIL_EOK : QHIL_ENOMEM;
    }
    if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) &&
        all_chars(s + 2, s[1] == 'x' ? "0123456789abcdefABCDEF"
                                     : "01234567")) {
        errno = 0;
        u = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
        if (errno == ERANGE || u > (unsigned long long)INT64_MAX) {
            return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                                  "integer %s is out of the 64-bit signed "
                                  "range JSON carries here",
                                  s);
        }
        *out = json_integer((json_int_t)u);
        return *out ? QHIL_EOK : QHIL_ENOMEM;
    }
    if (looks_float(s)) {
        errno = 0;
        d = strtod(s, &end);
        if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
            return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                                  "number %s is out of range", s);
        }
        *out = json_real(d);
        return *out ? QHIL_EOK : QHIL_ENOMEM;
    }
    return QHIL_EOK;
}

static int node_to_json(to_json_ctx *c, const yaml_node_t *node,
                        const char *field, int depth, json_t **out);

static int mapping_to_json(to_json_ctx *c, const yaml_node_t *node,
                           const char *field, int depth, json_t **out)
{
    json_t *obj = json_object();
    json_t *child = NULL;
    yaml_node_t *k;
    yaml_node_t *v;
    const char *key;
    char *sub = NULL;
    size_t len;
    size_t i;
    int rc = QHIL_EOK;

    if (!obj) {
        return qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < qhil_yaml_count(node); i++) {
        if (qhil_yaml_pair(c->y, node, i, &k, &v) < 0) {
            continue;
        }
        key = qhil_yaml_scalar(k, &len);
        if (!key || strlen(key) != len) {
            rc = qhil_yaml_fail(c->y, k, field, c->err, QHIL_EINVAL,
                                "JSON object keys must be strings, got %s",
                                key ? "text with a NUL byte"
                                    : qhil_yaml_kind(k));
            goto cleanup;
        }
        if (json_object_get(obj, key)) {
            rc = qhil_yaml_fail(c->y, k, field, c->err, QHIL_EINVAL,
                                "duplicate key '%s'", key);
            goto cleanup;
        }
        free(sub);
        sub = qhil_field(field, ".%s", key);
        if (!sub) {
            rc = qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        rc = node_to_json(c, v, sub, depth + 1, &child);
        if (rc < 0) {
            goto cleanup;
        }
        if (json_object_set_new(obj, key, child) < 0) {
            child = NULL;
            rc = qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        child = NULL;
    }
    *out = obj;
    obj = NULL;

cleanup:
    free(sub);
    json_decref(obj);
    return rc;
}

static int sequence_to_json(to_json_ctx *c, const yaml_node_t *node,
                            const char *field, int depth, json_t **out)
{
    json_t *arr = json_array();
    json_t *child = NULL;
    char *sub = NULL;
    size_t i;
    int rc = QHIL_EOK;

    if (!arr) {
        return qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < qhil_yaml_count(node); i++) {
        free(sub);
        sub = qhil_field(field, "[%zu]", i);
        if (!sub) {
            rc = qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
        rc = node_to_json(c, qhil_yaml_item(c->y, node, i), sub, depth + 1,
                          &child);
        if (rc < 0) {
            goto cleanup;
        }
        if (json_array_append_new(arr, child) < 0) {
            rc = qhil_error_set(c->err, QHIL_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    *out = arr;
    arr = NULL;

cleanup:
    free(sub);
    json_decref(arr);
    return rc;
}

static int node_to_json(to_json_ctx *c, const yaml_node_t *node,
                        const char *field, int depth, json_t **out)
{
    const char *s;
    size_t len;
    int rc;

    *out = NULL;
    if (!node) {
        return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                              "missing value");
    }
    if (depth > TO_JSON_MAX_DEPTH) {
        return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                              "nested deeper than %d levels (an alias "
                              "that contains itself?)",
                              TO_JSON_MAX_DEPTH);
    }
    if (++c->nodes > TO_JSON_MAX_NODES) {
        return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                              "more than %d values (aliases repeated too "
                              "often?)",
                              TO_JSON_MAX_NODES);
    }
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return mapping_to_json(c, node, field, depth, out);
    case YAML_SEQUENCE_NODE:
        return sequence_to_json(c, node, field, depth, out);
    case YAML_SCALAR_NODE:
        s = qhil_yaml_scalar(node, &len);
        if (qhil_yaml_is_plain(node)) {
            rc = plain_to_json(c, node, field, s, out);
            if (rc < 0 || *out) {
                if (rc == QHIL_ENOMEM) {
                    qhil_error_set(c->err, rc, "out of memory");
                }
                return rc;
            }
        }
        *out = json_stringn(s, len);
        if (!*out) {
            return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                                  "text is not valid UTF-8");
        }
        return QHIL_EOK;
    default:
        return qhil_yaml_fail(c->y, node, field, c->err, QHIL_EINVAL,
                              "empty node");
    }
}

int qhil_yaml_to_json(qhil_yaml *y, const yaml_node_t *node,
                      const char *field, json_t **out, qhil_error *err)
{
    to_json_ctx c = {y, err, 0};

    return node_to_json(&c, node, field, 0, out);
}

/* ---- words and field paths ---- */

void qhil_words_free(char **words)
{
    size_t i;

    if (!words) {
        return;
    }
    for (i = 0; words[i]; i++) {
        free(words[i]);
    }
    free(words);
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
           ch == '\v' || ch == '\f';
}

int qhil_split_words(const char *s, char ***words_out, size_t *n_out)
{
    char **words = NULL;
    char **grown;
    size_t n = 0;
    size_t cap = 0;
    const char *start;
    int rc = QHIL_EOK;

    *words_out = NULL;
    *n_out = 0;
    words = calloc(1, sizeof(*words));
    if (!words) {
        return QHIL_ENOMEM;
    }
    cap = 1;
    while (*s) {
        while (is_blank(*s)) {
            s++;
        }
        if (!*s) {
            break;
        }
        start = s;
        while (*s && !is_blank(*s)) {
            s++;
        }
        if (n + 1 >= cap) {
            grown = realloc(words, cap * 2 * sizeof(*words));
            if (!grown) {
                rc = QHIL_ENOMEM;
                goto cleanup;
            }
            words = grown;
            cap *= 2;
        }
        words[n] = strndup(start, (size_t)(s - start));
        if (!words[n]) {
            rc = QHIL_ENOMEM;
            goto cleanup;
        }
        words[++n] = NULL;
    }
    *words_out = words;
    *n_out = n;
    words = NULL;

cleanup:
    qhil_words_free(words);
    return rc;
}

char *qhil_field(const char *base, const char *fmt, ...)
{
    char *tail = NULL;
    char *out = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&tail, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return NULL;
    }
    if (!base || !*base) {
        if (tail[0] == '.') {
            out = strdup(tail + 1);
            free(tail);
            return out;
        }
        return tail;
    }
    if (asprintf(&out, "%s%s", base, tail) < 0) {
        out = NULL;
    }
    free(tail);
    return out;
}

int qhil_yaml_bool(const qhil_yaml *y, const yaml_node_t *node,
                   const char *field, bool *out, qhil_error *err)
{
    const char *text = qhil_yaml_scalar(node, NULL);

    if (text && qhil_yaml_is_plain(node)) {
        if (!strcasecmp(text, "true")) {
            *out = true;
            return QHIL_EOK;
        }
        if (!strcasecmp(text, "false")) {
            *out = false;
            return QHIL_EOK;
        }
    }
    return qhil_yaml_fail(y, node, field, err, QHIL_EINVAL,
                          "expected true or false, got %s%s%s",
                          text ? "'" : "", text ? text : qhil_yaml_kind(node),
                          text ? "'" : "");
}

bool qhil_name_is_variable(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
              (i && s[i] >= '0' && s[i] <= '9'))) {
            return false;
        }
    }
    return i > 0 && i <= 64;
}
