//! Loading and writing a bundle's config.json (or an exec process.json).
//! Writes are atomic: a temp file in the same directory, same mode, fsync, rename, fsync
//! of the directory. A failure never leaves a partial or changed file behind. The bundle
//! directory is locked (flock) for the read-modify-write, so concurrent creates of the same
//! bundle see each other's result instead of racing.

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An exclusive lock on a directory, held until dropped.
pub struct DirLock(#[allow(dead_code)] Flock<File>);

pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    let f = File::open(dir)
        .with_context(|| format!("cannot open the bundle directory {}", dir.display()))?;
    let lock = Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("cannot lock {}", dir.display()))?;
    Ok(DirLock(lock))
}

/// Removes temp files a killed Rampart left beside `target` (call with the directory
/// locked: only Rampart writes `.NAME.rampart-PID.tmp`, and only under that lock).
pub fn remove_stale(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name().and_then(|n| n.to_str()))
    else {
        return;
    };
    let prefix = format!(".{name}.rampart-");
    if let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) {
        for e in entries.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with(&prefix) && n.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    crate::host::read_capped(path, crate::spec::MAX_SPEC_BYTES)
}

/// A fully written and synced temp file beside its target, renamed into place by
/// [`Staged::commit`] and removed if dropped uncommitted.
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staged {
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.target).with_context(|| {
            format!(
                "cannot rename {} over {}",
                self.tmp.display(),
                self.target.display()
            )
        })?;
        self.committed = true;
        if let Some(dir) = self.target.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("cannot sync {}", dir.display()))?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to a temp file beside `target` with `target`'s mode and syncs it.
pub fn stage(target: &Path, bytes: &[u8]) -> Result<Staged> {
    let mode = std::fs::metadata(target)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.json");
    let tmp = target.with_file_name(format!(".{name}.rampart-{}.tmp", std::process::id()));
    let staged = Staged {
        tmp,
        target: target.to_path_buf(),
        committed: false,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&staged.tmp)
        .with_context(|| format!("cannot create {}", staged.tmp.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|_| f.write_all(bytes))
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", staged.tmp.display()))?;
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_write_keeps_mode_and_uncommitted_leaves_nothing() {
        let d = std::env::temp_dir().join(format!("rampart-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let target = d.join("config.json");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let _lock = lock_dir(&d).unwrap();
        drop(stage(&target, b"new").unwrap());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "temp file removed"
        );
        stage(&target, b"new").unwrap().commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
