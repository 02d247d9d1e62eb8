//! Evaluation of a search query over all spans of one trace, with Tempo's semantics: a trace
//! enters the pipeline as one spanset holding all its spans, every stage maps spansets to
//! spansets, and a spanset left without spans disappears.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::{self, Display, Formatter};

use regex::Regex;
use seer_model::trace::{AttrValue, Span, SpanEvent, SpanKind, SpanLink, StatusCode, find_attr, hex_id};

use crate::ast::*;
use crate::printer::format_duration;

/// Most spanset pairs a single spanset operator may combine (guards `by()` on both sides).
const MAX_PAIRS: usize = 100_000;

/// A value produced by evaluation: a `by()` key, an aggregate or a `select()`ed field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Nanoseconds.
    Duration(i64),
    Status(StatusCode),
    Kind(SpanKind),
    Array(Vec<Value>),
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            Value::Status(s) => f.write_str(s.traceql_name()),
            Value::Kind(k) => f.write_str(k.traceql_name()),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A span of a result spanset.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedSpan {
    /// Index into the slice of spans given to [`eval`].
    pub index: usize,
    /// Fields chosen with `select()`, keyed by attribute name or intrinsic (`http.url`, `status`).
    pub attributes: Vec<(String, Value)>,
}

/// One result spanset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanSet {
    /// Sorted by index, without duplicates.
    pub spans: Vec<MatchedSpan>,
    /// Spanset attributes: `by(resource.service.name)` keys and aggregates (`count()`,
    /// `avg(duration)`), in the order the pipeline added them.
    pub attributes: Vec<(String, Value)>,
}

impl SpanSet {
    /// The number of spans in the spanset (Tempo's `matched`).
    pub fn matched(&self) -> usize {
        self.spans.len()
    }

    /// The indexes of the spans, ascending.
    pub fn indexes(&self) -> Vec<usize> {
        self.spans.iter().map(|s| s.index).collect()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("metrics queries cannot be evaluated as a search")]
    MetricsQuery,
    #[error("not a metrics query")]
    NotMetricsQuery,
    #[error("invalid metrics request: {0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("query too complex: {0}")]
    TooComplex(String),
}

/// Evaluates a search query over all spans of one trace and returns the matching spansets
/// (none when the trace does not match).
pub fn eval(q: &Query, spans: &[Span]) -> Result<Vec<SpanSet>, EvalError> {
    if q.metrics.is_some() {
        return Err(EvalError::MetricsQuery);
    }
    eval_pipeline(&q.pipeline, spans)
}

/// Evaluates a spanset pipeline over all spans of one trace (the first half of a metrics
/// query is evaluated this way too).
pub fn eval_pipeline(p: &Pipeline, spans: &[Span]) -> Result<Vec<SpanSet>, EvalError> {
    if spans.is_empty() {
        return Ok(Vec::new());
    }
    Trace::new(spans, p).run(p)
}

/// One trace prepared for the metrics evaluator: the spans the pipeline matches and the
/// fields (`by()` keys, the measured value, the `compare()` filter) of single spans.
pub(crate) struct TraceFields<'a> {
    trace: Trace<'a>,
}

impl<'a> TraceFields<'a> {
    /// `extra` is a filter body evaluated with [`TraceFields::matches`] (its regexes are
    /// compiled once per trace, like the pipeline's).
    pub(crate) fn new(spans: &'a [Span], p: &'a Pipeline, extra: Option<&'a Expr>) -> TraceFields<'a> {
        let mut trace = Trace::new(spans, p);
        if let Some(e) = extra {
            collect_regexes(e, &mut trace.regexes);
        }
        TraceFields { trace }
    }

    /// The indexes of the spans in any result spanset of the pipeline, ascending, each once.
    pub(crate) fn matched(&self, p: &'a Pipeline) -> Result<Vec<usize>, EvalError> {
        if self.trace.spans.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen = vec![false; self.trace.spans.len()];
        for set in self.trace.run(p)? {
            for m in &set.spans {
                seen[m.index] = true;
            }
        }
        Ok((0..seen.len()).filter(|&i| seen[i]).collect())
    }

    /// A field of one span (`nil` when missing).
    pub(crate) fn value(&self, e: &'a Expr, span: usize) -> Value {
        self.trace.span_value(e, span).to_value()
    }

    /// A numeric field of one span: the number and whether it is a duration (nanoseconds).
    pub(crate) fn number(&self, e: &'a Expr, span: usize) -> Option<(f64, bool)> {
        match self.trace.span_value(e, span) {
            V::Int(n) => Some((n as f64, false)),
            V::Float(x) if x.is_finite() => Some((x, false)),
            V::Duration(d) => Some((d as f64, true)),
            _ => None,
        }
    }

    /// Whether one span satisfies a filter body (as `{ e }` would).
    pub(crate) fn matches(&self, e: &'a Expr, span: usize) -> bool {
        self.trace.span_matches(e, span, uses_events(e), uses_links(e))
    }
}

/// An attribute value as a [`Value`] (bytes, maps and empty values are `nil`).
pub(crate) fn attr_value(v: &AttrValue) -> Value {
    from_attr(v).to_value()
}

/// A value during evaluation, borrowing from the query and the spans.
#[derive(Debug, Clone)]
enum V<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Duration(i64),
    Status(StatusCode),
    Kind(SpanKind),
    Array(&'a [AttrValue]),
}

impl V<'_> {
    fn to_value(&self) -> Value {
        match self {
            V::Nil => Value::Nil,
            V::Bool(b) => Value::Bool(*b),
            V::Int(n) => Value::Int(*n),
            V::Float(x) => Value::Float(*x),
            V::Str(s) => Value::Str(s.to_string()),
            V::Duration(d) => Value::Duration(*d),
            V::Status(s) => Value::Status(*s),
            V::Kind(k) => Value::Kind(*k),
            V::Array(items) => Value::Array(items.iter().map(|a| from_attr(a).to_value()).collect()),
        }
    }

