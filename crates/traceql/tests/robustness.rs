//! Token soup: random sequences of TraceQL tokens must parse or fail cleanly; whatever parses
//! prints to text that re-parses to the same tree, validates or not, and evaluates without
//! panicking (the same checks as the `traceql` fuzz target, run deterministically).

use std::sync::Arc;

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

fn check(data: &[u8]) {
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
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    ",",
    "|",
    "&&",
    "||",
    "!",
    "-",
    "+",
    "*",
    "/",
    "%",
    "^",
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "=~",
    "!~",
    ">>",
    "<<",
    "~",
    "!>",
    "!<",
    "!>>",
    "!<<",
    "&>",
    "&<",
    "&>>",
    "&<<",
    "&~",
    ".a",
    ".arr",
    ".b",
    "span.a",
    "span.f",
    "resource.service.name",
    "event.a",
    "link.a",
    "parent.a",
    "instrumentation.x",
    "span.\"a b\"",
    "name",
    "status",
    "kind",
    "duration",
    "rootName",
    "rootServiceName",
    "traceDuration",
    "childCount",
    "nestedSetLeft",
    "nestedSetParent",
    "span:id",
    "span:parentID",
    "trace:id",
    "event:name",
    "event:timeSinceStart",
    "link:spanID",
    "instrumentation:name",
    "1",
    "0",
    "2.5",
    ".5",
    "1s",
    "1ms",
    "-3",
    "\"x\"",
    "\"root\"",
    "\".*\"",
    "\"(\"",
    "true",
    "false",
    "nil",
    "ok",
    "error",
    "server",
    "client",
    "minInt",
    "maxInt",
    "count()",
    "avg(",
    "max(",
    "min(",
    "sum(",
    "by(",
    "select(",
    "coalesce()",
    "rate()",
    "count_over_time()",
    "quantile_over_time(duration, .9)",
    "compare({ })",
    "topk(2)",
    "with (most_recent=true)",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIELDS: &[&str] = &[
    ".a",
    ".arr",
    ".b",
    ".f",
    "span.a",
    "span.f",
    "span.http.status_code",
    "resource.service.name",
    "event.a",
    "link.a",
    "parent.a",
    "parent.resource.service.name",
    "instrumentation.x",
    "span.\"a b\"",
    "name",
    "status",
    "kind",
    "duration",
    "rootName",
    "rootServiceName",
    "traceDuration",
    "childCount",
    "nestedSetLeft",
    "nestedSetRight",
    "nestedSetParent",
    "span:id",
    "span:parentID",
    "trace:id",
    "event:name",
    "event:timeSinceStart",
    "link:spanID",
    "link:traceID",
    "instrumentation:name",
    "instrumentation:version",
];
const STATICS: &[&str] = &[
    "1",
    "0",
    "2.5",
    "201",
    "1s",
    "1ms",
    "3us",
    "\"root\"",
    "\"x\"",
    "\"backend\"",
    "true",
    "false",
    "nil",
    "ok",
    "error",
    "unset",
    "server",
    "client",
    "internal",
    "minInt",
    "maxInt",
    "\"0000000000000001\"",
];

fn gen_expr(r: &mut Rng, depth: usize) -> String {
    if depth == 0 || r.below(3) == 0 {
        return if r.below(2) == 0 { r.pick(FIELDS).to_string() } else { r.pick(STATICS).to_string() };
    }
    match r.below(9) {
        0 => format!("({})", gen_expr(r, depth - 1)),
        1 => format!("{}{}", r.pick(&["-", "!"]), gen_expr(r, depth - 1)),
        2 => format!("{} {} \"{}\"", r.pick(FIELDS), r.pick(&["=~", "!~"]), r.pick(&["r.*", ".*e.*", "x", "(", "b|c"])),
        3 | 4 => {
            let op = r.pick(&["&&", "||"]);
            format!("{} {op} {}", gen_expr(r, depth - 1), gen_expr(r, depth - 1))
        }
        5 => {
            let op = r.pick(&["+", "-", "*", "/", "%", "^"]);
            format!("{} {op} {}", gen_expr(r, depth - 1), gen_expr(r, depth - 1))
        }
        _ => {
            let op = r.pick(&["=", "!=", ">", ">=", "<", "<="]);
            format!("{} {op} {}", gen_expr(r, depth - 1), gen_expr(r, depth - 1))
        }
    }
}

fn gen_spanset(r: &mut Rng, depth: usize) -> String {
    if depth == 0 || r.below(3) == 0 {
        return if r.below(5) == 0 { "{ }".to_string() } else { format!("{{ {} }}", gen_expr(r, 3)) };
    }
    if r.below(5) == 0 {
        return format!("({})", gen_pipeline(r, depth - 1));
    }
    let op = r
        .pick(&["&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "!~", "&>", "&<", "&>>", "&<<", "&~"]);
    format!("{} {op} {}", gen_spanset(r, depth - 1), gen_spanset(r, depth - 1))
}

fn gen_stage(r: &mut Rng, depth: usize) -> String {
    match r.below(8) {
        0 => format!("count() {} {}", r.pick(&["=", ">", "<", ">="]), r.below(5)),
        1 => format!(
            "{}({}) {} {}",
            r.pick(&["avg", "min", "max", "sum"]),
            gen_expr(r, 1),
            r.pick(&["=", ">", "<"]),
            r.pick(STATICS)
        ),
        2 => format!("by({})", gen_expr(r, 1)),
        3 => format!("select({}, {})", r.pick(FIELDS), r.pick(FIELDS)),
        4 => "coalesce()".to_string(),
        _ => gen_spanset(r, depth),
    }
}

fn gen_pipeline(r: &mut Rng, depth: usize) -> String {
    let mut q = gen_spanset(r, depth);
    for _ in 0..r.below(3) {
        q.push_str(" | ");
        q.push_str(&gen_stage(r, depth));
    }
    q
}

/// Random queries built from the grammar (most parse, many fail validation, all evaluate).
#[test]
fn generated_queries() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut parsed, mut valid, mut matched) = (0, 0, 0);
    let rounds = 10_000;
    for _ in 0..rounds {
        let mut q = gen_pipeline(&mut r, 3);
        if r.below(10) == 0 {
            // A random single-character mutation.
            let cut = r.below(q.len() + 1);
            if q.is_char_boundary(cut) {
                q.insert_str(cut, r.pick(&["(", ")", "}", "|", "!", "-", " ", "\"", "."]));
            }
        }
        check(q.as_bytes());
        if let Ok(parsed_q) = seer_traceql::parse(&q) {
            parsed += 1;
            if seer_traceql::validate(&parsed_q).is_ok() {
                valid += 1;
            }
        }
        if seer_traceql::parse_and_validate(&q).is_ok() {
            matched += 1;
        }
    }
    println!("traceql generated queries: {rounds}, {parsed} parsed, {valid} valid");
    assert_eq!(valid, matched);
    assert!(parsed > rounds / 2, "only {parsed} of {rounds} generated queries parsed");
    assert!(valid > rounds / 20, "only {valid} of {rounds} generated queries validated");
}

#[test]
fn token_soup() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut parsed = 0;
    let rounds = 40_000;
    for round in 0..rounds {
        let len = 1 + (next() % 14) as usize;
        let mut q = String::new();
        if round % 2 == 0 {
            q.push_str("{ ");
        }
        for _ in 0..len {
            q.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
            q.push(' ');
        }
        if round % 2 == 0 {
            q.push('}');
        }
        if seer_traceql::parse(&q).is_ok() {
            parsed += 1;
        }
        check(q.as_bytes());
    }
    println!("traceql token soup: {rounds} queries, {parsed} parsed");
    assert!(parsed > 100, "only {parsed} of {rounds} random queries parsed");
}

