//! Step: cgroup limits. Per limit the profile has a default and a ceiling (see
//! [`crate::profile::ResourcesPolicy`]); who chose the request's value decides which applies
//! ([`super::origin`]):
//! - none, or the engine's own default: set to the profile's default, or lowered to it when
//!   higher (never raised), silently and audited;
//! - the user's explicit value at or below the ceiling: kept exactly (audited as "explicit
//!   request honoured");
//! - the user's explicit value above the ceiling, or unlimited (-1): refused by rule
//!   `resource-above-ceiling` ([`over_ceiling`]) before this step runs, or, with
//!   `on_ceiling = "clamp"` (or the rule waived), lowered to the ceiling here (audited).

use super::Context;
use super::origin::{self, Axis, Origin};
use crate::change::Changes;
use crate::profile::{OnCeiling, ResourcesPolicy};
use crate::spec::Spec;
use anyhow::Result;
use serde_json::json;

const CPU_PERIOD_DEFAULT: u64 = 100_000;
const QUOTA: &str = "/linux/resources/cpu/quota";
const PERIOD: &str = "/linux/resources/cpu/period";

/// One limit of the profile as it applies to one spec.
#[derive(Debug, Clone)]
pub struct Limit {
    pub axis: Axis,
    pub field: &'static str,
    pub default: Option<i64>,
    pub ceiling: Option<i64>,
    /// The profile key of the ceiling, for messages.
    pub ceiling_key: &'static str,
}

impl Axis {
    /// The user's flag: Docker and podman, or a Kubernetes pod spec's field.
    pub fn flag(self, kubernetes: bool) -> &'static str {
        match (self, kubernetes) {
            (Axis::Pids, _) => "--pids-limit",
            (Axis::Memory, false) => "-m/--memory",
            (Axis::Memory, true) => "resources.limits.memory",
            (Axis::CpuShares, false) => "--cpu-shares",
            (Axis::CpuShares, true) => "resources.requests.cpu",
            (Axis::CpuQuota, false) => "--cpus",
            (Axis::CpuQuota, true) => "resources.limits.cpu",
            (Axis::BlkioWeight, _) => "--blkio-weight",
        }
    }
}

/// The CPU period the quota is measured against: the request's, or the kernel's default.
fn period(spec: &Spec) -> Result<u64> {
    Ok(spec
        .typed::<u64>(PERIOD)?
        .filter(|p| *p > 0)
        .unwrap_or(CPU_PERIOD_DEFAULT))
}

fn quota_for(cpus: f64, period: u64) -> i64 {
    (cpus * period as f64).round() as i64
}

/// The profile's limits for `spec` (the CPU quota's in the spec's period).
pub fn limits(spec: &Spec, r: &ResourcesPolicy) -> Result<Vec<Limit>> {
    let period = period(spec)?;
    let l = |axis, field, default, ceiling, ceiling_key| Limit {
        axis,
        field,
        default,
        ceiling,
        ceiling_key,
    };
    Ok(vec![
        l(
            Axis::Pids,
            "/linux/resources/pids/limit",
            r.pids,
            r.pids_ceiling(),
            "pids_max",
        ),
        l(
            Axis::Memory,
            "/linux/resources/memory/limit",
            r.memory_bytes,
            r.memory_ceiling(),
            "memory_max_bytes",
        ),
        l(
            Axis::CpuShares,
            "/linux/resources/cpu/shares",
            r.cpu_shares.map(|v| v as i64),
            r.cpu_shares_ceiling().map(|v| v as i64),
            "cpu_shares_max",
        ),
        l(
            Axis::CpuQuota,
            QUOTA,
            r.cpus.map(|c| quota_for(c, period)),
            r.cpus_ceiling().map(|c| quota_for(c, period)),
            "cpus_max",
        ),
        l(
            Axis::BlkioWeight,
            "/linux/resources/blockIO/weight",
            r.blkio_weight.map(i64::from),
            r.blkio_weight_ceiling().map(i64::from),
            "blkio_weight_max",
        ),
    ])
}

/// A value as users write it: sizes in GiB/MiB, quotas as CPUs, -1 as unlimited.
pub fn shown(axis: Axis, v: i64, period: u64) -> String {
    if v < 0 {
        return format!("{v} (unlimited)");
    }
    match axis {
        Axis::Memory if v > 0 && v % (1 << 30) == 0 => format!("{}g", v >> 30),
        Axis::Memory if v > 0 && v % (1 << 20) == 0 => format!("{}m", v >> 20),
        Axis::CpuQuota => format!("{}", v as f64 / period as f64),
        _ => v.to_string(),
    }
}

