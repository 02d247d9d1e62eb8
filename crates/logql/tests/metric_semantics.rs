//! Table-driven semantics of the LogQL evaluator ([`seer_logql::execute`]) over an in-memory
//! store. Expectations are derived by hand from Loki's documentation and evaluator code:
//! windows are `(t - range - offset, t - offset]`, log ranges are `[start, end)`.
//!
//! Result notation: vectors `{labels} value; ...`, matrices `{labels} [t:v t:v]; ...` (t in
//! seconds), streams `{labels} [t:line t:line]; ...`, scalars `scalar v`, errors `ERR: <substring>`.
//! Values are printed with at most 6 decimals.

use seer_logql::{Direction, EvalError, QueryParams, QueryResult, execute, parse};
use seer_model::{Label, Labels, LogQueryable, Matcher, StorageError};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const S: i64 = 1_000_000_000;

/// The scan callback of [`LogQueryable::scan_entries`].
type EntryFn<'a> = dyn FnMut(&Labels, i64, &str, &[Label]) -> bool + 'a;

/// An in-memory store: entries are handed out per stream in label order, within a stream in
/// insertion order (deliberately not time-sorted in the data set).
struct Mem {
    entries: Vec<Entry>,
}

/// `(stream labels, ts ns, line, structured metadata)`.
type Entry = (Labels, i64, String, Vec<Label>);

