//! Runs parsed test files against the engine, with upstream's extra checks: every instant
//! eval is also run as a range query around its time, and re-run with `@` pinned at
//! other evaluation times.

use crate::notation::Value;
use crate::script::{Command, Eval, Expected, Load, Matcher, Mode};
use crate::storage::{MemStorage, Point};
use seer_model::{FloatHistogram, Labels, LabelsBuilder, METRIC_NAME};
use seer_promql::parser::ast::{At, Expr};
use seer_promql::{EngineOptions, QueryParams, QueryValue, execute};
use std::collections::BTreeMap;

/// The outcome of one eval.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// Results of one file: (line, outcome).
pub struct FileResult {
    pub name: String,
    pub evals: Vec<(usize, Outcome)>,
}

/// Engine settings the conformance data assumes.
pub fn test_engine_options() -> EngineOptions {
    EngineOptions { lookback_ms: 300_000, max_samples: 10_000, subquery_step_ms: 60_000, max_series: 0 }
}

/// Runs one file's text. `skip(line)` returns a reason for evals to skip.
pub fn run_text(name: &str, text: &str, skip: &dyn Fn(usize) -> Option<String>) -> FileResult {
    let mut res = FileResult { name: name.to_string(), evals: Vec::new() };
    let cmds = match crate::script::parse(text) {
        Ok(c) => c,
        Err(e) => {
            // Upstream fails the whole file; report every eval line as failed.
            for (n, l) in text.lines().enumerate() {
                if l.trim_start().starts_with("eval") {
                    res.evals.push((n + 1, Outcome::Failed(format!("file does not parse: {e}"))));
                }
            }
            return res;
        }
    };
    let mut storage = MemStorage::default();
    let opts = test_engine_options();
    for cmd in cmds {
        match cmd {
            Command::Clear => storage.clear(),
            Command::Load(l) => {
                if let Err(e) = load(&mut storage, &l) {
                    res.evals.push((l.line, Outcome::Failed(format!("load failed: {e}"))));
                }
            }
            Command::Eval(ev) => {
                if let Some(reason) = skip(ev.line) {
                    res.evals.push((ev.line, Outcome::Skipped(reason)));
                    continue;
                }
                let outcome = match run_eval(&storage, &opts, &ev) {
                    Ok(()) => Outcome::Passed,
                    Err(e) => Outcome::Failed(e),
                };
                res.evals.push((ev.line, outcome));
            }
        }
    }
    res
}

fn load(storage: &mut MemStorage, l: &Load) -> Result<(), String> {
    for (labels, values) in &l.series {
        let mut pts = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let t = i as i64 * l.interval;
            match v {
                Value::Missing => {}
                Value::Float(f) => pts.push((t, Point::F(*f))),
                Value::Hist(h, _) => pts.push((t, Point::H(h.clone()))),
            }
        }
        storage.append(labels.clone(), pts);
    }
    if l.nhcb {
        convert_nhcb(storage, l)?;
    }
    Ok(())
}

