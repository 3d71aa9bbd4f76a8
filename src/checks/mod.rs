//! The benchmark, judged from a spec: CIS Docker Benchmark v1.6.0 section 5 (the 21 checks
//! a config.json decides), the Kubernetes Pod Security Standards (baseline and restricted)
//! and Rampart's own refusal rules. Used by `rampart audit`.
//!
//! A check that corresponds to a policy rule is DEFINED by it: `rules` names the rules of
//! [`crate::policy::RULES`], which are run as they are for `create`, and the check fails
//! when any of them fires. `test` adds what a rule does not say (a field the hardening steps
//! set, such as `root.readonly`). Evidence is the rules' own [`Violation`]: field, value, why.
//!
//! Results: `pass`, `fail`, or `n/a` (the check does not apply to this spec; the evidence
//! says why). Decisions a benchmark leaves open:
//! - CIS 5.2 (AppArmor) and 5.3 (SELinux): a container needs one of the two. With neither
//!   set both fail; with one set the other is n/a. Only `unconfined` is a failure for PSS.
//! - A pod container joins its sandbox's namespaces by `/proc/PID/ns/*` path. Where that
//!   path cannot be resolved here (a spec audited away from its node), host-namespace checks
//!   are n/a: the sandbox's spec decides them (audit it, or audit on the node with --root).
//!   Any other unresolvable path fails, as `create` would refuse it.
//! - CIS 5.6 also fails for a host-wide directory that holds engine state and sockets
//!   (`-v /run`, `-v /var/lib`): it is as sensitive as /etc.
//! - CIS 5.31: a spec without a user namespace shares the host's, so it fails (docker-bench
//!   passes it unless `--userns=host`, because it cannot see the daemon's userns-remap).

use crate::host::HostFacts;
use crate::policy::{self, PolicyContext, Violation, mounts};
use crate::profile::{Profile, RootUser, SensitiveMounts};
use crate::spec::Spec;
use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

mod cis;
mod pss;

pub use cis::{CIS, CIS_UNDECIDABLE};
pub use pss::{PSS, PSS_UNDECIDABLE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotApplicable => "n/a",
        }
    }
}

/// How to fix a failure, said the way each kind of user sets it.
#[derive(Debug, Clone, Copy)]
pub struct Fix {
    pub docker: &'static str,
    pub k8s: &'static str,
    pub oci: &'static str,
}

pub type Test = fn(&Spec, &Cx, Verdict) -> Result<Verdict>;

pub struct Check {
    pub id: &'static str,
    pub benchmark: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// Policy rules this check is defined by: it fails when any of them fires.
    pub rules: &'static [&'static str],
    /// What the rules do not decide; gets the rules' verdict.
    pub test: Option<Test>,
    pub fix: Fix,
}

/// Who wrote the spec, read from the annotations and paths engines leave in it: it picks
/// the wording of fixes and how a pod's namespaces are judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Kind {
    Docker,
    Podman,
    PodSandbox { pod: String },
    PodContainer { pod: String, container: String },
    Oci,
}

impl Kind {
    pub fn of(spec: &Spec) -> Kind {
        let ann: BTreeMap<String, String> = spec
            .typed("/annotations")
            .ok()
            .flatten()
            .unwrap_or_default();
        let get = |keys: &[&str]| keys.iter().find_map(|k| ann.get(*k)).cloned();
        let pod = || {
            let ns = get(&[
                "io.kubernetes.cri.sandbox-namespace",
                "io.kubernetes.pod.namespace",
            ]);
            let name = get(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]);
            format!(
                "{}/{}",
                ns.unwrap_or_else(|| "?".into()),
                name.unwrap_or_else(|| "?".into())
            )
        };
        match get(&[
            "io.kubernetes.cri.container-type",
            "io.kubernetes.cri-o.ContainerType",
        ])
        .as_deref()
        {
            Some("sandbox") => return Kind::PodSandbox { pod: pod() },
            Some("container") => {
                return Kind::PodContainer {
                    pod: pod(),
                    container: get(&[
                        "io.kubernetes.cri.container-name",
                        "io.kubernetes.container.name",
                    ])
                    .unwrap_or_else(|| "?".into()),
                };
            }
            _ => {}
        }
        if ann.get("io.container.manager").map(String::as_str) == Some("libpod") {
            return Kind::Podman;
        }
        let cgroup = spec
            .get("/linux/cgroupsPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let docker_bind = policy::bind_mounts(spec)
            .iter()
            .any(|(_, s, _, _)| s.starts_with("/var/lib/docker/containers/"));
        if cgroup.starts_with("/docker/") || cgroup.contains(":docker:") || docker_bind {
            return Kind::Docker;
        }
        Kind::Oci
    }

