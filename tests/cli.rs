//! The binary against a fake runtime that records the argv and config.json it was handed:
//! passthrough, option stripping, unknown fields, fail-closed behaviour, the --log line.

use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new() -> Env {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bundle")).unwrap();
        fs::create_dir_all(dir.join("profiles")).unwrap();
        let cfg = format!(
            "runtime = {:?}\naudit_log = {:?}\nprofiles_dir = {:?}\n",
            fake_runtime(),
            dir.join("audit.log"),
            dir.join("profiles")
        );
        fs::write(dir.join("config.toml"), cfg).unwrap();
        let env = Env { dir };
        env.write_spec(&fixture("docker-20.10/default.json"));
        env
    }
    fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
    fn config_path(&self) -> PathBuf {
        self.bundle().join("config.json")
    }
    fn write_spec(&self, v: &Value) {
        fs::write(self.config_path(), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }
    fn log(&self) -> PathBuf {
        self.dir.join("log.json")
    }
    /// Runs `rampart` (or a link to it named `argv0`) with `args`.
    fn run_as(&self, argv0: &str, args: &[&str]) -> Output {
        let exe = if argv0 == "rampart" {
            PathBuf::from(env!("CARGO_BIN_EXE_rampart"))
        } else {
            let link = self.dir.join(argv0);
            let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rampart"), &link);
            link
        };
        Command::new(exe)
            .args(args)
            .env("FAKE_RECORD", self.dir.join("record"))
            .output()
            .unwrap()
    }
    fn run(&self, args: &[&str]) -> Output {
        self.run_as("rampart", args)
    }
    /// [`Env::run`], which must succeed.
    fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
    fn cfg(&self) -> String {
        format!(
            "--rampart-config={}",
            self.dir.join("config.toml").display()
        )
    }
    /// Docker's argv for `create`, with `pre` (runtimeArgs) first.
    fn docker_create(&self, pre: &[&str]) -> Output {
        self.docker_create_under(None, pre)
    }
    /// [`Env::docker_create`] with rampart started by a process named `caller` (a copy of
    /// /bin/sh under that name, which forks and waits: rampart's parent is named so).
    fn docker_create_under(&self, caller: Option<&str>, pre: &[&str]) -> Output {
        let (b, l, c) = (self.bundle(), self.log(), self.cfg());
        let mut args: Vec<&str> = pre.to_vec();
        args.extend([
            c.as_str(),
            "--root",
            "/run/x",
            "--log",
            l.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            "/tmp/p",
            "cid",
        ]);
        let Some(caller) = caller else {
            return self.run(&args);
        };
        let sh = self.dir.join(caller);
        if !sh.exists() {
            fs::copy("/bin/sh", &sh).unwrap();
        }
        // Another test thread may fork while this copy's descriptor is still open for
        // writing; its child holds it until it execs, and exec here fails with ETXTBSY
        // meanwhile: try again.
        for _ in 0..100 {
            match Command::new(&sh)
                .args(["-c", "\"$@\"; exit $?", "sh", env!("CARGO_BIN_EXE_rampart")])
                .args(&args)
                .env("FAKE_RECORD", self.dir.join("record"))
                .output()
            {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => return r.unwrap(),
            }
        }
        panic!("{} stayed busy", sh.display());
    }
    /// The argv the runtime got; the bundle directory Rampart held and passed on as
    /// `/proc/self/fd/N` reads `<held>`.
    fn recorded_argv(&self) -> Option<Vec<String>> {
        fs::read_to_string(self.dir.join("record/argv"))
            .ok()
            .map(|s| s.lines().map(held).collect())
    }
    /// The `exec --process` file as the runtime read it.
    fn recorded_process(&self) -> Value {
        serde_json::from_slice(&fs::read(self.dir.join("record/process.json")).unwrap()).unwrap()
    }
    fn recorded_config(&self) -> Value {
        serde_json::from_slice(&fs::read(self.dir.join("record/config.json")).unwrap()).unwrap()
    }
    fn audit_lines(&self) -> Vec<Value> {
        fs::read_to_string(self.dir.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn last_log_error(&self) -> Value {
        let text = fs::read_to_string(self.log()).unwrap();
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    }
}

/// `/proc/self/fd/N` (also after `=`) → `<held>`.
fn held(arg: &str) -> String {
    let (head, value) = match arg.split_once('=') {
        Some((h, v)) => (format!("{h}="), v),
        None => (String::new(), arg),
    };
    match value.strip_prefix("/proc/self/fd/") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{head}<held>")
        }
        _ => arg.to_string(),
    }
}

fn fake_runtime() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake/runtime.sh")
}

/// A captured spec without its hooks: Docker's libnetwork-setkey hook names a dockerd pid of
/// the capture machine, allowed only where that pid is dockerd (src/policy/hooks.rs,
/// tests/attack_mounts.rs).
fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/specs")
        .join(name);
    let mut v: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("hooks");
    v
}

#[test]
fn create_passes_argv_unchanged_prints_nothing_and_hardens_config() {
    let e = Env::new();
    let out = e.docker_create(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "create must print nothing on success"
    );
    let (b, l) = (e.bundle(), e.log());
    assert_eq!(
        e.recorded_argv().unwrap(),
        [
            "--root",
            "/run/x",
            "--log",
            l.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            "<held>",
            "--pid-file",
            "/tmp/p",
            "cid"
        ]
    );
    let c = e.recorded_config();
    // Docker asks for NET_BIND_SERVICE, but its own netns has ip_unprivileged_port_start=0.
    assert_eq!(c["process"]["capabilities"]["bounding"], json!([]));
    assert_eq!(c["process"]["noNewPrivileges"], json!(true));
    assert_eq!(c["root"]["readonly"], json!(true));
    assert_eq!(c["linux"]["resources"]["pids"]["limit"], json!(1024));
    let audit = e.audit_lines();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["id"], "cid");
    assert_eq!(audit[0]["profile"], "restricted");
    assert_eq!(
        audit[0]["bundle"],
        json!(fs::canonicalize(&b).unwrap().display().to_string()),
        "the audit names the real directory"
    );
    assert_eq!(audit[0]["schema"], 2);
    assert!(audit[0]["host"].as_str().is_some_and(|h| !h.is_empty()));
    // Docker 20.10 writes no annotations naming the image or container.
    assert!(audit[0].get("image").is_none() && audit[0].get("pod").is_none());
    assert!(!rampart::audit::expand(&audit[0]["changes"]).is_empty());
    // Every reason stays available through explain.
    let (c, b) = (e.cfg(), e.bundle());
    let out = e.run(&[&c, "explain", "--json", b.to_str().unwrap()]);
    let explained: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        explained["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );
}

/// The audit record's steps and fields, whichever schema wrote it (explain's list included).
fn changed_fields(changes: &Value) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = rampart::audit::expand(changes)
        .into_iter()
        .map(|(step, field, ..)| (step, field))
        .collect();
    f.sort();
    f
}

