//! The recording file (see the learn schema, version 1): what `rampart __record` writes
//! for one container, and the pure functions that build it from the kernel's counts and
//! evidence events. Written once, atomically, when the container's init has exited.

use super::bpf::CountKey;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Recording {
    pub schema: u32,
    pub name: String,
    pub container_id: String,
    pub engine: String,
    pub started: String,
    pub ended: String,
    pub complete: bool,
    pub lost_events: u64,
    pub source: Source,
    pub request: Value,
    pub syscalls: Vec<SyscallUse>,
    pub capability_checks: Vec<CapCheck>,
    pub evidence: Vec<Evidence>,
    pub writes: Vec<String>,
    pub peaks: Map<String, Value>,
    /// Added: how `writes` was found (`overlay-upperdir`, `rootfs-ctime`, `none`).
    pub writes_source: String,
    /// Added: why the recording is incomplete or approximate, one line each.
    pub notes: Vec<String>,
    /// Added: the container's init (host pid).
    pub init_pid: u32,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Source {
    pub syscalls: String,
    pub capabilities: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SyscallUse {
    pub arch: &'static str,
    pub name: String,
    pub nr: u32,
    /// Calls that did not fail (exit_group and a successful execve never return: counted
    /// here from their entries).
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    /// Added: entries seen (ok + errors, minus the few interrupted at the container's end).
    pub calls: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CapCheck {
    pub capability: String,
    pub granted: u64,
    pub denied: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evidence {
    pub syscall: String,
    pub ret: i64,
    /// Added: the errno's name when `ret` < 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    pub count: u64,
    pub creds: Creds,
    pub args: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub fsgid: u32,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Target {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

pub fn arch_name(arch: u16) -> &'static str {
    match arch {
        0 => "x86_64",
        1 => "x86",
        _ => "x32",
    }
}

/// The syscall's name for its arch (libseccomp's tables), else `syscall_NR`.
pub fn syscall_name(arch: u16, nr: u32) -> String {
    use libseccomp::{ScmpArch, ScmpSyscall};
    let (a, n) = match arch {
        0 => (ScmpArch::X8664, nr as i32),
        1 => (ScmpArch::X86, nr as i32),
        _ => (ScmpArch::X32, (nr | 0x4000_0000) as i32),
    };
    ScmpSyscall::from(n)
        .get_name_by_arch(a)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("syscall_{nr}"))
}

/// `ENOENT` for 2; the kernel's restart codes a syscall exit shows before signal delivery
/// turns them into EINTR or a restart; `E<n>` when the name is unknown.
pub fn errno_name(errno: i32) -> String {
    let internal = match errno {
        512 => Some("ERESTARTSYS"),
        513 => Some("ERESTARTNOINTR"),
        514 => Some("ERESTARTNOHAND"),
        515 => Some("ENOIOCTLCMD"),
        516 => Some("ERESTART_RESTARTBLOCK"),
        _ => None,
    };
    if let Some(name) = internal {
        return name.to_string();
    }
    let e = nix::errno::Errno::from_raw(errno);
    match e {
        nix::errno::Errno::UnknownErrno => format!("E{errno}"),
        _ => format!("{e:?}"),
    }
}

/// One entry per (arch, nr) from the kernel's counts, sorted by arch then name.
pub fn syscalls(counts: &[(CountKey, u64)]) -> Vec<SyscallUse> {
    // (arch, nr) -> (calls, ok exits, errors by name)
    type Tally = (u64, u64, BTreeMap<String, u64>);
    let mut by: BTreeMap<(u16, u32), Tally> = BTreeMap::new();
    for (k, n) in counts {
        let e = by.entry((k.arch, k.nr)).or_default();
        match k.code {
            0 => e.0 += n,
            1 => e.1 += n,
            c => *e.2.entry(errno_name(i32::from(c - 2))).or_default() += n,
        }
    }
    let mut out: Vec<SyscallUse> = by
        .into_iter()
        .map(|((arch, nr), (calls, ok_exits, errors))| {
            let failed: u64 = errors.values().sum();
            SyscallUse {
                arch: arch_name(arch),
                name: syscall_name(arch, nr),
                nr,
                // Calls that never returned (exit, exit_group, execve replacing the image
                // counts its exit in the new one) failed no more than those that did.
                ok: ok_exits.max(calls.saturating_sub(failed)),
                errors,
                calls: calls.max(ok_exits + failed),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.arch, &a.name).cmp(&(b.arch, &b.name)));
    out
}

pub fn capability_checks(caps: &[(u32, super::bpf::CapCount)]) -> Vec<CapCheck> {
    let mut out: Vec<CapCheck> = caps
        .iter()
        .map(|(c, n)| CapCheck {
            capability: caps::all()
                .into_iter()
                .find(|k| u32::from(k.index()) == *c)
                .map_or_else(|| format!("CAP_{c}"), |k| k.to_string()),
            granted: n.granted,
            denied: n.denied,
        })
        .collect();
    out.sort_by(|a, b| a.capability.cmp(&b.capability));
    out
}

/// One evidence event as the kernel side wrote it (`struct event` in recorder.bpf.c).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawEvent {
    pub kind: u32,
    pub nr: u32,
    pub pid: u32,
    pub tgid: u32,
    pub ret: i64,
    pub args: [u64; 6],
    pub uid: u32,
    pub euid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub fsgid: u32,
    pub has_target: u32,
    pub t_uid: u32,
    pub t_gid: u32,
    pub t_mode: u32,
    pub mntns: u32,
    pub aux: u32,
    pub aux2: u64,
    pub ts: u64,
    pub str: [u8; 256],
}

pub const EV_START: u32 = 1;
pub const EV_EVIDENCE: u32 = 2;
pub const EV_END: u32 = 3;

impl RawEvent {
    /// The event in `bytes` (a ring buffer record), if it is one.
    pub fn parse(bytes: &[u8]) -> Option<RawEvent> {
        if bytes.len() < std::mem::size_of::<RawEvent>() {
            return None;
        }
        // SAFETY: length checked; RawEvent is plain integers, any bit pattern is valid.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<RawEvent>()) })
    }

    fn text(&self) -> String {
        let end = self
            .str
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(self.str.len());
        String::from_utf8_lossy(&self.str[..end]).into_owned()
    }
}

fn family(f: u64) -> String {
    match f {
        0 => "AF_UNSPEC".into(),
        1 => "AF_UNIX".into(),
        2 => "AF_INET".into(),
        10 => "AF_INET6".into(),
        16 => "AF_NETLINK".into(),
        17 => "AF_PACKET".into(),
        n => format!("AF_{n}"),
    }
}

fn sock_type(t: u64) -> String {
    // SOCK_NONBLOCK and SOCK_CLOEXEC are flags on the type.
    match t & 0xf {
        1 => "SOCK_STREAM".into(),
        2 => "SOCK_DGRAM".into(),
        3 => "SOCK_RAW".into(),
        4 => "SOCK_RDM".into(),
        5 => "SOCK_SEQPACKET".into(),
        10 => "SOCK_PACKET".into(),
        n => format!("SOCK_{n}"),
    }
}

/// An id argument as the syscall reads it: -1 (unchanged) stays -1.
fn id(v: u64) -> Value {
    let v = v as u32;
    if v == u32::MAX { json!(-1) } else { json!(v) }
}

/// The arguments worth keeping, decoded for the syscall (x86_64 numbering).
pub fn decode_args(name: &str, ev: &RawEvent) -> Map<String, Value> {
    let a = ev.args;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    match name {
        "socket" => {
            put("family", json!(family(a[0])));
            put("type", json!(sock_type(a[1])));
            put("protocol", json!(a[2] as u32));
        }
        "bind" => {
            put("family", json!(family(u64::from(ev.aux))));
            if ev.aux == 2 || ev.aux == 10 {
                put("port", json!(ev.aux2));
            }
        }
        "chown" | "lchown" => {
            put("path", json!(ev.text()));
            put("uid", id(a[1]));
            put("gid", id(a[2]));
        }
        "fchown" => {
            put("fd", json!(a[0] as i32));
            put("uid", id(a[1]));
            put("gid", id(a[2]));
        }
        "fchownat" => {
            put("path", json!(ev.text()));
            put("uid", id(a[2]));
            put("gid", id(a[3]));
            put("flags", json!(a[4] as u32));
        }
        "chmod" => {
            put("path", json!(ev.text()));
            put("mode", json!(a[1] as u32));
        }
        "fchmod" => {
            put("fd", json!(a[0] as i32));
            put("mode", json!(a[1] as u32));
        }
        "fchmodat" | "fchmodat2" => {
            put("path", json!(ev.text()));
            put("mode", json!(a[2] as u32));
        }
        "setuid" | "setfsuid" => put("uid", id(a[0])),
        "setgid" | "setfsgid" => put("gid", id(a[0])),
        "setreuid" | "setregid" => {
            put("real", id(a[0]));
            put("effective", id(a[1]));
        }
        "setresuid" | "setresgid" => {
            put("real", id(a[0]));
            put("effective", id(a[1]));
            put("saved", id(a[2]));
        }
        "setgroups" => put("size", json!(a[0] as u32)),
        "kill" | "tkill" => {
            put("pid", json!(a[0] as i32));
            put("sig", json!(a[1] as u32));
        }
        "tgkill" => {
            put("pid", json!(a[1] as i32));
            put("sig", json!(a[2] as u32));
        }
        "mknod" => {
            put("path", json!(ev.text()));
            put("mode", json!(a[1] as u32));
            put("dev", json!(a[2]));
        }
        "mknodat" => {
            put("path", json!(ev.text()));
            put("mode", json!(a[2] as u32));
            put("dev", json!(a[3]));
        }
        "chroot" => put("path", json!(ev.text())),
        "setxattr" | "lsetxattr" | "fsetxattr" => put("name", json!(ev.text())),
        "prctl" => {
            put("option", json!(a[0] as i32));
            put("arg2", json!(a[1]));
        }
        "open" => {
            put("path", json!(ev.text()));
            put("flags", json!(a[1] as u32));
        }
        "openat" | "openat2" => {
            put("path", json!(ev.text()));
            put("flags", json!(a[2] as u32));
        }
        _ => {}
    }
    m
}

/// Evidence events deduplicated: same syscall, result, credentials, arguments and target
/// make one entry with a count. Order: first seen.
#[derive(Default)]
pub struct EvidenceSet {
    seen: BTreeMap<String, usize>,
    pub items: Vec<Evidence>,
    /// Distinct events past [`MAX_EVIDENCE`], not kept (the recording is then incomplete).
    pub dropped: u64,
}

/// The most distinct evidence entries one recording keeps (the recorder's memory bound).
pub const MAX_EVIDENCE: usize = 20_000;

impl EvidenceSet {
    pub fn add(&mut self, ev: &RawEvent) {
        let name = syscall_name(0, ev.nr);
        let e = Evidence {
            args: decode_args(&name, ev),
            errno: (ev.ret < 0).then(|| errno_name(-ev.ret as i32)),
            syscall: name,
            ret: ev.ret,
            count: 1,
            creds: Creds {
                uid: ev.uid,
                euid: ev.euid,
                fsuid: ev.fsuid,
                gid: ev.gid,
                egid: ev.egid,
                fsgid: ev.fsgid,
            },
            target: (ev.has_target != 0).then_some(Target {
                uid: ev.t_uid,
                gid: ev.t_gid,
                mode: ev.t_mode,
            }),
        };
        // A successful call's return value (an fd, a new uid) does not make it different.
        let mut key = e.clone();
        if key.ret > 0 {
            key.ret = 0;
        }
        let key = serde_json::to_string(&key).unwrap_or_default();
        match self.seen.get(&key) {
            Some(&i) => self.items[i].count += 1,
            None if self.items.len() >= MAX_EVIDENCE => self.dropped += 1,
            None => {
                self.seen.insert(key, self.items.len());
                self.items.push(e);
            }
        }
    }
}

/// Collapses written paths: a directory with `limit` or more written entries stands for
/// them all; sorted, without a path below another kept one.
pub fn collapse_writes(mut paths: Vec<String>, limit: usize) -> Vec<String> {
    paths.sort();
    paths.dedup();
    let mut per_dir: BTreeMap<String, usize> = BTreeMap::new();
    for p in &paths {
        if let Some((dir, _)) = p.rsplit_once('/')
            && !dir.is_empty()
        {
            *per_dir.entry(dir.to_string()).or_default() += 1;
        }
    }
    let mut out: Vec<String> = paths
        .into_iter()
        .map(|p| match p.rsplit_once('/') {
            Some((dir, _)) if per_dir.get(dir).is_some_and(|n| *n >= limit) => dir.to_string(),
            _ => p,
        })
        .collect();
    out.sort();
    out.dedup();
    let mut kept: Vec<String> = Vec::new();
    for p in out {
        if !kept
            .iter()
            .any(|k| p.starts_with(k.as_str()) && p.as_bytes().get(k.len()) == Some(&b'/'))
        {
            kept.push(p);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(arch: u16, nr: u32, code: u16) -> CountKey {
        CountKey { nr, arch, code }
    }

    #[test]
    fn counts_become_one_entry_per_arch_and_name_with_named_errors() {
        let counts = vec![
            (k(0, 257, 0), 10),
            (k(0, 257, 1), 6),
            (k(0, 257, 2 + 2), 3),
            (k(0, 257, 2 + 13), 1),
            (k(0, 231, 0), 1), // exit_group: no exit
            (k(1, 5, 0), 2),   // i386 open, kept apart from x86_64
            (k(1, 5, 1), 2),
        ];
        let s = syscalls(&counts);
        assert_eq!(s.len(), 3);
        let openat = s.iter().find(|s| s.name == "openat").unwrap();
        assert_eq!(
            (openat.arch, openat.nr, openat.ok, openat.calls),
            ("x86_64", 257, 6, 10)
        );
        assert_eq!(openat.errors["ENOENT"], 3);
        assert_eq!(openat.errors["EACCES"], 1);
        let exit = s.iter().find(|s| s.name == "exit_group").unwrap();
        assert_eq!((exit.ok, exit.calls), (1, 1));
        let open32 = s.iter().find(|s| s.arch == "x86").unwrap();
        assert_eq!((open32.name.as_str(), open32.ok), ("open", 2));
    }

    #[test]
    fn names_and_errnos_fall_back_to_numbers() {
        assert_eq!(syscall_name(0, 49), "bind");
        assert_eq!(syscall_name(0, 9999), "syscall_9999");
        assert_eq!(errno_name(1), "EPERM");
        assert_eq!(errno_name(4000), "E4000");
        assert_eq!(errno_name(514), "ERESTARTNOHAND");
    }

    fn raw(nr: u32, ret: i64, args: [u64; 6]) -> RawEvent {
        RawEvent {
            kind: EV_EVIDENCE,
            nr,
            pid: 1,
            tgid: 1,
            ret,
            args,
            uid: 0,
            euid: 0,
            fsuid: 0,
            gid: 0,
            egid: 0,
            fsgid: 0,
            has_target: 0,
            t_uid: 0,
            t_gid: 0,
            t_mode: 0,
            mntns: 0,
            aux: 0,
            aux2: 0,
            ts: 0,
            str: [0; 256],
        }
    }

    #[test]
    fn evidence_is_decoded_and_deduplicated() {
        let mut set = EvidenceSet::default();
        let mut bind = raw(49, 0, [3, 0, 16, 0, 0, 0]);
        bind.aux = 2;
        bind.aux2 = 80;
        set.add(&bind);
        set.add(&bind);
        let mut chown = raw(260, 0, [u64::MAX - 99, 0, 101, u32::MAX as u64, 0, 0]);
        chown.str[..4].copy_from_slice(b"/var");
        set.add(&chown);
        let setuid = raw(105, -1, [1000, 0, 0, 0, 0, 0]);
        set.add(&setuid);
        let mut sock = raw(41, 5, [17, 3 | 0o2000000, 0, 0, 0, 0]);
        sock.has_target = 0;
        set.add(&sock);
        sock.ret = 6; // another fd: the same evidence
        set.add(&sock);
        let v = serde_json::to_value(&set.items).unwrap();
        assert_eq!(set.items.len(), 4);
        assert_eq!(v[0]["syscall"], "bind");
        assert_eq!(v[0]["count"], 2);
        assert_eq!(v[0]["args"], json!({"family": "AF_INET", "port": 80}));
        assert_eq!(
            v[1]["args"],
            json!({"path": "/var", "uid": 101, "gid": -1, "flags": 0})
        );
        assert_eq!(v[2]["errno"], "EPERM");
        assert_eq!(v[2]["args"], json!({"uid": 1000}));
        assert_eq!(v[3]["args"]["type"], "SOCK_RAW");
        assert_eq!(v[3]["args"]["family"], "AF_PACKET");
        assert_eq!(v[3]["count"], 2);
        assert!(v[3].get("target").is_none());
    }

    #[test]
    fn event_parse_needs_a_whole_record() {
        assert!(RawEvent::parse(&[0; 16]).is_none());
        assert_eq!(std::mem::size_of::<RawEvent>(), 392);
    }

    #[test]
    fn writes_collapse_to_busy_directories() {
        let w = collapse_writes(
            vec![
                "/var/cache/nginx/a".into(),
                "/var/cache/nginx/b".into(),
                "/var/cache/nginx/c".into(),
                "/run/nginx.pid".into(),
                "/var/cache/nginx".into(),
                "/tmp/x".into(),
            ],
            3,
        );
        assert_eq!(w, vec!["/run/nginx.pid", "/tmp/x", "/var/cache/nginx"]);
    }
}
