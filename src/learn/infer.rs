//! Capabilities a recorded workload needed, inferred from evidence: the syscalls that can
//! need a capability, with their arguments, the caller's credentials and (when known) the
//! inode acted on, replayed through the kernel's own rule for each (chown_ok/chgrp_ok,
//! generic_permission, inode_owner_or_capable, kill_ok, ...). Where the recorder saw the
//! kernel's capability checks (a `cap_capable` kprobe), those are used as well.
//!
//! Each inference says how exact it is:
//! * `exact`: the kernel's rule applied to complete inputs (e.g. fchownat to another uid).
//! * `likely`: one input the recording does not carry is assumed to have its usual value
//!   (the saved set-user-ID, supplementary groups, the target process's saved uid).
//! * `may over-grant`: the call could also have succeeded without the capability (e.g.
//!   utimensat to "now" on a file the caller may write).

use super::recording::{Evidence, Recording};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    Exact,
    Likely,
    MayOverGrant,
}

impl Confidence {
    pub fn label(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Likely => "likely",
            Confidence::MayOverGrant => "may over-grant",
        }
    }
}

/// One capability inferred from one piece of evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Inference {
    pub capability: String,
    pub confidence: Confidence,
    /// What was seen, for people: "fchownat /var/cache/nginx to 101:101 (owner 0:0)".
    pub why: String,
    pub count: u64,
}

/// Every inference from one recording: its capability checks (when a kprobe saw them) and
/// its evidence.
pub fn infer(r: &Recording) -> Vec<Inference> {
    let mut out = Vec::new();
    if r.source.capabilities != "inferred" {
        for c in r.capability_checks.iter().filter(|c| c.granted > 0) {
            if crate::steps::capabilities::parse_cap(&c.capability).is_ok() {
                out.push(Inference {
                    capability: c.capability.clone(),
                    confidence: Confidence::Exact,
                    why: format!(
                        "the kernel checked and granted it ({})",
                        r.source.capabilities
                    ),
                    count: c.granted,
                });
            }
        }
    }
    for e in r.evidence.iter().filter(|e| e.ret >= 0) {
        out.extend(from_evidence(e));
    }
    out.extend(chmod_after_chown(&r.evidence));
    out
}

/// A path-based chmod whose inode the recorder could not see, of a path the same run gave
/// to another user (an entrypoint's `chown -R postgres DIR; chmod 700 DIR` as root): by
/// inode_owner_or_capable it needed CAP_FOWNER if the chmod came after the chown. The
/// evidence is deduplicated, not ordered: `likely`.
fn chmod_after_chown(evidence: &[Evidence]) -> Vec<Inference> {
    let ok = || evidence.iter().filter(|e| e.ret >= 0);
    let given: Vec<(&str, u32)> = ok()
        .filter(|e| matches!(base_name(&e.syscall), "chown" | "lchown" | "fchownat"))
        .filter_map(|e| Some((text(e, "path")?, id(e, "uid")?)))
        .collect();
    ok().filter(|e| {
        matches!(base_name(&e.syscall), "chmod" | "fchmodat" | "fchmodat2")
            && e.target.and_then(|t| t.uid).is_none()
    })
    .filter_map(|e| {
        let p = text(e, "path")?;
        let (_, o) = given
            .iter()
            .find(|(gp, u)| *gp == p && *u != e.creds.fsuid)?;
        Some(Inference {
            capability: "CAP_FOWNER".into(),
            confidence: Confidence::Likely,
            why: format!(
                "{} {p} as fsuid {}, after it was chowned to uid {o} (if in that order)",
                e.syscall, e.creds.fsuid
            ),
            count: e.count,
        })
    })
    .collect()
}

/// -1 as an unsigned 32-bit id: "leave unchanged".
const UNCHANGED: i64 = u32::MAX as i64;

