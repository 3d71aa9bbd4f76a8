//! `rampart doctor [--json] [--host-root DIR]`: can this host run Rampart's profiles, and
//! how safely? Each finding is ok / warn / fail with why and how to fix it.
//!
//! Every host read goes through a root: `/` by default, or `--host-root DIR` (a fake tree in
//! tests/fixtures/hosts, or a host mounted into a container), where `proc/`, `sys/`, `etc/`
//! and `usr/share/doc/` are read as files. On the real host (no --host-root) cgroups-rs finds
//! the cgroup hierarchy and `caps` reads the bounding set; under a root they are read from
//! `sys/fs/cgroup` and the CapBnd line of `proc/self/status`. runc is the runtime `create`
//! would exec (`--rampart-runtime`, the config file, PATH), asked for `--version`.
//!
//! Exit status: 1 when the DEFAULT profile cannot work here: Rampart's settings invalid,
//! runc missing or unusable, no seccomp (kernel or runc), a cgroup controller the profile
//! limits missing, root lacking a capability runc needs or one the profile grants, the
//! audit log unwritable, or a user namespace or AppArmor profile the profile requires
//! missing. Everything else that is wrong (a runc CVE, no LSM, a kernel knob, Rampart not
//! registered with an engine) is a `fail` or `warn` finding with its fix, and exit 0.
//! 2 for usage errors.

