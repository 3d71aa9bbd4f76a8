//! Staging for user namespaces: the paths a container's root must reach (its rootfs and the
//! engine's per-container bind sources) cloned at a path it can traverse, under
//! `/run/rampart/stage/ID.HASH` (0711 above, 0700 owned by the mapped root), so Docker's 0710
//! data directories need no mode change.
//!
//! - Engine-owned paths (a rootfs in a Docker graph driver's or containerd's layout, Docker's
//!   `containers/ID/{resolv.conf,hosts,hostname,mounts/shm}` and named volumes'
//!   `volumes/NAME/_data`) are id-mapped clones where the filesystem allows it (ext4, tmpfs:
//!   root-owned image files are root's in the container); overlayfs refuses (EINVAL) and gets
//!   a plain clone. A request's other bind sources (`-v /host/dir`) are never id-mapped,
//!   since container root would write through them as host uid 0: they get a plain clone,
//!   and only where a directory above them blocks traversal.
//! - Mount points missing from an engine-owned rootfs are created as host root before runc
//!   runs, never through a symlink.
//! - Clones are detached at `runc delete` (Rampart sees it pass) and for ids runc no longer
//!   knows (at every create and delete). The staging directory is a private bind of itself.
//!
//! [`plan`] is pure over paths (the `userns` step rewrites the spec from it); [`apply`] and
//! [`on_delete`] act on the host.

use crate::idmap::{Container, Mapping};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

pub const BASE: &str = "/run/rampart/stage";

/// One clone: `source` (as the spec names it) attached at `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub source: String,
    pub target: PathBuf,
    /// Engine-owned: id-mapped where the filesystem allows it.
    pub idmap: bool,
}

/// What to stage for one container.
#[derive(Debug, Clone, PartialEq)]
pub struct Staging {
    pub dir: PathBuf,
    /// runc's state directory of the container (`--root`/ID): staging outlives it by no more
    /// than until the next create or delete.
    pub state: PathBuf,
    /// The canonical rootfs; its clone is `dir`/rootfs.
    pub rootfs: Entry,
    /// Whether Rampart creates missing mount points in it (an engine-owned rootfs).
    pub engine_rootfs: bool,
    pub binds: Vec<Entry>,
}

use crate::host::runc_id_ok as valid_id;

/// The staging directory of a container: its id and a hash of its runc state path.
pub fn dir_for(c: &Container, id: &str) -> PathBuf {
    // FNV-1a: stable across builds, enough to keep two runc roots apart.
    let h = c
        .state
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
    Path::new(BASE).join(format!("{id}.{:08x}", h as u32))
}

fn plain(p: &Path) -> Option<Vec<String>> {
    p.components()
        .map(|c| match c {
            Component::RootDir => Some(String::new()),
            Component::Normal(s) => s.to_str().map(String::from),
            _ => None,
        })
        .collect()
}

/// The data root of a Docker graph driver's rootfs path (`R/overlay2/X/merged`,
/// `R/vfs/dir/X`, `R/btrfs/subvolumes/X`).
pub fn docker_root(rootfs: &Path) -> Option<PathBuf> {
    let c = plain(rootfs)?;
    let n = c.len();
    if n < 5 {
        return None;
    }
    let t: Vec<&str> = c[n - 3..].iter().map(String::as_str).collect();
    // Docker's graph drivers; podman's containers/storage names overlay `overlay`.
    let known = matches!(
        t[..],
        ["overlay2" | "overlay", _, "merged"] | ["vfs", "dir", _] | ["btrfs", "subvolumes", _]
    );
    if !known {
        return None;
    }
    let up = 3;
    Some(rootfs.ancestors().nth(up)?.to_path_buf())
}

/// The graph root and driver directory of a podman (containers/storage) bundle
/// (`GRAPHROOT/DRIVER-containers/ID/userdata`) for container `id`.
fn podman_bundle(bundle: &Path, id: &str) -> Option<(PathBuf, String)> {
    let c = plain(bundle)?;
    let n = c.len();
    if n < 5 || c[n - 1] != "userdata" || c[n - 2] != id {
        return None;
    }
    let drv = c[n - 3]
        .strip_suffix("-containers")
        .filter(|d| !d.is_empty())?;
    Some((
        bundle.ancestors().nth(3)?.to_path_buf(),
        format!("{drv}-containers"),
    ))
}

