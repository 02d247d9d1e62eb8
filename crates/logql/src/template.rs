//! The Go `text/template` subset used by `line_format` and `label_format`, with Loki's
//! function set.
//!
//! Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `/* */` comments;
//! pipelines with `|`; fields `.a.b`, `$var`, `$var.a`, `$`; literals (strings, raw strings,
//! numbers, `true`/`false`/`nil`); parenthesised pipelines; variable declaration `:=` and
//! assignment `=`; `if`/`else if`/`else`/`end`, `range` (lists, maps, integers; `$i, $v :=`,
//! `else`), `with`/`else`.
//!
//! Functions: Go built-ins `and or not eq ne lt le gt ge len index print printf println`;
//! Loki's `__line__ __timestamp__ alignLeft alignRight urlencode urldecode count
//! regexReplaceAll regexReplaceAllLiteral bytes duration duration_seconds unixEpochMillis
//! unixEpochNanos unixToTime fromJson toDateInZone` (UTC/Local zones only); sprig strings
//! `lower upper title trunc substr contains hasPrefix hasSuffix indent nindent replace repeat
//! trim trimAll trimPrefix trimSuffix b64enc b64dec default`; sprig math `int float64 add sub
//! mul div mod addf subf mulf divf max min maxf minf ceil floor round`; dates `date toDate now
//! unixEpoch`; deprecated Go strings functions `ToLower ToUpper Replace Trim TrimLeft TrimRight
//! TrimPrefix TrimSuffix TrimSpace`. All times are UTC.
//!
//! Not supported (parse error "function not defined"): `slice html js urlquery call`,
//! `define`/`template`/`block`, `break`/`continue`, method calls, and time zones other than
//! UTC.

use crate::units::{b64_decode, b64_encode, parse_bytes, parse_go_duration, parse_go_float};
use regex::Regex;
use std::collections::{BTreeMap, HashMap};

const MAX_NEST: usize = 64;
const MAX_OUTPUT: usize = 1 << 20;

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    nodes: Vec<Node>,
    regex_cache: HashMap<String, Regex>,
}

#[derive(Clone, Debug)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

#[derive(Clone, Debug)]
struct Pipe {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Vec<Operand>>,
}

#[derive(Clone, Debug)]
enum Operand {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Bool(bool),
    Nil,
    Str(String),
    Int(i64),
    Float(f64),
    Sub(Box<Pipe>, Vec<String>),
}

/// A template value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `nil`
    Nil,
    /// bool
    Bool(bool),
    /// int
    Int(i64),
    /// float64
    Float(f64),
    /// string
    Str(String),
    /// A UTC time: seconds and nanoseconds since the epoch.
    Time(i64, u32),
    /// A list.
    List(Vec<Value>),
    /// A map; the flag says a missing key reads as `""` (the label map) instead of nil.
    Map(BTreeMap<String, Value>, bool),
}

const FUNCS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "__line__",
    "__timestamp__",
    "alignLeft",
    "alignRight",
    "urlencode",
    "urldecode",
    "count",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "bytes",
    "duration",
    "duration_seconds",
    "unixEpochMillis",
    "unixEpochNanos",
    "unixToTime",
    "fromJson",
    "toDateInZone",
    "lower",
    "upper",
    "title",
    "trunc",
    "substr",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "indent",
    "nindent",
    "replace",
    "repeat",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "b64enc",
    "b64dec",
    "default",
    "int",
    "float64",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "date",
    "toDate",
    "now",
    "unixEpoch",
    "ToLower",
    "ToUpper",
    "Replace",
    "Trim",
    "TrimLeft",
    "TrimRight",
    "TrimPrefix",
    "TrimSuffix",
    "TrimSpace",
];

// ---------------------------------------------------------------------------------------
// Lexing

#[derive(Clone, Debug, PartialEq)]
enum T {
    Field(Vec<String>),
    Dot,
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(String),
    LParen,
    RParen(Vec<String>),
    Pipe,
    Decl,
    Assign,
    Comma,
}

enum Piece {
    Text(String),
    Action(Vec<T>),
}

