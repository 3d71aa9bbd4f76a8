//! Step: AppArmor and SELinux labels.
//!
//! AppArmor: where it is enabled and the profile's `apparmor_profile` (rampart-default) is
//! loaded, `process.apparmorProfile` is set to it. A profile the request names is kept, unless
//! it is an engine's default (`apparmor_replace`: docker-default, ...), which rampart-default
//! covers and tightens. `unconfined` is the policy rule apparmor-unconfined's business (refused
//! unless waived, and kept when waived). Where AppArmor is off or the profile is not loaded,
//! `apparmor_missing` decides: `skip` (recorded) or `refuse`.
//!
//! SELinux: a label the request has is kept; `selinux_type` is added only where SELinux is
//! enabled.
//!
//! `exec` ([`apply_exec`]): the process runs under the container's AppArmor profile. Docker
//! asks for the profile it recorded at create: docker-default, which Rampart replaced, or
//! `unconfined` for a `--privileged` container (run only where an admin waived the rules);
//! any other caller of `runc exec` may name a profile too. A different profile could leave
//! the exec'd process less confined than the container.

use super::Context;
use crate::change::Changes;
use crate::profile::{Mode, OnUnsupported};
use crate::spec::Spec;
use anyhow::Result;
use serde_json::{Value, json};

const AA: &str = "/process/apparmorProfile";
const SE: &str = "/process/selinuxLabel";

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    if spec.get("/process").is_none() {
        return Ok(());
    }
    apparmor(spec, cx, ch)?;
    let t = &cx.profile.lsm.selinux_type;
    let has_label = spec
        .get(SE)
        .and_then(Value::as_str)
        .is_some_and(|l| !l.is_empty());
    if !t.is_empty() && !has_label && cx.host.selinux_enabled {
        let label = format!("system_u:system_r:{t}:s0");
        let why = format!(
            "SELinux is enabled: profile {} runs containers as {t}",
            cx.profile.name
        );
        ch.set(spec, SE, json!(label), why)?;
    }
    Ok(())
}

/// Step for `exec`: an AppArmor profile the process asks for that is not the container's
/// own is set back to it.
pub fn apply_exec(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let Some(asked) = spec.get(AA).and_then(Value::as_str) else {
        return Ok(());
    };
    match exec_profile(asked, cx) {
        Some((Some(own), why)) => ch.set(spec, AA, json!(own), why).map(drop),
        Some((None, why)) => {
            let before = spec.remove(AA);
            ch.record(AA, before, Value::Null, why);
            Ok(())
        }
        None => Ok(()),
    }
}

/// What an exec'd process asking for AppArmor profile `asked` gets instead, if anything:
/// `Some((Some(profile), why))`, or `Some((None, why))` to leave the choice to runc (which
/// then uses the container's own profile).
pub fn exec_profile(asked: &str, cx: &Context) -> Option<(Option<String>, String)> {
    match cx.container_apparmor {
        _ if asked.is_empty() => None,
        Some(own) if own == asked => None,
        // The container runs without AppArmor: a profile for this process only confines more.
        Some("") => None,
        Some(own) => Some((
            Some(own.to_string()),
            format!("exec runs under the container's AppArmor profile {own}, not {asked}"),
        )),
        None if asked == "unconfined"
            && !cx
                .profile
                .policy
                .waive
                .iter()
                .any(|w| w == "apparmor-unconfined") =>
        {
            Some((
                None,
                format!(
                    "exec asked for AppArmor profile unconfined, which profile {} does not waive (apparmor-unconfined); runc uses the container's own profile",
                    cx.profile.name
                ),
            ))
        }
        None => None,
    }
}

fn replaceable(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == p,
    })
}

