//! One invocation, start to finish: parse argv → settings → (create/run: load the bundle,
//! harden, write, audit) | (exec: clamp the process) → exec the real runtime with the
//! original argv minus Rampart's options. Nothing is printed on success: during `create`
//! stdout and stderr belong to the container.

use crate::argv::{self, CommandArgs, Invocation};
use crate::audit::{self, Record};
use crate::bundle;
use crate::change::Change;
use crate::errors;
use crate::host::{Host, HostFacts};
use crate::policy::{self, PolicyContext, Violation};
use crate::profile::{Mode, Profile};
use crate::settings::Settings;
use crate::spec::Spec;
use crate::steps::{self, Context};
use anyhow::{Context as _, Result};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Exit status when Rampart refuses or fails before the runtime runs (runc uses 1 too).
pub const EXIT_FAILURE: i32 = 1;

/// Runs Rampart; returns only when it could not exec the runtime.
pub fn main(host: &dyn Host, argv: Vec<OsString>) -> i32 {
    let lenient_global = argv::lenient_global(&argv);
    let inv = match argv::parse(argv) {
        Ok(inv) => inv,
        Err(e) => return fail(host, &lenient_global, &e),
    };
    if let Some(code) = crate::admin::dispatch(&inv, host) {
        return code;
    }
    let err = match prepare(&inv, host) {
        // A pod's network namespace, entered last: runc inherits it (see `netns`).
        Ok((runtime, args)) => match crate::netns::take().map(|ns| host.enter_netns(&ns)) {
            Some(Err(e)) => e,
            _ => host.exec(&runtime, &args),
        },
        Err(e) => e,
    };
    fail(host, &inv.global, &err)
}

fn fail(host: &dyn Host, global: &argv::GlobalArgs, err: &anyhow::Error) -> i32 {
    let msg = errors::message(err);
    // podman (through conmon, which passes no --log) puts the runtime's name before what it
    // wrote on stderr: "rampart: rampart: ..." without this.
    let named_by_engine = global.log.is_none() && host.parent_name().as_deref() == Some("conmon");
    let msg = match msg.strip_prefix("rampart: ") {
        Some(rest) if named_by_engine => rest,
        _ => &msg,
    };
    errors::report(global, host.now(), msg);
    EXIT_FAILURE
}

/// Everything before exec: returns the runtime and the argv to hand it.
pub fn prepare(inv: &Invocation, host: &dyn Host) -> Result<(PathBuf, Vec<OsString>)> {
    let mut trace = crate::debug::Trace::new();
    let settings = Settings::resolve(inv, host)?;
    trace.mark("settings");
    let debug_log = settings.debug_log.clone();
    if debug_log.is_some() {
        crate::debug::record_parts();
    }
    let result = prepare_with(inv, host, settings);
    if let Some(path) = &debug_log {
        trace.mark(
            inv.command
                .as_ref()
                .map_or("other", |c| match c.name.as_str() {
                    "create" | "run" => "harden",
                    "exec" => "clamp",
                    "update" => "judge",
                    _ => "other",
                }),
        );
        let decision = match &result {
            Ok((runtime, _)) => format!("exec {}", runtime.display()),
            Err(e) => format!("refused or failed: {}", crate::errors::message(e)),
        };
        let mut argv = vec![OsString::from("rampart")];
        argv.extend(inv.runtime_args.iter().cloned());
        crate::debug::append(
            path,
            &crate::host::rfc3339(host.now()),
            &argv,
            host.parent_name().as_deref(),
            &trace,
            &decision,
        );
    }
    result
}

