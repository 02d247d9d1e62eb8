//! TraceQL tokens. Keywords come out as identifiers and the parser decides what they mean;
//! attributes (`.a`, `span."a b"`, `parent.resource.x`) and scoped intrinsics (`span:id`)
//! are lexed whole, because their names may contain characters that are operators elsewhere.

use crate::ParseError;
use crate::ast::{AttrScope, Attribute, Intrinsic};
use crate::printer::is_attr_char;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Identifier or keyword.
    Ident(String),
    Attr(Attribute),
    /// A scoped intrinsic such as `span:id`.
    Intrinsic(Intrinsic),
    Str(String),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    /// Operator or punctuation.
    Op(&'static str),
    Eof,
}

impl Tok {
    /// The token as Tempo's yacc grammar names it in "unexpected ...".
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => keyword_token(s).unwrap_or("IDENTIFIER").to_string(),
            Tok::Attr(_) => "ATTRIBUTE".into(),
            Tok::Intrinsic(_) => "INTRINSIC".into(),
            Tok::Str(_) => "STRING".into(),
            Tok::Int(_) => "INTEGER".into(),
            Tok::Float(_) => "FLOAT".into(),
            Tok::Duration(_) => "DURATION".into(),
            Tok::Op(o) => op_token(o).into(),
            Tok::Eof => "$end".into(),
        }
    }
}

fn keyword_token(s: &str) -> Option<&'static str> {
    Some(match s {
        "true" => "TRUE",
        "false" => "FALSE",
        "nil" => "NIL",
        "ok" => "STATUS_OK",
        "error" => "STATUS_ERROR",
        "unset" => "STATUS_UNSET",
        "unspecified" => "KIND_UNSPECIFIED",
        "internal" => "KIND_INTERNAL",
        "server" => "KIND_SERVER",
        "client" => "KIND_CLIENT",
        "producer" => "KIND_PRODUCER",
        "consumer" => "KIND_CONSUMER",
        "name" => "NAME",
        "status" => "STATUS",
        "statusMessage" => "STATUS_MESSAGE",
        "kind" => "KIND",
        "duration" => "IDURATION",
        "childCount" => "CHILDCOUNT",
        "rootName" => "ROOTNAME",
        "rootServiceName" => "ROOTSERVICENAME",
        "traceDuration" => "TRACEDURATION",
        "nestedSetLeft" => "NESTEDSETLEFT",
        "nestedSetRight" => "NESTEDSETRIGHT",
        "nestedSetParent" => "NESTEDSETPARENT",
        "count" => "COUNT",
        "avg" => "AVG",
        "min" => "MIN",
        "max" => "MAX",
        "sum" => "SUM",
        "by" => "BY",
        "select" => "SELECT",
        "coalesce" => "COALESCE",
        "rate" => "RATE",
        "count_over_time" => "COUNT_OVER_TIME",
        "min_over_time" => "MIN_OVER_TIME",
        "max_over_time" => "MAX_OVER_TIME",
        "avg_over_time" => "AVG_OVER_TIME",
        "sum_over_time" => "SUM_OVER_TIME",
        "quantile_over_time" => "QUANTILE_OVER_TIME",
        "histogram_over_time" => "HISTOGRAM_OVER_TIME",
        "compare" => "COMPARE",
        "topk" => "TOPK",
        "bottomk" => "BOTTOMK",
        "with" => "WITH",
        "minInt" | "maxInt" => "INTEGER",
        _ => return None,
    })
}

