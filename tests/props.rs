//! Hostile input, generated: properties that hold for every spec and argv a generator can make
//! (cargo-fuzz needs a nightly toolchain CI does not have; `fuzz/` has the same targets for it).
//!
//! Specs: every captured spec (tests/fixtures/specs), mutated: capability sets with unknown
//! names, namespaces with and without paths, mounts with odd destinations and options, rlimits,
//! resources (negative, zero, huge, wrong types), random seccomp objects, unknown fields at
//! random depths, keys respelled as Go folds them (case, ſ, K; refused), odd values and
//! removed sections. For each, under `restricted` and `baseline`:
//! hardening fails (fail closed) or its output is never weaker than its input, keeps unknown
//! fields byte for byte and is a fixed point. A sample also goes through real runc.
//!
//! argv: never panics, and what reaches the runtime is the input minus Rampart's options.
//!
//! PROPTEST_CASES sets the number of generated specs and argvs (default 2000 and 10000);
//! RAMPART_PROPS_RUNC_CASES the specs run through real runc (default 24).
mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use rampart::host::HostFacts;
use rampart::policy::{self, PolicyContext};
use rampart::profile::{Profile, ProfileSource};
use rampart::spec::Spec;
use rampart::steps::origin::{self, Axis, Origin};
use rampart::steps::{self, Context};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

// ------------------------------------------------------------------------------ pools

const CAP_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
];

/// Capability names: every real one, then names a spec must not get away with.
fn cap_pool() -> Vec<String> {
    let mut v: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    v.sort();
    v.extend(
        [
            "CAP_FLY",
            "cap_chown",
            "CHOWN",
            "",
            "CAP_",
            "CAP_SYS_ADMIN ",
            "CAP_LAST_CAP",
        ]
        .map(String::from),
    );
    v
}

const NS_TYPES: &[&str] = &[
    "pid", "network", "ipc", "uts", "mount", "user", "cgroup", "time", "net", "foo", "",
];
const NS_PATHS: &[&str] = &[
    "/proc/1/ns/net",
    "/proc/self/ns/pid",
    "/run/netns/x",
    "relative/ns",
    "/nonexistent",
    "",
];
const MOUNT_DESTS: &[&str] = &[
    "/data",
    "/proc/../etc",
    "..",
    "/../../",
    "relative",
    "",
    "//",
    "/dev/shm/../../root",
    "/proc/sys",
    "/sys/fs/cgroup",
    "/a/./b",
    "/tmp",
    "/run",
    "/proc",
    "/dev",
];
const MOUNT_TYPES: &[&str] = &[
    "bind", "tmpfs", "proc", "sysfs", "cgroup", "overlay", "", "none", "mqueue",
];
const MOUNT_SOURCES: &[&str] = &[
    "/etc",
    "/",
    "/var/run/docker.sock",
    "/run/containerd",
    "tmpfs",
    "",
    "/srv/data",
    "../x",
    "/proc",
    "/dev/sda",
];
const MOUNT_OPTIONS: &[&str] = &[
    "rbind", "bind", "ro", "rw", "nosuid", "suid", "dev", "exec", "rshared", "rslave", "rprivate",
    "shared", "size=1", "mode=777", "", "remount", "x-weird",
];
const RLIMIT_TYPES: &[&str] = &[
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_CORE",
    "RLIMIT_AS",
    "RLIMIT_STACK",
    "RLIMIT_MEMLOCK",
    "RLIMIT_FOO",
    "nofile",
    "",
];
/// Resource fields and whether they are signed.
const RESOURCE_FIELDS: &[&str] = &[
    "/linux/resources/pids/limit",
    "/linux/resources/memory/limit",
    "/linux/resources/memory/swap",
    "/linux/resources/memory/reservation",
    "/linux/resources/cpu/shares",
    "/linux/resources/cpu/quota",
    "/linux/resources/cpu/period",
    "/linux/resources/blockIO/weight",
    "/linux/resources/memory/swappiness",
];
const SECCOMP_ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_FOO",
    "",
];
const SECCOMP_ARCHES: &[&str] = &[
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_FOO",
];
const SYSCALLS: &[&str] = &[
    "read",
    "write",
    "execve",
    "exit_group",
    "mount",
    "unshare",
    "clone",
    "clone3",
    "ptrace",
    "keyctl",
    "bpf",
    "socket",
    "personality",
    "io_uring_setup",
    "open_by_handle_at",
    "chroot",
    "notasyscall",
    "",
];
const SECCOMP_OPS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_GT",
    "SCMP_CMP_GE",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_FOO",
];
const SECCOMP_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_FOO",
];

/// Odd values at fields Rampart or runc care about.
fn odd_values() -> Vec<(&'static str, Value)> {
    vec![
        ("/process/noNewPrivileges", json!(false)),
        ("/process/noNewPrivileges", json!(null)),
        ("/process/noNewPrivileges", json!("yes")),
        ("/root/readonly", json!(false)),
        ("/root/readonly", json!("true")),
        ("/process/user/uid", json!(-1)),
        ("/process/user/uid", json!(4294967296u64)),
        ("/process/user/uid", json!(1000)),
        ("/process/user/uid", json!("0")),
        ("/linux/rootfsPropagation", json!("rshared")),
        ("/linux/rootfsPropagation", json!("bogus")),
        ("/process/apparmorProfile", json!("unconfined")),
        ("/process/oomScoreAdj", json!(-1000)),
        ("/process/oomScoreAdj", json!(5000)),
        ("/linux/sysctl/kernel.core_pattern", json!("|/x")),
        ("/linux/sysctl/net.ipv4.ip_forward", json!("1")),
        (
            "/linux/sysctl/net.ipv4.ip_unprivileged_port_start",
            json!("0"),
        ),
        ("/hooks/prestart", json!([{"path": "/bin/sh"}])),
        ("/hooks/createRuntime", json!([{"path": "relative"}])),
        ("/annotations/rampart.dev~1profile", json!("baseline")),
        (
            "/linux/devices",
            json!([{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}]),
        ),
        (
            "/linux/resources/devices",
            json!([{"allow": true, "access": "rwm"}]),
        ),
        (
            "/linux/resources/devices",
            json!([{"allow": true, "type": "z"}]),
        ),
        ("/process/capabilities", json!(null)),
        ("/process/capabilities", json!({})),
        ("/process/capabilities/bounding", json!("CAP_CHOWN")),
        ("/linux/seccomp", json!(null)),
        ("/linux/seccomp", json!({})),
        ("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_ALLOW"})),
        (
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}),
        ),
        ("/linux/maskedPaths", json!([])),
        (
            "/linux/maskedPaths",
            json!(["/proc/kcore", "/proc/kcore", ""]),
        ),
        ("/linux/readonlyPaths", json!(null)),
        ("/linux/readonlyPaths", json!(["relative", "/proc/sys"])),
        ("/process/rlimits", json!([])),
        ("/process/rlimits", json!({})),
        ("/linux/resources", json!(null)),
        ("/linux/resources/memory", json!({})),
        ("/linux/resources/cpu/cpus", json!("0-1")),
        (
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 0, "size": 4294967295u32}]),
        ),
        ("/process/cwd", json!("/proc/self/fd/7")),
        ("/process/cwd", json!("relative")),
        ("/ociVersion", json!("0.0.1")),
        ("/ociVersion", json!(7)),
    ]
}

const REMOVABLE: &[&str] = &[
    "/process",
    "/linux",
    "/root",
    "/mounts",
    "/linux/namespaces",
    "/linux/seccomp",
    "/process/capabilities",
    "/process/capabilities/bounding",
    "/process/rlimits",
    "/linux/resources",
    "/linux/maskedPaths",
    "/linux/readonlyPaths",
    "/hooks",
    "/process/noNewPrivileges",
    "/root/readonly",
];

