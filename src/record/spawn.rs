//! The create side of a recording: the request summary the recording keeps, and starting
//! the recorder fully detached before runc runs. `create` waits until the recorder says
//! its probes are attached (or why not: then the container does not start).

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the recorder needs to know.
pub struct Request<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub runc_root: Option<&'a Path>,
    pub learn_dir: &'a Path,
    pub engine: &'a str,
    /// The `request` object of the recording ([`summary`]).
    pub request: Value,
}

/// How long `create` waits for the recorder to attach.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The recording's `request`: what the container runs with.
pub fn summary(spec: &crate::spec::Spec, profile_base: &str) -> Value {
    let get = |p: &str| spec.get(p).cloned().unwrap_or(Value::Null);
    let mounts: Vec<Value> = spec
        .get("/mounts")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
                    let src = m.get("source").and_then(Value::as_str).unwrap_or("");
                    json!({
                        "destination": m.get("destination").cloned().unwrap_or(Value::Null),
                        "type": ty,
                        "source_kind": source_kind(ty, src),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "profile_base": profile_base,
        "capabilities": get("/process/capabilities/bounding"),
        "readonly_rootfs": spec.get("/root/readonly").and_then(Value::as_bool).unwrap_or(false),
        "mounts": mounts,
        "args": get("/process/args"),
        "user": {"uid": get("/process/user/uid"), "gid": get("/process/user/gid")},
        "no_new_privileges": true,
        "seccomp": spec.get("/linux/seccomp").is_some(),
    })
}

/// volume | host | tmpfs | engine | other, for a mount's type and source.
pub fn source_kind(ty: &str, source: &str) -> &'static str {
    let bind = ty == "bind" || ty.is_empty() || ty == "rbind";
    if ty == "tmpfs" {
        "tmpfs"
    } else if !bind {
        "other"
    } else if source.contains("/volumes/") {
        "volume"
    } else if crate::policy::mounts::engine_file(source)
        || crate::policy::mounts::engine_state(source).is_some()
    {
        "engine"
    } else {
        "host"
    }
}

/// Which engine asked: CRI by its annotations, Docker by its runc root (`.../moby`:
/// dockerd runs runtimes with arguments through a wrapper script, so the caller's name is
/// the script's), podman by conmon, containerd by its shim or root.
pub fn engine(
    caller: Option<&str>,
    runc_root: Option<&Path>,
    spec: &crate::spec::Spec,
) -> &'static str {
    let annotated = |k: &str| spec.get("/annotations").and_then(|a| a.get(k)).is_some();
    let root = runc_root
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_default();
    if annotated("io.kubernetes.cri.container-type")
        || annotated("io.kubernetes.cri-o.ContainerType")
    {
        "cri"
    } else if root.trim_end_matches('/').ends_with("/moby") {
        "docker"
    } else if caller == Some("conmon") {
        "podman"
    } else if caller.is_some_and(|c| c.starts_with("containerd-shim"))
        || root.contains("containerd")
    {
        "containerd"
    } else {
        "runc"
    }
}

/// The recorder's argv (after the program): everything it needs, by name.
pub fn recorder_args(r: &Request, runc_pid: u32) -> Result<Vec<String>> {
    let abs = |p: &Path| -> Result<PathBuf> {
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()?.join(p)
        })
    };
    let root = abs(r
        .runc_root
        .unwrap_or(Path::new(crate::exec::RUNC_DEFAULT_ROOT)))?;
    Ok(vec![
        "__record".into(),
        "--name".into(),
        r.name.into(),
        "--id".into(),
        r.id.into(),
        "--root".into(),
        root.display().to_string(),
        "--dir".into(),
        abs(r.learn_dir)?.display().to_string(),
        "--runc-pid".into(),
        runc_pid.to_string(),
        "--engine".into(),
        r.engine.into(),
        "--request".into(),
        r.request.to_string(),
    ])
}

/// Starts the recorder detached (double fork, new session, stdio on /dev/null, every
/// other descriptor closed but the readiness pipe, as fd 3) and waits for its word.
/// The recorder records this process's pid: the runc that is exec'd next.
pub fn spawn(r: &Request) -> Result<()> {
    super::check_id(r.id)?;
    let exe = CString::new("/proc/self/exe")?;
    let args: Vec<CString> = std::iter::once("rampart".to_string())
        .chain(recorder_args(r, std::process::id())?)
        .map(CString::new)
        .collect::<Result<_, _>>()?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let devnull = CString::new("/dev/null")?;
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: Rampart is single-threaded here; the children only make async-signal-safe
    // calls (setsid, fork, open, dup2, close_range, execv, _exit) on data prepared above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::setsid();
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            let null = libc::open(devnull.as_ptr(), libc::O_RDWR);
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            libc::dup2(wr.as_raw_fd(), 3);
            libc::close_range(4, u32::MAX, 0);
            libc::execv(exe.as_ptr(), argv.as_ptr());
            let msg = b"error: cannot exec /proc/self/exe\n";
            libc::write(3, msg.as_ptr().cast(), msg.len());
            libc::_exit(127);
        }
    }
    drop(wr);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    let word = read_word(rd, READY_TIMEOUT)?;
    match word.trim() {
        "ok" => Ok(()),
        "" => bail!("the recorder exited without a word"),
        w => bail!("{}", w.strip_prefix("error: ").unwrap_or(w)),
    }
}

