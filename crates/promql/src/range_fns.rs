//! Functions over range vectors: `rate` & co, `*_over_time`, `deriv`, `predict_linear`,
//! `changes`, `resets`, `absent_over_time`. Each is called once per series and step with
//! that step's window.

use crate::aggregate::{kahan_inc, quantile};
use crate::eval::{Ctx, RangeArg, Steps};
use crate::histogram as hist;
use crate::parser::ast::{Expr, Extension, Span};
use crate::value::{HPoint, QueryError, Series, exec_err};
use seer_model::{CounterResetHint, FloatHistogram, Sample};

/// One step's window of one series.
pub(crate) struct Window<'a> {
    pub floats: &'a [Sample],
    pub hists: &'a [HPoint],
    /// Window start (exclusive), ms.
    pub start: i64,
    /// Window end (inclusive), ms.
    pub end: i64,
    /// Evaluation time, ms.
    pub ts: i64,
    /// Nominal range, ms.
    pub range: i64,
}

/// A function result.
pub(crate) enum Out {
    F(f64),
    H(Box<FloatHistogram>),
}

/// Annotation context of one call.
pub(crate) struct Notes<'a, 'c> {
    pub ctx: &'a mut Ctx<'c>,
    /// Position of the range argument.
    pub span: Span,
    /// Position of the first argument (for `quantile_over_time`'s `q`).
    pub first_arg: Span,
    pub name: &'a str,
}

impl Notes<'_, '_> {
    pub fn warn(&mut self, msg: String) {
        self.ctx.annotations.warn(msg, self.span);
    }

    pub fn info(&mut self, msg: String) {
        self.ctx.annotations.info(msg, self.span);
    }

    pub fn mixed(&mut self) {
        let m = format!("encountered a mix of histograms and floats for metric name {:?}", self.name);
        self.warn(m);
    }

    pub fn ignored_hists(&mut self) {
        let m = format!(
            "ignored histograms in a range containing both floats and histograms for metric name {:?}",
            self.name
        );
        self.info(m);
    }

    pub fn schema_mix(&mut self) {
        let m = format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            self.name
        );
        self.warn(m);
    }
}

/// Evaluates a function whose argument `m` is a range vector.
pub(crate) fn eval_range_function(
    ctx: &mut Ctx<'_>,
    st: Steps,
    name: &str,
    m: RangeArg,
    scalars: &[Option<Vec<f64>>],
    marg: &Expr,
    span: Span,
) -> Result<Vec<Series>, QueryError> {
    let _ = span;
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let scalar = |i: usize, k: usize| scalars.get(i).and_then(|s| s.as_ref()).map(|v| v[k]).unwrap_or(f64::NAN);
    let first_arg_span = match scalars.first() {
        Some(Some(_)) => Span::default(),
        _ => m.span,
    };
    let _ = first_arg_span;
    let mut out = Vec::with_capacity(m.series.len());
    if name == "quantile_over_time" {
        // The q warning is about the argument, once per query.
        let _ = ();
    }
    for s in &m.series {
        ctx.check()?;
        let metric_name = s.labels.metric_name().unwrap_or("");
        let mut o = Series::new(s.labels.clone(), s.drop_name || !keep_name);
        let (mut f0, mut f1, mut h0, mut h1) = (0usize, 0usize, 0usize, 0usize);
        let mut produced_float = false;
        for k in 0..st.count() {
            let ts = st.ts(k);
            let end = m.window_end(ts);
            let (lo, hi) = if m.ext == Extension::None {
                (end - m.range, end)
            } else {
                crate::extended::load_bounds(ctx, m.ext, end - m.range, end)
            };
            while f1 < s.floats.len() && s.floats[f1].t <= hi {
                f1 += 1;
            }
            while f0 < f1 && s.floats[f0].t <= lo {
                f0 += 1;
            }
            while h1 < s.hists.len() && s.hists[h1].t <= hi {
                h1 += 1;
            }
            while h0 < h1 && s.hists[h0].t <= lo {
                h0 += 1;
            }
            if f0 == f1 && h0 == h1 {
                continue;
            }
            let w = Window {
                floats: &s.floats[f0..f1],
                hists: &s.hists[h0..h1],
                start: end - m.range,
                end,
                ts,
                range: m.range,
            };
            let first_span = marg_first_span(marg, &m);
            let mut notes = Notes { ctx, span: m.span, first_arg: first_span, name: metric_name };
            let r = if m.ext != Extension::None {
                crate::extended::call(name, m.ext, &w, &mut notes)?
            } else {
                call(name, &w, &mut notes, |i| scalar(i, k))?
            };
            match r {
                Some(Out::F(v)) => {
                    produced_float = true;
                    o.floats.push(Sample { t: ts, v });
                }
                Some(Out::H(h)) => o.hists.push(HPoint { t: ts, h: *h }),
                None => {}
            }
        }
        if matches!(name, "rate" | "increase")
            && produced_float
            && !metric_name.is_empty()
            && !["_total", "_sum", "_count", "_bucket"].iter().any(|x| metric_name.ends_with(x))
        {
            ctx.annotations.info(
                format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {:?}",
                    metric_name
                ),
                m.span,
            );
        }
        if !o.is_empty() {
            out.push(o);
        }
    }
    if name == "absent_over_time" {
        return Ok(absent_over_time(st, out, marg));
    }
    Ok(out)
}

