//! Private container engines for end-to-end tests: a dockerd, a containerd (with its CRI
//! plugin) and podman, each on its own socket and data root under target/e2e/engines, with
//! Rampart registered the way an admin would (`rampart install docker|containerd`, a
//! containers.conf for podman). One daemon per engine per test binary (OnceLock), stopped
//! when the test binary exits (atexit); daemons left by a killed run are stopped at start.
//!
//! Image: the shared busybox-static rootfs (with /bin/probe), imported as
//! `rampart-e2e:latest` with `CMD ["/bin/sleep", "1000000"]` (so it also serves as the CRI
//! sandbox image), saved by dockerd and imported into containerd; podman imports the rootfs.
#![allow(dead_code)]

use super::{describe, rampart_path, rootfs, runc_path};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub const IMAGE: &str = "rampart-e2e:latest";
pub const IMAGE_REF: &str = "docker.io/library/rampart-e2e:latest";
const IMAGE_CMD: &str = r#"CMD ["/bin/sleep", "1000000"]"#;

/// A tool on PATH.
pub fn tool(name: &str) -> Option<PathBuf> {
    super::which(name)
}

pub fn engines_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e/engines")
}

/// Rampart's config for engine tests: the real runc, an audit log and a profiles dir under
/// target/e2e/engines, and an annotation allow-list. Profiles: `broken` extends a profile
/// that does not exist (every create with it is refused); `hostnet` is restricted with the
/// host-network and host-UTS rules waived (host-network pods); `isolated-e2e` is the built-in
/// isolated with its id allocations under target/ (containerd's 0700 state directories are
/// reached through staged clones). Annotations allowed: `rampart.dev/profile`
/// = baseline, isolated-e2e; `rampart.dev/waive` = host-network, host-uts, host-ipc.
pub fn rampart_config() -> PathBuf {
    static CONFIG: OnceLock<PathBuf> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let dir = engines_dir();
            let profiles = dir.join("profiles");
            let _ = fs::remove_dir_all(&profiles);
            fs::create_dir_all(&profiles).unwrap();
            fs::write(profiles.join("broken.toml"), "extends = \"nonexistent\"\n").unwrap();
            fs::write(
                profiles.join("hostnet.toml"),
                "extends = \"restricted\"\n\n[policy]\nwaive = [\"host-network\", \"host-uts\"]\n",
            )
            .unwrap();
            fs::write(
                profiles.join("isolated-e2e.toml"),
                format!(
                    "extends = \"isolated\"\n\n[userns]\nstate_dir = {:?}\n",
                    dir.join("idmap")
                ),
            )
            .unwrap();
            let cfg = dir.join("rampart.toml");
            let text = format!(
                "runtime = {:?}\naudit_log = {:?}\nprofiles_dir = {:?}\n\n\
                 [[annotations]]\nkey = \"rampart.dev/profile\"\nselects = \"profile\"\nvalues = [\"baseline\", \"isolated-e2e\"]\n\n\
                 [[annotations]]\nkey = \"rampart.dev/waive\"\nselects = \"waive\"\nvalues = [\"host-network\", \"host-uts\", \"host-ipc\"]\n",
                runc_path(),
                audit_log(),
                profiles
            );
            fs::write(&cfg, text).unwrap();
            cfg
        })
        .clone()
}

/// Where Rampart run by every engine here writes its audit records.
pub fn audit_log() -> PathBuf {
    engines_dir().join("audit.log")
}

pub fn profiles_dir() -> PathBuf {
    rampart_config();
    engines_dir().join("profiles")
}

