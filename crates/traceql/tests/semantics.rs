//! TraceQL semantics over hand-built traces. Every expectation was written from Tempo's
//! documentation (construct-traceql-queries: spanset filters, arrays, nil, structural, union
//! structural and experimental operators, aggregates, grouping, selection), not by running
//! this crate.
//!
//! Expected results are written as `spanset | spanset`; a spanset is its span keys in trace
//! order (a key followed by `[k=v,...]` when `select()` attached fields), then ` ; ` and the
//! spanset attributes (`by(...)=value`, `count()=n`, ...). An empty string means no match.

use std::sync::Arc;

use seer_model::trace::{Attr, AttrValue, Resource, Scope, Span, SpanEvent, SpanKind, SpanLink, StatusCode, TraceId};
use seer_traceql::{EvalError, SpanSet, eval, parse_and_validate};

const T0: u64 = 1_700_000_000_000_000_000;

fn ms(x: u64) -> u64 {
    T0 + x * 1_000_000
}

fn s(k: &str, v: &str) -> Attr {
    Attr::new(k, AttrValue::Str(v.to_string()))
}
fn i(k: &str, v: i64) -> Attr {
    Attr::new(k, AttrValue::Int(v))
}
fn f(k: &str, v: f64) -> Attr {
    Attr::new(k, AttrValue::Float(v))
}
fn b(k: &str, v: bool) -> Attr {
    Attr::new(k, AttrValue::Bool(v))
}

fn resource(attrs: Vec<Attr>) -> Arc<Resource> {
    Arc::new(Resource { attrs, ..Default::default() })
}

fn scope(name: &str, version: &str, attrs: Vec<Attr>) -> Arc<Scope> {
    Arc::new(Scope { name: name.to_string(), version: version.to_string(), attrs, ..Default::default() })
}

fn span_id(n: u8) -> [u8; 8] {
    if n == 0 { [0; 8] } else { [0, 0, 0, 0, 0, 0, 0, n] }
}

/// One trace: its spans and the key each span is known by in expectations.
struct Trace {
    keys: Vec<&'static str>,
    spans: Vec<Span>,
}

struct SpanDef {
    key: &'static str,
    id: u8,
    parent: u8,
    name: &'static str,
    kind: SpanKind,
    start: u64,
    end: u64,
    status: StatusCode,
    message: &'static str,
    attrs: Vec<Attr>,
    resource: Arc<Resource>,
    scope: Arc<Scope>,
}

impl SpanDef {
    #[allow(clippy::too_many_arguments)]
    fn new(
        key: &'static str,
        id: u8,
        parent: u8,
        name: &'static str,
        kind: SpanKind,
        start: u64,
        end: u64,
        resource: &Arc<Resource>,
    ) -> SpanDef {
        SpanDef {
            key,
            id,
            parent,
            name,
            kind,
            start,
            end,
            status: StatusCode::Unset,
            message: "",
            attrs: Vec::new(),
            resource: resource.clone(),
            scope: scope("", "", Vec::new()),
        }
    }
    fn status(mut self, status: StatusCode, message: &'static str) -> SpanDef {
        self.status = status;
        self.message = message;
        self
    }
    fn attrs(mut self, attrs: Vec<Attr>) -> SpanDef {
        self.attrs = attrs;
        self
    }
    fn scope(mut self, scope: &Arc<Scope>) -> SpanDef {
        self.scope = scope.clone();
        self
    }
    fn build(self, trace_id: TraceId, events: Vec<SpanEvent>, links: Vec<SpanLink>) -> Span {
        Span {
            trace_id,
            span_id: span_id(self.id),
            parent_span_id: span_id(self.parent),
            trace_state: String::new(),
            flags: 0,
            name: self.name.to_string(),
            kind: self.kind,
            start_ns: ms(self.start),
            end_ns: ms(self.end),
            attrs: self.attrs,
            dropped_attrs: 0,
            events,
            dropped_events: 0,
            links,
            dropped_links: 0,
            status: self.status,
            status_message: self.message.to_string(),
            resource: self.resource,
            scope: self.scope,
        }
    }
}

