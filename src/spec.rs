//! The spec document: read typed, write raw.
//!
//! `config.json` is kept as a `serde_json::Value` so that every field Rampart does not
//! model (vendor fields, fields newer than oci-spec) reaches runc unchanged. Steps read
//! sub-trees through oci-spec's types (which rejects wrong types and unknown enum
//! values such as capability names) and write back only the keys they change.

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Largest config.json Rampart accepts. Docker's are ~10 KB; hostile inputs are refused
/// before they are parsed.
pub const MAX_SPEC_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    raw: Value,
}

/// Where a seccomp profile's rules are.
const SYSCALLS: &str = "/linux/seccomp/syscalls";

impl Spec {
    /// Parses and validates a config.json. Fails on anything that is not a JSON object
    /// that oci-spec can read as a runtime spec.
    pub fn from_slice(bytes: &[u8]) -> Result<Spec> {
        if bytes.len() > MAX_SPEC_BYTES {
            bail!(
                "config.json is {} bytes, more than the {MAX_SPEC_BYTES} Rampart accepts",
                bytes.len()
            );
        }
        let raw = parse_strict(bytes).context("config.json is not valid JSON")?;
        Spec::from_value(raw)
    }

    /// [`Spec::from_slice`] that frees the bytes as soon as they are parsed, before the
    /// tree is checked (oci-spec's check builds a typed copy of the whole spec: with a 1 MB
    /// config.json the bytes, the tree and that copy would otherwise be alive together).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Spec> {
        if bytes.len() > MAX_SPEC_BYTES {
            return Spec::from_slice(&bytes);
        }
        let raw = parse_strict(&bytes).context("config.json is not valid JSON")?;
        drop(bytes);
        Spec::from_value(raw)
    }

    /// Checks a parsed config.json: an object, no key that runc would read as a field
    /// spelled otherwise ([`crate::runc_fields`]), and oci-spec's model.
    pub fn from_value(raw: Value) -> Result<Spec> {
        if !raw.is_object() {
            bail!("config.json is not a JSON object");
        }
        crate::runc_fields::check(&raw, crate::runc_fields::Root::Spec)?;
        let mut spec = Spec { raw };
        spec.validate_typed_in_place()?;
        Ok(spec)
    }

    /// [`Spec::validate_typed`] without a typed copy of the lists that make a spec large
    /// (`process.env`, `annotations`: a 1 MB spec is mostly those; the syscall names of a
    /// seccomp profile: most of Docker's 9 KB spec, a string allocated and freed per name):
    /// they are checked here for the shape oci-spec gives them (a list of strings; a map of
    /// strings, null allowed for the first two), set aside (emptied in place, so key order
    /// is kept) while oci-spec checks the rest, then put back. Same verdict, half the peak
    /// memory.
    fn validate_typed_in_place(&mut self) -> Result<()> {
        let names = self.set_aside_syscall_names();
        let verdict = self.validate_typed_bulky_aside();
        if let Some(Value::Array(rules)) = pointer_mut(&mut self.raw, SYSCALLS) {
            for (i, list) in names {
                if let Some(Value::Object(rule)) = rules.get_mut(i)
                    && let Some(slot) = rule.get_mut("names")
                {
                    *slot = list;
                }
            }
        }
        verdict
    }

    /// Empties each `names` list of `linux.seccomp.syscalls` that is a list of strings (what
    /// oci-spec reads as `Vec<String>`, any strings), returning them by rule index.
    fn set_aside_syscall_names(&mut self) -> Vec<(usize, Value)> {
        let Some(Value::Array(rules)) = pointer_mut(&mut self.raw, SYSCALLS) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, rule) in rules.iter_mut().enumerate() {
            if let Value::Object(rule) = rule
                && let Some(slot) = rule.get_mut("names")
                && let Value::Array(items) = slot
                && items.iter().all(Value::is_string)
            {
                out.push((i, std::mem::replace(slot, Value::Array(Vec::new()))));
            }
        }
        out
    }

    fn validate_typed_bulky_aside(&mut self) -> Result<()> {
        const BULKY: [&str; 2] = ["/process/env", "/annotations"];
        for ptr in BULKY {
            if let Some(v) = pointer(&self.raw, ptr) {
                let ok = match v {
                    Value::Null => true,
                    Value::Array(items) if ptr == "/process/env" => {
                        items.iter().all(Value::is_string)
                    }
                    Value::Object(m) if ptr == "/annotations" => m.values().all(Value::is_string),
                    _ => false,
                };
                if !ok {
                    // Let oci-spec word the error as it always has.
                    return self.validate_typed();
                }
            }
        }
        let mut aside: Vec<(&str, Value)> = Vec::new();
        for ptr in BULKY {
            if let Some(slot) = pointer_mut(&mut self.raw, ptr) {
                let empty = match slot {
                    Value::Array(_) => Value::Array(Vec::new()),
                    Value::Object(_) => Value::Object(Map::new()),
                    _ => continue,
                };
                aside.push((ptr, std::mem::replace(slot, empty)));
            }
        }
        let verdict = self.validate_typed();
        for (ptr, v) in aside {
            if let Some(slot) = pointer_mut(&mut self.raw, ptr) {
                *slot = v;
            }
        }
        verdict
    }

    /// Checks the whole document against oci-spec's model (types, enum values).
    pub fn validate_typed(&self) -> Result<()> {
        oci_spec::runtime::Spec::deserialize(&self.raw)
            .map(|_| ())
            .map_err(|e| anyhow!("config.json does not match the OCI runtime spec: {e}"))
    }

    pub fn raw(&self) -> &Value {
        &self.raw
    }

    pub fn into_raw(self) -> Value {
        self.raw
    }

    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(&self.raw).expect("a serde_json::Value always serialises")
    }

    /// [`Spec::to_vec`]'s bytes written to `w` through a 64 KiB buffer.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut buf = std::io::BufWriter::with_capacity(64 << 10, w);
        serde_json::to_writer(&mut buf, &self.raw)?;
        std::io::Write::flush(&mut buf)
    }

    /// The value at a JSON pointer (`/process/capabilities`), if present and not null.
    pub fn get(&self, ptr: &str) -> Option<&Value> {
        pointer(&self.raw, ptr).filter(|v| !v.is_null())
    }

    /// The array at `ptr`, borrowed (`typed::<Vec<Value>>` without the copy): empty when
    /// absent or null, an error of `typed`'s wording when it is not an array.
    pub fn list(&self, ptr: &str) -> Result<&[Value]> {
        match self.get(ptr) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(v) => Err(anyhow!(
                "{ptr} in config.json has an unexpected shape: {v}: invalid type: expected a sequence"
            )),
        }
    }

    /// Reads the sub-tree at `ptr` as an oci-spec (or any serde) type.
    pub fn typed<T: DeserializeOwned>(&self, ptr: &str) -> Result<Option<T>> {
        match self.get(ptr) {
            None => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .with_context(|| format!("{ptr} in config.json has an unexpected shape: {v}")),
        }
    }

    /// Sets the value at `ptr`, creating intermediate objects. Returns the previous value
    /// (`Value::Null` when there was none).
    pub fn set(&mut self, ptr: &str, value: Value) -> Result<Value> {
        let slot = pointer_mut_create(&mut self.raw, ptr)?;
        Ok(std::mem::replace(slot, value))
    }

    /// Removes the key at `ptr`; returns what was there.
    pub fn remove(&mut self, ptr: &str) -> Value {
        let (parent, key) = split_last(ptr);
        match pointer_mut(&mut self.raw, parent).and_then(Value::as_object_mut) {
            Some(obj) => obj.remove(&unescape(key)).unwrap_or(Value::Null),
            None => Value::Null,
        }
    }
}

