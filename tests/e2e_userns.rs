//! User namespaces (profile `isolated`) and AppArmor, end to end. Real containers through
//! Rampart and real runc 1.1 (tests/common harness), Docker's shapes checked from inside;
//! each of runc 1.1's user-namespace breakages (see README) is shown failing under plain runc
//! with a hand-added mapping, then handled by Rampart. Docker itself through the private
//! dockerd of tests/common/engines.rs. State (id allocations, profiles) lives under
//! target/e2e/userns.
mod common;

use common::{
    Bundle, Runtime, describe, docker_like_spec, expect_success, rampart_path, rootfs,
    run_container, runc_path, status_field,
};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// First host id of the built-in isolated pool.
const POOL: u64 = 0x7000_0000;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e/userns")
}

/// Per-run state (this process only: tests of other runs never share allocations).
fn run_dir() -> PathBuf {
    dir().join(format!("run-{}", std::process::id()))
}

/// Config file and admin profiles for these tests, written once.
fn config() -> PathBuf {
    static CFG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CFG.get_or_init(|| {
        // Earlier runs' state (allocations, audit log) is kept for inspection until the next run.
        for e in fs::read_dir(dir()).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("run-") && e.path() != run_dir() {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let d = run_dir();
        let profiles = d.join("profiles");
        fs::create_dir_all(&profiles).unwrap();
        let idmap = d.join("idmap");
        let write = |name: &str, text: String| fs::write(profiles.join(name), text).unwrap();
        write(
            "iso.toml",
            format!("extends = \"isolated\"\n[userns]\nstate_dir = {idmap:?}\n"),
        );
        // One block only, far from iso's blocks, with its own allocation file.
        write(
            "iso-one.toml",
            format!(
                "extends = \"iso\"\n[userns]\nhost_first = {}\nhost_count = 65536\nstate_dir = {:?}\n",
                POOL + 1000 * 65536,
                d.join("idmap-one")
            ),
        );
        write(
            "iso-fix.toml",
            "extends = \"iso\"\n[userns]\nfix_traversal = true\n".into(),
        );
        write(
            "iso-skip.toml",
            "extends = \"iso\"\n[userns]\non_unsupported = \"skip\"\n[policy]\nwaive = [\"host-pid\"]\n".into(),
        );
        write(
            "iso-hostnet.toml",
            "extends = \"iso\"\n[policy]\nwaive = [\"host-network\"]\n".into(),
        );
        write(
            "aa-refuse.toml",
            "extends = \"restricted\"\n[lsm]\napparmor_missing = \"refuse\"\n".into(),
        );
        let cfg = d.join("rampart.toml");
        let text = format!(
            "runtime = {:?}\naudit_log = {:?}\nprofiles_dir = {profiles:?}\n",
            runc_path(),
            d.join("audit.log")
        );
        fs::write(&cfg, text).unwrap();
        cfg
    })
    .clone()
}

fn rampart(profile: &str) -> Runtime {
    Runtime::Rampart {
        args: vec![
            format!("--rampart-config={}", config().display()),
            "--rampart-profile".into(),
            profile.into(),
        ],
    }
}

fn sh_spec(script: &str) -> Value {
    docker_like_spec(&rootfs(), &["sh", "-c", script])
}

/// The spec with a user namespace added by hand, as an admin would try with plain runc.
fn with_userns(mut spec: Value) -> Value {
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    for k in ["uidMappings", "gidMappings"] {
        spec["linux"][k] =
            json!([{"containerID": 0, "hostID": POOL + 2000 * 65536, "size": 65536}]);
    }
    spec
}

fn run(runtime: Runtime, spec: &Value) -> (Output, Bundle) {
    let b = Bundle::new(spec);
    (run_container(runtime, &b), b)
}

fn ok(runtime: Runtime, spec: &Value) -> String {
    expect_success(&run(runtime, spec).0)
}

/// stderr of a run that must have failed, with its --log file.
fn failed(runtime: Runtime, spec: &Value) -> String {
    let (out, b) = run(runtime, spec);
    assert!(
        !out.status.success(),
        "should have failed\n{}",
        describe(&out)
    );
    format!("{}\n{}", String::from_utf8_lossy(&out.stderr), b.log())
}

/// `0 HOSTID SIZE` of the first line of a uid_map/gid_map dump.
fn map_line(text: &str) -> (u64, u64, u64) {
    let f: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (f[0], f[1], f[2])
}

fn audit_for(id: &str) -> Value {
    let log = fs::read_to_string(run_dir().join("audit.log")).unwrap();
    log.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no audit record for {id}"))
}

#[test]
fn isolated_root_is_an_unprivileged_host_id_and_programs_still_run() {
    if !common::require_root_tools() {
        return;
    }
    let script = "cat /proc/self/uid_map; cat /proc/self/gid_map; ls -ln /etc/passwd; \
        cat /proc/sys/net/ipv4/ping_group_range; ls / >/dev/null && ps >/dev/null && date >/dev/null \
        && echo hi >/tmp/f && grep -c root /etc/passwd && echo programs=ok; /bin/probe status";
    let inside = ok(rampart("iso"), &sh_spec(script));
    let lines: Vec<&str> = inside.lines().collect();
    let (c, host, size) = map_line(lines[0]);
    assert!(c == 0 && size == 65536 && host >= POOL, "{inside}");
    assert_eq!(map_line(lines[1]).1, host, "gids like uids");
    assert!(
        lines[2].contains(" 65534 ") && lines[2].contains(" 65534 "),
        "image files are nobody's: {inside}"
    );
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["0", "65535"],
        "{inside}"
    );
    assert!(inside.contains("programs=ok"), "{inside}");
    for (k, v) in [
        ("CapBnd", "0000000000000000"),
        ("NoNewPrivs", "1"),
        ("Seccomp", "2"),
    ] {
        assert_eq!(
            status_field(&inside, k).as_deref(),
            Some(v),
            "{k}\n{inside}"
        );
    }
    let plain = ok(Runtime::PlainRunc, &sh_spec("cat /proc/self/uid_map"));
    assert_eq!(map_line(&plain), (0, 0, 4294967295));
}