fn trace_id(last: u8) -> TraceId {
    let mut id = [0u8; 16];
    id[15] = last;
    id
}

fn make(trace: TraceId, defs: Vec<(SpanDef, Vec<SpanEvent>, Vec<SpanLink>)>) -> Trace {
    let mut keys = Vec::new();
    let mut spans = Vec::new();
    for (d, events, links) in defs {
        keys.push(d.key);
        spans.push(d.build(trace, events, links));
    }
    Trace { keys, spans }
}

/// Trace A: frontend -> checkout -> payment, with a payment error.
///
/// ```text
/// a1 GET /checkout       frontend server   0-1000ms
/// ├─ a2 HTTP POST        frontend client  10-900ms
/// │  └─ a3 POST /api/checkout  checkout server 20-880ms
/// │     ├─ a8 cache lookup     checkout internal 30-40ms
/// │     └─ a4 charge card      checkout client 100-700ms  error "payment declined"
/// │        └─ a5 POST /charge  payment server 110-690ms  error "card declined"
/// │           └─ a6 SELECT cards payment client 120-180ms ok
/// └─ a7 render           frontend internal 905-990ms
/// ```
fn trace_a() -> Trace {
    use SpanKind::*;
    let frontend = resource(vec![
        s("service.name", "frontend"),
        s("deployment.environment", "production"),
        s("cloud.region", "us-east-1"),
    ]);
    let checkout = resource(vec![
        s("service.name", "checkout"),
        s("deployment.environment", "production"),
        s("cloud.region", "us-west-1"),
    ]);
    let payment = resource(vec![
        s("service.name", "payment"),
        s("deployment.environment", "staging"),
        s("cloud.region", "us-west-1"),
        s("service.version", "1.2.3"),
    ]);
    let tags =
        Attr::new("tags", AttrValue::Array(vec![AttrValue::Str("a".to_string()), AttrValue::Str("b".to_string())]));
    let defs = vec![
        SpanDef::new("a1", 1, 0, "GET /checkout", Server, 0, 1000, &frontend).attrs(vec![
            s("http.method", "GET"),
            i("http.status_code", 200),
            s("http.url", "/checkout"),
            b("cache.hit", false),
        ]),
        SpanDef::new("a2", 2, 1, "HTTP POST", Client, 10, 900, &frontend).attrs(vec![
            s("http.method", "POST"),
            i("http.status_code", 200),
            s("peer.service", "checkout"),
        ]),
        SpanDef::new("a3", 3, 2, "POST /api/checkout", Server, 20, 880, &checkout).attrs(vec![
            s("http.method", "POST"),
            i("http.status_code", 200),
            s("http.route", "/api/checkout"),
            i("cart.items", 3),
        ]),
        SpanDef::new("a4", 4, 3, "charge card", Client, 100, 700, &checkout)
            .status(StatusCode::Error, "payment declined")
            .attrs(vec![s("http.method", "POST"), i("http.status_code", 502)]),
        SpanDef::new("a5", 5, 4, "POST /charge", Server, 110, 690, &payment)
            .status(StatusCode::Error, "card declined")
            .attrs(vec![s("http.method", "POST"), i("http.status_code", 402), f("amount", 99.5)]),
        SpanDef::new("a6", 6, 5, "SELECT cards", Client, 120, 180, &payment).status(StatusCode::Ok, "").attrs(vec![
            s("db.system", "postgresql"),
            s("db.statement", "SELECT * FROM cards"),
            tags,
        ]),
        SpanDef::new("a7", 7, 1, "render", Internal, 905, 990, &frontend).attrs(vec![s("template", "checkout.html")]),
        SpanDef::new("a8", 8, 3, "cache lookup", Internal, 30, 40, &checkout).attrs(vec![b("cache.hit", true)]),
    ];
    make(trace_id(0x0a), defs.into_iter().map(|d| (d, Vec::new(), Vec::new())).collect())
}