use crate::argv::Invocation;
use crate::host::Host;
use crate::profile::{OnUnsupported, Profile};
use crate::settings::Settings;
use clap::{CommandFactory, Parser};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "rampart doctor",
    about = "Check whether this host can run Rampart's profiles, and how safely"
)]
struct Args {
    /// Print JSON for tools instead of text for people.
    #[arg(long)]
    json: bool,
    /// Read proc/, sys/, etc/ and usr/share/doc/ under DIR instead of this host's.
    #[arg(long, value_name = "DIR")]
    host_root: Option<PathBuf>,
    /// dockerd's configuration [default: ROOT/etc/docker/daemon.json].
    #[arg(long, value_name = "PATH")]
    daemon_json: Option<PathBuf>,
    /// containerd's configuration [default: ROOT/etc/containerd/config.toml].
    #[arg(long, value_name = "PATH")]
    containerd_config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub status: Status,
    /// What was found.
    pub summary: String,
    /// Why it matters (warn, fail).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

fn finding(id: &str, status: Status, summary: impl Into<String>) -> Finding {
    Finding {
        id: id.into(),
        status,
        summary: summary.into(),
        why: String::new(),
        fix: String::new(),
    }
}

impl Finding {
    fn because(mut self, why: impl Into<String>, fix: impl Into<String>) -> Finding {
        self.why = why.into();
        self.fix = fix.into();
        self
    }
}

/// Whether one profile can run here, and what stops it.
#[derive(Debug, Serialize)]
pub struct ProfileVerdict {
    pub name: String,
    pub default: bool,
    pub can_run: bool,
    pub problems: Vec<String>,
}

/// What the doctor learned about the host; the profile verdicts are computed from it.
#[derive(Debug, Default)]
struct Facts {
    /// Problems that stop every profile.
    blockers: Vec<String>,
    controllers: BTreeSet<String>,
    bounding: Option<u64>,
    max_userns: Option<u64>,
    lsm: crate::lsm::Lsm,
}

pub struct Doctor {
    pub root: PathBuf,
    /// Read the live host through cgroups-rs and caps (only when root is `/`).
    pub real: bool,
    pub daemon_json: PathBuf,
    pub containerd_config: PathBuf,
}

/// This command's parser, for the command tree (help, completions, man pages).
pub fn command() -> clap::Command {
    Args::command()
}

pub fn main(inv: &Invocation, args: &[OsString], host: &dyn Host) -> i32 {
    let a = match super::parse::<Args>(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let root = a.host_root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let d = Doctor {
        real: a.host_root.is_none(),
        daemon_json: a
            .daemon_json
            .unwrap_or_else(|| root.join("etc/docker/daemon.json")),
        containerd_config: a
            .containerd_config
            .unwrap_or_else(|| root.join("etc/containerd/config.toml")),
        root,
    };
    let (findings, profiles, default) = d.examine(inv, host);
    let blocked = profiles.iter().any(|p| p.default && !p.can_run);
    // A profile that does not load (or names unknown rules) refuses every container that
    // uses it: as much a failure as a blocked default.
    // Read as this command's settings are (config and profiles_dir as given, not under
    // --host-root), so both judge the same files.
    let check = super::check::check(inv.rampart.config.as_deref(), None);
    let mut findings = findings;
    findings.push(if check.is_ok() {
        finding(
            "check",
            Status::Ok,
            "config file and every profile load".to_string(),
        )
    } else {
        finding("check", Status::Fail, check.errors.join("; ")).because(
            "containers using a broken profile or config are refused",
            "fix what `rampart check` reports",
        )
    });
    let code = i32::from(blocked || !check.is_ok());
    if a.json {
        let v = json!({"host": d.root, "default_profile": default, "findings": findings, "profiles": profiles, "exit": code});
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("JSON values serialise")
        );
    } else {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!("{}", text(&d.root, &findings, &profiles, code, colour));
    }
    code
}

impl Doctor {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path(rel)).ok()
    }

    fn number(&self, rel: &str) -> Option<i64> {
        self.read(rel)?.trim().parse().ok()
    }

    /// All findings, each profile's verdict, and the default profile's name.
    pub fn examine(
        &self,
        inv: &Invocation,
        host: &dyn Host,
    ) -> (Vec<Finding>, Vec<ProfileVerdict>, String) {
        let mut f = Facts::default();
        let mut out = Vec::new();
        let settings = match Settings::resolve(inv, host) {
            Ok(s) => {
                out.push(finding(
                    "settings",
                    Status::Ok,
                    format!(
                        "default profile {}, runtime {}, audit log {}",
                        s.profile,
                        s.runtime.display(),
                        s.audit_log.display()
                    ),
                ));
                Some(s)
            }
            Err(e) => {
                let msg = format!("{e:#}");
                f.blockers.push(msg.clone());
                out.push(finding("settings", Status::Fail, msg).because(
                    "Rampart refuses every container it cannot resolve settings for",
                    "fix the config file (/etc/rampart/config.toml), or install runc / set `runtime`",
                ));
                None
            }
        };
        if let Some(s) = &settings {
            out.extend(self.runc(&s.runtime, &mut f));
            out.push(audit_log(&s.audit_log, &mut f));
        }
        out.push(self.seccomp(&mut f));
        out.push(self.cgroups(&mut f));
        out.extend(self.capabilities(&mut f));
        out.push(self.userns(&mut f));
        out.extend(super::storage::findings(
            &self.root,
            &self.daemon_json,
            &self.containerd_config,
            kernel(&self.read("proc/sys/kernel/osrelease").unwrap_or_default()),
        ));
        f.lsm = crate::lsm::detect(&self.root);
        out.push(self.lsm(&f.lsm, settings.as_ref()));
        out.extend(self.knobs());
        out.push(self.docker(host));
        out.push(self.containerd(host));
        out.push(self.recording());
        if self.real {
            out.push(pagecache(host));
        }
        let (profiles, default) = match &settings {
            Some(s) => (self.profiles(s, &f), s.profile.clone()),
            None => (Vec::new(), crate::profile::DEFAULT_PROFILE.to_string()),
        };
        // Without settings no profile can run: report the default as blocked.
        let profiles = if settings.is_none() {
            vec![ProfileVerdict {
                name: default.clone(),
                default: true,
                can_run: false,
                problems: f.blockers.clone(),
            }]
        } else {
            profiles
        };
        (out, profiles, default)
    }

    fn runc(&self, runtime: &Path, f: &mut Facts) -> Vec<Finding> {
        let out = std::process::Command::new(runtime)
            .arg("--version")
            .output();
        let text = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => {
                let msg = format!("{} --version failed: {}", runtime.display(), o.status);
                f.blockers.push(msg.clone());
                return vec![finding("runc", Status::Fail, msg).because(
                    "Rampart execs this runtime for every container",
                    "install runc, or point `runtime` in the config file at it",
                )];
            }
            Err(e) => {
                let msg = format!("cannot run {}: {e}", runtime.display());
                f.blockers.push(msg.clone());
                return vec![finding("runc", Status::Fail, msg).because(
                    "Rampart execs this runtime for every container",
                    "install runc, or point `runtime` in the config file at it",
                )];
            }
        };
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        let Some(version) = field("runc version") else {
            let msg = format!(
                "{} does not say it is runc: {:?}",
                runtime.display(),
                text.lines().next().unwrap_or_default()
            );
            f.blockers.push(msg.clone());
            return vec![finding("runc", Status::Fail, msg).because(
                "Rampart's profiles are written for runc",
                "point `runtime` at runc",
            )];
        };
        let mut v = Vec::new();
        match field("libseccomp:") {
            Some(lib) => v.push(finding(
                "runc",
                Status::Ok,
                format!("{}: runc {version}, libseccomp {lib}", runtime.display()),
            )),
            None => {
                let msg = format!(
                    "{}: runc {version} was built without seccomp",
                    runtime.display()
                );
                f.blockers.push(msg.clone());
                v.push(finding("runc", Status::Fail, msg).because("runc refuses any spec with a seccomp filter, and every Rampart profile sets one", "install a runc built with libseccomp (every distribution's is)"));
            }
        }
        let changelog = self.distro_changelog(&text);
        for (cve, ids, fixed, status, what) in RUNC_CVES {
            let Some(affected) = affected(&version, fixed) else {
                v.push(
                    finding(
                        cve,
                        Status::Warn,
                        format!("cannot read runc's version {version:?}"),
                    )
                    .because(*what, "check runc's version by hand"),
                );
                continue;
            };
            let fixes = fixed.join(" / ");
            v.push(if !affected {
                finding(cve, Status::Ok, format!("runc {version} has the fix (in {fixes})"))
            } else if let Some((path, _)) = changelog
                .as_ref()
                .filter(|(_, t)| ids.iter().all(|c| t.contains(c)))
            {
                finding(cve, Status::Ok, format!("upstream runc {version} is affected (fixed in {fixes}), but this distribution build carries the fix: {} lists it", path.display()))
            } else if let Some(build) = distribution_build(&version, field("commit:").as_deref()) {
                // RPM and other distributions backport too; without a changelog Rampart reads,
                // it cannot tell.
                finding(cve, Status::Warn, format!("runc {version} is a distribution build ({build}): upstream {} is affected (fixed in {fixes}); cannot tell whether this build carries the fix", upstream(&version))).because(*what, format!("check the package's changelog for {} (rpm -q --changelog runc, or your distribution's advisory), or upgrade runc to {fixes} or later", ids.join(", ")))
            } else {
                finding(cve, *status, format!("runc {version} is affected (fixed in {fixes})")).because(*what, format!("upgrade runc to {fixes} or later (or to your distribution's build that lists {})", ids.join(", ")))
            });
        }
        v
    }

    /// Debian's changelog for the installed runc package, when it is the build that is
    /// running (its top version appears in `runc --version`): distributions backport fixes.
    fn distro_changelog(&self, version_text: &str) -> Option<(PathBuf, String)> {
        let plain = self.path("usr/share/doc/runc/changelog.Debian");
        let gz = self.path("usr/share/doc/runc/changelog.Debian.gz");
        let text = if plain.is_file() {
            std::fs::read_to_string(&plain).ok().map(|t| (plain, t))
        } else if gz.is_file() {
            let o = std::process::Command::new("gzip")
                .arg("-cd")
                .arg(&gz)
                .output()
                .ok()?;
            Some((gz, String::from_utf8_lossy(&o.stdout).into_owned()))
        } else {
            None
        }?;
        let top = text.1.lines().next()?;
        let ver = top.split_once('(')?.1.split_once(')')?.0;
        version_text.contains(ver).then_some(text)
    }

    fn seccomp(&self, f: &mut Facts) -> Finding {
        match self.read("proc/sys/kernel/seccomp/actions_avail") {
            Some(a) => {
                let actions: Vec<&str> = a.split_whitespace().collect();
                let missing: Vec<&&str> = ["errno", "allow", "kill_process"]
                    .iter()
                    .filter(|x| !actions.contains(x))
                    .collect();
                if missing.is_empty() {
                    finding(
                        "seccomp",
                        Status::Ok,
                        format!("kernel seccomp filters with actions {}", actions.join(" ")),
                    )
                } else {
                    let msg = format!(
                        "the kernel's seccomp lacks {missing:?} (has {})",
                        actions.join(" ")
                    );
                    f.blockers.push(msg.clone());
                    finding("seccomp", Status::Fail, msg).because(
                        "Rampart's allow-lists deny with errno and runc kills on filter errors",
                        "run a kernel of 4.14 or later with CONFIG_SECCOMP_FILTER",
                    )
                }
            }
            None if self
                .read("proc/self/status")
                .is_some_and(|s| s.contains("\nSeccomp:")) =>
            {
                finding(
                    "seccomp",
                    Status::Warn,
                    "the kernel has seccomp but no actions_avail (older than 4.14)",
                )
                .because(
                    "runc's filters may use actions this kernel does not know",
                    "run a kernel of 4.14 or later",
                )
            }
            None => {
                let msg = "the kernel has no seccomp (CONFIG_SECCOMP off)".to_string();
                f.blockers.push(msg.clone());
                finding("seccomp", Status::Fail, msg).because("every Rampart profile confines syscalls with seccomp; runc cannot load the filter", "run a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER")
            }
        }
    }

    /// (version, controllers): cgroups-rs on the live host, the files under a root.
    fn cgroup_facts(&self) -> (&'static str, BTreeSet<String>) {
        if self.real {
            let h = cgroups_rs::hierarchies::auto();
            let names = h
                .subsystems()
                .iter()
                .map(|s| s.controller_name())
                .filter(|n| !n.starts_with("name="))
                .collect();
            let version = match (h.v2(), self.path("sys/fs/cgroup/unified").is_dir()) {
                (true, _) => "v2",
                (false, true) => "v1 (hybrid)",
                (false, false) => "v1",
            };
            return (version, names);
        }
        let dir = self.path("sys/fs/cgroup");
        if let Some(c) = self.read("sys/fs/cgroup/cgroup.controllers") {
            return ("v2", c.split_whitespace().map(String::from).collect());
        }
        let mut names = BTreeSet::new();
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() && n != "unified" && n != "systemd" {
                names.extend(n.split(',').map(String::from));
            }
        }
        let version = if dir.join("unified").is_dir() {
            "v1 (hybrid)"
        } else {
            "v1"
        };
        (version, names)
    }

    fn cgroups(&self, f: &mut Facts) -> Finding {
        let (version, controllers) = self.cgroup_facts();
        f.controllers = controllers.clone();
        let list = controllers.iter().cloned().collect::<Vec<_>>().join(" ");
        let missing: Vec<&str> = ["pids", "memory", "cpu"]
            .into_iter()
            .filter(|c| !controllers.contains(*c))
            .collect();
        if !missing.is_empty() {
            finding("cgroups", Status::Fail, format!("cgroup {version}: no {} controller (has: {list})", missing.join(", "))).because("Rampart's profiles limit pids, memory and CPU; runc cannot apply a limit without its controller", "enable the controllers (kernel config, or cgroup_enable= on the kernel command line; on v2, +pids +memory +cpu in cgroup.subtree_control)")
        } else if version == "v2" {
            finding("cgroups", Status::Ok, format!("cgroup v2 with {list}"))
        } else {
            finding("cgroups", Status::Warn, format!("cgroup {version} with {list}")).because("cgroup v1 is deprecated (systemd, runc 1.4, Kubernetes 1.31 maintenance mode) and has no io.weight", "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2)")
        }
    }

    fn capabilities(&self, f: &mut Facts) -> Vec<Finding> {
        let status = self.read("proc/self/status").unwrap_or_default();
        let line = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::trim)
        };
        let uid: Option<u32> = line("Uid:").and_then(|u| u.split_whitespace().nth(1)?.parse().ok());
        let bounding = if self.real {
            caps::read(None, caps::CapSet::Bounding)
                .ok()
                .map(|set| set.iter().map(|c| c.bitmask()).fold(0, |a, b| a | b))
        } else {
            line("CapBnd:").and_then(|h| u64::from_str_radix(h, 16).ok())
        };
        f.bounding = bounding;
        let mut v = Vec::new();
        if uid != Some(0) {
            v.push(
                finding(
                    "root",
                    Status::Warn,
                    format!(
                        "doctor runs as uid {}",
                        uid.map_or("?".into(), |u| u.to_string())
                    ),
                )
                .because(
                    "what it reads is its own view, not that of root, who runs runc",
                    "run `sudo rampart doctor`",
                ),
            );
        }
        let Some(mask) = bounding else {
            v.push(
                finding(
                    "capabilities",
                    Status::Warn,
                    "cannot read the capability bounding set",
                )
                .because(
                    "runc needs CAP_SYS_ADMIN and others to build a container",
                    "run as root on a Linux host",
                ),
            );
            return v;
        };
        let lacks = |names: &[&str]| -> Vec<String> {
            names
                .iter()
                .filter(|n| !has(mask, n))
                .map(|n| n.to_string())
                .collect()
        };
        let runc_missing = lacks(RUNC_NEEDS);
        if !runc_missing.is_empty() {
            let msg = format!(
                "root's bounding set lacks {}, which runc needs",
                runc_missing.join(", ")
            );
            f.blockers.push(msg.clone());
            v.push(finding("capabilities", Status::Fail, msg).because("runc uses them to set up namespaces, mounts, devices and the container's own capabilities", "run runc from a context with the full bounding set (not inside a restricted container)"));
        }
        let absent: Vec<String> = caps::all()
            .into_iter()
            .filter(|c| mask & c.bitmask() == 0)
            .map(|c| c.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if absent.is_empty() {
            v.push(finding(
                "capabilities",
                Status::Ok,
                "root's bounding set is full",
            ));
        } else if runc_missing.is_empty() {
            let mut fi = finding(
                "capabilities",
                Status::Warn,
                format!("root's bounding set lacks {}", absent.join(", ")),
            );
            fi = if absent.iter().any(|c| c == "CAP_SYS_RESOURCE") {
                fi.because("without CAP_SYS_RESOURCE runc cannot raise an rlimit above root's hard limit (Rampart clamps its profiles' rlimits to it) and `docker run --privileged` fails; no container can be granted what root lacks", "run the engine where root has the full bounding set")
            } else {
                fi.because(
                    "no container can be granted what root lacks",
                    "run the engine where root has the full bounding set",
                )
            };
            v.push(fi);
        }
        v
    }

    fn userns(&self, f: &mut Facts) -> Finding {
        f.max_userns = self
            .number("proc/sys/user/max_user_namespaces")
            .map(|n| n.max(0) as u64);
        let names: BTreeSet<String> = self
            .read("etc/subuid")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(':').next())
            .filter(|n| !n.trim().is_empty())
            .map(String::from)
            .collect();
        let sub = if names.is_empty() {
            "no /etc/subuid ranges".to_string()
        } else {
            format!(
                "/etc/subuid ranges for {}",
                names.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        match f.max_userns {
            Some(0) => finding("userns", Status::Warn, format!("user namespaces disabled (user.max_user_namespaces = 0); {sub}")).because("root in a container stays root on the host: Rampart's isolated profile and dockerd --userns-remap cannot work (CIS 5.31)", "sysctl -w user.max_user_namespaces=15000"),
            Some(n) => finding("userns", Status::Ok, format!("user namespaces available (max {n}); {sub}; under isolated, runc 1.1 still refuses containers sharing the host's pid, ipc or uts namespace, ids beyond the 65536 mapped and net.* sysctls in a network namespace the host owns (a pod's, podman's)")),
            None => finding("userns", Status::Warn, format!("no user.max_user_namespaces (kernel without user namespaces?); {sub}")).because("Rampart's isolated profile needs user namespaces", "run a kernel with CONFIG_USER_NS"),
        }
    }

    fn lsm(&self, lsm: &crate::lsm::Lsm, settings: Option<&Settings>) -> Finding {
        let want = settings
            .and_then(|s| s.profiles.load(&s.profile).ok())
            .map(|p| p.lsm.apparmor_profile)
            .unwrap_or_default();
        if lsm.apparmor_enabled {
            if want.is_empty() || lsm.apparmor_profiles.contains(&want) {
                finding(
                    "lsm",
                    Status::Ok,
                    format!(
                        "AppArmor enabled, {} profiles loaded{}",
                        lsm.apparmor_profiles.len(),
                        if want.is_empty() {
                            String::new()
                        } else {
                            format!(" (incl. {want})")
                        }
                    ),
                )
            } else {
                finding(
                    "lsm",
                    Status::Warn,
                    format!("AppArmor enabled, but {want} is not loaded"),
                )
                .because(
                    "containers run without Rampart's AppArmor profile (CIS 5.2)",
                    "rampart apparmor install",
                )
            }
        } else if lsm.selinux_enabled {
            let enforcing = self
                .read("sys/fs/selinux/enforce")
                .is_some_and(|e| e.trim() == "1");
            if enforcing {
                finding("lsm", Status::Ok, "SELinux enforcing")
            } else {
                finding("lsm", Status::Warn, "SELinux permissive").because(
                    "SELinux logs but does not stop a container that breaks its policy",
                    "setenforce 1 (and SELINUX=enforcing in /etc/selinux/config)",
                )
            }
        } else {
            finding("lsm", Status::Warn, "neither AppArmor nor SELinux is enabled").because("containers get no mandatory access control: a container escape meets only capabilities, seccomp and namespaces (CIS 5.2/5.3 fail)", "boot with AppArmor (apparmor=1 security=apparmor) and run `rampart apparmor install`")
        }
    }

    fn knobs(&self) -> Vec<Finding> {
        KNOBS
            .iter()
            .map(|(file, name, safe, why, fix)| {
                let id = name.rsplit('.').next().unwrap_or(name);
                match self.number(file) {
                    None => finding(
                        id,
                        Status::Ok,
                        format!("{name}: not present on this kernel"),
                    ),
                    Some(v) if safe(v) => finding(id, Status::Ok, format!("{name} = {v}")),
                    Some(v) => {
                        finding(id, Status::Warn, format!("{name} = {v}")).because(*why, *fix)
                    }
                }
            })
            .collect()
    }

    fn docker(&self, host: &dyn Host) -> Finding {
        let p = &self.daemon_json;
        let Ok(text) = std::fs::read_to_string(p) else {
            return not_configured("docker", "dockerd", p, host, "rampart install docker");
        };
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                return finding(
                    "docker",
                    Status::Fail,
                    format!("{} is not valid JSON: {e}", p.display()),
                )
                .because("dockerd will not start with it", "fix the file");
            }
        };
        let found: Vec<(String, String)> = v
            .get("runtimes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, r)| Some((name.clone(), r.get("path")?.as_str()?.to_string())))
            .filter(|(_, path)| is_rampart(path))
            .collect();
        self.registered("docker", p, found, "rampart install docker")
    }

    fn containerd(&self, host: &dyn Host) -> Finding {
        let p = &self.containerd_config;
        let Ok(text) = std::fs::read_to_string(p) else {
            return not_configured(
                "containerd",
                "containerd",
                p,
                host,
                "rampart install containerd",
            );
        };
        let table: toml::Table = match toml::from_str(&text) {
            Ok(t) => t,
            Err(e) => {
                return finding(
                    "containerd",
                    Status::Fail,
                    format!("{} is not valid TOML: {e}", p.display()),
                )
                .because("containerd will not start with it", "fix the file");
            }
        };
        let mut found = Vec::new();
        binary_names(&toml::Value::Table(table), "", &mut found);
        found.retain(|(_, b)| is_rampart(b));
        self.registered("containerd", p, found, "rampart install containerd")
    }

    fn registered(&self, id: &str, p: &Path, found: Vec<(String, String)>, fix: &str) -> Finding {
        if found.is_empty() {
            return finding(
                id,
                Status::Warn,
                format!("Rampart is not registered in {}", p.display()),
            )
            .because(format!("{id}'s containers run with plain runc"), fix);
        }
        let missing: Vec<&String> = found
            .iter()
            .map(|(_, b)| b)
            .filter(|b| {
                Path::new(b).is_absolute() && !self.root.join(b.trim_start_matches('/')).exists()
            })
            .collect();
        let names: Vec<String> = found.iter().map(|(n, b)| format!("{n} ({b})")).collect();
        if missing.is_empty() {
            finding(
                id,
                Status::Ok,
                format!("Rampart registered: {}", names.join(", ")),
            )
        } else {
            finding(
                id,
                Status::Warn,
                format!(
                    "Rampart registered ({}), but {missing:?} does not exist",
                    names.join(", ")
                ),
            )
            .because(
                "containers asking for these runtimes fail to start (paths as the host sees them)",
                fix,
            )
        }
    }

    fn profiles(&self, s: &Settings, f: &Facts) -> Vec<ProfileVerdict> {
        s.profiles
            .names()
            .into_iter()
            .map(|name| {
                let mut problems = f.blockers.clone();
                match s.profiles.load(&name) {
                    Ok(p) => problems.extend(self.needs(&p, f)),
                    Err(e) => problems.push(format!("{e:#}")),
                }
                ProfileVerdict {
                    default: name == s.profile,
                    can_run: problems.is_empty(),
                    name,
                    problems,
                }
            })
            .collect()
    }

    /// What one profile needs of the host beyond what every profile needs.
    fn needs(&self, p: &Profile, f: &Facts) -> Vec<String> {
        let r = &p.resources;
        let mut out: Vec<String> = [
            ("pids", r.pids.is_some()),
            ("memory", r.memory_bytes.is_some()),
            ("cpu", r.cpus.is_some() || r.cpu_shares.is_some()),
        ]
        .into_iter()
        .filter(|(c, used)| *used && !f.controllers.contains(*c))
        .map(|(c, _)| format!("no {c} cgroup controller for its {c} limit"))
        .collect();
        if let Some(mask) = f.bounding {
            let lacking: Vec<&String> = p
                .capabilities
                .allow
                .iter()
                .filter(|c| !has(mask, c))
                .collect();
            if !lacking.is_empty() {
                out.push(format!(
                    "root's bounding set lacks {lacking:?}, which the profile grants"
                ));
            }
        }
        if p.userns.enabled {
            if f.max_userns.unwrap_or(0) == 0 {
                out.push("user namespaces are disabled".into());
            } else if let Err(e) = crate::idmap::pool(&p.userns, &self.path("etc")) {
                out.push(format!("{e:#}"));
            } else if !p.userns.fix_traversal
                && let Some(rel) = self.read("proc/sys/kernel/osrelease")
                && !idmapped_mounts(&rel)
            {
                out.push(format!(
                    "kernel {} has no id-mapped mounts (5.12+) to stage the rootfs with: set fix_traversal = true under [userns]",
                    rel.trim()
                ));
            }
        }
        let aa = &p.lsm.apparmor_profile;
        if !aa.is_empty()
            && p.lsm.apparmor_missing == OnUnsupported::Refuse
            && !f.lsm.apparmor_profiles.contains(aa)
        {
            out.push(format!(
                "AppArmor profile {aa} is not loaded and the profile refuses to run without it"
            ));
        }
        out
    }
}

