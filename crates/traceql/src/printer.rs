//! `Display` for the syntax tree: canonical TraceQL text that parses back to the same tree.
//! Parentheses are written only where precedence needs them.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;

/// Formats nanoseconds with the largest unit that divides them (`1500us`, `2s`, `1h`).
pub fn format_duration(ns: i64) -> String {
    let (sign, abs) = if ns < 0 { ("-", ns.unsigned_abs()) } else { ("", ns as u64) };
    const UNITS: [(u64, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if abs == 0 {
        return "0s".to_string();
    }
    for (size, unit) in UNITS {
        if abs % size == 0 {
            return format!("{sign}{}{unit}", abs / size);
        }
    }
    format!("{sign}{abs}ns")
}

/// A double-quoted string literal with Go-style escapes.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters allowed in an unquoted attribute name.
pub fn is_attr_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(c, '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ',' | '"')
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.parent {
            f.write_str("parent.")?;
            if self.scope != AttrScope::Unscoped {
                f.write_str(self.scope.prefix())?;
            }
        } else {
            f.write_str(self.scope.prefix())?;
        }
        let ambiguous = self.parent
            && self.scope == AttrScope::Unscoped
            && (self.name.starts_with("span.") || self.name.starts_with("resource."));
        let bare = !self.name.is_empty()
            && self.name.chars().all(is_attr_char)
            && !self.name.starts_with(|c: char| c.is_ascii_digit())
            && !ambiguous;
        if bare {
            return f.write_str(&self.name);
        }
        f.write_char('"')?;
        for c in self.name.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

impl Display for Static {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Static::Nil => f.write_str("nil"),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Int(i64::MIN) => f.write_str("minInt"),
            Static::Int(n) => write!(f, "{n}"),
            Static::Float(x) => write!(f, "{x:?}"),
            Static::Str(s) => f.write_str(&quote_string(s)),
            Static::Duration(d) => f.write_str(&format_duration(*d)),
            Static::Status(s) => f.write_str(s.traceql_name()),
            Static::Kind(k) => f.write_str(k.traceql_name()),
        }
    }
}

const PREC_UNARY: u8 = 5;
const PREC_PRIMARY: u8 = 7;

fn static_prec(s: &Static) -> u8 {
    let negative = match s {
        Static::Int(n) => *n < 0 && *n != i64::MIN,
        Static::Float(x) => x.is_sign_negative(),
        Static::Duration(d) => *d < 0,
        _ => false,
    };
    if negative { PREC_UNARY } else { PREC_PRIMARY }
}

fn expr_prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary { op, .. } => op.precedence(),
        Expr::Unary { .. } => PREC_UNARY,
        Expr::Static(s) => static_prec(s),
        _ => PREC_PRIMARY,
    }
}

/// Whether the operands of a binary operator of precedence `p` need parentheses.
fn needs_parens(op: BinaryOp, left: u8, right: u8) -> (bool, bool) {
    if op == BinaryOp::Pow {
        (left < PREC_PRIMARY, right < PREC_UNARY)
    } else {
        let p = op.precedence();
        (left < p, right <= p)
    }
}

fn write_maybe_parens(f: &mut Formatter<'_>, parens: bool, x: &dyn Display) -> fmt::Result {
    if parens { write!(f, "({x})") } else { write!(f, "{x}") }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Static(s) => s.fmt(f),
            Expr::Attribute(a) => a.fmt(f),
            Expr::Intrinsic(i) => f.write_str(i.as_str()),
            Expr::Unary { op, expr } => {
                f.write_str(if *op == UnaryOp::Neg { "-" } else { "!" })?;
                write_maybe_parens(f, expr_prec(expr) < PREC_UNARY, expr)
            }
            Expr::Binary { op, lhs, rhs } => {
                let (lp, rp) = needs_parens(*op, expr_prec(lhs), expr_prec(rhs));
                write_maybe_parens(f, lp, lhs)?;
                write!(f, " {} ", op.as_str())?;
                write_maybe_parens(f, rp, rhs)
            }
        }
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.arg {
            Some(a) => write!(f, "{}({a})", self.op.as_str()),
            None => write!(f, "{}()", self.op.as_str()),
        }
    }
}

