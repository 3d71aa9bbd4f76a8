//! examples/kubernetes/ is applied as is by operators: every document parses, the kinds are
//! the expected ones, the RuntimeClasses' handlers are the names `rampart install
//! containerd` writes (one per shipped profile), and their node selector is the label the
//! installer sets. YAML is parsed by python3-yaml (the only YAML parser on the test host).

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn docs(file: &str) -> Option<Vec<Value>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/kubernetes")
        .join(file);
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))",
        ])
        .arg(&path)
        .output()
        .ok()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("No module named 'yaml'"),
            "{}: {err}",
            path.display()
        );
        eprintln!("python3-yaml not installed: skipping");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn kinds(d: &[Value]) -> Vec<&str> {
    d.iter().map(|x| x["kind"].as_str().unwrap()).collect()
}

#[test]
fn runtime_classes_match_the_installed_handlers_and_the_node_label() {
    let (Some(rc), Some(ds), Some(job)) = (
        docs("runtimeclass.yaml"),
        docs("daemonset.yaml"),
        docs("cleanup-job.yaml"),
    ) else {
        return;
    };
    let profiles: Vec<String> = ["restricted", "baseline", "isolated"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let handlers: Vec<String> = rampart::admin::install::runtime_names(&profiles)
        .into_iter()
        .map(|r| r.name)
        .collect();
    let classes: Vec<&Value> = rc.iter().filter(|d| d["kind"] == "RuntimeClass").collect();
    let mut named: Vec<String> = classes
        .iter()
        .map(|c| c["handler"].as_str().unwrap().to_string())
        .collect();
    named.sort();
    let mut want = handlers.clone();
    want.sort();
    assert_eq!(
        named, want,
        "one RuntimeClass per shipped profile's handler"
    );
    for c in &classes {
        assert_eq!(c["apiVersion"], "node.k8s.io/v1");
        assert_eq!(c["metadata"]["name"], c["handler"]);
        assert_eq!(
            c["scheduling"]["nodeSelector"]["rampart.dev/installed"], "true",
            "{c}"
        );
    }
    // The example pod uses one of them.
    let pod = rc.iter().find(|d| d["kind"] == "Pod").unwrap();
    assert!(
        handlers.contains(
            &pod["spec"]["runtimeClassName"]
                .as_str()
                .unwrap()
                .to_string()
        )
    );

    assert_eq!(
        kinds(&ds),
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "DaemonSet"
        ]
    );
    let d = ds.iter().find(|d| d["kind"] == "DaemonSet").unwrap();
    let spec = &d["spec"]["template"]["spec"];
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["initContainers"][0]["args"][0], "install");
    assert_eq!(
        spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1],
        "uninstall"
    );
    assert_eq!(spec["volumes"][0]["hostPath"]["path"], "/");
    // The ConfigMap's config.toml is a valid Rampart config.
    let cm = ds.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let toml_text = cm["data"]["config.toml"].as_str().unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("k8s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), toml_text).unwrap();
    rampart::config::Config::load(Some(&dir.join("config.toml"))).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    // The label the RuntimeClasses select is the one the installer sets and removes.
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/install.sh"),
    )
    .unwrap();
    assert!(
        script.contains("rampart.dev/installed=true") && script.contains("rampart.dev/installed-")
    );
    assert!(script.contains("systemctl show -p ActiveState -p MainPID containerd"));
    assert_eq!(kinds(&job), ["Job"]);
    assert_eq!(
        job[0]["spec"]["template"]["spec"]["containers"][0]["args"][0],
        "uninstall"
    );
}
