//! The Prometheus query API: `/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/query_exemplars`, `/api/v1/format_query`, `/api/v1/parse_query`, and the
//! status endpoints `/api/v1/status/runtimeinfo` and `/api/v1/status/tsdb`. Result JSON
//! follows Prometheus' encoders byte for byte (timestamps, float strings, histograms).

use crate::prometheus::{ApiError, Params, success};
use crate::timeparam::{MAX_TIME_MS, MIN_TIME_MS, format_rfc3339, parse_time};
use crate::{AppState, now_ms};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seer_model::{FloatHistogram, Labels, Queryable, SelectedSeries, StorageError};
use seer_promql::parser::ast::Expr;
use seer_promql::{EngineOptions, QueryError, QueryParams, QueryValue};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Query limits and defaults.
#[derive(Clone, Debug)]
pub struct QueryLimits {
    /// Longest a query may run (`query.timeout`, 2m); a request's `timeout` can only lower it.
    pub timeout: Duration,
    /// Most samples a query may hold (`query.max_samples`, 50 M).
    pub max_samples: usize,
    /// Most series a query may select (`query.max_series`, 1 M; 0 = unlimited).
    pub max_series: usize,
    /// Default lookback delta (`query.lookback_delta`, 5m).
    pub lookback_ms: i64,
    /// Queries evaluated at once; more wait (`query.max_concurrency`, 4).
    pub max_concurrency: usize,
}

impl Default for QueryLimits {
    fn default() -> QueryLimits {
        QueryLimits {
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_series: 1_000_000,
            lookback_ms: 300_000,
            max_concurrency: 4,
        }
    }
}

/// A tenant without data.
struct Empty;

impl Queryable for Empty {
    fn select(&self, _: &[seer_model::Matcher], _: i64, _: i64) -> Result<Vec<SelectedSeries>, StorageError> {
        Ok(Vec::new())
    }
}

/// Sets the cancel flag when the request future is dropped (the client went away).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Prometheus' `parseDuration`: float seconds or a duration like `1h30m`.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ns = f * 1e9;
        if !ns.is_finite() || ns >= 9.223_372_036_854_776e18 || ns <= -9.223_372_036_854_776e18 {
            return Err(format!("cannot parse {s:?} to a valid duration. It overflows int64"));
        }
        return Ok((f * 1000.0).round() as i64);
    }
    parse_prom_duration(s).ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

fn parse_prom_duration(s: &str) -> Option<i64> {
    seer_model::parse_duration_ms(s)
}

fn parse_query_param(p: &Params) -> Result<(String, Expr), ApiError> {
    let q = p.get("query").unwrap_or("").to_string();
    let expr = seer_promql::parser::parse(&q)
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {}", e.render(&q))))?;
    Ok((q, expr))
}

fn timeout_param(p: &Params) -> Result<Option<Duration>, ApiError> {
    match p.get("timeout") {
        None => Ok(None),
        Some(v) => {
            let ms =
                parse_duration(v).map_err(|e| ApiError::bad_data(format!("invalid parameter \"timeout\": {e}")))?;
            Ok(Some(Duration::from_millis(ms.max(0) as u64)))
        }
    }
}

fn lookback_param(p: &Params) -> Result<Option<i64>, ApiError> {
    match p.get("lookback_delta") {
        None => Ok(None),
        Some(v) => {
            let ms = parse_duration(v)
                .map_err(|e| ApiError::bad_data(format!("error parsing lookback delta duration: {e}")))?;
            Ok(Some(ms).filter(|&m| m > 0))
        }
    }
}

/// `/api/v1/query`.
pub(crate) async fn instant(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let limit = p.limit()?;
    let t = match p.get("time") {
        None => now_ms(),
        Some(v) => parse_time(v).map_err(|e| {
            ApiError::bad_data(format!("invalid parameter \"time\": invalid time value for 'time': {e}"))
        })?,
    };
    let timeout = timeout_param(&p)?;
    let lookback = lookback_param(&p)?;
    let (qs, expr) = parse_query_param(&p)?;
    let stats = p.get("stats").is_some();
    run(s, tenant, qs, expr, t, t, 0, timeout, lookback, limit, stats).await
}

