//! Evaluation of metrics queries (`{ status = error } | rate() by (resource.service.name)`)
//! over many traces, following Tempo's TraceQL metrics documentation: the spanset half of the
//! query selects spans in each trace, each selected span counts in the step its start time
//! falls in, and the function turns the spans of each step into one number per series.
//!
//! Decisions (see also the docs of [`MetricsEvaluator`]):
//! * Steps are Tempo's: the range is widened to multiples of the step (start rounded down,
//!   end rounded up) unless it is exactly one step long (an instant query); a span counts
//!   when `start <= span start < end`, in step `(span start - start) / step`, and a sample
//!   carries the start of its step as timestamp.
//! * A step without spans has no sample (it is not filled with 0 or NaN); a series left
//!   without samples is left out.
//! * Durations are measured in seconds (`min_over_time(duration)`, `quantile_over_time`, the
//!   `__bucket` label of `histogram_over_time(duration)`); other fields in their own unit.
//! * Quantiles come from a log2 histogram, as in Tempo: a value `v > 0` falls in the bucket
//!   `(2^(e-1), 2^e]` (durations counted in nanoseconds), values `<= 0` in a bucket of their
//!   own whose bound is 0. Quantile `q` of `n` values: the rank `q * n` is found in the
//!   cumulative bucket counts and interpolated exponentially inside its bucket: a fraction
//!   `f` of the way through bucket `e` is `2^(e-1+f)`.
//! * `compare({filter}, topN, start, end)` counts each span per step in one series per
//!   attribute value (`name`, `status`, `kind`, `span.*`, `resource.*` with a single value)
//!   labelled `__meta_type` = `selection` (the span matches the filter and, when given, starts
//!   in `[start, end)`) or `baseline`. Per group and attribute the `topN` (default 10) most
//!   frequent values are kept; the other values' counts go to a series labelled
//!   `__meta_error="__too_many_values__"` with the attribute `nil`. At most 100 values (or
//!   `2 * topN`) are tracked per group and attribute: later new values count as errors.
//! * Exemplars: per series the first span of each of [`MAX_EXEMPLARS`] equal slices of the
//!   range, valued like the series (the measured value; for counting functions the sample
//!   of its step); exemplars of steps without a sample after `topk` or a threshold are dropped.
//! * Memory is bounded: at most [`MAX_SERIES`] series (then [`EvalError::TooComplex`]), one
//!   cell per series and non-empty step, at most [`MAX_EXEMPLARS`] exemplars per series.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use seer_model::trace::Span;

use crate::ast::{BinaryOp, Expr, Metrics, MetricsFunc, Pipeline, Query, SecondStage, Static};
use crate::eval::{EvalError, TraceFields, Value, attr_value};

/// Most steps a request may have.
pub const MAX_STEPS: u64 = 11_000;
/// Most series a query may produce (counted as [`MetricsEvaluator::series_count`] does).
pub const MAX_SERIES: usize = 10_000;
/// Most exemplars kept per series, spread over the range.
pub const MAX_EXEMPLARS: usize = 100;
/// `compare()`'s default number of values kept per attribute.
const COMPARE_TOP_N: usize = 10;
/// `compare()` tracks at most this many values per group and attribute (or twice its topN,
/// when larger); values seen after that count towards the attribute's error series.
const COMPARE_MAX_VALUES: usize = 100;
/// The bucket of values `<= 0` in histograms.
const ZERO_BUCKET: i32 = i32::MIN;
const NANOS_PER_SECOND: f64 = 1e9;

/// The time range of a metrics query, in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsRequest {
    pub start_ns: u64,
    pub end_ns: u64,
    /// Positive; the range may hold at most [`MAX_STEPS`] steps.
    pub step_ns: u64,
}

/// One result series.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSeries {
    /// The `by()` keys named as written (`resource.service.name`), then `p` (quantile),
    /// `__bucket` (histogram) or `__meta_type` / `__meta_error` (compare).
    pub labels: Vec<(String, Value)>,
    /// (start of the step in Unix nanoseconds, value), ascending; steps without data have none.
    pub samples: Vec<(u64, f64)>,
    /// (span start in Unix nanoseconds, value, trace id) of spans that contributed.
    pub exemplars: Vec<(u64, f64, [u8; 16])>,
}

