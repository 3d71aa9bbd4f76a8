//! Mount types: only those the engines write. Anything else (overlay of host paths, nfs,
//! a filesystem image through a loop device, debugfs, securityfs, bpf...) is refused.

use super::{Rule, Violation};
use serde_json::Value;

/// The filesystem types Docker, containerd, CRI and podman put in a spec.
pub const ALLOWED: &[&str] = &[
    "bind", "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2",
];

pub const MOUNT_TYPE: Rule = Rule {
    id: "mount-type",
    fix: "use a bind mount, volume or tmpfs instead of this filesystem type",
    title: "mount type not on the allow-list",
    reference: "runtime-spec mounts",
    check: |spec, _| {
        let Some(Value::Array(mounts)) = spec.get("/mounts") else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        for (i, m) in mounts.iter().enumerate() {
            let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
            let bind = m
                .get("options")
                .and_then(Value::as_array)
                .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"));
            // runc binds whatever the type says when the options say bind.
            if ALLOWED.contains(&kind) || bind && matches!(kind, "" | "none") {
                continue;
            }
            out.push(Violation::new(
                format!("/mounts/{i}/type"),
                Value::String(kind.to_string()),
                format!("only {} mounts are accepted", ALLOWED.join(", ")),
            ));
        }
        Ok(out)
    },
};