/// `/api/v1/query_range`.
pub(crate) async fn range(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let limit = p.limit()?;
    let start = parse_time(p.get("start").unwrap_or(""))
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"start\": {e}")))?;
    let end = parse_time(p.get("end").unwrap_or(""))
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"end\": {e}")))?;
    if end < start {
        return Err(ApiError::bad_data("invalid parameter \"end\": end timestamp must not be before start time"));
    }
    let step = parse_duration(p.get("step").unwrap_or(""))
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"step\": {e}")))?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > 11_000 {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let timeout = timeout_param(&p)?;
    let lookback = lookback_param(&p)?;
    let (qs, expr) = parse_query_param(&p)?;
    let stats = p.get("stats").is_some();
    run(s, tenant, qs, expr, start, end, step, timeout, lookback, limit, stats).await
}

#[allow(clippy::too_many_arguments)]
async fn run(
    s: Arc<AppState>,
    tenant: seer_model::TenantId,
    qs: String,
    expr: Expr,
    start: i64,
    end: i64,
    step: i64,
    timeout: Option<Duration>,
    lookback: Option<i64>,
    limit: usize,
    stats: bool,
) -> Result<Response, ApiError> {
    let storage = s.storage()?.clone();
    let limits = s.limits.query.clone();
    let queued = Instant::now();
    let _permit = s.query_slots.acquire().await.map_err(|_| ApiError::internal("query slots closed"))?;
    let queue_time = queued.elapsed();
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let timeout = timeout.map(|t| t.min(limits.timeout)).unwrap_or(limits.timeout);
    let deadline = Instant::now() + timeout;
    let opts = EngineOptions {
        lookback_ms: limits.lookback_ms,
        max_samples: limits.max_samples,
        subquery_step_ms: 60_000,
        max_series: limits.max_series,
    };
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        let db = storage.existing(&tenant);
        let q: &dyn Queryable = match &db {
            Some(db) => db.as_ref(),
            None => &Empty,
        };
        let params =
            QueryParams { start, end, step, lookback_ms: lookback, deadline: Some(deadline), cancel: Some(&cancel) };
        seer_promql::execute(q, &opts, &expr, params).map(|o| (o, qs))
    })
    .await
    .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?;
    let (out, qs) = out.map_err(query_error)?;
    let eval_time = started.elapsed();
    let mut warnings = out.annotations.warnings(&qs);
    let infos = out.annotations.infos(&qs);
    let mut value = out.value;
    if limit > 0 {
        let truncated = match &mut value {
            QueryValue::Vector(v) if v.len() > limit => {
                v.truncate(limit);
                true
            }
            QueryValue::Matrix(m) if m.len() > limit => {
                m.truncate(limit);
                true
            }
            _ => false,
        };
        if truncated {
            warnings.push("results truncated due to limit".into());
        }
    }
    let mut data = String::with_capacity(1024);
    data.push_str("{\"resultType\":\"");
    data.push_str(value.type_name());
    data.push_str("\",\"result\":");
    write_value(&mut data, &value);
    if stats {
        let secs = |d: Duration| d.as_secs_f64();
        let _ = write!(
            data,
            ",\"stats\":{{\"timings\":{{\"evalTotalTime\":{},\"resultSortTime\":0,\"queryPreparationTime\":0,\"innerEvalTime\":{},\"execQueueTime\":{},\"execTotalTime\":{}}},\"samples\":{{\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
            secs(eval_time),
            secs(eval_time),
            secs(queue_time),
            secs(eval_time + queue_time),
            out.total_samples,
            out.peak_samples
        );
    }
    data.push('}');
    Ok(envelope(&data, &warnings, &infos))
}

fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::BadData(m) => ApiError::bad_data(format!("invalid parameter \"query\": {m}")),
        QueryError::Execution(m) => ApiError::execution(m),
        QueryError::Timeout(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", m),
        QueryError::Canceled(m) => {
            ApiError::new(StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST), "canceled", m)
        }
        QueryError::Storage(m) => ApiError::internal(m),
    }
}

/// `{"status":"success","data":<raw>,"warnings":[...],"infos":[...]}`.
fn envelope(data: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(out, ",\"{key}\":[");
        for (i, w) in list.iter().take(10).enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(&mut out, w);
        }
        if list.len() > 10 {
            out.push(',');
            let what = if key == "warnings" { "warning" } else { "info" };
            json_str(&mut out, &format!("{} more {what} annotations omitted", list.len() - 10));
        }
        out.push(']');
    }
    out.push('}');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// A JSON string as Go's encoder writes it (`<`, `>`, `&` escaped).
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(crate) fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, p) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, &p.name);
        out.push(':');
        json_str(out, &p.value);
    }
    out.push('}');
}

