//! The escape battery: `probe escape` (tests/probe/probe.c) tries every known escape and
//! attack-surface path from inside a real container, under Docker's defaults (Docker 20.10's
//! spec, plain runc), under Rampart `baseline` and under Rampart `restricted`. `restricted` must
//! block every path; the three columns are printed and written to target/escape-table.md.
mod common;

use common::{
    Bundle, Runtime, describe, docker_like_spec, expect_success, rootfs, run_container,
    status_field,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Forks the battery tries (Rampart's pids limit is 1024) and MiB it touches (limit 2 GiB).
const FORKS: &str = "2000";
const MEMORY_MIB: &str = "2560";

/// Every path of the battery, in the probe's order: (path, group, what the probe tries).
const PATHS: &[(&str, &str, &str)] = &[
    ("mount", "mounts", "mount a tmpfs"),
    ("umount", "mounts", "umount2 a directory"),
    ("pivot_root", "mounts", "pivot_root"),
    (
        "unshare_user",
        "namespaces",
        "unshare(CLONE_NEWUSER): full capabilities in a new user namespace",
    ),
    ("unshare_mount", "namespaces", "unshare(CLONE_NEWNS)"),
    ("clone_newuser", "namespaces", "clone(CLONE_NEWUSER)"),
    (
        "clone3_newuser",
        "namespaces",
        "clone3(CLONE_NEWUSER), whose flags seccomp cannot filter",
    ),
    ("setns", "namespaces", "setns"),
    ("init_module", "kernel modules", "init_module"),
    ("finit_module", "kernel modules", "finit_module"),
    ("delete_module", "kernel modules", "delete_module"),
    ("kexec_load", "kernel", "kexec_load (invalid image)"),
    ("reboot", "kernel", "reboot (wrong magic)"),
    ("keyctl", "keyrings", "keyctl: read the session keyring"),
    ("add_key", "keyrings", "add_key"),
    ("request_key", "keyrings", "request_key"),
    ("bpf", "kernel attack surface", "bpf(BPF_MAP_CREATE)"),
    (
        "perf_event_open",
        "kernel attack surface",
        "perf_event_open (software event)",
    ),
    (
        "userfaultfd",
        "kernel attack surface",
        "userfaultfd (exploit race stabiliser)",
    ),
    ("io_uring_setup", "kernel attack surface", "io_uring_setup"),
    (
        "open_by_handle_at",
        "host files",
        "open_by_handle_at (Shocker)",
    ),
    ("ptrace", "processes", "ptrace"),
    (
        "socket_packet",
        "sockets",
        "AF_PACKET raw socket (CVE-2020-14386)",
    ),
    ("socket_raw", "sockets", "AF_INET SOCK_RAW (ICMP spoofing)"),
    ("socket_alg", "sockets", "AF_ALG (kernel crypto API)"),
    ("socket_vsock", "sockets", "AF_VSOCK (host vsock services)"),
    ("mknod_char", "devices", "mknod a character device (1:3)"),
    (
        "mknod_block",
        "devices",
        "mknod the host's first disk (8:0) and open it",
    ),
    ("chroot", "filesystem", "chroot"),
    ("chown", "filesystem", "chown a file to uid 1234"),
    ("swapon", "kernel", "swapon"),
    ("syslog", "kernel", "syslog: read the kernel log"),
    ("iopl", "kernel", "iopl (I/O port access)"),
    (
        "write_rootfs",
        "filesystem",
        "create a file in the root filesystem",
    ),
    (
        "write_proc_sys",
        "/proc",
        "write /proc/sys/kernel/core_pattern (the value it holds)",
    ),
    (
        "sysrq",
        "/proc",
        "open /proc/sysrq-trigger for writing (nothing written)",
    ),
    (
        "read_masked",
        "/proc",
        "read /proc/kcore, keys, timer_list, sched_debug, acpi, scsi, /sys/firmware",
    ),
    (
        "read_interrupts",
        "/proc",
        "read /proc/interrupts (a side channel)",
    ),
    (
        "setuid_escalation",
        "privileges",
        "uid 1000 runs a setuid-root binary",
    ),
    ("fork_exhaustion", "exhaustion", "fork 2000 processes"),
    (
        "memory_exhaustion",
        "exhaustion",
        "allocate and touch 2560 MiB",
    ),
];

/// Paths the battery must find OPEN under Docker's defaults on any Linux host: proof that the
/// probe tells an open path from a closed one (a probe that always said "blocked" would pass
/// the restricted column trivially).
const OPEN_UNDER_DOCKER: &[&str] = &[
    "io_uring_setup",
    "ptrace",
    "socket_packet",
    "socket_raw",
    "mknod_char",
    "chroot",
    "chown",
    "write_rootfs",
    "read_interrupts",
    "setuid_escalation",
    "fork_exhaustion",
    "memory_exhaustion",
];

/// Paths that are no syscall of their own: blocked by something other than an EPERM answer.
const NOT_SYSCALLS: &[&str] = &[
    "write_proc_sys",
    "sysrq",
    "write_rootfs",
    "read_masked",
    "read_interrupts",
    "setuid_escalation",
    "fork_exhaustion",
    "memory_exhaustion",
];

/// A config file and profiles dir for these tests: the real runc, an audit log, and
/// `restricted-128m` (restricted with a 128 MiB memory limit).
fn config_file() -> PathBuf {
    static CFG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CFG.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/e2e/escape")
            .join(std::process::id().to_string());
        let profiles = dir.join("profiles");
        fs::create_dir_all(&profiles).unwrap();
        fs::write(
            profiles.join("restricted-128m.toml"),
            "extends = \"restricted\"\n[resources]\nmemory_bytes = 134217728\n",
        )
        .unwrap();
        let cfg = dir.join("config.toml");
        let text = format!(
            "runtime = {:?}\naudit_log = {:?}\nprofiles_dir = {:?}\n",
            common::runc_path(),
            dir.join("audit.log"),
            profiles
        );
        fs::write(&cfg, text).unwrap();
        cfg
    })
    .clone()
}

