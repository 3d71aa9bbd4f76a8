//! `runc restore`: a container built from config.json (like `create`) whose process, with its
//! credentials, comes from a CRIU checkpoint image. Refused unless the profile says
//! `[policy] allow_restore = true`; then config.json is hardened, judged and audited exactly
//! as for `create`, and restore flags that loosen are refused:
//! `--empty-ns` (namespaces left unrestored), `--lsm-profile` and `--lsm-mount-context` (the
//! process's LSM label chosen by the caller), `--manage-cgroups-mode` other than runc's
//! default (`soft`).

use crate::argv::{CommandArgs, Invocation};
use crate::host::Host;
use crate::settings::Settings;
use anyhow::{Result, bail};

pub fn check(
    inv: &Invocation,
    cmd: &CommandArgs,
    settings: &Settings,
    host: &dyn Host,
) -> Result<Option<crate::bundle::BundleDir>> {
    let profile = settings.profiles.load(&settings.profile)?;
    if !profile.policy.allow_restore {
        bail!(
            "refused `restore` of container {}: profile {} does not allow restoring checkpoints (the checkpoint image, not the profile, decides the process's credentials); an admin sets [policy] allow_restore = true in the profile to allow it",
            cmd.id.as_deref().unwrap_or_default(),
            profile.name
        );
    }
    for flag in ["empty-ns", "lsm-profile", "lsm-mount-context"] {
        if let Some(u) = cmd.uses(flag).next() {
            bail!(
                "refused `restore --{flag} {}`: it loosens the container's confinement; an admin restores without it",
                u.value.as_deref().unwrap_or_default().to_string_lossy()
            );
        }
    }
    let mode = cmd.string("manage-cgroups-mode");
    if !mode.is_empty() && mode != "soft" {
        bail!(
            "refused `restore --manage-cgroups-mode {}`: only runc's default (soft) keeps the container's cgroup limits",
            mode.to_string_lossy()
        );
    }
    crate::pipeline::harden_bundle(cmd, inv.global.root.as_deref(), settings, host)
}
