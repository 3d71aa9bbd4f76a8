//! Attacks through the commands around create, the way an attacker would go, through Rampart
//! and the real runc, looking from inside the container or at its cgroup:
//! - `run ID --bundle EVIL`: runc moves the flag in front of the id and runs EVIL's
//!   config.json (all capabilities); it must run hardened or be refused;
//! - `update --pids-limit -1` and `update -r -` with a huge memory limit on a running
//!   container: refused, the cgroup's values unchanged;
//! - `exec --no-new-privs=false`: the process still has no_new_privs;
//! - `restore`: refused by default;
//! - `exec --process FILE` and `update -r FILE` with FILE rewritten after Rampart judged it
//!   (a runtime wrapper swaps it just before runc runs): runc reads what Rampart judged.
mod common;

use common::{Bundle, docker_like_spec, rootfs, status_field};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn e2e() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e")
}

fn config_file() -> PathBuf {
    static CFG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CFG.get_or_init(|| {
        let dir = e2e();
        std::fs::create_dir_all(dir.join("profiles")).unwrap();
        let cfg = dir.join(format!("rampart-attack-{}.toml", std::process::id()));
        let text = format!(
            "runtime = {:?}\naudit_log = {:?}\nprofiles_dir = {:?}\n",
            common::runc_path(),
            dir.join("audit.log"),
            dir.join("profiles")
        );
        std::fs::write(&cfg, text).unwrap();
        cfg
    })
    .clone()
}

fn state() -> PathBuf {
    e2e().join("state")
}

/// rampart --rampart-config CFG --root STATE ARGS..., in `cwd`, with `stdin`.
fn rampart(args: &[&str], cwd: Option<&std::path::Path>, stdin: &[u8]) -> Output {
    let mut cmd = Command::new(common::rampart_path());
    cmd.arg(format!("--rampart-config={}", config_file().display()))
        .arg("--root")
        .arg(state())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().unwrap();
    let mut w = child.stdin.take().unwrap();
    let _ = w.write_all(stdin);
    drop(w);
    child.wait_with_output().unwrap()
}

/// A Rampart config whose runtime first copies $SWAP_FROM over $SWAP_FILE, then execs runc:
/// the file changes after Rampart judged it and before runc reads it, as an attacker racing
/// the two would make it.
fn swapping_config() -> PathBuf {
    static CFG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CFG.get_or_init(|| {
        let dir = e2e();
        let wrapper = dir.join(format!("swap-runc-{}.sh", std::process::id()));
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\n[ -n \"$SWAP_FILE\" ] && cat \"$SWAP_FROM\" > \"$SWAP_FILE\"\nexec {} \"$@\"\n",
                common::runc_path().display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let text = std::fs::read_to_string(config_file())
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("runtime ="))
            .chain([format!("runtime = {wrapper:?}").as_str()])
            .collect::<Vec<_>>()
            .join("\n");
        let cfg = dir.join(format!("rampart-attack-swap-{}.toml", std::process::id()));
        std::fs::write(&cfg, text + "\n").unwrap();
        cfg
    })
    .clone()
}

/// [`rampart`] through [`swapping_config`]: `file` becomes `evil` once Rampart has judged it.
fn rampart_swapping(args: &[&str], file: &std::path::Path, evil: &[u8]) -> Output {
    let from = file.with_extension("evil");
    std::fs::write(&from, evil).unwrap();
    Command::new(common::rampart_path())
        .arg(format!("--rampart-config={}", swapping_config().display()))
        .arg("--root")
        .arg(state())
        .args(args)
        .env("SWAP_FILE", file)
        .env("SWAP_FROM", &from)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn delete(id: &str) {
    let _ = Command::new(common::runc_path())
        .arg("--root")
        .arg(state())
        .args(["delete", "--force", id])
        .output();
}

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
];

