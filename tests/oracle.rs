//! Rampart's view of config.json against runc's, with a Go oracle (tests/oracle/spec): the same
//! encoding/json and runtime-spec types runc 1.1.5 is built from (Debian packages, installed by
//! scripts/setup-host).
//!
//! - the schema table in src/runc_fields_table.rs is what the oracle's `schema` prints
//!   (RAMPART_REGEN_TABLE=1 rewrites it);
//! - for every captured spec, nasty spec and generated spec Rampart accepts, runc's decoding of
//!   Rampart's hardened output (each built-in profile) equals Rampart's own view of it: the raw
//!   output projected onto runc's fields, zero values dropped on both sides (omitempty);
//! - for every generated spec with a key Go folds onto a field (case variants, `ſ`, `K`, at
//!   random depths, alone or after the exact key), Rampart refuses it, and the oracle shows runc
//!   would have read the key as that field;
//! - the attack through the real binary and real runc: a second key `"Process"`, `"mountſ"`,
//!   `"hookſ"` are refused, nothing runs, config.json is untouched (plain runc obeys them).
//!
//! PROPTEST_CASES sets the number of generated specs (default 1500).
mod common;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rampart::host::HostFacts;
use rampart::profile::{Profile, ProfileSource};
use rampart::runc_fields::{self, Root};
use rampart::spec::Spec;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// --------------------------------------------------------------------------------- oracle

/// The oracle binary, built once per test run into target/oracle.
fn oracle() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = manifest().join("target/oracle");
        fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("spec-oracle");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(manifest().join("tests/oracle/spec"))
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOCACHE", dir.join("gocache"))
            .env("GOFLAGS", "")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `go` to build the runc oracle ({e}): install golang-go, \
                     golang-github-opencontainers-specs-dev and \
                     golang-github-opencontainers-runc-dev (scripts/setup-host does)"
                )
            });
        assert!(
            out.status.success(),
            "building tests/oracle/spec failed (scripts/setup-host installs Go and the \
             runtime-spec sources):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

/// runc's decoding of each input (`mode`: spec, process, resources): Ok(json.Marshal of it) or
/// Err(the decode error). One oracle process for the whole batch.
fn decode_all(mode: &str, inputs: &[Vec<u8>]) -> Vec<Result<Value, String>> {
    let mut child = Command::new(oracle())
        .args(["batch", mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let framed: Vec<u8> = inputs
        .iter()
        .flat_map(|i| {
            let mut f = format!("{}\n", i.len()).into_bytes();
            f.extend_from_slice(i);
            f
        })
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(&framed).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "oracle batch failed");
    let lines: Vec<Result<Value, String>> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Value = serde_json::from_slice(l).unwrap();
            match v.get("ok") {
                Some(ok) => Ok(ok.clone()),
                None => Err(v["err"].as_str().unwrap_or_default().to_string()),
            }
        })
        .collect();
    assert_eq!(lines.len(), inputs.len(), "oracle answered fewer inputs");
    lines
}

fn decode(mode: &str, input: &[u8]) -> Result<Value, String> {
    decode_all(mode, &[input.to_vec()]).remove(0)
}

// --------------------------------------------------------------------------------- schema

/// The oracle's `schema`: type name -> [(JSON name, Go field, Go type, shape)].
struct Schema {
    raw: Value,
    types: BTreeMap<String, Vec<(String, String)>>,
}

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let out = Command::new(oracle()).arg("schema").output().unwrap();
        assert!(out.status.success());
        let raw: Value = serde_json::from_slice(&out.stdout).unwrap();
        let types = raw["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let fields = t["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["json"].as_str().unwrap().to_string(),
                            f["shape"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect();
                (t["name"].as_str().unwrap().to_string(), fields)
            })
            .collect();
        Schema { raw, types }
    })
}

/// A shape without its pointers (null leaves a Go pointer nil, as if absent).
fn deref(shape: &str) -> &str {
    let mut s = shape;
    while let Some(rest) = s.strip_prefix("ptr:") {
        s = rest;
    }
    s
}

/// The Rust expression for a shape in the generated table.
fn shape_expr(shape: &str, index: &BTreeMap<&str, usize>) -> String {
    let s = deref(shape);
    if let Some(t) = s.strip_prefix("struct:") {
        format!("Struct({})", index[t])
    } else if let Some(e) = s.strip_prefix("slice:") {
        format!("Slice(&{})", shape_expr(e, index))
    } else if let Some(e) = s.strip_prefix("map:") {
        format!("Map(&{})", shape_expr(e, index))
    } else if s == "any" {
        "Any".into()
    } else {
        assert!(s.starts_with("scalar:"), "unknown shape {s}");
        "Scalar".into()
    }
}

