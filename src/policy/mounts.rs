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

/// Container-engine state and host-service directories: refused when mounted whole, through
/// an ancestor (`-v /run:/run` carries docker.sock) or below (`/run/containerd/s/<hash>` is a
/// shim's socket, computable from a container id: it starts privileged containers). Only
/// the per-container files the engines themselves bind ([`engine_file`]) pass.
pub const ENGINE_DIRS: &[&str] = &[
    // Docker, containerd, podman/CRI-O (containers/storage), kubelet, k3s, BuildKit.
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/kubelet",
    "/var/lib/crio",
    "/var/lib/rancher",
    "/var/lib/buildkit",
    "/run/docker",
    "/run/docker.sock",
    "/run/containerd",
    "/run/crio",
    "/run/podman",
    "/run/libpod",
    "/run/containers",
    "/run/runc",
    "/run/crun",
    "/run/k3s",
    "/run/buildkit",
    // Host services that run things as root when asked over their sockets.
    "/run/dbus",
    "/run/systemd",
    "/run/user",
    // Rampart's own state and audit log.
    "/run/rampart",
    "/var/log/rampart",
];

/// Component shapes of the files engines bind into their containers, as captured in
/// tests/fixtures/specs (see [`engine_file`]).
enum Part {
    Lit(&'static str),
    /// 64 lowercase hex digits: a Docker, containerd-CRI or containers/storage id.
    Hex64,
    /// A named volume (Docker and podman: `[A-Za-z0-9][A-Za-z0-9_.-]*`).
    Name,
    /// A Kubernetes pod uid (a UUID, or 32 hex digits for static pods).
    PodUid,
    /// A containers/storage driver directory: `overlay-containers`, `vfs-containers`, ...
    Driver,
    /// Any single component but `.`/`..` (kubelet's volume plugin and volume names).
    Any,
    /// One of these names.
    OneOf(&'static [&'static str]),
    /// Anything below (volume contents): must be last.
    Rest,
}
use Part::*;

const PODMAN_FILES: &[&str] = &[".containerenv", "hostname", "hosts", "resolv.conf", "shm"];

/// The files engines bind for their own containers, by exact shape.
const ENGINE_FILES: &[&[Part]] = &[
    // Docker 20.10: -v resolv.conf/hostname/hosts, --ipc shareable's shm, named volumes.
    &[
        Lit("var"),
        Lit("lib"),
        Lit("docker"),
        Lit("containers"),
        Hex64,
        OneOf(&["resolv.conf", "hostname", "hosts"]),
    ],
    &[
        Lit("var"),
        Lit("lib"),
        Lit("docker"),
        Lit("containers"),
        Hex64,
        Lit("mounts"),
        Lit("shm"),
    ],
    &[
        Lit("var"),
        Lit("lib"),
        Lit("docker"),
        Lit("volumes"),
        Name,
        Lit("_data"),
        Rest,
    ],
    // containerd 1.6 CRI: the sandbox's files.
    &[
        Lit("var"),
        Lit("lib"),
        Lit("containerd"),
        Lit("io.containerd.grpc.v1.cri"),
        Lit("sandboxes"),
        Hex64,
        OneOf(&["resolv.conf", "hostname", "hosts"]),
    ],
    &[
        Lit("run"),
        Lit("containerd"),
        Lit("io.containerd.grpc.v1.cri"),
        Lit("sandboxes"),
        Hex64,
        Lit("shm"),
    ],
    // kubelet: /etc/hosts, termination logs, volumes and subPaths.
    &[
        Lit("var"),
        Lit("lib"),
        Lit("kubelet"),
        Lit("pods"),
        PodUid,
        Lit("etc-hosts"),
    ],
    &[
        Lit("var"),
        Lit("lib"),
        Lit("kubelet"),
        Lit("pods"),
        PodUid,
        Lit("containers"),
        Any,
        Any,
    ],
    &[
        Lit("var"),
        Lit("lib"),
        Lit("kubelet"),
        Lit("pods"),
        PodUid,
        Lit("volumes"),
        Any,
        Any,
        Rest,
    ],
    &[
        Lit("var"),
        Lit("lib"),
        Lit("kubelet"),
        Lit("pods"),
        PodUid,
        Lit("volume-subpaths"),
        Any,
        Any,
        Any,
    ],
    // podman 4.3 and CRI-O (containers/storage): userdata files, named volumes.
    &[
        Lit("run"),
        Lit("containers"),
        Lit("storage"),
        Driver,
        Hex64,
        Lit("userdata"),
        OneOf(PODMAN_FILES),
    ],
    &[
        Lit("var"),
        Lit("lib"),
        Lit("containers"),
        Lit("storage"),
        Driver,
        Hex64,
        Lit("userdata"),
        OneOf(PODMAN_FILES),
    ],
    &[
        Lit("var"),
        Lit("lib"),
        Lit("containers"),
        Lit("storage"),
        Lit("volumes"),
        Name,
        Lit("_data"),
        Rest,
    ],
];

