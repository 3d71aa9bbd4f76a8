//! Kubernetes Pod Security Standards, baseline and restricted, as far as an OCI spec shows
//! them (see /work/shared/notes/security-baseline.md §2.4 for the mapping).

use super::Severity::{Critical, High, Medium};
use super::{Check, Cx, DOCKER_DEFAULT_CAPS, Fix, Verdict, caps_beyond, host_paths};
use crate::policy::Violation;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::{Value, json};

const BASE: &str = "PSS baseline";
const RESTR: &str = "PSS restricted";

/// PSS controls an OCI spec cannot show, and why.
pub const PSS_UNDECIDABLE: &[(&str, &str, &str)] = &[
    (
        "PSS-baseline-hostPorts",
        "no host ports",
        "ports are published by the CNI plugin or engine, outside the OCI spec",
    ),
    (
        "PSS-baseline-windowsHostProcess",
        "no Windows host process",
        "Windows only",
    ),
    (
        "PSS-baseline-hostProbesAndHostLifecycle",
        "probes and lifecycle hooks stay in the pod",
        "probes are run by the kubelet, not described in the spec",
    ),
    (
        "PSS-restricted-volumes",
        "only restricted volume types",
        "a spec shows every volume as a bind mount, not its type; hostPath is judged by baseline hostPathVolumes",
    ),
    (
        "PSS-restricted-procMount",
        "procMount Default even in a user namespace",
        "in a spec it is the baseline procMount check (masked paths kept)",
    ),
];

/// PSS baseline: capabilities a pod may add (Docker's 14 minus NET_RAW).
fn baseline_caps() -> Vec<&'static str> {
    DOCKER_DEFAULT_CAPS
        .iter()
        .copied()
        .filter(|c| *c != "CAP_NET_RAW")
        .collect()
}

fn caps_baseline(spec: &Spec, _: &Cx, v: Verdict) -> Result<Verdict> {
    Ok(v.and_fail(caps_beyond(
        spec,
        &baseline_caps(),
        "the baseline's 13 (Docker's defaults less NET_RAW)",
        true,
    )?))
}

fn caps_restricted(spec: &Spec, _: &Cx, v: Verdict) -> Result<Verdict> {
    Ok(v.and_fail(caps_beyond(
        spec,
        &["CAP_NET_BIND_SERVICE"],
        "restricted's CAP_NET_BIND_SERVICE",
        true,
    )?))
}

fn host_path(spec: &Spec, _: &Cx, v: Verdict) -> Result<Verdict> {
    Ok(v.and_fail(host_paths(spec)))
}

/// container_engine_t is allowed from policy version 1.31.
const SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

fn selinux(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let ptr = "/process/selinuxLabel";
    let Some(label) = spec
        .get(ptr)
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
    else {
        return Ok(Verdict::pass(vec![]));
    };
    let ty = label.split(':').nth(2).unwrap_or_default();
    Ok(Verdict::field(
        spec,
        ptr,
        SELINUX_TYPES.contains(&ty),
        "an SELinux type outside container_t, container_init_t, container_kvm_t, container_engine_t",
    ))
}

fn seccomp_baseline(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let (ok, action) = super::seccomp_confines(spec);
    if action.is_null() {
        return Ok(Verdict::pass(vec![Violation::new(
            "/linux/seccomp",
            Value::Null,
            "unset: allowed at baseline (restricted requires a profile)",
        )]));
    }
    let ev = vec![Violation::new(
        "/linux/seccomp/defaultAction",
        action,
        if ok {
            ""
        } else {
            "Unconfined: a filter that allows every syscall"
        },
    )];
    Ok(if ok {
        Verdict::pass(ev)
    } else {
        Verdict::fail(ev)
    })
}

fn seccomp_restricted(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let (ok, action) = super::seccomp_confines(spec);
    let ev = vec![Violation::new(
        "/linux/seccomp/defaultAction",
        action,
        if ok {
            ""
        } else {
            "restricted requires RuntimeDefault or Localhost seccomp"
        },
    )];
    Ok(if ok {
        Verdict::pass(ev)
    } else {
        Verdict::fail(ev)
    })
}

fn no_escalation(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let p = "/process/noNewPrivileges";
    Ok(Verdict::field(
        spec,
        p,
        spec.get(p) == Some(&json!(true)),
        "allowPrivilegeEscalation is not false: setuid binaries can raise privileges",
    ))
}

