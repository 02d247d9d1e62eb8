//! Function calls: dispatch, and the functions over instant vectors and scalars. Functions
//! over range vectors live in [`crate::range_fns`], histogram functions in
//! [`crate::hist_fns`].

use crate::eval::{Ctx, DUPLICATE_LABELSET, Steps, Value, merge_into};
use crate::parser::ast::{Expr, Extension, Span};
use crate::parser::functions::Function;
use crate::value::{QueryError, Series, exec_err};
use seer_model::{Labels, LabelsBuilder, METRIC_NAME, MatchKind, Sample};
use std::collections::HashMap;

/// Strips parentheses.
pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren { expr, .. } = e {
        e = expr;
    }
    e
}

/// Evaluates a function call.
pub(crate) fn eval_call(
    ctx: &mut Ctx<'_>,
    st: Steps,
    func: &'static Function,
    args: &[Expr],
    span: Span,
) -> Result<Value, QueryError> {
    let name = func.name;
    // Functions over range vectors are evaluated series by series.
    if let Some(mi) = args.iter().position(|a| a.value_type() == crate::parser::ast::ValueType::Matrix) {
        let marg = unwrap_parens(&args[mi]);
        if let Expr::Matrix { selector, .. } = marg {
            check_extension(name, selector.ext)?;
        }
        let mut scalars: Vec<Option<Vec<f64>>> = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            if i == mi {
                scalars.push(None);
                continue;
            }
            match ctx.eval(st, a)? {
                Value::Scalar(v) => scalars.push(Some(v)),
                _ => return exec_err(format!("unexpected argument type in call to {name}")),
            }
        }
        let Value::Matrix(m) = ctx.eval(st, marg)? else {
            return exec_err(format!("expected a range vector in call to {name}"));
        };
        let out = crate::range_fns::eval_range_function(ctx, st, name, m, &scalars, marg, span)?;
        return Ok(Value::Vector(out));
    }
    let count = st.count();
    match name {
        "time" => Ok(Value::Scalar((0..count).map(|k| st.ts(k) as f64 / 1000.0).collect())),
        "pi" => Ok(Value::Scalar(vec![std::f64::consts::PI; count])),
        "start" => Ok(Value::Scalar(vec![ctx.query_start as f64 / 1000.0; count])),
        "end" => Ok(Value::Scalar(vec![ctx.query_end as f64 / 1000.0; count])),
        "step" => Ok(Value::Scalar(vec![ctx.query_step as f64 / 1000.0; count])),
        "range" => Ok(Value::Scalar(vec![(ctx.query_end - ctx.query_start) as f64 / 1000.0; count])),
        "min_of" | "max_of" => {
            let a = eval_scalar(ctx, st, &args[0])?;
            let b = eval_scalar(ctx, st, &args[1])?;
            let out = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| {
                    if x.is_nan() || y.is_nan() {
                        f64::NAN
                    } else if name == "min_of" {
                        go_min(x, y)
                    } else {
                        go_max(x, y)
                    }
                })
                .collect();
            Ok(Value::Scalar(out))
        }
        "vector" => {
            let v = eval_scalar(ctx, st, &args[0])?;
            let mut s = Series::new(Labels::empty(), false);
            s.floats = v.iter().enumerate().map(|(k, &v)| Sample { t: st.ts(k), v }).collect();
            Ok(Value::Vector(vec![s]))
        }
        "scalar" => {
            let input = eval_vector(ctx, st, &args[0])?;
            let mut out = vec![f64::NAN; count];
            let mut n = vec![0u32; count];
            for s in &input {
                for p in &s.floats {
                    let k = st.index(p.t);
                    n[k] += 1;
                    out[k] = p.v;
                }
            }
            for k in 0..count {
                if n[k] != 1 {
                    out[k] = f64::NAN;
                }
            }
            Ok(Value::Scalar(out))
        }
        "timestamp" => {
            let arg = unwrap_parens(&args[0]);
            if let Expr::Selector(vs) = arg
                && vs.ext == Extension::None
            {
                return Ok(Value::Vector(ctx.eval_selector_timestamps(st, vs)?));
            }
            let mut input = eval_vector(ctx, st, &args[0])?;
            for s in &mut input {
                s.drop_name = true;
                let mut floats: Vec<Sample> =
                    s.floats.iter().map(|p| Sample { t: p.t, v: p.t as f64 / 1000.0 }).collect();
                floats.extend(s.hists.iter().map(|p| Sample { t: p.t, v: p.t as f64 / 1000.0 }));
                floats.sort_by_key(|p| p.t);
                s.floats = floats;
                s.hists.clear();
            }
            Ok(Value::Vector(input))
        }
        "absent" => {
            let input = eval_vector(ctx, st, &args[0])?;
            let mut present = vec![false; count];
            for s in &input {
                for t in s.floats.iter().map(|p| p.t).chain(s.hists.iter().map(|p| p.t)) {
                    present[st.index(t)] = true;
                }
            }
            let mut s = Series::new(absent_labels(&args[0]), false);
            for (k, p) in present.iter().enumerate() {
                if !p {
                    s.floats.push(Sample { t: st.ts(k), v: 1.0 });
                }
            }
            Ok(Value::Vector(if s.is_empty() { Vec::new() } else { vec![s] }))
        }
        "label_replace" => {
            let input = eval_vector(ctx, st, &args[0])?;
            let dst = string_arg(&args[1]);
            if dst.is_empty() || !valid_utf8_arg(&args[1]) {
                return exec_err(format!("invalid destination label name in label_replace(): {dst}"));
            }
            let repl = string_arg(&args[2]);
            let src = string_arg(&args[3]);
            let re_src = string_arg(&args[4]);
            let re = regex::Regex::new(&format!("^(?s:{re_src})$")).map_err(|_| {
                QueryError::Execution(format!("invalid regular expression in label_replace(): {re_src}"))
            })?;
            if dst.is_empty() {
                return exec_err(format!("invalid destination label name in label_replace(): {dst}"));
            }
            set_label(input, &dst, |l| {
                let caps = re.captures(l.get(&src).unwrap_or(""))?;
                Some(expand(&re, &caps, &repl))
            })
        }
        "label_join" => {
            let input = eval_vector(ctx, st, &args[0])?;
            let dst = string_arg(&args[1]);
            let sep = string_arg(&args[2]);
            let srcs: Vec<String> = args[3..].iter().map(string_arg).collect();
            for (s, a) in srcs.iter().zip(&args[3..]) {
                if s.is_empty() || !valid_utf8_arg(a) {
                    return exec_err(format!("invalid source label name in label_join(): {s}"));
                }
            }
            if dst.is_empty() || !valid_utf8_arg(&args[1]) {
                return exec_err(format!("invalid destination label name in label_join(): {dst}"));
            }
            set_label(input, &dst, |l| Some(srcs.iter().map(|n| l.get(n).unwrap_or("")).collect::<Vec<_>>().join(&sep)))
        }
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            if ctx.is_range {
                ctx.annotations.warn(
                    "sort is ineffective for range queries since results are always ordered by labels".into(),
                    span,
                );
            }
            let mut input = eval_vector(ctx, st, &args[0])?;
            match name {
                "sort" | "sort_desc" => {
                    for s in &mut input {
                        s.hists.clear();
                    }
                    input.retain(|s| !s.is_empty());
                    let desc = name == "sort_desc";
                    input.sort_by(|a, b| {
                        let (x, y) = (a.floats[0].v, b.floats[0].v);
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                }
                _ => {
                    let names: Vec<String> = args[1..].iter().map(string_arg).collect();
                    let desc = name == "sort_by_label_desc";
                    input.sort_by(|a, b| {
                        for n in &names {
                            let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                            if x == y {
                                continue;
                            }
                            let less = natsort_less(x, y);
                            let o = if less { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater };
                            return if desc { o.reverse() } else { o };
                        }
                        let o = a.labels.cmp(&b.labels);
                        if desc { o.reverse() } else { o }
                    });
                }
            }
            Ok(Value::Vector(input))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let mut input = eval_vector(ctx, st, &args[0])?;
            let (lo, hi) = match name {
                "clamp" => (eval_scalar(ctx, st, &args[1])?, eval_scalar(ctx, st, &args[2])?),
                "clamp_min" => (eval_scalar(ctx, st, &args[1])?, vec![f64::INFINITY; count]),
                _ => (vec![f64::NEG_INFINITY; count], eval_scalar(ctx, st, &args[1])?),
            };
            for s in &mut input {
                s.drop_name = true;
                s.hists.clear();
                s.floats.retain_mut(|p| {
                    let k = st.index(p.t);
                    let (lo, hi) = (lo[k], hi[k]);
                    if name == "clamp" && hi < lo {
                        return false;
                    }
                    p.v = match name {
                        "clamp_min" => go_max(lo, p.v),
                        "clamp_max" => go_min(hi, p.v),
                        _ => go_max(lo, go_min(hi, p.v)),
                    };
                    true
                });
            }
            input.retain(|s| !s.is_empty());
            Ok(Value::Vector(input))
        }
        "round" => {
            let mut input = eval_vector(ctx, st, &args[0])?;
            let to = if args.len() > 1 { eval_scalar(ctx, st, &args[1])? } else { vec![1.0; count] };
            for s in &mut input {
                s.drop_name = true;
                s.hists.clear();
                for p in &mut s.floats {
                    let inv = 1.0 / to[st.index(p.t)];
                    p.v = (p.v * inv + 0.5).floor() / inv;
                }
            }
            input.retain(|s| !s.is_empty());
            Ok(Value::Vector(input))
        }
        "minute" | "hour" | "day_of_week" | "day_of_month" | "day_of_year" | "days_in_month" | "month" | "year" => {
            if args.is_empty() {
                let mut s = Series::new(Labels::empty(), false);
                for k in 0..count {
                    let ts = st.ts(k);
                    s.floats.push(Sample { t: ts, v: date_part(name, ts.div_euclid(1000).max(ts / 1000)) });
                }
                // Go: time.Unix(ts/1000, 0) with truncating division.
                for p in &mut s.floats {
                    p.v = date_part(name, p.t / 1000);
                }
                return Ok(Value::Vector(vec![s]));
            }
            let mut input = eval_vector(ctx, st, &args[0])?;
            for s in &mut input {
                s.drop_name = true;
                s.hists.clear();
                for p in &mut s.floats {
                    p.v = date_part(name, go_f64_to_i64(p.v));
                }
            }
            input.retain(|s| !s.is_empty());
            Ok(Value::Vector(input))
        }
        "histogram_quantile"
        | "histogram_fraction"
        | "histogram_quantiles"
        | "histogram_count"
        | "histogram_sum"
        | "histogram_avg"
        | "histogram_stddev"
        | "histogram_stdvar" => crate::hist_fns::eval(ctx, st, name, args, span),
        "info" => crate::info::eval_info(ctx, st, args, span),
        "start_timestamp" => exec_err("start_timestamp() is not supported: Seer does not store start timestamps"),
        _ => {
            // Every name the parser accepts has an evaluator (test `every_parsed_function_evaluates`).
            let Some(f) = math_fn(name) else {
                return exec_err(format!("internal error: no evaluator for function {name:?}"));
            };
            let mut input = eval_vector(ctx, st, &args[0])?;
            for s in &mut input {
                s.drop_name = true;
                s.hists.clear();
                for p in &mut s.floats {
                    p.v = f(p.v);
                }
            }
            input.retain(|s| !s.is_empty());
            Ok(Value::Vector(input))
        }
    }
}

