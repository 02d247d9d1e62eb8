//! Value conversions with Go semantics: durations (`time.ParseDuration` / `Duration.String`),
//! humanized byte sizes (go-humanize `ParseBytes`), IP matching, float parsing and label-name
//! sanitising.

use std::net::IpAddr;

const NS_PER_UNIT: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's `time.ParseDuration`, returning nanoseconds or Go's error text.
pub fn parse_go_duration(input: &str) -> Result<i64, String> {
    let quoted = format!("{input:?}");
    let invalid = || format!("time: invalid duration {quoted}");
    let mut s = input;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    let mut total_int: u64 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(|b| b.is_ascii_digit()).count();
        let (int_part, rest) = s.split_at(int_len);
        let mut rest = rest;
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let flen = r.bytes().take_while(|b| b.is_ascii_digit()).count();
            frac_part = &r[..flen];
            rest = &r[flen..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len =
            rest.char_indices().find(|(_, c)| *c == '.' || c.is_ascii_digit()).map(|(i, _)| i).unwrap_or(rest.len());
        let (unit, tail) = rest.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        let Some(mult) = NS_PER_UNIT.iter().find(|(u, _)| *u == unit).map(|(_, m)| *m) else {
            return Err(format!("time: unknown unit {unit:?} in duration {quoted}"));
        };
        let int_v: u64 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| invalid())? };
        let whole = int_v.checked_mul(mult).ok_or_else(invalid)?;
        total_int = total_int.checked_add(whole).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let f: f64 = format!("0.{frac_part}").parse().map_err(|_| invalid())?;
            total += f * mult as f64;
        }
        s = tail;
    }
    let v = total_int.saturating_add(total as u64);
    if v > i64::MAX as u64 {
        return Err(invalid());
    }
    let v = v as i64;
    Ok(if neg { -v } else { v })
}

/// Go's `time.Duration.String()`.
pub fn format_go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (s, rest) = frac(u, prec);
        out.push_str(&format!("{rest}{s}{unit}"));
    } else {
        let (fs, rest) = frac(u, 9);
        u = rest;
        let secs = u % 60;
        u /= 60;
        let mut tail = format!("{secs}{fs}s");
        if u > 0 {
            let mins = u % 60;
            u /= 60;
            tail = format!("{mins}m{tail}");
            if u > 0 {
                tail = format!("{u}h{tail}");
            }
        }
        out.push_str(&tail);
    }
    if neg { format!("-{out}") } else { out }
}

/// Splits off `prec` decimal digits: returns (".ddd" without trailing zeros, integer part).
fn frac(v: u64, prec: u32) -> (String, u64) {
    if prec == 0 {
        return (String::new(), v);
    }
    let div = 10u64.pow(prec);
    let f = v % div;
    let int = v / div;
    if f == 0 {
        return (String::new(), int);
    }
    let digits = format!("{f:0width$}", width = prec as usize);
    (format!(".{}", digits.trim_end_matches('0')), int)
}

/// go-humanize `ParseBytes`: `20MB` = 20·1000², `1KiB` = 1024. Returns Go's error texts.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let digits_len =
        s.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',').map(char::len_utf8).sum::<usize>();
    let num: String = s[..digits_len].chars().filter(|c| *c != ',').collect();
    let f: f64 = parse_go_float(&num).map_err(|_| format!("strconv.ParseFloat: parsing {num:?}: invalid syntax"))?;
    let extra = s[digits_len..].trim().to_ascii_lowercase();
    let mult: f64 = match extra.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024f64.powi(2),
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024f64.powi(3),
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        _ => return Err(format!("unhandled size name: {extra}")),
    };
    let v = f * mult;
    if v >= u64::MAX as f64 {
        return Err(format!("too large: {s}"));
    }
    Ok(v as u64)
}

