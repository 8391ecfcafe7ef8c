/*
 * qhil/qtest.h - QEMU's QTest protocol: poke a machine's devices directly.
 *
 * QTest is QEMU's line protocol for tests: read and write guest physical
 * memory and MMIO registers, watch and drive IRQ lines, and (with the
 * qtest accelerator, where no CPU runs) move virtual time by hand.  A
 * qhil_qtest owns one connected stream socket to QEMU's -qtest chardev.
 *
 * Requests are lines ("readl 0x4000000"); every request gets exactly one
 * reply line, "OK [value]" or "FAIL message", in order.  QEMU also sends
 * "IRQ raise N" / "IRQ lower N" lines at any time once an intercept is on;
 * the client records them (current level per line, and how often each
 * line was raised) and never mistakes them for replies.
 *
 * Pipelining: qhil_qtest_submit() queues requests without waiting, and
 * qhil_qtest_collect() takes the replies in order, so N reads cost one
 * round trip instead of N.  The blocking helpers (readl, writel, ...) are
 * submit + collect of one request.
 *
 * QEMU aborts on a malformed request instead of answering FAIL, so the
 * client checks every request before it is sent: sizes, QOM paths with no
 * blanks, and so on.  Clock commands exist only with the qtest
 * accelerator: a client told it runs alongside TCG (see
 * qhil_qtest_set_clock_allowed) refuses them with QHIL_EUNSUPPORTED and a
 * message saying so, and a "FAIL Unknown command 'clock_step'" from QEMU
 * is turned into the same error.
 *
 * Errors: QHIL_ECMD for a FAIL reply (message is QEMU's), QHIL_EINVAL for
 * a request refused before sending, QHIL_ETIMEDOUT when the deadline
 * passes while a reply is owed (sticky: a late reply would put replies
 * out of step; a wait_irq timeout, or a request QEMU never started to
 * take, leaves the connection usable), QHIL_EEOF
 * / QHIL_EPROTO sticky as in qmp.h, QHIL_ECANCELED when the cancel fd
 * became readable (sticky like a timeout while a reply is owed).  Every
 * wait takes an absolute CLOCK_MONOTONIC deadline, and reads what is
 * already in the socket before it reports a timeout: a deadline of
 * qhil_now() still finds a reply or IRQ report that has come.
 */
#ifndef QHIL_QTEST_H
#define QHIL_QTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qhil/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct qhil_qtest qhil_qtest;

/* Wrap a connected socket; takes ownership of fd (closed by
 * qhil_qtest_free, also when this fails). */
int qhil_qtest_new(int fd, qhil_qtest **out, qhil_error *err);

/* Close and free; NULL is fine. */
void qhil_qtest_free(qhil_qtest *qt);

/* Whether clock_step/clock_set may be sent (default true). */
void qhil_qtest_set_clock_allowed(qhil_qtest *qt, bool allowed);

/*
 * Make every later wait (the blocking calls, collect, flush, submit's
 * write, wait_irq) also watch fd, e.g. the read end of a signal
 * handler's self-pipe: once fd is readable (or at EOF) the wait returns
 * QHIL_ECANCELED, "interrupted ...", at once.  The client never reads
 * fd.  Canceling a wait for a reply is sticky, as its timeout is;
 * canceling wait_irq, or a write QEMU had not started to take, is not.
 * fd is borrowed and must stay open while set; -1 removes it (the
 * default).  A closed fd makes waits fail with QHIL_EINVAL.
 */
void qhil_qtest_set_cancel_fd(qhil_qtest *qt, int fd);

/* ---- blocking calls: one request, one reply ---------------------- */

int qhil_qtest_readb(qhil_qtest *qt, uint64_t addr, uint8_t *value,
                     int64_t deadline, qhil_error *err);
int qhil_qtest_readw(qhil_qtest *qt, uint64_t addr, uint16_t *value,
                     int64_t deadline, qhil_error *err);
int qhil_qtest_readl(qhil_qtest *qt, uint64_t addr, uint32_t *value,
                     int64_t deadline, qhil_error *err);
int qhil_qtest_readq(qhil_qtest *qt, uint64_t addr, uint64_t *value,
                     int64_t deadline, qhil_error *err);

int qhil_qtest_writeb(qhil_qtest *qt, uint64_t addr, uint8_t value,
                      int64_t deadline, qhil_error *err);
int qhil_qtest_writew(qhil_qtest *qt, uint64_t addr, uint16_t value,
                      int64_t deadline, qhil_error *err);
int qhil_qtest_writel(qhil_qtest *qt, uint64_t addr, uint32_t value,
                      int64_t deadline, qhil_error *err);
int qhil_qtest_writeq(qhil_qtest *qt, uint64_t addr, uint64_t value,
                      int64_t deadline, qhil_error *err);

/*
 * Read/write len bytes of guest memory ("read"/"write", hex encoded).
 * For these, bufread/bufwrite and memset below: a len of 0 sends
 * nothing and returns QHIL_EOK (buf may then be NULL); only a connection
 * that has already failed returns its sticky error instead.
 */
