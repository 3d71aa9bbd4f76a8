//! The new mount API (Linux 5.12+) for id-mapped clones: `open_tree`, `mount_setattr` and
//! `move_mount` through `libc::syscall` (nix has no wrappers), and a user-namespace fd for a
//! mapping. Used by `stage`.

use crate::idmap::Mapping;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const AT_EMPTY_PATH: libc::c_uint = 0x1000;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x0000_0004;
const MS_PRIVATE: u64 = 1 << 18;

/// `struct mount_attr` (include/uapi/linux/mount.h), MOUNT_ATTR_SIZE_VER0.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// A detached clone of the mount tree at `path` (with its submounts), as `mount --rbind`
/// would attach it.
pub fn open_tree(path: &Path) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: a valid NUL-terminated path; the syscall returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Makes every mount of a detached tree private and, with `userns`, id-mapped through that
/// user namespace's mapping. Filesystems that cannot be id-mapped (overlayfs) give EINVAL.
pub fn set_attr(tree: &OwnedFd, userns: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: if userns.is_some() {
            MOUNT_ATTR_IDMAP
        } else {
            0
        },
        propagation: MS_PRIVATE,
        userns_fd: userns.map_or(0, |f| f.as_raw_fd() as u64),
        ..Default::default()
    };
    // SAFETY: a valid fd, an empty path with AT_EMPTY_PATH and a struct of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            AT_EMPTY_PATH | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Attaches a detached tree onto `target` (an existing file or directory).
pub fn move_mount(tree: &OwnedFd, target: &Path) -> io::Result<()> {
    let c = cpath(target)?;
    // SAFETY: valid fds and NUL-terminated paths.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `umount2(path, MNT_DETACH)`.
pub fn detach(path: &Path) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `path` a private bind mount of itself (mounts below it then propagate nowhere).
pub fn bind_self_private(path: &Path) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: valid NUL-terminated paths; null fstype and data are allowed for these flags.
    unsafe {
        if libc::mount(
            c.as_ptr(),
            c.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        ) < 0
            || libc::mount(
                std::ptr::null(),
                c.as_ptr(),
                std::ptr::null(),
                libc::MS_PRIVATE,
                std::ptr::null(),
            ) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// An fd of a new user namespace mapping 0..size to `m`: a forked child unshares it and
/// waits while the parent writes its maps and opens `/proc/CHILD/ns/user`, then is reaped
/// (killed: the fd keeps the namespace).
pub fn userns_fd(m: &Mapping) -> io::Result<OwnedFd> {
    let (ready_r, ready_w) = nix::unistd::pipe()?;
    let (go_r, go_w) = nix::unistd::pipe()?;
    // SAFETY: the child calls only async-signal-safe functions (unshare, write, read, _exit).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: raw syscalls on fds this process holds; never returns.
        unsafe {
            let ok: u8 = if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                1
            } else {
                0
            };
            libc::write(ready_w.as_raw_fd(), (&ok as *const u8).cast(), 1);
            let mut b = 0u8;
            libc::read(go_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(go_r);
    let result = (|| {
        let mut b = [0u8; 1];
        let n = nix::unistd::read(&ready_r, &mut b)?;
        if n != 1 || b[0] != 1 {
            return Err(io::Error::other(
                "the child could not unshare a user namespace",
            ));
        }
        std::fs::write(
            format!("/proc/{pid}/uid_map"),
            format!("0 {} {}\n", m.uid, m.size),
        )?;
        std::fs::write(
            format!("/proc/{pid}/gid_map"),
            format!("0 {} {}\n", m.gid, m.size),
        )?;
        Ok(OwnedFd::from(std::fs::File::open(format!(
            "/proc/{pid}/ns/user"
        ))?))
    })();
    // Killed rather than told to exit: a sibling forked by another thread may hold the pipe.
    // SAFETY: our own child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    drop(go_w);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_attr_has_the_kernels_first_size() {
        assert_eq!(std::mem::size_of::<MountAttr>(), 32); // MOUNT_ATTR_SIZE_VER0
    }

    fn root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn a_userns_fd_has_the_mapping() {
        if !root() {
            return;
        }
        let m = Mapping {
            uid: 0x7100_0000,
            gid: 0x7100_0000,
            size: 65536,
        };
        let fd = userns_fd(&m).unwrap();
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(link.to_string_lossy().starts_with("user:["), "{link:?}");
        let own = std::fs::read_link("/proc/self/ns/user").unwrap();
        assert_ne!(link, own);
    }

    /// A clone of a directory id-mapped, attached and detached again, in a tempdir on the
    /// test host's filesystem (skipped where it cannot be id-mapped).
    #[test]
    fn an_idmapped_clone_shows_host_root_files_as_the_mapped_root() {
        use std::os::unix::fs::MetadataExt;
        if !root() {
            return;
        }
        let d = std::env::temp_dir().join(format!("rampart-mountapi-{}", std::process::id()));
        let (src, dst) = (d.join("src"), d.join("dst"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("f"), "x").unwrap();
        let m = Mapping {
            uid: 0x7100_0000,
            gid: 0x7200_0000,
            size: 65536,
        };
        let ns = userns_fd(&m).unwrap();
        let tree = open_tree(&src).unwrap();
        match set_attr(&tree, Some(std::os::fd::AsFd::as_fd(&ns))) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                eprintln!("filesystem cannot be id-mapped here: skipping");
            }
            r => {
                r.unwrap();
                move_mount(&tree, &dst).unwrap();
                let md = std::fs::metadata(dst.join("f")).unwrap();
                let _ = detach(&dst);
                assert_eq!((md.uid(), md.gid()), (m.uid, m.gid));
            }
        }
        // A plain clone: private, not id-mapped.
        let tree = open_tree(&src).unwrap();
        set_attr(&tree, None).unwrap();
        move_mount(&tree, &dst).unwrap();
        let md = std::fs::metadata(dst.join("f")).unwrap();
        detach(&dst).unwrap();
        assert_eq!(md.uid(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }
}
