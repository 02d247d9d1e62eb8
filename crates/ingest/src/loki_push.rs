//! Loki push bodies (`POST /loki/api/v1/push`): JSON, and snappy-compressed protobuf
//! (`logproto.PushRequest`). Stream label strings are parsed like Loki parses them (PromQL
//! metric syntax); empty values are dropped and the pairs sorted.
//!
//! A stream whose labels do not parse is reported in [`Push::invalid`] with Loki's wording
//! and the other streams are kept: Loki stores the good part of a request and answers 400.

use crate::DecodeError;
use crate::proto::logproto;
use prost::Message;
use seer_model::{Label, Labels, LogEntry, LogStream};

/// A decoded push request.
#[derive(Debug, Default, PartialEq)]
pub struct Push {
    /// Streams whose labels parsed.
    pub streams: Vec<LogStream>,
    /// One message per stream whose labels did not parse (its entries are dropped).
    pub invalid: Vec<String>,
    /// Entries in the invalid streams.
    pub invalid_entries: usize,
}

impl Push {
    fn add(&mut self, raw: &str, labels: Result<Labels, String>, entries: Vec<LogEntry>) {
        match labels {
            Ok(l) if l.is_empty() => {
                self.invalid.push("error at least one label pair is required per stream".into());
                self.invalid_entries += entries.len();
            }
            Ok(labels) => self.streams.push(LogStream { labels, entries }),
            Err(e) => {
                self.invalid.push(format!("Error parsing labels '{raw}' with error: {e}"));
                self.invalid_entries += entries.len();
            }
        }
    }
}

/// Decodes a snappy-compressed `logproto.PushRequest`; `limit` caps the decompressed size.
pub fn decode_protobuf(body: &[u8], limit: usize) -> Result<Push, DecodeError> {
    let raw = crate::snappy_decompress(body, limit)?;
    let req = logproto::PushRequest::decode(raw.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    let mut out = Push::default();
    for s in req.streams {
        let labels = parse_labels(&s.labels);
        let entries = s
            .entries
            .into_iter()
            .map(|e| {
                let ts =
                    e.timestamp.map_or(0, |t| t.seconds.saturating_mul(1_000_000_000).saturating_add(t.nanos as i64));
                let metadata =
                    e.structured_metadata.into_iter().map(|p| Label { name: p.name, value: p.value }).collect();
                LogEntry { ts, line: e.line, metadata }
            })
            .collect();
        out.add(&s.labels, labels, entries);
    }
    Ok(out)
}

/// Decodes the JSON form: `{"streams":[{"stream":{..},"values":[["<ns>","line",{meta}],..]}]}`.
pub fn decode_json(body: &[u8]) -> Result<Push, DecodeError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let bad = |m: &str| DecodeError::Json(m.to_string());
    let streams = match v.get("streams") {
        Some(serde_json::Value::Array(a)) => a,
        Some(serde_json::Value::Null) | None => return Ok(Push::default()),
        Some(_) => return Err(bad("\"streams\" must be an array")),
    };
    let mut out = Push::default();
    for s in streams {
        let mut pairs = Vec::new();
        match s.get("stream") {
            Some(serde_json::Value::Object(m)) => {
                for (k, v) in m {
                    let Some(v) = v.as_str() else {
                        return Err(bad(&format!("stream label {k:?} must have a string value")));
                    };
                    pairs.push(Label::new(k.clone(), v));
                }
            }
            Some(serde_json::Value::Null) | None => {}
            Some(_) => return Err(bad("\"stream\" must be an object of string values")),
        }
        let mut entries = Vec::new();
        match s.get("values") {
            Some(serde_json::Value::Array(vals)) => {
                for e in vals {
                    if e.is_null() {
                        continue;
                    }
                    entries.push(json_entry(e)?);
                }
            }
            Some(serde_json::Value::Null) | None => {}
            Some(_) => return Err(bad("\"values\" must be an array of [timestamp, line] arrays")),
        }
        let raw = render(&pairs);
        let labels = validate_pairs(pairs);
        out.add(&raw, labels, entries);
    }
    Ok(out)
}