fn marg_first_span(_marg: &Expr, m: &RangeArg) -> Span {
    m.span
}

/// `absent_over_time`: 1 at the steps where no series had a sample in its window.
fn absent_over_time(st: Steps, present: Vec<Series>, marg: &Expr) -> Vec<Series> {
    let mut seen = vec![false; st.count()];
    for s in &present {
        for p in &s.floats {
            seen[st.index(p.t)] = true;
        }
    }
    let mut s = Series::new(crate::functions::absent_labels(marg), true);
    for (k, &p) in seen.iter().enumerate() {
        if !p {
            s.floats.push(Sample { t: st.ts(k), v: 1.0 });
        }
    }
    if s.is_empty() { Vec::new() } else { vec![s] }
}

/// One function on one window.
fn call(
    name: &str,
    w: &Window<'_>,
    n: &mut Notes<'_, '_>,
    scalar: impl Fn(usize) -> f64,
) -> Result<Option<Out>, QueryError> {
    let (fl, hs) = (w.floats, w.hists);
    Ok(match name {
        "rate" => extrapolated_rate(w, true, true, n),
        "increase" => extrapolated_rate(w, true, false, n),
        "delta" => extrapolated_rate(w, false, false, n),
        "irate" => instant_value(w, true, n),
        "idelta" => instant_value(w, false, n),
        "count_over_time" => Some(Out::F((fl.len() + hs.len()) as f64)),
        "present_over_time" | "absent_over_time" => Some(Out::F(1.0)),
        "last_over_time" => match (fl.last(), hs.last()) {
            (Some(f), Some(h)) if h.t > f.t => Some(Out::H(Box::new(h.h.clone()))),
            (Some(f), _) => Some(Out::F(f.v)),
            (None, Some(h)) => Some(Out::H(Box::new(h.h.clone()))),
            _ => None,
        },
        "first_over_time" => match (fl.first(), hs.first()) {
            (Some(f), Some(h)) if h.t < f.t => Some(Out::H(Box::new(h.h.clone()))),
            (Some(f), _) => Some(Out::F(f.v)),
            (None, Some(h)) => Some(Out::H(Box::new(h.h.clone()))),
            _ => None,
        },
        "ts_of_first_over_time" => {
            let t = match (fl.first(), hs.first()) {
                (Some(f), Some(h)) => f.t.min(h.t),
                (Some(f), None) => f.t,
                (None, Some(h)) => h.t,
                _ => return Ok(None),
            };
            Some(Out::F(t as f64 / 1000.0))
        }
        "ts_of_last_over_time" => {
            let t = match (fl.last(), hs.last()) {
                (Some(f), Some(h)) => f.t.max(h.t),
                (Some(f), None) => f.t,
                (None, Some(h)) => h.t,
                _ => return Ok(None),
            };
            Some(Out::F(t as f64 / 1000.0))
        }
        "max_over_time" | "min_over_time" | "ts_of_max_over_time" | "ts_of_min_over_time" => {
            if fl.is_empty() {
                return Ok(None);
            }
            if !hs.is_empty() {
                n.ignored_hists();
            }
            let is_max = name.contains("max");
            let ts_of = name.starts_with("ts_of");
            let mut m = fl[0];
            for p in fl {
                let better = if ts_of {
                    if is_max { p.v >= m.v } else { p.v <= m.v }
                } else if is_max {
                    p.v > m.v
                } else {
                    p.v < m.v
                };
                if better || m.v.is_nan() {
                    m = *p;
                }
            }
            Some(Out::F(if ts_of { m.t as f64 / 1000.0 } else { m.v }))
        }
        "sum_over_time" => {
            if !fl.is_empty() && !hs.is_empty() {
                n.mixed();
                return Ok(None);
            }
            if fl.is_empty() {
                return Ok(hist_over_window(hs, n, hist::kahan_values));
            }
            let (mut sum, mut c) = (0.0, 0.0);
            for p in fl {
                (sum, c) = kahan_inc(p.v, sum, c);
            }
            Some(Out::F(if sum.is_infinite() { sum } else { sum + c }))
        }
        "avg_over_time" => {
            if !fl.is_empty() && !hs.is_empty() {
                n.mixed();
                return Ok(None);
            }
            if fl.is_empty() {
                return Ok(hist_over_window(hs, n, hist::mean));
            }
            Some(Out::F(avg_floats(fl)))
        }
        "stddev_over_time" | "stdvar_over_time" => {
            if fl.is_empty() {
                return Ok(None);
            }
            if !hs.is_empty() {
                n.ignored_hists();
            }
            let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in fl {
                count += 1.0;
                let d = p.v - (mean + cmean);
                (mean, cmean) = kahan_inc(d / count, mean, cmean);
                (aux, caux) = kahan_inc(d * (p.v - (mean + cmean)), aux, caux);
            }
            let var = (aux + caux) / count;
            Some(Out::F(if name == "stddev_over_time" { var.sqrt() } else { var }))
        }
        "quantile_over_time" => {
            if fl.is_empty() {
                return Ok(None);
            }
            let q = scalar(0);
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                let msg = format!("quantile value should be between 0 and 1, got {}", seer_model::go_format_g(q));
                n.ctx.annotations.warn(msg, n.first_arg);
            }
            if !hs.is_empty() {
                let m = format!(
                    "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                    n.name
                );
                n.ctx.annotations.info(m, n.first_arg);
            }
            let mut vals: Vec<f64> = fl.iter().map(|p| p.v).collect();
            Some(Out::F(quantile(q, &mut vals)))
        }
        "mad_over_time" => {
            if fl.is_empty() {
                return Ok(None);
            }
            if !hs.is_empty() {
                n.ignored_hists();
            }
            let mut vals: Vec<f64> = fl.iter().map(|p| p.v).collect();
            if vals.iter().any(|v| v.is_nan()) {
                return Ok(Some(Out::F(f64::NAN)));
            }
            let median = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = vals.iter().map(|v| (v - median).abs()).collect();
            Some(Out::F(quantile(0.5, &mut dev)))
        }
        "changes" | "resets" => Some(Out::F(changes_or_resets(fl, hs, name == "resets") as f64)),
        "deriv" | "predict_linear" => {
            if fl.len() < 2 {
                if fl.len() == 1 && !hs.is_empty() {
                    n.ignored_hists();
                }
                return Ok(None);
            }
            if !hs.is_empty() {
                n.ignored_hists();
            }
            if name == "deriv" {
                let (slope, _) = linear_regression(fl, fl[0].t);
                Some(Out::F(slope))
            } else {
                let (slope, intercept) = linear_regression(fl, w.ts);
                Some(Out::F(slope * scalar(1) + intercept))
            }
        }
        "double_exponential_smoothing" => {
            let (sf, tf) = (scalar(1), scalar(2));
            if sf <= 0.0 || sf >= 1.0 {
                return exec_err(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
                    seer_model::go_format_f6(sf)
                ));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return exec_err(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {}",
                    seer_model::go_format_f6(tf)
                ));
            }
            if fl.len() < 2 {
                if fl.len() == 1 && !hs.is_empty() {
                    n.ignored_hists();
                }
                return Ok(None);
            }
            if !hs.is_empty() {
                n.ignored_hists();
            }
            let (mut s0, mut s1, mut b) = (0.0, fl[0].v, fl[1].v - fl[0].v);
            for (i, p) in fl.iter().enumerate().skip(1) {
                let x = sf * p.v;
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let y = (1.0 - sf) * (s1 + b);
                s0 = s1;
                s1 = x + y;
            }
            Some(Out::F(s1))
        }
        // Every range function the parser accepts is matched above (test
        // `every_parsed_function_evaluates` in functions.rs).
        _ => return exec_err(format!("internal error: no evaluator for function {name:?}")),
    })
}

