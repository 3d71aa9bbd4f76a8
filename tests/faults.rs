//! Faults while Rampart rewrites a bundle, as root, through the fake runtime
//! (tests/fake/runtime.sh, which records the argv and config.json it was handed): disk full
//! and a read-only bundle while config.json is written, an audit log that cannot be written,
//! a runtime that is missing or cannot be executed, SIGKILL in the middle of a rewrite, and
//! concurrent creates of one bundle. In every case the runtime never sees an unhardened spec
//! and config.json is never partial: it is the original bytes or the complete hardened spec.
//! Small filesystems are private tmpfs mounts, unmounted by a guard.

use serde_json::Value;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// As tests/common's: one line in target/tmp/skipped-tests per skipped test.
fn note_skipped() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests");
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(format!("faults {test}\n").as_bytes());
    }
}

/// True when these tests can run: as root, unless RAMPART_SKIP_E2E=1.
fn require_root() -> bool {
    if std::env::var_os("RAMPART_SKIP_E2E").is_some_and(|v| v == "1") {
        eprintln!("RAMPART_SKIP_E2E=1: skipping fault test");
        note_skipped();
        return false;
    }
    let uid = fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|v| v.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    assert!(
        uid,
        "fault tests mount tmpfs and need root (RAMPART_SKIP_E2E=1 skips them)"
    );
    true
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tmpfs of `size` mounted on `dir` (created), lazily unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        run_ok(
            Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size},mode=755"),
                    "tmpfs",
                ])
                .arg(dir),
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }
    fn remount(&self, opt: &str) {
        run_ok(
            Command::new("mount")
                .args(["-o", &format!("remount,{opt}")])
                .arg(&self.dir),
        );
    }
    /// Fills the filesystem, then frees `pages` 4 KiB pages.
    fn fill_leaving(&self, pages: u64) -> PathBuf {
        let fill = self.dir.join("fill");
        let mut f = fs::File::create(&fill).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let len = fs::metadata(&fill).unwrap().len();
        f.set_len(len.saturating_sub(pages * 4096) / 4096 * 4096)
            .unwrap();
        fill
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn fake_runtime() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake/runtime.sh")
}

/// Docker's captured spec, without its libnetwork hook: the hook names the capturing
/// host's dockerd pid, which is no dockerd here (rule hook-not-allowed pins it).
fn docker_spec() -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(
        &fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/specs/docker-20.10/default.json"),
        )
        .unwrap(),
    )
    .unwrap();
    v.as_object_mut().unwrap().remove("hooks");
    serde_json::to_vec_pretty(&v).unwrap()
}

/// A test directory: bundle/, config.toml (fake runtime), audit log, --log file, record/.
struct Env {
    dir: PathBuf,
    audit: PathBuf,
    runtime: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "faults-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bundle")).unwrap();
        let audit = dir.join("audit.log");
        let e = Env {
            dir,
            audit,
            runtime: fake_runtime(),
        };
        e.write_settings();
        e
    }
    fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
    fn config(&self) -> PathBuf {
        self.bundle().join("config.json")
    }
    fn write_config(&self) {
        fs::write(self.config(), docker_spec()).unwrap();
    }
    fn record(&self, n: usize) -> PathBuf {
        self.dir.join(format!("record-{n}"))
    }
    fn write_settings(&self) -> PathBuf {
        let cfg = self.dir.join("config.toml");
        fs::write(
            &cfg,
            format!(
                "runtime = {:?}\naudit_log = {:?}\n",
                self.runtime, self.audit
            ),
        )
        .unwrap();
        cfg
    }
    /// `rampart create` as Docker calls it; the fake runtime records into record-`n`. The
    /// settings file is written by new() and create(), never while creates may be reading it
    /// (a half-written one would mean built-in defaults: the real runc, the system audit log).
    fn create_cmd(&self, n: usize) -> Command {
        let cfg = self.dir.join("config.toml");
        let mut c = Command::new(env!("CARGO_BIN_EXE_rampart"));
        c.arg(format!("--rampart-config={}", cfg.display()))
            .arg("--log")
            .arg(self.dir.join("log.json"))
            .args(["--log-format", "json", "create", "--bundle"])
            .arg(self.bundle())
            .arg(format!("c{n}"))
            .env("FAKE_RECORD", self.record(n))
            .stdin(Stdio::null());
        c
    }
    fn create(&self) -> Output {
        self.write_settings();
        self.create_cmd(0).output().unwrap()
    }
    fn ran(&self, n: usize) -> bool {
        self.record(n).join("argv").exists()
    }
    fn temp_files(&self) -> Vec<String> {
        fs::read_dir(self.bundle())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".rampart") && n.ends_with(".tmp"))
            .collect()
    }
    fn audit_lines(&self) -> Vec<String> {
        fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
    fn last_log_msg(&self) -> String {
        let text = fs::read_to_string(self.dir.join("log.json")).unwrap_or_default();
        text.lines()
            .last()
            .and_then(|l| serde_json::from_str::<Value>(l).ok())
            .and_then(|v| v["msg"].as_str().map(String::from))
            .unwrap_or_default()
    }
}

