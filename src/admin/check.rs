//! `rampart check [--config PATH]`: validates the config file and every profile Rampart can
//! see (built-ins and the profiles directory) before they take containers down. Errors:
//! a config or profile that does not load (unknown keys named with their file), waived
//! rule ids that name no rule, annotation values naming no profile or rule, a default
//! profile that does not exist, `extends` cycles. Each unknown name gets the nearest known
//! one. Exit status 1 on any error. `install` and `doctor` run the same checks.

use crate::argv::Invocation;
use crate::config::{self, Config, Selects};
use crate::host::Host;
use crate::profile::ProfileSource;
use clap::{CommandFactory, Parser};
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "rampart check",
    about = "Check config.toml and every profile: unknown keys, rule ids, profile names, extends cycles"
)]
struct Args {
    /// The config file [default: --rampart-config, else /etc/rampart/config.toml].
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Only print errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn command() -> clap::Command {
    Args::command()
}

/// What `check` found: each line is one finding.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub ok: Vec<String>,
    pub errors: Vec<String>,
    /// The profile each error is about (None: the config file itself), parallel to `errors`.
    pub error_profiles: Vec<Option<String>>,
    /// The profile containers get when nothing selects one.
    pub default_profile: String,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Errors that refuse every container: the config file's, and the default profile's.
    pub fn fatal(&self) -> Vec<&str> {
        self.errors
            .iter()
            .zip(&self.error_profiles)
            .filter(|(_, p)| p.as_ref().is_none_or(|p| *p == self.default_profile))
            .map(|(e, _)| e.as_str())
            .collect()
    }

    fn error(&mut self, profile: Option<&str>, text: String) {
        self.errors.push(text);
        self.error_profiles.push(profile.map(String::from));
    }
}

pub use crate::suggest::{did_you_mean, nearest};

/// An error chain on one line; an unknown key gets the nearest known key.
fn one_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // toml/serde: "unknown field `runtme`, expected one of `runtime`, `default_profile`"
    if let Some(rest) = text.split("unknown field `").nth(1)
        && let Some((field, expected)) = rest.split_once('`')
    {
        let known: Vec<&str> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|k| !k.is_empty())
            .collect();
        return format!("{text}{}", did_you_mean(field, known));
    }
    text
}

/// Checks the config at `config_path` (None: the default path, which may be absent) and
/// every profile. `host_root` prefixes every path read (installers running in a container).
pub fn check(config_path: Option<&Path>, host_root: Option<&Path>) -> Report {
    let mut r = Report::default();
    let local = |p: &Path| match host_root {
        Some(root) => root.join(p.strip_prefix("/").unwrap_or(p)),
        None => p.to_path_buf(),
    };
    let shown = config_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config::DEFAULT_PATH.into());
    let cfg = match config_path {
        // An explicit path is this process's (as `install` reads it).
        Some(p) => Config::load(Some(p)),
        None => {
            let p = local(Path::new(config::DEFAULT_PATH));
            if p.exists() {
                Config::load(Some(&p))
            } else {
                r.ok.push(format!(
                    "{}: absent, built-in defaults apply",
                    shown.display()
                ));
                Ok(Config::default())
            }
        }
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            r.error(None, format!("{}: {}", shown.display(), one_line(&e)));
            // Profiles can still be checked against the default directory.
            Config::default()
        }
    };
    let dir = cfg
        .profiles_dir
        .clone()
        .unwrap_or_else(|| config::DEFAULT_PROFILES_DIR.into());
    let source = ProfileSource {
        dir: Some(local(&dir)),
    };
    r.default_profile = cfg
        .default_profile
        .clone()
        .unwrap_or_else(|| crate::profile::DEFAULT_PROFILE.to_string());
    let names = source.names();
    let name_refs = || names.iter().map(String::as_str);
    let rules = crate::policy::rule_ids();
    if let Some(p) = &cfg.default_profile
        && !names.contains(p)
    {
        r.error(
            None,
            format!(
                "{}: default_profile {p:?} names no profile (known: {}){}",
                shown.display(),
                names.join(", "),
                did_you_mean(p, name_refs())
            ),
        );
    }
    for a in &cfg.annotations {
        for v in &a.values {
            let (known, what): (Vec<&str>, &str) = match a.selects {
                Selects::Profile => (name_refs().collect(), "profile"),
                Selects::Waive => (rules.clone(), "rule id"),
            };
            if !known.contains(&v.as_str()) {
                r.error(
                    None,
                    format!(
                        "{}: annotation {:?}: value {v:?} names no {what}{}",
                        shown.display(),
                        a.key,
                        did_you_mean(v, known.iter().copied())
                    ),
                );
            }
        }
    }
    for n in &names {
        let origin = source
            .source_text(n)
            .map(|(_, o)| o)
            .unwrap_or_else(|_| n.clone());
        if let Some(cycle) = extends_cycle(&source, n) {
            r.error(
                Some(n),
                format!(
                    "profile {n} ({origin}): `extends` forms a cycle: {}",
                    cycle.join(" -> ")
                ),
            );
            continue;
        }
        let p = match source.load(n) {
            Ok(p) => p,
            Err(e) => {
                r.error(Some(n), format!("profile {n} ({origin}): {}", one_line(&e)));
                continue;
            }
        };
        let mut bad = 0;
        for id in &p.policy.waive {
            if !rules.contains(&id.as_str()) {
                bad += 1;
                r.error(
                    Some(n),
                    format!(
                        "profile {n} ({origin}): policy.waive: {id:?} is not a rule id{}",
                        did_you_mean(id, rules.iter().copied())
                    ),
                );
            }
        }
        if bad == 0 {
            r.ok.push(format!("profile {n} ({origin}): ok"));
        }
    }
    if r.errors.is_empty() {
        r.ok.push(format!("{}: ok", shown.display()));
    }
    r
}

