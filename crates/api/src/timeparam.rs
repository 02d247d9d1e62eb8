//! Time parameters of the Prometheus HTTP API: float Unix seconds or RFC 3339.

/// Default `start`: Prometheus' minimum time (`-292273086-05-16T16:47:06Z`), in ms.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// Default `end`: Prometheus' maximum time (`292277025-08-18T07:12:54.999999999Z`), in ms.
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;

/// Parses a time parameter into milliseconds, rounding fractions to milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let err = || format!("cannot parse {s:?} to a valid timestamp");
    if let Ok(f) = s.parse::<f64>() {
        if f.is_nan() || f < -9.2e15 {
            return Ok(MIN_TIME_MS);
        }
        if f > 9.2e15 {
            return Ok(MAX_TIME_MS);
        }
        let secs = f.trunc();
        let frac = ((f - secs) * 1000.0).round();
        return Ok(secs as i64 * 1000 + frac as i64);
    }
    match s {
        "-292273086-05-16T16:47:06Z" => return Ok(MIN_TIME_MS),
        "292277025-08-18T07:12:54.999999999Z" => return Ok(MAX_TIME_MS),
        _ => {}
    }
    parse_rfc3339(s).ok_or_else(err)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to ms since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    parse_rfc3339_ns(s).map(|ns| ns.div_euclid(1_000_000))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to ns since the epoch.
pub fn parse_rfc3339_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        let mut padded = digits.to_string();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac_ns = padded.parse().ok()?;
    }
    let offset_min = match s.get(i..)? {
        "Z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && tz.as_bytes()[3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats ms since the epoch as RFC 3339 with nanoseconds, UTC (`2026-11-22T07:33:09.528Z`).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let base = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60);
    if millis == 0 { format!("{base}Z") } else { format!("{base}.{millis:03}Z") }
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_rfc3339() {
        assert_eq!(parse_time("1795332786.1239").unwrap(), 1_795_332_786_124);
        assert_eq!(parse_time("1e9").unwrap(), 1_000_000_000_000);
        assert_eq!(parse_time("2026-11-22T07:00:00Z").unwrap(), 1_795_330_800_000);
        assert_eq!(parse_time("2026-11-22T07:00:00+01:00").unwrap(), 1_795_327_200_000);
        assert_eq!(parse_time("2026-11-22T06:00:00.5Z").unwrap(), 1_795_327_200_500);
        assert_eq!(parse_time("1970-01-01T00:00:00Z").unwrap(), 0);
        for bad in
            ["abc", "2026-11-22", "2026-11-22T07:00:00", "2026-11-22t07:00:00z", "2026-11-22T07:00:00.1234567890Z"]
        {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_time("-292273086-05-16T16:47:06Z").unwrap(), MIN_TIME_MS);
        assert_eq!(format_rfc3339(1_795_327_200_500), "2026-11-22T06:00:00.500Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
