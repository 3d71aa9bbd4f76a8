//! Step: a user namespace, for profiles with `[userns] enabled`: container ids 0..size map to
//! unprivileged host ids (`idmap`), so root in the container is nobody on the host.
//!
//! What runc 1.1 needs besides the mapping, decided from host facts gathered by `idmap`:
//! - `net.ipv4.ping_group_range` must lie inside the mapped gids: it is cut to fit.
//! - a fresh sysfs cannot be mounted when the network namespace is not the container's own
//!   (joined by path, e.g. Docker's `--network host`, or absent): /sys becomes a read-only
//!   rbind of the host's /sys instead.
//! - a bind mount that runc remounts (`ro`, `nosuid`, ...) must keep the flags the kernel
//!   locks from its source filesystem (`nosuid`, `nodev`, `noexec`, `ro`, atime): they are added.
//! - every directory above the rootfs and bind sources must be searchable by the mapped root
//!   (Docker's are 0710): the rootfs and those sources are staged as clones under
//!   /run/rampart/stage (`stage`; id-mapped where engine-owned) and the spec points at them;
//!   with `fix_traversal` the pipeline gives the directories o+x instead (recorded here).
//! - mount points missing from the image cannot be created by the mapped root: in a staged
//!   engine-owned rootfs Rampart creates them; otherwise the profile's own tmpfs mounts there
//!   are dropped and the request's are refused.
//!
//! A container that joins another's namespaces (`--ipc container:A`) joins its user namespace
//! too, with its mapping, where that user namespace owns every namespace joined and Rampart
//! set it up under the same profile (`idmap` finds it). A CRI pod's app containers qualify
//! too, though they also join the sandbox's network namespace, which CNI made on the host.
//! A network namespace joined by path that the host's user namespace owns (CNI's, podman's)
//! cannot be entered from inside the container's user namespace (runc 1.1 joins a pod's
//! first; `runc exec` always does): its entry is dropped and Rampart enters it before
//! exec'ing runc (`netns`), so the container inherits it. runc sets no net.* sysctl there:
//! engines' defaults are dropped (recorded), others refused.
//!
//! What cannot work is refused with the reason and the opt-out, or, with `on_unsupported =
//! "skip"`, run without a user namespace and recorded: host pid/ipc/uts namespaces, joined
//! ones no such user namespace owns, ids beyond the mapping, a request's own user
//! namespace that maps host root. A request's own user namespace is otherwise kept.

use super::Context;
use crate::change::Changes;
use crate::idmap::Mapping;
use crate::profile::{Mode, OnUnsupported};
use crate::spec::Spec;
use anyhow::{Result, bail};
use serde_json::{Value, json};

