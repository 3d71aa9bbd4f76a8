//! `runc update`: a running container's limits, judged against its profile's ceilings.
//!
//! `docker update`, CRI UpdateContainerResources (Kubernetes in-place resize) and plain
//! `runc update` change cgroup limits after create; unjudged they lift every limit the
//! profile set (`--pids-limit -1`, `--memory 64g`). The container's profile is found as create
//! chose it: the same runtime binary and runtimeArgs give the same settings, and the
//! annotation choice is re-run on the annotations runc kept as `key=value` labels in
//! `<root>/<id>/state.json`.
//!
//! runc reads either the flags or, with `-r FILE|-`, a specs.LinuxResources JSON document (all
//! flags then ignored). Every value is read as runc reads it (Go's ParseInt/ParseUint,
//! go-units sizes, objects merged into pre-set structs; a key Go's decoder would fold onto a
//! field is refused before decoding, see src/runc_fields.rs); 0 means
//! "unchanged". Refused: a value above a ceiling of the profile, or an unlimited one (< 0):
//!
//! | runc field | ceiling |
//! |---|---|
//! | pids.limit / `--pids-limit` | `[resources] pids_max` |
//! | memory.limit / `--memory` | `[resources] memory_max_bytes` |
//! | cpu.shares / `--cpu-share` | `[resources] cpu_shares_max` |
//! | cpu.quota ÷ cpu.period / `--cpu-quota`, `--cpu-period` | `[resources] cpus_max` (one given alone is judged with the other's current value from state.json) |
//! | cpu.realtimeRuntime / `--cpu-rt-runtime` | -1 (unlimited) refused when `cpus_max` is set |
//! | blockIO.weight / `--blkio-weight` | `[resources] blkio_weight_max` |
//!
//! An update is always the user's explicit request, so it is judged against the CEILINGS
//! (each falls back to its default when the profile names none), as an explicit value at
//! create is: the defaults only fill in what nobody asked for. An update above a ceiling is
//! refused even with `on_ceiling = "clamp"`: runc applies the values it is given, and Docker
//! would report the higher value as applied.
//! | unified `pids.max`, `memory.max`, `cpu.max`, ... | refused when the profile limits that controller |
//!
//! Not judged (the profile sets no ceiling for them, nor does create): memory swap and
//! reservation (RAM stays capped by the memory limit), cpuset cpus/mems, realtime period,
//! Intel RDT schemas, kernel memory (ignored by runc 1.1).
//!
//! With `-r -` Rampart reads stdin up to the end of the first JSON value (runc's decoder reads
//! no further), judges exactly those bytes and hands runc exactly them on a fresh pipe.

use crate::argv::{CommandArgs, FlagValue, Invocation};
use crate::golang;
use crate::profile::Profile;
use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Largest `-r` document Rampart reads (runc's are well under 1 KB).
pub const MAX_RESOURCES_BYTES: usize = 1 << 20;

/// What an update asks for, as runc will apply it (0 = unchanged).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Request {
    pub memory: i64,
    pub pids: i64,
    pub shares: u64,
    pub quota: i64,
    pub period: u64,
    pub rt_runtime: i64,
    pub blkio_weight: u16,
    pub unified: Vec<String>,
    /// How each field was spelled by the caller, for messages.
    pub from_flags: bool,
}

/// The container's current CPU bandwidth (libcontainer's state.json `cpu_quota`/`cpu_period`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Current {
    pub quota: Option<i64>,
    pub period: Option<u64>,
}

/// One refused value.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub field: &'static str,
    pub value: String,
    pub ceiling: String,
}

fn label(r: &Request, flag: &'static str, field: &'static str) -> &'static str {
    if r.from_flags { flag } else { field }
}

