//! A working directory inside /proc. CVE-2024-21626: runc before 1.1.12 leaked a host
//! cgroupfs directory fd into the container's init, so `process.cwd = /proc/self/fd/7` (an
//! image's WORKDIR is enough) started the container with its working directory on the host.
//! No workload needs to start inside /proc, so the rule holds whatever the host's runc.

use super::{Rule, Violation};
use serde_json::{Value, json};

pub const CWD_IN_PROC: Rule = Rule {
    id: "cwd-in-proc",
    fix: "set a working directory outside /proc (--workdir, WORKDIR)",
    title: "working directory inside /proc",
    reference: "CVE-2024-21626 (runc < 1.1.12, leaked host fd as working directory)",
    check: |spec, _| {
        Ok(spec
            .get("/process/cwd")
            .and_then(Value::as_str)
            .and_then(|cwd| violation("/process/cwd", cwd))
            .into_iter()
            .collect())
    },
};

/// The violation for working directory `cwd` given at `field`, if it lies inside /proc
/// (read lexically, as runc would resolve `.`, `..` and repeated slashes).
pub fn violation(field: &str, cwd: &str) -> Option<Violation> {
    let clean = super::mounts::clean(cwd);
    (clean == "/proc" || clean.starts_with("/proc/")).then(|| {
        Violation::new(
            field,
            json!(cwd),
            "a working directory under /proc can be a file descriptor leaked from the host (the runc escape of CVE-2024-21626)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::violation;

    #[test]
    fn only_paths_inside_proc() {
        for cwd in [
            "/proc/self/fd/7",
            "/proc/1/cwd",
            "//proc/thread-self/fd/8",
            "/tmp/../proc/self/fd/7",
            "/./proc",
            "proc/self/fd/7",
        ] {
            assert!(violation("/process/cwd", cwd).is_some(), "{cwd}");
        }
        for cwd in ["/", "/app", "/procfs", "/srv/proc/self", "/proc.d"] {
            assert!(violation("/process/cwd", cwd).is_none(), "{cwd}");
        }
    }
}
