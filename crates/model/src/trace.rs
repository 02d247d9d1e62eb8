//! Spans as Seer stores and queries them: OTLP's span model, flattened so that one [`Span`]
//! carries everything needed to print it again (its resource and scope are shared behind an
//! `Arc`, so a batch of spans from one process holds them once).

use std::sync::Arc;

/// A 16-byte W3C trace id.
pub type TraceId = [u8; 16];
/// An 8-byte span id; all zeros means "none" (e.g. the parent of a root span).
pub type SpanId = [u8; 8];

/// An OTLP `AnyValue`.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    Array(Vec<AttrValue>),
    Map(Vec<Attr>),
    /// An attribute whose value was not set.
    Empty,
}

/// One key/value attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: String,
    pub value: AttrValue,
}

impl Attr {
    pub fn new(key: impl Into<String>, value: AttrValue) -> Attr {
        Attr { key: key.into(), value }
    }
}

/// Finds an attribute by key.
pub fn find_attr<'a>(attrs: &'a [Attr], key: &str) -> Option<&'a AttrValue> {
    attrs.iter().find(|a| a.key == key).map(|a| &a.value)
}

/// The process (OTLP `Resource`) that produced spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resource {
    pub attrs: Vec<Attr>,
    pub dropped_attrs: u32,
    pub schema_url: String,
}

impl Resource {
    /// `service.name`, or "" when absent or not a string.
    pub fn service_name(&self) -> &str {
        match find_attr(&self.attrs, "service.name") {
            Some(AttrValue::Str(s)) => s,
            _ => "",
        }
    }
}

/// The instrumentation scope (library) that produced spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attrs: Vec<Attr>,
    pub dropped_attrs: u32,
    pub schema_url: String,
}

/// OTLP `Span.SpanKind`, numbered as in the proto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum SpanKind {
    #[default]
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

impl SpanKind {
    pub fn from_i32(v: i32) -> SpanKind {
        match v {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }
    /// TraceQL's name for the kind (`unspecified`, `internal`, `server`, ...).
    pub fn traceql_name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// OTLP `Status.StatusCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum StatusCode {
    #[default]
    Unset = 0,
    Ok = 1,
    Error = 2,
}

impl StatusCode {
    pub fn from_i32(v: i32) -> StatusCode {
        match v {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
    /// TraceQL's name for the status (`unset`, `ok`, `error`).
    pub fn traceql_name(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }
}

/// A timed event inside a span (a "log" in Jaeger's words).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub time_ns: u64,
    pub name: String,
    pub attrs: Vec<Attr>,
    pub dropped_attrs: u32,
}

/// A link from a span to another span, possibly in another trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attrs: Vec<Attr>,
    pub dropped_attrs: u32,
    pub flags: u32,
}

/// One span with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// All zeros for a root span.
    pub parent_span_id: SpanId,
    pub trace_state: String,
    pub flags: u32,
    pub name: String,
    pub kind: SpanKind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: Vec<Attr>,
    pub dropped_attrs: u32,
    pub events: Vec<SpanEvent>,
    pub dropped_events: u32,
    pub links: Vec<SpanLink>,
    pub dropped_links: u32,
    pub status: StatusCode,
    pub status_message: String,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
}

impl Span {
    /// `end - start` in nanoseconds (0 if the end precedes the start).
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
    pub fn is_root(&self) -> bool {
        self.parent_span_id == [0; 8]
    }
}

/// Lower-case hex of an id.
pub fn hex_id(id: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(id.len() * 2);
    for b in id {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Parses a hex trace id as Tempo accepts it: 1 to 32 hex digits, left-padded with zeros.
pub fn parse_trace_id(s: &str) -> Option<TraceId> {
    let s = s.trim();
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{s:0>32}");
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&padded[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids() {
        let id = parse_trace_id("abc").unwrap();
        assert_eq!(hex_id(&id), "00000000000000000000000000000abc");
        assert_eq!(
            parse_trace_id("0123456789abcdef0123456789ABCDEF").map(|i| hex_id(&i)).unwrap(),
            "0123456789abcdef0123456789abcdef"
        );
        assert!(parse_trace_id("").is_none());
        assert!(parse_trace_id("xyz").is_none());
        assert!(parse_trace_id(&"1".repeat(33)).is_none());
    }
}
