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
 * Every wait reads and routes what is already in the socket before it
 * reports a timeout, so a deadline of qhil_now() still finds a reply or
 * an event that has come.  A wait also ends, with QHIL_ECANCELED, as
 * soon as the cancel fd (qhil_qmp_set_cancel_fd) is readable.
 *
 * Commands go through a capped output queue: the blocking calls wait
 * until their own text is written; qhil_qmp_submit never waits, and a
 * caller with its own poll() loop watches qhil_qmp_fd for
 * qhil_qmp_poll_events and calls qhil_qmp_dispatch, which reads and
 * writes what it can without blocking.  The user guide is docs/qmp.md.
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
#pragma GCC visibility push(default)

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
 * and sticky.  The same number of bytes caps the output queue (see
 * qhil_qmp_submit).  Events kept in the queue at most (default 1024);
 * older ones are dropped and counted.  0 keeps a limit as it is. */
void qhil_qmp_set_limits(qhil_qmp *qmp, size_t max_message,
                         size_t max_events);

/*
 * Wait for the greeting, then send qmp_capabilities and wait for its
 * reply.  When the greeting offers "oob", it is enabled
 * ({"enable": ["oob"]}), so QHIL_QMP_OOB works; replies to out-of-band
 * commands may then overtake others (they are matched by id anyway).
 * Blocks until deadline at most.
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
 * Send a command without waiting for its reply; *id (may be NULL)
 * receives its id.  Its reply is collected with qhil_qmp_wait_reply (or
 * qhil_qmp_take_reply), or dropped when it arrives if qhil_qmp_forget is
 * called.  Blocks until the command's text is written (behind anything
 * queued before it), reading replies and events meanwhile, and never
 * longer than deadline: then QHIL_ETIMEDOUT, not sticky if none of the
 * command had left (it is taken back), sticky if half of it had.
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
 * Non-blocking: read whatever the socket has, route replies and events
 * (calling the event callback), then write as much of the output queue
 * as the socket takes.  For callers with their own poll loop (see
 * qhil_qmp_fd, qhil_qmp_poll_events).  Returns QHIL_EOK, or the sticky
 * error.
 */
int qhil_qmp_dispatch(qhil_qmp *qmp, qhil_error *err);

/* The socket, for poll(); borrowed. */
int qhil_qmp_fd(const qhil_qmp *qmp);

/*
 * Make every later wait (execute, send, wait_reply, wait_event*,
 * handshake, and what uses them) also watch fd, e.g. the read end of a
 * signal handler's self-pipe: once fd is readable (or at EOF) the wait
 * returns QHIL_ECANCELED, "interrupted ...", at once.  The client never
 * reads fd, so one byte cancels every client that watches it, and keeps
 * doing so until the owner drains it.  Canceling is not sticky (as a
 * timeout: the command is forgotten, its late reply dropped), except
 * when half of a command had been written, which leaves the stream
 * unusable.  fd is borrowed and must stay open while set; -1 removes
 * it (the default).  A closed fd makes waits fail with QHIL_EINVAL.
 */
void qhil_qmp_set_cancel_fd(qhil_qmp *qmp, int fd);

/* QHIL_EOK while usable, else the sticky error code (message in err). */
int qhil_qmp_status(const qhil_qmp *qmp, qhil_error *err);

/* ---- transports -------------------------------------------------- */

/*
 * Connect to a QMP server on a Unix socket path or "HOST:PORT" (TCP; IPv6
 * as "[::1]:4444").  HOST is a numeric IPv4 or IPv6 address or
 * "localhost" (127.0.0.1, then ::1): other names are not resolved, as a
 * resolver could not keep the deadline.  Blocks until connected or
 * deadline (also while a Unix socket's listen backlog is full).  Does not
 * handshake.  Caller frees *out with qhil_qmp_free.
 * Errors: QHIL_EINVAL for a malformed address or a path too long for a
 * Unix socket; the negated errno when the connect fails (-ENOENT: no
 * socket at the path, -ECONNREFUSED: nothing listens), with a hint in
 * err; QHIL_ETIMEDOUT.
 */
int qhil_qmp_connect_unix(const char *path, int64_t deadline,
                          qhil_qmp **out, qhil_error *err);
int qhil_qmp_connect_tcp(const char *host_port, int64_t deadline,
                         qhil_qmp **out, qhil_error *err);

/* "unix:PATH", "tcp:HOST:PORT", or bare: HOST:PORT when it starts with
 * '[' or has no '/' and ends in ":DIGITS", else a Unix socket path. */
