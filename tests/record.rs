//! Recording (`--rampart-profile learn:NAME`, issue 15 part A) through real runc: what the
//! recorder writes for a container doing known syscalls, that runc's own set-up is not in
//! it, that a short-lived container loses nothing, that a container deleted before it
//! started leaves no recording and no recorder, and that `create` fails closed when the
//! recorder cannot start.
mod common;

use common::{Bundle, Runtime, docker_like_spec, rootfs, run_container};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn e2e() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e")
}

/// A config file with its own learn dir and audit log, per test.
fn config(test: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = e2e().join(format!("record-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let learn = dir.join("learn");
    let audit = dir.join("audit.log");
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "runtime = {:?}\naudit_log = {:?}\n[learn]\ndir = {:?}\n",
            common::runc_path(),
            audit,
            learn
        ),
    )
    .unwrap();
    (cfg, learn, audit)
}

fn learning(cfg: &Path, name: &str) -> Runtime {
    Runtime::Rampart {
        args: vec![
            format!("--rampart-config={}", cfg.display()),
            "--rampart-profile".into(),
            format!("learn:{name}"),
        ],
    }
}

/// The recording for `id`, once the recorder wrote it (it does so after the container's
/// init exited, in its own time).
fn recording(learn: &Path, name: &str, id: &str) -> Value {
    let path = learn.join(name).join(format!("{id}.json"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(bytes) = std::fs::read(&path) {
            return serde_json::from_slice(&bytes).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no recording at {} after 20s", path.display());
}

fn syscall<'a>(rec: &'a Value, name: &str) -> Option<&'a Value> {
    rec["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name && s["arch"] == "x86_64")
}

fn evidence<'a>(rec: &'a Value, name: &str) -> Vec<&'a Value> {
    rec["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["syscall"] == name)
        .collect()
}

/// Recorder processes (`rampart __record`) for container `id`.
fn recorders(id: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if args.get(1) == Some(&&b"__record"[..])
            && args
                .windows(2)
                .any(|w| w[0] == b"--id" && w[1] == id.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

/// Whether the recorders of `id` are gone (waiting up to 10 s).
fn recorders_gone(id: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !recorders(id).is_empty() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn a_recording_has_the_containers_syscalls_and_evidence_but_not_runcs_setup() {
    if !common::require_root_tools() {
        return;
    }
    let (cfg, learn, audit) = config("probe");
    let spec = docker_like_spec(
        &rootfs(),
        &[
            "/bin/probe",
            "sys",
            "bind80",
            "chown",
            "setuid",
            "keep_file",
            "dac_read",
            "add_key",
        ],
    );
    let bundle = Bundle::new(&spec);
    let out = run_container(learning(&cfg, "probe"), &bundle);
    let stdout = common::expect_success(&out);
    // The request's own privileges (Docker's default capabilities): every probe succeeds.
    for line in [
        "bind80 ok",
        "chown ok",
        "setuid ok",
        "keep_file ok",
        "dac_read ok",
        "add_key errno=EPERM",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    // No-new-privileges forced, nothing else changed.
    let hardened = bundle.config();
    assert_eq!(hardened["process"]["noNewPrivileges"], true);
    assert_eq!(
        hardened["process"]["capabilities"],
        spec["process"]["capabilities"]
    );
    assert_eq!(hardened["linux"]["seccomp"], spec["linux"]["seccomp"]);
    let audit = std::fs::read_to_string(audit).unwrap();
    assert!(audit.contains("\"outcome\":\"learning\""), "{audit}");

    let rec = recording(&learn, "probe", &bundle.id);
    // Only now: the recorder walks the rootfs after the container's exit.
    let _ = std::fs::remove_file(rootfs().join("probe-kept"));
    assert_eq!(rec["schema"], 1);
    assert_eq!(rec["name"], "probe");
    assert_eq!(rec["container_id"], bundle.id.as_str());
    assert_eq!(rec["complete"], true, "{rec:#}");
    assert_eq!(rec["lost_events"], 0);
    assert_eq!(rec["source"]["syscalls"], "tp_btf/sys_enter+sys_exit");
    assert_eq!(rec["request"]["args"][0], "/bin/probe");
    assert_eq!(rec["request"]["profile_base"], "restricted");
    for name in [
        "execve",
        "socket",
        "bind",
        "fchownat",
        "setuid",
        "exit_group",
        "wait4",
    ] {
        let s = syscall(&rec, name).unwrap_or_else(|| panic!("{name} missing: {rec:#}"));
        assert!(s["ok"].as_u64().unwrap() >= 1, "{s}");
    }
    // A syscall the request's seccomp profile (Docker's) refused is recorded as its error:
    // it never entered, but it exits with its own number.
    let add_key = syscall(&rec, "add_key").unwrap_or_else(|| panic!("{rec:#}"));
    assert_eq!(add_key["errors"]["EPERM"], 1, "{add_key}");
    assert_eq!(add_key["ok"], 0);
    // Signal returns and skipped calls (orig_ax -1) are no syscall of their own.
    assert!(
        rec["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["name"].as_str().unwrap().starts_with("syscall_")),
        "{rec:#}"
    );
    // runc's own set-up, in the container's namespaces before the exec, is not recorded.
    for name in ["pivot_root", "mount", "sethostname", "keyctl", "umount2"] {
        assert!(syscall(&rec, name).is_none(), "{name} recorded: {rec:#}");
    }
    let bind = evidence(&rec, "bind");
    assert_eq!(bind.len(), 1, "{rec:#}");
    assert_eq!(bind[0]["args"]["port"], 80);
    assert_eq!(bind[0]["args"]["family"], "AF_INET");
    assert_eq!(bind[0]["ret"], 0);
    assert_eq!(bind[0]["creds"]["euid"], 0);
    let chown = evidence(&rec, "fchownat");
    assert_eq!(chown[0]["args"]["uid"], 1234, "{rec:#}");
    assert_eq!(chown[0]["ret"], 0);
    let setuid = evidence(&rec, "setuid");
    assert_eq!(setuid[0]["args"]["uid"], 1000, "{rec:#}");
    // The caller's credentials before the call, not the uid it became.
    assert_eq!(setuid[0]["creds"]["euid"], 0, "{rec:#}");
    // fchown of an open file: the inode as it was before the call.
    let fchown = evidence(&rec, "fchown");
    assert_eq!(fchown[0]["target"]["uid"], 0, "{rec:#}");
    assert_eq!(fchown[0]["args"]["uid"], 1234);
    // An open the file's mode did not allow (0600, owner 1234) that root made anyway.
    let dac: Vec<_> = evidence(&rec, "openat")
        .into_iter()
        .filter(|e| {
            e["args"]["path"]
                .as_str()
                .unwrap()
                .starts_with("/tmp/.probe-dac-")
        })
        .collect();
    assert_eq!(dac.len(), 1, "{rec:#}");
    assert_eq!(dac[0]["target"]["uid"], 1234);
    assert_eq!(dac[0]["target"]["mode"], 0o100600);
    assert_eq!(dac[0]["args"]["flags"], 0);
    // The probe's other opens (its own files, /dev/null) are not evidence.
    assert!(evidence(&rec, "openat").len() <= 2, "{rec:#}");
    assert!(
        rec["writes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "/probe-kept"),
        "{rec:#}"
    );
    // It exits once the file is written.
    assert!(
        recorders_gone(&bundle.id),
        "the recorder outlived its recording"
    );
}

#[test]
fn a_short_lived_container_loses_nothing() {
    if !common::require_root_tools() {
        return;
    }
    let (cfg, learn, _) = config("short");
    for _ in 0..3 {
        let bundle = Bundle::new(&docker_like_spec(
            &rootfs(),
            &["/bin/probe", "sys", "getpid", "compat_getpid"],
        ));
        common::expect_success(&run_container(learning(&cfg, "short"), &bundle));
        let rec = recording(&learn, "short", &bundle.id);
        assert_eq!(rec["complete"], true, "{rec:#}");
        for name in ["execve", "getpid", "exit_group", "write"] {
            assert!(syscall(&rec, name).is_some(), "{name} missing: {rec:#}");
        }
        // The i386 entry is kept apart from the native one (same name, its own number).
        let compat: Vec<&Value> = rec["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["arch"] == "x86")
            .collect();
        assert_eq!(compat.len(), 1, "{rec:#}");
        assert_eq!(compat[0]["name"], "getpid");
        assert_eq!(compat[0]["nr"], 20);
        assert_eq!(syscall(&rec, "getpid").unwrap()["nr"], 39);
    }
}

/// `rampart --rampart-profile learn:NAME COMMAND --bundle B ID` for a new bundle whose
/// container calls getpid. The container's stdio (runc create hands it ours) is /dev/null and
/// a file, so that waiting for the output never waits for the container.
fn rampart(cfg: &Path, name: &str, command: &str, env: &[(&str, &str)]) -> (Bundle, Output) {
    let bundle = Bundle::new(&docker_like_spec(
        &rootfs(),
        &["/bin/probe", "sys", "getpid"],
    ));
    let err_path = cfg.with_file_name(format!("stderr-{}", bundle.id));
    let err = std::fs::File::create(&err_path).unwrap();
    let mut cmd = Command::new(common::rampart_path());
    cmd.arg(format!("--rampart-config={}", cfg.display()))
        .args(["--rampart-profile", &format!("learn:{name}")])
        .arg("--root")
        .arg(e2e().join("state"))
        .args([command, "--bundle"])
        .arg(&bundle.dir)
        .arg(&bundle.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().unwrap();
    let out = Output {
        status,
        stdout: Vec::new(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (bundle, out)
}

fn runc_delete(id: &str) {
    let _ = Command::new(common::runc_path())
        .arg("--root")
        .arg(e2e().join("state"))
        .args(["delete", "--force", id])
        .output();
}

#[test]
fn create_fails_closed_when_the_recorder_cannot_start() {
    if !common::require_root_tools() {
        return;
    }
    let (cfg, learn, _) = config("fail");
    let (bundle, out) = rampart(&cfg, "fail", "run", &[("RAMPART_TEST_RECORDER_FAIL", "1")]);
    runc_delete(&bundle.id);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("recording asked (learn:fail) but the recorder failed: injected failure"),
        "{stderr}"
    );
    assert!(stderr.contains("rampart doctor"), "{stderr}");
    // The container never ran.
    assert!(
        !learn
            .join("fail")
            .join(format!("{}.json", bundle.id))
            .exists()
    );
    assert!(
        !e2e().join("state").join(&bundle.id).exists(),
        "runc was started"
    );
}

#[test]
fn a_container_deleted_before_it_started_leaves_no_recording_and_no_recorder() {
    if !common::require_root_tools() {
        return;
    }
    let (cfg, learn, _) = config("deleted");
    let (bundle, out) = rampart(&cfg, "deleted", "create", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pids = recorders(&bundle.id);
    assert_eq!(pids.len(), 1, "one recorder per container");
    // Detached: its own session, stdio on /dev/null, nothing of the container's held.
    let session = |pid: &str| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .nth(3)
            .unwrap()
            .to_string()
    };
    assert_ne!(session(&pids[0].to_string()), session("self"));
    for fd in std::fs::read_dir(format!("/proc/{}/fd", pids[0]))
        .unwrap()
        .flatten()
    {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        let t = target.to_string_lossy();
        assert!(
            t == "/dev/null" || t.starts_with("anon_inode:"),
            "the recorder holds {t} as fd {:?}",
            fd.file_name()
        );
    }
    runc_delete(&bundle.id);
    assert!(
        recorders_gone(&bundle.id),
        "the recorder outlived the container"
    );
    assert!(
        !learn
            .join("deleted")
            .join(format!("{}.json", bundle.id))
            .exists()
    );
}

#[test]
fn a_bad_recording_name_is_refused_before_anything_runs() {
    if !common::require_root_tools() {
        return;
    }
    let (cfg, _, _) = config("badname");
    let (bundle, out) = rampart(&cfg, "../x", "run", &[]);
    runc_delete(&bundle.id);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a recording's name is"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!e2e().join("state").join(&bundle.id).exists());
}

/// Learning runs the request's own privileges, but never past Rampart's refusals: a
/// privileged request (every capability, as `docker run --privileged` asks) is refused under
/// learn:NAME as under any profile, and no recorder is left behind.
#[test]
fn a_privileged_request_is_refused_while_learning_too() {
    if !common::require_root_tools() {
        return;
    }
    let (cfg, learn, audit) = config("privileged");
    let mut spec = docker_like_spec(&rootfs(), &["/bin/probe", "sys", "getpid"]);
    let all =
        common::fixture_spec("docker-20.10/privileged.json")["process"]["capabilities"].clone();
    spec["process"]["capabilities"] = all;
    let bundle = Bundle::new(&spec);
    let out = run_container(learning(&cfg, "privileged"), &bundle);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", common::describe(&out));
    assert!(stderr.contains("all-capabilities"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("getpid"));
    assert!(recorders(&bundle.id).is_empty());
    assert!(!learn.join("privileged").exists());
    let audit = std::fs::read_to_string(audit).unwrap();
    assert!(audit.contains("\"outcome\":\"refused\""), "{audit}");
}
