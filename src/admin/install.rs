//! `rampart install docker|containerd|crio|podman` and `rampart uninstall ...`: register
//! Rampart where engines look for runtimes, in one command, and take it out again.
//!
//! - Docker: one `runtimes` entry per profile in daemon.json (`rampart` = restricted,
//!   `rampart-baseline`, `rampart-NAME` for the admin's profiles), each running this binary
//!   with `--rampart-profile NAME` as runtimeArgs; optionally `default-runtime`. Every other
//!   key is kept, the old file is backed up, the new one written atomically, and a running
//!   dockerd is reloaded with SIGHUP.
//! - containerd: one CRI runtime handler per profile (runtime_type io.containerd.runc.v2,
//!   BinaryName the `rampart-NAME` link, Root, SystemdCgroup copied from the runc entry, the
//!   `rampart.dev/profile` and `rampart.dev/waive` annotations allowed through), appended to config.toml as a marked
//!   block so that the admin's own text and comments stay as they were; or printed.
//!
//! - CRI-O and podman: a drop-in file Rampart owns whole (`/etc/crio/crio.conf.d/99-rampart.conf`
//!   with `[crio.runtime.runtimes.NAME]`, `/etc/containers/containers.conf.d/99-rampart.conf`
//!   with `[engine.runtimes]`), each runtime the `rampart-NAME` link; rewritten only when it
//!   differs (backup first), refused when the file is not Rampart's; uninstall removes it.
//!
//! `uninstall ... --remove-links` keeps every link another engine's registration still names
//! (daemon.json, containerd's config.toml, CRI-O's and podman's config files and drop-ins).
//!
//! All create `rampart-NAME` links beside the binary (or in `--bin-dir`): the name selects
//! the profile where an engine cannot pass arguments. A file that is not valid JSON/TOML, or
//! that already has an entry by one of Rampart's names which Rampart would not have written,
//! is refused with a message and left untouched. The merge logic is pure (serde_json
//! `Value`, `toml::Table`, text) and unit-tested below.

use crate::argv::Invocation;
use crate::config::{self, Config};
use crate::host::Host;
use crate::profile::ProfileSource;
use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::{Map, Value, json};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Annotations containerd's CRI passes through to Rampart: one chooses a profile per pod,
/// the other waives policy rules. Neither does anything unless Rampart's config file
/// allow-lists the key and the value (`[[annotations]]`).
pub const PROFILE_ANNOTATION: &str = "rampart.dev/profile";
pub const WAIVE_ANNOTATION: &str = "rampart.dev/waive";
pub const DEFAULT_DAEMON_JSON: &str = "/etc/docker/daemon.json";
pub const DEFAULT_DOCKER_PID: &str = "/var/run/docker.pid";
pub const DEFAULT_CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
pub const DEFAULT_RUNC_ROOT: &str = "/run/containerd/rampart";
const BLOCK_BEGIN: &str = "# BEGIN rampart: written by `rampart install containerd`; `rampart uninstall containerd` removes this block";
const BLOCK_END: &str = "# END rampart";

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    engine: Engine,
}

#[derive(Debug, Subcommand)]
enum Engine {
    /// dockerd's daemon.json: `runtimes` entries (and optionally `default-runtime`).
    Docker(DockerArgs),
    /// containerd's config.toml: CRI runtime handlers (Kubernetes RuntimeClass handlers).
    Containerd(ContainerdArgs),
    /// CRI-O: a drop-in in /etc/crio/crio.conf.d with one `[crio.runtime.runtimes.NAME]`
    /// table per profile (Kubernetes RuntimeClass handlers).
    Crio(DropinArgs<CrioPath>),
    /// podman: a drop-in in /etc/containers/containers.conf.d with `[engine.runtimes]`
    /// (`podman --runtime rampart-baseline run ...`).
    Podman(DropinArgs<PodmanPath>),
}

pub const DEFAULT_CRIO_DROPIN: &str = "/etc/crio/crio.conf.d/99-rampart.conf";
pub const DEFAULT_PODMAN_DROPIN: &str = "/etc/containers/containers.conf.d/99-rampart.conf";

/// The drop-in's default path, per engine (a type so that clap's default differs).
pub trait DropinPath: Clone + Send + Sync + std::fmt::Debug + 'static {
    const PATH: &'static str;
    const ENGINE: &'static str;
}
#[derive(Debug, Clone)]
pub struct CrioPath;
impl DropinPath for CrioPath {
    const PATH: &'static str = DEFAULT_CRIO_DROPIN;
    const ENGINE: &'static str = "crio";
}
#[derive(Debug, Clone)]
pub struct PodmanPath;
impl DropinPath for PodmanPath {
    const PATH: &'static str = DEFAULT_PODMAN_DROPIN;
    const ENGINE: &'static str = "podman";
}

#[derive(Debug, Args)]
struct DropinArgs<P: DropinPath> {
    #[command(flatten)]
    common: Common,
    /// The drop-in file Rampart owns (written whole, removed by uninstall).
    #[arg(long, value_name = "PATH", default_value = P::PATH)]
    file: PathBuf,
    /// uninstall: also remove the rampart-NAME links (those no other engine still uses).
    #[arg(long)]
    remove_links: bool,
    #[arg(skip)]
    _p: std::marker::PhantomData<P>,
}

#[derive(Debug, Args)]
struct Common {
    /// The rampart binary engines will run, as they see it [default: this binary].
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Where the rampart-NAME links are made [default: the binary's directory].
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Where the host's / is mounted, for installers running in a container (e.g. /host):
    /// files are read and written under it, paths inside configs stay as the host sees them.
    #[arg(long, value_name = "DIR")]
    host_root: Option<PathBuf>,
    /// Show what would change; write nothing, signal nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct DockerArgs {
    #[command(flatten)]
    common: Common,
    /// dockerd's configuration file.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DAEMON_JSON)]
    daemon_json: PathBuf,
    /// dockerd's pid file, to reload it with SIGHUP.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DOCKER_PID)]
    pid_file: PathBuf,
    /// install: also make `rampart` dockerd's default runtime.
    #[arg(long)]
    default_runtime: bool,
    /// install: also register `rampart-learn-NAME`, which records each container it runs
    /// for `rampart learn` (`--rampart-profile learn:NAME`). Repeatable.
    #[arg(long, value_name = "NAME")]
    learn: Vec<String>,
    /// install: replace Rampart-named runtimes that differ from what Rampart would write.
    #[arg(long)]
    force: bool,
    /// Do not signal dockerd.
    #[arg(long)]
    no_reload: bool,
    /// uninstall: also remove the rampart-NAME links.
    #[arg(long)]
    remove_links: bool,
}

#[derive(Debug, Args)]
struct ContainerdArgs {
    #[command(flatten)]
    common: Common,
    /// containerd's configuration file.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTAINERD_CONFIG)]
    config: PathBuf,
    /// install: print the entries to paste into config.toml; change nothing.
    #[arg(long)]
    print: bool,
    /// runc's state directory for Rampart's containers (`Root` option of the runc shim).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_RUNC_ROOT)]
    runc_root: PathBuf,
    /// uninstall: also remove the rampart-NAME links.
    #[arg(long)]
    remove_links: bool,
}

/// Entry point for both `rampart install ...` and `rampart uninstall ...`.
/// `install`'s parser, for the command tree (help, completions, man pages).
pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main(inv: &Invocation, args: &[OsString], host: &dyn Host) -> i32 {
    let uninstall = args.first().is_some_and(|a| a == "uninstall");
    let name = if uninstall {
        "rampart uninstall"
    } else {
        "rampart install"
    };
    let about = if uninstall {
        "Remove Rampart's runtimes from an engine's configuration"
    } else {
        "Register Rampart's runtimes (one per profile) with an engine"
    };
    let cmd = Cli::command().name(name).bin_name(name).about(about);
    let cli = match cmd
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if !uninstall {
        let common = match &cli.engine {
            Engine::Docker(a) => &a.common,
            Engine::Containerd(a) => &a.common,
            Engine::Crio(a) => &a.common,
            Engine::Podman(a) => &a.common,
        };
        let report =
            super::check::check(inv.rampart.config.as_deref(), common.host_root.as_deref());
        // A broken config file or default profile refuses every container: write nothing.
        // Another broken profile refuses only the containers that use its runtime; it is
        // registered (fail closed) and reported as a warning.
        let fatal = report.fatal();
        if !fatal.is_empty() {
            for l in fatal {
                eprintln!("error  {l}");
            }
            eprintln!("rampart install: nothing written; fix the errors above (rampart check)");
            return 1;
        }
    }
    let result = match (&cli.engine, uninstall) {
        (Engine::Docker(a), false) => install_docker(inv, host, a),
        (Engine::Docker(a), true) => uninstall_docker(host, a),
        (Engine::Containerd(a), false) => install_containerd(inv, host, a),
        (Engine::Containerd(a), true) => uninstall_containerd(host, a),
        (Engine::Crio(a), false) => install_dropin(inv, host, a),
        (Engine::Crio(a), true) => uninstall_dropin(host, a),
        (Engine::Podman(a), false) => install_dropin(inv, host, a),
        (Engine::Podman(a), true) => uninstall_dropin(host, a),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            0
        }
        Err(e) => {
            eprintln!("{}", crate::errors::message(&e));
            1
        }
    }
}

