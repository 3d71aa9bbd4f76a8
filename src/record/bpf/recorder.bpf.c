// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/* Rampart's recorder: what one container does, from the first exec of its process to its
 * init's exit. Loaded by `rampart __record` (src/record/bpf.rs); never on the path of an
 * ordinary runc call.
 *
 * Who is recorded: `tracked` holds the process tree of the `runc create`/`run` Rampart
 * exec'd (seeded with its pid by the loader, grown at fork). The first exec by a tracked
 * process in another mount namespace than runc's is the container's process (runc's init
 * execs process.args); from then on `inside` holds every process that exec'd in that mount
 * namespace (the container's, and `runc exec`'d ones once they exec) and their children,
 * until that init exits (namespace inode numbers are reused: a container started later
 * may get the same one). runc's own set-up (before that exec) is therefore never counted.
 *
 * What: per (arch, nr) the calls, the successful returns and each errno (`counts`, kept in
 * the kernel: nothing is lost to a full ring buffer); for the syscalls that can need a
 * capability, one `evidence` event each (decoded arguments, credentials, the fd's inode)
 * through the ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TS_COMPAT 0x0002
#define X32_BIT 0x40000000
#define ARCH_X86_64 0
#define ARCH_X86 1
#define ARCH_X32 2

/* Count codes in `counts` keys. */
#define CODE_CALL 0
#define CODE_OK 1
#define CODE_ERR 2 /* + errno */

#define EV_START 1
#define EV_EVIDENCE 2
#define EV_END 3

#define STR_MAX 256

/* stats[] slots */
#define ST_LOST 0      /* ring buffer full: an evidence event dropped */
#define ST_COUNTS 1    /* counts map full: a count dropped */
#define ST_PROCS 2     /* inside/tracked map full: a process not followed */
#define ST_PENDING 3   /* pending map full */
#define ST_N 4

struct config {
	u32 root_tgid;   /* the runc Rampart exec'd (set by the loader) */
	u32 host_mntns;  /* its mount namespace (set by the loader) */
	u32 started;     /* set here, at the container's first exec */
	u32 target_mntns;
	u32 init_tgid;
	u32 ended;       /* set here, when that process (the container's init) exits */
	u64 start_ns;    /* bpf_ktime_get_boot_ns at that exec */
	u64 end_ns;
};

struct count_key {
	u32 nr;
	u16 arch;
	u16 code;
};

struct pending {
	u64 args[6];
	u32 nr;
	u32 has_target;
	u32 t_uid, t_gid, t_mode;
	/* The caller's credentials before the call (a setuid changes them). */
	u32 uid, euid, fsuid, gid, egid, fsgid;
	u32 pad;
};

struct event {
	u32 kind;
	u32 nr;
	u32 pid;
	u32 tgid;
	s64 ret;
	u64 args[6];
	u32 uid, euid, fsuid, gid, egid, fsgid;
	u32 has_target;
	u32 t_uid, t_gid, t_mode;
	u32 mntns;
	u32 aux; /* bind: family; */
	u64 aux2; /* bind: port; */
	u64 ts;
	char str[STR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_N);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, u8);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, u32);
	__type(value, u8);
} inside SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct count_key);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* Capability checks (kprobe/cap_capable, where the kernel has kprobes): cap -> granted,
 * denied. `cap_pending` carries the cap from entry to return, per thread. */
struct cap_count {
	u64 granted;
	u64 denied;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct cap_count);
} caps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, u32);
} cap_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

static __always_inline void stat_inc(u32 slot)
{
	u64 *v = bpf_map_lookup_elem(&stats, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct config *cfg(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline u32 mntns_of(struct task_struct *t)
{
	return BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
}

static __always_inline bool is_inside(void)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&inside, &tgid) != 0;
}

static __always_inline void mark(void *map, u32 tgid)
{
	u8 one = 1;
	if (bpf_map_update_elem(map, &tgid, &one, BPF_ANY))
		stat_inc(ST_PROCS);
}

/* The syscall's arch as the kernel's syscall_get_arch sees it, and its number without
 * the x32 bit. */
static __always_inline u16 arch_of(struct task_struct *t, long *nr)
{
	u32 status = BPF_CORE_READ(t, thread_info.status);
	if (status & TS_COMPAT)
		return ARCH_X86;
	if (*nr & X32_BIT) {
		*nr &= ~X32_BIT;
		return ARCH_X32;
	}
	return ARCH_X86_64;
}

static __always_inline void count(u32 nr, u16 arch, u16 code)
{
	struct count_key k = {.nr = nr, .arch = arch, .code = code};
	u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	u64 one = 1;
	if (bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&counts, &k);
		if (v)
			__sync_fetch_and_add(v, 1);
		else
			stat_inc(ST_COUNTS);
	}
}