/// `sum_over_time` / `avg_over_time` of a window of histograms: `f` over the window in its
/// common layout, compacted.
fn hist_over_window(
    hs: &[HPoint],
    n: &mut Notes<'_, '_>,
    f: fn(&FloatHistogram, &[FloatHistogram]) -> FloatHistogram,
) -> Option<Out> {
    let layout = hist_layout(hs, n)?;
    let all: Vec<FloatHistogram> = hs.iter().map(|p| p.h.clone()).collect();
    let mut h = f(&layout, &all);
    hist::compact(&mut h);
    Some(Out::H(Box::new(h)))
}

/// The plain sum of a window's histograms (its layout and hint), with annotations.
fn hist_layout(hs: &[HPoint], n: &mut Notes<'_, '_>) -> Option<FloatHistogram> {
    // Like Prometheus, a conflict is a window holding both reset and not-reset hints.
    let seen = |hint| hs.iter().any(|p| p.h.counter_reset_hint == hint);
    if seen(CounterResetHint::CounterReset) && seen(CounterResetHint::NotCounterReset) {
        n.warn("conflicting counter resets during histogram aggregation".into());
    }
    let mut sum = hs[0].h.clone();
    for h in &hs[1..] {
        match hist::add(&mut sum, &h.h) {
            Ok(o) => note_outcome(n, hist::Outcome { counter_reset_collision: false, ..o }, "aggregation"),
            Err(_) => {
                n.schema_mix();
                return None;
            }
        }
    }
    Some(sum)
}

