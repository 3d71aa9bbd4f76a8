//! Profiles: what Rampart enforces. Built-ins live in `profiles/` and are embedded in the
//! binary; admins add their own (TOML) in the profiles directory named by the config file.
//! A profile may `extends` another; tables merge key by key, the child winning.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const BUILTIN: &[(&str, &str)] = &[
    ("restricted", include_str!("../profiles/restricted.toml")),
    ("baseline", include_str!("../profiles/baseline.toml")),
    ("isolated", include_str!("../profiles/isolated.toml")),
];

pub const DEFAULT_PROFILE: &str = "restricted";
const MAX_EXTENDS_DEPTH: usize = 8;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub extends: Option<String>,
    pub capabilities: CapabilityPolicy,
    pub process: ProcessPolicy,
    pub seccomp: SeccompPolicy,
    pub rootfs: RootfsPolicy,
    pub paths: PathsPolicy,
    pub resources: ResourcesPolicy,
    #[serde(default)]
    pub rlimits: BTreeMap<String, RlimitPolicy>,
    #[serde(default)]
    pub policy: PolicySettings,
    #[serde(default)]
    pub userns: UsernsPolicy,
    #[serde(default)]
    pub lsm: LsmPolicy,
    /// `learn:NAME` (see [`crate::record`]): the recording's name. The container runs with
    /// the request's own privileges (only no-new-privileges is forced) under this profile's
    /// refusals, those of [`LEARN_BASE`].
    #[serde(skip)]
    pub learning: Option<String>,
}

/// The profile whose refusals a recording run keeps (what `rampart learn profile` extends).
pub const LEARN_BASE: &str = "restricted";

/// A user namespace for the container: root inside is an unprivileged id on the host.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UsernsPolicy {
    pub enabled: bool,
    /// Host ids to map from: the first and how many (uids and gids alike), unless `subid`.
    pub host_first: u32,
    pub host_count: u32,
    /// Or: the ranges of this name in /etc/subuid and /etc/subgid.
    pub subid: Option<String>,
    /// Ids mapped into each container: container ids 0..size.
    pub size: u32,
    /// A block of `size` ids of its own for each live container, allocated from the range.
    pub per_container: bool,
    /// Where per-container allocations are recorded (a flock'd JSON file).
    pub state_dir: PathBuf,
    /// When a user namespace cannot work for a spec: `refuse`, or `skip` (audited).
    pub on_unsupported: OnUnsupported,
    /// Add o+x (search, not read) to host directories above the rootfs and bind-mount
    /// sources that root in the container could not traverse (Docker's are 0710). Changes
    /// the host's files, so off unless the admin turns it on.
    pub fix_traversal: bool,
}