int qhil_qmp_connect(const char *address, int64_t deadline,
                     qhil_qmp **out, qhil_error *err);

/* ---- non-blocking use --------------------------------------------- */

/*
 * poll() events the client wants on qhil_qmp_fd: POLLIN always, POLLOUT
 * while queued output waits (see qhil_qmp_submit).  When poll() reports
 * any of them, call qhil_qmp_dispatch.
 */
short qhil_qmp_poll_events(const qhil_qmp *qmp);

/*
 * Queue a command without blocking at all: the text goes to an output
 * queue, of which as much is written at once as the socket takes without
 * waiting; qhil_qmp_dispatch (and every blocking call) writes the rest.
 * *id (may be NULL) gets the id for qhil_qmp_take_reply or
 * qhil_qmp_wait_reply.
 * flags: QHIL_QMP_OOB sends it as "exec-oob" (refused with
 * QHIL_EUNSUPPORTED unless the server offered the "oob" capability and
 * qhil_qmp_handshake enabled it); QHIL_QMP_CHECK refuses, with
 * QHIL_EUNSUPPORTED, a command or argument the loaded schema
 * (qhil_qmp_schema_load) does not know, and with QHIL_QMP_OOB a command
 * the schema does not allow out of band (no schema: no check).
 * pass_fd >= 0: that fd travels by SCM_RIGHTS with the first byte of the
 * command (for getfd, add-fd).  The client duplicates it, so the caller
 * may close its own at once; pass -1 for none.  QEMU keeps only the last
 * fd it received, so another fd is refused with QHIL_EBUSY while a
 * command that passed one has no reply yet.  On a connection that is not
 * a Unix socket, passing an fd is QHIL_EUNSUPPORTED.
 * Refusals (QHIL_EINVAL, QHIL_EUNSUPPORTED, QHIL_EBUSY, a bad fd as
 * -EBADF, QHIL_ETOOBIG when the queue is full) queue nothing and are
 * not sticky.  Once queued, a write error is the sticky error (*id is
 * set all the same).
 */
#define QHIL_QMP_OOB (1 << 0)
#define QHIL_QMP_CHECK (1 << 1)
int qhil_qmp_submit(qhil_qmp *qmp, const char *command, const json_t *args,
                    int pass_fd, unsigned flags, uint64_t *id,
                    qhil_error *err);

/*
 * Non-blocking, and no I/O (qhil_qmp_dispatch reads): the reply to id if
 * it has come (returns 1, *ret as in qhil_qmp_execute; an error reply
 * returns QHIL_ECMD as there), 0 if not yet, QHIL_EINVAL if id is not
 * waiting for a reply (never sent, forgotten, or already taken), else the
 * sticky error.  A reply routed before the connection failed is still
 * handed out.
 */
int qhil_qmp_take_reply(qhil_qmp *qmp, uint64_t id, json_t **ret,
                        qhil_error *err);

/* Whether the server offered out-of-band execution and it is on. */
int qhil_qmp_has_oob(const qhil_qmp *qmp);

/* ---- events ------------------------------------------------------- */

/*
 * Call fn for every event as it is dispatched (in arrival order), before
 * it is queued; fn returns nonzero to consume it (not queued), 0 to leave
 * it for qhil_qmp_wait_event.  The event is borrowed for the call.  One
 * callback per client; NULL removes it.  fn runs inside the client's
 * reading: it may queue commands (qhil_qmp_submit), take replies and
 * clear events, but calls that would read the socket or wait (dispatch,
 * execute, send, and the wait_* calls, handshake, schema_load, hmp when
 * they would) return QHIL_EBUSY there, and it must not free the client.
 */
typedef int (*qhil_qmp_event_fn)(void *data, const json_t *event);
void qhil_qmp_set_event_callback(qhil_qmp *qmp, qhil_qmp_event_fn fn,
                                 void *data);

/*
 * Trace every message: fn is called with every message the client
 * writes (QHIL_QMP_OUT: commands, as sent, with their "id", once their
 * first byte has left; a command taken back before that, at a timeout or
 * a cancel, is never shown) and every message it parses (QHIL_QMP_IN:
 * replies, events, the greeting if fn was set before the handshake), in
 * the order they were written or read.  It sees what the client parsed
 * before any routing: events the bounded queue drops later or the event
 * callback consumes, replies nobody waits for.  Bytes that are not a
 * JSON object (garbage, malformed JSON, an oversized message) are never
 * shown.  Commands queued before fn was set are not shown.  msg is
 * borrowed for the call.  fn runs inside the client's reads and writes:
 * it must not call back into qmp (reads and waits return QHIL_EBUSY
 * there) and must not free it; its time adds to the caller's wait.
 * One trace per client; NULL removes it.
 */
