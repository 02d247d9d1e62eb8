//! Prints an expression back as PromQL text (Prometheus' `String()` form).

use super::ast::*;
use seer_model::{METRIC_NAME, MatchKind};
use std::fmt::Write;

/// A duration as Prometheus prints it.
pub fn format_duration_ms(ms: i64) -> String {
    seer_model::format_duration_ms(ms)
}

fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..21).contains(&exp) {
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    format!("{v}")
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_legacy_label(s: &str) -> bool {
    seer_model::is_valid_legacy_label_name(s)
}

fn label_name(s: &str) -> String {
    if is_legacy_label(s) { s.to_string() } else { quote(s) }
}

/// The text of a duration (literal or expression).
pub fn print_duration(d: &Duration) -> String {
    duration(d)
}

fn duration(d: &Duration) -> String {
    match d.literal_ms {
        Some(ms) => format_duration_ms(ms),
        None => dexpr(&d.expr, 0),
    }
}

fn dexpr(e: &DurationExpr, parent_prec: u8) -> String {
    match e {
        DurationExpr::Number(s) => {
            let ms = s * 1000.0;
            if ms.fract() == 0.0 && ms.abs() < 1e15 { format_duration_ms(ms as i64) } else { go_float(*s) }
        }
        DurationExpr::Step => "step()".into(),
        DurationExpr::Range => "range()".into(),
        DurationExpr::MinOf(a, b) => format!("min_of({}, {})", dexpr(a, 0), dexpr(b, 0)),
        DurationExpr::MaxOf(a, b) => format!("max_of({}, {})", dexpr(a, 0), dexpr(b, 0)),
        DurationExpr::Neg(a) => format!("-{}", dexpr(a, 7)),
        DurationExpr::Binary(op, a, b) => {
            let p = op.precedence();
            let s = format!("{} {} {}", dexpr(a, p), op.as_str(), dexpr(b, p + 1));
            if p < parent_prec { format!("({s})") } else { s }
        }
    }
}

fn modifiers(offset: &Option<Duration>, at: &Option<At>, out: &mut String) {
    match at {
        Some(At::Time(ms)) => {
            let _ = write!(out, " @ {:.3}", *ms as f64 / 1000.0);
        }
        Some(At::Start) => out.push_str(" @ start()"),
        Some(At::End) => out.push_str(" @ end()"),
        None => {}
    }
    if let Some(o) = offset {
        // An offset takes a single duration term: wrap arithmetic in parentheses.
        let text = duration(o);
        let wrap = o.literal_ms.is_none()
            && match &o.expr {
                DurationExpr::Binary(..) => true,
                DurationExpr::Neg(inner) => matches!(**inner, DurationExpr::Binary(..)),
                _ => false,
            };
        if wrap && !matches!(o.expr, DurationExpr::Neg(_)) {
            let _ = write!(out, " offset ({text})");
        } else {
            let _ = write!(out, " offset {text}");
        }
    }
}

fn selector(vs: &VectorSelector, range: Option<&Duration>) -> String {
    let mut out = String::new();
    let name =
        vs.matchers.iter().find(|m| m.name == METRIC_NAME && m.kind == MatchKind::Equal).map(|m| m.value.clone());
    let legacy_name = name.as_deref().is_some_and(seer_model::is_valid_legacy_metric_name);
    let mut rest: Vec<String> = Vec::new();
    if let Some(n) = &name {
        if legacy_name {
            out.push_str(n);
        } else {
            rest.push(quote(n));
        }
    }
    for m in &vs.matchers {
        if m.name == METRIC_NAME && m.kind == MatchKind::Equal && name.as_deref() == Some(m.value.as_str()) {
            continue;
        }
        rest.push(format!("{}{}{}", label_name(&m.name), m.kind.as_str(), quote(&m.value)));
    }
    if !rest.is_empty() || name.is_none() {
        let _ = write!(out, "{{{}}}", rest.join(", "));
    }
    if let Some(r) = range {
        let _ = write!(out, "[{}]", duration(r));
    }
    match vs.ext {
        Extension::Anchored => out.push_str(" anchored"),
        Extension::Smoothed => out.push_str(" smoothed"),
        Extension::None => {}
    }
    modifiers(&vs.offset, &vs.at, &mut out);
    out
}

/// The canonical text of `e`.
pub fn print(e: &Expr) -> String {
    match e {
        Expr::Number { value, duration_ms, .. } => match duration_ms {
            Some(ms) => format_duration_ms(*ms),
            None => go_float(*value),
        },
        Expr::String { value, .. } => match std::str::from_utf8(value) {
            Ok(v) => quote(v),
            Err(_) => crate::functions::go_quote(value),
        },
        Expr::Selector(vs) => selector(vs, None),
        Expr::Matrix { selector: vs, range, .. } => selector(vs, Some(range)),
        Expr::Subquery { expr, range, step, offset, at, .. } => {
            let mut out =
                format!("{}[{}:{}]", print(expr), duration(range), step.as_ref().map(duration).unwrap_or_default());
            modifiers(offset, at, &mut out);
            out
        }
        Expr::Paren { expr, .. } => format!("({})", print(expr)),
        Expr::Unary { neg, expr, .. } => format!("{}{}", if *neg { "-" } else { "+" }, print(expr)),
        Expr::Binary { op, lhs, rhs, return_bool, matching, .. } => {
            let mut m = String::new();
            if *return_bool {
                m.push_str(" bool");
            }
            if let Some(vm) = matching {
                if vm.explicit && (vm.on || !vm.labels.is_empty()) {
                    let _ = write!(
                        m,
                        " {}({})",
                        if vm.on { "on" } else { "ignoring" },
                        vm.labels.iter().map(|l| label_name(l)).collect::<Vec<_>>().join(", ")
                    );
                }
                match vm.card {
                    Card::ManyToOne => {
                        let _ = write!(
                            m,
                            " group_left({})",
                            vm.include.iter().map(|l| label_name(l)).collect::<Vec<_>>().join(", ")
                        );
                    }
                    Card::OneToMany => {
                        let _ = write!(
                            m,
                            " group_right({})",
                            vm.include.iter().map(|l| label_name(l)).collect::<Vec<_>>().join(", ")
                        );
                    }
                    _ => {}
                }
                match (vm.fill_left, vm.fill_right) {
                    (Some(a), Some(b)) if a.to_bits() == b.to_bits() => {
                        let _ = write!(m, " fill({})", go_float(a));
                    }
                    (l, r) => {
                        if let Some(a) = l {
                            let _ = write!(m, " fill_left({})", go_float(a));
                        }
                        if let Some(b) = r {
                            let _ = write!(m, " fill_right({})", go_float(b));
                        }
                    }
                }
            }
            format!("{} {}{} {}", print(lhs), op.as_str(), m, print(rhs))
        }
        Expr::Aggregate { op, expr, param, grouping, without, has_grouping, .. } => {
            let mut out = op.as_str().to_string();
            if *has_grouping && (*without || !grouping.is_empty()) {
                let _ = write!(
                    out,
                    " {} ({})",
                    if *without { "without" } else { "by" },
                    grouping.iter().map(|l| label_name(l)).collect::<Vec<_>>().join(", ")
                );
                out.push(' ');
            }
            match param {
                Some(p) => {
                    let _ = write!(out, "({}, {})", print(p), print(expr));
                }
                None => {
                    let _ = write!(out, "({})", print(expr));
                }
            }
            out
        }
        Expr::Call { func, args, .. } => {
            format!("{}({})", func.name, args.iter().map(print).collect::<Vec<_>>().join(", "))
        }
    }
}
