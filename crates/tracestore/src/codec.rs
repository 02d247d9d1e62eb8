//! The binary form of a trace fragment (some or all spans of one trace), used alike in WAL
//! records, the head and block pages. Layout in `FORMAT.md`.

use seer_encoding::{ByteReader, DecodeError, put_uvarint, put_varint};
use seer_model::trace::{
    Attr, AttrValue, Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, TraceId,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Deepest nesting of array/map attribute values accepted when decoding (the OTLP decoders
/// stop at 100, so everything they produce fits).
const MAX_DEPTH: usize = 128;

fn put_str(dst: &mut Vec<u8>, s: &str) {
    put_uvarint(dst, s.len() as u64);
    dst.extend_from_slice(s.as_bytes());
}

fn put_value(dst: &mut Vec<u8>, v: &AttrValue) {
    match v {
        AttrValue::Empty => dst.push(0),
        AttrValue::Str(s) => {
            dst.push(1);
            put_str(dst, s);
        }
        AttrValue::Bool(false) => dst.push(2),
        AttrValue::Bool(true) => dst.push(3),
        AttrValue::Int(i) => {
            dst.push(4);
            put_varint(dst, *i);
        }
        AttrValue::Float(f) => {
            dst.push(5);
            dst.extend_from_slice(&f.to_le_bytes());
        }
        AttrValue::Bytes(b) => {
            dst.push(6);
            put_uvarint(dst, b.len() as u64);
            dst.extend_from_slice(b);
        }
        AttrValue::Array(a) => {
            dst.push(7);
            put_uvarint(dst, a.len() as u64);
            for v in a {
                put_value(dst, v);
            }
        }
        AttrValue::Map(m) => {
            dst.push(8);
            put_attrs(dst, m);
        }
    }
}

fn put_attrs(dst: &mut Vec<u8>, attrs: &[Attr]) {
    put_uvarint(dst, attrs.len() as u64);
    for a in attrs {
        put_str(dst, &a.key);
        put_value(dst, &a.value);
    }
}

fn get_value(r: &mut ByteReader, depth: usize) -> Result<AttrValue, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::Invalid("attribute values nested too deeply".into()));
    }
    Ok(match r.u8()? {
        0 => AttrValue::Empty,
        1 => AttrValue::Str(r.str()?.to_string()),
        2 => AttrValue::Bool(false),
        3 => AttrValue::Bool(true),
        4 => AttrValue::Int(r.varint()?),
        5 => {
            let b = r.bytes(8)?;
            AttrValue::Float(f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        }
        6 => {
            let n = r.len_prefix(r.remaining())?;
            AttrValue::Bytes(r.bytes(n)?.to_vec())
        }
        7 => {
            let n = r.len_prefix(r.remaining())?;
            let mut a = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                a.push(get_value(r, depth + 1)?);
            }
            AttrValue::Array(a)
        }
        8 => AttrValue::Map(get_attrs(r, depth + 1)?),
        t => return Err(DecodeError::Invalid(format!("unknown attribute value tag {t}"))),
    })
}

fn get_attrs(r: &mut ByteReader, depth: usize) -> Result<Vec<Attr>, DecodeError> {
    let n = r.len_prefix(r.remaining())?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let key = r.str()?.to_string();
        out.push(Attr { key, value: get_value(r, depth)? });
    }
    Ok(out)
}

fn get_u32(r: &mut ByteReader) -> Result<u32, DecodeError> {
    let v = r.uvarint()?;
    u32::try_from(v).map_err(|_| DecodeError::Invalid(format!("{v} does not fit in 32 bits")))
}

fn get_id<const N: usize>(r: &mut ByteReader) -> Result<[u8; N], DecodeError> {
    let mut id = [0u8; N];
    id.copy_from_slice(r.bytes(N)?);
    Ok(id)
}