// --------------------------------------------------------------------------- mutations

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace one capability set (CAP_SETS index) with names from the pool.
    Caps(usize, Vec<usize>),
    /// Replace the namespaces: (type, optional path).
    Namespaces(Vec<(usize, Option<usize>)>),
    /// Append a mount.
    Mount {
        dest: usize,
        kind: usize,
        source: usize,
        options: Vec<usize>,
    },
    /// Replace the rlimits.
    Rlimits(Vec<(usize, u64, u64)>),
    /// Set a resource field.
    Resource(usize, Value),
    /// Replace linux.seccomp.
    Seccomp(Value),
    /// Insert an unknown field into the object reached by following `path`.
    Unknown(Vec<usize>, Value),
    /// An odd value at a known field (index into odd_values()).
    Odd(usize),
    /// Remove a section (index into REMOVABLE).
    Remove(usize),
    /// Append entries to maskedPaths (true) or readonlyPaths.
    Paths(bool, Vec<usize>),
    /// Rename a key of the object reached by following `path` to a spelling Go's
    /// encoding/json folds onto the same field (variant: upper-case, one letter flipped, ſ
    /// for an s, K for a k); tests/oracle.rs checks against runc what these mean.
    FoldKey(Vec<usize>, usize, u8),
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        Just(json!("1")),
        Just(json!(null)),
        any::<i64>().prop_map(|n| json!(n)),
        (0i64..1 << 34).prop_map(|n| json!(n)),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        // Binary fractions: their shortest decimal form parses back exactly (see
        // numbers_in_unknown_fields_reach_runc_as_written for arbitrary floats).
        any::<i32>().prop_map(|n| json!(f64::from(n) / 4.0)),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_.]{1,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What a generator makes: anything (`Hostile`), well-formed specs (`Valid`), or well-formed
/// specs that plain runc can run as root on this machine (`Runnable`: no namespaces joined or
/// dropped, no host mounts, and a seccomp profile that does not starve runc's own init).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Gen {
    Hostile,
    Valid,
    Runnable,
}

/// Syscalls neither runc's init (after it loads the filter) nor /bin/true makes.
const RUNNABLE_SYSCALLS: &[usize] = &[4, 5, 7, 8, 9, 10, 13, 14, 15];

fn seccomp(g: Gen) -> impl Strategy<Value = Value> {
    let valid = g != Gen::Hostile;
    let pick = |n: usize, valid_n: usize| if valid { valid_n } else { n };
    let (nops, nsys, nact, narch, nflags) = (
        pick(SECCOMP_OPS.len(), VALID_OPS),
        pick(SYSCALLS.len(), VALID_SYSCALLS),
        pick(SECCOMP_ACTIONS.len(), VALID_ACTIONS),
        pick(SECCOMP_ARCHES.len(), VALID_ARCHES),
        pick(SECCOMP_FLAGS.len(), VALID_FLAGS),
    );
    let arg = (
        if valid { 0u32..6 } else { 0u32..8 },
        any::<u64>(),
        prop::option::of(any::<u64>()),
        0..nops,
    )
        .prop_map(|(index, value, two, op)| {
            let mut a = json!({"index": index, "value": value, "op": SECCOMP_OPS[op]});
            if let Some(t) = two {
                a["valueTwo"] = json!(t);
            }
            a
        });
    let rule = (
        match g {
            Gen::Runnable => {
                prop::collection::vec(prop::sample::select(RUNNABLE_SYSCALLS), 0..4).boxed()
            }
            _ => prop::collection::vec(0..nsys, 0..4).boxed(),
        },
        0..nact,
        prop::option::of(0u32..200),
        prop::collection::vec(arg, 0..3),
    )
        .prop_map(|(names, action, errno, args)| {
            let mut r = json!({
                "names": names.iter().map(|i| SYSCALLS[*i]).collect::<Vec<_>>(),
                "action": SECCOMP_ACTIONS[action],
            });
            if let Some(e) = errno {
                r["errnoRet"] = json!(e);
            }
            if !args.is_empty() {
                r["args"] = json!(args);
            }
            r
        });
    let default = match g {
        Gen::Runnable => prop::sample::select(vec![0usize, 6]).boxed(), // ALLOW, LOG
        _ => (0..nact).boxed(),
    };
    (
        default,
        prop::option::of(0u32..200),
        prop::collection::vec(0..narch, 0..3),
        prop::collection::vec(rule, 0..6),
        // runc 1.1.5 refuses any seccomp flag ("not yet supported").
        prop::collection::vec(0..nflags, 0..if g == Gen::Runnable { 1 } else { 2 }),
    )
        .prop_map(|(default, errno, arches, rules, flags)| {
            let mut s = json!({"defaultAction": SECCOMP_ACTIONS[default], "syscalls": rules});
            if let Some(e) = errno {
                s["defaultErrnoRet"] = json!(e);
            }
            if !arches.is_empty() {
                s["architectures"] = json!(
                    arches
                        .iter()
                        .map(|i| SECCOMP_ARCHES[*i])
                        .collect::<Vec<_>>()
                );
            }
            if !flags.is_empty() {
                s["flags"] = json!(flags.iter().map(|i| SECCOMP_FLAGS[*i]).collect::<Vec<_>>());
            }
            s
        })
}

/// How many entries at the start of each pool are valid (the rest must be refused).
fn valid_caps() -> usize {
    caps::all().len()
}
const VALID_RLIMITS: usize = 6;
const VALID_ACTIONS: usize = 8;
const VALID_ARCHES: usize = 4;
const VALID_SYSCALLS: usize = 16;
const VALID_OPS: usize = 7;
const VALID_FLAGS: usize = 3;
/// Options a tmpfs takes: ro, rw, nosuid, suid, dev, exec, size=1, mode=777.
const TMPFS_OPTIONS: &[usize] = &[2, 3, 4, 5, 6, 7, 12, 13];

/// Mutations that keep the spec well-formed and runnable (no namespaces joined or dropped, no
/// host mounts: runc runs these as root here), or hostile ones that draw on the whole pools.
fn mutation(g: Gen) -> BoxedStrategy<Mutation> {
    let valid = g != Gen::Hostile;
    let ncaps = if valid {
        valid_caps()
    } else {
        cap_pool().len()
    };
    let caps = (0..CAP_SETS.len(), prop::collection::vec(0..ncaps, 0..8))
        .prop_map(|(s, n)| Mutation::Caps(s, n));
    let kinds: Vec<usize> = match g {
        // A stack of a few KiB crashes /bin/true at random (ASLR): no differential there.
        Gen::Runnable => (0..VALID_RLIMITS)
            .filter(|i| RLIMIT_TYPES[*i] != "RLIMIT_STACK")
            .collect(),
        Gen::Valid => (0..VALID_RLIMITS).collect(),
        Gen::Hostile => (0..RLIMIT_TYPES.len()).collect(),
    };
    let limit = || {
        prop_oneof![
            Just(0u64),
            Just(1024),
            Just(4096),
            Just(1 << 20),
            Just(u64::MAX),
            any::<u64>()
        ]
    };
    let runnable = g == Gen::Runnable;
    let rlimits = prop::collection::vec((prop::sample::select(kinds), limit(), limit()), 0..4)
        .prop_map(move |list| {
            // runc refuses soft > hard (Rampart lowers it, and Valid specs test that); a
            // runnable spec keeps them in order so that plain runc runs it too.
            Mutation::Rlimits(match runnable {
                true => list
                    .into_iter()
                    .map(|(t, a, b)| (t, a.min(b), a.max(b)))
                    .collect(),
                false => list,
            })
        });
    let unknown = (prop::collection::vec(any::<usize>(), 0..5), json_value())
        .prop_map(|(p, v)| Mutation::Unknown(p, v));
    let paths = (
        any::<bool>(),
        prop::collection::vec(0..MOUNT_DESTS.len(), 1..4),
    )
        .prop_map(|(m, e)| Mutation::Paths(m, e));
    let seccomp = seccomp(g).prop_map(Mutation::Seccomp);
    if valid {
        let resource = (0..RESOURCE_FIELDS.len())
            .prop_flat_map(|f| {
                let range = match RESOURCE_FIELDS[f] {
                    p if p.ends_with("pids/limit") => 1i64..100_000,
                    p if p.contains("memory/") && !p.ends_with("swappiness") => 16 << 20..8 << 30,
                    p if p.ends_with("shares") => 2..262_144,
                    p if p.contains("cpu/") => 1000..1_000_000,
                    p if p.ends_with("weight") => 10..1000,
                    _ => 0..100,
                };
                (Just(f), range)
            })
            .prop_map(|(f, v)| Mutation::Resource(f, json!(v)));
        let mount = (
            prop::sample::select(vec![0usize, 10, 11, 12]), // /data, /a/./b, /tmp, /run
            prop::collection::vec(prop::sample::select(TMPFS_OPTIONS), 0..4),
        )
            .prop_map(|(d, options)| Mutation::Mount {
                dest: d,
                kind: 1, // tmpfs
                source: 4,
                options,
            });
        return prop_oneof![caps, rlimits, resource, unknown, paths, seccomp, mount].boxed();
    }
    let resource = (0..RESOURCE_FIELDS.len(), number()).prop_map(|(f, v)| Mutation::Resource(f, v));
    let namespaces = prop::collection::vec(
        (0..NS_TYPES.len(), prop::option::of(0..NS_PATHS.len())),
        0..7,
    )
    .prop_map(Mutation::Namespaces);
    let mount = (
        0..MOUNT_DESTS.len(),
        0..MOUNT_TYPES.len(),
        0..MOUNT_SOURCES.len(),
        prop::collection::vec(0..MOUNT_OPTIONS.len(), 0..4),
    )
        .prop_map(|(dest, kind, source, options)| Mutation::Mount {
            dest,
            kind,
            source,
            options,
        });
    let odd = (0..odd_values().len()).prop_map(Mutation::Odd);
    let remove = (0..REMOVABLE.len()).prop_map(Mutation::Remove);
    let fold = (
        prop::collection::vec(any::<usize>(), 0..6),
        any::<usize>(),
        any::<u8>(),
    )
        .prop_map(|(p, k, v)| Mutation::FoldKey(p, k, v));
    prop_oneof![
        3 => caps,
        1 => namespaces,
        2 => mount,
        2 => rlimits,
        3 => resource,
        2 => seccomp,
        3 => unknown,
        3 => odd,
        1 => remove,
        1 => paths,
        2 => fold,
    ]
    .boxed()
}

