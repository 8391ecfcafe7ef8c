/*
 * scenario.h - what the scripted fake peers of the protocol tests share.
 *
 * fakepeer.c (QMP) and fakeline.c (QTest) each run a scenario file in a
 * child process on one end of a socketpair.  Each owns its directives
 * and how it reads the client's messages; this module holds the rest:
 * growable bytes, C escapes and numbers in scenario files, reading a
 * scenario file line by line, the running peer's deadline I/O and its
 * one-line failure report, and the forked peer process with the pipe
 * that carries the report back to the test.
 */
#ifndef QHIL_TESTS_SCENARIO_H
#define QHIL_TESTS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Every read and write of a peer gives up after this long. */
#define SCN_STEP_TIMEOUT_MS 5000
/* Bytes of client input quoted in a report, at most. */
#define SCN_SHOW_MAX 300
/* Client bytes the scenario has not taken yet, at most. */
#define SCN_INPUT_MAX (16u << 20)

/* What scn_read_more returns besides a byte count and -1. */
#define SCN_EOF 0
#define SCN_TIMEOUT (-2)

/* ---- growable bytes --------------------------------------------------- */

/*
 * Bytes with a NUL after the last once anything was reserved.  Running
 * out of memory ends the test program, the right outcome for a test
 * helper.  The owner frees data.
 */
typedef struct scn_buf {
    char *data;
    size_t len;
    size_t cap;
} scn_buf;

/* Make room for n more bytes and the NUL. */
void scn_buf_reserve(scn_buf *b, size_t n);
void scn_buf_add(scn_buf *b, const void *data, size_t n);
void scn_buf_puts(scn_buf *b, const char *s);
/* Drop the first n bytes (all of them if there are fewer). */
void scn_buf_consume(scn_buf *b, size_t n);

/*
 * Room for item n of an array of size-byte items with *cap of them
 * allocated: returns items, or the grown array (and *cap updated).
 * Running out of memory ends the program.
 */
void *scn_grow(void *items, size_t n, size_t *cap, size_t size);

/* ---- time --------------------------------------------------------------- */

/* CLOCK_MONOTONIC in ms. */
int64_t scn_now_ms(void);
/* ms until deadline (a scn_now_ms value), 0 once it passed. */
int scn_ms_left(int64_t deadline);
/* Sleep us microseconds, resuming after signals. */
void scn_pause_us(long us);

/* ---- scenario text ---------------------------------------------------- */

/* Value of a hex digit, -1 for anything else. */
int scn_hexval(char c);

/* Whether s[0, n) is only blanks, tabs, CRs and LFs. */
bool scn_all_blank(const char *s, size_t n);

/*
 * Append the C-escaped string s to out: \n \r \t \0 \xHH, and a
 * backslash before any character of literal stands for that character.
 * Returns 0, or -1 with *bad at the faulty backslash.
 */
int scn_unescape(const char *s, const char *literal, scn_buf *out,
                 const char **bad);

/*
 * Read an unsigned number at s (a digit first) as strtoull does with
 * base.  Returns where the number ends, or NULL when s holds no number
 * or it does not fit; the caller decides what may follow it.
 */
const char *scn_parse_u64(const char *s, int base, uint64_t *v);

/*
 * Find the directive that starts text among names[0, n): returns its
 * index, with *arg at the rest of the line after the blanks behind the
 * word.  An unknown word prints "PATH:LINE: unknown directive 'WORD'
 * (known)" on stderr and returns -1.
 */
int scn_directive(const char *path, int lineno, const char *text,
                  const char *const *names, size_t n, const char *known,
                  const char **arg);

/*
 * Called for each directive line of a scenario file: text is the line
 * without its end (CR, LF) and leading blanks; blank lines and lines
 * starting with '#' are not passed.  Returns 0, or -1 after printing
 * "PATH:LINE: ..." on stderr, which ends the reading.
 */
typedef int scn_line_fn(void *ctx, int lineno, const char *text);

