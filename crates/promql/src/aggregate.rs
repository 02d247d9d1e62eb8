//! Aggregation operators (`sum`, `avg`, `topk`, `count_values`, ...).

use crate::eval::{Ctx, PVal, StepReader, Steps, Value};
use crate::histogram as hist;
use crate::parser::ast::{AggOp, Expr, Span};
use crate::value::{HPoint, QueryError, Series, exec_err};
use seer_model::{FloatHistogram, Labels, LabelsBuilder, METRIC_NAME, Sample};
use std::collections::HashMap;

pub(crate) use seer_model::histogram::kahan_inc;

/// The output labels of a group: the `by` labels, or all but the `without` labels and the name.
pub(crate) fn grouping_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        Labels::from_sorted(
            l.iter().filter(|lb| lb.name != METRIC_NAME && !grouping.iter().any(|g| g == &lb.name)).cloned().collect(),
        )
    } else {
        Labels::from_sorted(l.iter().filter(|lb| grouping.iter().any(|g| g == &lb.name)).cloned().collect())
    }
}

/// The aggregation parameter over all steps, with the summary values Prometheus checks.
struct Param {
    vals: Vec<f64>,
    min: f64,
    max: f64,
    any_nan: bool,
}

fn eval_param(ctx: &mut Ctx<'_>, st: Steps, e: &Expr) -> Result<Param, QueryError> {
    let Value::Scalar(vals) = ctx.eval(st, e)? else {
        return exec_err("aggregation parameter must be a scalar");
    };
    let mut p = Param { min: f64::MAX, max: -f64::MAX, any_nan: false, vals: Vec::new() };
    for &v in &vals {
        // Go's math.Min/Max: NaN wins.
        p.max = if v.is_nan() || p.max.is_nan() { f64::NAN } else { p.max.max(v) };
        p.min = if v.is_nan() || p.min.is_nan() { f64::NAN } else { p.min.min(v) };
        p.any_nan |= v.is_nan();
    }
    p.vals = vals;
    Ok(p)
}

#[derive(Clone, Default)]
struct Group {
    seen: bool,
    value: f64,
    mean: f64,
    c: f64,
    count: f64,
    hist: Option<FloatHistogram>,
    has_float: bool,
    has_hist: bool,
    incompatible: bool,
    incremental: bool,
    drop_name: bool,
    values: Vec<f64>,
    hists: Vec<FloatHistogram>,
    heap: Vec<(u32, f64, bool)>,
}

