//! Recording a container for `rampart learn` (issue 15, part A): `--rampart-profile
//! learn:NAME` runs the container with the request's own privileges (no-new-privileges
//! still forced, every policy refusal kept, audited as `learning`) while a detached
//! recorder (`rampart __record`, [`recorder`]) watches it with eBPF ([`bpf`]) and writes
//! `<learn dir>/NAME/<id>.json` ([`recording`]) when its init exits.
//!
//! Nothing here runs on an ordinary runc call: the create path only looks at the profile
//! name ([`learning_name`]); BPF is touched by the recorder process and `doctor` alone.

pub mod bpf;
pub mod recorder;
pub mod recording;
pub mod spawn;
pub mod writes;

use anyhow::{Result, bail};

/// The profile-name prefix that asks for a recording.
pub const PREFIX: &str = "learn:";

/// Where recordings go unless the config file's `[learn] dir` says otherwise.
pub const DEFAULT_DIR: &str = "/var/lib/rampart/learn";

/// `learn:NAME` → Some(NAME) (checked), any other profile name → None.
pub fn learning_name(profile: &str) -> Result<Option<&str>> {
    let Some(name) = profile.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    check_name(name)?;
    Ok(Some(name))
}

/// A workload name: `[a-z0-9][a-z0-9_-]{0,62}` (it names a directory and a profile).
pub fn check_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
    if !ok {
        bail!(
            "{name:?} is not a workload name: a recording's name is 1-63 of a-z, 0-9, '_' and '-', starting with a letter or digit"
        );
    }
    Ok(())
}

/// A container id as runc accepts it (`^[\w+\-.]+$`, not `.` or `..`): it names the
/// recording's file.
pub fn check_id(id: &str) -> Result<()> {
    if !crate::host::runc_id_ok(id) {
        bail!("container id {id:?} is not one runc accepts");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_names_are_checked() {
        assert_eq!(learning_name("restricted").unwrap(), None);
        assert_eq!(learning_name("learn:nginx").unwrap(), Some("nginx"));
        assert_eq!(learning_name("learn:my_app-2").unwrap(), Some("my_app-2"));
        for bad in [
            "learn:",
            "learn:Nginx",
            "learn:../x",
            "learn:-a",
            "learn:a/b",
        ] {
            assert!(learning_name(bad).is_err(), "{bad}");
        }
        assert!(learning_name(&format!("learn:{}", "a".repeat(64))).is_err());
    }

    #[test]
    fn container_ids_are_checked_as_runc_does() {
        assert!(check_id("3f2a-b_c+d.e").is_ok());
        for bad in ["", ".", "..", "../x", "a/b", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
