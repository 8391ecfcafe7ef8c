/*
 * bench_qmp.c - QMP round trips with libqhil, beside the floor and beside
 * QEMU's own Python client.
 *
 * One QEMU (Debian's qemu-system-riscv64, board riscv-virt, no kernel,
 * started with -S so no guest code runs) with three QMP monitors, one per
 * client, each with its own capabilities handshake:
 *   qhil      the machine's own QMP socketpair (qhil_machine_launch)
 *   raw       listening socket qmp-raw.sock in the run directory
 *   qemu.qmp  listening socket qmp-python.sock in the run directory
 * Each round runs N query-status commands (default 10000) per client,
 * sequentially (one reply before the next command), then pipelined (up
 * to WINDOW commands in flight, default 64: when WINDOW are outstanding,
 * wait for the oldest reply before sending the next, so neither side's
 * socket buffer can fill up and stall both).
 *   qhil      qhil_qmp_execute; qhil_qmp_send + qhil_qmp_wait_reply
 *   raw       libc only, in this file: write the JSON line, read lines
 *             until the reply with the expected id (the floor)
 *   qemu.qmp  bench/qmp_python.py (QMPClient, asyncio), run with
 *             fork/exec and PYTHONPATH at the python/ folder of the QEMU
 *             source tree scripts/qemu-build.sh unpacks; it times itself,
 *             so interpreter start-up is not counted.  Python is slow,
 *             so it runs fewer commands (--python-n, default 4000); all
 *             figures are per command.
 * Two figures per run: wall time (CLOCK_MONOTONIC) and the client
 * process's own CPU time (CLOCK_PROCESS_CPUTIME_ID).  Rounds (default 5)
 * alternate the clients; medians per command are printed with the
 * ratios qhil/raw and qemu.qmp/qhil.
 *
 * usage: bench_qmp [-n N] [-r ROUNDS] [-w WINDOW] [--python-n N]
 *                  [--boards DIR] [--qemu-python DIR]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qhil/qhil.h>

#include "benchutil.h"

#define DEFAULT_N 10000
#define DEFAULT_PYTHON_N 4000
/* Deadlines: a minute, plus 1 ms per command (10 ms for Python). */
#define RUN_TIMEOUT(n) (60 * QHIL_SEC + QHIL_MSEC * (n))
#define PYTHON_TIMEOUT_S(n) (60 + (n) / 100)
#define PYTHON_SCRIPT "bench/qmp_python.py"

enum { QHIL_SEQ, RAW_SEQ, PY_SEQ, QHIL_PIPE, RAW_PIPE, PY_PIPE, N_SERIES };

/* ---- the floor: a raw client ------------------------------------- */

/*
 * One QMP connection, non-blocking.  buf[start, len) is read but not yet
 * consumed.  A line longer than the buffer is an error: query-status
 * replies are under 100 bytes.
 */
typedef struct raw {
    int fd;
    uint64_t next_id;
    size_t start;
    size_t len;
    char buf[1 << 16];
} raw;

/* Next line, '\n' replaced by '\0'; borrowed until the next call. */
static char *raw_line(raw *r, int64_t deadline)
{
    for (;;) {
        char *line = r->buf + r->start;
        char *nl = memchr(line, '\n', r->len - r->start);
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        ssize_t n;

        if (nl) {
            *nl = '\0';
            r->start = (size_t)(nl - r->buf) + 1;
            return line;
        }
        if (r->start > 0) {
            memmove(r->buf, line, r->len - r->start);
            r->len -= r->start;
            r->start = 0;
        }
        if (r->len == sizeof(r->buf)) {
            return NULL;
        }
        if (poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) <= 0) {
            return NULL;
        }
        n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
        if (n <= 0) {
            return NULL;
        }
        r->len += (size_t)n;
    }
}

/*
 * Next command reply: 0 with its id for a "return", -1 for an "error"
 * reply, EOF, a timeout or an overlong line.  Events are skipped.
 */
static int raw_reply(raw *r, uint64_t *id, int64_t deadline)
{
    for (;;) {
        char *line = raw_line(r, deadline);
        char *p;

        if (!line) {
            return -1;
        }
        if (!strncmp(line, "{\"return\"", 9)) {
            p = strstr(line, "\"id\": ");
            if (!p) {
                return -1;
            }
            *id = strtoull(p + 6, NULL, 10);
            return 0;
        }
        if (strstr(line, "\"error\"") && !strstr(line, "\"event\"")) {
            return -1;
        }
    }
}

