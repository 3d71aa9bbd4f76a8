//! Raw argv → what Rampart needs to know, read exactly as runc 1.1.5 reads it.
//!
//! Rampart's own options (`--rampart-profile`, `--rampart-config`, `--rampart-runtime`)
//! stand among runc's global flags, before the command (Docker puts runtimeArgs first);
//! they are removed. Everything else is kept byte for byte, in order, as the argv handed to
//! the runtime.
//!
//! runc parses its argv with urfave/cli 1.22 over Go's flag package, and Rampart must see the
//! bundle, id and flags runc will use, never others:
//! - global flags, then the command name (the first non-flag; a `--` ends the flags and the
//!   next argument is the command);
//! - for every command but `exec` and `ps`, urfave first *moves the command's flags in front
//!   of its positional arguments* ([`reorder`], urfave's reorderArgs/argIsFlag), so
//!   `run ID --bundle EVIL` runs EVIL's config.json;
//! - then Go's flag package ([`go_parse`]): `-x` and `--x` are the same, `=value` inline, a
//!   value flag takes the next argument even if it starts with `-`, a bool flag never does
//!   (only `--x=false`), `--` ends the flags, parsing stops at the first positional, an
//!   unknown flag is an error; two names of one flag (`-b X --bundle Y`) are an error;
//! - `help, h` is a bool flag of the app and of every command (urfave adds it), `version, v`
//!   of the app; when one is set runc prints help and runs nothing.
//!
//! The flag tables below are runc 1.1.5's (main.go and each command's file).

use crate::golang;
use anyhow::{Result, bail};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// How a flag reads its value (the urfave/cli flag type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    String,
    /// IntFlag: strconv.ParseInt(s, 0, 64).
    Int,
    /// DurationFlag: time.ParseDuration.
    Duration,
    /// StringSliceFlag: each use appends.
    StringSlice,
    /// Int64SliceFlag: each use appends strconv.ParseInt(s, 10, 64).
    Int64Slice,
}

/// One flag: its names (the first is canonical) and its kind.
#[derive(Debug)]
pub struct FlagDef {
    pub names: &'static [&'static str],
    pub kind: Kind,
}

const fn def(names: &'static [&'static str], kind: Kind) -> FlagDef {
    FlagDef { names, kind }
}

use Kind::{
    Bool as B, Duration as D, Int as I, Int64Slice as I64S, String as S, StringSlice as SS,
};

/// runc's global flags, with urfave's `help, h` and `version, v`.
pub const GLOBAL_FLAGS: &[FlagDef] = &[
    def(&["debug"], B),
    def(&["log"], S),
    def(&["log-format"], S),
    def(&["root"], S),
    def(&["criu"], S),
    def(&["systemd-cgroup"], B),
    def(&["rootless"], S),
    def(&["help", "h"], B),
    def(&["version", "v"], B),
];

/// Rampart's own options: value flags among the global ones, removed before runc runs.
pub const RAMPART_FLAGS: &[&str] = &["rampart-profile", "rampart-config", "rampart-runtime"];

/// One runc command: its flags (urfave's `help, h` is added by [`command_flags`]) and whether
/// urfave reorders its argv (all but `exec` and `ps`, which set SkipArgReorder).
#[derive(Debug)]
pub struct CommandDef {
    pub name: &'static str,
    pub flags: &'static [FlagDef],
    pub reorder: bool,
}

const fn cmd(name: &'static str, flags: &'static [FlagDef], reorder: bool) -> CommandDef {
    CommandDef {
        name,
        flags,
        reorder,
    }
}

static HELP: FlagDef = def(&["help", "h"], B);