/// Evaluates an aggregation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn eval_aggregate(
    ctx: &mut Ctx<'_>,
    st: Steps,
    op: AggOp,
    expr: &Expr,
    param: Option<&Expr>,
    grouping: &[String],
    without: bool,
    span: Span,
) -> Result<Value, QueryError> {
    let mut grouping: Vec<String> = grouping.to_vec();
    grouping.sort();
    if op == AggOp::CountValues {
        let Some(Expr::String { value, .. }) = param.map(crate::functions::unwrap_parens) else {
            return exec_err("count_values needs a string parameter");
        };
        let label = String::from_utf8_lossy(value).into_owned();
        if label.is_empty() || std::str::from_utf8(value).is_err() {
            return exec_err(format!("invalid label name {}", crate::functions::go_quote(value)));
        }
        let Value::Vector(input) = ctx.eval(st, expr)? else { return exec_err("count_values over a non-vector") };
        return Ok(Value::Vector(count_values(st, &input, &label, &grouping, without)?));
    }
    let param = match param {
        Some(p) => Some((eval_param(ctx, st, p)?, p.span())),
        None => None,
    };
    if let Some((p, pspan)) = &param {
        match op {
            AggOp::Topk | AggOp::Bottomk | AggOp::Limitk => {
                if p.max < 1.0 {
                    return Ok(Value::Vector(Vec::new()));
                }
                if p.any_nan {
                    return exec_err("Parameter value is NaN");
                }
                if p.min <= -9.223_372_036_854_775e18 {
                    return exec_err(format!("Scalar value {} underflows int64", seer_model::go_format_g(p.min)));
                }
                if p.max >= 9.223_372_036_854_775e18 {
                    return exec_err(format!("Scalar value {} overflows int64", seer_model::go_format_g(p.max)));
                }
            }
            AggOp::LimitRatio => {
                if p.min == 0.0 && p.max == 0.0 {
                    return Ok(Value::Vector(Vec::new()));
                }
                if p.any_nan {
                    return exec_err("Ratio value is NaN");
                }
                if p.max > 1.0 {
                    ctx.annotations.warn(
                        format!(
                            "ratio value should be between -1 and 1, got {}, capping to 1",
                            seer_model::go_format_g(p.max)
                        ),
                        *pspan,
                    );
                } else if p.min < -1.0 {
                    ctx.annotations.warn(
                        format!(
                            "ratio value should be between -1 and 1, got {}, capping to -1",
                            seer_model::go_format_g(p.min)
                        ),
                        *pspan,
                    );
                }
            }
            AggOp::Quantile => {
                if p.any_nan {
                    ctx.annotations.warn("quantile value should be between 0 and 1, got NaN".into(), *pspan);
                }
                if p.max > 1.0 {
                    ctx.annotations.warn(
                        format!("quantile value should be between 0 and 1, got {}", seer_model::go_format_g(p.max)),
                        *pspan,
                    );
                }
                if p.min < 0.0 {
                    ctx.annotations.warn(
                        format!("quantile value should be between 0 and 1, got {}", seer_model::go_format_g(p.min)),
                        *pspan,
                    );
                }
            }
            _ => {}
        }
    }
    let Value::Vector(input) = ctx.eval(st, expr)? else { return exec_err("aggregation over a non-vector") };
    let expr_span = expr.span();

    // Group of every input series, groups numbered in order of first appearance.
    // The key borrows the kept label pairs; a group's labels are built once, when it is new.
    let mut keys: HashMap<Vec<(&str, &str)>, u32> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let mut group_of: Vec<u32> = Vec::with_capacity(input.len());
    let mut key: Vec<(&str, &str)> = Vec::new();
    for s in &input {
        key.clear();
        key.extend(
            s.labels
                .iter()
                .filter(|lb| {
                    let listed = grouping.iter().any(|g| g == &lb.name);
                    if without { lb.name != METRIC_NAME && !listed } else { listed }
                })
                .map(|lb| (lb.name.as_str(), lb.value.as_str())),
        );
        let g = match keys.get(&key) {
            Some(&g) => g,
            None => {
                let g = group_labels.len() as u32;
                group_labels.push(grouping_labels(&s.labels, &grouping, without));
                keys.insert(key.clone(), g);
                g
            }
        };
        group_of.push(g);
    }
    let ng = group_labels.len();
    let mut reader = StepReader::new(input.len());
    let is_k = matches!(op, AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio);
    let mut out: Vec<Series> =
        if is_k { Vec::new() } else { group_labels.iter().map(|l| Series::new(l.clone(), false)).collect() };
    // topk & co: output series per input series, in first-emission order.
    let mut k_slot: Vec<u32> = vec![u32::MAX; if is_k { input.len() } else { 0 }];
    let mut groups: Vec<Group> = vec![Group::default(); ng];
    let hist_names: Vec<&str> = input.iter().map(|s| s.labels.metric_name().unwrap_or("")).collect();
    for k in 0..st.count() {
        let ts = st.ts(k);
        for g in groups.iter_mut() {
            g.seen = false;
        }
        let pval = param.as_ref().map(|(p, _)| p.vals[k]).unwrap_or(0.0);
        let mut kk: i64 = 0;
        let mut ratio = 0.0;
        if matches!(op, AggOp::Topk | AggOp::Bottomk | AggOp::Limitk) {
            kk = (pval as i64).min(input.len() as i64);
            if kk < 1 {
                // Consume this step's values so the readers stay in step.
                for i in 0..input.len() {
                    let _ = reader.at(&input, i, ts);
                }
                continue;
            }
        }
        if op == AggOp::LimitRatio {
            ratio = pval.clamp(-1.0, 1.0);
            if ratio == 0.0 {
                for i in 0..input.len() {
                    let _ = reader.at(&input, i, ts);
                }
                continue;
            }
        }
        for i in 0..input.len() {
            let Some(v) = reader.at(&input, i, ts) else { continue };
            let g = &mut groups[group_of[i] as usize];
            let (f, h) = match v {
                PVal::F(f) => (f, None),
                PVal::H(h) => (0.0, Some(h)),
            };
            if is_k {
                aggregate_k(ctx, op, g, i as u32, f, h, kk, ratio, &input[i].labels, input[i].drop_name, span);
                continue;
            }
            if !g.seen {
                *g = Group {
                    seen: true,
                    value: f,
                    mean: f,
                    count: 1.0,
                    drop_name: input[i].drop_name,
                    ..Group::default()
                };
                match op {
                    AggOp::Sum | AggOp::Avg => match h {
                        None => g.has_float = true,
                        Some(h) => {
                            g.hist = Some(h.clone());
                            g.hists = vec![h.clone()];
                            g.has_hist = true;
                        }
                    },
                    AggOp::Stddev | AggOp::Stdvar => {
                        if h.is_some() {
                            g.seen = false;
                            ctx.annotations
                                .info(format!("ignored histogram in {} aggregation", op.as_str()), expr_span);
                        } else if f.is_nan() || f.is_infinite() {
                            g.value = f64::NAN;
                        } else {
                            g.value = 0.0;
                        }
                    }
                    AggOp::Quantile => {
                        if h.is_some() {
                            g.seen = false;
                            ctx.annotations.info("ignored histogram in quantile aggregation".into(), expr_span);
                        }
                        g.values = vec![f];
                    }
                    AggOp::Group => g.value = 1.0,
                    AggOp::Min | AggOp::Max if h.is_some() => {
                        g.seen = false;
                        ctx.annotations.info(format!("ignored histogram in {} aggregation", op.as_str()), expr_span);
                    }
                    _ => {}
                }
                continue;
            }
            g.drop_name |= input[i].drop_name;
            if g.incompatible {
                continue;
            }
            match op {
                AggOp::Sum | AggOp::Avg if h.is_some() => {
                    let h = h.expect("checked");
                    g.has_hist = true;
                    if op == AggOp::Avg {
                        g.count += 1.0;
                    }
                    if let Some(acc) = g.hist.as_mut() {
                        match hist::add(acc, h) {
                            Ok(o) => note_agg_outcome(ctx, o, expr_span),
                            Err(e) => {
                                agg_hist_error(ctx, e, hist_names[i], expr_span);
                                g.incompatible = true;
                            }
                        }
                        g.hists.push(h.clone());
                    }
                }
                AggOp::Sum => {
                    g.has_float = true;
                    (g.value, g.c) = kahan_inc(f, g.value, g.c);
                }
                AggOp::Avg => {
                    g.count += 1.0;
                    match h {
                        Some(_) => {}
                        None => {
                            g.has_float = true;
                            if !g.incremental {
                                let (nv, nc) = kahan_inc(f, g.value, g.c);
                                if !nv.is_infinite() {
                                    g.value = nv;
                                    g.c = nc;
                                    continue;
                                }
                                g.incremental = true;
                                g.mean = g.value / (g.count - 1.0);
                                g.c /= g.count - 1.0;
                            }
                            let q = (g.count - 1.0) / g.count;
                            (g.mean, g.c) = kahan_inc(f / g.count, q * g.mean, q * g.c);
                        }
                    }
                }
                AggOp::Count => g.count += 1.0,
                AggOp::Group => {}
                AggOp::Min | AggOp::Max => {
                    if h.is_some() {
                        ctx.annotations.info(format!("ignored histogram in {} aggregation", op.as_str()), expr_span);
                        continue;
                    }
                    let replace = if op == AggOp::Max { g.value < f } else { g.value > f };
                    if replace || g.value.is_nan() {
                        g.value = f;
                    }
                }
                AggOp::Stddev | AggOp::Stdvar => {
                    if h.is_some() {
                        ctx.annotations.info(format!("ignored histogram in {} aggregation", op.as_str()), expr_span);
                        continue;
                    }
                    g.count += 1.0;
                    let d = f - g.mean;
                    g.mean += d / g.count;
                    g.value += d * (f - g.mean);
                }
                AggOp::Quantile => {
                    if h.is_some() {
                        ctx.annotations.info("ignored histogram in quantile aggregation".into(), expr_span);
                        continue;
                    }
                    g.values.push(f);
                }
                _ => {}
            }
        }
        if is_k {
            for g in groups.iter_mut() {
                if !g.seen {
                    continue;
                }
                match op {
                    AggOp::Topk => g.heap.sort_by(|a, b| cmp_desc_nan_last(a.1, b.1)),
                    AggOp::Bottomk => g.heap.sort_by(|a, b| cmp_asc_nan_last(a.1, b.1)),
                    _ => {}
                }
                for &(i, _, _) in &g.heap {
                    let i = i as usize;
                    if k_slot[i] == u32::MAX {
                        k_slot[i] = out.len() as u32;
                        out.push(Series::new(input[i].labels.clone(), input[i].drop_name));
                    }
                    let o = &mut out[k_slot[i] as usize];
                    copy_point(&input[i], ts, o);
                }
                g.heap.clear();
            }
            continue;
        }
        for (gi, g) in groups.iter_mut().enumerate() {
            if !g.seen {
                continue;
            }
            let o = &mut out[gi];
            o.drop_name |= g.drop_name;
            let mut hv: Option<FloatHistogram> = None;
            let fv = match op {
                AggOp::Avg | AggOp::Sum => {
                    if g.has_float && g.has_hist {
                        ctx.annotations
                            .warn("encountered a mix of histograms and floats for aggregation".into(), expr_span);
                        continue;
                    }
                    if g.incompatible {
                        continue;
                    }
                    if g.has_hist {
                        let layout = g.hist.take().unwrap_or_default();
                        let mut h = if op == AggOp::Sum {
                            hist::kahan_values(&layout, &g.hists)
                        } else {
                            hist::mean(&layout, &g.hists)
                        };
                        hist::compact(&mut h);
                        hv = Some(h);
                        0.0
                    } else if op == AggOp::Sum {
                        g.value + g.c
                    } else if g.incremental {
                        g.mean + g.c
                    } else {
                        g.value / g.count + g.c / g.count
                    }
                }
                AggOp::Count => g.count,
                AggOp::Stdvar => g.value / g.count,
                AggOp::Stddev => (g.value / g.count).sqrt(),
                AggOp::Quantile => quantile(param.as_ref().map(|(p, _)| p.vals[k]).unwrap_or(f64::NAN), &mut g.values),
                _ => g.value,
            };
            match hv {
                Some(h) => o.hists.push(HPoint { t: ts, h }),
                None => o.floats.push(Sample { t: ts, v: fv }),
            }
        }
    }
    out.retain(|s| !s.is_empty());
    Ok(Value::Vector(out))
}

