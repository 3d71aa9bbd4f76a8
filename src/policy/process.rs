//! The container process's scheduling and memory privileges: an OOM score below the
//! profile's floor, and rlimits that grant what only CAP_SYS_NICE or CAP_SYS_RESOURCE
//! would (real-time priority, raised nice, limits above the host's own).

use super::{Rule, Violation};
use serde_json::Value;

pub const OOM_SCORE_ADJ: Rule = Rule {
    id: "oom-score-adj",
    fix: "drop --oom-score-adj or raise it to the profile's floor",
    title: "OOM score below the profile's floor",
    reference: "runtime-spec process.oomScoreAdj",
    check: |spec, cx| {
        let Some(v) = spec.get("/process/oomScoreAdj") else {
            return Ok(vec![]);
        };
        let floor = cx.profile.policy.oom_score_adj_min;
        Ok(match v.as_i64() {
            Some(n) if n >= floor => vec![],
            _ => vec![Violation::new(
                "/process/oomScoreAdj",
                v.clone(),
                format!(
                    "below {floor}, the host's OOM killer would spare the container and kill host processes instead (set oom_score_adj_min under [policy] to allow it)"
                ),
            )],
        })
    },
};

/// Rlimits that grant a scheduling privilege at any value above these.
const PRIVILEGED_RLIMITS: &[(&str, u64, &str)] = &[
    (
        "RLIMIT_RTPRIO",
        0,
        "real-time scheduling can starve the host's CPUs",
    ),
    (
        "RLIMIT_NICE",
        20,
        "a nice value below 0 outranks host processes",
    ),
];

pub const RLIMIT_RAISED: Rule = Rule {
    id: "rlimit-raised",
    fix: "lower the --ulimit to what the host grants",
    title: "rlimit above what the host grants",
    reference: "runtime-spec process.rlimits",
    check: |spec, cx| {
        let Some(Value::Array(list)) = spec.get("/process/rlimits") else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let (Some(kind), Some(hard)) = (
                r.get("type").and_then(Value::as_str),
                r.get("hard").and_then(Value::as_u64),
            ) else {
                continue;
            };
            // Types the profile limits are lowered by the rlimits step.
            if cx.profile.rlimits.contains_key(kind) {
                continue;
            }
            let field = format!("/process/rlimits/{i}");
            if let Some((_, max, why)) = PRIVILEGED_RLIMITS.iter().find(|(k, _, _)| *k == kind) {
                if hard > *max {
                    out.push(Violation::new(
                        field,
                        r.clone(),
                        format!("{kind} above {max}: {why}"),
                    ));
                }
                continue;
            }
            if let Some(&host) = cx.host.rlimit_hard.get(kind)
                && hard > host
            {
                out.push(Violation::new(
                    field,
                    r.clone(),
                    format!("{kind} {hard} is above the host's hard limit {host}; give the profile a [rlimits] {kind} entry to allow it"),
                ));
            }
        }
        Ok(out)
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::{facts, fixture, profile};
    use serde_json::json;

    fn fired(rule: &Rule, path: &str, v: Value) -> usize {
        let p = profile("restricted");
        let mut h = facts();
        h.rlimit_hard.insert("RLIMIT_MEMLOCK".into(), 8 << 20);
        let mut s = fixture("docker-20.10/default.json");
        s.set(path, v).unwrap();
        let cx = super::super::PolicyContext {
            profile: &p,
            host: &h,
        };
        (rule.check)(&s, &cx).unwrap().len()
    }

    #[test]
    fn oom_floor() {
        assert_eq!(
            fired(&OOM_SCORE_ADJ, "/process/oomScoreAdj", json!(-1000)),
            1
        );
        assert_eq!(
            fired(&OOM_SCORE_ADJ, "/process/oomScoreAdj", json!(-999)),
            1
        );
        assert_eq!(
            fired(&OOM_SCORE_ADJ, "/process/oomScoreAdj", json!(-998)),
            0,
            "kubelet's pause"
        );
        assert_eq!(
            fired(&OOM_SCORE_ADJ, "/process/oomScoreAdj", json!(1000)),
            0
        );
    }

    #[test]
    fn rlimits_that_grant_privilege() {
        let r = |t: &str, hard: u64| json!([{"type": t, "hard": hard, "soft": 0}]);
        assert_eq!(
            fired(&RLIMIT_RAISED, "/process/rlimits", r("RLIMIT_RTPRIO", 99)),
            1
        );
        assert_eq!(
            fired(&RLIMIT_RAISED, "/process/rlimits", r("RLIMIT_RTPRIO", 0)),
            0
        );
        assert_eq!(
            fired(&RLIMIT_RAISED, "/process/rlimits", r("RLIMIT_NICE", 40)),
            1
        );
        assert_eq!(
            fired(&RLIMIT_RAISED, "/process/rlimits", r("RLIMIT_NICE", 20)),
            0
        );
        assert_eq!(
            fired(
                &RLIMIT_RAISED,
                "/process/rlimits",
                r("RLIMIT_MEMLOCK", u64::MAX)
            ),
            1
        );
        assert_eq!(
            fired(
                &RLIMIT_RAISED,
                "/process/rlimits",
                r("RLIMIT_MEMLOCK", 65536)
            ),
            0
        );
        // NOFILE is the profile's: the rlimits step lowers it.
        assert_eq!(
            fired(
                &RLIMIT_RAISED,
                "/process/rlimits",
                r("RLIMIT_NOFILE", 1 << 30)
            ),
            0
        );
    }
}