fn scalar_prec(e: &ScalarExpr) -> u8 {
    match e {
        ScalarExpr::Binary { op, .. } => op.precedence(),
        ScalarExpr::Neg(_) => PREC_UNARY,
        ScalarExpr::Static(s) => static_prec(s),
        ScalarExpr::Aggregate(_) => PREC_PRIMARY,
    }
}

impl Display for ScalarExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Static(s) => s.fmt(f),
            ScalarExpr::Aggregate(a) => a.fmt(f),
            ScalarExpr::Neg(e) => {
                f.write_char('-')?;
                write_maybe_parens(f, scalar_prec(e) < PREC_UNARY, e)
            }
            ScalarExpr::Binary { op, lhs, rhs } => {
                let (lp, rp) = needs_parens(*op, scalar_prec(lhs), scalar_prec(rhs));
                write_maybe_parens(f, lp, lhs)?;
                write!(f, " {} ", op.as_str())?;
                write_maybe_parens(f, rp, rhs)
            }
        }
    }
}

impl Display for ScalarFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op.as_str(), self.rhs)
    }
}

fn spanset_prec(e: &SpansetExpr) -> u8 {
    match e {
        SpansetExpr::Binary { op, .. } if op.is_logical() => 1,
        SpansetExpr::Binary { .. } => 2,
        _ => 3,
    }
}

impl Display for SpansetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(None) => f.write_str("{ }"),
            SpansetExpr::Filter(Some(e)) => write!(f, "{{ {e} }}"),
            SpansetExpr::Pipeline(p) => write!(f, "({p})"),
            SpansetExpr::Binary { op, lhs, rhs } => {
                let p = spanset_prec(self);
                write_maybe_parens(f, spanset_prec(lhs) < p, lhs)?;
                write!(f, " {} ", op.as_str())?;
                write_maybe_parens(f, spanset_prec(rhs) <= p, rhs)
            }
        }
    }
}

fn write_list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Spanset(e) => e.fmt(f),
            Stage::ScalarFilter(s) => s.fmt(f),
            Stage::By(e) => write!(f, "by({e})"),
            Stage::Select(items) => {
                f.write_str("select(")?;
                write_list(f, items)?;
                f.write_char(')')
            }
            Stage::Coalesce => f.write_str("coalesce()"),
        }
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, s) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Display for MetricsFunc {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricsFunc::Rate => f.write_str("rate()"),
            MetricsFunc::CountOverTime => f.write_str("count_over_time()"),
            MetricsFunc::MinOverTime(e) => write!(f, "min_over_time({e})"),
            MetricsFunc::MaxOverTime(e) => write!(f, "max_over_time({e})"),
            MetricsFunc::AvgOverTime(e) => write!(f, "avg_over_time({e})"),
            MetricsFunc::SumOverTime(e) => write!(f, "sum_over_time({e})"),
            MetricsFunc::HistogramOverTime(e) => write!(f, "histogram_over_time({e})"),
            MetricsFunc::QuantileOverTime(e, qs) => {
                write!(f, "quantile_over_time({e}")?;
                for q in qs {
                    write!(f, ", {q:?}")?;
                }
                f.write_char(')')
            }
            MetricsFunc::Compare { filter, top_n, start_end } => {
                write!(f, "compare({}", SpansetExpr::Filter(filter.clone()))?;
                if let Some(n) = top_n {
                    write!(f, ", {n}")?;
                }
                if let Some((s, e)) = start_end {
                    write!(f, ", {s}, {e}")?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for Metrics {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.func)?;
        if !self.by.is_empty() {
            f.write_str(" by (")?;
            write_list(f, &self.by)?;
            f.write_char(')')?;
        }
        if let Some((op, v)) = &self.filter {
            write!(f, " {} {v}", op.as_str())?;
        }
        match self.second_stage {
            Some(SecondStage::TopK(n)) => write!(f, " | topk({n})"),
            Some(SecondStage::BottomK(n)) => write!(f, " | bottomk({n})"),
            None => Ok(()),
        }
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pipeline)?;
        if let Some(m) = &self.metrics {
            write!(f, " | {m}")?;
        }
        if !self.hints.is_empty() {
            f.write_str(" with (")?;
            for (i, h) in self.hints.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}={}", h.name, h.value)?;
            }
            f.write_char(')')?;
        }
        Ok(())
    }
}