fn prepare_with(
    inv: &Invocation,
    host: &dyn Host,
    settings: Settings,
) -> Result<(PathBuf, Vec<OsString>)> {
    let mut args = inv.runtime_args.clone();
    let mut stdin = None;
    match &inv.command {
        Some(cmd) if cmd.runs() && (cmd.name == "create" || cmd.name == "run") => {
            if let Some(dir) = harden_bundle(cmd, inv.global.root.as_deref(), &settings, host)? {
                args = pass_bundle(args, cmd, dir)?;
            }
        }
        Some(cmd) if cmd.runs() && cmd.name == "exec" => {
            let (drop, process) = clamp_exec(inv, cmd, &settings, host)?;
            if let Some((tokens, held)) = process {
                crate::handoff::replace_value(&mut args, &tokens, &held);
            }
            args = args
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !drop.iter().any(|r| r.contains(i)))
                .map(|(_, a)| a)
                .collect();
        }
        Some(cmd) if cmd.runs() && cmd.name == "delete" => {
            // The clones staged for a user namespace go with the container.
            if let Some(id) = cmd.id.as_deref() {
                let force = cmd
                    .flags
                    .iter()
                    .any(|f| f.name == "force" && f.value.as_deref() != Some("false".as_ref()));
                crate::stage::on_delete(inv.global.root.as_deref(), id, force);
            }
        }
        Some(cmd) if cmd.runs() && cmd.name == "update" => {
            match crate::update::check(inv, cmd, &settings, host)? {
                Some(crate::update::Judged::Stdin(bytes)) => stdin = Some(bytes),
                Some(crate::update::Judged::File(bytes)) => {
                    // runc reads the judged document, not the path again (src/handoff.rs).
                    if let Some(u) = cmd.uses("resources").last() {
                        let held = crate::handoff::sealed("update resources", &bytes, 3)?;
                        crate::handoff::replace_value(&mut args, &u.tokens, &held);
                    }
                }
                None => {}
            }
        }
        Some(cmd) if cmd.runs() && cmd.name == "restore" => {
            if let Some(dir) = crate::restore::check(inv, cmd, &settings, host)? {
                args = pass_bundle(args, cmd, dir)?;
            }
        }
        _ => {}
    }
    if let Some(bytes) = stdin {
        // runc reads exactly the bytes Rampart judged.
        host.replace_stdin(&bytes)?;
    }
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(settings.runtime.clone().into_os_string());
    argv.extend(args);
    Ok((settings.runtime, argv))
}

/// Points the runtime at the directory Rampart judged: the value of `--bundle`/`-b` becomes
/// `/proc/self/fd/N` for the descriptor Rampart holds (runc chdirs there, and records
/// getcwd's real path as the bundle). Nothing else in argv changes.
fn pass_bundle(
    mut args: Vec<OsString>,
    cmd: &CommandArgs,
    dir: bundle::BundleDir,
) -> Result<Vec<OsString>> {
    let Some(tokens) = cmd.bundle_tokens.clone() else {
        return Ok(args);
    };
    let fd = dir.into_inherited(3 + cmd.preserve_fds.unwrap_or(0))?;
    let held = OsString::from(format!("/proc/self/fd/{fd}"));
    crate::handoff::replace_value(&mut args, &tokens.collect::<Vec<_>>(), &held);
    Ok(args)
}

/// What `create` will do with one config.json: the profile chosen, the refusals, the
/// hardened spec and its changes. Computed without writing anything, and shared by
/// `create` and `explain`, so what `explain` shows is what `create` does.
pub struct Plan {
    pub profile: String,
    pub mode: Mode,
    pub spec: Spec,
    pub changes: Vec<Change>,
    pub refusals: Vec<Violation>,
    pub notes: Vec<String>,
    /// Clones to stage before runc runs (a user namespace without fix_traversal), with the
    /// mapping they are id-mapped to.
    pub staging: Option<(crate::stage::Staging, crate::idmap::Mapping)>,
    /// A host-owned network namespace (path, inode) Rampart enters before runc (`netns`).
    pub enter_net: Option<(String, u64)>,
    /// `learn:NAME`: the recording's name (see [`crate::record`]).
    pub learning: Option<String>,
}

