//! The log pipeline executor: runs the stages of a [`LogExpr`](crate::LogExpr) over one entry.
//!
//! Semantics (Loki 3): structured metadata and extracted labels join the stream labels;
//! an extracted or metadata name that collides with a stream label gets the `_extracted`
//! suffix; parser failures set `__error__` / `__error_details__`. Lines with an error are
//! **not** dropped here: Loki returns them in log queries, and the metric engine turns any
//! remaining `__error__` into a query error.

use crate::Error;
use crate::ast::*;
use crate::json::{self, Json, PathSeg};
use crate::logfmt;
use crate::pattern::Pattern;
use crate::template::Template;
use crate::units::{
    IpPattern, is_valid_label_name, parse_bytes, parse_go_duration, parse_go_float, sanitize_label_name,
};
use regex::Regex;
use seer_model::{Label, Labels, LabelsBuilder, Matcher};
use std::collections::BTreeMap;

/// The error label.
pub const ERROR_LABEL: &str = "__error__";
/// The error details label.
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";
/// `__error__` value of JSON parsing failures.
pub const ERR_JSON: &str = "JSONParserErr";
/// `__error__` value of strict logfmt failures.
pub const ERR_LOGFMT: &str = "LogfmtParserErr";
/// `__error__` value of unwrap conversion failures.
pub const ERR_SAMPLE: &str = "SampleExtractionErr";
/// `__error__` value of label filter conversion failures.
pub const ERR_LABEL_FILTER: &str = "LabelFilterErr";
/// `__error__` value of template execution failures.
pub const ERR_TEMPLATE: &str = "TemplateFormatErr";

/// The label state of one entry while it runs through the pipeline.
struct State<'s> {
    stream: &'s Labels,
    labels: Vec<(String, String)>,
    err: Option<String>,
    details: Option<String>,
}

impl State<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            ERROR_LABEL => self.err.as_deref(),
            ERROR_DETAILS_LABEL => self.details.as_deref(),
            _ => self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()),
        }
    }

    fn set(&mut self, name: &str, value: String) {
        match name {
            ERROR_LABEL => self.err = Some(value),
            ERROR_DETAILS_LABEL => self.details = Some(value),
            _ => match self.labels.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => self.labels.push((name.to_string(), value)),
            },
        }
    }

    /// Sets an extracted label, renaming it `<name>_extracted` when a stream label has
    /// that name.
    fn set_extracted(&mut self, name: &str, value: String) {
        if self.stream.get(name).is_some() {
            let renamed = format!("{name}_extracted");
            self.set(&renamed, value);
        } else {
            self.set(name, value);
        }
    }

    fn del(&mut self, name: &str) {
        match name {
            ERROR_LABEL => self.err = None,
            ERROR_DETAILS_LABEL => self.details = None,
            _ => self.labels.retain(|(n, _)| n != name),
        }
    }

    fn set_err(&mut self, err: &str, details: Option<String>) {
        self.err = Some(err.to_string());
        if let Some(d) = details {
            self.details = Some(d);
        }
    }

    fn map(&self) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = self.labels.iter().cloned().collect();
        if let Some(e) = &self.err {
            m.insert(ERROR_LABEL.into(), e.clone());
        }
        if let Some(d) = &self.details {
            m.insert(ERROR_DETAILS_LABEL.into(), d.clone());
        }
        m
    }

    fn to_labels(&self) -> Labels {
        let mut b = LabelsBuilder::new();
        for (n, v) in &self.labels {
            b.set(n.clone(), v.clone());
        }
        if let Some(e) = &self.err {
            b.set(ERROR_LABEL.into(), e.clone());
        }
        if let Some(d) = &self.details {
            b.set(ERROR_DETAILS_LABEL.into(), d.clone());
        }
        b.build()
    }
}

enum LineMatch {
    Contains(String),
    Regex(Regex),
    Pattern(Pattern),
    Ip(IpPattern),
}

impl LineMatch {
    fn matches(&self, line: &str) -> bool {
        match self {
            LineMatch::Contains(s) => line.contains(s.as_str()),
            LineMatch::Regex(r) => r.is_match(line),
            LineMatch::Pattern(p) => p.matches(line).1,
            LineMatch::Ip(p) => p.matches_line(line),
        }
    }
}

enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Str(Matcher),
    Num(String, CmpOp, f64),
    Dur(String, CmpOp, i64),
    Bytes(String, CmpOp, u64),
    Ip(String, bool, IpPattern),
}

enum Fmt {
    Rename(String, String),
    Template(String, Box<Template>),
}

enum Compiled {
    Line { negative: bool, any_of: Vec<LineMatch> },
    JsonAll,
    JsonParams(Vec<(String, Vec<PathSeg>)>),
    Logfmt { strict: bool, keep_empty: bool, params: Vec<(String, String)> },
    Regexp(Regex, Vec<(usize, String)>),
    Pattern(Pattern),
    Unpack,
    Filter(Filter),
    LineFormat(Box<Template>),
    LabelFormat(Vec<Fmt>),
    Drop(Vec<DropKeepItem>),
    Keep(Vec<DropKeepItem>),
    Decolorize(Regex),
}

struct CompiledUnwrap {
    label: String,
    conv: UnwrapConv,
    post: Vec<Filter>,
}

/// A compiled pipeline. Build it once per query (per log selector) and feed it every entry.
pub struct Pipeline {
    stages: Vec<Compiled>,
    unwrap: Option<CompiledUnwrap>,
    keep_unwrapped: bool,
}

fn stage_err(stage: &Stage, msg: impl Into<String>) -> Error {
    Error::Stage { stage: stage.to_string(), msg: msg.into() }
}

fn compile_filter(f: &LabelFilterExpr, depth: usize) -> Result<Filter, String> {
    if depth > crate::MAX_DEPTH {
        return Err("label filter nested too deeply".into());
    }
    Ok(match f {
        LabelFilterExpr::And(a, b) => {
            Filter::And(Box::new(compile_filter(a, depth + 1)?), Box::new(compile_filter(b, depth + 1)?))
        }
        LabelFilterExpr::Or(a, b) => {
            Filter::Or(Box::new(compile_filter(a, depth + 1)?), Box::new(compile_filter(b, depth + 1)?))
        }
        LabelFilterExpr::Pred(p) => match p {
            LabelPredicate::String(m) => Filter::Str(m.clone()),
            LabelPredicate::Number { name, op, value } => Filter::Num(name.clone(), *op, *value),
            LabelPredicate::Duration { name, op, nanos } => Filter::Dur(name.clone(), *op, *nanos),
            LabelPredicate::Bytes { name, op, bytes } => Filter::Bytes(name.clone(), *op, *bytes),
            LabelPredicate::Ip { name, negated, pattern } => {
                Filter::Ip(name.clone(), *negated, IpPattern::parse(pattern)?)
            }
        },
    })
}