/// Rejects `anchored`/`smoothed` on functions that do not support them.
fn check_extension(name: &str, ext: Extension) -> Result<(), QueryError> {
    match ext {
        Extension::None => Ok(()),
        Extension::Anchored => {
            if matches!(name, "changes" | "delta" | "increase" | "rate" | "resets") {
                Ok(())
            } else {
                exec_err(format!(
                    "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with {name}"
                ))
            }
        }
        Extension::Smoothed => {
            if matches!(name, "delta" | "increase" | "rate") {
                Ok(())
            } else {
                exec_err(format!("smoothed modifier can only be used with: delta, increase, rate - not with {name}"))
            }
        }
    }
}

/// Evaluates a scalar argument.
pub(crate) fn eval_scalar(ctx: &mut Ctx<'_>, st: Steps, e: &Expr) -> Result<Vec<f64>, QueryError> {
    match ctx.eval(st, e)? {
        Value::Scalar(v) => Ok(v),
        _ => exec_err("expected a scalar argument"),
    }
}

/// Evaluates an instant-vector argument.
pub(crate) fn eval_vector(ctx: &mut Ctx<'_>, st: Steps, e: &Expr) -> Result<Vec<Series>, QueryError> {
    match ctx.eval(st, e)? {
        Value::Vector(v) => Ok(v),
        _ => exec_err("expected an instant vector argument"),
    }
}

