//! The opt-in debug log, for support cases: one JSON line per invocation with argv (exec's
//! `--env` values redacted), the caller, the time each phase took and the decision. Off
//! unless the config file sets `debug_log = "/var/log/rampart/debug.log"`; a failure to
//! write it never changes what happens to the container (it is diagnostics, not audit).

use serde_json::json;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Phase timings of one invocation.
pub struct Trace {
    start: Instant,
    last: Instant,
    phases: Vec<(&'static str, f64)>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    pub fn new() -> Trace {
        let now = Instant::now();
        Trace {
            start: now,
            last: now,
            phases: Vec::new(),
        }
    }

    /// Ends the phase `name` (it began where the previous one ended).
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases
            .push((name, (now - self.last).as_secs_f64() * 1000.0));
        self.last = now;
    }
}

/// argv as text, with the value of every `--env`/`-e` (exec) replaced: they can carry secrets.
pub fn redact(argv: &[OsString]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut next_is_env = false;
    for a in argv {
        let a = a.to_string_lossy();
        let hide = |kv: &str| match kv.split_once('=') {
            Some((k, _)) => format!("{k}=<redacted>"),
            None => kv.to_string(),
        };
        if next_is_env {
            out.push(hide(&a));
            next_is_env = false;
        } else if a == "--env" || a == "-e" {
            out.push(a.into_owned());
            next_is_env = true;
        } else if let Some(v) = a.strip_prefix("--env=") {
            out.push(format!("--env={}", hide(v)));
        } else {
            out.push(a.into_owned());
        }
    }
    out
}

/// Appends one line; errors are ignored (see the module doc).
pub fn append(
    path: &Path,
    time: &str,
    argv: &[OsString],
    caller: Option<&str>,
    trace: &Trace,
    decision: &str,
) {
    let phases: serde_json::Map<String, serde_json::Value> = trace
        .phases
        .iter()
        .map(|(n, ms)| (n.to_string(), json!((ms * 1000.0).round() / 1000.0)))
        .collect();
    let line = json!({
        "time": time,
        "pid": std::process::id(),
        "caller": caller,
        "argv": redact(argv),
        "phases_ms": phases,
        "total_ms": ((trace.start.elapsed().as_secs_f64() * 1000.0) * 1000.0).round() / 1000.0,
        "decision": decision,
    });
    let Ok(mut bytes) = serde_json::to_vec(&line) else {
        return;
    };
    bytes.push(b'\n');
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write per line: O_APPEND keeps concurrent lines whole.
        let _ = f.write_all(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_redacted_and_phases_recorded() {
        let argv: Vec<OsString> = [
            "runc",
            "exec",
            "--env",
            "TOKEN=s3cret",
            "-e",
            "A=b",
            "--env=P=q",
            "c",
            "sh",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let r = redact(&argv);
        assert_eq!(
            r,
            [
                "runc",
                "exec",
                "--env",
                "TOKEN=<redacted>",
                "-e",
                "A=<redacted>",
                "--env=P=<redacted>",
                "c",
                "sh"
            ]
        );
        let dir = std::env::temp_dir().join(format!("rampart-debug-{}", std::process::id()));
        let path = dir.join("d/debug.log");
        let mut t = Trace::new();
        t.mark("settings");
        t.mark("create");
        append(&path, "now", &argv, Some("containerd-shim"), &t, "hardened");
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
        assert_eq!(line["decision"], "hardened");
        assert!(line["phases_ms"]["create"].is_number());
        assert!(!line.to_string().contains("s3cret"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