/// The namespace and id of a containerd task bundle (`.../io.containerd.runtime.v2.task/NS/ID`).
fn task_bundle(bundle: &Path) -> Option<(String, String)> {
    let c = plain(bundle)?;
    let n = c.len();
    (n >= 3 && c[n - 3] == "io.containerd.runtime.v2.task")
        .then(|| (c[n - 2].clone(), c[n - 1].clone()))
}

/// What to stage for a container with id `id` whose request names `root_path` (resolved to
/// `rootfs`) from bundle `bundle`; `blocked(path)` says whether a directory above `path`
/// stops the mapped root. None for an invalid id.
pub fn plan(
    id: &str,
    c: &Container,
    bundle: &Path,
    root_path: &str,
    rootfs: &Path,
    binds: &[String],
    blocked: &dyn Fn(&Path) -> bool,
) -> Option<Staging> {
    if !valid_id(id) {
        return None;
    }
    let dir = dir_for(c, id);
    let task = task_bundle(bundle).filter(|(_, tid)| tid == id);
    // Docker (containerd namespace "moby") names its graph driver's rootfs; containerd mounts
    // the snapshot at the bundle's `rootfs`.
    let docker = task
        .as_ref()
        .filter(|(ns, _)| ns == "moby")
        .and_then(|_| docker_root(rootfs));
    // podman names its bundle in its graph root; the rootfs must be a layer of that root
    // (not `podman run --rootfs /host/dir`).
    let podman = podman_bundle(bundle, id)
        .filter(|(root, _)| docker_root(rootfs).is_some_and(|r| r == *root));
    let engine_rootfs =
        docker.is_some() || podman.is_some() || (task.is_some() && root_path == "rootfs");
    let owned = |src: &Path| -> bool {
        if let Some((root, drv)) = &podman {
            // Its volumes and shm in the graph root; resolv.conf, hosts, hostname and
            // .containerenv in the run root's directory of this container.
            let (Some(all), rel) = (plain(src), src.strip_prefix(root).ok().and_then(plain)) else {
                return false;
            };
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            let rel = rel.unwrap_or_default();
            let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
            let files = "resolv.conf hosts hostname .containerenv";
            return matches!(all[..], [.., d, cid, "userdata", f]
                    if d == drv.as_str() && cid == id && files.split(' ').any(|x| x == f))
                || matches!(rel[..], [d, cid, "userdata", "shm"] if d == drv.as_str() && cid == id)
                || matches!(rel[..], ["volumes", name, "_data"] if !name.is_empty());
        }
        let Some(r) = &docker else { return false };
        let Ok(rest) = src.strip_prefix(r) else {
            return false;
        };
        let Some(c) = plain(rest) else { return false };
        let c: Vec<&str> = c.iter().map(String::as_str).collect();
        matches!(c[..], ["containers", cid, "resolv.conf" | "hosts" | "hostname"] if cid == id)
            || matches!(c[..], ["containers", cid, "mounts", "shm"] if cid == id)
            || matches!(c[..], ["volumes", name, "_data"] if !name.is_empty())
    };
    let mut entries: Vec<Entry> = Vec::new();
    for s in binds {
        let p = Path::new(s);
        if !p.is_absolute() || entries.iter().any(|e| e.source == *s) {
            continue;
        }
        let idmap = owned(p);
        if idmap || blocked(p) {
            entries.push(Entry {
                source: s.clone(),
                target: dir.join(format!("m{}", entries.len())),
                idmap,
            });
        }
    }
    Some(Staging {
        rootfs: Entry {
            source: rootfs.display().to_string(),
            target: dir.join("rootfs"),
            idmap: engine_rootfs,
        },
        dir,
        state: c.state.clone(),
        engine_rootfs,
        binds: entries,
    })
}

use crate::host::start_time;