impl Default for UsernsPolicy {
    fn default() -> Self {
        UsernsPolicy {
            enabled: false,
            // Between systemd's container range (up to 0x6FFFFFFF) and its "foreign" range
            // (from 0x7FFE0000): 4094 blocks of 65536.
            host_first: 0x7000_0000,
            host_count: 0x0FFE_0000,
            subid: None,
            size: 65536,
            per_container: false,
            state_dir: PathBuf::from("/run/rampart/idmap"),
            on_unsupported: OnUnsupported::Refuse,
            fix_traversal: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnUnsupported {
    Refuse,
    Skip,
}

/// AppArmor and SELinux.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LsmPolicy {
    /// AppArmor profile for containers ("" for none); `rampart apparmor install` loads it.
    pub apparmor_profile: String,
    /// Profiles a request may name that Rampart replaces (engine defaults, which
    /// rampart-default covers); any other named profile is kept. A trailing `*` is a prefix.
    pub apparmor_replace: Vec<String>,
    /// When AppArmor is off or the profile is not loaded: `skip` (audited) or `refuse`.
    pub apparmor_missing: OnUnsupported,
    /// SELinux type for containers without a label, set only where SELinux is enabled
    /// ("" for none), as `system_u:system_r:TYPE:s0`.
    pub selinux_type: String,
}

impl Default for LsmPolicy {
    fn default() -> Self {
        LsmPolicy {
            apparmor_profile: "rampart-default".into(),
            apparmor_replace: vec![
                "docker-default".into(),
                "cri-containerd.apparmor.d".into(),
                "containers-default-*".into(),
            ],
            apparmor_missing: OnUnsupported::Skip,
            selinux_type: String::new(),
        }
    }
}

/// What the profile refuses, and how it is rolled out.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// `enforce` (harden and refuse), `complain` (run as requested, log what enforce would
    /// do) or `off`.
    pub mode: Mode,
    /// Rule ids this profile does not enforce (see `rampart explain` for ids).
    pub waive: Vec<String>,
    /// Bind mounts of host system directories: `refuse`, or `readonly` to mount them ro.
    pub sensitive_mounts: SensitiveMounts,
    /// Root (uid 0) without a user namespace: `allow` or `refuse`.
    pub root: RootUser,
    /// Hooks that may run (on the host, as root), each by its exact path and argument shape.
    pub hooks: Vec<HookAllow>,
    /// The lowest `process.oomScoreAdj` accepted (kubelet gives pause containers -998).
    pub oom_score_adj_min: i64,
    /// Character devices a container may have or open, as "c MAJOR:MINOR" (`*` for any).
    pub devices: Vec<String>,
    /// `runc restore` (CRIU checkpoints): refused unless true; the checkpoint image decides
    /// the restored process's credentials.
    pub allow_restore: bool,
}

/// The character devices every engine gives a container: null, zero, full, random,
/// urandom, tty, console, ptmx and the pseudo-terminals.
pub const DEFAULT_DEVICES: &[&str] = &[
    "c 1:3", "c 1:5", "c 1:7", "c 1:8", "c 1:9", "c 5:0", "c 5:1", "c 5:2", "c 136:*",
];

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            mode: Mode::Enforce,
            waive: Vec::new(),
            sensitive_mounts: SensitiveMounts::Refuse,
            root: RootUser::Allow,
            hooks: vec![HookAllow::docker_setkey()],
            oom_score_adj_min: -998,
            devices: DEFAULT_DEVICES.iter().map(|d| d.to_string()).collect(),
            allow_restore: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Enforce,
    Complain,
    Off,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SensitiveMounts {
    Refuse,
    Readonly,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RootUser {
    Allow,
    Refuse,
}

/// One hook that may run. In a profile:
///
/// ```toml
/// [[policy.hooks]]
/// path = "/proc/<pid>/exe"            # <pid>: a numeric process id (never self)
/// exe = ["/usr/sbin/dockerd"]         # what /proc/<pid>/exe must be, now
/// args = ["libnetwork-setkey", "-exec-root=<path>", "<hex64>", "<hex12>"]
/// ```
///
/// A hook with `env` is never allowed (LD_PRELOAD would run any code as root).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HookAllow {
    /// The hook's path: literal, or `/proc/<pid>/exe` (a running engine re-executing itself).
    pub path: String,
    /// For `/proc/<pid>/exe`: the binaries that process may be (the engine's real path).
    #[serde(default)]
    pub exe: Vec<String>,
    /// The exact arguments, argv[0] first; `<hex64>` and `<hex12>` stand for that many
    /// lowercase hex digits (container and controller ids), `<path>` (also after a prefix
    /// such as `-exec-root=`) for an absolute path without `.`, `..` or empty components.
    pub args: Vec<String>,
}

impl HookAllow {
    /// Docker 20.10's networking hook: dockerd runs itself as `libnetwork-setkey`.
    pub fn docker_setkey() -> HookAllow {
        HookAllow {
            path: "/proc/<pid>/exe".into(),
            exe: vec!["/usr/bin/dockerd".into(), "/usr/sbin/dockerd".into()],
            args: vec![
                "libnetwork-setkey".into(),
                // dockerd's --exec-root (/run/docker unless configured): where the hook finds
                // dockerd's socket. Write it literally to pin it.
                "-exec-root=<path>".into(),
                "<hex64>".into(),
                "<hex12>".into(),
            ],
        }
    }