/// A spelling of `key` that Go's encoding/json matches to the same struct field.
fn fold_key(key: &str, variant: u8) -> String {
    match variant % 4 {
        0 => key.to_ascii_uppercase(),
        1 if key.contains(['s', 'S']) => key.replacen(['s', 'S'], "\u{17f}", 1),
        2 if key.contains(['k', 'K']) => key.replacen(['k', 'K'], "\u{212a}", 1),
        _ => {
            let mut c: Vec<char> = key.chars().collect();
            if let Some(x) = c.iter_mut().find(|x| x.is_ascii_alphabetic()) {
                *x = if x.is_ascii_uppercase() {
                    x.to_ascii_lowercase()
                } else {
                    x.to_ascii_uppercase()
                };
            }
            c.into_iter().collect()
        }
    }
}

/// Sets `ptr`, creating objects on the way; false if a non-object is in the way.
fn set_ptr(root: &mut Value, ptr: &str, v: Value) -> bool {
    let mut cur = root;
    let parts: Vec<String> = ptr
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, p) in parts.iter().enumerate() {
        if cur.is_null() {
            *cur = json!({});
        }
        let Some(obj) = cur.as_object_mut() else {
            return false;
        };
        if i == parts.len() - 1 {
            obj.insert(p.clone(), v);
            return true;
        }
        cur = obj.entry(p.clone()).or_insert(Value::Null);
    }
    false
}

fn remove_ptr(root: &mut Value, ptr: &str) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    if let Some(o) = root.pointer_mut(parent).and_then(Value::as_object_mut) {
        o.remove(key);
    }
}

/// Applies the mutations; returns the unknown fields inserted (unique key -> value).
fn apply(spec: &mut Value, muts: &[Mutation]) -> BTreeMap<String, Value> {
    let caps = cap_pool();
    let odd = odd_values();
    let mut unknown = BTreeMap::new();
    for (n, m) in muts.iter().enumerate() {
        match m {
            Mutation::Caps(set, names) => {
                let v: Vec<&str> = names.iter().map(|i| caps[*i].as_str()).collect();
                set_ptr(
                    spec,
                    &format!("/process/capabilities/{}", CAP_SETS[*set]),
                    json!(v),
                );
            }
            Mutation::Namespaces(list) => {
                let v: Vec<Value> = list
                    .iter()
                    .map(|(t, p)| match p {
                        Some(p) => json!({"type": NS_TYPES[*t], "path": NS_PATHS[*p]}),
                        None => json!({"type": NS_TYPES[*t]}),
                    })
                    .collect();
                set_ptr(spec, "/linux/namespaces", json!(v));
            }
            Mutation::Mount {
                dest,
                kind,
                source,
                options,
            } => {
                let m = json!({
                    "destination": MOUNT_DESTS[*dest],
                    "type": MOUNT_TYPES[*kind],
                    "source": MOUNT_SOURCES[*source],
                    "options": options.iter().map(|i| MOUNT_OPTIONS[*i]).collect::<Vec<_>>(),
                });
                match spec.get_mut("mounts").and_then(Value::as_array_mut) {
                    Some(a) => a.push(m),
                    None => {
                        set_ptr(spec, "/mounts", json!([m]));
                    }
                }
            }
            Mutation::Rlimits(list) => {
                // One entry per type: duplicates are duplicate_rlimit_entries_cannot_lift_a_limit.
                let mut seen = Vec::new();
                let v: Vec<Value> = list
                    .iter()
                    .filter(|(t, _, _)| {
                        let new = !seen.contains(t);
                        seen.push(*t);
                        new
                    })
                    .map(|(t, s, h)| json!({"type": RLIMIT_TYPES[*t], "soft": s, "hard": h}))
                    .collect();
                set_ptr(spec, "/process/rlimits", json!(v));
            }
            Mutation::Resource(f, v) => {
                set_ptr(spec, RESOURCE_FIELDS[*f], v.clone());
            }
            Mutation::Seccomp(s) => {
                set_ptr(spec, "/linux/seccomp", s.clone());
            }
            Mutation::Unknown(path, v) => {
                let key = format!("x-rampart-fuzz-{n}");
                if let Some(obj) = walk_to_object(spec, path) {
                    obj.insert(key.clone(), v.clone());
                    unknown.insert(key, v.clone());
                }
            }
            Mutation::Odd(i) => {
                let (ptr, v) = &odd[*i];
                set_ptr(spec, ptr, v.clone());
            }
            Mutation::Remove(i) => remove_ptr(spec, REMOVABLE[*i]),
            Mutation::FoldKey(path, key, variant) => {
                if let Some(obj) = walk_to_object(spec, path).filter(|o| !o.is_empty()) {
                    let k = obj.keys().nth(key % obj.len()).unwrap().clone();
                    let folded = fold_key(&k, *variant);
                    if folded != k && !obj.contains_key(&folded) {
                        let v = obj.remove(&k).unwrap();
                        obj.insert(folded, v);
                    }
                }
            }
            Mutation::Paths(masked, entries) => {
                let field = if *masked {
                    "/linux/maskedPaths"
                } else {
                    "/linux/readonlyPaths"
                };
                let mut have: Vec<Value> = spec
                    .pointer(field)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                have.extend(entries.iter().map(|i| json!(MOUNT_DESTS[*i])));
                set_ptr(spec, field, json!(have));
            }
        }
    }
    // Values as they ended up (a later unknown field may sit inside an earlier one; a later
    // mutation may have replaced the object holding one).
    unknown
        .into_keys()
        .filter_map(|k| {
            let found = find_key(spec, &k);
            (found.len() == 1).then(|| (k, found[0].clone()))
        })
        .collect()
}

/// Objects where an unknown key is a type error by design (string maps), or that Rampart
/// replaces whole (seccomp: the request's profile is intersected into a new one).
const NO_UNKNOWN_UNDER: &[&str] = &["annotations", "sysctl", "seccomp", "unified"];

/// Follows `path` (each step picks a child by index) down objects and arrays of objects and
/// returns the last object reached.
fn walk_to_object<'a>(v: &'a mut Value, path: &[usize]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = v;
    for step in path {
        let next_key = match &*cur {
            Value::Object(o) => {
                let keys: Vec<&String> = o
                    .iter()
                    .filter(|(k, c)| {
                        (c.is_object() || c.is_array()) && !NO_UNKNOWN_UNDER.contains(&k.as_str())
                    })
                    .map(|(k, _)| k)
                    .collect();
                if keys.is_empty() {
                    break;
                }
                Some(keys[step % keys.len()].clone())
            }
            Value::Array(a) => {
                if !a.iter().any(Value::is_object) {
                    return None;
                }
                None
            }
            _ => return None,
        };
        cur = match next_key {
            Some(k) => cur.get_mut(&k).unwrap(),
            None => {
                let a = cur.as_array_mut().unwrap();
                let objs: Vec<usize> = (0..a.len()).filter(|i| a[*i].is_object()).collect();
                let i = objs[step % objs.len()];
                &mut a[i]
            }
        };
    }
    match cur {
        Value::Object(o) => Some(o),
        Value::Array(a) => a.iter_mut().find_map(Value::as_object_mut),
        _ => None,
    }
}

