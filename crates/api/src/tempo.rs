//! The Tempo HTTP API: trace by id (v1 and v2, OTLP JSON or protobuf by `Accept`), search
//! (`q=` TraceQL or `tags=` logfmt, durations, time range, `limit`, `spss`), tag names and
//! values (v1 and v2), `echo` and `buildinfo`.
//!
//! Tempo's JSON is protobuf JSON as Go's `jsonpb` writes it: ids base64, 64-bit integers as
//! strings, enums by name, empty fields left out. Errors are plain text with Tempo's status
//! codes (400 for bad parameters, 404 for an unknown trace).

use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use seer_encoding::base64_encode;
use seer_ingest::otlp_json::{SPAN_KIND, STATUS_CODE};
use seer_ingest::proto::otlp::common::{AnyValue, KeyValue, any_value};
use seer_ingest::proto::otlp::trace::ResourceSpans;
use seer_model::trace::{AttrValue, Span, TraceId, find_attr, hex_id, parse_trace_id};
use seer_tracestore::{SearchKey, TagScope, TraceDb};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// `tempopb.Trace`: `repeated ResourceSpans batches = 1`.
#[derive(Clone, PartialEq, prost::Message)]
struct TempoTrace {
    #[prost(message, repeated, tag = "1")]
    batches: Vec<ResourceSpans>,
}

/// `tempopb.TraceByIDResponse` (v2).
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TempoTrace>,
}

pub(crate) fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, msg.into()).into_response()
}

fn unavailable(msg: impl std::fmt::Display) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("{msg}")).into_response()
}

/// Query-string pairs, decoded.
pub(crate) fn params(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref().map(|q| serde_urlencoded::from_str(q).unwrap_or_default()).unwrap_or_default()
}

pub(crate) fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The tenant's trace store, if it has one; `Err` when storage is not open yet.
pub(crate) fn tenant_db(s: &AppState, headers: &HeaderMap) -> Result<Option<Arc<TraceDb>>, Response> {
    let tenant = s.tenant(headers).map_err(bad_request)?;
    let traces = s.traces().map_err(|_| unavailable("storage is not ready yet"))?;
    Ok(traces.get(&tenant))
}

/// Runs a blocking store call off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err((StatusCode::INTERNAL_SERVER_ERROR, e).into_response()),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, format!("query task failed: {e}")).into_response()),
    }
}

// ---- OTLP JSON as jsonpb writes it -----------------------------------------------------------

fn any_json(v: &AnyValue) -> Value {
    match &v.value {
        None => json!({}),
        Some(any_value::Value::StringValue(s)) => json!({"stringValue": s}),
        Some(any_value::Value::BoolValue(b)) => json!({"boolValue": b}),
        Some(any_value::Value::IntValue(i)) => json!({"intValue": i.to_string()}),
        Some(any_value::Value::DoubleValue(f)) => json!({"doubleValue": float_json(*f)}),
        Some(any_value::Value::BytesValue(b)) => json!({"bytesValue": base64_encode(b)}),
        Some(any_value::Value::ArrayValue(a)) => {
            json!({"arrayValue": {"values": a.values.iter().map(any_json).collect::<Vec<_>>()}})
        }
        Some(any_value::Value::KvlistValue(m)) => json!({"kvlistValue": {"values": kvs_json(&m.values)}}),
    }
}

fn float_json(f: f64) -> Value {
    if f.is_finite() {
        json!(f)
    } else if f.is_nan() {
        json!("NaN")
    } else if f > 0.0 {
        json!("Infinity")
    } else {
        json!("-Infinity")
    }
}

fn kvs_json(kvs: &[KeyValue]) -> Vec<Value> {
    kvs.iter()
        .map(|kv| json!({"key": kv.key, "value": kv.value.as_ref().map(any_json).unwrap_or_else(|| json!({}))}))
        .collect()
}

fn put(m: &mut Map<String, Value>, k: &str, v: Value, keep: bool) {
    if keep {
        m.insert(k.into(), v);
    }
}

/// `attributes` and `droppedAttributesCount`, each left out when empty.
fn put_attrs(m: &mut Map<String, Value>, attrs: &[KeyValue], dropped: u32) {
    put(m, "attributes", Value::Array(kvs_json(attrs)), !attrs.is_empty());
    put(m, "droppedAttributesCount", json!(dropped), dropped > 0);
}