typedef enum qhil_qmp_dir { QHIL_QMP_OUT, QHIL_QMP_IN } qhil_qmp_dir;
typedef void (*qhil_qmp_trace_fn)(void *data, qhil_qmp_dir dir,
                                  const json_t *msg);
void qhil_qmp_set_trace(qhil_qmp *qmp, qhil_qmp_trace_fn fn, void *data);

/*
 * Like qhil_qmp_wait_event, but the event's "data" must contain match
 * (a subset match as qhil_json_subset: {"device": "drive0"}); match
 * (borrowed) may be NULL.  An event without "data" has {}.  Non-matching
 * events stay queued, in order.  A timeout's message shows the match.
 */
int qhil_qmp_wait_event_match(qhil_qmp *qmp, const char *name,
                              const json_t *match, json_t **event,
                              int64_t deadline, qhil_error *err);

/*
 * True when every key of want is in have with a matching value, recursing
 * into objects; an array matches an array of the same length whose
 * elements match one by one, in order; scalars compare whole.  How an
 * event's data is matched here, and a suite's qmp step checks its reply
 * ("expect").  Both borrowed, either may be NULL (equal only when both
 * are).  No blocking.
 */
int qhil_json_subset(const json_t *want, const json_t *have);

/* An event's QEMU timestamp in ns since the Unix epoch (its "timestamp"
 * seconds and microseconds: wall-clock time, CLOCK_REALTIME, not
 * comparable with deadlines); -1 when it has none or it is malformed. */
int64_t qhil_qmp_event_time(const json_t *event);

/* ---- introspection ------------------------------------------------ */

/*
 * Fetch and index query-qmp-schema (large: no fixed buffers).  After
 * this, qhil_qmp_has_command / _has_argument answer from the schema, and
 * QHIL_QMP_CHECK / qhil_qmp_execute_checked refuse unknown commands and
 * arguments with QHIL_EUNSUPPORTED before anything is sent.  A command's
 * arguments are the members of its argument type, with those of every
 * variant for union arguments (blockdev-add: "driver", "filename", ...).
 * Blocks until the reply or deadline.  Loading again replaces the index;
 * a failed load (QHIL_EPROTO for a schema that is not a list of entities
 * or names undefined types, or the execute error) keeps the earlier one.
 */
int qhil_qmp_schema_load(qhil_qmp *qmp, int64_t deadline, qhil_error *err);

/* 1 if known, 0 if not (an unknown command has no arguments),
 * QHIL_EINVAL when no schema is loaded or a name is NULL. */
int qhil_qmp_has_command(const qhil_qmp *qmp, const char *command);
int qhil_qmp_has_argument(const qhil_qmp *qmp, const char *command,
                          const char *argument);

/*
 * Names for completion: every command (command == NULL) or the argument
 * names of command, sorted, NULL-terminated, malloc'ed (strings too; free
 * with qhil_strv_free); an empty list for an unknown command or one
 * without arguments.  NULL when no schema is loaded or out of memory.
 */
char **qhil_qmp_schema_names(const qhil_qmp *qmp, const char *command);
void qhil_strv_free(char **v);

/* qhil_qmp_execute, refusing unknown commands/arguments first with
 * QHIL_EUNSUPPORTED and a message naming them (and the known arguments);
 * needs a loaded schema; without one it behaves as qhil_qmp_execute. */
int qhil_qmp_execute_checked(qhil_qmp *qmp, const char *command,
                             const json_t *args, json_t **ret,
                             int64_t deadline, qhil_error *err);

/* ---- HMP ------------------------------------------------------------ */

/*
 * Run a human monitor command ("info registers") through QMP's
 * human-monitor-command.  *output (may be NULL): its text, malloc'ed,
 * caller frees; HMP reports most of its own errors in that text, not as
 * QHIL_ECMD.  QHIL_EINVAL for an empty line (nothing sent), QHIL_EPROTO
 * when the reply is not text.  Blocks until the reply or deadline.
 */
int qhil_qmp_hmp(qhil_qmp *qmp, const char *command_line, char **output,
                 int64_t deadline, qhil_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_QMP_H */
