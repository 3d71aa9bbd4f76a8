/* Runs inside a test container and reports on attack-surface syscalls.
 *   probe sys NAME...    one line per NAME: "NAME ok", "NAME errno=EPERM" or "NAME killed=SIGSYS"
 *   probe forkbomb N     "forked K errno=EAGAIN" (or "forked K ok" when N was reached)
 *   probe status         capability, NoNewPrivs and Seccomp lines of /proc/self/status
 * Build: gcc -static -O2 -o probe probe.c
 * Every syscall runs in a forked child, so side effects (unshare, chroot, personality) stay there.
 * Arguments are harmless: where a call could do damage if allowed, they make the kernel fail it
 * AFTER the seccomp layer (EINVAL, ENOENT, EBADF...), so an EPERM usually means seccomp or a
 * missing capability. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errno_name(int e)
{
    static char buf[16];
#define E(x) case x: return #x;
    switch (e) {
    E(EPERM) E(ENOSYS) E(EINVAL) E(EACCES) E(EFAULT) E(EBADF) E(ENOENT) E(EAFNOSUPPORT)
    E(EOPNOTSUPP) E(EPROTONOSUPPORT) E(ESRCH) E(ENOMEM) E(EBUSY) E(EAGAIN) E(EEXIST)
    E(ENODEV) E(ENOKEY) E(EOVERFLOW) E(ENOEXEC) E(E2BIG) E(ESOCKTNOSUPPORT)
    }
#undef E
    snprintf(buf, sizeof buf, "%d", e);
    return buf;
}

/* Result for a syscall this architecture does not have. */
#define NOSYS (errno = ENOSYS, -1L)

/* Close a returned fd; pass through failures. */
static long fd_result(long fd)
{
    if (fd >= 0)
        close((int)fd);
    return fd < 0 ? -1 : 0;
}

/* Reap a child created by a raw clone; the child itself just exits. */
static long child_result(long pid)
{
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    return pid < 0 ? -1 : 0;
}

static long p_mount(void)
{
    const char *dir = "/tmp/.probe-mnt";
    mkdir(dir, 0700);
    long r = syscall(SYS_mount, "probe", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k");
    int saved = errno;
    if (r == 0)
        syscall(SYS_umount2, dir, MNT_DETACH);
    rmdir(dir);
    errno = saved;
    return r;
}

static long p_umount2(void)
{   /* not a mount point: EINVAL once past seccomp and CAP_SYS_ADMIN */
    const char *dir = "/tmp/.probe-umount";
    mkdir(dir, 0700);
    long r = syscall(SYS_umount2, dir, 0);
    int saved = errno;
    rmdir(dir);
    errno = saved;
    return r;
}

static long p_unshare_user(void) { return syscall(SYS_unshare, CLONE_NEWUSER); }
static long p_unshare_ns(void) { return syscall(SYS_unshare, CLONE_NEWNS); }
static long p_clone_newns(void) { return child_result(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0)); }

static long p_clone3(void)
{
    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
#ifdef SYS_clone3
    return child_result(syscall(SYS_clone3, &args, sizeof args));
#else
    return NOSYS;
#endif
}

/* KEYCTL_GET_KEYRING_ID of the session keyring, without creating it */
static long p_keyctl(void) { return syscall(SYS_keyctl, 0, -3, 0); }
/* a key in the thread keyring, which dies with this child */
static long p_add_key(void) { return syscall(SYS_add_key, "user", "rampart-probe", "x", 1, -1); }
/* no callout info: ENOKEY, never an upcall */
static long p_request_key(void) { return syscall(SYS_request_key, "user", "rampart-probe-none", NULL, 0); }

static long p_bpf(void)
{   /* BPF_MAP_CREATE with map_type 0 (unspec): EINVAL once past seccomp */
    char attr[128];
    memset(attr, 0, sizeof attr);
    return fd_result(syscall(SYS_bpf, 0, attr, sizeof attr));
}

static long p_perf_event_open(void)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_DUMMY;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return fd_result(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

/* UFFD_USER_MODE_ONLY (1) needs no capability */
static long p_userfaultfd(void) { return fd_result(syscall(SYS_userfaultfd, O_CLOEXEC | 1)); }

static long p_io_uring_setup(void)
{
    char params[120]; /* struct io_uring_params */
    memset(params, 0, sizeof params);
    return fd_result(syscall(SYS_io_uring_setup, 1, params));
}

static long p_open_by_handle_at(void)
{   /* handle_bytes 0: EINVAL once past seccomp and CAP_DAC_READ_SEARCH */
    struct { unsigned int bytes; int type; unsigned char h[128]; } fh;
    memset(&fh, 0, sizeof fh);
    return fd_result(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
}

static long p_name_to_handle_at(void)
{
    struct { unsigned int bytes; int type; unsigned char h[128]; } fh;
    int mount_id;
    memset(&fh, 0, sizeof fh);
    fh.bytes = sizeof fh.h;
    return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mount_id, 0);
}

static long p_init_module(void) { return syscall(SYS_init_module, NULL, 0, ""); }
static long p_finit_module(void) { return syscall(SYS_finit_module, -1, "", 0); }
static long p_delete_module(void) { return syscall(SYS_delete_module, "rampart_probe_none", O_NONBLOCK); }
/* unknown flag bits and too many segments: EINVAL, never loads or unloads an image */
static long p_kexec_load(void) { return syscall(SYS_kexec_load, 0, 1000, NULL, 0x8000); }
static long p_kexec_file_load(void)
{
#ifdef SYS_kexec_file_load
    return syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0x8000);
#else
    return NOSYS;
#endif
}
/* right magic1, wrong magic2: EINVAL once past CAP_SYS_BOOT */
static long p_reboot(void) { return syscall(SYS_reboot, 0xfee1dead, 0x12345678, 0 /* CAD_OFF */, NULL); }
static long p_swapon(void) { return syscall(SYS_swapon, "/.probe-none", 0); }
static long p_swapoff(void) { return syscall(SYS_swapoff, "/.probe-none"); }
static long p_acct(void) { return syscall(SYS_acct, "/.probe-none"); }
static long p_syslog(void) { return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0); }
static long p_iopl(void)
{
#ifdef SYS_iopl
    return syscall(SYS_iopl, 0);
#else
    return NOSYS;
#endif
}

