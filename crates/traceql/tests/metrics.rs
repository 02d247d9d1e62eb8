//! TraceQL metrics over hand-built traces. Every expectation was computed by hand from the
//! definitions in Tempo's TraceQL metrics documentation (rate = matching spans per second,
//! count/min/max/avg/sum per step, one series per quantile labelled `p`, one series per
//! power-of-2 bucket labelled `__bucket`, topk/bottomk per step, compare's selection and
//! baseline) and from the documented decisions of `MetricsEvaluator` (step alignment,
//! log2-histogram quantiles), not by running this crate.
//!
//! A result is written one series a line: `{label=value,...}` then `t:v` samples, `t` the
//! step start in seconds after `T0`, `v` rounded to 9 decimals.

use std::sync::Arc;

use seer_model::trace::{Attr, AttrValue, Resource, Scope, Span, SpanKind, StatusCode};
use seer_traceql::{EvalError, MetricsEvaluator, MetricsRequest, MetricsSeries, Value, parse, parse_and_validate};

/// A multiple of 10 s (not of 60 s).
const T0: u64 = 1_700_000_000_000_000_000;
const SECOND: u64 = 1_000_000_000;

struct S {
    id: u8,
    parent: u8,
    name: &'static str,
    service: &'static str,
    kind: SpanKind,
    /// Milliseconds after T0 (may be negative).
    start_ms: i64,
    dur_ms: u64,
    status: StatusCode,
    attrs: Vec<Attr>,
}

#[allow(clippy::too_many_arguments)]
fn s(
    id: u8,
    parent: u8,
    name: &'static str,
    service: &'static str,
    kind: SpanKind,
    start_ms: i64,
    dur_ms: u64,
    status: StatusCode,
    attrs: Vec<Attr>,
) -> S {
    S { id, parent, name, service, kind, start_ms, dur_ms, status, attrs }
}

fn code(n: i64) -> Attr {
    Attr::new("http.status_code", AttrValue::Int(n))
}

fn len(n: i64) -> Attr {
    Attr::new("http.response_content_length", AttrValue::Int(n))
}

fn trace(n: u8, defs: Vec<S>) -> Vec<Span> {
    let sid = |n: u8| if n == 0 { [0; 8] } else { [0, 0, 0, 0, 0, 0, 0, n] };
    let mut trace_id = [0u8; 16];
    trace_id[15] = n;
    defs.into_iter()
        .map(|d| {
            let start = (i128::from(T0) + i128::from(d.start_ms) * 1_000_000) as u64;
            Span {
                trace_id,
                span_id: sid(d.id),
                parent_span_id: sid(d.parent),
                trace_state: String::new(),
                flags: 0,
                name: d.name.to_string(),
                kind: d.kind,
                start_ns: start,
                end_ns: start + d.dur_ms * 1_000_000,
                attrs: d.attrs,
                dropped_attrs: 0,
                events: Vec::new(),
                dropped_events: 0,
                links: Vec::new(),
                dropped_links: 0,
                status: d.status,
                status_message: String::new(),
                resource: Arc::new(Resource {
                    attrs: vec![Attr::new("service.name", AttrValue::Str(d.service.to_string()))],
                    ..Default::default()
                }),
                scope: Arc::new(Scope::default()),
            }
        })
        .collect()
}

