//! Go's readings of strings, byte for byte as runc 1.1.5 (Go 1.19) does them: so that a value
//! Rampart judges is the value runc uses. strconv.ParseBool/ParseInt/ParseUint,
//! time.ParseDuration (urfave's DurationFlag), docker/go-units RAMInBytes (`runc update
//! --memory`). Each returns None exactly where Go returns an error.

/// strconv.ParseBool.
pub fn parse_bool(s: &[u8]) -> Option<bool> {
    match s {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Some(true),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Some(false),
        _ => None,
    }
}

fn lower(c: u8) -> u8 {
    c | 0x20
}

/// strconv's underscoreOK: underscores only between digits (base 0 only).
fn underscore_ok(mut s: &[u8]) -> bool {
    let mut saw = b'^';
    let mut i = 0;
    if !s.is_empty() && (s[0] == b'-' || s[0] == b'+') {
        s = &s[1..];
    }
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(lower(s[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(s[1]) == b'x';
    }
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c.is_ascii_digit() || hex && (b'a'..=b'f').contains(&lower(c)) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// strconv.ParseUint(s, base, 64) for base 0 or 10.
pub fn parse_uint(s: &[u8], base0: bool) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let s0 = s;
    let mut s = s;
    let mut base: u64 = 10;
    if base0 && s[0] == b'0' {
        if s.len() >= 3 && matches!(lower(s[1]), b'b' | b'o' | b'x') {
            base = match lower(s[1]) {
                b'b' => 2,
                b'o' => 8,
                _ => 16,
            };
            s = &s[2..];
        } else {
            base = 8;
            s = &s[1..];
        }
    }
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in s {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' | b'A'..=b'Z' => lower(c) - b'a' + 10,
            _ => return None,
        };
        if u64::from(d) >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s0) {
        return None;
    }
    Some(n)
}

/// strconv.ParseInt(s, base, 64) for base 0 or 10.
pub fn parse_int(s: &[u8], base0: bool) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let un = parse_uint(digits, base0)?;
    // Go checks underscores against the digits without the sign; parse_uint did.
    const CUTOFF: u64 = 1 << 63;
    match neg {
        false if un >= CUTOFF => None,
        true if un > CUTOFF => None,
        false => Some(un as i64),
        true => Some((un as i64).wrapping_neg()),
    }
}

/// time.ParseDuration, in nanoseconds.
pub fn parse_duration(s: &[u8]) -> Option<i64> {
    let mut s = s;
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let int: u128 = if int_len == 0 {
            0
        } else {
            std::str::from_utf8(&s[..int_len]).ok()?.parse().ok()?
        };
        if int > (1u128 << 63) {
            return None;
        }
        s = &s[int_len..];
        let mut frac: u128 = 0;
        let mut scale: u128 = 1;
        let mut frac_len = 0;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            frac_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
            for &c in &s[..frac_len] {
                if scale < 1_000_000_000_000_000_000 {
                    frac = frac * 10 + u128::from(c - b'0');
                    scale *= 10;
                }
            }
            s = &s[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return None;
        }
        let unit_len = s
            .iter()
            .take_while(|c| **c != b'.' && !c.is_ascii_digit())
            .count();
        let unit: u128 = match &s[..unit_len] {
            b"ns" => 1,
            b"us" | [0xc2, 0xb5, b's'] | [0xce, 0xbc, b's'] => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return None,
        };
        s = &s[unit_len..];
        let v = int.checked_mul(unit)? + frac * unit / scale;
        total = total.checked_add(v)?;
        if total > (1u128 << 63) {
            return None;
        }
    }
    if !neg && total > i64::MAX as u128 {
        return None;
    }
    Some(if neg {
        (total as i128).wrapping_neg() as i64
    } else {
        total as i64
    })
}

