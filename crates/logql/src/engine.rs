//! The LogQL query evaluator: runs a parsed [`Expr`] against a [`LogQueryable`] store.
//!
//! Log queries scan `[start, end)`, run the pipeline per entry, group the output by its label
//! set and keep the `limit` newest (backward) or oldest (forward) entries with a bounded heap.
//!
//! Metric queries are evaluated step by step (`start, start+step, …, ≤ end`; an instant query
//! is the single step `end`). Each range aggregation scans the span it needs once, keeps the
//! extracted samples per output label set, sorts them by time and computes every window
//! `(t − range − offset, t − offset]`. Vector aggregations, binary operations, `label_replace`
//! and `vector()` then work on the per-step vectors, following Loki 3.x (`pkg/logql/evaluator.go`
//! and `range_vector.go`), including its quirks: division and modulo by zero give NaN,
//! `rate_counter` uses Loki's extrapolation (with its mixed time units), and a sample that still
//! carries `__error__` fails the query with Loki's pipeline error message.
//!
//! Limits: the deadline is checked every few thousand entries inside the scan callback and
//! between steps; `max_series` bounds the number of series of the final result, as Loki's
//! `max_query_series` does.

use crate::ast::{
    BinOp, BinOpKind, Expr, Grouping, LabelReplace, LogExpr, MetricExpr, RangeAgg, RangeOp, VectorAgg, VectorMatching,
    VectorOp,
};
use crate::pipeline::{ERROR_LABEL, Pipeline};
use regex::Regex;
use seer_model::{Label, Labels, LabelsBuilder, LogQueryable, MatchKind, StorageError};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::time::Instant;

/// How often (in scanned entries) the deadline is checked.
const DEADLINE_CHECK_EVERY: u64 = 4096;

/// Loki's limit on the number of points per series of a range query.
const MAX_POINTS: i64 = 11_000;

/// The body Loki sends with a 504.
const TIMEOUT_MSG: &str = "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed";

/// The order of log query results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Oldest first.
    Forward,
    /// Newest first (Loki's default).
    #[default]
    Backward,
}

/// Parameters of one query evaluation.
#[derive(Clone, Debug)]
pub struct QueryParams {
    /// Range start (inclusive), Unix ns; for instant queries equal to `end_ns`.
    pub start_ns: i64,
    /// Range end (exclusive for log queries, the last step for metric queries) or instant time.
    pub end_ns: i64,
    /// Step in ns: > 0 for range queries, 0 for instant queries.
    pub step_ns: i64,
    /// `interval` of `query_range` for log queries (0 = none): an entry is returned only when it
    /// is at least `interval` away from the previously returned one (Loki's `readStreams`).
    pub interval_ns: i64,
    /// Maximum number of entries of a log query (Loki's default is 100).
    pub limit: usize,
    /// Entry order of log queries.
    pub direction: Direction,
    /// Checked every few thousand entries; passing it gives [`EvalError::Timeout`].
    pub deadline: Option<Instant>,
    /// Maximum number of result series of a metric query (0 = unlimited).
    pub max_series: usize,
}

/// One stream of a log query result.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamResult {
    /// The full label set after the pipeline (stream, structured metadata, parsed, errors).
    pub labels: Labels,
    /// `(ts ns, line)`, ordered by the query direction.
    pub entries: Vec<(i64, String)>,
}

/// One series of a range metric query result.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesResult {
    /// The series labels.
    pub labels: Labels,
    /// `(ts ns, value)` in time order.
    pub points: Vec<(i64, f64)>,
}

/// The result of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult {
    /// Log query result, streams sorted by labels.
    Streams(Vec<StreamResult>),
    /// Instant metric result at `end_ns`: sorted by labels, or by value when the query uses
    /// `sort` / `sort_desc`.
    Vector(Vec<(Labels, f64)>),
    /// Range metric result, sorted by labels.
    Matrix(Vec<SeriesResult>),
    /// A literal-only instant query.
    Scalar(f64),
}

/// Work counters of one evaluation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries handed out by the store (before the pipeline).
    pub entries_scanned: u64,
    /// Bytes of the scanned lines.
    pub bytes_scanned: u64,
    /// Entries returned (log queries) or result samples (metric queries).
    pub entries_returned: u64,
}

/// Evaluation errors. `Display` is the bare message, as Loki sends it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Bad query or data (HTTP 400), e.g. pipeline errors in metric queries.
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (e.g. many-to-many matching).
    #[error("{0}")]
    Execution(String),
    /// The deadline passed (HTTP 504).
    #[error("{0}")]
    Timeout(String),
    /// A query limit was hit (HTTP 400).
    #[error("{0}")]
    Limit(String),
    /// The store failed.
    #[error("{0}")]
    Storage(String),
}

impl From<StorageError> for EvalError {
    fn from(e: StorageError) -> EvalError {
        EvalError::Storage(e.0)
    }
}

