//! OTLP traces → [`seer_model::trace::Span`]s, with the per-span checks of the trace limits.
//! A span that breaks a rule is refused on its own (OTLP partial success); the rest of the
//! request is kept.

use crate::proto::otlp::common::{AnyValue, KeyValue, any_value};
use crate::proto::otlp::trace::ExportTraceServiceRequest;
use seer_model::trace::{Attr, AttrValue, Resource, Scope, Span, SpanEvent, SpanKind, SpanLink, StatusCode, hex_id};
use std::sync::Arc;

/// Per-span limits of trace ingestion.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanLimits {
    /// Most attributes on a span (resource attributes not counted); 0 = no limit.
    pub max_attributes: usize,
    /// Longest attribute key or string value, in bytes; 0 = no limit.
    pub max_attribute_bytes: usize,
    /// Largest span (name, attributes, events, links) in bytes; 0 = no limit.
    pub max_span_bytes: usize,
}

impl Default for SpanLimits {
    fn default() -> SpanLimits {
        SpanLimits { max_attributes: 1024, max_attribute_bytes: 64 << 10, max_span_bytes: 1 << 20 }
    }
}

/// Spans of a request, and what was refused.
#[derive(Debug, Default)]
pub struct Translated {
    /// Accepted spans.
    pub spans: Vec<Span>,
    /// Refused spans.
    pub rejected: usize,
    /// Why (at most 10 messages, then a count).
    pub messages: Vec<String>,
}

impl Translated {
    fn refuse(&mut self, msg: String) {
        self.rejected += 1;
        if self.messages.len() < 10 {
            self.messages.push(msg);
        }
    }
}

/// Converts an OTLP value (depth is bounded by the decoders).
pub fn attr_value(v: Option<&AnyValue>) -> AttrValue {
    match v.and_then(|v| v.value.as_ref()) {
        None => AttrValue::Empty,
        Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.clone()),
        Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(*b),
        Some(any_value::Value::IntValue(i)) => AttrValue::Int(*i),
        Some(any_value::Value::DoubleValue(f)) => AttrValue::Float(*f),
        Some(any_value::Value::BytesValue(b)) => AttrValue::Bytes(b.clone()),
        Some(any_value::Value::ArrayValue(a)) => {
            AttrValue::Array(a.values.iter().map(|v| attr_value(Some(v))).collect())
        }
        Some(any_value::Value::KvlistValue(m)) => AttrValue::Map(attrs(&m.values)),
    }
}

/// Converts OTLP key/values.
pub fn attrs(kvs: &[KeyValue]) -> Vec<Attr> {
    kvs.iter().map(|kv| Attr { key: kv.key.clone(), value: attr_value(kv.value.as_ref()) }).collect()
}

fn id<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    let a: [u8; N] = b.try_into().ok()?;
    (a != [0; N]).then_some(a)
}

/// Longest key or string value and total size of attributes.
fn measure(attrs: &[Attr], longest: &mut usize) -> usize {
    let mut total = 0;
    for a in attrs {
        *longest = (*longest).max(a.key.len());
        total += a.key.len() + measure_value(&a.value, longest);
    }
    total
}

fn measure_value(v: &AttrValue, longest: &mut usize) -> usize {
    match v {
        AttrValue::Str(s) => {
            *longest = (*longest).max(s.len());
            s.len()
        }
        AttrValue::Bytes(b) => {
            *longest = (*longest).max(b.len());
            b.len()
        }
        AttrValue::Array(a) => a.iter().map(|v| measure_value(v, longest)).sum(),
        AttrValue::Map(m) => measure(m, longest),
        _ => 8,
    }
}