fn hex(c: &str, n: usize) -> bool {
    c.len() == n
        && c.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn part_matches(p: &Part, c: &str) -> bool {
    match p {
        Lit(l) => c == *l,
        Hex64 => hex(c, 64),
        Name => {
            c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        }
        PodUid => {
            hex(c, 32)
                || (c.len() == 36
                    && c.split('-').map(str::len).eq([8, 4, 4, 4, 12])
                    && hex(&c.replace('-', ""), 32))
        }
        Driver => c
            .strip_suffix("-containers")
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_lowercase())),
        Any => !c.is_empty() && c != "." && c != "..",
        OneOf(names) => names.contains(&c),
        Rest => true,
    }
}

/// The engines' real data roots where the admin moved them: (custom root, default root),
/// from Docker's `data-root` (daemon.json) and containerd's `root` (config.toml). Paths
/// under a custom root are judged as the same paths under the default one, so that a moved
/// `/data/docker` is engine state and its per-container files are the engine's own.
pub fn data_roots() -> &'static [(String, &'static str)] {
    static ROOTS: std::sync::OnceLock<Vec<(String, &'static str)>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let read = |p: &str| {
            crate::host::read_capped_io(std::path::Path::new(p), 1 << 20)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        parse_data_roots(
            read("/etc/docker/daemon.json").as_deref(),
            read("/etc/containerd/config.toml").as_deref(),
        )
    })
}

/// [`data_roots`] from the two files' text (pure). Unparsable files and relative or default
/// roots give nothing.
pub fn parse_data_roots(
    daemon_json: Option<&str>,
    containerd_toml: Option<&str>,
) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let docker = daemon_json
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| {
            v.get("data-root")
                .or(v.get("graph"))
                .and_then(Value::as_str)
                .map(String::from)
        });
    // Only the top-level `root` key matters: read the lines before the first table header
    // instead of parsing containerd's whole config on every container start.
    let containerd = containerd_toml.and_then(|t| {
        t.lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with('['))
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "root").then(|| v.trim().parse::<toml::Value>().ok())?
            })
            .and_then(|v| v.as_str().map(String::from))
    });
    for (root, default) in [
        (docker, "/var/lib/docker"),
        (containerd, "/var/lib/containerd"),
    ] {
        if let Some(r) = root.filter(|r| r.starts_with('/')) {
            let r = clean(&r);
            if r != default && r != "/" {
                out.push((r, default));
            }
        }
    }
    out
}