fn note_outcome(n: &mut Notes<'_, '_>, o: hist::Outcome, what: &str) {
    if o.counter_reset_collision {
        n.warn(format!("conflicting counter resets during histogram {what}"));
    }
    if o.bounds_reconciled {
        n.info(format!("mismatched custom buckets were reconciled during {what}"));
    }
}

/// Mean of floats with Kahan summation, switching to an incremental mean on overflow.
pub(crate) fn avg_floats(fl: &[Sample]) -> f64 {
    let (mut sum, mut count, mut mean, mut c) = (fl[0].v, 1.0, 0.0, 0.0);
    let mut incremental = false;
    for (i, p) in fl[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.v / count, q * mean, q * c);
    }
    if incremental { mean + c } else { sum / count + c / count }
}

/// Counts value changes (or counter resets) across floats and histograms merged by time.
fn changes_or_resets(fl: &[Sample], hs: &[HPoint], resets: bool) -> usize {
    let (mut i, mut j) = (0, 0);
    let mut prev: Option<(Option<f64>, Option<&FloatHistogram>)> = None;
    let mut n = 0;
    while i < fl.len() || j < hs.len() {
        let take_f = j >= hs.len() || (i < fl.len() && fl[i].t < hs[j].t);
        let cur = if take_f {
            i += 1;
            (Some(fl[i - 1].v), None)
        } else {
            j += 1;
            (None, Some(&hs[j - 1].h))
        };
        if let Some(p) = prev {
            match (p, cur) {
                ((Some(a), _), (Some(b), _)) => {
                    if resets {
                        if b < a {
                            n += 1;
                        }
                    } else if a != b && !(a.is_nan() && b.is_nan()) {
                        n += 1;
                    }
                }
                ((_, Some(a)), (_, Some(b))) => {
                    if resets {
                        if hist::detect_reset(b, a) {
                            n += 1;
                        }
                    } else if !hist::equals(a, b) {
                        n += 1;
                    }
                }
                _ => n += 1,
            }
        }
        prev = Some(cur);
    }
    n
}

