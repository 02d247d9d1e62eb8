//! Semantic checks Tempo makes after parsing: operand types, boolean filter bodies, regexes,
//! aggregates that reference span fields, metrics arguments.

use crate::ValidateError;
use crate::ast::*;

/// The static type of an expression. `Unknown` is the type of a custom attribute, which is
/// only known per span, so it matches every other type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Nil,
    Bool,
    Int,
    Float,
    Str,
    Duration,
    Status,
    Kind,
    Unknown,
}

fn is_numeric(t: Type) -> bool {
    matches!(t, Type::Int | Type::Float | Type::Duration)
}

fn numeric_or_unknown(t: Type) -> bool {
    is_numeric(t) || t == Type::Unknown
}

fn static_type(s: &Static) -> Type {
    match s {
        Static::Nil => Type::Nil,
        Static::Bool(_) => Type::Bool,
        Static::Int(_) => Type::Int,
        Static::Float(_) => Type::Float,
        Static::Str(_) => Type::Str,
        Static::Duration(_) => Type::Duration,
        Static::Status(_) => Type::Status,
        Static::Kind(_) => Type::Kind,
    }
}

/// The type of an intrinsic.
pub fn intrinsic_type(i: Intrinsic) -> Type {
    match i {
        Intrinsic::Status => Type::Status,
        Intrinsic::Kind => Type::Kind,
        Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart => Type::Duration,
        Intrinsic::ChildCount | Intrinsic::NestedSetLeft | Intrinsic::NestedSetRight | Intrinsic::NestedSetParent => {
            Type::Int
        }
        _ => Type::Str,
    }
}

/// The type numeric arithmetic yields.
fn arithmetic_type(a: Type, b: Type) -> Type {
    if a == Type::Duration || b == Type::Duration {
        Type::Duration
    } else if a == Type::Float || b == Type::Float {
        Type::Float
    } else if a == Type::Int || b == Type::Int {
        Type::Int
    } else {
        Type::Unknown
    }
}

fn is_nested_set(e: &Expr) -> bool {
    matches!(e, Expr::Intrinsic(Intrinsic::NestedSetLeft | Intrinsic::NestedSetRight | Intrinsic::NestedSetParent))
}

/// Whether an expression reads anything from the span (an attribute or an intrinsic).
pub fn references_span(e: &Expr) -> bool {
    match e {
        Expr::Static(_) => false,
        Expr::Attribute(_) | Expr::Intrinsic(_) => true,
        Expr::Unary { expr, .. } => references_span(expr),
        Expr::Binary { lhs, rhs, .. } => references_span(lhs) || references_span(rhs),
    }
}

/// Type-checks a field expression and returns its type.
pub fn expr_type(e: &Expr) -> Result<Type, String> {
    match e {
        Expr::Static(s) => Ok(static_type(s)),
        Expr::Attribute(_) => Ok(Type::Unknown),
        Expr::Intrinsic(i) => Ok(intrinsic_type(*i)),
        Expr::Unary { op: UnaryOp::Neg, expr } => {
            let t = expr_type(expr)?;
            if numeric_or_unknown(t) { Ok(t) } else { Err(format!("unary - requires a number: {e}")) }
        }
        Expr::Unary { op: UnaryOp::Not, expr } => {
            let t = expr_type(expr)?;
            if matches!(t, Type::Bool | Type::Unknown) {
                Ok(Type::Bool)
            } else {
                Err(format!("unary ! requires a boolean: {e}"))
            }
        }
        Expr::Binary { op, lhs, rhs } => {
            let (l, r) = (expr_type(lhs)?, expr_type(rhs)?);
            binary_type(*op, l, r, e, lhs, rhs)
        }
    }
}

