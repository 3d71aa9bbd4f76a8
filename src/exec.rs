//! `exec` into a running container: the process it starts gets the same clamp as the
//! container's own (`docker exec --privileged` must not hand out capabilities the
//! container does not have, nor lift its AppArmor confinement), both from `--process FILE`
//! and from `--cap` and `--apparmor` flags.

use crate::argv::{CommandArgs, Invocation};
use crate::change::{Change, Changes};
use crate::host::HostFacts;
use crate::profile::Profile;
use crate::spec::Spec;
use crate::steps::{self, Context};
use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
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

/// The state runc keeps for container `id` under `root`.
pub fn running(root: Option<&Path>, id: &str) -> Running {
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return Running::default();
    }
    let path = root
        .unwrap_or(Path::new(RUNC_DEFAULT_ROOT))
        .join(id)
        .join("state.json");
    let state: Option<Value> = crate::host::read_capped(&path, crate::spec::MAX_SPEC_BYTES)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(state) = state else {
        return Running::default();
    };
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
            bail!(crate::policy::refusal_message(&profile.name, &[v]))
        }
        None => Ok(()),
    }
}

pub struct ExecPlan {
    pub changes: Vec<Change>,
    /// The process file, hardened, to write back (None when there was no `--process`).
    pub process: Option<(PathBuf, Vec<u8>)>,
    /// Token ranges of `--cap` flags to remove from the runtime argv.
    pub drop_tokens: Vec<std::ops::Range<usize>>,
}

pub fn plan(
    inv: &Invocation,
    cmd: &CommandArgs,
    profile: &Profile,
    host: &HostFacts,
) -> Result<ExecPlan> {
    let state = cmd
        .id
        .as_deref()
        .map(|id| running(inv.global.root.as_deref(), id))
        .unwrap_or_default();
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
        changes = steps::harden(&mut spec, &cx, steps::EXEC)?;
        if changes.iter().any(|c| c.before != c.after) {
            let out = spec
                .into_raw()
                .get_mut("process")
                .map(Value::take)
                .unwrap_or(Value::Null);
            process = Some((path.clone(), serde_json::to_vec(&out)?));
        }
    }
    let mut drop_tokens = Vec::new();
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