/// Everything the recorder writes on the pipe until it closes it (or the timeout).
fn read_word(rd: OwnedFd, timeout: Duration) -> Result<String> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + timeout;
    let mut out = Vec::new();
    let mut f = std::fs::File::from(rd);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            bail!("the recorder did not attach within {}s", timeout.as_secs());
        }
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            bail!("poll: {e}");
        }
        if n == 0 {
            continue;
        }
        let mut buf = [0u8; 512];
        match f.read(&mut buf)? {
            0 => break,
            k => out.extend_from_slice(&buf[..k]),
        }
        if out.len() > 4096 || out.ends_with(b"\n") {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// For `create` under `learn:NAME`: starts the recorder for container `id`, or fails
/// (closed: the container does not start unrecorded) with what went wrong and the fix.
pub fn start(
    name: &str,
    id: &str,
    runc_root: Option<&Path>,
    settings: &crate::settings::Settings,
    spec: &crate::spec::Spec,
) -> Result<()> {
    let dir = settings
        .learn_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(super::DEFAULT_DIR));
    let req = Request {
        name,
        id,
        runc_root,
        learn_dir: &dir,
        engine: engine(settings.caller.as_deref(), runc_root, spec),
        request: summary(spec, crate::profile::LEARN_BASE),
    };
    spawn(&req).map_err(|e| crate::errors::Refusal(failed(name, &e)).into())
}

/// The message `create` fails with.
pub fn failed(name: &str, why: &anyhow::Error) -> String {
    format!(
        "recording asked (learn:{name}) but the recorder failed: {why:#}. Run `rampart doctor` (recording needs root, BTF and tp_btf tracing), or start the container without learn:{name}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_classified_by_type_and_source() {
        assert_eq!(source_kind("tmpfs", "tmpfs"), "tmpfs");
        assert_eq!(source_kind("proc", "proc"), "other");
        assert_eq!(
            source_kind("bind", "/var/lib/docker/volumes/v1/_data"),
            "volume"
        );
        assert_eq!(source_kind("bind", "/srv/data"), "host");
        assert_eq!(
            source_kind("bind", "/var/lib/docker/containers/abc/hostname"),
            "engine"
        );
    }

    #[test]
    fn the_summary_keeps_what_the_container_runs_with() {
        let spec = crate::spec::Spec::from_slice(
            br#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":false},
            "process":{"args":["nginx","-g","daemon off;"],"cwd":"/","user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_CHOWN"]}},
            "mounts":[{"destination":"/data","type":"bind","source":"/srv/d","options":["rbind"]}]}"#,
        )
        .unwrap();
        let s = summary(&spec, "restricted");
        assert_eq!(s["capabilities"], json!(["CAP_CHOWN"]));
        assert_eq!(s["args"][0], "nginx");
        assert_eq!(s["readonly_rootfs"], false);
        assert_eq!(s["mounts"][0]["source_kind"], "host");
        assert_eq!(s["user"], json!({"uid": 0, "gid": 0}));
        assert_eq!(engine(Some("bash"), None, &spec), "runc");
        assert_eq!(engine(Some("conmon"), None, &spec), "podman");
        assert_eq!(engine(Some("containerd-shim"), None, &spec), "containerd");
        let moby = Path::new("/run/docker/runtime-runc/moby");
        assert_eq!(engine(Some("rampart-learn-n"), Some(moby), &spec), "docker");
    }

    #[test]
    fn the_recorder_is_told_absolute_paths() {
        let r = Request {
            name: "web",
            id: "c1",
            runc_root: Some(Path::new("rel/root")),
            learn_dir: Path::new("/l"),
            engine: "runc",
            request: json!({}),
        };
        let a = recorder_args(&r, 42).unwrap();
        let root = &a[a.iter().position(|x| x == "--root").unwrap() + 1];
        assert!(root.starts_with('/') && root.ends_with("rel/root"));
        assert!(a.windows(2).any(|w| w[0] == "--runc-pid" && w[1] == "42"));
    }
}