fn lex(src: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    loop {
        let Some(open) = rest.find("{{") else {
            let t = if trim_next { rest.trim_start() } else { rest };
            if !t.is_empty() {
                out.push(Piece::Text(t.to_string()));
            }
            return Ok(out);
        };
        let mut text = rest.get(..open).unwrap_or_default();
        if trim_next {
            text = text.trim_start();
        }
        let mut body = rest.get(open + 2..).unwrap_or_default();
        if body.starts_with("- ") || body.starts_with("-\t") || body.starts_with("-\n") {
            text = text.trim_end();
            body = body.get(1..).unwrap_or_default();
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        let trimmed = body.trim_start();
        if let Some(c) = trimmed.strip_prefix("/*") {
            let Some(end) = c.find("*/") else { return Err("unclosed comment".into()) };
            let after = c.get(end + 2..).unwrap_or_default().trim_start();
            let (after, trim) = if let Some(a) = after.strip_prefix("-}}") {
                (a, true)
            } else if let Some(a) = after.strip_prefix("}}") {
                (a, false)
            } else {
                return Err("comment ends before closing delimiter".into());
            };
            trim_next = trim;
            rest = after;
            continue;
        }
        let (toks, after, trim) = lex_action(body)?;
        out.push(Piece::Action(toks));
        trim_next = trim;
        rest = after;
    }
}

fn lex_fields(s: &str) -> (Vec<String>, &str) {
    let mut fields = Vec::new();
    let mut rest = s;
    while let Some(r) = rest.strip_prefix('.') {
        let n = r.char_indices().find(|(_, c)| !(c.is_alphanumeric() || *c == '_')).map(|(i, _)| i).unwrap_or(r.len());
        if n == 0 {
            break;
        }
        fields.push(r.get(..n).unwrap_or_default().to_string());
        rest = r.get(n..).unwrap_or_default();
    }
    (fields, rest)
}

/// Lexes one action body; returns the tokens, the text after `}}` and the right-trim flag.
fn lex_action(body: &str) -> Result<(Vec<T>, &str, bool), String> {
    let mut toks = Vec::new();
    let mut rest = body;
    loop {
        let ws = rest.len() - rest.trim_start().len();
        let had_ws = ws > 0;
        rest = rest.get(ws..).unwrap_or_default();
        if had_ws && let Some(a) = rest.strip_prefix("-}}") {
            return Ok((toks, a, true));
        }
        if let Some(a) = rest.strip_prefix("}}") {
            return Ok((toks, a, false));
        }
        let Some(c) = rest.chars().next() else { return Err("unclosed action".into()) };
        match c {
            '.' => {
                let (fields, r) = lex_fields(rest);
                if fields.is_empty() {
                    if rest.get(1..).is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())) {
                        let n = rest.get(1..).unwrap_or_default().chars().take_while(|c| c.is_ascii_digit()).count();
                        toks.push(T::Num(rest.get(..n + 1).unwrap_or_default().to_string()));
                        rest = rest.get(n + 1..).unwrap_or_default();
                        continue;
                    }
                    toks.push(T::Dot);
                    rest = rest.get(1..).unwrap_or_default();
                } else {
                    toks.push(T::Field(fields));
                    rest = r;
                }
            }
            '$' => {
                let r = rest.get(1..).unwrap_or_default();
                let n = r
                    .char_indices()
                    .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                    .map(|(i, _)| i)
                    .unwrap_or(r.len());
                let name = r.get(..n).unwrap_or_default().to_string();
                let (fields, r2) = lex_fields(r.get(n..).unwrap_or_default());
                toks.push(T::Var(name, fields));
                rest = r2;
            }
            '"' => {
                let mut out = String::new();
                let mut it = rest.char_indices().skip(1);
                let mut end = None;
                while let Some((i, ch)) = it.next() {
                    match ch {
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        '\\' => match it.next() {
                            Some((_, 'n')) => out.push('\n'),
                            Some((_, 't')) => out.push('\t'),
                            Some((_, 'r')) => out.push('\r'),
                            Some((_, '\\')) => out.push('\\'),
                            Some((_, '"')) => out.push('"'),
                            Some((_, '\'')) => out.push('\''),
                            Some((_, 'a')) => out.push('\u{7}'),
                            Some((_, 'b')) => out.push('\u{8}'),
                            Some((_, 'f')) => out.push('\u{c}'),
                            Some((_, 'v')) => out.push('\u{b}'),
                            Some((_, 'u')) => {
                                let mut v = 0u32;
                                for _ in 0..4 {
                                    let Some(d) = it.next().and_then(|(_, h)| h.to_digit(16)) else {
                                        return Err("invalid escape in string".into());
                                    };
                                    v = v * 16 + d;
                                }
                                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                            }
                            _ => return Err("invalid escape in string".into()),
                        },
                        '\n' => return Err("unterminated quoted string".into()),
                        ch => out.push(ch),
                    }
                }
                let Some(end) = end else { return Err("unterminated quoted string".into()) };
                toks.push(T::Str(out));
                rest = rest.get(end..).unwrap_or_default();
            }
            '`' => {
                let r = rest.get(1..).unwrap_or_default();
                let Some(end) = r.find('`') else { return Err("unterminated raw quoted string".into()) };
                toks.push(T::Str(r.get(..end).unwrap_or_default().to_string()));
                rest = r.get(end + 1..).unwrap_or_default();
            }
            '(' => {
                toks.push(T::LParen);
                rest = rest.get(1..).unwrap_or_default();
            }
            ')' => {
                let (fields, r) = lex_fields(rest.get(1..).unwrap_or_default());
                toks.push(T::RParen(fields));
                rest = r;
            }
            '|' => {
                toks.push(T::Pipe);
                rest = rest.get(1..).unwrap_or_default();
            }
            ',' => {
                toks.push(T::Comma);
                rest = rest.get(1..).unwrap_or_default();
            }
            ':' if rest.starts_with(":=") => {
                toks.push(T::Decl);
                rest = rest.get(2..).unwrap_or_default();
            }
            '=' => {
                toks.push(T::Assign);
                rest = rest.get(1..).unwrap_or_default();
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let n = rest
                    .char_indices()
                    .skip(1)
                    .find(|(_, ch)| !(ch.is_ascii_alphanumeric() || *ch == '.' || *ch == '_'))
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                toks.push(T::Num(rest.get(..n).unwrap_or_default().to_string()));
                rest = rest.get(n..).unwrap_or_default();
            }
            c if c.is_alphabetic() || c == '_' => {
                let n = rest
                    .char_indices()
                    .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                toks.push(T::Ident(rest.get(..n).unwrap_or_default().to_string()));
                rest = rest.get(n..).unwrap_or_default();
            }
            c => return Err(format!("unexpected {c:?} in command")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

struct TParser {
    pieces: Vec<Piece>,
    i: usize,
}

enum ListEnd {
    Eof,
    End,
    Else(Vec<T>),
}

impl Template {
    /// Parses a template; the error is Go-like text.
    pub fn parse(src: &str) -> Result<Template, String> {
        let mut p = TParser { pieces: lex(src)?, i: 0 };
        let (nodes, end) = p.list(0)?;
        match end {
            ListEnd::Eof => Ok(Template { nodes, regex_cache: HashMap::new() }),
            ListEnd::End => Err("unexpected {{end}}".into()),
            ListEnd::Else(_) => Err("unexpected {{else}}".into()),
        }
    }

    /// When the template is exactly `{{.name}}`, the label name.
    pub fn single_field(&self) -> Option<&str> {
        match self.nodes.as_slice() {
            [Node::Action(p)] if p.decl.is_empty() && p.cmds.len() == 1 => match p.cmds.first().map(Vec::as_slice) {
                Some([Operand::Field(f)]) if f.len() == 1 => f.first().map(String::as_str),
                _ => None,
            },
            _ => None,
        }
    }

    /// Renders with the label map as `.`; `line` and `ts_ns` feed `__line__` and
    /// `__timestamp__`.
    pub fn execute(&mut self, labels: &BTreeMap<String, String>, line: &str, ts_ns: i64) -> Result<String, String> {
        let root = Value::Map(labels.iter().map(|(k, v)| (k.clone(), Value::Str(v.clone()))).collect(), true);
        let mut ex = Exec {
            line,
            ts_ns,
            vars: vec![("$".into(), root.clone())],
            out: String::new(),
            regex_cache: &mut self.regex_cache,
        };
        ex.nodes(&self.nodes, &root, 0)?;
        Ok(ex.out)
    }
}

impl TParser {
    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, ListEnd), String> {
        if depth > MAX_NEST {
            return Err("template nested too deeply".into());
        }
        let mut nodes = Vec::new();
        while let Some(piece) = self.pieces.get(self.i) {
            self.i += 1;
            let toks = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    continue;
                }
                Piece::Action(toks) => toks.clone(),
            };
            let kw = match toks.first() {
                Some(T::Ident(s)) => s.as_str(),
                _ => "",
            };
            let args = toks.get(1..).unwrap_or_default();
            match kw {
                "end" => {
                    if !args.is_empty() {
                        return Err("unexpected tokens after end".into());
                    }
                    return Ok((nodes, ListEnd::End));
                }
                "else" => return Ok((nodes, ListEnd::Else(args.to_vec()))),
                "if" => {
                    let mut branches = vec![(parse_pipe(args, true)?, Vec::new())];
                    let mut else_nodes = Vec::new();
                    loop {
                        let (body, end) = self.list(depth + 1)?;
                        if let Some(last) = branches.last_mut() {
                            last.1 = body;
                        }
                        match end {
                            ListEnd::End => break,
                            ListEnd::Eof => return Err("unexpected EOF".into()),
                            ListEnd::Else(rest) => match rest.first() {
                                Some(T::Ident(s)) if s == "if" => {
                                    branches.push((parse_pipe(rest.get(1..).unwrap_or_default(), true)?, Vec::new()));
                                }
                                None => {
                                    let (body, end) = self.list(depth + 1)?;
                                    if !matches!(end, ListEnd::End) {
                                        return Err("expected end after else".into());
                                    }
                                    else_nodes = body;
                                    break;
                                }
                                _ => return Err("unexpected tokens after else".into()),
                            },
                        }
                    }
                    nodes.push(Node::If(branches, else_nodes));
                }
                "range" | "with" => {
                    let pipe = parse_pipe(args, true)?;
                    let (body, end) = self.list(depth + 1)?;
                    let else_nodes = match end {
                        ListEnd::End => Vec::new(),
                        ListEnd::Eof => return Err("unexpected EOF".into()),
                        ListEnd::Else(rest) => {
                            if !rest.is_empty() {
                                return Err(format!("unexpected tokens after else in {kw}"));
                            }
                            let (b, e) = self.list(depth + 1)?;
                            if !matches!(e, ListEnd::End) {
                                return Err("expected end after else".into());
                            }
                            b
                        }
                    };
                    nodes.push(if kw == "range" {
                        Node::Range(pipe, body, else_nodes)
                    } else {
                        Node::With(pipe, body, else_nodes)
                    });
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(format!("{kw} is not supported"));
                }
                _ => nodes.push(Node::Action(parse_pipe(&toks, true)?)),
            }
        }
        Ok((nodes, ListEnd::Eof))
    }
}

