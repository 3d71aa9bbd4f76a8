//! The seam between Rampart and the machine. Steps are pure functions of the spec, the
//! profile and [`HostFacts`]; everything that touches the host (files, /proc, exec, the
//! clock) goes through [`Host`] so tests can replace it.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What the hardening steps need to know about this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFacts {
    /// `std::env::consts::ARCH` of the host (`x86_64`, `aarch64`, ...).
    pub arch: &'static str,
    /// Hard rlimits Rampart (and so runc) runs with, by OCI name (`RLIMIT_NOFILE`).
    pub rlimit_hard: BTreeMap<String, u64>,
    /// Whether this process holds CAP_SYS_RESOURCE, i.e. can raise a hard rlimit.
    pub can_raise_rlimits: bool,
    /// Whether cgroup v2 is the unified hierarchy.
    pub cgroup_v2: bool,
    /// Whether the block-IO controller exposes a weight (not with mq-deadline on v1).
    pub blkio_weight: bool,
    /// Paths that exist on the host, for masked-path patterns with a `*` (one component).
    pub glob_matches: BTreeMap<String, Vec<String>>,
    /// Inode of each of the host's namespaces (/proc/1/ns/*), by OCI type (`network`).
    pub host_ns: BTreeMap<String, u64>,
    /// Inode of each namespace path the spec joins.
    pub ns_inodes: BTreeMap<String, u64>,
    /// Mount destinations that pass through a symlink in the rootfs leading above it
    /// (destination → the symlink and its target).
    pub escaping_destinations: BTreeMap<String, String>,
    /// What the host says about each bind-mount source of the spec (by the source as
    /// written).
    pub bind_sources: BTreeMap<String, BindSource>,
    /// Each `/proc/PID/exe` hook path (PID numeric) → what that link resolves to now.
    pub proc_exes: BTreeMap<String, String>,
    /// AppArmor is enabled (runc's test: securityfs has apparmor/, the module says Y).
    pub apparmor_enabled: bool,
    /// AppArmor profiles loaded (<securityfs>/apparmor/profiles).
    pub apparmor_profiles: Vec<String>,
    /// selinuxfs is mounted.
    pub selinux_enabled: bool,
    /// For a profile with a user namespace: the ids to map and what the `userns` step needs
    /// to know about the host (filled by `idmap::gather` in the pipeline).
    pub userns: Option<crate::idmap::UsernsFacts>,
    /// The request's rootfs (`root.path` against the bundle) with symlinks resolved, when
    /// it exists.
    pub rootfs_real: Option<String>,
    /// Rampart's own cgroup in each hierarchy (from /proc/self/cgroup): it runs in the
    /// engine's cgroup, so these and their ancestors are the host's.
    pub own_cgroups: Vec<String>,
    /// The cgroup directory the request's `cgroupsPath` names, when it already exists with
    /// processes in it (someone else's cgroup).
    pub cgroup_in_use: Option<String>,
    /// Where runc will put each mount destination of the request and each tmpfs path of the
    /// profile (keyed as written): symlinks in the image resolved inside the rootfs, as
    /// runc's securejoin does (`/var/run/secrets` → `/run/secrets` on Debian images), and
    /// the mode of the image's directory there. Absent: taken as written, no directory.
    pub rootfs_paths: BTreeMap<String, RootfsPath>,
}

/// A mount destination as runc will see it in the image (see [`HostFacts::rootfs_paths`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RootfsPath {
    /// Absolute path inside the container, symlinks resolved, `.`/`..` gone.
    pub resolved: String,
    /// Permission bits (with setuid/setgid/sticky) of the image's directory at `resolved`,
    /// when there is one.
    pub dir_mode: Option<u32>,
    /// For the profile's tmpfs paths: bytes in the regular files below the image's directory
    /// (what `tmpcopyup` copies into the tmpfs), `u64::MAX` past [`COPY_ENTRIES`] entries.
    pub content_bytes: Option<u64>,
}

/// How many entries of an image directory Rampart counts before calling it too big to copy.
pub const COPY_ENTRIES: usize = 100_000;

/// Bytes in the regular files below `dir` (symlinks not followed), `u64::MAX` when there are
/// more than [`COPY_ENTRIES`] entries. The walk stops as soon as the total is above `limit`
/// (the answer is then a count above `limit`, not the whole).
pub fn content_bytes(dir: &Path, limit: u64) -> u64 {
    let (mut total, mut seen) = (0u64, 0usize);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            seen += 1;
            if seen > COPY_ENTRIES {
                return u64::MAX;
            }
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                total = total.saturating_add(m.len());
                if total > limit {
                    return total;
                }
            }
        }
    }
    total
}

