//! Rampart where users register it, driven by the engines themselves: a private dockerd
//! (`docker run --runtime rampart`), containerd through `ctr --runc-binary` and through its
//! CRI socket (a RuntimeClass handler, as the kubelet would call it), and podman
//! (`podman --runtime rampart`). Each engine's Rampart registration is made by
//! `rampart install` (Docker, containerd) or a containers.conf (podman). Hardening is checked
//! from inside the containers with /bin/probe; every engine also gets one refused container,
//! and the test checks the exact text its user sees. The `install`/`uninstall` commands are
//! also checked as a CLI on temp files. Harness: tests/common/engines.rs.
mod common;

use common::engines::{
    Containerd, Docker, IMAGE, IMAGE_REF, Podman, audit_log,
    cri::{Cri, Pod},
    engines_dir, profiles_dir, rampart,
};
use common::{describe, rampart_path, runc_path, status_field};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Docker's (and containerd's) 14 default capabilities.
const DEFAULT_CAPS: &str = "00000000a80425fb";
/// Those 14 minus NET_RAW, MKNOD and AUDIT_WRITE: the baseline profile.
const BASELINE_CAPS: &str = "00000000800405fb";
const NO_CAPS: &str = "0000000000000000";
const NET_BIND_SERVICE: &str = "0000000000000400";

fn ready() -> bool {
    if !common::require_root_tools() {
        return false;
    }
    let missing: Vec<&str> = ["dockerd", "docker", "containerd", "ctr", "podman"]
        .into_iter()
        .filter(|t| common::engines::tool(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "engine tests need {}: run scripts/setup-host (or set RAMPART_SKIP_E2E=1)",
        missing.join(", ")
    );
    true
}

/// The restricted profile, seen from inside: no capabilities at all, no_new_privs, seccomp.
fn assert_restricted(inside: &str) {
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(inside, key).as_deref(),
            Some(NO_CAPS),
            "{key}\n{inside}"
        );
    }
    assert_eq!(
        status_field(inside, "NoNewPrivs").as_deref(),
        Some("1"),
        "{inside}"
    );
    assert_eq!(
        status_field(inside, "Seccomp").as_deref(),
        Some("2"),
        "{inside}"
    );
}

/// restricted in a network namespace joined by path (every CRI pod: the sandbox joins the
/// one CNI made, containers join the sandbox's; or the host's): NET_BIND_SERVICE, which CRI
/// asks for, is the only capability left, since Rampart cannot set
/// ip_unprivileged_port_start in a namespace the container does not create.
fn assert_restricted_joined_netns(inside: &str) {
    for (key, want) in [
        ("CapInh", NO_CAPS),
        ("CapPrm", NET_BIND_SERVICE),
        ("CapEff", NET_BIND_SERVICE),
        ("CapBnd", NET_BIND_SERVICE),
        ("CapAmb", NO_CAPS),
        ("NoNewPrivs", "1"),
        ("Seccomp", "2"),
    ] {
        assert_eq!(
            status_field(inside, key).as_deref(),
            Some(want),
            "{key}\n{inside}"
        );
    }
}

fn assert_baseline(inside: &str) {
    assert_eq!(
        status_field(inside, "CapBnd").as_deref(),
        Some(BASELINE_CAPS),
        "{inside}"
    );
    assert_eq!(
        status_field(inside, "NoNewPrivs").as_deref(),
        Some("1"),
        "{inside}"
    );
    assert_eq!(
        status_field(inside, "Seccomp").as_deref(),
        Some("2"),
        "{inside}"
    );
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", describe(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What Rampart says when a profile extends one that does not exist.
fn broken_profile_message() -> String {
    format!(
        "rampart: profile \"broken\" extends \"nonexistent\": unknown profile \"nonexistent\": known profiles are baseline, broken, hostnet, isolated, isolated-e2e, restricted; admins add profiles as NAME.toml in {}",
        profiles_dir().display()
    )
}

const PROBE_AND_WRITE: &str =
    "/bin/probe status; touch /written 2>/dev/null && echo rootfs=writable || echo rootfs=readonly";

// ------------------------------------------------------------------------------ Docker

#[test]
fn docker_runtime_rampart_is_restricted_and_runc_is_not() {
    if !ready() {
        return;
    }
    let d = Docker::get();
    let run = |runtime: &str| {
        ok(&d.run(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--runtime",
            runtime,
            IMAGE,
            "sh",
            "-c",
            PROBE_AND_WRITE,
        ]))
    };
    let inside = run("rampart");
    assert_restricted(&inside);
    assert!(inside.contains("rootfs=readonly"), "{inside}");

    let plain = run("runc");
    assert_eq!(
        status_field(&plain, "CapBnd").as_deref(),
        Some(DEFAULT_CAPS),
        "{plain}"
    );
    assert_eq!(
        status_field(&plain, "NoNewPrivs").as_deref(),
        Some("0"),
        "{plain}"
    );
    assert!(plain.contains("rootfs=writable"), "{plain}");
}

#[test]
fn docker_runtime_rampart_baseline_uses_the_baseline_profile() {
    if !ready() {
        return;
    }
    let inside = ok(&Docker::get().run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--runtime",
        "rampart-baseline",
        IMAGE,
        "sh",
        "-c",
        PROBE_AND_WRITE,
    ]));
    assert_baseline(&inside);
    assert!(
        inside.contains("rootfs=writable"),
        "baseline keeps the rootfs writable\n{inside}"
    );
}

