//! Step: read-only rootfs (CIS Docker 5.13) with writable tmpfs where ordinary programs
//! expect to write (/tmp, /run).
//!
//! runc mounts in list order, so a tmpfs listed after a request's mount below it would hide
//! that mount (`-v secrets:/run/secrets`, a volume at /tmp/cache whose writes would then be
//! lost). Each tmpfs therefore goes before the first mount at or below it, comparing where
//! runc will really mount (symlinks in the image resolved inside the rootfs: /var/run →
//! /run); when the request mounts something at the tmpfs path or above it, that mount
//! supplies the directory and there is no tmpfs. The image's files there are copied into the
//! tmpfs (runc's `tmpcopyup`: content, owners, file modes) and its root gets the image
//! directory's mode, as runc itself sets it after mounting.

use super::Context;
use crate::change::Changes;
use crate::profile::TmpfsMount;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::{Value, json};

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let policy = &cx.profile.rootfs;
    if !policy.readonly {
        return Ok(());
    }
    ch.set(
        spec,
        "/root/readonly",
        Value::Bool(true),
        format!(
            "profile {} makes the root filesystem read-only",
            cx.profile.name
        ),
    )?;
    let mut mounts: Vec<Value> = match spec.get("/mounts") {
        Some(Value::Array(m)) => m.clone(),
        _ => Vec::new(),
    };
    let dest = |m: &Value| {
        m.get("destination")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // A user namespace's root cannot copy (nor chown to) the image's files, owned by ids
    // outside it: no copy-up there.
    let copyup = !cx.profile.userns.enabled;
    let (mut added, mut placed, mut copied) = (Vec::new(), Vec::new(), Vec::new());
    for t in &policy.tmpfs {
        let at = resolved(cx, &t.path);
        let dests: Vec<String> = mounts.iter().map(|m| resolved(cx, &dest(m))).collect();
        if let Some(i) = dests.iter().position(|d| at_or_below(&at, d)) {
            let ours = mounts[i]["type"] == "tmpfs" && dest(&mounts[i]) == t.path;
            if !ours {
                let via = if lexical(&dest(&mounts[i])) == dests[i] {
                    String::new()
                } else {
                    format!(" (in the image: {})", dests[i])
                };
                ch.note(
                    "/mounts",
                    format!(
                        "no tmpfs at {}: the request mounts {}{via} there, which a tmpfs would hide",
                        t.path,
                        dest(&mounts[i]),
                    ),
                );
            }
            continue;
        }
        if at != lexical(&t.path) {
            // runc would follow the image's link: a writable copy of whatever it names (/etc,
            // or / itself) would replace the read-only original.
            let ask = if at == "/" {
                String::new()
            } else {
                format!("; a request may mount one at {at} (docker run --tmpfs {at})")
            };
            ch.note(
                "/mounts",
                format!(
                    "no tmpfs at {}: in the image it leads to {at} (a symbolic link), which a writable tmpfs must not replace{ask}",
                    t.path
                ),
            );
            continue;
        }
        let bytes = cx
            .host
            .rootfs_paths
            .get(&t.path)
            .and_then(|r| r.content_bytes);
        let copy = match (bytes, size_bytes(&t.options)) {
            (Some(b), Some(size)) if copyup && b > size => {
                let b = if b == u64::MAX {
                    format!("more than {} entries", crate::host::COPY_ENTRIES)
                } else {
                    format!("at least {b} bytes")
                };
                ch.note(
                    "/mounts",
                    format!(
                        "the image's {} holds {b}, more than its tmpfs's size= ({size} bytes) takes: not copied in (runc would fail to start the container)",
                        t.path
                    ),
                );
                false
            }
            _ => copyup,
        };
        if copy {
            copied.push(t.path.as_str());
        }
        let entry = json!({"destination": t.path, "type": "tmpfs", "source": "tmpfs",
            "options": options(t, dir_mode(cx, &t.path), copy)});
        let below: Vec<&str> = dests
            .iter()
            .filter(|d| at_or_below(d, &at))
            .map(String::as_str)
            .collect();
        match dests.iter().position(|d| at_or_below(d, &at)) {
            Some(i) => {
                mounts.insert(i, entry);
                placed.push(format!(
                    "{} is mounted before the requested {} so it hides none of them",
                    t.path,
                    below.join(", ")
                ));
            }
            None => mounts.push(entry),
        }
        added.push(t.path.as_str());
    }
    if !added.is_empty() {
        spec.set("/mounts", Value::Array(mounts))?;
        let mut reason = format!(
            "writable tmpfs at {} so programs can still write with a read-only rootfs",
            added.join(", ")
        );
        if !copied.is_empty() {
            reason.push_str(&format!(
                "; the image's files in {} copied in (tmpcopyup: contents, owners, file modes)",
                copied.join(", ")
            ));
        }
        if !copyup {
            reason.push_str("; nothing copied in: root in a user namespace cannot copy the image's files, owned by ids outside it");
        }
        for p in placed {
            reason.push_str("; ");
            reason.push_str(&p);
        }
        ch.record("/mounts", Value::Null, json!(added), reason);
    }
    Ok(())
}