impl Doctor {
    /// Whether `--rampart-profile learn:NAME` can record here: BTF, the privilege to load
    /// BPF, tp_btf attach (syscalls), and kprobes (capability checks; else inferred). On the
    /// real host the probes are loaded and attached for a moment; under --host-root only
    /// BTF's presence is read.
    fn recording(&self) -> Finding {
        if !self.real {
            let btf = self.path("sys/kernel/btf/vmlinux").exists();
            let built = crate::record::bpf::BUILT_WITH_BPF;
            if btf && built {
                return finding(
                    "learn",
                    Status::Ok,
                    "BTF present (tp_btf and kprobe attach not tried under --host-root)",
                );
            }
            return learn_finding(&crate::record::bpf::Probe {
                built_with_bpf: built,
                btf,
                tp_btf: Err("no BTF".into()),
                kprobe: Err("not tried under --host-root".into()),
            });
        }
        learn_finding(&crate::record::bpf::probe())
    }
}

/// How the page cache holds this binary (`rampart pagecache`): a speed matter, so never
/// worse than a warning.
fn pagecache(host: &dyn Host) -> Finding {
    use super::pagecache::{held, segments_aligned};
    let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
    let Some(exe) = host.self_exe() else {
        return finding("pagecache", Status::Warn, "cannot find this binary");
    };
    if !segments_aligned() {
        return finding(
            "pagecache",
            Status::Ok,
            format!(
                "{} is not the release build (its segments are not 2 MiB-aligned): its page-cache state does not matter",
                exe.display()
            ),
        );
    }
    match held(&exe) {
        // Every whole 2 MiB block that is cached is one 2 MiB page.
        Ok(h) if h.huge > 0 && h.small == 0 => finding(
            "pagecache",
            Status::Ok,
            format!(
                "{}: {:.1} of {:.1} MiB in 2 MiB page-cache pages",
                exe.display(),
                mib(h.huge),
                mib(h.size)
            ),
        ),
        // Read back in 4 KiB pages after a reboot or memory pressure, wholly or in part.
        Ok(h) => finding(
            "pagecache",
            Status::Warn,
            format!(
                "{}: {:.1} MiB in 4 KiB page-cache pages where 2 MiB pages could be, {:.1} MiB as 2 MiB pages",
                exe.display(),
                mib(h.small),
                mib(h.huge)
            ),
        )
        .because(
            "each container start maps and unmaps hundreds of small pages of Rampart's code (0.5–0.9 ms per create on the project's test machine)",
            "run `rampart pagecache`; `systemctl enable rampart-pagecache.service` to do it at every boot",
        ),
        Err(e) => finding("pagecache", Status::Warn, format!("{e:#}")),
    }
}