    fn is_nil(&self) -> bool {
        matches!(self, V::Nil)
    }
}

fn from_attr(v: &AttrValue) -> V<'_> {
    match v {
        AttrValue::Str(s) => V::Str(Cow::Borrowed(s)),
        AttrValue::Bool(b) => V::Bool(*b),
        AttrValue::Int(n) => V::Int(*n),
        AttrValue::Float(x) => V::Float(*x),
        AttrValue::Array(items) => V::Array(items),
        AttrValue::Bytes(_) | AttrValue::Map(_) | AttrValue::Empty => V::Nil,
    }
}

fn from_static(s: &Static) -> V<'_> {
    match s {
        Static::Nil => V::Nil,
        Static::Bool(b) => V::Bool(*b),
        Static::Int(n) => V::Int(*n),
        Static::Float(x) => V::Float(*x),
        Static::Str(s) => V::Str(Cow::Borrowed(s)),
        Static::Duration(d) => V::Duration(*d),
        Static::Status(s) => V::Status(*s),
        Static::Kind(k) => V::Kind(*k),
    }
}

fn truthy(v: &V) -> bool {
    matches!(v, V::Bool(true))
}

/// Both operands as integers, when neither is a float.
fn as_ints(l: &V, r: &V) -> Option<(i64, i64)> {
    let int = |v: &V| match v {
        V::Int(n) | V::Duration(n) => Some(*n),
        _ => None,
    };
    Some((int(l)?, int(r)?))
}

fn as_f64(v: &V) -> Option<f64> {
    match v {
        V::Int(n) | V::Duration(n) => Some(*n as f64),
        V::Float(x) => Some(*x),
        _ => None,
    }
}

/// Ordering of two numbers (ints, floats and durations mix) or two strings.
fn order(l: &V, r: &V) -> Option<Ordering> {
    if let Some((a, b)) = as_ints(l, r) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (as_f64(l), as_f64(r)) {
        return a.partial_cmp(&b);
    }
    match (l, r) {
        (V::Str(a), V::Str(b)) => Some(a.as_ref().cmp(b.as_ref())),
        _ => None,
    }
}

/// Equality of values that have no order.
fn same(l: &V, r: &V) -> Option<bool> {
    match (l, r) {
        (V::Bool(a), V::Bool(b)) => Some(a == b),
        (V::Status(a), V::Status(b)) => Some(a == b),
        (V::Kind(a), V::Kind(b)) => Some(a == b),
        _ => None,
    }
}

fn float_result(x: f64, duration: bool) -> V<'static> {
    if !x.is_finite() {
        V::Nil
    } else if duration {
        V::Duration(x.round() as i64)
    } else {
        V::Float(x)
    }
}

/// `+ - * / % ^` on numbers; anything else (or a division by zero) gives nil.
fn arith(op: BinaryOp, l: &V, r: &V) -> V<'static> {
    let duration = matches!(l, V::Duration(_)) || matches!(r, V::Duration(_));
    if let Some((a, b)) = as_ints(l, r) {
        let int = match op {
            BinaryOp::Add => Some(a.wrapping_add(b)),
            BinaryOp::Sub => Some(a.wrapping_sub(b)),
            BinaryOp::Mul => Some(a.wrapping_mul(b)),
            BinaryOp::Mod if b == 0 => return V::Nil,
            BinaryOp::Mod => Some(a.wrapping_rem(b)),
            BinaryOp::Pow => u32::try_from(b).ok().and_then(|e| a.checked_pow(e)),
            _ => None,
        };
        if let Some(n) = int {
            return if duration { V::Duration(n) } else { V::Int(n) };
        }
    }
    let (Some(a), Some(b)) = (as_f64(l), as_f64(r)) else { return V::Nil };
    let x = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div if b == 0.0 => return V::Nil,
        BinaryOp::Div => a / b,
        BinaryOp::Mod if b == 0.0 => return V::Nil,
        BinaryOp::Mod => a % b,
        BinaryOp::Pow => a.powf(b),
        _ => return V::Nil,
    };
    float_result(x, duration)
}