/* x86_64 numbers of the syscalls that can need a capability. */
enum {
	NR_open = 2, NR_socket = 41, NR_bind = 49, NR_kill = 62, NR_chmod = 90, NR_fchmod = 91,
	NR_chown = 92, NR_fchown = 93, NR_lchown = 94, NR_setuid = 105, NR_setgid = 106,
	NR_setreuid = 113, NR_setregid = 114, NR_setgroups = 116, NR_setresuid = 117,
	NR_setresgid = 119, NR_setfsuid = 122, NR_setfsgid = 123, NR_capset = 126, NR_mknod = 133,
	NR_prctl = 157, NR_chroot = 161, NR_setxattr = 188, NR_lsetxattr = 189,
	NR_fsetxattr = 190, NR_tkill = 200, NR_tgkill = 234, NR_openat = 257, NR_mknodat = 259,
	NR_fchownat = 260, NR_fchmodat = 268, NR_openat2 = 437, NR_fchmodat2 = 452,
};

static __always_inline bool is_open(long nr)
{
	return nr == NR_open || nr == NR_openat || nr == NR_openat2;
}

static __always_inline bool is_evidence(long nr)
{
	switch (nr) {
	case NR_open: case NR_socket: case NR_bind: case NR_kill: case NR_chmod: case NR_fchmod:
	case NR_chown: case NR_fchown: case NR_lchown: case NR_setuid: case NR_setgid:
	case NR_setreuid: case NR_setregid: case NR_setgroups: case NR_setresuid:
	case NR_setresgid: case NR_setfsuid: case NR_setfsgid: case NR_capset: case NR_mknod:
	case NR_prctl: case NR_chroot: case NR_setxattr: case NR_lsetxattr: case NR_fsetxattr:
	case NR_tkill: case NR_tgkill: case NR_openat: case NR_mknodat: case NR_fchownat:
	case NR_fchmodat: case NR_openat2: case NR_fchmodat2:
		return true;
	}
	return false;
}

/* The inode behind `fd` of task `t`: owner, group, mode. */
static __always_inline bool fd_inode(struct task_struct *t, long fd, u32 *uid, u32 *gid, u32 *mode)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || fd < 0)
		return false;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max)
		return false;
	struct file **arr = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]) || !f)
		return false;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	if (!ino)
		return false;
	*uid = BPF_CORE_READ(ino, i_uid.val);
	*gid = BPF_CORE_READ(ino, i_gid.val);
	*mode = BPF_CORE_READ(ino, i_mode);
	return true;
}