fn rampart(profile: &str) -> Runtime {
    Runtime::Rampart {
        args: vec![
            format!("--rampart-config={}", config_file().display()),
            format!("--rampart-profile={profile}"),
        ],
    }
}

/// The shared rootfs with /bin/probe-suid: a copy of the probe owned by root, mode 4755.
fn rootfs_with_suid_probe() -> PathBuf {
    let root = rootfs();
    let lock = fs::File::create(root.parent().unwrap().join("rootfs.lock")).unwrap();
    lock.lock().unwrap();
    let (probe, suid) = (root.join("bin/probe"), root.join("bin/probe-suid"));
    let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let mode = fs::metadata(&suid).map(|m| m.permissions().mode() & 0o7777);
    if mtime(&suid) < mtime(&probe) || mode.ok() != Some(0o4755) {
        let tmp = root.join("bin/.probe-suid.tmp");
        fs::copy(&probe, &tmp).unwrap();
        std::os::unix::fs::chown(&tmp, Some(0), Some(0)).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o4755)).unwrap();
        fs::rename(&tmp, &suid).unwrap();
    }
    root
}

fn run(runtime: Runtime, spec: &Value) -> Output {
    run_container(runtime, &Bundle::new(spec))
}

/// The battery's verdicts: path -> (blocked, detail).
fn battery(runtime: Runtime) -> BTreeMap<String, (bool, String)> {
    let spec = docker_like_spec(
        &rootfs_with_suid_probe(),
        &["/bin/probe", "escape", FORKS, MEMORY_MIB],
    );
    let out = run(runtime, &spec);
    let stdout = expect_success(&out);
    let mut got = BTreeMap::new();
    for line in stdout.lines() {
        let mut parts = line.splitn(3, ' ');
        let (path, verdict, detail) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        assert!(
            verdict == "blocked" || verdict == "OPEN",
            "bad line {line:?}\n{}",
            describe(&out)
        );
        got.insert(path.to_string(), (verdict == "blocked", detail.to_string()));
    }
    got
}

