//! The pass-through fast path (src/early.c: at the entry point, before the C library starts)
//! must exec exactly what Rampart's full start-up would, or leave the call to it: for every
//! argv and config file here, when the fast path would exec, `pipeline::prepare` (the full
//! parser, itself held against runc's view by tests/argv_oracle.rs) must hand the same
//! runtime the same argv, for a command Rampart does not judge. The calls engines make must
//! actually take the fast path, or its gain is lost without a failing test.
#![cfg(rampart_early)]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rampart::early;
use rampart::host::{Host, HostFacts};
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

struct TestHost {
    path: Option<OsString>,
}

impl Host for TestHost {
    fn facts(&self, _: &[String]) -> HostFacts {
        HostFacts::for_tests()
    }
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
    }
    fn exec(&self, _: &Path, _: &[OsString]) -> anyhow::Error {
        anyhow::anyhow!("no exec in tests")
    }
    fn self_exe(&self) -> Option<PathBuf> {
        std::fs::read_link("/proc/self/exe").ok()
    }
    fn path_var(&self) -> Option<OsString> {
        self.path.clone()
    }
}

/// A scratch directory with a fake runtime (`bin/runc`, never run: only stat'd), a file
/// that is not executable, and config files.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rampart-early-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let s = Scratch { dir };
        std::fs::write(s.runtime(), "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(s.runtime(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(s.dir.join("plain"), "not executable").unwrap();
        s
    }
    fn runtime(&self) -> PathBuf {
        self.dir.join("bin/runc")
    }
    fn config(&self, name: &str, text: &[u8]) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// Commands Rampart judges: the fast path must never take one.
const JUDGED: &[&str] = &["create", "run", "exec", "update", "restore"];

/// Holds the fast path's decision against the full start-up's for one call; returns
/// whether the fast path would take it.
fn check(argv: &[OsString], env: &[OsString]) -> bool {
    let Some((runtime, args)) = early::decide(argv, env) else {
        return false;
    };
    let path = env.iter().find_map(|e| {
        e.as_encoded_bytes()
            .strip_prefix(b"PATH=")
            .map(|p| OsString::from(String::from_utf8_lossy(p).into_owned()))
    });
    let inv = rampart::argv::parse(argv.to_vec())
        .unwrap_or_else(|e| panic!("the fast path takes {argv:?}, which Rampart refuses: {e:#}"));
    let cmd = inv.command.as_ref().expect("a command");
    let name = cmd.name.as_str();
    assert!(
        !JUDGED.contains(&name),
        "the fast path takes {argv:?}, a `{name}` Rampart judges"
    );
    // Not Rampart's own command, nor help or version (Rampart answers those itself).
    assert!(
        cmd.runs()
            && !inv.global.help_or_version
            && !rampart::admin::COMMANDS.iter().any(|(n, ..)| *n == name),
        "the fast path takes {argv:?}, which Rampart answers itself"
    );
    match rampart::pipeline::prepare(&inv, &TestHost { path }) {
        Ok((r, a)) => {
            assert_eq!(
                (&runtime, &args),
                (&r, &a),
                "fast path and Rampart differ on {argv:?}"
            );
        }
        Err(e) => panic!("the fast path would exec {runtime:?} for {argv:?}; Rampart says: {e:#}"),
    }
    true
}

#[test]
fn engine_calls_take_the_fast_path_and_exec_what_rampart_would() {
    let s = Scratch::new("engines");
    let rt = s.runtime().display().to_string();
    let cfg = s.config("config.toml", format!("runtime = \"{rt}\"\n").as_bytes());
    let env = os(&["PATH=/nonexistent"]);
    // As dockerd (through containerd-shim-runc-v2) and containerd's CRI call runc.
    let engine = "--root /run/docker/runtime-runc/moby --log /run/x/log.json --log-format json";
    // Docker 20.10's calls after `create`, as strace saw them under scripts/bench-docker
    // (`rampart install docker` puts the runtimeArgs first): start, delete, delete --force.
    let docker = format!("--rampart-profile restricted --rampart-config={cfg} {engine}");
    for cmd in ["start ID", "delete ID", "delete --force ID"] {
        let mut argv = os(&["rampart"]);
        argv.extend(format!("{docker} {cmd}").split(' ').map(OsString::from));
        assert!(check(&argv, &env), "{argv:?} should take the fast path");
    }
    let taken = [
        format!("{engine} start ID"),
        format!("{engine} state ID"),
        format!("{engine} kill ID 9"),
        format!("{engine} kill --all ID 15"),
        format!("{engine} --systemd-cgroup delete --force ID"),
        "--root /r delete ID -f".into(),
        "--root /r pause ID".into(),
        "--root /r resume ID".into(),
        "--root /r events --stats ID".into(),
        "--root /r ps ID".into(),
        "--root /r list -q".into(),
        "--debug -root=/r state ID".into(),
    ];
    for line in taken {
        let mut argv = os(&["rampart", "--rampart-config", &cfg]);
        argv.extend(line.split(' ').map(OsString::from));
        assert!(check(&argv, &env), "{argv:?} should take the fast path");
    }
    // Rampart's options anywhere among the global flags, in both spellings, are removed.
    let argv = os(&[
        "rampart-web",
        "--root",
        "/r",
        &format!("-rampart-config={cfg}"),
        "--rampart-profile",
        "baseline",
        "--rampart-runtime",
        &rt,
        "state",
        "ID",
    ]);
    assert!(check(&argv, &env));
}