    pub fn describe(&self) -> String {
        match self {
            Kind::Docker => "docker container".into(),
            Kind::Podman => "podman container".into(),
            Kind::PodSandbox { pod } => format!("pod sandbox {pod}"),
            Kind::PodContainer { pod, container } => {
                format!("pod container {pod}, container {container}")
            }
            Kind::Oci => "OCI container".into(),
        }
    }

    pub fn fix(&self, f: &Fix) -> &'static str {
        match self {
            Kind::Docker | Kind::Podman => f.docker,
            Kind::PodSandbox { .. } | Kind::PodContainer { .. } => f.k8s,
            Kind::Oci => f.oci,
        }
    }
}

/// What a check sees: the policy context (a strict one: root and sensitive mounts refused,
/// nothing waived, so the benchmark does not depend on the profile) and the target's kind.
pub struct Cx<'a> {
    pub policy: PolicyContext<'a>,
    pub kind: &'a Kind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub result: Outcome,
    pub evidence: Vec<Violation>,
}

impl Verdict {
    pub fn pass(evidence: Vec<Violation>) -> Verdict {
        Verdict {
            result: Outcome::Pass,
            evidence,
        }
    }
    pub fn fail(evidence: Vec<Violation>) -> Verdict {
        Verdict {
            result: Outcome::Fail,
            evidence,
        }
    }
    pub fn na(field: &str, value: Value, why: impl Into<String>) -> Verdict {
        Verdict {
            result: Outcome::NotApplicable,
            evidence: vec![Violation::new(field, value, why)],
        }
    }
    /// Pass or fail on one field, with the field and its value as evidence either way.
    pub fn field(spec: &Spec, ptr: &str, ok: bool, why: &str) -> Verdict {
        let value = spec.get(ptr).cloned().unwrap_or(Value::Null);
        let ev = vec![Violation::new(ptr, value, if ok { "" } else { why })];
        if ok {
            Verdict::pass(ev)
        } else {
            Verdict::fail(ev)
        }
    }
    fn is_fail(&self) -> bool {
        self.result == Outcome::Fail
    }
    /// Adds `more` failures to this verdict.
    pub fn and_fail(mut self, more: Vec<Violation>) -> Verdict {
        if !more.is_empty() {
            if !self.is_fail() {
                self.evidence.clear();
            }
            self.result = Outcome::Fail;
            self.evidence.extend(more);
        }
        self
    }
}

/// One check's result for one spec.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub benchmark: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub result: Outcome,
    pub evidence: Vec<Violation>,
    pub fix: String,
    /// The policy rules the check is defined by.
    pub rules: Vec<&'static str>,
}

/// Runs policy rules as `create` does; a pod container's unresolvable sandbox namespace
/// paths make the verdict n/a (see the module doc).
pub fn rules_verdict(spec: &Spec, cx: &Cx, ids: &[&'static str]) -> Result<Verdict> {
    let mut out = Vec::new();
    for id in ids {
        let rule = policy::rule(id).with_context(|| format!("internal: no policy rule {id}"))?;
        for mut v in (rule.check)(spec, &cx.policy)? {
            v.rule = rule.id;
            v.reference = rule.reference;
            out.push(v);
        }
    }
    Ok(settle(out, cx))
}

fn settle(violations: Vec<Violation>, cx: &Cx) -> Verdict {
    let sandbox_path = |v: &Violation| {
        matches!(cx.kind, Kind::PodContainer { .. })
            && v.field.starts_with("/linux/namespaces/")
            && v.value
                .as_str()
                .is_some_and(|p| !cx.policy.host.ns_inodes.contains_key(p))
    };
    if !violations.is_empty() && violations.iter().all(sandbox_path) {
        let paths: Vec<Value> = violations.iter().map(|v| v.value.clone()).collect();
        return Verdict::na(
            "/linux/namespaces",
            Value::Array(paths),
            "joins the pod sandbox's namespaces, which cannot be resolved here: the sandbox's spec decides (audit it, or audit on the node with --root)",
        );
    }
    let real: Vec<Violation> = violations
        .into_iter()
        .filter(|v| !sandbox_path(v))
        .collect();
    if real.is_empty() {
        Verdict::pass(vec![])
    } else {
        Verdict::fail(real)
    }
}

pub fn run(check: &Check, spec: &Spec, cx: &Cx) -> Result<Verdict> {
    let v = rules_verdict(spec, cx, check.rules)?;
    match check.test {
        Some(t) => t(spec, cx, v),
        None => Ok(v),
    }
}

/// Every check a spec decides, in report order.
pub fn all() -> impl Iterator<Item = &'static Check> {
    CIS.iter().chain(PSS.iter())
}