#[test]
fn docker_refused_container_shows_ramparts_own_message() {
    if !ready() {
        return;
    }
    let out = Docker::get().run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--runtime",
        "rampart-broken",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", describe(&out));
    let err = stderr(&out);
    let first = err.lines().next().unwrap_or_default().trim_end_matches('.');
    assert_eq!(
        first,
        format!(
            "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: {}: unknown",
            broken_profile_message()
        ),
        "{err}"
    );
}

/// `docker run --privileged`: the fix is the first thing said, one line per rule, and the
/// whole of what Docker prints stays under Kubernetes' 1,024-byte event message limit.
#[test]
fn docker_run_privileged_says_the_fix_first_in_under_a_kilobyte() {
    if !ready() {
        return;
    }
    let out = Docker::get().run(&[
        "run",
        "--rm",
        "--privileged",
        "--network",
        "none",
        "--runtime",
        "rampart",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("docker: Error response from daemon: failed to create shim task: OCI runtime create failed: rampart: refused by profile restricted; to run it, drop --privileged / --cap-add ALL and add only the capabilities you need.\n[all-capabilities]"),
        "{err}"
    );
    assert!(
        err.contains("\n[block-device]: ")
            && err.contains("\nAdmin: waive = [\"all-capabilities\""),
        "{err}"
    );
    // What the daemon said, without the CLI's "Run 'docker run --help'..." after a blank line.
    let message = err
        .lines()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(message.len() < 1024, "{} bytes: {message}", message.len());
}

#[test]
fn docker_exec_privileged_into_a_rampart_container_gains_nothing() {
    if !ready() {
        return;
    }
    let d = Docker::get();
    let name = format!("rampart-exec-{}", std::process::id());
    let _ = d.run(&["rm", "-f", &name]);
    ok(&d.run(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--runtime",
        "rampart",
        IMAGE,
    ]));
    let privileged = d.run(&["exec", "--privileged", &name, "/bin/probe", "status"]);
    let plain = d.run(&["exec", &name, "/bin/probe", "status"]);
    let _ = d.run(&["rm", "-f", &name]);
    assert_restricted(&ok(&privileged));
    assert_restricted(&ok(&plain));
}

/// `docker update` goes through the container's profile: lifting the pids limit is refused
/// with the message Docker shows its user, and the cgroup seen from inside is unchanged; a
/// value within the ceiling is applied.
#[test]
fn docker_update_above_the_ceiling_is_refused_and_within_it_applied() {
    if !ready() {
        return;
    }
    let d = Docker::get();
    let name = format!("rampart-update-{}", std::process::id());
    let _ = d.run(&["rm", "-f", &name]);
    ok(&d.run(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--runtime",
        "rampart",
        IMAGE,
    ]));
    let pids_max = || ok(&d.run(&["exec", &name, "cat", "/sys/fs/cgroup/pids/pids.max"]));
    let before = pids_max();
    let lifted = d.run(&["update", "--pids-limit", "-1", &name]);
    let lowered = d.run(&["update", "--pids-limit", "512", &name]);
    let after = pids_max();
    let _ = d.run(&["rm", "-f", &name]);
    assert!(!lifted.status.success(), "{}", describe(&lifted));
    let msg = stderr(&lifted);
    assert!(
        msg.contains("rampart: refused to update container")
            && msg.contains("pids.limit -1 (unlimited) is above the ceiling 32768 (pids_max)"),
        "{msg}"
    );
    eprintln!("docker update shows: {msg}");
    assert_eq!(before.trim(), "1024", "{before}");
    ok(&lowered);
    assert_eq!(after.trim(), "512", "{after}");
}

/// `docker run -m 4g --pids-limit 4096 --ulimit nofile=16384:16384 --cpus 2`: what the user
/// asked for is what the container gets (restricted's ceilings allow it) — the cgroup seen
/// from inside equals what `docker inspect` reports, and so does `ulimit -n`. Before
/// profiles had ceilings this ran with 2 GiB, 1024 and 1024:4096 while inspect said 4 GiB.
/// Above a ceiling (`-m 64g`): refused, with the flag, the value, the ceiling and the fix.
#[test]
fn docker_explicit_limits_are_what_inspect_says_or_refused() {
    if !ready() {
        return;
    }
    let d = Docker::get();
    let name = format!("rampart-limits-{}", std::process::id());
    let _ = d.run(&["rm", "-f", &name]);
    let run = d.run(&[
        "run",
        "--name",
        &name,
        "--network",
        "none",
        "--runtime",
        "rampart",
        "-m",
        "4g",
        "--pids-limit",
        "4096",
        "--ulimit",
        "nofile=16384:16384",
        "--cpus",
        "2",
        IMAGE,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; ulimit -n",
    ]);
    let inspect = d.run(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{range .HostConfig.Ulimits}}{{.Soft}}{{end}}",
        &name,
    ]);
    let _ = d.run(&["rm", "-f", &name]);
    let inside: Vec<String> = ok(&run).lines().map(str::to_string).collect();
    let said: Vec<String> = ok(&inspect)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(said, ["4294967296", "4096", "16384"]);
    assert_eq!(inside, said, "the container has what docker inspect says");

    let out = d.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--runtime",
        "rampart",
        "-m",
        "64g",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("[resource-above-ceiling]")
            && err.contains("-m/--memory 64g is above the ceiling 16g")
            && err.contains("memory_max_bytes"),
        "{err}"
    );
    eprintln!("docker run -m 64g shows: {err}");
}