fn compile_stage(stage: &Stage) -> Result<Compiled, Error> {
    Ok(match stage {
        Stage::LineFilter(lf) => {
            let mut any_of = Vec::new();
            for v in &lf.values {
                any_of.push(match (lf.op, v) {
                    (_, FilterValue::Ip(p)) => LineMatch::Ip(IpPattern::parse(p).map_err(|e| stage_err(stage, e))?),
                    (LineFilterOp::Contains | LineFilterOp::NotContains, FilterValue::Str(s)) => LineMatch::Contains(s.clone()),
                    (LineFilterOp::Regex | LineFilterOp::NotRegex, FilterValue::Str(s)) => {
                        LineMatch::Regex(Regex::new(s).map_err(|e| stage_err(stage, format!("error parsing regexp: {e}")))?)
                    }
                    (LineFilterOp::Pattern | LineFilterOp::NotPattern, FilterValue::Str(s)) => {
                        LineMatch::Pattern(Pattern::for_filter(s).map_err(|e| stage_err(stage, e))?)
                    }
                });
            }
            Compiled::Line { negative: lf.op.is_negative(), any_of }
        }
        Stage::Json(params) if params.is_empty() => Compiled::JsonAll,
        Stage::Json(params) => {
            let mut out = Vec::new();
            for p in params {
                out.push((p.name.clone(), json::parse_path(&p.expr).map_err(|e| stage_err(stage, e))?));
            }
            Compiled::JsonParams(out)
        }
        Stage::Logfmt { strict, keep_empty, params } => Compiled::Logfmt {
            strict: *strict,
            keep_empty: *keep_empty,
            params: params.iter().map(|p| (p.name.clone(), p.expr.clone())).collect(),
        },
        Stage::Regexp(re) => {
            let r = Regex::new(re).map_err(|e| stage_err(stage, format!("error parsing regexp: {e}")))?;
            let mut names: Vec<(usize, String)> = Vec::new();
            for (i, n) in r.capture_names().enumerate() {
                let Some(n) = n else { continue };
                if !is_valid_label_name(n) {
                    return Err(stage_err(stage, format!("invalid extracted label name '{n}'")));
                }
                if names.iter().any(|(_, x)| x == n) {
                    return Err(stage_err(stage, format!("duplicate extracted label name '{n}'")));
                }
                names.push((i, n.to_string()));
            }
            if names.is_empty() {
                return Err(stage_err(stage, "at least one named capture must be supplied"));
            }
            Compiled::Regexp(r, names)
        }
        Stage::Pattern(p) => Compiled::Pattern(Pattern::for_parser(p).map_err(|e| stage_err(stage, e))?),
        Stage::Unpack => Compiled::Unpack,
        Stage::LabelFilter(f) => Compiled::Filter(compile_filter(f, 0).map_err(|e| stage_err(stage, e))?),
        Stage::LineFormat(t) => {
            Compiled::LineFormat(Box::new(Template::parse(t).map_err(|e| stage_err(stage, format!("invalid line template: {e}")))?))
        }
        Stage::LabelFormat(items) => {
            let mut seen: Vec<&str> = Vec::new();
            let mut out = Vec::new();
            for it in items {
                let dst = it.dst();
                if dst == ERROR_LABEL {
                    return Err(stage_err(stage, "__error__ cannot be formatted"));
                }
                if seen.contains(&dst) {
                    return Err(stage_err(stage, format!("multiple label name '{dst}' not allowed in a single format operation")));
                }
                seen.push(dst);
                out.push(match it {
                    LabelFmt::Rename { dst, src } => Fmt::Rename(dst.clone(), src.clone()),
                    LabelFmt::Template { dst, tmpl } => Fmt::Template(
                        dst.clone(),
                        Box::new(Template::parse(tmpl).map_err(|e| stage_err(stage, format!("invalid label template: {e}")))?),
                    ),
                });
            }
            Compiled::LabelFormat(out)
        }
        Stage::Drop(items) => Compiled::Drop(items.clone()),
        Stage::Keep(items) => Compiled::Keep(items.clone()),
        Stage::Decolorize => Compiled::Decolorize(
            Regex::new(r"[\x{1b}\x{9b}][\[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x{07})|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))")
                .map_err(|e| stage_err(stage, e.to_string()))?,
        ),
    })
}

impl Pipeline {
    /// Compiles `stages` (regexes, templates, patterns) once.
    pub fn new(stages: &[Stage]) -> Result<Pipeline, Error> {
        let mut out = Vec::with_capacity(stages.len());
        for s in stages {
            out.push(compile_stage(s)?);
        }
        Ok(Pipeline { stages: out, unwrap: None, keep_unwrapped: false })
    }

    /// Compiles `stages` followed by `unwrap` (and its label filters), for
    /// [`Pipeline::extract`].
    pub fn with_unwrap(stages: &[Stage], unwrap: &Unwrap) -> Result<Pipeline, Error> {
        let mut p = Pipeline::new(stages)?;
        let mut post = Vec::new();
        for f in &unwrap.post_filters {
            post.push(compile_filter(f, 0).map_err(|e| Error::Stage { stage: unwrap.to_string(), msg: e })?);
        }
        p.unwrap = Some(CompiledUnwrap { label: unwrap.label.clone(), conv: unwrap.conv, post });
        Ok(p)
    }

    /// Keeps the unwrapped label in [`Pipeline::extract`]'s labels (Loki does so when a
    /// `by (...)` grouping on the range aggregation names it). Default: removed.
    pub fn keep_unwrapped_label(&mut self, keep: bool) {
        self.keep_unwrapped = keep;
    }

