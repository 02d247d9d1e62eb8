//! Parses `.test` files into commands.

use crate::notation::{Value, parse_duration_ms, parse_float, parse_labels, parse_values, split_series};
use seer_model::Labels;

/// A `load` block.
#[derive(Debug)]
pub struct Load {
    pub line: usize,
    pub interval: i64,
    pub nhcb: bool,
    pub series: Vec<(Labels, Vec<Value>)>,
}

/// How an eval is run.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

/// An expectation on annotations or errors.
#[derive(Clone, Debug, PartialEq)]
pub enum Matcher {
    Any,
    Exact(String),
    Regex(String),
}

/// The expected result.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// Series with values (one per step for ranges).
    Series(Vec<(Labels, Vec<Value>)>),
    /// A scalar.
    Scalar(f64),
    /// A string.
    String(String),
    /// A range vector from an instant query.
    RangeVector { start: i64, end: i64, step: i64, series: Vec<(Labels, Vec<Value>)> },
}

/// An `eval` command.
#[derive(Debug)]
pub struct Eval {
    pub line: usize,
    pub expr: String,
    pub mode: Mode,
    pub fail: Option<Matcher>,
    pub warn: Vec<Matcher>,
    pub info: Vec<Matcher>,
    pub no_warn: bool,
    pub no_info: bool,
    pub ordered: bool,
    pub expected: Expected,
}

/// A command of a test file.
#[derive(Debug)]
pub enum Command {
    Load(Load),
    Clear,
    Eval(Eval),
}

fn parse_matcher(rest: &str) -> Result<Matcher, String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(Matcher::Any);
    }
    if let Some(m) = rest.strip_prefix("msg:") {
        return Ok(Matcher::Exact(m.trim().to_string()));
    }
    if let Some(m) = rest.strip_prefix("regex:") {
        return Ok(Matcher::Regex(m.trim().to_string()));
    }
    Err(format!("bad expectation {rest:?}"))
}

