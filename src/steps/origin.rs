//! Who chose a limit: the user, or the engine filling in its own default. What the user
//! asked for is honoured or refused loudly; what the engine filled in is tightened silently.
//! Worked out per engine from the captured specs (tests/fixtures/specs), never from image
//! data:
//!
//! | engine (no limit flags) | `linux.resources` | `process.rlimits` |
//! |---|---|---|
//! | Docker 20.10 | `memory {disableOOMKiller:false}`, `cpu.shares 0`, `blockIO.weight 0` | none |
//! | containerd 1.6 CRI (kubelet) | container: none; sandbox: `cpu.shares 2` (kubelet's minimum weight) | none |
//! | podman 4.3 | `pids.limit 2048` (containers.conf `pids_limit`) | `NOFILE` and `NPROC` soft = hard, copied from podman's own limits: the host's hard limit (20000 here) or 1048576, `NPROC 32768` as captured |
//! | ctr (containerd 1.6), `runc spec` | `cpu.shares 1024` (ctr) | `NOFILE 1024:1024` |
//!
//! With a flag the engines write the user's value: Docker `-m 4g --pids-limit 4096 --ulimit
//! nofile=16384:16384 --cpus 2` gives `memory.limit 4294967296`, `pids.limit 4096`, NOFILE
//! 16384:16384, `cpu.quota 200000` per `period 100000`; `--pids-limit 0` or `-1` gives
//! `pids.limit -1`. Kubelet writes `memory.limit`, `cpu.quota` and `cpu.shares` from the pod
//! spec's `resources`: the pod author's explicit values.
//!
//! So:
//! - absent, or 0 (runc 1.1.5 writes nothing for a 0 memory, pids, quota, shares or weight:
//!   "not set") → [`Origin::Absent`];
//! - a value equal to a known engine default in the table above → [`Origin::EngineDefault`];
//!   for an rlimit also soft = hard = the host's own hard limit (what podman copies);
//! - anything else present → [`Origin::Explicit`], including a negative "unlimited" (-1),
//!   which is above every finite ceiling.
//!
//! Limitation: a user who asks for exactly an engine default (`--pids-limit 2048`,
//! `--cpu-shares 1024`, `--ulimit nofile=1024:1024`) is treated as not having asked; the
//! profile's default then applies, tightening only.

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Absent,
    EngineDefault,
    Explicit,
}

/// The cgroup limits a profile sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Pids,
    Memory,
    CpuShares,
    CpuQuota,
    BlkioWeight,
}

/// Values engines write for a cgroup limit when the user gave no flag (besides 0).
pub const ENGINE_DEFAULTS: &[(Axis, i64, &str)] = &[
    (Axis::Pids, 2048, "podman 4.3 (containers.conf pids_limit)"),
    (Axis::CpuShares, 2, "kubelet's minimum weight (CRI sandbox)"),
    (Axis::CpuShares, 1024, "ctr"),
];

/// rlimits engines write when the user gave no `--ulimit` (soft, hard).
pub const RLIMIT_DEFAULTS: &[(&str, u64, u64, &str)] = &[
    ("RLIMIT_NOFILE", 1024, 1024, "runc spec, ctr"),
    (
        "RLIMIT_NOFILE",
        1048576,
        1048576,
        "podman 4.3 with room to raise",
    ),
    (
        "RLIMIT_NPROC",
        1048576,
        1048576,
        "podman 4.3 with room to raise",
    ),
    ("RLIMIT_NPROC", 32768, 32768, "podman 4.3 as captured"),
];

/// Who chose `value` for `axis`.
pub fn resource(axis: Axis, value: Option<i64>) -> Origin {
    match value {
        None | Some(0) => Origin::Absent,
        Some(v)
            if ENGINE_DEFAULTS
                .iter()
                .any(|(a, d, _)| *a == axis && *d == v) =>
        {
            Origin::EngineDefault
        }
        Some(_) => Origin::Explicit,
    }
}