/// Queries just under the nesting limit parse, print, validate and evaluate on the default
/// test-thread stack (debug build); deeper ones are rejected.
#[test]
fn deep_queries_evaluate() {
    let d = 240;
    let queries = [
        format!("{{ {}true{} }}", "(".repeat(d), ")".repeat(d)),
        format!("{{ {}.b }}", "!".repeat(d)),
        format!("{{ {} }}", vec![".b = true"; d].join(" && ")),
        format!("{{ .f > {}0 }}", "-".repeat(d)),
        format!("{{ {} = 1 }}", vec!["1"; d].join(" ^ ")),
        vec!["{ .b }"; d].join(" >> "),
        vec!["{ }"; d].join(" || "),
        format!("{}{{ }}{}", "(".repeat(d / 2), " | count() > 0)".repeat(d / 2)),
        format!("count() > {}0{}", "(".repeat(d), ")".repeat(d)),
    ];
    for q in &queries {
        assert!(seer_traceql::parse(q).is_ok(), "{}...: {:?}", &q[..40.min(q.len())], seer_traceql::parse(q).err());
        check(q.as_bytes());
        let deeper = q.replace("(", "((").replace(")", "))").replace("!", "!!").replace("-", "--");
        if deeper != *q {
            assert!(seer_traceql::parse(&deeper).is_err(), "{}...", &deeper[..40]);
        }
    }
}

/// Structural operators, grouping and aggregates stay linear-ish on a large, deep trace, and
/// pairing thousands of spansets on both sides of an operator is refused.
#[test]
fn large_trace() {
    let n = 10_000usize;
    let spans: Vec<Span> = (0..n)
        .map(|i| {
            // A chain of 100-span runs, each hanging off the previous run's first span.
            let id = i as u64 + 1;
            let parent = if i == 0 {
                0
            } else if i % 100 == 0 {
                id - 100
            } else {
                id - 1
            };
            let mut s = span(1, 0, "x", SpanKind::Internal, 1_000 + id, 2_000 + id, "svc");
            s.span_id = id.to_be_bytes();
            s.parent_span_id = parent.to_be_bytes();
            s
        })
        .collect();
    let start = std::time::Instant::now();
    for q in [
        "{ } >> { }",
        "{ } << { }",
        "{ } ~ { }",
        "{ } !> { }",
        "{ } &>> { }",
        "{ } | by(span:id) | count() = 1 | coalesce()",
        "{ } | avg(duration) > 1ns",
        "{ nestedSetLeft > 0 } > { childCount = 1 }",
    ] {
        let q = seer_traceql::parse_and_validate(q).unwrap();
        let sets = seer_traceql::eval(&q, &spans).unwrap();
        assert_eq!(sets.len(), 1, "{q}");
    }
    let q = seer_traceql::parse_and_validate("({ } | by(span:id)) && ({ } | by(span:id))").unwrap();
    assert!(matches!(seer_traceql::eval(&q, &spans), Err(seer_traceql::EvalError::TooComplex(_))));
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
}
