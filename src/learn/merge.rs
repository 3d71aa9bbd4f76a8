//! Several recordings of one workload, merged: capabilities inferred in any of them (each
//! within what its request had), syscalls per architecture, written paths and peaks.

use super::infer::{self, Confidence, Inference};
use super::recording::Recording;
use std::collections::BTreeMap;

/// One capability across the recordings.
#[derive(Debug, Clone)]
pub struct CapFinding {
    /// The best confidence among the inferences within a request.
    pub confidence: Confidence,
    /// (recording's short id, inference, whether that recording's request had the capability).
    pub evidence: Vec<(String, Inference, bool)>,
}

/// The same finding in one or more recordings.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouped<'f> {
    pub why: &'f str,
    pub confidence: Confidence,
    /// Whether the recordings' requests had the capability.
    pub had: bool,
    pub count: u64,
    pub ids: Vec<&'f str>,
}

impl CapFinding {
    /// Inferred where the request had it: the only way a learned profile grants it.
    pub fn within_request(&self) -> bool {
        self.evidence.iter().any(|(_, _, had)| *had)
    }

    /// The evidence with identical findings of several recordings made one, first seen first.
    pub fn grouped(&self) -> Vec<Grouped<'_>> {
        let mut out: Vec<Grouped> = Vec::new();
        for (id, inf, had) in &self.evidence {
            let same = |g: &&mut Grouped| {
                g.why == inf.why && g.confidence == inf.confidence && g.had == *had
            };
            match out.iter_mut().find(|g| same(g)) {
                Some(g) => {
                    g.count += inf.count;
                    if !g.ids.contains(&id.as_str()) {
                        g.ids.push(id);
                    }
                }
                None => out.push(Grouped {
                    why: &inf.why,
                    confidence: inf.confidence,
                    had: *had,
                    count: inf.count,
                    ids: vec![id],
                }),
            }
        }
        out
    }
}

/// How a capability ends up in a learned profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Granted,
    /// Never granted by a built-in profile (SYS_ADMIN, NET_ADMIN, DAC_READ_SEARCH...): an
    /// admin adds it by hand, or not at all.
    HeldBack,
    /// The request did not have it (the call cannot have needed it: the inference is wrong).
    NotInRequest,
}

impl CapFinding {
    pub fn verdict(&self, cap: &str) -> Verdict {
        if !self.within_request() {
            Verdict::NotInRequest
        } else if crate::profile::NEVER_GRANTED_BY_BUILTINS.contains(&cap) {
            Verdict::HeldBack
        } else {
            Verdict::Granted
        }
    }
}

/// One recording's share of a syscall: (its short id, calls, failed calls).
pub type Calls = (String, u64, u64);

#[derive(Debug, Default)]
pub struct Merged<'r> {
    pub used: Vec<&'r Recording>,
    pub caps: BTreeMap<String, CapFinding>,
    /// (arch, name) → (recording's short id, calls, failed calls).
    pub syscalls: BTreeMap<(String, String), Vec<Calls>>,
    /// Path → the short ids of the recordings that wrote it.
    pub writes: BTreeMap<String, Vec<String>>,
    /// Each peak: the largest value and the recording it came from.
    pub pids: Option<(u64, String)>,
    pub memory_bytes: Option<(u64, String)>,
    pub nofile: Option<(u64, String)>,
}

/// Merges `recs` (the caller chose which: complete ones unless told otherwise).
pub fn merge<'r>(recs: &[&'r Recording]) -> Merged<'r> {
    let mut m = Merged {
        used: recs.to_vec(),
        ..Default::default()
    };
    for r in recs {
        let id = r.short_id().to_string();
        for inf in infer::infer(r) {
            let had = r.request.capabilities.contains(&inf.capability);
            let f = m.caps.entry(inf.capability.clone()).or_insert(CapFinding {
                confidence: Confidence::MayOverGrant,
                evidence: Vec::new(),
            });
            if had {
                f.confidence = f.confidence.min(inf.confidence);
            }
            f.evidence.push((id.clone(), inf, had));
        }
        for s in r.syscalls.iter().filter(|s| s.calls() > 0) {
            let failed = s.errors.values().sum::<u64>();
            m.syscalls
                .entry((s.arch.clone(), s.name.clone()))
                .or_default()
                .push((id.clone(), s.calls(), failed));
        }
        for w in &r.writes {
            let ids = m.writes.entry(w.clone()).or_default();
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
        }
        let peak = |slot: &mut Option<(u64, String)>, v: Option<u64>| {
            if let Some(v) = v
                && slot.as_ref().is_none_or(|(old, _)| v > *old)
            {
                *slot = Some((v, id.clone()));
            }
        };
        peak(&mut m.pids, r.peaks.pids);
        peak(&mut m.memory_bytes, r.peaks.memory_bytes);
        peak(&mut m.nofile, r.peaks.nofile);
    }
    m
}