impl HostFacts {
    /// Facts for unit tests: a generous host with nothing surprising.
    pub fn for_tests() -> HostFacts {
        HostFacts {
            arch: "x86_64",
            rlimit_hard: BTreeMap::new(),
            can_raise_rlimits: true,
            cgroup_v2: false,
            blkio_weight: true,
            glob_matches: BTreeMap::new(),
            host_ns: BTreeMap::new(),
            ns_inodes: BTreeMap::new(),
            escaping_destinations: BTreeMap::new(),
            bind_sources: BTreeMap::new(),
            proc_exes: BTreeMap::new(),
            apparmor_enabled: false,
            apparmor_profiles: Vec::new(),
            selinux_enabled: false,
            userns: None,
            rootfs_real: None,
            own_cgroups: Vec::new(),
            cgroup_in_use: None,
            rootfs_paths: BTreeMap::new(),
        }
    }
}

/// A bind-mount source as the host sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BindSource {
    /// The path with every symlink resolved (None when it does not exist).
    pub resolved: Option<String>,
    /// A unix socket owned by root that the source is, or holds directly.
    pub root_socket: Option<String>,
}

/// Entries of a bind-source directory scanned for root-owned sockets. The scan is one level
/// deep and stops after this many entries (file types come from readdir, so only sockets
/// are stat'ed): a daemon's socket sits directly in its runtime directory, and a directory
/// an attacker could fill this much is not one they can also place a root socket in.
pub const SOCKET_SCAN_LIMIT: usize = 4096;

/// `path` with every symlink resolved, as `std::fs::canonicalize` gives it, in three system
/// calls (open `O_PATH`, read `/proc/self/fd/N`, close) where realpath(3) reads a link per
/// component: the kernel's own path of what was opened. Falls back to canonicalize when
/// /proc cannot say (not mounted, or the path was deleted meanwhile).
///
/// A path already in its real form (absolute, no `.`, `..`, `//` or trailing `/`, and no
/// symlink on the way, which openat2's `RESOLVE_NO_SYMLINKS` proves) is its own answer: an
/// open and a close, and no /proc lookup (which costs the kernel a new inode and a d_path).
pub fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    // A descriptor's own link (a bundle held open) names what it was opened on: one readlink.
    // Checked first: /proc/self is itself a link, so the shortcut below always fails on it.
    if let Some(fd) = path.to_str().and_then(|p| p.strip_prefix("/proc/self/fd/"))
        && !fd.is_empty()
        && fd.bytes().all(|b| b.is_ascii_digit())
        && let Ok(p) = std::fs::read_link(path)
        && p.is_absolute()
        && !p.as_os_str().as_encoded_bytes().ends_with(b" (deleted)")
    {
        return Ok(p);
    }
    if is_plain_absolute(path) && opens_without_symlinks(path) {
        return Ok(path.to_path_buf());
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path);
    if let Ok(f) = opened {
        use std::os::fd::AsRawFd;
        if let Ok(p) = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))
            && p.is_absolute()
            && !p.as_os_str().as_encoded_bytes().ends_with(b" (deleted)")
        {
            return Ok(p);
        }
    }
    std::fs::canonicalize(path)
}

/// Whether `path` is written as canonicalize would write it, were there no symlinks.
fn is_plain_absolute(path: &Path) -> bool {
    let b = path.as_os_str().as_encoded_bytes();
    b == b"/"
        || (b.first() == Some(&b'/')
            && b[1..]
                .split(|&c| c == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b".."))
}

/// Whether `path` exists and no component of it is a symlink (openat2 with
/// `RESOLVE_NO_SYMLINKS`, which also refuses /proc's magic links). False when the kernel
/// has no openat2 (before 5.6) or the path cannot be opened at all.
fn opens_without_symlinks(path: &Path) -> bool {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
    // The descriptor is closed as it drops.
    nix::fcntl::openat2(nix::fcntl::AT_FDCWD, path, how).is_ok()
}

/// [`BindSource`] for `source` on this host.
pub fn bind_source(source: &str) -> BindSource {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let root_sock = |p: &Path| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.file_type().is_socket() && m.uid() == 0)
            .then(|| p.display().to_string())
    };
    let resolved = real_path(Path::new(source)).ok();
    let root_socket = resolved.as_deref().and_then(|r| {
        // One stat says socket, directory (scanned) or neither.
        let m = std::fs::symlink_metadata(r).ok()?;
        if m.file_type().is_socket() {
            return (m.uid() == 0).then(|| r.display().to_string());
        }
        if !m.is_dir() {
            return None;
        }
        std::fs::read_dir(r)
            .ok()?
            .take(SOCKET_SCAN_LIMIT)
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
            .find_map(|e| root_sock(&e.path()))
    });
    BindSource {
        resolved: resolved.map(|r| r.display().to_string()),
        root_socket,
    }
}

/// What `/proc/PID/exe` points to, for a numeric PID only.
pub fn proc_exe(path: &str) -> Option<String> {
    let pid = path.strip_prefix("/proc/")?.strip_suffix("/exe")?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    std::fs::read_link(path)
        .ok()
        .map(|p| p.display().to_string())
}