fn copy_point(s: &Series, ts: i64, o: &mut Series) {
    if let Ok(i) = s.floats.binary_search_by_key(&ts, |p| p.t) {
        o.floats.push(s.floats[i]);
    } else if let Ok(i) = s.hists.binary_search_by_key(&ts, |p| p.t) {
        o.hists.push(s.hists[i].clone());
    }
}

fn cmp_desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn cmp_asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// One sample into a `topk`/`bottomk`/`limitk`/`limit_ratio` group.
#[allow(clippy::too_many_arguments)]
fn aggregate_k(
    ctx: &mut Ctx<'_>,
    op: AggOp,
    g: &mut Group,
    i: u32,
    f: f64,
    h: Option<&FloatHistogram>,
    k: i64,
    ratio: f64,
    labels: &Labels,
    _drop: bool,
    span: Span,
) {
    if matches!(op, AggOp::Topk | AggOp::Bottomk) && h.is_some() {
        ctx.annotations.info(format!("ignored histogram in {} aggregation", op.as_str()), span);
        return;
    }
    if !g.seen {
        g.seen = true;
        g.heap.clear();
    }
    match op {
        AggOp::Topk | AggOp::Bottomk => {
            if (g.heap.len() as i64) < k {
                g.heap.push((i, f, false));
                return;
            }
            // Replace the current worst element when this one is better.
            let worst = (0..g.heap.len())
                .reduce(|a, b| {
                    let (x, y) = (g.heap[a].1, g.heap[b].1);
                    let b_worse = if op == AggOp::Topk { worse_top(y, x) } else { worse_bottom(y, x) };
                    if b_worse { b } else { a }
                })
                .expect("k >= 1");
            let w = g.heap[worst].1;
            let better = if op == AggOp::Topk {
                w < f || (w.is_nan() && !f.is_nan())
            } else {
                w > f || (w.is_nan() && !f.is_nan())
            };
            if better {
                g.heap[worst] = (i, f, false);
            }
        }
        AggOp::Limitk if (g.heap.len() as i64) < k => {
            g.heap.push((i, f, false));
        }
        AggOp::LimitRatio => {
            let off = labels_hash(labels) as f64 / u64::MAX as f64;
            if (ratio >= 0.0 && off < ratio) || (ratio < 0.0 && off >= 1.0 + ratio) {
                g.heap.push((i, f, false));
            }
        }
        _ => {}
    }
}