/// A string literal argument.
pub(crate) fn string_arg(e: &Expr) -> String {
    match unwrap_parens(e) {
        Expr::String { value, .. } => String::from_utf8_lossy(value).into_owned(),
        _ => String::new(),
    }
}

/// True when a string literal argument is valid UTF-8 (label names must be).
fn valid_utf8_arg(e: &Expr) -> bool {
    match unwrap_parens(e) {
        Expr::String { value, .. } => std::str::from_utf8(value).is_ok(),
        _ => true,
    }
}

/// Go's `%q` of a byte string: invalid UTF-8 bytes as `\xNN`.
pub(crate) fn go_quote(b: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(&escape_str(s));
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(&escape_str(std::str::from_utf8(good).unwrap_or("")));
                out.push_str(&format!("\\x{:02x}", bad[0]));
                rest = &bad[1..];
            }
        }
    }
    out.push('"');
    out
}

fn escape_str(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Merges series whose label sets became equal; overlapping points are an error.
pub(crate) fn merge_same_labels(series: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in series {
        match index.get(&s.labels) {
            Some(&i) => {
                let drop = s.drop_name;
                merge_into(&mut out[i], s).map_err(|_| QueryError::Execution(DUPLICATE_LABELSET.into()))?;
                out[i].drop_name |= drop;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Labels of `absent()`'s output: the equality matchers of a selector argument.
pub(crate) fn absent_labels(arg: &Expr) -> Labels {
    let matchers = match unwrap_parens(arg) {
        Expr::Selector(vs) => &vs.matchers,
        Expr::Matrix { selector, .. } => &selector.matchers,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.kind == MatchKind::Equal && !seen.contains(&m.name.as_str()) {
            b.set(m.name.clone(), m.value.clone());
        } else {
            b.del(&m.name);
        }
        seen.push(&m.name);
    }
    b.build()
}

/// Go's `Regexp.Expand` for `label_replace` templates: `$1`, `${1}`, `$name`, `${name}`, `$$`.
fn expand(re: &regex::Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let b = template.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let next = template[i..].find('$').map(|p| i + p).unwrap_or(b.len());
            out.push_str(&template[i..next]);
            i = next;
            continue;
        }
        if i + 1 < b.len() && b[i + 1] == b'$' {
            out.push('$');
            i += 2;
            continue;
        }
        let (name, end) = if i + 1 < b.len() && b[i + 1] == b'{' {
            match template[i + 2..].find('}') {
                Some(p) => {
                    let n = &template[i + 2..i + 2 + p];
                    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                        (None, i + 1)
                    } else {
                        (Some(n), i + 3 + p)
                    }
                }
                None => (None, i + 1),
            }
        } else {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j == i + 1 { (None, i + 1) } else { (Some(&template[i + 1..j]), j) }
        };
        match name {
            None => {
                out.push('$');
                i = end;
            }
            Some(n) => {
                let m = match n.parse::<usize>() {
                    Ok(idx) => caps.get(idx),
                    Err(_) => {
                        if re.capture_names().any(|c| c == Some(n)) {
                            caps.name(n)
                        } else {
                            None
                        }
                    }
                };
                if let Some(m) = m {
                    out.push_str(m.as_str());
                }
                i = end;
            }
        }
    }
    out
}

/// `natsort.Compare(a, b)`: true when `a` sorts before `b` in natural order.
fn natsort_less(a: &str, b: &str) -> bool {
    fn chunks(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut start = 0;
        for i in 1..=b.len() {
            if i == b.len() || b[i].is_ascii_digit() != b[i - 1].is_ascii_digit() {
                if start < i {
                    out.push(&s[start..i]);
                }
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (i, x) in ca.iter().enumerate() {
        let Some(y) = cb.get(i) else { return false };
        let last_a = i == ca.len() - 1;
        let last_b = i == cb.len() - 1;
        match (x.parse::<i64>(), y.parse::<i64>()) {
            (Ok(p), Ok(q)) => {
                if p == q {
                    if last_a {
                        return true;
                    } else if last_b {
                        return false;
                    }
                    continue;
                }
                return p < q;
            }
            _ => {
                if x == y {
                    if last_a {
                        return true;
                    } else if last_b {
                        return false;
                    }
                    continue;
                }
                return x < y;
            }
        }
    }
    false
}

/// Go's `math.Max`.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b { a } else { b }
}

/// Go's `math.Min`.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b { a } else { b }
}

/// Go's float-to-int64 conversion on amd64: out-of-range and NaN give MinInt64.
fn go_f64_to_i64(v: f64) -> i64 {
    if v.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) { i64::MIN } else { v as i64 }
}

/// A calendar field of a Unix time (UTC).
fn date_part(name: &str, secs: i64) -> f64 {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match name {
        "minute" => ((rem / 60) % 60) as f64,
        "hour" => (rem / 3600) as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_month" => d as f64,
        "day_of_year" => (days - days_from_civil(y, 1, 1) + 1) as f64,
        "days_in_month" => {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as f64
        }
        "month" => m as f64,
        _ => y as f64,
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The plain float functions.
fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// `label_replace` / `label_join`: sets `dst` to `value(labels)` on every series where it gives
/// one (an empty value deletes the label); a series whose name is set keeps it.
fn set_label(input: Vec<Series>, dst: &str, value: impl Fn(&Labels) -> Option<String>) -> Result<Value, QueryError> {
    let mut out = Vec::with_capacity(input.len());
    for mut s in input {
        if let Some(v) = value(&s.labels) {
            let mut b = s.labels.to_builder();
            b.set(dst.to_string(), v);
            s.labels = b.build();
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    Ok(Value::Vector(merge_same_labels(out)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One float series `m` with a sample every 15 s for 10 minutes.
    struct OneSeries;

    impl seer_model::Queryable for OneSeries {
        fn select(
            &self,
            _: &[seer_model::Matcher],
            mint: i64,
            maxt: i64,
        ) -> Result<Vec<seer_model::SelectedSeries>, seer_model::StorageError> {
            let floats = (0..40)
                .map(|k| seer_model::Sample { t: k * 15_000, v: k as f64 })
                .filter(|s| s.t >= mint && s.t <= maxt)
                .collect();
            Ok(vec![seer_model::SelectedSeries {
                labels: Labels::from_pairs([("__name__", "m"), ("job", "j")]),
                floats,
                histograms: vec![],
            }])
        }
    }

    #[test]
    fn every_parsed_function_evaluates() {
        use crate::parser::ast::ValueType;
        for f in crate::parser::functions::FUNCTIONS {
            // Seer does not store start timestamps (the documented conformance skips).
            if f.name == "start_timestamp" {
                continue;
            }
            let args: Vec<String> = (0..f.args.len())
                .map(|i| match f.arg_type(i) {
                    ValueType::Matrix => "m[5m]".to_string(),
                    ValueType::Vector => "m".to_string(),
                    ValueType::Scalar => "0.5".to_string(),
                    _ => "\"job\"".to_string(),
                })
                .collect();
            let q = format!("{}({})", f.name, args.join(", "));
            let expr = crate::parser::parse(&q).unwrap_or_else(|e| panic!("{q}: {}", e.msg));
            let opts = crate::EngineOptions::default();
            if let Err(e) = crate::execute(&OneSeries, &opts, &expr, crate::QueryParams::instant(300_000)) {
                assert!(!e.to_string().contains("no evaluator"), "{q}: {e}");
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(date_part("year", 0), 1970.0);
        assert_eq!(date_part("day_of_week", 0), 4.0);
        assert_eq!(date_part("days_in_month", 86400 * 31), 28.0);
        assert_eq!(date_part("day_of_year", 86400 * 365), 1.0);
        assert_eq!(date_part("hour", 3600 * 25), 1.0);
    }

    #[test]
    fn natural_order() {
        assert!(natsort_less("a2", "a10"));
        assert!(!natsort_less("a10", "a2"));
        assert!(natsort_less("abc", "abd"));
    }

    #[test]
    fn go_expand() {
        let re = regex::Regex::new("^(?s:(?P<x>a)(b))$").unwrap();
        let caps = re.captures("ab").unwrap();
        assert_eq!(expand(&re, &caps, "$1-$2-${x}-$$-$3-$1x"), "a-b-a-$--");
    }
}
