//! Mounts: host system directories, container-engine state and sockets, shared
//! propagation, and destinations that try to leave the rootfs.

use super::{Rule, Violation, bind_mounts};
use crate::profile::SensitiveMounts;
use serde_json::{Value, json};

/// Host directories a container must not bind-mount (CIS Docker 5.6), or anything below.
pub const SYSTEM_DIRS: &[&str] = &[
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/root", "/sbin",
    "/sys", "/usr",
];

/// Container-engine state and socket directories: refused when mounted whole or through an
/// ancestor (`-v /run:/run` carries docker.sock). Files the engine itself places below them
/// (resolv.conf, hosts, shm) are fine.
pub const ENGINE_DIRS: &[&str] = &[
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/kubelet",
    "/var/lib/crio",
    "/run/docker",
    "/run/containerd",
    "/run/crio",
    "/run/podman",
    "/run/containers",
    "/run/runc",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/podman/podman.sock",
];

/// `/a/./b/../c` → `/a/c`; `/var/run` is `/run` on every current distribution.
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let s = format!("/{}", parts.join("/"));
    match s.strip_prefix("/var/run") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("/run{rest}"),
        _ => s,
    }
}

/// The spec's mounts with their index (none when `/mounts` is missing or not a list).
fn mounts(spec: &crate::spec::Spec) -> impl Iterator<Item = (usize, &Value)> {
    spec.get("/mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn under(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// The system directory a bind source falls in, if any.
pub fn system_dir(source: &str) -> Option<&'static str> {
    let s = clean(source);
    if s == "/" {
        return Some("/");
    }
    SYSTEM_DIRS
        .iter()
        .copied()
        .filter(|d| *d != "/")
        .find(|d| under(&s, d))
}

pub const SENSITIVE_MOUNT: Rule = Rule {
    id: "sensitive-mount",
    title: "host system directory mounted",
    reference: "CIS Docker 5.6; PSS baseline hostPathVolumes",
    check: |spec, cx| {
        let readonly_ok = cx.profile.policy.sensitive_mounts == SensitiveMounts::Readonly;
        Ok(bind_mounts(spec)
            .into_iter()
            .filter_map(|(i, src, _, _)| system_dir(&src).map(|d| (i, src, d)))
            .filter(|_| !readonly_ok)
            .map(|(i, src, d)| {
                Violation::new(
                    format!("/mounts/{i}/source"),
                    json!(src),
                    format!("{d} is a host system directory"),
                )
            })
            .collect())
    },
};

pub const ENGINE_SOCKET: Rule = Rule {
    id: "engine-socket",
    title: "container-engine socket or state mounted",
    reference: "CIS Docker 5.32",
    check: |spec, _| {
        Ok(bind_mounts(spec)
            .into_iter()
            .filter(|(_, src, _, _)| {
                let s = clean(src);
                s.ends_with(".sock") && ["docker", "containerd", "crio", "podman", "runc"].iter().any(|e| s.contains(e))
                    || ENGINE_DIRS.iter().any(|d| under(&clean(d), &s) || s == clean(d))
            })
            .map(|(i, src, _, _)| Violation::new(format!("/mounts/{i}/source"), json!(src), "a container-engine socket or its state gives root on the host (it can start a privileged container)"))
            .collect())
    },
};

pub const SHARED_PROPAGATION: Rule = Rule {
    id: "shared-propagation",
    title: "shared mount propagation",
    reference: "CIS Docker 5.20",
    check: |spec, _| {
        let mut out = Vec::new();
        for (i, m) in mounts(spec) {
            if let Some(o) = m
                .get("options")
                .and_then(Value::as_array)
                .and_then(|o| o.iter().find(|o| *o == "shared" || *o == "rshared"))
            {
                out.push(Violation::new(
                    format!("/mounts/{i}/options"),
                    o.clone(),
                    "mounts made in the container would appear on the host",
                ));
            }
        }
        if let Some(p) = spec
            .get("/linux/rootfsPropagation")
            .filter(|p| *p == "shared" || *p == "rshared")
        {
            out.push(Violation::new(
                "/linux/rootfsPropagation",
                p.clone(),
                "mounts made in the container would appear on the host",
            ));
        }
        Ok(out)
    },
};

pub const UNSAFE_DESTINATION: Rule = Rule {
    id: "unsafe-mount-destination",
    title: "mount destination outside the rootfs",
    reference: "runtime-spec mounts",
    check: |spec, cx| {
        Ok(mounts(spec)
            .filter_map(|(i, m)| {
                let d = m
                    .get("destination")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let field = format!("/mounts/{i}/destination");
                if !d.starts_with('/') || d.split('/').any(|c| c == "..") {
                    let why = "a mount destination must be an absolute path without '..'";
                    return Some(Violation::new(field, json!(d), why));
                }
                cx.host.escaping_destinations.get(d).map(|link| {
                    let why = format!(
                        "it passes through the symlink {link}, which points above the rootfs"
                    );
                    Violation::new(field, json!(d), why)
                })
            })
            .collect())
    },
};

/// A second procfs or sysfs elsewhere than /proc and /sys escapes the masked and read-only
/// paths (they name /proc/... and /sys/...): /other/sys/kernel/core_pattern would be
/// writable, and core_pattern runs a program on the host.
pub const PROC_ELSEWHERE: Rule = Rule {
    id: "proc-mount-elsewhere",
    title: "procfs or sysfs mounted outside /proc or /sys",
    reference: "runtime-spec maskedPaths/readonlyPaths",
    check: |spec, _| {
        Ok(mounts(spec)
            .filter_map(|(i, m)| {
                let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
                let dest = clean(m.get("destination").and_then(Value::as_str).unwrap_or_default());
                let home = match kind {
                    "proc" => "/proc",
                    "sysfs" => "/sys",
                    _ => return None,
                };
                (dest != home).then(|| {
                    let why = format!("a {kind} at {dest} is not covered by the masked and read-only paths under {home}");
                    Violation::new(format!("/mounts/{i}"), m.clone(), why)
                })
            })
            .collect())
    },
};

/// Every mount destination of a spec.
pub fn destinations(spec: &crate::spec::Spec) -> Vec<String> {
    mounts(spec)
        .filter_map(|(_, m)| {
            m.get("destination")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_climbing_above_the_rootfs_are_found() {
        let root = std::env::temp_dir().join(format!("rampart-symlink-{}", std::process::id()));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("etc/evil")).unwrap();
        std::os::unix::fs::symlink("../run/resolv.conf", root.join("etc/resolv.conf")).unwrap();
        std::os::unix::fs::symlink("/usr/lib", root.join("lib")).unwrap();
        let f = crate::host::escaping_symlink;
        assert_eq!(
            f(&root, "/etc/evil/shadow").as_deref(),
            Some("/etc/evil -> ../../../../etc")
        );
        assert_eq!(f(&root, "/etc/resolv.conf"), None, "stays inside: fine");
        assert_eq!(
            f(&root, "/lib/x"),
            None,
            "absolute links are resolved inside the rootfs by runc"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn cleaning_and_classification() {
        assert_eq!(clean("/var/run/../run/docker.sock"), "/run/docker.sock");
        assert_eq!(clean("/var/run/docker.sock"), "/run/docker.sock");
        assert_eq!(clean("//etc/./"), "/etc");
        assert_eq!(system_dir("/etc/shadow"), Some("/etc"));
        assert_eq!(system_dir("/"), Some("/"));
        assert_eq!(system_dir("/usr2"), None);
        assert_eq!(system_dir("/srv/data"), None);
        assert_eq!(system_dir("/srv/../etc"), Some("/etc"));
    }
}