/// runc 1.1.5's commands and their flags.
pub const COMMANDS: &[CommandDef] = &[
    cmd(
        "checkpoint",
        &[
            def(&["image-path"], S),
            def(&["work-path"], S),
            def(&["parent-path"], S),
            def(&["leave-running"], B),
            def(&["tcp-established"], B),
            def(&["ext-unix-sk"], B),
            def(&["shell-job"], B),
            def(&["lazy-pages"], B),
            def(&["status-fd"], I),
            def(&["page-server"], S),
            def(&["file-locks"], B),
            def(&["pre-dump"], B),
            def(&["manage-cgroups-mode"], S),
            def(&["empty-ns"], SS),
            def(&["auto-dedup"], B),
        ],
        true,
    ),
    cmd(
        "create",
        &[
            def(&["bundle", "b"], S),
            def(&["console-socket"], S),
            def(&["pid-file"], S),
            def(&["no-pivot"], B),
            def(&["no-new-keyring"], B),
            def(&["preserve-fds"], I),
        ],
        true,
    ),
    cmd("delete", &[def(&["force", "f"], B)], true),
    cmd("events", &[def(&["interval"], D), def(&["stats"], B)], true),
    cmd(
        "exec",
        &[
            def(&["console-socket"], S),
            def(&["cwd"], S),
            def(&["env", "e"], SS),
            def(&["tty", "t"], B),
            def(&["user", "u"], S),
            def(&["additional-gids", "g"], I64S),
            def(&["process", "p"], S),
            def(&["detach", "d"], B),
            def(&["pid-file"], S),
            def(&["process-label"], S),
            def(&["apparmor"], S),
            def(&["no-new-privs"], B),
            def(&["cap", "c"], SS),
            def(&["preserve-fds"], I),
            def(&["cgroup"], SS),
            def(&["ignore-paused"], B),
        ],
        false,
    ),
    cmd("features", &[], true),
    cmd("kill", &[def(&["all", "a"], B)], true),
    cmd(
        "list",
        &[def(&["format", "f"], S), def(&["quiet", "q"], B)],
        true,
    ),
    cmd("pause", &[], true),
    cmd("ps", &[def(&["format", "f"], S)], false),
    cmd(
        "restore",
        &[
            def(&["console-socket"], S),
            def(&["image-path"], S),
            def(&["work-path"], S),
            def(&["tcp-established"], B),
            def(&["ext-unix-sk"], B),
            def(&["shell-job"], B),
            def(&["file-locks"], B),
            def(&["manage-cgroups-mode"], S),
            def(&["bundle", "b"], S),
            def(&["detach", "d"], B),
            def(&["pid-file"], S),
            def(&["no-subreaper"], B),
            def(&["no-pivot"], B),
            def(&["empty-ns"], SS),
            def(&["auto-dedup"], B),
            def(&["lazy-pages"], B),
            def(&["lsm-profile"], S),
            def(&["lsm-mount-context"], S),
        ],
        true,
    ),
    cmd("resume", &[], true),
    cmd(
        "run",
        &[
            def(&["bundle", "b"], S),
            def(&["console-socket"], S),
            def(&["detach", "d"], B),
            def(&["keep"], B),
            def(&["pid-file"], S),
            def(&["no-subreaper"], B),
            def(&["no-pivot"], B),
            def(&["no-new-keyring"], B),
            def(&["preserve-fds"], I),
        ],
        true,
    ),
    cmd(
        "spec",
        &[def(&["bundle", "b"], S), def(&["rootless"], B)],
        true,
    ),
    cmd("start", &[], true),
    cmd("state", &[], true),
    cmd(
        "update",
        &[
            def(&["resources", "r"], S),
            def(&["blkio-weight"], I),
            def(&["cpu-period"], S),
            def(&["cpu-quota"], S),
            def(&["cpu-share"], S),
            def(&["cpu-rt-period"], S),
            def(&["cpu-rt-runtime"], S),
            def(&["cpuset-cpus"], S),
            def(&["cpuset-mems"], S),
            def(&["kernel-memory"], S),
            def(&["kernel-memory-tcp"], S),
            def(&["memory"], S),
            def(&["memory-reservation"], S),
            def(&["memory-swap"], S),
            def(&["pids-limit"], I),
            def(&["l3-cache-schema"], S),
            def(&["mem-bw-schema"], S),
        ],
        true,
    ),
];