/// Whether `mountinfo` lists a mount point at `path`.
fn is_mount_point(path: &Path) -> bool {
    let want = path.display().to_string();
    crate::host::read_text("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

/// Every mount point at or below `dir`, deepest first.
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let prefix = dir.display().to_string();
    let mut out: Vec<PathBuf> = crate::host::read_text("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| *m == prefix || m.starts_with(&format!("{prefix}/")))
        .map(PathBuf::from)
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Detaches every clone of a staging directory and removes it.
fn remove(dir: &Path) {
    for m in mounts_below(dir) {
        let _ = crate::mountapi::detach(&m);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The base directory, private, 0711; held locked while staging changes.
fn base() -> Result<nix::fcntl::Flock<std::fs::File>> {
    let base = Path::new(BASE);
    std::fs::create_dir_all(base).with_context(|| format!("cannot create {BASE}"))?;
    for d in [base.parent().unwrap_or(base), base] {
        let mode = std::fs::metadata(d)?.mode() & 0o7777;
        if mode & 0o001 == 0 {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o001))?;
        }
    }
    let lock = std::fs::File::create(base.join("lock"))?;
    let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("cannot lock {BASE}/lock"))?;
    if !is_mount_point(base) {
        crate::mountapi::bind_self_private(base)
            .with_context(|| format!("cannot make {BASE} a private bind of itself"))?;
    }
    Ok(lock)
}

/// Removes staging whose container runc no longer knows and whose creator is gone.
fn gc() {
    let Ok(rd) = std::fs::read_dir(BASE) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_dir() {
            continue;
        }
        let owner: Value = std::fs::read(p.join("owner"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let state = owner["state"].as_str().map(PathBuf::from);
        let creator = owner["pid"]
            .as_u64()
            .and_then(|pid| (start_time(pid as u32) == owner["start"].as_u64()).then_some(()));
        let live = state.is_some_and(|s| s.exists()) || creator.is_some();
        // A directory without an owner file is one being made (under the lock) or broken.
        if !live && (owner != Value::Null || age(&p) > 60) {
            remove(&p);
        }
    }
}

fn age(p: &Path) -> u64 {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or(0, |d| d.as_secs())
}

/// Makes the mount points `dests` (container paths) that are missing from `rootfs`, as host
/// root: directories, or an empty file where the mount's source is not a directory. A
/// symlink or non-directory on the way stops it (runc then resolves what it finds).
pub fn create_mount_points(rootfs: &Path, dests: &[(String, bool)]) -> Result<Vec<String>> {
    use nix::fcntl::{OFlag, open, openat};
    use nix::sys::stat::{Mode, mkdirat};
    let mut made = Vec::new();
    let dirflags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let root = open(rootfs, dirflags, Mode::empty())
        .with_context(|| format!("cannot open the rootfs {}", rootfs.display()))?;
    'each: for (dest, is_dir) in dests {
        let parts: Vec<&str> = dest.split('/').filter(|s| !s.is_empty()).collect();
        if parts.iter().any(|p| *p == "." || *p == "..") || parts.is_empty() {
            continue;
        }
        let mut cur = root.try_clone()?;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            match openat(&cur, *part, dirflags, Mode::empty()) {
                Ok(fd) => {
                    cur = fd;
                    continue;
                }
                Err(nix::errno::Errno::ENOENT) => {}
                // A symlink (ELOOP), a file (ENOTDIR) or anything else: not through it.
                Err(_) => continue 'each,
            }
            if last && !is_dir {
                let f = openat(
                    &cur,
                    *part,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_WRONLY
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o644),
                );
                if f.is_ok() {
                    made.push(dest.clone());
                }
                continue 'each;
            }
            if mkdirat(&cur, *part, Mode::from_bits_truncate(0o755)).is_err() {
                continue 'each;
            }
            if last {
                made.push(dest.clone());
            }
            match openat(&cur, *part, dirflags, Mode::empty()) {
                Ok(fd) => cur = fd,
                Err(_) => continue 'each,
            }
        }
    }
    Ok(made)
}

/// Mount destinations of `spec` Rampart creates before runc: not under another mount's
/// destination (runc makes those in the mount it placed), with whether each is a directory.
pub fn mount_points(spec: &crate::spec::Spec) -> Vec<(String, bool)> {
    let mounts: Vec<Value> = spec.typed("/mounts").ok().flatten().unwrap_or_default();
    let dests: Vec<String> = mounts
        .iter()
        .map(|m| crate::steps::rootfs::clean(m["destination"].as_str().unwrap_or_default()))
        .collect();
    mounts
        .iter()
        .zip(&dests)
        .filter(|(_, d)| {
            d.as_str() != "/"
                && !dests
                    .iter()
                    .any(|o| o != *d && o != "/" && d.starts_with(&format!("{o}/")))
        })
        .map(|(m, d)| {
            let bind = m["type"] == "bind"
                || m["options"]
                    .as_array()
                    .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"));
            let is_dir = !bind
                || m["source"]
                    .as_str()
                    .is_none_or(|s| std::fs::metadata(s).map(|m| m.is_dir()).unwrap_or(true));
            (d.clone(), is_dir)
        })
        .collect()
}