/// Go's `strconv.ParseFloat(s, 64)` (close enough: decimal, exponent, `Inf`, `NaN`).
pub fn parse_go_float(s: &str) -> Result<f64, String> {
    let err = || format!("strconv.ParseFloat: parsing {s:?}: invalid syntax");
    if s.is_empty() || s.contains('_') {
        return Err(err());
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = u64::from_str_radix(hex, 16).map_err(|_| err())? as f64;
        return Ok(if s.starts_with('-') { -v } else { v });
    }
    let lower = body.to_ascii_lowercase();
    if lower == "infinity" || lower == "inf" || lower == "nan" {
        return s.parse::<f64>().map_err(|_| err());
    }
    if !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return Err(err());
    }
    s.parse::<f64>().map_err(|_| err())
}

/// Turns an extracted key into a valid label name: invalid characters become `_`, spaces
/// around are trimmed, a leading digit gets a `_` prefix. Empty stays empty.
pub fn sanitize_label_name(key: &str) -> String {
    let key = key.trim();
    let mut out = String::with_capacity(key.len() + 1);
    for (i, c) in key.chars().enumerate() {
        if i == 0 && c.is_ascii_digit() {
            out.push('_');
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

/// True for `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    seer_model::is_valid_legacy_label_name(name)
}

/// An `ip("...")` pattern.
#[derive(Clone, Debug)]
pub enum IpPattern {
    /// One address.
    Addr(IpAddr),
    /// A CIDR prefix.
    Cidr(IpAddr, u8),
    /// An inclusive range of one family.
    Range(IpAddr, IpAddr),
}

impl IpPattern {
    /// Parses `addr`, `addr/len` or `a-b`.
    pub fn parse(s: &str) -> Result<IpPattern, String> {
        let s = s.trim();
        if let Some((a, b)) = s.split_once('-') {
            let a: IpAddr = a.trim().parse().map_err(|_| format!("invalid IP range: {s}"))?;
            let b: IpAddr = b.trim().parse().map_err(|_| format!("invalid IP range: {s}"))?;
            if a.is_ipv4() != b.is_ipv4() || ip_num(a) > ip_num(b) {
                return Err(format!("invalid IP range: {s}"));
            }
            return Ok(IpPattern::Range(a, b));
        }
        if let Some((a, len)) = s.split_once('/') {
            let a: IpAddr = a.parse().map_err(|_| format!("invalid CIDR: {s}"))?;
            let len: u8 = len.parse().map_err(|_| format!("invalid CIDR: {s}"))?;
            let max = if a.is_ipv4() { 32 } else { 128 };
            if len > max {
                return Err(format!("invalid CIDR: {s}"));
            }
            return Ok(IpPattern::Cidr(a, len));
        }
        let a: IpAddr = s.parse().map_err(|_| format!("invalid IP address: {s}"))?;
        Ok(IpPattern::Addr(a))
    }

    /// True when `ip` is covered.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            IpPattern::Addr(a) => *a == ip,
            IpPattern::Cidr(net, len) => {
                if net.is_ipv4() != ip.is_ipv4() {
                    return false;
                }
                let bits: u32 = if net.is_ipv4() { 32 } else { 128 };
                let shift = bits - u32::from(*len);
                let mask: u128 = if shift >= 128 { 0 } else { u128::MAX << shift };
                (ip_num(*net) & mask) == (ip_num(ip) & mask)
            }
            IpPattern::Range(a, b) => {
                a.is_ipv4() == ip.is_ipv4() && ip_num(*a) <= ip_num(ip) && ip_num(ip) <= ip_num(*b)
            }
        }
    }

    /// True when the string is an address covered by the pattern.
    pub fn matches_str(&self, s: &str) -> bool {
        s.parse::<IpAddr>().map(|ip| self.contains(ip)).unwrap_or(false)
    }

    /// True when any address-looking token in `line` is covered.
    pub fn matches_line(&self, line: &str) -> bool {
        let is_ip_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
        let mut start = None;
        for (i, c) in line.char_indices().chain(std::iter::once((line.len(), ' '))) {
            if is_ip_char(c) {
                if start.is_none() {
                    start = Some(i);
                }
                continue;
            }
            if let Some(s) = start.take() {
                let tok = &line[s..i];
                if self.matches_token(tok) {
                    return true;
                }
            }
        }
        false
    }

    fn matches_token(&self, tok: &str) -> bool {
        if self.matches_str(tok) {
            return true;
        }
        // IPv4 embedded after hex letters (`a10.0.0.1`) or followed by a port (`1.2.3.4:80`).
        for piece in tok.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            if piece.contains('.') && self.matches_str(piece) {
                return true;
            }
        }
        false
    }
}

