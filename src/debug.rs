//! The opt-in debug log, for support cases: one JSON line per invocation with argv (exec's
//! `--env` values redacted), the caller, the time each phase took and the decision. Off
//! unless the config file sets `debug_log = "/var/log/rampart/debug.log"`; a failure to
//! write it never changes what happens to the container (it is diagnostics, not audit).

use serde_json::json;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The parts of a `create` (read, parse, host facts, policy, each step, write, audit...),
/// timed only while the debug log is on. Each [`part`] call ends the part it names, which
/// began at the previous call (or at [`record_parts`]). Kept here, not in [`Trace`], because
/// the parts are deep in the pipeline (planning, the steps, the bundle write), whose
/// signatures should not carry a diagnostics handle; `create` runs on one thread.
static RECORDING: AtomicBool = AtomicBool::new(false);
static PARTS: Mutex<Vec<(&'static str, Instant)>> = Mutex::new(Vec::new());

/// Starts timing parts (call once the debug log is known to be on).
pub fn record_parts() {
    if let Ok(mut p) = PARTS.lock() {
        p.clear();
        p.push(("", Instant::now()));
        RECORDING.store(true, Ordering::Relaxed);
    }
}

/// Ends the part `name`; nothing unless [`record_parts`] was called (one atomic load).
pub fn part(name: &'static str) {
    if RECORDING.load(Ordering::Relaxed)
        && let Ok(mut p) = PARTS.lock()
    {
        p.push((name, Instant::now()));
    }
}

/// The parts recorded so far, in order, in ms; a name ended more than once is summed.
fn parts_ms() -> Vec<(&'static str, f64)> {
    match PARTS.lock() {
        Ok(p) => durations(&p),
        Err(_) => Vec::new(),
    }
}

/// [`parts_ms`] of a list of part ends (the first entry is the start).
fn durations(ends: &[(&'static str, Instant)]) -> Vec<(&'static str, f64)> {
    let mut out: Vec<(&'static str, f64)> = Vec::new();
    for w in ends.windows(2) {
        let ms = (w[1].1 - w[0].1).as_secs_f64() * 1000.0;
        match out.iter_mut().find(|(n, _)| *n == w[1].0) {
            Some((_, sum)) => *sum += ms,
            None => out.push((w[1].0, ms)),
        }
    }
    out
}

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
    let ms = |list: &[(&'static str, f64)]| -> serde_json::Map<String, serde_json::Value> {
        list.iter()
            .map(|(n, ms)| (n.to_string(), json!((ms * 1000.0).round() / 1000.0)))
            .collect()
    };
    let mut line = json!({
        "time": time,
        "pid": std::process::id(),
        "caller": caller,
        "argv": redact(argv),
        "phases_ms": ms(&trace.phases),
        "total_ms": ((trace.start.elapsed().as_secs_f64() * 1000.0) * 1000.0).round() / 1000.0,
        "decision": decision,
    });
    // Where `harden` went: for `create` and `run` (and the steps of an `exec`).
    let parts = parts_ms();
    if !parts.is_empty() {
        line["parts_ms"] = serde_json::Value::Object(ms(&parts));
    }
    // The high-water mark of the binary's arena (0 in tests and the recorder: not in use).
    line["arena_bytes"] = json!(crate::arena::ARENA.high_water());
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
    use std::time::Duration;

    #[test]
    fn parts_are_the_time_between_ends_and_a_repeated_name_is_summed() {
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        let got = durations(&[
            ("", at(0)),
            ("read", at(2)),
            ("seccomp", at(5)),
            ("read", at(6)),
        ]);
        let names: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["read", "seccomp"]);
        assert!(got.iter().all(|(_, ms)| (ms - 3.0).abs() < 1e-6), "{got:?}");
        assert!(durations(&[("", t)]).is_empty() && durations(&[]).is_empty());
    }

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