fn parse_pipe(toks: &[T], allow_decl: bool) -> Result<Pipe, String> {
    let mut decl = Vec::new();
    let mut assign = false;
    let mut start = 0;
    // `$x :=`, `$i, $v :=`, `$x =`
    if allow_decl {
        let mut j = 0;
        let mut names = Vec::new();
        while let Some(T::Var(n, f)) = toks.get(j) {
            if !f.is_empty() {
                break;
            }
            names.push(format!("${n}"));
            j += 1;
            if toks.get(j) == Some(&T::Comma) {
                j += 1;
                continue;
            }
            break;
        }
        match toks.get(j) {
            Some(T::Decl) if !names.is_empty() => {
                decl = names;
                start = j + 1;
            }
            Some(T::Assign) if !names.is_empty() => {
                decl = names;
                assign = true;
                start = j + 1;
            }
            _ => {}
        }
    }
    let body = toks.get(start..).unwrap_or_default();
    let mut cmds = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while let Some(t) = body.get(i) {
        i += 1;
        let op = match t {
            T::Pipe => {
                if cur.is_empty() {
                    return Err("missing command".into());
                }
                cmds.push(std::mem::take(&mut cur));
                continue;
            }
            T::Dot => Operand::Dot,
            T::Field(f) => Operand::Field(f.clone()),
            T::Var(n, f) => Operand::Var(format!("${n}"), f.clone()),
            T::Str(s) => Operand::Str(s.clone()),
            T::Num(n) => parse_num(n)?,
            T::Ident(s) => match s.as_str() {
                "true" => Operand::Bool(true),
                "false" => Operand::Bool(false),
                "nil" => Operand::Nil,
                _ if FUNCS.contains(&s.as_str()) => Operand::Func(s.clone()),
                _ => return Err(format!("function {s:?} not defined")),
            },
            T::LParen => {
                let mut depth = 1usize;
                let start = i;
                let mut close = None;
                while let Some(t2) = body.get(i) {
                    i += 1;
                    match t2 {
                        T::LParen => depth += 1,
                        T::RParen(_) => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(i - 1);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(close) = close else { return Err("unclosed left paren".into()) };
                let fields = match body.get(close) {
                    Some(T::RParen(f)) => f.clone(),
                    _ => Vec::new(),
                };
                let inner = parse_pipe(body.get(start..close).unwrap_or_default(), false)?;
                Operand::Sub(Box::new(inner), fields)
            }
            T::RParen(_) => return Err("unexpected right paren".into()),
            T::Decl | T::Assign | T::Comma => return Err("unexpected declaration in command".into()),
        };
        cur.push(op);
    }
    if !cur.is_empty() {
        cmds.push(cur);
    }
    if cmds.is_empty() {
        return Err("missing value for command".into());
    }
    Ok(Pipe { decl, assign, cmds })
}

fn parse_num(n: &str) -> Result<Operand, String> {
    let clean = n.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if body.contains(['.', 'e', 'E']) {
        None
    } else {
        body.parse::<i64>().ok()
    };
    if let Some(v) = int {
        return Ok(Operand::Int(if neg { -v } else { v }));
    }
    match body.parse::<f64>() {
        Ok(f)
            if !body.is_empty()
                && body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) =>
        {
            Ok(Operand::Float(if neg { -f } else { f }))
        }
        _ => Err(format!("bad number syntax: {n:?}")),
    }
}

// ---------------------------------------------------------------------------------------
// Execution

struct Exec<'a> {
    line: &'a str,
    ts_ns: i64,
    vars: Vec<(String, Value)>,
    out: String,
    regex_cache: &'a mut HashMap<String, Regex>,
}

impl Value {
    fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Time(..) => true,
            Value::List(l) => !l.is_empty(),
            Value::Map(m, _) => !m.is_empty(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Time(..) => "time.Time",
            Value::List(_) => "[]interface {}",
            Value::Map(..) => "map[string]interface {}",
        }
    }

    /// Go's `fmt.Sprint` of the value.
    pub fn render(&self) -> String {
        match self {
            Value::Nil => "<no value>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => seer_model::go_format_g(*f),
            Value::Str(s) => s.clone(),
            Value::Time(s, n) => format_time(*s, *n, "2006-01-02 15:04:05.999999999 -0700 MST"),
            Value::List(l) => format!("[{}]", l.iter().map(|v| v.render_inner()).collect::<Vec<_>>().join(" ")),
            Value::Map(m, _) => format!(
                "map[{}]",
                m.iter().map(|(k, v)| format!("{k}:{}", v.render_inner())).collect::<Vec<_>>().join(" ")
            ),
        }
    }

    fn render_inner(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            v => v.render(),
        }
    }
}

fn field(v: &Value, name: &str) -> Result<Value, String> {
    match v {
        Value::Map(m, zero_str) => Ok(match m.get(name) {
            Some(x) => x.clone(),
            None if *zero_str => Value::Str(String::new()),
            None => Value::Nil,
        }),
        Value::Nil => Err(format!("nil pointer evaluating interface {{}}.{name}")),
        other => Err(format!("can't evaluate field {name} in type {}", other.type_name())),
    }
}

fn fields(mut v: Value, names: &[String]) -> Result<Value, String> {
    for n in names {
        v = field(&v, n)?;
    }
    Ok(v)
}

