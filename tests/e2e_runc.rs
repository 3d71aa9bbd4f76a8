//! Real containers through Rampart and real runc, checked from inside the container, each
//! compared with the same Docker-shaped spec under plain runc.
mod common;

use common::{
    Bundle, Runtime, docker_like_spec, expect_success, probe_lines, rootfs, run_container,
    status_field,
};
use std::path::PathBuf;
use std::process::Output;

/// A config file for these tests (written once: tests run in parallel): the real runc, an
/// audit log and an admin profile `rollout` (restricted in complain mode) under target/e2e.
fn config_file() -> PathBuf {
    static CFG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CFG.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
        let profiles = dir.join("profiles");
        std::fs::create_dir_all(&profiles).unwrap();
        std::fs::write(
            profiles.join("rollout.toml"),
            "extends = \"restricted\"\n[policy]\nmode = \"complain\"\n",
        )
        .unwrap();
        let cfg = dir.join(format!("rampart-{}.toml", std::process::id()));
        let text = format!(
            "runtime = {:?}\naudit_log = {:?}\nprofiles_dir = {:?}\n",
            common::runc_path(),
            dir.join("audit.log"),
            profiles
        );
        std::fs::write(&cfg, text).unwrap();
        cfg
    })
    .clone()
}

fn rampart(profile: &str) -> Runtime {
    let cfg = config_file();
    Runtime::Rampart {
        args: vec![
            format!("--rampart-config={}", cfg.display()),
            "--rampart-profile".into(),
            profile.into(),
        ],
    }
}

fn run(runtime: Runtime, args: &[&str]) -> Output {
    let bundle = Bundle::new(&docker_like_spec(&rootfs(), args));
    run_container(runtime, &bundle)
}

fn sh(runtime: Runtime, script: &str) -> String {
    expect_success(&run(runtime, &["sh", "-c", script]))
}

#[test]
fn restricted_process_has_no_capabilities_nnp_and_seccomp() {
    if !common::require_root_tools() {
        return;
    }
    let inside = expect_success(&run(rampart("restricted"), &["/bin/probe", "status"]));
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(&inside, key).as_deref(),
            Some("0000000000000000"),
            "{key}\n{inside}"
        );
    }
    assert_eq!(
        status_field(&inside, "NoNewPrivs").as_deref(),
        Some("1"),
        "{inside}"
    );
    assert_eq!(
        status_field(&inside, "Seccomp").as_deref(),
        Some("2"),
        "{inside}"
    );

    let plain = expect_success(&run(Runtime::PlainRunc, &["/bin/probe", "status"]));
    assert_eq!(
        status_field(&plain, "CapBnd").as_deref(),
        Some("00000000a80425fb"),
        "Docker's 14 caps under plain runc"
    );
    assert_eq!(status_field(&plain, "NoNewPrivs").as_deref(), Some("0"));
}

#[test]
fn baseline_keeps_eleven_capabilities() {
    if !common::require_root_tools() {
        return;
    }
    let inside = expect_success(&run(rampart("baseline"), &["/bin/probe", "status"]));
    // Docker's 14 (a80425fb) minus MKNOD (27), NET_RAW (13), AUDIT_WRITE (29).
    assert_eq!(
        status_field(&inside, "CapBnd").as_deref(),
        Some("00000000800405fb"),
        "{inside}"
    );
    assert_eq!(status_field(&inside, "NoNewPrivs").as_deref(), Some("1"));
}

#[test]
fn rootfs_read_only_with_writable_tmp() {
    if !common::require_root_tools() {
        return;
    }
    let script = "touch /x 2>/dev/null && echo root=rw || echo root=ro; touch /tmp/x && echo tmp=rw; touch /run/x && echo run=rw";
    let out = sh(rampart("restricted"), script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["root=ro", "tmp=rw", "run=rw"],
        "{out}"
    );
    let plain = sh(
        Runtime::PlainRunc,
        "touch /x 2>/dev/null && rm /x && echo root=rw || echo root=ro",
    );
    assert_eq!(plain.trim(), "root=rw");
}

#[test]
fn masked_paths_are_empty_inside() {
    if !common::require_root_tools() {
        return;
    }
    let script = "for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts /proc/sched_debug; do \
                  printf '%s %s\\n' $p $(cat $p 2>/dev/null | wc -c); done; printf 'firmware %s\\n' $(ls -A /sys/firmware | wc -l)";
    let out = sh(rampart("restricted"), script);
    for line in out.lines() {
        assert!(line.ends_with(" 0"), "{line} should be empty\n{out}");
    }
    // Docker 20.10 does not mask /proc/interrupts; Rampart adds it.
    let plain = sh(Runtime::PlainRunc, "cat /proc/interrupts | wc -c");
    assert_ne!(plain.trim(), "0");
}

