/*
 * result.c - a test's result as the fold of its events (qhil/result.h).
 *
 * State, kept in r->fold:
 *
 *   (zero) --test_start--> STARTED --test_end / abort--> ENDED
 *
 * An event before test_start is applied as if the start had come (a
 * reader of a stream cut at its head still gets what there is); every
 * event after ENDED is ignored.  HAS_REASON says the result's reason
 * (verdict, step, message) was set by a failure: the first failure sets
 * it, a later one replaces it only when it is a cause (event.h).
 *
 * Steps are looked up from the end: step_end and failures almost always
 * name the last step that started, so the fold costs O(1) per event.
 */
#include <stdlib.h>
#include <string.h>

#include <qhil/result.h>

#include "internal.h"

#define FOLD_STARTED 1u
#define FOLD_ENDED 2u
#define FOLD_HAS_REASON 4u

/* A copy of len bytes of text, at most QHIL_RESULT_TEXT_MAX, NUL-ended;
 * NULL for no text or no memory (*oom says which). */
static char *text_copy(const char *text, size_t len, bool *oom)
{
    char *s;

    *oom = false;
    if (!text) {
        return NULL;
    }
    if (len > QHIL_RESULT_TEXT_MAX) {
        len = QHIL_RESULT_TEXT_MAX;
    }
    s = malloc(len + 1);
    if (!s) {
        *oom = true;
        return NULL;
    }
    memcpy(s, text, len);
    s[len] = '\0';
    return s;
}

/* Room for one more item in *items (n used, cap items at most): grows
 * by doubling.  -1 when over max or out of memory. */
static int grow(void **items, size_t n, size_t *room, size_t size, size_t max)
{
    size_t want;
    void *p;

    if (n < *room) {
        return 0;
    }
    if (n >= max) {
        return -1;
    }
    want = *room ? 2 * *room : 8;
    if (want > max) {
        want = max;
    }
    p = realloc(*items, want * size);
    if (!p) {
        return -1;
    }
    *items = p;
    *room = want;
    return 0;
}

/* The capacity of a list is not stored: it is the smallest power of two
 * from 8 (or the cap) at or above n, which is what grow() made. */
static size_t room_of(size_t n, size_t max)
{
    size_t room = 8;

    if (n == 0) {
        return 0;
    }
    while (room < n) {
        room *= 2;
    }
    return room > max ? max : room;
}

/* The last step entry with index step, NULL if none. */
static qhil_step_time *step_find(qhil_test_result *r, size_t step)
{
    size_t i = r->n_steps;

    while (i > 0) {
        if (r->steps[--i].step == step) {
            return &r->steps[i];
        }
    }
    return NULL;
}