/// Parses any JSON document with [`Strict`]'s rules (for documents other than config.json
/// that reach runc, such as `runc update -r`'s).
pub fn parse_strict(bytes: &[u8]) -> Result<Value> {
    // The whole text checked as UTF-8 once (JSON text is UTF-8; from_slice refuses the same
    // inputs) instead of serde_json checking each string on its own: 700 checks of a 9 KB
    // spec were 2% of a create's instructions.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "not valid JSON: not UTF-8 at byte {} (JSON text is UTF-8)",
            e.valid_up_to()
        )
    })?;
    let mut scratch = Scratch::for_text(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let v = serde::de::DeserializeSeed::deserialize(Strict(&mut scratch), &mut de)
        .and_then(|v| de.end().map(|()| v))
        .context("not valid JSON")?;
    Ok(v)
}

/// A JSON value parsed strictly: duplicate keys (which other parsers may resolve
/// differently, e.g. first-wins where Rampart saw last-wins) and NUL characters (which
/// truncate paths in the kernel) are refused. Nesting deeper than 128 is refused by
/// serde_json itself.
struct Strict<'s>(&'s mut Scratch);

/// What one parse reuses: the elements of the arrays and objects still open, so that each
/// array and object is allocated once, at its final size. One with more than [`SPILL`]
/// elements (a 1 MB spec's env and annotations) moves them to its own storage and grows
/// there, as it would without the scratch: otherwise the scratch and the final copy of the
/// largest one are alive together (+0.9 MB of peak RSS with a 1 MB spec).
struct Scratch {
    values: Vec<Value>,
    entries: Vec<(String, Value)>,
    /// Whether a string may hold NUL at all: JSON carries it only as the escape `\u0000`
    /// (a raw control character in a string is refused by serde_json), so in a text without
    /// that sequence no string is searched.
    nul: bool,
}

