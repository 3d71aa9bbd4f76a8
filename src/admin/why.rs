//! `rampart why CONTAINER`: when hardening breaks a program, what Rampart changed for that
//! container, what each change typically breaks, and the fix. Reads the container's create
//! record from the audit log (config `audit_log`); CONTAINER is an id, an id prefix, a
//! Docker name (resolved with `docker inspect` when the docker CLI is on PATH) or a bundle.

use crate::argv::Invocation;
use crate::host::Host;
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "rampart why",
    about = "Show what Rampart changed for a container, what that breaks, and the fix"
)]
struct Args {
    /// Container id, id prefix, Docker name, or bundle directory.
    container: String,
}

/// One create record of the audit log (src/audit.rs), as much of it as `why` reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct Rec {
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub command: String,
    pub id: Option<String>,
    pub bundle: Option<String>,
    #[serde(default)]
    pub profile: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default, deserialize_with = "any_changes")]
    pub changes: Vec<Changed>,
    #[serde(default)]
    pub refusals: Vec<Value>,
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct Changed {
    pub step: String,
    pub field: String,
    #[serde(default)]
    pub before: Value,
    #[serde(default)]
    pub after: Value,
    #[serde(default)]
    pub reason: String,
}

/// This command's parser, for the command tree (help, completions, man pages).
pub fn command() -> clap::Command {
    Args::command()
}

/// Schema 1's list or schema 2's object (see [`crate::audit`]).
fn any_changes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Changed>, D::Error> {
    let v = <Value as serde::Deserialize>::deserialize(d)?;
    Ok(crate::audit::expand(&v)
        .into_iter()
        .map(|(step, field, before, after, reason)| Changed {
            step,
            field,
            before,
            after,
            reason,
        })
        .collect())
}

pub fn main(inv: &Invocation, args: &[std::ffi::OsString], host: &dyn Host) -> i32 {
    // An error's own lines (the list of matching containers) are kept.
    super::text_command(
        args,
        |a: Args| run(inv, host, &a),
        |e| format!("rampart why: {e:#}"),
    )
}

fn run(inv: &Invocation, host: &dyn Host, args: &Args) -> Result<String> {
    let settings = Settings::without_runtime(inv, None)?;
    let log = &settings.audit_log;
    let text = std::fs::read_to_string(log)
        .with_context(|| format!("cannot read the audit log {}", log.display()))?;
    let records = parse(&text);
    let rec = find(&records, &args.container, &|name| docker_id(host, name))
        .with_context(|| format!("(audit log {})", log.display()))
        .map_err(|e| anyhow::anyhow!("{}\n{}", e.root_cause(), e))?;
    let allow = settings
        .profiles
        .load(&rec.profile)
        .ok()
        .map(|p| p.capabilities.allow);
    let hardened = rec
        .bundle
        .as_deref()
        .and_then(|b| std::fs::read(Path::new(b).join("config.json")).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    Ok(render(rec, allow.as_deref(), hardened.as_ref()))
}

/// The create records of the log, oldest first; lines that are not records are skipped.
pub(crate) fn parse(text: &str) -> Vec<Rec> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Rec>(l).ok())
        .filter(|r| r.command == "create" || r.command == "run")
        .collect()
}

/// `docker inspect --format '{{.Id}}' NAME` when a docker CLI is on PATH.
fn docker_id(host: &dyn Host, name: &str) -> Result<String, String> {
    let docker = host
        .path_var()
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("docker"))
                .find(|d| d.is_file())
        })
        .ok_or("names need the docker CLI on PATH")?;
    let out = std::process::Command::new(&docker)
        .args(["inspect", "--format", "{{.Id}}", "--", name])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", docker.display()))?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || id.is_empty() || id.contains(char::is_whitespace) {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("docker inspect {name}: {}", err.trim()));
    }
    Ok(id)
}

