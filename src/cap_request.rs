//! Which capabilities of a request the user chose, and which the engine filled in.
//!
//! Engines write one flat list per set, so the choice has to be read from the list's shape.
//! The shapes, from captured specs (tests/fixtures/specs):
//!
//! - Docker 20.10: its 14 defaults in a fixed order; `--cap-add X` appends `X` after them,
//!   even when `X` is already a default (`--cap-add CHOWN` gives the 14, then CAP_CHOWN
//!   again); `--cap-drop X` removes `X`; `--cap-drop ALL --cap-add X...` gives only the added
//!   names; `--cap-add ALL` / `--privileged` every capability.
//! - containerd CRI and ctr: the same 14 in Docker's order; Kubernetes
//!   `capabilities: {drop: [ALL], add: [...]}` gives only the added names; an `add` of a
//!   default without `drop: [ALL]` leaves the list unchanged.
//! - podman 4.3: the same 14, sorted; `--cap-add` of a non-default adds it.
//! - `runc spec` (plain runc users): AUDIT_WRITE, KILL, NET_BIND_SERVICE.
//!
//! Decision table over the bounding list (`D` = the 14 defaults, as a set):
//!
//! | the list | means | explicit |
//! | --- | --- | --- |
//! | exactly `D`, no name twice | engine defaults | none |
//! | exactly `runc spec`'s three, no name twice | engine defaults | none |
//! | `D` and more, or a name twice | defaults + `--cap-add` | names outside `D`, and every name written a second time |
//! | part of `D`, 8 or more of them | defaults minus a few `--cap-drop` | names written a second time |
//! | part of `D`, at most 7 of them | `--cap-drop ALL --cap-add ...` / `drop: [ALL], add: [...]` | every name |
//! | names outside `D` and some of `D` missing | a list the user wrote | every name |
//!
//! Limits: an engine that folds `--cap-add X` into its defaults when `X` is one already
//! (podman, CRI without `drop: [ALL]`, and possibly other Docker builds) makes the request
//! look like the defaults, and `X` is then tightened as a default; Docker's documented idiom
//! `--cap-drop ALL --cap-add X` always reads as explicit. The shape is only ever read from
//! the request spec, never from image data. Misreading defaults as explicit cannot loosen
//! anything: an explicit name is kept only when the profile's `grantable` lists it (an
//! admin's decision), and refused loudly otherwise.

/// Docker's, containerd's and podman's default capabilities, in Docker's order.
pub const ENGINE_DEFAULTS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// What `runc spec` writes (every set, ambient too).
pub const RUNC_SPEC_DEFAULTS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// At most this many of the defaults, and nothing else: a drop-all-then-add list.
pub const MAX_DROP_ALL_ADDS: usize = 7;