/* Where the path argument is, for the syscalls that take one. */
static __always_inline int path_arg(u32 nr)
{
	switch (nr) {
	case NR_open: case NR_chmod: case NR_chown: case NR_lchown: case NR_mknod:
	case NR_chroot:
		return 0;
	case NR_openat: case NR_openat2: case NR_mknodat: case NR_fchownat: case NR_fchmodat:
	case NR_fchmodat2:
		return 1;
	}
	return -1;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 ptgid = BPF_CORE_READ(parent, tgid);
	u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid)
		return 0;
	if (bpf_map_lookup_elem(&inside, &ptgid))
		mark(&inside, ctgid);
	else if (bpf_map_lookup_elem(&tracked, &ptgid))
		mark(&tracked, ctgid);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct config *c = cfg();
	if (!c)
		return 0;
	u32 tgid = BPF_CORE_READ(p, tgid);
	u32 ns = mntns_of(p);
	if (!c->started) {
		if (!bpf_map_lookup_elem(&tracked, &tgid) || ns == c->host_mntns)
			return 0;
		c->target_mntns = ns;
		c->init_tgid = tgid;
		c->start_ns = bpf_ktime_get_boot_ns();
		c->started = 1;
		mark(&inside, tgid);
		struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			stat_inc(ST_LOST);
			return 0;
		}
		__builtin_memset(e, 0, sizeof(*e));
		e->kind = EV_START;
		e->tgid = tgid;
		e->pid = BPF_CORE_READ(p, pid);
		e->mntns = ns;
		e->ts = c->start_ns;
		bpf_ringbuf_submit(e, 0);
		return 0;
	}
	/* Only while the container runs: once its init has exited, its mount namespace is
	 * freed and the kernel may give its inode number to another container's. */
	if (ns == c->target_mntns && !c->ended)
		mark(&inside, tgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_task, struct task_struct *p)
{
	u32 pid = BPF_CORE_READ(p, pid);
	u32 tgid = BPF_CORE_READ(p, tgid);
	if (pid != tgid)
		return 0;
	struct config *c = cfg();
	if (c && c->started && !c->ended && tgid == c->init_tgid) {
		c->end_ns = bpf_ktime_get_boot_ns();
		c->ended = 1;
		struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			__builtin_memset(e, 0, sizeof(*e));
			e->kind = EV_END;
			e->tgid = tgid;
			e->ts = c->end_ns;
			bpf_ringbuf_submit(e, 0);
		}
	}
	bpf_map_delete_elem(&tracked, &tgid);
	/* The container's init stays: the loader reads config, not this map, for it. */
	bpf_map_delete_elem(&inside, &tgid);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (!is_inside())
		return 0;
	/* -1: no syscall (a tracer or seccomp skipped it). */
	if (id < 0)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	long nr = id;
	u16 arch = arch_of(t, &nr);
	count((u32)nr, arch, CODE_CALL);
	if (arch != ARCH_X86_64 || !is_evidence(nr))
		return 0;
	struct pending p = {};
	p.nr = nr;
	p.args[0] = BPF_CORE_READ(regs, di);
	p.args[1] = BPF_CORE_READ(regs, si);
	p.args[2] = BPF_CORE_READ(regs, dx);
	p.args[3] = BPF_CORE_READ(regs, r10);
	p.args[4] = BPF_CORE_READ(regs, r8);
	p.args[5] = BPF_CORE_READ(regs, r9);
	/* fd-based ops: the inode as it was before the call. */
	if (nr == NR_fchown || nr == NR_fchmod || nr == NR_fsetxattr)
		p.has_target = fd_inode(t, (long)p.args[0], &p.t_uid, &p.t_gid, &p.t_mode);
	const struct cred *cr = BPF_CORE_READ(t, cred);
	p.uid = BPF_CORE_READ(cr, uid.val);
	p.euid = BPF_CORE_READ(cr, euid.val);
	p.fsuid = BPF_CORE_READ(cr, fsuid.val);
	p.gid = BPF_CORE_READ(cr, gid.val);
	p.egid = BPF_CORE_READ(cr, egid.val);
	p.fsgid = BPF_CORE_READ(cr, fsgid.val);
	if (nr == NR_openat2) {
		/* struct open_how { u64 flags; u64 mode; u64 resolve; } */
		u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)p.args[2]);
		p.args[2] = flags;
	}
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY))
		stat_inc(ST_PENDING);
	return 0;
}

/* An open worth keeping: refused (EACCES/EPERM), or allowed although the file's mode does
 * not grant the caller's fsuid/fsgid the access asked (root's DAC_OVERRIDE/READ_SEARCH). */
