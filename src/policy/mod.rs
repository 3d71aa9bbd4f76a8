//! Refusals: what no default can make safe. Each rule has an id, a title, a reference
//! (CIS Docker Benchmark / Pod Security Standards) and a check over the REQUEST (the spec
//! as the engine wrote it, before hardening). A violation names the field and value that
//! failed. Rules are waived only by the admin: a profile's `policy.waive`, or an annotation
//! the config file allow-lists for that rule; never by anything inside the image.

use crate::host::HostFacts;
use crate::profile::Profile;
use crate::spec::Spec;
use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

pub mod capabilities;
pub mod cgroups;
pub mod cwd;
pub mod devices;
pub mod fields;
pub mod hooks;
pub mod limits;
pub mod lsm;
pub mod mount_types;
pub mod mounts;
pub mod namespaces;
pub mod ns_paths;
pub mod privileged;
pub mod process;
pub mod rootfs;
pub mod sysctls;
pub mod user;

pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub reference: &'static str,
    /// What the user changes to run it, in one short clause naming the engine's flag
    /// (Docker first, Kubernetes in parentheses): the first thing a refusal says.
    pub fix: &'static str,
    pub check: fn(&Spec, &PolicyContext) -> Result<Vec<Violation>>,
}

pub struct PolicyContext<'a> {
    pub profile: &'a Profile,
    pub host: &'a HostFacts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub rule: &'static str,
    pub reference: &'static str,
    pub field: String,
    pub value: Value,
    pub why: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, value: Value, why: impl Into<String>) -> Violation {
        Violation {
            rule: "",
            reference: "",
            field: field.into(),
            value,
            why: why.into(),
        }
    }
}

pub const RULES: &[Rule] = &[
    privileged::ALL_CAPABILITIES,
    capabilities::CAPABILITY_NOT_GRANTABLE,
    privileged::MASKED_PATHS_EMPTIED,
    privileged::DEVICE_ALLOW_ALL,
    privileged::WRITABLE_SYSFS,
    privileged::WRITABLE_CGROUPFS,
    privileged::BLOCK_DEVICE,
    namespaces::HOST_PID,
    namespaces::HOST_IPC,
    namespaces::HOST_NETWORK,
    namespaces::HOST_UTS,
    namespaces::HOST_MOUNT,
    mounts::SENSITIVE_MOUNT,
    mounts::ENGINE_SOCKET,
    mounts::SHARED_PROPAGATION,
    mounts::UNSAFE_DESTINATION,
    mounts::PROC_ELSEWHERE,
    sysctls::UNSAFE_SYSCTL,
    sysctls::NET_SYSCTL_HOST_NETNS,
    hooks::HOOK_NOT_ALLOWED,
    lsm::APPARMOR_UNCONFINED,
    cwd::CWD_IN_PROC,
    user::ROOT_USER,
    rootfs::ROOT_PATH,
    cgroups::CGROUPS_PATH,
    process::OOM_SCORE_ADJ,
    process::RLIMIT_RAISED,
    limits::RESOURCE_ABOVE_CEILING,
    devices::DEVICE_NOT_ALLOWED,
    mount_types::MOUNT_TYPE,
    ns_paths::NAMESPACE_PATH,
    fields::UNUSUAL_FIELD,
];

pub fn rule_ids() -> Vec<&'static str> {
    RULES.iter().map(|r| r.id).collect()
}

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Every violation of the profile's rules, minus the waived ones. `waived` lists rule ids
/// waived for this container by allow-listed annotations (the profile's own waivers are
/// applied here too).
pub fn evaluate(spec: &Spec, cx: &PolicyContext, waived: &[String]) -> Result<Vec<Violation>> {
    let mut out = Vec::new();
    for r in RULES {
        if cx
            .profile
            .policy
            .waive
            .iter()
            .chain(waived)
            .any(|w| w == r.id)
        {
            continue;
        }
        for mut v in (r.check)(spec, cx)? {
            v.rule = r.id;
            v.reference = r.reference;
            out.push(v);
        }
    }
    Ok(out)
}

/// The longest refusal message, in bytes. Kubernetes cuts an event's message at 1,024
/// bytes, and engines put their own words before ours ("failed to create shim task: OCI
/// runtime create failed: "), so the whole of what we say fits in what is left.
pub const MAX_MESSAGE: usize = 900;

