/*
 * fakepeer.h - a scripted QMP server for protocol tests.
 *
 * The peer runs a scenario file (format described at the top of
 * fakepeer.c) in a child process on one end of a socketpair; the test
 * gives the other end to the client under test.  The peer checks what the
 * client sends; any difference, or a step that does not complete within
 * its deadline, ends the peer with a report that fakepeer_finish returns.
 */
#ifndef QHIL_TESTS_FAKEPEER_H
#define QHIL_TESTS_FAKEPEER_H

#include <stddef.h>

typedef struct fakepeer fakepeer;

/* Every read and write of the peer gives up after this long. */
#define FAKEPEER_STEP_TIMEOUT_MS 5000

/* Byte i of the string sent by the "big" directive. */
#define FAKEPEER_BIG_BYTE(i) ((char)('a' + (int)((i) % 26)))

/*
 * Load the scenario at path and start the peer.  *client_fd receives the
 * client's end of the socketpair (blocking, close-on-exec), owned by the
 * caller.  Returns 0; or -1 after printing the reason on stderr (the file
 * cannot be read, a line does not parse: "FILE:LINE: ..."), with nothing
 * left open.  Does not block.
 */
int fakepeer_start(const char *path, fakepeer **out, int *client_fd);

/*
 * Wait for the peer to end, at most timeout_ms (0: do not wait), killing
 * it after that; then reap it and free fp (NULL is fine and returns 0).
 * The peer only ends after the client closed its end, so free the client
 * first.  Returns 0 when the whole scenario ran and the client sent
 * nothing more; else nonzero, and *why (may be NULL) receives the peer's
 * report ("FILE:LINE: expected ..., client sent ..."), caller frees.
 */
int fakepeer_finish(fakepeer *fp, int timeout_ms, char **why);

#endif /* QHIL_TESTS_FAKEPEER_H */