    /// Runs the stages over one entry. Returns the (possibly rewritten) line and the result
    /// labels (stream + structured metadata + extracted, plus `__error__` /
    /// `__error_details__` when set), or `None` when a stage filtered the line out.
    pub fn process(&mut self, ts_ns: i64, line: &str, stream: &Labels, metadata: &[Label]) -> Option<(String, Labels)> {
        let mut st = new_state(stream, metadata);
        let line = self.run(ts_ns, line, &mut st)?;
        Some((line, st.to_labels()))
    }

    /// Like [`Pipeline::process`] but returns the unwrapped sample value. Without an unwrap
    /// the value is 1 (one line). Entries whose unwrap label is missing or empty are skipped;
    /// a conversion failure yields 0 with `__error__="SampleExtractionErr"`. The unwrapped
    /// label is removed from the labels unless [`Pipeline::keep_unwrapped_label`] was set.
    pub fn extract(&mut self, ts_ns: i64, line: &str, stream: &Labels, metadata: &[Label]) -> Option<(f64, Labels)> {
        let mut st = new_state(stream, metadata);
        let line = self.run(ts_ns, line, &mut st)?;
        let Some(u) = &self.unwrap else {
            return Some((1.0, st.to_labels()));
        };
        let raw = st.get(&u.label).unwrap_or("").to_string();
        if raw.is_empty() {
            return None;
        }
        let conv = match u.conv {
            UnwrapConv::Float => parse_go_float(&raw),
            UnwrapConv::Duration | UnwrapConv::DurationSeconds => parse_go_duration(&raw).map(|ns| ns as f64 / 1e9),
            UnwrapConv::Bytes => parse_bytes(&raw).map(|b| b as f64),
        };
        let value = match conv {
            Ok(v) => v,
            Err(e) => {
                st.set_err(ERR_SAMPLE, Some(e));
                0.0
            }
        };
        let _ = &line;
        for f in &u.post {
            if !eval_filter(f, &mut st) {
                return None;
            }
        }
        if !self.keep_unwrapped {
            st.del(&u.label);
        }
        Some((value, st.to_labels()))
    }