/// `load_with_nhcb`: classic histograms of the block become native histograms with custom
/// buckets, stored next to the float series.
fn convert_nhcb(storage: &mut MemStorage, l: &Load) -> Result<(), String> {
    #[derive(Default)]
    struct Acc {
        buckets: Vec<(f64, f64)>,
        count: Option<f64>,
        sum: Option<f64>,
    }
    let mut groups: BTreeMap<Labels, BTreeMap<i64, Acc>> = BTreeMap::new();
    for (labels, values) in &l.series {
        let name = labels.metric_name().unwrap_or("");
        let (base, kind) = if let Some(b) = name.strip_suffix("_bucket") {
            (b, 0)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, 1)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, 2)
        } else {
            continue;
        };
        let mut le = None;
        if kind == 0 {
            let Some(v) = labels.get("le") else { return Err("bucket series without le".into()) };
            match crate::notation::parse_float(v) {
                Ok(f) if !f.is_nan() => le = Some(f),
                _ => continue,
            }
        }
        let mut b: LabelsBuilder = labels.to_builder();
        b.set(METRIC_NAME.to_string(), base.to_string());
        b.del("le");
        let key = b.build();
        let g = groups.entry(key).or_default();
        for (i, v) in values.iter().enumerate() {
            let Value::Float(f) = v else { continue };
            let t = i as i64 * l.interval;
            let acc = g.entry(t).or_default();
            match kind {
                0 => {
                    let le = le.expect("le");
                    if *f < 0.0 {
                        return Err("negative bucket".into());
                    }
                    if !acc.buckets.iter().any(|b| b.0 == le) {
                        acc.buckets.push((le, *f));
                        acc.buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
                    }
                }
                1 => acc.sum = Some(*f),
                _ => {
                    if *f < 0.0 {
                        return Err("negative count".into());
                    }
                    acc.count = Some(*f)
                }
            }
        }
    }
    for (labels, times) in groups {
        let mut pts = Vec::new();
        for (t, mut acc) in times {
            for w in acc.buckets.windows(2) {
                if w[1].1 < w[0].1 {
                    return Err("classic histogram buckets are not cumulative".into());
                }
            }
            let count = acc.count.or_else(|| acc.buckets.last().map(|b| b.1)).unwrap_or(0.0);
            if acc.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
                acc.buckets.push((f64::INFINITY, count));
            }
            let inf = acc.buckets.last().expect("+Inf bucket").1;
            if inf != count && !(inf.is_nan() && count.is_nan()) {
                return Err(format!("count {count} differs from the +Inf bucket {inf}"));
            }
            if count.is_nan() {
                return Err("NaN count in classic histogram".into());
            }
            let mut h = FloatHistogram {
                schema: seer_model::CUSTOM_BUCKETS_SCHEMA,
                count,
                sum: acc.sum.unwrap_or(0.0),
                custom_values: acc.buckets[..acc.buckets.len() - 1].iter().map(|b| b.0).collect(),
                ..Default::default()
            };
            let mut prev = 0.0;
            let list: Vec<(i32, f64)> = acc
                .buckets
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let d = b.1 - prev;
                    prev = b.1;
                    (i as i32, d)
                })
                .collect();
            (h.positive_spans, h.positive_buckets) = seer_promql::histogram::collapse(&list);
            seer_promql::histogram::compact(&mut h);
            pts.push((t, Point::H(h)));
        }
        storage.append(labels, pts);
    }
    Ok(())
}

/// Functions whose value depends on the evaluation time even with `@` pinned arguments.
const TIME_DEPENDENT: &[&str] = &[
    "time",
    "timestamp",
    "predict_linear",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
    "start",
    "end",
    "range",
    "step",
];

fn calls_any(e: &Expr, names: &[&str]) -> bool {
    match e {
        Expr::Call { func, args, .. } => names.contains(&func.name) || args.iter().any(|a| calls_any(a, names)),
        Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => calls_any(expr, names),
        Expr::Subquery { expr, .. } => calls_any(expr, names),
        Expr::Binary { lhs, rhs, .. } => calls_any(lhs, names) || calls_any(rhs, names),
        Expr::Aggregate { expr, param, .. } => {
            calls_any(expr, names) || param.as_ref().is_some_and(|p| calls_any(p, names))
        }
        _ => false,
    }
}

/// Pins every selector and subquery without `@` to `t` (not inside subqueries that have one).
fn pin_at(e: &mut Expr, t: i64) {
    match e {
        Expr::Selector(vs) | Expr::Matrix { selector: vs, .. }
            if vs.at.is_none() => {
                vs.at = Some(At::Time(t));
            }
        Expr::Subquery { at, .. }
            // Selectors inside a subquery follow the subquery's (now pinned) time.
            if at.is_none() => {
                *at = Some(At::Time(t));
            }
        Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => pin_at(expr, t),
        Expr::Binary { lhs, rhs, .. } => {
            pin_at(lhs, t);
            pin_at(rhs, t);
        }
        Expr::Aggregate { expr, param, .. } => {
            pin_at(expr, t);
            if let Some(p) = param {
                pin_at(p, t);
            }
        }
        Expr::Call { args, .. } => {
            for a in args {
                pin_at(a, t);
            }
        }
        _ => {}
    }
}