/// What Rampart writes for Docker's spec (restricted): from a run on an ordinary directory.
fn hardened_docker_spec() -> Vec<u8> {
    static H: OnceLock<Vec<u8>> = OnceLock::new();
    H.get_or_init(|| {
        let e = Env::new("reference");
        e.write_config();
        let out = e.create();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = fs::read(e.config()).unwrap();
        assert_eq!(fs::read(e.record(0).join("config.json")).unwrap(), bytes);
        let _ = fs::remove_dir_all(&e.dir);
        bytes
    })
    .clone()
}

/// The invariant after any run: config.json is the original or the complete hardened spec;
/// the runtime ran only on the hardened one and only after a zero exit... of Rampart's part
/// (exec replaced it); a refusal says `rampart: ...` in --log. Returns "original"/"hardened".
fn check_outcome(
    e: &Env,
    out: &Output,
    original: &[u8],
    hardened: &[u8],
    what: &str,
) -> &'static str {
    let now = fs::read(e.config()).unwrap();
    let state = if now == original {
        "original"
    } else if now == hardened {
        "hardened"
    } else {
        panic!(
            "{what}: config.json is neither the original nor the hardened spec ({} bytes)",
            now.len()
        )
    };
    if e.ran(0) {
        assert!(
            out.status.success(),
            "{what}: the runtime ran but exit {:?}",
            out.status
        );
        assert_eq!(
            fs::read(e.record(0).join("config.json")).unwrap(),
            hardened,
            "{what}: the runtime saw an unhardened spec"
        );
    } else {
        assert_eq!(out.status.code(), Some(1), "{what}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("rampart: "), "{what}: {stderr}");
        assert!(
            e.last_log_msg().starts_with("rampart: "),
            "{what}: no error line in --log"
        );
    }
    state
}

#[test]
fn disk_full_while_writing_config_json_never_leaves_it_partial() {
    if !require_root() {
        return;
    }
    let (original, hardened) = (docker_spec(), hardened_docker_spec());
    let pages_needed = hardened.len().div_ceil(4096) as u64;
    let mut seen = Vec::new();
    for free in 0..=pages_needed + 1 {
        let e = Env::new("full");
        let fs_ = Tmpfs::mount(&e.bundle(), "128k");
        e.write_config();
        let fill = fs_.fill_leaving(free);
        let out = e.create();
        let state = check_outcome(
            &e,
            &out,
            &original,
            &hardened,
            &format!("{free} pages free"),
        );
        assert!(
            e.temp_files().is_empty(),
            "{free} pages free: {:?}",
            e.temp_files()
        );
        if state == "original" {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("No space left"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                e.audit_lines().is_empty(),
                "nothing audited for a failed write"
            );
        }
        seen.push(state);
        // Space again: the same bundle is hardened.
        fs::remove_file(fill).unwrap();
        let out = e.create();
        assert_eq!(
            check_outcome(&e, &out, &original, &hardened, "after freeing space"),
            "hardened"
        );
    }
    eprintln!(
        "faults: disk full with 0..={} pages free: {seen:?}",
        pages_needed + 1
    );
    assert_eq!(seen.first(), Some(&"original"));
    assert_eq!(seen.last(), Some(&"hardened"));
}

#[test]
fn read_only_bundle_is_refused_and_left_untouched() {
    if !require_root() {
        return;
    }
    let (original, hardened) = (docker_spec(), hardened_docker_spec());
    let e = Env::new("ro");
    let fs_ = Tmpfs::mount(&e.bundle(), "1m");
    e.write_config();
    fs_.remount("ro");
    let out = e.create();
    assert_eq!(
        check_outcome(&e, &out, &original, &hardened, "read-only"),
        "original"
    );
    assert!(
        e.last_log_msg().contains("Read-only file system"),
        "{}",
        e.last_log_msg()
    );
    assert!(e.audit_lines().is_empty());
    fs_.remount("rw");
    let out = e.create();
    assert_eq!(
        check_outcome(&e, &out, &original, &hardened, "rw again"),
        "hardened"
    );
    assert!(e.temp_files().is_empty());
}

