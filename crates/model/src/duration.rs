//! Prometheus duration strings: `1y2w3d4h5m6s7ms` (units in that order, each at most once)
//! and `0`.

/// Duration units in the order they must appear, with their length in milliseconds.
pub const DURATION_UNITS: [(&str, i64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses a Prometheus duration to milliseconds; `None` if it is not one (or overflows).
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (mut i, mut total, mut next_unit) = (0usize, 0i64, 0usize);
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let u = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let pos = DURATION_UNITS.iter().position(|(name, _)| *name == &s[u..i])?;
        if pos < next_unit {
            return None;
        }
        next_unit = pos + 1;
        total = total.checked_add(n.checked_mul(DURATION_UNITS[pos].1)?)?;
    }
    Some(total)
}

/// Formats milliseconds the way Prometheus prints durations: largest units first, zero
/// units left out (`1m30s`, `2w1d`, `0s`, `-5m`).
pub fn format_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    for (u, n) in DURATION_UNITS {
        let n = n as u64;
        if rest >= n {
            out.push_str(&format!("{}{u}", rest / n));
            rest %= n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("0"), Some(0));
        assert_eq!(parse_duration_ms("30m1h"), None);
        assert_eq!(parse_duration_ms("5x"), None);
        assert_eq!(parse_duration_ms(""), None);
        assert_eq!(format_duration_ms(15 * 86_400_000), "2w1d");
        assert_eq!(format_duration_ms(-300_000), "-5m");
        assert_eq!(format_duration_ms(0), "0s");
    }
}