/// The runc command of this name, if any.
pub fn command_def(name: &str) -> Option<&'static CommandDef> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// A command's flags as urfave sees them: its own plus `help, h`.
pub fn command_flags(c: &CommandDef) -> Vec<&'static FlagDef> {
    c.flags.iter().chain(std::iter::once(&HELP)).collect()
}

fn global_flags() -> Vec<&'static FlagDef> {
    GLOBAL_FLAGS.iter().collect()
}

/// One use of a flag on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagUse {
    /// The flag's canonical (first) name, e.g. `bundle` for `-b`.
    pub name: &'static str,
    /// The name as written (`b`).
    pub given: String,
    /// The value: inline after `=`, or the next argument for value flags.
    pub value: Option<OsString>,
    /// Indices in [`Invocation::runtime_args`] of the tokens this use was made of.
    pub tokens: Vec<usize>,
}

/// A flag's value as runc ends up with it.
#[derive(Debug, Clone, PartialEq)]
pub enum FlagValue {
    Bool(bool),
    Str(OsString),
    Int(i64),
    Duration(i64),
    Strs(Vec<OsString>),
    Ints(Vec<i64>),
}

/// What runc reads from a list of uses: the last use wins, slices collect every use.
pub fn flag_values(
    defs: &[&'static FlagDef],
    uses: &[FlagUse],
) -> std::collections::BTreeMap<&'static str, FlagValue> {
    let mut out = std::collections::BTreeMap::new();
    for d in defs {
        let mine: Vec<&FlagUse> = uses.iter().filter(|u| u.name == d.names[0]).collect();
        let Some(last) = mine.last() else { continue };
        let bytes = |u: &FlagUse| u.value.clone().unwrap_or_default();
        let v = match d.kind {
            Kind::Bool => FlagValue::Bool(
                last.value
                    .as_ref()
                    .map(|v| golang::parse_bool(v.as_bytes()) == Some(true))
                    .unwrap_or(true),
            ),
            Kind::String => FlagValue::Str(bytes(last)),
            Kind::Int => {
                FlagValue::Int(golang::parse_int(bytes(last).as_bytes(), true).unwrap_or_default())
            }
            Kind::Duration => FlagValue::Duration(
                golang::parse_duration(bytes(last).as_bytes()).unwrap_or_default(),
            ),
            Kind::StringSlice => FlagValue::Strs(mine.iter().map(|u| bytes(u)).collect()),
            Kind::Int64Slice => {
                let mut v: Vec<i64> = mine
                    .iter()
                    .map(|u| golang::parse_int(bytes(u).as_bytes(), false).unwrap_or_default())
                    .collect();
                // urfave's normalizeFlags copies a flag to its other names with
                // Set(value.String()): for an Int64Slice that appends the joined list again,
                // which parses only when it holds one number (`-g 1` gives [1, 1]).
                if d.names.len() > 1 && v.len() == 1 {
                    v.push(v[0]);
                }
                FlagValue::Ints(v)
            }
        };
        out.insert(d.names[0], v);
    }
    out
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
    /// Every global flag runc was given (Rampart's own are not among them).
    pub flags: Vec<FlagUse>,
    /// `--help` or `--version` is set: runc prints and runs no command.
    pub help_or_version: bool,
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
    /// A runc command, parsed with its flag table (false for Rampart's own commands and for
    /// names runc does not know, which it answers with help and runs nothing).
    pub known: bool,
    /// `--help`/`-h` is set: runc prints the command's help and runs nothing.
    pub help: bool,
    pub bundle: Option<PathBuf>,
    /// Where the `--bundle`/`-b` runc reads (the last use) stands in the runtime argv (1
    /// token for `--bundle=X`).
    pub bundle_tokens: Option<std::ops::Range<usize>>,
    /// `--preserve-fds N` of create/run/exec.
    pub preserve_fds: Option<i32>,
    /// The first positional argument (the container id), as runc takes it.
    pub id: Option<String>,
    /// Every positional argument, in runc's order (for exec: id, then the program).
    pub args: Vec<OsString>,
    /// Every flag use, in the order runc parsed them.
    pub flags: Vec<FlagUse>,
    pub process: Option<PathBuf>,
    pub caps: Vec<FlagArg>,
    pub apparmor: Vec<FlagArg>,
    /// `exec --cwd`.
    pub cwd: Option<String>,
}

