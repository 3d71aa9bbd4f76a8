//! Rampart's seccomp allow-lists (`seccomp/*.json`): model, arch-aware rendering into an
//! OCI `linux.seccomp`, and intersection with a profile the request already carries.
//!
//! # The allow-list format
//!
//! ```json
//! { "description": "...", "defaultErrno": "EPERM",
//!   "groups": [
//!     { "name": "files", "description": "...", "syscalls": ["read", "write", ...] },
//!     { "name": "chroot", "description": "...", "requiresCap": "CAP_SYS_CHROOT", "syscalls": ["chroot"] },
//!     { "name": "x86", "description": "...", "arches": ["x86_64", "x86"], "syscalls": ["arch_prctl"] },
//!     { "name": "network", "description": "...", "syscalls": [...],
//!       "rules": [ { "syscall": "socket", "allowIf": { "arg": 0, "in": ["0-16", "18-37"] }, "why": "..." },
//!                  { "syscall": "clone", "notArches": ["s390x"], "allowIf": { "arg": 0, "bitsClear": "0x7E020000" }, "why": "..." },
//!                  { "syscall": "clone3", "errno": "ENOSYS", "why": "..." } ] } ] }
//! ```
//!
//! Everything not named fails with `defaultErrno`. A group is the unit a profile can leave
//! out (`seccomp.deny_groups`); `requiresCap` keeps a group out unless the capability is in
//! the container's final bounding set; `arches`/`notArches` name host architectures as Rust
//! does (`std::env::consts::ARCH`). Numbers may be JSON numbers or strings (`"0x7E020000"`,
//! ranges `"18-37"`). `allowIf.in` is rendered with LE/EQ/GE and aligned MASKED_EQ blocks, all
//! of which compare the full 64-bit register, so a value with high bits set (which the
//! kernel truncates for `int` arguments) cannot slip through a `GT`.
//!
//! # Semantics this module relies on (runc + libseccomp 2.5)
//!
//! * runc skips a rule whose action (with its errno) equals the default action.
//! * A rule whose conditions all name different arguments is one AND; if any argument index
//!   repeats, runc adds every condition as a rule of its own (OR of all of them).
//! * For one syscall, an argument-less rule overrides every conditional rule, whatever the
//!   order (libseccomp keeps the wide rule). Overlapping conditional rules with different
//!   actions have no documented precedence, so Rampart treats them conservatively.
//! * A syscall name libseccomp does not know is ignored by runc; a name that exists only on
//!   some architectures resolves to a negative pseudo-number on the others.

use crate::profile::SeccompPolicy;
use anyhow::{Context, Result, anyhow, bail, ensure};
use libseccomp::{ScmpArch, ScmpSyscall};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Allow-lists shipped in the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[(
    "rampart-default",
    include_str!("../seccomp/rampart-default.json"),
)];

/// Largest allow-list file an admin may name.
const MAX_LIST_BYTES: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Architectures
// ---------------------------------------------------------------------------------------

/// One seccomp architecture: the name in config.json and libseccomp's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arch {
    oci: &'static str,
    scmp: Option<ScmpArch>,
    /// libseccomp compares arguments in 32 bits here (x32 included): a value above
    /// u32::MAX in a condition is silently truncated.
    narrow: bool,
}

const fn arch(oci: &'static str, scmp: ScmpArch) -> Arch {
    Arch {
        oci,
        scmp: Some(scmp),
        narrow: false,
    }
}

const fn arch32(oci: &'static str, scmp: ScmpArch) -> Arch {
    Arch {
        oci,
        scmp: Some(scmp),
        narrow: true,
    }
}

const X86_64: Arch = arch("SCMP_ARCH_X86_64", ScmpArch::X8664);
const X86: Arch = arch32("SCMP_ARCH_X86", ScmpArch::X86);
const X32: Arch = arch32("SCMP_ARCH_X32", ScmpArch::X32);
const AARCH64: Arch = arch("SCMP_ARCH_AARCH64", ScmpArch::Aarch64);
const ARM: Arch = arch32("SCMP_ARCH_ARM", ScmpArch::Arm);
const RISCV64: Arch = arch("SCMP_ARCH_RISCV64", ScmpArch::Riscv64);
const S390X: Arch = arch("SCMP_ARCH_S390X", ScmpArch::S390X);
const S390: Arch = arch32("SCMP_ARCH_S390", ScmpArch::S390);
const PPC64LE: Arch = arch("SCMP_ARCH_PPC64LE", ScmpArch::Ppc64Le);
const PPC64: Arch = arch("SCMP_ARCH_PPC64", ScmpArch::Ppc64);
const PPC: Arch = arch32("SCMP_ARCH_PPC", ScmpArch::Ppc);
const MIPS64: Arch = arch("SCMP_ARCH_MIPS64", ScmpArch::Mips64);
const MIPS64N32: Arch = arch32("SCMP_ARCH_MIPS64N32", ScmpArch::Mips64N32);
const MIPS: Arch = arch32("SCMP_ARCH_MIPS", ScmpArch::Mips);
const MIPSEL64: Arch = arch("SCMP_ARCH_MIPSEL64", ScmpArch::Mipsel64);
const MIPSEL64N32: Arch = arch32("SCMP_ARCH_MIPSEL64N32", ScmpArch::Mipsel64N32);
const MIPSEL: Arch = arch32("SCMP_ARCH_MIPSEL", ScmpArch::Mipsel);
const LOONGARCH64: Arch = arch("SCMP_ARCH_LOONGARCH64", ScmpArch::Loongarch64);

/// Every architecture name a config.json may carry (runc's list, plus PA-RISC which
/// oci-spec accepts; Rampart never filters those, so they only ever drop out).
const ALL_ARCHES: &[Arch] = &[
    X86_64,
    X86,
    X32,
    AARCH64,
    ARM,
    RISCV64,
    S390X,
    S390,
    PPC64LE,
    PPC64,
    PPC,
    MIPS64,
    MIPS64N32,
    MIPS,
    MIPSEL64,
    MIPSEL64N32,
    MIPSEL,
    LOONGARCH64,
    Arch {
        oci: "SCMP_ARCH_PARISC",
        scmp: None,
        narrow: true,
    },
    Arch {
        oci: "SCMP_ARCH_PARISC64",
        scmp: None,
        narrow: false,
    },
];

/// Host architectures (Rust names) an allow-list may name in `arches`.
const HOST_ARCHES: &[&str] = &[
    "x86_64",
    "x86",
    "aarch64",
    "arm",
    "riscv64",
    "s390x",
    "powerpc64",
    "mips64",
    "loongarch64",
];

/// The native seccomp architecture of a host and its compat architectures.
fn host_arches(rust_arch: &str) -> Result<(Arch, &'static [Arch])> {
    let little = cfg!(target_endian = "little");
    Ok(match rust_arch {
        "x86_64" => (X86_64, &[X86, X32]),
        "x86" => (X86, &[]),
        "aarch64" => (AARCH64, &[ARM]),
        "arm" => (ARM, &[]),
        "riscv64" => (RISCV64, &[]),
        "s390x" => (S390X, &[S390]),
        "powerpc64" if little => (PPC64LE, &[]),
        "powerpc64" => (PPC64, &[PPC]),
        "mips64" if little => (MIPSEL64, &[MIPSEL64N32, MIPSEL]),
        "mips64" => (MIPS64, &[MIPS64N32, MIPS]),
        "loongarch64" => (LOONGARCH64, &[]),
        other => {
            bail!("Rampart has no seccomp architecture mapping for the host architecture {other:?}")
        }
    })
}

// ---------------------------------------------------------------------------------------
// Actions and argument conditions (OCI level)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Kill,
    KillThread,
    KillProcess,
    Trap,
    Errno(u32),
    Trace(u32),
    Allow,
    Log,
    Notify,
}

impl Action {
    fn parse(name: &str, errno_ret: Option<u32>) -> Option<Action> {
        // runc: an ERRNO or TRACE without errnoRet returns EPERM.
        let errno = errno_ret.unwrap_or(libc::EPERM as u32);
        Some(match name {
            "SCMP_ACT_KILL" => Action::Kill,
            "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_ERRNO" => Action::Errno(errno),
            "SCMP_ACT_TRACE" => Action::Trace(errno),
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_NOTIFY" => Action::Notify,
            _ => return None,
        })
    }

    fn oci(self) -> (&'static str, Option<u32>) {
        match self {
            Action::Kill => ("SCMP_ACT_KILL", None),
            Action::KillThread => ("SCMP_ACT_KILL_THREAD", None),
            Action::KillProcess => ("SCMP_ACT_KILL_PROCESS", None),
            Action::Trap => ("SCMP_ACT_TRAP", None),
            Action::Errno(e) => ("SCMP_ACT_ERRNO", Some(e)),
            Action::Trace(e) => ("SCMP_ACT_TRACE", Some(e)),
            Action::Allow => ("SCMP_ACT_ALLOW", None),
            Action::Log => ("SCMP_ACT_LOG", None),
            Action::Notify => ("SCMP_ACT_NOTIFY", None),
        }
    }

    /// What libseccomp sees: runc maps KILL to KILL_THREAD and truncates errno to 16 bits.
    fn effective(self) -> Action {
        match self {
            Action::Kill => Action::KillThread,
            Action::Errno(e) => Action::Errno(e & 0xffff),
            Action::Trace(e) => Action::Trace(e & 0xffff),
            a => a,
        }
    }

    fn same(self, other: Action) -> bool {
        self.effective() == other.effective()
    }

    /// The syscall runs (LOG only adds an audit record).
    fn allows(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

impl Op {
    const ALL: [(Op, &'static str); 7] = [
        (Op::Ne, "SCMP_CMP_NE"),
        (Op::Lt, "SCMP_CMP_LT"),
        (Op::Le, "SCMP_CMP_LE"),
        (Op::Eq, "SCMP_CMP_EQ"),
        (Op::Ge, "SCMP_CMP_GE"),
        (Op::Gt, "SCMP_CMP_GT"),
        (Op::MaskedEq, "SCMP_CMP_MASKED_EQ"),
    ];

    fn parse(s: &str) -> Option<Op> {
        Op::ALL.iter().find(|(_, n)| *n == s).map(|(op, _)| *op)
    }

    fn name(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(op, _)| *op == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }
}

/// One OCI argument condition. For MASKED_EQ, `value` is the mask and `value_two` the datum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u8,
    op: Op,
    value: u64,
    value_two: u64,
}

impl Cond {
    fn to_value(self) -> Value {
        // Sized up front: a map grown from empty reallocates and rehashes on the way.
        let mut m = Map::with_capacity(4);
        m.insert("index".into(), json!(self.index));
        m.insert("value".into(), json!(self.value));
        if self.op == Op::MaskedEq || self.value_two != 0 {
            m.insert("valueTwo".into(), json!(self.value_two));
        }
        m.insert("op".into(), json!(self.op.name()));
        Value::Object(m)
    }

    /// Compares against a value above u32::MAX (a 32-bit architecture truncates it).
    fn wide(self) -> bool {
        let v = if self.op == Op::MaskedEq {
            self.value_two
        } else {
            self.value
        };
        v > u64::from(u32::MAX)
    }

    /// The set of 64-bit register values the condition accepts.
    fn set(self) -> ArgSet {
        let v = self.value;
        match self.op {
            Op::Eq => ArgSet::range(v, v),
            Op::Ne => ArgSet::Ranges(complement(&[(v, v)])),
            Op::Lt if v == 0 => ArgSet::empty(),
            Op::Lt => ArgSet::range(0, v - 1),
            Op::Le => ArgSet::range(0, v),
            Op::Gt if v == u64::MAX => ArgSet::empty(),
            Op::Gt => ArgSet::range(v + 1, u64::MAX),
            Op::Ge => ArgSet::range(v, u64::MAX),
            Op::MaskedEq => {
                let (mask, datum) = (v, self.value_two);
                if datum & !mask != 0 {
                    ArgSet::empty()
                } else if (!mask).wrapping_add(1) & !mask == 0 {
                    // The mask is all high bits: one aligned interval.
                    ArgSet::range(datum, datum | !mask)
                } else {
                    ArgSet::Masked { mask, datum }
                }
            }
        }
    }
}

/// One syscall rule as config.json carries it.
#[derive(Debug, Clone, PartialEq)]
struct OciRule<'a> {
    names: Vec<&'a str>,
    action: Action,
    args: Vec<Cond>,
}

impl<'a> OciRule<'a> {
    fn to_value(&self) -> Value {
        let (action, errno) = self.action.oci();
        let mut m = Map::with_capacity(4);
        m.insert("names".into(), strings(&self.names));
        m.insert("action".into(), json!(action));
        if let Some(e) = errno {
            m.insert("errnoRet".into(), json!(e));
        }
        if !self.args.is_empty() {
            m.insert(
                "args".into(),
                Value::Array(self.args.iter().map(|c| c.to_value()).collect()),
            );
        }
        Value::Object(m)
    }

    /// The rule as runc installs it: a list of alternatives, each an AND over arguments.
    fn clauses(&self) -> Vec<Clause> {
        let mut seen = [false; 6];
        let repeated = self
            .args
            .iter()
            .any(|c| std::mem::replace(&mut seen[c.index as usize], true));
        if repeated {
            self.args.iter().map(|c| vec![(c.index, c.set())]).collect()
        } else {
            vec![self.args.iter().map(|c| (c.index, c.set())).collect()]
        }
    }

