//! Settings for one invocation: argv options win over the `rampart-NAME` name, which wins
//! over the config file, which wins over built-in defaults.

use crate::argv::Invocation;
use crate::config::{self, Config};
use crate::host::Host;
use crate::profile::{self, ProfileSource};
use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Settings {
    /// The profile chosen by argv, name or config; an allow-listed annotation may replace
    /// it unless `--rampart-profile` was given (see [`Settings::choose`]).
    pub profile: String,
    pub profile_from_flag: bool,
    pub annotations: Vec<config::AnnotationRule>,
    /// The process that started this one (its comm), and the callers trusted to pass
    /// annotations (see [`Settings::annotations_trusted`]).
    pub caller: Option<String>,
    pub annotation_callers: Vec<String>,
    pub profiles: ProfileSource,
    pub runtime: PathBuf,
    pub audit_log: PathBuf,
    /// See [`crate::debug`]; None unless the config file names one.
    pub debug_log: Option<PathBuf>,
    /// The config file's `[learn] dir` (None: [`crate::record::DEFAULT_DIR`]).
    pub learn_dir: Option<PathBuf>,
}

impl Settings {
    pub fn resolve(inv: &Invocation, host: &dyn Host) -> Result<Settings> {
        let (mut s, cfg) = Settings::load(inv, None)?;
        // The caller only decides whether annotations count: not looked up (a /proc read)
        // when the config file allow-lists none.
        if !s.annotations.is_empty() {
            s.caller = host.parent_name();
        }
        s.runtime = match inv.rampart.runtime.clone().or(cfg.runtime) {
            Some(explicit) => check_runtime(&explicit, host)?,
            None => find_runc(host)?,
        };
        Ok(s)
    }

    /// [`Settings::resolve`] without looking for the runtime (`runtime` is left empty), for
    /// commands that run nothing (`audit`, on machines without runc). `profile` stands in
    /// for `--rampart-profile`.
    pub fn without_runtime(inv: &Invocation, profile: Option<&str>) -> Result<Settings> {
        Settings::load(inv, profile).map(|(s, _)| s)
    }

    fn load(inv: &Invocation, profile: Option<&str>) -> Result<(Settings, Config)> {
        let mut cfg = Config::load(inv.rampart.config.as_deref())?;
        let from_flag = profile.map(String::from).or(inv.rampart.profile.clone());
        let s = Settings {
            profile: from_flag
                .clone()
                .or_else(|| inv.profile_from_argv0())
                .or(cfg.default_profile.clone())
                .unwrap_or_else(|| profile::DEFAULT_PROFILE.to_string()),
            profile_from_flag: from_flag.is_some(),
            annotations: std::mem::take(&mut cfg.annotations),
            caller: None,
            annotation_callers: cfg.annotation_callers.clone().unwrap_or_else(|| {
                config::DEFAULT_ANNOTATION_CALLERS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
            profiles: ProfileSource {
                dir: Some(
                    cfg.profiles_dir
                        .clone()
                        .unwrap_or_else(|| config::DEFAULT_PROFILES_DIR.into()),
                ),
            },
            runtime: PathBuf::new(),
            debug_log: cfg.debug_log.clone(),
            learn_dir: cfg.learn.dir.clone(),
            audit_log: cfg.audit_log.clone().unwrap_or_else(|| {
                default_audit_log(
                    nix::unistd::geteuid().as_raw(),
                    std::env::var_os("XDG_STATE_HOME"),
                    std::env::var_os("HOME"),
                )
            }),
        };
        Ok((s, cfg))
    }
}

/// What the admin's annotation allow-list makes of one spec's annotations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Choice {
    pub profile: String,
    pub waived: Vec<String>,
    /// Annotations that asked for something not allow-listed (ignored, recorded).
    pub ignored: Vec<String>,
    /// Why allow-listed annotations were not looked at (the caller may pass the image's).
    pub untrusted: Option<String>,
}

impl Settings {
    /// The profile and waivers for a spec: `--rampart-profile` > an allow-listed profile
    /// annotation > the `rampart-NAME` name > the config file > `restricted`. Only
    /// annotations named in the config file count, and only with allow-listed values; the
    /// image's ENV and labels are never looked at.
    pub fn choose(&self, annotations: &std::collections::BTreeMap<String, String>) -> Choice {
        let mut c = Choice {
            profile: self.profile.clone(),
            ..Default::default()
        };
        let asked: Vec<&str> = self
            .annotations
            .iter()
            .filter(|r| annotations.contains_key(&r.key))
            .map(|r| r.key.as_str())
            .collect();
        if let (false, Some(why)) = (asked.is_empty(), self.annotations_untrusted()) {
            c.untrusted = Some(format!("annotations {} ignored: {why}", asked.join(", ")));
            return c;
        }
        for rule in &self.annotations {
            let Some(value) = annotations.get(&rule.key) else {
                continue;
            };
            match rule.selects {
                config::Selects::Profile if self.profile_from_flag => {}
                config::Selects::Profile if rule.values.contains(value) => {
                    c.profile = value.clone()
                }
                config::Selects::Waive => {
                    for id in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                        if rule.values.iter().any(|v| v == id) {
                            c.waived.push(id.to_string());
                        } else {
                            c.ignored
                                .push(format!("{}={id}{}", rule.key, near(id, &rule.values)));
                        }
                    }
                }
                _ => c
                    .ignored
                    .push(format!("{}={value}{}", rule.key, near(value, &rule.values))),
            }
        }
        c
    }
}

