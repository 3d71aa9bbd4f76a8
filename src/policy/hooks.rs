//! OCI hooks run on the host, as root, outside every namespace: only the admin's allow-list
//! may run (by default Docker's own networking hook).

use super::{Rule, Violation};
use crate::profile::HookAllow;
use serde_json::Value;

fn matches(allow: &HookAllow, path: &str, arg0: Option<&str>) -> bool {
    let pat: Vec<&str> = allow.path.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    pat.len() == got.len()
        && pat
            .iter()
            .zip(&got)
            .all(|(p, g)| *p == *g || (*p == "*" && !g.is_empty() && *g != ".."))
        && allow.arg0.as_deref().is_none_or(|a| Some(a) == arg0)
}

pub const HOOK_NOT_ALLOWED: Rule = Rule {
    id: "hook-not-allowed",
    title: "OCI hook not on the admin's allow-list",
    reference: "runtime-spec hooks (they run on the host as root)",
    check: |spec, cx| {
        let Some(Value::Object(hooks)) = spec.get("/hooks") else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        for (stage, list) in hooks {
            for (i, h) in list
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let path = h.get("path").and_then(Value::as_str).unwrap_or_default();
                let arg0 = h
                    .get("args")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(Value::as_str);
                if !cx
                    .profile
                    .policy
                    .hooks
                    .iter()
                    .any(|a| matches(a, path, arg0))
                {
                    out.push(Violation::new(
                        format!("/hooks/{stage}/{i}"),
                        h.clone(),
                        "hooks run on the host as root",
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

    #[test]
    fn docker_setkey_hook_matches_default_allow_list_only() {
        let a = HookAllow {
            path: "/proc/*/exe".into(),
            arg0: Some("libnetwork-setkey".into()),
        };
        assert!(matches(&a, "/proc/3094/exe", Some("libnetwork-setkey")));
        assert!(!matches(&a, "/proc/3094/exe", Some("sh")));
        assert!(!matches(&a, "/usr/bin/evil", Some("libnetwork-setkey")));
        assert!(!matches(&a, "/proc/1/2/exe", Some("libnetwork-setkey")));
    }
}