/// `a` ranks below `b` for topk (NaN lowest).
fn worse_top(a: f64, b: f64) -> bool {
    if a.is_nan() {
        return !b.is_nan();
    }
    !b.is_nan() && a < b
}

/// `a` ranks below `b` for bottomk (NaN lowest, large values low).
fn worse_bottom(a: f64, b: f64) -> bool {
    if a.is_nan() {
        return !b.is_nan();
    }
    !b.is_nan() && a > b
}

fn note_agg_outcome(ctx: &mut Ctx<'_>, o: hist::Outcome, span: Span) {
    if o.counter_reset_collision {
        ctx.annotations.warn("conflicting counter resets during histogram aggregation".into(), span);
    }
    if o.bounds_reconciled {
        ctx.annotations.info("mismatched custom buckets were reconciled during aggregation".into(), span);
    }
}

fn agg_hist_error(ctx: &mut Ctx<'_>, e: hist::HistError, name: &str, span: Span) {
    match e {
        hist::HistError::IncompatibleSchema | hist::HistError::IncompatibleBounds => ctx.annotations.warn(
            format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                name
            ),
            span,
        ),
    }
}

/// `count_values("label", v)`.
fn count_values(
    st: Steps,
    input: &[Series],
    label: &str,
    grouping: &[String],
    without: bool,
) -> Result<Vec<Series>, QueryError> {
    let mut grouping = grouping.to_vec();
    if !without {
        grouping.push(label.to_string());
        grouping.sort();
    }
    let mut out: Vec<Series> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut reader = StepReader::new(input.len());
    for k in 0..st.count() {
        let ts = st.ts(k);
        let mut counts: Vec<(usize, f64)> = Vec::new();
        for i in 0..input.len() {
            let Some(v) = reader.at(input, i, ts) else { continue };
            let value = match v {
                PVal::F(f) => seer_model::go_format_f(f),
                PVal::H(h) => hist::to_string(h),
            };
            let mut b: LabelsBuilder = input[i].labels.to_builder();
            b.set(label.to_string(), value);
            let l = grouping_labels(&b.build(), &grouping, without);
            let slot = match index.get(&l) {
                Some(&s) => s,
                None => {
                    index.insert(l.clone(), out.len());
                    out.push(Series::new(l, false));
                    out.len() - 1
                }
            };
            match counts.iter_mut().find(|c| c.0 == slot) {
                Some(c) => c.1 += 1.0,
                None => counts.push((slot, 1.0)),
            }
        }
        for (slot, n) in counts {
            out[slot].floats.push(Sample { t: ts, v: n });
        }
    }
    Ok(out)
}