fn paths(s: &Schema, ty: &str, prefix: &str, depth: usize, out: &mut Vec<String>) {
    assert!(depth < 32, "recursive type {ty} at {prefix}");
    for (name, shape) in &s.types[ty] {
        let mut p = format!("{prefix}/{name}");
        out.push(p.clone());
        let mut sh = deref(shape);
        loop {
            if let Some(t) = sh.strip_prefix("struct:") {
                paths(s, t, &p, depth + 1, out);
                break;
            } else if let Some(e) = sh
                .strip_prefix("slice:")
                .or_else(|| sh.strip_prefix("map:"))
            {
                p.push_str("/*");
                sh = deref(e);
            } else {
                break;
            }
        }
    }
}

/// src/runc_fields_table.rs as generated from the oracle's schema.
fn render_table(s: &Schema) -> String {
    let types = s.raw["types"].as_array().unwrap();
    let index: BTreeMap<&str, usize> = types
        .iter()
        .enumerate()
        .map(|(i, t)| (t["name"].as_str().unwrap(), i))
        .collect();
    let mut out = String::from(
        "// @generated by tests/oracle.rs (RAMPART_REGEN_TABLE=1 cargo test --test oracle) from\n\
         // `spec-oracle schema`: runtime-spec's Go types as runc 1.1.5 decodes them. Do not edit.\n\n\
         use super::Shape::*;\nuse super::{Field, Type};\n\n",
    );
    for (konst, root) in [
        ("SPEC", "spec"),
        ("PROCESS", "process"),
        ("LINUX_RESOURCES", "resources"),
    ] {
        let name = s.raw["roots"][root].as_str().unwrap();
        out += &format!("pub(super) const {konst}: usize = {};\n", index[name]);
    }
    out += "\npub(super) static TYPES: &[Type] = &[\n";
    for (i, t) in types.iter().enumerate() {
        out += &format!(
            "    // {i}\n    Type {{\n        name: {:?},\n        fields: &[\n",
            t["name"].as_str().unwrap()
        );
        for f in t["fields"].as_array().unwrap() {
            let json = f["json"].as_str().unwrap();
            assert!(
                json.is_ascii() && !json.contains(['~', '/']) && !json.is_empty(),
                "field name {json:?}: runc_fields::go_fold_match handles plain ASCII names only"
            );
            out += &format!(
                "            // {} {}\n            Field {{\n                json: {json:?},\n                shape: &{},\n            }},\n",
                f["go"].as_str().unwrap(),
                f["type"].as_str().unwrap(),
                shape_expr(f["shape"].as_str().unwrap(), &index)
            );
        }
        out += "        ],\n    },\n";
    }
    out += "];\n\npub(super) static FIELD_PATHS: &[&str] = &[\n";
    let mut all = Vec::new();
    paths(s, s.raw["roots"]["spec"].as_str().unwrap(), "", 0, &mut all);
    for p in &all {
        out += &format!("    {p:?},\n");
    }
    out += "];\n";
    out
}

#[test]
fn the_field_table_is_generated_from_runcs_go_types() {
    let want = render_table(schema());
    let path = manifest().join("src/runc_fields_table.rs");
    if std::env::var_os("RAMPART_REGEN_TABLE").is_some_and(|v| v == "1") {
        fs::write(&path, &want).unwrap();
    }
    let have = fs::read_to_string(&path).unwrap();
    assert!(
        have == want,
        "src/runc_fields_table.rs is stale: regenerate it with \
         RAMPART_REGEN_TABLE=1 cargo test --test oracle the_field_table"
    );
    let mut all = Vec::new();
    paths(schema(), "Spec", "", 0, &mut all);
    assert_eq!(runc_fields::field_paths(), all.as_slice());
    for p in [
        "/process/capabilities/bounding",
        "/linux/resources/memory/limit",
        "/mounts/*/type",
        "/linux/seccomp/syscalls/*/args/*/op",
        "/linux/resources/rdma/*/hcaHandles",
        "/linux/resources/blockIO/weightDevice/*/major",
        "/hooks/prestart/*/path",
    ] {
        assert!(all.iter().any(|a| a == p), "{p} missing");
    }
}

// ------------------------------------------------------------------------- projection

