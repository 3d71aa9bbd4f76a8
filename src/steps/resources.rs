//! Step: cgroup limits. Each limit is set when the request has none and lowered to the
//! profile's when the request's is higher; a request's lower limit is kept (never raised).

use super::Context;
use crate::change::Changes;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::json;

const CPU_PERIOD_DEFAULT: u64 = 100_000;

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let r = &cx.profile.resources;
    let who = format!("profile {}", cx.profile.name);

    if let Some(want) = r.pids {
        // pids.limit <= 0 means unlimited.
        lower_positive(
            spec,
            ch,
            "/linux/resources/pids/limit",
            want,
            &format!("{who} caps processes (fork bombs) at {want}"),
        )?;
    }
    if let Some(mut want) = r.memory_bytes {
        // runc refuses a memory limit above memory+swap: never set one above the request's swap.
        let swap: Option<i64> = spec.typed("/linux/resources/memory/swap")?;
        if let Some(s) = swap.filter(|s| *s > 0) {
            want = want.min(s);
        }
        lower_positive(
            spec,
            ch,
            "/linux/resources/memory/limit",
            want,
            &format!("{who} caps memory at {want} bytes"),
        )?;
    }
    if let Some(want) = r.cpu_shares {
        lower_positive(
            spec,
            ch,
            "/linux/resources/cpu/shares",
            want as i64,
            &format!("{who} sets the CPU weight to at most {want}"),
        )?;
    }
    if let Some(cpus) = r.cpus {
        let period: u64 = spec
            .typed::<u64>("/linux/resources/cpu/period")?
            .filter(|p| *p > 0)
            .unwrap_or(CPU_PERIOD_DEFAULT);
        let want = (cpus * period as f64).round() as i64;
        let reason = format!("{who} caps CPU time at {cpus} CPUs ({want}us per {period}us)");
        if lower_positive(spec, ch, "/linux/resources/cpu/quota", want, &reason)?
            && spec.get("/linux/resources/cpu/period").is_none()
        {
            ch.set(
                spec,
                "/linux/resources/cpu/period",
                json!(period),
                "period for the CPU quota",
            )?;
        }
    }
    if let Some(want) = r.blkio_weight {
        let field = "/linux/resources/blockIO/weight";
        if cx.host.blkio_weight {
            lower_positive(
                spec,
                ch,
                field,
                i64::from(want),
                &format!("{who} sets the block-IO weight to at most {want}"),
            )?;
        } else {
            ch.note(
                field,
                "not set: this host's block-IO scheduler has no weight (runc would ignore it)",
            );
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
        "pids" => r.pids.is_some(),
        "memory" => r.memory_bytes.is_some(),
        "cpu" => r.cpus.is_some() || r.cpu_shares.is_some(),
        _ => r.blkio_weight.is_some(),
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

/// Sets `field` to `want` if absent or non-positive (unlimited), or lowers it to `want`.
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
        assert!(run(&mut s, true).is_empty(), "idempotent");
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

    #[test]
    fn higher_limits_are_lowered_and_never_raised_across_fixtures() {
        let mut s = fixture("docker-20.10/default.json");
        s.set("/linux/resources/pids/limit", json!(100000)).unwrap();
        let ch = run(&mut s, true);
        assert_eq!(s.get("/linux/resources/pids/limit"), Some(&json!(1024)));
        assert!(ch.iter().any(|c| c.reason.contains("asked for 100000")));
        for (name, mut s) in all_fixtures() {
            let before: Option<i64> = s.typed("/linux/resources/pids/limit").unwrap();
            run(&mut s, true);
            let after: i64 = s.typed("/linux/resources/pids/limit").unwrap().unwrap();
            assert!(
                after <= 1024 && before.is_none_or(|b| b <= 0 || after <= b),
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
