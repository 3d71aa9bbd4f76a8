//! Step: install Rampart's default-deny seccomp allow-list, rendered for the host
//! architecture and the container's final bounding set, intersected with any profile the
//! request carries (the result allows nothing either denies).

use super::Context;
use crate::change::Changes;
use crate::seccomp;
use crate::spec::Spec;
use anyhow::Result;

const FIELD: &str = "/linux/seccomp";

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let policy = &cx.profile.seccomp;
    let list = seccomp::load(&policy.profile)?;
    let bounding = super::capabilities::bounding(spec);
    // Borrowed, not cloned: Docker's profile alone is most of a 9 KB spec.
    let before = spec.get(FIELD);
    let h = seccomp::harden(&list, policy, cx.host.arch, &bounding, before)?;
    if before == Some(&h.seccomp) {
        return Ok(());
    }
    let before_summary = seccomp::summary(before);
    let after_summary = seccomp::summary(Some(&h.seccomp));
    let reason = reason(&list.name, policy, &h);
    spec.set(FIELD, h.seccomp)?;
    ch.record(FIELD, before_summary, after_summary, reason);
    Ok(())
}

fn reason(list: &str, policy: &crate::profile::SeccompPolicy, h: &seccomp::Hardened) -> String {
    let mut s = format!("default-deny allow-list {list} ({} syscalls", h.listed);
    if !policy.deny_groups.is_empty() {
        s += &format!("; groups left out: {}", policy.deny_groups.join(", "));
    }
    if let Some(only) = &policy.syscalls {
        s += &format!(
            "; narrowed to the profile's {} syscalls",
            only.len() + policy.compat_syscalls.as_ref().map_or(0, Vec::len)
        );
    }
    s += ")";
    if !h.intersected {
        s += " installed; request had none";
        return s;
    }
    s += &format!(
        " intersected with the request's profile ({} names it denies stay denied; {} allowed)",
        h.denied_by_request, h.allowed
    );
    if !h.filtered_by_request.is_empty() {
        s += &format!(
            "; the request's argument filters are kept for {}",
            h.filtered_by_request.join(", ")
        );
    }
    if !h.uncombinable.is_empty() {
        s += &format!(
            "; denied because the two argument filters could not be combined: {}",
            h.uncombinable.join(", ")
        );
    }
    for n in &h.notes {
        s += "; ";
        s += n;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::steps::testutil::*;
    use crate::steps::{capabilities, harden};
    use serde_json::{Value, json};

    const STEPS: &[(&str, crate::steps::StepFn)] =
        &[("capabilities", capabilities::apply), ("seccomp", apply)];

    fn run(spec: &mut Spec, profile_name: &str) -> Vec<Change> {
        run_under(spec, &profile(profile_name))
    }

    fn run_under(spec: &mut Spec, p: &crate::profile::Profile) -> Vec<Change> {
        let h = facts();
        let cx = Context {
            profile: p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        harden(spec, &cx, STEPS)
            .unwrap()
            .into_iter()
            .filter(|c| c.step == "seccomp")
            .collect()
    }

    fn names(spec: &Spec) -> Vec<String> {
        spec.get(FIELD).unwrap()["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| r["names"].as_array().unwrap().iter())
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn installs_the_list_when_the_request_has_none() {
        for fx in [
            "runc-spec-default.json",
            "docker-20.10/seccomp-unconfined.json",
            "docker-20.10/privileged.json",
        ] {
            let mut s = fixture(fx);
            assert!(s.get(FIELD).is_none(), "{fx}");
            let ch = run(&mut s, "restricted");
            assert_eq!(ch.len(), 1, "{fx}: {ch:?}");
            let c = &ch[0];
            assert_eq!((c.field.as_str(), &c.before), (FIELD, &Value::Null));
            assert!(
                c.reason.contains("rampart-default") && c.reason.contains("request had none"),
                "{}",
                c.reason
            );
            assert!(c.reason.contains("groups left out: ptrace"), "{}", c.reason);
            assert_eq!(c.after["defaultAction"], "SCMP_ACT_ERRNO");
            assert_eq!(c.after["architectures"], json!(["SCMP_ARCH_X86_64"]));
            assert!(c.after["allowed"].as_u64().unwrap() > 250);
            // A summary, not the list: the record is one line of an audit log.
            assert!(serde_json::to_string(c).unwrap().len() < 1024, "{c:?}");
            let n = names(&s);
            assert!(
                n.iter().any(|x| x == "read") && !n.iter().any(|x| x == "ptrace" || x == "chroot")
            );
        }
    }

    #[test]
    fn intersects_dockers_profile_and_renders_against_the_final_bounding_set() {
        // Docker grants CAP_SYS_CHROOT; baseline keeps it, so chroot stays allowed.
        let mut s = fixture("docker-20.10/default.json");
        let ch = run(&mut s, "baseline");
        assert_eq!(ch.len(), 1);
        let c = &ch[0];
        assert!(
            c.reason.contains("intersected with the request's profile"),
            "{}",
            c.reason
        );
        assert_eq!(c.before["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(c.before["rules"], 12);
        let n = names(&s);
        assert!(n.iter().any(|x| x == "chroot") && n.iter().any(|x| x == "ptrace"));
        assert!(serde_json::to_string(c).unwrap().len() < 2048);
        // restricted drops every capability: no chroot, and no ptrace (group left out).
        let mut s = fixture("docker-20.10/default.json");
        run(&mut s, "restricted");
        let n = names(&s);
        assert!(!n.iter().any(|x| x == "chroot" || x == "ptrace"));
    }

    /// `[seccomp] syscalls` only narrows: names outside it are denied, names it lists that
    /// the allow-list (or a group the profile leaves out) denies stay denied, the list's own
    /// argument filters and errno rules stay.
    #[test]
    fn a_profile_syscall_list_only_narrows() {
        let mut p = profile("restricted");
        p.seccomp.syscalls = Some(
            [
                "read", "write", "execve", "socket", "clone", "ptrace", "chroot",
            ]
            .map(String::from)
            .to_vec(),
        );
        for fx in ["runc-spec-default.json", "docker-20.10/default.json"] {
            let mut s = fixture(fx);
            let ch = run_under(&mut s, &p);
            assert!(
                ch[0]
                    .reason
                    .contains("narrowed to the profile's 7 syscalls"),
                "{}",
                ch[0].reason
            );
            assert_eq!(names(&s), ["execve", "read", "write"], "{fx}");
            let rules = spec_rules(&s);
            // socket and clone keep their argument filters; clone3 still answers ENOSYS.
            assert!(
                rules
                    .iter()
                    .any(|r| r["names"] == json!(["socket"]) && r.get("args").is_some())
            );
            assert!(
                rules
                    .iter()
                    .any(|r| r["names"] == json!(["clone"]) && r.get("args").is_some())
            );
            assert!(
                rules
                    .iter()
                    .any(|r| r["names"] == json!(["clone3"]) && r["action"] == "SCMP_ACT_ERRNO")
            );
            let all: Vec<&Value> = rules
                .iter()
                .flat_map(|r| r["names"].as_array().unwrap())
                .collect();
            for denied in ["ptrace", "chroot", "openat", "mount"] {
                assert!(
                    !rules.iter().any(|r| r["action"] == "SCMP_ACT_ALLOW"
                        && r["names"].as_array().unwrap().iter().any(|n| n == denied)),
                    "{denied} {all:?}"
                );
            }
            // Twice is once.
            let mut again = s.clone();
            let ch = run_under(&mut again, &p);
            assert!(ch.is_empty(), "{ch:?}");
            assert_eq!(again, s);
        }
    }

    fn spec_rules(spec: &Spec) -> Vec<Value> {
        spec.get(FIELD).unwrap()["syscalls"]
            .as_array()
            .unwrap()
            .clone()
    }

    #[test]
    fn idempotent_on_every_fixture() {
        for (name, spec) in all_fixtures() {
            for p in ["restricted", "baseline"] {
                let mut once = spec.clone();
                run(&mut once, p);
                let mut twice = once.clone();
                let ch = run(&mut twice, p);
                assert!(ch.is_empty(), "{name} under {p}: {ch:?}");
                assert_eq!(twice, once, "{name} under {p}");
            }
        }
    }

    #[test]
    fn fails_closed_on_a_profile_it_cannot_read() {
        let (p, h) = (profile("restricted"), facts());
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        for (ptr, bad) in [
            ("/linux/seccomp/defaultAction", json!("SCMP_ACT_SOMETIMES")),
            ("/linux/seccomp/architectures/0", json!("SCMP_ARCH_PDP11")),
            (
                "/linux/seccomp/syscalls/2/args/0/op",
                json!("SCMP_CMP_ABOUT"),
            ),
        ] {
            let mut s = fixture("docker-20.10/default.json");
            s.set(ptr, bad.clone()).unwrap();
            let mut out = Vec::new();
            let e = apply(&mut s, &cx, &mut Changes::new("seccomp", &mut out)).unwrap_err();
            let msg = format!("{e:#}");
            assert!(msg.contains(bad.as_str().unwrap()), "{msg}");
            assert!(out.is_empty());
        }
    }
}
