/*
 * qhil/qmp.h - QEMU Machine Protocol client.
 *
 * A qhil_qmp owns one connected stream socket to a QMP server.  It reads
 * the greeting, negotiates capabilities, and executes commands tagged with
 * an "id" so that each reply is matched to its command by id, never by
 * order.  Asynchronous events that arrive in between are queued (bounded)
 * and can be waited for by name.
 *
 * Framing: the byte stream is cut into top-level JSON objects by a small
 * incremental scanner (it tracks nesting, strings and escapes only); each
 * complete object is handed to jansson.  So a reply split over many reads,
 * or many messages in one read, cost O(n), and a buffer cap (default
 * 64 MiB) bounds memory.
 *
 * Errors are sticky: once the connection hits EOF, a read error or bytes
 * that are not JSON, every later call fails with that first error.
 *
 * All calls that wait take an absolute CLOCK_MONOTONIC deadline (see
 * qhil/clock.h) and return QHIL_ETIMEDOUT when it passes.  A timeout is
 * not sticky: the caller may wait again, and a late reply is dropped.
 */
#ifndef QHIL_QMP_H
#define QHIL_QMP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qhil_qmp qhil_qmp;

/*
 * Wrap a connected socket.  Takes ownership of fd: qhil_qmp_free closes
 * it, and a failing call closes it before returning.  Sets it non-blocking and
 * close-on-exec.  Does not read anything yet.
 */
int qhil_qmp_new(int fd, qhil_qmp **out, qhil_error *err);

/* Close the socket and free everything; NULL is fine. */
void qhil_qmp_free(qhil_qmp *qmp);

/* Largest message accepted (default 64 MiB); a larger one is QHIL_ETOOBIG
 * and sticky.  Events kept in the queue at most (default 1024); older ones
 * are dropped and counted. */
void qhil_qmp_set_limits(qhil_qmp *qmp, size_t max_message,
                         size_t max_events);

/*
 * Wait for the greeting, then send qmp_capabilities and wait for its
 * reply.  Blocks until deadline at most.
 */
int qhil_qmp_handshake(qhil_qmp *qmp, int64_t deadline, qhil_error *err);

/* The greeting object ({"QMP": {...}}), borrowed; NULL before it came. */
const json_t *qhil_qmp_greeting(const qhil_qmp *qmp);

/* QEMU's version from the greeting; QHIL_EPROTO if not known yet. */
int qhil_qmp_version(const qhil_qmp *qmp, int *major, int *minor,
                     int *micro);

/*
 * Execute a command and wait for its reply.
 * args: borrowed object or NULL.
 * *ret (may be NULL when not wanted): the "return" value, new reference,
 * caller json_decref()s.
 * An error reply returns QHIL_ECMD with err->kind the error class
 * ("CommandNotFound") and err->message "CLASS: description".
 * Blocks until the reply or deadline.
 */
int qhil_qmp_execute(qhil_qmp *qmp, const char *command, const json_t *args,
                     json_t **ret, int64_t deadline, qhil_error *err);

/*
 * Send a command without waiting; *id (may be NULL) receives its id.
 * Its reply is collected with qhil_qmp_wait_reply, or dropped when it
 * arrives if qhil_qmp_forget is called.  Never blocks longer than
 * deadline (the write can stall if QEMU does not read).
 */
int qhil_qmp_send(qhil_qmp *qmp, const char *command, const json_t *args,
                  uint64_t *id, int64_t deadline, qhil_error *err);

/* Wait for the reply to id; same results as qhil_qmp_execute. */
int qhil_qmp_wait_reply(qhil_qmp *qmp, uint64_t id, json_t **ret,
                        int64_t deadline, qhil_error *err);

/* Drop the reply to id when (or if) it arrives. */
void qhil_qmp_forget(qhil_qmp *qmp, uint64_t id);

/*
 * Wait for an event called name (NULL: any event) that is queued or
 * arrives before deadline, and remove it from the queue.  Events queued
 * before the call count, so "send command, then wait for its event" has
 * no race.  *event (may be NULL): the whole event object, new reference,
 * with "event", "data" and "timestamp".
 */
int qhil_qmp_wait_event(qhil_qmp *qmp, const char *name, json_t **event,
                        int64_t deadline, qhil_error *err);

/* Drop all queued events. */
void qhil_qmp_clear_events(qhil_qmp *qmp);

/* Events dropped because the queue was full, since creation. */
size_t qhil_qmp_dropped_events(const qhil_qmp *qmp);

/*
 * Non-blocking: read whatever the socket has, route replies and events.
 * For callers with their own poll loop (see qhil_qmp_fd).  Returns
 * QHIL_EOK, or the sticky error.
 */
int qhil_qmp_dispatch(qhil_qmp *qmp, qhil_error *err);

/* The socket, for poll(); borrowed. */
int qhil_qmp_fd(const qhil_qmp *qmp);

/* QHIL_EOK while usable, else the sticky error code (message in err). */
int qhil_qmp_status(const qhil_qmp *qmp, qhil_error *err);

#ifdef __cplusplus
}
#endif

#endif /* QHIL_QMP_H */