fn binary_type(op: BinaryOp, l: Type, r: Type, e: &Expr, lhs: &Expr, rhs: &Expr) -> Result<Type, String> {
    if op.is_logical() {
        if matches!(l, Type::Bool | Type::Unknown) && matches!(r, Type::Bool | Type::Unknown) {
            return Ok(Type::Bool);
        }
        return Err(format!("{} requires boolean operands: {e}", op.as_str()));
    }
    if op.is_arithmetic() {
        if numeric_or_unknown(l) && numeric_or_unknown(r) {
            return Ok(arithmetic_type(l, r));
        }
        return Err(format!("arithmetic requires numeric operands: {e}"));
    }
    // Comparisons.
    if l == Type::Nil || r == Type::Nil {
        if matches!(op, BinaryOp::Eq | BinaryOp::Neq) {
            return Ok(Type::Bool);
        }
        return Err(format!("nil can only be compared with = or !=: {e}"));
    }
    let compatible = l == Type::Unknown || r == Type::Unknown || l == r || (is_numeric(l) && is_numeric(r));
    if !compatible {
        return Err(format!("binary operations must operate on the same type: {e}"));
    }
    for (field, other) in [(lhs, r), (rhs, l)] {
        if is_nested_set(field) && !matches!(other, Type::Int | Type::Unknown) {
            return Err(format!("nested set intrinsics can only be compared with integers: {e}"));
        }
    }
    match op {
        BinaryOp::Regex | BinaryOp::NotRegex => {
            if !matches!(l, Type::Str | Type::Unknown) || !matches!(r, Type::Str | Type::Unknown) {
                return Err(format!("regular expressions require strings: {e}"));
            }
            if let Expr::Static(Static::Str(p)) = rhs
                && let Err(err) = crate::compile_regex(p)
            {
                return Err(format!("invalid regular expression {p:?}: {err}"));
            }
        }
        BinaryOp::Gt | BinaryOp::Gte | BinaryOp::Lt | BinaryOp::Lte => {
            let orderable = |t: Type| is_numeric(t) || matches!(t, Type::Str | Type::Unknown);
            if !orderable(l) || !orderable(r) {
                return Err(format!("{} requires numbers or strings: {e}", op.as_str()));
            }
        }
        _ => {}
    }
    Ok(Type::Bool)
}

/// Checks a `{ ... }` body: it must type-check and be boolean (or a custom attribute, which
/// is compared with `true`).
fn validate_filter(e: &Option<Expr>) -> Result<(), String> {
    let Some(e) = e else { return Ok(()) };
    match expr_type(e)? {
        Type::Bool | Type::Unknown => Ok(()),
        _ => Err(format!("filter expression must be a boolean: {{ {e} }}")),
    }
}

fn validate_aggregate(a: &Aggregate) -> Result<Type, String> {
    let Some(arg) = &a.arg else { return Ok(Type::Int) };
    let t = expr_type(arg)?;
    if !numeric_or_unknown(t) {
        return Err(format!("{a} requires a numeric field"));
    }
    if !references_span(arg) {
        return Err(format!("{a} must reference a span field"));
    }
    Ok(t)
}

fn scalar_type(e: &ScalarExpr) -> Result<Type, String> {
    match e {
        ScalarExpr::Static(s) => {
            let t = static_type(s);
            if is_numeric(t) { Ok(t) } else { Err(format!("scalar expressions must be numeric: {e}")) }
        }
        ScalarExpr::Aggregate(a) => validate_aggregate(a),
        ScalarExpr::Neg(x) => scalar_type(x),
        ScalarExpr::Binary { lhs, rhs, .. } => Ok(arithmetic_type(scalar_type(lhs)?, scalar_type(rhs)?)),
    }
}

fn validate_spanset(e: &SpansetExpr) -> Result<(), String> {
    match e {
        SpansetExpr::Filter(f) => validate_filter(f),
        SpansetExpr::Binary { lhs, rhs, .. } => {
            validate_spanset(lhs)?;
            validate_spanset(rhs)
        }
        SpansetExpr::Pipeline(p) => validate_pipeline(p),
    }
}

fn validate_field(e: &Expr) -> Result<(), String> {
    match e {
        Expr::Attribute(_) | Expr::Intrinsic(_) => Ok(()),
        other => Err(format!("expected an attribute or intrinsic, got {other}")),
    }
}

