/*
 * bench_raw.c - the floor of the peer benchmark: N example tests by a
 * client that does nothing but the protocol, P at a time.
 *
 * The test is rawclient.c's, the same as bench_run's (boot, expect the banner, QMP system_reset,
 * expect the banner and the prompt, send "echo bench", expect the echo,
 * quit).  This program is libc only: it does not link libqhil, so its
 * memory and CPU are what any harness needs at least.  QEMU's command
 * line is given after "--" (bench/peers.py passes the one qhil's own run
 * recorded); the QMP and serial wiring on fds 3 and 4 is added here.
 * With -P 2 it forks two processes, each running its share of the N
 * tests one after the other, and waits for both.
 *
 * usage: bench_raw [-n N] [-P P] -- QEMU ARGS...
 * Exit status 0 when every test passed, 1 when one failed, 2 for usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rawclient.h"

/* Run n tests one after the other; 0 when all passed. */
static int run_share(char *const *argv, int n, int who)
{
    static raw_stream qmp;
    static raw_stream con;
    int i;

    for (i = 0; i < n; i++) {
        if (raw_test(argv, &qmp, &con) < 0) {
            fprintf(stderr, "bench_raw: process %d, test %d failed\n", who,
                    i + 1);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const wiring[] = {
        "-chardev", "socket,id=q,fd=3", "-mon", "chardev=q,mode=control",
        "-chardev", "socket,id=c,fd=4", "-serial", "chardev:c"};
    const size_t n_wiring = sizeof(wiring) / sizeof(wiring[0]);
    char **qemu_argv;
    int n = 20;
    int par = 1;
    int failed = 0;
    int first;
    int k;
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            break;
        } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "-P") && i + 1 < argc) {
            par = atoi(argv[++i]);
        } else {
            break;
        }
    }
    if (i >= argc - 1 || strcmp(argv[i], "--") || n < 1 || par < 1 ||
        par > 64) {
        fprintf(stderr, "usage: bench_raw [-n N] [-P P] -- QEMU ARGS...\n");
        return 2;
    }
    first = i + 1;
    qemu_argv = calloc((size_t)(argc - first) + n_wiring + 1,
                       sizeof(*qemu_argv));
    if (!qemu_argv) {
        return 2;
    }
    for (k = 0; first + k < argc; k++) {
        qemu_argv[k] = argv[first + k];
    }
    for (i = 0; i < (int)n_wiring; i++) {
        qemu_argv[k + i] = (char *)wiring[i];
    }
    if (par == 1) {
        failed = run_share(qemu_argv, n, 0);
    } else {
        pid_t pids[64];

        for (i = 0; i < par; i++) {
            /* Shares as even as they go: the first n % par get one more. */
            int share = n / par + (i < n % par);

            pids[i] = fork();
            if (pids[i] == 0) {
                _exit(run_share(qemu_argv, share, i));
            }
            if (pids[i] < 0) {
                failed = 1;
            }
        }
        for (i = 0; i < par; i++) {
            int status;

            if (pids[i] > 0 && (waitpid(pids[i], &status, 0) < 0 ||
                                !WIFEXITED(status) ||
                                WEXITSTATUS(status) != 0)) {
                failed = 1;
            }
        }
    }
    free(qemu_argv);
    return failed;
}