/// `ResourceSpans` as OTLP JSON with Tempo's base64 ids.
pub(crate) fn resource_spans_json(batches: &[ResourceSpans]) -> Vec<Value> {
    let id = base64_encode;
    let mut out = Vec::with_capacity(batches.len());
    for rs in batches {
        let mut r = Map::new();
        if let Some(res) = &rs.resource {
            let mut m = Map::new();
            put_attrs(&mut m, &res.attributes, res.dropped_attributes_count);
            r.insert("resource".into(), Value::Object(m));
        }
        let mut scopes = Vec::new();
        for ss in &rs.scope_spans {
            let mut sm = Map::new();
            if let Some(sc) = &ss.scope {
                let mut m = Map::new();
                put(&mut m, "name", json!(sc.name), !sc.name.is_empty());
                put(&mut m, "version", json!(sc.version), !sc.version.is_empty());
                put_attrs(&mut m, &sc.attributes, sc.dropped_attributes_count);
                sm.insert("scope".into(), Value::Object(m));
            }
            let mut spans = Vec::with_capacity(ss.spans.len());
            for s in &ss.spans {
                let mut m = Map::new();
                m.insert("traceId".into(), json!(id(&s.trace_id)));
                m.insert("spanId".into(), json!(id(&s.span_id)));
                put(&mut m, "traceState", json!(s.trace_state), !s.trace_state.is_empty());
                put(&mut m, "parentSpanId", json!(id(&s.parent_span_id)), !s.parent_span_id.is_empty());
                put(&mut m, "flags", json!(s.flags), s.flags != 0);
                m.insert("name".into(), json!(s.name));
                put(
                    &mut m,
                    "kind",
                    json!(SPAN_KIND.get(s.kind as usize).copied().unwrap_or("SPAN_KIND_UNSPECIFIED")),
                    s.kind != 0,
                );
                m.insert("startTimeUnixNano".into(), json!(s.start_time_unix_nano.to_string()));
                m.insert("endTimeUnixNano".into(), json!(s.end_time_unix_nano.to_string()));
                put_attrs(&mut m, &s.attributes, s.dropped_attributes_count);
                if !s.events.is_empty() {
                    let ev: Vec<Value> = s
                        .events
                        .iter()
                        .map(|e| {
                            let mut em = Map::new();
                            em.insert("timeUnixNano".into(), json!(e.time_unix_nano.to_string()));
                            put(&mut em, "name", json!(e.name), !e.name.is_empty());
                            put_attrs(&mut em, &e.attributes, e.dropped_attributes_count);
                            Value::Object(em)
                        })
                        .collect();
                    m.insert("events".into(), Value::Array(ev));
                }
                put(&mut m, "droppedEventsCount", json!(s.dropped_events_count), s.dropped_events_count > 0);
                if !s.links.is_empty() {
                    let lk: Vec<Value> = s
                        .links
                        .iter()
                        .map(|l| {
                            let mut lm = Map::new();
                            lm.insert("traceId".into(), json!(id(&l.trace_id)));
                            lm.insert("spanId".into(), json!(id(&l.span_id)));
                            put(&mut lm, "traceState", json!(l.trace_state), !l.trace_state.is_empty());
                            put_attrs(&mut lm, &l.attributes, l.dropped_attributes_count);
                            put(&mut lm, "flags", json!(l.flags), l.flags != 0);
                            Value::Object(lm)
                        })
                        .collect();
                    m.insert("links".into(), Value::Array(lk));
                }
                put(&mut m, "droppedLinksCount", json!(s.dropped_links_count), s.dropped_links_count > 0);
                let mut st = Map::new();
                if let Some(status) = &s.status {
                    put(&mut st, "message", json!(status.message), !status.message.is_empty());
                    put(
                        &mut st,
                        "code",
                        json!(STATUS_CODE.get(status.code as usize).copied().unwrap_or("STATUS_CODE_UNSET")),
                        status.code != 0,
                    );
                }
                m.insert("status".into(), Value::Object(st));
                spans.push(Value::Object(m));
            }
            sm.insert("spans".into(), Value::Array(spans));
            put(&mut sm, "schemaUrl", json!(ss.schema_url), !ss.schema_url.is_empty());
            scopes.push(Value::Object(sm));
        }
        r.insert("scopeSpans".into(), Value::Array(scopes));
        put(&mut r, "schemaUrl", json!(rs.schema_url), !rs.schema_url.is_empty());
        out.push(Value::Object(r));
    }
    out
}

fn wants_protobuf(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/protobuf"))
}

/// Unix seconds (Tempo's `start`/`end`), as ns.
fn seconds_param(p: &[(String, String)], name: &str) -> Result<Option<u64>, Response> {
    match param(p, name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(|s| Some(s.saturating_mul(1_000_000_000)))
            .map_err(|_| bad_request(format!("invalid {name}: {v:?} is not a Unix time in seconds"))),
    }
}