/// Prometheus' `quantile`: linear interpolation between the closest ranks.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lo = rank.floor().max(0.0);
    let hi = (lo + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    values[lo as usize] * (1.0 - w) + values[hi as usize] * w
}

/// Prometheus' `labels.Hash()` (xxhash64 of the length-prefixed label encoding), which
/// `limit_ratio` uses to pick series.
pub(crate) fn labels_hash(l: &Labels) -> u64 {
    let mut buf = Vec::new();
    let put_len = |buf: &mut Vec<u8>, n: usize| {
        if n < 255 {
            buf.push(n as u8);
        } else {
            buf.push(255);
            buf.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
    };
    for lb in l.iter() {
        put_len(&mut buf, lb.name.len());
        buf.extend_from_slice(lb.name.as_bytes());
        put_len(&mut buf, lb.value.len());
        buf.extend_from_slice(lb.value.as_bytes());
    }
    xxhash64(&buf, 0)
}

const P1: u64 = 11400714785074694791;
const P2: u64 = 14029467366897019727;
const P3: u64 = 1609587929392839161;
const P4: u64 = 9650029242287828579;
const P5: u64 = 2870177450012600261;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

fn merge_round(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

/// XXH64 (the public algorithm by Yann Collet).
pub(crate) fn xxhash64(data: &[u8], seed: u64) -> u64 {
    let rd64 = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let rd32 = |b: &[u8]| u32::from_le_bytes(b[..4].try_into().expect("4 bytes")) as u64;
    let mut p = data;
    let mut h: u64;
    if data.len() >= 32 {
        let mut v1 = seed.wrapping_add(P1).wrapping_add(P2);
        let mut v2 = seed.wrapping_add(P2);
        let mut v3 = seed;
        let mut v4 = seed.wrapping_sub(P1);
        while p.len() >= 32 {
            v1 = round(v1, rd64(p));
            v2 = round(v2, rd64(&p[8..]));
            v3 = round(v3, rd64(&p[16..]));
            v4 = round(v4, rd64(&p[24..]));
            p = &p[32..];
        }
        h = v1
            .rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18));
        h = merge_round(h, v1);
        h = merge_round(h, v2);
        h = merge_round(h, v3);
        h = merge_round(h, v4);
    } else {
        h = seed.wrapping_add(P5);
    }
    h = h.wrapping_add(data.len() as u64);
    while p.len() >= 8 {
        h ^= round(0, rd64(p));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        p = &p[8..];
    }
    if p.len() >= 4 {
        h ^= rd32(p).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        p = &p[4..];
    }
    for &b in p {
        h ^= (b as u64).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^= h >> 32;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxhash64_reference_values() {
        assert_eq!(xxhash64(b"", 0), 0xef46db3751d8e999);
        assert_eq!(xxhash64(b"a", 0), 0xd24ec4f1a98c6e5b);
        assert_eq!(xxhash64(b"abc", 0), 0x44bc2cf5ad770999);
        assert_eq!(xxhash64(b"Nobody inspects the spammish repetition", 0), 0xfbcea83c8a378bf1);
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(0.5, &mut [1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
    }
}
