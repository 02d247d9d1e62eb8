//! Conditions a store can use to skip traces without evaluating the query.

use crate::ast::*;

/// `field op value`, e.g. `resource.service.name = "frontend"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// An [`Expr::Attribute`] or an [`Expr::Intrinsic`].
    pub field: Expr,
    /// A comparison operator (`=`, `!=`, `<`, ..., `=~`, `!~`).
    pub op: BinaryOp,
    /// Never `nil`.
    pub value: Static,
}

/// Conditions that any trace the query matches satisfies, each on at least one of its spans
/// (with this crate's semantics: unscoped attributes look at the span, then the resource;
/// array attributes match `=` when an element does). An empty list means "no pruning".
///
/// Only the first stage of the pipeline is looked at; later stages can only drop spans.
pub fn conditions(q: &Query) -> Vec<Condition> {
    let mut out = Vec::new();
    pipeline_conditions(&q.pipeline, &mut out);
    out
}

fn pipeline_conditions(p: &Pipeline, out: &mut Vec<Condition>) {
    if let Some(Stage::Spanset(e)) = p.stages.first() {
        spanset_conditions(e, out);
    }
}

fn spanset_conditions(e: &SpansetExpr, out: &mut Vec<Condition>) {
    match e {
        SpansetExpr::Filter(Some(body)) => conjuncts(body, out),
        SpansetExpr::Filter(None) => {}
        SpansetExpr::Pipeline(p) => pipeline_conditions(p, out),
        SpansetExpr::Binary { op: SpansetOp::Or, .. } => {}
        SpansetExpr::Binary { op, lhs, rhs } => {
            let negated = matches!(
                op,
                SpansetOp::NotChild
                    | SpansetOp::NotParent
                    | SpansetOp::NotDescendant
                    | SpansetOp::NotAncestor
                    | SpansetOp::NotSibling
            );
            if !negated {
                spanset_conditions(lhs, out);
            }
            spanset_conditions(rhs, out);
        }
    }
}

fn conjuncts(e: &Expr, out: &mut Vec<Condition>) {
    match e {
        Expr::Binary { op: BinaryOp::And, lhs, rhs } => {
            conjuncts(lhs, out);
            conjuncts(rhs, out);
        }
        Expr::Attribute(a) if !a.parent => {
            out.push(Condition { field: e.clone(), op: BinaryOp::Eq, value: Static::Bool(true) })
        }
        Expr::Binary { op, lhs, rhs } if op.is_comparison() => match (lhs.as_ref(), rhs.as_ref()) {
            (f, Expr::Static(v)) if plain(f) && *v != Static::Nil => {
                out.push(Condition { field: f.clone(), op: *op, value: v.clone() });
            }
            (Expr::Static(v), f)
                if plain(f) && *v != Static::Nil && !matches!(op, BinaryOp::Regex | BinaryOp::NotRegex) =>
            {
                out.push(Condition { field: f.clone(), op: op.flipped(), value: v.clone() });
            }
            _ => {}
        },
        _ => {}
    }
}

/// An intrinsic or an attribute of the span itself (not of its parent).
fn plain(f: &Expr) -> bool {
    match f {
        Expr::Attribute(a) => !a.parent,
        Expr::Intrinsic(_) => true,
        _ => false,
    }
}
