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
use crate::profile::Profile;
use crate::settings::Settings;
use crate::spec::Spec;
use crate::steps::{self, Context};
use anyhow::{Context as _, Result};
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
        Ok((runtime, args)) => host.exec(&runtime, &args),
        Err(e) => e,
    };
    fail(host, &inv.global, &err)
}

fn fail(host: &dyn Host, global: &argv::GlobalArgs, err: &anyhow::Error) -> i32 {
    errors::report(global, host.now(), &errors::message(err));
    EXIT_FAILURE
}

/// Everything before exec: returns the runtime and the argv to hand it.
pub fn prepare(inv: &Invocation, host: &dyn Host) -> Result<(PathBuf, Vec<OsString>)> {
    let settings = Settings::resolve(inv, host)?;
    let mut args = inv.runtime_args.clone();
    match &inv.command {
        Some(cmd) if cmd.name == "create" || cmd.name == "run" => {
            harden_bundle(cmd, &settings, host)?
        }
        Some(cmd) if cmd.name == "exec" => {
            let drop = clamp_exec(inv, cmd, &settings, host)?;
            args = args
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !drop.iter().any(|r| r.contains(i)))
                .map(|(_, a)| a)
                .collect();
        }
        _ => {}
    }
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(settings.runtime.clone().into_os_string());
    argv.extend(args);
    Ok((settings.runtime, argv))
}

pub fn bundle_dir(cmd: &CommandArgs) -> Result<PathBuf> {
    match &cmd.bundle {
        Some(b) => Ok(b.clone()),
        None => std::env::current_dir()
            .context("cannot find the bundle: no --bundle and no working directory"),
    }
}

/// Loads and hardens a config.json, without writing anything. Shared by `create` and
/// `explain`, so what `explain` shows is what `create` does.
pub fn plan_spec(path: &Path, settings: &Settings, host: &dyn Host) -> Result<(Spec, Vec<Change>)> {
    let profile = settings.profiles.load(&settings.profile)?;
    let facts = host.facts(&steps::host_patterns(&profile));
    let bytes = bundle::read(path)?;
    rewrite(&bytes, &profile, &facts).with_context(|| format!("cannot use {}", path.display()))
}

/// The pure core of `create`: config.json bytes in, hardened spec and its changes out.
pub fn rewrite(bytes: &[u8], profile: &Profile, facts: &HostFacts) -> Result<(Spec, Vec<Change>)> {
    let mut spec = Spec::from_slice(bytes)?;
    let cx = Context {
        profile,
        host: facts,
        container_caps: None,
    };
    let changes = steps::harden(&mut spec, &cx, steps::CREATE)?;
    Ok((spec, changes))
}

fn harden_bundle(cmd: &CommandArgs, settings: &Settings, host: &dyn Host) -> Result<()> {
    let dir = bundle_dir(cmd)?;
    let _lock = bundle::lock_dir(&dir)?;
    let path = dir.join("config.json");
    let (spec, changes) = plan_spec(&path, settings, host)?;
    let staged = match changes.iter().any(|c| c.before != c.after) {
        true => Some(bundle::stage(&path, &spec.to_vec())?),
        false => None,
    };
    audit::append(
        &settings.audit_log,
        &record(cmd, settings, host, Some(&dir), &changes),
    )?;
    if let Some(staged) = staged {
        staged.commit()?;
    }
    Ok(())
}

fn clamp_exec(
    inv: &Invocation,
    cmd: &CommandArgs,
    settings: &Settings,
    host: &dyn Host,
) -> Result<Vec<std::ops::Range<usize>>> {
    let profile = settings.profiles.load(&settings.profile)?;
    let facts = host.facts(&[]);
    let plan = crate::exec::plan(inv, cmd, &profile, &facts)?;
    let staged = match &plan.process {
        Some((path, bytes)) => Some(bundle::stage(path, bytes)?),
        None => None,
    };
    if !plan.changes.is_empty() {
        audit::append(
            &settings.audit_log,
            &record(cmd, settings, host, None, &plan.changes),
        )?;
    }
    if let Some(staged) = staged {
        staged.commit()?;
    }
    Ok(plan.drop_tokens)
}

fn record<'a>(
    cmd: &'a CommandArgs,
    settings: &'a Settings,
    host: &dyn Host,
    bundle: Option<&Path>,
    changes: &'a [Change],
) -> Record<'a> {
    Record {
        time: crate::host::rfc3339(host.now()),
        command: &cmd.name,
        id: cmd.id.as_deref(),
        bundle: bundle.map(|b| {
            std::fs::canonicalize(b)
                .unwrap_or_else(|_| b.to_path_buf())
                .display()
                .to_string()
        }),
        profile: &settings.profile,
        runtime: settings.runtime.display().to_string(),
        changes,
    }
}