/// The `learn` finding for what [`crate::record::bpf::probe`] found. Recording is optional:
/// a host that cannot record is a warning, never a failure.
fn learn_finding(p: &crate::record::bpf::Probe) -> Finding {
    let caps = match &p.kprobe {
        Ok(()) => "capability checks from kprobe/cap_capable".to_string(),
        Err(e) => format!("capabilities inferred from syscalls (no kprobe/cap_capable: {e})"),
    };
    match (&p.tp_btf, p.built_with_bpf, p.btf) {
        (Ok(()), ..) => finding(
            "learn",
            Status::Ok,
            format!("can record (learn:NAME): BTF, tp_btf sys_enter/sys_exit attach; {caps}"),
        ),
        (Err(e), false, _) => finding("learn", Status::Warn, format!("cannot record: {e}"))
            .because(
                "--rampart-profile learn:NAME fails (closed) on this host",
                "install clang and libbpf-dev (scripts/setup-host) and rebuild Rampart",
            ),
        (Err(e), true, false) => finding(
            "learn",
            Status::Warn,
            format!("cannot record: the kernel has no BTF ({e})"),
        )
        .because(
            "--rampart-profile learn:NAME fails (closed) on this host",
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y",
        ),
        (Err(e), true, true) => finding("learn", Status::Warn, format!("cannot record: {e}"))
            .because(
                "--rampart-profile learn:NAME fails (closed) on this host",
                "run Rampart as root (CAP_BPF and CAP_PERFMON); a kernel that refuses tp_btf (lockdown=confidentiality) cannot record",
            ),
    }
}

