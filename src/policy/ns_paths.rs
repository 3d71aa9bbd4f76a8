//! Namespaces joined by path: only a process's namespace file of the same type
//! (`/proc/PID/ns/TYPE`) or a network namespace pinned the way CNI, Docker and podman pin
//! them (`.../netns/NAME`). Anything else (a file planted elsewhere, a path with `..`, a
//! namespace file of another type) is refused; whether the namespace is the host's is the
//! host-* rules' question.

use super::{Rule, Violation};
use serde_json::{Value, json};

/// Where engines pin network namespaces.
pub const NETNS_DIRS: &[&str] = &[
    "/run/netns/",
    "/var/run/netns/",
    "/run/docker/netns/",
    "/var/run/docker/netns/",
];

fn proc_name(kind: &str) -> Option<&'static str> {
    crate::host::NAMESPACES
        .iter()
        .find(|(oci, _)| *oci == kind)
        .map(|(_, proc)| *proc)
}

pub fn acceptable(kind: &str, path: &str) -> bool {
    if !path.starts_with('/')
        || path
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == ".." || c == ".")
    {
        return false;
    }
    let parts: Vec<&str> = path.split('/').collect();
    if let ["", "proc", pid, "ns", name] = parts.as_slice() {
        // /proc/self is runc itself (the host's namespaces): the host-* rules judge that.
        let pid_ok = matches!(*pid, "self" | "thread-self")
            || !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
        return pid_ok && Some(*name) == proc_name(kind);
    }
    // Pinned network namespaces: CNI and podman (/run/netns/NAME), Docker
    // (EXEC_ROOT/netns/ID), rootless podman (/run/user/UID/netns/NAME).
    kind == "network" && parts.len() >= 3 && parts[parts.len() - 2] == "netns"
}

pub const NAMESPACE_PATH: Rule = Rule {
    id: "namespace-path",
    fix: "join only your own containers' namespaces (--network container:NAME), not other processes'",
    title: "namespace joined through an unexpected path",
    reference: "runtime-spec linux.namespaces",
    check: |spec, _| {
        let Some(Value::Array(list)) = spec.get("/linux/namespaces") else {
            return Ok(vec![]);
        };
        Ok(list
            .iter()
            .enumerate()
            .filter_map(|(i, ns)| {
                let kind = ns.get("type").and_then(Value::as_str).unwrap_or_default();
                let path = ns
                    .get("path")
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())?;
                (!acceptable(kind, path)).then(|| {
                    Violation::new(
                        format!("/linux/namespaces/{i}/path"),
                        json!(path),
                        format!(
                            "a {kind} namespace is joined as /proc/PID/ns/{} (or a pinned netns)",
                            proc_name(kind).unwrap_or("?")
                        ),
                    )
                })
            })
            .collect())
    },
};

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn shapes() {
        assert!(acceptable("network", "/proc/6770/ns/net"));
        assert!(acceptable("ipc", "/proc/6770/ns/ipc"));
        assert!(acceptable("mount", "/proc/1/ns/mnt"));
        assert!(acceptable("network", "/var/run/netns/cni-1234"));
        assert!(acceptable("network", "/run/docker/netns/default"));
        assert!(
            acceptable("network", "/proc/self/ns/net"),
            "runc's own: judged by host-network"
        );
        assert!(
            acceptable("network", "/work/x/exec/netns/default"),
            "dockerd --exec-root"
        );
        assert!(!acceptable("network", "/proc/x/ns/net"));
        assert!(!acceptable("network", "/tmp/netns/"));
        assert!(
            !acceptable("network", "/proc/6770/ns/ipc"),
            "type must match"
        );
        assert!(!acceptable("ipc", "/var/run/netns/x"));
        assert!(!acceptable("network", "/var/run/netns/../../proc/1/ns/net"));
        assert!(!acceptable("network", "/tmp/ns"));
        assert!(!acceptable("pid", "/proc/1/task/1/ns/pid"));
    }
}
