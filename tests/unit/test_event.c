/*
 * test_event.c - events as JSON: every kind's keys, the bytes of guest
 * output made JSON strings without losing their length or hiding that
 * they were changed, and the unknowns written as null.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qhil/event.h>

/* ev as compact JSON text (sorted keys), malloc'ed. */
static char *encode(const qhil_event *ev)
{
    qhil_error err;
    json_t *j = NULL;
    char *s;

    qhil_error_init(&err);
    assert_int_equal(qhil_event_to_json(ev, &j, &err), QHIL_EOK);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    json_decref(j);
    qhil_error_release(&err);
    return s;
}

static void assert_json(const qhil_event *ev, const char *want)
{
    char *got = encode(ev);

    if (strcmp(got, want) != 0) {
        fail_msg("got  %s\nwant %s", got, want);
    }
    free(got);
}

static void test_kinds(void **state)
{
    qhil_event ev = {
        .kind = QHIL_EVENT_TEST_START,
        .wall_ns = 5,
        .virtual_ns = -1,
        .test = "boots",
    };
    json_t *greeting = json_pack("{s:{s:i}}", "QMP", "x", 1);
    json_t *cmd = json_pack("{s:s,s:i}", "execute", "stop", "id", 3);

    (void)state;
    assert_json(&ev, "{\"kind\":\"test_start\",\"test\":\"boots\","
                     "\"v\":2,\"virtual_ns\":null,\"wall_ns\":5}");
    /* A retry's events say which attempt they are of; attempt 1's (and
     * 0, not set) do not. */
    ev.attempt = 1;
    assert_json(&ev, "{\"kind\":\"test_start\",\"test\":\"boots\","
                     "\"v\":2,\"virtual_ns\":null,\"wall_ns\":5}");
    ev.attempt = 3;
    assert_json(&ev, "{\"attempt\":3,\"kind\":\"test_start\","
                     "\"test\":\"boots\",\"v\":2,\"virtual_ns\":null,"
                     "\"wall_ns\":5}");
    ev.attempt = 0;
    ev.kind = QHIL_EVENT_TEST_END;
    ev.verdict = QHIL_FAIL;
    ev.duration_ns = 77;
    ev.text = "no match";
    ev.len = 8;
    ev.virtual_ns = 1000;
    assert_json(&ev, "{\"duration_ns\":77,\"kind\":\"test_end\","
                     "\"message\":\"no match\",\"test\":\"boots\","
                     "\"v\":2,\"verdict\":\"fail\",\"virtual_ns\":1000,"
                     "\"wall_ns\":5}");
    ev.virtual_ns = -1;
    ev.kind = QHIL_EVENT_STEP_START;
    ev.step = 2;
    ev.line = 14;
    ev.text = "expect \"> \"";
    ev.len = strlen(ev.text);
    assert_json(&ev, "{\"kind\":\"step_start\",\"line\":14,\"step\":2,"
                     "\"step_desc\":\"expect \\\"> \\\"\",\"test\":\"boots\","
                     "\"v\":2,\"virtual_ns\":null,\"wall_ns\":5}");
    ev.kind = QHIL_EVENT_MATCH;
    ev.text = "> ";
    ev.len = 2;
    ev.offset = 40;
    ev.pattern = "> ";
    assert_json(&ev, "{\"kind\":\"match\",\"len\":2,\"line\":14,"
                     "\"offset\":40,\"pattern\":\"> \",\"port\":\"console\","
                     "\"step\":2,\"test\":\"boots\",\"text\":\"> \",\"v\":2,"
                     "\"virtual_ns\":null,\"wall_ns\":5}");
    ev.kind = QHIL_EVENT_QMP_COMMAND;
    ev.json = cmd;
    assert_json(&ev, "{\"kind\":\"qmp_command\",\"line\":14,\"message\":"
                     "{\"execute\":\"stop\",\"id\":3},\"step\":2,\"test\":"
                     "\"boots\",\"v\":2,\"virtual_ns\":null,\"wall_ns\":5}");
    ev.kind = QHIL_EVENT_MACHINE_START;
    ev.pid = 4242;
    ev.text = "7.2.17";
    ev.len = 6;
    ev.json = greeting;
    assert_json(&ev, "{\"argv\":[],\"greeting\":{\"QMP\":{\"x\":1}},\"kind\":"
                     "\"machine_start\",\"pid\":4242,\"qemu_version\":"
                     "\"7.2.17\",\"test\":\"boots\",\"v\":2,\"virtual_ns\":"
                     "null,\"wall_ns\":5}");
    ev.kind = QHIL_EVENT_MACHINE_END;
    ev.how = 1;
    ev.status = -1;
    ev.text = "qemu: warning";
    ev.len = 13;
    assert_json(&ev, "{\"exit_status\":null,\"how\":\"quit\",\"kind\":"
                     "\"machine_end\",\"signal\":null,\"status\":null,"
                     "\"stderr_tail\":\"qemu: warning\",\"test\":\"boots\","
                     "\"v\":2,\"virtual_ns\":null,\"wall_ns\":5}");
    /* The waitpid status, and what it says: exit 3, then signal 9. */
    ev.how = 4;
    ev.status = 3 << 8;
    ev.text = NULL;
    ev.len = 0;
    assert_json(&ev, "{\"exit_status\":3,\"how\":\"self\",\"kind\":"
                     "\"machine_end\",\"signal\":null,\"status\":768,"
                     "\"stderr_tail\":null,\"test\":\"boots\",\"v\":2,"
                     "\"virtual_ns\":null,\"wall_ns\":5}");
    ev.how = 3;
    ev.status = 9;
    assert_json(&ev, "{\"exit_status\":null,\"how\":\"kill\",\"kind\":"
                     "\"machine_end\",\"signal\":9,\"status\":9,"
                     "\"stderr_tail\":null,\"test\":\"boots\",\"v\":2,"
                     "\"virtual_ns\":null,\"wall_ns\":5}");
    ev.how = 0;
    ev.kind = QHIL_EVENT_QEMU_WARNING;
    ev.text = "qemu-system-arm: warning: x";
    ev.len = strlen(ev.text);
    assert_json(&ev, "{\"kind\":\"qemu_warning\",\"len\":27,\"line\":14,"
                     "\"step\":2,\"test\":\"boots\",\"text\":"
                     "\"qemu-system-arm: warning: x\",\"v\":2,"
                     "\"virtual_ns\":null,\"wall_ns\":5}");
    ev.kind = QHIL_EVENT_FAULT;
    ev.text = "inject-nmi";
    ev.len = strlen(ev.text);
    assert_json(&ev, "{\"fault\":\"inject-nmi\",\"kind\":\"fault\","
                     "\"line\":14,\"step\":2,\"test\":\"boots\",\"v\":2,"
                     "\"virtual_ns\":null,\"wall_ns\":5}");
    ev.kind = QHIL_EVENT_FAILURE;
    ev.verdict = QHIL_ERROR;
    ev.text = "QEMU exited";
    ev.len = 11;
    assert_json(&ev,
                "{\"cause\":false,\"interrupted\":false,\"kind\":\"failure\","
                "\"line\":14,\"message\":\"QEMU exited\",\"step\":2,\"test\":"
                "\"boots\",\"v\":2,\"verdict\":\"error\",\"virtual_ns\":"
                "null,\"wall_ns\":5}");
    ev.how = QHIL_FAILURE_INTERRUPTED;
    assert_json(&ev,
                "{\"cause\":true,\"interrupted\":true,\"kind\":\"failure\","
                "\"line\":14,\"message\":\"QEMU exited\",\"step\":2,\"test\":"
                "\"boots\",\"v\":2,\"verdict\":\"error\",\"virtual_ns\":"
                "null,\"wall_ns\":5}");
    assert_string_equal(qhil_event_kind_name(QHIL_EVENT_QMP_EVENT),
                        "qmp_event");
    assert_string_equal(qhil_event_kind_name((qhil_event_kind)99), "?");
    json_decref(greeting);
    json_decref(cmd);
}