fn json_entry(e: &serde_json::Value) -> Result<LogEntry, DecodeError> {
    let bad = |m: &str| DecodeError::Json(m.to_string());
    let Some(a) = e.as_array() else { return Err(bad("each value must be an array [\"<unix ns>\", \"<line>\"]")) };
    let ts = match a.first() {
        Some(serde_json::Value::String(s)) => s
            .parse::<i64>()
            .map_err(|_| bad(&format!("timestamp {s:?} is not an integer number of Unix nanoseconds")))?,
        _ => return Err(bad("the timestamp must be a string holding Unix nanoseconds")),
    };
    let line = match a.get(1) {
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => return Err(bad("the log line must be a string")),
    };
    let mut metadata = Vec::new();
    match a.get(2) {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, v) in m {
                let Some(v) = v.as_str() else {
                    return Err(bad(&format!("structured metadata {k:?} must have a string value")));
                };
                metadata.push(Label::new(k.clone(), v));
            }
        }
        Some(_) => return Err(bad("structured metadata must be an object of string values")),
    }
    Ok(LogEntry { ts, line, metadata })
}

/// Renders pairs as Loki prints a label set: `{a="1", b="2"}`.
fn render(pairs: &[Label]) -> String {
    let body: Vec<String> =
        pairs.iter().map(|l| format!("{}=\"{}\"", l.name, seer_model::escape_label_value(&l.value))).collect();
    format!("{{{}}}", body.join(", "))
}

fn validate_pairs(pairs: Vec<Label>) -> Result<Labels, String> {
    for l in &pairs {
        if !seer_model::is_valid_legacy_label_name(&l.name) {
            return Err(format!("1:2: parse error: invalid label name {:?}", l.name));
        }
    }
    Labels::from_pairs_checked(pairs).map_err(|n| format!("1:2: parse error: duplicate label name {n:?}"))
}

/// Parses a label string in PromQL metric syntax: `{a="1", b='2'}`, optionally preceded by a
/// metric name (stored as `__name__`). Errors are in the PromQL parser's `1:<col>: parse
/// error: ...` form.
pub fn parse_labels(s: &str) -> Result<Labels, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let err = |at: usize, m: &str| format!("1:{}: parse error: {m}", at + 1);
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let ident = |i: &mut usize, metric: bool| -> Option<String> {
        let start = *i;
        while *i < b.len()
            && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || (metric && b[*i] == b':'))
            && !(*i == start && b[*i].is_ascii_digit())
        {
            *i += 1;
        }
        (*i > start).then(|| s[start..*i].to_string())
    };
    let mut pairs = Vec::new();
    skip_ws(&mut i);
    if let Some(name) = ident(&mut i, true) {
        pairs.push(Label::new(seer_model::METRIC_NAME, name));
        skip_ws(&mut i);
    }
    if i >= b.len() {
        return if pairs.is_empty() { Err(err(i, "unexpected end of input")) } else { validate_pairs(pairs) };
    }
    if b[i] != b'{' {
        return Err(err(i, &format!("unexpected character: {:?}", s[i..].chars().next().unwrap_or(' '))));
    }
    i += 1;
    loop {
        skip_ws(&mut i);
        if i < b.len() && b[i] == b'}' {
            i += 1;
            break;
        }
        let name_at = i;
        let name = if i < b.len() && b[i] == b'"' {
            let (v, n) = unquote(&s[i..]).map_err(|m| err(i, &m))?;
            i += n;
            v
        } else {
            ident(&mut i, false).ok_or_else(|| err(name_at, "unexpected character inside braces"))?
        };
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return Err(err(i, "expected '=' after label name"));
        }
        i += 1;
        skip_ws(&mut i);
        if i >= b.len() || !matches!(b[i], b'"' | b'\'' | b'`') {
            return Err(err(i, "expected a quoted label value"));
        }
        let (value, n) = unquote(&s[i..]).map_err(|m| err(i, &m))?;
        i += n;
        pairs.push(Label { name, value });
        skip_ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => return Err(err(i, "unexpected end of input inside braces")),
        }
    }
    skip_ws(&mut i);
    if i < b.len() {
        return Err(err(i, "unexpected characters after the closing brace"));
    }
    // Unlike remote write, names here may be any UTF-8 when quoted; only reject duplicates.
    Labels::from_pairs_checked(pairs).map_err(|n| err(0, &format!("duplicate label name {n:?}")))
}