async fn find_trace(s: &AppState, headers: &HeaderMap, id: &str) -> Result<Option<Vec<Span>>, Response> {
    let Some(tid) = parse_trace_id(id) else {
        return Err(bad_request(format!("invalid trace id {id:?}: expected up to 32 hex digits")));
    };
    let Some(db) = tenant_db(s, headers)? else { return Ok(None) };
    blocking(move || db.trace(&tid).map_err(|e| e.to_string())).await
}

fn filter_range(spans: Option<Vec<Span>>, p: &[(String, String)]) -> Result<Option<Vec<Span>>, Response> {
    let (start, end) = (seconds_param(p, "start")?, seconds_param(p, "end")?);
    Ok(spans.filter(|sp| {
        let (mn, mx) =
            (sp.iter().map(|s| s.start_ns).min().unwrap_or(0), sp.iter().map(|s| s.end_ns).max().unwrap_or(0));
        start.is_none_or(|st| mx >= st) && end.is_none_or(|e| mn <= e.saturating_add(999_999_999))
    }))
}

/// The trace as Tempo's v1 (`{"batches": ..}`, `tempopb.Trace`) or v2 (`{"trace": ..}`,
/// `TraceByIDResponse`) answer.
async fn trace_by_id(s: &AppState, id: &str, q: &Option<String>, headers: &HeaderMap, v2: bool) -> Response {
    let p = params(q);
    let spans = match find_trace(s, headers, id).await.and_then(|t| filter_range(t, &p)) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(spans) = spans else {
        return (StatusCode::NOT_FOUND, format!("trace not found: {id}")).into_response();
    };
    let batches = seer_ingest::otlp_traces::to_resource_spans(&spans);
    if wants_protobuf(headers) {
        let trace = TempoTrace { batches };
        let body = if v2 { TraceByIdResponse { trace: Some(trace) }.encode_to_vec() } else { trace.encode_to_vec() };
        return ([(header::CONTENT_TYPE, "application/protobuf")], body).into_response();
    }
    let batches = resource_spans_json(&batches);
    let body = if v2 { json!({"trace": {"resourceSpans": batches}}) } else { json!({"batches": batches}) };
    axum::Json(body).into_response()
}

pub(crate) async fn trace_v1(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    trace_by_id(&s, &id, &q, &headers, false).await
}

pub(crate) async fn trace_v2(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    trace_by_id(&s, &id, &q, &headers, true).await
}

pub(crate) async fn echo() -> &'static str {
    "echo"
}

pub(crate) async fn buildinfo() -> Response {
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "main",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
    .into_response()
}

// ---- search ------------------------------------------------------------------------------------

/// Parses a Go duration (`1.5s`, `100ms`, `2h45m`) as ns.
pub(crate) fn go_duration_ns(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += v * mult;
    }
    (total.is_finite() && total >= 0.0).then_some(total as u64)
}