/// Trace B: a slow batch job.
///
/// ```text
/// b1 nightly job  batch internal 0-5000ms ok
/// ├─ b2 load      batch internal 1000-3000ms ok
/// └─ b3 load      batch internal 3000-4900ms
///    └─ b4 flush  batch internal 3100-3200ms
/// ```
fn trace_b() -> Trace {
    use SpanKind::*;
    let batch = resource(vec![s("service.name", "batch")]);
    let ids = Attr::new("ids", AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Int(2), AttrValue::Int(3)]));
    let defs = vec![
        SpanDef::new("b1", 1, 0, "nightly job", Internal, 0, 5000, &batch)
            .status(StatusCode::Ok, "")
            .attrs(vec![i("job.id", 42), s("job.name", "nightly")]),
        SpanDef::new("b2", 2, 1, "load", Internal, 1000, 3000, &batch)
            .status(StatusCode::Ok, "")
            .attrs(vec![i("rows", 1000)]),
        SpanDef::new("b3", 3, 1, "load", Internal, 3000, 4900, &batch).attrs(vec![i("rows", 250), ids]),
        SpanDef::new("b4", 4, 3, "flush", Internal, 3100, 3200, &batch),
    ];
    make(trace_id(0x0b), defs.into_iter().map(|d| (d, Vec::new(), Vec::new())).collect())
}

/// Trace C: messaging with events, links and instrumentation scopes.
///
/// ```text
/// c1 publish   queue-producer producer 0-20ms error; events exception@5ms, retry@8ms
/// └─ c2 consume  queue-consumer consumer 30-50ms; event "message received"@31ms; link
///    └─ c3 process queue-consumer internal 35-45ms
/// ```
fn trace_c() -> Trace {
    use SpanKind::*;
    let producer = resource(vec![s("service.name", "queue-producer")]);
    let consumer = resource(vec![s("service.name", "queue-consumer")]);
    let kafka = scope("io.opentelemetry.kafka", "1.2.0", vec![s("language", "java")]);
    let kafka_consumer = scope("kafka-consumer", "0.9", Vec::new());
    let app = scope("app", "", Vec::new());
    let event = |name: &str, at: u64, attrs: Vec<Attr>| SpanEvent {
        time_ns: ms(at),
        name: name.to_string(),
        attrs,
        dropped_attrs: 0,
    };
    let c1_events = vec![
        event(
            "exception",
            5,
            vec![s("exception.message", "timeout talking to broker"), s("exception.type", "TimeoutError")],
        ),
        event("retry", 8, vec![i("attempt", 2)]),
    ];
    let c2_events = vec![event("message received", 31, vec![i("message.size", 512)])];
    let c2_links = vec![SpanLink {
        trace_id: [0xff; 16],
        span_id: span_id(1),
        trace_state: String::new(),
        attrs: vec![s("opentracing.ref_type", "follows_from")],
        dropped_attrs: 0,
        flags: 0,
    }];
    let defs = vec![
        (
            SpanDef::new("c1", 1, 0, "publish", Producer, 0, 20, &producer)
                .status(StatusCode::Error, "broker timeout")
                .attrs(vec![s("messaging.system", "kafka")])
                .scope(&kafka),
            c1_events,
            Vec::new(),
        ),
        (SpanDef::new("c2", 2, 1, "consume", Consumer, 30, 50, &consumer).scope(&kafka_consumer), c2_events, c2_links),
        (
            SpanDef::new("c3", 3, 2, "process", Internal, 35, 45, &consumer)
                .attrs(vec![s("attribute with space", "yes"), s("k8s/pod", "p-1")])
                .scope(&app),
            Vec::new(),
            Vec::new(),
        ),
    ];
    make(trace_id(0x0c), defs)
}

/// Trace D: a broken trace whose root was never received.
fn trace_d() -> Trace {
    use SpanKind::*;
    let lost = resource(vec![s("service.name", "lost")]);
    let defs = vec![
        SpanDef::new("d1", 1, 99, "orphan", Server, 0, 10, &lost),
        SpanDef::new("d2", 2, 1, "orphan child", Client, 2, 8, &lost),
    ];
    make(trace_id(0x0d), defs.into_iter().map(|d| (d, Vec::new(), Vec::new())).collect())
}

const ALL_A: &str = "a1 a2 a3 a4 a5 a6 a7 a8";

