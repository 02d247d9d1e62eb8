//! The experimental `anchored` and `smoothed` selector modifiers: windows widened by the
//! lookback delta, boundary values taken at (anchored) or interpolated to (smoothed) the
//! range edges, and no extrapolation.

use crate::eval::{Ctx, RangeArg, Steps};
use crate::histogram as hist;
use crate::parser::ast::{Extension, VectorSelector};
use crate::range_fns::{Notes, Out, Window};
use crate::value::{HPoint, QueryError, Series};
use seer_model::{CounterResetHint, FloatHistogram, Sample};

/// The samples loaded for one step's window `(start, end]`.
pub(crate) fn load_bounds(ctx: &Ctx<'_>, ext: Extension, start: i64, end: i64) -> (i64, i64) {
    match ext {
        Extension::Smoothed => (start - ctx.lookback, end + ctx.lookback),
        _ => (start - ctx.lookback, end),
    }
}

/// Loads the series of an anchored or smoothed range selector for every step.
pub(crate) fn select_extended(
    ctx: &mut Ctx<'_>,
    st: Steps,
    vs: &VectorSelector,
    arg: &RangeArg,
) -> Result<Vec<Series>, QueryError> {
    let (lo, _) = load_bounds(ctx, arg.ext, arg.window_end(st.start) - arg.range, arg.window_end(st.start));
    let (_, hi) = load_bounds(ctx, arg.ext, arg.window_end(st.end) - arg.range, arg.window_end(st.end));
    let sel = ctx.select(&vs.matchers, lo + 1, hi)?;
    let mut out = Vec::with_capacity(sel.len());
    for s in sel {
        let mut o = Series::new(s.labels, false);
        o.floats = s.floats.into_iter().filter(|p| !seer_model::is_stale_nan(p.v)).collect();
        o.hists = s.histograms.into_iter().filter(|p| !p.h.is_stale()).map(|p| HPoint { t: p.t, h: p.h }).collect();
        if !o.is_empty() {
            out.push(o);
        }
    }
    Ok(out)
}

/// A function over an anchored/smoothed window (already checked to be allowed).
pub(crate) fn call(
    name: &str,
    ext: Extension,
    w: &Window<'_>,
    n: &mut Notes<'_, '_>,
) -> Result<Option<Out>, QueryError> {
    Ok(match name {
        "changes" | "resets" => changes_anchored(w, name == "resets"),
        "rate" | "increase" | "delta" => {
            if !w.floats.is_empty() && !w.hists.is_empty() {
                n.mixed();
                return Ok(None);
            }
            let counter = name != "delta";

            if !w.hists.is_empty() {
                hist_rate(w, ext, counter, n).map(|mut h| {
                    if name == "rate" {
                        hist::div(&mut h, w.range as f64 / 1000.0);
                    }
                    Out::H(Box::new(h))
                })
            } else {
                float_rate(w, ext, counter)
                    .map(|v| Out::F(if name == "rate" { v / (w.range as f64 / 1000.0) } else { v }))
            }
        }
        _ => None,
    })
}

/// Indices of the left and right boundary samples, or None when the window is empty.
fn boundaries(times: &[i64], ext: Extension, s: i64, e: i64) -> Option<(usize, usize)> {
    let n = times.len();
    if n == 0 {
        return None;
    }
    let i = times[..n - 1].iter().rposition(|&t| t <= s).unwrap_or(0);
    let j = match ext {
        Extension::Smoothed => times[..n - 1].iter().position(|&t| t >= e).unwrap_or(n - 1),
        _ => n - 1,
    };
    if times[j] <= s {
        return None;
    }
    if ext == Extension::Smoothed && times[i] > e {
        return None;
    }
    Some((i, j))
}

fn interpolate(p1: Sample, p2: Sample, at: i64, counter: bool) -> f64 {
    let y1 = if counter && p2.v < p1.v { 0.0 } else { p1.v };
    y1 + (p2.v - y1) * (at - p1.t) as f64 / (p2.t - p1.t) as f64
}

fn float_rate(w: &Window<'_>, ext: Extension, counter: bool) -> Option<f64> {
    let f = w.floats;
    let times: Vec<i64> = f.iter().map(|p| p.t).collect();
    let (i, j) = boundaries(&times, ext, w.start, w.end)?;
    let left = if ext == Extension::Smoothed && f[i].t < w.start && i + 1 < f.len() {
        interpolate(f[i], f[i + 1], w.start, counter)
    } else {
        f[i].v
    };
    let right = if ext == Extension::Smoothed && j > 0 && f[j].t > w.end {
        interpolate(f[j - 1], f[j], w.end, counter)
    } else {
        f[j].v
    };
    let mut result = right - left;
    if counter {
        let mut prev = left;
        let mut c = 0.0;
        for p in f.iter().filter(|p| p.t > w.start && p.t < w.end) {
            if p.v < prev {
                c += prev;
            }
            prev = p.v;
        }
        if right < prev {
            c += prev;
        }
        result += c;
    }
    Some(result)
}

