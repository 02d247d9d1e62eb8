//! PromQL parsing: [`parse`] turns a query into an [`ast::Expr`], checking types as
//! Prometheus' parser does, with errors worded like Prometheus' (`1:8: parse error: ...`).
//!
//! A hand-written Pratt parser over the tokens of [`lexer`], covering Prometheus 3.14's
//! syntax including the experimental parts: duration expressions (`[5m+1m]`, `offset
//! (1h/2)`, `step()`, `range()`, `min_of`, `max_of`), `anchored`/`smoothed`, `fill()`
//! modifiers, histogram trim operators, `limitk`/`limit_ratio`, quoted UTF-8 names.

pub mod ast;
pub mod functions;
pub mod lexer;
pub mod printer;

use ast::*;
use lexer::{Tok, Token};
use seer_model::{METRIC_NAME, MatchKind, Matcher};

/// A parse error: a message and where it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// Span of the offending text.
    pub span: Span,
    /// What is wrong.
    pub msg: String,
}

impl ParseError {
    /// Prometheus' rendering: `<line>:<col>: parse error: <msg>`.
    pub fn render(&self, input: &str) -> String {
        let (line, col) = line_col(input, self.span.start);
        format!("{line}:{col}: parse error: {}", self.msg)
    }
}

/// 1-based line and column (in bytes) of `pos`.
pub fn line_col(input: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(input.len());
    let before = &input.as_bytes()[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = pos - before.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

/// Parses a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let toks = lexer::lex(input).map_err(|e| ParseError { span: Span { start: e.pos, end: e.pos + 1 }, msg: e.msg })?;
    let mut p = Parser { input, toks, i: 0 };
    if p.peek() == &Tok::Eof {
        return Err(p.err_here("no expression found in input"));
    }
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        let t = p.tok().clone();
        return Err(match t.tok {
            Tok::RParen => {
                ParseError { span: Span { start: t.start, end: t.end }, msg: "unexpected right parenthesis ')'".into() }
            }
            _ => {
                ParseError { span: Span { start: t.start, end: t.end }, msg: format!("unexpected {}", p.describe(&t)) }
            }
        });
    }
    Ok(e)
}

