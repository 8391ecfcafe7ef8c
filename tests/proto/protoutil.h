/*
 * protoutil.h - fixture helpers shared by the protocol tests.
 *
 * test_qmp.c and test_qtest.c each keep a fixture with the fake peer
 * (`peer`, a scn_proc from scenario.h), the client under test and a
 * qhil_error `err`.  These helpers build and free such a fixture, check
 * the codes and messages of client calls, and turn a peer's report into
 * a failed test.  Include after <cmocka.h>.
 */
#ifndef QHIL_TESTS_PROTOUTIL_H
#define QHIL_TESTS_PROTOUTIL_H

#include <stddef.h>

#include <qhil/error.h>

#include "scenario.h"

/*
 * cmocka setup: *state gets a zeroed fixture of size bytes whose
 * qhil_error, err_offset bytes in, is initialised.  Returns 0, or -1 when
 * out of memory.
 */
int proto_setup(void **state, size_t size, size_t err_offset);

/*
 * The end of a teardown, once the client is freed: stop the peer without
 * waiting for it (NULL is fine), release err and free the fixture.
 * Returns 0.
 */
int proto_teardown(void *fixture, scn_proc *peer, qhil_error *err);

/*
 * Wait for the peer, whose client the caller has freed, and fail the
 * test with its report unless the whole scenario ran.  *peer is freed
 * and set to NULL.  Blocks up to twice SCN_STEP_TIMEOUT_MS.
 */
void proto_finish_peer(scn_proc **peer);

/* Fail the test at file:line unless rc is want, with both code names
 * and err's message. */
void proto_check_rc_at(const qhil_error *err, int rc, int want,
                       const char *file, int line);
#define check_rc(f, rc, want)                                                  \
    proto_check_rc_at(&(f)->err, rc, want, __FILE__, __LINE__)

/* Fail the test at file:line unless err's message contains part. */
void proto_check_msg_at(const qhil_error *err, const char *part,
                        const char *file, int line);
#define check_msg(f, part)                                                     \
    proto_check_msg_at(&(f)->err, part, __FILE__, __LINE__)

#endif /* QHIL_TESTS_PROTOUTIL_H */