/// Logfmt `k=v k2="v 2"` pairs (Tempo's legacy `tags=` parameter).
pub(crate) fn logfmt_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        let key = s[ks..i].to_string();
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("invalid tags: {key:?} has no value (expected key=value)"));
        }
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'\\' if i + 1 < b.len() => {
                        let ch = s[i + 1..].chars().next().unwrap_or(' ');
                        v.push(ch);
                        i += 1 + ch.len_utf8();
                    }
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    _ => {
                        let ch = s[i..].chars().next().unwrap_or(' ');
                        v.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            if !closed {
                return Err("invalid tags: unterminated quoted value".into());
            }
            v
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            s[vs..i].to_string()
        };
        if key.is_empty() {
            return Err("invalid tags: empty key".into());
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Text form of a value for tag matching (as Tempo and Jaeger compare tags: as strings).
pub(crate) fn value_text(v: &AttrValue) -> Option<String> {
    Some(match v {
        AttrValue::Str(s) => s.clone(),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Float(f) => seer_model::go_format_g(*f),
        AttrValue::Bool(b) => b.to_string(),
        _ => return None,
    })
}

/// Whether a span carries tag `key` = `value` (Tempo's legacy tag search: span or resource
/// attributes, plus `name`, `status.code`/`status`, `error`).
fn span_has_tag(s: &Span, key: &str, value: &str) -> bool {
    let eq = |v: Option<&AttrValue>| v.and_then(value_text).is_some_and(|t| t == value);
    match key {
        "name" if s.name == value => return true,
        "status.code" | "status" if s.status.traceql_name() == value => return true,
        "error" if value == "true" && s.status == seer_model::trace::StatusCode::Error => return true,
        "service.name" if s.resource.service_name() == value => return true,
        _ => {}
    }
    eq(find_attr(&s.attrs, key)) || eq(find_attr(&s.resource.attrs, key))
}

/// Summary of a trace for search results.
pub(crate) struct Summary {
    pub root_service: String,
    pub root_name: String,
    pub start_ns: u64,
    pub duration_ns: u64,
}

pub(crate) fn summarize(spans: &[Span]) -> Summary {
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
    let root = spans.iter().find(|s| s.is_root());
    match root {
        Some(r) => Summary {
            root_service: r.resource.service_name().to_string(),
            root_name: r.name.clone(),
            start_ns: start,
            duration_ns: end.saturating_sub(start),
        },
        // Tempo reports a trace whose root has not arrived as "<root span not yet received>".
        None => Summary {
            root_service: "<root span not yet received>".into(),
            root_name: String::new(),
            start_ns: start,
            duration_ns: end.saturating_sub(start),
        },
    }
}

/// A TraceQL value as an OTLP JSON attribute value.
fn traceql_value_json(v: &seer_traceql::Value) -> Value {
    use seer_traceql::Value as V;
    match v {
        V::Nil => json!({}),
        V::Bool(b) => json!({"boolValue": b}),
        V::Int(i) => json!({"intValue": i.to_string()}),
        V::Float(f) => json!({"doubleValue": float_json(*f)}),
        V::Str(s) => json!({"stringValue": s}),
        V::Array(a) => json!({"arrayValue": {"values": a.iter().map(traceql_value_json).collect::<Vec<_>>()}}),
        other => json!({"stringValue": other.to_string()}),
    }
}

fn attrs_json(attrs: &[(String, seer_traceql::Value)]) -> Value {
    Value::Array(attrs.iter().map(|(k, v)| json!({"key": k, "value": traceql_value_json(v)})).collect())
}

/// A matched span in a search result.
fn span_json(s: &Span, extra: &[(String, seer_traceql::Value)]) -> Value {
    let mut m = Map::new();
    m.insert("spanID".into(), json!(hex_id(&s.span_id)));
    m.insert("name".into(), json!(s.name));
    m.insert("startTimeUnixNano".into(), json!(s.start_ns.to_string()));
    m.insert("durationNanos".into(), json!(s.duration_ns().to_string()));
    if !extra.is_empty() {
        m.insert("attributes".into(), attrs_json(extra));
    }
    Value::Object(m)
}

/// One search hit: the trace summary and its spansets (at most `spss` spans shown per set).
fn trace_hit_json(id: &TraceId, spans: &[Span], spansets: &[seer_traceql::SpanSet], spss: usize) -> Value {
    let sum = summarize(spans);
    let mut m = Map::new();
    m.insert("traceID".into(), json!(hex_id(id)));
    m.insert("rootServiceName".into(), json!(sum.root_service));
    if !sum.root_name.is_empty() {
        m.insert("rootTraceName".into(), json!(sum.root_name));
    }
    m.insert("startTimeUnixNano".into(), json!(sum.start_ns.to_string()));
    let ms = sum.duration_ns / 1_000_000;
    if ms > 0 {
        m.insert("durationMs".into(), json!(ms));
    }
    let sets: Vec<Value> = spansets
        .iter()
        .map(|set| {
            let spans_json: Vec<Value> = set
                .spans
                .iter()
                .take(spss)
                .filter_map(|ms| spans.get(ms.index).map(|s| span_json(s, &ms.attributes)))
                .collect();
            let mut sm = Map::new();
            sm.insert("spans".into(), Value::Array(spans_json));
            sm.insert("matched".into(), json!(set.matched()));
            if !set.attributes.is_empty() {
                sm.insert("attributes".into(), attrs_json(&set.attributes));
            }
            Value::Object(sm)
        })
        .collect();
    if let Some(first) = sets.first() {
        m.insert("spanSet".into(), first.clone());
    }
    m.insert("spanSets".into(), Value::Array(sets));
    // Spans and errors per service, as Tempo reports them (Grafana shows them per hit).
    let mut stats: std::collections::BTreeMap<&str, (u64, u64)> = std::collections::BTreeMap::new();
    for s in spans {
        let e = stats.entry(s.resource.service_name()).or_default();
        e.0 += 1;
        e.1 += u64::from(s.status == seer_model::trace::StatusCode::Error);
    }
    let stats: Map<String, Value> = stats
        .into_iter()
        .map(|(svc, (n, errors))| {
            let mut st = Map::new();
            st.insert("spanCount".into(), json!(n));
            if errors > 0 {
                st.insert("errorCount".into(), json!(errors));
            }
            (svc.to_string(), Value::Object(st))
        })
        .collect();
    m.insert("serviceStats".into(), Value::Object(stats));
    Value::Object(m)
}

/// A spanset of the given span indexes (for `tags=` searches and searches without a query).
fn plain_set(idx: impl Iterator<Item = usize>) -> seer_traceql::SpanSet {
    seer_traceql::SpanSet {
        spans: idx.map(|index| seer_traceql::MatchedSpan { index, attributes: Vec::new() }).collect(),
        attributes: Vec::new(),
    }
}

/// What a matching trace must hold, for the store's page filters: the equality conditions of
/// the TraceQL query and the `tags=` pairs.
fn required_keys(sp: &SearchParams) -> Vec<Vec<SearchKey>> {
    use seer_traceql::ast::{AttrScope, BinaryOp, Expr, Intrinsic};
    let mut out = Vec::new();
    if let Some(q) = &sp.query {
        for c in seer_traceql::conditions(q) {
            if c.op != BinaryOp::Eq {
                continue;
            }
            let value = match &c.value {
                seer_traceql::Static::Str(s) => AttrValue::Str(s.clone()),
                seer_traceql::Static::Int(i) => AttrValue::Int(*i),
                seer_traceql::Static::Bool(b) => AttrValue::Bool(*b),
                _ => continue,
            };
            let alts = match &c.field {
                Expr::Attribute(a) if a.scope == AttrScope::Span => {
                    vec![SearchKey::Span { key: a.name.clone(), value }]
                }
                Expr::Attribute(a) if a.scope == AttrScope::Resource => {
                    vec![SearchKey::Resource { key: a.name.clone(), value }]
                }
                Expr::Attribute(a) if a.scope == AttrScope::Unscoped => vec![
                    SearchKey::Span { key: a.name.clone(), value: value.clone() },
                    SearchKey::Resource { key: a.name.clone(), value },
                ],
                Expr::Intrinsic(Intrinsic::Name) => match value {
                    AttrValue::Str(n) => vec![SearchKey::Name(n)],
                    _ => continue,
                },
                _ => continue,
            };
            out.push(alts);
        }
    }
    for (k, v) in &sp.tags {
        let alts = match k.as_str() {
            "service.name" => vec![SearchKey::Resource { key: k.clone(), value: AttrValue::Str(v.clone()) }],
            "name" => vec![SearchKey::Name(v.clone())],
            // Legacy tags also match intrinsics (`status`, `error`): no pruning for those.
            "status" | "status.code" | "error" => continue,
            _ => {
                let mut values = vec![AttrValue::Str(v.clone())];
                if let Ok(i) = v.parse::<i64>() {
                    values.push(AttrValue::Int(i));
                }
                if let Ok(b) = v.parse::<bool>() {
                    values.push(AttrValue::Bool(b));
                }
                values
                    .into_iter()
                    .flat_map(|value| {
                        [
                            SearchKey::Span { key: k.clone(), value: value.clone() },
                            SearchKey::Resource { key: k.clone(), value },
                        ]
                    })
                    .collect()
            }
        };
        out.push(alts);
    }
    out
}

/// A search request, parsed.
pub(crate) struct SearchParams {
    query: Option<seer_traceql::Query>,
    tags: Vec<(String, String)>,
    min_ns: Option<u64>,
    max_ns: Option<u64>,
    start_ns: u64,
    end_ns: u64,
    limit: usize,
    spss: usize,
}

pub(crate) fn parse_search(p: &[(String, String)]) -> Result<SearchParams, Response> {
    let dur = |name: &str| -> Result<Option<u64>, Response> {
        match param(p, name) {
            None => Ok(None),
            Some(v) => go_duration_ns(v)
                .map(Some)
                .ok_or_else(|| bad_request(format!("invalid {name}: {v:?} is not a duration such as 100ms or 1.5s"))),
        }
    };
    let count = |name: &str, default: usize| -> Result<usize, Response> {
        match param(p, name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(bad_request(format!("invalid {name}: {v:?} must be a positive integer"))),
            },
        }
    };
    let query = match param(p, "q") {
        None => None,
        Some(q) => Some(seer_traceql::parse_and_validate(q).map_err(|e| bad_request(e.to_string()))?),
    };
    let tags = match param(p, "tags") {
        None => Vec::new(),
        Some(t) => logfmt_pairs(t).map_err(bad_request)?,
    };
    let start = seconds_param(p, "start")?.unwrap_or(0);
    let end = seconds_param(p, "end")?.map(|e| e.saturating_add(999_999_999)).unwrap_or(u64::MAX);
    if end < start {
        return Err(bad_request("invalid start and end: end must not be before start"));
    }
    Ok(SearchParams {
        query,
        tags,
        min_ns: dur("minDuration")?,
        max_ns: dur("maxDuration")?,
        start_ns: start,
        end_ns: end,
        limit: count("limit", 20)?.min(10_000),
        spss: count("spss", 3)?,
    })
}