fn run_eval(storage: &MemStorage, opts: &EngineOptions, ev: &Eval) -> Result<(), String> {
    let expr = seer_promql::parser::parse(&ev.expr).map_err(|e| format!("parse error: {}", e.render(&ev.expr)))?;
    match ev.mode {
        Mode::Range { start, end, step } => {
            let r = execute(storage, opts, &expr, QueryParams::range(start, end, step));
            check(ev, &ev.expr, r, Some((start, step)))
        }
        Mode::Instant { at } => {
            let mut queries = vec![(ev.expr.clone(), at)];
            if !calls_any(&expr, TIME_DEPENDENT) {
                let mut pinned = expr.clone();
                pin_at(&mut pinned, at);
                let text = seer_promql::parser::printer::print(&pinned);
                let times: Vec<i64> =
                    if at == 0 { vec![-1000, 0, 1000] } else { vec![-10 * at, 0, at / 5, at, 10 * at] };
                for t in times {
                    queries.push((text.clone(), t));
                }
            }
            for (q, t) in queries {
                let e =
                    seer_promql::parser::parse(&q).map_err(|e| format!("parse error in {q:?}: {}", e.render(&q)))?;
                let r = execute(storage, opts, &e, QueryParams::instant(t));
                let failed_expectedly = r.is_err();
                check(ev, &q, r, None).map_err(|e| if q == ev.expr { e } else { format!("{e} (as {q:?} at {t})") })?;
                if failed_expectedly
                    || ev.ordered
                    || matches!(ev.expected, Expected::RangeVector { .. } | Expected::String(_))
                    || calls_any(&e, &["start", "end", "range", "step"])
                    || q.contains("step()")
                    || q.contains("range()")
                {
                    continue;
                }
                // Range-mode consistency.
                let rr = execute(storage, opts, &e, QueryParams::range(t - 60_000, t + 60_000, 60_000))
                    .map_err(|err| format!("range mode of {q:?} failed: {err}"))?;
                let QueryValue::Matrix(m) = rr.value else { return Err("range mode did not return a matrix".into()) };
                check_sorted(&m)?;
                let mut vec: Vec<(Labels, Value)> = Vec::new();
                for s in &m {
                    if let Some(p) = s.floats.iter().find(|p| p.t == t) {
                        vec.push((s.labels.clone(), Value::Float(p.v)));
                    } else if let Some(p) = s.hists.iter().find(|p| p.t == t) {
                        vec.push((s.labels.clone(), Value::Hist(p.h.clone(), false)));
                    }
                }
                let got = if let Expected::Scalar(want) = &ev.expected {
                    match vec.first() {
                        Some((_, Value::Float(v))) if floats_equal(*want, *v) => Ok(()),
                        _ => Err(format!("range mode: expected scalar {want}, got {vec:?}")),
                    }
                } else {
                    compare_vector(ev, &vec, false)
                };
                got.map_err(|e| format!("range mode of {q:?} at {t}: {e}"))?;
            }
            Ok(())
        }
    }
}

fn check_sorted(m: &[seer_promql::Series]) -> Result<(), String> {
    for w in m.windows(2) {
        if w[0].labels >= w[1].labels {
            return Err(format!("matrix not sorted: {} before {}", w[0].labels, w[1].labels));
        }
    }
    Ok(())
}

fn matches(m: &Matcher, text: &str) -> bool {
    match m {
        Matcher::Any => true,
        Matcher::Exact(s) => s == text,
        Matcher::Regex(r) => regex::Regex::new(r).map(|re| re.is_match(text)).unwrap_or(false),
    }
}

fn check_annotations(kind: &str, want: &[Matcher], none: bool, got: &[String]) -> Result<(), String> {
    if none && !got.is_empty() {
        return Err(format!("expected no {kind} annotations, got {got:?}"));
    }
    if want.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    for g in got {
        if !want.iter().any(|m| matches(m, g)) {
            return Err(format!("unexpected {kind} annotation {g:?}, want {want:?}"));
        }
    }
    for m in want {
        if !got.iter().any(|g| matches(m, g)) {
            return Err(format!("expected {kind} annotation {m:?} not in {got:?}"));
        }
    }
    Ok(())
}

