//! `rampart profile list | show NAME [--effective]` and `rampart config default`: what
//! Rampart would enforce, as the admin's files and the built-ins define it.

use crate::argv::Invocation;
use crate::host::Host;
use crate::settings::Settings;
use anyhow::{Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;

#[derive(Debug, Parser)]
#[command(
    name = "rampart profile",
    about = "List profiles or show one (--effective: after `extends` is merged)"
)]
struct ProfileArgs {
    #[command(subcommand)]
    action: ProfileAction,
}

#[derive(Debug, Subcommand)]
enum ProfileAction {
    /// Every profile Rampart can use: built-ins and the profiles directory.
    List,
    /// A profile's TOML as written, or as enforced with --effective.
    Show {
        name: String,
        /// After `extends` is merged: every setting in force.
        #[arg(long)]
        effective: bool,
    },
}

pub fn profile_command() -> clap::Command {
    ProfileArgs::command()
}

pub fn profile_main(inv: &Invocation, args: &[OsString], _host: &dyn Host) -> i32 {
    super::text_command(
        args,
        |a: ProfileArgs| run_profile(inv, &a),
        crate::errors::message,
    )
}

fn run_profile(inv: &Invocation, a: &ProfileArgs) -> Result<String> {
    let s = Settings::without_runtime(inv, None)?;
    let src = &s.profiles;
    let names = src.names();
    match &a.action {
        ProfileAction::List => {
            let mut out = String::new();
            for n in &names {
                let origin = src
                    .source_text(n)
                    .map(|(_, o)| o)
                    .unwrap_or_else(|e| format!("{e:#}"));
                let (desc, state) = match src.load(n) {
                    Ok(p) => (p.description, ""),
                    Err(_) => (String::new(), " BROKEN (rampart check)"),
                };
                let default = if *n == s.profile { " (default)" } else { "" };
                out.push_str(&format!("{n}{default}{state}\t{origin}\t{desc}\n"));
            }
            Ok(out)
        }
        ProfileAction::Show { name, effective } => {
            if !names.contains(name) {
                bail!(
                    "unknown profile {name:?}{} (known: {})",
                    super::check::did_you_mean(name, names.iter().map(String::as_str)),
                    names.join(", ")
                );
            }
            if *effective {
                let t = src.effective_table(name)?;
                // Check that it loads as enforced before showing it as in force.
                src.load(name)?;
                Ok(format!(
                    "# profile {name}, effective (after extends)\n{}",
                    toml::to_string(&t)?
                ))
            } else {
                let (text, origin) = src.source_text(name)?;
                Ok(format!("# profile {name} ({origin})\n{text}"))
            }
        }
    }
}

/// A commented config.toml: every key, its default, what it does.
pub const DEFAULT_CONFIG: &str = include_str!("../../packaging/config.toml");

#[derive(Debug, Parser)]
#[command(
    name = "rampart config",
    about = "Print Rampart's configuration file with every default, commented"
)]
struct ConfigArgs {
    #[command(subcommand)]
    action: ConfigAction,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// A commented default /etc/rampart/config.toml.
    Default,
}

pub fn config_command() -> clap::Command {
    ConfigArgs::command()
}

pub fn config_main(_inv: &Invocation, args: &[OsString], _host: &dyn Host) -> i32 {
    match super::parse::<ConfigArgs>(args) {
        Ok(ConfigArgs {
            action: ConfigAction::Default,
        }) => {
            print!("{DEFAULT_CONFIG}");
            0
        }
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_parses_commented_and_uncommented() {
        let c: crate::config::Config = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(c, crate::config::Config::default());
        // Lines `#key = ...` and `#[[table]]` are settings; uncommented they must load.
        let on: String = DEFAULT_CONFIG
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => {
                    rest
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c: crate::config::Config = toml::from_str(&on).unwrap();
        assert_eq!(c.default_profile.as_deref(), Some("restricted"));
        assert!(!c.annotations.is_empty());
        let p = std::env::temp_dir().join(format!("rampart-default-{}.toml", std::process::id()));
        std::fs::write(&p, &on).unwrap();
        let r = super::super::check::check(Some(&p), None);
        let _ = std::fs::remove_file(&p);
        assert!(r.is_ok(), "{r:?}");
    }
}