/// Appends the encoding of `spans` (all of the same trace) to `dst`.
pub fn encode_fragment(dst: &mut Vec<u8>, spans: &[Span]) {
    // Resources and scopes, each stored once.
    let mut resources: Vec<&Arc<Resource>> = Vec::new();
    let mut scopes: Vec<&Arc<Scope>> = Vec::new();
    let mut span_res = Vec::with_capacity(spans.len());
    let mut span_scope = Vec::with_capacity(spans.len());
    for s in spans {
        let ri = match resources.iter().position(|r| Arc::ptr_eq(r, &s.resource) || ***r == *s.resource) {
            Some(i) => i,
            None => {
                resources.push(&s.resource);
                resources.len() - 1
            }
        };
        let si = match scopes.iter().position(|x| Arc::ptr_eq(x, &s.scope) || ***x == *s.scope) {
            Some(i) => i,
            None => {
                scopes.push(&s.scope);
                scopes.len() - 1
            }
        };
        span_res.push(ri);
        span_scope.push(si);
    }
    put_uvarint(dst, resources.len() as u64);
    for r in &resources {
        put_attrs(dst, &r.attrs);
        put_uvarint(dst, r.dropped_attrs as u64);
        put_str(dst, &r.schema_url);
    }
    put_uvarint(dst, scopes.len() as u64);
    for s in &scopes {
        put_str(dst, &s.name);
        put_str(dst, &s.version);
        put_attrs(dst, &s.attrs);
        put_uvarint(dst, s.dropped_attrs as u64);
        put_str(dst, &s.schema_url);
    }
    let base = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    put_uvarint(dst, base);
    let position: HashMap<SpanId, usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id, i)).collect();
    put_uvarint(dst, spans.len() as u64);
    for (i, s) in spans.iter().enumerate() {
        put_uvarint(dst, span_res[i] as u64);
        put_uvarint(dst, span_scope[i] as u64);
        dst.extend_from_slice(&s.span_id);
        if s.parent_span_id == [0; 8] {
            put_uvarint(dst, 0);
        } else if let Some(&p) = position.get(&s.parent_span_id) {
            put_uvarint(dst, p as u64 + 2);
        } else {
            put_uvarint(dst, 1);
            dst.extend_from_slice(&s.parent_span_id);
        }
        put_str(dst, &s.trace_state);
        put_uvarint(dst, s.flags as u64);
        put_str(dst, &s.name);
        dst.push(s.kind as u8);
        dst.push(s.status as u8);
        put_str(dst, &s.status_message);
        put_uvarint(dst, s.start_ns - base);
        put_varint(dst, (s.end_ns as i64).wrapping_sub(s.start_ns as i64));
        put_attrs(dst, &s.attrs);
        put_uvarint(dst, s.dropped_attrs as u64);
        put_uvarint(dst, s.events.len() as u64);
        for e in &s.events {
            put_varint(dst, (e.time_ns as i64).wrapping_sub(s.start_ns as i64));
            put_str(dst, &e.name);
            put_attrs(dst, &e.attrs);
            put_uvarint(dst, e.dropped_attrs as u64);
        }
        put_uvarint(dst, s.dropped_events as u64);
        put_uvarint(dst, s.links.len() as u64);
        for l in &s.links {
            dst.extend_from_slice(&l.trace_id);
            dst.extend_from_slice(&l.span_id);
            put_str(dst, &l.trace_state);
            put_attrs(dst, &l.attrs);
            put_uvarint(dst, l.dropped_attrs as u64);
            put_uvarint(dst, l.flags as u64);
        }
        put_uvarint(dst, s.dropped_links as u64);
    }
}

/// Decodes one fragment from `r`, appending its spans (of trace `trace_id`) to `out`.
pub fn decode_fragment(r: &mut ByteReader, trace_id: &TraceId, out: &mut Vec<Span>) -> Result<(), DecodeError> {
    let n = r.len_prefix(r.remaining())?;
    let mut resources = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let attrs = get_attrs(r, 0)?;
        let dropped_attrs = get_u32(r)?;
        let schema_url = r.str()?.to_string();
        resources.push(Arc::new(Resource { attrs, dropped_attrs, schema_url }));
    }
    let n = r.len_prefix(r.remaining())?;
    let mut scopes = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = r.str()?.to_string();
        let version = r.str()?.to_string();
        let attrs = get_attrs(r, 0)?;
        let dropped_attrs = get_u32(r)?;
        let schema_url = r.str()?.to_string();
        scopes.push(Arc::new(Scope { name, version, attrs, dropped_attrs, schema_url }));
    }
    let base = r.uvarint()?;
    let n = r.len_prefix(r.remaining())?;
    let first = out.len();
    let mut parents = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let ri = r.uvarint()? as usize;
        let si = r.uvarint()? as usize;
        let (Some(resource), Some(scope)) = (resources.get(ri), scopes.get(si)) else {
            return Err(DecodeError::Invalid("span refers to a missing resource or scope".into()));
        };
        let span_id: SpanId = get_id(r)?;
        let mut parent_span_id = [0u8; 8];
        let p = r.uvarint()?;
        if p == 1 {
            parent_span_id = get_id(r)?;
        }
        parents.push(p);
        let trace_state = r.str()?.to_string();
        let flags = get_u32(r)?;
        let name = r.str()?.to_string();
        let kind = SpanKind::from_i32(r.u8()? as i32);
        let status = StatusCode::from_i32(r.u8()? as i32);
        let status_message = r.str()?.to_string();
        let start_ns = base.wrapping_add(r.uvarint()?);
        let end_ns = (start_ns as i64).wrapping_add(r.varint()?) as u64;
        let attrs = get_attrs(r, 0)?;
        let dropped_attrs = get_u32(r)?;
        let ne = r.len_prefix(r.remaining())?;
        let mut events = Vec::with_capacity(ne.min(1024));
        for _ in 0..ne {
            let time_ns = (start_ns as i64).wrapping_add(r.varint()?) as u64;
            let name = r.str()?.to_string();
            let attrs = get_attrs(r, 0)?;
            let dropped_attrs = get_u32(r)?;
            events.push(SpanEvent { time_ns, name, attrs, dropped_attrs });
        }
        let dropped_events = get_u32(r)?;
        let nl = r.len_prefix(r.remaining())?;
        let mut links = Vec::with_capacity(nl.min(1024));
        for _ in 0..nl {
            let trace_id: TraceId = get_id(r)?;
            let span_id: SpanId = get_id(r)?;
            let trace_state = r.str()?.to_string();
            let attrs = get_attrs(r, 0)?;
            let dropped_attrs = get_u32(r)?;
            let flags = get_u32(r)?;
            links.push(SpanLink { trace_id, span_id, trace_state, attrs, dropped_attrs, flags });
        }
        let dropped_links = get_u32(r)?;
        out.push(Span {
            trace_id: *trace_id,
            span_id,
            parent_span_id,
            trace_state,
            flags,
            name,
            kind,
            status,
            status_message,
            start_ns,
            end_ns,
            attrs,
            dropped_attrs,
            events,
            dropped_events,
            links,
            dropped_links,
            resource: resource.clone(),
            scope: scope.clone(),
        });
    }
    for (i, p) in parents.into_iter().enumerate() {
        if p >= 2 {
            let k = (p - 2) as usize;
            let Some(id) = out.get(first + k).map(|s| s.span_id) else {
                return Err(DecodeError::Invalid(format!("parent index {k} outside the fragment")));
            };
            out[first + i].parent_span_id = id;
        }
    }
    Ok(())
}

