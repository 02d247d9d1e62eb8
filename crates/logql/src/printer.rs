//! `Display` for the AST. The output re-parses to the same tree (used by `format_query`).

use crate::ast::*;
use crate::units::format_go_duration;
use seer_model::{Matcher, escape_label_value as escape, format_duration_ms};
use std::fmt::{self, Display, Formatter, Write};

fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// A number as LogQL source. LogQL has no NaN or infinity literals, but folding constant
/// operands can produce them (`0/0`): print forms that parse back to the same value.
fn number(v: f64) -> String {
    if v.is_nan() {
        "(0/0)".into()
    } else if v == f64::INFINITY {
        "1e999".into()
    } else if v == f64::NEG_INFINITY {
        "-1e999".into()
    } else {
        seer_model::go_format_g(v)
    }
}

fn matcher(m: &Matcher) -> String {
    format!("{}{}{}", m.name, m.kind.as_str(), quote(&m.value))
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(l) => l.fmt(f),
            Expr::Metric(m) => m.fmt(f),
        }
    }
}

impl Display for LogExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('{')?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&matcher(m))?;
        }
        f.write_char('}')?;
        for s in &self.pipeline {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}

fn params(f: &mut Formatter<'_>, ps: &[ExtractParam]) -> fmt::Result {
    for (i, p) in ps.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        write!(f, "{}={}", p.name, quote(&p.expr))?;
    }
    Ok(())
}

fn drop_keep(f: &mut Formatter<'_>, items: &[DropKeepItem]) -> fmt::Result {
    for (i, it) in items.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        match it {
            DropKeepItem::Name(n) => f.write_str(n)?,
            DropKeepItem::Matcher(m) => f.write_str(&matcher(m))?,
        }
    }
    Ok(())
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::LineFilter(lf) => lf.fmt(f),
            Stage::Json(ps) => {
                f.write_str("| json")?;
                params(f, ps)
            }
            Stage::Logfmt { strict, keep_empty, params: ps } => {
                f.write_str("| logfmt")?;
                if *strict {
                    f.write_str(" --strict")?;
                }
                if *keep_empty {
                    f.write_str(" --keep-empty")?;
                }
                params(f, ps)
            }
            Stage::Regexp(r) => write!(f, "| regexp {}", quote(r)),
            Stage::Pattern(p) => write!(f, "| pattern {}", quote(p)),
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(e) => write!(f, "| {e}"),
            Stage::LineFormat(t) => write!(f, "| line_format {}", quote(t)),
            Stage::LabelFormat(items) => {
                f.write_str("| label_format")?;
                for (i, it) in items.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    match it {
                        LabelFmt::Rename { dst, src } => write!(f, "{dst}={src}")?,
                        LabelFmt::Template { dst, tmpl } => write!(f, "{dst}={}", quote(tmpl))?,
                    }
                }
                Ok(())
            }
            Stage::Drop(items) => {
                f.write_str("| drop")?;
                drop_keep(f, items)
            }
            Stage::Keep(items) => {
                f.write_str("| keep")?;
                drop_keep(f, items)
            }
            Stage::Decolorize => f.write_str("| decolorize"),
        }
    }
}

impl Display for LineFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        for (i, v) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(" or")?;
            }
            match v {
                FilterValue::Str(s) => write!(f, " {}", quote(s))?,
                FilterValue::Ip(s) => write!(f, " ip({})", quote(s))?,
            }
        }
        Ok(())
    }
}

impl Display for LabelFilterExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LabelFilterExpr::Pred(p) => p.fmt(f),
            LabelFilterExpr::Or(a, b) => {
                a.fmt(f)?;
                f.write_str(" or ")?;
                // `or` is left-associative: a right-hand `or` needs parentheses.
                if matches!(**b, LabelFilterExpr::Or(_, _)) { write!(f, "({b})") } else { b.fmt(f) }
            }
            LabelFilterExpr::And(a, b) => {
                for (i, side) in [a, b].into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    let paren = match **side {
                        LabelFilterExpr::Or(_, _) => true,
                        LabelFilterExpr::And(_, _) => i == 1,
                        LabelFilterExpr::Pred(_) => false,
                    };
                    if paren {
                        write!(f, "({side})")?;
                    } else {
                        side.fmt(f)?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Display for LabelPredicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LabelPredicate::String(m) => f.write_str(&matcher(m)),
            LabelPredicate::Number { name, op, value } => write!(f, "{name}{}{}", op.as_str(), number(*value)),
            LabelPredicate::Duration { name, op, nanos } => {
                write!(f, "{name}{}{}", op.as_str(), format_go_duration(*nanos))
            }
            LabelPredicate::Bytes { name, op, bytes } => write!(f, "{name}{}{bytes}B", op.as_str()),
            LabelPredicate::Ip { name, negated, pattern } => {
                write!(f, "{name}{}ip({})", if *negated { "!=" } else { "=" }, quote(pattern))
            }
        }
    }
}