#[test]
fn what_rampart_must_handle_is_left_to_it() {
    let s = Scratch::new("left");
    let rt = s.runtime().display().to_string();
    let cfg = s.config("config.toml", format!("runtime = \"{rt}\"\n").as_bytes());
    let env = os(&["PATH=/nonexistent"]);
    let left: &[&[&str]] = &[
        &["create", "--bundle", "/b", "ID"],
        &["create", "ID"],
        &["run", "ID"],
        &["exec", "ID", "sh"],
        &["update", "ID"],
        &["restore", "ID"],
        &["checkpoint", "ID"],
        &["spec"],
        &["--help"],
        &["-v"],
        &["help", "state"],
        &["state", "--help"],
        &["state", "-h"],
        &["--", "state", "ID"],
        &["--bogus", "state", "ID"],
        &["--debug=false", "state", "ID"],
        &["--root", "/a", "--root", "/b", "state", "ID"],
        &["--root"],
        &["state", "--", "ID"],
        &["state", "-", "ID"],
        &["delete", "-f", "--force", "ID"],
        &["kill", "-a=true", "ID"],
        &["ps", "ID", "-ef"],
        &["ps", "--format", "json", "ID"],
        &["list", "--format", "json"],
        &["events", "--interval", "5s", "ID"],
        &["doctor"],
        &["explain", "x"],
        &[],
    ];
    for a in left {
        let mut argv = os(&["rampart", "--rampart-config", &cfg]);
        argv.extend(os(a));
        assert_eq!(
            early::decide(&argv, &env),
            None,
            "{argv:?} is Rampart's to handle"
        );
    }
    // The runtime: missing, not executable, relative, or Rampart itself.
    let me = std::fs::read_link("/proc/self/exe")
        .unwrap()
        .display()
        .to_string();
    let plain = s.dir.join("plain").display().to_string();
    for bad in [
        "/nonexistent/runc",
        plain.as_str(),
        "bin/runc",
        me.as_str(),
        "",
    ] {
        let argv = os(&[
            "rampart",
            "--rampart-config",
            &cfg,
            "--rampart-runtime",
            bad,
            "state",
            "ID",
        ]);
        assert_eq!(early::decide(&argv, &env), None, "runtime {bad:?}");
    }
    // A config file that was named must exist.
    let missing = s.dir.join("missing.toml").display().to_string();
    let argv = os(&[
        "rampart",
        "--rampart-config",
        &missing,
        "--rampart-runtime",
        &rt,
        "state",
        "ID",
    ]);
    assert_eq!(early::decide(&argv, &env), None);
}