/// Judges a request against a profile's ceilings.
pub fn judge(r: &Request, current: Current, profile: &Profile) -> Vec<Refusal> {
    let c = &profile.resources;
    let mut out = Vec::new();
    let mut refuse = |field, value: String, ceiling: String| {
        out.push(Refusal {
            field,
            value,
            ceiling,
        })
    };
    let shown = |v: i64| {
        if v < 0 {
            format!("{v} (unlimited)")
        } else {
            v.to_string()
        }
    };
    if let Some(max) = c.pids_ceiling()
        && (r.pids < 0 || r.pids > max)
    {
        refuse(
            label(r, "--pids-limit", "pids.limit"),
            shown(r.pids),
            format!("{max} (pids_max)"),
        );
    }
    if let Some(max) = c.memory_ceiling()
        && (r.memory < 0 || r.memory > max)
    {
        refuse(
            label(r, "--memory", "memory.limit"),
            shown(r.memory),
            format!("{max} (memory_max_bytes)"),
        );
    }
    if let Some(max) = c.cpu_shares_ceiling()
        && r.shares > max
    {
        refuse(
            label(r, "--cpu-share", "cpu.shares"),
            r.shares.to_string(),
            format!("{max} (cpu_shares_max)"),
        );
    }
    if let Some(cpus) = c.cpus_ceiling() {
        if r.quota != 0 || r.period != 0 {
            // runc keeps the old value of the one not given.
            let quota = if r.quota != 0 {
                Some(r.quota)
            } else {
                current.quota
            };
            // state.json's 0 is the kernel's default period; no state is unknown.
            let period = if r.period != 0 {
                Some(r.period)
            } else {
                current.period.map(|p| if p == 0 { 100_000 } else { p })
            };
            let (quota, period) = match period {
                Some(p) => (quota, p),
                None => (None, 100_000),
            };
            let want = (cpus * period as f64).round() as i64;
            let field = label(r, "--cpu-quota", "cpu.quota");
            match quota {
                Some(q) if q > 0 && q <= want => {}
                Some(q) => refuse(
                    field,
                    format!("{} per period {period}", shown(q)),
                    format!("{cpus} CPUs = {want} per period {period} (cpus_max)"),
                ),
                None => refuse(
                    field,
                    "unknown (the container's current quota or period could not be read)".into(),
                    format!("{cpus} CPUs (cpus_max); give --cpu-quota and --cpu-period together"),
                ),
            }
        }
        if r.rt_runtime < 0 {
            refuse(
                label(r, "--cpu-rt-runtime", "cpu.realtimeRuntime"),
                shown(r.rt_runtime),
                format!("{cpus} CPUs (cpus_max): realtime time may not be unlimited"),
            );
        }
    }
    if let Some(max) = c.blkio_weight_ceiling()
        && r.blkio_weight > max
    {
        refuse(
            label(r, "--blkio-weight", "blockIO.weight"),
            r.blkio_weight.to_string(),
            format!("{max} (blkio_weight_max)"),
        );
    }
    for key in &r.unified {
        let controller = key.split('.').next().unwrap_or_default();
        let limited = match controller {
            "pids" => c.pids_ceiling().is_some(),
            "memory" => c.memory_ceiling().is_some(),
            "cpu" => c.cpus_ceiling().is_some() || c.cpu_shares_ceiling().is_some(),
            "io" => c.blkio_weight_ceiling().is_some(),
            _ => false,
        };
        if limited {
            refuse(
                "unified",
                key.clone(),
                format!(
                    "the profile's {controller} limits (cgroup v2 files may not override them)"
                ),
            );
        }
    }
    out
}

