//! The hardening chain: one file per step, each a pure function over the spec that records
//! what it changed and why. Order matters: seccomp is rendered against the capabilities
//! that remain after the capability step.

use crate::change::{Change, Changes};
use crate::host::HostFacts;
use crate::profile::Profile;
use crate::spec::Spec;
use anyhow::{Context as _, Result};

pub mod capabilities;
pub mod lsm;
pub mod mounts;
pub mod no_new_privileges;
pub mod origin;
pub mod paths;
pub mod resources;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod userns;

/// What every step may look at besides the spec.
pub struct Context<'a> {
    pub profile: &'a Profile,
    pub host: &'a HostFacts,
    /// For `exec`: the capabilities the running container holds (from runc's state), which
    /// an exec'd process may not exceed.
    pub container_caps: Option<&'a [String]>,
    /// For `exec`: the running container's AppArmor profile (from runc's state; empty when it
    /// runs without one), which an exec'd process runs under too.
    pub container_apparmor: Option<&'a str>,
}

pub type StepFn = fn(&mut Spec, &Context, &mut Changes) -> Result<()>;

/// Steps for `create` and `run`, in order.
pub const CREATE: &[(&str, StepFn)] = &[
    ("capabilities", capabilities::apply),
    ("no_new_privileges", no_new_privileges::apply),
    ("seccomp", seccomp::apply),
    ("rootfs", rootfs::apply),
    ("mounts", mounts::apply),
    ("paths", paths::apply),
    ("resources", resources::apply),
    ("rlimits", rlimits::apply),
    ("userns", userns::apply),
    ("lsm", lsm::apply),
];

/// Steps for the process `exec` starts in a running container (`/process` of a spec
/// wrapped around the process.json).
pub const EXEC: &[(&str, StepFn)] = &[
    ("capabilities", capabilities::apply),
    ("no_new_privileges", no_new_privileges::apply),
    ("rlimits", rlimits::apply),
    ("lsm", lsm::apply_exec),
];

/// Steps for a recording run (`learn:NAME`, create and exec alike): the request's own
/// capabilities, seccomp, rootfs and mounts, with no-new-privileges forced (a profile
/// learned without it would fail under it).
pub const LEARN: &[(&str, StepFn)] = &[("no_new_privileges", no_new_privileges::apply)];

/// The steps `create` runs under `profile`.
pub fn for_create(profile: &Profile) -> &'static [(&'static str, StepFn)] {
    if profile.learning.is_some() {
        LEARN
    } else {
        CREATE
    }
}

/// The steps `exec` runs under `profile`.
pub fn for_exec(profile: &Profile) -> &'static [(&'static str, StepFn)] {
    if profile.learning.is_some() {
        LEARN
    } else {
        EXEC
    }
}