/// Parses a whole file.
pub fn parse(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    let is_blank = |l: &str| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    };
    while i < lines.len() {
        let line = lines[i].trim();
        let lno = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match word {
            "clear" => cmds.push(Command::Clear),
            "load" | "load_with_nhcb" => {
                let interval = parse_duration_ms(rest.trim()).map_err(|e| format!("line {lno}: {e}"))?;
                let mut series = Vec::new();
                while i < lines.len() && !is_blank(lines[i]) {
                    let l = lines[i].trim();
                    i += 1;
                    let (lab, vals) = split_series(l).map_err(|e| format!("line {i}: {e}"))?;
                    if lab.ends_with("@st") {
                        // Start timestamps are not stored; the line is accepted and ignored.
                        continue;
                    }
                    let labels = parse_labels(lab).map_err(|e| format!("line {i}: {e}"))?;
                    let values = parse_values(vals).map_err(|e| format!("line {i}: {e}"))?;
                    series.push((labels, values));
                }
                cmds.push(Command::Load(Load { line: lno, interval, nhcb: word == "load_with_nhcb", series }));
            }
            w if w.starts_with("eval") => {
                let mut ev = Eval {
                    line: lno,
                    expr: String::new(),
                    mode: Mode::Instant { at: 0 },
                    fail: None,
                    warn: Vec::new(),
                    info: Vec::new(),
                    no_warn: false,
                    no_info: false,
                    ordered: false,
                    expected: Expected::Series(Vec::new()),
                };
                match w {
                    "eval" => {}
                    "eval_fail" => ev.fail = Some(Matcher::Any),
                    "eval_warn" => ev.warn.push(Matcher::Any),
                    "eval_info" => ev.info.push(Matcher::Any),
                    "eval_ordered" => ev.ordered = true,
                    _ => return Err(format!("line {lno}: unknown command {w:?}")),
                }
                let rest = rest.trim();
                if let Some(r) = rest.strip_prefix("instant at ") {
                    let (t, e) =
                        r.trim().split_once(char::is_whitespace).ok_or(format!("line {lno}: no expression"))?;
                    ev.mode = Mode::Instant { at: parse_duration_ms(t).map_err(|e| format!("line {lno}: {e}"))? };
                    ev.expr = e.trim().to_string();
                } else if let Some(r) = rest.strip_prefix("range from ") {
                    let parts: Vec<&str> = r.splitn(6, char::is_whitespace).collect();
                    if parts.len() < 6 || parts[1] != "to" || parts[3] != "step" {
                        return Err(format!("line {lno}: bad range eval"));
                    }
                    let d = |s: &str| parse_duration_ms(s).map_err(|e| format!("line {lno}: {e}"));
                    ev.mode = Mode::Range { start: d(parts[0])?, end: d(parts[2])?, step: d(parts[4])? };
                    ev.expr = parts[5].trim().to_string();
                } else {
                    return Err(format!("line {lno}: bad eval {rest:?}"));
                }
                let mut series: Vec<(Labels, Vec<Value>)> = Vec::new();
                let mut range_vector: Option<(i64, i64, i64)> = None;
                while i < lines.len() && !is_blank(lines[i]) {
                    let l = lines[i].trim();
                    let ln = i + 1;
                    i += 1;
                    if let Some(r) = l.strip_prefix("expect ") {
                        let (kind, more) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
                        match kind {
                            "fail" => ev.fail = Some(parse_matcher(more)?),
                            "warn" => ev.warn.push(parse_matcher(more)?),
                            "info" => ev.info.push(parse_matcher(more)?),
                            "no_warn" => ev.no_warn = true,
                            "no_info" => ev.no_info = true,
                            "ordered" => ev.ordered = true,
                            "string" => {
                                let s = more.trim();
                                let inner = &s[1..s.len() - 1];
                                let unq = if s.starts_with('`') {
                                    inner.to_string()
                                } else {
                                    unquote(inner).map_err(|e| format!("line {ln}: {e}"))?
                                };
                                ev.expected = Expected::String(unq);
                            }
                            "range" => {
                                // expect range vector from A to B step C
                                let p: Vec<&str> = more.split_whitespace().collect();
                                if p.len() != 7 || p[0] != "vector" {
                                    return Err(format!("line {ln}: bad expect range"));
                                }
                                let d = |s: &str| parse_duration_ms(s).map_err(|e| format!("line {ln}: {e}"));
                                range_vector = Some((d(p[2])?, d(p[4])?, d(p[6])?));
                            }
                            _ => return Err(format!("line {ln}: unknown expectation {kind:?}")),
                        }
                        continue;
                    }
                    if let Some(m) = l.strip_prefix("expected_fail_message ") {
                        ev.fail = Some(Matcher::Exact(m.trim().to_string()));
                        break;
                    }
                    if let Some(m) = l.strip_prefix("expected_fail_regexp ") {
                        ev.fail = Some(Matcher::Regex(m.trim().to_string()));
                        break;
                    }
                    // A bare number is a scalar result and ends the block.
                    if let Ok(v) = parse_float(l)
                        && !l.starts_with('{')
                        && !l.contains('{')
                    {
                        ev.expected = Expected::Scalar(v);
                        break;
                    }
                    let (lab, vals) = split_series(l).map_err(|e| format!("line {ln}: {e}"))?;
                    let labels = parse_labels(lab).map_err(|e| format!("line {ln}: {e}"))?;
                    let values = parse_values(vals).map_err(|e| format!("line {ln}: {e}"))?;
                    series.push((labels, values));
                }
                if !matches!(ev.expected, Expected::Scalar(_) | Expected::String(_)) {
                    ev.expected = match range_vector {
                        Some((start, end, step)) => Expected::RangeVector { start, end, step, series },
                        None => Expected::Series(series),
                    };
                }
                cmds.push(Command::Eval(ev));
            }
            _ => return Err(format!("line {lno}: unknown command {word:?}")),
        }
    }
    Ok(cmds)
}

/// Go string unquoting for `"..."` contents.
fn unquote(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some(o) => return Err(format!("unsupported escape \\{o}")),
            None => return Err("trailing backslash".into()),
        }
    }
    Ok(out)
}