/// Computes the series of one metrics query from the traces given to [`observe`], one call
/// per trace, then [`finish`].
///
/// Output order: series sorted by their labels (numbers numerically). Labels of a `by()`
/// field missing on a span are kept with the value `nil`, so every selected span counts.
/// After an error from [`observe`] the evaluator holds part of that trace: drop it.
///
/// [`observe`]: MetricsEvaluator::observe
/// [`finish`]: MetricsEvaluator::finish
#[derive(Debug)]
pub struct MetricsEvaluator {
    spec: Spec,
    state: State,
}

/// What the query asks for: fixed once created.
#[derive(Debug)]
struct Spec {
    pipeline: Pipeline,
    by: Vec<Expr>,
    by_names: Vec<String>,
    /// The measured field of `*_over_time(field)`.
    value: Option<Expr>,
    func: Func,
    /// `> 10` after the function, the threshold as a float (durations in seconds).
    filter: Option<(BinaryOp, f64)>,
    second_stage: Option<SecondStage>,
    start: u64,
    end: u64,
    step: u64,
    steps: u32,
}

#[derive(Debug)]
enum Func {
    Rate,
    Count,
    Min,
    Max,
    Avg,
    Sum,
    Quantile(Vec<f64>),
    Histogram,
    Compare(Compare),
}

#[derive(Debug)]
struct Compare {
    filter: Option<Expr>,
    top_n: usize,
    /// Selection window `[start, end)` in Unix nanoseconds.
    window: Option<(u64, u64)>,
}

/// What the traces seen so far add up to.
#[derive(Debug, Default)]
struct State {
    series: Vec<Series>,
    /// Series by the debug text of their labels.
    index: HashMap<String, usize>,
    /// Output series so far (quantile series count once per quantile).
    outputs: usize,
    /// `compare()`: values tracked per "group\0attribute".
    tracked: HashMap<String, usize>,
}

#[derive(Debug)]
struct Series {
    labels: Vec<(String, Value)>,
    /// Quantiles: the values were durations (the buckets count nanoseconds).
    duration: bool,
    cells: BTreeMap<u32, Cell>,
    exemplars: Vec<Exemplar>,
}