/// The first symlink on the way to `dest` inside `rootfs` whose target climbs above the
/// rootfs (`../../..`), if any. runc resolves destinations inside the rootfs anyway; such a
/// link only exists to try.
pub fn escaping_symlink(rootfs: &Path, dest: &str) -> Option<String> {
    escaping_symlink_in(&mut Links::new(rootfs), dest)
}

/// Paths looked at in one rootfs, each once (the destinations of a spec share most of their
/// components: /dev, /etc, /sys/fs): one lstat per path, which answers for the walks
/// (symlink or not, and its target) and for [`rootfs_path_in`] (a directory, its mode); a
/// path under one that is missing or not a directory is missing without a look.
pub struct Links<'a> {
    rootfs: &'a Path,
    /// The rootfs directory, held (`O_PATH`) so that each look walks only the components
    /// below it: the rootfs's own path (`/var/lib/docker/overlay2/ID/merged`) is resolved
    /// once instead of once per look. None where it cannot be opened: each look then goes
    /// by the whole path, as before.
    dir: Option<std::os::fd::OwnedFd>,
    seen: std::collections::BTreeMap<String, Seen>,
}

#[derive(Clone)]
enum Seen {
    Link(String),
    Dir(u32),
    /// Neither: a file, a device, a socket...
    Other,
    Missing,
}

impl<'a> Links<'a> {
    pub fn new(rootfs: &'a Path) -> Self {
        use nix::fcntl::OFlag;
        let dir = nix::fcntl::open(
            rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok();
        Links {
            rootfs,
            dir,
            seen: std::collections::BTreeMap::new(),
        }
    }

    fn look(&mut self, rel: &str) -> &Seen {
        if !self.seen.contains_key(rel) {
            let under_nothing = rel.rsplit_once('/').is_some_and(|(parent, _)| {
                matches!(self.seen.get(parent), Some(Seen::Missing | Seen::Other))
            });
            let seen = if under_nothing {
                Seen::Missing
            } else {
                self.stat(rel)
            };
            self.seen.insert(rel.to_string(), seen);
        }
        &self.seen[rel]
    }

    /// `rel`: components joined by `/` (no `.` or `..`); empty for the rootfs itself.
    fn stat(&self, rel: &str) -> Seen {
        use nix::fcntl::AtFlags;
        use std::os::unix::fs::PermissionsExt;
        if let Some(dir) = &self.dir {
            let flags = match rel.is_empty() {
                true => AtFlags::AT_SYMLINK_NOFOLLOW | AtFlags::AT_EMPTY_PATH,
                false => AtFlags::AT_SYMLINK_NOFOLLOW,
            };
            let st = match nix::sys::stat::fstatat(dir, rel, flags) {
                Err(_) => return Seen::Missing,
                Ok(st) => st,
            };
            return match st.st_mode & libc::S_IFMT {
                libc::S_IFLNK => match nix::fcntl::readlinkat(dir, rel) {
                    Ok(t) => Seen::Link(t.to_string_lossy().into_owned()),
                    // Replaced between the two calls: judged as not a link, as a failed
                    // readlink was before.
                    Err(_) => Seen::Other,
                },
                libc::S_IFDIR => Seen::Dir(st.st_mode & 0o7777),
                _ => Seen::Other,
            };
        }
        let path = self.rootfs.join(rel);
        match std::fs::symlink_metadata(&path) {
            Err(_) => Seen::Missing,
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(&path) {
                Ok(t) => Seen::Link(t.to_string_lossy().into_owned()),
                // Replaced between the two calls: judged as not a link, as a failed
                // readlink was before.
                Err(_) => Seen::Other,
            },
            Ok(m) if m.is_dir() => Seen::Dir(m.permissions().mode() & 0o7777),
            Ok(_) => Seen::Other,
        }
    }

    /// The target of the symlink at `rel` (components joined by `/`) in the rootfs, or
    /// `None` when it is not a symlink.
    fn read(&mut self, rel: &str) -> Option<String> {
        match self.look(rel) {
            Seen::Link(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// The mode bits of the directory at `rel`, `None` when it is not one.
    fn dir_mode(&mut self, rel: &str) -> Option<u32> {
        match self.look(rel) {
            Seen::Dir(mode) => Some(*mode),
            _ => None,
        }
    }
}

fn escaping_symlink_in(links: &mut Links, dest: &str) -> Option<String> {
    // The path walked so far, components joined by `/` (one string, not a join per step).
    let mut rel = String::new();
    let mut depth = 0i64;
    for comp in dest.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if comp == ".." {
            if depth > 0 {
                pop_component(&mut rel);
                depth -= 1;
            }
            continue;
        }
        push_component(&mut rel, comp);
        depth += 1;
        let Some(target) = links.read(&rel) else {
            continue;
        };
        if target.starts_with('/') {
            continue;
        }
        let mut level = depth - 1;
        for t in target.split('/').filter(|c| !c.is_empty() && *c != ".") {
            level += if t == ".." { -1 } else { 1 };
            if level < 0 {
                return Some(format!("/{rel} -> {target}"));
            }
        }
    }
    None
}

fn push_component(rel: &mut String, comp: &str) {
    if !rel.is_empty() {
        rel.push('/');
    }
    rel.push_str(comp);
}

fn pop_component(rel: &mut String) {
    rel.truncate(rel.rfind('/').unwrap_or(0));
}

/// Where runc 1.1 mounts `dest` in `rootfs`: filepath-securejoin's walk, one component at a
/// time, a symlink's target spliced in front of the rest (an absolute one restarting at the
/// rootfs), `..` never climbing above the rootfs, missing components taken as they are.
/// Returns the in-container path (`/run/secrets`), or `None` after 255 links (runc fails).
pub fn resolve_in_rootfs(rootfs: &Path, dest: &str) -> Option<String> {
    resolve_in(&mut Links::new(rootfs), dest)
}

fn resolve_in(links: &mut Links, dest: &str) -> Option<String> {
    let mut done = String::new();
    let mut todo: std::collections::VecDeque<String> = dest
        .split('/')
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    let mut followed = 0;
    while let Some(comp) = todo.pop_front() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                pop_component(&mut done);
                continue;
            }
            _ => {}
        }
        push_component(&mut done, &comp);
        let Some(target) = links.read(&done) else {
            continue;
        };
        followed += 1;
        if followed > 255 {
            return None;
        }
        pop_component(&mut done);
        if target.starts_with('/') {
            done.clear();
        }
        for t in target.split('/').filter(|c| !c.is_empty()).rev() {
            todo.push_front(t.to_string());
        }
    }
    Some(format!("/{done}"))
}