/// Prometheus' timestamp encoding: seconds with a zero-padded millisecond fraction.
pub(crate) fn write_ts(out: &mut String, ms: i64) {
    if ms < 0 {
        out.push('-');
    }
    let a = ms.unsigned_abs();
    let _ = write!(out, "{}", a / 1000);
    if !a.is_multiple_of(1000) {
        let _ = write!(out, ".{:03}", a % 1000);
    }
}

/// Float value strings of vectors and matrices: shortest digits, `e` notation outside
/// [1e-6, 1e21).
pub(crate) fn fmt_value(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let a = f.abs();
    if f != 0.0 && !(1e-6..1e21).contains(&a) {
        let e = format!("{f:e}");
        let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    format!("{f}")
}

fn write_hist(out: &mut String, h: &FloatHistogram) {
    out.push_str("{\"count\":");
    json_str(out, &fmt_value(h.count));
    out.push_str(",\"sum\":");
    json_str(out, &fmt_value(h.sum));
    let buckets = seer_promql::histogram::all_buckets(h);
    let mut first = true;
    for b in buckets.iter().filter(|b| b.count != 0.0) {
        out.push_str(if first { ",\"buckets\":[" } else { "," });
        first = false;
        let code = match (b.lower_inclusive, b.upper_inclusive) {
            (false, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (true, true) => 3,
        };
        let _ = write!(out, "[{code},");
        json_str(out, &fmt_value(b.lower));
        out.push(',');
        json_str(out, &fmt_value(b.upper));
        out.push(',');
        json_str(out, &fmt_value(b.count));
        out.push(']');
    }
    if !first {
        out.push(']');
    }
    out.push('}');
}

/// Writes a query result in Prometheus' JSON shape.
fn write_value(out: &mut String, v: &QueryValue) {
    match v {
        QueryValue::Scalar { t, v } => {
            let _ = write!(out, "[{},", go_json_float(*t as f64 / 1000.0));
            json_str(out, &seer_model::go_format_f(*v));
            out.push(']');
        }
        QueryValue::String { t, s } => {
            let _ = write!(out, "[{},", go_json_float(*t as f64 / 1000.0));
            json_str(out, s);
            out.push(']');
        }
        QueryValue::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.labels);
                match &s.h {
                    None => {
                        out.push_str(",\"value\":[");
                        write_ts(out, s.t);
                        out.push(',');
                        json_str(out, &fmt_value(s.f));
                        out.push_str("]}");
                    }
                    Some(h) => {
                        out.push_str(",\"histogram\":[");
                        write_ts(out, s.t);
                        out.push(',');
                        write_hist(out, h);
                        out.push_str("]}");
                    }
                }
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.labels);
                if !s.floats.is_empty() {
                    out.push_str(",\"values\":[");
                    for (j, p) in s.floats.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        out.push('[');
                        write_ts(out, p.t);
                        out.push(',');
                        json_str(out, &fmt_value(p.v));
                        out.push(']');
                    }
                    out.push(']');
                }
                if !s.hists.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (j, p) in s.hists.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        out.push('[');
                        write_ts(out, p.t);
                        out.push(',');
                        write_hist(out, &p.h);
                        out.push(']');
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
}

/// Go's JSON encoding of a float64 (shortest, exponent only for very large/small values).
fn go_json_float(f: f64) -> String {
    let a = f.abs();
    if f != 0.0 && !(1e-6..1e21).contains(&a) {
        let e = format!("{f:e}");
        let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    format!("{f}")
}

/// Every selector of an expression (for the exemplars API).
fn selectors(e: &Expr, out: &mut Vec<Vec<seer_model::Matcher>>) {
    match e {
        Expr::Selector(vs) | Expr::Matrix { selector: vs, .. } => out.push(vs.matchers.clone()),
        Expr::Subquery { expr, .. } | Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => selectors(expr, out),
        Expr::Binary { lhs, rhs, .. } => {
            selectors(lhs, out);
            selectors(rhs, out);
        }
        Expr::Aggregate { expr, param, .. } => {
            selectors(expr, out);
            if let Some(p) = param {
                selectors(p, out);
            }
        }
        Expr::Call { args, .. } => args.iter().for_each(|a| selectors(a, out)),
        _ => {}
    }
}

/// `/api/v1/query_exemplars`.
pub(crate) async fn exemplars(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let start = p.time("start", MIN_TIME_MS)?;
    let end = p.time("end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data("invalid parameter \"end\": end timestamp must not be before start time"));
    }
    let (_, expr) = parse_query_param(&p)?;
    let mut sels = Vec::new();
    selectors(&expr, &mut sels);
    let Some(db) = s.storage()?.existing(&tenant) else { return Ok(success(json!([]), vec![])) };
    let found = tokio::task::spawn_blocking(move || {
        let mut all: std::collections::BTreeMap<Labels, Vec<seer_model::Exemplar>> = Default::default();
        for m in &sels {
            for (l, ex) in db.exemplars(m, start, end) {
                let e = all.entry(l).or_default();
                for x in ex {
                    if !e.contains(&x) {
                        e.push(x);
                    }
                }
            }
        }
        all
    })
    .await
    .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?;
    let mut out = String::from("[");
    for (i, (l, ex)) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        write_labels(&mut out, l);
        out.push_str(",\"exemplars\":[");
        for (j, x) in ex.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            write_labels(&mut out, &x.labels);
            out.push_str(",\"value\":");
            json_str(&mut out, &fmt_value(x.v));
            out.push_str(",\"timestamp\":");
            write_ts(&mut out, x.t);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    Ok(envelope(&out, &[], &[]))
}