/// docker/go-units RAMInBytes (binary multiples): `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`,
/// the number read with ParseFloat, multiplied, truncated to int64.
pub fn ram_in_bytes(s: &[u8]) -> Option<i64> {
    let num_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if num_len == 0 {
        return None;
    }
    let mut end = num_len;
    // (\.\d+)*
    while end < s.len() && s[end] == b'.' {
        let d = s[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if d == 0 {
            break;
        }
        end += 1 + d;
    }
    let number = std::str::from_utf8(&s[..end]).ok()?;
    let mut rest = &s[end..];
    if rest.first() == Some(&b' ') {
        rest = &rest[1..];
    }
    let mut mult: f64 = 1.0;
    if let Some(&c) = rest.first() {
        let m = match lower(c) {
            b'k' => Some(1u64 << 10),
            b'm' => Some(1 << 20),
            b'g' => Some(1 << 30),
            b't' => Some(1 << 40),
            b'p' => Some(1 << 50),
            _ => None,
        };
        if let Some(m) = m {
            mult = m as f64;
            rest = &rest[1..];
        }
    }
    if matches!(rest.first(), Some(b'i' | b'I')) {
        rest = &rest[1..];
    }
    if matches!(rest.first(), Some(b'b' | b'B')) {
        rest = &rest[1..];
    }
    if !rest.is_empty() {
        return None;
    }
    // "1.2.3" matches the pattern but ParseFloat refuses it.
    let size: f64 = number.parse().ok()?;
    if number.matches('.').count() > 1 {
        return None;
    }
    // Go's int64(float64) of an out-of-range value is implementation-defined (on amd64 the
    // minimum int64); refuse rather than guess.
    let v = size * mult;
    if v.is_nan() || v >= i64::MAX as f64 {
        return None;
    }
    Some(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_as_go_reads_them() {
        for (s, base0, want) in [
            ("0x10", true, Some(16)),
            ("0X10", true, Some(16)),
            ("010", true, Some(8)),
            ("08", true, None),
            ("0b101", true, Some(5)),
            ("0o17", true, Some(15)),
            ("1_000", true, Some(1000)),
            ("1__0", true, None),
            ("_1", true, None),
            ("1_", true, None),
            ("0x_1", true, Some(1)),
            ("-0x1", true, Some(-1)),
            ("+5", true, Some(5)),
            ("-", true, None),
            ("", true, None),
            ("0x", true, None),
            ("0", true, Some(0)),
            ("-9223372036854775808", true, Some(i64::MIN)),
            ("9223372036854775808", true, None),
            ("1_000", false, None),
            ("0x10", false, None),
            ("010", false, Some(10)),
            ("-1", false, Some(-1)),
            (" 1", false, None),
        ] {
            assert_eq!(parse_int(s.as_bytes(), base0), want, "{s} base0={base0}");
        }
        assert_eq!(parse_uint(b"+5", false), None, "ParseUint takes no sign");
        assert_eq!(parse_uint(b"18446744073709551615", false), Some(u64::MAX));
        assert_eq!(parse_uint(b"18446744073709551616", false), None);
    }

    #[test]
    fn bools_and_durations() {
        assert_eq!(parse_bool(b"False"), Some(false));
        assert_eq!(parse_bool(b"fAlse"), None);
        assert_eq!(parse_bool(b"yes"), None);
        assert_eq!(parse_duration(b"5s"), Some(5_000_000_000));
        assert_eq!(parse_duration(b"1h2m"), Some(3_720_000_000_000));
        assert_eq!(parse_duration(b"1.5ms"), Some(1_500_000));
        assert_eq!(parse_duration(b"-.5s"), Some(-500_000_000));
        assert_eq!(parse_duration(b"0"), Some(0));
        assert_eq!(parse_duration(b"5"), None);
        assert_eq!(parse_duration(b"."), None);
        assert_eq!(parse_duration(b"1d"), None);
    }

    #[test]
    fn ram_sizes_as_go_units_reads_them() {
        for (s, want) in [
            ("64g", Some(64i64 << 30)),
            ("64GiB", Some(64 << 30)),
            ("1.5k", Some(1536)),
            ("10 m", Some(10 << 20)),
            ("100", Some(100)),
            ("5b", Some(5)),
            ("-1", None),
            ("1.2.3", None),
            ("1x", None),
            ("", None),
            ("9999999999p", None),
            ("1e3", None),
        ] {
            assert_eq!(ram_in_bytes(s.as_bytes()), want, "{s}");
        }
    }
}
