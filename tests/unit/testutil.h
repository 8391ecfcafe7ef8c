/*
 * testutil.h - assertions shared by the unit tests (include after
 * <cmocka.h>).
 */
#ifndef QHIL_TESTUTIL_H
#define QHIL_TESTUTIL_H

#include <string.h>

/* hay (may be NULL) contains needle. */
#define assert_contains(hay, needle)                                          \
    do {                                                                      \
        const char *h_ = (hay);                                               \
        const char *n_ = (needle);                                            \
        if (!h_ || !strstr(h_, n_)) {                                         \
            fail_msg("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)");    \
        }                                                                     \
    } while (0)

/* hay does not contain needle. */
#define assert_not_contains(hay, needle)                                      \
    do {                                                                      \
        if (strstr((hay), (needle))) {                                        \
            fail_msg("did not expect \"%s\"", (needle));                      \
        }                                                                     \
    } while (0)

#endif /* QHIL_TESTUTIL_H */
