//! Histogram functions: `histogram_quantile(s)` and `histogram_fraction` over classic
//! (`le`-labelled) and native histograms, and `histogram_count/sum/avg/stddev/stdvar`.

use crate::eval::{Ctx, OutBuilder, PVal, StepReader, Steps, Value};
use crate::functions::{eval_scalar, eval_vector, string_arg};
use crate::histogram::{self as hist, all_buckets};
use crate::parser::ast::{Expr, Span};
use crate::value::{QueryError, Series};
use seer_model::{FloatHistogram, Labels, LabelsBuilder};
use std::collections::HashMap;

/// Dispatches the histogram functions.
pub(crate) fn eval(ctx: &mut Ctx<'_>, st: Steps, name: &str, args: &[Expr], _span: Span) -> Result<Value, QueryError> {
    match name {
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
            let stats = ctx.stats_hints;
            ctx.stats_hints = matches!(name, "histogram_count" | "histogram_sum" | "histogram_avg");
            let input = eval_vector(ctx, st, &args[0]);
            ctx.stats_hints = stats;
            let mut input = input?;
            for s in &mut input {
                s.drop_name = true;
                s.floats = s
                    .hists
                    .iter()
                    .map(|p| seer_model::Sample {
                        t: p.t,
                        v: match name {
                            "histogram_count" => p.h.count,
                            "histogram_sum" => p.h.sum,
                            "histogram_avg" => p.h.sum / p.h.count,
                            "histogram_stddev" => stdvar(&p.h).sqrt(),
                            _ => stdvar(&p.h),
                        },
                    })
                    .collect();
                s.hists.clear();
            }
            input.retain(|s| !s.is_empty());
            Ok(Value::Vector(input))
        }
        "histogram_quantile" | "histogram_fraction" | "histogram_quantiles" => {
            let (vec_arg, label, params): (&Expr, Option<String>, Vec<(Vec<f64>, Span)>) = match name {
                "histogram_quantile" => (&args[1], None, vec![(eval_scalar(ctx, st, &args[0])?, args[0].span())]),
                "histogram_fraction" => (
                    &args[2],
                    None,
                    vec![
                        (eval_scalar(ctx, st, &args[0])?, args[0].span()),
                        (eval_scalar(ctx, st, &args[1])?, args[1].span()),
                    ],
                ),
                _ => {
                    let mut ps = Vec::new();
                    for a in &args[2..] {
                        ps.push((eval_scalar(ctx, st, a)?, a.span()));
                    }
                    (&args[0], Some(string_arg(&args[1])), ps)
                }
            };
            let stats = std::mem::replace(&mut ctx.stats_hints, false);
            let input = eval_vector(ctx, st, vec_arg);
            ctx.stats_hints = stats;
            let input = input?;
            quantile_like(ctx, st, name, &input, label.as_deref(), &params, vec_arg.span()).map(Value::Vector)
        }
        _ => unreachable!("dispatched by name"),
    }
}

/// Variance of the observations of a native histogram, from bucket midpoints.
fn stdvar(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut v, mut c) = (0.0, 0.0);
    for b in all_buckets(h) {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            if b.lower == f64::NEG_INFINITY {
                b.upper
            } else if b.upper == f64::INFINITY {
                b.lower
            } else {
                (b.lower + b.upper) / 2.0
            }
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let m = (b.lower * b.upper).sqrt();
            if b.upper < 0.0 { -m } else { m }
        };
        let d = val - mean;
        (v, c) = crate::aggregate::kahan_inc(b.count * d * d, v, c);
    }
    (v + c) / h.count
}

/// One classic bucket: upper bound and cumulative count.
#[derive(Clone, Copy, Debug)]
struct CBucket {
    upper: f64,
    count: f64,
}