impl Exec<'_> {
    fn emit(&mut self, s: &str) -> Result<(), String> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err("template output too large".into());
        }
        self.out.push_str(s);
        Ok(())
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_NEST {
            return Err("template nested too deeply".into());
        }
        let mark = self.vars.len();
        for n in nodes {
            match n {
                Node::Text(t) => self.emit(t)?,
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        self.emit(&v.render())?;
                    }
                }
                Node::If(branches, else_nodes) => {
                    let mut done = false;
                    for (cond, body) in branches {
                        if self.pipe(cond, dot)?.truth() {
                            self.nodes(body, dot, depth + 1)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.nodes(else_nodes, dot, depth + 1)?;
                    }
                }
                Node::With(p, body, else_nodes) => {
                    let v = self.pipe_value(p, dot)?;
                    if v.truth() {
                        self.nodes(body, &v, depth + 1)?;
                    } else {
                        self.nodes(else_nodes, dot, depth + 1)?;
                    }
                }
                Node::Range(p, body, else_nodes) => {
                    let v = self.pipe_value(p, dot)?;
                    let items: Vec<(Value, Value)> = match v {
                        Value::List(l) => l.into_iter().enumerate().map(|(i, x)| (Value::Int(i as i64), x)).collect(),
                        Value::Map(m, _) => m.into_iter().map(|(k, x)| (Value::Str(k), x)).collect(),
                        Value::Int(n) => (0..n.clamp(0, 100_000)).map(|i| (Value::Int(i), Value::Int(i))).collect(),
                        Value::Nil => Vec::new(),
                        other => return Err(format!("range can't iterate over {}", other.render())),
                    };
                    if items.is_empty() {
                        self.nodes(else_nodes, dot, depth + 1)?;
                    }
                    for (k, x) in items {
                        let inner_mark = self.vars.len();
                        match p.decl.as_slice() {
                            [v1] => self.vars.push((v1.clone(), x.clone())),
                            [k1, v1] => {
                                self.vars.push((k1.clone(), k));
                                self.vars.push((v1.clone(), x.clone()));
                            }
                            _ => {}
                        }
                        self.nodes(body, &x, depth + 1)?;
                        self.vars.truncate(inner_mark);
                    }
                }
            }
        }
        self.vars.truncate(mark.max(1));
        Ok(())
    }

    /// Evaluates a pipeline used by range/with: declarations bind per iteration, not here.
    fn pipe_value(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let mut prev: Option<Value> = None;
        for cmd in &p.cmds {
            prev = Some(self.cmd(cmd, dot, prev)?);
        }
        Ok(prev.unwrap_or(Value::Nil))
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let v = self.pipe_value(p, dot)?;
        if let Some(name) = p.decl.first() {
            if p.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return Err(format!("undefined variable: {name}")),
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn var(&self, name: &str) -> Result<Value, String> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("undefined variable: {name}"))
    }

    fn operand(&mut self, op: &Operand, dot: &Value) -> Result<Value, String> {
        Ok(match op {
            Operand::Dot => dot.clone(),
            Operand::Field(f) => fields(dot.clone(), f)?,
            Operand::Var(n, f) => fields(self.var(n)?, f)?,
            Operand::Bool(b) => Value::Bool(*b),
            Operand::Nil => Value::Nil,
            Operand::Str(s) => Value::Str(s.clone()),
            Operand::Int(i) => Value::Int(*i),
            Operand::Float(f) => Value::Float(*f),
            Operand::Sub(p, f) => {
                let v = self.pipe_value(p, dot)?;
                fields(v, f)?
            }
            Operand::Func(name) => self.call(name, Vec::new())?,
        })
    }

    fn cmd(&mut self, cmd: &[Operand], dot: &Value, prev: Option<Value>) -> Result<Value, String> {
        let Some(first) = cmd.first() else { return Err("empty command".into()) };
        if let Operand::Func(name) = first {
            let mut args = Vec::with_capacity(cmd.len());
            for a in cmd.get(1..).unwrap_or_default() {
                args.push(self.operand(a, dot)?);
            }
            if let Some(p) = prev {
                args.push(p);
            }
            return self.call(name, args);
        }
        if cmd.len() > 1 || prev.is_some() {
            return Err("can't give argument to non-function".into());
        }
        self.operand(first, dot)
    }

    fn regex(&mut self, re: &str) -> Result<Regex, String> {
        if let Some(r) = self.regex_cache.get(re) {
            return Ok(r.clone());
        }
        let r = Regex::new(re).map_err(|e| format!("error parsing regexp: {e}"))?;
        if self.regex_cache.len() < 64 {
            self.regex_cache.insert(re.to_string(), r.clone());
        }
        Ok(r)
    }

    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        let n = args.len();
        let want = |k: usize| -> Result<(), String> {
            if n == k { Ok(()) } else { Err(format!("wrong number of args for {name}: want {k} got {n}")) }
        };
        let at_least = |k: usize| -> Result<(), String> {
            if n >= k { Ok(()) } else { Err(format!("wrong number of args for {name}: want at least {k} got {n}")) }
        };
        let a = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
        let s = |i: usize| as_str(name, &a(i));
        let int = |i: usize| as_int(name, &a(i));
        Ok(match name {
            "and" => {
                at_least(1)?;
                args.iter().find(|v| !v.truth()).cloned().unwrap_or_else(|| a(n - 1))
            }
            "or" => {
                at_least(1)?;
                args.iter().find(|v| v.truth()).cloned().unwrap_or_else(|| a(n - 1))
            }
            "not" => {
                want(1)?;
                Value::Bool(!a(0).truth())
            }
            "eq" => {
                at_least(2)?;
                let first = a(0);
                let mut any = false;
                for other in args.iter().skip(1) {
                    if compare(&first, other)? == std::cmp::Ordering::Equal {
                        any = true;
                    }
                }
                Value::Bool(any)
            }
            "ne" | "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let o = compare(&a(0), &a(1))?;
                if name != "ne" && matches!(a(0), Value::Bool(_)) {
                    return Err("invalid type for comparison".into());
                }
                Value::Bool(match name {
                    "ne" => o.is_ne(),
                    "lt" => o.is_lt(),
                    "le" => o.is_le(),
                    "gt" => o.is_gt(),
                    _ => o.is_ge(),
                })
            }
            "len" => {
                want(1)?;
                Value::Int(match a(0) {
                    Value::Str(s) => s.len() as i64,
                    Value::List(l) => l.len() as i64,
                    Value::Map(m, _) => m.len() as i64,
                    other => return Err(format!("len of type {}", other.type_name())),
                })
            }
            "index" => {
                at_least(1)?;
                let mut cur = a(0);
                for k in args.iter().skip(1) {
                    cur = match (&cur, k) {
                        (Value::Map(m, zero), Value::Str(key)) => match m.get(key) {
                            Some(v) => v.clone(),
                            None if *zero => Value::Str(String::new()),
                            None => Value::Nil,
                        },
                        (Value::List(l), Value::Int(i)) => l
                            .get(usize::try_from(*i).map_err(|_| format!("index out of range: {i}"))?)
                            .cloned()
                            .ok_or_else(|| format!("index out of range: {i}"))?,
                        (Value::Str(st), Value::Int(i)) => {
                            let b = st
                                .as_bytes()
                                .get(usize::try_from(*i).map_err(|_| format!("index out of range: {i}"))?)
                                .copied();
                            Value::Int(i64::from(b.ok_or_else(|| format!("index out of range: {i}"))?))
                        }
                        (c, _) => return Err(format!("can't index item of type {}", c.type_name())),
                    };
                }
                cur
            }
            "print" => {
                let mut out = String::new();
                for (i, v) in args.iter().enumerate() {
                    let is_str = matches!(v, Value::Str(_));
                    if i > 0 && !is_str && !matches!(args.get(i - 1), Some(Value::Str(_))) {
                        out.push(' ');
                    }
                    out.push_str(&v.render_inner());
                }
                Value::Str(out)
            }
            "println" => {
                Value::Str(format!("{}\n", args.iter().map(Value::render_inner).collect::<Vec<_>>().join(" ")))
            }
            "printf" => {
                at_least(1)?;
                Value::Str(sprintf(&s(0)?, args.get(1..).unwrap_or_default()))
            }
            "__line__" => {
                want(0)?;
                Value::Str(self.line.to_string())
            }
            "__timestamp__" => {
                want(0)?;
                let (sec, ns) = split_ns(self.ts_ns);
                Value::Time(sec, ns)
            }
            "alignLeft" | "alignRight" => {
                want(2)?;
                let count = int(0)?;
                let src = s(1)?;
                let chars: Vec<char> = src.chars().collect();
                let count = usize::try_from(count).map_err(|_| format!("{name}: negative count"))?.min(MAX_OUTPUT);
                if chars.len() >= count {
                    let kept: String = if name == "alignLeft" {
                        chars.iter().take(count).collect()
                    } else {
                        chars.iter().skip(chars.len() - count).collect()
                    };
                    Value::Str(kept)
                } else {
                    let pad = " ".repeat(count - chars.len());
                    Value::Str(if name == "alignLeft" { format!("{src}{pad}") } else { format!("{pad}{src}") })
                }
            }
            "urlencode" => {
                want(1)?;
                Value::Str(query_escape(&s(0)?))
            }
            "urldecode" => {
                want(1)?;
                Value::Str(query_unescape(&s(0)?)?)
            }
            "count" => {
                want(2)?;
                let re = self.regex(&s(0)?)?;
                Value::Int(re.find_iter(&s(1)?).count() as i64)
            }
            "regexReplaceAll" | "regexReplaceAllLiteral" => {
                want(3)?;
                let re = self.regex(&s(0)?)?;
                let src = s(1)?;
                let repl = s(2)?;
                Value::Str(if name == "regexReplaceAll" {
                    re.replace_all(&src, repl.as_str()).into_owned()
                } else {
                    re.replace_all(&src, regex::NoExpand(&repl)).into_owned()
                })
            }
            "bytes" => {
                want(1)?;
                Value::Float(parse_bytes(&s(0)?)? as f64)
            }
            "duration" | "duration_seconds" => {
                want(1)?;
                Value::Float(parse_go_duration(&s(0)?)? as f64 / 1e9)
            }
            "unixEpochMillis" | "unixEpochNanos" | "unixEpoch" => {
                want(1)?;
                let Value::Time(sec, ns) = a(0) else {
                    return Err(format!("wrong type for value; expected time.Time; got {}", a(0).type_name()));
                };
                match name {
                    "unixEpochMillis" => Value::Int(sec.saturating_mul(1000).saturating_add(i64::from(ns / 1_000_000))),
                    "unixEpochNanos" => Value::Int(sec.saturating_mul(1_000_000_000).saturating_add(i64::from(ns))),
                    _ => Value::Str(sec.to_string()),
                }
            }
            "unixToTime" => {
                want(1)?;
                let text = s(0)?;
                let v: i64 = text.parse().map_err(|_| format!("strconv.ParseInt: parsing {text:?}: invalid syntax"))?;
                let digits = text.trim_start_matches('-').len();
                let (sec, ns) = match digits {
                    5 => (v.saturating_mul(86_400), 0),
                    10 => (v, 0),
                    13 => (v.div_euclid(1000), (v.rem_euclid(1000) * 1_000_000) as u32),
                    16 => (v.div_euclid(1_000_000), (v.rem_euclid(1_000_000) * 1000) as u32),
                    19 => (v.div_euclid(1_000_000_000), v.rem_euclid(1_000_000_000) as u32),
                    _ => return Err(format!("cannot parse {text:?} as time: unknown unit")),
                };
                Value::Time(sec, ns)
            }
            "fromJson" => {
                want(1)?;
                let v: serde_json::Value = serde_json::from_str(&s(0)?).map_err(|e| e.to_string())?;
                from_json(v, 0)
            }
            "toDateInZone" => {
                want(3)?;
                let zone = s(1)?;
                if !matches!(zone.as_str(), "UTC" | "" | "Local") {
                    return Err(format!("unknown time zone {zone}"));
                }
                let (sec, ns) = parse_time(&s(0)?, &s(2)?).unwrap_or((ZERO_TIME_SECS, 0));
                Value::Time(sec, ns)
            }
            "toDate" => {
                want(2)?;
                let (sec, ns) = parse_time(&s(0)?, &s(1)?).unwrap_or((ZERO_TIME_SECS, 0));
                Value::Time(sec, ns)
            }
            "date" => {
                want(2)?;
                let (sec, ns) = match a(1) {
                    Value::Time(sec, ns) => (sec, ns),
                    Value::Int(i) => (i, 0),
                    _ => {
                        let (sec, ns) = now();
                        (sec, ns)
                    }
                };
                Value::Str(format_time(sec, ns, &s(0)?))
            }
            "now" => {
                want(0)?;
                let (sec, ns) = now();
                Value::Time(sec, ns)
            }
            "lower" | "ToLower" => {
                want(1)?;
                Value::Str(s(0)?.to_lowercase())
            }
            "upper" | "ToUpper" => {
                want(1)?;
                Value::Str(s(0)?.to_uppercase())
            }
            "title" => {
                want(1)?;
                Value::Str(title(&s(0)?))
            }
            "trunc" => {
                want(2)?;
                let c = int(0)?;
                let st = s(1)?;
                let len = st.len() as i64;
                Value::Str(if c < 0 && len + c > 0 {
                    byte_slice(&st, (len + c) as usize, st.len())
                } else if c >= 0 && len > c {
                    byte_slice(&st, 0, c as usize)
                } else {
                    st
                })
            }
            "substr" => {
                want(3)?;
                let (start, end) = (int(0)?, int(1)?);
                let st = s(2)?;
                let len = st.len() as i64;
                let (from, to) = if start < 0 {
                    (0, end)
                } else if end < 0 || end > len {
                    (start, len)
                } else {
                    (start, end)
                };
                if from > to || to > len || from < 0 {
                    return Err(format!("slice bounds out of range [{from}:{to}]"));
                }
                Value::Str(byte_slice(&st, from as usize, to as usize))
            }
            "contains" => {
                want(2)?;
                Value::Bool(s(1)?.contains(&s(0)?))
            }
            "hasPrefix" => {
                want(2)?;
                Value::Bool(s(1)?.starts_with(&s(0)?))
            }
            "hasSuffix" => {
                want(2)?;
                Value::Bool(s(1)?.ends_with(&s(0)?))
            }
            "indent" | "nindent" => {
                want(2)?;
                let k = usize::try_from(int(0)?).unwrap_or(0).min(MAX_OUTPUT);
                let pad = " ".repeat(k);
                let body = format!("{pad}{}", s(1)?.replace('\n', &format!("\n{pad}")));
                Value::Str(if name == "nindent" { format!("\n{body}") } else { body })
            }
            "replace" => {
                want(3)?;
                Value::Str(s(2)?.replace(&s(0)?, &s(1)?))
            }
            "Replace" => {
                want(4)?;
                let (src, old, new, k) = (s(0)?, s(1)?, s(2)?, int(3)?);
                Value::Str(if k < 0 { src.replace(&old, &new) } else { src.replacen(&old, &new, k as usize) })
            }
            "repeat" => {
                want(2)?;
                let k = int(0)?;
                let st = s(1)?;
                let k = usize::try_from(k).map_err(|_| "strings: negative Repeat count".to_string())?;
                if k.saturating_mul(st.len()) > MAX_OUTPUT {
                    return Err("strings: Repeat output length overflow".into());
                }
                Value::Str(st.repeat(k))
            }
            "trim" | "TrimSpace" => {
                want(1)?;
                Value::Str(s(0)?.trim().to_string())
            }
            "trimAll" => {
                want(2)?;
                let cut: Vec<char> = s(0)?.chars().collect();
                Value::Str(s(1)?.trim_matches(|c| cut.contains(&c)).to_string())
            }
            "Trim" | "TrimLeft" | "TrimRight" => {
                want(2)?;
                let cut: Vec<char> = s(1)?.chars().collect();
                let st = s(0)?;
                Value::Str(
                    match name {
                        "Trim" => st.trim_matches(|c| cut.contains(&c)),
                        "TrimLeft" => st.trim_start_matches(|c| cut.contains(&c)),
                        _ => st.trim_end_matches(|c| cut.contains(&c)),
                    }
                    .to_string(),
                )
            }
            "trimPrefix" => {
                want(2)?;
                let (p, st) = (s(0)?, s(1)?);
                Value::Str(st.strip_prefix(p.as_str()).unwrap_or(&st).to_string())
            }
            "trimSuffix" => {
                want(2)?;
                let (p, st) = (s(0)?, s(1)?);
                Value::Str(st.strip_suffix(p.as_str()).unwrap_or(&st).to_string())
            }
            "TrimPrefix" => {
                want(2)?;
                let (st, p) = (s(0)?, s(1)?);
                Value::Str(st.strip_prefix(p.as_str()).unwrap_or(&st).to_string())
            }
            "TrimSuffix" => {
                want(2)?;
                let (st, p) = (s(0)?, s(1)?);
                Value::Str(st.strip_suffix(p.as_str()).unwrap_or(&st).to_string())
            }
            "b64enc" => {
                want(1)?;
                Value::Str(b64_encode(s(0)?.as_bytes()))
            }
            "b64dec" => {
                want(1)?;
                Value::Str(match b64_decode(&s(0)?) {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(e) => e,
                })
            }
            "default" => {
                at_least(1)?;
                let given = if n >= 2 { a(n - 1) } else { Value::Nil };
                if given.truth() { given } else { a(0) }
            }
            "int" => {
                want(1)?;
                Value::Int(to_i64(&a(0)))
            }
            "float64" => {
                want(1)?;
                Value::Float(to_f64(&a(0)))
            }
            "add" => Value::Int(args.iter().fold(0i64, |acc, v| acc.wrapping_add(to_i64(v)))),
            "mul" => {
                at_least(1)?;
                Value::Int(args.iter().skip(1).fold(to_i64(&a(0)), |acc, v| acc.wrapping_mul(to_i64(v))))
            }
            "sub" | "div" | "mod" => {
                want(2)?;
                let (x, y) = (to_i64(&a(0)), to_i64(&a(1)));
                Value::Int(match name {
                    "sub" => x.wrapping_sub(y),
                    "div" => x.checked_div(y).ok_or("runtime error: integer divide by zero")?,
                    _ => x.checked_rem(y).ok_or("runtime error: integer divide by zero")?,
                })
            }
            "max" | "min" => {
                at_least(1)?;
                let it = args.iter().map(to_i64);
                Value::Int(if name == "max" { it.max().unwrap_or(0) } else { it.min().unwrap_or(0) })
            }
            "addf" => Value::Float(args.iter().map(to_f64).sum()),
            "subf" | "mulf" | "divf" => {
                at_least(1)?;
                let mut acc = to_f64(&a(0));
                for v in args.iter().skip(1) {
                    let y = to_f64(v);
                    acc = match name {
                        "subf" => acc - y,
                        "mulf" => acc * y,
                        _ => acc / y,
                    };
                }
                Value::Float(acc)
            }
            "maxf" | "minf" => {
                at_least(1)?;
                let mut acc = to_f64(&a(0));
                for v in args.iter().skip(1) {
                    let y = to_f64(v);
                    acc = if name == "maxf" { acc.max(y) } else { acc.min(y) };
                }
                Value::Float(acc)
            }
            "ceil" => {
                want(1)?;
                Value::Float(to_f64(&a(0)).ceil())
            }
            "floor" => {
                want(1)?;
                Value::Float(to_f64(&a(0)).floor())
            }
            "round" => {
                at_least(2)?;
                let val = to_f64(&a(0));
                let places = to_f64(&a(1));
                let round_on = if n > 2 { to_f64(&a(2)) } else { 0.5 };
                let pow = 10f64.powf(places);
                let digit = pow * val;
                let div = digit.fract();
                let r = if div >= round_on { digit.ceil() } else { digit.floor() };
                Value::Float(r / pow)
            }
            _ => return Err(format!("function {name:?} not defined")),
        })
    }
}