/* Guest bytes: valid UTF-8 kept, NUL kept, each bad byte U+FFFD with
 * text_exact false; len stays the byte count; a cut line says so. */
static void test_console_bytes(void **state)
{
    static const char line[] = "ok \xc3\xa9 \x00 \xff\xc0\xaf \xed\xa0\x80 "
                               "\xf4\x90\x80\x80 \xe2\x82";
    qhil_event ev = {
        .kind = QHIL_EVENT_CONSOLE_LINE,
        .virtual_ns = -1,
        .test = "t\xff",
        .text = line,
        .len = sizeof(line) - 1,
        .offset = 9,
        .cut = 1,
    };
    char want[512];

    (void)state;
    snprintf(want, sizeof(want),
             "{\"cut\":true,\"kind\":\"console_line\",\"len\":%zu,"
             "\"line\":0,\"offset\":9,\"port\":\"console\",\"step\":0,"
             "\"test\":\"t\xef\xbf\xbd\",\"text\":\"ok \xc3\xa9 \\u0000 "
             "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd"
             "\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
             "\xef\xbf\xbd\xef\xbf\xbd\",\"text_exact\":false,\"v\":2,"
             "\"virtual_ns\":null,\"wall_ns\":0}",
             sizeof(line) - 1);
    assert_json(&ev, want);
    /* Clean text: no text_exact key at all. */
    ev.text = "Hello, QEMU!\r";
    ev.len = 13;
    ev.cut = 0;
    ev.test = "t";
    assert_json(&ev, "{\"kind\":\"console_line\",\"len\":13,\"line\":0,"
                     "\"offset\":9,\"port\":\"console\",\"step\":0,"
                     "\"test\":\"t\",\"text\":\"Hello, QEMU!\\r\",\"v\":2,"
                     "\"virtual_ns\":null,\"wall_ns\":0}");
}

