//! The evaluator: walks the syntax tree once for the whole step range. Every node yields its
//! values at all evaluation steps (a scalar per step, or series with at most one point per
//! step); range vectors are only materialised per window inside function calls.

use crate::parser::ast::{At, BinOp, Duration, DurationExpr, Expr, Extension, Span, ValueType, VectorSelector};
use crate::value::{Annotations, HPoint, InstantSample, QueryError, QueryValue, Series, exec_err};
use seer_model::{Labels, METRIC_NAME, Matcher, Queryable, Sample};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Engine settings (Prometheus command-line defaults).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`, 5m).
    pub lookback_ms: i64,
    /// Most samples a query may hold in memory at once (`--query.max-samples`, 50 M).
    pub max_samples: usize,
    /// Step of subqueries written without one (`[5m:]`): the global evaluation interval, 1m.
    pub subquery_step_ms: i64,
    /// Most series a query may select from storage in total (0: unlimited).
    pub max_series: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { lookback_ms: 300_000, max_samples: 50_000_000, subquery_step_ms: 60_000, max_series: 0 }
    }
}

/// One query's time range and controls.
#[derive(Clone, Copy, Debug)]
pub struct QueryParams<'a> {
    /// First evaluation time (ms).
    pub start: i64,
    /// Last evaluation time (ms); equal to `start` for an instant query.
    pub end: i64,
    /// Step (ms); 0 for an instant query.
    pub step: i64,
    /// Per-query lookback override (ms, > 0).
    pub lookback_ms: Option<i64>,
    /// Give up after this instant.
    pub deadline: Option<Instant>,
    /// Set by the caller when the client went away.
    pub cancel: Option<&'a AtomicBool>,
}

impl QueryParams<'_> {
    /// An instant query at `t`.
    pub fn instant(t: i64) -> QueryParams<'static> {
        QueryParams { start: t, end: t, step: 0, lookback_ms: None, deadline: None, cancel: None }
    }

    /// A range query.
    pub fn range(start: i64, end: i64, step: i64) -> QueryParams<'static> {
        QueryParams { start, end, step, lookback_ms: None, deadline: None, cancel: None }
    }
}

/// What a query returns.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryOutput {
    /// The value.
    pub value: QueryValue,
    /// Warnings and infos.
    pub annotations: Annotations,
    /// Most samples held at once.
    pub peak_samples: usize,
    /// Samples read from storage.
    pub total_samples: usize,
}

/// Runs a parsed query.
pub fn execute(
    storage: &dyn Queryable,
    opts: &EngineOptions,
    expr: &Expr,
    p: QueryParams<'_>,
) -> Result<QueryOutput, QueryError> {
    let is_range = p.step > 0;
    if is_range {
        match expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            t => {
                return Err(QueryError::BadData(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    t.name()
                )));
            }
        }
    }
    let mut ctx = Ctx {
        storage,
        opts,
        lookback: p.lookback_ms.filter(|&l| l > 0).unwrap_or(opts.lookback_ms),
        query_start: p.start,
        query_end: p.end,
        query_step: p.step,
        annotations: Annotations::default(),
        samples: 0,
        peak: 0,
        total: 0,
        deadline: p.deadline,
        cancel: p.cancel,
        ticks: 0,
        series: 0,
        is_range,
        stats_hints: false,
    };
    let st = Steps { start: p.start, end: p.end, interval: if is_range { p.step } else { 1 } };
    let v = ctx.eval(st, expr)?;
    let value = match v {
        Value::Scalar(vals) => {
            if is_range {
                let mut s = Series::new(Labels::empty(), false);
                for (k, v) in vals.iter().enumerate() {
                    s.floats.push(Sample { t: st.ts(k), v: *v });
                }
                QueryValue::Matrix(vec![s])
            } else {
                QueryValue::Scalar { t: p.start, v: vals[0] }
            }
        }
        Value::String(s) => QueryValue::String { t: p.start, s },
        Value::Vector(series) => {
            let series = cleanup_names(series, is_range)?;
            if is_range {
                let mut series: Vec<Series> = series.into_iter().filter(|s| !s.is_empty()).collect();
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                QueryValue::Matrix(series)
            } else {
                let mut out = Vec::with_capacity(series.len());
                for s in series {
                    if let Some(p) = s.floats.first() {
                        out.push(InstantSample { labels: s.labels, t: p.start_t(), f: p.v, h: None });
                    } else if let Some(h) = s.hists.into_iter().next() {
                        out.push(InstantSample { labels: s.labels, t: p.start, f: 0.0, h: Some(h.h) });
                    }
                }
                for s in &mut out {
                    s.t = p.start;
                }
                QueryValue::Vector(out)
            }
        }
        Value::Matrix(m) => {
            let mut series = cleanup_names(m.series, true)?;
            series.retain(|s| !s.is_empty());
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            QueryValue::Matrix(series)
        }
    };
    Ok(QueryOutput { value, annotations: ctx.annotations, peak_samples: ctx.peak, total_samples: ctx.total })
}

trait StartT {
    fn start_t(&self) -> i64;
}

impl StartT for Sample {
    fn start_t(&self) -> i64 {
        self.t
    }
}

/// Removes `__name__` (and the type/unit metadata labels) from series flagged for it, then
/// merges series that became equal; overlapping points are an error.
fn cleanup_names(series: Vec<Series>, merge: bool) -> Result<Vec<Series>, QueryError> {
    if !series.iter().any(|s| s.drop_name) {
        return Ok(series);
    }
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for mut s in series {
        if s.drop_name {
            s.labels = drop_metadata_labels(&s.labels);
            s.drop_name = false;
        }
        if s.is_empty() {
            continue;
        }
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                if !merge {
                    return exec_err(DUPLICATE_LABELSET);
                }
                merge_into(&mut out[i], s)?;
            }
        }
    }
    Ok(out)
}

/// The error for two samples with one label set at one time.
pub(crate) const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// Merges the points of `b` into `a`; fails when both have a point at one time.
pub(crate) fn merge_into(a: &mut Series, b: Series) -> Result<(), QueryError> {
    let mut times: Vec<i64> = a.floats.iter().map(|p| p.t).chain(a.hists.iter().map(|p| p.t)).collect();
    times.sort_unstable();
    for t in b.floats.iter().map(|p| p.t).chain(b.hists.iter().map(|p| p.t)) {
        if times.binary_search(&t).is_ok() {
            return exec_err(DUPLICATE_LABELSET);
        }
    }
    a.floats.extend(b.floats);
    a.floats.sort_by_key(|p| p.t);
    a.hists.extend(b.hists);
    a.hists.sort_by_key(|p| p.t);
    Ok(())
}

/// Labels without `__name__`, `__type__` and `__unit__`.
pub(crate) fn drop_metadata_labels(l: &Labels) -> Labels {
    if !l.iter().any(|l| is_metadata_label(&l.name)) {
        return l.clone();
    }
    Labels::from_sorted(l.iter().filter(|l| !is_metadata_label(&l.name)).cloned().collect())
}

/// `__name__`, `__type__`, `__unit__`.
pub(crate) fn is_metadata_label(name: &str) -> bool {
    name == METRIC_NAME || name == "__type__" || name == "__unit__"
}

/// Evaluation steps: `start, start+interval, ..., end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Steps {
    pub start: i64,
    pub end: i64,
    pub interval: i64,
}