fn apparmor(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let lsm = &cx.profile.lsm;
    let want = lsm.apparmor_profile.as_str();
    if want.is_empty() {
        return Ok(());
    }
    let current = spec
        .get(AA)
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    if let Some(cur) = current
        && (cur == want || !replaceable(cur, &lsm.apparmor_replace))
    {
        return Ok(());
    }
    let missing = if !cx.host.apparmor_enabled {
        "AppArmor is not enabled on this host".to_string()
    } else if !cx.host.apparmor_profiles.iter().any(|p| p == want) {
        format!("the AppArmor profile {want} is not loaded (`rampart apparmor install` loads it)")
    } else {
        let why = match current {
            Some(cur) => format!(
                "{cur} is an engine default; profile {} uses {want}, which covers it and denies more",
                cx.profile.name
            ),
            None => format!(
                "profile {} confines containers with AppArmor profile {want}",
                cx.profile.name
            ),
        };
        ch.set(spec, AA, json!(want), why)?;
        return Ok(());
    };
    let kept = current
        .map(|c| format!(" (the request's {c} is kept)"))
        .unwrap_or_default();
    match (lsm.apparmor_missing, cx.profile.policy.mode) {
        (OnUnsupported::Skip, _) => {
            ch.note(
                AA,
                format!("{missing}: {want} not set{kept}, as apparmor_missing = \"skip\" allows"),
            );
            Ok(())
        }
        (OnUnsupported::Refuse, Mode::Enforce) => {
            let fix = if cx.host.apparmor_enabled {
                format!("an admin loads the AppArmor profile {want} (`rampart apparmor install`)")
            } else {
                "an admin enables AppArmor on this host".to_string()
            };
            Err(crate::policy::refusal(
                &cx.profile.name,
                &fix,
                &[format!("it requires AppArmor profile {want}, but {missing}")],
                "or apparmor_missing = \"skip\" under [lsm] in the profile runs it without AppArmor (recorded in the audit log)",
            )
            .into())
        }
        _ => {
            ch.note(
                AA,
                format!("{missing}: enforce mode refuses (apparmor_missing = \"refuse\")"),
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::host::HostFacts;
    use crate::profile::Profile;
    use crate::steps::testutil::*;
    use std::path::Path;

    /// Host facts from a fake securityfs tree (tests/fixtures/securityfs/NAME).
    fn host(name: &str) -> HostFacts {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/securityfs")
            .join(name);
        let l = crate::lsm::detect(&root);
        HostFacts {
            apparmor_enabled: l.apparmor_enabled,
            apparmor_profiles: l.apparmor_profiles,
            selinux_enabled: l.selinux_enabled,
            ..facts()
        }
    }

    /// The captured specs come from hosts without AppArmor; on one, Docker asks for its own.
    fn docker_on_apparmor() -> Spec {
        let mut s = fixture("docker-20.10/default.json");
        s.set(AA, json!("docker-default")).unwrap();
        s
    }

    fn run(s: &mut Spec, p: &Profile, h: &HostFacts) -> Result<Vec<Change>> {
        let cx = Context {
            profile: p,
            host: h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(s, &cx, &mut Changes::new("lsm", &mut out))?;
        Ok(out)
    }

    #[test]
    fn apparmor_enabled_and_loaded_sets_rampart_default() {
        let p = profile("restricted");
        let h = host("apparmor");
        let mut s = docker_on_apparmor();
        let out = run(&mut s, &p, &h).unwrap();
        assert_eq!(s.get(AA).unwrap(), "rampart-default");
        assert!(out[0].reason.contains("engine default"), "{out:?}");
        assert!(run(&mut s, &p, &h).unwrap().is_empty(), "idempotent");
        let mut s = fixture("runc-spec-default.json"); // none asked for
        run(&mut s, &p, &h).unwrap();
        assert_eq!(s.get(AA).unwrap(), "rampart-default");
        // A profile the request names on purpose (not an engine default) is kept, and so is
        // unconfined (refused by the policy rule unless an admin waived it).
        for named in ["my-strict-profile", "unconfined"] {
            let mut s = fixture("docker-20.10/default.json");
            s.set(AA, json!(named)).unwrap();
            assert!(run(&mut s, &p, &h).unwrap().is_empty());
            assert_eq!(s.get(AA).unwrap(), named);
        }
        let mut s = fixture("podman-4.3/default.json");
        s.set(AA, json!("containers-default-0.50.0")).unwrap();
        run(&mut s, &p, &h).unwrap();
        assert_eq!(s.get(AA).unwrap(), "rampart-default");
    }

    #[test]
    fn apparmor_absent_skips_with_a_record_or_refuses() {
        let p = profile("restricted");
        for (host_name, why) in [
            ("none", "AppArmor is not enabled"),
            ("apparmor-disabled", "AppArmor is not enabled"),
            ("lsm-list-without-apparmor", "AppArmor is not enabled"),
            ("apparmor-without-rampart", "rampart-default is not loaded"),
        ] {
            let h = host(host_name);
            let mut s = fixture("runc-spec-default.json");
            let orig = s.clone();
            let out = run(&mut s, &p, &h).unwrap();
            assert_eq!(s, orig, "{host_name}");
            assert!(
                out.len() == 1 && out[0].before == out[0].after && out[0].reason.contains(why),
                "{host_name}: {out:?}"
            );
            let mut strict = p.clone();
            strict.lsm.apparmor_missing = OnUnsupported::Refuse;
            let err = format!("{:#}", run(&mut s, &strict, &h).unwrap_err());
            assert!(
                err.contains(why) && err.contains("requires AppArmor"),
                "{err}"
            );
            strict.policy.mode = Mode::Complain;
            assert!(
                run(&mut s, &strict, &h).unwrap()[0]
                    .reason
                    .contains("enforce mode refuses")
            );
        }
        // Docker's request keeps docker-default where ours cannot be used.
        let mut s = docker_on_apparmor();
        let out = run(&mut s, &p, &host("apparmor-without-rampart")).unwrap();
        assert_eq!(s.get(AA).unwrap(), "docker-default");
        assert!(out[0].reason.contains("docker-default is kept"));
        let mut off = p.clone();
        off.lsm.apparmor_profile.clear();
        assert!(run(&mut s, &off, &host("none")).unwrap().is_empty());
    }

    /// `create`'s planning (pipeline::plan_spec, as `create` and `explain` run it) on a host
    /// whose LSM facts come from the fake securityfs trees.
    #[test]
    fn create_path_for_both_host_states() {
        struct FakeHost(&'static str);
        impl crate::host::Host for FakeHost {
            fn facts(&self, _: &[String]) -> HostFacts {
                host(self.0)
            }
            fn now(&self) -> std::time::SystemTime {
                std::time::SystemTime::UNIX_EPOCH
            }
            fn exec(&self, _: &Path, _: &[std::ffi::OsString]) -> anyhow::Error {
                anyhow::anyhow!("no exec in tests")
            }
            fn self_exe(&self) -> Option<std::path::PathBuf> {
                None
            }
            fn path_var(&self) -> Option<std::ffi::OsString> {
                None
            }
        }
        let dir = std::env::temp_dir().join(format!("rampart-lsm-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.json");
        std::fs::write(&config, fixture("docker-20.10/default.json").to_vec()).unwrap();
        let settings = crate::settings::Settings {
            profile: "restricted".into(),
            profile_from_flag: true,
            annotations: vec![],
            caller: None,
            annotation_callers: vec![],
            profiles: Default::default(),
            runtime: "/bin/true".into(),
            audit_log: dir.join("audit.log"),
            debug_log: None,
            learn_dir: None,
        };
        let plan = crate::pipeline::plan_spec(&config, &settings, &FakeHost("apparmor")).unwrap();
        assert_eq!(plan.spec.get(AA).unwrap(), "rampart-default");
        let plan = crate::pipeline::plan_spec(&config, &settings, &FakeHost("none")).unwrap();
        assert!(plan.spec.get(AA).is_none());
        assert!(
            plan.changes
                .iter()
                .any(|c| c.step == "lsm" && c.reason.contains("not enabled"))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn selinux_type_only_where_enabled_and_never_over_a_label() {
        let mut p = profile("restricted");
        p.lsm.selinux_type = "container_t".into();
        let mut s = fixture("runc-spec-default.json");
        let out = run(&mut s, &p, &host("none")).unwrap();
        assert!(s.get(SE).is_none() && out.iter().all(|c| c.field != SE));
        run(&mut s, &p, &host("selinux")).unwrap();
        assert_eq!(s.get(SE).unwrap(), "system_u:system_r:container_t:s0");
        let mut s = fixture("podman-4.3/default.json");
        s.set(SE, json!("system_u:system_r:spc_t:s0")).unwrap();
        run(&mut s, &p, &host("selinux")).unwrap();
        assert_eq!(s.get(SE).unwrap(), "system_u:system_r:spc_t:s0");
    }

    /// The exec step over a process asking for `asked`, in a container running under `own`.
    fn exec(asked: Option<&str>, own: Option<&str>, p: &Profile) -> (Option<Value>, Vec<Change>) {
        let mut s = Spec::from_value(
            json!({"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}}}),
        )
        .unwrap();
        if let Some(a) = asked {
            s.set(AA, json!(a)).unwrap();
        }
        let h = facts();
        let cx = Context {
            profile: p,
            host: &h,
            container_caps: None,
            container_apparmor: own,
        };
        let mut out = Vec::new();
        apply_exec(&mut s, &cx, &mut Changes::new("lsm", &mut out)).unwrap();
        (s.get(AA).cloned(), out)
    }

    #[test]
    fn exec_runs_under_the_containers_apparmor_profile() {
        let p = profile("restricted");
        let own = Some("rampart-default");
        // Docker asks for the profile it chose at create, which Rampart replaced.
        let (got, out) = exec(Some("docker-default"), own, &p);
        assert_eq!(got, Some(json!("rampart-default")));
        assert!(
            out[0].reason.contains("container's AppArmor profile"),
            "{out:?}"
        );
        // Asking for unconfined (Docker does for a --privileged container).
        assert_eq!(
            exec(Some("unconfined"), own, &p).0,
            Some(json!("rampart-default"))
        );
        // Nothing to change: the same profile, none asked for, or a container without one.
        for (asked, own) in [
            (Some("rampart-default"), own),
            (None, own),
            (Some("my-strict"), Some("")),
        ] {
            let (got, out) = exec(asked, own, &p);
            assert_eq!(got, asked.map(|a| json!(a)));
            assert!(out.is_empty(), "{asked:?} in {own:?}: {out:?}");
        }
        // The container's state unreadable: unconfined is left to runc (the container's own
        // profile), unless the profile waives apparmor-unconfined; other names stay.
        let (got, out) = exec(Some("unconfined"), None, &p);
        assert_eq!(got, None);
        assert!(out[0].reason.contains("does not waive"), "{out:?}");
        assert_eq!(
            exec(Some("docker-default"), None, &p).0,
            Some(json!("docker-default"))
        );
        let mut waiving = profile("restricted");
        waiving.policy.waive = vec!["apparmor-unconfined".into()];
        assert_eq!(
            exec(Some("unconfined"), None, &waiving).0,
            Some(json!("unconfined"))
        );
    }
}