/// Rampart's raw document as runc's types see it: fields runc knows, nothing else.
fn project(v: &Value, shape: &str) -> Value {
    let s = deref(shape);
    match v {
        Value::Object(m) => {
            if let Some(t) = s.strip_prefix("struct:") {
                let fields = &schema().types[t];
                Value::Object(
                    m.iter()
                        .filter_map(|(k, x)| {
                            let (_, sh) = fields.iter().find(|(n, _)| n == k)?;
                            Some((k.clone(), project(x, sh)))
                        })
                        .collect(),
                )
            } else if let Some(e) = s.strip_prefix("map:") {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), project(x, e))).collect())
            } else {
                v.clone()
            }
        }
        Value::Array(a) => match s.strip_prefix("slice:") {
            Some(e) => Value::Array(a.iter().map(|x| project(x, e)).collect()),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

/// Drops zero values (null, "", 0, false, [], {}) as Go's omitempty does; numbers compared by
/// value.
fn normalise(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(b) => b.then_some(Value::Bool(true)),
        Value::String(s) => (!s.is_empty()).then(|| v.clone()),
        Value::Number(n) => {
            let c = if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().unwrap())
            };
            (c != json!(0) && c != json!(0.0)).then_some(c)
        }
        Value::Array(a) => (!a.is_empty()).then(|| {
            Value::Array(
                a.iter()
                    .map(|x| normalise(x).unwrap_or(Value::Null))
                    .collect(),
            )
        }),
        Value::Object(m) => {
            let o: Map<String, Value> = m
                .iter()
                .filter_map(|(k, x)| Some((k.clone(), normalise(x)?)))
                .collect();
            (!o.is_empty()).then_some(Value::Object(o))
        }
    }
}

fn norm(v: &Value) -> Value {
    normalise(v).unwrap_or(Value::Null)
}

fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if p == q => {}
                    (Some(p), Some(q)) => return first_difference(p, q, &format!("{at}/{k}")),
                    (p, q) => return format!("{at}/{k}: {p:?} vs {q:?}"),
                }
            }
            format!("{at}: equal")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return first_difference(p, q, &format!("{at}/{i}"));
                }
            }
            format!("{at}: equal")
        }
        _ => format!("{at}: {a} vs {b}"),
    }
}

// --------------------------------------------------------------------------------- inputs

fn profiles() -> Vec<Profile> {
    ["restricted", "baseline", "isolated"]
        .iter()
        .map(|n| ProfileSource::default().load(n).unwrap())
        .collect()
}

fn json_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            let name = p.strip_prefix(manifest()).unwrap().display().to_string();
            out.push((name, fs::read(&p).unwrap()));
        }
    }
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    json_files(&manifest().join("tests/fixtures/specs"), &mut out);
    json_files(&manifest().join("tests/fixtures/nasty"), &mut out);
    out
}

/// Every inputs Rampart accepts: (name, hardened bytes) for each profile that hardens it, and
/// the input itself.
fn accepted_outputs(name: &str, bytes: &[u8], profiles: &[Profile]) -> Vec<(String, Vec<u8>)> {
    let Ok(spec) = Spec::from_slice(bytes) else {
        return Vec::new();
    };
    let mut out = vec![(format!("{name} (input)"), spec.to_vec())];
    let facts = HostFacts::for_tests();
    for p in profiles {
        if let Ok((hardened, _)) = rampart::pipeline::rewrite(bytes, p, &facts) {
            out.push((format!("{name} under {}", p.name), hardened.to_vec()));
        }
    }
    out
}