/// `docker run --user 1000` runs /bin/probe-suid (setuid root): blocked if euid stays 1000.
fn setuid_escalation(runtime: Runtime) -> (bool, String) {
    let mut spec = docker_like_spec(&rootfs_with_suid_probe(), &["/bin/probe-suid", "euid"]);
    spec["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1000]});
    // What Docker writes for a non-root user: only the bounding set.
    let bounding = spec["process"]["capabilities"]["bounding"].clone();
    spec["process"]["capabilities"] = json!({ "bounding": bounding });
    let stdout = expect_success(&run(runtime, &spec));
    let line = stdout.trim().to_string();
    assert!(
        line.starts_with("euid=") && line.ends_with("uid=1000"),
        "{line}"
    );
    (!line.starts_with("euid=0 "), line)
}

fn column(runtime: fn() -> Runtime) -> BTreeMap<String, (bool, String)> {
    let mut col = battery(runtime());
    col.insert("setuid_escalation".into(), setuid_escalation(runtime()));
    col
}

fn cell((blocked, detail): &(bool, String)) -> String {
    // Closed by what this kernel lacks rather than by a policy.
    let absent = matches!(detail.as_str(), "errno=ENOENT" | "errno=EAFNOSUPPORT");
    match (blocked, absent) {
        (true, true) => format!("blocked ({detail}: not in this kernel)"),
        (true, false) => format!("blocked ({detail})"),
        (false, _) => format!("**OPEN** ({detail})"),
    }
}

/// One column of the table: its title and, per path, (blocked, detail).
type Column<'a> = (&'a str, &'a BTreeMap<String, (bool, String)>);

fn table(cols: &[Column]) -> String {
    let mut t = String::from("| path | what the probe tries |");
    for (name, _) in cols {
        t += &format!(" {name} |");
    }
    t += "\n| --- | --- |";
    t += &" --- |".repeat(cols.len());
    t += "\n";
    for (path, group, what) in PATHS {
        t += &format!("| {group}: `{path}` | {what} |");
        for (_, col) in cols {
            t += &format!(" {} |", cell(&col[*path]));
        }
        t += "\n";
    }
    t += "| **paths blocked** | |";
    for (_, col) in cols {
        let blocked = col.values().filter(|(b, _)| *b).count();
        t += &format!(" **{blocked} of {}** |", col.len());
    }
    t + "\n"
}

#[test]
fn restricted_blocks_every_path_of_the_escape_battery() {
    if !common::require_root_tools() {
        return;
    }
    let docker = column(|| Runtime::PlainRunc);
    let baseline = column(|| rampart("baseline"));
    let restricted = column(|| rampart("restricted"));
    let cols = [
        ("Docker defaults (plain runc)", &docker),
        ("rampart `baseline`", &baseline),
        ("rampart `restricted`", &restricted),
    ];
    let text = table(&cols);
    println!("{text}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/escape-table.md");
    fs::write(&out, &text).unwrap();
    eprintln!("escape table written to {}", out.display());

    let names: Vec<&str> = PATHS.iter().map(|p| p.0).collect();
    for (name, col) in &cols {
        let got: Vec<&str> = col.keys().map(String::as_str).collect();
        let mut want = names.clone();
        want.sort();
        assert_eq!(
            got, want,
            "{name}: the probe must report exactly the battery"
        );
    }
    let open: Vec<String> = restricted
        .iter()
        .filter(|(_, (b, _))| !b)
        .map(|(p, (_, d))| format!("{p}: {d}"))
        .collect();
    assert!(open.is_empty(), "OPEN under restricted: {open:?}\n{text}");
    // Blocked by Rampart itself, not by what this kernel lacks: every syscall path is answered
    // EPERM by seccomp (clone3 ENOSYS, so that libc falls back to the filtered clone).
    let not_by_seccomp: Vec<String> = restricted
        .iter()
        .filter(|(p, _)| !NOT_SYSCALLS.contains(&p.as_str()))
        .filter(|(p, (_, d))| {
            let want = match p.as_str() {
                "clone3_newuser" => "errno=ENOSYS",
                _ => "errno=EPERM",
            };
            d != want
        })
        .map(|(p, (_, d))| format!("{p}: {d}"))
        .collect();
    assert!(
        not_by_seccomp.is_empty(),
        "syscall paths not refused by Rampart's seccomp: {not_by_seccomp:?}"
    );
    // Read-only mounts; a /proc file this kernel does not have (sysrq-trigger without
    // CONFIG_MAGIC_SYSRQ) counts as closed only if the host lacks it too.
    for (p, file) in [
        ("write_proc_sys", "/proc/sys/kernel/core_pattern"),
        ("sysrq", "/proc/sysrq-trigger"),
        ("write_rootfs", "/"),
    ] {
        let d = &restricted[p].1;
        assert!(
            d == "errno=EROFS" || (d == "errno=ENOENT" && !Path::new(file).exists()),
            "{p}: {d}"
        );
    }
    let still_open: Vec<&&str> = OPEN_UNDER_DOCKER.iter().filter(|p| docker[**p].0).collect();
    assert!(
        still_open.is_empty(),
        "the probe must see these OPEN under Docker's defaults: {still_open:?}\n{text}"
    );
    // baseline never opens a path Docker's defaults close.
    let worse: Vec<&String> = baseline
        .iter()
        .filter(|(p, (b, _))| !b && docker[*p].0)
        .map(|(p, _)| p)
        .collect();
    assert!(
        worse.is_empty(),
        "baseline opens what Docker closes: {worse:?}"
    );
}

/// A profile with a 128 MiB memory limit: allocating 1 GiB gets the container OOM-killed at the
/// limit, and the host (this test) carries on; plain runc with Docker's defaults lets it through.
#[test]
fn memory_limit_kills_the_container_not_the_host() {
    if !common::require_root_tools() {
        return;
    }
    let spec = docker_like_spec(&rootfs(), &["/bin/probe", "memory", "1024"]);
    let out = run(rampart("restricted-128m"), &spec);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(128 + 9),
        "killed by SIGKILL\n{}",
        describe(&out)
    );
    let touched: u64 = stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("touched ")?
                .strip_suffix(" MiB")?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0);
    assert!(
        touched < 128 && !stdout.contains("ok"),
        "stopped before 128 MiB: {stdout}"
    );
    let plain = expect_success(&run(
        Runtime::PlainRunc,
        &docker_like_spec(&rootfs(), &["/bin/probe", "memory", "256"]),
    ));
    assert!(plain.contains("memory 256 MiB ok"), "{plain}");
}

