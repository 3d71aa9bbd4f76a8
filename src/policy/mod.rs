//! Refusals: what no default can make safe. Each rule has an id, a title, a reference
//! (CIS Docker Benchmark / Pod Security Standards) and a check over the REQUEST (the spec
//! as the engine wrote it, before hardening). A violation names the field and value that
//! failed. Rules are waived only by the admin: a profile's `policy.waive`, or an annotation
//! the config file allow-lists for that rule; never by anything inside the image.

use crate::host::HostFacts;
use crate::profile::Profile;
use crate::spec::Spec;
use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

pub mod cgroups;
pub mod cwd;
pub mod devices;
pub mod fields;
pub mod hooks;
pub mod limits;
pub mod lsm;
pub mod mount_types;
pub mod mounts;
pub mod namespaces;
pub mod ns_paths;
pub mod privileged;
pub mod process;
pub mod rootfs;
pub mod sysctls;
pub mod user;

pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub reference: &'static str,
    pub check: fn(&Spec, &PolicyContext) -> Result<Vec<Violation>>,
}

pub struct PolicyContext<'a> {
    pub profile: &'a Profile,
    pub host: &'a HostFacts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub rule: &'static str,
    pub reference: &'static str,
    pub field: String,
    pub value: Value,
    pub why: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, value: Value, why: impl Into<String>) -> Violation {
        Violation {
            rule: "",
            reference: "",
            field: field.into(),
            value,
            why: why.into(),
        }
    }
}

pub const RULES: &[Rule] = &[
    privileged::ALL_CAPABILITIES,
    privileged::MASKED_PATHS_EMPTIED,
    privileged::DEVICE_ALLOW_ALL,
    privileged::WRITABLE_SYSFS,
    privileged::WRITABLE_CGROUPFS,
    privileged::BLOCK_DEVICE,
    namespaces::HOST_PID,
    namespaces::HOST_IPC,
    namespaces::HOST_NETWORK,
    namespaces::HOST_UTS,
    namespaces::HOST_MOUNT,
    mounts::SENSITIVE_MOUNT,
    mounts::ENGINE_SOCKET,
    mounts::SHARED_PROPAGATION,
    mounts::UNSAFE_DESTINATION,
    mounts::PROC_ELSEWHERE,
    sysctls::UNSAFE_SYSCTL,
    sysctls::NET_SYSCTL_HOST_NETNS,
    hooks::HOOK_NOT_ALLOWED,
    lsm::APPARMOR_UNCONFINED,
    cwd::CWD_IN_PROC,
    user::ROOT_USER,
    rootfs::ROOT_PATH,
    cgroups::CGROUPS_PATH,
    process::OOM_SCORE_ADJ,
    process::RLIMIT_RAISED,
    limits::RESOURCE_ABOVE_CEILING,
    devices::DEVICE_NOT_ALLOWED,
    mount_types::MOUNT_TYPE,
    ns_paths::NAMESPACE_PATH,
    fields::UNUSUAL_FIELD,
];

pub fn rule_ids() -> Vec<&'static str> {
    RULES.iter().map(|r| r.id).collect()
}

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Every violation of the profile's rules, minus the waived ones. `waived` lists rule ids
/// waived for this container by allow-listed annotations (the profile's own waivers are
/// applied here too).
pub fn evaluate(spec: &Spec, cx: &PolicyContext, waived: &[String]) -> Result<Vec<Violation>> {
    let mut out = Vec::new();
    for r in RULES {
        if cx
            .profile
            .policy
            .waive
            .iter()
            .chain(waived)
            .any(|w| w == r.id)
        {
            continue;
        }
        for mut v in (r.check)(spec, cx)? {
            v.rule = r.id;
            v.reference = r.reference;
            out.push(v);
        }
    }
    Ok(out)
}