impl CommandArgs {
    /// Whether runc will act on this command (a runc command, without `--help`).
    pub fn runs(&self) -> bool {
        self.known && !self.help
    }

    /// The flag's value as runc reads it (`-b X` is `bundle`).
    pub fn value(&self, name: &str) -> Option<FlagValue> {
        let c = command_def(&self.name)?;
        flag_values(&command_flags(c), &self.flags).remove(name)
    }

    /// Every use of the flag (by canonical name).
    pub fn uses<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a FlagUse> + 'a {
        self.flags.iter().filter(move |u| u.name == name)
    }

    /// The string value runc reads for a string flag ("" when unset, as urfave's String).
    pub fn string(&self, name: &str) -> OsString {
        match self.value(name) {
            Some(FlagValue::Str(s)) => s,
            _ => OsString::new(),
        }
    }
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

/// urfave's argIsFlag: whether `arg` names one of `flags` (`-x`, `--x`, `---x`, `x=...`).
fn arg_is_flag(flags: &[&FlagDef], arg: &[u8]) -> bool {
    if arg == b"-" || arg == b"--" || !arg.starts_with(b"-") {
        return false;
    }
    // strings.Replace(arg, "-", "", 2) on a `--` prefix, then one more leading `-`.
    let mut name = arg;
    if name.starts_with(b"--") {
        name = &name[2..];
    }
    if name.starts_with(b"-") {
        name = &name[1..];
    }
    let name = match name.iter().position(|b| *b == b'=') {
        Some(i) => &name[..i],
        None => name,
    };
    flags
        .iter()
        .any(|f| f.names.iter().any(|n| n.as_bytes() == name))
}

/// urfave's reorderArgs: the command's flags (with what may be their values) first, then the
/// rest; everything after a `--` (which itself goes first among the rest) stays in place.
/// Items carry their index in the runtime argv.
pub fn reorder<'a>(flags: &[&FlagDef], args: &[(usize, &'a OsStr)]) -> Vec<(usize, &'a OsStr)> {
    let (mut flags_first, mut remaining) = (Vec::new(), Vec::new());
    let mut next_may_be_value = false;
    for (i, &(at, arg)) in args.iter().enumerate() {
        let b = arg.as_bytes();
        if next_may_be_value && !arg_is_flag(flags, b) {
            next_may_be_value = false;
            flags_first.push((at, arg));
        } else if b == b"--" {
            remaining.insert(0, (at, arg));
            remaining.extend_from_slice(&args[i + 1..]);
            break;
        } else if arg_is_flag(flags, b) {
            flags_first.push((at, arg));
            next_may_be_value = !b.contains(&b'=');
        } else {
            remaining.push((at, arg));
        }
    }
    flags_first.extend(remaining);
    flags_first
}

/// What Go's flag package made of an argv: the flag uses and where the positionals start.
struct GoParsed {
    uses: Vec<FlagUse>,
    rest: usize,
}

