//! Step: `process.noNewPrivileges: true`, so setuid binaries and file capabilities cannot
//! raise privileges (CIS Docker 5.26, PSS allowPrivilegeEscalation=false).

use super::Context;
use crate::change::Changes;
use crate::spec::Spec;
use anyhow::Result;
use serde_json::Value;

pub fn apply(spec: &mut Spec, cx: &Context, ch: &mut Changes) -> Result<()> {
    if cx.profile.process.no_new_privileges && spec.get("/process").is_some() {
        ch.set(
            spec,
            "/process/noNewPrivileges",
            Value::Bool(true),
            format!(
                "profile {} requires no-new-privileges: setuid binaries cannot raise privileges",
                cx.profile.name
            ),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testutil::*;

    #[test]
    fn sets_nnp_on_docker_default_and_keeps_it_on_nnp_spec() {
        let (p, h) = (profile("restricted"), facts());
        let cx = Context {
            profile: &p,
            host: &h,
            container_caps: None,
            container_apparmor: None,
        };
        for (fixture_name, expect_change) in [
            ("docker-20.10/default.json", true),
            ("docker-20.10/nnp-limits.json", false),
        ] {
            let mut s = fixture(fixture_name);
            let mut out = Vec::new();
            apply(
                &mut s,
                &cx,
                &mut Changes::new("no_new_privileges", &mut out),
            )
            .unwrap();
            assert_eq!(s.get("/process/noNewPrivileges"), Some(&Value::Bool(true)));
            assert_eq!(!out.is_empty(), expect_change, "{fixture_name}");
        }
    }
}