#[test]
fn audit_record_is_small_and_names_the_kubernetes_workload() {
    // Docker's default spec (its hook removed, as for a container that starts) under
    // restricted, with a real Docker id and bundle: under 2 KB.
    let e = Env::new();
    let mut spec = fixture("docker-20.10/default.json");
    spec.as_object_mut().unwrap().remove("hooks");
    e.write_spec(&spec);
    let id = "9f2c1e7b5a3d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6";
    let (c, b) = (e.cfg(), e.bundle());
    let out = e.run(&[&c, "create", "--bundle", b.to_str().unwrap(), id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = fs::read_to_string(e.dir.join("audit.log")).unwrap();
    let rec: Value = serde_json::from_str(line.trim()).unwrap();
    // Measured with the system's runc path and a moby bundle path, as on a Docker host.
    let realistic = line.len() - rec["runtime"].as_str().unwrap().len() + "/usr/sbin/runc".len()
        - rec["bundle"].as_str().unwrap().len()
        + format!("/run/containerd/io.containerd.runtime.v2.task/moby/{id}").len();
    assert!(realistic < 2048, "{realistic} bytes: {line}");
    assert_eq!(rec["outcome"], "hardened");
    // The dropped capabilities are there (what an operator asks first).
    assert!(
        rampart::audit::expand(&rec["changes"])
            .iter()
            .any(|(_, f, before, _, _)| f == "/process/capabilities/bounding"
                && before.as_array().unwrap().contains(&json!("CAP_NET_RAW")))
    );
    // containerd's CRI names the pod, namespace, container and image.
    let e = Env::new();
    e.write_spec(&fixture("containerd-1.6-cri/container.json"));
    let _ = e.docker_create(&[]);
    let a = &e.audit_lines()[0];
    assert_eq!(a["image"], "docker.io/library/localbusybox:1");
    assert_eq!(a["pod"], "e2e-hardened-hostnet-6727");
    assert_eq!(a["namespace"], "default");
    assert_eq!(a["container"], "c");
}

#[test]
fn exit_code_is_the_runtimes() {
    let e = Env::new();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([e.cfg().as_str(), "state", "cid"])
        .env("FAKE_RECORD", e.dir.join("record"))
        .env("FAKE_EXIT", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn runtime_args_first_and_argv0_select_profiles_and_are_stripped() {
    let e = Env::new();
    let out = e.docker_create(&["--rampart-profile", "baseline"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !e.recorded_argv()
            .unwrap()
            .iter()
            .any(|a| a.trim_start_matches('-').starts_with("rampart-"))
    );
    assert_eq!(e.audit_lines()[0]["profile"], "baseline");
    assert_eq!(
        e.recorded_config()["root"].get("readonly"),
        None,
        "baseline keeps the rootfs writable"
    );

    let e = Env::new();
    let (c, b) = (e.cfg(), e.bundle());
    let out = e.run_as(
        "rampart-baseline",
        &[&c, "create", "-b", b.to_str().unwrap(), "cid"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(e.audit_lines()[0]["profile"], "baseline");
    assert_eq!(
        e.recorded_argv().unwrap(),
        ["create", "-b", "<held>", "cid"]
    );
}

#[test]
fn fields_rampart_does_not_model_reach_the_runtime_unchanged() {
    let e = Env::new();
    let mut spec = fixture("docker-20.10/default.json");
    spec["vendor.example/field"] = json!({"nested": [1, 2, {"x": null}]});
    spec["process"]["futureProcessField"] = json!("kept");
    spec["linux"]["resources"]["futureController"] = json!({"limit": 5});
    // intelRdt is refused now (unusual-field); personality is decoded by runc 1.1.5 but unused.
    spec["linux"]["personality"] = json!({"domain": "LINUX"});
    e.write_spec(&spec);
    assert!(e.docker_create(&[]).status.success());
    let c = e.recorded_config();
    assert_eq!(c["vendor.example/field"], spec["vendor.example/field"]);
    assert_eq!(c["process"]["futureProcessField"], "kept");
    assert_eq!(
        c["linux"]["resources"]["futureController"],
        json!({"limit": 5})
    );
    assert_eq!(c["linux"]["personality"], json!({"domain": "LINUX"}));
    assert_eq!(c["hooks"], spec["hooks"]);
    assert_eq!(
        c["mounts"].as_array().unwrap()[..10],
        spec["mounts"].as_array().unwrap()[..]
    );
}

/// Every way Rampart can fail on create: runtime not run, config.json byte-for-byte
/// untouched, the reason on stderr and as the last JSON line of --log.
#[test]
fn bad_inputs_fail_closed() {
    type Setup = fn(&Env) -> Vec<String>;
    let cases: &[(&str, Setup, &str)] = &[
        (
            "malformed json",
            |e| {
                fs::write(e.config_path(), b"{\"process\": ").unwrap();
                vec![]
            },
            "not valid JSON",
        ),
        (
            "wrong types",
            |e| {
                fs::write(e.config_path(), br#"{"ociVersion":"1.0.2","process":{"capabilities":{"bounding":"CAP_CHOWN"}}}"#).unwrap();
                vec![]
            },
            "config.json",
        ),
        (
            "unknown capability",
            |e| {
                let mut s = fixture("docker-20.10/default.json");
                s["process"]["capabilities"]["bounding"] = json!(["CAP_FLY"]);
                e.write_spec(&s);
                vec![]
            },
            "CAP_FLY",
        ),
        (
            "missing config.json",
            |e| {
                fs::remove_file(e.config_path()).unwrap();
                vec![]
            },
            "config.json",
        ),
        (
            "unknown profile",
            |_| vec!["--rampart-profile".into(), "nope".into()],
            "unknown profile \"nope\"",
        ),
        (
            "unreadable profile",
            |e| {
                fs::create_dir_all(e.dir.join("profiles/broken.toml")).unwrap();
                vec!["--rampart-profile=broken".into()]
            },
            "broken",
        ),
        (
            "invalid profile",
            |e| {
                fs::write(
                    e.dir.join("profiles/typo.toml"),
                    "extends = \"restricted\"\n[resourcez]\n",
                )
                .unwrap();
                vec!["--rampart-profile=typo".into()]
            },
            "typo",
        ),
        (
            "missing runtime",
            |_| vec!["--rampart-runtime=/nonexistent/runc".into()],
            "/nonexistent/runc",
        ),
        (
            "runtime is rampart",
            |_| {
                vec![format!(
                    "--rampart-runtime={}",
                    env!("CARGO_BIN_EXE_rampart")
                )]
            },
            "Rampart itself",
        ),
        (
            "audit log unwritable",
            |e| {
                fs::create_dir_all(e.dir.join("audit.log")).unwrap();
                vec![]
            },
            "audit log",
        ),
    ];
    for (name, setup, needle) in cases {
        let e = Env::new();
        let pre = setup(&e);
        let before = fs::read(e.config_path()).ok();
        let pre_refs: Vec<&str> = pre.iter().map(String::as_str).collect();
        let out = e.docker_create(&pre_refs);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(e.recorded_argv(), None, "{name}: the runtime must not run");
        assert_eq!(
            fs::read(e.config_path()).ok(),
            before,
            "{name}: config.json must be untouched"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("rampart: ") && stderr.contains(needle),
            "{name}: {stderr}"
        );
        let line = e.last_log_error();
        assert_eq!(line["level"], "error", "{name}");
        assert!(
            line["msg"].as_str().unwrap().contains(needle),
            "{name}: {line}"
        );
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{name}");
        let leftovers: Vec<_> = fs::read_dir(e.bundle())
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().contains("rampart"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "{name}: temp files left: {leftovers:?}"
        );
    }
}

#[test]
fn bad_config_file_and_bad_rampart_option_reach_the_log() {
    let e = Env::new();
    fs::write(e.dir.join("config.toml"), "runtime = [").unwrap();
    let out = e.docker_create(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        e.last_log_error()["msg"]
            .as_str()
            .unwrap()
            .contains("config")
    );
    let e = Env::new();
    let out = e.docker_create(&["--rampart-bogus", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        e.last_log_error()["msg"]
            .as_str()
            .unwrap()
            .contains("--rampart-bogus")
    );
    assert_eq!(e.recorded_argv(), None);
}

#[test]
fn other_commands_pass_straight_through_without_touching_the_bundle() {
    let e = Env::new();
    let before = fs::read(e.config_path()).unwrap();
    let c = e.cfg();
    for args in [
        vec!["--version"],
        vec!["--root", "/r", "delete", "--force", "cid"],
        vec!["kill", "cid", "15"],
        vec!["features"],
        vec!["--help"],
    ] {
        let mut full = vec![c.as_str()];
        full.extend(&args);
        let out = e.run(&full);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(e.recorded_argv().unwrap(), args);
    }
    assert_eq!(fs::read(e.config_path()).unwrap(), before);
    assert!(e.audit_lines().is_empty());
}

#[test]
fn exec_privileged_process_gains_nothing() {
    let e = Env::new();
    let all_caps =
        fixture("docker-20.10/capadd-all.json")["process"]["capabilities"]["bounding"].clone();
    let process = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/", "env": ["A=b"], "terminal": false,
        "capabilities": {"bounding": all_caps, "effective": all_caps, "permitted": all_caps, "inheritable": all_caps, "ambient": all_caps},
        "futureField": 1});
    let pfile = e.dir.join("process.json");
    fs::write(&pfile, serde_json::to_vec(&process).unwrap()).unwrap();
    let c = e.cfg();
    let out = e.run(&[
        &c,
        "--root",
        "/nonexistent",
        "exec",
        "--process",
        pfile.to_str().unwrap(),
        "--cap",
        "CAP_SYS_ADMIN",
        "--cap=CAP_NET_BIND_SERVICE",
        "--detach",
        "cid",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        e.recorded_argv().unwrap(),
        [
            "--root",
            "/nonexistent",
            "exec",
            "--process",
            "<held>",
            "--cap=CAP_NET_BIND_SERVICE",
            "--detach",
            "cid"
        ]
    );
    // The engine's file is left as it was; runc reads the judged copy.
    assert_eq!(
        serde_json::from_slice::<Value>(&fs::read(&pfile).unwrap()).unwrap(),
        process
    );
    let p = e.recorded_process();
    assert_eq!(
        p["capabilities"]["bounding"],
        json!(["CAP_NET_BIND_SERVICE"])
    );
    assert_eq!(p["capabilities"]["inheritable"], json!([]));
    assert_eq!(p["noNewPrivileges"], json!(true));
    assert_eq!(p["futureField"], json!(1));
    assert_eq!(e.audit_lines()[0]["command"], "exec");
}

/// runc reads `exec --process FILE` with Go's encoding/json: a key it folds onto a field
/// ("Capabilities", "capabilitieſ"), a duplicate key (Go: the later wins) or a NUL would
/// hand the process what Rampart never saw. Refused; runc not run; the file untouched.
#[test]
fn exec_process_file_with_keys_runc_reads_differently_is_refused() {
    let e = Env::new();
    let all_caps =
        fixture("docker-20.10/capadd-all.json")["process"]["capabilities"]["bounding"].to_string();
    let base = r#"{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/","#;
    let cases = [
        (
            format!(r#"{base}"Capabilities":{{"bounding":{all_caps}}}}}"#),
            r#"key "Capabilities" at / would be read by runc as "capabilities""#,
        ),
        (
            format!(r#"{base}"capabilitie\u017f":{{"bounding":{all_caps}}}}}"#),
            "would be read by runc as \"capabilities\"",
        ),
        (
            format!(r#"{base}"noNewPrivileges":true,"noNewPrivileges":false}}"#),
            "duplicate key",
        ),
        (format!(r#"{base}"env":["A=\u0000"]}}"#), "NUL character"),
        // Create's rules over the process apply at exec too.
        (
            format!(r#"{base}"rlimits":[{{"type":"RLIMIT_RTPRIO","hard":99,"soft":99}}]}}"#),
            "[rlimit-raised]",
        ),
    ];
    let c = e.cfg();
    for (text, needle) in cases {
        let pfile = e.dir.join("process.json");
        fs::write(&pfile, &text).unwrap();
        let out = e.run(&[&c, "exec", "--process", pfile.to_str().unwrap(), "cid"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(err.contains(needle), "{text}: {err}");
        assert!(e.recorded_argv().is_none(), "runc must not run: {text}");
        assert_eq!(fs::read_to_string(&pfile).unwrap(), text);
    }
}

#[test]
fn exec_is_clamped_to_what_the_running_container_holds() {
    let e = Env::new();
    let state_dir = e.dir.join("state/cid");
    fs::create_dir_all(&state_dir).unwrap();
    fs::write(
        state_dir.join("state.json"),
        br#"{"config":{"capabilities":{"Bounding":[]}}}"#,
    )
    .unwrap();
    let process = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
        "capabilities": {"bounding": ["CAP_NET_BIND_SERVICE"], "effective": ["CAP_NET_BIND_SERVICE"], "permitted": ["CAP_NET_BIND_SERVICE"]}});
    let pfile = e.dir.join("process.json");
    fs::write(&pfile, serde_json::to_vec(&process).unwrap()).unwrap();
    let (c, root) = (e.cfg(), e.dir.join("state"));
    let out = e.run(&[
        &c,
        "--root",
        root.to_str().unwrap(),
        "exec",
        "-p",
        pfile.to_str().unwrap(),
        "cid",
    ]);
    assert!(out.status.success());
    let p = e.recorded_process();
    assert_eq!(p["capabilities"]["bounding"], json!([]));
}

/// CVE-2024-21626: a working directory inside /proc (an image's WORKDIR, or `exec --cwd`)
/// is refused before runc runs, with the rule and how to waive it.
#[test]
fn a_working_directory_in_proc_is_refused() {
    let e = Env::new();
    let mut spec = fixture("docker-20.10/default.json");
    spec["process"]["cwd"] = json!("/proc/self/fd/7");
    e.write_spec(&spec);
    let before = fs::read(e.config_path()).unwrap();
    let out = e.docker_create(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[cwd-in-proc]") && err.contains("CVE-2024-21626"),
        "{err}"
    );
    assert!(err.contains(r#"waive = ["cwd-in-proc"]"#), "{err}");
    assert_eq!(fs::read(e.config_path()).unwrap(), before);
    assert!(e.recorded_argv().is_none(), "runc must not run");
    let pfile = e.dir.join("process.json");
    let process =
        json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/tmp/../proc/1/cwd"});
    fs::write(&pfile, serde_json::to_vec(&process).unwrap()).unwrap();
    let c = e.cfg();
    for argv in [
        vec![c.as_str(), "exec", "-p", pfile.to_str().unwrap(), "cid"],
        vec![c.as_str(), "exec", "--cwd", "/proc/self/fd/9", "cid", "sh"],
    ] {
        let out = e.run(&argv);
        assert_eq!(out.status.code(), Some(1), "{argv:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("[cwd-in-proc]"), "{err}");
        assert!(e.recorded_argv().is_none(), "runc must not run");
    }
}

/// Docker asks exec'd processes for the AppArmor profile it recorded at create (docker-default,
/// which Rampart replaced; unconfined for a --privileged container): the process runs under
/// the container's own profile, from a process file or from `--apparmor`.
#[test]
fn exec_runs_under_the_containers_apparmor_profile() {
    let e = Env::new();
    let state_dir = e.dir.join("state/cid");
    fs::create_dir_all(&state_dir).unwrap();
    fs::write(
        state_dir.join("state.json"),
        br#"{"config":{"capabilities":{"Bounding":[]},"apparmor_profile":"rampart-default"}}"#,
    )
    .unwrap();
    let process = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
        "apparmorProfile": "unconfined"});
    let pfile = e.dir.join("process.json");
    fs::write(&pfile, serde_json::to_vec(&process).unwrap()).unwrap();
    let (c, root) = (e.cfg(), e.dir.join("state"));
    let root = root.to_str().unwrap();
    e.run_ok(&[
        &c,
        "--root",
        root,
        "exec",
        "-p",
        pfile.to_str().unwrap(),
        "cid",
    ]);
    let p = e.recorded_process();
    assert_eq!(p["apparmorProfile"], "rampart-default");
    let tail = ["--apparmor=rampart-default", "cid", "sh"];
    let argv = [
        &[
            c.as_str(),
            "--root",
            root,
            "exec",
            "--apparmor",
            "docker-default",
        ],
        &tail[..],
    ];
    e.run_ok(&argv.concat());
    assert_eq!(
        e.recorded_argv().unwrap(),
        [&["--root", root, "exec"], &tail[..]].concat()
    );
    let audit = e.audit_lines();
    assert!(
        audit[1]
            .to_string()
            .contains("exec --apparmor docker-default dropped"),
        "{audit:?}"
    );
}

#[test]
fn a_second_create_of_the_same_bundle_changes_nothing_more() {
    let e = Env::new();
    assert!(e.docker_create(&[]).status.success());
    let once = fs::read(e.config_path()).unwrap();
    assert!(e.docker_create(&[]).status.success());
    assert_eq!(fs::read(e.config_path()).unwrap(), once);
    let audit = e.audit_lines();
    assert_eq!(audit.len(), 2);
    assert!(
        rampart::audit::expand(&audit[1]["changes"])
            .iter()
            .all(|(_, _, before, after, _)| before == after)
    );
}

#[test]
fn explain_shows_what_create_does_and_writes_nothing() {
    let e = Env::new();
    let before = fs::read(e.config_path()).unwrap();
    let (c, b) = (e.cfg(), e.bundle());
    let out = e.run(&[&c, "explain", "--json", b.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read(e.config_path()).unwrap(), before);
    let explained: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(e.docker_create(&[]).status.success());
    assert_eq!(
        changed_fields(&explained["changes"]),
        changed_fields(&e.audit_lines()[0]["changes"])
    );
    let text = e.run(&[&c, "explain", "--profile", "baseline", b.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("profile baseline"));
}

#[test]
fn refused_spec_never_reaches_the_runtime_and_says_why_and_how_to_allow() {
    let e = Env::new();
    e.write_spec(&fixture("docker-20.10/privileged.json"));
    let before = fs::read(e.config_path()).unwrap();
    let out = e.docker_create(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(e.recorded_argv(), None);
    assert_eq!(fs::read(e.config_path()).unwrap(), before);
    // Short (Kubernetes cuts event messages at 1,024 bytes), the fix first, one line per
    // rule, then the waiver with each rule once.
    let msg = e.last_log_error()["msg"].as_str().unwrap().to_string();
    assert!(msg.len() < 1024, "{} bytes: {msg}", msg.len());
    let lines: Vec<&str> = msg.lines().collect();
    assert_eq!(
        lines[0],
        "rampart: refused by profile restricted; to run it, drop --privileged / --cap-add ALL and add only the capabilities you need."
    );
    assert!(lines[1].starts_with("[all-capabilities]"), "{msg}");
    assert!(
        lines.iter().any(
            |l| l.starts_with("[block-device]") && l.contains(" fields, first /linux/devices/")
        ),
        "{msg}"
    );
    assert_eq!(msg.matches("[device-allow-all]").count(), 1, "{msg}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("Admin: waive = [\"all-capabilities\", \"masked-paths-emptied\""),
        "{msg}"
    );
    assert_eq!(msg.matches("\"block-device\"").count(), 1, "{msg}");
    // stderr says the same.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end(), msg);
    // Every violation stays in the audit record and in `rampart explain`.
    let audit = e.audit_lines();
    assert_eq!(audit[0]["outcome"], "refused");
    let refusals = audit[0]["refusals"].as_array().unwrap();
    assert!(refusals.iter().any(|r| r["rule"] == "writable-sysfs"));
    assert!(
        refusals
            .iter()
            .filter(|r| r["rule"] == "block-device")
            .count()
            > 1
    );
    let c = e.cfg();
    let b = e.bundle();
    let text = e.run(&[&c, "explain", b.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert_eq!(text.matches("\nREFUSE [").count(), refusals.len(), "{text}");
    assert!(text.contains("CIS Docker 5.5"), "{text}");
}

#[test]
fn complain_mode_runs_the_request_unchanged_and_logs_what_enforce_would_do() {
    let e = Env::new();
    fs::write(
        e.dir.join("profiles/rollout.toml"),
        "extends = \"restricted\"\n[policy]\nmode = \"complain\"\n",
    )
    .unwrap();
    e.write_spec(&fixture("docker-20.10/hostpid.json"));
    let before = fs::read(e.config_path()).unwrap();
    let out = e.docker_create(&["--rampart-profile", "rollout"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read(e.config_path()).unwrap(),
        before,
        "complain mode changes nothing"
    );
    let a = &e.audit_lines()[0];
    assert_eq!(
        (a["mode"].as_str(), a["outcome"].as_str()),
        (Some("complain"), Some("complain"))
    );
    assert!(
        a["refusals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "host-pid")
    );
    assert!(!a["changes"].as_object().unwrap().is_empty());
}

#[test]
fn only_allow_listed_annotations_select_profiles_or_waive_rules_never_env() {
    let e = Env::new();
    // Annotations count when runc's caller is a containerd shim (Docker, containerd/CRI).
    let shim = Some("containerd-shim");
    let cfg = fs::read_to_string(e.dir.join("config.toml")).unwrap()
        + "[[annotations]]\nkey = \"rampart.dev/waive\"\nselects = \"waive\"\nvalues = [\"host-pid\", \"host-ipc\", \"host-uts\", \"sensitive-mount\"]\n"
        + "[[annotations]]\nkey = \"rampart.dev/profile\"\nselects = \"profile\"\nvalues = [\"baseline\"]\n";
    fs::write(e.dir.join("config.toml"), cfg).unwrap();
    let mut spec = fixture("docker-20.10/hostpid.json");
    // Image ENV and unknown annotations are never consulted.
    spec["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("RAMPART_PROFILE=baseline"));
    spec["annotations"] =
        json!({"rampart.dev/waive": "host-pid,host-ipc", "com.example/waive": "host-uts"});
    e.write_spec(&spec);
    let out = e.docker_create_under(shim, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "host-uts and sensitive-mount are not waived"
    );
    let msg = e.last_log_error()["msg"].as_str().unwrap().to_string();
    assert!(
        msg.contains("[host-uts]") && !msg.contains("[host-pid]") && !msg.contains("[host-ipc]"),
        "{msg}"
    );

    spec["annotations"] = json!({"rampart.dev/waive": "host-pid,host-ipc,host-uts,sensitive-mount,all-capabilities", "rampart.dev/profile": "baseline"});
    e.write_spec(&spec);
    let out = e.docker_create_under(shim, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = e.audit_lines().pop().unwrap();
    assert_eq!(a["profile"], "baseline");
    assert!(a["notes"].as_array().unwrap().iter().any(|n| {
        n.as_str()
            .unwrap()
            .contains("rampart.dev/waive=all-capabilities ignored")
    }));

    // An explicit --rampart-profile beats the annotation.
    let out = e.docker_create_under(shim, &["--rampart-profile", "restricted"]);
    assert!(out.status.success());
    assert_eq!(e.audit_lines().pop().unwrap()["profile"], "restricted");

    // Any other caller (here: the test itself) is not trusted by default.
    let out = e.docker_create(&[]);
    assert_eq!(out.status.code(), Some(1), "annotations ignored");
    let a = e.audit_lines().pop().unwrap();
    assert_eq!(a["profile"], "restricted");
    assert!(
        a["notes"][0]
            .as_str()
            .unwrap()
            .contains("annotation_callers"),
        "{a}"
    );
}

/// podman copies an image's annotations into the spec: under conmon an allow-listed
/// profile annotation is ignored (restricted applies) and the audit says why.
#[test]
fn under_conmon_image_annotations_never_choose() {
    let e = Env::new();
    // Even listed, conmon is never trusted.
    let cfg = "annotation_callers = [\"containerd-shim\", \"conmon\"]\n".to_string()
        + &fs::read_to_string(e.dir.join("config.toml")).unwrap()
        + "[[annotations]]\nkey = \"rampart.dev/profile\"\nselects = \"profile\"\nvalues = [\"baseline\"]\n"
        + "[[annotations]]\nkey = \"rampart.dev/waive\"\nselects = \"waive\"\nvalues = [\"all-capabilities\"]\n";
    fs::write(e.dir.join("config.toml"), cfg).unwrap();
    let mut spec = fixture("podman-4.3/default.json");
    spec["annotations"] =
        json!({"rampart.dev/profile": "baseline", "rampart.dev/waive": "all-capabilities"});
    e.write_spec(&spec);
    let out = e.docker_create_under(Some("conmon"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = e.audit_lines().pop().unwrap();
    assert_eq!(a["profile"], "restricted");
    let note = a["notes"][0].as_str().unwrap();
    assert!(
        note.contains("conmon") && note.contains("--runtime rampart-NAME"),
        "{note}"
    );
    assert_eq!(
        e.recorded_config()["root"]["readonly"],
        json!(true),
        "restricted applied"
    );
    // explain says the same for that caller, and honours the annotation for a shim.
    let (c, b) = (e.cfg(), e.bundle());
    let text = String::from_utf8_lossy(
        &e.run(&[&c, "explain", "--caller", "conmon", b.to_str().unwrap()])
            .stdout,
    )
    .into_owned();
    assert!(
        text.contains("profile restricted") && text.contains("note: annotations"),
        "{text}"
    );
    let text = String::from_utf8_lossy(
        &e.run(&[
            &c,
            "explain",
            "--caller",
            "containerd-shim",
            b.to_str().unwrap(),
        ])
        .stdout,
    )
    .into_owned();
    assert!(text.contains("profile baseline"), "{text}");
}

#[test]
fn explain_agrees_with_create_on_refusals() {
    let e = Env::new();
    e.write_spec(&fixture("docker-20.10/dockersock.json"));
    let (c, b) = (e.cfg(), e.bundle());
    let out = e.run(&[&c, "explain", "--json", b.to_str().unwrap()]);
    let explained: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(explained["outcome"], "refused");
    assert_eq!(e.docker_create(&[]).status.code(), Some(1));
    let a = &e.audit_lines()[0];
    assert_eq!(explained["refusals"], a["refusals"]);
    assert_eq!(
        changed_fields(&explained["changes"]),
        changed_fields(&a["changes"])
    );
    let text =
        String::from_utf8_lossy(&e.run(&[&c, "explain", b.to_str().unwrap()]).stdout).into_owned();
    assert!(
        text.contains("REFUSE [engine-socket]") && text.contains("CIS Docker 5.32"),
        "{text}"
    );
}

#[test]
fn mount_destination_through_a_symlink_above_the_rootfs_is_refused() {
    let e = Env::new();
    let rootfs = e.bundle().join("rootfs");
    fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::os::unix::fs::symlink("../../../../../etc", rootfs.join("etc/up")).unwrap();
    let mut spec = fixture("docker-20.10/default.json");
    spec["root"]["path"] = json!("rootfs");
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/etc/up/cron.d", "type": "tmpfs", "source": "tmpfs"}));
    e.write_spec(&spec);
    assert_eq!(e.docker_create(&[]).status.code(), Some(1));
    let msg = e.last_log_error()["msg"].as_str().unwrap().to_string();
    assert!(
        msg.contains("[unsafe-mount-destination]") && msg.contains("/etc/up -> ../../../../../etc"),
        "{msg}"
    );
    assert_eq!(e.recorded_argv(), None);
}

#[test]
fn a_fifo_config_json_is_refused_at_once_without_blocking() {
    let e = Env::new();
    fs::remove_file(e.config_path()).unwrap();
    let st = Command::new("mkfifo")
        .arg(e.config_path())
        .status()
        .unwrap();
    assert!(st.success());
    let t = std::time::Instant::now();
    let out = e.docker_create(&[]);
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "blocked");
    assert!(!out.status.success());
    let err = e.last_log_error();
    assert!(err["msg"].as_str().unwrap().contains("is a FIFO"), "{err}");
    assert_eq!(e.recorded_argv(), None, "the runtime must not run");
}

#[test]
fn a_symlinked_config_json_is_refused() {
    let e = Env::new();
    let real = e.dir.join("elsewhere.json");
    fs::rename(e.config_path(), &real).unwrap();
    std::os::unix::fs::symlink(&real, e.config_path()).unwrap();
    let out = e.docker_create(&[]);
    assert!(!out.status.success());
    let err = e.last_log_error();
    assert!(
        err["msg"].as_str().unwrap().contains("is a symlink"),
        "{err}"
    );
    assert_eq!(e.recorded_argv(), None, "the runtime must not run");
}

/// The bundle path is a symlink an attacker re-points between Rampart's write and the
/// runtime's read (here: the runtime itself re-points it first, the worst case of the race).
/// The runtime is handed the directory Rampart judged and reads the hardened spec.
#[test]
fn the_runtime_reads_the_directory_rampart_judged_even_if_the_bundle_link_moves() {
    let e = Env::new();
    let judged = e.bundle();
    let other = e.dir.join("other");
    fs::create_dir_all(&other).unwrap();
    let mut evil = fixture("docker-20.10/default.json");
    evil["process"]["args"] = json!(["unjudged"]);
    fs::write(
        other.join("config.json"),
        serde_json::to_vec(&evil).unwrap(),
    )
    .unwrap();
    let link = e.dir.join("link");
    std::os::unix::fs::symlink(&judged, &link).unwrap();
    let runtime = e.dir.join("repointing-runtime.sh");
    fs::write(
        &runtime,
        format!(
            "#!/bin/sh\nln -sfn {other:?} {link:?}.new && mv -T {link:?}.new {link:?}\nexec {:?} \"$@\"\n",
            fake_runtime()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o755)).unwrap();
    let rt = format!("--rampart-runtime={}", runtime.display());
    let c = e.cfg();
    let link_s = link.to_str().unwrap();
    let inline = format!("--bundle={link_s}");
    for form in [
        vec!["--bundle", link_s],
        vec!["-b", link_s],
        vec![inline.as_str()],
    ] {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&judged, &link).unwrap();
        let _ = fs::remove_dir_all(e.dir.join("record"));
        let mut args = vec![c.as_str(), rt.as_str(), "create"];
        args.extend(form.iter().copied());
        args.push("cid");
        let out = e.run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read_link(&link).unwrap(),
            other,
            "the link was re-pointed"
        );
        let argv = e.recorded_argv().unwrap();
        let bundle_arg = if form.len() == 1 {
            vec!["--bundle=<held>".to_string()]
        } else {
            vec![form[0].to_string(), "<held>".to_string()]
        };
        assert_eq!(argv[1..1 + bundle_arg.len()], bundle_arg[..], "{argv:?}");
        let c = e.recorded_config();
        assert_ne!(c["process"]["args"], json!(["unjudged"]));
        assert_eq!(
            c["process"]["noNewPrivileges"],
            json!(true),
            "the judged, hardened spec"
        );
    }
}

#[test]
fn without_bundle_the_runtime_argv_is_unchanged() {
    let e = Env::new();
    let c = e.cfg();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([c.as_str(), "create", "cid"])
        .current_dir(e.bundle())
        .env("FAKE_RECORD", e.dir.join("record"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(e.recorded_argv().unwrap(), ["create", "cid"]);
    assert_eq!(
        e.recorded_config()["process"]["noNewPrivileges"],
        json!(true)
    );
}

/// runc reads `exec --process FILE` again by path: a symlink or a FIFO there could show it
/// another process than the one Rampart clamped. Refused.
#[test]
fn exec_process_file_must_be_a_regular_file() {
    let e = Env::new();
    let real = e.dir.join("real.json");
    fs::write(
        &real,
        br#"{"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#,
    )
    .unwrap();
    let link = e.dir.join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let fifo = e.dir.join("fifo.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let c = e.cfg();
    for (p, what) in [(&link, "is a symlink"), (&fifo, "is a FIFO")] {
        let out = e.run(&[&c, "exec", "--process", p.to_str().unwrap(), "cid"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what), "{err}");
        assert_eq!(e.recorded_argv(), None, "the runtime must not run");
    }
}

fn run_with_stdin(e: &Env, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .env("FAKE_RECORD", e.dir.join("record"))
        .env("FAKE_STDIN", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = child.stdin.take().unwrap();
    let _ = w.write_all(stdin);
    drop(w);
    child.wait_with_output().unwrap()
}

#[test]
fn update_above_the_profile_is_refused_with_the_ceiling_and_audited() {
    let e = Env::new();
    let c = e.cfg();
    for args in [
        vec![c.as_str(), "update", "--pids-limit", "-1", "cid"],
        vec![c.as_str(), "update", "cid", "--memory", "64g"],
        vec![
            c.as_str(),
            "update",
            "--cpu-quota=-1",
            "--cpu-period",
            "100000",
            "cid",
        ],
    ] {
        let out = e.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("refused to update container cid") && err.contains("[resources]"),
            "{err}"
        );
        assert!(e.recorded_argv().is_none(), "the runtime must not run");
    }
    let err = String::from_utf8_lossy(
        &e.run(&[c.as_str(), "update", "--pids-limit", "-1", "cid"])
            .stderr,
    )
    .into_owned();
    assert!(
        err.contains("--pids-limit -1 (unlimited)") && err.contains("32768 (pids_max)"),
        "{err}"
    );
    let audit = e.audit_lines();
    assert!(
        audit
            .iter()
            .all(|l| l["command"] == "update" && l["outcome"] == "refused")
    );
    // Within the ceilings: runc gets the argv unchanged.
    e.run_ok(&[
        c.as_str(),
        "update",
        "--pids-limit",
        "100",
        "--memory",
        "1g",
        "cid",
    ]);
    assert_eq!(
        e.recorded_argv().unwrap(),
        ["update", "--pids-limit", "100", "--memory", "1g", "cid"]
    );
    assert_eq!(e.audit_lines().last().unwrap()["outcome"], "judged");
}

/// Docker's `-m 4g --pids-limit 4096 --ulimit nofile=16384:16384 --cpus 2` under
/// restricted (defaults 2 GiB, 1024, nofile 65536 or the host's hard limit; ceilings 16 GiB,
/// 32768, 524288): runc gets exactly what the user asked for, and the audit says so.
/// `rampart explain --json` of the bundle as it is now: every change with its reason (the
/// audit record keeps the changes, not the reasons).
fn explained_changes(e: &Env, profile: Option<&str>) -> Value {
    let (c, b) = (e.cfg(), e.bundle());
    let mut args = vec![c.as_str(), "explain", "--json"];
    if let Some(p) = profile {
        args.extend(["--profile", p]);
    }
    args.push(b.to_str().unwrap());
    let out = e.run(&args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["changes"].clone()
}

#[test]
fn explicit_limits_within_the_ceilings_are_honoured() {
    let e = Env::new();
    e.write_spec(&fixture("docker-20.10/limits-explicit.json"));
    let explained = explained_changes(&e, None);
    let out = e.docker_create(&[]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = e.recorded_config();
    assert_eq!(
        c.pointer("/linux/resources/memory/limit"),
        Some(&json!(4294967296i64))
    );
    assert_eq!(c.pointer("/linux/resources/pids/limit"), Some(&json!(4096)));
    assert_eq!(
        c.pointer("/linux/resources/cpu/quota"),
        Some(&json!(200000))
    );
    let nofile: Vec<&Value> = c["process"]["rlimits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "RLIMIT_NOFILE")
        .collect();
    assert_eq!(nofile.len(), 1);
    assert_eq!(
        (&nofile[0]["soft"], &nofile[0]["hard"]),
        (&json!(16384), &json!(16384))
    );
    let a = &explained;
    let honoured: Vec<&str> = explained
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["reason"]
                .as_str()
                .unwrap()
                .contains("explicit request honoured")
        })
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        honoured,
        [
            "/linux/resources/pids/limit",
            "/linux/resources/memory/limit",
            "/linux/resources/cpu/quota",
            "/process/rlimits/0"
        ],
        "{a}"
    );
}

/// Whether this process holds CAP_SYS_RESOURCE (bit 24 of CapEff).
fn has_cap_sys_resource() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    u64::from_str_radix(eff, 16).unwrap() & (1 << 24) != 0
}

/// The host's hard limit for open files (what runc can grant without CAP_SYS_RESOURCE).
fn host_nofile_hard() -> u64 {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) }, 0);
    l.rlim_max
}

/// Above a ceiling (or unlimited): refused with one short line naming the flag, the value,
/// the ceiling and the fix; config.json is not touched and runc never runs.
#[test]
fn explicit_limits_above_the_ceilings_are_refused_loudly() {
    let e = Env::new();
    let mut spec = fixture("docker-20.10/limits-explicit.json");
    spec["linux"]["resources"]["memory"]["limit"] = json!(64i64 << 30); // -m 64g
    spec["linux"]["resources"]["memory"]["swap"] = json!(128i64 << 30);
    spec["linux"]["resources"]["pids"]["limit"] = json!(-1); // --pids-limit -1 (or 0)
    e.write_spec(&spec);
    let before = fs::read(e.config_path()).unwrap();
    let out = e.docker_create(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(e.recorded_argv(), None, "the runtime must not run");
    assert_eq!(fs::read(e.config_path()).unwrap(), before);
    let msg = e.last_log_error()["msg"].as_str().unwrap().to_string();
    for needle in [
        "[resource-above-ceiling]",
        "-m/--memory 64g is above the ceiling 16g",
        "memory_max_bytes",
        "--pids-limit -1 (unlimited) is above the ceiling 32768",
        "ask for at most 32768",
    ] {
        assert!(msg.contains(needle), "{needle} missing from {msg}");
    }
    assert!(msg.len() < 1024, "{} bytes: {msg}", msg.len());
    assert_eq!(e.audit_lines()[0]["outcome"], "refused");

    // --ulimit nofile= above what the host can grant: runc would fail; refused instead.
    let hard = host_nofile_hard();
    if !has_cap_sys_resource() && hard < 524288 {
        let e = Env::new();
        let mut spec = fixture("docker-20.10/limits-explicit.json");
        spec["process"]["rlimits"] =
            json!([{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}]);
        e.write_spec(&spec);
        let out = e.docker_create(&[]);
        assert_eq!(out.status.code(), Some(1));
        let msg = e.last_log_error()["msg"].as_str().unwrap().to_string();
        assert!(
            msg.contains(&format!(
                "--ulimit nofile={0}:{0} is above the ceiling {hard}",
                hard + 1
            )) && msg.contains("CAP_SYS_RESOURCE"),
            "{msg}"
        );
        assert_eq!(e.recorded_argv(), None);
    }
}

/// An admin's `on_ceiling = "clamp"`: lowered to the ceiling, and the audit says why.
#[test]
fn clamp_mode_lowers_explicit_limits_to_the_ceiling_and_audits_it() {
    let e = Env::new();
    fs::write(
        e.dir.join("profiles/clamped.toml"),
        "extends = \"restricted\"\n[resources]\non_ceiling = \"clamp\"\n",
    )
    .unwrap();
    let mut spec = fixture("docker-20.10/limits-explicit.json");
    spec["linux"]["resources"]["memory"]["limit"] = json!(64i64 << 30);
    spec["linux"]["resources"]["memory"]["swap"] = json!(128i64 << 30);
    spec["linux"]["resources"]["pids"]["limit"] = json!(-1);
    e.write_spec(&spec);
    let explained = explained_changes(&e, Some("clamped"));
    let out = e.docker_create(&["--rampart-profile", "clamped"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = e.recorded_config();
    assert_eq!(
        c.pointer("/linux/resources/memory/limit"),
        Some(&json!(16i64 << 30))
    );
    assert_eq!(
        c.pointer("/linux/resources/pids/limit"),
        Some(&json!(32768))
    );
    let a = &e.audit_lines()[0];
    assert_eq!(a["outcome"], "hardened");
    let reasons: Vec<&str> = explained
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .filter(|r| r.contains("on_ceiling = \"clamp\""))
        .collect();
    assert_eq!(reasons.len(), 2, "{a}");
    assert!(reasons[0].contains("--pids-limit -1 (unlimited) is above the ceiling 32768"));
}

#[test]
fn update_from_stdin_is_judged_and_runc_gets_exactly_the_judged_bytes() {
    let e = Env::new();
    let c = e.cfg();
    let out = run_with_stdin(
        &e,
        &[c.as_str(), "update", "-r", "-", "cid"],
        br#"{"memory": {"limit": 68719476736}}"#,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory.limit 68719476736"), "{err}");
    // Go's decoder matches keys case-insensitively.
    let out = run_with_stdin(
        &e,
        &[c.as_str(), "update", "--resources=-", "cid"],
        br#"{"PIDS": {"Limit": -1}}"#,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = br#"{"pids": {"limit": 100}, "memory": {"limit": 1048576}}"#;
    let mut input = doc.to_vec();
    input.extend_from_slice(b"\n{\"pids\": {\"limit\": -1}}");
    let out = run_with_stdin(&e, &[c.as_str(), "update", "-r", "-", "cid"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read(e.dir.join("record/stdin")).unwrap(), doc);
    assert_eq!(e.recorded_argv().unwrap(), ["update", "-r", "-", "cid"]);
}

#[test]
fn restore_is_refused_by_default() {
    let e = Env::new();
    let (c, b) = (e.cfg(), e.bundle());
    let out = e.run(&[
        c.as_str(),
        "restore",
        "--bundle",
        b.to_str().unwrap(),
        "cid",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allow_restore = true"), "{err}");
    assert!(e.recorded_argv().is_none());
    // Allowed by a profile: hardened as create, loosening flags refused.
    fs::write(
        e.dir.join("profiles/restorable.toml"),
        "extends = \"restricted\"\n[policy]\nallow_restore = true\n",
    )
    .unwrap();
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut v = vec![
            c.clone(),
            "--rampart-profile".into(),
            "restorable".into(),
            "restore".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--bundle".into(), b.display().to_string(), "cid".into()]);
        v
    };
    let refused = e.run(
        &args(&["--empty-ns", "network"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--empty-ns"));
    e.run_ok(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        e.recorded_config()["process"]["noNewPrivileges"],
        json!(true)
    );
}

#[test]
fn exec_no_new_privs_false_is_dropped_and_process_label_refused() {
    let e = Env::new();
    let c = e.cfg();
    for v in ["false", "0", "f", "F", "FALSE", "False"] {
        let flag = format!("--no-new-privs={v}");
        e.run_ok(&[c.as_str(), "exec", flag.as_str(), "-t", "cid", "sh"]);
        assert_eq!(
            e.recorded_argv().unwrap(),
            ["exec", "-t", "cid", "sh"],
            "{v}"
        );
    }
    let last = e.audit_lines().pop().unwrap();
    assert_eq!(last["outcome"], "clamped");
    let out = e.run(&[
        c.as_str(),
        "exec",
        "--process-label",
        "system_u:system_r:spc_t:s0",
        "cid",
        "sh",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = e.run(&[c.as_str(), "exec", "--cgroup", "pids:../cidx", "cid", "sh"]);
    assert_eq!(out.status.code(), Some(1));
    // Flags after the id are the program's.
    e.run_ok(&[c.as_str(), "exec", "cid", "sh", "--no-new-privs=false"]);
    assert_eq!(
        e.recorded_argv().unwrap(),
        ["exec", "cid", "sh", "--no-new-privs=false"]
    );
}

/// `rampart why`: audit records written by real `create`s (fake runtime), looked up by id,
/// id prefix, bundle and Docker name; what each change breaks and the fix.
#[test]
fn why_explains_a_container_from_its_create_record() {
    let e = Env::new();
    let c = e.cfg();
    let b = e.bundle();
    let bs = b.to_str().unwrap();
    let create = |id: &str| {
        e.run_ok(&[&c, "create", "--bundle", bs, id]);
    };
    // No audit log yet: says which file it could not read.
    let none = e.run(&[&c, "why", "anything"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("cannot read the audit log"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    let id = "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
    create(id);
    create("4f9900");
    // A refused one too.
    let mut spec = fixture("docker-20.10/default.json");
    spec["linux"]["namespaces"] =
        json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    let other = e.dir.join("other");
    fs::create_dir_all(&other).unwrap();
    fs::write(
        other.join("config.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    assert!(
        !e.run(&[
            &c,
            "create",
            "--bundle",
            other.to_str().unwrap(),
            "refusedone"
        ])
        .status
        .success()
    );
    let why = |args: &[&str], path: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
        cmd.arg(&c).arg("why").args(args);
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        cmd.output().unwrap()
    };
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).to_string();
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();
    let empty = e.dir.join("empty-path");
    fs::create_dir_all(&empty).unwrap();

    // By full id and by a unique prefix: the same report.
    let full = why(&[id], Some(&empty));
    assert!(full.status.success(), "{}", err(&full));
    let out = text(&full);
    assert!(out.starts_with(&format!("container {id}\n")), "{out}");
    assert!(out.contains("under profile restricted: hardened"), "{out}");
    for needle in [
        "* read-only root filesystem\n    breaks: writing outside the writable paths fails with EROFS",
        "writable here: /tmp, /run",
        "fix: --tmpfs PATH or a volume",
        "EPERM \"Operation not permitted\"",
        "--cap-drop ALL --cap-add NET_BIND_SERVICE",
        "* process limit 1024\n    breaks: fork/clone/pthread_create fail with EAGAIN",
        "--pids-limit N",
        "OOM-kills it: exit code 137",
        "Too many open files",
        "ENOSYS",
        "setuid/setgid binaries (sudo, su",
    ] {
        assert!(out.contains(needle), "{needle} missing from\n{out}");
    }
    let prefix = why(&["4f1e2d"], Some(&empty));
    assert_eq!(text(&prefix), out);
    // By bundle: two containers used it; the two ids are listed, exit 1.
    let both = why(&[bs], Some(&empty));
    assert_eq!(both.status.code(), Some(1));
    let msg = err(&both);
    assert!(
        msg.contains("matches 2 containers")
            && msg.contains(&format!("\n  {id} (bundle "))
            && msg.contains("\n  4f9900 (bundle "),
        "{msg}"
    );
    // An ambiguous prefix: listed too.
    let amb = why(&["4f"], Some(&empty));
    assert_eq!(amb.status.code(), Some(1));
    assert!(
        err(&amb).contains("id prefix 4f matches 2 containers"),
        "{}",
        err(&amb)
    );
    // A refused container: every violation with its fix.
    let refused = why(&["refusedone"], Some(&empty));
    assert!(refused.status.success());
    let out = text(&refused);
    assert!(
        out.contains("Refused (it never started)")
            && out.contains("[host-network]")
            && out.contains("fix: drop --network host"),
        "{out}"
    );
    // A name without docker on PATH: says names need docker, exit 1.
    let name = why(&["my-web"], Some(&empty));
    assert_eq!(name.status.code(), Some(1));
    assert!(
        err(&name).contains("names need the docker CLI on PATH"),
        "{}",
        err(&name)
    );
    // With a docker CLI on PATH, a name is resolved with docker inspect.
    let bin = e.dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\n[ \"$1 $2 $3 $4\" = 'inspect --format {{{{.Id}}}} --' ] || exit 2\n[ \"$5\" = my-web ] && echo {id} && exit 0\necho \"Error: No such object: $5\" >&2\nexit 1\n"
    );
    fs::write(bin.join("docker"), script).unwrap();
    let mut perm = fs::metadata(bin.join("docker")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(bin.join("docker"), perm).unwrap();
    let by_name = why(&["my-web"], Some(&bin));
    assert!(by_name.status.success(), "{}", err(&by_name));
    assert!(text(&by_name).starts_with(&format!("container {id}\n")));
    let unknown = why(&["nope"], Some(&bin));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        err(&unknown).contains("No such object: nope"),
        "{}",
        err(&unknown)
    );
    // Listed among the admin commands.
    let help = e.run(&["why", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("CONTAINER"));
}

/// The official-image pattern under restricted: `--cap-drop ALL --cap-add CHOWN --cap-add
/// SETUID --cap-add SETGID` reaches the runtime with exactly those three (audited as granted
/// on explicit request); Docker's defaults alone are still emptied.
#[test]
fn capabilities_asked_for_by_name_are_granted_where_the_profile_allows() {
    let e = Env::new();
    let mut spec = fixture("docker-20.10/capdrop-all-add.json");
    let three = json!(["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"]);
    for set in ["bounding", "effective", "permitted"] {
        spec["process"]["capabilities"][set] = three.clone();
    }
    e.write_spec(&spec);
    // The reason is explain's; the record keeps what was granted.
    let (c, b) = (e.cfg(), e.bundle());
    let explained: Value = serde_json::from_slice(
        &e.run(&[
            &c,
            "explain",
            "--json",
            "--caller",
            "containerd-shim",
            b.to_str().unwrap(),
        ])
        .stdout,
    )
    .unwrap();
    assert!(
        explained["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("granted on explicit request")),
        "{explained:?}"
    );
    let out = e.docker_create(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let caps = &e.recorded_config()["process"]["capabilities"];
    for set in ["bounding", "effective", "permitted"] {
        assert_eq!(caps[set], three, "{set}");
    }
    for set in ["inheritable", "ambient"] {
        assert_eq!(caps[set], json!([]), "{set}");
    }
    assert_eq!(
        e.recorded_config()["process"]["noNewPrivileges"],
        json!(true)
    );
    assert!(
        rampart::audit::expand(&e.audit_lines()[0]["changes"])
            .iter()
            .any(|(step, _, _, _, why)| step == "capabilities"
                && why.contains("granted on explicit request")),
        "{:?}",
        e.audit_lines()
    );
    // Docker's `--cap-add CHOWN` (the 14 defaults, then CHOWN again): CHOWN alone.
    let e = Env::new();
    e.write_spec(&fixture("docker-20.10/capadd-chown.json"));
    assert!(e.docker_create(&[]).status.success());
    assert_eq!(
        e.recorded_config()["process"]["capabilities"]["bounding"],
        json!(["CAP_CHOWN"])
    );
    // The defaults alone: nothing, as before.
    let e = Env::new();
    assert!(e.docker_create(&[]).status.success());
    assert_eq!(
        e.recorded_config()["process"]["capabilities"]["bounding"],
        json!([])
    );
}

/// `--cap-add SYS_ADMIN` (with CHOWN and SETUID): refused loudly, never dropped in silence;
/// the runtime never runs and config.json is untouched.
#[test]
fn a_capability_the_profile_does_not_grant_is_refused_not_dropped() {
    let e = Env::new();
    e.write_spec(&fixture("docker-20.10/capadd-chown-setuid.json"));
    let before = fs::read(e.config_path()).unwrap();
    let out = e.docker_create(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(e.recorded_argv(), None);
    assert_eq!(fs::read(e.config_path()).unwrap(), before);
    let msg = e.last_log_error()["msg"].as_str().unwrap().to_string();
    for needle in [
        "refused by profile restricted",
        "[capability-not-grantable]",
        "CAP_SYS_ADMIN",
        "--cap-add SYS_ADMIN",
        "capabilities.add",
        "CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_NET_BIND_SERVICE, CAP_SETGID, CAP_SETUID",
    ] {
        assert!(msg.contains(needle), "{needle} missing from {msg}");
    }
    assert!(!msg.contains("CAP_CHOWN was asked"), "{msg}");
    assert_eq!(e.audit_lines()[0]["outcome"], "refused");
    // Under baseline too (it grants no more on request than its allow-list).
    let e = Env::new();
    e.write_spec(&fixture("docker-20.10/capadd-chown-setuid.json"));
    let out = e.docker_create(&["--rampart-profile", "baseline"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(e.recorded_argv(), None);
}

/// A container granted CHOWN on request: `runc exec` keeps CHOWN (the container holds it),
/// never SYS_ADMIN (it does not, and the profile would not grant it).
#[test]
fn exec_keeps_granted_capabilities_the_container_holds_and_no_more() {
    let e = Env::new();
    let state_dir = e.dir.join("state/cid");
    fs::create_dir_all(&state_dir).unwrap();
    fs::write(
        state_dir.join("state.json"),
        br#"{"config":{"capabilities":{"Bounding":["CAP_CHOWN"]}}}"#,
    )
    .unwrap();
    let asked = json!(["CAP_CHOWN", "CAP_SETUID", "CAP_SYS_ADMIN"]);
    let process = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
        "capabilities": {"bounding": asked, "effective": asked, "permitted": asked}});
    let pfile = e.dir.join("process.json");
    fs::write(&pfile, serde_json::to_vec(&process).unwrap()).unwrap();
    let (c, root) = (e.cfg(), e.dir.join("state"));
    let out = e.run(&[
        &c,
        "--root",
        root.to_str().unwrap(),
        "exec",
        "-p",
        pfile.to_str().unwrap(),
        "cid",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = e.recorded_process();
    for set in ["bounding", "effective", "permitted"] {
        assert_eq!(p["capabilities"][set], json!(["CAP_CHOWN"]), "{set}");
    }
}

// ------------------------------------------------------------ Rampart's own command tree

#[test]
fn help_shows_rampart_commands_then_execs_the_runtime_for_its_page() {
    let e = Env::new();
    let c = e.cfg();
    for args in [vec!["--help"], vec!["-h"], vec!["help"], vec![]] {
        let mut full = vec![c.as_str()];
        full.extend(&args);
        let out = e.run_ok(&full);
        let text = String::from_utf8_lossy(&out.stdout);
        for cmd in ["check", "doctor", "explain", "profile", "version", "why"] {
            assert!(text.contains(cmd), "{args:?}: {text}");
        }
        // The runtime got the same argv (or --help for a bare `rampart`).
        let want: Vec<&str> = if args.is_empty() {
            vec!["--help"]
        } else {
            args.clone()
        };
        assert_eq!(e.recorded_argv().unwrap(), want, "{args:?}");
    }
    // `help CMD` for Rampart's command is Rampart's; for runc's it is runc's.
    let _ = std::fs::remove_dir_all(e.dir.join("record"));
    let out = e.run_ok(&[&c, "help", "explain"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("rampart explain"));
    assert!(e.recorded_argv().is_none());
    e.run_ok(&[&c, "help", "create"]);
    assert_eq!(e.recorded_argv().unwrap(), ["help", "create"]);
}

#[test]
fn dash_dash_version_stays_the_runtimes_and_version_is_ramparts() {
    let e = Env::new();
    let c = e.cfg();
    let out = e.run_ok(&[&c, "--version"]);
    assert!(
        out.stdout.is_empty(),
        "Rampart printed into runc's --version"
    );
    assert_eq!(e.recorded_argv().unwrap(), ["--version"]);
    let _ = std::fs::remove_dir_all(e.dir.join("record"));
    let out = e.run_ok(&[&c, "version"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("rampart {}\ncommit: ", env!("CARGO_PKG_VERSION"))));
    assert!(
        text.contains(&format!("runtime: {}", fake_runtime().display())),
        "{text}"
    );
}

#[test]
fn a_typo_gets_did_you_mean_and_exit_2_and_runc_commands_pass_through() {
    let e = Env::new();
    let c = e.cfg();
    let out = e.run(&[&c, "explian", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'explain'"), "{err}");
    assert!(e.recorded_argv().is_none());
    let out = e.run(&[&c, "delet", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'delete'"));
    e.run_ok(&[&c, "state", "x"]);
    assert_eq!(e.recorded_argv().unwrap(), ["state", "x"]);
}

#[test]
fn check_catches_a_typoed_rule_id_with_a_suggestion() {
    let e = Env::new();
    let c = e.cfg();
    e.run_ok(&[&c, "check"]);
    fs::write(
        e.dir.join("profiles/mine.toml"),
        "extends = \"restricted\"\n[policy]\nwaive = [\"host-netwrok\"]\n",
    )
    .unwrap();
    let out = e.run(&[&c, "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("did you mean \"host-network\"?"), "{text}");
    // --config names the file too.
    let out = e.run(&[
        "check",
        "--config",
        e.dir.join("config.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn profile_list_show_and_config_default() {
    let e = Env::new();
    let c = e.cfg();
    fs::write(
        e.dir.join("profiles/web.toml"),
        "extends = \"baseline\"\ndescription = \"web\"\n[resources]\npids = 64\n",
    )
    .unwrap();
    let out = e.run_ok(&[&c, "profile", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for n in ["baseline", "isolated", "restricted (default)", "web"] {
        assert!(text.contains(n), "{text}");
    }
    let out = e.run_ok(&[&c, "profile", "show", "web"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("extends = \"baseline\""));
    let out = e.run_ok(&[&c, "profile", "show", "web", "--effective"]);
    let eff = String::from_utf8_lossy(&out.stdout);
    assert!(!eff.contains("extends ="), "{eff}");
    let t: toml::Table = toml::from_str(&eff).unwrap();
    assert_eq!(t["resources"]["pids"].as_integer(), Some(64));
    assert!(t.contains_key("capabilities"), "{eff}");
    let out = e.run(&[&c, "profile", "show", "basline"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"baseline\"?"));
    let out = e.run_ok(&["config", "default"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("#default_profile = \"restricted\""));
}

#[test]
fn completions_and_man_pages_come_from_the_tree() {
    let e = Env::new();
    for sh in ["bash", "zsh", "fish"] {
        let out = e.run_ok(&["completions", sh]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("explain"),
            "{sh}"
        );
    }
    let out = e.run_ok(&["man"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH rampart"));
    let dir = e.dir.join("man");
    e.run_ok(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(dir.join("rampart.1").exists() && dir.join("rampart-check.1").exists());
}

#[test]
fn install_checks_first_and_writes_nothing_for_a_config_that_would_refuse_everything() {
    let e = Env::new();
    let daemon = e.dir.join("daemon.json");
    let bin = e.dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let args = |cfg: &str| {
        vec![
            format!("--rampart-config={cfg}"),
            "install".into(),
            "docker".into(),
            "--daemon-json".into(),
            daemon.to_str().unwrap().into(),
            "--pid-file".into(),
            e.dir.join("none.pid").to_str().unwrap().into(),
            "--bin-dir".into(),
            bin.to_str().unwrap().into(),
        ]
    };
    let bad = e.dir.join("bad.toml");
    fs::write(&bad, "default_profile = \"basline\"\n").unwrap();
    let a = args(bad.to_str().unwrap());
    let out = e.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"baseline\"?"));
    assert!(!daemon.exists() && fs::read_dir(&bin).unwrap().next().is_none());
    // The good config installs.
    let a = args(e.dir.join("config.toml").to_str().unwrap());
    e.run_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(daemon.exists());
}

/// `rampart install crio|podman` write one drop-in each (idempotent, backed up, refusing a
/// foreign file); uninstall removes it, and `--remove-links` keeps the links another
/// engine's registration (here containerd's handlers) still names.
#[test]
fn install_crio_and_podman_drop_ins_and_uninstall_keeps_links_in_use() {
    let e = Env::new();
    let root = e.dir.join("host");
    fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    fs::copy(
        env!("CARGO_BIN_EXE_rampart"),
        root.join("usr/local/bin/rampart"),
    )
    .unwrap();
    let r = root.to_str().unwrap().to_string();
    let c = e.cfg();
    let flags = ["--host-root", &r, "--binary", "/usr/local/bin/rampart"];
    let run = |args: &[&str]| {
        let out = e.run(&[&[c.as_str()][..], args, &flags].concat());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let crio = root.join("etc/crio/crio.conf.d/99-rampart.conf");
    let podman = root.join("etc/containers/containers.conf.d/99-rampart.conf");
    run(&["install", "crio"]);
    let text = fs::read_to_string(&crio).unwrap();
    assert!(
        text.contains("[crio.runtime.runtimes.rampart-baseline]"),
        "{text}"
    );
    assert!(text.contains("runtime_path = \"/usr/local/bin/rampart-baseline\""));
    assert!(run(&["install", "crio"]).contains("nothing changed"));
    run(&["install", "podman"]);
    let text = fs::read_to_string(&podman).unwrap();
    assert!(
        text.contains("rampart-isolated = [\"/usr/local/bin/rampart-isolated\"]"),
        "{text}"
    );
    assert!(fs::symlink_metadata(root.join("usr/local/bin/rampart-baseline")).is_ok());
    // containerd's handlers name the same links.
    let conf = root.join("etc/containerd/config.toml");
    run(&["install", "containerd"]);
    // Uninstalling podman keeps the links (crio and containerd still use them).
    let out = run(&["uninstall", "podman", "--remove-links"]);
    assert!(
        out.contains(
            "kept link /usr/local/bin/rampart-baseline: still registered with containerd, crio"
        ),
        "{out}"
    );
    assert!(!podman.exists());
    assert!(fs::symlink_metadata(root.join("usr/local/bin/rampart-baseline")).is_ok());
    run(&["uninstall", "crio"]);
    assert!(!crio.exists());
    run(&["uninstall", "containerd"]);
    assert!(
        !fs::read_to_string(&conf)
            .unwrap()
            .contains("rampart-baseline")
    );
    // Nothing names them any more: now they go.
    let out = run(&["uninstall", "podman", "--remove-links"]);
    assert!(
        out.contains("removed link /usr/local/bin/rampart-baseline"),
        "{out}"
    );
    // A drop-in Rampart did not write is left alone.
    fs::create_dir_all(podman.parent().unwrap()).unwrap();
    fs::write(&podman, "[engine]\n").unwrap();
    let out = e.run(&[&[c.as_str()][..], &["install", "podman"], &flags].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not written by Rampart"));
    assert_eq!(fs::read_to_string(&podman).unwrap(), "[engine]\n");
}

/// The debug log is off by default and, when config.toml names one, gets one line per
/// invocation with argv, phase timings and the decision.
#[test]
fn debug_log_is_opt_in_and_records_each_invocation() {
    let e = Env::new();
    assert!(e.docker_create(&[]).status.success());
    assert!(!e.dir.join("debug.log").exists());
    let cfg = fs::read_to_string(e.dir.join("config.toml")).unwrap();
    fs::write(
        e.dir.join("config.toml"),
        format!("{cfg}debug_log = {:?}\n", e.dir.join("debug.log")),
    )
    .unwrap();
    e.write_spec(&fixture("docker-20.10/default.json"));
    let _ = e.docker_create(&[]);
    let text = fs::read_to_string(e.dir.join("debug.log")).unwrap();
    let line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        line["argv"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "create")
    );
    assert!(line["phases_ms"]["settings"].is_number() && line["phases_ms"]["harden"].is_number());
    // Where `harden` went, part by part, each step by name.
    for part in [
        "bundle",
        "read",
        "parse",
        "profile",
        "host_facts",
        "spec_facts",
        "policy",
        "seccomp",
        "write",
        "audit",
        "commit",
    ] {
        assert!(line["parts_ms"][part].is_number(), "{part}: {line}");
    }
    assert!(
        line["decision"].as_str().unwrap().starts_with("exec "),
        "{line}"
    );
}

/// The shipped examples pass `rampart check` (what an admin copies must load): the example
/// config with the example profiles beside it.
#[test]
fn the_examples_pass_rampart_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("examples-check-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let text = fs::read_to_string(root.join("examples/config.toml"))
        .unwrap()
        .replace(
            "profiles_dir = \"/etc/rampart/profiles\"",
            &format!("profiles_dir = {:?}", root.join("examples/profiles")),
        );
    let cfg = dir.join("config.toml");
    fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["check", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("profile web"), "{text}");
}

fn learn_fixtures() -> String {
    format!("{}/tests/fixtures/learn", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn learn_show_and_profile_from_recordings_and_the_profile_is_enforced() {
    let e = Env::new();
    let dir = learn_fixtures();
    let out = e.run_ok(&[&e.cfg(), "learn", "--dir", &dir, "show", "nginx"]);
    let show = String::from_utf8(out.stdout).unwrap();
    for want in [
        "nginx: 3 recordings",
        "(2 complete)",
        "INCOMPLETE (120 events lost",
        "syscalls:  x86_64: 55 distinct",
        "writes:    /var/cache/nginx/client_temp, /var/cache/nginx/fastcgi_temp, /var/cache/nginx/proxy_temp",
        "peaks:     pids 5, memory 14.0 MiB, nofile 48",
        "CAP_CHOWN              exact          granted",
        "fchownat /var/cache/nginx/client_temp to 101:- (owner 0:0)",
        "CAP_SETUID             likely         granted",
        "How exact:",
    ] {
        assert!(show.contains(want), "{want:?} missing from\n{show}");
    }
    let out = e.run_ok(&[&e.cfg(), "learn", "--dir", &dir, "profile", "nginx"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# Learned by `rampart learn profile nginx` from 2 recordings"));
    assert!(
        !text.contains("c0ffee001122"),
        "the incomplete one is left out"
    );
    assert!(text.contains("# Seen but still denied: clone3: every call failed with ENOSYS"));
    fs::write(e.dir.join("profiles/nginx.toml"), &text).unwrap();
    e.run_ok(&[&e.cfg(), "check"]);

    // Enforced on create: Docker's 14 capabilities become the four learned ones
    // (NET_BIND_SERVICE too, dropped again in Docker's private network namespace), the
    // filter allows only what was seen, the rootfs is read-only with the written directory
    // on a tmpfs, and the limits come from the peaks.
    e.run_ok(&[
        &e.cfg(),
        "--rampart-profile",
        "nginx",
        "create",
        "--bundle",
        e.bundle().to_str().unwrap(),
        "c1",
    ]);
    let c = e.recorded_config();
    let mut caps: Vec<&str> = c["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    caps.sort_unstable();
    assert_eq!(caps, ["CAP_CHOWN", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"]);
    let allowed: Vec<&str> = c["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap())
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(allowed.contains(&"sendfile") && allowed.contains(&"execve"));
    for never in ["personality", "ptrace", "mount", "chroot", "io_uring_setup"] {
        assert!(!allowed.contains(&never), "{never} allowed");
    }
    assert!(allowed.len() < 80, "{}", allowed.len());
    assert_eq!(c["root"]["readonly"], true);
    assert!(
        c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/var/cache/nginx" && m["type"] == "tmpfs"),
        "{}",
        c["mounts"]
    );
    assert_eq!(c["linux"]["resources"]["pids"]["limit"], 128);
    assert_eq!(c["linux"]["resources"]["memory"]["limit"], 268435456);

    // --allow-incomplete takes the third; --widen keeps its ptrace (a group restricted
    // leaves out).
    let out = e.run_ok(&[
        &e.cfg(),
        "learn",
        "--dir",
        &dir,
        "profile",
        "nginx",
        "--allow-incomplete",
        "--widen",
    ]);
    let wide = String::from_utf8(out.stdout).unwrap();
    assert!(wide.contains(
        "c0ffee001122  docker  2026-12-01T12:10:00Z .. 2026-12-01T12:10:02Z (INCOMPLETE)"
    ));
    assert!(
        wide.contains("deny_groups = []  # --widen: ptrace"),
        "{wide}"
    );
    assert!(wide.contains("\"ptrace\",  # 1 calls in c0ffee001122; group ptrace, --widen"));
}

#[test]
fn learn_list_config_dir_and_refusals() {
    let e = Env::new();
    // The config file's [learn] dir, when --dir is not given.
    let mut cfg = fs::read_to_string(e.dir.join("config.toml")).unwrap();
    cfg += &format!("[learn]\ndir = {:?}\n", learn_fixtures());
    fs::write(e.dir.join("config.toml"), cfg).unwrap();
    let out = e.run_ok(&[&e.cfg(), "learn", "list"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "nginx\t3 recordings\nprobe\t1 recording\n"
    );
    let out = e.run(&[&e.cfg(), "learn", "show", "redis"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no recordings of \"redis\""));
    let out = e.run(&[&e.cfg(), "learn", "profile", "../etc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a workload name"));

    // Only an incomplete recording: no profile unless asked for.
    let d = e.dir.join("learn/web");
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("abc.json"),
        r#"{"schema":1,"name":"web","container_id":"abc","complete":false,"lost_events":9,
            "syscalls":[{"arch":"x86_64","name":"read","ok":1}]}"#,
    )
    .unwrap();
    // A recorder's temporary file is not a recording.
    fs::write(d.join(".abd.json.tmp"), "{").unwrap();
    let ldir = e.dir.join("learn");
    let ldir = ldir.to_str().unwrap();
    let out = e.run(&[&e.cfg(), "learn", "--dir", ldir, "profile", "web"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-incomplete"));
    e.run_ok(&[
        &e.cfg(),
        "learn",
        "--dir",
        ldir,
        "profile",
        "web",
        "--allow-incomplete",
    ]);
    // A broken recording is named, never skipped.
    fs::write(d.join("bad.json"), r#"{"schema":1,"name":"web"}"#).unwrap();
    let out = e.run(&[&e.cfg(), "learn", "--dir", ldir, "show", "web"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json"));
}
