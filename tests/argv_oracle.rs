//! Rampart reads argv as runc does: a Go oracle (tests/oracle/argv/main.go) defines runc
//! 1.1.5's global and per-command flags with the real urfave/cli and prints what it parsed;
//! Rampart's parse must be the same (command, id and positionals, every flag's value, the
//! global flags) over hand-picked and generated argvs. Where runc runs nothing (an error,
//! help, an unknown command) Rampart must not act either.
//!
//! Needs Go and Debian's golang-github-urfave-cli-dev (scripts/setup-host installs them);
//! the oracle is built into target/oracle-argv. PROPTEST_CASES sets the number of generated
//! argvs (default 20000).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rampart::argv::{self, FlagValue};
use serde_json::{Map, Value, json};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the oracle once per test binary (a file lock serializes test binaries).
fn oracle() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = manifest().join("target");
            std::fs::create_dir_all(&target).unwrap();
            let lock = std::fs::File::create(target.join("oracle-argv.lock")).unwrap();
            lock.lock().unwrap();
            let out = target.join("oracle-argv");
            let status = Command::new("go")
                .args(["build", "-o"])
                .arg(&out)
                .arg("./tests/oracle/argv")
                .current_dir(manifest())
                .env("GO111MODULE", "off")
                .env("GOPATH", "/usr/share/gocode")
                .env("GOCACHE", target.join("go-cache"))
                .status()
                .unwrap_or_else(|e| {
                    panic!("cannot run go ({e}): install golang-go and golang-github-urfave-cli-dev (scripts/setup-host)")
                });
            assert!(status.success(), "building the argv oracle failed");
            out
        })
        .clone()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What runc makes of each argv (argv[1:]), in one run of the oracle.
fn ask(argvs: &[Vec<OsString>]) -> Vec<Value> {
    let mut child = Command::new(oracle())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = Vec::new();
    for a in argvs {
        let line: Vec<String> = a.iter().map(|t| hex(t.as_bytes())).collect();
        input.extend(serde_json::to_vec(&line).unwrap());
        input.push(b'\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let answers: Vec<Value> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(answers.len(), argvs.len());
    answers
}

fn flags_json(values: std::collections::BTreeMap<&str, FlagValue>) -> Value {
    let mut m = Map::new();
    for (k, v) in values {
        let v = match v {
            FlagValue::Bool(b) => json!(b),
            FlagValue::Str(s) => json!(hex(s.as_bytes())),
            FlagValue::Int(i) | FlagValue::Duration(i) => json!(i),
            FlagValue::Strs(v) if v.is_empty() => continue,
            FlagValue::Strs(v) => json!(v.iter().map(|s| hex(s.as_bytes())).collect::<Vec<_>>()),
            FlagValue::Ints(v) if v.is_empty() => continue,
            FlagValue::Ints(v) => json!(v),
        };
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// Rampart's parse in the oracle's shape.
fn rampart_view(args: &[OsString]) -> Value {
    let argv: Vec<OsString> = std::iter::once(OsString::from("rampart"))
        .chain(args.iter().cloned())
        .collect();
    let inv = match argv::parse(argv) {
        Ok(inv) => inv,
        Err(_) => return json!({"ran": false, "error": true}),
    };
    let Some(cmd) = inv.command.as_ref().filter(|c| c.runs()) else {
        return json!({"ran": false});
    };
    let def = argv::command_def(&cmd.name).unwrap();
    let globals: Vec<&argv::FlagDef> = argv::GLOBAL_FLAGS.iter().collect();
    json!({
        "ran": true,
        "error": false,
        "command": cmd.name,
        "args": cmd.args.iter().map(|a| hex(a.as_bytes())).collect::<Vec<_>>(),
        "flags": flags_json(argv::flag_values(&argv::command_flags(def), &cmd.flags)),
        "global": flags_json(argv::flag_values(&globals, &inv.global.flags)),
    })
}

/// Drops empty arrays and objects (Go's omitempty).
fn normal(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| match x {
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        });
    }
    v
}

/// Both run the same thing, or neither runs anything.
fn agree(runc: &Value, rampart: &Value) -> bool {
    if runc["ran"] == true || rampart["ran"] == true {
        normal(runc) == normal(rampart)
    } else {
        true
    }
}

/// What runc is handed: the argv without Rampart's options (as is, where Rampart refuses it).
fn handed(args: &[OsString]) -> Vec<OsString> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("rampart"))
        .chain(args.iter().cloned())
        .collect();
    argv::parse(argv)
        .map(|inv| inv.runtime_args)
        .unwrap_or_else(|_| args.to_vec())
}

