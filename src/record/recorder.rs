//! `rampart __record ...`: the recorder process `create` starts (detached, see
//! [`super::spawn`]). It attaches the eBPF probes seeded with the runc that is about to run,
//! says `ok` (or `error: why`) on fd 3, waits for runc's state.json (bounded), records from
//! the container's first exec until its init exits, drains, and writes the recording.
//! It exits without writing when runc fails before creating the container or the container
//! is deleted without ever starting.

use super::bpf;
use super::recording::{self, EvidenceSet, Recording};
use super::writes;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The hidden subcommand's name (argv[1]).
pub const COMMAND: &str = "__record";

/// How long runc may take to write state.json after the recorder attached.
const STATE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Default)]
struct Args {
    name: String,
    id: String,
    root: PathBuf,
    dir: PathBuf,
    runc_pid: u32,
    engine: String,
    request: Value,
}

fn parse(argv: &[OsString]) -> Result<Args> {
    let mut a = Args::default();
    let mut it = argv.iter().map(|s| s.to_string_lossy().into_owned());
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--name" => a.name = v,
            "--id" => a.id = v,
            "--root" => a.root = v.into(),
            "--dir" => a.dir = v.into(),
            "--runc-pid" => a.runc_pid = v.parse().context("--runc-pid")?,
            "--engine" => a.engine = v,
            "--request" => a.request = serde_json::from_str(&v).context("--request")?,
            _ => bail!("unknown argument {k}"),
        }
    }
    super::check_name(&a.name)?;
    super::check_id(&a.id)?;
    if a.id.is_empty() || a.runc_pid == 0 || a.root.as_os_str().is_empty() {
        bail!("--id, --root and --runc-pid are needed");
    }
    Ok(a)
}

/// Entry point for `rampart __record ARGS...` (argv[0] is the program).
pub fn main(argv: &[OsString]) -> i32 {
    // SAFETY: fd 3 is the readiness pipe spawn() set up; when run by hand it may be
    // anything or nothing, and writes to it are then only lost.
    let ready = unsafe { OwnedFd::from_raw_fd(3) };
    let mut ready = std::fs::File::from(ready);
    let attached = parse(argv.get(2..).unwrap_or_default()).and_then(attach);
    let (args, session) = match attached {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(ready, "error: {e:#}");
            return 1;
        }
    };
    let _ = writeln!(ready, "ok");
    drop(ready);
    match session.record(&args) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

struct Session {
    loaded: bpf::Loaded,
    runc: Option<OwnedFd>,
    kprobe: bool,
}

fn attach(a: Args) -> Result<(Args, Session)> {
    if cfg!(debug_assertions) && std::env::var_os("RAMPART_TEST_RECORDER_FAIL").is_some() {
        bail!("injected failure (RAMPART_TEST_RECORDER_FAIL, test builds only)");
    }
    let ns = std::fs::metadata(format!("/proc/{}/ns/mnt", a.runc_pid))
        .with_context(|| format!("cannot read the mount namespace of pid {}", a.runc_pid))?
        .ino();
    let runc = pidfd(a.runc_pid).ok();
    let loaded = bpf::attach(a.runc_pid, ns as u32, true)?;
    let kprobe = loaded.kprobe.is_ok();
    Ok((
        a,
        Session {
            loaded,
            runc,
            kprobe,
        },
    ))
}

