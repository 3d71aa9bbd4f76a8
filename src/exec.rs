//! `exec` into a running container: the process it starts gets the same clamp as the
//! container's own (`docker exec --privileged` must not hand out capabilities the
//! container does not have, nor lift its AppArmor confinement), both from `--process FILE`
//! and from `--cap` and `--apparmor` flags.
//!
//! Every flag of runc 1.1.5's `exec`, and what Rampart does with it (with `--process FILE`
//! runc ignores the process flags below and the file is hardened instead):
//!
//! | flag | loosens? | Rampart |
//! |---|---|---|
//! | `--cap`, `-c` | adds capabilities | dropped unless the profile allows it and the container holds it (audited) |
//! | `--apparmor` | another AppArmor profile | dropped unless it is the container's (audited) |
//! | `--no-new-privs=false` (`=0`, `=f`, `=F`, `=FALSE`, `=False`) | clears no_new_privs | dropped when the profile sets no_new_privileges (audited) |
//! | `--process-label` | another SELinux label | refused: the process keeps the container's label |
//! | `--cgroup [ctrl:]path` | runc 1.1.5 joins `path.Join(cg, path)` if it only *starts with* the container's cgroup, so `../<id>x` reaches a sibling | refused when the path has a `..` component |
//! | `--user`, `-u` uid 0 | root where the profile refuses root (`[policy] root = "refuse"`, no userns) | refused (uid read as runc does: Atoi, then uint32) |
//! | `--cwd` | — | refused inside /proc (rule cwd-in-proc) |
//! | `--process`, `-p` | the whole process | hardened like the container's process |
//! | `--env`, `--tty`, `--additional-gids`, `--detach`, `--pid-file`, `--console-socket`, `--preserve-fds`, `--ignore-paused` | no: stay inside the container's confinement (or are the engine's own plumbing) | passed |

use crate::argv::CommandArgs;
use crate::change::{Change, Changes};
use crate::host::HostFacts;
use crate::profile::Profile;
use crate::spec::Spec;
use crate::steps::{self, Context};
use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// runc's state directory when `--root` is not given.
pub const RUNC_DEFAULT_ROOT: &str = "/run/runc";

/// What runc recorded for a running container (its state.json), where it can be read.
#[derive(Debug, Default)]
pub struct Running {
    /// The bounding set.
    pub caps: Option<Vec<String>>,
    /// The AppArmor profile; empty when the container runs without one.
    pub apparmor: Option<String>,
}

