//! Default-deny over the spec, tried as an attacker would: fields that loosened a
//! "hardened" container before the field table (src/policy/fields.rs). Where it is safe to
//! do, each attack first runs under plain runc to show it works there, seen from inside;
//! then Rampart refuses it before runc runs, with the rule in the message Docker shows.
mod common;

use common::{Bundle, Runtime, docker_like_spec, expect_success, rootfs, run_container};
use serde_json::{Value, json};
use std::path::PathBuf;

const MARK: &str = "container-started";

fn rampart() -> Runtime {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join(format!("attack-fields-{}.toml", std::process::id()));
    std::fs::write(
        &cfg,
        format!(
            "runtime = {:?}\naudit_log = {:?}\n",
            common::runc_path(),
            dir.join("audit.log")
        ),
    )
    .unwrap();
    Runtime::Rampart {
        args: vec![format!("--rampart-config={}", cfg.display())],
    }
}

fn spec(script: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut s = docker_like_spec(&rootfs(), &["sh", "-c", &format!("echo {MARK}; {script}")]);
    edit(&mut s);
    s
}

/// Runs under plain runc and returns what the container printed.
fn under_runc(spec: &Value) -> String {
    expect_success(&run_container(Runtime::PlainRunc, &Bundle::new(spec)))
}

/// The same, where runc may lack what it takes: lowering an OOM score or raising a hard
/// rlimit needs CAP_SYS_RESOURCE, which root does not hold on these build machines (it does
/// on an ordinary host, where the attack works). None when runc itself failed.
fn under_runc_if_it_can(spec: &Value) -> Option<String> {
    let out = run_container(Runtime::PlainRunc, &Bundle::new(spec));
    if out.status.success() {
        return Some(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    eprintln!(
        "plain runc could not run it here (no CAP_SYS_RESOURCE): {}",
        common::describe(&out)
    );
    None
}

/// Rampart refuses: exit 1, the container never printed anything, config.json untouched,
/// and the runc-style log line names the rule.
fn refused(spec: &Value, rule: &str) {
    let bundle = Bundle::new(spec);
    let before = std::fs::read(bundle.dir.join("config.json")).unwrap();
    let out = run_container(rampart(), &bundle);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(MARK));
    assert_eq!(
        std::fs::read(bundle.dir.join("config.json")).unwrap(),
        before
    );
    let last: Value = serde_json::from_str(bundle.log().lines().last().unwrap()).unwrap();
    let msg = last["msg"].as_str().unwrap();
    assert!(msg.contains(&format!("[{rule}]")), "{rule}: {msg}");
}

#[test]
fn oom_score_below_the_floor_is_refused() {
    if !common::require_root_tools() {
        return;
    }
    let s = spec("cat /proc/self/oom_score_adj", |s| {
        s["process"]["oomScoreAdj"] = json!(-1000)
    });
    if let Some(out) = under_runc_if_it_can(&s) {
        assert!(out.contains("-1000"), "plain runc: OOM-immune\n{out}");
    }
    refused(&s, "oom-score-adj");
}

#[test]
fn realtime_priority_rlimit_is_refused() {
    if !common::require_root_tools() {
        return;
    }
    let s = spec("grep 'realtime priority' /proc/self/limits", |s| {
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_RTPRIO", "hard": 99, "soft": 99}])
    });
    if let Some(out) = under_runc_if_it_can(&s) {
        assert!(out.contains("99"), "plain runc: RT priority 99\n{out}");
    }
    refused(&s, "rlimit-raised");
}

#[test]
fn kernel_char_device_is_refused() {
    if !common::require_root_tools() {
        return;
    }
    // /dev/kmsg: the host's kernel log, read from the container (a stand-in for /dev/sg*,
    // /dev/ng* and /dev/mem, which give raw disk and memory access the same way).
    let s = spec(
        "head -n 1 /dev/kmsg >/dev/null && echo read-host-kmsg",
        |s| {
            s["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 420, "uid": 0, "gid": 0}]);
            s["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"}));
            // Reading /dev/kmsg needs CAP_SYSLOG unless dmesg_restrict is 0; plain runc gets it.
            for set in ["bounding", "effective", "permitted"] {
                s["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("CAP_SYSLOG"));
            }
        },
    );
    assert!(
        under_runc(&s).contains("read-host-kmsg"),
        "plain runc reads the host's kmsg"
    );
    refused(&s, "device-not-allowed");
}

#[test]
fn foreign_mount_type_is_refused() {
    if !common::require_root_tools() {
        return;
    }
    let s = spec("ls /dbg | head -n 3; echo listed-debugfs", |s| {
        s["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/dbg", "type": "debugfs", "source": "debugfs", "options": ["nosuid"]}));
    });
    assert!(
        under_runc(&s).contains("listed-debugfs"),
        "plain runc mounts debugfs"
    );
    refused(&s, "mount-type");
}