fn pidfd(pid: u32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    if fd < 0 {
        bail!("pidfd_open({pid}): {}", std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor just returned to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether a pidfd's process has exited (or the fd is gone), waiting up to `ms`.
fn exited(fd: &OwnedFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// The realtime clock's reading for a CLOCK_BOOTTIME nanosecond stamp.
fn wall(boot_ns: u64) -> SystemTime {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    let now_boot = if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0 {
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    } else {
        boot_ns
    };
    SystemTime::now() - Duration::from_nanos(now_boot.saturating_sub(boot_ns))
}

/// [`Session::written`]: None when the rootfs was gone.
struct Written {
    paths: Option<Vec<String>>,
    cut: bool,
    source: &'static str,
}

struct Container {
    init_pid: u32,
    init: Option<OwnedFd>,
    rootfs: PathBuf,
    cgroups: BTreeMap<String, String>,
    upperdir: Option<PathBuf>,
}

impl Session {
    /// Waits for runc's state.json: None when runc went away without writing it.
    fn wait_state(&mut self, a: &Args) -> Option<Value> {
        let deadline = Instant::now() + STATE_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = crate::exec::state_json(Some(&a.root), &a.id) {
                return Some(s);
            }
            let gone = self.runc.as_ref().is_some_and(|fd| exited(fd, 10));
            if gone {
                // state.json is written before `runc create` exits: one last look.
                return crate::exec::state_json(Some(&a.root), &a.id).ok().flatten();
            }
            if self.runc.is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        None
    }

    fn container(&self, state: &Value) -> Container {
        let init_pid = state
            .get("init_process_pid")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32;
        let start = state.get("init_process_start").and_then(Value::as_u64);
        // The pid is the container's init only while its start time matches runc's.
        let same = start.is_some_and(|s| start_time(init_pid) == Some(s));
        let init = if same { pidfd(init_pid).ok() } else { None };
        let upperdir = std::fs::read_to_string(format!("/proc/{init_pid}/mountinfo"))
            .ok()
            .filter(|_| same)
            .and_then(|m| writes::overlay_upperdir(&m));
        Container {
            init_pid,
            init,
            rootfs: state
                .pointer("/config/rootfs")
                .and_then(Value::as_str)
                .map(PathBuf::from)
                .unwrap_or_default(),
            cgroups: state
                .get("cgroup_paths")
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            upperdir,
        }
    }

    fn record(mut self, a: &Args) -> Result<()> {
        let c = match self.wait_state(a) {
            Some(state) => self.container(&state),
            // `runc run` of a container that ended before its state.json was read (runc
            // removes it): the probes saw it run; only its rootfs and cgroup are unknown.
            None if self.loaded.config()?.started != 0 => Container {
                init_pid: self.loaded.config()?.init_tgid,
                init: None,
                rootfs: PathBuf::new(),
                cgroups: BTreeMap::new(),
                upperdir: None,
            },
            None => return Ok(()),
        };
        let mut evidence = EvidenceSet::default();
        let mut pids_seen = 0u64;
        let mut last_sample = Instant::now() - Duration::from_secs(1);
        let mut exit_note = None;
        loop {
            self.drain(&mut evidence);
            let cfg = self.loaded.config()?;
            if cfg.ended != 0 {
                break;
            }
            if last_sample.elapsed() >= Duration::from_millis(250) {
                last_sample = Instant::now();
                pids_seen = pids_seen.max(writes::pids_now(&c.cgroups).unwrap_or(0));
            }
            let init_gone = match &c.init {
                Some(fd) => exited(fd, 0),
                None => std::fs::metadata(format!("/proc/{}", c.init_pid)).is_err(),
            };
            if init_gone {
                let cfg = self.loaded.config()?;
                if cfg.started == 0 {
                    // Deleted (or failed) before it ever ran: nothing to record.
                    return Ok(());
                }
                if cfg.ended == 0 {
                    exit_note =
                        Some("the container's init exited unseen by the exit probe".to_string());
                }
                break;
            }
            self.wait_ring(50);
        }
        let written = self.written(a, &c)?;
        let peaks = writes::peaks(&c.cgroups, pids_seen);
        // Processes the kernel kills with the init end now: let their last exits land.
        std::thread::sleep(Duration::from_millis(50));
        self.drain(&mut evidence);
        let rec = self.finish(a, &c, evidence, (written, peaks), exit_note)?;
        let dir = a.dir.join(&a.name);
        write_atomic(&dir, &file_name(&dir, &a.id), &rec)
    }

    fn wait_ring(&self, ms: i32) {
        #[cfg(rampart_bpf)]
        {
            let mut p = libc::pollfd {
                fd: self.loaded.ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut p, 1, ms) };
        }
        #[cfg(not(rampart_bpf))]
        std::thread::sleep(Duration::from_millis(ms as u64));
    }

    fn drain(&mut self, evidence: &mut EvidenceSet) {
        #[cfg(rampart_bpf)]
        while let Some(item) = self.loaded.ring.next() {
            if let Some(ev) = recording::RawEvent::parse(&item)
                && ev.kind == recording::EV_EVIDENCE
            {
                evidence.add(&ev);
            }
        }
        #[cfg(not(rampart_bpf))]
        let _ = evidence;
    }

    fn finish(
        &self,
        a: &Args,
        c: &Container,
        evidence: EvidenceSet,
        (w, peaks): (Written, serde_json::Map<String, Value>),
        exit_note: Option<String>,
    ) -> Result<Recording> {
        let cfg = self.loaded.config()?;
        let stats = self.loaded.stats()?;
        let started = wall(cfg.start_ns);
        let ended = if cfg.ended != 0 {
            wall(cfg.end_ns)
        } else {
            SystemTime::now()
        };
        let mut notes: Vec<String> = exit_note.into_iter().collect();
        for (n, what) in [
            (stats.lost_events, "evidence events lost (ring buffer full)"),
            (stats.counts_full, "syscall counts lost (map full)"),
            (stats.procs_full, "processes not followed (map full)"),
            (
                stats.pending_full,
                "syscalls' arguments not kept (map full)",
            ),
            (
                evidence.dropped,
                "distinct evidence entries past the limit not kept",
            ),
        ] {
            if n > 0 {
                notes.push(format!("{n} {what}"));
            }
        }
        let written_ok = match &w.paths {
            Some(_) if w.cut => {
                notes.push("the rootfs walk stopped at 200000 entries: writes incomplete".into());
                false
            }
            Some(_) => true,
            None => {
                notes.push("the rootfs was gone at exit: writes unknown".into());
                false
            }
        };
        let caps = if self.kprobe {
            recording::capability_checks(&self.loaded.caps()?)
        } else {
            Vec::new()
        };
        let lost = stats.lost();
        Ok(Recording {
            schema: recording::SCHEMA,
            name: a.name.clone(),
            container_id: a.id.clone(),
            engine: a.engine.clone(),
            started: crate::host::rfc3339(started),
            ended: crate::host::rfc3339(ended),
            complete: lost == 0
                && stats.pending_full == 0
                && evidence.dropped == 0
                && cfg.started != 0
                && written_ok,
            lost_events: lost + stats.pending_full + evidence.dropped,
            source: recording::Source {
                syscalls: "tp_btf/sys_enter+sys_exit".into(),
                capabilities: if self.kprobe {
                    "kprobe/cap_capable".into()
                } else {
                    "inferred".into()
                },
            },
            request: a.request.clone(),
            syscalls: recording::syscalls(&self.loaded.counts()?),
            capability_checks: caps,
            evidence: evidence.items,
            writes: recording::collapse_writes(w.paths.unwrap_or_default(), 8),
            peaks,
            writes_source: w.source.into(),
            notes,
            init_pid: c.init_pid,
        })
    }

    /// What the container wrote, read as soon as its init exited (an engine may remove the
    /// writable layer right after `delete`).
    fn written(&self, a: &Args, c: &Container) -> Result<Written> {
        let started = wall(self.loaded.config()?.start_ns);
        // runc's mount points were made before the first exec; the coarse clock that
        // stamps ctime may lag the exec by a tick.
        let since = started
            .checked_sub(Duration::from_millis(20))
            .unwrap_or(started)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let since = (since.as_secs() as i64, i64::from(since.subsec_nanos()));
        let skip: Vec<String> = a
            .request
            .get("mounts")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m.get("destination")?.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let (root, source) = match &c.upperdir {
            Some(u) => (u.clone(), "overlay-upperdir"),
            None => (c.rootfs.clone(), "rootfs-ctime"),
        };
        if root.as_os_str().is_empty() || !root.is_dir() {
            return Ok(Written {
                paths: None,
                cut: false,
                source: "none",
            });
        }
        let (paths, cut) = writes::changed_since(&root, since, &skip, 200_000);
        Ok(Written {
            paths: Some(paths),
            cut,
            source,
        })
    }
}

use crate::host::start_time;

/// `<id>.json`, or `<id>.N.json` (N = 2, 3...) when the same container was recorded
/// before (`docker restart` creates it again under its id): no run's recording is lost.
fn file_name(dir: &Path, id: &str) -> String {
    let mut name = format!("{id}.json");
    let mut n = 2;
    while dir.join(&name).exists() {
        name = format!("{id}.{n}.json");
        n += 1;
    }
    name
}

/// `dir/file`, written whole or not at all (a temporary file renamed over it).
pub fn write_atomic(dir: &Path, file: &str, rec: &Recording) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".{file}.tmp"));
    let mut bytes = serde_json::to_vec_pretty(rec)?;
    bytes.push(b'\n');
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(file))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        let v = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        let a = parse(&v(&[
            "--name",
            "web",
            "--id",
            "c1",
            "--root",
            "/run/runc",
            "--dir",
            "/l",
            "--runc-pid",
            "7",
            "--engine",
            "runc",
            "--request",
            "{\"args\":[\"x\"]}",
        ]))
        .unwrap();
        assert_eq!((a.name.as_str(), a.runc_pid), ("web", 7));
        assert_eq!(a.request["args"][0], "x");
        assert!(
            parse(&v(&[
                "--name",
                "Web",
                "--id",
                "c",
                "--root",
                "/r",
                "--runc-pid",
                "1"
            ]))
            .is_err()
        );
        assert!(parse(&v(&["--name", "web", "--id"])).is_err());
        assert!(parse(&v(&["--bogus", "1"])).is_err());
    }

    #[test]
    fn our_own_start_time_is_read() {
        assert!(start_time(std::process::id()).is_some());
        assert_eq!(start_time(u32::MAX), None);
    }

    #[test]
    fn recordings_are_written_whole() {
        let dir = std::env::temp_dir().join(format!("rampart-rec-{}", std::process::id()));
        let rec = Recording {
            schema: 1,
            name: "web".into(),
            ..Default::default()
        };
        assert_eq!(file_name(&dir.join("web"), "c1"), "c1.json");
        write_atomic(&dir.join("web"), "c1.json", &rec).unwrap();
        assert_eq!(file_name(&dir.join("web"), "c1"), "c1.2.json");
        let v: Value =
            serde_json::from_slice(&std::fs::read(dir.join("web/c1.json")).unwrap()).unwrap();
        assert_eq!(v["name"], "web");
        assert_eq!(v["schema"], 1);
        assert!(!dir.join("web/.c1.json.tmp").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