/// The profile the CIS and PSS checks are judged with: the audit profile's hook allow-list,
/// but root and every sensitive mount refused and nothing waived.
pub fn strict(profile: &Profile) -> Profile {
    let mut p = profile.clone();
    p.policy.root = RootUser::Refuse;
    p.policy.sensitive_mounts = SensitiveMounts::Refuse;
    p.policy.waive.clear();
    p
}

/// Judges one spec: the CIS and PSS checks, then each of Rampart's rules under `profile`
/// (with `waived` rules, and the profile's own waivers, n/a).
pub fn judge(
    spec: &Spec,
    profile: &Profile,
    facts: &HostFacts,
    waived: &[String],
) -> Result<(Kind, Vec<Finding>)> {
    let kind = Kind::of(spec);
    let strict = strict(profile);
    let cx = Cx {
        policy: PolicyContext {
            profile: &strict,
            host: facts,
        },
        kind: &kind,
    };
    let mut out = Vec::new();
    for c in all() {
        let v = run(c, spec, &cx)?;
        out.push(Finding {
            id: c.id.into(),
            benchmark: c.benchmark,
            title: c.title,
            severity: c.severity,
            result: v.result,
            evidence: v.evidence,
            fix: kind.fix(&c.fix).into(),
            rules: c.rules.to_vec(),
        });
    }
    let rcx = Cx {
        policy: PolicyContext {
            profile,
            host: facts,
        },
        kind: &kind,
    };
    let violations = policy::evaluate(spec, &rcx.policy, waived)?;
    for r in policy::RULES {
        let (severity, fix) = rampart_rule_meta(r.id, &kind);
        let v = if profile.policy.waive.iter().chain(waived).any(|w| w == r.id) {
            Verdict::na(
                "waive",
                json!(r.id),
                format!(
                    "waived by profile {} or an allow-listed annotation",
                    profile.name
                ),
            )
        } else {
            let mine = violations.iter().filter(|v| v.rule == r.id).cloned();
            settle(mine.collect(), &rcx)
        };
        out.push(Finding {
            id: format!("RAMPART-{}", r.id),
            benchmark: "Rampart",
            title: r.title,
            severity,
            result: v.result,
            evidence: v.evidence,
            fix,
            rules: vec![r.id],
        });
    }
    Ok((kind, out))
}

/// A Rampart rule is as severe as the most severe benchmark check defined by it, and is
/// fixed as that check is (or waived by an admin).
pub fn rampart_rule_meta(id: &str, kind: &Kind) -> (Severity, String) {
    let by: Vec<&Check> = all().filter(|c| c.rules.contains(&id)).collect();
    let severity = by
        .iter()
        .map(|c| c.severity)
        .max()
        .unwrap_or(Severity::High);
    let waive = format!(
        "or an admin waives it: waive = [\"{id}\"] under [policy] in a profile, or an allow-listed annotation"
    );
    let fix = match by.first() {
        Some(c) => format!("{}; {waive}", kind.fix(&c.fix)),
        None => format!("remove it from the request; {waive}"),
    };
    (severity, fix)
}

/// Docker's (and containerd's) 14 default capabilities (CIS 5.4 judges additions to these).
pub const DOCKER_DEFAULT_CAPS: &[&str] = &crate::cap_request::ENGINE_DEFAULTS;

/// Capabilities in any of the spec's sets that `allowed` (named `what`) does not list, per
/// set; the inheritable and ambient sets must be empty when `empty_inh_amb` (CVE-2022-29162).
pub fn caps_beyond(
    spec: &Spec,
    allowed: &[&str],
    what: &str,
    empty_inh_amb: bool,
) -> Result<Vec<Violation>> {
    let mut out = Vec::new();
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        let ptr = format!("/process/capabilities/{set}");
        let caps: Vec<String> = spec.typed(&ptr)?.unwrap_or_default();
        let strict = empty_inh_amb && (set == "inheritable" || set == "ambient");
        let extra: Vec<&String> = caps
            .iter()
            .filter(|c| strict || !allowed.contains(&c.as_str()))
            .collect();
        if !extra.is_empty() {
            out.push(Violation::new(
                ptr,
                json!(extra),
                if strict {
                    "must be empty: inheritable/ambient capabilities survive exec of unprivileged programs".to_string()
                } else {
                    format!("not in {what}")
                },
            ));
        }
    }
    Ok(out)
}

