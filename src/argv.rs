//! Raw argv → what Rampart needs to know, losslessly.
//!
//! Rampart's own options (`--rampart-profile`, `--rampart-config`, `--rampart-runtime`)
//! may stand anywhere before the command (Docker puts runtimeArgs first); they are removed.
//! Everything else is kept byte for byte, in order, as the argv handed to the runtime.
//! runc parses flags with Go's flag package: `-x` and `--x` are the same, a value follows
//! as the next argument or after `=`, and parsing stops at the first positional argument.

use anyhow::{Result, bail};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// runc's global flags that take a value.
const GLOBAL_VALUE_FLAGS: &[&str] = &["log", "log-format", "root", "criu", "rootless"];

/// Per command: runc 1.1 flags that take a value (short and long names).
fn command_value_flags(command: &str) -> &'static [&'static str] {
    match command {
        "create" | "run" => &["bundle", "b", "console-socket", "pid-file", "preserve-fds"],
        "exec" => &[
            "console-socket",
            "cwd",
            "env",
            "e",
            "user",
            "u",
            "additional-gids",
            "g",
            "process",
            "p",
            "pid-file",
            "process-label",
            "apparmor",
            "cap",
            "c",
            "preserve-fds",
            "cgroup",
        ],
        _ => &[],
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct RampartArgs {
    pub profile: Option<String>,
    pub config: Option<PathBuf>,
    pub runtime: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct GlobalArgs {
    pub log: Option<PathBuf>,
    pub log_format: Option<String>,
    pub root: Option<PathBuf>,
}

/// A `--cap` or `--apparmor` flag of `exec`: where it stands in the runtime argv and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagArg {
    pub tokens: std::ops::Range<usize>,
    pub value: String,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct CommandArgs {
    pub name: String,
    pub bundle: Option<PathBuf>,
    /// Where the (last) `--bundle`/`-b` stands in the runtime argv (1 token for `--bundle=X`).
    pub bundle_tokens: Option<std::ops::Range<usize>>,
    /// `--preserve-fds N` of create/run/exec.
    pub preserve_fds: Option<i32>,
    pub id: Option<String>,
    pub process: Option<PathBuf>,
    pub caps: Vec<FlagArg>,
    pub apparmor: Vec<FlagArg>,
    /// `exec --cwd`.
    pub cwd: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Invocation {
    /// argv[0] as Rampart was started (`rampart-baseline` selects a profile).
    pub argv0: OsString,
    pub rampart: RampartArgs,
    pub global: GlobalArgs,
    pub command: Option<CommandArgs>,
    /// argv[1..] without Rampart's own options: what the runtime gets.
    pub runtime_args: Vec<OsString>,
}

impl Invocation {
    /// The profile a name like `rampart-baseline` selects.
    pub fn profile_from_argv0(&self) -> Option<String> {
        let base = std::path::Path::new(&self.argv0).file_name()?.to_str()?;
        base.strip_prefix("rampart-")
            .filter(|n| !n.is_empty())
            .map(String::from)
    }

    pub fn command_name(&self) -> Option<&str> {
        self.command.as_ref().map(|c| c.name.as_str())
    }
}

/// Splits `--name=value` / `-name` into (name, inline value). None for non-flags.
/// Splits `--name=value` / `-name` into (name, inline value). None for non-flags. The name
/// must be UTF-8 (all of runc's and Rampart's are); the value may be any bytes, so a
/// non-UTF-8 path is still recognised as a flag's value (never as the command).
fn flag(arg: &OsStr) -> Option<(&str, Option<&OsStr>)> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = arg.as_bytes();
    let body = bytes
        .strip_prefix(b"--")
        .or_else(|| bytes.strip_prefix(b"-"))?;
    if body.is_empty() || bytes == b"--" {
        return None;
    }
    let (name, value) = match body.iter().position(|b| *b == b'=') {
        Some(i) => (&body[..i], Some(OsStr::from_bytes(&body[i + 1..]))),
        None => (body, None),
    };
    // A flag whose name is not UTF-8 is no flag runc knows: treat it as a flag all the same
    // (runc will reject it) rather than as the command.
    Some((std::str::from_utf8(name).unwrap_or("\u{fffd}"), value))
}

pub fn parse(argv: Vec<OsString>) -> Result<Invocation> {
    let mut it = argv.into_iter();
    let mut inv = Invocation {
        argv0: it.next().unwrap_or_default(),
        ..Default::default()
    };
    let rest: Vec<OsString> = it.collect();
    let mut i = 0;
    // Global section: Rampart's options and runc's global flags, up to the command.
    while i < rest.len() {
        let arg = &rest[i];
        let Some((name, inline)) = flag(arg) else {
            break;
        };
        let takes_value = GLOBAL_VALUE_FLAGS.contains(&name) || name.starts_with("rampart-");
        let (value, used) = match (takes_value, inline) {
            (false, _) => (None, 1),
            (true, Some(v)) => (Some(OsString::from(v)), 1),
            (true, None) => match rest.get(i + 1) {
                Some(v) => (Some(v.clone()), 2),
                None => bail!("option --{name} needs a value"),
            },
        };
        match name {
            "rampart-profile" => {
                inv.rampart.profile = value.map(|v| v.to_string_lossy().into_owned())
            }
            "rampart-config" => inv.rampart.config = value.map(PathBuf::from),
            "rampart-runtime" => inv.rampart.runtime = value.map(PathBuf::from),
            n if n.starts_with("rampart-") => {
                bail!(
                    "unknown Rampart option --{n} (known: --rampart-profile, --rampart-config, --rampart-runtime)"
                )
            }
            _ => {
                match name {
                    "log" => inv.global.log = value.map(PathBuf::from),
                    "log-format" => {
                        inv.global.log_format = value.map(|v| v.to_string_lossy().into_owned())
                    }
                    "root" => inv.global.root = value.map(PathBuf::from),
                    _ => {}
                }
                inv.runtime_args.extend(rest[i..i + used].iter().cloned());
            }
        }
        i += used;
    }
    let Some(command) = rest.get(i).and_then(|c| c.to_str()).map(String::from) else {
        inv.runtime_args.extend(rest[i..].iter().cloned());
        return Ok(inv);
    };
    let start = inv.runtime_args.len();
    inv.runtime_args.extend(rest[i..].iter().cloned());
    inv.command = Some(parse_command(command, &inv.runtime_args, start)?);
    Ok(inv)
}

/// Scans a command's own flags in `args[start..]` (`args[start]` is the command).
fn parse_command(name: String, args: &[OsString], start: usize) -> Result<CommandArgs> {
    let value_flags = command_value_flags(&name);
    let mut cmd = CommandArgs {
        name,
        ..Default::default()
    };
    let mut i = start + 1;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        let Some((flag_name, inline)) = flag(arg) else {
            break;
        };
        let (value, used) = if !value_flags.contains(&flag_name) {
            (None, 1)
        } else if let Some(v) = inline {
            (Some(OsString::from(v)), 1)
        } else if let Some(v) = args.get(i + 1) {
            (Some(v.clone()), 2)
        } else {
            bail!("{} option -{flag_name} needs a value", cmd.name)
        };
        match (flag_name, value) {
            ("bundle" | "b", Some(v)) => {
                cmd.bundle = Some(PathBuf::from(v));
                cmd.bundle_tokens = Some(i..i + used);
            }
            ("preserve-fds", Some(v)) => cmd.preserve_fds = v.to_str().and_then(|v| v.parse().ok()),
            ("process" | "p", Some(v)) => cmd.process = Some(PathBuf::from(v)),
            ("cap" | "c", Some(v)) => cmd.caps.push(FlagArg {
                tokens: i..i + used,
                value: v.to_string_lossy().into_owned(),
            }),
            ("cwd", Some(v)) => cmd.cwd = Some(v.to_string_lossy().into_owned()),
            ("apparmor", Some(v)) => cmd.apparmor.push(FlagArg {
                tokens: i..i + used,
                value: v.to_string_lossy().into_owned(),
            }),
            _ => {}
        }
        i += used;
    }
    cmd.id = args.get(i).map(|s| s.to_string_lossy().into_owned());
    Ok(cmd)
}

/// `--log` and `--log-format` found without failing, for reporting an argv that [`parse`]
/// refused: the error must still reach the log file the engine reads.
pub fn lenient_global(argv: &[OsString]) -> GlobalArgs {
    let mut g = GlobalArgs::default();
    let mut i = 1;
    while i < argv.len() {
        let Some((name, inline)) = flag(&argv[i]) else {
            break;
        };
        let value = inline.or_else(|| argv.get(i + 1).map(OsString::as_os_str));
        match name {
            "log" => g.log = value.map(PathBuf::from),
            "log-format" => g.log_format = value.map(|v| v.to_string_lossy().into_owned()),
            _ => {}
        }
        i += if inline.is_none()
            && (GLOBAL_VALUE_FLAGS.contains(&name) || name.starts_with("rampart-"))
        {
            2
        } else {
            1
        };
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Invocation {
        parse(
            std::iter::once("rampart")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect(),
        )
        .unwrap()
    }
    fn rt(inv: &Invocation) -> Vec<String> {
        inv.runtime_args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn docker_create_argv_passes_through_unchanged() {
        let args = [
            "--root",
            "/run/docker/runtime-runc/moby",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "abc",
        ];
        let inv = p(&args);
        assert_eq!(rt(&inv), args);
        assert_eq!(
            inv.global.log.as_deref(),
            Some(std::path::Path::new("/b/log.json"))
        );
        assert_eq!(inv.global.log_format.as_deref(), Some("json"));
        let c = inv.command.unwrap();
        assert_eq!(
            (
                c.name.as_str(),
                c.bundle.unwrap().to_str().unwrap(),
                c.id.unwrap().as_str()
            ),
            ("create", "/b", "abc")
        );
    }

    #[test]
    fn runtime_args_first_are_stripped_in_every_form() {
        let inv = p(&[
            "--rampart-profile",
            "baseline",
            "--rampart-config=/c.toml",
            "--root",
            "/r",
            "-rampart-runtime",
            "/usr/sbin/runc",
            "run",
            "-b=/x",
            "id1",
        ]);
        assert_eq!(inv.rampart.profile.as_deref(), Some("baseline"));
        assert_eq!(
            inv.rampart.config.as_deref(),
            Some(std::path::Path::new("/c.toml"))
        );
        assert_eq!(
            inv.rampart.runtime.as_deref(),
            Some(std::path::Path::new("/usr/sbin/runc"))
        );
        assert_eq!(rt(&inv), ["--root", "/r", "run", "-b=/x", "id1"]);
        assert_eq!(inv.command.unwrap().bundle.unwrap(), PathBuf::from("/x"));
    }

    #[test]
    fn bundle_forms_and_bool_flags() {
        for (args, bundle) in [
            (vec!["create", "--bundle=/a", "id"], Some("/a")),
            (vec!["create", "-b", "/a", "id"], Some("/a")),
            (
                vec!["create", "--bundle", "/a", "--no-pivot", "id"],
                Some("/a"),
            ),
            (
                vec![
                    "--debug",
                    "--systemd-cgroup",
                    "create",
                    "--console-socket",
                    "/s",
                    "id",
                ],
                None,
            ),
            (vec!["run", "-d", "--keep", "id"], None),
        ] {
            let c = p(&args).command.unwrap();
            assert_eq!(
                c.bundle.as_deref().map(|b| b.to_str().unwrap()),
                bundle,
                "{args:?}"
            );
            assert_eq!(c.id.as_deref(), Some("id"), "{args:?}");
        }
    }

    #[test]
    fn exec_process_and_caps_and_inner_args_left_alone() {
        let inv = p(&[
            "exec",
            "--process",
            "/tmp/p.json",
            "--cap",
            "CAP_SYS_ADMIN",
            "-c=CAP_KILL",
            "--apparmor=unconfined",
            "--detach",
            "id",
            "ls",
            "--cap",
            "x",
        ]);
        let c = inv.command.unwrap();
        assert_eq!(c.process.unwrap(), PathBuf::from("/tmp/p.json"));
        assert_eq!(
            c.caps.len(),
            2,
            "flags after the container id belong to the program"
        );
        assert_eq!(c.caps[0].value, "CAP_SYS_ADMIN");
        assert_eq!(c.caps[0].tokens, 3..5);
        assert_eq!(c.caps[1].tokens, 5..6);
        assert_eq!(c.apparmor.len(), 1);
        assert_eq!(c.apparmor[0].value, "unconfined");
        assert_eq!(c.apparmor[0].tokens, 6..7);
        assert_eq!(c.id.as_deref(), Some("id"));
    }

    #[test]
    fn no_command_version_help_and_other_commands() {
        assert_eq!(p(&["--version"]).command, None);
        assert_eq!(rt(&p(&["--version"])), ["--version"]);
        assert_eq!(p(&["--help"]).command, None);
        let inv = p(&["--rampart-profile", "x", "delete", "--force", "id"]);
        assert_eq!(rt(&inv), ["delete", "--force", "id"]);
        assert_eq!(inv.command_name(), Some("delete"));
        assert_eq!(p(&[]).runtime_args, Vec::<OsString>::new());
    }

    #[test]
    fn non_utf8_arguments_pass_through_byte_for_byte() {
        use std::os::unix::ffi::OsStringExt;
        let weird = OsString::from_vec(vec![b'i', 0xff, b'd']);
        let inv = parse(vec![
            "rampart".into(),
            "kill".into(),
            weird.clone(),
            "9".into(),
        ])
        .unwrap();
        assert_eq!(
            inv.runtime_args,
            vec![OsString::from("kill"), weird, OsString::from("9")]
        );
    }

    #[test]
    fn bad_rampart_options_are_errors() {
        let bad = |a: &[&str]| {
            parse(
                std::iter::once("rampart")
                    .chain(a.iter().copied())
                    .map(OsString::from)
                    .collect(),
            )
            .is_err()
        };
        assert!(bad(&["--rampart-profile"]));
        assert!(bad(&["--rampart-bogus", "x", "create", "id"]));
        assert!(bad(&["--log"]));
        assert!(bad(&["create", "--bundle"]));
    }

    #[test]
    fn argv0_selects_profile() {
        let mut inv = p(&[]);
        inv.argv0 = "/usr/local/bin/rampart-baseline".into();
        assert_eq!(inv.profile_from_argv0().as_deref(), Some("baseline"));
        inv.argv0 = "rampart".into();
        assert_eq!(inv.profile_from_argv0(), None);
    }
}