static int raw_write(raw *r, const char *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = write(r->fd, p, len);

        if (n < 0) {
            struct pollfd pfd = {.fd = r->fd, .events = POLLOUT};

            if (errno != EAGAIN ||
                poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) <= 0) {
                return -1;
            }
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Send one command with the next id; args is JSON object text or NULL. */
static int raw_send(raw *r, const char *command, const char *args,
                    int64_t deadline)
{
    char line[128];
    int len;

    if (args) {
        len = snprintf(line, sizeof(line),
                       "{\"execute\":\"%s\",\"arguments\":%s,\"id\":%" PRIu64
                       "}\n",
                       command, args, r->next_id);
    } else {
        len = snprintf(line, sizeof(line),
                       "{\"execute\":\"%s\",\"id\":%" PRIu64 "}\n", command,
                       r->next_id);
    }
    if (len < 0 || (size_t)len >= sizeof(line)) {
        return -1;
    }
    r->next_id++;
    return raw_write(r, line, (size_t)len, deadline);
}

/*
 * Connect to path, read the greeting, and negotiate capabilities the way
 * qhil_qmp_handshake and qemu.qmp do: "oob" enabled when offered.  With
 * it, QEMU reads up to 8 commands ahead; without, one at a time.
 */
static int raw_connect(raw *r, const char *path, int64_t deadline)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *caps;
    uint64_t id;
    char *line;

    r->fd = -1;
    r->start = 0;
    r->len = 0;
    r->next_id = 0;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        fcntl(r->fd, F_SETFL, O_NONBLOCK) < 0) {
        return -1;
    }
    line = raw_line(r, deadline);
    if (!line || strncmp(line, "{\"QMP\"", 6)) {
        return -1;
    }
    caps = strstr(line, "\"capabilities\": [");
    if (!caps) {
        return -1;
    }
    if (raw_send(r, "qmp_capabilities",
                 strstr(caps, "\"oob\"") ? "{\"enable\":[\"oob\"]}" : NULL,
                 deadline) < 0 ||
        raw_reply(r, &id, deadline) < 0 || id != 0) {
        return -1;
    }
    return 0;
}

static int raw_sequential(raw *r, int n)
{
    int64_t deadline = qhil_deadline_in(RUN_TIMEOUT(n));
    uint64_t id;
    int i;

    for (i = 0; i < n; i++) {
        uint64_t want = r->next_id;

        if (raw_send(r, "query-status", NULL, deadline) < 0 ||
            raw_reply(r, &id, deadline) < 0 || id != want) {
            return -1;
        }
    }
    return 0;
}

static int raw_pipelined(raw *r, int n, int window)
{
    int64_t deadline = qhil_deadline_in(RUN_TIMEOUT(n));
    uint64_t want = r->next_id;
    uint64_t id;
    int sent = 0;
    int done = 0;

    while (done < n) {
        if (sent < n && sent - done < window) {
            if (raw_send(r, "query-status", NULL, deadline) < 0) {
                return -1;
            }
            sent++;
            continue;
        }
        /* In-band replies come in command order. */
        if (raw_reply(r, &id, deadline) < 0 || id != want) {
            return -1;
        }
        want++;
        done++;
    }
    return 0;
}

/* ---- qhil ---------------------------------------------------------- */

static int status_ok(json_t *ret)
{
    int ok = json_is_string(json_object_get(ret, "status"));

    json_decref(ret);
    return ok;
}

static int qhil_sequential(qhil_qmp *qmp, int n, qhil_error *err)
{
    int64_t deadline = qhil_deadline_in(RUN_TIMEOUT(n));
    json_t *ret = NULL;
    int i;

    for (i = 0; i < n; i++) {
        if (qhil_qmp_execute(qmp, "query-status", NULL, &ret, deadline, err) <
            0) {
            return -1;
        }
        if (!status_ok(ret)) {
            qhil_error_set(err, QHIL_EPROTO, "query-status: no status");
            return -1;
        }
    }
    return 0;
}