/// Syscalls that Rampart's seccomp must block, each answered EPERM inside the container.
const BLOCKED: &[&str] = &[
    "mount",
    "umount2",
    "unshare_user",
    "unshare_ns",
    "clone_newns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "open_by_handle_at",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "iopl",
    "ioperm",
    "ptrace",
    "personality_bad",
    "socket_alg",
    "socket_vsock",
    "socket_packet",
    "setns",
    "pivot_root",
];

#[test]
fn blocked_syscalls_fail_with_eperm_and_ordinary_ones_work() {
    if !common::require_root_tools() {
        return;
    }
    let mut args = vec![
        "/bin/probe",
        "sys",
        "getpid",
        "socket_inet",
        "personality_ok",
    ];
    args.extend(BLOCKED);
    let out = run(rampart("restricted"), &args);
    expect_success(&out);
    let got = probe_lines(&out);
    for ok in ["getpid", "socket_inet", "personality_ok"] {
        assert_eq!(got[ok], "ok", "{ok}");
    }
    let wrong: Vec<String> = BLOCKED
        .iter()
        .filter(|n| got[**n] != "errno=EPERM")
        .map(|n| format!("{n}: {}", got[*n]))
        .collect();
    assert!(wrong.is_empty(), "not blocked with EPERM: {wrong:?}");
    // clone3 answers ENOSYS so libc falls back to clone, which is argument-filtered.
    let c3 = run(rampart("restricted"), &["/bin/probe", "sys", "clone3"]);
    assert_eq!(probe_lines(&c3)["clone3"], "errno=ENOSYS");

    // Docker's own profile under plain runc lets some of these through.
    let plain = run(
        Runtime::PlainRunc,
        &[
            "/bin/probe",
            "sys",
            "io_uring_setup",
            "socket_packet",
            "ptrace",
        ],
    );
    let plain = probe_lines(&plain);
    assert_ne!(
        plain["io_uring_setup"], "errno=EPERM",
        "Docker 20.10 allowed io_uring"
    );
}

#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    if !common::require_root_tools() {
        return;
    }
    let out = run(rampart("restricted"), &["/bin/probe", "forkbomb", "3000"]);
    let line = expect_success(&out);
    let forked: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(forked < 1024 && line.contains("EAGAIN"), "{line}");
    let plain = expect_success(&run(
        Runtime::PlainRunc,
        &["/bin/probe", "forkbomb", "1500"],
    ));
    assert!(
        plain.starts_with("forked 1500"),
        "plain runc has no pids limit: {plain}"
    );
}

#[test]
fn ordinary_programs_still_run() {
    if !common::require_root_tools() {
        return;
    }
    let out = sh(
        rampart("restricted"),
        "echo hi > /tmp/f && cat /tmp/f && ls / >/dev/null && ps >/dev/null && date >/dev/null && id -u && sleep 0.1 && echo done",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["hi", "0", "done"],
        "{out}"
    );
}

#[test]
fn a_spec_rampart_refuses_never_starts() {
    if !common::require_root_tools() {
        return;
    }
    let mut spec = docker_like_spec(&rootfs(), &["sh", "-c", "echo started"]);
    spec["process"]["capabilities"]["bounding"] = serde_json::json!(["CAP_NOT_A_CAP"]);
    let bundle = Bundle::new(&spec);
    let before = std::fs::read(bundle.dir.join("config.json")).unwrap();
    let out = run_container(rampart("restricted"), &bundle);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("started"));
    assert_eq!(
        std::fs::read(bundle.dir.join("config.json")).unwrap(),
        before
    );
    let last: serde_json::Value =
        serde_json::from_str(bundle.log().lines().last().unwrap()).unwrap();
    assert!(
        last["msg"].as_str().unwrap().contains("CAP_NOT_A_CAP"),
        "{last}"
    );
}

/// Docker's --cap-add ALL with -v /run: refused through real runc, with the user's message.
#[test]
fn privileged_request_is_refused_through_real_runc() {
    if !common::require_root_tools() {
        return;
    }
    let mut spec = docker_like_spec(&rootfs(), &["sh", "-c", "echo started"]);
    spec["process"]["capabilities"] =
        common::fixture_spec("docker-20.10/capadd-all.json")["process"]["capabilities"].clone();
    spec["mounts"].as_array_mut().unwrap().push(serde_json::json!({"destination": "/host-run", "type": "bind", "source": "/run", "options": ["rbind", "rprivate"]}));
    let bundle = Bundle::new(&spec);
    let before = std::fs::read(bundle.dir.join("config.json")).unwrap();
    let out = run_container(rampart("restricted"), &bundle);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("started"));
    assert_eq!(
        std::fs::read(bundle.dir.join("config.json")).unwrap(),
        before
    );
    let last: serde_json::Value =
        serde_json::from_str(bundle.log().lines().last().unwrap()).unwrap();
    let msg = last["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("rampart: refused by profile restricted")
            && msg.contains("[all-capabilities]")
            && msg.contains("[engine-socket]"),
        "{msg}"
    );
}

