//! The Jaeger query HTTP API (v1 JSON, as the Jaeger UI and Grafana's Jaeger data source call
//! it), served under `/jaeger`: services, operations, trace search, trace by id, and service
//! dependencies.
//!
//! Spans are shown as Jaeger's OTLP translator shows them: span kind, status and scope as
//! `span.kind`, `otel.status_code`, `error`, `otel.scope.name` tags; events as logs (the name
//! in an `event` field); the parent as a `CHILD_OF` reference and links as `FOLLOWS_FROM`;
//! the resource as the process. Times are in microseconds.
//!
//! Search follows Jaeger's storage semantics: a trace matches when one of its spans has the
//! service, the operation, a duration in range, a start in range, and every tag somewhere on
//! that span (its attributes, events, links, scope or resource).

use crate::AppState;
use crate::tempo::{blocking, go_duration_ns, param, params, tenant_db, value_text};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seer_encoding::base64_encode;
use seer_model::trace::{Attr, AttrValue, Span, SpanKind, StatusCode as SpanStatus, TraceId, parse_trace_id};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn envelope(data: Value, total: usize) -> Response {
    axum::Json(json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null})).into_response()
}

fn error(code: StatusCode, msg: impl Into<String>) -> Response {
    let msg = msg.into();
    (
        code,
        axum::Json(
            json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": code.as_u16(), "msg": msg}]}),
        ),
    )
        .into_response()
}

/// Jaeger's trace id text: 16 hex digits when the high half is zero, else 32.
fn trace_id_text(id: &TraceId) -> String {
    let h = seer_model::trace::hex_id(id);
    if id[..8] == [0; 8] { h[16..].to_string() } else { h }
}

fn tag(key: &str, v: &AttrValue) -> Value {
    match v {
        AttrValue::Str(s) => json!({"key": key, "type": "string", "value": s}),
        AttrValue::Bool(b) => json!({"key": key, "type": "bool", "value": b}),
        AttrValue::Int(i) => {
            // Beyond 2^53 a JSON number loses digits in JavaScript: Jaeger writes a string.
            if i.unsigned_abs() > (1u64 << 53) {
                json!({"key": key, "type": "int64", "value": i.to_string()})
            } else {
                json!({"key": key, "type": "int64", "value": i})
            }
        }
        AttrValue::Float(f) => json!({"key": key, "type": "float64", "value": f}),
        AttrValue::Bytes(b) => json!({"key": key, "type": "binary", "value": base64_encode(b)}),
        AttrValue::Empty => json!({"key": key, "type": "string", "value": ""}),
        AttrValue::Array(_) | AttrValue::Map(_) => {
            json!({"key": key, "type": "string", "value": seer_ingest_json(v).to_string()})
        }
    }
}

/// Arrays and maps as JSON text (Jaeger's translator writes them that way).
fn seer_ingest_json(v: &AttrValue) -> Value {
    match v {
        AttrValue::Str(s) => json!(s),
        AttrValue::Bool(b) => json!(b),
        AttrValue::Int(i) => json!(i),
        AttrValue::Float(f) => json!(f),
        AttrValue::Bytes(b) => json!(base64_encode(b)),
        AttrValue::Empty => Value::Null,
        AttrValue::Array(a) => Value::Array(a.iter().map(seer_ingest_json).collect()),
        AttrValue::Map(m) => Value::Object(m.iter().map(|a| (a.key.clone(), seer_ingest_json(&a.value))).collect()),
    }
}

fn tags(attrs: &[Attr]) -> Vec<Value> {
    attrs.iter().map(|a| tag(&a.key, &a.value)).collect()
}

