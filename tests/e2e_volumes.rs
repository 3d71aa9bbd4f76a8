//! Volumes under the restricted profile's tmpfs (/tmp, /run), through Rampart and real runc,
//! looked at from inside the container: a requested mount below a profile tmpfs is never
//! hidden by it (also when reached through the image's /var/run -> /run link), writes into it
//! reach the host, and the image's own content under /run survives the tmpfs (tmpcopyup).
mod common;

use common::{Bundle, Runtime, docker_like_spec, expect_success, rootfs, run_container};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e")
}

/// This binary's own directory (config, audit log, rootfs, volumes); the shared rootfs stays
/// as it is.
fn own_dir() -> PathBuf {
    e2e_dir().join(format!("volumes-{}", std::process::id()))
}

/// A copy of the shared rootfs shaped like a Debian image running PostgreSQL: /var/run is a
/// link to /run, and /run/postgresql belongs to postgres (uid 70) with mode 2775 and holds a
/// file of its own.
fn image() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        remove_stale_dirs();
        let dir = own_dir().join("rootfs");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(own_dir()).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "cp -a rootfs");
        let pg = dir.join("run/postgresql");
        fs::create_dir_all(&pg).unwrap();
        fs::write(pg.join("image-file"), "from the image\n").unwrap();
        std::os::unix::fs::chown(&pg, Some(70), Some(70)).unwrap();
        std::os::unix::fs::chown(pg.join("image-file"), Some(70), Some(71)).unwrap();
        fs::set_permissions(&pg, fs::Permissions::from_mode(0o2775)).unwrap();
        fs::set_permissions(pg.join("image-file"), fs::Permissions::from_mode(0o640)).unwrap();
        let _ = fs::remove_file(dir.join("var/run"));
        symlink("/run", dir.join("var/run")).unwrap();
        dir
    })
    .clone()
}