/// [`resolve_in_rootfs`] and the mode of the image's directory there.
pub fn rootfs_path(rootfs: &Path, dest: &str) -> Option<RootfsPath> {
    rootfs_path_in(&mut Links::new(rootfs), dest)
}

fn rootfs_path_in(links: &mut Links, dest: &str) -> Option<RootfsPath> {
    let resolved = resolve_in(links, dest)?;
    let dir_mode = links.dir_mode(resolved.trim_start_matches('/'));
    Some(RootfsPath {
        resolved,
        dir_mode,
        content_bytes: None,
    })
}

/// OCI namespace types and their names under /proc/PID/ns.
pub const NAMESPACES: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Host access used by the pipeline.
pub trait Host {
    fn facts(&self, patterns: &[String]) -> HostFacts;
    fn now(&self) -> SystemTime;
    /// Replaces this process with `program` (never returns on success).
    fn exec(&self, program: &Path, argv: &[OsString]) -> anyhow::Error;
    /// Enters the network namespace `ns` (this thread), right before [`Host::exec`]: a CRI
    /// pod's, for runc under a user namespace (see [`crate::netns`]).
    fn enter_netns(&self, ns: &std::fs::File) -> Result<()> {
        crate::netns::enter(ns)
    }
    fn self_exe(&self) -> Option<PathBuf>;
    /// Device and inode of Rampart's own executable.
    fn self_id(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(self.self_exe()?).ok()?;
        Some((m.dev(), m.ino()))
    }
    fn path_var(&self) -> Option<OsString>;
    /// The name (`comm`) of the process that started this one.
    fn parent_name(&self) -> Option<String> {
        let ppid = nix::unistd::getppid();
        read_text(format!("/proc/{ppid}/comm"))
            .ok()
            .map(|s| s.trim_end().to_string())
    }
    /// `runc update -r -`'s document from stdin (see [`crate::update::read_document`]).
    fn read_stdin(&self) -> Result<Vec<u8>> {
        crate::update::read_document(&mut std::io::stdin().lock())
    }
    /// Makes `bytes` this process's stdin (a fresh pipe holding them), for the runtime.
    fn replace_stdin(&self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let (r, w) = nix::unistd::pipe().context("pipe for the runtime's stdin")?;
        if bytes.len() > 4096 {
            // Room for the whole document before anyone reads it.
            nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(bytes.len() as i32))
                .context("cannot size the pipe for the runtime's stdin")?;
        }
        let mut w = std::fs::File::from(w);
        w.write_all(bytes).context("writing the runtime's stdin")?;
        drop(w);
        nix::unistd::dup2_stdin(&r).context("dup2 of the runtime's stdin")?;
        Ok(())
    }
    /// Fills, for a spec whose rootfs is `rootfs`: `escaping_destinations` for its mount
    /// destinations, and `rootfs_paths` for them and the profile's tmpfs paths (each link in
    /// the rootfs read once for both).
    fn rootfs_facts(
        &self,
        facts: &mut HostFacts,
        rootfs: &Path,
        destinations: &[String],
        request: &crate::spec::Spec,
        profile: &crate::profile::Profile,
    ) {
        let mut links = Links::new(rootfs);
        for d in destinations {
            if let Some(link) = escaping_symlink_in(&mut links, d) {
                facts.escaping_destinations.insert(d.clone(), link);
            }
        }
        for p in crate::steps::rootfs::mount_paths(request, profile) {
            if let Some(mut r) = rootfs_path_in(&mut links, &p) {
                // Counted only where it decides something: a tmpfs of the profile with a
                // size= (the rootfs step copies the image's files in only if they fit), and
                // only until they are known not to fit.
                let size = profile
                    .rootfs
                    .tmpfs
                    .iter()
                    .find(|t| t.path == p)
                    .and_then(|t| crate::steps::rootfs::size_bytes(&t.options));
                if let (Some(_), Some(size)) = (r.dir_mode, size) {
                    let dir = rootfs.join(r.resolved.trim_start_matches('/'));
                    r.content_bytes = Some(content_bytes(&dir, size));
                }
                facts.rootfs_paths.insert(p, r);
            }
        }
    }
    /// Fills the facts about the host paths a spec names: its rootfs resolved, Rampart's
    /// own cgroups, and whether the cgroup it asks for is already someone's.
    fn spec_paths(&self, facts: &mut HostFacts, rootfs: &Path, cgroups_path: Option<&str>) {
        facts.rootfs_real = real_path(rootfs)
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        facts.own_cgroups = read_text("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.splitn(3, ':').nth(2).map(String::from))
            .collect();
        facts.cgroup_in_use = cgroups_path.and_then(cgroup_in_use);
    }
    /// Fills `bind_sources` for the spec's bind-mount sources and `proc_exes` for its hooks.
    fn sources(&self, facts: &mut HostFacts, binds: &[String], hook_paths: &[String]) {
        for s in binds {
            facts.bind_sources.insert(s.clone(), bind_source(s));
        }
        for p in hook_paths {
            if let Some(exe) = proc_exe(p) {
                facts.proc_exes.insert(p.clone(), exe);
            }
        }
    }
    /// Fills the namespace facts: the host's inodes and those of the paths a spec joins.
    fn namespaces(&self, facts: &mut HostFacts, joined: &[String]) {
        // /proc/1/ns is the host's; where even root may not read it (ptrace restrictions
        // in some sandboxes), Rampart's own namespaces stand in: it runs in the engine's
        // shim, in the host's namespaces. Only compared with joined paths: none, no reads.
        if joined.is_empty() {
            return;
        }
        for (oci, proc) in NAMESPACES {
            let host = inode(&Path::new("/proc/1/ns").join(proc))
                .or_else(|| inode(&Path::new("/proc/self/ns").join(proc)));
            if let Some(i) = host {
                facts.host_ns.insert(oci.to_string(), i);
            }
        }
        for p in joined {
            if let Some(i) = inode(Path::new(p)) {
                facts.ns_inodes.insert(p.clone(), i);
            }
        }
    }
}