pub const PSS: &[Check] = &[
    Check {
        id: "PSS-baseline-hostNamespaces",
        benchmark: BASE,
        title: "host namespaces not shared",
        severity: High,
        rules: &["host-pid", "host-ipc", "host-network", "host-mount"],
        test: None,
        fix: Fix {
            docker: "drop --pid/--ipc/--network host",
            k8s: "spec.hostNetwork, hostPID, hostIPC: false",
            oci: "give linux.namespaces its own pid, ipc, network and mount entries",
        },
    },
    Check {
        id: "PSS-baseline-privileged",
        benchmark: BASE,
        title: "not privileged",
        severity: Critical,
        rules: &[
            "all-capabilities",
            "device-allow-all",
            "writable-sysfs",
            "writable-cgroupfs",
        ],
        test: None,
        fix: Fix {
            docker: "drop --privileged",
            k8s: "securityContext.privileged: false",
            oci: "no full capability set, no allow-all device rule, /sys and cgroupfs ro",
        },
    },
    Check {
        id: "PSS-baseline-capabilities",
        benchmark: BASE,
        title: "capabilities within the baseline set",
        severity: High,
        rules: &[],
        test: Some(caps_baseline),
        fix: Fix {
            docker: "--cap-drop NET_RAW and no --cap-add beyond the defaults",
            k8s: "capabilities.add only from the baseline list (no NET_RAW, SYS_ADMIN, ...)",
            oci: "process.capabilities within Docker's defaults less NET_RAW; inheritable and ambient empty",
        },
    },
    Check {
        id: "PSS-baseline-hostPathVolumes",
        benchmark: BASE,
        title: "no hostPath volumes",
        severity: High,
        rules: &[],
        test: Some(host_path),
        fix: Fix {
            docker: "use a named volume instead of -v /host/path",
            k8s: "replace the hostPath volume with a PersistentVolumeClaim, configMap, secret or emptyDir",
            oci: "no bind mounts of host paths outside the engine's own state",
        },
    },
    Check {
        id: "PSS-baseline-appArmorProfile",
        benchmark: BASE,
        title: "AppArmor not unconfined",
        severity: Medium,
        rules: &["apparmor-unconfined"],
        test: None,
        fix: Fix {
            docker: "drop --security-opt apparmor=unconfined",
            k8s: "appArmorProfile.type: RuntimeDefault or Localhost",
            oci: "process.apparmorProfile: not \"unconfined\"",
        },
    },
    Check {
        id: "PSS-baseline-seLinuxOptions",
        benchmark: BASE,
        title: "SELinux type allowed",
        severity: Medium,
        rules: &[],
        test: Some(selinux),
        fix: Fix {
            docker: "--security-opt label=type:container_t (or no label option)",
            k8s: "seLinuxOptions.type: container_t (or unset)",
            oci: "process.selinuxLabel with type container_t",
        },
    },
    Check {
        id: "PSS-baseline-procMount",
        benchmark: BASE,
        title: "/proc masked (procMount Default)",
        severity: High,
        rules: &["masked-paths-emptied"],
        test: None,
        fix: Fix {
            docker: "drop --privileged and --security-opt systempaths=unconfined",
            k8s: "securityContext.procMount: Default",
            oci: "keep linux.maskedPaths and readonlyPaths",
        },
    },
    Check {
        id: "PSS-baseline-seccompProfile",
        benchmark: BASE,
        title: "seccomp not Unconfined",
        severity: High,
        rules: &[],
        test: Some(seccomp_baseline),
        fix: Fix {
            docker: "drop --security-opt seccomp=unconfined",
            k8s: "seccompProfile.type: RuntimeDefault or Localhost",
            oci: "linux.seccomp without an allow default action",
        },
    },
    Check {
        id: "PSS-baseline-sysctls",
        benchmark: BASE,
        title: "only safe sysctls",
        severity: High,
        rules: &["unsafe-sysctl", "net-sysctl-shared-netns"],
        test: None,
        fix: Fix {
            docker: "drop --sysctl outside the safe set",
            k8s: "securityContext.sysctls only from the safe set",
            oci: "linux.sysctl only from the safe set, net.* only in a private network namespace",
        },
    },
    Check {
        id: "PSS-restricted-allowPrivilegeEscalation",
        benchmark: RESTR,
        title: "privilege escalation disallowed",
        severity: Medium,
        rules: &[],
        test: Some(no_escalation),
        fix: Fix {
            docker: "docker run --security-opt no-new-privileges",
            k8s: "securityContext.allowPrivilegeEscalation: false",
            oci: "process.noNewPrivileges: true",
        },
    },
    Check {
        id: "PSS-restricted-runAsNonRoot",
        benchmark: RESTR,
        title: "runs as non-root (runAsNonRoot, runAsUser)",
        severity: Medium,
        rules: &["root-user"],
        test: None,
        fix: Fix {
            docker: "docker run --user 1000:1000 (or USER in the image), or userns-remap",
            k8s: "securityContext.runAsNonRoot: true and runAsUser not 0 (or hostUsers: false)",
            oci: "process.user.uid not 0, or a user namespace",
        },
    },
    Check {
        id: "PSS-restricted-seccompProfile",
        benchmark: RESTR,
        title: "seccomp profile set",
        severity: High,
        rules: &[],
        test: Some(seccomp_restricted),
        fix: Fix {
            docker: "keep Docker's default seccomp profile (or a custom one)",
            k8s: "securityContext.seccompProfile.type: RuntimeDefault",
            oci: "set linux.seccomp",
        },
    },
    Check {
        id: "PSS-restricted-capabilities",
        benchmark: RESTR,
        title: "all capabilities dropped (NET_BIND_SERVICE at most)",
        severity: Medium,
        rules: &[],
        test: Some(caps_restricted),
        fix: Fix {
            docker: "docker run --cap-drop ALL [--cap-add NET_BIND_SERVICE]",
            k8s: "capabilities: drop [ALL], add at most [NET_BIND_SERVICE]",
            oci: "process.capabilities: at most CAP_NET_BIND_SERVICE",
        },
    },
];
