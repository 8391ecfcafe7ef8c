/*
 * qhil/machine.h - one QEMU process, from start to reaped.
 *
 * qhil_machine_launch() takes a complete QEMU argv (see qhil_job_argv)
 * and adds the wiring qhil owns: a QMP monitor and the first serial port,
 * each on one end of a socketpair passed to QEMU as an inherited fd
 * ("-chardev socket,fd=N").  No listening socket, no path, no port: there
 * is nothing to race for and nothing another user can connect to.
 * QEMU's stdout and stderr go to qemu.log (through a pipe qhil drains,
 * capped at log_limit bytes: the head and the last 1 MiB are kept), the
 * guest's serial output to console.log, both in the run directory, and
 * both are kept; QEMU's pid goes to qemu.pid there too.  Those three files
 * must not exist yet: launch creates them with O_EXCL|O_NOFOLLOW and
 * fails when one is there (a planted symlink is never followed), so give
 * each machine a fresh folder.  On request a third socketpair carries
 * QEMU's QTest protocol (qtest.h), for tests that poke devices directly.
 *
 * States:
 *
 *   launch --QMP handshake ok--> RUNNING --shutdown()--> STOPPED (reaped)
 *      \--exec fails, QEMU exits, no greeting--> error, child reaped
 *   RUNNING --QEMU exits by itself--> noticed by qhil_machine_check()
 *
 * QEMU runs in a process group of its own under a small guard process
 * (a fork of ours): signals go to the whole group, so what QEMU starts
 * (a -netdev tap script, an exec: migration) ends with it; when QEMU
 * exits, the rest of its group is killed before QEMU is reaped; and when
 * the process that launched it dies (even by kill -9), the guard kills
 * the group.  Shutdown is graceful first: QMP "quit", wait; SIGTERM,
 * wait; SIGKILL; reap.  qhil_machine_free() on a running machine skips
 * to SIGKILL.  Once a machine is reaped, nothing of it runs any more and
 * qemu.log is complete.
 */
#ifndef QHIL_MACHINE_H
#define QHIL_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <qhil/console.h>
#include <qhil/error.h>
#include <qhil/qmp.h>
#include <qhil/qtest.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct qhil_machine qhil_machine;

typedef struct qhil_machine_opts {
    const char *const *argv; /* QEMU argv, NULL-terminated; argv[0] is
                                looked up in PATH when it has no '/' */
    const char *const *envp; /* QEMU's whole environment: NULL-terminated
                                "NAME=VALUE" strings, borrowed for the
                                call; QEMU gets exactly these and nothing
                                of ours (PATH included: argv[0] is still
                                looked up in our PATH).  NULL: QEMU
                                inherits our environment */
    const char *run_dir;     /* existing directory for console.log,
                                qemu.log and qemu.pid, which must not be
                                there yet */
    int64_t start_timeout;   /* QMP ready deadline, ns; 0: 10 s */
    int64_t stop_timeout;    /* each shutdown phase, ns; 0: 3 s */
    bool qtest;              /* open a QTest socket (qhil_machine_qtest) */
    bool qtest_accel;        /* start QEMU with -accel qtest: no CPU runs
                                and virtual time moves only by
                                qhil_qtest_clock_step; implies qtest.
                                Needs a QEMU built with the qtest
                                accelerator (Debian's has none: launch
                                then fails with QEMU's own message) */
    int64_t deadline;        /* absolute CLOCK_MONOTONIC ns (qhil_now()),
                                0: none; every wait of launch ends by the
                                earlier of this and start_timeout (a
                                test's own deadline) */
    uint64_t log_limit;      /* qemu.log keeps at most this many bytes;
                                0: 64 MiB */
    uint64_t memory_limit;   /* QEMU's resident bytes (RSS) at most, 0:
                                no cap; its guard looks every 20 ms and
                                kills it over the cap: it then ends as
                                if it died, with "QEMU memory over N"
                                from qhil_machine_check */
    bool has_cancel;         /* cancel_fd is set: launch's QMP handshake
                                ends with QHIL_ECANCELED once it is
                                readable (never read); the machine's
                                clients keep it, see
                                qhil_machine_set_cancel_fd */
    int cancel_fd;
} qhil_machine_opts;

/* How a machine ended. */
typedef enum qhil_machine_end {
    QHIL_END_RUNNING,  /* not ended yet */
    QHIL_END_QUIT,     /* left after QMP quit */
    QHIL_END_TERM,     /* needed SIGTERM */
    QHIL_END_KILL,     /* needed SIGKILL */
    QHIL_END_SELF,     /* ended by itself (guest exit, crash, kill) */
} qhil_machine_end;

