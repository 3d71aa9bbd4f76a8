//! Step: where the profile says `sensitive_mounts = "readonly"`, bind mounts of host system
//! directories are made read-only instead of refused.

use super::Context;
use crate::change::Changes;
use crate::policy::{bind_mounts, mounts::system_dir};
use crate::profile::SensitiveMounts;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::json;

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    if cx.profile.policy.sensitive_mounts != SensitiveMounts::Readonly {
        return Ok(());
    }
    for (i, src, dst, mut opts) in bind_mounts(spec) {
        let Some(dir) = system_dir(&src) else {
            continue;
        };
        if opts.iter().any(|o| o == "ro") {
            continue;
        }
        opts.retain(|o| o != "rw");
        opts.push("ro".into());
        let reason = format!(
            "{src} (a host system directory under {dir}) mounted at {dst} read-only, as profile {} says",
            cx.profile.name
        );
        ch.set(spec, &format!("/mounts/{i}/options"), json!(opts), reason)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;

    #[test]
    fn system_dir_binds_become_read_only_and_others_stay() {
        let mut p = profile("restricted");
        p.policy.sensitive_mounts = SensitiveMounts::Readonly;
        let h = facts();
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut s = fixture("docker-20.10/hostpid.json"); // binds the host's /dev/shm
        let mut out = Vec::new();
        apply(&mut s, &cx, &mut Changes::new("mounts", &mut out)).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        let m = s.get(&out[0].field).unwrap().as_array().unwrap();
        assert!(m.iter().any(|o| o == "ro"));
        assert!(out[0].reason.contains("/dev/shm"));
    }
}