impl Steps {
    pub fn count(&self) -> usize {
        ((self.end - self.start) / self.interval + 1) as usize
    }

    pub fn ts(&self, k: usize) -> i64 {
        self.start + k as i64 * self.interval
    }

    /// Index of the step at `t` (which must be a step time).
    pub fn index(&self, t: i64) -> usize {
        ((t - self.start) / self.interval) as usize
    }
}

/// A range vector as an argument: series with raw points (stale markers removed) and the
/// window geometry applied at every step.
pub(crate) struct RangeArg {
    pub series: Vec<Series>,
    /// Window length (ms).
    pub range: i64,
    /// Effective offset (ms).
    pub offset: i64,
    /// `@` time (ms), if pinned.
    pub at: Option<i64>,
    /// `anchored` / `smoothed`.
    pub ext: Extension,
    /// Span of the range expression (annotation position).
    pub span: Span,
}

impl RangeArg {
    /// End of the window evaluated at step `ts`.
    pub fn window_end(&self, ts: i64) -> i64 {
        self.at.unwrap_or(ts) - self.offset
    }
}

/// A node's value over all steps.
pub(crate) enum Value {
    /// One value per step.
    Scalar(Vec<f64>),
    /// Series with at most one point per step.
    Vector(Vec<Series>),
    /// Range vector (top level of an instant query, or a function argument).
    Matrix(RangeArg),
    /// A string.
    String(String),
}