#[test]
fn root_in_the_container_cannot_write_host_owned_files() {
    if !common::require_root_tools() {
        return;
    }
    let script = "echo x >> /root/file && echo file=written || echo file=denied; \
        touch /root/new && echo dir=written || echo dir=denied";
    let attempt = |runtime: Runtime, tag: &str| {
        let host = run_dir().join(format!("owned-{tag}"));
        fs::create_dir_all(&host).unwrap();
        fs::set_permissions(&host, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(host.join("file"), "host\n").unwrap();
        let mut spec = sh_spec(script);
        spec["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/root", "type": "bind", "source": host, "options": ["rbind", "rw"]}),
        );
        (
            ok(runtime, &spec),
            fs::read_to_string(host.join("file")).unwrap(),
        )
    };
    // Without a mapping, root (even with no capabilities) owns host root's files.
    let (out, file) = attempt(rampart("restricted"), "restricted");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["file=written", "dir=written"]
    );
    assert_eq!(file, "host\nx\n");
    let (out, file) = attempt(rampart("iso"), "iso");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["file=denied", "dir=denied"],
        "{out}"
    );
    assert_eq!(file, "host\n");
}

#[test]
fn ping_group_range_is_cut_to_the_mapped_gids() {
    if !common::require_root_tools() {
        return;
    }
    let spec = sh_spec("cat /proc/sys/net/ipv4/ping_group_range");
    assert_eq!(
        spec["linux"]["sysctl"]["net.ipv4.ping_group_range"],
        "0 2147483647"
    );
    let err = failed(Runtime::PlainRunc, &with_userns(spec.clone()));
    assert!(err.contains("ping_group_range: invalid argument"), "{err}");
    let (out, b) = run(rampart("iso"), &spec);
    assert_eq!(
        expect_success(&out).split_whitespace().collect::<Vec<_>>(),
        ["0", "65535"]
    );
    let changes = audit_for(&b.id)["changes"].clone();
    assert!(
        rampart::audit::expand(&changes)
            .iter()
            .any(|c| c.1 == "/linux/sysctl/net.ipv4.ping_group_range"
                && c.2 == "0 2147483647"
                && c.3 == "0 65535"),
        "{changes}"
    );
}

/// Docker's `--network host`: the network namespace joined by path (here the host's own).
fn host_network(mut spec: Value) -> Value {
    for n in spec["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!("/proc/self/ns/net");
        }
    }
    spec["linux"].as_object_mut().unwrap().remove("sysctl"); // Docker sets none there
    spec
}

#[test]
fn sysfs_is_a_read_only_bind_when_the_network_namespace_is_joined() {
    if !common::require_root_tools() {
        return;
    }
    let script = "grep ' /sys ' /proc/self/mounts | head -1; ls /sys/class/net | grep -c . ; \
        touch /sys/x 2>/dev/null && echo sys=writable || echo sys=readonly; cat /proc/self/uid_map";
    let spec = host_network(sh_spec(script));
    let err = failed(Runtime::PlainRunc, &with_userns(spec.clone()));
    assert!(
        err.contains("error mounting \\\"sysfs\\\"") || err.contains("mounting \"sysfs\""),
        "{err}"
    );
    // Restricted refuses the host's network namespace; this profile waives that rule.
    let out = ok(rampart("iso-hostnet"), &spec);
    let l: Vec<&str> = out.lines().collect();
    assert!(
        l[0].starts_with("sysfs /sys sysfs ro,"),
        "the host's /sys, read-only: {out}"
    );
    assert!(
        l[1].parse::<u32>().unwrap() >= 1,
        "host interfaces visible: {out}"
    );
    assert_eq!(l[2], "sys=readonly");
    assert!(map_line(l[3]).1 >= POOL, "{out}");
}

/// runc's state root for containers these tests start in the background.
fn state_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e/state")
}