const PING: &str = "/linux/sysctl/net.ipv4.ping_group_range";
/// net.* sysctls engines set by themselves (Docker's and CRI's unprivileged ICMP and ports).
const ENGINE_NET_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.ping_group_range", "0 2147483647"),
    ("net.ipv4.ip_unprivileged_port_start", "0"),
];
const ATIME: &[&str] = &["noatime", "nodiratime", "relatime", "strictatime"];
/// Options that make runc remount a bind mount (and so meet the kernel's locked flags).
const REMOUNTING: &[&str] = &[
    "ro",
    "nosuid",
    "nodev",
    "noexec",
    "noatime",
    "nodiratime",
    "relatime",
    "strictatime",
    "sync",
    "dirsync",
];

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let p = &cx.profile.userns;
    if !p.enabled || spec.get("/linux").is_none() {
        return Ok(());
    }
    let namespaces: Vec<Value> = spec.typed("/linux/namespaces")?.unwrap_or_default();
    if namespaces.iter().any(|n| n["type"] == "user") {
        let maps_root = ["uidMappings", "gidMappings"].iter().any(|k| {
            let maps: Vec<Value> = spec
                .typed(&format!("/linux/{k}"))
                .ok()
                .flatten()
                .unwrap_or_default();
            maps.iter().any(|m| m["hostID"].as_u64() == Some(0))
        });
        if maps_root {
            return unsupported(
                cx,
                ch,
                &["the request's own user namespace maps host root (hostID 0)".into()],
                &["map the request's user namespace away from host root".into()],
            );
        }
        ch.note(
            "/linux/namespaces",
            "the request has a user namespace of its own; kept",
        );
        return Ok(());
    }
    let m = match cx.host.userns.as_ref().map(|f| &f.mapping) {
        Some(Ok(m)) => *m,
        Some(Err(e)) => return refuse(cx, ch, format!("no host ids to map: {e}")),
        None => return refuse(cx, ch, "no host facts for it (a Rampart bug)".into()),
    };
    let facts = cx.host.userns.as_ref().expect("checked above");
    // A pod's containers join the sandbox's namespaces; where a user namespace Rampart gave
    // the sandbox owns them, the container joins that one too (as Kubernetes pods with user
    // namespaces do), with its mapping.
    let pod = facts.joined.as_ref();
    let owned_by_pod = |kind: &str| pod.is_some_and(|j| j.owns.iter().any(|k| k == kind));
    let (mut why, mut fix) = (Vec::new(), Vec::new());
    for (kind, what) in [
        ("pid", "mount /proc"),
        ("ipc", "mount /dev/mqueue"),
        ("uts", "set the hostname"),
    ] {
        match namespaces.iter().find(|n| n["type"] == kind) {
            None => {
                why.push(format!(
                    "it shares the host's {kind} namespace, which a new user namespace does not own (runc cannot {what})"
                ));
                fix.push(match kind {
                    "pid" => "drop --pid host (Kubernetes: hostPID)".to_string(),
                    "ipc" => "drop --ipc host (Kubernetes: hostIPC)".to_string(),
                    _ => "drop --uts host (Kubernetes: hostNetwork)".to_string(),
                });
            }
            Some(n)
                if n.get("path")
                    .and_then(Value::as_str)
                    .is_some_and(|p| !p.is_empty())
                    && !owned_by_pod(kind) =>
            {
                why.push(format!(
                    "it joins the {kind} namespace {}, owned by another user namespace (runc 1.1 cannot {what} there)",
                    n["path"]
                ));
                fix.push("join only namespaces of containers under the same profile".to_string());
            }
            _ => {}
        }
    }
    let mut ids: Vec<(String, u64)> = ["uid", "gid"]
        .iter()
        .filter_map(|k| {
            spec.get(&format!("/process/user/{k}"))
                .and_then(Value::as_u64)
                .map(|v| (k.to_string(), v))
        })
        .collect();
    let extra: Vec<u64> = spec
        .typed("/process/user/additionalGids")?
        .unwrap_or_default();
    ids.extend(extra.into_iter().map(|g| ("additional gid".to_string(), g)));
    for (k, v) in ids.iter().filter(|(_, v)| *v >= u64::from(m.size)) {
        why.push(format!(
            "its {k} {v} is outside the mapped ids 0-{}",
            m.size - 1
        ));
        fix.push(format!("run as ids below {}", m.size));
    }
    // A network namespace the host's user namespace owns (CNI's, podman's): Rampart enters
    // it before runc, and runc sets no net.* sysctl outside a network namespace it joins.
    let enter_net = facts.enter_net.as_ref();
    let mut net_defaults = Vec::new();
    if enter_net.is_some() {
        let sysctls: std::collections::BTreeMap<String, String> =
            spec.typed("/linux/sysctl")?.unwrap_or_default();
        for (k, v) in sysctls.iter().filter(|(k, _)| k.starts_with("net.")) {
            if ENGINE_NET_SYSCTLS.contains(&(k.as_str(), v.as_str())) {
                net_defaults.push(k.clone());
            } else {
                why.push(format!(
                    "sysctl {k}={v}: runc 1.1 sets no net.* sysctl in a network namespace the host owns (Rampart enters it for runc)"
                ));
                fix.push(format!(
                    "drop the sysctl {k} (Kubernetes: set it on the pod, whose sandbox applies it)"
                ));
            }
        }
    }
    let mounts: Vec<Value> = spec.typed("/mounts")?.unwrap_or_default();
    let dests: Vec<String> = mounts
        .iter()
        .map(|x| super::rootfs::clean(x["destination"].as_str().unwrap_or_default()))
        .collect();
    let mut drop = Vec::new();
    for (i, d) in dests.iter().enumerate() {
        let under_other = dests
            .iter()
            .any(|o| o != d && (o == "/" || d.starts_with(&format!("{o}/"))));
        // Rampart creates them in an engine-owned rootfs it stages.
        let created = facts.stage.as_ref().is_some_and(|s| s.engine_rootfs);
        if !facts.missing.contains(d) || under_other || created {
            continue;
        }
        let ours = mounts[i]["type"] == "tmpfs"
            && cx
                .profile
                .rootfs
                .tmpfs
                .iter()
                .any(|t| super::rootfs::clean(&t.path) == *d);
        if ours {
            drop.push(i);
        } else {
            why.push(format!(
                "the mount point {d} does not exist in the image, and root in a user namespace cannot create it there (the image's directories belong to host root)"
            ));
            fix.push(format!("add {d} to the image"));
        }
    }
    let blocked: Vec<&crate::idmap::HostDir> = facts.dirs.iter().filter(|d| d.blocks(&m)).collect();
    // Staged clones are reached through /run/rampart/stage, not these directories.
    if !p.fix_traversal && facts.stage.is_none() {
        for d in &blocked {
            why.push(format!(
                "root in the container (host uid {}) cannot traverse the host directory {} (mode {:04o}); an admin can `chmod o+x` it, or set fix_traversal = true under [userns] to let Rampart do so",
                m.uid, d.path, d.mode
            ));
            fix.push(format!("chmod o+x {}", d.path));
        }
    }
    if !why.is_empty() {
        return unsupported(cx, ch, &why, &fix);
    }

    let mut ns = namespaces.clone();
    if let Some((path, _)) = enter_net {
        ns.retain(|n| n["type"] != "network");
        for k in &net_defaults {
            let v = spec.get(&format!("/linux/sysctl/{k}")).cloned();
            let mut all: serde_json::Map<String, Value> =
                spec.typed("/linux/sysctl")?.unwrap_or_default();
            all.remove(k);
            spec.set("/linux/sysctl", Value::Object(all))?;
            ch.record(
                &format!("/linux/sysctl/{k}"),
                v.unwrap_or(Value::Null),
                Value::Null,
                "the engine's default; runc 1.1 sets no net.* sysctl in a network namespace it does not join (the pod's sandbox sets the pod's)",
            );
        }
        ch.record(
            "/linux/namespaces/network",
            json!(path),
            Value::Null,
            format!(
                "Rampart enters the network namespace {path} (the host user namespace's: CNI's, podman's) before runc, which could not from inside the container's user namespace (runc exec joins that first): the container inherits it"
            ),
        );
    }
    let why_ns = match pod {
        Some(j) => {
            ns.push(json!({"type": "user", "path": j.path}));
            format!(
                "profile {} runs the container in the user namespace {} of the pod whose {} namespaces it joins: root in it is host uid {}",
                cx.profile.name,
                j.path,
                j.owns.join(", "),
                m.uid
            )
        }
        None => {
            ns.push(json!({"type": "user"}));
            format!(
                "profile {} runs the container in a user namespace of its own: root in it is host uid {}",
                cx.profile.name, m.uid
            )
        }
    };
    ch.set(spec, "/linux/namespaces", json!(ns), why_ns)?;
    for (k, host) in [("uidMappings", m.uid), ("gidMappings", m.gid)] {
        ch.set(
            spec,
            &format!("/linux/{k}"),
            json!([{"containerID": 0, "hostID": host, "size": m.size}]),
            format!(
                "container ids 0-{} are host ids {host}-{}: {}",
                m.size - 1,
                u64::from(host) + u64::from(m.size) - 1,
                facts.origin
            ),
        )?;
    }
    ping_group_range(spec, &m, ch)?;
    let private_net = namespaces.iter().any(|n| {
        n["type"] == "network"
            && n.get("path")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
    });
    let mut mounts = mounts;
    for i in drop.iter().rev() {
        let gone = mounts.remove(*i);
        ch.record(
            &format!("/mounts/{i}"),
            gone,
            Value::Null,
            format!(
                "{} is not in the image and root in a user namespace cannot create it: no tmpfs there",
                dests[*i]
            ),
        );
    }
    for (i, mnt) in mounts.iter_mut().enumerate() {
        if !private_net && mnt["type"] == "sysfs" {
            let before = mnt.clone();
            *mnt = json!({"destination": mnt["destination"], "type": "bind", "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            ch.record(&format!("/mounts/{i}"), before, mnt.clone(), "the network namespace is not the container's own, so a user namespace cannot mount a fresh sysfs: the host's /sys bound read-only instead");
        }
    }
    if !drop.is_empty() || mounts.iter().any(|x| x["source"] == "/sys") {
        spec.set("/mounts", json!(mounts))?;
    }
    for (i, src, _, mut opts) in crate::policy::bind_mounts(spec) {
        let locked = facts.mount_flags.get(&src).cloned().unwrap_or_default();
        if !opts.iter().any(|o| REMOUNTING.contains(&o.as_str())) {
            continue;
        }
        let before = opts.clone();
        // The kernel compares the whole atime setting: keep exactly the source's.
        opts.retain(|o| !ATIME.contains(&o.as_str()) || locked.contains(o));
        for f in &locked {
            let inverse = match f.as_str() {
                "ro" => "rw",
                "nosuid" => "suid",
                "nodev" => "dev",
                "noexec" => "exec",
                _ => "",
            };
            opts.retain(|o| o != inverse);
            if !opts.contains(f) {
                opts.push(f.clone());
            }
        }
        if opts != before {
            let why = format!(
                "{src} is on a filesystem mounted {}, flags the kernel locks inside a user namespace: runc's remount must keep them",
                locked.join(",")
            );
            ch.set(spec, &format!("/mounts/{i}/options"), json!(opts), why)?;
        }
    }
    if let Some(st) = &facts.stage {
        stage(spec, st, ch)?;
        return Ok(());
    }
    for d in blocked {
        ch.record(
            &format!("host:{}", d.path),
            json!(format!("{:04o}", d.mode)),
            json!(format!("{:04o}", d.mode | 0o001)),
            format!(
                "root in the container (host uid {}) must traverse this host directory: o+x (search, not list) added, as fix_traversal = true allows",
                m.uid
            ),
        );
    }
    Ok(())
}

/// Points the spec at the staged clones (`stage::apply` makes them before runc runs).
fn stage(spec: &mut Spec, st: &crate::stage::Staging, ch: &mut Changes) -> Result<()> {
    let how = |e: &crate::stage::Entry| {
        if e.idmap {
            "an id-mapped clone (a plain one where the filesystem cannot be id-mapped), at a path root in the container can traverse"
        } else {
            "a plain clone (never id-mapped: not the engine's), at a path root in the container can traverse"
        }
    };
    let target = st.rootfs.target.display().to_string();
    ch.set(
        spec,
        "/root/path",
        json!(target),
        format!(
            "the rootfs {}, staged as {}",
            st.rootfs.source,
            how(&st.rootfs)
        ),
    )?;
    let mounts: Vec<Value> = spec.typed("/mounts")?.unwrap_or_default();
    for (i, m) in mounts.iter().enumerate() {
        let Some(e) = st.binds.iter().find(|e| m["source"] == e.source.as_str()) else {
            continue;
        };
        let bind = m["type"] == "bind"
            || m["options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"));
        if bind {
            let to = e.target.display().to_string();
            ch.set(
                spec,
                &format!("/mounts/{i}/source"),
                json!(to),
                format!("staged as {}", how(e)),
            )?;
        }
    }
    Ok(())
}