/// Removes repeated spans (same span id and start time: a client that exported twice, or a
/// WAL record replayed over a block), keeping the first, and orders by start time.
pub fn dedup_spans(spans: &mut Vec<Span>) {
    let mut seen = std::collections::HashSet::with_capacity(spans.len());
    spans.retain(|s| seen.insert((s.span_id, s.start_ns)));
    spans.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then(a.span_id.cmp(&b.span_id)));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn span(trace: u8, id: u8, parent: u8, service: &str, name: &str, start: u64, dur: u64) -> Span {
        let resource = Arc::new(Resource {
            attrs: vec![Attr::new("service.name", AttrValue::Str(service.into()))],
            ..Default::default()
        });
        Span {
            trace_id: [trace; 16],
            span_id: [id; 8],
            parent_span_id: [parent; 8],
            trace_state: String::new(),
            flags: 1,
            name: name.into(),
            kind: SpanKind::Server,
            start_ns: start,
            end_ns: start + dur,
            attrs: vec![
                Attr::new("http.status_code", AttrValue::Int(200)),
                Attr::new("ratio", AttrValue::Float(0.5)),
                Attr::new("ok", AttrValue::Bool(true)),
                Attr::new(
                    "nested",
                    AttrValue::Array(vec![AttrValue::Map(vec![Attr::new("k", AttrValue::Bytes(vec![1, 2]))])]),
                ),
            ],
            dropped_attrs: 2,
            events: vec![SpanEvent { time_ns: start + 5, name: "ev".into(), attrs: vec![], dropped_attrs: 0 }],
            dropped_events: 0,
            links: vec![SpanLink {
                trace_id: [9; 16],
                span_id: [8; 8],
                trace_state: "a=b".into(),
                attrs: vec![Attr::new("l", AttrValue::Empty)],
                dropped_attrs: 0,
                flags: 0,
            }],
            dropped_links: 1,
            status: StatusCode::Error,
            status_message: "boom".into(),
            resource,
            scope: Arc::new(Scope { name: "lib".into(), version: "1.0".into(), ..Default::default() }),
        }
    }

    #[test]
    fn fragments_round_trip() {
        let spans = vec![
            span(1, 1, 0, "front", "GET /", 1_000, 500),
            span(1, 2, 1, "front", "call", 1_100, 100),
            span(1, 3, 7, "back", "remote parent", 900, 50),
        ];
        let mut buf = Vec::new();
        encode_fragment(&mut buf, &spans);
        let mut out = Vec::new();
        decode_fragment(&mut ByteReader::new(&buf), &[1; 16], &mut out).unwrap();
        assert_eq!(out, spans);
        // Truncations are errors, never panics.
        for cut in 0..buf.len() {
            let _ = decode_fragment(&mut ByteReader::new(&buf[..cut]), &[1; 16], &mut Vec::new());
        }
    }
}