/// Go's FlagSet.Parse over `args` (with urfave's normalizeFlags check): stops at the first
/// positional or after `--`. `rampart` flags, when given, are value flags too.
fn go_parse(
    flags: &[&'static FlagDef],
    rampart: bool,
    args: &[(usize, &OsStr)],
    what: &str,
) -> Result<GoParsed> {
    let mut uses: Vec<FlagUse> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let (at, arg) = args[i];
        let s = arg.as_bytes();
        if s.len() < 2 || s[0] != b'-' {
            break;
        }
        let mut minuses = 1;
        if s[1] == b'-' {
            minuses = 2;
            if s.len() == 2 {
                i += 1;
                break;
            }
        }
        let body = &s[minuses..];
        if body.is_empty() || body[0] == b'-' || body[0] == b'=' {
            bail!("{what}: bad flag syntax: {}", arg.to_string_lossy());
        }
        let (name, inline) = match body[1..].iter().position(|b| *b == b'=') {
            Some(p) => (&body[..p + 1], Some(OsStr::from_bytes(&body[p + 2..]))),
            None => (body, None),
        };
        let name_str = String::from_utf8_lossy(name).into_owned();
        i += 1;
        let rampart_flag = rampart
            .then(|| RAMPART_FLAGS.iter().find(|n| n.as_bytes() == name))
            .flatten();
        if rampart && rampart_flag.is_none() && name.starts_with(b"rampart-") {
            bail!(
                "unknown Rampart option --{name_str} (known: --rampart-profile, --rampart-config, --rampart-runtime)"
            );
        }
        let found = flags
            .iter()
            .find(|f| f.names.iter().any(|n| n.as_bytes() == name));
        let (canonical, kind): (&'static str, Kind) = match (rampart_flag, found) {
            (Some(n), _) => (n, Kind::String),
            (None, Some(f)) => (f.names[0], f.kind),
            (None, None) => bail!("{what}: flag provided but not defined: -{name_str}"),
        };
        let mut tokens = vec![at];
        let value: Option<OsString> = if kind == Kind::Bool {
            if let Some(v) = inline
                && golang::parse_bool(v.as_bytes()).is_none()
            {
                bail!(
                    "{what}: invalid boolean value {:?} for -{name_str}",
                    v.to_string_lossy()
                );
            }
            inline.map(OsString::from)
        } else {
            let v = match inline {
                Some(v) => v,
                None if i < args.len() => {
                    tokens.push(args[i].0);
                    i += 1;
                    args[i - 1].1
                }
                None => bail!("{what}: flag needs an argument: -{name_str}"),
            };
            let ok = match kind {
                Kind::Int => golang::parse_int(v.as_bytes(), true).is_some(),
                Kind::Int64Slice => golang::parse_int(v.as_bytes(), false).is_some(),
                Kind::Duration => golang::parse_duration(v.as_bytes()).is_some(),
                _ => true,
            };
            if !ok {
                bail!(
                    "{what}: invalid value {:?} for flag -{name_str}",
                    v.to_string_lossy()
                );
            }
            Some(v.to_os_string())
        };
        uses.push(FlagUse {
            name: canonical,
            given: name_str,
            value,
            tokens,
        });
    }
    // urfave's normalizeFlags: two names of one flag are an error.
    for f in flags.iter().filter(|f| f.names.len() > 1) {
        let mut given: Vec<&str> = uses
            .iter()
            .filter(|u| u.name == f.names[0])
            .map(|u| u.given.as_str())
            .collect();
        given.sort();
        given.dedup();
        if given.len() > 1 {
            bail!(
                "{what}: cannot use two forms of the same flag: {}",
                given.join(" ")
            );
        }
    }
    Ok(GoParsed { uses, rest: i })
}

fn truthy(values: &std::collections::BTreeMap<&str, FlagValue>, name: &str) -> bool {
    matches!(values.get(name), Some(FlagValue::Bool(true)))
}

