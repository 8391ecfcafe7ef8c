/*
 * fakeline.h - a scripted server for line protocols (QTest) in tests.
 *
 * Like fakepeer.h, for protocols of text lines instead of JSON: the peer
 * runs a scenario file (format at the top of fakeline.c) in a child
 * process on one end of a socketpair, checks every line the client sends
 * and answers as scripted, or serves memory requests from a fake RAM.
 * Any difference, or a step that does not complete within its deadline
 * (SCN_STEP_TIMEOUT_MS), ends the peer with a report.  The process and
 * I/O machinery is shared with fakepeer.h: wait for the peer and take
 * its report with scn_finish (scenario.h).
 */
#ifndef QHIL_TESTS_FAKELINE_H
#define QHIL_TESTS_FAKELINE_H

#include "scenario.h"

typedef scn_proc fakeline;

/*
 * Load the scenario at path and start the peer.  *client_fd receives the
 * client's end of the socketpair (blocking, close-on-exec), owned by the
 * caller.  Returns 0; or -1 after printing the reason on stderr
 * ("FILE:LINE: ..."), with nothing left open.  Does not block.  The peer
 * only ends after the client closed its end: free the client, then the
 * peer with scn_finish, whose report reads "FILE:LINE: expected ...,
 * client sent ...".
 */
int fakeline_start(const char *path, fakeline **out, int *client_fd);

#endif /* QHIL_TESTS_FAKELINE_H */