/// (major, minor) of a kernel release (`6.1.0-18-amd64`).
fn kernel(release: &str) -> (u32, u32) {
    let mut v = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|x| x.parse::<u32>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0))
}

/// Whether a kernel release has open_tree, mount_setattr and MOUNT_ATTR_IDMAP (Linux 5.12).
fn idmapped_mounts(release: &str) -> bool {
    kernel(release) >= (5, 12)
}

fn not_configured(id: &str, daemon: &str, p: &Path, host: &dyn Host, fix: &str) -> Finding {
    let installed = host
        .path_var()
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(daemon).is_file()));
    if installed {
        finding(
            id,
            Status::Warn,
            format!(
                "{daemon} is installed but {} does not exist: Rampart is not registered",
                p.display()
            ),
        )
        .because(format!("{daemon}'s containers run with plain runc"), fix)
    } else {
        finding(
            id,
            Status::Ok,
            format!("{daemon} is not installed (no {})", p.display()),
        )
    }
}

fn is_rampart(path: &str) -> bool {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("rampart"))
}

/// (runtime name, BinaryName) for every `runtimes.NAME.options.BinaryName` in a containerd
/// config (any version of the CRI plugin's layout).
fn binary_names(v: &toml::Value, name: &str, out: &mut Vec<(String, String)>) {
    let Some(t) = v.as_table() else { return };
    if let Some(b) = t
        .get("options")
        .and_then(|o| o.get("BinaryName"))
        .and_then(|b| b.as_str())
    {
        out.push((name.to_string(), b.to_string()));
    }
    for (k, child) in t {
        binary_names(child, k, out);
    }
}

