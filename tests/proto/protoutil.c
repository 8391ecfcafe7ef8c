/*
 * protoutil.c - fixture helpers shared by the protocol tests
 * (protoutil.h): fixture setup and teardown, code and message checks,
 * and the fake peer's verdict at the end of a test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protoutil.h"

int proto_setup(void **state, size_t size, size_t err_offset)
{
    char *f = calloc(1, size);

    if (!f) {
        return -1;
    }
    qhil_error_init((qhil_error *)(f + err_offset));
    *state = f;
    return 0;
}

int proto_teardown(void *fixture, scn_proc *peer, qhil_error *err)
{
    scn_finish(peer, 0, NULL);
    qhil_error_release(err);
    free(fixture);
    return 0;
}

void proto_finish_peer(scn_proc **peer)
{
    char *why = NULL;
    int rc = scn_finish(*peer, 2 * SCN_STEP_TIMEOUT_MS, &why);

    *peer = NULL;
    if (rc != 0) {
        print_error("fake peer: %s\n", why ? why : "failed");
    }
    free(why);
    if (rc != 0) {
        fail();
    }
}

void proto_check_rc_at(const qhil_error *err, int rc, int want,
                       const char *file, int line)
{
    if (rc != want) {
        print_error("got %s (%s), want %s\n", qhil_errname(rc),
                    qhil_error_message(err, rc), qhil_errname(want));
        _fail(file, line);
    }
}

void proto_check_msg_at(const qhil_error *err, const char *part,
                        const char *file, int line)
{
    if (!err->message || !strstr(err->message, part)) {
        print_error("message '%s' lacks '%s'\n",
                    err->message ? err->message : "(none)", part);
        _fail(file, line);
    }
}