// ------------------------------------------------------------------ what gets installed

/// One runtime per profile: `rampart` runs restricted, every other profile P is `rampart-P`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeName {
    pub name: String,
    pub profile: String,
}

pub fn runtime_names(profiles: &[String]) -> Vec<RuntimeName> {
    let mut out: Vec<RuntimeName> = profiles
        .iter()
        .map(|p| RuntimeName {
            name: if p == crate::profile::DEFAULT_PROFILE {
                "rampart".into()
            } else {
                format!("rampart-{p}")
            },
            profile: p.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The link that selects `profile` by name.
pub fn link_name(profile: &str) -> String {
    format!("rampart-{profile}")
}

/// Paths as the engines see them, and where this process reads and writes them.
struct Layout {
    host_root: Option<PathBuf>,
    /// The binary as engines see it.
    binary: PathBuf,
    /// The link directory as engines see it.
    bin_dir: PathBuf,
}

impl Layout {
    fn new(common: &Common, host: &dyn Host) -> Result<Layout> {
        let binary = match &common.binary {
            Some(b) => b.clone(),
            None => {
                let me = host
                    .self_exe()
                    .context("cannot find this binary (/proc/self/exe); pass --binary")?;
                let me = std::fs::canonicalize(&me).unwrap_or(me);
                match &common.host_root {
                    Some(root) => Path::new("/").join(me.strip_prefix(root).with_context(|| {
                        format!(
                            "this binary ({}) is not under --host-root {}; pass --binary with the path the host sees",
                            me.display(),
                            root.display()
                        )
                    })?),
                    None => me,
                }
            }
        };
        if !binary.is_absolute() {
            bail!(
                "--binary must be an absolute path, not {}",
                binary.display()
            );
        }
        let bin_dir = match &common.bin_dir {
            Some(d) => d.clone(),
            None => binary.parent().unwrap_or(Path::new("/")).to_path_buf(),
        };
        Ok(Layout {
            host_root: common.host_root.clone(),
            binary,
            bin_dir,
        })
    }

    /// Where this process finds a host path.
    fn local(&self, p: &Path) -> PathBuf {
        match &self.host_root {
            Some(root) => root.join(p.strip_prefix("/").unwrap_or(p)),
            None => p.to_path_buf(),
        }
    }

    /// The link for `profile`, as engines see it.
    fn link(&self, profile: &str) -> PathBuf {
        self.bin_dir.join(link_name(profile))
    }

    /// What a link points at: the binary's file name when it lives in the same directory.
    fn link_target(&self) -> PathBuf {
        if self.binary.parent() == Some(self.bin_dir.as_path())
            && let Some(name) = self.binary.file_name()
        {
            return PathBuf::from(name);
        }
        self.binary.clone()
    }
}

/// The admin's profile names (built-ins plus `profiles_dir`), and warnings for those that
/// do not load.
fn profiles(inv: &Invocation, layout: &Layout) -> Result<(Vec<String>, Vec<String>)> {
    let cfg = match &inv.rampart.config {
        Some(p) => Config::load(Some(p))?,
        None => {
            let p = layout.local(Path::new(config::DEFAULT_PATH));
            if p.exists() {
                Config::load(Some(&p))?
            } else {
                Config::default()
            }
        }
    };
    let dir = cfg
        .profiles_dir
        .unwrap_or_else(|| config::DEFAULT_PROFILES_DIR.into());
    let source = ProfileSource {
        dir: Some(layout.local(&dir)),
    };
    let names = source.names();
    let warnings = names
        .iter()
        .filter_map(|n| {
            source.load(n).err().map(|e| {
                let why = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
                format!(
                    "warning: profile {n} does not load ({why}); its runtime will refuse every container until it is fixed"
                )
            })
        })
        .collect();
    Ok((names, warnings))
}

/// Makes (or checks) one `rampart-NAME` link per profile. Refuses to replace anything that
/// is not already a link to the same target.
fn make_links(layout: &Layout, profiles: &[String], dry_run: bool) -> Result<Vec<String>> {
    let target = layout.link_target();
    let dir = layout.local(&layout.bin_dir);
    let mut notes = Vec::new();
    for p in profiles {
        let link = dir.join(link_name(p));
        let shown = layout.link(p);
        match std::fs::symlink_metadata(&link) {
            Ok(m) if m.file_type().is_symlink() => {
                let current = std::fs::read_link(&link)?;
                if current == target {
                    continue;
                }
                bail!(
                    "{} already exists and points at {}, not at {}; remove it first. Nothing was changed.",
                    shown.display(),
                    current.display(),
                    target.display()
                );
            }
            Ok(_) => bail!(
                "{} already exists and is not a link to Rampart; remove it first. Nothing was changed.",
                shown.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", shown.display())),
        }
        if !dry_run {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", layout.bin_dir.display()))?;
            let tmp = dir.join(format!(
                ".{}.rampart-{}.tmp",
                link_name(p),
                std::process::id()
            ));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&target, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &link))
                .with_context(|| format!("cannot create the link {}", shown.display()))?;
        }
        notes.push(format!(
            "link {} -> {} (profile {p})",
            shown.display(),
            target.display()
        ));
    }
    Ok(notes)
}

/// Every engine's registration file except `except`'s, as text (missing ones skipped):
/// a link named in one of them is still in use.
fn other_registrations(layout: &Layout, except: &str) -> Vec<(&'static str, String)> {
    let mut files: Vec<(&'static str, PathBuf)> = vec![
        ("docker", DEFAULT_DAEMON_JSON.into()),
        ("containerd", DEFAULT_CONTAINERD_CONFIG.into()),
        ("crio", "/etc/crio/crio.conf".into()),
        ("podman", "/etc/containers/containers.conf".into()),
    ];
    for (engine, dir) in [
        ("crio", "/etc/crio/crio.conf.d"),
        ("podman", "/etc/containers/containers.conf.d"),
    ] {
        if let Ok(entries) = std::fs::read_dir(layout.local(Path::new(dir))) {
            // Both engines read *.conf only (not Rampart's .bak backups).
            let mut names: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".conf"))
                .map(|e| Path::new(dir).join(e.file_name()))
                .collect();
            names.sort();
            files.extend(names.into_iter().map(|n| (engine, n)));
        }
    }
    files
        .into_iter()
        .filter(|(e, _)| *e != except)
        .filter_map(|(e, p)| {
            crate::host::read_capped(&layout.local(&p), 4 << 20)
                .ok()
                .map(|b| (e, String::from_utf8_lossy(&b).into_owned()))
        })
        .collect()
}