/// Least-squares fit of the floats; x is seconds relative to `intercept_t`.
pub(crate) fn linear_regression(fl: &[Sample], intercept_t: i64) -> (f64, f64) {
    let init = fl[0].v;
    let mut const_y = true;
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, p) in fl.iter().enumerate() {
        if const_y && i > 0 && p.v != init {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1000.0;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// `rate`, `increase`, `delta`: the change over the window, extrapolated towards its edges.
fn extrapolated_rate(w: &Window<'_>, is_counter: bool, is_rate: bool, n: &mut Notes<'_, '_>) -> Option<Out> {
    let (fl, hs) = (w.floats, w.hists);
    if !fl.is_empty() && !hs.is_empty() {
        n.mixed();
        return None;
    }
    let (first_t, last_t, samples_minus_one);
    let mut result_f = 0.0;
    let mut result_h: Option<FloatHistogram> = None;
    if hs.len() > 1 {
        samples_minus_one = hs.len() - 1;
        first_t = hs[0].t;
        last_t = hs[samples_minus_one].t;
        result_h = Some(histogram_rate(hs, is_counter, n)?);
    } else if fl.len() > 1 {
        samples_minus_one = fl.len() - 1;
        first_t = fl[0].t;
        last_t = fl[samples_minus_one].t;
        result_f = fl[samples_minus_one].v - fl[0].v;
        if is_counter {
            let mut prev = fl[0].v;
            for p in &fl[1..] {
                if p.v < prev {
                    result_f += prev;
                }
                prev = p.v;
            }
        }
    } else {
        return None;
    }
    let mut to_start = (first_t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / samples_minus_one as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter {
        let mut to_zero = to_start;
        if result_f > 0.0 && !fl.is_empty() && fl[0].v >= 0.0 {
            to_zero = sampled * (fl[0].v / result_f);
        } else if let Some(h) = &result_h
            && h.count > 0.0
            && !hs.is_empty()
            && hs[0].h.count >= 0.0
        {
            to_zero = sampled * (hs[0].h.count / h.count);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= w.range as f64 / 1000.0;
    }
    match result_h {
        Some(mut h) => {
            hist::mul(&mut h, factor);
            Some(Out::H(Box::new(h)))
        }
        None => Some(Out::F(result_f * factor)),
    }
}

/// The histogram change over a window (counter resets compensated for counters).
fn histogram_rate(hs: &[HPoint], is_counter: bool, n: &mut Notes<'_, '_>) -> Option<FloatHistogram> {
    let first = &hs[0].h;
    let last = &hs[hs.len() - 1].h;
    if is_counter
        && (first.counter_reset_hint == CounterResetHint::Gauge || last.counter_reset_hint == CounterResetHint::Gauge)
    {
        let m = format!("this native histogram metric is not a counter: {:?}", n.name);
        n.warn(m);
    }
    let mut prev = first.clone();
    // When the second sample already is a reset, the first one only marks the start.
    let mut reset_from = 1;
    if is_counter && hs.len() > 1 && hist::detect_reset(&hs[1].h, first) {
        reset_from = 2;
        prev = FloatHistogram {
            schema: hs[1].h.schema,
            custom_values: hs[1].h.custom_values.clone(),
            counter_reset_hint: CounterResetHint::Unknown,
            ..FloatHistogram::default()
        };
    }
    let custom = prev.uses_custom_buckets();
    if custom != last.uses_custom_buckets() {
        n.schema_mix();
        return None;
    }
    let mut min_schema = prev.schema.min(last.schema);
    for p in &hs[1..hs.len() - 1] {
        if is_counter && p.h.counter_reset_hint == CounterResetHint::Gauge {
            let m = format!("this native histogram metric is not a counter: {:?}", n.name);
            n.warn(m);
        }
        if p.h.uses_custom_buckets() != custom {
            n.schema_mix();
            return None;
        }
        min_schema = min_schema.min(p.h.schema);
    }
    let mut h = last.clone();
    if h.schema > min_schema {
        hist::reduce_resolution(&mut h, min_schema);
    }
    match hist::sub(&mut h, &prev) {
        Ok(o) => note_outcome(n, hist::Outcome { counter_reset_collision: false, ..o }, "subtraction"),
        Err(_) => {
            n.schema_mix();
            return None;
        }
    }
    if is_counter {
        for i in reset_from..hs.len() {
            if hist::detect_reset(&hs[i].h, &hs[i - 1].h) {
                match hist::add(&mut h, &hs[i - 1].h) {
                    Ok(o) => note_outcome(n, hist::Outcome { counter_reset_collision: false, ..o }, "addition"),
                    Err(_) => {
                        n.schema_mix();
                        return None;
                    }
                }
            }
        }
    } else if first.counter_reset_hint != CounterResetHint::Gauge || last.counter_reset_hint != CounterResetHint::Gauge
    {
        let m = format!("this native histogram metric is not a gauge: {:?}", n.name);
        n.warn(m);
    }
    h.counter_reset_hint = CounterResetHint::Gauge;
    hist::compact(&mut h);
    Some(h)
}

/// `irate`, `idelta`: from the last two samples.
fn instant_value(w: &Window<'_>, is_rate: bool, n: &mut Notes<'_, '_>) -> Option<Out> {
    let (fl, hs) = (w.floats, w.hists);
    if fl.len() + hs.len() < 2 {
        return None;
    }
    #[derive(Clone, Copy)]
    struct P<'a> {
        t: i64,
        f: f64,
        h: Option<&'a FloatHistogram>,
    }
    let mut ss: Vec<P<'_>> = Vec::with_capacity(2);
    for p in &fl[fl.len().saturating_sub(2)..] {
        ss.push(P { t: p.t, f: p.v, h: None });
    }
    for p in &hs[hs.len().saturating_sub(2)..] {
        let s = P { t: p.t, f: 0.0, h: Some(&p.h) };
        match ss.len() {
            0 => ss.push(s),
            1 => {
                if s.t < ss[0].t {
                    ss.insert(0, s);
                } else {
                    ss.push(s);
                }
            }
            _ => {
                if s.t < ss[0].t {
                } else if s.t > ss[1].t {
                    ss[0] = ss[1];
                    ss[1] = s;
                } else {
                    ss[0] = s;
                }
            }
        }
    }
    let interval = ss[1].t - ss[0].t;
    if interval == 0 {
        return None;
    }
    let secs = interval as f64 / 1000.0;
    match (ss[0].h, ss[1].h) {
        (None, None) => {
            let mut v = ss[1].f;
            if !is_rate || ss[1].f >= ss[0].f || ss[1].f.is_nan() || ss[0].f.is_nan() {
                v = ss[1].f - ss[0].f;
            }
            Some(Out::F(if is_rate { v / secs } else { v }))
        }
        (Some(a), Some(b)) => {
            let mut r = b.clone();
            if is_rate
                && (a.counter_reset_hint == CounterResetHint::Gauge || b.counter_reset_hint == CounterResetHint::Gauge)
            {
                let m = format!("this native histogram metric is not a counter: {:?}", n.name);
                n.warn(m);
            }
            if !is_rate
                && (a.counter_reset_hint != CounterResetHint::Gauge || b.counter_reset_hint != CounterResetHint::Gauge)
            {
                let m = format!("this native histogram metric is not a gauge: {:?}", n.name);
                n.warn(m);
            }
            if !is_rate || !hist::detect_reset(b, a) {
                match hist::sub(&mut r, a) {
                    Ok(o) => note_outcome(n, o, "subtraction"),
                    Err(_) => {
                        n.schema_mix();
                        return None;
                    }
                }
            }
            r.counter_reset_hint = CounterResetHint::Gauge;
            hist::compact(&mut r);
            if is_rate {
                hist::div(&mut r, secs);
            }
            Some(Out::H(Box::new(r)))
        }
        _ => {
            n.mixed();
            None
        }
    }
}