fn check_all(argvs: &[Vec<OsString>]) {
    let answers = ask(&argvs.iter().map(|a| handed(a)).collect::<Vec<_>>());
    let mut bad = Vec::new();
    for (a, runc) in argvs.iter().zip(&answers) {
        let mine = rampart_view(a);
        if !agree(runc, &mine) {
            bad.push(format!("{a:?}\n  runc:    {runc}\n  rampart: {mine}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} argvs parsed differently:\n{}",
        bad.len(),
        argvs.len(),
        bad.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

#[test]
fn hand_picked_argvs_parse_as_runc_parses_them() {
    let cases: Vec<Vec<OsString>> = [
        &["run", "ID", "--bundle", "EVIL"][..],
        &["run", "ID", "-b", "EVIL"],
        &["run", "ID", "--bundle=EVIL"],
        &["run", "ID", "-b=EVIL", "--detach"],
        &["create", "--bundle", "/a", "ID", "--bundle", "/b"],
        &["create", "-b", "/a", "--bundle", "/b", "ID"],
        &["create", "-bundle", "/a", "--bundle", "/b", "ID"],
        &["run", "ID", "--detach", "EVIL"],
        &["run", "ID", "-d", "EVIL", "--", "X"],
        &["run", "--detach=false", "ID"],
        &["run", "--detach=FALSE", "ID"],
        &["run", "--detach=no", "ID"],
        &["create", "ID", "--no-pivot", "--bundle", "/b"],
        &["create", "--bundle", "--no-pivot", "ID"],
        &["create", "--bundle", "-x", "ID"],
        &["create", "--bundle", "--", "ID"],
        &["create", "ID", "--", "--bundle", "/b"],
        &["create", "--", "--bundle", "/b"],
        &["create", "---bundle", "/b", "ID"],
        &["create", "ID", "---bundle", "/b"],
        &["create", "ID", "----bundle", "/b"],
        &["create", "ID", "-", "--bundle", "/b"],
        &["create", "ID", "--bundle"],
        &["create", "ID", "--preserve-fds", "0x10"],
        &["create", "ID", "--preserve-fds", "1_0"],
        &["create", "ID", "--preserve-fds", "08"],
        &["create", "ID", "-h"],
        &["create", "ID", "--help=false", "-b", "/b"],
        &["--root", "/r", "--", "create", "-b", "/b", "ID"],
        &["--root", "--", "create", "ID"],
        &["--help", "create", "ID"],
        &["--help=false", "--debug=0", "create", "ID"],
        &["-v=f", "create", "ID"],
        &["-h", "--help", "create", "ID"],
        &["--bogus", "create", "ID"],
        &[
            "--log=/l",
            "-log-format",
            "json",
            "--systemd-cgroup",
            "run",
            "ID",
        ],
        &["exec", "ID", "--cap", "CAP_SYS_ADMIN", "sh"],
        &["exec", "--cap", "A", "--cap=B", "ID", "sh"],
        &["exec", "-c", "A", "--cap", "B", "ID", "sh"],
        &["exec", "-g", "1", "ID", "sh"],
        &["exec", "--additional-gids", "1", "-g", "2", "ID"],
        &["exec", "-g", "1", "-g", "2", "ID"],
        &["exec", "--no-new-privs=false", "ID", "sh"],
        &["exec", "--no-new-privs", "false", "ID", "sh"],
        &[
            "exec",
            "--cgroup",
            "pids:../x",
            "--cgroup=cpu:y",
            "ID",
            "sh",
        ],
        &["exec", "-e", "A=1", "--env=B=2", "ID"],
        &["exec", "--env=A=1", "--env", "B=2", "-t", "-d", "ID"],
        &["exec", "-p", "/p.json", "ID"],
        &["ps", "ID", "--format", "json"],
        &["ps", "-f", "json", "ID"],
        &["update", "ID", "--pids-limit", "-1"],
        &["update", "--pids-limit=-1", "ID", "--memory", "64g"],
        &["update", "ID", "-r", "-"],
        &["update", "ID", "--resources=-", "--cpu-quota", "-1"],
        &["update", "--blkio-weight", "0x100", "ID"],
        &["restore", "ID", "--bundle", "EVIL", "--empty-ns", "network"],
        &["restore", "--lsm-profile", "x", "-d", "ID"],
        &["events", "--interval", "1m30s", "ID"],
        &["events", "--interval", "5", "ID"],
        &["delete", "-f", "ID"],
        &["kill", "ID", "KILL", "--all"],
        &["list", "-q", "-f", "json"],
        &["spec", "--rootless", "-b", "/b"],
        &["help", "create"],
        &["h"],
        &["bogus", "ID"],
        &["start", "ID", "x"],
        &[],
    ]
    .iter()
    .map(|a| os(a))
    .collect();
    check_all(&cases);
}

/// A token pool: every flag of every command and of the app in several spellings, values
/// that look like flags, `--`, `-`, positionals.
fn pool() -> Vec<String> {
    let mut names: Vec<&str> = argv::COMMANDS
        .iter()
        .filter(|c| matches!(c.name, "create" | "run" | "exec" | "update" | "restore"))
        .flat_map(|c| c.flags.iter())
        .chain(argv::GLOBAL_FLAGS.iter())
        .flat_map(|f| f.names.iter().copied())
        .collect();
    names.extend(["bogus", "rampart-profile"]);
    names.sort();
    names.dedup();
    let values = [
        "ID", "EVIL", "/b", "-1", "0", "0x10", "1_0", "08", "false", "t", "5s", "64g", "-", "--",
        "", "=x",
    ];
    let mut pool: Vec<String> = Vec::new();
    for n in &names {
        pool.push(format!("--{n}"));
        pool.push(format!("-{n}"));
        for v in ["false", "/x", "1"] {
            pool.push(format!("--{n}={v}"));
        }
    }
    pool.push("---bundle".into());
    for v in values {
        // Values and positionals as often as flags.
        for _ in 0..(names.len() / values.len()).max(1) * 3 {
            pool.push(v.into());
        }
    }
    pool
}

fn argv_strategy() -> impl Strategy<Value = Vec<OsString>> {
    let pool = pool();
    let globals = vec![
        "--root",
        "/r",
        "-root=/r",
        "--log",
        "/l",
        "--debug",
        "--debug=false",
        "--systemd-cgroup",
        "--rootless",
        "auto",
        "-v=false",
        "--help=0",
        "--",
        "--bogus",
        "--rampart-profile",
        "baseline",
        "--criu=/c",
    ];
    let mut commands: Vec<&str> = argv::COMMANDS.iter().map(|c| c.name).collect();
    for hot in ["create", "run", "exec", "update", "restore"] {
        for _ in 0..4 {
            commands.push(hot);
        }
    }
    commands.extend(["help", "bogus"]);
    (
        prop::collection::vec(prop::sample::select(globals), 0..4),
        prop::sample::select(commands),
        prop::collection::vec(prop::sample::select(pool), 0..9),
    )
        .prop_map(|(g, c, rest)| {
            g.into_iter()
                .map(OsString::from)
                .chain(std::iter::once(OsString::from(c)))
                .chain(rest.into_iter().map(OsString::from))
                .collect()
        })
}

#[test]
fn generated_argvs_parse_as_runc_parses_them() {
    let n: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let strategy = argv_strategy();
    let mut runner = TestRunner::deterministic();
    let mut argvs: Vec<Vec<OsString>> = (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    // And a few with bytes that are not UTF-8.
    argvs.push(vec![
        "create".into(),
        "ID".into(),
        OsString::from_vec(b"--bundle=/\xff".to_vec()),
    ]);
    argvs.push(vec![
        OsString::from_vec(b"--root=/\x80".to_vec()),
        "run".into(),
        OsString::from_vec(b"\xfe".to_vec()),
    ]);
    check_all(&argvs);
    let ran = ask(&argvs.iter().map(|a| handed(a)).collect::<Vec<_>>())
        .iter()
        .filter(|v| v["ran"] == true)
        .count();
    assert!(
        ran * 10 > argvs.len(),
        "too few argvs that runc runs: {ran}"
    );
    eprintln!("argv oracle: {} argvs, {ran} that runc runs", argvs.len());
}