/// `a b` cut to the gids the container has (0..size); the kernel refuses gids outside it.
fn ping_group_range(spec: &mut Spec, m: &Mapping, ch: &mut Changes) -> Result<()> {
    let Some(v) = spec.get(PING).and_then(Value::as_str) else {
        return Ok(());
    };
    let (lo, hi) = match v.split_whitespace().collect::<Vec<_>>()[..] {
        [a, b] => (a.parse::<u64>()?, b.parse::<u64>()?),
        _ => bail!("{PING} = {v:?} is not two numbers"),
    };
    let top = u64::from(m.size) - 1;
    let fit = if lo > top || lo > hi {
        "1 0".to_string() // nobody (the kernel's default)
    } else {
        format!("{lo} {}", hi.min(top))
    };
    if fit != v {
        let why = format!(
            "the kernel accepts only gids mapped into the container's user namespace (0-{top})"
        );
        ch.set(spec, PING, json!(fit), why)?;
    }
    Ok(())
}

fn refuse(cx: &Context, ch: &mut Changes, why: String) -> Result<()> {
    let msg = format!(
        "profile {} requires a user namespace, but {why}",
        cx.profile.name
    );
    if cx.profile.policy.mode == Mode::Enforce {
        return Err(crate::policy::refusal(
            &cx.profile.name,
            "an admin gives Rampart host ids for user namespaces (/etc/subuid and /etc/subgid)",
            &[msg],
            "or run it under a profile without [userns]",
        )
        .into());
    }
    ch.note("/linux/namespaces", format!("{msg}: enforce mode refuses"));
    Ok(())
}