/// Checks runc's view of each output against Rampart's; returns the disagreements. An output
/// runc cannot decode is not one (runc refuses the container: fail closed); those errors are
/// counted in `runc_refuses`.
fn compare(
    outputs: &[(String, Vec<u8>)],
    runc_refuses: &mut BTreeMap<String, usize>,
) -> Vec<String> {
    let bytes: Vec<Vec<u8>> = outputs.iter().map(|(_, b)| b.clone()).collect();
    let runc = decode_all("spec", &bytes);
    let mut problems = Vec::new();
    for ((name, b), r) in outputs.iter().zip(runc) {
        let raw: Value = serde_json::from_slice(b).unwrap();
        let ours = norm(&project(&raw, "struct:Spec"));
        match r {
            Err(e) => *runc_refuses.entry(e).or_default() += 1,
            Ok(theirs) => {
                let theirs = norm(&theirs);
                if theirs != ours {
                    problems.push(format!(
                        "{name}: runc reads it differently: {}",
                        first_difference(&ours, &theirs, "")
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn runc_reads_what_rampart_writes_for_every_captured_and_nasty_spec() {
    let profiles = profiles();
    let mut outputs = Vec::new();
    let corpus = corpus();
    for (name, bytes) in &corpus {
        outputs.extend(accepted_outputs(name, bytes, &profiles));
    }
    assert!(outputs.len() >= 20, "too few accepted: {}", outputs.len());
    let mut runc_refuses = BTreeMap::new();
    let problems = compare(&outputs, &mut runc_refuses);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        runc_refuses.is_empty(),
        "runc cannot decode: {runc_refuses:?}"
    );
    // The fold fixtures in the nasty corpus: refused, and runc reads the key.
    let folds: Vec<_> = corpus
        .iter()
        .filter(|(n, _)| n.contains("nasty/fold-"))
        .collect();
    assert!(folds.len() >= 3);
    for (name, bytes) in folds {
        let err = format!("{:#}", Spec::from_slice(bytes).unwrap_err());
        assert!(err.contains("would be read by runc as"), "{name}: {err}");
        assert!(decode("spec", bytes).is_ok(), "{name}: runc decodes it");
    }
}

// ------------------------------------------------------------------------------ generator

/// An object of `v` at a struct position: its pointer and its type.
fn struct_objects(v: &Value, shape: &str, at: String, out: &mut Vec<(String, String)>) {
    let s = deref(shape);
    match v {
        Value::Object(m) => {
            if let Some(t) = s.strip_prefix("struct:") {
                out.push((at.clone(), t.to_string()));
                for (k, x) in m {
                    if let Some((_, sh)) = schema().types[t].iter().find(|(n, _)| n == k) {
                        struct_objects(x, sh, format!("{at}/{}", esc(k)), out);
                    }
                }
            } else if let Some(e) = s.strip_prefix("map:") {
                for (k, x) in m {
                    struct_objects(x, e, format!("{at}/{}", esc(k)), out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(e) = s.strip_prefix("slice:") {
                for (i, x) in a.iter().enumerate() {
                    struct_objects(x, e, format!("{at}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

fn esc(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Every object in `v` (for unknown keys), by pointer.
fn all_objects(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            out.push(at.clone());
            for (k, x) in m {
                all_objects(x, format!("{at}/{}", esc(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                all_objects(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A key Go matches to `name` that is not `name`: case flips, `ſ` for an s, `K` for a k.
fn fold_variant(name: &str, kind: u8, pick: u64) -> String {
    let chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|i| chars[*i].is_ascii_alphabetic())
        .collect();
    let specials: Vec<usize> = (0..chars.len())
        .filter(|i| matches!(chars[*i].to_ascii_lowercase(), 's' | 'k'))
        .collect();
    let mut c = chars.clone();
    match kind % 4 {
        0 => c.iter_mut().for_each(|x| *x = x.to_ascii_uppercase()),
        1 if !specials.is_empty() => {
            let i = specials[pick as usize % specials.len()];
            c[i] = if c[i].eq_ignore_ascii_case(&'s') {
                '\u{17f}'
            } else {
                '\u{212a}'
            };
        }
        2 => {
            // Flip some letters (at least one).
            for (n, i) in letters.iter().enumerate() {
                if n as u64 == pick % letters.len() as u64 || (pick >> (n % 60)) & 1 == 1 {
                    c[*i] = if c[*i].is_ascii_uppercase() {
                        c[*i].to_ascii_lowercase()
                    } else {
                        c[*i].to_ascii_uppercase()
                    };
                }
            }
        }
        _ => {
            let i = letters[pick as usize % letters.len()];
            c[i] = if c[i].is_ascii_uppercase() {
                c[i].to_ascii_lowercase()
            } else {
                c[i].to_ascii_uppercase()
            };
        }
    }
    let mut s: String = c.into_iter().collect();
    if s == name {
        // All-uppercase of an all-uppercase name, say: flip the first letter.
        let i = letters[0];
        let mut c: Vec<char> = name.chars().collect();
        c[i] = if c[i].is_ascii_uppercase() {
            c[i].to_ascii_lowercase()
        } else {
            c[i].to_ascii_uppercase()
        };
        s = c.into_iter().collect();
    }
    s
}

const STRINGS: &[&str] = &[
    "",
    "x",
    "/tmp",
    "rw",
    "bind",
    "CAP_CHOWN",
    "SCMP_ACT_ALLOW",
    "1.0.2",
    "0-1",
    "nosuid",
];
const NUMBERS: &[i64] = &[0, 1, 7, 100, 1024, 65535, 1 << 20, -1];

/// A value of the Go type a shape describes (mostly well-typed, so that Rampart accepts some).
fn value_for(shape: &str, seed: u64) -> Value {
    let s = deref(shape);
    if s.starts_with("struct:") || s.starts_with("map:") {
        json!({})
    } else if let Some(e) = s.strip_prefix("slice:") {
        if seed.is_multiple_of(3) {
            json!([])
        } else {
            json!([value_for(e, seed / 3)])
        }
    } else if s == "scalar:string" {
        json!(STRINGS[seed as usize % STRINGS.len()])
    } else if s == "scalar:bool" {
        json!(seed.is_multiple_of(2))
    } else if s.starts_with("scalar:int")
        || s.starts_with("scalar:uint")
        || s.starts_with("scalar:float")
    {
        let n = NUMBERS[seed as usize % NUMBERS.len()];
        if s.starts_with("scalar:uint") {
            json!(n.unsigned_abs())
        } else {
            json!(n)
        }
    } else {
        json!(STRINGS[seed as usize % STRINGS.len()])
    }
}

/// A generated case: a captured spec, field edits at known paths, unknown keys at random
/// depths, and maybe one folding key.
#[derive(Debug, Clone)]
struct Case {
    fixture: usize,
    edits: Vec<(u64, u64)>,
    unknown: Vec<(u64, u64)>,
    /// (object pick, key pick, variant, pick, keep the exact key too)
    fold: Option<(u64, u64, u8, u64, bool)>,
}

fn case_strategy(n: usize) -> impl Strategy<Value = Case> {
    (
        0..n,
        prop::collection::vec((any::<u64>(), any::<u64>()), 0..6),
        prop::collection::vec((any::<u64>(), any::<u64>()), 0..3),
        prop::option::weighted(
            0.5,
            (
                any::<u64>(),
                any::<u64>(),
                any::<u8>(),
                any::<u64>(),
                prop::bool::weighted(0.25),
            ),
        ),
    )
        .prop_map(|(fixture, edits, unknown, fold)| Case {
            fixture,
            edits,
            unknown,
            fold,
        })
}

/// A schema path with `*` made concrete: `0` for an array, `k0` for a map key.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut schema_prefix = String::new();
    for seg in path.split('/').skip(1) {
        out.push('/');
        if seg == "*" {
            let shape = shape_at(&schema_prefix).unwrap();
            out.push_str(if deref(&shape).starts_with("map:") {
                "k0"
            } else {
                "0"
            });
        } else {
            out.push_str(seg);
        }
        schema_prefix.push('/');
        schema_prefix.push_str(seg);
    }
    out
}

/// The shape of the field at a schema path with `*` for indexes and map keys.
fn shape_at(path: &str) -> Option<String> {
    let mut shape = "struct:Spec".to_string();
    for seg in path.split('/').skip(1) {
        let s = deref(&shape).to_string();
        shape = if seg == "*" {
            s.strip_prefix("slice:")
                .or_else(|| s.strip_prefix("map:"))?
                .to_string()
        } else {
            let t = s.strip_prefix("struct:")?;
            schema().types[t].iter().find(|(n, _)| n == seg)?.1.clone()
        };
    }
    Some(shape)
}

fn set_ptr(root: &mut Value, ptr: &str, v: Value) {
    let mut cur = root;
    let parts: Vec<&str> = ptr.split('/').skip(1).collect();
    for (i, p) in parts.iter().enumerate() {
        if cur.is_null() {
            // `0` makes an array of one element, anything else an object.
            *cur = match *p {
                "0" => json!([null]),
                _ => json!({}),
            };
        }
        match cur {
            Value::Object(o) => {
                if i == parts.len() - 1 {
                    o.insert(p.to_string(), v);
                    return;
                }
                cur = o.entry(p.to_string()).or_insert(Value::Null);
            }
            Value::Array(a) => {
                let Some(x) = p.parse::<usize>().ok().and_then(|i| a.get_mut(i)) else {
                    return;
                };
                if i == parts.len() - 1 {
                    *x = v;
                    return;
                }
                cur = x;
            }
            _ => return,
        }
    }
}

/// What a case turned into.
struct Generated {
    doc: Value,
    /// For a folding key: the object's pointer, the key, the field, the document with the exact
    /// key (what runc reads), and without the key (what Rampart would have read).
    fold: Option<(String, String, String, Value, Value)>,
    dup: bool,
}

fn generate(c: &Case, fixtures: &[Value]) -> Generated {
    let mut doc = fixtures[c.fixture].clone();
    let all = runc_fields::field_paths();
    for (pick, seed) in &c.edits {
        let path = all[*pick as usize % all.len()];
        let Some(shape) = shape_at(path) else {
            continue;
        };
        // `*`: the first element of an existing array, or a fresh key of a map.
        let concrete = concrete(path);
        set_ptr(&mut doc, &concrete, value_for(&shape, *seed));
    }
    for (n, (pick, seed)) in c.unknown.iter().enumerate() {
        let mut objs = Vec::new();
        all_objects(&doc, String::new(), &mut objs);
        let at = &objs[*pick as usize % objs.len()];
        let key = format!("x-oracle-{n}");
        let v = value_for("scalar:string", *seed);
        if let Some(o) = doc.pointer_mut(at).and_then(Value::as_object_mut) {
            o.insert(key, v);
        }
    }
    let mut fold = None;
    let mut dup = false;
    if let Some((obj_pick, key_pick, kind, pick, keep)) = c.fold {
        let mut objs = Vec::new();
        struct_objects(&doc, "struct:Spec", String::new(), &mut objs);
        // Objects with at least one field set.
        let objs: Vec<(String, Vec<String>)> = objs
            .into_iter()
            .filter_map(|(at, t)| {
                let keys: Vec<String> = doc
                    .pointer(&at)?
                    .as_object()?
                    .keys()
                    .filter(|k| schema().types[&t].iter().any(|(n, _)| n == *k))
                    .cloned()
                    .collect();
                (!keys.is_empty()).then_some((at, keys))
            })
            .collect();
        if !objs.is_empty() {
            let (at, keys) = &objs[obj_pick as usize % objs.len()];
            let field = keys[key_pick as usize % keys.len()].clone();
            let key = fold_variant(&field, kind, pick);
            let exact = doc.clone();
            let mut without = doc.clone();
            without
                .pointer_mut(at)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(&field);
            let obj = doc.pointer_mut(at).unwrap().as_object_mut().unwrap();
            if keep && obj[&field].is_string() {
                // The exact key first, then the folding key with another value: runc takes
                // the later one.
                obj.insert(key.clone(), json!("x-oracle-later"));
                dup = true;
                fold = Some((at.clone(), key, field, exact, without));
            } else {
                let v = obj.remove(&field).unwrap();
                obj.insert(key.clone(), v);
                fold = Some((at.clone(), key, field, exact, without));
            }
        }
    }
    Generated { doc, fold, dup }
}

fn seeded_runner(cases: u32) -> (TestRunner, u64) {
    let seed: u64 = std::env::var("RAMPART_PROPS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed >> (8 * (i % 8))) as u8 ^ i as u8;
    }
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    (
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)),
        seed,
    )
}

#[test]
fn generated_specs_runc_reads_what_rampart_writes_and_folding_keys_are_refused() {
    let start = Instant::now();
    let n: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let fixtures: Vec<Value> = {
        let mut f = Vec::new();
        json_files(&manifest().join("tests/fixtures/specs"), &mut f);
        f.iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    };
    let profiles = profiles();
    let (mut runner, seed) = seeded_runner(n as u32);
    let strategy = case_strategy(fixtures.len());
    let mut outputs = Vec::new();
    let mut folds = Vec::new();
    let mut problems = Vec::new();
    let (mut accepted, mut refused_fold) = (0, 0);
    for i in 0..n {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        let g = generate(&c, &fixtures);
        let bytes = serde_json::to_vec(&g.doc).unwrap();
        let name = format!("case {i} {c:?}");
        match &g.fold {
            None => {
                let outs = accepted_outputs(&name, &bytes, &profiles);
                accepted += !outs.is_empty() as usize;
                outputs.extend(outs);
            }
            Some((at, key, field, _, _)) => {
                match Spec::from_slice(&bytes) {
                    Ok(_) => problems.push(format!("{name}: key {key:?} at {at} accepted")),
                    Err(e) => {
                        let e = format!("{e:#}");
                        let want = format!(
                            "key {key:?} at {} would be read by runc as {field:?}",
                            if at.is_empty() { "/" } else { at }
                        );
                        if !e.contains(&want) {
                            problems
                                .push(format!("{name}: refused, but not for the folding key: {e}"));
                        }
                    }
                }
                refused_fold += 1;
                folds.push((name, bytes, g));
            }
        }
    }
    let mut runc_refuses = BTreeMap::new();
    problems.extend(compare(&outputs, &mut runc_refuses));
    // The differential is real: runc reads the folding key as the field.
    let mut inputs = Vec::new();
    for (_, bytes, g) in &folds {
        let (_, _, _, exact, without) = g.fold.as_ref().unwrap();
        inputs.push(bytes.clone());
        inputs.push(serde_json::to_vec(exact).unwrap());
        inputs.push(serde_json::to_vec(without).unwrap());
    }
    let runc = decode_all("spec", &inputs);
    let mut shown = 0;
    for (i, (name, _, g)) in folds.iter().enumerate() {
        let (at, key, field, _, _) = g.fold.as_ref().unwrap();
        let [folded, exact, without] = [&runc[3 * i], &runc[3 * i + 1], &runc[3 * i + 2]];
        let folded = folded.as_ref().map(norm);
        if g.dup {
            // The later (folding) key wins in runc.
            let got = folded
                .as_ref()
                .map(|v| v.pointer(&format!("{at}/{field}")).cloned());
            if got != Ok(Some(json!("x-oracle-later"))) && exact.is_ok() {
                problems.push(format!(
                    "{name}: runc did not take the later key {key:?}: {got:?}"
                ));
            } else {
                shown += 1;
            }
        } else {
            let same = match (&folded, exact) {
                (Ok(f), Ok(e)) => *f == norm(e),
                // Both refused (a wrong type elsewhere): runc reads neither.
                (Err(_), Err(_)) => true,
                _ => false,
            };
            if !same {
                problems.push(format!("{name}: runc does not read {key:?} as {field:?}"));
            }
            if folded != without.as_ref().map(norm) {
                shown += 1;
            }
        }
    }
    eprintln!(
        "oracle: RAMPART_PROPS_SEED={seed}: {n} generated specs ({accepted} accepted, {} outputs \
         compared with runc's decoding; {refused_fold} with a folding key refused, {shown} of \
         them changing what runc reads) in {:.1?}; runc itself refuses {} outputs Rampart \
         accepts (fail closed): {runc_refuses:?}",
        outputs.len(),
        start.elapsed(),
        runc_refuses.values().sum::<usize>()
    );
    assert!(
        problems.is_empty(),
        "seed {seed}:\n{}",
        problems[..problems.len().min(20)].join("\n")
    );
    assert!(
        accepted * 5 >= n / 2 / 2,
        "too few accepted: {accepted} of {n}"
    );
    assert!(
        shown * 2 >= refused_fold,
        "folding keys rarely matter: {shown} of {refused_fold}"
    );
}

#[test]
fn process_and_resources_decode_like_runc_exec_and_update() {
    // exec --process: a folding key refused by Rampart, read by runc.
    let p = br#"{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},"Capabilities":{"bounding":["CAP_SYS_ADMIN"]}}"#;
    let v: Value = serde_json::from_slice(p).unwrap();
    let e = runc_fields::check(&v, Root::Process)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"key "Capabilities" at / would be read by runc as "capabilities""#),
        "{e}"
    );
    let runc = decode("process", p).unwrap();
    assert_eq!(runc["capabilities"]["bounding"], json!(["CAP_SYS_ADMIN"]));
    // update -r: memory "Limit", pids "limiT".
    let r = br#"{"memory":{"Limit":1},"pids":{"limiT":5},"unified":{"Memory.max":"1"}}"#;
    let v: Value = serde_json::from_slice(r).unwrap();
    let e = runc_fields::check(&v, Root::LinuxResources)
        .unwrap_err()
        .to_string();
    assert!(e.contains(r#"key "Limit" at /memory"#), "{e}");
    let runc = decode("resources", r).unwrap();
    assert_eq!(runc["memory"]["limit"], json!(1));
    assert_eq!(runc["pids"]["limit"], json!(5));
    // Map keys are literal for Go as for Rampart.
    assert_eq!(runc["unified"], json!({"Memory.max": "1"}));
    assert!(
        runc_fields::check(
            &json!({"unified": {"Memory.max": "1"}}),
            Root::LinuxResources
        )
        .is_ok()
    );
}

// ------------------------------------------------------------------- through real runc

/// A rampart config for these tests: the real runc.
fn config_file() -> PathBuf {
    static CFG: OnceLock<PathBuf> = OnceLock::new();
    CFG.get_or_init(|| {
        let dir = manifest().join("target/e2e");
        fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join(format!("rampart-oracle-{}.toml", std::process::id()));
        fs::write(
            &cfg,
            format!(
                "runtime = {:?}\naudit_log = {:?}\n",
                common::runc_path(),
                dir.join("audit-oracle.log")
            ),
        )
        .unwrap();
        cfg
    })
    .clone()
}

fn rampart() -> common::Runtime {
    common::Runtime::Rampart {
        args: vec![
            format!("--rampart-config={}", config_file().display()),
            "--rampart-profile".into(),
            "restricted".into(),
        ],
    }
}

/// `runc state ID` under the e2e state dir: Err(stderr) when the container does not exist.
fn runc_state(id: &str) -> Result<String, String> {
    let out = Command::new(common::runc_path())
        .arg("--root")
        .arg(manifest().join("target/e2e/state"))
        .args(["state", id])
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

/// Runs `spec` through rampart: refused with `needle`, nothing started, config.json untouched.
fn refused_untouched(spec: &Value, needle: &str, marker: Option<&Path>) {
    let bundle = common::Bundle::new(spec);
    let before = fs::read(bundle.dir.join("config.json")).unwrap();
    let out = common::run_container(rampart(), &bundle);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "rampart ran it\n{}",
        common::describe(&out)
    );
    assert!(
        stderr.contains(needle),
        "{needle}\n{}",
        common::describe(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("CapBnd"),
        "the container ran"
    );
    if let Some(m) = marker {
        assert!(!m.exists(), "the hook ran on the host: {}", m.display());
    }
    let state = runc_state(&bundle.id).unwrap_err();
    assert!(state.contains("does not exist"), "{state}");
    assert_eq!(
        fs::read(bundle.dir.join("config.json")).unwrap(),
        before,
        "config.json changed"
    );
}

#[test]
fn folding_keys_are_refused_before_runc_sees_them() {
    if !common::require_root_tools() {
        return;
    }
    let rootfs = common::rootfs();

    // A second process object, "Process": all capabilities, no NNP. Go merges it into
    // process (the later key wins field by field).
    let mut spec = common::docker_like_spec(&rootfs, &["/bin/probe", "status"]);
    // Every capability this test holds (the machine's bounding set may lack some).
    let all: Vec<String> = caps::read(None, caps::CapSet::Bounding)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    spec["Process"] = json!({
        "capabilities": {"bounding": all, "effective": all, "permitted": all},
        "noNewPrivileges": false,
    });
    let plain = common::expect_success(&common::run_container(
        common::Runtime::PlainRunc,
        &common::Bundle::new(&spec),
    ));
    let bnd = common::status_field(&plain, "CapBnd").unwrap();
    assert_ne!(
        bnd, "00000000a80425fb",
        "plain runc reads \"Process\": all caps\n{plain}"
    );
    refused_untouched(
        &spec,
        r#"key "Process" at / would be read by runc as "process""#,
        None,
    );

    // "mountſ": host / bound at /host.
    let mut spec = common::docker_like_spec(&rootfs, &["sh", "-c", "ls /host/etc/os-release"]);
    let mut mounts = spec["mounts"].as_array().unwrap().clone();
    mounts.push(
        json!({"destination": "/host", "type": "bind", "source": "/", "options": ["rbind", "rw"]}),
    );
    spec.as_object_mut().unwrap().remove("mounts");
    spec["mount\u{17f}"] = json!(mounts);
    let plain = common::run_container(common::Runtime::PlainRunc, &common::Bundle::new(&spec));
    assert!(
        String::from_utf8_lossy(&plain.stdout).contains("/host/etc/os-release"),
        "plain runc mounts host /\n{}",
        common::describe(&plain)
    );
    refused_untouched(
        &spec,
        "key \"mount\u{17f}\" at / would be read by runc as \"mounts\"",
        None,
    );

    // "hookſ": a prestart hook, run by runc as host root.
    let marker_dir = manifest()
        .join("target/e2e/hostfiles")
        .join(format!("hook-{}", std::process::id()));
    fs::create_dir_all(&marker_dir).unwrap();
    let marker = marker_dir.join("marker");
    let _ = fs::remove_file(&marker);
    let mut spec = common::docker_like_spec(&rootfs, &["true"]);
    spec["hook\u{17f}"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", marker.display())]}]});
    common::run_container(common::Runtime::PlainRunc, &common::Bundle::new(&spec));
    assert!(
        marker.exists(),
        "plain runc runs the hook from \"hook\u{17f}\""
    );
    fs::remove_file(&marker).unwrap();
    refused_untouched(
        &spec,
        "key \"hook\u{17f}\" at / would be read by runc as \"hooks\"",
        Some(&marker),
    );
}

/// Rampart refuses a key exactly when Go reads it as the field: case flips, `ſ`, `K` and
/// near-misses (ı, İ, the other non-ASCII fold, an extra letter), for names of each of Go's
/// three fold functions (letters only; with k or s; with non-letters).
#[test]
fn fold_decisions_agree_with_go() {
    let names = [
        ("/", "hostname"),
        ("/", "domainname"),
        ("/", "ociVersion"),
        ("/linux", "cgroupsPath"),
        ("/linux", "mountLabel"),
        ("/linux/intelRdt", "l3CacheSchema"),
        ("/linux/intelRdt", "closID"),
        ("/process", "cwd"),
        ("/process", "apparmorProfile"),
    ];
    let mut cases = Vec::new();
    for (at, name) in names {
        let chars: Vec<char> = name.chars().collect();
        let mut variants = vec![
            name.to_uppercase(),
            format!("{name}s"),
            format!("{name}\u{17f}"),
        ];
        for i in 0..chars.len() {
            let with = |c: char| {
                let mut v = chars.clone();
                v[i] = c;
                v.into_iter().collect::<String>()
            };
            let flipped = if chars[i].is_ascii_uppercase() {
                chars[i].to_ascii_lowercase()
            } else {
                chars[i].to_ascii_uppercase()
            };
            for c in [
                flipped,
                '\u{17f}',
                '\u{212a}',
                '\u{131}',
                '\u{130}',
                '\u{1e9e}',
                (chars[i] as u8 ^ 0x20) as char,
            ] {
                variants.push(with(c));
            }
        }
        variants.sort();
        variants.dedup();
        variants.retain(|v| v != name);
        for key in variants {
            let mut doc =
                json!({"ociVersion": "1.0.2", "linux": {"intelRdt": {}}, "process": {"cwd": "/"}});
            let obj = if at == "/" {
                &mut doc
            } else {
                doc.pointer_mut(at).unwrap()
            };
            obj.as_object_mut()
                .unwrap()
                .insert(key.clone(), json!("v-oracle"));
            cases.push((at, name, key, doc));
        }
    }
    let inputs: Vec<Vec<u8>> = cases
        .iter()
        .map(|c| serde_json::to_vec(&c.3).unwrap())
        .collect();
    let runc = decode_all("spec", &inputs);
    let mut problems = Vec::new();
    let mut matched = 0;
    for ((at, name, key, doc), r) in cases.iter().zip(runc) {
        let ptr = if *at == "/" {
            format!("/{name}")
        } else {
            format!("{at}/{name}")
        };
        let go_reads = r
            .as_ref()
            .is_ok_and(|v| v.pointer(&ptr) == Some(&json!("v-oracle")));
        let refused = runc_fields::check(doc, Root::Spec).is_err();
        matched += go_reads as usize;
        if go_reads != refused {
            problems.push(format!(
                "{at} {key:?} for {name}: Go reads it: {go_reads}, Rampart refuses: {refused}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        matched > 50 && matched < cases.len(),
        "{matched} of {}",
        cases.len()
    );
}