/// The audit record is part of the contract: if it cannot be written, nothing runs.
#[test]
fn unwritable_audit_log_refuses_and_leaves_the_bundle_untouched() {
    if !require_root() {
        return;
    }
    let (original, hardened) = (docker_spec(), hardened_docker_spec());
    type Setup = fn(&mut Env) -> Option<Tmpfs>;
    let cases: &[(&str, Setup)] = &[
        ("audit log is a directory", |e| {
            fs::create_dir_all(&e.audit).unwrap();
            None
        }),
        ("audit log's parent is a file", |e| {
            fs::write(e.dir.join("notadir"), b"").unwrap();
            e.audit = e.dir.join("notadir/audit.log");
            None
        }),
        ("audit log on a read-only filesystem", |e| {
            let t = Tmpfs::mount(&e.dir.join("ro-audit"), "64k");
            e.audit = t.dir.join("audit.log");
            t.remount("ro");
            Some(t)
        }),
        ("audit log on a full filesystem", |e| {
            let t = Tmpfs::mount(&e.dir.join("full-audit"), "64k");
            e.audit = t.dir.join("audit.log");
            t.fill_leaving(0);
            Some(t)
        }),
        ("audit log file mode 000 (root still writes it)", |e| {
            fs::write(&e.audit, b"").unwrap();
            fs::set_permissions(&e.audit, fs::Permissions::from_mode(0o000)).unwrap();
            None
        }),
    ];
    for (name, setup) in cases {
        let mut e = Env::new("audit");
        e.write_config();
        let _guard = setup(&mut e);
        let out = e.create();
        let state = check_outcome(&e, &out, &original, &hardened, name);
        assert!(e.temp_files().is_empty(), "{name}: {:?}", e.temp_files());
        if name.contains("mode 000") {
            // root has CAP_DAC_OVERRIDE: not a fault for Rampart.
            assert_eq!(state, "hardened", "{name}");
            continue;
        }
        assert_eq!(state, "original", "{name}");
        assert!(!e.ran(0), "{name}: the runtime ran");
        assert!(
            e.last_log_msg().contains("audit log"),
            "{name}: {}",
            e.last_log_msg()
        );
    }
}

/// A line that does not fit in what is left of the audit log's filesystem is written in part
/// (write(2) returns short, then ENOSPC): the next record is glued to the fragment and the log
/// no longer holds one well-formed JSON line per record.
#[test]

fn a_full_audit_filesystem_never_leaves_a_partial_line() {
    if !require_root() {
        return;
    }
    let mut e = Env::new("audit-partial");
    let t = Tmpfs::mount(&e.dir.join("audit-fs"), "64k");
    e.audit = t.dir.join("audit.log");
    e.write_config();
    // One record, then fill: what is left is the tail of the audit log's last page.
    assert!(e.create().status.success());
    let before = e.audit_lines();
    assert_eq!(before.len(), 1);
    // A record (~2 KB) may fit in what its page has left: pad the log with a JSON line so that
    // only 100 bytes of the last page are free, then fill the filesystem.
    let len = fs::metadata(&e.audit).unwrap().len() as usize;
    let pad = (4096 - len % 4096 + 4096 - 100 - "{\"pad\":\"\"}\n".len()) % 4096;
    let mut f = fs::OpenOptions::new().append(true).open(&e.audit).unwrap();
    std::io::Write::write_all(
        &mut f,
        format!("{{\"pad\":\"{}\"}}\n", "x".repeat(pad)).as_bytes(),
    )
    .unwrap();
    drop(f);
    assert_eq!(fs::metadata(&e.audit).unwrap().len() % 4096, 4096 - 100);
    let fill = t.fill_leaving(0);
    e.write_config();
    let out = e.create();
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused: the record cannot be written"
    );
    fs::remove_file(fill).unwrap();
    e.write_config();
    assert!(e.create().status.success());
    for (i, l) in e.audit_lines().iter().enumerate() {
        assert!(
            serde_json::from_str::<Value>(l).is_ok(),
            "audit line {i} is not JSON: {}...",
            l.chars().take(120).collect::<String>()
        );
    }
}

