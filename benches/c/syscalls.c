/* syscalls: times a loop of one system call inside a container, to show which calls the
 * kernel's seccomp action cache (Linux 5.11+) answers without running the filter: a
 * syscall allowed whatever its arguments is cached; one whose argument is checked (the
 * restricted profile's socket(domain), clone(flags), personality) runs the BPF program on
 * every call. Built static (scripts/bench) and run in a busybox rootfs through runc with
 * Docker's profile, Rampart's restricted profile and no seccomp.
 * Prints "name ns_per_call" lines. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/personality.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

#define BENCH(label, iters, body)                                           \
    do {                                                                    \
        double best = 1e18;                                                 \
        for (int rep = 0; rep < 5; rep++) {                                 \
            double t0 = now();                                              \
            for (long i = 0; i < (iters); i++) { body; }                    \
            double d = (now() - t0) / (iters);                              \
            if (d < best) best = d;                                         \
        }                                                                   \
        printf("%s %.1f\n", label, best);                                   \
    } while (0)

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    BENCH("getpid", n, syscall(SYS_getpid));
    BENCH("getppid", n, syscall(SYS_getppid));
    BENCH("close(-1)", n, syscall(SYS_close, -1));
    /* socket with a domain the kernel rejects before allocating anything (EAFNOSUPPORT for
     * AF_MAX-1 would still create nothing; AF_INET with an invalid type returns EINVAL
     * early): the filter's cost without the socket's own. */
    BENCH("socket(AF_INET,-1)", n, syscall(SYS_socket, AF_INET, -1, 0));
    BENCH("socket(AF_UNIX,-1)", n, syscall(SYS_socket, AF_UNIX, -1, 0));
    BENCH("socket+close(AF_INET,DGRAM)", n / 4, {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd >= 0) close(fd);
    });
    BENCH("personality(0xffffffff)", n, syscall(SYS_personality, 0xffffffffUL));
    return 0;
}
