/*
 * test_hostcaps.c - arch names, the KVM check and decision, and the
 * sandbox probe, against fake QEMU binaries (shell scripts in a temp
 * folder) that answer as a QEMU without seccomp does, hang, flood, crash
 * or check their own argv and environment; and against Debian's and
 * qhil's QEMU when they are installed (their result and time printed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostcaps.h"
#include "internal.h"
#include "testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/qhil-hostcaps-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    (void)state;
    while (d && (e = readdir(d))) {
        char p[512];

        if (e->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

/* A fake QEMU: an executable /bin/sh script called name in tmpdir. */
static const char *fake(const char *name, const char *body)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    FILE *f;

    snprintf(p, 512, "%s/%s", tmpdir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(p, 0755), 0);
    return p;
}

static void test_arch_canonical(void **state)
{
    static const char *const cases[][2] = {
        {"arm64", "aarch64"}, {"aarch64", "aarch64"}, {"amd64", "x86_64"},
        {"x86_64", "x86_64"}, {"i386", "i386"},       {"i686", "i386"},
        {"arm", "arm"},       {"armhf", "arm"},       {"armel", "arm"},
        {"armv7l", "arm"},    {"riscv64", "riscv64"}, {"riscv32", "riscv32"},
        {"mips", "mips"},     {"mipsel", "mipsel"},   {"ppc", "ppc"},
        {"ppc64", "ppc64"},   {"ppc64le", "ppc64"},   {"ppc64el", "ppc64"},
        {"s390x", "s390x"},   {"sparc64", "sparc64"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < QHIL_ARRAY_SIZE(cases); i++) {
        const char *got = qhil_arch_canonical(cases[i][0]);

        assert_non_null(got);
        assert_string_equal(got, cases[i][1]);
        assert_contains(qhil_arch_names(), cases[i][0]);
    }
    /* Never a guess: near misses, other cases, padding, paths. */
    assert_null(qhil_arch_canonical(NULL));
    assert_null(qhil_arch_canonical(""));
    assert_null(qhil_arch_canonical("ARM64"));
    assert_null(qhil_arch_canonical("arm46"));
    assert_null(qhil_arch_canonical("x86_64 "));
    assert_null(qhil_arch_canonical("arm/../x86_64"));
    assert_null(qhil_arch_canonical("system-arm"));
}

static void test_arch_binary(void **state)
{
    qhil_error err;
    char *bin = NULL;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_arch_binary("arm64", &bin, &err), QHIL_EOK);
    assert_string_equal(bin, "qemu-system-aarch64");
    free(bin);
    assert_int_equal(qhil_arch_binary("armhf", &bin, &err), QHIL_EOK);
    assert_string_equal(bin, "qemu-system-arm");
    free(bin);
    assert_int_equal(qhil_arch_binary("../../bin/sh", &bin, &err), QHIL_EINVAL);
    assert_null(bin);
    assert_contains(err.message, "arch '../../bin/sh' is not one qhil knows");
    assert_contains(err.message, "arm64");
    qhil_error_release(&err);
}

static void test_arch_host(void **state)
{
    struct utsname u;

    (void)state;
    assert_int_equal(uname(&u), 0);
    if (!qhil_arch_canonical(u.machine)) {
        assert_null(qhil_arch_host());
        return;
    }
    assert_non_null(qhil_arch_host());
    assert_string_equal(qhil_arch_host(), qhil_arch_canonical(u.machine));
}

/* Nothing but a character device that answers the KVM ioctl will do;
 * a FIFO there does not block the check. */
