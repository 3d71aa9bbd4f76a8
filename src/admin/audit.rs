//! `rampart audit [--format table|json|sarif] [--fail-on LEVEL] [--profile P] TARGET...`:
//! the benchmark judged from specs, before anything runs. A TARGET is a config.json, a
//! bundle directory, or `--root DIR`: every container a runc state directory knows (Docker:
//! /run/docker/runtime-runc/moby; containerd: /run/containerd/runc/k8s.io), found through the
//! `bundle=` label of DIR/ID/state.json.
//!
//! Checks come from [`crate::checks`]: CIS Docker v1.6.0 section 5, the Pod Security
//! Standards and Rampart's own rules under the profile `create` would choose for the spec.
//! `--profile P` also shows what P would change and the result of each check afterwards.
//!
//! Exit status: 0; 1 when `--fail-on LEVEL` is given and a check of at least that severity
//! fails in any target (judged on the spec as written); 2 for usage or input errors (a
//! target that cannot be read or is not a valid spec: the others are still reported).

use crate::argv::Invocation;
use crate::checks::{self, Finding, Kind, Outcome, Severity};
use crate::host::Host;
use crate::pipeline::{self, Plan};
use crate::settings::Settings;
use crate::spec::Spec;
use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Sarif,
}

#[derive(Debug, Parser)]
#[command(
    name = "rampart audit",
    about = "Judge container specs against CIS Docker 5.x, the Pod Security Standards and Rampart's rules"
)]
struct Args {
    /// config.json files or bundle directories.
    targets: Vec<PathBuf>,
    /// A runc state directory: audit every container it knows (repeatable).
    #[arg(long = "root", value_name = "DIR")]
    roots: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Exit 1 when a check of at least this severity fails.
    #[arg(long, value_enum, value_name = "LEVEL")]
    fail_on: Option<Severity>,
    /// Also show what this Rampart profile would change, and each check's result after it.
    #[arg(long, value_name = "PROFILE")]
    profile: Option<String>,
    /// List the checks (and the benchmark checks a spec cannot decide), then exit.
    #[arg(long)]
    list_checks: bool,
}

/// One audited spec.
#[derive(Debug, Serialize)]
struct Report {
    target: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<String>,
    #[serde(flatten)]
    kind: Kind,
    profile: String,
    summary: BTreeMap<&'static str, usize>,
    results: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    with_profile: Option<After>,
}

/// What `--profile` shows: the plan and each check's result on the hardened spec.
#[derive(Debug, Serialize)]
struct After {
    profile: String,
    outcome: &'static str,
    refusals: Vec<crate::policy::Violation>,
    changes: Vec<crate::change::Change>,
    results: BTreeMap<String, &'static str>,
}

/// This command's parser, for the command tree (help, completions, man pages).
pub fn command() -> clap::Command {
    Args::command()
}

pub fn main(inv: &Invocation, args: &[OsString], host: &dyn Host) -> i32 {
    let a = match super::parse::<Args>(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if a.list_checks {
        print!("{}", list_checks());
        return 0;
    }
    if a.targets.is_empty() && a.roots.is_empty() {
        eprintln!("rampart audit: name a config.json, a bundle directory or --root DIR");
        return 2;
    }
    let settings = match Settings::without_runtime(inv, a.profile.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", crate::errors::message(&e));
            return 2;
        }
    };
    let mut targets: Vec<(PathBuf, Option<String>)> = Vec::new();
    let mut input_error = false;
    for t in &a.targets {
        targets.push((config_path(t), None));
    }
    for root in &a.roots {
        match containers(root) {
            Ok(found) => targets.extend(found.into_iter().map(|(id, p)| (p, Some(id)))),
            Err(e) => {
                eprintln!("{}", crate::errors::message(&e));
                input_error = true;
            }
        }
    }
    let mut reports = Vec::new();
    for (path, id) in targets {
        match audit_one(&path, id, &settings, host, a.profile.is_some()) {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!("{}", crate::errors::message(&e));
                input_error = true;
            }
        }
    }
    let out = match a.format {
        Format::Table => table(
            &reports,
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        ),
        Format::Json => pretty(&json!({"targets": reports, "fail_on": a.fail_on})),
        Format::Sarif => pretty(&sarif(&reports)),
    };
    print!("{out}");
    if input_error {
        return 2;
    }
    let gate = a.fail_on.is_some_and(|level| {
        reports
            .iter()
            .flat_map(|r| &r.results)
            .any(|f| f.result == Outcome::Fail && f.severity >= level)
    });
    i32::from(gate)
}

fn pretty(v: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(v).expect("JSON values serialise")
    )
}

fn config_path(t: &Path) -> PathBuf {
    if t.is_dir() {
        t.join("config.json")
    } else {
        t.to_path_buf()
    }
}