int qhil_qtest_memread(qhil_qtest *qt, uint64_t addr, void *buf,
                       size_t len, int64_t deadline, qhil_error *err);
int qhil_qtest_memwrite(qhil_qtest *qt, uint64_t addr, const void *buf,
                        size_t len, int64_t deadline, qhil_error *err);

/* The same with base64 encoding ("b64read"/"b64write"): a third less
 * on the wire, for large buffers. */
int qhil_qtest_bufread(qhil_qtest *qt, uint64_t addr, void *buf,
                       size_t len, int64_t deadline, qhil_error *err);
int qhil_qtest_bufwrite(qhil_qtest *qt, uint64_t addr, const void *buf,
                        size_t len, int64_t deadline, qhil_error *err);

/* Fill len bytes at addr with byte. */
int qhil_qtest_memset(qhil_qtest *qt, uint64_t addr, uint8_t byte,
                      size_t len, int64_t deadline, qhil_error *err);

/*
 * Advance virtual time by ns (clock_step N), or to the next timer
 * deadline when ns < 0 (clock_step).  *now (may be NULL): the virtual
 * clock after the step, ns.  Needs the qtest accelerator.
 */
int qhil_qtest_clock_step(qhil_qtest *qt, int64_t ns, int64_t *now,
                          int64_t deadline, qhil_error *err);

/* Set the virtual clock to ns (it never goes backwards). */
int qhil_qtest_clock_set(qhil_qtest *qt, int64_t ns, int64_t *now,
                         int64_t deadline, qhil_error *err);

/*
 * Intercept the unnamed GPIO inputs (in) or outputs (out) of the device
 * at a QOM path, e.g. an interrupt controller's inputs.  QEMU allows one
 * intercepted device per machine.  After this, IRQ lines are reported.
 * On mps2-an385 the NVIC's inputs are intercepted at /machine/armv7m; on
 * qhil's RISC-V virt build the PLIC is /machine/qhil-irqchip.
 */
int qhil_qtest_irq_intercept_in(qhil_qtest *qt, const char *qom_path,
                                int64_t deadline, qhil_error *err);
int qhil_qtest_irq_intercept_out(qhil_qtest *qt, const char *qom_path,
                                 int64_t deadline, qhil_error *err);

/* Drive input line num of the named GPIO list (NULL or "" for the
 * unnamed one) of the device at qom_path to level. */
int qhil_qtest_set_irq_in(qhil_qtest *qt, const char *qom_path,
                          const char *name, int num, int level,
                          int64_t deadline, qhil_error *err);

/*
 * Current level of intercepted line num as last reported (false before
 * any report).  Reads what has arrived, without waiting.
 */
bool qhil_qtest_get_irq(qhil_qtest *qt, int num);

/* How many times line num was raised since the intercept (or since
 * qhil_qtest_clear_irq_counts). */
uint64_t qhil_qtest_irq_raised(qhil_qtest *qt, int num);
void qhil_qtest_clear_irq_counts(qhil_qtest *qt);

/*
 * Wait until line num is at level (true: raised) or deadline.  Returns
 * at once if it already is.  With the qtest accelerator time stands still
 * between clock steps, so this only makes sense after a step or alongside
 * TCG.
 */
int qhil_qtest_wait_irq(qhil_qtest *qt, int num, bool level,
                        int64_t deadline, qhil_error *err);

/* ---- pipelining -------------------------------------------------- */

/*
 * Queue one raw request line (without the newline), e.g. "readl 0x1000".
 * It is checked at once; queued requests are written together, in one
 * write, when 16 KiB have queued up or before any reply is waited for
 * (qhil_qtest_collect, every blocking call, qhil_qtest_flush), so N
 * pipelined requests cost a few system calls, not N.  Blocks only for
 * such a write, until deadline.  Replies come back in order through
 * qhil_qtest_collect.
 */
int qhil_qtest_submit(qhil_qtest *qt, const char *line, int64_t deadline,
                      qhil_error *err);

/*
 * Write the queued requests now (for callers that poll qhil_qtest_fd
 * themselves after submitting).  A failure is sticky: a queued request
 * that was never sent would wait for its reply forever.
 */
int qhil_qtest_flush(qhil_qtest *qt, int64_t deadline, qhil_error *err);

/*
 * Wait for the reply to the oldest request still unanswered.
 * *reply (may be NULL): the text after "OK" (may be ""), malloc'ed,
 * caller frees.  QHIL_ECMD for a FAIL reply.
 */
int qhil_qtest_collect(qhil_qtest *qt, char **reply, int64_t deadline,
                       qhil_error *err);

/* Requests sent whose replies have not been collected. */
size_t qhil_qtest_pending(const qhil_qtest *qt);

/* Non-blocking: read what arrived, record IRQ lines, queue replies. */
int qhil_qtest_dispatch(qhil_qtest *qt, qhil_error *err);

/* The socket, for poll(); borrowed. */
int qhil_qtest_fd(const qhil_qtest *qt);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* QHIL_QTEST_H */
