/*
 * qhil/lava.h - a suite as LAVA job definitions for LAVA's qemu device
 * type (docs/lava.md).
 *
 * The job layer's command line is split the way LAVA's qemu device type
 * takes it: the binary's arch, -machine, -cpu and -m go to the job's
 * context (arch, machine, cpu, memory), each image slot becomes a tmpfs
 * deploy image with its image_arg ("-kernel {kernel}") and a file:// url,
 * and the board's other options go to extra_options.  Each qhil test
 * becomes a qemu boot and an interactive test whose script carries the
 * test's expect patterns, sends and fail_on patterns.  Console input
 * without a trailing newline, system_reset and quit go through QEMU's
 * monitor multiplexed on the console (LAVA's -nographic default,
 * -serial mon:stdio), with Ctrl-A escapes.
 *
 * What LAVA cannot express is refused with QHIL_EUNSUPPORTED and the
 * step's "FILE:LINE: tests[i].steps[j]: ..." before anything is written:
 * QTest suites and steps, QMP steps other than a bare system_reset or
 * quit, per-test trace events, scratch disks, and boards whose binary is
 * not one of QEMU's qemu-system-ARCH.
 */
#ifndef QHIL_LAVA_H
#define QHIL_LAVA_H

#include <stdbool.h>

#include <qhil/error.h>
#include <qhil/job.h>
#include <qhil/suite.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Where and how to write.  Borrowed for the duration of the call. */
typedef struct qhil_lava_opts {
    const char *dir;    /* output folder; made (one level) when missing */
    bool per_test;      /* one job per test instead of one per suite */
    bool device_config; /* also SUITE.device.yaml: the device
                           configuration lava-run needs to run the jobs
                           standalone (lava-run --device) */
} qhil_lava_opts;

/*
 * Write the LAVA jobs of suite, whose job (qhil_job_from_suite) is job,
 * into opts->dir: SUITE.yaml, or SUITE-TEST.yaml per test (names made of
 * [A-Za-z0-9._-], other bytes '_').  Every job is built in memory first;
 * then each file is written to a temporary name in the folder and
 * renamed to its own without replacing anything.  When a target exists,
 * two tests map to one name or a step cannot be expressed, nothing is
 * written (QHIL_EINVAL, QHIL_EUNSUPPORTED with the reason); on an I/O
 * error the files this call wrote are removed again.  On success
 * *written (when not NULL) gets the paths written, NULL-terminated;
 * caller frees with qhil_argv_free.  Blocks on local file I/O only.
 */
int qhil_lava_export(const qhil_suite *suite, const qhil_job *job,
                     const qhil_lava_opts *opts, char ***written,
                     qhil_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* QHIL_LAVA_H */