fn negate<'a>(v: V<'a>) -> V<'a> {
    match v {
        V::Int(n) => V::Int(n.wrapping_neg()),
        V::Float(x) => V::Float(-x),
        V::Duration(d) => V::Duration(d.wrapping_neg()),
        _ => V::Nil,
    }
}

/// Where an expression is evaluated: a span and, for event and link fields, one of its events
/// and links.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    span: usize,
    event: Option<&'a SpanEvent>,
    link: Option<&'a SpanLink>,
}

/// One trace prepared for evaluation: the span tree and the trace-level intrinsics.
struct Trace<'a> {
    spans: &'a [Span],
    parent: Vec<Option<usize>>,
    child_count: Vec<i64>,
    /// Spans reachable from a root, parents before children.
    preorder: Vec<usize>,
    /// (left, right, parent's left) per span; zeros for spans not reachable from a root.
    nested: Vec<(i64, i64, i64)>,
    root: Option<usize>,
    trace_duration: i64,
    regexes: HashMap<&'a str, Regex>,
}

fn collect_regexes<'a>(e: &'a Expr, out: &mut HashMap<&'a str, Regex>) {
    match e {
        Expr::Binary { op, lhs, rhs } => {
            if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex)
                && let Expr::Static(Static::Str(p)) = rhs.as_ref()
                && !out.contains_key(p.as_str())
                && let Ok(re) = crate::compile_regex(p)
            {
                out.insert(p.as_str(), re);
            }
            collect_regexes(lhs, out);
            collect_regexes(rhs, out);
        }
        Expr::Unary { expr, .. } => collect_regexes(expr, out),
        _ => {}
    }
}

fn collect_pipeline_regexes<'a>(p: &'a Pipeline, out: &mut HashMap<&'a str, Regex>) {
    for s in &p.stages {
        match s {
            Stage::Spanset(e) => collect_spanset_regexes(e, out),
            Stage::By(e) => collect_regexes(e, out),
            Stage::ScalarFilter(f) => {
                for side in [&f.lhs, &f.rhs] {
                    collect_scalar_regexes(side, out);
                }
            }
            Stage::Select(_) | Stage::Coalesce => {}
        }
    }
}

fn collect_scalar_regexes<'a>(e: &'a ScalarExpr, out: &mut HashMap<&'a str, Regex>) {
    match e {
        ScalarExpr::Aggregate(Aggregate { arg: Some(a), .. }) => collect_regexes(a, out),
        ScalarExpr::Neg(x) => collect_scalar_regexes(x, out),
        ScalarExpr::Binary { lhs, rhs, .. } => {
            collect_scalar_regexes(lhs, out);
            collect_scalar_regexes(rhs, out);
        }
        _ => {}
    }
}

fn collect_spanset_regexes<'a>(e: &'a SpansetExpr, out: &mut HashMap<&'a str, Regex>) {
    match e {
        SpansetExpr::Filter(Some(x)) => collect_regexes(x, out),
        SpansetExpr::Filter(None) => {}
        SpansetExpr::Binary { lhs, rhs, .. } => {
            collect_spanset_regexes(lhs, out);
            collect_spanset_regexes(rhs, out);
        }
        SpansetExpr::Pipeline(p) => collect_pipeline_regexes(p, out),
    }
}

/// Whether an expression reads event fields (then it is evaluated once per event).
fn uses_events(e: &Expr) -> bool {
    match e {
        Expr::Attribute(a) => a.scope == AttrScope::Event,
        Expr::Intrinsic(i) => i.is_event(),
        Expr::Static(_) => false,
        Expr::Unary { expr, .. } => uses_events(expr),
        Expr::Binary { lhs, rhs, .. } => uses_events(lhs) || uses_events(rhs),
    }
}

/// Whether an expression reads link fields (then it is evaluated once per link).
fn uses_links(e: &Expr) -> bool {
    match e {
        Expr::Attribute(a) => a.scope == AttrScope::Link,
        Expr::Intrinsic(i) => i.is_link(),
        Expr::Static(_) => false,
        Expr::Unary { expr, .. } => uses_links(expr),
        Expr::Binary { lhs, rhs, .. } => uses_links(lhs) || uses_links(rhs),
    }
}

