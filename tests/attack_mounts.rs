//! Attacks on what Rampart judges by path, through Rampart and real runc, the way an
//! attacker would go: a bind of a containerd shim's socket directory, Docker's networking
//! hook pointed at runc itself, a bundle symlink re-pointed after Rampart's write, and a
//! config.json that is a FIFO.
mod common;

use common::{
    Bundle, Runtime, describe, docker_like_spec, expect_success, rootfs, run_container,
    status_field,
};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn work_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "target/e2e/attack-mounts/{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// Rampart (restricted) with its own config: the real runc, or `runtime` in its place.
fn rampart(dir: &Path, runtime: Option<&Path>) -> Runtime {
    let cfg = dir.join("config.toml");
    fs::write(
        &cfg,
        format!(
            "runtime = {:?}\naudit_log = {:?}\n",
            common::runc_path(),
            dir.join("audit.log")
        ),
    )
    .unwrap();
    let mut args = vec![
        format!("--rampart-config={}", cfg.display()),
        "--rampart-profile=restricted".to_string(),
    ];
    if let Some(rt) = runtime {
        args.push(format!("--rampart-runtime={}", rt.display()));
    }
    Runtime::Rampart { args }
}

fn bind(source: &Path, dest: &str) -> Value {
    json!({"destination": dest, "type": "bind", "source": source, "options": ["rbind", "rw"]})
}

/// A container that leaves `started` in the host directory `marks` when it runs.
fn marking_spec(marks: &Path, extra: Value) -> Value {
    let mut spec = docker_like_spec(&rootfs(), &["sh", "-c", "touch /marks/started"]);
    let mounts = spec["mounts"].as_array_mut().unwrap();
    mounts.push(bind(marks, "/marks"));
    mounts.push(extra);
    spec
}

/// Directories this test creates below /run/containerd/s (removed again, with any parent
/// it had to create, when empty).
struct FakeShimDir {
    dir: PathBuf,
    created: Vec<PathBuf>,
}

