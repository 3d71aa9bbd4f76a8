//! OCI hooks run on the host, as root, outside every namespace: only the admin's allow-list
//! may run, each by its real binary and exact argument shape (by default Docker 20.10's
//! networking hook). `/proc/self/exe` is never an engine: when the hook runs it is runc
//! itself, so `self` (and any non-numeric component) never matches `<pid>`.

use super::{Rule, Violation};
use crate::host::HostFacts;
use crate::profile::HookAllow;
use serde_json::Value;

/// Every hook's path, for the host to resolve `/proc/PID/exe`.
pub fn paths(spec: &crate::spec::Spec) -> Vec<String> {
    hooks(spec)
        .filter_map(|(_, _, h)| h.get("path").and_then(Value::as_str).map(String::from))
        .collect()
}

fn hooks(spec: &crate::spec::Spec) -> impl Iterator<Item = (&String, usize, &Value)> {
    spec.get("/hooks")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(stage, list)| {
            list.as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(move |(i, h)| (stage, i, h))
        })
}

fn hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn clean_abs(p: &str) -> bool {
    p.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
            && !p.chars().any(|c| c.is_control() || c.is_whitespace())
    })
}

fn arg_matches(pattern: &str, got: &str) -> bool {
    match pattern {
        "<hex64>" => hex(got, 64),
        "<hex12>" => hex(got, 12),
        p => match p.strip_suffix("<path>") {
            Some(prefix) => got.strip_prefix(prefix).is_some_and(clean_abs),
            None => p == got,
        },
    }
}

/// Whether `hook` is exactly what `allow` describes, on this host.
fn matches(allow: &HookAllow, hook: &Value, host: &HostFacts) -> bool {
    let path = hook.get("path").and_then(Value::as_str).unwrap_or_default();
    let path_ok = if allow.path == "/proc/<pid>/exe" {
        let numeric = path
            .strip_prefix("/proc/")
            .and_then(|p| p.strip_suffix("/exe"))
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        numeric
            && host
                .proc_exes
                .get(path)
                .is_some_and(|exe| allow.exe.iter().any(|e| e == exe))
    } else {
        allow.path == path
    };
    let args: Vec<&str> = match hook.get("args") {
        None => Vec::new(),
        Some(Value::Array(a)) => match a.iter().map(Value::as_str).collect::<Option<_>>() {
            Some(a) => a,
            None => return false,
        },
        Some(_) => return false,
    };
    let env_empty = match hook.get("env") {
        None | Some(Value::Null) => true,
        Some(Value::Array(e)) => e.is_empty(),
        Some(_) => false,
    };
    path_ok
        && env_empty
        && args.len() == allow.args.len()
        && allow.args.iter().zip(&args).all(|(p, g)| arg_matches(p, g))
}

pub const HOOK_NOT_ALLOWED: Rule = Rule {
    id: "hook-not-allowed",
    fix: "drop the OCI hook (an admin can allow-list it)",
    title: "OCI hook not on the admin's allow-list",
    reference: "runtime-spec hooks (they run on the host as root)",
    check: |spec, cx| {
        Ok(hooks(spec)
            .filter(|(_, _, h)| {
                !cx.profile
                    .policy
                    .hooks
                    .iter()
                    .any(|a| matches(a, h, cx.host))
            })
            .map(|(stage, i, h)| {
                Violation::new(
                    format!("/hooks/{stage}/{i}"),
                    h.clone(),
                    "hooks run on the host as root; only the profile's [[policy.hooks]] (exact binary and arguments, no env) may run",
                )
            })
            .collect())
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "1de657be0fc00a3b74a8451fd494cfd8b763d1591364177b3e19b185b6ffd80b";

    fn host() -> HostFacts {
        let mut h = HostFacts::for_tests();
        h.proc_exes
            .insert("/proc/3094/exe".into(), "/usr/sbin/dockerd".into());
        h.proc_exes
            .insert("/proc/77/exe".into(), "/usr/sbin/runc".into());
        h
    }

    fn hook(path: &str, args: &[&str]) -> Value {
        json!({"path": path, "args": args})
    }

    #[test]
    fn docker_setkey_hook_matches_only_its_exact_shape_on_dockerd() {
        let a = HookAllow::docker_setkey();
        let h = host();
        let ok = [
            "libnetwork-setkey",
            "-exec-root=/run/docker",
            ID,
            "1a215a97fdad",
        ];
        assert!(matches(&a, &hook("/proc/3094/exe", &ok), &h));
        let private = [
            "libnetwork-setkey",
            "-exec-root=/srv/e2e/exec",
            ID,
            "1a215a97fdad",
        ];
        assert!(matches(&a, &hook("/proc/3094/exe", &private), &h));
        for (path, args) in [
            // runc itself when the hook runs: a privileged nested container as host root.
            ("/proc/self/exe", &ok[..]),
            ("/proc/thread-self/exe", &ok[..]),
            ("/proc/3094/../self/exe", &ok[..]),
            ("/proc/+3094/exe", &ok[..]),
            ("/proc/77/exe", &ok[..]),   // a pid that is not dockerd
            ("/proc/4242/exe", &ok[..]), // no such process
            ("/usr/bin/evil", &ok[..]),
            ("/proc/3094/exe", &["libnetwork-setkey"][..]),
            ("/proc/3094/exe", &["sh", "-c", "id"][..]),
            (
                "/proc/3094/exe",
                &[
                    "libnetwork-setkey",
                    "-exec-root=/run/../tmp",
                    ID,
                    "1a215a97fdad",
                ][..],
            ),
            (
                "/proc/3094/exe",
                &["libnetwork-setkey", "-exec-root=", ID, "1a215a97fdad"][..],
            ),
            (
                "/proc/3094/exe",
                &[
                    "libnetwork-setkey",
                    "-other=/run/docker",
                    ID,
                    "1a215a97fdad",
                ][..],
            ),
            (
                "/proc/3094/exe",
                &[
                    "libnetwork-setkey",
                    "-exec-root=/run/docker",
                    "x",
                    "1a215a97fdad",
                ][..],
            ),
            (
                "/proc/3094/exe",
                &[
                    "libnetwork-setkey",
                    "-exec-root=/run/docker",
                    ID,
                    "1a215a97fdad",
                    "extra",
                ][..],
            ),
        ] {
            assert!(!matches(&a, &hook(path, args), &h), "{path} {args:?}");
        }
        let mut with_env = hook("/proc/3094/exe", &ok);
        with_env["env"] = json!(["LD_PRELOAD=/tmp/x.so"]);
        assert!(!matches(&a, &with_env, &h), "env is never allowed");
    }

    #[test]
    fn every_captured_docker_hook_is_allowed() {
        use crate::steps::testutil::fixture;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/specs/docker-20.10");
        let a = HookAllow::docker_setkey();
        let mut seen = 0;
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = format!("docker-20.10/{}", e.file_name().to_string_lossy());
            let spec = fixture(&name);
            for (_, _, h) in hooks(&spec) {
                let mut facts = HostFacts::for_tests();
                let p = h["path"].as_str().unwrap().to_string();
                facts.proc_exes.insert(p, "/usr/sbin/dockerd".into());
                assert!(matches(&a, h, &facts), "{name}: {h}");
                seen += 1;
            }
        }
        assert!(seen > 5);
    }
}
