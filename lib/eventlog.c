/*
 * eventlog.c - a test's kept events on disk, not in memory.
 *
 * With qhil_run_opts.keep_events, the process that owns a test's result
 * (the serial runner, or the pool's parent as it decodes each worker
 * line) appends every event of an attempt to that attempt's folder as it
 * comes:
 *
 *   open    qhil_file_create(DIR/events.jsonl): never a file or symlink
 *           that is already there
 *   put     one event's JSON (qhil_event_to_json), compact, one line,
 *           through a stdio buffer; over QHIL_EVENTLOG_MAX bytes, or
 *           after a failed write, the event is not written and the
 *           caller counts it in events_dropped
 *   close   at the attempt's end
 *
 * The result keeps only the path and how many lines went out
 * (events_log, events_kept), so the harness's memory stays flat however
 * many tests a run has.  The JSON report reads each file back, one test
 * at a time (qhil_eventlog_load): what was written but cannot be read
 * back (the run was killed before a flush, the disk was full, the file
 * was removed or replaced) is counted as dropped, never an error; the
 * reader opens without following a symlink, refuses what is not a
 * regular file (a FIFO would block it), and reads no more lines than
 * were written and no more bytes than the cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventlog.h"
#include "internal.h"

#define LINE_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER)

int qhil_eventlog_open(qhil_eventlog *l, const char *dir, char **path,
                       qhil_error *err)
{
    char *p = NULL;
    int fd = -1;
    int rc;

    memset(l, 0, sizeof(*l));
    *path = NULL;
    if (asprintf(&p, "%s/" QHIL_EVENTLOG_NAME, dir) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = qhil_file_create(p, O_WRONLY, &fd, err);
    if (rc < 0) {
        free(p);
        return rc;
    }
    l->fp = fdopen(fd, "w");
    if (!l->fp) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "%s: %s", p, strerror(errno));
        close(fd);
        unlink(p);
        free(p);
        return rc;
    }
    *path = p;
    return QHIL_EOK;
}

int qhil_eventlog_put(qhil_eventlog *l, const json_t *ev)
{
    char *line;
    size_t len;

    if (!l->fp || !json_is_object(ev)) {
        return QHIL_EINVAL;
    }
    line = json_dumps(ev, LINE_FLAGS);
    if (!line) {
        return QHIL_ENOMEM;
    }
    len = strlen(line) + 1;
    if (len > QHIL_EVENTLOG_MAX - l->bytes) {
        free(line);
        return QHIL_ELIMIT;
    }
    line[len - 1] = '\n'; /* the NUL's place */
    if (fwrite(line, 1, len, l->fp) != len) {
        /* Whatever is half out stays as a cut last line; no more. */
        free(line);
        fclose(l->fp);
        l->fp = NULL;
        return QHIL_EIO;
    }
    free(line);
    l->bytes += len;
    return QHIL_EOK;
}

int qhil_eventlog_close(qhil_eventlog *l)
{
    int rc = QHIL_EOK;

    if (l->fp && fclose(l->fp) != 0) {
        rc = QHIL_EIO;
    }
    l->fp = NULL;
    return rc;
}

/* path for reading: a regular file, no symlink followed, no block. */
static FILE *open_read(const char *path)
{
    struct stat st;
    FILE *fp;
    int fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
                  : -1;

    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        !(fp = fdopen(fd, "r"))) {
        close(fd);
        return NULL;
    }
    return fp;
}

/*
 * The next line of fp as a JSON object (new reference): NULL at the end
 * (*end set), or for a line that is not one.  *budget: bytes still to
 * read.
 */
static json_t *next_event(FILE *fp, char **line, size_t *cap, size_t *budget,
                          bool *end)
{
    ssize_t n = getline(line, cap, fp);
    json_t *j;

    if (n <= 0 || (size_t)n > *budget || (*line)[n - 1] != '\n') {
        *end = true; /* the end, over the cap, or a cut last line */
        return NULL;
    }
    *budget -= (size_t)n;
    j = json_loadb(*line, (size_t)n - 1, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int qhil_eventlog_load(const char *path, size_t expect, json_t **out,
                       size_t *missing)
{
    json_t *a = json_array();
    FILE *fp = expect ? open_read(path) : NULL;
    size_t budget = QHIL_EVENTLOG_MAX;
    char *line = NULL;
    size_t cap = 0;
    size_t got = 0;
    size_t i;
    bool end = false;

    *out = NULL;
    *missing = 0;
    if (!a) {
        if (fp) {
            fclose(fp);
        }
        return QHIL_ENOMEM;
    }
    for (i = 0; fp && !end && i < expect; i++) {
        json_t *j = next_event(fp, &line, &cap, &budget, &end);

        if (j && json_array_append_new(a, j) < 0) {
            free(line);
            fclose(fp);
            json_decref(a);
            return QHIL_ENOMEM;
        }
        got += j != NULL;
    }
    free(line);
    if (fp) {
        fclose(fp);
    }
    *missing = expect - got;
    *out = a;
    return QHIL_EOK;
}

json_t *qhil_eventlog_find(const char *path, size_t expect, const char *kind)
{
    FILE *fp = expect ? open_read(path) : NULL;
    size_t budget = QHIL_EVENTLOG_MAX;
    char *line = NULL;
    size_t cap = 0;
    json_t *found = NULL;
    size_t i;
    bool end = false;

    for (i = 0; fp && !found && !end && i < expect; i++) {
        json_t *j = next_event(fp, &line, &cap, &budget, &end);
        const char *k = json_string_value(json_object_get(j, "kind"));

        if (k && strcmp(k, kind) == 0) {
            found = j;
        } else {
            json_decref(j);
        }
    }
    free(line);
    if (fp) {
        fclose(fp);
    }
    return found;
}