/// Evaluates `expr` against `src`.
pub fn execute(src: &dyn LogQueryable, expr: &Expr, p: &QueryParams) -> Result<(QueryResult, Stats), EvalError> {
    let mut stats = Stats::default();
    let result = match expr {
        Expr::Log(l) => {
            let streams = eval_log(src, l, p, &mut stats)?;
            stats.entries_returned = streams.iter().map(|s| s.entries.len() as u64).sum();
            QueryResult::Streams(streams)
        }
        Expr::Metric(m) => {
            let r = eval_metric_query(src, m, p, &mut stats)?;
            stats.entries_returned = match &r {
                QueryResult::Vector(v) => v.len() as u64,
                QueryResult::Matrix(m) => m.iter().map(|s| s.points.len() as u64).sum(),
                QueryResult::Scalar(_) => 1,
                QueryResult::Streams(_) => 0,
            };
            r
        }
    };
    Ok((result, stats))
}

// ---------------------------------------------------------------------------------------------
// Shared scan plumbing
// ---------------------------------------------------------------------------------------------

/// True when the deadline has passed.
fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

fn timeout() -> EvalError {
    EvalError::Timeout(TIMEOUT_MSG.to_string())
}

use seer_model::EntryFn;

/// Scans `[start, end)` of the streams matching `l`'s selector, counting stats and checking
/// the deadline; `f` sees every entry and returns false to stop early.
fn scan(
    src: &dyn LogQueryable,
    l: &LogExpr,
    start: i64,
    end: i64,
    p: &QueryParams,
    stats: &mut Stats,
    f: &mut EntryFn<'_>,
) -> Result<(), EvalError> {
    if end <= start {
        return Ok(());
    }
    if expired(p.deadline) {
        return Err(timeout());
    }
    let mut timed_out = false;
    let mut n: u64 = 0;
    let mut bytes: u64 = 0;
    let mut cb = |labels: &Labels, ts: i64, line: &str, meta: &[Label]| -> bool {
        n += 1;
        bytes += line.len() as u64;
        if n.is_multiple_of(DEADLINE_CHECK_EVERY) && expired(p.deadline) {
            timed_out = true;
            return false;
        }
        f(labels, ts, line, meta)
    };
    let needles = needles(l);
    let res = src.scan_entries_containing(&l.matchers, &needles, start, end, &mut cb);
    stats.entries_scanned += n;
    stats.bytes_scanned += bytes;
    res?;
    if timed_out {
        return Err(timeout());
    }
    Ok(())
}

