//! Step: rlimits. For each type the profile names, per entry (runc applies them in order):
//! - none in the request: the profile's default is added;
//! - the engine's own default ([`super::origin::rlimit`]): lowered to the profile's default
//!   when higher (never raised), silently and audited;
//! - the user's explicit `--ulimit` at or below the ceiling (`max`) and what the host can
//!   grant: kept exactly (audited as "explicit request honoured");
//! - above either: refused by rule `resource-above-ceiling` ([`over_ceiling`]) before this
//!   step runs, or lowered here with `on_ceiling = "clamp"` (or the rule waived).
//!
//! Then every limit is clamped to what the host can grant: without CAP_SYS_RESOURCE runc
//! cannot raise a hard limit above its own (nofile 20000 on the machines this was built
//! on), and the container would fail to start.

use super::Context;
use super::origin::{self, Origin};
use crate::change::Changes;
use crate::host::HostFacts;
use crate::profile::Profile;
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

/// The most the host lets runc grant for `kind`: its own hard limit, unless it can raise it.
pub fn host_limit(host: &HostFacts, kind: &str) -> Option<u64> {
    (!host.can_raise_rlimits)
        .then(|| host.rlimit_hard.get(kind).copied())
        .flatten()
}

/// An explicit rlimit above the profile's ceiling or what the host can grant.
#[derive(Debug, Clone, PartialEq)]
pub struct Over {
    /// Index in `process.rlimits`.
    pub index: usize,
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
    /// The lower of the profile's `max` and the host's hard limit.
    pub ceiling: u64,
    /// Whether the host's limit (not the profile's) is the ceiling.
    pub host: bool,
}

/// The request's explicit rlimits above the profile's ceiling or the host's hard limit.
pub fn over_ceiling(spec: &Spec, profile: &Profile, host: &HostFacts) -> Result<Vec<Over>> {
    let list: Vec<Rlimit> = match spec.typed("/process/rlimits") {
        Ok(l) => l.unwrap_or_default(),
        Err(_) => return Ok(vec![]), // the step fails closed on it
    };
    let mut out = Vec::new();
    for (index, r) in list.iter().enumerate() {
        let Some(want) = profile.rlimits.get(&r.kind) else {
            continue;
        };
        let host_hard = host.rlimit_hard.get(&r.kind).copied();
        if origin::rlimit(&r.kind, r.soft, r.hard, host_hard) != Origin::Explicit {
            continue;
        }
        let hl = host_limit(host, &r.kind);
        let ceiling = want.ceiling().min(hl.unwrap_or(u64::MAX));
        if r.soft > ceiling || r.hard > ceiling {
            out.push(Over {
                index,
                kind: r.kind.clone(),
                soft: r.soft,
                hard: r.hard,
                ceiling,
                host: hl.is_some_and(|h| h < want.ceiling()),
            });
        }
    }
    Ok(out)
}