/// Translates a request, checking ids and `limits` span by span.
pub fn translate(req: &ExportTraceServiceRequest, limits: &SpanLimits) -> Translated {
    let mut out = Translated::default();
    for rs in &req.resource_spans {
        let resource = Arc::new(match &rs.resource {
            Some(r) => Resource {
                attrs: attrs(&r.attributes),
                dropped_attrs: r.dropped_attributes_count,
                schema_url: rs.schema_url.clone(),
            },
            None => Resource { schema_url: rs.schema_url.clone(), ..Default::default() },
        });
        for ss in &rs.scope_spans {
            let scope = Arc::new(match &ss.scope {
                Some(s) => Scope {
                    name: s.name.clone(),
                    version: s.version.clone(),
                    attrs: attrs(&s.attributes),
                    dropped_attrs: s.dropped_attributes_count,
                    schema_url: ss.schema_url.clone(),
                },
                None => Scope { schema_url: ss.schema_url.clone(), ..Default::default() },
            });
            for s in &ss.spans {
                let Some(trace_id) = id::<16>(&s.trace_id) else {
                    out.refuse(format!(
                        "span {:?}: trace id must be 16 bytes and not all zero, got {} bytes",
                        s.name,
                        s.trace_id.len()
                    ));
                    continue;
                };
                let Some(span_id) = id::<8>(&s.span_id) else {
                    out.refuse(format!(
                        "span {:?} of trace {}: span id must be 8 bytes and not all zero, got {} bytes",
                        s.name,
                        hex_id(&trace_id),
                        s.span_id.len()
                    ));
                    continue;
                };
                let parent_span_id = match s.parent_span_id.len() {
                    0 => [0; 8],
                    8 => s.parent_span_id.as_slice().try_into().unwrap_or([0; 8]),
                    n => {
                        out.refuse(format!(
                            "span {} of trace {}: parent span id must be empty or 8 bytes, got {n} bytes",
                            hex_id(&span_id),
                            hex_id(&trace_id)
                        ));
                        continue;
                    }
                };
                let span_attrs = attrs(&s.attributes);
                let events: Vec<SpanEvent> = s
                    .events
                    .iter()
                    .map(|e| SpanEvent {
                        time_ns: e.time_unix_nano,
                        name: e.name.clone(),
                        attrs: attrs(&e.attributes),
                        dropped_attrs: e.dropped_attributes_count,
                    })
                    .collect();
                let mut links = Vec::with_capacity(s.links.len());
                for l in &s.links {
                    links.push(SpanLink {
                        trace_id: l.trace_id.as_slice().try_into().unwrap_or([0; 16]),
                        span_id: l.span_id.as_slice().try_into().unwrap_or([0; 8]),
                        trace_state: l.trace_state.clone(),
                        attrs: attrs(&l.attributes),
                        dropped_attrs: l.dropped_attributes_count,
                        flags: l.flags,
                    });
                }
                let what = || format!("span {} of trace {}", hex_id(&span_id), hex_id(&trace_id));
                if limits.max_attributes > 0 && span_attrs.len() > limits.max_attributes {
                    out.refuse(format!(
                        "{}: {} attributes, more than the limit of {} (traces.max_attributes_per_span)",
                        what(),
                        span_attrs.len(),
                        limits.max_attributes
                    ));
                    continue;
                }
                let mut longest = s.name.len();
                let mut size = s.name.len() + s.status.as_ref().map_or(0, |st| st.message.len()) + 64;
                size += measure(&span_attrs, &mut longest);
                for e in &events {
                    size += e.name.len() + 16 + measure(&e.attrs, &mut longest);
                }
                for l in &links {
                    size += 32 + l.trace_state.len() + measure(&l.attrs, &mut longest);
                }
                if limits.max_attribute_bytes > 0 && longest > limits.max_attribute_bytes {
                    out.refuse(format!(
                        "{}: a name or attribute of {longest} bytes, more than the limit of {} bytes \
                         (traces.max_attribute_bytes)",
                        what(),
                        limits.max_attribute_bytes
                    ));
                    continue;
                }
                if limits.max_span_bytes > 0 && size > limits.max_span_bytes {
                    out.refuse(format!(
                        "{}: {size} bytes, more than the limit of {} bytes (traces.max_span_bytes)",
                        what(),
                        limits.max_span_bytes
                    ));
                    continue;
                }
                let (status, status_message) = match &s.status {
                    Some(st) => (StatusCode::from_i32(st.code), st.message.clone()),
                    None => (StatusCode::Unset, String::new()),
                };
                out.spans.push(Span {
                    trace_id,
                    span_id,
                    parent_span_id,
                    trace_state: s.trace_state.clone(),
                    flags: s.flags,
                    name: s.name.clone(),
                    kind: SpanKind::from_i32(s.kind),
                    start_ns: s.start_time_unix_nano,
                    end_ns: s.end_time_unix_nano,
                    attrs: span_attrs,
                    dropped_attrs: s.dropped_attributes_count,
                    events,
                    dropped_events: s.dropped_events_count,
                    links,
                    dropped_links: s.dropped_links_count,
                    status,
                    status_message,
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    out
}

/// Converts a value back to OTLP.
pub fn to_any_value(v: &AttrValue) -> AnyValue {
    use crate::proto::otlp::common::{ArrayValue, KeyValueList};
    let value = match v {
        AttrValue::Empty => None,
        AttrValue::Str(s) => Some(any_value::Value::StringValue(s.clone())),
        AttrValue::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        AttrValue::Int(i) => Some(any_value::Value::IntValue(*i)),
        AttrValue::Float(f) => Some(any_value::Value::DoubleValue(*f)),
        AttrValue::Bytes(b) => Some(any_value::Value::BytesValue(b.clone())),
        AttrValue::Array(a) => {
            Some(any_value::Value::ArrayValue(ArrayValue { values: a.iter().map(to_any_value).collect() }))
        }
        AttrValue::Map(m) => Some(any_value::Value::KvlistValue(KeyValueList { values: to_key_values(m) })),
    };
    AnyValue { value }
}

/// Converts attributes back to OTLP.
pub fn to_key_values(attrs: &[Attr]) -> Vec<KeyValue> {
    attrs.iter().map(|a| KeyValue { key: a.key.clone(), value: Some(to_any_value(&a.value)) }).collect()
}

/// Groups spans back into OTLP `ResourceSpans` (by resource, then scope, in first-seen order).
pub fn to_resource_spans(spans: &[Span]) -> Vec<crate::proto::otlp::trace::ResourceSpans> {
    use crate::proto::otlp::common::InstrumentationScope;
    use crate::proto::otlp::resource::Resource as PResource;
    use crate::proto::otlp::trace::{ResourceSpans, ScopeSpans, Span as PSpan, Status, span};
    let mut out: Vec<(Arc<Resource>, Vec<(Arc<Scope>, Vec<PSpan>)>)> = Vec::new();
    for s in spans {
        let ri = match out.iter().position(|(r, _)| Arc::ptr_eq(r, &s.resource) || **r == *s.resource) {
            Some(i) => i,
            None => {
                out.push((s.resource.clone(), Vec::new()));
                out.len() - 1
            }
        };
        let scopes = &mut out[ri].1;
        let si = match scopes.iter().position(|(x, _)| Arc::ptr_eq(x, &s.scope) || **x == *s.scope) {
            Some(i) => i,
            None => {
                scopes.push((s.scope.clone(), Vec::new()));
                scopes.len() - 1
            }
        };
        scopes[si].1.push(PSpan {
            trace_id: s.trace_id.to_vec(),
            span_id: s.span_id.to_vec(),
            trace_state: s.trace_state.clone(),
            parent_span_id: if s.is_root() { Vec::new() } else { s.parent_span_id.to_vec() },
            flags: s.flags,
            name: s.name.clone(),
            kind: s.kind as i32,
            start_time_unix_nano: s.start_ns,
            end_time_unix_nano: s.end_ns,
            attributes: to_key_values(&s.attrs),
            dropped_attributes_count: s.dropped_attrs,
            events: s
                .events
                .iter()
                .map(|e| span::Event {
                    time_unix_nano: e.time_ns,
                    name: e.name.clone(),
                    attributes: to_key_values(&e.attrs),
                    dropped_attributes_count: e.dropped_attrs,
                })
                .collect(),
            dropped_events_count: s.dropped_events,
            links: s
                .links
                .iter()
                .map(|l| span::Link {
                    trace_id: l.trace_id.to_vec(),
                    span_id: l.span_id.to_vec(),
                    trace_state: l.trace_state.clone(),
                    attributes: to_key_values(&l.attrs),
                    dropped_attributes_count: l.dropped_attrs,
                    flags: l.flags,
                })
                .collect(),
            dropped_links_count: s.dropped_links,
            status: (s.status != StatusCode::Unset || !s.status_message.is_empty())
                .then(|| Status { message: s.status_message.clone(), code: s.status as i32 }),
        });
    }
    out.into_iter()
        .map(|(r, scopes)| ResourceSpans {
            schema_url: r.schema_url.clone(),
            resource: Some(PResource {
                attributes: to_key_values(&r.attrs),
                dropped_attributes_count: r.dropped_attrs,
            }),
            scope_spans: scopes
                .into_iter()
                .map(|(sc, spans)| ScopeSpans {
                    schema_url: sc.schema_url.clone(),
                    scope: Some(InstrumentationScope {
                        name: sc.name.clone(),
                        version: sc.version.clone(),
                        attributes: to_key_values(&sc.attrs),
                        dropped_attributes_count: sc.dropped_attrs,
                    }),
                    spans,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conformance(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/conformance/jaeger/integration/traces")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn jaeger_fixture_translates() {
        let req = crate::otlp_json::decode_traces(&conformance("example_trace.json")).unwrap();
        let t = translate(&req, &SpanLimits::default());
        assert_eq!(t.rejected, 0, "{:?}", t.messages);
        assert!(!t.spans.is_empty());
        assert!(t.spans.iter().all(|s| s.trace_id != [0; 16]));
        // Back to OTLP and in again: the same spans.
        let again = ExportTraceServiceRequest { resource_spans: to_resource_spans(&t.spans) };
        assert_eq!(translate(&again, &SpanLimits::default()).spans, t.spans);
    }

    #[test]
    fn bad_spans_are_refused_alone() {
        let mut req = crate::otlp_json::decode_traces(&conformance("example_trace.json")).unwrap();
        let n = req.resource_spans[0].scope_spans[0].spans.len();
        req.resource_spans[0].scope_spans[0].spans[0].span_id = vec![1, 2];
        let t = translate(&req, &SpanLimits::default());
        assert_eq!(t.rejected, 1);
        assert_eq!(
            t.spans.len() + 1,
            req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum::<usize>()
        );
        assert!(t.messages[0].contains("span id must be 8 bytes"), "{}", t.messages[0]);
        let limits = SpanLimits { max_attributes: 0, max_attribute_bytes: 3, max_span_bytes: 0 };
        let t = translate(&req, &limits);
        assert!(t.spans.is_empty() && t.rejected >= n);
        assert!(t.messages[1].contains("max_attribute_bytes"), "{}", t.messages[1]);
    }
}