impl LogQueryable for Mem {
    fn scan_entries(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        f: &mut EntryFn<'_>,
    ) -> Result<(), StorageError> {
        let mut streams: BTreeMap<Labels, Vec<&Entry>> = BTreeMap::new();
        for e in &self.entries {
            if e.1 >= start && e.1 < end && matchers.iter().all(|m| m.matches(e.0.get(&m.name).unwrap_or(""))) {
                streams.entry(e.0.clone()).or_default().push(e);
            }
        }
        for (labels, es) in streams {
            for e in es {
                if !f(&labels, e.1, &e.2, &e.3) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

fn lbs(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
}

fn store() -> Mem {
    let api = lbs(&[("app", "api"), ("env", "prod")]);
    let web = lbs(&[("app", "web"), ("env", "prod")]);
    let db = lbs(&[("app", "db"), ("env", "dev")]);
    let ctr = lbs(&[("app", "ctr")]);
    let meta = lbs(&[("app", "meta")]);
    let tie = lbs(&[("app", "tie")]);
    let e = |l: &Labels, t: i64, line: &str| (l.clone(), t * S, line.to_string(), Vec::new());
    let mut entries = vec![
        // api: out of time order on purpose.
        e(&api, 10, r#"level=info latency=100ms size=1KB status=200 msg="ok""#),
        e(&api, 30, r#"level=info latency=50ms size=512B status=200 msg="ok""#),
        e(&api, 20, r#"level=error latency=250ms size=2KB status=500 msg="fail""#),
        e(&api, 55, r#"level=info latency=150ms size=1KB status=200 msg="ok""#),
        e(&api, 40, r#"level=warn latency=1s size=4KB status=404 msg="miss""#),
        e(&web, 15, "level=info latency=20ms size=10B status=200"),
        e(&web, 25, "level=info latency=abc size=10B status=200"),
        e(&web, 35, "level=error latency=5ms size=30B status=503"),
        e(&db, 22, r#"{"level":"info","rows":30}"#),
        e(&db, 12, r#"{"level":"info","rows":10}"#),
        e(&db, 32, "not json"),
        e(&ctr, 10, "counter=1"),
        e(&ctr, 20, "counter=3"),
        e(&ctr, 30, "counter=6"),
        e(&ctr, 40, "counter=2"),
        e(&ctr, 50, "counter=5"),
        e(&tie, 10, "first"),
        e(&tie, 10, "second"),
        e(&tie, 5, "early"),
    ];
    entries.push((meta.clone(), 10 * S, "hello".into(), vec![Label::new("trace_id", "abc")]));
    entries.push((meta, 20 * S, "world".into(), vec![Label::new("trace_id", "def")]));
    Mem { entries }
}

fn fmt_v(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn fmt_t(t: i64) -> String {
    if t % S == 0 { (t / S).to_string() } else { format!("{}", t as f64 / S as f64) }
}

fn fmt(r: &QueryResult) -> String {
    match r {
        QueryResult::Scalar(v) => format!("scalar {}", fmt_v(*v)),
        QueryResult::Vector(v) => v.iter().map(|(l, x)| format!("{l} {}", fmt_v(*x))).collect::<Vec<_>>().join("; "),
        QueryResult::Matrix(m) => m
            .iter()
            .map(|s| {
                let pts: Vec<String> = s.points.iter().map(|(t, v)| format!("{}:{}", fmt_t(*t), fmt_v(*v))).collect();
                format!("{} [{}]", s.labels, pts.join(" "))
            })
            .collect::<Vec<_>>()
            .join("; "),
        QueryResult::Streams(st) => st
            .iter()
            .map(|s| {
                let es: Vec<String> = s.entries.iter().map(|(t, l)| format!("{}:{l}", fmt_t(*t))).collect();
                format!("{} [{}]", s.labels, es.join(" "))
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn params(start: i64, end: i64, step: i64) -> QueryParams {
    QueryParams {
        start_ns: start * S,
        end_ns: end * S,
        step_ns: step * S,
        interval_ns: 0,
        limit: 100,
        direction: Direction::Backward,
        deadline: None,
        max_series: 0,
    }
}

fn run(q: &str, p: &QueryParams) -> String {
    let expr = match parse(q) {
        Ok(e) => e,
        Err(e) => return format!("PARSE: {e}"),
    };
    match execute(&store(), &expr, p) {
        Ok((r, _)) => fmt(&r),
        Err(e) => format!("ERR: {e}"),
    }
}

fn check(cases: &[(&str, QueryParams, &str)]) {
    let mut failures = Vec::new();
    for (q, p, want) in cases {
        let got = run(q, p);
        let ok = match want.strip_prefix("ERR: ") {
            Some(sub) => got.starts_with("ERR: ") && got.contains(sub),
            None => got == *want,
        };
        if !ok {
            failures.push(format!("query: {q}\n  want: {want}\n  got:  {got}"));
        }
    }
    assert!(failures.is_empty(), "{} failing cases:\n{}", failures.len(), failures.join("\n"));
}

/// An instant query at `t` seconds.
fn at(t: i64) -> QueryParams {
    params(t, t, 0)
}

const API: &str = r#"{app="api", env="prod"}"#;

#[test]
fn range_aggregations() {
    let api = API;
    let cases: Vec<(&str, QueryParams, String)> = vec![
        (r#"count_over_time({app="api"}[60s])"#, at(60), format!("{api} 5")),
        (r#"count_over_time({app="api"}[30s])"#, at(40), format!("{api} 3")),
        // right-closed, left-open
        (r#"count_over_time({app="api"}[10s])"#, at(20), format!("{api} 1")),
        (r#"count_over_time({app="api"}[10s])"#, at(50), String::new()),
        (r#"count_over_time({env="prod"}[60s])"#, at(60), format!(r#"{api} 5; {{app="web", env="prod"}} 3"#)),
        (r#"count_over_time({app="api"} |= "ok" [60s])"#, at(60), format!("{api} 3")),
        (r#"count_over_time({app="api"} | logfmt level | level="info" [60s])"#, at(60), r#"{app="api", env="prod", level="info"} 3"#.into()),
        (r#"rate({app="api"}[60s])"#, at(60), format!("{api} 0.083333")),
        (r#"bytes_over_time({app="web"}[60s])"#, at(60), r#"{app="web", env="prod"} 128"#.into()),
        (r#"bytes_rate({app="web"}[64s])"#, at(60), r#"{app="web", env="prod"} 2"#.into()),
        // bytes of the line as the pipeline leaves it
        (r#"bytes_over_time({app="web"} | logfmt | line_format "{{.level}}" | drop level, latency, size, status [60s])"#, at(60), r#"{app="web", env="prod"} 13"#.into()),
        (r#"sum_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 1.55")),
        (r#"sum_over_time({app="api"} | logfmt latency | unwrap duration_seconds(latency) [60s])"#, at(60), format!("{api} 1.55")),
        (r#"avg_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.31")),
        (r#"min_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.05")),
        (r#"max_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 1")),
        (r#"first_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.1")),
        (r#"last_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.15")),
        (r#"stdvar_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.1234")),
        (r#"stddev_over_time({app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.351283")),
        (r#"quantile_over_time(0.5, {app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.15")),
        (r#"quantile_over_time(0.9, {app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.7")),
        (r#"quantile_over_time(0, {app="api"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), format!("{api} 0.05")),
        (r#"sum_over_time({app="api"} | logfmt size | unwrap bytes(size) [60s])"#, at(60), format!("{api} 8512")),
        (r#"sum_over_time({app="api"} | logfmt status | unwrap status [60s])"#, at(60), format!("{api} 1504")),
        (r#"rate({app="api"} | logfmt status | unwrap status [60s])"#, at(60), format!("{api} 25.066667")),
        // unwrapped label kept when the `by` grouping names it
        (r#"max_over_time({app="api"} | logfmt | unwrap status [60s]) by (status)"#, at(60), r#"{status="200"} 200; {status="404"} 404; {status="500"} 500"#.into()),
        (r#"max_over_time({app="api"} | logfmt | unwrap duration(latency) [60s]) by (level)"#, at(60), r#"{level="error"} 0.25; {level="info"} 0.15; {level="warn"} 1"#.into()),
        (r#"max_over_time({app="api"} | logfmt status | unwrap status [60s]) without (env)"#, at(60), r#"{app="api"} 500"#.into()),
        // conversion errors fail the query unless filtered
        (r#"sum_over_time({app="web"} | logfmt latency | unwrap duration(latency) [60s])"#, at(60), "ERR: pipeline error: 'SampleExtractionErr' for series: '{__error__=\"SampleExtractionErr\"".into()),
        (r#"sum_over_time({app="web"} | logfmt latency | unwrap duration(latency) | __error__="" [60s])"#, at(60), r#"{app="web", env="prod"} 0.025"#.into()),
        (r#"sum_over_time({app="web"} | logfmt latency | unwrap duration(latency) [60s])"#, at(20), r#"{app="web", env="prod"} 0.02"#.into()),
        (r#"count_over_time({app="db"} | json [60s])"#, at(60), "ERR: Use a label filter to intentionally skip this error. (e.g | __error__!=\"JSONParserErr\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )".into()),
        (r#"count_over_time({app="db"} | json | __error__="" [60s])"#, at(60), r#"{app="db", env="dev", level="info", rows="10"} 1; {app="db", env="dev", level="info", rows="30"} 1"#.into()),
        (r#"sum_over_time({app="db"} | json | __error__="" | unwrap rows [60s])"#, at(60), r#"{app="db", env="dev", level="info"} 40"#.into()),
        // absent_over_time
        (r#"absent_over_time({app="nope", env="prod"}[60s])"#, at(60), r#"{app="nope", env="prod"} 1"#.into()),
        (r#"absent_over_time({app="nope", env=~"p.*"}[60s])"#, at(60), r#"{app="nope"} 1"#.into()),
        (r#"absent_over_time({app="api"}[60s])"#, at(60), String::new()),
        (r#"absent_over_time({app="api"}[5s])"#, params(10, 60, 10), r#"{app="api"} [50:1 60:1]"#.into()),
        // range queries and offset
        (r#"count_over_time({app="api"}[10s])"#, params(10, 60, 10), format!("{api} [10:1 20:1 30:1 40:1 60:1]")),
        (r#"count_over_time({app="api"}[10s] offset 10s)"#, at(60), String::new()),
        (r#"count_over_time({app="api"}[10s] offset 10s)"#, at(65), format!("{api} 1")),
        (r#"count_over_time({app="api"}[10s] offset 10s)"#, params(20, 60, 20), format!("{api} [20:1 40:1]")),
        // rate_counter: Loki's extrapolated counter rate (reset 6 -> 2)
        (r#"rate_counter({app="ctr"} | logfmt | unwrap counter [60s])"#, at(60), r#"{app="ctr"} 0.166667"#.into()),
        (r#"rate_counter({app="ctr"} | logfmt | unwrap counter [5s])"#, at(50), r#"{app="ctr"} 0"#.into()),
        // structured metadata joins the labels
        (r#"count_over_time({app="meta"}[60s])"#, at(60), r#"{app="meta", trace_id="abc"} 1; {app="meta", trace_id="def"} 1"#.into()),
        (r#"bytes_over_time({app="meta"} | trace_id="def" [60s])"#, at(60), r#"{app="meta", trace_id="def"} 5"#.into()),
    ];
    let cases: Vec<(&str, QueryParams, &str)> = cases.iter().map(|(q, p, w)| (*q, p.clone(), w.as_str())).collect();
    check(&cases);
}

#[test]
fn vector_aggregations_and_binops() {
    let api = API;
    let prod = r#"{env="prod"}"#;
    let cases: Vec<(&str, QueryParams, String)> = vec![
        (r#"sum(count_over_time({env="prod"}[60s]))"#, at(60), "{} 8".into()),
        (r#"sum by (env) (count_over_time({env=~".+"}[60s]))"#, at(60), format!(r#"{{env="dev"}} 3; {prod} 8"#)),
        (r#"sum without (app) (count_over_time({env="prod"}[60s]))"#, at(60), format!("{prod} 8")),
        (
            r#"sum by (level) (count_over_time({app="api"} | logfmt level [60s]))"#,
            at(60),
            r#"{level="error"} 1; {level="info"} 3; {level="warn"} 1"#.into(),
        ),
        (r#"count(count_over_time({env="prod"}[60s]))"#, at(60), "{} 2".into()),
        (r#"avg(count_over_time({env="prod"}[60s]))"#, at(60), "{} 4".into()),
        (r#"max(count_over_time({env="prod"}[60s]))"#, at(60), "{} 5".into()),
        (r#"min(count_over_time({env="prod"}[60s]))"#, at(60), "{} 3".into()),
        (r#"stddev(count_over_time({env="prod"}[60s]))"#, at(60), "{} 1".into()),
        (r#"stdvar(count_over_time({env="prod"}[60s]))"#, at(60), "{} 1".into()),
        (r#"sum(count_over_time({app="nope"}[60s]))"#, at(60), String::new()),
        (r#"sum by (app) (rate({env="prod"}[60s]))"#, at(60), r#"{app="api"} 0.083333; {app="web"} 0.05"#.into()),
        (r#"sum(count_over_time({env="prod"}[10s]))"#, params(10, 40, 10), "{} [10:1 20:2 30:2 40:2]".into()),
        (r#"topk(1, count_over_time({env=~".+"}[60s]))"#, at(60), format!("{api} 5")),
        (
            r#"bottomk(2, count_over_time({env=~".+"}[60s]))"#,
            at(60),
            r#"{app="db", env="dev"} 3; {app="web", env="prod"} 3"#.into(),
        ),
        (
            r#"topk by (env) (1, count_over_time({env=~".+"}[60s]))"#,
            at(60),
            format!(r#"{api} 5; {{app="db", env="dev"}} 3"#),
        ),
        (
            r#"sort_desc(count_over_time({env=~".+"}[60s]))"#,
            at(60),
            format!(r#"{api} 5; {{app="db", env="dev"}} 3; {{app="web", env="prod"}} 3"#),
        ),
        (
            r#"sort(count_over_time({env=~".+"}[60s]))"#,
            at(60),
            format!(r#"{{app="db", env="dev"}} 3; {{app="web", env="prod"}} 3; {api} 5"#),
        ),
        (
            r#"count_over_time({env=~".+"}[60s])"#,
            at(60),
            format!(r#"{api} 5; {{app="db", env="dev"}} 3; {{app="web", env="prod"}} 3"#),
        ),
        // vector / scalar
        (r#"count_over_time({app="api"}[60s]) * 2"#, at(60), format!("{api} 10")),
        (r#"2 - count_over_time({app="api"}[60s])"#, at(60), format!("{api} -3")),
        (r#"count_over_time({app="api"}[60s]) ^ 2"#, at(60), format!("{api} 25")),
        (r#"count_over_time({app="api"}[60s]) / 0"#, at(60), format!("{api} NaN")),
        (r#"count_over_time({app="api"}[60s]) % 0"#, at(60), format!("{api} NaN")),
        (r#"count_over_time({app="api"}[60s]) % 3"#, at(60), format!("{api} 2")),
        (r#"count_over_time({env="prod"}[60s]) > 4"#, at(60), format!("{api} 5")),
        (r#"count_over_time({env="prod"}[60s]) > bool 4"#, at(60), format!(r#"{api} 1; {{app="web", env="prod"}} 0"#)),
        (r#"4 < count_over_time({env="prod"}[60s])"#, at(60), format!("{api} 5")),
        (r#"count_over_time({env="prod"}[60s]) == 3"#, at(60), r#"{app="web", env="prod"} 3"#.into()),
        // scalars
        ("1 + 2", at(60), "scalar 3".into()),
        ("10 / 0", at(60), "scalar NaN".into()),
        ("1 > 2", at(60), "scalar 0".into()),
        ("2 * 3", params(10, 30, 10), "{} [10:6 20:6 30:6]".into()),
        // vector / vector
        (
            r#"sum by (app) (count_over_time({env="prod"}[60s])) / sum by (app) (count_over_time({env="prod"}[30s]))"#,
            at(60),
            r#"{app="api"} 2.5; {app="web"} 3"#.into(),
        ),
        (
            r#"count_over_time({env="prod"}[60s]) / on (env) group_left sum by (env) (count_over_time({env="prod"}[60s]))"#,
            at(60),
            format!(r#"{api} 0.625; {{app="web", env="prod"}} 0.375"#),
        ),
        (
            r#"sum by (env) (count_over_time({env="prod"}[60s])) * on (env) group_right count_over_time({env="prod"}[60s])"#,
            at(60),
            format!(r#"{api} 40; {{app="web", env="prod"}} 24"#),
        ),
        (
            r#"count_over_time({app="api"}[60s]) / ignoring (app) count_over_time({app="web"}[60s])"#,
            at(60),
            format!("{prod} 1.666667"),
        ),
        (
            r#"count_over_time({app="api"}[60s]) / on (env) count_over_time({app="web"}[60s])"#,
            at(60),
            format!("{prod} 1.666667"),
        ),
        (
            r#"count_over_time({env="prod"}[60s]) / on (env) sum by (env) (count_over_time({env="prod"}[60s]))"#,
            at(60),
            "ERR: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
        ),
        (
            r#"sum by (env) (count_over_time({env="prod"}[60s])) / on (env) count_over_time({env="prod"}[60s])"#,
            at(60),
            "ERR: found duplicate series on the right hand-side".into(),
        ),
        (
            r#"count_over_time({env="prod"}[60s]) > ignoring (app) group_left sum by (env) (count_over_time({app="web"}[60s]))"#,
            at(60),
            format!("{api} 5"),
        ),
        (
            r#"count_over_time({app="api"}[60s]) / (count_over_time({app="api"}[60s]) * 0)"#,
            at(60),
            format!("{api} NaN"),
        ),
        (r#"count_over_time({app="api"}[60s]) - count_over_time({app="web"}[60s])"#, at(60), String::new()),
        // set operators
        (r#"count_over_time({env="prod"}[60s]) and count_over_time({app="api"}[60s])"#, at(60), format!("{api} 5")),
        (
            r#"count_over_time({env="prod"}[60s]) and on (env) count_over_time({app="api"}[60s])"#,
            at(60),
            format!(r#"{api} 5; {{app="web", env="prod"}} 3"#),
        ),
        (
            r#"count_over_time({app="api"}[60s]) or count_over_time({app="web"}[60s])"#,
            at(60),
            format!(r#"{api} 5; {{app="web", env="prod"}} 3"#),
        ),
        (
            r#"count_over_time({env="prod"}[60s]) unless count_over_time({app="api"}[60s])"#,
            at(60),
            r#"{app="web", env="prod"} 3"#.into(),
        ),
        (r#"count_over_time({app="nope"}[60s]) or vector(0)"#, at(60), "{} 0".into()),
        // label_replace and vector()
        (
            r#"label_replace(count_over_time({app="api"}[60s]), "svc", "$1-x", "app", "(a.*)")"#,
            at(60),
            r#"{app="api", env="prod", svc="api-x"} 5"#.into(),
        ),
        (
            r#"label_replace(count_over_time({app="api"}[60s]), "svc", "$1", "app", "(z.*)")"#,
            at(60),
            format!("{api} 5"),
        ),
        (r#"label_replace(count_over_time({app="api"}[60s]), "svc", "$1", "app", "(p)")"#, at(60), format!("{api} 5")),
        (
            r#"label_replace(count_over_time({app="api"}[60s]), "app", "", "app", ".*")"#,
            at(60),
            r#"{env="prod"} 5"#.into(),
        ),
        ("vector(3)", at(60), "{} 3".into()),
        ("vector(3)", params(10, 20, 10), "{} [10:3 20:3]".into()),
        (r#"sum(count_over_time({app="api"}[60s])) + vector(1)"#, at(60), "{} 6".into()),
    ];
    let cases: Vec<(&str, QueryParams, &str)> = cases.iter().map(|(q, p, w)| (*q, p.clone(), w.as_str())).collect();
    check(&cases);
}

fn log_params(start: i64, end: i64, limit: usize, direction: Direction, interval: i64) -> QueryParams {
    QueryParams { interval_ns: interval * S, limit, direction, ..params(start, end, 0) }
}

#[test]
fn log_queries() {
    use Direction::{Backward, Forward};
    let api = API;
    let web = r#"{app="web", env="prod"}"#;
    let cases: Vec<(&str, QueryParams, String)> = vec![
        (
            r#"{app="api"}"#,
            log_params(0, 100, 2, Backward, 0),
            format!(
                r#"{api} [55:level=info latency=150ms size=1KB status=200 msg="ok" 40:level=warn latency=1s size=4KB status=404 msg="miss"]"#
            ),
        ),
        (
            r#"{app="api"} |= "ok" | logfmt msg | line_format "{{.msg}}" | drop msg"#,
            log_params(0, 100, 2, Forward, 0),
            format!("{api} [10:ok 30:ok]"),
        ),
        // [start, end): 55 is excluded, 10 included
        (
            r#"{app="api"} | logfmt msg | line_format "{{.msg}}" | drop msg"#,
            log_params(10, 55, 100, Forward, 0),
            format!("{api} [10:ok 20:fail 30:ok 40:miss]"),
        ),
        (
            r#"{env="prod"} | line_format "x""#,
            log_params(0, 100, 3, Backward, 0),
            format!("{api} [55:x 40:x]; {web} [35:x]"),
        ),
        (
            r#"{env="prod"} | line_format "x""#,
            log_params(0, 100, 3, Forward, 0),
            format!("{api} [10:x 20:x]; {web} [15:x]"),
        ),
        (
            r#"{app="api"} | logfmt level | line_format "{{.level}}""#,
            log_params(0, 100, 10, Backward, 0),
            r#"{app="api", env="prod", level="error"} [20:error]; {app="api", env="prod", level="info"} [55:info 30:info 10:info]; {app="api", env="prod", level="warn"} [40:warn]"#.into(),
        ),
        (
            r#"{app="api"} |= "error""#,
            log_params(0, 100, 10, Backward, 0),
            format!(r#"{api} [20:level=error latency=250ms size=2KB status=500 msg="fail"]"#),
        ),
        (
            r#"{app="db"} | json | __error__!="" | drop __error_details__"#,
            log_params(0, 100, 10, Backward, 0),
            r#"{__error__="JSONParserErr", app="db", env="dev"} [32:not json]"#.into(),
        ),
        (
            r#"{app="meta"} | trace_id="abc""#,
            log_params(0, 100, 10, Backward, 0),
            r#"{app="meta", trace_id="abc"} [10:hello]"#.into(),
        ),
        // interval: Loki keeps an entry when it is >= interval away from the last returned one
        (r#"{app="api"} | line_format "x""#, log_params(0, 100, 100, Forward, 15), format!("{api} [10:x 30:x 55:x]")),
        (r#"{app="api"} | line_format "x""#, log_params(0, 100, 100, Backward, 15), format!("{api} [55:x 40:x 20:x]")),
        (r#"{app="api"} | line_format "x""#, log_params(0, 100, 2, Forward, 15), format!("{api} [10:x 30:x]")),
        // the interval is tracked across streams, as in Loki's readStreams
        (
            r#"{env="prod"} | line_format "x""#,
            log_params(0, 100, 100, Forward, 10),
            format!("{api} [10:x 20:x 30:x 40:x 55:x]"),
        ),
        // equal timestamps keep scan order
        (r#"{app="tie"}"#, log_params(0, 100, 1, Forward, 0), r#"{app="tie"} [5:early]"#.into()),
        (r#"{app="tie"}"#, log_params(0, 100, 2, Backward, 0), r#"{app="tie"} [10:first 10:second]"#.into()),
        (r#"{app="tie"}"#, log_params(0, 100, 3, Forward, 0), r#"{app="tie"} [5:early 10:first 10:second]"#.into()),
        (r#"{app="nope"}"#, log_params(0, 100, 3, Forward, 0), String::new()),
    ];
    let cases: Vec<(&str, QueryParams, &str)> = cases.iter().map(|(q, p, w)| (*q, p.clone(), w.as_str())).collect();
    check(&cases);
}

#[test]
fn limits_and_stats() {
    let expr = parse(r#"count_over_time({env="prod"}[60s])"#).unwrap();
    let mut p = at(60);
    p.max_series = 1;
    match execute(&store(), &expr, &p) {
        Err(EvalError::Limit(m)) => assert_eq!(m, "maximum of series (1) reached for a single query"),
        other => panic!("{other:?}"),
    }
    p.max_series = 2;
    assert!(execute(&store(), &expr, &p).is_ok());

    let mut p = at(60);
    p.deadline = Instant::now().checked_sub(Duration::from_secs(1));
    assert!(matches!(execute(&store(), &expr, &p), Err(EvalError::Timeout(_))));

    let log = parse(r#"{app="web"}"#).unwrap();
    let (r, stats) = execute(&store(), &log, &log_params(0, 100, 2, Direction::Backward, 0)).unwrap();
    assert_eq!(stats.entries_scanned, 3);
    assert_eq!(stats.bytes_scanned, 128);
    assert_eq!(stats.entries_returned, 2);
    assert!(matches!(r, QueryResult::Streams(_)));

    // Too many points.
    let p = QueryParams { step_ns: 1, ..params(0, 100, 0) };
    assert!(matches!(execute(&store(), &expr, &p), Err(EvalError::BadData(_))));
}

/// A store that fails.
struct Broken;

impl LogQueryable for Broken {
    fn scan_entries(&self, _: &[Matcher], _: i64, _: i64, _: &mut EntryFn<'_>) -> Result<(), StorageError> {
        Err(StorageError("disk on fire".into()))
    }
}

#[test]
fn storage_errors_surface() {
    let expr = parse(r#"count_over_time({app="a"}[1m])"#).unwrap();
    match execute(&Broken, &expr, &at(60)) {
        Err(EvalError::Storage(m)) => assert_eq!(m, "disk on fire"),
        other => panic!("{other:?}"),
    }
}

/// Extreme parameters must not panic.
#[test]
fn extreme_params_do_not_panic() {
    let queries = [
        r#"count_over_time({app="api"}[60s] offset 1h)"#,
        r#"rate_counter({app="ctr"} | logfmt | unwrap counter [60s])"#,
        r#"quantile_over_time(2, {app="api"} | logfmt | unwrap status [60s])"#,
        r#"{app="api"}"#,
        r#"topk(3, sum by (app) (rate({env=~".+"}[1m])))"#,
    ];
    for q in queries {
        let expr = parse(q).unwrap();
        for (start, end, step) in [
            (i64::MIN, i64::MAX, 0),
            (i64::MIN, i64::MAX, 1),
            (i64::MIN, i64::MAX, i64::MAX),
            (i64::MAX - 5, i64::MAX, 1),
            (i64::MIN, i64::MIN + 10, 1),
            (0, -5, 1),
        ] {
            let p = QueryParams {
                start_ns: start,
                end_ns: end,
                step_ns: step,
                interval_ns: i64::MAX,
                limit: usize::MAX,
                direction: Direction::Forward,
                deadline: None,
                max_series: 0,
            };
            let _ = execute(&store(), &expr, &p);
        }
    }
}