static int qhil_pipelined(qhil_qmp *qmp, int n, int window, qhil_error *err)
{
    int64_t deadline = qhil_deadline_in(RUN_TIMEOUT(n));
    uint64_t *ids = calloc((size_t)window, sizeof(*ids));
    json_t *ret = NULL;
    int sent = 0;
    int done = 0;
    int rc = -1;

    if (!ids) {
        qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        return -1;
    }
    while (done < n) {
        if (sent < n && sent - done < window) {
            if (qhil_qmp_send(qmp, "query-status", NULL, &ids[sent % window],
                              deadline, err) < 0) {
                goto cleanup;
            }
            sent++;
            continue;
        }
        if (qhil_qmp_wait_reply(qmp, ids[done % window], &ret, deadline, err) <
            0) {
            goto cleanup;
        }
        if (!status_ok(ret)) {
            qhil_error_set(err, QHIL_EPROTO, "query-status: no status");
            goto cleanup;
        }
        done++;
    }
    rc = 0;

cleanup:
    free(ids);
    return rc;
}

/* ---- qemu.qmp: bench/qmp_python.py --------------------------------- */

typedef struct python {
    const char *dir;    /* for PYTHONPATH */
    const char *socket; /* listening QMP socket */
    int window;
} python;

/* Whether dir holds QEMU's python/qemu/qmp package. */
static int python_found(const char *dir)
{
    char *path = NULL;
    struct stat st;
    int found;

    if (asprintf(&path, "%s/qemu/qmp/qmp_client.py", dir) < 0) {
        return 0;
    }
    found = stat(path, &st) == 0;
    free(path);
    return found;
}

/*
 * Reap pid within deadline; SIGKILL it when the deadline passes.
 * Returns its wait status, or -1.
 */
static int reap(pid_t pid, int64_t deadline)
{
    int status = 0;
    pid_t got;

    while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
        if (qhil_now() >= deadline) {
            kill(pid, SIGKILL);
            got = waitpid(pid, &status, 0);
            break;
        }
        poll(NULL, 0, 1);
    }
    return got == pid ? status : -1;
}

/*
 * Run qmp_python.py once; *wall and *cpu get the two figures it prints
 * (ns of CLOCK_MONOTONIC and of its own CPU time for the N commands).
 * Its stderr is ours, so its own error message shows.  Killed at the
 * deadline.
 */
static int python_run(const python *py, const char *mode, int n, int64_t *wall,
                      int64_t *cpu)
{
    char n_text[24];
    char w_text[24];
    char t_text[24];
    /* python3 is looked up in PATH. */
    char *const argv[] = {
        "python3",   PYTHON_SCRIPT, "--socket",   (char *)py->socket, "-n",
        n_text,      "--mode",      (char *)mode, "--window",         w_text,
        "--timeout", t_text,        NULL};
    int64_t deadline = qhil_deadline_in((PYTHON_TIMEOUT_S(n) + 30) * QHIL_SEC);
    char out[256];
    size_t len = 0;
    int out_pipe[2];
    int err_pipe[2];
    int child_errno = 0;
    int status;
    int rc = -1;
    char *end;
    pid_t parent = getpid();
    pid_t pid;

    snprintf(n_text, sizeof(n_text), "%d", n);
    snprintf(w_text, sizeof(w_text), "%d", py->window);
    snprintf(t_text, sizeof(t_text), "%d", PYTHON_TIMEOUT_S(n));
    if (pipe2(out_pipe, O_CLOEXEC) < 0) {
        return -1;
    }
    if (pipe2(err_pipe, O_CLOEXEC) < 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        sigset_t none;
        int sig;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (sig = 1; sig < NSIG; sig++) {
            signal(sig, SIG_DFL);
        }
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
            dup2(out_pipe[1], STDOUT_FILENO) < 0 ||
            setenv("PYTHONPATH", py->dir, 1) < 0) {
            child_errno = errno;
        } else {
            /* Every fd above stderr is close-on-exec here (libqhil's
             * too), err_pipe included: it closes when exec succeeds. */
            execvp(argv[0], argv);
            child_errno = errno;
        }
        if (write(err_pipe[1], &child_errno, sizeof(child_errno)) < 0) {
            _exit(126);
        }
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (pid < 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return -1;
    }
    if (read(err_pipe[0], &child_errno, sizeof(child_errno)) > 0) {
        fprintf(stderr, "bench_qmp: cannot run %s: %s\n", argv[0],
                strerror(child_errno));
        goto cleanup;
    }
    for (;;) {
        struct pollfd pfd = {.fd = out_pipe[0], .events = POLLIN};
        ssize_t got;

        if (poll(&pfd, 1, qhil_deadline_poll_ms(deadline)) <= 0) {
            fprintf(stderr, "bench_qmp: %s did not finish in time\n",
                    PYTHON_SCRIPT);
            goto cleanup;
        }
        got = read(out_pipe[0], out + len, sizeof(out) - 1 - len);
        if (got <= 0) {
            break;
        }
        len += (size_t)got;
        if (len == sizeof(out) - 1) {
            fprintf(stderr, "bench_qmp: %s printed more than expected\n",
                    PYTHON_SCRIPT);
            goto cleanup;
        }
    }
    out[len] = '\0';
    *wall = strtoll(out, &end, 10);
    *cpu = strtoll(end, &end, 10);
    rc = *wall > 0 && *cpu >= 0 && (*end == '\n' || !*end) ? 0 : -1;
    if (rc < 0) {
        fprintf(stderr, "bench_qmp: %s printed \"%s\", not two numbers\n",
                PYTHON_SCRIPT, out);
    }

cleanup:
    close(out_pipe[0]);
    close(err_pipe[0]);
    /* After its output closed it exits at once: a short deadline. */
    status = reap(pid, rc < 0 ? qhil_now() : qhil_deadline_in(10 * QHIL_SEC));
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = -1;
    }
    return rc;
}

