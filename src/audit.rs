//! The audit log: one JSON line per hardened container (or exec'd process): when, where,
//! which container, which profile, and every change. Appends hold an exclusive flock so
//! lines from concurrent starts never interleave.
//!
//! # Schema (`"schema": 2`)
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `schema` | number | this layout's version; 2 (records without it are version 1) |
//! | `time` | string | RFC 3339, UTC |
//! | `host` | string | the node's host name (`/proc/sys/kernel/hostname`) |
//! | `command` | string | runc's command: `create`, `run`, `exec`, `update`, `restore` |
//! | `id` | string? | the container id runc was given |
//! | `bundle` | string? | the bundle directory |
//! | `image`, `pod`, `namespace`, `container` | string? | from the engine's annotations (CRI: `io.kubernetes.cri.image-name`, `…sandbox-name`, `…sandbox-namespace`, `…container-name`; CRI-O: `io.kubernetes.cri-o.ImageName`, `io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`, `io.kubernetes.container.name`); absent when the engine writes none (Docker 20.10 and podman 4.3 write none of them). Written as the engine wrote them, cut at 253 bytes: labels for finding a record, not proof of who asked |
//! | `profile`, `mode`, `outcome` | string | the profile; `enforce`/`complain`/`off`; `hardened`, `refused`, `complain`, `off`, `learning` (`learn:NAME`: ran with the request's privileges and no-new-privileges, recorded), `clamped` (exec) or `judged` (update) |
//! | `runtime` | string | the real runtime exec'd |
//! | `changes` | object | step → field (JSON pointer; consecutive fields with one value share a key, `/a/b,c` meaning `/a/b` and `/a/c`) → what changed: for lists of strings `{"after": […]}` when short, `{"-": removed, "+": added}`; for other values `[before, after]` (`null`: unset); for a decision that changed nothing `{"note": "…"}` |
//! | `refusals` | list? | the rules that refused: `rule`, `field`, `value`, `message` |
//! | `notes` | list? | annotations ignored or used, waivers |
//!
//! The reasons for each change are not repeated per container: `rampart explain BUNDLE`
//! prints every change with its before, after and reason. A create under Docker's default
//! spec and the restricted profile writes about 2 KB.

use crate::change::Change;
use crate::policy::Violation;
use crate::profile::Mode;
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// The version of the record's layout (see the module doc).
pub const SCHEMA: u32 = 2;

#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub schema: u32,
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub command: &'a str,
    pub id: Option<&'a str>,
    pub bundle: Option<String>,
    #[serde(flatten)]
    pub workload: Workload,
    pub profile: &'a str,
    pub mode: Mode,
    /// `hardened`, `refused`, `complain` (ran as requested), `off`, `learning` (recorded), or `clamped` (exec).
    pub outcome: &'a str,
    pub runtime: String,
    #[serde(serialize_with = "serialize_changes")]
    pub changes: &'a [Change],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub refusals: &'a [Violation],
    /// Annotations that asked for something the admin did not allow-list, and waivers used.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub notes: &'a [String],
}

/// Who the container is, as the engine's annotations name it (see the module doc).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Workload {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

const MAX_LABEL: usize = 253;

impl Workload {
    pub fn from_annotations(a: &std::collections::BTreeMap<String, String>) -> Workload {
        Workload::from_lookup(|k| a.get(k).map(String::as_str))
    }

    /// From a spec's `annotations` object: only the keys a workload is named by are looked
    /// up (a spec may carry thousands of others; copying them all into a map was a megabyte
    /// of peak memory with a 1 MB spec).
    pub fn from_spec(annotations: Option<&serde_json::Value>) -> Workload {
        let all = annotations.and_then(serde_json::Value::as_object);
        Workload::from_lookup(|k| all?.get(k)?.as_str())
    }

    fn from_lookup<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Workload {
        let pick = |keys: &[&str]| {
            keys.iter().find_map(|k| get(k)).map(|v| {
                let mut end = v.len().min(MAX_LABEL);
                while !v.is_char_boundary(end) {
                    end -= 1;
                }
                v[..end].to_string()
            })
        };
        Workload {
            image: pick(&[
                "io.kubernetes.cri.image-name",
                "io.kubernetes.cri-o.ImageName",
            ]),
            pod: pick(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]),
            namespace: pick(&[
                "io.kubernetes.cri.sandbox-namespace",
                "io.kubernetes.pod.namespace",
            ]),
            container: pick(&[
                "io.kubernetes.cri.container-name",
                "io.kubernetes.container.name",
            ]),
        }
    }
}

