//! Load: 50 containers created at once through a private dockerd with `--runtime rampart`
//! (harness: tests/common/engines.rs). Every one is hardened (checked from inside: no
//! capabilities, no_new_privs, seccomp), the audit log holds exactly one well-formed line per
//! container, and no temp file is left in any bundle. RAMPART_LOAD_CONTAINERS sets the count.
mod common;

use common::engines::{Docker, IMAGE, audit_log, tool};
use common::status_field;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

fn ready() -> bool {
    if !common::require_root_tools() {
        return false;
    }
    let missing: Vec<&str> = ["dockerd", "docker"]
        .into_iter()
        .filter(|t| tool(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "the load test needs {}: run scripts/setup-host (or set RAMPART_SKIP_E2E=1)",
        missing.join(", ")
    );
    true
}

/// Removes the containers (also when the test fails).
struct Containers<'a> {
    docker: &'a Docker,
    ids: Vec<String>,
}

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for chunk in self.ids.chunks(25) {
            let mut args = vec!["rm", "-f"];
            args.extend(chunk.iter().map(String::as_str));
            let _ = self.docker.run(&args);
        }
    }
}

#[test]
fn containers_created_in_parallel_through_docker_are_all_hardened_and_audited_once() {
    if !ready() {
        return;
    }
    let n: usize = std::env::var("RAMPART_LOAD_CONTAINERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let d = Docker::get();
    let label = format!("rampart-load={}", std::process::id());
    let start = Instant::now();
    let runs: Vec<_> = (0..n)
        .map(|_| {
            let label = label.clone();
            thread::spawn(move || {
                Docker::get().run(&[
                    "run",
                    "-d",
                    "--network",
                    "none",
                    "--label",
                    &label,
                    "--runtime",
                    "rampart",
                    IMAGE,
                    "sh",
                    "-c",
                    "probe status; exec sleep 600",
                ])
            })
        })
        .collect();
    let mut containers = Containers {
        docker: d,
        ids: Vec::new(),
    };
    let mut failed = Vec::new();
    for r in runs {
        let out = r.join().unwrap();
        match out.status.success() {
            true => containers
                .ids
                .push(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => failed.push(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    }
    let took = start.elapsed();
    assert!(
        failed.is_empty(),
        "{} of {n} failed: {failed:#?}",
        failed.len()
    );
    let ids = containers.ids.clone();
    assert_eq!(ids.len(), n);

    // Hardened, from inside: each container printed its status before sleeping.
    let deadline = Instant::now() + Duration::from_secs(120);
    for id in &ids {
        let inside = loop {
            let out = d.run(&["logs", id]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("Seccomp:") || Instant::now() > deadline {
                break text;
            }
            thread::sleep(Duration::from_millis(200));
        };
        for key in ["CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(
                status_field(&inside, key).as_deref(),
                Some("0000000000000000"),
                "{id} {key}\n{inside}"
            );
        }
        assert_eq!(status_field(&inside, "NoNewPrivs").as_deref(), Some("1"));
        assert_eq!(status_field(&inside, "Seccomp").as_deref(), Some("2"));
    }

    // The audit log: every line well-formed; exactly one per container, hardened.
    let text = fs::read_to_string(audit_log()).unwrap();
    let mut per_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("audit line {i} is not JSON ({e}): {line}"));
        if let Some(id) = v["id"].as_str() {
            per_id.entry(id.to_string()).or_default().push(v);
        }
    }
    for id in &ids {
        let lines = per_id.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(lines.len(), 1, "{id}: {} audit lines", lines.len());
        assert_eq!(lines[0]["command"], "create");
        assert_eq!(lines[0]["outcome"], "hardened");
        assert_eq!(lines[0]["profile"], "restricted");
        // No temp file left in the bundle (still there: the container runs).
        let bundle = lines[0]["bundle"].as_str().unwrap();
        let left: Vec<String> = fs::read_dir(Path::new(bundle))
            .unwrap_or_else(|e| panic!("{bundle}: {e}"))
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".rampart") && n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{id}: {left:?} in {bundle}");
    }
    eprintln!(
        "load: {n} containers created in parallel through dockerd with --runtime rampart in {took:.1?}: all hardened, one audit line each, no temp files"
    );
}
