/*
 * bench_meter.c - what a test harness itself costs, without its QEMUs.
 *
 * Two roles, chosen by the name it is started under:
 *
 *   bench_meter run -o OUT [-P K] [-i MS] [-t S] [-x EXE]... CMDFILE
 *       Runs the commands of CMDFILE (one a line, arguments separated by
 *       tabs; a first word ">FILE" sends its output to FILE), up to K at
 *       once, each in its own process group, and
 *       writes to OUT what they cost: wall time from the first start to
 *       the last exit, the user and system CPU of every process below
 *       it (RUSAGE_CHILDREN, so QEMU's too: the caller subtracts what the
 *       QEMU wrappers logged), and the harness's peak memory.  Memory is
 *       sampled every MS ms (default 5): the meter walks each command's
 *       tree through /proc/PID/task/TID/children and reads VmHWM from
 *       /proc/PID/status of every process whose executable is not one
 *       of the -x EXEs (QEMU and its wrapper).  Written: each process's
 *       last VmHWM, and the largest sum of VmHWM over the processes alive
 *       at one sample.  A command still running after S seconds (default
 *       1800) has its process group killed and the run fails.
 *
 *   qemu-system-ARCH ARGS...   (a copy of this program under that name)
 *       The QEMU wrapper.  It reads the real binary's path from the file
 *       beside it named after itself plus ".real", forks, runs QEMU with
 *       the same arguments and fds, forwards SIGTERM/SIGINT/SIGHUP/
 *       SIGQUIT to it (QEMU dies with it: PR_SET_PDEATHSIG), and when QEMU
 *       exits appends one line to the ".log" file beside it:
 *           qemu PID TEST USER_NS SYS_NS MAXRSS_KB SELF_NS
 *       TEST is 1 when the arguments load a firmware (-kernel), 0 for a
 *       probe (-version, -sandbox checks); SELF_NS is the wrapper's own
 *       CPU.  It then exits as QEMU did.  A copy, not a symlink: harnesses
 *       pass QEMU an environment of their own, so the wrapper learns
 *       nothing from it, and /proc/self/exe names the copy.
 *
 * The meter is single-threaded and waits in poll() between samples; its
 * own CPU is not in what it writes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 4096
#define MAX_ARGS 256
#define MAX_EXES 16
#define MAX_PROCS 8192

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* ---- the QEMU wrapper --------------------------------------------- */

static volatile sig_atomic_t wrapped_pid;

static void forward(int sig)
{
    if (wrapped_pid > 0) {
        kill((pid_t)wrapped_pid, sig);
    }
}

static int wrapper_main(int argc, char **argv)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    char self[PATH_MAX];
    char side[PATH_MAX + 8];
    char real[PATH_MAX];
    char line[256];
    struct sigaction sa;
    struct rusage ru;
    struct rusage me;
    ssize_t n;
    size_t k;
    int is_test = 0;
    int status = 0;
    int fd;
    int i;
    pid_t pid;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        return 127;
    }
    self[n] = '\0';
    snprintf(side, sizeof(side), "%s.real", self);
    fd = open(side, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "bench_meter: cannot open %s: %s\n", side,
                strerror(errno));
        return 127;
    }
    n = read(fd, real, sizeof(real) - 1);
    close(fd);
    if (n <= 0) {
        return 127;
    }
    real[n] = '\0';
    real[strcspn(real, "\n")] = '\0';
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-kernel")) {
            is_test = 1;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++) {
        sigaction(sigs[k], &sa, NULL);
    }
    pid = fork();
    if (pid < 0) {
        return 127;
    }
    if (pid == 0) {
        sa.sa_handler = SIG_DFL;
        for (k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++) {
            sigaction(sigs[k], &sa, NULL);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        argv[0] = real;
        execv(real, argv);
        _exit(127);
    }
    wrapped_pid = pid;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            return 127;
        }
    }
    getrusage(RUSAGE_SELF, &me);
    snprintf(side, sizeof(side), "%s.log", self);
    fd = open(side, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        int len = snprintf(line, sizeof(line),
                           "qemu %d %d %lld %lld %ld %lld\n", (int)pid,
                           is_test, (long long)tv_ns(ru.ru_utime),
                           (long long)tv_ns(ru.ru_stime), ru.ru_maxrss,
                           (long long)(tv_ns(me.ru_utime) +
                                       tv_ns(me.ru_stime)));

        if (write(fd, line, (size_t)len) != len) {
            fprintf(stderr, "bench_meter: short write to %s\n", side);
        }
        close(fd);
    }
    if (WIFSIGNALED(status)) {
        sa.sa_handler = SIG_DFL;
        sigaction(WTERMSIG(status), &sa, NULL);
        kill(getpid(), WTERMSIG(status));
        return 128 + WTERMSIG(status);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}

/* ---- the meter ---------------------------------------------------- */

typedef struct proc_seen {
    pid_t pid;
    int qemu;          /* its executable is one of the -x EXEs */
    long hwm_kb;       /* last VmHWM read while it was a harness process */
    char comm[32];
} proc_seen;

