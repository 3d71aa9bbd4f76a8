//! Which Linux security modules the host runs, read from a filesystem root passed in ("/" on
//! a real host, a fake tree in tests/fixtures/securityfs in tests). The checks follow runc's:
//! AppArmor is on when securityfs has `apparmor/` and the module says `Y`; SELinux when
//! selinuxfs is mounted (it has `enforce`). `<securityfs>/lsm`, where present, must list
//! the module too.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lsm {
    pub apparmor_enabled: bool,
    /// Names of the loaded AppArmor profiles (`<securityfs>/apparmor/profiles`).
    pub apparmor_profiles: Vec<String>,
    pub selinux_enabled: bool,
}

pub fn detect(root: &Path) -> Lsm {
    let sec = root.join("sys/kernel/security");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let active = read(&sec.join("lsm"));
    let listed = |name: &str| active.is_empty() || active.trim().split(',').any(|m| m == name);
    let apparmor_enabled = sec.join("apparmor").is_dir()
        && read(&root.join("sys/module/apparmor/parameters/enabled")).starts_with('Y')
        && listed("apparmor");
    let apparmor_profiles = if apparmor_enabled {
        parse_profiles(&read(&sec.join("apparmor/profiles")))
    } else {
        Vec::new()
    };
    Lsm {
        apparmor_enabled,
        apparmor_profiles,
        selinux_enabled: root.join("sys/fs/selinux/enforce").is_file() && listed("selinux"),
    }
}

/// `<securityfs>/apparmor/profiles` has one `NAME (MODE)` line per loaded profile.
pub fn parse_profiles(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| l.rsplit_once(" (").map(|(n, _)| n.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Lsm {
        detect(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/securityfs")
                .join(name),
        )
    }

    #[test]
    fn detects_each_fake_host() {
        assert_eq!(fixture("none"), Lsm::default());
        let aa = fixture("apparmor");
        assert!(aa.apparmor_enabled && !aa.selinux_enabled);
        assert_eq!(
            aa.apparmor_profiles,
            ["docker-default", "rampart-default", "usr.bin.man"]
        );
        let not_loaded = fixture("apparmor-without-rampart");
        assert!(not_loaded.apparmor_enabled);
        assert!(
            !not_loaded
                .apparmor_profiles
                .iter()
                .any(|p| p == "rampart-default")
        );
        // The module is built in but switched off (apparmor=0 on the kernel command line).
        assert_eq!(fixture("apparmor-disabled"), Lsm::default());
        // securityfs lists the active LSMs and AppArmor is not among them (`lsm=` left it out).
        assert_eq!(fixture("lsm-list-without-apparmor"), Lsm::default());
        let se = fixture("selinux");
        assert!(se.selinux_enabled && !se.apparmor_enabled);
        assert_eq!(detect(Path::new("/nonexistent")), Lsm::default());
    }

    #[test]
    fn profile_names_may_contain_spaces_and_parens() {
        assert_eq!(
            parse_profiles("a (enforce)\nmy (odd) name (complain)\n\nb (kill)\n"),
            ["a", "b", "my (odd) name"]
        );
    }
}