static __always_inline bool open_needs(struct task_struct *t, struct pending *p, long ret,
				       struct event *e)
{
	if (ret == -13 || ret == -1)
		return true;
	if (ret < 0)
		return false;
	u64 flags = p->nr == NR_open ? p->args[1] : p->args[2];
	if (flags & 010000000) /* O_PATH */
		return false;
	u32 want = (flags & 3) == 0 ? 4 : (flags & 3) == 1 ? 2 : 6;
	u32 uid, gid, mode;
	if (!fd_inode(t, ret, &uid, &gid, &mode))
		return false;
	u32 fsuid = p->fsuid;
	u32 fsgid = p->fsgid;
	u32 bits = fsuid == uid ? (mode >> 6) & 7 : fsgid == gid ? (mode >> 3) & 7 : mode & 7;
	if ((bits & want) == want)
		return false;
	e->has_target = 1;
	e->t_uid = uid;
	e->t_gid = gid;
	e->t_mode = mode;
	return true;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	if (!is_inside())
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	long nr = BPF_CORE_READ(regs, orig_ax);
	/* -1: rt_sigreturn's exit (it resets orig_ax) or a skipped syscall, counted at entry.
	 * A syscall seccomp refused with an errno has no entry but exits here with its own
	 * number and that errno: denied syscalls are recorded as errors. */
	if (nr < 0)
		return 0;
	u16 arch = arch_of(t, &nr);
	u16 code = (ret < 0 && ret >= -4095) ? CODE_ERR + (u16)(-ret) : CODE_OK;
	count((u32)nr, arch, code);
	if (arch != ARCH_X86_64 || !is_evidence(nr))
		return 0;
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	if (p->nr != nr) {
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(ST_LOST);
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	if (is_open(nr) && !open_needs(t, p, ret, e)) {
		bpf_ringbuf_discard(e, 0);
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	e->kind = EV_EVIDENCE;
	e->nr = nr;
	e->ret = ret;
	u64 id = bpf_get_current_pid_tgid();
	e->pid = (u32)id;
	e->tgid = id >> 32;
	for (int i = 0; i < 6; i++)
		e->args[i] = p->args[i];
	e->uid = p->uid;
	e->euid = p->euid;
	e->fsuid = p->fsuid;
	e->gid = p->gid;
	e->egid = p->egid;
	e->fsgid = p->fsgid;
	if (p->has_target) {
		e->has_target = 1;
		e->t_uid = p->t_uid;
		e->t_gid = p->t_gid;
		e->t_mode = p->t_mode;
	}
	int pa = path_arg(nr);
	if (pa == 0)
		bpf_probe_read_user_str(e->str, sizeof(e->str), (void *)p->args[0]);
	else if (pa == 1)
		bpf_probe_read_user_str(e->str, sizeof(e->str), (void *)p->args[1]);
	else if (nr == NR_setxattr || nr == NR_lsetxattr || nr == NR_fsetxattr)
		bpf_probe_read_user_str(e->str, sizeof(e->str), (void *)p->args[1]);
	if (nr == NR_bind) {
		/* struct sockaddr_in/in6: family (u16), port (be16) */
		u16 fam_port[2] = {};
		bpf_probe_read_user(&fam_port, sizeof(fam_port), (void *)p->args[1]);
		e->aux = fam_port[0];
		e->aux2 = __builtin_bswap16(fam_port[1]);
	}
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* Where the kernel has kprobes: cap_capable(cred, ns, cap, opts). Checks made with
 * CAP_OPT_NOAUDIT (bit 1: probes, not needs) are skipped. */
SEC("kprobe/cap_capable")
int on_cap_capable(struct pt_regs *ctx)
{
	if (!is_inside())
		return 0;
	u32 cap = (u32)ctx->dx;
	u32 opts = (u32)ctx->cx;
	if (opts & 2)
		return 0;
	u32 tid = (u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&cap_pending, &tid, &cap, BPF_ANY);
	return 0;
}

SEC("kretprobe/cap_capable")
int on_cap_capable_ret(struct pt_regs *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u32 *cap = bpf_map_lookup_elem(&cap_pending, &tid);
	if (!cap)
		return 0;
	u32 c = *cap;
	bpf_map_delete_elem(&cap_pending, &tid);
	long ret = (long)ctx->ax;
	struct cap_count *v = bpf_map_lookup_elem(&caps, &c);
	if (!v) {
		struct cap_count zero = {};
		bpf_map_update_elem(&caps, &c, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&caps, &c);
		if (!v)
			return 0;
	}
	if (ret == 0)
		__sync_fetch_and_add(&v->granted, 1);
	else
		__sync_fetch_and_add(&v->denied, 1);
	return 0;
}
