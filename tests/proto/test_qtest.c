/*
 * test_qtest.c - protocol tests of the QTest client.
 *
 * Most tests start a scripted line peer (fakeline.c) on a scenario from
 * qtest/ and run the real client on the other end of the socketpair; the
 * peer checks every line the client writes, finish() fails the test with
 * its report if the scenario did not run to its end.  The base64 and
 * reply-fuzz tests play the peer themselves on a socketpair: the reply is
 * written before the call, the request is read and checked after it.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <qhil/clock.h>
#include <qhil/qtest.h>

#include "fakeline.h"
#include "protoutil.h"

#define SCENARIO(name) QHIL_PROTO_DIR "/qtest/" name

/* Generous: only reached when the client is broken. */
#define LONG_WAIT (5 * QHIL_SEC)

typedef struct fixture {
    fakeline *peer;
    qhil_qtest *qt;
    qhil_error err;
} fixture;

static int setup(void **state)
{
    return proto_setup(state, sizeof(fixture), offsetof(fixture, err));
}

/* Also the cleanup of a failed test: do not wait for the peer then. */
static int teardown(void **state)
{
    fixture *f = *state;

    qhil_qtest_free(f->qt);
    return proto_teardown(f, f->peer, &f->err);
}

static void start(fixture *f, const char *path)
{
    int fd = -1;

    assert_int_equal(fakeline_start(path, &f->peer, &fd), 0);
    check_rc(f, qhil_qtest_new(fd, &f->qt, &f->err), QHIL_EOK);
}

/* Close the client, then the peer must report a complete scenario. */
static void finish(fixture *f)
{
    qhil_qtest_free(f->qt);
    f->qt = NULL;
    proto_finish_peer(&f->peer);
}

static int64_t later(void)
{
    return qhil_deadline_in(LONG_WAIT);
}

/* A failed connection answers every call with the same error, and sends
 * nothing (the scenarios expect nothing more). */
static void check_sticky(fixture *f, int code, const char *part)
{
    uint32_t v = 1;
    char *reply = NULL;

    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, later(), &f->err), code);
    check_msg(f, part);
    assert_int_equal(v, 0);
    check_rc(f, qhil_qtest_submit(f->qt, "readl 0x0", later(), &f->err), code);
    check_rc(f, qhil_qtest_collect(f->qt, &reply, later(), &f->err), code);
    assert_null(reply);
    check_rc(f, qhil_qtest_dispatch(f->qt, &f->err), code);
    check_msg(f, part);
}

/* ---- wire format -------------------------------------------------- */

