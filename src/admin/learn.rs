//! `rampart learn list | show NAME | profile NAME`: what the recordings of a workload show,
//! and a least-privilege profile made from them (see [`crate::learn`]).

use crate::argv::Invocation;
use crate::host::Host;
use crate::learn::{self, generate, recording};
use crate::settings::Settings;
use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rampart learn",
    about = "Show recordings of a workload, or make a least-privilege profile from them",
    after_help = "Workflow: run the workload once or more with --rampart-profile learn:NAME, \
then `rampart learn show NAME`, then \
`rampart learn profile NAME > /etc/rampart/profiles/NAME.toml` and run it with \
--runtime rampart-NAME (or --rampart-profile NAME)."
)]
struct LearnArgs {
    /// Where recordings are (default: the config file's [learn] dir, else /var/lib/rampart/learn).
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    action: LearnAction,
}

#[derive(Debug, Subcommand)]
enum LearnAction {
    /// Workloads with recordings, and how many each has.
    List,
    /// Every recording of NAME: when, complete or not, syscalls, writes, peaks, and the
    /// capabilities inferred with their evidence and how exact each inference is.
    Show { name: String },
    /// A profile (TOML, on stdout) from every complete recording of NAME.
    Profile {
        name: String,
        /// Keep syscalls of groups the base profile leaves out (ptrace) and of compat
        /// (32-bit) architectures, when the recordings used them.
        #[arg(long)]
        widen: bool,
        /// Use recordings marked incomplete too (events were lost: the profile may miss
        /// what the workload needs).
        #[arg(long)]
        allow_incomplete: bool,
    },
}

pub fn command() -> clap::Command {
    LearnArgs::command()
}

pub fn main(inv: &Invocation, args: &[OsString], _host: &dyn Host) -> i32 {
    super::text_command(
        args,
        |a: LearnArgs| run(inv, &a),
        |e| format!("rampart learn: {}", crate::errors::message(e)),
    )
}

fn run(inv: &Invocation, a: &LearnArgs) -> Result<String> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => crate::config::Config::load(inv.rampart.config.as_deref())?
            .learn
            .dir
            .unwrap_or_else(|| learn::DEFAULT_DIR.into()),
    };
    let arch = std::env::consts::ARCH;
    match &a.action {
        LearnAction::List => {
            let names = recording::list(&dir)?;
            if names.is_empty() {
                return Ok(format!("no recordings in {}\n", dir.display()));
            }
            Ok(names
                .iter()
                .map(|(n, c)| format!("{n}\t{c} recording{}\n", if *c == 1 { "" } else { "s" }))
                .collect())
        }
        LearnAction::Show { name } => {
            let recs = recording::load_all(&dir, name)?;
            Ok(learn::show::show(name, &dir, &recs, arch))
        }
        LearnAction::Profile {
            name,
            widen,
            allow_incomplete,
        } => {
            let recs = recording::load_all(&dir, name)?;
            let used = generate::usable(name, &recs, *allow_incomplete)?;
            let s = Settings::without_runtime(inv, None)?;
            generate::profile(
                name,
                &used,
                &s.profiles,
                arch,
                &generate::Options {
                    widen: *widen,
                    allow_incomplete: *allow_incomplete,
                },
            )
        }
    }
}
