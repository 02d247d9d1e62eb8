//! Recursive-descent parser for TraceQL, with Tempo's operator precedence:
//! `|` < `&&` = `||` < comparisons = structural operators < `+ -` < `* / %` < unary < `^`.

use seer_model::trace::{SpanKind, StatusCode};

use crate::ast::*;
use crate::lexer::{Tok, Token, tokenize};
use crate::validate::{Type, expr_type};
use crate::{MAX_DEPTH, MAX_QUERY_LEN, ParseError};

/// Parses a query. Only the grammar (and the few type checks Tempo makes while parsing, such
/// as `max(name)`) is checked here; [`crate::validate`] does the rest.
pub fn parse(src: &str) -> Result<Query, ParseError> {
    if src.len() > MAX_QUERY_LEN {
        return Err(ParseError { line: 1, col: 1, msg: format!("query is longer than {MAX_QUERY_LEN} bytes") });
    }
    let toks = tokenize(src)?;
    let mut p = Parser { toks, pos: 0, depth: 0 };
    p.query()
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

fn is_metrics_keyword(t: &Tok) -> bool {
    matches!(t, Tok::Ident(s) if matches!(s.as_str(),
        "rate" | "count_over_time" | "min_over_time" | "max_over_time" | "avg_over_time" | "sum_over_time"
        | "quantile_over_time" | "histogram_over_time" | "compare"))
}

fn comparison_op(t: &Tok) -> Option<BinaryOp> {
    Some(match t {
        Tok::Op("=") => BinaryOp::Eq,
        Tok::Op("!=") => BinaryOp::Neq,
        Tok::Op(">") => BinaryOp::Gt,
        Tok::Op(">=") => BinaryOp::Gte,
        Tok::Op("<") => BinaryOp::Lt,
        Tok::Op("<=") => BinaryOp::Lte,
        _ => return None,
    })
}

fn structural_op(t: &Tok) -> Option<SpansetOp> {
    match t {
        Tok::Op(o) => SpansetOp::from_token(o).filter(|op| !op.is_logical()),
        _ => None,
    }
}

fn keyword_static(s: &str) -> Option<Static> {
    Some(match s {
        "true" => Static::Bool(true),
        "false" => Static::Bool(false),
        "nil" => Static::Nil,
        "ok" => Static::Status(StatusCode::Ok),
        "error" => Static::Status(StatusCode::Error),
        "unset" => Static::Status(StatusCode::Unset),
        "unspecified" => Static::Kind(SpanKind::Unspecified),
        "internal" => Static::Kind(SpanKind::Internal),
        "server" => Static::Kind(SpanKind::Server),
        "client" => Static::Kind(SpanKind::Client),
        "producer" => Static::Kind(SpanKind::Producer),
        "consumer" => Static::Kind(SpanKind::Consumer),
        "minInt" => Static::Int(i64::MIN),
        "maxInt" => Static::Int(i64::MAX),
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == word)
    }

    fn error_here(&self, msg: impl Into<String>) -> ParseError {
        let t = &self.toks[self.pos.min(self.toks.len() - 1)];
        ParseError { line: t.line, col: t.col, msg: msg.into() }
    }

    fn unexpected(&self) -> ParseError {
        self.error_here(format!("syntax error: unexpected {}", self.peek().describe()))
    }

    fn expect_op(&mut self, op: &'static str) -> Result<(), ParseError> {
        if self.is_op(op) {
            self.bump();
            return Ok(());
        }
        let expecting = Tok::Op(op).describe();
        Err(self.error_here(format!("syntax error: unexpected {}, expecting {expecting}", self.peek().describe())))
    }

    /// Counts one level of nesting; every recursion and every link of an operator chain
    /// goes through here, so the height of any tree the parser builds stays bounded.
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here(format!("query is nested too deeply (more than {MAX_DEPTH} levels)")));
        }
        Ok(())
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let pipeline = self.pipeline(true)?;
        let mut metrics = None;
        if self.is_op("|") && is_metrics_keyword(self.peek_at(1)) {
            self.bump();
            metrics = Some(self.metrics()?);
        }
        let mut hints = Vec::new();
        if self.is_ident("with") {
            hints = self.hints()?;
        }
        if *self.peek() != Tok::Eof {
            return Err(self.unexpected());
        }
        Ok(Query { pipeline, metrics, hints })
    }

    fn pipeline(&mut self, top: bool) -> Result<Pipeline, ParseError> {
        let mut stages = vec![self.stage(true)?];
        while self.is_op("|") {
            if top && is_metrics_keyword(self.peek_at(1)) {
                break;
            }
            self.bump();
            stages.push(self.stage(false)?);
        }
        Ok(Pipeline { stages })
    }

    fn stage(&mut self, first: bool) -> Result<Stage, ParseError> {
        match self.peek().clone() {
            Tok::Op("{") => Ok(Stage::Spanset(self.spanset_expr()?)),
            Tok::Op("(") => {
                // Either a scalar filter such as `(count() + 1) > 2` or a grouped spanset
                // expression: try the first, fall back to the second, and report the error
                // that got further.
                let (pos, depth) = (self.pos, self.depth);
                let scalar_err = match self.scalar_filter() {
                    Ok(f) => return Ok(Stage::ScalarFilter(f)),
                    Err(e) => e,
                };
                self.pos = pos;
                self.depth = depth;
                match self.spanset_expr() {
                    Ok(e) => Ok(Stage::Spanset(e)),
                    Err(e) if (e.line, e.col) >= (scalar_err.line, scalar_err.col) => Err(e),
                    Err(_) => Err(scalar_err),
                }
            }
            Tok::Int(_) | Tok::Float(_) | Tok::Duration(_) | Tok::Op("-") => {
                Ok(Stage::ScalarFilter(self.scalar_filter()?))
            }
            Tok::Ident(s) => match s.as_str() {
                "count" | "avg" | "min" | "max" | "sum" | "minInt" | "maxInt" => {
                    Ok(Stage::ScalarFilter(self.scalar_filter()?))
                }
                "by" => {
                    self.bump();
                    self.expect_op("(")?;
                    let e = self.expr()?;
                    self.expect_op(")")?;
                    Ok(Stage::By(e))
                }
                "select" => {
                    self.bump();
                    self.expect_op("(")?;
                    let fields = self.field_list()?;
                    self.expect_op(")")?;
                    Ok(Stage::Select(fields))
                }
                "coalesce" if !first => {
                    self.bump();
                    self.expect_op("(")?;
                    self.expect_op(")")?;
                    Ok(Stage::Coalesce)
                }
                _ => Err(self.unexpected()),
            },
            _ => Err(self.unexpected()),
        }
    }

    // ---------------------------------------------------------------- spanset expressions

    fn spanset_expr(&mut self) -> Result<SpansetExpr, ParseError> {
        let mut lhs = self.spanset_structural()?;
        let mut links = 0;
        loop {
            let op = match self.peek() {
                Tok::Op("&&") => SpansetOp::And,
                Tok::Op("||") => SpansetOp::Or,
                _ => break,
            };
            self.enter()?;
            links += 1;
            self.bump();
            let rhs = self.spanset_structural()?;
            lhs = SpansetExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        self.depth -= links;
        Ok(lhs)
    }

    fn spanset_structural(&mut self) -> Result<SpansetExpr, ParseError> {
        let mut lhs = self.spanset_primary()?;
        let mut links = 0;
        while let Some(op) = structural_op(self.peek()) {
            self.enter()?;
            links += 1;
            self.bump();
            let rhs = self.spanset_primary()?;
            lhs = SpansetExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        self.depth -= links;
        Ok(lhs)
    }

    fn spanset_primary(&mut self) -> Result<SpansetExpr, ParseError> {
        if self.is_op("{") {
            return Ok(SpansetExpr::Filter(self.filter_body()?));
        }
        if self.is_op("(") {
            self.enter()?;
            self.bump();
            let p = self.pipeline(false)?;
            self.expect_op(")")?;
            self.depth -= 1;
            let mut stages = p.stages;
            if stages.len() == 1
                && let Some(Stage::Spanset(_)) = stages.first()
                && let Some(Stage::Spanset(e)) = stages.pop()
            {
                return Ok(e);
            }
            return Ok(SpansetExpr::Pipeline(Pipeline { stages }));
        }
        Err(self.unexpected())
    }

    /// `{ expr }` or `{ }`.
    fn filter_body(&mut self) -> Result<Option<Expr>, ParseError> {
        self.expect_op("{")?;
        if self.is_op("}") {
            self.bump();
            return Ok(None);
        }
        let e = self.expr()?;
        self.expect_op("}")?;
        Ok(Some(e))
    }

    // ---------------------------------------------------------------- field expressions

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let e = self.expr_logical()?;
        self.depth -= 1;
        Ok(e)
    }

    fn binary_chain(
        &mut self,
        next: fn(&mut Parser) -> Result<Expr, ParseError>,
        op_of: fn(&Tok) -> Option<BinaryOp>,
    ) -> Result<Expr, ParseError> {
        let mut lhs = next(self)?;
        let mut links = 0;
        while let Some(op) = op_of(self.peek()) {
            self.enter()?;
            links += 1;
            self.bump();
            let rhs = next(self)?;
            lhs = Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        self.depth -= links;
        Ok(lhs)
    }

    fn expr_logical(&mut self) -> Result<Expr, ParseError> {
        self.binary_chain(Parser::expr_cmp, |t| match t {
            Tok::Op("&&") => Some(BinaryOp::And),
            Tok::Op("||") => Some(BinaryOp::Or),
            _ => None,
        })
    }

    fn expr_cmp(&mut self) -> Result<Expr, ParseError> {
        self.binary_chain(Parser::expr_add, |t| match t {
            Tok::Op("=~") => Some(BinaryOp::Regex),
            Tok::Op("!~") => Some(BinaryOp::NotRegex),
            t => comparison_op(t),
        })
    }

    fn expr_add(&mut self) -> Result<Expr, ParseError> {
        self.binary_chain(Parser::expr_mul, |t| match t {
            Tok::Op("+") => Some(BinaryOp::Add),
            Tok::Op("-") => Some(BinaryOp::Sub),
            _ => None,
        })
    }

    fn expr_mul(&mut self) -> Result<Expr, ParseError> {
        self.binary_chain(Parser::expr_unary, |t| match t {
            Tok::Op("*") => Some(BinaryOp::Mul),
            Tok::Op("/") => Some(BinaryOp::Div),
            Tok::Op("%") => Some(BinaryOp::Mod),
            _ => None,
        })
    }

    fn expr_unary(&mut self) -> Result<Expr, ParseError> {
        let op = match self.peek() {
            Tok::Op("-") => UnaryOp::Neg,
            Tok::Op("!") => UnaryOp::Not,
            _ => return self.expr_pow(),
        };
        self.enter()?;
        self.bump();
        let e = self.expr_unary()?;
        self.depth -= 1;
        Ok(Expr::Unary { op, expr: Box::new(e) })
    }

    fn expr_pow(&mut self) -> Result<Expr, ParseError> {
        let base = self.expr_primary()?;
        if !self.is_op("^") {
            return Ok(base);
        }
        self.enter()?;
        self.bump();
        let exp = self.expr_unary()?;
        self.depth -= 1;
        Ok(Expr::Binary { op: BinaryOp::Pow, lhs: Box::new(base), rhs: Box::new(exp) })
    }

    fn expr_primary(&mut self) -> Result<Expr, ParseError> {
        let e = match self.peek().clone() {
            Tok::Op("(") => {
                self.bump();
                let e = self.expr()?;
                self.expect_op(")")?;
                return Ok(e);
            }
            Tok::Int(n) => Expr::Static(Static::Int(n)),
            Tok::Float(x) => Expr::Static(Static::Float(x)),
            Tok::Duration(d) => Expr::Static(Static::Duration(d)),
            Tok::Str(s) => Expr::Static(Static::Str(s)),
            Tok::Attr(a) => Expr::Attribute(a),
            Tok::Intrinsic(i) => Expr::Intrinsic(i),
            Tok::Ident(s) => match (keyword_static(&s), Intrinsic::from_keyword(&s)) {
                (Some(v), _) => Expr::Static(v),
                (None, Some(i)) => Expr::Intrinsic(i),
                (None, None) => return Err(self.unexpected()),
            },
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(e)
    }

    /// An attribute or intrinsic (for `select()` and metrics arguments).
    fn field(&mut self) -> Result<Expr, ParseError> {
        let e = match self.peek() {
            Tok::Attr(a) => Expr::Attribute(a.clone()),
            Tok::Intrinsic(i) => Expr::Intrinsic(*i),
            Tok::Ident(s) => match Intrinsic::from_keyword(s) {
                Some(i) => Expr::Intrinsic(i),
                None => return Err(self.unexpected()),
            },
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(e)
    }

    fn field_list(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut fields = vec![self.field()?];
        while self.is_op(",") {
            self.bump();
            fields.push(self.field()?);
        }
        Ok(fields)
    }

    // ---------------------------------------------------------------- scalar filters

    fn scalar_filter(&mut self) -> Result<ScalarFilter, ParseError> {
        let lhs = self.scalar_expr()?;
        let Some(op) = comparison_op(self.peek()) else { return Err(self.unexpected()) };
        self.bump();
        let rhs = self.scalar_expr()?;
        Ok(ScalarFilter { op, lhs, rhs })
    }

    fn scalar_expr(&mut self) -> Result<ScalarExpr, ParseError> {
        self.enter()?;
        let mut lhs = self.scalar_term()?;
        let mut links = 0;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinaryOp::Add,
                Tok::Op("-") => BinaryOp::Sub,
                _ => break,
            };
            self.enter()?;
            links += 1;
            self.bump();
            let rhs = self.scalar_term()?;
            lhs = ScalarExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        self.depth -= links + 1;
        Ok(lhs)
    }

    fn scalar_term(&mut self) -> Result<ScalarExpr, ParseError> {
        let mut lhs = self.scalar_unary()?;
        let mut links = 0;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinaryOp::Mul,
                Tok::Op("/") => BinaryOp::Div,
                Tok::Op("%") => BinaryOp::Mod,
                _ => break,
            };
            self.enter()?;
            links += 1;
            self.bump();
            let rhs = self.scalar_unary()?;
            lhs = ScalarExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        self.depth -= links;
        Ok(lhs)
    }

    fn scalar_unary(&mut self) -> Result<ScalarExpr, ParseError> {
        if !self.is_op("-") {
            return self.scalar_pow();
        }
        self.enter()?;
        self.bump();
        let e = self.scalar_unary()?;
        self.depth -= 1;
        Ok(ScalarExpr::Neg(Box::new(e)))
    }

    fn scalar_pow(&mut self) -> Result<ScalarExpr, ParseError> {
        let base = self.scalar_primary()?;
        if !self.is_op("^") {
            return Ok(base);
        }
        self.enter()?;
        self.bump();
        let exp = self.scalar_unary()?;
        self.depth -= 1;
        Ok(ScalarExpr::Binary { op: BinaryOp::Pow, lhs: Box::new(base), rhs: Box::new(exp) })
    }

    fn scalar_primary(&mut self) -> Result<ScalarExpr, ParseError> {
        let e = match self.peek().clone() {
            Tok::Op("(") => {
                self.bump();
                let e = self.scalar_expr()?;
                self.expect_op(")")?;
                return Ok(e);
            }
            Tok::Int(n) => ScalarExpr::Static(Static::Int(n)),
            Tok::Float(x) => ScalarExpr::Static(Static::Float(x)),
            Tok::Duration(d) => ScalarExpr::Static(Static::Duration(d)),
            Tok::Ident(s) => match s.as_str() {
                "minInt" => ScalarExpr::Static(Static::Int(i64::MIN)),
                "maxInt" => ScalarExpr::Static(Static::Int(i64::MAX)),
                "count" | "avg" | "min" | "max" | "sum" => return self.aggregate().map(ScalarExpr::Aggregate),
                _ => return Err(self.unexpected()),
            },
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(e)
    }

    fn aggregate(&mut self) -> Result<Aggregate, ParseError> {
        let (at, name) = (self.pos, self.bump());
        let op = match &name {
            Tok::Ident(s) if s == "count" => AggregateOp::Count,
            Tok::Ident(s) if s == "avg" => AggregateOp::Avg,
            Tok::Ident(s) if s == "min" => AggregateOp::Min,
            Tok::Ident(s) if s == "max" => AggregateOp::Max,
            _ => AggregateOp::Sum,
        };
        self.expect_op("(")?;
        if op == AggregateOp::Count {
            self.expect_op(")")?;
            return Ok(Aggregate { op, arg: None });
        }
        let arg = self.expr()?;
        self.expect_op(")")?;
        // Tempo rejects aggregates over fields that cannot be numbers while parsing.
        if let Ok(t) = expr_type(&arg)
            && !matches!(t, Type::Int | Type::Float | Type::Duration | Type::Unknown)
        {
            let t = &self.toks[at];
            return Err(ParseError {
                line: t.line,
                col: t.col,
                msg: format!("syntax error: {}() requires a numeric field, got {arg}", op.as_str()),
            });
        }
        Ok(Aggregate { op, arg: Some(Box::new(arg)) })
    }

    // ---------------------------------------------------------------- metrics and hints

    fn metrics(&mut self) -> Result<Metrics, ParseError> {
        let Tok::Ident(name) = self.bump() else { return Err(self.unexpected()) };
        self.expect_op("(")?;
        let func = match name.as_str() {
            "rate" => MetricsFunc::Rate,
            "count_over_time" => MetricsFunc::CountOverTime,
            "compare" => {
                let filter = self.filter_body()?;
                let mut top_n = None;
                let mut start_end = None;
                if self.is_op(",") {
                    self.bump();
                    top_n = Some(self.signed_int()?);
                    if self.is_op(",") {
                        self.bump();
                        let start = self.signed_int()?;
                        self.expect_op(",")?;
                        start_end = Some((start, self.signed_int()?));
                    }
                }
                MetricsFunc::Compare { filter, top_n, start_end }
            }
            _ => {
                let field = self.field()?;
                match name.as_str() {
                    "min_over_time" => MetricsFunc::MinOverTime(field),
                    "max_over_time" => MetricsFunc::MaxOverTime(field),
                    "avg_over_time" => MetricsFunc::AvgOverTime(field),
                    "sum_over_time" => MetricsFunc::SumOverTime(field),
                    "histogram_over_time" => MetricsFunc::HistogramOverTime(field),
                    _ => {
                        let mut qs = Vec::new();
                        loop {
                            self.expect_op(",")?;
                            qs.push(match self.signed_number()? {
                                Static::Int(n) => n as f64,
                                Static::Float(x) => x,
                                _ => return Err(self.error_here("syntax error: quantile must be a number")),
                            });
                            if !self.is_op(",") {
                                break;
                            }
                        }
                        MetricsFunc::QuantileOverTime(field, qs)
                    }
                }
            }
        };
        self.expect_op(")")?;
        let mut by = Vec::new();
        if self.is_ident("by") {
            self.bump();
            self.expect_op("(")?;
            by = self.field_list()?;
            self.expect_op(")")?;
        }
        let mut filter = None;
        if let Some(op) = comparison_op(self.peek()) {
            self.bump();
            filter = Some((op, self.signed_number()?));
        }
        let mut second_stage = None;
        if self.is_op("|") && matches!(self.peek_at(1), Tok::Ident(s) if s == "topk" || s == "bottomk") {
            self.bump();
            let top = self.is_ident("topk");
            self.bump();
            self.expect_op("(")?;
            let n = self.signed_int()?;
            self.expect_op(")")?;
            second_stage = Some(if top { SecondStage::TopK(n) } else { SecondStage::BottomK(n) });
        }
        Ok(Metrics { func, by, filter, second_stage })
    }

    /// An optionally negated integer, float or duration literal (or `minInt`/`maxInt`).
    fn signed_number(&mut self) -> Result<Static, ParseError> {
        let negative = self.is_op("-");
        if negative {
            self.bump();
        }
        let v = match self.peek() {
            Tok::Int(n) => Static::Int(*n),
            Tok::Float(x) => Static::Float(*x),
            Tok::Duration(d) => Static::Duration(*d),
            Tok::Ident(s) if s == "minInt" => Static::Int(i64::MIN),
            Tok::Ident(s) if s == "maxInt" => Static::Int(i64::MAX),
            _ => return Err(self.unexpected()),
        };
        if !negative {
            self.bump();
            return Ok(v);
        }
        let neg = match v {
            Static::Int(n) => n.checked_neg().map(Static::Int),
            Static::Float(x) => Some(Static::Float(-x)),
            Static::Duration(d) => d.checked_neg().map(Static::Duration),
            other => Some(other),
        };
        let Some(neg) = neg else { return Err(self.error_here("syntax error: integer out of range")) };
        self.bump();
        Ok(neg)
    }

    fn signed_int(&mut self) -> Result<i64, ParseError> {
        match self.signed_number()? {
            Static::Int(n) => Ok(n),
            _ => {
                self.pos -= 1;
                Err(self.error_here(format!("syntax error: unexpected {}, expecting INTEGER", self.peek().describe())))
            }
        }
    }

    fn hints(&mut self) -> Result<Vec<Hint>, ParseError> {
        self.bump();
        self.expect_op("(")?;
        let mut hints = Vec::new();
        loop {
            let Tok::Ident(name) = self.peek().clone() else { return Err(self.unexpected()) };
            self.bump();
            self.expect_op("=")?;
            let value = match self.peek().clone() {
                Tok::Str(s) => {
                    self.bump();
                    Static::Str(s)
                }
                Tok::Ident(s) if s == "true" || s == "false" => {
                    self.bump();
                    Static::Bool(s == "true")
                }
                _ => self.signed_number()?,
            };
            hints.push(Hint { name, value });
            if !self.is_op(",") {
                break;
            }
            self.bump();
        }
        self.expect_op(")")?;
        Ok(hints)
    }
}