typedef struct meter {
    const char *exes[MAX_EXES];
    int n_exes;
    proc_seen procs[MAX_PROCS];
    int n_procs;
    long peak_sum_kb;
    long peak_pss_kb;
    long samples;
} meter;

static proc_seen *seen(meter *m, pid_t pid)
{
    int i;

    for (i = m->n_procs - 1; i >= 0; i--) {
        if (m->procs[i].pid == pid) {
            return &m->procs[i];
        }
    }
    if (m->n_procs == MAX_PROCS) {
        return NULL;
    }
    memset(&m->procs[m->n_procs], 0, sizeof(proc_seen));
    m->procs[m->n_procs].pid = pid;
    return &m->procs[m->n_procs++];
}

static int is_qemu_exe(const meter *m, pid_t pid)
{
    char path[64];
    char exe[PATH_MAX];
    ssize_t n;
    int i;

    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    n = readlink(path, exe, sizeof(exe) - 1);
    if (n <= 0) {
        return -1;
    }
    exe[n] = '\0';
    for (i = 0; i < m->n_exes; i++) {
        if (!strcmp(exe, m->exes[i])) {
            return 1;
        }
    }
    return 0;
}

/* A "Field: N kB" line of /proc/PID/FILE; the name into comm if given. */
static long status_kb(pid_t pid, const char *file, const char *field,
                      char *comm, size_t comm_len)
{
    char path[64];
    char buf[4096];
    size_t flen = strlen(field);
    long kb = -1;
    ssize_t n;
    char *line;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    for (line = buf; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n') {
            line++;
        }
        if (!strncmp(line, "Name:\t", 6) && comm) {
            size_t len = strcspn(line + 6, "\n");

            if (len >= comm_len) {
                len = comm_len - 1;
            }
            memcpy(comm, line + 6, len);
            comm[len] = '\0';
            /* One word in the report: "proc PID NAME KB". */
            for (size_t c = 0; c < len; c++) {
                if (comm[c] == ' ') {
                    comm[c] = '_';
                }
            }
        } else if (!strncmp(line, field, flen) && line[flen] == ':') {
            kb = strtol(line + flen + 1, NULL, 10);
        }
    }
    return kb;
}

/* Visit pid and its descendants; add the harness ones' VmHWM to *sum. */
static void walk(meter *m, pid_t pid, long *sum, long *sum_pss, int depth)
{
    char path[64];
    char buf[4096];
    struct dirent *de;
    proc_seen *p;
    DIR *tasks;
    int q;

    if (depth > 64) {
        return;
    }
    p = seen(m, pid);
    q = is_qemu_exe(m, pid);
    if (p && q == 1) {
        p->qemu = 1;
    } else if (p && q == 0 && !p->qemu) {
        long kb = status_kb(pid, "status", "VmHWM", p->comm,
                            sizeof(p->comm));
        long pss = status_kb(pid, "smaps_rollup", "Pss", NULL, 0);

        if (kb > 0) {
            p->hwm_kb = kb;
            *sum += kb;
        }
        if (pss > 0) {
            *sum_pss += pss;
        }
    }
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    tasks = opendir(path);
    if (!tasks) {
        return;
    }
    while ((de = readdir(tasks))) {
        char cpath[320];
        ssize_t n;
        char *s;
        int fd;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children",
                 (int)pid, de->d_name);
        fd = open(cpath, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0) {
            continue;
        }
        buf[n] = '\0';
        for (s = buf; *s;) {
            char *end;
            long child = strtol(s, &end, 10);

            if (end == s) {
                break;
            }
            walk(m, (pid_t)child, sum, sum_pss, depth + 1);
            s = end;
        }
    }
    closedir(tasks);
}

static int split_line(char *line, char **args)
{
    int n = 0;
    char *tok;
    char *save = NULL;

    line[strcspn(line, "\n")] = '\0';
    for (tok = strtok_r(line, "\t", &save); tok && n < MAX_ARGS - 1;
         tok = strtok_r(NULL, "\t", &save)) {
        args[n++] = tok;
    }
    args[n] = NULL;
    return n;
}

/* A first word ">FILE" sends the command's stdout and stderr there. */
static pid_t start(char **args)
{
    pid_t pid = fork();

    if (pid == 0) {
        setpgid(0, 0);
        if (args[0][0] == '>') {
            int fd = open(args[0] + 1, O_WRONLY | O_CREAT | O_TRUNC, 0600);

            if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
                _exit(127);
            }
            close(fd);
            args++;
        }
        execvp(args[0], args);
        fprintf(stderr, "bench_meter: cannot run %s: %s\n", args[0],
                strerror(errno));
        _exit(127);
    }
    if (pid > 0) {
        setpgid(pid, pid);
    }
    return pid;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_meter run -o OUT [-P K] [-i MS] [-t S] "
                    "[-x EXE]... CMDFILE\n");
    return 2;
}