/// The record of one container: a bundle (a path), else an exact id, else a Docker name,
/// else an id prefix (Docker's order). Records of one id (a restarted container) give the
/// newest; records of several ids are an error that lists them.
pub(crate) fn find<'r>(
    records: &'r [Rec],
    target: &str,
    resolve_name: &dyn Fn(&str) -> Result<String, String>,
) -> Result<&'r Rec> {
    if target.is_empty() {
        bail!("no container given");
    }
    let newest_of = |pick: &dyn Fn(&Rec) -> bool| -> Vec<&'r Rec> {
        let mut by_id: Vec<&'r Rec> = Vec::new();
        for r in records.iter().filter(|r| pick(r)) {
            match by_id.iter_mut().find(|x| x.id == r.id) {
                Some(x) => *x = r,
                None => by_id.push(r),
            }
        }
        by_id
    };
    let one = |found: Vec<&'r Rec>, what: &str| -> Result<Option<&'r Rec>> {
        match found.as_slice() {
            [] => Ok(None),
            [r] => Ok(Some(*r)),
            many => {
                let list: Vec<String> = many
                    .iter()
                    .map(|r| {
                        format!(
                            "  {} (bundle {}, {}, {})",
                            r.id.as_deref().unwrap_or("-"),
                            r.bundle.as_deref().unwrap_or("-"),
                            r.time,
                            r.outcome
                        )
                    })
                    .collect();
                bail!(
                    "{what} matches {} containers; give more of the id:\n{}",
                    many.len(),
                    list.join("\n")
                )
            }
        }
    };
    let path = Path::new(target);
    if target.contains('/') || target == "." || target == ".." || path.is_dir() {
        let want: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let want = want.display().to_string();
        let trimmed = target.trim_end_matches('/');
        let found = newest_of(&|r| {
            r.bundle
                .as_deref()
                .is_some_and(|b| b == want || b == trimmed)
        });
        return one(found, &format!("bundle {want}"))?
            .with_context(|| format!("no create record for the bundle {want}"));
    }
    if let Some(r) = one(
        newest_of(&|r| r.id.as_deref() == Some(target)),
        &format!("id {target}"),
    )? {
        return Ok(r);
    }
    let name = resolve_name(target);
    if let Ok(id) = &name
        && let Some(r) = one(
            newest_of(&|r| r.id.as_deref() == Some(id.as_str())),
            &format!("name {target} ({id})"),
        )?
    {
        return Ok(r);
    }
    if let Some(r) = one(
        newest_of(&|r| r.id.as_deref().is_some_and(|i| i.starts_with(target))),
        &format!("id prefix {target}"),
    )? {
        return Ok(r);
    }
    match name {
        Ok(id) => bail!(
            "no create record for {target} (docker id {id}): it was not started by Rampart, or before this audit log"
        ),
        Err(why) => bail!(
            "no create record for {target} as an id or id prefix; {why} (or give the container id or its bundle directory)"
        ),
    }
}

/// What one change typically breaks, and the fix.
#[derive(Debug, PartialEq)]
pub(crate) struct Advice {
    pub what: String,
    pub breaks: String,
    pub fix: String,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// What a capability lets a program do, in the words of what fails without it.
fn capability_use(cap: &str) -> Option<&'static str> {
    Some(match cap.trim_start_matches("CAP_") {
        "CHOWN" => "chown (package installs, entrypoints that chown their volumes)",
        "DAC_OVERRIDE" => "root reading or writing files it does not own",
        "FOWNER" => "chmod/utime of other users' files",
        "FSETID" => "keeping setuid/setgid bits on written files",
        "SETUID" | "SETGID" => "switching user (su, gosu, servers that drop to their own user)",
        "NET_BIND_SERVICE" => "binding ports below 1024",
        "NET_RAW" => "ping and raw sockets",
        "KILL" => "signalling other users' processes",
        "MKNOD" => "creating device nodes",
        "SYS_CHROOT" => "chroot",
        "AUDIT_WRITE" => "writing audit records (sshd, login)",
        "SETFCAP" => "setting file capabilities",
        "SETPCAP" => "changing capability sets",
        "NET_ADMIN" => "configuring interfaces, routes and firewalls",
        "SYS_PTRACE" => "ptrace, strace and debuggers",
        "SYS_ADMIN" => "mount and many administrative calls",
        _ => return None,
    })
}

fn writable_paths(hardened: Option<&Value>, tmpfs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = tmpfs.to_vec();
    if let Some(Value::Array(mounts)) = hardened.and_then(|s| s.get("mounts")) {
        for m in mounts {
            let dst = m.get("destination").and_then(Value::as_str).unwrap_or("");
            let ro = strings(m.get("options").unwrap_or(&Value::Null))
                .iter()
                .any(|o| o == "ro");
            let system = ["/proc", "/sys", "/dev"]
                .iter()
                .any(|s| dst == *s || dst.starts_with(&format!("{s}/")));
            if !ro && !system && !dst.is_empty() && !out.iter().any(|o| o == dst) {
                out.push(dst.to_string());
            }
        }
    }
    out
}

