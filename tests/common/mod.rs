//! Shared end-to-end harness: real containers run by runc (directly or through rampart) from a
//! busybox-static rootfs with the probe from tests/probe/probe.c at /bin/probe.
//! Everything lives under target/e2e: rootfs, bundles/<id>, hostfiles/<id>, state (runc --root).
#![allow(dead_code)]

pub mod engines;
pub mod workload;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CONTAINER_TIMEOUT: Duration = Duration::from_secs(60);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn e2e_dir() -> PathBuf {
    manifest_dir().join("target/e2e")
}

/// A name unique across test threads, processes and runs.
fn unique_id() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 100_000_000;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("e2e-{millis}-{}-{n}", std::process::id())
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// The real runc, found in PATH.
pub fn runc_path() -> PathBuf {
    which("runc").expect("runc not found in PATH (run scripts/setup-host)")
}

/// The rampart binary built by cargo for this test run.
pub fn rampart_path() -> PathBuf {
    // option_env!: the crate may not have its `rampart` bin target yet.
    match option_env!("CARGO_BIN_EXE_rampart") {
        Some(path) => PathBuf::from(path),
        None => panic!("the crate has no `rampart` bin target"),
    }
}

/// True when end-to-end tests can run. With RAMPART_SKIP_E2E=1 returns false (caller returns
/// early); otherwise panics if not root or a tool is missing.
/// The file where skipped tests leave one line each (`BINARY TEST`): cargo's harness
/// counts a test that returns early as passed, so scripts/test subtracts these.
pub const SKIPPED_FILE: &str = "skipped-tests";

/// Records that the current test skipped itself (see [`SKIPPED_FILE`]).
pub fn note_skipped() {
    use std::io::Write;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(SKIPPED_FILE);
    let bin = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let test = thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
        // One short write per line: O_APPEND keeps concurrent tests' lines whole.
        let _ = f.write_all(format!("{bin} {test}\n").as_bytes());
    }
}

pub fn require_root_tools() -> bool {
    if std::env::var_os("RAMPART_SKIP_E2E").is_some_and(|v| v == "1") {
        eprintln!("RAMPART_SKIP_E2E=1: skipping end-to-end test");
        note_skipped();
        return false;
    }
    let mut problems = Vec::new();
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid =
        status_field(&status, "Uid").and_then(|v| v.split_whitespace().nth(1).map(String::from));
    if euid.as_deref() != Some("0") {
        problems.push("not running as root".to_string());
    }
    for tool in ["runc", "gcc"] {
        if which(tool).is_none() {
            problems.push(format!("{tool} not in PATH"));
        }
    }
    if !Path::new("/bin/busybox").is_file() {
        problems.push("/bin/busybox missing (busybox-static)".to_string());
    }
    assert!(
        problems.is_empty(),
        "end-to-end tests need root, runc, gcc and busybox-static: {}. \
         Run scripts/setup-host as root, or set RAMPART_SKIP_E2E=1 to skip them.",
        problems.join(", ")
    );
    true
}

