//! Recording through Docker the way an operator does it: `rampart install docker --learn
//! nginx` registers `rampart-learn-nginx`; `docker run --runtime rampart-learn-nginx` runs
//! the workload suite's nginx (official start pattern: a root master that drops its workers
//! to www-data) while the recorder watches; the recording lands when the container stops.
//! Then issue 15's "done means" for nginx, redis and postgres: learn, `rampart learn
//! profile`, `rampart install docker`, run under `rampart-NAME` with no extra flags, and show
//! from inside what the learned profile takes away.
//! Its own private dockerd (overlay2, no bridge), shared by the tests here (they take turns),
//! beside the other engine tests.
mod common;
use common::workload::Workload;

use common::engines::{Docker, DockerSpec, checked, engines_dir, run_timeout};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const SPEC: DockerSpec = DockerSpec {
    name: "docker-learn",
    storage_driver: "overlay2",
    cgroup_parent: "/rampart-learn-docker",
    e2e_image: false,
};

const IMAGE: &str = "rampart-learn-nginx:test";

/// The one dockerd of this binary; its tests take turns (each installs its own config).
fn docker() -> (&'static Docker, MutexGuard<'static, ()>) {
    static D: OnceLock<Docker> = OnceLock::new();
    static TURN: Mutex<()> = Mutex::new(());
    let g = TURN.lock().unwrap_or_else(|e| e.into_inner());
    (D.get_or_init(|| Docker::start(&SPEC)), g)
}

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

/// The workload image (scripts/mkimages, cached under target/images) imported as
/// `workload` (its entrypoint, command, environment, working directory and volumes).
fn import_workload(d: &Docker, workload: &str, image: &str) {
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
    let m = &manifest["workloads"][workload];
    let mut cmd = d.cli();
    cmd.arg("import")
        .arg("--change")
        .arg(format!("ENTRYPOINT {}", m["entrypoint"]))
        .arg("--change")
        .arg(format!("CMD {}", m["cmd"]))
        .arg("--change")
        .arg(format!("WORKDIR {}", m["workdir"].as_str().unwrap()));
    for e in m["env"].as_array().unwrap() {
        cmd.arg("--change")
            .arg(format!("ENV {}", e.as_str().unwrap()));
    }
    if !m["volumes"].as_array().unwrap().is_empty() {
        cmd.arg("--change").arg(format!("VOLUME {}", m["volumes"]));
    }
    cmd.arg(images.join("rampart-workloads.tar")).arg(image);
    checked(&mut cmd);
}

#[test]
fn docker_records_nginx_with_the_learning_runtime() {
    if !common::require_root_tools() {
        return;
    }
    let (d, _turn) = docker();
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
    import_workload(d, "nginx", IMAGE);
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

// ------------------------------------------------- learn, then run under what was learned

/// The services of the workload suite whose profiles are learned (tests/common/workload.rs).
const WORKLOADS: [Workload; 3] = [Workload::Nginx, Workload::Redis, Workload::Postgres];

const WL_LABEL: &str = "rampart.dev/learn-docker-test";
/// Where the probe (tests/probe/probe.c) is copied into a created container.
const PROBE: &str = "/usr/local/bin/rampart-probe";

fn wl_image(w: &str) -> String {
    format!("rampart-learned-{w}:test")
}

fn out_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn exec(d: &Docker, name: &str, argv: &[&str]) -> Result<String, String> {
    let mut args = vec!["exec", name];
    args.extend_from_slice(argv);
    let o = d.run(&args);
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(out_text(&o))
    }
}