/*
 * Start QEMU and complete the QMP handshake.  On failure nothing is left
 * running and err says why, with the end of QEMU's own stderr when QEMU
 * started but died ("qemu-system-arm: -kernel x.elf: could not load...").
 * Blocks until QMP is ready or the earlier of start_timeout and
 * opts->deadline, plus up to 2 s (never past opts->deadline) to collect
 * the exit status of a QEMU that died, and on failure up to 10 s for the
 * kernel to deliver SIGKILL.
 * Caller frees *out with qhil_machine_free.
 */
int qhil_machine_launch(const qhil_machine_opts *opts, qhil_machine **out,
                        qhil_error *err);

/*
 * The arguments launch appends to opts->argv for these qtest and
 * qtest_accel settings (QMP, console and QTest chardevs, the qtest
 * accelerator), NULL-terminated.  Static, never freed; for showing the
 * whole command line (qhil/job.h).
 */
const char *const *qhil_machine_wiring(bool qtest, bool qtest_accel);

/* Borrowed handles, valid until qhil_machine_free. */
qhil_qmp *qhil_machine_qmp(qhil_machine *m);
qhil_console *qhil_machine_console(qhil_machine *m);

/* The QTest client; NULL unless opts.qtest or opts.qtest_accel.  Clock
 * commands are allowed only with qtest_accel.  Borrowed, as above. */
qhil_qtest *qhil_machine_qtest(qhil_machine *m);

/* QEMU's own pid, also its process group id (not our child: the guard
 * between reaps it). */
pid_t qhil_machine_pid(const qhil_machine *m);
const char *qhil_machine_console_log(const qhil_machine *m);
const char *qhil_machine_qemu_log(const qhil_machine *m);

/*
 * Non-blocking: has QEMU exited?  QHIL_EOK while it runs; QHIL_EEXITED
 * once it has, with err saying how ("QEMU exited with status 1: <last
 * stderr line>").  Reaps it.
 */
int qhil_machine_check(qhil_machine *m, qhil_error *err);

/*
 * Non-blocking: did QEMU write more than log_limit bytes to its stdout
 * and stderr?  QHIL_EOK while not, QHIL_ELIMIT "QEMU output over N
 * bytes" once it did (qemu.log then keeps its head and its last 1 MiB,
 * behind a "[qhil: N bytes of QEMU output dropped here]" line).  Meant
 * for after shutdown, to fail the test; valid at any time.
 */
int qhil_machine_log_check(qhil_machine *m, qhil_error *err);

/*
 * Wait until QEMU has exited by itself or deadline (QHIL_ETIMEDOUT);
 * for guests that end the run themselves.
 */
int qhil_machine_wait_exit(qhil_machine *m, int64_t deadline,
                           qhil_error *err);

/*
 * Stop QEMU (quit, SIGTERM, SIGKILL; each phase stop_timeout) and reap
 * it.  Safe to call on an exited machine.  Returns QHIL_EOK however it
 * ended (see qhil_machine_end_how and _status), or QHIL_EBUSY in the one
 * case the kernel does not deliver SIGKILL within 10 s.
 */
int qhil_machine_shutdown(qhil_machine *m, qhil_error *err);

/* The resident bytes QEMU had when its guard killed it for going over
 * opts.memory_limit, or 0 when it did not (yet: known once reaped). */
uint64_t qhil_machine_memory_killed(const qhil_machine *m);

/* How and with which waitpid status it ended. */
qhil_machine_end qhil_machine_end_how(const qhil_machine *m);
int qhil_machine_status(const qhil_machine *m);

/*
 * The last max_lines lines of QEMU's stderr log (of its last 64 KiB,
 * from memory while the log is over its cap), malloc'ed, caller frees;
 * "" when empty or unreadable.
 */
char *qhil_machine_stderr_tail(const qhil_machine *m, size_t max_lines);

/* Kill (if running), reap, close everything; NULL is fine. */
void qhil_machine_free(qhil_machine *m);

/*
 * Hand fd (e.g. the read end of a signal handler's self-pipe) to the
 * machine's QMP, QTest and console clients: each of their waits ends
 * with QHIL_ECANCELED once fd is readable (see qhil_qmp_set_cancel_fd).
 * fd is borrowed; -1 removes it.  qhil_machine_shutdown uses the QMP
 * client too, so remove the fd before shutting down after a cancel.
 */
void qhil_machine_set_cancel_fd(qhil_machine *m, int fd);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_MACHINE_H */