/// Removes the `rampart-NAME` links in the link directory that point at this binary,
/// except those another engine's registration (`in_use`: engine, file text) still names.
fn remove_links(layout: &Layout, dry_run: bool, in_use: &[(&str, String)]) -> Result<Vec<String>> {
    let target = layout.link_target();
    let dir = layout.local(&layout.bin_dir);
    let mut notes = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(_) => return Ok(notes),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.starts_with("rampart-"))
        .collect();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        if std::fs::read_link(&p).is_ok_and(|t| t == target) {
            let shown = layout.bin_dir.join(&n).display().to_string();
            let users: Vec<&str> = in_use
                .iter()
                .filter(|(_, text)| {
                    text.match_indices(&shown).any(|(i, _)| {
                        // The whole name: not rampart-base inside rampart-baseline.
                        !text[i + shown.len()..]
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
                    })
                })
                .map(|(e, _)| *e)
                .collect();
            if !users.is_empty() {
                notes.push(format!(
                    "kept link {shown}: still registered with {}",
                    users.join(", ")
                ));
                continue;
            }
            if !dry_run {
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove {}", p.display()))?;
            }
            notes.push(format!(
                "removed link {}",
                layout.bin_dir.join(&n).display()
            ));
        }
    }
    Ok(notes)
}

/// Writes `bytes` over `path` atomically (same mode), after copying the old file to a
/// timestamped backup beside it. Returns the backup's path, if there was an old file.
fn write_with_backup(path: &Path, bytes: &[u8], host: &dyn Host) -> Result<Option<PathBuf>> {
    let backup = if path.exists() {
        let stamp: String = crate::host::rfc3339(host.now())
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(14)
            .collect();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config");
        let mut b = path.with_file_name(format!("{name}.rampart-{stamp}.bak"));
        let mut n = 1;
        while b.exists() {
            b = path.with_file_name(format!("{name}.rampart-{stamp}-{n}.bak"));
            n += 1;
        }
        std::fs::copy(path, &b)
            .with_context(|| format!("cannot back {} up to {}", path.display(), b.display()))?;
        Some(b)
    } else {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        None
    };
    crate::bundle::stage(path, bytes)?.commit()?;
    Ok(backup)
}

// ------------------------------------------------------------------------------- docker

/// What Rampart writes for one Docker runtime.
/// `rampart-learn-NAME` runtimes: the binary itself with `--rampart-profile learn:NAME`
/// (no link: the name would select a profile).
pub fn learn_runtimes(
    binary: &Path,
    names: &[String],
    config: Option<&Path>,
) -> Result<Vec<(String, Value)>> {
    names
        .iter()
        .map(|n| {
            crate::record::check_name(n)?;
            let profile = format!("{}{n}", crate::record::PREFIX);
            Ok((
                format!("rampart-learn-{n}"),
                docker_entry(binary, &profile, config),
            ))
        })
        .collect()
}

pub fn docker_entry(binary: &Path, profile: &str, config: Option<&Path>) -> Value {
    let mut args = vec![json!("--rampart-profile"), json!(profile)];
    if let Some(c) = config {
        args.push(json!(format!("--rampart-config={}", c.display())));
    }
    json!({"path": binary, "runtimeArgs": args})
}

/// daemon.json as an object; an empty file counts as `{}`. Anything else is refused.
pub fn parse_daemon_json(text: &str) -> Result<Map<String, Value>> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let v: Value = serde_json::from_str(text).context("it is not valid JSON")?;
    let Value::Object(map) = v else {
        bail!("it is valid JSON but not an object");
    };
    match map.get("runtimes") {
        None | Some(Value::Object(_)) => {}
        Some(_) => bail!("its \"runtimes\" is not an object"),
    }
    if let Some(Value::Object(rts)) = map.get("runtimes") {
        for (name, rt) in rts {
            if !rt.is_object() {
                bail!("its runtime {name:?} is not an object");
            }
        }
    }
    match map.get("default-runtime") {
        None | Some(Value::String(_)) => {}
        Some(_) => bail!("its \"default-runtime\" is not a string"),
    }
    Ok(map)
}

/// Adds `wanted` runtimes (name, entry) to daemon.json; sets `default-runtime` if asked.
/// A runtime by one of these names that differs is refused unless `force`.
pub fn docker_install(
    mut doc: Map<String, Value>,
    wanted: &[(String, Value)],
    default_runtime: Option<&str>,
    force: bool,
) -> Result<(Map<String, Value>, Vec<String>)> {
    let mut notes = Vec::new();
    let runtimes = doc
        .entry("runtimes")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .context("\"runtimes\" is not an object")?;
    for (name, entry) in wanted {
        match runtimes.get(name) {
            Some(current) if current == entry => {}
            Some(current) if !force => bail!(
                "it already has a runtime {name:?} that differs from what Rampart would write (it has {current}, Rampart would write {entry}); \
                 it was edited by hand or installed with other options. Remove it, or rerun with --force to replace it"
            ),
            Some(current) => {
                notes.push(format!("replaced runtime {name} (was {current})"));
                runtimes.insert(name.clone(), entry.clone());
            }
            None => {
                notes.push(format!("added runtime {name}: {entry}"));
                runtimes.insert(name.clone(), entry.clone());
            }
        }
    }
    if let Some(rt) = default_runtime {
        match doc.get("default-runtime").and_then(Value::as_str) {
            Some(cur) if cur == rt => {}
            cur => {
                notes.push(format!(
                    "default-runtime: {} -> {rt}",
                    cur.unwrap_or("(unset, runc)")
                ));
                doc.insert("default-runtime".into(), json!(rt));
            }
        }
    }
    Ok((doc, notes))
}