/// Runs `steps` over `spec`, then checks the result is still a valid spec.
pub fn harden(
    spec: &mut Spec,
    cx: &Context,
    steps: &[(&'static str, StepFn)],
) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    for (name, step) in steps {
        step(spec, cx, &mut Changes::new(name, &mut out))
            .with_context(|| format!("hardening step {name}"))?;
        crate::debug::part(name);
    }
    // The request was validated against oci-spec's model when it was parsed, and every step
    // writes values built from oci-spec's types or its own literals. Re-validating the whole
    // document costs a second full decode on every create, so release builds leave it to
    // the test builds (unit tests, tests/props.rs's generated specs and every CLI/e2e test
    // run this check on each hardened spec) and to runc itself, which decodes config.json
    // with the same Go types and refuses to start on a mismatch (fail closed).
    if cfg!(debug_assertions) {
        spec.validate_typed()
            .context("the hardened spec does not validate (a Rampart bug; nothing was started)")?;
    }
    Ok(out)
}

/// The profiles' masked-path patterns that need host facts (globs).
pub fn host_patterns(profile: &Profile) -> Vec<String> {
    profile
        .paths
        .masked
        .iter()
        .chain(&profile.paths.readonly)
        .filter(|p| p.contains('*'))
        .cloned()
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::host::HostFacts;
    use crate::profile::{Profile, ProfileSource};
    use crate::spec::Spec;

    pub fn fixture(name: &str) -> Spec {
        let path = format!("{}/tests/fixtures/specs/{name}", env!("CARGO_MANIFEST_DIR"));
        Spec::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
    }

    pub fn profile(name: &str) -> Profile {
        ProfileSource::default().load(name).unwrap()
    }

    /// Test facts; the dockerd pids of the captured Docker specs' hooks are dockerd.
    pub fn facts() -> HostFacts {
        let mut h = HostFacts::for_tests();
        for pid in [3094, 10639] {
            h.proc_exes
                .insert(format!("/proc/{pid}/exe"), "/usr/sbin/dockerd".into());
        }
        h
    }

    /// Every captured spec in tests/fixtures/specs.
    pub fn all_fixtures() -> Vec<(String, Spec)> {
        let root = format!("{}/tests/fixtures/specs", env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(&root)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    let name = p.strip_prefix(&root).unwrap().display().to_string();
                    out.push((name, Spec::from_slice(&std::fs::read(&p).unwrap()).unwrap()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use serde_json::Value;

    fn strs(s: &Spec, ptr: &str) -> Vec<String> {
        s.typed(ptr).unwrap().unwrap_or_default()
    }
    fn num(s: &Spec, ptr: &str) -> Option<i64> {
        s.get(ptr).and_then(Value::as_i64).filter(|v| *v > 0)
    }

    /// Tighten only: for every captured spec and every built-in profile, the output is never
    /// weaker than the input on any axis, and a second pass changes nothing.
    #[test]
    fn output_never_weaker_than_input_and_idempotent() {
        for (name, input) in all_fixtures() {
            for pname in ["restricted", "baseline"] {
                let (p, h) = (profile(pname), facts());
                let cx = Context {
                    profile: &p,
                    host: &h,
                    container_caps: None,
                    container_apparmor: None,
                };
                let mut out = input.clone();
                harden(&mut out, &cx, CREATE).unwrap_or_else(|e| panic!("{name}/{pname}: {e:#}"));
                let at = format!("{name} under {pname}");
                for set in [
                    "bounding",
                    "effective",
                    "permitted",
                    "inheritable",
                    "ambient",
                ] {
                    let (i, o) = (
                        strs(&input, &format!("/process/capabilities/{set}")),
                        strs(&out, &format!("/process/capabilities/{set}")),
                    );
                    assert!(o.iter().all(|c| i.contains(c)), "{at}: {set} gained {o:?}");
                }
                assert_eq!(
                    out.get("/process/noNewPrivileges"),
                    Some(&Value::Bool(true)),
                    "{at}"
                );
                for list in ["/linux/maskedPaths", "/linux/readonlyPaths"] {
                    let (i, o) = (strs(&input, list), strs(&out, list));
                    assert!(i.iter().all(|x| o.contains(x)), "{at}: {list} lost entries");
                }
                if input.get("/root/readonly") == Some(&Value::Bool(true)) {
                    assert_eq!(out.get("/root/readonly"), Some(&Value::Bool(true)), "{at}");
                }
                for lim in [
                    "/linux/resources/pids/limit",
                    "/linux/resources/memory/limit",
                    "/linux/resources/cpu/quota",
                ] {
                    let o = num(&out, lim).unwrap_or_else(|| panic!("{at}: {lim} unset"));
                    assert!(
                        num(&input, lim).is_none_or(|i| o <= i),
                        "{at}: {lim} raised"
                    );
                }
                assert!(
                    out.get("/linux/seccomp").is_some() || out.get("/linux").is_none(),
                    "{at}: no seccomp"
                );
                let mut again = out.clone();
                let second = harden(&mut again, &cx, CREATE).unwrap();
                assert!(
                    second.iter().all(|c| c.before == c.after),
                    "{at}: second pass changed {second:?}"
                );
                assert_eq!(again, out, "{at}: not idempotent");
            }
        }
    }
}
