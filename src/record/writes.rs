//! What the container wrote in its rootfs, outside its mounts, and its cgroup's peaks.
//! Best effort, read by the recorder at the container's exit:
//! - an overlay rootfs (Docker, containerd, podman): the upperdir named in the options of
//!   the container's `/` mount (its init's /proc/PID/mountinfo, read while it runs) holds
//!   exactly what changed; entries whose ctime is before the container's first exec are
//!   runc's own mount points and are left out; deletions show as whiteouts (listed too);
//! - any other rootfs (a plain directory, `runc run`): the host's view of the rootfs is
//!   walked at exit for entries changed (ctime) since that exec. Deletions are not seen.
//!
//! Directories are listed only when empty (a created directory); their written files stand
//! for them otherwise, and busy directories are collapsed ([`super::recording::collapse_writes`]).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The upperdir of the `/` mount in a mountinfo text, when it is an overlay.
pub fn overlay_upperdir(mountinfo: &str) -> Option<PathBuf> {
    let mut found = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.get(4) != Some(&"/") {
            continue;
        }
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        // A later line for `/` is mounted over the earlier ones.
        found = None;
        if fields.get(dash + 1) != Some(&"overlay") {
            continue;
        }
        let opts = fields.get(dash + 3).copied().unwrap_or("");
        found = opts
            .split(',')
            .find_map(|o| o.strip_prefix("upperdir="))
            .map(|p| PathBuf::from(unescape(p)));
    }
    found
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = s.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Entries below `root` changed at or after `since` (seconds, nanoseconds of the realtime
/// clock), as paths from the rootfs' `/`; none below `skip` (the mount destinations).
/// At most `max` entries are looked at; the bool says whether the walk was cut.
pub fn changed_since(
    root: &Path,
    since: (i64, i64),
    skip: &[String],
    max: usize,
) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut seen = 0usize;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let dev = std::fs::symlink_metadata(root).map(|m| m.dev()).ok();
    while let Some((dir, shown)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut empty = true;
        for entry in rd.flatten() {
            empty = false;
            seen += 1;
            if seen > max {
                return (out, true);
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{shown}/{name}");
            if skip.iter().any(|s| below(&path, s)) {
                continue;
            }
            let Ok(m) = entry.metadata() else { continue };
            if m.is_dir() && Some(m.dev()) == dev {
                stack.push((entry.path(), path));
            } else if (m.ctime(), m.ctime_nsec()) >= since {
                out.push(path);
            }
        }
        if empty && !shown.is_empty() {
            let changed =
                std::fs::symlink_metadata(&dir).is_ok_and(|m| (m.ctime(), m.ctime_nsec()) >= since);
            if changed {
                out.push(shown);
            }
        }
    }
    (out, false)
}

/// `path` is `dest` or below it (`/` is never skipped: it is the rootfs).
fn below(path: &str, dest: &str) -> bool {
    let dest = dest.trim_end_matches('/');
    !dest.is_empty()
        && (path == dest
            || (path.starts_with(dest) && path.as_bytes().get(dest.len()) == Some(&b'/')))
}

/// The cgroup files that hold peaks, from runc's state.json `cgroup_paths`.
pub fn peaks(
    cgroup_paths: &BTreeMap<String, String>,
    pids_seen: u64,
) -> serde_json::Map<String, serde_json::Value> {
    let read = |dir: &str, file: &str| -> Option<u64> {
        std::fs::read_to_string(Path::new(dir).join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let mut m = serde_json::Map::new();
    let unified = cgroup_paths.get("").map(String::as_str);
    let mem = cgroup_paths
        .get("memory")
        .and_then(|d| read(d, "memory.max_usage_in_bytes"))
        .or_else(|| unified.and_then(|d| read(d, "memory.peak")));
    if let Some(v) = mem {
        m.insert("memory_bytes".into(), v.into());
    }
    let pids = cgroup_paths
        .get("pids")
        .map(String::as_str)
        .or(unified)
        .and_then(|d| read(d, "pids.peak"))
        .unwrap_or(0)
        .max(pids_seen);
    if pids > 0 {
        m.insert("pids".into(), pids.into());
    }
    m
}

/// pids.current now (sampled while the container runs, where pids.peak is missing).
pub fn pids_now(cgroup_paths: &BTreeMap<String, String>) -> Option<u64> {
    let dir = cgroup_paths.get("pids").or_else(|| cgroup_paths.get(""))?;
    std::fs::read_to_string(Path::new(dir).join("pids.current"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_root_mount_names_the_upperdir() {
        let mi = "\
1 0 0:1 / / rw - ext4 /dev/sda rw
600 599 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/var/lib/docker/overlay2/abc/diff,workdir=/w
601 600 0:53 / /proc rw - proc proc rw
";
        assert_eq!(
            overlay_upperdir(mi),
            Some(PathBuf::from("/var/lib/docker/overlay2/abc/diff"))
        );
        assert_eq!(
            overlay_upperdir("1 0 0:1 / / rw - ext4 /dev/sda rw\n"),
            None
        );
        assert_eq!(
            overlay_upperdir("1 0 0:1 / / rw - overlay o rw,upperdir=/a\\040b,workdir=/w\n"),
            Some(PathBuf::from("/a b"))
        );
    }

    #[test]
    fn only_entries_changed_since_the_start_outside_mounts_are_listed() {
        let root = std::env::temp_dir().join(format!("rampart-writes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/old"), "x").unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let since = (now.as_secs() as i64, i64::from(now.subsec_nanos()));
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(root.join("etc/new"), "x").unwrap();
        std::fs::write(root.join("data/vol"), "x").unwrap();
        std::fs::create_dir_all(root.join("var/cache/app")).unwrap();
        let (mut w, cut) = changed_since(&root, since, &["/data".into()], 1000);
        w.sort();
        assert!(!cut);
        assert_eq!(w, vec!["/etc/new", "/var/cache/app"]);
        let (_, cut) = changed_since(&root, since, &[], 2);
        assert!(cut);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn peaks_read_what_the_cgroup_has() {
        let dir = std::env::temp_dir().join(format!("rampart-peaks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.max_usage_in_bytes"), "4096\n").unwrap();
        std::fs::write(dir.join("pids.current"), "3\n").unwrap();
        let d = dir.display().to_string();
        let paths: BTreeMap<String, String> =
            [("memory".to_string(), d.clone()), ("pids".to_string(), d)].into();
        assert_eq!(pids_now(&paths), Some(3));
        let p = peaks(&paths, 5);
        assert_eq!(p["memory_bytes"], 4096);
        assert_eq!(p["pids"], 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
