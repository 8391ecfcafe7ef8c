/*
 * fakepeer.h - a scripted QMP server for protocol tests.
 *
 * The peer runs a scenario file (format described at the top of
 * fakepeer.c) in a child process on one end of a socketpair; the test
 * gives the other end to the client under test.  The peer checks what the
 * client sends; any difference, or a step that does not complete within
 * its deadline (SCN_STEP_TIMEOUT_MS), ends the peer with a report.  The
 * process and I/O machinery is shared with fakeline.h: wait for the peer
 * and take its report with scn_finish (scenario.h).
 */
#ifndef QHIL_TESTS_FAKEPEER_H
#define QHIL_TESTS_FAKEPEER_H

#include "scenario.h"

typedef scn_proc fakepeer;

/* Byte i of the string sent by the "big" directive. */
#define FAKEPEER_BIG_BYTE(i) ((char)('a' + (int)((i) % 26)))

/*
 * Load the scenario at path and start the peer.  *client_fd receives the
 * client's end of the socketpair (blocking, close-on-exec), owned by the
 * caller.  Returns 0; or -1 after printing the reason on stderr (the file
 * cannot be read, a line does not parse: "FILE:LINE: ..."), with nothing
 * left open.  Does not block.  The peer only ends after the client closed
 * its end: free the client, then the peer with scn_finish, whose report
 * reads "FILE:LINE: expected ..., client sent ...".
 */
int fakepeer_start(const char *path, fakepeer **out, int *client_fd);

#endif /* QHIL_TESTS_FAKEPEER_H */