/// One series in one step.
#[derive(Debug, Default)]
struct Cell {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// Quantiles: (bucket exponent, count), ascending.
    buckets: Vec<(i32, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct Exemplar {
    step: u32,
    ts: u64,
    /// NaN for counting functions: the sample of the step is used.
    value: f64,
    trace: [u8; 16],
}

impl Cell {
    fn add(&mut self, v: f64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
    }

    fn add_bucket(&mut self, b: i32) {
        self.count += 1;
        match self.buckets.binary_search_by_key(&b, |&(k, _)| k) {
            Ok(i) => self.buckets[i].1 += 1,
            Err(i) => self.buckets.insert(i, (b, 1)),
        }
    }
}

impl MetricsEvaluator {
    /// Checks the query (it must be a valid metrics query) and the range.
    pub fn new(q: &Query, req: &MetricsRequest) -> Result<MetricsEvaluator, EvalError> {
        let Some(m) = &q.metrics else { return Err(EvalError::NotMetricsQuery) };
        crate::validate(q).map_err(|e| EvalError::InvalidRequest(e.to_string()))?;
        let (start, end, steps) = steps(req)?;
        let (func, value) = func(m)?;
        let filter = match &m.filter {
            Some((op, v)) => match static_number(v) {
                Some(x) => Some((*op, x)),
                None => {
                    return Err(EvalError::InvalidRequest(format!("metrics filters compare with a number, got {v}")));
                }
            },
            None => None,
        };
        let spec = Spec {
            pipeline: q.pipeline.clone(),
            by: m.by.clone(),
            by_names: m.by.iter().map(|e| e.to_string()).collect(),
            value,
            func,
            filter,
            second_stage: m.second_stage,
            start,
            end,
            step: req.step_ns,
            steps,
        };
        Ok(MetricsEvaluator { spec, state: State::default() })
    }

    /// Adds one trace: all its spans (spans of a trace given in two calls would be two
    /// traces to the structural operators and aggregates).
    pub fn observe(&mut self, spans: &[Span]) -> Result<(), EvalError> {
        let spec = &self.spec;
        let state = &mut self.state;
        let extra = match &spec.func {
            Func::Compare(c) => c.filter.as_ref(),
            _ => None,
        };
        let fields = TraceFields::new(spans, &spec.pipeline, extra);
        for idx in fields.matched(&spec.pipeline)? {
            let span = &spans[idx];
            let Some(step) = spec.step_of(span.start_ns) else { continue };
            if let Func::Compare(c) = &spec.func {
                state.compare(spec, c, &fields, span, idx, step)?;
                continue;
            }
            let mut labels: Vec<(String, Value)> =
                spec.by_names.iter().zip(&spec.by).map(|(n, e)| (n.clone(), fields.value(e, idx))).collect();
            let measured = match &spec.value {
                Some(e) => match fields.number(e, idx) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            let outputs = match &spec.func {
                Func::Quantile(qs) => qs.len(),
                _ => 1,
            };
            let mut exemplar = f64::NAN;
            if let (Func::Histogram, Some((v, duration))) = (&spec.func, measured) {
                labels.push(("__bucket".to_string(), Value::Float(bucket_bound(bucket_of(v), duration))));
            }
            let s = state.series_mut(labels, outputs)?;
            let cell = s.cells.entry(step).or_default();
            match (&spec.func, measured) {
                (Func::Quantile(_), Some((v, duration))) => {
                    cell.add_bucket(bucket_of(v));
                    s.duration |= duration;
                    exemplar = seconds(v, duration);
                }
                (Func::Min | Func::Max | Func::Avg | Func::Sum, Some((v, duration))) => {
                    exemplar = seconds(v, duration);
                    cell.add(exemplar);
                }
                (Func::Histogram, Some((v, duration))) => {
                    cell.count += 1;
                    exemplar = seconds(v, duration);
                }
                _ => cell.count += 1,
            }
            s.add_exemplar(spec.steps, Exemplar { step, ts: span.start_ns, value: exemplar, trace: span.trace_id });
        }
        Ok(())
    }

    /// The number of series the query has produced so far (quantile series once per
    /// quantile, histogram series once per bucket); never above [`MAX_SERIES`].
    pub fn series_count(&self) -> usize {
        self.state.outputs
    }

    /// The result: per-step values (rate, quantiles, ...), then the `> x` filter, then
    /// `topk`/`bottomk` per step; series without samples are left out.
    pub fn finish(self) -> Vec<MetricsSeries> {
        let spec = self.spec;
        let mut series = self.state.series;
        if let Func::Compare(c) = &spec.func {
            series = compare_top_n(series, c.top_n);
        }
        let mut out: Vec<Output> = Vec::new();
        for s in series {
            match &spec.func {
                Func::Quantile(qs) => {
                    for &q in qs {
                        let mut labels = s.labels.clone();
                        labels.push(("p".to_string(), Value::Float(q)));
                        let samples = s
                            .cells
                            .iter()
                            .map(|(&step, c)| (step, seconds(quantile(q, &c.buckets), s.duration)))
                            .collect();
                        out.push(Output { labels, samples, exemplars: s.exemplars.clone() });
                    }
                }
                _ => {
                    let samples = s.cells.iter().map(|(&step, c)| (step, spec.sample(c))).collect();
                    out.push(Output { labels: s.labels, samples, exemplars: s.exemplars });
                }
            }
        }
        out.sort_by(|a, b| cmp_labels(&a.labels, &b.labels));
        for o in &mut out {
            o.samples.retain(|&(_, v)| !v.is_nan() && spec.filter.is_none_or(|(op, x)| compare(op, v, x)));
        }
        if let Some(stage) = spec.second_stage {
            keep_k(&mut out, stage);
        }
        out.into_iter()
            .filter(|o| !o.samples.is_empty())
            .map(|o| {
                let value_at =
                    |step: u32| o.samples.binary_search_by_key(&step, |&(s, _)| s).ok().map(|i| o.samples[i].1);
                let mut exemplars: Vec<(u64, f64, [u8; 16])> = o
                    .exemplars
                    .iter()
                    .filter_map(|e| {
                        let sample = value_at(e.step)?;
                        Some((e.ts, if e.value.is_nan() { sample } else { e.value }, e.trace))
                    })
                    .collect();
                exemplars.sort_by_key(|e| e.0);
                let samples = o.samples.iter().map(|&(step, v)| (spec.timestamp(step), v)).collect();
                MetricsSeries { labels: o.labels, samples, exemplars }
            })
            .collect()
    }
}

/// A series on its way out: samples by step index.
struct Output {
    labels: Vec<(String, Value)>,
    samples: Vec<(u32, f64)>,
    exemplars: Vec<Exemplar>,
}

/// The aligned range and its number of steps.
fn steps(req: &MetricsRequest) -> Result<(u64, u64, u32), EvalError> {
    let step = req.step_ns;
    if step == 0 {
        return Err(EvalError::InvalidRequest("step must be positive".to_string()));
    }
    if req.end_ns <= req.start_ns {
        return Err(EvalError::InvalidRequest("end must be after start".to_string()));
    }
    if req.end_ns - req.start_ns == step {
        return Ok((req.start_ns, req.end_ns, 1));
    }
    let start = req.start_ns - req.start_ns % step;
    let too_many = || {
        EvalError::InvalidRequest(format!(
            "too many steps between start and end for a step of {step}ns (at most {MAX_STEPS})"
        ))
    };
    let end = req.end_ns.div_ceil(step).checked_mul(step).ok_or_else(too_many)?;
    let n = (end - start) / step;
    if n > MAX_STEPS {
        return Err(too_many());
    }
    Ok((start, end, n as u32))
}

/// The function and its measured field.
fn func(m: &Metrics) -> Result<(Func, Option<Expr>), EvalError> {
    Ok(match &m.func {
        MetricsFunc::Rate => (Func::Rate, None),
        MetricsFunc::CountOverTime => (Func::Count, None),
        MetricsFunc::MinOverTime(e) => (Func::Min, Some(e.clone())),
        MetricsFunc::MaxOverTime(e) => (Func::Max, Some(e.clone())),
        MetricsFunc::AvgOverTime(e) => (Func::Avg, Some(e.clone())),
        MetricsFunc::SumOverTime(e) => (Func::Sum, Some(e.clone())),
        MetricsFunc::QuantileOverTime(e, qs) => (Func::Quantile(qs.clone()), Some(e.clone())),
        MetricsFunc::HistogramOverTime(e) => (Func::Histogram, Some(e.clone())),
        MetricsFunc::Compare { filter, top_n, start_end } => {
            if !m.by.is_empty() {
                return Err(EvalError::Unsupported("compare() cannot be grouped with by()".to_string()));
            }
            let top_n = top_n.map_or(COMPARE_TOP_N, |n| usize::try_from(n).unwrap_or(usize::MAX));
            let window = start_end.map(|(s, e)| (u64::try_from(s).unwrap_or(0), u64::try_from(e).unwrap_or(0)));
            (Func::Compare(Compare { filter: filter.clone(), top_n, window }), None)
        }
    })
}

fn static_number(v: &Static) -> Option<f64> {
    match v {
        Static::Int(n) => Some(*n as f64),
        Static::Float(x) => Some(*x),
        Static::Duration(d) => Some(*d as f64 / NANOS_PER_SECOND),
        _ => None,
    }
}

fn compare(op: BinaryOp, v: f64, x: f64) -> bool {
    match op {
        BinaryOp::Eq => v == x,
        BinaryOp::Neq => v != x,
        BinaryOp::Gt => v > x,
        BinaryOp::Gte => v >= x,
        BinaryOp::Lt => v < x,
        BinaryOp::Lte => v <= x,
        _ => false,
    }
}

/// A measured value in output units: durations in seconds.
fn seconds(v: f64, duration: bool) -> f64 {
    if duration { v / NANOS_PER_SECOND } else { v }
}

/// The log2 bucket of a value: the `e` with `2^(e-1) < v <= 2^e`, or [`ZERO_BUCKET`].
fn bucket_of(v: f64) -> i32 {
    if v.is_nan() || v <= 0.0 {
        return ZERO_BUCKET;
    }
    if v.is_infinite() {
        return 1024;
    }
    let mut e = v.log2().ceil() as i32;
    // log2 may be off by one ulp around exact powers of two.
    if 2f64.powi(e - 1) >= v {
        e -= 1;
    } else if 2f64.powi(e) < v {
        e += 1;
    }
    e
}

/// The upper bound of a bucket in output units (the `__bucket` label).
fn bucket_bound(b: i32, duration: bool) -> f64 {
    if b == ZERO_BUCKET { 0.0 } else { seconds(2f64.powi(b), duration) }
}

/// Quantile `q` of a log2 histogram (see the module docs).
fn quantile(q: f64, buckets: &[(i32, u64)]) -> f64 {
    let n: u64 = buckets.iter().map(|&(_, c)| c).sum();
    if n == 0 {
        return f64::NAN;
    }
    let rank = q.clamp(0.0, 1.0) * n as f64;
    let mut below = 0u64;
    for &(b, c) in buckets {
        if c > 0 && (below + c) as f64 >= rank {
            if b == ZERO_BUCKET {
                return 0.0;
            }
            let f = ((rank - below as f64) / c as f64).clamp(0.0, 1.0);
            return 2f64.powf(f64::from(b) - 1.0 + f);
        }
        below += c;
    }
    buckets.last().map_or(f64::NAN, |&(b, _)| bucket_bound(b, false))
}

impl Spec {
    fn step_of(&self, t: u64) -> Option<u32> {
        if t < self.start || t >= self.end {
            return None;
        }
        Some(((t - self.start) / self.step) as u32)
    }

    fn timestamp(&self, step: u32) -> u64 {
        self.start + u64::from(step) * self.step
    }

    /// The sample of a cell for the non-quantile functions.
    fn sample(&self, c: &Cell) -> f64 {
        match self.func {
            Func::Rate => c.count as f64 / (self.step as f64 / NANOS_PER_SECOND),
            Func::Min => c.min,
            Func::Max => c.max,
            Func::Sum => c.sum,
            Func::Avg => c.sum / c.count as f64,
            Func::Count | Func::Histogram | Func::Compare(_) | Func::Quantile(_) => c.count as f64,
        }
    }
}

impl Series {
    /// Keeps the first exemplar of each of [`MAX_EXEMPLARS`] equal slices of the range.
    fn add_exemplar(&mut self, steps: u32, e: Exemplar) {
        let slots = u64::from(steps).min(MAX_EXEMPLARS as u64);
        let slot = |step: u32| u64::from(step) * slots / u64::from(steps);
        if !self.exemplars.iter().any(|x| slot(x.step) == slot(e.step)) {
            self.exemplars.push(e);
        }
    }
}

impl State {
    /// The series with these labels, created (counting `outputs` output series) if new.
    fn series_mut(&mut self, labels: Vec<(String, Value)>, outputs: usize) -> Result<&mut Series, EvalError> {
        let key = format!("{labels:?}");
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                if self.outputs + outputs > MAX_SERIES {
                    return Err(EvalError::TooComplex(format!("more than {MAX_SERIES} series")));
                }
                self.outputs += outputs;
                self.series.push(Series { labels, duration: false, cells: BTreeMap::new(), exemplars: Vec::new() });
                self.index.insert(key, self.series.len() - 1);
                self.series.len() - 1
            }
        };
        Ok(&mut self.series[i])
    }

    /// `compare()`: counts one span in the series of each of its attributes.
    fn compare(
        &mut self,
        spec: &Spec,
        c: &Compare,
        fields: &TraceFields<'_>,
        span: &Span,
        idx: usize,
        step: u32,
    ) -> Result<(), EvalError> {
        let selected = c.filter.as_ref().is_none_or(|f| fields.matches(f, idx))
            && c.window.is_none_or(|(a, b)| a <= span.start_ns && span.start_ns < b);
        let group = if selected { "selection" } else { "baseline" };
        let max_values = COMPARE_MAX_VALUES.max(c.top_n.saturating_mul(2));
        for (attr, value) in compare_attributes(span) {
            let labels = vec![("__meta_type".to_string(), Value::Str(group.to_string())), (attr.clone(), value)];
            let key = format!("{labels:?}");
            let labels = if self.index.contains_key(&key) {
                labels
            } else {
                let tracked = self.tracked.entry(format!("{group}\0{attr}")).or_insert(0);
                if *tracked < max_values {
                    *tracked += 1;
                    labels
                } else {
                    error_labels(&attr)
                }
            };
            let s = self.series_mut(labels, 1)?;
            s.cells.entry(step).or_default().count += 1;
            s.add_exemplar(spec.steps, Exemplar { step, ts: span.start_ns, value: f64::NAN, trace: span.trace_id });
        }
        Ok(())
    }
}

/// The labels of the series saying an attribute had more values than `compare()` returns.
fn error_labels(attr: &str) -> Vec<(String, Value)> {
    vec![("__meta_error".to_string(), Value::Str("__too_many_values__".to_string())), (attr.to_string(), Value::Nil)]
}

/// The fields `compare()` breaks spans down by: `name`, `status`, `kind`, then the span's
/// (`span.x`) and its resource's (`resource.x`) attributes with a single value.
fn compare_attributes(span: &Span) -> Vec<(String, Value)> {
    let mut out = vec![
        ("name".to_string(), Value::Str(span.name.clone())),
        ("status".to_string(), Value::Status(span.status)),
        ("kind".to_string(), Value::Kind(span.kind)),
    ];
    let scoped = span.attrs.iter().map(|a| ("span.", a)).chain(span.resource.attrs.iter().map(|a| ("resource.", a)));
    for (prefix, a) in scoped {
        let v = attr_value(&a.value);
        if !matches!(v, Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)) {
            continue;
        }
        let key = format!("{prefix}{}", a.key);
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, v));
        }
    }
    out
}

