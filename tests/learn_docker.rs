//! Recording through Docker the way an operator does it: `rampart install docker --learn
//! nginx` registers `rampart-learn-nginx`; `docker run --runtime rampart-learn-nginx` runs
//! the workload suite's nginx (official start pattern: a root master that drops its workers
//! to www-data) while the recorder watches; the recording lands when the container stops.
//! Its own private dockerd (overlay2, no bridge), beside the other engine tests.
mod common;

use common::engines::{Docker, DockerSpec, checked, engines_dir, run_timeout};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const SPEC: DockerSpec = DockerSpec {
    name: "docker-learn",
    storage_driver: "overlay2",
    cgroup_parent: "/rampart-learn-docker",
    e2e_image: false,
};

const IMAGE: &str = "rampart-learn-nginx:test";

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not after {secs}s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The workload image (scripts/mkimages, cached under target/images) imported as nginx.
fn import_nginx(d: &Docker) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let o = run_timeout(
        &mut Command::new(root.join("scripts/mkimages")),
        Duration::from_secs(1800),
    );
    assert!(o.status.success(), "scripts/mkimages failed");
    let images = root.join("target/images");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(images.join("rampart-workloads.json")).unwrap())
            .unwrap();
    let m = &manifest["workloads"]["nginx"];
    let mut cmd = d.cli();
    cmd.arg("import")
        .arg("--change")
        .arg(format!("ENTRYPOINT {}", m["entrypoint"]))
        .arg("--change")
        .arg(format!("CMD {}", m["cmd"]));
    for e in m["env"].as_array().unwrap() {
        cmd.arg("--change")
            .arg(format!("ENV {}", e.as_str().unwrap()));
    }
    cmd.arg(images.join("rampart-workloads.tar")).arg(IMAGE);
    checked(&mut cmd);
}

#[test]
fn docker_records_nginx_with_the_learning_runtime() {
    if !common::require_root_tools() {
        return;
    }
    let d = Docker::start(&SPEC);
    let dir = engines_dir().join(SPEC.name);
    let learn = dir.join("learn");
    let _ = std::fs::remove_dir_all(&learn);
    let cfg = dir.join("rampart-learn.toml");
    std::fs::write(
        &cfg,
        format!(
            "runtime = {:?}\naudit_log = {:?}\n[learn]\ndir = {:?}\n",
            common::runc_path(),
            dir.join("audit.log"),
            learn
        ),
    )
    .unwrap();
    // Registered over what Docker::start installed (--force: another config file), and
    // dockerd reloaded (SIGHUP) by the installer.
    let report = d.install(&cfg, &["--learn", "nginx", "--force"]);
    assert!(report.contains("rampart-learn-nginx"), "{report}");
    wait_for("dockerd reloads its runtimes", 30, || {
        let o = d.run(&["info", "--format", "{{json .Runtimes}}"]);
        String::from_utf8_lossy(&o.stdout)
            .contains("rampart-learn-nginx")
            .then_some(())
    });
    let _ = d.run(&["rm", "-f", "learn-nginx"]);
    import_nginx(&d);
    let run = d.run(&[
        "run",
        "-d",
        "--name=learn-nginx",
        "--runtime=rampart-learn-nginx",
        "--network=none",
        "--stop-signal=SIGQUIT",
        IMAGE,
    ]);
    assert!(run.status.success(), "{}", common::describe(&run));
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    wait_for("nginx answers", 60, || {
        let o = d.run(&[
            "exec",
            "learn-nginx",
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://127.0.0.1/",
        ]);
        (String::from_utf8_lossy(&o.stdout) == "200").then_some(())
    });
    let stop = d.run(&["stop", "learn-nginx"]);
    assert!(stop.status.success(), "{}", common::describe(&stop));
    let path = learn.join("nginx").join(format!("{id}.json"));
    let rec: Value = wait_for("the recording", 30, || {
        serde_json::from_slice(&std::fs::read(&path).ok()?).ok()
    });
    let _ = d.run(&["rm", "-f", "learn-nginx"]);
    let _ = d.run(&["rmi", "-f", IMAGE]);
    eprintln!("{}", serde_json::to_string_pretty(&rec).unwrap());

    assert_eq!(rec["complete"], true);
    assert_eq!(rec["engine"], "docker");
    assert_eq!(rec["writes_source"], "overlay-upperdir");
    let names: Vec<&str> = rec["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for n in [
        "bind",
        "listen",
        "setuid",
        "setgid",
        "epoll_wait",
        "accept4",
    ] {
        assert!(names.contains(&n), "{n} missing: {names:?}");
    }
    let ev = rec["evidence"].as_array().unwrap();
    assert!(
        ev.iter()
            .any(|e| e["syscall"] == "bind" && e["args"]["port"] == 80 && e["ret"] == 0),
        "no bind to port 80"
    );
    assert!(
        ev.iter()
            .any(|e| e["syscall"] == "setuid" && e["ret"] == 0 && e["creds"]["euid"] == 0),
        "no setuid by root"
    );
    let writes = rec["writes"].as_array().unwrap();
    // nginx removes its pid file at exit: /run is left changed and empty.
    for w in ["/run", "/var/lib/nginx/body"] {
        assert!(
            writes.iter().any(|x| x == w),
            "{w} not in writes: {writes:?}"
        );
    }
}
