//! Rampart's command tree for people: help, version, did-you-mean, completions and man
//! pages, all from one clap tree built out of each command's own parser.
//!
//! What an engine calls never changes: every runc command and `--version` go to the real
//! runtime untouched (Docker parses `runc --version`). Only what runc would answer with its
//! own help page (`rampart`, `--help`, `-h`, `help`) shows Rampart's commands first and then
//! execs the runtime for its page; only names runc does not know (it would answer "No help
//! topic") get a did-you-mean from Rampart, exit status 2.

use crate::argv::{self, Invocation};
use crate::host::Host;
use crate::settings::Settings;
use clap::{Command, Parser};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit status for a usage error (as clap's).
pub const EXIT_USAGE: i32 = 2;

const ABOUT: &str = "A runc shim that hardens every container an engine creates";
const AFTER: &str = "Engines call rampart exactly as they call runc: every runc command and flag \
(create, run, exec, --root, --version, ...) goes to the real runtime, hardened on the way. \
Rampart's own options, before the command: --rampart-profile NAME, --rampart-config PATH, \
--rampart-runtime PATH.";

/// The whole tree: Rampart's commands, each from its own parser.
pub fn tree() -> Command {
    let mut root = Command::new("rampart")
        .about(ABOUT)
        .after_help(AFTER)
        .version(env!("CARGO_PKG_VERSION"))
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .subcommand_value_name("COMMAND")
        .override_usage("rampart [RUNC-FLAGS] [--rampart-profile NAME] COMMAND [ARGS]...");
    for (name, about, _, build) in super::COMMANDS {
        let sub = build()
            .name(*name)
            .bin_name(format!("rampart {name}"))
            .about(*about);
        root = root.subcommand(sub);
    }
    root.subcommand(Command::new("help").about("show Rampart's commands, then runc's"))
}

/// Rampart's own names (commands of [`tree`]), for did-you-mean.
pub fn names() -> Vec<&'static str> {
    super::COMMANDS
        .iter()
        .map(|(n, ..)| *n)
        .chain(["help"])
        .collect()
}

/// Intercepts what runc would answer with help: returns the exit status when it did, None
/// when the invocation goes on (to Rampart's command or to the runtime).
pub fn front(inv: &Invocation, host: &dyn Host) -> Option<i32> {
    // As runc reads them: the last use wins, Go's bool spellings.
    let defs: Vec<&'static argv::FlagDef> = argv::GLOBAL_FLAGS.iter().collect();
    let values = argv::flag_values(&defs, &inv.global.flags);
    let set = |n: &str| matches!(values.get(n), Some(argv::FlagValue::Bool(true)));
    let (global_help, global_version) = (set("help"), set("version"));
    let Some(cmd) = &inv.command else {
        // `--version` is runc's, byte for byte.
        if global_version {
            return None;
        }
        if global_help || inv.runtime_args.is_empty() {
            return Some(overview_then_runtime(inv, host));
        }
        return None;
    };
    if cmd.known || super::COMMANDS.iter().any(|(n, ..)| *n == cmd.name) {
        return None;
    }
    let after = following(inv, &cmd.name);
    if cmd.name == "help" || cmd.name == "h" {
        let topic = after
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .find(|a| !a.starts_with('-'));
        return match topic {
            None => Some(overview_then_runtime(inv, host)),
            Some(t) if argv::command_def(&t).is_some() => None,
            Some(t) => match tree().find_subcommand_mut(&t) {
                Some(sub) if t != "help" => {
                    let _ = sub.print_long_help();
                    Some(0)
                }
                Some(_) => Some(overview_then_runtime(inv, host)),
                None => Some(unknown(&t)),
            },
        };
    }
    Some(unknown(&cmd.name))
}

/// The arguments after the command name.
fn following(inv: &Invocation, name: &str) -> Vec<OsString> {
    inv.runtime_args
        .iter()
        .skip_while(|a| *a != name)
        .skip(1)
        .cloned()
        .collect()
}

/// A name neither runc nor Rampart knows: the nearest of both, usage, exit status 2.
fn unknown(name: &str) -> i32 {
    let runc: Vec<&str> = argv::COMMANDS.iter().map(|c| c.name).collect();
    let known: Vec<&str> = names().into_iter().chain(runc).collect();
    let hint = match super::check::nearest(name, known.iter().copied()) {
        Some(k) => format!("\n\n  tip: a similar command exists: '{k}'"),
        None => String::new(),
    };
    eprintln!(
        "error: unrecognized command '{name}'{hint}\n\nUsage: rampart [RUNC-FLAGS] COMMAND [ARGS]...\n\nFor more information, try 'rampart --help'."
    );
    EXIT_USAGE
}

/// Rampart's help, then the runtime's own page (exec'd with the same argv), or how to get it.
fn overview_then_runtime(inv: &Invocation, host: &dyn Host) -> i32 {
    let mut out = std::io::stdout();
    let _ = write!(out, "{}", tree().render_help());
    let runtime = match Settings::resolve(inv, host) {
        Ok(s) => s.runtime,
        Err(e) => {
            let _ = writeln!(
                out,
                "\nThe real runtime's commands: runc --help (Rampart found no runtime: {})",
                crate::errors::message(&e)
            );
            return 0;
        }
    };
    let _ = writeln!(
        out,
        "\nThe real runtime's commands and flags ({} --help) follow.\n",
        runtime.display()
    );
    let _ = out.flush();
    let mut argv = vec![runtime.clone().into_os_string()];
    argv.extend(inv.runtime_args.iter().cloned());
    if inv.runtime_args.is_empty() {
        argv.push("--help".into());
    }
    let e = host.exec(&runtime, &argv);
    eprintln!("rampart: cannot run {}: {e:#}", runtime.display());
    1
}

