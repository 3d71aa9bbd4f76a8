//! `rampart doctor`: what the `isolated` profile does with each engine's data root. Before
//! runc runs, Rampart stages the rootfs and the engine's own files (volumes, resolv.conf,
//! hosts, shm) as id-mapped clones where the filesystem allows it, plain clones otherwise
//! (see `stage`). Which one a data root gets decides what root in the container sees: an
//! overlay rootfs (Docker's overlay2, containerd's overlayfs snapshotter, podman's overlay)
//! cannot be id-mapped, so image files are nobody's inside; volumes live on the data root's
//! own filesystem, which ext4, xfs, vfat (5.12), btrfs (5.15), f2fs (5.18) and tmpfs (6.3)
//! can id-map. Judged from the filesystem type (statfs) and the kernel release, without
//! touching the data root.

use super::doctor::{Finding, Status};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One engine's data root and its storage driver (snapshotter).
#[derive(Debug, Clone, PartialEq)]
pub struct DataRoot {
    pub engine: &'static str,
    pub path: PathBuf,
    pub driver: String,
}

/// The drivers whose rootfs is an overlay mount.
fn overlay(driver: &str) -> bool {
    matches!(
        driver,
        "overlay2" | "overlay" | "overlayfs" | "fuse-overlayfs"
    )
}

/// (engine, configured data root, default data root, configured driver, drivers' directories)
type Engine<'a> = (
    &'static str,
    Option<String>,
    &'a str,
    Option<String>,
    &'a [&'a str],
);

/// The data roots of Docker, containerd and podman that exist under `host_root`, with their
/// drivers: as configured (daemon.json `data-root`/`storage-driver`, containerd's `root` and
/// CRI `snapshotter`, storage.conf `graphroot`/`driver`), else the defaults, and the driver
/// from the directories a driver leaves.
pub fn data_roots(
    host_root: &Path,
    daemon_json: Option<&str>,
    containerd_toml: Option<&str>,
    storage_conf: Option<&str>,
) -> Vec<DataRoot> {
    let under = |p: &str| host_root.join(p.trim_start_matches('/'));
    let mut out = Vec::new();
    let dj: Value = daemon_json
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let ct: toml::Table = containerd_toml
        .and_then(|t| toml::from_str(t).ok())
        .unwrap_or_default();
    let sc: toml::Table = storage_conf
        .and_then(|t| toml::from_str(t).ok())
        .unwrap_or_default();
    let first_dir = |root: &Path, names: &[&str]| -> Option<String> {
        names
            .iter()
            .find(|n| root.join(n).is_dir())
            .map(|n| n.to_string())
    };
    let cri = ct
        .get("plugins")
        .and_then(|p| p.get("io.containerd.grpc.v1.cri"))
        .and_then(|c| c.get("containerd"))
        .and_then(|c| c.get("snapshotter"))
        .and_then(toml::Value::as_str);
    let storage = sc.get("storage");
    let engines: [Engine; 3] = [
        (
            "Docker",
            dj.get("data-root")
                .or(dj.get("graph"))
                .and_then(Value::as_str)
                .map(String::from),
            "/var/lib/docker",
            dj.get("storage-driver")
                .and_then(Value::as_str)
                .map(String::from),
            &[
                "overlay2",
                "fuse-overlayfs",
                "btrfs",
                "zfs",
                "vfs",
                "overlay",
            ],
        ),
        (
            "containerd",
            ct.get("root")
                .and_then(toml::Value::as_str)
                .map(String::from),
            "/var/lib/containerd",
            cri.map(String::from),
            &[
                "io.containerd.snapshotter.v1.overlayfs",
                "io.containerd.snapshotter.v1.native",
                "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.zfs",
            ],
        ),
        (
            "podman",
            storage
                .and_then(|s| s.get("graphroot"))
                .and_then(toml::Value::as_str)
                .map(String::from),
            "/var/lib/containers/storage",
            storage
                .and_then(|s| s.get("driver"))
                .and_then(toml::Value::as_str)
                .map(String::from),
            &["overlay", "btrfs", "zfs", "vfs"],
        ),
    ];
    for (engine, configured, default, driver, dirs) in engines {
        let p = configured
            .filter(|p| p.starts_with('/'))
            .unwrap_or_else(|| default.to_string());
        let path = under(&p);
        if !path.is_dir() {
            continue;
        }
        let driver = driver
            .filter(|d| !d.is_empty())
            .or_else(|| first_dir(&path, dirs))
            .map(|d| {
                d.strip_prefix("io.containerd.snapshotter.v1.")
                    .unwrap_or(&d)
                    .to_string()
            })
            .unwrap_or_else(|| {
                if engine == "containerd" {
                    "overlayfs".into()
                } else {
                    "unknown".into()
                }
            });
        out.push(DataRoot {
            engine,
            path: PathBuf::from(p),
            driver,
        });
    }
    out
}

/// The filesystem type of `path` by its statfs magic, for the ones that matter here.
pub fn fs_type(path: &Path) -> Option<&'static str> {
    let st = nix::sys::statfs::statfs(path).ok()?;
    let magic = st.filesystem_type().0 as u64;
    Some(match magic {
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0xF2F5_2010 => "f2fs",
        0x4D44 => "vfat",
        0x6573_5546 => "fuse",
        _ => "other",
    })
}

/// Whether the kernel (major, minor) can id-map a mount of filesystem `fs`.
pub fn idmappable(fs: &str, kernel: (u32, u32)) -> bool {
    let since = match fs {
        "ext4" | "xfs" | "vfat" => (5, 12),
        "btrfs" => (5, 15),
        "f2fs" => (5, 18),
        "tmpfs" => (6, 3),
        _ => return false,
    };
    kernel >= since
}

