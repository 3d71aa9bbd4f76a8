//! Privileged-equivalent requests: each of these alone is a way out of the container.

use super::{PolicyContext, Rule, Violation};
use crate::spec::Spec;
use anyhow::Result;
use serde_json::{Value, json};

/// The 38 capabilities every kernel since 5.8 has (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE less
/// the newest three): asking for all of them is what `--privileged` and `--cap-add ALL` do.
pub(crate) fn all_caps_requested(spec: &Spec) -> Result<Option<Vec<String>>> {
    let b: Vec<String> = spec
        .typed("/process/capabilities/bounding")?
        .unwrap_or_default();
    // Distinct known capabilities, as bits of a mask (no hashing, no allocation per name).
    let held = b
        .iter()
        .filter_map(|n| n.parse::<caps::Capability>().ok())
        .fold(0u64, |m, c| m | c.bitmask())
        .count_ones();
    Ok((held >= 38).then_some(b))
}

pub const ALL_CAPABILITIES: Rule = Rule {
    id: "all-capabilities",
    fix: "drop --privileged / --cap-add ALL and add only the capabilities you need",
    title: "every capability requested (privileged)",
    reference: "CIS Docker 5.4, 5.5; PSS baseline privileged, capabilities",
    check: |spec, _| {
        Ok(all_caps_requested(spec)?
            .map(|b| vec![Violation::new("/process/capabilities/bounding", json!(format!("{} capabilities", b.len())), "a container with every capability can load modules, mount filesystems and reach the host")])
            .unwrap_or_default())
    },
};

pub const MASKED_PATHS_EMPTIED: Rule = Rule {
    id: "masked-paths-emptied",
    fix: "drop --privileged / --security-opt systempaths=unconfined (Kubernetes: procMount Unmasked)",
    title: "masked /proc and /sys paths removed",
    reference: "PSS baseline procMount; CIS Docker 5.5",
    check: |spec, _| {
        // Docker's --privileged drops the key; CRI's procMount Unmasked sends an empty list.
        let masked = spec.get("/linux/maskedPaths");
        let emptied = match masked {
            Some(Value::Array(a)) => a.is_empty(),
            None => spec.get("/linux").is_some() && all_caps_requested(spec)?.is_some(),
            _ => false,
        };
        Ok(if emptied {
            vec![Violation::new(
                "/linux/maskedPaths",
                masked.cloned().unwrap_or(Value::Null),
                "kcore, keys, timer_list and firmware would be readable from the container",
            )]
        } else {
            vec![]
        })
    },
};

pub const DEVICE_ALLOW_ALL: Rule = Rule {
    id: "device-allow-all",
    fix: "drop --privileged / --device-cgroup-rule 'a *:* rwm' and pass single devices with --device",
    title: "device cgroup allows every device",
    reference: "CIS Docker 5.18; PSS baseline privileged",
    check: |spec, _| {
        let rules = spec.list("/linux/resources/devices")?;
        Ok(rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r["allow"] == json!(true)
                    && matches!(r.get("type").and_then(Value::as_str), None | Some("a"))
                    && r.get("major").is_none_or(Value::is_null)
            })
            .map(|(i, r)| {
                Violation::new(
                    format!("/linux/resources/devices/{i}"),
                    r.clone(),
                    "the container could open every host device, disks included",
                )
            })
            .collect())
    },
};

fn writable_mount(spec: &Spec, types: &[&str], why: &str) -> Vec<Violation> {
    let Some(Value::Array(mounts)) = spec.get("/mounts") else {
        return vec![];
    };
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| types.contains(&m.get("type").and_then(Value::as_str).unwrap_or_default()))
        .filter(|(_, m)| {
            !m.get("options")
                .and_then(Value::as_array)
                .is_some_and(|o| o.iter().any(|x| x == "ro"))
        })
        .map(|(i, m)| Violation::new(format!("/mounts/{i}"), m.clone(), why))
        .collect()
}

pub const WRITABLE_SYSFS: Rule = Rule {
    id: "writable-sysfs",
    fix: "drop --privileged / the read-write /sys mount",
    title: "/sys mounted read-write",
    reference: "PSS baseline privileged",
    check: |spec, _| {
        Ok(writable_mount(
            spec,
            &["sysfs"],
            "a writable sysfs lets the container change host kernel and device settings",
        ))
    },
};

pub const WRITABLE_CGROUPFS: Rule = Rule {
    id: "writable-cgroupfs",
    fix: "drop --privileged / the read-write cgroup mount (--cgroupns host does not need it)",
    title: "cgroup filesystem mounted read-write",
    reference: "PSS baseline privileged",
    check: |spec, _| {
        Ok(writable_mount(
            spec,
            &["cgroup", "cgroup2"],
            "a writable cgroupfs allows the release_agent escape and lifting the container's own limits",
        ))
    },
};

pub const BLOCK_DEVICE: Rule = Rule {
    id: "block-device",
    fix: "drop --privileged / the --device for a disk and give the container a volume instead",
    title: "host block device exposed",
    reference: "CIS Docker 5.18",
    check: |spec, _: &PolicyContext| {
        let mut out = Vec::new();
        let devices = spec.list("/linux/devices")?;
        for (i, d) in devices.iter().enumerate() {
            if d.get("type").and_then(Value::as_str) == Some("b") {
                out.push(Violation::new(
                    format!("/linux/devices/{i}"),
                    d.clone(),
                    "a block device gives raw access to a host disk",
                ));
            }
        }
        let rules = spec.list("/linux/resources/devices")?;
        for (i, r) in rules.iter().enumerate() {
            if r["allow"] == json!(true) && r.get("type").and_then(Value::as_str) == Some("b") {
                out.push(Violation::new(
                    format!("/linux/resources/devices/{i}"),
                    r.clone(),
                    "the device cgroup lets the container open a host block device",
                ));
            }
        }
        Ok(out)
    },
};