pub fn parse(argv: Vec<OsString>) -> Result<Invocation> {
    let mut it = argv.into_iter();
    let mut inv = Invocation {
        argv0: it.next().unwrap_or_default(),
        ..Default::default()
    };
    let rest: Vec<OsString> = it.collect();
    let indexed: Vec<(usize, &OsStr)> = rest
        .iter()
        .enumerate()
        .map(|(i, a)| (i, a.as_os_str()))
        .collect();
    let globals = global_flags();
    let parsed = go_parse(&globals, true, &indexed, "runc")?;
    // Rampart's options leave the argv; runc's stay.
    let mut stripped = vec![false; rest.len()];
    for u in &parsed.uses {
        let value = u.value.clone();
        match u.name {
            "rampart-profile" => {
                inv.rampart.profile = value.map(|v| v.to_string_lossy().into_owned())
            }
            "rampart-config" => inv.rampart.config = value.map(PathBuf::from),
            "rampart-runtime" => inv.rampart.runtime = value.map(PathBuf::from),
            _ => continue,
        }
        for t in &u.tokens {
            stripped[*t] = true;
        }
    }
    let mut new_index = vec![0; rest.len()];
    for (i, a) in rest.iter().enumerate() {
        new_index[i] = inv.runtime_args.len();
        if !stripped[i] {
            inv.runtime_args.push(a.clone());
        }
    }
    for mut u in parsed.uses {
        if RAMPART_FLAGS.contains(&u.name) {
            continue;
        }
        for t in &mut u.tokens {
            *t = new_index[*t];
        }
        inv.global.flags.push(u);
    }
    let values = flag_values(&globals, &inv.global.flags);
    let string = |n: &str| match values.get(n) {
        Some(FlagValue::Str(s)) => Some(s.clone()),
        _ => None,
    };
    inv.global.log = string("log").map(PathBuf::from);
    inv.global.log_format = string("log-format").map(|v| v.to_string_lossy().into_owned());
    inv.global.root = string("root").map(PathBuf::from);
    inv.global.help_or_version = truthy(&values, "help") || truthy(&values, "version");
    let Some(name_at) = (parsed.rest < rest.len()).then(|| new_index[parsed.rest]) else {
        return Ok(inv);
    };
    if inv.global.help_or_version {
        return Ok(inv);
    }
    let name = inv.runtime_args[name_at].to_string_lossy().into_owned();
    inv.command = Some(parse_command(name, &inv.runtime_args, name_at)?);
    Ok(inv)
}