static int meter_main(int argc, char **argv)
{
    static meter m;
    static char *lines[MAX_CMDS];
    static pid_t pids[MAX_CMDS];
    static int statuses[MAX_CMDS];
    static pid_t roots[MAX_CMDS];
    const char *out = NULL;
    char buf[65536];
    struct rusage ru;
    int64_t t0;
    int64_t deadline;
    int64_t wall;
    FILE *f;
    int n_cmds = 0;
    int next = 0;
    int running = 0;
    int parallel = 1;
    int interval = 5;
    long timeout_s = 1800;
    int failed = 0;
    int opt;
    int i;

    optind = 2;
    while ((opt = getopt(argc, argv, "o:P:i:t:x:")) != -1) {
        if (opt == 'o') {
            out = optarg;
        } else if (opt == 'P') {
            parallel = atoi(optarg);
        } else if (opt == 'i') {
            interval = atoi(optarg);
        } else if (opt == 't') {
            timeout_s = atol(optarg);
        } else if (opt == 'x' && m.n_exes < MAX_EXES) {
            m.exes[m.n_exes++] = optarg;
        } else {
            return usage();
        }
    }
    if (!out || optind != argc - 1 || parallel < 1 || interval < 1 ||
        timeout_s < 1) {
        return usage();
    }
    f = fopen(argv[optind], "r");
    if (!f) {
        fprintf(stderr, "bench_meter: cannot open %s: %s\n", argv[optind],
                strerror(errno));
        return 2;
    }
    while (n_cmds < MAX_CMDS && fgets(buf, sizeof(buf), f)) {
        if (buf[0] != '\n' && buf[0] != '#') {
            lines[n_cmds++] = strdup(buf);
        }
    }
    fclose(f);
    if (n_cmds == 0) {
        fprintf(stderr, "bench_meter: no command in %s\n", argv[optind]);
        return 2;
    }
    t0 = now_ns();
    deadline = t0 + (int64_t)timeout_s * 1000000000;
    while (next < n_cmds || running > 0) {
        long sum = 0;
        long sum_pss = 0;
        pid_t pid;
        int status;

        while (running < parallel && next < n_cmds) {
            char *args[MAX_ARGS];

            if (split_line(lines[next], args) == 0 ||
                (pids[next] = start(args)) < 0) {
                statuses[next] = -1;
                failed = 1;
            } else {
                roots[next] = pids[next];
                running++;
            }
            next++;
        }
        for (i = 0; i < next; i++) {
            if (pids[i] > 0) {
                walk(&m, pids[i], &sum, &sum_pss, 0);
            }
        }
        m.samples++;
        if (sum > m.peak_sum_kb) {
            m.peak_sum_kb = sum;
        }
        if (sum_pss > m.peak_pss_kb) {
            m.peak_pss_kb = sum_pss;
        }
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (i = 0; i < next; i++) {
                if (pids[i] == pid) {
                    statuses[i] = status;
                    pids[i] = 0;
                    running--;
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        failed = 1;
                    }
                }
            }
        }
        if (running > 0 && now_ns() > deadline) {
            for (i = 0; i < next; i++) {
                if (pids[i] > 0) {
                    kill(-pids[i], SIGKILL);
                }
            }
            fprintf(stderr, "bench_meter: commands still running after "
                            "%ld s: killed\n", timeout_s);
            failed = 1;
            deadline = INT64_MAX;
        }
        if (running > 0 || next < n_cmds) {
            poll(NULL, 0, interval);
        }
    }
    wall = now_ns() - t0;
    getrusage(RUSAGE_CHILDREN, &ru);
    f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "bench_meter: cannot write %s: %s\n", out,
                strerror(errno));
        return 2;
    }
    fprintf(f, "wall_ns %lld\nuser_ns %lld\nsys_ns %lld\n",
            (long long)wall, (long long)tv_ns(ru.ru_utime),
            (long long)tv_ns(ru.ru_stime));
    fprintf(f, "peak_sum_kb %ld\npeak_pss_kb %ld\nsamples %ld\n",
            m.peak_sum_kb, m.peak_pss_kb, m.samples);
    for (i = 0; i < n_cmds; i++) {
        fprintf(f, "status %d %d\nroot %d %d\n", i, statuses[i], i,
                (int)roots[i]);
        free(lines[i]);
    }
    for (i = 0; i < m.n_procs; i++) {
        if (!m.procs[i].qemu && m.procs[i].hwm_kb > 0) {
            fprintf(f, "proc %d %s %ld\n", (int)m.procs[i].pid,
                    m.procs[i].comm, m.procs[i].hwm_kb);
        }
    }
    fclose(f);
    return failed;
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');

    base = base ? base + 1 : argv[0];
    if (!strncmp(base, "qemu-", 5)) {
        return wrapper_main(argc, argv);
    }
    if (argc >= 2 && !strcmp(argv[1], "run")) {
        return meter_main(argc, argv);
    }
    return usage();
}