/// The first cgroup directory, in any mounted hierarchy, that `cgroups_path` (cgroupfs
/// form `/a/b`, or systemd form `slice:prefix:name`) names and that already has processes.
/// A relative path is below runc's own cgroup, which is this process's.
fn cgroup_in_use(cgroups_path: &str) -> Option<String> {
    let path = crate::policy::cgroups::fs_path(cgroups_path)?;
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = Vec::new();
    if let Some(abs) = path.strip_prefix('/') {
        dirs.push(root.join(abs));
        if let Ok(entries) = std::fs::read_dir(root) {
            dirs.extend(entries.flatten().map(|e| e.path().join(abs)));
        }
    } else {
        // /proc/self/cgroup: `ID:CONTROLLERS:PATH`; v1 hierarchies are mounted by their
        // controllers' names (`cpu,cpuacct`, `systemd` for name=systemd), v2 at the root or
        // at `unified` on a hybrid host.
        for line in read_text("/proc/self/cgroup").unwrap_or_default().lines() {
            let mut f = line.splitn(3, ':');
            let (Some(_), Some(ctrl), Some(own)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let own = own.trim_start_matches('/');
            let mount = match ctrl {
                "" => vec![root.to_path_buf(), root.join("unified")],
                c => vec![root.join(c.trim_start_matches("name="))],
            };
            dirs.extend(mount.into_iter().map(|m| m.join(own).join(&path)));
        }
    }
    dirs.into_iter().find_map(|d| {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).ok()?;
        (!procs.trim().is_empty()).then(|| d.display().to_string())
    })
}

pub struct RealHost;