fn check(
    ev: &Eval,
    query: &str,
    r: Result<seer_promql::QueryOutput, seer_promql::QueryError>,
    range: Option<(i64, i64)>,
) -> Result<(), String> {
    let out = match r {
        Err(e) => {
            return match &ev.fail {
                Some(m) if matches(m, &e.to_string()) => Ok(()),
                Some(m) => Err(format!("error {:?} does not match {m:?}", e.to_string())),
                None => Err(format!("unexpected error: {e}")),
            };
        }
        Ok(o) => o,
    };
    if ev.fail.is_some() {
        return Err(format!("expected an error, got {:?}", summarize(&out.value)));
    }
    check_annotations("warn", &ev.warn, ev.no_warn, &out.annotations.warnings(query))?;
    check_annotations("info", &ev.info, ev.no_info, &out.annotations.infos(query))?;
    match (&ev.expected, &out.value, range) {
        (Expected::Scalar(want), QueryValue::Scalar { v, .. }, None) => {
            if floats_equal(*want, *v) {
                Ok(())
            } else {
                Err(format!("expected scalar {want}, got {v}"))
            }
        }
        (Expected::String(want), QueryValue::String { s, .. }, None) => {
            if want == s {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {s:?}"))
            }
        }
        (Expected::Series(want), QueryValue::Vector(got), None) => {
            let got: Vec<(Labels, Value)> = got
                .iter()
                .map(|s| {
                    (
                        s.labels.clone(),
                        match &s.h {
                            Some(h) => Value::Hist(h.clone(), false),
                            None => Value::Float(s.f),
                        },
                    )
                })
                .collect();
            let _ = want;
            compare_vector(ev, &got, ev.ordered)
        }
        (Expected::RangeVector { start, step, series, .. }, QueryValue::Matrix(m), None) => {
            compare_matrix(series, m, *start, *step)
        }
        (Expected::Series(want), QueryValue::Matrix(m), Some((start, step))) => {
            check_sorted(m)?;
            compare_matrix(want, m, start, step)
        }
        (Expected::Scalar(want), QueryValue::Matrix(m), Some(_)) => {
            // A scalar expression in a range eval: expected as `{}` series? Compare loosely.
            Err(format!("expected scalar {want}, got matrix of {} series", m.len()))
        }
        (want, got, _) => Err(format!("expected {want:?}, got {}", summarize(got))),
    }
}

fn summarize(v: &QueryValue) -> String {
    match v {
        QueryValue::Scalar { v, .. } => format!("scalar {v}"),
        QueryValue::String { s, .. } => format!("string {s:?}"),
        QueryValue::Vector(s) => {
            format!("vector [{}]", s.iter().map(|x| format!("{} {}", x.labels, x.f)).collect::<Vec<_>>().join(", "))
        }
        QueryValue::Matrix(m) => format!("matrix of {} series", m.len()),
    }
}

fn compare_vector(ev: &Eval, got: &[(Labels, Value)], ordered: bool) -> Result<(), String> {
    let Expected::Series(want) = &ev.expected else {
        return Err(format!("expected {:?}, got a vector", ev.expected));
    };
    for (l, vals) in want {
        if vals.len() != 1 {
            return Err(format!("expected series {l} has {} values in an instant eval", vals.len()));
        }
    }
    if got.len() != want.len() {
        return Err(format!(
            "expected {} samples, got {}: {}",
            want.len(),
            got.len(),
            got.iter().map(|(l, v)| format!("{l} {}", show(v))).collect::<Vec<_>>().join(", ")
        ));
    }
    for (i, (l, v)) in got.iter().enumerate() {
        let Some(pos) = want.iter().position(|(wl, _)| wl == l) else {
            return Err(format!("unexpected series {l} {}", show(v)));
        };
        if ordered && pos != i {
            return Err(format!("series {l} at position {i}, expected at {pos}"));
        }
        values_equal(&want[pos].1[0], v).map_err(|e| format!("series {l}: {e}"))?;
    }
    Ok(())
}