/// The advice for one change of `rec`, or None for a change that needs none (a note, or a
/// part of a change advised elsewhere).
pub(crate) fn advice(
    c: &Changed,
    rec: &Rec,
    allow: Option<&[String]>,
    hardened: Option<&Value>,
) -> Option<Advice> {
    if c.before == c.after {
        return None;
    }
    let a = |what: String, breaks: String, fix: String| Some(Advice { what, breaks, fix });
    match (c.step.as_str(), c.field.as_str()) {
        ("capabilities", "/process/capabilities/bounding") => {
            let kept = strings(&c.after);
            let dropped: Vec<String> = strings(&c.before)
                .into_iter()
                .filter(|x| !kept.contains(x))
                .collect();
            // One entry per use, naming every capability it needs.
            let mut uses: Vec<(&str, Vec<&str>)> = Vec::new();
            for x in &dropped {
                if let Some(u) = capability_use(x) {
                    let name = x.trim_start_matches("CAP_");
                    match uses.iter_mut().find(|(v, _)| *v == u) {
                        Some((_, caps)) => caps.push(name),
                        None => uses.push((u, vec![name])),
                    }
                }
            }
            let uses: Vec<String> = uses
                .iter()
                .map(|(u, caps)| format!("{u} ({})", caps.join(", ")))
                .collect();
            let bare = |v: &[String]| {
                v.iter()
                    .map(|x| x.trim_start_matches("CAP_"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let grant = match allow {
                Some([]) => "this profile grants none: run as a non-root user that owns its files, or ask the admin for a profile that allows the capability".to_string(),
                Some(caps) => format!(
                    "this profile grants at most {} (others are dropped whatever is asked)",
                    caps.iter().map(|x| x.trim_start_matches("CAP_")).collect::<Vec<_>>().join(", ")
                ),
                None => "the profile decides which are granted".to_string(),
            };
            let example: Vec<String> = allow
                .unwrap_or_default()
                .iter()
                .map(|x| format!("--cap-add {}", x.trim_start_matches("CAP_")))
                .collect();
            a(
                format!(
                    "capabilities dropped: {} (kept: {})",
                    if dropped.is_empty() { "all".to_string() } else { bare(&dropped) },
                    if kept.is_empty() { "none".to_string() } else { bare(&kept) }
                ),
                format!(
                    "EPERM \"Operation not permitted\" for what they allowed: {}",
                    if uses.is_empty() { "privileged operations".to_string() } else { uses.join("; ") }
                ),
                format!(
                    "ask for only what it needs: --cap-drop ALL{}{} (Kubernetes: capabilities.add); {grant}",
                    if example.is_empty() { "" } else { " " },
                    example.join(" ")
                ),
            )
        }
        ("capabilities", _) => None,
        ("no_new_privileges", _) => a(
            "no-new-privileges set".into(),
            "setuid/setgid binaries (sudo, su, ping on old images) run without raising privileges; file capabilities are not gained".into(),
            "start it as the user it needs (--user) instead of switching with sudo/su; for ping, the container's own ICMP sysctl is enough".into(),
        ),
        ("seccomp", _) => a(
            "seccomp allow-list".into(),
            format!(
                "a syscall outside the list fails with EPERM \"Operation not permitted\" (ENOSYS for ones newer than the list); {}",
                c.reason
            ),
            seccomp_fix(&c.reason),
        ),
        ("rootfs", "/root/readonly") => {
            let tmpfs: Vec<String> = rec
                .changes
                .iter()
                .filter(|x| x.step == "rootfs" && x.field == "/mounts")
                .flat_map(|x| strings(&x.after))
                .collect();
            let w = writable_paths(hardened, &tmpfs);
            a(
                "read-only root filesystem".into(),
                format!(
                    "writing outside the writable paths fails with EROFS \"Read-only file system\"; writable here: {}",
                    if w.is_empty() { "none".to_string() } else { w.join(", ") }
                ),
                "--tmpfs PATH or a volume (-v NAME:PATH; Kubernetes: an emptyDir) for each directory the program writes".into(),
            )
        }
        ("rootfs", _) => None,
        ("paths", "/linux/maskedPaths") => a(
            "more /proc and /sys paths masked".into(),
            "reading them gives an empty file or directory (host information: kcore, keys, timer_list, interrupts...)".into(),
            "only monitoring agents need them: ask the admin for a profile for those".into(),
        ),
        ("paths", _) => a(
            "more /proc paths read-only".into(),
            "writing them (sysctls under /proc/sys, /proc/sysrq-trigger) fails with EROFS".into(),
            "set namespaced sysctls with --sysctl (Kubernetes: securityContext.sysctls) instead of writing /proc/sys".into(),
        ),
        ("resources", f) if f.ends_with("/pids/limit") => a(
            format!("process limit {}", c.after),
            format!("fork/clone/pthread_create fail with EAGAIN \"Resource temporarily unavailable\" past {} tasks (threads count)", c.after),
            "--pids-limit N (Kubernetes: the kubelet's pod pids limit): a value you ask for is kept up to the profile's ceiling (pids_max); above that an admin raises it".to_string(),
        ),
        ("resources", f) if f.ends_with("/memory/limit") => a(
            format!("memory limit {}", bytes(&c.after)),
            format!("past {} the kernel OOM-kills it: exit code 137, and docker inspect shows OOMKilled", bytes(&c.after)),
            "--memory N (Kubernetes: resources.limits.memory): kept up to the profile's ceiling (memory_max_bytes); or make it use less".to_string(),
        ),
        // One entry for the CPU fields (shares, quota, period): the first one changed.
        ("resources", f) if f.contains("/cpu/") => rec
            .changes
            .iter()
            .find(|x| x.step == "resources" && x.field.contains("/cpu/") && x.before != x.after)
            .is_some_and(|first| first == c)
            .then(|| Advice {
            what: "CPU limited".into(),
            breaks: "nothing fails; it runs slower when busy (throttled)".into(),
            fix: "--cpus N / --cpu-shares up to the profile's ceiling".into(),
        }),
        ("resources", _) => a(
            format!("{} set", c.field),
            c.reason.clone(),
            "ask for what it needs within the profile's ceiling".into(),
        ),
        ("rlimits", _) => {
            let mut breaks = Vec::new();
            let mut fix = Vec::new();
            for r in c.after.as_array().into_iter().flatten() {
                let (t, soft, hard) = (r["type"].as_str().unwrap_or(""), &r["soft"], &r["hard"]);
                let name = t.trim_start_matches("RLIMIT_").to_lowercase();
                let was = c.before.as_array().into_iter().flatten().find(|b| b["type"] == r["type"]);
                if was == Some(r) {
                    continue;
                }
                match t {
                    "RLIMIT_NOFILE" => breaks.push(format!("open/socket/accept fail with EMFILE \"Too many open files\" past {soft} descriptors (the program may raise its soft limit up to {hard})")),
                    "RLIMIT_NPROC" => breaks.push(format!("fork fails with EAGAIN past {soft} processes of the same user")),
                    "RLIMIT_CORE" => breaks.push("no core dumps".into()),
                    _ => breaks.push(format!("{t} limited to {soft}/{hard}")),
                }
                if t != "RLIMIT_CORE" {
                    fix.push(format!("--ulimit {name}=SOFT:HARD"));
                }
            }
            a(
                "resource limits (rlimits)".into(),
                breaks.join("; "),
                if fix.is_empty() { "none needed".into() } else { format!("{} (a value you ask for is kept up to the profile's [rlimits] max)", fix.join(", ")) },
            )
        }
        ("userns", "/linux/namespaces") | ("userns", "/linux/uidMappings") => a(
            "user namespace (root in the container is an unprivileged user on the host)".into(),
            "files of host users outside the mapping show as nobody (65534); chown to them fails with EINVAL; a volume must be writable by the mapped uid".into(),
            "chown the volume's host directory to the mapped uid (the first host id of /linux/uidMappings)".into(),
        ),
        ("userns", _) => None,
        ("lsm", _) => a(
            format!("LSM label {}", c.after),
            "AppArmor/SELinux denials: EACCES or EPERM for mount, ptrace, writes under /proc and /sys; dmesg shows apparmor=\"DENIED\"".into(),
            "ask the admin (the profile's [lsm])".into(),
        ),
        ("mounts", f) => a(
            format!("{f} made read-only"),
            format!("writing there fails with EROFS; {}", c.reason),
            "bind a directory of your own instead of the host's".into(),
        ),
        _ => a(
            format!("[{}] {}", c.step, c.field),
            c.reason.clone(),
            String::new(),
        ),
    }
}

/// Bytes for people: 2147483648 is "2 GiB (2147483648 bytes)".
fn bytes(v: &Value) -> String {
    let Some(n) = v.as_u64() else {
        return v.to_string();
    };
    let (unit, size) = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        .into_iter()
        .find(|(_, s)| n >= *s && n % s == 0)
        .unwrap_or(("bytes", 1));
    if unit == "bytes" {
        format!("{n} bytes")
    } else {
        format!("{} {unit} ({n} bytes)", n / size)
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

pub(crate) fn render(rec: &Rec, allow: Option<&[String]>, hardened: Option<&Value>) -> String {
    let mut t = format!(
        "container {}\n  bundle {}\n  {} at {} under profile {}: {}\n",
        rec.id.as_deref().unwrap_or("-"),
        rec.bundle.as_deref().unwrap_or("-"),
        rec.command,
        rec.time,
        rec.profile,
        rec.outcome
    );
    if !rec.refusals.is_empty() {
        t.push_str("\nRefused (it never started):\n");
        for v in &rec.refusals {
            let id = v["rule"].as_str().unwrap_or("");
            let rule = crate::policy::rule(id);
            t.push_str(&format!(
                "\n* [{id}] {} ({})\n    {}: {}\n    why: {}\n",
                rule.map(|r| r.title).unwrap_or(""),
                v["reference"].as_str().unwrap_or(""),
                v["field"].as_str().unwrap_or(""),
                short(&v["value"]),
                v["why"].as_str().unwrap_or("")
            ));
            if let Some(r) = rule {
                t.push_str(&format!("    fix: {}\n", r.fix));
            }
        }
    }
    let advised: Vec<Advice> = rec
        .changes
        .iter()
        .filter_map(|c| advice(c, rec, allow, hardened))
        .collect();
    if !advised.is_empty() {
        t.push_str(&format!(
            "\nWhat Rampart changed{}, what that typically breaks, and the fix:\n",
            if rec.outcome == "hardened" {
                ""
            } else {
                " (or would have)"
            }
        ));
        for a in &advised {
            t.push_str(&format!("\n* {}\n    breaks: {}\n", a.what, a.breaks));
            if !a.fix.is_empty() {
                t.push_str(&format!("    fix: {}\n", a.fix));
            }
        }
    }
    let notes: Vec<String> = rec
        .changes
        .iter()
        .filter(|c| c.before == c.after)
        .map(|c| format!("[{}] {}", c.step, c.reason))
        .chain(rec.notes.iter().cloned())
        .collect();
    if !notes.is_empty() {
        t.push_str("\nNotes:\n");
        for n in notes {
            t.push_str(&format!("  {n}\n"));
        }
    }
    t.push_str(
        "\nEvery change with its before and after: the audit log, or `rampart explain BUNDLE`.\n",
    );
    t
}

/// How to get a denied syscall allowed: under a profile with its own `[seccomp] syscalls`
/// (a learned one), record the missing behaviour or name the syscall there.
fn seccomp_fix(reason: &str) -> String {
    let find = "find the syscall (strace -f, or the seccomp audit lines in dmesg)";
    if reason.contains("narrowed to the profile's") {
        format!(
            "{find}; the profile allows only the syscalls its recordings showed (rampart learn): record a run that does it and regenerate the profile, or the admin adds the syscall to its [seccomp] syscalls"
        )
    } else {
        format!("{find}; ask the admin to run it under the baseline profile")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(id: &str, bundle: &str, outcome: &str) -> Rec {
        serde_json::from_value(json!({
            "time": "t", "command": "create", "id": id, "bundle": bundle,
            "profile": "restricted", "outcome": outcome, "changes": []
        }))
        .unwrap()
    }

    fn no_docker(_: &str) -> Result<String, String> {
        Err("names need the docker CLI on PATH".into())
    }

    #[test]
    fn lookup_by_id_prefix_bundle_and_name() {
        let log = [
            serde_json::to_string(&json!({"command": "create", "id": "aaa111", "bundle": "/b/one", "outcome": "refused", "time": "1", "profile": "p"})).unwrap(),
            "not json".into(),
            serde_json::to_string(&json!({"command": "exec", "id": "aaa111", "outcome": "clamped", "time": "2", "profile": "p"})).unwrap(),
            serde_json::to_string(&json!({"command": "create", "id": "aaa111", "bundle": "/b/one", "outcome": "hardened", "time": "3", "profile": "p"})).unwrap(),
            serde_json::to_string(&json!({"command": "run", "id": "aab222", "bundle": "/b/two", "outcome": "hardened", "time": "4", "profile": "p"})).unwrap(),
            serde_json::to_string(&json!({"command": "create", "id": "web", "bundle": "/b/three", "outcome": "hardened", "time": "5", "profile": "p"})).unwrap(),
        ]
        .join("\n");
        let records = parse(&log);
        assert_eq!(records.len(), 4, "exec records and junk are skipped");
        // Exact id: the newest record of a restarted container.
        let r = find(&records, "aaa111", &no_docker).unwrap();
        assert_eq!((r.time.as_str(), r.outcome.as_str()), ("3", "hardened"));
        // A unique prefix.
        assert_eq!(
            find(&records, "aab", &no_docker).unwrap().id.as_deref(),
            Some("aab222")
        );
        // An ambiguous prefix lists every match.
        let e = find(&records, "aa", &no_docker).unwrap_err().to_string();
        assert!(
            e.contains("matches 2 containers")
                && e.contains("  aaa111 (bundle /b/one")
                && e.contains("  aab222 (bundle /b/two"),
            "{e}"
        );
        // A bundle path.
        assert_eq!(
            find(&records, "/b/two", &no_docker).unwrap().id.as_deref(),
            Some("aab222")
        );
        assert_eq!(
            find(&records, "/b/two/", &no_docker).unwrap().id.as_deref(),
            Some("aab222")
        );
        assert!(
            find(&records, "/b/none", &no_docker)
                .unwrap_err()
                .to_string()
                .contains("no create record for the bundle /b/none")
        );
        // A name through docker; an exact id wins over a name (Docker's order).
        let docker = |n: &str| -> Result<String, String> {
            match n {
                "db" => Ok("aab222".into()),
                "web" => Ok("aaa111".into()),
                _ => Err(format!("docker inspect {n}: No such object")),
            }
        };
        assert_eq!(
            find(&records, "db", &docker).unwrap().id.as_deref(),
            Some("aab222")
        );
        assert_eq!(
            find(&records, "web", &docker).unwrap().id.as_deref(),
            Some("web")
        );
        // Nothing: says why, and that names need docker.
        let e = find(&records, "zzz", &no_docker).unwrap_err().to_string();
        assert!(
            e.contains("no create record for zzz")
                && e.contains("names need the docker CLI on PATH")
                && e.contains("bundle directory"),
            "{e}"
        );
        let e = find(&records, "zzz", &docker).unwrap_err().to_string();
        assert!(e.contains("No such object"), "{e}");
        assert!(find(&records, "", &no_docker).is_err());
    }

    /// The changes `create` makes to Docker's default spec under restricted, as the audit
    /// log records them.
    fn restricted_record() -> Rec {
        use crate::steps::testutil::{facts, profile};
        let bytes = std::fs::read(format!(
            "{}/tests/fixtures/specs/docker-20.10/default.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let (_, changes) =
            crate::pipeline::rewrite(&bytes, &profile("restricted"), &facts()).unwrap();
        let mut r = rec("c1", "/nonexistent", "hardened");
        r.changes = serde_json::from_value(serde_json::to_value(&changes).unwrap()).unwrap();
        r
    }

    #[test]
    fn each_change_gets_what_it_breaks_and_the_fix() {
        let r = restricted_record();
        let allow = vec!["CAP_NET_BIND_SERVICE".to_string()];
        let advised: Vec<Advice> = r
            .changes
            .iter()
            .filter_map(|c| advice(c, &r, Some(&allow), None))
            .collect();
        let find = |what: &str| {
            advised
                .iter()
                .find(|a| a.what.starts_with(what))
                .unwrap_or_else(|| panic!("{what}: {advised:#?}"))
        };
        let ro = find("read-only root filesystem");
        assert!(
            ro.breaks.contains("EROFS") && ro.breaks.contains("writable here: /tmp, /run"),
            "{ro:?}"
        );
        assert!(
            ro.fix.contains("--tmpfs PATH") && ro.fix.contains("volume"),
            "{ro:?}"
        );
        let caps = find("capabilities dropped: CHOWN");
        assert!(
            caps.breaks.contains("EPERM")
                && caps
                    .breaks
                    .contains("binding ports below 1024 (NET_BIND_SERVICE)")
                && caps.breaks.contains("(SETGID, SETUID)"),
            "{caps:?}"
        );
        assert!(
            caps.fix
                .contains("--cap-drop ALL --cap-add NET_BIND_SERVICE")
                && caps.fix.contains("grants at most NET_BIND_SERVICE"),
            "{caps:?}"
        );
        let pids = find("process limit 1024");
        assert!(
            pids.breaks.contains("EAGAIN")
                && pids.fix.contains("--pids-limit N")
                && pids.fix.contains("pids_max"),
            "{pids:?}"
        );
        let mem = find("memory limit 2 GiB");
        assert!(
            mem.breaks.contains("OOM")
                && mem.breaks.contains("137")
                && mem.fix.contains("--memory"),
            "{mem:?}"
        );
        let rl = find("resource limits");
        assert!(
            rl.breaks.contains("Too many open files")
                && rl.fix.contains("--ulimit nofile=SOFT:HARD"),
            "{rl:?}"
        );
        assert!(seccomp_fix("x; narrowed to the profile's 60 syscalls)").contains("rampart learn"));
        let sc = find("seccomp");
        assert!(
            sc.breaks.contains("EPERM")
                && sc.breaks.contains("ENOSYS")
                && sc.fix.contains("baseline profile"),
            "{sc:?}"
        );
        let nnp = find("no-new-privileges");
        assert!(
            nnp.breaks.contains("setuid") && nnp.breaks.contains("sudo"),
            "{nnp:?}"
        );
        // One entry per concern: the five capability sets and the CPU fields are one each.
        assert_eq!(
            advised
                .iter()
                .filter(|a| a.what.starts_with("capabilities"))
                .count(),
            1
        );
        assert_eq!(
            advised.iter().filter(|a| a.what.starts_with("CPU")).count(),
            1
        );
        // No grantable capability: says so.
        let none = advice(&r.changes[0], &r, Some(&[]), None).unwrap();
        assert!(none.fix.contains("grants none"), "{none:?}");
        // With the hardened spec at hand, the writable paths include its volumes.
        let hardened = json!({"mounts": [
            {"destination": "/proc", "type": "proc"},
            {"destination": "/data", "type": "bind", "options": ["rbind"]},
            {"destination": "/etc/ro", "type": "bind", "options": ["rbind", "ro"]},
        ]});
        let c = r
            .changes
            .iter()
            .find(|c| c.field == "/root/readonly")
            .unwrap();
        let ro = advice(c, &r, None, Some(&hardened)).unwrap();
        assert!(
            ro.breaks.ends_with("writable here: /tmp, /run, /data"),
            "{ro:?}"
        );
        // Notes (no change) get no advice; they are listed as notes.
        assert!(
            r.changes
                .iter()
                .filter(|c| c.before == c.after)
                .all(|c| advice(c, &r, None, None).is_none())
        );
        let text = render(&r, Some(&allow), None);
        assert!(
            text.starts_with("container c1\n") && text.contains("\nNotes:\n"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_record_shows_every_violation_with_its_fix() {
        let mut r = rec("c2", "/b", "refused");
        r.refusals = vec![
            json!({"rule": "host-network", "reference": "CIS Docker 5.9", "field": "/linux/namespaces", "value": [], "why": "shares the host's network"}),
            json!({"rule": "block-device", "reference": "x", "field": "/linux/devices/3", "value": {"path": "/dev/sda"}, "why": "disk"}),
            json!({"rule": "block-device", "reference": "x", "field": "/linux/devices/4", "value": {"path": "/dev/sdb"}, "why": "disk"}),
        ];
        let text = render(&r, None, None);
        assert!(text.contains("Refused (it never started)"), "{text}");
        assert!(
            text.contains("fix: drop --network host (Kubernetes: hostNetwork)"),
            "{text}"
        );
        assert!(
            text.contains("/linux/devices/3") && text.contains("/dev/sdb"),
            "{text}"
        );
        assert_eq!(text.matches("* [block-device]").count(), 2, "{text}");
    }
}