#[test]
fn missing_or_unrunnable_runtime_never_runs_an_unhardened_spec() {
    if !require_root() {
        return;
    }
    let (original, hardened) = (docker_spec(), hardened_docker_spec());
    type Setup = fn(&Env) -> PathBuf;
    let cases: &[(&str, Setup)] = &[
        ("missing", |e| e.dir.join("nope/runc")),
        ("not executable", |e| {
            let p = e.dir.join("runc");
            fs::copy(fake_runtime(), &p).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
            p
        }),
        ("a directory", |e| {
            let p = e.dir.join("runc.d");
            fs::create_dir_all(&p).unwrap();
            p
        }),
        ("script with a missing interpreter", |e| {
            let p = e.dir.join("runc");
            fs::write(&p, b"#!/nonexistent/sh\nexit 0\n").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
            p
        }),
        ("dangling symlink", |e| {
            let p = e.dir.join("runc");
            std::os::unix::fs::symlink(e.dir.join("gone"), &p).unwrap();
            p
        }),
    ];
    for (name, setup) in cases {
        let mut e = Env::new("runtime");
        e.write_config();
        e.runtime = setup(&e);
        let out = e.create();
        let state = check_outcome(&e, &out, &original, &hardened, name);
        assert!(!e.ran(0), "{name}");
        assert!(e.temp_files().is_empty(), "{name}: {:?}", e.temp_files());
        eprintln!(
            "faults: runtime {name}: config.json {state}, audit lines {}: {}",
            e.audit_lines().len(),
            e.last_log_msg()
        );
    }
}

/// An executable file the kernel cannot run (ENOEXEC) must be refused like a missing one.
/// Today Rampart execs it with execvp, whose ENOEXEC fallback runs it with /bin/sh: exit 127,
/// sh's message instead of Rampart's, no --log line, and a text file without `#!` runs as a
/// shell script.
#[test]

fn a_runtime_the_kernel_cannot_execute_is_refused_not_run_by_sh() {
    if !require_root() {
        return;
    }
    let (original, hardened) = (docker_spec(), hardened_docker_spec());
    let mut e = Env::new("enoexec");
    e.write_config();
    e.runtime = e.dir.join("runc");
    fs::write(&e.runtime, b"touch ran-as-a-shell-script\n").unwrap();
    fs::set_permissions(&e.runtime, fs::Permissions::from_mode(0o755)).unwrap();
    e.write_settings();
    let out = e.create_cmd(0).current_dir(&e.dir).output().unwrap();
    assert!(
        !e.dir.join("ran-as-a-shell-script").exists(),
        "the runtime file ran as a script"
    );
    check_outcome(&e, &out, &original, &hardened, "ENOEXEC");
    assert!(
        e.last_log_msg().contains("cannot execute"),
        "{}",
        e.last_log_msg()
    );
}

/// A spec of about 4 MB (Docker's, padded with a field Rampart does not model), so that a
/// rewrite takes measurable time even in a debug build.
fn big_spec() -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&docker_spec()).unwrap();
    let pad: Vec<Value> = (0..100_000)
        .map(|i| serde_json::json!({"k": i, "v": "xxxxxxxxxxxxxxxxxxxx"}))
        .collect();
    v["x-padding"] = Value::Array(pad);
    serde_json::to_vec(&v).unwrap()
}

/// xorshift64*, seeded from the clock (printed, and settable with RAMPART_FAULTS_SEED).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("RAMPART_FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("faults: RAMPART_FAULTS_SEED={seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn kill(pid: u32) {
    // SAFETY: signals a child this test spawned and has not reaped yet.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

