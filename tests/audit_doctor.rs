//! `rampart audit` over the captured specs (tests/fixtures/specs) and a fake runc state
//! directory; `rampart doctor` over fake host trees (tests/fixtures/hosts) and once on this
//! host. Everything runs the built binary.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A captured spec, without its hooks: Docker's libnetwork-setkey hook names a dockerd pid
/// of the capture machine, and Rampart allows it only where that pid is dockerd (see
/// src/policy/hooks.rs; the hook rule has its own tests).
fn spec(name: &str) -> String {
    let src = manifest().join("tests/fixtures/specs").join(name);
    let mut v: Value = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    if v.as_object_mut().unwrap().remove("hooks").is_none() {
        return src.display().to_string();
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("audit-nohooks-{}", std::process::id()))
        .join(name.replace('/', "_"));
    std::fs::create_dir_all(&dir).unwrap();
    // Tests run in parallel and share this path: written whole and renamed into place, so a
    // concurrent reader never sees a half-written file.
    let out = dir.join("config.json");
    static N: AtomicUsize = AtomicUsize::new(0);
    let tmp = dir.join(format!(
        ".config.json.{}",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    std::fs::rename(&tmp, &out).unwrap();
    out.display().to_string()
}

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn tmpdir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "rampart-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `rampart audit --format json ARGS...`: (exit code, document).
fn audit_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["audit", "--format", "json"];
    all.extend(args);
    let o = rampart(&all);
    let doc = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    (o.status.code().unwrap(), doc)
}

/// result of each check of the only target: id -> "pass" | "fail" | "n/a".
fn results(doc: &Value) -> std::collections::BTreeMap<String, String> {
    doc["targets"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn finding<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["targets"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

#[test]
fn docker_default_fails_readonly_rootfs_memory_pids_and_nnp() {
    let (code, doc) = audit_json(&[&spec("docker-20.10/default.json")]);
    assert_eq!(code, 0);
    let r = results(&doc);
    for id in ["CIS-5.13", "CIS-5.11", "CIS-5.29", "CIS-5.26"] {
        assert_eq!(r[id], "fail", "{id}");
        let f = finding(&doc, id);
        assert!(!f["fix"].as_str().unwrap().is_empty());
        assert!(f["evidence"][0]["field"].as_str().unwrap().starts_with('/'));
    }
    for id in ["CIS-5.4", "CIS-5.5", "CIS-5.6", "CIS-5.22", "CIS-5.32"] {
        assert_eq!(r[id], "pass", "{id}");
    }
    assert_eq!(doc["targets"][0]["kind"], "docker");
    // Every decidable CIS check, the PSS controls and every Rampart rule have a result.
    assert_eq!(r.keys().filter(|k| k.starts_with("CIS-")).count(), 21);
    assert!(
        r.keys()
            .any(|k| k == "PSS-restricted-allowPrivilegeEscalation")
    );
    assert!(r.keys().any(|k| k == "RAMPART-engine-socket"));
}

#[test]
fn privileged_fails_the_privileged_checks() {
    let (_, doc) = audit_json(&[&spec("docker-20.10/privileged.json")]);
    let r = results(&doc);
    for id in [
        "CIS-5.5",
        "PSS-baseline-privileged",
        "RAMPART-all-capabilities",
        "CIS-5.22",
        "PSS-baseline-procMount",
    ] {
        assert_eq!(r[id], "fail", "{id}");
    }
    let ev = finding(&doc, "CIS-5.5")["evidence"].as_array().unwrap();
    assert!(ev.iter().any(|e| e["rule"] == "all-capabilities"));
}

#[test]
fn bind_mounting_run_fails_the_sensitive_mount_and_socket_checks() {
    let (_, doc) = audit_json(&[&spec("docker-20.10/dockersock.json")]);
    let r = results(&doc);
    for id in [
        "CIS-5.6",
        "CIS-5.32",
        "PSS-baseline-hostPathVolumes",
        "RAMPART-engine-socket",
    ] {
        assert_eq!(r[id], "fail", "{id}");
        assert_eq!(finding(&doc, id)["evidence"][0]["value"], "/run", "{id}");
    }
    assert_eq!(r["RAMPART-sensitive-mount"], "pass");
}

#[test]
fn the_cri_container_is_judged_as_a_pod_container() {
    let (_, doc) = audit_json(&[&spec("containerd-1.6-cri/container.json")]);
    let t = &doc["targets"][0];
    assert_eq!(t["kind"], "pod-container");
    assert_eq!(t["pod"], "default/e2e-hardened-hostnet-6727");
    assert_eq!(t["container"], "c");
    // Fixes are said in the pod's own terms.
    let r = results(&doc);
    assert_eq!(r["CIS-5.26"], "fail");
    assert!(
        finding(&doc, "CIS-5.26")["fix"]
            .as_str()
            .unwrap()
            .contains("allowPrivilegeEscalation: false")
    );
    assert_eq!(r["PSS-restricted-seccompProfile"], "fail"); // CRI without RuntimeDefault
    // Its namespaces are the sandbox's (/proc/6770/ns/*, not on this host): n/a here...
    for id in [
        "CIS-5.10",
        "CIS-5.16",
        "PSS-baseline-hostNamespaces",
        "RAMPART-host-network",
    ] {
        assert_eq!(r[id], "n/a", "{id}");
        let why = finding(&doc, id)["evidence"][0]["why"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(why.contains("sandbox"), "{why}");
    }
    // ...and the sandbox's spec shows the host-network pod.
    let (_, sandbox) = audit_json(&[&spec("containerd-1.6-cri/sandbox.json")]);
    assert_eq!(sandbox["targets"][0]["kind"], "pod-sandbox");
    assert_eq!(results(&sandbox)["CIS-5.10"], "fail");
    assert_eq!(results(&sandbox)["PSS-baseline-hostNamespaces"], "fail");
}

#[test]
fn fail_on_gates_ci_and_bad_input_exits_2() {
    let default = spec("docker-20.10/default.json");
    let privileged = spec("docker-20.10/privileged.json");
    let code = |args: &[&str]| rampart(args).status.code().unwrap();
    assert_eq!(code(&["audit", &default]), 0);
    assert_eq!(code(&["audit", "--fail-on", "critical", &default]), 0);
    assert_eq!(code(&["audit", "--fail-on", "high", &default]), 1); // PSS baseline NET_RAW
    assert_eq!(code(&["audit", "--fail-on", "low", &default]), 1);
    assert_eq!(code(&["audit", "--fail-on", "critical", &privileged]), 1);
    assert_eq!(
        code(&["audit", "--fail-on", "critical", &default, &privileged]),
        1
    );
    assert_eq!(code(&["audit"]), 2);
    assert_eq!(code(&["audit", "--fail-on", "severe", &default]), 2);
    assert_eq!(code(&["audit", "--format", "xml", &default]), 2);
    let missing = rampart(&["audit", "/nonexistent/config.json", &default]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/config.json"));
    // The readable one is still reported.
    assert!(String::from_utf8_lossy(&missing.stdout).contains("CIS-5.13"));
    let d = tmpdir("bad-spec");
    std::fs::write(d.join("config.json"), br#"{"process": 5}"#).unwrap();
    assert_eq!(code(&["audit", d.to_str().unwrap()]), 2);
}

#[test]
fn table_for_people_without_colour_when_piped() {
    let o = rampart(&["audit", &spec("docker-20.10/default.json")]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains('\x1b'), "colour on a pipe");
    assert!(text.contains("docker container, Rampart profile restricted"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("fail") && l.contains("CIS-5.13"))
    );
    assert!(text.contains("fix: docker run --read-only"));
    assert!(text.contains("pass, 13 fail, 0 n/a"), "{text}");
}

#[test]
fn list_checks_names_the_undecidable_ones_and_why() {
    let text = String::from_utf8(rampart(&["audit", "--list-checks"]).stdout).unwrap();
    for id in [
        "CIS-5.1 ",
        "CIS-5.7 ",
        "CIS-5.23",
        "CIS-5.30",
        "PSS-baseline-hostPorts",
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id}"));
        assert!(line.contains(':'), "{line}");
    }
}

#[test]
fn profile_shows_what_rampart_would_change_to_pass() {
    let (_, doc) = audit_json(&[
        "--profile",
        "restricted",
        &spec("docker-20.10/default.json"),
    ]);
    let w = &doc["targets"][0]["with_profile"];
    assert_eq!(w["outcome"], "hardened");
    for id in [
        "CIS-5.13",
        "CIS-5.11",
        "CIS-5.29",
        "CIS-5.26",
        "PSS-restricted-capabilities",
    ] {
        assert_eq!(results(&doc)[id], "fail");
        assert_eq!(w["results"][id], "pass", "{id}");
    }
    assert_eq!(w["results"]["CIS-5.31"], "fail"); // restricted has no user namespace
    let fields: Vec<&str> = w["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"/root/readonly") && fields.contains(&"/linux/resources/pids/limit"));
    // baseline keeps the rootfs writable; isolated adds a user namespace.
    let (_, doc) = audit_json(&["--profile", "baseline", &spec("docker-20.10/default.json")]);
    assert_eq!(
        doc["targets"][0]["with_profile"]["results"]["CIS-5.13"],
        "fail"
    );
    let (_, doc) = audit_json(&["--profile", "isolated", &spec("docker-20.10/default.json")]);
    assert_eq!(
        doc["targets"][0]["with_profile"]["results"]["CIS-5.31"],
        "pass"
    );
    // A refused spec says so.
    let (_, doc) = audit_json(&[
        "--profile",
        "restricted",
        &spec("docker-20.10/privileged.json"),
    ]);
    assert_eq!(doc["targets"][0]["with_profile"]["outcome"], "refused");
    assert!(
        !doc["targets"][0]["with_profile"]["refusals"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The table shows an AFTER column.
    let o = rampart(&[
        "audit",
        "--profile",
        "restricted",
        &spec("docker-20.10/default.json"),
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("AFTER"));
    assert!(text.contains("[rootfs] /root/readonly: null -> true"));
}

#[test]
fn root_audits_every_container_a_runc_state_dir_knows() {
    let d = tmpdir("runc-root");
    let state = d.join("state");
    for (id, fixture) in [
        ("web", "docker-20.10/default.json"),
        ("priv", "docker-20.10/privileged.json"),
    ] {
        let bundle = d.join("bundles").join(id);
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::copy(spec(fixture), bundle.join("config.json")).unwrap();
        std::fs::create_dir_all(state.join(id)).unwrap();
        // runc's state.json: libcontainer's config (not OCI) with the bundle in its labels.
        let st = serde_json::json!({"id": id, "init_process_pid": 1, "config": {"rootfs": "/x", "labels": [format!("bundle={}", bundle.display())]}});
        std::fs::write(state.join(id).join("state.json"), st.to_string()).unwrap();
    }
    std::fs::write(state.join("not-a-container"), b"").unwrap();
    let (code, doc) = audit_json(&["--fail-on", "critical", "--root", state.to_str().unwrap()]);
    assert_eq!(code, 1);
    let targets = doc["targets"].as_array().unwrap();
    let ids: Vec<&str> = targets
        .iter()
        .map(|t| t["container"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["priv", "web"]);
    assert!(
        targets[0]["target"]
            .as_str()
            .unwrap()
            .ends_with("bundles/priv/config.json")
    );
    // A state.json without the bundle label is an input error.
    std::fs::create_dir_all(state.join("odd")).unwrap();
    std::fs::write(
        state.join("odd/state.json"),
        r#"{"id":"odd","config":{"labels":[]}}"#,
    )
    .unwrap();
    let o = rampart(&["audit", "--root", state.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bundle= label"));
}

#[test]
fn every_captured_spec_audits() {
    let mut stack = vec![manifest().join("tests/fixtures/specs")];
    let mut n = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let (code, doc) = audit_json(&["--profile", "restricted", p.to_str().unwrap()]);
            assert_eq!(code, 0, "{}", p.display());
            let r = results(&doc);
            assert!(
                r.values()
                    .all(|v| ["pass", "fail", "n/a"].contains(&v.as_str()))
            );
            n += 1;
        }
    }
    assert!(n >= 18);
}

/// SARIF 2.1.0: the required structure, always; and, where Python's jsonschema is
/// installed (it is on the project's machines), validation against the OASIS schema
/// (tests/fixtures/sarif, as shipped in the npm package @microsoft/jest-sarif).
#[test]
fn sarif_is_valid_sarif_2_1_0() {
    // Every captured spec, so every rule that fires is in the log.
    let mut args: Vec<String> = ["audit", "--format", "sarif", "--profile", "restricted"]
        .map(String::from)
        .to_vec();
    let mut stack = vec![manifest().join("tests/fixtures/specs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            match e.path() {
                p if p.is_dir() => stack.push(p),
                p => args.push(p.display().to_string()),
            }
        }
    }
    let o = rampart(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains('\x1b'));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rampart");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert!(results.len() > 20);
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            uri.starts_with("file:///") && uri.ends_with(".json"),
            "{uri}"
        );
    }
    for id in [
        "CIS-5.32",
        "CIS-5.5",
        "RAMPART-block-device",
        "PSS-baseline-sysctls",
    ] {
        assert!(results.iter().any(|r| r["ruleId"] == id), "{id}");
    }
    let out = tmpdir("sarif").join("out.sarif");
    std::fs::write(&out, &text).unwrap();
    let schema = manifest().join("tests/fixtures/sarif/sarif-2.1.0-rtm.5.json");
    let check = "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft4Validator.check_schema(schema)\n\
                 jsonschema.Draft4Validator(schema).validate(json.load(open(sys.argv[2])))\n\
                 print('valid')";
    match Command::new("python3")
        .args(["-c", check])
        .arg(&schema)
        .arg(&out)
        .output()
    {
        Ok(v) if String::from_utf8_lossy(&v.stderr).contains("No module named 'jsonschema'") => {
            eprintln!("python3 has no jsonschema: SARIF checked structurally only");
        }
        Ok(v) => assert!(
            v.status.success() && String::from_utf8_lossy(&v.stdout).contains("valid"),
            "SARIF does not validate: {}",
            String::from_utf8_lossy(&v.stderr)
        ),
        Err(e) => eprintln!("no python3 ({e}): SARIF checked structurally only"),
    }
}

// ---- doctor ----

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst);
        } else if e.file_name() != "REMOVE" {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A host tree: tests/fixtures/hosts/base with the state's files over it and its REMOVE
/// list deleted.
fn host_tree(state: &str) -> PathBuf {
    let hosts = manifest().join("tests/fixtures/hosts");
    let root = tmpdir(&format!("host-{state}"));
    copy_tree(&hosts.join("base"), &root);
    if state != "base" {
        copy_tree(&hosts.join(state), &root);
        let remove = std::fs::read_to_string(hosts.join(state).join("REMOVE")).unwrap_or_default();
        for l in remove
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let p = root.join(l);
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
    }
    root
}

/// `rampart doctor --json` on a fake host: (exit code, document).
fn doctor(state: &str, extra: &[&str]) -> (i32, Value) {
    let root = host_tree(state);
    let (runc, cfg) = (root.join("runc"), root.join("etc/rampart/config.toml"));
    let mut args = vec![
        "--rampart-runtime",
        runc.to_str().unwrap(),
        "--rampart-config",
        cfg.to_str().unwrap(),
    ];
    args.extend(extra);
    args.extend(["doctor", "--json", "--host-root", root.to_str().unwrap()]);
    let o = rampart(&args);
    let doc: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{state}: {e}: {}", String::from_utf8_lossy(&o.stdout)));
    assert_eq!(doc["exit"], o.status.code().unwrap(), "{state}");
    (o.status.code().unwrap(), doc)
}

fn status<'a>(doc: &'a Value, id: &str) -> &'a str {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding {id}: {doc}"))["status"]
        .as_str()
        .unwrap()
}

#[test]
fn a_hardened_host_is_all_ok() {
    let (code, doc) = doctor("base", &[]);
    assert_eq!(code, 0);
    for f in doc["findings"].as_array().unwrap() {
        assert_eq!(f["status"], "ok", "{f}");
    }
    assert!(
        doc["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["can_run"] == true)
    );
}

#[test]
fn each_host_state_gets_its_findings_and_exit_code() {
    type Want = &'static [(&'static str, &'static str)];
    let table: &[(&str, i32, Want)] = &[
        (
            "debian12-hybrid",
            0,
            &[
                ("CVE-2024-21626", "ok"), // Debian's changelog lists the backported fix
                ("CVE-2025-31133/52565/52881", "warn"),
                ("CVE-2019-5736", "ok"),
                ("cgroups", "warn"),
                ("capabilities", "warn"),
                ("lsm", "warn"),
                ("io_uring_disabled", "warn"),
                ("docker", "warn"),
                ("containerd", "warn"),
            ],
        ),
        (
            "old-runc",
            0,
            &[
                ("CVE-2024-21626", "fail"),
                ("CVE-2025-31133/52565/52881", "warn"),
            ],
        ),
        (
            "rpm-runc",
            0,
            // No Debian changelog: a distribution build is "cannot tell", not "affected".
            &[("CVE-2024-21626", "warn")],
        ),
        (
            "ancient-runc",
            0,
            &[("CVE-2019-5736", "fail"), ("CVE-2024-21626", "fail")],
        ),
        ("runc-without-seccomp", 1, &[("runc", "fail")]),
        ("no-seccomp", 1, &[("seccomp", "fail")]),
        ("no-pids-controller", 1, &[("cgroups", "fail")]),
        ("no-sys-admin", 1, &[("capabilities", "fail")]),
        ("userns-off", 0, &[("userns", "warn")]),
        (
            "loose-knobs",
            0,
            &[
                ("unprivileged_bpf_disabled", "warn"),
                ("unprivileged_userfaultfd", "warn"),
                ("perf_event_paranoid", "warn"),
                ("io_uring_disabled", "warn"),
            ],
        ),
        ("selinux-permissive", 0, &[("lsm", "warn")]),
        ("apparmor-profile-missing", 0, &[("lsm", "warn")]),
        (
            "unregistered",
            0,
            &[("docker", "warn"), ("containerd", "warn")],
        ),
    ];
    for (state, code, want) in table {
        let (got, doc) = doctor(state, &[]);
        assert_eq!(got, *code, "{state}: {doc:#}");
        for (id, st) in *want {
            assert_eq!(status(&doc, id), *st, "{state} {id}");
        }
        for f in doc["findings"].as_array().unwrap() {
            if f["status"] != "ok" {
                assert!(
                    !f["why"].as_str().unwrap().is_empty()
                        && !f["fix"].as_str().unwrap().is_empty(),
                    "{state}: {f}"
                );
            }
        }
        let default = doc["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["default"] == true)
            .unwrap();
        assert_eq!(default["can_run"], *code == 0, "{state}");
    }
}

#[test]
fn the_exit_code_follows_the_default_profile() {
    // Without user namespaces `isolated` cannot run: that fails the host only when it is
    // the default profile.
    let (code, doc) = doctor("userns-off", &[]);
    assert_eq!(code, 0);
    let isolated = doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "isolated")
        .unwrap();
    assert_eq!(isolated["can_run"], false);
    let (code, _) = doctor("userns-off", &["--rampart-profile", "isolated"]);
    assert_eq!(code, 1);
    // No runc at all.
    let root = host_tree("base");
    let cfg = root.join("etc/rampart/config.toml");
    let o = rampart(&[
        "--rampart-runtime",
        "/nonexistent/runc",
        "--rampart-config",
        cfg.to_str().unwrap(),
        "doctor",
        "--host-root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("fail") && l.contains("settings")),
        "{text}"
    );
    assert!(!text.contains('\x1b'));
    assert_eq!(rampart(&["doctor", "--bogus"]).status.code(), Some(2));
}

#[test]
fn doctor_on_this_host() {
    let o = rampart(&["doctor", "--json"]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let code = o.status.code().unwrap();
    assert_eq!(doc["exit"], code);
    eprintln!("{}", String::from_utf8_lossy(&rampart(&["doctor"]).stdout));
    let default = doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["default"] == true)
        .unwrap();
    let check_ok = status(&doc, "check") == "ok";
    assert_eq!(default["can_run"] == true && check_ok, code == 0);
    for id in [
        "settings",
        "seccomp",
        "cgroups",
        "userns",
        "lsm",
        "perf_event_paranoid",
        "docker",
        "containerd",
        "pagecache",
    ] {
        assert!(["ok", "warn", "fail"].contains(&status(&doc, id)), "{id}");
    }
}

#[test]
fn doctor_fails_when_any_profile_is_broken_not_only_the_default() {
    let root = host_tree("base");
    let profiles = root.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let cfg = root.join("etc/rampart/config.toml");
    std::fs::write(
        &cfg,
        format!(
            "audit_log = \"/tmp/rampart-doctor-tests/audit.log\"\nprofiles_dir = {profiles:?}\n"
        ),
    )
    .unwrap();
    let run = || {
        let o = rampart(&[
            "--rampart-runtime",
            root.join("runc").to_str().unwrap(),
            "--rampart-config",
            cfg.to_str().unwrap(),
            "doctor",
            "--json",
            "--host-root",
            root.to_str().unwrap(),
        ]);
        let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code().unwrap(), doc)
    };
    let (code, doc) = run();
    assert_eq!((code, status(&doc, "check")), (0, "ok"), "{doc}");
    std::fs::write(
        profiles.join("web.toml"),
        "extends = \"baseline\"\n[policy]\nwaive = [\"host-netwrok\"]\n",
    )
    .unwrap();
    let (code, doc) = run();
    assert_eq!((code, status(&doc, "check")), (1, "fail"), "{doc}");
    assert!(doc.to_string().contains("host-network"), "{doc}");
    std::fs::write(profiles.join("web.toml"), "extends = \"nosuch\"\n").unwrap();
    let (code, doc) = run();
    assert_eq!((code, status(&doc, "check")), (1, "fail"), "{doc}");
}

/// What `isolated` does with each engine's data root: Docker's vfs and containerd's overlayfs
/// snapshotter (found by the directories they leave), on the filesystem of the test's
/// temporary directory: an overlay rootfs is a plain clone (image files nobody's), the rest
/// follows whether that filesystem can be id-mapped on the fake host's kernel (6.1); on a
/// kernel without id-mapped mounts Docker's is a warning with the fix (containerd's binds
/// are never id-mapped).
#[test]
fn doctor_predicts_what_isolated_stages_per_data_root() {
    let (_, doc) = doctor("isolated-storage", &[]);
    let storage: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "isolated-storage")
        .collect();
    assert_eq!(storage.len(), 2, "{doc:#}");
    let docker = storage[0]["summary"].as_str().unwrap();
    let containerd = storage[1]["summary"].as_str().unwrap();
    assert!(
        docker.starts_with("Docker /var/lib/docker (vfs on "),
        "{docker}"
    );
    assert!(
        containerd.starts_with("containerd /var/lib/containerd (overlayfs on ")
            && containerd.contains("the rootfs is a plain clone (an overlay cannot be id-mapped"),
        "{containerd}"
    );
    assert!(
        containerd.contains("keep their host owners"),
        "{containerd}"
    );
    for f in &storage[..1] {
        if f["status"] == "ok" {
            assert!(
                f["summary"]
                    .as_str()
                    .unwrap()
                    .contains("are id-mapped (root's inside)")
            );
        } else {
            assert!(
                f["fix"].as_str().unwrap().contains("ext4, xfs or btrfs"),
                "{f}"
            );
        }
    }
    // The same host on a 5.4 kernel: nothing can be id-mapped.
    let root = host_tree("isolated-storage");
    std::fs::write(root.join("proc/sys/kernel/osrelease"), "5.4.0-1\n").unwrap();
    let o = rampart(&[
        "--rampart-runtime",
        root.join("runc").to_str().unwrap(),
        "--rampart-config",
        root.join("etc/rampart/config.toml").to_str().unwrap(),
        "doctor",
        "--json",
        "--host-root",
        root.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let warned = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "isolated-storage" && f["status"] == "warn")
        .count();
    assert_eq!(warned, 1, "Docker's volumes: {doc:#}");
}