/// The one-line message users see (docker run, kubectl describe, podman stderr).
pub fn refusal_message(profile: &str, violations: &[Violation]) -> String {
    let parts: Vec<String> = violations
        .iter()
        .map(|v| {
            let title = rule(v.rule).map(|r| r.title).unwrap_or(v.rule);
            format!(
                "[{}] {title}: {} ({} = {}; {})",
                v.rule, v.why, v.field, v.value, v.reference
            )
        })
        .collect();
    let ids: Vec<&str> = violations.iter().map(|v| v.rule).collect();
    format!(
        "refused by profile {profile}: {}. An admin can allow this with `waive = [{}]` under [policy] in a profile, or an annotation the config file allow-lists for these rules",
        parts.join("; "),
        ids.iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Asks the host about what the mount and hook rules judge by path: bind sources (symlinks
/// resolved, root-owned sockets) and `/proc/PID/exe` hooks.
pub fn gather_sources(host: &dyn crate::host::Host, facts: &mut HostFacts, spec: &Spec) {
    let binds: Vec<String> = bind_mounts(spec)
        .into_iter()
        .map(|(_, s, _, _)| s)
        .collect();
    host.sources(facts, &binds, &hooks::paths(spec));
}

/// Bind mounts of the spec: (index, source, destination, options).
pub(crate) fn bind_mounts(spec: &Spec) -> Vec<(usize, String, String, Vec<String>)> {
    let Some(Value::Array(mounts)) = spec.get("/mounts") else {
        return Vec::new();
    };
    mounts
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let opts: Vec<String> = m
                .get("options")
                .and_then(Value::as_array)
                .map(|o| {
                    o.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let is_bind = m.get("type").and_then(Value::as_str) == Some("bind")
                || opts.iter().any(|o| o == "bind" || o == "rbind");
            is_bind.then(|| {
                let s = m
                    .get("source")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let d = m
                    .get("destination")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                (i, s, d, opts)
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::steps::testutil::{facts, fixture, profile};

    /// Rule ids that fire for a fixture under restricted (with optional host facts).
    pub fn fired(name: &str, host: Option<HostFacts>) -> Vec<&'static str> {
        let (p, h) = (profile("restricted"), host.unwrap_or_else(facts));
        let cx = PolicyContext {
            profile: &p,
            host: &h,
        };
        let mut ids: Vec<&str> = evaluate(&fixture(name), &cx, &[])
            .unwrap()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::fired;
    use crate::steps::testutil::facts;

    fn host_with_docker_netns() -> crate::host::HostFacts {
        let mut h = facts();
        for (t, ino) in [
            ("pid", 1),
            ("network", 2),
            ("ipc", 3),
            ("uts", 4),
            ("mount", 5),
        ] {
            h.host_ns.insert(t.into(), ino);
        }
        h.ns_inodes.insert("/run/docker/netns/default".into(), 2);
        // The captured CRI pod is a host-network pod: its sandbox (pid 6770) has the host's
        // network and uts namespaces, and private pid and ipc ones.
        for (p, ino) in [("pid", 100), ("ipc", 101), ("uts", 4), ("net", 2)] {
            h.ns_inodes.insert(format!("/proc/6770/ns/{p}"), ino);
        }
        h
    }

    #[test]
    fn joining_a_pod_sandbox_is_not_the_host() {
        let mut h = host_with_docker_netns();
        for (p, ino) in [("uts", 102), ("net", 103)] {
            h.ns_inodes.insert(format!("/proc/6770/ns/{p}"), ino);
        }
        assert!(fired("containerd-1.6-cri/container.json", Some(h)).is_empty());
        // A path that cannot be resolved is treated as the host's (fail closed).
        assert_eq!(
            fired("containerd-1.6-cri/container.json", None),
            ["host-pid", "host-ipc", "host-network", "host-uts"]
        );
    }

    /// Table over the captured specs: which rules refuse each one under restricted.
    #[test]
    fn each_captured_spec_gets_exactly_its_refusals() {
        let table: &[(&str, &[&str])] = &[
            ("docker-20.10/default.json", &[]),
            ("docker-20.10/readonly.json", &[]),
            ("docker-20.10/nnp-limits.json", &[]),
            ("docker-20.10/limits-explicit.json", &[]), // within restricted's ceilings
            ("docker-20.10/user1000.json", &[]),
            ("docker-20.10/tty.json", &["all-capabilities"]), // captured with --cap-add ALL -t
            ("docker-20.10/seccomp-unconfined.json", &[]),
            (
                "docker-20.10/privileged.json",
                &[
                    "all-capabilities",
                    "masked-paths-emptied",
                    "device-allow-all",
                    "writable-sysfs",
                    "writable-cgroupfs",
                    "block-device",
                    "device-not-allowed",
                ],
            ),
            ("docker-20.10/capadd-all.json", &["all-capabilities"]),
            (
                "docker-20.10/hostpid.json",
                &["host-pid", "host-ipc", "host-uts", "sensitive-mount"],
            ), // --ipc host binds /dev/shm
            ("docker-20.10/hostnet.json", &["host-network"]),
            ("docker-20.10/hostnet-e2e.json", &["host-network"]),
            ("docker-20.10/dockersock.json", &["engine-socket"]),
            ("docker-20.10/volumes-tmp-run.json", &[]), // a named volume, /srv/secrets
            ("docker-20.10/devices.json", &["unsafe-sysctl"]), // --device (char) --sysctl net.ipv4.ip_forward=1
            (
                "containerd-1.6-cri/sandbox.json",
                &["host-network", "host-uts"],
            ),
            (
                "containerd-1.6-cri/container.json",
                &["host-network", "host-uts"],
            ),
            ("runc-spec-default.json", &[]),
            ("containerd-1.6-ctr/default.json", &[]),
            ("podman-4.3/default.json", &[]),
        ];
        for (name, want) in table {
            let got = fired(name, Some(host_with_docker_netns()));
            assert_eq!(&got, want, "{name}");
        }
    }

    /// One synthetic case per rule the captured specs do not cover, on Docker's default spec.
    #[test]
    fn each_rule_fires_on_its_own_case_and_names_the_value() {
        use crate::profile::RootUser;
        use crate::steps::testutil::{fixture, profile};
        use serde_json::json;
        type Edit = fn(&mut crate::spec::Spec);
        let cases: &[(&str, Edit)] = &[
            ("cwd-in-proc", |s| {
                s.set("/process/cwd", json!("/proc/self/fd/7")).unwrap();
            }),
            ("apparmor-unconfined", |s| {
                s.set("/process/apparmorProfile", json!("unconfined"))
                    .unwrap();
            }),
            ("hook-not-allowed", |s| {
                s.set(
                    "/hooks/createRuntime",
                    json!([{"path": "/usr/bin/curl", "args": ["curl", "evil"]}]),
                )
                .unwrap();
            }),
            ("shared-propagation", |s| {
                s.set("/linux/rootfsPropagation", json!("rshared")).unwrap();
            }),
            ("unsafe-mount-destination", |s| {
                s.set("/mounts/0/destination", json!("/proc/../../etc"))
                    .unwrap();
            }),
            ("unsafe-sysctl", |s| {
                s.set("/linux/sysctl/kernel.core_pattern", json!("|/x"))
                    .unwrap();
            }),
            ("net-sysctl-shared-netns", |s| {
                s.set(
                    "/linux/namespaces/1/path",
                    json!("/run/docker/netns/default"),
                )
                .unwrap();
            }),
            ("masked-paths-emptied", |s| {
                s.set("/linux/maskedPaths", json!([])).unwrap();
            }),
            ("host-mount", |s| {
                s.set(
                    "/linux/namespaces",
                    json!([{"type": "network"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}]),
                )
                .unwrap();
            }),
            ("sensitive-mount", |s| {
                s.set("/mounts/7/source", json!("/etc")).unwrap();
            }),
            ("engine-socket", |s| {
                s.set("/mounts/7/source", json!("/var/run/docker.sock"))
                    .unwrap();
            }),
        ];
        let p = profile("restricted");
        let h = host_with_docker_netns();
        let cx = super::PolicyContext {
            profile: &p,
            host: &h,
        };
        for (rule, edit) in cases {
            let mut s = fixture("docker-20.10/default.json");
            edit(&mut s);
            let v = super::evaluate(&s, &cx, &[]).unwrap();
            assert!(
                v.iter()
                    .any(|v| v.rule == *rule && !v.field.is_empty() && !v.why.is_empty()),
                "{rule}: {v:?}"
            );
            // The same case waived by the profile passes that rule.
            let mut waiving = p.clone();
            waiving.policy.waive = vec![rule.to_string()];
            let wcx = super::PolicyContext {
                profile: &waiving,
                host: &h,
            };
            assert!(
                !super::evaluate(&s, &wcx, &[])
                    .unwrap()
                    .iter()
                    .any(|v| v.rule == *rule),
                "{rule} waived"
            );
        }
        let mut rootless = p.clone();
        rootless.policy.root = RootUser::Refuse;
        let rcx = super::PolicyContext {
            profile: &rootless,
            host: &h,
        };
        let ids: Vec<_> = super::evaluate(&fixture("docker-20.10/default.json"), &rcx, &[])
            .unwrap()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(ids, ["root-user"]);
        assert!(
            super::evaluate(&fixture("docker-20.10/user1000.json"), &rcx, &[])
                .unwrap()
                .is_empty()
        );
        // A profile whose [userns] maps root away (or refuses) needs no uid from the request;
        // one that may skip the user namespace still refuses root.
        let mut mapped = rootless.clone();
        mapped.userns.enabled = true;
        let docker = fixture("docker-20.10/default.json");
        let n = |p: &crate::profile::Profile| {
            let cx = super::PolicyContext {
                profile: p,
                host: &h,
            };
            super::evaluate(&docker, &cx, &[]).unwrap().len()
        };
        assert_eq!(n(&mapped), 0);
        mapped.userns.on_unsupported = crate::profile::OnUnsupported::Skip;
        assert_eq!(n(&mapped), 1);
    }
}
