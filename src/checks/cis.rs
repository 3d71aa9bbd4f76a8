//! CIS Docker Benchmark v1.6.0, section 5 "Container Runtime": the 21 checks a config.json
//! decides, and the 11 it cannot.

use super::Severity::{Critical, High, Low, Medium};
use super::{Check, Cx, DOCKER_DEFAULT_CAPS, Fix, Verdict, caps_beyond, seccomp_confines};
use crate::policy::{Violation, mounts};
use crate::spec::Spec;
use anyhow::Result;
use serde_json::{Value, json};
use std::path::Path;

const B: &str = "CIS Docker v1.6.0";

/// Section-5 checks that cannot be decided from a config.json, and why.
pub const CIS_UNDECIDABLE: &[(&str, &str, &str)] = &[
    (
        "CIS-5.1",
        "swarm mode not enabled",
        "engine state (`docker info`), not part of any container's spec",
    ),
    (
        "CIS-5.7",
        "sshd not run within containers",
        "needs the running container's process list; the spec names only the first process",
    ),
    (
        "CIS-5.8",
        "privileged ports not mapped within containers",
        "ports are published by the engine (docker-proxy, iptables, CNI), outside the OCI spec",
    ),
    (
        "CIS-5.9",
        "only needed ports open on the container",
        "a manual review of the engine's port mappings; not in the spec",
    ),
    (
        "CIS-5.14",
        "incoming traffic bound to a specific host interface",
        "port bindings are engine configuration, outside the OCI spec",
    ),
    (
        "CIS-5.15",
        "on-failure restart policy set to 5",
        "restart policy is kept and applied by the engine",
    ),
    (
        "CIS-5.23",
        "docker exec not used with --privileged",
        "decided per `runc exec --process`, not by config.json (Rampart clamps every exec to the container's own capabilities)",
    ),
    (
        "CIS-5.24",
        "docker exec not used with --user=root",
        "decided per `runc exec --process`, not by config.json",
    ),
    (
        "CIS-5.27",
        "container health checked at runtime",
        "health checks are run by the engine",
    ),
    (
        "CIS-5.28",
        "docker commands use the latest image version",
        "image tags and digests are engine and registry state",
    ),
    (
        "CIS-5.30",
        "default bridge docker0 not used",
        "the network is attached by the engine (libnetwork, CNI) after create; the spec names only a namespace",
    ),
];

fn apparmor(spec: &Spec, _: &Cx, v: Verdict) -> Result<Verdict> {
    let ptr = "/process/apparmorProfile";
    match spec.get(ptr).and_then(Value::as_str) {
        _ if v.result == super::Outcome::Fail => Ok(v),
        Some(p) if !p.is_empty() => Ok(Verdict::field(spec, ptr, true, "")),
        _ if lsm_set(spec, "/process/selinuxLabel") => Ok(Verdict::na(
            ptr,
            Value::Null,
            "SELinux confines this container instead (CIS 5.3)",
        )),
        _ => Ok(Verdict::field(
            spec,
            ptr,
            false,
            "no AppArmor profile and no SELinux label: no LSM confines the container",
        )),
    }
}

fn lsm_set(spec: &Spec, ptr: &str) -> bool {
    spec.get(ptr)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty() && s != "unconfined")
}

fn selinux(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let ptr = "/process/selinuxLabel";
    Ok(if lsm_set(spec, ptr) {
        Verdict::field(spec, ptr, true, "")
    } else if lsm_set(spec, "/process/apparmorProfile") {
        Verdict::na(
            ptr,
            Value::Null,
            "AppArmor confines this container instead (CIS 5.2)",
        )
    } else {
        Verdict::field(
            spec,
            ptr,
            false,
            "no SELinux label and no AppArmor profile: no LSM confines the container",
        )
    })
}

fn capabilities(spec: &Spec, _: &Cx, v: Verdict) -> Result<Verdict> {
    let extra: Vec<Violation> = caps_beyond(
        spec,
        DOCKER_DEFAULT_CAPS,
        "Docker's 14 default capabilities",
        false,
    )?
    .into_iter()
    .filter(|x| x.field.ends_with("/bounding"))
    .collect();
    Ok(v.and_fail(extra))
}