/// Plain runc on [`state_root`].
fn runc_in_state(args: &[&str]) -> Output {
    Command::new(runc_path())
        .arg("--root")
        .arg(state_root())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Rampart under `profile` on [`state_root`].
fn rampart_in_state(profile: &str, args: &[&str]) -> Command {
    let mut c = Command::new(rampart_path());
    if let Runtime::Rampart { args } = rampart(profile) {
        c.args(args);
    }
    c.arg("--root").arg(state_root()).args(args);
    c.stdin(Stdio::null());
    c
}

/// `rampart create` of `b` under `profile` (its stdio not ours to wait on).
fn create_in_state(profile: &str, b: &Bundle) {
    let st = rampart_in_state(
        profile,
        &["create", "--bundle", b.dir.to_str().unwrap(), &b.id],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .unwrap();
    assert!(st.success(), "{}", b.log());
}

/// `--network container:A` and `--ipc container:A` with A under isolated: B joins A's user
/// namespace too (it owns what B joins), so both run with A's mapping. A namespace owned by
/// another user namespace than A's (here: the host's uts) is still refused.
#[test]
fn another_containers_namespaces_are_joined_with_its_user_namespace() {
    if !common::require_root_tools() {
        return;
    }
    // Container A (isolated) sleeps; B joins its network namespace, then its ipc namespace.
    let a = Bundle::new(&sh_spec("sleep 20"));
    create_in_state("iso", &a);
    let runc = runc_in_state;
    let st: Value = serde_json::from_slice(&runc(&["state", &a.id]).stdout).unwrap();
    let pid = st["pid"].as_u64().unwrap();
    let join = |kind: &str, proc: &str, script: &str| {
        let mut spec = sh_spec(script);
        for n in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == kind {
                n["path"] = json!(format!("/proc/{pid}/ns/{proc}"));
            }
        }
        spec["linux"].as_object_mut().unwrap().remove("sysctl");
        spec
    };
    let a_map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    let a_user = fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    let script =
        "cat /proc/self/uid_map; readlink /proc/self/ns/user; grep ' /sys ' /proc/self/mounts";
    let net = join("network", "net", script);
    let out = ok(rampart("iso-hostnet"), &net);
    assert_eq!(map_line(&out), map_line(&a_map), "{out}");
    assert!(out.contains(&a_user.display().to_string()), "{out}");
    assert!(out.contains(" /sys sysfs ro,"), "{out}");
    let out = ok(rampart("iso"), &join("ipc", "ipc", script));
    assert_eq!(map_line(&out), map_line(&a_map), "{out}");
    assert!(out.contains(&a_user.display().to_string()), "{out}");
    // The host's uts namespace belongs to the host's user namespace, not A's.
    let mut uts = join("ipc", "ipc", "true");
    for n in uts["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "uts" {
            n["path"] = json!("/proc/self/ns/uts");
        }
    }
    let err = failed(rampart("iso"), &uts);
    assert!(err.contains("joins the uts namespace"), "{err}");
    assert!(
        err.contains("on_unsupported = \\\"skip\\\"") || err.contains("on_unsupported = \"skip\""),
        "{err}"
    );
    rampart_in_state("iso", &["delete", "--force", &a.id])
        .output()
        .unwrap();
}

/// A network namespace pinned on the host as CNI pins a pod's (`ip netns add`), with
/// 192.0.2.77 on its loopback; removed on drop.
struct PinnedNetns(String);

impl PinnedNetns {
    fn new() -> PinnedNetns {
        let name = format!("rampart-e2e-{}", std::process::id());
        let ip = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "addr", "add", "192.0.2.77/32", "dev", "lo"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        PinnedNetns(name)
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for PinnedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A CRI pod's shape under runc: the sandbox A joins a network namespace pinned on the host
/// (CNI's, owned by the host's user namespace) and gets a user namespace of its own; an app
/// container B joins A's ipc, uts and network namespaces. runc 1.1 joins the user namespace
/// first and then may not enter the network namespace (shown with plain runc); Rampart
/// enters it itself before exec'ing runc, and again for `runc exec` (plain runc exec lands
/// in the caller's network namespace). Checked from inside: B's root is A's pool ids, B's
/// namespaces are A's, the pod's address is visible. Attacks: the same join with the host's network namespace, or with a
/// network namespace planted at a path the namespace-path rule does not accept, is refused.
#[test]
fn a_pods_host_owned_network_namespace_is_entered_by_rampart_at_create_and_exec() {
    if !common::require_root_tools() {
        return;
    }
    let netns = PinnedNetns::new();
    let start = |b: &Bundle| {
        create_in_state("iso", b);
        assert!(runc_in_state(&["start", &b.id]).status.success());
    };
    let rampart_cmd = |args: &[&str]| rampart_in_state("iso", args).output().unwrap();
    let runc = runc_in_state;
    let mut sandbox = sh_spec("sleep 60");
    for n in sandbox["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!(netns.path());
        }
    }
    sandbox["linux"].as_object_mut().unwrap().remove("sysctl");
    let a = Bundle::new(&sandbox);
    start(&a);
    let st: Value = serde_json::from_slice(&runc(&["state", &a.id]).stdout).unwrap();
    let pid = st["pid"].as_u64().unwrap();
    let ns = |n: &str| {
        fs::read_link(format!("/proc/{pid}/ns/{n}"))
            .unwrap()
            .display()
            .to_string()
    };
    let a_map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert!(map_line(&a_map).1 >= POOL, "{a_map}");
    let app = |net: &str, script: &str| {
        let mut spec = sh_spec(script);
        for n in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            match n["type"].as_str() {
                Some("ipc") => n["path"] = json!(format!("/proc/{pid}/ns/ipc")),
                Some("uts") => n["path"] = json!(format!("/proc/{pid}/ns/uts")),
                Some("network") => n["path"] = json!(net),
                _ => {}
            }
        }
        // Docker's defaults; net-sysctl-shared-netns refuses them in a joined namespace.
        spec["linux"].as_object_mut().unwrap().remove("sysctl");
        spec
    };
    let script = "cat /proc/self/uid_map; for n in user net ipc uts; do echo $n=$(readlink /proc/self/ns/$n); done; ip -o -4 addr show";
    let pod_net = format!("/proc/{pid}/ns/net");
    let b = app(&pod_net, script);

