/*
 * fakeline.h - a scripted server for line protocols (QTest) in tests.
 *
 * Like fakepeer.h, for protocols of text lines instead of JSON: the peer
 * runs a scenario file (format at the top of fakeline.c) in a child
 * process on one end of a socketpair, checks every line the client sends
 * and answers as scripted, or serves memory requests from a fake RAM.
 * Any difference, or a step that does not complete within its deadline,
 * ends the peer with a report that fakeline_finish returns.
 */
#ifndef QHIL_TESTS_FAKELINE_H
#define QHIL_TESTS_FAKELINE_H

typedef struct fakeline fakeline;

/* Every read and write of the peer gives up after this long. */
#define FAKELINE_STEP_TIMEOUT_MS 5000

/*
 * Load the scenario at path and start the peer.  *client_fd receives the
 * client's end of the socketpair (blocking, close-on-exec), owned by the
 * caller.  Returns 0; or -1 after printing the reason on stderr
 * ("FILE:LINE: ..."), with nothing left open.  Does not block.
 */
int fakeline_start(const char *path, fakeline **out, int *client_fd);

/*
 * Wait for the peer to end, at most timeout_ms (0: do not wait), killing
 * it after that; then reap it and free fl (NULL is fine and returns 0).
 * The peer only ends after the client closed its end, so free the client
 * first.  Returns 0 when the whole scenario ran and the client sent
 * nothing more; else nonzero, and *why (may be NULL) receives the peer's
 * report, caller frees.
 */
int fakeline_finish(fakeline *fl, int timeout_ms, char **why);

#endif /* QHIL_TESTS_FAKELINE_H */
