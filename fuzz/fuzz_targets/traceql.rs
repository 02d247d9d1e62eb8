//! TraceQL: parse, print and re-parse (the printer must produce the same tree), validate,
//! then evaluate the query over a tiny fixed trace with events, links and an array attribute
//! (metrics queries with the metrics evaluator).
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use seer_model::trace::{Attr, AttrValue, Resource, Scope, Span, SpanEvent, SpanKind, SpanLink, StatusCode};

fn span(id: u8, parent: u8, name: &str, kind: SpanKind, start: u64, end: u64, service: &str) -> Span {
    let sid = |n: u8| if n == 0 { [0; 8] } else { [0, 0, 0, 0, 0, 0, 0, n] };
    Span {
        trace_id: [7; 16],
        span_id: sid(id),
        parent_span_id: sid(parent),
        trace_state: String::new(),
        flags: 0,
        name: name.to_string(),
        kind,
        start_ns: start,
        end_ns: end,
        attrs: vec![
            Attr::new("http.status_code", AttrValue::Int(200 + i64::from(id))),
            Attr::new("a", AttrValue::Str(name.to_string())),
            Attr::new("f", AttrValue::Float(f64::from(id) / 2.0)),
            Attr::new("b", AttrValue::Bool(id.is_multiple_of(2))),
            Attr::new("arr", AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Str("x".into())])),
        ],
        dropped_attrs: 0,
        events: vec![SpanEvent {
            time_ns: start + 5,
            name: "exception".into(),
            attrs: vec![Attr::new("a", AttrValue::Str("boom".into()))],
            dropped_attrs: 0,
        }],
        dropped_events: 0,
        links: vec![SpanLink {
            trace_id: [8; 16],
            span_id: sid(1),
            trace_state: String::new(),
            attrs: vec![Attr::new("a", AttrValue::Int(1))],
            dropped_attrs: 0,
            flags: 0,
        }],
        dropped_links: 0,
        status: if id == 3 { StatusCode::Error } else { StatusCode::Ok },
        status_message: String::new(),
        resource: Arc::new(Resource {
            attrs: vec![Attr::new("service.name", AttrValue::Str(service.into()))],
            ..Default::default()
        }),
        scope: Arc::new(Scope { name: "lib".into(), version: "1".into(), ..Default::default() }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(q) = seer_traceql::parse(s) else { return };
    let printed = q.to_string();
    let again = seer_traceql::parse(&printed);
    assert_eq!(again.as_ref(), Ok(&q), "printed form differs: {s:?} -> {printed:?}");
    let _ = seer_traceql::validate(&q);
    let _ = seer_traceql::conditions(&q);
    let spans = vec![
        span(1, 0, "root", SpanKind::Server, 1_000, 9_000, "frontend"),
        span(2, 1, "call", SpanKind::Client, 2_000, 8_000, "frontend"),
        span(3, 2, "handle", SpanKind::Server, 2_500, 7_500, "backend"),
        span(4, 3, "db", SpanKind::Client, 3_000, 4_000, "backend"),
        span(5, 1, "render", SpanKind::Internal, 8_000, 8_500, "frontend"),
        span(6, 42, "orphan", SpanKind::Consumer, 500, 600, "queue"),
    ];
    let _ = seer_traceql::eval_pipeline(&q.pipeline, &spans);
    // Metrics queries: evaluate over a small range of steps (validated queries only, as the
    // API does).
    if q.metrics.is_some() && seer_traceql::validate(&q).is_ok() {
        let req = seer_traceql::MetricsRequest { start_ns: 0, end_ns: 10_000, step_ns: 1_000 };
        if let Ok(mut m) = seer_traceql::MetricsEvaluator::new(&q, &req) {
            let _ = m.observe(&spans);
            let _ = m.observe(&spans[2..]);
            let _ = m.finish();
        }
    }
});