/// An rlimit value as `--ulimit` writes it.
pub fn shown(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".into()
    } else {
        v.to_string()
    }
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
        let host_hard = cx.host.rlimit_hard.get(kind).copied();
        let ceiling = want
            .ceiling()
            .min(host_limit(cx.host, kind).unwrap_or(u64::MAX));
        // Every entry of the type: runc applies them in order, so a later duplicate would win.
        let mut found = false;
        for (i, r) in after
            .iter_mut()
            .enumerate()
            .filter(|(_, r)| &r.kind == kind)
        {
            found = true;
            if origin::rlimit(kind, r.soft, r.hard, host_hard) == Origin::Explicit {
                if r.soft > ceiling || r.hard > ceiling {
                    why.push(format!(
                        "explicit {kind} {}:{} is above the ceiling {ceiling}: lowered to it ({})",
                        shown(r.soft),
                        shown(r.hard),
                        match cx.profile.resources.on_ceiling {
                            crate::profile::OnCeiling::Clamp => "on_ceiling = \"clamp\"",
                            crate::profile::OnCeiling::Refuse =>
                                "rule resource-above-ceiling not enforced",
                        }
                    ));
                    r.soft = r.soft.min(ceiling);
                    r.hard = r.hard.min(ceiling);
                    // A ceiling equal to an engine's default (podman's 1048576) would read
                    // as that default on a second pass: lower it to the profile's default
                    // now, so the output is a fixed point.
                    if origin::rlimit(kind, r.soft, r.hard, host_hard) != Origin::Explicit {
                        r.soft = r.soft.min(want.soft);
                        r.hard = r.hard.min(want.hard);
                        r.soft = r.soft.min(r.hard);
                    }
                } else {
                    ch.note(
                        &format!("{field}/{i}"),
                        format!(
                            "profile {}: explicit request honoured: {kind} {}:{} (ceiling {ceiling})",
                            cx.profile.name,
                            shown(r.soft),
                            shown(r.hard)
                        ),
                    );
                }
            } else if r.soft > want.soft || r.hard > want.hard {
                why.push(format!(
                    "{kind} lowered from the engine's default {}/{} to at most {}/{}",
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
    fn adds_profile_limits_and_keeps_explicit_requests() {
        let mut s = fixture("docker-20.10/default.json");
        run(&mut s, None);
        // Servers accept it: redis wants 10032, postgres and nginx 65536 at most.
        assert_eq!(get(&s, "RLIMIT_NOFILE"), (65536, 65536));
        assert_eq!(get(&s, "RLIMIT_CORE"), (0, 0));
        assert_eq!(get(&s, "RLIMIT_NPROC"), (4096, 4096));
        assert!(
            run(&mut s, None).iter().all(|c| c.before == c.after),
            "idempotent"
        );
        let mut n = fixture("docker-20.10/nnp-limits.json");
        let ch = run(&mut n, None);
        assert_eq!(get(&n, "RLIMIT_NOFILE"), (1024, 2048), "explicit kept");
        assert!(ch.iter().any(|c| c.reason.contains("honoured")));
        let mut e = fixture("docker-20.10/limits-explicit.json");
        run(&mut e, Some(20000));
        assert_eq!(
            get(&e, "RLIMIT_NOFILE"),
            (16384, 16384),
            "Docker's --ulimit nofile=16384:16384 within the ceiling and this host's 20000"
        );
    }

    #[test]
    fn engine_defaults_are_lowered_silently() {
        // ctr's (and runc spec's) 1024:1024 is never raised.
        let mut c = fixture("containerd-1.6-ctr/default.json");
        run(&mut c, None);
        assert_eq!(get(&c, "RLIMIT_NOFILE"), (1024, 1024));
        // podman's copy of the host's limits: lowered to the profile's default.
        let mut p = fixture("podman-4.3/default.json");
        run(&mut p, Some(20000));
        assert_eq!(get(&p, "RLIMIT_NOFILE"), (20000, 20000));
        assert_eq!(get(&p, "RLIMIT_NPROC"), (4096, 4096));
    }

    #[test]
    fn explicit_above_the_ceiling_or_the_host_is_lowered_when_not_refused() {
        let mut s = fixture("docker-20.10/limits-explicit.json");
        s.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": u64::MAX, "hard": u64::MAX}]),
        )
        .unwrap();
        let ch = run(&mut s, None);
        assert_eq!(get(&s, "RLIMIT_NOFILE"), (524288, 524288));
        assert!(
            ch[0]
                .reason
                .contains("explicit RLIMIT_NOFILE unlimited:unlimited is above the ceiling 524288"),
            "{}",
            ch[0].reason
        );
        let mut s = fixture("docker-20.10/limits-explicit.json");
        run(&mut s, Some(8192));
        assert_eq!(get(&s, "RLIMIT_NOFILE"), (8192, 8192));
    }

    /// A ceiling equal to an engine default (podman's 1048576): the clamped value would read
    /// as that default on a second pass, so it takes the profile's default at once.
    #[test]
    fn a_ceiling_that_looks_like_an_engine_default_is_still_a_fixed_point() {
        let mut p = profile("restricted");
        p.rlimits.get_mut("RLIMIT_NOFILE").unwrap().max = Some(1048576);
        let h = facts();
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut s = fixture("docker-20.10/limits-explicit.json");
        s.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": u64::MAX, "hard": u64::MAX}]),
        )
        .unwrap();
        let mut out = Vec::new();
        apply(&mut s, &cx, &mut Changes::new("rlimits", &mut out)).unwrap();
        assert_eq!(get(&s, "RLIMIT_NOFILE"), (65536, 65536));
        let once = s.clone();
        apply(&mut s, &cx, &mut Changes::new("rlimits", &mut out)).unwrap();
        assert_eq!(s, once);
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
        // The default, on this machine's 20000.
        let mut d = fixture("docker-20.10/default.json");
        run(&mut d, Some(20000));
        assert_eq!(get(&d, "RLIMIT_NOFILE"), (20000, 20000));
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