/// A host-wide directory that holds engine state and sockets (`/run`, `/var/lib`): what the
/// engine-socket rule refuses as an ancestor, counted here as a sensitive directory too.
fn sensitive_dirs(spec: &Spec, cx: &Cx, v: Verdict) -> Result<Verdict> {
    let sock = super::rules_verdict(spec, cx, &["engine-socket"])?;
    let whole: Vec<Violation> = sock
        .evidence
        .into_iter()
        .filter(|e| {
            let s = mounts::clean(e.value.as_str().unwrap_or_default());
            mounts::ENGINE_DIRS.iter().any(|d| {
                let d = mounts::clean(d);
                d != s && Path::new(&d).starts_with(&s)
            })
        })
        .map(|mut e| {
            e.why = "a host-wide directory holding every daemon's state and sockets".into();
            e
        })
        .collect();
    Ok(v.and_fail(whole))
}

fn positive(spec: &Spec, ptr: &str) -> bool {
    spec.get(ptr).and_then(Value::as_i64).is_some_and(|n| n > 0)
}

fn memory(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let p = "/linux/resources/memory/limit";
    Ok(Verdict::field(
        spec,
        p,
        positive(spec, p),
        "no memory limit: one container can exhaust the host's memory",
    ))
}

fn cpu(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let quota = "/linux/resources/cpu/quota";
    let shares = "/linux/resources/cpu/shares";
    if positive(spec, quota) {
        return Ok(Verdict::field(spec, quota, true, ""));
    }
    let s = spec.get(shares).and_then(Value::as_u64).unwrap_or(0);
    Ok(Verdict::field(
        spec,
        shares,
        s > 0 && s != 1024,
        "no CPU quota and default CPU shares: the container competes with the host as an equal",
    ))
}

fn readonly_rootfs(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let p = "/root/readonly";
    Ok(Verdict::field(
        spec,
        p,
        spec.get(p) == Some(&json!(true)),
        "a writable root filesystem lets an intruder change the image's programs",
    ))
}

fn devices(spec: &Spec, _: &Cx, v: Verdict) -> Result<Verdict> {
    let devs: Vec<Value> = spec.typed("/linux/devices")?.unwrap_or_default();
    let exposed = devs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Violation::new(
                format!("/linux/devices/{i}"),
                d.get("path").cloned().unwrap_or(Value::Null),
                "a host device node inside the container",
            )
        })
        .collect();
    Ok(v.and_fail(exposed))
}

fn ulimits(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let set: Vec<Value> = spec.typed("/process/rlimits")?.unwrap_or_default();
    let nofile = set.iter().any(|r| r["type"] == "RLIMIT_NOFILE");
    Ok(Verdict::field(
        spec,
        "/process/rlimits",
        nofile,
        "no RLIMIT_NOFILE: the container inherits the engine's limits (Docker's: 1048576 open files)",
    ))
}

fn seccomp(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let (ok, action) = seccomp_confines(spec);
    let ev = vec![Violation::new(
        "/linux/seccomp/defaultAction",
        action,
        if ok {
            ""
        } else {
            "no seccomp filter (or one that allows by default): every syscall reaches the host kernel"
        },
    )];
    Ok(if ok {
        Verdict::pass(ev)
    } else {
        Verdict::fail(ev)
    })
}

fn cgroup(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let p = "/linux/cgroupsPath";
    let set = spec
        .get(p)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty() && s != "/");
    Ok(Verdict::field(
        spec,
        p,
        set,
        "no cgroup path: the container is not placed under a parent its engine or admin chose",
    ))
}

fn nnp(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let p = "/process/noNewPrivileges";
    Ok(Verdict::field(
        spec,
        p,
        spec.get(p) == Some(&json!(true)),
        "setuid binaries and file capabilities can raise privileges",
    ))
}

fn pids(spec: &Spec, _: &Cx, _: Verdict) -> Result<Verdict> {
    let p = "/linux/resources/pids/limit";
    Ok(Verdict::field(
        spec,
        p,
        positive(spec, p),
        "no pids limit: a fork bomb in the container exhausts the host's process table",
    ))
}

fn userns(spec: &Spec, cx: &Cx, _: Verdict) -> Result<Verdict> {
    let v = crate::policy::namespaces::check(
        spec,
        &cx.policy,
        "user",
        "uid 0 in the container is uid 0 on the host",
    )?;
    Ok(super::settle(v, cx))
}