fn has(mask: u64, name: &str) -> bool {
    crate::steps::capabilities::parse_cap(name).is_ok_and(|c| mask & c.bitmask() != 0)
}

fn audit_log(log: &Path, f: &mut Facts) -> Finding {
    let mut dir = log.parent().unwrap_or(Path::new("/"));
    while !dir.exists() {
        dir = dir.parent().unwrap_or(Path::new("/"));
    }
    match nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => finding(
            "audit-log",
            Status::Ok,
            format!("{} can be written", log.display()),
        ),
        Err(e) => {
            let msg = format!(
                "the audit log {} cannot be written ({} : {e})",
                log.display(),
                dir.display()
            );
            f.blockers.push(msg.clone());
            finding("audit-log", Status::Fail, msg).because(
                "Rampart refuses a container whose audit record cannot be written",
                "make the directory writable by root, or set `audit_log` in the config file",
            )
        }
    }
}

/// Capabilities runc itself uses to build a container.
const RUNC_NEEDS: &[&str] = &[
    "CAP_SYS_ADMIN",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_NET_ADMIN",
];

type Knob = (
    &'static str,
    &'static str,
    fn(i64) -> bool,
    &'static str,
    &'static str,
);

/// Kernel knobs that narrow the attack surface a container escape (or any local user) has.
const KNOBS: &[Knob] = &[
    (
        "proc/sys/kernel/unprivileged_bpf_disabled",
        "kernel.unprivileged_bpf_disabled",
        |v| v >= 1,
        "unprivileged eBPF is a frequent source of kernel privilege escalations",
        "sysctl -w kernel.unprivileged_bpf_disabled=2",
    ),
    (
        "proc/sys/vm/unprivileged_userfaultfd",
        "vm.unprivileged_userfaultfd",
        |v| v == 0,
        "userfaultfd lets unprivileged code stall the kernel at will, widening race exploits",
        "sysctl -w vm.unprivileged_userfaultfd=0",
    ),
    (
        "proc/sys/kernel/perf_event_paranoid",
        "kernel.perf_event_paranoid",
        |v| v >= 2,
        "unprivileged perf events expose kernel addresses and have had many bugs",
        "sysctl -w kernel.perf_event_paranoid=3 (where supported, else 2)",
    ),
    (
        "proc/sys/kernel/io_uring_disabled",
        "kernel.io_uring_disabled",
        |v| v >= 1,
        "io_uring has been a leading source of kernel exploits (Rampart's seccomp denies it in containers; host processes still reach it)",
        "sysctl -w kernel.io_uring_disabled=2 (or 1 to allow the io_uring_group)",
    ),
];

