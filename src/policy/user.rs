//! Root without a user namespace: allowed by default (with no capabilities and
//! no-new-privileges it holds little); refused where the profile says so, unless the
//! profile's own `[userns]` maps root away (enabled, and refusing where it cannot).

use super::{Rule, Violation};
use crate::profile::RootUser;
use serde_json::{Value, json};

pub const ROOT_USER: Rule = Rule {
    id: "root-user",
    fix: "run as a non-root user (--user 1000; Kubernetes: runAsUser)",
    title: "runs as root without a user namespace",
    reference: "PSS restricted runAsNonRoot; CIS Docker 5.31",
    check: |spec, cx| {
        if cx.profile.policy.root == RootUser::Allow || spec.get("/process").is_none() {
            return Ok(vec![]);
        }
        let uid = spec
            .get("/process/user/uid")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let namespaces = spec.list("/linux/namespaces")?;
        // The profile's [userns] adds one, or refuses the container where it cannot.
        let added = cx.profile.userns.enabled
            && cx.profile.userns.on_unsupported == crate::profile::OnUnsupported::Refuse;
        let userns = added || namespaces.iter().any(|n| n["type"] == "user");
        Ok(if uid == 0 && !userns {
            vec![Violation::new(
                "/process/user/uid",
                json!(0),
                "uid 0 in the container is uid 0 on the host (a profile with [userns] enabled = true maps it to an unprivileged id)",
            )]
        } else {
            vec![]
        })
    },
};