    fn for_name<'b>(&self, name: &'b str) -> OciRule<'b> {
        OciRule {
            names: vec![name],
            action: self.action,
            args: self.args.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Value sets of one argument, and clauses over several
// ---------------------------------------------------------------------------------------

/// Values of one 64-bit argument: sorted, disjoint, non-adjacent inclusive ranges, or a
/// masked equality that is not an interval.
#[derive(Debug, Clone, PartialEq)]
enum ArgSet {
    Ranges(Vec<(u64, u64)>),
    Masked { mask: u64, datum: u64 },
}

/// Alternatives longer than this are not enumerated when comparing masks with ranges.
const SMALL_RANGE: u64 = 64;

impl ArgSet {
    fn range(lo: u64, hi: u64) -> ArgSet {
        ArgSet::Ranges(vec![(lo, hi)])
    }

    fn empty() -> ArgSet {
        ArgSet::Ranges(Vec::new())
    }

    fn is_empty(&self) -> bool {
        matches!(self, ArgSet::Ranges(r) if r.is_empty())
    }

    #[cfg(test)]
    fn contains(&self, x: u64) -> bool {
        match self {
            ArgSet::Ranges(r) => r.iter().any(|&(lo, hi)| lo <= x && x <= hi),
            &ArgSet::Masked { mask, datum } => x & mask == datum,
        }
    }

    fn is_full(&self) -> bool {
        matches!(self, ArgSet::Ranges(r) if r.as_slice() == [(0, u64::MAX)])
    }

    /// Sound: true only if every value of `self` is in `other`.
    fn subset_of(&self, other: &ArgSet) -> bool {
        match (self, other) {
            (ArgSet::Ranges(a), ArgSet::Ranges(b)) => a
                .iter()
                .all(|&(lo, hi)| b.iter().any(|&(blo, bhi)| blo <= lo && hi <= bhi)),
            (&ArgSet::Masked { mask, datum }, ArgSet::Ranges(b)) => {
                let (lo, hi) = (datum, datum | !mask);
                b.iter().any(|&(blo, bhi)| blo <= lo && hi <= bhi)
            }
            (ArgSet::Ranges(a), &ArgSet::Masked { mask, datum }) => a
                .iter()
                .all(|&(lo, hi)| hi - lo < SMALL_RANGE && (lo..=hi).all(|x| x & mask == datum)),
            (
                &ArgSet::Masked {
                    mask: am,
                    datum: ad,
                },
                &ArgSet::Masked {
                    mask: bm,
                    datum: bd,
                },
            ) => bm & !am == 0 && ad & bm == bd,
        }
    }

    /// Sound: true only if no value is in both.
    fn disjoint_from(&self, other: &ArgSet) -> bool {
        match (self, other) {
            (ArgSet::Ranges(a), ArgSet::Ranges(b)) => a
                .iter()
                .all(|&(lo, hi)| b.iter().all(|&(blo, bhi)| hi < blo || bhi < lo)),
            (&ArgSet::Masked { mask, datum }, ArgSet::Ranges(b))
            | (ArgSet::Ranges(b), &ArgSet::Masked { mask, datum }) => {
                let (lo, hi) = (datum, datum | !mask);
                b.iter().all(|&(blo, bhi)| {
                    let (olo, ohi) = (blo.max(lo), bhi.min(hi));
                    olo > ohi || (ohi - olo < SMALL_RANGE && (olo..=ohi).all(|x| x & mask != datum))
                })
            }
            (
                &ArgSet::Masked {
                    mask: am,
                    datum: ad,
                },
                &ArgSet::Masked {
                    mask: bm,
                    datum: bd,
                },
            ) => (ad ^ bd) & am & bm != 0,
        }
    }
}

/// The complement of sorted, disjoint ranges.
fn complement(ranges: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut next: Option<u64> = Some(0);
    for &(lo, hi) in ranges {
        if let Some(n) = next
            && lo > n
        {
            out.push((n, lo - 1));
        }
        next = hi.checked_add(1);
    }
    if let Some(n) = next {
        out.push((n, u64::MAX));
    }
    out
}

/// Sorts and merges ranges.
fn normalize(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if last.1 == u64::MAX || lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Conditions on argument `index` that together (OR, as runc splits them) accept exactly
/// `ranges`. Only LE, GE, EQ and MASKED_EQ with high-bit masks: every one of them compares
/// all 64 bits, so a value with bits above the ones the kernel reads cannot match.
fn ranges_to_conds(index: u8, ranges: &[(u64, u64)]) -> Vec<Cond> {
    let cond = |op, value, value_two| Cond {
        index,
        op,
        value,
        value_two,
    };
    let mut out = Vec::new();
    for &(lo, hi) in ranges {
        if lo == hi {
            out.push(cond(Op::Eq, lo, 0));
        } else if lo == 0 {
            out.push(cond(Op::Le, hi, 0));
        } else if hi == u64::MAX {
            out.push(cond(Op::Ge, lo, 0));
        } else {
            // Aligned power-of-two blocks, as a CIDR split does.
            let mut cur = lo;
            loop {
                let mut size: u64 = if cur == 0 {
                    1 << 63
                } else {
                    1 << cur.trailing_zeros().min(63)
                };
                while size > 1 && cur.checked_add(size - 1).is_none_or(|end| end > hi) {
                    size >>= 1;
                }
                if size == 1 {
                    out.push(cond(Op::Eq, cur, 0));
                } else {
                    out.push(cond(Op::MaskedEq, !(size - 1), cur));
                }
                let end = cur + (size - 1);
                if end >= hi {
                    break;
                }
                cur = end + 1;
            }
        }
    }
    out
}

/// An AND over arguments (each index at most once); a missing index accepts anything.
type Clause = Vec<(u8, ArgSet)>;

fn clause_is_empty(c: &Clause) -> bool {
    c.iter().any(|(_, s)| s.is_empty())
}

fn clause_get(c: &Clause, index: u8) -> Option<&ArgSet> {
    c.iter().find(|(i, _)| *i == index).map(|(_, s)| s)
}

/// Sound: true only if every call `c` accepts is accepted by `d`.
fn clause_subset(c: &Clause, d: &Clause) -> bool {
    clause_is_empty(c)
        || d.iter().all(|(i, ds)| match clause_get(c, *i) {
            Some(cs) => cs.subset_of(ds),
            None => ds.is_full(),
        })
}

/// Sound: true only if no call is accepted by both.
fn clause_disjoint(c: &Clause, d: &Clause) -> bool {
    clause_is_empty(c)
        || clause_is_empty(d)
        || c.iter()
            .any(|(i, cs)| clause_get(d, *i).is_some_and(|ds| cs.disjoint_from(ds)))
}

// ---------------------------------------------------------------------------------------
// The allow-list file
// ---------------------------------------------------------------------------------------

// Syscall names are borrowed from the text (they never need JSON escapes): parsing the
// built-in list then allocates nothing per name.

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawList<'a> {
    description: String,
    default_errno: RawNum,
    #[serde(borrow)]
    groups: Vec<RawGroup<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawGroup<'a> {
    name: String,
    description: String,
    #[serde(default)]
    requires_cap: Option<String>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default, borrow)]
    syscalls: Vec<&'a str>,
    #[serde(default, borrow)]
    rules: Vec<RawRule<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRule<'a> {
    syscall: &'a str,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    not_arches: Option<Vec<String>>,
    #[serde(default)]
    allow_if: Option<RawArgFilter>,
    #[serde(default)]
    errno: Option<RawNum>,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawArgFilter {
    arg: u8,
    #[serde(default, rename = "in")]
    values: Option<Vec<RawNum>>,
    #[serde(default)]
    bits_clear: Option<RawNum>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawNum {
    Num(u64),
    Str(String),
}

impl RawNum {
    fn text(&self) -> String {
        match self {
            RawNum::Num(n) => n.to_string(),
            RawNum::Str(s) => s.clone(),
        }
    }

    fn number(&self) -> Result<u64> {
        match self {
            RawNum::Num(n) => Ok(*n),
            RawNum::Str(s) => parse_u64(s),
        }
    }

    /// A number or an inclusive range `"lo-hi"`.
    fn range(&self) -> Result<(u64, u64)> {
        match self {
            RawNum::Str(s) if s.contains('-') => {
                let (lo, hi) = s.split_once('-').unwrap_or_default();
                let (lo, hi) = (parse_u64(lo.trim())?, parse_u64(hi.trim())?);
                ensure!(lo <= hi, "range {s:?} is empty");
                Ok((lo, hi))
            }
            n => n.number().map(|v| (v, v)),
        }
    }

    fn errno(&self) -> Result<u32> {
        let n = match self {
            RawNum::Str(s) => match errno_by_name(s) {
                Some(n) => n,
                None => parse_u64(s)
                    .map_err(|_| anyhow!("unknown errno {s:?} (EPERM, ENOSYS, ... or a number)"))?,
            },
            RawNum::Num(n) => *n,
        };
        ensure!(
            (1..4096).contains(&n),
            "errno {} is out of range 1..4095",
            self.text()
        );
        Ok(n as u32)
    }
}

fn parse_u64(s: &str) -> Result<u64> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| anyhow!("{s:?} is not a number (decimal or 0x hex)"))
}

/// A sort key with the order of `name` for its first 16 bytes: sorting syscall names by
/// (key, name) compares integers instead of calling memcmp, which made sorting the largest
/// cost of hardening a spec.
fn name_key(name: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = name.len().min(16);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

/// Errno names the allow-list may use; values for the architecture Rampart is built for.
fn errno_by_name(name: &str) -> Option<u64> {
    let n = match name {
        "EPERM" => libc::EPERM,
        "ENOENT" => libc::ENOENT,
        "EACCES" => libc::EACCES,
        "EINVAL" => libc::EINVAL,
        "ENOSYS" => libc::ENOSYS,
        "EOPNOTSUPP" => libc::EOPNOTSUPP,
        "EAFNOSUPPORT" => libc::EAFNOSUPPORT,
        _ => return None,
    };
    Some(n as u64)
}

/// Text that is a constant for the built-in lists (compiled into `seccomp_builtin.rs` as
/// static data: nothing to allocate per create) and owned for an admin's.
type Text = Cow<'static, str>;
/// A list of [`Text`].
type Texts = Cow<'static, [Text]>;

/// A parsed, checked allow-list.
#[derive(Debug, Clone)]
pub struct AllowList {
    /// `rampart-default`, or the path of an admin's file.
    pub name: Text,
    pub description: Text,
    default_errno: u32,
    groups: Cow<'static, [Group]>,
    /// Every (group, index in its `syscalls`) of the list, in the byte order of the names
    /// (which is their (key, name) order: a key is a name's first 16 bytes): rendering walks
    /// it to get the allowed names sorted, without sorting them per create.
    order: Cow<'static, [(u16, u16)]>,
    /// Built-in lists are checked against libseccomp by unit tests; a name the host's
    /// libseccomp does not know is then newer than it and is passed on for runc to resolve.
    /// In an admin's file it is an error (a typo).
    builtin: bool,
}

#[derive(Debug, Clone)]
struct Group {
    name: Text,
    description: Text,
    requires_cap: Option<Text>,
    arches: Option<Texts>,
    syscalls: Texts,
    /// A built-in list's `syscalls` as [`resolved`] answers for each, in the same order
    /// (empty when a name is missing from that table, and for admins' lists): `exists`
    /// without a lookup per name.
    resolved: Cow<'static, [(u8, u8)]>,
    rules: Cow<'static, [ListRule]>,
}

#[derive(Debug, Clone)]
struct ListRule {
    syscall: Text,
    arches: Option<Texts>,
    not_arches: Option<Texts>,
    action: Action,
    args: Cow<'static, [Cond]>,
}

impl ListRule {
    fn applies_to(&self, rust_arch: &str) -> bool {
        self.arches
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == rust_arch))
            && !self
                .not_arches
                .as_ref()
                .is_some_and(|a| a.iter().any(|x| x == rust_arch))
    }
}

impl AllowList {
    /// Parses and checks an admin's allow-list document. Syscall names libseccomp does not
    /// know are errors when it is rendered.
    pub fn parse(name: &str, text: &str) -> Result<AllowList> {
        let raw: RawList = serde_json::from_str(text)
            .with_context(|| format!("seccomp allow-list {name} is not valid"))?;
        compile(name, raw, false, |s| Cow::Owned(s.to_owned()))
            .with_context(|| format!("seccomp allow-list {name}"))
    }

    /// Parses a built-in list, borrowing its syscall names.
    #[cfg(test)]
    fn parse_builtin(name: &str, text: &'static str) -> Result<AllowList> {
        let raw: RawList<'static> = serde_json::from_str(text)
            .with_context(|| format!("seccomp allow-list {name} is not valid"))?;
        compile(name, raw, true, Cow::Borrowed)
            .with_context(|| format!("seccomp allow-list {name}"))
    }

    /// This list as a Rust expression (for `seccomp_builtin.rs`; see [`load`]).
    #[cfg(test)]
    fn to_rust(&self) -> String {
        fn text(s: &str) -> String {
            format!("Cow::Borrowed({s:?})")
        }
        fn text_list(v: &[Text]) -> String {
            format!("Cow::Borrowed(&[{}])", joined(v, |s| text(s)))
        }
        fn some_texts(v: &Option<Texts>) -> String {
            v.as_ref()
                .map_or("None".into(), |v| format!("Some({})", text_list(v)))
        }
        /// Each item as `f` writes it, joined by ", ".
        fn joined<T>(v: impl IntoIterator<Item = T>, f: impl Fn(T) -> String) -> String {
            v.into_iter().map(f).collect::<Vec<_>>().join(", ")
        }
        let mut o = String::new();
        o += &format!(
            "AllowList {{\n        name: {},\n        description: {},\n        default_errno: {},\n        builtin: {},\n        order: Cow::Borrowed(&[{}]),\n        groups: Cow::Borrowed(&[\n",
            text(&self.name),
            text(&self.description),
            self.default_errno,
            self.builtin,
            joined(self.order.iter(), |(g, i)| format!("({g}, {i})"))
        );
        for g in self.groups.iter() {
            o += &format!(
                "            Group {{\n                name: {},\n                description: {},\n                requires_cap: {},\n                arches: {},\n                syscalls: {},\n                resolved: Cow::Borrowed(&[{}]),\n                rules: Cow::Borrowed(&[\n",
                text(&g.name),
                text(&g.description),
                g.requires_cap
                    .as_ref()
                    .map_or("None".into(), |c| format!("Some({})", text(c))),
                some_texts(&g.arches),
                text_list(&g.syscalls),
                joined(g.resolved.iter(), |(real, known)| format!(
                    "({real:#05b}, {known:#05b})"
                ))
            );
            for r in g.rules.iter() {
                o += &format!(
                    "                    ListRule {{\n                        syscall: {},\n                        arches: {},\n                        not_arches: {},\n                        action: Action::{:?},\n                        args: Cow::Borrowed(&[{}]),\n                    }},\n",
                    text(&r.syscall),
                    some_texts(&r.arches),
                    some_texts(&r.not_arches),
                    r.action,
                    joined(r.args.iter(), |c| format!(
                        "Cond {{ index: {}, op: Op::{:?}, value: {:#x}, value_two: {:#x} }}",
                        c.index, c.op, c.value, c.value_two
                    ))
                );
            }
            o += "                ]),\n            },\n";
        }
        o += "        ]),\n    }";
        o
    }

    /// Names of the groups, in file order.
    pub fn group_names(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.name.as_ref()).collect()
    }

    /// (name, description) of each group, for `rampart explain`.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &str)> {
        self.groups
            .iter()
            .map(|g| (g.name.as_ref(), g.description.as_ref()))
    }
}

fn check_arches(what: &str, arches: &Option<Vec<String>>) -> Result<()> {
    for a in arches.iter().flatten() {
        ensure!(
            HOST_ARCHES.contains(&a.as_str()),
            "{what}: unknown architecture {a:?} (use Rust's names: {})",
            HOST_ARCHES.join(", ")
        );
    }
    Ok(())
}

fn check_syscall_name(what: &str, n: &str) -> Result<()> {
    ensure!(
        !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "{what}: {n:?} is not a syscall name"
    );
    Ok(())
}

fn compile<'a>(
    name: &str,
    raw: RawList<'a>,
    builtin: bool,
    own: impl Fn(&'a str) -> Cow<'static, str>,
) -> Result<AllowList> {
    let default_errno = raw.default_errno.errno().context("defaultErrno")?;
    let mut groups: Vec<Group> = Vec::with_capacity(raw.groups.len());
    // (name, group index, in a rule?) for the duplicate checks below.
    let mut seen: Vec<(&'a str, usize, bool)> = Vec::new();
    for (gi, g) in raw.groups.into_iter().enumerate() {
        let what = format!("group {:?}", g.name);
        ensure!(
            !g.name.is_empty() && !groups.iter().any(|x| x.name == g.name),
            "{what}: group names must be unique and non-empty"
        );
        ensure!(
            !g.description.trim().is_empty(),
            "{what}: describe the group"
        );
        ensure!(
            !g.syscalls.is_empty() || !g.rules.is_empty(),
            "{what} names no syscall"
        );
        if let Some(cap) = &g.requires_cap {
            crate::steps::capabilities::parse_cap(cap)
                .with_context(|| format!("{what}: requiresCap"))?;
        }
        check_arches(&what, &g.arches)?;
        for s in &g.syscalls {
            check_syscall_name(&what, s)?;
            seen.push((s, gi, false));
        }
        let mut rules = Vec::with_capacity(g.rules.len());
        for r in g.rules {
            let what = format!("{what}, rule for {:?}", r.syscall);
            check_syscall_name(&what, r.syscall)?;
            check_arches(&what, &r.arches)?;
            check_arches(&what, &r.not_arches)?;
            ensure!(!r.why.trim().is_empty(), "{what}: say why");
            let (action, args) = match (&r.allow_if, &r.errno) {
                (Some(f), None) => (
                    Action::Allow,
                    compile_filter(f).with_context(|| format!("{what}: allowIf"))?,
                ),
                (None, Some(e)) => (
                    Action::Errno(e.errno().with_context(|| format!("{what}: errno"))?),
                    Vec::new(),
                ),
                _ => bail!("{what}: needs exactly one of allowIf and errno"),
            };
            seen.push((r.syscall, gi, true));
            rules.push(ListRule {
                syscall: own(r.syscall),
                arches: r.arches.map(texts),
                not_arches: r.not_arches.map(texts),
                action,
                args: args.into(),
            });
        }
        let resolved: Option<Vec<(u8, u8)>> = match builtin {
            true => g.syscalls.iter().map(|s| resolved(s)).collect(),
            false => None,
        };
        groups.push(Group {
            name: g.name.into(),
            description: g.description.into(),
            requires_cap: g.requires_cap.map(Cow::Owned),
            arches: g.arches.map(texts),
            syscalls: g.syscalls.into_iter().map(&own).collect(),
            resolved: resolved.unwrap_or_default().into(),
            rules: rules.into(),
        });
    }
    // Built-in lists are checked by unit tests (which parse them as admin files).
    if builtin {
        seen.clear();
    }
    seen.sort_unstable();
    for w in seen.windows(2) {
        let ((a, ga, ra), (b, gb, rb)) = (w[0], w[1]);
        if a != b {
            continue;
        }
        // libseccomp lets an argument-less rule override every filtered one for the same
        // syscall, so a name in both places would silently lose its filter.
        ensure!(
            ra == rb,
            "{a:?} is both allowed outright and in a rule; the argument-less allow would override the rule"
        );
        ensure!(
            ra || ga != gb,
            "group {:?} names {a:?} twice",
            groups[ga].name
        );
    }
    ensure!(
        groups.len() <= usize::from(u16::MAX)
            && groups
                .iter()
                .all(|g| g.syscalls.len() <= usize::from(u16::MAX)),
        "more than {} groups, or names in a group",
        u16::MAX
    );
    let mut order: Vec<(u16, u16)> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        order.extend((0..g.syscalls.len()).map(|i| (gi as u16, i as u16)));
    }
    order.sort_by(|a, b| {
        let name = |(g, i): &(u16, u16)| groups[usize::from(*g)].syscalls[usize::from(*i)].as_ref();
        name(a).cmp(name(b)).then(a.cmp(b))
    });
    Ok(AllowList {
        name: Cow::Owned(name.to_string()),
        description: raw.description.into(),
        default_errno,
        groups: groups.into(),
        order: order.into(),
        builtin,
    })
}