/// These would hurt the host under plain runc (the root cgroup, the host's /): Rampart only.
#[test]
fn host_cgroup_host_rootfs_odd_namespaces_and_runc_annotations_are_refused() {
    if !common::require_root_tools() {
        return;
    }
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "cgroups-path",
            Box::new(|s| s["linux"]["cgroupsPath"] = json!("/")),
        ),
        (
            "cgroups-path",
            Box::new(|s| s["linux"]["cgroupsPath"] = json!("/rampart-test/../..")),
        ),
        ("root-path", Box::new(|s| s["root"]["path"] = json!("/"))),
        ("root-path", Box::new(|s| s["root"]["path"] = json!("/etc"))),
        (
            "namespace-path",
            Box::new(|s| s["linux"]["namespaces"][1]["path"] = json!("/proc/1/ns/ipc")),
        ),
        (
            "namespace-path",
            Box::new(|s| s["linux"]["namespaces"][1]["path"] = json!("/tmp/planted-ns")),
        ),
        (
            "unusual-field",
            Box::new(|s| s["annotations"] = json!({"org.systemd.property.MemoryMax": "infinity"})),
        ),
        (
            "unusual-field",
            Box::new(|s| s["linux"]["resources"]["cpu"]["realtimeRuntime"] = json!(950000)),
        ),
        (
            "unusual-field",
            Box::new(|s| s["linux"]["seccomp"]["listenerPath"] = json!("/run/agent.sock")),
        ),
    ];
    for (rule, edit) in cases {
        refused(&spec("true", edit), rule);
    }
}

/// The control: under restricted the container starts with the engine's defaults, and from
/// inside its OOM score and real-time limit are the host's ordinary ones.
#[test]
fn restricted_defaults_still_run() {
    if !common::require_root_tools() {
        return;
    }
    let s = spec(
        "cat /proc/self/oom_score_adj; grep 'realtime priority' /proc/self/limits",
        |_| {},
    );
    let out = expect_success(&run_container(rampart(), &Bundle::new(&s)));
    assert!(out.contains(MARK), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "0", "{out}");
    assert!(lines[2].split_whitespace().nth(3) == Some("0"), "{out}");
}

/// A cgroup that already has processes is someone else's: a container asking for it would
/// share (and on a failed create, tear down) that cgroup. The test makes one, with a
/// process of its own in it, in whichever hierarchy holds pids here.
#[test]
fn a_cgroup_with_processes_is_refused() {
    if !common::require_root_tools() {
        return;
    }
    let name = format!("rampart-test/busy-{}", std::process::id());
    let base = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        .into_iter()
        .find(|b| std::path::Path::new(b).join("cgroup.procs").exists())
        .expect("a cgroup hierarchy with pids");
    let dir = std::path::Path::new(base).join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(dir.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    let s = spec("true", |s| {
        s["linux"]["cgroupsPath"] = json!(format!("/{name}"))
    });
    refused(&s, "cgroups-path");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    // The process is gone: the empty cgroup can be removed (and would no longer be refused).
    for _ in 0..50 {
        if std::fs::remove_dir(&dir).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