static void test_kvm_usable_at(void **state)
{
    char path[512];
    char why[256];
    int fd;

    (void)state;
    assert_int_equal(qhil_kvm_usable_at("/nonexistent/kvm", why, sizeof(why)),
                     0);
    assert_string_equal(why, "/nonexistent/kvm: No such file or directory");
    assert_int_equal(qhil_kvm_usable_at("/dev/null", why, sizeof(why)), 0);
    assert_contains(why, "/dev/null: not a KVM device (KVM_GET_API_VERSION");
    assert_int_equal(qhil_kvm_usable_at(tmpdir, why, sizeof(why)), 0);
    assert_contains(why, "not a character device");
    snprintf(path, sizeof(path), "%s/kvm-file", tmpdir);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(qhil_kvm_usable_at(path, why, sizeof(why)), 0);
    assert_contains(why, "not a character device");
    snprintf(path, sizeof(path), "%s/kvm-fifo", tmpdir);
    assert_int_equal(mkfifo(path, 0666), 0);
    assert_int_equal(qhil_kvm_usable_at(path, why, sizeof(why)), 0);
    assert_contains(why, "not a character device");
    /* A short or missing buffer is fine. */
    assert_int_equal(qhil_kvm_usable_at("/dev/null", why, 4), 0);
    assert_string_equal(why, "/de");
    assert_int_equal(qhil_kvm_usable_at("/dev/null", NULL, 0), 0);
    /* The real one: whatever it says, it says why. */
    if (qhil_kvm_usable(why, sizeof(why))) {
        assert_string_equal(why, "");
        printf("hostcaps: /dev/kvm is usable here\n");
    } else {
        assert_contains(why, "/dev/kvm: ");
        printf("hostcaps: KVM not usable here: %s\n", why);
    }
}

static void test_kvm_decide(void **state)
{
    const char *host = qhil_arch_host();
    const char *other = host && !strcmp(host, "arm") ? "riscv64" : "arm";
    qhil_kvm_wish w = {.guest_arch = host, .allowed = true};
    char why[256];

    (void)state;
    w.allowed = false;
    assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 0);
    assert_string_equal(why, "TCG: the site or the device type does not "
                             "allow KVM");
    w.allowed = true;
    w.no_kvm = true;
    assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 0);
    assert_string_equal(why, "TCG: the job sets no_kvm");
    w.no_kvm = false;
    w.cpu_set = true;
    assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 0);
    assert_string_equal(why, "TCG: the job sets cpu, which turns KVM off");
    w.cpu_set = false;
    w.guest_arch = "arm64x";
    assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 0);
    assert_contains(why, "guest arch 'arm64x' is not one qhil knows");
    if (!host) {
        return;
    }
    w.guest_arch = other;
    assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 0);
    assert_contains(why, "is not the host's");
    w.guest_arch = host;
    w.kvm_path = "/nonexistent/kvm";
    assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 0);
    assert_string_equal(why,
                        "TCG: /nonexistent/kvm: No such file or directory");
    w.kvm_path = "/dev/null";
    assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 0);
    assert_contains(why, "not a KVM device");
    w.kvm_path = NULL;
    if (qhil_kvm_usable(NULL, 0)) {
        assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 1);
        assert_contains(why, "KVM: guest ");
        if (!strcmp(host, "x86_64")) {
            w.guest_arch = "i686";
            assert_int_equal(qhil_kvm_decide(&w, why, sizeof(why)), 1);
        }
    }
}

static void test_sandbox_args(void **state)
{
    const char *const *a = qhil_sandbox_args();

    (void)state;
    assert_string_equal(a[0], "-sandbox");
    assert_string_equal(a[1], "on,obsolete=deny,elevateprivileges=deny,"
                              "spawn=deny,resourcecontrol=deny");
    assert_null(a[2]);
}

static int64_t soon(void)
{
    return qhil_deadline_in(5 * QHIL_SEC);
}

/* A QEMU built without seccomp, as QEMU 7.2 words it. */
static void test_probe_no_seccomp(void **state)
{
    const char *bin =
        fake("qemu-no-seccomp",
             "echo \"$0: $1 $2: There is no option group 'sandbox'\" >&2\n"
             "echo \"$0: $1 $2: -sandbox support is not enabled in this QEMU "
             "binary\" >&2\nexit 1");
    char want[1024];
    char why[512];

    (void)state;
    assert_int_equal(
        qhil_qemu_probe_sandbox(bin, soon(), why, sizeof(why), NULL), 0);
    snprintf(want, sizeof(want),
             "%s: -sandbox %s: -sandbox support is not enabled in this QEMU "
             "binary",
             bin, QHIL_SANDBOX_VALUE);
    assert_string_equal(why, want);
}