/// The traces, in time order:
///
/// ```text
/// t1  1.000s frontend "GET /" server 100ms 200 len=1000
///     1.010s  └ checkout "charge" client 50ms error 500
/// t2  5.000s frontend "GET /" server 200ms 200 len=3000
///     5.020s  └ payment "pay" server 150ms error 502
/// t3 12.000s frontend "GET /" server 300ms 404 len=500
/// t4 25.000s frontend "GET /" server 1000ms 200 len=2000
///    25.100s  └ checkout "charge" client 400ms error 500
///    25.200s     └ payment "pay" server 100ms ok 200
/// t5 59.999s frontend "GET /" server 2000ms 200
/// t6 60.000s frontend "GET /" server 10ms 200      (after the default range)
/// t7 -0.001s frontend "GET /" server 10ms 200      (before the default range)
/// ```
///
/// With the default range [T0, T0+60s) and 10 s steps, the spans per step are:
/// step 0: 100ms, 50ms, 200ms, 150ms; step 10: 300ms; step 20: 1000ms, 400ms, 100ms;
/// step 50: 2000ms.
fn traces() -> Vec<Vec<Span>> {
    use SpanKind::{Client, Server};
    use StatusCode::{Error, Ok, Unset};
    vec![
        trace(
            1,
            vec![
                s(1, 0, "GET /", "frontend", Server, 1000, 100, Unset, vec![code(200), len(1000)]),
                s(2, 1, "charge", "checkout", Client, 1010, 50, Error, vec![code(500)]),
            ],
        ),
        trace(
            2,
            vec![
                s(1, 0, "GET /", "frontend", Server, 5000, 200, Unset, vec![code(200), len(3000)]),
                s(2, 1, "pay", "payment", Server, 5020, 150, Error, vec![code(502)]),
            ],
        ),
        trace(3, vec![s(1, 0, "GET /", "frontend", Server, 12000, 300, Unset, vec![code(404), len(500)])]),
        trace(
            4,
            vec![
                s(1, 0, "GET /", "frontend", Server, 25000, 1000, Unset, vec![code(200), len(2000)]),
                s(2, 1, "charge", "checkout", Client, 25100, 400, Error, vec![code(500)]),
                s(3, 2, "pay", "payment", Server, 25200, 100, Ok, vec![code(200)]),
            ],
        ),
        trace(5, vec![s(1, 0, "GET /", "frontend", Server, 59999, 2000, Unset, vec![code(200)])]),
        trace(6, vec![s(1, 0, "GET /", "frontend", Server, 60000, 10, Unset, vec![code(200)])]),
        trace(7, vec![s(1, 0, "GET /", "frontend", Server, -1, 10, Unset, vec![code(200)])]),
    ]
}

/// (start, end) in seconds after T0 and the step in seconds.
fn request(start: i64, end: i64, step: u64) -> MetricsRequest {
    MetricsRequest {
        start_ns: (i128::from(T0) + i128::from(start) * i128::from(SECOND)) as u64,
        end_ns: (i128::from(T0) + i128::from(end) * i128::from(SECOND)) as u64,
        step_ns: step * SECOND,
    }
}

const DEFAULT: (i64, i64, u64) = (0, 60, 10);