fn as_str(func: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!("error calling {func}: wrong type for value; expected string; got {}", other.type_name())),
    }
}

fn as_int(func: &str, v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(*f as i64),
        other => Err(format!("error calling {func}: wrong type for value; expected int; got {}", other.type_name())),
    }
}

/// sprig's `toInt64` (spf13/cast): unparsable strings give 0.
fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) if f.is_finite() => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = s.trim();
            let t = match t.split_once('.') {
                Some((a, b)) if b.bytes().all(|c| c == b'0') => a,
                _ => t,
            };
            let (neg, body) = match t.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, t.strip_prefix('+').unwrap_or(t)),
            };
            let parsed = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
                i64::from_str_radix(h, 16).ok()
            } else {
                body.parse::<i64>().ok()
            };
            match parsed {
                Some(x) if neg => -x,
                Some(x) => x,
                None => 0,
            }
        }
        _ => 0,
    }
}

/// sprig's `toFloat64`: unparsable strings give 0.
fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => parse_go_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Less)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Nil, Value::Nil) => Ok(Ordering::Equal),
        _ => Err("incompatible types for comparison".into()),
    }
}

fn from_json(v: serde_json::Value, depth: usize) -> Value {
    if depth > 64 {
        return Value::Nil;
    }
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(|x| from_json(x, depth + 1)).collect()),
        serde_json::Value::Object(o) => {
            Value::Map(o.into_iter().map(|(k, x)| (k, from_json(x, depth + 1))).collect(), false)
        }
    }
}

