//! Keys that runc reads as a field although Rampart does not.
//!
//! runc decodes config.json (`loadSpec`), `runc exec --process FILE` and `runc update -r`
//! with Go's encoding/json, which matches an object key to a struct field exactly first and
//! then case-insensitively, with Unicode simple folding (`ſ` U+017F reads as `s`, the Kelvin
//! sign U+212A as `k`), and lets a later key that matches the same field win. Rampart, like
//! every serde reader, matches keys exactly: `"Process"`, `"capabilitieſ"`, `"mountſ"` would
//! reach runc unseen. [`check`] walks a document along the types runc decodes it into and
//! refuses every key that is not exactly a field name but that Go would match to one.
//! Keys that match no field pass (runc ignores them); map keys (annotations, sysctl,
//! unified, rdma) are literal in Go too and are not looked at.
//!
//! The types come from `runc_fields_table.rs`, generated from the Go oracle
//! (tests/oracle/spec, mode `schema`: reflection over runtime-spec's Go types as runc 1.1.5
//! is built against them); tests/oracle.rs regenerates it and checks it is current.

use anyhow::{Result, bail};
use serde_json::{Map, Value};

#[rustfmt::skip]
#[path = "runc_fields_table.rs"]
mod table;

/// What runc decodes a document into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// config.json: `specs.Spec`.
    Spec,
    /// `runc exec --process FILE`: `specs.Process`.
    Process,
    /// `runc update --resources FILE|-`: `specs.LinuxResources`.
    LinuxResources,
}

impl Root {
    fn ty(self) -> usize {
        match self {
            Root::Spec => table::SPEC,
            Root::Process => table::PROCESS,
            Root::LinuxResources => table::LINUX_RESOURCES,
        }
    }

    fn document(self) -> &'static str {
        match self {
            Root::Spec => "config.json",
            Root::Process => "exec process file",
            Root::LinuxResources => "update resources",
        }
    }
}

/// How encoding/json decodes a value (pointers are transparent: null leaves them nil).
#[derive(Debug)]
pub(crate) enum Shape {
    /// A number, string or bool.
    Scalar,
    /// `interface{}`: any JSON, maps with literal keys.
    Any,
    /// A struct: index into the type table.
    Struct(usize),
    /// A slice or array of the shape.
    Slice(&'static Shape),
    /// A map with string keys (kept literally) and values of the shape.
    Map(&'static Shape),
}

#[derive(Debug)]
pub(crate) struct Field {
    pub json: &'static str,
    pub shape: &'static Shape,
}

#[derive(Debug)]
pub(crate) struct Type {
    /// The Go type's name (for readers of the table and tests).
    #[allow(dead_code)]
    pub name: &'static str,
    pub fields: &'static [Field],
}

/// Every field runc decodes in config.json, as a JSON pointer with `*` for any array index or
/// map key (`/process/capabilities/bounding`, `/mounts/*/type`,
/// `/linux/resources/rdma/*/hcaHandles`), in the order of runtime-spec's Go types.
pub fn field_paths() -> &'static [&'static str] {
    table::FIELD_PATHS
}

/// Refuses every key of `value` that runc would read as a field it is not spelled as.
pub fn check(value: &Value, root: Root) -> Result<()> {
    walk(value, &Shape::Struct(root.ty()), None, root)
}

/// Where a value is, as a chain on the stack (rendered only for an error).
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Seg<'a>,
}

fn pointer(at: Option<&At>) -> String {
    let mut segs = Vec::new();
    let mut cur = at;
    while let Some(a) = cur {
        segs.push(match &a.seg {
            Seg::Key(k) => k.replace('~', "~0").replace('/', "~1"),
            Seg::Index(i) => i.to_string(),
        });
        cur = a.parent;
    }
    if segs.is_empty() {
        return "/".to_string();
    }
    segs.iter().rev().map(|s| format!("/{s}")).collect()
}

