//! The admin's configuration file (`/etc/rampart/config.toml` unless `--rampart-config`).
//! A missing default file means built-in defaults; a missing file that was named
//! explicitly, or a malformed one, is an error (fail closed).

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/etc/rampart/config.toml";
pub const DEFAULT_PROFILES_DIR: &str = "/etc/rampart/profiles";
pub const DEFAULT_AUDIT_LOG: &str = "/var/log/rampart/audit.log";
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The real runtime. Default: the first `runc` on PATH that is not Rampart.
    pub runtime: Option<PathBuf>,
    /// Profile used when neither `--rampart-profile` nor the `rampart-NAME` name selects one.
    pub default_profile: Option<String>,
    /// Where admins' profiles (NAME.toml) live.
    pub profiles_dir: Option<PathBuf>,
    /// JSON-lines audit log, one line per hardened container.
    pub audit_log: Option<PathBuf>,
    /// Opt-in debug log for support cases: one line per invocation (argv with exec's
    /// `--env` values redacted, phase timings, the decision). Never on by default.
    pub debug_log: Option<PathBuf>,
    /// Annotations (set by Kubernetes, podman, ctr) that may select a profile or waive a
    /// rule, and the values each may take. Nothing else in a spec can loosen policy.
    #[serde(default)]
    pub annotations: Vec<AnnotationRule>,
    /// Processes (by name, as /proc/PID/comm shows it) whose runc calls may take those
    /// annotations into account: engines that never copy an image's annotations into the
    /// spec. Default: the containerd shims (Docker 20.10, containerd/CRI). podman and CRI-O
    /// (conmon) copy them, so image authors could pick a profile there: never list conmon.
    pub annotation_callers: Option<Vec<String>>,
    /// `rampart learn`: where recordings are written and read.
    #[serde(default)]
    pub learn: LearnConfig,
}

/// The `[learn]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct LearnConfig {
    /// Recordings directory (`<dir>/NAME/<container-id>.json`); default
    /// /var/lib/rampart/learn.
    pub dir: Option<PathBuf>,
}

/// containerd-shim-runc-v2 and -v1 both show as `containerd-shim` (comm keeps 15 bytes).
pub const DEFAULT_ANNOTATION_CALLERS: &[&str] = &[
    "containerd-shim",
    "containerd-shim-runc-v2",
    "containerd-shim-runc-v1",
];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnnotationRule {
    pub key: String,
    pub selects: Selects,
    /// Profile names (`selects = "profile"`) or rule ids (`selects = "waive"`) allowed.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Selects {
    Profile,
    Waive,
}

impl Config {
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = explicit.unwrap_or(Path::new(DEFAULT_PATH));
        let bytes = match crate::host::read_capped_io(path, MAX_CONFIG_BYTES) {
            Ok(b) => b,
            // The open said so: no second look (a stat, and std's statx probe after it).
            // Any other failure (unreadable, a file where a directory should be) is an error.
            Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(crate::host::capped_error(path, MAX_CONFIG_BYTES, e))
                    .context("cannot load the Rampart config file");
            }
        };
        let text =
            String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid Rampart config file", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_or_malformed_configs_fail_and_valid_ones_load() {
        let dir = std::env::temp_dir().join(format!("rampart-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Config::load(Some(&dir.join("missing.toml"))).is_err());
        std::fs::write(dir.join("bad.toml"), "runtime = [").unwrap();
        assert!(Config::load(Some(&dir.join("bad.toml"))).is_err());
        std::fs::write(dir.join("typo.toml"), "runtme = \"/x\"").unwrap();
        assert!(Config::load(Some(&dir.join("typo.toml"))).is_err());
        std::fs::write(
            dir.join("ok.toml"),
            "runtime = \"/usr/sbin/runc\"\ndefault_profile = \"baseline\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&dir.join("ok.toml"))).unwrap();
        assert_eq!(c.default_profile.as_deref(), Some("baseline"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