/// Runs a command to completion (stdin null), panicking after `timeout`.
pub fn run_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let out = read_pipe(child.stdout.take());
    let err = read_pipe(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {timeout:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                String::from_utf8_lossy(&out.join().unwrap()),
                String::from_utf8_lossy(&err.join().unwrap())
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn read_pipe(p: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    let mut p = p.unwrap();
    thread::spawn(move || {
        let mut b = Vec::new();
        let _ = p.read_to_end(&mut b);
        b
    })
}

/// stdout of a command that must succeed.
pub fn checked(cmd: &mut Command) -> String {
    let desc = format!("{cmd:?}");
    let out = run_timeout(cmd, Duration::from_secs(120));
    assert!(out.status.success(), "{desc} failed\n{}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `rampart ARGS...` (the binary under test), which must succeed; returns stdout.
pub fn rampart(args: &[&str]) -> String {
    checked(Command::new(rampart_path()).args(args))
}

// ------------------------------------------------------------------ daemon lifecycle

/// A daemon this test binary started; stopped (SIGTERM, then SIGKILL) at exit.
struct Daemon {
    name: &'static str,
    child: Child,
}

static DAEMONS: Mutex<Vec<Daemon>> = Mutex::new(Vec::new());

extern "C" fn stop_daemons() {
    let daemons = match DAEMONS.lock() {
        Ok(mut d) => std::mem::take(&mut *d),
        Err(_) => return,
    };
    for mut d in daemons.into_iter().rev() {
        stop_pid(d.child.id() as i32, Duration::from_secs(20));
        let _ = d.child.wait();
        eprintln!("e2e: stopped {}", d.name);
    }
    unmount_under(&engines_dir());
}

/// Detaches every mount below `dir`, deepest first: dockerd leaves its default network
/// namespace bind-mounted (exec/netns/default) when it stops, which would otherwise stay on
/// the host and keep the directory from being removed.
fn unmount_under(dir: &Path) {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let Ok(c) = std::ffi::CString::new(p) else {
            continue;
        };
        // SAFETY: a valid C string; MNT_DETACH never blocks.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

fn register(name: &'static str, child: Child) {
    static ATEXIT: OnceLock<()> = OnceLock::new();
    ATEXIT.get_or_init(|| unsafe {
        libc::atexit(stop_daemons);
    });
    DAEMONS.lock().unwrap().push(Daemon { name, child });
}

fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); it is dead for our purpose.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
fn stop_pid(pid: i32, grace: Duration) {
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Stops a process left by an earlier run: the pid in `pid_file`, only if its command line
/// mentions `marker` (our private directory), so an unrelated process is never touched.
fn kill_stale(pid_file: &Path, marker: &Path) {
    let Some(pid) = fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let marker = marker.to_string_lossy();
    if alive(pid) && String::from_utf8_lossy(&cmdline).contains(marker.as_ref()) {
        eprintln!(
            "e2e: stopping pid {pid} left by an earlier run ({})",
            pid_file.display()
        );
        stop_pid(pid, Duration::from_secs(20));
    }
    let _ = fs::remove_file(pid_file);
}

fn wait_ready(what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not come up in 60 s; its log ({}):\n{}",
            log.display(),
            fs::read_to_string(log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    let f = fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

// --------------------------------------------------------------------------- dockerd

/// What must differ between private dockerds that may run at the same time (from different
/// test binaries or worktrees): the directory (data root, exec root, socket, pid file) and
/// the cgroup parent. No daemon here has a bridge (`"bridge": "none"`, no iptables), so
/// there is no bridge name or subnet to collide.
pub struct DockerSpec {
    /// Directory under [`engines_dir`].
    pub name: &'static str,
    pub storage_driver: &'static str,
    pub cgroup_parent: &'static str,
    /// Import the busybox e2e image ([`IMAGE`]) once the daemon is up.
    pub e2e_image: bool,
}

impl DockerSpec {
    /// The dockerd of tests/e2e_engines.rs and friends.
    pub const E2E: DockerSpec = DockerSpec {
        name: "docker",
        storage_driver: "vfs",
        cgroup_parent: "rampart-e2e-docker",
        e2e_image: true,
    };
}

pub struct Docker {
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub daemon_json: PathBuf,
    pub pid_file: PathBuf,
    pub bin_dir: PathBuf,
    /// What `rampart install docker` printed when the daemon was set up.
    pub install_report: String,
}

impl Docker {
    /// The shared private dockerd, started on first use with Rampart installed by
    /// `rampart --rampart-config CFG install docker` into its (fresh) daemon.json.
    pub fn get() -> &'static Docker {
        static DOCKER: OnceLock<Docker> = OnceLock::new();
        DOCKER.get_or_init(|| Docker::start(&DockerSpec::E2E))
    }

    /// A private dockerd as `spec` says (a test binary keeps it in its own OnceLock); stopped
    /// when the test binary exits, like [`Docker::get`]'s.
    pub fn start(spec: &DockerSpec) -> Docker {
        let dir = engines_dir().join(spec.name);
        let exec_root = dir.join("exec");
        fs::create_dir_all(dir.join("cli")).unwrap();
        let pid_file = dir.join("docker.pid");
        kill_stale(&pid_file, &dir);
        kill_stale(&exec_root.join("containerd/containerd.pid"), &dir);
        let daemon_json = dir.join("daemon.json");
        fs::write(
            &daemon_json,
            format!(
                r#"{{
  "iptables": false,
  "ip-forward": false,
  "ip-masq": false,
  "bridge": "none",
  "storage-driver": "{}",
  "cgroup-parent": "{}",
  "log-level": "info"
}}
"#,
                spec.storage_driver, spec.cgroup_parent
            ),
        )
        .unwrap();
        let bin_dir = dir.join("bin");
        let cfg = rampart_config();
        let install_report = rampart(&[
            &format!("--rampart-config={}", cfg.display()),
            "install",
            "docker",
            "--daemon-json",
            &daemon_json.to_string_lossy(),
            "--pid-file",
            &pid_file.to_string_lossy(),
            "--bin-dir",
            &bin_dir.to_string_lossy(),
        ]);
        let sock = dir.join("docker.sock");
        let log = dir.join("dockerd.log");
        let child = spawn_logged(
            Command::new("dockerd")
                .arg("--config-file")
                .arg(&daemon_json)
                .arg("--data-root")
                .arg(dir.join("data"))
                .arg("--exec-root")
                .arg(&exec_root)
                .arg("-H")
                .arg(format!("unix://{}", sock.display()))
                .arg("--pidfile")
                .arg(&pid_file),
            &log,
        );
        register("dockerd", child);
        let docker = Docker {
            dir,
            sock,
            daemon_json,
            pid_file,
            bin_dir,
            install_report,
        };
        wait_ready("dockerd", &log, || {
            docker
                .cli()
                .args(["version", "--format", "{{.Server.Version}}"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !spec.e2e_image {
            return docker;
        }
        let import = format!(
            "tar -C {} -c . | {} -H unix://{} import --change '{IMAGE_CMD}' - {IMAGE}",
            rootfs().display(),
            docker_cli().display(),
            docker.sock.display()
        );
        checked(
            Command::new("sh")
                .args(["-c", &import])
                .env("DOCKER_CONFIG", docker.dir.join("cli")),
        );
        docker
    }

    /// `rampart --rampart-config=CONFIG install docker EXTRA...` into this daemon's files
    /// (dockerd reloaded by SIGHUP); returns the report.
    pub fn install(&self, config: &Path, extra: &[&str]) -> String {
        let mut args = vec![
            format!("--rampart-config={}", config.display()),
            "install".into(),
            "docker".into(),
            "--daemon-json".into(),
            self.daemon_json.display().to_string(),
            "--pid-file".into(),
            self.pid_file.display().to_string(),
            "--bin-dir".into(),
            self.bin_dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        rampart(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The docker CLI talking to this daemon.
    pub fn cli(&self) -> Command {
        let mut c = Command::new(docker_cli());
        c.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.join("cli"));
        c
    }

    /// `docker ARGS...` with a 2-minute limit.
    pub fn run(&self, args: &[&str]) -> Output {
        run_timeout(self.cli().args(args), Duration::from_secs(120))
    }

    /// The image as a docker archive (for `ctr images import`), saved once.
    pub fn image_archive(&self) -> PathBuf {
        static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
        ARCHIVE
            .get_or_init(|| {
                let path = self.dir.join("image.tar");
                checked(self.cli().args(["save", "-o"]).arg(&path).arg(IMAGE));
                path
            })
            .clone()
    }
}

/// The `docker` CLI users run (first on PATH).
pub fn docker_cli() -> PathBuf {
    super::which("docker").expect("docker CLI not found (scripts/setup-host)")
}

// ------------------------------------------------------------------------ containerd

pub struct Containerd {
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub config: PathBuf,
    pub bin_dir: PathBuf,
    pub install_report: String,
}

impl Containerd {
    /// The shared private containerd (CRI plugin on), with Rampart's handlers installed by
    /// `rampart --rampart-config CFG install containerd` (one per profile of CFG), running
    /// in a private mount namespace where /etc/rampart/config.toml is CFG.
    pub fn get() -> &'static Containerd {
        static CONTAINERD: OnceLock<Containerd> = OnceLock::new();
        CONTAINERD.get_or_init(Containerd::start)
    }

    fn start() -> Containerd {
        let archive = Docker::get().image_archive();
        let dir = engines_dir().join("containerd");
        fs::create_dir_all(dir.join("cni")).unwrap();
        let pid_file = dir.join("containerd.pid");
        kill_stale(&pid_file, &dir);
        let sock = dir.join("containerd.sock");
        let d = dir.display();
        let config = dir.join("config.toml");
        fs::write(
            &config,
            format!(
                r#"version = 2
root = "{d}/root"
state = "{d}/state"

[grpc]
  address = "{d}/containerd.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE_REF}"
  disable_tcp_service = true
  # Root here cannot lower oom_score_adj (no CAP_SYS_RESOURCE): without this, runc fails
  # every sandbox (CRI asks for -998) with "failed to update /proc/self/oom_score_adj".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
"#
            ),
        )
        .unwrap();
        // A bridge with no gateway, no masquerading and a documentation subnet: pods get
        // an eth0 (CRI requires one) and can reach nothing.
        fs::write(
            dir.join("cni/10-rampart-e2e.conflist"),
            format!(
                r#"{{"cniVersion": "0.4.0", "name": "rampart-e2e", "plugins": [{{"type": "bridge", "bridge": "rampe2e0", "isGateway": false, "ipMasq": false, "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "192.0.2.0/24"}}]], "dataDir": "{d}/ipam"}}}}]}}
"#
            ),
        )
        .unwrap();
        let bin_dir = dir.join("bin");
        let install_report = rampart(&[
            &format!("--rampart-config={}", rampart_config().display()),
            "install",
            "containerd",
            "--config",
            &config.to_string_lossy(),
            "--bin-dir",
            &bin_dir.to_string_lossy(),
            "--runc-root",
            &dir.join("rampart-runc").to_string_lossy(),
        ]);
        // containerd passes no arguments to a runtime, so Rampart under it reads
        // /etc/rampart/config.toml. containerd (and so its shims and Rampart) runs in a
        // private mount namespace whose /etc is an overlay adding rampart/config.toml (the
        // test config): the host's /etc is not touched.
        for e in fs::read_dir(&dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("etc-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let etc = dir.join(format!("etc-{}", std::process::id()));
        fs::create_dir_all(etc.join("upper/rampart")).unwrap();
        fs::create_dir_all(etc.join("work")).unwrap();
        fs::copy(rampart_config(), etc.join("upper/rampart/config.toml")).unwrap();
        let script = format!(
            "mount -t overlay rampart-e2e-etc -o lowerdir=/etc,upperdir={},workdir={} /etc && exec containerd --config {}",
            etc.join("upper").display(),
            etc.join("work").display(),
            config.display()
        );
        let log = dir.join("containerd.log");
        let child = spawn_logged(
            Command::new("unshare").args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ]),
            &log,
        );
        fs::write(&pid_file, child.id().to_string()).unwrap();
        register("containerd", child);
        let c = Containerd {
            dir,
            sock,
            config,
            bin_dir,
            install_report,
        };
        wait_ready("containerd", &log, || {
            c.ctr("default")
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        for ns in ["default", "k8s.io"] {
            checked(c.ctr(ns).args(["images", "import"]).arg(&archive));
        }
        c
    }

    /// `ctr` on this containerd, in namespace `ns`.
    pub fn ctr(&self, ns: &str) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address").arg(&self.sock).args(["--namespace", ns]);
        c
    }
}

// ---------------------------------------------------------------------------- podman

pub struct Podman {
    pub dir: PathBuf,
    pub runroot: PathBuf,
    pub containers_conf: PathBuf,
}

impl Podman {
    /// Private podman storage; `rampart` is a runtime name in a private containers.conf
    /// (`[engine.runtimes] rampart = [PATH]`), as an admin would register it.
    pub fn get() -> &'static Podman {
        static PODMAN: OnceLock<Podman> = OnceLock::new();
        PODMAN.get_or_init(Podman::start)
    }

    fn start() -> Podman {
        let dir = engines_dir().join("podman");
        fs::create_dir_all(dir.join("tmp")).unwrap();
        // podman refuses a runroot longer than 50 characters.
        let mut runroot = dir.join("run");
        if runroot.as_os_str().len() > 50 {
            runroot = PathBuf::from("/run/rampart-e2e-podman");
        }
        let containers_conf = dir.join("containers.conf");
        fs::write(
            &containers_conf,
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"runc\"\n\n\
                 [engine.runtimes]\nrampart = [{:?}]\nrunc = [{:?}]\n",
                rampart_path(),
                runc_path()
            ),
        )
        .unwrap();
        let p = Podman {
            dir,
            runroot,
            containers_conf,
        };
        let import = format!(
            "tar -C {} -c . | podman {} import --change '{IMAGE_CMD}' - {IMAGE}",
            rootfs().display(),
            p.global_flags().join(" ")
        );
        checked(
            Command::new("sh")
                .args(["-c", &import])
                .env("CONTAINERS_CONF", &p.containers_conf),
        );
        p
    }

    fn global_flags(&self) -> Vec<String> {
        vec![
            format!("--root={}", self.dir.join("root").display()),
            format!("--runroot={}", self.runroot.display()),
            format!("--tmpdir={}", self.dir.join("tmp").display()),
            "--storage-driver=vfs".into(),
            "--cgroup-manager=cgroupfs".into(),
            "--events-backend=file".into(),
        ]
    }

    /// podman with private storage and containers.conf.
    pub fn cli(&self) -> Command {
        let mut c = Command::new("podman");
        c.args(self.global_flags())
            .env("CONTAINERS_CONF", &self.containers_conf);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_timeout(self.cli().args(args), Duration::from_secs(120))
    }
}

// ------------------------------------------------------------------------ CRI client

pub mod cri {
    use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
    use k8s_cri::v1::*;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};
    use tonic::transport::{Channel, Endpoint, Uri};

    /// A CRI v1 client on containerd's socket (what the kubelet does), synchronous.
    pub struct Cri {
        rt: tokio::runtime::Runtime,
        client: RuntimeServiceClient<Channel>,
    }

    impl Cri {
        pub fn connect(sock: &Path) -> Cri {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let sock = sock.to_path_buf();
            let channel = rt
                .block_on(
                    Endpoint::try_from("http://[::]")
                        .unwrap()
                        .connect_with_connector(tower::service_fn(move |_: Uri| {
                            let sock = sock.clone();
                            async move {
                                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                                    tokio::net::UnixStream::connect(sock).await?,
                                ))
                            }
                        })),
                )
                .expect("cannot connect to containerd's CRI socket");
            Cri {
                rt,
                client: RuntimeServiceClient::new(channel),
            }
        }

        pub fn version(&self) -> VersionResponse {
            let mut c = self.client.clone();
            self.rt
                .block_on(c.version(VersionRequest::default()))
                .unwrap()
                .into_inner()
        }

        /// RunPodSandbox with `handler` (a RuntimeClass's handler); logs go to `log_dir`.
        pub fn run_pod(
            &self,
            name: &str,
            handler: &str,
            host_network: bool,
            annotations: &[(&str, &str)],
            log_dir: &Path,
        ) -> Result<Pod<'_>, tonic::Status> {
            std::fs::create_dir_all(log_dir).unwrap();
            let uid = format!("{name}-{}", std::process::id());
            let config = PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: name.into(),
                    uid: uid.clone(),
                    namespace: "rampart-e2e".into(),
                    attempt: 0,
                }),
                // The kubelet sets a hostname only for pods with their own network
                // (runc cannot set one without a private UTS namespace).
                hostname: if host_network {
                    String::new()
                } else {
                    name.into()
                },
                log_directory: log_dir.display().to_string(),
                annotations: annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
                linux: Some(LinuxPodSandboxConfig {
                    cgroup_parent: format!("/rampart-e2e-cri/{uid}"),
                    security_context: Some(LinuxSandboxSecurityContext {
                        namespace_options: Some(NamespaceOption {
                            network: if host_network {
                                NamespaceMode::Node as i32
                            } else {
                                NamespaceMode::Pod as i32
                            },
                            pid: NamespaceMode::Container as i32,
                            ipc: NamespaceMode::Pod as i32,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let mut c = self.client.clone();
            let id = self
                .rt
                .block_on(c.run_pod_sandbox(RunPodSandboxRequest {
                    config: Some(config.clone()),
                    runtime_handler: handler.into(),
                }))?
                .into_inner()
                .pod_sandbox_id;
            Ok(Pod {
                cri: self,
                id,
                config,
                log_dir: log_dir.to_path_buf(),
            })
        }
    }

    /// A running pod sandbox; stopped and removed (with its containers) on drop.
    pub struct Pod<'a> {
        cri: &'a Cri,
        pub id: String,
        config: PodSandboxConfig,
        log_dir: PathBuf,
    }

    impl Pod<'_> {
        fn status(&self, verbose: bool) -> PodSandboxStatusResponse {
            let mut c = self.cri.client.clone();
            self.cri
                .rt
                .block_on(c.pod_sandbox_status(PodSandboxStatusRequest {
                    pod_sandbox_id: self.id.clone(),
                    verbose,
                }))
                .unwrap()
                .into_inner()
        }

        /// The sandbox (pause) process's pid, from the verbose PodSandboxStatus.
        pub fn sandbox_pid(&self) -> u32 {
            let st = self.status(true);
            let info: serde_json::Value = serde_json::from_str(&st.info["info"]).unwrap();
            info["pid"].as_u64().expect("no pid in the sandbox info") as u32
        }

        /// Creates and starts a container running `command`, waits for it to exit and
        /// returns (exit code, its stdout as logged by containerd).
        pub fn run_container(
            &self,
            name: &str,
            command: &[&str],
            annotations: &[(&str, &str)],
        ) -> (i32, String) {
            self.try_run_container(name, command, annotations)
                .unwrap_or_else(|e| panic!("{e}"))
        }

        /// [`Pod::run_container`], or the message of the CRI call that failed.
        pub fn try_run_container(
            &self,
            name: &str,
            command: &[&str],
            annotations: &[(&str, &str)],
        ) -> Result<(i32, String), String> {
            let id = self.try_start_container(name, command, annotations)?;
            let mut c = self.cri.client.clone();
            let rt = &self.cri.rt;
            let log_path = format!("{name}.log");
            let deadline = Instant::now() + Duration::from_secs(60);
            let exit_code = loop {
                let st = rt
                    .block_on(c.container_status(ContainerStatusRequest {
                        container_id: id.clone(),
                        verbose: false,
                    }))
                    .unwrap()
                    .into_inner()
                    .status
                    .unwrap();
                if st.state == ContainerState::ContainerExited as i32 {
                    break st.exit_code;
                }
                assert!(Instant::now() < deadline, "container {name} did not exit");
                std::thread::sleep(Duration::from_millis(50));
            };
            // CRI log lines: TIMESTAMP STREAM TAG MESSAGE.
            let log = std::fs::read_to_string(self.log_dir.join(&log_path)).unwrap_or_default();
            let stdout = log
                .lines()
                .filter_map(|l| {
                    let mut parts = l.splitn(4, ' ');
                    let (_, stream, _, msg) = (
                        parts.next()?,
                        parts.next()?,
                        parts.next()?,
                        parts.next().unwrap_or(""),
                    );
                    (stream == "stdout").then(|| format!("{msg}\n"))
                })
                .collect();
            Ok((exit_code, stdout))
        }

        /// The pod's IP address (CNI's), from PodSandboxStatus.
        pub fn ip(&self) -> String {
            self.status(false)
                .status
                .and_then(|s| s.network)
                .map(|n| n.ip)
                .unwrap_or_default()
        }

        /// ExecSync in container `id` (what `kubectl exec` does): (exit code, stdout, stderr).
        pub fn exec_sync(&self, id: &str, cmd: &[&str]) -> (i32, String, String) {
            let mut c = self.cri.client.clone();
            let r = self
                .cri
                .rt
                .block_on(c.exec_sync(ExecSyncRequest {
                    container_id: id.into(),
                    cmd: cmd.iter().map(|s| s.to_string()).collect(),
                    timeout: 30,
                }))
                .unwrap_or_else(|e| panic!("ExecSync: {}", e.message()))
                .into_inner();
            (
                r.exit_code,
                String::from_utf8_lossy(&r.stdout).into(),
                String::from_utf8_lossy(&r.stderr).into(),
            )
        }

        /// Creates and starts a container running `command`; returns its id (it keeps running).
        pub fn try_start_container(
            &self,
            name: &str,
            command: &[&str],
            annotations: &[(&str, &str)],
        ) -> Result<String, String> {
            self.start_with_mounts(name, command, annotations, &[])
        }

        /// [`Pod::try_start_container`] with host directories mounted (host path, container
        /// path), as the kubelet mounts a pod's volumes.
        pub fn start_with_mounts(
            &self,
            name: &str,
            command: &[&str],
            annotations: &[(&str, &str)],
            mounts: &[(&Path, &str)],
        ) -> Result<String, String> {
            let mut c = self.cri.client.clone();
            let rt = &self.cri.rt;
            let log_path = format!("{name}.log");
            let id = rt
                .block_on(
                    c.create_container(CreateContainerRequest {
                        pod_sandbox_id: self.id.clone(),
                        config: Some(ContainerConfig {
                            metadata: Some(ContainerMetadata {
                                name: name.into(),
                                attempt: 0,
                            }),
                            image: Some(ImageSpec {
                                image: super::IMAGE_REF.into(),
                                ..Default::default()
                            }),
                            command: command.iter().map(|s| s.to_string()).collect(),
                            log_path: log_path.clone(),
                            mounts: mounts
                                .iter()
                                .map(|(host, inside)| Mount {
                                    container_path: inside.to_string(),
                                    host_path: host.display().to_string(),
                                    ..Default::default()
                                })
                                .collect(),
                            // As the kubelet does: the pod's namespace options.
                            linux: Some(LinuxContainerConfig {
                                security_context: Some(LinuxContainerSecurityContext {
                                    namespace_options: self
                                        .config
                                        .linux
                                        .as_ref()
                                        .and_then(|l| l.security_context.as_ref())
                                        .and_then(|s| s.namespace_options.clone()),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }),
                            annotations: annotations
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .collect(),
                            ..Default::default()
                        }),
                        sandbox_config: Some(self.config.clone()),
                    }),
                )
                .map_err(|e| format!("CreateContainer: {}", e.message()))?
                .into_inner()
                .container_id;
            rt.block_on(c.start_container(StartContainerRequest {
                container_id: id.clone(),
            }))
            .map_err(|e| format!("StartContainer: {}", e.message()))?;
            Ok(id)
        }
    }

    impl Drop for Pod<'_> {
        fn drop(&mut self) {
            let mut c = self.cri.client.clone();
            let _ = self
                .cri
                .rt
                .block_on(c.stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: self.id.clone(),
                }));
            let _ = self
                .cri
                .rt
                .block_on(c.remove_pod_sandbox(RemovePodSandboxRequest {
                    pod_sandbox_id: self.id.clone(),
                }));
        }
    }
}
