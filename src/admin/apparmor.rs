//! `rampart apparmor install|check|print`: the AppArmor profile containers run under
//! (apparmor/rampart-default, embedded in the binary). `install` writes it to
//! /etc/apparmor.d (so apparmor.service loads it at boot) and loads it now with
//! `apparmor_parser -r`; `check` only parses it (`apparmor_parser -Q -K`), which works on
//! hosts without AppArmor too.

use crate::argv::Invocation;
use crate::host::Host;
use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const PROFILE_NAME: &str = "rampart-default";
pub const PROFILE: &str = include_str!("../../apparmor/rampart-default");

#[derive(Debug, Parser)]
#[command(
    name = "rampart apparmor",
    about = "Install or check Rampart's AppArmor profile"
)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
    /// apparmor_parser to run.
    #[arg(long, global = true, default_value = "apparmor_parser")]
    parser: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Write the profile to DIR/rampart-default and load it (apparmor_parser -r).
    Install {
        #[arg(long, default_value = "/etc/apparmor.d")]
        dir: PathBuf,
        /// Filesystem root LSM state is read from (tests use a fake one).
        #[arg(long, default_value = "/", hide = true)]
        host_root: PathBuf,
    },
    /// Parse a profile without loading it (default: the built-in one).
    Check { file: Option<PathBuf> },
    /// Print the built-in profile.
    Print,
}

/// This command's parser, for the command tree (help, completions, man pages).
pub fn command() -> clap::Command {
    Args::command()
}

pub fn main(_inv: &Invocation, args: &[std::ffi::OsString], _host: &dyn Host) -> i32 {
    super::text_command(args, |a: Args| run(&a), crate::errors::message)
}

fn parser(parser: &Path, args: &[&str], file: &Path) -> Result<()> {
    let out = Command::new(parser)
        .args(args)
        .arg(file)
        .output()
        .with_context(|| format!("cannot run {} (package apparmor)", parser.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} {} failed: {}",
            parser.display(),
            args.join(" "),
            file.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Parses the built-in profile (written to a temp file) without loading it.
fn check_builtin(p: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("rampart-apparmor-{}", std::process::id()));
    std::fs::write(&tmp, PROFILE)?;
    let r = parser(p, &["-Q", "-K"], &tmp);
    let _ = std::fs::remove_file(&tmp);
    r
}

fn run(a: &Args) -> Result<String> {
    match &a.cmd {
        Cmd::Print => Ok(PROFILE.to_string()),
        Cmd::Check { file: Some(f) } => {
            parser(&a.parser, &["-Q", "-K"], f)?;
            Ok(format!("{}: parses\n", f.display()))
        }
        Cmd::Check { file: None } => {
            check_builtin(&a.parser)?;
            Ok(format!("{PROFILE_NAME} (built in): parses\n"))
        }
        Cmd::Install { dir, host_root } => {
            check_builtin(&a.parser)?;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let target = dir.join(PROFILE_NAME);
            crate::bundle::stage(&target, PROFILE.as_bytes())?.commit()?;
            if !crate::lsm::detect(host_root).apparmor_enabled {
                bail!(
                    "wrote {} but did not load it: AppArmor is not enabled on this host; containers run without it (or are refused where a profile sets apparmor_missing = \"refuse\")",
                    target.display()
                );
            }
            parser(&a.parser, &["-r"], &target)?;
            if !crate::lsm::detect(host_root)
                .apparmor_profiles
                .iter()
                .any(|p| p == PROFILE_NAME)
            {
                bail!(
                    "{} -r {} succeeded but {PROFILE_NAME} is not listed as loaded",
                    a.parser.display(),
                    target.display()
                );
            }
            Ok(format!(
                "wrote {}\nloaded {PROFILE_NAME}; new containers run under it\n",
                target.display()
            ))
        }
    }
}
