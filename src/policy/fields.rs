//! Default-deny over the whole spec: every field runc 1.1.5 decodes from config.json, and
//! what Rampart does with it. Taken from runc's own source (libcontainer/specconv,
//! utils_linux.go) and the runtime-spec types it decodes into. A field is
//!
//! - **judged**: policy rules refuse loosening values, and/or a hardening step clamps it;
//! - **refused**: engines never write it, so any value is refused (rule `unusual-field`);
//! - **passed**: read by runc, and no value of it loosens the container (the why says so);
//! - **ignored**: decoded but never read by runc 1.1.5 on Linux.
//!
//! A path names a JSON pointer with `*` for any array index or map key, and covers what is
//! below it unless a longer row says otherwise. `tests` checks every row, and (with the Go
//! oracle) that every field runc decodes has a row.

use super::{Rule, Violation};
use crate::spec::Spec;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Judged,
    Refused,
    Passed,
    Ignored,
}

#[derive(Debug)]
pub struct Field {
    pub path: &'static str,
    pub decision: Decision,
    /// Policy rules that judge it.
    pub rules: &'static [&'static str],
    /// The hardening step that clamps it.
    pub step: Option<&'static str>,
    /// Why it is refused, passed or ignored.
    pub why: &'static str,
    /// For judged and refused rows: a loosening value (JSON) the tests try.
    pub sample: Option<&'static str>,
}

const fn judged(
    path: &'static str,
    rules: &'static [&'static str],
    step: Option<&'static str>,
    sample: Option<&'static str>,
) -> Field {
    Field {
        path,
        decision: Decision::Judged,
        rules,
        step,
        why: "",
        sample,
    }
}
const fn refused(path: &'static str, why: &'static str, sample: &'static str) -> Field {
    Field {
        path,
        decision: Decision::Refused,
        rules: &["unusual-field"],
        step: None,
        why,
        sample: Some(sample),
    }
}
const fn passed(path: &'static str, why: &'static str) -> Field {
    Field {
        path,
        decision: Decision::Passed,
        rules: &[],
        step: None,
        why,
        sample: None,
    }
}
const fn ignored(path: &'static str) -> Field {
    Field {
        path,
        decision: Decision::Ignored,
        rules: &[],
        step: None,
        why: "decoded, but never read by runc 1.1.5 on Linux",
        sample: None,
    }
}

const GROUPS: &str =
    "group ids only reach files the container already sees; a user namespace maps them";
const LIMIT: &str = "a ceiling: it can only lower what the container may use";