type Cve = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    Status,
    &'static str,
);

/// runc CVEs: (finding id, CVE ids, first fixed version per release branch, status when
/// affected, what).
const RUNC_CVES: &[Cve] = &[
    (
        "CVE-2019-5736",
        &["CVE-2019-5736"],
        &["1.0.0-rc6"],
        Status::Fail,
        "a container process can overwrite the host's runc binary through /proc/self/exe and run code as root on the host",
    ),
    (
        "CVE-2024-21626",
        &["CVE-2024-21626"],
        &["1.1.12"],
        Status::Fail,
        "a host file descriptor leaks into the container (working directory /proc/self/fd/N): a malicious image or exec reaches the host's filesystem",
    ),
    (
        "CVE-2025-31133/52565/52881",
        &["CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"],
        &["1.2.8", "1.3.3", "1.4.0-rc.3"],
        Status::Warn,
        "mount races (the /dev/null used for masking, /dev/console, redirected /proc writes) let a malicious image write host procfs files such as core_pattern",
    ),
];

/// A runc version as (major, minor, patch, rc): a release sorts after its release
/// candidates; build metadata (`+ds1`) and distribution revisions are ignored.
fn version(s: &str) -> Option<(u32, u32, u32, u32)> {
    let core = s.split(['+', '~', ' ']).next()?;
    let (nums, pre) = match core.split_once('-') {
        Some((n, p)) => (n, p.strip_prefix("rc")),
        None => (core, None),
    };
    let mut it = nums.split('.');
    let mut num = || -> Option<u32> { it.next().unwrap_or("0").parse().ok() };
    let (a, b, c) = (num()?, num()?, num()?);
    let rc = match pre {
        Some(p) => p.trim_start_matches('.').parse().ok()?,
        None => u32::MAX,
    };
    Some((a, b, c, rc))
}

/// Whether `v` lacks a fix first released in `fixed` (one version per release branch).
/// The numeric upstream version at the start of `runc version`'s value (`1.1.5-2.el9` → `1.1.5`).
fn upstream(v: &str) -> &str {
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    &v[..end]
}