fn walk(value: &Value, shape: &Shape, at: Option<&At>, root: Root) -> Result<()> {
    match (shape, value) {
        (Shape::Struct(t), Value::Object(map)) => object(map, &table::TYPES[*t], at, root),
        (Shape::Slice(elem), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let here = At {
                    parent: at,
                    seg: Seg::Index(i),
                };
                walk(item, elem, Some(&here), root)?;
            }
            Ok(())
        }
        (
            Shape::Map(elem @ (Shape::Struct(_) | Shape::Slice(_) | Shape::Map(_))),
            Value::Object(map),
        ) => {
            for (key, item) in map {
                let here = At {
                    parent: at,
                    seg: Seg::Key(key),
                };
                walk(item, elem, Some(&here), root)?;
            }
            Ok(())
        }
        // Scalars, interface{}, maps of those, and values of the wrong type (runc refuses
        // those itself).
        _ => Ok(()),
    }
}

fn object(map: &Map<String, Value>, ty: &Type, at: Option<&At>, root: Root) -> Result<()> {
    for (key, value) in map {
        let field = match ty.fields.iter().find(|f| f.json == key) {
            Some(f) => f,
            None => match ty.fields.iter().find(|f| go_fold_match(f.json, key)) {
                Some(f) => bail!(
                    "{} key {key:?} at {} would be read by runc as {:?} (Go matches keys \
                     case-insensitively); refused: write it as {:?}",
                    root.document(),
                    pointer(at),
                    f.json,
                    f.json
                ),
                // runc ignores keys that match no field.
                None => continue,
            },
        };
        let here = At {
            parent: at,
            seg: Seg::Key(key),
        };
        walk(value, field.shape, Some(&here), root)?;
    }
    Ok(())
}

/// Whether Go 1.19's encoding/json matches `key` to the field named `name` when they are not
/// equal: `foldFunc(name)(name, key)` from encoding/json/fold.go. Field names are ASCII (the
/// generated table is checked for it); for those, Go's choice of function is reproduced.
pub(crate) fn go_fold_match(name: &str, key: &str) -> bool {
    let name = name.as_bytes();
    let mut non_letter = false;
    let mut special = false;
    for &b in name {
        debug_assert!(b.is_ascii(), "runc field names are ASCII");
        let upper = b & CASE_MASK;
        if !upper.is_ascii_uppercase() {
            non_letter = true;
        } else if upper == b'K' || upper == b'S' {
            special = true;
        }
    }
    if special {
        equal_fold_right(name, key)
    } else if non_letter {
        ascii_equal_fold(name, key.as_bytes())
    } else {
        simple_letter_equal_fold(name, key.as_bytes())
    }
}

const CASE_MASK: u8 = !0x20;
const KELVIN: char = '\u{212a}';
const SMALL_LONG_ESS: char = '\u{17f}';

/// fold.go equalFoldRight: `s` is ASCII with a k or s; `t` may hold U+212A and U+017F.
fn equal_fold_right(s: &[u8], t: &str) -> bool {
    let mut t = t;
    for &sb in s {
        let Some(tc) = t.chars().next() else {
            return false;
        };
        if tc.is_ascii() {
            let tb = tc as u8;
            if sb != tb {
                let sb_upper = sb & CASE_MASK;
                if !sb_upper.is_ascii_uppercase() || sb_upper != tb & CASE_MASK {
                    return false;
                }
            }
        } else {
            // sb is ASCII and tc is not: tc must be the Kelvin sign or the long s, and sb
            // k or s.
            match sb {
                b's' | b'S' if tc == SMALL_LONG_ESS => {}
                b'k' | b'K' if tc == KELVIN => {}
                _ => return false,
            }
        }
        t = &t[tc.len_utf8()..];
    }
    t.is_empty()
}

/// fold.go asciiEqualFold: `s` is ASCII with non-letters and no k or s.
fn ascii_equal_fold(s: &[u8], t: &[u8]) -> bool {
    s.len() == t.len()
        && s.iter().zip(t).all(|(&sb, &tb)| {
            sb == tb || (sb.is_ascii_alphabetic() && sb & CASE_MASK == tb & CASE_MASK)
        })
}