/// Removes every runtime `is_ours` recognises (Rampart's binary or links as `path`); a
/// `default-runtime` naming one of them goes back to "runc" (dockerd does not revert a
/// removed key on reload). An emptied `runtimes` is removed.
pub fn docker_uninstall(
    mut doc: Map<String, Value>,
    is_ours: &dyn Fn(&Path) -> bool,
) -> Result<(Map<String, Value>, Vec<String>)> {
    let mut notes = Vec::new();
    let mut removed = Vec::new();
    if let Some(Value::Object(runtimes)) = doc.get_mut("runtimes") {
        let ours: Vec<String> = runtimes
            .iter()
            .filter(|(_, rt)| {
                rt.get("path")
                    .and_then(Value::as_str)
                    .is_some_and(|p| is_ours(Path::new(p)))
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in ours {
            runtimes.shift_remove(&name);
            notes.push(format!("removed runtime {name}"));
            removed.push(name);
        }
        for name in runtimes.keys().filter(|n| n.starts_with("rampart")) {
            notes.push(format!(
                "left runtime {name} alone: its path is not this Rampart"
            ));
        }
        if runtimes.is_empty() {
            doc.shift_remove("runtimes");
        }
    }
    if let Some(Value::String(d)) = doc.get("default-runtime")
        && removed.contains(d)
    {
        notes.push(format!("default-runtime: {d} -> runc"));
        doc.insert("default-runtime".into(), json!("runc"));
    }
    Ok((doc, notes))
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(b) => {
            Ok(Some(String::from_utf8(b).with_context(|| {
                format!("{} is not UTF-8", path.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn load_daemon_json(
    layout: &Layout,
    path: &Path,
    verb: &str,
) -> Result<(Option<String>, Map<String, Value>)> {
    let text = read_optional(&layout.local(path))?;
    let doc = parse_daemon_json(text.as_deref().unwrap_or("")).with_context(|| {
        format!(
            "cannot {verb} Rampart in {}: nothing was changed; fix the file by hand first",
            path.display()
        )
    })?;
    Ok((text, doc))
}

fn render_json(doc: Map<String, Value>) -> Result<String> {
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&Value::Object(doc))?
    ))
}

fn install_docker(inv: &Invocation, host: &dyn Host, a: &DockerArgs) -> Result<String> {
    let layout = Layout::new(&a.common, host)?;
    let (profiles, warnings) = profiles(inv, &layout)?;
    if let Some(c) = &inv.rampart.config
        && c.to_string_lossy().chars().any(char::is_whitespace)
    {
        bail!(
            "--rampart-config {} contains white space, which dockerd's runtimeArgs cannot carry (its wrapper script splits them)",
            c.display()
        );
    }
    let config_arg = inv
        .rampart
        .config
        .as_ref()
        .map(|c| std::fs::canonicalize(c).unwrap_or_else(|_| c.clone()));
    let mut wanted: Vec<(String, Value)> = runtime_names(&profiles)
        .into_iter()
        .map(|r| {
            let e = docker_entry(&layout.binary, &r.profile, config_arg.as_deref());
            (r.name, e)
        })
        .collect();
    wanted.extend(learn_runtimes(
        &layout.binary,
        &a.learn,
        config_arg.as_deref(),
    )?);
    let (text, doc) = load_daemon_json(&layout, &a.daemon_json, "install")?;
    let (doc, notes) = docker_install(
        doc,
        &wanted,
        a.default_runtime.then_some("rampart"),
        a.force,
    )
    .with_context(|| {
        format!(
            "cannot install Rampart in {}: nothing was changed",
            a.daemon_json.display()
        )
    })?;
    let mut out = format!("rampart install docker: {}\n", a.daemon_json.display());
    let link_notes = make_links(&layout, &profiles, a.common.dry_run)?;
    let changed = !notes.is_empty() || text.is_none();
    for n in notes.iter().chain(&link_notes).chain(&warnings) {
        out.push_str(&format!("  {n}\n"));
    }
    if !changed {
        out.push_str("  runtimes already installed: nothing changed\n");
        return Ok(out);
    }
    out.push_str(&finish_docker(&layout, host, a, doc)?);
    Ok(out)
}

fn uninstall_docker(host: &dyn Host, a: &DockerArgs) -> Result<String> {
    let layout = Layout::new(&a.common, host)?;
    let target = layout.link_target();
    let binary = layout.binary.clone();
    let bin_dir = layout.bin_dir.clone();
    let is_ours = move |p: &Path| {
        p == binary
            || (p.parent() == Some(bin_dir.as_path())
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("rampart-")))
            || p == target
    };
    let (text, doc) = load_daemon_json(&layout, &a.daemon_json, "uninstall")?;
    let (doc, notes) = docker_uninstall(doc, &is_ours)?;
    let mut out = format!("rampart uninstall docker: {}\n", a.daemon_json.display());
    let link_notes = if a.remove_links {
        remove_links(
            &layout,
            a.common.dry_run,
            &other_registrations(&layout, "docker"),
        )?
    } else {
        vec![]
    };
    for n in notes.iter().chain(&link_notes) {
        out.push_str(&format!("  {n}\n"));
    }
    if text.is_none() || !notes.iter().any(|n| !n.starts_with("left")) {
        out.push_str("  no Rampart runtimes found: nothing changed\n");
        return Ok(out);
    }
    out.push_str(&finish_docker(&layout, host, a, doc)?);
    Ok(out)
}

/// Writes daemon.json (with a backup) and reloads dockerd; returns the report lines.
fn finish_docker(
    layout: &Layout,
    host: &dyn Host,
    a: &DockerArgs,
    doc: Map<String, Value>,
) -> Result<String> {
    let bytes = render_json(doc)?;
    if a.common.dry_run {
        return Ok(format!(
            "  dry run: nothing written; daemon.json would be:\n{bytes}"
        ));
    }
    let mut out = String::new();
    let path = layout.local(&a.daemon_json);
    match write_with_backup(&path, bytes.as_bytes(), host)? {
        Some(b) => out.push_str(&format!("  backup of the previous file: {}\n", b.display())),
        None => out.push_str("  created the file\n"),
    }
    out.push_str(&format!("  {}\n", reload_dockerd(layout, a)));
    Ok(out)
}

/// SIGHUP to dockerd if its pid file names a live dockerd; says what happened.
fn reload_dockerd(layout: &Layout, a: &DockerArgs) -> String {
    if a.no_reload {
        return "not reloading dockerd (--no-reload): send it SIGHUP to apply".into();
    }
    let pid_file = layout.local(&a.pid_file);
    let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return format!(
            "dockerd is not running ({} not found): the runtimes apply when it starts",
            a.pid_file.display()
        );
    };
    let proc = layout.local(Path::new(&format!("/proc/{pid}")));
    let comm = std::fs::read_to_string(proc.join("comm")).unwrap_or_default();
    if comm.trim() != "dockerd" {
        return format!(
            "dockerd is not running (pid {pid} from {} is gone): the runtimes apply when it starts",
            a.pid_file.display()
        );
    }
    let mut out = String::new();
    let cmdline = std::fs::read(proc.join("cmdline")).unwrap_or_default();
    let reads = dockerd_config_file(&cmdline);
    if reads != a.daemon_json {
        out.push_str(&format!(
            "warning: dockerd (pid {pid}) reads {}, not {}; pass --daemon-json {}\n  ",
            reads.display(),
            a.daemon_json.display(),
            reads.display()
        ));
    }
    match nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    ) {
        Ok(()) => out.push_str(&format!(
            "reloaded dockerd (pid {pid}, SIGHUP); `docker info` lists the runtimes"
        )),
        Err(e) => out.push_str(&format!(
            "could not signal dockerd (pid {pid}): {e}; send it SIGHUP to apply"
        )),
    }
    out
}

/// The `--config-file` a dockerd command line names (default /etc/docker/daemon.json).
fn dockerd_config_file(cmdline: &[u8]) -> PathBuf {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    for (i, a) in args.iter().enumerate() {
        let a = String::from_utf8_lossy(a);
        for flag in ["--config-file", "-config-file"] {
            if a == flag
                && let Some(v) = args.get(i + 1)
            {
                return PathBuf::from(String::from_utf8_lossy(v).into_owned());
            }
            if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
                return PathBuf::from(v);
            }
        }
    }
    PathBuf::from(DEFAULT_DAEMON_JSON)
}

// --------------------------------------------------------------------------- containerd

/// One CRI runtime handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Handler {
    pub name: String,
    pub binary: PathBuf,
}

/// The CRI plugin's name in a config of this version (1 = containerd 1.x default,
/// 2 = containerd 1.x `version = 2`, 3 = containerd 2.x).
fn cri_plugin(version: i64) -> Result<&'static str> {
    Ok(match version {
        1 => "cri",
        2 => "io.containerd.grpc.v1.cri",
        3 => "io.containerd.cri.v1.runtime",
        v => {
            bail!("its `version = {v}` is not a containerd config version Rampart knows (1, 2, 3)")
        }
    })
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        k.to_string()
    } else {
        toml::Value::String(k.to_string()).to_string()
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The runtime table Rampart writes for one handler.
pub fn cri_entry(h: &Handler, runc_root: &Path, systemd_cgroup: bool) -> toml::Table {
    let mut options = toml::Table::new();
    options.insert("BinaryName".into(), h.binary.display().to_string().into());
    options.insert("Root".into(), runc_root.display().to_string().into());
    options.insert("SystemdCgroup".into(), systemd_cgroup.into());
    let annotations = toml::Value::Array(vec![PROFILE_ANNOTATION.into(), WAIVE_ANNOTATION.into()]);
    let mut t = toml::Table::new();
    t.insert("runtime_type".into(), "io.containerd.runc.v2".into());
    t.insert("pod_annotations".into(), annotations.clone());
    t.insert("container_annotations".into(), annotations);
    t.insert("options".into(), toml::Value::Table(options));
    t
}

/// The marked block of TOML text for `handlers`.
pub fn containerd_block(
    version: i64,
    handlers: &[Handler],
    runc_root: &Path,
    systemd_cgroup: bool,
) -> Result<String> {
    let prefix = format!(
        "plugins.{}.containerd.runtimes",
        toml_key(cri_plugin(version)?)
    );
    let mut s = format!("{BLOCK_BEGIN}\n");
    for h in handlers {
        let base = format!("{prefix}.{}", toml_key(&h.name));
        let annotations = format!(
            "[{}, {}]",
            toml_str(PROFILE_ANNOTATION),
            toml_str(WAIVE_ANNOTATION)
        );
        s.push_str(&format!(
            "[{base}]\n  runtime_type = \"io.containerd.runc.v2\"\n  pod_annotations = {annotations}\n  container_annotations = {annotations}\n\
             [{base}.options]\n  BinaryName = {}\n  Root = {}\n  SystemdCgroup = {systemd_cgroup}\n",
            toml_str(&h.binary.display().to_string()),
            toml_str(&runc_root.display().to_string()),
        ));
    }
    s.push_str(&format!("{BLOCK_END}\n"));
    Ok(s)
}

/// Removes Rampart's marked block from config.toml text. Refuses a block whose markers were
/// edited (one without the other, or more than one).
pub fn strip_block(text: &str) -> Result<(String, bool)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let begins: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_end().starts_with("# BEGIN rampart"))
        .collect();
    let ends: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_end() == BLOCK_END)
        .collect();
    match (begins.as_slice(), ends.as_slice()) {
        ([], []) => Ok((text.to_string(), false)),
        ([b], [e]) if b < e => {
            let mut out: String = lines[..*b].concat();
            out.push_str(&lines[e + 1..].concat());
            // The blank line install puts before the block goes with it.
            if out.ends_with("\n\n") && *e + 1 == lines.len() {
                out.pop();
            }
            Ok((out, true))
        }
        _ => bail!(
            "its Rampart block was edited by hand (the `# BEGIN rampart` and `{BLOCK_END}` lines must each appear once, in that order)"
        ),
    }
}