/// Config files: each is read exactly as Rampart reads it, or left to Rampart.
#[test]
fn config_files_are_read_exactly_or_left_to_rampart() {
    let s = Scratch::new("config");
    let rt = s.runtime().display().to_string();
    let packaged =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config.toml")).unwrap();
    let full = format!(
        "# comment\n\truntime = '{rt}'   # trailing\ndefault_profile=\"baseline\"\nprofiles_dir = \"/p\"\naudit_log = \"/a é\"\nannotation_callers = [ \"containerd-shim\" , 'x', ]\n\n[[annotations]]\nkey = \"rampart.dev/profile\"\nselects = \"profile\"\nvalues = [\"baseline\"]\n[[ annotations ]]\nkey = \"k\"\nselects = 'waive'\nvalues = []\n[ learn ]\ndir = \"/l\""
    );
    let readable: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("packaged", &packaged),
        ("full", full.as_bytes()),
        (
            "runtime-only",
            format!("runtime = \"{rt}\"\n").as_bytes().to_vec().leak(),
        ),
    ];
    let unread: &[(&str, String)] = &[
        ("typo", format!("runtme = \"{rt}\"\n")),
        (
            "repeated",
            format!("runtime = \"{rt}\"\nruntime = \"{rt}\"\n"),
        ),
        ("debug-log", "debug_log = \"/tmp/d\"\n".into()),
        ("crlf", format!("runtime = \"{rt}\"\r\n")),
        ("unterminated", "runtime = \"/x\n".into()),
        ("escape", "runtime = \"/x\\u0041\"\n".into()),
        ("multiline-string", "runtime = \"\"\"/x\"\"\"\n".into()),
        (
            "multiline-array",
            "annotation_callers = [\n\"a\",\n]\n".into(),
        ),
        ("garbage", "runtime = \"/x\" y\n".into()),
        ("number", "runtime = 1\n".into()),
        ("dotted", "learn.dir = \"/x\"\n".into()),
        ("quoted-key", "\"runtime\" = \"/x\"\n".into()),
        ("learn-twice", "[learn]\ndir = \"/a\"\n[learn]\n".into()),
        ("learn-unknown", "[learn]\nrundir = \"/a\"\n".into()),
        ("other-table", "[foo]\n".into()),
        (
            "annotation-incomplete",
            "[[annotations]]\nkey = \"k\"\nselects = \"profile\"\n".into(),
        ),
        (
            "annotation-selects",
            "[[annotations]]\nkey = \"k\"\nselects = \"all\"\nvalues = []\n".into(),
        ),
        ("control", "# a \u{1} b\n".into()),
        ("inline-table", "learn = { dir = \"/x\" }\n".into()),
    ];
    let env = os(&[&format!("PATH={}", s.dir.join("bin").display())]);
    for (name, text) in readable {
        let cfg = s.config(&format!("{name}.toml"), text);
        let argv = os(&["rampart", "--rampart-config", &cfg, "state", "ID"]);
        assert!(
            check(&argv, &env),
            "config {name} should be read by the fast path"
        );
    }
    let left = |cfg: &str, why: &str| {
        let argv = os(&[
            "rampart",
            "--rampart-config",
            cfg,
            "--rampart-runtime",
            &rt,
            "state",
            "ID",
        ]);
        assert_eq!(
            early::decide(&argv, &env),
            None,
            "config {why} is Rampart's to read"
        );
    };
    for (name, text) in unread {
        left(&s.config(&format!("{name}.toml"), text.as_bytes()), name);
    }
    left(&s.config("latin1.toml", b"# caf\xe9\n"), "not UTF-8");
}

#[test]
fn runc_is_found_on_path_as_rampart_finds_it() {
    let s = Scratch::new("path");
    let cfg = s.config("empty.toml", b"");
    let me = std::fs::read_link("/proc/self/exe").unwrap();
    // Rampart itself named runc, first on PATH, is skipped.
    let selfdir = s.dir.join("self");
    std::fs::create_dir_all(&selfdir).unwrap();
    std::os::unix::fs::symlink(&me, selfdir.join("runc")).unwrap();
    let bin = s.dir.join("bin");
    let argv = os(&["rampart", "--rampart-config", &cfg, "state", "ID"]);
    let path = |p: String| os(&[&format!("PATH={p}")]);
    for p in [
        format!("{}", bin.display()),
        format!("{}/", bin.display()),
        format!("{}:{}", selfdir.display(), bin.display()),
        format!("/nonexistent:{}", bin.display()),
    ] {
        assert!(check(&argv, &path(p.clone())), "PATH={p}");
    }
    // Empty or relative entries are left to Rampart; no PATH: the usual paths.
    for p in [
        format!(":{}", bin.display()),
        format!("bin:{}", bin.display()),
        String::new(),
    ] {
        assert_eq!(early::decide(&argv, &path(p.clone())), None, "PATH={p}");
    }
    check(&argv, &[]);
}

