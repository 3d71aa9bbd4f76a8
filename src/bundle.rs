//! Loading and writing a bundle's config.json (or an exec process.json), through ONE view
//! of the directory: it is opened once ([`BundleDir::open`], `O_DIRECTORY`), the file is
//! read with `openat(dirfd, NAME, O_NOFOLLOW)` and must be a regular file (never a FIFO,
//! device, symlink or directory: those can show Rampart one spec and runc another), and is
//! written back through the same descriptor. The runtime is then pointed at that very
//! directory (`--bundle /proc/self/fd/N`, see `pipeline`), so a symlink on the bundle path
//! re-pointed after the write changes nothing.
//!
//! Writes are atomic: a temp file in the same directory, same mode, fsync, renameat, fsync
//! of the directory. A failure never leaves a partial or changed file behind. The directory
//! is locked (flock) for the read-modify-write, so concurrent creates of the same bundle see
//! each other's result instead of racing.
//!
//! What each step protects against (a crash of Rampart itself, e.g. SIGKILL mid-rewrite, is
//! covered by the temp file + rename alone: the kernel's page cache keeps whichever file the
//! name points to whole, old or new; tests/faults.rs kills Rampart mid-rewrite):
//! * fsync of the temp file, before the rename: a power loss or kernel crash just after the
//!   rename. Without it a filesystem may persist the rename before the data (XFS and btrfs
//!   can; ext4's auto_da_alloc usually hides it), and config.json comes back empty or cut
//!   short after the reboot.
//! * fsync of the directory, after the rename: a power loss or kernel crash after `create`
//!   returned. Without it the rename itself may be lost and the request as the engine wrote
//!   it (unhardened) comes back; also what makes an idmap allocation survive.
//!
//! Both guard only against losing the machine, so both are skipped when the directory is on
//! a tmpfs (or ramfs), whose contents a power loss or crash wipes anyway: the bundles of
//! Docker, containerd (and so Kubernetes) and CRI-O are under `/run`, a tmpfs, and runc's
//! own state (`/run/runc`) is gone after a reboot too, so no container made from a bundle
//! there outlives the files. That saves two synchronous disk flushes (0.6–0.75 ms measured)
//! per create. Everywhere else (podman's bundles under /var/lib/containers, an admin's
//! bundle on disk, `/var/lib/rampart`'s allocations, installed files) both are kept.