fn run_on(query: &str, range: (i64, i64, u64), traces: &[Vec<Span>]) -> Result<Vec<MetricsSeries>, EvalError> {
    let q = parse_and_validate(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut m = MetricsEvaluator::new(&q, &request(range.0, range.1, range.2))?;
    for t in traces {
        m.observe(t)?;
    }
    Ok(m.finish())
}

fn run(query: &str, range: (i64, i64, u64)) -> Vec<MetricsSeries> {
    run_on(query, range, &traces()).unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn num(v: f64) -> String {
    let r = (v * 1e9).round() / 1e9;
    format!("{r}")
}

fn labels(l: &[(String, Value)]) -> String {
    let kv: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", kv.join(","))
}

fn render(series: &[MetricsSeries]) -> String {
    let lines: Vec<String> = series
        .iter()
        .map(|s| {
            let mut line = labels(&s.labels);
            for &(t, v) in &s.samples {
                let secs = (i128::from(t) - i128::from(T0)) as f64 / 1e9;
                line.push_str(&format!(" {secs}:{}", num(v)));
            }
            line
        })
        .collect();
    lines.join("\n")
}

/// (query, range, expected result).
const CASES: &[(&str, (i64, i64, u64), &str)] = &[
    // ---- rate and count_over_time
    ("{ } | count_over_time()", DEFAULT, "{} 0:4 10:1 20:3 50:1"),
    ("{ } | rate()", DEFAULT, "{} 0:0.4 10:0.1 20:0.3 50:0.1"),
    ("{ status = error } | rate()", DEFAULT, "{} 0:0.2 20:0.1"),
    ("{ status = error } | count_over_time()", DEFAULT, "{} 0:2 20:1"),
    ("{ name = \"nope\" } | rate()", DEFAULT, ""),
    (
        "{ span.http.status_code >= 500 } | count_over_time() by (resource.service.name)",
        DEFAULT,
        "{resource.service.name=checkout} 0:1 20:1\n{resource.service.name=payment} 0:1",
    ),
    // ---- by()
    (
        "{ } | count_over_time() by (resource.service.name)",
        DEFAULT,
        "{resource.service.name=checkout} 0:1 20:1\n{resource.service.name=frontend} 0:2 10:1 20:1 50:1\n{resource.service.name=payment} 0:1 20:1",
    ),
    (
        "{ status = error } | rate() by (resource.service.name)",
        DEFAULT,
        "{resource.service.name=checkout} 0:0.1 20:0.1\n{resource.service.name=payment} 0:0.1",
    ),
    (
        "{ } | count_over_time() by (span.http.status_code)",
        DEFAULT,
        "{span.http.status_code=200} 0:2 20:2 50:1\n{span.http.status_code=404} 10:1\n{span.http.status_code=500} 0:1 20:1\n{span.http.status_code=502} 0:1",
    ),
    (
        "{ } | count_over_time() by (status)",
        DEFAULT,
        "{status=error} 0:2 20:1\n{status=ok} 20:1\n{status=unset} 0:2 10:1 20:1 50:1",
    ),
    (
        "{ } | count_over_time() by (name)",
        DEFAULT,
        "{name=GET /} 0:2 10:1 20:1 50:1\n{name=charge} 0:1 20:1\n{name=pay} 0:1 20:1",
    ),
    ("{ } | count_over_time() by (kind)", DEFAULT, "{kind=client} 0:1 20:1\n{kind=server} 0:3 10:1 20:2 50:1"),
    (
        "{ } | count_over_time() by (resource.service.name, name)",
        DEFAULT,
        "{resource.service.name=checkout,name=charge} 0:1 20:1\n{resource.service.name=frontend,name=GET /} 0:2 10:1 20:1 50:1\n{resource.service.name=payment,name=pay} 0:1 20:1",
    ),
    ("{ } | count_over_time() by (span.missing)", DEFAULT, "{span.missing=nil} 0:4 10:1 20:3 50:1"),
    (
        "{ } | count_over_time() by (span.http.response_content_length)",
        DEFAULT,
        "{span.http.response_content_length=nil} 0:2 20:2 50:1\n{span.http.response_content_length=500} 10:1\n{span.http.response_content_length=1000} 0:1\n{span.http.response_content_length=2000} 20:1\n{span.http.response_content_length=3000} 0:1",
    ),
    (
        "{ } | count_over_time() by (.service.name)",
        DEFAULT,
        "{.service.name=checkout} 0:1 20:1\n{.service.name=frontend} 0:2 10:1 20:1 50:1\n{.service.name=payment} 0:1 20:1",
    ),
    // ---- min/max/avg/sum_over_time
    ("{ } | min_over_time(duration)", DEFAULT, "{} 0:0.05 10:0.3 20:0.1 50:2"),
    ("{ } | max_over_time(duration)", DEFAULT, "{} 0:0.2 10:0.3 20:1 50:2"),
    ("{ } | avg_over_time(duration)", DEFAULT, "{} 0:0.125 10:0.3 20:0.5 50:2"),
    ("{ } | sum_over_time(duration)", DEFAULT, "{} 0:0.5 10:0.3 20:1.5 50:2"),
    ("{ } | sum_over_time(span.http.response_content_length)", DEFAULT, "{} 0:4000 10:500 20:2000"),
    (
        "{ } | avg_over_time(span.http.response_content_length) by (resource.service.name)",
        DEFAULT,
        "{resource.service.name=frontend} 0:2000 10:500 20:2000",
    ),
    (
        "{ } | min_over_time(span.http.status_code) by (resource.service.name)",
        DEFAULT,
        "{resource.service.name=checkout} 0:500 20:500\n{resource.service.name=frontend} 0:200 10:404 20:200 50:200\n{resource.service.name=payment} 0:502 20:200",
    ),
    ("{ } | max_over_time(span.http.status_code)", DEFAULT, "{} 0:502 10:404 20:500 50:200"),
    ("{ } | sum_over_time(span.http.status_code)", DEFAULT, "{} 0:1402 10:404 20:900 50:200"),
    (
        "{ } | avg_over_time(duration) by (resource.service.name)",
        DEFAULT,
        "{resource.service.name=checkout} 0:0.05 20:0.4\n{resource.service.name=frontend} 0:0.15 10:0.3 20:1 50:2\n{resource.service.name=payment} 0:0.15 20:0.1",
    ),
    (
        "{ status = error } | max_over_time(duration) by (name)",
        DEFAULT,
        "{name=charge} 0:0.05 20:0.4\n{name=pay} 0:0.15",
    ),
    // ---- histogram_over_time: buckets (2^(e-1), 2^e] of nanoseconds, labelled in seconds
    (
        "{ } | histogram_over_time(duration)",
        DEFAULT,
        "{__bucket=0.067108864} 0:1\n{__bucket=0.134217728} 0:1 20:1\n{__bucket=0.268435456} 0:2\n{__bucket=0.536870912} 10:1 20:1\n{__bucket=1.073741824} 20:1\n{__bucket=2.147483648} 50:1",
    ),
    (
        "{ } | histogram_over_time(span.http.status_code)",
        DEFAULT,
        "{__bucket=256} 0:2 20:2 50:1\n{__bucket=512} 0:2 10:1 20:1",
    ),
    (
        "{ } | histogram_over_time(duration) by (resource.service.name)",
        DEFAULT,
        "{resource.service.name=checkout,__bucket=0.067108864} 0:1\n{resource.service.name=checkout,__bucket=0.536870912} 20:1\n{resource.service.name=frontend,__bucket=0.134217728} 0:1\n{resource.service.name=frontend,__bucket=0.268435456} 0:1\n{resource.service.name=frontend,__bucket=0.536870912} 10:1\n{resource.service.name=frontend,__bucket=1.073741824} 20:1\n{resource.service.name=frontend,__bucket=2.147483648} 50:1\n{resource.service.name=payment,__bucket=0.134217728} 20:1\n{resource.service.name=payment,__bucket=0.268435456} 0:1",
    ),
    // ---- topk / bottomk per step (ties go to the series sorting first)
    (
        "{ } | count_over_time() by (resource.service.name) | topk(1)",
        DEFAULT,
        "{resource.service.name=checkout} 20:1\n{resource.service.name=frontend} 0:2 10:1 50:1",
    ),
    (
        "{ } | count_over_time() by (resource.service.name) | bottomk(1)",
        DEFAULT,
        "{resource.service.name=checkout} 0:1 20:1\n{resource.service.name=frontend} 10:1 50:1",
    ),
    (
        "{ } | count_over_time() by (resource.service.name) | topk(2)",
        DEFAULT,
        "{resource.service.name=checkout} 0:1 20:1\n{resource.service.name=frontend} 0:2 10:1 20:1 50:1",
    ),
    (
        "{ } | max_over_time(duration) by (resource.service.name) | bottomk(1)",
        DEFAULT,
        "{resource.service.name=checkout} 0:0.05\n{resource.service.name=frontend} 10:0.3 50:2\n{resource.service.name=payment} 20:0.1",
    ),
    // ---- thresholds after the function
    ("{ } | count_over_time() by (resource.service.name) > 1", DEFAULT, "{resource.service.name=frontend} 0:2"),
    ("{ } | max_over_time(duration) > 500ms", DEFAULT, "{} 20:1 50:2"),
    ("{ } | rate() < 0.2", DEFAULT, "{} 10:0.1 50:0.1"),
    ("{ } | count_over_time() = 3", DEFAULT, "{} 20:3"),
    (
        "{ } | count_over_time() by (resource.service.name) >= 1 | topk(1)",
        DEFAULT,
        "{resource.service.name=checkout} 20:1\n{resource.service.name=frontend} 0:2 10:1 50:1",
    ),
    // ---- the spanset half is the search pipeline
    ("{ resource.service.name = \"frontend\" } > { status = error } | count_over_time()", DEFAULT, "{} 0:2 20:1"),
    ("{ } | count() > 2 | count_over_time()", DEFAULT, "{} 20:3"),
    ("{ status = error } >> { } | count_over_time() by (name)", DEFAULT, "{name=pay} 20:1"),
    // ---- ranges: widened to step multiples unless one step long
    ("{ } | count_over_time()", (3, 27, 10), "{} 0:4 10:1 20:3"),
    ("{ } | count_over_time()", (10, 30, 10), "{} 10:1 20:3"),
    ("{ } | rate()", (0, 70, 60), "{} -20:0.15 40:0.033333333"),
    ("{ } | rate()", (0, 60, 60), "{} 0:0.15"),
    ("{ } | count_over_time()", (1, 26, 25), "{} 1:8"),
    ("{ } | count_over_time()", (-10, 70, 10), "{} -10:1 0:4 10:1 20:3 50:1 60:1"),
];

#[test]
fn cases() {
    let mut failures = Vec::new();
    for (query, range, want) in CASES {
        match run_on(query, *range, &traces()) {
            Ok(series) => {
                let got = render(&series);
                if got != *want {
                    failures.push(format!("{query} {range:?}\n    want: {want:?}\n    got:  {got:?}"));
                }
            }
            Err(e) => failures.push(format!("{query}: {e}")),
        }
    }
    println!("traceql metrics: {} cases, {} failed", CASES.len(), failures.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(CASES.len() >= 40);
}

/// 2^e nanoseconds in seconds, rendered.
fn pow2_ns(e: f64) -> String {
    num(2f64.powf(e) / 1e9)
}

#[test]
fn quantiles_of_durations() {
    // step 0: 50ms in bucket 26, 100ms in 27, 150ms and 200ms in 28 (n = 4)
    //   p50: rank 2 ends bucket 27 -> 2^27; p90: rank 3.6, 1.6 of bucket 28's 2 -> 2^27.8
    // step 10: 300ms in 29: p50 2^28.5, p90 2^28.9
    // step 20: 100ms in 27, 400ms in 29, 1000ms in 30
    //   p50: rank 1.5, half of bucket 29 -> 2^28.5; p90: rank 2.7, 0.7 of bucket 30 -> 2^29.7
    // step 50: 2000ms in 31: p50 2^30.5, p90 2^30.9
    let want = format!(
        "{{p=0.5}} 0:{} 10:{} 20:{} 50:{}\n{{p=0.9}} 0:{} 10:{} 20:{} 50:{}",
        pow2_ns(27.0),
        pow2_ns(28.5),
        pow2_ns(28.5),
        pow2_ns(30.5),
        pow2_ns(27.8),
        pow2_ns(28.9),
        pow2_ns(29.7),
        pow2_ns(30.9),
    );
    assert_eq!(render(&run("{ } | quantile_over_time(duration, .9, .5)", DEFAULT)), want);
}

#[test]
fn quantile_label_is_p_and_a_float() {
    let series = run("{ } | quantile_over_time(duration, .99) by (resource.service.name)", DEFAULT);
    assert_eq!(series.len(), 3);
    assert_eq!(
        series[0].labels,
        vec![
            ("resource.service.name".to_string(), Value::Str("checkout".to_string())),
            ("p".to_string(), Value::Float(0.99)),
        ]
    );
}

#[test]
fn quantiles_zero_and_one_are_the_bucket_bounds() {
    // step 0: buckets 26, 27, 28 -> q=0 is the lower bound 2^25, q=1 the upper bound 2^28
    let series = run("{ } | quantile_over_time(duration, 0, 1)", (0, 10, 10));
    assert_eq!(render(&series), format!("{{p=0}} 0:{}\n{{p=1}} 0:{}", pow2_ns(25.0), pow2_ns(28.0)));
}

#[test]
fn quantiles_of_an_integer_attribute() {
    // step 0: 200, 200 in bucket 8 (128, 256]; 500, 502 in bucket 9: rank 2 ends bucket 8 -> 256
    // step 10: 404 in 9: 2^8.5; step 20: 200, 200, 500: rank 1.5 is 0.75 of bucket 8 -> 2^7.75
    // step 50: 200: 2^7.5
    let want =
        format!("{{p=0.5}} 0:256 10:{} 20:{} 50:{}", num(2f64.powf(8.5)), num(2f64.powf(7.75)), num(2f64.powf(7.5)));
    assert_eq!(render(&run("{ } | quantile_over_time(span.http.status_code, .5)", DEFAULT)), want);
}

#[test]
fn quantiles_by_service() {
    // checkout: step 0 50ms (26), step 20 400ms (29); frontend: 100ms (27) + 200ms (28) at 0,
    // then one value per step; payment: 150ms (28) at 0, 100ms (27) at 20.
    let want = format!(
        "{{resource.service.name=checkout,p=0.5}} 0:{} 20:{}\n{{resource.service.name=frontend,p=0.5}} 0:{} 10:{} 20:{} 50:{}\n{{resource.service.name=payment,p=0.5}} 0:{} 20:{}",
        pow2_ns(25.5),
        pow2_ns(28.5),
        pow2_ns(27.0),
        pow2_ns(28.5),
        pow2_ns(29.5),
        pow2_ns(30.5),
        pow2_ns(27.5),
        pow2_ns(26.5),
    );
    assert_eq!(render(&run("{ } | quantile_over_time(duration, .5) by (resource.service.name)", DEFAULT)), want);
}

#[test]
fn topk_over_quantiles_keeps_the_highest_quantile() {
    let want = format!("{{p=0.9}} 0:{} 10:{} 20:{} 50:{}", pow2_ns(27.8), pow2_ns(28.9), pow2_ns(29.7), pow2_ns(30.9));
    assert_eq!(render(&run("{ } | quantile_over_time(duration, .5, .9) | topk(1)", DEFAULT)), want);
}

#[test]
fn labels_keep_their_types() {
    let series = run("{ } | count_over_time() by (span.http.status_code, status)", DEFAULT);
    assert_eq!(
        series[0].labels,
        vec![
            ("span.http.status_code".to_string(), Value::Int(200)),
            ("status".to_string(), Value::Status(StatusCode::Ok)),
        ]
    );
    let series = run("{ } | histogram_over_time(span.http.status_code)", DEFAULT);
    assert_eq!(series[0].labels, vec![("__bucket".to_string(), Value::Float(256.0))]);
}

fn tid(n: u8) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[15] = n;
    id
}

fn at_ms(ms: u64) -> u64 {
    T0 + ms * 1_000_000
}

#[test]
fn exemplars_of_counts_carry_the_sample() {
    // The first span seen in each step, valued at the step's sample.
    let series = run("{ } | count_over_time()", DEFAULT);
    assert_eq!(
        series[0].exemplars,
        vec![
            (at_ms(1000), 4.0, tid(1)),
            (at_ms(12000), 1.0, tid(3)),
            (at_ms(25000), 3.0, tid(4)),
            (at_ms(59999), 1.0, tid(5))
        ]
    );
    let series = run("{ } | rate()", DEFAULT);
    assert_eq!(series[0].exemplars[0], (at_ms(1000), 0.4, tid(1)));
}

#[test]
fn exemplars_of_values_carry_the_value() {
    let series = run("{ } | max_over_time(duration)", DEFAULT);
    assert_eq!(
        series[0].exemplars,
        vec![
            (at_ms(1000), 0.1, tid(1)),
            (at_ms(12000), 0.3, tid(3)),
            (at_ms(25000), 1.0, tid(4)),
            (at_ms(59999), 2.0, tid(5))
        ]
    );
    // topk drops the exemplars of the steps it drops.
    let series = run("{ } | count_over_time() by (resource.service.name) | topk(1)", DEFAULT);
    assert_eq!(series[0].exemplars, vec![(at_ms(25100), 1.0, tid(4))]);
}

fn one_span_per_second(n: u64, attr: impl Fn(u64) -> Attr) -> Vec<Vec<Span>> {
    (0..n)
        .map(|i| {
            let id = (i % 250) as u8 + 1;
            trace(
                id,
                vec![s(1, 0, "x", "svc", SpanKind::Server, (i * 1000) as i64, 1, StatusCode::Unset, vec![attr(i)])],
            )
        })
        .collect()
}

#[test]
fn exemplars_are_capped_and_spread() {
    let traces = one_span_per_second(1000, code_of);
    let series = run_on("{ } | count_over_time()", (0, 1000, 1), &traces).unwrap();
    assert_eq!(series[0].samples.len(), 1000);
    let ex = &series[0].exemplars;
    assert_eq!(ex.len(), seer_traceql::MAX_EXEMPLARS);
    // One per 10 steps: the first span of each slice.
    assert_eq!(ex[0].0, T0);
    assert_eq!(ex[1].0, T0 + 10 * SECOND);
    assert_eq!(ex[99].0, T0 + 990 * SECOND);
}

fn code_of(i: u64) -> Attr {
    code(i as i64)
}

#[test]
fn series_limit() {
    let q = parse_and_validate("{ } | count_over_time() by (span.http.status_code)").unwrap();
    let traces = one_span_per_second(10_001, code_of);
    let mut m = MetricsEvaluator::new(&q, &request(0, 20_000, 10)).unwrap();
    for t in &traces[..10_000] {
        m.observe(t).unwrap();
    }
    assert_eq!(m.series_count(), 10_000);
    assert!(matches!(m.observe(&traces[10_000]), Err(EvalError::TooComplex(_))));
    // A known series still counts.
    m.observe(&traces[0]).unwrap();
    assert_eq!(m.finish().len(), 10_000);
}

#[test]
fn series_limit_counts_each_quantile() {
    let q = parse_and_validate("{ } | quantile_over_time(duration, .5, .9) by (span.http.status_code)").unwrap();
    let traces = one_span_per_second(5_001, code_of);
    let mut m = MetricsEvaluator::new(&q, &request(0, 20_000, 10)).unwrap();
    for t in &traces[..5_000] {
        m.observe(t).unwrap();
    }
    assert_eq!(m.series_count(), 10_000);
    assert!(matches!(m.observe(&traces[5_000]), Err(EvalError::TooComplex(_))));
}

#[test]
fn series_count() {
    let count = |query: &str| {
        let q = parse_and_validate(query).unwrap();
        let mut m = MetricsEvaluator::new(&q, &request(0, 60, 10)).unwrap();
        for t in traces() {
            m.observe(&t).unwrap();
        }
        m.series_count()
    };
    assert_eq!(count("{ } | rate()"), 1);
    assert_eq!(count("{ } | rate() by (resource.service.name)"), 3);
    assert_eq!(count("{ } | quantile_over_time(duration, .5, .9, .99) by (resource.service.name)"), 9);
    assert_eq!(count("{ } | histogram_over_time(duration)"), 6);
}

#[test]
fn request_errors() {
    let q = parse_and_validate("{ } | rate()").unwrap();
    let invalid = |r: MetricsRequest| matches!(MetricsEvaluator::new(&q, &r), Err(EvalError::InvalidRequest(_)));
    assert!(invalid(MetricsRequest { start_ns: T0, end_ns: T0 + SECOND, step_ns: 0 }));
    assert!(invalid(request(10, 10, 1)));
    assert!(invalid(request(10, 0, 1)));
    assert!(invalid(request(0, 11_001, 1)));
    assert!(MetricsEvaluator::new(&q, &request(0, 11_000, 1)).is_ok());
    assert!(invalid(MetricsRequest { start_ns: 0, end_ns: u64::MAX, step_ns: 7 }));
}

#[test]
fn query_errors() {
    let req = request(0, 60, 10);
    let search = parse_and_validate("{ status = error }").unwrap();
    assert_eq!(MetricsEvaluator::new(&search, &req).err(), Some(EvalError::NotMetricsQuery));
    let bad = parse("{ } | quantile_over_time(duration, 2)").unwrap();
    assert!(matches!(MetricsEvaluator::new(&bad, &req), Err(EvalError::InvalidRequest(_))));
    let grouped = parse_and_validate("{ } | compare({ status = error }) by (name)").unwrap();
    assert!(matches!(MetricsEvaluator::new(&grouped, &req), Err(EvalError::Unsupported(_))));
}

#[test]
fn nothing_observed_gives_no_series() {
    let q = parse_and_validate("{ } | rate() by (resource.service.name)").unwrap();
    let mut m = MetricsEvaluator::new(&q, &request(0, 60, 10)).unwrap();
    m.observe(&[]).unwrap();
    assert_eq!(m.series_count(), 0);
    assert!(m.finish().is_empty());
}

#[test]
fn a_span_in_several_spansets_counts_once() {
    // `by()` splits the trace into one spanset per service; `&& { }` unions each with all spans.
    let q = "({ } | by(resource.service.name)) && { } | count_over_time()";
    assert_eq!(render(&run(q, DEFAULT)), "{} 0:4 10:1 20:3 50:1");
}

#[test]
fn each_observed_trace_counts() {
    let t = traces();
    let twice: Vec<Vec<Span>> = t.iter().chain(t.iter()).cloned().collect();
    let series = run_on("{ } | count_over_time()", DEFAULT, &twice).unwrap();
    assert_eq!(render(&series), "{} 0:8 10:2 20:6 50:2");
}

/// The compare series of one attribute.
fn compare_of(series: &[MetricsSeries], attr: &str) -> String {
    let kept: Vec<MetricsSeries> = series.iter().filter(|s| s.labels.iter().any(|(k, _)| k == attr)).cloned().collect();
    render(&kept)
}

#[test]
fn compare_splits_selection_and_baseline() {
    let series = run("{ } | compare({ status = error })", DEFAULT);
    assert_eq!(
        compare_of(&series, "resource.service.name"),
        "{__meta_type=baseline,resource.service.name=frontend} 0:2 10:1 20:1 50:1\n{__meta_type=baseline,resource.service.name=payment} 20:1\n{__meta_type=selection,resource.service.name=checkout} 0:1 20:1\n{__meta_type=selection,resource.service.name=payment} 0:1"
    );
    assert_eq!(
        compare_of(&series, "status"),
        "{__meta_type=baseline,status=ok} 20:1\n{__meta_type=baseline,status=unset} 0:2 10:1 20:1 50:1\n{__meta_type=selection,status=error} 0:2 20:1"
    );
    assert_eq!(
        compare_of(&series, "span.http.status_code"),
        "{__meta_type=baseline,span.http.status_code=200} 0:2 20:2 50:1\n{__meta_type=baseline,span.http.status_code=404} 10:1\n{__meta_type=selection,span.http.status_code=500} 0:1 20:1\n{__meta_type=selection,span.http.status_code=502} 0:1"
    );
}

#[test]
fn compare_top_n_reports_too_many_values() {
    let series = run("{ } | compare({ status = error }, 1)", DEFAULT);
    assert_eq!(
        compare_of(&series, "resource.service.name"),
        "{__meta_error=__too_many_values__,resource.service.name=nil} 0:1 20:1\n{__meta_type=baseline,resource.service.name=frontend} 0:2 10:1 20:1 50:1\n{__meta_type=selection,resource.service.name=checkout} 0:1 20:1"
    );
    // The baseline has one kind; the selection has two clients and one server (t2's "pay").
    assert_eq!(
        compare_of(&series, "kind"),
        "{__meta_error=__too_many_values__,kind=nil} 0:1\n{__meta_type=baseline,kind=server} 0:2 10:1 20:2 50:1\n{__meta_type=selection,kind=client} 0:1 20:1"
    );
}

#[test]
fn compare_window_limits_the_selection() {
    let series = run("{ } | compare({ status = error }, 10, 1700000020000000000, 1700000030000000000)", DEFAULT);
    assert_eq!(
        compare_of(&series, "resource.service.name"),
        "{__meta_type=baseline,resource.service.name=checkout} 0:1\n{__meta_type=baseline,resource.service.name=frontend} 0:2 10:1 20:1 50:1\n{__meta_type=baseline,resource.service.name=payment} 0:1 20:1\n{__meta_type=selection,resource.service.name=checkout} 20:1"
    );
}

#[test]
fn compare_of_a_filtered_pipeline() {
    // Only frontend spans enter; the slow ones (> 250ms) are the selection.
    let series = run("{ resource.service.name = \"frontend\" } | compare({ duration > 250ms })", DEFAULT);
    assert_eq!(
        compare_of(&series, "span.http.status_code"),
        "{__meta_type=baseline,span.http.status_code=200} 0:2\n{__meta_type=selection,span.http.status_code=200} 20:1 50:1\n{__meta_type=selection,span.http.status_code=404} 10:1"
    );
}