/// The finding for one data root on filesystem `fs` under kernel `kernel`.
pub fn predict(r: &DataRoot, fs: &str, kernel: (u32, u32)) -> Finding {
    let mapped = idmappable(fs, kernel);
    let rootfs = if overlay(&r.driver) {
        "the rootfs is a plain clone (an overlay cannot be id-mapped: image files are nobody's inside, mostly moot with the read-only rootfs)"
    } else if mapped {
        "the rootfs is id-mapped (image files are root's inside)"
    } else {
        "the rootfs is a plain clone (image files are nobody's inside)"
    };
    let what = format!(
        "{} {} ({} on {fs}): under isolated {rootfs}",
        r.engine,
        r.path.display(),
        r.driver
    );
    let mut f = Finding {
        id: "isolated-storage".into(),
        status: Status::Ok,
        summary: String::new(),
        why: String::new(),
        fix: String::new(),
    };
    if r.engine == "containerd" {
        // Its binds (CRI's hosts and resolv.conf, a pod's volumes) are not staged id-mapped:
        // their files keep their host owners (Kubernetes makes emptyDir 0777).
        f.summary = format!(
            "{what}; its bind sources (CRI's per-pod files, a pod's volumes) keep their host owners"
        );
    } else if mapped {
        f.summary = format!(
            "{what}; volumes and the engine's per-container files are id-mapped (root's inside)"
        );
    } else {
        f.status = Status::Warn;
        f.summary = format!(
            "{what}; volumes and the engine's per-container files are plain clones ({fs} cannot be id-mapped on this kernel)"
        );
        f.why = "root in an isolated container is nobody to its volumes: writes fail where a volume's directory is not open to all, and an entrypoint that chowns its data directory stops".into();
        f.fix = format!(
            "put {} on ext4, xfs or btrfs (tmpfs from Linux 6.3)",
            r.path.display()
        );
    }
    f
}

/// Findings for every engine data root found under `host_root`.
pub fn findings(
    host_root: &Path,
    daemon_json: &Path,
    containerd_toml: &Path,
    kernel: (u32, u32),
) -> Vec<Finding> {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let storage_conf = read(&host_root.join("etc/containers/storage.conf"));
    data_roots(
        host_root,
        read(daemon_json).as_deref(),
        read(containerd_toml).as_deref(),
        storage_conf.as_deref(),
    )
    .iter()
    .map(|r| {
        let on_host = host_root.join(r.path.strip_prefix("/").unwrap_or(&r.path));
        predict(r, fs_type(&on_host).unwrap_or("other"), kernel)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(engine: &'static str, path: &str, driver: &str) -> DataRoot {
        DataRoot {
            engine,
            path: path.into(),
            driver: driver.into(),
        }
    }

    #[test]
    fn roots_come_from_the_engines_configs_or_their_defaults_and_left_dirs() {
        let h = std::env::temp_dir().join(format!("rampart-storage-{}", std::process::id()));
        std::fs::create_dir_all(h.join("data/docker/vfs")).unwrap();
        std::fs::create_dir_all(h.join("var/lib/containerd/io.containerd.snapshotter.v1.native"))
            .unwrap();
        std::fs::create_dir_all(h.join("var/lib/containers/storage")).unwrap();
        let got = data_roots(
            &h,
            Some(r#"{"data-root": "/data/docker"}"#),
            Some("version = 2\n"),
            Some("[storage]\ndriver = \"overlay\"\n"),
        );
        assert_eq!(
            got,
            [
                root("Docker", "/data/docker", "vfs"),
                root("containerd", "/var/lib/containerd", "native"),
                root("podman", "/var/lib/containers/storage", "overlay"),
            ]
        );
        // CRI's snapshotter setting; nothing where no data root exists.
        let got = data_roots(
            &h,
            None,
            Some(
                "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nsnapshotter = \"overlayfs\"\n",
            ),
            None,
        );
        assert_eq!(
            got[0],
            root("containerd", "/var/lib/containerd", "overlayfs")
        );
        std::fs::remove_dir_all(&h).unwrap();
    }

    #[test]
    fn overlay_rootfs_is_plain_and_volumes_follow_the_filesystem() {
        let k = (6, 1);
        let f = predict(&root("Docker", "/var/lib/docker", "overlay2"), "ext4", k);
        assert_eq!(f.status, Status::Ok);
        assert!(
            f.summary.contains("rootfs is a plain clone")
                && f.summary
                    .contains("volumes and the engine's per-container files are id-mapped"),
            "{}",
            f.summary
        );
        let f = predict(&root("Docker", "/var/lib/docker", "vfs"), "xfs", k);
        assert!(f.summary.contains("rootfs is id-mapped"), "{}", f.summary);
        // containerd's binds are never id-mapped, whatever the filesystem.
        let f = predict(
            &root("containerd", "/var/lib/containerd", "native"),
            "nfs",
            k,
        );
        assert_eq!(f.status, Status::Ok);
        assert!(
            f.summary.contains("keep their host owners"),
            "{}",
            f.summary
        );
        // tmpfs only from 6.3; nfs never: volumes are nobody's, said with the fix.
        for (fs, kernel) in [("tmpfs", (6, 1)), ("nfs", (6, 18))] {
            let f = predict(&root("podman", "/srv/storage", "vfs"), fs, kernel);
            assert_eq!(f.status, Status::Warn, "{fs}");
            assert!(f.fix.contains("ext4, xfs or btrfs"), "{}", f.fix);
        }
        assert!(idmappable("tmpfs", (6, 3)) && !idmappable("btrfs", (5, 14)));
    }
}