/// `/api/v1/format_query`.
pub(crate) async fn format_query(RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let (_, expr) = parse_query_param(&p)?;
    Ok(success(Value::String(seer_promql::parser::printer::print(&expr)), vec![]))
}

/// `/api/v1/parse_query`: the syntax tree as JSON, in Prometheus' shape.
pub(crate) async fn parse_query(RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let (_, expr) = parse_query_param(&p)?;
    Ok(success(ast_json(&expr), vec![]))
}

fn matchers_json(ms: &[seer_model::Matcher]) -> Value {
    Value::Array(ms.iter().map(|m| json!({"name": m.name, "type": m.kind.as_str(), "value": m.value})).collect())
}

fn at_json(at: &Option<seer_promql::parser::ast::At>) -> (Value, Value) {
    use seer_promql::parser::ast::At;
    match at {
        Some(At::Time(t)) => (json!(t), Value::Null),
        Some(At::Start) => (Value::Null, json!("start")),
        Some(At::End) => (Value::Null, json!("end")),
        None => (Value::Null, Value::Null),
    }
}

fn dur_ms(d: &Option<seer_promql::parser::ast::Duration>) -> Value {
    match d {
        None => json!(0),
        Some(d) => match d.literal_ms {
            Some(ms) => json!(ms),
            None => json!(seer_promql::parser::printer::print_duration(d)),
        },
    }
}

fn type_name(t: seer_promql::parser::ast::ValueType) -> &'static str {
    t.result_type()
}

fn ast_json(e: &Expr) -> Value {
    use seer_promql::parser::ast::{Card, Extension};
    match e {
        Expr::Number { value, .. } => json!({"type": "numberLiteral", "val": seer_model::go_format_f(*value)}),
        Expr::String { value, .. } => json!({"type": "stringLiteral", "val": String::from_utf8_lossy(value)}),
        Expr::Paren { expr, .. } => json!({"type": "parenExpr", "expr": ast_json(expr)}),
        Expr::Unary { neg, expr, .. } => {
            json!({"type": "unaryExpr", "op": if *neg { "-" } else { "+" }, "expr": ast_json(expr)})
        }
        Expr::Selector(vs) => {
            let (ts, soe) = at_json(&vs.at);
            json!({
                "type": "vectorSelector",
                "name": vs.name.clone().unwrap_or_default(),
                "offset": dur_ms(&vs.offset),
                "matchers": matchers_json(&vs.matchers),
                "timestamp": ts,
                "startOrEnd": soe,
                "anchored": vs.ext == Extension::Anchored,
                "smoothed": vs.ext == Extension::Smoothed,
            })
        }
        Expr::Matrix { selector: vs, range, .. } => {
            let (ts, soe) = at_json(&vs.at);
            json!({
                "type": "matrixSelector",
                "name": vs.name.clone().unwrap_or_default(),
                "range": dur_ms(&Some(range.clone())),
                "offset": dur_ms(&vs.offset),
                "matchers": matchers_json(&vs.matchers),
                "timestamp": ts,
                "startOrEnd": soe,
                "anchored": vs.ext == Extension::Anchored,
                "smoothed": vs.ext == Extension::Smoothed,
            })
        }
        Expr::Subquery { expr, range, step, offset, at, .. } => {
            let (ts, soe) = at_json(at);
            json!({
                "type": "subquery",
                "expr": ast_json(expr),
                "range": dur_ms(&Some(range.clone())),
                "offset": dur_ms(offset),
                "step": dur_ms(step),
                "timestamp": ts,
                "startOrEnd": soe,
            })
        }
        Expr::Binary { op, lhs, rhs, return_bool, matching, .. } => {
            let m = match matching {
                None => Value::Null,
                Some(m) => json!({
                    "card": match m.card {
                        Card::OneToOne => "one-to-one",
                        Card::ManyToOne => "many-to-one",
                        Card::OneToMany => "one-to-many",
                        Card::ManyToMany => "many-to-many",
                    },
                    "labels": m.labels,
                    "on": m.on,
                    "include": m.include,
                    "fillValues": {"lhs": m.fill_left, "rhs": m.fill_right},
                }),
            };
            json!({"type": "binaryExpr", "op": op.as_str(), "lhs": ast_json(lhs), "rhs": ast_json(rhs), "matching": m, "bool": return_bool})
        }
        Expr::Aggregate { op, expr, param, grouping, without, .. } => json!({
            "type": "aggregation",
            "op": op.as_str(),
            "expr": ast_json(expr),
            "param": param.as_ref().map(|p| ast_json(p)).unwrap_or(Value::Null),
            "grouping": grouping,
            "without": without,
        }),
        Expr::Call { func, args, .. } => json!({
            "type": "call",
            "func": {
                "name": func.name,
                "argTypes": func.args.iter().map(|t| type_name(*t)).collect::<Vec<_>>(),
                "variadic": func.variadic,
                "returnType": type_name(func.returns),
            },
            "args": args.iter().map(ast_json).collect::<Vec<_>>(),
        }),
    }
}