// ------------------------------------------------------------------------- version

#[derive(Debug, Parser)]
#[command(
    name = "rampart version",
    about = "Print Rampart's version, the commit it was built from and the runc it runs"
)]
struct VersionArgs {}

pub fn version_command() -> Command {
    <VersionArgs as clap::CommandFactory>::command()
}

/// The version lines for `rampart version`: runtime is the runc found (or why not).
pub fn version_text(runtime: Result<(PathBuf, String), String>) -> String {
    let mut s = format!(
        "rampart {}\ncommit: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("RAMPART_GIT_COMMIT")
    );
    match runtime {
        Ok((path, first)) => s.push_str(&format!("runtime: {} ({first})\n", path.display())),
        Err(why) => s.push_str(&format!("runtime: not found ({why})\n")),
    }
    s
}

fn runtime_version(path: &Path) -> String {
    match std::process::Command::new(path).arg("--version").output() {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .map(str::to_string)
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| format!("--version printed nothing, exit {}", o.status)),
        Err(e) => format!("cannot run it: {e}"),
    }
}

pub fn version_main(inv: &Invocation, args: &[OsString], host: &dyn Host) -> i32 {
    if let Err(code) = super::parse::<VersionArgs>(args) {
        return code;
    }
    let rt = Settings::resolve(inv, host)
        .map(|s| {
            let v = runtime_version(&s.runtime);
            (s.runtime, v)
        })
        .map_err(|e| crate::errors::message(&e));
    print!("{}", version_text(rt));
    0
}

// ------------------------------------------------------------ completions and man pages

#[derive(Debug, Parser)]
#[command(
    name = "rampart completions",
    about = "Print a shell completion script for Rampart's commands"
)]
struct CompletionArgs {
    shell: clap_complete::Shell,
}

pub fn completions_command() -> Command {
    <CompletionArgs as clap::CommandFactory>::command()
}

pub fn completions_main(_inv: &Invocation, args: &[OsString], _host: &dyn Host) -> i32 {
    let a = match super::parse::<CompletionArgs>(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    clap_complete::generate(a.shell, &mut tree(), "rampart", &mut std::io::stdout());
    0
}

#[derive(Debug, Parser)]
#[command(
    name = "rampart man",
    about = "Print rampart(1), or write rampart.1 and rampart-COMMAND.1 pages into a directory"
)]
struct ManArgs {
    /// Write every page into this directory instead of printing rampart(1).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn man_command() -> Command {
    <ManArgs as clap::CommandFactory>::command()
}

/// Every man page: (file name, roff text).
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let root = tree();
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(root.clone()).render(&mut buf)?;
    pages.push(("rampart.1".to_string(), buf));
    for sub in root.get_subcommands() {
        let name = format!("rampart-{}", sub.get_name());
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(&mut buf)?;
        pages.push((format!("{name}.1"), buf));
    }
    Ok(pages)
}

pub fn man_main(_inv: &Invocation, args: &[OsString], _host: &dyn Host) -> i32 {
    let a = match super::parse::<ManArgs>(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let result = man_pages().and_then(|pages| match &a.dir {
        None => std::io::stdout().write_all(&pages[0].1),
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            for (name, text) in &pages {
                std::fs::write(dir.join(name), text)?;
            }
            Ok(())
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rampart man: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_is_valid_and_lists_every_command() {
        let t = tree();
        t.clone().debug_assert();
        let help = t.clone().render_help().to_string();
        for n in names() {
            assert!(help.contains(n), "{n} missing from\n{help}");
        }
        // None of Rampart's names is a runc command.
        for n in names() {
            assert!(argv::command_def(n).is_none(), "{n} shadows runc");
        }
    }

    #[test]
    fn version_text_names_commit_and_runtime() {
        let t = version_text(Ok(("/usr/sbin/runc".into(), "runc version 1.1.5".into())));
        assert!(t.starts_with(&format!("rampart {}\n", env!("CARGO_PKG_VERSION"))));
        assert!(t.contains("commit: "));
        assert!(t.contains("runtime: /usr/sbin/runc (runc version 1.1.5)"));
        assert!(version_text(Err("none".into())).contains("runtime: not found (none)"));
    }

    #[test]
    fn man_pages_for_the_root_and_each_command() {
        let pages = man_pages().unwrap();
        assert_eq!(pages[0].0, "rampart.1");
        assert!(pages.iter().any(|(n, _)| n == "rampart-explain.1"));
        assert!(String::from_utf8_lossy(&pages[0].1).contains(".TH rampart"));
    }

    #[test]
    fn bash_completion_knows_the_commands() {
        let mut buf = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut tree(), "rampart", &mut buf);
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("explain"));
        assert!(s.contains("check"));
    }
}
