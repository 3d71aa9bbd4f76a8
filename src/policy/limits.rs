//! Explicit limits above the profile's ceilings. What a user asked for (`docker run -m 64g`,
//! `--pids-limit -1`, `--ulimit nofile=4194304`, a pod's `resources.limits`) is honoured or
//! refused loudly, never silently lowered: at or below the ceiling the hardening steps keep
//! it exactly; above it this rule refuses it, naming the flag, the value, the ceiling and the
//! fix. With `[resources] on_ceiling = "clamp"` the rule stays quiet and the steps lower the
//! value to the ceiling (audited). What the engine filled in by default is never judged here
//! (see [`crate::steps::origin`]).

use super::{Rule, Violation};
use crate::profile::OnCeiling;
use crate::steps::{resources, rlimits};
use serde_json::json;

/// Whether the spec was written by a Kubernetes runtime from a pod spec.
fn kubernetes(spec: &crate::spec::Spec) -> bool {
    [
        "/annotations/io.kubernetes.cri.container-type",
        "/annotations/io.kubernetes.cri-o.ContainerType",
    ]
    .iter()
    .any(|p| spec.get(p).is_some())
}

pub const RESOURCE_ABOVE_CEILING: Rule = Rule {
    id: "resource-above-ceiling",
    title: "limit above the profile's ceiling",
    reference: "CIS Docker 5.10-5.12, 5.28",
    fix: "ask for at most the ceiling named below (-m, --pids-limit, --cpus, --ulimit; Kubernetes: resources.limits)",
    check: |spec, cx| {
        let p = cx.profile;
        if p.resources.on_ceiling == OnCeiling::Clamp {
            return Ok(vec![]);
        }
        let k8s = kubernetes(spec);
        let mut out = Vec::new();
        for o in resources::over_ceiling(spec, &p.resources)? {
            let (v, c) = (
                resources::shown(o.axis, o.value, o.period),
                resources::shown(o.axis, o.ceiling, o.period),
            );
            let flag = o.axis.flag(k8s);
            out.push(Violation::new(
                o.field,
                json!(o.value),
                format!(
                    "{flag} {v} is above the ceiling {c}: ask for at most {c}, or an admin raises {} under [resources] (or sets on_ceiling = \"clamp\")",
                    o.ceiling_key
                ),
            ));
        }
        for o in rlimits::over_ceiling(spec, p, cx.host)? {
            let name = o.kind.trim_start_matches("RLIMIT_").to_lowercase();
            let c = rlimits::shown(o.ceiling);
            let fix = if o.host {
                format!(
                    "the host's hard limit is {c} and Rampart lacks CAP_SYS_RESOURCE to raise it (runc would fail); ask for at most {c}, or an admin raises the host's limit"
                )
            } else {
                format!(
                    "ask for at most {c}, or an admin raises max of rlimits.{} (or sets on_ceiling = \"clamp\" under [resources])",
                    o.kind
                )
            };
            out.push(Violation::new(
                format!("/process/rlimits/{}", o.index),
                json!({"type": o.kind, "soft": o.soft, "hard": o.hard}),
                format!(
                    "--ulimit {name}={}:{} is above the ceiling {c}: {fix}",
                    rlimits::shown(o.soft),
                    rlimits::shown(o.hard)
                ),
            ));
        }
        Ok(out)
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyContext;
    use crate::steps::testutil::{facts, fixture, profile};

    fn why(edit: impl Fn(&mut crate::spec::Spec), host_nofile: Option<u64>) -> Vec<String> {
        let p = profile("restricted");
        let mut h = facts();
        if let Some(n) = host_nofile {
            h.can_raise_rlimits = false;
            h.rlimit_hard.insert("RLIMIT_NOFILE".into(), n);
        }
        let mut s = fixture("docker-20.10/limits-explicit.json");
        edit(&mut s);
        let cx = PolicyContext {
            profile: &p,
            host: &h,
        };
        (RESOURCE_ABOVE_CEILING.check)(&s, &cx)
            .unwrap()
            .into_iter()
            .map(|v| format!("{} {}", v.field, v.why))
            .collect()
    }

    #[test]
    fn docker_explicit_limits_within_the_ceilings_pass() {
        assert!(why(|_| {}, None).is_empty());
        // Nothing the engines write by default is judged.
        for (name, s) in crate::steps::testutil::all_fixtures() {
            let (p, h) = (profile("restricted"), facts());
            let cx = PolicyContext {
                profile: &p,
                host: &h,
            };
            assert!(
                (RESOURCE_ABOVE_CEILING.check)(&s, &cx).unwrap().is_empty(),
                "{name}"
            );
        }
    }

    #[test]
    fn above_the_ceiling_names_flag_value_ceiling_and_fix() {
        let w = why(
            |s| {
                s.set("/linux/resources/memory/limit", json!(64i64 << 30))
                    .unwrap();
                s.set("/linux/resources/pids/limit", json!(-1)).unwrap();
                s.set("/linux/resources/cpu/quota", json!(1_600_000))
                    .unwrap();
                s.set("/linux/resources/cpu/shares", json!(100_000))
                    .unwrap();
                s.set(
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_NOFILE", "soft": 2_000_000, "hard": 2_000_000}]),
                )
                .unwrap();
            },
            None,
        );
        assert_eq!(
            w,
            [
                "/linux/resources/pids/limit --pids-limit -1 (unlimited) is above the ceiling 32768: ask for at most 32768, or an admin raises pids_max under [resources] (or sets on_ceiling = \"clamp\")",
                "/linux/resources/memory/limit -m/--memory 64g is above the ceiling 16g: ask for at most 16g, or an admin raises memory_max_bytes under [resources] (or sets on_ceiling = \"clamp\")",
                "/linux/resources/cpu/shares --cpu-shares 100000 is above the ceiling 8192: ask for at most 8192, or an admin raises cpu_shares_max under [resources] (or sets on_ceiling = \"clamp\")",
                "/linux/resources/cpu/quota --cpus 16 is above the ceiling 8: ask for at most 8, or an admin raises cpus_max under [resources] (or sets on_ceiling = \"clamp\")",
                "/process/rlimits/0 --ulimit nofile=2000000:2000000 is above the ceiling 524288: ask for at most 524288, or an admin raises max of rlimits.RLIMIT_NOFILE (or sets on_ceiling = \"clamp\" under [resources])",
            ]
        );
    }

    #[test]
    fn explicit_ulimit_above_what_the_host_grants_is_refused() {
        let w = why(|_| {}, Some(8192));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("nofile=16384:16384 is above the ceiling 8192")
                && w[0].contains("CAP_SYS_RESOURCE"),
            "{}",
            w[0]
        );
        // This machine's 20000 grants Docker's 16384.
        assert!(why(|_| {}, Some(20000)).is_empty());
    }

    #[test]
    fn kubernetes_names_the_pod_spec_field_and_clamp_mode_is_quiet() {
        let mut s = fixture("containerd-1.6-cri/container.json");
        s.set(
            "/linux/resources",
            json!({"memory": {"limit": 32i64 << 30}}),
        )
        .unwrap();
        let mut p = profile("restricted");
        let h = facts();
        let cx = PolicyContext {
            profile: &p,
            host: &h,
        };
        let v = (RESOURCE_ABOVE_CEILING.check)(&s, &cx).unwrap();
        assert!(v[0].why.starts_with("resources.limits.memory 32g"), "{v:?}");
        p.resources.on_ceiling = OnCeiling::Clamp;
        let cx = PolicyContext {
            profile: &p,
            host: &h,
        };
        assert!((RESOURCE_ABOVE_CEILING.check)(&s, &cx).unwrap().is_empty());
    }
}