fn sub_table<'a>(t: &'a toml::Table, path: &[&str]) -> Result<Option<&'a toml::Table>> {
    let mut cur = t;
    for (i, k) in path.iter().enumerate() {
        match cur.get(*k) {
            None => return Ok(None),
            Some(toml::Value::Table(next)) => cur = next,
            Some(_) => bail!("its {} is not a table", path[..=i].join(".")),
        }
    }
    Ok(Some(cur))
}

/// The config version: the `version` key, 1 when absent (as containerd reads it).
fn config_version(t: &toml::Table) -> Result<i64> {
    match t.get("version") {
        None => Ok(1),
        Some(toml::Value::Integer(v)) => Ok(*v),
        Some(_) => bail!("its `version` is not an integer"),
    }
}

/// The result of merging Rampart's handlers into config.toml text.
#[derive(Debug, PartialEq)]
pub struct ContainerdMerge {
    pub text: String,
    pub notes: Vec<String>,
    /// The block alone, for `--print`.
    pub block: String,
}

/// Merges the handlers into config.toml `text` (None or empty: a new version 2 config).
/// Existing text is kept byte for byte; Rampart's block is appended (or replaced). The
/// result is parsed again and must equal the old config plus exactly the new handlers.
pub fn containerd_install(
    text: Option<&str>,
    handlers: &[Handler],
    runc_root: &Path,
) -> Result<ContainerdMerge> {
    let original = text.unwrap_or("");
    let (base_text, had_block) = strip_block(original)?;
    let base: toml::Table = toml::from_str(&base_text).context("it is not valid TOML")?;
    let fresh = base_text.trim().is_empty();
    let version = if fresh { 2 } else { config_version(&base)? };
    let plugin = cri_plugin(version)?;
    let rt_path = ["plugins", plugin, "containerd", "runtimes"];
    let runtimes = sub_table(&base, &rt_path)?;
    let mut notes = Vec::new();
    let systemd = match runtimes.and_then(|r| r.get("runc")) {
        Some(runc) => {
            let v = runc
                .get("options")
                .and_then(|o| o.get("SystemdCgroup"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            notes.push(format!("SystemdCgroup = {v}, as in the runc runtime"));
            v
        }
        None => {
            notes.push("SystemdCgroup = false (no runc runtime to copy it from)".into());
            false
        }
    };
    let mut write = Vec::new();
    let mut expected = base.clone();
    for h in handlers {
        let entry = cri_entry(h, runc_root, systemd);
        match runtimes.and_then(|r| r.get(&h.name)) {
            Some(toml::Value::Table(cur)) if *cur == entry => {
                notes.push(format!(
                    "runtime {} is already there (outside Rampart's block): left as it is",
                    h.name
                ));
            }
            Some(cur) => bail!(
                "it already has a runtime {:?} outside Rampart's block that differs from what Rampart would write ({}); \
                 it was written by hand: remove it, or change it to match `rampart install containerd --print`",
                h.name,
                cur.to_string().replace('\n', " ")
            ),
            None => {
                write.push(h.clone());
                let t = table_at(&mut expected, &rt_path)?;
                t.insert(h.name.clone(), toml::Value::Table(entry));
                notes.push(format!(
                    "runtime handler {} -> {}",
                    h.name,
                    h.binary.display()
                ));
            }
        }
    }
    let block = containerd_block(version, &write, runc_root, systemd)?;
    let mut out = if fresh {
        "version = 2\n".to_string()
    } else {
        base_text.clone()
    };
    if fresh {
        expected.insert("version".into(), 2.into());
    }
    if !write.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&block);
    }
    let reparsed: toml::Table = toml::from_str(&out).map_err(|e| {
        anyhow::anyhow!(
            "Rampart's entries cannot be appended to it without rewriting the admin's text ({}); \
             paste the output of `rampart install containerd --print` by hand",
            e.message()
        )
    })?;
    if reparsed != expected {
        bail!(
            "appending Rampart's entries would change more than Rampart's runtimes (runtimes defined inline?); \
             paste the output of `rampart install containerd --print` by hand"
        );
    }
    if had_block && out != original {
        notes.push("replaced Rampart's previous block".into());
    }
    Ok(ContainerdMerge {
        text: out,
        notes,
        block,
    })
}

fn table_at<'a>(t: &'a mut toml::Table, path: &[&str]) -> Result<&'a mut toml::Table> {
    let mut cur = t;
    for k in path {
        cur = cur
            .entry(k.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("its {k} is not a table"))?;
    }
    Ok(cur)
}