/// " (did you mean \"x\"?)" when an allow-listed value is close to an ignored one.
fn near(value: &str, allowed: &[String]) -> String {
    match crate::suggest::nearest(value, allowed.iter().map(String::as_str)) {
        Some(k) => format!(" (did you mean {k:?}?)"),
        None => String::new(),
    }
}

impl Settings {
    /// Why annotations cannot be trusted from this caller, or None when they can. Docker
    /// 20.10 and containerd (CRI included) start runc from a containerd shim and never copy
    /// an image's annotations into the spec; podman and CRI-O start it from conmon and do
    /// (an image could pick its own profile or waive rules). Any other caller counts only
    /// when the config file lists it in `annotation_callers`.
    pub fn annotations_untrusted(&self) -> Option<String> {
        let caller = self.caller.as_deref().unwrap_or("unknown");
        let listed = self
            .annotation_callers
            .iter()
            .any(|c| c == caller || (c.len() > 15 && c.is_char_boundary(15) && &c[..15] == caller));
        match caller {
            _ if listed && !caller.starts_with("conmon") => None,
            c if c.starts_with("conmon") => Some(format!(
                "runc was started by {c} (podman, CRI-O), which copies image annotations into the spec; choose the profile with `--runtime rampart-NAME`"
            )),
            c => Some(format!(
                "runc was started by {c}, not a caller listed in `annotation_callers` in the config file (engines that never copy image annotations); or choose the profile with `--runtime rampart-NAME`"
            )),
        }
    }
}

/// The same file as Rampart's own executable (by device and inode: any path, symlink or
/// hard link to it), given the candidate's metadata.
fn is_self_file(m: &std::fs::Metadata, host: &dyn Host) -> bool {
    use std::os::unix::fs::MetadataExt;
    host.self_id() == Some((m.dev(), m.ino()))
}

fn is_self(candidate: &Path, host: &dyn Host) -> bool {
    std::fs::metadata(candidate).is_ok_and(|m| is_self_file(&m, host))
}

fn executable_file(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| executable_file(&m))
}

/// The runtime at `p`, refused when it is Rampart itself or not an executable file (one
/// stat of `p` for both).
fn check_runtime(p: &Path, host: &dyn Host) -> Result<PathBuf> {
    let m = std::fs::metadata(p).ok();
    if m.as_ref().is_some_and(|m| is_self_file(m, host)) {
        bail!(
            "the configured runtime {} is Rampart itself; point --rampart-runtime or `runtime` in the config file at the real runc",
            p.display()
        );
    }
    if !m.as_ref().is_some_and(executable_file) {
        bail!(
            "the runtime {} does not exist or is not executable; set --rampart-runtime or `runtime` in the config file",
            p.display()
        );
    }
    Ok(p.to_path_buf())
}

/// The audit log when the config file names none: the system's for root; for rootless use
/// (podman as a user) `$XDG_STATE_HOME/rampart/audit.log`, or `~/.local/state/...`, which
/// that user can write.
pub fn default_audit_log(
    euid: u32,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> PathBuf {
    if euid == 0 {
        return config::DEFAULT_AUDIT_LOG.into();
    }
    // XDG: a relative value is invalid and ignored.
    let state = xdg_state_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local/state"))
        });
    match state {
        Some(s) => s.join("rampart/audit.log"),
        // No home to write to: the system's path, whose error names it.
        None => config::DEFAULT_AUDIT_LOG.into(),
    }
}

/// Where runc is installed when the caller passes no PATH, or one without runc (podman
/// runs the OCI runtime with a bare environment).
pub const USUAL_RUNC_PATHS: &[&str] = &[
    "/usr/bin/runc",
    "/usr/sbin/runc",
    "/usr/local/bin/runc",
    "/usr/local/sbin/runc",
];

