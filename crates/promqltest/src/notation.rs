//! The series notation of Prometheus test files (shared with `promtool test rules`):
//! `metric{a="b"} 1+2x3 _ stale {{schema:0 sum:1 count:2 buckets:[1 1]}}x2`.

use seer_model::{BucketSpan, CounterResetHint, FloatHistogram, Labels, stale_nan};
use seer_promql::histogram as hist;

/// One position of a value sequence.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No sample.
    Missing,
    /// A float (may be the stale marker).
    Float(f64),
    /// A histogram; `hint_set` when the literal spelled out `counter_reset_hint`.
    Hist(FloatHistogram, bool),
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `100ms`, `0`), optionally negative, to ms.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if body.is_empty() {
        return Err(format!("empty duration {s:?}"));
    }
    if body.bytes().all(|b| b.is_ascii_digit()) {
        let v: i64 = body.parse().map_err(|_| format!("bad duration {s:?}"))?;
        return Ok(if neg { -v * 1000 } else { v * 1000 });
    }
    let total = seer_model::parse_duration_ms(body).ok_or_else(|| format!("bad duration {s:?}"))?;
    Ok(if neg { -total } else { total })
}

/// Parses a float the way Go's `strconv.ParseFloat` and the PromQL lexer accept it.
pub fn parse_float(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (sign, body) = match t.as_bytes().first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Ok(sign * f64::INFINITY);
    }
    if body.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).map(|v| sign * v as f64).map_err(|_| format!("bad number {s:?}"));
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    if let Ok(v) = clean.parse::<f64>() {
        return Ok(sign * v);
    }
    parse_duration_ms(body).map(|ms| sign * ms as f64 / 1000.0).map_err(|_| format!("bad number {s:?}"))
}

/// Splits a series line into its label part and its value part.
pub fn split_series(line: &str) -> Result<(&str, &str), String> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'{' {
        i += 1;
    }
    if i < b.len() && b[i] == b'{' {
        let mut in_q: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            match in_q {
                Some(q) => {
                    if c == b'\\' {
                        i += 1;
                    } else if c == q {
                        in_q = None;
                    }
                }
                None => {
                    if c == b'"' || c == b'\'' || c == b'`' {
                        in_q = Some(c);
                    } else if c == b'}' {
                        i += 1;
                        break;
                    }
                }
            }
            i += 1;
        }
    }
    // Optional `@st` suffix belongs to the label part.
    if line[i..].starts_with("@st") {
        i += 3;
    }
    Ok((line[..i].trim(), line[i..].trim()))
}

/// Parses the label part of a series line (`name{a="b"}`, `{__name__="x"}`, `{}`).
pub fn parse_labels(s: &str) -> Result<Labels, String> {
    let s = s.trim();
    if s == "{}" {
        return Ok(Labels::empty());
    }
    let matchers = seer_promql::parser::parse_selector(s).map_err(|e| e.render(s))?;
    let mut pairs = Vec::new();
    for m in matchers {
        if m.kind != seer_model::MatchKind::Equal {
            return Err(format!("series labels must use '=': {s}"));
        }
        pairs.push(seer_model::Label::new(m.name.clone(), m.value.clone()));
    }
    Labels::from_pairs_checked(pairs).map_err(|n| format!("label {n:?} repeated in {s}"))
}

/// Splits a value sequence into items; histogram literals may contain spaces.
fn items(s: &str) -> Result<Vec<&str>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut depth = 0;
        while i < b.len() {
            if s[i..].starts_with("{{") {
                depth += 1;
                i += 2;
                continue;
            }
            if s[i..].starts_with("}}") {
                depth -= 1;
                i += 2;
                continue;
            }
            if depth == 0 && b[i].is_ascii_whitespace() {
                break;
            }
            i += 1;
        }
        if depth != 0 {
            return Err(format!("unclosed histogram in {s:?}"));
        }
        out.push(&s[start..i]);
    }
    Ok(out)
}

/// Expands a value sequence.
pub fn parse_values(s: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for item in items(s)? {
        if item.starts_with("{{") {
            expand_hist(item, &mut out)?;
            continue;
        }
        if item == "_" {
            out.push(Value::Missing);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad repetition in {item:?}"))?;
            out.extend(std::iter::repeat_n(Value::Missing, n));
            continue;
        }
        if item == "stale" {
            out.push(Value::Float(stale_nan()));
            continue;
        }
        let (base, delta, times) = split_expansion(item)?;
        let a = parse_float(base)?;
        match times {
            None => out.push(Value::Float(a)),
            Some(n) => {
                let d = match delta {
                    Some(d) => parse_float(d)?,
                    None => 0.0,
                };
                for k in 0..=n {
                    out.push(Value::Float(a + d * k as f64));
                }
            }
        }
    }
    Ok(out)
}

/// Splits `a+bxn` / `a-bxn` / `axn` into (a, signed b, n).
fn split_expansion(item: &str) -> Result<(&str, Option<&str>, Option<usize>), String> {
    let Some(xpos) = item.rfind('x') else { return Ok((item, None, None)) };
    let n_str = &item[xpos + 1..];
    let Ok(n) = n_str.parse::<usize>() else { return Ok((item, None, None)) };
    let head = &item[..xpos];
    // The delta starts at the last '+' or '-' that is not at the start or after an exponent.
    let hb = head.as_bytes();
    let mut split = None;
    for i in (1..hb.len()).rev() {
        if (hb[i] == b'+' || hb[i] == b'-') && !matches!(hb[i - 1], b'e' | b'E') {
            split = Some(i);
            break;
        }
    }
    match split {
        Some(i) => Ok((&head[..i], Some(&head[i..]), Some(n))),
        None => Ok((head, None, Some(n))),
    }
}

