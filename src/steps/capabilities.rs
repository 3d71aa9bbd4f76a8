//! Step: capabilities = request ∩ profile allow-list; inheritable and ambient always empty
//! (CVE-2022-29162: an inheritable set lets exec of a file-capability binary regain caps).

use super::Context;
use crate::change::Changes;
use crate::spec::Spec;
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::str::FromStr;

const SETS: [&str; 5] = [
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
];

/// Parses a capability name as the OCI spec writes it (`CAP_NET_BIND_SERVICE`).
pub fn parse_cap(name: &str) -> Result<caps::Capability> {
    match caps::Capability::from_str(name) {
        Ok(c) if name.starts_with("CAP_") => Ok(c),
        _ => bail!("unknown capability {name:?} (names look like CAP_NET_BIND_SERVICE)"),
    }
}

const NET_BIND: &str = "CAP_NET_BIND_SERVICE";
const PORT_SYSCTL: &str = "/linux/sysctl/net.ipv4.ip_unprivileged_port_start";

/// Create: the capabilities an engine filled in by default are tightened to the profile's
/// `allow` (silently, audited); those the user asked for by name ([`crate::cap_request`])
/// are kept when the profile's `allow` or `grantable` lists them (a request for any other is
/// refused by the policy rule capability-not-grantable before this step runs; with the rule
/// waived or the policy not enforced, it is dropped here, audited). Exec (`container_caps`):
/// the request ∩ what the running container holds ∩ (`allow` ∪ `grantable`).
pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let base = "/process/capabilities";
    let bounding_req: Vec<String> = spec.typed(&format!("{base}/bounding"))?.unwrap_or_default();
    for name in &bounding_req {
        parse_cap(name).map_err(|e| e.context(format!("{base}/bounding in config.json")))?;
    }
    let caps = &cx.profile.capabilities;
    // Explicit names are judged only on create: an exec'd process is bounded by the
    // container (runc's state), whatever its list looks like.
    let explicit: Vec<String> = match cx.container_caps {
        Some(_) => Vec::new(),
        None => crate::cap_request::explicit(&bounding_req),
    };
    let mut allow = caps.allow.clone();
    let mut note = String::new();
    if caps.net_bind_via_sysctl
        && allow.iter().any(|c| c == NET_BIND)
        && !explicit.iter().any(|c| c == NET_BIND)
        && ports_without_cap(spec, ch)?
    {
        allow.retain(|c| c != NET_BIND);
        note = format!(
            "; {NET_BIND} is not needed: net.ipv4.ip_unprivileged_port_start=0 in the container's own network namespace"
        );
    }
    let keeps = |c: &String| match cx.container_caps {
        Some(held) => held.contains(c) && caps.grants(c),
        None => allow.contains(c) || (explicit.contains(c) && caps.grants(c)),
    };
    for set in SETS {
        let field = format!("{base}/{set}");
        let requested: Vec<String> = spec.typed(&field)?.unwrap_or_default();
        for name in &requested {
            parse_cap(name).map_err(|e| e.context(format!("{field} in config.json")))?;
        }
        let mut kept: Vec<String> = Vec::new();
        if !matches!(set, "inheritable" | "ambient") {
            for c in requested.iter().filter(|c| keeps(c)) {
                if !kept.contains(c) {
                    kept.push(c.clone());
                }
            }
        }
        let dropped: Vec<&String> = requested.iter().filter(|c| !kept.contains(c)).collect();
        let granted: Vec<&String> = kept
            .iter()
            .filter(|c| cx.container_caps.is_none() && !allow.contains(c))
            .collect();
        let absent = spec.get(&field).is_none();
        let reordered = kept.len() != requested.len();
        if dropped.is_empty() && granted.is_empty() && !absent && !reordered {
            continue;
        }
        let reason = if absent {
            "set explicitly empty: a spec without it may leave runc's own capabilities in place"
                .to_string()
        } else if matches!(set, "inheritable" | "ambient") {
            format!(
                "{set} is always empty (CVE-2022-29162); dropped {}",
                list(&dropped)
            )
        } else {
            let mut parts = Vec::new();
            if !granted.is_empty() {
                parts.push(format!(
                    "{} granted on explicit request (profile {} grantable)",
                    list(&granted),
                    cx.profile.name
                ));
            }
            let (defaults, refused): (Vec<&String>, Vec<&String>) =
                dropped.iter().partition(|c| !explicit.contains(c));
            if !defaults.is_empty() {
                let why = match cx.container_caps {
                    None => format!(
                        "profile {} allows only [{}]",
                        cx.profile.name,
                        allow.join(", ")
                    ),
                    Some(_) => format!(
                        "no more than the running container holds, within profile {}'s allow and grantable lists",
                        cx.profile.name
                    ),
                };
                parts.push(format!("dropped {}: {why}{note}", list(&defaults)));
            }
            if !refused.is_empty() {
                parts.push(format!(
                    "dropped {}: asked for explicitly but not grantable under profile {} (rule capability-not-grantable)",
                    list(&refused),
                    cx.profile.name
                ));
            }
            if parts.is_empty() {
                parts.push("each capability once".to_string());
            }
            parts.join("; ")
        };
        if !ch.set(spec, &field, json!(kept), &reason)? {
            ch.note(&field, reason); // granted, nothing else to change: audited all the same
        }
    }
    Ok(())
}