fn flag_str(cmd: &CommandArgs, name: &str) -> Option<Vec<u8>> {
    match cmd.value(name) {
        Some(FlagValue::Str(s)) if !s.is_empty() => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// The request runc builds from `update`'s flags (update.go, without `-r`).
pub fn from_flags(cmd: &CommandArgs) -> Result<Request> {
    let mut r = Request {
        from_flags: true,
        ..Default::default()
    };
    if let Some(FlagValue::Int(v)) = cmd.value("blkio-weight")
        && v != 0
    {
        r.blkio_weight = v as u16; // Go's uint16(val)
    }
    let uint = |name: &str| -> Result<u64> {
        match flag_str(cmd, name) {
            None => Ok(0),
            Some(v) => golang::parse_uint(&v, false).with_context(|| {
                format!(
                    "--{name} {:?} is not a number runc reads",
                    String::from_utf8_lossy(&v)
                )
            }),
        }
    };
    let int = |name: &str| -> Result<i64> {
        match flag_str(cmd, name) {
            None => Ok(0),
            Some(v) => golang::parse_int(&v, false).with_context(|| {
                format!(
                    "--{name} {:?} is not a number runc reads",
                    String::from_utf8_lossy(&v)
                )
            }),
        }
    };
    r.period = uint("cpu-period")?;
    uint("cpu-rt-period")?;
    r.shares = uint("cpu-share")?;
    r.quota = int("cpu-quota")?;
    r.rt_runtime = int("cpu-rt-runtime")?;
    for name in [
        "memory",
        "memory-swap",
        "kernel-memory",
        "kernel-memory-tcp",
        "memory-reservation",
    ] {
        if let Some(v) = flag_str(cmd, name) {
            let n = if v == b"-1" {
                -1
            } else {
                golang::ram_in_bytes(&v).with_context(|| {
                    format!(
                        "--{name} {:?} is not a size runc reads",
                        String::from_utf8_lossy(&v)
                    )
                })?
            };
            if name == "memory" {
                r.memory = n;
            }
        }
    }
    if let Some(FlagValue::Int(v)) = cmd.value("pids-limit") {
        r.pids = v;
    }
    Ok(r)
}

/// A Go struct behind a pointer: None is a nil pointer; each listed field likewise.
type GoStruct = Option<BTreeMap<&'static str, Option<Value>>>;

fn preset(fields: &[&'static str]) -> GoStruct {
    Some(fields.iter().map(|f| (*f, Some(Value::from(0)))).collect())
}

/// json.Decode of `v` into the struct pointer `cur` (which it reuses when non-nil).
fn decode_into(cur: &mut GoStruct, v: &Value, fields: &[&'static str], what: &str) -> Result<()> {
    match v {
        Value::Null => *cur = None,
        Value::Object(m) => {
            let s = cur.get_or_insert_with(|| fields.iter().map(|f| (*f, None)).collect());
            for (k, x) in m {
                if let Some(f) = fields.iter().find(|f| **f == k.as_str()) {
                    s.insert(f, (!x.is_null()).then(|| x.clone()));
                }
            }
        }
        other => bail!("{what} is {other}, not an object"),
    }
    Ok(())
}

const MEMORY: &[&str] = &["limit", "reservation", "swap", "kernel", "kernelTCP"];
const CPU: &[&str] = &[
    "shares",
    "quota",
    "period",
    "realtimeRuntime",
    "realtimePeriod",
];
const BLOCKIO: &[&str] = &["weight"];

/// The request runc decodes from a `-r` document (update.go: `r` pre-set with zeros, then
/// json.Decode; runc dereferences every pointer afterwards, so a nil one crashes it).
pub fn from_json(doc: &Value) -> Result<Request> {
    let Value::Object(top) = doc else {
        bail!("the resources document is not a JSON object")
    };
    let (mut memory, mut cpu, mut blkio) = (preset(MEMORY), preset(CPU), preset(BLOCKIO));
    let mut pids: Option<Value> = Some(Value::from(0));
    let mut unified: Option<Vec<String>> = None;
    for (k, v) in top {
        if k == "memory" {
            decode_into(&mut memory, v, MEMORY, "memory")?;
        } else if k == "cpu" {
            decode_into(&mut cpu, v, CPU, "cpu")?;
        } else if k == "blockIO" {
            decode_into(&mut blkio, v, BLOCKIO, "blockIO")?;
        } else if k == "pids" {
            match v {
                Value::Null => pids = None,
                Value::Object(m) => {
                    let mut p = pids.take().unwrap_or(Value::from(0));
                    for (pk, pv) in m {
                        if pk == "limit" && !pv.is_null() {
                            p = pv.clone();
                        }
                    }
                    pids = Some(p);
                }
                other => bail!("pids is {other}, not an object"),
            }
        } else if k == "unified" {
            match v {
                Value::Null => unified = None,
                Value::Object(m) => unified
                    .get_or_insert_with(Vec::new)
                    .extend(m.keys().cloned()),
                other => bail!("unified is {other}, not an object"),
            }
        }
    }
    let field = |s: &GoStruct, name: &str, what: &str| -> Result<Value> {
        s.as_ref()
            .and_then(|m| m.get(name).cloned().flatten())
            .with_context(|| format!("{what}.{name} is null or missing where runc needs a value"))
    };
    let int = |v: Value, what: &str| -> Result<i64> {
        match &v {
            Value::Number(n) => golang::parse_int(n.to_string().as_bytes(), false),
            _ => None,
        }
        .with_context(|| format!("{what} {v} is not an integer runc reads"))
    };
    let uint = |v: Value, what: &str| -> Result<u64> {
        match &v {
            Value::Number(n) => golang::parse_uint(n.to_string().as_bytes(), false),
            _ => None,
        }
        .with_context(|| format!("{what} {v} is not an unsigned integer runc reads"))
    };
    for f in MEMORY {
        int(field(&memory, f, "memory")?, f)?;
    }
    uint(field(&cpu, "realtimePeriod", "cpu")?, "cpu.realtimePeriod")?;
    let weight = uint(field(&blkio, "weight", "blockIO")?, "blockIO.weight")?;
    let mut unified = unified.unwrap_or_default();
    unified.sort();
    Ok(Request {
        memory: int(field(&memory, "limit", "memory")?, "memory.limit")?,
        pids: int(pids.context("pids is null")?, "pids.limit")?,
        shares: uint(field(&cpu, "shares", "cpu")?, "cpu.shares")?,
        quota: int(field(&cpu, "quota", "cpu")?, "cpu.quota")?,
        period: uint(field(&cpu, "period", "cpu")?, "cpu.period")?,
        rt_runtime: int(
            field(&cpu, "realtimeRuntime", "cpu")?,
            "cpu.realtimeRuntime",
        )?,
        blkio_weight: u16::try_from(weight).context("blockIO.weight is above 65535")?,
        unified,
        from_flags: false,
    })
}

/// Reads `-r -`'s document from `input`: up to the end of the first JSON value (an object),
/// at most [`MAX_RESOURCES_BYTES`].
pub fn read_document(input: &mut dyn std::io::Read) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = object_end(&buf) {
            buf.truncate(end);
            return Ok(buf);
        }
        let n = input
            .read(&mut chunk)
            .context("cannot read the resources from stdin")?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESOURCES_BYTES {
            bail!("the resources on stdin are larger than {MAX_RESOURCES_BYTES} bytes");
        }
    }
}

/// Where the first top-level JSON object in `b` ends, if it is complete.
fn object_end(b: &[u8]) -> Option<usize> {
    let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
    if b[start] != b'{' {
        return None;
    }
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Strict parse of a resources document, checked for fields runc reads.
pub fn parse_document(bytes: &[u8]) -> Result<Value> {
    let value = crate::spec::parse_strict(bytes).context("the resources document")?;
    crate::runc_fields::check(&value, crate::runc_fields::Root::LinuxResources)?;
    Ok(value)
}

/// The container's annotations (runc's `key=value` labels) and current CPU bandwidth, or None
/// when runc has no state for it (runc will then refuse the update itself).
pub fn container_state(
    inv: &Invocation,
    id: &str,
) -> Result<Option<(BTreeMap<String, String>, Current)>> {
    let Some(state) = crate::exec::state_json(inv.global.root.as_deref(), id)? else {
        return Ok(None);
    };
    state_labels(&state, id).map(Some)
}

/// The annotations and CPU bandwidth of [`container_state`], from runc's parsed state.json.
pub fn state_labels(state: &Value, id: &str) -> Result<(BTreeMap<String, String>, Current)> {
    let mut annotations = BTreeMap::new();
    if let Some(labels) = state.pointer("/config/labels").and_then(Value::as_array) {
        for l in labels.iter().filter_map(Value::as_str) {
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            if annotations.insert(k.to_string(), v.to_string()).is_some() {
                bail!(
                    "container {id}: its state has the label {k:?} twice; cannot tell which profile created it"
                );
            }
        }
    }
    let current = Current {
        quota: state
            .pointer("/config/cgroups/cpu_quota")
            .and_then(Value::as_i64),
        period: state
            .pointer("/config/cgroups/cpu_period")
            .and_then(Value::as_u64),
    };
    Ok((annotations, current))
}

/// The refusal message: what, why, and how an admin allows it.
pub fn message(id: &str, profile: &str, refusals: &[Refusal]) -> String {
    let what: Vec<String> = refusals
        .iter()
        .map(|r| format!("{} {} is above the ceiling {}", r.field, r.value, r.ceiling))
        .collect();
    format!(
        "refused to update container {id}: {} under profile {profile}; an admin raises a ceiling in the profile's [resources] (or runs the container under another profile)",
        what.join("; ")
    )
}

/// `-r`'s value when runc uses it (non-empty), as bytes.
pub fn resources_arg(cmd: &CommandArgs) -> Option<std::ffi::OsString> {
    let r = cmd.string("resources");
    (!r.is_empty()).then_some(r)
}

/// Whether `-r` names stdin.
pub fn is_stdin(arg: &OsStr) -> bool {
    arg.as_bytes() == b"-"
}

/// The document runc reads, as judged: from stdin (`-r -`) or from the file `-r` names.
pub enum Judged {
    Stdin(Vec<u8>),
    File(Vec<u8>),
}

/// `update` end to end: finds the container's profile, reads and judges what runc will read,
/// audits, and returns the document runc is to read (for `-r`). Refuses with a message.
pub fn check(
    inv: &Invocation,
    cmd: &CommandArgs,
    settings: &crate::settings::Settings,
    host: &dyn crate::host::Host,
) -> Result<Option<Judged>> {
    let id = cmd.id.clone().unwrap_or_default();
    let (annotations, current) = container_state(inv, &id)?.unwrap_or_default();
    let choice = settings.choose(&annotations);
    let profile = settings.profiles.load(&choice.profile)?;
    let mut judged = None;
    let request = match resources_arg(cmd) {
        Some(arg) if is_stdin(&arg) => {
            let bytes = host.read_stdin()?;
            let r = from_json(&parse_document(&bytes)?)?;
            judged = Some(Judged::Stdin(bytes));
            r
        }
        Some(path) => {
            let bytes = crate::host::read_capped(std::path::Path::new(&path), MAX_RESOURCES_BYTES)?;
            let r = from_json(&parse_document(&bytes)?)
                .with_context(|| format!("{}", std::path::Path::new(&path).display()))?;
            judged = Some(Judged::File(bytes));
            r
        }
        None => from_flags(cmd)?,
    };
    let refusals = if profile.policy.mode == crate::profile::Mode::Enforce {
        judge(&request, current, &profile)
    } else {
        Vec::new()
    };
    let violations: Vec<crate::policy::Violation> = refusals
        .iter()
        .map(|r| {
            crate::policy::Violation::new(
                r.field,
                Value::String(r.value.clone()),
                format!("above the ceiling {}", r.ceiling),
            )
        })
        .collect();
    let outcome = if refusals.is_empty() {
        "judged"
    } else {
        "refused"
    };
    let rec = crate::audit::Record {
        outcome,
        refusals: &violations,
        mode: profile.policy.mode,
        ..crate::pipeline::record(cmd, &choice.profile, settings, host, None, &[])
    };
    let logged = crate::audit::append(&settings.audit_log, &rec);
    if !refusals.is_empty() {
        let msg = message(&id, &choice.profile, &refusals);
        return Err(match logged {
            Ok(()) => anyhow::anyhow!(msg),
            Err(e) => anyhow::anyhow!("{msg} (and the audit log failed: {e:#})"),
        });
    }
    logged?;
    Ok(judged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileSource;
    use serde_json::json;

    fn restricted() -> Profile {
        ProfileSource::default().load("restricted").unwrap()
    }
    fn cmd(args: &[&str]) -> CommandArgs {
        crate::argv::parse(
            ["rampart", "update"]
                .iter()
                .chain(args)
                .map(std::ffi::OsString::from)
                .collect(),
        )
        .unwrap()
        .command
        .unwrap()
    }
    fn fields(args: &[&str]) -> Vec<&'static str> {
        judge(
            &from_flags(&cmd(args)).unwrap(),
            Current::default(),
            &restricted(),
        )
        .iter()
        .map(|r| r.field)
        .collect()
    }

    #[test]
    fn flags_above_the_ceiling_or_unlimited_are_refused() {
        assert_eq!(fields(&["--pids-limit", "-1", "ID"]), ["--pids-limit"]);
        // Ceilings, not defaults (this test used restricted's defaults as the ceilings before
        // profiles had both): pids_max 32768, memory_max_bytes 16g, cpus_max 8,
        // cpu_shares_max 8192, blkio_weight_max 1000.
        assert_eq!(fields(&["ID", "--pids-limit", "50000"]), ["--pids-limit"]);
        assert_eq!(fields(&["--memory", "64g", "ID"]), ["--memory"]);
        assert_eq!(fields(&["--memory", "-1", "ID"]), ["--memory"]);
        assert_eq!(
            fields(&["--cpu-quota", "-1", "--cpu-period", "100000", "ID"]),
            ["--cpu-quota"]
        );
        assert_eq!(
            fields(&["--cpu-quota", "1600000", "--cpu-period", "100000", "ID"]),
            ["--cpu-quota"]
        );
        assert_eq!(fields(&["--cpu-share", "10000", "ID"]), ["--cpu-share"]);
        assert_eq!(
            fields(&["--blkio-weight", "1001", "ID"]),
            ["--blkio-weight"]
        );
        assert_eq!(
            fields(&["--cpu-rt-runtime", "-1", "ID"]),
            ["--cpu-rt-runtime"]
        );
        // Go's uint16(65536 + 1001) is 1001.
        assert_eq!(
            fields(&["--blkio-weight", "66537", "ID"]),
            ["--blkio-weight"]
        );
        // One of quota/period alone: judged with the current value, unknown here.
        assert_eq!(fields(&["--cpu-quota", "100000", "ID"]), ["--cpu-quota"]);
    }

    #[test]
    fn values_within_the_ceilings_pass() {
        for args in [
            &["--pids-limit", "512", "ID"][..],
            // Above restricted's defaults, within its ceilings: what `docker run` may ask for.
            &["--pids-limit", "4096", "--memory", "4g", "ID"],
            &["--cpu-share", "4096", "--blkio-weight", "1000", "ID"],
            &["--memory", "1g", "--memory-swap", "-1", "ID"],
            &["--cpu-quota", "150000", "--cpu-period", "100000", "ID"],
            &["--cpu-share", "512", "--cpuset-cpus", "0-1", "ID"],
            &["--blkio-weight", "65536", "ID"],
            &["ID"],
        ] {
            assert_eq!(fields(args), Vec::<&str>::new(), "{args:?}");
        }
        let r = from_flags(&cmd(&["--cpu-period", "50000", "ID"])).unwrap();
        let cur = Current {
            quota: Some(500_000),
            period: Some(100_000),
        };
        assert_eq!(
            judge(&r, cur, &restricted()).len(),
            1,
            "10 CPUs through a shorter period"
        );
        let r = from_flags(&cmd(&["--cpu-period", "200000", "ID"])).unwrap();
        assert!(judge(&r, cur, &restricted()).is_empty());
    }

    #[test]
    fn documents_are_read_as_go_reads_them() {
        let p = restricted();
        let refused = |v: Value| -> Vec<&'static str> {
            judge(&from_json(&v).unwrap(), Current::default(), &p)
                .iter()
                .map(|r| r.field)
                .collect()
        };
        assert_eq!(refused(json!({"pids": {"limit": -1}})), ["pids.limit"]);
        assert_eq!(
            refused(json!({"memory": {"limit": 68719476736i64}})),
            ["memory.limit"]
        );
        assert_eq!(
            refused(json!({"unified": {"pids.max": "max"}})),
            ["unified"]
        );
        assert!(refused(json!({"memory": {"limit": 1048576}, "cpu": {"cpus": "0"}})).is_empty());
        // A nil pointer runc would dereference, a float, a string: not judged, refused.
        for bad in [
            json!({"memory": null}),
            json!({"memory": {"limit": 1.5}}),
            json!({"pids": {"limit": "-1"}}),
            json!([]),
        ] {
            assert!(from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stdin_is_read_to_the_end_of_the_first_object() {
        let mut input: &[u8] = b" {\"a\": \"}{\", \"b\": [1]} trailing";
        assert_eq!(
            read_document(&mut input).unwrap(),
            b" {\"a\": \"}{\", \"b\": [1]}"
        );
        let mut input: &[u8] = b"{\"a\": 1";
        assert_eq!(read_document(&mut input).unwrap(), b"{\"a\": 1");
    }

    /// Keys Go's decoder folds onto a field never reach [`from_json`]: the document is refused
    /// first (src/runc_fields.rs), so the decode here matches keys exactly.
    #[test]
    fn folded_keys_are_refused_before_decoding() {
        for doc in [
            r#"{"MEMORY": {"LIMIT": -1}}"#,
            r#"{"memory": {"\u017fwap": 1, "limit": -1}}"#,
            r#"{"memory": {"limit": 1}, "Memory": {"swap": 5}}"#,
            r#"{"memory": {"\u212aernel": 1}}"#,
            r#"{"pids": {"Limit": -1}}"#,
        ] {
            let err = parse_document(doc.as_bytes()).unwrap_err();
            assert!(
                format!("{err:#}").contains("would be read by runc as"),
                "{doc}: {err:#}"
            );
        }
        let ok = parse_document(br#"{"memory": {"kernelTCP": 0, "limit": 1048576}}"#).unwrap();
        assert_eq!(from_json(&ok).unwrap().memory, 1048576);
    }
}
