//! Character devices: only those on the profile's allow-list (`[policy] devices`), by
//! major:minor, whatever the path. A char device can be as dangerous as a block one:
//! /dev/sg* (SCSI generic) and /dev/ng* (NVMe generic) give raw access to disks, /dev/mem
//! and /dev/kmsg to the kernel. Block devices and allow-all rules have rules of their own
//! (block-device, device-allow-all).

use super::{Rule, Violation};
use serde_json::{Value, json};

/// `c 1:3` / `c 136:*` / `c *:*` (with `*` for any number).
#[derive(Debug, PartialEq)]
pub struct Allowed {
    kind: char,
    major: Option<i64>,
    minor: Option<i64>,
}

pub fn parse(entry: &str) -> anyhow::Result<Allowed> {
    let bad =
        || anyhow::anyhow!("device {entry:?} is not of the form \"c MAJOR:MINOR\" (a number or *)");
    let (kind, nums) = entry.split_once(' ').ok_or_else(bad)?;
    let kind = match kind {
        "c" | "u" => 'c',
        _ => return Err(bad()),
    };
    let (ma, mi) = nums.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| match s {
        "*" => Ok(None),
        n => n.parse::<i64>().map(Some).map_err(|_| bad()),
    };
    Ok(Allowed {
        kind,
        major: num(ma)?,
        minor: num(mi)?,
    })
}

fn covers(a: &Allowed, major: Option<i64>, minor: Option<i64>) -> bool {
    let one = |allow: Option<i64>, got: Option<i64>| match (allow, got) {
        (None, _) => true,
        (Some(a), Some(g)) => a == g,
        (Some(_), None) => false,
    };
    a.kind == 'c' && one(a.major, major) && one(a.minor, minor)
}

fn allowed(list: &[String], major: Option<i64>, minor: Option<i64>) -> bool {
    list.iter()
        .filter_map(|e| parse(e).ok())
        .any(|a| covers(&a, major, minor))
}

/// A device-cgroup number: absent, null and -1 all mean "any".
fn number(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64).filter(|n| *n >= 0)
}

pub const DEVICE_NOT_ALLOWED: Rule = Rule {
    id: "device-not-allowed",
    fix: "drop --privileged / the --device for this device (pass only devices the profile allows)",
    title: "character device not on the profile's allow-list",
    reference: "CIS Docker 5.18; runtime-spec linux.devices",
    check: |spec, cx| {
        let list = &cx.profile.policy.devices;
        let mut out = Vec::new();
        let why = |m: Option<i64>, n: Option<i64>| {
            let s = |x: Option<i64>| x.map_or("*".to_string(), |x| x.to_string());
            format!(
                "char device {}:{} is not on the profile's allow-list; add \"c {}:{}\" to devices under [policy] to allow it",
                s(m),
                s(n),
                s(m),
                s(n)
            )
        };
        if let Some(Value::Array(devs)) = spec.get("/linux/devices") {
            for (i, d) in devs.iter().enumerate() {
                let t = d.get("type").and_then(Value::as_str).unwrap_or_default();
                if !matches!(t, "c" | "u") {
                    continue; // b: block-device; p: a FIFO, no device.
                }
                let (m, n) = (number(d.get("major")), number(d.get("minor")));
                if !allowed(list, m, n) {
                    out.push(Violation::new(
                        format!("/linux/devices/{i}"),
                        d.clone(),
                        why(m, n),
                    ));
                }
            }
        }
        if let Some(Value::Array(rules)) = spec.get("/linux/resources/devices") {
            for (i, r) in rules.iter().enumerate() {
                if r.get("allow") != Some(&json!(true)) {
                    continue;
                }
                let t = r.get("type").and_then(Value::as_str).unwrap_or("a");
                let (m, n) = (number(r.get("major")), number(r.get("minor")));
                // mknod alone opens nothing (and needs CAP_MKNOD): Docker's `c *:* m`.
                let access = r.get("access").and_then(Value::as_str).unwrap_or("rwm");
                if access == "m" || t == "b" || (t == "a" && m.is_none()) {
                    continue;
                }
                if t == "a" || !allowed(list, m, n) {
                    out.push(Violation::new(
                        format!("/linux/resources/devices/{i}"),
                        r.clone(),
                        why(m, n),
                    ));
                }
            }
        }
        Ok(out)
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::{facts, fixture, profile};

    #[test]
    fn parses_entries() {
        assert_eq!(
            parse("c 136:*").unwrap(),
            Allowed {
                kind: 'c',
                major: Some(136),
                minor: None
            }
        );
        assert!(parse("b 8:0").is_err());
        assert!(parse("c 1").is_err());
        assert!(parse("c x:1").is_err());
    }

    #[test]
    fn raw_disk_char_devices_are_refused_defaults_pass() {
        let p = profile("restricted");
        let h = facts();
        let cx = super::super::PolicyContext {
            profile: &p,
            host: &h,
        };
        let n = |path: &str, v: Value| {
            let mut s = fixture("docker-20.10/default.json");
            s.set(path, v).unwrap();
            (DEVICE_NOT_ALLOWED.check)(&s, &cx).unwrap().len()
        };
        assert_eq!(
            n("/linux/devices", json!([])),
            0,
            "Docker's default cgroup rules pass"
        );
        let sg = json!([{"type": "c", "path": "/dev/sg0", "major": 21, "minor": 0}]);
        assert_eq!(n("/linux/devices", sg), 1);
        let renamed = json!([{"type": "c", "path": "/dev/null2", "major": 1, "minor": 3}]);
        assert_eq!(n("/linux/devices", renamed), 0, "by number, not path");
        let rule = json!([{"allow": true, "type": "c", "major": 21, "minor": 0, "access": "rw"}]);
        assert_eq!(n("/linux/resources/devices", rule), 1);
        let any_char = json!([{"allow": true, "type": "c", "access": "rwm"}]);
        assert_eq!(n("/linux/resources/devices", any_char), 1);
        let mknod = json!([{"allow": true, "type": "c", "access": "m"}]);
        assert_eq!(n("/linux/resources/devices", mknod), 0);
    }
}