/// The `extends` chain from `name` when it comes back to a profile already on it.
fn extends_cycle(source: &ProfileSource, name: &str) -> Option<Vec<String>> {
    let mut chain = vec![name.to_string()];
    let mut cur = name.to_string();
    loop {
        let (text, _) = source.source_text(&cur).ok()?;
        let table: toml::Table = toml::from_str(&text).ok()?;
        let parent = table.get("extends")?.as_str()?.to_string();
        let seen = chain.contains(&parent);
        chain.push(parent.clone());
        if seen {
            return Some(chain);
        }
        cur = parent;
    }
}

/// Prints the report; the exit status (0 clean, 1 errors).
pub fn print(r: &Report, quiet: bool) -> i32 {
    if !quiet {
        for l in &r.ok {
            println!("ok     {l}");
        }
    }
    for l in &r.errors {
        println!("error  {l}");
    }
    if r.is_ok() {
        0
    } else {
        eprintln!(
            "rampart check: {} error(s); containers that use a broken profile are refused until it is fixed",
            r.errors.len()
        );
        1
    }
}

pub fn main(inv: &Invocation, args: &[std::ffi::OsString], _host: &dyn Host) -> i32 {
    let a = match super::parse::<Args>(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let path = a.config.as_deref().or(inv.rampart.config.as_deref());
    print(&check(path, None), a.quiet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rampart-check-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("profiles")).unwrap();
        d
    }

    fn cfg(d: &Path, extra: &str) -> PathBuf {
        let p = d.join("config.toml");
        std::fs::write(
            &p,
            format!("profiles_dir = {:?}\n{extra}", d.join("profiles")),
        )
        .unwrap();
        p
    }

    #[test]
    fn nearest_finds_typos_and_not_strangers() {
        let rules = crate::policy::rule_ids();
        assert_eq!(nearest("host-netwrok", rules.clone()), Some("host-network"));
        assert_eq!(nearest("explian", ["explain", "audit"]), Some("explain"));
        assert_eq!(
            nearest("basline", ["baseline", "restricted"]),
            Some("baseline")
        );
        assert_eq!(nearest("zzzzzz", ["explain", "audit"]), None);
    }

    #[test]
    fn a_clean_config_and_the_builtins_pass() {
        let d = dir("clean");
        let r = check(Some(&cfg(&d, "")), None);
        assert!(r.is_ok(), "{r:?}");
        assert!(r.ok.iter().any(|l| l.starts_with("profile restricted")));
    }

    #[test]
    fn typos_everywhere_are_errors_with_suggestions() {
        let d = dir("typos");
        std::fs::write(
            d.join("profiles/mine.toml"),
            "extends = \"restricted\"\n[policy]\nwaive = [\"host-netwrok\"]\n",
        )
        .unwrap();
        std::fs::write(d.join("profiles/a.toml"), "extends = \"b\"\n").unwrap();
        std::fs::write(d.join("profiles/b.toml"), "extends = \"a\"\n").unwrap();
        std::fs::write(
            d.join("profiles/keys.toml"),
            "extends = \"restricted\"\n[resources]\npidz = 1\n",
        )
        .unwrap();
        let p = cfg(
            &d,
            "default_profile = \"restricte\"\n[[annotations]]\nkey = \"rampart.dev/profile\"\nselects = \"profile\"\nvalues = [\"basline\"]\n[[annotations]]\nkey = \"rampart.dev/waive\"\nselects = \"waive\"\nvalues = [\"block-devic\"]\n",
        );
        let r = check(Some(&p), None);
        let all = r.errors.join("\n");
        assert!(
            all.contains("\"host-netwrok\" is not a rule id; did you mean \"host-network\"?"),
            "{all}"
        );
        assert!(
            all.contains("\"basline\" names no profile; did you mean \"baseline\"?"),
            "{all}"
        );
        assert!(all.contains("did you mean \"block-device\"?"), "{all}");
        assert!(all.contains("default_profile \"restricte\""), "{all}");
        assert!(all.contains("cycle: a -> b -> a"), "{all}");
        assert!(all.contains("pidz"), "{all}");
        assert!(!r.is_ok());
        // The config file's errors refuse every container; profile mine's only its own.
        let fatal = r.fatal().join("\n");
        assert!(
            fatal.contains("basline") && !fatal.contains("profile mine"),
            "{fatal}"
        );
        assert_eq!(
            nearest(
                "nonexistent",
                [
                    "baseline",
                    "broken",
                    "hostnet",
                    "isolated",
                    "isolated-e2e",
                    "restricted"
                ]
            ),
            None
        );
    }

    #[test]
    fn unknown_config_keys_name_the_file_and_the_nearest_key() {
        let d = dir("keys");
        let p = d.join("config.toml");
        std::fs::write(&p, "runtme = \"/usr/sbin/runc\"\n").unwrap();
        let r = check(Some(&p), None);
        assert_eq!(r.errors.len(), 1, "{r:?}");
        assert!(r.errors[0].starts_with(&p.display().to_string()));
        assert!(r.errors[0].contains("did you mean \"runtime\"?"), "{r:?}");
    }
}