/// Every path whose place in the image the step needs ([`crate::host::HostFacts::rootfs_paths`]):
/// the request's mount destinations and the profile's tmpfs paths, as written.
pub fn mount_paths(request: &Spec, profile: &crate::profile::Profile) -> Vec<String> {
    let mut out: Vec<String> = match request.get("/mounts") {
        Some(Value::Array(m)) => m
            .iter()
            .filter_map(|m| m.get("destination").and_then(Value::as_str))
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    out.extend(profile.rootfs.tmpfs.iter().map(|t| t.path.clone()));
    out.sort();
    out.dedup();
    out
}

/// Where runc will mount `dest` in the image (the host fact), or `dest` cleaned.
fn resolved(cx: &Context, dest: &str) -> String {
    cx.host
        .rootfs_paths
        .get(dest)
        .map(|r| r.resolved.clone())
        .unwrap_or_else(|| lexical(dest))
}

fn dir_mode(cx: &Context, dest: &str) -> Option<u32> {
    cx.host.rootfs_paths.get(dest).and_then(|r| r.dir_mode)
}

/// The `size=` of tmpfs options in bytes (the kernel's memparse suffixes), `None` when
/// there is none or it is relative (`50%`).
pub(crate) fn size_bytes(options: &[String]) -> Option<u64> {
    let v = options.iter().rev().find_map(|o| o.strip_prefix("size="))?;
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        "e" => 60,
        _ => return None,
    };
    n.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

/// `dest` with `.` and `..` taken lexically, never above `/` (how runc's securejoin reads a
/// path with no symlinks in it).
fn lexical(dest: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in dest.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    format!("/{}", out.join("/"))
}

/// Whether the cleaned path `p` is `base` or inside it.
fn at_or_below(p: &str, base: &str) -> bool {
    p == base || base == "/" || p.starts_with(&format!("{base}/"))
}

/// The profile's options, `mode=` the image directory's when there is one (runc chmods the
/// tmpfs root to it after mounting anyway), and `tmpcopyup`.
fn options(t: &TmpfsMount, mode: Option<u32>, copyup: bool) -> Vec<String> {
    let mut out: Vec<String> = t.options.clone();
    if let Some(m) = mode {
        let m = format!("mode={m:o}");
        match out.iter_mut().find(|o| o.starts_with("mode=")) {
            Some(o) => *o = m,
            None => out.push(m),
        }
    }
    if copyup && !out.iter().any(|o| o == "tmpcopyup") {
        out.push("tmpcopyup".to_string());
    }
    out
}

/// `/tmp/` and `//tmp` name the same mount point as `/tmp`.
pub fn clean(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 1);
    for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;

    fn run(s: &mut Spec, name: &str) -> usize {
        let (p, h) = (profile(name), facts());
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(s, &cx, &mut Changes::new("rootfs", &mut out)).unwrap();
        out.len()
    }

    #[test]
    fn restricted_makes_root_readonly_and_adds_tmpfs_once() {
        let mut s = fixture("docker-20.10/default.json");
        let n_mounts = s.get("/mounts").unwrap().as_array().unwrap().len();
        assert_eq!(run(&mut s, "restricted"), 2);
        assert_eq!(s.get("/root/readonly"), Some(&Value::Bool(true)));
        assert_eq!(
            s.get("/mounts").unwrap().as_array().unwrap().len(),
            n_mounts + 2
        );
        assert_eq!(run(&mut s, "restricted"), 0, "idempotent");
    }

    #[test]
    fn existing_mounts_are_kept_and_baseline_changes_nothing() {
        let mut s = fixture("containerd-1.6-ctr/default.json");
        let has_run = s
            .get("/mounts")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/run");
        run(&mut s, "restricted");
        let runs = s
            .get("/mounts")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| clean(m["destination"].as_str().unwrap()) == "/run")
            .count();
        assert_eq!(runs, 1, "has_run={has_run}");
        let mut b = fixture("docker-20.10/default.json");
        assert_eq!(run(&mut b, "baseline"), 0);
        assert_eq!(clean("//tmp/./"), "/tmp");
    }

    fn run_facts(
        s: &mut Spec,
        name: &str,
        h: &crate::host::HostFacts,
    ) -> Vec<crate::change::Change> {
        let p = profile(name);
        let cx = Context {
            profile: &p,
            host: h,
            container_caps: None,
            container_apparmor: None,
        };
        let mut out = Vec::new();
        apply(s, &cx, &mut Changes::new("rootfs", &mut out)).unwrap();
        out
    }

    fn with_mounts(extra: &[(&str, &str)]) -> Spec {
        let mut s = fixture("docker-20.10/default.json");
        let mut m = s.get("/mounts").unwrap().as_array().unwrap().clone();
        // Docker puts volumes before its /etc files and /dev/shm.
        for (i, (dest, src)) in extra.iter().enumerate() {
            m.insert(
                5 + i,
                json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}),
            );
        }
        s.set("/mounts", Value::Array(m)).unwrap();
        s
    }

    fn dests(s: &Spec) -> Vec<String> {
        s.get("/mounts")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap().to_string())
            .collect()
    }

    fn pos(s: &Spec, d: &str) -> usize {
        dests(s)
            .iter()
            .position(|x| x == d)
            .unwrap_or_else(|| panic!("{d} not in {:?}", dests(s)))
    }

    fn fact(h: &mut crate::host::HostFacts, dest: &str, resolved: &str, mode: Option<u32>) {
        h.rootfs_paths.insert(
            dest.to_string(),
            crate::host::RootfsPath {
                resolved: resolved.to_string(),
                dir_mode: mode,
                content_bytes: None,
            },
        );
    }

    #[test]
    fn tmpfs_goes_before_the_requested_mounts_below_it() {
        let mut s = with_mounts(&[
            ("/run/secrets", "/v/secrets"),
            ("/tmp/cache", "/v/cache"),
            ("/data", "/v/data"),
        ]);
        let out = run_facts(&mut s, "restricted", &facts());
        assert!(pos(&s, "/run") < pos(&s, "/run/secrets"), "{:?}", dests(&s));
        assert!(pos(&s, "/tmp") < pos(&s, "/tmp/cache"), "{:?}", dests(&s));
        assert_eq!(
            pos(&s, "/run/secrets"),
            pos(&s, "/run") + 1,
            "just before it"
        );
        let m = s.get("/mounts").unwrap().as_array().unwrap();
        assert_eq!(m[pos(&s, "/tmp")]["type"], "tmpfs");
        assert!(
            m[pos(&s, "/tmp")]["options"]
                .as_array()
                .unwrap()
                .contains(&json!("tmpcopyup"))
        );
        let rec = out
            .iter()
            .find(|c| c.field == "/mounts" && c.after != Value::Null)
            .unwrap();
        assert_eq!(rec.after, json!(["/tmp", "/run"]));
        assert!(
            rec.reason
                .contains("/run is mounted before the requested /run/secrets"),
            "{}",
            rec.reason
        );
        assert!(
            rec.reason
                .contains("/tmp is mounted before the requested /tmp/cache"),
            "{}",
            rec.reason
        );
    }

    #[test]
    fn a_mount_through_the_var_run_symlink_counts_as_below_run() {
        let mut s = with_mounts(&[("/var/run/secrets", "/v/secrets")]);
        let mut h = facts();
        fact(&mut h, "/var/run/secrets", "/run/secrets", None);
        run_facts(&mut s, "restricted", &h);
        assert!(
            pos(&s, "/run") < pos(&s, "/var/run/secrets"),
            "{:?}",
            dests(&s)
        );
        // Without the fact (no such symlink), /var/run is not below /run: appended as before.
        let mut s = with_mounts(&[("/var/run/secrets", "/v/secrets")]);
        run_facts(&mut s, "restricted", &facts());
        assert_eq!(pos(&s, "/run"), dests(&s).len() - 1);
        // A profile path that is itself a link in the image (/tmp -> /var/tmp, or -> / by a
        // hostile image) gets no tmpfs: runc would mount it where the link leads.
        for target in ["/var/tmp", "/", "/etc"] {
            let mut s = with_mounts(&[("/var/tmp/x", "/v/x")]);
            let mut h = facts();
            fact(&mut h, "/tmp", target, Some(0o1777));
            let out = run_facts(&mut s, "restricted", &h);
            assert!(!dests(&s).contains(&"/tmp".to_string()), "{:?}", dests(&s));
            assert!(dests(&s).contains(&"/run".to_string()), "{:?}", dests(&s));
            let why = format!("no tmpfs at /tmp: in the image it leads to {target} ");
            assert!(out.iter().any(|c| c.reason.contains(&why)), "{out:?}");
        }
    }

    #[test]
    fn a_mount_at_or_above_the_path_means_no_tmpfs_there() {
        let mut s = with_mounts(&[("/tmp", "/v/tmp"), ("/tmp/cache", "/v/cache")]);
        let out = run_facts(&mut s, "restricted", &facts());
        assert_eq!(dests(&s).iter().filter(|d| *d == "/tmp").count(), 1);
        let m = s.get("/mounts").unwrap().as_array().unwrap();
        assert_eq!(
            m[pos(&s, "/tmp")]["type"],
            "bind",
            "the request's, not ours"
        );
        assert!(
            out.iter().any(|c| c.before == c.after
                && c.reason
                    .contains("no tmpfs at /tmp: the request mounts /tmp there")),
            "{out:?}"
        );
        assert!(dests(&s).contains(&"/run".to_string()));
        // Through a link: /var/run lands on /run.
        let mut s = with_mounts(&[("/var/run", "/v/run")]);
        let mut h = facts();
        fact(&mut h, "/var/run", "/run", None);
        run_facts(&mut s, "restricted", &h);
        assert!(!dests(&s).contains(&"/run".to_string()), "{:?}", dests(&s));
        // Above it: a volume at /.
        let mut s = with_mounts(&[("/", "/v/root")]);
        let out = run_facts(&mut s, "restricted", &facts());
        assert!(!dests(&s).contains(&"/tmp".to_string()), "{:?}", dests(&s));
        assert!(
            out.iter().any(|c| c
                .reason
                .contains("no tmpfs at /run: the request mounts / there")),
            "{out:?}"
        );
    }

    #[test]
    fn tmpfs_root_takes_the_image_directory_mode_and_copies_up() {
        let mut s = fixture("docker-20.10/default.json");
        let mut h = facts();
        fact(&mut h, "/tmp", "/tmp", Some(0o1777));
        fact(&mut h, "/run", "/run", Some(0o2775));
        run_facts(&mut s, "restricted", &h);
        let m = s.get("/mounts").unwrap().as_array().unwrap();
        let opts = |d: &str| m[pos(&s, d)]["options"].clone();
        assert_eq!(
            opts("/tmp"),
            json!([
                "nosuid",
                "nodev",
                "noexec",
                "mode=1777",
                "size=65536k",
                "tmpcopyup"
            ])
        );
        assert_eq!(
            opts("/run"),
            json!([
                "nosuid",
                "nodev",
                "noexec",
                "mode=2775",
                "size=65536k",
                "tmpcopyup"
            ])
        );
        // Missing in the image: the profile's mode.
        let mut s = fixture("docker-20.10/default.json");
        run_facts(&mut s, "restricted", &facts());
        let m = s.get("/mounts").unwrap().as_array().unwrap();
        assert!(
            m[pos(&s, "/run")]["options"]
                .as_array()
                .unwrap()
                .contains(&json!("mode=755"))
        );
        // In a user namespace: no copy-up.
        let mut s = fixture("docker-20.10/default.json");
        let out = run_facts(&mut s, "isolated", &h);
        let m = s.get("/mounts").unwrap().as_array().unwrap();
        assert!(
            !m[pos(&s, "/run")]["options"]
                .as_array()
                .unwrap()
                .contains(&json!("tmpcopyup"))
        );
        assert!(out.iter().any(|c| c.reason.contains("user namespace")));
    }

    #[test]
    fn a_second_pass_changes_nothing() {
        let mut h = facts();
        fact(&mut h, "/var/run/secrets", "/run/secrets", None);
        fact(&mut h, "/tmp", "/tmp", Some(0o1777));
        for extra in [
            vec![("/run/secrets", "/v/s"), ("/tmp/cache", "/v/c")],
            vec![("/var/run/secrets", "/v/s")],
            vec![("/tmp", "/v/t")],
            vec![],
        ] {
            let mut s = with_mounts(&extra);
            run_facts(&mut s, "restricted", &h);
            let once = s.to_vec();
            let second = run_facts(&mut s, "restricted", &h);
            assert!(
                second.iter().all(|c| c.before == c.after),
                "{extra:?}: {second:?}"
            );
            assert_eq!(s.to_vec(), once, "{extra:?}: not byte for byte");
        }
    }

    #[test]
    fn image_content_larger_than_the_tmpfs_is_not_copied_in() {
        let mut h = facts();
        fact(&mut h, "/tmp", "/tmp", Some(0o1777));
        fact(&mut h, "/run", "/run", Some(0o755));
        h.rootfs_paths.get_mut("/tmp").unwrap().content_bytes = Some(65536 * 1024 + 1);
        h.rootfs_paths.get_mut("/run").unwrap().content_bytes = Some(65536 * 1024);
        let mut s = fixture("docker-20.10/default.json");
        let out = run_facts(&mut s, "restricted", &h);
        let m = s.get("/mounts").unwrap().as_array().unwrap();
        let copies = |d: &str| {
            m[pos(&s, d)]["options"]
                .as_array()
                .unwrap()
                .contains(&json!("tmpcopyup"))
        };
        assert!(!copies("/tmp") && copies("/run"));
        assert!(out.iter().any(|c| c.reason.contains("the image's /tmp holds at least 67108865 bytes, more than its tmpfs's size= (67108864 bytes)")), "{out:?}");
        let rec = out
            .iter()
            .find(|c| c.field == "/mounts" && c.after != Value::Null)
            .unwrap();
        assert!(
            rec.reason.contains("the image's files in /run copied in"),
            "{}",
            rec.reason
        );
        h.rootfs_paths.get_mut("/tmp").unwrap().content_bytes = Some(u64::MAX);
        let out = run_facts(&mut fixture("docker-20.10/default.json"), "restricted", &h);
        assert!(
            out.iter()
                .any(|c| c.reason.contains("more than 100000 entries")),
            "{out:?}"
        );
        let sz = |o: &str| size_bytes(&[o.to_string()]);
        assert_eq!(sz("size=65536k"), Some(64 << 20));
        assert_eq!(sz("size=2G"), Some(2 << 30));
        assert_eq!(sz("size=4096"), Some(4096));
        assert_eq!(sz("size=50%"), None);
        assert_eq!(sz("mode=755"), None);
        assert_eq!(lexical("/run/../../tmp/./x"), "/tmp/x");
    }
}