fn op_token(o: &str) -> &'static str {
    match o {
        "{" => "OPEN_BRACE",
        "}" => "CLOSE_BRACE",
        "(" => "OPEN_PARENS",
        ")" => "CLOSE_PARENS",
        "," => "COMMA",
        "=" => "EQ",
        "!=" => "NEQ",
        ">" => "GT",
        ">=" => "GTE",
        "<" => "LT",
        "<=" => "LTE",
        "=~" => "RE",
        "!~" => "NRE",
        "+" => "ADD",
        "-" => "SUB",
        "*" => "MUL",
        "/" => "DIV",
        "%" => "MOD",
        "^" => "POW",
        "!" => "NOT",
        "&&" => "AND",
        "||" => "OR",
        "|" => "PIPE",
        ">>" => "DESC",
        "<<" => "ANCE",
        "~" => "TILDE",
        "!>" => "NOT_CHILD",
        "!<" => "NOT_PARENT",
        "!>>" => "NOT_DESC",
        "!<<" => "NOT_ANCE",
        "&>" => "UNION_CHILD",
        "&<" => "UNION_PARENT",
        "&>>" => "UNION_DESC",
        "&<<" => "UNION_ANCE",
        "&~" => "UNION_SIBL",
        _ => "OPERATOR",
    }
}

/// Longest first, so that a prefix never shadows a longer operator.
const OPS: [&str; 35] = [
    "!>>", "!<<", "&>>", "&<<", "!=", "!~", "!>", "!<", "=~", ">=", "<=", ">>", "<<", "&&", "||", "&>", "&<", "&~",
    "{", "}", "(", ")", ",", "=", ">", "<", "+", "-", "*", "/", "%", "^", "!", "|", "~",
];

/// A token with its 1-based line and column.
#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub col: usize,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    col: usize,
}