fn texts(v: Vec<String>) -> Texts {
    v.into_iter().map(Cow::Owned).collect()
}

fn compile_filter(f: &RawArgFilter) -> Result<Vec<Cond>> {
    ensure!(f.arg < 6, "arg {} is not a syscall argument (0..5)", f.arg);
    match (&f.values, &f.bits_clear) {
        (Some(values), None) => {
            ensure!(!values.is_empty(), "`in` is empty");
            let ranges = values
                .iter()
                .map(|v| v.range().with_context(|| format!("value {}", v.text())))
                .collect::<Result<Vec<_>>>()?;
            let ranges = normalize(ranges);
            ensure!(
                ranges.as_slice() != [(0, u64::MAX)],
                "`in` allows every value; list the syscall outright instead"
            );
            Ok(ranges_to_conds(f.arg, &ranges))
        }
        (None, Some(mask)) => {
            let mask = mask.number().context("bitsClear")?;
            ensure!(
                mask != 0,
                "bitsClear 0 allows every value; list the syscall outright instead"
            );
            Ok(vec![Cond {
                index: f.arg,
                op: Op::MaskedEq,
                value: mask,
                value_two: 0,
            }])
        }
        _ => bail!("needs exactly one of `in` and `bitsClear`"),
    }
}

// The built-in lists, compiled ahead of time: `seccomp_builtin.rs` is what
// `AllowList::parse_builtin` makes of `seccomp/*.json`, written out as Rust by
// `AllowList::to_rust` (the unit test `builtin_lists_are_compiled_ahead` fails when the two
// differ and, with RAMPART_REGEN=1, rewrites the file). Every create needs the list, and a
// process lives for one create, so parsing the JSON at run time (6% of a create) was paid
// every time.
include!("seccomp_builtin.rs");
include!("seccomp_names.rs");

/// The bits of `arches` in [`RESOLVED_ARCHES`]; None when one is not there (another host
/// architecture than the table's).
fn resolved_mask(arches: &[Arch]) -> Option<u8> {
    arches.iter().try_fold(0u8, |m, a| {
        Some(m | 1 << RESOLVED_ARCHES.iter().position(|o| *o == a.oci)?)
    })
}

/// FNV-1a over the name's bytes: the slot hash of [`RESOLVED_SLOTS`].
fn name_hash(name: &str) -> usize {
    name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    }) as usize
}

/// A built-in list's name as libseccomp resolved it when seccomp_names.rs was generated:
/// (architectures where it has a real number, architectures where libseccomp knows it).
/// An open-addressed table with room to spare, so a free slot ends every probe.
fn resolved(name: &str) -> Option<(u8, u8)> {
    let mut i = name_hash(name) % RESOLVED_SLOTS.len();
    loop {
        let (n, real, known) = *RESOLVED.get(usize::from(RESOLVED_SLOTS[i]).checked_sub(1)?)?;
        if n == name {
            return Some((real, known));
        }
        i = (i + 1) % RESOLVED_SLOTS.len();
    }
}

/// Loads an allow-list: a built-in by name (`rampart-default`) or an admin's file by
/// absolute path. Built-ins are compiled ahead of time into static data (see
/// `seccomp_builtin.rs`).
pub fn load(name_or_path: &str) -> Result<Arc<AllowList>> {
    if let Some(i) = BUILTIN.iter().position(|(n, _)| *n == name_or_path) {
        // A copy of the static list's top level only: its parts stay borrowed.
        return Ok(Arc::new(COMPILED[i].clone()));
    }
    let path = std::path::Path::new(name_or_path);
    if !path.is_absolute() {
        bail!(
            "unknown seccomp allow-list {name_or_path:?}: the built-in one is {}; an admin's own is named by absolute path",
            BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open seccomp allow-list {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_LIST_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read seccomp allow-list {}", path.display()))?;
    ensure!(
        text.len() as u64 <= MAX_LIST_BYTES,
        "seccomp allow-list {} is larger than {MAX_LIST_BYTES} bytes",
        path.display()
    );
    Ok(Arc::new(AllowList::parse(name_or_path, &text)?))
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// A `linux.seccomp` under construction; [`Filter::to_value`] writes it in a fixed order so
/// that hardening an already-hardened spec gives the same bytes.
#[derive(Debug, Clone)]
struct Filter<'l> {
    default_errno: u32,
    arches: Vec<Arch>,
    flags: Vec<String>,
    listener_path: Option<Value>,
    listener_metadata: Option<Value>,
    /// Allowed without conditions; sorted.
    allow: Vec<&'l str>,
    /// Allowed without conditions and logged (a request's SCMP_ACT_LOG kept); sorted.
    log: Vec<&'l str>,
    /// Per syscall name, rules with arguments (or copied from the request).
    by_name: BTreeMap<&'l str, Vec<OciRule<'l>>>,
    /// Argument-less non-allow rules that keep a request's choice of errno or action.
    deny: Vec<OciRule<'l>>,
    /// The allow-list's own errno rules (clone3 → ENOSYS).
    errno_rules: Vec<OciRule<'l>>,
}

impl Filter<'_> {
    fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(7);
        m.insert("defaultAction".into(), json!("SCMP_ACT_ERRNO"));
        m.insert("defaultErrnoRet".into(), json!(self.default_errno));
        m.insert(
            "architectures".into(),
            json!(self.arches.iter().map(|a| a.oci).collect::<Vec<_>>()),
        );
        if !self.flags.is_empty() {
            m.insert("flags".into(), json!(self.flags));
        }
        if let Some(p) = &self.listener_path {
            m.insert("listenerPath".into(), p.clone());
        }
        if let Some(p) = &self.listener_metadata {
            m.insert("listenerMetadata".into(), p.clone());
        }
        let mut rules =
            Vec::with_capacity(2 + self.by_name.len() + self.deny.len() + self.errno_rules.len());
        if !self.allow.is_empty() {
            let mut r = Map::with_capacity(2);
            r.insert("names".into(), strings(&self.allow));
            r.insert("action".into(), json!("SCMP_ACT_ALLOW"));
            rules.push(Value::Object(r));
        }
        if !self.log.is_empty() {
            let mut r = Map::with_capacity(2);
            r.insert("names".into(), strings(&self.log));
            r.insert("action".into(), json!("SCMP_ACT_LOG"));
            rules.push(Value::Object(r));
        }
        rules.extend(self.by_name.values().flatten().map(OciRule::to_value));
        rules.extend(self.deny.iter().map(OciRule::to_value));
        rules.extend(self.errno_rules.iter().map(OciRule::to_value));
        m.insert("syscalls".into(), Value::Array(rules));
        Value::Object(m)
    }

    fn default_action(&self) -> Action {
        Action::Errno(self.default_errno)
    }

    /// Names some rule allows (with or without conditions).
    fn allowed(&self) -> usize {
        self.allow.len()
            + self.log.len()
            + self
                .by_name
                .values()
                .filter(|rs| rs.iter().any(|r| r.action.allows()))
                .count()
    }
}

/// A JSON array of strings, built directly (cheaper than going through a serializer).
fn strings(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|n| Value::String((*n).to_owned()))
            .collect(),
    )
}

/// [`exists`] from a built-in name's [`resolved`] bits and the architectures' mask: a real
/// number on one of them; or, known on none of them, a name newer than libseccomp, which a
/// built-in list keeps.
fn exists_as((real, known): (u8, u8), mask: u8) -> bool {
    (real & mask) != 0 || (known & mask) == 0
}

/// Whether `name` exists on any of `arches`. Err for a name libseccomp does not know at
/// all, unless the list is built-in (then the host's libseccomp is older than the list).
/// `ahead`: the bits of `arches` in the table of names resolved ahead, for a built-in list
/// ([`resolved_mask`]): ~350 lookups in libseccomp's large name table on every create were
/// 4% of its time, mostly cache misses.
fn exists(list: &AllowList, name: &str, arches: &[Arch], ahead: Option<u8>) -> Result<bool> {
    if let Some(mask) = ahead.filter(|_| list.builtin)
        && let Some(bits) = resolved(name)
    {
        return Ok(exists_as(bits, mask));
    }
    let mut known = false;
    for a in arches {
        let Some(scmp) = a.scmp else { continue };
        if let Ok(nr) = ScmpSyscall::from_name_by_arch(name, scmp) {
            if i32::from(nr) >= 0 {
                return Ok(true);
            }
            known = true;
        }
    }
    if known {
        return Ok(false);
    }
    if list.builtin {
        return Ok(true);
    }
    bail!(
        "seccomp allow-list {}: libseccomp does not know the syscall {name:?} on any architecture (a typo?)",
        list.name
    )
}

/// Renders `list` for a host: Rampart's own filter before any intersection. `only_arches`
/// (OCI names) restricts the compat architectures.
fn render_filter<'l>(
    list: &'l AllowList,
    policy: &SeccompPolicy,
    rust_arch: &str,
    bounding_caps: &[String],
    only_arches: Option<&[Arch]>,
) -> Result<Filter<'l>> {
    let (native, compat) = host_arches(rust_arch)?;
    let native_scmp = native
        .scmp
        .context("internal: native arch without libseccomp arch")?;
    if ScmpSyscall::from_name_by_arch("read", native_scmp).is_err() {
        bail!(
            "the host's libseccomp does not support {} (needed for {rust_arch})",
            native.oci
        );
    }
    for g in &policy.deny_groups {
        if !list.groups.iter().any(|x| &x.name == g) {
            bail!(
                "seccomp.deny_groups names {g:?}, which allow-list {} does not have (groups: {})",
                list.name,
                list.group_names().join(", ")
            );
        }
    }
    let mut arches = vec![native];
    if policy.compat_arches {
        arches.extend(
            compat
                .iter()
                .filter(|a| only_arches.is_none_or(|only| only.contains(a))),
        );
    }

    // Used by `exists` for built-in lists only.
    let ahead = resolved_mask(&arches);
    let mut by_name: BTreeMap<&str, Vec<OciRule>> = BTreeMap::new();
    let mut errno_rules = Vec::new();
    // The groups this container gets.
    let mut kept = vec![false; list.groups.len()];
    for (gi, g) in list.groups.iter().enumerate() {
        if policy.deny_groups.iter().any(|d| *d == g.name)
            || g.requires_cap
                .as_ref()
                .is_some_and(|c| !bounding_caps.iter().any(|b| *b == *c))
            || g.arches
                .as_ref()
                .is_some_and(|a| !a.iter().any(|x| x == rust_arch))
        {
            continue;
        }
        kept[gi] = true;
        for r in g.rules.iter().filter(|r| r.applies_to(rust_arch)) {
            if !exists(list, &r.syscall, &arches, ahead)? {
                continue;
            }
            let rule = OciRule {
                names: vec![&r.syscall],
                action: r.action,
                args: r.args.to_vec(),
            };
            if r.args.is_empty() {
                errno_rules.push(rule);
            } else {
                by_name.entry(&r.syscall).or_default().push(rule);
            }
        }
    }
    // Names allowed outright, in byte order (the list's `order`), each once (a name may be
    // in two groups): the (key, name) order the intersection walks.
    let mut allow: Vec<&str> = Vec::with_capacity(list.order.len());
    for &(gi, i) in list.order.iter() {
        let (gi, i) = (usize::from(gi), usize::from(i));
        if !kept[gi] {
            continue;
        }
        let g = &list.groups[gi];
        let name = g.syscalls[i].as_ref();
        let found = match (ahead, g.resolved.get(i)) {
            (Some(mask), Some(&bits)) => exists_as(bits, mask),
            _ => exists(list, name, &arches, ahead)?,
        };
        if found && allow.last() != Some(&name) {
            allow.push(name);
        }
    }
    if let Some(only) = profile_names(policy, arches.len() > 1) {
        allow.retain(|n| only.contains(n));
        by_name.retain(|n, _| only.contains(n));
    }
    Ok(Filter {
        default_errno: list.default_errno,
        arches,
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        allow,
        log: Vec::new(),
        by_name,
        deny: Vec::new(),
        errno_rules,
    })
}

/// The profile's own narrowing (`[seccomp] syscalls`, and `compat_syscalls` when compat
/// architectures are filtered): None when the profile has none.
fn profile_names(policy: &SeccompPolicy, with_compat: bool) -> Option<Vec<&str>> {
    let native = policy.syscalls.as_ref()?;
    let mut names: Vec<&str> = native.iter().map(String::as_str).collect();
    if with_compat {
        names.extend(policy.compat_syscalls.iter().flatten().map(String::as_str));
    }
    names.sort_unstable();
    names.dedup();
    Some(names)
}

/// libseccomp's architecture for a name as recordings write it (`x86_64`, `x86`, `x32`,
/// `aarch64`, `arm`, ...: Rust's names, plus `x32`).
pub fn scmp_arch(name: &str) -> Option<ScmpArch> {
    Some(match name {
        "x32" => ScmpArch::X32,
        other => {
            let (native, _) = host_arches(other).ok()?;
            native.scmp?
        }
    })
}

/// Whether libseccomp knows `name` as a syscall of `arch` (a recording's name). None when
/// the architecture is unknown.
pub fn syscall_on(arch: &str, name: &str) -> Option<bool> {
    let a = scmp_arch(arch)?;
    Some(ScmpSyscall::from_name_by_arch(name, a).is_ok_and(|nr| i32::from(nr) >= 0))
}

/// The compat architectures of a host (recording names: `x86`, `x32`, `arm`, ...).
pub fn compat_arch_names(rust_arch: &str) -> Vec<&'static str> {
    let Ok((_, compat)) = host_arches(rust_arch) else {
        return Vec::new();
    };
    compat
        .iter()
        .filter_map(|a| match a.scmp? {
            ScmpArch::X86 => Some("x86"),
            ScmpArch::X32 => Some("x32"),
            ScmpArch::Arm => Some("arm"),
            ScmpArch::S390 => Some("s390"),
            ScmpArch::Ppc => Some("ppc"),
            ScmpArch::Mips64N32 | ScmpArch::Mipsel64N32 => Some("mips64n32"),
            ScmpArch::Mips | ScmpArch::Mipsel => Some("mips"),
            _ => None,
        })
        .collect()
}