/// The containers of a runc state directory: (id, bundle's config.json), by id.
fn containers(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(root)
        .with_context(|| format!("cannot read the runc state directory {}", root.display()))?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let state = e.path().join("state.json");
        if !state.is_file() {
            continue;
        }
        let id = e.file_name().to_string_lossy().into_owned();
        out.push((id, bundle_of(&state)?.join("config.json")));
    }
    out.sort();
    Ok(out)
}

/// The bundle a runc state.json records in its `bundle=` label.
pub fn bundle_of(state: &Path) -> Result<PathBuf> {
    let bytes = crate::host::read_capped(state, crate::spec::MAX_SPEC_BYTES)?;
    let v: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not valid JSON", state.display()))?;
    let labels = v.pointer("/config/labels").and_then(Value::as_array);
    match labels
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|l| l.strip_prefix("bundle="))
    {
        Some(b) => Ok(PathBuf::from(b)),
        None => bail!("{} has no bundle= label", state.display()),
    }
}

fn audit_one(
    path: &Path,
    container: Option<String>,
    settings: &Settings,
    host: &dyn Host,
    show_plan: bool,
) -> Result<Report> {
    let bytes = crate::bundle::read(path)?;
    let spec =
        Spec::from_slice(&bytes).with_context(|| format!("cannot audit {}", path.display()))?;
    let annotations: BTreeMap<String, String> = spec.typed("/annotations")?.unwrap_or_default();
    let choice = settings.choose(&annotations);
    let profile = settings.profiles.load(&choice.profile)?;
    let mut facts = host.facts(&[]);
    host.namespaces(&mut facts, &crate::policy::namespaces::joined_paths(&spec));
    crate::policy::gather_sources(host, &mut facts, &spec);
    let (kind, results) = checks::judge(&spec, &profile, &facts, &choice.waived)?;
    let with_profile = match show_plan {
        true => Some(after(
            pipeline::plan_spec(path, settings, host)?,
            &spec,
            settings,
            &facts,
            &choice.waived,
        )?),
        false => None,
    };
    let mut summary = BTreeMap::new();
    for f in &results {
        *summary.entry(f.result.as_str()).or_insert(0) += 1;
    }
    Ok(Report {
        target: path.to_path_buf(),
        container,
        kind,
        profile: choice.profile,
        summary,
        results,
        with_profile,
    })
}

/// The plan under `--profile`, and each check's result on the spec `create` would run: the
/// hardened one (enforce), or the request itself (complain, off). A refused spec does not
/// run at all: `outcome` says so; the results still show what hardening achieves.
fn after(
    plan: Plan,
    request: &Spec,
    settings: &Settings,
    facts: &crate::host::HostFacts,
    waived: &[String],
) -> Result<After> {
    let profile = settings.profiles.load(&plan.profile)?;
    let outcome = plan.outcome();
    let runs = match outcome {
        "complain" | "off" => request,
        _ => &plan.spec,
    };
    let (_, findings) = checks::judge(runs, &profile, facts, waived)?;
    Ok(After {
        profile: plan.profile,
        outcome,
        refusals: plan.refusals,
        changes: plan
            .changes
            .into_iter()
            .filter(|c| c.before != c.after)
            .collect(),
        results: findings
            .into_iter()
            .map(|f| (f.id, f.result.as_str()))
            .collect(),
    })
}

fn list_checks() -> String {
    let mut s = String::from("Decided from a spec:\n");
    for c in checks::all() {
        s.push_str(&format!(
            "  {:<42} {:<8} {}\n",
            c.id,
            c.severity.as_str(),
            c.title
        ));
    }
    s.push_str("  RAMPART-<rule>                             (each of Rampart's rules; see `rampart explain`)\n");
    s.push_str("\nNot decidable from a spec:\n");
    for (id, title, why) in checks::CIS_UNDECIDABLE
        .iter()
        .chain(checks::PSS_UNDECIDABLE)
    {
        s.push_str(&format!("  {id:<42} {title}: {why}\n"));
    }
    s
}

struct Paint(bool);

