//! Files runc reads again by path get the bytes Rampart judged, not the path.
//!
//! `exec --process FILE` and `update -r FILE` name a file that runc opens itself after Rampart
//! has read and judged it. Whoever can write that path in between (or re-point a symlink
//! above it) would hand runc a document Rampart never saw. So Rampart puts the judged bytes in
//! a sealed memfd (no writes, no resizing, seals locked), passes it to runc without
//! close-on-exec, and replaces the flag's value with `/proc/self/fd/N`. runc 1.1.5 marks every
//! fd above stdio close-on-exec before `runc init`, so the container never receives it. The
//! file at the original path is left as it was (the engine owns it).

use anyhow::{Context as _, Result};
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::os::fd::{AsFd as _, IntoRawFd as _, OwnedFd};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};

/// A sealed memfd holding `bytes`, moved to a descriptor at or above `min` that the runtime
/// inherits; returns the path runc opens it by. `what` names the document in errors.
pub fn sealed(what: &str, bytes: &[u8], min: i32) -> Result<OsString> {
    let fd: OwnedFd = memfd_create(
        c"rampart-judged",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .with_context(|| format!("cannot hold the judged {what} for the runtime (memfd_create)"))?;
    let mut f = std::fs::File::from(fd);
    f.write_all(bytes)
        .with_context(|| format!("cannot hold the judged {what} for the runtime"))?;
    let seals = SealFlag::F_SEAL_WRITE
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_SEAL;
    fcntl(f.as_fd(), FcntlArg::F_ADD_SEALS(seals))
        .with_context(|| format!("cannot seal the judged {what}"))?;
    // F_DUPFD: a copy without close-on-exec, past the fds runc passes on (--preserve-fds).
    let inherited = fcntl(f.as_fd(), FcntlArg::F_DUPFD(min))
        .with_context(|| format!("cannot pass the judged {what} to the runtime"))?;
    let inherited = inherited.into_raw_fd();
    Ok(OsString::from(format!("/proc/self/fd/{inherited}")))
}

/// Replaces the value of one flag use in `args`: the token after `--flag`/`-f`, or what
/// follows `=` in `--flag=VALUE` (kept as written otherwise). `tokens` are the use's indices.
pub fn replace_value(args: &mut [OsString], tokens: &[usize], value: &OsStr) {
    match tokens {
        [one] => {
            let tok = args[*one].as_bytes();
            let eq = tok.iter().position(|b| *b == b'=').unwrap_or(tok.len());
            let mut new = tok[..eq].to_vec();
            new.push(b'=');
            new.extend_from_slice(value.as_bytes());
            args[*one] = OsString::from_vec(new);
        }
        [.., last] => args[*last] = value.to_os_string(),
        [] => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_replaced_as_written() {
        let mut args: Vec<OsString> = ["exec", "--process=/p.json", "-p", "/q.json", "id"]
            .iter()
            .map(OsString::from)
            .collect();
        replace_value(&mut args, &[1], OsStr::new("/proc/self/fd/9"));
        replace_value(&mut args, &[2, 3], OsStr::new("/proc/self/fd/10"));
        assert_eq!(
            args,
            [
                "exec",
                "--process=/proc/self/fd/9",
                "-p",
                "/proc/self/fd/10",
                "id"
            ]
        );
    }

    #[test]
    fn the_held_copy_cannot_be_changed() {
        let path = sealed("test document", b"{\"a\":1}", 20).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}");
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{}"));
        assert!(err.is_err(), "a sealed memfd refuses writes");
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}");
    }
}
