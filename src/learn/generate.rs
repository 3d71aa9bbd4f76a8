//! `rampart learn profile NAME`: a profile that `extends = "restricted"` with what the
//! recordings of NAME show the workload needs, and nothing else: the capabilities inferred
//! (within each recording's request, and never one no built-in profile grants), the
//! syscalls seen within the base's allow-list, a read-only rootfs with tmpfs mounts where it
//! wrote, and limits from its peaks with headroom. Every entry carries a comment saying
//! where it was seen; the text is checked by loading it as a profile before it is printed.

use super::merge::{Merged, Verdict};
use super::recording::Recording;
use crate::profile::{Profile, ProfileSource};
use anyhow::{Context, Result, bail, ensure};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

pub const BASE: &str = "restricted";

/// What runc's init does between installing the filter and exec'ing the container's
/// process (runc 1.1.5 with no-new-privileges, libcontainer/standard_init_linux.go: close
/// the sync and log pipes, open and write the exec fifo through /proc/self/fd, open
/// /proc/self/fd, fstatfs it (EnsureProcHandle), read it and close every other fd, execve;
/// the Go runtime's threads meanwhile). tests/e2e_learn.rs starts containers with it. A recorder starts
/// at the exec of process.args, so recordings never show these; without them the container
/// would not start.
pub const RUNTIME_FLOOR: &[&str] = &[
    "close",
    "epoll_ctl",
    "epoll_pwait",
    "execve",
    "exit",
    "exit_group",
    "fcntl",
    "fstat",
    "fstatfs",
    "futex",
    "getdents64",
    "getpid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sigaltstack",
    "tgkill",
    "write",
];

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also keep syscalls in groups the base leaves out (deny_groups) and the compat
    /// architectures the recordings used.
    pub widen: bool,
    /// Use recordings marked incomplete.
    pub allow_incomplete: bool,
}