/// Keeps the `top_n` most frequent values of each group and attribute; the others count
/// towards the attribute's error series.
fn compare_top_n(series: Vec<Series>, top_n: usize) -> Vec<Series> {
    let total = |s: &Series| s.cells.values().map(|c| c.count).sum::<u64>();
    // (group, attribute) -> indexes of its series.
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        if let [(_, Value::Str(group)), (attr, _)] = s.labels.as_slice()
            && s.labels[0].0 == "__meta_type"
        {
            groups.entry((group.clone(), attr.clone())).or_default().push(i);
        }
    }
    let mut dropped = vec![false; series.len()];
    for members in groups.values_mut() {
        members.sort_by(|&a, &b| {
            total(&series[b]).cmp(&total(&series[a])).then_with(|| cmp_labels(&series[a].labels, &series[b].labels))
        });
        for &i in members.iter().skip(top_n) {
            dropped[i] = true;
        }
    }
    let mut kept: Vec<Series> = Vec::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut moved: Vec<Series> = Vec::new();
    for (i, s) in series.into_iter().enumerate() {
        if dropped[i] {
            moved.push(s);
        } else {
            if s.labels[0].0 == "__meta_error" {
                errors.insert(s.labels[1].0.clone(), kept.len());
            }
            kept.push(s);
        }
    }
    for s in moved {
        let attr = s.labels[1].0.clone();
        let target = match errors.get(&attr) {
            Some(&i) => i,
            None => {
                kept.push(Series {
                    labels: error_labels(&attr),
                    duration: false,
                    cells: BTreeMap::new(),
                    exemplars: Vec::new(),
                });
                errors.insert(attr, kept.len() - 1);
                kept.len() - 1
            }
        };
        for (step, c) in s.cells {
            kept[target].cells.entry(step).or_default().count += c.count;
        }
    }
    kept
}