// ------------------------------------------------------------------------------ fixtures

fn fixtures() -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let name = p.strip_prefix(&root).unwrap().display().to_string();
                out.push((
                    name,
                    serde_json::from_slice(&fs::read(&p).unwrap()).unwrap(),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn profiles() -> Vec<Profile> {
    ["restricted", "baseline"]
        .iter()
        .map(|n| ProfileSource::default().load(n).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------- properties

fn strs(v: &Value, ptr: &str) -> Option<Vec<String>> {
    v.pointer(ptr).and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    })
}

fn positive(v: &Value, ptr: &str) -> Option<i64> {
    v.pointer(ptr).and_then(Value::as_i64).filter(|n| *n > 0)
}

/// Actions that let a syscall run.
fn allows(action: &str) -> bool {
    matches!(action, "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG")
}

/// Whether the request's seccomp profile lets `name` run in some case.
fn request_allows(seccomp: Option<&Value>, name: &str) -> bool {
    let Some(s) = seccomp.filter(|s| s.is_object()) else {
        return true;
    };
    let rules: Vec<&Value> = s
        .get("syscalls")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let named: Vec<&&Value> = rules
        .iter()
        .filter(|r| {
            r.get("names")
                .and_then(Value::as_array)
                .is_some_and(|n| n.iter().any(|x| x == name))
        })
        .collect();
    if named
        .iter()
        .any(|r| allows(r.get("action").and_then(Value::as_str).unwrap_or_default()))
    {
        return true;
    }
    let default = s.get("defaultAction").and_then(Value::as_str).unwrap_or("");
    // Default allow, unless a rule without argument conditions denies it.
    allows(default)
        && !named.iter().any(|r| {
            r.get("args")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty())
        })
}

/// What one generated spec must satisfy under one profile. Err = a property violation.
fn check(input: &Value, unknown: &BTreeMap<String, Value>, p: &Profile) -> Result<Outcome, String> {
    let bytes = serde_json::to_vec(input).unwrap();
    let h = HostFacts::for_tests();
    let (spec, refused) = match Spec::from_slice(&bytes) {
        Err(_) => return Ok(Outcome::Rejected),
        Ok(s) => {
            let cx = PolicyContext {
                profile: p,
                host: &h,
            };
            match policy::evaluate(&s, &cx, &[]) {
                Err(_) => return Ok(Outcome::Rejected),
                Ok(v) => (s, !v.is_empty()),
            }
        }
    };
    let cx = Context {
        profile: p,
        host: &h,
        container_caps: None,
        container_apparmor: None,
    };
    let mut hardened = spec.clone();
    if steps::harden(&mut hardened, &cx, steps::CREATE).is_err() {
        return Ok(Outcome::Rejected);
    }
    let out = hardened.raw().clone();
    let at = |what: &str| format!("profile {}: {what}", p.name);

    // Capabilities: each set a subset of the request's; inheritable and ambient empty.
    if input.pointer("/process").is_some() {
        for set in CAP_SETS {
            let ptr = format!("/process/capabilities/{set}");
            let (i, o) = (strs(input, &ptr).unwrap_or_default(), strs(&out, &ptr));
            let o = o.ok_or_else(|| at(&format!("{set} left unset")))?;
            if let Some(c) = o.iter().find(|c| !i.contains(c)) {
                return Err(at(&format!("{set} gained {c}")));
            }
            if matches!(set, "inheritable" | "ambient") && !o.is_empty() {
                return Err(at(&format!("{set} not empty: {o:?}")));
            }
            // Beyond the allow-list only what the request named explicitly and the profile
            // grants on request.
            let explicit = rampart::cap_request::explicit(
                &strs(input, "/process/capabilities/bounding").unwrap_or_default(),
            );
            if let Some(c) = o.iter().find(|c| {
                !(p.capabilities.allow.contains(c)
                    || (explicit.contains(c) && p.capabilities.grants(c)))
            }) {
                return Err(at(&format!(
                    "{set} keeps {c}, neither in the allow-list nor granted on explicit request"
                )));
            }
        }
        if out.pointer("/process/noNewPrivileges") != Some(&json!(true)) {
            return Err(at("noNewPrivileges not true"));
        }
        // rlimits, in every entry of a type the profile names (runc applies them in order:
        // the last one wins): never above the request's; never above the profile's ceiling
        // (`max`); and never above its default unless the user asked for more explicitly
        // (an engine's own default, or no entry, gets at most the default). "Never weaker"
        // now means: never weaker than the request and never above the ceiling; an explicit
        // request may legitimately stay above the profile's default.
        let rl = |v: &Value, kind: &str| -> Vec<(u64, u64)> {
            v.pointer("/process/rlimits")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| r["type"] == kind)
                .map(|r| (r["soft"].as_u64().unwrap(), r["hard"].as_u64().unwrap()))
                .collect()
        };
        for (kind, want) in &p.rlimits {
            let o = rl(&out, kind);
            if o.is_empty() {
                return Err(at(&format!("{kind} unset")));
            }
            let i = rl(input, kind);
            let requested = i.last().copied();
            let host_hard = h.rlimit_hard.get(kind).copied();
            let explicit = i.iter().any(|(soft, hard)| {
                origin::rlimit(kind, *soft, *hard, host_hard) == Origin::Explicit
            });
            let (ms, mh) = if explicit {
                (want.ceiling(), want.ceiling())
            } else {
                (want.soft, want.hard)
            };
            for (os, oh) in o {
                if os > ms || oh > mh {
                    return Err(at(&format!("{kind} {os}/{oh} above the profile's")));
                }
                if requested.is_some_and(|(is, ih)| os > is || oh > ih) {
                    return Err(at(&format!("{kind} raised")));
                }
            }
        }
    }
    // Masked and read-only paths: the request's and the profile's (non-glob) entries.
    for (ptr, wanted) in [
        ("/linux/maskedPaths", &p.paths.masked),
        ("/linux/readonlyPaths", &p.paths.readonly),
    ] {
        let (i, o) = (
            strs(input, ptr).unwrap_or_default(),
            strs(&out, ptr).unwrap_or_default(),
        );
        if let Some(x) = i.iter().find(|x| !o.contains(x)) {
            return Err(at(&format!("{ptr} lost {x}")));
        }
        if let Some(x) = wanted.iter().find(|x| !x.contains('*') && !o.contains(x)) {
            return Err(at(&format!("{ptr} lacks the profile's {x}")));
        }
    }
    if (p.rootfs.readonly || input.pointer("/root/readonly") == Some(&json!(true)))
        && out.pointer("/root/readonly") != Some(&json!(true))
    {
        return Err(at("root not read-only"));
    }
    // Limits: set, positive, at most the request's and at most the profile's ceiling; at
    // most the profile's default unless the user asked for more explicitly (a value that is
    // not an engine's default, see rampart::steps::origin).
    let r = &p.resources;
    let limits = [
        (
            "/linux/resources/pids/limit",
            Axis::Pids,
            r.pids,
            r.pids_ceiling(),
        ),
        (
            "/linux/resources/memory/limit",
            Axis::Memory,
            r.memory_bytes,
            r.memory_ceiling(),
        ),
    ];
    for (ptr, axis, default, ceiling) in limits {
        let Some(ceiling) = ceiling else { continue };
        let requested = input.pointer(ptr).and_then(Value::as_i64);
        let most = match origin::resource(axis, requested) {
            Origin::Explicit => ceiling,
            _ => default.unwrap_or(ceiling).min(ceiling),
        };
        let o = positive(&out, ptr).ok_or_else(|| at(&format!("{ptr} unset")))?;
        if o > most || positive(input, ptr).is_some_and(|i| o > i) {
            return Err(at(&format!("{ptr} = {o} raised")));
        }
    }
    if let Some(cpus_max) = r.cpus_ceiling() {
        let quota = "/linux/resources/cpu/quota";
        let o = positive(&out, quota).ok_or_else(|| at("cpu quota unset"))?;
        let period = out
            .pointer("/linux/resources/cpu/period")
            .and_then(Value::as_u64)
            .filter(|p| *p > 0)
            .unwrap_or(100_000);
        let cpus =
            match origin::resource(Axis::CpuQuota, input.pointer(quota).and_then(Value::as_i64)) {
                Origin::Explicit => cpus_max,
                _ => r.cpus.unwrap_or(cpus_max).min(cpus_max),
            };
        if o as f64 > cpus * period as f64 + 1.0 || positive(input, quota).is_some_and(|i| o > i) {
            return Err(at("cpu quota raised"));
        }
    }
    // Seccomp: present, default deny, and nothing the request denied is allowed.
    match out.pointer("/linux/seccomp") {
        Some(s) if s.is_object() => {
            let d = s["defaultAction"].as_str().unwrap_or_default();
            if allows(d) {
                return Err(at(&format!("seccomp default {d}")));
            }
            let req = input.pointer("/linux/seccomp");
            for r in s["syscalls"].as_array().into_iter().flatten() {
                if !allows(r["action"].as_str().unwrap_or_default()) {
                    continue;
                }
                for n in r["names"].as_array().into_iter().flatten() {
                    let n = n.as_str().unwrap_or_default();
                    if !request_allows(req, n) {
                        return Err(at(&format!("seccomp allows {n}, which the request denied")));
                    }
                }
            }
        }
        _ if refused => {}
        _ => return Err(at("no seccomp profile, and not refused")),
    }
    // Unknown fields: still there, byte for byte.
    for (key, v) in unknown {
        let found = find_key(&out, key);
        if found.len() != 1
            || serde_json::to_string(found[0]).unwrap() != serde_json::to_string(v).unwrap()
        {
            return Err(at(&format!("unknown field {key} = {v} became {found:?}")));
        }
    }
    // A fixed point: hardening the output changes nothing.
    let mut again = hardened.clone();
    let second = steps::harden(&mut again, &cx, steps::CREATE)
        .map_err(|e| at(&format!("second pass failed: {e:#}")))?;
    if let Some(c) = second.iter().find(|c| c.before != c.after) {
        return Err(at(&format!("second pass changed {}", c.field)));
    }
    // Byte for byte: a second create must not rewrite config.json.
    if serde_json::to_vec(again.raw()).unwrap() != serde_json::to_vec(hardened.raw()).unwrap() {
        return Err(at(&format!(
            "second pass changed the spec: {}",
            first_difference(hardened.raw(), again.raw())
        )));
    }
    Ok(if refused {
        Outcome::Refused
    } else {
        Outcome::Hardened
    })
}