fn num(e: &Evidence, key: &str) -> Option<i64> {
    match e.args.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(h) => i64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

fn text<'e>(e: &'e Evidence, key: &str) -> Option<&'e str> {
    e.args.get(key)?.as_str()
}

/// An id argument that asks for a change (not -1).
fn id(e: &Evidence, key: &str) -> Option<u32> {
    let v = num(e, key)?;
    (v != -1 && v != UNCHANGED && (0..=u32::MAX as i64).contains(&v)).then_some(v as u32)
}

/// A named constant argument: the recorder may write the number or the name.
fn named(e: &Evidence, key: &str, names: &[(&str, i64)]) -> Option<i64> {
    if let Some(n) = num(e, key) {
        return Some(n);
    }
    let s = text(e, key)?;
    names.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

fn path(e: &Evidence) -> String {
    text(e, "path")
        .map(|p| format!(" {p}"))
        .or_else(|| num(e, "fd").map(|fd| format!(" fd {fd}")))
        .unwrap_or_default()
}

fn base_name(s: &str) -> &str {
    s.strip_suffix("32").unwrap_or(s)
}

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const O_PATH: i64 = 0o10000000;
const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;
const AF_PACKET: i64 = 17;
const FAMILIES: &[(&str, i64)] = &[
    ("AF_UNIX", 1),
    ("AF_INET", AF_INET),
    ("AF_INET6", AF_INET6),
    ("AF_NETLINK", 16),
    ("AF_PACKET", AF_PACKET),
];
const TYPES: &[(&str, i64)] = &[
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_RAW", 3),
    ("SOCK_SEQPACKET", 5),
];

/// The capabilities one successful call needed, by the kernel's rule for it.
pub fn from_evidence(e: &Evidence) -> Vec<Inference> {
    let c = e.creds;
    let t = e.target.unwrap_or_default();
    let mut out = Vec::new();
    let mut add = |cap: &'static str, confidence: Confidence, why: String| {
        out.push(Inference {
            capability: cap.to_string(),
            confidence,
            why,
            count: e.count,
        })
    };
    let owner = |t: &super::recording::Target| match (t.uid, t.gid) {
        (Some(u), Some(g)) => format!(" (owner {u}:{g})"),
        (Some(u), None) => format!(" (owner {u})"),
        _ => String::new(),
    };
    match base_name(&e.syscall) {
        // chown_ok / chgrp_ok (fs/attr.c).
        "chown" | "lchown" | "fchown" | "fchownat" => {
            let (uid, gid) = (id(e, "uid"), id(e, "gid"));
            let mut need: Option<Confidence> = None;
            let mut want = |c: Confidence| need = Some(need.map_or(c, |n: Confidence| n.min(c)));
            if let Some(u) = uid {
                match t.uid {
                    Some(o) if c.fsuid != o || u != o => want(Confidence::Exact),
                    Some(_) => {}
                    None if u != c.fsuid => want(Confidence::Exact),
                    None => {}
                }
            }
            if let Some(g) = gid {
                match (t.uid, t.gid) {
                    (Some(o), _) if c.fsuid != o => want(Confidence::Exact),
                    (Some(_), Some(og)) if g == og || g == c.fsgid => {}
                    // The owner may give the file to a group it is in: its supplementary
                    // groups are not recorded.
                    (Some(_), _) => want(Confidence::Likely),
                    (None, _) if g != c.fsgid => want(Confidence::Likely),
                    (None, _) => {}
                }
            }
            if let Some(conf) = need {
                let to = format!(
                    "{}:{}",
                    uid.map_or("-".into(), |u| u.to_string()),
                    gid.map_or("-".into(), |g| g.to_string())
                );
                add(
                    "CAP_CHOWN",
                    conf,
                    format!(
                        "{}{} to {to}{}, as fsuid {}",
                        e.syscall,
                        path(e),
                        owner(&t),
                        c.fsuid
                    ),
                );
            }
        }
        // A new id that is not the caller's real or effective one (nor, unrecorded, its
        // saved one).
        "setuid" | "setreuid" | "setresuid" => {
            // The recorder writes real/effective/saved; older fixtures ruid/euid/suid.
            let ids: Vec<u32> = ["uid", "real", "effective", "saved", "ruid", "euid", "suid"]
                .iter()
                .filter_map(|k| id(e, k))
                .collect();
            if let Some(n) = ids.iter().find(|n| **n != c.uid && **n != c.euid) {
                add(
                    "CAP_SETUID",
                    Confidence::Likely,
                    format!(
                        "{} to uid {n} from uid {}/euid {} (unless {n} was the saved uid)",
                        e.syscall, c.uid, c.euid
                    ),
                );
            }
        }
        "setfsuid" => {
            if let Some(n) = id(e, "uid").filter(|n| ![c.uid, c.euid, c.fsuid].contains(n)) {
                add(
                    "CAP_SETUID",
                    Confidence::MayOverGrant,
                    format!("setfsuid {n} (setfsuid does not say whether it worked)"),
                );
            }
        }
        "setgid" | "setregid" | "setresgid" => {
            let ids: Vec<u32> = ["gid", "real", "effective", "saved", "rgid", "egid", "sgid"]
                .iter()
                .filter_map(|k| id(e, k))
                .collect();
            if let Some(n) = ids.iter().find(|n| **n != c.gid && **n != c.egid()) {
                add(
                    "CAP_SETGID",
                    Confidence::Likely,
                    format!(
                        "{} to gid {n} from gid {}/egid {} (unless {n} was the saved gid)",
                        e.syscall,
                        c.gid,
                        c.egid()
                    ),
                );
            }
        }
        "setfsgid" => {
            if let Some(n) = id(e, "gid").filter(|n| ![c.gid, c.egid(), c.fsgid].contains(n)) {
                add(
                    "CAP_SETGID",
                    Confidence::MayOverGrant,
                    format!("setfsgid {n} (setfsgid does not say whether it worked)"),
                );
            }
        }
        // may_setgroups: always CAP_SETGID.
        "setgroups" => add("CAP_SETGID", Confidence::Exact, e.syscall.clone()),
        "bind" => {
            let family = named(e, "family", FAMILIES);
            let port = num(e, "port").unwrap_or(0);
            if matches!(family, Some(AF_INET | AF_INET6)) && (1..1024).contains(&port) {
                add(
                    "CAP_NET_BIND_SERVICE",
                    Confidence::Exact,
                    format!("bind to port {port}"),
                );
            }
        }
        "socket" => {
            let family = named(e, "family", FAMILIES);
            let ty = named(e, "type", TYPES).map(|t| t & 0xf);
            let raw_inet = matches!(family, Some(AF_INET | AF_INET6)) && ty == Some(3);
            if family == Some(AF_PACKET) || raw_inet {
                add(
                    "CAP_NET_RAW",
                    Confidence::Exact,
                    format!(
                        "socket {} {}",
                        text(e, "family")
                            .map(str::to_string)
                            .unwrap_or(format!("family {}", family.unwrap_or(-1))),
                        if family == Some(AF_PACKET) {
                            "(packet)"
                        } else {
                            "SOCK_RAW"
                        }
                    ),
                );
            }
        }
        // generic_permission: mode bits of the class the caller falls in.
        "open" | "openat" | "openat2" | "creat" => {
            let (Some(ou), Some(og), Some(mode)) = (t.uid, t.gid, t.mode) else {
                return out;
            };
            let flags = num(e, "flags").unwrap_or(0);
            if flags & O_PATH != 0 {
                return out;
            }
            let acc = if e.syscall == "creat" { 1 } else { flags & 3 };
            let (r, w) = (acc != 1, acc != 0);
            let denies = |bits: u32| (r && bits & 4 == 0) || (w && bits & 2 == 0);
            let conf = if c.fsuid == ou {
                denies(mode >> 6 & 7).then_some(Confidence::Exact)
            } else if c.fsgid == og {
                denies(mode >> 3 & 7).then_some(Confidence::Exact)
            } else if denies(mode & 7) {
                // In one of its supplementary groups the group bits would apply.
                Some(if denies(mode >> 3 & 7) {
                    Confidence::Exact
                } else {
                    Confidence::Likely
                })
            } else {
                None
            };
            if let Some(conf) = conf {
                let what = if mode & S_IFMT == S_IFDIR {
                    "directory"
                } else {
                    "file"
                };
                add(
                    "CAP_DAC_OVERRIDE",
                    conf,
                    format!(
                        "{}{} for {} of a {what} mode {:o}{}, as {}:{}",
                        e.syscall,
                        path(e),
                        match (r, w) {
                            (true, true) => "read-write",
                            (true, false) => "read",
                            _ => "write",
                        },
                        mode & 0o7777,
                        owner(&t),
                        c.fsuid,
                        c.fsgid
                    ),
                );
            }
        }
        // inode_owner_or_capable.
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" => {
            if let Some(o) = t.uid.filter(|o| *o != c.fsuid) {
                add(
                    "CAP_FOWNER",
                    Confidence::Exact,
                    format!(
                        "{}{} of uid {o}'s file, as fsuid {}",
                        e.syscall,
                        path(e),
                        c.fsuid
                    ),
                );
            }
        }
        "utime" | "utimes" | "utimensat" | "futimesat" => {
            if let Some(o) = t.uid.filter(|o| *o != c.fsuid) {
                // Setting "now" needs only write permission (or DAC_OVERRIDE).
                let now = text(e, "times") == Some("now");
                add(
                    "CAP_FOWNER",
                    if now {
                        Confidence::MayOverGrant
                    } else {
                        Confidence::Exact
                    },
                    format!(
                        "{}{} of uid {o}'s file, as fsuid {}",
                        e.syscall,
                        path(e),
                        c.fsuid
                    ),
                );
            }
        }
        "mknod" | "mknodat" => {
            let mode = num(e, "mode").unwrap_or(0) as u32;
            if matches!(mode & S_IFMT, S_IFCHR | S_IFBLK) {
                add(
                    "CAP_MKNOD",
                    Confidence::Exact,
                    format!("{}{} (device node)", e.syscall, path(e)),
                );
            }
        }
        "chroot" => add(
            "CAP_SYS_CHROOT",
            Confidence::Exact,
            format!("chroot{}", path(e)),
        ),
        // kill_ok: the sender's uid or euid is the target's uid or saved uid.
        "kill" | "tkill" | "tgkill" | "rt_sigqueueinfo" | "rt_tgsigqueueinfo"
        | "pidfd_send_signal" => {
            if let Some(o) = t.uid.filter(|o| *o != c.uid && *o != c.euid) {
                add(
                    "CAP_KILL",
                    Confidence::Likely,
                    format!(
                        "{} to a process of uid {o}, as uid {}/euid {} (unless the target's saved uid matched)",
                        e.syscall, c.uid, c.euid
                    ),
                );
            }
        }
        "setxattr" | "lsetxattr" | "fsetxattr" | "removexattr" | "lremovexattr"
        | "fremovexattr" => {
            let name = text(e, "name").unwrap_or("");
            if name == "security.capability" {
                add(
                    "CAP_SETFCAP",
                    Confidence::Exact,
                    format!("{}{} {name}", e.syscall, path(e)),
                );
            } else if name.starts_with("trusted.") || name.starts_with("security.") {
                add(
                    "CAP_SYS_ADMIN",
                    Confidence::Exact,
                    format!("{}{} {name}", e.syscall, path(e)),
                );
            }
        }
        "prctl" => {
            let op = named(
                e,
                "option",
                &[("PR_CAPBSET_DROP", 24), ("PR_SET_SECUREBITS", 28)],
            );
            if matches!(op, Some(24 | 28)) {
                add(
                    "CAP_SETPCAP",
                    Confidence::Exact,
                    format!(
                        "prctl {}",
                        if op == Some(24) {
                            "PR_CAPBSET_DROP"
                        } else {
                            "PR_SET_SECUREBITS"
                        }
                    ),
                );
            }
        }
        "open_by_handle_at" => add(
            "CAP_DAC_READ_SEARCH",
            Confidence::Exact,
            "open_by_handle_at".into(),
        ),
        "mount" | "umount2" | "pivot_root" | "sethostname" | "setdomainname" | "swapon"
        | "quotactl" => add(
            "CAP_SYS_ADMIN",
            Confidence::Exact,
            format!("{}{}", e.syscall, path(e)),
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::recording::{Creds, Target};

    fn ev(
        syscall: &str,
        args: serde_json::Value,
        creds: Creds,
        target: Option<Target>,
    ) -> Evidence {
        Evidence {
            syscall: syscall.into(),
            ret: 0,
            count: 2,
            creds,
            args: args.as_object().unwrap().clone(),
            target,
        }
    }

    fn root() -> Creds {
        Creds::default()
    }

    fn user(u: u32) -> Creds {
        Creds {
            uid: u,
            euid: u,
            fsuid: u,
            gid: u,
            egid_recorded: Some(u),
            fsgid: u,
        }
    }

    #[test]
    fn egid_is_read_and_older_recordings_fall_back_to_fsgid() {
        let c: Creds = serde_json::from_value(
            serde_json::json!({"uid": 1, "euid": 1, "fsuid": 1, "gid": 1, "egid": 7, "fsgid": 9}),
        )
        .unwrap();
        assert_eq!(c.egid(), 7);
        let old: Creds = serde_json::from_value(
            serde_json::json!({"uid": 1, "euid": 1, "fsuid": 1, "gid": 1, "fsgid": 9}),
        )
        .unwrap();
        assert_eq!(old.egid(), 9);
    }

    fn tgt(u: u32, g: u32, mode: u32) -> Option<Target> {
        Some(Target {
            uid: Some(u),
            gid: Some(g),
            mode: Some(mode),
        })
    }

    fn caps(e: &Evidence) -> Vec<(&'static str, &'static str)> {
        from_evidence(e)
            .into_iter()
            // Leaked: a few bytes per test, for comparisons with literals.
            .map(|i| (&*i.capability.leak(), i.confidence.label()))
            .collect()
    }

    #[test]
    fn chmod_of_a_path_the_run_gave_away_needs_fowner() {
        use serde_json::json as j;
        let d = "/var/lib/postgresql/data";
        let chown = ev(
            "fchownat",
            j!({"uid": 101, "gid": 103, "path": d}),
            root(),
            None,
        );
        let chmod = ev("fchmodat", j!({"path": d, "mode": 0o700}), root(), None);
        let got = chmod_after_chown(&[chown.clone(), chmod.clone()]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            (got[0].capability.as_str(), got[0].confidence),
            ("CAP_FOWNER", Confidence::Likely)
        );
        // Not: chmod of another path, by the new owner itself, a failed chown, or an inode
        // the recorder saw (from_evidence judges that one exactly).
        let other = ev("fchmodat", j!({"path": "/x", "mode": 0o700}), root(), None);
        let by_owner = ev("chmod", j!({"path": d, "mode": 0o700}), user(101), None);
        let mut failed = chown.clone();
        failed.ret = -1;
        let mut seen = chmod.clone();
        seen.target = tgt(0, 0, 0o40755);
        for set in [
            vec![chown.clone(), other],
            vec![chown.clone(), by_owner],
            vec![failed, chmod],
            vec![chown, seen],
        ] {
            assert!(chmod_after_chown(&set).is_empty(), "{set:?}");
        }
    }

    #[test]
    fn chown_follows_chown_ok_and_chgrp_ok() {
        use serde_json::json as j;
        // Root giving its directory to nginx: CAP_CHOWN, exact.
        let e = ev(
            "fchownat",
            j!({"uid": 101, "gid": 101, "path": "/var/cache/nginx"}),
            root(),
            tgt(0, 0, 0o40755),
        );
        assert_eq!(caps(&e), [("CAP_CHOWN", "exact")]);
        assert!(
            from_evidence(&e)[0]
                .why
                .contains("/var/cache/nginx to 101:101 (owner 0:0)")
        );
        // Unknown target, but a uid that is not the caller's: exact all the same.
        let e = ev("chown", j!({"uid": 5, "gid": -1}), root(), None);
        assert_eq!(caps(&e), [("CAP_CHOWN", "exact")]);
        // Re-owning one's own file to oneself, group unchanged: nothing.
        let e = ev(
            "fchown",
            j!({"uid": 0, "gid": 4294967295u32}),
            root(),
            tgt(0, 0, 0o100644),
        );
        assert!(caps(&e).is_empty());
        // The owner giving the file to another group: supplementary groups unknown.
        let e = ev(
            "fchown",
            j!({"uid": -1, "gid": 7}),
            user(1000),
            tgt(1000, 1000, 0o100644),
        );
        assert_eq!(caps(&e), [("CAP_CHOWN", "likely")]);
        // A non-owner changing the group: exact.
        let e = ev(
            "fchown",
            j!({"uid": -1, "gid": 7}),
            user(1000),
            tgt(0, 0, 0o100644),
        );
        assert_eq!(caps(&e), [("CAP_CHOWN", "exact")]);
        // A failed call proves nothing.
        let mut e = ev("chown", j!({"uid": 5}), root(), None);
        e.ret = -1;
        let r = Recording {
            evidence: vec![e],
            ..fixture()
        };
        assert!(infer(&r).is_empty());
    }

    #[test]
    fn ids_sockets_opens_and_the_rest() {
        use serde_json::json as j;
        assert_eq!(
            caps(&ev("setuid", j!({"uid": 999}), root(), None)),
            [("CAP_SETUID", "likely")]
        );
        assert!(caps(&ev("setuid", j!({"uid": 0}), root(), None)).is_empty());
        assert_eq!(
            caps(&ev(
                "setresgid",
                j!({"rgid": 999, "egid": 999, "sgid": 999}),
                root(),
                None
            )),
            [("CAP_SETGID", "likely")]
        );
        assert_eq!(
            caps(&ev("setgroups", j!({}), root(), None)),
            [("CAP_SETGID", "exact")]
        );
        assert_eq!(
            caps(&ev(
                "bind",
                j!({"family": "AF_INET", "port": 80}),
                root(),
                None
            )),
            [("CAP_NET_BIND_SERVICE", "exact")]
        );
        assert!(caps(&ev("bind", j!({"family": 2, "port": 8080}), root(), None)).is_empty());
        assert!(caps(&ev("bind", j!({"family": "AF_UNIX"}), root(), None)).is_empty());
        assert_eq!(
            caps(&ev(
                "socket",
                j!({"family": 2, "type": 0x80003}),
                root(),
                None
            )),
            [("CAP_NET_RAW", "exact")]
        );
        assert_eq!(
            caps(&ev(
                "socket",
                j!({"family": "AF_PACKET", "type": "SOCK_DGRAM"}),
                root(),
                None
            )),
            [("CAP_NET_RAW", "exact")]
        );
        assert!(caps(&ev("socket", j!({"family": 2, "type": 1}), root(), None)).is_empty());
        // Root reading a 0600 file of uid 70: DAC_OVERRIDE, exact (group bits deny too).
        let e = ev(
            "openat",
            j!({"flags": 0, "path": "/etc/shadow"}),
            root(),
            tgt(70, 70, 0o100600),
        );
        assert_eq!(caps(&e), [("CAP_DAC_OVERRIDE", "exact")]);
        // Group bits would allow it: likely (the caller may be in group 70).
        let e = ev("openat", j!({"flags": 0}), root(), tgt(70, 70, 0o100640));
        assert_eq!(caps(&e), [("CAP_DAC_OVERRIDE", "likely")]);
        // The owner, or an open the mode allows, or O_PATH: nothing.
        for (creds, mode, flags) in [
            (user(70), 0o100600, 2),
            (root(), 0o100644, 0),
            (root(), 0o100000, O_PATH),
        ] {
            let e = ev("openat", j!({"flags": flags}), creds, tgt(70, 70, mode));
            assert!(caps(&e).is_empty(), "{e:?}");
        }
        // Write to a 0644 file of another user.
        let e = ev("open", j!({"flags": 1}), root(), tgt(70, 70, 0o100644));
        assert_eq!(caps(&e), [("CAP_DAC_OVERRIDE", "exact")]);
        assert_eq!(
            caps(&ev(
                "fchmodat",
                j!({"path": "/x"}),
                root(),
                tgt(5, 5, 0o100644)
            )),
            [("CAP_FOWNER", "exact")]
        );
        assert_eq!(
            caps(&ev(
                "utimensat",
                j!({"times": "now"}),
                root(),
                tgt(5, 5, 0o100644)
            )),
            [("CAP_FOWNER", "may over-grant")]
        );
        assert_eq!(
            caps(&ev("mknodat", j!({"mode": 0o20600}), root(), None)),
            [("CAP_MKNOD", "exact")]
        );
        assert!(caps(&ev("mknodat", j!({"mode": 0o10600}), root(), None)).is_empty());
        assert_eq!(
            caps(&ev("chroot", j!({}), root(), None)),
            [("CAP_SYS_CHROOT", "exact")]
        );
        assert_eq!(
            caps(&ev(
                "kill",
                j!({"pid": 9, "sig": 15}),
                root(),
                tgt(101, 101, 0)
            )),
            [("CAP_KILL", "likely")]
        );
        assert!(caps(&ev("kill", j!({"pid": 9}), root(), tgt(0, 0, 0))).is_empty());
        assert_eq!(
            caps(&ev(
                "setxattr",
                j!({"name": "security.capability"}),
                root(),
                None
            )),
            [("CAP_SETFCAP", "exact")]
        );
        assert_eq!(
            caps(&ev(
                "setxattr",
                j!({"name": "trusted.overlay"}),
                root(),
                None
            )),
            [("CAP_SYS_ADMIN", "exact")]
        );
        assert!(caps(&ev("setxattr", j!({"name": "user.x"}), root(), None)).is_empty());
        assert_eq!(
            caps(&ev(
                "prctl",
                j!({"option": "PR_CAPBSET_DROP"}),
                root(),
                None
            )),
            [("CAP_SETPCAP", "exact")]
        );
    }

    #[test]
    fn kprobe_checks_count_only_when_the_recorder_saw_them() {
        let mut r = fixture();
        r.capability_checks = vec![crate::learn::recording::CapabilityCheck {
            capability: "CAP_SYS_NICE".into(),
            granted: 3,
            denied: 0,
        }];
        r.source.capabilities = "kprobe/cap_capable".into();
        assert_eq!(infer(&r)[0].capability, "CAP_SYS_NICE");
        r.source.capabilities = "inferred".into();
        assert!(infer(&r).is_empty());
    }

    fn fixture() -> Recording {
        Recording::parse(
            r#"{"schema":1,"name":"t","container_id":"c","complete":true,"source":{"capabilities":"inferred"}}"#,
            std::path::Path::new("t.json"),
        )
        .unwrap()
    }
}
