//! Step: rlimits. The profile's limits are set when absent and lowered when the request's
//! are higher; then every limit is clamped to what the host can grant: without
//! CAP_SYS_RESOURCE runc cannot raise a hard limit above its own (nofile 20000 on the
//! machines this was built on), and the container would fail to start.

use super::Context;
use crate::change::Changes;
use crate::spec::Spec;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// OCI rlimit names and their resource numbers on Linux.
pub const RLIMITS: &[(&str, libc::__rlimit_resource_t)] = &[
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

pub fn check_name(name: &str) -> Result<()> {
    if !RLIMITS.iter().any(|(n, _)| *n == name) {
        bail!("unknown rlimit {name:?} (names look like RLIMIT_NOFILE)");
    }
    Ok(())
}

/// The hard limits this process runs with (what runc inherits through exec).
pub fn current_hard_limits() -> BTreeMap<String, u64> {
    RLIMITS
        .iter()
        .filter_map(|(name, res)| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes into the struct we own.
            (unsafe { libc::getrlimit(*res, &mut l) } == 0).then(|| (name.to_string(), l.rlim_max))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rlimit {
    #[serde(rename = "type")]
    kind: String,
    hard: u64,
    soft: u64,
    /// Fields Rampart does not model reach runc unchanged.
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    if spec.get("/process").is_none() {
        return Ok(());
    }
    let field = "/process/rlimits";
    let before: Vec<Rlimit> = spec.typed(field)?.unwrap_or_default();
    for r in &before {
        check_name(&r.kind).map_err(|e| e.context(format!("{field} in config.json")))?;
    }
    let mut after = before.clone();
    let mut why = Vec::new();
    for (kind, want) in &cx.profile.rlimits {
        // Every entry of the type: runc applies them in order, so a later duplicate would win.
        let mut found = false;
        for r in after.iter_mut().filter(|r| &r.kind == kind) {
            found = true;
            if r.soft > want.soft || r.hard > want.hard {
                why.push(format!(
                    "{kind} lowered from {}/{} to at most {}/{}",
                    r.soft, r.hard, want.soft, want.hard
                ));
                r.soft = r.soft.min(want.soft);
                r.hard = r.hard.min(want.hard);
                r.soft = r.soft.min(r.hard);
            }
        }
        if !found {
            why.push(format!("{kind} set to {}/{}", want.soft, want.hard));
            after.push(Rlimit {
                kind: kind.clone(),
                soft: want.soft,
                hard: want.hard,
                extra: Default::default(),
            });
        }
    }
    if !cx.host.can_raise_rlimits {
        for r in &mut after {
            if let Some(&host) = cx.host.rlimit_hard.get(&r.kind)
                && r.hard > host
            {
                why.push(format!(
                    "{} hard limit {} clamped to the host's {host} (no CAP_SYS_RESOURCE to raise it)",
                    r.kind, r.hard
                ));
                r.hard = host;
                r.soft = r.soft.min(host);
            }
        }
    }
    if after != before {
        let reason = format!("profile {}: {}", cx.profile.name, why.join("; "));
        ch.set(spec, field, serde_json::to_value(&after)?, reason)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;
    use serde_json::json;

    fn run(s: &mut Spec, host_nofile: Option<u64>) -> Vec<crate::change::Change> {
        let p = profile("restricted");
        let mut h = facts();
        if let Some(n) = host_nofile {
            h.can_raise_rlimits = false;
            h.rlimit_hard.insert("RLIMIT_NOFILE".into(), n);
        }
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(s, &cx, &mut Changes::new("rlimits", &mut out)).unwrap();
        out
    }
    fn get(s: &Spec, kind: &str) -> (u64, u64) {
        let all: Vec<Rlimit> = s.typed("/process/rlimits").unwrap().unwrap();
        let r = all.iter().find(|r| r.kind == kind).unwrap();
        (r.soft, r.hard)
    }

    #[test]
    fn adds_profile_limits_and_lowers_request() {
        let mut s = fixture("docker-20.10/default.json");
        run(&mut s, None);
        assert_eq!(get(&s, "RLIMIT_NOFILE"), (1024, 4096));
        assert_eq!(get(&s, "RLIMIT_CORE"), (0, 0));
        assert_eq!(get(&s, "RLIMIT_NPROC"), (4096, 4096));
        assert!(run(&mut s, None).is_empty(), "idempotent");
        let mut n = fixture("docker-20.10/nnp-limits.json");
        run(&mut n, None);
        assert_eq!(get(&n, "RLIMIT_NOFILE"), (1024, 2048), "lower request kept");
    }

    #[test]
    fn clamps_to_host_without_cap_sys_resource() {
        let mut s = fixture("runc-spec-default.json");
        let ch = run(&mut s, Some(1000));
        assert_eq!(get(&s, "RLIMIT_NOFILE"), (1000, 1000));
        assert!(
            ch[0].reason.contains("clamped to the host's 1000"),
            "{}",
            ch[0].reason
        );
    }

    #[test]
    fn unknown_rlimit_type_fails_closed() {
        let mut s = fixture("runc-spec-default.json");
        s.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
        )
        .unwrap();
        let (p, h) = (profile("restricted"), facts());
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        let e = apply(&mut s, &cx, &mut Changes::new("rlimits", &mut out)).unwrap_err();
        assert!(format!("{e:#}").contains("RLIMIT_BOGUS"));
    }
}
