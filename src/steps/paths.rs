//! Step: masked and read-only /proc and /sys paths: the request's lists plus the profile's
//! (at least the union of Docker's and containers-common's). Never removes a path.

use super::Context;
use crate::change::Changes;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::json;

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    let lists = [
        (
            "/linux/maskedPaths",
            &cx.profile.paths.masked,
            "masked (an empty file or tmpfs over it)",
        ),
        (
            "/linux/readonlyPaths",
            &cx.profile.paths.readonly,
            "read-only",
        ),
    ];
    for (field, wanted, how) in lists {
        let mut have: Vec<String> = spec.typed(field)?.unwrap_or_default();
        let mut added = Vec::new();
        for pattern in wanted {
            for path in expand(pattern, cx) {
                if !have.contains(&path) {
                    have.push(path.clone());
                    added.push(path);
                }
            }
        }
        if !added.is_empty() {
            ch.set(
                spec,
                field,
                json!(have),
                format!(
                    "{} made {how} by profile {}",
                    added.join(", "),
                    cx.profile.name
                ),
            )?;
        }
    }
    Ok(())
}

fn expand(pattern: &str, cx: &Context) -> Vec<String> {
    if pattern.contains('*') {
        cx.host
            .glob_matches
            .get(pattern)
            .cloned()
            .unwrap_or_default()
    } else {
        vec![pattern.to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;

    #[test]
    fn union_with_request_and_globs_from_host() {
        let p = profile("restricted");
        let mut h = facts();
        let glob = "/sys/devices/system/cpu/cpu*/thermal_throttle".to_string();
        h.glob_matches.insert(
            glob,
            vec!["/sys/devices/system/cpu/cpu0/thermal_throttle".into()],
        );
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        for (name, mut s) in all_fixtures() {
            let before: Vec<String> = s.typed("/linux/maskedPaths").unwrap().unwrap_or_default();
            let mut out = Vec::new();
            apply(&mut s, &cx, &mut Changes::new("paths", &mut out)).unwrap();
            let after: Vec<String> = s.typed("/linux/maskedPaths").unwrap().unwrap();
            assert!(
                before.iter().all(|b| after.contains(b)),
                "{name} lost a masked path"
            );
            for must in [
                "/proc/kcore",
                "/proc/interrupts",
                "/sys/firmware",
                "/sys/devices/virtual/powercap",
                "/sys/devices/system/cpu/cpu0/thermal_throttle",
            ] {
                assert!(after.iter().any(|a| a == must), "{name} lacks {must}");
            }
            let ro: Vec<String> = s.typed("/linux/readonlyPaths").unwrap().unwrap();
            assert!(ro.iter().any(|r| r == "/proc/sysrq-trigger"), "{name}");
            let mut again = Vec::new();
            apply(&mut s, &cx, &mut Changes::new("paths", &mut again)).unwrap();
            assert!(again.is_empty(), "{name} not idempotent");
        }
    }
}