/// `topk(n)` / `bottomk(n)`: in each step, only the samples of the `n` highest (lowest)
/// series are kept; ties go to the series that sorts first.
fn keep_k(out: &mut [Output], stage: SecondStage) {
    let (k, top) = match stage {
        SecondStage::TopK(k) => (k, true),
        SecondStage::BottomK(k) => (k, false),
    };
    let k = usize::try_from(k).unwrap_or(0);
    let mut by_step: BTreeMap<u32, Vec<(usize, f64)>> = BTreeMap::new();
    for (i, o) in out.iter().enumerate() {
        for &(step, v) in &o.samples {
            by_step.entry(step).or_default().push((i, v));
        }
    }
    let mut keep: HashSet<(usize, u32)> = HashSet::new();
    for (step, mut values) in by_step {
        values.sort_by(|a, b| {
            let o = a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal);
            (if top { o.reverse() } else { o }).then(a.0.cmp(&b.0))
        });
        for &(i, _) in values.iter().take(k) {
            keep.insert((i, step));
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        o.samples.retain(|&(step, _)| keep.contains(&(i, step)));
    }
}

/// Label lists in order: name, then value (numbers numerically), label by label.
fn cmp_labels(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = x.0.cmp(&y.0).then_with(|| cmp_values(&x.1, &y.1));
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn cmp_values(a: &Value, b: &Value) -> Ordering {
    let rank = |v: &Value| match v {
        Value::Nil => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Float(_) | Value::Duration(_) => 2,
        Value::Str(_) => 3,
        Value::Status(_) => 4,
        Value::Kind(_) => 5,
        Value::Array(_) => 6,
    };
    let number = |v: &Value| match v {
        Value::Int(n) | Value::Duration(n) => Some(*n as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    };
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            _ => a.to_string().cmp(&b.to_string()),
        },
    })
}
