//! Step: read-only rootfs (CIS Docker 5.13) with writable tmpfs where ordinary programs
//! expect to write (/tmp, /run), unless the request already mounts something there.

use super::Context;
use crate::change::Changes;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::{Value, json};

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let policy = &cx.profile.rootfs;
    if !policy.readonly {
        return Ok(());
    }
    ch.set(
        spec,
        "/root/readonly",
        Value::Bool(true),
        format!(
            "profile {} makes the root filesystem read-only",
            cx.profile.name
        ),
    )?;
    let mut mounts: Vec<Value> = match spec.get("/mounts") {
        Some(Value::Array(m)) => m.clone(),
        _ => Vec::new(),
    };
    let mut added = Vec::new();
    for t in &policy.tmpfs {
        let taken = mounts.iter().any(|m| {
            m.get("destination").and_then(Value::as_str).map(clean) == Some(clean(&t.path))
        });
        if !taken {
            mounts.push(json!({"destination": t.path, "type": "tmpfs", "source": "tmpfs", "options": t.options}));
            added.push(t.path.as_str());
        }
    }
    if !added.is_empty() {
        spec.set("/mounts", Value::Array(mounts))?;
        ch.record(
            "/mounts",
            Value::Null,
            json!(added),
            format!(
                "writable tmpfs at {} so programs can still write with a read-only rootfs",
                added.join(", ")
            ),
        );
    }
    Ok(())
}

/// `/tmp/` and `//tmp` name the same mount point as `/tmp`.
pub fn clean(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;

    fn run(s: &mut Spec, name: &str) -> usize {
        let (p, h) = (profile(name), facts());
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(s, &cx, &mut Changes::new("rootfs", &mut out)).unwrap();
        out.len()
    }

    #[test]
    fn restricted_makes_root_readonly_and_adds_tmpfs_once() {
        let mut s = fixture("docker-20.10/default.json");
        let n_mounts = s.get("/mounts").unwrap().as_array().unwrap().len();
        assert_eq!(run(&mut s, "restricted"), 2);
        assert_eq!(s.get("/root/readonly"), Some(&Value::Bool(true)));
        assert_eq!(
            s.get("/mounts").unwrap().as_array().unwrap().len(),
            n_mounts + 2
        );
        assert_eq!(run(&mut s, "restricted"), 0, "idempotent");
    }

    #[test]
    fn existing_mounts_are_kept_and_baseline_changes_nothing() {
        let mut s = fixture("containerd-1.6-ctr/default.json");
        let has_run = s
            .get("/mounts")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/run");
        run(&mut s, "restricted");
        let runs = s
            .get("/mounts")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| clean(m["destination"].as_str().unwrap()) == "/run")
            .count();
        assert_eq!(runs, 1, "has_run={has_run}");
        let mut b = fixture("docker-20.10/default.json");
        assert_eq!(run(&mut b, "baseline"), 0);
        assert_eq!(clean("//tmp/./"), "/tmp");
    }
}