/// An explicit request above its ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct Over {
    pub axis: Axis,
    pub field: &'static str,
    pub value: i64,
    pub ceiling: i64,
    pub ceiling_key: &'static str,
    pub period: u64,
}

/// The request's explicit values above the profile's ceilings (unlimited included).
pub fn over_ceiling(spec: &Spec, r: &ResourcesPolicy) -> Result<Vec<Over>> {
    let period = period(spec)?;
    let mut out = Vec::new();
    for l in limits(spec, r)? {
        let have: Option<i64> = spec.typed(l.field)?;
        if let (Origin::Explicit, Some(h), Some(c)) =
            (origin::resource(l.axis, have), have, l.ceiling)
            && (h < 0 || h > c)
        {
            out.push(Over {
                axis: l.axis,
                field: l.field,
                value: h,
                ceiling: c,
                ceiling_key: l.ceiling_key,
                period,
            });
        }
    }
    Ok(out)
}

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let r = &cx.profile.resources;
    let who = format!("profile {}", cx.profile.name);
    let period = period(spec)?;
    // runc refuses a memory limit above memory+swap: never set one above the request's swap.
    let swap: Option<i64> = spec
        .typed::<i64>("/linux/resources/memory/swap")?
        .filter(|s| *s > 0);
    for l in limits(spec, r)? {
        if l.default.is_none() && l.ceiling.is_none() {
            continue;
        }
        if l.axis == Axis::BlkioWeight && !cx.host.blkio_weight {
            ch.note(
                l.field,
                "not set: this host's block-IO scheduler has no weight (runc would ignore it)",
            );
            continue;
        }
        let memory = |v: i64| match (l.axis, swap) {
            (Axis::Memory, Some(s)) => v.min(s),
            _ => v,
        };
        let what = |v: i64| match l.axis {
            Axis::Pids => format!("processes (fork bombs) at {v}"),
            Axis::Memory => format!("memory at {v} bytes"),
            Axis::CpuShares => format!("the CPU weight at {v}"),
            Axis::CpuQuota => format!(
                "CPU time at {} CPUs ({v}us per {period}us)",
                shown(l.axis, v, period)
            ),
            Axis::BlkioWeight => format!("the block-IO weight at {v}"),
        };
        let have: Option<i64> = spec.typed(l.field)?;
        let changed = match (origin::resource(l.axis, have), have, l.ceiling) {
            (Origin::Explicit, Some(h), Some(c)) if h < 0 || h > c => {
                let how = match r.on_ceiling {
                    OnCeiling::Clamp => "on_ceiling = \"clamp\"",
                    OnCeiling::Refuse => "rule resource-above-ceiling not enforced",
                };
                // A ceiling that happens to be an engine's default value would read as one on
                // a second pass: take the default then, so the output is a fixed point.
                let mut to = memory(c);
                if origin::resource(l.axis, Some(to)) != Origin::Explicit
                    && let Some(d) = l.default
                {
                    to = to.min(memory(d));
                }
                ch.set(
                    spec,
                    l.field,
                    json!(to),
                    format!(
                        "{who}: explicit request {} {} is above the ceiling {} ({}): lowered to it ({how})",
                        l.axis.flag(false),
                        shown(l.axis, h, period),
                        shown(l.axis, c, period),
                        l.ceiling_key
                    ),
                )?
            }
            (Origin::Explicit, Some(h), _) => {
                ch.note(
                    l.field,
                    format!(
                        "{who}: explicit request honoured: {} {} (ceiling {})",
                        l.axis.flag(false),
                        shown(l.axis, h, period),
                        l.ceiling
                            .map(|c| shown(l.axis, c, period))
                            .unwrap_or_else(|| "none".into())
                    ),
                );
                false
            }
            _ => {
                let Some(want) = [l.default, l.ceiling].into_iter().flatten().min() else {
                    continue;
                };
                let want = memory(want);
                lower_positive(
                    spec,
                    ch,
                    l.field,
                    want,
                    &format!("{who} caps {} by default", what(want)),
                )?
            }
        };
        if changed && l.axis == Axis::CpuQuota && spec.get(PERIOD).is_none() {
            ch.set(spec, PERIOD, json!(period), "period for the CPU quota")?;
        }
    }
    drop_unified_overrides(spec, cx, ch)
}

