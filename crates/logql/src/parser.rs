//! Recursive-descent LogQL parser with Loki's error wording.
//!
//! Grammar notes: keywords are case-insensitive identifiers recognised by context; a stage
//! keyword (`json`, `drop`, ...) followed by a comparison operator is a label name instead.
//! Recursion is bounded by [`MAX_DEPTH`] so that fuzzed input cannot overflow the stack.

use crate::Error;
use crate::ast::*;
use crate::lexer::{Tok, Token, err_at, tokenize};
use crate::pipeline::Pipeline;
use seer_model::{MatchKind, Matcher};

/// Queries of this many bytes or more are rejected, as in Loki.
pub const MAX_QUERY_LEN: usize = 5120;
/// Maximum nesting of parentheses / sub-expressions.
pub const MAX_DEPTH: usize = 256;

const EMPTY_MATCHER_MSG: &str = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";

/// Parses a query and applies Loki's semantic checks, compiling every pipeline once so that
/// bad regexes and templates are reported here.
pub fn parse(input: &str) -> Result<Expr, Error> {
    let e = parse_syntax(input)?;
    validate(&e)?;
    Ok(e)
}

/// Parses the grammar only: no empty-matcher rule, no aggregation/unwrap/grouping checks,
/// no pipeline compilation. Parameter and literal errors are still reported.
pub fn parse_syntax(input: &str) -> Result<Expr, Error> {
    if input.len() >= MAX_QUERY_LEN {
        return Err(Error::Semantic(format!("input size too long ({} > {MAX_QUERY_LEN})", input.len())));
    }
    let toks = tokenize(input)?;
    let mut p = Parser { input, toks, i: 0, depth: 0 };
    let e = if p.starts_log_expr() {
        let l = p.parse_log_expr()?;
        Expr::Log(l)
    } else {
        Expr::Metric(p.parse_metric(0)?)
    };
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected());
    }
    Ok(e)
}

/// Loki's semantic checks on a parsed query, plus pipeline compilation.
pub fn validate(expr: &Expr) -> Result<(), Error> {
    match expr {
        Expr::Log(l) => validate_log(l, None),
        Expr::Metric(m) => validate_metric(m, 0),
    }
}

fn validate_log(l: &LogExpr, unwrap: Option<&Unwrap>) -> Result<(), Error> {
    if !l.matchers.iter().any(|m| !m.matches_empty()) {
        return Err(Error::Semantic(EMPTY_MATCHER_MSG.into()));
    }
    match unwrap {
        Some(u) => Pipeline::with_unwrap(&l.pipeline, u).map(|_| ()),
        None => Pipeline::new(&l.pipeline).map(|_| ()),
    }
}

fn validate_metric(m: &MetricExpr, depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Semantic("expression nested too deeply".into()));
    }
    match m {
        MetricExpr::RangeAgg(r) => {
            let op = r.op.as_str();
            let needs_unwrap = matches!(
                r.op,
                RangeOp::SumOverTime
                    | RangeOp::AvgOverTime
                    | RangeOp::MinOverTime
                    | RangeOp::MaxOverTime
                    | RangeOp::StddevOverTime
                    | RangeOp::StdvarOverTime
                    | RangeOp::QuantileOverTime
                    | RangeOp::FirstOverTime
                    | RangeOp::LastOverTime
                    | RangeOp::RateCounter
            );
            let forbids_unwrap = matches!(r.op, RangeOp::CountOverTime | RangeOp::BytesRate | RangeOp::BytesOverTime);
            if needs_unwrap && r.unwrap.is_none() {
                return Err(Error::Semantic(format!("invalid aggregation {op} without unwrap")));
            }
            if forbids_unwrap && r.unwrap.is_some() {
                return Err(Error::Semantic(format!("invalid aggregation {op} with unwrap")));
            }
            match (r.op, r.param) {
                (RangeOp::QuantileOverTime, None) => {
                    return Err(Error::Semantic(format!("parameter required for operation {op}")));
                }
                (RangeOp::QuantileOverTime, Some(_)) | (_, None) => {}
                (_, Some(p)) => {
                    return Err(Error::Semantic(format!(
                        "parameter {} not supported for operation {op}",
                        seer_model::go_format_g(p)
                    )));
                }
            }
            let grouping_ok = matches!(
                r.op,
                RangeOp::AvgOverTime
                    | RangeOp::StddevOverTime
                    | RangeOp::StdvarOverTime
                    | RangeOp::QuantileOverTime
                    | RangeOp::MaxOverTime
                    | RangeOp::MinOverTime
                    | RangeOp::FirstOverTime
                    | RangeOp::LastOverTime
            );
            if r.grouping.is_some() && !grouping_ok {
                return Err(Error::Semantic(format!("grouping not allowed for {op} aggregation")));
            }
            validate_log(&r.inner, r.unwrap.as_ref())
        }
        MetricExpr::VectorAgg(v) => {
            if matches!(v.op, VectorOp::Sort | VectorOp::SortDesc) && v.grouping.is_some() {
                return Err(Error::Semantic("sort and sort_desc doesn't allow grouping by ".into()));
            }
            validate_metric(&v.inner, depth + 1)
        }
        MetricExpr::BinOp(b) => {
            validate_metric(&b.lhs, depth + 1)?;
            validate_metric(&b.rhs, depth + 1)
        }
        MetricExpr::LabelReplace(l) => {
            if let Err(e) = regex::Regex::new(&format!("^(?s:{})$", l.regex)) {
                return Err(Error::Semantic(format!("invalid regex in label_replace: {e}")));
            }
            if !crate::units::is_valid_label_name(&l.dst) {
                return Err(Error::Semantic(format!("invalid destination label name in label_replace: {}", l.dst)));
            }
            validate_metric(&l.inner, depth + 1)
        }
        MetricExpr::Literal(_) | MetricExpr::Vector(_) => Ok(()),
    }
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

