//! Spec hardening: any bytes as config.json, under restricted and baseline. Either Rampart
//! refuses (parse error, hardening error or a policy refusal) or the hardened spec is never
//! weaker than the request: capability sets only shrink, inheritable and ambient are empty,
//! no-new-privileges is on, masked and read-only paths are kept, the limits are set, seccomp is
//! default-deny; and hardening it again changes nothing but seccomp rule order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart::host::HostFacts;
use rampart::policy::{self, PolicyContext};
use rampart::profile::{Profile, ProfileSource};
use rampart::spec::Spec;
use rampart::steps::{self, Context};
use serde_json::Value;
use std::sync::OnceLock;

fn profiles() -> &'static [Profile] {
    static P: OnceLock<Vec<Profile>> = OnceLock::new();
    P.get_or_init(|| {
        ["restricted", "baseline"]
            .iter()
            .map(|n| ProfileSource::default().load(n).unwrap())
            .collect()
    })
}

fn strs(v: &Value, ptr: &str) -> Vec<String> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn sorted_rules(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(r) = v
        .pointer_mut("/linux/seccomp/syscalls")
        .and_then(Value::as_array_mut)
    {
        for x in r.iter_mut() {
            if x["action"] == "SCMP_ACT_LOG" {
                x["action"] = "SCMP_ACT_ALLOW".into();
            }
        }
        r.sort_by_key(|x| x.to_string());
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Spec::from_slice(data) else {
        return;
    };
    let input = request.raw().clone();
    let host = HostFacts::for_tests();
    for p in profiles() {
        let refused = match policy::evaluate(
            &request,
            &PolicyContext {
                profile: p,
                host: &host,
            },
            &[],
        ) {
            Ok(v) => !v.is_empty(),
            Err(_) => continue,
        };
        let cx = Context {
            profile: p,
            host: &host,
            container_caps: None, container_apparmor: None,
        };
        let mut spec = request.clone();
        if steps::harden(&mut spec, &cx, steps::CREATE).is_err() {
            continue;
        }
        let out = spec.raw().clone();
        if input.pointer("/process").is_some() {
            for set in [
                "bounding",
                "effective",
                "permitted",
                "inheritable",
                "ambient",
            ] {
                let ptr = format!("/process/capabilities/{set}");
                let (i, o) = (strs(&input, &ptr), strs(&out, &ptr));
                assert!(
                    o.iter()
                        .all(|c| i.contains(c) && p.capabilities.allow.contains(c)),
                    "{set}: {o:?}"
                );
                if set == "inheritable" || set == "ambient" {
                    assert!(o.is_empty());
                }
            }
            assert_eq!(
                out.pointer("/process/noNewPrivileges"),
                Some(&Value::Bool(true))
            );
        }
        for ptr in ["/linux/maskedPaths", "/linux/readonlyPaths"] {
            let o = strs(&out, ptr);
            assert!(
                strs(&input, ptr).iter().all(|x| o.contains(x)),
                "{ptr} lost an entry"
            );
        }
        for (ptr, want) in [
            ("/linux/resources/pids/limit", p.resources.pids),
            ("/linux/resources/memory/limit", p.resources.memory_bytes),
        ] {
            if let Some(want) = want {
                let o = out.pointer(ptr).and_then(Value::as_i64).unwrap_or(0);
                assert!(o > 0 && o <= want, "{ptr} = {o}");
                if let Some(i) = input
                    .pointer(ptr)
                    .and_then(Value::as_i64)
                    .filter(|i| *i > 0)
                {
                    assert!(o <= i, "{ptr} raised");
                }
            }
        }
        match out
            .pointer("/linux/seccomp/defaultAction")
            .and_then(Value::as_str)
        {
            Some(d) => assert!(
                d != "SCMP_ACT_ALLOW" && d != "SCMP_ACT_LOG",
                "seccomp default {d}"
            ),
            None => assert!(refused, "no seccomp and not refused"),
        }
        let mut again = spec.clone();
        steps::harden(&mut again, &cx, steps::CREATE).expect("a hardened spec hardens again");
        assert_eq!(
            sorted_rules(again.raw()),
            sorted_rules(spec.raw()),
            "not a fixed point"
        );
    }
});