fn hist_interpolate(h1: &HPoint, h2: &HPoint, at: i64, counter: bool, n: &mut Notes<'_, '_>) -> Option<FloatHistogram> {
    if h1.h.uses_custom_buckets() != h2.h.uses_custom_buckets() {
        n.schema_mix();
        return None;
    }
    if at == h1.t {
        return Some(h1.h.clone());
    }
    if at == h2.t {
        return Some(h2.h.clone());
    }
    let frac = (at - h1.t) as f64 / (h2.t - h1.t) as f64;
    if counter && hist::detect_reset(&h2.h, &h1.h) {
        let mut r = h2.h.clone();
        hist::mul(&mut r, frac);
        return Some(r);
    }
    let mut d = h2.h.clone();
    if hist::sub(&mut d, &h1.h).is_err() {
        n.schema_mix();
        return None;
    }
    hist::mul(&mut d, frac);
    let mut r = h1.h.clone();
    if hist::add(&mut r, &d).is_err() {
        n.schema_mix();
        return None;
    }
    Some(r)
}

fn hist_rate(w: &Window<'_>, ext: Extension, counter: bool, n: &mut Notes<'_, '_>) -> Option<FloatHistogram> {
    let h = w.hists;
    let times: Vec<i64> = h.iter().map(|p| p.t).collect();
    let (i, j) = boundaries(&times, ext, w.start, w.end)?;
    let custom = h[i].h.uses_custom_buckets();
    for p in &h[i..=j] {
        if p.h.uses_custom_buckets() != custom {
            n.schema_mix();
            return None;
        }
    }
    if counter {
        for p in &h[i..=j] {
            if p.h.counter_reset_hint == CounterResetHint::Gauge {
                let m = format!("this native histogram metric is not a counter: {:?}", n.name);
                n.warn(m);
                break;
            }
        }
    }
    let left = if ext == Extension::Smoothed && h[i].t < w.start && i + 1 < h.len() {
        hist_interpolate(&h[i], &h[i + 1], w.start, counter, n)?
    } else {
        h[i].h.clone()
    };
    let right = if ext == Extension::Smoothed && j > 0 && h[j].t > w.end {
        hist_interpolate(&h[j - 1], &h[j], w.end, counter, n)?
    } else {
        h[j].h.clone()
    };
    if !counter
        && (left.counter_reset_hint != CounterResetHint::Gauge || right.counter_reset_hint != CounterResetHint::Gauge)
    {
        let m = format!("this native histogram metric is not a gauge: {:?}", n.name);
        n.warn(m);
    }
    let mut result = right.clone();
    if hist::sub(&mut result, &left).is_err() {
        n.schema_mix();
        return None;
    }
    if counter {
        let mut start = i + 1;
        let mut prev = left.clone();
        if ext == Extension::Smoothed && h[i].t < w.start && i + 1 < h.len() && hist::detect_reset(&h[i + 1].h, &h[i].h)
        {
            prev = h[i + 1].h.clone();
            start = i + 2;
        }
        if start <= j {
            for p in h.iter().take(j).skip(start) {
                if hist::detect_reset(&p.h, &prev) {
                    let _ = hist::add(&mut result, &prev);
                }
                prev = p.h.clone();
            }
            if hist::detect_reset(&right, &prev) {
                let _ = hist::add(&mut result, &prev);
            }
        }
    }
    result.counter_reset_hint = CounterResetHint::Gauge;
    hist::compact(&mut result);
    Some(result)
}