    // Plain runc, with A's user namespace added by hand as a pod's would be: no way in.
    let mut plain = b.clone();
    plain["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
    plain["linux"].as_object_mut().unwrap().remove("sysctl");
    let (_, host, size) = map_line(&a_map);
    for k in ["uidMappings", "gidMappings"] {
        plain["linux"][k] = json!([{"containerID": 0, "hostID": host, "size": size}]);
    }
    let err = failed(Runtime::PlainRunc, &plain);
    assert!(
        err.contains("failed to setns into net namespace: Operation not permitted"),
        "{err}"
    );

    let (out, bb) = run(rampart("iso"), &b);
    let out = expect_success(&out);
    assert_eq!(map_line(&out), map_line(&a_map), "{out}");
    for n in ["user", "net", "ipc", "uts"] {
        assert!(out.contains(&format!("{n}={}", ns(n))), "{n}: {out}");
    }
    assert!(out.contains("inet 192.0.2.77/32"), "{out}");
    let rec = audit_for(&bb.id);
    let userns = &rec["changes"]["userns"];
    assert_eq!(
        userns["/linux/namespaces/network"],
        json!([pod_net, null]),
        "{rec}"
    );

    // exec: into a long-running B, through Rampart and through plain runc.
    let c = Bundle::new(&app(&pod_net, "sleep 60"));
    start(&c);
    let net_of = |out: Output| {
        assert!(out.status.success(), "{}", describe(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let exec = ["exec", &c.id, "readlink", "/proc/self/ns/net"];
    assert_eq!(net_of(rampart_cmd(&exec)), ns("net"), "rampart exec");
    let host_net = fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(
        net_of(runc(&exec)),
        host_net.display().to_string(),
        "plain runc exec of such a container runs in the caller's network namespace"
    );

    // Attacks: the host's network namespace, and a pod's planted where no engine pins one.
    // (/proc/1 may be unreadable here: then no user namespace can own it all, refused too.)
    for net in ["/proc/1/ns/net", "/proc/self/ns/net"] {
        let err = failed(rampart("iso"), &app(net, "true"));
        assert!(
            err.contains("rampart: refused by profile iso"),
            "{net}: {err}"
        );
    }
    let err = failed(rampart("iso"), &app("/proc/self/ns/net", "true"));
    assert!(err.contains("[host-network]"), "{err}");
    let planted = run_dir().join("planted-ns");
    fs::write(&planted, "").unwrap();
    let st = Command::new("mount")
        .arg("--bind")
        .arg(netns.path())
        .arg(&planted)
        .status()
        .unwrap();
    assert!(st.success());
    let err = failed(rampart("iso"), &app(planted.to_str().unwrap(), "true"));
    let _ = Command::new("umount").arg(&planted).status();
    // (Refused by the userns step, which never enters a path the namespace-path rule rejects.)
    assert!(err.contains("rampart: refused by profile iso"), "{err}");
    // An explicit net.* sysctl cannot be set there: refused, not dropped.
    let mut sysctl = app(&pod_net, "true");
    sysctl["linux"]["sysctl"] = json!({"net.ipv4.ip_local_port_range": "1024 65000"});
    let err = failed(rampart("iso"), &sysctl);
    assert!(err.contains("net.ipv4.ip_local_port_range"), "{err}");

    rampart_in_state("iso", &["delete", "--force", &c.id])
        .output()
        .unwrap();
    rampart_in_state("iso", &["delete", "--force", &a.id])
        .output()
        .unwrap();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    for id in [&a.id, &c.id] {
        assert!(
            !mounts.contains(&format!("/run/rampart/stage/{id}.")),
            "{id}'s staging left mounted"
        );
    }
}

/// The engine's stdio pipes (host root's, 0600) are given to the container's root, as
/// containerd does for Docker's userns-remap: a program that reopens /dev/stderr (nginx's
/// error.log is a link to it) works under isolated; with a mapping added by hand plain runc
/// refuses it. A file as stdout is never given away (it stays root's).
#[test]
fn the_containers_own_stdio_pipes_can_be_reopened_by_its_root() {
    if !common::require_root_tools() {
        return;
    }
    // `create` (as engines call it; `runc run` in the foreground makes its own pipes and gives
    // them to the container's root): the container's stdio is what the caller passed.
    let created = |mut cmd: Command, b: &Bundle| -> String {
        let mut child = cmd
            .args(["create", "--bundle", b.dir.to_str().unwrap(), &b.id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let st = child.wait().unwrap();
        assert!(st.success(), "{}", b.log());
        assert!(runc_in_state(&["start", &b.id]).status.success());
        let mut text = String::new();
        use std::io::Read;
        out.read_to_string(&mut text).unwrap();
        err.read_to_string(&mut text).unwrap();
        // Through Rampart: its staging goes too.
        rampart_in_state("iso", &["delete", "--force", &b.id])
            .output()
            .unwrap();
        text
    };
    let script = "echo to-stderr > /dev/stderr && echo reopened";
    let mut plain = with_userns(sh_spec(script));
    plain["linux"].as_object_mut().unwrap().remove("sysctl");
    let mut runc = Command::new(runc_path());
    runc.arg("--root").arg(state_root()).stdin(Stdio::null());
    let text = created(runc, &Bundle::new(&plain));
    assert!(
        text.contains("Permission denied") && !text.contains("reopened"),
        "{text}"
    );
    let b = Bundle::new(&sh_spec(script));
    let text = created(rampart_in_state("iso", &[]), &b);
    assert!(text.contains("reopened"), "{text}");
    let rec = audit_for(&b.id);
    assert!(
        rec["changes"]["userns"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("host:stdio/")),
        "{rec}"
    );
    // stdout a root-owned file: left as it is.
    let file = run_dir().join("stdout-file");
    let b = Bundle::new(&sh_spec("echo x"));
    let st = rampart_in_state("iso", &["run", "--bundle", b.dir.to_str().unwrap(), &b.id])
        .stdout(fs::File::create(&file).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "{}", b.log());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&file).unwrap().uid(), 0);
    rampart_in_state("iso", &["delete", "--force", &b.id])
        .output()
        .unwrap();
}

/// A tmpfs mounted nosuid,nodev,noexec (as /dev/shm, /run and many data disks are), removed on drop.
struct LockedFs(PathBuf);

impl LockedFs {
    fn new() -> LockedFs {
        let p = run_dir().join("locked");
        fs::create_dir_all(&p).unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "nosuid,nodev,noexec,mode=755",
                "rampart-e2e",
            ])
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
        fs::create_dir_all(p.join("d")).unwrap();
        fs::write(p.join("d/f"), "data\n").unwrap();
        LockedFs(p)
    }
}

impl Drop for LockedFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn read_only_binds_keep_the_flags_the_kernel_locks() {
    if !common::require_root_tools() {
        return;
    }
    let locked = LockedFs::new();
    let mut spec = sh_spec("cat /root/f; grep ' /root ' /proc/self/mounts");
    spec["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/root", "type": "bind", "source": locked.0.join("d"), "options": ["rbind", "ro"]}),
    );
    let err = failed(Runtime::PlainRunc, &with_userns(spec.clone()));
    assert!(err.contains("operation not permitted"), "{err}");
    let out = ok(rampart("iso"), &spec);
    assert!(out.starts_with("data\n"), "{out}");
    let opts = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_string();
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|o| o == f), "{opts}");
    }
}