/// Merges two index-sorted span lists; a span in both keeps the selected fields of both.
fn union_spans(a: &[MatchedSpan], b: &[MatchedSpan]) -> Vec<MatchedSpan> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && a[i].index <= b[j].index);
        let take_b = i >= a.len() || (j < b.len() && b[j].index <= a[i].index);
        if take_a && take_b {
            let mut m = a[i].clone();
            merge_attrs(&mut m.attributes, &b[j].attributes);
            out.push(m);
            i += 1;
            j += 1;
        } else if take_a {
            out.push(a[i].clone());
            i += 1;
        } else {
            out.push(b[j].clone());
            j += 1;
        }
    }
    out
}

fn merge_attrs(into: &mut Vec<(String, Value)>, from: &[(String, Value)]) {
    for (k, v) in from {
        if !into.iter().any(|(k2, _)| k2 == k) {
            into.push((k.clone(), v.clone()));
        }
    }
}

fn union_sets(a: &SpanSet, b: &SpanSet) -> SpanSet {
    let mut attributes = a.attributes.clone();
    merge_attrs(&mut attributes, &b.attributes);
    SpanSet { spans: union_spans(&a.spans, &b.spans), attributes }
}

impl<'a> Trace<'a> {
    fn new(spans: &'a [Span], p: &'a Pipeline) -> Trace<'a> {
        let n = spans.len();
        let mut by_id: HashMap<[u8; 8], usize> = HashMap::with_capacity(n);
        for (i, s) in spans.iter().enumerate() {
            by_id.entry(s.span_id).or_insert(i);
        }
        let mut parent = vec![None; n];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in spans.iter().enumerate() {
            if s.is_root() {
                continue;
            }
            if let Some(&p) = by_id.get(&s.parent_span_id)
                && p != i
            {
                parent[i] = Some(p);
                children[p].push(i);
            }
        }
        let key = |&i: &usize| (spans[i].start_ns, i);
        for c in &mut children {
            c.sort_by_key(key);
        }
        let child_count = children.iter().map(|c| c.len() as i64).collect();
        let mut roots: Vec<usize> = (0..n).filter(|&i| parent[i].is_none()).collect();
        roots.sort_by_key(key);
        // Iterative depth-first walk assigning nested-set numbers.
        let mut nested = vec![(0i64, 0i64, 0i64); n];
        let mut preorder = Vec::with_capacity(n);
        let mut counter = 1i64;
        for &r in &roots {
            let mut stack: Vec<(usize, usize)> = vec![(r, 0)];
            nested[r] = (counter, 0, -1);
            counter += 1;
            preorder.push(r);
            while let Some(top) = stack.last_mut() {
                let (node, next) = *top;
                if next < children[node].len() {
                    top.1 += 1;
                    let c = children[node][next];
                    nested[c] = (counter, 0, nested[node].0);
                    counter += 1;
                    preorder.push(c);
                    stack.push((c, 0));
                } else {
                    nested[node].1 = counter;
                    counter += 1;
                    stack.pop();
                }
            }
        }
        let root = (0..n).find(|&i| spans[i].is_root());
        let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        let trace_duration = i64::try_from(end.saturating_sub(start)).unwrap_or(i64::MAX);
        let mut regexes = HashMap::new();
        collect_pipeline_regexes(p, &mut regexes);
        Trace { spans, parent, child_count, preorder, nested, root, trace_duration, regexes }
    }

    // ------------------------------------------------------------ field expressions

    fn attribute(&self, a: &Attribute, ctx: Ctx<'a>) -> V<'a> {
        let idx = if a.parent {
            match self.parent[ctx.span] {
                Some(p) => p,
                None => return V::Nil,
            }
        } else {
            ctx.span
        };
        let s = &self.spans[idx];
        let name = a.name.as_str();
        let found = match a.scope {
            AttrScope::Unscoped => find_attr(&s.attrs, name).or_else(|| find_attr(&s.resource.attrs, name)),
            AttrScope::Span => find_attr(&s.attrs, name),
            AttrScope::Resource => find_attr(&s.resource.attrs, name),
            AttrScope::Event => ctx.event.and_then(|e| find_attr(&e.attrs, name)),
            AttrScope::Link => ctx.link.and_then(|l| find_attr(&l.attrs, name)),
            AttrScope::Instrumentation => find_attr(&s.scope.attrs, name),
        };
        found.map_or(V::Nil, from_attr)
    }

    fn intrinsic(&self, i: Intrinsic, ctx: Ctx<'a>) -> V<'a> {
        let s = &self.spans[ctx.span];
        match i {
            Intrinsic::Name => V::Str(Cow::Borrowed(&s.name)),
            Intrinsic::Status => V::Status(s.status),
            Intrinsic::StatusMessage => V::Str(Cow::Borrowed(&s.status_message)),
            Intrinsic::Kind => V::Kind(s.kind),
            Intrinsic::Duration => V::Duration(i64::try_from(s.duration_ns()).unwrap_or(i64::MAX)),
            Intrinsic::ChildCount => V::Int(self.child_count[ctx.span]),
            Intrinsic::SpanId => V::Str(Cow::Owned(hex_id(&s.span_id))),
            Intrinsic::ParentId if s.is_root() => V::Nil,
            Intrinsic::ParentId => V::Str(Cow::Owned(hex_id(&s.parent_span_id))),
            Intrinsic::TraceId => V::Str(Cow::Owned(hex_id(&s.trace_id))),
            Intrinsic::RootName => match self.root {
                Some(r) => V::Str(Cow::Borrowed(&self.spans[r].name)),
                None => V::Nil,
            },
            Intrinsic::RootServiceName => match self.root {
                Some(r) => find_attr(&self.spans[r].resource.attrs, "service.name").map_or(V::Nil, from_attr),
                None => V::Nil,
            },
            Intrinsic::TraceDuration => V::Duration(self.trace_duration),
            Intrinsic::NestedSetLeft => V::Int(self.nested[ctx.span].0),
            Intrinsic::NestedSetRight => V::Int(self.nested[ctx.span].1),
            Intrinsic::NestedSetParent => V::Int(self.nested[ctx.span].2),
            Intrinsic::EventName => match ctx.event {
                Some(e) => V::Str(Cow::Borrowed(&e.name)),
                None => V::Nil,
            },
            Intrinsic::EventTimeSinceStart => match ctx.event {
                Some(e) => {
                    let d = e.time_ns as i128 - s.start_ns as i128;
                    V::Duration(d.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
                }
                None => V::Nil,
            },
            Intrinsic::LinkTraceId => match ctx.link {
                Some(l) => V::Str(Cow::Owned(hex_id(&l.trace_id))),
                None => V::Nil,
            },
            Intrinsic::LinkSpanId => match ctx.link {
                Some(l) => V::Str(Cow::Owned(hex_id(&l.span_id))),
                None => V::Nil,
            },
            Intrinsic::InstrumentationName => V::Str(Cow::Borrowed(&s.scope.name)),
            Intrinsic::InstrumentationVersion => V::Str(Cow::Borrowed(&s.scope.version)),
        }
    }

    fn expr(&self, e: &'a Expr, ctx: Ctx<'a>) -> V<'a> {
        match e {
            Expr::Static(s) => from_static(s),
            Expr::Attribute(a) => self.attribute(a, ctx),
            Expr::Intrinsic(i) => self.intrinsic(*i, ctx),
            Expr::Unary { op: UnaryOp::Neg, expr } => negate(self.expr(expr, ctx)),
            Expr::Unary { op: UnaryOp::Not, expr } => match self.expr(expr, ctx) {
                V::Bool(b) => V::Bool(!b),
                _ => V::Nil,
            },
            Expr::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, ctx),
        }
    }

    fn binary(&self, op: BinaryOp, lhs: &'a Expr, rhs: &'a Expr, ctx: Ctx<'a>) -> V<'a> {
        match op {
            BinaryOp::And => V::Bool(truthy(&self.expr(lhs, ctx)) && truthy(&self.expr(rhs, ctx))),
            BinaryOp::Or => V::Bool(truthy(&self.expr(lhs, ctx)) || truthy(&self.expr(rhs, ctx))),
            BinaryOp::Eq | BinaryOp::Neq
                if matches!(lhs, Expr::Static(Static::Nil)) || matches!(rhs, Expr::Static(Static::Nil)) =>
            {
                let other = if matches!(lhs, Expr::Static(Static::Nil)) { rhs } else { lhs };
                let missing = self.expr(other, ctx).is_nil();
                V::Bool(if op == BinaryOp::Eq { missing } else { !missing })
            }
            op if op.is_arithmetic() => arith(op, &self.expr(lhs, ctx), &self.expr(rhs, ctx)),
            op => V::Bool(self.compare(op, &self.expr(lhs, ctx), &self.expr(rhs, ctx))),
        }
    }

    /// A comparison. Arrays match `=`, `=~`, `<`... when any element does, and `!=`, `!~`
    /// when no element matches the positive form.
    fn compare(&self, op: BinaryOp, l: &V<'a>, r: &V<'a>) -> bool {
        match (l, r) {
            (V::Array(_), V::Array(_)) => false,
            (V::Array(items), other) => self.compare_array(op, items, other),
            (other, V::Array(items)) if !matches!(op, BinaryOp::Regex | BinaryOp::NotRegex) => {
                self.compare_array(op.flipped(), items, other)
            }
            _ => self.compare_scalar(op, l, r),
        }
    }

    fn compare_array(&self, op: BinaryOp, items: &'a [AttrValue], other: &V<'a>) -> bool {
        let positive = match op {
            BinaryOp::Neq => BinaryOp::Eq,
            BinaryOp::NotRegex => BinaryOp::Regex,
            o => o,
        };
        let any = items.iter().any(|it| self.compare_scalar(positive, &from_attr(it), other));
        if positive != op { !any } else { any }
    }

    fn compare_scalar(&self, op: BinaryOp, l: &V<'a>, r: &V<'a>) -> bool {
        match op {
            BinaryOp::Regex | BinaryOp::NotRegex => {
                let (V::Str(s), V::Str(p)) = (l, r) else { return false };
                let matched = match self.regexes.get(p.as_ref()) {
                    Some(re) => re.is_match(s),
                    None => match crate::compile_regex(p) {
                        Ok(re) => re.is_match(s),
                        Err(_) => return false,
                    },
                };
                matched == (op == BinaryOp::Regex)
            }
            BinaryOp::Eq | BinaryOp::Neq => {
                let equal = match order(l, r) {
                    Some(o) => o == Ordering::Equal,
                    None => match same(l, r) {
                        Some(b) => b,
                        None => return false,
                    },
                };
                equal == (op == BinaryOp::Eq)
            }
            _ => match order(l, r) {
                Some(o) => match op {
                    BinaryOp::Gt => o == Ordering::Greater,
                    BinaryOp::Gte => o != Ordering::Less,
                    BinaryOp::Lt => o == Ordering::Less,
                    BinaryOp::Lte => o != Ordering::Greater,
                    _ => false,
                },
                None => false,
            },
        }
    }

    /// Whether a span satisfies a filter body; event and link fields are tried for each
    /// event and link of the span (all conditions on the same event or link).
    fn span_matches(&self, e: &'a Expr, span: usize, events: bool, links: bool) -> bool {
        let s = &self.spans[span];
        let n_events = if events { s.events.len().max(1) } else { 1 };
        let n_links = if links { s.links.len().max(1) } else { 1 };
        for ei in 0..n_events {
            let event = if events { s.events.get(ei) } else { None };
            for li in 0..n_links {
                let link = if links { s.links.get(li) } else { None };
                if truthy(&self.expr(e, Ctx { span, event, link })) {
                    return true;
                }
            }
        }
        false
    }

    fn span_value(&self, e: &'a Expr, span: usize) -> V<'a> {
        self.expr(e, Ctx { span, event: None, link: None })
    }

    // ------------------------------------------------------------ spanset expressions

    fn filter(&self, body: &'a Option<Expr>, input: &SpanSet) -> Vec<SpanSet> {
        let spans: Vec<MatchedSpan> = match body {
            None => input.spans.clone(),
            Some(e) => {
                let (events, links) = (uses_events(e), uses_links(e));
                input.spans.iter().filter(|m| self.span_matches(e, m.index, events, links)).cloned().collect()
            }
        };
        if spans.is_empty() {
            return Vec::new();
        }
        vec![SpanSet { spans, attributes: input.attributes.clone() }]
    }

    fn spanset(&self, e: &'a SpansetExpr, input: &SpanSet) -> Result<Vec<SpanSet>, EvalError> {
        match e {
            SpansetExpr::Filter(body) => Ok(self.filter(body, input)),
            SpansetExpr::Pipeline(p) => self.pipeline(p, vec![input.clone()]),
            SpansetExpr::Binary { op, lhs, rhs } => {
                let l = self.spanset(lhs, input)?;
                let r = self.spanset(rhs, input)?;
                self.combine(*op, l, r)
            }
        }
    }

    fn combine(&self, op: SpansetOp, mut l: Vec<SpanSet>, r: Vec<SpanSet>) -> Result<Vec<SpanSet>, EvalError> {
        let negated = matches!(
            op,
            SpansetOp::NotChild
                | SpansetOp::NotParent
                | SpansetOp::NotDescendant
                | SpansetOp::NotAncestor
                | SpansetOp::NotSibling
        );
        match op {
            SpansetOp::Or if l.is_empty() => return Ok(r),
            SpansetOp::Or if r.is_empty() => return Ok(l),
            // "Spans of B that are not children of an A span": with no A spans, all of B.
            _ if negated && l.is_empty() => l.push(SpanSet::default()),
            _ => {}
        }
        if l.len().saturating_mul(r.len()) > MAX_PAIRS {
            return Err(EvalError::TooComplex(format!("{} x {} spansets around {}", l.len(), r.len(), op.as_str())));
        }
        let mut out = Vec::new();
        for a in &l {
            for b in &r {
                let s = match op {
                    SpansetOp::And | SpansetOp::Or => union_sets(a, b),
                    _ => self.structural(op, a, b),
                };
                if !s.spans.is_empty() {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    fn marks(&self, set: &[MatchedSpan]) -> Vec<bool> {
        let mut m = vec![false; self.spans.len()];
        for s in set {
            m[s.index] = true;
        }
        m
    }

    /// Spans with a marked ancestor.
    fn below_marked(&self, marked: &[bool]) -> Vec<bool> {
        let mut out = vec![false; self.spans.len()];
        for &i in &self.preorder {
            if let Some(p) = self.parent[i] {
                out[i] = out[p] || marked[p];
            }
        }
        out
    }

    /// Spans with a marked descendant.
    fn above_marked(&self, marked: &[bool]) -> Vec<bool> {
        let mut out = vec![false; self.spans.len()];
        for &i in self.preorder.iter().rev() {
            if (marked[i] || out[i])
                && let Some(p) = self.parent[i]
            {
                out[p] = true;
            }
        }
        out
    }

    /// Spans whose parent is marked.
    fn child_of_marked(&self, marked: &[bool]) -> Vec<bool> {
        (0..self.spans.len()).map(|i| self.parent[i].is_some_and(|p| marked[p])).collect()
    }

    /// Spans that are the parent of a marked span.
    fn parent_of_marked(&self, marked: &[bool]) -> Vec<bool> {
        let mut out = vec![false; self.spans.len()];
        for (i, &m) in marked.iter().enumerate() {
            if m && let Some(p) = self.parent[i] {
                out[p] = true;
            }
        }
        out
    }

    /// Spans with a marked sibling (same parent, another span).
    fn sibling_of_marked(&self, marked: &[bool]) -> Vec<bool> {
        let mut per_parent = vec![0usize; self.spans.len()];
        for (i, &m) in marked.iter().enumerate() {
            if m && let Some(p) = self.parent[i] {
                per_parent[p] += 1;
            }
        }
        (0..self.spans.len())
            .map(|i| match self.parent[i] {
                Some(p) => per_parent[p] > usize::from(marked[i]),
                None => false,
            })
            .collect()
    }

    /// The spans of `b` related to the spans of `a` (and, for the union forms, the spans of
    /// `a` on the other end of those relations).
    fn structural(&self, op: SpansetOp, a: &SpanSet, b: &SpanSet) -> SpanSet {
        let in_a = self.marks(&a.spans);
        let related = match op {
            SpansetOp::Child | SpansetOp::NotChild | SpansetOp::UnionChild => self.child_of_marked(&in_a),
            SpansetOp::Parent | SpansetOp::NotParent | SpansetOp::UnionParent => self.parent_of_marked(&in_a),
            SpansetOp::Descendant | SpansetOp::NotDescendant | SpansetOp::UnionDescendant => self.below_marked(&in_a),
            SpansetOp::Ancestor | SpansetOp::NotAncestor | SpansetOp::UnionAncestor => self.above_marked(&in_a),
            _ => self.sibling_of_marked(&in_a),
        };
        let negated = matches!(
            op,
            SpansetOp::NotChild
                | SpansetOp::NotParent
                | SpansetOp::NotDescendant
                | SpansetOp::NotAncestor
                | SpansetOp::NotSibling
        );
        let matched_b: Vec<MatchedSpan> = b.spans.iter().filter(|m| related[m.index] != negated).cloned().collect();
        let mut attributes = a.attributes.clone();
        merge_attrs(&mut attributes, &b.attributes);
        let union = matches!(
            op,
            SpansetOp::UnionChild
                | SpansetOp::UnionParent
                | SpansetOp::UnionDescendant
                | SpansetOp::UnionAncestor
                | SpansetOp::UnionSibling
        );
        if !union || matched_b.is_empty() {
            return SpanSet { spans: matched_b, attributes };
        }
        let in_m = self.marks(&matched_b);
        let other_end = match op {
            SpansetOp::UnionChild => self.parent_of_marked(&in_m),
            SpansetOp::UnionParent => self.child_of_marked(&in_m),
            SpansetOp::UnionDescendant => self.above_marked(&in_m),
            SpansetOp::UnionAncestor => self.below_marked(&in_m),
            _ => self.sibling_of_marked(&in_m),
        };
        let matched_a: Vec<MatchedSpan> = a.spans.iter().filter(|m| other_end[m.index]).cloned().collect();
        SpanSet { spans: union_spans(&matched_a, &matched_b), attributes }
    }

    // ------------------------------------------------------------ pipelines

    /// The pipeline over the whole trace as one spanset.
    fn run(&self, p: &'a Pipeline) -> Result<Vec<SpanSet>, EvalError> {
        let all = SpanSet {
            spans: (0..self.spans.len()).map(|index| MatchedSpan { index, attributes: Vec::new() }).collect(),
            attributes: Vec::new(),
        };
        self.pipeline(p, vec![all])
    }

    fn pipeline(&self, p: &'a Pipeline, mut sets: Vec<SpanSet>) -> Result<Vec<SpanSet>, EvalError> {
        for stage in &p.stages {
            sets = match stage {
                Stage::Spanset(e) => {
                    let mut out = Vec::new();
                    for s in &sets {
                        out.extend(self.spanset(e, s)?);
                    }
                    out
                }
                Stage::ScalarFilter(f) => sets.into_iter().filter_map(|s| self.scalar_filter(f, s)).collect(),
                Stage::By(e) => sets.iter().flat_map(|s| self.group(e, s)).collect(),
                Stage::Select(fields) => sets.into_iter().map(|s| self.select(fields, s)).collect(),
                Stage::Coalesce => self.coalesce(sets),
            };
            if sets.is_empty() {
                break;
            }
        }
        Ok(sets)
    }

    fn scalar_filter(&self, f: &'a ScalarFilter, mut set: SpanSet) -> Option<SpanSet> {
        let mut aggregates = Vec::new();
        let l = self.scalar(&f.lhs, &set, &mut aggregates);
        let r = self.scalar(&f.rhs, &set, &mut aggregates);
        if !self.compare(f.op, &l, &r) {
            return None;
        }
        merge_attrs(&mut set.attributes, &aggregates);
        Some(set)
    }

    fn scalar(&self, e: &'a ScalarExpr, set: &SpanSet, aggregates: &mut Vec<(String, Value)>) -> V<'a> {
        match e {
            ScalarExpr::Static(s) => from_static(s),
            ScalarExpr::Neg(x) => negate(self.scalar(x, set, aggregates)),
            ScalarExpr::Binary { op, lhs, rhs } => {
                let l = self.scalar(lhs, set, aggregates);
                let r = self.scalar(rhs, set, aggregates);
                arith(*op, &l, &r)
            }
            ScalarExpr::Aggregate(a) => {
                let v = self.aggregate(a, set);
                aggregates.push((a.to_string(), v.to_value()));
                v
            }
        }
    }

    fn aggregate(&self, a: &'a Aggregate, set: &SpanSet) -> V<'a> {
        let Some(arg) = &a.arg else { return V::Int(set.spans.len() as i64) };
        let values: Vec<V<'a>> = set
            .spans
            .iter()
            .map(|m| self.span_value(arg, m.index))
            .filter(|v| matches!(v, V::Int(_) | V::Float(_) | V::Duration(_)))
            .collect();
        if values.is_empty() {
            return V::Nil;
        }
        let duration = values.iter().any(|v| matches!(v, V::Duration(_)));
        let float = values.iter().any(|v| matches!(v, V::Float(_)));
        let total: f64 = values.iter().filter_map(as_f64).sum();
        match a.op {
            AggregateOp::Min | AggregateOp::Max => {
                let mut best = values[0].clone();
                for v in &values[1..] {
                    let better = match order(v, &best) {
                        Some(Ordering::Less) => a.op == AggregateOp::Min,
                        Some(Ordering::Greater) => a.op == AggregateOp::Max,
                        _ => false,
                    };
                    if better {
                        best = v.clone();
                    }
                }
                best
            }
            AggregateOp::Sum if !float => {
                let sum = values.iter().fold(0i64, |acc, v| match v {
                    V::Int(n) | V::Duration(n) => acc.wrapping_add(*n),
                    _ => acc,
                });
                if duration { V::Duration(sum) } else { V::Int(sum) }
            }
            AggregateOp::Sum => float_result(total, duration),
            _ => float_result(total / values.len() as f64, duration),
        }
    }

    fn group(&self, e: &'a Expr, set: &SpanSet) -> Vec<SpanSet> {
        let name = format!("by({e})");
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<SpanSet> = Vec::new();
        for m in &set.spans {
            let v = self.span_value(e, m.index).to_value();
            let key = format!("{v:?}");
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    let mut attributes = set.attributes.clone();
                    attributes.retain(|(k, _)| *k != name);
                    attributes.push((name.clone(), v));
                    groups.push(SpanSet { spans: Vec::new(), attributes });
                    index.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[g].spans.push(m.clone());
        }
        groups
    }

    fn select(&self, fields: &'a [Expr], mut set: SpanSet) -> SpanSet {
        for m in &mut set.spans {
            for f in fields {
                let v = self.span_value(f, m.index);
                let key = field_name(f);
                if !v.is_nil() && !m.attributes.iter().any(|(k, _)| *k == key) {
                    m.attributes.push((key, v.to_value()));
                }
            }
        }
        set
    }

    fn coalesce(&self, sets: Vec<SpanSet>) -> Vec<SpanSet> {
        let mut all: Vec<MatchedSpan> = sets.into_iter().flat_map(|s| s.spans).collect();
        all.sort_by_key(|m| m.index);
        let mut spans: Vec<MatchedSpan> = Vec::with_capacity(all.len());
        for m in all {
            match spans.last_mut() {
                Some(last) if last.index == m.index => merge_attrs(&mut last.attributes, &m.attributes),
                _ => spans.push(m),
            }
        }
        if spans.is_empty() {
            return Vec::new();
        }
        vec![SpanSet { spans, attributes: Vec::new() }]
    }
}