/* The exact argv, and nothing of our environment: a fake that checks. */
static void test_probe_argv_and_env(void **state)
{
    const char *bin =
        fake("qemu-checks",
             "[ $# -eq 4 ] || { echo \"argc $#\" >&2; exit 2; }\n"
             "[ \"$1\" = -sandbox ] || exit 3\n"
             "[ \"$2\" = '" QHIL_SANDBOX_VALUE "' ] || exit 4\n"
             "[ \"$3\" = -cpu ] && [ \"$4\" = help ] || exit 5\n"
             "[ -z \"${HOME+set}\" ] || { echo \"HOME=$HOME\" >&2; exit 6; }\n"
             "[ -z \"${QHIL_LEAK+set}\" ] || { echo leak >&2; exit 7; }\n"
             "[ \"$LC_ALL\" = C ] || { echo \"LC_ALL=$LC_ALL\" >&2; exit 8; }\n"
             "read line && exit 9\n"
             "exit 0");
    char why[512];

    (void)state;
    assert_int_equal(setenv("QHIL_LEAK", "1", 1), 0);
    assert_int_equal(setenv("HOME", "/root-of-the-harness", 1), 0);
    assert_int_equal(
        qhil_qemu_probe_sandbox(bin, soon(), why, sizeof(why), NULL), 1);
    assert_string_equal(why, "");
    unsetenv("QHIL_LEAK");
}

/* Silent failures and crashes still give a reason. */
static void test_probe_silent_and_crash(void **state)
{
    const char *quiet = fake("qemu-quiet", "exit 3");
    const char *crash = fake("qemu-crash", "kill -SEGV $$");
    char why[512];

    (void)state;
    assert_int_equal(
        qhil_qemu_probe_sandbox(quiet, soon(), why, sizeof(why), NULL), 0);
    assert_contains(why, "exited with status 3");
    assert_contains(why, "qemu-quiet -sandbox on,");
    assert_int_equal(
        qhil_qemu_probe_sandbox(crash, soon(), why, sizeof(why), NULL), 0);
    assert_contains(why, "killed by signal 11");
}

/* Live processes whose command line is exactly "sleep DURATION". */
static int sleeps(const char *duration)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    char want[64];
    int count = 0;

    snprintf(want, sizeof(want), "sleep%c%s", '\0', duration);
    while (d && (e = readdir(d))) {
        char path[300];
        char cmd[256];
        ssize_t n;
        int fd;

        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        n = read(fd, cmd, sizeof(cmd));
        close(fd);
        if (n == (ssize_t)(6 + strlen(duration) + 1) &&
            !memcmp(cmd, want, (size_t)n - 1)) {
            count++;
        }
    }
    if (d) {
        closedir(d);
    }
    return count;
}

/* A binary that never answers: killed at the deadline with what it
 * started, and the call says so. */