/// Why `runc --version` looks like a distribution's build rather than upstream's: a suffix
/// after the version (`+ds1`, `-2.el9`, `-1.fc39`), or a commit line that is not an upstream
/// tag (`v1.1.5-0-g…` or a bare hash). None for an upstream build.
pub(crate) fn distribution_build(version: &str, commit: Option<&str>) -> Option<String> {
    let base = upstream(version);
    let rest = &version[base.len()..];
    // `-rc5` and `-dev` are upstream pre-releases.
    if !rest.is_empty() && !rest.starts_with("-rc") && !rest.starts_with("+dev") && rest != "-dev" {
        return Some(format!("version suffix {rest:?}"));
    }
    let commit = commit?.trim();
    let hash = commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit());
    if commit.is_empty() || hash || commit.starts_with('v') {
        return None;
    }
    Some(format!("commit {commit:?}"))
}

fn affected(v: &str, fixed: &[&str]) -> Option<bool> {
    let v = version(v)?;
    let fixes: Vec<_> = fixed
        .iter()
        .map(|f| version(f).expect("known versions parse"))
        .collect();
    if let Some(f) = fixes.iter().find(|f| (f.0, f.1) == (v.0, v.1)) {
        return Some(v < *f);
    }
    // Another branch: older than every fixed branch is affected, newer is not.
    Some(v < fixes[0])
}

fn text(
    root: &Path,
    findings: &[Finding],
    profiles: &[ProfileVerdict],
    code: i32,
    colour: bool,
) -> String {
    let paint = |st: &str| {
        let c = match st {
            "ok" => "32",
            "warn" => "33",
            _ => "31",
        };
        if colour {
            format!("\x1b[{c}m{st:<5}\x1b[0m")
        } else {
            format!("{st:<5}")
        }
    };
    let mut s = format!(
        "rampart doctor: {}\n",
        if root == Path::new("/") {
            "this host".to_string()
        } else {
            format!("host tree {}", root.display())
        }
    );
    for f in findings {
        let st = match f.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        };
        s.push_str(&format!("{} {:<26} {}\n", paint(st), f.id, f.summary));
        if f.status != Status::Ok {
            s.push_str(&format!("      why: {}\n      fix: {}\n", f.why, f.fix));
        }
    }
    s.push_str("\nprofiles:\n");
    for p in profiles {
        let name = format!("{}{}", p.name, if p.default { " (default)" } else { "" });
        if p.can_run {
            s.push_str(&format!("{} {name:<26} can run here\n", paint("ok")));
        } else {
            s.push_str(&format!(
                "{} {name:<26} cannot run here: {}\n",
                paint("fail"),
                p.problems.join("; ")
            ));
        }
    }
    s.push_str(&match code {
        0 => "\nexit 0: the default profile can run on this host\n".to_string(),
        _ => "\nexit 1: the default profile cannot run on this host (see above)\n".to_string(),
    });
    s
}

#[cfg(test)]
mod tests {

    #[test]
    fn distribution_builds_are_told_from_upstream_ones() {
        assert_eq!(
            distribution_build("1.1.5", Some("v1.1.5-0-gf19387a6")),
            None
        );
        assert_eq!(
            distribution_build("1.1.12", Some("51d5e94601ceffbbd85688df1c928ecccbfa4685")),
            None
        );
        assert_eq!(distribution_build("1.0.0-rc5", None), None);
        assert!(distribution_build("1.1.5+ds1", Some("1.1.5+ds1-1+deb12u1")).is_some());
        assert!(distribution_build("1.1.5-2.el9", None).is_some());
        assert!(distribution_build("1.1.5", Some("1.1.5-2.el9")).is_some());
        assert_eq!(upstream("1.1.5-2.el9"), "1.1.5");
    }

    #[test]
    fn idmapped_mounts_come_with_linux_5_12() {
        assert!(super::idmapped_mounts("6.18.44-fc-v1045\n"));
        assert!(super::idmapped_mounts("5.12.0"));
        assert!(!super::idmapped_mounts("5.10.0-28-amd64"));
        assert!(!super::idmapped_mounts("garbage"));
    }

    use super::*;

    #[test]
    fn runc_versions_against_cve_fixes() {
        let cve = |id: &str| RUNC_CVES.iter().find(|c| c.0.contains(id)).unwrap().2;
        let table = [
            ("1.0.0-rc5", "5736", true),
            ("1.0.0-rc6", "5736", false),
            ("1.0.0-rc92", "5736", false),
            ("0.1.1", "5736", true),
            ("1.1.5+ds1", "5736", false),
            ("1.1.5+ds1", "21626", true),
            ("1.1.12", "21626", false),
            ("1.0.3", "21626", true),
            ("1.2.0", "21626", false),
            ("1.1.15", "2025-31133", true),
            ("1.2.7", "2025-31133", true),
            ("1.2.8", "2025-31133", false),
            ("1.3.2", "2025-31133", true),
            ("1.3.3", "2025-31133", false),
            ("1.4.0-rc.2", "2025-31133", true),
            ("1.4.0-rc.3", "2025-31133", false),
            ("1.4.1", "2025-31133", false),
            ("1.1.12-0ubuntu2~22.04.1", "21626", false),
        ];
        for (v, id, want) in table {
            assert_eq!(affected(v, cve(id)), Some(want), "{v} {id}");
        }
        assert_eq!(affected("banana", cve("5736")), None);
    }

    #[test]
    fn containerd_runtimes_are_found_in_any_layout() {
        let t: toml::Table = toml::from_str(
            r#"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rampart.options]
            BinaryName = "/usr/local/bin/rampart-restricted"
            "#,
        )
        .unwrap();
        let mut found = Vec::new();
        binary_names(&toml::Value::Table(t), "", &mut found);
        assert_eq!(
            found,
            [(
                "rampart".to_string(),
                "/usr/local/bin/rampart-restricted".to_string()
            )]
        );
    }
}