impl Merged<'_> {
    /// The architectures syscalls were seen on, native first.
    pub fn arches(&self, native: &str) -> Vec<String> {
        let mut a: Vec<String> = self.syscalls.keys().map(|(a, _)| a.clone()).collect();
        a.dedup();
        a.sort_by_key(|x| (x != native, x.clone()));
        a
    }

    pub fn syscalls_on<'a>(
        &'a self,
        arch: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [Calls])> + 'a {
        self.syscalls
            .iter()
            .filter(move |((a, _), _)| a == arch)
            .map(|((_, n), v)| (n.as_str(), v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, caps: &[&str], evidence: &str, syscalls: &str, peaks: &str) -> Recording {
        Recording::parse(
            &format!(
                r#"{{"schema":1,"name":"w","container_id":"{id}","complete":true,
                "source":{{"capabilities":"inferred"}},
                "request":{{"capabilities":{caps:?}}},
                "evidence":[{evidence}],"syscalls":[{syscalls}],"peaks":{peaks},
                "writes":["/var/cache/w"]}}"#
            ),
            std::path::Path::new("w.json"),
        )
        .unwrap()
    }

    #[test]
    fn merges_within_each_request_and_keeps_the_largest_peaks() {
        let chown = r#"{"syscall":"fchownat","ret":0,"count":3,"args":{"uid":101,"gid":101},"target":{"uid":0,"gid":0,"mode":16877}}"#;
        let raw = r#"{"syscall":"socket","ret":3,"args":{"family":2,"type":3}}"#;
        let su = r#"{"syscall":"setuid","ret":0,"args":{"uid":101}}"#;
        let a = rec(
            "aaaaaaaaaaaaaaaa",
            &["CAP_CHOWN", "CAP_SETUID"],
            &format!("{chown},{su}"),
            r#"{"arch":"x86_64","name":"read","ok":5},{"arch":"x86","name":"read","ok":1}"#,
            r#"{"pids":3,"memory_bytes":1000}"#,
        );
        // Its request had no NET_RAW: the socket call is evidence of nothing it may keep.
        let b = rec(
            "bbbbbbbbbbbbbbbb",
            &["CAP_CHOWN"],
            &format!("{chown},{raw}"),
            r#"{"arch":"x86_64","name":"read","ok":2,"errors":{"EINTR":1}},{"arch":"x86_64","name":"write","ok":1}"#,
            r#"{"pids":7,"nofile":40}"#,
        );
        let m = merge(&[&a, &b]);
        assert_eq!(m.caps["CAP_CHOWN"].verdict("CAP_CHOWN"), Verdict::Granted);
        assert_eq!(m.caps["CAP_CHOWN"].evidence.len(), 2);
        let g = m.caps["CAP_CHOWN"].grouped();
        assert_eq!(g.len(), 1);
        assert_eq!(
            (g[0].count, &g[0].ids[..]),
            (6, &["aaaaaaaaaaaa", "bbbbbbbbbbbb"][..])
        );
        assert_eq!(m.caps["CAP_CHOWN"].confidence, Confidence::Exact);
        assert_eq!(m.caps["CAP_SETUID"].confidence, Confidence::Likely);
        assert_eq!(
            m.caps["CAP_NET_RAW"].verdict("CAP_NET_RAW"),
            Verdict::NotInRequest
        );
        assert_eq!(
            m.syscalls[&("x86_64".to_string(), "read".to_string())],
            vec![
                ("aaaaaaaaaaaa".to_string(), 5, 0),
                ("bbbbbbbbbbbb".to_string(), 3, 1)
            ]
        );
        assert_eq!(m.arches("x86_64"), ["x86_64", "x86"]);
        assert_eq!(m.pids, Some((7, "bbbbbbbbbbbb".into())));
        assert_eq!(m.memory_bytes, Some((1000, "aaaaaaaaaaaa".into())));
        assert_eq!(m.nofile, Some((40, "bbbbbbbbbbbb".into())));
        assert_eq!(m.writes["/var/cache/w"].len(), 2);
        let mut sys = CapFinding {
            confidence: Confidence::Exact,
            evidence: m.caps["CAP_CHOWN"].evidence.clone(),
        };
        assert_eq!(sys.verdict("CAP_SYS_ADMIN"), Verdict::HeldBack);
        sys.evidence.clear();
        assert_eq!(sys.verdict("CAP_SYS_ADMIN"), Verdict::NotInRequest);
    }
}