static int step_add(qhil_test_result *r, const qhil_event *ev, qhil_error *err)
{
    size_t room = room_of(r->n_steps, QHIL_RESULT_STEPS_MAX);
    qhil_step_time *st;
    bool oom;

    if (grow((void **)&r->steps, r->n_steps, &room, sizeof(*r->steps),
             QHIL_RESULT_STEPS_MAX) < 0) {
        r->steps_dropped++;
        return r->n_steps >= QHIL_RESULT_STEPS_MAX
                   ? QHIL_EOK
                   : qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    st = &r->steps[r->n_steps++];
    memset(st, 0, sizeof(*st));
    st->step = ev->step;
    st->line = ev->line;
    st->desc = text_copy(ev->text, ev->len, &oom);
    st->verdict = QHIL_PASS;
    st->start_ns = ev->wall_ns;
    st->duration_ns = -1;
    return oom ? qhil_error_set(err, QHIL_ENOMEM, "out of memory") : QHIL_EOK;
}

/* v is worse than w: pass < skip < fail < error. */
static int rank(qhil_verdict v)
{
    switch (v) {
    case QHIL_PASS:
        return 0;
    case QHIL_SKIP:
        return 1;
    case QHIL_FAIL:
        return 2;
    case QHIL_ERROR:
        return 3;
    }
    return 3;
}

/* The failure becomes the test's reason. */
static int set_reason(qhil_test_result *r, const qhil_failure *f)
{
    const qhil_step_time *st = NULL;
    size_t i = r->n_steps;

    r->verdict = f->verdict;
    free(r->message);
    r->message = strdup(f->message ? f->message : "failed");
    r->step = f->step;
    r->step_line = f->step ? f->line : 0;
    free(r->step_desc);
    r->step_desc = NULL;
    while (f->step && i > 0) {
        if (r->steps[--i].step == f->step) {
            st = &r->steps[i];
            break;
        }
    }
    if (st && st->desc) {
        r->step_desc = strdup(st->desc);
    }
    r->fold |= FOLD_HAS_REASON;
    return r->message ? QHIL_EOK : QHIL_ENOMEM;
}

static int failure_add(qhil_test_result *r, const qhil_event *ev,
                       qhil_verdict v, int how, qhil_error *err)
{
    size_t room = room_of(r->n_failures, QHIL_RESULT_FAILURES_MAX);
    qhil_failure f = {
        .step = ev->step,
        .line = ev->line,
        .verdict = v == QHIL_FAIL ? QHIL_FAIL : QHIL_ERROR,
        .wall_ns = ev->wall_ns,
    };
    qhil_step_time *st = ev->step ? step_find(r, ev->step) : NULL;
    bool oom;
    int rc = QHIL_EOK;

    f.message =
        text_copy(ev->text ? ev->text : "failed", ev->text ? ev->len : 6, &oom);
    if (st && rank(f.verdict) > rank(st->verdict)) {
        st->verdict = f.verdict;
    }
    if (!(r->fold & FOLD_HAS_REASON) || how != QHIL_FAILURE_PLAIN) {
        if (set_reason(r, &f) < 0) {
            rc = QHIL_ENOMEM;
        }
    }
    if (how == QHIL_FAILURE_INTERRUPTED) {
        r->interrupted = true;
    }
    if (grow((void **)&r->failures, r->n_failures, &room, sizeof(*r->failures),
             QHIL_RESULT_FAILURES_MAX) < 0) {
        free(f.message);
        r->failures_dropped++;
        if (r->n_failures < QHIL_RESULT_FAILURES_MAX) {
            rc = QHIL_ENOMEM;
        }
    } else {
        r->failures[r->n_failures++] = f;
    }
    if (oom || rc < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    return QHIL_EOK;
}

static void start(qhil_test_result *r)
{
    if (!(r->fold & FOLD_STARTED)) {
        r->fold |= FOLD_STARTED;
        r->version = QHIL_RESULT_VERSION;
        r->verdict = QHIL_PASS;
    }
}

int qhil_test_result_apply(qhil_test_result *r, const qhil_event *ev,
                           qhil_error *err)
{
    qhil_step_time *st;

    if (r->fold & FOLD_ENDED) {
        return QHIL_EOK;
    }
    start(r);
    switch (ev->kind) {
    case QHIL_EVENT_TEST_START:
        if (!r->name && ev->text) {
            bool oom;

            r->name = text_copy(ev->text, ev->len, &oom);
            if (oom) {
                return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            }
        }
        return QHIL_EOK;
    case QHIL_EVENT_STEP_START:
        return step_add(r, ev, err);
    case QHIL_EVENT_STEP_END:
        st = step_find(r, ev->step);
        if (!st) {
            int rc = step_add(r, ev, err);

            if (rc < 0 || !(st = step_find(r, ev->step))) {
                return rc;
            }
            st->start_ns = ev->wall_ns - ev->duration_ns;
        }
        st->duration_ns = ev->duration_ns;
        if (rank(ev->verdict) > rank(st->verdict)) {
            st->verdict = ev->verdict;
        }
        return QHIL_EOK;
    case QHIL_EVENT_MACHINE_START:
        if (ev->text && ev->len && ev->len < 48) {
            bool oom;
            char *v = text_copy(ev->text, ev->len, &oom);

            if (!v) {
                return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            }
            free(r->qemu_version);
            r->qemu_version = v;
        }
        return QHIL_EOK;
    case QHIL_EVENT_FAILURE:
        return failure_add(r, ev, ev->verdict, ev->how, err);
    case QHIL_EVENT_TEST_END:
        r->fold |= FOLD_ENDED;
        r->duration_ns = ev->duration_ns;
        if (ev->verdict == QHIL_PASS && (r->fold & FOLD_HAS_REASON)) {
            /* An end that claims a pass after a failure: the failure
             * stands. */
            return QHIL_EOK;
        }
        if (rank(ev->verdict) > rank(r->verdict) ||
            !(r->fold & FOLD_HAS_REASON)) {
            r->verdict = ev->verdict;
        }
        return QHIL_EOK;
    default:
        return QHIL_EOK;
    }
}

int qhil_test_result_abort(qhil_test_result *r, const char *message,
                           qhil_error *err)
{
    qhil_event ev = {
        .kind = QHIL_EVENT_FAILURE,
        .verdict = QHIL_ERROR,
        .text = message ? message : "the test ended without its result",
    };
    int rc;

    ev.len = strlen(ev.text);
    /* It happened in the step that never ended, if one did not. */
    if (r->n_steps && r->steps[r->n_steps - 1].duration_ns < 0) {
        ev.step = r->steps[r->n_steps - 1].step;
        ev.line = r->steps[r->n_steps - 1].line;
    }
    start(r);
    r->fold &= ~FOLD_ENDED;
    rc = failure_add(r, &ev, QHIL_ERROR, QHIL_FAILURE_CAUSE, err);
    r->verdict = QHIL_ERROR;
    r->fold |= FOLD_ENDED;
    return rc;
}

bool qhil_test_result_ended(const qhil_test_result *r)
{
    return (r->fold & FOLD_ENDED) != 0;
}