/// `cleaned` with a custom data root replaced by the engine's default one.
pub fn remap(cleaned: &str, roots: &[(String, &'static str)]) -> Option<String> {
    roots.iter().find_map(|(custom, default)| {
        let rest = cleaned.strip_prefix(custom.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then(|| format!("{default}{rest}"))
    })
}

/// Whether a cleaned path is one of the files an engine binds for its own containers
/// (under the engines' real data roots too, see [`data_roots`]).
pub fn engine_file(cleaned: &str) -> bool {
    match remap(cleaned, data_roots()) {
        Some(p) => engine_file_at_default(&p),
        None => engine_file_at_default(cleaned),
    }
}

fn engine_file_at_default(cleaned: &str) -> bool {
    let comps: Vec<&str> = cleaned.split('/').filter(|c| !c.is_empty()).collect();
    ENGINE_FILES.iter().any(|shape| match shape.last() {
        Some(Rest) => {
            comps.len() >= shape.len() - 1
                && shape[..shape.len() - 1]
                    .iter()
                    .zip(&comps)
                    .all(|(p, c)| part_matches(p, c))
        }
        _ => {
            comps.len() == shape.len() && shape.iter().zip(&comps).all(|(p, c)| part_matches(p, c))
        }
    })
}

/// Why a cleaned bind source is engine or host-service state, if it is: it is such a
/// directory, holds one, or lies below one without being an [`engine_file`].
pub fn engine_state(cleaned: &str) -> Option<String> {
    if let Some(p) = remap(cleaned, data_roots()) {
        return engine_state_at_default(&p)
            .map(|why| format!("{why}, moved to {cleaned} by the engine's data root"));
    }
    engine_state_at_default(cleaned)
}

fn engine_state_at_default(cleaned: &str) -> Option<String> {
    if cleaned.ends_with(".sock")
        && [
            "docker",
            "containerd",
            "crio",
            "podman",
            "runc",
            "buildkit",
            "k3s",
        ]
        .iter()
        .any(|e| cleaned.contains(e))
    {
        return Some("a container-engine socket".into());
    }
    for d in ENGINE_DIRS {
        if cleaned == *d {
            return Some(format!("{d} is engine or host-service state"));
        }
        if under(d, cleaned) {
            return Some(format!("it holds {d} (engine or host-service state)"));
        }
        if under(cleaned, d) && !engine_file(cleaned) {
            return Some(format!(
                "it is below {d} (engine or host-service state) and not a file the engine binds itself"
            ));
        }
    }
    None
}

/// `/a/./b/../c` → `/a/c`; `/var/run` is `/run` on every current distribution.
pub fn clean(p: &str) -> String {
    // Built in one string (it runs for every mount and rule): `/` and a component at a time.
    let mut out = String::with_capacity(p.len() + 1);
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => out.truncate(out.rfind('/').unwrap_or(0)),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if out.starts_with("/var/run") && matches!(out.as_bytes().get(8), None | Some(b'/')) {
        out.replace_range(..8, "/run");
    }
    out
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
    fix: "bind a directory of your own instead of a host system directory",
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
    fix: "bind a directory of your own instead of the engine's socket or state",
    title: "container-engine socket or state mounted",
    reference: "CIS Docker 5.32",
    check: |spec, cx| {
        let mut out = Vec::new();
        for (i, src, _, _) in bind_mounts(spec) {
            let facts = cx.host.bind_sources.get(&src);
            let resolved = facts.and_then(|f| f.resolved.as_deref());
            let why = engine_state(&clean(&src))
                .or_else(|| {
                    let r = clean(resolved?);
                    engine_state(&r).map(|w| format!("it resolves to {r}: {w}"))
                })
                .or_else(|| {
                    facts?.root_socket.as_ref().map(|s| {
                        format!("{s} is a unix socket owned by root (a daemon's control socket)")
                    })
                });
            if let Some(why) = why {
                let why = format!("{why}; bind a directory of your own instead");
                out.push(Violation::new(
                    format!("/mounts/{i}/source"),
                    json!(src),
                    why,
                ));
            }
        }
        Ok(out)
    },
};

pub const SHARED_PROPAGATION: Rule = Rule {
    id: "shared-propagation",
    fix: "drop the shared propagation (bind-propagation=shared/rshared, Kubernetes: mountPropagation Bidirectional)",
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
    fix: "mount at a plain absolute path inside the container (no '..', not under /proc)",
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
    fix: "mount proc and sysfs only at /proc and /sys",
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

    #[test]
    fn custom_data_roots_are_judged_as_the_default_ones() {
        let roots = parse_data_roots(
            Some(r#"{"data-root": "/data/docker/", "log-driver": "json-file"}"#),
            Some("version = 2\nroot = \"/srv/containerd\"\n"),
        );
        assert_eq!(
            roots,
            [
                ("/data/docker".to_string(), "/var/lib/docker"),
                ("/srv/containerd".to_string(), "/var/lib/containerd")
            ]
        );
        let id = "a".repeat(64);
        let hosts = remap(&format!("/data/docker/containers/{id}/hosts"), &roots).unwrap();
        assert!(engine_file_at_default(&hosts));
        assert_eq!(remap("/data/dockerx/y", &roots), None);
        assert!(engine_state_at_default(&remap("/data/docker", &roots).unwrap()).is_some());
        // Default, relative or unparsable roots add nothing.
        assert!(parse_data_roots(Some(r#"{"data-root": "/var/lib/docker"}"#), None).is_empty());
        assert!(parse_data_roots(Some(r#"{"data-root": "rel"}"#), Some("root = [")).is_empty());
        assert!(parse_data_roots(Some("{"), None).is_empty());
    }
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
    fn engine_state_at_above_and_below_is_refused_but_the_engines_own_files_pass() {
        let id = "1de657be0fc00a3b74a8451fd494cfd8b763d1591364177b3e19b185b6ffd80b";
        let refused = [
            "/run/containerd/s/4e5b1a2c3d",
            "/run/containerd/io.containerd.runtime.v2.task/moby/x",
            "/run/containerd/io.containerd.runtime.v2.task",
            "/run/docker/containerd",
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/var/lib/docker",
            "/var/lib/docker/containers",
            &format!("/var/lib/docker/containers/{id}"),
            &format!("/var/lib/docker/containers/{id}/config.v2.json"),
            "/var/lib/docker/overlay2/abc/merged",
            "/var/lib/docker/volumes",
            "/var/lib/docker/volumes/v1",
            "/var/lib/docker/volumes/../../docker/image",
            "/var/lib/kubelet/pods",
            "/var/lib/kubelet/pki",
            "/run/dbus/system_bus_socket",
            "/run/dbus",
            "/run/systemd/private",
            "/run/systemd",
            "/run/user/1000",
            "/run/user/1000/docker.sock",
            "/run/k3s/containerd/containerd.sock",
            "/run/buildkit/buildkitd.sock",
            "/run/crio/crio.sock",
            "/var/lib/containers/storage/overlay",
            &format!("/run/containers/storage/overlay-containers/{id}/userdata/conmon.pid"),
            &format!("/run/containers/storage/overlay-containers/{id}/userdata/attach"),
            "/run/rampart/idmap",
            "/var/lib/kubelet/pods/5f2a2d6e-0f0e-4c1e-9c7a-0d3a2b1c4d5e/plugins",
            "/run",
            "/var/lib",
            "/var",
            "/",
        ];
        for p in refused {
            assert!(engine_state(&clean(p)).is_some(), "{p} must be refused");
        }
        let uid = "5f2a2d6e-0f0e-4c1e-9c7a-0d3a2b1c4d5e";
        let allowed = [
            format!("/var/lib/docker/containers/{id}/resolv.conf"),
            format!("/var/lib/docker/containers/{id}/hostname"),
            format!("/var/lib/docker/containers/{id}/hosts"),
            format!("/var/lib/docker/containers/{id}/mounts/shm"),
            "/var/lib/docker/volumes/v1/_data".to_string(),
            "/var/lib/docker/volumes/v1/_data/sub".to_string(),
            format!("/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{id}/hosts"),
            format!("/run/containerd/io.containerd.grpc.v1.cri/sandboxes/{id}/shm"),
            format!("/var/lib/kubelet/pods/{uid}/etc-hosts"),
            format!("/var/lib/kubelet/pods/{uid}/containers/app/0a1b2c3d"),
            format!("/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~configmap/cfg"),
            format!("/var/lib/kubelet/pods/{uid}/volume-subpaths/cfg/app/0"),
            format!("/run/containers/storage/vfs-containers/{id}/userdata/.containerenv"),
            format!("/var/lib/containers/storage/overlay-containers/{id}/userdata/shm"),
            "/var/lib/containers/storage/volumes/data/_data".to_string(),
            "/srv/data".to_string(),
            "/home/u/src".to_string(),
            "/run/secrets-of-mine".to_string(),
        ];
        for p in &allowed {
            assert_eq!(engine_state(&clean(p)), None, "{p} must pass");
        }
        assert!(!engine_file(&format!(
            "/var/lib/docker/containers/{}/hosts",
            &id[..63]
        )));
        assert!(!engine_file(&format!(
            "/var/lib/kubelet/pods/{uid}/volumes/.."
        )));
    }

    #[test]
    fn every_bind_source_of_the_captured_specs_passes() {
        for (name, spec) in crate::steps::testutil::all_fixtures() {
            for (_, src, _, _) in super::bind_mounts(&spec) {
                let s = clean(&src);
                if name.ends_with("dockersock.json") {
                    continue;
                }
                assert_eq!(engine_state(&s), None, "{name}: {src}");
            }
        }
    }

    #[test]
    fn symlinked_and_socket_holding_sources_are_refused_by_host_facts() {
        use crate::host::BindSource;
        use crate::steps::testutil::{facts, fixture, profile};
        let p = profile("restricted");
        let mut raw = fixture("docker-20.10/default.json").into_raw();
        raw["mounts"].as_array_mut().unwrap().extend([
            json!({"destination": "/a", "type": "bind", "source": "/srv/link", "options": ["rbind"]}),
            json!({"destination": "/b", "type": "bind", "source": "/srv/sockets", "options": ["rbind"]}),
        ]);
        let spec = crate::spec::Spec::from_value(raw).unwrap();
        let mut h = facts();
        h.bind_sources.insert(
            "/srv/link".into(),
            BindSource {
                resolved: Some("/run/containerd/s/abc".into()),
                root_socket: None,
            },
        );
        h.bind_sources.insert(
            "/srv/sockets".into(),
            BindSource {
                resolved: Some("/srv/sockets".into()),
                root_socket: Some("/srv/sockets/ctl.sock".into()),
            },
        );
        let cx = crate::policy::PolicyContext {
            profile: &p,
            host: &h,
        };
        let v = (ENGINE_SOCKET.check)(&spec, &cx).unwrap();
        let vals: Vec<&Value> = v.iter().map(|v| &v.value).collect();
        assert_eq!(vals, [&json!("/srv/link"), &json!("/srv/sockets")], "{v:?}");
        assert!(
            v[0].why.contains("resolves to /run/containerd/s/abc"),
            "{}",
            v[0].why
        );
        assert!(
            v[1].why.contains("unix socket owned by root"),
            "{}",
            v[1].why
        );
    }

    #[test]
    fn the_host_finds_root_sockets_directly_inside_and_resolves_links() {
        let d = std::env::temp_dir().join(format!("rampart-sock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("deep/er")).unwrap();
        let _l = std::os::unix::net::UnixListener::bind(d.join("deep/er/x.sock")).unwrap();
        let f = crate::host::bind_source;
        assert_eq!(
            f(d.to_str().unwrap()).root_socket,
            None,
            "depth 2 is not scanned"
        );
        let got = f(d.join("deep/er").to_str().unwrap());
        if nix::unistd::geteuid().is_root() {
            assert!(got.root_socket.unwrap().ends_with("/x.sock"));
        }
        std::os::unix::fs::symlink(d.join("deep"), d.join("link")).unwrap();
        let got = f(d.join("link").to_str().unwrap());
        assert_eq!(got.resolved, Some(d.join("deep").display().to_string()));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn cleaning_and_classification() {
        assert_eq!(clean("/var/run/../run/docker.sock"), "/run/docker.sock");
        assert_eq!(clean("/var/run/docker.sock"), "/run/docker.sock");
        assert_eq!(clean("//etc/./"), "/etc");
        assert_eq!(clean("/../.."), "/");
        assert_eq!(clean(""), "/");
        assert_eq!(clean("a/b/../c"), "/a/c");
        assert_eq!(clean("/var/run"), "/run");
        assert_eq!(clean("/var/runner"), "/var/runner");
        assert_eq!(clean("/var//run/x"), "/run/x");
        assert_eq!(system_dir("/etc/shadow"), Some("/etc"));
        assert_eq!(system_dir("/"), Some("/"));
        assert_eq!(system_dir("/usr2"), None);
        assert_eq!(system_dir("/srv/data"), None);
        assert_eq!(system_dir("/srv/../etc"), Some("/etc"));
    }
}