/// Under no-new-privileges the setuid bit does nothing, also for the capability-less restricted
/// profile; and the probe-suid copy really is setuid root (plain runc escalates).
#[test]
fn setuid_binary_does_not_escalate_under_no_new_privileges() {
    if !common::require_root_tools() {
        return;
    }
    let (blocked, line) = setuid_escalation(rampart("restricted"));
    assert!(blocked, "{line}");
    assert_eq!(line, "euid=1000 uid=1000");
    let (blocked, line) = setuid_escalation(Runtime::PlainRunc);
    assert!(!blocked, "Docker's defaults let setuid escalate: {line}");
    let mut spec = docker_like_spec(&rootfs_with_suid_probe(), &["/bin/probe", "status"]);
    spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let inside = expect_success(&run(rampart("restricted"), &spec));
    assert_eq!(status_field(&inside, "NoNewPrivs").as_deref(), Some("1"));
}

/// A hostile spec: a second `proc` mount outside /proc, which runc allows. Its sys/ is neither
/// read-only nor masked like /proc's, so /hostproc/sys/kernel/core_pattern could be written
/// (a host-root command on the next crash). The probe only opens it for appending: nothing is
/// ever written. Plain runc shows the hole; through Rampart the spec must be refused or the file
/// must not open for writing.
#[test]
fn a_second_proc_mount_never_exposes_a_writable_proc_sys() {
    if !common::require_root_tools() {
        return;
    }
    let script = "exec 3>>/hostproc/sys/kernel/core_pattern && echo proc-sys=writable || echo proc-sys=closed";
    let mut spec = docker_like_spec(&rootfs(), &["sh", "-c", script]);
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/hostproc", "type": "proc", "source": "proc"}));
    let plain = expect_success(&run(Runtime::PlainRunc, &spec));
    assert_eq!(
        plain.trim(),
        "proc-sys=writable",
        "the hole under plain runc"
    );
    let out = run(rampart("restricted"), &spec);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let refused = out.status.code() == Some(1)
        && String::from_utf8_lossy(&out.stderr).starts_with("rampart: ");
    assert!(
        refused || stdout.trim() == "proc-sys=closed",
        "{}",
        describe(&out)
    );
}