fn compare_matrix(
    want: &[(Labels, Vec<Value>)],
    got: &[seer_promql::Series],
    start: i64,
    step: i64,
) -> Result<(), String> {
    if want.len() != got.len() {
        return Err(format!(
            "expected {} series, got {}: {}",
            want.len(),
            got.len(),
            got.iter().map(|s| s.labels.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    for s in got {
        let Some((_, vals)) = want.iter().find(|(l, _)| l == &s.labels) else {
            return Err(format!("unexpected series {}", s.labels));
        };
        let mut exp_f = Vec::new();
        let mut exp_h = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            let t = start + i as i64 * step;
            match v {
                Value::Missing => {}
                Value::Float(f) => exp_f.push((t, *f)),
                Value::Hist(h, hs) => exp_h.push((t, Value::Hist(h.clone(), *hs))),
            }
        }
        if exp_f.len() != s.floats.len() || exp_h.len() != s.hists.len() {
            return Err(format!(
                "series {}: expected {} floats and {} histograms, got {:?} and {} histograms",
                s.labels,
                exp_f.len(),
                exp_h.len(),
                s.floats.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>(),
                s.hists.len()
            ));
        }
        for ((t, f), p) in exp_f.iter().zip(&s.floats) {
            if *t != p.t || !floats_equal(*f, p.v) {
                return Err(format!("series {}: expected {f} at {t}, got {} at {}", s.labels, p.v, p.t));
            }
        }
        for ((t, h), p) in exp_h.iter().zip(&s.hists) {
            if *t != p.t {
                return Err(format!("series {}: expected a histogram at {t}, got one at {}", s.labels, p.t));
            }
            values_equal(h, &Value::Hist(p.h.clone(), false))
                .map_err(|e| format!("series {} at {t}: {e}", s.labels))?;
        }
    }
    Ok(())
}

fn show(v: &Value) -> String {
    match v {
        Value::Missing => "_".into(),
        Value::Float(f) => f.to_string(),
        Value::Hist(h, _) => format!("{h:?}"),
    }
}

/// Float comparison of the test format: relative 1e-6, NaN equals NaN, stale only stale.
pub fn floats_equal(a: f64, b: f64) -> bool {
    if seer_model::is_stale_nan(a) || seer_model::is_stale_nan(b) {
        return seer_model::is_stale_nan(a) && seer_model::is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || a.abs() + b.abs() < min_normal {
        return diff < 1e-6 * min_normal;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < 1e-6
}

fn values_equal(want: &Value, got: &Value) -> Result<(), String> {
    match (want, got) {
        (Value::Float(a), Value::Float(b)) => {
            if floats_equal(*a, *b) {
                Ok(())
            } else {
                Err(format!("expected {a}, got {b}"))
            }
        }
        (Value::Hist(a, hint_set), Value::Hist(b, _)) => {
            if hists_equal(a, b, *hint_set) {
                Ok(())
            } else {
                Err(format!("expected histogram {a:?}, got {b:?}"))
            }
        }
        (w, g) => Err(format!("expected {}, got {}", show(w), show(g))),
    }
}

fn hists_equal(a: &FloatHistogram, b: &FloatHistogram, hint: bool) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    seer_promql::histogram::compact(&mut a);
    seer_promql::histogram::compact(&mut b);
    let fe = |x: &[f64], y: &[f64]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| floats_equal(*p, *q));
    a.schema == b.schema
        && floats_equal(a.count, b.count)
        && floats_equal(a.sum, b.sum)
        && (!a.uses_custom_buckets() || a.custom_values == b.custom_values)
        && a.zero_threshold == b.zero_threshold
        && floats_equal(a.zero_count, b.zero_count)
        && a.negative_spans == b.negative_spans
        && fe(&a.negative_buckets, &b.negative_buckets)
        && a.positive_spans == b.positive_spans
        && fe(&a.positive_buckets, &b.positive_buckets)
        && (!hint || a.counter_reset_hint == b.counter_reset_hint)
}
