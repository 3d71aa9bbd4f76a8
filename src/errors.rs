//! How failures reach people. Docker, containerd and Kubernetes show only the last
//! `{"level":"error",...}` line of the runtime's `--log` file; podman shows stderr. So every
//! error goes to stderr and, when `--log` was given, to that file in runc's format.

use crate::argv::GlobalArgs;
use std::io::Write;
use std::time::SystemTime;

/// A refusal: its text is already shaped for people (the fix first, one line per rule), so
/// [`message`] keeps its lines. Engines keep them too: the `--log` line is JSON (or logrus
/// text) with the newlines escaped, and containerd/Docker decode and print `msg` as is.
#[derive(Debug)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// The message: `rampart: outer context: inner cause`. One line per cause even when a cause
/// spans several (TOML parse errors do). A [`Refusal`] is the whole message, with its own
/// lines: its first sentence is the fix, which no context ("cannot harden ...") may push back.
pub fn message(err: &anyhow::Error) -> String {
    if let Some(r) = err.chain().find_map(|c| c.downcast_ref::<Refusal>()) {
        let lines: Vec<&str> =
            r.0.split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
        return format!("rampart: {}", lines.join("\n"));
    }
    let flat = |s: &str| {
        s.split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let parts: Vec<String> = err.chain().map(|c| flat(&c.to_string())).collect();
    format!("rampart: {}", parts.join(": "))
}

/// Writes `msg` to stderr and to the `--log` file (JSON or logrus text, as runc would).
pub fn report(global: &GlobalArgs, now: SystemTime, msg: &str) {
    eprintln!("{msg}");
    let Some(path) = &global.log else { return };
    let time = crate::host::rfc3339(now);
    let line = if global.log_format.as_deref() == Some("json") {
        format!(
            "{}\n",
            serde_json::json!({"level": "error", "msg": msg, "time": time})
        )
    } else {
        format!(
            "time=\"{time}\" level=error msg={}\n",
            serde_json::Value::String(msg.to_string())
        )
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "rampart: also could not write the error to the log file {}: {e}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal is the whole message (no context before its fix) and keeps its lines into
    /// the `--log` line, which stays one valid JSON line; other multi-line causes are
    /// flattened.
    #[test]
    fn refusal_lines_survive_and_the_log_line_stays_one_json_line() {
        let e: anyhow::Error =
            Refusal("refused; to run it, x.\n[r]: /f = 1\nAdmin: y".into()).into();
        let e = e.context("outer");
        assert_eq!(
            message(&e),
            "rampart: refused; to run it, x.\n[r]: /f = 1\nAdmin: y"
        );
        let plain = anyhow::anyhow!("line one\n  line two");
        assert_eq!(message(&plain), "rampart: line one line two");
        let d = std::env::temp_dir().join(format!("rampart-errlog-nl-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for format in [Some("json"), None] {
            let g = GlobalArgs {
                log: Some(d.join("log")),
                log_format: format.map(String::from),
                root: None,
                ..Default::default()
            };
            let _ = std::fs::remove_file(d.join("log"));
            report(&g, SystemTime::UNIX_EPOCH, &message(&e));
            let text = std::fs::read_to_string(d.join("log")).unwrap();
            assert_eq!(text.lines().count(), 1, "{text}");
            if format.is_some() {
                let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
                assert_eq!(v["msg"].as_str().unwrap(), message(&e));
            } else {
                assert!(
                    text.contains("msg=\"rampart: refused; to run it, x.\\n[r]"),
                    "{text}"
                );
            }
        }
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn json_line_has_runc_shape_and_text_line_is_logrus_like() {
        let d = std::env::temp_dir().join(format!("rampart-errlog-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let g = GlobalArgs {
            log: Some(d.join("log.json")),
            log_format: Some("json".into()),
            root: None,
            ..Default::default()
        };
        report(&g, SystemTime::UNIX_EPOCH, "rampart: refused \"x\"");
        let text = std::fs::read_to_string(d.join("log.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "rampart: refused \"x\"");
        assert_eq!(v["time"], "1970-01-01T00:00:00.000000000Z");
        let t = GlobalArgs {
            log: Some(d.join("log.txt")),
            log_format: None,
            root: None,
            ..Default::default()
        };
        report(&t, SystemTime::UNIX_EPOCH, "boom");
        assert!(
            std::fs::read_to_string(d.join("log.txt"))
                .unwrap()
                .contains("level=error msg=\"boom\"")
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
