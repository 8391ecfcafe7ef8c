/*
 * qhil/console.h - the serial console of a machine: log, expect, send.
 *
 * A qhil_console owns one connected stream socket carrying a guest's
 * serial port.  Every byte received is appended to a log file as it
 * arrives (so a crash loses nothing) and kept in a window for matching.
 *
 * expect() matches a PCRE2 pattern against the stream incrementally:
 * each expect starts where the previous match ended, so no byte is
 * matched twice and none is skipped, whatever the read boundaries were.
 * A match is reported only once no later byte could change it: the result
 * is what PCRE2 gives run once on the whole log from the previous match
 * end (bytes before it visible to lookbehinds and ^).  So $, \z, \b, a
 * lookahead or a greedy repeat at the end of the output received so far
 * waits for the next byte (or the end of the stream).  Between reads the
 * matcher remembers how far it has looked (PCRE2 partial matching says
 * where a match could still begin), so a long output is not rescanned on
 * every read.  Patterns are compiled with PCRE2_MULTILINE (^ and $ match
 * at line starts and ends); (*UTF) patterns also with
 * PCRE2_MATCH_INVALID_UTF, so invalid UTF-8 from the guest never matches
 * and never makes an error.  See qhil_console_pattern_check for what is
 * refused.
 *
 * Fail patterns ("Kernel panic", "HardFault") are watched on all output.
 * The first one that matches makes the current and every later expect(),
 * wait() or dispatch() return QHIL_EMATCH, unless the expected pattern
 * completed first in the stream.  A match-time error (PCRE2's match,
 * depth or heap limit) ends an expect with QHIL_EPATTERN; for a fail
 * pattern it is sticky like a hit.
 *
 * Output is capped per console (qhil_console_set_log_limit).  Waits can be
 * interrupted through a file descriptor (qhil_console_set_cancel_fd).
 */
#ifndef QHIL_CONSOLE_H
#define QHIL_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct qhil_console qhil_console;

/*
 * Wrap a connected socket.  Takes ownership of fd: qhil_console_free
 * closes it, and a failing call closes it before returning.  log_path:
 * file to write every received byte to, or NULL for no log.  It must not
 * exist: it is created 0644 with O_EXCL|O_NOFOLLOW, so a file or symlink
 * planted there is never followed or truncated (the error names it).
 * The log is capped, see qhil_console_set_log_limit.
 */
int qhil_console_new(int fd, const char *log_path, qhil_console **out,
                     qhil_error *err);

/* Close the socket and the log; NULL is fine. */
void qhil_console_free(qhil_console *con);

/*
 * Check that pattern compiles with exactly the console's options and is
 * not refused: \G, (*COMMIT), (*NOTEMPTY_ATSTART), the (*CRLF), (*ANY)
 * and (*ANYCRLF) newline conventions, and lookbehinds longer than 255
 * characters (the context kept before the scan position).  QHIL_EOK, or
 * QHIL_EINVAL with 'invalid pattern "P": ...' (the compiler's message and
 * offset, or the reason for the refusal).  Does not block.
 */
int qhil_console_pattern_check(const char *pattern, qhil_error *err);

/*
 * Add a fail pattern (PCRE2).  QHIL_EINVAL as qhil_console_pattern_check,
 * prefixed "fail_on".  It applies to output received from now on.
 */
int qhil_console_add_fail_pattern(qhil_console *con, const char *pattern,
                                  qhil_error *err);

/*
 * Wait until pattern matches output received since the last match, or
 * deadline.  *matched (may be NULL): the matched text (from \K if the
 * pattern has one), malloc'ed, caller frees, made printable like
 * qhil_console_tail.  Returns QHIL_ETIMEDOUT, QHIL_EMATCH (a fail pattern
 * matched), QHIL_EPATTERN (a match-time error of this or of a fail
 * pattern, with PCRE2's message), QHIL_EEOF (the other end closed: the
 * machine is gone), QHIL_EINVAL (bad or refused pattern), QHIL_ECANCELED.
 * Bytes already in the socket are always read and tried, even when
 * deadline has passed.  Blocks until deadline at most.
 */
int qhil_console_expect(qhil_console *con, const char *pattern,
                        int64_t deadline, char **matched, qhil_error *err);

/*
 * Send bytes to the guest.  Blocks until they are all written or
 * deadline (QHIL_ETIMEDOUT).  Calls the kick hook afterwards.
 */
int qhil_console_send(qhil_console *con, const void *data, size_t len,
                      int64_t deadline, qhil_error *err);

/*
 * Receive and watch output until deadline.  Returns QHIL_EOK at the
 * deadline (after one last non-blocking read), or QHIL_EMATCH /
 * QHIL_EPATTERN / QHIL_EEOF / QHIL_ECANCELED as soon as that happens.
 */
int qhil_console_wait(qhil_console *con, int64_t deadline, qhil_error *err);

/* Non-blocking: read whatever is there.  QHIL_EOK, or EMATCH, EPATTERN,
 * EEOF. */
int qhil_console_dispatch(qhil_console *con, qhil_error *err);