/// The recordings a profile is made from: complete ones, unless `allow_incomplete`.
pub fn usable<'r>(
    name: &str,
    recs: &'r [Recording],
    allow_incomplete: bool,
) -> Result<Vec<&'r Recording>> {
    let used: Vec<&Recording> = recs
        .iter()
        .filter(|r| r.complete || allow_incomplete)
        .collect();
    if used.is_empty() {
        bail!(
            "no complete recording of {name:?} ({} incomplete: {}); record it again, or use --allow-incomplete to accept a profile that may miss what was lost",
            recs.len(),
            recs.iter()
                .map(|r| r.short_id())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(used)
}

/// The profile's TOML text for `name`, from `recs` (see [`usable`]). `profiles` resolves the
/// base (`restricted`, or the admin's file of that name) and `arch` is the host's
/// (`std::env::consts::ARCH`).
pub fn profile(
    name: &str,
    recs: &[&Recording],
    profiles: &ProfileSource,
    arch: &str,
    opts: &Options,
) -> Result<String> {
    let base = profiles
        .load(BASE)
        .with_context(|| format!("cannot load the base profile {BASE:?}"))?;
    let m = super::merge::merge(recs);
    let mut t = String::new();
    header(&mut t, name, &m, opts);
    capabilities(&mut t, &m);
    seccomp(&mut t, &m, &base, arch, opts)?;
    rootfs(&mut t, &m, &base);
    limits(&mut t, &m, &base);
    check(name, &t, profiles)?;
    Ok(t)
}

/// Loads the text as an admin's profile would be (extends merged, every check run).
fn check(name: &str, text: &str, profiles: &ProfileSource) -> Result<Profile> {
    profiles
        .load_text(name, text)
        .context("internal: the learned profile does not load (please report this)")
}

fn header(t: &mut String, name: &str, m: &Merged, opts: &Options) {
    let _ = writeln!(
        t,
        "# Learned by `rampart learn profile {name}` from {} recording{}:",
        m.used.len(),
        if m.used.len() == 1 { "" } else { "s" }
    );
    for r in &m.used {
        let _ = writeln!(
            t,
            "#   {}  {}  {} .. {}{}  {}",
            r.short_id(),
            r.engine,
            r.started,
            r.ended,
            if r.complete { "" } else { " (INCOMPLETE)" },
            r.request.args.join(" ")
        );
    }
    let _ = writeln!(
        t,
        "# Install it as /etc/rampart/profiles/{name}.toml and run the workload with\n\
         # --runtime rampart-{name} (rampart install --profile {name}) or --rampart-profile {name}.\n\
         # What it did not do while recorded fails under it: read it before using it.{}",
        if opts.widen {
            "\n# --widen: syscalls outside restricted's groups and compat architectures kept."
        } else {
            ""
        }
    );
    let _ = writeln!(t, "extends = {BASE:?}");
    let _ = writeln!(
        t,
        "description = \"learned from {} recording{} of {name} (rampart learn)\"",
        m.used.len(),
        if m.used.len() == 1 { "" } else { "s" }
    );
}

fn seen(f: &super::merge::CapFinding) -> String {
    let groups = f.grouped();
    let mut parts: Vec<String> = groups
        .iter()
        .take(3)
        .map(|g| {
            format!(
                "{}: {}{} x{} in {}",
                g.confidence.label(),
                g.why,
                if g.had { "" } else { " (not in its request)" },
                g.count,
                g.ids.join(", ")
            )
        })
        .collect();
    if groups.len() > 3 {
        parts.push(format!("and {} more", groups.len() - 3));
    }
    parts.join("; ")
}

fn capabilities(t: &mut String, m: &Merged) {
    let _ = writeln!(t, "\n[capabilities]");
    let _ = writeln!(
        t,
        "# Exactly the capabilities the recordings show a need for (how exact: rampart learn show)."
    );
    let mut allow = Vec::new();
    let mut held = Vec::new();
    let mut outside = Vec::new();
    for (cap, f) in &m.caps {
        match f.verdict(cap) {
            Verdict::Granted => allow.push((cap, f)),
            Verdict::HeldBack => held.push((cap, f)),
            Verdict::NotInRequest => outside.push((cap, f)),
        }
    }
    if allow.is_empty() {
        let _ = writeln!(t, "allow = []");
    } else {
        let _ = writeln!(t, "allow = [");
        for (cap, f) in &allow {
            let _ = writeln!(t, "  {cap:?},  # {}", seen(f));
        }
        let _ = writeln!(t, "]");
    }
    for (cap, f) in &held {
        let _ = writeln!(
            t,
            "# NOT granted: {cap} ({}). No built-in profile grants it: it is a known way to the\n\
             # host. Add it to `allow` by hand only if you accept that, with a comment saying why.",
            seen(f)
        );
    }
    for (cap, f) in &outside {
        let _ = writeln!(
            t,
            "# Not granted: {cap} looked needed ({}), but the request never had it.",
            seen(f)
        );
    }
    let _ = writeln!(
        t,
        "# Nothing else, even when asked for by name (restricted's grantable list is not inherited)."
    );
    let _ = writeln!(t, "grantable = []");
}

fn calls(v: &[(String, u64, u64)]) -> String {
    let total: u64 = v.iter().map(|(_, n, _)| n).sum();
    let failed: u64 = v.iter().map(|(_, _, f)| f).sum();
    let ids: Vec<&str> = v.iter().map(|(id, ..)| id.as_str()).collect();
    if failed > 0 {
        format!("{total} calls ({failed} failed) in {}", ids.join(", "))
    } else {
        format!("{total} calls in {}", ids.join(", "))
    }
}

fn seccomp(t: &mut String, m: &Merged, base: &Profile, arch: &str, opts: &Options) -> Result<()> {
    let list = crate::seccomp::load(&base.seccomp.profile)?;
    let mut deny_groups: Vec<String> = base.seccomp.deny_groups.clone();
    let mut keep: BTreeMap<String, String> = BTreeMap::new();
    let mut left: Vec<String> = Vec::new();
    // Names the group of which restricted leaves out, kept only with --widen.
    let mut widened: BTreeSet<String> = BTreeSet::new();
    for (name, v) in m.syscalls_on(arch) {
        if let Some(errs) = only_refused(m, arch, name) {
            left.push(format!(
                "{name}: every call failed with {errs}, the workload copes without it: {}",
                calls(v)
            ));
            continue;
        }
        match crate::seccomp::syscall_on(arch, name) {
            Some(true) => {}
            _ => {
                left.push(format!(
                    "{name} (libseccomp does not know it on {arch}): {}",
                    calls(v)
                ));
                continue;
            }
        }
        match list.group_of(name, arch) {
            None => left.push(format!(
                "{name} (not in the allow-list {}): {}",
                list.name,
                calls(v)
            )),
            Some((g, _)) if base.seccomp.deny_groups.iter().any(|d| d == g) => {
                if opts.widen {
                    widened.insert(g.to_string());
                    keep.insert(
                        name.to_string(),
                        format!("{}; group {g}, --widen", calls(v)),
                    );
                } else {
                    left.push(format!(
                        "{name} (group {g}, which {BASE} leaves out; --widen keeps it): {}",
                        calls(v)
                    ));
                }
            }
            Some((g, cap)) => {
                let mut c = calls(v);
                if let Some(cap) = cap {
                    let granted = m
                        .caps
                        .get(cap)
                        .is_some_and(|f| f.verdict(cap) == Verdict::Granted);
                    if !granted {
                        let _ = write!(c, "; allowed only with {cap}, not learned (group {g})");
                    }
                }
                keep.insert(name.to_string(), c);
            }
        }
    }
    for n in RUNTIME_FLOOR {
        if crate::seccomp::syscall_on(arch, n) == Some(true) && list.group_of(n, arch).is_some() {
            keep.entry(n.to_string()).or_insert_with(|| {
                "runc's init, after the filter is installed (not recorded)".into()
            });
        }
    }
    deny_groups.retain(|g| !widened.contains(g));

    let _ = writeln!(t, "\n[seccomp]");
    if deny_groups != base.seccomp.deny_groups {
        let _ = writeln!(
            t,
            "deny_groups = {deny_groups:?}  # --widen: {}",
            widened.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(
        t,
        "# Only these syscalls ({arch}), of those the allow-list {} allows; any other answers EPERM.",
        list.name
    );
    let _ = writeln!(t, "syscalls = [");
    for (n, why) in &keep {
        let _ = writeln!(t, "  {n:?},  # {why}");
    }
    let _ = writeln!(t, "]");
    for l in &left {
        let _ = writeln!(t, "# Seen but still denied: {l}");
    }
    // Compat architectures: their own list, only where the base filters them or --widen.
    let compat_names = crate::seccomp::compat_arch_names(arch);
    let mut compat: BTreeMap<String, String> = BTreeMap::new();
    let mut compat_left = Vec::new();
    for a in m.arches(arch).iter().filter(|a| *a != arch) {
        for (name, v) in m.syscalls_on(a) {
            let known = compat_names.contains(&a.as_str())
                && crate::seccomp::syscall_on(a, name) == Some(true);
            let grouped = list.group_of(name, a).is_some_and(|(g, _)| {
                !base.seccomp.deny_groups.iter().any(|d| d == g) || opts.widen
            });
            if known && grouped {
                compat
                    .entry(name.to_string())
                    .and_modify(|s| {
                        let _ = write!(s, "; {a}: {}", calls(v));
                    })
                    .or_insert(format!("{a}: {}", calls(v)));
            } else {
                compat_left.push(format!("{a} {name}: {}", calls(v)));
            }
        }
    }
    if !compat.is_empty() {
        if base.seccomp.compat_arches || opts.widen {
            let _ = writeln!(
                t,
                "# 32-bit syscalls were seen. One filter names syscalls for every architecture at once:\n\
                 # each name below is allowed on {arch} too, as each of `syscalls` on the compat ones."
            );
            let _ = writeln!(t, "compat_arches = true");
            let _ = writeln!(t, "compat_syscalls = [");
            for (n, why) in &compat {
                let _ = writeln!(t, "  {n:?},  # {why}");
            }
            let _ = writeln!(t, "]");
        } else {
            let _ = writeln!(
                t,
                "# 32-bit syscalls were seen ({}), but {BASE} filters no compat architecture (no 32-bit\n\
                 # entry at all): they fail. --widen keeps them (compat_arches, compat_syscalls).",
                compat.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    for l in &compat_left {
        let _ = writeln!(t, "# Seen but still denied: {l}");
    }
    ensure!(
        keep.contains_key("execve"),
        "internal: execve is not in the allow-list {}, the learned profile could not start anything",
        list.name
    );
    Ok(())
}

/// The errors, when every call of `name` on `arch` failed with ENOSYS or EPERM (a probe for
/// a feature the workload then does without, such as clone3 or an unprivileged ptrace).
fn only_refused(m: &Merged, arch: &str, name: &str) -> Option<String> {
    let mut errs: Vec<&str> = Vec::new();
    for r in &m.used {
        for s in r
            .syscalls
            .iter()
            .filter(|s| s.arch == arch && s.name == name)
        {
            if s.ok > 0 {
                return None;
            }
            for (e, n) in &s.errors {
                if *n > 0 {
                    if e != "ENOSYS" && e != "EPERM" {
                        return None;
                    }
                    if !errs.contains(&e.as_str()) {
                        errs.push(e);
                    }
                }
            }
        }
    }
    (!errs.is_empty()).then(|| errs.join("/"))
}

/// Where a written path is made writable: the recorder lists written files (and created
/// empty directories, and a busy directory for its files), so the directory holding the
/// entry, or the entry itself when it ends in `/`.
fn writable_dir(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if path.ends_with('/') || trimmed.is_empty() {
        return if trimmed.is_empty() {
            "/".into()
        } else {
            trimmed.to_string()
        };
    }
    match trimmed.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => trimmed[..i].to_string(),
    }
}

/// Directories a tmpfs would empty of what nearly every program needs from the image.
const NEVER_TMPFS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/sbin",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/lib",
];

fn under(p: &str, dir: &str) -> bool {
    p == dir || dir == "/" || p.starts_with(&format!("{dir}/"))
}

fn rootfs(t: &mut String, m: &Merged, base: &Profile) {
    let mounts: BTreeSet<String> = m
        .used
        .iter()
        .flat_map(|r| r.request.mounts.iter())
        .map(|mt| mt.destination.trim_end_matches('/').to_string())
        .filter(|d| !d.is_empty())
        .collect();
    let mut dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut notes: Vec<String> = Vec::new();
    for (w, ids) in &m.writes {
        if !w.starts_with('/') || w.split('/').any(|c| c == "..") {
            notes.push(format!("{w:?} is not an absolute path: ignored"));
            continue;
        }
        // Already writable as it is (the recorder lists an emptied directory such as /tmp
        // itself): said below with the base's tmpfs, not moved to its parent.
        let covered = base.rootfs.tmpfs.iter().any(|t| under(w, &t.path))
            || mounts.iter().any(|v| under(w, v));
        let d = if covered {
            w.trim_end_matches('/').to_string()
        } else {
            writable_dir(w)
        };
        let e = dirs.entry(d).or_default();
        for id in ids {
            if !e.contains(id) {
                e.push(id.clone());
            }
        }
    }
    // Collapse: a directory under another proposed one is covered by it.
    let all: Vec<String> = dirs.keys().cloned().collect();
    let mut proposed: Vec<(String, Vec<String>)> = Vec::new();
    for (d, ids) in dirs {
        if all
            .iter()
            .any(|o| *o != d && under(&d, o) && !NEVER_TMPFS.contains(&o.as_str()))
        {
            continue;
        }
        if NEVER_TMPFS.contains(&d.as_str()) {
            notes.push(format!(
                "written directly in {d} (by {}): a tmpfs there would hide the image's {d}; those writes fail on the read-only rootfs (give them a volume, or change the program's path)",
                ids.join(", ")
            ));
        } else if ["/proc", "/sys", "/dev"].iter().any(|s| under(&d, s)) {
            notes.push(format!("{d}: a kernel filesystem, not the image's"));
        } else if let Some(v) = mounts.iter().find(|v| under(&d, v) || under(v, &d)) {
            notes.push(format!(
                "{d} (written by {}): not a tmpfs, the mount at {v} is there",
                ids.join(", ")
            ));
        } else if let Some(tm) = base.rootfs.tmpfs.iter().find(|tm| under(&d, &tm.path)) {
            notes.push(format!(
                "{d} (written by {}): already writable, in {BASE}'s tmpfs {}",
                ids.join(", "),
                tm.path
            ));
        } else {
            proposed.push((d, ids));
        }
    }
    let uid = m
        .used
        .iter()
        .filter_map(|r| r.request.user)
        .find(|u| u.uid != 0);
    let _ = writeln!(t, "\n[rootfs]");
    let _ = writeln!(
        t,
        "# The image stays read-only; it wrote only here. A tmpfs starts empty (what the image has\n# there is hidden) and is gone at exit: check each before use."
    );
    let _ = writeln!(t, "readonly = true");
    let _ = writeln!(t, "tmpfs = [");
    for tm in &base.rootfs.tmpfs {
        let _ = writeln!(
            t,
            "  {{ path = {:?}, options = {:?} }},  # {BASE}'s",
            tm.path, tm.options
        );
    }
    for (d, ids) in &proposed {
        let mut opts = vec!["nosuid".to_string(), "nodev".into(), "noexec".into()];
        if let Some(u) = uid {
            opts.push(format!("uid={}", u.uid));
            opts.push(format!("gid={}", u.gid));
        }
        opts.push("mode=755".into());
        opts.push("size=65536k".into());
        let _ = writeln!(
            t,
            "  {{ path = {d:?}, options = {opts:?} }},  # written in {}",
            ids.join(", ")
        );
    }
    let _ = writeln!(t, "]");
    for n in notes {
        let _ = writeln!(t, "# {n}");
    }
}

/// `v` rounded up to a multiple of `step`.
fn round_up(v: u64, step: u64) -> u64 {
    v.div_ceil(step) * step
}

const MIB: u64 = 1024 * 1024;
/// The least a learned profile gives, whatever the peaks.
const PIDS_FLOOR: u64 = 128;
const MEMORY_FLOOR: u64 = 256 * MIB;

fn limits(t: &mut String, m: &Merged, base: &Profile) {
    let r = &base.resources;
    let mut res = Vec::new();
    // A recording sees the workload idle or lightly used: a server that forks per
    // connection (postgres) or a store whose memory grows with its data (redis) needs more
    // under load, so the headroom is wide and has a floor (still below restricted's defaults).
    if let Some((p, id)) = &m.pids {
        let want = round_up((p * 4).max(PIDS_FLOOR), 16) as i64;
        let v = r.pids_ceiling().map_or(want, |c| want.min(c));
        res.push(format!(
            "pids = {v}  # peak {p} in {id}, x4 (at least {PIDS_FLOOR})"
        ));
    }
    if let Some((b, id)) = &m.memory_bytes {
        let want = round_up((b * 2).max(MEMORY_FLOOR), 16 * MIB) as i64;
        let v = r.memory_ceiling().map_or(want, |c| want.min(c));
        res.push(format!(
            "memory_bytes = {v}  # {} MiB: peak {:.1} MiB in {id}, x2 (at least {} MiB)",
            v as u64 / MIB,
            *b as f64 / MIB as f64,
            MEMORY_FLOOR / MIB
        ));
    }
    if !res.is_empty() {
        let _ = writeln!(
            t,
            "\n[resources]\n# Defaults from the peaks seen, with headroom: the recording saw it lightly used; raise\n# them for load or data (an explicit -m or --pids-limit up to {BASE}'s ceilings is kept)."
        );
        for l in res {
            let _ = writeln!(t, "{l}");
        }
    }
    if let Some((n, id)) = &m.nofile {
        let want = (n * 2).max(1024).next_power_of_two();
        let ceiling = base.rlimits.get("RLIMIT_NOFILE").map(|l| l.ceiling());
        let v = ceiling.map_or(want, |c| want.min(c));
        let _ = writeln!(
            t,
            "\n[rlimits]\nRLIMIT_NOFILE = {{ soft = {v}, hard = {v} }}  # peak {n} open files in {id}, x2 (at least 1024)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_paths_become_directories() {
        assert_eq!(
            writable_dir("/var/cache/nginx/client_temp"),
            "/var/cache/nginx"
        );
        assert_eq!(writable_dir("/var/cache/nginx/"), "/var/cache/nginx");
        assert_eq!(writable_dir("/run/nginx.pid"), "/run");
        assert_eq!(writable_dir("/.probe-write"), "/");
        assert_eq!(writable_dir("/"), "/");
        assert!(under("/var/lib/pg", "/var/lib"));
        assert!(!under("/var/libx", "/var/lib"));
    }

    fn fixtures(name: &str) -> Vec<Recording> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/learn");
        super::super::recording::load_all(&dir, name).unwrap()
    }

    /// The nginx recordings: the text loads as a profile and holds what they show.
    #[test]
    fn round_trip_the_nginx_recordings() {
        let recs = fixtures("nginx");
        let used = usable("nginx", &recs, false).unwrap();
        assert_eq!(used.len(), 2);
        let src = ProfileSource::default();
        let text = profile("nginx", &used, &src, "x86_64", &Options::default()).unwrap();
        let p = src.load_text("nginx", &text).unwrap();
        assert_eq!(
            p.capabilities.allow,
            [
                "CAP_CHOWN",
                "CAP_KILL",
                "CAP_NET_BIND_SERVICE",
                "CAP_SETGID",
                "CAP_SETUID"
            ]
        );
        assert!(p.capabilities.grantable.is_empty());
        assert!(p.capabilities.net_bind_via_sysctl, "inherited");
        let sys = p.seccomp.syscalls.unwrap();
        for n in ["sendfile", "accept4", "execve", "fstatfs", "tgkill"] {
            assert!(sys.iter().any(|s| s == n), "{n}");
        }
        assert!(!sys.iter().any(|s| s == "clone3" || s == "ptrace"));
        assert_eq!(p.seccomp.deny_groups, ["ptrace"]);
        assert!(!p.seccomp.compat_arches && p.seccomp.compat_syscalls.is_none());
        assert!(p.rootfs.readonly);
        let tmpfs: Vec<&str> = p.rootfs.tmpfs.iter().map(|t| t.path.as_str()).collect();
        assert_eq!(tmpfs, ["/tmp", "/run", "/var/cache/nginx"]);
        assert_eq!(p.resources.pids, Some(128));
        assert_eq!(p.resources.memory_bytes, Some(256 << 20));
        assert_eq!(p.rlimits["RLIMIT_NOFILE"].hard, 1024);
        assert_eq!(
            p.rlimits["RLIMIT_NOFILE"].ceiling(),
            524288,
            "restricted's max"
        );
        // Every recording in the header, every entry with where it was seen.
        assert!(
            text.contains("#   3f2a9c0d51e8  docker  2026-12-01T12:00:00Z .. 2026-12-01T12:00:09Z")
        );
        assert!(text.contains("\"sendfile\",  # 12 calls in 9b1e4d7a2c5f"));
        assert!(text.contains("\"fstatfs\",  # runc's init"));
        assert!(text.contains("{ path = \"/var/cache/nginx\", options = [\"nosuid\", \"nodev\", \"noexec\", \"mode=755\", \"size=65536k\"] },  # written in 3f2a9c0d51e8, 9b1e4d7a2c5f"));
        assert!(text.contains("pids = 128  # peak 5 in 9b1e4d7a2c5f, x4 (at least 128)"));
    }

    /// Held-back capabilities, volumes, compat syscalls, a service user.
    #[test]
    fn what_a_learned_profile_never_does_on_its_own() {
        let r = Recording::parse(
            r#"{"schema":1,"name":"db","container_id":"dbdbdbdbdbdbdbdb","complete":true,
              "source":{"capabilities":"inferred"},
              "request":{"capabilities":["CAP_SYS_ADMIN","CAP_CHOWN"],"user":{"uid":999,"gid":999},
                "mounts":[{"destination":"/var/lib/pg/data","type":"bind","source_kind":"volume"}]},
              "syscalls":[{"arch":"x86_64","name":"read","ok":1},{"arch":"x86_64","name":"setxattr","ok":1},
                          {"arch":"x86","name":"socketcall","ok":2},{"arch":"x86","name":"read","ok":1}],
              "evidence":[{"syscall":"setxattr","ret":0,"args":{"name":"trusted.x","path":"/a"}},
                          {"syscall":"socket","ret":3,"args":{"family":17,"type":3}}],
              "writes":["/var/lib/pg/postmaster.opts","/var/lib/pg/data/PG_VERSION","/var/run/pg/","/srv/x.pid","/x.log","/etc/motd","/tmp"]}"#,
            std::path::Path::new("db.json"),
        )
        .unwrap();
        let src = ProfileSource::default();
        let text = profile("db", &[&r], &src, "x86_64", &Options::default()).unwrap();
        let p = src.load_text("db", &text).unwrap();
        // SYS_ADMIN: inferred and requested, never granted by a learned profile.
        assert!(p.capabilities.allow.is_empty(), "{text}");
        assert!(
            text.contains(
                "# NOT granted: CAP_SYS_ADMIN (exact: setxattr /a trusted.x x1 in dbdbdbdbdbdb)"
            ),
            "{text}"
        );
        assert!(
            text.contains("# Not granted: CAP_NET_RAW looked needed"),
            "{text}"
        );
        // Not over the volume, nor above it; a file's directory; nothing at /.
        let tmpfs: Vec<&str> = p.rootfs.tmpfs.iter().map(|t| t.path.as_str()).collect();
        assert_eq!(tmpfs, ["/tmp", "/run", "/srv", "/var/run/pg"], "{text}");
        assert!(text.contains("# /var/lib/pg (written by dbdbdbdbdbdb): not a tmpfs, the mount at /var/lib/pg/data is there"));
        assert!(text.contains(
            "# written directly in / (by dbdbdbdbdbdb): a tmpfs there would hide the image's /"
        ));
        assert!(text.contains("# written directly in /etc (by dbdbdbdbdbdb)"));
        // An emptied /tmp (the recorder lists it, not its files): restricted's tmpfs.
        assert!(
            text.contains(
                "# /tmp (written by dbdbdbdbdbdb): already writable, in restricted's tmpfs /tmp"
            ),
            "{text}"
        );
        assert!(p.rootfs.tmpfs[2].options.contains(&"uid=999".to_string()));
        // 32-bit syscalls: a comment, unless --widen.
        assert!(!p.seccomp.compat_arches);
        // socketcall is in no group of the allow-list: denied on every architecture.
        assert!(text.contains("32-bit syscalls were seen (read)"), "{text}");
        assert!(text.contains("# Seen but still denied: x86 socketcall: 2 calls in dbdbdbdbdbdb"));
        let wide = profile(
            "db",
            &[&r],
            &src,
            "x86_64",
            &Options {
                widen: true,
                ..Default::default()
            },
        )
        .unwrap();
        let p = src.load_text("db", &wide).unwrap();
        assert!(p.seccomp.compat_arches);
        assert_eq!(p.seccomp.compat_syscalls.unwrap(), ["read"]);
    }

    #[test]
    fn limits_have_headroom_and_stay_under_the_ceilings() {
        assert_eq!(round_up(10, 16), 16);
        assert_eq!(round_up(33, 16), 48);
        assert_eq!(round_up(0, 16), 0);
    }
}
