/* Runs inside a test container and reports on attack-surface syscalls.
 *   probe sys NAME...    one line per NAME: "NAME ok", "NAME errno=EPERM" or "NAME killed=SIGSYS"
 *   probe forkbomb N     "forked K errno=EAGAIN" (or "forked K ok" when N was reached)
 *   probe status         capability, NoNewPrivs and Seccomp lines of /proc/self/status
 *   probe escape [FORKS [MIB]]
 *                        the escape battery: one line per path, "PATH blocked DETAIL" or
 *                        "PATH OPEN DETAIL" (fork exhaustion tries FORKS processes, default
 *                        2000; memory exhaustion touches MIB MiB, default 2560)
 *   probe memory MIB     allocates and touches memory in 64 MiB steps, "touched K MiB" after
 *                        each, then "memory MIB ok" (under a memory limit the OOM killer ends it)
 *   probe euid           "euid=E uid=U" (the test harness installs a setuid-root copy of this
 *                        binary as /bin/probe-suid)
 * Build: gcc -static -O2 -o probe probe.c
 * Every syscall runs in a forked child, so side effects (unshare, chroot, personality) stay there.
 * Arguments are harmless: where a call could do damage if allowed, they make the kernel fail it
 * AFTER the seccomp layer (EINVAL, ENOENT, EBADF...), so an EPERM usually means seccomp or a
 * missing capability.
 * Never harmful even where nothing blocks it: /proc/sys is written with the value just read
 * from it, /proc/sysrq-trigger is only opened (never written), devices are created in /tmp and
 * removed, modules, kexec and reboot get arguments the kernel rejects. */
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
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

static const char *errno_name(int e)
{
    static char buf[16];
#define E(x) case x: return #x;
    switch (e) {
    E(EPERM) E(ENOSYS) E(EINVAL) E(EACCES) E(EFAULT) E(EBADF) E(ENOENT) E(EAFNOSUPPORT)
    E(EOPNOTSUPP) E(EPROTONOSUPPORT) E(ESRCH) E(ENOMEM) E(EBUSY) E(EAGAIN) E(EEXIST)
    E(ENODEV) E(ENOKEY) E(EOVERFLOW) E(ENOEXEC) E(E2BIG) E(ESOCKTNOSUPPORT)
    E(EROFS) E(ENOSPC) E(EIO) E(ENOTDIR) E(EISDIR) E(ENXIO)
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

/* A listening port below 1024 (NET_BIND_SERVICE outside a network namespace that lowered
 * ip_unprivileged_port_start). */
static long p_bind80(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long r = bind(fd, (struct sockaddr *)&a, sizeof a);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

static long p_setuid(void) { return syscall(SYS_setuid, 1000); }

/* getpid through the i386 entry (int 0x80, nr 20): a compat-arch syscall. */
static long p_compat_getpid(void)
{
#if defined(__x86_64__)
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* Root reading a file another user owns with mode 0600: allowed by CAP_DAC_OVERRIDE only. */
static long p_dac_read(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/.probe-dac-%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || fchown(fd, 1234, 1234) < 0)
        return -1;
    close(fd);
    fd = open(path, O_RDONLY);
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(path);
    errno = saved;
    return fd < 0 ? -1 : 0;
}

/* A file written in the rootfs and kept (what a recording's "writes" should list). */
static long p_keep_file(void)
{
    long fd = open("/probe-kept", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
        close((int)fd);
    return fd < 0 ? -1 : 0;
}

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

/* clone with CLONE_NEWUSER: the other way into a user namespace (seccomp filters clone's flags) */
static long p_clone_newuser(void) { return child_result(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)); }

/* clone3 cannot be argument-filtered: a profile must refuse it whole, or it is a way around */
static long p_clone3_newuser(void)
{
    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
#ifdef SYS_clone3
    return child_result(syscall(SYS_clone3, &args, sizeof args));
#else
    return NOSYS;
#endif
}

/* AF_INET raw socket: needs CAP_NET_RAW (ICMP spoofing, the raw-socket CVEs) */
static long p_socket_raw(void) { return fd_result(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)); }

/* chown a file of our own to another user: needs CAP_CHOWN */
static long p_chown(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/.probe-chown-%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    long r = syscall(SYS_fchownat, AT_FDCWD, path, 1234, 1234, 0);
    int saved = errno;
    unlink(path);
    errno = saved;
    return r;
}

/* Write /proc/sys/kernel/core_pattern (host code execution if writable): writes back exactly
 * the value just read, so even an unprotected host is left unchanged. */
static long p_write_proc_sys(void)
{
    const char *path = "/proc/sys/kernel/core_pattern";
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf);
    int saved = errno;
    close(fd);
    if (n < 0) {
        errno = saved;
        return -1;
    }
    if (n == 0 || n == (ssize_t)sizeof buf) { /* nothing read, or maybe truncated: never write */
        errno = EIO;
        return -1;
    }
    fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, buf, (size_t)n);
    saved = errno;
    close(fd);
    errno = saved;
    return w == n ? 0 : -1;
}