fn compile(l: &LogExpr) -> Result<Pipeline, EvalError> {
    Pipeline::new(&l.pipeline).map_err(|e| EvalError::BadData(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Log queries
// ---------------------------------------------------------------------------------------------

/// A kept log entry. `key` orders entries best-first for the query direction; `seq` (scan
/// order) keeps ties stable.
struct Kept {
    key: (i64, u64),
    stream: usize,
    ts: i64,
    line: String,
}

impl PartialEq for Kept {
    fn eq(&self, o: &Kept) -> bool {
        self.key == o.key
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, o: &Kept) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Kept {
    fn cmp(&self, o: &Kept) -> Ordering {
        self.key.cmp(&o.key)
    }
}

/// The direction key of a timestamp: ascending for forward, descending for backward (`!ts`
/// reverses the order without overflow).
fn dir_key(dir: Direction, ts: i64) -> i64 {
    match dir {
        Direction::Forward => ts,
        Direction::Backward => !ts,
    }
}

fn eval_log(
    src: &dyn LogQueryable,
    l: &LogExpr,
    p: &QueryParams,
    stats: &mut Stats,
) -> Result<Vec<StreamResult>, EvalError> {
    let mut pipeline = compile(l)?;
    let mut stream_ids: HashMap<Labels, usize> = HashMap::new();
    let mut stream_labels: Vec<Labels> = Vec::new();
    let mut seq: u64 = 0;
    let limit = p.limit;
    let dir = p.direction;
    let kept: Vec<Kept> = if p.interval_ns > 0 {
        // Loki's interval walks all entries in direction order, so only the first entry of
        // every distinct timestamp can ever be returned: keep one per timestamp.
        let mut by_ts: BTreeMap<i64, Kept> = BTreeMap::new();
        scan(src, l, p.start_ns, p.end_ns, p, stats, &mut |labels, ts, line, meta| {
            seq += 1;
            let k = dir_key(dir, ts);
            if limit == 0 || by_ts.contains_key(&k) {
                return true;
            }
            if let Some((out_line, out_labels)) = pipeline.process(ts, line, labels, meta) {
                let stream = intern(&mut stream_ids, &mut stream_labels, out_labels);
                by_ts.insert(k, Kept { key: (k, seq), stream, ts, line: out_line });
            }
            true
        })?;
        let mut out = Vec::new();
        let mut last: Option<i64> = None;
        for (_, e) in by_ts {
            if out.len() >= limit {
                break;
            }
            let take = match (last, dir) {
                (None, _) => true,
                (Some(prev), Direction::Forward) => e.ts >= prev.saturating_add(p.interval_ns),
                (Some(prev), Direction::Backward) => e.ts <= prev.saturating_sub(p.interval_ns),
            };
            if take {
                last = Some(e.ts);
                out.push(e);
            }
        }
        out
    } else {
        let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(limit.min(10_000) + 1);
        scan(src, l, p.start_ns, p.end_ns, p, stats, &mut |labels, ts, line, meta| {
            seq += 1;
            if limit == 0 {
                return true;
            }
            let key = (dir_key(dir, ts), seq);
            // The heap top is the worst kept entry: skip the pipeline for entries that lose.
            if heap.len() >= limit && heap.peek().is_some_and(|w| key > w.key) {
                return true;
            }
            if let Some((out_line, out_labels)) = pipeline.process(ts, line, labels, meta) {
                let stream = intern(&mut stream_ids, &mut stream_labels, out_labels);
                heap.push(Kept { key, stream, ts, line: out_line });
                if heap.len() > limit {
                    heap.pop();
                }
            }
            true
        })?;
        heap.into_sorted_vec()
    };
    let mut per_stream: BTreeMap<usize, Vec<(i64, String)>> = BTreeMap::new();
    for e in kept {
        per_stream.entry(e.stream).or_default().push((e.ts, e.line));
    }
    let mut out: Vec<StreamResult> = per_stream
        .into_iter()
        .filter_map(|(id, entries)| {
            stream_labels.get(id).map(|labels| StreamResult { labels: labels.clone(), entries })
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}

fn intern(ids: &mut HashMap<Labels, usize>, all: &mut Vec<Labels>, labels: Labels) -> usize {
    if let Some(&id) = ids.get(&labels) {
        return id;
    }
    let id = all.len();
    all.push(labels.clone());
    ids.insert(labels, id);
    id
}

// ---------------------------------------------------------------------------------------------
// Metric queries
// ---------------------------------------------------------------------------------------------

/// One sample of a step vector.
type Sample = (Labels, f64);

/// The value of a metric sub-expression: a scalar, or one vector per step.
enum Value {
    Scalar(f64),
    Vectors(Vec<Vec<Sample>>),
}

/// Evaluation context: the step timestamps and the query parameters.
struct Ctx<'a> {
    src: &'a dyn LogQueryable,
    p: &'a QueryParams,
    steps: Vec<i64>,
}

fn steps(p: &QueryParams) -> Result<Vec<i64>, EvalError> {
    if p.step_ns <= 0 {
        return Ok(vec![p.end_ns]);
    }
    if p.end_ns < p.start_ns {
        return Ok(Vec::new());
    }
    let n = (i128::from(p.end_ns) - i128::from(p.start_ns)) / i128::from(p.step_ns);
    if n > i128::from(MAX_POINTS) {
        return Err(EvalError::BadData(
            "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter"
                .into(),
        ));
    }
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0) + 1);
    let mut t = p.start_ns;
    while t <= p.end_ns {
        out.push(t);
        match t.checked_add(p.step_ns) {
            Some(next) => t = next,
            None => break,
        }
    }
    Ok(out)
}

fn eval_metric_query(
    src: &dyn LogQueryable,
    m: &MetricExpr,
    p: &QueryParams,
    stats: &mut Stats,
) -> Result<QueryResult, EvalError> {
    let ctx = Ctx { src, p, steps: steps(p)? };
    let instant = p.step_ns <= 0;
    let value = eval(&ctx, m, None, stats)?;
    let limit_err = || EvalError::Limit(format!("maximum of series ({}) reached for a single query", p.max_series));
    match value {
        Value::Scalar(v) => {
            if instant {
                Ok(QueryResult::Scalar(v))
            } else {
                let points = ctx.steps.iter().map(|&t| (t, v)).collect();
                Ok(QueryResult::Matrix(vec![SeriesResult { labels: Labels::empty(), points }]))
            }
        }
        Value::Vectors(vs) => {
            if instant {
                let mut v = vs.into_iter().next().unwrap_or_default();
                if p.max_series > 0 && v.len() > p.max_series {
                    return Err(limit_err());
                }
                if !uses_sort(m) {
                    v.sort_by(|a, b| a.0.cmp(&b.0));
                }
                return Ok(QueryResult::Vector(v));
            }
            let mut series: HashMap<Labels, usize> = HashMap::new();
            let mut out: Vec<SeriesResult> = Vec::new();
            for (step, vec) in ctx.steps.iter().zip(vs) {
                for (labels, v) in vec {
                    let id = match series.get(&labels) {
                        Some(&id) => id,
                        None => {
                            let id = out.len();
                            series.insert(labels.clone(), id);
                            out.push(SeriesResult { labels, points: Vec::new() });
                            id
                        }
                    };
                    if let Some(s) = out.get_mut(id) {
                        s.points.push((*step, v));
                    }
                }
                if p.max_series > 0 && out.len() > p.max_series {
                    return Err(limit_err());
                }
            }
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
            Ok(QueryResult::Matrix(out))
        }
    }
}

/// True when the query contains `sort` or `sort_desc` (Loki then keeps the evaluation order of
/// instant results instead of sorting them by labels).
fn uses_sort(m: &MetricExpr) -> bool {
    match m {
        MetricExpr::VectorAgg(v) => matches!(v.op, VectorOp::Sort | VectorOp::SortDesc) || uses_sort(&v.inner),
        MetricExpr::BinOp(b) => uses_sort(&b.lhs) || uses_sort(&b.rhs),
        MetricExpr::LabelReplace(l) => uses_sort(&l.inner),
        MetricExpr::RangeAgg(_) | MetricExpr::Literal(_) | MetricExpr::Vector(_) => false,
    }
}

/// Evaluates a metric expression. `pushdown` is the grouping of an enclosing `sum`, applied
/// at extraction time to linear range aggregations (as Loki does) to keep fewer series.
fn eval(ctx: &Ctx<'_>, m: &MetricExpr, pushdown: Option<&Grouping>, stats: &mut Stats) -> Result<Value, EvalError> {
    if expired(ctx.p.deadline) {
        return Err(timeout());
    }
    match m {
        MetricExpr::Literal(v) => Ok(Value::Scalar(*v)),
        MetricExpr::Vector(v) => Ok(Value::Vectors(ctx.steps.iter().map(|_| vec![(Labels::empty(), *v)]).collect())),
        MetricExpr::RangeAgg(r) => eval_range(ctx, r, pushdown, stats).map(Value::Vectors),
        MetricExpr::VectorAgg(v) => eval_vector_agg(ctx, v, stats),
        MetricExpr::BinOp(b) => eval_binop(ctx, b, stats),
        MetricExpr::LabelReplace(l) => eval_label_replace(ctx, l, stats),
    }
}

fn expect_vectors(v: Value, what: &str) -> Result<Vec<Vec<Sample>>, EvalError> {
    match v {
        Value::Vectors(vs) => Ok(vs),
        Value::Scalar(x) => Err(EvalError::Execution(format!("unexpected literal {x} as the argument of {what}"))),
    }
}

// ---- range aggregations ---------------------------------------------------------------------

/// Applies a grouping to sample labels; labels with `__error__` are kept whole so that the
/// error surfaces (Loki's `GroupedLabels`).
fn group_labels(labels: Labels, g: &Grouping) -> Labels {
    if labels.get(ERROR_LABEL).is_some() {
        return labels;
    }
    if g.without {
        let mut b = labels.to_builder();
        for n in &g.labels {
            b.del(n);
        }
        b.build()
    } else {
        let kept: Vec<Label> = labels.iter().filter(|l| g.labels.iter().any(|n| n == &l.name)).cloned().collect();
        Labels::from_sorted(kept)
    }
}

/// True for range operations whose per-series results can be summed before aggregation.
fn is_linear(op: RangeOp) -> bool {
    matches!(
        op,
        RangeOp::CountOverTime | RangeOp::Rate | RangeOp::BytesOverTime | RangeOp::BytesRate | RangeOp::SumOverTime
    )
}

/// The labels of `absent_over_time`'s output: the selector's equality matchers; a name with
/// any other (or a second) matcher is left out (Loki's `absentLabels`).
fn absent_labels(l: &LogExpr) -> Labels {
    let mut b = LabelsBuilder::new();
    let mut drop: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for m in &l.matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.kind == MatchKind::Equal && !seen.contains(m.name.as_str()) {
            seen.insert(&m.name);
            b.set(m.name.clone(), m.value.clone());
        } else {
            drop.push(&m.name);
        }
    }
    for n in drop {
        b.del(n);
    }
    b.build()
}

/// Loki's pipeline error for a sample that still carries `__error__`.
fn pipeline_error(labels: &Labels) -> EvalError {
    let err = labels.get(ERROR_LABEL).unwrap_or("");
    EvalError::BadData(format!(
        "pipeline error: '{err}' for series: '{labels}'.\n\
         Use a label filter to intentionally skip this error. (e.g | __error__!=\"{err}\").\n\
         To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n\
         The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )"
    ))
}

fn ms_to_ns(ms: i64) -> i64 {
    ms.saturating_mul(1_000_000)
}

fn eval_range(
    ctx: &Ctx<'_>,
    r: &RangeAgg,
    pushdown: Option<&Grouping>,
    stats: &mut Stats,
) -> Result<Vec<Vec<Sample>>, EvalError> {
    let range_ns = ms_to_ns(r.range_ms);
    let offset_ns = ms_to_ns(r.offset_ms);
    let absent = r.op == RangeOp::AbsentOverTime;
    let no_labels = Grouping { without: false, labels: Vec::new() };
    // Grouping applied at extraction: the aggregation's own, `by ()` for absent_over_time
    // (only emptiness matters), or the enclosing sum's for linear operations.
    let grouping: Option<&Grouping> = if absent {
        Some(&no_labels)
    } else if r.grouping.is_some() {
        r.grouping.as_ref()
    } else if is_linear(r.op) {
        pushdown
    } else {
        None
    };
    let mut pipeline = match &r.unwrap {
        Some(u) => Pipeline::with_unwrap(&r.inner.pipeline, u).map_err(|e| EvalError::BadData(e.to_string()))?,
        None => compile(&r.inner)?,
    };
    if let (Some(u), Some(g)) = (&r.unwrap, &r.grouping)
        && !g.without
        && g.labels.iter().any(|n| n == &u.label)
    {
        pipeline.keep_unwrapped_label(true);
    }
    let bytes_op = matches!(r.op, RangeOp::BytesOverTime | RangeOp::BytesRate);

    let (Some(&first), Some(&last)) = (ctx.steps.first(), ctx.steps.last()) else {
        return Ok(Vec::new());
    };
    // Windows are (t - range - offset, t - offset]; the store's end is exclusive.
    let scan_start = first.saturating_sub(range_ns).saturating_sub(offset_ns).saturating_add(1);
    let scan_end = last.saturating_sub(offset_ns).saturating_add(1);

    let mut ids: HashMap<Labels, usize> = HashMap::new();
    let mut series: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    scan(ctx.src, &r.inner, scan_start, scan_end, ctx.p, stats, &mut |labels, ts, line, meta| {
        let sample = if bytes_op {
            pipeline.process(ts, line, labels, meta).map(|(l, lbs)| (l.len() as f64, lbs))
        } else {
            pipeline.extract(ts, line, labels, meta)
        };
        if let Some((v, lbs)) = sample {
            let lbs = match grouping {
                Some(g) => group_labels(lbs, g),
                None => lbs,
            };
            let id = match ids.get(&lbs) {
                Some(&id) => id,
                None => {
                    let id = series.len();
                    ids.insert(lbs.clone(), id);
                    series.push((lbs, Vec::new()));
                    id
                }
            };
            if let Some(s) = series.get_mut(id) {
                s.1.push((ts, v));
            }
        }
        true
    })?;
    // Stable: equal timestamps keep the scan order.
    for s in series.iter_mut() {
        s.1.sort_by_key(|p| p.0);
    }
    series.sort_by(|a, b| a.0.cmp(&b.0));

    // Errors: the first step (then the first series by labels) where an errored series has
    // samples in the window fails the query.
    let mut first_err: Option<(usize, &Labels)> = None;
    for (labels, pts) in &series {
        if labels.get(ERROR_LABEL).is_none() {
            continue;
        }
        for (i, &t) in ctx.steps.iter().enumerate() {
            if first_err.is_some_and(|(fi, _)| fi <= i) {
                break;
            }
            let (lo, hi) = window(pts, t, range_ns, offset_ns);
            if hi > lo {
                first_err = Some((i, labels));
                break;
            }
        }
    }
    if let Some((_, labels)) = first_err {
        return Err(pipeline_error(labels));
    }

    let mut out: Vec<Vec<Sample>> = vec![Vec::new(); ctx.steps.len()];
    if absent {
        let labels = absent_labels(&r.inner);
        for (i, &t) in ctx.steps.iter().enumerate() {
            let any = series.iter().any(|(_, pts)| {
                let (lo, hi) = window(pts, t, range_ns, offset_ns);
                hi > lo
            });
            if !any && let Some(v) = out.get_mut(i) {
                v.push((labels.clone(), 1.0));
            }
        }
        return Ok(out);
    }
    let range_s = range_ns as f64 / 1e9;
    for (labels, pts) in &series {
        if expired(ctx.p.deadline) {
            return Err(timeout());
        }
        for (i, &t) in ctx.steps.iter().enumerate() {
            let (lo, hi) = window(pts, t, range_ns, offset_ns);
            let Some(win) = pts.get(lo..hi) else { continue };
            if win.is_empty() {
                continue;
            }
            let v = range_value(r, win, range_s);
            if let Some(o) = out.get_mut(i) {
                o.push((labels.clone(), v));
            }
        }
    }
    Ok(out)
}

/// Index bounds of the window `(t - range - offset, t - offset]` in time-sorted points.
fn window(pts: &[(i64, f64)], t: i64, range_ns: i64, offset_ns: i64) -> (usize, usize) {
    let end = t.saturating_sub(offset_ns);
    let start = end.saturating_sub(range_ns);
    let lo = pts.partition_point(|p| p.0 <= start);
    let hi = pts.partition_point(|p| p.0 <= end);
    (lo, hi.max(lo))
}

/// Computes one range aggregation over a non-empty, time-sorted window.
fn range_value(r: &RangeAgg, win: &[(i64, f64)], range_s: f64) -> f64 {
    let n = win.len() as f64;
    let sum = || win.iter().map(|p| p.1).sum::<f64>();
    match r.op {
        RangeOp::CountOverTime => n,
        RangeOp::Rate => {
            if r.unwrap.is_some() {
                sum() / range_s
            } else {
                n / range_s
            }
        }
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
        RangeOp::BytesRate => sum() / range_s,
        RangeOp::AbsentOverTime => 1.0,
        RangeOp::AvgOverTime => {
            let mut mean = 0.0f64;
            let mut count = 0.0f64;
            for &(_, v) in win {
                count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                mean += v / count - mean / count;
            }
            mean
        }
        RangeOp::MaxOverTime => {
            let mut m = win.first().map(|p| p.1).unwrap_or(f64::NAN);
            for &(_, v) in win {
                if v > m || m.is_nan() {
                    m = v;
                }
            }
            m
        }
        RangeOp::MinOverTime => {
            let mut m = win.first().map(|p| p.1).unwrap_or(f64::NAN);
            for &(_, v) in win {
                if v < m || m.is_nan() {
                    m = v;
                }
            }
            m
        }
        RangeOp::StdvarOverTime => welford(win),
        RangeOp::StddevOverTime => welford(win).sqrt(),
        RangeOp::QuantileOverTime => {
            let mut vals: Vec<f64> = win.iter().map(|p| p.1).collect();
            quantile(r.param.unwrap_or(f64::NAN), &mut vals)
        }
        RangeOp::FirstOverTime => win.first().map(|p| p.1).unwrap_or(f64::NAN),
        RangeOp::LastOverTime => win.last().map(|p| p.1).unwrap_or(f64::NAN),
        RangeOp::RateCounter => rate_counter(win, r.range_ms, range_s),
    }
}

/// Population variance (Welford), as Loki's `stdvarOverTime`.
fn welford(win: &[(i64, f64)]) -> f64 {
    let (mut aux, mut count, mut mean) = (0.0f64, 0.0f64, 0.0f64);
    for &(_, v) in win {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
    }
    aux / count
}

/// NaN sorts first, then ascending (a total order, so sorting cannot panic).
fn nan_first(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.total_cmp(&b),
    }
}

/// Loki's `Quantile`: NaN for no values, ±Inf outside [0, 1], linear interpolation.
fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(|a, b| nan_first(*a, *b));
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    let lv = vals.get(lower as usize).copied().unwrap_or(f64::NAN);
    let uv = vals.get(upper as usize).copied().unwrap_or(f64::NAN);
    lv * (1.0 - weight) + uv * weight
}