/// A log range under construction.
struct LogRange {
    log: LogExpr,
    range_ms: Option<i64>,
    offset_ms: i64,
    unwrap: Option<Unwrap>,
}

const STAGE_KEYWORDS: [&str; 11] = [
    "json",
    "logfmt",
    "regexp",
    "pattern",
    "unpack",
    "line_format",
    "label_format",
    "drop",
    "keep",
    "decolorize",
    "unwrap",
];

const CMP_OPS: [&str; 9] = ["=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="];

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        match self.toks.get(self.i + n) {
            Some(t) => &t.tok,
            None => &Tok::Eof,
        }
    }

    fn pos(&self) -> usize {
        match self.toks.get(self.i) {
            Some(t) => t.pos,
            None => self.input.len(),
        }
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn unexpected(&self) -> Error {
        err_at(self.input, self.pos(), format!("syntax error: unexpected {}", self.peek().describe()))
    }

    fn error_here(&self, msg: impl Into<String>) -> Error {
        err_at(self.input, self.pos(), msg)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_op_at(&self, n: usize, op: &str) -> bool {
        matches!(self.peek_at(n), Tok::Op(o) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_at(n), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn expect_op(&mut self, op: &str) -> Result<(), Error> {
        if self.is_op(op) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_ident(&mut self) -> Result<String, Error> {
        match self.peek() {
            Tok::Ident(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn expect_str(&mut self) -> Result<String, Error> {
        match self.peek() {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here("syntax error: expression nested too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// True when the tokens from here are `(`* `{`.
    fn starts_log_expr(&self) -> bool {
        let mut n = 0;
        while self.is_op_at(n, "(") {
            n += 1;
        }
        self.is_op_at(n, "{")
    }

    // ---- log expressions ----

    fn parse_log_expr(&mut self) -> Result<LogExpr, Error> {
        self.enter()?;
        if self.is_op("(") {
            self.bump();
            let e = self.parse_log_expr()?;
            self.expect_op(")")?;
            self.leave();
            return Ok(e);
        }
        let matchers = self.parse_selector()?;
        let (pipeline, unwrap) = self.parse_pipeline(false)?;
        debug_assert!(unwrap.is_none());
        self.leave();
        Ok(LogExpr { matchers, pipeline })
    }

    fn parse_selector(&mut self) -> Result<Vec<Matcher>, Error> {
        self.expect_op("{")?;
        let mut out = Vec::new();
        if self.is_op("}") {
            self.bump();
            return Ok(out);
        }
        loop {
            let pos = self.pos();
            let name = self.expect_ident()?;
            let kind = match self.peek() {
                Tok::Op("=") => MatchKind::Equal,
                Tok::Op("!=") => MatchKind::NotEqual,
                Tok::Op("=~") => MatchKind::Regex,
                Tok::Op("!~") => MatchKind::NotRegex,
                _ => return Err(self.unexpected()),
            };
            self.bump();
            let value = self.expect_str()?;
            let m = Matcher::new(kind, name, value).map_err(|e| err_at(self.input, pos, e.to_string()))?;
            out.push(m);
            if self.is_op(",") {
                self.bump();
                continue;
            }
            self.expect_op("}")?;
            return Ok(out);
        }
    }

    fn is_line_filter_op(&self) -> Option<LineFilterOp> {
        match self.peek() {
            Tok::Op("|=") => Some(LineFilterOp::Contains),
            Tok::Op("!=") => Some(LineFilterOp::NotContains),
            Tok::Op("|~") => Some(LineFilterOp::Regex),
            Tok::Op("!~") => Some(LineFilterOp::NotRegex),
            Tok::Op("|>") => Some(LineFilterOp::Pattern),
            Tok::Op("!>") => Some(LineFilterOp::NotPattern),
            _ => None,
        }
    }

    /// Parses stages; with `allow_unwrap`, stops after `| unwrap ...` and its label filters.
    fn parse_pipeline(&mut self, allow_unwrap: bool) -> Result<(Vec<Stage>, Option<Unwrap>), Error> {
        let mut stages = Vec::new();
        loop {
            if let Some(op) = self.is_line_filter_op() {
                self.bump();
                stages.push(Stage::LineFilter(self.parse_line_filter(op)?));
                continue;
            }
            if !self.is_op("|") {
                return Ok((stages, None));
            }
            if self.is_kw_at(1, "unwrap") && !self.next_is_cmp(2) {
                if !allow_unwrap {
                    self.bump();
                    return Err(self.unexpected());
                }
                self.bump();
                self.bump();
                let u = self.parse_unwrap()?;
                return Ok((stages, Some(u)));
            }
            self.bump();
            stages.push(self.parse_stage()?);
        }
    }

    fn next_is_cmp(&self, n: usize) -> bool {
        matches!(self.peek_at(n), Tok::Op(o) if CMP_OPS.contains(o))
    }

    fn parse_line_filter(&mut self, op: LineFilterOp) -> Result<LineFilter, Error> {
        let mut values = vec![self.parse_filter_value(op)?];
        while self.is_kw("or")
            && (matches!(self.peek_at(1), Tok::Str(_)) || (self.is_kw_at(1, "ip") && self.is_op_at(2, "(")))
        {
            self.bump();
            values.push(self.parse_filter_value(op)?);
        }
        Ok(LineFilter { op, values })
    }

    fn parse_filter_value(&mut self, op: LineFilterOp) -> Result<FilterValue, Error> {
        if self.is_kw("ip") && self.is_op_at(1, "(") {
            if !matches!(op, LineFilterOp::Contains | LineFilterOp::NotContains) {
                return Err(self.unexpected());
            }
            self.bump();
            self.bump();
            let s = self.expect_str()?;
            self.expect_op(")")?;
            return Ok(FilterValue::Ip(s));
        }
        Ok(FilterValue::Str(self.expect_str()?))
    }

    fn parse_stage(&mut self) -> Result<Stage, Error> {
        let kw = match self.peek() {
            Tok::Ident(s) if !self.next_is_cmp(1) => STAGE_KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(s)).copied(),
            _ => None,
        };
        let Some(kw) = kw else {
            return Ok(Stage::LabelFilter(self.parse_label_filter()?));
        };
        self.bump();
        match kw {
            "json" => Ok(Stage::Json(self.parse_extract_params()?)),
            "logfmt" => {
                let (mut strict, mut keep_empty) = (false, false);
                while let Tok::Flag(f) = self.peek() {
                    match f.as_str() {
                        "strict" => strict = true,
                        "keep-empty" => keep_empty = true,
                        _ => return Err(self.unexpected()),
                    }
                    self.bump();
                }
                let params = self.parse_extract_params()?;
                Ok(Stage::Logfmt { strict, keep_empty, params })
            }
            "regexp" => Ok(Stage::Regexp(self.expect_str()?)),
            "pattern" => Ok(Stage::Pattern(self.expect_str()?)),
            "unpack" => Ok(Stage::Unpack),
            "decolorize" => Ok(Stage::Decolorize),
            "line_format" => Ok(Stage::LineFormat(self.expect_str()?)),
            "label_format" => {
                let mut items = Vec::new();
                loop {
                    let dst = self.expect_ident()?;
                    self.expect_op("=")?;
                    match self.peek() {
                        Tok::Str(s) => {
                            let tmpl = s.clone();
                            self.bump();
                            items.push(LabelFmt::Template { dst, tmpl });
                        }
                        Tok::Ident(s) => {
                            let src = s.clone();
                            self.bump();
                            items.push(LabelFmt::Rename { dst, src });
                        }
                        _ => return Err(self.unexpected()),
                    }
                    if !self.is_op(",") {
                        return Ok(Stage::LabelFormat(items));
                    }
                    self.bump();
                }
            }
            "drop" | "keep" => {
                let mut items = Vec::new();
                loop {
                    let pos = self.pos();
                    let name = self.expect_ident()?;
                    let kind = match self.peek() {
                        Tok::Op("=") => Some(MatchKind::Equal),
                        Tok::Op("!=") => Some(MatchKind::NotEqual),
                        Tok::Op("=~") => Some(MatchKind::Regex),
                        Tok::Op("!~") => Some(MatchKind::NotRegex),
                        _ => None,
                    };
                    match kind {
                        Some(kind) => {
                            self.bump();
                            let value = self.expect_str()?;
                            let m =
                                Matcher::new(kind, name, value).map_err(|e| err_at(self.input, pos, e.to_string()))?;
                            items.push(DropKeepItem::Matcher(m));
                        }
                        None => items.push(DropKeepItem::Name(name)),
                    }
                    if !self.is_op(",") {
                        break;
                    }
                    self.bump();
                }
                Ok(if kw == "drop" { Stage::Drop(items) } else { Stage::Keep(items) })
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `a="x", b, c="y"` after `json` / `logfmt`; empty when no identifier follows.
    fn parse_extract_params(&mut self) -> Result<Vec<ExtractParam>, Error> {
        let mut out = Vec::new();
        if !matches!(self.peek(), Tok::Ident(_)) {
            return Ok(out);
        }
        loop {
            let name = self.expect_ident()?;
            let expr = if self.is_op("=") {
                self.bump();
                self.expect_str()?
            } else {
                name.clone()
            };
            out.push(ExtractParam { name, expr });
            if !self.is_op(",") {
                return Ok(out);
            }
            self.bump();
        }
    }

    fn parse_unwrap(&mut self) -> Result<Unwrap, Error> {
        let conv = if self.is_op_at(1, "(") {
            let c = match self.peek() {
                Tok::Ident(s) if s.eq_ignore_ascii_case("duration") => UnwrapConv::Duration,
                Tok::Ident(s) if s.eq_ignore_ascii_case("duration_seconds") => UnwrapConv::DurationSeconds,
                Tok::Ident(s) if s.eq_ignore_ascii_case("bytes") => UnwrapConv::Bytes,
                _ => return Err(self.unexpected()),
            };
            self.bump();
            self.bump();
            Some(c)
        } else {
            None
        };
        let label = self.expect_ident()?;
        if conv.is_some() {
            self.expect_op(")")?;
        }
        let mut post_filters = Vec::new();
        while self.is_op("|") {
            self.bump();
            post_filters.push(self.parse_label_filter()?);
        }
        Ok(Unwrap { label, conv: conv.unwrap_or(UnwrapConv::Float), post_filters })
    }

    // ---- label filters ----

    fn parse_label_filter(&mut self) -> Result<LabelFilterExpr, Error> {
        self.enter()?;
        let mut left = self.parse_lf_and()?;
        while self.is_kw("or") {
            self.bump();
            let right = self.parse_lf_and()?;
            left = LabelFilterExpr::Or(Box::new(left), Box::new(right));
        }
        self.leave();
        Ok(left)
    }

    fn parse_lf_and(&mut self) -> Result<LabelFilterExpr, Error> {
        let mut left = self.parse_lf_unary()?;
        loop {
            if self.is_kw("and") || self.is_op(",") {
                self.bump();
            } else if !(self.is_op("(")
                || (matches!(self.peek(), Tok::Ident(_)) && !self.is_kw("or") && self.next_is_cmp(1)))
            {
                break;
            }
            let right = self.parse_lf_unary()?;
            left = LabelFilterExpr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_lf_unary(&mut self) -> Result<LabelFilterExpr, Error> {
        if self.is_op("(") {
            self.bump();
            let e = self.parse_label_filter()?;
            self.expect_op(")")?;
            return Ok(e);
        }
        Ok(LabelFilterExpr::Pred(self.parse_predicate()?))
    }

    fn parse_predicate(&mut self) -> Result<LabelPredicate, Error> {
        let pos = self.pos();
        let name = self.expect_ident()?;
        let op = match self.peek() {
            Tok::Op(o) if CMP_OPS.contains(o) => *o,
            _ => return Err(self.unexpected()),
        };
        self.bump();
        let string_kind = match op {
            "=" => Some(MatchKind::Equal),
            "!=" => Some(MatchKind::NotEqual),
            "=~" => Some(MatchKind::Regex),
            "!~" => Some(MatchKind::NotRegex),
            _ => None,
        };
        if let Tok::Str(s) = self.peek() {
            let Some(kind) = string_kind else { return Err(self.unexpected()) };
            let s = s.clone();
            self.bump();
            let m = Matcher::new(kind, name, s).map_err(|e| err_at(self.input, pos, e.to_string()))?;
            return Ok(LabelPredicate::String(m));
        }
        if self.is_kw("ip") && self.is_op_at(1, "(") {
            let negated = match op {
                "=" => false,
                "!=" => true,
                _ => return Err(self.unexpected()),
            };
            self.bump();
            self.bump();
            let pattern = self.expect_str()?;
            self.expect_op(")")?;
            return Ok(LabelPredicate::Ip { name, negated, pattern });
        }
        let cmp = match op {
            "=" | "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            _ => return Err(self.unexpected()),
        };
        let mut neg = false;
        if self.is_op("-") || self.is_op("+") {
            neg = self.is_op("-");
            self.bump();
        }
        match *self.peek() {
            Tok::Num(v) => {
                self.bump();
                Ok(LabelPredicate::Number { name, op: cmp, value: if neg { -v } else { v } })
            }
            Tok::Duration(d) => {
                self.bump();
                Ok(LabelPredicate::Duration { name, op: cmp, nanos: if neg { d.saturating_neg() } else { d } })
            }
            Tok::Bytes(b) if !neg => {
                self.bump();
                Ok(LabelPredicate::Bytes { name, op: cmp, bytes: b })
            }
            _ => Err(self.unexpected()),
        }
    }

    // ---- metric expressions ----

    fn peek_binop(&self) -> Option<BinOpKind> {
        Some(match self.peek() {
            Tok::Op("+") => BinOpKind::Add,
            Tok::Op("-") => BinOpKind::Sub,
            Tok::Op("*") => BinOpKind::Mul,
            Tok::Op("/") => BinOpKind::Div,
            Tok::Op("%") => BinOpKind::Mod,
            Tok::Op("^") => BinOpKind::Pow,
            Tok::Op("==") => BinOpKind::Eq,
            Tok::Op("!=") => BinOpKind::Ne,
            Tok::Op(">") => BinOpKind::Gt,
            Tok::Op(">=") => BinOpKind::Ge,
            Tok::Op("<") => BinOpKind::Lt,
            Tok::Op("<=") => BinOpKind::Le,
            Tok::Ident(s) if s.eq_ignore_ascii_case("and") => BinOpKind::And,
            Tok::Ident(s) if s.eq_ignore_ascii_case("or") => BinOpKind::Or,
            Tok::Ident(s) if s.eq_ignore_ascii_case("unless") => BinOpKind::Unless,
            _ => return None,
        })
    }

    fn parse_metric(&mut self, min_prec: u8) -> Result<MetricExpr, Error> {
        self.enter()?;
        let mut lhs = self.parse_metric_unary()?;
        while let Some(op) = self.peek_binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.bump();
            let (return_bool, matching) = self.parse_binop_modifiers(op)?;
            let next_min = if op == BinOpKind::Pow { prec } else { prec + 1 };
            let rhs = self.parse_metric(next_min)?;
            lhs = make_binop(op, return_bool, matching, lhs, rhs)?;
        }
        self.leave();
        Ok(lhs)
    }

    #[inline(never)]
    fn parse_binop_modifiers(&mut self, op: BinOpKind) -> Result<(bool, Option<VectorMatching>), Error> {
        let mut return_bool = false;
        if self.is_kw("bool") {
            if !op.is_comparison() {
                return Err(Error::Semantic("bool modifier can only be used on comparison operators".into()));
            }
            self.bump();
            return_bool = true;
        }
        Ok((return_bool, self.parse_vector_matching()?))
    }

    fn parse_vector_matching(&mut self) -> Result<Option<VectorMatching>, Error> {
        let on = if self.is_kw("on") && self.is_op_at(1, "(") {
            true
        } else if self.is_kw("ignoring") && self.is_op_at(1, "(") {
            false
        } else {
            return Ok(None);
        };
        self.bump();
        let labels = self.parse_label_list()?;
        let left = if self.is_kw("group_left") {
            Some(true)
        } else if self.is_kw("group_right") {
            Some(false)
        } else {
            None
        };
        let group = match left {
            Some(left) => {
                self.bump();
                let include = if self.is_op("(") { self.parse_label_list()? } else { Vec::new() };
                Some(GroupModifier { left, include })
            }
            None => None,
        };
        Ok(Some(VectorMatching { on, labels, group }))
    }

    fn parse_label_list(&mut self) -> Result<Vec<String>, Error> {
        self.expect_op("(")?;
        let mut out = Vec::new();
        if self.is_op(")") {
            self.bump();
            return Ok(out);
        }
        loop {
            out.push(self.expect_ident()?);
            if self.is_op(",") {
                self.bump();
                if self.is_op(")") {
                    self.bump();
                    return Ok(out);
                }
                continue;
            }
            self.expect_op(")")?;
            return Ok(out);
        }
    }

    fn parse_grouping(&mut self) -> Result<Option<Grouping>, Error> {
        let without = if self.is_kw("by") {
            false
        } else if self.is_kw("without") {
            true
        } else {
            return Ok(None);
        };
        self.bump();
        let labels = self.parse_label_list()?;
        Ok(Some(Grouping { without, labels }))
    }

    /// True when the identifier here is used as a function: followed by `(` or by a
    /// `by`/`without` grouping and then `(`.
    fn is_call(&self) -> bool {
        if self.is_op_at(1, "(") {
            return true;
        }
        (self.is_kw_at(1, "by") || self.is_kw_at(1, "without")) && self.is_op_at(2, "(")
    }

    fn parse_number_literal(&mut self) -> Result<f64, Error> {
        let mut neg = false;
        if self.is_op("-") || self.is_op("+") {
            neg = self.is_op("-");
            self.bump();
        }
        match *self.peek() {
            Tok::Num(v) => {
                self.bump();
                Ok(if neg { -v } else { v })
            }
            _ => Err(self.unexpected()),
        }
    }

    fn parse_metric_unary(&mut self) -> Result<MetricExpr, Error> {
        match self.peek().clone() {
            Tok::Op("(") => {
                self.bump();
                let e = self.parse_metric(0)?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("-") | Tok::Op("+") | Tok::Num(_) => Ok(MetricExpr::Literal(self.parse_number_literal()?)),
            Tok::Ident(name) if self.is_call() => {
                if let Some(op) = RangeOp::from_name(&name) {
                    return self.parse_range_agg(op);
                }
                if let Some(op) = VectorOp::from_name(&name) {
                    return self.parse_vector_agg(op);
                }
                if name.eq_ignore_ascii_case("vector") && self.is_op_at(1, "(") {
                    return self.parse_vector_fn();
                }
                if name.eq_ignore_ascii_case("label_replace") && self.is_op_at(1, "(") {
                    return self.parse_label_replace();
                }
                Err(self.unexpected())
            }
            _ => Err(self.unexpected()),
        }
    }

    #[inline(never)]
    fn parse_vector_fn(&mut self) -> Result<MetricExpr, Error> {
        self.bump();
        self.bump();
        let v = self.parse_number_literal()?;
        self.expect_op(")")?;
        Ok(MetricExpr::Vector(v))
    }

    #[inline(never)]
    fn parse_label_replace(&mut self) -> Result<MetricExpr, Error> {
        self.enter()?;
        self.bump();
        self.bump();
        let inner = self.parse_metric(0)?;
        let mut strs = Vec::new();
        for _ in 0..4 {
            self.expect_op(",")?;
            strs.push(self.expect_str()?);
        }
        self.expect_op(")")?;
        let mut it = strs.into_iter();
        let (dst, replacement, src, regex) = (
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
        );
        self.leave();
        Ok(MetricExpr::LabelReplace(LabelReplace { inner: Box::new(inner), dst, replacement, src, regex }))
    }

    #[inline(never)]
    fn parse_range_agg(&mut self, op: RangeOp) -> Result<MetricExpr, Error> {
        self.enter()?;
        self.bump();
        self.expect_op("(")?;
        let mut param = None;
        if matches!(self.peek(), Tok::Num(_) | Tok::Op("-") | Tok::Op("+")) {
            param = Some(self.parse_number_literal()?);
            self.expect_op(",")?;
        }
        let lr = self.parse_log_range()?;
        let Some(range_ms) = lr.range_ms else {
            return Err(self.unexpected());
        };
        self.expect_op(")")?;
        let grouping = self.parse_grouping()?;
        self.leave();
        Ok(MetricExpr::RangeAgg(RangeAgg {
            op,
            inner: lr.log,
            range_ms,
            offset_ms: lr.offset_ms,
            unwrap: lr.unwrap,
            param,
            grouping,
        }))
    }

    fn parse_log_range(&mut self) -> Result<LogRange, Error> {
        self.enter()?;
        let mut lr = if self.is_op("(") {
            self.bump();
            let inner = self.parse_log_range()?;
            self.expect_op(")")?;
            inner
        } else {
            let matchers = self.parse_selector()?;
            LogRange { log: LogExpr { matchers, pipeline: Vec::new() }, range_ms: None, offset_ms: 0, unwrap: None }
        };
        if lr.range_ms.is_none() {
            if lr.unwrap.is_none() {
                let (stages, unwrap) = self.parse_pipeline(true)?;
                lr.log.pipeline.extend(stages);
                lr.unwrap = unwrap;
            }
            if let Tok::Range(text) = self.peek().clone() {
                let Some(ms) = seer_model::parse_duration_ms(&text) else {
                    return Err(self.error_here(format!("not a valid duration string: {text:?}")));
                };
                self.bump();
                lr.range_ms = Some(ms);
                if self.is_kw("offset") {
                    self.bump();
                    let neg = self.is_op("-");
                    if neg {
                        self.bump();
                    }
                    match *self.peek() {
                        Tok::Duration(ns) => {
                            self.bump();
                            let ms = ns / 1_000_000;
                            lr.offset_ms = if neg { -ms } else { ms };
                        }
                        _ => return Err(self.unexpected()),
                    }
                }
                if lr.unwrap.is_none() {
                    let (stages, unwrap) = self.parse_pipeline(true)?;
                    lr.log.pipeline.extend(stages);
                    lr.unwrap = unwrap;
                }
            }
        }
        self.leave();
        Ok(lr)
    }

    #[inline(never)]
    fn parse_vector_agg(&mut self, op: VectorOp) -> Result<MetricExpr, Error> {
        self.enter()?;
        self.bump();
        let before = self.parse_grouping()?;
        self.expect_op("(")?;
        let param = self.parse_vector_param(op)?;
        let inner = Box::new(self.parse_metric(0)?);
        self.expect_op(")")?;
        let after = self.parse_grouping()?;
        if before.is_some() && after.is_some() {
            return Err(self.unexpected());
        }
        self.leave();
        Ok(MetricExpr::VectorAgg(VectorAgg { op, grouping: before.or(after), param, inner }))
    }

    #[inline(never)]
    fn parse_vector_param(&mut self, op: VectorOp) -> Result<Option<i64>, Error> {
        let is_k = matches!(op, VectorOp::Topk | VectorOp::Bottomk);
        if !(matches!(self.peek(), Tok::Num(_)) && self.is_op_at(1, ",")) {
            if is_k {
                return Err(Error::Semantic(format!("parameter required for operation {}", op.as_str())));
            }
            return Ok(None);
        }
        let v = self.parse_number_literal()?;
        self.bump();
        let name = op.as_str();
        let shown = seer_model::go_format_g(v);
        if !is_k {
            return Err(Error::Semantic(format!("unsupported parameter for operation {name}({shown},")));
        }
        if v.fract() != 0.0 || !v.is_finite() || v.abs() > 9.0e15 {
            return Err(Error::Semantic(format!("invalid parameter {name}({shown},")));
        }
        if v <= 0.0 {
            return Err(Error::Semantic(format!("invalid parameter (must be greater than 0) {name}({shown}")));
        }
        Ok(Some(v as i64))
    }
}

fn make_binop(
    op: BinOpKind,
    return_bool: bool,
    matching: Option<VectorMatching>,
    lhs: MetricExpr,
    rhs: MetricExpr,
) -> Result<MetricExpr, Error> {
    if op.is_set() {
        if let MetricExpr::Literal(v) = lhs {
            return Err(Error::Semantic(format!(
                "unexpected literal for left leg of logical/set binary operation ({}): {}",
                op.as_str(),
                seer_model::go_format_g(v)
            )));
        }
        if let MetricExpr::Literal(v) = rhs {
            return Err(Error::Semantic(format!(
                "unexpected literal for right leg of logical/set binary operation ({}): {}",
                op.as_str(),
                seer_model::go_format_g(v)
            )));
        }
    }
    if let (MetricExpr::Literal(a), MetricExpr::Literal(b)) = (&lhs, &rhs)
        && let Some(v) = op.apply_scalar(*a, *b)
    {
        return Ok(MetricExpr::Literal(v));
    }
    Ok(MetricExpr::BinOp(BinOp { op, return_bool, matching, lhs: Box::new(lhs), rhs: Box::new(rhs) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(q: &str) -> Expr {
        match parse(q) {
            Ok(e) => e,
            Err(e) => panic!("{q}: {e}"),
        }
    }

    fn err(q: &str) -> String {
        match parse(q) {
            Ok(e) => panic!("{q} parsed: {e:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn log_queries() {
        let Expr::Log(l) = ok(r#"{job="loki"} |= "a" or "b" != "c" | json | x > 5"#) else { panic!() };
        assert_eq!(l.matchers.len(), 1);
        assert_eq!(l.pipeline.len(), 4);
        assert_eq!(
            l.pipeline[0],
            Stage::LineFilter(LineFilter {
                op: LineFilterOp::Contains,
                values: vec![FilterValue::Str("a".into()), FilterValue::Str("b".into())]
            })
        );
        ok(r#"({job="loki"})"#);
        ok(r#"{JOB="x"} | JSON | LogFmt"#);
        ok(r#"{job="x"} | json | count > 5"#);
    }

    #[test]
    fn label_filter_precedence() {
        let Expr::Log(l) = ok(r#"{a="b"} | x="1" or y="2" and z="3""#) else { panic!() };
        let Stage::LabelFilter(LabelFilterExpr::Or(_, r)) = &l.pipeline[0] else { panic!("{:?}", l.pipeline) };
        assert!(matches!(**r, LabelFilterExpr::And(_, _)));
        let Expr::Log(l) = ok(r#"{a="b"} | x="1", y="2" z="3""#) else { panic!() };
        let Stage::LabelFilter(LabelFilterExpr::And(l2, _)) = &l.pipeline[0] else { panic!() };
        assert!(matches!(**l2, LabelFilterExpr::And(_, _)));
    }

    #[test]
    fn metric_queries() {
        let Expr::Metric(MetricExpr::RangeAgg(r)) = ok(r#"rate({a="b"}[5m] offset 1h)"#) else { panic!() };
        assert_eq!((r.range_ms, r.offset_ms), (300_000, 3_600_000));
        let Expr::Metric(MetricExpr::RangeAgg(r)) =
            ok(r#"sum_over_time({a="b"} | logfmt | unwrap duration(d) | __error__="" [1m])"#)
        else {
            panic!()
        };
        let u = r.unwrap.unwrap();
        assert_eq!((u.label.as_str(), u.conv, u.post_filters.len()), ("d", UnwrapConv::Duration, 1));
        assert_eq!(ok("1 + 2 * 3"), Expr::Metric(MetricExpr::Literal(7.0)));
        assert_eq!(ok("2 ^ 3 ^ 2"), Expr::Metric(MetricExpr::Literal(512.0)));
        assert_eq!(ok("1 > 2"), Expr::Metric(MetricExpr::Literal(0.0)));
        assert!(matches!(ok("1 / 0"), Expr::Metric(MetricExpr::Literal(v)) if v.is_nan()));
        let Expr::Metric(MetricExpr::BinOp(b)) =
            ok(r#"sum by (a) (rate({a="b"}[1m])) / on (a) group_left (c) sum by (a) (rate({a="c"}[1m]))"#)
        else {
            panic!()
        };
        assert_eq!(b.matching.unwrap().group.unwrap().include, vec!["c".to_string()]);
        ok(r#"topk(10, sum(rate({a="b"}[5m])) by (name))"#);
        ok(r#"label_replace(rate({a="b"}[1m]), "dst", "$1", "src", "(.*)")"#);
        ok(r#"count_over_time({a="b"}[1m]) > bool 3"#);
        ok(r#"vector(1) or rate({a="b"}[1m])"#);
    }

    #[test]
    fn semantic_errors() {
        assert!(err(r#"{a=~".*"}"#).starts_with("parse error : queries require at least one regexp"));
        assert_eq!(err("{}"), format!("parse error : {EMPTY_MATCHER_MSG}"));
        assert_eq!(
            err(r#"sum_over_time({a="b"}[1m])"#),
            "parse error : invalid aggregation sum_over_time without unwrap"
        );
        assert_eq!(
            err(r#"count_over_time({a="b"} | unwrap x [1m])"#),
            "parse error : invalid aggregation count_over_time with unwrap"
        );
        assert_eq!(
            err(r#"quantile_over_time({a="b"} | unwrap x [1m])"#),
            "parse error : parameter required for operation quantile_over_time"
        );
        assert_eq!(err(r#"rate({a="b"}[1m]) by (x)"#), "parse error : grouping not allowed for rate aggregation");
        assert_eq!(err(r#"topk(rate({a="b"}[1m]))"#), "parse error : parameter required for operation topk");
        assert_eq!(
            err(r#"topk(0, rate({a="b"}[1m]))"#),
            "parse error : invalid parameter (must be greater than 0) topk(0"
        );
        assert_eq!(err(r#"sum(2, rate({a="b"}[1m]))"#), "parse error : unsupported parameter for operation sum(2,");
        assert_eq!(
            err(r#"sort(rate({a="b"}[1m])) by (x)"#),
            "parse error : sort and sort_desc doesn't allow grouping by "
        );
        assert!(
            err(r#"1 and vector(1)"#)
                .contains("unexpected literal for left leg of logical/set binary operation (and): 1")
        );
        assert!(err(&format!("{{a=\"{}\"}}", "x".repeat(6000))).starts_with("parse error : input size too long ("));
        assert!(err(r#"{a="b"} |~ "(""#).starts_with("parse error : stage '|~ \"(\"'"));
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(err(r#"{foo="bar"} foo"#), "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER");
        assert_eq!(err(r#"{foo="bar"} "foo""#), "parse error at line 1, col 13: syntax error: unexpected STRING");
        assert_eq!(err(r#"{job="loki",}"#), "parse error at line 1, col 13: syntax error: unexpected }");
        assert_eq!(err(r#"{job="loki"} | regexp"#), "parse error at line 1, col 22: syntax error: unexpected $end");
        assert!(err(r#"rate({a="b"}[1.5m])"#).contains("not a valid duration"));
        assert!(err(r#"{a="b"} | unwrap x"#).contains("unexpected IDENTIFIER"));
        assert!(err(r#"count_over_time({a="b"}[1m]) offset 5m"#).contains("syntax error"));
        assert!(err(r#"{a="b"} |~ ip("1.2.3.4")"#).contains("syntax error"));
        assert!(err("\n  {a=\"b\"} |= \"x").starts_with("parse error at line 2, col 14: literal not terminated"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let q = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&q).is_err());
        let q = format!("{}1{}", "(".repeat(2000), ")".repeat(2000));
        assert!(parse(&q).is_err());
        let q = format!("{{a=\"b\"}} | {}x=\"1\"{}", "(".repeat(1000), ")".repeat(1000));
        assert!(parse(&q).is_err());
        let q = (0..1000).map(|_| "1").collect::<Vec<_>>().join("^");
        assert!(parse(&q).is_err());
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn nested_aggregations_and_ranges_are_bounded() {
        let q = format!("{}count_over_time({{a=\"b\"}}[1m]){}", "sum(".repeat(300), ")".repeat(300));
        assert!(parse(&q).is_err());
        let q = format!("{}count_over_time({{a=\"b\"}}[1m]){}", "sum(".repeat(100), ")".repeat(100));
        assert!(parse(&q).is_ok());
        let q = format!("rate({}{{a=\"b\"}}{}[1m])", "(".repeat(400), ")".repeat(400));
        assert!(parse(&q).is_err());
        let q = format!("{}{{a=\"b\"}}{}", "(".repeat(400), ")".repeat(400));
        assert!(parse(&q).is_err());
        let q = format!("{{a=\"b\"}} | line_format \"{}x{}\"", "{{if 1}}".repeat(100), "{{end}}".repeat(100));
        assert!(parse(&q).is_err());
    }
}