    fn run(&mut self, ts_ns: i64, line: &str, st: &mut State<'_>) -> Option<String> {
        let mut line = line.to_string();
        for stage in &mut self.stages {
            match stage {
                Compiled::Line { negative, any_of } => {
                    let hit = any_of.iter().any(|m| m.matches(&line));
                    if hit == *negative {
                        return None;
                    }
                }
                Compiled::JsonAll => match json::parse(&line) {
                    Ok(Json::Obj(kv, _, _)) => {
                        let mut out = Vec::new();
                        flatten(&kv, "", &mut out, 0);
                        for (k, v) in out {
                            st.set_extracted(&k, v);
                        }
                    }
                    Ok(_) => {
                        st.set_err(ERR_JSON, Some("Value looks like object, but can't find closing '}' symbol".into()))
                    }
                    Err(e) => st.set_err(ERR_JSON, Some(e)),
                },
                Compiled::JsonParams(params) => {
                    let trimmed = line.trim_start();
                    if !trimmed.starts_with(['{', '[', '"']) {
                        st.set_err(ERR_JSON, Some("Line is not a valid JSON".into()));
                        continue;
                    }
                    let doc = json::parse(&line).ok();
                    for (name, path) in params.iter() {
                        let v = doc
                            .as_ref()
                            .and_then(|d| json::lookup(d, path))
                            .map(|v| json::label_value(v, &line))
                            .unwrap_or_default();
                        st.set_extracted(name, v);
                    }
                }
                Compiled::Logfmt { strict, keep_empty, params } => {
                    let (pairs, err) = logfmt::decode(&line, *strict);
                    if params.is_empty() {
                        for p in pairs {
                            let value = p.value.unwrap_or_default();
                            if value.is_empty() && !*keep_empty {
                                continue;
                            }
                            let name = sanitize_label_name(&p.key);
                            if name.is_empty() {
                                continue;
                            }
                            st.set_extracted(&name, value);
                        }
                    } else {
                        for (name, key) in params.iter() {
                            if let Some(p) = pairs.iter().rev().find(|p| &p.key == key) {
                                st.set_extracted(name, p.value.clone().unwrap_or_default());
                            }
                        }
                    }
                    if let Some(e) = err {
                        st.set_err(ERR_LOGFMT, Some(e));
                    }
                }
                Compiled::Regexp(re, names) => {
                    if let Some(caps) = re.captures(&line) {
                        for (i, name) in names.iter() {
                            let v = caps.get(*i).map(|m| m.as_str().to_string()).unwrap_or_default();
                            st.set_extracted(name, v);
                        }
                    }
                }
                Compiled::Pattern(p) => {
                    let (caps, _) = p.matches(&line);
                    let owned: Vec<(String, String)> =
                        caps.into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
                    for (n, v) in owned {
                        st.set_extracted(&n, v);
                    }
                }
                Compiled::Unpack => match json::parse(&line) {
                    Ok(Json::Obj(kv, _, _)) => {
                        let mut entry = None;
                        let mut pending = Vec::new();
                        for (k, v) in kv {
                            if let Json::Str(s) = v {
                                if k == "_entry" {
                                    entry = Some(s);
                                } else {
                                    pending.push((k, s));
                                }
                            }
                        }
                        if let Some(e) = entry {
                            for (k, v) in pending {
                                let name = sanitize_label_name(&k);
                                if !name.is_empty() {
                                    st.set_extracted(&name, v);
                                }
                            }
                            line = e;
                        }
                    }
                    Ok(_) => {
                        st.set_err(ERR_JSON, Some("Value looks like object, but can't find closing '}' symbol".into()))
                    }
                    Err(e) => st.set_err(ERR_JSON, Some(e)),
                },
                Compiled::Filter(f) => {
                    if !eval_filter(f, st) {
                        return None;
                    }
                }
                Compiled::LineFormat(t) => {
                    if let Some(name) = t.single_field() {
                        line = st.get(name).unwrap_or("").to_string();
                        continue;
                    }
                    let data = st.map();
                    match t.execute(&data, &line, ts_ns) {
                        Ok(s) => line = s,
                        Err(e) => st.set_err(ERR_TEMPLATE, Some(e)),
                    }
                }
                Compiled::LabelFormat(items) => {
                    let data = st.map();
                    for it in items.iter_mut() {
                        match it {
                            Fmt::Rename(dst, src) => {
                                if let Some(v) = st.get(src).map(str::to_string) {
                                    st.del(src);
                                    st.set(dst, v);
                                }
                            }
                            Fmt::Template(dst, t) => match t.execute(&data, &line, ts_ns) {
                                Ok(v) => st.set(dst, v),
                                Err(e) => st.set_err(ERR_TEMPLATE, Some(e)),
                            },
                        }
                    }
                }
                Compiled::Drop(items) => {
                    for it in items.iter() {
                        match it {
                            DropKeepItem::Name(n) => st.del(n),
                            DropKeepItem::Matcher(m) => {
                                if st.get(&m.name).is_some_and(|v| m.matches(v)) {
                                    st.del(&m.name);
                                }
                            }
                        }
                    }
                }
                Compiled::Keep(items) => {
                    let keep = |n: &str, v: &str| {
                        items.iter().any(|it| match it {
                            DropKeepItem::Name(x) => x == n,
                            DropKeepItem::Matcher(m) => m.name == n && m.matches(v),
                        })
                    };
                    st.labels.retain(|(n, v)| keep(n, v));
                }
                Compiled::Decolorize(re) => {
                    if let std::borrow::Cow::Owned(s) = re.replace_all(&line, "") {
                        line = s;
                    }
                }
            }
        }
        Some(line)
    }
}

fn new_state<'s>(stream: &'s Labels, metadata: &[Label]) -> State<'s> {
    let mut st = State {
        stream,
        labels: stream.iter().map(|l| (l.name.clone(), l.value.clone())).collect(),
        err: None,
        details: None,
    };
    for m in metadata {
        st.set_extracted(&m.name, m.value.clone());
    }
    st
}

