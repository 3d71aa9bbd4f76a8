//! The Debian package, as an operator meets it: scripts/package builds the .deb from this
//! test's binary, `dpkg -i` installs it into a clean Debian 12 chroot (debootstrap minbase
//! plus the package's dependencies, cached under target/package-chroot; a rootfs made by
//! scripts/mkimages in target/images/rootfs-base, or $RAMPART_PACKAGE_BASE, is copied
//! instead of debootstrapping), postinst loads the binary into the page cache as 2 MiB
//! pages, and the documented first steps work there: `rampart --help`, `rampart version`,
//! `rampart check` catching a typo'd rule id, `man rampart`, bash completion. Needs root,
//! debootstrap, unshare and the Debian mirror (first run only); without them the test says
//! SKIPPED and passes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MIRROR: &str = "http://deb.debian.org/debian";
/// Bump to rebuild the cached chroot.
const BASE_STAMP: &str = "bookworm-minbase runc libseccomp2 man-db bash-completion 1";

fn target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `script` under bash in the chroot at `root`, with /proc mounted in a private mount
/// namespace (nothing to clean up afterwards), bounded by `secs`.
fn in_chroot(root: &Path, script: &str, secs: u32) -> Output {
    Command::new("timeout")
        .arg(secs.to_string())
        .args(["unshare", "--mount", "--fork", "sh", "-c"])
        .arg(r#"mount -t proc proc "$1/proc" && exec chroot "$1" /bin/bash -c "$2""#)
        .args(["sh"])
        .arg(root)
        .arg(script)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A Debian 12 minbase with the package's dependencies and the tools the checks use.
fn base(dir: &Path) -> PathBuf {
    let base = dir.join("base");
    let stamp = base.join(".rampart-base");
    if fs::read_to_string(&stamp).is_ok_and(|s| s == BASE_STAMP) {
        return base;
    }
    let _ = Command::new("rm").arg("-rf").arg(&base).status();
    let seed = std::env::var_os("RAMPART_PACKAGE_BASE")
        .map(PathBuf::from)
        .unwrap_or_else(|| target().join("images/rootfs-base"));
    if seed.join("var/lib/dpkg/status").exists() {
        run(Command::new("cp").arg("-a").arg(&seed).arg(&base));
    } else {
        run(Command::new("timeout")
            .args(["900", "debootstrap", "--variant=minbase", "bookworm"])
            .arg(&base)
            .arg(MIRROR));
    }
    fs::copy("/etc/resolv.conf", base.join("etc/resolv.conf")).unwrap();
    let out = in_chroot(
        &base,
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends runc libseccomp2 man-db bash-completion >/dev/null",
        900,
    );
    assert!(
        out.status.success(),
        "apt-get in the chroot: {}",
        text(&out)
    );
    fs::write(&stamp, BASE_STAMP).unwrap();
    base
}

#[test]
fn the_deb_installs_in_a_clean_debian_12_and_its_first_steps_work() {
    let root_user = unsafe { libc::geteuid() } == 0;
    let missing: Vec<&str> = ["debootstrap", "unshare", "chroot", "dpkg-deb"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !root_user || !missing.is_empty() {
        eprintln!("SKIPPED: needs root and {missing:?}");
        return;
    }
    let dir = target().join("package-chroot");
    fs::create_dir_all(&dir).unwrap();
    let base = base(&dir);

    // The package, built by the script an operator runs.
    let out = run(
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package"))
            .args(["--binary", env!("CARGO_BIN_EXE_rampart"), "--out"])
            .arg(dir.join("deb")),
    );
    let deb = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(deb.exists(), "{deb:?}");

    // A fresh copy of the clean chroot for every run.
    let work = dir.join("work");
    let _ = Command::new("rm").arg("-rf").arg(&work).status();
    run(Command::new("cp").arg("-a").arg(&base).arg(&work));
    fs::copy(&deb, work.join("tmp/rampart.deb")).unwrap();

    let out = in_chroot(&work, "dpkg -i /tmp/rampart.deb", 120);
    assert!(out.status.success(), "dpkg -i: {}", text(&out));
    // postinst loaded the binary into the page cache as 2 MiB pages (where the file system
    // takes them): running the loader again gains nothing.
    let out = in_chroot(
        &work,
        "rampart pagecache --check /usr/bin/rampart && rampart pagecache /usr/bin/rampart",
        60,
    );
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert!(out.status.success() && lines.len() == 2, "{}", text(&out));
    let huge = |l: &str| l.rsplit(", ").next().unwrap().to_string();
    assert!(lines[0].ends_with("as 2 MiB pages"), "{}", lines[0]);
    assert_eq!(huge(lines[0]), huge(lines[1]), "{}", text(&out));
    eprintln!("after dpkg -i: {}", lines[0]);
    let out = in_chroot(&work, "dpkg-query -W -f='${Conffiles}' rampart", 30);
    let conffiles = text(&out);
    assert!(
        conffiles.contains("/etc/rampart/config.toml"),
        "{conffiles}"
    );
    assert!(
        conffiles.contains("/etc/logrotate.d/rampart"),
        "{conffiles}"
    );
    for f in [
        "usr/bin/rampart-baseline",
        "usr/share/rampart/profiles/restricted.toml",
        "usr/share/rampart/seccomp/rampart-default.json",
        "usr/share/rampart/apparmor/rampart-default",
        "usr/lib/systemd/system/rampart-pagecache.service",
    ] {
        assert!(work.join(f).exists(), "{f} not installed");
    }

    // --help: Rampart's commands, then runc's own page.
    let out = in_chroot(&work, "rampart --help", 30);
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    for cmd in [
        "check", "doctor", "explain", "install", "profile", "version",
    ] {
        assert!(help.contains(cmd), "{cmd} missing: {help}");
    }
    assert!(
        help.contains("runc - Open Container Initiative runtime"),
        "{help}"
    );

    let out = in_chroot(&work, "rampart version", 30);
    let v = text(&out);
    assert!(out.status.success(), "{v}");
    assert!(
        v.starts_with(&format!("rampart {}\n", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(
        v.contains("runtime: /usr/sbin/runc (runc version 1.1"),
        "{v}"
    );

    // The shipped config is clean; a typo'd rule id is caught with the nearest one.
    let out = in_chroot(&work, "rampart check", 30);
    assert!(out.status.success(), "{}", text(&out));
    let out = in_chroot(
        &work,
        "printf 'extends = \"restricted\"\\n[policy]\\nwaive = [\"host-netwrok\"]\\n' > /etc/rampart/profiles/mine.toml && rampart check",
        30,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("did you mean \"host-network\"?"),
        "{}",
        text(&out)
    );

    let out = in_chroot(&work, "man -P cat rampart 2>&1", 60);
    let man = text(&out);
    assert!(out.status.success(), "{man}");
    assert!(man.contains("explain") && man.contains("rampart"), "{man}");
    let out = in_chroot(&work, "man -P cat rampart-check 2>&1 | head -n 5", 60);
    assert!(text(&out).contains("rampart-check"), "{}", text(&out));

    // bash-completion loads the file by the command's name, as an interactive shell does.
    let out = in_chroot(
        &work,
        r#". /usr/share/bash-completion/bash_completion; _completion_loader rampart; COMP_WORDS=(rampart ex); COMP_CWORD=1; COMP_LINE="rampart ex"; COMP_POINT=${#COMP_LINE}; _rampart rampart ex rampart; printf '%s\n' "${COMPREPLY[@]}""#,
        30,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "explain",
        "{}",
        text(&out)
    );

    // The boot unit: enabled by the install, gone with a purge (deb-systemd-helper, as
    // debhelper's snippets do it).
    // (A chroot without init-system-helpers enables nothing, as on a host without systemd.)
    let helper = work.join("usr/bin/deb-systemd-helper").exists();
    let wants = work.join("etc/systemd/system/multi-user.target.wants/rampart-pagecache.service");
    assert_eq!(
        wants.symlink_metadata().is_ok(),
        helper,
        "boot unit enabled?"
    );
    let out = in_chroot(&work, "dpkg --purge rampart", 120);
    assert!(out.status.success(), "dpkg --purge: {}", text(&out));
    assert!(wants.symlink_metadata().is_err(), "boot unit left enabled");
    assert!(!work.join("usr/bin/rampart").exists());

    let _ = Command::new("rm").arg("-rf").arg(&work).status();
}