pub const CIS: &[Check] = &[
    Check {
        id: "CIS-5.2",
        benchmark: B,
        title: "AppArmor profile enabled",
        severity: Medium,
        rules: &["apparmor-unconfined"],
        test: Some(apparmor),
        fix: Fix {
            docker: "run on a host with AppArmor enabled (Docker then applies docker-default); never --security-opt apparmor=unconfined",
            k8s: "securityContext.appArmorProfile.type: RuntimeDefault (or Localhost), on nodes with AppArmor",
            oci: "set process.apparmorProfile to a loaded profile (e.g. docker-default)",
        },
    },
    Check {
        id: "CIS-5.3",
        benchmark: B,
        title: "SELinux security options set",
        severity: Medium,
        rules: &[],
        test: Some(selinux),
        fix: Fix {
            docker: "run on a host with SELinux enforcing and dockerd --selinux-enabled (or --security-opt label=type:container_t)",
            k8s: "securityContext.seLinuxOptions.type: container_t, on nodes with SELinux",
            oci: "set process.selinuxLabel (e.g. system_u:system_r:container_t:s0:c1,c2)",
        },
    },
    Check {
        id: "CIS-5.4",
        benchmark: B,
        title: "capabilities restricted (none beyond Docker's defaults)",
        severity: High,
        rules: &["all-capabilities", "capability-not-grantable"],
        test: Some(capabilities),
        fix: Fix {
            docker: "drop --cap-add (better: --cap-drop ALL and add back only what the program needs)",
            k8s: "securityContext.capabilities: drop [ALL], add only what the program needs",
            oci: "keep process.capabilities within the 14 defaults (better: only what the program needs)",
        },
    },
    Check {
        id: "CIS-5.5",
        benchmark: B,
        title: "not privileged",
        severity: Critical,
        rules: &[
            "all-capabilities",
            "masked-paths-emptied",
            "device-allow-all",
            "writable-sysfs",
            "writable-cgroupfs",
        ],
        test: None,
        fix: Fix {
            docker: "drop --privileged; grant the one capability or device the program needs",
            k8s: "securityContext.privileged: false (and procMount: Default)",
            oci: "no full capability set, keep linux.maskedPaths, no allow-all device rule, mount /sys and cgroupfs ro",
        },
    },
    Check {
        id: "CIS-5.6",
        benchmark: B,
        title: "sensitive host directories not mounted",
        severity: High,
        rules: &["sensitive-mount"],
        test: Some(sensitive_dirs),
        fix: Fix {
            docker: "remove the -v/--mount of the host system directory; mount only the data directory the program needs",
            k8s: "remove the hostPath volume; use a PersistentVolumeClaim, configMap or emptyDir",
            oci: "remove the bind mount of the host system directory from mounts",
        },
    },
    Check {
        id: "CIS-5.10",
        benchmark: B,
        title: "host network namespace not shared",
        severity: High,
        rules: &["host-network"],
        test: None,
        fix: Fix {
            docker: "drop --network host",
            k8s: "spec.hostNetwork: false",
            oci: "add {\"type\": \"network\"} to linux.namespaces",
        },
    },
    Check {
        id: "CIS-5.11",
        benchmark: B,
        title: "memory usage limited",
        severity: Medium,
        rules: &[],
        test: Some(memory),
        fix: Fix {
            docker: "docker run --memory 2g (or run through Rampart)",
            k8s: "resources.limits.memory",
            oci: "set linux.resources.memory.limit",
        },
    },
    Check {
        id: "CIS-5.12",
        benchmark: B,
        title: "CPU priority set",
        severity: Low,
        rules: &[],
        test: Some(cpu),
        fix: Fix {
            docker: "docker run --cpus 2 (or --cpu-shares)",
            k8s: "resources.limits.cpu",
            oci: "set linux.resources.cpu.quota and period",
        },
    },
    Check {
        id: "CIS-5.13",
        benchmark: B,
        title: "root filesystem read-only",
        severity: Medium,
        rules: &[],
        test: Some(readonly_rootfs),
        fix: Fix {
            docker: "docker run --read-only (with --tmpfs /tmp for scratch space)",
            k8s: "securityContext.readOnlyRootFilesystem: true",
            oci: "root.readonly: true",
        },
    },
    Check {
        id: "CIS-5.16",
        benchmark: B,
        title: "host PID namespace not shared",
        severity: High,
        rules: &["host-pid"],
        test: None,
        fix: Fix {
            docker: "drop --pid host",
            k8s: "spec.hostPID: false",
            oci: "add {\"type\": \"pid\"} to linux.namespaces",
        },
    },
    Check {
        id: "CIS-5.17",
        benchmark: B,
        title: "host IPC namespace not shared",
        severity: High,
        rules: &["host-ipc"],
        test: None,
        fix: Fix {
            docker: "drop --ipc host",
            k8s: "spec.hostIPC: false",
            oci: "add {\"type\": \"ipc\"} to linux.namespaces",
        },
    },
    Check {
        id: "CIS-5.18",
        benchmark: B,
        title: "host devices not exposed",
        severity: Medium,
        rules: &["device-allow-all", "block-device"],
        test: Some(devices),
        fix: Fix {
            docker: "drop --device (and --device-cgroup-rule 'a *:* rwm')",
            k8s: "do not expose host devices (no privileged pod, no device hostPath); use a device plugin",
            oci: "remove linux.devices entries and allow-all or block-device rules from linux.resources.devices",
        },
    },
    Check {
        id: "CIS-5.19",
        benchmark: B,
        title: "default ulimits overwritten",
        severity: Low,
        rules: &[],
        test: Some(ulimits),
        fix: Fix {
            docker: "docker run --ulimit nofile=1024:4096 (or dockerd --default-ulimit)",
            k8s: "set the runtime's default rlimits (containerd/CRI-O config), or run through Rampart",
            oci: "set RLIMIT_NOFILE in process.rlimits",
        },
    },
    Check {
        id: "CIS-5.20",
        benchmark: B,
        title: "mount propagation not shared",
        severity: High,
        rules: &["shared-propagation"],
        test: None,
        fix: Fix {
            docker: "drop :shared/:rshared from -v (use the default rprivate)",
            k8s: "volumeMounts[].mountPropagation: None",
            oci: "no shared/rshared in mounts[].options or linux.rootfsPropagation",
        },
    },
    Check {
        id: "CIS-5.21",
        benchmark: B,
        title: "host UTS namespace not shared",
        severity: Medium,
        rules: &["host-uts"],
        test: None,
        fix: Fix {
            docker: "drop --uts host",
            k8s: "spec.hostNetwork: false (it brings the host's UTS namespace)",
            oci: "add {\"type\": \"uts\"} to linux.namespaces",
        },
    },
    Check {
        id: "CIS-5.22",
        benchmark: B,
        title: "seccomp not disabled",
        severity: High,
        rules: &[],
        test: Some(seccomp),
        fix: Fix {
            docker: "drop --security-opt seccomp=unconfined (and --privileged)",
            k8s: "securityContext.seccompProfile.type: RuntimeDefault",
            oci: "set linux.seccomp with a default action that denies",
        },
    },
    Check {
        id: "CIS-5.25",
        benchmark: B,
        title: "cgroup usage confirmed",
        severity: Low,
        rules: &[],
        test: Some(cgroup),
        fix: Fix {
            docker: "keep the default cgroup parent (or --cgroup-parent a slice with limits)",
            k8s: "the kubelet sets it; check the runtime's cgroup driver",
            oci: "set linux.cgroupsPath",
        },
    },
    Check {
        id: "CIS-5.26",
        benchmark: B,
        title: "no new privileges",
        severity: Medium,
        rules: &[],
        test: Some(nnp),
        fix: Fix {
            docker: "docker run --security-opt no-new-privileges (or dockerd --no-new-privileges)",
            k8s: "securityContext.allowPrivilegeEscalation: false",
            oci: "process.noNewPrivileges: true",
        },
    },
    Check {
        id: "CIS-5.29",
        benchmark: B,
        title: "PIDs cgroup limit used",
        severity: Medium,
        rules: &[],
        test: Some(pids),
        fix: Fix {
            docker: "docker run --pids-limit 1024",
            k8s: "kubelet podPidsLimit (or the runtime's pids limit)",
            oci: "set linux.resources.pids.limit",
        },
    },
    Check {
        id: "CIS-5.31",
        benchmark: B,
        title: "host user namespace not shared",
        severity: Medium,
        rules: &[],
        test: Some(userns),
        fix: Fix {
            docker: "enable dockerd --userns-remap=default (and never --userns=host)",
            k8s: "spec.hostUsers: false",
            oci: "add {\"type\": \"user\"} to linux.namespaces with uidMappings/gidMappings",
        },
    },
    Check {
        id: "CIS-5.32",
        benchmark: B,
        title: "container-engine socket not mounted",
        severity: Critical,
        rules: &["engine-socket"],
        test: None,
        fix: Fix {
            docker: "remove -v /var/run/docker.sock (or of a directory holding it, such as /run)",
            k8s: "remove the hostPath volume of the runtime socket or its directory",
            oci: "remove the bind mount of the engine socket or state directory",
        },
    },
];