fn run_checked(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The shared rootfs (target/e2e/rootfs), built once per test run; a file lock serializes
/// concurrent test binaries. /bin/probe is rebuilt when tests/probe/probe.c is newer.
pub fn rootfs() -> PathBuf {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS
        .get_or_init(|| {
            let dir = e2e_dir().join("rootfs");
            fs::create_dir_all(e2e_dir()).unwrap();
            let lock = fs::File::create(e2e_dir().join("rootfs.lock")).unwrap();
            lock.lock().unwrap();
            run_checked(Command::new(manifest_dir().join("scripts/mkrootfs")).arg(&dir));
            let src = manifest_dir().join("tests/probe/probe.c");
            let probe = dir.join("bin/probe");
            if mtime(&probe) < mtime(&src) {
                let tmp = dir.join("bin/.probe.tmp");
                run_checked(
                    Command::new("gcc")
                        .args(["-static", "-O2", "-o"])
                        .arg(&tmp)
                        .arg(&src),
                );
                fs::rename(&tmp, &probe).unwrap();
            }
            dir
        })
        .clone()
}

/// A copy of a captured spec from tests/fixtures/specs, e.g. "docker-20.10/default.json".
pub fn fixture_spec(name: &str) -> Value {
    let path = manifest_dir().join("tests/fixtures/specs").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Docker 20.10's `docker run` spec, made runnable here: our rootfs and args, no terminal, no
/// libnetwork hook, the /etc bind mounts from a fresh dir, a unique cgroup. Seccomp,
/// capabilities, masked paths etc. stay exactly as Docker wrote them.
pub fn docker_like_spec(rootfs: &Path, args: &[&str]) -> Value {
    let mut spec = fixture_spec("docker-20.10/default.json");
    let id = unique_id();
    spec["root"]["path"] = json!(rootfs); // Docker leaves root.readonly unset (false)
    spec["process"]["args"] = json!(args);
    spec["process"]["terminal"] = json!(false);
    spec.as_object_mut().unwrap().remove("hooks");
    spec["linux"]["cgroupsPath"] = json!(format!("/rampart-test/{id}"));

    let hostfiles = e2e_dir().join("hostfiles").join(&id);
    fs::create_dir_all(&hostfiles).unwrap();
    for mount in spec["mounts"].as_array_mut().unwrap() {
        let dest = mount["destination"].as_str().unwrap_or_default();
        let content = match dest {
            "/etc/resolv.conf" => "nameserver 127.0.0.1\n",
            "/etc/hostname" => "rampart-e2e\n",
            "/etc/hosts" => "127.0.0.1\tlocalhost\n",
            _ => continue,
        };
        let file = hostfiles.join(dest.trim_start_matches("/etc/"));
        fs::write(&file, content).unwrap();
        mount["source"] = json!(file);
    }
    spec
}

/// A bundle dir target/e2e/bundles/<id> with config.json, and a container id. Removed on drop
/// unless the test is failing (kept for inspection: config.json, log.json).
pub struct Bundle {
    pub dir: PathBuf,
    pub id: String,
}

impl Bundle {
    pub fn new(spec: &Value) -> Bundle {
        let id = unique_id();
        let dir = e2e_dir().join("bundles").join(&id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(spec).unwrap(),
        )
        .unwrap();
        Bundle { dir, id }
    }

    /// config.json as it is now (after rampart rewrote it, for instance).
    pub fn config(&self) -> Value {
        serde_json::from_slice(&fs::read(self.dir.join("config.json")).unwrap()).unwrap()
    }

    /// The runtime's --log file (JSON lines), empty if absent.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log.json")).unwrap_or_default()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if !thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

pub enum Runtime {
    PlainRunc,
    /// rampart with `args` placed first, before the global flags (like Docker's runtimeArgs).
    Rampart {
        args: Vec<String>,
    },
}

/// Runs the bundle to completion the way Docker's shim calls a runtime (`--root --log
/// --log-format json`), but with `run`; stdin is null, output captured. The container is
/// always force-deleted afterwards; panics if it runs longer than 60 s.
pub fn run_container(runtime: Runtime, bundle: &Bundle) -> Output {
    let state = e2e_dir().join("state");
    let mut cmd = match &runtime {
        Runtime::PlainRunc => Command::new(runc_path()),
        Runtime::Rampart { args } => {
            let mut cmd = Command::new(rampart_path());
            cmd.args(args);
            cmd
        }
    };
    cmd.arg("--root").arg(&state);
    cmd.arg("--log").arg(bundle.dir.join("log.json"));
    cmd.args(["--log-format", "json", "run", "--bundle"])
        .arg(&bundle.dir)
        .arg(&bundle.id);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let finished = wait_until(&mut child, Instant::now() + CONTAINER_TIMEOUT);
    if finished.is_none() {
        let _ = child.kill();
    }
    // Also kills a container left behind by a killed runtime, which closes its pipes.
    let _ = Command::new(runc_path())
        .arg("--root")
        .arg(&state)
        .args(["delete", "--force", &bundle.id])
        .stdin(Stdio::null())
        .output();
    let status = finished.unwrap_or_else(|| child.wait().unwrap());
    let out = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    if finished.is_none() {
        panic!(
            "container {} timed out after {CONTAINER_TIMEOUT:?}\n{}",
            bundle.id,
            describe(&out)
        );
    }
    out
}

fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    let mut pipe = pipe.unwrap();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Status, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// stdout of a run that must have succeeded.
pub fn expect_success(out: &Output) -> String {
    assert!(out.status.success(), "container failed\n{}", describe(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `NAME result` lines of the probe's output, e.g. "keyctl" -> "errno=EPERM".
pub fn probe_lines(out: &Output) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, result)| (name.to_string(), result.trim().to_string()))
        .collect()
}

/// The value of a `Key:<tab>value` line (as in /proc/self/status and `probe status`).
pub fn status_field(stdout: &str, key: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == key).then(|| v.trim().to_string())
    })
}

/// DIR/rampart.toml naming the real runc, an audit log, DIR/profiles and `learn` (the
/// `[learn] dir`); returns it and the profiles directory.
pub fn learn_config(dir: &Path, learn: &Path) -> (PathBuf, PathBuf) {
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let cfg = dir.join("rampart.toml");
    std::fs::write(
        &cfg,
        format!(
            "runtime = {:?}\naudit_log = {:?}\nprofiles_dir = {:?}\n[learn]\ndir = {:?}\n",
            runc_path(),
            dir.join("audit.log"),
            profiles,
            learn
        ),
    )
    .unwrap();
    (cfg, profiles)
}