/// `/api/v1/status/runtimeinfo`.
pub(crate) async fn runtimeinfo(State(s): State<Arc<AppState>>) -> Response {
    let info = s.runtime.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    success(
        json!({
            "startTime": format_rfc3339(info.start_ms),
            "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "hostname": std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default(),
            "serverTime": format_rfc3339(now_ms()),
            "reloadConfigSuccess": info.reload_success,
            "lastConfigTime": format_rfc3339(info.last_config_ms),
            "corruptionCount": 0,
            "goroutineCount": threads,
            "GOMAXPROCS": threads,
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": info.retention,
        }),
        vec![],
    )
}

/// `/api/v1/status/tsdb`.
pub(crate) async fn tsdb_status(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &[])?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let limit = match p.get("limit") {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        },
    };
    let st = match s.storage()?.existing(&tenant) {
        Some(db) => tokio::task::spawn_blocking(move || db.head_status(limit))
            .await
            .map_err(|e| ApiError::internal(format!("status task failed: {e}")))?,
        None => seer_tsdb::HeadStatus { min_time: i64::MAX, max_time: i64::MIN, ..Default::default() },
    };
    let list = |v: &[(String, u64)]| -> Value {
        Value::Array(v.iter().map(|(n, c)| json!({"name": n, "value": c})).collect())
    };
    let mut head = Map::new();
    head.insert("numSeries".into(), json!(st.num_series));
    head.insert("numLabelPairs".into(), json!(st.num_label_pairs));
    head.insert("chunkCount".into(), json!(st.chunk_count));
    head.insert("minTime".into(), json!(st.min_time));
    head.insert("maxTime".into(), json!(st.max_time));
    Ok(success(
        json!({
            "headStats": Value::Object(head),
            "seriesCountByMetricName": list(&st.series_count_by_metric_name),
            "labelValueCountByLabelName": list(&st.label_value_count_by_label_name),
            "memoryInBytesByLabelName": list(&st.memory_in_bytes_by_label_name),
            "seriesCountByLabelValuePair": list(&st.series_count_by_label_value_pair),
        }),
        vec![],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_prometheus() {
        let mut s = String::new();
        write_ts(&mut s, 1500);
        assert_eq!(s, "1.500");
        s.clear();
        write_ts(&mut s, 1000);
        assert_eq!(s, "1");
        s.clear();
        write_ts(&mut s, -1);
        assert_eq!(s, "-0.001");
        assert_eq!(fmt_value(1e-7), "1e-07");
        assert_eq!(fmt_value(1e21), "1e+21");
        assert_eq!(fmt_value(0.1), "0.1");
        assert_eq!(fmt_value(-0.0), "-0");
        assert_eq!(fmt_value(f64::INFINITY), "+Inf");
        assert_eq!(go_json_float(1.5), "1.5");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15").unwrap(), 15_000);
        assert_eq!(parse_duration("0.5").unwrap(), 500);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert!(parse_duration("1x").unwrap_err().contains("cannot parse \"1x\" to a valid duration"));
        assert!(parse_duration("1e300").unwrap_err().contains("overflows"));
    }
}