static long p_ioperm(void)
{   /* turning access off needs no capability */
#ifdef SYS_ioperm
    return syscall(SYS_ioperm, 0x80, 1, 0);
#else
    return NOSYS;
#endif
}
/* this process is nobody's tracee: ESRCH once past seccomp */
static long p_ptrace(void) { long d; return syscall(SYS_ptrace, PTRACE_PEEKDATA, 1, 0, &d); }
static long p_personality_bad(void) { return syscall(SYS_personality, 0x0040000); }
static long p_personality_ok(void) { return syscall(SYS_personality, 0xffffffff); }
static long p_socket_alg(void) { return fd_result(socket(38, SOCK_SEQPACKET, 0)); }
static long p_socket_vsock(void) { return fd_result(socket(40, SOCK_STREAM, 0)); }
static long p_socket_packet(void) { return fd_result(socket(17, SOCK_RAW, 0)); }
static long p_socket_inet(void) { return fd_result(socket(AF_INET, SOCK_STREAM, 0)); }
static long p_getpid(void) { return syscall(SYS_getpid); }
static long p_chroot(void) { return syscall(SYS_chroot, "/"); }

static long p_mknod(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/.probe-mknod-%d", (int)getpid());
    unlink(path);
    /* mknodat: what glibc's mknod() uses, and the only one aarch64 has */
    long r = syscall(SYS_mknodat, AT_FDCWD, path, S_IFCHR | 0600, makedev(1, 3));
    int saved = errno;
    unlink(path);
    errno = saved;
    return r;
}

static long p_setns(void) { return syscall(SYS_setns, -1, 0); }
static long p_pivot_root(void) { return syscall(SYS_pivot_root, "/.probe-none-a", "/.probe-none-b"); }

static const struct probe { const char *name; long (*fn)(void); } probes[] = {
#define P(n) { #n, p_##n },
    P(mount) P(umount2) P(unshare_user) P(unshare_ns) P(clone_newns) P(clone3) P(keyctl) P(add_key)
    P(request_key) P(bpf) P(perf_event_open) P(userfaultfd) P(io_uring_setup) P(open_by_handle_at)
    P(name_to_handle_at) P(init_module) P(finit_module) P(delete_module) P(kexec_load)
    P(kexec_file_load) P(reboot) P(swapon) P(swapoff) P(acct) P(syslog) P(iopl) P(ioperm) P(ptrace)
    P(personality_bad) P(personality_ok) P(socket_alg) P(socket_vsock) P(socket_packet)
    P(socket_inet) P(getpid) P(chroot) P(mknod) P(setns) P(pivot_root)
#undef P
};

/* Run one probe in a child; the child's exit code carries errno (0 = ok). */
static int run_probe(const char *name)
{
    const struct probe *p = NULL;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        if (strcmp(probes[i].name, name) == 0)
            p = &probes[i];
    if (!p) {
        printf("%s unknown\n", name);
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        printf("%s probe-fork-failed errno=%s\n", name, errno_name(errno));
        return 1;
    }
    if (pid == 0) {
        errno = 0;
        long r = p->fn();
        _exit(r < 0 ? (errno ? errno : 255) : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("%s killed=%s\n", name, WTERMSIG(st) == SIGSYS ? "SIGSYS" : strsignal(WTERMSIG(st)));
    else if (WEXITSTATUS(st) == 0)
        printf("%s ok\n", name);
    else
        printf("%s errno=%s\n", name, errno_name(WEXITSTATUS(st)));
    return 0;
}

static int forkbomb(long n)
{
    pid_t *kids = calloc(n > 0 ? n : 1, sizeof *kids);
    long k = 0;
    int err = 0;
    while (k < n) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            alarm(30); /* die on our own if the parent never kills us */
            for (;;)
                pause();
        }
        kids[k++] = pid;
    }
    if (err)
        printf("forked %ld errno=%s\n", k, errno_name(err));
    else
        printf("forked %ld ok\n", k);
    for (long i = 0; i < k; i++)
        kill(kids[i], SIGKILL);
    for (long i = 0; i < k; i++)
        waitpid(kids[i], NULL, 0);
    free(kids);
    return 0;
}

static int status(void)
{
    static const char *keys[] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
                                  "NoNewPrivs:", "Seccomp:" };
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        perror("/proc/self/status");
        return 1;
    }
    while (fgets(line, sizeof line, f))
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strncmp(line, keys[i], strlen(keys[i])) == 0)
                fputs(line, stdout);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* nothing buffered is duplicated by fork */
    if (argc >= 2 && strcmp(argv[1], "sys") == 0) {
        int rc = 0;
        for (int i = 2; i < argc; i++)
            rc |= run_probe(argv[i]);
        return rc ? 2 : 0;
    }
    if (argc == 3 && strcmp(argv[1], "forkbomb") == 0)
        return forkbomb(strtol(argv[2], NULL, 10));
    if (argc == 2 && strcmp(argv[1], "status") == 0)
        return status();
    fprintf(stderr, "usage: probe sys NAME... | probe forkbomb N | probe status\n");
    return 2;
}