/// What staging did, for the audit record: (path, how).
pub type Done = Vec<(String, String)>;

/// Stages `s` for mapping `m` (the spec already names the clones), after creating the missing
/// mount points of `spec` in an engine-owned rootfs. On failure nothing stays staged.
pub fn apply(s: &Staging, m: &Mapping, spec: &crate::spec::Spec) -> Result<Done> {
    let _lock = base()?;
    gc();
    remove(&s.dir);
    let r = (|| {
        let mut done = Done::new();
        if s.engine_rootfs {
            for d in create_mount_points(Path::new(&s.rootfs.source), &mount_points(spec))? {
                done.push((d, "mount point created in the rootfs as host root".into()));
            }
        }
        std::fs::create_dir(&s.dir)
            .with_context(|| format!("cannot create {}", s.dir.display()))?;
        let pid = std::process::id();
        std::fs::write(
            s.dir.join("owner"),
            serde_json::to_vec(&json!({"state": s.state, "pid": pid, "start": start_time(pid)}))?,
        )?;
        std::fs::set_permissions(&s.dir, std::fs::Permissions::from_mode(0o700))?;
        nix::unistd::chown(
            &s.dir,
            Some(nix::unistd::Uid::from_raw(m.uid)),
            Some(nix::unistd::Gid::from_raw(m.gid)),
        )?;
        let mut ns = None;
        for e in std::iter::once(&s.rootfs).chain(&s.binds) {
            let src = Path::new(&e.source);
            if std::fs::metadata(src)
                .with_context(|| format!("cannot stage {}", e.source))?
                .is_dir()
            {
                std::fs::create_dir(&e.target)?;
            } else {
                std::fs::File::create(&e.target)?;
            }
            let tree = crate::mountapi::open_tree(src)
                .with_context(|| format!("open_tree {}", e.source))?;
            let mut how = "plain clone (never id-mapped: not the engine's)";
            if e.idmap {
                if ns.is_none() {
                    ns = Some(
                        crate::mountapi::userns_fd(m).context("user namespace for id-mapping")?,
                    );
                }
                let fd = ns.as_ref().map(|f| f.as_fd());
                how = match crate::mountapi::set_attr(&tree, fd) {
                    Ok(()) => "id-mapped clone",
                    Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
                        "plain clone (its filesystem cannot be id-mapped)"
                    }
                    Err(err) => {
                        return Err(err).with_context(|| format!("cannot id-map {}", e.source));
                    }
                };
            }
            if how != "id-mapped clone" {
                crate::mountapi::set_attr(&tree, None)
                    .with_context(|| format!("cannot make a clone of {} private", e.source))?;
            }
            crate::mountapi::move_mount(&tree, &e.target).with_context(|| {
                format!(
                    "cannot attach a clone of {} at {}",
                    e.source,
                    e.target.display()
                )
            })?;
            done.push((e.source.clone(), format!("{how} at {}", e.target.display())));
        }
        Ok(done)
    })();
    if r.is_err() {
        remove(&s.dir);
    }
    r
}

/// `runc delete ID`: detaches and removes the container's staging unless its init still
/// runs and the delete is not forced (runc then refuses, and exec still needs the
/// directory); collects stale staging of other containers.
pub fn on_delete(runc_root: Option<&Path>, id: &str, force: bool) {
    if !valid_id(id) {
        return;
    }
    // Staging is one directory per container: where the base has no subdirectory (a
    // directory's link count is 2 plus its subdirectories on tmpfs, ext4 and xfs; btrfs
    // says 1 and is scanned), there is nothing to remove or collect, and the lock and the
    // mountinfo read are skipped (most deletes: containers without a user namespace).
    match std::fs::metadata(BASE) {
        Err(_) => return,
        Ok(m) if m.nlink() == 2 => return,
        Ok(_) => {}
    }
    let c = Container::new(runc_root, id);
    let Ok(_lock) = base() else { return };
    let dir = dir_for(&c, id);
    if dir.exists() && (force || !running(&c.state)) {
        remove(&dir);
    }
    gc();
}