/// Removes Rampart's block; the rest of the text stays byte for byte.
pub fn containerd_uninstall(text: &str) -> Result<(String, Vec<String>)> {
    let (out, had) = strip_block(text)?;
    let t: toml::Table = toml::from_str(&out).context("it is not valid TOML")?;
    let mut notes = Vec::new();
    if had {
        notes.push("removed Rampart's block".into());
    }
    let version = config_version(&t)?;
    if let Ok(Some(rts)) = sub_table(
        &t,
        &["plugins", cri_plugin(version)?, "containerd", "runtimes"],
    ) {
        for name in rts.keys().filter(|n| n.starts_with("rampart")) {
            notes.push(format!(
                "left runtime {name} alone: it is outside Rampart's block (written by hand)"
            ));
        }
    }
    Ok((out, notes))
}

fn handlers(layout: &Layout, profiles: &[String]) -> Vec<Handler> {
    runtime_names(profiles)
        .into_iter()
        .map(|r| Handler {
            name: r.name,
            binary: layout.link(&r.profile),
        })
        .collect()
}

fn install_containerd(inv: &Invocation, host: &dyn Host, a: &ContainerdArgs) -> Result<String> {
    let layout = Layout::new(&a.common, host)?;
    let (profiles, warnings) = profiles(inv, &layout)?;
    let mut out = String::new();
    let mut notes = warnings;
    if let Some(c) = &inv.rampart.config {
        notes.push(format!(
            "note: containerd passes no arguments to a runtime, so Rampart run by containerd reads {} (not {}): only the profile comes from the link's name",
            config::DEFAULT_PATH,
            c.display()
        ));
    }
    let handlers = handlers(&layout, &profiles);
    let path = layout.local(&a.config);
    let text = read_optional(&path)?;
    let merged = containerd_install(
        if a.print { None } else { text.as_deref() },
        &handlers,
        &a.runc_root,
    )
    .with_context(|| {
        format!(
            "cannot install Rampart in {}: nothing was changed",
            a.config.display()
        )
    })?;
    if a.print {
        let target = layout.link_target();
        out.push_str(&format!(
            "# Rampart's CRI runtime handlers for {} (containerd 1.x, `version = 2`).\n\
             # Each BinaryName is a link to Rampart whose name selects the profile:\n",
            a.config.display()
        ));
        for p in &profiles {
            out.push_str(&format!(
                "#   ln -s {} {}\n",
                target.display(),
                layout.link(p).display()
            ));
        }
        out.push_str("# Then restart containerd.\n");
        out.push_str(&merged.block);
        for n in &notes {
            eprintln!("{n}");
        }
        return Ok(out);
    }
    out.push_str(&format!(
        "rampart install containerd: {}\n",
        a.config.display()
    ));
    let link_notes = make_links(&layout, &profiles, a.common.dry_run)?;
    let changed = text.as_deref() != Some(merged.text.as_str());
    for n in merged.notes.iter().chain(&link_notes).chain(&notes) {
        out.push_str(&format!("  {n}\n"));
    }
    if !changed {
        out.push_str("  handlers already installed: nothing changed\n");
        return Ok(out);
    }
    out.push_str(&finish_containerd(
        &path,
        &merged.text,
        a.common.dry_run,
        host,
    )?);
    Ok(out)
}

fn uninstall_containerd(host: &dyn Host, a: &ContainerdArgs) -> Result<String> {
    let layout = Layout::new(&a.common, host)?;
    let path = layout.local(&a.config);
    let mut out = format!("rampart uninstall containerd: {}\n", a.config.display());
    let link_notes = if a.remove_links {
        remove_links(
            &layout,
            a.common.dry_run,
            &other_registrations(&layout, "containerd"),
        )?
    } else {
        vec![]
    };
    let Some(text) = read_optional(&path)? else {
        out.push_str("  no such file: nothing changed\n");
        return Ok(out);
    };
    let (new, notes) = containerd_uninstall(&text).with_context(|| {
        format!(
            "cannot uninstall Rampart from {}: nothing was changed",
            a.config.display()
        )
    })?;
    for n in notes.iter().chain(&link_notes) {
        out.push_str(&format!("  {n}\n"));
    }
    if new == text {
        out.push_str("  no Rampart block found: nothing changed\n");
        return Ok(out);
    }
    out.push_str(&finish_containerd(&path, &new, a.common.dry_run, host)?);
    Ok(out)
}

fn finish_containerd(path: &Path, text: &str, dry_run: bool, host: &dyn Host) -> Result<String> {
    if dry_run {
        return Ok(format!(
            "  dry run: nothing written; config.toml would be:\n{text}"
        ));
    }
    let mut out = String::new();
    match write_with_backup(path, text.as_bytes(), host)? {
        Some(b) => out.push_str(&format!("  backup of the previous file: {}\n", b.display())),
        None => out.push_str("  created the file\n"),
    }
    out.push_str("  restart containerd to apply (it reads config.toml only at start)\n");
    Ok(out)
}

// ------------------------------------------------------------------ crio, podman drop-ins

/// The first line of every drop-in Rampart writes: a file without it is not Rampart's.
pub const DROPIN_HEADER: &str = "# Written by `rampart install";

/// The whole drop-in for `engine` (`crio` or `podman`): one runtime per profile, each the
/// `rampart-NAME` link whose name selects the profile (neither engine passes arguments).
pub fn dropin_text(engine: &str, names: &[(String, PathBuf)]) -> String {
    let mut out = format!(
        "{DROPIN_HEADER} {engine}`; `rampart uninstall {engine}` removes this file.\n\
         # Each runtime is a link to Rampart whose name selects the profile.\n"
    );
    match engine {
        "crio" => {
            for (name, link) in names {
                out.push_str(&format!(
                    "\n[crio.runtime.runtimes.{}]\nruntime_path = {}\nruntime_type = \"oci\"\n",
                    toml_key(name),
                    toml_str(&link.display().to_string())
                ));
            }
        }
        _ => {
            out.push_str("\n[engine.runtimes]\n");
            for (name, link) in names {
                out.push_str(&format!(
                    "{} = [{}]\n",
                    toml_key(name),
                    toml_str(&link.display().to_string())
                ));
            }
        }
    }
    out
}

fn dropin_names(layout: &Layout, profiles: &[String]) -> Vec<(String, PathBuf)> {
    runtime_names(profiles)
        .into_iter()
        .map(|r| (r.name, layout.link(&r.profile)))
        .collect()
}

fn install_dropin<P: DropinPath>(
    inv: &Invocation,
    host: &dyn Host,
    a: &DropinArgs<P>,
) -> Result<String> {
    let layout = Layout::new(&a.common, host)?;
    let (profiles, warnings) = profiles(inv, &layout)?;
    let path = layout.local(&a.file);
    let text = dropin_text(P::ENGINE, &dropin_names(&layout, &profiles));
    toml::from_str::<toml::Table>(&text).context("internal error: the drop-in is not TOML")?;
    let old = read_optional(&path)?;
    if let Some(old) = &old
        && !old.starts_with(DROPIN_HEADER)
    {
        bail!(
            "{} exists and was not written by Rampart; move it away or pass --file. Nothing was changed.",
            a.file.display()
        );
    }
    let mut out = format!("rampart install {}: {}\n", P::ENGINE, a.file.display());
    let link_notes = make_links(&layout, &profiles, a.common.dry_run)?;
    for n in link_notes.iter().chain(&warnings) {
        out.push_str(&format!("  {n}\n"));
    }
    if old.as_deref() == Some(text.as_str()) {
        out.push_str("  runtimes already installed: nothing changed\n");
        return Ok(out);
    }
    if a.common.dry_run {
        out.push_str(&format!(
            "  dry run: nothing written; the file would be:\n{text}"
        ));
        return Ok(out);
    }
    match write_with_backup(&path, text.as_bytes(), host)? {
        Some(b) => out.push_str(&format!("  backup of the previous file: {}\n", b.display())),
        None => out.push_str("  created the file\n"),
    }
    out.push_str(match P::ENGINE {
        "crio" => "  restart crio to apply (systemctl restart crio)\n",
        _ => "  podman reads it at its next command\n",
    });
    Ok(out)
}