/// The names of `bounding` the user asked for explicitly (first-seen order, each once).
/// Empty when the list is (or reads as) the engine's defaults.
pub fn explicit(bounding: &[String]) -> Vec<String> {
    let is_default = |c: &str| ENGINE_DEFAULTS.contains(&c);
    let mut distinct: Vec<&str> = Vec::new();
    let mut repeated: Vec<&str> = Vec::new();
    for c in bounding {
        if distinct.contains(&c.as_str()) {
            if !repeated.contains(&c.as_str()) {
                repeated.push(c);
            }
        } else {
            distinct.push(c);
        }
    }
    if repeated.is_empty()
        && distinct.len() == RUNC_SPEC_DEFAULTS.len()
        && RUNC_SPEC_DEFAULTS.iter().all(|d| distinct.contains(d))
    {
        return Vec::new();
    }
    let has_all_defaults = ENGINE_DEFAULTS.iter().all(|d| distinct.contains(d));
    let outside = distinct.iter().any(|c| !is_default(c));
    let every = || distinct.iter().map(|c| c.to_string()).collect();
    let chosen: Vec<String> = if has_all_defaults {
        // Defaults, plus what was appended after them.
        distinct
            .iter()
            .filter(|c| !is_default(c) || repeated.contains(c))
            .map(|c| c.to_string())
            .collect()
    } else if outside || distinct.len() <= MAX_DROP_ALL_ADDS {
        // A list the user wrote, or drop-all-then-add.
        every()
    } else {
        // Defaults minus a few --cap-drop; a name written twice was added back.
        repeated.iter().map(|c| c.to_string()).collect()
    };
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::fixture;

    fn bounding(name: &str) -> Vec<String> {
        fixture(name)
            .typed("/process/capabilities/bounding")
            .unwrap()
            .unwrap_or_default()
    }
    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn captured_specs_read_as_their_flags() {
        let table: &[(&str, &[&str])] = &[
            ("docker-20.10/default.json", &[]),
            ("docker-20.10/capadd-chown.json", &["CAP_CHOWN"]),
            (
                "docker-20.10/capadd-chown-setuid.json",
                &["CAP_CHOWN", "CAP_SETUID", "CAP_SYS_ADMIN"],
            ),
            (
                "docker-20.10/capdrop-all-add.json",
                &["CAP_CHOWN", "CAP_SETGID"],
            ),
            ("docker-20.10/capdrop-netraw.json", &[]),
            ("docker-20.10/user1000.json", &[]),
            ("docker-20.10/hostnet.json", &[]),
            ("containerd-1.6-cri/container.json", &[]),
            ("containerd-1.6-cri/sandbox.json", &[]),
            ("containerd-1.6-ctr/default.json", &[]),
            ("podman-4.3/default.json", &[]),
            ("runc-spec-default.json", &[]),
            ("runc-spec-rootless.json", &[]),
        ];
        for (name, want) in table {
            assert_eq!(explicit(&bounding(name)), v(want), "{name}");
        }
        // --cap-add ALL: every non-default is explicit (the all-capabilities rule judges it).
        let all = explicit(&bounding("docker-20.10/capadd-all.json"));
        assert!(all.len() > 20 && all.contains(&"CAP_SYS_ADMIN".into()));
        assert!(!all.contains(&"CAP_CHOWN".into()));
    }

    #[test]
    fn decision_table() {
        let d = v(&ENGINE_DEFAULTS);
        // Podman's sorted defaults are the defaults.
        let mut sorted = d.clone();
        sorted.sort();
        assert!(explicit(&sorted).is_empty());
        // --cap-drop CHOWN --cap-add CHOWN: the same set, reordered: defaults.
        let mut moved = d[1..].to_vec();
        moved.push("CAP_CHOWN".into());
        assert!(explicit(&moved).is_empty());
        // --cap-drop NET_RAW --cap-add CHOWN: 13 defaults and CHOWN again.
        let mut drop_add: Vec<String> = d.iter().filter(|c| *c != "CAP_NET_RAW").cloned().collect();
        drop_add.push("CAP_CHOWN".into());
        assert_eq!(explicit(&drop_add), v(&["CAP_CHOWN"]));
        // A few drops: defaults.
        assert!(explicit(&d[..8]).is_empty());
        // drop ALL, add up to 7 defaults: every name.
        assert_eq!(explicit(&d[..7]), d[..7].to_vec());
        assert_eq!(
            explicit(&v(&["CAP_NET_BIND_SERVICE"])),
            v(&["CAP_NET_BIND_SERVICE"])
        );
        assert!(explicit(&[]).is_empty());
        // Outside the defaults with some missing: every name.
        let mixed = v(&["CAP_CHOWN", "CAP_SYS_NICE"]);
        assert_eq!(explicit(&mixed), mixed);
        let mut most = d[..10].to_vec();
        most.push("CAP_IPC_LOCK".into());
        assert_eq!(explicit(&most), most);
        // Defaults plus an addition, in any order.
        let mut plus = sorted.clone();
        plus.insert(3, "CAP_SYS_PTRACE".into());
        assert_eq!(explicit(&plus), v(&["CAP_SYS_PTRACE"]));
    }
}