/// fold.go simpleLetterEqualFold: `s` is ASCII letters only, no k or s.
fn simple_letter_equal_fold(s: &[u8], t: &[u8]) -> bool {
    s.len() == t.len()
        && s.iter()
            .zip(t)
            .all(|(&sb, &tb)| sb & CASE_MASK == tb & CASE_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(v: Value, root: Root) -> String {
        format!("{:#}", check(&v, root).unwrap_err())
    }

    #[test]
    fn go_fold_matching_as_in_encoding_json() {
        // Case variants of every kind of name.
        for (name, key) in [
            ("process", "Process"),
            ("process", "PROCESS"),
            ("cwd", "CWD"),
            ("uid", "Uid"),
            ("oomScoreAdj", "oomscoreadj"),
            ("kernelTCP", "KERNELtcp"),
            ("l3CacheSchema", "L3cacheschema"),
            ("DNSSearchList", "dnssearchlist"),
            // Unicode simple folding: long s and the Kelvin sign.
            ("mounts", "mount\u{17f}"),
            ("hooks", "hook\u{17f}"),
            ("hooks", "hoo\u{212a}s"),
            ("capabilities", "capabilitie\u{17f}"),
            ("sysctl", "\u{17f}y\u{17f}ctl"),
            ("kernel", "\u{212a}ERNEL"),
        ] {
            assert!(go_fold_match(name, key), "{name} {key}");
        }
        for (name, key) in [
            ("process", "processs"),
            ("process", "proces"),
            ("process", "pr\u{f6}cess"),
            // Only s and k have non-ASCII folds; ı (U+0131), İ (U+0130) do not match i.
            ("uid", "u\u{131}d"),
            ("uid", "U\u{130}D"),
            // Non-letters match exactly only.
            ("l3CacheSchema", "l#CacheSchema"),
            ("kernelTCP", "kernel_TCP"),
            ("mounts", "mount\u{17f}\u{17f}"),
            ("mounts", "mounts "),
            // The Kelvin sign folds to k only, the long s to s only.
            ("mounts", "mount\u{212a}"),
            ("hooks", "hoo\u{17f}s"),
            ("cwd", "\u{17f}wd"),
        ] {
            assert!(!go_fold_match(name, key), "{name} {key}");
        }
    }

    #[test]
    fn case_variants_are_refused_with_pointer_key_and_field() {
        let e = refusal(
            json!({"ociVersion": "1.0.2", "Process": {"cwd": "/"}}),
            Root::Spec,
        );
        assert_eq!(
            e,
            "config.json key \"Process\" at / would be read by runc as \"process\" (Go matches \
             keys case-insensitively); refused: write it as \"process\""
        );
        let e = refusal(
            json!({"process": {"capabilitie\u{17f}": {"bounding": ["CAP_SYS_ADMIN"]}}}),
            Root::Spec,
        );
        assert!(
            e.contains(
                "key \"capabilitie\u{17f}\" at /process would be read by runc as \"capabilities\""
            ),
            "{e}"
        );
        let e = refusal(
            json!({"process": {"capabilities": {"BOUNDING": []}}}),
            Root::Spec,
        );
        assert!(e.contains("at /process/capabilities "), "{e}");
        let e = refusal(json!({"cwd": "/", "User": {"uid": 0}}), Root::Process);
        assert!(e.starts_with("exec process file key \"User\" at / "), "{e}");
        let e = refusal(
            json!({"memory": {"\u{212a}ernel": 1}}),
            Root::LinuxResources,
        );
        assert!(
            e.contains("at /memory would be read by runc as \"kernel\""),
            "{e}"
        );
    }

    #[test]
    fn nested_arrays_of_structs_are_walked() {
        let e = refusal(
            json!({"mounts": [{"destination": "/a"}, {"destination": "/b", "Type": "bind"}]}),
            Root::Spec,
        );
        assert!(
            e.contains("key \"Type\" at /mounts/1 would be read by runc as \"type\""),
            "{e}"
        );
        let seccomp = json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "OP": "SCMP_CMP_NE"}]},
        ]}}});
        let e = refusal(seccomp, Root::Spec);
        assert!(
            e.contains(
                "key \"OP\" at /linux/seccomp/syscalls/1/args/1 would be read by runc as \"op\""
            ),
            "{e}"
        );
        // Maps of structs: keys literal, values walked.
        let e = refusal(
            json!({"linux": {"resources": {"rdma": {"Mlx5_0": {"HcaHandles": 3}}}}}),
            Root::Spec,
        );
        assert!(e.contains("at /linux/resources/rdma/Mlx5_0 "), "{e}");
        // Promoted fields of embedded structs (LinuxWeightDevice embeds LinuxBlockIODevice).
        let e = refusal(
            json!({"linux": {"resources": {"blockIO": {"weightDevice": [{"MAJOR": 8}]}}}}),
            Root::Spec,
        );
        assert!(e.contains("as \"major\""), "{e}");
    }

    #[test]
    fn map_keys_and_unknown_keys_pass() {
        let ok = json!({
            "ociVersion": "1.0.2",
            "annotations": {"Process": "x", "MOUNTS": "y", "mount\u{17f}": "z"},
            "linux": {
                "sysctl": {"Net.Ipv4.Ip_forward": "1"},
                "resources": {"unified": {"Memory.Max": "1"}, "rdma": {"Process": {"hcaHandles": 1}}},
            },
            "windows": {"credentialSpec": {"Process": 1}},
            "x-vendor": {"Process": {"capabilities": 1}},
            "process": {"x-unknown": 1, "cwd": "/", "user": {"uid": 0, "gid": 0, "Xyz": 1}},
        });
        check(&ok, Root::Spec).unwrap();
        // A value of the wrong type is runc's and oci-spec's to refuse, not a panic here.
        check(
            &json!({"process": 5, "mounts": {"a": 1}, "linux": []}),
            Root::Spec,
        )
        .unwrap();
        check(&json!([1, 2]), Root::Spec).unwrap();
    }

    #[test]
    fn later_key_wins_cases_are_refused_in_either_order() {
        // Go lets the later of "process" and "Process" win (field by field for objects).
        for v in [
            json!({"process": {"cwd": "/"}, "Process": {"cwd": "/x"}}),
            json!({"Process": {"cwd": "/x"}, "process": {"cwd": "/"}}),
            json!({"process": {"cwd": "/", "noNewPrivileges": true, "NoNewPrivileges": false}}),
            json!({"process": {"noNewPrivileges": true, "noNewPrivilege\u{17f}": false}}),
        ] {
            let e = refusal(v.clone(), Root::Spec);
            assert!(e.contains("would be read by runc as"), "{v}: {e}");
        }
    }

    #[test]
    fn through_spec_from_slice() {
        let e = crate::spec::Spec::from_slice(
            br#"{"ociVersion":"1.0.2","process":{"cwd":"/"},"Process":{"cwd":"/x"}}"#,
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("\"Process\" at / would be read by runc as \"process\""));
    }

    #[test]
    fn the_table_is_sane() {
        assert_eq!(table::TYPES[table::SPEC].name, "Spec");
        assert_eq!(table::TYPES[table::PROCESS].name, "Process");
        assert_eq!(table::TYPES[table::LINUX_RESOURCES].name, "LinuxResources");
        for t in table::TYPES {
            for f in t.fields {
                assert!(
                    f.json.is_ascii() && !f.json.is_empty(),
                    "{}.{}",
                    t.name,
                    f.json
                );
            }
        }
        for p in [
            "/process/capabilities/bounding",
            "/mounts/*/type",
            "/linux/resources/memory/limit",
        ] {
            assert!(field_paths().contains(&p), "{p}");
        }
    }
}
