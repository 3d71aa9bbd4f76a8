//! A capability asked for by name that the profile does not grant: refused, never dropped
//! in silence (the container would start and fail later, far from the cause).

use super::{PolicyContext, Rule, Violation};
use crate::profile::NEVER_GRANTED_BY_BUILTINS;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::json;

const FIELD: &str = "/process/capabilities/bounding";

pub const CAPABILITY_NOT_GRANTABLE: Rule = Rule {
    id: "capability-not-grantable",
    title: "capability asked for that the profile does not grant",
    reference: "CIS Docker 5.3; PSS restricted capabilities",
    fix: "drop that --cap-add (Kubernetes: capabilities.add) / use rampart-baseline or a profile that grants it",
    check,
};

fn check(spec: &Spec, cx: &PolicyContext) -> Result<Vec<Violation>> {
    // Every capability (--privileged, --cap-add ALL) is rule all-capabilities' to judge.
    if super::privileged::all_caps_requested(spec)?.is_some() {
        return Ok(Vec::new());
    }
    let bounding: Vec<String> = spec.typed(FIELD)?.unwrap_or_default();
    let caps = &cx.profile.capabilities;
    let mut grantable: Vec<&str> = caps
        .allow
        .iter()
        .chain(&caps.grantable)
        .map(String::as_str)
        .collect();
    grantable.sort_unstable();
    grantable.dedup();
    Ok(crate::cap_request::explicit(&bounding)
        .into_iter()
        .filter(|c| !caps.grants(c))
        .map(|c| {
            let short = c.trim_start_matches("CAP_");
            let why = format!(
                "--cap-add {short} asked for by name; profile {} grants only [{}] on request; {}",
                cx.profile.name,
                grantable.join(", "),
                fix(&c, &cx.profile.name)
            );
            Violation::new(FIELD, json!(c), why)
        })
        .collect())
}

/// What the built-in `baseline` grants (`allow` and `grantable`), for the fix message without
/// loading that profile (a unit test keeps the two the same).
const BASELINE_GRANTS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// How to get `cap`, as short as it can be said.
fn fix(cap: &str, profile: &str) -> String {
    if NEVER_GRANTED_BY_BUILTINS.contains(&cap) {
        return format!(
            "drop the --cap-add; no built-in profile grants {cap} (a way to the host), only an admin's own profile listing it in `grantable` under [capabilities]"
        );
    }
    let baseline_grants = profile != "baseline" && BASELINE_GRANTS.contains(&cap);
    if baseline_grants {
        "run with --runtime rampart-baseline (Kubernetes: its RuntimeClass) or ask an admin to add it to `grantable` under [capabilities]".to_string()
    } else {
        "drop the --cap-add, or ask an admin to add it to `grantable` under [capabilities] in a profile".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_grants_is_what_the_baseline_profile_grants() {
        let b = crate::profile::ProfileSource::default()
            .load("baseline")
            .unwrap();
        let mut have: Vec<&str> = b
            .capabilities
            .allow
            .iter()
            .chain(&b.capabilities.grantable)
            .map(String::as_str)
            .collect();
        have.sort_unstable();
        have.dedup();
        assert_eq!(have, BASELINE_GRANTS);
    }
    use crate::steps::testutil::{facts, fixture, profile};

    fn violations(name: &str, p: &str) -> Vec<Violation> {
        let (p, h) = (profile(p), facts());
        check(
            &fixture(name),
            &PolicyContext {
                profile: &p,
                host: &h,
            },
        )
        .unwrap()
    }

    #[test]
    fn sys_admin_by_name_is_refused_with_flag_list_and_fix() {
        let v = violations("docker-20.10/capadd-chown-setuid.json", "restricted");
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].value, json!("CAP_SYS_ADMIN"));
        for part in [
            "--cap-add SYS_ADMIN",
            "CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_NET_BIND_SERVICE, CAP_SETGID, CAP_SETUID",
            "no built-in profile grants",
        ] {
            assert!(v[0].why.contains(part), "{part}: {}", v[0].why);
        }
        // Kubernetes users find their field in the rule's fix, which the message leads with.
        assert!(CAPABILITY_NOT_GRANTABLE.fix.contains("capabilities.add"));
        // Baseline does not grant it either.
        assert_eq!(
            violations("docker-20.10/capadd-chown-setuid.json", "baseline").len(),
            1
        );
    }

    #[test]
    fn grantable_and_default_requests_pass() {
        for name in [
            "docker-20.10/default.json",
            "docker-20.10/capadd-chown.json",
            "docker-20.10/capdrop-all-add.json",
            "docker-20.10/capdrop-netraw.json",
            "docker-20.10/capadd-all.json", // all-capabilities' to judge
            "docker-20.10/privileged.json",
            "containerd-1.6-cri/container.json",
            "podman-4.3/default.json",
        ] {
            for p in ["restricted", "baseline", "isolated"] {
                assert!(violations(name, p).is_empty(), "{name} {p}");
            }
        }
    }

    #[test]
    fn a_default_restricted_drops_is_refused_when_asked_for_by_name() {
        // `--cap-drop ALL --cap-add NET_RAW`: baseline does not grant it either.
        let mut s = fixture("docker-20.10/capdrop-all-add.json");
        for set in ["bounding", "effective", "permitted"] {
            s.set(
                &format!("/process/capabilities/{set}"),
                json!(["CAP_NET_RAW", "CAP_SYS_NICE"]),
            )
            .unwrap();
        }
        let (p, h) = (profile("restricted"), facts());
        let v = check(
            &s,
            &PolicyContext {
                profile: &p,
                host: &h,
            },
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert!(v[0].why.contains("ask an admin"), "{}", v[0].why);
        // One that baseline grants points there.
        s.set("/process/capabilities/bounding", json!(["CAP_KILL"]))
            .unwrap();
        let v = check(
            &s,
            &PolicyContext {
                profile: &p,
                host: &h,
            },
        )
        .unwrap();
        assert!(
            v[0].why.contains("--runtime rampart-baseline"),
            "{}",
            v[0].why
        );
    }
}