impl Host for RealHost {
    fn facts(&self, patterns: &[String]) -> HostFacts {
        let lsm = crate::lsm::detect(Path::new("/"));
        let cgroup_v2 = cgroups_rs::hierarchies::is_cgroup2_unified_mode();
        HostFacts {
            arch: std::env::consts::ARCH,
            rlimit_hard: crate::steps::rlimits::current_hard_limits(),
            can_raise_rlimits: caps::has_cap(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_RESOURCE,
            )
            .unwrap_or(false),
            cgroup_v2,
            blkio_weight: blkio_weight_supported(cgroup_v2),
            glob_matches: patterns
                .iter()
                .filter(|p| p.contains('*'))
                .map(|p| (p.clone(), glob_one(p)))
                .collect(),
            host_ns: BTreeMap::new(),
            ns_inodes: BTreeMap::new(),
            escaping_destinations: BTreeMap::new(),
            bind_sources: BTreeMap::new(),
            proc_exes: BTreeMap::new(),
            apparmor_enabled: lsm.apparmor_enabled,
            apparmor_profiles: lsm.apparmor_profiles,
            selinux_enabled: lsm.selinux_enabled,
            userns: None,
            rootfs_real: None,
            own_cgroups: Vec::new(),
            cgroup_in_use: None,
            rootfs_paths: BTreeMap::new(),
        }
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn exec(&self, program: &Path, argv: &[OsString]) -> anyhow::Error {
        // execv, not execvp: a runtime that is not a valid executable (ENOEXEC) must fail
        // here, not be handed to /bin/sh.
        use std::os::unix::ffi::OsStrExt;
        let cstr = |s: &std::ffi::OsStr| std::ffi::CString::new(s.as_bytes());
        let (Ok(prog), Ok(args)) = (
            cstr(program.as_os_str()),
            argv.iter().map(|a| cstr(a)).collect::<Result<Vec<_>, _>>(),
        ) else {
            return anyhow::anyhow!(
                "cannot execute the runtime {}: an argument contains a NUL byte",
                program.display()
            );
        };
        let err = nix::unistd::execv(&prog, &args).unwrap_err();
        anyhow::Error::new(std::io::Error::from(err))
            .context(format!("cannot execute the runtime {}", program.display()))
    }

    fn self_exe(&self) -> Option<PathBuf> {
        std::fs::read_link("/proc/self/exe").ok()
    }

    /// One stat through the /proc/self/exe link (a readlink and a stat otherwise).
    fn self_id(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata("/proc/self/exe").ok()?;
        Some((m.dev(), m.ino()))
    }

    fn path_var(&self) -> Option<OsString> {
        std::env::var_os("PATH")
    }
}

/// Whether the block-IO controller has a weight file: absent when the disk scheduler has no
/// proportional weights (mq-deadline), and runc then ignores the weight. The hierarchy's
/// root is where cgroups-rs puts it (v2: /sys/fs/cgroup; v1: the parent of the first cgroup
/// mount in /proc/self/mountinfo), found by a scan of the lines instead of cgroups-rs's
/// parse of every mount (a tenth of the host facts' cost).
fn blkio_weight_supported(v2: bool) -> bool {
    if v2 {
        let root = Path::new(cgroups_rs::hierarchies::UNIFIED_MOUNTPOINT);
        return root.join("io.weight").exists() || root.join("io.bfq.weight").exists();
    }
    // Where the blkio controller is mounted in the usual place (a file only that controller
    // has, on a cgroup file system), no mountinfo is read: the kernel formats every mount of
    // the host for it, the costliest system call of a create on a host with many mounts.
    const USUAL: &str = "/sys/fs/cgroup/blkio";
    let usual = nix::sys::statfs::statfs(&Path::new(USUAL).join("blkio.reset_stats"))
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::CGROUP_SUPER_MAGIC);
    let blkio = if usual {
        PathBuf::from(USUAL)
    } else {
        let Ok(mountinfo) = read_text("/proc/self/mountinfo") else {
            return false;
        };
        let Some(root) = v1_root(&mountinfo) else {
            return false;
        };
        root.join("blkio")
    };
    blkio.join("blkio.weight").exists() || blkio.join("blkio.bfq.weight").exists()
}