/* Open /proc/sysrq-trigger for writing (crash or reboot the host). Opened and closed: no
 * trigger character is ever written. */
static long p_sysrq(void) { return fd_result(open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC)); }

/* Create a file in the container's root filesystem (tampering with the image's binaries) */
static long p_write_rootfs(void)
{
    char path[64];
    snprintf(path, sizeof path, "/.probe-write-%d", (int)getpid());
    long fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    int saved = errno;
    if (fd >= 0) {
        close((int)fd);
        unlink(path);
    }
    errno = saved;
    return fd < 0 ? -1 : 0;
}

/* Create a block device node for the host's first disk (sda, 8:0) and open it */
static long p_mknod_block(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/.probe-blk-%d", (int)getpid());
    unlink(path);
    long r = syscall(SYS_mknodat, AT_FDCWD, path, S_IFBLK | 0600, makedev(8, 0));
    int saved = errno;
    if (r == 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        saved = errno;
        r = fd < 0 ? -1 : 0;
        if (fd >= 0)
            close(fd);
    }
    unlink(path);
    errno = saved;
    return r;
}

static const struct probe { const char *name; long (*fn)(void); } probes[] = {
#define P(n) { #n, p_##n },
    P(mount) P(umount2) P(unshare_user) P(unshare_ns) P(clone_newns) P(clone3) P(keyctl) P(add_key)
    P(request_key) P(bpf) P(perf_event_open) P(userfaultfd) P(io_uring_setup) P(open_by_handle_at)
    P(name_to_handle_at) P(init_module) P(finit_module) P(delete_module) P(kexec_load)
    P(kexec_file_load) P(reboot) P(swapon) P(swapoff) P(acct) P(syslog) P(iopl) P(ioperm) P(ptrace)
    P(personality_bad) P(personality_ok) P(socket_alg) P(socket_vsock) P(socket_packet)
    P(socket_inet) P(getpid) P(chroot) P(mknod) P(setns) P(pivot_root) P(clone_newuser)
    P(clone3_newuser) P(socket_raw) P(chown) P(write_proc_sys) P(sysrq) P(write_rootfs) P(mknod_block)
    P(bind80) P(setuid) P(keep_file) P(dac_read) P(compat_getpid)
#undef P
};

static const struct probe *find_probe(const char *name)
{
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        if (strcmp(probes[i].name, name) == 0)
            return &probes[i];
    return NULL;
}

/* How one probe ended: killed by signal `sig`, or exited with errno `err` (0 = ok). */
struct outcome { int sig; int err; };

/* Run one probe in a child; the child's exit code carries errno (0 = ok). -1 if fork failed. */
static int run_child(const struct probe *p, struct outcome *o)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        errno = 0;
        long r = p->fn();
        _exit(r < 0 ? (errno ? errno : 255) : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    o->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    o->err = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
    return 0;
}

static const char *signal_name(int sig)
{
    return sig == SIGSYS ? "SIGSYS" : sig == SIGKILL ? "SIGKILL" : strsignal(sig);
}

static int run_probe(const char *name)
{
    const struct probe *p = find_probe(name);
    struct outcome o;
    if (!p) {
        printf("%s unknown\n", name);
        return 1;
    }
    if (run_child(p, &o) < 0) {
        printf("%s probe-fork-failed errno=%s\n", name, errno_name(errno));
        return 1;
    }
    if (o.sig)
        printf("%s killed=%s\n", name, signal_name(o.sig));
    else if (o.err == 0)
        printf("%s ok\n", name);
    else
        printf("%s errno=%s\n", name, errno_name(o.err));
    return 0;
}

/* Forks up to n sleeping children; returns how many were made, *err = errno of the first
 * failed fork (0 if n were made). Kills and reaps them before returning. */
static long fork_many(long n, int *err)
{
    pid_t *kids = calloc(n > 0 ? n : 1, sizeof *kids);
    long k = 0;
    *err = 0;
    if (!kids) {
        *err = ENOMEM;
        return 0;
    }
    while (k < n) {
        pid_t pid = fork();
        if (pid < 0) {
            *err = errno;
            break;
        }
        if (pid == 0) {
            alarm(30); /* die on our own if the parent never kills us */
            for (;;)
                pause();
        }
        kids[k++] = pid;
    }
    for (long i = 0; i < k; i++)
        kill(kids[i], SIGKILL);
    for (long i = 0; i < k; i++)
        waitpid(kids[i], NULL, 0);
    free(kids);
    return k;
}