/// Parses a series selector (`match[]`, rule tests): a vector selector without modifiers.
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, ParseError> {
    match parse(input)? {
        Expr::Selector(s) if s.offset.is_none() && s.at.is_none() && s.ext == Extension::None => Ok(s.matchers),
        e => Err(ParseError { span: e.span(), msg: "expected a series selector".into() }),
    }
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    i: usize,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

impl<'a> Parser<'a> {
    fn tok(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn peek(&self) -> &Tok {
        &self.tok().tok
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }
    fn bump(&mut self) -> Token {
        let t = self.tok().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn here(&self) -> Span {
        let t = self.tok();
        Span { start: t.start, end: t.end }
    }
    fn prev_end(&self) -> usize {
        if self.i == 0 { 0 } else { self.toks[self.i - 1].end }
    }
    fn err_here(&self, msg: &str) -> ParseError {
        ParseError { span: self.here(), msg: msg.to_string() }
    }
    fn err(&self, span: Span, msg: impl Into<String>) -> ParseError {
        ParseError { span, msg: msg.into() }
    }
    fn describe(&self, t: &Token) -> String {
        match &t.tok {
            Tok::Eof => "end of input".into(),
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Number(_) => format!("number {:?}", &self.input[t.start..t.end]),
            Tok::Duration(_) => format!("duration {:?}", &self.input[t.start..t.end]),
            Tok::Str(_) => format!("string {}", &self.input[t.start..t.end]),
            _ => format!("{:?}", &self.input[t.start..t.end]),
        }
    }
    fn expect(&mut self, want: Tok, ctx: &str) -> Result<Token, ParseError> {
        if *self.peek() == want {
            return Ok(self.bump());
        }
        let t = self.tok().clone();
        if t.tok == Tok::Eof {
            return Err(self.err(self.here(), format!("unexpected end of input{ctx}")));
        }
        Err(self.err(self.here(), format!("unexpected {}{ctx}", self.describe(&t))))
    }

    fn peek_binop(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::Add => BinOp::Add,
            Tok::Sub => BinOp::Sub,
            Tok::Mul => BinOp::Mul,
            Tok::Div => BinOp::Div,
            Tok::Mod => BinOp::Mod,
            Tok::Pow => BinOp::Pow,
            Tok::Eql => BinOp::Eql,
            Tok::Neq => BinOp::Neq,
            Tok::Gtr => BinOp::Gtr,
            Tok::Lss => BinOp::Lss,
            Tok::Gte => BinOp::Gte,
            Tok::Lte => BinOp::Lte,
            Tok::TrimUpper => BinOp::TrimUpper,
            Tok::TrimLower => BinOp::TrimLower,
            Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
                "and" => BinOp::And,
                "or" => BinOp::Or,
                "unless" => BinOp::Unless,
                "atan2" => BinOp::Atan2,
                _ => return None,
            },
            _ => return None,
        })
    }

    fn expr(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        let mut lhs = if matches!(self.peek(), Tok::Add | Tok::Sub) {
            let t = self.bump();
            let neg = t.tok == Tok::Sub;
            let operand = self.expr(BinOp::Pow.precedence())?;
            let span = Span { start: t.start, end: operand.span().end };
            self.unary(neg, operand, span)?
        } else {
            self.postfix()?
        };
        while let Some(op) = self.peek_binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_tok = self.bump();
            let return_bool = if is_kw(self.peek(), "bool") {
                self.bump();
                true
            } else {
                false
            };
            let matching = self.matching(op)?;
            let next = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.expr(next)?;
            lhs = self.binary(op, lhs, rhs, return_bool, matching, Span { start: op_tok.start, end: op_tok.end })?;
        }
        Ok(lhs)
    }

    fn unary(&self, neg: bool, operand: Expr, span: Span) -> Result<Expr, ParseError> {
        match operand.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            t => {
                return Err(self.err(
                    span,
                    format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                        t.name()
                    ),
                ));
            }
        }
        // A signed number literal is one literal.
        if let Expr::Number { value, duration_ms, .. } = operand {
            return Ok(Expr::Number {
                value: if neg { -value } else { value },
                span,
                duration_ms: duration_ms.map(|d| if neg { -d } else { d }),
            });
        }
        if !neg {
            return Ok(operand);
        }
        Ok(Expr::Unary { neg, expr: Box::new(operand), span })
    }

    fn label_list(&mut self, ctx: &str) -> Result<Vec<String>, ParseError> {
        self.expect(Tok::LParen, &format!(" in {ctx}, expected \"(\""))?;
        let mut out = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::RParen => {
                    self.bump();
                    return Ok(out);
                }
                Tok::Ident(s) => {
                    self.bump();
                    out.push(s);
                }
                Tok::Str(b) => {
                    self.bump();
                    out.push(String::from_utf8_lossy(&b).into_owned());
                }
                _ => {
                    let t = self.tok().clone();
                    return Err(
                        self.err(self.here(), format!("unexpected {} in {ctx}, expected label", self.describe(&t)))
                    );
                }
            }
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {}
                _ => {
                    let t = self.tok().clone();
                    return Err(self.err(
                        self.here(),
                        format!("unexpected {} in {ctx}, expected \",\" or \")\"", self.describe(&t)),
                    ));
                }
            }
        }
    }

    fn fill_value(&mut self) -> Result<f64, ParseError> {
        self.expect(Tok::LParen, " in fill modifier, expected \"(\"")?;
        let neg = match self.peek() {
            Tok::Sub => {
                self.bump();
                true
            }
            Tok::Add => {
                self.bump();
                false
            }
            _ => false,
        };
        let v = match self.peek().clone() {
            Tok::Number(v) => v,
            Tok::Duration(ms) => ms as f64 / 1000.0,
            _ => return Err(self.err_here("expected a number in fill modifier")),
        };
        self.bump();
        self.expect(Tok::RParen, " in fill modifier, expected \")\"")?;
        Ok(if neg { -v } else { v })
    }

    fn matching(&mut self, op: BinOp) -> Result<Option<VectorMatching>, ParseError> {
        let mut m = VectorMatching {
            card: if op.is_set() { Card::ManyToMany } else { Card::OneToOne },
            on: false,
            labels: Vec::new(),
            explicit: false,
            include: Vec::new(),
            fill_left: None,
            fill_right: None,
        };
        let mut any = false;
        if is_kw(self.peek(), "on") || is_kw(self.peek(), "ignoring") {
            m.on = is_kw(self.peek(), "on");
            self.bump();
            m.labels = self.label_list(if m.on { "on clause" } else { "ignoring clause" })?;
            m.explicit = true;
            any = true;
        }
        if is_kw(self.peek(), "group_left") || is_kw(self.peek(), "group_right") {
            let left = is_kw(self.peek(), "group_left");
            let t = self.bump();
            m.card = if left { Card::ManyToOne } else { Card::OneToMany };
            if *self.peek() == Tok::LParen {
                m.include = self.label_list("grouping clause")?;
            }
            if op.is_set() {
                return Err(self.err(
                    Span { start: t.start, end: t.end },
                    format!("no grouping allowed for \"{}\" operation", op.as_str()),
                ));
            }
            any = true;
        }
        loop {
            if is_kw(self.peek(), "fill") && self.peek_at(1) == &Tok::LParen {
                self.bump();
                let v = self.fill_value()?;
                m.fill_left = Some(v);
                m.fill_right = Some(v);
            } else if is_kw(self.peek(), "fill_left") && self.peek_at(1) == &Tok::LParen {
                self.bump();
                m.fill_left = Some(self.fill_value()?);
            } else if is_kw(self.peek(), "fill_right") && self.peek_at(1) == &Tok::LParen {
                self.bump();
                m.fill_right = Some(self.fill_value()?);
            } else {
                break;
            }
            any = true;
        }
        Ok(if any || op.is_set() { Some(m) } else { None })
    }

    fn binary(
        &self,
        op: BinOp,
        lhs: Expr,
        rhs: Expr,
        return_bool: bool,
        matching: Option<VectorMatching>,
        op_span: Span,
    ) -> Result<Expr, ParseError> {
        let span = lhs.span().to(rhs.span());
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        let ok = |t: ValueType| matches!(t, ValueType::Scalar | ValueType::Vector);
        if !ok(lt) || !ok(rt) {
            return Err(self.err(span, "binary expression must contain only scalar and instant vector types"));
        }
        if return_bool && !op.is_comparison() {
            return Err(self.err(span, "bool modifier can only be used on comparison operators"));
        }
        if op.is_comparison() && lt == ValueType::Scalar && rt == ValueType::Scalar && !return_bool {
            return Err(self.err(span, "comparisons between scalars must use BOOL modifier"));
        }
        if op.is_set() && (lt == ValueType::Scalar || rt == ValueType::Scalar) {
            return Err(
                self.err(span, format!("set operator {:?} not allowed in binary scalar expression", op.as_str()))
            );
        }
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        if let Some(m) = &matching {
            if (m.explicit || m.card != Card::OneToOne && m.card != Card::ManyToMany) && !both_vectors {
                return Err(self.err(span, "vector matching only allowed between instant vectors"));
            }
            if (m.fill_left.is_some() || m.fill_right.is_some()) && !both_vectors {
                return Err(self.err(span, "filling in missing series only allowed between instant vectors"));
            }
            if (m.fill_left.is_some() || m.fill_right.is_some()) && op.is_set() {
                return Err(self.err(span, "filling in missing series not allowed for set operators"));
            }
            if m.on {
                for l in &m.include {
                    if m.labels.contains(l) {
                        return Err(
                            self.err(span, format!("label {l:?} must not occur in ON and GROUP clause at once"))
                        );
                    }
                }
            }
        }
        let _ = op_span;
        // Set operators between vectors are always many-to-many; other vector operations get
        // default one-to-one matching.
        let matching = if both_vectors {
            Some(matching.unwrap_or(VectorMatching {
                card: if op.is_set() { Card::ManyToMany } else { Card::OneToOne },
                on: false,
                labels: Vec::new(),
                explicit: false,
                include: Vec::new(),
                fill_left: None,
                fill_right: None,
            }))
        } else {
            None
        };
        Ok(Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), return_bool, matching, span })
    }

    /// A primary expression followed by `[...]`, `offset`, `@`, `anchored`, `smoothed`.
    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            match self.peek().clone() {
                Tok::LBracket => {
                    let lb = self.bump();
                    let range = self.duration_in_brackets()?;
                    if *self.peek() == Tok::Colon {
                        self.bump();
                        let step =
                            if *self.peek() == Tok::RBracket { None } else { Some(self.duration_in_brackets()?) };
                        let rb = self.expect(Tok::RBracket, " in subquery selector")?;
                        if e.value_type() != ValueType::Vector {
                            return Err(self.err(
                                e.span(),
                                format!(
                                    "subquery is only allowed on instant vector, got {} instead",
                                    e.value_type().name()
                                ),
                            ));
                        }
                        let span = Span { start: e.span().start, end: rb.end };
                        e = Expr::Subquery { expr: Box::new(e), range, step, offset: None, at: None, span };
                    } else {
                        let rb = self.expect(Tok::RBracket, " in range selector, expected \"]\"")?;
                        e = match e {
                            Expr::Selector(vs) => {
                                if vs.offset.is_some() || vs.at.is_some() {
                                    return Err(self.err(
                                        Span { start: lb.start, end: rb.end },
                                        "no offset or @ modifiers allowed before range",
                                    ));
                                }
                                let span = Span { start: vs.span.start, end: rb.end };
                                Expr::Matrix { selector: vs, range, span }
                            }
                            other => {
                                return Err(self.err(
                                    other.span().to(Span { start: lb.start, end: rb.end }),
                                    "ranges only allowed for vector selectors",
                                ));
                            }
                        };
                    }
                }
                Tok::Ident(ref s) if s.eq_ignore_ascii_case("offset") => {
                    let t = self.bump();
                    let d = self.offset_duration()?;
                    let end = self.prev_end();
                    e = self.set_offset(e, d, Span { start: t.start, end })?;
                }
                Tok::At => {
                    let t = self.bump();
                    let at = self.at_value()?;
                    let end = self.prev_end();
                    e = self.set_at(e, at, Span { start: t.start, end })?;
                }
                Tok::Ident(ref s) if s.eq_ignore_ascii_case("anchored") || s.eq_ignore_ascii_case("smoothed") => {
                    let ext =
                        if s.eq_ignore_ascii_case("anchored") { Extension::Anchored } else { Extension::Smoothed };
                    let t = self.bump();
                    let span = Span { start: t.start, end: t.end };
                    e = match e {
                        Expr::Selector(mut vs) => {
                            self.set_ext(&mut vs.ext, ext, span)?;
                            vs.span.end = t.end;
                            Expr::Selector(vs)
                        }
                        Expr::Matrix { mut selector, range, span: ms } => {
                            self.set_ext(&mut selector.ext, ext, span)?;
                            Expr::Matrix { selector, range, span: Span { start: ms.start, end: t.end } }
                        }
                        Expr::Subquery { .. } => {
                            let name = if ext == Extension::Anchored { "anchored" } else { "smoothed" };
                            return Err(self.err(span, format!("{name} modifier is not supported for subqueries")));
                        }
                        _ => {
                            let name = if ext == Extension::Anchored { "anchored" } else { "smoothed" };
                            return Err(self.err(
                                span,
                                format!(
                                    "{name} modifier must be preceded by a vector selector or range vector selector"
                                ),
                            ));
                        }
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    fn set_ext(&self, slot: &mut Extension, ext: Extension, span: Span) -> Result<(), ParseError> {
        if *slot != Extension::None && *slot != ext {
            return Err(self.err(span, "anchored and smoothed modifiers cannot be used together"));
        }
        *slot = ext;
        Ok(())
    }

    fn set_offset(&self, e: Expr, d: Duration, span: Span) -> Result<Expr, ParseError> {
        let already = || self.err(span, "offset may not be set multiple times");
        Ok(match e {
            Expr::Selector(mut vs) => {
                if vs.offset.is_some() {
                    return Err(already());
                }
                vs.offset = Some(d);
                vs.span.end = span.end;
                Expr::Selector(vs)
            }
            Expr::Matrix { mut selector, range, span: ms } => {
                if selector.offset.is_some() {
                    return Err(already());
                }
                selector.offset = Some(d);
                Expr::Matrix { selector, range, span: Span { start: ms.start, end: span.end } }
            }
            Expr::Subquery { expr, range, step, offset, at, span: ss } => {
                if offset.is_some() {
                    return Err(already());
                }
                Expr::Subquery { expr, range, step, offset: Some(d), at, span: Span { start: ss.start, end: span.end } }
            }
            _ => return Err(self.err(
                span,
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            )),
        })
    }

    fn set_at(&self, e: Expr, at: At, span: Span) -> Result<Expr, ParseError> {
        let already = || self.err(span, "@ <timestamp> may not be set multiple times");
        Ok(match e {
            Expr::Selector(mut vs) => {
                if vs.at.is_some() {
                    return Err(already());
                }
                vs.at = Some(at);
                vs.span.end = span.end;
                Expr::Selector(vs)
            }
            Expr::Matrix { mut selector, range, span: ms } => {
                if selector.at.is_some() {
                    return Err(already());
                }
                selector.at = Some(at);
                Expr::Matrix { selector, range, span: Span { start: ms.start, end: span.end } }
            }
            Expr::Subquery { expr, range, step, offset, at: old, span: ss } => {
                if old.is_some() {
                    return Err(already());
                }
                Expr::Subquery {
                    expr,
                    range,
                    step,
                    offset,
                    at: Some(at),
                    span: Span { start: ss.start, end: span.end },
                }
            }
            _ => {
                return Err(self.err(
                    span,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        })
    }

    fn at_value(&mut self) -> Result<At, ParseError> {
        let start = self.here();
        if is_kw(self.peek(), "start") || is_kw(self.peek(), "end") {
            let is_start = is_kw(self.peek(), "start");
            self.bump();
            self.expect(Tok::LParen, " in @ modifier, expected \"(\"")?;
            self.expect(Tok::RParen, " in @ modifier, expected \")\"")?;
            return Ok(if is_start { At::Start } else { At::End });
        }
        let neg = match self.peek() {
            Tok::Sub => {
                self.bump();
                true
            }
            Tok::Add => {
                self.bump();
                false
            }
            _ => false,
        };
        let secs = match self.peek().clone() {
            Tok::Number(v) => v,
            Tok::Duration(ms) => ms as f64 / 1000.0,
            _ => {
                let t = self.tok().clone();
                return Err(self.err(self.here(), format!("unexpected {} in @, expected timestamp", self.describe(&t))));
            }
        };
        self.bump();
        let secs = if neg { -secs } else { secs };
        let ms = secs * 1000.0;
        if !ms.is_finite() || ms >= i64::MAX as f64 || ms <= i64::MIN as f64 {
            return Err(self.err(
                start.to(Span { start: self.prev_end(), end: self.prev_end() }),
                format!("timestamp out of bounds for @ modifier: {secs}"),
            ));
        }
        Ok(At::Time(ms.round() as i64))
    }

    /// `offset` takes an optional sign and one duration atom: `offset -5m`, `offset (1h/2)`,
    /// `offset min_of(step(), 1s)`. Operators after it belong to the enclosing expression.
    fn offset_duration(&mut self) -> Result<Duration, ParseError> {
        let start = self.here().start;
        let neg = match self.peek() {
            Tok::Sub => {
                self.bump();
                true
            }
            Tok::Add => {
                self.bump();
                false
            }
            _ => false,
        };
        let atom = self.duration_atom()?;
        let span = Span { start, end: self.prev_end() };
        let literal_ms = match (&atom, neg) {
            (DurationExpr::Number(s), n) if matches!(self.toks[self.i - 1].tok, Tok::Duration(_) | Tok::Number(_)) => {
                let ms = (s * 1000.0).round() as i64;
                Some(if n { -ms } else { ms })
            }
            _ => None,
        };
        let expr = if neg { DurationExpr::Neg(Box::new(atom)) } else { atom };
        Ok(Duration { expr, span, literal_ms })
    }

    /// A full duration expression inside `[...]`.
    fn duration_in_brackets(&mut self) -> Result<Duration, ParseError> {
        let start = self.here().start;
        let single_literal = matches!(self.peek(), Tok::Duration(_) | Tok::Number(_))
            && matches!(self.peek_at(1), Tok::RBracket | Tok::Colon);
        if *self.peek() == Tok::RBracket || *self.peek() == Tok::Colon {
            return Err(self.err_here("unexpected \"]\" in subquery or range selector, expected duration"));
        }
        let expr = self.duration_expr(0)?;
        let span = Span { start, end: self.prev_end() };
        let literal_ms = match (&expr, single_literal) {
            (DurationExpr::Number(s), true) => Some((s * 1000.0).round() as i64),
            _ => None,
        };
        Ok(Duration { expr, span, literal_ms })
    }

    fn duration_expr(&mut self, min_prec: u8) -> Result<DurationExpr, ParseError> {
        let mut lhs = if matches!(self.peek(), Tok::Add | Tok::Sub) {
            let neg = *self.peek() == Tok::Sub;
            self.bump();
            let operand = self.duration_expr(BinOp::Pow.precedence())?;
            if neg { DurationExpr::Neg(Box::new(operand)) } else { operand }
        } else {
            self.duration_atom()?
        };
        loop {
            let op = match self.peek() {
                Tok::Add => BinOp::Add,
                Tok::Sub => BinOp::Sub,
                Tok::Mul => BinOp::Mul,
                Tok::Div => BinOp::Div,
                Tok::Mod => BinOp::Mod,
                Tok::Pow => BinOp::Pow,
                _ => break,
            };
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.bump();
            let next = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.duration_expr(next)?;
            lhs = DurationExpr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn duration_atom(&mut self) -> Result<DurationExpr, ParseError> {
        match self.peek().clone() {
            Tok::Number(v) => {
                self.bump();
                Ok(DurationExpr::Number(v))
            }
            Tok::Duration(ms) => {
                self.bump();
                Ok(DurationExpr::Number(ms as f64 / 1000.0))
            }
            Tok::LParen => {
                self.bump();
                let e = self.duration_expr(0)?;
                self.expect(Tok::RParen, " in duration expression, expected \")\"")?;
                Ok(e)
            }
            Tok::Ident(s) => {
                let name = s.to_ascii_lowercase();
                match name.as_str() {
                    "step" | "range" => {
                        self.bump();
                        self.expect(Tok::LParen, &format!(" in {name}(), expected \"(\""))?;
                        self.expect(Tok::RParen, &format!(" in {name}(), expected \")\""))?;
                        Ok(if name == "step" { DurationExpr::Step } else { DurationExpr::Range })
                    }
                    "min_of" | "max_of" => {
                        self.bump();
                        self.expect(Tok::LParen, &format!(" in {name}(), expected \"(\""))?;
                        let a = self.duration_expr(0)?;
                        self.expect(Tok::Comma, &format!(" in {name}(), expected \",\""))?;
                        let b = self.duration_expr(0)?;
                        self.expect(Tok::RParen, &format!(" in {name}(), expected \")\""))?;
                        Ok(if name == "min_of" {
                            DurationExpr::MinOf(Box::new(a), Box::new(b))
                        } else {
                            DurationExpr::MaxOf(Box::new(a), Box::new(b))
                        })
                    }
                    _ => Err(self.err_here(&format!("unexpected identifier {s:?} in duration expression"))),
                }
            }
            _ => {
                let t = self.tok().clone();
                Err(self.err(self.here(), format!("unexpected {} in duration expression", self.describe(&t))))
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let t = self.tok().clone();
        let span = Span { start: t.start, end: t.end };
        match t.tok {
            Tok::Number(v) => {
                self.bump();
                Ok(Expr::Number { value: v, span, duration_ms: None })
            }
            Tok::Duration(ms) => {
                self.bump();
                Ok(Expr::Number { value: ms as f64 / 1000.0, span, duration_ms: Some(ms) })
            }
            Tok::Str(b) => {
                self.bump();
                Ok(Expr::String { value: b, span })
            }
            Tok::LParen => {
                self.bump();
                let inner = self.expr(0)?;
                let rp = self.tok().clone();
                if rp.tok != Tok::RParen {
                    if rp.tok == Tok::Eof {
                        return Err(self.err(span, "unclosed left parenthesis"));
                    }
                    return Err(self.err(self.here(), format!("unexpected {}, expected \")\"", self.describe(&rp))));
                }
                self.bump();
                Ok(Expr::Paren { expr: Box::new(inner), span: Span { start: t.start, end: rp.end } })
            }
            Tok::LBrace => {
                let matchers = self.matchers(None)?;
                let end = self.prev_end();
                self.selector(None, matchers, Span { start: t.start, end }, false)
            }
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                if let Some(op) = AggOp::from_name(&lower)
                    && (matches!(self.peek_at(1), Tok::LParen)
                        || is_kw(self.peek_at(1), "by")
                        || is_kw(self.peek_at(1), "without"))
                {
                    return self.aggregate(op);
                }
                if *self.peek_at(1) == Tok::LParen {
                    return self.call(&name);
                }
                self.bump();
                if *self.peek() == Tok::LBrace {
                    let matchers = self.matchers(Some(&name))?;
                    let end = self.prev_end();
                    return self.selector(Some(name), matchers, Span { start: t.start, end }, false);
                }
                self.selector(Some(name.clone()), vec![Matcher::equal(METRIC_NAME, name)], span, false)
            }
            Tok::Eof => Err(self.err(span, "unexpected end of input")),
            Tok::RParen => Err(self.err(span, "unexpected right parenthesis ')'")),
            _ => Err(self.err(span, format!("unexpected {}", self.describe(&t)))),
        }
    }

    fn selector(
        &self,
        name: Option<String>,
        matchers: Vec<Matcher>,
        span: Span,
        allow_empty: bool,
    ) -> Result<Expr, ParseError> {
        if !allow_empty && matchers.iter().all(|m| m.matches_empty()) {
            return Err(self.err(span, "vector selector must contain at least one non-empty matcher"));
        }
        Ok(Expr::Selector(VectorSelector { name, matchers, offset: None, at: None, ext: Extension::None, span }))
    }

    /// `{ label op "value", ... }`; `name` is the metric name written before the braces.
    fn matchers(&mut self, name: Option<&str>) -> Result<Vec<Matcher>, ParseError> {
        let open = self.expect(Tok::LBrace, "")?;
        let mut out = Vec::new();
        if let Some(n) = name {
            out.push(Matcher::equal(METRIC_NAME, n));
        }
        let mut quoted_name: Option<String> = None;
        loop {
            let t = self.tok().clone();
            let label = match &t.tok {
                Tok::RBrace => {
                    self.bump();
                    break;
                }
                Tok::Ident(s) => {
                    self.bump();
                    s.clone()
                }
                Tok::Str(b) => {
                    self.bump();
                    let s = String::from_utf8_lossy(b).into_owned();
                    if matches!(self.peek(), Tok::Comma | Tok::RBrace) {
                        // A quoted string alone is the metric name.
                        let earlier = out
                            .iter()
                            .find(|m: &&Matcher| m.name == METRIC_NAME && m.kind == MatchKind::Equal)
                            .map(|m| m.value.clone());
                        if let Some(n) = name.map(str::to_string).or(quoted_name.clone()).or(earlier) {
                            return Err(self.err(
                                Span { start: t.start, end: t.end },
                                format!("metric name must not be set twice: {n:?} or {s:?}"),
                            ));
                        }
                        quoted_name = Some(s.clone());
                        out.push(Matcher::equal(METRIC_NAME, s));
                        if *self.peek() == Tok::Comma {
                            self.bump();
                        }
                        continue;
                    }
                    s
                }
                Tok::Eof => {
                    return Err(
                        self.err(Span { start: open.start, end: open.end }, "unexpected end of input inside braces")
                    );
                }
                _ => return Err(self.err(self.here(), format!("unexpected {} inside braces", self.describe(&t)))),
            };
            let op_tok = self.tok().clone();
            let kind = match op_tok.tok {
                Tok::Assign => MatchKind::Equal,
                Tok::Neq => MatchKind::NotEqual,
                Tok::EqlRegex => MatchKind::Regex,
                Tok::NeqRegex => MatchKind::NotRegex,
                Tok::Eof => {
                    return Err(
                        self.err(Span { start: open.start, end: open.end }, "unexpected end of input inside braces")
                    );
                }
                _ => {
                    return Err(self.err(
                        self.here(),
                        format!(
                            "unexpected {} in label matching, expected label matching operator",
                            self.describe(&op_tok)
                        ),
                    ));
                }
            };
            self.bump();
            let vt = self.tok().clone();
            let value = match &vt.tok {
                Tok::Str(b) => {
                    self.bump();
                    String::from_utf8_lossy(b).into_owned()
                }
                Tok::Eof => {
                    return Err(
                        self.err(Span { start: open.start, end: open.end }, "unexpected end of input inside braces")
                    );
                }
                _ => {
                    return Err(self.err(
                        self.here(),
                        format!("unexpected {} in label matching, expected string", self.describe(&vt)),
                    ));
                }
            };
            if label == METRIC_NAME
                && kind == MatchKind::Equal
                && let Some(n) = name.map(str::to_string).or(quoted_name.clone())
            {
                return Err(self.err(
                    Span { start: t.start, end: vt.end },
                    format!("metric name must not be set twice: {n:?} or {value:?}"),
                ));
            }
            let m = Matcher::new(kind, label, value)
                .map_err(|e| self.err(Span { start: t.start, end: vt.end }, e.to_string()))?;
            out.push(m);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBrace => {}
                Tok::Eof => {
                    return Err(
                        self.err(Span { start: open.start, end: open.end }, "unexpected end of input inside braces")
                    );
                }
                _ => {
                    let t = self.tok().clone();
                    return Err(self.err(
                        self.here(),
                        format!("unexpected {} in label matching, expected \",\" or \"}}\"", self.describe(&t)),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn grouping(&mut self) -> Result<(bool, Vec<String>), ParseError> {
        let without = is_kw(self.peek(), "without");
        self.bump();
        let labels = self.label_list("grouping opts")?;
        Ok((without, labels))
    }

    fn aggregate(&mut self, op: AggOp) -> Result<Expr, ParseError> {
        let start = self.bump();
        let mut grouping: Option<(bool, Vec<String>)> = None;
        if is_kw(self.peek(), "by") || is_kw(self.peek(), "without") {
            grouping = Some(self.grouping()?);
        }
        let lp = self.expect(Tok::LParen, " in aggregation, expected \"(\"")?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                args.push(self.expr(0)?);
                if *self.peek() == Tok::Comma {
                    self.bump();
                    continue;
                }
                break;
            }
        }
        let rp = self.tok().clone();
        if rp.tok != Tok::RParen {
            if rp.tok == Tok::Eof {
                return Err(self.err(Span { start: lp.start, end: lp.end }, "unclosed left parenthesis"));
            }
            return Err(self.err(
                self.here(),
                format!("unexpected {} in aggregation, expected \",\" or \")\"", self.describe(&rp)),
            ));
        }
        self.bump();
        if grouping.is_none() && (is_kw(self.peek(), "by") || is_kw(self.peek(), "without")) {
            grouping = Some(self.grouping()?);
        }
        let span = Span { start: start.start, end: self.prev_end() };
        let want = if op.has_param() { 2 } else { 1 };
        if args.is_empty() {
            return Err(self.err(span, "no arguments for aggregate expression provided"));
        }
        if args.len() != want {
            return Err(self.err(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let expr = args.pop().expect("checked above");
        let param = args.pop();
        if expr.value_type() != ValueType::Vector {
            return Err(self.err(
                expr.span(),
                format!("expected type instant vector in aggregation expression, got {}", expr.value_type().name()),
            ));
        }
        if let Some(p) = &param {
            let want = if op == AggOp::CountValues { ValueType::String } else { ValueType::Scalar };
            if p.value_type() != want {
                return Err(self.err(
                    p.span(),
                    format!("expected type {} in aggregation parameter, got {}", want.name(), p.value_type().name()),
                ));
            }
        }
        let (without, labels, has) = match grouping {
            Some((w, l)) => (w, l, true),
            None => (false, Vec::new(), false),
        };
        Ok(Expr::Aggregate {
            op,
            expr: Box::new(expr),
            param: param.map(Box::new),
            grouping: labels,
            without,
            has_grouping: has,
            span,
        })
    }

    fn call(&mut self, name: &str) -> Result<Expr, ParseError> {
        let t = self.bump();
        let Some(func) = functions::lookup(name)
            .or_else(|| functions::lookup(&name.to_ascii_lowercase()).filter(|f| f.args.is_empty()))
        else {
            return Err(self.err(Span { start: t.start, end: t.end }, format!("unknown function with name {name:?}")));
        };
        let lp = self.bump();
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                // info()'s second argument may be a selector of only empty-matching matchers.
                if func.name == "info" && args.len() == 1 && *self.peek() == Tok::LBrace {
                    let s = self.tok().clone();
                    let matchers = self.matchers(None)?;
                    let end = self.prev_end();
                    args.push(self.selector(None, matchers, Span { start: s.start, end }, true)?);
                } else {
                    args.push(self.expr(0)?);
                }
                if *self.peek() == Tok::Comma {
                    self.bump();
                    continue;
                }
                break;
            }
        }
        let rp = self.tok().clone();
        if rp.tok != Tok::RParen {
            if rp.tok == Tok::Eof {
                return Err(self.err(Span { start: lp.start, end: lp.end }, "unclosed left parenthesis"));
            }
            return Err(self.err(
                self.here(),
                format!(
                    "unexpected {} in call to function {:?}, expected \",\" or \")\"",
                    self.describe(&rp),
                    func.name
                ),
            ));
        }
        self.bump();
        let span = Span { start: t.start, end: rp.end };
        let nargs = func.args.len();
        if func.variadic == 0 {
            if args.len() != nargs {
                return Err(self.err(
                    span,
                    format!("expected {nargs} argument(s) in call to {:?}, got {}", func.name, args.len()),
                ));
            }
        } else {
            let min = nargs - 1;
            if args.len() < min {
                return Err(self.err(
                    span,
                    format!("expected at least {min} argument(s) in call to {:?}, got {}", func.name, args.len()),
                ));
            }
            if func.variadic > 0 && args.len() > min + func.variadic as usize {
                let max = min + func.variadic as usize;
                return Err(self.err(
                    span,
                    format!("expected at most {max} argument(s) in call to {:?}, got {}", func.name, args.len()),
                ));
            }
        }
        for (i, a) in args.iter().enumerate() {
            let want = func.arg_type(i);
            if a.value_type() != want {
                return Err(self.err(
                    a.span(),
                    format!(
                        "expected type {} in call to function {:?}, got {}",
                        want.name(),
                        func.name,
                        a.value_type().name()
                    ),
                ));
            }
        }
        Ok(Expr::Call { func, args, span })
    }
}

#[cfg(test)]
mod tests;