/// The parent of the first mount of type `cgroup` in mountinfo's text (octal escapes in the
/// mount point decoded).
fn v1_root(mountinfo: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let line = mountinfo.lines().find(|l| {
        l.split_once(" - ")
            .is_some_and(|(_, r)| r.split(' ').next() == Some("cgroup"))
    })?;
    let field = line.split(' ').nth(4)?.as_bytes();
    let mut point = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        match field.get(i..i + 4) {
            Some([b'\\', a, b, c]) if [a, b, c].iter().all(|d| (b'0'..=b'7').contains(d)) => {
                point.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                i += 4;
            }
            _ => {
                point.push(field[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(point))
        .parent()
        .map(Path::to_path_buf)
}

/// Expands a pattern with `*` in exactly one path component against the host's filesystem.
pub fn glob_one(pattern: &str) -> Vec<String> {
    let Some((prefix, rest)) = pattern.split_once('*') else {
        return vec![pattern.to_string()];
    };
    let dir_end = prefix.rfind('/').unwrap_or(0);
    let (dir, head) = (&prefix[..dir_end.max(1)], &prefix[dir_end + 1..]);
    let (tail, suffix) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.len() >= head.len() + tail.len() && n.starts_with(head) && n.ends_with(tail))
        .map(|n| format!("{}/{n}{suffix}", dir.trim_end_matches('/')))
        .filter(|p| Path::new(p).exists())
        .collect();
    out.sort();
    out
}

/// RFC 3339 UTC time with nanoseconds, as runc's logrus writes it.
/// Field 22 of /proc/PID/stat: the process's start time in clock ticks since boot, as runc
/// records it (`init_process_start`); None when no such process. With the pid, it names one
/// process across pid reuse.
pub fn start_time(pid: impl std::fmt::Display) -> Option<u64> {
    let stat = read_text(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(19)?.parse().ok()
}

/// A container id as runc 1.1.5 accepts it (`^[\w+\-\.]+$`, and not `.` or `..`, which
/// would name its state directory's parent): every id Rampart turns into a path.
pub fn runc_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
}

pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Reads a file with a size cap, so a hostile bundle cannot make Rampart read gigabytes.
pub fn read_capped(path: &Path, max: usize) -> Result<Vec<u8>> {
    read_capped_io(path, max).map_err(|e| capped_error(path, max, e))
}

/// The error [`read_capped`] gives for what [`read_capped_io`] returned.
pub fn capped_error(path: &Path, max: usize, e: std::io::Error) -> anyhow::Error {
    match e.kind() {
        std::io::ErrorKind::FileTooLarge => anyhow::anyhow!(
            "{} is larger than the {max} bytes Rampart accepts",
            path.display()
        ),
        _ => anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
    }
}

/// The first read of a file: whole for a config file or a /proc file of a few KB (std
/// starts /proc files, whose size reads as 0, with a 32-byte probe and doubles from there:
/// eight reads for mountinfo).
const READ_FIRST: usize = 16 << 10;

/// `std::fs::read_to_string` in two reads for a small file (see [`READ_FIRST`]), without
/// std's size hint for a `File` (a statx and an lseek; a /proc file's size reads as 0).
pub fn read_text(path: impl AsRef<Path>) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(READ_FIRST);
    // Through `Take`, which std does not size-hint.
    f.take(u64::MAX).read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|_| std::io::ErrorKind::InvalidData.into())
}