/* Read the file at path, giving each directive line to fn.  Returns 0,
 * or -1 after printing why (the file cannot be read, or fn failed). */
int scn_read_file(const char *path, scn_line_fn *fn, void *ctx);

/* ---- the running peer, in the child ------------------------------------ */

typedef struct scn_proto scn_proto;

/* One connection to the client, as a protocol's play sees it. */
typedef struct scn_peer {
    const scn_proto *proto;
    const char *path; /* the scenario, for reports */
    int line;         /* of the running directive; 0 after the last */
    int fd;           /* the peer's end of the socketpair, non-blocking */
    size_t split;     /* write in pieces of this many bytes; 0: whole */
    bool client_gone; /* the client closed its end; writes are skipped */
    scn_buf in;       /* read from the client, not yet taken */
    char *why;        /* the first failure report */
    void *ctx;        /* the protocol's own state, for its recv */
} scn_peer;

/*
 * Record the failure "PATH:LINE: message" (or "PATH: message" with no
 * running line), unless one was recorded before.  Returns -1.
 */
int scn_fail(scn_peer *io, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Write n bytes, in pieces of io->split with the protocol's pause in
 * between when split is on, each piece within SCN_STEP_TIMEOUT_MS.  A
 * client that closed makes this skip the rest, not fail.  Returns 0, or
 * -1 (reported).
 */
int scn_write(scn_peer *io, const char *data, size_t n);

/*
 * Add what the client sent to io->in, waiting until deadline.  Returns
 * the byte count, SCN_EOF, SCN_TIMEOUT or -1 (reported).
 */
int scn_read_more(scn_peer *io, int64_t deadline);

/* io->in without surrounding whitespace, cut to SCN_SHOW_MAX bytes:
 * sets *start, returns the length for "%.*s". */
int scn_shown_input(const scn_peer *io, const char **start);

/*
 * The end of a scenario: read until the client closes its end, which
 * must come within SCN_STEP_TIMEOUT_MS and after nothing more (but
 * whitespace, when blanks_ok).  Returns 0, or -1 (reported).
 */
int scn_drain(scn_peer *io, bool blanks_ok);

/* ---- a protocol ------------------------------------------------------- */

/* What a fake peer for one protocol provides. */
struct scn_proto {
    size_t script_size; /* of the parsed scenario, zeroed before load */
    /* In the test: parse the file at path into script; -1 after
     * printing "PATH:LINE: ..." on stderr. */
    int (*load)(void *script, const char *path);
    /* Free what load put in script, even after a failed load. */
    void (*release)(void *script);
    /* In the child: run the scenario on io; 0 when all of it ran, or -1
     * with io->why set (scn_fail). */
    int (*play)(scn_peer *io, void *script);
    /* Pause between the pieces of a split write. */
    long split_pause_us;
    /* Receive into buf (room bytes free) as read(2) does; -1 with
     * io->why set when it reported a failure.  NULL: read(2). */
    ssize_t (*recv)(scn_peer *io, char *buf, size_t room);
};

/* The child process running a scenario, seen from the test. */
typedef struct scn_proc scn_proc;

/*
 * Load the scenario at path and start a child that plays it.
 * *client_fd receives the client's end of the socketpair (blocking,
 * close-on-exec), owned by the caller.  Returns 0; or -1 after printing
 * the reason on stderr ("PATH:LINE: ..."), with nothing left open.
 * Does not block.
 */
int scn_start(const scn_proto *proto, const char *path, scn_proc **out,
              int *client_fd);

/*
 * Wait for the child to end, at most timeout_ms (0: do not wait),
 * killing it after that; then reap it and free proc (NULL is fine and
 * returns 0).  The child only ends after the client closed its end.
 * Returns 0 when the whole scenario ran; else nonzero, and *why (may be
 * NULL) receives the child's report, caller frees.
 */
int scn_finish(scn_proc *proc, int timeout_ms, char **why);

#endif /* QHIL_TESTS_SCENARIO_H */