static void test_probe_hang(void **state)
{
    char body[256];
    char duration[32];
    const char *bin;
    qhil_error err;
    char why[512];
    int64_t t0;

    (void)state;
    snprintf(duration, sizeof(duration), "70%d", (int)getpid() % 100);
    /* The counter sees a sleep like the one the fake starts. */
    {
        pid_t pid = fork();
        int st;

        assert_true(pid >= 0);
        if (pid == 0) {
            execlp("sleep", "sleep", duration, (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 100 && !sleeps(duration); i++) {
            poll(NULL, 0, 20);
        }
        assert_int_equal(sleeps(duration), 1);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    /* No PATH in the probe's environment: sh's own default finds it. */
    snprintf(body, sizeof(body), "sleep %s & wait", duration);
    bin = fake("qemu-hang", body);
    qhil_error_init(&err);
    t0 = qhil_now();
    assert_int_equal(qhil_qemu_probe_sandbox(bin,
                                             qhil_deadline_in(300 * QHIL_MSEC),
                                             why, sizeof(why), &err),
                     QHIL_ETIMEDOUT);
    assert_true(qhil_now() - t0 < 3 * QHIL_SEC);
    assert_contains(err.message, "no answer before the deadline; killed");
    for (int i = 0; i < 100 && sleeps(duration); i++) {
        poll(NULL, 0, 20);
    }
    assert_int_equal(sleeps(duration), 0);
    qhil_error_release(&err);
}

/* A binary that floods its output does not block or eat memory. */
static void test_probe_flood(void **state)
{
    const char *bin =
        fake("qemu-flood", "/usr/bin/head -c 4000000 /dev/zero; exit 1");
    char why[512];

    (void)state;
    assert_int_equal(qhil_qemu_probe_sandbox(bin,
                                             qhil_deadline_in(10 * QHIL_SEC),
                                             why, sizeof(why), NULL),
                     0);
}

static void test_probe_not_there(void **state)
{
    qhil_error err;
    char why[64];

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_qemu_probe_sandbox("/nonexistent/qemu-system-arm",
                                             soon(), why, sizeof(why), &err),
                     QHIL_ESPAWN);
    assert_contains(err.message, "/nonexistent/qemu-system-arm");
    assert_int_equal(
        qhil_qemu_probe_sandbox("", soon(), why, sizeof(why), &err),
        QHIL_EINVAL);
    qhil_error_release(&err);
}

/* Real binaries when they are there: what they say and how long a probe
 * takes (the mean of 10). */
static void probe_real(const char *bin, int want)
{
    char why[512];
    int64_t t0;
    int rc = 0;

    if (access(bin, X_OK) != 0) {
        printf("hostcaps: %s not installed, not probed\n", bin);
        return;
    }
    t0 = qhil_now();
    for (int i = 0; i < 10; i++) {
        rc = qhil_qemu_probe_sandbox(bin, soon(), why, sizeof(why), NULL);
        assert_true(rc >= 0);
    }
    printf("hostcaps: %s: sandbox %s%s%s, %.1f ms a probe\n", bin,
           rc ? "supported" : "not supported", rc ? "" : ": ", why,
           (double)(qhil_now() - t0) / 10 / QHIL_MSEC);
    if (want >= 0) {
        assert_int_equal(rc, want);
    }
}

static void test_probe_real(void **state)
{
    (void)state;
    /* Debian's QEMU 7.2 is built with seccomp. */
    probe_real("/usr/bin/qemu-system-arm", 1);
    probe_real(QHIL_TEST_SRCDIR "/../../build-qemu/bin/qhil-qemu-system-arm",
               -1);
}

/* The ELF answer agrees with the probe where both can be asked, and a
 * file that is no ELF, or is not there, is an error, never a yes. */
static void test_links_seccomp(void **state)
{
    const char *qemu = "/usr/bin/qemu-system-arm";
    char path[] = "/tmp/qhil-test-notelf.XXXXXX";
    int fd;

    (void)state;
    if (access(qemu, X_OK) == 0) {
        assert_int_equal(qhil_qemu_links_seccomp(qemu), 1);
        assert_int_equal(qhil_qemu_probe_sandbox(qemu, soon(), NULL, 0, NULL),
                         1);
    }
    /* An ELF that does not link libseccomp (the shell). */
    assert_int_equal(qhil_qemu_links_seccomp("/bin/sh"), 0);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, "#!/bin/sh\nexit 0\n", 18) == 18);
    close(fd);
    assert_true(qhil_qemu_links_seccomp(path) < 0);
    unlink(path);
    assert_true(qhil_qemu_links_seccomp(path) < 0);
    assert_true(qhil_qemu_links_seccomp("/dev/null") < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_canonical),
        cmocka_unit_test(test_arch_binary),
        cmocka_unit_test(test_arch_host),
        cmocka_unit_test(test_kvm_usable_at),
        cmocka_unit_test(test_kvm_decide),
        cmocka_unit_test(test_sandbox_args),
        cmocka_unit_test(test_probe_no_seccomp),
        cmocka_unit_test(test_probe_argv_and_env),
        cmocka_unit_test(test_probe_silent_and_crash),
        cmocka_unit_test(test_probe_hang),
        cmocka_unit_test(test_probe_flood),
        cmocka_unit_test(test_probe_not_there),
        cmocka_unit_test(test_probe_real),
        cmocka_unit_test(test_links_seccomp),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