/// runc's state.json for container `id` under `root`: None when runc has none (no such
/// container, or an id runc would refuse); an error when it exists but cannot be read.
pub fn state_json(root: Option<&Path>, id: &str) -> Result<Option<Value>> {
    if !crate::host::runc_id_ok(id) {
        return Ok(None); // runc refuses the id itself
    }
    let path = root
        .unwrap_or(Path::new(RUNC_DEFAULT_ROOT))
        .join(id)
        .join("state.json");
    let bytes = match crate::host::read_capped_io(&path, crate::spec::MAX_SPEC_BYTES) {
        Ok(b) => b,
        Err(_) if !path.exists() => return Ok(None),
        Err(e) => {
            return Err(crate::host::capped_error(
                &path,
                crate::spec::MAX_SPEC_BYTES,
                e,
            ))
            .with_context(|| format!("cannot read {}", path.display()));
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .with_context(|| format!("{} is not valid JSON", path.display()))
}

/// What runc's state.json (parsed) says the running container holds.
pub fn running(state: &Value) -> Running {
    Running {
        caps: state
            .pointer("/config/capabilities/Bounding")
            .and_then(Value::as_array)
            .map(|caps| {
                caps.iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect()
            }),
        // libcontainer leaves the key out when the container has no profile (omitempty).
        apparmor: state
            .pointer("/config")
            .and_then(Value::as_object)
            .map(|c| {
                c.get("apparmor_profile")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            }),
    }
}

/// The exec'd process may not start in /proc either (policy rule cwd-in-proc).
fn refuse_cwd(field: &str, cwd: &str, profile: &Profile) -> Result<()> {
    let rule = &crate::policy::cwd::CWD_IN_PROC;
    if profile.policy.mode != crate::profile::Mode::Enforce
        || profile.policy.waive.iter().any(|w| w == rule.id)
    {
        return Ok(());
    }
    match crate::policy::cwd::violation(field, cwd) {
        Some(mut v) => {
            v.rule = rule.id;
            v.reference = rule.reference;
            Err(crate::errors::Refusal(crate::policy::refusal_message(&profile.name, &[v])).into())
        }
        None => Ok(()),
    }
}

/// Flags of `exec` that are refused outright (see the table above).
fn refuse_loosening_flags(cmd: &CommandArgs, profile: &Profile) -> Result<()> {
    if let Some(u) = cmd.uses("process-label").next() {
        bail!(
            "refused `exec --process-label {}`: the process keeps the container's SELinux label",
            u.value.as_deref().unwrap_or_default().to_string_lossy()
        );
    }
    for u in cmd.uses("cgroup") {
        let v = u.value.as_deref().unwrap_or_default().to_string_lossy();
        let path = match v.split_once(':') {
            Some((_, p)) => p,
            None => &v,
        };
        if path.split('/').any(|c| c == "..") {
            bail!(
                "refused `exec --cgroup {v}`: `..` leaves the container's cgroup (runc 1.1.5 only checks a string prefix)"
            );
        }
    }
    let root_refused = profile.policy.mode == crate::profile::Mode::Enforce
        && profile.policy.root == crate::profile::RootUser::Refuse
        && !profile.userns.enabled;
    if root_refused
        && cmd.process.is_none()
        && let Some(user) = cmd.uses("user").last().and_then(|u| u.value.clone())
    {
        let uid = user
            .as_bytes()
            .split(|b| *b == b':')
            .next()
            .unwrap_or_default();
        // runc: strconv.Atoi, then uint32(uid).
        if crate::golang::parse_int(uid, false).is_some_and(|u| u as u32 == 0) {
            bail!(
                "refused `exec --user {}`: profile {} refuses root without a user namespace; an admin sets [policy] root = \"allow\" to allow it",
                user.to_string_lossy(),
                profile.name
            );
        }
    }
    Ok(())
}

/// Create's rules over the fields of a process that runc reads at exec too (rlimits, the
/// user); the working directory has [`refuse_cwd`]; capabilities, no-new-privileges and
/// AppArmor are clamped to the container's own by the EXEC steps.
pub const EXEC_RULES: &[&str] = &["rlimit-raised", "resource-above-ceiling", "root-user"];

fn refuse_process_rules(spec: &Spec, profile: &Profile, host: &HostFacts) -> Result<()> {
    if profile.policy.mode != crate::profile::Mode::Enforce {
        return Ok(());
    }
    let cx = crate::policy::PolicyContext { profile, host };
    let found: Vec<_> = crate::policy::evaluate(spec, &cx, &[])?
        .into_iter()
        .filter(|v| EXEC_RULES.contains(&v.rule))
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    Err(crate::errors::Refusal(crate::policy::refusal_message(&profile.name, &found)).into())
}

pub struct ExecPlan {
    pub changes: Vec<Change>,
    /// The process file as judged (hardened), for runc to read instead of the path (None when
    /// there was no `--process`).
    pub process: Option<(PathBuf, Vec<u8>)>,
    /// Token ranges of `--cap` flags to remove from the runtime argv.
    pub drop_tokens: Vec<std::ops::Range<usize>>,
}

/// `state`: runc's state.json for the container, parsed once by the caller (None: runc has none).
pub fn plan(
    cmd: &CommandArgs,
    state: Option<&Value>,
    profile: &Profile,
    host: &HostFacts,
) -> Result<ExecPlan> {
    let state = state.map(running).unwrap_or_default();
    let held = state.caps;
    // Unknown state: no more than the profile's allow-list (never its grantable names, which
    // only an explicit request at create may add).
    let clamp = held
        .clone()
        .unwrap_or_else(|| profile.capabilities.allow.clone());
    let cx = Context {
        profile,
        host,
        container_caps: Some(&clamp),
        container_apparmor: state.apparmor.as_deref(),
    };
    let mut changes = Vec::new();
    let mut process = None;
    if let Some(cwd) = &cmd.cwd {
        refuse_cwd("argv --cwd", cwd, profile)?;
    }
    if let Some(path) = &cmd.process {
        let bytes = crate::bundle::read(path)
            .with_context(|| format!("exec process file {}", path.display()))?;
        // Strictly (duplicate keys, NULs), and with runc's key matching: runc reads this file
        // as a specs.Process with Go's encoding/json.
        let raw = crate::spec::parse_strict(&bytes)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        crate::runc_fields::check(&raw, crate::runc_fields::Root::Process)
            .with_context(|| format!("exec process file {}", path.display()))?;
        let mut spec = Spec::from_value(json!({"ociVersion": "1.0.2", "process": raw}))
            .with_context(|| format!("{} is not an OCI process", path.display()))?;
        if let Some(cwd) = spec.get("/process/cwd").and_then(Value::as_str) {
            refuse_cwd(&format!("{}: cwd", path.display()), cwd, profile)?;
        }
        refuse_process_rules(&spec, profile, host)?;
        changes = steps::harden(&mut spec, &cx, steps::for_exec(profile))?;
        // runc reads the file again by path: it is handed these bytes (src/handoff.rs),
        // changed or not.
        let out = if changes.iter().any(|c| c.before != c.after) {
            let out = spec
                .into_raw()
                .get_mut("process")
                .map(Value::take)
                .unwrap_or(Value::Null);
            serde_json::to_vec(&out)?
        } else {
            bytes
        };
        process = Some((path.clone(), out));
    }
    let mut drop_tokens = Vec::new();
    refuse_loosening_flags(cmd, profile)?;
    let mut ch = Changes::new("no_new_privileges", &mut changes);
    if profile.process.no_new_privileges && cmd.process.is_none() {
        for u in cmd.uses("no-new-privs") {
            let value = u.value.as_deref().map(|v| v.as_bytes()).unwrap_or(b"true");
            if crate::golang::parse_bool(value) == Some(false) {
                drop_tokens.push(u.tokens[0]..u.tokens[u.tokens.len() - 1] + 1);
                ch.record(
                    "argv --no-new-privs",
                    json!(String::from_utf8_lossy(value)),
                    Value::Null,
                    format!(
                        "exec --no-new-privs={} dropped: profile {} keeps no_new_privileges",
                        String::from_utf8_lossy(value),
                        profile.name
                    ),
                );
            }
        }
    }
    let mut ch = Changes::new("capabilities", &mut changes);
    for cap in &cmd.caps {
        steps::capabilities::parse_cap(&cap.value).context("exec --cap")?;
        let allowed = match &held {
            Some(h) => h.contains(&cap.value) && profile.capabilities.grants(&cap.value),
            None => profile.capabilities.allow.contains(&cap.value),
        };
        if !allowed {
            drop_tokens.push(cap.tokens.clone());
            ch.record(
                "argv --cap",
                json!(cap.value),
                Value::Null,
                format!(
                    "exec --cap {} dropped: not allowed by profile {} or not held by the container",
                    cap.value, profile.name
                ),
            );
        }
    }
    let mut ch = Changes::new("lsm", &mut changes);
    for flag in &cmd.apparmor {
        if let Some((_, why)) = crate::steps::lsm::exec_profile(&flag.value, &cx) {
            drop_tokens.push(flag.tokens.clone());
            ch.record(
                "argv --apparmor",
                json!(flag.value),
                Value::Null,
                format!("exec --apparmor {} dropped: {why}", flag.value),
            );
        }
    }
    Ok(ExecPlan {
        changes,
        process,
        drop_tokens,
    })
}