/// Kills a create with SIGKILL at random moments (half of them right after the temp file
/// appears, i.e. during the write, fsync and rename) and checks what it leaves.
fn kill_rewrites(e: &Env, kills: usize) -> (Vec<&'static str>, Vec<String>) {
    let original = big_spec();
    fs::write(e.config(), &original).unwrap();
    let start = Instant::now();
    let out = e.create();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = start.elapsed();
    let hardened = fs::read(e.config()).unwrap();
    assert_ne!(hardened, original);
    fs::remove_dir_all(e.record(0)).unwrap();
    let mut rng = Rng::new();
    let mut states = Vec::new();
    let mut stale = Vec::new();
    for i in 0..kills {
        fs::write(e.config(), &original).unwrap();
        let mut child = e
            .create_cmd(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        if i % 2 == 0 {
            let at = Duration::from_micros(rng.below(took.as_micros() as u64 * 11 / 10));
            std::thread::sleep(at);
        } else {
            let deadline = Instant::now() + took * 3;
            // A temp file of this create (earlier killed ones may have left theirs).
            let fresh = |e: &Env| e.temp_files().iter().any(|f| !stale.contains(f));
            while !fresh(e) && Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            // The write, fsync and rename take a few ms: aim inside them, or anywhere after.
            let window = if i % 4 == 1 { 2_000 } else { 150_000 };
            std::thread::sleep(Duration::from_micros(rng.below(window)));
        }
        kill(child.id());
        let status = child.wait().unwrap();
        if std::env::var_os("RAMPART_FAULTS_DEBUG").is_some() {
            eprintln!(
                "kill {i}: {status} after {:?} (one create: {took:?}), temp files {:?}",
                t0.elapsed(),
                e.temp_files()
            );
        }
        let now = fs::read(e.config()).unwrap();
        let state: &'static str = if now == original {
            "original"
        } else if now == hardened {
            "hardened"
        } else {
            panic!(
                "kill {i}: config.json partial: {} bytes ({status})",
                now.len()
            )
        };
        if e.ran(0) {
            // The runtime runs only once config.json is the hardened spec (its own copy of it
            // may be cut short when the kill lands on the runtime itself).
            assert_eq!(
                state, "hardened",
                "kill {i}: the runtime ran on the original"
            );
            if status.success() {
                assert_eq!(fs::read(e.record(0).join("config.json")).unwrap(), hardened);
            }
            fs::remove_dir_all(e.record(0)).unwrap();
        }
        let left = e.temp_files();
        // Killed between writing the temp file and renaming it: the temp file stays.
        states.push(match (state, left.iter().any(|f| !stale.contains(f))) {
            ("original", true) => "original, killed mid-write",
            (s, _) => s,
        });
        stale.extend(left);
        for l in e.audit_lines() {
            assert!(
                serde_json::from_str::<Value>(&l).is_ok(),
                "kill {i}: audit line not JSON"
            );
        }
    }
    // A successful create afterwards.
    fs::write(e.config(), &original).unwrap();
    let out = e.create();
    assert!(out.status.success());
    assert_eq!(fs::read(e.config()).unwrap(), hardened);
    stale.sort();
    stale.dedup();
    (states, e.temp_files())
}

#[test]
fn sigkill_in_the_middle_of_a_rewrite_leaves_the_original_or_the_hardened_spec() {
    if !require_root() {
        return;
    }
    let kills: usize = std::env::var("RAMPART_FAULTS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let e = Env::new("kill");
    let (states, left) = kill_rewrites(&e, kills);
    let count = |s: &str| states.iter().filter(|x| **x == s).count();
    eprintln!(
        "faults: {kills} SIGKILLs during create of a {} byte spec: config.json never partial; original {} times (killed before the temp file), original {} times (killed while the temp file was written or synced), hardened {} times (killed after the rename); temp files left after a later successful create: {}",
        big_spec().len(),
        count("original"),
        count("original, killed mid-write"),
        count("hardened"),
        left.len()
    );
    assert_eq!(states.len(), kills);
}

/// A create killed between writing its temp file and renaming it leaves
/// `.config.json.rampart.tmp` behind (Staged's Drop does not run on SIGKILL): a later create
/// removes it (the bug this guards against: a multi-megabyte file per killed create, when the
/// name carried the PID and nothing removed it).
#[test]

fn no_stale_temp_file_survives_a_later_successful_create() {
    if !require_root() {
        return;
    }
    let e = Env::new("stale");
    let (_, left) = kill_rewrites(&e, 12);
    assert!(left.is_empty(), "stale temp files: {left:?}");
}

/// N creates of one bundle at the same time: each runtime is handed the complete hardened
/// spec, the audit log gets N well-formed lines (exactly one of them with changes), no temp
/// file is left.
#[test]
fn concurrent_creates_of_one_bundle_each_see_a_complete_hardened_spec() {
    if !require_root() {
        return;
    }
    const N: usize = 16;
    let (original, hardened) = (docker_spec(), hardened_docker_spec());
    let e = Env::new("concurrent");
    fs::write(e.config(), &original).unwrap();
    let children: Vec<_> = (0..N)
        .map(|n| {
            e.create_cmd(n)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (n, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "create {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read(e.record(n).join("config.json")).unwrap(),
            hardened,
            "create {n}: the runtime saw something else than the hardened spec"
        );
    }
    assert_eq!(fs::read(e.config()).unwrap(), hardened);
    let lines = e.audit_lines();
    assert_eq!(lines.len(), N, "one audit line per create");
    let mut changed = 0;
    let mut ids: Vec<String> = Vec::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).expect("well-formed audit line");
        ids.push(v["id"].as_str().unwrap().to_string());
        if rampart::audit::expand(&v["changes"])
            .iter()
            .any(|c| c.2 != c.3)
        {
            changed += 1;
        }
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N);
    assert_eq!(
        changed, 1,
        "exactly one create rewrote the spec; the rest found it hardened"
    );
    assert!(e.temp_files().is_empty(), "{:?}", e.temp_files());
}