/// Loki's `rate_counter` (`extrapolatedRate` with isCounter and isRate). Loki keeps sample
/// times in nanoseconds but subtracts the range in milliseconds and divides by 1000, so the
/// distance to the window start is the range in seconds while the sampled interval is in
/// microseconds; this reproduces that arithmetic so results match Loki.
fn rate_counter(win: &[(i64, f64)], range_ms: i64, range_s: f64) -> f64 {
    let (Some(&(t0, v0)), Some(&(tn, vn))) = (win.first(), win.last()) else {
        return 0.0;
    };
    if win.len() < 2 {
        return 0.0;
    }
    let mut result = vn - v0;
    let mut last = 0.0f64;
    for &(_, v) in win {
        if v < last {
            result += last;
        }
        last = v;
    }
    let mut to_start = range_ms as f64 / 1000.0;
    let to_end = 0.0f64;
    let sampled = (tn as f64 - t0 as f64) / 1000.0;
    let avg = sampled / (win.len() - 1) as f64;
    if result > 0.0 && v0 >= 0.0 {
        let to_zero = sampled * (v0 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold { to_start } else { avg / 2.0 };
    interval += if to_end < threshold { to_end } else { avg / 2.0 };
    result * (interval / sampled) / range_s
}

// ---- vector aggregations --------------------------------------------------------------------

/// The output labels of a vector aggregation group.
fn agg_labels(labels: &Labels, g: Option<&Grouping>) -> Labels {
    match g {
        Some(g) if g.without => {
            let mut b = labels.to_builder();
            for n in &g.labels {
                b.del(n);
            }
            b.del("__name__");
            b.build()
        }
        Some(g) => {
            let kept: Vec<Label> = labels.iter().filter(|l| g.labels.iter().any(|n| n == &l.name)).cloned().collect();
            Labels::from_sorted(kept)
        }
        None => Labels::empty(),
    }
}

/// Running state of one aggregation group.
struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    count: u64,
    members: Vec<Sample>,
}

fn eval_vector_agg(ctx: &Ctx<'_>, v: &VectorAgg, stats: &mut Stats) -> Result<Value, EvalError> {
    let pushdown = match v.op {
        VectorOp::Sum => Some(v.grouping.clone().unwrap_or(Grouping { without: false, labels: Vec::new() })),
        _ => None,
    };
    let inner = expect_vectors(eval(ctx, &v.inner, pushdown.as_ref(), stats)?, v.op.as_str())?;
    let k = v.param.unwrap_or(0);
    let mut out = Vec::with_capacity(inner.len());
    for vec in inner {
        out.push(aggregate_step(v, k, vec));
    }
    Ok(Value::Vectors(out))
}

fn aggregate_step(v: &VectorAgg, k: i64, vec: Vec<Sample>) -> Vec<Sample> {
    if matches!(v.op, VectorOp::Topk | VectorOp::Bottomk) && k < 1 {
        return Vec::new();
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (labels, x) in vec {
        let key = agg_labels(&labels, v.grouping.as_ref());
        let Some(&gi) = index.get(&key) else {
            index.insert(key.clone(), groups.len());
            let value = if matches!(v.op, VectorOp::Stddev | VectorOp::Stdvar) { 0.0 } else { x };
            groups.push(Group { labels: key, value, mean: x, count: 1, members: vec![(labels, x)] });
            continue;
        };
        let Some(g) = groups.get_mut(gi) else { continue };
        match v.op {
            VectorOp::Sum => g.value += x,
            VectorOp::Avg => {
                g.count += 1;
                g.mean += (x - g.mean) / g.count as f64;
            }
            VectorOp::Max => {
                if g.value < x || g.value.is_nan() {
                    g.value = x;
                }
            }
            VectorOp::Min => {
                if g.value > x || g.value.is_nan() {
                    g.value = x;
                }
            }
            VectorOp::Count => g.count += 1,
            VectorOp::Stddev | VectorOp::Stdvar => {
                g.count += 1;
                let delta = x - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (x - g.mean);
            }
            VectorOp::Topk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => g.members.push((labels, x)),
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let value = match v.op {
            VectorOp::Avg => g.mean,
            VectorOp::Count => g.count as f64,
            VectorOp::Stddev => (g.value / g.count as f64).sqrt(),
            VectorOp::Stdvar => g.value / g.count as f64,
            VectorOp::Sum | VectorOp::Max | VectorOp::Min => g.value,
            VectorOp::Topk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => {
                let mut members = g.members;
                let desc = matches!(v.op, VectorOp::Topk | VectorOp::SortDesc);
                // NaN always sorts last; ties by labels for a deterministic answer.
                members.sort_by(|a, b| {
                    let by_value = match (a.1.is_nan(), b.1.is_nan()) {
                        (true, true) => Ordering::Equal,
                        (true, false) => Ordering::Greater,
                        (false, true) => Ordering::Less,
                        (false, false) if desc => b.1.total_cmp(&a.1),
                        (false, false) => a.1.total_cmp(&b.1),
                    };
                    by_value.then_with(|| a.0.cmp(&b.0))
                });
                if matches!(v.op, VectorOp::Topk | VectorOp::Bottomk) {
                    members.truncate(usize::try_from(k).unwrap_or(usize::MAX));
                }
                out.extend(members);
                continue;
            }
        };
        out.push((g.labels, value));
    }
    out
}

// ---- binary operations ----------------------------------------------------------------------

fn eval_binop(ctx: &Ctx<'_>, b: &BinOp, stats: &mut Stats) -> Result<Value, EvalError> {
    let lhs = eval(ctx, &b.lhs, None, stats)?;
    let rhs = eval(ctx, &b.rhs, None, stats)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => match b.op.apply_scalar(l, r) {
            Some(v) => Ok(Value::Scalar(v)),
            None => Err(set_literal_err(b.op, r)),
        },
        (Value::Vectors(ls), Value::Scalar(r)) => {
            if b.op.is_set() {
                return Err(set_literal_err(b.op, r));
            }
            Ok(Value::Vectors(ls.into_iter().map(|v| scalar_binop(b, v, r, false)).collect()))
        }
        (Value::Scalar(l), Value::Vectors(rs)) => {
            if b.op.is_set() {
                return Err(set_literal_err(b.op, l));
            }
            Ok(Value::Vectors(rs.into_iter().map(|v| scalar_binop(b, v, l, true)).collect()))
        }
        (Value::Vectors(ls), Value::Vectors(rs)) => {
            let mut out = Vec::with_capacity(ls.len());
            for (l, r) in ls.into_iter().zip(rs) {
                out.push(vector_binop(b, l, r)?);
            }
            Ok(Value::Vectors(out))
        }
    }
}

fn set_literal_err(op: BinOpKind, v: f64) -> EvalError {
    EvalError::BadData(format!(
        "unexpected literal for right leg of logical/set binary operation ({}): {v}",
        op.as_str()
    ))
}

/// `vector op scalar` (or `scalar op vector` when `lit_left`): labels are kept; a comparison
/// without `bool` keeps the vector's sample when it holds.
fn scalar_binop(b: &BinOp, vec: Vec<Sample>, lit: f64, lit_left: bool) -> Vec<Sample> {
    let mut out = Vec::with_capacity(vec.len());
    for (labels, x) in vec {
        let (l, r) = if lit_left { (lit, x) } else { (x, lit) };
        let Some(val) = b.op.apply_scalar(l, r) else { continue };
        if b.op.is_comparison() && !b.return_bool {
            if val == 1.0 {
                out.push((labels, x));
            }
        } else {
            out.push((labels, val));
        }
    }
    out
}

/// The matching signature of a sample's labels.
fn signature(labels: &Labels, m: Option<&VectorMatching>) -> Labels {
    match m {
        None => labels.clone(),
        Some(m) if m.on => {
            Labels::from_sorted(labels.iter().filter(|l| m.labels.iter().any(|n| n == &l.name)).cloned().collect())
        }
        Some(m) => {
            let mut b = labels.to_builder();
            for n in &m.labels {
                b.del(n);
            }
            b.build()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
}

/// Loki's `resultMetric`: one-to-one keeps only the `on` labels (or drops the `ignoring`
/// ones); `group_x(...)` labels are copied from the "one" side.
fn result_metric(lhs: &Labels, rhs: &Labels, m: Option<&VectorMatching>, card: Card) -> Labels {
    let Some(m) = m else { return lhs.clone() };
    let mut b = lhs.to_builder();
    if card == Card::OneToOne {
        if m.on {
            b.retain(|l| m.labels.iter().any(|n| n == &l.name));
        } else {
            for n in &m.labels {
                b.del(n);
            }
        }
    }
    if let Some(g) = &m.group {
        for n in &g.include {
            match rhs.get(n) {
                Some(v) => {
                    b.set(n.clone(), v.to_string());
                }
                None => {
                    b.del(n);
                }
            }
        }
    }
    b.build()
}

fn vector_binop(b: &BinOp, lhs: Vec<Sample>, rhs: Vec<Sample>) -> Result<Vec<Sample>, EvalError> {
    let m = b.matching.as_ref();
    let lsigs: Vec<Labels> = lhs.iter().map(|s| signature(&s.0, m)).collect();
    let rsigs: Vec<Labels> = rhs.iter().map(|s| signature(&s.0, m)).collect();
    match b.op {
        BinOpKind::And => {
            if lhs.is_empty() || rhs.is_empty() {
                return Ok(Vec::new());
            }
            let right: HashSet<&Labels> = rsigs.iter().collect();
            return Ok(lhs.into_iter().zip(&lsigs).filter(|(_, s)| right.contains(s)).map(|(x, _)| x).collect());
        }
        BinOpKind::Or => {
            if lhs.is_empty() {
                return Ok(rhs);
            }
            if rhs.is_empty() {
                return Ok(lhs);
            }
            let left: HashSet<&Labels> = lsigs.iter().collect();
            let extra: Vec<Sample> =
                rhs.into_iter().zip(&rsigs).filter(|(_, s)| !left.contains(s)).map(|(x, _)| x).collect();
            let mut out = lhs;
            out.extend(extra);
            return Ok(out);
        }
        BinOpKind::Unless => {
            if lhs.is_empty() || rhs.is_empty() {
                return Ok(lhs);
            }
            let right: HashSet<&Labels> = rsigs.iter().collect();
            return Ok(lhs.into_iter().zip(&lsigs).filter(|(_, s)| !right.contains(s)).map(|(x, _)| x).collect());
        }
        _ => {}
    }
    let card = match m.and_then(|m| m.group.as_ref()) {
        None => Card::OneToOne,
        Some(g) if g.left => Card::ManyToOne,
        Some(_) => Card::OneToMany,
    };
    // Loki handles one-to-many by swapping the sides, then swaps back to apply the operator.
    let (many, one, many_sigs, one_sigs) =
        if card == Card::OneToMany { (rhs, lhs, rsigs, lsigs) } else { (lhs, rhs, lsigs, rsigs) };
    let mut one_by_sig: HashMap<&Labels, &Sample> = HashMap::new();
    for (s, sig) in one.iter().zip(&one_sigs) {
        if one_by_sig.insert(sig, s).is_some() {
            let side = if card == Card::OneToMany { "left" } else { "right" };
            return Err(EvalError::Execution(format!(
                "found duplicate series on the {side} hand-side;many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    let mut matched: HashMap<&Labels, HashSet<Labels>> = HashMap::new();
    let filter = !b.return_bool;
    let mut out = Vec::new();
    for (ls, sig) in many.iter().zip(&many_sigs) {
        let Some(rs) = one_by_sig.get(sig) else { continue };
        let metric = result_metric(&ls.0, &rs.0, m, card);
        if card == Card::OneToOne {
            if matched.contains_key(sig) {
                return Err(EvalError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
            matched.insert(sig, HashSet::new());
        } else {
            let set = matched.entry(sig).or_default();
            if !set.insert(metric.clone()) {
                return Err(EvalError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches".into(),
                ));
            }
        }
        let (l, r) = if card == Card::OneToMany { (rs.1, ls.1) } else { (ls.1, rs.1) };
        let Some(val) = b.op.apply_scalar(l, r) else { continue };
        if b.op.is_comparison() && filter {
            if val == 1.0 {
                out.push((metric, l));
            }
        } else {
            out.push((metric, val));
        }
    }
    Ok(out)
}

// ---- label_replace --------------------------------------------------------------------------

fn eval_label_replace(ctx: &Ctx<'_>, l: &LabelReplace, stats: &mut Stats) -> Result<Value, EvalError> {
    let re = Regex::new(&format!("^(?:{})$", l.regex))
        .map_err(|e| EvalError::BadData(format!("invalid regex in label_replace: {e}")))?;
    let inner = expect_vectors(eval(ctx, &l.inner, None, stats)?, "label_replace")?;
    let mut cache: HashMap<Labels, Labels> = HashMap::new();
    let mut out = Vec::with_capacity(inner.len());
    for vec in inner {
        let mut step = Vec::with_capacity(vec.len());
        for (labels, x) in vec {
            if let Some(done) = cache.get(&labels) {
                step.push((done.clone(), x));
                continue;
            }
            let src = labels.get(&l.src).unwrap_or("");
            let replaced = match re.captures(src) {
                None => labels.clone(),
                Some(caps) => {
                    let mut res = String::new();
                    caps.expand(&l.replacement, &mut res);
                    let mut b = labels.to_builder();
                    b.del(&l.dst);
                    if !res.is_empty() {
                        b.set(l.dst.clone(), res);
                    }
                    b.build()
                }
            };
            cache.insert(labels, replaced.clone());
            step.push((replaced, x));
        }
        out.push(step);
    }
    Ok(Value::Vectors(out))
}

/// Substrings every returned line must contain: the single-value `|=` filters at the start of
/// the pipeline, before anything rewrites the line. A store may skip data without them.
fn needles(l: &LogExpr) -> Vec<&str> {
    let mut out = Vec::new();
    for st in &l.pipeline {
        match st {
            crate::ast::Stage::LineFilter(f) => {
                if f.op == crate::ast::LineFilterOp::Contains
                    && let [crate::ast::FilterValue::Str(v)] = f.values.as_slice()
                {
                    out.push(v.as_str());
                }
            }
            _ => break,
        }
    }
    out
}