impl Display for Unwrap {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.conv {
            UnwrapConv::Float => write!(f, "| unwrap {}", self.label)?,
            UnwrapConv::Duration => write!(f, "| unwrap duration({})", self.label)?,
            UnwrapConv::DurationSeconds => write!(f, "| unwrap duration_seconds({})", self.label)?,
            UnwrapConv::Bytes => write!(f, "| unwrap bytes({})", self.label)?,
        }
        for p in &self.post_filters {
            write!(f, " | {p}")?;
        }
        Ok(())
    }
}

impl Display for Grouping {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", if self.without { "without" } else { "by" }, self.labels.join(", "))
    }
}

impl Display for MetricExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricExpr::Literal(v) => f.write_str(&number(*v)),
            MetricExpr::Vector(v) => write!(f, "vector({})", number(*v)),
            MetricExpr::RangeAgg(r) => {
                write!(f, "{}(", r.op.as_str())?;
                if let Some(p) = r.param {
                    write!(f, "{}, ", number(p))?;
                }
                r.inner.fmt(f)?;
                if let Some(u) = &r.unwrap {
                    write!(f, " {u}")?;
                }
                write!(f, " [{}]", format_duration_ms(r.range_ms))?;
                if r.offset_ms != 0 {
                    write!(f, " offset {}", format_duration_ms(r.offset_ms))?;
                }
                f.write_char(')')?;
                if let Some(g) = &r.grouping {
                    write!(f, " {g}")?;
                }
                Ok(())
            }
            MetricExpr::VectorAgg(v) => {
                f.write_str(v.op.as_str())?;
                if let Some(g) = &v.grouping {
                    write!(f, " {g} ")?;
                }
                f.write_char('(')?;
                if let Some(p) = v.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", v.inner)
            }
            MetricExpr::LabelReplace(l) => write!(
                f,
                "label_replace({}, {}, {}, {}, {})",
                l.inner,
                quote(&l.dst),
                quote(&l.replacement),
                quote(&l.src),
                quote(&l.regex)
            ),
            MetricExpr::BinOp(b) => {
                let prec = b.op.precedence();
                let right_assoc = b.op == BinOpKind::Pow;
                let side = |e: &MetricExpr, left: bool| -> String {
                    let paren = match e {
                        MetricExpr::BinOp(c) => {
                            let cp = c.op.precedence();
                            cp < prec || (cp == prec && (left == right_assoc))
                        }
                        MetricExpr::Literal(v) => !left && *v < 0.0,
                        _ => false,
                    };
                    if paren { format!("({e})") } else { e.to_string() }
                };
                write!(f, "{} {}", side(&b.lhs, true), b.op.as_str())?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &b.matching {
                    write!(f, " {} ({})", if m.on { "on" } else { "ignoring" }, m.labels.join(", "))?;
                    if let Some(g) = &m.group {
                        write!(f, " {} ({})", if g.left { "group_left" } else { "group_right" }, g.include.join(", "))?;
                    }
                }
                write!(f, " {}", side(&b.rhs, false))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse_syntax;

    fn round(q: &str) -> String {
        let e = parse_syntax(q).unwrap();
        let s = e.to_string();
        let e2 = parse_syntax(&s).unwrap_or_else(|err| panic!("{s}: {err}"));
        assert_eq!(e, e2, "{q} -> {s}");
        s
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(round(r#"{foo=   "bar"}"#), r#"{foo="bar"}"#);
        assert_eq!(
            round(r#"{a="b"} |= "x" or ip("1.2.3.4") | logfmt --strict a, b="c""#),
            r#"{a="b"} |= "x" or ip("1.2.3.4") | logfmt --strict a="a", b="c""#
        );
        assert_eq!(
            round(r#"{a="b"} | x > 1.5s and (y = "1" or z < 2KB)"#),
            r#"{a="b"} | x>1.5s and (y="1" or z<2000B)"#
        );
        assert_eq!(
            round(r#"sum by (a) (rate({a="b"}[1h30m] offset 5m))"#),
            r#"sum by (a) (rate({a="b"} [1h30m] offset 5m))"#
        );
        round(r#"(vector(1) + vector(2)) * vector(3)"#);
        round(r#"vector(1) - (vector(2) - vector(3))"#);
        round(r#"(vector(1) ^ vector(2)) ^ vector(3)"#);
        round(r#"vector(1) - -1"#);
        round(r#"quantile_over_time(0.99, {a="b"} | json | unwrap bytes(x) | __error__="" [1m]) by (p)"#);
        round(r#"topk(3, sum without (x) (count_over_time({a="b"}[1m]))) > bool on (a) group_left () vector(1)"#);
        round(r#"{a="b"} | label_format x=y, z="{{.a}}" | drop a, b=~"c" | keep d | decolorize | unpack"#);
        round(r#"{a="b"} | x="1" or y="2" or z="3" | u="1" and (v="2" and w="3")"#);
    }
}