/// `why` the container cannot have a user namespace; `fix`, what the user changes for it.
fn unsupported(cx: &Context, ch: &mut Changes, why: &[String], fix: &[String]) -> Result<()> {
    let msg = format!(
        "profile {} asks for a user namespace, which cannot work for this container under runc 1.1: {}",
        cx.profile.name,
        why.join("; ")
    );
    match (cx.profile.userns.on_unsupported, cx.profile.policy.mode) {
        (OnUnsupported::Skip, _) => {
            ch.note(
                "/linux/namespaces",
                format!("{msg}. Started WITHOUT a user namespace, as the profile allows (on_unsupported = \"skip\")"),
            );
            Ok(())
        }
        (OnUnsupported::Refuse, Mode::Enforce) => {
            let mut lines = vec![format!(
                "profile {} asks for a user namespace, which cannot work for this container under runc 1.1:",
                cx.profile.name
            )];
            lines.extend(why.iter().map(|w| format!("- {w}")));
            let mut fixes: Vec<&str> = Vec::new();
            for f in fix {
                if !fixes.contains(&f.as_str()) {
                    fixes.push(f);
                }
            }
            fixes.push("or run it under a profile without [userns]");
            Err(crate::policy::refusal(
                &cx.profile.name,
                &fixes.join("; "),
                &lines,
                "on_unsupported = \"skip\" under [userns] in the profile runs it without one (recorded in the audit log)",
            )
            .into())
        }
        _ => {
            ch.note("/linux/namespaces", format!("{msg}: enforce mode refuses"));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::host::HostFacts;
    use crate::idmap::{HostDir, UsernsFacts};
    use crate::profile::Profile;
    use crate::steps::testutil::*;

    const M: Mapping = Mapping {
        uid: 100_000,
        gid: 200_000,
        size: 65536,
    };

    fn host(f: impl FnOnce(&mut UsernsFacts)) -> HostFacts {
        let mut u = UsernsFacts {
            mapping: Ok(M),
            origin: "from host ids 100000+65536".into(),
            dirs: vec![HostDir {
                path: "/".into(),
                mode: 0o755,
                uid: 0,
                gid: 0,
            }],
            missing: vec![],
            mount_flags: Default::default(),
            joined: None,
            stage: None,
            enter_net: None,
        };
        f(&mut u);
        HostFacts {
            userns: Some(u),
            ..facts()
        }
    }

    fn run_with(s: &mut Spec, p: &Profile, h: &HostFacts) -> Result<Vec<Change>> {
        let cx = Context {
            profile: p,
            host: h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(s, &cx, &mut Changes::new("userns", &mut out))?;
        Ok(out)
    }

    fn run(s: &mut Spec, h: &HostFacts) -> Result<Vec<Change>> {
        run_with(s, &profile("isolated"), h)
    }

    #[test]
    fn docker_default_gets_a_mapping_and_a_fitting_ping_range() {
        let mut s = fixture("docker-20.10/default.json");
        let out = run(&mut s, &host(|_| {})).unwrap();
        let ns: Vec<Value> = s.typed("/linux/namespaces").unwrap().unwrap();
        assert_eq!(ns.last().unwrap(), &json!({"type": "user"}));
        assert_eq!(
            s.get("/linux/uidMappings").unwrap(),
            &json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
        );
        assert_eq!(s.get("/linux/gidMappings").unwrap()[0]["hostID"], 200000);
        assert_eq!(
            s.get(PING).unwrap(),
            "0 65535",
            "Docker's 0 2147483647, cut"
        );
        assert!(
            out.iter()
                .any(|c| c.field == PING && c.before == "0 2147483647")
        );
        assert_eq!(
            s.get("/mounts/3/type").unwrap(),
            "sysfs",
            "own netns keeps sysfs"
        );
        // A second pass keeps the user namespace and changes nothing.
        let again = s.clone();
        assert!(
            run(&mut s, &host(|_| {}))
                .unwrap()
                .iter()
                .all(|c| c.before == c.after)
        );
        assert_eq!(s, again);
        // Restricted, baseline: no user namespace.
        let mut r = fixture("docker-20.10/default.json");
        assert!(
            run_with(&mut r, &profile("restricted"), &facts())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn ping_group_range_outside_the_mapping_becomes_nobody() {
        let mut s = fixture("docker-20.10/default.json");
        s.set(PING, json!("70000 80000")).unwrap();
        run(&mut s, &host(|_| {})).unwrap();
        assert_eq!(s.get(PING).unwrap(), "1 0");
    }

    #[test]
    fn host_network_gets_a_read_only_rbind_of_sys() {
        let mut s = fixture("docker-20.10/hostnet.json");
        let before = s.get("/mounts").unwrap().as_array().unwrap().len();
        let out = run(&mut s, &host(|_| {})).unwrap();
        let sys = s.get("/mounts/3").unwrap();
        assert_eq!(
            sys,
            &json!({"destination": "/sys", "type": "bind", "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
        );
        assert_eq!(s.get("/mounts").unwrap().as_array().unwrap().len(), before);
        assert!(
            out.iter()
                .any(|c| c.field == "/mounts/3" && c.reason.contains("read-only"))
        );
        assert!(s.get(PING).is_none());
    }

    #[test]
    fn remounted_binds_keep_their_sources_locked_flags() {
        let mut s = fixture("docker-20.10/default.json");
        let src = s
            .get("/mounts/7/source")
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        s.set(
            "/mounts/7/options",
            json!(["rbind", "rprivate", "ro", "exec"]),
        )
        .unwrap();
        let h = host(|u| {
            u.mount_flags
                .insert(src.clone(), vec!["nosuid".into(), "noexec".into()]);
            // Docker's other binds are not remounted (no flags): left alone.
            u.mount_flags.insert(
                s.get("/mounts/8/source").unwrap().as_str().unwrap().into(),
                vec!["nodev".into()],
            );
        });
        run(&mut s, &h).unwrap();
        assert_eq!(
            s.get("/mounts/7/options").unwrap(),
            &json!(["rbind", "rprivate", "ro", "nosuid", "noexec"])
        );
        // The whole atime setting is locked: the source's replaces the request's.
        let mut t = fixture("docker-20.10/default.json");
        t.set(
            "/mounts/7/options",
            json!(["rbind", "ro", "relatime", "nodiratime"]),
        )
        .unwrap();
        run(
            &mut t,
            &host(|u| {
                u.mount_flags.insert(src.clone(), vec!["noatime".into()]);
            }),
        )
        .unwrap();
        assert_eq!(
            t.get("/mounts/7/options").unwrap(),
            &json!(["rbind", "ro", "noatime"])
        );
        assert_eq!(
            s.get("/mounts/8/options").unwrap(),
            &json!(["rbind", "rprivate"])
        );
    }

    #[test]
    fn untraversable_directories_are_refused_or_recorded_when_fixed() {
        let h = host(|u| {
            u.dirs.push(HostDir {
                path: "/var/lib/docker".into(),
                mode: 0o710,
                uid: 0,
                gid: 0,
            })
        });
        let mut s = fixture("docker-20.10/default.json");
        let err = format!("{:#}", run(&mut s, &h).unwrap_err());
        assert!(
            err.contains("/var/lib/docker (mode 0710)") && err.contains("fix_traversal = true"),
            "{err}"
        );
        let mut p = profile("isolated");
        p.userns.fix_traversal = true;
        let out = run_with(&mut s, &p, &h).unwrap();
        let c = out
            .iter()
            .find(|c| c.field == "host:/var/lib/docker")
            .unwrap();
        assert_eq!((&c.before, &c.after), (&json!("0710"), &json!("0711")));
    }

    #[test]
    fn what_cannot_work_is_refused_with_the_opt_out_or_skipped_with_a_record() {
        // A pod's app container under CRI joins the sandbox's namespaces.
        let mut s = fixture("containerd-1.6-cri/container.json");
        let orig = s.clone();
        let err = format!("{:#}", run(&mut s, &host(|_| {})).unwrap_err());
        assert!(
            err.contains("joins the ipc namespace") && err.contains("on_unsupported = \"skip\""),
            "{err}"
        );
        let mut skip = profile("isolated");
        skip.userns.on_unsupported = OnUnsupported::Skip;
        let out = run_with(&mut s, &skip, &host(|_| {})).unwrap();
        assert_eq!(s, orig, "skipped: spec unchanged");
        assert!(out.len() == 1 && out[0].reason.contains("WITHOUT a user namespace"));
        let mut complain = profile("isolated");
        complain.policy.mode = Mode::Complain;
        assert!(
            run_with(&mut s, &complain, &host(|_| {})).unwrap()[0]
                .reason
                .contains("enforce mode refuses")
        );

        // Host pid namespace (Docker's --pid host), a uid beyond the mapping, no ids at all.
        let mut s = fixture("docker-20.10/hostpid.json");
        let err = format!("{:#}", run(&mut s, &host(|_| {})).unwrap_err());
        assert!(err.contains("host's pid namespace"), "{err}");
        assert!(
            err.contains("to run it, drop --pid host (Kubernetes: hostPID); drop --ipc host")
                && err.contains("; or run it under a profile without [userns].\n"),
            "the fix first: {err}"
        );
        let mut s = fixture("docker-20.10/default.json");
        s.set("/process/user/uid", json!(70000)).unwrap();
        assert!(format!("{:#}", run(&mut s, &host(|_| {})).unwrap_err()).contains("uid 70000"));
        let mut s = fixture("docker-20.10/default.json");
        let h = host(|u| u.mapping = Err("/etc/subuid has no entry for \"rampart\"".into()));
        let err = format!("{:#}", run(&mut s, &h).unwrap_err());
        assert!(
            err.contains("requires a user namespace") && err.contains("subuid"),
            "{err}"
        );
        // A request's own user namespace is kept, unless it maps host root.
        let mut s = fixture("runc-spec-rootless.json"); // captured as root: hostID 0
        assert!(
            format!("{:#}", run(&mut s, &host(|_| {})).unwrap_err()).contains("maps host root")
        );
        for k in ["uidMappings", "gidMappings"] {
            s.set(&format!("/linux/{k}/0/hostID"), json!(1000)).unwrap();
        }
        let orig = s.clone();
        run(&mut s, &host(|_| {})).unwrap();
        assert_eq!(s, orig);
    }

    /// A pod's container joins the user namespace Rampart gave its sandbox, where that one
    /// owns every namespace it joins except the network (CNI's, the host's).
    #[test]
    fn a_pods_container_joins_its_sandboxs_user_namespace() {
        let pod = |owns: &[&str]| {
            host(|u| {
                u.joined = Some(crate::idmap::Joined {
                    path: "/proc/6770/ns/user".into(),
                    mapping: M,
                    owns: owns.iter().map(|s| s.to_string()).collect(),
                })
            })
        };
        let mut s = fixture("containerd-1.6-cri/container.json");
        let out = run(&mut s, &pod(&["pid", "ipc", "uts"])).unwrap();
        let ns: Vec<Value> = s.typed("/linux/namespaces").unwrap().unwrap();
        assert!(ns.contains(&json!({"type": "user", "path": "/proc/6770/ns/user"})));
        assert_eq!(
            s.get("/linux/uidMappings").unwrap(),
            &json!([{"containerID": 0, "hostID": M.uid, "size": M.size}])
        );
        assert!(
            out.iter()
                .any(|c| c.reason.contains("of the pod whose pid, ipc, uts"))
        );
        // The network namespace is not the container's own: /sys is the host's, read-only.
        let sys: Vec<Value> = s.typed("/mounts").unwrap().unwrap();
        assert!(
            sys.iter()
                .any(|m| m["destination"] == "/sys" && m["type"] == "bind")
        );
        // A joined namespace the sandbox's user namespace does not own is still refused.
        let mut s = fixture("containerd-1.6-cri/container.json");
        let err = format!("{:#}", run(&mut s, &pod(&["ipc", "uts"])).unwrap_err());
        assert!(
            err.contains("joins the pid namespace") && !err.contains("ipc"),
            "{err}"
        );
    }

    /// A CRI app container: the sandbox's user namespace owns its ipc, uts (and pid), the
    /// host's owns CNI's network namespace. The network entry goes (Rampart enters it), and
    /// runc can set no net.* sysctl there: engines' defaults dropped, others refused.
    #[test]
    fn a_pods_host_owned_network_namespace_is_left_to_rampart_to_enter() {
        let pod = host(|u| {
            u.joined = Some(crate::idmap::Joined {
                path: "/proc/6770/ns/user".into(),
                mapping: M,
                owns: vec!["pid".into(), "ipc".into(), "uts".into()],
            });
            u.enter_net = Some(("/proc/6770/ns/net".into(), 4026532000));
        });
        let mut s = fixture("containerd-1.6-cri/container.json");
        s.set(
            "/linux/sysctl",
            json!({"net.ipv4.ping_group_range": "0 2147483647", "kernel.shm_rmid_forced": "1"}),
        )
        .unwrap();
        let out = run(&mut s, &pod).unwrap();
        let ns: Vec<Value> = s.typed("/linux/namespaces").unwrap().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"), "{ns:?}");
        assert!(ns.contains(&json!({"type": "user", "path": "/proc/6770/ns/user"})));
        assert_eq!(
            s.get("/linux/sysctl").unwrap(),
            &json!({"kernel.shm_rmid_forced": "1"}),
            "the engine's default dropped, the rest kept"
        );
        for f in [
            "/linux/namespaces/network",
            "/linux/sysctl/net.ipv4.ping_group_range",
        ] {
            assert!(out.iter().any(|c| c.field == f), "{f}: {out:?}");
        }
        // /sys: the network namespace is not the container's own.
        let mounts: Vec<Value> = s.typed("/mounts").unwrap().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m["destination"] == "/sys" && m["type"] == "bind")
        );
        // An explicit net.* sysctl cannot be honoured: refused, naming it.
        let mut s = fixture("containerd-1.6-cri/container.json");
        s.set(
            "/linux/sysctl",
            json!({"net.ipv4.ip_local_port_range": "1024 65000"}),
        )
        .unwrap();
        let err = format!("{:#}", run(&mut s, &pod).unwrap_err());
        assert!(
            err.contains("sysctl net.ipv4.ip_local_port_range=1024 65000") && err.len() < 1000,
            "{err}"
        );
    }

    #[test]
    fn missing_mount_points_drop_our_tmpfs_and_refuse_the_requests() {
        let p = profile("isolated");
        let mut s = fixture("docker-20.10/default.json");
        s.set("/mounts/7/destination", json!("/data")).unwrap();
        let h = host(|u| u.missing = vec!["/run".into(), "/dev/pts".into(), "/data".into()]);
        let err = format!("{:#}", run_with(&mut s.clone(), &p, &h).unwrap_err());
        assert!(err.contains("mount point /data does not exist"), "{err}");
        assert!(
            !err.contains("/dev/pts"),
            "under /dev, a fresh tmpfs: {err}"
        );
        // Our own tmpfs at /run (added by the rootfs step) is dropped instead.
        let mut s = fixture("docker-20.10/default.json");
        let mut m = s.get("/mounts").unwrap().as_array().unwrap().clone();
        m.push(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": []}));
        s.set("/mounts", json!(m)).unwrap();
        let out = run_with(&mut s, &p, &h).unwrap();
        assert!(
            !s.get("/mounts")
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["destination"] == "/run")
        );
        assert!(out.iter().any(|c| c.reason.contains("no tmpfs there")));
    }
}