/// `changes`/`resets` with `anchored`: the newest sample at or before the range start
/// joins the in-range samples.
fn changes_anchored(w: &Window<'_>, resets: bool) -> Option<Out> {
    #[derive(Clone, Copy)]
    enum V<'a> {
        F(f64),
        H(&'a FloatHistogram),
    }
    let mut seq: Vec<(i64, V<'_>)> =
        w.floats.iter().map(|p| (p.t, V::F(p.v))).chain(w.hists.iter().map(|p| (p.t, V::H(&p.h)))).collect();
    seq.sort_by_key(|x| x.0);
    if !seq.iter().any(|x| x.0 > w.start) {
        return None;
    }
    if let Some(a) = seq.iter().rposition(|x| x.0 <= w.start) {
        seq.drain(..a);
    }
    let mut count = 0;
    for pair in seq.windows(2) {
        let hit = match (pair[0].1, pair[1].1) {
            (V::F(a), V::F(b)) => {
                if resets {
                    b < a
                } else {
                    a != b && !(a.is_nan() && b.is_nan())
                }
            }
            (V::H(a), V::H(b)) => {
                if resets {
                    hist::detect_reset(b, a)
                } else {
                    !hist::equals(a, b)
                }
            }
            _ => true,
        };
        if hit {
            count += 1;
        }
    }
    Some(Out::F(count as f64))
}

/// `x smoothed`: at each step the value interpolated at the step time from the neighbours
/// within the lookback delta (carried forward after the last sample).
pub(crate) fn eval_extended_instant(
    ctx: &mut Ctx<'_>,
    st: Steps,
    vs: &VectorSelector,
    off: i64,
    at: Option<i64>,
) -> Result<Vec<Series>, QueryError> {
    let lb = ctx.lookback;
    let refs = |ts: i64| at.unwrap_or(ts) - off;
    let (lo, hi) = (refs(st.start) - lb, refs(st.end) + if vs.ext == Extension::Smoothed { lb } else { 0 });
    let sel = ctx.select(&vs.matchers, lo + 1, hi)?;
    let mut out = Vec::new();
    for s in sel {
        let name = s.labels.metric_name().unwrap_or("").to_string();
        let floats: Vec<Sample> = s.floats.into_iter().filter(|p| !seer_model::is_stale_nan(p.v)).collect();
        let hists: Vec<HPoint> =
            s.histograms.into_iter().filter(|p| !p.h.is_stale()).map(|p| HPoint { t: p.t, h: p.h }).collect();
        let mut o = Series::new(s.labels, false);
        for k in 0..st.count() {
            let ts = st.ts(k);
            let d = refs(ts);
            if vs.ext == Extension::Anchored {
                // Plain lookback semantics.
                let f = floats.iter().rev().find(|p| p.t <= d && p.t > d - lb);
                let h = hists.iter().rev().find(|p| p.t <= d && p.t > d - lb);
                match (f, h) {
                    (Some(f), h) if h.is_none_or(|h| h.t < f.t) => o.floats.push(Sample { t: ts, v: f.v }),
                    (_, Some(h)) => o.hists.push(HPoint { t: ts, h: h.h.clone() }),
                    _ => {}
                }
                continue;
            }
            let wf: Vec<&Sample> = floats.iter().filter(|p| p.t > d - lb && p.t <= d + lb).collect();
            let wh: Vec<&HPoint> = hists.iter().filter(|p| p.t > d - lb && p.t <= d + lb).collect();
            if !wf.is_empty() && !wh.is_empty() {
                ctx.annotations
                    .warn(format!("encountered a mix of histograms and floats for metric name {name:?}"), vs.span);
                continue;
            }
            if !wf.is_empty() {
                let before = wf.iter().rev().find(|p| p.t <= d);
                let after = wf.iter().find(|p| p.t > d);
                match (before, after) {
                    (Some(b), _) if b.t == d => o.floats.push(Sample { t: ts, v: b.v }),
                    (Some(b), Some(a)) => o.floats.push(Sample { t: ts, v: interpolate(**b, **a, d, false) }),
                    (Some(b), None) => o.floats.push(Sample { t: ts, v: b.v }),
                    _ => {}
                }
            } else if !wh.is_empty() {
                let before = wh.iter().rev().find(|p| p.t <= d);
                let after = wh.iter().find(|p| p.t > d);
                let v = match (before, after) {
                    (Some(b), _) if b.t == d => Some(b.h.clone()),
                    (Some(b), Some(a)) => {
                        let counter = b.h.counter_reset_hint != CounterResetHint::Gauge
                            && a.h.counter_reset_hint != CounterResetHint::Gauge;
                        let mut notes = Notes { ctx, span: vs.span, first_arg: vs.span, name: &name };
                        hist_interpolate(b, a, d, counter, &mut notes)
                    }
                    (Some(b), None) => Some(b.h.clone()),
                    _ => None,
                };
                if let Some(h) = v {
                    o.hists.push(HPoint { t: ts, h });
                }
            }
        }
        if !o.is_empty() {
            out.push(o);
        }
    }
    Ok(out)
}