fn byte_slice(s: &str, from: usize, to: usize) -> String {
    String::from_utf8_lossy(s.as_bytes().get(from..to).unwrap_or_default()).into_owned()
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(v) = hex else {
                    let bad = s.get(i..(i + 3).min(s.len())).unwrap_or("%");
                    return Err(format!("invalid URL escape {bad:?}"));
                };
                out.push(v);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

// ---------------------------------------------------------------------------------------
// printf

fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut argi = 0usize;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space, mut sharp) = (false, false, false, false, false);
        while let Some(&f) = it.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            it.next();
        }
        let mut width: Option<usize> = None;
        while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0).saturating_mul(10).saturating_add(d as usize).min(10_000));
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            prec = Some(0);
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                prec = Some(prec.unwrap_or(0).saturating_mul(10).saturating_add(d as usize).min(10_000));
                it.next();
            }
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let bad = || format!("%!{verb}({}={})", arg.type_name(), arg.render_inner());
        let mut numeric = false;
        let body: String = match (verb, arg) {
            ('v', Value::Float(f)) | ('g', Value::Float(f)) if prec.is_none() => {
                numeric = true;
                sign(seer_model::go_format_g(*f), plus, space)
            }
            ('v', v) => v.render_inner(),
            ('s', Value::Str(s)) => match prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('q', Value::Str(s)) => format!("{s:?}"),
            ('d', Value::Int(i)) => {
                numeric = true;
                sign(i.to_string(), plus, space)
            }
            ('x' | 'X', Value::Int(i)) => {
                numeric = true;
                let h = if verb == 'x' { format!("{:x}", i.unsigned_abs()) } else { format!("{:X}", i.unsigned_abs()) };
                let h = if sharp { format!("0x{h}") } else { h };
                if *i < 0 { format!("-{h}") } else { h }
            }
            ('x' | 'X', Value::Str(s)) => {
                s.bytes().map(|b| if verb == 'x' { format!("{b:02x}") } else { format!("{b:02X}") }).collect()
            }
            ('o', Value::Int(i)) => {
                numeric = true;
                format!("{i:o}")
            }
            ('b', Value::Int(i)) => {
                numeric = true;
                format!("{i:b}")
            }
            ('c', Value::Int(i)) => u32::try_from(*i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}').to_string(),
            ('t', Value::Bool(b)) => b.to_string(),
            ('f' | 'F', Value::Float(f)) => {
                numeric = true;
                sign(format!("{:.*}", prec.unwrap_or(6), f), plus, space)
            }
            ('e' | 'E', Value::Float(f)) => {
                numeric = true;
                let s = go_exp(*f, prec.unwrap_or(6));
                sign(if verb == 'E' { s.to_uppercase() } else { s }, plus, space)
            }
            ('g', Value::Float(f)) => {
                numeric = true;
                sign(format!("{:.*}", prec.unwrap_or(6), f), plus, space)
            }
            _ => bad(),
        };
        let len = body.chars().count();
        let w = width.unwrap_or(0);
        if len >= w {
            out.push_str(&body);
        } else if minus {
            out.push_str(&body);
            out.push_str(&" ".repeat(w - len));
        } else if zero && numeric {
            let (sgn, digits) = match body.strip_prefix(['-', '+']) {
                Some(d) => (body.get(..1).unwrap_or_default(), d),
                None => ("", body.as_str()),
            };
            out.push_str(sgn);
            out.push_str(&"0".repeat(w - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(w - len));
            out.push_str(&body);
        }
    }
    if argi < args.len() {
        let extra: Vec<String> =
            args.iter().skip(argi).map(|a| format!("{}={}", a.type_name(), a.render_inner())).collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn sign(s: String, plus: bool, space: bool) -> String {
    if s.starts_with('-') {
        s
    } else if plus {
        format!("+{s}")
    } else if space {
        format!(" {s}")
    } else {
        s
    }
}

fn go_exp(f: f64, prec: usize) -> String {
    let s = format!("{f:.prec$e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sgn, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sgn}{digits:0>2}")
        }
        None => s,
    }
}

// ---------------------------------------------------------------------------------------
// Time

/// Go's zero `time.Time` (0001-01-01 00:00:00 UTC) in Unix seconds.
const ZERO_TIME_SECS: i64 = -62_135_596_800;

fn split_ns(ns: i64) -> (i64, u32) {
    (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as u32)
}

