//! Host namespaces: a namespace left OUT of `linux.namespaces` is the host's (that is how
//! Docker and CRI say `--pid host`), and one joined by path may be the host's too (Docker's
//! `--network host` joins /run/docker/netns/default). A path is compared by inode with
//! /proc/1/ns/*; joining a pod sandbox's namespaces is not the host and keeps working.

use super::{PolicyContext, Rule, Violation};
use crate::spec::Spec;
use anyhow::Result;
use serde_json::{Value, json};

pub fn check(spec: &Spec, cx: &PolicyContext, kind: &str, why: &str) -> Result<Vec<Violation>> {
    if spec.get("/linux").is_none() {
        return Ok(vec![]);
    }
    let namespaces = spec.list("/linux/namespaces")?;
    let Some((i, ns)) = namespaces
        .iter()
        .enumerate()
        .find(|(_, n)| n["type"] == kind)
    else {
        return Ok(vec![Violation::new(
            "/linux/namespaces",
            json!(format!("no {kind} entry")),
            format!("shares the host's {kind} namespace: {why}"),
        )]);
    };
    let Some(path) = ns
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    else {
        return Ok(vec![]);
    };
    let field = format!("/linux/namespaces/{i}/path");
    match (cx.host.ns_inodes.get(path), cx.host.host_ns.get(kind)) {
        (Some(joined), Some(host)) if joined == host => Ok(vec![Violation::new(
            field,
            json!(path),
            format!("joins the host's {kind} namespace: {why}"),
        )]),
        (Some(_), Some(_)) => Ok(vec![]),
        _ => Ok(vec![Violation::new(
            field,
            json!(path),
            format!(
                "cannot tell whether {path} is the host's {kind} namespace (it cannot be read), so it is treated as the host's"
            ),
        )]),
    }
}

pub const HOST_PID: Rule = Rule {
    id: "host-pid",
    fix: "drop --pid host (Kubernetes: hostPID)",
    title: "host PID namespace",
    reference: "CIS Docker 5.16; PSS baseline hostNamespaces",
    check: |s, cx| {
        check(
            s,
            cx,
            "pid",
            "the container can see and signal every host process",
        )
    },
};
pub const HOST_IPC: Rule = Rule {
    id: "host-ipc",
    fix: "drop --ipc host (Kubernetes: hostIPC)",
    title: "host IPC namespace",
    reference: "CIS Docker 5.17; PSS baseline hostNamespaces",
    check: |s, cx| check(s, cx, "ipc", "the container can read host shared memory"),
};
pub const HOST_NETWORK: Rule = Rule {
    id: "host-network",
    fix: "drop --network host (Kubernetes: hostNetwork)",
    title: "host network namespace",
    reference: "CIS Docker 5.10; PSS baseline hostNamespaces",
    check: |s, cx| {
        check(
            s,
            cx,
            "network",
            "the container can reach host-only services and sniff host traffic",
        )
    },
};
pub const HOST_UTS: Rule = Rule {
    id: "host-uts",
    fix: "drop --uts host (Kubernetes: hostNetwork)",
    title: "host UTS namespace",
    reference: "CIS Docker 5.21",
    check: |s, cx| check(s, cx, "uts", "the container can change the host's hostname"),
};
pub const HOST_MOUNT: Rule = Rule {
    id: "host-mount",
    fix: "let the container have its own mount namespace",
    title: "host mount namespace",
    reference: "PSS baseline hostNamespaces",
    check: |s, cx| {
        check(
            s,
            cx,
            "mount",
            "the container would run in the host's filesystem view",
        )
    },
};

/// Namespace paths the spec joins (for the host facts to resolve).
pub fn joined_paths(spec: &Spec) -> Vec<String> {
    spec.list("/linux/namespaces")
        .unwrap_or_default()
        .iter()
        .filter_map(|n| {
            n.get("path")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(String::from)
        })
        .collect()
}