static void test_values(void **state)
{
    fixture *f = *state;
    uint8_t b = 0;
    uint16_t w = 0;
    uint32_t l = 0;
    uint64_t q = 0;

    start(f, SCENARIO("values.scn"));
    check_rc(f, qhil_qtest_readb(f->qt, 0x40004010, &b, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(b, 0xa5);
    check_rc(f, qhil_qtest_readw(f->qt, 0x40004012, &w, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(w, 0xbeef);
    check_rc(f, qhil_qtest_readl(f->qt, 0x40004000, &l, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(l, 0xdeadbeef);
    check_rc(f, qhil_qtest_readq(f->qt, 0x20000000, &q, later(), &f->err),
             QHIL_EOK);
    assert_true(q == 0x0123456789abcdefULL);
    l = 7;
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &l, later(), &f->err), QHIL_EOK);
    assert_int_equal(l, 0);
    check_rc(f, qhil_qtest_writeb(f->qt, 0x40004010, 0x5a, later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_writew(f->qt, 0x40004010, 0xbeef, later(), &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qtest_writel(f->qt, 0x40004010, 0xdeadbeef, later(), &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qtest_writeq(f->qt, 0xffffffff00000000ULL, UINT64_MAX,
                               later(), &f->err),
             QHIL_EOK);
    assert_int_equal(qhil_qtest_pending(f->qt), 0);
    finish(f);
}

static void test_memory(void **state)
{
    fixture *f = *state;
    static const uint8_t out[3] = {0x00, 0xff, 0x7f};
    uint8_t in[4] = {0};

    start(f, SCENARIO("memory.scn"));
    check_rc(
        f,
        qhil_qtest_memread(f->qt, 0x20000000, in, sizeof(in), later(), &f->err),
        QHIL_EOK);
    assert_int_equal(in[0], 0x01);
    assert_int_equal(in[1], 0x02);
    assert_int_equal(in[2], 0xa0);
    assert_int_equal(in[3], 0xff);
    check_rc(f,
             qhil_qtest_memwrite(f->qt, 0x20000010, out, sizeof(out), later(),
                                 &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qtest_memset(f->qt, 0x20000100, 0x5a, 64, later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_memset(f->qt, 0x0, 0, 1, later(), &f->err),
             QHIL_EOK);
    /* Nothing to move: nothing sent. */
    check_rc(f, qhil_qtest_memread(f->qt, 0x0, NULL, 0, later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_memset(f->qt, 0x0, 1, 0, later(), &f->err),
             QHIL_EOK);
    finish(f);
}

static void test_b64_vectors(void **state)
{
    fixture *f = *state;
    static const char *const vectors[] = {"f",    "fo",    "foo",
                                          "foob", "fooba", "foobar"};
    static const uint8_t high[3] = {0xfb, 0xff, 0xbf};
    uint8_t in[6] = {0};
    size_t i;

    start(f, SCENARIO("b64.scn"));
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        check_rc(f,
                 qhil_qtest_bufwrite(f->qt, 0x1000, vectors[i],
                                     strlen(vectors[i]), later(), &f->err),
                 QHIL_EOK);
    }
    check_rc(f, qhil_qtest_bufwrite(f->qt, 0x1000, high, 3, later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_bufread(f->qt, 0x2000, in, 6, later(), &f->err),
             QHIL_EOK);
    assert_memory_equal(in, "foobar", 6);
    check_rc(f, qhil_qtest_bufread(f->qt, 0x2000, in, 2, later(), &f->err),
             QHIL_EOK);
    assert_memory_equal(in, high, 2);
    check_rc(f, qhil_qtest_bufread(f->qt, 0x2000, in, 1, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(in[0], 'f');
    finish(f);
}

static void test_fail_reply(void **state)
{
    fixture *f = *state;
    char *reply = NULL;
    uint32_t v = 0;

    start(f, SCENARIO("fail.scn"));
    check_rc(
        f,
        qhil_qtest_irq_intercept_in(f->qt, "/machine/nosuch", later(), &f->err),
        QHIL_ECMD);
    assert_string_equal(f->err.message, "QTest request 'irq_intercept_in "
                                        "/machine/nosuch' failed: Unknown "
                                        "device");
    /* Unknown commands pass the checks; QEMU's answer is the error. */
    check_rc(f, qhil_qtest_submit(f->qt, "bogus_cmd 1", later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_collect(f->qt, &reply, later(), &f->err), QHIL_ECMD);
    assert_null(reply);
    check_msg(f, "Unknown command 'bogus_cmd'");
    check_rc(f, qhil_qtest_submit(f->qt, "endianness", later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_collect(f->qt, NULL, later(), &f->err), QHIL_ECMD);
    check_msg(f, "QEMU gave no reason");
    check_rc(f, qhil_qtest_submit(f->qt, "endianness", later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_collect(f->qt, NULL, later(), &f->err), QHIL_ECMD);
    check_msg(f, "invalid argument size");
    /* Not sticky. */
    check_rc(f, qhil_qtest_readl(f->qt, 0x4, &v, later(), &f->err), QHIL_EOK);
    assert_int_equal(v, 7);
    finish(f);
}

/* ---- IRQs --------------------------------------------------------- */

static void test_irq_lines(void **state)
{
    fixture *f = *state;
    uint32_t v = 0;
    int64_t t0;

    start(f, SCENARIO("irq.scn"));
    assert_false(qhil_qtest_get_irq(f->qt, 3));
    check_rc(
        f,
        qhil_qtest_irq_intercept_in(f->qt, "/machine/armv7m", later(), &f->err),
        QHIL_EOK);
    /* Reported before the reply. */
    assert_true(qhil_qtest_get_irq(f->qt, 3));
    assert_int_equal(qhil_qtest_irq_raised(f->qt, 3), 1);

    /* Around a reply in one write. */
    check_rc(f, qhil_qtest_readl(f->qt, 0x40000000, &v, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(v, 1);
    assert_true(qhil_qtest_get_irq(f->qt, 8));
    check_rc(f, qhil_qtest_dispatch(f->qt, &f->err), QHIL_EOK);
    assert_false(qhil_qtest_get_irq(f->qt, 3));

    /* After a reply: a repeated raise is no new change, a pulse is. */
    check_rc(f, qhil_qtest_readl(f->qt, 0x40000004, &v, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(v, 2);
    check_rc(f, qhil_qtest_dispatch(f->qt, &f->err), QHIL_EOK);
    assert_int_equal(qhil_qtest_irq_raised(f->qt, 8), 1);
    assert_false(qhil_qtest_get_irq(f->qt, 9));
    assert_int_equal(qhil_qtest_irq_raised(f->qt, 9), 1);

    /* Lines nobody reported, and nonsense numbers. */
    assert_false(qhil_qtest_get_irq(f->qt, 100000));
    assert_false(qhil_qtest_get_irq(f->qt, -1));
    assert_int_equal(qhil_qtest_irq_raised(f->qt, -5), 0);
    assert_int_equal(qhil_qtest_irq_raised(f->qt, 1 << 30), 0);

    /* Unnamed GPIO list: QEMU's name for it on the wire. */
    check_rc(f,
             qhil_qtest_set_irq_in(f->qt, "/machine/armv7m", NULL, 8, 0,
                                   later(), &f->err),
             QHIL_EOK);
    /* Already raised: returns at once. */
    check_rc(f, qhil_qtest_wait_irq(f->qt, 8, true, qhil_now(), &f->err),
             QHIL_EOK);
    /* The lower comes 100 ms later. */
    t0 = qhil_now();
    check_rc(f, qhil_qtest_wait_irq(f->qt, 8, false, later(), &f->err),
             QHIL_EOK);
    assert_true(qhil_now() - t0 >= 50 * QHIL_MSEC);
    assert_false(qhil_qtest_get_irq(f->qt, 8));

    /* A pulse (raise and lower in one write) satisfies a wait for the
     * raise even though the line is low again. */
    qhil_qtest_clear_irq_counts(f->qt);
    assert_int_equal(qhil_qtest_irq_raised(f->qt, 9), 0);
    check_rc(f, qhil_qtest_wait_irq(f->qt, 8, true, later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_wait_irq(f->qt, 8, false, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(qhil_qtest_irq_raised(f->qt, 8), 1);

    /* A wait that times out is no connection failure. */
    t0 = qhil_now();
    check_rc(f,
             qhil_qtest_wait_irq(f->qt, 20, true, qhil_now() + 50 * QHIL_MSEC,
                                 &f->err),
             QHIL_ETIMEDOUT);
    assert_true(qhil_now() - t0 >= 50 * QHIL_MSEC);
    assert_string_equal(f->err.message, "QTest IRQ line 20 was not raised "
                                        "before the deadline");
    check_rc(f, qhil_qtest_wait_irq(f->qt, -1, true, later(), &f->err),
             QHIL_EINVAL);

    check_rc(f,
             qhil_qtest_set_irq_in(f->qt, "/machine/armv7m", "NMI", 0, 1,
                                   later(), &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qtest_set_irq_in(f->qt, "/machine/armv7m/nvic", "", 31, -1,
                                   later(), &f->err),
             QHIL_EOK);
    check_rc(f,
             qhil_qtest_irq_intercept_out(f->qt, "/machine/timer0", later(),
                                          &f->err),
             QHIL_EOK);
    finish(f);
}

static void test_irq_out_of_range(void **state)
{
    fixture *f = *state;
    uint32_t v = 0;

    start(f, SCENARIO("irq_bad.scn"));
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, later(), &f->err),
             QHIL_EPROTO);
    check_msg(f, "'70000'");
    check_sticky(f, QHIL_EPROTO, "'70000'");
    finish(f);
}

/* ---- pipelining --------------------------------------------------- */

static void test_pipeline(void **state)
{
    fixture *f = *state;
    char line[64];
    char *reply = NULL;
    uint8_t b = 0;
    int i;

    start(f, SCENARIO("pipeline.scn"));
    for (i = 0; i < 100; i++) {
        snprintf(line, sizeof(line), "readl 0x%x", i);
        check_rc(f, qhil_qtest_submit(f->qt, line, later(), &f->err), QHIL_EOK);
    }
    assert_int_equal(qhil_qtest_pending(f->qt), 100);
    for (i = 0; i < 100; i++) {
        check_rc(f, qhil_qtest_collect(f->qt, &reply, later(), &f->err),
                 QHIL_EOK);
        snprintf(line, sizeof(line), "0x%x", i);
        assert_string_equal(reply, line);
        free(reply);
        reply = NULL;
        assert_int_equal(qhil_qtest_pending(f->qt), (size_t)(99 - i));
    }
    check_rc(f, qhil_qtest_collect(f->qt, &reply, later(), &f->err),
             QHIL_EINVAL);

    /* A blocking call behind a submitted request gets its own reply. */
    check_rc(f, qhil_qtest_submit(f->qt, "readl 0x1000", later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_readb(f->qt, 0x2000, &b, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(b, 0x22);
    assert_int_equal(qhil_qtest_pending(f->qt), 1);
    check_rc(f, qhil_qtest_collect(f->qt, &reply, later(), &f->err), QHIL_EOK);
    assert_string_equal(reply, "0x11");
    free(reply);
    finish(f);
}

static void test_split(void **state)
{
    fixture *f = *state;
    uint64_t q = 0;

    start(f, SCENARIO("split.scn"));
    check_rc(f, qhil_qtest_readq(f->qt, 0x0, &q, later(), &f->err), QHIL_EOK);
    assert_true(q == 0x0123456789abcdefULL);
    check_rc(f, qhil_qtest_writel(f->qt, 0x0, 1, later(), &f->err), QHIL_EOK);
    assert_true(qhil_qtest_get_irq(f->qt, 2));
    finish(f);
}

/* ---- broken connections ------------------------------------------- */

static void test_garbage(void **state)
{
    fixture *f = *state;
    uint32_t v = 5;

    start(f, SCENARIO("garbage.scn"));
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, later(), &f->err),
             QHIL_EPROTO);
    assert_int_equal(v, 0);
    assert_string_equal(f->err.message,
                        "QTest server sent a line that is neither a reply "
                        "nor an IRQ report: 'HELLO there'");
    check_sticky(f, QHIL_EPROTO, "HELLO there");
    finish(f);
}

static void test_unsolicited(void **state)
{
    fixture *f = *state;
    struct pollfd pfd = {.events = POLLIN};

    start(f, SCENARIO("unsolicited.scn"));
    pfd.fd = qhil_qtest_fd(f->qt);
    assert_int_equal(poll(&pfd, 1, (int)(LONG_WAIT / QHIL_MSEC)), 1);
    check_rc(f, qhil_qtest_dispatch(f->qt, &f->err), QHIL_EPROTO);
    check_msg(f, "reply to no request");
    check_sticky(f, QHIL_EPROTO, "reply to no request");
    finish(f);
}

static void test_eof_mid_line(void **state)
{
    fixture *f = *state;
    uint32_t v = 0;

    start(f, SCENARIO("eof.scn"));
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, later(), &f->err), QHIL_EOK);
    assert_int_equal(v, 1);
    check_rc(f, qhil_qtest_readl(f->qt, 0x4, &v, later(), &f->err), QHIL_EEOF);
    assert_string_equal(f->err.message,
                        "QTest connection closed in the middle of a line");
    check_sticky(f, QHIL_EEOF, "middle of a line");
    finish(f);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    uint32_t v = 0;
    int64_t t0 = qhil_now();

    start(f, SCENARIO("timeout.scn"));
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, t0 + 100 * QHIL_MSEC, &f->err),
             QHIL_ETIMEDOUT);
    assert_true(qhil_now() - t0 >= 100 * QHIL_MSEC);
    assert_string_equal(f->err.message, "no reply to QTest request 'readl "
                                        "0x0' before the deadline");
    /* The late reply must not be taken for the next request's. */
    check_sticky(f, QHIL_ETIMEDOUT, "before the deadline");
    finish(f);
}

/* ---- clock -------------------------------------------------------- */

static void test_clock(void **state)
{
    fixture *f = *state;
    int64_t now = -1;

    start(f, SCENARIO("clock.scn"));
    check_rc(f, qhil_qtest_clock_step(f->qt, -1, &now, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(now, 1000000);
    check_rc(f, qhil_qtest_clock_step(f->qt, 250, &now, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(now, 1000250);
    check_rc(f,
             qhil_qtest_clock_set(f->qt, 5 * QHIL_SEC, &now, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(now, 5 * QHIL_SEC);

    /* QEMU without the qtest accelerator: a clear error, not sticky. */
    check_rc(f, qhil_qtest_clock_step(f->qt, 10, &now, later(), &f->err),
             QHIL_EUNSUPPORTED);
    assert_int_equal(now, 0);
    check_msg(f, "no QTest clock_step");
    check_msg(f, "-accel qtest");
    check_rc(f, qhil_qtest_clock_set(f->qt, 10, NULL, later(), &f->err),
             QHIL_EUNSUPPORTED);
    check_msg(f, "no QTest clock_set");
    check_rc(f, qhil_qtest_clock_step(f->qt, 1, &now, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(now, 5000000001);

    /* Told it runs alongside TCG: refused, nothing sent. */
    qhil_qtest_set_clock_allowed(f->qt, false);
    check_rc(f, qhil_qtest_clock_step(f->qt, 10, &now, later(), &f->err),
             QHIL_EUNSUPPORTED);
    check_msg(f, "clock_step refused");
    check_msg(f, "qtest_accel");
    check_rc(f, qhil_qtest_clock_step(f->qt, -1, NULL, later(), &f->err),
             QHIL_EUNSUPPORTED);
    check_rc(f, qhil_qtest_clock_set(f->qt, 10, NULL, later(), &f->err),
             QHIL_EUNSUPPORTED);
    check_rc(f, qhil_qtest_submit(f->qt, "clock_step", later(), &f->err),
             QHIL_EUNSUPPORTED);
    check_rc(f, qhil_qtest_submit(f->qt, "clock_set 5", later(), &f->err),
             QHIL_EUNSUPPORTED);
    /* Negative times never make sense. */
    qhil_qtest_set_clock_allowed(f->qt, true);
    check_rc(f, qhil_qtest_clock_set(f->qt, -1, NULL, later(), &f->err),
             QHIL_EINVAL);
    assert_int_equal(qhil_qtest_pending(f->qt), 0);
    finish(f);
}

/* ---- requests refused before sending ------------------------------ */

static void test_malformed(void **state)
{
    fixture *f = *state;
    static const char *const bad_lines[] = {
        "",
        " readl 0x0",
        "readl 0x0 ",
        "readl  0x0",
        "readl 0x0\n",
        "readl\t0x0",
        "readl 0x0\r",
        "readl",
        "readl 0x0 4",
        "readl 08",
        "readl 0x",
        "readl -1",
        "readl 0x10000000000000000",
        "readl abc",
        "writel 0x0",
        "read 0x0 0",
        "b64read 0x0 0",
        "write 0x0 0 0x00",
        "write 0x0 2 0x1",
        "write 0x0 2 0x00",
        "write 0x0 1 0xzz",
        "write 0x0 1 00",
        "b64write 0x0 1 AA",
        "b64write 0x0 2 AA==",
        "b64write 0x0 1 A!==",
        "b64write 0x0 1 =AAA",
        "memset 0x0 1",
        "inb 0x10000",
        "set_irq_in /machine/armv7m unnamed-gpio-in -1 1",
        "set_irq_in /machine/armv7m unnamed-gpio-in 1 99999999999",
        "set_irq_in /machine/armv7m unnamed-gpio-in 1",
        "irq_intercept_in",
        "clock_step abc",
        "clock_step 1 2",
        "clock_set",
        "clock_set 9223372036854775808",
    };
    uint8_t buf[4] = {0};
    uint32_t v = 1;
    size_t i;

    start(f, SCENARIO("malformed.scn"));
    for (i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
        int rc = qhil_qtest_submit(f->qt, bad_lines[i], later(), &f->err);

        if (rc != QHIL_EINVAL) {
            print_error("'%s' gave %s\n", bad_lines[i], qhil_errname(rc));
            fail();
        }
        assert_non_null(f->err.message);
    }
    check_rc(f, qhil_qtest_submit(f->qt, NULL, later(), &f->err), QHIL_EINVAL);
    check_rc(f, qhil_qtest_submit(f->qt, "read 0x0 0", later(), &f->err),
             QHIL_EINVAL);
    assert_string_equal(f->err.message, "QTest request 'read 0x0 0': "
                                        "argument 2 is a size of 0");
    check_rc(f, qhil_qtest_submit(f->qt, "readl  0x0", later(), &f->err),
             QHIL_EINVAL);
    check_msg(f, "double blank");
    /* A reply over the line limit is refused before it is asked for. */
    check_rc(f,
             qhil_qtest_submit(f->qt, "read 0x0 0x10000000", later(), &f->err),
             QHIL_ETOOBIG);
    check_rc(
        f, qhil_qtest_submit(f->qt, "b64read 0x0 0x10000000", later(), &f->err),
        QHIL_ETOOBIG);

    /* QOM paths and GPIO names are single words. */
    check_rc(f,
             qhil_qtest_irq_intercept_in(f->qt, "/machine/my device", later(),
                                         &f->err),
             QHIL_EINVAL);
    assert_string_equal(f->err.message,
                        "QTest QOM path '/machine/my device' has a blank "
                        "or control character, which the protocol cannot "
                        "carry");
    check_rc(f,
             qhil_qtest_irq_intercept_out(f->qt, "/machine/x\nreadl 0x0",
                                          later(), &f->err),
             QHIL_EINVAL);
    check_rc(f, qhil_qtest_irq_intercept_in(f->qt, "", later(), &f->err),
             QHIL_EINVAL);
    check_rc(f, qhil_qtest_irq_intercept_in(f->qt, NULL, later(), &f->err),
             QHIL_EINVAL);
    check_rc(f,
             qhil_qtest_set_irq_in(f->qt, "/machine/armv7m", "my irq", 0, 1,
                                   later(), &f->err),
             QHIL_EINVAL);
    check_rc(f,
             qhil_qtest_set_irq_in(f->qt, "/machine/armv7m", NULL, -1, 1,
                                   later(), &f->err),
             QHIL_EINVAL);
    check_rc(f,
             qhil_qtest_set_irq_in(f->qt, "a b", NULL, 0, 1, later(), &f->err),
             QHIL_EINVAL);
    /* Transfers: no buffer, or past the end of the address space. */
    check_rc(f, qhil_qtest_memread(f->qt, 0x0, NULL, 4, later(), &f->err),
             QHIL_EINVAL);
    check_rc(f,
             qhil_qtest_bufwrite(f->qt, UINT64_MAX - 2, buf, sizeof(buf),
                                 later(), &f->err),
             QHIL_EINVAL);
    check_rc(f,
             qhil_qtest_memwrite(f->qt, UINT64_MAX - 1, buf, sizeof(buf),
                                 later(), &f->err),
             QHIL_EINVAL);
    assert_int_equal(qhil_qtest_pending(f->qt), 0);

    /* The connection is fine: the peer sees this line first. */
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, later(), &f->err), QHIL_EOK);
    assert_int_equal(v, 0);
    finish(f);
}

/* ---- against a fake RAM ------------------------------------------- */

static uint32_t rng_state = 12345;

static uint8_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (uint8_t)(rng_state >> 16);
}

static void fill_random(uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = rnd();
    }
}

static void test_serve_roundtrips(void **state)
{
    fixture *f = *state;
    const uint64_t base = 0x20000000;
    const size_t big = (5u << 19) + 7; /* 2.5 MiB + 7: three chunks */
    uint8_t out[71];
    uint8_t in[71];
    uint8_t *bout = malloc(big);
    uint8_t *bin = malloc(big);
    uint64_t q = 0;
    uint32_t l = 0;
    uint16_t w = 0;
    uint8_t b = 0;
    size_t len;
    size_t i;

    assert_non_null(bout);
    assert_non_null(bin);
    start(f, SCENARIO("serve.scn"));
    /* Every length 0..70, both encodings, at odd addresses. */
    for (len = 0; len <= 70; len++) {
        uint64_t at = base + 0x1000 + len * 97;

        fill_random(out, len);
        memset(in, 0xee, sizeof(in));
        check_rc(f, qhil_qtest_bufwrite(f->qt, at, out, len, later(), &f->err),
                 QHIL_EOK);
        check_rc(f, qhil_qtest_memread(f->qt, at, in, len, later(), &f->err),
                 QHIL_EOK);
        assert_memory_equal(in, out, len);
        assert_int_equal(in[len], 0xee);

        fill_random(out, len);
        check_rc(f, qhil_qtest_memwrite(f->qt, at, out, len, later(), &f->err),
                 QHIL_EOK);
        memset(in, 0xee, sizeof(in));
        check_rc(f, qhil_qtest_bufread(f->qt, at, in, len, later(), &f->err),
                 QHIL_EOK);
        assert_memory_equal(in, out, len);
        assert_int_equal(in[len], 0xee);
    }

    /* Large transfers are split and pipelined. */
    fill_random(bout, big);
    check_rc(f,
             qhil_qtest_bufwrite(f->qt, base + 0x100000, bout, big, later(),
                                 &f->err),
             QHIL_EOK);
    check_rc(
        f,
        qhil_qtest_memread(f->qt, base + 0x100000, bin, big, later(), &f->err),
        QHIL_EOK);
    assert_memory_equal(bin, bout, big);
    fill_random(bout, big);
    check_rc(f,
             qhil_qtest_memwrite(f->qt, base + 0x100001, bout, big, later(),
                                 &f->err),
             QHIL_EOK);
    memset(bin, 0, big);
    check_rc(
        f,
        qhil_qtest_bufread(f->qt, base + 0x100001, bin, big, later(), &f->err),
        QHIL_EOK);
    assert_memory_equal(bin, bout, big);
    check_rc(
        f,
        qhil_qtest_memset(f->qt, base + 0x100000, 0xa5, big, later(), &f->err),
        QHIL_EOK);
    check_rc(
        f,
        qhil_qtest_memread(f->qt, base + 0x100000, bin, big, later(), &f->err),
        QHIL_EOK);
    for (i = 0; i < big; i++) {
        if (bin[i] != 0xa5) {
            fail_msg("byte %zu is 0x%02x after memset", i, bin[i]);
        }
    }

    /* Big requests while big replies come back: the client must read
     * them while it writes, or both sides block (the peer, like QEMU,
     * writes a whole reply before it reads the next request). */
    for (i = 0; i < 4; i++) {
        check_rc(f,
                 qhil_qtest_submit(f->qt, "read 0x20100000 1000000", later(),
                                   &f->err),
                 QHIL_EOK);
    }
    check_rc(f,
             qhil_qtest_memwrite(f->qt, base + 0x100000, bout, big, later(),
                                 &f->err),
             QHIL_EOK);
    for (i = 0; i < 4; i++) {
        char *reply = NULL;

        check_rc(f, qhil_qtest_collect(f->qt, &reply, later(), &f->err),
                 QHIL_EOK);
        assert_int_equal(strlen(reply), 2 + 2 * 1000000);
        assert_memory_equal(reply, "0xa5a5", 6);
        free(reply);
    }

    /* Registers are little-endian words of the same memory. */
    check_rc(
        f,
        qhil_qtest_writeq(f->qt, base, 0x0807060504030201ULL, later(), &f->err),
        QHIL_EOK);
    check_rc(f, qhil_qtest_readb(f->qt, base + 1, &b, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(b, 0x02);
    check_rc(f, qhil_qtest_readw(f->qt, base + 2, &w, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(w, 0x0403);
    check_rc(f, qhil_qtest_readl(f->qt, base + 4, &l, later(), &f->err),
             QHIL_EOK);
    assert_int_equal(l, 0x08070605);
    check_rc(f,
             qhil_qtest_writel(f->qt, base + 4, 0xcafef00d, later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_readq(f->qt, base, &q, later(), &f->err), QHIL_EOK);
    assert_true(q == 0xcafef00d04030201ULL);
    free(bout);
    free(bin);
    finish(f);
}

/* ---- loopback: the test is the peer -------------------------------- */

static const char ref_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Reference base64, bit by bit, to check the client's against. */
static void ref_b64(const uint8_t *p, size_t n, char *out)
{
    size_t bits = n * 8;
    size_t i;
    size_t k = 0;

    for (i = 0; i < bits; i += 6) {
        unsigned v = 0;
        size_t j;

        for (j = i; j < i + 6; j++) {
            unsigned bit = j < bits ? (p[j / 8] >> (7 - j % 8)) & 1 : 0;

            v = v << 1 | bit;
        }
        out[k++] = ref_digits[v];
    }
    while (k % 4) {
        out[k++] = '=';
    }
    out[k] = '\0';
}

typedef struct loop {
    qhil_qtest *qt;
    int peer;
} loop;

static void loop_open(loop *lp)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(qhil_qtest_new(sv[0], &lp->qt, NULL), QHIL_EOK);
    lp->peer = sv[1];
}

static void loop_close(loop *lp)
{
    qhil_qtest_free(lp->qt);
    close(lp->peer);
}

static void loop_send(loop *lp, const char *text)
{
    size_t n = strlen(text);

    assert_int_equal(write(lp->peer, text, n), (ssize_t)n);
}

/* What the client wrote, all of it (the peer has it once the call
 * returned); caller frees. */
static char *loop_take(loop *lp)
{
    size_t cap = 1 << 12;
    size_t len = 0;
    char *buf = malloc(cap);
    ssize_t n;

    assert_non_null(buf);
    for (;;) {
        n = recv(lp->peer, buf + len, cap - len - 1, MSG_DONTWAIT);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

static void test_b64_loopback(void **state)
{
    uint8_t data[70];
    uint8_t back[71];
    char b64[100];
    char want[160];
    size_t len;
    int round;

    (void)state;
    for (round = 0; round < 8; round++) {
        for (len = 0; len <= 70; len++) {
            loop lp;
            char *sent;

            loop_open(&lp);
            fill_random(data, len);
            if (round == 1) {
                memset(data, 0xff, len);
            } else if (round == 2) {
                memset(data, 0, len);
            }
            ref_b64(data, len, b64);

            /* Write: the line must carry exactly the reference text. */
            if (len > 0) {
                loop_send(&lp, "OK\n");
            }
            assert_int_equal(
                qhil_qtest_bufwrite(lp.qt, 0x1000, data, len, later(), NULL),
                QHIL_EOK);
            sent = loop_take(&lp);
            if (len > 0) {
                snprintf(want, sizeof(want), "b64write 0x1000 %zu %s\n", len,
                         b64);
            } else {
                want[0] = '\0';
            }
            assert_string_equal(sent, want);
            free(sent);

            /* Read: the reference text must decode to the data. */
            if (len > 0) {
                snprintf(want, sizeof(want), "OK %s\n", b64);
                loop_send(&lp, want);
            }
            memset(back, 0x55, sizeof(back));
            assert_int_equal(
                qhil_qtest_bufread(lp.qt, 0x1000, back, len, later(), NULL),
                QHIL_EOK);
            assert_memory_equal(back, data, len);
            assert_int_equal(back[len], 0x55);
            sent = loop_take(&lp);
            if (len > 0) {
                snprintf(want, sizeof(want), "b64read 0x1000 %zu\n", len);
            } else {
                want[0] = '\0';
            }
            assert_string_equal(sent, want);
            free(sent);
            assert_int_equal(qhil_qtest_pending(lp.qt), 0);
            loop_close(&lp);
        }
    }
}

/* A random reply line: a protocol-like start, then pieces that look
 * like values, garbage or both. */
static void random_line(char *out, size_t room)
{
    static const char *const starts[] = {
        "OK ", "OK", "FAIL ", "ERR", "IRQ raise ", "IRQ lower ", "", "IRQ ",
    };
    static const char *const pieces[] = {
        "0x",
        "0",
        "7",
        "42",
        "f",
        "F",
        "z",
        "=",
        "==",
        "+",
        "/",
        "Zg",
        "AAAA",
        "AAAAAAAAAAA=",
        "0x0000000000000001",
        "0x00000000000000ff",
        "0x1ffffffffffffffff",
        "-",
        "-5",
        " ",
        "\r",
        "\t",
        "\x01",
        "\xff",
        "99999999999999999999",
        "65535",
        "65536",
    };
    const char *start = starts[rnd() % (sizeof(starts) / sizeof(starts[0]))];
    size_t n = rnd() % 4;
    size_t len = strlen(start);
    size_t i;

    memcpy(out, start, len);
    for (i = 0; i < n; i++) {
        const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
        size_t k = strlen(p);

        if (len + k + 2 >= room) {
            break;
        }
        memcpy(out + len, p, k);
        len += k;
    }
    out[len++] = '\n';
    out[len] = '\0';
}

static void test_reply_fuzz(void **state)
{
    char line[256];
    uint8_t buf[8];
    int i;

    (void)state;
    for (i = 0; i < 3000; i++) {
        loop lp;
        uint32_t v = 0;
        int rc;
        int again;

        loop_open(&lp);
        random_line(line, sizeof(line));
        loop_send(&lp, line);
        /* If the line was an IRQ report, this answers the call. */
        loop_send(&lp, "OK 0x0000000000000000\n");
        switch (i % 3) {
        case 0:
            rc = qhil_qtest_readl(lp.qt, 0x0, &v, later(), NULL);
            break;
        case 1:
            rc = qhil_qtest_bufread(lp.qt, 0x0, buf, 1 + rnd() % 8, later(),
                                    NULL);
            break;
        default:
            rc = qhil_qtest_clock_step(lp.qt, -1, NULL, later(), NULL);
            break;
        }
        if (rc != QHIL_EOK && rc != QHIL_ECMD && rc != QHIL_EPROTO &&
            rc != QHIL_EUNSUPPORTED) {
            fail_msg("reply '%s' gave %s", line, qhil_errname(rc));
        }
        if (rc == QHIL_EPROTO) {
            again = qhil_qtest_dispatch(lp.qt, NULL);
            assert_int_equal(again, QHIL_EPROTO);
        }
        loop_close(&lp);
    }
}

/* ---- waits with a past deadline, and the cancel fd ---------------- */

static void test_ready_past_deadline(void **state)
{
    fixture *f = *state;
    struct pollfd pfd = {.events = POLLIN};
    char *reply = NULL;

    start(f, SCENARIO("ready.scn"));
    check_rc(f, qhil_qtest_submit(f->qt, "readl 0x40000000", later(), &f->err),
             QHIL_EOK);
    check_rc(f, qhil_qtest_flush(f->qt, later(), &f->err), QHIL_EOK);
    pfd.fd = qhil_qtest_fd(f->qt);
    assert_int_equal(poll(&pfd, 1, (int)(LONG_WAIT / QHIL_MSEC)), 1);
    /* The reply is in the socket: a deadline of now still gets it. */
    check_rc(f, qhil_qtest_collect(f->qt, &reply, qhil_now(), &f->err),
             QHIL_EOK);
    assert_string_equal(reply, "0x0000000000000005");
    free(reply);
    finish(f);
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    struct pollfd pfd = {.events = POLLIN};
    int p[2] = {-1, -1};
    uint32_t v = 0;
    int64_t t0;

    assert_int_equal(pipe(p), 0);
    start(f, SCENARIO("cancel.scn"));
    check_rc(
        f,
        qhil_qtest_irq_intercept_in(f->qt, "/machine/armv7m", later(), &f->err),
        QHIL_EOK);
    assert_int_equal(write(p[1], "x", 1), 1);
    qhil_qtest_set_cancel_fd(f->qt, p[0]);
    t0 = qhil_now();
    check_rc(f, qhil_qtest_wait_irq(f->qt, 3, true, later(), &f->err),
             QHIL_ECANCELED);
    assert_true(qhil_now() - t0 < 500 * QHIL_MSEC);
    assert_string_equal(f->err.message, "interrupted while waiting for QTest "
                                        "IRQ line 3 to be raised");
    /* Never read by the client. */
    pfd.fd = p[0];
    assert_int_equal(poll(&pfd, 1, 0), 1);
    /* An IRQ wait owes no reply: the connection stays usable. */
    qhil_qtest_set_cancel_fd(f->qt, -1);
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, later(), &f->err), QHIL_EOK);
    assert_int_equal(v, 7);
    finish(f);
    close(p[0]);
    close(p[1]);
}

static void test_cancel_reply(void **state)
{
    fixture *f = *state;
    int p[2] = {-1, -1};
    uint32_t v = 0;
    int64_t t0;
    pid_t pid;
    int status = 0;

    assert_int_equal(pipe(p), 0);
    /* timeout.scn answers after 400 ms; the cancel comes after 100. */
    start(f, SCENARIO("timeout.scn"));
    qhil_qtest_set_cancel_fd(f->qt, p[0]);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        usleep(100 * 1000);
        _exit(write(p[1], "x", 1) == 1 ? 0 : 1);
    }
    t0 = qhil_now();
    check_rc(f, qhil_qtest_readl(f->qt, 0x0, &v, later(), &f->err),
             QHIL_ECANCELED);
    assert_true(qhil_now() - t0 < 350 * QHIL_MSEC);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_string_equal(f->err.message, "interrupted while waiting for the "
                                        "reply to QTest request 'readl 0x0'");
    /* A reply is owed: as after a timeout, the late one must not be
     * taken for the next request's. */
    qhil_qtest_set_cancel_fd(f->qt, -1);
    check_sticky(f, QHIL_ECANCELED, "interrupted");
    finish(f);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_values),
        T(test_memory),
        T(test_b64_vectors),
        T(test_fail_reply),
        T(test_irq_lines),
        T(test_irq_out_of_range),
        T(test_pipeline),
        T(test_split),
        T(test_garbage),
        T(test_unsolicited),
        T(test_eof_mid_line),
        T(test_timeout),
        T(test_clock),
        T(test_malformed),
        T(test_serve_roundtrips),
        T(test_ready_past_deadline),
        T(test_cancel),
        T(test_cancel_reply),
        cmocka_unit_test(test_b64_loopback),
        cmocka_unit_test(test_reply_fuzz),
#undef T
    };

    return cmocka_run_group_tests_name("qtest protocol", tests, NULL, NULL);
}