/* The JSON Lines sink: a new file gets one whole line per event; an
 * existing file or a symlink is refused and left alone; a FIFO with a
 * reader is written, one without fails at once; a device that cannot
 * take the bytes is reported at close. */
static void test_sink(void **state)
{
    char dir[] = "/tmp/qhil-event-XXXXXX";
    char path[256];
    char link[256];
    char fifo[256];
    char buf[4096];
    qhil_event ev = {
        .kind = QHIL_EVENT_INPUT,
        .virtual_ns = -1,
        .test = "t",
        .text = "hi\n",
        .len = 3,
    };
    qhil_event_sink *sink = NULL;
    qhil_error err;
    ssize_t n;
    FILE *fp;
    int rfd;

    (void)state;
    qhil_error_init(&err);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ev.jsonl", dir);
    snprintf(link, sizeof(link), "%s/link.jsonl", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);

    assert_int_equal(qhil_event_sink_open(path, &sink, &err), QHIL_EOK);
    qhil_event_sink_write(sink, &ev);
    ev.kind = QHIL_EVENT_TEST_START;
    qhil_event_sink_write(sink, &ev);
    assert_int_equal(qhil_event_sink_close(sink, &err), QHIL_EOK);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"v\":2,\"kind\":\"input\",\"wall_ns\":0,"
                             "\"virtual_ns\":null,\"test\":\"t\",\"step\":0,"
                             "\"line\":0,\"port\":\"console\",\"len\":3,"
                             "\"text\":\"hi\\n\"}\n"
                             "{\"v\":2,\"kind\":\"test_start\",\"wall_ns\":0,"
                             "\"virtual_ns\":null,\"test\":\"t\"}\n");

    /* Not replaced, not followed. */
    sink = (qhil_event_sink *)1;
    assert_true(qhil_event_sink_open(path, &sink, &err) < 0);
    assert_null(sink);
    assert_non_null(strstr(err.message, "(not replaced)"));
    assert_int_equal(symlink(path, link), 0);
    assert_true(qhil_event_sink_open(link, &sink, &err) < 0);
    assert_non_null(strstr(err.message, "link.jsonl"));

    /* A FIFO: nobody reading is an error now, not a hang later. */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_true(qhil_event_sink_open(fifo, &sink, &err) < 0);
    rfd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rfd >= 0);
    assert_int_equal(qhil_event_sink_open(fifo, &sink, &err), QHIL_EOK);
    qhil_event_sink_write(sink, &ev);
    assert_int_equal(qhil_event_sink_close(sink, &err), QHIL_EOK);
    n = read(rfd, buf, sizeof(buf));
    assert_true(n > 0 && buf[n - 1] == '\n');
    close(rfd);

    /* A device that refuses the bytes: the error comes at close. */
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(qhil_event_sink_open("/dev/full", &sink, &err),
                         QHIL_EOK);
        qhil_event_sink_write(sink, &ev);
        qhil_event_sink_write(sink, &ev);
        assert_int_equal(qhil_event_sink_close(sink, &err), QHIL_EIO);
        assert_non_null(strstr(err.message, "/dev/full: write: No space"));
    }
    unlink(fifo);
    unlink(link);
    unlink(path);
    rmdir(dir);
    qhil_error_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_console_bytes),
        cmocka_unit_test(test_sink),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
