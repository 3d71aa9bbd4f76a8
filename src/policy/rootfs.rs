//! `root.path`: the directory that becomes the container's `/`. The host's `/`, a system
//! directory, or a directory holding engine state would hand the container the host's
//! files (writable unless the profile makes the rootfs read-only).

use super::mounts::{ENGINE_DIRS, SYSTEM_DIRS, clean};
use super::{Rule, Violation};
use serde_json::json;

/// Directories no rootfs may be in.
const NEVER_BELOW: &[&str] = &[
    "/proc", "/sys", "/dev", "/etc", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
];

fn below_or_same(path: &str, dir: &str) -> bool {
    path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Why `real` (a resolved rootfs) is the host's, if it is.
pub fn hosts(real: &str) -> Option<String> {
    let real = clean(real);
    if real == "/" {
        return Some("it is the host's /".into());
    }
    if let Some(d) = NEVER_BELOW.iter().find(|d| below_or_same(&real, d)) {
        return Some(format!("it is inside the host's {d}"));
    }
    SYSTEM_DIRS
        .iter()
        .chain(ENGINE_DIRS)
        .map(|d| clean(d))
        .chain([
            "/var".to_string(),
            "/run".to_string(),
            "/home".to_string(),
            "/var/lib".to_string(),
        ])
        .find(|d| below_or_same(d, &real))
        .map(|d| format!("it holds the host's {d}"))
}

pub const ROOT_PATH: Rule = Rule {
    id: "root-path",
    fix: "use an image's rootfs, not a host directory",
    title: "rootfs is a host directory",
    reference: "runtime-spec root.path",
    check: |_, cx| {
        let Some(real) = &cx.host.rootfs_real else {
            return Ok(vec![]);
        };
        Ok(hosts(real)
            .map(|why| vec![Violation::new("/root/path", json!(real), why)])
            .unwrap_or_default())
    },
};

#[cfg(test)]
mod tests {
    use super::hosts;

    #[test]
    fn host_directories_are_not_rootfs() {
        for bad in [
            "/",
            "/etc",
            "/etc/x",
            "/var",
            "/var/lib",
            "/var/lib/docker",
            "/run",
            "/run/containerd",
            "/proc/1/root",
            "/usr/share",
            "/home",
        ] {
            assert!(hosts(bad).is_some(), "{bad}");
        }
        for good in [
            "/var/lib/docker/overlay2/abc/merged",
            "/run/containerd/io.containerd.runtime.v2.task/default/x/rootfs",
            "/var/lib/containers/storage/overlay/abc/merged",
            "/work/main/target/e2e/rootfs",
            "/home/me/bundle/rootfs",
        ] {
            assert_eq!(hosts(good), None, "{good}");
        }
    }
}