/// complain mode: the container runs exactly as requested (Docker's caps, writable root),
/// and the audit log says what enforce would have changed and refused.
#[test]
fn complain_mode_runs_as_requested_and_logs() {
    if !common::require_root_tools() {
        return;
    }
    let mut spec = docker_like_spec(
        &rootfs(),
        &[
            "sh",
            "-c",
            "probe status | grep CapBnd; touch /x && rm /x && echo root=rw",
        ],
    );
    spec["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "ipc"}]);
    let bundle = Bundle::new(&spec);
    let out = expect_success(&run_container(rampart("rollout"), &bundle));
    assert!(
        out.contains("00000000a80425fb") && out.contains("root=rw"),
        "{out}"
    );
    let audit = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e/audit.log"),
    )
    .unwrap();
    let line: serde_json::Value = audit
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["id"] == bundle.id.as_str())
        .unwrap();
    assert_eq!(line["outcome"], "complain");
    assert!(
        line["refusals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "host-pid"),
        "{line}"
    );
    assert!(
        rampart::audit::expand(&line["changes"])
            .iter()
            .any(|c| c.0 == "seccomp")
    );
}

/// The official-image entrypoint pattern under restricted, through real runc: the spec
/// Docker writes for `--cap-drop ALL --cap-add CHOWN --cap-add SETUID --cap-add SETGID`
/// runs with exactly those three capabilities (CapEff/CapPrm/CapBnd 0xc1, none inheritable
/// or ambient), no-new-privileges, seccomp filter mode and a read-only root; root inside can
/// chown a file to the service user, and still cannot mount.
#[test]
fn capabilities_asked_for_by_name_are_granted_and_nothing_else_is_loosened() {
    if !common::require_root_tools() {
        return;
    }
    let mut spec = docker_like_spec(
        &rootfs(),
        &[
            "sh",
            "-c",
            "probe status; touch /x 2>/dev/null && echo root=rw; \
             touch /tmp/data && chown 999:999 /tmp/data && ls -ln /tmp/data; \
             probe sys mount",
        ],
    );
    let three = serde_json::json!(["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"]);
    for set in ["bounding", "effective", "permitted"] {
        spec["process"]["capabilities"][set] = three.clone();
    }
    let out = run_container(rampart("restricted"), &Bundle::new(&spec));
    let inside = String::from_utf8_lossy(&out.stdout).to_string();
    for key in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(
            status_field(&inside, key).as_deref(),
            Some("00000000000000c1"),
            "{key}\n{inside}"
        );
    }
    for key in ["CapInh", "CapAmb"] {
        assert_eq!(
            status_field(&inside, key).as_deref(),
            Some("0000000000000000"),
            "{key}\n{inside}"
        );
    }
    assert_eq!(status_field(&inside, "NoNewPrivs").as_deref(), Some("1"));
    assert_eq!(status_field(&inside, "Seccomp").as_deref(), Some("2"));
    assert!(!inside.contains("root=rw"), "{inside}");
    assert!(
        inside.contains(" 999 ") && inside.contains("999 "),
        "{inside}"
    );
    // probe sys exits 0 when the attempt failed.
    assert!(
        out.status.success() && inside.contains("mount errno=EPERM"),
        "mount must fail without SYS_ADMIN: {inside}"
    );
}

/// `--cap-add SYS_ADMIN` (Docker's shape: the defaults, then the added names) through real
/// runc: refused before runc runs, with the capability and the fix; config.json untouched.
#[test]
fn sys_admin_asked_for_by_name_is_refused_through_real_runc() {
    if !common::require_root_tools() {
        return;
    }
    let mut spec = docker_like_spec(&rootfs(), &["sh", "-c", "echo started"]);
    spec["process"]["capabilities"] = common::fixture_spec("docker-20.10/capadd-chown-setuid.json")
        ["process"]["capabilities"]
        .clone();
    let bundle = Bundle::new(&spec);
    let before = std::fs::read(bundle.dir.join("config.json")).unwrap();
    let out = run_container(rampart("restricted"), &bundle);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("started"));
    assert_eq!(
        std::fs::read(bundle.dir.join("config.json")).unwrap(),
        before
    );
    let last: serde_json::Value =
        serde_json::from_str(bundle.log().lines().last().unwrap()).unwrap();
    let msg = last["msg"].as_str().unwrap();
    assert!(
        msg.contains("[capability-not-grantable]")
            && msg.contains("CAP_SYS_ADMIN")
            && msg.contains("--cap-add SYS_ADMIN")
            && !msg.contains("[all-capabilities]"),
        "{msg}"
    );
}