/// The message users see on a refusal (docker run, kubectl describe, podman stderr); the
/// audit log and `rampart explain` / `rampart why` keep every violation. Its first sentence
/// says what to change; then one line per rule (its first field and value, and how many
/// fields); then how an admin allows it. Never longer than [`MAX_MESSAGE`] bytes.
pub fn refusal_message(profile: &str, violations: &[Violation]) -> String {
    // One entry per rule, in the order the rules ran.
    let mut rules: Vec<(&str, &Violation, usize)> = Vec::new();
    // Each rule's distinct reasons, in order (several fields of one rule can each say what
    // to change: `-m 64g` and `--pids-limit -1`).
    let mut whys: Vec<Vec<&str>> = Vec::new();
    for v in violations {
        match rules.iter().position(|(id, _, _)| *id == v.rule) {
            Some(i) => {
                rules[i].2 += 1;
                if !v.why.is_empty() && !whys[i].contains(&v.why.as_str()) {
                    whys[i].push(&v.why);
                }
            }
            None => {
                rules.push((v.rule, v, 1));
                whys.push(if v.why.is_empty() {
                    vec![]
                } else {
                    vec![&v.why]
                });
            }
        }
    }
    // The fixes, each once; a fix whose first alternative ("drop --privileged") an earlier
    // one already gave adds nothing the user has not read.
    let mut fixes: Vec<&str> = Vec::new();
    for (id, _, _) in &rules {
        let Some(fix) = rule(id).map(|r| r.fix) else {
            continue;
        };
        let lead = |f: &str| f.split(" / ").next().unwrap_or_default().to_string();
        if !fixes.iter().any(|f| lead(f) == lead(fix)) {
            fixes.push(fix);
        }
    }
    // Three fixes at most: the lines below name every rule.
    let more = if fixes.len() > 3 {
        "; and see below"
    } else {
        ""
    };
    fixes.truncate(3);
    let head = if fixes.is_empty() {
        format!("refused by profile {profile}")
    } else {
        format!(
            "refused by profile {profile}; to run it, {}{more}",
            fixes.join("; ")
        )
    };
    let ids: Vec<String> = rules.iter().map(|(id, _, _)| format!("\"{id}\"")).collect();
    let tail = format!(
        "Admin: waive = [{}] under [policy] in a profile, or an allow-listed annotation. Every field: rampart why CONTAINER",
        ids.join(", ")
    );
    let line = |i: usize, titled: bool, why: bool, width: usize| {
        let (id, v, n) = &rules[i];
        let title = match rule(id) {
            Some(r) if titled => format!(" {}", r.title),
            _ => String::new(),
        };
        let value = if width == 0 {
            String::new()
        } else {
            format!(" = {}", clip(&v.value.to_string(), width))
        };
        let field = clip(&v.field, 60);
        let why = if why && !whys[i].is_empty() {
            format!(
                " ({})",
                clip(&whys[i].join("; "), 160 * whys[i].len().min(3))
            )
        } else {
            String::new()
        };
        match n {
            1 => format!("[{id}]{title}: {field}{value}{why}"),
            n => format!("[{id}]{title}: {n} fields, first {field}{value}{why}"),
        }
    };
    let compose = |lines: &[String]| {
        let mut parts = vec![format!("{head}.")];
        parts.extend(lines.iter().cloned());
        parts.push(tail.clone());
        parts.join("\n")
    };
    // Less and less detail until it fits: why, titles, shorter values, no values, then fewer
    // lines.
    for (titled, why, width) in [
        (true, true, 80),
        (true, false, 80),
        (true, false, 40),
        (true, false, 24),
        (false, false, 24),
        (false, false, 0),
    ] {
        let lines: Vec<String> = (0..rules.len())
            .map(|i| line(i, titled, why, width))
            .collect();
        let msg = compose(&lines);
        if msg.len() <= MAX_MESSAGE {
            return msg;
        }
    }
    let mut lines: Vec<String> = (0..rules.len()).map(|i| line(i, false, false, 0)).collect();
    while !lines.is_empty() {
        lines.pop();
        let mut shown = lines.clone();
        shown.push(format!("[...] {} more rule(s)", rules.len() - lines.len()));
        let msg = compose(&shown);
        if msg.len() <= MAX_MESSAGE {
            return msg;
        }
    }
    clip(&compose(&[]), MAX_MESSAGE)
}