/// Generated argvs over the flags and commands the fast path reads, with config files that
/// it reads and ones it leaves: whenever it would exec, Rampart execs the same.
#[test]
fn generated_calls_exec_what_rampart_would() {
    let s = Scratch::new("generated");
    let rt = s.runtime().display().to_string();
    let good = s.config("good.toml", format!("runtime = \"{rt}\"\n").as_bytes());
    let empty = s.config("empty.toml", b"");
    let bad = s.config("bad.toml", b"runtime = [\n");
    let me = std::fs::read_link("/proc/self/exe")
        .unwrap()
        .display()
        .to_string();
    let env = os(&[&format!("PATH={}", s.dir.join("bin").display())]);
    let v = |x: &str| x.to_string();
    let globals: Vec<String> = vec![
        v("--root"),
        v("/r"),
        v("-root=/r"),
        v("--log"),
        v("/l"),
        v("--log-format=json"),
        v("--debug"),
        v("-debug"),
        v("--debug=true"),
        v("--systemd-cgroup"),
        v("--rootless"),
        v("auto"),
        v("--criu"),
        v("-h"),
        v("-v"),
        v("--"),
        v("-"),
        v("--bogus"),
        v("--rampart-profile"),
        v("baseline"),
        v("--rampart-profile=x"),
        format!("--rampart-config={good}"),
        format!("--rampart-config={empty}"),
        format!("--rampart-config={bad}"),
        v("--rampart-config"),
        good.clone(),
        format!("-rampart-runtime={rt}"),
        v("--rampart-runtime"),
        rt.clone(),
        me,
        v("--rampart-runtime=/nonexistent"),
    ];
    let commands = [
        "start",
        "state",
        "kill",
        "delete",
        "pause",
        "resume",
        "ps",
        "events",
        "list",
        "create",
        "run",
        "exec",
        "update",
        "restore",
        "checkpoint",
        "features",
        "spec",
        "help",
        "h",
        "bogus",
        "",
        "-",
    ];
    let tail = [
        "ID",
        "9",
        "KILL",
        "-a",
        "--all",
        "-all",
        "--all=true",
        "-f",
        "--force",
        "-force=false",
        "-q",
        "--quiet",
        "--stats",
        "--format",
        "json",
        "-h",
        "--help",
        "--",
        "-",
        "",
        "-x",
        "--interval",
        "5s",
        "--bundle",
        "/b",
    ];
    let strategy = (
        prop::collection::vec(prop::sample::select(globals), 0..5),
        prop::sample::select(commands.to_vec()),
        prop::collection::vec(prop::sample::select(tail.to_vec()), 0..4),
    );
    let n: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut runner = TestRunner::deterministic();
    let mut taken = 0;
    for i in 0..n {
        let (g, c, t) = strategy.new_tree(&mut runner).unwrap().current();
        let mut argv = vec![OsString::from("rampart")];
        // Half the calls name the good config first (else /etc/rampart/config.toml is read).
        if i % 2 == 0 {
            argv.extend(os(&["--rampart-config", &good]));
        }
        argv.extend(g.into_iter().map(OsString::from));
        argv.push(c.into());
        argv.extend(t.into_iter().map(OsString::from));
        if check(&argv, &env) {
            taken += 1;
        }
    }
    assert!(
        taken > n / 50,
        "only {taken} of {n} generated calls took the fast path"
    );
}

/// Every flag of runc's tables as Rampart holds them (src/argv.rs), global and per command,
/// in the spellings Go accepts, before and after a positional: whenever the fast path takes
/// such a call, Rampart execs the same. early.c keeps its own short tables; this keeps them
/// from taking a flag Rampart reads differently.
#[test]
fn every_runc_flag_in_every_spelling_is_read_as_rampart_reads_it() {
    let s = Scratch::new("flags");
    let rt = s.runtime().display().to_string();
    let cfg = s.config("c.toml", format!("runtime = \"{rt}\"\n").as_bytes());
    let env = os(&["PATH=/nonexistent"]);
    let spellings = |n: &str| {
        ["-", "--"]
            .into_iter()
            .flat_map(|d| ["", "=1", "=false", "=x"].map(|v| format!("{d}{n}{v}")))
            .collect::<Vec<_>>()
    };
    let head = |extra: &[&str]| {
        let mut a = os(&["rampart", "--rampart-config", &cfg]);
        a.extend(os(extra));
        a
    };
    let mut taken = 0;
    for c in rampart::argv::COMMANDS {
        let names = c
            .flags
            .iter()
            .flat_map(|f| f.names.iter())
            .chain(&["help", "h"]);
        for name in names {
            for f in spellings(name) {
                for tail in [
                    [f.as_str(), "ID", "v"],
                    ["ID", f.as_str(), "v"],
                    ["ID", "v", f.as_str()],
                ] {
                    let mut argv = head(&["--root", "/r", c.name]);
                    argv.extend(os(&tail));
                    taken += usize::from(check(&argv, &env));
                }
            }
        }
    }
    let globals = rampart::argv::GLOBAL_FLAGS
        .iter()
        .flat_map(|f| f.names.iter().copied())
        .chain(rampart::argv::RAMPART_FLAGS.iter().copied());
    for name in globals {
        for f in spellings(name) {
            for argv in [head(&[&f, "state", "ID"]), head(&[&f, "v", "state", "ID"])] {
                taken += usize::from(check(&argv, &env));
            }
        }
    }
    assert!(taken > 0);
}