/// The first `runc` on PATH that is not Rampart itself (never exec ourselves); then the
/// usual install paths.
fn find_runc(host: &dyn Host) -> Result<PathBuf> {
    let on_path: Vec<PathBuf> = host
        .path_var()
        .map(|p| std::env::split_paths(&p).map(|d| d.join("runc")).collect())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(USUAL_RUNC_PATHS.iter().map(PathBuf::from))
        .find(|c| is_executable(c) && !is_self(c, host))
        .with_context(|| format!(
            "no runc found on PATH or in {} (other than Rampart itself); install runc or set `runtime` in the config file",
            USUAL_RUNC_PATHS.join(", ")
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootless_callers_get_an_audit_log_they_can_write() {
        let (x, h) = (Some(OsString::from("/s")), Some(OsString::from("/home/u")));
        assert_eq!(
            default_audit_log(0, x.clone(), h.clone()),
            Path::new(config::DEFAULT_AUDIT_LOG)
        );
        assert_eq!(
            default_audit_log(1000, x, h.clone()),
            Path::new("/s/rampart/audit.log")
        );
        assert_eq!(
            default_audit_log(1000, Some("rel".into()), h.clone()),
            Path::new("/home/u/.local/state/rampart/audit.log")
        );
        assert_eq!(
            default_audit_log(1000, None, h),
            Path::new("/home/u/.local/state/rampart/audit.log")
        );
        assert_eq!(
            default_audit_log(1000, None, None),
            Path::new(config::DEFAULT_AUDIT_LOG)
        );
    }

    #[test]
    fn without_path_the_usual_runc_paths_are_searched() {
        let host = FakeHost {
            path: OsString::new(),
            me: PathBuf::from("/nonexistent/rampart"),
        };
        match find_runc(&host) {
            Ok(found) => assert!(USUAL_RUNC_PATHS.iter().any(|p| found == Path::new(p))),
            Err(e) => assert!(format!("{e:#}").contains("/usr/local/sbin/runc")),
        }
    }

    struct FakeHost {
        path: OsString,
        me: PathBuf,
    }
    impl Host for FakeHost {
        fn facts(&self, _: &[String]) -> crate::host::HostFacts {
            crate::host::HostFacts::for_tests()
        }
        fn now(&self) -> std::time::SystemTime {
            std::time::SystemTime::UNIX_EPOCH
        }
        fn exec(&self, _: &Path, _: &[OsString]) -> anyhow::Error {
            anyhow::anyhow!("no exec in tests")
        }
        fn self_exe(&self) -> Option<PathBuf> {
            Some(self.me.clone())
        }
        fn path_var(&self) -> Option<OsString> {
            Some(self.path.clone())
        }
    }

    fn exe(p: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn annotations_count_only_from_callers_that_never_copy_an_images() {
        let mut s = Settings {
            profile: "restricted".into(),
            profile_from_flag: false,
            annotations: vec![config::AnnotationRule {
                key: "rampart.dev/profile".into(),
                selects: config::Selects::Profile,
                values: vec!["baseline".into()],
            }],
            caller: None,
            annotation_callers: config::DEFAULT_ANNOTATION_CALLERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            profiles: Default::default(),
            learn_dir: None,
            runtime: PathBuf::new(),
            audit_log: PathBuf::new(),
            debug_log: None,
        };
        let ann: std::collections::BTreeMap<String, String> =
            [("rampart.dev/profile".to_string(), "baseline".to_string())].into();
        for (caller, profile) in [
            (Some("containerd-shim"), "baseline"), // Docker 20.10, containerd/CRI (comm)
            (Some("conmon"), "restricted"),        // podman, CRI-O
            (Some("conmon-rs"), "restricted"),
            (Some("bash"), "restricted"),
            (None, "restricted"),
        ] {
            s.caller = caller.map(String::from);
            let c = s.choose(&ann);
            assert_eq!(c.profile, profile, "{caller:?}");
            assert_eq!(c.untrusted.is_some(), profile == "restricted", "{caller:?}");
        }
        s.annotation_callers.push("conmon".into());
        s.caller = Some("conmon".into());
        assert_eq!(
            s.choose(&ann).profile,
            "restricted",
            "conmon is never trusted"
        );
        s.caller = Some("my-engine".into());
        s.annotation_callers.push("my-engine".into());
        assert_eq!(s.choose(&ann).profile, "baseline");
        // Nothing allow-listed asked: no note.
        assert_eq!(s.choose(&Default::default()).untrusted, None);
        // A value that is not allow-listed is ignored, with the nearest allowed one.
        let typo = [("rampart.dev/profile".to_string(), "basline".to_string())].into();
        let c = s.choose(&typo);
        assert_eq!(c.profile, "restricted");
        assert_eq!(
            c.ignored,
            ["rampart.dev/profile=basline (did you mean \"baseline\"?)"]
        );
    }

    #[test]
    fn skips_itself_on_path_and_refuses_itself_explicitly() {
        let d = std::env::temp_dir().join(format!("rampart-settings-{}", std::process::id()));
        let (me, real) = (d.join("a/runc"), d.join("b/runc"));
        exe(&me);
        exe(&real);
        let host = FakeHost {
            path: std::env::join_paths([d.join("a"), d.join("b")]).unwrap(),
            me: me.clone(),
        };
        assert_eq!(find_runc(&host).unwrap(), real);
        assert!(format!("{:#}", check_runtime(&me, &host).unwrap_err()).contains("Rampart itself"));
        assert!(check_runtime(&d.join("nope"), &host).is_err());
        let only_me = FakeHost {
            path: d.join("a").into(),
            me,
        };
        // Not on PATH: the usual install paths, or an error naming them.
        match USUAL_RUNC_PATHS
            .iter()
            .find(|p| is_executable(Path::new(p)))
        {
            Some(_) => assert_ne!(find_runc(&only_me).unwrap(), d.join("a/runc")),
            None => assert!(
                format!("{:#}", find_runc(&only_me).unwrap_err()).contains("/usr/sbin/runc")
            ),
        }
        std::fs::remove_dir_all(d).unwrap();
    }
}
