//! `rampart learn show NAME`: every recording of NAME for people, and what a profile made
//! from the complete ones would hold.

use super::infer::Confidence;
use super::merge::{Verdict, merge};
use super::recording::Recording;
use std::fmt::Write as _;
use std::path::Path;

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

pub fn show(name: &str, dir: &Path, recs: &[Recording], arch: &str) -> String {
    let mut t = String::new();
    let complete = recs.iter().filter(|r| r.complete).count();
    let _ = writeln!(
        t,
        "{name}: {} recording{} in {} ({complete} complete)",
        recs.len(),
        if recs.len() == 1 { "" } else { "s" },
        dir.join(name).display()
    );
    for r in recs {
        let _ = writeln!(
            t,
            "\n{}  {}  {} .. {}  {}",
            r.short_id(),
            or_unknown(&r.engine),
            r.started,
            r.ended,
            if r.complete {
                "complete".to_string()
            } else {
                format!(
                    "INCOMPLETE ({} events lost; not used for a profile without --allow-incomplete)",
                    r.lost_events
                )
            }
        );
        let user = r
            .request
            .user
            .map(|u| format!(" as {}:{}", u.uid, u.gid))
            .unwrap_or_default();
        let _ = writeln!(t, "  ran:       {}{user}", r.request.args.join(" "));
        let _ = writeln!(
            t,
            "  request:   profile {}, {} capabilities, rootfs {}",
            or_unknown(&r.request.profile_base),
            r.request.capabilities.len(),
            if r.request.readonly_rootfs {
                "read-only"
            } else {
                "writable"
            }
        );
        if !r.request.mounts.is_empty() {
            let m: Vec<String> = r
                .request
                .mounts
                .iter()
                .map(|m| format!("{} ({})", m.destination, m.source_kind))
                .collect();
            let _ = writeln!(t, "  mounts:    {}", m.join(", "));
        }
        let _ = writeln!(
            t,
            "  recorded:  syscalls by {}, capabilities {}",
            or_unknown(&r.source.syscalls),
            or_unknown(&r.source.capabilities)
        );
        let mut arches: Vec<&str> = r.syscalls.iter().map(|s| s.arch.as_str()).collect();
        arches.sort_by_key(|a| (*a != arch, *a));
        arches.dedup();
        if arches.is_empty() {
            let _ = writeln!(t, "  syscalls:  none recorded");
        }
        for a in arches {
            let on: Vec<_> = r.syscalls.iter().filter(|s| s.arch == a).collect();
            let total: u64 = on.iter().map(|s| s.calls()).sum();
            let failed: u64 = on.iter().map(|s| s.errors.values().sum::<u64>()).sum();
            let mut top = on.clone();
            top.sort_by_key(|s| std::cmp::Reverse(s.calls()));
            let top: Vec<String> = top
                .iter()
                .take(5)
                .map(|s| format!("{} {}", s.name, s.calls()))
                .collect();
            let _ = writeln!(
                t,
                "  syscalls:  {a}: {} distinct, {total} calls, {failed} failed (most: {})",
                on.len(),
                top.join(", ")
            );
        }
        if !r.writes.is_empty() {
            let _ = writeln!(t, "  writes:    {}", r.writes.join(", "));
        }
        let mut peaks = Vec::new();
        if let Some(p) = r.peaks.pids {
            peaks.push(format!("pids {p}"));
        }
        if let Some(b) = r.peaks.memory_bytes {
            peaks.push(format!("memory {}", mib(b)));
        }
        if let Some(n) = r.peaks.nofile {
            peaks.push(format!("nofile {n}"));
        }
        if !peaks.is_empty() {
            let _ = writeln!(t, "  peaks:     {}", peaks.join(", "));
        }
    }
    let used: Vec<&Recording> = recs.iter().filter(|r| r.complete).collect();
    let _ = writeln!(
        t,
        "\nCapabilities (from the {} complete recording{}; each within its request):",
        used.len(),
        if used.len() == 1 { "" } else { "s" }
    );
    let m = merge(&used);
    if m.caps.is_empty() {
        let _ = writeln!(t, "  none needed");
    }
    for (cap, f) in &m.caps {
        let verdict = match f.verdict(cap) {
            Verdict::Granted => "granted",
            Verdict::HeldBack => "NOT granted (never by a built-in profile; an admin's edit)",
            Verdict::NotInRequest => "not granted (the request did not have it)",
        };
        let _ = writeln!(
            t,
            "  {cap:<22} {:<14} {verdict}",
            if f.within_request() {
                f.confidence.label()
            } else {
                "-"
            }
        );
        let groups = f.grouped();
        for g in groups.iter().take(4) {
            let _ = writeln!(
                t,
                "      {}  x{}  ({}{})  in {}",
                g.why,
                g.count,
                g.confidence.label(),
                if g.had { "" } else { "; not in the request" },
                g.ids.join(", ")
            );
        }
        if groups.len() > 4 {
            let _ = writeln!(t, "      ... {} more", groups.len() - 4);
        }
        if cap == "CAP_NET_BIND_SERVICE" {
            let _ = writeln!(
                t,
                "      (in a private network namespace net_bind_via_sysctl drops it again: the sysctl does the job)"
            );
        }
    }
    let _ = writeln!(
        t,
        "\nHow exact: {} = the kernel's own rule on complete inputs; {} = one input the recording lacks\n\
         (saved uid, supplementary groups) assumed usual; {} = the call may have succeeded without it.",
        Confidence::Exact.label(),
        Confidence::Likely.label(),
        Confidence::MayOverGrant.label()
    );
    t
}

/// A recorded name, or `?` when the recording left it empty.
fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "?" } else { s }
}