/// Checks a profile's `[seccomp] syscalls` and `compat_syscalls`: every name a syscall
/// libseccomp knows on the host's native architecture (compat names: on one of its compat
/// architectures), as an admin's allow-list's names are checked.
pub fn check_profile_names(policy: &SeccompPolicy, rust_arch: &str) -> Result<()> {
    let (native, compat) = host_arches(rust_arch)?;
    let known = |arches: &[Arch], n: &str| {
        arches.iter().any(|a| {
            a.scmp.is_some_and(|s| {
                ScmpSyscall::from_name_by_arch(n, s).is_ok_and(|nr| i32::from(nr) >= 0)
            })
        })
    };
    for n in policy.syscalls.iter().flatten() {
        check_syscall_name("seccomp.syscalls", n)?;
        ensure!(
            known(&[native], n),
            "seccomp.syscalls: {n:?} is not a syscall libseccomp knows on {} (a typo, or a compat-only name: list those in compat_syscalls)",
            native.oci
        );
    }
    if let Some(c) = &policy.compat_syscalls {
        ensure!(
            policy.compat_arches && !compat.is_empty(),
            "seccomp.compat_syscalls needs compat_arches = true on a host with compat architectures"
        );
        ensure!(
            policy.syscalls.is_some(),
            "seccomp.compat_syscalls needs seccomp.syscalls (the native architecture's list)"
        );
        for n in c {
            check_syscall_name("seccomp.compat_syscalls", n)?;
            ensure!(
                known(compat, n),
                "seccomp.compat_syscalls: {n:?} is not a syscall libseccomp knows on {}",
                compat
                    .iter()
                    .map(|a| a.oci)
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
    }
    Ok(())
}

impl AllowList {
    /// The group that allows `name` on `rust_arch` (listed outright or in a rule), with the
    /// capability it needs in the bounding set, if any.
    pub fn group_of(&self, name: &str, rust_arch: &str) -> Option<(&str, Option<&str>)> {
        self.groups
            .iter()
            .filter(|g| {
                g.arches
                    .as_ref()
                    .is_none_or(|a| a.iter().any(|x| x == rust_arch))
            })
            .find(|g| {
                g.syscalls.iter().any(|s| s == name)
                    || g.rules
                        .iter()
                        .any(|r| r.syscall == name && r.action.allows() && r.applies_to(rust_arch))
            })
            .map(|g| (g.name.as_ref(), g.requires_cap.as_deref()))
    }
}

/// Renders `list` into an OCI `linux.seccomp` for the host architecture `arch`
/// (`std::env::consts::ARCH`) and the container's final bounding set.
pub fn render(
    list: &AllowList,
    policy: &SeccompPolicy,
    arch: &str,
    bounding_caps: &[String],
) -> Result<Value> {
    Ok(render_filter(list, policy, arch, bounding_caps, None)?.to_value())
}

// ---------------------------------------------------------------------------------------
// The request's profile
// ---------------------------------------------------------------------------------------

const FLAG_SPEC_ALLOW: &str = "SECCOMP_FILTER_FLAG_SPEC_ALLOW";
const KNOWN_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// A `linux.seccomp` from config.json, read the way runc reads it.
#[derive(Debug)]
struct Request<'r> {
    default: Action,
    arches: Vec<Arch>,
    flags: Vec<&'r str>,
    listener_path: Option<&'r Value>,
    listener_metadata: Option<&'r Value>,
    rules: Vec<OciRule<'r>>,
}

impl<'r> Request<'r> {
    /// (key, name, rule index) for every rule runc would install (its action differs from
    /// the default), sorted by name and then rule order.
    fn index(&self) -> Vec<(u128, &'r str, usize)> {
        let mut idx: Vec<(u128, &'r str, usize)> = Vec::with_capacity(512);
        for (i, r) in self.rules.iter().enumerate() {
            if !r.action.same(self.default) {
                idx.extend(r.names.iter().map(|n| (name_key(n), *n, i)));
            }
        }
        // The stable sort merges the few sorted runs a profile's names make (Docker's are
        // alphabetical): 41 K instructions fewer than sorting in place for Docker's profile.
        // Its scratch copy (17 KB) no longer costs new pages: the binary's arena
        // (src/arena.rs) hands the freed copy to what follows, so faults stay the same (112
        // and 113 per create, by hand). Same result: equal entries are identical.
        idx.sort();
        idx
    }
}

/// The entries of a [`Request::index`] for `name`.
fn index_of<'i, 'r>(idx: &'i [(u128, &'r str, usize)], name: &str) -> &'i [(u128, &'r str, usize)] {
    let key = name_key(name);
    let start = idx.partition_point(|(k, n, _)| (*k, *n) < (key, name));
    let end = start
        + idx[start..]
            .iter()
            .take_while(|(_, n, _)| *n == name)
            .count();
    &idx[start..end]
}

const PTR: &str = "/linux/seccomp";

fn fail_closed(at: &str, what: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{PTR}{at}: {what}; Rampart refuses a seccomp profile it cannot interpret")
}

fn u32_field(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<u32>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                fail_closed(
                    &format!("{at}/{key}"),
                    format!("{v} is not an unsigned 32-bit number"),
                )
            }),
    }
}

fn parse_request(v: &Value) -> Result<Request<'_>> {
    let obj = v
        .as_object()
        .ok_or_else(|| fail_closed("", format!("{v} is not an object")))?;
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "defaultAction"
                | "defaultErrnoRet"
                | "architectures"
                | "flags"
                | "listenerPath"
                | "listenerMetadata"
                | "syscalls"
        ) {
            return Err(fail_closed("", format!("unknown field {k:?}")));
        }
    }
    let default_name = obj
        .get("defaultAction")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let default =
        Action::parse(default_name, u32_field(obj, "defaultErrnoRet", "")?).ok_or_else(|| {
            fail_closed(
                "/defaultAction",
                format!(
                    "unknown action {}",
                    obj.get("defaultAction").unwrap_or(&Value::Null)
                ),
            )
        })?;
    if default == Action::Notify {
        return Err(fail_closed(
            "/defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action (runc refuses it)",
        ));
    }

    let mut arches = Vec::new();
    for (i, a) in str_list(obj, "architectures")?.into_iter().enumerate() {
        let arch = ALL_ARCHES.iter().find(|x| x.oci == a).ok_or_else(|| {
            fail_closed(
                &format!("/architectures/{i}"),
                format!("unknown architecture {a:?}"),
            )
        })?;
        arches.push(*arch);
    }
    let mut flags = Vec::new();
    for (i, f) in str_list(obj, "flags")?.into_iter().enumerate() {
        if !KNOWN_FLAGS.contains(&f) {
            return Err(fail_closed(
                &format!("/flags/{i}"),
                format!("unknown flag {f:?}"),
            ));
        }
        flags.push(f);
    }
    for key in ["listenerPath", "listenerMetadata"] {
        if let Some(x) = obj.get(key).filter(|x| !x.is_null() && !x.is_string()) {
            return Err(fail_closed(
                &format!("/{key}"),
                format!("{x} is not a string"),
            ));
        }
    }

    let mut rules = Vec::new();
    let syscalls = match obj.get("syscalls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(x) => return Err(fail_closed("/syscalls", format!("{x} is not a list"))),
    };
    for (i, r) in syscalls.iter().enumerate() {
        let at = format!("/syscalls/{i}");
        let ro = r
            .as_object()
            .ok_or_else(|| fail_closed(&at, format!("{r} is not an object")))?;
        for k in ro.keys() {
            if !matches!(
                k.as_str(),
                "names" | "action" | "errnoRet" | "args" | "comment" | "comments"
            ) {
                return Err(fail_closed(&at, format!("unknown field {k:?}")));
            }
        }
        let names = match ro.get("names") {
            Some(Value::Array(ns)) => ns
                .iter()
                .map(|n| {
                    n.as_str().ok_or_else(|| {
                        fail_closed(&format!("{at}/names"), format!("{n} is not a string"))
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            other => {
                return Err(fail_closed(
                    &format!("{at}/names"),
                    format!("{} is not a list of names", other.unwrap_or(&Value::Null)),
                ));
            }
        };
        let action_v = ro.get("action").unwrap_or(&Value::Null);
        let action = Action::parse(
            action_v.as_str().unwrap_or_default(),
            u32_field(ro, "errnoRet", &at)?,
        )
        .ok_or_else(|| {
            fail_closed(
                &format!("{at}/action"),
                format!("unknown action {action_v}"),
            )
        })?;
        let mut args = Vec::new();
        match ro.get("args") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (j, a) in items.iter().enumerate() {
                    args.push(parse_cond(a, &format!("{at}/args/{j}"))?);
                }
            }
            Some(x) => {
                return Err(fail_closed(
                    &format!("{at}/args"),
                    format!("{x} is not a list"),
                ));
            }
        }
        rules.push(OciRule {
            names,
            action,
            args,
        });
    }
    Ok(Request {
        default,
        arches,
        flags,
        listener_path: obj.get("listenerPath").filter(|x| !x.is_null()),
        listener_metadata: obj.get("listenerMetadata").filter(|x| !x.is_null()),
        rules,
    })
}

fn str_list<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str().ok_or_else(|| {
                    fail_closed(&format!("/{key}/{i}"), format!("{x} is not a string"))
                })
            })
            .collect(),
        Some(x) => Err(fail_closed(
            &format!("/{key}"),
            format!("{x} is not a list"),
        )),
    }
}

fn parse_cond(a: &Value, at: &str) -> Result<Cond> {
    let o = a
        .as_object()
        .ok_or_else(|| fail_closed(at, format!("{a} is not an object")))?;
    for k in o.keys() {
        if !matches!(k.as_str(), "index" | "value" | "valueTwo" | "op") {
            return Err(fail_closed(at, format!("unknown field {k:?}")));
        }
    }
    let num = |key: &str, required: bool| -> Result<u64> {
        match o.get(key) {
            None | Some(Value::Null) if !required => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| {
                fail_closed(
                    &format!("{at}/{key}"),
                    format!("{v} is not an unsigned 64-bit number"),
                )
            }),
            None => Err(fail_closed(&format!("{at}/{key}"), "missing")),
        }
    };
    let index = num("index", true)?;
    if index > 5 {
        return Err(fail_closed(
            &format!("{at}/index"),
            format!("{index} is not a syscall argument (0..5)"),
        ));
    }
    let op_v = o.get("op").unwrap_or(&Value::Null);
    let op = op_v
        .as_str()
        .and_then(Op::parse)
        .ok_or_else(|| fail_closed(&format!("{at}/op"), format!("unknown operator {op_v}")))?;
    Ok(Cond {
        index: index as u8,
        op,
        value: num("value", true)?,
        value_two: num("valueTwo", false)?,
    })
}

// ---------------------------------------------------------------------------------------
// Intersection
// ---------------------------------------------------------------------------------------

/// What the request's profile does with one syscall.
enum Verdict<'a> {
    /// Every call runs, with this action: SCMP_ACT_ALLOW, or SCMP_ACT_LOG (kept, so the
    /// request's audit records of the syscall are not lost).
    Allow(Action),
    /// No call runs; the action the request chose (an arg-less rule or its default).
    Deny(Action),
    /// Depends on the arguments: the request's rules naming the syscall.
    Filtered(Vec<&'a OciRule<'a>>),
}

/// Rampart's filter combined with a request's.
#[derive(Debug, Clone)]
pub struct Hardened {
    /// The `linux.seccomp` to write.
    pub seccomp: Value,
    /// Syscalls the allow-list allows on this host (before the request is taken into account).
    pub listed: usize,
    /// Syscalls allowed in the result.
    pub allowed: usize,
    /// Whether the request carried a profile.
    pub intersected: bool,
    /// Names the allow-list allows that stay denied because the request denies them.
    pub denied_by_request: usize,
    /// Names where the request's argument filters were used instead of the list's verdict.
    pub filtered_by_request: Vec<String>,
    /// Names denied because the two sets of argument filters could not be combined.
    pub uncombinable: Vec<String>,
    /// Other things worth a line in the audit log.
    pub notes: Vec<String>,
}

/// Renders `list` and, when the request carries a `linux.seccomp`, intersects the two: the
/// result allows nothing either of them denies.
pub fn harden(
    list: &AllowList,
    policy: &SeccompPolicy,
    arch: &str,
    bounding_caps: &[String],
    request: Option<&Value>,
) -> Result<Hardened> {
    let Some(request) = request else {
        let f = render_filter(list, policy, arch, bounding_caps, None)?;
        let n = f.allowed();
        return Ok(Hardened {
            seccomp: f.to_value(),
            listed: n,
            allowed: n,
            intersected: false,
            denied_by_request: 0,
            filtered_by_request: Vec::new(),
            uncombinable: Vec::new(),
            notes: Vec::new(),
        });
    };
    let req = parse_request(request)?;
    let (native, compat) = host_arches(arch)?;
    // runc always filters the native architecture, listed or not.
    let mut req_arches = req.arches.clone();
    req_arches.push(native);
    let ours = render_filter(list, policy, arch, bounding_caps, Some(&req_arches))?;
    let mut notes = Vec::new();
    if policy.compat_arches {
        let dropped: Vec<&str> = compat
            .iter()
            .filter(|a| !ours.arches.contains(a))
            .map(|a| a.oci)
            .collect();
        if !dropped.is_empty() {
            notes.push(format!(
                "architectures {} left out: the request does not allow them",
                dropped.join(", ")
            ));
        }
    }
    if req.flags.contains(&FLAG_SPEC_ALLOW) {
        notes.push(format!(
            "flag {FLAG_SPEC_ALLOW} dropped: it turns off the Speculative Store Bypass mitigation"
        ));
    }

    let idx = req.index();
    let fallthrough_allows = req.default.allows();
    // Rampart reasons about 64-bit argument values; where libseccomp truncates them to 32
    // bits, a request's condition on a larger value means something else, so such names are
    // only ever taken over from the request as they are, never combined.
    let narrow = ours.arches.iter().any(|a| a.narrow);
    let truncated =
        |rules: &[&OciRule]| narrow && rules.iter().any(|r| r.args.iter().any(|c| c.wide()));
    let mut m = Merge {
        our_default: ours.default_action(),
        out: Filter {
            default_errno: ours.default_errno,
            arches: ours.arches.clone(),
            flags: req
                .flags
                .iter()
                .filter(|f| **f != FLAG_SPEC_ALLOW)
                .map(|f| f.to_string())
                .collect(),
            listener_path: req.listener_path.cloned(),
            listener_metadata: req.listener_metadata.cloned(),
            allow: Vec::with_capacity(ours.allow.len()),
            log: Vec::new(),
            by_name: BTreeMap::new(),
            deny: Vec::new(),
            errno_rules: ours.errno_rules.clone(),
        },
        denied: 0,
        filtered_by_request: Vec::new(),
        uncombinable: Vec::new(),
    };

    // Names the list allows outright. Both lists are sorted by (key, name): walk them
    // together instead of searching the request's index for each name.
    let mut cursor = 0;
    for &name in &ours.allow {
        let key = name_key(name);
        while cursor < idx.len() && (idx[cursor].0, idx[cursor].1) < (key, name) {
            cursor += 1;
        }
        let end = cursor
            + idx[cursor..]
                .iter()
                .take_while(|(_, n, _)| *n == name)
                .count();
        match verdict_of(&req, &idx[cursor..end]) {
            Verdict::Allow(a) => m.allow(a, name),
            Verdict::Deny(a) => m.deny(a, name),
            Verdict::Filtered(rules) if !fallthrough_allows => {
                // The request allows some argument values only: its rules, as they are.
                let copied = m.copy(name, &rules, false);
                m.install(name, copied);
                m.filtered_by_request.push(name.to_string());
            }
            Verdict::Filtered(rules) if truncated(&rules) => m.combined(name, None, &rules),
            Verdict::Filtered(rules) => {
                // The request allows by default and denies some argument values: allow the rest.
                let deny_c: Vec<Clause> = rules
                    .iter()
                    .filter(|r| !r.action.allows())
                    .flat_map(|r| r.clauses())
                    .collect();
                if deny_c.is_empty() {
                    m.allow(req.default, name);
                } else {
                    let result = combine(name, &[Vec::new()], &[], &deny_c, true);
                    let how = allowing_action(&rules, req.default);
                    m.combined(name, result.map(|r| logged_if(how, r)), &rules);
                }
            }
        }
    }

    // Names the list allows with argument filters.
    for (&name, our_rules) in &ours.by_name {
        match verdict_of(&req, index_of(&idx, name)) {
            Verdict::Allow(how) => {
                m.out
                    .by_name
                    .insert(name, logged_if(how, our_rules.clone()));
            }
            Verdict::Deny(a) => m.deny(a, name),
            Verdict::Filtered(rules) if truncated(&rules) => m.combined(name, None, &rules),
            Verdict::Filtered(rules) => {
                let ours_c: Vec<Clause> = our_rules.iter().flat_map(OciRule::clauses).collect();
                let allow_c: Vec<Clause> = rules
                    .iter()
                    .filter(|r| r.action.allows())
                    .flat_map(|r| r.clauses())
                    .collect();
                let deny_c: Vec<Clause> = rules
                    .iter()
                    .filter(|r| !r.action.allows())
                    .flat_map(|r| r.clauses())
                    .collect();
                let ours_implied = ours_c.iter().all(|c| {
                    (fallthrough_allows || allow_c.iter().any(|a| clause_subset(c, a)))
                        && deny_c.iter().all(|d| clause_disjoint(c, d))
                });
                let theirs_within = !fallthrough_allows
                    && allow_c
                        .iter()
                        .all(|a| ours_c.iter().any(|c| clause_subset(a, c)));
                let how = allowing_action(&rules, req.default);
                if ours_implied {
                    // Rampart's filter, plus the request's denials (disjoint from it) so
                    // they keep the errno the request chose.
                    let mut keep = logged_if(how, our_rules.clone());
                    keep.extend(m.copy(name, &rules, true));
                    m.out.by_name.insert(name, keep);
                } else if theirs_within {
                    let copied = m.copy(name, &rules, false);
                    m.install(name, copied);
                    m.filtered_by_request.push(name.to_string());
                } else {
                    let result = combine(name, &ours_c, &allow_c, &deny_c, fallthrough_allows);
                    m.combined(name, result.map(|r| logged_if(how, r)), &rules);
                }
            }
        }
    }

    // The index and Rampart's own rendering are done with: freed before the new tree is
    // built, which then reuses their memory instead of new pages.
    drop(idx);
    let listed = ours.allowed();
    drop(ours);
    m.finish();
    let allowed = m.out.allowed();
    Ok(Hardened {
        seccomp: m.out.to_value(),
        listed,
        allowed,
        intersected: true,
        denied_by_request: m.denied,
        filtered_by_request: m.filtered_by_request,
        uncombinable: m.uncombinable,
        notes,
    })
}