/// The seccomp verdict both CIS 5.22 and PSS use: a filter whose default is not "allow".
pub fn seccomp_confines(spec: &Spec) -> (bool, Value) {
    match spec.get("/linux/seccomp") {
        None => (false, Value::Null),
        Some(s) => {
            let action = s.get("defaultAction").cloned().unwrap_or(Value::Null);
            let allows = matches!(action.as_str(), Some("SCMP_ACT_ALLOW" | "SCMP_ACT_LOG"));
            (!allows, action)
        }
    }
}

/// Bind mounts that are not files the engine placed under its own state directories:
/// Kubernetes' hostPath, Docker's `-v /host/path`.
pub fn host_paths(spec: &Spec) -> Vec<Violation> {
    policy::bind_mounts(spec)
        .into_iter()
        .filter(|(_, src, _, _)| {
            let s = mounts::clean(src);
            !mounts::engine_file(&s)
        })
        .map(|(i, src, _, _)| {
            Violation::new(
                format!("/mounts/{i}/source"),
                json!(src),
                "a host path mounted into the container",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::{facts, fixture, profile};

    fn results(name: &str) -> BTreeMap<String, Outcome> {
        let (kind, f) = judge(&fixture(name), &profile("restricted"), &facts(), &[]).unwrap();
        assert_ne!(kind, Kind::Oci, "{name}");
        f.into_iter().map(|f| (f.id, f.result)).collect()
    }

    #[test]
    fn twenty_one_cis_checks_and_eleven_undecidable_make_section_five() {
        assert_eq!(CIS.len(), 21);
        assert_eq!(CIS_UNDECIDABLE.len(), 11);
        let mut ids: Vec<u32> = CIS
            .iter()
            .map(|c| c.id)
            .chain(CIS_UNDECIDABLE.iter().map(|u| u.0))
            .map(|id| id.strip_prefix("CIS-5.").unwrap().parse().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, (1..=32).collect::<Vec<_>>());
    }

    #[test]
    fn every_named_rule_exists_and_every_rule_is_reported() {
        for c in all() {
            for r in c.rules {
                assert!(policy::rule(r).is_some(), "{}: {r}", c.id);
            }
        }
        let ids: Vec<String> = results("docker-20.10/default.json").into_keys().collect();
        for r in policy::RULES {
            assert!(ids.contains(&format!("RAMPART-{}", r.id)));
        }
    }

    #[test]
    fn docker_default_fails_what_docker_leaves_open() {
        let r = results("docker-20.10/default.json");
        for id in [
            "CIS-5.13",
            "CIS-5.11",
            "CIS-5.29",
            "CIS-5.26",
            "CIS-5.2",
            "CIS-5.31",
            "PSS-restricted-allowPrivilegeEscalation",
        ] {
            assert_eq!(r[id], Outcome::Fail, "{id}");
        }
        for id in ["CIS-5.4", "CIS-5.5", "CIS-5.10", "CIS-5.22", "CIS-5.32"] {
            assert_eq!(r[id], Outcome::Pass, "{id}");
        }
    }

    #[test]
    fn cri_container_is_a_pod_container_whose_namespaces_the_sandbox_decides() {
        let spec = fixture("containerd-1.6-cri/container.json");
        let (kind, f) = judge(&spec, &profile("restricted"), &facts(), &[]).unwrap();
        assert!(matches!(kind, Kind::PodContainer { ref container, .. } if container == "c"));
        let get = |id: &str| f.iter().find(|f| f.id == id).unwrap();
        assert_eq!(get("CIS-5.10").result, Outcome::NotApplicable);
        assert!(get("CIS-5.13").fix.contains("readOnlyRootFilesystem"));
        let (kind, f) = judge(
            &fixture("containerd-1.6-cri/sandbox.json"),
            &profile("restricted"),
            &facts(),
            &[],
        )
        .unwrap();
        assert!(matches!(kind, Kind::PodSandbox { .. }));
        let net = f.iter().find(|f| f.id == "CIS-5.10").unwrap();
        assert_eq!(net.result, Outcome::Fail);
    }

    #[test]
    fn a_waiver_makes_rampart_s_rule_n_a_but_never_the_benchmark() {
        let spec = fixture("docker-20.10/dockersock.json");
        let waived = ["engine-socket".to_string()];
        let (_, f) = judge(&spec, &profile("restricted"), &facts(), &waived).unwrap();
        let get = |id: &str| f.iter().find(|f| f.id == id).unwrap().result;
        assert_eq!(get("RAMPART-engine-socket"), Outcome::NotApplicable);
        assert_eq!(get("CIS-5.32"), Outcome::Fail);
        assert_eq!(get("CIS-5.6"), Outcome::Fail); // -v /run: a host-wide state directory
    }
}