/// Whether runc's state says the container's init process still runs.
fn running(state: &Path) -> bool {
    let Ok(b) = std::fs::read(state.join("state.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<Value>(&b) else {
        return false;
    };
    match (
        v["init_process_pid"].as_u64(),
        v["init_process_start"].as_u64(),
    ) {
        (Some(pid), Some(start)) if pid > 0 => start_time(pid as u32) == Some(start),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abc123";

    fn c() -> Container {
        Container::new(Some(Path::new("/run/docker/runtime-runc/moby")), ID)
    }

    fn docker_plan(rootfs: &str, binds: &[&str], blocked: bool) -> Staging {
        let binds: Vec<String> = binds.iter().map(|s| s.to_string()).collect();
        plan(
            ID,
            &c(),
            Path::new(&format!(
                "/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/{ID}"
            )),
            rootfs,
            Path::new(rootfs),
            &binds,
            &|_| blocked,
        )
        .unwrap()
    }

    #[test]
    fn docker_rootfs_layouts_name_the_data_root() {
        let r = |p: &str| docker_root(Path::new(p)).map(|p| p.display().to_string());
        assert_eq!(
            r("/var/lib/docker/overlay2/x/merged").as_deref(),
            Some("/var/lib/docker")
        );
        assert_eq!(r("/d/vfs/dir/x").as_deref(), Some("/d"));
        assert_eq!(r("/d/btrfs/subvolumes/x").as_deref(), Some("/d"));
        assert_eq!(r("/srv/x/merged"), None);
        assert_eq!(r("/d/overlay2/x/../y/merged"), None);
    }

    #[test]
    fn podmans_layer_files_and_volumes_are_id_mapped_and_a_users_binds_never() {
        let g = "/var/lib/containers/storage";
        let run = "/run/containers/storage";
        let bundle = format!("{g}/vfs-containers/{ID}/userdata");
        let binds: Vec<String> = [
            format!("{run}/vfs-containers/{ID}/userdata/resolv.conf"),
            format!("{run}/vfs-containers/{ID}/userdata/.containerenv"),
            format!("{g}/vfs-containers/{ID}/userdata/shm"),
            format!("{g}/volumes/data/_data"),
            // another container's, a user's directory, a file of this container's not listed
            format!("{run}/vfs-containers/other/userdata/hosts"),
            "/srv/www".into(),
            format!("{run}/vfs-containers/{ID}/userdata/config.json"),
        ]
        .into();
        let p = |rootfs: &str| {
            plan(
                ID,
                &c(),
                Path::new(&bundle),
                rootfs,
                Path::new(rootfs),
                &binds,
                &|_| true,
            )
            .unwrap()
        };
        let s = p(&format!("{g}/vfs/dir/l1"));
        assert!(s.engine_rootfs && s.rootfs.idmap);
        let mapped: Vec<bool> = s.binds.iter().map(|e| e.idmap).collect();
        assert_eq!(mapped, [true, true, true, true, false, false, false]);
        assert!(p(&format!("{g}/overlay/l1/merged")).engine_rootfs);
        // `podman run --rootfs /host/dir`, or a layer of another graph root: never mapped.
        for other in ["/srv/rootfs", "/other/vfs/dir/l1"] {
            let s = p(other);
            assert!(!s.engine_rootfs && !s.rootfs.idmap, "{other}");
            assert!(s.binds.iter().all(|e| !e.idmap), "{other}");
        }
        // Another container's bundle.
        let s = plan(
            ID,
            &c(),
            Path::new(&format!("{g}/vfs-containers/other/userdata")),
            "x",
            Path::new(&format!("{g}/vfs/dir/l1")),
            &binds,
            &|_| true,
        )
        .unwrap();
        assert!(!s.engine_rootfs);
    }

    #[test]
    fn engine_files_are_id_mapped_and_a_users_binds_never() {
        let root = "/var/lib/docker/vfs/dir/l1";
        let s = docker_plan(
            root,
            &[
                "/var/lib/docker/containers/abc123/resolv.conf",
                "/var/lib/docker/containers/abc123/hosts",
                "/var/lib/docker/containers/abc123/mounts/shm",
                "/var/lib/docker/volumes/data/_data",
                // another container's file, the volumes directory, a user's directory
                "/var/lib/docker/containers/other/hosts",
                "/var/lib/docker/volumes",
                "/srv/www",
                "/var/lib/docker/volumes/../containers/abc123/hosts",
            ],
            true,
        );
        assert!(s.engine_rootfs && s.rootfs.idmap);
        assert_eq!(s.rootfs.target, s.dir.join("rootfs"));
        let mapped: Vec<(&str, bool)> = s
            .binds
            .iter()
            .map(|e| (e.source.as_str(), e.idmap))
            .collect();
        assert_eq!(
            mapped,
            [
                ("/var/lib/docker/containers/abc123/resolv.conf", true),
                ("/var/lib/docker/containers/abc123/hosts", true),
                ("/var/lib/docker/containers/abc123/mounts/shm", true),
                ("/var/lib/docker/volumes/data/_data", true),
                ("/var/lib/docker/containers/other/hosts", false),
                ("/var/lib/docker/volumes", false),
                ("/srv/www", false),
                ("/var/lib/docker/volumes/../containers/abc123/hosts", false),
            ]
        );
        // Not blocked: a user's bind is left alone; the engine's are still id-mapped.
        let s = docker_plan(
            root,
            &["/srv/www", "/var/lib/docker/volumes/v/_data"],
            false,
        );
        assert_eq!(s.binds.len(), 1);
        assert!(s.binds[0].idmap);
    }

    #[test]
    fn a_rootfs_outside_the_engines_layouts_is_never_id_mapped() {
        // A containerd client naming a host directory as its rootfs.
        let binds = vec!["/var/lib/docker/volumes/v/_data".to_string()];
        let s = plan(
            ID,
            &c(),
            Path::new(&format!(
                "/run/containerd/io.containerd.runtime.v2.task/default/{ID}"
            )),
            "/srv",
            Path::new("/srv"),
            &binds,
            &|_| true,
        )
        .unwrap();
        assert!(!s.engine_rootfs && !s.rootfs.idmap && !s.binds[0].idmap);
        // containerd's own mount of the snapshot at the bundle's rootfs is the engine's.
        let b = format!("/run/containerd/io.containerd.runtime.v2.task/default/{ID}");
        let s = plan(
            ID,
            &c(),
            Path::new(&b),
            "rootfs",
            &Path::new(&b).join("rootfs"),
            &[],
            &|_| true,
        )
        .unwrap();
        assert!(s.engine_rootfs && s.rootfs.idmap);
        // A Docker layout outside Docker's namespace, or another id's bundle: not the engine's.
        let b = format!("/run/containerd/io.containerd.runtime.v2.task/default/{ID}");
        let r = Path::new("/var/lib/docker/vfs/dir/x");
        assert!(
            !plan(
                ID,
                &c(),
                Path::new(&b),
                "/var/lib/docker/vfs/dir/x",
                r,
                &[],
                &|_| true
            )
            .unwrap()
            .rootfs
            .idmap
        );
        let b = "/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/other";
        assert!(
            !plan(ID, &c(), Path::new(b), "x", r, &[], &|_| true)
                .unwrap()
                .rootfs
                .idmap
        );
        // Invalid ids are never staged.
        assert!(plan("../x", &c(), Path::new(b), "x", r, &[], &|_| true).is_none());
    }

    #[test]
    fn staging_dirs_differ_per_runc_root() {
        let a = dir_for(&Container::new(Some(Path::new("/run/a")), "x"), "x");
        let b = dir_for(&Container::new(Some(Path::new("/run/b")), "x"), "x");
        assert_ne!(a, b);
        assert!(a.starts_with(BASE) && a.file_name().unwrap().to_string_lossy().starts_with("x."));
    }

    #[test]
    fn mount_points_are_made_inside_the_rootfs_and_never_through_a_symlink() {
        let d = std::env::temp_dir().join(format!("rampart-stage-mp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let (root, outside) = (d.join("root"), d.join("outside"));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let made = create_mount_points(
            &root,
            &[
                ("/data/sub".into(), true),
                ("/etc/resolv.conf".into(), false),
                ("/link/x".into(), true),
                ("/../escape".into(), true),
            ],
        )
        .unwrap();
        assert_eq!(made, ["/data/sub", "/etc/resolv.conf"]);
        assert!(root.join("data/sub").is_dir() && root.join("etc/resolv.conf").is_file());
        assert!(!outside.join("x").exists() && !d.join("escape").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn mount_points_under_other_mounts_are_left_to_runc() {
        let s = crate::spec::Spec::from_slice(
            br#"{"ociVersion":"1.0.2","root":{"path":"r"},"mounts":[
            {"destination":"/dev","type":"tmpfs","source":"tmpfs"},
            {"destination":"/dev/pts","type":"devpts","source":"devpts"},
            {"destination":"/data","type":"tmpfs","source":"tmpfs"},
            {"destination":"/etc/hosts","type":"bind","source":"/etc/hostname","options":["rbind"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            mount_points(&s),
            [
                ("/dev".to_string(), true),
                ("/data".to_string(), true),
                ("/etc/hosts".to_string(), false)
            ]
        );
    }
}