/// Where two JSON documents first differ, as a JSON pointer and the two values.
fn first_difference(a: &Value, b: &Value) -> String {
    fn walk(a: &Value, b: &Value, at: String) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                if x.keys().ne(y.keys()) {
                    return Some(format!("{at}: keys {:?} became {:?}", x.keys(), y.keys()));
                }
                x.iter()
                    .find_map(|(k, v)| walk(v, &y[k], format!("{at}/{k}")))
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| walk(v, w, format!("{at}/{i}"))),
            _ if a == b => None,
            _ => Some(format!("{at}: {a} became {b}")),
        }
    }
    walk(a, b, String::new()).unwrap_or_else(|| "same values, other bytes".into())
}

fn find_key<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                if k == key {
                    out.push(c);
                }
                out.extend(find_key(c, key));
            }
        }
        Value::Array(a) => a.iter().for_each(|c| out.extend(find_key(c, key))),
        _ => {}
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Not a valid spec, or hardening failed: create fails closed.
    Rejected,
    /// A policy rule refuses it.
    Refused,
    Hardened,
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A runner with a printed seed: RAMPART_PROPS_SEED=N replays a run.
fn runner(cases: u32) -> TestRunner {
    let seed: u64 = std::env::var("RAMPART_PROPS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("props: RAMPART_PROPS_SEED={seed}");
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed >> (8 * (i % 8))) as u8 ^ i as u8;
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// A fixture and the mutations to apply: valid ones only (`runnable`), or mostly valid with
/// hostile ones among them.
fn spec_strategy(
    fixtures: &[(String, Value)],
    runnable: bool,
) -> impl Strategy<Value = (usize, Vec<Mutation>)> + use<> {
    let m = match runnable {
        true => mutation(Gen::Runnable),
        false => prop_oneof![3 => mutation(Gen::Valid), 1 => mutation(Gen::Hostile)].boxed(),
    };
    (0..fixtures.len(), prop::collection::vec(m, 0..8))
}

#[test]
fn hardening_fails_closed_or_never_weakens_keeps_unknown_fields_and_is_a_fixed_point() {
    let fixtures = fixtures();
    let profiles = profiles();
    let n = cases(2000);
    let tally = std::sync::Mutex::new(BTreeMap::<Outcome, usize>::new());
    let runs = AtomicUsize::new(0);
    let start = Instant::now();
    let result = runner(n).run(&spec_strategy(&fixtures, false), |(f, muts)| {
        let mut spec = fixtures[f].1.clone();
        let unknown = apply(&mut spec, &muts);
        for p in &profiles {
            runs.fetch_add(1, Ordering::Relaxed);
            let o = check(&spec, &unknown, p)
                .map_err(|e| TestCaseError::fail(format!("{} + {muts:?}: {e}", fixtures[f].0)))?;
            *tally.lock().unwrap().entry(o).or_default() += 1;
        }
        Ok(())
    });
    eprintln!(
        "props: {} hardenings of {n} generated specs in {:.1?}: {:?}",
        runs.load(Ordering::Relaxed),
        start.elapsed(),
        tally.lock().unwrap()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = tally.into_inner().unwrap();
    // The generator must reach every outcome, or the property proves little.
    for o in [Outcome::Rejected, Outcome::Refused, Outcome::Hardened] {
        assert!(
            t.get(&o).copied().unwrap_or(0) * 20 >= (2 * n as usize).min(200),
            "{o:?} too rare: {t:?}"
        );
    }
}

/// The captured specs themselves, without mutation, harden under both profiles.
#[test]
fn every_captured_spec_satisfies_the_properties() {
    for (name, spec) in fixtures() {
        for p in profiles() {
            let o = check(&spec, &BTreeMap::new(), &p).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_ne!(o, Outcome::Rejected, "{name} under {}", p.name);
        }
    }
}

/// cgroup v2's `unified` map is written by runc after the typed limits (fs2.Set calls
/// setUnified last), so it overrides them: the hardened spec must not carry a unified value
/// that lifts a profile limit.
#[test]

fn unified_cgroup_values_cannot_lift_the_profiles_limits() {
    let mut spec = fixtures()
        .into_iter()
        .find(|(n, _)| n == "docker-20.10/default.json")
        .unwrap()
        .1;
    spec["linux"]["resources"]["unified"] =
        json!({"pids.max": "max", "memory.max": "max", "cpu.max": "max 100000"});
    let p = ProfileSource::default().load("restricted").unwrap();
    let h = HostFacts::for_tests();
    let refused = !policy::evaluate(
        &Spec::from_value(spec.clone()).unwrap(),
        &PolicyContext {
            profile: &p,
            host: &h,
        },
        &[],
    )
    .unwrap()
    .is_empty();
    let out = rampart::pipeline::rewrite(&serde_json::to_vec(&spec).unwrap(), &p, &h);
    let lifted: Vec<(String, Value)> = match &out {
        Ok((s, _)) => s
            .get("/linux/resources/unified")
            .and_then(Value::as_object)
            .map(|u| {
                u.iter()
                    .filter(|(k, v)| {
                        ["pids.max", "memory.max", "memory.swap.max", "cpu.max"]
                            .contains(&k.as_str())
                            && v.as_str().is_some_and(|v| v.starts_with("max"))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        Err(_) => vec![],
    };
    assert!(
        refused || lifted.is_empty(),
        "unified values that lift the limits reach runc: {lifted:?}"
    );
}

/// A second create of an already hardened bundle must not rewrite config.json, also when the
/// request's seccomp profile has rules of its own: argument-filtered rules keep their order,
/// and a kept SCMP_ACT_LOG rule stays LOG (found by the fixed-point property).
#[test]
fn hardening_twice_writes_the_same_bytes() {
    let base = fixtures()
        .into_iter()
        .find(|(n, _)| n == "containerd-1.6-cri/container.json")
        .unwrap()
        .1;
    let filtered = |name: &str, action: &str| json!({"names": [name], "action": action, "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]});
    let requests = [
        json!({"defaultAction": "SCMP_ACT_KILL", "syscalls": [
            filtered("read", "SCMP_ACT_ERRNO"),
            filtered("execve", "SCMP_ACT_TRAP"),
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}),
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 2, "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_LOG"},
            filtered("read", "SCMP_ACT_ERRNO")]}),
    ];
    let p = ProfileSource::default().load("restricted").unwrap();
    let h = HostFacts::for_tests();
    let mut differ = Vec::new();
    for seccomp in requests {
        let mut spec = base.clone();
        spec["linux"]["seccomp"] = seccomp.clone();
        let (one, _) =
            rampart::pipeline::rewrite(&serde_json::to_vec(&spec).unwrap(), &p, &h).unwrap();
        let (two, _) = rampart::pipeline::rewrite(&one.to_vec(), &p, &h).unwrap();
        if one.to_vec() != two.to_vec() {
            differ.push(seccomp);
        }
    }
    assert!(
        differ.is_empty(),
        "the second pass rewrote the seccomp profile for {differ:?}"
    );
}

/// runc applies process.rlimits in order, so with two entries of one type the last wins.
/// Rampart lowers only the first: a second entry keeps its limit. Where runc holds
/// CAP_SYS_RESOURCE (most hosts) that limit is what the container gets; here (root without
/// CAP_SYS_RESOURCE) runc fails to raise the hard limit again and a spec plain runc runs fails.
#[test]

fn duplicate_rlimit_entries_cannot_lift_a_limit() {
    let mut spec = fixtures()
        .into_iter()
        .find(|(n, _)| n == "docker-20.10/default.json")
        .unwrap()
        .1;
    spec["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
        {"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_CORE", "soft": 1048576, "hard": 1048576}
    ]);
    let p = ProfileSource::default().load("restricted").unwrap();
    let bytes = serde_json::to_vec(&spec).unwrap();
    if let Ok((out, _)) = rampart::pipeline::rewrite(&bytes, &p, &HostFacts::for_tests()) {
        // Both entries are explicit (`--ulimit`): at most the ceiling (`max`) each, and the
        // ones the user asked for within it are kept. (Before profiles had ceilings this
        // asserted the default, 1024/4096, for every entry.)
        let list = out.get("/process/rlimits").unwrap().as_array().unwrap();
        for r in list {
            let want = p.rlimits[r["type"].as_str().unwrap()];
            assert!(
                r["soft"].as_u64().unwrap() <= want.ceiling()
                    && r["hard"].as_u64().unwrap() <= want.ceiling(),
                "{r} reaches runc"
            );
        }
        let core: Vec<&Value> = list.iter().filter(|r| r["type"] == "RLIMIT_CORE").collect();
        assert!(core.iter().all(|r| r["hard"] == 0), "{core:?}");
    }
}

/// The rlimits step writes /process/rlimits back through a three-field struct (type, soft,
/// hard): any other key of an entry is dropped.
#[test]

fn unknown_fields_in_rlimit_entries_reach_runc() {
    let mut spec = fixtures()
        .into_iter()
        .find(|(n, _)| n == "docker-20.10/nnp-limits.json")
        .unwrap()
        .1;
    spec["process"]["rlimits"][0]["x-vendor"] = json!({"kept": true});
    let p = ProfileSource::default().load("restricted").unwrap();
    let (out, _) = rampart::pipeline::rewrite(
        &serde_json::to_vec(&spec).unwrap(),
        &p,
        &HostFacts::for_tests(),
    )
    .unwrap();
    let kept = find_key(out.raw(), "x-vendor");
    assert_eq!(
        kept,
        [&json!({"kept": true})],
        "{:?}",
        out.get("/process/rlimits")
    );
}

// -------------------------------------------------------------------------------- argv

/// One generated argv: tokens and which of them are Rampart's options (to be stripped).
#[derive(Debug, Clone)]
struct Argv {
    tokens: Vec<(OsString, bool)>,
    unknown_rampart_option: bool,
    profile: Option<String>,
    bundle: Option<OsString>,
    id: Option<String>,
    command: Option<String>,
    /// `--help` or `-v` among the global flags: runc runs no command.
    help: bool,
    /// Something runc itself refuses (a flag the command does not have, `-b` and `--bundle`
    /// together): Rampart refuses it too.
    runc_error: bool,
}

fn value_token() -> impl Strategy<Value = OsString> {
    prop_oneof![
        "[a-zA-Z0-9/._=-]{0,12}".prop_map(OsString::from),
        Just(OsString::from("--rampart-profile")),
        Just(OsString::from("-")),
        Just(OsString::from("--")),
        Just(OsString::from("")),
        Just(OsString::from("=x")),
        prop::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 0..8)
            .prop_map(OsString::from_vec),
    ]
}

#[derive(Debug, Clone)]
enum GlobalTok {
    Value(&'static str, bool, OsString), // name, inline, value
    Bool(&'static str),
    Rampart(&'static str, bool, String),
}

fn global_token() -> impl Strategy<Value = GlobalTok> {
    prop_oneof![
        (
            prop::sample::select(vec![
                "--root",
                "-root",
                "--log",
                "-log",
                "--log-format",
                "--criu",
                "--rootless"
            ]),
            any::<bool>(),
            value_token()
        )
            .prop_map(|(n, i, v)| GlobalTok::Value(n, i, v)),
        prop::sample::select(vec![
            "--debug",
            "--systemd-cgroup",
            "-debug",
            "--help",
            "-v"
        ])
        .prop_map(GlobalTok::Bool),
        (
            prop::sample::select(vec![
                "--rampart-profile",
                "-rampart-profile",
                "--rampart-config",
                "--rampart-runtime",
                "--rampart-bogus"
            ]),
            any::<bool>(),
            "[a-z0-9/._-]{0,10}"
        )
            .prop_map(|(n, i, v)| GlobalTok::Rampart(n, i, v)),
    ]
}

#[derive(Debug, Clone)]
enum CmdTok {
    Bundle(&'static str, bool, OsString),
    Value(&'static str, OsString),
    Bool(&'static str),
}

fn command_token() -> impl Strategy<Value = CmdTok> {
    prop_oneof![
        (
            prop::sample::select(vec!["--bundle", "-b", "-bundle"]),
            any::<bool>(),
            value_token()
        )
            .prop_map(|(n, i, v)| CmdTok::Bundle(n, i, v)),
        (
            prop::sample::select(vec!["--pid-file", "--console-socket"]),
            value_token()
        )
            .prop_map(|(n, v)| CmdTok::Value(n, v)),
        "[1-7][0-7]{0,2}".prop_map(|v| CmdTok::Value("--preserve-fds", v.into())),
        prop::sample::select(vec!["--detach", "-d", "--no-pivot", "--no-new-keyring",])
            .prop_map(CmdTok::Bool),
    ]
}

fn argv_strategy() -> impl Strategy<Value = Argv> {
    (
        prop::collection::vec(global_token(), 0..6),
        prop::option::of(prop::sample::select(vec![
            "create", "run", "start", "delete", "kill", "state", "ps", "features", "exec",
        ])),
        prop::collection::vec(command_token(), 0..5),
        prop::option::of("[a-z0-9]{1,12}"),
        // After the id: nothing runc would take for a flag (argv_oracle covers those).
        prop::collection::vec(
            value_token().prop_filter("not a flag", |t| {
                let b = t.as_encoded_bytes();
                !b.starts_with(b"-") || b == b"-" || b == b"--" || b == b"--rampart-profile"
            }),
            0..3,
        ),
    )
        .prop_map(|(globals, command, cmd_toks, id, rest)| {
            let mut a = Argv {
                tokens: vec![],
                unknown_rampart_option: false,
                profile: None,
                bundle: None,
                id: None,
                command: command.map(String::from),
                help: false,
                runc_error: false,
            };
            let mut bundle_names = std::collections::BTreeSet::new();
            let mut detach_names = std::collections::BTreeSet::new();
            for g in globals {
                match g {
                    GlobalTok::Value(n, true, v) => {
                        // Inline values are UTF-8 here: see non_utf8_inline_values_fail_closed.
                        let t = format!("{n}={}", v.to_string_lossy());
                        a.tokens.push((t.into(), false));
                    }
                    GlobalTok::Value(n, false, v) => {
                        a.tokens.push((n.into(), false));
                        a.tokens.push((v, false));
                    }
                    GlobalTok::Bool(n) => {
                        a.help |= n == "--help" || n == "-v";
                        a.tokens.push((n.into(), false))
                    }
                    GlobalTok::Rampart(n, inline, v) => {
                        if n.ends_with("bogus") {
                            a.unknown_rampart_option = true;
                        }
                        if n.ends_with("profile") {
                            a.profile = Some(v.clone());
                        }
                        if inline {
                            a.tokens.push((format!("{n}={v}").into(), true));
                        } else {
                            a.tokens.push((n.into(), true));
                            a.tokens.push((v.into(), true));
                        }
                    }
                }
            }
            let Some(cmd) = &a.command else {
                return a;
            };
            a.tokens.push((cmd.into(), false));
            let create = cmd == "create" || cmd == "run";
            for t in cmd_toks.into_iter().filter(|_| create) {
                match t {
                    CmdTok::Bundle(n, true, v) => {
                        bundle_names.insert(n == "-b");
                        let v = OsString::from(v.to_string_lossy().into_owned());
                        let mut t = OsString::from(format!("{n}="));
                        t.push(&v);
                        a.tokens.push((t, false));
                        a.bundle = Some(v);
                    }
                    CmdTok::Bundle(n, false, v) => {
                        bundle_names.insert(n == "-b");
                        a.tokens.push((n.into(), false));
                        a.tokens.push((v.clone(), false));
                        a.bundle = Some(v);
                    }
                    CmdTok::Value(n, v) => {
                        a.tokens.push((n.into(), false));
                        a.tokens.push((v, false));
                    }
                    // create has no --detach.
                    CmdTok::Bool(n) if cmd == "create" && n.contains('d') && !n.contains("no-") => {
                        a.tokens.push(("--no-pivot".into(), false))
                    }
                    CmdTok::Bool(n) => {
                        if n == "-d" || n == "--detach" {
                            detach_names.insert(n);
                        }
                        a.tokens.push((n.into(), false))
                    }
                }
            }
            a.runc_error |= bundle_names.len() > 1 || detach_names.len() > 1;
            // runc reads an empty --bundle as none (the working directory).
            a.bundle = a.bundle.filter(|b| !b.is_empty());
            if let Some(id) = id {
                a.tokens.push((id.clone().into(), false));
                a.id = Some(id);
                a.tokens.extend(rest.into_iter().map(|t| (t, false)));
            }
            a
        })
}

fn argv_of(a: &Argv) -> Vec<OsString> {
    std::iter::once(OsString::from("rampart"))
        .chain(a.tokens.iter().map(|(t, _)| t.clone()))
        .collect()
}

#[test]
fn argv_scanning_strips_exactly_rampart_options_and_keeps_everything_else_in_order() {
    let n = cases(10_000);
    let runs = AtomicUsize::new(0);
    runner(n)
        .run(&argv_strategy(), |a| {
            runs.fetch_add(1, Ordering::Relaxed);
            let argv = argv_of(&a);
            let _ = rampart::argv::lenient_global(&argv);
            let parsed = rampart::argv::parse(argv.clone());
            if a.unknown_rampart_option {
                prop_assert!(parsed.is_err(), "--rampart-bogus accepted: {argv:?}");
                return Ok(());
            }
            if a.runc_error && !a.help {
                prop_assert!(parsed.is_err(), "runc refuses {argv:?}");
                return Ok(());
            }
            let inv = parsed.map_err(|e| TestCaseError::fail(format!("{argv:?}: {e:#}")))?;
            let want: Vec<OsString> = a
                .tokens
                .iter()
                .filter(|(_, rampart)| !rampart)
                .map(|(t, _)| t.clone())
                .collect();
            prop_assert_eq!(&inv.runtime_args, &want, "{:?}", argv);
            prop_assert_eq!(&inv.rampart.profile, &a.profile);
            let want_command = if a.help { None } else { a.command.as_deref() };
            prop_assert_eq!(inv.command_name(), want_command);
            if let Some(cmd) = &inv.command
                && (cmd.name == "create" || cmd.name == "run")
            {
                prop_assert_eq!(
                    cmd.bundle.as_ref().map(|b| b.as_os_str()),
                    a.bundle.as_deref()
                );
                prop_assert_eq!(cmd.id.as_deref(), a.id.as_deref());
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("props: {} argvs scanned", runs.load(Ordering::Relaxed));
}

/// runc takes its arguments as bytes: `--root=<non-UTF-8>` is a global flag and `create` still
/// follows it. Rampart must then harden (see `create`) or refuse, never pass `create` through
/// unhardened; likewise `--bundle=<non-UTF-8>` must not make it harden the working directory's
/// config.json while runc uses another bundle.
#[test]

fn non_utf8_inline_values_fail_closed() {
    let os = |parts: &[&[u8]]| -> Vec<OsString> {
        parts
            .iter()
            .map(|p| OsString::from_vec(p.to_vec()))
            .collect()
    };
    let argv = os(&[
        b"rampart",
        b"--root=/run/\x80",
        b"create",
        b"--bundle",
        b"/b",
        b"id",
    ]);
    if let Ok(inv) = rampart::argv::parse(argv.clone()) {
        assert_eq!(inv.command_name(), Some("create"), "{argv:?}");
    }
    let argv = os(&[b"rampart", b"create", b"--bundle=/b\xff", b"id"]);
    if let Ok(inv) = rampart::argv::parse(argv.clone()) {
        let cmd = inv.command.unwrap();
        let bundle = cmd.bundle.map(|b| b.into_os_string().into_vec());
        assert_eq!(bundle, Some(b"/b\xff".to_vec()), "{argv:?}");
    }
}

/// Numbers in fields Rampart does not model reach runc as they were written: no float
/// re-parsed to a neighbouring value, no integer beyond 64 bits written as a float, no
/// trailing zero dropped. Only the exponent's spelling is normalized (serde_json writes
/// `1E3` as `1e+3`): the same digits, the same value.
#[test]
fn numbers_in_unknown_fields_reach_runc_as_written() {
    let mut spec = fixtures()
        .into_iter()
        .find(|(n, _)| n == "docker-20.10/default.json")
        .unwrap()
        .1;
    spec["x-vendor"] = json!({"f": 0});
    let text = serde_json::to_string(&spec).unwrap().replace(
        r#""x-vendor":{"f":0}"#,
        r#""x-vendor":{"f":-5.095896394995999e299,"big":100000000000000000000,"z":1.10,"e":1E+3}"#,
    );
    let p = ProfileSource::default().load("restricted").unwrap();
    let (out, _) =
        rampart::pipeline::rewrite(text.as_bytes(), &p, &HostFacts::for_tests()).unwrap();
    let written = String::from_utf8(out.to_vec()).unwrap();
    assert!(
        written.contains(
            r#""x-vendor":{"f":-5.095896394995999e+299,"big":100000000000000000000,"z":1.10,"e":1e+3}"#
        ),
        "{}",
        written[written.find("x-vendor").unwrap()..]
            .chars()
            .take(80)
            .collect::<String>()
    );
}

#[test]
fn argv_scanning_never_panics_on_arbitrary_bytes() {
    let n = cases(10_000);
    let token = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
        prop::sample::select(vec![
            "--rampart-profile",
            "--rampart-config=",
            "-rampart-runtime",
            "--root",
            "--log",
            "create",
            "exec",
            "--bundle",
            "-b",
            "--cap",
            "-p",
            "--",
            "-",
            "=",
        ])
        .prop_map(OsString::from),
    ];
    runner(n)
        .run(&prop::collection::vec(token, 0..12), |argv| {
            let _ = rampart::argv::lenient_global(&argv);
            if let Ok(inv) = rampart::argv::parse(argv.clone()) {
                // Whatever it kept is a subsequence of the input, in order.
                let mut it = argv.iter().skip(1);
                for kept in &inv.runtime_args {
                    prop_assert!(it.any(|a| a == kept), "{argv:?} -> {:?}", inv.runtime_args);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

// ----------------------------------------------------------------- through real runc

/// A private copy of the e2e rootfs: runc creates mount points in it.
fn private_rootfs() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/e2e/props")
        .join(std::process::id().to_string());
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let root = dir.join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(common::rootfs())
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success());
    root
}

/// Generated specs (safe mutations of Docker's spec running /bin/true) through plain runc and
/// through Rampart with real runc: whenever runc accepts the request, it accepts Rampart's
/// output too (or Rampart refuses it), and the config.json runc got satisfies the properties.
#[test]
fn runc_accepts_the_hardened_output_whenever_it_accepts_the_input() {
    if !common::require_root_tools() {
        return;
    }
    let n: u32 = std::env::var("RAMPART_PROPS_RUNC_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let rootfs = private_rootfs();
    let base = common::docker_like_spec(&rootfs, &["/bin/true"]);
    let fixtures = vec![("docker-20.10 (runnable)".to_string(), base)];
    let cfg = rootfs.parent().unwrap().join("config.toml");
    fs::write(
        &cfg,
        format!(
            "runtime = {:?}\naudit_log = {:?}\n",
            common::runc_path(),
            rootfs.parent().unwrap().join("audit.log")
        ),
    )
    .unwrap();
    let restricted = ProfileSource::default().load("restricted").unwrap();
    let tally = std::sync::Mutex::new(BTreeMap::<&str, usize>::new());
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let result = runner(n).run(&spec_strategy(&fixtures, true), |(_, muts)| {
        let mut spec = fixtures[0].1.clone();
        let unknown = apply(&mut spec, &muts);
        let case = CASE.fetch_add(1, Ordering::Relaxed);
        let cgroup = |who: &str| {
            json!(format!(
                "/rampart-test/props-{}-{case}-{who}",
                std::process::id()
            ))
        };
        spec["linux"]["cgroupsPath"] = cgroup("plain");
        let plain = common::run_container(common::Runtime::PlainRunc, &common::Bundle::new(&spec));
        spec["linux"]["cgroupsPath"] = cgroup("rampart");
        let bundle = common::Bundle::new(&spec);
        let through = common::run_container(
            common::Runtime::Rampart {
                args: vec![format!("--rampart-config={}", cfg.display())],
            },
            &bundle,
        );
        let stderr = String::from_utf8_lossy(&through.stderr);
        let outcome = if stderr.starts_with("rampart: ") {
            prop_assert_eq!(through.status.code(), Some(1));
            eprintln!(
                "props: runc {} the request; rampart refused it: {}",
                if plain.status.success() {
                    "ran"
                } else {
                    "refused"
                },
                stderr.trim()
            );
            "refused by rampart"
        } else {
            let written: Value =
                serde_json::from_slice(&fs::read(bundle.dir.join("config.json")).unwrap()).unwrap();
            let o = check(&written, &unknown, &restricted).map_err(TestCaseError::fail)?;
            prop_assert_eq!(o, Outcome::Hardened);
            match (plain.status.success(), through.status.success()) {
                (true, true) => "both ran",
                (true, false) => {
                    return Err(TestCaseError::fail(format!(
                        "runc ran the request but not Rampart's output: {}\n{}",
                        common::describe(&through),
                        serde_json::to_string(&written).unwrap()
                    )));
                }
                (false, true) => "only the hardened output ran",
                (false, false) => "runc refused both",
            }
        };
        *tally.lock().unwrap().entry(outcome).or_default() += 1;
        Ok(())
    });
    eprintln!(
        "props: {n} specs through real runc: {:?}",
        tally.lock().unwrap()
    );
    let _ = fs::remove_dir_all(rootfs.parent().unwrap());
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        tally.lock().unwrap().get("both ran").copied().unwrap_or(0) * 4 >= n as usize,
        "too few specs ran at all: {:?}",
        tally.lock().unwrap()
    );
}

// ------------------------------------------------------------------------ nasty corpus

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("props-nasty-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bundle")).unwrap();
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake/runtime.sh");
        fs::write(
            dir.join("config.toml"),
            format!(
                "runtime = {:?}\naudit_log = {:?}\n",
                fake,
                dir.join("audit.log")
            ),
        )
        .unwrap();
        Env { dir }
    }
}

/// The nasty specs: tests/fixtures/nasty/*.json, and generated ones too big to commit.
fn nasty_corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nasty");
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    let docker = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/specs/docker-20.10/default.json"),
    )
    .unwrap();
    // A valid spec padded to one byte over the 16 MiB limit.
    let limit = rampart::spec::MAX_SPEC_BYTES;
    let mut big: Value = serde_json::from_slice(&docker).unwrap();
    big["x-padding"] = json!("");
    let len = serde_json::to_vec(&big).unwrap().len();
    big["x-padding"] = json!("a".repeat(limit + 1 - len));
    let big = serde_json::to_vec(&big).unwrap();
    assert_eq!(big.len(), limit + 1);
    out.push(("generated: valid spec of 16 MiB + 1 byte".into(), big));
    // 64 MiB of whitespace before a valid spec.
    let mut ws = vec![b' '; 64 << 20];
    ws.extend_from_slice(&docker);
    out.push(("generated: 64 MiB of whitespace".into(), ws));
    // Nesting 100000 deep.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    out.push((
        "generated: arrays nested 100000 deep".into(),
        deep.into_bytes(),
    ));
    out
}

/// Every nasty spec gets a clear refusal: exit 1, the runtime not run, one `rampart: ...`
/// error line on stderr and as JSON in --log, config.json untouched, no temp file left.
#[test]
fn every_nasty_spec_is_refused_clearly_and_left_untouched() {
    let corpus = nasty_corpus();
    assert!(corpus.len() >= 20, "corpus too small: {}", corpus.len());
    let mut problems = Vec::new();
    for (i, (name, bytes)) in corpus.iter().enumerate() {
        let e = Env::new(&i.to_string());
        let bundle = e.dir.join("bundle");
        fs::write(bundle.join("config.json"), bytes).unwrap();
        let log = e.dir.join("log.json");
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg(format!(
                "--rampart-config={}",
                e.dir.join("config.toml").display()
            ))
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "create", "--bundle"])
            .arg(&bundle)
            .arg("nasty")
            .env("FAKE_RECORD", e.dir.join("record"))
            .output()
            .unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let line: Option<Value> = fs::read_to_string(&log)
            .ok()
            .and_then(|t| t.lines().last().and_then(|l| serde_json::from_str(l).ok()));
        let leftovers = fs::read_dir(&bundle).unwrap().count();
        let mut bad = Vec::new();
        if out.status.code() != Some(1) {
            bad.push(format!("exit {:?}", out.status.code()));
        }
        if e.dir.join("record").exists() {
            bad.push("the runtime ran".into());
        }
        // One line, or a refusal: the fix first, one line per rule, the admin's way last,
        // under Kubernetes' 1,024-byte event limit.
        let refusal = stderr.starts_with("rampart: refused by profile ")
            && stderr
                .lines()
                .next()
                .is_some_and(|l| l.contains("; to run it, "))
            && stderr
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("Admin: "))
            && stderr.len() < 1024;
        if !stderr.starts_with("rampart: ") || (stderr.lines().count() != 1 && !refusal) {
            bad.push(format!("stderr {stderr:?}"));
        }
        match &line {
            Some(l)
                if l["level"] == "error"
                    && l["msg"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("rampart: ")) => {}
            _ => bad.push(format!("--log line {line:?}")),
        }
        if fs::read(bundle.join("config.json")).unwrap() != *bytes {
            bad.push("config.json changed".into());
        }
        if leftovers != 1 {
            bad.push(format!("{leftovers} files in the bundle"));
        }
        if took.as_secs() > 10 {
            bad.push(format!("took {took:?}"));
        }
        eprintln!(
            "nasty {name}: exit {:?} in {took:.0?}: {}",
            out.status.code(),
            stderr.trim().chars().take(160).collect::<String>()
        );
        if !bad.is_empty() {
            problems.push(format!("{name}: {}", bad.join("; ")));
        }
        let _ = fs::remove_dir_all(&e.dir);
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