impl Plan {
    pub fn outcome(&self) -> &'static str {
        match self.mode {
            Mode::Enforce if self.refusals.is_empty() && self.learning.is_some() => "learning",
            Mode::Enforce if self.refusals.is_empty() => "hardened",
            Mode::Enforce => "refused",
            Mode::Complain => "complain",
            Mode::Off => "off",
        }
    }
}

/// [`plan_container`] for a config.json named by path (`explain`, `audit`): read under the
/// same rules as `create` reads it.
pub fn plan_spec(path: &Path, settings: &Settings, host: &dyn Host) -> Result<Plan> {
    let (dir, name) = bundle::BundleDir::open_parent(path)?;
    plan_container(&dir, &name, settings, host, None)
}

/// [`plan_spec`] for a container being created: a per-container id range is allocated for
/// it (and, where the profile allows, host directories are made traversable).
/// The spec is `name` in the held directory `dir`; every later path below the bundle
/// (rootfs, mount destinations, idmap) is looked up through that same directory.
pub fn plan_container(
    dir: &bundle::BundleDir,
    name: &str,
    settings: &Settings,
    host: &dyn Host,
    container: Option<&crate::idmap::Container>,
) -> Result<Plan> {
    let bytes = dir.read(name)?;
    crate::debug::part("read");
    let shown = dir.shown(name);
    let held = dir.proc_path();
    let path = held.join(name);
    // The bytes are freed as soon as they are parsed (peak memory with a 1 MB spec).
    let request =
        Spec::from_bytes(bytes).with_context(|| format!("cannot use {}", shown.display()))?;
    crate::debug::part("parse");
    // Only the allow-listed keys are looked up: a spec's other annotations (a 1 MB spec may
    // carry thousands) are never copied. oci-spec's validation has already checked that
    // every annotation value is a string.
    let annotations: BTreeMap<String, String> = match request
        .get("/annotations")
        .and_then(serde_json::Value::as_object)
    {
        Some(all) => settings
            .annotations
            .iter()
            .filter_map(|r| {
                let v = all.get(&r.key)?.as_str()?;
                Some((r.key.clone(), v.to_string()))
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let choice = settings.choose(&annotations);
    let profile = settings.profiles.load(&choice.profile)?;
    crate::debug::part("profile");
    let mut facts = host.facts(&steps::host_patterns(&profile));
    crate::debug::part("host_facts");
    host.namespaces(&mut facts, &policy::namespaces::joined_paths(&request));
    policy::gather_sources(host, &mut facts, &request);
    if let Some(root) = request
        .get("/root/path")
        .and_then(serde_json::Value::as_str)
    {
        let rootfs = held.join(root);
        let destinations = policy::mounts::destinations(&request);
        host.rootfs_facts(&mut facts, &rootfs, &destinations, &request, &profile);
        let cgroups_path = request
            .get("/linux/cgroupsPath")
            .and_then(serde_json::Value::as_str);
        host.spec_paths(&mut facts, &rootfs, cgroups_path);
    }
    facts.userns = crate::idmap::gather(&request, &profile, &path, container);
    crate::debug::part("spec_facts");
    let mut notes: Vec<String> = choice.untrusted.iter().cloned().collect();
    notes.extend(
        choice
            .ignored
            .iter()
            .map(|a| format!("annotation {a} ignored: not allow-listed in the config file")),
    );
    notes.extend(
        choice
            .waived
            .iter()
            .map(|w| format!("rule {w} waived by an allow-listed annotation")),
    );
    // A recording run keeps every refusal whatever the base profile's mode.
    let mode = if profile.learning.is_some() {
        Mode::Enforce
    } else {
        profile.policy.mode
    };
    let (mut changes, mut refusals) = (Vec::new(), Vec::new());
    // The policy judges the request as the engine wrote it; the steps then harden it in place.
    let mut spec = request;
    if mode != Mode::Off {
        refusals = policy::evaluate(
            &spec,
            &PolicyContext {
                profile: &profile,
                host: &facts,
            },
            &choice.waived,
        )?;
        crate::debug::part("policy");
        let cx = Context {
            profile: &profile,
            host: &facts,
            container_caps: None,
            container_apparmor: None,
        };
        changes = steps::harden(&mut spec, &cx, steps::for_create(&profile))
            .with_context(|| format!("cannot harden {}", shown.display()))?;
    }
    let enter_net = crate::netns::to_enter(facts.userns.as_ref(), &spec);
    // Only when the userns step pointed the spec at the clones.
    let staging = facts
        .userns
        .and_then(|u| u.stage.zip(u.mapping.ok()))
        .filter(|(s, _)| {
            spec.get("/root/path").and_then(serde_json::Value::as_str) == s.rootfs.target.to_str()
        });
    Ok(Plan {
        profile: choice.profile,
        mode,
        spec,
        changes,
        refusals,
        notes,
        staging,
        enter_net,
        learning: profile.learning.clone(),
    })
}

/// The pure core of `create`: config.json bytes in, hardened spec and its changes out.
pub fn rewrite(bytes: &[u8], profile: &Profile, facts: &HostFacts) -> Result<(Spec, Vec<Change>)> {
    let mut spec = Spec::from_slice(bytes)?;
    let cx = Context {
        profile,
        host: facts,
        container_caps: None,
        container_apparmor: None,
    };
    let changes = steps::harden(&mut spec, &cx, steps::CREATE)?;
    Ok((spec, changes))
}

/// Judges and hardens the bundle through one descriptor of its directory; returns that
/// directory when argv named it (`--bundle`), for [`pass_bundle`]. Without `--bundle` runc
/// uses its working directory, which is the "." read here.
pub(crate) fn harden_bundle(
    cmd: &CommandArgs,
    runc_root: Option<&Path>,
    settings: &Settings,
    host: &dyn Host,
) -> Result<Option<bundle::BundleDir>> {
    const CONFIG: &str = "config.json";
    let dir = bundle::BundleDir::open(cmd.bundle.as_deref().unwrap_or(Path::new(".")))
        .context("cannot open the bundle")?;
    let lock = dir.lock()?;
    dir.remove_stale(&lock, CONFIG);
    crate::debug::part("bundle");
    let container = cmd
        .id
        .as_deref()
        .map(|id| crate::idmap::Container::new(runc_root, id));
    let mut plan = plan_container(&dir, CONFIG, settings, host, container.as_ref())?;
    if let (Some((s, m)), "hardened") = (&plan.staging, plan.outcome()) {
        for (path, how) in crate::stage::apply(s, m, &plan.spec)? {
            plan.changes.push(Change {
                step: "userns",
                field: format!("host:{path}"),
                before: serde_json::Value::Null,
                after: serde_json::Value::Null,
                reason: how,
            });
        }
    }
    let outcome = plan.outcome();
    let applies = matches!(outcome, "hardened" | "learning");
    if applies {
        let given = crate::stdio::apply(&plan.spec, &plan.changes);
        plan.changes.extend(given);
    }
    let netns = match (&plan.enter_net, applies) {
        (Some((path, ino)), true) => Some(crate::netns::open_judged(path, *ino)?),
        _ => None,
    };
    let write = applies && plan.changes.iter().any(|c| c.before != c.after);
    let staged = if write {
        // Serialised straight into the temp file (no second copy of a large spec in memory).
        Some(dir.stage_locked(&lock, CONFIG, |w| plan.spec.write_to(w))?)
    } else {
        None
    };
    crate::debug::part("write");
    let rec = Record {
        workload: audit::Workload::from_spec(plan.spec.get("/annotations")),
        mode: plan.mode,
        outcome,
        refusals: &plan.refusals,
        notes: &plan.notes,
        ..record(
            cmd,
            &plan.profile,
            settings,
            host,
            Some(&dir.proc_path()),
            &plan.changes,
        )
    };
    let logged = audit::append(&settings.audit_log, &rec);
    crate::debug::part("audit");
    if outcome == "refused" {
        let msg = policy::refusal_message(&plan.profile, &plan.refusals);
        return Err(match logged {
            Ok(()) => crate::errors::Refusal(msg).into(),
            // Still under 1 KB (Kubernetes' event limit), the fix first.
            Err(e) => crate::errors::Refusal(policy::clip(
                &format!("{msg}\n(and the audit log failed: {e:#})"),
                1000,
            ))
            .into(),
        });
    }
    logged?;
    if let Some(staged) = staged {
        staged.commit()?;
    }
    crate::debug::part("commit");
    if let (Some(name), Some(id)) = (&plan.learning, cmd.id.as_deref()) {
        crate::record::spawn::start(name, id, runc_root, settings, &plan.spec)?;
    }
    if let Some(ns) = netns {
        crate::netns::pend(ns);
    }
    // The process execs the runtime next: freeing the plan (every node of the spec tree,
    // the changes) would only cost time (a few percent of a create) before the address
    // space is replaced. The lock is released on exec (close-on-exec descriptor).
    std::mem::forget(plan);
    Ok(cmd.bundle.is_some().then_some(dir))
}

/// A flag's value to replace in the runtime's argv: the use's token indices and the new value.
type Replace = (Vec<usize>, OsString);

fn clamp_exec(
    inv: &Invocation,
    cmd: &CommandArgs,
    settings: &Settings,
    host: &dyn Host,
) -> Result<(Vec<std::ops::Range<usize>>, Option<Replace>)> {
    // runc's state.json, read once: the container's profile is chosen as create chose it
    // (annotations from runc's labels), exec is clamped to what it holds, and its network
    // namespace is entered where runc would not.
    let state = match cmd.id.as_deref() {
        Some(id) => crate::exec::state_json(inv.global.root.as_deref(), id)?,
        None => None,
    };
    let annotations = match (&state, cmd.id.as_deref()) {
        (Some(st), Some(id)) => crate::update::state_labels(st, id)?.0,
        _ => Default::default(),
    };
    let profile = settings
        .profiles
        .load(&settings.choose(&annotations).profile)?;
    let facts = host.facts(&[]);
    let plan = crate::exec::plan(cmd, state.as_ref(), &profile, &facts)?;
    if let Some(st) = &state {
        crate::netns::pend_for_exec(st)?;
    }
    if !plan.changes.is_empty() {
        audit::append(
            &settings.audit_log,
            &Record {
                outcome: "clamped",
                ..record(cmd, &profile.name, settings, host, None, &plan.changes)
            },
        )?;
    }
    // runc reads the judged process, not the path again (src/handoff.rs).
    let process = match (plan.process, cmd.uses("process").last()) {
        (Some((_, bytes)), Some(u)) => {
            let min = 3 + cmd.preserve_fds.unwrap_or(0).max(0);
            let held = crate::handoff::sealed("exec process", &bytes, min)?;
            Some((u.tokens.clone(), held))
        }
        _ => None,
    };
    Ok((plan.drop_tokens, process))
}

pub(crate) fn record<'a>(
    cmd: &'a CommandArgs,
    profile: &'a str,
    settings: &'a Settings,
    host: &dyn Host,
    bundle: Option<&Path>,
    changes: &'a [Change],
) -> Record<'a> {
    Record {
        schema: audit::SCHEMA,
        time: crate::host::rfc3339(host.now()),
        host: audit::host_name(),
        workload: Default::default(),
        command: &cmd.name,
        id: cmd.id.as_deref(),
        bundle: bundle.map(|b| {
            crate::host::real_path(b)
                .unwrap_or_else(|_| b.to_path_buf())
                .display()
                .to_string()
        }),
        profile,
        mode: Mode::Enforce,
        outcome: "hardened",
        refusals: &[],
        notes: &[],
        runtime: settings.runtime.display().to_string(),
        changes,
    }
}
