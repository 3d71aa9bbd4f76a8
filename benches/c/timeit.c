/* timeit: runs a command N times (fork + execve + wait4) and prints one line per run:
 *   <wall microseconds> <child max RSS KiB> <child CPU microseconds (user + system)>
 *   <child page faults (ru_minflt: before and after its execve)>
 * Used by scripts/bench to time Rampart, runc and a bare static exit-0 program from the
 * same harness, so the figures can be stated as ratios on a noisy machine.
 *   timeit [-c SRC DST] [-e] N cmd args...
 * -c copies SRC over DST before every run (outside the timed window): a fresh config.json.
 * -e: a run that exits non-zero is an error (default); -E: ignore exit status.
 * ru_maxrss covers the child's whole life, before and after execve (Linux keeps the larger
 * of the old and new address space's high-water mark), so Rampart's peak is seen even
 * though it execs the runtime. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void copy(const char *src, const char *dst) {
    static char buf[1 << 16];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) { perror(src); exit(2); }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.timeit-tmp", dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) { perror(tmp); exit(2); }
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n) { perror("write"); exit(2); }
    close(in);
    close(out);
    if (rename(tmp, dst) < 0) { perror("rename"); exit(2); }
}

int main(int argc, char **argv) {
    const char *src = NULL, *dst = NULL;
    int check = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-c") && i + 2 < argc) { src = argv[++i]; dst = argv[++i]; }
        else if (!strcmp(argv[i], "-E")) check = 0;
        else if (!strcmp(argv[i], "-e")) check = 1;
        else { fprintf(stderr, "timeit: unknown option %s\n", argv[i]); return 2; }
    }
    if (argc - i < 2) { fprintf(stderr, "usage: timeit [-c SRC DST] [-E] N cmd args...\n"); return 2; }
    int n = atoi(argv[i++]);
    char **cmd = argv + i;
    for (int r = 0; r < n; r++) {
        if (src) copy(src, dst);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_RDWR);
            dup2(devnull, 0);
            dup2(devnull, 1);
            execv(cmd[0], cmd);
            _exit(127);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (check && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "timeit: %s exited with status %d\n", cmd[0], status);
            return 1;
        }
        long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
        long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L
                   + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
        printf("%ld %ld %ld %ld\n", us, ru.ru_maxrss, cpu, ru.ru_minflt);
    }
    return 0;
}
