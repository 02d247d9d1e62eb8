//! Table-driven LogQL pipeline semantics: `tests/semantics.txt`, expectations written from
//! Loki's documentation.
//!
//! Format (one directive per line, `#` comments):
//! `query: <q>` starts a case; optional `stream: {..}` (default `{app="a"}`), `meta: {..}`,
//! `ts: <ns>`; then pairs of an input (`in: raw line` or `inq: "json-quoted line"`) and its
//! expected result: `out: DROP`, `out: {labels} line`, `outq: {labels} "json-quoted line"`,
//! or for range aggregations `val: <value> {labels}`. `error: <substring>` expects a parse
//! error instead. `__error_details__` is compared only when the expectation lists it.

use seer_logql::ast::MetricExpr;
use seer_logql::{Expr, Pipeline, parse};
use seer_model::{Label, Labels};

/// Parses `{a="x", b="y"}` at the start of `s`; returns the labels and the rest.
fn parse_labels(s: &str) -> (Labels, &str) {
    let s = s.trim_start();
    let body = s.strip_prefix('{').unwrap_or_else(|| panic!("labels expected: {s}"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut rest = body.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return (Labels::from_pairs(pairs), r);
        }
        let eq = rest.find('=').unwrap_or_else(|| panic!("bad labels: {s}"));
        let name = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        assert!(after.starts_with('"'), "bad labels: {s}");
        let mut end = 1;
        let bytes = after.as_bytes();
        while bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let value: String = serde_json::from_str(&after[..=end]).unwrap_or_else(|e| panic!("bad value in {s}: {e}"));
        pairs.push((name, value));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

fn unquote(s: &str) -> String {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("bad quoted line {s}: {e}"))
}

enum Expect {
    Drop,
    Line(Labels, String),
    Value(f64, Labels),
}

#[derive(Default)]
struct Case {
    query: String,
    line_no: usize,
    stream: Option<Labels>,
    meta: Vec<Label>,
    ts: i64,
    error: Option<String>,
    io: Vec<(String, Option<Expect>)>,
}

fn load(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, val) = line.split_once(": ").unwrap_or_else(|| panic!("line {}: bad directive {line:?}", i + 1));
        if key == "query" {
            cases.push(Case {
                query: val.to_string(),
                line_no: i + 1,
                ts: 1_700_000_000_123_000_000,
                ..Case::default()
            });
            continue;
        }
        let c = cases.last_mut().unwrap_or_else(|| panic!("line {}: directive before query", i + 1));
        match key {
            "stream" => c.stream = Some(parse_labels(val).0),
            "meta" => c.meta = parse_labels(val).0.into_vec(),
            "ts" => c.ts = val.trim().parse().expect("ts"),
            "error" => c.error = Some(val.to_string()),
            "in" => c.io.push((val.to_string(), None)),
            "inq" => c.io.push((unquote(val), None)),
            "out" | "outq" | "val" => {
                let exp = if val.trim() == "DROP" {
                    Expect::Drop
                } else if key == "val" {
                    let (num, rest) = val.trim().split_once(' ').unwrap_or((val.trim(), "{}"));
                    Expect::Value(num.parse().expect("value"), parse_labels(rest).0)
                } else {
                    let (labels, rest) = parse_labels(val);
                    let rest = rest.strip_prefix(' ').unwrap_or(rest);
                    Expect::Line(labels, if key == "outq" { unquote(rest) } else { rest.to_string() })
                };
                let last = c.io.last_mut().unwrap_or_else(|| panic!("line {}: output without input", i + 1));
                assert!(last.1.is_none(), "line {}: two outputs for one input", i + 1);
                last.1 = Some(exp);
            }
            _ => panic!("line {}: unknown directive {key}", i + 1),
        }
    }
    cases
}

fn strip_details(actual: &Labels, expected: &Labels) -> Labels {
    if expected.get("__error_details__").is_some() {
        return actual.clone();
    }
    let mut b = actual.to_builder();
    b.del("__error_details__");
    b.build()
}

#[test]
fn semantics_suite() {
    let text = include_str!("semantics.txt");
    let cases = load(text);
    let mut checked = 0usize;
    let mut failures = Vec::new();
    for c in &cases {
        let where_ = format!("line {}: {}", c.line_no, c.query);
        let parsed = parse(&c.query);
        if let Some(want) = &c.error {
            match parsed {
                Ok(_) => failures.push(format!("{where_}: parsed, expected error containing {want:?}")),
                Err(e) if e.to_string().contains(want.as_str()) => {}
                Err(e) => failures.push(format!("{where_}: error {e:?} does not contain {want:?}")),
            }
            checked += 1;
            continue;
        }
        let expr = match parsed {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{where_}: parse failed: {e}"));
                continue;
            }
        };
        let (mut pipeline, is_metric) = match &expr {
            Expr::Log(l) => (Pipeline::new(&l.pipeline).expect("pipeline"), false),
            Expr::Metric(MetricExpr::RangeAgg(r)) => {
                let p = match &r.unwrap {
                    Some(u) => Pipeline::with_unwrap(&r.inner.pipeline, u),
                    None => Pipeline::new(&r.inner.pipeline),
                };
                (p.expect("pipeline"), true)
            }
            Expr::Metric(_) => panic!("{where_}: only log queries and range aggregations"),
        };
        let stream = c.stream.clone().unwrap_or_else(|| Labels::from_pairs([("app", "a")]));
        assert!(!c.io.is_empty(), "{where_}: no inputs");
        for (input, exp) in &c.io {
            let exp = exp.as_ref().unwrap_or_else(|| panic!("{where_}: input {input:?} has no expectation"));
            checked += 1;
            let got = if is_metric {
                pipeline.extract(c.ts, input, &stream, &c.meta).map(|(v, l)| Expect::Value(v, l))
            } else {
                pipeline.process(c.ts, input, &stream, &c.meta).map(|(s, l)| Expect::Line(l, s))
            };
            let ok = match (exp, &got) {
                (Expect::Drop, None) => true,
                (Expect::Line(el, es), Some(Expect::Line(gl, gs))) => *el == strip_details(gl, el) && es == gs,
                (Expect::Value(ev, el), Some(Expect::Value(gv, gl))) => {
                    *el == strip_details(gl, el) && (ev == gv || (ev - gv).abs() < 1e-9)
                }
                _ => false,
            };
            if !ok {
                let show = |e: &Option<Expect>| match e {
                    None => "DROP".to_string(),
                    Some(Expect::Drop) => "DROP".to_string(),
                    Some(Expect::Line(l, s)) => format!("{l} {s:?}"),
                    Some(Expect::Value(v, l)) => format!("{v} {l}"),
                };
                let want = match exp {
                    Expect::Drop => "DROP".to_string(),
                    Expect::Line(l, s) => format!("{l} {s:?}"),
                    Expect::Value(v, l) => format!("{v} {l}"),
                };
                failures.push(format!("{where_}\n    input: {input:?}\n    want:  {want}\n    got:   {}", show(&got)));
            }
        }
    }
    println!("logql semantics: {checked} cases, {} failures", failures.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 150, "only {checked} cases");
}