pub const FIELDS: &[Field] = &[
    passed("/ociVersion", "a version string; runc accepts any 1.x"),
    passed("/process/terminal", "a pseudo-terminal for the process"),
    passed("/process/consoleSize", "the terminal's size"),
    judged("/process/user/uid", &["root-user"], Some("userns"), None),
    passed("/process/user/gid", GROUPS),
    passed("/process/user/additionalGids", GROUPS),
    passed(
        "/process/user/umask",
        "modes of files the process itself creates",
    ),
    ignored("/process/user/username"),
    passed("/process/args", "the program the container runs, inside it"),
    passed(
        "/process/env",
        "the process's environment, inside the container (never read by Rampart)",
    ),
    ignored("/process/commandLine"),
    judged(
        "/process/cwd",
        &["cwd-in-proc"],
        None,
        Some(r#""/proc/self/fd/3""#),
    ),
    judged(
        "/process/capabilities/bounding",
        &["all-capabilities"],
        Some("capabilities"),
        Some(r#"["CAP_SYS_ADMIN"]"#),
    ),
    judged(
        "/process/capabilities/effective",
        &[],
        Some("capabilities"),
        Some(r#"["CAP_SYS_ADMIN"]"#),
    ),
    judged(
        "/process/capabilities/inheritable",
        &[],
        Some("capabilities"),
        Some(r#"["CAP_SYS_ADMIN"]"#),
    ),
    judged(
        "/process/capabilities/permitted",
        &[],
        Some("capabilities"),
        Some(r#"["CAP_SYS_ADMIN"]"#),
    ),
    judged(
        "/process/capabilities/ambient",
        &[],
        Some("capabilities"),
        Some(r#"["CAP_SYS_ADMIN"]"#),
    ),
    judged(
        "/process/rlimits",
        &["rlimit-raised", "resource-above-ceiling"],
        Some("rlimits"),
        Some(r#"[{"type":"RLIMIT_RTPRIO","hard":99,"soft":99}]"#),
    ),
    judged(
        "/process/noNewPrivileges",
        &[],
        Some("no_new_privileges"),
        Some("false"),
    ),
    judged(
        "/process/apparmorProfile",
        &["apparmor-unconfined"],
        Some("lsm"),
        Some(r#""unconfined""#),
    ),
    judged(
        "/process/oomScoreAdj",
        &["oom-score-adj"],
        None,
        Some("-1000"),
    ),
    judged("/process/selinuxLabel", &[], Some("lsm"), None),
    judged("/root/path", &["root-path"], None, None),
    judged("/root/readonly", &[], Some("rootfs"), Some("false")),
    passed(
        "/hostname",
        "only in a private UTS namespace (rule host-uts)",
    ),
    ignored("/domainname"),
    judged(
        "/mounts/*/destination",
        &["unsafe-mount-destination", "proc-mount-elsewhere"],
        None,
        Some(r#""/proc/../../etc""#),
    ),
    judged(
        "/mounts/*/type",
        &[
            "mount-type",
            "proc-mount-elsewhere",
            "writable-sysfs",
            "writable-cgroupfs",
        ],
        None,
        Some(r#""debugfs""#),
    ),
    judged(
        "/mounts/*/source",
        &["sensitive-mount", "engine-socket"],
        Some("mounts"),
        Some(r#""/etc""#),
    ),
    judged(
        "/mounts/*/options",
        &["shared-propagation", "writable-sysfs", "writable-cgroupfs"],
        Some("mounts"),
        Some(r#"["rbind","rshared"]"#),
    ),
    ignored("/mounts/*/uidMappings"),
    ignored("/mounts/*/gidMappings"),
    judged(
        "/hooks",
        &["hook-not-allowed"],
        None,
        Some(r#"{"prestart":[{"path":"/bin/sh"}]}"#),
    ),
    judged(
        "/annotations",
        &["unusual-field"],
        None,
        Some(r#"{"org.systemd.property.MemoryMax":"infinity"}"#),
    ),
    judged("/linux/uidMappings", &[], Some("userns"), None),
    judged("/linux/gidMappings", &[], Some("userns"), None),
    judged(
        "/linux/sysctl",
        &["unsafe-sysctl", "net-sysctl-shared-netns"],
        None,
        Some(r#"{"kernel.core_pattern":"|/x"}"#),
    ),
    judged(
        "/linux/resources/devices",
        &["device-allow-all", "block-device", "device-not-allowed"],
        None,
        Some(r#"[{"allow":true,"type":"c","major":21,"minor":0,"access":"rwm"}]"#),
    ),
    judged(
        "/linux/resources/memory/limit",
        &["resource-above-ceiling"],
        Some("resources"),
        Some("-1"),
    ),
    passed(
        "/linux/resources/memory/reservation",
        "a soft floor below the limit, not a limit",
    ),
    passed(
        "/linux/resources/memory/swap",
        "memory+swap: bounded by the host's swap (none on these machines); the resources step keeps the memory limit at or below it",
    ),
    passed("/linux/resources/memory/kernel", LIMIT),
    passed("/linux/resources/memory/kernelTCP", LIMIT),
    passed(
        "/linux/resources/memory/swappiness",
        "how eagerly the container's own memory is swapped",
    ),
    passed(
        "/linux/resources/memory/disableOOMKiller",
        "the container's own processes wait instead of dying; the limit still holds",
    ),
    passed(
        "/linux/resources/memory/useHierarchy",
        "cgroup v1 accounting mode of the container's own subtree",
    ),
    ignored("/linux/resources/memory/checkBeforeUpdate"),
    judged(
        "/linux/resources/cpu/shares",
        &["resource-above-ceiling"],
        Some("resources"),
        Some("262144"),
    ),
    judged(
        "/linux/resources/cpu/quota",
        &["resource-above-ceiling"],
        Some("resources"),
        Some("-1"),
    ),
    judged("/linux/resources/cpu/period", &[], Some("resources"), None),
    refused(
        "/linux/resources/cpu/realtimeRuntime",
        "a real-time CPU budget lets the container starve the host",
        "950000",
    ),
    refused(
        "/linux/resources/cpu/realtimePeriod",
        "a real-time CPU budget lets the container starve the host",
        "1000000",
    ),
    passed(
        "/linux/resources/cpu/cpus",
        "a cpuset only restricts which CPUs the container runs on",
    ),
    passed(
        "/linux/resources/cpu/mems",
        "a cpuset only restricts which memory nodes the container uses",
    ),
    ignored("/linux/resources/cpu/burst"),
    ignored("/linux/resources/cpu/idle"),
    judged(
        "/linux/resources/pids/limit",
        &["resource-above-ceiling"],
        Some("resources"),
        Some("-1"),
    ),
    judged(
        "/linux/resources/blockIO/weight",
        &["resource-above-ceiling"],
        Some("resources"),
        Some("65535"),
    ),
    passed(
        "/linux/resources/blockIO/leafWeight",
        "a weight inside the container's own subtree",
    ),
    refused(
        "/linux/resources/blockIO/weightDevice",
        "a per-device weight overrides the profile's block-I/O weight",
        r#"[{"major":8,"minor":0,"weight":1000}]"#,
    ),
    passed("/linux/resources/blockIO/throttleReadBpsDevice", LIMIT),
    passed("/linux/resources/blockIO/throttleWriteBpsDevice", LIMIT),
    passed("/linux/resources/blockIO/throttleReadIOPSDevice", LIMIT),
    passed("/linux/resources/blockIO/throttleWriteIOPSDevice", LIMIT),
    passed("/linux/resources/hugepageLimits", LIMIT),
    refused(
        "/linux/resources/network",
        "net_cls/net_prio tag and prioritise the container's traffic on host interfaces",
        r#"{"classID":1048577}"#,
    ),
    passed("/linux/resources/rdma", LIMIT),
    judged(
        "/linux/resources/unified",
        &[],
        Some("resources"),
        Some(r#"{"pids.max":"max"}"#),
    ),
    judged(
        "/linux/cgroupsPath",
        &["cgroups-path"],
        None,
        Some(r#""/""#),
    ),
    judged(
        "/linux/namespaces",
        &[
            "host-pid",
            "host-ipc",
            "host-network",
            "host-uts",
            "host-mount",
            "namespace-path",
        ],
        Some("userns"),
        Some(r#"[{"type":"mount"},{"type":"network","path":"/tmp/ns"}]"#),
    ),
    judged(
        "/linux/devices",
        &["block-device", "device-not-allowed"],
        None,
        Some(r#"[{"type":"c","path":"/dev/sg0","major":21,"minor":0}]"#),
    ),
    judged("/linux/seccomp", &[], Some("seccomp"), None),
    refused(
        "/linux/seccomp/listenerPath",
        "a seccomp agent outside the container would decide which syscalls succeed",
        r#""/run/agent.sock""#,
    ),
    refused(
        "/linux/seccomp/listenerMetadata",
        "a seccomp agent outside the container would decide which syscalls succeed",
        r#""x""#,
    ),
    judged(
        "/linux/rootfsPropagation",
        &["shared-propagation"],
        None,
        Some(r#""rshared""#),
    ),
    judged(
        "/linux/maskedPaths",
        &["masked-paths-emptied"],
        Some("paths"),
        Some("[]"),
    ),
    judged("/linux/readonlyPaths", &[], Some("paths"), Some("[]")),
    passed(
        "/linux/mountLabel",
        "read only where SELinux is enabled (not verified here: no SELinux on these machines)",
    ),
    refused(
        "/linux/intelRdt",
        "Intel RDT classes share the host's cache and memory-bandwidth allocations",
        r#"{"closID":"host"}"#,
    ),
    ignored("/linux/personality"),
    ignored("/solaris"),
    ignored("/windows"),
    ignored("/vm"),
    ignored("/zos"),
];

/// Annotations runc itself acts on.
pub const RUNC_ANNOTATIONS: &[(&str, &str)] = &[
    (
        "org.systemd.property.",
        "runc turns it into a property of the container's systemd unit (e.g. MemoryMax=infinity, DeviceAllow=), which lifts limits",
    ),
    (
        "org.criu.config",
        "names a CRIU configuration file runc hands to CRIU at checkpoint and restore (its action scripts run as root)",
    ),
];

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Every (pointer, value) a row's path names in `spec`.
pub fn resolve<'a>(spec: &'a Value, path: &str) -> Vec<(String, &'a Value)> {
    let mut out = vec![(String::new(), spec)];
    for token in path.split('/').skip(1) {
        out = out
            .into_iter()
            .flat_map(|(p, v)| -> Vec<(String, &Value)> {
                match (token, v) {
                    ("*", Value::Array(a)) => a
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (format!("{p}/{i}"), x))
                        .collect(),
                    ("*", Value::Object(o)) => o
                        .iter()
                        .map(|(k, x)| {
                            (
                                format!("{p}/{}", k.replace('~', "~0").replace('/', "~1")),
                                x,
                            )
                        })
                        .collect(),
                    (t, Value::Object(o)) => o
                        .get(t)
                        .map(|x| vec![(format!("{p}/{t}"), x)])
                        .unwrap_or_default(),
                    _ => vec![],
                }
            })
            .collect();
    }
    out
}

pub const UNUSUAL_FIELD: Rule = Rule {
    id: "unusual-field",
    fix: "drop the field from the request and use the engine's ordinary flags",
    title: "a field no engine writes by default",
    reference: "Rampart's field table (src/policy/fields.rs)",
    check: |spec: &Spec, _| {
        let mut out = Vec::new();
        for f in FIELDS.iter().filter(|f| f.decision == Decision::Refused) {
            for (ptr, v) in resolve(spec.raw(), f.path) {
                if !is_zero(v) {
                    out.push(Violation::new(ptr, v.clone(), f.why));
                }
            }
        }
        if let Some(Value::Object(ann)) = spec.get("/annotations") {
            for (k, v) in ann {
                if let Some((_, why)) = RUNC_ANNOTATIONS.iter().find(|(p, _)| k.starts_with(p)) {
                    let ptr = format!("/annotations/{}", k.replace('~', "~0").replace('/', "~1"));
                    out.push(Violation::new(ptr, v.clone(), *why));
                }
            }
        }
        Ok(out)
    },
};

/// The row that decides `path` (a pointer with `*` for indices and map keys): the longest
/// row equal to it or above it.
pub fn row(path: &str) -> Option<&'static Field> {
    FIELDS
        .iter()
        .filter(|f| {
            path == f.path
                || path
                    .strip_prefix(f.path)
                    .is_some_and(|r| r.starts_with('/'))
        })
        .max_by_key(|f| f.path.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::{facts, fixture, profile};

    /// Every row: its rules exist, its step exists, and its sample is refused or clamped.
    #[test]
    fn every_row_is_judged_as_it_says() {
        let p = profile("restricted");
        let h = facts();
        let cx = super::super::PolicyContext {
            profile: &p,
            host: &h,
        };
        let step_names: Vec<&str> = crate::steps::CREATE.iter().map(|(n, _)| *n).collect();
        for f in FIELDS {
            for r in f.rules {
                assert!(super::super::rule(r).is_some(), "{}: no rule {r}", f.path);
            }
            if let Some(s) = f.step {
                assert!(step_names.contains(&s), "{}: no step {s}", f.path);
            }
            match f.decision {
                Decision::Passed | Decision::Ignored => assert!(!f.why.is_empty(), "{}", f.path),
                Decision::Refused | Decision::Judged => {
                    assert!(!f.rules.is_empty() || f.step.is_some(), "{}", f.path)
                }
            }
            let Some(sample) = f.sample else { continue };
            let sample: Value = serde_json::from_str(sample).unwrap();
            let mut s = fixture("docker-20.10/default.json");
            // `*` stands for the first bind mount (where sources and options matter).
            let first_bind = crate::policy::bind_mounts(&s)[0].0;
            let ptr = f.path.replace('*', &first_bind.to_string());
            s.set(&ptr, sample.clone()).unwrap();
            let fired: Vec<&str> = super::super::evaluate(&s, &cx, &[])
                .unwrap()
                .into_iter()
                .map(|v| v.rule)
                .collect();
            let by_rule = f.rules.iter().any(|r| fired.contains(r));
            let by_step = f.step.is_some() && {
                let mut hardened = s.clone();
                let scx = crate::steps::Context {
                    profile: &p,
                    host: &h,
                    container_caps: None,
                    container_apparmor: None,
                };
                crate::steps::harden(&mut hardened, &scx, crate::steps::CREATE).unwrap();
                hardened.get(&ptr) != Some(&sample)
            };
            assert!(
                by_rule || by_step,
                "{}: sample {sample} passed (fired: {fired:?})",
                f.path
            );
        }
    }

    /// Default-deny: every field runc's Go types decode (generated from them, see
    /// tests/oracle.rs) has a decision here.
    #[test]
    fn every_field_runc_decodes_has_a_row() {
        let all = crate::runc_fields::field_paths();
        // A struct is decided by its fields.
        let is_struct = |p: &str| {
            all.iter()
                .any(|q| q.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
        };
        let missing: Vec<&str> = all
            .iter()
            .copied()
            .filter(|p| row(p).is_none() && !is_struct(p))
            .collect();
        assert!(all.len() > 250, "{} fields", all.len());
        assert!(missing.is_empty(), "no decision for {missing:#?}");
    }

    #[test]
    fn rows_are_found_by_the_longest_prefix() {
        assert_eq!(
            row("/linux/seccomp/syscalls/*/names").unwrap().path,
            "/linux/seccomp"
        );
        assert_eq!(
            row("/linux/seccomp/listenerPath").unwrap().decision,
            Decision::Refused
        );
        assert_eq!(
            row("/windows/layerFolders").unwrap().decision,
            Decision::Ignored
        );
        assert!(row("/nonsense").is_none());
    }

    #[test]
    fn runc_annotations_are_refused() {
        let p = profile("baseline");
        let h = facts();
        let cx = super::super::PolicyContext {
            profile: &p,
            host: &h,
        };
        let mut s = fixture("docker-20.10/default.json");
        s.set("/annotations", serde_json::json!({"org.criu.config": "/tmp/x", "org.systemd.property.DeviceAllow": "'char-* rwm'", "other": "fine"})).unwrap();
        assert_eq!((UNUSUAL_FIELD.check)(&s, &cx).unwrap().len(), 2);
    }
}