#[test]
fn bundle_flag_after_the_id_runs_hardened_or_not_at_all() {
    if !common::require_root_tools() {
        return;
    }
    let benign = Bundle::new(&docker_like_spec(&rootfs(), &["/bin/probe", "status"]));
    let mut evil_spec = docker_like_spec(&rootfs(), &["/bin/probe", "status"]);
    for set in ["bounding", "effective", "permitted", "inheritable"] {
        evil_spec["process"]["capabilities"][set] = json!(ALL_CAPS);
    }
    evil_spec["process"]["noNewPrivileges"] = json!(false);
    let evil = Bundle::new(&evil_spec);
    let out = rampart(
        &["run", &evil.id, "--bundle", evil.dir.to_str().unwrap()],
        Some(&benign.dir),
        b"",
    );
    delete(&evil.id);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        assert_eq!(
            status_field(&stdout, "CapEff").as_deref(),
            Some("0000000000000000"),
            "{stdout}"
        );
        assert_eq!(
            status_field(&stdout, "CapBnd").as_deref(),
            Some("0000000000000000"),
            "{stdout}"
        );
        assert_eq!(
            status_field(&stdout, "NoNewPrivs").as_deref(),
            Some("1"),
            "{stdout}"
        );
        assert_eq!(
            evil.config()["process"]["noNewPrivileges"],
            json!(true),
            "EVIL was hardened"
        );
    } else {
        assert!(stdout.is_empty(), "refused, and nothing ran: {stdout}");
    }
    assert!(
        benign.config()["process"]["noNewPrivileges"].is_null()
            || benign.config()["process"]["noNewPrivileges"] == json!(false)
            || out.status.success(),
        "only the bundle runc uses is touched"
    );
}

/// A container created and started through Rampart, running `sleep`; deleted on drop.
struct Running {
    bundle: Bundle,
    cgroup: String,
}