static int forkbomb(long n)
{
    int err;
    long k = fork_many(n, &err);
    if (err)
        printf("forked %ld errno=%s\n", k, errno_name(err));
    else
        printf("forked %ld ok\n", k);
    return 0;
}

#define MIB (1024L * 1024L)
#define MEM_STEP_MIB 64

/* Allocates and touches memory in 64 MiB steps up to `mib`; after each step stores the MiB
 * touched so far in *progress (shared with a parent) and, if `report`, prints it. Returns 0
 * when `mib` was reached, -1 with errno when an allocation failed (an OOM kill never returns). */
static int touch_memory(long mib, volatile long *progress, int report)
{
    long done = 0;
    while (done < mib) {
        long step = mib - done < MEM_STEP_MIB ? mib - done : MEM_STEP_MIB;
        char *p = mmap(NULL, (size_t)(step * MIB), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return -1;
        for (long off = 0; off < step * MIB; off += 4096)
            p[off] = 1;
        done += step;
        *progress = done;
        if (report)
            printf("touched %ld MiB\n", done);
    }
    return 0;
}

static int memory(long mib)
{
    long progress = 0;
    if (touch_memory(mib, &progress, 1) < 0) {
        printf("memory %ld MiB errno=%s\n", progress, errno_name(errno));
        return 1;
    }
    printf("memory %ld MiB ok\n", mib);
    return 0;
}

static int euid(void)
{
    printf("euid=%d uid=%d\n", (int)geteuid(), (int)getuid());
    return 0;
}

/* ------------------------------------------------------------------ the escape battery */

/* A failure that means the path is closed: refused by seccomp or for want of a capability
 * (EPERM, EACCES), by a read-only mount (EROFS), or not there at all on this kernel (ENOSYS,
 * EAFNOSUPPORT...). Any other result means the call got past those checks: ok, or an error the
 * kernel gave only after them (EINVAL, EBADF, ESRCH, ENOKEY... for the harmless arguments
 * used here). */
static int closed_errno(int e)
{
    return e == EPERM || e == EACCES || e == EROFS || e == ENOSYS || e == EAFNOSUPPORT ||
           e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT;
}

static void verdict(const char *path, int blocked, const char *detail)
{
    printf("%s %s %s\n", path, blocked ? "blocked" : "OPEN", detail);
}

/* A path: blocked if killed by seccomp or failed with a "closed" errno; for a path in /proc,
 * also when the file does not exist on this kernel (ENOENT). */
static void escape_syscall(const char *path, const char *probe_name, int file)
{
    const struct probe *p = find_probe(probe_name);
    struct outcome o;
    char detail[64];
    if (!p || run_child(p, &o) < 0) {
        verdict(path, 0, "probe-error");
        return;
    }
    if (o.sig) {
        snprintf(detail, sizeof detail, "killed=%s", signal_name(o.sig));
        verdict(path, o.sig == SIGSYS, detail);
    } else if (o.err == 0) {
        verdict(path, 0, "ok");
    } else {
        snprintf(detail, sizeof detail, "errno=%s", errno_name(o.err));
        verdict(path, closed_errno(o.err) || (file && o.err == ENOENT), detail);
    }
}

/* Bytes readable from a file (at most 64 KiB counted), or entries of a directory; -1 with
 * errno if it cannot be opened. */
static long readable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -1;
        long n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                n++;
        closedir(d);
        return n;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    long total = 0;
    ssize_t r;
    while (total < 65536 && (r = read(fd, buf, sizeof buf)) > 0)
        total += r;
    close(fd);
    return total;
}

/* Reads of paths that leak host state: blocked when each is empty or cannot be opened. */
static void escape_reads(const char *path, const char *const *files, size_t n)
{
    char detail[512] = "";
    size_t len = 0;
    int blocked = 1;
    for (size_t i = 0; i < n; i++) {
        long got = readable(files[i]);
        const char *base = strrchr(files[i], '/') + 1;
        if (got > 0)
            blocked = 0;
        if (got < 0)
            len += snprintf(detail + len, sizeof detail - len, "%s%s=%s", i ? "," : "", base,
                            errno_name(errno));
        else
            len += snprintf(detail + len, sizeof detail - len, "%s%s=%ld", i ? "," : "", base, got);
        if (len >= sizeof detail)
            break;
    }
    verdict(path, blocked, detail);
}