/// Who chose an rlimit entry; `host_hard` is the host's own hard limit for it, if known.
pub fn rlimit(kind: &str, soft: u64, hard: u64, host_hard: Option<u64>) -> Origin {
    let known = RLIMIT_DEFAULTS
        .iter()
        .any(|(k, s, h, _)| *k == kind && *s == soft && *h == hard);
    if known || (soft == hard && Some(hard) == host_hard) {
        Origin::EngineDefault
    } else {
        Origin::Explicit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;

    fn origins(name: &str, host_nofile: u64) -> Vec<(String, Origin)> {
        let s = fixture(name);
        let mut out = Vec::new();
        for (axis, field) in [
            (Axis::Pids, "/linux/resources/pids/limit"),
            (Axis::Memory, "/linux/resources/memory/limit"),
            (Axis::CpuShares, "/linux/resources/cpu/shares"),
            (Axis::CpuQuota, "/linux/resources/cpu/quota"),
            (Axis::BlkioWeight, "/linux/resources/blockIO/weight"),
        ] {
            let o = resource(axis, s.typed(field).unwrap());
            if o != Origin::Absent {
                out.push((field.rsplit('/').take(2).collect::<Vec<_>>().join("<"), o));
            }
        }
        let rl: Vec<serde_json::Value> = s.typed("/process/rlimits").unwrap().unwrap_or_default();
        for r in rl {
            let kind = r["type"].as_str().unwrap();
            let host = (kind == "RLIMIT_NOFILE").then_some(host_nofile);
            let (soft, hard) = (r["soft"].as_u64().unwrap(), r["hard"].as_u64().unwrap());
            out.push((kind.to_string(), rlimit(kind, soft, hard, host)));
        }
        out
    }

    /// Every captured engine default is a default; every flag the user gave is explicit.
    #[test]
    fn each_engine_shape() {
        use Origin::*;
        let o = |n: &str| origins(n, 20000);
        let s = |v: &[(&str, Origin)]| -> Vec<(String, Origin)> {
            v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
        };
        assert_eq!(
            o("docker-20.10/default.json"),
            s(&[]),
            "Docker: shares 0, weight 0"
        );
        assert_eq!(o("containerd-1.6-cri/container.json"), s(&[]));
        assert_eq!(
            o("containerd-1.6-cri/sandbox.json"),
            s(&[("shares<cpu", EngineDefault)])
        );
        assert_eq!(
            o("containerd-1.6-ctr/default.json"),
            s(&[
                ("shares<cpu", EngineDefault),
                ("RLIMIT_NOFILE", EngineDefault)
            ])
        );
        assert_eq!(
            o("runc-spec-default.json"),
            s(&[("RLIMIT_NOFILE", EngineDefault)])
        );
        assert_eq!(
            o("podman-4.3/default.json"),
            s(&[
                ("limit<pids", EngineDefault),
                ("RLIMIT_NOFILE", EngineDefault),
                ("RLIMIT_NPROC", EngineDefault)
            ])
        );
        // podman on another host copies that host's hard limit.
        assert_eq!(
            origins("podman-4.3/default.json", 4096)[1],
            ("RLIMIT_NOFILE".to_string(), Explicit),
            "20000:20000 is only the host's own on a host whose hard limit is 20000"
        );
        assert_eq!(
            o("docker-20.10/limits-explicit.json"),
            s(&[
                ("limit<pids", Explicit),
                ("limit<memory", Explicit),
                ("quota<cpu", Explicit),
                ("RLIMIT_NOFILE", Explicit)
            ])
        );
        assert_eq!(
            o("docker-20.10/nnp-limits.json"),
            s(&[
                ("limit<pids", Explicit),
                ("limit<memory", Explicit),
                ("quota<cpu", Explicit),
                ("RLIMIT_NOFILE", Explicit)
            ])
        );
        // Every other captured spec: nothing explicit.
        for (name, _) in all_fixtures() {
            if name.contains("limits") {
                continue;
            }
            assert!(
                o(&name).iter().all(|(_, o)| *o != Explicit),
                "{name}: {:?}",
                o(&name)
            );
        }
    }

    #[test]
    fn unlimited_is_explicit_and_zero_is_unset() {
        assert_eq!(resource(Axis::Pids, Some(-1)), Origin::Explicit);
        assert_eq!(resource(Axis::Memory, Some(-1)), Origin::Explicit);
        assert_eq!(resource(Axis::CpuQuota, Some(-1)), Origin::Explicit);
        assert_eq!(resource(Axis::Pids, Some(0)), Origin::Absent);
        assert_eq!(resource(Axis::CpuShares, Some(0)), Origin::Absent);
        assert_eq!(
            rlimit("RLIMIT_NOFILE", u64::MAX, u64::MAX, Some(20000)),
            Origin::Explicit
        );
        assert_eq!(
            rlimit("RLIMIT_NOFILE", 1024, 4096, Some(4096)),
            Origin::Explicit,
            "soft below the host's hard: not podman's copy"
        );
    }
}