/// The directories of earlier runs of this binary that are no longer running.
fn remove_stale_dirs() {
    for e in fs::read_dir(e2e_dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("volumes-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// A copy of [`image`] whose author made `dir` (tmp or run) a symbolic link to `target`,
/// hoping the profile's writable tmpfs (with the image's files copied in) lands there.
fn hostile_image(dir: &str, target: &str) -> PathBuf {
    let root = image_copy(&format!("hostile-{dir}"));
    fs::remove_dir_all(root.join(dir)).unwrap();
    symlink(target, root.join(dir)).unwrap();
    root
}

/// A fresh copy of [`image`] named `name`.
fn image_copy(name: &str) -> PathBuf {
    let root = own_dir().join(name);
    let _ = fs::remove_dir_all(&root);
    let st = Command::new("cp")
        .arg("-a")
        .arg(image())
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a rootfs");
    root
}

fn config_file() -> PathBuf {
    static CFG: OnceLock<PathBuf> = OnceLock::new();
    CFG.get_or_init(|| {
        let dir = own_dir();
        fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("rampart.toml");
        let text = format!(
            "runtime = {:?}\naudit_log = {:?}\n",
            common::runc_path(),
            dir.join("audit.log"),
        );
        fs::write(&cfg, text).unwrap();
        cfg
    })
    .clone()
}

fn restricted() -> Runtime {
    Runtime::Rampart {
        args: vec![
            format!("--rampart-config={}", config_file().display()),
            "--rampart-profile".into(),
            "restricted".into(),
        ],
    }
}

/// A host directory for a volume, with a file `token` in it.
fn volume(name: &str) -> PathBuf {
    let dir = own_dir().join("volumes").join(format!(
        "{name}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("token"), format!("{name}-secret\n")).unwrap();
    dir
}

/// Docker's spec for `sh -c script` in the image, with `binds` (host dir, destination) added
/// after its own mounts the way `-v` adds them.
fn spec(script: &str, binds: &[(&Path, &str)]) -> Value {
    let mut spec = docker_like_spec(&image(), &["sh", "-c", script]);
    let mounts = spec["mounts"].as_array_mut().unwrap();
    for (src, dest) in binds {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src,
            "options": ["rbind", "rprivate"]}));
    }
    spec
}

/// Runs `script` under the restricted profile; stdout, and the config.json runc was given.
fn run(script: &str, binds: &[(&Path, &str)]) -> (String, Value) {
    let bundle = Bundle::new(&spec(script, binds));
    let out = expect_success(&run_container(restricted(), &bundle));
    (out, bundle.config())
}

fn destinations(config: &Value) -> Vec<String> {
    config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn secrets_mounted_below_run_are_visible() {
    if !common::require_root_tools() {
        return;
    }
    let v = volume("secrets");
    let (out, config) = run(
        "cat /run/secrets/token; grep ' /run ' /proc/mounts | cut -d' ' -f3",
        &[(&v, "/run/secrets")],
    );
    assert_eq!(
        out,
        "secrets-secret\ntmpfs\n",
        "{:?}",
        destinations(&config)
    );
    let d = destinations(&config);
    let pos = |x: &str| d.iter().position(|y| y == x).unwrap();
    assert!(pos("/run") < pos("/run/secrets"), "{d:?}");
}

#[test]
fn writes_into_a_volume_below_tmp_reach_the_host() {
    if !common::require_root_tools() {
        return;
    }
    let v = volume("cache");
    let (out, _) = run(
        "echo written-inside > /tmp/cache/out && cat /tmp/cache/token",
        &[(&v, "/tmp/cache")],
    );
    assert_eq!(out, "cache-secret\n");
    assert_eq!(
        fs::read_to_string(v.join("out")).unwrap(),
        "written-inside\n",
        "the write is on the host after the container is gone"
    );
}

#[test]
fn a_volume_through_the_var_run_link_is_not_hidden() {
    if !common::require_root_tools() {
        return;
    }
    let v = volume("varrun");
    let (out, config) = run(
        "cat /var/run/secrets/token /run/secrets/token",
        &[(&v, "/var/run/secrets")],
    );
    assert_eq!(
        out,
        "varrun-secret\nvarrun-secret\n",
        "{:?}",
        destinations(&config)
    );
}

#[test]
fn a_volume_at_tmp_itself_replaces_the_tmpfs() {
    if !common::require_root_tools() {
        return;
    }
    let v = volume("tmp");
    let (out, config) = run("cat /tmp/token; echo x > /tmp/new", &[(&v, "/tmp")]);
    assert_eq!(out, "tmp-secret\n");
    assert!(v.join("new").exists());
    let d = destinations(&config);
    assert_eq!(d.iter().filter(|x| *x == "/tmp").count(), 1, "{d:?}");
}

#[test]
fn the_image_content_under_run_survives_the_tmpfs() {
    if !common::require_root_tools() {
        return;
    }
    let (out, config) = run(
        "stat -c '%u %g %a %n' /run /run/postgresql /run/postgresql/image-file",
        &[],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0 0 755 /run", "{out}");
    // Owners survive, and the file's mode. The directory's mode is runc 1.1.5's copy of it
    // (os.Mkdir under runc's umask, and mkdir(2) drops the setgid bit: 2775 becomes 755
    // under umask 022), but it stays its owner's to write in.
    let pg: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(pg[..2], ["70", "70"], "{out}");
    let mode = u32::from_str_radix(pg[2], 8).unwrap();
    assert_eq!(mode & 0o700, 0o700, "{out}");
    assert_eq!(lines[2], "70 71 640 /run/postgresql/image-file", "{out}");
    let run_opts = config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/run")
        .unwrap()["options"]
        .clone();
    assert!(
        run_opts.as_array().unwrap().contains(&json!("tmpcopyup")),
        "{run_opts}"
    );

    // postgres itself reads its file and writes there (root without capabilities may not).
    let mut s = spec(
        "cat /run/postgresql/image-file && touch /run/postgresql/.s.PGSQL.5432.lock && echo ok",
        &[],
    );
    s["process"]["user"] = json!({"uid": 70, "gid": 70});
    let bundle = Bundle::new(&s);
    assert_eq!(
        expect_success(&run_container(restricted(), &bundle)),
        "from the image\nok\n"
    );
}

#[test]
fn the_rootfs_stays_read_only_with_writable_tmp_and_run() {
    if !common::require_root_tools() {
        return;
    }
    let v = volume("ro");
    let (out, _) = run(
        "touch /etc/x 2>/dev/null && echo etc-writable; \
         touch /tmp/x /run/x /var/run/y && echo tmp-run-writable; \
         stat -c '%a' /tmp /run; \
         grep -E ' / ' /proc/mounts | grep -c '[ ,]ro[ ,]'",
        &[(&v, "/run/secrets")],
    );
    assert_eq!(out, "tmp-run-writable\n1777\n755\n1\n");
}

#[test]
fn an_image_cannot_redirect_the_writable_tmpfs_onto_its_root_or_etc() {
    if !common::require_root_tools() {
        return;
    }
    let script = "for f in /x /etc/x /etc/passwd /bin/x; do touch $f 2>/dev/null && echo writable $f; done; \
        grep -E ' / | /etc ' /proc/mounts | cut -d' ' -f2,3; echo done";
    for (dir, target) in [("run", "../../../etc"), ("tmp", "/")] {
        let rootfs = hostile_image(dir, target);
        let bundle = Bundle::new(&docker_like_spec(&rootfs, &["sh", "-c", script]));
        let out = expect_success(&run_container(restricted(), &bundle));
        assert!(!out.contains("writable"), "/{dir} -> {target}: {out}");
        assert!(!out.contains("tmpfs"), "/{dir} -> {target}: {out}");
        assert!(out.ends_with("done\n"), "{out}");
        let log = fs::read_to_string(own_dir().join("audit.log")).unwrap_or_default();
        assert!(
            log.contains(&format!("no tmpfs at /{dir}: in the image it leads to ")),
            "{log}"
        );
    }
}

#[test]
fn an_image_with_more_in_tmp_than_the_tmpfs_holds_still_starts() {
    if !common::require_root_tools() {
        return;
    }
    // Build leftovers: 80 MiB (sparse) in the image's /tmp, more than size=65536k.
    let root = image_copy("big-tmp");
    fs::File::create(root.join("tmp/leftover"))
        .unwrap()
        .set_len(80 << 20)
        .unwrap();
    let script = "ls /tmp; echo x > /tmp/new && echo ok";
    let bundle = Bundle::new(&docker_like_spec(&root, &["sh", "-c", script]));
    let out = expect_success(&run_container(restricted(), &bundle));
    assert_eq!(out, "ok\n", "an empty, writable /tmp");
    let tmp = bundle.config()["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/tmp")
        .unwrap()["options"]
        .clone();
    assert!(
        !tmp.as_array().unwrap().contains(&json!("tmpcopyup")),
        "{tmp}"
    );
}