fn now() -> (i64, u32) {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos()),
        Err(_) => (0, 0),
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    YearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    /// Numeric zone; the flag says `Z` is written for UTC.
    Zone(bool, &'static str),
    /// Fractional seconds: digits, trailing zeros trimmed (`9`s).
    Frac(usize, bool),
}

/// Splits a Go layout into literal text and standard chunks.
fn layout_chunks(layout: &str) -> Vec<Result<Std, String>> {
    const TABLE: &[(&str, Std)] = &[
        ("January", Std::LongMonth),
        ("Jan", Std::Month),
        ("Monday", Std::LongWeekDay),
        ("Mon", Std::WeekDay),
        ("MST", Std::Tz),
        ("2006", Std::LongYear),
        ("002", Std::YearDay),
        ("01", Std::ZeroMonth),
        ("02", Std::ZeroDay),
        ("03", Std::ZeroHour12),
        ("04", Std::ZeroMinute),
        ("05", Std::ZeroSecond),
        ("06", Std::Year),
        ("15", Std::Hour),
        ("_2", Std::UnderDay),
        ("Z07:00:00", Std::Zone(true, "-07:00:00")),
        ("Z070000", Std::Zone(true, "-070000")),
        ("Z07:00", Std::Zone(true, "-07:00")),
        ("Z0700", Std::Zone(true, "-0700")),
        ("Z07", Std::Zone(true, "-07")),
        ("-07:00:00", Std::Zone(false, "-07:00:00")),
        ("-070000", Std::Zone(false, "-070000")),
        ("-07:00", Std::Zone(false, "-07:00")),
        ("-0700", Std::Zone(false, "-0700")),
        ("-07", Std::Zone(false, "-07")),
        ("PM", Std::PM),
        ("pm", Std::Pm),
        ("1", Std::NumMonth),
        ("2", Std::Day),
        ("3", Std::Hour12),
        ("4", Std::Minute),
        ("5", Std::Second),
    ];
    let mut out: Vec<Result<Std, String>> = Vec::new();
    let mut rest = layout;
    let mut lit = String::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(['.', ',']) {
            let n0 = after.chars().take_while(|c| *c == '0').count();
            let n9 = after.chars().take_while(|c| *c == '9').count();
            let n = n0.max(n9);
            if n > 0 && !after.get(n..).unwrap_or_default().starts_with(|c: char| c.is_ascii_digit()) {
                if !lit.is_empty() {
                    out.push(Err(std::mem::take(&mut lit)));
                }
                lit.push(rest.chars().next().unwrap_or('.'));
                out.push(Err(std::mem::take(&mut lit)));
                out.push(Ok(Std::Frac(n, n9 > 0)));
                rest = after.get(n..).unwrap_or_default();
                continue;
            }
        }
        if let Some((pat, std)) = TABLE.iter().find(|(p, _)| rest.starts_with(p)) {
            if !lit.is_empty() {
                out.push(Err(std::mem::take(&mut lit)));
            }
            out.push(Ok(*std));
            rest = rest.get(pat.len()..).unwrap_or_default();
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        lit.push(c);
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    if !lit.is_empty() {
        out.push(Err(lit));
    }
    out
}

/// Formats a UTC time with a Go layout.
fn format_time(sec: i64, ns: u32, layout: &str) -> String {
    let days = sec.div_euclid(86_400);
    let secs_of_day = sec.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let wd = (days + 4).rem_euclid(7) as usize;
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let h12 = if hh % 12 == 0 { 12 } else { hh % 12 };
    let mut out = String::new();
    let mut chunks = layout_chunks(layout).into_iter().peekable();
    while let Some(ch) = chunks.next() {
        match ch {
            Err(lit) => {
                // Go drops the separator before a `.999` fraction when it is all zeros.
                if (lit == "." || lit == ",") && matches!(chunks.peek(), Some(Ok(Std::Frac(_, true)))) && ns == 0 {
                    chunks.next();
                    continue;
                }
                out.push_str(&lit);
            }
            Ok(std) => out.push_str(&match std {
                Std::LongMonth => MONTHS.get((m - 1) as usize).copied().unwrap_or("").to_string(),
                Std::Month => MONTHS.get((m - 1) as usize).map(|s| s.get(..3).unwrap_or(s)).unwrap_or("").to_string(),
                Std::NumMonth => m.to_string(),
                Std::ZeroMonth => format!("{m:02}"),
                Std::LongWeekDay => DAYS.get(wd).copied().unwrap_or("").to_string(),
                Std::WeekDay => DAYS.get(wd).map(|s| s.get(..3).unwrap_or(s)).unwrap_or("").to_string(),
                Std::Day => d.to_string(),
                Std::UnderDay => format!("{d:>2}"),
                Std::ZeroDay => format!("{d:02}"),
                Std::YearDay => format!("{yday:03}"),
                Std::Hour => format!("{hh:02}"),
                Std::Hour12 => h12.to_string(),
                Std::ZeroHour12 => format!("{h12:02}"),
                Std::Minute => mm.to_string(),
                Std::ZeroMinute => format!("{mm:02}"),
                Std::Second => ss.to_string(),
                Std::ZeroSecond => format!("{ss:02}"),
                Std::LongYear => format!("{y:04}"),
                Std::Year => format!("{:02}", y.rem_euclid(100)),
                Std::PM => (if hh >= 12 { "PM" } else { "AM" }).to_string(),
                Std::Pm => (if hh >= 12 { "pm" } else { "am" }).to_string(),
                Std::Tz => "UTC".to_string(),
                Std::Zone(z, form) => {
                    if z {
                        "Z".to_string()
                    } else {
                        match form {
                            "-07:00:00" => "+00:00:00".into(),
                            "-070000" => "+000000".into(),
                            "-07:00" => "+00:00".into(),
                            "-0700" => "+0000".into(),
                            _ => "+00".into(),
                        }
                    }
                }
                Std::Frac(n, trim) => {
                    let digits = format!("{ns:09}");
                    let d = digits.get(..n.min(9)).unwrap_or_default().to_string();
                    if trim { d.trim_end_matches('0').to_string() } else { d }
                }
            }),
        }
    }
    out
}

/// Parses `value` with a Go layout into UTC seconds and nanoseconds.
fn parse_time(layout: &str, value: &str) -> Result<(i64, u32), String> {
    let bad = || format!("parsing time {value:?} as {layout:?}: cannot parse");
    let mut v = value;
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut ns, mut offset) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0u32, 0i64);
    let mut pm: Option<bool> = None;
    let num = |v: &mut &str, max_len: usize, exact: bool| -> Result<i64, String> {
        let n = v.bytes().take(max_len).take_while(u8::is_ascii_digit).count();
        if n == 0 || (exact && n != max_len) {
            return Err(bad());
        }
        let x = v.get(..n).unwrap_or_default().parse::<i64>().map_err(|_| bad())?;
        *v = v.get(n..).unwrap_or_default();
        Ok(x)
    };
    for ch in layout_chunks(layout) {
        match ch {
            Err(lit) => {
                v = v.strip_prefix(lit.as_str()).ok_or_else(bad)?;
            }
            Ok(std) => match std {
                Std::LongYear => year = num(&mut v, 4, true)?,
                Std::Year => {
                    let y = num(&mut v, 2, true)?;
                    year = if y >= 69 { 1900 + y } else { 2000 + y };
                }
                Std::ZeroMonth => month = num(&mut v, 2, true)?,
                Std::NumMonth => month = num(&mut v, 2, false)?,
                Std::LongMonth | Std::Month => {
                    let idx = MONTHS
                        .iter()
                        .position(|mname| {
                            let cand = if std == Std::Month { mname.get(..3).unwrap_or(mname) } else { mname };
                            v.get(..cand.len()).is_some_and(|p| p.eq_ignore_ascii_case(cand))
                        })
                        .ok_or_else(bad)?;
                    let len = if std == Std::Month { 3 } else { MONTHS.get(idx).map_or(0, |s| s.len()) };
                    v = v.get(len..).unwrap_or_default();
                    month = idx as i64 + 1;
                }
                Std::LongWeekDay | Std::WeekDay => {
                    let idx = DAYS
                        .iter()
                        .position(|dn| {
                            let cand = if std == Std::WeekDay { dn.get(..3).unwrap_or(dn) } else { dn };
                            v.get(..cand.len()).is_some_and(|p| p.eq_ignore_ascii_case(cand))
                        })
                        .ok_or_else(bad)?;
                    let len = if std == Std::WeekDay { 3 } else { DAYS.get(idx).map_or(0, |s| s.len()) };
                    v = v.get(len..).unwrap_or_default();
                }
                Std::ZeroDay => day = num(&mut v, 2, true)?,
                Std::Day => day = num(&mut v, 2, false)?,
                Std::UnderDay => {
                    v = v.strip_prefix(' ').unwrap_or(v);
                    day = num(&mut v, 2, false)?;
                }
                Std::YearDay => {
                    num(&mut v, 3, true)?;
                }
                Std::Hour => hour = num(&mut v, 2, false)?,
                Std::Hour12 | Std::ZeroHour12 => hour = num(&mut v, 2, std == Std::ZeroHour12)?,
                Std::Minute | Std::ZeroMinute => min = num(&mut v, 2, std == Std::ZeroMinute)?,
                Std::Second | Std::ZeroSecond => {
                    sec = num(&mut v, 2, std == Std::ZeroSecond)?;
                    if let Some(r) = v.strip_prefix('.') {
                        let n = r.bytes().take_while(u8::is_ascii_digit).count();
                        if n > 0 && !layout.contains(".0") && !layout.contains(".9") {
                            let digits = format!("{:0<9}", r.get(..n.min(9)).unwrap_or_default());
                            ns = digits.parse().map_err(|_| bad())?;
                            v = r.get(n..).unwrap_or_default();
                        }
                    }
                }
                Std::Frac(n, trim) => {
                    let k = v.bytes().take_while(u8::is_ascii_digit).count();
                    if (!trim && k != n) || k == 0 {
                        return Err(bad());
                    }
                    let digits = format!("{:0<9}", v.get(..k.min(9)).unwrap_or_default());
                    ns = digits.parse().map_err(|_| bad())?;
                    v = v.get(k..).unwrap_or_default();
                }
                Std::PM | Std::Pm => {
                    let p = v.get(..2).ok_or_else(bad)?.to_ascii_uppercase();
                    pm = Some(match p.as_str() {
                        "PM" => true,
                        "AM" => false,
                        _ => return Err(bad()),
                    });
                    v = v.get(2..).unwrap_or_default();
                }
                Std::Tz => {
                    let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                    if n < 3 {
                        return Err(bad());
                    }
                    v = v.get(n..).unwrap_or_default();
                }
                Std::Zone(z, form) => {
                    if z && v.starts_with('Z') {
                        v = v.get(1..).unwrap_or_default();
                        continue;
                    }
                    let sgn = match v.get(..1) {
                        Some("+") => 1,
                        Some("-") => -1,
                        _ => return Err(bad()),
                    };
                    v = v.get(1..).unwrap_or_default();
                    let h = num(&mut v, 2, true)?;
                    let mut mi = 0;
                    let mut se = 0;
                    if form.contains("07:00") {
                        v = v.strip_prefix(':').ok_or_else(bad)?;
                    }
                    if form.len() > 3 {
                        mi = num(&mut v, 2, true)?;
                    }
                    if form.ends_with(":00:00") {
                        v = v.strip_prefix(':').ok_or_else(bad)?;
                        se = num(&mut v, 2, true)?;
                    } else if form.ends_with("0000") {
                        se = num(&mut v, 2, true)?;
                    }
                    offset = sgn * (h * 3600 + mi * 60 + se);
                }
            },
        }
    }
    if !v.is_empty() {
        return Err(format!("parsing time {value:?}: extra text: {v:?}"));
    }
    if let Some(p) = pm {
        if hour > 12 {
            return Err(bad());
        }
        if p && hour < 12 {
            hour += 12;
        } else if !p && hour == 12 {
            hour = 0;
        }
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 59 {
        return Err(format!("parsing time {value:?}: value out of range"));
    }
    let days = days_from_civil(year, month, day);
    Ok((days * 86_400 + hour * 3600 + min * 60 + sec - offset, ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &str, labels: &[(&str, &str)]) -> Result<String, String> {
        let mut tpl = Template::parse(t)?;
        let m: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tpl.execute(&m, "the line", 1_700_000_000_123_000_000)
    }

    #[test]
    fn basics() {
        assert_eq!(run("{{.a}}-{{ .b }}", &[("a", "1")]).unwrap(), "1-");
        assert_eq!(run("{{ .a | ToUpper }}", &[("a", "x")]).unwrap(), "X");
        assert_eq!(
            run("{{ if eq .a \"1\" }}one{{ else if eq .a \"2\" }}two{{ else }}other{{ end }}", &[("a", "2")]).unwrap(),
            "two"
        );
        assert_eq!(run("  {{- .a -}}  !", &[("a", "x")]).unwrap(), "x!");
        assert_eq!(run("{{/* c */}}x", &[]).unwrap(), "x");
        assert_eq!(run("{{ $x := .a }}{{ $x }}{{ $x = \"z\" }}{{ $x }}", &[("a", "y")]).unwrap(), "yz");
        assert_eq!(run("{{ printf \"%-5s|%5.2f|%03d\" .a 3.14159 7 }}", &[("a", "ab")]).unwrap(), "ab   | 3.14|007");
        assert_eq!(run("{{ printf \"%d\" .a }}", &[("a", "1")]).unwrap(), "%!d(string=1)");
        assert_eq!(run("{{ div .d 1000 }}", &[("d", "12345")]).unwrap(), "12");
        assert!(run("{{ div 1 0 }}", &[]).is_err());
        assert_eq!(run("{{ addf 1.5 2 }}", &[]).unwrap(), "3.5");
        assert_eq!(run("{{ __line__ }}", &[]).unwrap(), "the line");
        assert_eq!(run("{{ __timestamp__ | unixEpoch }}", &[]).unwrap(), "1700000000");
        assert_eq!(run("{{ __timestamp__ }}", &[]).unwrap(), "2023-11-14 22:13:20.123 +0000 UTC");
        assert_eq!(
            run("{{ date \"2006-01-02T15:04:05.000Z07:00 Mon Jan\" __timestamp__ }}", &[]).unwrap(),
            "2023-11-14T22:13:20.123Z Tue Nov"
        );
        assert_eq!(run("{{ toDate \"2006-01-02\" \"2024-02-29\" | unixEpoch }}", &[]).unwrap(), "1709164800");
        assert_eq!(
            run("{{ range $i, $v := fromJson .j }}{{ $i }}={{ $v.q }};{{ end }}", &[("j", r#"[{"q":"a"},{"q":2}]"#)])
                .unwrap(),
            "0=a;1=2;"
        );
        assert!(Template::parse("{{ nope .a }}").is_err());
        assert!(Template::parse("{{ if .a }}").is_err());
        assert!(Template::parse("{{ .a ").is_err());
        assert!(Template::parse("{{ end }}").is_err());
        assert_eq!(Template::parse("{{.a}}").unwrap().single_field(), Some("a"));
        assert_eq!(run("{{ repeat 3 \"ab\" }}{{ len .a }}", &[("a", "xyz")]).unwrap(), "ababab3");
        assert!(run("{{ repeat 100000000 \"ab\" }}", &[]).is_err());
        assert_eq!(run("{{ Replace .q \"\\n\" \"\" -1 }}", &[("q", "a\nb")]).unwrap(), "ab");
    }
}