/// `docker create` (a named volume at its data directory), the probe copied in when asked,
/// `docker start`; returns the container id.
fn start(d: &Docker, w: Workload, name: &str, runtime: &str, probe: bool) -> String {
    let _ = d.run(&["rm", "-f", "-v", name]);
    let label = format!("--label={WL_LABEL}=1");
    let mut args: Vec<String> = vec![
        "create".into(),
        format!("--name={name}"),
        label.clone(),
        format!("--runtime={runtime}"),
        format!("--stop-signal={}", w.stop_signal()),
        "--network=none".into(),
    ];
    if let Some(dir) = w.data_dir() {
        let _ = d.run(&["volume", "rm", "-f", name]);
        checked(d.cli().args(["volume", "create", &label, name]));
        args.push(format!("--volume={name}:{dir}"));
    }
    args.push(wl_image(w.name()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = checked(d.cli().args(&argv)).trim().to_string();
    if probe {
        let src = common::rootfs().join("bin/probe");
        checked(d.cli().arg("cp").arg(&src).arg(format!("{name}:{PROBE}")));
    }
    let o = d.run(&["start", name]);
    assert!(o.status.success(), "start {name}: {}", out_text(&o));
    id
}

fn wait_serving(d: &Docker, w: Workload, name: &str) {
    let (argv, want) = w.probe();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let last = match exec(d, name, argv) {
            Ok(out) if out.contains(want) => return,
            Ok(out) => out,
            Err(e) => e,
        };
        let st = d.run(&["inspect", "-f", "{{.State.Running}}", name]);
        let running = String::from_utf8_lossy(&st.stdout).trim() == "true";
        assert!(
            running && Instant::now() < deadline,
            "{name} does not serve (running: {running}): {last}\n--- logs:\n{}",
            out_text(&d.run(&["logs", name]))
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Serves, keeps its data across `docker restart` (redis, postgres).
fn serve_and_persist(d: &Docker, w: Workload, name: &str) {
    wait_serving(d, w, name);
    let Some((write, read, want)) = w.persistence() else {
        return;
    };
    exec(d, name, write).unwrap_or_else(|e| panic!("{name}: write: {e}"));
    let r = d.run(&["restart", "-t", "20", name]);
    assert!(r.status.success(), "{name}: restart: {}", out_text(&r));
    wait_serving(d, w, name);
    let got = exec(d, name, read).unwrap_or_else(|e| panic!("{name}: read: {e}"));
    assert_eq!(got.trim(), want, "{name}: data not kept across a restart");
}

/// /proc/1/status of a running container.
fn status(d: &Docker, name: &str) -> String {
    exec(d, name, &["cat", "/proc/1/status"]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const CAP_KILL: u64 = 1 << 5;
const CAP_NET_RAW: u64 = 1 << 13;

fn cap_bits(status: &str) -> u64 {
    let hex = common::status_field(status, "CapBnd").expect("CapBnd");
    u64::from_str_radix(&hex, 16).unwrap()
}

fn cap_count(status: &str) -> u32 {
    cap_bits(status).count_ones()
}

/// The syscall names runc was given to allow (the hardened config.json in the bundle).
fn allowed_syscalls(d: &Docker, id: &str) -> std::collections::BTreeSet<String> {
    let path = d
        .dir
        .join("exec/containerd/daemon/io.containerd.runtime.v2.task/moby")
        .join(id)
        .join("config.json");
    let spec: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let sc = &spec["linux"]["seccomp"];
    assert_ne!(sc["defaultAction"], "SCMP_ACT_ALLOW", "{sc}");
    sc["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// The probe's `NAME result` lines for `sys NAMES...`.
fn probe(d: &Docker, name: &str, probes: &[&str]) -> std::collections::BTreeMap<String, String> {
    let mut argv = vec!["exec", name, PROBE, "sys"];
    argv.extend_from_slice(probes);
    common::probe_lines(&d.run(&argv))
}

/// `kill -0` (root, from `docker exec`) of the service's process that runs as another user
/// (nginx's www-data workers, redis, postgres): needs CAP_KILL. Ok, or the shell's error.
fn signal_other_user(d: &Docker, name: &str) -> Result<String, String> {
    let ps = exec(d, name, &["ps", "-eo", "pid=,user="]).unwrap_or_else(|e| panic!("{e}"));
    let pid = ps
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .find(|(_, u)| u != "root")
        .map(|(p, _)| p)
        .unwrap_or_else(|| panic!("{name}: nothing runs as another user: {ps}"));
    exec(d, name, &["sh", "-c", &format!("kill -0 {pid}")])
}

fn remove_labelled(d: &Docker) {
    for (kind, extra) in [("ps", "-aq"), ("volume", "-q")] {
        let filter = format!("label={WL_LABEL}");
        let o = if kind == "ps" {
            d.run(&["ps", extra, "--filter", &filter])
        } else {
            d.run(&["volume", "ls", extra, "--filter", &filter])
        };
        for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            if kind == "ps" {
                let _ = d.run(&["rm", "-f", "-v", id]);
            } else {
                let _ = d.run(&["volume", "rm", "-f", id]);
            }
        }
    }
}

fn wait_runtime(d: &Docker, runtime: &str) {
    wait_for("dockerd reloads its runtimes", 30, || {
        let o = d.run(&["info", "--format", "{{json .Runtimes}}"]);
        String::from_utf8_lossy(&o.stdout)
            .contains(&format!("\"{runtime}\""))
            .then_some(())
    });
}

/// Issue 15's "done means": for nginx, redis and postgres (official start pattern), record a
/// run under `rampart-learn-NAME` (served, written, restarted), make the profile with
/// `rampart learn profile NAME` into the profiles directory, `rampart check` it, register it
/// with `rampart install docker`, and run the same workload under `rampart-NAME` with no
/// extra flags: it serves and keeps its data, with fewer capabilities and fewer allowed
/// syscalls than `baseline`, no-new-privileges, a seccomp filter and a read-only rootfs. The
/// kernel answers EPERM to a syscall outside the learned list (personality, which works
/// under baseline) and to a capability never learned through a syscall in the list (NET_RAW:
/// a raw socket, for all three; KILL: root signalling the service user, where the list has
/// kill, as postgres's does, while baseline allows it).
#[test]
fn learned_profiles_run_the_workloads_with_less_than_baseline() {
    if !common::require_root_tools() {
        return;
    }
    let (d, _turn) = docker();
    // learned/: rampart.toml, profiles/ (the learned ones), recordings/.
    let dir = engines_dir().join(SPEC.name).join("learned");
    let _ = std::fs::remove_dir_all(&dir);
    let learn = dir.join("recordings");
    let (cfg, profiles) = common::learn_config(&dir, &learn);
    let cfg_arg = format!("--rampart-config={}", cfg.display());
    let install = [
        "--learn", "nginx", "--learn", "redis", "--learn", "postgres", "--force",
    ];
    let report = d.install(&cfg, &install);
    eprintln!("--- rampart install docker --learn ...\n{report}");
    assert!(report.contains("rampart-learn-postgres"), "{report}");
    wait_runtime(d, "rampart-learn-postgres");
    remove_labelled(d);

    // One import, one committed image per workload (its entrypoint, command, volumes).
    let base = "rampart-learned-base:test";
    import_workload(d, "nginx", base);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(root.join("target/images/rampart-workloads.json")).unwrap(),
    )
    .unwrap();
    let _ = d.run(&["rm", "-f", "lw-base"]);
    checked(d.cli().args(["create", "--name=lw-base", base, "true"]));
    for w in WORKLOADS {
        let m = &manifest["workloads"][w.name()];
        let mut cmd = d.cli();
        cmd.arg("commit");
        let mut changes = vec![
            format!("ENTRYPOINT {}", m["entrypoint"]),
            format!("CMD {}", m["cmd"]),
            format!("WORKDIR {}", m["workdir"].as_str().unwrap()),
        ];
        for e in m["env"].as_array().unwrap() {
            changes.push(format!("ENV {}", e.as_str().unwrap()));
        }
        if !m["volumes"].as_array().unwrap().is_empty() {
            changes.push(format!("VOLUME {}", m["volumes"]));
        }
        for c in changes {
            cmd.arg("--change").arg(c);
        }
        cmd.arg("lw-base").arg(wl_image(w.name()));
        checked(&mut cmd);
    }
    let _ = d.run(&["rm", "-f", "lw-base"]);

    // 1. Record: serve, write, restart, read back; each start is one recording.
    for w in WORKLOADS {
        let t = Instant::now();
        let name = format!("lw-{}-rec", w.name());
        let id = start(d, w, &name, &format!("rampart-learn-{}", w.name()), false);
        serve_and_persist(d, w, &name);
        let stop = d.run(&["stop", "-t", "20", &name]);
        assert!(stop.status.success(), "{}", out_text(&stop));
        let runs = if w.persistence().is_some() { 2 } else { 1 };
        // <id>.json, then <id>.2.json for the run after the restart.
        let recs: Vec<Value> = wait_for("the recordings", 30, || {
            let mut v = Vec::new();
            for e in std::fs::read_dir(learn.join(w.name())).ok()? {
                let n = e.ok()?.file_name().to_string_lossy().into_owned();
                if n.starts_with(&id) && n.ends_with(".json") {
                    v.push(
                        serde_json::from_slice::<Value>(
                            &std::fs::read(learn.join(w.name()).join(&n)).ok()?,
                        )
                        .ok()?,
                    );
                }
            }
            (v.len() >= runs).then_some(v)
        });
        for rec in &recs {
            assert_eq!(rec["complete"], true, "{rec}");
        }
        let _ = d.run(&["rm", "-f", "-v", &name]);
        let _ = d.run(&["volume", "rm", "-f", &name]);
        eprintln!(
            "{}: recorded {runs} run(s) in {:.1?}",
            w.name(),
            t.elapsed()
        );
    }

    // 2. Profiles, checked and registered as rampart-NAME.
    let mut learned_syscalls = std::collections::BTreeMap::new();
    for w in WORKLOADS {
        let show = common::engines::rampart(&[&cfg_arg, "learn", "show", w.name()]);
        eprintln!("--- rampart learn show {}\n{show}", w.name());
        let text = common::engines::rampart(&[&cfg_arg, "learn", "profile", w.name()]);
        eprintln!("--- rampart learn profile {}\n{text}", w.name());
        let p: toml::Table = toml::from_str(&text).unwrap();
        let list: Vec<String> = p["seccomp"]["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert!(
            !list.iter().any(|s| s == "personality"),
            "{}: personality learned",
            w.name()
        );
        learned_syscalls.insert(w.name(), list);
        std::fs::write(profiles.join(format!("{}.toml", w.name())), &text).unwrap();
    }
    common::engines::rampart(&[&cfg_arg, "check"]);
    let report = d.install(&cfg, &install);
    eprintln!("--- rampart install docker (the learned profiles)\n{report}");
    for w in WORKLOADS {
        assert!(
            report.contains(&format!("rampart-{}", w.name())),
            "{report}"
        );
    }
    wait_runtime(d, "rampart-postgres");

    // The reference: the same image under baseline (its start pattern needs no more).
    let nginx = WORKLOADS[0];
    let bid = start(d, nginx, "lw-baseline", "rampart-baseline", true);
    wait_serving(d, nginx, "lw-baseline");
    let base_status = status(d, "lw-baseline");
    let base_caps = cap_count(&base_status);
    let base_syscalls = allowed_syscalls(d, &bid);
    let base_probe = probe(d, "lw-baseline", &["personality_ok"]);
    let base_kill = signal_other_user(d, "lw-baseline");
    let _ = d.run(&["rm", "-f", "-v", "lw-baseline"]);
    assert_eq!(base_probe["personality_ok"], "ok", "{base_probe:?}");
    assert!(base_kill.is_ok(), "{base_kill:?}");
    assert!(cap_bits(&base_status) & CAP_KILL != 0, "{base_status}");
    let mut summary = format!(
        "baseline: {base_caps} capabilities, {} syscalls allowed\n",
        base_syscalls.len()
    );

    // 3. and 4. Run under the learned profile, as an operator would.
    for w in WORKLOADS {
        let name = format!("lw-{}", w.name());
        let id = start(d, w, &name, &format!("rampart-{}", w.name()), true);
        wait_serving(d, w, &name);
        let st = status(d, &name);
        assert_eq!(
            common::status_field(&st, "NoNewPrivs").as_deref(),
            Some("1")
        );
        assert_eq!(common::status_field(&st, "Seccomp").as_deref(), Some("2"));
        let caps = cap_count(&st);
        let allowed = allowed_syscalls(d, &id);
        let pids = exec(d, &name, &["cat", "/sys/fs/cgroup/pids/pids.max"]).unwrap_or_default();
        assert!(
            pids.trim()
                .parse::<u64>()
                .is_ok_and(|p| (128..1024).contains(&p)),
            "{}: pids.max {pids}",
            w.name()
        );
        let logs = out_text(&d.run(&["logs", &name]));
        assert!(!logs.contains("maxclients has been reduced"), "{logs}");
        let listed = learned_syscalls[w.name()].len();
        let _ = writeln!(
            summary,
            "{}: {caps} capabilities (CapBnd {}), {} syscalls allowed ({listed} in the profile), pids.max {}",
            w.name(),
            common::status_field(&st, "CapBnd").unwrap(),
            allowed.len(),
            pids.trim()
        );
        assert!(caps < base_caps, "{}: {caps} capabilities", w.name());
        assert!(
            allowed.len() < base_syscalls.len() && allowed.is_subset(&base_syscalls),
            "{}: {} syscalls allowed, not fewer than baseline's {}: {:?}",
            w.name(),
            allowed.len(),
            base_syscalls.len(),
            allowed.difference(&base_syscalls).collect::<Vec<_>>()
        );
        let touch = exec(d, &name, &["touch", "/rampart-ro-probe"]);
        assert!(
            touch
                .as_ref()
                .is_err_and(|e| e.contains("Read-only file system")),
            "{}: rootfs writable: {touch:?}",
            w.name()
        );
        // A syscall outside the learned list: seccomp answers EPERM.
        let refused = probe(d, &name, &["personality_ok", "getpid"]);
        assert_eq!(
            refused.get("getpid").map(String::as_str),
            Some("ok"),
            "{refused:?}"
        );
        assert_eq!(refused["personality_ok"], "errno=EPERM", "{}", w.name());
        // A capability never learned, through a syscall in the list: EPERM from the kernel.
        // NET_RAW (no built-in profile keeps it): a raw socket.
        assert!(
            learned_syscalls[w.name()].iter().any(|s| s == "socket"),
            "{}",
            w.name()
        );
        assert_eq!(cap_bits(&st) & CAP_NET_RAW, 0, "{}", w.name());
        let raw = probe(d, &name, &["socket_raw", "socket_inet"]);
        assert_eq!(raw["socket_inet"], "ok", "{}: {raw:?}", w.name());
        assert_eq!(raw["socket_raw"], "errno=EPERM", "{}: {raw:?}", w.name());
        // KILL (baseline keeps it), where the workload's list has kill: root signals the
        // service user's process.
        assert_eq!(cap_bits(&st) & CAP_KILL, 0, "{}", w.name());
        if learned_syscalls[w.name()].iter().any(|s| s == "kill") {
            let kill = signal_other_user(d, &name);
            assert!(
                kill.as_ref()
                    .is_err_and(|e| e.contains("Operation not permitted")),
                "{}: kill -0 of another user's process: {kill:?}",
                w.name()
            );
            let _ = writeln!(summary, "  kill -0 of the service user's process: EPERM");
        }
        serve_and_persist(d, w, &name);
        let _ = d.run(&["rm", "-f", "-v", &name]);
        let _ = d.run(&["volume", "rm", "-f", &name]);
    }
    eprintln!("{summary}");
    for w in WORKLOADS {
        let _ = d.run(&["rmi", "-f", &wl_image(w.name())]);
    }
    let _ = d.run(&["rmi", "-f", base]);
}