/// Parses a command's own flags in `args[start+1..]` (`args[start]` is the command) as runc
/// does; names runc does not know are returned unparsed (`known: false`).
fn parse_command(name: String, args: &[OsString], start: usize) -> Result<CommandArgs> {
    let mut cmd = CommandArgs {
        name,
        ..Default::default()
    };
    let Some(c) = command_def(&cmd.name) else {
        return Ok(cmd);
    };
    cmd.known = true;
    let flags = command_flags(c);
    let tail: Vec<(usize, &OsStr)> = args
        .iter()
        .enumerate()
        .skip(start + 1)
        .map(|(i, a)| (i, a.as_os_str()))
        .collect();
    let ordered = if c.reorder {
        reorder(&flags, &tail)
    } else {
        tail
    };
    let parsed = go_parse(&flags, false, &ordered, &format!("runc {}", c.name))?;
    cmd.flags = parsed.uses;
    cmd.args = ordered[parsed.rest..]
        .iter()
        .map(|(_, a)| a.to_os_string())
        .collect();
    cmd.id = cmd.args.first().map(|s| s.to_string_lossy().into_owned());
    let values = flag_values(&flags, &cmd.flags);
    cmd.help = truthy(&values, "help");
    let string = |n: &str| match values.get(n) {
        Some(FlagValue::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    cmd.bundle = string("bundle").map(PathBuf::from);
    cmd.bundle_tokens = cmd
        .uses("bundle")
        .last()
        .map(|u| u.tokens[0]..u.tokens[u.tokens.len() - 1] + 1);
    cmd.preserve_fds = match values.get("preserve-fds") {
        Some(FlagValue::Int(n)) => i32::try_from(*n).ok(),
        _ => None,
    };
    cmd.process = string("process").map(PathBuf::from);
    cmd.cwd = string("cwd").map(|v| v.to_string_lossy().into_owned());
    let arg = |u: &FlagUse| FlagArg {
        tokens: u.tokens[0]..u.tokens[u.tokens.len() - 1] + 1,
        value: u
            .value
            .as_ref()
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    cmd.caps = cmd.uses("cap").map(arg).collect();
    cmd.apparmor = cmd.uses("apparmor").map(arg).collect();
    Ok(cmd)
}

/// `--log` and `--log-format` found without failing, for reporting an argv that [`parse`]
/// refused: the error must still reach the log file the engine reads.
pub fn lenient_global(argv: &[OsString]) -> GlobalArgs {
    let mut g = GlobalArgs::default();
    let mut i = 1;
    while i < argv.len() {
        let Some((name, inline)) = lenient_flag(&argv[i]) else {
            break;
        };
        let value = inline.or_else(|| argv.get(i + 1).map(OsString::as_os_str));
        match name {
            "log" => g.log = value.map(PathBuf::from),
            "log-format" => g.log_format = value.map(|v| v.to_string_lossy().into_owned()),
            _ => {}
        }
        let takes_value = GLOBAL_FLAGS
            .iter()
            .any(|f| f.kind != Kind::Bool && f.names.contains(&name))
            || name.starts_with("rampart-");
        i += if inline.is_none() && takes_value {
            2
        } else {
            1
        };
    }
    g
}

/// `--name=value` / `-name` as (name, inline value); None for non-flags.
fn lenient_flag(arg: &OsStr) -> Option<(&str, Option<&OsStr>)> {
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
    Some((std::str::from_utf8(name).unwrap_or("\u{fffd}"), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_p(args: &[&str]) -> Result<Invocation> {
        parse(
            std::iter::once("rampart")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect(),
        )
    }
    fn p(args: &[&str]) -> Invocation {
        try_p(args).unwrap()
    }
    fn rt(inv: &Invocation) -> Vec<String> {
        inv.runtime_args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }
    fn bundle_id(args: &[&str]) -> (Option<String>, Option<String>) {
        let c = p(args).command.unwrap();
        (
            c.bundle.map(|b| b.to_string_lossy().into_owned()),
            c.id.clone(),
        )
    }
    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
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
        assert!(c.runs());
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
        let c = inv.command.unwrap();
        assert_eq!(c.bundle.unwrap(), PathBuf::from("/x"));
        assert_eq!(c.flags[0].tokens, vec![3], "indices are the runtime argv's");
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
            (vec!["run", "--no-pivot=false", "id"], None),
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

    /// urfave moves flags that follow the id in front of it (not for exec and ps).
    #[test]
    fn flags_after_the_id_count_as_runc_reorders_them() {
        assert_eq!(
            bundle_id(&["run", "ID", "--bundle", "EVIL"]),
            (s("EVIL"), s("ID"))
        );
        assert_eq!(
            bundle_id(&["create", "ID", "-b=EVIL"]),
            (s("EVIL"), s("ID"))
        );
        assert_eq!(
            bundle_id(&["create", "--bundle", "/a", "ID", "--bundle", "/b"]),
            (s("/b"), s("ID")),
            "the last use wins"
        );
        // A bool flag "takes" the next argument while reordering, but not while parsing:
        // that argument becomes the id.
        assert_eq!(
            bundle_id(&["run", "ID", "--detach", "EVIL"]),
            (None, s("EVIL"))
        );
        assert_eq!(
            bundle_id(&["create", "ID", "--no-pivot", "--bundle", "/b"]),
            (s("/b"), s("ID"))
        );
        // A value flag takes the next argument even when it looks like a flag.
        assert_eq!(
            bundle_id(&["create", "--bundle", "--no-pivot", "ID"]),
            (s("--no-pivot"), s("ID"))
        );
        assert_eq!(
            bundle_id(&["create", "--bundle", "-x", "ID"]),
            (s("-x"), s("ID"))
        );
        // `--` ends the flags; what follows is positional, and urfave puts it first.
        assert_eq!(
            bundle_id(&["create", "ID", "--", "--bundle", "/b"]),
            (None, s("ID"))
        );
        assert_eq!(
            bundle_id(&["create", "--", "--bundle", "/b"]),
            (None, s("--bundle"))
        );
        assert_eq!(
            bundle_id(&["create", "--bundle", "--", "ID"]),
            (s("--"), s("ID"))
        );
        // update and restore are reordered too.
        let c = p(&["update", "ID", "--pids-limit", "-1"]).command.unwrap();
        assert_eq!(c.value("pids-limit"), Some(FlagValue::Int(-1)));
        assert_eq!(c.id.as_deref(), Some("ID"));
        assert_eq!(c.flags[0].tokens, vec![2, 3]);
    }

    #[test]
    fn exec_and_ps_are_not_reordered() {
        let c = p(&["exec", "ID", "--cap", "CAP_SYS_ADMIN", "sh"])
            .command
            .unwrap();
        assert!(c.caps.is_empty());
        assert_eq!(c.args, ["ID", "--cap", "CAP_SYS_ADMIN", "sh"]);
        let c = p(&["ps", "ID", "--format", "json"]).command.unwrap();
        assert_eq!(c.args, ["ID", "--format", "json"]);
    }

    #[test]
    fn global_double_dash_and_help() {
        let inv = p(&["--root", "/r", "--", "create", "--bundle", "/b", "ID"]);
        assert_eq!(inv.command_name(), Some("create"));
        assert_eq!(
            rt(&inv),
            ["--root", "/r", "--", "create", "--bundle", "/b", "ID"]
        );
        assert_eq!(p(&["--help", "create", "ID"]).command, None);
        assert_eq!(p(&["-v", "create", "ID"]).command, None);
        assert!(p(&["--help=false", "create", "ID"]).command.is_some());
        let c = p(&["create", "ID", "-h"]).command.unwrap();
        assert!(c.help && !c.runs());
        assert!(!p(&["frobnicate", "x"]).command.unwrap().known);
    }

    #[test]
    fn what_runc_refuses_is_an_error() {
        for args in [
            &["create", "-b", "/a", "--bundle", "/b", "ID"][..],
            &["create", "--bogus", "ID"],
            &["create", "---bundle", "/b", "ID"],
            &["create", "-=x", "ID"],
            &["create", "--no-pivot=yes", "ID"],
            &["create", "--preserve-fds", "x", "ID"],
            &["--bogus", "create", "ID"],
            &["-h", "--help", "create"],
            &["exec", "--cap", "A", "-c", "B", "ID", "sh"],
            &["exec", "-g", "0x1", "ID", "sh"],
        ] {
            assert!(try_p(args).is_err(), "{args:?}");
        }
        let c = p(&["create", "--preserve-fds", "0x10", "ID"])
            .command
            .unwrap();
        assert_eq!(c.value("preserve-fds"), Some(FlagValue::Int(16)));
    }

    #[test]
    fn exec_process_and_caps_and_inner_args_left_alone() {
        let inv = p(&[
            "exec",
            "--process",
            "/tmp/p.json",
            "--cap",
            "CAP_SYS_ADMIN",
            "--cap=CAP_KILL",
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
        let c = p(&["exec", "-c", "CAP_KILL", "id", "ls"]).command.unwrap();
        assert_eq!(c.caps[0].value, "CAP_KILL");
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
        assert!(try_p(&["--rampart-profile"]).is_err());
        assert!(try_p(&["--rampart-bogus", "x", "create", "id"]).is_err());
        assert!(try_p(&["--log"]).is_err());
        assert!(try_p(&["create", "--bundle"]).is_err());
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
