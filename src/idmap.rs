//! Host ids for user namespaces, and the host facts the `userns` step needs.
//!
//! A profile maps from its own range (`host_first`, `host_count`) or from a named entry in
//! /etc/subuid and /etc/subgid. With `per_container`, each container gets a block of `size`
//! ids of its own, recorded in `<state_dir>/allocations.json` under an flock. A block is held
//! while its container exists in runc's state directory (`--root`/ID, which `runc delete`
//! removes) or while the process that allocated it (Rampart, which becomes runc by exec) is
//! alive; anything else is free. So a block is released by `runc delete` itself, a crash of
//! Rampart or runc leaks nothing, and no block is handed to two live containers. A container
//! that is created again under the same id (Docker restarting it) gets its old block back
//! when it is free, so the files it wrote keep their owner.

use crate::profile::{Mode, Profile, UsernsPolicy};
use crate::spec::Spec;
use anyhow::{Context, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Container ids 0..size map to host uids uid..uid+size and gids gid..gid+size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

/// What the pipeline learnt about the host for a profile with `[userns] enabled`.
#[derive(Debug, Clone, PartialEq)]
pub struct UsernsFacts {
    /// The ids to map, or why there are none (the container is then refused).
    pub mapping: std::result::Result<Mapping, String>,
    /// Where the mapping came from, for the audit record.
    pub origin: String,
    /// The rootfs, its ancestors and those of bind-mount sources: what the container's root
    /// must be able to traverse.
    pub dirs: Vec<HostDir>,
    /// Mount destinations (the request's and the profile's tmpfs) missing from the rootfs.
    pub missing: Vec<String>,
    /// Flags of the filesystem each bind source (and /sys) lives on: `ro`, `nosuid`, ...
    pub mount_flags: BTreeMap<String, Vec<String>>,
    /// The user namespace that owns namespaces the spec joins, where the container can join
    /// it too (a CRI pod's containers and their sandbox's); `mapping` is then its mapping.
    pub joined: Option<Joined>,
    /// Clones Rampart stages for the container's root to reach (create, enforce mode, without
    /// `fix_traversal`): see `stage`.
    pub stage: Option<crate::stage::Staging>,
    /// The network namespace the spec joins by path where the host's user namespace owns it
    /// (CNI's for a pod, podman's, another container's without a user namespace), with its
    /// inode: runc 1.1 enters it, or `runc exec` does, from inside the container's user
    /// namespace, which may not; Rampart enters it before exec'ing runc (`netns`).
    pub enter_net: Option<(String, u64)>,
}

/// A user namespace of a pod sandbox that a container joins with the sandbox's namespaces.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// `/proc/PID/ns/user` of the sandbox.
    pub path: String,
    /// Its mapping (one range for uids and one for gids, inside the profile's pool).
    pub mapping: Mapping,
    /// OCI types of the namespaces the spec joins that this user namespace owns.
    pub owns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HostDir {
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl HostDir {
    /// Whether root of `m` (host uid m.uid, gid m.gid) may not search this directory.
    pub fn blocks(&self, m: &Mapping) -> bool {
        let bit = if self.uid == m.uid {
            0o100
        } else if self.gid == m.gid {
            0o010
        } else {
            0o001
        };
        self.mode & bit == 0
    }
}

/// The container an allocation is for: its directory in runc's state root.
#[derive(Debug, Clone)]
pub struct Container {
    pub state: PathBuf,
}

impl Container {
    /// `root` is runc's `--root` (runc's default when absent).
    pub fn new(root: Option<&Path>, id: &str) -> Container {
        let root = root.unwrap_or(Path::new("/run/runc"));
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        Container {
            state: root.join(id),
        }
    }
}

/// Checks a profile's `[userns]` section.
pub fn check(p: &UsernsPolicy) -> Result<()> {
    if !p.enabled {
        return Ok(());
    }
    if p.size == 0 {
        bail!("size must be at least 1");
    }
    if let Some(name) = &p.subid {
        if name.is_empty() || name.contains(':') || name.contains('\n') {
            bail!("subid {name:?} is not a valid /etc/subuid name");
        }
    } else {
        if p.host_first == 0 {
            bail!("host_first = 0 would map root in the container to root on the host");
        }
        if p.host_count < p.size || u64::from(p.host_first) + u64::from(p.host_count) > 0xFFFF_FFFF
        {
            bail!(
                "host_first {} + host_count {} must hold at least size {} ids below 4294967295",
                p.host_first,
                p.host_count,
                p.size
            );
        }
    }
    if p.per_container && !p.state_dir.is_absolute() {
        bail!("state_dir {} must be absolute", p.state_dir.display());
    }
    Ok(())
}

/// The first `name:first:count` entry for `name` in /etc/subuid or /etc/subgid text.
pub fn subid_range(text: &str, name: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|l| {
        let mut f = l.trim().split(':');
        (f.next()? == name).then_some(())?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Host uid and gid ranges a profile maps from: (uid first, gid first, count).
pub fn pool(p: &UsernsPolicy, etc: &Path) -> Result<(u32, u32, u32)> {
    let Some(name) = &p.subid else {
        return Ok((p.host_first, p.host_first, p.host_count));
    };
    let range = |file: &str| -> Result<(u32, u32)> {
        let path = etc.join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (first, count) = subid_range(&text, name).with_context(|| {
            format!(
                "{} has no entry for {name:?}: add a line `{name}:FIRST:COUNT` (e.g. `usermod --add-subuids`), or set host_first/host_count under [userns]",
                path.display()
            )
        })?;
        if first == 0 || count < p.size {
            bail!(
                "the {name:?} entry in {} ({first}:{count}) must start above 0 and hold at least size {} ids",
                path.display(),
                p.size
            );
        }
        Ok((first, count))
    };
    let (u, uc) = range("subuid")?;
    let (g, gc) = range("subgid")?;
    Ok((u, g, uc.min(gc)))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Entry {
    /// runc's state directory of the container (`--root`/ID).
    container: PathBuf,
    uid: u32,
    gid: u32,
    size: u32,
    /// The allocating process and its start time (field 22 of /proc/PID/stat).
    pid: i32,
    start: u64,
}

use crate::host::start_time;

fn live(e: &Entry) -> bool {
    e.container.exists() || (e.pid > 0 && start_time(e.pid) == Some(e.start))
}

/// Allocates a block of `size` ids from the pool for `c` (see the module docs).
pub fn allocate(
    dir: &Path,
    (uid_first, gid_first, count): (u32, u32, u32),
    size: u32,
    c: &Container,
) -> Result<Mapping> {
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .with_context(|| {
            format!(
                "cannot create the id allocation directory {}",
                dir.display()
            )
        })?;
    let lock = std::fs::File::create(dir.join("lock"))
        .with_context(|| format!("cannot create {}/lock", dir.display()))?;
    let _lock = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("cannot lock {}/lock", dir.display()))?;
    let path = dir.join("allocations.json");
    let mut entries: Vec<Entry> = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).with_context(|| {
            format!(
                "{} is not valid (remove it only when no container of a per-container userns profile exists)",
                path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let blocks = u64::from(count / size);
    if blocks == 0 {
        bail!("the host id range ({count} ids) is smaller than size {size}");
    }
    // Blocks of this pool each entry overlaps, by uid or gid.
    let touched = |e: &Entry| -> BTreeSet<u64> {
        let mut out = BTreeSet::new();
        for (first, at) in [(uid_first, e.uid), (gid_first, e.gid)] {
            let (lo, hi) = (
                u64::from(first),
                u64::from(first) + blocks * u64::from(size),
            );
            let (a, b) = (u64::from(at), u64::from(at) + u64::from(e.size));
            if b > lo && a < hi {
                let s = u64::from(size);
                out.extend((a.max(lo) - lo) / s..=(b.min(hi) - 1 - lo) / s);
            }
        }
        out
    };
    let (mut any, mut held) = (BTreeSet::new(), BTreeSet::new());
    for e in entries.iter().filter(|e| e.container != c.state) {
        let t = touched(e);
        if live(e) {
            held.extend(t.iter().copied());
        }
        any.extend(t);
    }
    // The block this container had before, if it is this pool's and nobody holds it now.
    let reuse = entries
        .iter()
        .find(|e| e.container == c.state && e.size == size)
        .and_then(|e| {
            let off = e.uid.checked_sub(uid_first)?;
            (off % size == 0 && e.gid.checked_sub(gid_first) == Some(off))
                .then_some(u64::from(off / size))
        })
        .filter(|b| *b < blocks && !held.contains(b));
    let block = reuse
        .or_else(|| (0..blocks).find(|b| !any.contains(b)))
        .or_else(|| (0..blocks).find(|b| !held.contains(b)))
        .with_context(|| {
            format!(
                "no free block of {size} ids: all {blocks} in host ids {uid_first}+{count} belong to live containers (see {})",
                path.display()
            )
        })?;
    let m = Mapping {
        uid: uid_first + (block as u32) * size,
        gid: gid_first + (block as u32) * size,
        size,
    };
    let pid = std::process::id() as i32;
    entries.retain(|e| e.container != c.state && (live(e) || !touched(e).contains(&block)));
    entries.push(Entry {
        container: c.state.clone(),
        uid: m.uid,
        gid: m.gid,
        size,
        pid,
        start: start_time(pid).unwrap_or(0),
    });
    let staged = crate::bundle::stage(&path, &serde_json::to_vec_pretty(&entries)?)?;
    staged.commit()?;
    Ok(m)
}

fn flags_of(path: &Path) -> Vec<String> {
    use nix::sys::statvfs::FsFlags as F;
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return Vec::new();
    };
    let f = st.flags();
    let mut out: Vec<String> = [
        (F::ST_RDONLY, "ro"),
        (F::ST_NOSUID, "nosuid"),
        (F::ST_NODEV, "nodev"),
        (F::ST_NOEXEC, "noexec"),
        (F::ST_NOATIME, "noatime"),
        (F::ST_NODIRATIME, "nodiratime"),
    ]
    .into_iter()
    .filter(|(b, _)| f.contains(*b))
    .map(|(_, n)| n.to_string())
    .collect();
    if !f.intersects(F::ST_NOATIME | F::ST_RELATIME) {
        out.push("strictatime".into());
    }
    out
}

fn host_dir(p: &Path) -> Option<HostDir> {
    let m = std::fs::metadata(p).ok()?;
    Some(HostDir {
        path: p.display().to_string(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    })
}

/// Everything the `userns` step needs to know about the host, for a profile with a user
/// namespace (None otherwise). With `container` (create, enforce mode) a per-container block
/// is allocated and, where the profile allows it, blocked directories get o+x; without it
/// (explain) nothing on the host changes and the pool's first block is shown.
pub fn gather(
    request: &Spec,
    profile: &Profile,
    config: &Path,
    container: Option<&Container>,
) -> Option<UsernsFacts> {
    let p = &profile.userns;
    if !p.enabled {
        return None;
    }
    let bundle = config.parent().unwrap_or(Path::new("."));
    let root = request
        .get("/root/path")
        .and_then(Value::as_str)
        .and_then(|r| std::fs::canonicalize(bundle.join(r)).ok());
    let binds: Vec<PathBuf> = crate::policy::bind_mounts(request)
        .into_iter()
        .map(|(_, s, _, _)| PathBuf::from(s))
        .filter(|s| s.is_absolute())
        .collect();
    // The rootfs and every directory above it; above each bind source (the source itself
    // needs no search permission).
    let mut walk: BTreeSet<&Path> = root.iter().flat_map(|r| r.ancestors()).collect();
    walk.extend(binds.iter().flat_map(|b| b.ancestors().skip(1)));
    let dirs: Vec<HostDir> = walk.into_iter().filter_map(host_dir).collect();
    let mut missing = Vec::new();
    if let Some(root) = &root {
        let mounts: Vec<Value> = request.typed("/mounts").ok().flatten().unwrap_or_default();
        let dests = mounts
            .iter()
            .filter_map(|m| m.get("destination").and_then(Value::as_str))
            .map(String::from)
            .chain(profile.rootfs.tmpfs.iter().map(|t| t.path.clone()));
        for d in dests {
            let d = crate::steps::rootfs::clean(&d);
            if std::fs::symlink_metadata(root.join(d.trim_start_matches('/'))).is_err()
                && !missing.contains(&d)
            {
                missing.push(d);
            }
        }
    }
    let mount_flags = binds
        .iter()
        .map(PathBuf::as_path)
        .chain([Path::new("/sys")])
        .map(|s| (s.display().to_string(), flags_of(s)))
        .collect();
    let allocate_now = container.filter(|_| profile.policy.mode == Mode::Enforce);
    let enter_net = host_owned_netns(request);
    let joined = joined_userns(request, p, enter_net.as_ref());
    let (mapping, origin) = match (
        &joined,
        resolve(p, allocate_now.filter(|_| joined.is_none())),
    ) {
        (Some(j), _) => (
            Ok(j.mapping),
            format!(
                "the mapping of user namespace {}, which owns the namespaces it joins",
                j.path
            ),
        ),
        (None, Ok(x)) => (Ok(x.0), x.1),
        (None, Err(e)) => (Err(format!("{e:#}")), String::new()),
    };
    if let (Ok(m), Some(_), true) = (&mapping, allocate_now, p.fix_traversal) {
        for d in dirs.iter().filter(|d| d.blocks(m)) {
            // The facts keep the old mode: the step records the change it stands for.
            let _ =
                std::fs::set_permissions(&d.path, std::fs::Permissions::from_mode(d.mode | 0o001));
        }
    }
    // Staging replaces fix_traversal: not with it, and only when the container is really
    // being created. A pod's containers are staged for their sandbox's mapping.
    // `explain` (no container) shows what create would do, for the bundle directory's name.
    let bundle_real = std::fs::canonicalize(bundle).unwrap_or_else(|_| bundle.to_path_buf());
    let shown = bundle_real
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|_| container.is_none())
        .map(|id| Container::new(None, id));
    let stage = match (&mapping, allocate_now.or(shown.as_ref()), &root) {
        (Ok(m), Some(c), Some(rootfs)) if !p.fix_traversal => {
            let id = c
                .state
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let root_path = request
                .get("/root/path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let bundle = &bundle_real;
            let sources: Vec<String> = binds.iter().map(|b| b.display().to_string()).collect();
            let blocked = |src: &Path| {
                src.ancestors()
                    .skip(1)
                    .filter_map(host_dir)
                    .any(|d| d.blocks(m))
            };
            crate::stage::plan(id, c, bundle, root_path, rootfs, &sources, &blocked)
        }
        _ => None,
    };
    Some(UsernsFacts {
        mapping,
        origin,
        dirs,
        missing,
        mount_flags,
        joined,
        stage,
        enter_net,
    })
}

/// The inode of the user namespace owning the namespace at `path`.
fn owner(path: &str) -> Option<u64> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // ioctl(2) NS_GET_USERNS = _IO(0xb7, 0x1): an fd of the namespace's owning user namespace.
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    let f = std::fs::File::open(path).ok()?;
    // SAFETY: a valid open fd and an ioctl that takes no argument.
    let fd = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_USERNS as _) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the ioctl returned a new fd that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    std::fs::File::from(owned).metadata().ok().map(|m| m.ino())
}

/// The network namespace `request` joins by path, with its inode, where the host's user
/// namespace (Rampart's) owns it and the namespace-path rule accepts the path.
fn host_owned_netns(request: &Spec) -> Option<(String, u64)> {
    let namespaces: Vec<Value> = request.typed("/linux/namespaces").ok()??;
    let path = namespaces
        .iter()
        .find(|n| n["type"] == "network")?
        .get("path")?
        .as_str()
        .filter(|p| crate::policy::ns_paths::acceptable("network", p))?;
    let host = std::fs::metadata("/proc/self/ns/user").ok()?.ino();
    (owner(path)? == host).then_some(())?;
    Some((path.to_string(), std::fs::metadata(path).ok()?.ino()))
}

/// The user namespace owning every pid, ipc, uts and network namespace `request` joins by
/// path, if one does, it is not the host's, it maps one range of ids inside the profile's
/// pool (so Rampart set it up for a container under this profile) and it can be named by a
/// `/proc/PID/ns/user` path. runc 1.1 joins the user namespace first, so every other
/// namespace joined must belong to it, except `enter_net`, a network namespace the host's user
/// namespace owns (a CRI pod's, which CNI created on the host), which Rampart enters itself.
fn joined_userns(
    request: &Spec,
    p: &UsernsPolicy,
    enter_net: Option<&(String, u64)>,
) -> Option<Joined> {
    let host = std::fs::metadata("/proc/self/ns/user").ok()?.ino();
    let namespaces: Vec<Value> = request.typed("/linux/namespaces").ok()??;
    let joined: Vec<(String, String)> = namespaces
        .iter()
        .filter(|n| matches!(n["type"].as_str(), Some("pid" | "ipc" | "uts" | "network")))
        .filter_map(|n| {
            Some((
                n["type"].as_str()?.to_string(),
                n["path"].as_str()?.to_string(),
            ))
        })
        .collect();
    for (_, path) in &joined {
        let Some(pid) = path
            .strip_prefix("/proc/")
            .and_then(|r| r.split_once('/'))
            .map(|(pid, _)| pid)
            .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()) && !pid.is_empty())
        else {
            continue;
        };
        let user = format!("/proc/{pid}/ns/user");
        let Some(ino) = std::fs::metadata(&user).ok().map(|m| m.ino()) else {
            continue;
        };
        if ino == host {
            continue;
        }
        let owns: Vec<String> = joined
            .iter()
            .filter(|(_, q)| owner(q) == Some(ino))
            .map(|(t, _)| t.clone())
            .collect();
        let entered = usize::from(enter_net.is_some() && !owns.iter().any(|t| t == "network"));
        if owns.len() + entered != joined.len() || owns.is_empty() {
            continue;
        }
        let one = |file: &str| -> Option<(u32, u32)> {
            let text = crate::host::read_text(format!("/proc/{pid}/{file}")).ok()?;
            let lines: Vec<Vec<u32>> = text
                .lines()
                .map(|l| {
                    l.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .collect();
            match lines.as_slice() {
                [l] if l.len() == 3 && l[0] == 0 => Some((l[1], l[2])),
                _ => None,
            }
        };
        let ((uid, size), (gid, gsize)) = (one("uid_map")?, one("gid_map")?);
        let (pool_uid, pool_gid, count) = pool(p, Path::new("/etc")).ok()?;
        let inside = |first: u32, start: u32| {
            u64::from(first) >= u64::from(start)
                && u64::from(first) + u64::from(size) <= u64::from(start) + u64::from(count)
        };
        if size != gsize || !inside(uid, pool_uid) || !inside(gid, pool_gid) {
            return None;
        }
        return Some(Joined {
            path: user,
            mapping: Mapping { uid, gid, size },
            owns,
        });
    }
    None
}

fn resolve(p: &UsernsPolicy, container: Option<&Container>) -> Result<(Mapping, String)> {
    let pool = pool(p, Path::new("/etc"))?;
    let from = match &p.subid {
        Some(n) => format!("the {n:?} entries of /etc/subuid and /etc/subgid"),
        None => format!("host ids {}+{}", pool.0, pool.2),
    };
    if !p.per_container {
        let m = Mapping {
            uid: pool.0,
            gid: pool.1,
            size: p.size,
        };
        return Ok((m, format!("from {from}")));
    }
    match container {
        Some(c) => {
            let m = allocate(&p.state_dir, pool, p.size, c)?;
            Ok((
                m,
                format!(
                    "a block of its own from {from}, recorded in {}",
                    p.state_dir.display()
                ),
            ))
        }
        None => Ok((
            Mapping {
                uid: pool.0,
                gid: pool.1,
                size: p.size,
            },
            format!("per container from {from}: create allocates a free block (shown: the first)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "rampart-idmap-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn subid_entries_are_found_by_name() {
        let text = "alice:100000:65536\n# x\nrampart:1000000:6553600\nrampart:1:1\n";
        assert_eq!(subid_range(text, "rampart"), Some((1_000_000, 6_553_600)));
        assert_eq!(subid_range(text, "bob"), None);
        let etc = tempdir("etc");
        std::fs::write(etc.join("subuid"), text).unwrap();
        std::fs::write(etc.join("subgid"), "rampart:2000000:65536\n").unwrap();
        let p = UsernsPolicy {
            enabled: true,
            subid: Some("rampart".into()),
            ..Default::default()
        };
        assert_eq!(pool(&p, &etc).unwrap(), (1_000_000, 2_000_000, 65536));
        let missing = UsernsPolicy {
            subid: Some("bob".into()),
            ..p.clone()
        };
        let err = format!("{:#}", pool(&missing, &etc).unwrap_err());
        assert!(
            err.contains("no entry for \"bob\"") && err.contains("subuid"),
            "{err}"
        );
        std::fs::write(etc.join("subgid"), "rampart:0:65536\n").unwrap();
        assert!(pool(&p, &etc).is_err(), "a range starting at host root");
    }

    #[test]
    fn bad_ranges_are_refused() {
        let ok = UsernsPolicy {
            enabled: true,
            ..Default::default()
        };
        check(&ok).unwrap();
        for bad in [
            UsernsPolicy {
                host_first: 0,
                ..ok.clone()
            },
            UsernsPolicy {
                host_count: 10,
                ..ok.clone()
            },
            UsernsPolicy {
                host_first: 0xFFFF_0000,
                ..ok.clone()
            },
            UsernsPolicy {
                size: 0,
                ..ok.clone()
            },
            UsernsPolicy {
                subid: Some("a:b".into()),
                ..ok.clone()
            },
        ] {
            assert!(check(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blocks_go_to_one_live_container_each_and_come_back_when_it_is_gone() {
        let dir = tempdir("alloc");
        let state = tempdir("runc-root");
        let pool = (1_000_000, 2_000_000, 3 * 65536);
        // Allocations made by a process that has exited: only the state dir keeps them.
        let alloc = |id: &str| {
            let c = Container::new(Some(&state), id);
            let r = allocate(&dir, pool, 65536, &c);
            let f = dir.join("allocations.json");
            let mut e: Vec<Entry> = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            for x in &mut e {
                x.pid = 0;
            }
            std::fs::write(&f, serde_json::to_vec(&e).unwrap()).unwrap();
            r
        };
        let created = |id: &str| std::fs::create_dir_all(state.join(id)).unwrap();
        let a = alloc("a").unwrap();
        assert_eq!((a.uid, a.gid), (1_000_000, 2_000_000));
        created("a");
        let b = alloc("b").unwrap();
        created("b");
        let c = alloc("c").unwrap();
        created("c");
        assert_eq!(
            [b.uid, c.uid],
            [1_065_536, 1_131_072],
            "distinct blocks, lowest first"
        );
        let err = format!("{:#}", alloc("d").unwrap_err());
        assert!(err.contains("no free block"), "{err}");
        // `runc delete b` removes its state dir: the block is free again.
        std::fs::remove_dir_all(state.join("b")).unwrap();
        assert_eq!(alloc("d").unwrap(), b);
        created("d");
        // A container created again under its old id gets its old block back when free.
        std::fs::remove_dir_all(state.join("a")).unwrap();
        assert_eq!(alloc("a").unwrap(), a);
        // A live allocation by a process that is still running (this one) holds its block
        // even before runc made the state dir.
        let own = allocate(
            &dir,
            (5_000_000, 5_000_000, 2 * 65536),
            65536,
            &Container::new(Some(&state), "x"),
        )
        .unwrap();
        let other = allocate(
            &dir,
            (5_000_000, 5_000_000, 2 * 65536),
            65536,
            &Container::new(Some(&state), "y"),
        )
        .unwrap();
        assert_ne!(own, other);
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(state);
    }

    #[test]
    fn concurrent_allocations_never_share_a_block() {
        let dir = tempdir("race");
        let state = tempdir("race-root");
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (dir, state) = (dir.clone(), state.clone());
                std::thread::spawn(move || {
                    let c = Container::new(Some(&state), &format!("c{i}"));
                    allocate(&dir, (1_000_000, 1_000_000, 64 * 65536), 65536, &c).unwrap()
                })
            })
            .collect();
        let mut got: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap().uid).collect();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 16);
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(state);
    }

    #[test]
    fn traversal_is_judged_as_the_mapped_root() {
        let m = Mapping {
            uid: 100_000,
            gid: 100_000,
            size: 65536,
        };
        let d = |mode, uid, gid| HostDir {
            path: "/x".into(),
            mode,
            uid,
            gid,
        };
        assert!(d(0o710, 0, 0).blocks(&m), "Docker's data dirs");
        assert!(!d(0o711, 0, 0).blocks(&m));
        assert!(!d(0o710, 0, 100_000).blocks(&m), "group is the mapped root");
        assert!(!d(0o700, 100_000, 0).blocks(&m), "owned by the mapped root");
    }
}
