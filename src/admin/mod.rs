//! Rampart's own commands, for admins: `rampart explain ...` and friends. runc has no
//! commands by these names, so they cannot shadow anything an engine calls. Each command
//! lives in its own file and is registered in [`COMMANDS`].

use crate::argv::Invocation;
use crate::host::Host;

pub mod apparmor;
pub mod audit;
pub mod doctor;
pub mod explain;
pub mod install;
pub mod why;

pub type CommandMain = fn(&Invocation, &[std::ffi::OsString], &dyn Host) -> i32;

/// Name, one-line summary, entry point (which gets `rampart NAME ARGS...` as its argv).
pub const COMMANDS: &[(&str, &str, CommandMain)] = &[
    (
        "apparmor",
        "install or check Rampart's AppArmor profile",
        apparmor::main,
    ),
    (
        "audit",
        "judge specs against CIS Docker 5.x, PSS and Rampart's rules",
        audit::main,
    ),
    (
        "doctor",
        "check whether this host can run Rampart's profiles, and how safely",
        doctor::main,
    ),
    (
        "explain",
        "show what Rampart would change in a spec, and why",
        explain::main,
    ),
    (
        "install",
        "register Rampart with docker or containerd",
        install::main,
    ),
    (
        "uninstall",
        "remove Rampart from docker or containerd",
        install::main,
    ),
    (
        "why",
        "show what Rampart changed for a container, what that breaks, and the fix",
        why::main,
    ),
];

/// Runs an admin command if the invocation names one.
pub fn dispatch(inv: &Invocation, host: &dyn Host) -> Option<i32> {
    let name = inv.command_name()?;
    let (_, _, main) = COMMANDS.iter().find(|(n, _, _)| *n == name)?;
    let args: Vec<std::ffi::OsString> = inv
        .runtime_args
        .iter()
        .skip_while(|a| *a != name)
        .cloned()
        .collect();
    Some(main(inv, &args, host))
}