/*
 * A hook the console calls right after send(), and again for every
 * 100 ms of silence in the 2 s after a send while expect() waits.  A
 * machine uses it to wake QEMU's main loop, which otherwise may leave
 * input unread for a while after a guest re-enables its UART receiver.
 * deadline is the caller's: the hook must return by then.  A failing hook
 * is ignored.
 */
typedef void (*qhil_console_kick_fn)(void *data, int64_t deadline);
void qhil_console_set_kick(qhil_console *con, qhil_console_kick_fn fn,
                           void *data);

/*
 * The last max_lines lines of output (at most 16 KiB), malloc'ed, caller
 * frees.  \r is dropped, control bytes other than \n and \t are shown
 * as \xNN, bytes from 0x80 up are kept (so UTF-8 text stays readable).
 */
char *qhil_console_tail(const qhil_console *con, size_t max_lines);

/*
 * Unmatched output dropped because it outgrew the 8 MiB matching window;
 * expect() continues after the drop and says so when it times out.  The
 * log file has every byte regardless.
 */
uint64_t qhil_console_dropped(const qhil_console *con);

/* Total bytes received so far. */
uint64_t qhil_console_received(const qhil_console *con);

/*
 * Cap the console output of this console at max_bytes (0: the default,
 * 64 MiB).  Past the cap, expect (unless its match ends within the cap),
 * wait and dispatch return QHIL_ELIMIT "console output over N bytes",
 * every time.  The log file keeps its head as the bytes come (up to the
 * cap minus 1 MiB) and the last 1 MiB, written when the console is freed
 * after a line "[qhil: N bytes of console output dropped here]".  Set it
 * before output arrives for the file to use it; the cap on output
 * applies whenever it is set.
 */
void qhil_console_set_log_limit(qhil_console *con, uint64_t max_bytes);

/*
 * Interrupt waits: while fd >= 0 is set, any wait of the console (expect,
 * wait, send, the settle before a fail message) returns QHIL_ECANCELED
 * ("interrupted") as soon as fd is readable (or hung up).  The console
 * never reads or closes fd; the caller keeps it open while it is set.
 * -1 turns it off.
 */
void qhil_console_set_cancel_fd(qhil_console *con, int fd);

/* The socket, for poll(); borrowed. */
int qhil_console_fd(const qhil_console *con);

/* ---- observers ---------------------------------------------------- */

/* Lines are handed to the line observer in pieces of at most this many
 * bytes (the same as QHIL_EVENT_LINE_MAX). */
#define QHIL_CONSOLE_LINE_MAX 4096

/*
 * fn is called for every line of guest output as the console reads it,
 * in order: offset of the line's first byte in the console stream (= in
 * console.log, the same offsets the matcher uses), the bytes without the
 * LF (a CR before the LF is kept; NUL bytes and invalid UTF-8 are passed
 * as they came), cut = 1 when the line is longer than
 * QHIL_CONSOLE_LINE_MAX bytes: it is delivered in pieces of that size,
 * each but the last with cut set.  A last line without LF is delivered
 * when the stream ends (EOF).  Every byte received before the output cap
 * (qhil_console_set_log_limit) is in exactly one piece, LFs excepted;
 * nothing at or past the cap is delivered: a line the cap cuts is
 * delivered up to it, with cut set.  Set before output arrives to see it
 * all; set later, delivery starts with the line being received.
 * Bytes are borrowed for the call.  Called from inside the console's
 * calls that read (expect, wait, dispatch, send...); fn must not call
 * back into the console, and its time adds to theirs.  NULL: none.
 */
typedef void (*qhil_console_line_fn)(void *data, uint64_t offset,
                                     const char *bytes, size_t len, int cut);
void qhil_console_set_line_fn(qhil_console *con, qhil_console_line_fn fn,
                              void *data);

/*
 * The observer is done with this stream (the machine is gone, its
 * console may not have seen the end): hand the line being received, if
 * any, to the line callback now, as at EOF.  Reads nothing.
 */
void qhil_console_end_lines(qhil_console *con);

/*
 * The last successful qhil_console_expect match: *offset (its first
 * byte, in the stream), *bytes and *len (borrowed, valid until the next call
 * on con; raw, the same bytes the *matched string of expect shows
 * printable).  With \K the match starts at the \K point, as *matched
 * does.  QHIL_ENOENT when there was none (or its copy did not fit in
 * memory).  Any pointer may be NULL.  Does not block.
 */
int qhil_console_last_match(const qhil_console *con, uint64_t *offset,
                            const char **bytes, size_t *len);

/*
 * The fail pattern that matched first in the stream (the one that makes
 * expect and wait return QHIL_EMATCH): *index in the order added,
 * *pattern its source (borrowed, lives as long as con), and where:
 * *offset, *bytes and *len borrowed as above.  QHIL_ENOENT when none
 * matched; a fail pattern's match-time error (QHIL_EPATTERN) is not a
 * match.  Any pointer may be NULL.  Does not block.
 */
int qhil_console_fail_match(const qhil_console *con, size_t *index,
                            const char **pattern, uint64_t *offset,
                            const char **bytes, size_t *len);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_CONSOLE_H */