fn uninstall_dropin<P: DropinPath>(host: &dyn Host, a: &DropinArgs<P>) -> Result<String> {
    let layout = Layout::new(&a.common, host)?;
    let path = layout.local(&a.file);
    let mut out = format!("rampart uninstall {}: {}\n", P::ENGINE, a.file.display());
    let link_notes = if a.remove_links {
        remove_links(
            &layout,
            a.common.dry_run,
            &other_registrations(&layout, P::ENGINE),
        )?
    } else {
        vec![]
    };
    for n in &link_notes {
        out.push_str(&format!("  {n}\n"));
    }
    match read_optional(&path)? {
        None => out.push_str("  no such file: nothing changed\n"),
        Some(old) if !old.starts_with(DROPIN_HEADER) => bail!(
            "{} was not written by Rampart; left as it is",
            a.file.display()
        ),
        Some(_) if a.common.dry_run => out.push_str("  dry run: the file would be removed\n"),
        Some(_) => {
            // Backed up, then removed.
            let backup = write_with_backup(&path, &std::fs::read(&path)?, host)?;
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", a.file.display()))?;
            if let Some(b) = backup {
                out.push_str(&format!("  removed; backup: {}\n", b.display()));
            }
            if P::ENGINE == "crio" {
                out.push_str("  restart crio to apply\n");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropins_are_toml_with_one_runtime_per_profile() {
        let names = vec![
            (
                "rampart".to_string(),
                PathBuf::from("/usr/local/bin/rampart-restricted"),
            ),
            (
                "rampart-baseline".to_string(),
                PathBuf::from("/usr/local/bin/rampart-baseline"),
            ),
        ];
        let crio: toml::Table = toml::from_str(&dropin_text("crio", &names)).unwrap();
        let rt = &crio["crio"]["runtime"]["runtimes"];
        assert_eq!(
            rt["rampart-baseline"]["runtime_path"].as_str(),
            Some("/usr/local/bin/rampart-baseline")
        );
        assert_eq!(rt["rampart"]["runtime_type"].as_str(), Some("oci"));
        let podman: toml::Table = toml::from_str(&dropin_text("podman", &names)).unwrap();
        assert_eq!(
            podman["engine"]["runtimes"]["rampart"][0].as_str(),
            Some("/usr/local/bin/rampart-restricted")
        );
        assert!(dropin_text("podman", &names).starts_with(DROPIN_HEADER));
    }

    fn wanted(binary: &str, config: Option<&str>) -> Vec<(String, Value)> {
        runtime_names(&["baseline".into(), "restricted".into(), "web".into()])
            .into_iter()
            .map(|r| {
                let e = docker_entry(Path::new(binary), &r.profile, config.map(Path::new));
                (r.name, e)
            })
            .collect()
    }

    #[test]
    fn learning_runtimes_pass_the_learn_profile() {
        let rts = learn_runtimes(Path::new("/usr/bin/rampart"), &["nginx".into()], None).unwrap();
        assert_eq!(rts[0].0, "rampart-learn-nginx");
        assert_eq!(
            rts[0].1,
            json!({"path": "/usr/bin/rampart", "runtimeArgs": ["--rampart-profile", "learn:nginx"]})
        );
        assert!(learn_runtimes(Path::new("/r"), &["../x".into()], None).is_err());
    }

    #[test]
    fn runtime_names_map_restricted_to_rampart() {
        let names = runtime_names(&["web".into(), "restricted".into(), "baseline".into()]);
        let pairs: Vec<(&str, &str)> = names
            .iter()
            .map(|r| (r.name.as_str(), r.profile.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("rampart", "restricted"),
                ("rampart-baseline", "baseline"),
                ("rampart-web", "web")
            ]
        );
    }

    const DAEMON: &str = r#"{
  "log-level": "info",
  "runtimes": { "custom": { "path": "/opt/custom-runc" } },
  "storage-driver": "overlay2"
}"#;

    #[test]
    fn docker_install_keeps_other_keys_and_order_and_is_idempotent() {
        let doc = parse_daemon_json(DAEMON).unwrap();
        let w = wanted("/usr/local/bin/rampart", None);
        let (doc, notes) = docker_install(doc, &w, None, false).unwrap();
        assert_eq!(notes.len(), 3, "{notes:?}");
        let keys: Vec<&String> = doc.keys().collect();
        assert_eq!(keys, ["log-level", "runtimes", "storage-driver"]);
        let rts = doc["runtimes"].as_object().unwrap();
        assert_eq!(rts["custom"], json!({"path": "/opt/custom-runc"}));
        assert_eq!(
            rts["rampart"],
            json!({"path": "/usr/local/bin/rampart", "runtimeArgs": ["--rampart-profile", "restricted"]})
        );
        assert_eq!(
            rts["rampart-baseline"]["runtimeArgs"],
            json!(["--rampart-profile", "baseline"])
        );
        assert!(!doc.contains_key("default-runtime"));
        let (again, notes) = docker_install(doc.clone(), &w, None, false).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(again, doc);
    }

    #[test]
    fn docker_install_passes_the_config_file_and_sets_default_runtime() {
        let w = wanted("/b/rampart", Some("/etc/r.toml"));
        let (doc, notes) = docker_install(Map::new(), &w, Some("rampart"), false).unwrap();
        assert_eq!(doc["default-runtime"], "rampart");
        assert!(notes.iter().any(|n| n.contains("default-runtime")));
        assert_eq!(
            doc["runtimes"]["rampart-web"]["runtimeArgs"],
            json!(["--rampart-profile", "web", "--rampart-config=/etc/r.toml"])
        );
    }

    #[test]
    fn docker_install_refuses_broken_and_hand_edited_files() {
        for (text, why) in [
            ("{\"runtimes\": {", "not valid JSON"),
            ("[1, 2]", "not an object"),
            ("{\"runtimes\": []}", "\"runtimes\" is not an object"),
            (
                "{\"runtimes\": {\"x\": 1}}",
                "runtime \"x\" is not an object",
            ),
            (
                "{\"default-runtime\": 3}",
                "\"default-runtime\" is not a string",
            ),
        ] {
            let e = parse_daemon_json(text).unwrap_err();
            assert!(format!("{e:#}").contains(why), "{text}: {e:#}");
        }
        assert!(parse_daemon_json(" \n").unwrap().is_empty());
        let hand = parse_daemon_json(
            r#"{"runtimes": {"rampart": {"path": "/usr/local/bin/rampart", "runtimeArgs": ["--rampart-runtime", "/opt/runc"]}}}"#,
        )
        .unwrap();
        let w = wanted("/usr/local/bin/rampart", None);
        let e = docker_install(hand.clone(), &w, None, false).unwrap_err();
        assert!(
            format!("{e:#}").contains("already has a runtime \"rampart\" that differs"),
            "{e:#}"
        );
        let (forced, notes) = docker_install(hand, &w, None, true).unwrap();
        assert_eq!(forced["runtimes"]["rampart"], w[0].1);
        assert!(notes[0].starts_with("replaced runtime rampart"));
    }

    #[test]
    fn docker_uninstall_round_trip_restores_the_original() {
        let original = parse_daemon_json(DAEMON).unwrap();
        let w = wanted("/usr/local/bin/rampart", None);
        let (installed, _) = docker_install(original.clone(), &w, None, false).unwrap();
        let ours = |p: &Path| p == Path::new("/usr/local/bin/rampart");
        let (back, notes) = docker_uninstall(installed, &ours).unwrap();
        assert_eq!(back, original);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert_eq!(
            render_json(back).unwrap(),
            render_json(parse_daemon_json(DAEMON).unwrap()).unwrap()
        );

        // From nothing: back to an empty object, default-runtime back to runc.
        let (installed, _) = docker_install(Map::new(), &w, Some("rampart"), false).unwrap();
        let (back, notes) = docker_uninstall(installed, &ours).unwrap();
        assert_eq!(Value::Object(back), json!({"default-runtime": "runc"}));
        assert!(notes.contains(&"default-runtime: rampart -> runc".to_string()));
    }

    #[test]
    fn docker_uninstall_leaves_foreign_rampart_named_runtimes() {
        let doc = parse_daemon_json(
            r#"{"runtimes": {"rampart-x": {"path": "/opt/other"}, "rampart": {"path": "/usr/local/bin/rampart"}}, "default-runtime": "rampart-x"}"#,
        )
        .unwrap();
        let (out, notes) =
            docker_uninstall(doc, &|p: &Path| p == Path::new("/usr/local/bin/rampart")).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"runtimes": {"rampart-x": {"path": "/opt/other"}}, "default-runtime": "rampart-x"})
        );
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("left runtime rampart-x"))
        );
    }

    #[test]
    fn dockerd_config_file_is_read_from_its_command_line() {
        assert_eq!(
            dockerd_config_file(b"dockerd\0--config-file\0/d/daemon.json\0-H\0unix:///x\0"),
            Path::new("/d/daemon.json")
        );
        assert_eq!(
            dockerd_config_file(b"dockerd\0--config-file=/e.json\0"),
            Path::new("/e.json")
        );
        assert_eq!(
            dockerd_config_file(b"/usr/sbin/dockerd\0"),
            Path::new(DEFAULT_DAEMON_JSON)
        );
    }

    fn handlers() -> Vec<Handler> {
        runtime_names(&["baseline".into(), "restricted".into()])
            .into_iter()
            .map(|r| Handler {
                binary: PathBuf::from(format!("/usr/local/bin/{}", link_name(&r.profile))),
                name: r.name,
            })
            .collect()
    }

    const CONTAINERD: &str = r#"# the admin's comment survives