impl FakeShimDir {
    fn new() -> FakeShimDir {
        let base = Path::new("/run/containerd/s");
        let created: Vec<PathBuf> = [Path::new("/run/containerd"), base]
            .into_iter()
            .filter(|p| !p.exists())
            .map(Path::to_path_buf)
            .collect();
        let dir = base.join(format!("rampart-attack-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        FakeShimDir { dir, created }
    }
}

impl Drop for FakeShimDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        for d in self.created.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

/// A containerd shim's socket is at /run/containerd/s/<sha256 of a path the user can
/// compute>: bound into a container, it starts unhardened privileged containers. Bound
/// directly, through a symlink elsewhere, or as a directory holding a root-owned socket:
/// refused, and the container never starts.
#[test]
fn a_shim_socket_directory_below_engine_state_is_never_bound() {
    if !common::require_root_tools() {
        return;
    }
    let shim = FakeShimDir::new();
    let sock = shim.dir.join("shim.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let work = work_dir("shim");
    let link = work.join("innocent");
    std::os::unix::fs::symlink(&shim.dir, &link).unwrap();
    // A directory outside every engine path that holds a root-owned socket.
    let elsewhere = work.join("srv-sockets");
    fs::create_dir_all(&elsewhere).unwrap();
    let _other = std::os::unix::net::UnixListener::bind(elsewhere.join("ctl.sock")).unwrap();
    for (source, why) in [
        (shim.dir.clone(), "below /run/containerd"),
        (sock.clone(), "socket"),
        (link.clone(), "resolves to /run/containerd/s"),
        (elsewhere.clone(), "unix socket owned by root"),
    ] {
        let marks = work.join(format!("marks-{}", source.file_name().unwrap().display()));
        fs::create_dir_all(&marks).unwrap();
        let bundle = Bundle::new(&marking_spec(&marks, bind(&source, "/shim")));
        let out = run_container(rampart(&work, None), &bundle);
        assert!(
            !out.status.success(),
            "{}: {}",
            source.display(),
            describe(&out)
        );
        let log = bundle.log();
        assert!(
            log.contains("[engine-socket]") && log.contains(why),
            "{}: {log}",
            source.display()
        );
        assert!(
            !marks.join("started").exists(),
            "{}: the container ran",
            source.display()
        );
    }
    // The same container without the bind runs (the marker works).
    let marks = work.join("marks-control");
    fs::create_dir_all(&marks).unwrap();
    let tmp = work.join("plain");
    fs::create_dir_all(&tmp).unwrap();
    let bundle = Bundle::new(&marking_spec(&marks, bind(&tmp, "/shim")));
    expect_success(&run_container(rampart(&work, None), &bundle));
    assert!(marks.join("started").exists());
    let _ = fs::remove_dir_all(&work);
}

/// Docker's libnetwork-setkey hook is /proc/<dockerd pid>/exe; at hook time /proc/self/exe is
/// runc itself, so a "hardened" spec could make runc start anything as host root. Here the
/// hook would run runc with `--log MARKER list`, which creates MARKER on the host.
#[test]
fn a_setkey_hook_on_proc_self_exe_never_runs() {
    if !common::require_root_tools() {
        return;
    }
    let work = work_dir("hook");
    let id = "1de657be0fc00a3b74a8451fd494cfd8b763d1591364177b3e19b185b6ffd80b";
    let marker = work.join("hook-ran");
    let hook = |path: &str| {
        let mut spec = docker_like_spec(&rootfs(), &["true"]);
        spec["hooks"] = json!({"prestart": [{
            "path": path,
            "args": ["libnetwork-setkey", "--log", marker, "list", id, "1a215a97fdad"],
        }]});
        spec
    };
    // Under plain runc the hook runs: the marker is a real witness.
    let bundle = Bundle::new(&hook("/proc/self/exe"));
    let _ = run_container(Runtime::PlainRunc, &bundle);
    assert!(marker.exists(), "plain runc ran the hook (runc itself)");
    fs::remove_file(&marker).unwrap();
    // Through Rampart: refused, whatever the pid component, and Docker's exact shape too.
    let me = format!("/proc/{}/exe", std::process::id());
    for path in ["/proc/self/exe", "/proc/thread-self/exe", me.as_str()] {
        let bundle = Bundle::new(&hook(path));
        let out = run_container(rampart(&work, None), &bundle);
        assert!(!out.status.success(), "{path}: {}", describe(&out));
        assert!(
            bundle.log().contains("[hook-not-allowed]"),
            "{path}: {}",
            bundle.log()
        );
        assert!(!marker.exists(), "{path}: the hook ran");

        let mut exact = hook(path);
        exact["hooks"]["prestart"][0]["args"] = json!([
            "libnetwork-setkey",
            "-exec-root=/run/docker",
            id,
            "1a215a97fdad"
        ]);
        let bundle = Bundle::new(&exact);
        let out = run_container(rampart(&work, None), &bundle);
        assert!(
            !out.status.success(),
            "{path} (Docker's shape): {}",
            describe(&out)
        );
        assert!(
            bundle.log().contains("[hook-not-allowed]"),
            "{}",
            bundle.log()
        );
    }
    let _ = fs::remove_dir_all(&work);
}

/// The bundle is named through a symlink; right after Rampart's write (the runtime wrapper
/// runs exactly then, the attacker's best moment) the link is re-pointed at a bundle asking
/// for every capability. The container still runs the spec Rampart judged: CapEff is 0.
#[test]
fn a_bundle_link_re_pointed_after_the_write_still_runs_the_judged_spec() {
    if !common::require_root_tools() {
        return;
    }
    let work = work_dir("relink");
    let judged = Bundle::new(&docker_like_spec(&rootfs(), &["/bin/probe", "status"]));
    let mut evil = docker_like_spec(&rootfs(), &["/bin/probe", "status"]);
    let all: Vec<Value> = caps::all().iter().map(|c| json!(c.to_string())).collect();
    for set in ["bounding", "effective", "permitted"] {
        evil["process"]["capabilities"][set] = json!(all);
    }
    evil["process"]["noNewPrivileges"] = json!(false);
    let evil = Bundle::new(&evil);
    let link = work.join("bundle-link");
    std::os::unix::fs::symlink(&judged.dir, &link).unwrap();
    let wrapper = work.join("relink-then-runc.sh");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nln -sfn {evil:?} {link:?}.new && mv -T {link:?}.new {link:?}\nexec {runc:?} \"$@\"\n",
            evil = evil.dir,
            runc = common::runc_path()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let through_link = Bundle {
        dir: link.clone(),
        id: format!("{}-link", judged.id),
    };
    let inside = expect_success(&run_container(
        rampart(&work, Some(&wrapper)),
        &through_link,
    ));
    assert_eq!(
        fs::read_link(&link).unwrap(),
        evil.dir,
        "the link was re-pointed"
    );
    assert_eq!(
        status_field(&inside, "CapEff").as_deref(),
        Some("0000000000000000"),
        "{inside}"
    );
    assert_eq!(
        status_field(&inside, "NoNewPrivs").as_deref(),
        Some("1"),
        "{inside}"
    );
    drop(through_link);
    let _ = fs::remove_dir_all(&work);
}

/// A config.json that is a FIFO would serve one spec to Rampart and another to runc.
/// Refused at once (no blocking on the open), and nothing runs.
#[test]
fn a_fifo_config_json_is_refused_without_blocking() {
    if !common::require_root_tools() {
        return;
    }
    let work = work_dir("fifo");
    let bundle = Bundle::new(&docker_like_spec(&rootfs(), &["true"]));
    fs::remove_file(bundle.dir.join("config.json")).unwrap();
    nix::unistd::mkfifo(
        &bundle.dir.join("config.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let t = std::time::Instant::now();
    let out = run_container(rampart(&work, None), &bundle);
    assert!(t.elapsed() < std::time::Duration::from_secs(10), "blocked");
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(bundle.log().contains("is a FIFO"), "{}", bundle.log());
    let _ = fs::remove_dir_all(&work);
}