/// Go's `strconv.ParseFloat` for `le` values.
fn parse_le(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    if t.eq_ignore_ascii_case("inf") || t.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if t.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    if t.starts_with("0x") || t.starts_with("0X") {
        return None;
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    clean.parse::<f64>().ok()
}

/// The shared per-step work of `histogram_quantile(s)` and `histogram_fraction`.
fn quantile_like(
    ctx: &mut Ctx<'_>,
    st: Steps,
    name: &str,
    input: &[Series],
    label: Option<&str>,
    params: &[(Vec<f64>, Span)],
    vspan: Span,
) -> Result<Vec<Series>, QueryError> {
    let is_fraction = name == "histogram_fraction";
    if !is_fraction {
        for (vals, span) in params {
            let mut warned_nan = false;
            for &q in vals {
                if q.is_nan() {
                    if !warned_nan {
                        ctx.annotations.warn("quantile value should be between 0 and 1, got NaN".into(), *span);
                        warned_nan = true;
                    }
                } else if !(0.0..=1.0).contains(&q) {
                    ctx.annotations.warn(
                        format!("quantile value should be between 0 and 1, got {}", seer_model::go_format_g(q)),
                        *span,
                    );
                }
            }
        }
    }
    // Classic grouping key per series: all labels but `le`.
    let mut group_of: Vec<Option<u32>> = Vec::with_capacity(input.len());
    let mut group_labels: Vec<Labels> = Vec::new();
    let mut les: Vec<f64> = Vec::with_capacity(input.len());
    let mut keys: HashMap<Labels, u32> = HashMap::new();
    for s in input {
        let gl = Labels::from_sorted(s.labels.iter().filter(|l| l.name != "le").cloned().collect());
        let n = keys.len() as u32;
        let g = *keys.entry(gl.clone()).or_insert_with(|| {
            group_labels.push(gl);
            n
        });
        group_of.push(Some(g));
        les.push(match s.labels.get("le") {
            Some(v) => parse_le(v).unwrap_or(f64::NAN),
            None => f64::NAN,
        });
    }
    let bad_le: Vec<bool> = input
        .iter()
        .map(|s| match s.labels.get("le") {
            Some(v) => parse_le(v).is_none(),
            None => true,
        })
        .collect();
    let mut out = OutBuilder::new();
    let mut reader = StepReader::new(input.len());
    let mut buckets: Vec<Vec<CBucket>> = vec![Vec::new(); group_labels.len()];
    let mut touched: Vec<u32> = Vec::new();
    let mut natives: Vec<(usize, &FloatHistogram)> = Vec::new();
    for k in 0..st.count() {
        let ts = st.ts(k);
        touched.clear();
        natives.clear();
        for i in 0..input.len() {
            let Some(v) = reader.at(input, i, ts) else { continue };
            match v {
                PVal::H(h) => natives.push((i, h)),
                PVal::F(f) => {
                    if bad_le[i] {
                        let le = input[i].labels.get("le").unwrap_or("");
                        let mut m = format!("bucket label \"le\" is missing or has a malformed value of {le:?}");
                        if let Some(n) = input[i].labels.metric_name() {
                            m.push_str(&format!(" for metric name {n:?}"));
                        }
                        ctx.annotations.warn(m, vspan);
                        continue;
                    }
                    let g = group_of[i].expect("group") as usize;
                    if buckets[g].is_empty() {
                        touched.push(g as u32);
                    }
                    buckets[g].push(CBucket { upper: les[i], count: f });
                }
            }
        }
        // A native histogram whose labels equal a classic group's: both are dropped.
        let mut dropped_groups: Vec<u32> = Vec::new();
        natives.retain(|&(i, _)| {
            if let Some(&g) = keys.get(&input[i].labels)
                && !buckets[g as usize].is_empty()
            {
                let mut m = "vector contains a mix of classic and native histograms".to_string();
                if let Some(n) = input[i].labels.metric_name() {
                    m.push_str(&format!(" for metric name {n:?}"));
                }
                ctx.annotations.warn(m, vspan);
                dropped_groups.push(g);
                return false;
            }
            true
        });
        for g in dropped_groups {
            buckets[g as usize].clear();
        }
        for &(i, h) in &natives {
            let name = input[i].labels.metric_name().unwrap_or("").to_string();
            emit(ctx, &mut out, &input[i].labels, ts, k, label, params, is_fraction, |ctx, p| {
                if is_fraction {
                    native_fraction(ctx, p[0], p[1], h, &name, vspan)
                } else {
                    native_quantile(ctx, p[0], h, &name, vspan)
                }
            })?;
        }
        for &g in &touched {
            let g = g as usize;
            if buckets[g].is_empty() {
                continue;
            }
            let mut b = std::mem::take(&mut buckets[g]);
            let name = group_labels[g].metric_name().unwrap_or("").to_string();
            emit(ctx, &mut out, &group_labels[g], ts, k, label, params, is_fraction, |ctx, p| {
                if is_fraction {
                    bucket_fraction(p[0], p[1], &mut b)
                } else {
                    let (v, forced) = bucket_quantile(p[0], &mut b);
                    if forced {
                        let mut m = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
                        if !name.is_empty() {
                            m.push_str(&format!(" for metric name {name:?}"));
                        }
                        ctx.annotations.info(m, vspan);
                    }
                    v
                }
            })?;
        }
    }
    Ok(out.finish())
}

/// Emits one result (or one per quantile for `histogram_quantiles`).
#[allow(clippy::too_many_arguments)]
fn emit(
    ctx: &mut Ctx<'_>,
    out: &mut OutBuilder,
    labels: &Labels,
    ts: i64,
    k: usize,
    label: Option<&str>,
    params: &[(Vec<f64>, Span)],
    is_fraction: bool,
    mut f: impl FnMut(&mut Ctx<'_>, &[f64]) -> f64,
) -> Result<(), QueryError> {
    match label {
        None => {
            let p: Vec<f64> = params.iter().map(|(v, _)| v[k]).collect();
            let _ = is_fraction;
            let v = f(ctx, &p);
            let slot = out.slot(labels, true);
            out.push_f(slot, ts, v)
        }
        Some(l) => {
            for (vals, _) in params {
                let q = vals[k];
                let v = f(ctx, &[q]);
                let mut b: LabelsBuilder = labels.to_builder();
                b.set(l.to_string(), seer_model::format_openmetrics_float(q));
                let slot = out.slot(&b.build(), true);
                out.push_f(slot, ts, v)?;
            }
            Ok(())
        }
    }
}

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || a.abs() + b.abs() < MIN_NORMAL {
        return diff < eps * MIN_NORMAL;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < eps
}

/// Sorts, checks for +Inf, merges equal bounds and forces monotonicity. Returns false when
/// the buckets are unusable.
fn prepare(b: &mut Vec<CBucket>) -> (bool, bool) {
    b.sort_by(|x, y| x.upper.partial_cmp(&y.upper).unwrap_or(std::cmp::Ordering::Equal));
    if b.last().is_none_or(|l| l.upper != f64::INFINITY) {
        return (false, false);
    }
    let mut merged: Vec<CBucket> = Vec::with_capacity(b.len());
    for x in b.iter() {
        match merged.last_mut() {
            Some(l) if l.upper == x.upper => l.count += x.count,
            _ => merged.push(*x),
        }
    }
    *b = merged;
    let mut forced = false;
    let mut prev = b[0].count;
    for x in b.iter_mut().skip(1) {
        let cur = x.count;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            x.count = prev;
            continue;
        }
        if cur < prev {
            x.count = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    (true, forced)
}

/// Quantile of classic buckets; second value: monotonicity had to be forced.
fn bucket_quantile(q: f64, b: &mut Vec<CBucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    let (ok, forced) = prepare(b);
    if !ok || b.len() < 2 {
        return (f64::NAN, forced);
    }
    let n = b.len();
    let obs = b[n - 1].count;
    if obs == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * obs;
    let idx = b[..n - 1].iter().position(|x| x.count >= rank).unwrap_or(n - 1);
    if idx == n - 1 {
        return (b[n - 2].upper, forced);
    }
    if idx == 0 && b[0].upper <= 0.0 {
        return (b[0].upper, forced);
    }
    let (start, count) = if idx > 0 {
        rank -= b[idx - 1].count;
        (b[idx - 1].upper, b[idx].count - b[idx - 1].count)
    } else {
        (0.0, b[0].count)
    };
    (start + (b[idx].upper - start) * rank / count, forced)
}

/// Fraction of observations between `lower` and `upper` in classic buckets.
fn bucket_fraction(lower: f64, upper: f64, b: &mut Vec<CBucket>) -> f64 {
    let (ok, _) = prepare(b);
    if !ok {
        return f64::NAN;
    }
    let count = b[b.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, x) in b.iter().enumerate() {
        let lb = if i == 0 { if x.upper > 0.0 { 0.0 } else { f64::NEG_INFINITY } } else { b[i - 1].upper };
        let ub = x.upper;
        let interp = |v: f64| {
            if lb == f64::NEG_INFINITY { x.count } else { rank + (x.count - rank) * (v - lb) / (ub - lb) }
        };
        if !lower_set && lb >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lb >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lb < lower && ub > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lb < upper && ub > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = x.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

fn nan_obs_suffix(name: &str) -> String {
    if name.is_empty() { String::new() } else { format!(" for metric name {name:?}") }
}

/// Quantile of a native histogram.
fn native_quantile(ctx: &mut Ctx<'_>, q: f64, h: &FloatHistogram, name: &str, span: Span) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let mut buckets = all_buckets(h);
    let forward = h.sum.is_nan() || q < 0.5;
    let mut rank = if forward { q * h.count } else { (1.0 - q) * h.count };
    if !forward {
        buckets.reverse();
    }
    let mut count = 0.0;
    let mut bucket = None;
    let mut pos = 0;
    for (i, b) in buckets.iter().enumerate() {
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        bucket = Some(*b);
        pos = i;
        if count >= rank {
            break;
        }
    }
    let mut b = bucket.unwrap_or(hist::Bucket {
        lower: 0.0,
        upper: 0.0,
        lower_inclusive: false,
        upper_inclusive: false,
        count: 0.0,
    });
    let has_neg = !h.negative_buckets.is_empty();
    let has_pos = !h.positive_buckets.is_empty();
    if !h.uses_custom_buckets() && b.lower < 0.0 && b.upper > 0.0 {
        if !has_neg && has_pos {
            b.lower = 0.0;
        } else if !has_pos && has_neg {
            b.upper = 0.0;
        }
    } else if h.uses_custom_buckets() {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return b.upper;
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return b.lower;
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            ctx.annotations.info(
                format!("input to histogram_quantile has NaN observations, result is NaN{}", nan_obs_suffix(name)),
                span,
            );
            return f64::NAN;
        }
        return b.upper;
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    if h.sum.is_nan() {
        let total: f64 = count + buckets.get(pos + 1..).map(|r| r.iter().map(|x| x.count).sum::<f64>()).unwrap_or(0.0);
        if total < h.count {
            ctx.annotations.info(
                format!(
                    "input to histogram_quantile has NaN observations, result is skewed higher{}",
                    nan_obs_suffix(name)
                ),
                span,
            );
        }
    }
    let f = rank / b.count;
    if h.uses_custom_buckets() || (b.lower <= 0.0 && b.upper >= 0.0) {
        return b.lower + (b.upper - b.lower) * f;
    }
    if b.lower > 0.0 {
        let (ll, lu) = (b.lower.log2(), b.upper.log2());
        return (ll + (lu - ll) * f).exp2();
    }
    let (lu, ll) = (b.upper.abs().log2(), b.lower.abs().log2());
    -(lu + (ll - lu) * (1.0 - f)).exp2()
}

/// Fraction of a native histogram's observations between `lower` and `upper`.
fn native_fraction(ctx: &mut Ctx<'_>, lower: f64, upper: f64, h: &FloatHistogram, name: &str, span: Span) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let has_neg = !h.negative_buckets.is_empty();
    let has_pos = !h.positive_buckets.is_empty();
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let buckets = all_buckets(h);
    let total: f64 = buckets.iter().map(|b| b.count).sum();
    for mut b in buckets {
        let mut zero_bucket = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero_bucket = true;
            if !has_neg && has_pos {
                b.lower = 0.0;
            } else if !has_pos && has_neg {
                b.upper = 0.0;
            }
        }
        let linear = |v: f64| {
            if b.lower == f64::NEG_INFINITY {
                rank + b.count
            } else {
                rank + b.count * (v - b.lower) / (b.upper - b.lower)
            }
        };
        let exponential = |v: f64| {
            let (ll, lu, lv) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
            let f = if v > 0.0 { (lv - ll) / (lu - ll) } else { 1.0 - ((lv - lu) / (ll - lu)) };
            rank + b.count * f
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = if h.uses_custom_buckets() || zero_bucket { linear(lower) } else { exponential(lower) };
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = if h.uses_custom_buckets() || zero_bucket { linear(upper) } else { exponential(upper) };
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    let cap = if h.sum.is_nan() && total < h.count { total } else { h.count };
    if h.sum.is_nan() && total < h.count {
        ctx.annotations.info(
            format!(
                "input to histogram_fraction has NaN observations, which are excluded from all fractions{}",
                nan_obs_suffix(name)
            ),
            span,
        );
    }
    if !lower_set || lower_rank > cap {
        lower_rank = cap;
    }
    if !upper_set || upper_rank > cap {
        upper_rank = cap;
    }
    let _ = hist::compact;
    (upper_rank - lower_rank) / h.count
}