/// This node's host name, for records gathered from many nodes.
pub fn host_name() -> Option<String> {
    // uname(2): one call where /proc/sys/kernel/hostname is four (the same UTS namespace).
    let u = nix::sys::utsname::uname().ok()?;
    let name = u.nodename().to_string_lossy();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// A list of strings this long or shorter is written whole (`after`), longer ones as a diff.
const SHORT_LIST: usize = 96;

/// The longest note kept whole.
const NOTE_MAX: usize = 400;

/// Whether `v` serialises to at most `max` bytes; the serialisation stops once past it,
/// and nothing is allocated.
fn fits(v: &Value, max: usize) -> bool {
    struct Budget(usize);
    impl Write for Budget {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 = self
                .0
                .checked_sub(b.len())
                .ok_or(std::io::ErrorKind::FileTooLarge)?;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(&mut Budget(max), v).is_ok()
}

/// One change as the record writes it (see the module doc).
pub fn compact_value(c: &Change) -> Value {
    if c.before == c.after {
        let mut reason = c.reason.clone();
        // A note is a decision that changed nothing (ran without a user namespace, AppArmor
        // off): long enough to say which and why.
        if reason.len() > NOTE_MAX {
            let mut end = NOTE_MAX - 3;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push_str("...");
        }
        return json!({ "note": reason });
    }
    if !c.field.starts_with('/') {
        // Not a spec field (exec's argv): few, and the reason is what was dropped.
        return json!([c.before, c.after, c.reason]);
    }
    // `CAP_` is implied in capability lists.
    let short = |v: &str| -> Value {
        match c.step {
            "capabilities" => json!(v.strip_prefix("CAP_").unwrap_or(v)),
            _ => json!(v),
        }
    };
    if let (Some(before), Some(after)) = (strings(&c.before), strings(&c.after))
        && (c.before.is_array() || c.after.is_array())
    {
        let removed: Vec<Value> = before
            .iter()
            .filter(|b| !after.contains(b))
            .map(|b| short(b))
            .collect();
        let mut m = serde_json::Map::new();
        if fits(&c.after, SHORT_LIST) {
            m.insert(
                "after".into(),
                Value::Array(after.iter().map(|a| short(a)).collect()),
            );
        } else {
            let added: Vec<Value> = after
                .iter()
                .filter(|a| !before.contains(a))
                .map(|a| short(a))
                .collect();
            m.insert("+".into(), json!(added));
        }
        if !removed.is_empty() {
            m.insert("-".into(), json!(removed));
        }
        return Value::Object(m);
    }
    json!([c.before, c.after])
}

/// `changes` grouped by step; consecutive fields of one step with the same value share a key.
pub fn compact(changes: &[Change]) -> Value {
    let mut out = serde_json::Map::new();
    // Each change's value once (the grouping below compares neighbours).
    let mut values: Vec<Value> = changes.iter().map(compact_value).collect();
    let mut i = 0;
    while i < changes.len() {
        let c = &changes[i];
        let value = std::mem::take(&mut values[i]);
        let mut key = c.field.clone();
        let parent = c.field.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        let mut j = i + 1;
        while let Some(n) = changes.get(j) {
            let same_parent = n.field.rsplit_once('/').map(|(p, _)| p) == Some(parent);
            let plain = !n.field.contains(',') && !c.field.contains(',');
            if n.step != c.step || !same_parent || !plain || values[j] != value {
                break;
            }
            key.push(',');
            key.push_str(&n.field[parent.len() + 1..]);
            j += 1;
        }
        let step = out
            .entry(c.step.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(m) = step {
            // A field changed twice in one step keeps both.
            while m.contains_key(&key) {
                key.push('+');
            }
            m.insert(key, value);
        }
        i = j;
    }
    Value::Object(out)
}

/// The changes of a record read back (schema 1's list, or schema 2's object): step, field,
/// before, after, reason; where the record keeps a diff only, `before` holds what was
/// removed and `after` what was added.
pub fn expand(changes: &Value) -> Vec<(String, String, Value, Value, String)> {
    let mut out = Vec::new();
    match changes {
        Value::Array(list) => {
            for c in list {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                out.push((
                    s("step"),
                    s("field"),
                    c["before"].clone(),
                    c["after"].clone(),
                    s("reason"),
                ));
            }
        }
        Value::Object(steps) => {
            for (step, fields) in steps {
                let Some(fields) = fields.as_object() else {
                    continue;
                };
                for (key, v) in fields {
                    let key = key.trim_end_matches('+');
                    // Only spec pointers share keys (see `compact`); others keep any comma.
                    let (first, rest) = match key.split_once(',') {
                        Some((f, r)) if f.starts_with('/') => (f, r),
                        _ => (key, ""),
                    };
                    let parent = first.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                    let names = std::iter::once(first.to_string()).chain(
                        rest.split(',')
                            .filter(|r| !r.is_empty())
                            .map(|r| format!("{parent}/{r}")),
                    );
                    let (before, after, reason) = match v {
                        Value::Array(pair) if pair.len() == 2 || pair.len() == 3 => (
                            pair[0].clone(),
                            pair[1].clone(),
                            pair.get(2)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                        ),
                        Value::Object(m) if m.contains_key("note") => (
                            Value::Null,
                            Value::Null,
                            m["note"].as_str().unwrap_or_default().to_string(),
                        ),
                        Value::Object(m) => {
                            let long = |v: &Value| match (step.as_str(), v.as_str()) {
                                ("capabilities", Some(c)) if !c.starts_with("CAP_") => {
                                    json!(format!("CAP_{c}"))
                                }
                                _ => v.clone(),
                            };
                            let list = |k: &str| -> Vec<Value> {
                                match m.get(k) {
                                    Some(Value::Array(a)) => a.iter().map(long).collect(),
                                    _ => Vec::new(),
                                }
                            };
                            let after = if m.contains_key("after") {
                                list("after")
                            } else {
                                list("+")
                            };
                            let mut before = list("after");
                            before.extend(list("-"));
                            (Value::Array(before), Value::Array(after), String::new())
                        }
                        _ => continue,
                    };
                    for name in names {
                        out.push((
                            step.clone(),
                            name,
                            before.clone(),
                            after.clone(),
                            reason.clone(),
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

fn serialize_changes<S: serde::Serializer>(c: &&[Change], s: S) -> Result<S::Ok, S::Error> {
    compact(c).serialize(s)
}

pub fn append(path: &Path, record: &Record) -> Result<()> {
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    };
    // The directory is made only when it is missing (not checked on every container).
    let f = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the audit log directory {}", dir.display())
                })?;
            }
            open()
        }
        r => r,
    }
    .with_context(|| format!("cannot open the audit log {}", path.display()))?;
    let mut f = Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("cannot lock the audit log {}", path.display()))?;
    // A short write (disk full) must not leave a fragment the next record is glued to.
    let len = f.metadata().map(|m| m.len()).ok();
    if let Err(e) = f.write_all(&line) {
        if let Some(len) = len {
            let _ = f.set_len(len);
        }
        return Err(e).with_context(|| format!("cannot write the audit log {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_is_the_serialised_length() {
        for v in [
            json!(null),
            json!([]),
            json!(["a", "b\"c", "\u{1}"]),
            json!(["x".repeat(94)]),
            json!(["x".repeat(95)]),
        ] {
            let len = serde_json::to_string(&v).unwrap().len();
            assert_eq!(fits(&v, SHORT_LIST), len <= SHORT_LIST, "{v}");
            assert!(fits(&v, len) && (len == 0 || !fits(&v, len - 1)), "{v}");
        }
    }

    fn ch(step: &'static str, field: &str, before: Value, after: Value) -> Change {
        Change {
            step,
            field: field.into(),
            before,
            after,
            reason: "because".into(),
        }
    }

    #[test]
    fn compact_groups_equal_fields_and_expands_back() {
        let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
        let changes = vec![
            ch(
                "capabilities",
                "/process/capabilities/bounding",
                caps.clone(),
                json!(["CAP_KILL"]),
            ),
            ch(
                "capabilities",
                "/process/capabilities/effective",
                caps.clone(),
                json!(["CAP_KILL"]),
            ),
            ch(
                "resources",
                "/linux/resources/pids/limit",
                Value::Null,
                json!(1024),
            ),
            ch("lsm", "/process/apparmorProfile", Value::Null, Value::Null),
            ch("lsm", "argv --apparmor", json!("x"), Value::Null),
        ];
        let c = compact(&changes);
        assert_eq!(
            c["capabilities"]["/process/capabilities/bounding,effective"],
            json!({"after": ["KILL"], "-": ["CHOWN"]})
        );
        assert_eq!(
            c["resources"]["/linux/resources/pids/limit"],
            json!([null, 1024])
        );
        assert_eq!(
            c["lsm"]["/process/apparmorProfile"],
            json!({"note": "because"})
        );
        assert_eq!(c["lsm"]["argv --apparmor"], json!(["x", null, "because"]));
        let back = expand(&c);
        let caps: Vec<_> = back.iter().filter(|x| x.0 == "capabilities").collect();
        assert_eq!(caps.len(), 2);
        assert_eq!(caps[1].1, "/process/capabilities/effective");
        assert_eq!(caps[0].2, json!(["CAP_KILL", "CAP_CHOWN"]));
        assert_eq!(caps[0].3, json!(["CAP_KILL"]));
        assert!(
            back.iter()
                .any(|x| x.1 == "argv --apparmor" && x.4 == "because")
        );
    }

    #[test]
    fn workload_comes_from_cri_annotations_and_is_cut() {
        let a: std::collections::BTreeMap<String, String> = [
            ("io.kubernetes.cri.image-name", "docker.io/library/nginx:1"),
            ("io.kubernetes.cri.sandbox-name", "web-0"),
            ("io.kubernetes.cri.sandbox-namespace", "prod"),
            ("io.kubernetes.container.name", "nginx"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let w = Workload::from_annotations(&a);
        assert_eq!(w.image.as_deref(), Some("docker.io/library/nginx:1"));
        assert_eq!(w.pod.as_deref(), Some("web-0"));
        assert_eq!(w.namespace.as_deref(), Some("prod"));
        assert_eq!(w.container.as_deref(), Some("nginx"));
        let long: std::collections::BTreeMap<String, String> =
            [("io.kubernetes.cri.image-name".to_string(), "é".repeat(400))].into();
        assert!(Workload::from_annotations(&long).image.unwrap().len() <= MAX_LABEL);
        assert_eq!(
            Workload::from_annotations(&Default::default()),
            Workload::default()
        );
    }
}