/// [`read_capped`] with a plain `io::Error` (kind `FileTooLarge` above `max`), for callers
/// to whom a missing file is an ordinary answer (the config file, runc's state, an engine's
/// config). No `anyhow::Error` is made for those: with RUST_BACKTRACE set in the engine's
/// environment each one captures a backtrace, and the first capture in a static binary
/// sorts the whole unwind table (about 17 M instructions, 4 ms).
pub fn read_capped_io(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(READ_FIRST.min(max + 1));
    f.take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        return Err(std::io::ErrorKind::FileTooLarge.into());
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn real_path_is_canonicalize_in_fewer_calls() {
        let d = std::env::temp_dir().join(format!("rampart-real-{}", std::process::id()));
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/b/f"), "").unwrap();
        let _ = std::fs::remove_file(d.join("l"));
        std::os::unix::fs::symlink("a/b", d.join("l")).unwrap();
        let _ = std::fs::remove_file(d.join("dangling"));
        std::os::unix::fs::symlink("nowhere", d.join("dangling")).unwrap();
        for p in [
            "l",
            "l/f",
            "a/../l/./f",
            "a/b",
            "a/b/f",
            "a/b/f/",
            "a//b",
            "a/b/.",
            "missing",
            "dangling",
            "l/f/x",
        ] {
            let p = d.join(p);
            assert_eq!(
                real_path(&p).ok(),
                std::fs::canonicalize(&p).ok(),
                "{}",
                p.display()
            );
        }
        let f = std::fs::File::open(d.join("a")).unwrap();
        use std::os::fd::AsRawFd;
        let via_fd = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()));
        assert_eq!(
            real_path(&via_fd).unwrap(),
            std::fs::canonicalize(&via_fd).unwrap()
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Every id runc accepts is one Rampart finds the state of (a leading dot included: an
    /// exec into ".x" must be judged against ".x"'s own state, not as an unknown container).
    #[test]
    fn container_ids_are_read_as_runc_reads_them() {
        for ok in ["abc", ".x", "a.b", "a+b-c_d", "..a"] {
            assert!(runc_id_ok(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "\u{17f}"] {
            assert!(!runc_id_ok(bad), "{bad}");
        }
        let root = std::env::temp_dir().join(format!("rampart-ids-{}", std::process::id()));
        std::fs::create_dir_all(root.join(".x")).unwrap();
        std::fs::write(root.join(".x/state.json"), b"{\"id\":\".x\"}").unwrap();
        let st = crate::exec::state_json(Some(&root), ".x").unwrap().unwrap();
        assert_eq!(st["id"], ".x");
        assert!(start_time(std::process::id()).is_some());
        assert_eq!(start_time(u32::MAX), None);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn content_is_counted_until_it_is_known_not_to_fit() {
        let d = std::env::temp_dir().join(format!("rampart-content-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("a"), [0u8; 100]).unwrap();
        std::fs::write(d.join("sub/b"), [0u8; 50]).unwrap();
        assert_eq!(content_bytes(&d, 1000), 150);
        assert!(content_bytes(&d, 120) > 120);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_v1_root_is_the_parent_of_the_first_cgroup_mount() {
        let mi = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                  30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n\
                  31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                  32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
                  33 30 0:29 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n";
        assert_eq!(v1_root(mi), Some(PathBuf::from("/sys/fs/cgroup")));
        let escaped = "32 30 0:28 / /my\\040cg/systemd rw shared:9 - cgroup cgroup rw\n";
        assert_eq!(v1_root(escaped), Some(PathBuf::from("/my cg")));
        assert_eq!(v1_root("22 27 0:21 / /proc rw - proc proc rw\n"), None);
    }

    #[test]
    fn destinations_resolve_inside_the_rootfs_like_securejoin() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let root = std::env::temp_dir().join(format!("rampart-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("run/postgresql")).unwrap();
        std::fs::create_dir_all(root.join("var")).unwrap();
        std::fs::set_permissions(
            root.join("run/postgresql"),
            std::fs::Permissions::from_mode(0o2775),
        )
        .unwrap();
        symlink("../run", root.join("var/run")).unwrap();
        std::fs::write(root.join("run/postgresql/pid"), "0123456789").unwrap();
        std::fs::write(root.join("run/x"), "abc").unwrap();
        symlink("/big", root.join("run/postgresql/link")).unwrap();
        symlink("/run", root.join("abs")).unwrap();
        symlink("../../../../../etc", root.join("var/up")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let r = |d: &str| resolve_in_rootfs(&root, d);
        assert_eq!(r("/var/run/secrets").as_deref(), Some("/run/secrets"));
        assert_eq!(r("var/run/").as_deref(), Some("/run"));
        assert_eq!(r("/abs/x/../y").as_deref(), Some("/run/y"));
        assert_eq!(
            r("/var/up/passwd").as_deref(),
            Some("/etc/passwd"),
            "never above"
        );
        assert_eq!(r("/../../tmp").as_deref(), Some("/tmp"));
        assert_eq!(r("/loop1/x"), None, "runc fails with ELOOP");
        let p = rootfs_path(&root, "/var/run/postgresql").unwrap();
        assert_eq!(
            (p.resolved.as_str(), p.dir_mode),
            ("/run/postgresql", Some(0o2775))
        );
        assert_eq!(
            rootfs_path(&root, "/tmp").unwrap().dir_mode,
            None,
            "missing"
        );
        assert_eq!(content_bytes(&root.join("run"), u64::MAX), 13);
        // One walk for several paths (as for a spec): what one path found answers the next.
        let mut links = Links::new(&root);
        let mut p = |d: &str| rootfs_path_in(&mut links, d).map(|p| (p.resolved, p.dir_mode));
        assert_eq!(p("/nothing"), Some(("/nothing".into(), None)));
        assert_eq!(p("/nothing/below"), Some(("/nothing/below".into(), None)));
        assert_eq!(
            p("/run/x/y"),
            Some(("/run/x/y".into(), None)),
            "under a file"
        );
        assert_eq!(
            p("/var/run/postgresql/link/z"),
            Some(("/big/z".into(), None))
        );
        assert_eq!(
            p("/var/run/postgresql"),
            Some(("/run/postgresql".into(), Some(0o2775)))
        );
        assert_eq!(p("/"), Some(("/".into(), Some(root_mode(&root)))));
        std::fs::remove_dir_all(root).unwrap();
    }

    fn root_mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000Z"
        );
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_795_459_142, 5);
        assert_eq!(rfc3339(t), "2026-11-23T18:39:02.000000005Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn glob_expands_one_component() {
        let d = std::env::temp_dir().join(format!("rampart-glob-{}", std::process::id()));
        for n in ["cpu0", "cpu1", "cpufreq"] {
            std::fs::create_dir_all(d.join(n)).unwrap();
        }
        std::fs::create_dir_all(d.join("cpu0/thermal_throttle")).unwrap();
        let got = glob_one(&format!("{}/cpu*/thermal_throttle", d.display()));
        assert_eq!(got, vec![format!("{}/cpu0/thermal_throttle", d.display())]);
        std::fs::remove_dir_all(d).unwrap();
    }
}