impl Value {
    fn point_count(&self) -> usize {
        match self {
            Value::Scalar(v) => v.len(),
            Value::Vector(s) => s.iter().map(|s| s.len()).sum(),
            Value::Matrix(m) => m.series.iter().map(|s| s.len()).sum(),
            Value::String(_) => 1,
        }
    }
}

/// Evaluation state shared by all nodes of one query.
pub(crate) struct Ctx<'a> {
    pub storage: &'a dyn Queryable,
    pub opts: &'a EngineOptions,
    pub lookback: i64,
    pub query_start: i64,
    pub query_end: i64,
    pub query_step: i64,
    pub annotations: Annotations,
    pub samples: usize,
    pub peak: usize,
    pub total: usize,
    pub deadline: Option<Instant>,
    pub cancel: Option<&'a AtomicBool>,
    pub ticks: u32,
    pub series: usize,
    pub is_range: bool,
    /// Histograms feed only `histogram_count/sum/avg`: unknown counter-reset hints are
    /// replaced by detection against the previous sample read, as Prometheus' stats
    /// iterator does.
    pub stats_hints: bool,
}

impl Ctx<'_> {
    /// Fails when the query ran out of time or was canceled. Cheap enough to call per series.
    pub fn check(&mut self) -> Result<(), QueryError> {
        self.ticks = self.ticks.wrapping_add(1);
        if !self.ticks.is_multiple_of(64) {
            return Ok(());
        }
        self.check_now()
    }

    fn check_now(&mut self) -> Result<(), QueryError> {
        if let Some(c) = self.cancel
            && c.load(Ordering::Relaxed)
        {
            return Err(QueryError::Canceled("query was canceled in expression evaluation".into()));
        }
        if let Some(d) = self.deadline
            && Instant::now() >= d
        {
            return Err(QueryError::Timeout("query timed out in expression evaluation".into()));
        }
        Ok(())
    }

    /// Accounts for `n` more samples in memory.
    pub fn add_samples(&mut self, n: usize) -> Result<(), QueryError> {
        self.samples += n;
        self.peak = self.peak.max(self.samples);
        if self.samples > self.opts.max_samples {
            return exec_err("query processing would load too many samples into memory in query execution");
        }
        Ok(())
    }

    /// Evaluates `e` at every step of `st`.
    pub fn eval(&mut self, st: Steps, e: &Expr) -> Result<Value, QueryError> {
        self.check()?;
        let before = self.samples;
        let v = if st.count() > 1
            && !matches!(e, Expr::Number { .. } | Expr::String { .. })
            && matches!(e.value_type(), ValueType::Vector | ValueType::Scalar)
            && is_step_invariant(e)
        {
            let one = Steps { start: st.start, end: st.start, interval: st.interval };
            let v = self.eval_node(one, e)?;
            spread(v, st)
        } else {
            self.eval_node(st, e)?
        };
        self.samples = before;
        self.add_samples(v.point_count())?;
        Ok(v)
    }

    fn eval_node(&mut self, st: Steps, e: &Expr) -> Result<Value, QueryError> {
        match e {
            Expr::Number { value, .. } => Ok(Value::Scalar(vec![*value; st.count()])),
            Expr::String { value, .. } => Ok(Value::String(String::from_utf8_lossy(value).into_owned())),
            Expr::Paren { expr, .. } => self.eval(st, expr),
            Expr::Selector(vs) => Ok(Value::Vector(self.eval_vector_selector(st, vs)?)),
            Expr::Matrix { selector, range, span } => {
                let range = self.duration_ms(range, false)?;
                Ok(Value::Matrix(self.eval_matrix_selector(st, selector, range, *span)?))
            }
            Expr::Subquery { expr, range, step, offset, at, span } => Ok(Value::Matrix(self.eval_subquery(
                st,
                expr,
                range,
                step.as_ref(),
                offset.as_ref(),
                at.as_ref(),
                *span,
            )?)),
            Expr::Unary { neg, expr, .. } => {
                let v = self.eval(st, expr)?;
                if !neg {
                    return Ok(v);
                }
                match v {
                    Value::Scalar(mut v) => {
                        for x in &mut v {
                            *x = -*x;
                        }
                        Ok(Value::Scalar(v))
                    }
                    Value::Vector(series) => Ok(Value::Vector(crate::binop::negate(series)?)),
                    _ => exec_err("unary minus on a non-numeric value"),
                }
            }
            Expr::Binary { op, lhs, rhs, return_bool, matching, span } => {
                crate::binop::eval_binary(self, st, *op, lhs, rhs, *return_bool, matching.as_ref(), *span)
            }
            Expr::Aggregate { op, expr, param, grouping, without, span, .. } => {
                crate::aggregate::eval_aggregate(self, st, *op, expr, param.as_deref(), grouping, *without, *span)
            }
            Expr::Call { func, args, span } => crate::functions::eval_call(self, st, func, args, *span),
        }
    }

    /// Resolves an `@` modifier to milliseconds.
    pub fn at_ms(&self, at: Option<&At>) -> Option<i64> {
        at.map(|a| match a {
            At::Time(t) => *t,
            At::Start => self.query_start,
            At::End => self.query_end,
        })
    }

    /// Evaluates a duration (range, step or offset) to milliseconds.
    pub fn duration_ms(&self, d: &Duration, allow_non_positive: bool) -> Result<i64, QueryError> {
        if let Some(ms) = d.literal_ms {
            if !allow_non_positive && ms <= 0 {
                return Err(QueryError::BadData(format!(
                    "{}:{}: duration must be greater than 0",
                    d.span.start, d.span.end
                )));
            }
            return Ok(ms);
        }
        let secs = self.duration_secs(&d.expr, d.span)?;
        let ms = secs * 1000.0;
        if !(ms.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&ms)) {
            return Err(QueryError::BadData(format!("{}:{}: duration is out of range", d.span.start, d.span.end)));
        }
        let ms = ms as i64;
        if !allow_non_positive && ms <= 0 {
            return Err(QueryError::BadData(format!(
                "{}:{}: duration must be greater than 0",
                d.span.start, d.span.end
            )));
        }
        Ok(ms)
    }

    fn duration_secs(&self, e: &DurationExpr, span: Span) -> Result<f64, QueryError> {
        Ok(match e {
            DurationExpr::Number(v) => *v,
            DurationExpr::Step => self.query_step as f64 / 1000.0,
            DurationExpr::Range => (self.query_end - self.query_start) as f64 / 1000.0,
            DurationExpr::MinOf(a, b) => self.duration_secs(a, span)?.min(self.duration_secs(b, span)?),
            DurationExpr::MaxOf(a, b) => self.duration_secs(a, span)?.max(self.duration_secs(b, span)?),
            DurationExpr::Neg(a) => -self.duration_secs(a, span)?,
            DurationExpr::Binary(op, a, b) => {
                let (a, b) = (self.duration_secs(a, span)?, self.duration_secs(b, span)?);
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => {
                        if b == 0.0 {
                            return Err(QueryError::BadData(format!("{}:{}: division by zero", span.start, span.end)));
                        }
                        a / b
                    }
                    BinOp::Mod => {
                        if b == 0.0 {
                            return Err(QueryError::BadData(format!("{}:{}: modulo by zero", span.start, span.end)));
                        }
                        a % b
                    }
                    BinOp::Pow => a.powf(b),
                    _ => return Err(QueryError::BadData("invalid operator in duration expression".into())),
                }
            }
        })
    }

    fn offset_ms(&self, d: Option<&Duration>) -> Result<i64, QueryError> {
        match d {
            None => Ok(0),
            Some(d) => self.duration_ms(d, true),
        }
    }

    /// Loads the series of a selector with samples in `[mint, maxt]`.
    pub fn select(
        &mut self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<seer_model::SelectedSeries>, QueryError> {
        self.check_now()?;
        let sel = self
            .storage
            .select(matchers, mint, maxt)
            .map_err(|e| QueryError::Storage(format!("expanding series: {e}")))?;
        let mut sel = sel;
        self.series += sel.len();
        if self.opts.max_series > 0 && self.series > self.opts.max_series {
            return exec_err(format!(
                "query would select more than {} series (limit query.max_series)",
                self.opts.max_series
            ));
        }
        if self.stats_hints {
            for s in &mut sel {
                let mut prev: Option<seer_model::FloatHistogram> = None;
                for p in &mut s.histograms {
                    if p.h.is_stale() {
                        continue;
                    }
                    if p.h.counter_reset_hint == seer_model::CounterResetHint::Unknown
                        && let Some(pr) = &prev
                    {
                        p.h.counter_reset_hint = if crate::histogram::detect_reset(&p.h, pr) {
                            seer_model::CounterResetHint::CounterReset
                        } else {
                            seer_model::CounterResetHint::NotCounterReset
                        };
                    }
                    prev = Some(p.h.clone());
                }
            }
        }
        let n: usize = sel.iter().map(|s| s.floats.len() + s.histograms.len()).sum();
        self.total += n;
        self.add_samples(n)?;
        Ok(sel)
    }

    /// An instant vector selector at every step: the newest sample within the lookback
    /// window, unless it is a staleness marker.
    fn eval_vector_selector(&mut self, st: Steps, vs: &VectorSelector) -> Result<Vec<Series>, QueryError> {
        if vs.ext != Extension::None {
            let off = self.offset_ms(vs.offset.as_ref())?;
            let at = self.at_ms(vs.at.as_ref());
            return crate::extended::eval_extended_instant(self, st, vs, off, at);
        }
        self.pick_samples(st, vs, false)
    }

    /// The samples a vector selector picks, for `timestamp()`: the value is the picked
    /// sample's own time in seconds.
    pub fn eval_selector_timestamps(&mut self, st: Steps, vs: &VectorSelector) -> Result<Vec<Series>, QueryError> {
        self.pick_samples(st, vs, true)
    }

    /// At every step, the newest sample within the lookback window (not a staleness
    /// marker); its value, or with `timestamps` its time in seconds.
    fn pick_samples(&mut self, st: Steps, vs: &VectorSelector, timestamps: bool) -> Result<Vec<Series>, QueryError> {
        let off = self.offset_ms(vs.offset.as_ref())?;
        let at = self.at_ms(vs.at.as_ref());
        let refs = |ts: i64| at.unwrap_or(ts) - off;
        let lookback = self.lookback;
        let sel = self.select(&vs.matchers, refs(st.start).saturating_sub(lookback) + 1, refs(st.end))?;
        let mut out = Vec::with_capacity(sel.len());
        for s in sel {
            self.check()?;
            let mut o = Series::new(s.labels, timestamps);
            let (mut fi, mut hi) = (0usize, 0usize);
            for k in 0..st.count() {
                let ts = st.ts(k);
                let r = refs(ts);
                while fi < s.floats.len() && s.floats[fi].t <= r {
                    fi += 1;
                }
                while hi < s.histograms.len() && s.histograms[hi].t <= r {
                    hi += 1;
                }
                let f = if fi > 0 { Some(&s.floats[fi - 1]) } else { None };
                let h = if hi > 0 { Some(&s.histograms[hi - 1]) } else { None };
                match (f, h) {
                    (Some(f), h)
                        if h.is_none_or(|h| h.t < f.t) && f.t > r - lookback && !seer_model::is_stale_nan(f.v) =>
                    {
                        let v = if timestamps { f.t as f64 / 1000.0 } else { f.v };
                        o.floats.push(Sample { t: ts, v });
                    }
                    (_, Some(h)) if h.t > r - lookback && !h.h.is_stale() => {
                        if timestamps {
                            o.floats.push(Sample { t: ts, v: h.t as f64 / 1000.0 });
                        } else {
                            o.hists.push(HPoint { t: ts, h: h.h.clone() });
                        }
                    }
                    _ => {}
                }
            }
            if !o.is_empty() {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// A range selector: raw samples (stale markers removed) covering every step's window.
    fn eval_matrix_selector(
        &mut self,
        st: Steps,
        vs: &VectorSelector,
        range: i64,
        span: Span,
    ) -> Result<RangeArg, QueryError> {
        let offset = self.offset_ms(vs.offset.as_ref())?;
        let at = self.at_ms(vs.at.as_ref());
        let mut arg = RangeArg { series: Vec::new(), range, offset, at, ext: vs.ext, span };
        if vs.ext != Extension::None {
            arg.series = crate::extended::select_extended(self, st, vs, &arg)?;
            return Ok(arg);
        }
        let lo = arg.window_end(st.start) - range;
        let hi = arg.window_end(st.end);
        let sel = self.select(&vs.matchers, lo + 1, hi)?;
        for s in sel {
            let mut o = Series::new(s.labels, false);
            o.floats = s.floats.into_iter().filter(|p| !seer_model::is_stale_nan(p.v)).collect();
            o.hists = s.histograms.into_iter().filter(|p| !p.h.is_stale()).map(|p| HPoint { t: p.t, h: p.h }).collect();
            if !o.is_empty() {
                arg.series.push(o);
            }
        }
        Ok(arg)
    }

    /// A subquery: the inner expression evaluated at absolute multiples of its step that
    /// fall into any step's window.
    #[allow(clippy::too_many_arguments)]
    fn eval_subquery(
        &mut self,
        st: Steps,
        inner: &Expr,
        range: &Duration,
        step: Option<&Duration>,
        offset: Option<&Duration>,
        at: Option<&At>,
        span: Span,
    ) -> Result<RangeArg, QueryError> {
        let range = self.duration_ms(range, false)?;
        let step = match step {
            Some(d) => self.duration_ms(d, false)?,
            None => self.opts.subquery_step_ms,
        };
        let offset = self.offset_ms(offset)?;
        let at = self.at_ms(at);
        let arg = RangeArg { series: Vec::new(), range, offset, at, ext: Extension::None, span };
        let first = arg.window_end(st.start) - range;
        // Go's truncating division, then the next multiple strictly after `first`.
        let mut start = step * (first / step);
        if start <= first {
            start += step;
        }
        let end = arg.window_end(st.end);
        if start > end {
            return Ok(arg);
        }
        let sub = Steps { start, end: start + (end - start) / step * step, interval: step };
        let stats = std::mem::replace(&mut self.stats_hints, false);
        let v = self.eval(sub, inner);
        self.stats_hints = stats;
        let v = v?;
        let series = match v {
            Value::Vector(s) => s,
            Value::Scalar(vals) => {
                let mut s = Series::new(Labels::empty(), false);
                for (k, v) in vals.into_iter().enumerate() {
                    s.floats.push(Sample { t: sub.ts(k), v });
                }
                vec![s]
            }
            _ => return exec_err("subquery over a non-vector expression"),
        };
        let mut series = series;
        for s in &mut series {
            for h in &mut s.hists {
                if matches!(
                    h.h.counter_reset_hint,
                    seer_model::CounterResetHint::CounterReset | seer_model::CounterResetHint::NotCounterReset
                ) {
                    h.h.counter_reset_hint = seer_model::CounterResetHint::Unknown;
                }
            }
        }
        Ok(RangeArg { series, ..arg })
    }
}

/// Copies the single-step result of a step-invariant expression to every step.
fn spread(v: Value, st: Steps) -> Value {
    match v {
        Value::Scalar(v) => Value::Scalar(vec![v[0]; st.count()]),
        Value::Vector(series) => Value::Vector(
            series
                .into_iter()
                .map(|s| {
                    let mut o = Series::new(s.labels, s.drop_name);
                    if let Some(p) = s.floats.first() {
                        o.floats = (0..st.count()).map(|k| Sample { t: st.ts(k), v: p.v }).collect();
                    } else if let Some(p) = s.hists.first() {
                        o.hists = (0..st.count()).map(|k| HPoint { t: st.ts(k), h: p.h.clone() }).collect();
                    }
                    o
                })
                .collect(),
        ),
        other => other,
    }
}

/// Functions that must be evaluated at every step even when their arguments are pinned with `@`.
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// True when the expression has the same value at every step (pinned with `@` or constant).
pub(crate) fn is_step_invariant(e: &Expr) -> bool {
    match e {
        Expr::Number { .. } | Expr::String { .. } => true,
        Expr::Selector(vs) => vs.at.is_some(),
        Expr::Matrix { selector, .. } => selector.at.is_some(),
        Expr::Subquery { at, .. } => at.is_some(),
        Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => is_step_invariant(expr),
        Expr::Binary { lhs, rhs, .. } => is_step_invariant(lhs) && is_step_invariant(rhs),
        Expr::Aggregate { expr, .. } => is_step_invariant(expr),
        Expr::Call { func, args, .. } => {
            !AT_UNSAFE.contains(&func.name)
                && !matches!(func.name, "start" | "end" | "step" | "range")
                && args.iter().all(is_step_invariant)
        }
    }
}

/// Reads series values step by step: call [`StepReader::at`] with increasing step times.
pub(crate) struct StepReader {
    fi: Vec<u32>,
    hi: Vec<u32>,
}

/// A value at one step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PVal<'a> {
    F(f64),
    H(&'a seer_model::FloatHistogram),
}

impl StepReader {
    pub fn new(n: usize) -> StepReader {
        StepReader { fi: vec![0; n], hi: vec![0; n] }
    }

    /// The value of series `i` at step time `ts`, if it has one.
    pub fn at<'a>(&mut self, series: &'a [Series], i: usize, ts: i64) -> Option<PVal<'a>> {
        let s = &series[i];
        let fi = &mut self.fi[i];
        if let Some(p) = s.floats.get(*fi as usize)
            && p.t == ts
        {
            *fi += 1;
            return Some(PVal::F(p.v));
        }
        let hi = &mut self.hi[i];
        if let Some(p) = s.hists.get(*hi as usize)
            && p.t == ts
        {
            *hi += 1;
            return Some(PVal::H(&p.h));
        }
        None
    }
}

/// Collects output series keyed by label set, in first-emission order; a second point for
/// one label set at one step is an error.
pub(crate) struct OutBuilder {
    pub series: Vec<Series>,
    index: HashMap<Labels, u32>,
    last_t: Vec<i64>,
}

impl OutBuilder {
    pub fn new() -> OutBuilder {
        OutBuilder { series: Vec::new(), index: HashMap::new(), last_t: Vec::new() }
    }

    /// The slot for `labels`, created on first use.
    pub fn slot(&mut self, labels: &Labels, drop_name: bool) -> usize {
        if let Some(&i) = self.index.get(labels) {
            if drop_name {
                self.series[i as usize].drop_name = true;
            }
            return i as usize;
        }
        let i = self.series.len();
        self.index.insert(labels.clone(), i as u32);
        self.series.push(Series::new(labels.clone(), drop_name));
        self.last_t.push(i64::MIN);
        i
    }

    /// Appends a float point to a slot.
    pub fn push_f(&mut self, slot: usize, t: i64, v: f64) -> Result<(), QueryError> {
        if self.last_t[slot] == t {
            return exec_err(DUPLICATE_LABELSET);
        }
        self.last_t[slot] = t;
        self.series[slot].floats.push(Sample { t, v });
        Ok(())
    }

    /// Appends a histogram point to a slot.
    pub fn push_h(&mut self, slot: usize, t: i64, h: seer_model::FloatHistogram) -> Result<(), QueryError> {
        if self.last_t[slot] == t {
            return exec_err(DUPLICATE_LABELSET);
        }
        self.last_t[slot] = t;
        self.series[slot].hists.push(HPoint { t, h });
        Ok(())
    }

    pub fn finish(self) -> Vec<Series> {
        self.series.into_iter().filter(|s| !s.is_empty()).collect()
    }
}