/// The result of an intersection under construction.
struct Merge<'l> {
    out: Filter<'l>,
    our_default: Action,
    denied: usize,
    filtered_by_request: Vec<String>,
    uncombinable: Vec<String>,
}

impl<'l> Merge<'l> {
    /// `name` runs without conditions, with `action` (ALLOW or LOG).
    fn allow(&mut self, action: Action, name: &'l str) {
        if action == Action::Log {
            self.out.log.push(name);
        } else {
            self.out.allow.push(name);
        }
    }

    /// Installs rules for `name` in the one form a second pass reads back the same way:
    /// rules that amount to an unconditional ALLOW or LOG go to the name lists.
    fn install(&mut self, name: &'l str, rules: Vec<OciRule<'l>>) {
        match unconditional(rules.iter()) {
            Some(a) if rules.iter().all(|r| r.action.allows()) => self.allow(a, name),
            _ => {
                self.out.by_name.insert(name, rules);
            }
        }
    }

    /// Sorts the name lists as [`render_filter`] does (names may arrive out of order).
    fn finish(&mut self) {
        for list in [&mut self.out.allow, &mut self.out.log] {
            if !list.is_sorted_by_key(|n| (name_key(n), *n)) {
                list.sort_unstable_by_key(|n| (name_key(n), *n));
            }
        }
    }

    /// `name` stays denied, with the request's action unless that is Rampart's default.
    fn deny(&mut self, action: Action, name: &'l str) {
        self.denied += 1;
        if action.same(self.our_default) {
            return;
        }
        match self.out.deny.iter_mut().find(|r| r.action.same(action)) {
            Some(r) => r.names.push(name),
            None => self.out.deny.push(OciRule {
                names: vec![name],
                action,
                args: Vec::new(),
            }),
        }
    }

    /// The request's rules for `name`, minus those runc would skip in Rampart's filter.
    fn copy(&self, name: &'l str, rules: &[&OciRule], only_denying: bool) -> Vec<OciRule<'l>> {
        rules
            .iter()
            .filter(|r| !r.action.same(self.our_default))
            .filter(|r| !only_denying || !r.action.allows())
            .map(|r| r.for_name(name))
            .collect()
    }

    /// Installs what [`combine`] made of the two filters for `name`.
    fn combined(&mut self, name: &'l str, result: Option<Vec<OciRule<'l>>>, rules: &[&OciRule]) {
        match result {
            Some(mut allow) if !allow.is_empty() => {
                allow.extend(self.copy(name, rules, true));
                self.install(name, allow);
                self.filtered_by_request.push(name.to_string());
            }
            Some(_) => self.deny(self.our_default, name),
            None => {
                self.deny(self.our_default, name);
                self.uncombinable.push(name.to_string());
            }
        }
    }
}

/// The request's verdict on one name, from the [`Request::index`] entries for it (the
/// rules runc would install for it).
fn verdict_of<'a>(req: &'a Request<'a>, entries: &[(u128, &'a str, usize)]) -> Verdict<'a> {
    let rules = || entries.iter().map(|(_, _, i)| &req.rules[*i]);
    if entries.is_empty() {
        return if req.default.allows() {
            Verdict::Allow(req.default)
        } else {
            Verdict::Deny(req.default)
        };
    }
    // An argument-less rule overrides the filtered ones; a denying one wins (strictest).
    match unconditional(rules()) {
        Some(a) if !a.allows() => Verdict::Deny(a),
        Some(a) if rules().all(|r| r.action.allows()) => Verdict::Allow(a),
        _ => Verdict::Filtered(rules().collect()),
    }
}

/// How the request lets a syscall it filters by argument run: LOG when every one of its
/// allowing rules for it logs (and so does its default, if that allows), else ALLOW.
fn allowing_action(rules: &[&OciRule], default: Action) -> Action {
    let mut allowing = rules
        .iter()
        .map(|r| r.action)
        .chain(Some(default))
        .filter(|a| a.allows())
        .peekable();
    let logs = allowing.peek().is_some() && allowing.all(|a| a == Action::Log);
    if logs { Action::Log } else { Action::Allow }
}

/// `rules` with their allowing actions turned into LOG when `how` is LOG.
fn logged_if<'n>(how: Action, mut rules: Vec<OciRule<'n>>) -> Vec<OciRule<'n>> {
    if how == Action::Log {
        for r in rules.iter_mut().filter(|r| r.action.allows()) {
            r.action = Action::Log;
        }
    }
    rules
}

/// The action of the argument-less rules among `rules` (which override conditional ones):
/// a denying one if any (strictest), else LOG if any (keeps the audit records), else ALLOW.
fn unconditional<'r, 'a: 'r>(rules: impl Iterator<Item = &'r OciRule<'a>>) -> Option<Action> {
    let mut found: Option<Action> = None;
    for r in rules.filter(|r| r.args.is_empty()) {
        found = Some(match found {
            Some(a) if !a.allows() => a,
            _ if !r.action.allows() => r.action,
            Some(Action::Log) => Action::Log,
            _ => r.action,
        });
    }
    found
}

/// When every clause of both filters tests the same single argument against ranges, the
/// exact intersection: `Some(Some((index, ranges)))`, or `Some(None)` when it is empty.
/// Overlaps between the request's allowing and denying rules count as denied.
#[allow(clippy::type_complexity)]
fn same_argument_intersection(
    ours: &[Clause],
    allow: &[Clause],
    deny: &[Clause],
    fallthrough_allows: bool,
) -> Option<Option<(u8, Vec<(u64, u64)>)>> {
    let index = ours.first()?.first()?.0;
    let union = |cs: &[Clause]| -> Option<Vec<(u64, u64)>> {
        let mut all = Vec::new();
        for c in cs {
            match c.as_slice() {
                [(i, ArgSet::Ranges(r))] if *i == index => all.extend_from_slice(r),
                _ => return None,
            }
        }
        Some(normalize(all))
    };
    let ours = union(ours)?;
    let theirs = if fallthrough_allows {
        vec![(0, u64::MAX)]
    } else {
        union(allow)?
    };
    let denied = union(deny)?;
    let allowed = intersect_ranges(&intersect_ranges(&ours, &theirs), &complement(&denied));
    Some((!allowed.is_empty()).then_some((index, allowed)))
}

fn intersect_ranges(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(alo, ahi) in a {
        for &(blo, bhi) in b {
            let (lo, hi) = (alo.max(blo), ahi.min(bhi));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    normalize(out)
}

/// Most rules one combined filter may produce for a syscall before Rampart gives up.
const MAX_COMBINED_RULES: usize = 64;

/// ALLOW rules for `name` accepting exactly the calls that one of `ours` accepts, one of
/// the request's `allow` clauses accepts (any call, if its default allows) and none of its
/// `deny` clauses matches. `None` when that cannot be written as OCI conditions (masks
/// that would have to be negated, too many rules); an empty list when nothing remains.
fn combine<'n>(
    name: &'n str,
    ours: &[Clause],
    allow: &[Clause],
    deny: &[Clause],
    fallthrough_allows: bool,
) -> Option<Vec<OciRule<'n>>> {
    if let Some(same) = same_argument_intersection(ours, allow, deny, fallthrough_allows) {
        return Some(match same {
            Some((index, ranges)) => {
                vec![OciRule {
                    names: vec![name],
                    action: Action::Allow,
                    args: ranges_to_conds(index, &ranges),
                }]
            }
            None => Vec::new(),
        });
    }
    let theirs: Vec<Clause> = if fallthrough_allows {
        vec![Vec::new()]
    } else {
        allow.to_vec()
    };
    let mut parts: Vec<Clause> = Vec::new();
    for c in ours {
        for a in &theirs {
            let mut pieces = vec![clause_and(c, a)?];
            for d in deny {
                let mut next = Vec::new();
                for p in &pieces {
                    next.extend(clause_minus(p, d)?);
                }
                pieces = next;
            }
            parts.extend(pieces.into_iter().filter(|p| !clause_is_empty(p)));
            if parts.len() > MAX_COMBINED_RULES {
                return None;
            }
        }
    }
    // Leave out alternatives another one already covers.
    let mut kept: Vec<Clause> = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let covered = parts
            .iter()
            .enumerate()
            .any(|(j, q)| j != i && clause_subset(p, q) && (j < i || !clause_subset(q, p)));
        if !covered {
            kept.push(p.clone());
        }
    }
    let mut rules = Vec::new();
    for c in &kept {
        // An unconditional alternative would override the request's denying rules.
        if c.iter().all(|(_, s)| s.is_full()) {
            return None;
        }
        rules.extend(clause_rules(name, c)?);
        if rules.len() > MAX_COMBINED_RULES {
            return None;
        }
    }
    Some(rules)
}

/// The intersection of two sets of one argument, if it can be written down.
fn set_and(a: &ArgSet, b: &ArgSet) -> Option<ArgSet> {
    match (a, b) {
        (ArgSet::Ranges(x), ArgSet::Ranges(y)) => Some(ArgSet::Ranges(intersect_ranges(x, y))),
        (m @ ArgSet::Masked { .. }, r @ ArgSet::Ranges(_))
        | (r @ ArgSet::Ranges(_), m @ ArgSet::Masked { .. }) => {
            if m.subset_of(r) {
                Some(m.clone())
            } else if m.disjoint_from(r) {
                Some(ArgSet::empty())
            } else {
                None
            }
        }
        (
            &ArgSet::Masked {
                mask: am,
                datum: ad,
            },
            &ArgSet::Masked {
                mask: bm,
                datum: bd,
            },
        ) => {
            if (ad ^ bd) & am & bm != 0 {
                Some(ArgSet::empty())
            } else {
                Some(
                    Cond {
                        index: 0,
                        op: Op::MaskedEq,
                        value: am | bm,
                        value_two: ad | bd,
                    }
                    .set(),
                )
            }
        }
    }
}

/// `c AND d`, if it can be written down.
fn clause_and(c: &Clause, d: &Clause) -> Option<Clause> {
    let mut out = c.clone();
    for (i, ds) in d {
        match out.iter_mut().find(|(j, _)| j == i) {
            Some((_, cs)) => *cs = set_and(cs, ds)?,
            None => out.push((*i, ds.clone())),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Some(out)
}

/// `p AND NOT d` as disjoint alternatives, if it can be written down.
fn clause_minus(p: &Clause, d: &Clause) -> Option<Vec<Clause>> {
    if clause_disjoint(p, d) {
        return Some(vec![p.clone()]);
    }
    if clause_subset(p, d) {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    let mut acc = p.clone();
    for (i, ds) in d {
        let ArgSet::Ranges(r) = ds else { return None };
        let outside = clause_and(&acc, &vec![(*i, ArgSet::Ranges(complement(r)))])?;
        if !clause_is_empty(&outside) {
            out.push(outside);
        }
        acc = clause_and(&acc, &vec![(*i, ds.clone())])?;
    }
    Some(out)
}

/// OCI ALLOW rules whose OR is exactly clause `c` (each rule an AND of one condition per
/// argument, as runc installs rules without repeated indexes).
fn clause_rules<'n>(name: &'n str, c: &Clause) -> Option<Vec<OciRule<'n>>> {
    let mut alternatives: Vec<Vec<Cond>> = vec![Vec::new()];
    for (i, set) in c {
        let conds = match set {
            s if s.is_full() => continue,
            ArgSet::Ranges(r) if r.is_empty() => return Some(Vec::new()),
            ArgSet::Ranges(r) => match r.as_slice() {
                &[(0, a), (b, u64::MAX)] if a.checked_add(2) == Some(b) => {
                    vec![Cond {
                        index: *i,
                        op: Op::Ne,
                        value: a + 1,
                        value_two: 0,
                    }]
                }
                _ => ranges_to_conds(*i, r),
            },
            &ArgSet::Masked { mask, datum } => vec![Cond {
                index: *i,
                op: Op::MaskedEq,
                value: mask,
                value_two: datum,
            }],
        };
        alternatives = alternatives
            .iter()
            .flat_map(|prefix| {
                conds
                    .iter()
                    .map(move |c| prefix.iter().copied().chain([*c]).collect::<Vec<_>>())
            })
            .collect();
        if alternatives.len() > MAX_COMBINED_RULES {
            return None;
        }
    }
    Some(
        alternatives
            .into_iter()
            .map(|args| OciRule {
                names: vec![name],
                action: Action::Allow,
                args,
            })
            .collect(),
    )
}

/// A small, fast hasher for short strings (syscall names): eight bytes per multiply (the
/// FxHash step), where FNV-1a takes one. Not collision-resistant, like FNV; see
/// [`summary`] for how the work stays bounded.
#[derive(Default)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
        }
        self.0 = h;
    }
}

/// How many distinct strings `lists` hold (other values are skipped). Rampart's own output
/// is one long sorted list of names and a few short rules: when the longest list is strictly
/// ascending (in byte order) it is counted as it is and only the others' names are looked up
/// in it, by halves. Otherwise (Docker's list, whose order is not byte order) every name is
/// hashed with [`Fx`]: sorting ~300
/// names, or SipHash with a random seed, cost more than the rest of the summary. Fx is not
/// collision-resistant and the names come from the request, so beyond a few thousand names
/// (no real profile has that many) a sort bounds the work instead.
fn distinct_names(lists: &[&[Value]]) -> usize {
    fn text(v: &Value) -> &str {
        v.as_str().unwrap_or_default()
    }
    let longest = (0..lists.len()).max_by_key(|&i| lists[i].len());
    if let Some(big) = longest.map(|i| lists[i])
        && big.iter().all(Value::is_string)
        && big.windows(2).all(|w| text(&w[0]) < text(&w[1]))
    {
        let mut rest: Vec<&str> = lists
            .iter()
            .filter(|l| !std::ptr::eq(**l, big))
            .flat_map(|l| l.iter().filter_map(Value::as_str))
            .filter(|n| big.binary_search_by(|v| text(v).cmp(n)).is_err())
            .collect();
        rest.sort_unstable();
        rest.dedup();
        return big.len() + rest.len();
    }
    let mut names: Vec<&str> = lists
        .iter()
        .flat_map(|l| l.iter().filter_map(Value::as_str))
        .collect();
    if names.len() <= 4096 {
        names
            .iter()
            .copied()
            .collect::<std::collections::HashSet<&str, std::hash::BuildHasherDefault<Fx>>>()
            .len()
    } else {
        names.sort_unstable();
        names.dedup();
        names.len()
    }
}