impl Running {
    fn start() -> Running {
        let mut spec = docker_like_spec(&rootfs(), &["sleep", "60"]);
        spec["process"]["args"] = json!(["/bin/sleep", "60"]);
        let bundle = Bundle::new(&spec);
        let cgroup = spec["linux"]["cgroupsPath"].as_str().unwrap().to_string();
        let b = bundle.dir.to_str().unwrap().to_string();
        // The container keeps create's stdio: null, or reading it would wait for the container.
        let status = Command::new(common::rampart_path())
            .arg(format!("--rampart-config={}", config_file().display()))
            .arg("--root")
            .arg(state())
            .args(["create", "--bundle", &b, &bundle.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "create failed");
        let out = rampart(&["start", &bundle.id], None, b"");
        assert!(out.status.success(), "{}", common::describe(&out));
        Running { bundle, cgroup }
    }
    /// A cgroup v1 file of the container (or v2's, where that is the hierarchy).
    fn cgroup_file(&self, controller: &str, v1: &str, v2: &str) -> String {
        let p1 = PathBuf::from("/sys/fs/cgroup")
            .join(controller)
            .join(self.cgroup.trim_start_matches('/'))
            .join(v1);
        let p2 = PathBuf::from("/sys/fs/cgroup")
            .join(self.cgroup.trim_start_matches('/'))
            .join(v2);
        std::fs::read_to_string(&p1)
            .or_else(|_| std::fs::read_to_string(&p2))
            .unwrap_or_else(|e| panic!("{} / {}: {e}", p1.display(), p2.display()))
            .trim()
            .to_string()
    }
    fn limits(&self) -> (String, String) {
        (
            self.cgroup_file("pids", "pids.max", "pids.max"),
            self.cgroup_file("memory", "memory.limit_in_bytes", "memory.max"),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        delete(&self.bundle.id);
    }
}

#[test]
fn updates_that_lift_limits_are_refused_and_the_cgroup_is_unchanged() {
    if !common::require_root_tools() {
        return;
    }
    let c = Running::start();
    let id = c.bundle.id.clone();
    let before = c.limits();
    assert_eq!(before.0, "1024", "the profile's pids limit is in place");
    let out = rampart(&["update", "--pids-limit", "-1", &id], None, b"");
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pids-limit -1"));
    let out = rampart(&["update", &id, "--pids-limit", "100000"], None, b"");
    assert_eq!(out.status.code(), Some(1), "flags after the id count too");
    let out = rampart(
        &["update", "-r", "-", &id],
        None,
        br#"{"memory": {"limit": 68719476736}, "pids": {"limit": -1}}"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    assert_eq!(c.limits(), before, "refused updates changed nothing");
    // Within the ceiling, through stdin: runc applies exactly that.
    let out = rampart(
        &["update", "-r", "-", &id],
        None,
        br#"{"pids": {"limit": 512}}"#,
    );
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(c.limits().0, "512");
    // Above the profile's default (1024) but within its ceiling (pids_max 32768): an update
    // is the user's explicit request, judged against the ceiling, and applied.
    let out = rampart(&["update", "--pids-limit", "4096", &id], None, b"");
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(c.limits().0, "4096");
}

#[test]
fn exec_cannot_clear_no_new_privs() {
    if !common::require_root_tools() {
        return;
    }
    let c = Running::start();
    let out = rampart(
        &[
            "exec",
            "--no-new-privs=false",
            &c.bundle.id,
            "/bin/probe",
            "status",
        ],
        None,
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(
        status_field(&stdout, "NoNewPrivs").as_deref(),
        Some("1"),
        "{stdout}"
    );
    assert_eq!(
        status_field(&stdout, "CapEff").as_deref(),
        Some("0000000000000000")
    );
}

#[test]
fn restore_is_refused_by_default() {
    if !common::require_root_tools() {
        return;
    }
    let b = Bundle::new(&docker_like_spec(&rootfs(), &["/bin/true"]));
    let dir = b.dir.to_str().unwrap().to_string();
    let out = rampart(
        &["restore", "--image-path", &dir, &b.id, "--bundle", &dir],
        None,
        b"",
    );
    delete(&b.id);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("allow_restore"));
}

/// runc opens `exec --process FILE` and `update -r FILE` again by path. A file rewritten
/// between Rampart's judgement and runc's read (here by a runtime wrapper, as a racing
/// attacker would) must not reach runc: Rampart hands runc the judged bytes.
#[test]
fn files_rewritten_after_judgement_do_not_reach_runc() {
    if !common::require_root_tools() {
        return;
    }
    let c = Running::start();
    let id = c.bundle.id.clone();
    let dir = e2e().join(format!("swap-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    // exec: judged with no capabilities and no_new_privs; swapped for SYS_ADMIN and more
    // (root here lacks a few capabilities, so not every one).
    let evil_caps = [
        "CAP_SYS_ADMIN",
        "CAP_NET_ADMIN",
        "CAP_SYS_PTRACE",
        "CAP_SYS_MODULE",
    ];
    let process = |caps: &[&str], nnp: bool| {
        serde_json::to_vec(&json!({
            "user": {"uid": 0, "gid": 0}, "args": ["/bin/probe", "status"], "cwd": "/",
            "env": ["PATH=/bin"], "noNewPrivileges": nnp,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}
        }))
        .unwrap()
    };
    let pfile = dir.join("process.json");
    std::fs::write(&pfile, process(&[], true)).unwrap();
    let out = rampart_swapping(
        &["exec", "--process", pfile.to_str().unwrap(), &id],
        &pfile,
        &process(&evil_caps, false),
    );
    assert!(out.status.success(), "{}", common::describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        status_field(&stdout, "CapEff").as_deref(),
        Some("0000000000000000"),
        "{stdout}"
    );
    assert_eq!(status_field(&stdout, "NoNewPrivs").as_deref(), Some("1"));
    assert_eq!(
        std::fs::read(&pfile).unwrap(),
        process(&evil_caps, false),
        "the swap happened"
    );
    // update: judged pids 512; swapped for unlimited pids and 64 GiB.
    let rfile = dir.join("resources.json");
    std::fs::write(&rfile, br#"{"pids": {"limit": 512}}"#).unwrap();
    let out = rampart_swapping(
        &["update", "-r", rfile.to_str().unwrap(), &id],
        &rfile,
        br#"{"pids": {"limit": -1}, "memory": {"limit": 68719476736}}"#,
    );
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(c.limits().0, "512", "runc applied the judged document");
    let _ = std::fs::remove_dir_all(&dir);
}