#[test]
fn docker_info_lists_rampart_runtimes_and_version_passes_through() {
    if !ready() {
        return;
    }
    let d = Docker::get();
    let runtimes = ok(&d.run(&["info", "--format", "{{json .Runtimes}}"]));
    let runtimes: serde_json::Value = serde_json::from_str(&runtimes).unwrap();
    for (name, profile) in [
        ("rampart", "restricted"),
        ("rampart-baseline", "baseline"),
        ("rampart-broken", "broken"),
    ] {
        assert_eq!(
            runtimes[name]["path"].as_str(),
            Some(rampart_path().to_str().unwrap()),
            "{runtimes}"
        );
        assert_eq!(
            runtimes[name]["runtimeArgs"][1].as_str(),
            Some(profile),
            "{runtimes}"
        );
    }
    // dockerd asks runtimes for `--version`; Rampart hands that to runc untouched.
    let mine = ok(&Command::new(rampart_path())
        .arg("--version")
        .output()
        .unwrap());
    let runc = ok(&Command::new(runc_path()).arg("--version").output().unwrap());
    assert_eq!(mine, runc);
}

#[test]
fn docker_install_reloads_dockerd_and_makes_rampart_the_default() {
    if !ready() {
        return;
    }
    let d = Docker::get();
    assert!(
        d.install_report.contains("dockerd is not running"),
        "{}",
        d.install_report
    );
    let report = rampart(&[
        &format!(
            "--rampart-config={}",
            common::engines::rampart_config().display()
        ),
        "install",
        "docker",
        "--default-runtime",
        "--daemon-json",
        &d.daemon_json.to_string_lossy(),
        "--pid-file",
        &d.pid_file.to_string_lossy(),
        "--bin-dir",
        &d.bin_dir.to_string_lossy(),
    ]);
    assert!(
        report.contains("default-runtime: (unset, runc) -> rampart"),
        "{report}"
    );
    assert!(report.contains("reloaded dockerd (pid "), "{report}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = ok(&d.run(&["info", "--format", "{{.DefaultRuntime}} {{.RuncCommit.ID}}"]));
        let mut f = info.split_whitespace();
        if f.next() == Some("rampart") {
            // dockerd asked `rampart --version` (no runtimeArgs) for runc's commit.
            assert_ne!(f.next(), Some("N/A"), "{info}");
            break;
        }
        assert!(Instant::now() < deadline, "dockerd did not reload: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let inside = ok(&d.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "/bin/probe",
        "status",
    ]));
    assert_restricted(&inside);
    // A second install changes nothing and does not signal.
    let again = rampart(&[
        &format!(
            "--rampart-config={}",
            common::engines::rampart_config().display()
        ),
        "install",
        "docker",
        "--default-runtime",
        "--daemon-json",
        &d.daemon_json.to_string_lossy(),
        "--pid-file",
        &d.pid_file.to_string_lossy(),
        "--bin-dir",
        &d.bin_dir.to_string_lossy(),
    ]);
    assert!(again.contains("nothing changed"), "{again}");
}

// -------------------------------------------------------------------------- containerd

fn ctr_run(c: &Containerd, binary: &Path, args: &[&str]) -> Output {
    ctr_run_with(c, binary, &[], args)
}

/// `ctr run` with `flags` before the image.
fn ctr_run_with(c: &Containerd, binary: &Path, flags: &[&str], args: &[&str]) -> Output {
    let id = format!(
        "rampart-ctr-{}-{}",
        std::process::id(),
        binary.file_name().unwrap().to_string_lossy()
    );
    let mut cmd = c.ctr("default");
    cmd.args([
        "run",
        "--rm",
        "--runtime",
        "io.containerd.runc.v2",
        "--runc-binary",
    ])
    .arg(binary)
    .args(flags)
    .args([IMAGE_REF, &id])
    .args(args);
    common::engines::run_timeout(&mut cmd, Duration::from_secs(120))
}

#[test]
fn ctr_run_with_rampart_as_runc_binary_is_hardened() {
    if !ready() {
        return;
    }
    let c = Containerd::get();
    assert_restricted(&ok(&ctr_run(c, &rampart_path(), &["/bin/probe", "status"])));
    // The link's name selects the profile (ctr, like containerd's shim, passes no arguments).
    assert_baseline(&ok(&ctr_run(
        c,
        &c.bin_dir.join("rampart-baseline"),
        &["/bin/probe", "status"],
    )));
}

#[test]
fn ctr_refused_container_shows_ramparts_own_message() {
    if !ready() {
        return;
    }
    let c = Containerd::get();
    let out = ctr_run(c, &c.bin_dir.join("rampart-broken"), &["true"]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "ctr: failed to create shim task: OCI runtime create failed: {}: unknown",
            broken_profile_message()
        )
    );
}

/// What a container under isolated reports from inside: its uid_map, whether /tmp and
/// /data (a volume) are writable, whether resolv.conf and hosts are readable.
const ISOLATED_PROBE: &str = "cat /proc/self/uid_map; echo x > /tmp/f && echo tmp=writable; \
     echo x > /data/f && echo volume=writable; cat /etc/resolv.conf /etc/hosts > /dev/null && echo files=readable";