pub(crate) async fn search(State(s): State<Arc<AppState>>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let p = params(&q);
    let sp = match parse_search(&p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let db = match tenant_db(&s, &headers) {
        Ok(Some(db)) => db,
        Ok(None) => {
            return axum::Json(
                json!({"traces": [], "metrics": {"inspectedTraces": 0, "completedJobs": 1, "totalJobs": 1}}),
            )
            .into_response();
        }
        Err(r) => return r,
    };
    let res = blocking(move || {
        let mut hits = Vec::new();
        let mut inspected = 0u64;
        let mut err = None;
        let required = required_keys(&sp);
        db.search(sp.start_ns, sp.end_ns, &required, &mut |t| {
            inspected += 1;
            let sum = summarize(&t.spans);
            if sp.min_ns.is_some_and(|m| sum.duration_ns < m) || sp.max_ns.is_some_and(|m| sum.duration_ns > m) {
                return true;
            }
            let mut sets: Vec<seer_traceql::SpanSet> = Vec::new();
            if !sp.tags.is_empty() {
                let idx: Vec<usize> = (0..t.spans.len())
                    .filter(|&i| sp.tags.iter().all(|(k, v)| span_has_tag(&t.spans[i], k, v)))
                    .collect();
                if idx.is_empty() {
                    return true;
                }
                sets.push(plain_set(idx.into_iter()));
            }
            if let Some(q) = &sp.query {
                match seer_traceql::eval(q, &t.spans) {
                    Ok(found) => {
                        if found.is_empty() {
                            return true;
                        }
                        sets.extend(found);
                    }
                    Err(e) => {
                        err = Some(e.to_string());
                        return false;
                    }
                }
            }
            if sets.is_empty() {
                sets.push(plain_set(0..t.spans.len()));
            }
            hits.push((sum.start_ns, trace_hit_json(&t.id, &t.spans, &sets, sp.spss)));
            hits.len() < sp.limit
        })
        .map_err(|e| e.to_string())?;
        if let Some(e) = err {
            return Ok(Err(e));
        }
        // Most recent first, as Tempo.
        hits.sort_by_key(|x| std::cmp::Reverse(x.0));
        Ok(Ok((hits.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), inspected)))
    })
    .await;
    match res {
        Ok(Ok((traces, inspected))) => axum::Json(json!({
            "traces": traces,
            "metrics": {"inspectedTraces": inspected, "completedJobs": 1, "totalJobs": 1}
        }))
        .into_response(),
        Ok(Err(e)) => bad_request(e),
        Err(r) => r,
    }
}