#[test]
fn untraversable_directories_are_staged_or_opened_when_the_profile_allows() {
    if !common::require_root_tools() {
        return;
    }
    // Docker's data directories are 0710: a rootfs below one.
    let locked = dir().join("data-0710"); // shared by runs: the copy is made once
    let copy = locked.join("rootfs");
    if !copy.exists() {
        fs::create_dir_all(&locked).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(&copy)
            .status()
            .unwrap();
        assert!(st.success());
    }
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o710)).unwrap();
    let mut spec = sh_spec("cat /proc/self/uid_map");
    spec["root"]["path"] = json!(copy);
    let err = failed(Runtime::PlainRunc, &with_userns(spec.clone()));
    assert!(err.contains("permission denied"), "{err}");
    // Without fix_traversal, Rampart stages a plain clone of the rootfs (not an engine's
    // layout: never id-mapped) where the container's root can reach it.
    let (out, b) = run(rampart("iso"), &spec);
    assert!(map_line(&expect_success(&out)).1 >= POOL);
    let rec = audit_for(&b.id);
    // The audit record keeps what changed (schema 2); the reason is explain's.
    assert!(
        rampart::audit::expand(&rec["changes"])
            .iter()
            .any(|(_, field, _, after, _)| field == "/root/path"
                && after
                    .as_str()
                    .is_some_and(|a| a.starts_with("/run/rampart/stage/"))),
        "{rec}"
    );
    // `runc run` removed the container itself (no delete passed through Rampart): the next
    // create or delete through Rampart collects the clone of an id runc no longer knows.
    let _ = Command::new(rampart_path())
        .arg(format!("--rampart-config={}", config().display()))
        .args(["--root", "/nonexistent-rampart-e2e", "delete", "nothing"])
        .output()
        .unwrap();
    assert!(
        !fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&format!("/run/rampart/stage/{}.", b.id)),
        "collected"
    );
    assert_eq!(
        fs::metadata(&locked).unwrap().permissions().mode() & 0o777,
        0o710,
        "untouched"
    );
    let (out, b) = run(rampart("iso-fix"), &spec);
    assert!(map_line(&expect_success(&out)).1 >= POOL);
    assert_eq!(
        fs::metadata(&locked).unwrap().permissions().mode() & 0o777,
        0o711
    );
    let rec = audit_for(&b.id);
    let field = format!("host:{}", locked.display());
    assert!(
        rampart::audit::expand(&rec["changes"])
            .iter()
            .any(|c| c.1 == field && c.2 == "0710" && c.3 == "0711"),
        "{rec}"
    );
}

#[test]
fn what_cannot_work_is_refused_with_the_opt_out_or_skipped_and_audited() {
    if !common::require_root_tools() {
        return;
    }
    // Docker's --pid host: no pid namespace of its own, so no /proc a user namespace can mount.
    let mut spec = sh_spec("cat /proc/self/uid_map");
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    let err = failed(rampart("iso"), &spec);
    assert!(
        err.contains("host's pid namespace") && err.contains("on_unsupported"),
        "{err}"
    );
    // A profile that says so runs it without a user namespace, and records that.
    let (out, b) = run(rampart("iso-skip"), &spec);
    assert_eq!(map_line(&expect_success(&out)), (0, 0, 4294967295));
    let rec = audit_for(&b.id);
    assert!(
        rec.to_string().contains("WITHOUT a user namespace"),
        "{rec}"
    );
    // A mount point the image does not have cannot be made by the mapped root.
    let mut spec = sh_spec("true");
    spec["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/newdir", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}),
    );
    let err = failed(rampart("iso"), &spec);
    assert!(
        err.contains("mount point /newdir does not exist in the image"),
        "{err}"
    );
}

