//! Rampart's own commands, for admins: `rampart explain ...` and friends. runc has no
//! commands by these names, so they cannot shadow anything an engine calls. Each command
//! lives in its own file and is registered in [`COMMANDS`].

use crate::argv::Invocation;
use crate::host::Host;

pub mod apparmor;
pub mod audit;
pub mod check;
pub mod cli;
pub mod doctor;
pub mod explain;
pub mod install;
pub mod learn;
pub mod pagecache;
pub mod profiles;
pub mod storage;
pub mod why;

pub type CommandMain = fn(&Invocation, &[std::ffi::OsString], &dyn Host) -> i32;
pub type CommandTree = fn() -> clap::Command;

/// Name, one-line summary, entry point (which gets `rampart NAME ARGS...` as its argv), and
/// its clap parser (for `--help`, completions and man pages: [`cli::tree`]).
pub const COMMANDS: &[(&str, &str, CommandMain, CommandTree)] = &[
    (
        "apparmor",
        "install or check Rampart's AppArmor profile",
        apparmor::main,
        apparmor::command,
    ),
    (
        "audit",
        "judge specs against CIS Docker 5.x, PSS and Rampart's rules",
        audit::main,
        audit::command,
    ),
    (
        "check",
        "check config.toml and every profile before they take containers down",
        check::main,
        check::command,
    ),
    (
        "completions",
        "print a bash, zsh or fish completion script",
        cli::completions_main,
        cli::completions_command,
    ),
    (
        "config",
        "print the default config.toml, commented",
        profiles::config_main,
        profiles::config_command,
    ),
    (
        "doctor",
        "check whether this host can run Rampart's profiles, and how safely",
        doctor::main,
        doctor::command,
    ),
    (
        "explain",
        "show what Rampart would change in a spec, and why",
        explain::main,
        explain::command,
    ),
    (
        "install",
        "register Rampart with docker or containerd",
        install::main,
        install::command,
    ),
    (
        "learn",
        "show recordings of a workload, or make a least-privilege profile from them",
        learn::main,
        learn::command,
    ),
    (
        "man",
        "print or write Rampart's man pages",
        cli::man_main,
        cli::man_command,
    ),
    (
        "pagecache",
        "load Rampart's binary into the page cache as 2 MiB pages (faster starts)",
        pagecache::main,
        pagecache::command,
    ),
    (
        "profile",
        "list profiles, or show one as written or in effect",
        profiles::profile_main,
        profiles::profile_command,
    ),
    (
        "uninstall",
        "remove Rampart from docker or containerd",
        install::main,
        install::command,
    ),
    (
        "version",
        "print Rampart's version, commit and the runc it runs",
        cli::version_main,
        cli::version_command,
    ),
    (
        "why",
        "show what Rampart changed for a container, what that breaks, and the fix",
        why::main,
        why::command,
    ),
];

/// Runs an admin command if the invocation names one.
pub fn dispatch(inv: &Invocation, host: &dyn Host) -> Option<i32> {
    if let Some(code) = cli::front(inv, host) {
        return Some(code);
    }
    let name = inv.command_name()?;
    let (_, _, main, _) = COMMANDS.iter().find(|(n, ..)| *n == name)?;
    let args: Vec<std::ffi::OsString> = inv
        .runtime_args
        .iter()
        .skip_while(|a| *a != name)
        .cloned()
        .collect();
    Some(main(inv, &args, host))
}

/// A Rampart command whose answer is text: its arguments parsed ([`parse`]), then `run`'s
/// text printed on stdout (exit 0) or its error, as `error` words it, on stderr (exit 1).
pub(crate) fn text_command<A: clap::Parser>(
    args: &[std::ffi::OsString],
    run: impl FnOnce(A) -> anyhow::Result<String>,
    error: impl FnOnce(&anyhow::Error) -> String,
) -> i32 {
    let parsed = match parse::<A>(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(parsed) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("{}", error(&e));
            1
        }
    }
}

/// A Rampart command's arguments parsed by clap; on `--help`, `--version` or a usage error,
/// clap's text is printed and the exit status returned as the error (0, or 2 for misuse).
pub(crate) fn parse<A: clap::Parser>(args: &[std::ffi::OsString]) -> Result<A, i32> {
    A::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { cli::EXIT_USAGE } else { 0 }
    })
}