version = 2
root = "/var/lib/containerd"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"   # trailing comment

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
"#;

    fn runtimes(text: &str) -> toml::Table {
        let t: toml::Table = toml::from_str(text).unwrap();
        t["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
            .as_table()
            .unwrap()
            .clone()
    }

    #[test]
    fn containerd_install_appends_a_block_and_keeps_the_text() {
        let m = containerd_install(Some(CONTAINERD), &handlers(), Path::new(DEFAULT_RUNC_ROOT))
            .unwrap();
        assert!(m.text.starts_with(CONTAINERD), "{}", m.text);
        let rts = runtimes(&m.text);
        let r = rts["rampart"].as_table().unwrap();
        assert_eq!(r["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
        assert_eq!(
            r["pod_annotations"].as_array().unwrap()[0].as_str(),
            Some(PROFILE_ANNOTATION)
        );
        assert_eq!(
            r["container_annotations"].as_array().unwrap()[0].as_str(),
            Some(PROFILE_ANNOTATION)
        );
        let o = r["options"].as_table().unwrap();
        assert_eq!(
            o["BinaryName"].as_str(),
            Some("/usr/local/bin/rampart-restricted")
        );
        assert_eq!(o["Root"].as_str(), Some(DEFAULT_RUNC_ROOT));
        assert_eq!(o["SystemdCgroup"].as_bool(), Some(true), "copied from runc");
        assert_eq!(
            rts["rampart-baseline"]["options"]["BinaryName"].as_str(),
            Some("/usr/local/bin/rampart-baseline")
        );
        assert!(rts.contains_key("runc"));
        // Idempotent: a second install gives the same text.
        let again =
            containerd_install(Some(&m.text), &handlers(), Path::new(DEFAULT_RUNC_ROOT)).unwrap();
        assert_eq!(again.text, m.text);
    }

    #[test]
    fn containerd_uninstall_round_trip_is_byte_for_byte() {
        for original in [CONTAINERD, "version = 2\n", "version = 2\n\n"] {
            let m = containerd_install(Some(original), &handlers(), Path::new("/r")).unwrap();
            let (back, notes) = containerd_uninstall(&m.text).unwrap();
            assert_eq!(back, original);
            assert_eq!(notes, ["removed Rampart's block"]);
        }
        // Only a missing final newline is not given back.
        let m = containerd_install(Some("version = 2"), &handlers(), Path::new("/r")).unwrap();
        assert_eq!(containerd_uninstall(&m.text).unwrap().0, "version = 2\n");
    }

    #[test]
    fn containerd_install_on_nothing_writes_a_version_2_config() {
        let m = containerd_install(None, &handlers(), Path::new("/r")).unwrap();
        assert!(m.text.starts_with("version = 2\n"));
        let rts = runtimes(&m.text);
        assert_eq!(rts.len(), 2);
        assert_eq!(
            rts["rampart"]["options"]["SystemdCgroup"].as_bool(),
            Some(false)
        );
        let m1 = containerd_install(Some("[plugins.cri]\n"), &handlers(), Path::new("/r")).unwrap();
        let t: toml::Table = toml::from_str(&m1.text).unwrap();
        assert!(t["plugins"]["cri"]["containerd"]["runtimes"]["rampart"].is_table());
    }

    #[test]
    fn containerd_install_refuses_broken_and_hand_edited_files() {
        let h = handlers();
        let root = Path::new("/r");
        let cases = [
            ("version = 2\n[plugins\n", "not valid TOML"),
            ("version = \"2\"\n", "`version` is not an integer"),
            ("version = 9\n", "`version = 9`"),
            (
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\ncontainerd = 5\n",
                "is not a table",
            ),
            (
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes = { runc = { runtime_type = \"io.containerd.runc.v2\" } }\n",
                "paste the output of `rampart install containerd --print`",
            ),
            (
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.rampart]\nruntime_type = \"io.containerd.runc.v2\"\n",
                "already has a runtime \"rampart\" outside Rampart's block",
            ),
            (&format!("version = 2\n{BLOCK_BEGIN}\n"), "edited by hand"),
        ];
        for (text, why) in cases {
            let e = containerd_install(Some(text), &h, root).unwrap_err();
            assert!(format!("{e:#}").contains(why), "{text}: {e:#}");
        }
        assert!(containerd_uninstall("version = 2\n# END rampart\n").is_err());
    }

    #[test]
    fn containerd_keys_that_need_quotes_are_quoted() {
        let h = [Handler {
            name: "rampart-web.v2".into(),
            binary: "/b/rampart-web.v2".into(),
        }];
        let m = containerd_install(Some("version = 2\n"), &h, Path::new("/r")).unwrap();
        assert!(
            m.text.contains("runtimes.\"rampart-web.v2\"]"),
            "{}",
            m.text
        );
        assert!(runtimes(&m.text).contains_key("rampart-web.v2"));
    }
}