/// `rampart ARGS` with stderr in a file: during `create` the container's init inherits
/// stdout and stderr, so pipes would stay open until it exits.
fn rampart_cmd(args: &[&str]) -> Output {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let err = run_dir().join(format!("stderr-{n}"));
    let status = Command::new(rampart_path())
        .arg(format!("--rampart-config={}", config().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    Output {
        status,
        stdout: Vec::new(),
        stderr: fs::read(&err).unwrap(),
    }
}

#[test]
fn per_container_blocks_are_distinct_released_on_delete_and_survive_crashes() {
    if !common::require_root_tools() {
        return;
    }
    let state = run_dir().join("runc-state");
    let state_s = state.to_string_lossy().to_string();
    let create = |profile: &str, b: &Bundle| {
        let log = b.dir.join("log.json").to_string_lossy().to_string();
        rampart_cmd(&[
            "--rampart-profile",
            profile,
            "--root",
            &state_s,
            "--log",
            &log,
            "--log-format",
            "json",
            "create",
            "--bundle",
            &b.dir.to_string_lossy(),
            &b.id,
        ])
    };
    let delete = |b: &Bundle| {
        let out = rampart_cmd(&["--root", &state_s, "delete", "--force", &b.id]);
        assert!(out.status.success(), "{}", describe(&out));
    };
    let host_id = |b: &Bundle| {
        b.config()["linux"]["uidMappings"][0]["hostID"]
            .as_u64()
            .unwrap()
    };
    let [x, y, a, b, c] = [0; 5].map(|_| Bundle::new(&sh_spec("sleep 30")));
    // Force-deleted at the end even if an assertion fails first.
    struct Cleanup(PathBuf, Vec<String>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for id in &self.1 {
                let _ = Command::new(runc_path())
                    .arg("--root")
                    .arg(&self.0)
                    .args(["delete", "--force", id])
                    .stdin(Stdio::null())
                    .output();
            }
        }
    }
    let _cleanup = Cleanup(
        state.clone(),
        [&x, &y, &a, &b, &c].iter().map(|b| b.id.clone()).collect(),
    );
    // Two live containers of a per-container profile: two blocks.
    for b in [&x, &y] {
        let out = create("iso", b);
        assert!(out.status.success(), "{}\n{}", describe(&out), b.log());
    }
    assert_ne!(host_id(&x), host_id(&y));
    assert_eq!(host_id(&x).abs_diff(host_id(&y)) % 65536, 0);
    delete(&x);
    delete(&y);
    // A pool of one block: the second container waits for `delete` of the first.
    assert!(create("iso-one", &a).status.success(), "{}", a.log());
    let out = create("iso-one", &b);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no free block of 65536 ids"),
        "{err}"
    );
    assert!(
        b.log().contains("no free block"),
        "the engine's log has it too"
    );
    delete(&a);
    let out = create("iso-one", &b);
    assert!(out.status.success(), "{}\n{}", describe(&out), b.log());
    assert_eq!(host_id(&a), host_id(&b));
    delete(&b);
    // A crash between allocation and runc (Rampart killed): the record names a process that
    // is gone and a container runc never made; the block is free.
    let alloc = run_dir().join("idmap-one/allocations.json");
    let mut entries: Vec<Value> = serde_json::from_slice(&fs::read(&alloc).unwrap()).unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    entries = vec![
        json!({"container": state.join("crashed"), "uid": entries[0]["uid"], "gid": entries[0]["gid"],
        "size": 65536, "pid": dead_pid, "start": 1}),
    ];
    fs::write(&alloc, serde_json::to_vec(&entries).unwrap()).unwrap();
    assert!(create("iso-one", &c).status.success(), "{}", c.log());
    delete(&c);
}

// ------------------------------------------------------------------------------ AppArmor