/// Docker's `-m 4g --pids-limit 4096 --ulimit nofile=16384:16384 --cpus 2` spec
/// (limits-explicit.json) on a runnable Docker-shaped spec.
fn explicit_limits_spec(args: &[&str]) -> serde_json::Value {
    let mut spec = docker_like_spec(&rootfs(), args);
    let explicit = common::fixture_spec("docker-20.10/limits-explicit.json");
    for key in ["memory", "cpu", "pids"] {
        spec["linux"]["resources"][key] = explicit["linux"]["resources"][key].clone();
    }
    spec["process"]["rlimits"] = explicit["process"]["rlimits"].clone();
    spec
}

const LIMITS_INSIDE: &str = "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us; ulimit -Sn; ulimit -Hn";

/// What the user asked for is what the container gets, seen from inside: the cgroup files
/// runc wrote and the process's own open-files limit.
#[test]
fn explicit_limits_within_the_ceilings_are_what_the_container_gets() {
    if !common::require_root_tools() {
        return;
    }
    let bundle = Bundle::new(&explicit_limits_spec(&["sh", "-c", LIMITS_INSIDE]));
    let out = expect_success(&run_container(rampart("restricted"), &bundle));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["4096", "4294967296", "200000", "16384", "16384"],
        "{out}"
    );
}

/// Nothing asked for: restricted's defaults, and an open-files limit servers accept (redis
/// wants 10032): 65536, or the host's hard limit when runc cannot raise it.
#[test]
fn defaults_apply_when_nothing_was_asked_for() {
    if !common::require_root_tools() {
        return;
    }
    let out = sh(rampart("restricted"), LIMITS_INSIDE);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["1024", "2147483648", "200000"], "{out}");
    let (soft, hard): (u64, u64) = (lines[3].parse().unwrap(), lines[4].parse().unwrap());
    assert!(soft == hard && (10032..=65536).contains(&soft), "{out}");
}

/// `--pids-limit -1` (Docker writes -1 for 0 and -1) and `-m 64g`: refused before runc runs,
/// with the flag, the value, the ceiling and the fix; config.json untouched.
#[test]
fn explicit_limits_above_the_ceilings_never_start() {
    if !common::require_root_tools() {
        return;
    }
    let mut spec = explicit_limits_spec(&["sh", "-c", "echo started"]);
    spec["linux"]["resources"]["pids"]["limit"] = serde_json::json!(-1);
    spec["linux"]["resources"]["memory"]["limit"] = serde_json::json!(64i64 << 30);
    spec["linux"]["resources"]["memory"]["swap"] = serde_json::json!(128i64 << 30);
    let bundle = Bundle::new(&spec);
    let before = std::fs::read(bundle.dir.join("config.json")).unwrap();
    let out = run_container(rampart("restricted"), &bundle);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("started"));
    assert_eq!(
        std::fs::read(bundle.dir.join("config.json")).unwrap(),
        before
    );
    let last: serde_json::Value =
        serde_json::from_str(bundle.log().lines().last().unwrap()).unwrap();
    let msg = last["msg"].as_str().unwrap();
    assert!(
        msg.contains("--pids-limit -1 (unlimited) is above the ceiling 32768")
            && msg.contains("-m/--memory 64g is above the ceiling 16g")
            && msg.len() < 1024,
        "{msg}"
    );
}

/// `runc features` (containerd decides from it, e.g. whether runc can do user namespaces)
/// passes through untouched: the same bytes on stdout and stderr and the same exit status as
/// runc's own (tests/cli.rs checks that nothing is audited). Also after runc's global flags.
#[test]
fn features_passes_through_byte_for_byte() {
    let runc = common::runc_path();
    if !runc.exists() {
        eprintln!("no runc: skipping");
        return;
    }
    for global in [
        &[][..],
        &["--root", "/run/runc", "--log-format", "json"][..],
    ] {
        let plain = std::process::Command::new(&runc)
            .args(global)
            .arg("features")
            .output()
            .unwrap();
        let ours = std::process::Command::new(common::rampart_path())
            .arg(format!("--rampart-config={}", config_file().display()))
            .args(global)
            .arg("features")
            .output()
            .unwrap();
        assert!(plain.status.success(), "{plain:?}");
        assert_eq!(ours.status.code(), plain.status.code());
        assert_eq!(ours.stdout, plain.stdout, "{global:?}");
        assert_eq!(ours.stderr, plain.stderr, "{global:?}");
    }
}