fn ip_num(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// Base64 (standard alphabet, padded) encoding.
pub fn b64_encode(data: &[u8]) -> String {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0) as u32;
        let b1 = chunk.get(1).copied().unwrap_or(0) as u32;
        let b2 = chunk.get(2).copied().unwrap_or(0) as u32;
        let n = (b0 << 16) | (b1 << 8) | b2;
        let idx = |shift: u32| ALPHA.get(((n >> shift) & 63) as usize).copied().unwrap_or(b'A') as char;
        out.push(idx(18));
        out.push(idx(12));
        out.push(if chunk.len() > 1 { idx(6) } else { '=' });
        out.push(if chunk.len() > 2 { idx(0) } else { '=' });
    }
    out
}

/// Base64 (standard alphabet, padded) decoding; Go's error text on failure.
pub fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let val = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("illegal base64 data at input byte {}", bytes.len() - bytes.len() % 4));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (ci, chunk) in bytes.chunks(4).enumerate() {
        let last = ci + 1 == bytes.len() / 4;
        let mut n: u32 = 0;
        let mut pad = 0;
        for (i, &c) in chunk.iter().enumerate() {
            if c == b'=' && last && i >= 2 {
                pad += 1;
                n <<= 6;
                continue;
            }
            if pad > 0 {
                return Err(format!("illegal base64 data at input byte {}", ci * 4 + i));
            }
            let Some(v) = val(c) else {
                return Err(format!("illegal base64 data at input byte {}", ci * 4 + i));
            };
            n = (n << 6) | v;
        }
        out.push((n >> 16) as u8);
        if pad < 2 {
            out.push((n >> 8) as u8);
        }
        if pad < 1 {
            out.push(n as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("-2.5h"), Ok(-9_000_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("1d"), Err("time: unknown unit \"d\" in duration \"1d\"".into()));
        assert_eq!(parse_go_duration("1"), Err("time: missing unit in duration \"1\"".into()));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("999999999999h").is_err());
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
        assert_eq!(format_go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_go_duration(1_500_000), "1.5ms");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(-20), "-20ns");
        assert!(format_go_duration(i64::MIN).starts_with('-'));
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("20MB"), Ok(20_000_000));
        assert_eq!(parse_bytes("20.5MB"), Ok(20_500_000));
        assert_eq!(parse_bytes("1KiB"), Ok(1024));
        assert_eq!(parse_bytes("42"), Ok(42));
        assert_eq!(parse_bytes("1 kb"), Ok(1000));
        assert!(parse_bytes("abc").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
    }

    #[test]
    fn ips() {
        let p = IpPattern::parse("192.168.4.5/16").unwrap();
        assert!(p.matches_str("192.168.1.1"));
        assert!(!p.matches_str("192.169.1.1"));
        let r = IpPattern::parse("2001:db8::1-2001:db8::8").unwrap();
        assert!(r.matches_str("2001:db8::5"));
        assert!(!r.matches_str("2001:db8::9"));
        assert!(p.matches_line("from 192.168.0.7:8080 ok"));
        assert!(!p.matches_line("from 10.0.0.1 ok"));
        assert!(IpPattern::parse("nope").is_err());
    }

    #[test]
    fn base64() {
        assert_eq!(b64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(b64_decode("aGVsbG8=").unwrap(), b"hello");
        assert!(b64_decode("a").is_err());
        assert!(b64_decode("!!!!").is_err());
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_label_name("request.headers.User-Agent"), "request_headers_User_Agent");
        assert_eq!(sanitize_label_name("1abc"), "_1abc");
        assert_eq!(sanitize_label_name(" a "), "a");
    }
}