static void escape_fork(long n)
{
    int err;
    char detail[64];
    long k = fork_many(n, &err);
    if (err)
        snprintf(detail, sizeof detail, "stopped at %ld of %ld errno=%s", k, n, errno_name(err));
    else
        snprintf(detail, sizeof detail, "forked %ld of %ld", k, n);
    verdict("fork_exhaustion", err != 0, detail);
}

/* Touches `mib` MiB in a child (which the OOM killer may end); the child reports progress
 * through a shared page. */
static void escape_memory(long mib)
{
    char detail[96];
    volatile long *progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (progress == MAP_FAILED) {
        verdict("memory_exhaustion", 0, "probe-error");
        return;
    }
    *progress = 0;
    pid_t pid = fork();
    if (pid < 0) {
        verdict("memory_exhaustion", 0, "probe-error");
        return;
    }
    if (pid == 0)
        _exit(touch_memory(mib, progress, 0) < 0 ? (errno ? errno : 255) : 0);
    int st;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        snprintf(detail, sizeof detail, "killed=%s at %ld of %ld MiB", signal_name(WTERMSIG(st)),
                 *progress, mib);
    else if (WEXITSTATUS(st))
        snprintf(detail, sizeof detail, "errno=%s at %ld of %ld MiB", errno_name(WEXITSTATUS(st)),
                 *progress, mib);
    else
        snprintf(detail, sizeof detail, "touched %ld of %ld MiB", mib, mib);
    verdict("memory_exhaustion", WIFSIGNALED(st) || WEXITSTATUS(st), detail);
}

/* The battery: PATH and the probe that tries it, in the order printed; then the /proc files. */
static const char *const escape_syscalls[][2] = {
    { "mount", "mount" },
    { "umount", "umount2" },
    { "pivot_root", "pivot_root" },
    { "unshare_user", "unshare_user" },
    { "unshare_mount", "unshare_ns" },
    { "clone_newuser", "clone_newuser" },
    { "clone3_newuser", "clone3_newuser" },
    { "setns", "setns" },
    { "init_module", "init_module" },
    { "finit_module", "finit_module" },
    { "delete_module", "delete_module" },
    { "kexec_load", "kexec_load" },
    { "reboot", "reboot" },
    { "keyctl", "keyctl" },
    { "add_key", "add_key" },
    { "request_key", "request_key" },
    { "bpf", "bpf" },
    { "perf_event_open", "perf_event_open" },
    { "userfaultfd", "userfaultfd" },
    { "io_uring_setup", "io_uring_setup" },
    { "open_by_handle_at", "open_by_handle_at" },
    { "ptrace", "ptrace" },
    { "socket_packet", "socket_packet" },
    { "socket_raw", "socket_raw" },
    { "socket_alg", "socket_alg" },
    { "socket_vsock", "socket_vsock" },
    { "mknod_char", "mknod" },
    { "mknod_block", "mknod_block" },
    { "chroot", "chroot" },
    { "chown", "chown" },
    { "swapon", "swapon" },
    { "syslog", "syslog" },
    { "iopl", "iopl" },
    { "write_rootfs", "write_rootfs" },
};
static const char *const escape_files[][2] = {
    { "write_proc_sys", "write_proc_sys" },
    { "sysrq", "sysrq" },
};

static int escape(long forks, long mib)
{
    static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list",
                                          "/proc/sched_debug", "/proc/acpi", "/proc/scsi",
                                          "/sys/firmware" };
    static const char *const interrupts[] = { "/proc/interrupts" };
    for (size_t i = 0; i < sizeof escape_syscalls / sizeof escape_syscalls[0]; i++)
        escape_syscall(escape_syscalls[i][0], escape_syscalls[i][1], 0);
    for (size_t i = 0; i < sizeof escape_files / sizeof escape_files[0]; i++)
        escape_syscall(escape_files[i][0], escape_files[i][1], 1);
    escape_reads("read_masked", masked, sizeof masked / sizeof masked[0]);
    escape_reads("read_interrupts", interrupts, 1);
    escape_fork(forks);
    escape_memory(mib);
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
    if (argc >= 2 && argc <= 4 && strcmp(argv[1], "escape") == 0)
        return escape(argc >= 3 ? strtol(argv[2], NULL, 10) : 2000,
                      argc >= 4 ? strtol(argv[3], NULL, 10) : 2560);
    if (argc == 3 && strcmp(argv[1], "memory") == 0)
        return memory(strtol(argv[2], NULL, 10));
    if (argc == 2 && strcmp(argv[1], "euid") == 0)
        return euid();
    fprintf(stderr, "usage: probe sys NAME... | probe forkbomb N | probe status | probe escape [FORKS [MIB]]\n"
                    "       | probe memory MIB | probe euid\n");
    return 2;
}