impl Paint {
    fn result(&self, r: &str) -> String {
        let code = match r {
            "fail" | "refused" => "31",
            "pass" => "32",
            _ => "2",
        };
        self.code(code, &format!("{r:<8}"))
    }
    fn code(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn table(reports: &[Report], colour: bool) -> String {
    let p = Paint(colour);
    let mut s = String::new();
    for r in reports {
        let name = match &r.container {
            Some(id) => format!("{id} ({})", r.target.display()),
            None => r.target.display().to_string(),
        };
        s.push_str(&p.code(
            "1",
            &format!(
                "{name}: {}, Rampart profile {}",
                r.kind.describe(),
                r.profile
            ),
        ));
        s.push('\n');
        let with = r.with_profile.as_ref();
        if let Some(w) = with {
            s.push_str(&format!(
                "AFTER: the result once profile {} has hardened the spec\n",
                w.profile
            ));
        }
        let after_col = if with.is_some() { "  AFTER   " } else { "" };
        s.push_str(&format!(
            "{:<8}  {:<8}{after_col}  {:<42} TITLE\n",
            "RESULT", "SEVERITY", "CHECK"
        ));
        for f in &r.results {
            let after = with
                .map(|w| {
                    format!(
                        "  {}",
                        p.result(w.results.get(&f.id).copied().unwrap_or("?"))
                    )
                })
                .unwrap_or_default();
            s.push_str(&format!(
                "{}  {:<8}{after}  {:<42} {}\n",
                p.result(f.result.as_str()),
                f.severity.as_str(),
                f.id,
                f.title
            ));
            if f.result == Outcome::Fail {
                for e in &f.evidence {
                    s.push_str(&format!(
                        "          {} = {}: {}\n",
                        e.field,
                        short(&e.value),
                        e.why
                    ));
                }
                s.push_str(&format!("          fix: {}\n", f.fix));
            }
        }
        let count = |k: &str| r.summary.get(k).copied().unwrap_or(0);
        s.push_str(&format!(
            "{} pass, {} fail, {} n/a\n",
            count("pass"),
            count("fail"),
            count("n/a")
        ));
        if let Some(w) = with {
            s.push_str(&format!("\nWith profile {}: {}\n", w.profile, w.outcome));
            for v in &w.refusals {
                s.push_str(&format!(
                    "  refuse [{}] {}: {} ({})\n",
                    v.rule,
                    v.field,
                    v.why,
                    short(&v.value)
                ));
            }
            for c in &w.changes {
                s.push_str(&format!(
                    "  [{}] {}: {} -> {}\n      {}\n",
                    c.step,
                    c.field,
                    short(&c.before),
                    short(&c.after),
                    c.reason
                ));
            }
        }
        s.push('\n');
    }
    s
}

fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's code scanning reads `security-severity` (0-10) to rank findings.
fn security_severity(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// A path as a SARIF artifact URI: relative paths stay relative; absolute ones get file://.
fn uri(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    if p.is_absolute() {
        format!("file://{out}")
    } else {
        out
    }
}

/// SARIF 2.1.0: one run, every check as a rule, every failure as a result.
fn sarif(reports: &[Report]) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for r in reports {
        for f in &r.results {
            let i = *index.entry(f.id.clone()).or_insert_with(|| {
                rules.push(json!({
                    "id": f.id,
                    "name": f.id.replace(['-', '.'], "_"),
                    "shortDescription": {"text": f.title},
                    "fullDescription": {"text": format!("{}: {}", f.benchmark, f.title)},
                    "help": {"text": format!("Fix: {}", f.fix)},
                    "defaultConfiguration": {"level": level(f.severity)},
                    "properties": {"tags": ["security", f.benchmark], "security-severity": security_severity(f.severity), "severity": f.severity},
                }));
                rules.len() - 1
            });
            if f.result != Outcome::Fail {
                continue;
            }
            let why: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("{} = {}: {}", e.field, short(&e.value), e.why))
                .collect();
            let mut props = json!({"severity": f.severity, "kind": r.kind.describe()});
            if let Some(w) = &r.with_profile {
                props["withProfile"] =
                    json!({"profile": w.profile, "result": w.results.get(&f.id)});
            }
            results.push(json!({
                "ruleId": f.id,
                "ruleIndex": i,
                "level": level(f.severity),
                "message": {"text": format!("{}: {}. Fix: {}", f.title, why.join("; "), f.fix)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": uri(&r.target)}},
                    "logicalLocations": f.evidence.iter().map(|e| e.field.as_str()).collect::<std::collections::BTreeSet<_>>()
                        .into_iter().map(|field| json!({"fullyQualifiedName": field})).collect::<Vec<_>>(),
                }],
                "properties": props,
            }));
        }
    }
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "rampart", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_escaped_and_absolute_paths_are_file_uris() {
        assert_eq!(uri(Path::new("a b/config.json")), "a%20b/config.json");
        assert_eq!(
            uri(Path::new("/run/x/config.json")),
            "file:///run/x/config.json"
        );
    }

    #[test]
    fn bundle_comes_from_the_state_label() {
        let d = std::env::temp_dir().join(format!("rampart-state-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let s = d.join("state.json");
        std::fs::write(
            &s,
            r#"{"id":"x","config":{"labels":["a=b","bundle=/srv/b"]}}"#,
        )
        .unwrap();
        assert_eq!(bundle_of(&s).unwrap(), PathBuf::from("/srv/b"));
        std::fs::write(&s, r#"{"id":"x","config":{"labels":[]}}"#).unwrap();
        assert!(bundle_of(&s).is_err());
        std::fs::remove_dir_all(d).unwrap();
    }
}