fn validate_pipeline(p: &Pipeline) -> Result<(), String> {
    if p.stages.is_empty() {
        return Err("empty pipeline".to_string());
    }
    if p.stages[0] == Stage::Coalesce {
        return Err("a pipeline cannot start with coalesce()".to_string());
    }
    for s in &p.stages {
        match s {
            Stage::Spanset(e) => validate_spanset(e)?,
            Stage::ScalarFilter(f) => {
                if !matches!(
                    f.op,
                    BinaryOp::Eq | BinaryOp::Neq | BinaryOp::Gt | BinaryOp::Gte | BinaryOp::Lt | BinaryOp::Lte
                ) {
                    return Err(format!("scalar filters compare with = != < <= > >=: {f}"));
                }
                scalar_type(&f.lhs)?;
                scalar_type(&f.rhs)?;
            }
            Stage::By(e) => {
                expr_type(e)?;
                if !references_span(e) {
                    return Err(format!("by({e}) must reference a span field"));
                }
            }
            Stage::Select(fields) => {
                if fields.is_empty() {
                    return Err("select() needs at least one field".to_string());
                }
                for f in fields {
                    validate_field(f)?;
                }
            }
            Stage::Coalesce => {}
        }
    }
    Ok(())
}

fn validate_metrics(m: &Metrics) -> Result<(), String> {
    let numeric_field = |e: &Expr, name: &str| -> Result<(), String> {
        validate_field(e)?;
        if numeric_or_unknown(expr_type(e)?) {
            Ok(())
        } else {
            Err(format!("{name}() requires a numeric field, got {e}"))
        }
    };
    match &m.func {
        MetricsFunc::Rate | MetricsFunc::CountOverTime => {}
        MetricsFunc::MinOverTime(e) => numeric_field(e, "min_over_time")?,
        MetricsFunc::MaxOverTime(e) => numeric_field(e, "max_over_time")?,
        MetricsFunc::AvgOverTime(e) => numeric_field(e, "avg_over_time")?,
        MetricsFunc::SumOverTime(e) => numeric_field(e, "sum_over_time")?,
        MetricsFunc::HistogramOverTime(e) => numeric_field(e, "histogram_over_time")?,
        MetricsFunc::QuantileOverTime(e, qs) => {
            numeric_field(e, "quantile_over_time")?;
            if qs.is_empty() {
                return Err("quantile_over_time() needs at least one quantile".to_string());
            }
            if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                return Err(format!("quantile {q} is not between 0 and 1"));
            }
        }
        MetricsFunc::Compare { filter, top_n, start_end } => {
            validate_filter(filter)?;
            if top_n.is_some_and(|n| n <= 0) {
                return Err("compare() topN must be positive".to_string());
            }
            if let Some((s, e)) = start_end
                && (*s < 0 || e < s)
            {
                return Err("compare() needs 0 <= start <= end".to_string());
            }
        }
    }
    for f in &m.by {
        validate_field(f)?;
    }
    if let Some((op, v)) = &m.filter {
        if !matches!(op, BinaryOp::Eq | BinaryOp::Neq | BinaryOp::Gt | BinaryOp::Gte | BinaryOp::Lt | BinaryOp::Lte) {
            return Err(format!("metrics filters compare with = != < <= > >=, got {}", op.as_str()));
        }
        if !is_numeric(static_type(v)) {
            return Err(format!("metrics filters compare with a number, got {v}"));
        }
    }
    match m.second_stage {
        Some(SecondStage::TopK(n) | SecondStage::BottomK(n)) if n <= 0 => {
            Err("topk() and bottomk() need a positive count".to_string())
        }
        _ => Ok(()),
    }
}

/// Checks a parsed query the way Tempo does before running it.
pub fn validate(q: &Query) -> Result<(), ValidateError> {
    validate_pipeline(&q.pipeline).map_err(ValidateError)?;
    if let Some(m) = &q.metrics {
        validate_metrics(m).map_err(ValidateError)?;
    }
    for h in &q.hints {
        match (h.name.as_str(), &h.value) {
            ("most_recent", v) if !matches!(v, Static::Bool(_)) => {
                return Err(ValidateError(format!("hint most_recent must be true or false, got {v}")));
            }
            ("sample", Static::Float(x)) if !(*x > 0.0 && *x <= 1.0) => {
                return Err(ValidateError(format!("hint sample must be in (0, 1], got {x}")));
            }
            _ => {}
        }
    }
    Ok(())
}
