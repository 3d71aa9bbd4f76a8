//! `linux.cgroupsPath`: the cgroup runc creates, joins, and on a failed create removes. The
//! root cgroup, a cgroup the engine or the host runs in, or one that already has processes
//! is someone else's: joining it escapes the container's limits, and runc's clean-up after
//! a failed create would tear it down.

use super::{Rule, Violation};
use serde_json::{Value, json};

/// The cgroupfs path runc uses for `cgroups_path`: as written for the cgroupfs form
/// (`/docker/ID`), or expanded for the systemd form (`system.slice:docker:ID` →
/// `/system.slice/docker-ID.scope`, `a-b.slice` → `/a.slice/a-b.slice`). None for a
/// systemd form runc itself would reject.
pub fn fs_path(cgroups_path: &str) -> Option<String> {
    let parts: Vec<&str> = cgroups_path.split(':').collect();
    match parts.as_slice() {
        [_] => Some(cgroups_path.to_string()),
        [slice, prefix, name] => {
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice
            };
            let mut path = String::new();
            if slice != "-.slice" {
                let stem = slice.strip_suffix(".slice")?;
                let mut acc = String::new();
                for part in stem.split('-') {
                    if !acc.is_empty() {
                        acc.push('-');
                    }
                    acc.push_str(part);
                    path.push_str(&format!("/{acc}.slice"));
                }
            }
            let unit = match name.strip_suffix(".slice") {
                Some(_) => name.to_string(),
                None if prefix.is_empty() => format!("{name}.scope"),
                None => format!("{prefix}-{name}.scope"),
            };
            Some(format!("{path}/{unit}"))
        }
        _ => None,
    }
}

fn is_ancestor_or_same(dir: &str, of: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty() || of == dir || of.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

pub const CGROUPS_PATH: Rule = Rule {
    id: "cgroups-path",
    fix: "let the engine place the container's cgroup (drop --cgroup-parent / cgroupsPath)",
    title: "cgroupsPath names a cgroup that is not the container's own",
    reference: "runtime-spec linux.cgroupsPath",
    check: |spec, cx| {
        let Some(Value::String(p)) = spec.get("/linux/cgroupsPath") else {
            return Ok(vec![]);
        };
        let field = "/linux/cgroupsPath";
        let refuse = |why: String| Ok(vec![Violation::new(field, json!(p), why)]);
        if p.split(['/', ':']).any(|c| c == ".." || c == ".") {
            return refuse("'..' or '.' names a cgroup other than the container's own".into());
        }
        // Relative (Docker's --cgroup-parent without a leading slash): a new child of the
        // engine's own cgroup, unless it names nothing below it.
        if !p.contains(':') && !p.starts_with('/') && p.trim_matches('/').is_empty() {
            return refuse("an empty relative path is the engine's own cgroup".into());
        }
        let Some(fs) = fs_path(p) else {
            return refuse("not a systemd cgroupsPath (slice:prefix:name)".into());
        };
        let clean = super::mounts::clean(&fs);
        if fs.starts_with('/') && clean == "/" {
            return refuse("the root cgroup is the host's".into());
        }
        if let Some(own) = cx
            .host
            .own_cgroups
            .iter()
            .find(|own| fs.starts_with('/') && is_ancestor_or_same(&clean, own))
        {
            return refuse(format!(
                "the engine (and so the host) runs in {own}: the container would share its cgroup"
            ));
        }
        if let Some(dir) = &cx.host.cgroup_in_use {
            return refuse(format!(
                "{dir} already has processes: it belongs to something else"
            ));
        }
        Ok(vec![])
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_paths_expand_like_runc() {
        assert_eq!(fs_path("/docker/abc").as_deref(), Some("/docker/abc"));
        assert_eq!(
            fs_path("system.slice:docker:abc").as_deref(),
            Some("/system.slice/docker-abc.scope")
        );
        assert_eq!(
            fs_path("kubepods-besteffort-pod1.slice:cri-containerd:abc").as_deref(),
            Some(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"
            )
        );
        assert_eq!(
            fs_path("-.slice:session:1").as_deref(),
            Some("/session-1.scope")
        );
        assert_eq!(fs_path("a:b"), None);
    }

    #[test]
    fn refuses_root_host_and_busy_cgroups() {
        use crate::steps::testutil::{facts, fixture, profile};
        let p = profile("restricted");
        let mut h = facts();
        h.own_cgroups = vec!["/system.slice/containerd.service".into()];
        let fired = |path: &str, h: &crate::host::HostFacts| {
            let mut s = fixture("docker-20.10/default.json");
            s.set("/linux/cgroupsPath", json!(path)).unwrap();
            let cx = super::super::PolicyContext {
                profile: &p,
                host: h,
            };
            !(CGROUPS_PATH.check)(&s, &cx).unwrap().is_empty()
        };
        for bad in [
            "/",
            "//",
            "/docker/../",
            "docker/..",
            ".",
            "docker/./x",
            "/system.slice",
            "/system.slice/containerd.service",
            "-.slice::system.slice",
            "a:b",
        ] {
            assert!(fired(bad, &h), "{bad}");
        }
        for good in [
            "/docker/abc",
            "system.slice:docker:abc",
            "/kubepods/burstable/pod1/abc",
            "rampart-e2e-docker/abc",
        ] {
            assert!(!fired(good, &h), "{good}");
        }
        h.cgroup_in_use = Some("/sys/fs/cgroup/pids/docker/abc".into());
        assert!(fired("/docker/abc", &h));
    }
}