    fn check(&self) -> Result<()> {
        let pid_path = self.path == "/proc/<pid>/exe";
        if !pid_path && (!self.path.starts_with('/') || self.path.contains('<')) {
            bail!(
                "path {:?}: an absolute path, or \"/proc/<pid>/exe\"",
                self.path
            );
        }
        if pid_path && self.exe.iter().all(|e| !e.starts_with('/')) {
            bail!("path \"/proc/<pid>/exe\" needs `exe`: the engine binaries it may be");
        }
        if self.args.is_empty() {
            bail!("path {:?}: `args` (argv[0] first) is required", self.path);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapabilityPolicy {
    /// Capabilities a container may keep if it asks for them (e.g. `CAP_NET_BIND_SERVICE`).
    pub allow: Vec<String>,
    /// Drop CAP_NET_BIND_SERVICE where it is not needed: in a private network namespace
    /// `net.ipv4.ip_unprivileged_port_start=0` (Docker's default) lets any user bind low ports
    /// of that namespace only.
    #[serde(default)]
    pub net_bind_via_sysctl: bool,
    /// Capabilities kept when the user asks for them by name (`docker run --cap-add`,
    /// Kubernetes `capabilities.add`; see [`crate::cap_request`]), though not when an engine
    /// fills them in by default. An explicit request for one outside `allow` and `grantable`
    /// is refused (rule capability-not-grantable).
    #[serde(default)]
    pub grantable: Vec<String>,
}

impl CapabilityPolicy {
    /// True when an explicit request for `cap` is honoured.
    pub fn grants(&self, cap: &str) -> bool {
        self.allow.iter().chain(&self.grantable).any(|c| c == cap)
    }
}

/// Capabilities no built-in profile grants, even on request: each is a known way to the host
/// (mount, modules, raw I/O, ptrace of other processes, network and LSM configuration...).
pub const NEVER_GRANTED_BY_BUILTINS: &[&str] = &[
    "CAP_SYS_ADMIN",
    "CAP_NET_ADMIN",
    "CAP_SYS_PTRACE",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_DAC_READ_SEARCH",
    "CAP_SYS_BOOT",
    "CAP_BPF",
    "CAP_PERFMON",
    "CAP_SYS_TIME",
    "CAP_MAC_ADMIN",
    "CAP_MAC_OVERRIDE",
];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessPolicy {
    pub no_new_privileges: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeccompPolicy {
    /// An allow-list shipped in `seccomp/` (by name) or a path to an admin's own.
    pub profile: String,
    /// Groups of the allow-list to leave out (e.g. `ptrace`).
    #[serde(default)]
    pub deny_groups: Vec<String>,
    /// Also filter the compat architectures (x86 and x32 on x86_64). Off in `restricted`:
    /// no 32-bit syscall entry at all closes the socketcall(2) argument-filter gap.
    #[serde(default)]
    pub compat_arches: bool,
    /// Only these syscalls (native architecture), of those the allow-list allows: a narrowing
    /// (a name the allow-list leaves out stays denied). `rampart learn profile` writes it.
    #[serde(default)]
    pub syscalls: Option<Vec<String>>,
    /// The same for the compat architectures (x86, x32), with `compat_arches = true`. A
    /// filter names syscalls for every architecture it covers at once, so with both lists
    /// the union is allowed on each of them.
    #[serde(default)]
    pub compat_syscalls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RootfsPolicy {
    pub readonly: bool,
    /// Writable tmpfs mounts added when the rootfs is made read-only (and no mount is there).
    #[serde(default)]
    pub tmpfs: Vec<TmpfsMount>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TmpfsMount {
    pub path: String,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PathsPolicy {
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
}

/// cgroup limits. Each axis has a DEFAULT (`pids`, `memory_bytes`, ...), applied silently
/// (and audited) when the request has no value or only its engine's default (see
/// [`crate::steps::origin`]), and a CEILING (`pids_max`, `memory_max_bytes`, ...) for what
/// a user asked for explicitly: at or below it the request is kept exactly; above it (or
/// an explicit "unlimited") it is refused by rule `resource-above-ceiling`, or lowered to
/// the ceiling when `on_ceiling = "clamp"`. A ceiling left out is the default (the
/// behaviour of profiles written before ceilings existed, made loud).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ResourcesPolicy {
    pub pids: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub cpu_shares: Option<u64>,
    /// CPU time per period, as a number of CPUs (2.0 = quota 200000 / period 100000).
    pub cpus: Option<f64>,
    pub blkio_weight: Option<u16>,
    pub pids_max: Option<i64>,
    pub memory_max_bytes: Option<i64>,
    pub cpu_shares_max: Option<u64>,
    pub cpus_max: Option<f64>,
    pub blkio_weight_max: Option<u16>,
    /// What happens to an explicit request above a ceiling: `refuse` (the default) or
    /// `clamp` (lowered to the ceiling, audited).
    #[serde(default)]
    pub on_ceiling: OnCeiling,
}

impl ResourcesPolicy {
    pub fn pids_ceiling(&self) -> Option<i64> {
        self.pids_max.or(self.pids)
    }
    pub fn memory_ceiling(&self) -> Option<i64> {
        self.memory_max_bytes.or(self.memory_bytes)
    }
    pub fn cpu_shares_ceiling(&self) -> Option<u64> {
        self.cpu_shares_max.or(self.cpu_shares)
    }
    pub fn cpus_ceiling(&self) -> Option<f64> {
        self.cpus_max.or(self.cpus)
    }
    pub fn blkio_weight_ceiling(&self) -> Option<u16> {
        self.blkio_weight_max.or(self.blkio_weight)
    }

    fn check(&self) -> Result<()> {
        fn pair<T: PartialOrd + std::fmt::Display + Copy>(
            default: Option<T>,
            ceiling: Option<T>,
            zero: T,
            names: (&str, &str),
        ) -> Result<()> {
            for (v, n) in [(default, names.0), (ceiling, names.1)] {
                if let Some(v) = v
                    && v.partial_cmp(&zero) != Some(std::cmp::Ordering::Greater)
                {
                    bail!("resources.{n} = {v}: a limit must be positive");
                }
            }
            if let (Some(d), Some(c)) = (default, ceiling)
                && d > c
            {
                bail!(
                    "resources.{} = {d} is above resources.{} = {c} (the default may not exceed the ceiling)",
                    names.0,
                    names.1
                );
            }
            Ok(())
        }
        pair(self.pids, self.pids_max, 0, ("pids", "pids_max"))?;
        pair(
            self.memory_bytes,
            self.memory_max_bytes,
            0,
            ("memory_bytes", "memory_max_bytes"),
        )?;
        pair(
            self.cpu_shares,
            self.cpu_shares_max,
            0,
            ("cpu_shares", "cpu_shares_max"),
        )?;
        pair(self.cpus, self.cpus_max, 0.0, ("cpus", "cpus_max"))?;
        pair(
            self.blkio_weight,
            self.blkio_weight_max,
            0,
            ("blkio_weight", "blkio_weight_max"),
        )
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnCeiling {
    #[default]
    Refuse,
    Clamp,
}

/// One `[rlimits]` entry: `soft`/`hard` are the DEFAULT (set when the request has none, or
/// lowered to when it has only its engine's default); `max` is the CEILING for a user's
/// explicit `--ulimit` (soft and hard alike; left out, it is `hard`). Above it: refused, or
/// lowered to it with `[resources] on_ceiling = "clamp"`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RlimitPolicy {
    pub soft: u64,
    pub hard: u64,
    #[serde(default)]
    pub max: Option<u64>,
}

impl RlimitPolicy {
    pub fn ceiling(&self) -> u64 {
        self.max.unwrap_or(self.hard)
    }
}

/// Where profiles are looked up: the admin's directory first, then the built-ins.
#[derive(Debug, Clone, Default)]
pub struct ProfileSource {
    pub dir: Option<PathBuf>,
}

// The built-in profiles compiled ahead of time: `profile_builtin.rs` holds each one's
// effective table (`extends` merged) as JSON, which parses in a fraction of the TOML's time
// (the unit test `builtin_profiles_are_compiled_ahead` keeps it identical to profiles/).
include!("profile_builtin.rs");

impl ProfileSource {
    pub fn load(&self, name: &str) -> Result<Profile> {
        if let Some(learn) = crate::record::learning_name(name)? {
            let mut p = self.load(LEARN_BASE)?;
            p.name = name.to_string();
            p.learning = Some(learn.to_string());
            return Ok(p);
        }
        match self.load_compiled(name) {
            Some(p) => p,
            None => self.load_toml(name),
        }
    }

    /// A built-in from [`COMPILED`], unless the admin's profiles directory has a file for it
    /// or for a profile it extends (then it is read as TOML, as before; so is any error).
    fn load_compiled(&self, name: &str) -> Option<Result<Profile>> {
        let (_, chain, json) = COMPILED.iter().find(|(n, _, _)| *n == name)?;
        if let Some(dir) = &self.dir {
            for n in *chain {
                match std::fs::File::open(dir.join(format!("{n}.toml"))) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    _ => return None,
                }
            }
        }
        let mut profile: Profile = match serde_json::from_str(json) {
            Ok(p) => p,
            Err(_) => return None,
        };
        profile.name = name.to_string();
        // Not checked again here: `builtin_profiles_are_compiled_ahead` checks every compiled
        // profile (equal to its TOML, which `load_toml` checks) for the architecture and
        // libseccomp this binary is built with.
        Some(Ok(profile))
    }

    /// [`ProfileSource::load`] from the TOML text (the admin's file, or the built-in's).
    fn load_toml(&self, name: &str) -> Result<Profile> {
        let table = self.load_table(name, 0)?;
        Self::finish(name, table)
    }

    /// A profile named `name` whose text is `text` (not yet a file), `extends` resolved
    /// through this source: what `load` would make of it once installed.
    pub fn load_text(&self, name: &str, text: &str) -> Result<Profile> {
        check_name(name)?;
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("profile {name:?} is not valid TOML"))?;
        let table = self.resolve_extends(name, table, 0)?;
        Self::finish(name, table)
    }

    fn finish(name: &str, table: toml::Table) -> Result<Profile> {
        let mut profile: Profile = table
            .try_into()
            .with_context(|| format!("profile {name:?} is not a valid Rampart profile"))?;
        profile.name = name.to_string();
        profile
            .check()
            .with_context(|| format!("profile {name:?}"))?;
        Ok(profile)
    }

    /// The profile's own text and where it came from (a path, or "built-in").
    pub fn source_text(&self, name: &str) -> Result<(String, String)> {
        check_name(name)?;
        self.text(name)
    }

    /// The profile after `extends` is merged, as a TOML table (what `load` deserialises).
    pub fn effective_table(&self, name: &str) -> Result<toml::Table> {
        let mut t = self.load_table(name, 0)?;
        t.remove("extends");
        Ok(t)
    }

    /// The names this source knows, built-ins and the admin's.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(dir) = &self.dir
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml")
                    && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    fn load_table(&self, name: &str, depth: usize) -> Result<toml::Table> {
        check_name(name)?;
        if depth > MAX_EXTENDS_DEPTH {
            bail!(
                "profile {name:?}: `extends` chain is longer than {MAX_EXTENDS_DEPTH} (a cycle?)"
            );
        }
        let (text, origin) = self.text(name)?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("profile {name:?} ({origin}) is not valid TOML"))?;
        self.resolve_extends(name, table, depth)
    }

    fn resolve_extends(
        &self,
        name: &str,
        mut table: toml::Table,
        depth: usize,
    ) -> Result<toml::Table> {
        if let Some(parent) = table.get("extends").cloned() {
            let parent = parent
                .as_str()
                .with_context(|| format!("profile {name:?}: `extends` must be a profile name"))?
                .to_string();
            let mut base = self
                .load_table(&parent, depth + 1)
                .with_context(|| format!("profile {name:?} extends {parent:?}"))?;
            // Fields that describe the profile itself are not inherited.
            base.remove("description");
            merge(&mut base, table);
            table = base;
        }
        Ok(table)
    }

    fn text(&self, name: &str) -> Result<(String, String)> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{name}.toml"));
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok((text, path.display().to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot read profile {}", path.display()));
                }
            }
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => Ok((text.to_string(), "built-in".to_string())),
            None => bail!(
                "unknown profile {name:?}{}: known profiles are {}; admins add profiles as NAME.toml in {}",
                crate::suggest::did_you_mean(name, self.names().iter().map(String::as_str)),
                self.names().join(", "),
                self.dir
                    .as_deref()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "the profiles_dir named in the config file".into())
            ),
        }
    }
}

impl Profile {
    fn check(&self) -> Result<()> {
        for cap in &self.capabilities.allow {
            crate::steps::capabilities::parse_cap(cap).context("capabilities.allow")?;
        }
        for cap in &self.capabilities.grantable {
            crate::steps::capabilities::parse_cap(cap).context("capabilities.grantable")?;
        }
        for (name, l) in &self.rlimits {
            crate::steps::rlimits::check_name(name)?;
            if l.soft > l.hard {
                bail!("rlimits.{name}: soft {} is above hard {}", l.soft, l.hard);
            }
            if l.hard > l.ceiling() {
                bail!(
                    "rlimits.{name}: hard {} is above max {} (the default may not exceed the ceiling)",
                    l.hard,
                    l.ceiling()
                );
            }
        }
        for p in self
            .paths
            .masked
            .iter()
            .chain(&self.paths.readonly)
            .chain(self.rootfs.tmpfs.iter().map(|t| &t.path))
        {
            if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
                bail!("path {p:?} must be absolute and must not contain '..'");
            }
        }
        for d in &self.policy.devices {
            crate::policy::devices::parse(d).context("policy.devices")?;
        }
        self.resources.check()?;
        crate::seccomp::check_profile_names(&self.seccomp, std::env::consts::ARCH)?;
        crate::idmap::check(&self.userns).context("userns")?;
        for h in &self.policy.hooks {
            h.check().context("policy.hooks")?;
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if !ok {
        bail!("{name:?} is not a valid profile name (letters, digits, '-', '_', '.'; at most 64)");
    }
    Ok(())
}

/// Deep-merges `over` into `base`: tables merge, everything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// For tests of files generated ahead (`src/*_builtin.rs`): whether the file at `path`
/// (from the crate root) already holds `want`. If not, with RAMPART_REGEN set it is
/// rewritten (false: the build in hand still has the old one), else the test fails and says
/// how to regenerate it with the unit test `test`.
#[cfg(test)]
pub(crate) fn generated_is_current(path: &str, want: &str, test: &str) -> bool {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::fs::read_to_string(&path).unwrap_or_default() == want {
        return true;
    }
    assert!(
        std::env::var_os("RAMPART_REGEN").is_some(),
        "{} is stale: run RAMPART_REGEN=1 cargo test --lib {test}",
        path.display()
    );
    std::fs::write(&path, want).unwrap();
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `profile_builtin.rs` is exactly the built-ins' effective tables (RAMPART_REGEN=1
    /// rewrites it after an edit of profiles/*.toml), and loads to the same profiles.
    #[test]
    fn builtin_profiles_are_compiled_ahead() {
        let src = ProfileSource::default();
        let mut want = String::from(
            "// @generated by the unit test profile::tests::builtin_profiles_are_compiled_ahead\n// from profiles/*.toml (RAMPART_REGEN=1 cargo test --lib builtin_profiles_are_compiled_ahead).\n// Do not edit: edit the TOML and regenerate.\n\n/// Each built-in profile: its name, the profiles its `extends` chain reads (itself first)\n/// and its effective table (`extends` merged) as JSON.\nconst COMPILED: &[(&str, &[&str], &str)] = &[\n",
        );
        for (name, _) in BUILTIN {
            let mut chain = vec![name.to_string()];
            while chain.len() <= MAX_EXTENDS_DEPTH {
                let own: toml::Table =
                    toml::from_str(&src.text(chain.last().unwrap()).unwrap().0).unwrap();
                match own.get("extends").and_then(toml::Value::as_str) {
                    Some(parent) => chain.push(parent.to_string()),
                    None => break,
                }
            }
            let json = serde_json::to_string(&src.load_table(name, 0).unwrap()).unwrap();
            assert!(
                !json.contains("\"#"),
                "{name}: the JSON needs another raw-string delimiter"
            );
            want += &format!(
                "    (\n        {name:?},\n        &{chain:?},\n        r#\"{json}\"#,\n    ),\n"
            );
        }
        want += "];\n";
        if !generated_is_current(
            "src/profile_builtin.rs",
            &want,
            "builtin_profiles_are_compiled_ahead",
        ) {
            return;
        }
        for (name, _) in BUILTIN {
            let compiled = src.load_compiled(name).expect("compiled").unwrap();
            compiled.check().unwrap();
            assert_eq!(compiled, src.load_toml(name).unwrap(), "{name}");
        }
    }

    #[test]
    fn an_admins_file_replaces_a_compiled_builtin_and_what_extends_it() {
        let dir = std::env::temp_dir().join(format!("rampart-compiled-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(BUILTIN[0].0, "restricted");
        let text = BUILTIN[0]
            .1
            .replace("[policy]\n", "[policy]\nmode = \"complain\"\n");
        std::fs::write(dir.join("restricted.toml"), text).unwrap();
        let src = ProfileSource {
            dir: Some(dir.clone()),
        };
        assert!(src.load_compiled("restricted").is_none());
        assert!(src.load_compiled("baseline").is_none());
        assert_eq!(src.load("restricted").unwrap().policy.mode, Mode::Complain);
        assert_eq!(src.load("baseline").unwrap().policy.mode, Mode::Complain);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn builtins_load() {
        let src = ProfileSource::default();
        for (name, _) in BUILTIN {
            let p = src.load(name).unwrap();
            assert_eq!(p.name, *name);
        }
        let r = src.load("restricted").unwrap();
        assert_eq!(r.capabilities.allow, vec!["CAP_NET_BIND_SERVICE"]);
        assert_eq!(r.resources.pids, Some(1024));
        assert!(r.rootfs.readonly);
        let b = src.load("baseline").unwrap();
        assert!(!b.rootfs.readonly);
        assert!(
            !b.capabilities
                .allow
                .iter()
                .any(|c| c == "CAP_NET_RAW" || c == "CAP_MKNOD" || c == "CAP_AUDIT_WRITE")
        );
    }

    #[test]
    fn builtins_grant_the_entrypoint_capabilities_and_never_the_dangerous_ones() {
        let src = ProfileSource::default();
        for (name, _) in BUILTIN {
            let c = src.load(name).unwrap().capabilities;
            for cap in [
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_SETUID",
                "CAP_SETGID",
                "CAP_NET_BIND_SERVICE",
            ] {
                assert!(c.grants(cap), "{name}: {cap}");
            }
            for cap in NEVER_GRANTED_BY_BUILTINS {
                assert!(!c.grants(cap), "{name} grants {cap}");
            }
            for cap in ["CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"] {
                assert!(!c.grants(cap), "{name} grants {cap}");
            }
        }
        for cap in NEVER_GRANTED_BY_BUILTINS {
            crate::steps::capabilities::parse_cap(cap).unwrap();
        }
    }

    #[test]
    fn admin_profile_extends_builtin_and_overrides_keys() {
        let dir = tempdir();
        std::fs::write(
            dir.join("web.toml"),
            "extends = \"restricted\"\n[resources]\npids = 64\n",
        )
        .unwrap();
        let p = ProfileSource {
            dir: Some(dir.clone()),
        }
        .load("web")
        .unwrap();
        assert_eq!(p.resources.pids, Some(64));
        assert_eq!(
            p.resources.memory_bytes,
            ProfileSource::default()
                .load("restricted")
                .unwrap()
                .resources
                .memory_bytes
        );
        assert!(p.rootfs.readonly);
    }

    #[test]
    fn bad_profiles_are_refused() {
        let dir = tempdir();
        std::fs::write(dir.join("loop.toml"), "extends = \"loop\"\n").unwrap();
        std::fs::write(
            dir.join("typo.toml"),
            "extends = \"restricted\"\n[resources]\npidz = 1\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("badcap.toml"),
            "extends = \"restricted\"\n[capabilities]\nallow = [\"CAP_FLY\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("badgrant.toml"),
            "extends = \"restricted\"\n[capabilities]\ngrantable = [\"chown\"]\n",
        )
        .unwrap();
        let src = ProfileSource { dir: Some(dir) };
        for name in [
            "loop",
            "typo",
            "badcap",
            "badgrant",
            "nope",
            "../etc/passwd",
            "",
        ] {
            assert!(src.load(name).is_err(), "{name} should fail");
        }
        let msg = format!("{:#}", src.load("nope").unwrap_err());
        assert!(
            msg.contains("unknown profile \"nope\"") && msg.contains("restricted"),
            "{msg}"
        );
    }

    /// `[seccomp] syscalls` / `compat_syscalls`: names libseccomp knows on the native / a
    /// compat architecture (x86_64 hosts here), compat names only with compat_arches.
    #[test]
    fn seccomp_syscall_lists_are_checked_per_architecture() {
        if std::env::consts::ARCH != "x86_64" {
            return;
        }
        let src = ProfileSource::default();
        let load = |body: &str| {
            src.load_text("t", &format!("extends = \"restricted\"\n[seccomp]\n{body}"))
                .map_err(|e| format!("{e:#}"))
        };
        let p = load("syscalls = [\"read\", \"openat\"]\n").unwrap();
        assert_eq!(p.seccomp.syscalls.unwrap(), ["read", "openat"]);
        for (body, want) in [
            (
                "syscalls = [\"raed\"]\n",
                "\"raed\" is not a syscall libseccomp knows on SCMP_ARCH_X86_64",
            ),
            // socketcall exists only on x86: a compat name.
            ("syscalls = [\"socketcall\"]\n", "compat_syscalls"),
            ("syscalls = [\"Read\"]\n", "is not a syscall name"),
            (
                "syscalls = [\"read\"]\ncompat_syscalls = [\"socketcall\"]\n",
                "needs compat_arches = true",
            ),
            (
                "compat_arches = true\nsyscalls = [\"read\"]\ncompat_syscalls = [\"nosuch\"]\n",
                "\"nosuch\" is not a syscall libseccomp knows on SCMP_ARCH_X86 or SCMP_ARCH_X32",
            ),
            (
                "compat_arches = true\ncompat_syscalls = [\"read\"]\n",
                "needs seccomp.syscalls",
            ),
        ] {
            let e = load(body).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
        load("compat_arches = true\nsyscalls = [\"read\"]\ncompat_syscalls = [\"socketcall\", \"read\"]\n")
            .unwrap();
    }

    /// Defaults and ceilings: a profile written before ceilings existed still loads (without
    /// a `*_max`/`max` of its own or inherited, its values are both); a default above its
    /// ceiling is refused.
    #[test]
    fn defaults_and_ceilings() {
        let dir = tempdir();
        std::fs::write(
            dir.join("old.toml"),
            "extends = \"restricted\"\n[rlimits]\nRLIMIT_NOFILE = { soft = 1024, hard = 4096 }\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("over.toml"),
            "extends = \"restricted\"\n[resources]\npids = 100000\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("overrl.toml"),
            "extends = \"restricted\"\n[rlimits]\nRLIMIT_CORE = { soft = 1, hard = 2, max = 1 }\n",
        )
        .unwrap();
        let src = ProfileSource { dir: Some(dir) };
        let old = src.load("old").unwrap();
        // Tables merge key by key: restricted's `max` is inherited.
        assert_eq!(old.rlimits["RLIMIT_NOFILE"].hard, 4096);
        assert_eq!(old.rlimits["RLIMIT_NOFILE"].ceiling(), 524288);
        let no_max = RlimitPolicy {
            soft: 1024,
            hard: 4096,
            max: None,
        };
        assert_eq!(no_max.ceiling(), 4096, "no max: the default");
        for bad in ["over", "overrl"] {
            let e = format!("{:#}", src.load(bad).unwrap_err());
            assert!(e.contains("may not exceed the ceiling"), "{e}");
        }
        let r = ProfileSource::default().load("restricted").unwrap();
        assert_eq!(r.resources.on_ceiling, OnCeiling::Refuse);
        assert_eq!(r.resources.pids_ceiling(), Some(32768));
        assert_eq!(r.rlimits["RLIMIT_NOFILE"].soft, 65536);
        let standalone = ResourcesPolicy {
            pids: Some(64),
            ..Default::default()
        };
        assert_eq!(standalone.pids_ceiling(), Some(64), "no max: the default");
    }

    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "rampart-profile-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