fn flatten(kv: &[(String, Json)], prefix: &str, out: &mut Vec<(String, String)>, depth: usize) {
    if depth > 64 {
        return;
    }
    for (k, v) in kv {
        let key = sanitize_label_name(k);
        let name = if prefix.is_empty() { key } else { format!("{prefix}_{key}") };
        match v {
            Json::Obj(inner, _, _) => flatten(inner, &name, out, depth + 1),
            Json::Arr(..) => {}
            Json::Null => out.push((name, String::new())),
            Json::Bool(b) => out.push((name, b.to_string())),
            Json::Num(n) => out.push((name, n.clone())),
            Json::Str(s) => out.push((name, s.clone())),
        }
    }
}

fn eval_filter(f: &Filter, st: &mut State<'_>) -> bool {
    match f {
        Filter::And(a, b) => {
            let l = eval_filter(a, st);
            let r = eval_filter(b, st);
            l && r
        }
        Filter::Or(a, b) => eval_filter(a, st) || eval_filter(b, st),
        Filter::Str(m) => m.matches(st.get(&m.name).unwrap_or("")),
        Filter::Num(name, op, rhs) => convert_cmp(st, name, |v| parse_go_float(v).map(|x| op.cmp(x, *rhs))),
        Filter::Dur(name, op, rhs) => convert_cmp(st, name, |v| parse_go_duration(v).map(|x| op.cmp(x, *rhs))),
        Filter::Bytes(name, op, rhs) => convert_cmp(st, name, |v| parse_bytes(v).map(|x| op.cmp(x, *rhs))),
        Filter::Ip(name, negated, pat) => {
            if st.err.is_some() {
                return true;
            }
            match st.get(name) {
                Some(v) => pat.matches_str(v) != *negated,
                None => false,
            }
        }
    }
}

/// The shared rule of the converting label filters: lines with an error pass, a missing
/// label drops the line, a conversion failure keeps it with `LabelFilterErr`.
fn convert_cmp(st: &mut State<'_>, name: &str, f: impl Fn(&str) -> Result<bool, String>) -> bool {
    if st.err.is_some() {
        return true;
    }
    let Some(v) = st.get(name) else { return false };
    match f(v) {
        Ok(b) => b,
        Err(e) => {
            st.set_err(ERR_LABEL_FILTER, Some(e));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expr, parse};

    fn pipe(q: &str) -> Pipeline {
        match parse(q) {
            Ok(Expr::Log(l)) => Pipeline::new(&l.pipeline).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn basic_flow() {
        let stream = Labels::from_pairs([("app", "a"), ("level", "info")]);
        let mut p = pipe(r#"{app="a"} |= "x" | json | level_extracted="warn""#);
        let (line, labels) = p.process(0, r#"{"x":1,"level":"warn"}"#, &stream, &[]).unwrap();
        assert_eq!(line, r#"{"x":1,"level":"warn"}"#);
        assert_eq!(labels.get("level_extracted"), Some("warn"));
        assert!(p.process(0, r#"{"x":1,"level":"debug"}"#, &stream, &[]).is_none());
        assert!(p.process(0, "nothing", &stream, &[]).is_none());
    }

    #[test]
    fn extract_unwrap() {
        let Ok(Expr::Metric(MetricExpr::RangeAgg(r))) =
            parse(r#"sum_over_time({a="b"} | logfmt | unwrap bytes(size) [1m])"#)
        else {
            panic!()
        };
        let mut p = Pipeline::with_unwrap(&r.inner.pipeline, r.unwrap.as_ref().unwrap()).unwrap();
        let s = Labels::from_pairs([("a", "b")]);
        let (v, l) = p.extract(0, "size=2KB x=1", &s, &[]).unwrap();
        assert_eq!(v, 2000.0);
        assert_eq!(l, Labels::from_pairs([("a", "b"), ("x", "1")]));
        assert!(p.extract(0, "x=1", &s, &[]).is_none());
        let (v, l) = p.extract(0, "size=big", &s, &[]).unwrap();
        assert_eq!(v, 0.0);
        assert_eq!(l.get(ERROR_LABEL), Some(ERR_SAMPLE));
    }
}