/// (trace, query, expected result).
const CASES: &[(char, &str, &str)] = &[
    // ---- spanset filters, intrinsics
    ('A', "{ }", ALL_A),
    ('A', "{ true }", ALL_A),
    ('A', "{ false }", ""),
    ('A', "{ name = \"GET /checkout\" }", "a1"),
    ('A', "{ span:name = \"charge card\" }", "a4"),
    ('A', "{ name =~ \"POST.*\" }", "a3 a5"),
    ('A', "{ name =~ \"POST\" }", ""),
    ('A', "{ name =~ \".*POST.*\" }", "a2 a3 a5"),
    ('A', "{ name !~ \".*POST.*\" }", "a1 a4 a6 a7 a8"),
    ('A', "{ status = error }", "a4 a5"),
    ('A', "{ status != error }", "a1 a2 a3 a6 a7 a8"),
    ('A', "{ status = ok }", "a6"),
    ('A', "{ status = unset }", "a1 a2 a3 a7 a8"),
    ('A', "{ span:status = error && span:statusMessage = \"card declined\" }", "a5"),
    ('A', "{ statusMessage =~ \".*declined\" }", "a4 a5"),
    ('A', "{ kind = server }", "a1 a3 a5"),
    ('A', "{ kind = client }", "a2 a4 a6"),
    ('A', "{ kind = internal }", "a7 a8"),
    ('A', "{ span:kind != server }", "a2 a4 a6 a7 a8"),
    ('A', "{ kind = producer }", ""),
    ('A', "{ duration > 800ms }", "a1 a2 a3"),
    ('A', "{ duration >= 860ms }", "a1 a2 a3"),
    ('A', "{ duration < 100ms }", "a6 a7 a8"),
    ('A', "{ span:duration = 10ms }", "a8"),
    ('A', "{ duration > 0.5s && duration < 0.7s }", "a4 a5"),
    ('A', "{ duration > 1 }", ALL_A),
    ('A', "{ duration > 2 * 400ms }", "a1 a2 a3"),
    // ---- attributes
    ('A', "{ span.http.method = \"POST\" }", "a2 a3 a4 a5"),
    ('A', "{ .http.method = \"GET\" }", "a1"),
    ('A', "{ span.http.status_code = 200 }", "a1 a2 a3"),
    ('A', "{ span.http.status_code >= 400 }", "a4 a5"),
    ('A', "{ span.http.status_code >= 400 && span.http.status_code < 500 }", "a5"),
    ('A', "{ span.http.status_code = \"200\" }", ""),
    ('A', "{ span.http.status_code != 200 }", "a4 a5"),
    ('A', "{ .http.status_code > 200.5 }", "a4 a5"),
    ('A', "{ span.http.status_code % 100 = 2 }", "a4 a5"),
    ('A', "{ span.http.status_code - 2 = 500 }", "a4"),
    ('A', "{ resource.service.name = \"checkout\" }", "a3 a4 a8"),
    ('A', "{ .service.name = \"payment\" }", "a5 a6"),
    ('A', "{ span.service.name = \"payment\" }", ""),
    ('A', "{ resource.deployment.environment = \"production\" }", "a1 a2 a3 a4 a7 a8"),
    (
        'A',
        "{ resource.deployment.environment = \"production\" } && { resource.deployment.environment = \"staging\" }",
        ALL_A,
    ),
    ('A', "{ resource.deployment.environment = \"production\" && resource.deployment.environment = \"staging\" }", ""),
    ('A', "{ resource.cloud.region = \"us-east-1\" } || { resource.cloud.region = \"us-west-1\" }", ALL_A),
    ('A', "{ resource.cloud.region =~ \"us-east-1|us-west-1\" }", ALL_A),
    ('A', "{ resource.cloud.region = \"eu-west-1\" } || { resource.service.name = \"payment\" }", "a5 a6"),
    ('A', "{ resource.cloud.region = \"eu-west-1\" } && { resource.service.name = \"payment\" }", ""),
    ('A', "{ span.db.system =~ \"postgresql|mysql\" }", "a6"),
    ('A', "{ resource.service.version = nil }", "a1 a2 a3 a4 a7 a8"),
    ('A', "{ resource.service.version != nil }", "a5 a6"),
    ('A', "{ span.http.route != nil }", "a3"),
    ('A', "{ span.amount > 99 }", "a5"),
    ('A', "{ span.amount = 99.5 }", "a5"),
    ('A', "{ span.cache.hit }", "a8"),
    ('A', "{ span.cache.hit = false }", "a1"),
    ('A', "{ !span.cache.hit }", "a1"),
    ('A', "{ span.cache.hit || span.http.status_code = 402 }", "a5 a8"),
    ('A', "{ span.tags = \"b\" }", "a6"),
    ('A', "{ span.tags != \"b\" }", ""),
    ('A', "{ span.tags != \"z\" }", "a6"),
    ('A', "{ span.tags =~ \"a|c\" }", "a6"),
    ('A', "{ span.tags !~ \"a\" }", ""),
    ('A', "{ span.cart.items * 2 = 6 }", "a3"),
    ('A', "{ span.cart.items + 1 > 3.5 }", "a3"),
    ('A', "{ -span.cart.items = -3 }", "a3"),
    ('A', "{ span.\"http.url\" = \"/checkout\" }", "a1"),
    ('A', "{ span.http.url = \"/checkout\" }", "a1"),
    ('A', "{ status = error } with (most_recent=true)", "a4 a5"),
    // ---- trace-level and id intrinsics
    ('A', "{ rootName = \"GET /checkout\" }", ALL_A),
    ('A', "{ trace:rootName = \"nope\" }", ""),
    ('A', "{ rootServiceName = \"frontend\" && kind = client }", "a2 a4 a6"),
    ('A', "{ trace:rootService = \"frontend\" && resource.service.name = \"payment\" }", "a5 a6"),
    ('A', "{ traceDuration > 900ms }", ALL_A),
    ('A', "{ trace:duration = 1s }", ALL_A),
    ('A', "{ traceDuration > 2s }", ""),
    ('A', "{ trace:id = \"0000000000000000000000000000000a\" }", ALL_A),
    ('A', "{ span:id = \"0000000000000004\" }", "a4"),
    ('A', "{ span:parentID = \"0000000000000003\" }", "a4 a8"),
    ('A', "{ span:parentID = nil }", "a1"),
    ('A', "{ span:childCount = 0 }", "a6 a7 a8"),
    ('A', "{ childCount = 2 }", "a1 a3"),
    ('A', "{ nestedSetParent = -1 }", "a1"),
    ('A', "{ nestedSetLeft = 1 }", "a1"),
    ('A', "{ nestedSetRight - nestedSetLeft = 1 }", "a6 a7 a8"),
    // ---- structural operators (results come from the right-hand side)
    ('A', "{ resource.service.name = \"frontend\" } >> { status = error }", "a4 a5"),
    ('A', "{ resource.service.name = \"frontend\" } > { resource.service.name = \"checkout\" }", "a3"),
    ('A', "{ resource.service.name = \"checkout\" } > { resource.service.name = \"checkout\" }", "a4 a8"),
    ('A', "{ status = error } < { kind = server }", "a3"),
    ('A', "{ status = error } << { kind = server }", "a1 a3"),
    ('A', "{ name = \"cache lookup\" } ~ { }", "a4"),
    ('A', "{ resource.service.name = \"frontend\" && kind = internal } ~ { kind = client }", "a2"),
    ('A', "{ kind = server } > { kind = client } > { kind = server }", "a3 a5"),
    ('A', "{ } >> { } >> { } >> { } >> { }", "a5 a6"),
    ('A', "({ status = error } || { name = \"render\" }) >> { }", "a5 a6"),
    // experimental (negated) structural operators
    ('A', "{ } !< { }", "a6 a7 a8"),
    ('A', "{ } !< { resource.service.name = \"payment\" }", "a6"),
    ('A', "{ status = error } !< { status = error }", "a5"),
    ('A', "{ resource.service.name = \"frontend\" } !> { }", "a1 a4 a5 a6 a8"),
    ('A', "{ kind = server } !>> { status = error }", ""),
    ('A', "{ name = \"render\" } !>> { status = error }", "a4 a5"),
    ('A', "{ status = ok } !<< { kind = server }", ""),
    ('A', "{ name = \"render\" } !<< { kind = server }", "a3 a5"),
    ('A', "{ kind = internal } !~ { kind = client }", "a6"),
    // union structural operators (both sides)
    ('A', "{ status = error && kind = client } &>> { status = error }", "a4 a5"),
    ('A', "{ resource.service.name = \"frontend\" } &> { resource.service.name = \"checkout\" }", "a2 a3"),
    ('A', "{ name = \"SELECT cards\" } &< { kind = server }", "a5 a6"),
    ('A', "{ name = \"SELECT cards\" } &<< { resource.service.name = \"frontend\" }", "a1 a2 a6"),
    ('A', "{ name = \"render\" } &~ { kind = client }", "a2 a7"),
    // logical spanset operators
    ('A', "{ status = error } && { status = ok }", "a4 a5 a6"),
    ('A', "{ status = error } || { kind = producer }", "a4 a5"),
    // ---- pipelines, aggregates, grouping, selection
    ('A', "{ } | count() > 5", "a1 a2 a3 a4 a5 a6 a7 a8 ; count()=8"),
    ('A', "{ status = error } | count() > 2", ""),
    ('A', "{ status = error } | count() = 2", "a4 a5 ; count()=2"),
    ('A', "count() > 10", ""),
    ('A', "count() = 8", "a1 a2 a3 a4 a5 a6 a7 a8 ; count()=8"),
    (
        'A',
        "{ kind = server && resource.service.name != \"payment\" } | avg(duration) = 930ms",
        "a1 a3 ; avg(duration)=930ms",
    ),
    ('A', "{ kind = client } | max(duration) >= 890ms", "a2 a4 a6 ; max(duration)=890ms"),
    ('A', "{ kind = client } | min(duration) < 100ms", "a2 a4 a6 ; min(duration)=60ms"),
    ('A', "{ } | sum(span.http.status_code) > 1000", "a1 a2 a3 a4 a5 a6 a7 a8 ; sum(span.http.status_code)=1504"),
    (
        'A',
        "{ span.http.status_code != nil } | avg(span.http.status_code) > 300",
        "a1 a2 a3 a4 a5 ; avg(span.http.status_code)=300.8",
    ),
    (
        'A',
        "{ } | avg(duration) > max(duration) / 2",
        "a1 a2 a3 a4 a5 a6 a7 a8 ; avg(duration)=510625us max(duration)=1s",
    ),
    ('A', "{ } | max(duration) > 3s", ""),
    (
        'A',
        "{ status = error } | by(resource.service.name)",
        "a4 ; by(resource.service.name)=checkout | a5 ; by(resource.service.name)=payment",
    ),
    (
        'A',
        "{ } | by(resource.service.name) | count() > 2",
        "a1 a2 a7 ; by(resource.service.name)=frontend count()=3 | a3 a4 a8 ; by(resource.service.name)=checkout count()=3",
    ),
    ('A', "{ status = error } | by(resource.service.name) | count() > 1", ""),
    ('A', "{ } | by(kind) | count() = 2", "a7 a8 ; by(kind)=internal count()=2"),
    ('A', "{ } | by(span.http.method) | count() = 1", "a1 ; by(span.http.method)=GET count()=1"),
    ('A', "{ } | by(resource.service.name) | coalesce()", ALL_A),
    (
        'A',
        "{ status = error } | select(span.http.status_code, resource.service.name)",
        "a4[http.status_code=502,service.name=checkout] a5[http.status_code=402,service.name=payment]",
    ),
    (
        'A',
        "{ name = \"render\" } | select(span.template, status, span.nope)",
        "a7[template=checkout.html,status=unset]",
    ),
    ('A', "{ } | { status = error }", "a4 a5"),
    ('A', "{ kind = server } | { status = error }", "a5"),
    ('A', "{ } | count() = 8 | { status = error }", "a4 a5 ; count()=8"),
    ('A', "({ status = error } | count() = 2) && { kind = internal }", "a4 a5 a7 a8 ; count()=2"),
    ('A', "({ status = error } | count() > 2) || { kind = internal }", "a7 a8"),
    ('A', "({ } | count() > 100) && { }", ""),
    (
        'A',
        "{ .http.method = \"POST\" } | by(resource.service.name) | { status = error }",
        "a4 ; by(resource.service.name)=checkout | a5 ; by(resource.service.name)=payment",
    ),
    (
        'A',
        "{ } | by(resource.service.name) | { kind = server } > { kind = client }",
        "a2 ; by(resource.service.name)=frontend | a4 ; by(resource.service.name)=checkout | a6 ; by(resource.service.name)=payment",
    ),
    // ---- trace B: slow batch job
    ('B', "{ traceDuration > 2s }", "b1 b2 b3 b4"),
    ('B', "{ duration > 1.9s }", "b1 b2"),
    ('B', "{ duration >= 1.9s }", "b1 b2 b3"),
    ('B', "{ } | by(name) | count() > 1", "b2 b3 ; by(name)=load count()=2"),
    ('B', "{ name = \"load\" } | sum(span.rows) = 1250", "b2 b3 ; sum(span.rows)=1250"),
    ('B', "{ } | max(duration) > 3s", "b1 b2 b3 b4 ; max(duration)=5s"),
    ('B', "{ span.job.id = 42 }", "b1"),
    ('B', "{ span.job.id = 42.0 }", "b1"),
    ('B', "{ span.ids = 2 }", "b3"),
    ('B', "{ span.ids > 2 }", "b3"),
    ('B', "{ span.ids >= 4 }", ""),
    ('B', "{ name = \"flush\" } << { name = \"load\" }", "b3"),
    ('B', "{ name = \"load\" } ~ { name = \"load\" }", "b2 b3"),
    ('B', "{ } >> { name = \"flush\" }", "b4"),
    ('B', "{ rootServiceName = \"batch\" && status = ok }", "b1 b2"),
    ('B', "{ trace:duration = 5s && span:duration = 5s }", "b1"),
    ('B', "{ } | select(span.rows)", "b1 b2[rows=1000] b3[rows=250] b4"),
    // ---- trace C: events, links, instrumentation scope
    ('C', "{ event:name = \"exception\" }", "c1"),
    ('C', "{ event.exception.message =~ \".*broker.*\" }", "c1"),
    ('C', "{ event.exception.message != nil }", "c1"),
    ('C', "{ event.exception.type = \"TimeoutError\" && event:name = \"exception\" }", "c1"),
    ('C', "{ event:name = \"retry\" && event.exception.type = \"TimeoutError\" }", ""),
    ('C', "{ event:timeSinceStart > 6ms }", "c1"),
    ('C', "{ event:timeSinceStart < 2ms }", "c2"),
    ('C', "{ event.attempt = 2 }", "c1"),
    ('C', "{ event.message.size > 100 }", "c2"),
    ('C', "{ link.opentracing.ref_type = \"follows_from\" }", "c2"),
    ('C', "{ link:traceID = \"ffffffffffffffffffffffffffffffff\" }", "c2"),
    ('C', "{ link:spanID = \"0000000000000001\" }", "c2"),
    ('C', "{ instrumentation:name = \"io.opentelemetry.kafka\" }", "c1"),
    ('C', "{ instrumentation:version = \"0.9\" }", "c2"),
    ('C', "{ instrumentation.language = \"java\" }", "c1"),
    ('C', "{ kind = producer } > { kind = consumer }", "c2"),
    ('C', "{ span.\"attribute with space\" = \"yes\" }", "c3"),
    ('C', "{ span.k8s/pod = \"p-1\" }", "c3"),
    ('C', "{ parent.span.messaging.system = \"kafka\" }", "c2"),
    ('C', "{ parent.resource.service.name = \"queue-consumer\" }", "c3"),
    ('C', "{ status = error && span:statusMessage = \"broker timeout\" }", "c1"),
    (
        'C',
        "{ } | by(instrumentation:name) | count() = 1",
        "c1 ; by(instrumentation:name)=io.opentelemetry.kafka count()=1 | c2 ; by(instrumentation:name)=kafka-consumer count()=1 | c3 ; by(instrumentation:name)=app count()=1",
    ),
    (
        'C',
        "{ kind = consumer } | select(resource.service.name, instrumentation:name)",
        "c2[service.name=queue-consumer,instrumentation:name=kafka-consumer]",
    ),
    // ---- trace D: no root span
    ('D', "{ rootName != nil }", ""),
    ('D', "{ rootName = nil }", "d1 d2"),
    ('D', "{ } > { }", "d2"),
    ('D', "{ span:parentID = nil }", ""),
    ('D', "{ name = \"orphan\" } >> { }", "d2"),
];

