/*
 * clock.c - monotonic time, deadlines and duration parsing.
 *
 * Only CLOCK_MONOTONIC is used: wall-clock jumps must never shorten or
 * stretch a test's timeout.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qhil/clock.h>

int64_t qhil_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * QHIL_SEC + ts.tv_nsec;
}

int64_t qhil_deadline_in(int64_t ns)
{
    int64_t now = qhil_now();

    if (ns > INT64_MAX - now) {
        return INT64_MAX;
    }
    return now + ns;
}

int qhil_deadline_poll_ms(int64_t deadline)
{
    int64_t left = deadline - qhil_now();

    if (left <= 0) {
        return 0;
    }
    left = (left + QHIL_MSEC - 1) / QHIL_MSEC;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static const struct {
    const char *suffix;
    int64_t scale;
} duration_units[] = {
    {"ns", QHIL_NSEC}, {"us", QHIL_USEC},     {"ms", QHIL_MSEC},
    {"s", QHIL_SEC},   {"m", 60 * QHIL_SEC}, {"h", 3600 * QHIL_SEC},
};

int qhil_duration_parse(const char *text, int64_t *ns, qhil_error *err)
{
    const char *p = text;
    char *end = NULL;
    double value;
    int64_t scale = QHIL_SEC;

    if (!text || !*text) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "empty duration (expected e.g. 500ms, 10s)");
    }
    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (!isdigit((unsigned char)*p) && *p != '.') {
        return qhil_error_set(err, QHIL_EINVAL,
                              "invalid duration '%s' (expected a number "
                              "with ns, us, ms, s, m or h, e.g. 500ms)",
                              text);
    }
    /* Plain decimal only: the number is the run of digits and one dot
     * (strtod alone would also take "0x10" and "1e3"). */
    {
        const char *q = p;
        char num[64];
        int dots = 0;

        while (isdigit((unsigned char)*q) || *q == '.') {
            dots += *q == '.';
            q++;
        }
        if (dots > 1 || q == p || (q == p + 1 && *p == '.') ||
            (size_t)(q - p) >= sizeof(num)) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "invalid duration '%s' (expected a "
                                  "decimal number with a unit, e.g. "
                                  "500ms)",
                                  text);
        }
        memcpy(num, p, (size_t)(q - p));
        num[q - p] = '\0';
        value = strtod(num, NULL);
        end = (char *)q;
    }
    while (isspace((unsigned char)*end)) {
        end++;
    }
    if (*end) {
        size_t i;
        size_t len = strlen(end);

        while (len > 0 && isspace((unsigned char)end[len - 1])) {
            len--;
        }
        scale = 0;
        for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]);
             i++) {
            if (strlen(duration_units[i].suffix) == len &&
                strncmp(end, duration_units[i].suffix, len) == 0) {
                scale = duration_units[i].scale;
                break;
            }
        }
        if (!scale) {
            return qhil_error_set(err, QHIL_EINVAL,
                                  "invalid duration '%s': unknown unit "
                                  "'%.*s' (use ns, us, ms, s, m or h)",
                                  text, (int)len, end);
        }
    }
    if (!isfinite(value) || value < 0 ||
        value * (double)scale >= 9.2e18) {
        return qhil_error_set(err, QHIL_EINVAL,
                              "invalid duration '%s': out of range", text);
    }
    *ns = (int64_t)(value * (double)scale + 0.5);
    return QHIL_EOK;
}
