//! The container's stdio pipes under a user namespace. An engine hands runc (through
//! Rampart) anonymous pipes for a container's stdin, stdout and stderr, owned by host root
//! and mode 0600. A program that reopens them by path (`/dev/stderr`, `/proc/self/fd/2`;
//! nginx logs to /var/log/nginx/error.log, a link to /dev/stderr) is then refused when root
//! in the container is an unprivileged host id. containerd gives its shim's pipes to the
//! mapped root for Docker's `userns-remap` (runc options IoUid/IoGid); Rampart does the same
//! for the pipes it was handed, before exec'ing runc. Only anonymous pipes (`pipe:[N]`),
//! never a terminal, a file or a named FIFO, and only the container's own: what they carry
//! already comes from or goes to the container.

use crate::change::Change;
use crate::idmap::Mapping;
use std::os::fd::BorrowedFd;

/// Gives this process's stdio pipes to the mapped root of `m`; the fds changed.
pub fn give_to(m: &Mapping) -> Vec<i32> {
    let mut done = Vec::new();
    for fd in 0..3 {
        let Ok(link) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        if !link.to_string_lossy().starts_with("pipe:[") {
            continue;
        }
        // SAFETY: fds 0-2 stay open for the life of this process (it execs next).
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        let owned_by_root = nix::sys::stat::fstat(b).is_ok_and(|st| st.st_uid == 0);
        if owned_by_root
            && nix::unistd::fchown(
                b,
                Some(nix::unistd::Uid::from_raw(m.uid)),
                Some(nix::unistd::Gid::from_raw(m.gid)),
            )
            .is_ok()
        {
            done.push(fd);
        }
    }
    done
}

/// For a hardened spec whose user namespace Rampart set up (`changes` has the userns step's
/// mapping): gives the stdio pipes to its root; the changes to record.
pub fn apply(spec: &crate::spec::Spec, changes: &[Change]) -> Vec<Change> {
    let mapped = changes
        .iter()
        .any(|c| c.step == "userns" && c.field == "/linux/uidMappings");
    let Some(m) = mapped_root(spec).filter(|_| mapped) else {
        return Vec::new();
    };
    give_to(&m)
        .into_iter()
        .map(|fd| Change {
            step: "userns",
            field: format!("host:stdio/{fd}"),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            reason: format!(
                "the engine's pipe for fd {fd} given to the container's root (host uid {}), so it can reopen it (/dev/stderr)",
                m.uid
            ),
        })
        .collect()
}

/// The mapping of container root in a hardened spec (its first uid and gid mappings).
pub fn mapped_root(spec: &crate::spec::Spec) -> Option<Mapping> {
    let first = |k: &str| -> Option<(u32, u32)> {
        let v = spec.get(&format!("/linux/{k}/0"))?;
        (v["containerID"].as_u64()? == 0).then(|| {
            Some((
                u32::try_from(v["hostID"].as_u64()?).ok()?,
                u32::try_from(v["size"].as_u64()?).ok()?,
            ))
        })?
    };
    let ((uid, size), (gid, _)) = (first("uidMappings")?, first("gidMappings")?);
    (uid != 0 && gid != 0).then_some(Mapping { uid, gid, size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_mapped_root_that_is_not_host_root() {
        let mut s =
            crate::spec::Spec::from_slice(br#"{"ociVersion": "1.0.2", "linux": {}}"#).unwrap();
        assert_eq!(mapped_root(&s), None);
        for k in ["uidMappings", "gidMappings"] {
            s.set(
                &format!("/linux/{k}"),
                json!([{"containerID": 0, "hostID": 1879048192u64, "size": 65536}]),
            )
            .unwrap();
        }
        assert_eq!(
            mapped_root(&s),
            Some(Mapping {
                uid: 1879048192,
                gid: 1879048192,
                size: 65536
            })
        );
        s.set("/linux/gidMappings/0/hostID", json!(0)).unwrap();
        assert_eq!(mapped_root(&s), None);
    }
}
