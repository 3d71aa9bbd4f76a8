//! Sysctls: only the Kubernetes "safe" set (namespaced and isolated), and `net.*` only in a
//! network namespace of the container's own.

use super::{Rule, Violation};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// PSS v1.37 safe sysctls.
pub const SAFE: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

pub const UNSAFE_SYSCTL: Rule = Rule {
    id: "unsafe-sysctl",
    fix: "drop the --sysctl (Kubernetes: keep to the safe sysctls)",
    title: "sysctl outside the safe set",
    reference: "PSS baseline sysctls",
    check: |spec, _| {
        let sysctls: BTreeMap<String, String> = spec.typed("/linux/sysctl")?.unwrap_or_default();
        Ok(sysctls
            .iter()
            .filter(|(k, _)| !SAFE.contains(&k.replace('/', ".").as_str()))
            .map(|(k, v)| {
                Violation::new(
                    format!("/linux/sysctl/{k}"),
                    json!(v),
                    "not a namespaced, isolated sysctl: it can affect the host or other containers",
                )
            })
            .collect())
    },
};

pub const NET_SYSCTL_HOST_NETNS: Rule = Rule {
    id: "net-sysctl-shared-netns",
    fix: "drop the net.* --sysctl, or give the container its own network",
    title: "net.* sysctl without a private network namespace",
    reference: "PSS baseline sysctls",
    check: |spec, _| {
        let sysctls: BTreeMap<String, String> = spec.typed("/linux/sysctl")?.unwrap_or_default();
        let namespaces = spec.list("/linux/namespaces")?;
        let private_net = namespaces.iter().any(|n| {
            n["type"] == "network"
                && n.get("path")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
        });
        if private_net {
            return Ok(vec![]);
        }
        Ok(sysctls
            .iter()
            .filter(|(k, _)| k.starts_with("net."))
            .map(|(k, v)| Violation::new(format!("/linux/sysctl/{k}"), json!(v), "the container shares a network namespace, so this would change it for others (maybe the host)"))
            .collect())
    },
};