/// cgroup v2 files runc writes from `linux.resources.unified` AFTER the typed limits, so
/// each would override a limit the profile sets.
const UNIFIED_OVERRIDES: &[(&str, &[&str])] = &[
    ("pids", &["pids.max"]),
    ("memory", &["memory.max", "memory.swap.max", "memory.high"]),
    ("cpu", &["cpu.max", "cpu.weight", "cpu.weight.nice"]),
    ("io", &["io.weight", "io.bfq.weight", "io.max"]),
];

/// Removes the request's unified (cgroup v2) values that would lift the profile's limits.
fn drop_unified_overrides(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let Some(serde_json::Value::Object(unified)) = spec.get("/linux/resources/unified").cloned()
    else {
        return Ok(());
    };
    let r = &cx.profile.resources;
    let limited = |c: &str| match c {
        "pids" => r.pids_ceiling().is_some(),
        "memory" => r.memory_ceiling().is_some(),
        "cpu" => r.cpus_ceiling().is_some() || r.cpu_shares_ceiling().is_some(),
        _ => r.blkio_weight_ceiling().is_some(),
    };
    let mut kept = unified.clone();
    let mut dropped = Vec::new();
    for (controller, files) in UNIFIED_OVERRIDES {
        for f in files.iter().filter(|_| limited(controller)) {
            if kept.remove(*f).is_some() {
                dropped.push(*f);
            }
        }
    }
    if !dropped.is_empty() {
        let reason = format!(
            "dropped {} from the cgroup v2 values: runc writes them after the limits and they would override profile {}'s",
            dropped.join(", "),
            cx.profile.name
        );
        ch.set(
            spec,
            "/linux/resources/unified",
            serde_json::Value::Object(kept),
            reason,
        )?;
    }
    Ok(())
}

