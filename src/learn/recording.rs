//! Recording files (schema 1, shared with the recorder): one JSON file per recorded
//! container at `<learn dir>/<NAME>/<container-id>.json`. Keys this reader does not know are
//! ignored (forward compatible); keys it needs and cannot read make the file unusable, named
//! with its path.

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const SCHEMA: u64 = 1;
/// A recording larger than this is not read (a recorder writes a few hundred KB at most).
const MAX_RECORDING_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Recording {
    pub schema: u64,
    pub name: String,
    pub container_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub engine: String,
    #[serde(default, deserialize_with = "nullable")]
    pub started: String,
    #[serde(default, deserialize_with = "nullable")]
    pub ended: String,
    pub complete: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub lost_events: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub source: Source,
    #[serde(default, deserialize_with = "nullable")]
    pub request: Request,
    #[serde(default, deserialize_with = "nullable")]
    pub syscalls: Vec<SyscallCount>,
    #[serde(default, deserialize_with = "nullable")]
    pub capability_checks: Vec<CapabilityCheck>,
    #[serde(default, deserialize_with = "nullable")]
    pub evidence: Vec<Evidence>,
    #[serde(default, deserialize_with = "nullable")]
    pub writes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub peaks: Peaks,
    /// Where it was read from (not in the file).
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct Source {
    #[serde(default, deserialize_with = "nullable")]
    pub syscalls: String,
    #[serde(default, deserialize_with = "nullable")]
    pub capabilities: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct Request {
    #[serde(default, deserialize_with = "nullable")]
    pub profile_base: String,
    #[serde(default, deserialize_with = "nullable")]
    pub capabilities: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub readonly_rootfs: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub mounts: Vec<RecordedMount>,
    #[serde(default, deserialize_with = "nullable")]
    pub args: Vec<String>,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct RecordedMount {
    #[serde(default, deserialize_with = "nullable")]
    pub destination: String,
    #[serde(default, rename = "type", deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub source_kind: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
pub struct User {
    #[serde(default, deserialize_with = "nullable")]
    pub uid: u32,
    #[serde(default, deserialize_with = "nullable")]
    pub gid: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SyscallCount {
    pub arch: String,
    pub name: String,
    #[serde(default)]
    pub nr: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub ok: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub errors: BTreeMap<String, u64>,
}

impl SyscallCount {
    pub fn calls(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CapabilityCheck {
    pub capability: String,
    #[serde(default, deserialize_with = "nullable")]
    pub granted: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub denied: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Evidence {
    pub syscall: String,
    pub ret: i64,
    #[serde(default = "one")]
    pub count: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub creds: Creds,
    /// Decoded arguments, as far as the recorder could (numbers or strings).
    #[serde(default, deserialize_with = "nullable")]
    pub args: serde_json::Map<String, serde_json::Value>,
    /// The inode (or process) acted on, before the call, when known.
    #[serde(default)]
    pub target: Option<Target>,
}

fn one() -> u64 {
    1
}

/// A value the writer may leave null (it copies some from the spec as they are): its default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
pub struct Creds {
    #[serde(default, deserialize_with = "nullable")]
    pub uid: u32,
    #[serde(default, deserialize_with = "nullable")]
    pub euid: u32,
    #[serde(default, deserialize_with = "nullable")]
    pub fsuid: u32,
    #[serde(default, deserialize_with = "nullable")]
    pub gid: u32,
    /// Absent in recordings made before it was written: [`Creds::egid`] then stands in the
    /// fsgid (which follows the effective gid unless setfsgid moved it).
    #[serde(default, rename = "egid")]
    pub egid_recorded: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub fsgid: u32,
}

impl Creds {
    /// The effective gid when the call was made.
    pub fn egid(&self) -> u32 {
        self.egid_recorded.unwrap_or(self.fsgid)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
pub struct Target {
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    #[serde(default)]
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
pub struct Peaks {
    #[serde(default)]
    pub pids: Option<u64>,
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    #[serde(default)]
    pub nofile: Option<u64>,
}

impl Recording {
    pub fn parse(text: &str, path: &Path) -> Result<Recording> {
        let mut r: Recording = serde_json::from_str(text)
            .with_context(|| format!("{} is not a Rampart recording", path.display()))?;
        ensure!(
            r.schema == SCHEMA,
            "{}: recording schema {} (this Rampart reads schema {SCHEMA})",
            path.display(),
            r.schema
        );
        r.path = path.to_path_buf();
        Ok(r)
    }

    /// The container id as `show` and comments print it: its first 12 characters.
    pub fn short_id(&self) -> &str {
        let end = self
            .container_id
            .char_indices()
            .nth(12)
            .map_or(self.container_id.len(), |(i, _)| i);
        &self.container_id[..end]
    }
}

pub use crate::record::check_name;

/// Every recording of `name` under `dir`, oldest first (by `started`, then id). A file that
/// cannot be read is an error naming it: a profile is never made from part of what was asked.
pub fn load_all(dir: &Path, name: &str) -> Result<Vec<Recording>> {
    check_name(name)?;
    let wdir = dir.join(name);
    let entries = match std::fs::read_dir(&wdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "no recordings of {name:?} in {} (record one first: run the workload with --rampart-profile learn:{name})",
                dir.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", wdir.display())),
    };
    let mut out = Vec::new();
    for e in entries {
        let path = e
            .with_context(|| format!("cannot read {}", wdir.display()))?
            .path();
        // The recorder's temporary files (tmp + rename) are not recordings yet.
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        if !file.ends_with(".json") || file.starts_with('.') {
            continue;
        }
        let bytes = crate::host::read_capped(&path, MAX_RECORDING_BYTES)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let text =
            String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
        let r = Recording::parse(&text, &path)?;
        ensure!(
            r.name == name,
            "{} records {:?}, not {name:?}",
            path.display(),
            r.name
        );
        out.push(r);
    }
    ensure!(
        !out.is_empty(),
        "no recordings of {name:?} in {}",
        wdir.display()
    );
    out.sort_by(|a, b| (&a.started, &a.container_id).cmp(&(&b.started, &b.container_id)));
    Ok(out)
}

/// The workload names with recordings under `dir`, and how many each has.
pub fn list(dir: &Path) -> Result<Vec<(String, usize)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if check_name(&name).is_err() || !e.path().is_dir() {
            continue;
        }
        let n = std::fs::read_dir(e.path())
            .map(|d| {
                d.flatten()
                    .filter(|f| {
                        f.file_name()
                            .to_str()
                            .is_some_and(|f| f.ends_with(".json") && !f.starts_with('.'))
                    })
                    .count()
            })
            .unwrap_or(0);
        out.push((name, n));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_ignored_and_the_schema_is_checked() {
        let p = Path::new("/x/a.json");
        let r = Recording::parse(
            r#"{"schema":1,"name":"web","container_id":"0123456789abcdef","complete":true,
               "future":{"x":1},"syscalls":[{"arch":"x86_64","name":"read","ok":3,"errors":{"EAGAIN":1},"extra":2}]}"#,
            p,
        )
        .unwrap();
        assert_eq!(r.short_id(), "0123456789ab");
        assert_eq!(r.syscalls[0].calls(), 4);
        let e = Recording::parse(
            r#"{"schema":2,"name":"web","container_id":"x","complete":true}"#,
            p,
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("schema 2"), "{e:#}");
        assert!(Recording::parse(r#"{"schema":1}"#, p).is_err());
        // What the recorder copies from a spec may be null.
        let r = Recording::parse(
            r#"{"schema":1,"name":"web","container_id":"c","complete":true,"engine":null,
               "request":{"capabilities":null,"args":null,"user":{"uid":null,"gid":5},
                 "mounts":[{"destination":null,"type":"bind"}]},
               "peaks":{"pids":3,"memory_bytes":null},"writes":null}"#,
            p,
        )
        .unwrap();
        assert!(r.request.capabilities.is_empty() && r.writes.is_empty());
        assert_eq!(r.request.user.unwrap().gid, 5);
        assert_eq!((r.peaks.pids, r.peaks.memory_bytes), (Some(3), None));
    }

    #[test]
    fn names() {
        for ok in ["nginx", "web-1", "a_b", "0x"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "Nginx", "-a", "../x", "a/b", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