/// Reads a Go/PromQL string literal at the start of `s`; returns the value and the bytes used.
fn unquote(s: &str) -> Result<(String, usize), String> {
    let mut chars = s.char_indices();
    let Some((_, q)) = chars.next() else { return Err("unterminated quoted string".into()) };
    let mut out = String::new();
    if q == '`' {
        for (i, c) in chars {
            if c == '`' {
                return Ok((out, i + 1));
            }
            out.push(c);
        }
        return Err("unterminated raw string".into());
    }
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((out, i + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| -> Result<u32, String> {
            let mut v = 0u32;
            for _ in 0..n {
                let d = chars.next().and_then(|(_, c)| c.to_digit(16)).ok_or("invalid escape sequence")?;
                v = v * 16 + d;
            }
            Ok(v)
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' | '\'' => out.push(e),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?).ok_or("invalid escape sequence")?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?).ok_or("invalid Unicode code point")?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?).ok_or("invalid Unicode code point")?),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = chars.next().and_then(|(_, c)| c.to_digit(8)).ok_or("invalid escape sequence")?;
                    v = v * 8 + d;
                }
                out.push(char::from_u32(v).filter(|_| v < 256).ok_or("invalid escape sequence")?);
            }
            _ => return Err(format!("unknown escape sequence '\\{e}'")),
        }
    }
    Err("unterminated quoted string".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: i64, line: &str) -> LogEntry {
        LogEntry { ts, line: line.into(), metadata: vec![] }
    }

    #[test]
    fn label_strings_parse_like_loki() {
        let l = parse_labels(r#"{job="api", env="prod", empty=""}"#).unwrap();
        assert_eq!(l.to_string(), r#"{env="prod", job="api"}"#);
        let l = parse_labels(r#"up{a='x\n', b=`raw\n`}"#).unwrap();
        assert_eq!(l.get("__name__"), Some("up"));
        assert_eq!(l.get("a"), Some("x\n"));
        assert_eq!(l.get("b"), Some("raw\\n"));
        assert_eq!(parse_labels("{}").unwrap(), Labels::empty());
        for bad in ["", "{", "{a}", "{a=1}", r#"{a="1""#, r#"{a="1",a="2"}"#, r#"{a="1"} x"#, r#"{a="\q"}"#] {
            let e = parse_labels(bad).unwrap_err();
            assert!(e.starts_with("1:"), "{bad}: {e}");
        }
    }

    #[test]
    fn json_push() {
        let body = br#"{"streams":[
            {"stream":{"app":"api","env":""},"values":[["1700000000000000000","one"],["1700000000000000001","two",{"trace_id":"abc"}]]},
            {"stream":{},"values":[["1","x"]]},
            {"stream":{"bad-name":"x"},"values":[["1","y"]]}
        ]}"#;
        let p = decode_json(body).unwrap();
        assert_eq!(p.streams.len(), 1);
        assert_eq!(p.streams[0].labels.to_string(), r#"{app="api"}"#);
        assert_eq!(p.streams[0].entries[0], entry(1_700_000_000_000_000_000, "one"));
        assert_eq!(p.streams[0].entries[1].metadata, vec![Label::new("trace_id", "abc")]);
        assert_eq!(p.invalid.len(), 2, "{:?}", p.invalid);
        assert_eq!(p.invalid[0], "error at least one label pair is required per stream");
        assert!(p.invalid[1].starts_with("Error parsing labels '{bad-name=\"x\"}' with error: "), "{}", p.invalid[1]);
        assert_eq!(p.invalid_entries, 2);
        for bad in [
            &b"not json"[..],
            br#"{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}"#,
            br#"{"streams":[{"stream":{"a":"b"},"values":[["x","x"]]}]}"#,
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1",2]]}]}"#,
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}"#,
            br#"{"streams":[{"stream":{"a":1},"values":[]}]}"#,
            br#"{"streams":{}}"#,
        ] {
            assert!(decode_json(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(decode_json(b"{}").unwrap(), Push::default());
    }

    #[test]
    fn protobuf_push() {
        let req = logproto::PushRequest {
            streams: vec![
                logproto::StreamAdapter {
                    labels: r#"{app="api", level="info"}"#.into(),
                    entries: vec![logproto::EntryAdapter {
                        timestamp: Some(logproto::Timestamp { seconds: 1_700_000_000, nanos: 5 }),
                        line: "hello".into(),
                        structured_metadata: vec![logproto::LabelPairAdapter {
                            name: "trace_id".into(),
                            value: "t1".into(),
                        }],
                    }],
                },
                logproto::StreamAdapter { labels: "{oops".into(), entries: vec![] },
            ],
        };
        let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap();
        let p = decode_protobuf(&body, 1 << 20).unwrap();
        assert_eq!(p.streams.len(), 1);
        let e = &p.streams[0].entries[0];
        assert_eq!(e.ts, 1_700_000_000_000_000_005);
        assert_eq!(e.metadata, vec![Label::new("trace_id", "t1")]);
        assert_eq!(p.invalid.len(), 1);
        assert!(decode_protobuf(b"garbage", 1 << 20).is_err());
        assert!(matches!(decode_protobuf(&body, 4), Err(DecodeError::TooLarge { .. })));
    }
}
