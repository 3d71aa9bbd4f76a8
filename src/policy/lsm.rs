//! AppArmor "unconfined" asked for by the request.

use super::{Rule, Violation};
use serde_json::Value;

pub const APPARMOR_UNCONFINED: Rule = Rule {
    id: "apparmor-unconfined",
    fix: "drop --security-opt apparmor=unconfined",
    title: "AppArmor unconfined requested",
    reference: "CIS Docker 5.2; PSS baseline appArmorProfile",
    check: |spec, _| {
        Ok(
            match spec.get("/process/apparmorProfile").and_then(Value::as_str) {
                Some("unconfined") => vec![Violation::new(
                    "/process/apparmorProfile",
                    "unconfined".into(),
                    "the request turns AppArmor confinement off",
                )],
                _ => vec![],
            },
        )
    },
};
