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

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let mut allow = cx.profile.capabilities.allow.clone();
    let mut note = String::new();
    if cx.profile.capabilities.net_bind_via_sysctl
        && allow.iter().any(|c| c == NET_BIND)
        && ports_without_cap(spec, ch)?
    {
        allow.retain(|c| c != NET_BIND);
        note = format!(
            "; {NET_BIND} is not needed: net.ipv4.ip_unprivileged_port_start=0 in the container's own network namespace"
        );
    }
    let allow = &allow;
    let base = "/process/capabilities";
    for set in SETS {
        let field = format!("{base}/{set}");
        let requested: Vec<String> = spec.typed(&field)?.unwrap_or_default();
        for name in &requested {
            parse_cap(name).map_err(|e| e.context(format!("{field} in config.json")))?;
        }
        let kept: Vec<String> = match set {
            "inheritable" | "ambient" => Vec::new(),
            _ => requested
                .iter()
                .filter(|c| allow.contains(c))
                .filter(|c| cx.container_caps.is_none_or(|held| held.contains(c)))
                .cloned()
                .collect(),
        };
        let dropped: Vec<&String> = requested.iter().filter(|c| !kept.contains(c)).collect();
        let absent = spec.get(&field).is_none();
        if dropped.is_empty() && !absent {
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
            let mut why = format!(
                "profile {} allows only [{}]",
                cx.profile.name,
                allow.join(", ")
            );
            if cx.container_caps.is_some() {
                why.push_str(" and no more than the running container holds");
            }
            format!("dropped {}: {why}{note}", list(&dropped))
        };
        ch.set(spec, &field, json!(kept), reason)?;
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
            let allow = profile("baseline").capabilities.allow;
            for k in ["bounding", "effective", "permitted"] {
                for c in set(&s, k) {
                    assert!(allow.contains(&c) && before.contains(&c), "{name} {k} {c}");
                }
            }
        }
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