/// A trace in Jaeger's UI JSON.
pub(crate) fn trace_json(id: &TraceId, spans: &[Span]) -> Value {
    // Processes: one per distinct resource, numbered in first-seen order.
    let mut processes: Vec<&Arc<seer_model::trace::Resource>> = Vec::new();
    let mut out_spans = Vec::with_capacity(spans.len());
    let tid = trace_id_text(id);
    for s in spans {
        let pi = match processes.iter().position(|r| Arc::ptr_eq(r, &s.resource) || ***r == *s.resource) {
            Some(i) => i,
            None => {
                processes.push(&s.resource);
                processes.len() - 1
            }
        };
        let mut refs = Vec::new();
        if !s.is_root() {
            refs.push(
                json!({"refType": "CHILD_OF", "traceID": tid, "spanID": seer_model::trace::hex_id(&s.parent_span_id)}),
            );
        }
        for l in &s.links {
            refs.push(json!({"refType": "FOLLOWS_FROM", "traceID": trace_id_text(&l.trace_id), "spanID": seer_model::trace::hex_id(&l.span_id)}));
        }
        let mut t = tags(&s.attrs);
        if !s.scope.name.is_empty() {
            t.push(tag("otel.scope.name", &AttrValue::Str(s.scope.name.clone())));
        }
        if !s.scope.version.is_empty() {
            t.push(tag("otel.scope.version", &AttrValue::Str(s.scope.version.clone())));
        }
        if s.kind != SpanKind::Unspecified {
            t.push(tag("span.kind", &AttrValue::Str(s.kind.traceql_name().into())));
        }
        match s.status {
            SpanStatus::Ok => t.push(tag("otel.status_code", &AttrValue::Str("OK".into()))),
            SpanStatus::Error => {
                t.push(tag("otel.status_code", &AttrValue::Str("ERROR".into())));
                t.push(tag("error", &AttrValue::Bool(true)));
            }
            SpanStatus::Unset => {}
        }
        if !s.status_message.is_empty() {
            t.push(tag("otel.status_description", &AttrValue::Str(s.status_message.clone())));
        }
        if !s.trace_state.is_empty() {
            t.push(tag("w3c.tracestate", &AttrValue::Str(s.trace_state.clone())));
        }
        let logs: Vec<Value> = s
            .events
            .iter()
            .map(|e| {
                let mut f = Vec::with_capacity(e.attrs.len() + 1);
                if !e.name.is_empty() {
                    f.push(tag("event", &AttrValue::Str(e.name.clone())));
                }
                f.extend(tags(&e.attrs));
                json!({"timestamp": e.time_ns / 1000, "fields": f})
            })
            .collect();
        out_spans.push(json!({
            "traceID": tid,
            "spanID": seer_model::trace::hex_id(&s.span_id),
            "flags": s.flags,
            "operationName": s.name,
            "references": refs,
            "startTime": s.start_ns / 1000,
            "duration": s.duration_ns() / 1000,
            "tags": t,
            "logs": logs,
            "processID": format!("p{}", pi + 1),
            "warnings": null,
        }));
    }
    let procs: serde_json::Map<String, Value> = processes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let other: Vec<Value> =
                r.attrs.iter().filter(|a| a.key != "service.name").map(|a| tag(&a.key, &a.value)).collect();
            (format!("p{}", i + 1), json!({"serviceName": r.service_name(), "tags": other}))
        })
        .collect();
    json!({"traceID": tid, "spans": out_spans, "processes": procs, "warnings": null})
}

pub(crate) async fn trace(State(s): State<Arc<AppState>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Some(tid) = parse_trace_id(&id) else {
        return error(StatusCode::BAD_REQUEST, format!("cannot parse traceID param: {id:?} is not a hex trace id"));
    };
    let db = match tenant_db(&s, &headers) {
        Ok(Some(db)) => db,
        Ok(None) => return error(StatusCode::NOT_FOUND, "trace not found"),
        Err(r) => return r,
    };
    match blocking(move || db.trace(&tid).map_err(|e| e.to_string())).await {
        Ok(Some(spans)) => envelope(json!([trace_json(&tid, &spans)]), 0),
        Ok(None) => error(StatusCode::NOT_FOUND, "trace not found"),
        Err(r) => r,
    }
}

pub(crate) async fn services(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let db = match tenant_db(&s, &headers) {
        Ok(Some(db)) => db,
        Ok(None) => return envelope(json!([]), 0),
        Err(r) => return r,
    };
    match blocking(move || Ok(db.dictionary(0, u64::MAX))).await {
        Ok(d) => {
            let names: BTreeSet<&str> = d.operations.iter().map(|(s, _, _)| s.as_str()).collect();
            let n = names.len();
            envelope(json!(names), n)
        }
        Err(r) => r,
    }
}

fn kind_from_text(k: &str) -> Option<u8> {
    Some(match k {
        "" => return None,
        "unspecified" => 0,
        "internal" => 1,
        "server" => 2,
        "client" => 3,
        "producer" => 4,
        "consumer" => 5,
        _ => return Some(u8::MAX),
    })
}

async fn operation_list(
    s: &AppState,
    headers: &HeaderMap,
    service: String,
    kind: Option<u8>,
) -> Result<Vec<(String, u8)>, Response> {
    let Some(db) = tenant_db(s, headers)? else { return Ok(Vec::new()) };
    let d = blocking(move || Ok(db.dictionary(0, u64::MAX))).await?;
    Ok(d.operations
        .into_iter()
        .filter(|(svc, _, k)| *svc == service && kind.is_none_or(|want| want == *k))
        .map(|(_, n, k)| (n, k))
        .collect())
}