/// Elements an array or object keeps on the scratch stack (Docker's largest, the seccomp
/// profile's list of names, has ~350).
const SPILL: usize = 512;

impl Scratch {
    fn for_text(text: &str) -> Scratch {
        Scratch {
            values: Vec::with_capacity((text.len() / 16).min(SPILL)),
            entries: Vec::with_capacity((text.len() / 64).min(SPILL)),
            nul: text.contains("\\u0000"),
        }
    }

    fn no_nul<E: serde::de::Error>(&self, s: &str) -> std::result::Result<(), E> {
        if self.nul && s.contains('\0') {
            return Err(E::custom(format!(
                "NUL character in {:?}",
                s.replace('\0', "\\0")
            )));
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Adds a key the object does not have yet; a duplicate is refused.
fn insert_new<E: serde::de::Error>(
    map: &mut Map<String, Value>,
    k: String,
    v: Value,
) -> std::result::Result<(), E> {
    match map.entry(k) {
        serde_json::map::Entry::Vacant(slot) => {
            slot.insert(v);
            Ok(())
        }
        serde_json::map::Entry::Occupied(o) => {
            Err(E::custom(format!("duplicate key {:?}", o.key())))
        }
    }
}

/// The key serde_json's `arbitrary_precision` uses to pass a number's text through a map.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> serde::de::Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        self.0.no_nul(v)?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> std::result::Result<Value, E> {
        self.0.no_nul(&v)?;
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let scratch = self.0;
        let start = scratch.values.len();
        let mut own: Option<Vec<Value>> = None;
        while let Some(v) = seq.next_element_seed(Strict(&mut *scratch))? {
            match &mut own {
                Some(big) => big.push(v),
                None => {
                    scratch.values.push(v);
                    if scratch.values.len() - start > SPILL {
                        own = Some(scratch.values.drain(start..).collect());
                    }
                }
            }
        }
        // Collected from an exact-size drain: one allocation of the final length.
        Ok(Value::Array(own.unwrap_or_else(|| {
            scratch.values.drain(start..).collect()
        })))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        use serde::de::Error;
        let scratch = self.0;
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Value::Object(Map::new()));
        };
        // serde_json (arbitrary_precision) hands a number over as a one-entry map holding
        // its text, so that it reaches runc as written: 1e20 stays 1e20, 1.10 stays 1.10.
        if first == NUMBER_TOKEN {
            let text: String = map.next_value()?;
            let n = text
                .parse::<serde_json::Number>()
                .map_err(|e| A::Error::custom(format!("number {text:?}: {e}")))?;
            if map.next_key::<String>()?.is_some() {
                return Err(A::Error::custom(format!(
                    "an object with the key {first:?}"
                )));
            }
            return Ok(Value::Number(n));
        }
        let start = scratch.entries.len();
        let mut own: Option<Map<String, Value>> = None;
        let mut key = Some(first);
        while let Some(k) = key {
            scratch.no_nul(&k)?;
            let v = map.next_value_seed(Strict(&mut *scratch))?;
            match &mut own {
                Some(big) => insert_new::<A::Error>(big, k, v)?,
                None => {
                    scratch.entries.push((k, v));
                    if scratch.entries.len() - start > SPILL {
                        let mut big = Map::with_capacity(2 * SPILL);
                        for (k, v) in scratch.entries.drain(start..) {
                            insert_new::<A::Error>(&mut big, k, v)?;
                        }
                        own = Some(big);
                    }
                }
            }
            key = map.next_key::<String>()?;
        }
        if let Some(big) = own {
            return Ok(Value::Object(big));
        }
        let mut out = Map::with_capacity(scratch.entries.len() - start);
        for (k, v) in scratch.entries.drain(start..) {
            insert_new::<A::Error>(&mut out, k, v)?;
        }
        Ok(Value::Object(out))
    }
}