// ---- TraceQL metrics ---------------------------------------------------------------------------

/// A time parameter of the metrics APIs: Unix seconds, or nanoseconds when above 1e12.
fn time_param(p: &[(String, String)], name: &str) -> Result<Option<u64>, Response> {
    match param(p, name) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 1_000_000_000_000 => Ok(Some(n)),
            Ok(n) => Ok(Some(n.saturating_mul(1_000_000_000))),
            Err(_) => Err(bad_request(format!("invalid {name}: {v:?} is not Unix seconds or nanoseconds"))),
        },
    }
}

fn prom_labels(labels: &[(String, seer_traceql::Value)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={:?}", v.to_string())).collect();
    format!("{{{}}}", inner.join(", "))
}

/// `/api/metrics/query_range` (`instant = false`) and `/api/metrics/query`.
async fn metrics(s: &AppState, q: &Option<String>, headers: &HeaderMap, instant: bool) -> Response {
    let p = params(q);
    let Some(text) = param(&p, "q").or(param(&p, "query")) else {
        return bad_request("missing parameter q (a TraceQL metrics query)");
    };
    let query = match seer_traceql::parse_and_validate(text) {
        Ok(q) => q,
        Err(e) => return bad_request(e.to_string()),
    };
    if query.metrics.is_none() {
        return bad_request("not a metrics query: add a metrics function such as | rate() or | count_over_time()");
    }
    let now = crate::now_ms() as u64 * 1_000_000;
    let (start, end) = match (time_param(&p, "start"), time_param(&p, "end")) {
        (Ok(a), Ok(b)) => (a.unwrap_or(now.saturating_sub(3_600_000_000_000)), b.unwrap_or(now)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if end <= start {
        return bad_request("invalid start and end: end must be after start");
    }
    let step = if instant {
        end - start
    } else {
        match param(&p, "step") {
            None => ((end - start) / 100).max(1_000_000_000),
            Some(v) => match go_duration_ns(v).or_else(|| v.parse::<f64>().ok().map(|x| (x * 1e9) as u64)) {
                Some(ns) if ns > 0 => ns,
                _ => return bad_request(format!("invalid step: {v:?} is not a duration such as 60s")),
            },
        }
    };
    let req = seer_traceql::MetricsRequest { start_ns: start, end_ns: end, step_ns: step };
    let mut eval = match seer_traceql::MetricsEvaluator::new(&query, &req) {
        Ok(e) => e,
        Err(e) => return bad_request(e.to_string()),
    };
    let db = match tenant_db(s, headers) {
        Ok(db) => db,
        Err(r) => return r,
    };
    let sp = SearchParams {
        query: Some(query),
        tags: Vec::new(),
        min_ns: None,
        max_ns: None,
        start_ns: start,
        end_ns: end,
        limit: usize::MAX,
        spss: 0,
    };
    let res = blocking(move || {
        let mut err = None;
        let mut inspected = 0u64;
        if let Some(db) = db {
            let required = required_keys(&sp);
            db.search(start, end, &required, &mut |t| {
                inspected += 1;
                match eval.observe(&t.spans) {
                    Ok(()) => true,
                    Err(e) => {
                        err = Some(e.to_string());
                        false
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        }
        Ok(match err {
            Some(e) => Err(e),
            None => Ok((eval.finish(), inspected)),
        })
    })
    .await;
    let (series, inspected) = match res {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return (StatusCode::UNPROCESSABLE_ENTITY, e).into_response(),
        Err(r) => return r,
    };
    let out: Vec<Value> = series
        .iter()
        .map(|ser| {
            let mut m = Map::new();
            m.insert("labels".into(), attrs_json(&ser.labels));
            m.insert("promLabels".into(), json!(prom_labels(&ser.labels)));
            if instant {
                m.insert("value".into(), float_json(ser.samples.first().map_or(0.0, |x| x.1)));
            } else {
                let samples: Vec<Value> = ser
                    .samples
                    .iter()
                    .map(|(t, v)| json!({"timestampMs": (t / 1_000_000).to_string(), "value": float_json(*v)}))
                    .collect();
                m.insert("samples".into(), Value::Array(samples));
                let ex: Vec<Value> = ser
                    .exemplars
                    .iter()
                    .map(|(t, v, id)| {
                        json!({
                            "labels": [{"key": "trace:id", "value": {"stringValue": hex_id(id)}}],
                            "value": float_json(*v),
                            "timestampMs": (t / 1_000_000).to_string(),
                        })
                    })
                    .collect();
                if !ex.is_empty() {
                    m.insert("exemplars".into(), Value::Array(ex));
                }
            }
            Value::Object(m)
        })
        .collect();
    axum::Json(json!({"series": out, "metrics": {"inspectedTraces": inspected, "completedJobs": 1, "totalJobs": 1}}))
        .into_response()
}

pub(crate) async fn metrics_query_range(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    metrics(&s, &q, &headers, false).await
}

pub(crate) async fn metrics_query(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    metrics(&s, &q, &headers, true).await
}

// ---- tags --------------------------------------------------------------------------------------

fn scope_name(s: TagScope) -> &'static str {
    match s {
        TagScope::Resource => "resource",
        TagScope::Span => "span",
        TagScope::Intrinsic => "intrinsic",
    }
}

/// TraceQL intrinsics Tempo lists in the `intrinsic` scope.
const INTRINSICS: &[&str] =
    &["duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration"];

async fn dictionary(
    s: &AppState,
    headers: &HeaderMap,
    p: &[(String, String)],
) -> Result<seer_tracestore::Dictionary, Response> {
    let start = seconds_param(p, "start")?.unwrap_or(0);
    let end = seconds_param(p, "end")?.map(|e| e.saturating_add(999_999_999)).unwrap_or(u64::MAX);
    let Some(db) = tenant_db(s, headers)? else { return Ok(Default::default()) };
    blocking(move || Ok(db.dictionary(start, end))).await
}

pub(crate) async fn tags_v1(State(s): State<Arc<AppState>>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let p = params(&q);
    let d = match dictionary(&s, &headers, &p).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let names: BTreeSet<&str> =
        d.tags.keys().filter(|(sc, _)| *sc != TagScope::Intrinsic).map(|(_, k)| k.as_str()).collect();
    axum::Json(json!({"tagNames": names})).into_response()
}

pub(crate) async fn tags_v2(State(s): State<Arc<AppState>>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let p = params(&q);
    let want = param(&p, "scope").unwrap_or("all");
    if !["all", "resource", "span", "intrinsic", "event", "link", "instrumentation"].contains(&want) {
        return bad_request(format!("invalid scope {want:?}: expected resource, span, intrinsic or all"));
    }
    let d = match dictionary(&s, &headers, &p).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut scopes = Vec::new();
    for sc in [TagScope::Resource, TagScope::Span] {
        let name = scope_name(sc);
        if want != "all" && want != name {
            continue;
        }
        let tags: Vec<&str> = d.tags.keys().filter(|(x, _)| *x == sc).map(|(_, k)| k.as_str()).collect();
        scopes.push(json!({"name": name, "tags": tags}));
    }
    if want == "all" || want == "intrinsic" {
        scopes.push(json!({"name": "intrinsic", "tags": INTRINSICS}));
    }
    axum::Json(json!({"scopes": scopes})).into_response()
}

/// Which dictionary entries a tag name (`service.name`, `span.http.method`, `resource.x`,
/// `.x`, `name`, `status`) refers to.
fn tag_lookup(tag: &str) -> Vec<(TagScope, String)> {
    if let Some(k) = tag.strip_prefix("resource.") {
        return vec![(TagScope::Resource, k.to_string())];
    }
    if let Some(k) = tag.strip_prefix("span.") {
        return vec![(TagScope::Span, k.to_string())];
    }
    if let Some(k) = tag.strip_prefix('.') {
        return vec![(TagScope::Span, k.to_string()), (TagScope::Resource, k.to_string())];
    }
    match tag {
        "name" | "status" | "kind" => vec![(TagScope::Intrinsic, tag.to_string())],
        "rootServiceName" => vec![(TagScope::Resource, "service.name".to_string())],
        "rootName" => vec![(TagScope::Intrinsic, "name".to_string())],
        _ => vec![(TagScope::Span, tag.to_string()), (TagScope::Resource, tag.to_string())],
    }
}

pub(crate) async fn tag_values_v1(
    State(s): State<Arc<AppState>>,
    Path(tag): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = params(&q);
    let d = match dictionary(&s, &headers, &p).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut values = BTreeSet::new();
    for k in tag_lookup(&tag) {
        if let Some(v) = d.tags.get(&k) {
            values.extend(v.iter().map(|x| x.value.clone()));
        }
    }
    axum::Json(json!({"tagValues": values})).into_response()
}

pub(crate) async fn tag_values_v2(
    State(s): State<Arc<AppState>>,
    Path(tag): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = params(&q);
    if let Some(q) = param(&p, "q")
        && let Err(e) = seer_traceql::parse_and_validate(q)
    {
        return bad_request(e.to_string());
    }
    let d = match dictionary(&s, &headers, &p).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut values = BTreeSet::new();
    for k in tag_lookup(&tag) {
        if let Some(v) = d.tags.get(&k) {
            values.extend(v.iter().cloned());
        }
    }
    let list: Vec<Value> = values.into_iter().map(|v| json!({"type": v.kind, "value": v.value})).collect();
    axum::Json(json!({"tagValues": list, "metrics": {}})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_logfmt() {
        assert_eq!(go_duration_ns("1.5s"), Some(1_500_000_000));
        assert_eq!(go_duration_ns("2h45m"), Some(9_900_000_000_000));
        assert_eq!(go_duration_ns("100ms"), Some(100_000_000));
        assert_eq!(go_duration_ns("12"), None);
        assert_eq!(go_duration_ns("ms"), None);
        assert_eq!(
            logfmt_pairs(r#"service.name=api http.url="/a b" x=1"#).unwrap(),
            vec![("service.name".into(), "api".into()), ("http.url".into(), "/a b".into()), ("x".into(), "1".into())]
        );
        assert!(logfmt_pairs("novalue").is_err());
        // Escapes of multi-byte characters, and text after them.
        assert_eq!(
            logfmt_pairs("a=\"\\é x\" b=ü").unwrap(),
            vec![("a".into(), "é x".into()), ("b".into(), "ü".into())]
        );
        for junk in ["a=\"\\", "=", "a=\"é", "\\é=\"\\é\"", "a=\"\\\u{10348}\""] {
            let _ = logfmt_pairs(junk);
        }
        assert!(logfmt_pairs("a=\"open").is_err());
    }
}
