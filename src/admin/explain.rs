//! `rampart explain [--profile P] [--json] (BUNDLE | config.json)`: what `create` would
//! change and why, computed by the same code (`pipeline::plan_spec`), written nowhere.

use crate::argv::Invocation;
use crate::host::Host;
use crate::settings::Settings;
use anyhow::Result;
use clap::{CommandFactory, Parser};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rampart explain",
    about = "Show what Rampart would change in a container spec, and why"
)]
struct Args {
    /// Profile to apply (default: as `create` would choose it).
    #[arg(long)]
    profile: Option<String>,
    /// The process that starts runc, as `create` would see it (`containerd-shim`, `conmon`):
    /// annotations count only from callers that never copy an image's (default: this
    /// command's own parent, so they are shown as ignored).
    #[arg(long)]
    caller: Option<String>,
    /// Print JSON for tools instead of text for people.
    #[arg(long)]
    json: bool,
    /// A bundle directory or a config.json.
    target: PathBuf,
}

/// This command's parser, for the command tree (help, completions, man pages).
pub fn command() -> clap::Command {
    Args::command()
}

pub fn main(inv: &Invocation, args: &[std::ffi::OsString], host: &dyn Host) -> i32 {
    super::text_command(args, |a: Args| run(inv, host, &a), crate::errors::message)
}

fn run(inv: &Invocation, host: &dyn Host, args: &Args) -> Result<String> {
    let mut inv = inv.clone();
    if args.profile.is_some() {
        inv.rampart.profile = args.profile.clone();
    }
    let mut settings = Settings::resolve(&inv, host)?;
    if args.caller.is_some() {
        settings.caller = args.caller.clone();
    }
    let path = if args.target.is_dir() {
        args.target.join("config.json")
    } else {
        args.target.clone()
    };
    let plan = crate::pipeline::plan_spec(&path, &settings, host)?;
    if args.json {
        let out = serde_json::json!({
            "target": path, "profile": plan.profile, "mode": plan.mode, "outcome": plan.outcome(),
            "refusals": plan.refusals, "changes": plan.changes, "notes": plan.notes,
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&out)?));
    }
    let mut text = format!(
        "{}: profile {} ({:?} mode): {}; {} refusal(s), {} change(s)\n",
        path.display(),
        plan.profile,
        plan.mode,
        plan.outcome(),
        plan.refusals.len(),
        plan.changes.len()
    );
    for n in &plan.notes {
        text.push_str(&format!("note: {n}\n"));
    }
    for v in &plan.refusals {
        let title = crate::policy::rule(v.rule)
            .map(|r| r.title)
            .unwrap_or_default();
        text.push_str(&format!(
            "\nREFUSE [{}] {title} ({})\n  {}: {}\n  {}\n",
            v.rule,
            v.reference,
            v.field,
            short(&v.value),
            v.why
        ));
    }
    for c in &plan.changes {
        text.push_str(&format!("\n[{}] {}\n  {}\n", c.step, c.field, c.reason));
        if c.before != c.after {
            text.push_str(&format!(
                "  before: {}\n  after:  {}\n",
                short(&c.before),
                short(&c.after)
            ));
        }
    }
    if !plan.refusals.is_empty() {
        text.push_str(&format!(
            "\n{}\n",
            crate::policy::refusal_message(&plan.profile, &plan.refusals)
        ));
    }
    Ok(text)
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}