/// A short description of a `linux.seccomp` for the audit log (not the whole list).
pub fn summary<'a>(seccomp: Option<&'a Value>) -> Value {
    let Some(v) = seccomp else { return Value::Null };
    let rules = v
        .get("syscalls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    // One pass, each rule's two keys found by a scan of its few entries (hashing "action"
    // and "names" into every rule's map cost more than the rest of the summary).
    let field = |r: &'a Value, key: &str| -> Option<&'a Value> {
        r.as_object()?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    };
    let mut lists: Vec<&[Value]> = Vec::new();
    for r in rules {
        if matches!(
            field(r, "action").and_then(Value::as_str),
            Some("SCMP_ACT_ALLOW" | "SCMP_ACT_LOG")
        ) && let Some(list) = field(r, "names").and_then(Value::as_array)
        {
            lists.push(list);
        }
    }
    let allowed = distinct_names(&lists);
    let mut m = Map::new();
    for key in [
        "defaultAction",
        "defaultErrnoRet",
        "architectures",
        "flags",
        "listenerPath",
    ] {
        if let Some(x) = v.get(key) {
            m.insert(key.into(), x.clone());
        }
    }
    m.insert("allowed".into(), json!(allowed));
    m.insert("rules".into(), json!(rules.len()));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `seccomp_builtin.rs` is exactly what parsing `seccomp/*.json` gives (RAMPART_REGEN=1
    /// rewrites it after an edit of the JSON).
    #[test]
    fn builtin_lists_are_compiled_ahead() {
        let mut want = String::from(
            "// @generated by the unit test seccomp::tests::builtin_lists_are_compiled_ahead from\n// seccomp/*.json (RAMPART_REGEN=1 cargo test --lib builtin_lists_are_compiled_ahead).\n// Do not edit: edit the JSON and regenerate.\n\n/// The built-in allow-lists, in `BUILTIN`'s order, as `AllowList::parse_builtin` makes them:\n/// static data, nothing built at run time.\nstatic COMPILED: &[AllowList] = &[\n",
        );
        for (name, text) in BUILTIN {
            want += "    ";
            want += &AllowList::parse_builtin(name, text).unwrap().to_rust();
            want += ",\n";
        }
        want += "];\n";
        crate::profile::generated_is_current(
            "src/seccomp_builtin.rs",
            &want,
            "builtin_lists_are_compiled_ahead",
        );
        let built = COMPILED;
        assert_eq!(built.len(), BUILTIN.len());
        for (b, (name, text)) in built.iter().zip(BUILTIN) {
            let parsed = AllowList::parse_builtin(name, text).unwrap();
            assert_eq!(format!("{b:?}"), format!("{parsed:?}"));
        }
    }
    /// `seccomp_names.rs` is what libseccomp answers for every name of the built-in lists on
    /// x86_64, x86 and x32 (RAMPART_REGEN=1 rewrites it after an edit of seccomp/*.json or a
    /// libseccomp upgrade), and `exists` answers the same with and without it.
    #[test]
    fn builtin_names_are_resolved_ahead() {
        let (native, compat) = host_arches("x86_64").unwrap();
        let all: Vec<Arch> = std::iter::once(native)
            .chain(compat.iter().copied())
            .collect();
        let lists: Vec<AllowList> = BUILTIN
            .iter()
            .map(|(n, t)| AllowList::parse_builtin(n, t).unwrap())
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for l in &lists {
            for g in l.groups.iter() {
                names.extend(g.syscalls.iter().map(|n| n.as_ref()));
                names.extend(g.rules.iter().map(|r| r.syscall.as_ref()));
            }
        }
        names.sort_unstable();
        names.dedup();
        let slots = (names.len() * 3).next_power_of_two();
        let mut table = vec![0u16; slots];
        let mut want = String::from(
            "// @generated by the unit test seccomp::tests::builtin_names_are_resolved_ahead with\n// libseccomp (RAMPART_REGEN=1 cargo test --lib builtin_names_are_resolved_ahead).\n// Do not edit: edit seccomp/*.json and regenerate.\n\n/// The architectures of `RESOLVED`, one bit each: x86_64's native and compat ones.\nconst RESOLVED_ARCHES: [&str; 3] = [",
        );
        want += &all
            .iter()
            .map(|a| format!("{:?}", a.oci))
            .collect::<Vec<_>>()
            .join(", ");
        want += "];\n\n/// Every syscall name of the built-in allow-lists, sorted, with a bit per architecture\n/// where libseccomp gives it a real number, and one where libseccomp knows it at all.\nconst RESOLVED: &[(&str, u8, u8)] = &[\n";
        for (k, n) in names.iter().enumerate() {
            let (mut real, mut known) = (0u8, 0u8);
            for (i, a) in all.iter().enumerate() {
                if let Ok(nr) = ScmpSyscall::from_name_by_arch(n, a.scmp.unwrap()) {
                    known |= 1 << i;
                    if i32::from(nr) >= 0 {
                        real |= 1 << i;
                    }
                }
            }
            want += &format!("    ({n:?}, {real:#05b}, {known:#05b}),\n");
            let mut i = name_hash(n) % slots;
            while table[i] != 0 {
                i = (i + 1) % slots;
            }
            table[i] = u16::try_from(k + 1).unwrap();
        }
        want += &format!(
            "];\n\n/// `RESOLVED`'s index + 1 (0: free) at `name_hash(name) % {slots}`, the next slot on a\n/// collision.\nconst RESOLVED_SLOTS: [u16; {slots}] = [\n"
        );
        for chunk in table.chunks(16) {
            want += "   ";
            for v in chunk {
                want += &format!(" {v},");
            }
            want += "\n";
        }
        want += "];\n";
        crate::profile::generated_is_current(
            "src/seccomp_names.rs",
            &want,
            "builtin_names_are_resolved_ahead",
        );
        // Same answers as libseccomp's, for each name and set of architectures.
        let plain = AllowList {
            builtin: false,
            ..lists[0].clone()
        };
        let builtin = &lists[0];
        for n in &names {
            for arches in [&all[..1], &all[..]] {
                // Err: unknown to libseccomp, which a built-in list keeps.
                let asked = exists(&plain, n, arches, None).unwrap_or(true);
                let ahead = exists(builtin, n, arches, resolved_mask(arches)).unwrap();
                assert_eq!(ahead, asked, "{n} on {arches:?}");
                assert!(resolved(n).is_some(), "{n}");
            }
        }
        // Another host architecture, or a name outside the table: libseccomp is asked.
        let (arm, _) = host_arches("aarch64").unwrap();
        assert_eq!(resolved_mask(&[arm]), None);
        assert_eq!(resolved("not_a_syscall"), None);
    }

    use crate::steps::testutil::{fixture, profile};

    /// Syscalls no Rampart profile may allow (Docker gates them on capabilities our
    /// profiles never grant, or blocks them outright).
    const NEVER: &[&str] = &[
        "mount",
        "umount",
        "umount2",
        "unshare",
        "setns",
        "pivot_root",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "open_by_handle_at",
        "init_module",
        "finit_module",
        "delete_module",
        "kexec_load",
        "kexec_file_load",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "syslog",
        "iopl",
        "ioperm",
        "fsopen",
        "fsmount",
        "fsconfig",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
        "lookup_dcookie",
        "quotactl",
        "quotactl_fd",
        "fanotify_init",
        "vhangup",
        "settimeofday",
        "clock_settime",
        "clock_settime64",
        "stime",
        "sethostname",
        "setdomainname",
        "nfsservctl",
        "uselib",
        "ustat",
        "sysfs",
        "_sysctl",
        "vm86",
        "vm86old",
        "get_kernel_syms",
        "query_module",
        "create_module",
        "move_pages",
        "bdflush",
        "mbind",
        "set_mempolicy",
        "get_mempolicy",
        "set_mempolicy_home_node",
    ];

    const HOSTS: &[&str] = &[
        "x86_64",
        "aarch64",
        "riscv64",
        "s390x",
        "powerpc64",
        "mips64",
    ];

    fn list() -> Arc<AllowList> {
        load("rampart-default").unwrap()
    }

    fn caps(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn all_caps() -> Vec<String> {
        caps::all().into_iter().map(|c| c.to_string()).collect()
    }

    fn restricted() -> SeccompPolicy {
        profile("restricted").seccomp
    }

    fn baseline() -> SeccompPolicy {
        profile("baseline").seccomp
    }

    fn baseline_caps() -> Vec<String> {
        profile("baseline").capabilities.allow
    }

    fn rules(v: &Value) -> &Vec<Value> {
        v["syscalls"].as_array().unwrap()
    }

    /// Names in argument-less ALLOW rules.
    fn outright(v: &Value) -> BTreeSet<String> {
        rules(v)
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| {
                r["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
            })
            .collect()
    }

    fn rules_for<'a>(v: &'a Value, name: &str) -> Vec<&'a Value> {
        rules(v)
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .collect()
    }

    fn request_seccomp(name: &str) -> Value {
        fixture(name).get("/linux/seccomp").cloned().unwrap()
    }

    /// (may allow, may deny) for one call under runc + libseccomp, reading ambiguities
    /// both ways.
    fn outcome(v: &Value, name: &str, args: &[u64; 6]) -> (bool, bool) {
        outcome_of(&parse_request(v).unwrap(), name, args)
    }

    fn outcome_of(req: &Request, name: &str, args: &[u64; 6]) -> (bool, bool) {
        let rs: Vec<&OciRule> = req
            .rules
            .iter()
            .filter(|r| !r.action.same(req.default) && r.names.contains(&name))
            .collect();
        let wide: Vec<bool> = rs
            .iter()
            .filter(|r| r.args.is_empty())
            .map(|r| r.action.allows())
            .collect();
        if !wide.is_empty() {
            return (wide.iter().any(|&a| a), wide.iter().any(|&a| !a));
        }
        let matching: Vec<bool> = rs
            .iter()
            .filter(|r| {
                r.clauses()
                    .iter()
                    .any(|c| c.iter().all(|(i, s)| s.contains(args[*i as usize])))
            })
            .map(|r| r.action.allows())
            .collect();
        if matching.is_empty() {
            let a = req.default.allows();
            return (a, !a);
        }
        (matching.iter().any(|&a| a), matching.iter().any(|&a| !a))
    }

    fn sure_allows(v: &Value, name: &str, args: &[u64; 6]) -> bool {
        sure_allows_of(&parse_request(v).unwrap(), name, args)
    }

    fn sure_allows_of(req: &Request, name: &str, args: &[u64; 6]) -> bool {
        let (may_allow, may_deny) = outcome_of(req, name, args);
        may_allow && !may_deny
    }

    fn samples() -> Vec<[u64; 6]> {
        let mut out = vec![[0; 6]];
        let special = [
            0x8,
            0x11,
            0x20000,
            0x20008,
            0xffff_ffff,
            0x1_0000_0026,
            0x1_0000_0011,
            0x1_0000_0000,
            u64::MAX,
            0x7E02_0000,
            0x1000_0000,
            0x4000_0000,
            0x0002_0000,
            0x0100_0000,
            0x5412,
            0x5401,
            0x3d0f00,
        ];
        for a in (0..=66).chain(special) {
            out.push([a, 0, 0, 0, 0, 0]);
            out.push([0x11, a, 0, 0, 0, 0]);
            out.push([3, a, 0, 0, 0, 0]);
        }
        out
    }

    /// Every name any of the profiles involved mentions, plus the never-list.
    fn names_of(vs: &[&Value]) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = NEVER.iter().map(|s| s.to_string()).collect();
        for v in vs {
            for r in rules(v) {
                for n in r["names"].as_array().unwrap() {
                    names.insert(n.as_str().unwrap().to_string());
                }
            }
        }
        names
    }

    /// The result allows nothing that either input does not surely allow.
    fn assert_intersection(out: &Value, ours: &Value, theirs: &Value) {
        let samples = samples();
        let (o, u, t) = (
            parse_request(out).unwrap(),
            parse_request(ours).unwrap(),
            parse_request(theirs).unwrap(),
        );
        for name in names_of(&[out, ours, theirs]) {
            for args in &samples {
                if outcome_of(&o, &name, args).0 {
                    assert!(
                        sure_allows_of(&u, &name, args),
                        "{name}{args:x?}: allowed, but Rampart's list does not"
                    );
                    assert!(
                        sure_allows_of(&t, &name, args),
                        "{name}{args:x?}: allowed, but the request denies it"
                    );
                }
            }
        }
    }

    fn assert_never_allowed(v: &Value, what: &str) {
        for name in NEVER {
            assert!(
                rules_for(v, name).iter().all(|r| !matches!(
                    r["action"].as_str(),
                    Some("SCMP_ACT_ALLOW" | "SCMP_ACT_LOG")
                )),
                "{what}: {name} is allowed"
            );
        }
    }

    /// Feeds the rules into libseccomp the way runc does, for each architecture listed.
    fn load_like_runc(v: &Value) {
        let req = parse_request(v).unwrap();
        let Action::Errno(e) = req.default else {
            panic!()
        };
        let mut ctx =
            libseccomp::ScmpFilterContext::new(libseccomp::ScmpAction::Errno(e as i32)).unwrap();
        for a in &req.arches {
            ctx.add_arch(a.scmp.unwrap()).unwrap();
        }
        for r in &req.rules {
            if r.action.same(req.default) {
                continue;
            }
            let act = match r.action {
                Action::Allow => libseccomp::ScmpAction::Allow,
                Action::Errno(e) => libseccomp::ScmpAction::Errno(e as i32),
                a => panic!("{a:?}"),
            };
            let conds: Vec<libseccomp::ScmpArgCompare> = r
                .args
                .iter()
                .map(|c| {
                    let op = match c.op {
                        Op::Ne => libseccomp::ScmpCompareOp::NotEqual,
                        Op::Lt => libseccomp::ScmpCompareOp::Less,
                        Op::Le => libseccomp::ScmpCompareOp::LessOrEqual,
                        Op::Eq => libseccomp::ScmpCompareOp::Equal,
                        Op::Ge => libseccomp::ScmpCompareOp::GreaterEqual,
                        Op::Gt => libseccomp::ScmpCompareOp::Greater,
                        Op::MaskedEq => libseccomp::ScmpCompareOp::MaskedEqual(c.value),
                    };
                    let datum = if c.op == Op::MaskedEq {
                        c.value_two
                    } else {
                        c.value
                    };
                    libseccomp::ScmpArgCompare::new(c.index as u32, op, datum)
                })
                .collect();
            let split = r.clauses().len() > 1;
            for n in &r.names {
                let Ok(nr) = ScmpSyscall::from_name(n) else {
                    continue;
                };
                if conds.is_empty() {
                    ctx.add_rule(act, nr).unwrap();
                } else if split {
                    for c in &conds {
                        ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                            .unwrap();
                    }
                } else {
                    ctx.add_rule_conditional(act, nr, &conds).unwrap();
                }
            }
        }
        ctx.export_bpf(std::fs::File::create("/dev/null").unwrap())
            .unwrap();
    }

    /// The count in the audit summary: the sorted-list shortcut gives what hashing every
    /// name gives, for sorted and unsorted lists, overlaps, duplicates and non-strings.
    #[test]
    fn distinct_names_counts_as_a_set_does() {
        let set = |lists: &[&[Value]]| {
            lists
                .iter()
                .flat_map(|l| l.iter().filter_map(Value::as_str))
                .collect::<BTreeSet<_>>()
                .len()
        };
        let arr = |v: Value| v.as_array().unwrap().clone();
        let cases = [
            vec![
                arr(json!(["a", "b", "c"])),
                arr(json!(["b", "d"])),
                arr(json!(["d", "e", "a"])),
            ],
            vec![arr(json!(["c", "b", "a"])), arr(json!(["a"]))],
            vec![arr(json!(["a", "a", "b"])), arr(json!(["b"]))],
            vec![arr(json!(["a", 1, "b"])), arr(json!(["b", "z"]))],
            vec![arr(json!([])), arr(json!(["x", "x"]))],
            vec![],
        ];
        for lists in &cases {
            let refs: Vec<&[Value]> = lists.iter().map(Vec::as_slice).collect();
            assert_eq!(distinct_names(&refs), set(&refs), "{lists:?}");
        }
        for fx in ["docker-20.10/default.json", "podman-4.3/default.json"] {
            let path = format!("{}/tests/fixtures/specs/{fx}", env!("CARGO_MANIFEST_DIR"));
            let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let rules = v["linux"]["seccomp"]["syscalls"].as_array().unwrap();
            let refs: Vec<&[Value]> = rules
                .iter()
                .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
                .map(|r| r["names"].as_array().unwrap().as_slice())
                .collect();
            assert_eq!(distinct_names(&refs), set(&refs), "{fx}");
        }
    }

    #[test]
    fn builtin_list_loads_from_static_data() {
        let a = list();
        // Nothing of it is built at run time: the groups (and all below them) are borrowed.
        assert!(matches!(a.groups, Cow::Borrowed(_)));
        // The checks built-ins skip at run time (duplicates, names in two places).
        for (name, text) in BUILTIN {
            AllowList::parse(name, text).unwrap();
        }
        for g in ["ptrace", "ptrace-privileged", "chroot", "network", "x86"] {
            assert!(a.group_names().contains(&g), "{g}");
        }
        assert_eq!(a.default_errno, 1);
        // An admin's list by absolute path, in the same format.
        let path =
            std::env::temp_dir().join(format!("rampart-seccomp-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{"description": "tiny", "defaultErrno": "EACCES", "groups": [
                {"name": "io", "description": "d", "syscalls": ["read", "write", "exit_group", "fstat64"]},
                {"name": "net", "description": "d", "rules": [
                    {"syscall": "socket", "allowIf": {"arg": 0, "in": [1, "0x2", "10"]}, "why": "unix, inet, inet6"}]}]}"#,
        )
        .unwrap();
        let own = load(path.to_str().unwrap()).unwrap();
        let p = SeccompPolicy {
            profile: path.display().to_string(),
            deny_groups: vec![],
            compat_arches: false,
            syscalls: None,
            compat_syscalls: None,
        };
        let v = render(&own, &p, "x86_64", &[]).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(v["defaultErrnoRet"], libc::EACCES);
        assert_eq!(
            outright(&v),
            ["exit_group", "read", "write"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        assert_eq!(
            rules_for(&v, "socket")[0]["args"].as_array().unwrap().len(),
            3
        );
        assert!(load("relative/list.json").is_err());
        let e = load("nope").unwrap_err().to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("rampart-default"),
            "{e}"
        );
        assert!(load("/nonexistent/list.json").is_err());
    }

    #[test]
    fn every_name_is_a_syscall_somewhere() {
        let arches: Vec<ScmpArch> = ALL_ARCHES.iter().filter_map(|a| a.scmp).collect();
        for g in list().groups.iter() {
            let names = g.syscalls.iter().chain(g.rules.iter().map(|r| &r.syscall));
            for n in names {
                let real = arches.iter().any(|a| {
                    ScmpSyscall::from_name_by_arch(n, *a).is_ok_and(|nr| i32::from(nr) >= 0)
                });
                assert!(
                    real,
                    "group {}: {n} is not a syscall on any architecture libseccomp knows",
                    g.name
                );
            }
            // An arch-specific group names syscalls of those architectures.
            for host in g.arches.iter().flat_map(|a| a.iter()) {
                let (native, compat) = host_arches(host).unwrap();
                let mut ours: Vec<Arch> = vec![native];
                ours.extend_from_slice(compat);
                let some = g
                    .syscalls
                    .iter()
                    .any(|n| exists(&strict(), n, &ours, None).unwrap());
                assert!(some, "group {} names nothing that exists on {host}", g.name);
            }
        }
    }

    /// The built-in list as an admin's file: unknown names are errors.
    fn strict() -> AllowList {
        AllowList {
            builtin: false,
            ..(*list()).clone()
        }
    }

    #[test]
    fn rendered_names_come_in_byte_order_once_each_from_the_groups_kept() {
        let l = AllowList::parse(
            "/etc/x.json",
            r#"{"description":"d","defaultErrno":"EPERM","groups":[
                {"name":"a","description":"d","syscalls":["write","sched_get_priority_min","read","clock_gettime"]},
                {"name":"b","description":"d","syscalls":["read","close","sched_get_priority_max","clock_nanosleep"]},
                {"name":"c","description":"d","syscalls":["openat","accept"]}]}"#,
        )
        .unwrap();
        let p = SeccompPolicy {
            profile: "/etc/x.json".into(),
            deny_groups: vec!["c".into()],
            compat_arches: false,
            syscalls: None,
            compat_syscalls: None,
        };
        let f = render_filter(&l, &p, "x86_64", &[], None).unwrap();
        // Byte order, which is the (key, name) order the intersection walks.
        assert_eq!(
            f.allow,
            [
                "clock_gettime",
                "clock_nanosleep",
                "close",
                "read",
                "sched_get_priority_max",
                "sched_get_priority_min",
                "write"
            ]
        );
        assert!(f.allow.is_sorted_by_key(|n| (name_key(n), *n)));
    }

    #[test]
    fn renders_on_every_host_architecture_without_unknown_names() {
        let l = strict();
        for host in HOSTS {
            for compat in [false, true] {
                let p = SeccompPolicy {
                    profile: "rampart-default".into(),
                    deny_groups: vec![],
                    compat_arches: compat,
                    syscalls: None,
                    compat_syscalls: None,
                };
                let v =
                    render(&l, &p, host, &all_caps()).unwrap_or_else(|e| panic!("{host}: {e:#}"));
                assert_never_allowed(&v, host);
                assert!(outright(&v).len() > 250, "{host}: {}", outright(&v).len());
            }
        }
        let e = AllowList::parse(
            "/etc/x.json",
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","syscalls":["raed"]}]}"#,
        )
        .unwrap();
        let p = SeccompPolicy {
            profile: "/etc/x.json".into(),
            deny_groups: vec![],
            compat_arches: false,
            syscalls: None,
            compat_syscalls: None,
        };
        let err = render(&e, &p, "x86_64", &[]).unwrap_err().to_string();
        assert!(err.contains("\"raed\""), "{err}");
    }

    #[test]
    fn restricted_on_x86_64() {
        let v = render(
            &list(),
            &restricted(),
            "x86_64",
            &caps(&["CAP_NET_BIND_SERVICE"]),
        )
        .unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(v["architectures"], json!(["SCMP_ARCH_X86_64"]));
        let allowed = outright(&v);
        for n in [
            "read",
            "openat2",
            "statx",
            "faccessat2",
            "close_range",
            "rseq",
            "pidfd_open",
            "memfd_create",
            "membarrier",
            "landlock_create_ruleset",
            "epoll_pwait2",
            "futex_waitv",
            "arch_prctl",
            "io_setup",
        ] {
            assert!(allowed.contains(n), "{n}");
        }
        // Denied group, missing cap, other architectures, 32-bit-only names.
        for n in [
            "ptrace",
            "process_vm_readv",
            "kcmp",
            "chroot",
            "cacheflush",
            "riscv_flush_icache",
            "socketcall",
            "_llseek",
            "fstat64",
            "clock_gettime64",
            "mmap2",
            "getuid32",
        ] {
            assert!(!allowed.contains(n) && rules_for(&v, n).is_empty(), "{n}");
        }
        let names: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert_eq!(
            rules_for(&v, "clone3"),
            vec![&json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})]
        );
        assert_eq!(
            rules_for(&v, "clone"),
            vec![
                &json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
            ]
        );
        assert_never_allowed(&v, "restricted");
        load_like_runc(&v);
    }

    #[test]
    fn baseline_on_x86_64_has_ptrace_chroot_and_compat() {
        let v = render(&list(), &baseline(), "x86_64", &baseline_caps()).unwrap();
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let allowed = outright(&v);
        for n in [
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "chroot",
            "_llseek",
            "fstat64",
            "clock_gettime64",
            "mmap2",
            "getuid32",
            "arch_prctl",
            "set_thread_area",
        ] {
            assert!(allowed.contains(n), "{n}");
        }
        // CAP_SYS_PTRACE is never in a profile: kcmp and friends stay out.
        for n in [
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "modify_ldt",
            "vmsplice",
        ] {
            assert!(!allowed.contains(n), "{n}");
        }
        assert_never_allowed(&v, "baseline");
        load_like_runc(&v);
        // Without CAP_SYS_CHROOT in the bounding set, no chroot.
        let v = render(&list(), &baseline(), "x86_64", &caps(&["CAP_CHOWN"])).unwrap();
        assert!(!outright(&v).contains("chroot"));
        // With every capability, the never-list still holds.
        let v = render(&list(), &baseline(), "x86_64", &all_caps()).unwrap();
        assert!(outright(&v).contains("kcmp"));
        assert_never_allowed(&v, "baseline, all caps");
    }

    #[test]
    fn aarch64_and_s390x() {
        let v = render(&list(), &baseline(), "aarch64", &[]).unwrap();
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        let a = outright(&v);
        assert!(a.contains("cacheflush") && a.contains("set_tls") && !a.contains("arch_prctl"));
        assert!(
            a.contains("openat") && a.contains("open"),
            "open exists on arm"
        );
        let v = render(&list(), &restricted(), "aarch64", &[]).unwrap();
        let a = outright(&v);
        assert!(!a.contains("cacheflush") && !a.contains("open") && a.contains("openat"));
        let v = render(&list(), &restricted(), "s390x", &[]).unwrap();
        assert_eq!(rules_for(&v, "clone")[0]["args"][0]["index"], 1);
        assert!(render(&list(), &restricted(), "sparc64", &[]).is_err());
    }

    #[test]
    fn socket_and_personality_filters() {
        let v = render(&list(), &restricted(), "x86_64", &[]).unwrap();
        let ok = |name: &str, a0: u64| sure_allows(&v, name, &[a0, 0, 0, 0, 0, 0]);
        for family in 0..=45u64 {
            assert_eq!(
                ok("socket", family),
                ![17, 38, 40].contains(&family),
                "family {family}"
            );
        }
        for family in [46, 64, 0x1_0000_0026, 0x1_0000_0002, u64::MAX] {
            assert!(!ok("socket", family), "{family:#x}");
        }
        for p in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
            assert!(ok("personality", p));
        }
        for p in [0x40000, 0x0040_0000, 0x1_0000_0000, 1] {
            assert!(!ok("personality", p), "{p:#x}");
        }
        assert!(ok("clone", 0x3d0f00) && !ok("clone", 0x3d0f00 | 0x1000_0000));
        for r in rules_for(&v, "socket")
            .iter()
            .chain(&rules_for(&v, "personality"))
        {
            for a in r["args"].as_array().unwrap() {
                assert!(
                    !matches!(a["op"].as_str(), Some("SCMP_CMP_GT" | "SCMP_CMP_NE")),
                    "{a}"
                );
            }
        }
    }

    #[test]
    fn ranges_become_exact_conditions() {
        let check = |ranges: &[(u64, u64)]| {
            let conds = ranges_to_conds(2, ranges);
            let r = OciRule {
                names: vec!["x"],
                action: Action::Allow,
                args: conds,
            };
            let clauses = r.clauses();
            let inside = |x: u64| ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi);
            let mut probes: Vec<u64> = vec![0, 1, u64::MAX, u64::MAX - 1, 1 << 32, (1 << 32) + 5];
            for &(lo, hi) in ranges {
                probes.extend([
                    lo,
                    hi,
                    lo.wrapping_sub(1),
                    hi.wrapping_add(1),
                    lo / 2 + hi / 2,
                ]);
            }
            for x in probes {
                let hit = clauses.iter().any(|c| c.iter().all(|(_, s)| s.contains(x)));
                assert_eq!(hit, inside(x), "{ranges:?} at {x:#x}");
            }
        };
        check(&[(0, 16), (18, 37), (39, 39), (41, 45)]);
        check(&[(5, 1000)]);
        check(&[(3, u64::MAX)]);
        check(&[(0, 0x5411), (0x5413, u64::MAX)]);
        check(&[(1 << 40, (1 << 41) + 3)]);
        assert_eq!(complement(&[(0, 3), (10, u64::MAX)]), vec![(4, 9)]);
        assert_eq!(
            normalize(vec![(5, 6), (0, 4), (8, 9)]),
            vec![(0, 6), (8, 9)]
        );
    }

    #[test]
    fn bad_lists_are_refused() {
        let bad = [
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","syscalls":["read"],"rules":[{"syscall":"read","errno":"ENOSYS","why":"w"}]}]}"#,
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","syscalls":["read"]},{"name":"a","description":"d","syscalls":["write"]}]}"#,
            r#"{"description":"d","defaultErrno":"EWHAT","groups":[]}"#,
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","requiresCap":"CAP_FLY","syscalls":["read"]}]}"#,
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","arches":["amd64"],"syscalls":["read"]}]}"#,
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","rules":[{"syscall":"socket","allowIf":{"arg":6,"in":[1]},"why":"w"}]}]}"#,
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","rules":[{"syscall":"socket","allowIf":{"arg":0,"in":["9-3"]},"why":"w"}]}]}"#,
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","rules":[{"syscall":"socket","allowIf":{"arg":0,"in":["0-0xffffffffffffffff"]},"why":"w"}]}]}"#,
            r#"{"description":"d","defaultErrno":"EPERM","groups":[{"name":"a","description":"d","syscalls":["read"],"extra":1}]}"#,
        ];
        for text in bad {
            assert!(AllowList::parse("t", text).is_err(), "{text}");
        }
        let p = SeccompPolicy {
            profile: "rampart-default".into(),
            deny_groups: vec!["ptrce".into()],
            compat_arches: false,
            syscalls: None,
            compat_syscalls: None,
        };
        let e = render(&list(), &p, "x86_64", &[]).unwrap_err().to_string();
        assert!(e.contains("ptrce") && e.contains("ptrace"), "{e}");
    }

    // --- intersection -------------------------------------------------------------------

    fn harden_with(p: &SeccompPolicy, caps: &[String], req: &Value) -> Hardened {
        harden(&list(), p, "x86_64", caps, Some(req)).unwrap()
    }

    fn assert_idempotent(p: &SeccompPolicy, caps: &[String], h: &Hardened) {
        let again = harden_with(p, caps, &h.seccomp);
        assert_eq!(
            again.seccomp, h.seccomp,
            "hardening twice changes the profile"
        );
    }

    #[test]
    fn docker_default_profile() {
        let req = request_seccomp("docker-20.10/default.json");
        for (p, caps) in [
            (restricted(), caps(&["CAP_NET_BIND_SERVICE"])),
            (baseline(), baseline_caps()),
        ] {
            let ours = render(&list(), &p, "x86_64", &caps).unwrap();
            let h = harden_with(&p, &caps, &req);
            let v = &h.seccomp;
            assert_intersection(v, &ours, &req);
            assert_never_allowed(v, "docker");
            assert_eq!(v["architectures"], ours["architectures"]);
            let allowed = outright(v);
            // Docker 20.10 predates these; they stay denied (with Docker's EPERM, no extra rule).
            for n in [
                "pkey_alloc",
                "futex_wait",
                "map_shadow_stack",
                "name_to_handle_at",
            ] {
                assert!(!allowed.contains(n) && rules_for(v, n).is_empty(), "{n}");
            }
            assert!(
                h.denied_by_request >= 4 && h.uncombinable.is_empty(),
                "{h:?}"
            );
            // Docker allows socket outright: Rampart's family filter stays. clone and
            // personality carry the same filters in both: kept as they are.
            for n in ["socket", "clone", "personality"] {
                assert_eq!(rules_for(v, n), rules_for(&ours, n), "{n}");
            }
            assert_eq!(rules_for(v, "clone3"), rules_for(&ours, "clone3"));
            assert_eq!(allowed.contains("ptrace"), p.compat_arches);
            assert_eq!(allowed.contains("chroot"), p.compat_arches);
            assert!(h.filtered_by_request.is_empty());
            assert_idempotent(&p, &caps, &h);
            load_like_runc(v);
        }
    }

    #[test]
    fn podman_default_profile_keeps_enosys() {
        let req = request_seccomp("podman-4.3/default.json");
        let p = baseline();
        let caps = baseline_caps();
        let ours = render(&list(), &p, "x86_64", &caps).unwrap();
        let h = harden_with(&p, &caps, &req);
        let v = &h.seccomp;
        assert_intersection(v, &ours, &req);
        assert_never_allowed(v, "podman");
        // Names podman does not list get its ENOSYS, as podman chose; names it denies with
        // EPERM (io_pgetevents) fall to Rampart's EPERM default.
        let enosys: Vec<&Value> = rules(v)
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ERRNO" && r["errnoRet"] == 38)
            .collect();
        let enosys_names: BTreeSet<&str> = enosys
            .iter()
            .flat_map(|r| r["names"].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        assert!(enosys_names.contains("clone3"));
        assert!(!outright(v).contains("io_pgetevents") && rules_for(v, "io_pgetevents").is_empty());
        for n in &enosys_names {
            assert!(!outright(v).contains(*n), "{n}");
        }
        // Podman allows clone and socket outright; Rampart's filters stay.
        assert_eq!(rules_for(v, "socket"), rules_for(&ours, "socket"));
        assert_eq!(rules_for(v, "clone"), rules_for(&ours, "clone"));
        assert!(outright(v).contains("ptrace"));
        assert!(h.denied_by_request >= 1);
        assert_idempotent(&p, &caps, &h);
        load_like_runc(v);
    }

    #[test]
    fn no_seccomp_fixtures_have_none() {
        for f in [
            "docker-20.10/seccomp-unconfined.json",
            "docker-20.10/privileged.json",
        ] {
            assert!(fixture(f).get("/linux/seccomp").is_none(), "{f}");
        }
    }

    fn rule(names: &[&str], action: &str, args: Value) -> Value {
        let mut r = json!({"names": names, "action": action});
        if !args.is_null() {
            r["args"] = args;
        }
        r
    }

    #[test]
    fn a_request_that_logs_keeps_logging_and_reads_back_the_same() {
        let p = baseline();
        let caps = baseline_caps();
        let ours = render(&list(), &p, "x86_64", &caps).unwrap();
        // Logs every call by default; `read` is logged unless fd 0 (then denied).
        let req = json!({"defaultAction": "SCMP_ACT_LOG", "syscalls": [
            rule(&["read"], "SCMP_ACT_ERRNO", json!([{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}])),
            rule(&["mount"], "SCMP_ACT_LOG", Value::Null),
        ]});
        let h = harden_with(&p, &caps, &req);
        let v = &h.seccomp;
        assert_intersection(v, &ours, &req);
        // Everything Rampart allows outright is now logged, not silently allowed...
        assert!(outright(v).is_empty(), "{v}");
        let logged = rules_for(v, "write");
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0]["action"], "SCMP_ACT_LOG");
        // ...Rampart's own argument filters log what they let through...
        assert!(
            rules_for(v, "socket")
                .iter()
                .all(|r| r["action"] == "SCMP_ACT_LOG")
        );
        // ...and the request's LOG never allows what Rampart denies.
        assert!(rules_for(v, "mount").is_empty());
        assert_idempotent(&p, &caps, &h);
        // An argument-less ALLOW next to filtered denials with Rampart's own errno: the
        // result allows `read` outright, and a second pass reads it back the same way.
        let req = json!({"defaultAction": "SCMP_ACT_KILL", "syscalls": [
            rule(&["read"], "SCMP_ACT_ERRNO", json!([{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}])),
            rule(&["read"], "SCMP_ACT_ALLOW", Value::Null),
        ]});
        let h = harden_with(&p, &caps, &req);
        assert!(outright(&h.seccomp).contains("read"));
        assert_idempotent(&p, &caps, &h);
    }

    #[test]
    fn blocklist_with_notify_flags_and_filters() {
        let req = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
            "listenerPath": "/run/agent.sock",
            "listenerMetadata": "meta",
            "syscalls": [
                rule(&["mkdir", "mount"], "SCMP_ACT_NOTIFY", Value::Null),
                {"names": ["ptrace", "fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                rule(&["getpid"], "SCMP_ACT_KILL_PROCESS", Value::Null),
                rule(&["uname"], "SCMP_ACT_LOG", Value::Null),
                rule(&["ioctl"], "SCMP_ACT_ERRNO", json!([{"index": 1, "value": 0x5412, "op": "SCMP_CMP_EQ"}])),
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                 "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
                rule(&["personality"], "SCMP_ACT_ERRNO", json!([{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}])),
            ]
        });
        let p = baseline();
        let caps = baseline_caps();
        let ours = render(&list(), &p, "x86_64", &caps).unwrap();
        let h = harden_with(&p, &caps, &req);
        let v = &h.seccomp;
        assert_intersection(v, &ours, &req);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        assert_eq!(v["flags"], json!(["SECCOMP_FILTER_FLAG_LOG"]));
        assert_eq!(v["listenerPath"], "/run/agent.sock");
        assert_eq!(v["listenerMetadata"], "meta");
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        // The request's stricter actions are kept on names Rampart allows...
        assert_eq!(
            rules_for(v, "mkdir"),
            vec![&json!({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"})]
        );
        assert_eq!(
            rules_for(v, "getpid"),
            vec![&json!({"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"})]
        );
        assert!(
            rules_for(v, "ptrace")
                .iter()
                .all(|r| r["action"] == "SCMP_ACT_ERRNO" && r["errnoRet"] == 13)
        );
        assert!(!rules_for(v, "ptrace").is_empty());
        // ...and names Rampart denies stay denied by its default, whatever the request does.
        assert!(rules_for(v, "mount").is_empty());
        // uname: allowed by both, and logged as the request asked (SCMP_ACT_LOG is kept).
        assert_eq!(
            rules_for(v, "uname"),
            vec![&json!({"names": ["uname"], "action": "SCMP_ACT_LOG"})]
        );
        // ioctl: allowed except TIOCSTI, which keeps the request's own errno.
        let a = |n: &str, args: [u64; 6]| sure_allows(v, n, &args);
        assert!(a("ioctl", [1, 0x5401, 0, 0, 0, 0]) && !a("ioctl", [1, 0x5412, 0, 0, 0, 0]));
        assert!(
            !outcome(v, "ioctl", &[1, 0x1_0000_5412, 0, 0, 0, 0]).1,
            "the request allows this one"
        );
        // socket: Rampart's families minus (AF_NETLINK and SOCK_RAW).
        assert!(a("socket", [2, 1, 0, 0, 0, 0]) && a("socket", [16, 2, 0, 0, 0, 0]));
        assert!(!a("socket", [16, 3, 0, 0, 0, 0]) && !a("socket", [38, 1, 0, 0, 0, 0]));
        // personality: Rampart's values minus PER_LINUX32, by exact range intersection.
        assert!(a("personality", [0, 0, 0, 0, 0, 0]) && !a("personality", [8, 0, 0, 0, 0, 0]));
        assert!(h.filtered_by_request.iter().any(|n| n == "ioctl"), "{h:?}");
        assert!(h.notes.iter().any(|n| n.contains("SPEC_ALLOW")), "{h:?}");
        assert!(h.notes.iter().any(|n| n.contains("SCMP_ARCH_X32")), "{h:?}");
        assert_idempotent(&p, &caps, &h);
    }

    #[test]
    fn request_filters_on_names_rampart_allows_outright() {
        // An allow-list request that allows ioctl only for TCGETS: its filter is used.
        let req = json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [
                rule(&["read", "write", "socket", "clone"], "SCMP_ACT_ALLOW", Value::Null),
                rule(&["ioctl"], "SCMP_ACT_ALLOW", json!([{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}])),
            ]
        });
        let p = restricted();
        let ours = render(&list(), &p, "x86_64", &[]).unwrap();
        let h = harden_with(&p, &[], &req);
        let v = &h.seccomp;
        assert_intersection(v, &ours, &req);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64"]),
            "an empty list means the native arch"
        );
        assert_eq!(
            rules_for(v, "ioctl"),
            vec![
                &json!({"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]})
            ]
        );
        assert_eq!(
            outright(v),
            ["read", "write"].iter().map(|s| s.to_string()).collect()
        );
        // Everything else Rampart allows gets the request's ENOSYS.
        let enosys = rules(v)
            .iter()
            .find(|r| r["errnoRet"] == 38 && r["names"].as_array().unwrap().len() > 10);
        assert!(enosys.is_some_and(|r| r["names"].as_array().unwrap().contains(&json!("openat"))));
        assert_eq!(h.filtered_by_request, vec!["ioctl"]);
        assert_idempotent(&p, &[], &h);
    }

    #[test]
    fn both_filtered() {
        let p = restricted();
        let ours = render(&list(), &p, "x86_64", &[]).unwrap();
        let check = |req: Value, expect_kept: bool, expect_theirs: bool| {
            let h = harden_with(&p, &[], &req);
            let v = &h.seccomp;
            assert_intersection(v, &ours, &req);
            if expect_kept {
                assert_eq!(rules_for(v, "socket"), rules_for(&ours, "socket"), "{req}");
            } else if expect_theirs {
                assert!(
                    h.filtered_by_request.contains(&"socket".to_string()),
                    "{req} {h:?}"
                );
            } else {
                assert!(
                    h.uncombinable.contains(&"socket".to_string()),
                    "{req} {h:?}"
                );
                assert!(rules_for(v, "socket").is_empty());
            }
            assert_idempotent(&p, &[], &h);
        };
        let arg = |op: &str, value: u64| json!({"index": 0, "value": value, "op": op});
        // Docker 24's split form (LT 38 | EQ 39 | GT 40): implied by it, Rampart's stays.
        check(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_LT", 38)])),
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_EQ", 39)])),
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_GT", 40)])),
            ]}),
            true,
            false,
        );
        // The same in one rule (runc splits repeated indexes).
        check(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_LT", 38), arg("SCMP_CMP_EQ", 39), arg("SCMP_CMP_GT", 40)])),
            ]}),
            true,
            false,
        );
        // Narrower than Rampart's (AF_UNIX, AF_INET, AF_INET6 only): the request's is used.
        check(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_EQ", 1)])),
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_EQ", 2)])),
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_EQ", 10)])),
            ]}),
            false,
            true,
        );
        // Overlapping ranges on the same argument: the exact intersection.
        check(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([arg("SCMP_CMP_LE", 20)])),
            ]}),
            false,
            true,
        );
        // A masked filter on another argument combines (Rampart's families AND that mask).
        check(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([{"index": 1, "value": 0xf, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}])),
            ]}),
            false,
            true,
        );
        // A non-interval mask on the family itself cannot be written down: denied.
        check(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["socket"], "SCMP_ACT_ALLOW", json!([{"index": 0, "value": 0xf, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}])),
            ]}),
            false,
            false,
        );
        // clone: an identical or a broader mask keeps Rampart's; an unrelated one is not combinable.
        let h = harden_with(
            &p,
            &[],
            &json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["clone"], "SCMP_ACT_ALLOW", json!([{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}])),
            ]}),
        );
        assert_eq!(rules_for(&h.seccomp, "clone"), rules_for(&ours, "clone"));
        let h = harden_with(
            &p,
            &[],
            &json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                rule(&["clone"], "SCMP_ACT_ALLOW", json!([{"index": 0, "value": 0x1000_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}])),
            ]}),
        );
        assert_eq!(rules_for(&h.seccomp, "clone"), rules_for(&ours, "clone"));
        let req = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            rule(&["clone"], "SCMP_ACT_ALLOW", json!([{"index": 0, "value": 0x1000, "op": "SCMP_CMP_LT"}])),
        ]});
        let h = harden_with(&p, &[], &req);
        assert_eq!(h.uncombinable, vec!["clone"], "{h:?}");
        assert_intersection(&h.seccomp, &ours, &req);
        // A clause on another argument combines: clone without namespace flags AND arg1 < 0xff.
        let req = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            rule(&["clone"], "SCMP_ACT_ALLOW", json!([{"index": 1, "value": 0xff, "op": "SCMP_CMP_LT"}])),
        ]});
        let h = harden_with(&p, &[], &req);
        assert_intersection(&h.seccomp, &ours, &req);
        assert_eq!(rules_for(&h.seccomp, "clone").len(), 1, "{}", h.seccomp);
        assert_eq!(
            rules_for(&h.seccomp, "clone")[0]["args"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_idempotent(&p, &[], &h);
    }

    #[test]
    fn containers_common_netlink_audit_rules() {
        // containers-common 0.5x without CAP_AUDIT_WRITE: socket(AF_NETLINK, *, NETLINK_AUDIT)
        // fails with EINVAL; everything else is allowed; the default is ENOSYS.
        let arg = |index: u64, op: &str, value: u64| json!({"index": index, "value": value, "valueTwo": 0, "op": op});
        let mut req = request_seccomp("podman-4.3/default.json");
        let rs = req["syscalls"].as_array_mut().unwrap();
        rs.retain(|r| r["names"] != json!(["socket"]));
        rs.push(
            json!({"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                        "args": [arg(0, "SCMP_CMP_EQ", 16), arg(2, "SCMP_CMP_EQ", 9)]}),
        );
        rs.push(rule(
            &["socket"],
            "SCMP_ACT_ALLOW",
            json!([arg(2, "SCMP_CMP_NE", 9)]),
        ));
        rs.push(rule(
            &["socket"],
            "SCMP_ACT_ALLOW",
            json!([arg(0, "SCMP_CMP_NE", 16)]),
        ));
        for p in [restricted(), baseline()] {
            let caps = if p.compat_arches {
                baseline_caps()
            } else {
                vec![]
            };
            let ours = render(&list(), &p, "x86_64", &caps).unwrap();
            let h = harden_with(&p, &caps, &req);
            let v = &h.seccomp;
            assert_intersection(v, &ours, &req);
            let a = |args: [u64; 6]| sure_allows(v, "socket", &args);
            assert!(a([2, 1, 0, 0, 0, 0]) && a([10, 2, 17, 0, 0, 0]) && a([1, 1, 0, 0, 0, 0]));
            assert!(a([16, 3, 0, 0, 0, 0]), "NETLINK_ROUTE");
            assert!(!a([16, 3, 9, 0, 0, 0]) && !a([38, 5, 0, 0, 0, 0]) && !a([40, 1, 0, 0, 0, 0]));
            let einval = rules_for(v, "socket")
                .into_iter()
                .find(|r| r["action"] == "SCMP_ACT_ERRNO")
                .unwrap();
            assert_eq!(einval["errnoRet"], 22);
            assert!(
                h.uncombinable.is_empty() && h.filtered_by_request.contains(&"socket".to_string()),
                "{h:?}"
            );
            assert!(
                rules_for(v, "socket").len() < 30,
                "{}",
                rules_for(v, "socket").len()
            );
            assert_idempotent(&p, &caps, &h);
            load_like_runc(v);
        }
    }

    #[test]
    fn values_above_32_bits_are_not_combined_where_libseccomp_truncates_them() {
        // On x86 (and x32) libseccomp compares in 32 bits: LT 0x1_0000_0005 means LT 5.
        let req = json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
            rule(&["socket"], "SCMP_ACT_ALLOW", json!([{"index": 0, "value": 0x1_0000_0005u64, "op": "SCMP_CMP_LT"}])),
        ]});
        let h = harden_with(&baseline(), &baseline_caps(), &req);
        assert_eq!(h.uncombinable, vec!["socket"], "{h:?}");
        assert!(rules_for(&h.seccomp, "socket").is_empty());
        // With the native architecture only, 64-bit reasoning holds: Rampart's filter is
        // within the request's.
        let ours = render(&list(), &restricted(), "x86_64", &[]).unwrap();
        let h = harden_with(&restricted(), &[], &req);
        assert_eq!(rules_for(&h.seccomp, "socket"), rules_for(&ours, "socket"));
    }

    #[test]
    fn uninterpretable_requests_fail_closed() {
        let cases = [
            (json!({"defaultAction": "SCMP_ACT_MAYBE"}), "SCMP_ACT_MAYBE"),
            (
                json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
                "SCMP_ACT_NOTIFY",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}),
                "SCMP_ARCH_VAX",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_NEW"]}),
                "SECCOMP_FILTER_FLAG_NEW",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule(&["read"], "SCMP_ACT_PERHAPS", Value::Null)]}),
                "SCMP_ACT_PERHAPS",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule(&["read"], "SCMP_ACT_ALLOW", json!([{"index": 0, "value": 1, "op": "SCMP_CMP_SORTA"}]))]}),
                "SCMP_CMP_SORTA",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule(&["read"], "SCMP_ACT_ALLOW", json!([{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]))]}),
                "7",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [rule(&["read"], "SCMP_ACT_ALLOW", json!([{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]))]}),
                "-1",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "argsAnd": []}]}),
                "argsAnd",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "newField": 1}),
                "newField",
            ),
        ];
        for (req, needle) in cases {
            let e = format!(
                "{:#}",
                harden(&list(), &restricted(), "x86_64", &[], Some(&req)).unwrap_err()
            );
            assert!(e.contains(needle) && e.contains("/linux/seccomp"), "{e}");
        }
    }

    #[test]
    fn arg_set_relations() {
        let r = ArgSet::range;
        let m = |mask, datum| {
            Cond {
                index: 0,
                op: Op::MaskedEq,
                value: mask,
                value_two: datum,
            }
            .set()
        };
        assert_eq!(m(!3, 8), r(8, 11), "high-bit masks are intervals");
        assert!(m(0x7E02_0000, 0).subset_of(&m(0x7E02_0000, 0)));
        assert!(
            m(0x7E02_0000, 0).subset_of(&m(0x1000_0000, 0)),
            "more bits clear is narrower"
        );
        assert!(!m(0x1000_0000, 0).subset_of(&m(0x7E02_0000, 0)));
        assert!(m(0x7E02_0000, 0).disjoint_from(&m(0x1000_0000, 0x1000_0000)));
        assert!(!m(0x7E02_0000, 0).disjoint_from(&m(0x1, 0x1)));
        assert!(r(3, 5).subset_of(&ArgSet::Ranges(vec![(0, 1), (3, 9)])));
        assert!(
            !r(3, 5).subset_of(&ArgSet::Ranges(vec![(0, 4), (5, 9)])),
            "sound, not complete"
        );
        assert!(r(1, 2).disjoint_from(&r(3, 4)) && !r(1, 3).disjoint_from(&r(3, 4)));
        assert!(m(0xf0, 0x10).disjoint_from(&r(0, 0xf)));
        assert!(
            Cond {
                index: 0,
                op: Op::Lt,
                value: 0,
                value_two: 0
            }
            .set()
            .is_empty()
        );
    }
}