/// True when low ports can be bound without CAP_NET_BIND_SERVICE: the container has a
/// network namespace of its own (an entry without `path`) and the port sysctl is, or is
/// now made, 0. Never touches a namespace joined by path (it may be the host's).
fn ports_without_cap(spec: &mut Spec, ch: &mut Changes) -> Result<bool> {
    let namespaces: Vec<oci_spec::runtime::LinuxNamespace> =
        spec.typed("/linux/namespaces")?.unwrap_or_default();
    let private_net = namespaces
        .iter()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network && n.path().is_none());
    if !private_net || spec.get("/process").is_none() {
        return Ok(false);
    }
    match spec.get(PORT_SYSCTL).and_then(Value::as_str) {
        Some("0") => Ok(true),
        Some(_) => Ok(false),
        None => {
            ch.set(spec, PORT_SYSCTL, json!("0"), "lets the container bind ports below 1024 in its own network namespace instead of holding CAP_NET_BIND_SERVICE")?;
            Ok(true)
        }
    }
}

fn list(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bounding set after the step ran (seccomp renders against it).
pub fn bounding(spec: &Spec) -> Vec<String> {
    match spec.get("/process/capabilities/bounding") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::steps::testutil::*;

    fn run(spec: &mut Spec, profile: &str, held: Option<&[String]>) -> Vec<Change> {
        let (p, h) = (profile_(profile), facts());
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: held,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(spec, &cx, &mut Changes::new("capabilities", &mut out)).unwrap();
        out
    }
    fn profile_(n: &str) -> crate::profile::Profile {
        profile(n)
    }
    fn set(spec: &Spec, s: &str) -> Vec<String> {
        spec.typed(&format!("/process/capabilities/{s}"))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn restricted_empties_docker_default() {
        let mut s = fixture("docker-20.10/default.json");
        let changes = run(&mut s, "restricted", None);
        // Docker asks for NET_BIND_SERVICE, but its private netns has the port sysctl at 0.
        for k in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            assert!(set(&s, k).is_empty(), "{k}");
        }
        for k in ["inheritable", "ambient"] {
            assert!(set(&s, k).is_empty());
        }
        assert!(changes.iter().any(|c| c.reason.contains("CAP_SYS_CHROOT")));
    }

    #[test]
    fn net_bind_service_kept_where_only_it_can_bind_low_ports() {
        // Host network (joined by path): the cap stays, no sysctl is written.
        let mut s = fixture("docker-20.10/hostnet.json");
        run(&mut s, "restricted", None);
        assert_eq!(set(&s, "bounding"), vec!["CAP_NET_BIND_SERVICE"]);
        // containerd's spec has a private netns but no sysctl: Rampart adds it.
        let mut c = fixture("containerd-1.6-ctr/default.json");
        run(&mut c, "restricted", None);
        assert!(set(&c, "bounding").is_empty());
        assert_eq!(c.get(PORT_SYSCTL), Some(&json!("0")));
        // A request that set the sysctl to something else keeps its cap.
        let mut d = fixture("docker-20.10/default.json");
        d.set(PORT_SYSCTL, json!("1024")).unwrap();
        run(&mut d, "restricted", None);
        assert_eq!(set(&d, "bounding"), vec!["CAP_NET_BIND_SERVICE"]);
    }

    #[test]
    fn baseline_drops_net_raw_mknod_audit_write_only() {
        let mut s = fixture("docker-20.10/default.json");
        run(&mut s, "baseline", None);
        let b = set(&s, "bounding");
        assert_eq!(b.len(), 11);
        for gone in ["CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"] {
            assert!(!b.contains(&gone.to_string()));
        }
    }

    #[test]
    fn every_fixture_ends_within_allow_list_and_never_gains() {
        for (name, mut s) in all_fixtures() {
            let before: Vec<String> = s
                .typed("/process/capabilities/bounding")
                .unwrap()
                .unwrap_or_default();
            run(&mut s, "baseline", None);
            let caps = profile("baseline").capabilities;
            for k in ["bounding", "effective", "permitted"] {
                for c in set(&s, k) {
                    assert!(caps.grants(&c) && before.contains(&c), "{name} {k} {c}");
                }
            }
        }
    }

    #[test]
    fn explicit_requests_are_granted_where_grantable_and_defaults_tightened() {
        // --cap-drop ALL --cap-add CHOWN --cap-add SETGID: both kept, in every set, audited.
        let mut s = fixture("docker-20.10/capdrop-all-add.json");
        let changes = run(&mut s, "restricted", None);
        for k in ["bounding", "effective", "permitted"] {
            assert_eq!(set(&s, k), vec!["CAP_CHOWN", "CAP_SETGID"], "{k}");
        }
        assert!(set(&s, "inheritable").is_empty() && set(&s, "ambient").is_empty());
        assert!(
            changes
                .iter()
                .any(|c| c.reason.contains("granted on explicit request")),
            "{changes:?}"
        );
        // --cap-add CHOWN: the 14 defaults are tightened, the added CHOWN kept once.
        let mut s = fixture("docker-20.10/capadd-chown.json");
        run(&mut s, "restricted", None);
        assert_eq!(set(&s, "bounding"), vec!["CAP_CHOWN"]);
        // --cap-drop NET_RAW alone: still the defaults, tightened as ever.
        let mut s = fixture("docker-20.10/capdrop-netraw.json");
        run(&mut s, "restricted", None);
        assert!(set(&s, "bounding").is_empty());
        // With the refusal waived (or the policy in audit mode) SYS_ADMIN is dropped, audited.
        let mut s = fixture("docker-20.10/capadd-chown-setuid.json");
        let changes = run(&mut s, "restricted", None);
        assert_eq!(set(&s, "bounding"), vec!["CAP_CHOWN", "CAP_SETUID"]);
        assert!(
            changes.iter().any(|c| c
                .reason
                .contains("CAP_SYS_ADMIN: asked for explicitly but not grantable")),
            "{changes:?}"
        );
    }

    #[test]
    fn net_bind_service_asked_for_by_name_is_kept_in_a_private_netns() {
        let mut s = fixture("docker-20.10/capdrop-all-add.json");
        for k in ["bounding", "effective", "permitted"] {
            s.set(
                &format!("/process/capabilities/{k}"),
                json!(["CAP_NET_BIND_SERVICE"]),
            )
            .unwrap();
        }
        run(&mut s, "restricted", None);
        assert_eq!(set(&s, "bounding"), vec!["CAP_NET_BIND_SERVICE"]);
        assert_eq!(set(&s, "effective"), vec!["CAP_NET_BIND_SERVICE"]);
    }

    #[test]
    fn missing_capabilities_become_explicitly_empty_and_step_is_idempotent() {
        let mut s = Spec::from_value(serde_json::json!({"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0}}})).unwrap();
        assert_eq!(run(&mut s, "restricted", None).len(), 5);
        assert!(set(&s, "bounding").is_empty());
        assert!(run(&mut s, "restricted", None).is_empty());
    }

    #[test]
    fn exec_cannot_exceed_the_running_container() {
        let mut s = fixture("docker-20.10/capadd-all.json");
        let held = vec!["CAP_CHOWN".to_string()];
        run(&mut s, "baseline", Some(&held));
        assert_eq!(set(&s, "bounding"), vec!["CAP_CHOWN"]);
        // A container granted CHOWN and SETUID on request: exec keeps those it asks for,
        // never more, and never a grantable name the container was not given.
        let held = vec!["CAP_CHOWN".to_string(), "CAP_SETUID".to_string()];
        let mut s = fixture("docker-20.10/capadd-chown-setuid.json");
        run(&mut s, "restricted", Some(&held));
        assert_eq!(set(&s, "bounding"), vec!["CAP_CHOWN", "CAP_SETUID"]);
        let mut s = fixture("docker-20.10/capdrop-all-add.json");
        run(&mut s, "restricted", Some(&held));
        assert_eq!(set(&s, "bounding"), vec!["CAP_CHOWN"]);
    }

    #[test]
    fn unknown_capability_names_fail_closed() {
        let mut s = Spec::from_value(
            serde_json::json!({"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_FLY"]}}}),
        );
        // oci-spec may already refuse it while parsing; either way it never passes.
        if let Ok(s) = s.as_mut() {
            let (p, h) = (profile("restricted"), facts());
            let cx = Context {
                profile: &p,
                host: &h,
                container_caps: None,
                container_apparmor: None,
            };
            let mut out = Vec::new();
            let err = apply(s, &cx, &mut Changes::new("capabilities", &mut out)).unwrap_err();
            assert!(format!("{err:#}").contains("CAP_FLY"));
        }
        assert!(
            parse_cap("CAP_FLY").is_err()
                && parse_cap("chown").is_err()
                && parse_cap("CAP_CHOWN").is_ok()
        );
    }
}