fn apparmor_parser() -> Option<PathBuf> {
    ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

#[test]
fn shipped_apparmor_profile_parses() {
    let Some(parser) = apparmor_parser() else {
        assert!(
            std::env::var_os("RAMPART_SKIP_E2E").is_some_and(|v| v == "1"),
            "apparmor_parser not found: apt-get install apparmor (or set RAMPART_SKIP_E2E=1)"
        );
        eprintln!("apparmor_parser absent and RAMPART_SKIP_E2E=1: skipping");
        common::note_skipped();
        return;
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("apparmor/rampart-default");
    let out = Command::new(&parser)
        .args(["-Q", "-K"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let out = Command::new(rampart_path())
        .args(["apparmor", "check", "--parser"])
        .arg(&parser)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // The built-in copy is the file in the repository.
    let out = Command::new(rampart_path())
        .args(["apparmor", "print"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, fs::read(&file).unwrap());
}

#[test]
fn apparmor_install_loads_the_profile_or_says_why_not() {
    let d = run_dir().join("apparmor");
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    // A stand-in for apparmor_parser that records its arguments.
    let fake = d.join("apparmor_parser");
    fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> {}/calls\n", d.display()),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/securityfs");
    let install = |host: &str| {
        Command::new(rampart_path())
            .args(["apparmor", "install", "--parser"])
            .arg(&fake)
            .arg("--dir")
            .arg(d.join("apparmor.d"))
            .arg("--host-root")
            .arg(fixtures.join(host))
            .output()
            .unwrap()
    };
    let target = d.join("apparmor.d/rampart-default");
    let out = install("apparmor");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded rampart-default"));
    let calls = fs::read_to_string(d.join("calls")).unwrap();
    assert!(
        calls.contains("-Q -K") && calls.contains(&format!("-r {}", target.display())),
        "{calls}"
    );
    let out = install("none");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("AppArmor is not enabled on this host"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        String::from_utf8(
            Command::new(rampart_path())
                .args(["apparmor", "print"])
                .output()
                .unwrap()
                .stdout
        )
        .unwrap()
    );
    let out = install("apparmor-without-rampart"); // the parser "succeeded", nothing loaded
    assert!(String::from_utf8_lossy(&out.stderr).contains("not listed as loaded"));
}

#[test]
fn create_on_a_host_without_apparmor_skips_with_a_record_or_refuses() {
    if !common::require_root_tools() {
        return;
    }
    if rampart::lsm::detect(Path::new("/")).apparmor_enabled {
        eprintln!("this host runs AppArmor: the unit tests over fake securityfs trees cover it");
        return;
    }
    let (out, b) = run(
        rampart("restricted"),
        &sh_spec("cat /proc/self/attr/current 2>&1; true"),
    );
    expect_success(&out);
    let rec = audit_for(&b.id);
    let note = rampart::audit::expand(&rec["changes"])
        .into_iter()
        .find(|c| c.0 == "lsm")
        .unwrap_or_else(|| panic!("{rec}"));
    assert!(note.4.contains("AppArmor is not enabled on this host"));
    assert!(b.config().pointer("/process/apparmorProfile").is_none());
    let err = failed(rampart("aa-refuse"), &sh_spec("true"));
    assert!(
        err.contains("requires AppArmor profile rampart-default, but AppArmor is not enabled"),
        "{err}"
    );
}

// -------------------------------------------------------------------------------- Docker

/// `docker run` through a private dockerd (tests/common/engines.rs) with Rampart's runtimes
/// registered by `rampart install docker`. The admin profile `isolated-e2e` is the built-in
/// isolated with its allocations under target/, Docker's 0710 data directories opened
/// (fix_traversal) and the host network allowed; it is registered as a runtime by installing
/// again, which reloads dockerd.
#[test]
fn docker_isolated_with_network_none_host_and_read_only() {
    use common::engines::{self, Docker, IMAGE};
    if !common::require_root_tools() {
        return;
    }
    assert!(
        engines::tool("dockerd").is_some() && engines::tool("docker").is_some(),
        "docker.io is needed (scripts/setup-host), or RAMPART_SKIP_E2E=1"
    );
    let d = Docker::get();
    let state = format!("[userns]\nstate_dir = {:?}\n", dir().join("docker-idmap"));
    let profile = |name: &str, text: String| {
        fs::write(engines::profiles_dir().join(format!("{name}.toml")), text).unwrap()
    };
    // The built-in as shipped, with its allocations under target/ instead of /run.
    profile(
        "isolated-e2e-strict",
        format!("extends = \"isolated\"\n{state}"),
    );
    profile(
        "isolated-e2e",
        format!(
            "extends = \"isolated\"\n{state}fix_traversal = true\n[policy]\nwaive = [\"host-network\"]\n"
        ),
    );
    let cfg = format!("--rampart-config={}", engines::rampart_config().display());
    let (json, pid, bin) = (
        d.daemon_json.to_string_lossy(),
        d.pid_file.to_string_lossy(),
        d.bin_dir.to_string_lossy(),
    );
    engines::rampart(&[
        &cfg,
        "install",
        "docker",
        "--daemon-json",
        &json,
        "--pid-file",
        &pid,
        "--bin-dir",
        &bin,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let runtimes = || {
        String::from_utf8_lossy(&d.run(&["info", "--format", "{{json .Runtimes}}"]).stdout)
            .to_string()
    };
    while !runtimes().contains("rampart-isolated-e2e-strict") {
        assert!(
            std::time::Instant::now() < deadline,
            "dockerd did not reload"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        runtimes().contains("\"rampart-isolated\""),
        "the built-in is registered"
    );
    // Docker's data directories are 0710: the built-in profile refuses and says what to do
    // (checked while they still are; restored at the end, since isolated-e2e opens them).
    let data = d.dir.join("data");
    let modes: Vec<(PathBuf, u32)> = ["", "vfs", "vfs/dir", "containers"]
        .iter()
        .map(|p| data.join(p))
        .filter_map(|p| {
            Some((
                p.clone(),
                fs::metadata(&p).ok()?.permissions().mode() & 0o7777,
            ))
        })
        .collect();
    struct Restore(Vec<(PathBuf, u32)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            for (p, m) in &self.0 {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(*m));
            }
        }
    }
    let _restore = Restore(modes.clone());
    let docker = |args: &[&str]| d.run(&[&["run", "--rm"][..], args].concat());
    // Docker's data directories are 0710: the built-in profile stages clones Rampart's
    // container root can reach instead of refusing (checked while they still are 0710).
    if modes.iter().any(|(_, m)| m & 0o001 == 0) {
        let out = docker(&[
            "--network",
            "none",
            "--runtime",
            "rampart-isolated-e2e-strict",
            IMAGE,
            "cat",
            "/proc/self/uid_map",
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        let (c, host, _) = map_line(&String::from_utf8_lossy(&out.stdout));
        assert!(c == 0 && host >= POOL, "{}", describe(&out));
    }
    let script = "cat /proc/self/uid_map; touch /x 2>/dev/null && echo root=rw || echo root=ro; \
        echo hi >/tmp/t && echo tmp=rw; ls /sys/class/net | grep -c .; ps >/dev/null && ls / >/dev/null && echo programs=ok";
    for args in [
        &["--network", "none"][..],
        &["--network", "host"],
        &["--network", "none", "--read-only"],
    ] {
        let out = docker(
            &[
                args,
                &[
                    "--runtime",
                    "rampart-isolated-e2e",
                    IMAGE,
                    "sh",
                    "-c",
                    script,
                ],
            ]
            .concat(),
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{args:?}\n{}", describe(&out));
        let (c, host, size) = map_line(&text);
        assert!(c == 0 && host >= POOL && size == 65536, "{args:?}: {text}");
        assert!(
            text.contains("root=ro\ntmp=rw\n") && text.contains("programs=ok"),
            "{args:?}: {text}"
        );
        let ifaces: u32 = text.lines().nth(3).unwrap().parse().unwrap();
        assert!(
            if args[1] == "host" {
                ifaces > 1
            } else {
                ifaces == 1
            },
            "{args:?}: {text}"
        );
    }
    // A root-owned host directory: root without a mapping writes it, mapped root cannot.
    let host = run_dir().join("docker-owned");
    fs::create_dir_all(&host).unwrap();
    let write = |runtime: &str| {
        fs::write(host.join("file"), "host\n").unwrap();
        let vol = format!("{}:/root", host.display());
        let out = docker(&[
            "--network",
            "none",
            "-v",
            &vol,
            "--runtime",
            runtime,
            IMAGE,
            "sh",
            "-c",
            "echo x >> /root/file && echo written || echo denied",
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(write("rampart"), "written");
    assert_eq!(write("rampart-isolated-e2e"), "denied");
    assert_eq!(fs::read_to_string(host.join("file")).unwrap(), "host\n");
}

// ------------------------------------------------------- Docker, isolated out of the box

/// Mount points of the host (this test's mount namespace) under Rampart's staging for a
/// container id.
fn staged_mounts(id: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with("/run/rampart/stage/") && m.contains(id))
        .map(String::from)
        .collect()
}

/// `rampart install docker` and nothing else, on a private dockerd with `driver`: the
/// built-in `rampart-isolated` runs a container whose root is the pool's, writes to /tmp, a
/// named volume and a `--tmpfs` (both missing from the image), reads resolv.conf and hosts;
/// restart, exec, stop and rm leave no staged mount behind. A user's `-v /host/dir` under a
/// directory the container's root cannot traverse gets a plain clone: its files stay
/// nobody's and read-only to container root, unlike the engine's named volume.
fn docker_isolated_out_of_the_box(spec: &common::engines::DockerSpec) {
    use common::engines::{self, Docker, IMAGE};
    if !common::require_root_tools() {
        return;
    }
    assert!(
        engines::tool("dockerd").is_some(),
        "docker.io is needed (scripts/setup-host), or RAMPART_SKIP_E2E=1"
    );
    let d = Docker::start(spec);
    let ok = |args: &[&str]| -> String {
        let out = d.run(args);
        assert!(out.status.success(), "docker {args:?}\n{}", describe(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let name = format!("iso-{}", spec.storage_driver);
    let _ = d.run(&["rm", "-f", &name]);
    let vol = format!("iso-vol-{}", spec.storage_driver);
    ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--runtime",
        "rampart-isolated",
        "--network",
        "none",
        "-v",
        &format!("{vol}:/data"),
        "--tmpfs",
        "/scratch",
        IMAGE,
        "sleep",
        "1000000",
    ]);
    let id = ok(&["inspect", "-f", "{{.Id}}", &name]).trim().to_string();
    let check = "cat /proc/self/uid_map; echo a >/tmp/a && echo tmp=ok; echo b >/data/b && echo vol=ok; \
        echo c >/scratch/c && echo tmpfs=ok; grep -q . /etc/hosts && test -r /etc/resolv.conf && echo etc=ok; \
        stat -c passwd=%u /etc/passwd";
    for round in ["first", "after restart"] {
        let text = ok(&["exec", &name, "sh", "-c", check]);
        let (c, host, size) = map_line(&text);
        assert!(c == 0 && host >= POOL && size == 65536, "{round}: {text}");
        // vfs (ext4) is id-mapped: the image's files are root's; overlayfs cannot be.
        let owner = if spec.storage_driver == "vfs" {
            "passwd=0"
        } else {
            "passwd=65534"
        };
        for w in ["tmp=ok", "vol=ok", "tmpfs=ok", "etc=ok", owner] {
            assert!(text.contains(w), "{round}: {w} missing\n{text}");
        }
        assert!(
            !staged_mounts(&id).is_empty(),
            "{round}: staged while it runs"
        );
        if round == "first" {
            ok(&["restart", "-t", "1", &name]);
        }
    }
    ok(&["stop", "-t", "1", &name]);
    assert_eq!(
        staged_mounts(&id),
        Vec::<String>::new(),
        "stop detaches the clones"
    );
    ok(&["start", &name]);
    ok(&["rm", "-f", &name]);
    assert_eq!(
        staged_mounts(&id),
        Vec::<String>::new(),
        "rm detaches the clones"
    );
    assert!(
        !fs::read_dir("/run/rampart/stage")
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&id)),
        "the staging directory is gone"
    );
    // A named volume is the engine's (id-mapped); a user's directory never is.
    let private = run_dir().join(format!("private-{}", spec.storage_driver));
    let host = private.join("dir");
    fs::create_dir_all(&host).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(host.join("file"), "host\n").unwrap();
    let volumes = d.dir.join("data/volumes");
    let text = ok(&[
        "run",
        "--rm",
        "--runtime",
        "rampart-isolated",
        "--network",
        "none",
        "-v",
        &format!("{}:/h", host.display()),
        "-v",
        &format!("{}:/v", volumes.display()),
        "-v",
        &format!("{vol}:/data"),
        IMAGE,
        "sh",
        "-c",
        "ls -ln /h/file /data/b; echo x >>/h/file && echo h=written || echo h=denied; \
         touch /h/new /v/new 2>/dev/null && echo new=written || echo new=denied; \
         cp /bin/busybox /h/suid 2>/dev/null && chmod u+s /h/suid && echo suid=made || echo suid=denied",
    ]);
    let line = |p: &str| text.lines().find(|l| l.ends_with(p)).unwrap_or_default();
    assert!(
        line("/h/file").contains(" 65534 "),
        "the user's dir is not id-mapped: {text}"
    );
    assert!(
        line("/data/b").contains(" 0 "),
        "the volume is id-mapped: {text}"
    );
    assert!(
        text.contains("h=denied") && text.contains("new=denied") && text.contains("suid=denied"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(host.join("file")).unwrap(), "host\n");
    assert!(!host.join("new").exists() && !host.join("suid").exists());
    assert!(!volumes.join("new").exists());
    let _ = d.run(&["volume", "rm", &vol]);
}

#[test]
fn docker_isolated_out_of_the_box_overlay2() {
    docker_isolated_out_of_the_box(&common::engines::DockerSpec {
        name: "userns-overlay2",
        storage_driver: "overlay2",
        cgroup_parent: "rampart-e2e-userns-overlay2",
        e2e_image: true,
    });
}

#[test]
fn docker_isolated_out_of_the_box_vfs() {
    docker_isolated_out_of_the_box(&common::engines::DockerSpec {
        name: "userns-vfs",
        storage_driver: "vfs",
        cgroup_parent: "rampart-e2e-userns-vfs",
        e2e_image: true,
    });
}
