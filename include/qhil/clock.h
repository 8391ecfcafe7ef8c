/*
 * qhil/clock.h - the one time unit of the API.
 *
 * All times in libqhil are int64_t nanoseconds.  Deadlines are absolute
 * CLOCK_MONOTONIC instants (qhil_now() + timeout), so a loop of several
 * waits keeps one deadline instead of re-arming a timeout at every step.
 * Every blocking call takes a deadline; there is no "wait forever".
 */
#ifndef QHIL_CLOCK_H
#define QHIL_CLOCK_H

#include <stdint.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define QHIL_NSEC ((int64_t)1)
#define QHIL_USEC ((int64_t)1000)
#define QHIL_MSEC ((int64_t)1000000)
#define QHIL_SEC ((int64_t)1000000000)

/* Current CLOCK_MONOTONIC time in nanoseconds. */
int64_t qhil_now(void);

/* qhil_now() + ns, saturating instead of overflowing. */
int64_t qhil_deadline_in(int64_t ns);

/*
 * Milliseconds left until deadline, rounded up and clamped to [0, INT_MAX],
 * in the form poll() takes.
 */
int qhil_deadline_poll_ms(int64_t deadline);

/*
 * Parse a duration: a decimal number with a unit, "250ms", "10s", "1.5s",
 * "2m", "100us", "40ns"; a bare number means seconds.  Negative values,
 * unknown units and overflow fail with QHIL_EINVAL and a message naming
 * the text.  Does not block.
 */
int qhil_duration_parse(const char *text, int64_t *ns, qhil_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_CLOCK_H */
