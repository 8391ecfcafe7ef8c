/*
 * qhil/limits.h - what one run may use: QEMUs at once, memory per QEMU,
 * log bytes per test, bytes in the run folder.
 *
 * The lab sets the caps in its site file (site.h):
 *
 *   limits:
 *     jobs: 2            # QEMUs at once: a larger -j is cut to it
 *     memory: 256MiB     # resident memory per QEMU (RSS)
 *     console: 16MiB     # console.log per test: a larger suite limit
 *     qemu_log: 4MiB     #   is refused before anything runs
 *     run_folder: 1GiB   # all of the run's logs
 *
 * and whoever runs qhil may lower them for one run (qhil run
 * --max-memory, --max-run-folder, -j), never raise them: the run's
 * limit is the smaller of the site's and the option's, for trusted and
 * untrusted jobs alike.  0 everywhere means "no cap".
 */
#ifndef QHIL_LIMITS_H
#define QHIL_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* An option struct: filled in by the site, or by hand. */
typedef struct qhil_limits {
    size_t jobs;         /* QEMUs at once; 0: no cap */
    uint64_t memory;     /* resident bytes per QEMU; 0: no cap */
    uint64_t console;    /* console.log bytes per test; 0: no cap */
    uint64_t qemu_log;   /* qemu.log bytes per test; 0: no cap */
    uint64_t run_folder; /* bytes of logs in the run folder; 0: no cap */
    /* Where each came from ("site.yaml:7", "--max-memory"), or NULL;
     * static or borrowed from the site. */
    const char *jobs_from;
    const char *memory_from;
    const char *console_from;
    const char *qemu_log_from;
    const char *run_folder_from;
} qhil_limits;

/* The smallest size a limit may have, and the largest. */
#define QHIL_LIMIT_MIN ((uint64_t)4 << 10)
#define QHIL_LIMIT_MAX ((uint64_t)64 << 30)

/*
 * A size as suites, site files and options spell it: "65536", "512KiB",
 * "64MiB", "1GiB" (binary units only: "1MB" is refused rather than
 * guessed), from QHIL_LIMIT_MIN to QHIL_LIMIT_MAX.  QHIL_EINVAL with a
 * message naming what (an option or a field) otherwise.  No blocking.
 */
int qhil_size_parse(const char *text, const char *what, uint64_t *out,
                    qhil_error *err);

/* "64 MiB", "1.5 GiB", "512 KiB", "100 bytes" into buf (at least 32
 * bytes): how the messages print a limit. */
const char *qhil_size_format(uint64_t bytes, char *buf, size_t size);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_LIMITS_H */