/// Splits a query into tokens; the last one is always `Eof`.
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer { src, pos: 0, line: 1, col: 1 };
    let mut out = Vec::new();
    loop {
        lx.skip_space();
        let (line, col) = (lx.line, lx.col);
        let tok = lx.next_token()?;
        let end = tok == Tok::Eof;
        out.push(Token { tok, line, col });
        if end {
            return Ok(out);
        }
    }
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError { line: self.line, col: self.col, msg: msg.into() }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn next_token(&mut self) -> Result<Tok, ParseError> {
        let Some(c) = self.peek() else { return Ok(Tok::Eof) };
        if c == '.' {
            if self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) && self.leading_dot_number() {
                return self.number();
            }
            self.bump();
            return self.attribute(AttrScope::Unscoped, false).map(Tok::Attr);
        }
        if c.is_ascii_digit() {
            return self.number();
        }
        if c == '"' {
            self.bump();
            return self.string_body('"').map(Tok::Str);
        }
        if c == '`' {
            self.bump();
            return self.raw_string().map(Tok::Str);
        }
        if c.is_ascii_alphabetic() || c == '_' {
            return self.word();
        }
        for op in OPS {
            if self.rest().starts_with(op) {
                for _ in 0..op.len() {
                    self.bump();
                }
                return Ok(Tok::Op(op));
            }
        }
        Err(self.err(format!("syntax error: unexpected character {c:?}")))
    }

    /// `.5` is a number (as in `quantile_over_time(duration, .99)`) when the digits are not
    /// followed by more attribute characters; `.5xx` is the attribute `5xx`.
    fn leading_dot_number(&self) -> bool {
        let digits = self.rest()[1..].chars().take_while(|c| c.is_ascii_digit()).count();
        !self.rest()[1 + digits..].chars().next().is_some_and(is_attr_char)
    }

    fn word(&mut self) -> Result<Tok, ParseError> {
        let (line, col) = (self.line, self.col);
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.bump();
        }
        let word = self.src[start..self.pos].to_string();
        match (word.as_str(), self.peek()) {
            ("trace" | "span" | "event" | "link" | "instrumentation", Some(':')) => {
                self.bump();
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.bump();
                }
                let name = &self.src[start..self.pos];
                match Intrinsic::from_scoped(&word, name) {
                    Some(i) => Ok(Tok::Intrinsic(i)),
                    None => {
                        Err(ParseError { line, col, msg: format!("syntax error: unknown intrinsic {word}:{name}") })
                    }
                }
            }
            ("span" | "resource" | "event" | "link" | "instrumentation", Some('.')) => {
                self.bump();
                self.attribute(scope_of(&word), false).map(Tok::Attr)
            }
            ("parent", Some('.')) => {
                self.bump();
                let mut scope = AttrScope::Unscoped;
                for (prefix, s) in [("span.", AttrScope::Span), ("resource.", AttrScope::Resource)] {
                    if self.rest().starts_with(prefix) {
                        for _ in 0..prefix.len() {
                            self.bump();
                        }
                        scope = s;
                        break;
                    }
                }
                self.attribute(scope, true).map(Tok::Attr)
            }
            _ => Ok(Tok::Ident(word)),
        }
    }

    /// An attribute name after its scope prefix: unquoted runs and quoted segments.
    fn attribute(&mut self, scope: AttrScope, parent: bool) -> Result<Attribute, ParseError> {
        let mut name = String::new();
        let mut any = false;
        loop {
            match self.peek() {
                Some('"') => {
                    self.bump();
                    name.push_str(&self.quoted_attr()?);
                    any = true;
                }
                Some(c) if is_attr_char(c) => {
                    name.push(c);
                    self.bump();
                    any = true;
                }
                _ => break,
            }
        }
        if !any {
            return Err(self.err("syntax error: attribute name expected"));
        }
        Ok(Attribute { scope, parent, name })
    }

    /// A quoted attribute name segment; only `\"` and `\\` are escapes.
    fn quoted_attr(&mut self) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("syntax error: unterminated quoted attribute name")),
                Some('"') => return Ok(s),
                Some('\\') => match self.bump() {
                    Some(c @ ('"' | '\\')) => s.push(c),
                    _ => return Err(self.err("syntax error: invalid escape in attribute name")),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn raw_string(&mut self) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("syntax error: unterminated raw string")),
                Some('`') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    /// A double-quoted string with Go's escapes; the opening quote is consumed.
    fn string_body(&mut self, quote: char) -> Result<String, ParseError> {
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.bump() else { return Err(self.err("syntax error: unterminated string")) };
            if c == quote {
                break;
            }
            if c == '\n' {
                return Err(self.err("syntax error: newline in string"));
            }
            if c != '\\' {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            let Some(e) = self.bump() else { return Err(self.err("syntax error: unterminated string")) };
            let simple = match e {
                'a' => Some(7u8),
                'b' => Some(8),
                'f' => Some(12),
                'n' => Some(b'\n'),
                'r' => Some(b'\r'),
                't' => Some(b'\t'),
                'v' => Some(11),
                '\\' => Some(b'\\'),
                '\'' => Some(b'\''),
                '"' => Some(b'"'),
                _ => None,
            };
            if let Some(b) = simple {
                bytes.push(b);
                continue;
            }
            match e {
                'x' => bytes.push(self.hex_escape(2)? as u8),
                'u' | 'U' => {
                    let v = self.hex_escape(if e == 'u' { 4 } else { 8 })?;
                    let Some(ch) = char::from_u32(v) else { return Err(self.err("syntax error: invalid escape")) };
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                '0'..='7' => {
                    let mut v = e.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.bump().and_then(|d| d.to_digit(8)) {
                            Some(d) => v = v * 8 + d,
                            None => return Err(self.err("syntax error: invalid escape")),
                        }
                    }
                    if v > 255 {
                        return Err(self.err("syntax error: invalid escape"));
                    }
                    bytes.push(v as u8);
                }
                _ => return Err(self.err("syntax error: invalid escape")),
            }
        }
        String::from_utf8(bytes).map_err(|_| self.err("syntax error: string is not valid UTF-8"))
    }

    fn hex_escape(&mut self, n: usize) -> Result<u32, ParseError> {
        let mut v: u32 = 0;
        for _ in 0..n {
            match self.bump().and_then(|d| d.to_digit(16)) {
                Some(d) => v = v.wrapping_mul(16).wrapping_add(d),
                None => return Err(self.err("syntax error: invalid escape")),
            }
        }
        Ok(v)
    }

    fn take_digits(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        &self.src[start..self.pos]
    }

    /// An integer, a float (`1.5`, `.5`, `1e-7`) or a duration (`1.5ms`, `1h30m`).
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let (line, col) = (self.line, self.col);
        self.take_digits();
        let mut is_float = false;
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.take_digits();
            is_float = true;
        }
        let mantissa_end = self.pos;
        if self.peek().is_some_and(|c| c == 'e' || c == 'E') {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                if sign == 1 {
                    self.bump();
                }
                self.take_digits();
                is_float = true;
            }
        }
        let err = |msg: &str| ParseError { line, col, msg: msg.to_string() };
        if self.pos == mantissa_end && self.peek().is_some_and(|c| c.is_alphabetic()) {
            return self.duration(start, line, col);
        }
        if self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return Err(err("syntax error: invalid number"));
        }
        let text = &self.src[start..self.pos];
        if is_float {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Tok::Float(x)),
                _ => Err(err("syntax error: float out of range")),
            }
        } else {
            text.parse::<i64>().map(Tok::Int).map_err(|_| err("syntax error: integer out of range"))
        }
    }

    /// A Go duration starting at byte `start`: one or more `<decimal><unit>` parts.
    fn duration(&mut self, start: usize, line: usize, col: usize) -> Result<Tok, ParseError> {
        let err = |msg: &str| ParseError { line, col, msg: msg.to_string() };
        self.pos = start;
        self.col = col;
        let mut total: i128 = 0;
        loop {
            let int_part = self.take_digits().to_string();
            let mut frac = String::new();
            if self.peek() == Some('.') {
                self.bump();
                frac = self.take_digits().to_string();
            }
            if int_part.is_empty() && frac.is_empty() {
                return Err(err("syntax error: invalid duration"));
            }
            let unit: i128 = if self.rest().starts_with("ns") {
                1
            } else if self.rest().starts_with("us") || self.rest().starts_with("µs") || self.rest().starts_with("μs")
            {
                1_000
            } else if self.rest().starts_with("ms") {
                1_000_000
            } else if self.rest().starts_with('s') {
                1_000_000_000
            } else if self.rest().starts_with('m') {
                60_000_000_000
            } else if self.rest().starts_with('h') {
                3_600_000_000_000
            } else {
                return Err(err("syntax error: invalid duration unit"));
            };
            let unit_chars = if unit >= 1_000_000_000 { 1 } else { 2 };
            for _ in 0..unit_chars {
                self.bump();
            }
            // Digits beyond 18 cannot change a nanosecond count that fits in i64.
            let int_value: i128 = if int_part.is_empty() {
                0
            } else if int_part.trim_start_matches('0').len() > 19 {
                return Err(err("syntax error: duration out of range"));
            } else {
                int_part.parse::<i128>().map_err(|_| err("syntax error: duration out of range"))?
            };
            let mut part = int_value * unit;
            let frac: String = frac.chars().take(18).collect();
            if !frac.is_empty() {
                let f: i128 = frac.parse().map_err(|_| err("syntax error: invalid duration"))?;
                part += f * unit / 10i128.pow(frac.len() as u32);
            }
            total += part;
            if total > i64::MAX as i128 {
                return Err(err("syntax error: duration out of range"));
            }
            match self.peek() {
                Some(c) if c.is_ascii_digit() => continue,
                Some('.') if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => continue,
                Some(c) if c.is_alphanumeric() || c == '_' => return Err(err("syntax error: invalid duration unit")),
                _ => return Ok(Tok::Duration(total as i64)),
            }
        }
    }
}

fn scope_of(word: &str) -> AttrScope {
    match word {
        "span" => AttrScope::Span,
        "resource" => AttrScope::Resource,
        "event" => AttrScope::Event,
        "link" => AttrScope::Link,
        _ => AttrScope::Instrumentation,
    }
}