pub(crate) async fn service_operations(
    State(s): State<Arc<AppState>>,
    Path(service): Path<String>,
    headers: HeaderMap,
) -> Response {
    match operation_list(&s, &headers, service, None).await {
        Ok(ops) => {
            let names: BTreeSet<String> = ops.into_iter().map(|(n, _)| n).collect();
            let n = names.len();
            envelope(json!(names), n)
        }
        Err(r) => r,
    }
}

pub(crate) async fn operations(State(s): State<Arc<AppState>>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let p = params(&q);
    let Some(service) = param(&p, "service") else {
        return error(StatusCode::BAD_REQUEST, "parameter 'service' is required");
    };
    let kind = kind_from_text(param(&p, "spanKind").unwrap_or(""));
    if kind == Some(u8::MAX) {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported spanKind: expected server, client, producer, consumer or internal",
        );
    }
    match operation_list(&s, &headers, service.to_string(), kind).await {
        Ok(ops) => {
            let list: Vec<Value> = ops
                .iter()
                .map(|(n, k)| {
                    let kind = if *k == 0 { "" } else { SpanKind::from_i32(*k as i32).traceql_name() };
                    json!({"name": n, "spanKind": kind})
                })
                .collect();
            let n = list.len();
            envelope(Value::Array(list), n)
        }
        Err(r) => r,
    }
}

/// A Jaeger trace search.
#[derive(Clone, Debug, Default)]
pub(crate) struct JaegerQuery {
    pub service: String,
    pub operation: Option<String>,
    pub tags: Vec<(String, String)>,
    pub start_min_ns: u64,
    pub start_max_ns: u64,
    pub duration_min_ns: Option<u64>,
    pub duration_max_ns: Option<u64>,
    pub limit: usize,
}

fn has_tag(attrs: &[Attr], key: &str, value: &str) -> bool {
    attrs.iter().any(|a| a.key == key && value_text(&a.value).is_some_and(|t| t == value))
}

/// Whether one span satisfies the whole query (Jaeger's per-span semantics).
pub(crate) fn span_matches(q: &JaegerQuery, s: &Span) -> bool {
    if s.resource.service_name() != q.service {
        return false;
    }
    if q.operation.as_ref().is_some_and(|o| *o != s.name) {
        return false;
    }
    if s.start_ns < q.start_min_ns || s.start_ns > q.start_max_ns {
        return false;
    }
    let d = s.duration_ns();
    if q.duration_min_ns.is_some_and(|m| d < m) || q.duration_max_ns.is_some_and(|m| d > m) {
        return false;
    }
    q.tags.iter().all(|(k, v)| {
        has_tag(&s.attrs, k, v)
            || s.events.iter().any(|e| has_tag(&e.attrs, k, v))
            || s.links.iter().any(|l| has_tag(&l.attrs, k, v))
            || has_tag(&s.scope.attrs, k, v)
            || has_tag(&s.resource.attrs, k, v)
            || (k == "otel.scope.name" && s.scope.name == *v)
            || (k == "otel.scope.version" && s.scope.version == *v)
            || (k == "span.kind" && s.kind.traceql_name() == v)
            || (k == "error" && v == "true" && s.status == SpanStatus::Error)
    })
}

/// Runs a search; returns the matching traces, most recent first.
pub(crate) fn find_traces(db: &seer_tracestore::TraceDb, q: &JaegerQuery) -> Result<Vec<(TraceId, Vec<Span>)>, String> {
    let mut out: Vec<(u64, TraceId, Vec<Span>)> = Vec::new();
    // Pages without the service (or the operation) are not read; tags may sit on events,
    // links or scopes, which the page filters do not hold.
    let mut required = vec![vec![seer_tracestore::SearchKey::Resource {
        key: "service.name".into(),
        value: AttrValue::Str(q.service.clone()),
    }]];
    if let Some(op) = &q.operation {
        required.push(vec![seer_tracestore::SearchKey::Name(op.clone())]);
    }
    let end = q.start_max_ns.saturating_add(q.duration_max_ns.unwrap_or(u64::MAX / 2));
    db.search(q.start_min_ns, end, &required, &mut |t| {
        if t.spans.iter().any(|s| span_matches(q, s)) {
            let start = t.spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
            out.push((start, t.id, t.spans));
        }
        out.len() < q.limit
    })
    .map_err(|e| e.to_string())?;
    out.sort_by_key(|x| std::cmp::Reverse(x.0));
    Ok(out.into_iter().map(|(_, id, s)| (id, s)).collect())
}

fn micros(p: &[(String, String)], name: &str) -> Result<Option<u64>, Response> {
    match param(p, name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(|x| Some(x.saturating_mul(1000))).map_err(|_| {
            error(StatusCode::BAD_REQUEST, format!("unable to parse param '{name}': {v:?} is not microseconds"))
        }),
    }
}