/// Expands `{{a}}`, `{{a}}xN`, `{{a}}+{{b}}xN`, `{{a}}-{{b}}xN`.
fn expand_hist(item: &str, out: &mut Vec<Value>) -> Result<(), String> {
    let end_a = item.find("}}").ok_or("unclosed histogram")? + 2;
    let (a, a_hint) = parse_hist(&item[..end_a])?;
    let rest = &item[end_a..];
    if rest.is_empty() {
        out.push(Value::Hist(a, a_hint));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n: usize = n.parse().map_err(|_| format!("bad repetition {rest:?}"))?;
        for _ in 0..=n {
            out.push(Value::Hist(a.clone(), a_hint));
        }
        return Ok(());
    }
    let sub = rest.starts_with('-');
    let rest = &rest[1..];
    let end_b = rest.find("}}").ok_or("unclosed histogram")? + 2;
    let (b, b_hint) = parse_hist(&rest[..end_b])?;
    let n: usize =
        rest[end_b..].strip_prefix('x').and_then(|n| n.parse().ok()).ok_or(format!("bad repetition in {item:?}"))?;
    let mut cur = a;
    if cur.schema > b.schema && !cur.uses_custom_buckets() {
        return Err(format!("error combining histograms: cannot merge from schema {} to {}", b.schema, cur.schema));
    }
    out.push(Value::Hist(cur.clone(), b_hint));
    for _ in 0..n {
        let r = if sub { hist::sub(&mut cur, &b) } else { hist::add(&mut cur, &b) };
        r.map_err(|e| format!("error combining histograms: {e:?}"))?;
        out.push(Value::Hist(cur.clone(), b_hint));
    }
    Ok(())
}

/// Parses one `{{...}}` literal; the flag tells whether `counter_reset_hint` was given.
pub fn parse_hist(s: &str) -> Result<(FloatHistogram, bool), String> {
    let body = s.trim().strip_prefix("{{").and_then(|r| r.strip_suffix("}}")).ok_or(format!("bad histogram {s:?}"))?;
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut pos, mut neg): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let (mut poff, mut noff) = (0i32, 0i32);
    let mut seen: Vec<String> = Vec::new();
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let kstart = i;
        while i < b.len() && b[i] != b':' {
            i += 1;
        }
        let key = body[kstart..i].trim().to_string();
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let vstart = i;
        if i < b.len() && b[i] == b'[' {
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        let val = body[vstart..i.min(b.len())].trim();
        if seen.contains(&key) {
            return Err(format!("duplicate key \"{key}\" in histogram"));
        }
        seen.push(key.clone());
        let list = |v: &str| -> Result<Vec<f64>, String> {
            let inner = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')).ok_or(format!("bad list {v:?}"))?;
            inner.split_whitespace().map(parse_float).collect()
        };
        match key.as_str() {
            "schema" => h.schema = val.parse().map_err(|_| format!("bad schema {val:?}"))?,
            "sum" => h.sum = parse_float(val)?,
            "count" => h.count = parse_float(val)?,
            "z_bucket" => h.zero_count = parse_float(val)?,
            "z_bucket_w" => h.zero_threshold = parse_float(val)?,
            "buckets" => pos = list(val)?,
            "n_buckets" => neg = list(val)?,
            "offset" => poff = val.parse().map_err(|_| format!("bad offset {val:?}"))?,
            "n_offset" => noff = val.parse().map_err(|_| format!("bad offset {val:?}"))?,
            "custom_values" => h.custom_values = list(val)?,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => return Err(format!("bad counter_reset_hint {val:?}")),
                }
            }
            _ => return Err(format!("unknown histogram key {key:?}")),
        }
    }
    if !pos.is_empty() {
        h.positive_spans = vec![BucketSpan { offset: poff, length: pos.len() as u32 }];
        h.positive_buckets = pos;
    }
    if !neg.is_empty() {
        h.negative_spans = vec![BucketSpan { offset: noff, length: neg.len() as u32 }];
        h.negative_buckets = neg;
    }
    Ok((h, hint_set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let v = parse_values("1+1x2 _ stale 5x1 -1-2x1 1e3").unwrap();
        assert_eq!(v[0], Value::Float(1.0));
        assert_eq!(v[2], Value::Float(3.0));
        assert_eq!(v[3], Value::Missing);
        assert!(matches!(v[4], Value::Float(f) if seer_model::is_stale_nan(f)));
        assert_eq!(v[5..7], [Value::Float(5.0), Value::Float(5.0)]);
        assert_eq!(v[7..9], [Value::Float(-1.0), Value::Float(-3.0)]);
        assert_eq!(v[9], Value::Float(1000.0));
    }

    #[test]
    fn histograms() {
        let v = parse_values("{{schema:1 sum:3 count:22 buckets:[5 10 7]}}x1 {{count:1}}+{{count:2}}x2").unwrap();
        assert_eq!(v.len(), 5);
        let Value::Hist(h, _) = &v[4] else { panic!() };
        assert_eq!(h.count, 5.0);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("-30s").unwrap(), -30_000);
        assert_eq!(parse_duration_ms("0").unwrap(), 0);
        assert_eq!(parse_duration_ms("20s500ms").unwrap(), 20_500);
    }

    #[test]
    fn series_lines() {
        let (l, v) = split_series("foo{a=\"}\"} 1 2").unwrap();
        assert_eq!(l, "foo{a=\"}\"}");
        assert_eq!(v, "1 2");
        assert_eq!(parse_labels(l).unwrap().to_string(), "{__name__=\"foo\", a=\"}\"}");
    }
}