/* ---- main ---------------------------------------------------------- */

/* Append arg (NULL: out of memory) and keep v NULL-terminated. */
static int argv_push(char **v, size_t *k, char *arg)
{
    v[*k] = arg;
    if (!arg) {
        return -1;
    }
    v[++*k] = NULL;
    return 0;
}

/* QEMU's argv from the board, plus -S and one listening QMP per path. */
static int build_argv(const char *const *dirs, const char *const *sockets,
                      size_t n_sockets, char ***argv, qhil_error *err)
{
    qhil_board_job job = {.n_images = 0};
    size_t k = 0;
    size_t i;
    char **v;
    int rc;

    rc = bench_job_argv(dirs, NULL, "riscv-virt", &job, argv, err);
    if (rc < 0) {
        return rc;
    }
    while ((*argv)[k]) {
        k++;
    }
    v = realloc(*argv, (k + 2 + 2 * n_sockets) * sizeof(*v));
    if (!v) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    *argv = v;
    /* Paused before the first instruction: no guest load at all. */
    if (argv_push(v, &k, strdup("-S")) < 0) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < n_sockets; i++) {
        char *address = NULL;

        if (asprintf(&address, "unix:%s,server=on,wait=off", sockets[i]) < 0) {
            address = NULL;
        }
        if (argv_push(v, &k, strdup("-qmp")) < 0 ||
            argv_push(v, &k, address) < 0) {
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    return QHIL_EOK;
}

/* ---- the rounds --------------------------------------------------- */

typedef struct bench {
    qhil_qmp *qmp;
    raw *raw;
    python py;
    int have_python;
    int n;
    int py_n;
    int window;
    int64_t *wall[N_SERIES]; /* per round, ns for the whole run */
    int64_t *cpu[N_SERIES];
    qhil_error err;
} bench;

static const char *const series_name[N_SERIES] = {
    "qhil sequential", "raw sequential", "qemu.qmp sequential",
    "qhil pipelined",  "raw pipelined",  "qemu.qmp pipelined",
};

/* One run of series s in round i; prints why when it fails. */
static int run_series(bench *b, int s, int i)
{
    int64_t t0 = qhil_now();
    int64_t c0 = bench_cpu_now();
    int rc = -1;

    switch (s) {
    case QHIL_SEQ:
        rc = qhil_sequential(b->qmp, b->n, &b->err);
        break;
    case RAW_SEQ:
        rc = raw_sequential(b->raw, b->n);
        break;
    case QHIL_PIPE:
        rc = qhil_pipelined(b->qmp, b->n, b->window, &b->err);
        break;
    case RAW_PIPE:
        rc = raw_pipelined(b->raw, b->n, b->window);
        break;
    case PY_SEQ:
    case PY_PIPE:
        if (!b->have_python) {
            return 0;
        }
        rc = python_run(&b->py, s == PY_SEQ ? "seq" : "pipe", b->py_n,
                        &b->wall[s][i], &b->cpu[s][i]);
        break;
    }
    if (rc < 0) {
        fprintf(stderr, "bench_qmp: %s run %d failed%s%s\n", series_name[s],
                i + 1, s == QHIL_SEQ || s == QHIL_PIPE ? ": " : "",
                s == QHIL_SEQ || s == QHIL_PIPE
                    ? qhil_error_message(&b->err, -1)
                    : "");
        return -1;
    }
    if (s != PY_SEQ && s != PY_PIPE) {
        b->wall[s][i] = qhil_now() - t0;
        b->cpu[s][i] = bench_cpu_now() - c0;
    }
    return 0;
}

/*
 * Round i.  qhil and raw swap places every other round, so that what
 * runs first (or right after a Python process) does not favour either.
 */
static int run_round(bench *b, int i)
{
    static const int order[2][N_SERIES] = {
        {QHIL_SEQ, RAW_SEQ, PY_SEQ, QHIL_PIPE, RAW_PIPE, PY_PIPE},
        {RAW_SEQ, QHIL_SEQ, PY_SEQ, RAW_PIPE, QHIL_PIPE, PY_PIPE},
    };
    int k;

    for (k = 0; k < N_SERIES; k++) {
        if (run_series(b, order[i % 2][k], i) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- output -------------------------------------------------------- */

/* One table: medians of v, per command, with the two ratios. */
static void print_table(const bench *b, int64_t *const *v, int rounds)
{
    static const char *const rows[2] = {"sequential", "pipelined"};
    int row;

    printf("  %-11s %9s %9s %10s %10s %14s\n", "", "qhil", "raw", "qemu.qmp",
           "qhil/raw", "qemu.qmp/qhil");
    for (row = 0; row < 2; row++) {
        int base = row ? QHIL_PIPE : QHIL_SEQ;
        double q = bench_per_op_us(v[base], rounds, b->n);
        double r = bench_per_op_us(v[base + 1], rounds, b->n);

        printf("  %-11s %9.2f %9.2f", rows[row], q, r);
        if (b->have_python) {
            double p = bench_per_op_us(v[base + 2], rounds, b->py_n);

            printf(" %10.2f %10.3f %14.2f\n", p, q / r, p / q);
        } else {
            printf(" %10s %10.3f %14s\n", "-", q / r, "-");
        }
    }
}

static void print_results(bench *b, int rounds)
{
    printf("QMP query-status, %d per run, median of %d runs, "
           "us per command:\n",
           b->n, rounds);
    print_table(b, b->wall, rounds);
    printf("client CPU time (the client process only, QEMU not counted), "
           "us per command:\n");
    print_table(b, b->cpu, rounds);
    printf("  pipelined: up to %d commands in flight per client\n", b->window);
    if (b->have_python) {
        printf("  qemu.qmp: %d commands per run (Python is slow), "
               "figures per command as above\n",
               b->py_n);
    } else {
        printf("  qemu.qmp not found: run scripts/qemu-build.sh\n");
    }
    printf("  targets: sequential qhil/raw <= 1.1; pipelined qhil at least "
           "3x faster than qemu.qmp\n");
}

static int parse_count(const char *text, const char *option, int *value)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (end == text || *end || v < 1 || v > 100000000) {
        fprintf(stderr,
                "bench_qmp: %s wants a number from 1 to 100000000, "
                "got \"%s\"\n",
                option, text);
        return -1;
    }
    *value = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"window", required_argument, NULL, 'w'},
        {"python-n", required_argument, NULL, 'p'},
        {"boards", required_argument, NULL, 'B'},
        {"qemu-python", required_argument, NULL, 'Q'},
        {NULL, 0, NULL, 0},
    };
    const char *dirs[2] = {"boards", NULL};
    char *run_dir = NULL;
    char *raw_sock = NULL;
    char *py_sock = NULL;
    qhil_machine_opts mo = {.start_timeout = 0};
    bench b = {.n = DEFAULT_N, .py_n = DEFAULT_PYTHON_N, .window = 64};
    qhil_machine *m = NULL;
    char **qargv = NULL;
    int rounds = 5;
    int rc = 2;
    int opt;
    int i;
    int k;

    b.py.dir = "build-qemu/src/python";
    while ((opt = getopt_long(argc, argv, "n:r:w:", longopts, NULL)) != -1) {
        int bad = 0;

        if (opt == 'n') {
            bad = parse_count(optarg, "-n", &b.n);
        } else if (opt == 'r') {
            bad = parse_count(optarg, "-r", &rounds);
        } else if (opt == 'w') {
            bad = parse_count(optarg, "--window", &b.window);
        } else if (opt == 'p') {
            bad = parse_count(optarg, "--python-n", &b.py_n);
        } else if (opt == 'B') {
            dirs[0] = optarg;
        } else if (opt == 'Q') {
            b.py.dir = optarg;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "usage: bench_qmp [-n N] [-r ROUNDS] "
                            "[-w WINDOW] [--python-n N] [--boards DIR] "
                            "[--qemu-python DIR]\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench_qmp: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    b.py.window = b.window;
    qhil_error_init(&b.err);
    b.have_python = python_found(b.py.dir);
    if (!b.have_python) {
        fprintf(stderr,
                "bench_qmp: qemu.qmp not found in %s: run "
                "scripts/qemu-build.sh\n",
                b.py.dir);
    } else if (access(PYTHON_SCRIPT, R_OK) < 0) {
        fprintf(stderr,
                "bench_qmp: %s not found: start bench_qmp from the "
                "repository root\n",
                PYTHON_SCRIPT);
        goto out;
    }
    for (k = 0; k < N_SERIES; k++) {
        b.wall[k] = calloc((size_t)rounds, sizeof(int64_t));
        b.cpu[k] = calloc((size_t)rounds, sizeof(int64_t));
        if (!b.wall[k] || !b.cpu[k]) {
            fprintf(stderr, "bench_qmp: out of memory\n");
            goto out;
        }
    }
    run_dir = bench_make_dir("bench_qmp", "qhil-bench-qmp");
    if (!run_dir) {
        goto out;
    }
    if (asprintf(&raw_sock, "%s/qmp-raw.sock", run_dir) < 0) {
        raw_sock = NULL;
        goto out;
    }
    if (asprintf(&py_sock, "%s/qmp-python.sock", run_dir) < 0) {
        py_sock = NULL;
        goto out;
    }
    b.py.socket = py_sock;
    {
        const char *sockets[2] = {raw_sock, py_sock};

        if (build_argv(dirs, sockets, 2, &qargv, &b.err) < 0) {
            fprintf(stderr, "bench_qmp: %s\n", qhil_error_message(&b.err, -1));
            goto out;
        }
    }
    mo.argv = (const char *const *)qargv;
    mo.run_dir = run_dir;
    if (qhil_machine_launch(&mo, &m, &b.err) < 0) {
        fprintf(stderr, "bench_qmp: %s\n", qhil_error_message(&b.err, -1));
        goto out;
    }
    b.qmp = qhil_machine_qmp(m);
    b.raw = malloc(sizeof(*b.raw));
    if (!b.raw ||
        raw_connect(b.raw, raw_sock, qhil_deadline_in(10 * QHIL_SEC)) < 0) {
        fprintf(stderr, "bench_qmp: raw client: no QMP session on %s\n",
                raw_sock);
        goto out;
    }
    rc = 1;
    for (i = 0; i < rounds; i++) {
        if (run_round(&b, i) < 0) {
            goto out;
        }
    }
    print_results(&b, rounds);
    rc = 0;
    if (qhil_machine_shutdown(m, &b.err) < 0) {
        fprintf(stderr, "bench_qmp: %s\n", qhil_error_message(&b.err, -1));
        rc = 1;
    }

out:
    if (b.raw && b.raw->fd >= 0) {
        close(b.raw->fd);
    }
    free(b.raw);
    qhil_machine_free(m);
    bench_remove_dir(run_dir);
    free(run_dir);
    for (k = 0; k < N_SERIES; k++) {
        free(b.wall[k]);
        free(b.cpu[k]);
    }
    qhil_argv_free(qargv);
    free(raw_sock);
    free(py_sock);
    qhil_error_release(&b.err);
    return rc;
}