fn render(t: &Trace, sets: &[SpanSet]) -> String {
    let mut out = Vec::new();
    for set in sets {
        let mut parts: Vec<String> = Vec::new();
        for m in &set.spans {
            let mut p = t.keys[m.index].to_string();
            if !m.attributes.is_empty() {
                let kv: Vec<String> = m.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                p.push_str(&format!("[{}]", kv.join(",")));
            }
            parts.push(p);
        }
        let mut s = parts.join(" ");
        if !set.attributes.is_empty() {
            let kv: Vec<String> = set.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(" ; ");
            s.push_str(&kv.join(" "));
        }
        out.push(s);
    }
    out.join(" | ")
}

#[test]
fn semantics() {
    let traces = [('A', trace_a()), ('B', trace_b()), ('C', trace_c()), ('D', trace_d())];
    let mut failures = Vec::new();
    for (which, query, want) in CASES {
        let t = &traces.iter().find(|(c, _)| c == which).expect("trace").1;
        let q = match parse_and_validate(query) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{which} {query}: {e}"));
                continue;
            }
        };
        match eval(&q, &t.spans) {
            Ok(sets) => {
                let got = render(t, &sets);
                if got != *want {
                    failures.push(format!("{which} {query}\n    want: {want:?}\n    got:  {got:?}"));
                }
            }
            Err(e) => failures.push(format!("{which} {query}: {e}")),
        }
    }
    println!("traceql semantics: {} cases, {} failed", CASES.len(), failures.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(CASES.len() >= 110);
}