fn assert_isolated(inside: &str) {
    assert!(
        in_pool(inside.lines().next().unwrap_or_default()),
        "root is not the pool's\n{inside}"
    );
    for part in ["tmp=writable", "volume=writable", "files=readable"] {
        assert!(inside.contains(part), "{part}\n{inside}");
    }
}

/// Mount points under /run/rampart/stage/ in the mount namespace of process `pid`.
fn staged_mounts(pid: &str) -> Vec<String> {
    fs::read_to_string(format!("/proc/{}/mountinfo", pid.trim()))
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with("/run/rampart/stage/"))
        .map(String::from)
        .collect()
}

/// containerd through ctr, with the `rampart-isolated-e2e` link as runc (as
/// `--runc-binary` or the runtime's BinaryName): root is the pool's, /tmp and a bind of a
/// host directory open to all (a user's bind: never id-mapped) are writable, the image's
/// resolv.conf and hosts readable, and `--rm` leaves nothing staged.
#[test]
fn ctr_run_under_isolated_maps_root_and_leaves_no_mount() {
    if !ready() {
        return;
    }
    let c = Containerd::get();
    let vol = c.dir.join(format!("isolated-vol-{}", std::process::id()));
    fs::create_dir_all(&vol).unwrap();
    fs::set_permissions(&vol, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let mount = format!("type=bind,src={},dst=/data,options=rbind:rw", vol.display());
    let inside = ok(&ctr_run_with(
        c,
        &c.bin_dir.join("rampart-isolated-e2e"),
        &["--mount", &mount],
        &["sh", "-c", ISOLATED_PROBE],
    ));
    assert_isolated(&inside);
    let pid = fs::read_to_string(c.dir.join("containerd.pid")).unwrap();
    assert_eq!(staged_mounts(&pid), Vec::<String>::new());
    let _ = fs::remove_dir_all(&vol);
}

// ------------------------------------------------------------------ CRI (RuntimeClass)

fn pod_logs(name: &str) -> PathBuf {
    let d = engines_dir()
        .join("containerd/pods")
        .join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn proc_status(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/status")).unwrap()
}

#[test]
fn containerd_install_wrote_the_cri_handlers() {
    if !ready() {
        return;
    }
    let c = Containerd::get();
    let text = fs::read_to_string(&c.config).unwrap();
    let t: toml::Table = toml::from_str(&text).unwrap();
    let rts = &t["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"];
    for (handler, link) in [
        ("rampart", "rampart-restricted"),
        ("rampart-baseline", "rampart-baseline"),
        ("rampart-broken", "rampart-broken"),
        ("rampart-hostnet", "rampart-hostnet"),
    ] {
        let r = &rts[handler];
        assert_eq!(r["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
        for key in ["pod_annotations", "container_annotations"] {
            assert_eq!(
                r[key],
                toml::Value::Array(vec![
                    "rampart.dev/profile".into(),
                    "rampart.dev/waive".into()
                ])
            );
        }
        let binary = c.bin_dir.join(link);
        assert_eq!(r["options"]["BinaryName"].as_str(), binary.to_str());
        assert_eq!(
            fs::canonicalize(&binary).unwrap(),
            fs::canonicalize(rampart_path()).unwrap()
        );
        assert_eq!(r["options"]["SystemdCgroup"].as_bool(), Some(false));
    }
    assert!(
        c.install_report
            .contains("SystemdCgroup = false, as in the runc runtime"),
        "{}",
        c.install_report
    );
}

fn audited(id: &str) -> bool {
    fs::read_to_string(audit_log())
        .unwrap_or_default()
        .contains(&format!("\"id\":\"{id}\""))
}

/// Runs pod `name` with `handler` (host network or not) and annotations, and hands it to
/// `check`; the pod is removed when `check` returns.
fn with_pod(
    name: &str,
    handler: &str,
    host_net: bool,
    ann: &[(&str, &str)],
    check: impl FnOnce(&Pod),
) {
    let cri = Cri::connect(&Containerd::get().sock);
    let logs = pod_logs(name);
    let pod = cri
        .run_pod(name, handler, host_net, ann, &logs)
        .unwrap_or_else(|e| panic!("RunPodSandbox {name}: {}", e.message()));
    check(&pod);
}

/// A pod's sandbox joins its CNI network namespace by path and its containers join the
/// sandbox's: Rampart must tell these from the host's (it compares inodes with /proc/1/ns,
/// or its own namespaces where /proc/1 cannot be read, as on this machine).
#[test]
fn cri_pod_with_its_own_network_namespace_needs_no_waiver() {
    if !ready() {
        return;
    }
    with_pod("netns-check", "rampart", false, &[], |pod| {
        assert_restricted_joined_netns(&proc_status(pod.sandbox_pid()));
    });
}

#[test]
fn cri_pod_with_rampart_handler_has_a_hardened_sandbox_and_containers() {
    if !ready() {
        return;
    }
    assert_eq!(
        Cri::connect(&Containerd::get().sock).version().runtime_name,
        "containerd"
    );
    with_pod("restricted", "rampart", false, &[], |pod| {
        assert_restricted_joined_netns(&proc_status(pod.sandbox_pid()));
        assert!(audited(&pod.id), "the sandbox's create is in the audit log");
        let (code, inside) = pod.run_container("probe", &["sh", "-c", PROBE_AND_WRITE], &[]);
        assert_eq!(code, 0, "{inside}");
        assert_restricted_joined_netns(&inside);
        assert!(inside.contains("rootfs=readonly"), "{inside}");
    });
}

#[test]
fn cri_pod_with_rampart_baseline_handler_uses_the_baseline_profile() {
    if !ready() {
        return;
    }
    with_pod("baseline", "rampart-baseline", false, &[], |pod| {
        let (code, inside) = pod.run_container("probe", &["/bin/probe", "status"], &[]);
        assert_eq!(code, 0, "{inside}");
        assert_baseline(&inside);
    });
}

#[test]
fn cri_profile_annotation_selects_the_profile_per_pod() {
    if !ready() {
        return;
    }
    let ann = [("rampart.dev/profile", "baseline")];
    with_pod("annotated", "rampart", false, &ann, |pod| {
        let (code, inside) = pod.run_container("probe", &["/bin/probe", "status"], &[]);
        assert_eq!(code, 0, "{inside}");
        assert_baseline(&inside);
    });
}

/// The first line of a uid_map: (inside, host, count).
fn first_map(map: &str) -> Vec<u64> {
    map.split_whitespace()
        .take(3)
        .filter_map(|f| f.parse().ok())
        .collect()
}

fn in_pool(map: &str) -> bool {
    matches!(first_map(map).as_slice(), [0, host, 65536] if *host >= 0x7000_0000)
}

/// What an app container of an isolated pod reports from inside (and again through exec).
const POD_PROBE: &str = "cat /proc/self/uid_map; for n in net ipc uts user; do echo $n=$(readlink /proc/self/ns/$n); done; \
     ip -o -4 addr show; echo hostname=$(hostname); \
     echo x > /tmp/f && echo tmp=writable; cat /etc/resolv.conf /etc/hosts >/dev/null && echo files=readable";

/// A pod under `isolated` (chosen by an allow-listed annotation), through containerd's CRI
/// socket, with no fix_traversal (containerd's 0700 directories are reached through staged
/// clones): the sandbox runs with root mapped to the pool, and so do its app containers,
/// which join the sandbox's user, ipc and uts namespaces while Rampart enters the pod's
/// network namespace (CNI's, owned by the host's user namespace) for runc, at create and at
/// exec. Checked from inside: uid_map shows the pool, the pod's interface and IP are there,
/// the namespaces are the sandbox's, and an exec lands in the same network namespace; a
/// volume at a mount point the image lacks is writable; nothing stays staged after.
#[test]
fn cri_pod_under_isolated_maps_the_sandbox_and_its_app_containers() {
    if !ready() {
        return;
    }
    let ann = [("rampart.dev/profile", "isolated-e2e")];
    with_pod("isolated", "rampart", false, &ann, |pod| {
        let sb = pod.sandbox_pid();
        let map = fs::read_to_string(format!("/proc/{sb}/uid_map")).unwrap();
        assert!(
            in_pool(&map),
            "the sandbox's root is not mapped to the isolated pool: {map}"
        );
        let ns = |n: &str| {
            fs::read_link(format!("/proc/{sb}/ns/{n}"))
                .unwrap()
                .display()
                .to_string()
        };
        let host_net = fs::read_link("/proc/self/ns/net").unwrap();
        assert_ne!(ns("net"), host_net.display().to_string());
        let ip = pod.ip();
        assert!(
            ip.starts_with("192.0.2."),
            "the pod has a CNI address: {ip:?}"
        );
        let check = |inside: &str, how: &str| {
            assert!(
                in_pool(inside.lines().next().unwrap_or_default()),
                "{how}: root is not the pool's\n{inside}"
            );
            for n in ["net", "ipc", "uts", "user"] {
                assert!(
                    inside.contains(&format!("{n}={}", ns(n))),
                    "{how}: not in the sandbox's {n} namespace ({})\n{inside}",
                    ns(n)
                );
            }
            assert!(
                inside.contains(&format!("inet {ip}/")),
                "{how}: the pod's address {ip} is not visible\n{inside}"
            );
            for part in ["hostname=isolated", "tmp=writable", "files=readable"] {
                assert!(inside.contains(part), "{how}: {part}\n{inside}");
            }
        };
        let (code, inside) = pod.run_container("probe", &["sh", "-c", POD_PROBE], &[]);
        assert_eq!(code, 0, "{inside}");
        check(&inside, "app container");
        // kubectl exec: runc exec enters only the namespaces in the container's config.
        let id = pod
            .try_start_container("sleeper", &["sleep", "1000"], &[])
            .unwrap();
        let (code, out, err) = pod.exec_sync(&id, &["sh", "-c", POD_PROBE]);
        assert_eq!(code, 0, "{out}{err}");
        check(&out, "exec");
        // A volume (a host directory open to all, as the kubelet makes an emptyDir) at a
        // mount point the image lacks: Rampart creates it in the staged rootfs.
        let vol = pod_logs("isolated-volume");
        fs::create_dir_all(&vol).unwrap();
        fs::set_permissions(&vol, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let id = pod
            .start_with_mounts(
                "volume",
                &[
                    "sh",
                    "-c",
                    "echo x > /scratch/f && echo volume=writable; sleep 1000",
                ],
                &[],
                &[(&vol, "/scratch")],
            )
            .unwrap();
        let (code, out, err) = pod.exec_sync(&id, &["cat", "/scratch/f"]);
        assert_eq!((code, out.as_str()), (0, "x\n"), "{err}");
        let audit = fs::read_to_string(audit_log()).unwrap();
        assert!(
            audit.contains(&format!(
                "\"/linux/namespaces/network\":[\"/proc/{sb}/ns/net\",null]"
            )),
            "the entered network namespace is in the audit log"
        );
    });
    // Pod gone: nothing staged stays mounted in containerd's mount namespace.
    let pid = fs::read_to_string(Containerd::get().dir.join("containerd.pid")).unwrap();
    let left = staged_mounts(&pid);
    assert!(left.is_empty(), "staged mounts left behind: {left:?}");
}

const HOSTNET_PROBE: &str = "echo netns=$(readlink /proc/self/ns/net); /bin/probe status";

/// A host-network pod (CRI leaves the network and UTS namespaces out of the sandbox's
/// spec; its containers join the sandbox's by path) with the given handler and annotations.
fn host_network_pod(name: &str, handler: &str, ann: &[(&str, &str)]) {
    with_pod(name, handler, true, ann, |pod| {
        assert_restricted_joined_netns(&proc_status(pod.sandbox_pid()));
        let (code, inside) = pod.run_container("probe", &["sh", "-c", HOSTNET_PROBE], &[]);
        assert_eq!(code, 0, "{inside}");
        assert_restricted_joined_netns(&inside);
        let host_ns = fs::read_link("/proc/self/ns/net").unwrap();
        assert!(
            inside.contains(&format!("netns={}", host_ns.display())),
            "the container shares the host's network namespace ({})\n{inside}",
            host_ns.display()
        );
    });
}

#[test]
fn cri_host_network_pod_is_refused_by_restricted() {
    if !ready() {
        return;
    }
    let cri = Cri::connect(&Containerd::get().sock);
    let logs = pod_logs("hostnet-refused");
    let err = match cri.run_pod("hostnet-refused", "rampart", true, &[], &logs) {
        Ok(_) => panic!("a host-network pod started under restricted"),
        Err(e) => e,
    };
    let msg = err.message();
    assert!(
        msg.contains("OCI runtime create failed: rampart: refused by profile restricted; to run it, drop --network host (Kubernetes: hostNetwork); drop --uts host (Kubernetes: hostNetwork).\n[host-network] host network namespace: ")
            && msg.contains("\nAdmin: waive = [\"host-network\", \"host-uts\"] under [policy] in a profile"),
        "{msg}"
    );
}

#[test]
fn cri_host_network_pod_works_with_a_profile_that_waives_it() {
    if !ready() {
        return;
    }
    host_network_pod("hostnet-profile", "rampart-hostnet", &[]);
}

#[test]
fn cri_host_network_pod_works_with_an_allow_listed_waiver_annotation() {
    if !ready() {
        return;
    }
    host_network_pod(
        "hostnet-annotation",
        "rampart",
        &[("rampart.dev/waive", "host-network,host-uts")],
    );
}

#[test]
fn cri_refused_pod_shows_ramparts_own_message() {
    if !ready() {
        return;
    }
    let cri = Cri::connect(&Containerd::get().sock);
    let logs = pod_logs("refused");
    let err = match cri.run_pod("refused", "rampart-broken", false, &[], &logs) {
        Ok(_) => panic!("a pod with handler rampart-broken started"),
        Err(e) => e,
    };
    // What `kubectl describe pod` shows in the FailedCreatePodSandBox event, after the
    // kubelet's own "Failed to create pod sandbox: rpc error: code = Unknown desc = ".
    assert_eq!(
        err.message(),
        format!(
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: {}: unknown",
            broken_profile_message()
        )
    );
}

// ------------------------------------------------------------------------------ podman

/// `--runtime-flag` value pointing Rampart under podman at the test config.
fn podman_config_flag() -> String {
    format!(
        "rampart-config={}",
        common::engines::rampart_config().display()
    )
}

#[test]
fn podman_runtime_rampart_is_hardened() {
    if !ready() {
        return;
    }
    let p = Podman::get();
    let cfg = podman_config_flag();
    let inside = ok(&p.run(&[
        "--runtime",
        "rampart",
        "--runtime-flag",
        &cfg,
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        PROBE_AND_WRITE,
    ]));
    assert_restricted(&inside);
    assert!(inside.contains("rootfs=readonly"), "{inside}");
    let plain = ok(&p.run(&[
        "--runtime",
        "runc",
        "run",
        "--rm",
        "--network",
        "none",
        // podman's default rlimits exceed this host's hard limits, which root cannot raise
        // here (no CAP_SYS_RESOURCE); Rampart clamps them, plain runc needs them lowered.
        "--ulimit",
        "nofile=1024:4096",
        "--ulimit",
        "nproc=4096:4096",
        IMAGE,
        "/bin/probe",
        "status",
    ]));
    assert_ne!(
        status_field(&plain, "CapBnd").as_deref(),
        Some(NO_CAPS),
        "{plain}"
    );
    assert_eq!(
        status_field(&plain, "NoNewPrivs").as_deref(),
        Some("0"),
        "{plain}"
    );
}

/// podman with `--runtime rampart --runtime-flag rampart-profile=isolated-e2e` and a
/// network namespace pinned on the host (`--network ns:PATH`): root is the pool's, /tmp and a
/// named volume are writable, podman's resolv.conf and hosts readable, all seen through
/// `podman exec`, which lands in the container's network namespace; rm leaves nothing staged.
#[test]
fn podman_under_isolated_maps_root_and_leaves_no_mount() {
    if !ready() {
        return;
    }
    let p = Podman::get();
    let cfg = podman_config_flag();
    let vol = format!("isolated-vol-{}", std::process::id());
    ok(&p.run(&["volume", "create", &vol]));
    let name = format!("isolated-{}", std::process::id());
    let run = |args: &[&str]| {
        let mut all = vec![
            "--runtime",
            "rampart",
            "--runtime-flag",
            &cfg,
            "--runtime-flag",
            "rampart-profile=isolated-e2e",
        ];
        all.extend(args);
        p.run(&all)
    };
    let volume = format!("{vol}:/data");
    // A network namespace pinned on the host (as podman's own networks pin theirs, without
    // touching the host's bridges): the host's user namespace owns it.
    let netns = format!("rampart-e2e-podman-{}", std::process::id());
    let ip = |args: &[&str]| {
        let st = Command::new("ip").args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    ip(&["netns", "add", &netns]);
    ip(&["-n", &netns, "addr", "add", "192.0.2.78/32", "dev", "lo"]);
    ip(&["-n", &netns, "link", "set", "lo", "up"]);
    let network = format!("--network=ns:/run/netns/{netns}");
    ok(&run(&[
        "run", "-d", "--name", &name, &network, "-v", &volume, IMAGE, "sleep", "1000",
    ]));
    // podman exec: runc exec would stay in the caller's network namespace without Rampart.
    let script = format!("{ISOLATED_PROBE}; ip -o -4 addr show");
    let inside = ok(&run(&["exec", &name, "sh", "-c", &script]));
    assert_isolated(&inside);
    assert!(inside.contains("inet 192.0.2.78/32"), "{inside}");
    ok(&run(&["rm", "-f", "-t", "0", &name]));
    ip(&["netns", "del", &netns]);
    ok(&p.run(&["volume", "rm", &vol]));
    assert_eq!(staged_mounts("self"), Vec::<String>::new());
}

/// podman copies an image's annotations into the spec: an image author's
/// `rampart.dev/profile=baseline` must not choose the profile, even though the config
/// allow-lists that annotation (for engines that never copy image data). The image is built
/// with the annotation; the container still runs under restricted, and the audit record
/// says why the annotation was ignored.
#[test]
fn podman_image_annotations_never_choose_the_profile() {
    if !ready() {
        return;
    }
    let p = Podman::get();
    let dir =
        common::engines::engines_dir().join(format!("podman-annotated-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Containerfile"), format!("FROM {IMAGE}\n")).unwrap();
    let tag = format!("localhost/rampart-annotated-{}", std::process::id());
    ok(&p.run(&[
        "build",
        "--annotation",
        "rampart.dev/profile=baseline",
        "-t",
        &tag,
        dir.to_str().unwrap(),
    ]));
    let cfg = podman_config_flag();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--runtime",
            "rampart",
            "--runtime-flag",
            &cfg,
            "run",
            "--rm",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--network", "none", &tag, "/bin/probe", "status"]);
        ok(&p.run(&args))
    };
    let ignored = || {
        fs::read_to_string(common::engines::audit_log())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("rampart.dev/profile ignored") && l.contains("conmon"))
            .count()
    };
    let before = ignored();
    // From the image, and from the API caller's own --annotation: neither chooses.
    assert_restricted(&run(&[]));
    assert_restricted(&run(&["--annotation", "rampart.dev/profile=baseline"]));
    let _ = p.run(&["rmi", "-f", &tag]);
    let _ = fs::remove_dir_all(&dir);
    // Both records name the annotation: podman did copy the image's into the spec.
    assert_eq!(
        ignored(),
        before + 2,
        "the audit records say why the annotation was ignored"
    );
}

#[test]
fn podman_refused_container_shows_ramparts_own_message_on_stderr() {
    if !ready() {
        return;
    }
    let p = Podman::get();
    let cfg = podman_config_flag();
    let out = p.run(&[
        "--runtime",
        "rampart",
        "--runtime-flag",
        &cfg,
        "--runtime-flag",
        "rampart-profile=broken",
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(126), "{}", describe(&out));
    // podman puts the runtime's name before what the runtime wrote on stderr; Rampart,
    // started by conmon, leaves out its own so the name appears once.
    assert_eq!(
        stderr(&out).trim_end().lines().last().unwrap_or_default(),
        format!("Error: OCI runtime error: {}", broken_profile_message())
    );
}

// ------------------------------------------------------------ install / uninstall (CLI)

fn temp_dir(name: &str) -> PathBuf {
    let d = engines_dir()
        .join("cli")
        .join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn backups(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bak"))
        .count()
}

#[test]
fn install_and_uninstall_docker_round_trip_on_temp_files() {
    let d = temp_dir("docker-round-trip");
    let json = d.join("daemon.json");
    let original = "{\n  \"log-level\": \"warn\",\n  \"runtimes\": {\n    \"custom\": {\n      \"path\": \"/opt/custom\"\n    }\n  }\n}\n";
    fs::write(&json, original).unwrap();
    let (j, pid, bin) = (
        json.to_string_lossy().into_owned(),
        d.join("none.pid").to_string_lossy().into_owned(),
        d.join("bin").to_string_lossy().into_owned(),
    );
    let flags = ["--daemon-json", &j, "--pid-file", &pid, "--bin-dir", &bin];
    let report = rampart(&[&["install", "docker", "--default-runtime"][..], &flags].concat());
    assert!(
        report.contains("added runtime rampart-baseline"),
        "{report}"
    );
    assert!(report.contains("dockerd is not running"), "{report}");
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["log-level"], "warn");
    assert_eq!(v["default-runtime"], "rampart");
    assert_eq!(v["runtimes"]["custom"]["path"], "/opt/custom");
    assert_eq!(
        v["runtimes"]["rampart-baseline"]["runtimeArgs"],
        serde_json::json!(["--rampart-profile", "baseline"])
    );
    assert_eq!(
        fs::read_link(d.join("bin/rampart-baseline")).unwrap(),
        fs::canonicalize(rampart_path()).unwrap()
    );
    assert_eq!(backups(&d), 1);

    let report = rampart(&[&["uninstall", "docker", "--remove-links"][..], &flags].concat());
    assert!(
        report.contains("default-runtime: rampart -> runc"),
        "{report}"
    );
    assert!(report.contains("removed link"), "{report}");
    let back: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let mut expected: serde_json::Value = serde_json::from_str(original).unwrap();
    expected["default-runtime"] = "runc".into();
    assert_eq!(back, expected);
    assert!(!d.join("bin/rampart-baseline").exists());
    assert_eq!(backups(&d), 2);
}

#[test]
fn install_and_uninstall_containerd_round_trip_keeps_the_admins_text() {
    let d = temp_dir("containerd-round-trip");
    let cfg = d.join("config.toml");
    let original = "# my containerd\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n    SystemdCgroup = true  # systemd host\n";
    fs::write(&cfg, original).unwrap();
    let (c, bin) = (
        cfg.to_string_lossy().into_owned(),
        d.join("bin").to_string_lossy().into_owned(),
    );
    let printed = rampart(&[
        "install",
        "containerd",
        "--print",
        "--config",
        &c,
        "--bin-dir",
        &bin,
    ]);
    assert_eq!(
        fs::read_to_string(&cfg).unwrap(),
        original,
        "--print changes nothing"
    );
    assert!(printed.contains("BinaryName = "), "{printed}");
    let report = rampart(&["install", "containerd", "--config", &c, "--bin-dir", &bin]);
    assert!(
        report.contains("SystemdCgroup = true, as in the runc runtime"),
        "{report}"
    );
    let installed = fs::read_to_string(&cfg).unwrap();
    assert!(installed.starts_with(original), "{installed}");
    assert!(
        installed.contains("SystemdCgroup = true\n# END rampart"),
        "{installed}"
    );
    rampart(&["uninstall", "containerd", "--config", &c, "--bin-dir", &bin]);
    assert_eq!(fs::read_to_string(&cfg).unwrap(), original);
}

#[test]
fn install_refuses_broken_or_hand_edited_files_and_changes_nothing() {
    let d = temp_dir("refusals");
    let bin = d.join("bin").to_string_lossy().into_owned();
    let cases: [(&str, &str, &[&str], String); 3] = [
        (
            "daemon.json",
            "{\"runtimes\": {\"runc2\": {\"path\": \"/x\"},}}\n",
            &["install", "docker", "--pid-file", "/nonexistent/docker.pid", "--daemon-json"],
            "rampart: cannot install Rampart in {PATH}: nothing was changed; fix the file by hand first: it is not valid JSON: trailing comma at line 1 column 39".into(),
        ),
        (
            "hand.json",
            "{\"runtimes\": {\"rampart\": {\"path\": \"/opt/other-runtime\"}}}\n",
            &["install", "docker", "--pid-file", "/nonexistent/docker.pid", "--daemon-json"],
            format!(
                "rampart: cannot install Rampart in {{PATH}}: nothing was changed: it already has a runtime \"rampart\" that differs from what Rampart would write (it has {{\"path\":\"/opt/other-runtime\"}}, Rampart would write {{\"path\":\"{}\",\"runtimeArgs\":[\"--rampart-profile\",\"restricted\"]}}); it was edited by hand or installed with other options. Remove it, or rerun with --force to replace it",
                fs::canonicalize(rampart_path()).unwrap().display()
            ),
        ),
        (
            "config.toml",
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd\n",
            &["install", "containerd", "--config"],
            "rampart: cannot install Rampart in {PATH}: nothing was changed: it is not valid TOML".into(),
        ),
    ];
    for (file, text, args, message) in cases {
        let path = d.join(file);
        fs::write(&path, text).unwrap();
        let p = path.to_string_lossy().into_owned();
        let out = Command::new(rampart_path())
            .args(args)
            .arg(&p)
            .args(["--bin-dir", &bin])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let err = stderr(&out);
        let expected = message.replace("{PATH}", &p);
        assert!(
            err.starts_with(&expected),
            "{file}:\n{err}\nexpected:\n{expected}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "{file} unchanged");
        assert!(!d.join("bin").exists(), "no links made");
    }
    assert_eq!(backups(&d), 0);
}