use anyhow::{Context, Result, bail};
use nix::fcntl::{AtFlags, Flock, FlockArg, OFlag};
use nix::sys::stat::{Mode, SFlag};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// An exclusive lock on a directory, held until dropped.
pub struct DirLock(#[allow(dead_code)] Flock<File>);

/// A directory held open: every later access to its files goes through this descriptor.
pub struct BundleDir {
    fd: OwnedFd,
    /// The path it was opened by, for messages only.
    shown: PathBuf,
}

impl BundleDir {
    /// Opens `path` as a directory (following symlinks once, now; never again).
    pub fn open(path: &Path) -> Result<BundleDir> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("cannot open the directory {}", path.display()))?;
        Ok(BundleDir {
            fd,
            shown: path.to_path_buf(),
        })
    }

    /// The directory of `file` and the file's name in it (`config.json` → `.`).
    pub fn open_parent(file: &Path) -> Result<(BundleDir, String)> {
        Self::open_parent_of(file).with_context(|| format!("cannot open {}", file.display()))
    }

    fn open_parent_of(file: &Path) -> Result<(BundleDir, String)> {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} does not name a file", file.display()))?
            .to_string();
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Ok((BundleDir::open(dir)?, name))
    }

    /// `/proc/self/fd/N`: this directory, for path work inside Rampart (rootfs, idmap).
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    pub fn shown(&self, name: &str) -> PathBuf {
        self.shown.join(name)
    }

    /// An exclusive flock on the directory (on a second descriptor of the same open file).
    pub fn lock(&self) -> Result<DirLock> {
        let f = File::from(
            self.fd
                .try_clone()
                .with_context(|| format!("cannot lock {}", self.shown.display()))?,
        );
        let lock = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("cannot lock {}", self.shown.display()))?;
        Ok(DirLock(lock))
    }

    /// Reads `name` in this directory: a regular file only, not through a symlink, opened
    /// without blocking (a FIFO never hangs Rampart), at most `MAX_SPEC_BYTES`.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let shown = self.shown(name);
        let st = nix::sys::stat::fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .with_context(|| format!("cannot open {}", shown.display()))?;
        regular(st.st_mode, &shown)?;
        let fd = nix::fcntl::openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("cannot open {}", shown.display()))?;
        let f = File::from(fd);
        let st2 = nix::sys::stat::fstat(&f)
            .with_context(|| format!("cannot stat {}", shown.display()))?;
        regular(st2.st_mode, &shown)?;
        if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino) {
            bail!("{} was replaced while Rampart opened it", shown.display());
        }
        let max = crate::spec::MAX_SPEC_BYTES;
        // One allocation of the size fstat reports (+1, so that reaching EOF needs no
        // growth): read_to_end would otherwise double its buffer up to 2 MiB for a 1 MB spec.
        let size = usize::try_from(st2.st_size).unwrap_or(max).min(max);
        let mut buf = Vec::with_capacity(size + 1);
        f.take(max as u64 + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("cannot read {}", shown.display()))?;
        if buf.len() > max {
            bail!(
                "{} is larger than the {max} bytes Rampart accepts",
                shown.display()
            );
        }
        Ok(buf)
    }

    /// The temp file a write of `name` under the directory's lock goes through. One fixed
    /// name: only Rampart writes it, and only while it holds the lock, so no two writers
    /// can meet on it, and what a killed Rampart left is found without listing the
    /// directory.
    fn locked_temp(name: &str) -> String {
        format!(".{name}.rampart.tmp")
    }

    /// Removes the temp file a killed Rampart left beside `name` (see
    /// [`BundleDir::stage_locked`]); `_lock` is proof that the directory is locked.
    pub fn remove_stale(&self, _lock: &DirLock, name: &str) {
        let _ = nix::unistd::unlinkat(
            &self.fd,
            Self::locked_temp(name).as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }

    /// Writes `bytes` to a temp file beside `name` with `name`'s mode and syncs it.
    pub fn stage(&self, name: &str, bytes: &[u8]) -> Result<Staged> {
        let tmp = format!(".{name}.rampart-{}.tmp", std::process::id());
        self.stage_as(name, tmp, |w| w.write_all(bytes))
    }

    /// [`BundleDir::stage`] of what `write` writes (a spec serialised straight into the temp
    /// file), with the directory locked: the temp file has the one name
    /// [`BundleDir::remove_stale`] removes. An error leaves nothing behind, as for `stage`.
    pub fn stage_locked(
        &self,
        _lock: &DirLock,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<Staged> {
        self.stage_as(name, Self::locked_temp(name), write)
    }

    fn stage_as(
        &self,
        name: &str,
        tmp: String,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<Staged> {
        let mode = nix::sys::stat::fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map(|s| s.st_mode & 0o7777)
            .unwrap_or(0o644);
        let dir = self
            .fd
            .try_clone()
            .with_context(|| format!("cannot use {}", self.shown.display()))?;
        let shown = self.shown(&tmp);
        let fd = nix::fcntl::openat(
            &self.fd,
            tmp.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .with_context(|| format!("cannot create {}", shown.display()))?;
        let staged = Staged {
            durable: !in_memory(&self.fd),
            dir,
            tmp,
            target: name.to_string(),
            shown: self.shown.clone(),
            committed: false,
        };
        let mut f = File::from(fd);
        nix::sys::stat::fchmod(&f, Mode::from_bits_truncate(mode))
            .map_err(std::io::Error::from)
            .and_then(|_| write(&mut f))
            .and_then(|_| match staged.durable {
                true => f.sync_all(),
                false => Ok(()),
            })
            .with_context(|| format!("cannot write {}", shown.display()))?;
        Ok(staged)
    }

    /// Hands this directory to the program Rampart execs: the descriptor is moved to a
    /// number at or above `min` (past the fds runc passes on with `--preserve-fds`, so the
    /// container never receives it) and loses close-on-exec. runc 1.1.5 marks every fd
    /// above stdio close-on-exec before it starts `runc init`, so it stops at runc.
    pub fn into_inherited(self, min: RawFd) -> Result<RawFd> {
        let fd = nix::fcntl::fcntl(&self.fd, nix::fcntl::FcntlArg::F_DUPFD(min))
            .with_context(|| format!("cannot pass {} to the runtime", self.shown.display()))?;
        Ok(fd)
    }
}

/// Whether `dir` is on a filesystem that a power loss or crash empties anyway (tmpfs, ramfs):
/// there fsync protects nothing (see the module doc). Unknown means on disk.
fn in_memory(dir: &OwnedFd) -> bool {
    nix::sys::statfs::fstatfs(dir).is_ok_and(|st| {
        let t = st.filesystem_type();
        t == nix::sys::statfs::TMPFS_MAGIC || t.0 == 0x8584_58f6 /* RAMFS_MAGIC */
    })
}

fn regular(mode: u32, shown: &Path) -> Result<()> {
    let kind = SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits());
    let what = match kind {
        SFlag::S_IFREG => return Ok(()),
        SFlag::S_IFLNK => "a symlink",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "a device",
        SFlag::S_IFSOCK => "a socket",
        _ => "not a regular file",
    };
    bail!(
        "{} is {what}: Rampart reads only a regular file (the runtime would read it again and could see another spec); write the file itself into the bundle",
        shown.display()
    )
}

/// Reads a file by path under the same rules as [`BundleDir::read`] (no symlink, regular).
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let (dir, name) =
        BundleDir::open_parent(path).with_context(|| format!("cannot open {}", path.display()))?;
    dir.read(&name)
}

/// A fully written and synced temp file beside its target, renamed into place by
/// [`Staged::commit`] and removed if dropped uncommitted.
pub struct Staged {
    /// fsync the file and the directory (false on tmpfs: see the module doc).
    durable: bool,
    dir: OwnedFd,
    tmp: String,
    target: String,
    shown: PathBuf,
    committed: bool,
}

impl Staged {
    pub fn commit(mut self) -> Result<()> {
        nix::fcntl::renameat(
            &self.dir,
            self.tmp.as_str(),
            &self.dir,
            self.target.as_str(),
        )
        .with_context(|| {
            format!(
                "cannot rename {} over {}",
                self.shown.join(&self.tmp).display(),
                self.shown.join(&self.target).display()
            )
        })?;
        self.committed = true;
        if self.durable {
            nix::unistd::fsync(&self.dir)
                .with_context(|| format!("cannot sync {}", self.shown.display()))?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = nix::unistd::unlinkat(
                &self.dir,
                self.tmp.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

/// Writes `bytes` to a temp file beside `target` (a path), for files that are not a
/// bundle's (the idmap allocations): same rules as [`BundleDir::stage`].
pub fn stage(target: &Path, bytes: &[u8]) -> Result<Staged> {
    let (dir, name) = BundleDir::open_parent(target)?;
    dir.stage(&name, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rampart-bundle-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A write under the lock goes through the one temp name, and what a killed writer left
    /// there is removed before the next write (which would otherwise fail on O_EXCL).
    #[test]
    fn a_locked_write_replaces_what_a_killed_one_left() {
        let d = dir("locked");
        std::fs::write(d.join("config.json"), b"old").unwrap();
        std::fs::write(d.join(".config.json.rampart.tmp"), b"half").unwrap();
        let b = BundleDir::open(&d).unwrap();
        let lock = b.lock().unwrap();
        b.remove_stale(&lock, "config.json");
        let staged = b
            .stage_locked(&lock, "config.json", |w| w.write_all(b"new"))
            .unwrap();
        assert_eq!(
            std::fs::read(d.join(".config.json.rampart.tmp")).unwrap(),
            b"new"
        );
        staged.commit().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["config.json"]);
        assert_eq!(b.read("config.json").unwrap(), b"new");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn staged_write_keeps_mode_and_uncommitted_leaves_nothing() {
        let d = dir("stage");
        let target = d.join("config.json");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let b = BundleDir::open(&d).unwrap();
        let _lock = b.lock().unwrap();
        drop(b.stage("config.json", b"new").unwrap());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "temp file removed"
        );
        b.stage("config.json", b"new").unwrap().commit().unwrap();
        assert_eq!(b.read("config.json").unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn only_regular_files_are_read() {
        let d = dir("kinds");
        std::fs::write(d.join("real.json"), b"{}").unwrap();
        std::os::unix::fs::symlink("real.json", d.join("link.json")).unwrap();
        nix::unistd::mkfifo(&d.join("fifo.json"), Mode::from_bits_truncate(0o600)).unwrap();
        std::fs::create_dir(d.join("dir.json")).unwrap();
        let b = BundleDir::open(&d).unwrap();
        assert_eq!(b.read("real.json").unwrap(), b"{}");
        for (name, what) in [
            ("link.json", "a symlink"),
            ("fifo.json", "a FIFO"),
            ("dir.json", "a directory"),
        ] {
            let e = format!("{:#}", b.read(name).unwrap_err());
            assert!(e.contains(what), "{name}: {e}");
        }
        let e = format!("{:#}", read(Path::new("/dev/null")).unwrap_err());
        assert!(e.contains("a device"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_held_directory_is_the_one_opened_even_if_the_path_moves() {
        let d = dir("held");
        std::fs::create_dir_all(d.join("a")).unwrap();
        std::fs::create_dir_all(d.join("b")).unwrap();
        std::fs::write(d.join("a/config.json"), b"A").unwrap();
        std::fs::write(d.join("b/config.json"), b"B").unwrap();
        std::os::unix::fs::symlink("a", d.join("link")).unwrap();
        let b = BundleDir::open(&d.join("link")).unwrap();
        std::fs::remove_file(d.join("link")).unwrap();
        std::os::unix::fs::symlink("b", d.join("link")).unwrap();
        assert_eq!(b.read("config.json").unwrap(), b"A");
        b.stage("config.json", b"A2").unwrap().commit().unwrap();
        assert_eq!(std::fs::read(d.join("a/config.json")).unwrap(), b"A2");
        assert_eq!(
            std::fs::read(b.proc_path().join("config.json")).unwrap(),
            b"A2"
        );
        assert_eq!(std::fs::read(d.join("b/config.json")).unwrap(), b"B");
        std::fs::remove_dir_all(d).unwrap();
    }
}
