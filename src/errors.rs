//! How failures reach people. Docker, containerd and Kubernetes show only the last
//! `{"level":"error",...}` line of the runtime's `--log` file; podman shows stderr. So every
//! error goes to stderr and, when `--log` was given, to that file in runc's format.

use crate::argv::GlobalArgs;
use std::io::Write;
use std::time::SystemTime;

/// The one-line message: `rampart: outer context: inner cause`.
/// One line even when a cause spans several (TOML parse errors do): engines show only one.
pub fn message(err: &anyhow::Error) -> String {
    let text = format!("rampart: {err:#}");
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