pub(crate) fn parse_query(p: &[(String, String)]) -> Result<JaegerQuery, Response> {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, m);
    let Some(service) = param(p, "service") else {
        return Err(bad("parameter 'service' is required".into()));
    };
    let now = crate::now_ms() as u64 * 1_000_000;
    let end = micros(p, "end")?.unwrap_or(now);
    let lookback = match param(p, "lookback") {
        Some(l) if l != "custom" => {
            go_duration_ns(l).ok_or_else(|| bad(format!("unable to parse param 'lookback': {l:?}")))?
        }
        _ => 2 * 86_400_000_000_000,
    };
    let start = micros(p, "start")?.unwrap_or(end.saturating_sub(lookback));
    let dur = |name: &str| -> Result<Option<u64>, Response> {
        match param(p, name) {
            None => Ok(None),
            Some(v) => go_duration_ns(v)
                .map(Some)
                .ok_or_else(|| bad(format!("unable to parse param '{name}': {v:?} is not a duration such as 100ms"))),
        }
    };
    let mut tags = Vec::new();
    if let Some(t) = param(p, "tags") {
        let v: serde_json::Map<String, Value> = serde_json::from_str(t)
            .map_err(|e| bad(format!("malformed 'tags' parameter: expected a JSON object of strings: {e}")))?;
        for (k, v) in v {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            tags.push((k, text));
        }
    }
    for (k, v) in p.iter().filter(|(k, _)| k == "tag") {
        let Some((a, b)) = v.split_once(':') else {
            return Err(bad(format!("malformed 'tag' parameter {v:?}: expected key:value")));
        };
        let _ = k;
        tags.push((a.to_string(), b.to_string()));
    }
    let limit = match param(p, "limit") {
        None => 100,
        Some(v) => {
            v.parse::<usize>().map_err(|_| bad(format!("unable to parse param 'limit': {v:?}")))?.clamp(1, 10_000)
        }
    };
    let operation = param(p, "operation").map(str::to_string);
    Ok(JaegerQuery {
        service: service.to_string(),
        operation,
        tags,
        start_min_ns: start,
        start_max_ns: end,
        duration_min_ns: dur("minDuration")?,
        duration_max_ns: dur("maxDuration")?,
        limit,
    })
}

pub(crate) async fn search(State(s): State<Arc<AppState>>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let p = params(&q);
    let query = match parse_query(&p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let db = match tenant_db(&s, &headers) {
        Ok(Some(db)) => db,
        Ok(None) => return envelope(json!([]), 0),
        Err(r) => return r,
    };
    match blocking(move || find_traces(&db, &query)).await {
        Ok(found) => {
            let list: Vec<Value> = found.iter().map(|(id, spans)| trace_json(id, spans)).collect();
            let n = list.len();
            envelope(Value::Array(list), n)
        }
        Err(r) => r,
    }
}

/// Service dependencies (`endTs`, `lookback` in ms): parent → child service call counts,
/// from spans whose parent span belongs to another service.
pub(crate) async fn dependencies(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = params(&q);
    let ms = |name: &str, default: u64| -> Result<u64, Response> {
        match param(&p, name) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().map_err(|_| {
                error(StatusCode::BAD_REQUEST, format!("unable to parse param '{name}': {v:?} is not milliseconds"))
            }),
        }
    };
    let end = match ms("endTs", crate::now_ms() as u64) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let lookback = match ms("lookback", 86_400_000) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let db = match tenant_db(&s, &headers) {
        Ok(Some(db)) => db,
        Ok(None) => return envelope(json!([]), 0),
        Err(r) => return r,
    };
    let start_ns = end.saturating_sub(lookback).saturating_mul(1_000_000);
    let end_ns = end.saturating_mul(1_000_000);
    let res = blocking(move || {
        let mut edges: BTreeMap<(String, String), u64> = BTreeMap::new();
        db.scan(start_ns, end_ns, &mut |t| {
            let by_id: std::collections::HashMap<[u8; 8], &Span> = t.spans.iter().map(|s| (s.span_id, s)).collect();
            for s in &t.spans {
                if let Some(parent) = by_id.get(&s.parent_span_id) {
                    let (a, b) = (parent.resource.service_name(), s.resource.service_name());
                    if a != b {
                        *edges.entry((a.to_string(), b.to_string())).or_default() += 1;
                    }
                }
            }
            true
        })
        .map_err(|e| e.to_string())?;
        Ok(edges)
    })
    .await;
    match res {
        Ok(edges) => {
            let list: Vec<Value> =
                edges.into_iter().map(|((p, c), n)| json!({"parent": p, "child": c, "callCount": n})).collect();
            let n = list.len();
            envelope(Value::Array(list), n)
        }
        Err(r) => r,
    }
}