/// A refusal that is not a policy rule's (a step that cannot harden this container on this
/// host) in the same shape: the fix first, one line per reason, then the admin's way.
pub fn refusal(
    profile: &str,
    fix: &str,
    reasons: &[String],
    admin: &str,
) -> crate::errors::Refusal {
    let head = format!("refused by profile {profile}; to run it, {fix}.");
    let tail = format!("Admin: {admin}");
    let mut lines: Vec<String> = reasons.iter().map(|r| clip(r, 400)).collect();
    loop {
        let mut parts = vec![head.clone()];
        parts.extend(lines.iter().cloned());
        parts.push(tail.clone());
        let msg = parts.join("\n");
        if msg.len() <= MAX_MESSAGE || lines.is_empty() {
            return crate::errors::Refusal(clip(&msg, MAX_MESSAGE));
        }
        lines.pop();
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), with "…" when it was cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Asks the host about what the mount and hook rules judge by path: bind sources (symlinks
/// resolved, root-owned sockets) and `/proc/PID/exe` hooks.
pub fn gather_sources(host: &dyn crate::host::Host, facts: &mut HostFacts, spec: &Spec) {
    let binds: Vec<String> = bind_mounts(spec)
        .into_iter()
        .map(|(_, s, _, _)| s)
        .collect();
    host.sources(facts, &binds, &hooks::paths(spec));
}

/// Bind mounts of the spec: (index, source, destination, options).
pub(crate) fn bind_mounts(spec: &Spec) -> Vec<(usize, String, String, Vec<String>)> {
    let Some(Value::Array(mounts)) = spec.get("/mounts") else {
        return Vec::new();
    };
    mounts
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let opts: Vec<String> = m
                .get("options")
                .and_then(Value::as_array)
                .map(|o| {
                    o.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let is_bind = m.get("type").and_then(Value::as_str) == Some("bind")
                || opts.iter().any(|o| o == "bind" || o == "rbind");
            is_bind.then(|| {
                let s = m
                    .get("source")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let d = m
                    .get("destination")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                (i, s, d, opts)
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::steps::testutil::{facts, fixture, profile};

    /// Rule ids that fire for a fixture under restricted (with optional host facts).
    pub fn fired(name: &str, host: Option<HostFacts>) -> Vec<&'static str> {
        let (p, h) = (profile("restricted"), host.unwrap_or_else(facts));
        let cx = PolicyContext {
            profile: &p,
            host: &h,
        };
        let mut ids: Vec<&str> = evaluate(&fixture(name), &cx, &[])
            .unwrap()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::fired;
    use crate::steps::testutil::facts;

    fn host_with_docker_netns() -> crate::host::HostFacts {
        let mut h = facts();
        for (t, ino) in [
            ("pid", 1),
            ("network", 2),
            ("ipc", 3),
            ("uts", 4),
            ("mount", 5),
        ] {
            h.host_ns.insert(t.into(), ino);
        }
        h.ns_inodes.insert("/run/docker/netns/default".into(), 2);
        // The captured CRI pod is a host-network pod: its sandbox (pid 6770) has the host's
        // network and uts namespaces, and private pid and ipc ones.
        for (p, ino) in [("pid", 100), ("ipc", 101), ("uts", 4), ("net", 2)] {
            h.ns_inodes.insert(format!("/proc/6770/ns/{p}"), ino);
        }
        h
    }

    #[test]
    fn joining_a_pod_sandbox_is_not_the_host() {
        let mut h = host_with_docker_netns();
        for (p, ino) in [("uts", 102), ("net", 103)] {
            h.ns_inodes.insert(format!("/proc/6770/ns/{p}"), ino);
        }
        assert!(fired("containerd-1.6-cri/container.json", Some(h)).is_empty());
        // A path that cannot be resolved is treated as the host's (fail closed).
        assert_eq!(
            fired("containerd-1.6-cri/container.json", None),
            ["host-pid", "host-ipc", "host-network", "host-uts"]
        );
    }

    /// Every spec of the captured and nasty corpora under every built-in profile (and with
    /// nothing waived): the message fits, says the fix first, names each rule once, and
    /// lists each rule once in the waiver.
    #[test]
    fn refusal_messages_are_short_fix_first_and_one_line_per_rule() {
        use crate::steps::testutil::{all_fixtures, profile};
        let mut specs = all_fixtures();
        let nasty = format!("{}/tests/fixtures/nasty", env!("CARGO_MANIFEST_DIR"));
        for e in std::fs::read_dir(&nasty).unwrap().flatten() {
            if let Ok(s) = crate::spec::Spec::from_slice(&std::fs::read(e.path()).unwrap()) {
                specs.push((e.path().display().to_string(), s));
            }
        }
        let h = host_with_docker_netns();
        let mut refused = 0;
        for (pname, _) in crate::profile::BUILTIN {
            let mut p = profile(pname);
            p.policy.waive.clear();
            let cx = super::PolicyContext {
                profile: &p,
                host: &h,
            };
            for (name, spec) in &specs {
                let v = super::evaluate(spec, &cx, &[]).unwrap();
                if v.is_empty() {
                    continue;
                }
                refused += 1;
                let msg = super::refusal_message(pname, &v);
                check_shape(&msg, &v, &format!("{pname} {name}"), true);
            }
        }
        assert!(refused > 20, "{refused}");
    }

    fn check_shape(msg: &str, v: &[super::Violation], what: &str, all_waived: bool) {
        assert!(
            msg.len() <= super::MAX_MESSAGE && msg.len() < 1024,
            "{what}: {} bytes\n{msg}",
            msg.len()
        );
        let lines: Vec<&str> = msg.lines().collect();
        let mut ids: Vec<&str> = v.iter().map(|v| v.rule).collect();
        ids.sort();
        ids.dedup();
        let first = super::rule(v[0].rule).unwrap();
        assert!(
            lines[0].contains("; to run it, ") && lines[0].contains(first.fix),
            "{what}: {msg}"
        );
        let waive = lines.last().unwrap();
        for id in &ids {
            let quoted = format!("\"{id}\"");
            if all_waived {
                assert_eq!(waive.matches(&quoted).count(), 1, "{what}: {msg}");
            }
            let tag = format!("[{id}]");
            assert!(
                lines.iter().filter(|l| l.starts_with(&tag)).count() <= 1,
                "{what}: {msg}"
            );
        }
    }

    /// Every rule says what the user changes: a short clause, no trailing period (the
    /// message adds it), unique ids.
    #[test]
    fn every_rule_has_a_short_fix() {
        let mut ids = std::collections::BTreeSet::new();
        for r in super::RULES {
            assert!(ids.insert(r.id), "{} twice", r.id);
            assert!(
                !r.fix.is_empty() && r.fix.len() <= 110 && !r.fix.ends_with('.'),
                "{}: {:?}",
                r.id,
                r.fix
            );
        }
    }

    /// Step refusals (no user namespace possible, AppArmor missing) have the same shape and
    /// the same cap.
    #[test]
    fn step_refusals_say_the_fix_first_and_fit() {
        let r = super::refusal(
            "isolated",
            "change what stops a user namespace (below)",
            &["why one".into(), "- why two".into()],
            "on_unsupported = \"skip\"",
        );
        assert_eq!(
            r.0,
            "refused by profile isolated; to run it, change what stops a user namespace (below).\nwhy one\n- why two\nAdmin: on_unsupported = \"skip\""
        );
        let many: Vec<String> = (0..50)
            .map(|i| format!("- reason {i} {}", "x".repeat(100)))
            .collect();
        let r = super::refusal("isolated", "fix it", &many, "admin way");
        assert!(r.0.len() <= super::MAX_MESSAGE, "{}", r.0.len());
        assert!(r.0.starts_with("refused by profile isolated; to run it, fix it.\n- reason 0 "));
        assert!(r.0.ends_with("\nAdmin: admin way"));
        // Through anyhow context, the refusal is the whole message.
        let e = anyhow::Error::from(r).context("cannot harden /b/config.json");
        assert!(
            crate::errors::message(&e)
                .starts_with("rampart: refused by profile isolated; to run it, fix it.\n")
        );
    }

    /// The worst case: every rule, many violations each, long values.
    #[test]
    fn refusal_message_fits_even_when_every_rule_fires_many_times() {
        use serde_json::json;
        let mut v = Vec::new();
        for r in super::RULES {
            for i in 0..20 {
                let mut x = super::Violation::new(
                    format!("/mounts/{i}/source/{}", "x".repeat(200)),
                    json!("é".repeat(500)),
                    "why".repeat(100),
                );
                x.rule = r.id;
                x.reference = r.reference;
                v.push(x);
            }
        }
        let msg = super::refusal_message("restricted", &v);
        check_shape(&msg, &v, "all rules", false);
        assert!(msg.starts_with("refused by profile restricted; to run it, drop --privileged"));
        // The privileged spec: one fix, one line per rule, "N fields" for block-device.
        let (p, h) = (
            crate::steps::testutil::profile("restricted"),
            host_with_docker_netns(),
        );
        let cx = super::PolicyContext {
            profile: &p,
            host: &h,
        };
        let spec = crate::steps::testutil::fixture("docker-20.10/privileged.json");
        let v = super::evaluate(&spec, &cx, &[]).unwrap();
        let msg = super::refusal_message("restricted", &v);
        eprintln!("{msg}");
        assert!(msg.starts_with("refused by profile restricted; to run it, drop --privileged / --cap-add ALL and add only the capabilities you need.\n[all-capabilities]"), "{msg}");
        assert_eq!(msg.matches("drop --privileged").count(), 1, "{msg}");
        assert!(
            msg.contains("\n[block-device]: 10 fields, first /linux/devices/"),
            "{msg}"
        );
        assert!(msg.contains(" fields, first /linux/devices/"), "{msg}");
        // A Kubernetes hostNetwork pod (tests/e2e_engines.rs sees this through the CRI).
        let spec = crate::steps::testutil::fixture("containerd-1.6-cri/container.json");
        let v = super::evaluate(&spec, &cx, &[]).unwrap();
        let msg = super::refusal_message("restricted", &v);
        assert!(msg.starts_with("refused by profile restricted; to run it, drop --network host (Kubernetes: hostNetwork); drop --uts host (Kubernetes: hostNetwork).\n[host-network] host network namespace: "), "{msg}");
        assert!(msg.ends_with("\nAdmin: waive = [\"host-network\", \"host-uts\"] under [policy] in a profile, or an allow-listed annotation. Every field: rampart why CONTAINER"), "{msg}");
    }

    /// Table over the captured specs: which rules refuse each one under restricted.
    #[test]
    fn each_captured_spec_gets_exactly_its_refusals() {
        let table: &[(&str, &[&str])] = &[
            ("docker-20.10/default.json", &[]),
            ("docker-20.10/readonly.json", &[]),
            ("docker-20.10/nnp-limits.json", &[]),
            ("docker-20.10/limits-explicit.json", &[]), // within restricted's ceilings
            ("docker-20.10/user1000.json", &[]),
            ("docker-20.10/tty.json", &["all-capabilities"]), // captured with --cap-add ALL -t
            ("docker-20.10/seccomp-unconfined.json", &[]),
            (
                "docker-20.10/privileged.json",
                &[
                    "all-capabilities",
                    "masked-paths-emptied",
                    "device-allow-all",
                    "writable-sysfs",
                    "writable-cgroupfs",
                    "block-device",
                    "device-not-allowed",
                ],
            ),
            ("docker-20.10/capadd-all.json", &["all-capabilities"]),
            ("docker-20.10/capadd-chown.json", &[]),
            (
                "docker-20.10/capadd-chown-setuid.json",
                &["capability-not-grantable"],
            ), // --cap-add SYS_ADMIN
            ("docker-20.10/capdrop-all-add.json", &[]),
            ("docker-20.10/capdrop-netraw.json", &[]),
            (
                "docker-20.10/hostpid.json",
                &["host-pid", "host-ipc", "host-uts", "sensitive-mount"],
            ), // --ipc host binds /dev/shm
            ("docker-20.10/hostnet.json", &["host-network"]),
            ("docker-20.10/hostnet-e2e.json", &["host-network"]),
            ("docker-20.10/dockersock.json", &["engine-socket"]),
            ("docker-20.10/volumes-tmp-run.json", &[]), // a named volume, /srv/secrets
            ("docker-20.10/devices.json", &["unsafe-sysctl"]), // --device (char) --sysctl net.ipv4.ip_forward=1
            (
                "containerd-1.6-cri/sandbox.json",
                &["host-network", "host-uts"],
            ),
            (
                "containerd-1.6-cri/container.json",
                &["host-network", "host-uts"],
            ),
            ("runc-spec-default.json", &[]),
            ("containerd-1.6-ctr/default.json", &[]),
            ("podman-4.3/default.json", &[]),
        ];
        for (name, want) in table {
            let got = fired(name, Some(host_with_docker_netns()));
            assert_eq!(&got, want, "{name}");
        }
    }

    /// One synthetic case per rule the captured specs do not cover, on Docker's default spec.
    #[test]
    fn each_rule_fires_on_its_own_case_and_names_the_value() {
        use crate::profile::RootUser;
        use crate::steps::testutil::{fixture, profile};
        use serde_json::json;
        type Edit = fn(&mut crate::spec::Spec);
        let cases: &[(&str, Edit)] = &[
            ("cwd-in-proc", |s| {
                s.set("/process/cwd", json!("/proc/self/fd/7")).unwrap();
            }),
            ("apparmor-unconfined", |s| {
                s.set("/process/apparmorProfile", json!("unconfined"))
                    .unwrap();
            }),
            ("hook-not-allowed", |s| {
                s.set(
                    "/hooks/createRuntime",
                    json!([{"path": "/usr/bin/curl", "args": ["curl", "evil"]}]),
                )
                .unwrap();
            }),
            ("shared-propagation", |s| {
                s.set("/linux/rootfsPropagation", json!("rshared")).unwrap();
            }),
            ("unsafe-mount-destination", |s| {
                s.set("/mounts/0/destination", json!("/proc/../../etc"))
                    .unwrap();
            }),
            ("unsafe-sysctl", |s| {
                s.set("/linux/sysctl/kernel.core_pattern", json!("|/x"))
                    .unwrap();
            }),
            ("net-sysctl-shared-netns", |s| {
                s.set(
                    "/linux/namespaces/1/path",
                    json!("/run/docker/netns/default"),
                )
                .unwrap();
            }),
            ("masked-paths-emptied", |s| {
                s.set("/linux/maskedPaths", json!([])).unwrap();
            }),
            ("host-mount", |s| {
                s.set(
                    "/linux/namespaces",
                    json!([{"type": "network"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}]),
                )
                .unwrap();
            }),
            ("sensitive-mount", |s| {
                s.set("/mounts/7/source", json!("/etc")).unwrap();
            }),
            ("engine-socket", |s| {
                s.set("/mounts/7/source", json!("/var/run/docker.sock"))
                    .unwrap();
            }),
        ];
        let p = profile("restricted");
        let h = host_with_docker_netns();
        let cx = super::PolicyContext {
            profile: &p,
            host: &h,
        };
        for (rule, edit) in cases {
            let mut s = fixture("docker-20.10/default.json");
            edit(&mut s);
            let v = super::evaluate(&s, &cx, &[]).unwrap();
            assert!(
                v.iter()
                    .any(|v| v.rule == *rule && !v.field.is_empty() && !v.why.is_empty()),
                "{rule}: {v:?}"
            );
            // The same case waived by the profile passes that rule.
            let mut waiving = p.clone();
            waiving.policy.waive = vec![rule.to_string()];
            let wcx = super::PolicyContext {
                profile: &waiving,
                host: &h,
            };
            assert!(
                !super::evaluate(&s, &wcx, &[])
                    .unwrap()
                    .iter()
                    .any(|v| v.rule == *rule),
                "{rule} waived"
            );
        }
        let mut rootless = p.clone();
        rootless.policy.root = RootUser::Refuse;
        let rcx = super::PolicyContext {
            profile: &rootless,
            host: &h,
        };
        let ids: Vec<_> = super::evaluate(&fixture("docker-20.10/default.json"), &rcx, &[])
            .unwrap()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(ids, ["root-user"]);
        assert!(
            super::evaluate(&fixture("docker-20.10/user1000.json"), &rcx, &[])
                .unwrap()
                .is_empty()
        );
        // A profile whose [userns] maps root away (or refuses) needs no uid from the request;
        // one that may skip the user namespace still refuses root.
        let mut mapped = rootless.clone();
        mapped.userns.enabled = true;
        let docker = fixture("docker-20.10/default.json");
        let n = |p: &crate::profile::Profile| {
            let cx = super::PolicyContext {
                profile: p,
                host: &h,
            };
            super::evaluate(&docker, &cx, &[]).unwrap().len()
        };
        assert_eq!(n(&mapped), 0);
        mapped.userns.on_unsupported = crate::profile::OnUnsupported::Skip;
        assert_eq!(n(&mapped), 1);
    }
}
