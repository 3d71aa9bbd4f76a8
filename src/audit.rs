//! The audit log: one JSON line per hardened container (or exec'd process): when, which
//! container, which profile, and every change with its reason. Appends hold an exclusive
//! flock so lines from concurrent starts never interleave.

use crate::change::Change;
use crate::policy::Violation;
use crate::profile::Mode;
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub command: &'a str,
    pub id: Option<&'a str>,
    pub bundle: Option<String>,
    pub profile: &'a str,
    pub mode: Mode,
    /// `hardened`, `refused`, `complain` (ran as requested), `off`, or `clamped` (exec).
    pub outcome: &'a str,
    pub runtime: String,
    pub changes: &'a [Change],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub refusals: &'a [Violation],
    /// Annotations that asked for something the admin did not allow-list, and waivers used.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub notes: &'a [String],
}

pub fn append(path: &Path, record: &Record) -> Result<()> {
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the audit log directory {}", dir.display()))?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
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