/// Sets `field` to `want` if absent or non-positive (unset, or an engine's unlimited), or
/// lowers it to `want`.
/// Returns whether it changed the field.
fn lower_positive(
    spec: &mut Spec,
    ch: &mut Changes,
    field: &str,
    want: i64,
    reason: &str,
) -> Result<bool> {
    let have: Option<i64> = spec.typed(field)?;
    match have {
        Some(h) if h > 0 && h <= want => Ok(false),
        Some(h) if h > 0 => ch.set(
            spec,
            field,
            json!(want),
            format!("{reason} (request asked for {h})"),
        ),
        _ => ch.set(
            spec,
            field,
            json!(want),
            format!("{reason} (request had no limit)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;

    fn run(s: &mut Spec, blkio: bool) -> Vec<crate::change::Change> {
        let p = profile("restricted");
        let mut h = facts();
        h.blkio_weight = blkio;
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(s, &cx, &mut Changes::new("resources", &mut out)).unwrap();
        out
    }

    /// Only notes (no field changed).
    fn unchanged(ch: &[crate::change::Change]) -> bool {
        ch.iter().all(|c| c.before == c.after)
    }

    #[test]
    fn sets_absent_limits_on_docker_default() {
        let mut s = fixture("docker-20.10/default.json");
        run(&mut s, true);
        assert_eq!(s.get("/linux/resources/pids/limit"), Some(&json!(1024)));
        assert_eq!(
            s.get("/linux/resources/memory/limit"),
            Some(&json!(2147483648i64))
        );
        assert_eq!(s.get("/linux/resources/cpu/shares"), Some(&json!(1024)));
        assert_eq!(s.get("/linux/resources/cpu/quota"), Some(&json!(200000)));
        assert_eq!(s.get("/linux/resources/cpu/period"), Some(&json!(100000)));
        assert_eq!(s.get("/linux/resources/blockIO/weight"), Some(&json!(500)));
        assert_eq!(
            s.get("/linux/resources/memory/disableOOMKiller"),
            Some(&json!(false)),
            "untouched fields stay"
        );
        assert!(unchanged(&run(&mut s, true)), "idempotent");
    }

    #[test]
    fn lower_request_limits_are_kept() {
        let mut s = fixture("docker-20.10/nnp-limits.json");
        run(&mut s, true);
        assert_eq!(s.get("/linux/resources/pids/limit"), Some(&json!(64)));
        assert_eq!(
            s.get("/linux/resources/memory/limit"),
            Some(&json!(67108864))
        );
        assert_eq!(s.get("/linux/resources/cpu/quota"), Some(&json!(50000)));
    }

    /// Docker's `-m 4g --pids-limit 4096 --cpus 2`: above restricted's defaults, within its
    /// ceilings: kept exactly, each audited as honoured.
    #[test]
    fn explicit_requests_within_the_ceiling_are_honoured() {
        let mut s = fixture("docker-20.10/limits-explicit.json");
        let ch = run(&mut s, true);
        assert_eq!(s.get("/linux/resources/pids/limit"), Some(&json!(4096)));
        assert_eq!(
            s.get("/linux/resources/memory/limit"),
            Some(&json!(4294967296i64))
        );
        assert_eq!(s.get("/linux/resources/cpu/quota"), Some(&json!(200000)));
        // Docker's shares 0 and weight 0 are its defaults: the profile's are set.
        assert_eq!(s.get("/linux/resources/cpu/shares"), Some(&json!(1024)));
        assert_eq!(s.get("/linux/resources/blockIO/weight"), Some(&json!(500)));
        let honoured: Vec<&str> = ch
            .iter()
            .filter(|c| c.reason.contains("explicit request honoured"))
            .map(|c| c.field.as_str())
            .collect();
        assert_eq!(
            honoured,
            [
                "/linux/resources/pids/limit",
                "/linux/resources/memory/limit",
                "/linux/resources/cpu/quota"
            ]
        );
    }

    /// podman's pids 2048 is its default, not the user's: lowered to the profile's 1024.
    #[test]
    fn engine_defaults_are_tightened_silently() {
        let mut s = fixture("podman-4.3/default.json");
        let ch = run(&mut s, true);
        assert_eq!(s.get("/linux/resources/pids/limit"), Some(&json!(1024)));
        assert!(ch.iter().any(|c| c.reason.contains("asked for 2048")));
        let mut s = fixture("containerd-1.6-cri/sandbox.json");
        run(&mut s, true);
        assert_eq!(
            s.get("/linux/resources/cpu/shares"),
            Some(&json!(2)),
            "never raised"
        );
    }

    /// Above the ceiling, the rule refuses before this step runs; with on_ceiling = "clamp"
    /// (or the rule waived) the step lowers the value to the ceiling, audited.
    #[test]
    fn explicit_above_the_ceiling_is_lowered_to_it_and_never_raised_across_fixtures() {
        let mut s = fixture("docker-20.10/default.json");
        s.set("/linux/resources/pids/limit", json!(100000)).unwrap();
        s.set("/linux/resources/memory/limit", json!(-1)).unwrap();
        let ch = run(&mut s, true);
        assert_eq!(s.get("/linux/resources/pids/limit"), Some(&json!(32768)));
        assert_eq!(
            s.get("/linux/resources/memory/limit"),
            Some(&json!(17179869184i64))
        );
        assert!(
            ch.iter().any(|c| c
                .reason
                .contains("--pids-limit 100000 is above the ceiling 32768")),
            "{ch:?}"
        );
        let p = profile("restricted");
        for (name, mut s) in all_fixtures() {
            let before: Option<i64> = s.typed("/linux/resources/pids/limit").unwrap();
            let explicit = origin::resource(Axis::Pids, before) == Origin::Explicit;
            run(&mut s, true);
            let after: i64 = s.typed("/linux/resources/pids/limit").unwrap().unwrap();
            let most = if explicit {
                p.resources.pids_ceiling()
            } else {
                p.resources.pids
            };
            assert!(
                after <= most.unwrap() && before.is_none_or(|b| b <= 0 || after <= b),
                "{name}"
            );
        }
    }

    #[test]
    fn memory_never_above_swap_and_blkio_noted_when_host_lacks_weight() {
        let mut s = fixture("docker-20.10/default.json");
        s.set("/linux/resources/memory/swap", json!(1 << 20))
            .unwrap();
        let ch = run(&mut s, false);
        assert_eq!(
            s.get("/linux/resources/memory/limit"),
            Some(&json!(1 << 20))
        );
        assert_eq!(s.get("/linux/resources/blockIO/weight"), Some(&json!(0)));
        assert!(
            ch.iter()
                .any(|c| c.field.ends_with("weight") && c.reason.contains("no weight"))
        );
    }
}