#[test]
fn empty_trace_matches_nothing() {
    for q in ["{ }", "count() = 0", "{ } | count() = 0", "{ } !< { }"] {
        let q = parse_and_validate(q).unwrap();
        assert_eq!(eval(&q, &[]), Ok(Vec::new()));
    }
}

#[test]
fn metrics_queries_are_not_searches() {
    let q = parse_and_validate("{ status = error } | rate() by (resource.service.name)").unwrap();
    assert_eq!(eval(&q, &trace_a().spans), Err(EvalError::MetricsQuery));
    let sets = seer_traceql::eval_pipeline(&q.pipeline, &trace_a().spans).unwrap();
    assert_eq!(render(&trace_a(), &sets), "a4 a5");
}

#[test]
fn pruning_conditions() {
    use seer_traceql::ast::{AttrScope, Attribute, BinaryOp, Expr, Intrinsic};
    use seer_traceql::{Static, conditions};
    let q = parse_and_validate(
        "{ resource.service.name = \"frontend\" && 500 <= span.http.status_code && (.a = 1 || .b = 2) } >> { status = error } | count() > 1",
    )
    .unwrap();
    let c = conditions(&q);
    assert_eq!(c.len(), 3, "{c:?}");
    assert_eq!(c[0].field, Expr::Attribute(Attribute::new(AttrScope::Resource, "service.name")));
    assert_eq!((c[0].op, &c[0].value), (BinaryOp::Eq, &Static::Str("frontend".into())));
    assert_eq!(c[1].field, Expr::Attribute(Attribute::new(AttrScope::Span, "http.status_code")));
    assert_eq!((c[1].op, &c[1].value), (BinaryOp::Gte, &Static::Int(500)));
    assert_eq!(c[2].field, Expr::Intrinsic(Intrinsic::Status));
    assert!(conditions(&parse_and_validate("{ .a = 1 } || { .b = 2 }").unwrap()).is_empty());
    assert_eq!(conditions(&parse_and_validate("{ .a = 1 } !> { .b = 2 }").unwrap()).len(), 1);
    assert!(conditions(&parse_and_validate("{ .a = nil }").unwrap()).is_empty());
}