fn split_last(ptr: &str) -> (&str, &str) {
    match ptr.rfind('/') {
        Some(i) => (&ptr[..i], &ptr[i + 1..]),
        None => ("", ptr),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// A pointer token as a key: borrowed unless it holds an escape (`~1`, `~0`).
fn key(token: &str) -> std::borrow::Cow<'_, str> {
    if token.as_bytes().contains(&b'~') {
        std::borrow::Cow::Owned(unescape(token))
    } else {
        std::borrow::Cow::Borrowed(token)
    }
}

/// An array index as serde_json's pointer reads one (no `+`, no leading zero).
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Maps this small or smaller are searched by comparing keys in order: cheaper than hashing
/// the key with serde_json's SipHash (a spec's objects have a dozen keys or fewer).
const SCAN: usize = 16;

fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() <= SCAN {
        return map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v);
    }
    map.get(key)
}

fn get_mut<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    if map.len() <= SCAN {
        return map
            .iter_mut()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v);
    }
    map.get_mut(key)
}

/// [`Value::pointer`] without an allocation per token (two `replace` calls each there: a
/// tenth of a create's instructions went to them).
pub fn pointer<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    if ptr.is_empty() {
        return Some(root);
    }
    let mut cur = root;
    for token in ptr.strip_prefix('/')?.split('/') {
        cur = match cur {
            Value::Object(map) => get(map, key(token).as_ref())?,
            Value::Array(items) => items.get(index(token)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// [`Value::pointer_mut`], as [`pointer`].
pub fn pointer_mut<'a>(root: &'a mut Value, ptr: &str) -> Option<&'a mut Value> {
    if ptr.is_empty() {
        return Some(root);
    }
    let mut cur = root;
    for token in ptr.strip_prefix('/')?.split('/') {
        cur = match cur {
            Value::Object(map) => get_mut(map, key(token).as_ref())?,
            Value::Array(items) => items.get_mut(index(token)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn pointer_mut_create<'a>(root: &'a mut Value, ptr: &str) -> Result<&'a mut Value> {
    if ptr.is_empty() {
        return Ok(root);
    }
    if !ptr.starts_with('/') {
        bail!("internal: JSON pointer {ptr:?} does not start with '/'");
    }
    let mut cur = root;
    for token in ptr[1..].split('/') {
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        cur = match cur {
            Value::Object(map) => map.entry(key(token).into_owned()).or_insert(Value::Null),
            Value::Array(items) => {
                let i: usize = token
                    .parse()
                    .with_context(|| format!("internal: bad index {token:?} in {ptr}"))?;
                items
                    .get_mut(i)
                    .with_context(|| format!("internal: index {i} out of range in {ptr}"))?
            }
            other => bail!("{ptr}: cannot descend into {other} in config.json"),
        };
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pointer_reads_as_serde_jsons() {
        let v: Value = serde_json::json!({
            "a": {"b/c": [1, {"d~e": 2}], "": 3, "0": 4},
            "l": [10, 11]
        });
        for p in [
            "",
            "/",
            "/a",
            "/a/b~1c",
            "/a/b~1c/1/d~0e",
            "/a/b~1c/01",
            "/a/b~1c/+1",
            "/a/b~1c/2",
            "/a/",
            "/a/0",
            "/l/0",
            "/l/1",
            "/l/-",
            "/x",
            "a",
            "/a/b~1c/0/x",
            "/a/b~2c",
            "/l/00",
        ] {
            assert_eq!(pointer(&v, p), v.pointer(p), "{p}");
            let mut m = v.clone();
            let mut n = v.clone();
            assert_eq!(pointer_mut(&mut m, p), n.pointer_mut(p), "{p}");
        }
    }
    use super::*;

    /// JSON text that is not UTF-8 is refused, inside a string or outside one, as
    /// serde_json's own per-string check refused it; NUL stays refused after the change.
    #[test]
    fn text_that_is_not_utf8_is_refused_whole() {
        for bad in [&b"{\"a\":\"\xff\"}"[..], b"{\"a\xc3\":1}", b"{\"a\":1}\x80"] {
            let e = format!("{:#}", parse_strict(bad).unwrap_err());
            assert!(e.contains("not UTF-8 at byte"), "{e}");
            assert!(serde_json::from_slice::<Value>(bad).is_err());
        }
        assert!(parse_strict("{\"a\":\"\u{e9}\\u0041\"}".as_bytes()).is_ok());
        assert!(parse_strict(b"{\"a\":\"x\\u0000\"}").is_err());
        assert!(parse_strict(b"{\"a\":\"x\0\"}").is_err());
    }
    /// The strict parse builds the same tree serde_json does (arrays and objects of every
    /// size and nesting, built from one shared scratch stack), and its verdicts do not
    /// depend on where in the nesting a duplicate or a NUL sits.
    #[test]
    fn strict_parse_builds_serde_jsons_tree() {
        let text = r#"{"a":[[],[[1,2],{}],{"x":[3,{"y":[]}],"z":null}],"b":{},"c":[true,false,
            "s\u0041\\u0000",-1.10,1e20,18446744073709551615],"d":{"k1":1,"k2":[{"k3":{}}],
            "k4":"v"},"e":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let strict = parse_strict(text.as_bytes()).unwrap();
        let plain: Value = serde_json::from_str(text).unwrap();
        assert_eq!(strict, plain);
        assert_eq!(
            serde_json::to_string(&strict).unwrap(),
            serde_json::to_string(&plain).unwrap()
        );
        // An escaped backslash before `u0000` is no NUL: kept as written.
        assert_eq!(strict["c"][2], json!("sA\\u0000"));
        // Past the scratch stack's share: a long array and a long object, nested ones inside.
        let long: Vec<Value> = (0..2 * SPILL + 3)
            .map(|i| json!([i, {"k": [i]}, format!("s{i}")]))
            .collect();
        let wide: Map<String, Value> = (0..2 * SPILL + 3)
            .map(|i| (format!("k{i}"), json!({"v": [i, i + 1]})))
            .collect();
        let doc = json!({"long": long, "wide": wide, "after": [1, {"x": 2}]});
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(parse_strict(text.as_bytes()).unwrap(), doc);
        for at in [3, SPILL, SPILL + 1, 2 * SPILL] {
            let dup = text.replacen("\"k0\":", &format!("\"k{at}\":"), 1);
            let e = format!("{:#}", parse_strict(dup.as_bytes()).unwrap_err());
            assert!(e.contains(&format!("duplicate key \"k{at}\"")), "{e}");
        }
        for (bad, needle) in [
            (r#"{"a":[{"b":[1,{"c":1,"c":2}]}]}"#, "duplicate key \"c\""),
            (r#"{"a":[[],{"b":{"x\u0000":1}}]}"#, "NUL character"),
            (r#"{"a":[[],["ok","x\u0000y"]]}"#, "NUL character"),
            (r#"{"a":1,"b":[1,2],"a":2}"#, "duplicate key \"a\""),
        ] {
            let e = format!("{:#}", parse_strict(bad.as_bytes()).unwrap_err());
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    use serde_json::json;

    fn minimal() -> Value {
        json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "vendorField": {"x": 1}})
    }

    #[test]
    fn set_creates_intermediate_objects_and_keeps_unknown_fields() {
        let mut s = Spec::from_value(minimal()).unwrap();
        let before = s.set("/linux/resources/pids/limit", json!(1024)).unwrap();
        assert_eq!(before, Value::Null);
        assert_eq!(s.get("/linux/resources/pids/limit"), Some(&json!(1024)));
        assert_eq!(s.get("/vendorField/x"), Some(&json!(1)));
    }

    #[test]
    fn rejects_non_objects_wrong_types_and_oversize() {
        assert!(Spec::from_slice(b"[]").is_err());
        assert!(Spec::from_slice(b"{\"process\": 5}").is_err());
        let big = vec![b' '; MAX_SPEC_BYTES + 1];
        assert!(Spec::from_slice(&big).is_err());
    }

    #[test]
    fn hostile_json_is_refused_with_the_reason() {
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"ociVersion":"1.0.2","process":{"cwd":"/"},"process":{"cwd":"/x"}}"#,
                "duplicate key \"process\"",
            ),
            (
                br#"{"ociVersion":"1.0.2","root":{"path":"rootfs\u0000/etc"}}"#,
                "NUL character",
            ),
            (br#"{"ociVersion":"1.0.2","x\u0000":1}"#, "NUL character"),
            (
                br#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"bogus"}]}}"#,
                "bogus",
            ),
        ];
        for (input, needle) in cases {
            let err = format!("{:#}", Spec::from_slice(input).unwrap_err());
            assert!(err.contains(needle), "{err}");
        }
        let deep = format!(
            "{{\"ociVersion\":\"1\",\"x\":{}{}}}",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(
            format!("{:#}", Spec::from_slice(deep.as_bytes()).unwrap_err()).contains("recursion")
        );
    }

    #[test]
    fn env_and_annotations_are_checked_and_kept_as_written() {
        for bad in [
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},"env":["A=1",5]}}"#,
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},"env":"A=1"}}"#,
            r#"{"ociVersion":"1.0.2","annotations":{"a":1}}"#,
            r#"{"ociVersion":"1.0.2","annotations":["a"]}"#,
        ] {
            let e = format!("{:#}", Spec::from_slice(bad.as_bytes()).unwrap_err());
            assert!(
                e.contains("does not match the OCI runtime spec"),
                "{bad}: {e}"
            );
            assert!(Spec::from_bytes(bad.as_bytes().to_vec()).is_err(), "{bad}");
        }
        let good = r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},"env":["B=2","A=1"],"args":["x"]},"annotations":{"z":"1","a":"2"},"root":{"path":"r"}}"#;
        let s = Spec::from_bytes(good.as_bytes().to_vec()).unwrap();
        assert_eq!(s.to_vec(), good.as_bytes());
        let null = r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},"env":null},"annotations":null}"#;
        assert_eq!(
            Spec::from_slice(null.as_bytes()).unwrap().to_vec(),
            null.as_bytes()
        );
    }

    /// Syscall names are set aside during oci-spec's check like env: same verdict as the
    /// whole document checked at once, and every list back in its place.
    #[test]
    fn seccomp_names_are_checked_and_kept_as_written() {
        let spec = |rules: &str| {
            format!(
                r#"{{"ociVersion":"1.0.2","linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":{rules}}}}}}}"#
            )
        };
        for rules in [
            r#"[{"names":["read",5],"action":"SCMP_ACT_ALLOW"}]"#,
            r#"[{"names":"read","action":"SCMP_ACT_ALLOW"}]"#,
            r#"[{"action":"SCMP_ACT_ALLOW"}]"#,
            r#"[{"names":["read"],"action":"SCMP_ACT_NOPE"}]"#,
            r#"[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["x"]}]"#,
            r#"[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":"0"}]}]"#,
        ] {
            let bad = spec(rules);
            let whole = Spec {
                raw: parse_strict(bad.as_bytes()).unwrap(),
            }
            .validate_typed()
            .unwrap_err();
            let e = Spec::from_slice(bad.as_bytes()).unwrap_err();
            assert_eq!(format!("{e:#}"), format!("{whole:#}"), "{rules}");
        }
        let good = spec(
            r#"[{"names":["write","read"],"action":"SCMP_ACT_ALLOW"},{"names":[],"action":"SCMP_ACT_LOG"},{"names":["ptrace"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]"#,
        );
        let s = Spec::from_bytes(good.as_bytes().to_vec()).unwrap();
        assert_eq!(s.to_vec(), good.as_bytes());
    }

    #[test]
    fn remove_returns_previous_value() {
        let mut s = Spec::from_value(minimal()).unwrap();
        assert_eq!(s.remove("/vendorField"), json!({"x": 1}));
        assert_eq!(s.remove("/nothing/here"), Value::Null);
    }
}