/// Generated config files, line by line from shapes the fast path reads and shapes it does
/// not: whenever it reads one and would exec, Rampart reads the same file, accepts it, and
/// execs the same runtime.
#[test]
fn generated_config_files_are_read_as_rampart_reads_them() {
    let s = Scratch::new("configs");
    let rt = s.runtime().display().to_string();
    let lines: Vec<String> = [
        "runtime = \"RT\"",
        "runtime = 'RT'",
        "runtime=\"RT\" # c",
        "runtime = \"RT\" x",
        "runtime = \"/nonexistent\"",
        "runtime = \"\"",
        "runtime = 1",
        "\"runtime\" = \"RT\"",
        "runtime.x = \"y\"",
        "runtime = \"\"\"RT\"\"\"",
        "default_profile = \"baseline\"",
        "profiles_dir = '/p'",
        "audit_log = \"/a\"",
        "annotation_callers = []",
        "annotation_callers = [\"a\", 'b',]",
        "annotation_callers = [,]",
        "annotation_callers = [\"a\" \"b\"]",
        "debug_log = \"/d\"",
        "bogus = 1",
        "# comment",
        "",
        "   ",
        "\t# c",
        "[learn]",
        "[ learn ]",
        "[learn.x]",
        "[annotations]",
        "learn = {}",
        "dir = \"/l\"",
        "[[annotations]]",
        "[[ annotations ]]",
        "[ [annotations] ]",
        "key = \"k\"",
        "selects = \"profile\"",
        "selects = \"waive\"",
        "selects = \"other\"",
        "values = [\"x\"]",
        "values = \"x\"",
    ]
    .iter()
    .map(|l| l.replace("RT", &rt))
    .collect();
    let strategy = prop::collection::vec(prop::sample::select(lines), 0..8);
    let env = os(&[&format!("PATH={}", s.dir.join("bin").display())]);
    let n: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
        / 10;
    let mut runner = TestRunner::deterministic();
    let (mut taken, mut left) = (0, 0);
    for i in 0..n {
        let text = strategy.new_tree(&mut runner).unwrap().current().join("\n");
        let cfg = s.config(&format!("{}.toml", i % 8), text.as_bytes());
        let argv = os(&[
            "rampart",
            "--rampart-config",
            &cfg,
            "--root",
            "/r",
            "state",
            "ID",
        ]);
        if check(&argv, &env) {
            taken += 1;
        } else {
            left += 1;
        }
    }
    assert!(taken > n / 50 && left > n / 50, "{taken} read, {left} left");
}

/// The binary starts at the fast path (build.rs makes `rampart_entry` its ELF entry point),
/// and a call it takes is as transparent as one Rampart takes: the argv minus Rampart's
/// options, stdin, the runtime's exit code, nothing printed.
#[test]
fn the_binary_starts_at_the_fast_path() {
    let bin = env!("CARGO_BIN_EXE_rampart");
    let elf = std::fs::read(bin).unwrap();
    let entry = u64::from_le_bytes(elf[24..32].try_into().unwrap());
    let nm = std::process::Command::new("nm").arg(bin).output().unwrap();
    let symbols = String::from_utf8_lossy(&nm.stdout);
    let fast = symbols
        .lines()
        .find_map(|l| l.strip_suffix(" T rampart_entry"))
        .map(|a| u64::from_str_radix(a, 16).unwrap());
    assert_eq!(
        fast,
        Some(entry),
        "the ELF entry point is not rampart_entry"
    );

    let s = Scratch::new("binary");
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake/runtime.sh");
    let cfg = s.config(
        "c.toml",
        format!("runtime = {:?}\n", fake.display().to_string()).as_bytes(),
    );
    let record = s.dir.join("record");
    let argv = [
        "--rampart-config",
        &cfg,
        "--root",
        "/r",
        "--rampart-profile",
        "baseline",
        "kill",
        "--all",
        "ID",
        "KILL",
    ];
    assert!(
        early::decide(
            &os(&["rampart"])
                .into_iter()
                .chain(os(&argv))
                .collect::<Vec<_>>(),
            &[]
        )
        .is_some()
    );
    let mut child = std::process::Command::new(bin)
        .args(argv)
        .env("FAKE_RECORD", &record)
        .env("FAKE_EXIT", "3")
        .env("FAKE_STDIN", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"to the runtime")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let recorded = std::fs::read_to_string(record.join("argv")).unwrap();
    assert_eq!(recorded, "--root\n/r\nkill\n--all\nID\nKILL\n");
    assert_eq!(
        std::fs::read(record.join("stdin")).unwrap(),
        b"to the runtime"
    );
}
